//! The account lifecycle through GraphQL: creation (generated passwords shown once), policies,
//! password changes, logout, disabling and deletion, each refusal, and what each does to the
//! account's sessions. Token forgery gets nowhere.

mod support;

use serde_json::{json, Value};
use support::{spawn_app, Libvirt, TestApp, ADMIN_PASSWORD};

const CREATE: &str = "mutation($input: CreateAccountInput!) {
    createAccount(input: $input) { account { id username policies disabled } password } }";
const ME: &str = "{ me { username } }";

fn code(response: &Value) -> (&str, &str) {
    (
        response["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("none"),
        response["errors"][0]["message"].as_str().unwrap_or(""),
    )
}

fn token(login: &Value) -> String {
    login["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {login}"))
        .to_owned()
}

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), CREATE, json!({ "input": input }))
        .await
}

/// Creates `username` with `policies` and password "password-of-<username>"; returns its id.
async fn account(app: &TestApp, admin: &str, username: &str, policies: &[&str]) -> String {
    let created = create(
        app,
        admin,
        json!({ "username": username, "password": format!("password-of-{username}"), "policies": policies }),
    )
    .await;
    assert!(created.get("errors").is_none(), "{created}");
    assert_eq!(created["data"]["createAccount"]["password"], Value::Null);
    created["data"]["createAccount"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn login(app: &TestApp, username: &str) -> String {
    token(
        &app.login_as(username, &format!("password-of-{username}"))
            .await,
    )
}

async fn whoami(app: &TestApp, token: &str) -> Value {
    app.gql(Some(token), ME, json!({})).await
}

#[tokio::test]
async fn create_accounts_with_generated_or_given_passwords_and_refuse_bad_ones() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;

    let created = create(
        &app,
        &admin,
        json!({ "username": " Alice ", "policies": ["auth:me:get"] }),
    )
    .await;
    let generated = created["data"]["createAccount"]["password"]
        .as_str()
        .unwrap();
    assert_eq!(generated.len(), 20);
    assert_eq!(
        created["data"]["createAccount"]["account"]["username"],
        "alice"
    );
    let alice = token(&app.login_as("alice", generated).await);
    assert_eq!(
        whoami(&app, &alice).await["data"]["me"]["username"],
        "alice"
    );

    for (input, expected) in [
        (json!({ "username": "alice" }), ("CONFLICT", "username `alice` is already taken")),
        (
            json!({ "username": "bob", "password": "short" }),
            ("BAD_INPUT", "password must be 10 to 1024 characters"),
        ),
        (
            json!({ "username": "bob", "policies": ["vms:fly"] }),
            ("BAD_INPUT", "unknown policy `vms:fly`"),
        ),
        (
            json!({ "username": "bad name" }),
            ("BAD_INPUT", "username must be 1-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"),
        ),
    ] {
        let response = create(&app, &admin, input.clone()).await;
        assert_eq!(code(&response), expected, "{input}");
    }
    // Without users:create, and without distribox:admin for granting it.
    let refused = create(&app, &alice, json!({ "username": "carol" })).await;
    assert_eq!(code(&refused).0, "FORBIDDEN");
    account(
        &app,
        &admin,
        "hr",
        &["users:create", "users:updatePolicies"],
    )
    .await;
    let hr = login(&app, "hr").await;
    let refused = create(
        &app,
        &hr,
        json!({ "username": "mallory", "policies": ["distribox:admin"] }),
    )
    .await;
    assert_eq!(
        code(&refused),
        ("FORBIDDEN", "this needs the distribox:admin policy")
    );
    account(&app, &hr, "dave", &["vms:get"]).await;

    let listed = app
        .data(&admin, "{ accounts { username } policies }", json!({}))
        .await;
    let names: Vec<&str> = listed["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "alice", "dave", "hr"]);
    assert!(listed["policies"]
        .as_array()
        .unwrap()
        .contains(&json!("vms:snapshots:create")));
}

#[tokio::test]
async fn policies_can_be_replaced_but_admin_stays_admin() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let alice = account(&app, &admin, "alice", &["vms:get"]).await;
    let set = "mutation($id: ID!, $p: [String!]!) { setAccountPolicies(id: $id, policies: $p) { policies } }";
    let response = app
        .data(
            &admin,
            set,
            json!({ "id": alice, "p": ["vms:get", "images:get"] }),
        )
        .await;
    assert_eq!(
        response["setAccountPolicies"]["policies"],
        json!(["images:get", "vms:get"])
    );
    // The new policies count at once, in the same session.
    let token = login(&app, "alice").await;
    assert!(app
        .gql(Some(&token), "{ images { id } }", json!({}))
        .await
        .get("errors")
        .is_none());

    let me = app.data(&admin, "{ me { id } }", json!({})).await["me"]["id"].clone();
    let response = app
        .gql(Some(&admin), set, json!({ "id": me, "p": ["vms:get"] }))
        .await;
    assert_eq!(
        code(&response),
        ("CONFLICT", "the admin account keeps distribox:admin")
    );
    account(&app, &admin, "hr", &["users:updatePolicies"]).await;
    let hr = login(&app, "hr").await;
    for policies in [json!(["distribox:admin"]), json!([])] {
        let target = if policies == json!([]) {
            &me
        } else {
            &json!(alice)
        };
        let response = app
            .gql(Some(&hr), set, json!({ "id": target, "p": policies }))
            .await;
        assert_eq!(
            code(&response),
            ("FORBIDDEN", "this needs the distribox:admin policy"),
            "{policies}"
        );
    }
    let unknown = app
        .gql(
            Some(&admin),
            set,
            json!({ "id": uuid::Uuid::new_v4().to_string(), "p": [] }),
        )
        .await;
    assert_eq!(code(&unknown), ("NOT_FOUND", "account not found"));
}

#[tokio::test]
async fn logout_password_change_disable_and_delete_end_sessions() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let alice = account(
        &app,
        &admin,
        "alice",
        &["auth:me:get", "auth:changePassword"],
    )
    .await;

    // Logout ends that session only.
    let first = login(&app, "alice").await;
    let second = login(&app, "alice").await;
    assert_eq!(
        app.data(&first, "mutation { logout }", json!({})).await["logout"],
        true
    );
    assert_eq!(code(&whoami(&app, &first).await).0, "UNAUTHENTICATED");
    let again = app
        .gql(Some(&first), "mutation { logout }", json!({}))
        .await;
    assert_eq!(code(&again).0, "UNAUTHENTICATED");
    assert!(whoami(&app, &second).await.get("errors").is_none());

    // A password change needs the current password and ends every session.
    let change = "mutation($c: String!, $n: String!) { changePassword(current: $c, new: $n) }";
    let wrong = app
        .gql(
            Some(&second),
            change,
            json!({ "c": "not it at all", "n": "a brand new password" }),
        )
        .await;
    assert_eq!(code(&wrong), ("BAD_INPUT", "the current password is wrong"));
    let short = app
        .gql(
            Some(&second),
            change,
            json!({ "c": "password-of-alice", "n": "short" }),
        )
        .await;
    assert_eq!(code(&short).0, "BAD_INPUT");
    let third = login(&app, "alice").await;
    let changed = app
        .data(
            &second,
            change,
            json!({ "c": "password-of-alice", "n": "a brand new password" }),
        )
        .await;
    assert_eq!(changed["changePassword"], true);
    for token in [&second, &third] {
        assert_eq!(code(&whoami(&app, token).await).0, "UNAUTHENTICATED");
    }
    assert_eq!(
        code(&app.login_as("alice", "password-of-alice").await),
        ("UNAUTHENTICATED", "invalid username or password")
    );
    let fresh = token(&app.login_as("alice", "a brand new password").await);
    assert!(whoami(&app, &fresh).await.get("errors").is_none());

    // Disabling ends the sessions and refuses logins; the admin can't be disabled or deleted.
    let disable = "mutation($id: ID!) { disableAccount(id: $id) }";
    assert_eq!(
        app.data(&admin, disable, json!({ "id": alice })).await["disableAccount"],
        true
    );
    assert_eq!(code(&whoami(&app, &fresh).await).0, "UNAUTHENTICATED");
    assert_eq!(
        code(&app.login_as("alice", "a brand new password").await),
        ("UNAUTHENTICATED", "this account is disabled")
    );
    assert_eq!(
        code(&app.gql(Some(&admin), disable, json!({ "id": alice })).await),
        ("CONFLICT", "the account is already disabled")
    );
    let me = app.data(&admin, "{ me { id } }", json!({})).await["me"]["id"].clone();
    let delete = "mutation($id: ID!) { deleteAccount(id: $id) }";
    assert_eq!(
        code(&app.gql(Some(&admin), disable, json!({ "id": me })).await),
        ("CONFLICT", "you cannot disable your own account")
    );
    account(&app, &admin, "root2", &["distribox:admin"]).await;
    let root2 = login(&app, "root2").await;
    assert_eq!(
        code(&app.gql(Some(&root2), disable, json!({ "id": me })).await),
        ("CONFLICT", "the admin account cannot be disabled")
    );
    assert_eq!(
        code(&app.gql(Some(&root2), delete, json!({ "id": me })).await),
        ("CONFLICT", "the admin account cannot be deleted")
    );
    // Ending an administrator's access needs distribox:admin, like taking it away.
    let root2_id = app.data(&root2, "{ me { id } }", json!({})).await["me"]["id"].clone();
    account(&app, &admin, "hr", &["users:delete"]).await;
    let hr = login(&app, "hr").await;
    assert_eq!(
        code(&app.gql(Some(&hr), disable, json!({ "id": root2_id })).await),
        ("FORBIDDEN", "this needs the distribox:admin policy")
    );

    // Deletion is for good: the username is not reused.
    assert_eq!(
        app.data(&admin, delete, json!({ "id": alice })).await["deleteAccount"],
        true
    );
    assert_eq!(
        code(&app.gql(Some(&admin), delete, json!({ "id": alice })).await),
        ("NOT_FOUND", "account not found")
    );
    assert_eq!(
        code(&create(&app, &admin, json!({ "username": "alice" })).await),
        ("CONFLICT", "username `alice` is already taken")
    );
    assert_eq!(
        code(&app.login_as("alice", "a brand new password").await),
        ("UNAUTHENTICATED", "invalid username or password")
    );

    let events = app.event_types(&alice).await;
    for expected in [
        "LoggedOut",
        "PasswordChanged",
        "AccountDisabled",
        "AccountDeleted",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
    let failures = events.iter().filter(|e| *e == "LoginFailed").count();
    assert_eq!(failures, 2, "the wrong old password and the disabled login");
}

#[tokio::test]
async fn forged_tokens_get_nowhere() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    account(&app, &admin, "alice", &["auth:me:get"]).await;
    let alice = login(&app, "alice").await;
    assert!(whoami(&app, &alice).await.get("errors").is_none());
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM sessions LIMIT 1")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let forgeries = [
        "0".repeat(64),
        alice[..alice.len() - 1].to_owned(),
        format!("{alice}0"),
        alice.to_uppercase(),
        hex(&stored),
        ADMIN_PASSWORD.to_owned(),
        String::new(),
    ];
    for forged in forgeries {
        let response = app.gql(Some(&forged), ME, json!({})).await;
        assert_eq!(
            code(&response).0,
            "UNAUTHENTICATED",
            "{forged:?} was accepted"
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn logins_are_throttled_per_account_and_per_address() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let alice = account(&app, &admin, "alice", &["auth:me:get"]).await;
    let bob = account(&app, &admin, "bob", &["auth:me:get"]).await;

    for _ in 0..5 {
        assert_eq!(
            code(&app.login_as("alice", "a wrong guess").await),
            ("UNAUTHENTICATED", "invalid username or password")
        );
    }
    // Even the right password is refused now, without being checked.
    let throttled = ("RATE_LIMITED", "too many failed logins; try again later");
    assert_eq!(
        code(&app.login_as("alice", "password-of-alice").await),
        throttled
    );
    // Other accounts from the same address still get in.
    login(&app, "bob").await;

    // Spraying from one address: 20 attempts in the window block the address (alice's six
    // count; bob's success gave its attempt back).
    for i in 0..14 {
        let response = app.login_as(&format!("nobody{i}"), "guess").await;
        assert_eq!(code(&response).0, "UNAUTHENTICATED");
    }
    assert_eq!(
        code(&app.login_as("bob", "password-of-bob").await),
        throttled
    );
    assert_eq!(code(&app.login_as("carol", "guess").await), throttled);

    // Every attempt is in the log: checked ones on the account's stream, refused ones apart
    // (so a flood can't grow an account's stream).
    let alice_events = app.events_of(&alice).await;
    let failures = alice_events
        .iter()
        .filter(|(e, _)| e == "LoginFailed")
        .count();
    assert_eq!(failures, 5);
    assert!(!app
        .event_types(&bob)
        .await
        .iter()
        .any(|e| e == "LoginFailed"));
    let unknown: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'UnknownAccountLogin'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(unknown, 14);
    let throttled: Vec<String> = sqlx::query_scalar(
        "SELECT payload->'LoginThrottled'->>'username' FROM events
          WHERE event_type = 'LoginThrottled' ORDER BY global_position",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(throttled, ["alice", "bob", "carol"]);

    // When the window is over, the right password works again, and clears the account's count.
    sqlx::query("UPDATE login_throttle SET window_started = now() - interval '16 minutes'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    login(&app, "alice").await;
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM login_throttle WHERE key = 'account:alice'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn policies_granted_for_one_vm_and_owner_rights() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let x = app.create_vm(&admin, "x", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let y = app.create_vm(&admin, "y", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for vm in [&x, &y] {
        app.wait_for_state(
            &admin,
            vm,
            Some("STOPPED"),
            std::time::Duration::from_secs(20),
        )
        .await;
    }
    let alice = account(&app, &admin, "alice", &[]).await;
    let grant = "mutation($a: ID!, $p: String!, $vm: ID) { grantPolicy(accountId: $a, policy: $p, vmId: $vm) }";
    let revoke = "mutation($a: ID!, $p: String!, $vm: ID) { revokePolicy(accountId: $a, policy: $p, vmId: $vm) }";
    app.data(
        &admin,
        grant,
        json!({ "a": alice, "p": "vms:start", "vm": x }),
    )
    .await;
    assert_eq!(
        code(
            &app.gql(
                Some(&admin),
                grant,
                json!({ "a": alice, "p": "vms:create", "vm": x })
            )
            .await
        ),
        ("BAD_INPUT", "`vms:create` can't be granted for a single VM")
    );
    let token = login(&app, "alice").await;
    let start = "mutation($vm: ID!) { startVm(id: $vm) { state } }";
    assert!(app
        .gql(Some(&token), start, json!({ "vm": x }))
        .await
        .get("errors")
        .is_none());
    assert_eq!(
        code(&app.gql(Some(&token), start, json!({ "vm": y })).await),
        ("NOT_FOUND", "VM not found")
    );
    // Listing and lookups show only what alice may see.
    let listed = app
        .data(&token, "{ vms { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(listed["vms"]["edges"], json!([{ "node": { "id": x } }]));
    let lookup = "query($vm: ID!) { vm(id: $vm) { id } }";
    assert_eq!(
        app.data(&token, lookup, json!({ "vm": y })).await["vm"],
        Value::Null
    );
    // Seen, but without the policy: FORBIDDEN, naming it.
    let rename = "mutation($vm: ID!) { renameVm(id: $vm, name: \"n\") { name } }";
    assert_eq!(
        code(&app.gql(Some(&token), rename, json!({ "vm": x })).await),
        ("FORBIDDEN", "this needs the vms:rename policy")
    );
    app.data(
        &admin,
        revoke,
        json!({ "a": alice, "p": "vms:start", "vm": x }),
    )
    .await;
    assert_eq!(
        code(&app.gql(Some(&token), start, json!({ "vm": x })).await).0,
        "FORBIDDEN"
    );

    // Owners hold the VM-level policies on their own VMs until an admin takes one away.
    let bob = account(&app, &admin, "bob", &["vms:create"]).await;
    let bob_token = login(&app, "bob").await;
    let z = app.create_vm(&bob_token, "z", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(
        &bob_token,
        &z,
        Some("STOPPED"),
        std::time::Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        app.data(&bob_token, rename, json!({ "vm": z })).await["renameVm"]["name"],
        "n"
    );
    let listed = app
        .data(&bob_token, "{ vms { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(listed["vms"]["edges"], json!([{ "node": { "id": z } }]));
    assert_eq!(
        code(&app.gql(Some(&bob_token), rename, json!({ "vm": x })).await),
        ("NOT_FOUND", "VM not found")
    );
    app.data(
        &admin,
        revoke,
        json!({ "a": bob, "p": "vms:delete", "vm": z }),
    )
    .await;
    let delete = "mutation($vm: ID!) { deleteVm(id: $vm) }";
    assert_eq!(
        code(&app.gql(Some(&bob_token), delete, json!({ "vm": z })).await),
        ("FORBIDDEN", "this needs the vms:delete policy")
    );
    assert!(app
        .gql(Some(&bob_token), start, json!({ "vm": z }))
        .await
        .get("errors")
        .is_none());
    // Without `vms:connect` there, an owner can't hand out a credential to that console either.
    app.data(
        &admin,
        revoke,
        json!({ "a": bob, "p": "vms:connect", "vm": z }),
    )
    .await;
    let issue = "mutation($vm: ID!) { issueVmCredential(vmId: $vm, name: \"c\") { secret } }";
    assert_eq!(
        code(&app.gql(Some(&bob_token), issue, json!({ "vm": z })).await),
        ("FORBIDDEN", "this needs the vms:connect policy")
    );
}

#[tokio::test]
async fn sessions_end_when_idle_and_when_too_old() {
    let app = support::spawn_app_with(Libvirt::TestDriver, |config| {
        config.session_idle = 2;
        config.session_lifetime = 4;
    })
    .await;
    let admin = app.login().await;
    account(&app, &admin, "alice", &["auth:me:get"]).await;

    // Idle: unused for longer than 2 s.
    let idle = login(&app, "alice").await;
    assert!(whoami(&app, &idle).await.get("errors").is_none());
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(code(&whoami(&app, &idle).await).0, "UNAUTHENTICATED");

    // Absolute: used every second, still over after 4 s.
    let busy = login(&app, "alice").await;
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(3500) {
        assert!(
            whoami(&app, &busy).await.get("errors").is_none(),
            "an active session died early"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(code(&whoami(&app, &busy).await).0, "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_disabled_account_can_be_enabled_again_and_logs_in() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let bob = account(&app, &admin, "bob", &["auth:me:get"]).await;
    let old_session = login(&app, "bob").await;
    let enable = "mutation($id: ID!) { enableAccount(id: $id) { username disabled } }";
    let disable = "mutation($id: ID!) { disableAccount(id: $id) }";

    // Enabling an account that is not disabled is refused.
    assert_eq!(
        code(&app.gql(Some(&admin), enable, json!({ "id": bob })).await),
        ("CONFLICT", "the account is not disabled")
    );
    app.data(&admin, disable, json!({ "id": bob })).await;
    assert_eq!(
        code(&app.login_as("bob", "password-of-bob").await).0,
        "UNAUTHENTICATED"
    );
    // Only with users:delete, which took the access away.
    account(&app, &admin, "helpdesk", &["users:get"]).await;
    let helpdesk = login(&app, "helpdesk").await;
    assert_eq!(
        code(&app.gql(Some(&helpdesk), enable, json!({ "id": bob })).await),
        ("FORBIDDEN", "this needs the users:delete policy")
    );

    let enabled = app.data(&admin, enable, json!({ "id": bob })).await;
    assert_eq!(
        enabled["enableAccount"],
        json!({ "username": "bob", "disabled": false })
    );
    let fresh = login(&app, "bob").await;
    assert_eq!(whoami(&app, &fresh).await["data"]["me"]["username"], "bob");
    // The sessions the disable ended stay ended.
    assert_eq!(code(&whoami(&app, &old_session).await).0, "UNAUTHENTICATED");
    let events = app.event_types(&bob).await;
    assert!(events.iter().any(|e| e == "AccountEnabled"), "{events:?}");
}

#[tokio::test]
async fn several_policies_are_granted_on_a_vm_at_once_or_none_are() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let carol = account(&app, &admin, "carol", &["auth:me:get"]).await;
    let vm = app.create_vm(&admin, "shared", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let grant = "mutation($a: ID!, $p: [String!]!, $v: ID) {
        grantPolicies(accountId: $a, policies: $p, vmId: $v) { vmGrants { vmId granted } } }";

    // One policy that can't be scoped to a VM refuses the whole grant.
    let refused = app
        .gql(
            Some(&admin),
            grant,
            json!({ "a": carol, "p": ["vms:start", "users:create"], "v": vm }),
        )
        .await;
    assert_eq!(code(&refused).0, "BAD_INPUT", "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["field"], "policies");
    let granted = app
        .data(
            &admin,
            grant,
            json!({ "a": carol, "p": ["vms:getById", "vms:start", "vms:connect"], "v": vm }),
        )
        .await;
    let grants = &granted["grantPolicies"]["vmGrants"];
    assert_eq!(grants[0]["vmId"], vm.as_str(), "{grants}");
    let mut policies: Vec<&str> = grants[0]["granted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    policies.sort();
    assert_eq!(policies, ["vms:connect", "vms:getById", "vms:start"]);
    let granted_events = app
        .event_types(&carol)
        .await
        .into_iter()
        .filter(|e| e == "PolicyGranted")
        .count();
    assert_eq!(granted_events, 3);
}

#[tokio::test]
async fn policies_are_described_and_role_presets_expand_into_them() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let data = app
        .data(
            &admin,
            "{ policyCatalogue { name description vmScoped } rolePresets { name label policies } }",
            json!({}),
        )
        .await;
    let catalogue = data["policyCatalogue"].as_array().unwrap();
    let names: Vec<&str> = catalogue
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"vms:connect") && names.contains(&"distribox:admin"));
    // Every policy says what it does, and no two say the same.
    let descriptions: std::collections::BTreeSet<&str> = catalogue
        .iter()
        .map(|p| p["description"].as_str().unwrap())
        .filter(|d| !d.is_empty())
        .collect();
    assert_eq!(descriptions.len(), catalogue.len());
    let connect = catalogue
        .iter()
        .find(|p| p["name"] == "vms:connect")
        .unwrap();
    assert_eq!(connect["vmScoped"], true);
    let presets = data["rolePresets"].as_array().unwrap();
    let preset_names: Vec<&str> = presets
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        preset_names,
        ["viewer", "vm-owner", "operator", "auditor", "admin"]
    );
    // A preset's policies are accepted as they are.
    let operator = presets.iter().find(|p| p["name"] == "operator").unwrap();
    let created = create(
        &app,
        &admin,
        json!({ "username": "op", "policies": operator["policies"] }),
    )
    .await;
    assert!(created.get("errors").is_none(), "{created}");
}
