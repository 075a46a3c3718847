//! Access that ends takes its live connections with it, within a second: consoles opened by a
//! session (logout, password change, disabled account) or with a credential (revoked, expired),
//! and GraphQL subscriptions. A credential opens its own VM's console and nothing else.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{spawn_app, Console, Libvirt, Subscription, TestApp};

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
const REVOKED: u16 = 4001;
const EXPIRED: u16 = 4002;

async fn issue(
    app: &TestApp,
    admin: &str,
    vm: &str,
    name: &str,
    expires_at: Option<String>,
) -> (String, String) {
    let issued = app
        .data(
            admin,
            "mutation($vm: ID!, $n: String!, $e: DateTime) {
                issueVmCredential(vmId: $vm, name: $n, expiresAt: $e) { credential { id } secret } }",
            json!({ "vm": vm, "n": name, "e": expires_at }),
        )
        .await;
    (
        issued["issueVmCredential"]["credential"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        issued["issueVmCredential"]["secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn open_with_credential(app: &TestApp, secret: &str) -> Value {
    app.gql(
        None,
        "mutation($s: String!) { openConsoleWithCredential(secret: $s, kind: SERIAL) { url } }",
        json!({ "s": secret }),
    )
    .await
}

async fn credential_console(app: &TestApp, secret: &str) -> Console {
    let opened = open_with_credential(app, secret).await;
    let url = opened["data"]["openConsoleWithCredential"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no console: {opened}"));
    Console::connect(app, url).await
}

/// Asserts `console` is closed with `code` and `reason` within a second of `since`.
async fn assert_closed(console: &mut Console, since: Instant, code: u16, reason: &str) {
    let closed = console.closed_within(Duration::from_secs(2)).await;
    let elapsed = since.elapsed();
    assert_eq!(closed, Some((code, reason.to_owned())));
    assert!(elapsed < Duration::from_secs(1), "closed after {elapsed:?}");
    println!("`{reason}` closed the console in {elapsed:?}");
}

#[tokio::test]
async fn ended_access_closes_consoles_and_subscriptions_within_a_second() {
    let app = spawn_app(Libvirt::System).await;
    let admin = app.login().await;
    let vm = app.create_vm(&admin, "shared", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_vm = app.create_vm(&admin, "other", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&admin, &vm, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    app.wait_for_state(&admin, &other_vm, Some("RUNNING"), BOOT_TIMEOUT)
        .await;
    let policies = [
        "vms:get",
        "vms:connect",
        "auth:me:get",
        "auth:changePassword",
    ];
    let alice = app.create_account(&admin, "alice", &policies).await;

    // Logout ends the consoles of that session only.
    let first = app.login_account("alice").await;
    let second = app.login_account("alice").await;
    let mut console = Console::connect(&app, &app.open_console(&first, &vm).await).await;
    console.wait_for_shell(BOOT_TIMEOUT).await;
    let mut feed = Subscription::start(&app, &second, "subscription { vmEvents { vmId } }").await;
    let since = Instant::now();
    app.data(&first, "mutation { logout }", json!({})).await;
    assert_closed(&mut console, since, REVOKED, "logged out").await;
    assert!(
        !feed.closed_within(Duration::from_millis(500)).await,
        "another session's subscription closed"
    );

    // A password change ends the account's other sessions' consoles and subscriptions.
    let mut console = Console::connect(&app, &app.open_console(&second, &vm).await).await;
    console.read_for(Duration::from_millis(200)).await;
    let since = Instant::now();
    app.data(
        &second,
        "mutation { changePassword(current: \"password of alice\", new: \"password-of-alice2\") }",
        json!({}),
    )
    .await;
    assert_closed(&mut console, since, REVOKED, "the password was changed").await;
    assert!(
        feed.closed_within(Duration::from_secs(1)).await,
        "the subscription stayed open"
    );

    // Disabling the account does the same.
    let third = app.login_as("alice", "password-of-alice2").await["data"]["login"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut console = Console::connect(&app, &app.open_console(&third, &vm).await).await;
    let mut feed = Subscription::start(&app, &third, "subscription { vmEvents { vmId } }").await;
    let since = Instant::now();
    app.data(
        &admin,
        "mutation($id: ID!) { disableAccount(id: $id) }",
        json!({ "id": alice }),
    )
    .await;
    assert_closed(&mut console, since, REVOKED, "the account was disabled").await;
    assert!(feed.closed_within(Duration::from_secs(1)).await);

    // A credential opens its VM's console — the one thing it can do — until it is revoked.
    let (credential, secret) = issue(&app, &admin, &vm, "workshop", None).await;
    let mut console = credential_console(&app, &secret).await;
    console.wait_for_shell(BOOT_TIMEOUT).await;
    console.type_text("hostname\n").await;
    console.read_for(Duration::from_secs(1)).await;
    let hostname = format!("vm-{}", &vm[..8]);
    assert!(
        console.seen.lines().any(|l| l.trim() == hostname),
        "not VM A's console: {}",
        console.seen
    );
    let as_token = app
        .gql(
            Some(&secret),
            "{ vms { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        as_token["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    let since = Instant::now();
    app.data(
        &admin,
        "mutation($vm: ID!, $c: ID!) { revokeVmCredential(vmId: $vm, credentialId: $c) }",
        json!({ "vm": vm, "c": credential }),
    )
    .await;
    assert_closed(&mut console, since, REVOKED, "the credential was revoked").await;
    let refused = open_with_credential(&app, &secret).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
    // Revoking a credential of VM A through VM B finds nothing.
    let (other_credential, _) = issue(&app, &admin, &other_vm, "other", None).await;
    let crossed = app
        .gql(
            Some(&admin),
            "mutation($vm: ID!, $c: ID!) { revokeVmCredential(vmId: $vm, credentialId: $c) }",
            json!({ "vm": vm, "c": other_credential }),
        )
        .await;
    assert_eq!(
        crossed["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{crossed}"
    );

    // An expiring credential's console closes when it expires, and it opens nothing after.
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let (_, expiring) = issue(&app, &admin, &vm, "short-lived", Some(expires)).await;
    let mut console = credential_console(&app, &expiring).await;
    let closed = console.closed_within(Duration::from_secs(6)).await;
    assert_eq!(closed, Some((EXPIRED, "the credential expired".to_owned())));
    let refused = open_with_credential(&app, &expiring).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    // What was issued is listed, never with a secret.
    let listed = app
        .data(
            &admin,
            "query($id: ID!) { vm(id: $id) { credentials { name revokedAt lastUsedAt } } }",
            json!({ "id": vm }),
        )
        .await;
    let credentials = listed["vm"]["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 2);
    assert!(credentials[0]["revokedAt"].is_string() && credentials[0]["lastUsedAt"].is_string());
    assert!(!listed.to_string().contains(&secret));

    for id in [vm, other_vm] {
        app.data(
            &admin,
            "mutation($id: ID!) { deleteVm(id: $id, force: true) }",
            json!({ "id": id }),
        )
        .await;
    }
}
