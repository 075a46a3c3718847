//! Pause, resume, rename, reboot and ACPI shutdown (honoured, and ignored until the grace period
//! ends) on a real TCG guest, driven through GraphQL and watched through its serial console.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{spawn_app_with, virsh, Console, Libvirt};

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

/// virsh's answer, trimmed.
fn virsh_says(args: &[&str]) -> String {
    String::from_utf8_lossy(&virsh(args).stdout)
        .trim()
        .to_owned()
}

#[tokio::test]
async fn pause_resume_rename_reboot_and_acpi_shutdown() {
    let app = spawn_app_with(Libvirt::System, |c| c.shutdown_grace = 5).await;
    let token = app.login().await;
    let id = app.create_vm(&token, "operations", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let domain = format!("distribox-{id}");
    app.wait_for_state(&token, &id, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    let url = app.open_console(&token, &id).await;
    let mut console = Console::connect(&app, &url).await;
    console.wait_for_shell(BOOT_TIMEOUT).await;

    // Pause and resume: the vCPUs freeze and thaw; the shell answers again afterwards.
    app.vm_ok(&token, "pauseVm", &id).await;
    app.wait_for_state(&token, &id, Some("PAUSED"), Duration::from_secs(10))
        .await;
    assert_eq!(virsh_says(&["domstate", &domain]), "paused");
    let refused = app.vm_op(&token, "shutdownVm", &id).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "CONFLICT",
        "{refused}"
    );
    app.vm_ok(&token, "resumeVm", &id).await;
    app.wait_for_state(&token, &id, Some("RUNNING"), Duration::from_secs(10))
        .await;
    assert_eq!(virsh_says(&["domstate", &domain]), "running");
    console.seen.clear();
    console.wait_for_shell(Duration::from_secs(20)).await;

    // Rename: the read model and libvirt's title follow.
    let renamed = app
        .data(
            &token,
            "mutation($id: ID!) { renameVm(id: $id, name: \"ops <renamed>\") { name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(renamed["renameVm"]["name"], "ops <renamed>");
    let deadline = Instant::now() + Duration::from_secs(10);
    while virsh_says(&["desc", "--title", &domain]) != "ops <renamed>" {
        assert!(Instant::now() < deadline, "libvirt's title was not updated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Reboot: the guest boots again (same QEMU, same console) and the VM stays RUNNING.
    console.seen.clear();
    app.vm_ok(&token, "rebootVm", &id).await;
    let deadline = Instant::now() + BOOT_TIMEOUT;
    while !console.seen.contains("distribox-test-guest ready") {
        assert!(
            Instant::now() < deadline,
            "the guest did not reboot; console said: {}",
            console.seen
        );
        console.read_for(Duration::from_millis(500)).await;
    }
    console.wait_for_shell(BOOT_TIMEOUT).await;
    assert_eq!(app.vm_state(&token, &id).await.as_deref(), Some("RUNNING"));

    // A guest that ignores the power button: after the grace period the VM is RUNNING again,
    // with a failure saying the shutdown did not happen.
    console.type_text("killall acpid\n").await;
    console.read_for(Duration::from_millis(500)).await;
    app.vm_ok(&token, "shutdownVm", &id).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let vm = app
            .data(
                &token,
                "query($id: ID!) { vm(id: $id) { state failure } }",
                json!({ "id": id }),
            )
            .await;
        if vm["vm"]["state"] == "RUNNING" && vm["vm"]["failure"].is_string() {
            assert_eq!(
                vm["vm"]["failure"],
                "the guest did not shut down within 5 s; force stop it if it must stop"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the shutdown never timed out: {vm}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A guest that honours it: STOPPED, with the guest as the reason.
    console.type_text("acpid -c /etc/acpi\n").await;
    console.read_for(Duration::from_millis(500)).await;
    app.vm_ok(&token, "shutdownVm", &id).await;
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    console.close().await;
    assert_eq!(app.last_stop_reason(&id).await, "guest");

    let events = app.lifecycle_types(&id).await;
    for expected in [
        "VmPauseRequested",
        "VmPaused",
        "VmResumeRequested",
        "VmResumed",
        "VmRenamed",
        "VmRebootRequested",
        "VmRebooted",
    ] {
        assert_eq!(
            events.iter().filter(|e| *e == expected).count(),
            1,
            "{expected} in {events:?}"
        );
    }
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "VmShutdownRequested")
            .count(),
        2
    );
    assert_eq!(
        events.iter().filter(|e| *e == "VmStopped").count(),
        1,
        "the reboot must not look like a stop"
    );

    // Stopped: the running-only operations are refused and record nothing.
    let before = events.len();
    for mutation in ["pauseVm", "resumeVm", "rebootVm", "shutdownVm"] {
        let refused = app.vm_op(&token, mutation, &id).await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "CONFLICT",
            "{mutation}: {refused}"
        );
    }
    assert_eq!(app.lifecycle_types(&id).await.len(), before);

    app.delete_vm(&token, &id).await;
}
