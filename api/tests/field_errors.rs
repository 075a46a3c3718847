//! A refusal about one input names it in `extensions.field`, spelt as the client sent it, so a
//! form can show the message on that field. Nothing here needs a running guest: VMs live on
//! libvirt's in-process test driver.

mod support;

use serde_json::{json, Value};
use support::{spawn_app, Libvirt, TestApp, ADMIN_PASSWORD};

const CREATE_VM: &str =
    "mutation($input: CreateVmInput!) { createVm(input: $input) { id name state } }";

/// A valid `createVm` input with `changes` merged in.
fn vm_input(changes: Value) -> Value {
    let mut input = json!({
        "name": "web", "image": "test-guest", "vcpus": 1, "memoryMib": 256, "diskGib": 1,
    });
    for (key, value) in changes.as_object().unwrap() {
        input[key] = value.clone();
    }
    json!({ "input": input })
}

/// The first error's `extensions`, after checking there is no data for it.
fn extensions(response: &Value) -> &Value {
    let extensions = &response["errors"][0]["extensions"];
    assert!(extensions.is_object(), "no error in {response}");
    extensions
}

/// Asserts `response` is `BAD_INPUT` about `field`.
fn assert_bad_field(response: &Value, field: &str) {
    let extensions = extensions(response);
    assert_eq!(extensions["code"], "BAD_INPUT", "{response}");
    assert_eq!(extensions["field"], field, "{response}");
}

async fn create_vm_refusal(app: &TestApp, token: &str, changes: Value) -> Value {
    app.gql(Some(token), CREATE_VM, vm_input(changes)).await
}

#[tokio::test]
async fn create_vm_refusals_name_their_field() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB alice@laptop";
    let too_many = vec![key; 33];
    for (changes, field) in [
        (json!({ "memoryMib": 32 }), "memoryMib"),
        (json!({ "memoryMib": -1 }), "memoryMib"),
        (json!({ "vcpus": 65 }), "vcpus"),
        (json!({ "diskGib": 0 }), "diskGib"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": "tab\there" }), "name"),
        (json!({ "image": "nope" }), "image"),
        (json!({ "keyboardLayout": "klingon" }), "keyboardLayout"),
        (json!({ "hostname": "-lead" }), "hostname"),
        (json!({ "user": "root", "sshKeys": [key] }), "user"),
        (json!({ "sshKeys": [key] }), "user"),
        (
            json!({ "user": "alice", "sshKeys": ["not a key"] }),
            "sshKeys",
        ),
        (json!({ "user": "alice", "sshKeys": too_many }), "sshKeys"),
        (json!({ "user": "alice", "password": "short" }), "password"),
    ] {
        let response = create_vm_refusal(&app, &token, changes.clone()).await;
        assert_bad_field(&response, field);
        assert!(response["data"].is_null(), "{changes}: {response}");
    }
    // More vCPUs than the host has CPUs: it would start, then crawl.
    let host = app.data(&token, "{ host { cpus } }", json!({})).await;
    let cpus = host["host"]["cpus"].as_i64().unwrap();
    let response = create_vm_refusal(&app, &token, json!({ "vcpus": cpus + 1 })).await;
    assert_bad_field(&response, "vcpus");
    assert_eq!(
        response["errors"][0]["message"],
        format!("this host has {cpus} CPUs: a VM can have at most {cpus} vCPUs")
    );
    // As many as it has pass that check (the memory is what's refused here).
    let fits = create_vm_refusal(&app, &token, json!({ "vcpus": cpus, "memoryMib": 32 })).await;
    assert_bad_field(&fits, "memoryMib");
    // The message is unchanged.
    let response = create_vm_refusal(&app, &token, json!({ "memoryMib": 32 })).await;
    assert_eq!(
        response["errors"][0]["message"],
        "memoryMib must be between 64 and 262144, got 32"
    );
    // A refusal that no single field is to blame for names none.
    let response = create_vm_refusal(&app, &token, json!({ "user": "alice" })).await;
    assert_eq!(extensions(&response)["code"], "BAD_INPUT", "{response}");
    assert!(extensions(&response).get("field").is_none(), "{response}");
    // Nothing was created.
    let vms = app
        .data(&token, "{ vms { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(vms["vms"]["edges"], json!([]));
}

#[tokio::test]
async fn account_refusals_name_their_field() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let create =
        "mutation($input: CreateAccountInput!) { createAccount(input: $input) { password } }";
    for (input, field) in [
        (
            json!({ "username": "bob", "password": "short" }),
            "password",
        ),
        (json!({ "username": "has space" }), "username"),
        (
            json!({ "username": "bob", "policies": ["vms:fly"] }),
            "policies",
        ),
    ] {
        let response = app
            .gql(Some(&token), create, json!({ "input": input }))
            .await;
        assert_bad_field(&response, field);
    }
    let change = "mutation($c: String!, $n: String!) { changePassword(current: $c, new: $n) }";
    let response = app
        .gql(
            Some(&token),
            change,
            json!({ "c": ADMIN_PASSWORD, "n": "short" }),
        )
        .await;
    assert_bad_field(&response, "new");
    let response = app
        .gql(
            Some(&token),
            change,
            json!({ "c": "not the password", "n": "long enough, surely" }),
        )
        .await;
    assert_bad_field(&response, "current");
    // Other refusals name no field.
    let response = app
        .gql(None, create, json!({ "input": { "username": "bob" } }))
        .await;
    assert_eq!(
        extensions(&response)["code"],
        "UNAUTHENTICATED",
        "{response}"
    );
    assert!(extensions(&response).get("field").is_none(), "{response}");
}

#[tokio::test]
async fn vm_operation_refusals_name_their_field() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let vm = app.create_vm(&token, "web", false).await;
    let id = vm["id"].as_str().unwrap();

    let issue = "mutation($vm: ID!, $name: String!, $at: DateTime) {
        issueVmCredential(vmId: $vm, name: $name, expiresAt: $at) { secret } }";
    let response = app
        .gql(
            Some(&token),
            issue,
            json!({ "vm": id, "name": "class", "at": "2001-01-01T00:00:00Z" }),
        )
        .await;
    assert_bad_field(&response, "expiresAt");
    assert_eq!(
        response["errors"][0]["message"],
        "expiresAt must be in the future"
    );
    let response = app
        .gql(Some(&token), issue, json!({ "vm": id, "name": " " }))
        .await;
    assert_bad_field(&response, "name");

    let rename = "mutation($id: ID!, $name: String!) { renameVm(id: $id, name: $name) { id } }";
    let response = app
        .gql(Some(&token), rename, json!({ "id": id, "name": "" }))
        .await;
    assert_bad_field(&response, "name");

    let labels = "mutation($id: ID!, $note: String, $tags: [String!]!) {
        setVmLabels(id: $id, note: $note, tags: $tags) { id } }";
    let long_note = "n".repeat(501);
    let many_tags: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    for (variables, field) in [
        (json!({ "id": id, "note": long_note, "tags": [] }), "note"),
        (json!({ "id": id, "tags": ["no spaces"] }), "tags"),
        (json!({ "id": id, "tags": many_tags }), "tags"),
    ] {
        let response = app.gql(Some(&token), labels, variables).await;
        assert_bad_field(&response, field);
    }
    // Refused labels record nothing.
    let events = app.event_types(id).await;
    assert!(!events.iter().any(|e| e == "VmLabelsSet"), "{events:?}");

    let snapshot =
        "mutation($vm: ID!, $name: String!) { takeSnapshot(vmId: $vm, name: $name) { id } }";
    let response = app
        .gql(Some(&token), snapshot, json!({ "vm": id, "name": "" }))
        .await;
    assert_bad_field(&response, "name");

    let resize = "mutation($id: ID!, $v: Int!, $m: Int!, $d: Int!) {
        resizeVm(id: $id, vcpus: $v, memoryMib: $m, diskGib: $d) { id } }";
    for (v, m, d, field) in [
        (0, 256, 1, "vcpus"),
        (1, 10, 1, "memoryMib"),
        (1, 256, -1, "diskGib"),
    ] {
        let response = app
            .gql(
                Some(&token),
                resize,
                json!({ "id": id, "v": v, "m": m, "d": d }),
            )
            .await;
        assert_bad_field(&response, field);
    }
    // Not found names no field.
    let response = app
        .gql(
            Some(&token),
            rename,
            json!({ "id": uuid::Uuid::new_v4().to_string(), "name": "x" }),
        )
        .await;
    assert_eq!(extensions(&response)["code"], "NOT_FOUND", "{response}");
    assert!(extensions(&response).get("field").is_none(), "{response}");
}
