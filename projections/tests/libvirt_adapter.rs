//! The libvirt adapter against the real `qemu:///system`: every operation is idempotent, and a
//! domain Distribox did not create is never modified, even when its name looks like ours.

use std::path::PathBuf;

use distribox_domain::vm::KeyboardLayout;
use distribox_projections::hypervisor::{
    BaseImage, DomainType, Hypervisor, HypervisorError, LibvirtHypervisor, Machine,
};
use uuid::Uuid;

const URI: &str = "qemu:///system";

fn images_dir() -> PathBuf {
    std::env::var_os("DISTRIBOX_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/tmp/distribox-test-images".into())
}

/// A VMs folder QEMU (running as libvirt-qemu) can traverse.
fn vms_dir() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = PathBuf::from("/var/tmp/distribox-tests").join(Uuid::new_v4().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    for d in [dir.parent().unwrap(), dir.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn machine(id: Uuid) -> Machine {
    Machine {
        id,
        name: "adapter test".to_owned(),
        vcpus: 1,
        memory_mib: 128,
        disk_gib: 1,
        image: Some(BaseImage {
            id: "test-guest".to_owned(),
            path: images_dir().join("test-guest.qcow2"),
            format: "qcow2",
        }),
        seed: None,
        keyboard: KeyboardLayout::default(),
        autostart: false,
        uefi: false,
        cloned_from: None,
    }
}

fn domain_xml(id: Uuid) -> String {
    let conn = virt::connect::Connect::open(Some(URI)).unwrap();
    let dom = conn
        .lookup_domain_by_name(&format!("distribox-{id}"))
        .unwrap();
    dom.xml_desc(0).unwrap()
}

#[tokio::test]
async fn snapshots_resizes_and_clones_are_idempotent() {
    let vms = vms_dir();
    let hypervisor = LibvirtHypervisor::new(URI, DomainType::Qemu, &vms);
    let id = Uuid::new_v4();
    hypervisor.provision(&machine(id)).await.unwrap();

    // Resize: a bigger spec redefines the domain and grows the disk of a stopped VM.
    let bigger = Machine {
        vcpus: 2,
        memory_mib: 192,
        disk_gib: 2,
        autostart: true,
        ..machine(id)
    };
    hypervisor.provision(&bigger).await.unwrap();
    hypervisor.provision(&bigger).await.unwrap();
    let xml = domain_xml(id);
    assert!(xml.contains("<vcpu placement='static'>2</vcpu>"), "{xml}");
    assert!(xml.contains("<memory unit='KiB'>196608</memory>"), "{xml}");
    let conn = virt::connect::Connect::open(Some(URI)).unwrap();
    let dom = conn
        .lookup_domain_by_name(&format!("distribox-{id}"))
        .unwrap();
    assert!(dom.autostart().unwrap());
    let network = conn.lookup_network_by_name("default").unwrap();
    assert!(network.is_active().unwrap() && network.autostart().unwrap());
    let disk = vms.join(id.to_string()).join("disk.qcow2");
    let info = std::process::Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(&disk)
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["virtual-size"], 2u64 << 30);

    // Snapshots of a stopped domain, each step twice.
    let snapshot = Uuid::new_v4();
    hypervisor
        .take_snapshot(id, snapshot, "before <upgrade> & after")
        .await
        .unwrap();
    hypervisor
        .take_snapshot(id, snapshot, "before <upgrade> & after")
        .await
        .unwrap();
    assert_eq!(dom.num_snapshots(0).unwrap(), 1);
    assert!(!hypervisor.revert_snapshot(id, snapshot).await.unwrap());
    let missing = hypervisor
        .revert_snapshot(id, Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(
        matches!(missing, HypervisorError::Failed(ref m) if m.contains("gone")),
        "{missing}"
    );
    hypervisor.delete_snapshot(id, snapshot).await.unwrap();
    hypervisor.delete_snapshot(id, snapshot).await.unwrap();
    assert_eq!(dom.num_snapshots(0).unwrap(), 0);

    // A clone copies the stopped source's disk.
    let copy = Uuid::new_v4();
    let clone = Machine {
        id: copy,
        cloned_from: Some(id),
        ..bigger.clone()
    };
    hypervisor.provision(&clone).await.unwrap();
    let copy_disk = vms.join(copy.to_string()).join("disk.qcow2");
    assert!(copy_disk.exists());
    assert!(domain_xml(copy).contains(&copy_disk.to_string_lossy().to_string()));

    for vm in [id, copy] {
        hypervisor.remove(vm).await.unwrap();
    }
    std::fs::remove_dir_all(vms).unwrap();
}

#[tokio::test]
async fn provisioning_and_removal_are_idempotent() {
    let vms = vms_dir();
    let hypervisor = LibvirtHypervisor::new(URI, DomainType::Qemu, &vms);
    let id = Uuid::new_v4();
    hypervisor.provision(&machine(id)).await.unwrap();
    let disk = vms.join(id.to_string()).join("disk.qcow2");
    let first = std::fs::metadata(&disk).unwrap().modified().unwrap();
    hypervisor.provision(&machine(id)).await.unwrap();
    assert_eq!(
        std::fs::metadata(&disk).unwrap().modified().unwrap(),
        first,
        "the overlay was rebuilt"
    );
    assert!(hypervisor.domain_exists(id).await.unwrap());
    assert!(!hypervisor.is_running(id).await.unwrap());

    hypervisor.force_stop(id).await.unwrap(); // not running: nothing to do
    hypervisor.remove(id).await.unwrap();
    hypervisor.remove(id).await.unwrap();
    assert!(!hypervisor.domain_exists(id).await.unwrap());
    assert!(!vms.join(id.to_string()).exists());
    std::fs::remove_dir_all(vms).unwrap();
}

#[tokio::test]
async fn a_domain_without_distribox_metadata_is_never_touched() {
    let vms = vms_dir();
    let hypervisor = LibvirtHypervisor::new(URI, DomainType::Qemu, &vms);
    let id = Uuid::new_v4();
    let name = format!("distribox-{id}");
    let foreign = format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type></os></domain>"
    );
    let conn = virt::connect::Connect::open(Some(URI)).unwrap();
    let dom = conn.define_domain_xml(&foreign).unwrap();

    for outcome in [
        hypervisor.remove(id).await,
        hypervisor.force_stop(id).await,
        hypervisor.provision(&machine(id)).await,
        hypervisor.start(&machine(id)).await,
    ] {
        match outcome {
            Err(HypervisorError::Failed(reason)) => {
                assert!(reason.contains("not created by Distribox"), "{reason}")
            }
            other => panic!("a foreign domain was acted on: {other:?}"),
        }
    }
    let still = conn.lookup_domain_by_name(&name).unwrap();
    assert!(
        !still.xml_desc(0).unwrap().contains("distribox.dev/xmlns"),
        "it was redefined"
    );
    dom.undefine().unwrap();
    std::fs::remove_dir_all(vms).ok();
}
