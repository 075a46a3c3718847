//! libvirt domain XML for a Distribox VM. Only the VM's display name comes from a user, and it is
//! escaped; the libvirt name is derived from the VM id so no user text ever names a domain.

use std::fmt::Write;
use std::path::Path;

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::Reader;
use uuid::Uuid;

use super::libvirt::DomainType;
use super::Machine;

/// The libvirt NAT network every VM is plugged into.
pub const NETWORK: &str = "default";

/// libvirt's stock `default` network (NAT on virbr0), for hosts where it was removed.
pub const DEFAULT_NETWORK: &str = "<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp>
  </ip>
</network>";

/// The namespace of the metadata element that marks a domain as Distribox's.
pub const METADATA_NS: &str = "https://distribox.dev/xmlns/vm/1";

/// The text of element `name` (`id`, `installation`, `image`) in a domain's Distribox metadata.
pub fn metadata_field(metadata: &str, name: &str) -> Option<String> {
    let mut reader = Reader::from_str(metadata);
    let mut inside = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => inside = start.local_name().as_ref() == name.as_bytes(),
            Event::Text(text) if inside => return text.decode().ok().map(|t| t.trim().to_owned()),
            Event::End(_) => inside = false,
            Event::Eof => return None,
            _ => {}
        }
    }
}

pub fn domain_name(id: Uuid) -> String {
    format!("distribox-{id}")
}

fn path_text(path: &Path) -> String {
    escape(path.to_string_lossy().as_ref()).into_owned()
}

/// A virtio-scsi CD-ROM: the cloud kernel of small images has no AHCI (SATA) driver, and q35
/// has no IDE.
fn seed_cdrom(seed: &Path) -> String {
    format!(
        "
    <controller type='scsi' model='virtio-scsi'/>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='{}'/>
      <target dev='sda' bus='scsi'/>
      <readonly/>
    </disk>",
        path_text(seed)
    )
}

/// `<os>`: UEFI firmware when the image needs it (libvirt picks the OVMF build), BIOS otherwise.
fn os(machine: &Machine) -> &'static str {
    if machine.uefi {
        "<os firmware='efi'>"
    } else {
        "<os>"
    }
}

/// What the domain needs beyond the VM's own description: the kind of virtualisation, which
/// Distribox made it, and where its files are.
pub struct Placement<'a> {
    pub domain_type: DomainType,
    /// The Distribox installation defining the domain, so another installation on the same
    /// libvirt can tell the domain is not its own.
    pub installation: Option<Uuid>,
    pub disk: &'a Path,
    pub seed: Option<&'a Path>,
    /// virtlogd writes everything the serial console prints here, watched or not, so a
    /// console opened later can show what scrolled by.
    pub serial_log: &'a Path,
}

pub fn build(machine: &Machine, placement: &Placement<'_>) -> String {
    let mut xml = String::new();
    let id = machine.id;
    // `write!` into a String cannot fail.
    let _ = write!(
        xml,
        "<domain type='{domain_type}'>
  <name>{name}</name>
  <uuid>{id}</uuid>
  <title>{title}</title>
  <metadata>
    <distribox:vm xmlns:distribox='{METADATA_NS}'>
      <distribox:id>{id}</distribox:id>{installation}{image}
    </distribox:vm>
  </metadata>
  <memory unit='MiB'>{memory}</memory>
  <vcpu>{vcpus}</vcpu>
  {os}
    <type arch='x86_64' machine='q35'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>{seed}
    <interface type='network'>
      <source network='{NETWORK}'/>
      <model type='virtio'/>
    </interface>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <serial type='pty'>
      <log file='{serial_log}' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' keymap='{keymap}' sharePolicy='ignore'>
      <listen type='socket'/>
    </graphics>
    <video><model type='vga'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
",
        domain_type = placement.domain_type.as_str(),
        installation = placement
            .installation
            .map(|id| format!("\n      <distribox:installation>{id}</distribox:installation>"))
            .unwrap_or_default(),
        serial_log = path_text(placement.serial_log),
        os = os(machine),
        image = machine
            .image
            .as_ref()
            .map(|image| format!(
                "\n      <distribox:image>{}</distribox:image>",
                escape(&image.id)
            ))
            .unwrap_or_default(),
        keymap = machine.keyboard.as_str(),
        name = domain_name(id),
        title = escape(machine.name.as_str()),
        memory = machine.memory_mib,
        vcpus = machine.vcpus,
        disk = path_text(placement.disk),
        seed = placement.seed.map(seed_cdrom).unwrap_or_default(),
    );
    xml
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use distribox_domain::vm::KeyboardLayout;

    use super::*;
    use crate::hypervisor::BaseImage;

    #[test]
    fn metadata_fields_are_read_back() {
        let metadata = "<distribox:vm xmlns:distribox='https://distribox.dev/xmlns/vm/1'>\
            <distribox:id>x</distribox:id><distribox:installation>abc</distribox:installation>\
            <distribox:image>debian-12</distribox:image></distribox:vm>";
        assert_eq!(
            metadata_field(metadata, "image").as_deref(),
            Some("debian-12")
        );
        assert_eq!(
            metadata_field(metadata, "installation").as_deref(),
            Some("abc")
        );
        assert_eq!(metadata_field("<vm><id>x</id></vm>", "image"), None);
    }

    #[test]
    fn user_text_is_escaped_and_never_names_the_domain() {
        let machine = Machine {
            id: Uuid::nil(),
            name: "</title><devices><disk file='/etc/shadow'/>&\"".to_owned(),
            vcpus: 2,
            memory_mib: 256,
            disk_gib: 1,
            image: Some(BaseImage {
                id: "debian-12".to_owned(),
                path: PathBuf::from("/img/x.qcow2"),
                format: "qcow2",
            }),
            seed: None,
            keyboard: KeyboardLayout::parse("de-ch").unwrap(),
            autostart: false,
            uefi: false,
            cloned_from: None,
        };
        let installation = Uuid::from_u128(42);
        let placement = Placement {
            domain_type: DomainType::Qemu,
            installation: Some(installation),
            disk: Path::new("/data/vms/x/disk.qcow2"),
            seed: None,
            serial_log: Path::new("/data/vms/x/serial.log"),
        };
        let xml = build(&machine, &placement);
        assert!(!xml.contains("cdrom"));
        assert!(xml.contains(&format!(
            "<distribox:installation>{installation}</distribox:installation>"
        )));
        assert!(xml.contains("<log file='/data/vms/x/serial.log' append='on'/>"));
        let with_seed = build(
            &machine,
            &Placement {
                seed: Some(Path::new("/d/seed.iso")),
                ..placement
            },
        );
        assert!(
            with_seed.contains("<source file='/d/seed.iso'/>") && with_seed.contains("virtio-scsi")
        );
        assert!(xml.contains("<name>distribox-00000000-0000-0000-0000-000000000000</name>"));
        assert!(xml.contains(
            "<title>&lt;/title&gt;&lt;devices&gt;&lt;disk file=&apos;/etc/shadow&apos;/&gt;&amp;&quot;</title>"
        ));
        assert!(!xml.contains("/etc/shadow'/>"));
        assert!(xml.starts_with("<domain type='qemu'>"));
        assert!(xml.contains("<memory unit='MiB'>256</memory>") && xml.contains("<vcpu>2</vcpu>"));
        assert!(xml.contains(METADATA_NS));
        assert!(xml.contains("<distribox:image>debian-12</distribox:image>"));
        // Graphics only on a unix socket (never TCP), the chosen keymap, and the NAT network.
        assert!(xml.contains("<graphics type='vnc' keymap='de-ch'"));
        assert!(xml.contains("<listen type='socket'/>") && !xml.contains("autoport"));
        assert!(xml.contains("<source network='default'/>"));
        assert!(xml.contains("  <os>\n"));
        let uefi = build(
            &Machine {
                uefi: true,
                ..machine
            },
            &Placement {
                domain_type: DomainType::Kvm,
                installation: None,
                ..placement
            },
        );
        assert!(!uefi.contains("distribox:installation"));
        assert!(uefi.contains("<os firmware='efi'>") && uefi.starts_with("<domain type='kvm'>"));
    }
}
