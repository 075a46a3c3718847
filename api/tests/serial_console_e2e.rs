//! The walking skeleton end to end, on real parts: PostgreSQL, libvirtd and a TCG guest.
//! Log in, create a VM, watch it reach RUNNING live, talk to its shell over the console relay,
//! force it off, delete it — and check libvirt and the disk folder afterwards.

mod support;

use std::time::{Duration, Instant};

use distribox_projections::hypervisor::{DomainType, LibvirtHypervisor};
use serde_json::{json, Value};
use support::{spawn_app_with, virsh, Console, Libvirt, Subscription, TestApp};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use uuid::Uuid;

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

/// Status of a websocket upgrade attempt: 101 on success, the refusal's status otherwise.
async fn upgrade_status(app: &TestApp, url: &str, origin: Option<&str>) -> u16 {
    let mut request = app.ws_url(url).into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected websocket error: {other}"),
    }
}

async fn wait_for_event(events: &mut Subscription, vm: &str, state: &str) -> Value {
    let deadline = Instant::now() + BOOT_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = events.next(left).await["vmEvents"].clone();
        if event["vmId"] == vm && event["state"] == state {
            return event;
        }
    }
}

#[tokio::test]
async fn create_boot_talk_stop_delete() {
    let app = spawn_app_with(Libvirt::System, |c| c.console_ticket_ttl = 2).await;
    let token = app.login().await;
    let mut events = Subscription::start(
        &app,
        &token,
        "subscription { vmEvents { vmId state event at } }",
    )
    .await;

    let started = Instant::now();
    let input = json!({ "input": {
        "name": "skeleton <e2e> & 'friends'", "image": "test-guest", "vcpus": 1, "memoryMib": 256, "diskGib": 1,
        "start": true, "hostname": "e2e-box", "user": "alice", "password": "correct horse",
        "sshKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"]
    } });
    let vm = app
        .data(
            &token,
            "mutation($input: CreateVmInput!) { createVm(input: $input) { id name state } }",
            input,
        )
        .await["createVm"]
        .clone();
    let id = vm["id"].as_str().unwrap().to_owned();
    assert_eq!(vm["name"], "skeleton <e2e> & 'friends'");
    let running = wait_for_event(&mut events, &id, "RUNNING").await;
    assert_eq!(running["event"], "VmStarted");
    let to_running = started.elapsed();
    // The name reached libvirt as an escaped title, intact.
    let title = virsh(&["desc", "--title", &format!("distribox-{id}")]);
    assert_eq!(
        String::from_utf8_lossy(&title.stdout).trim(),
        "skeleton <e2e> & 'friends'"
    );

    let url = app.open_console(&token, &id).await;
    assert!(url.starts_with("/console/ws?ticket="), "{url}");
    let mut console = Console::connect(&app, &url).await;
    console.wait_for_shell(BOOT_TIMEOUT).await;
    let to_shell = started.elapsed();
    // The guest read its own cloud-init seed from the CD-ROM: unique instance id, hostname, the
    // user with the key and a password hash (never the password).
    console.seen.clear();
    console
        .type_text("cat /mnt/meta-data /mnt/user-data; echo seed-done\n")
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while console.seen.matches("seed-done").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "no seed on the console: {}",
            console.seen
        );
        console.read_for(Duration::from_millis(300)).await;
    }
    assert!(
        console.seen.contains(&format!("instance-id: iid-{id}")),
        "{}",
        console.seen
    );
    assert!(
        console.seen.contains("local-hostname: e2e-box"),
        "{}",
        console.seen
    );
    assert!(console.seen.contains("\"name\": \"alice\"") && console.seen.contains("alice@laptop"));
    assert!(console.seen.contains("$6$") && !console.seen.contains("correct horse"));
    console.close().await;
    println!("createVm → RUNNING {to_running:?}; createVm → shell answered {to_shell:?}");

    // A ticket works once.
    assert_eq!(upgrade_status(&app, &url, None).await, 403);
    // A foreign Origin is refused before the ticket is even looked at: the same ticket still
    // works from an allowed origin afterwards.
    let fresh = app.open_console(&token, &id).await;
    assert_eq!(
        upgrade_status(&app, &fresh, Some("https://evil.example")).await,
        403
    );
    assert_eq!(
        upgrade_status(&app, &fresh, Some("https://lab.example.org")).await,
        101
    );
    // An expired ticket (TTL is 2 s in this app) is refused.
    let stale = app.open_console(&token, &id).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(upgrade_status(&app, &stale, None).await, 403);

    let stopped = app
        .data(
            &token,
            "mutation($id: ID!) { forceStopVm(id: $id) { state } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        matches!(
            stopped["forceStopVm"]["state"].as_str(),
            Some("STOPPING" | "STOPPED")
        ),
        "{stopped}"
    );
    app.wait_for_state(&token, &id, Some("STOPPED"), BOOT_TIMEOUT)
        .await;

    let deleted = app
        .data(
            &token,
            "mutation($id: ID!) { deleteVm(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["deleteVm"], true);
    wait_for_event(&mut events, &id, "DELETED").await;
    app.wait_for_state(&token, &id, None, BOOT_TIMEOUT).await;

    let libvirt =
        LibvirtHypervisor::new("qemu:///system", DomainType::Qemu, app.data_dir.join("vms"));
    let uuid: Uuid = id.parse().unwrap();
    assert!(
        !libvirt.domain_exists(uuid).await.unwrap(),
        "libvirt still has the domain"
    );
    assert!(
        !app.data_dir.join("vms").join(&id).exists(),
        "the disk overlay is still there"
    );

    // The lifecycle, and beside it the two console sessions (recorded as they close, so
    // their place among the lifecycle events may vary).
    let history = app.lifecycle_types(&id).await;
    let consoles: Vec<String> = app
        .event_types(&id)
        .await
        .into_iter()
        .filter(|event| event.starts_with("Console"))
        .collect();
    assert_eq!(
        consoles,
        [
            "ConsoleOpened",
            "ConsoleClosed",
            "ConsoleOpened",
            "ConsoleClosed"
        ]
    );
    assert_eq!(
        history,
        [
            "VmCreated",
            "VmStartRequested",
            "VmProvisioned",
            "VmStarted",
            "VmForceStopRequested",
            "VmStopped",
            "VmDeleteRequested",
            "VmDeleted"
        ]
    );
}

/// What the guest printed while nobody watched is on the serial console as soon as it opens:
/// virtlogd keeps the log, and the console replays its last screenful before going live.
#[tokio::test]
async fn a_serial_console_opens_on_what_the_guest_printed_unwatched() {
    let app = spawn_app_with(Libvirt::System, |_| {}).await;
    let token = app.login().await;
    let id = app.running_vm(&token, "printed unwatched").await;
    let log = app.data_dir.join("vms").join(&id).join("serial.log");
    let deadline = Instant::now() + BOOT_TIMEOUT;
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("distribox-test-guest ready")
    {
        assert!(
            Instant::now() < deadline,
            "the guest's boot never reached {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let url = app.open_console(&token, &id).await;
    let mut console = Console::connect(&app, &url).await;
    // Nothing typed: only the replay can show the boot message.
    console.read_for(Duration::from_secs(2)).await;
    assert!(
        console.seen.contains("distribox-test-guest ready"),
        "console opened on: {:?}",
        console.seen
    );
    console.close().await;
    app.vm_ok(&token, "forceStopVm", &id).await;
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    app.delete_vm(&token, &id).await;
}

/// Someone granted one VM sees their own console sessions in its history, not who else
/// watched it; an auditor sees everyone's, each named.
#[tokio::test]
async fn a_vm_s_history_shows_other_people_s_console_sessions_only_to_auditors() {
    let app = spawn_app_with(Libvirt::System, |_| {}).await;
    let admin = app.login().await;
    let id = app.running_vm(&admin, "watched").await;
    let (guest_id, guest) = app.account(&admin, "guest", &["auth:me:get"]).await;
    app.data(
        &admin,
        "mutation($a: ID!, $v: ID!) { grantPolicies(accountId: $a, vmId: $v,
            policies: [\"vms:getById\", \"vms:connect\"]) { id } }",
        json!({ "a": guest_id, "v": id }),
    )
    .await;
    for token in [&admin, &guest] {
        let url = app.open_console(token, &id).await;
        let mut console = Console::connect(&app, &url).await;
        console.read_for(Duration::from_millis(300)).await;
        console.close().await;
    }
    let history = "query($id: ID!) { vm(id: $id) { events(first: 100) { event actor } } }";
    let consoles = |response: Value| -> Vec<(String, String)> {
        response["vm"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"].as_str().unwrap().starts_with("Console"))
            .map(|e| {
                let field = |k: &str| e[k].as_str().unwrap().to_owned();
                (field("event"), field("actor"))
            })
            .collect()
    };
    // Sessions are recorded as they close: wait until both are.
    let deadline = Instant::now() + Duration::from_secs(20);
    let everyone = loop {
        let seen = consoles(app.data(&admin, history, json!({ "id": id })).await);
        if seen.len() == 4 {
            break seen;
        }
        assert!(Instant::now() < deadline, "console sessions: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let actors: std::collections::BTreeSet<&str> =
        everyone.iter().map(|(_, actor)| actor.as_str()).collect();
    assert_eq!(actors, ["admin", "guest"].into(), "{everyone:?}");
    let own = consoles(app.data(&guest, history, json!({ "id": id })).await);
    assert_eq!(own.len(), 2, "{own:?}");
    assert!(own.iter().all(|(_, actor)| actor == "guest"), "{own:?}");
    // The audit log names the people behind the sessions the system recorded, too.
    let audit = app
        .data(
            &admin,
            "query($vm: ID!) { auditLog(vmId: $vm, first: 100) { edges { node { action actor actorName } } } }",
            json!({ "vm": id }),
        )
        .await;
    let named: std::collections::BTreeSet<String> = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"])
        .filter(|node| node["action"].as_str().unwrap().starts_with("Console"))
        .map(|node| node["actorName"].as_str().unwrap_or("unnamed").to_owned())
        .collect();
    assert_eq!(named, ["admin".to_owned(), "guest".to_owned()].into());
    app.vm_ok(&admin, "forceStopVm", &id).await;
    app.wait_for_state(&admin, &id, Some("STOPPED"), Duration::from_secs(30))
        .await;
    app.delete_vm(&admin, &id).await;
}
