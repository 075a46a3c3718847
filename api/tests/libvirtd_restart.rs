//! libvirtd killed under a running Distribox: the hypervisor is reported unavailable, queries
//! still answer from the read models, commands are accepted and carried out once libvirtd is
//! back, and everything converges.
//!
//! This kills the machine's libvirtd, so it lives alone in its own test binary (cargo runs test
//! binaries one after another) and starts libvirtd again the way `scripts/test` does.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{spawn_app, virsh, Libvirt, TestApp};

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

async fn hypervisor(app: &TestApp, token: &str) -> Value {
    app.data(
        token,
        "{ host { hypervisor { available unavailableSince error } } }",
        json!({}),
    )
    .await["host"]["hypervisor"]
        .clone()
}

async fn wait_for_availability(app: &TestApp, token: &str, available: bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = hypervisor(app, token).await;
        if state["available"] == available {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "hypervisor never became available={available}: {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn run(program: &str, args: &[&str]) -> std::process::ExitStatus {
    std::process::Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn kill_libvirtd() {
    if std::path::Path::new("/run/systemd/system").exists() {
        assert!(run("systemctl", &["kill", "--signal=KILL", "libvirtd"]).success());
    } else {
        assert!(run("pkill", &["-KILL", "-x", "libvirtd"]).success());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while run("pgrep", &["-x", "libvirtd"]).success() {
        assert!(Instant::now() < deadline, "libvirtd did not die");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_libvirtd() {
    if std::path::Path::new("/run/systemd/system").exists() {
        assert!(run("systemctl", &["start", "libvirtd"]).success());
    } else {
        assert!(run("libvirtd", &["-d"]).success());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !virsh(&["list"]).status.success() {
        assert!(Instant::now() < deadline, "libvirtd did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts libvirtd again even if the test fails half-way, so later tests find it running.
struct Revive;

impl Drop for Revive {
    fn drop(&mut self) {
        if !run("pgrep", &["-x", "libvirtd"]).success() {
            start_libvirtd();
        }
    }
}

#[tokio::test]
async fn a_killed_libvirtd_is_reported_and_everything_converges_when_it_returns() {
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let running = app.create_vm(&token, "survivor", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&token, &running, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    assert_eq!(hypervisor(&app, &token).await["available"], true);

    let _revive = Revive;
    kill_libvirtd();
    let down = wait_for_availability(&app, &token, false).await;
    assert!(down["unavailableSince"].is_string(), "{down}");
    assert!(down["error"].is_string(), "{down}");

    // Commands are accepted and recorded; queries answer from the read models.
    let stopping = app.vm_ok(&token, "forceStopVm", &running).await;
    assert_eq!(stopping["state"], "STOPPING");
    let pending = app.create_vm(&token, "born while down", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = app
        .data(&token, "{ vms { edges { node { id state } } } }", json!({}))
        .await;
    assert_eq!(
        listed["vms"]["edges"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.vm_state(&token, &running).await.as_deref(),
        Some("STOPPING"),
        "nothing can happen while libvirtd is down"
    );

    start_libvirtd();
    wait_for_availability(&app, &token, true).await;
    app.wait_for_state(&token, &running, Some("STOPPED"), Duration::from_secs(30))
        .await;
    assert_eq!(app.last_stop_reason(&running).await, "forced");
    app.wait_for_state(&token, &pending, Some("STOPPED"), Duration::from_secs(30))
        .await;
    assert!(virsh(&["dominfo", &format!("distribox-{pending}")])
        .status
        .success());

    for id in [running, pending] {
        app.delete_vm(&token, &id).await;
    }
}
