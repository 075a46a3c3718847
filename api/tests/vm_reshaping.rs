//! Snapshots (live and cold), resize, clone, screenshot, keyboard layout, autostart and forced
//! deletion on a real TCG guest, each checked in libvirt and, where it shows, inside the guest.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use support::{spawn_app, virsh, Console, Libvirt, TestApp};

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(60);

fn virsh_says(args: &[&str]) -> String {
    let output = virsh(args);
    assert!(
        output.status.success(),
        "virsh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The value of `key:` in `virsh dominfo`-style output.
fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .map(|rest| rest.trim_start_matches(':').trim().to_owned())
        .unwrap_or_else(|| panic!("no `{key}` in {text}"))
}

fn code(response: &Value) -> (&str, &str) {
    (
        response["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("none"),
        response["errors"][0]["message"].as_str().unwrap_or(""),
    )
}

async fn vm(app: &TestApp, token: &str, id: &str) -> Value {
    app.data(
        token,
        "query($id: ID!) { vm(id: $id) { state busy vcpus memoryMib diskGib keyboardLayout
            autostart clonedFromId snapshots { id name status withMemory } } }",
        json!({ "id": id }),
    )
    .await["vm"]
        .clone()
}

/// Polls VM `id` until `done` holds, failing after `timeout`.
async fn wait_for(
    app: &TestApp,
    token: &str,
    id: &str,
    timeout: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let vm = vm(app, token, id).await;
        if done(&vm) {
            return vm;
        }
        assert!(Instant::now() < deadline, "{what} never happened: {vm}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn take_snapshot(app: &TestApp, token: &str, id: &str, name: &str) -> String {
    let taken = app
        .data(
            token,
            "mutation($id: ID!, $name: String!) { takeSnapshot(vmId: $id, name: $name) { id name } }",
            json!({ "id": id, "name": name }),
        )
        .await;
    assert_eq!(taken["takeSnapshot"]["name"], name);
    let snapshot = taken["takeSnapshot"]["id"].as_str().unwrap().to_owned();
    wait_for(app, token, id, SNAPSHOT_TIMEOUT, "the snapshot", |vm| {
        !vm["busy"].as_bool().unwrap()
    })
    .await;
    snapshot
}

async fn snapshot_op(app: &TestApp, token: &str, op: &str, id: &str, snapshot: &str) -> Value {
    let query = format!("mutation($id: ID!, $s: ID!) {{ {op}(vmId: $id, snapshotId: $s) }}");
    app.gql(Some(token), &query, json!({ "id": id, "s": snapshot }))
        .await
}

async fn resize(app: &TestApp, token: &str, id: &str, vcpus: i32, memory: i32, disk: i32) -> Value {
    app.gql(
        Some(token),
        "mutation($id: ID!, $c: Int!, $m: Int!, $d: Int!) {
            resizeVm(id: $id, vcpus: $c, memoryMib: $m, diskGib: $d) { vcpus memoryMib diskGib } }",
        json!({ "id": id, "c": vcpus, "m": memory, "d": disk }),
    )
    .await
}

/// Runs `command` in the guest's shell until a line of its output is exactly `expected`.
async fn guest_prints(console: &mut Console, command: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        console.type_text(&format!("{command}\n")).await;
        console.read_for(Duration::from_secs(1)).await;
        if console.seen.lines().any(|line| line.trim() == expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{command}` never printed `{expected}`; console said: {}",
            console.seen
        );
    }
}

async fn stop(app: &TestApp, token: &str, id: &str) {
    app.vm_ok(token, "forceStopVm", id).await;
    app.wait_for_state(token, id, Some("STOPPED"), Duration::from_secs(30))
        .await;
}

/// The PNG's width and height, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[tokio::test]
async fn snapshots_resize_clone_screenshot_and_forced_delete() {
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let created = app
        .data(
            &token,
            "mutation($input: CreateVmInput!) { createVm(input: $input) { id keyboardLayout autostart } }",
            json!({ "input": { "name": "reshaped", "image": "test-guest", "vcpus": 1,
                "memoryMib": 256, "diskGib": 1, "start": true, "keyboardLayout": "de",
                "autostart": true } }),
        )
        .await;
    assert_eq!(created["createVm"]["keyboardLayout"], "de");
    assert_eq!(created["createVm"]["autostart"], true);
    let id = created["createVm"]["id"].as_str().unwrap().to_owned();
    let domain = format!("distribox-{id}");
    app.wait_for_state(&token, &id, Some("RUNNING"), BOOT_TIMEOUT)
        .await;

    // Keyboard layout, autostart, NAT network and a graphics device on a unix socket only.
    let xml = virsh_says(&["dumpxml", &domain]);
    assert!(xml.contains("keymap='de'"), "{xml}");
    assert!(xml.contains("<source network='default'"), "{xml}");
    assert!(xml.contains("<listen type='socket'"), "{xml}");
    assert!(!xml.contains("<listen type='address'"), "{xml}");
    assert_eq!(
        field(&virsh_says(&["dominfo", &domain]), "Autostart"),
        "enable"
    );

    let url = app.open_console(&token, &id).await;
    let mut console = Console::connect(&app, &url).await;
    console.wait_for_shell(BOOT_TIMEOUT).await;

    // A screenshot for a dashboard tile: a real PNG no wider than asked.
    let shot = app
        .data(
            &token,
            "query($id: ID!) { vmScreenshot(id: $id, maxWidth: 200) }",
            json!({ "id": id }),
        )
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["vmScreenshot"].as_str().unwrap())
        .unwrap();
    let (width, height) = png_size(&png);
    assert!(width > 0 && width <= 200 && height > 0, "{width}x{height}");

    // A live snapshot holds memory: what the guest kept in RAM comes back with it.
    guest_prints(&mut console, "echo before > /marker; cat /marker", "before").await;
    let asked = Instant::now();
    let live = take_snapshot(&app, &token, &id, "live").await;
    println!(
        "live snapshot (256 MiB guest, TCG) taken in {:?}",
        asked.elapsed()
    );
    let taken = vm(&app, &token, &id).await;
    assert_eq!(taken["snapshots"][0]["status"], "READY", "{taken}");
    assert_eq!(taken["snapshots"][0]["withMemory"], true);
    assert!(virsh_says(&["snapshot-list", &domain, "--name"]).contains(&live));
    guest_prints(&mut console, "echo after > /marker; cat /marker", "after").await;
    assert_eq!(
        code(&snapshot_op(&app, &token, "revertSnapshot", &id, &live).await),
        ("CONFLICT", "VM is not stopped; stop it before reverting it")
    );
    console.close().await;
    stop(&app, &token, &id).await;
    let asked = Instant::now();
    let reverted = snapshot_op(&app, &token, "revertSnapshot", &id, &live).await;
    assert_eq!(reverted["data"]["revertSnapshot"], true, "{reverted}");
    app.wait_for_state(&token, &id, Some("RUNNING"), SNAPSHOT_TIMEOUT)
        .await;
    println!("reverted to it, running again, in {:?}", asked.elapsed());
    let url = app.open_console(&token, &id).await;
    let mut console = Console::connect(&app, &url).await;
    guest_prints(&mut console, "cat /marker", "before").await;
    console.close().await;

    // A disk with snapshots can't grow; vCPUs and memory can change.
    stop(&app, &token, &id).await;
    assert_eq!(
        code(&resize(&app, &token, &id, 2, 384, 2).await),
        (
            "CONFLICT",
            "the disk has snapshots; delete them before growing it"
        )
    );
    let deleted = snapshot_op(&app, &token, "deleteSnapshot", &id, &live).await;
    assert_eq!(deleted["data"]["deleteSnapshot"], true, "{deleted}");
    wait_for(
        &app,
        &token,
        &id,
        SNAPSHOT_TIMEOUT,
        "deleting the snapshot",
        |vm| vm["snapshots"].as_array().unwrap().is_empty(),
    )
    .await;
    assert_eq!(virsh_says(&["snapshot-list", &domain, "--name"]), "");

    // Resize while stopped: libvirt's definition and the disk follow at once.
    let resized = resize(&app, &token, &id, 2, 384, 2).await;
    assert_eq!(
        resized["data"]["resizeVm"],
        json!({ "vcpus": 2, "memoryMib": 384, "diskGib": 2 }),
        "{resized}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = virsh_says(&["dominfo", &domain]);
        let capacity = virsh_says(&["domblkinfo", &domain, "vda"]);
        if field(&info, "CPU(s)") == "2"
            && field(&info, "Max memory") == "393216 KiB"
            && field(&capacity, "Capacity") == (2u64 << 30).to_string()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "libvirt did not follow the resize: {info}\n{capacity}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        code(&resize(&app, &token, &id, 2, 384, 1).await),
        ("BAD_INPUT", "diskGib can only grow: the disk has 2 GiB")
    );

    // A snapshot of a stopped VM: reverting to it leaves the VM stopped.
    let cold = take_snapshot(&app, &token, &id, "cold").await;
    assert_eq!(
        vm(&app, &token, &id).await["snapshots"][0]["withMemory"],
        false
    );
    snapshot_op(&app, &token, "revertSnapshot", &id, &cold).await;
    let after = wait_for(
        &app,
        &token,
        &id,
        SNAPSHOT_TIMEOUT,
        "the cold revert",
        |vm| !vm["busy"].as_bool().unwrap(),
    )
    .await;
    assert_eq!(after["state"], "STOPPED");

    // Clone: a copy of the stopped VM's disk with its own identity.
    let cloned = app
        .data(
            &token,
            "mutation($id: ID!) { cloneVm(id: $id, name: \"reshaped copy\") { id name vcpus } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(cloned["cloneVm"]["name"], "reshaped copy");
    assert_eq!(cloned["cloneVm"]["vcpus"], 2);
    let copy = cloned["cloneVm"]["id"].as_str().unwrap().to_owned();
    app.wait_for_state(&token, &copy, Some("STOPPED"), Duration::from_secs(30))
        .await;
    let copy_vm = vm(&app, &token, &copy).await;
    assert_eq!(copy_vm["clonedFromId"], id.as_str());
    assert_eq!(copy_vm["autostart"], false);
    assert!(copy_vm["snapshots"].as_array().unwrap().is_empty());
    // Booted with one vCPU: QEMU 10.0's multi-threaded TCG now and then aborts a booting
    // 2-vCPU guest (`iotlb_to_section: Assertion … failed`, seen in CI), which would end the
    // console before the guest says anything. KVM hosts are not affected.
    let one_cpu = resize(&app, &token, &copy, 1, 384, 2).await;
    assert_eq!(one_cpu["data"]["resizeVm"]["vcpus"], 1, "{one_cpu}");
    app.vm_ok(&token, "startVm", &copy).await;
    app.wait_for_state(&token, &copy, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    let url = app.open_console(&token, &copy).await;
    let mut console = Console::connect(&app, &url).await;
    console.wait_for_shell(BOOT_TIMEOUT).await;
    guest_prints(
        &mut console,
        "grep instance-id /mnt/meta-data",
        &format!("instance-id: iid-{copy}"),
    )
    .await;
    console.close().await;

    // A running VM is deleted only with force; its disks and seed go with it.
    let copy_domain = format!("distribox-{copy}");
    let disk = virsh_says(&["domblklist", &copy_domain])
        .lines()
        .find_map(|line| line.trim().strip_prefix("vda"))
        .unwrap()
        .trim()
        .to_owned();
    let refused = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { deleteVm(id: $id) }",
            json!({ "id": copy }),
        )
        .await;
    assert_eq!(
        code(&refused),
        (
            "CONFLICT",
            "VM is running; stop it first or delete it with force"
        )
    );
    app.data(
        &token,
        "mutation($id: ID!) { deleteVm(id: $id, force: true) }",
        json!({ "id": copy }),
    )
    .await;
    app.wait_for_state(&token, &copy, None, Duration::from_secs(30))
        .await;
    assert!(!virsh(&["dominfo", &copy_domain]).status.success());
    let vm_dir = std::path::Path::new(&disk).parent().unwrap();
    assert!(!vm_dir.exists(), "{} was left behind", vm_dir.display());

    // The source, with a snapshot still on it, goes too.
    app.delete_vm(&token, &id).await;
    assert!(!virsh(&["dominfo", &domain]).status.success());
}
