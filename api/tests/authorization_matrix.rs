//! The authorization matrix: every GraphQL field, called by an anonymous caller, an account
//! without the field's policy, one holding it for another VM only, and one holding it. The
//! outcomes are compared with `authorization_matrix.expected`, so any change in who may do what
//! shows up as a diff in review. Set `UPDATE_EXPECT=1` to rewrite the file after a deliberate
//! change. A field missing from the table below fails the test.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::{json, Value};
use support::{spawn_app, Libvirt, TestApp};

/// One field: its name, the policy it needs (`-`: none), and the document that calls it on
/// `$vm` (a stopped VM of the admin's), `$account` (another account) or neither.
struct Operation {
    field: &'static str,
    policy: &'static str,
    document: &'static str,
    /// Policies every caller holds for this row (to reach a nested field at all).
    also: &'static [&'static str],
}

const OPERATIONS: &[Operation] = &[
    // Query
    op("me", "auth:me:get", "{ me { id } }"),
    op("accounts", "users:get", "{ accounts { id } }"),
    op("policies", "policies:get", "{ policies }"),
    op("vmPolicies", "policies:get", "{ vmPolicies }"),
    op("policyCatalogue", "policies:get", "{ policyCatalogue { name } }"),
    op("rolePresets", "policies:get", "{ rolePresets { name } }"),
    op("images", "images:get", "{ images { id } }"),
    op("keyboardLayouts", "images:get", "{ keyboardLayouts }"),
    op("image", "images:get", "{ image(id: \"test-guest\") { id } }"),
    op("imageCatalogue", "images:get", "{ imageCatalogue { key } }"),
    op("importImage", "images:import", "mutation { importImage(input: { url: \"http://127.0.0.1:9/x.qcow2\", name: \"x\" }) { id } }"),
    op("retryImageImport", "images:import", "mutation { retryImageImport(id: \"nope\") { id } }"),
    op("updateImage", "images:import", "mutation { updateImage(id: \"nope\", input: { name: \"n\" }) { id } }"),
    op("retireImage", "images:delete", "mutation { retireImage(id: \"nope\") { id } }"),
    op("reinstateImage", "images:delete", "mutation { reinstateImage(id: \"nope\") { id } }"),
    op("deleteImage", "images:delete", "mutation { deleteImage(id: \"nope\") }"),
    op("vms", "vms:get", "{ vms { edges { node { id } } } }"),
    op("vm", "vms:getById", "query($vm: ID!) { vm(id: $vm) { id } }"),
    Operation {
        field: "Vm.credentials",
        policy: "vms:credentials:list",
        document: "query($vm: ID!) { vm(id: $vm) { credentials { id } } }",
        also: &["vms:getById"],
    },
    op("Vm.events", "vms:getById", "query($vm: ID!) { vm(id: $vm) { events { event } } }"),
    op("Vm.liveUsage", "vms:getById", "query($vm: ID!) { vm(id: $vm) { liveUsage { cpuPercent } } }"),
    op("host", "host:get", "{ host { hypervisor { available } } }"),
    op("vmScreenshot", "vms:screenshot", "query($vm: ID!) { vmScreenshot(id: $vm) }"),
    op("recoverableVms", "vms:recover", "{ recoverableVms { domainName } }"),
    op("consoleRecording", "audit:get", "query($vm: ID!) { consoleRecording(session: $vm) { lostBytes } }"),
    op("auditLog", "audit:get", "{ auditLog(first: 1) { edges { cursor } } }"),
    op("usageReport", "usage:get", "{ usageReport(from: \"2026-01-01T00:00:00Z\", to: \"2026-01-02T00:00:00Z\") { rows { key } } }"),
    op("vmUsage", "usage:get", "query($vm: ID!) { vmUsage(vmId: $vm, from: \"2026-01-01T00:00:00Z\", to: \"2026-01-02T00:00:00Z\") { stepSeconds } }"),
    op("hostUsage", "usage:get", "{ hostUsage(from: \"2026-01-01T00:00:00Z\", to: \"2026-01-02T00:00:00Z\") { stepSeconds } }"),
    // Mutation
    op("login", "-", "mutation { login(username: \"nobody\", password: \"wrong password\") { token } }"),
    op("logout", "-", "mutation { logout }"),
    op("changePassword", "auth:changePassword", "mutation { changePassword(current: \"wrong password\", new: \"a new password\") }"),
    op("createAccount", "users:create", "mutation($name: String!) { createAccount(input: { username: $name }) { password } }"),
    op("setAccountPolicies", "users:updatePolicies", "mutation($account: ID!) { setAccountPolicies(id: $account, policies: [\"vms:get\"]) { id } }"),
    op("grantPolicy", "users:updatePolicies", "mutation($account: ID!, $vm: ID!) { grantPolicy(accountId: $account, policy: \"vms:start\", vmId: $vm) }"),
    op("grantPolicies", "users:updatePolicies", "mutation($account: ID!, $vm: ID!) { grantPolicies(accountId: $account, policies: [\"vms:start\", \"vms:stop\"], vmId: $vm) { id } }"),
    op("revokePolicy", "users:updatePolicies", "mutation($account: ID!, $vm: ID!) { revokePolicy(accountId: $account, policy: \"vms:start\", vmId: $vm) }"),
    op("disableAccount", "users:delete", "mutation($account: ID!) { disableAccount(id: $account) }"),
    op("enableAccount", "users:delete", "mutation($account: ID!) { enableAccount(id: $account) { id } }"),
    op("deleteAccount", "users:delete", "mutation($account: ID!) { deleteAccount(id: $account) }"),
    op("createVm", "vms:create", "mutation { createVm(input: { name: \"m\", image: \"test-guest\", vcpus: 1, memoryMib: 256, diskGib: 1 }) { id } }"),
    op("startVm", "vms:start", "mutation($vm: ID!) { startVm(id: $vm) { id } }"),
    op("forceStopVm", "vms:stop", "mutation($vm: ID!) { forceStopVm(id: $vm) { id } }"),
    op("shutdownVm", "vms:stop", "mutation($vm: ID!) { shutdownVm(id: $vm) { id } }"),
    op("rebootVm", "vms:reboot", "mutation($vm: ID!) { rebootVm(id: $vm) { id } }"),
    op("pauseVm", "vms:pause", "mutation($vm: ID!) { pauseVm(id: $vm) { id } }"),
    op("resumeVm", "vms:pause", "mutation($vm: ID!) { resumeVm(id: $vm) { id } }"),
    op("renameVm", "vms:rename", "mutation($vm: ID!) { renameVm(id: $vm, name: \"renamed\") { id } }"),
    op("setVmLabels", "vms:rename", "mutation($vm: ID!) { setVmLabels(id: $vm, note: \"n\", tags: [\"t\"]) { id } }"),
    op("resizeVm", "vms:resize", "mutation($vm: ID!) { resizeVm(id: $vm, vcpus: 2, memoryMib: 256, diskGib: 1) { id } }"),
    Operation {
        field: "cloneVm",
        policy: "vms:duplicate",
        document: "mutation($vm: ID!) { cloneVm(id: $vm, name: \"copy\") { id } }",
        also: &["vms:create"],
    },
    op("adoptVm", "vms:recover", "mutation { adoptVm(domainName: \"distribox-00000000-0000-0000-0000-000000000000\") { id } }"),
    op("discardRecoverableVm", "vms:recover", "mutation { discardRecoverableVm(domainName: \"distribox-00000000-0000-0000-0000-000000000000\") }"),
    op("takeSnapshot", "vms:snapshots:create", "mutation($vm: ID!) { takeSnapshot(vmId: $vm, name: \"s\") { id } }"),
    op("revertSnapshot", "vms:snapshots:revert", "mutation($vm: ID!) { revertSnapshot(vmId: $vm, snapshotId: \"00000000-0000-0000-0000-000000000000\") }"),
    op("deleteSnapshot", "vms:snapshots:delete", "mutation($vm: ID!) { deleteSnapshot(vmId: $vm, snapshotId: \"00000000-0000-0000-0000-000000000000\") }"),
    op("deleteVm", "vms:delete", "mutation($vm: ID!) { deleteVm(id: $vm) }"),
    op("openConsole", "vms:connect", "mutation($vm: ID!) { openConsole(vmId: $vm, kind: SERIAL) { url } }"),
    Operation {
        field: "issueVmCredential",
        policy: "vms:credentials:create",
        document: "mutation($vm: ID!) { issueVmCredential(vmId: $vm, name: \"c\") { secret } }",
        also: &["vms:connect"],
    },
    op("revokeVmCredential", "vms:credentials:revoke", "mutation($vm: ID!) { revokeVmCredential(vmId: $vm, credentialId: \"00000000-0000-0000-0000-000000000000\") }"),
    op("openConsoleWithCredential", "-", "mutation { openConsoleWithCredential(secret: \"not a secret\", kind: SERIAL) { url } }"),
];

const fn op(field: &'static str, policy: &'static str, document: &'static str) -> Operation {
    Operation {
        field,
        policy,
        document,
        also: &[],
    }
}

/// The outcome of one call: `OK`, `null` (answered, but with nothing to show) or the error
/// code.
fn outcome(response: &Value) -> String {
    let all_null = response["data"]
        .as_object()
        .is_some_and(|data| data.values().all(Value::is_null));
    match response["errors"][0]["extensions"]["code"].as_str() {
        Some(code) => code.to_owned(),
        None if response.get("errors").is_some() => format!("ERROR {}", response["errors"]),
        None if all_null => "null".to_owned(),
        None => "OK".to_owned(),
    }
}

async fn grant_on(app: &TestApp, admin: &str, account: &str, policy: &str, vm: &str) {
    app.data(
        admin,
        "mutation($a: ID!, $p: String!, $vm: ID!) { grantPolicy(accountId: $a, policy: $p, vmId: $vm) }",
        json!({ "a": account, "p": policy, "vm": vm }),
    )
    .await;
}

async fn stopped_vm(app: &TestApp, admin: &str) -> String {
    let id = app.create_vm(admin, "target", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(
        admin,
        &id,
        Some("STOPPED"),
        std::time::Duration::from_secs(20),
    )
    .await;
    id
}

#[tokio::test]
async fn who_may_call_what() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;

    // Every field of the schema is in the table, and nothing else.
    let schema = app
        .data(
            &admin,
            "{ __schema { queryType { fields { name } } mutationType { fields { name } }
                subscriptionType { fields { name } } } }",
            json!({}),
        )
        .await;
    let mut fields: BTreeSet<String> = BTreeSet::new();
    for root in ["queryType", "mutationType", "subscriptionType"] {
        for field in schema["__schema"][root]["fields"].as_array().unwrap() {
            fields.insert(field["name"].as_str().unwrap().to_owned());
        }
    }
    let mut tabled: BTreeSet<String> = OPERATIONS
        .iter()
        .filter(|op| !op.field.contains('.'))
        .map(|op| op.field.to_owned())
        .collect();
    tabled.insert("vmEvents".to_owned()); // checked over the websocket in graphql_api
    tabled.insert("auditTail".to_owned()); // checked over the websocket in audit_log
    tabled.insert("imageProgress".to_owned()); // a websocket subscription, guarded by images:get
    assert_eq!(fields, tabled, "every field needs a row in OPERATIONS");

    let elsewhere_vm = stopped_vm(&app, &admin).await;
    let mut table =
        String::from("# field | policy | anonymous | without | other VM only | holder\n");
    for (i, op) in OPERATIONS.iter().enumerate() {
        let vm = stopped_vm(&app, &admin).await;
        let target = app
            .create_account(&admin, &format!("target{i}"), &["vms:get"])
            .await;
        let variables = json!({ "vm": vm, "account": target, "name": format!("created{i}") });
        let mut row = vec![op.field.to_owned(), op.policy.to_owned()];
        row.push(outcome(
            &app.gql(None, op.document, variables.clone()).await,
        ));
        let name = format!("without{i}");
        app.create_account(&admin, &name, op.also).await;
        let without = app.login_account(&name).await;
        row.push(outcome(
            &app.gql(Some(&without), op.document, variables.clone())
                .await,
        ));
        let scoped = op
            .policy
            .parse::<distribox_domain::policy::Policy>()
            .ok()
            .filter(|p| p.is_vm_scoped());
        match scoped {
            Some(_) => {
                let name = format!("elsewhere{i}");
                let account = app.create_account(&admin, &name, op.also).await;
                grant_on(&app, &admin, &account, op.policy, &elsewhere_vm).await;
                let token = app.login_account(&name).await;
                row.push(outcome(
                    &app.gql(Some(&token), op.document, variables.clone()).await,
                ));
            }
            None => row.push("n/a".to_owned()),
        }
        // An account holding the policy (for fields needing none: any account).
        let name = format!("holder{i}");
        let mut policies = op.also.to_vec();
        if op.policy != "-" {
            policies.push(op.policy);
        }
        app.create_account(&admin, &name, &policies).await;
        let holder = app.login_account(&name).await;
        row.push(outcome(
            &app.gql(Some(&holder), op.document, variables).await,
        ));
        writeln!(table, "{}", row.join(" | ")).unwrap();
    }

    // Every refusal is in the log, with who was refused what, and why; the NOT_FOUNDs that
    // hide a VM say nothing more to the caller than a real NOT_FOUND.
    // (`login` and `openConsoleWithCredential` record their own refusals.)
    let refusals = table
        .lines()
        .skip(1)
        .filter(|line| {
            !line.starts_with("login ") && !line.starts_with("openConsoleWithCredential ")
        })
        .flat_map(|line| line.split(" | ").skip(2))
        .filter(|cell| ["FORBIDDEN", "UNAUTHENTICATED"].contains(cell))
        .count() as i64;
    let hidden = table
        .lines()
        .filter(|line| line.split(" | ").nth(4) == Some("NOT_FOUND"))
        .count() as i64;
    let denied: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT payload->'AccessDenied'->>'code', payload->'AccessDenied'->>'policy',
                payload->'AccessDenied'->>'operation'
           FROM events WHERE event_type = 'AccessDenied'",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let count = |code: &str| denied.iter().filter(|(c, ..)| c == code).count() as i64;
    assert_eq!(count("FORBIDDEN") + count("UNAUTHENTICATED"), refusals);
    assert!(count("NOT_FOUND") >= hidden, "{denied:?}");
    assert!(denied.contains(&(
        "FORBIDDEN".to_owned(),
        Some("vms:start".to_owned()),
        "startVm".to_owned()
    )));
    let actor: String = sqlx::query_scalar(
        "SELECT metadata->>'actor' FROM events
          WHERE event_type = 'AccessDenied' AND payload->'AccessDenied'->>'operation' = 'accounts'
            AND payload->'AccessDenied'->>'code' = 'FORBIDDEN'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(actor.starts_with("account:"), "{actor}");
    // An account holding `vms:start` on another VM only.
    let start_row = OPERATIONS
        .iter()
        .position(|op| op.field == "startVm")
        .unwrap();
    let hidden_answer = app
        .gql(
            Some(&app.login_account(&format!("elsewhere{start_row}")).await),
            "mutation($vm: ID!) { startVm(id: $vm) { id } }",
            json!({ "vm": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    assert!(hidden_answer["errors"][0]["extensions"]
        .get("policy")
        .is_none());

    let expected_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/authorization_matrix.expected"
    );
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(expected_path, &table).unwrap();
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_default();
    assert_eq!(
        table, expected,
        "the authorization matrix changed; if on purpose, rerun with UPDATE_EXPECT=1 and review the diff"
    );
}
