//! What happens to a guest outside Distribox's own actions reaches the log from libvirt's
//! lifecycle events: the guest powering itself off, and `virsh destroy` and `virsh start` behind
//! Distribox's back.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{spawn_app, virsh, Console, Libvirt};

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn guest_power_off_and_external_destroy_show_up_as_stopped_with_their_reason() {
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let id = app.create_vm(&token, "lifecycle", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&token, &id, Some("RUNNING"), BOOT_TIMEOUT)
        .await;

    // `poweroff` typed on the serial console.
    let url = app.open_console(&token, &id).await;
    let mut console = Console::connect(&app, &url).await;
    console.wait_for_shell(BOOT_TIMEOUT).await;
    console.type_text("poweroff\n").await;
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    assert_eq!(app.last_stop_reason(&id).await, "guest");

    // Started again, then destroyed with virsh: observed within a second or two.
    app.vm_ok(&token, "startVm", &id).await;
    app.wait_for_state(&token, &id, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    let destroyed = Instant::now();
    let status = virsh(&["destroy", &format!("distribox-{id}")]);
    assert!(
        status.status.success(),
        "virsh destroy: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(10))
        .await;
    println!("virsh destroy → STOPPED in {:?}", destroyed.elapsed());
    assert_eq!(app.last_stop_reason(&id).await, "external");

    // `virsh start` behind Distribox's back: the VM is running, and wanted running from now on
    // (the projector must not stop it again).
    let status = virsh(&["start", &format!("distribox-{id}")]);
    assert!(
        status.status.success(),
        "virsh start: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    app.wait_for_state(&token, &id, Some("RUNNING"), Duration::from_secs(10))
        .await;
    let events = app.lifecycle_types(&id).await;
    assert_eq!(events.last().map(String::as_str), Some("VmStartedOutside"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.vm_state(&token, &id).await.as_deref(), Some("RUNNING"));
    // Distribox's own starts are never mistaken for outside ones.
    assert_eq!(
        events.iter().filter(|e| *e == "VmStartedOutside").count(),
        1,
        "{events:?}"
    );

    // A stop Distribox asked for is recorded as forced, even though libvirt reports a destroy.
    app.vm_ok(&token, "forceStopVm", &id).await;
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    assert_eq!(app.last_stop_reason(&id).await, "forced");

    app.delete_vm(&token, &id).await;
}

/// Drift no event reports: a stopped VM's domain undefined behind Distribox's back is defined
/// again from the log by the reconciler, on its existing disk, and the VM still starts.
#[tokio::test]
async fn an_undefined_domain_is_defined_again_from_the_log() {
    let app = support::spawn_app_with(Libvirt::System, |c| c.reconcile_interval = 1).await;
    let token = app.login().await;
    let id = app.create_vm(&token, "drift", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    let domain = format!("distribox-{id}");
    assert!(virsh(&["undefine", &domain]).status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !virsh(&["dominfo", &domain]).status.success() {
        assert!(
            Instant::now() < deadline,
            "the domain was not defined again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let xml = String::from_utf8(virsh(&["dumpxml", &domain]).stdout).unwrap();
    assert!(
        xml.contains(&format!("{id}/disk.qcow2")),
        "not on its own disk: {xml}"
    );
    app.vm_ok(&token, "startVm", &id).await;
    app.wait_for_state(&token, &id, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    app.vm_ok(&token, "forceStopVm", &id).await;
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    app.delete_vm(&token, &id).await;
}

/// Domains Distribox made but has no history of (here: a second database pointed at the same
/// host and data folder) are listed as recoverable and left alone until someone adopts or
/// discards them.
#[tokio::test]
async fn domains_without_history_are_recoverable_adoptable_and_discardable() {
    let before = spawn_app(Libvirt::System).await;
    let token = before.login().await;
    let stopped = before.create_vm(&token, "found stopped", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let running = before.create_vm(&token, "found running", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    before
        .wait_for_state(&token, &stopped, Some("STOPPED"), Duration::from_secs(30))
        .await;
    before
        .wait_for_state(&token, &running, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    let data_dir = before.data_dir.clone();
    drop(before);

    let app = support::spawn_app_with(Libvirt::System, |c| {
        c.data_dir = data_dir.clone();
        c.reconcile_interval = 1;
    })
    .await;
    let token = app.login().await;
    let list = "{ recoverableVms { domainName title vcpus memoryMib diskGib image running } }";
    let found = app.data(&token, list, json!({})).await["recoverableVms"].clone();
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    let stopped_domain = format!("distribox-{stopped}");
    let running_domain = format!("distribox-{running}");
    let entry = found
        .iter()
        .find(|f| f["domainName"] == stopped_domain.as_str())
        .unwrap();
    assert_eq!(
        entry,
        &json!({ "domainName": stopped_domain, "title": "found stopped", "vcpus": 1,
                 "memoryMib": 256, "diskGib": 1, "image": "test-guest", "running": false })
    );
    // The reconciler leaves them alone: nothing recorded, both domains as they were.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(app.event_types(&stopped).await.is_empty());
    assert!(virsh(&["domstate", &running_domain]).status.success());

    let adopted = app
        .data(
            &token,
            "mutation($d: String!) { adoptVm(domainName: $d) { id name state diskGib } }",
            json!({ "d": stopped_domain }),
        )
        .await["adoptVm"]
        .clone();
    assert_eq!(
        adopted,
        json!({ "id": stopped, "name": "found stopped", "state": "STOPPED", "diskGib": 1 })
    );
    app.vm_ok(&token, "startVm", &stopped).await;
    app.wait_for_state(&token, &stopped, Some("RUNNING"), BOOT_TIMEOUT)
        .await;

    let discarded = app
        .data(
            &token,
            "mutation($d: String!) { discardRecoverableVm(domainName: $d) }",
            json!({ "d": running_domain }),
        )
        .await;
    assert_eq!(discarded["discardRecoverableVm"], true);
    let deadline = Instant::now() + Duration::from_secs(30);
    while virsh(&["dominfo", &running_domain]).status.success() {
        assert!(
            Instant::now() < deadline,
            "the discarded domain is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_for_state(&token, &running, None, Duration::from_secs(10))
        .await;
    assert!(!data_dir.join("vms").join(&running).exists());
    let events = app.event_types(&running).await;
    assert_eq!(
        &events[..3],
        ["VmCreated", "VmAdopted", "VmDeleteRequested"],
        "{events:?}"
    );

    let left = app.data(&token, list, json!({})).await["recoverableVms"].clone();
    assert_eq!(left, json!([]));
    let again = app
        .gql(
            Some(&token),
            "mutation($d: String!) { adoptVm(domainName: $d) { id } }",
            json!({ "d": stopped_domain }),
        )
        .await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{again}"
    );

    app.data(
        &token,
        "mutation($id: ID!) { deleteVm(id: $id, force: true) }",
        json!({ "id": stopped }),
    )
    .await;
    app.wait_for_state(&token, &stopped, None, Duration::from_secs(30))
        .await;
}

/// libvirt refusing an action fails that VM only: here a domain by the VM's name that someone
/// else defined (no Distribox metadata) is not removed, the VM shows why, and other VMs go on.
#[tokio::test]
async fn a_refused_action_fails_that_vm_and_holds_up_no_other() {
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let id = app.create_vm(&token, "impostor", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    let domain = format!("distribox-{id}");
    assert!(virsh(&["undefine", &domain]).status.success());
    let foreign = app.data_dir.join("foreign.xml");
    std::fs::write(
        &foreign,
        format!(
            "<domain type='qemu'><name>{domain}</name><memory unit='MiB'>64</memory>\
             <vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
        ),
    )
    .unwrap();
    assert!(virsh(&["define", foreign.to_str().unwrap()])
        .status
        .success());

    app.data(
        &token,
        "mutation($id: ID!) { deleteVm(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    app.wait_for_state(&token, &id, Some("FAILED"), Duration::from_secs(30))
        .await;
    let failure = app
        .data(
            &token,
            "query($id: ID!) { vm(id: $id) { failure } }",
            json!({ "id": id }),
        )
        .await["vm"]["failure"]
        .clone();
    assert!(
        failure
            .as_str()
            .unwrap()
            .contains("was not created by Distribox"),
        "{failure}"
    );
    assert!(
        virsh(&["dominfo", &domain]).status.success(),
        "the foreign domain was touched"
    );

    let other = app.create_vm(&token, "unaffected", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&token, &other, Some("RUNNING"), BOOT_TIMEOUT)
        .await;

    assert!(virsh(&["undefine", &domain]).status.success());
    app.delete_vm(&token, &id).await;
    app.data(
        &token,
        "mutation($id: ID!) { deleteVm(id: $id, force: true) }",
        json!({ "id": other }),
    )
    .await;
    app.wait_for_state(&token, &other, None, Duration::from_secs(30))
        .await;
}

/// How long VM `id` took to show `state` (polling), within `limit`.
async fn time_to_state(
    app: &support::TestApp,
    token: &str,
    id: &str,
    state: &str,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        if app.vm_state(token, id).await.as_deref() == Some(state) {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{id} did not become {state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn state_reason(app: &support::TestApp, token: &str, id: &str) -> Option<String> {
    app.data(
        token,
        "query($id: ID!) { vm(id: $id) { stateReason } }",
        json!({ "id": id }),
    )
    .await["vm"]["stateReason"]
        .as_str()
        .map(str::to_owned)
}

/// A guest libvirt pauses on its own shows PAUSED with the reason — a `virsh suspend`, and a
/// stop QEMU makes without saying why (what a KVM internal error looks like to libvirt,
/// provoked here through QEMU's monitor) — and stays paused until someone resumes it.
#[tokio::test]
async fn pauses_behind_distribox_s_back_show_as_paused_with_their_reason() {
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let id = app.create_vm(&token, "paused behind", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&token, &id, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    let domain = format!("distribox-{id}");

    let suspend = virsh(&["suspend", &domain]);
    assert!(suspend.status.success(), "{suspend:?}");
    let took = time_to_state(&app, &token, &id, "PAUSED", Duration::from_secs(5)).await;
    println!("virsh suspend → PAUSED in {took:?}");
    let reason = state_reason(&app, &token, &id).await.unwrap();
    assert!(reason.contains("outside Distribox"), "{reason}");
    // Nothing resumes it by itself.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.vm_state(&token, &id).await.as_deref(), Some("PAUSED"));
    assert_eq!(
        String::from_utf8_lossy(&virsh(&["domstate", &domain]).stdout).trim(),
        "paused"
    );

    // Resumed behind Distribox's back too: running, and nothing pauses it again.
    assert!(virsh(&["resume", &domain]).status.success());
    time_to_state(&app, &token, &id, "RUNNING", Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.vm_state(&token, &id).await.as_deref(), Some("RUNNING"));
    assert_eq!(state_reason(&app, &token, &id).await, None);

    // QEMU stops the guest without libvirt asking: the reason is a hypervisor error.
    let stop = virsh(&["qemu-monitor-command", &domain, "--hmp", "stop"]);
    assert!(stop.status.success(), "{stop:?}");
    let took = time_to_state(&app, &token, &id, "PAUSED", Duration::from_secs(5)).await;
    println!("QEMU stop → PAUSED in {took:?}");
    let reason = state_reason(&app, &token, &id).await.unwrap();
    assert!(reason.contains("internal error"), "{reason}");
    let events = app.lifecycle_types(&id).await;
    assert_eq!(
        events.iter().filter(|e| *e == "VmPausedOutside").count(),
        2,
        "{events:?}"
    );

    // Resuming through Distribox clears the reason.
    app.vm_ok(&token, "resumeVm", &id).await;
    time_to_state(&app, &token, &id, "RUNNING", Duration::from_secs(10)).await;
    assert_eq!(state_reason(&app, &token, &id).await, None);
    app.vm_ok(&token, "forceStopVm", &id).await;
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    app.delete_vm(&token, &id).await;
}

/// A domain another Distribox installation made on the same libvirt (another data folder,
/// another database) changes state: this installation records nothing, lists nothing as
/// recoverable and leaves the domain as it is.
#[tokio::test]
async fn another_installation_s_domains_are_left_alone() {
    let app = support::spawn_app_with(Libvirt::System, |c| c.reconcile_interval = 1).await;
    let token = app.login().await;
    let id = uuid::Uuid::new_v4();
    let domain = format!("distribox-{id}");
    let other_installation = uuid::Uuid::new_v4();
    // A firmware-only guest: no disk to find, nothing to boot, but it runs.
    let xml = format!(
        "<domain type='qemu'><name>{domain}</name><uuid>{id}</uuid><memory unit='MiB'>32</memory>
           <metadata><distribox:vm xmlns:distribox='https://distribox.dev/xmlns/vm/1'>
             <distribox:id>{id}</distribox:id>
             <distribox:installation>{other_installation}</distribox:installation>
           </distribox:vm></metadata>
           <os><type arch='x86_64' machine='q35'>hvm</type></os>
           <devices><memballoon model='none'/></devices></domain>"
    );
    let file = app.data_dir.join("other-installation.xml");
    std::fs::write(&file, xml).unwrap();
    let defined = virsh(&["define", file.to_str().unwrap()]);
    assert!(defined.status.success(), "{defined:?}");
    let cleanup = scopeguard(&domain);
    for step in [["start"], ["suspend"], ["resume"], ["destroy"], ["start"]] {
        let done = virsh(&[step[0], &domain]);
        assert!(done.status.success(), "virsh {}: {done:?}", step[0]);
    }
    // Two reconciliation passes and every lifecycle event have had their chance.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1")
        .bind(id.to_string())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0);
    let found = app
        .data(&token, "{ recoverableVms { domainName } }", json!({}))
        .await;
    assert_eq!(found["recoverableVms"], json!([]));
    assert_eq!(
        String::from_utf8_lossy(&virsh(&["domstate", &domain]).stdout).trim(),
        "running"
    );
    drop(cleanup);
}

/// Destroys and undefines a domain the test made, pass or fail.
fn scopeguard(domain: &str) -> impl Drop + '_ {
    struct Undefine<'a>(&'a str);
    impl Drop for Undefine<'_> {
        fn drop(&mut self) {
            let _ = virsh(&["destroy", self.0]);
            let _ = virsh(&["undefine", self.0]);
        }
    }
    Undefine(domain)
}
