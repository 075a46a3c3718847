//! The audit log: every event and refusal as an entry, filtered and paged by `auditLog`,
//! followed live by `auditTail`, exported as CSV and JSON lines, and chained by hash so that
//! `distribox audit verify` finds an altered or removed event.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{spawn_app, Libvirt, Subscription, TestApp};

const PAGE: &str = "query($first: Int, $after: String, $vmId: ID, $actor: String, $action: String,
                          $outcome: String, $from: DateTime, $to: DateTime) {
  auditLog(first: $first, after: $after, vmId: $vmId, actor: $actor, action: $action,
           outcome: $outcome, from: $from, to: $to) {
    edges { cursor node { position chainIndex at actor actorName clientAddress action vmId
                          accountId outcome details sessionId } }
    pageInfo { hasNextPage endCursor }
  }
}";

fn nodes(data: &Value) -> Vec<Value> {
    data["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// The audit projection runs beside the others: waits until an entry for `action` exists.
async fn wait_for_action(app: &TestApp, token: &str, action: &str) {
    for _ in 0..100 {
        let data = app
            .data(token, PAGE, json!({ "action": action, "first": 1 }))
            .await;
        if !nodes(&data).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {action} entry in the audit log");
}

/// How many `AccessDenied` events name `operation`.
async fn denials(app: &TestApp, operation: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE event_type = 'AccessDenied' AND payload->'AccessDenied'->>'operation' = $1",
    )
    .bind(operation)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn entries_are_filtered_paged_and_keep_no_secrets() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let vm = app.create_vm(&admin, "audited", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.data(
        &admin,
        "mutation($vm: ID!) { issueVmCredential(vmId: $vm, name: \"lab\") { secret } }",
        json!({ "vm": vm }),
    )
    .await;
    let viewer = app.account(&admin, "viewer", &["auth:me:get"]).await.1;
    // Refusals: a request without the policy, and a wrong password.
    let refused = app
        .gql(Some(&viewer), "{ accounts { id } }", json!({}))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    app.login_as("viewer", "not the password").await;
    wait_for_action(&app, &admin, "LoginFailed").await;

    // Newest first, in pages whose cursors never repeat an entry.
    let first = app.data(&admin, PAGE, json!({ "first": 3 })).await;
    let page_one = nodes(&first);
    assert_eq!(page_one.len(), 3);
    assert_eq!(first["auditLog"]["pageInfo"]["hasNextPage"], true);
    let after = first["auditLog"]["pageInfo"]["endCursor"].clone();
    let second = app
        .data(&admin, PAGE, json!({ "first": 3, "after": after }))
        .await;
    let indexes: Vec<i64> = page_one
        .iter()
        .chain(nodes(&second).iter())
        .map(|n| n["chainIndex"].as_i64().unwrap())
        .collect();
    assert!(indexes.windows(2).all(|w| w[0] > w[1]), "{indexes:?}");

    // By VM: its creation and credential, the secret's hash kept out.
    let of_vm = nodes(
        &app.data(&admin, PAGE, json!({ "vmId": vm, "first": 50 }))
            .await,
    );
    assert!(of_vm.iter().all(|n| n["vmId"] == json!(vm)));
    let actions: Vec<&str> = of_vm
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"VmCreated") && actions.contains(&"VmCredentialIssued"),
        "{actions:?}"
    );
    let issued = of_vm
        .iter()
        .find(|n| n["action"] == "VmCredentialIssued")
        .unwrap();
    assert_eq!(issued["details"]["name"], "lab");
    assert!(!issued["details"].to_string().contains("hash"), "{issued}");
    assert_eq!(issued["actorName"], "admin");
    assert!(issued["clientAddress"].as_str().is_some());

    // Refusals, by outcome.
    let refusals = nodes(
        &app.data(&admin, PAGE, json!({ "outcome": "refused", "first": 50 }))
            .await,
    );
    let refused_actions: Vec<&str> = refusals
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert!(
        refused_actions.contains(&"AccessDenied"),
        "{refused_actions:?}"
    );
    assert!(
        refused_actions.contains(&"LoginFailed"),
        "{refused_actions:?}"
    );
    assert!(refusals.iter().all(|n| n["outcome"] == "refused"));
    let denied = refusals
        .iter()
        .find(|n| n["action"] == "AccessDenied")
        .unwrap();
    assert_eq!(denied["details"]["policy"], "users:get");

    // By actor, given as a username: only what admin did.
    let by_admin = nodes(
        &app.data(&admin, PAGE, json!({ "actor": "admin", "first": 50 }))
            .await,
    );
    assert!(!by_admin.is_empty());
    assert!(
        by_admin.iter().all(|n| n["actorName"] == "admin"),
        "{by_admin:?}"
    );
    let nobody = nodes(
        &app.data(&admin, PAGE, json!({ "actor": "nobody-at-all" }))
            .await,
    );
    assert!(nobody.is_empty());

    // By time: nothing before the first entry.
    let oldest = app.data(&admin, PAGE, json!({ "first": 500 })).await;
    let at = nodes(&oldest).last().unwrap()["at"].clone();
    assert!(nodes(&app.data(&admin, PAGE, json!({ "to": at })).await).is_empty());
    assert!(!nodes(&app.data(&admin, PAGE, json!({ "from": at })).await).is_empty());

    // Refused arguments name the argument.
    for (variables, field) in [
        (json!({ "first": 0 }), "first"),
        (json!({ "first": 501 }), "first"),
        (json!({ "after": "not a cursor" }), "after"),
        (json!({ "outcome": "maybe" }), "outcome"),
        (
            json!({ "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z" }),
            "to",
        ),
        (json!({ "vmId": "not-a-uuid" }), "vmId"),
    ] {
        let response = app.gql(Some(&admin), PAGE, variables.clone()).await;
        let error = &response["errors"][0]["extensions"];
        assert_eq!(error["code"], "BAD_INPUT", "{variables}: {response}");
        assert_eq!(error["field"], field, "{variables}: {response}");
    }
    // And without audit:get, none of it.
    let response = app.gql(Some(&viewer), PAGE, json!({})).await;
    assert_eq!(response["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(response["errors"][0]["extensions"]["policy"], "audit:get");
}

#[tokio::test]
async fn the_tail_follows_new_entries_that_match() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let mut tail = Subscription::start(
        &app,
        &admin,
        "subscription { auditTail(action: \"VmCreated\") { action vmId actorName } }",
    )
    .await;
    // Something else first: the tail skips it.
    app.account(&admin, "someone", &[]).await;
    let vm = app.create_vm(&admin, "tailed", false).await["id"].clone();
    let entry = tail.next(Duration::from_secs(10)).await;
    assert_eq!(entry["auditTail"]["action"], "VmCreated");
    assert_eq!(entry["auditTail"]["vmId"], vm);
    assert_eq!(entry["auditTail"]["actorName"], "admin");

    // Not for accounts without audit:get.
    let viewer = app.account(&admin, "viewer", &["auth:me:get"]).await.1;
    let mut refused =
        Subscription::start(&app, &viewer, "subscription { auditTail { action } }").await;
    let errors = refused.refusal(Duration::from_secs(10)).await;
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{errors}");
    // And the refusal is in the log, like any refused request.
    assert_eq!(denials(&app, "auditTail").await, 1);

    // Nor with filters that make no sense, named like auditLog names them.
    let mut bad = Subscription::start(
        &app,
        &admin,
        "subscription { auditTail(outcome: \"maybe\") { action } }",
    )
    .await;
    let errors = bad.refusal(Duration::from_secs(10)).await;
    assert_eq!(errors[0]["extensions"]["code"], "BAD_INPUT", "{errors}");
    assert_eq!(errors[0]["extensions"]["field"], "outcome", "{errors}");
}

#[tokio::test]
async fn exports_stream_csv_and_json_lines_to_auditors_only() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let vm = app.create_vm(&admin, "exported, \"quoted\"", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_action(&app, &admin, "VmCreated").await;

    let get = |query: String, token: Option<String>| {
        let mut request = app.http.get(app.url(&format!("/audit/export?{query}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let csv = get(format!("format=csv&vmId={vm}"), Some(admin.clone()))
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    // Read back by a CSV reader: the name's comma and quotes survive the quoting.
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "chain_index");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let created = records
        .iter()
        .find(|r| &r[column("action")] == "VmCreated")
        .expect(&text);
    assert_eq!(&created[column("vm_id")], vm.as_str());
    let details: Value = serde_json::from_str(&created[column("details")]).unwrap();
    assert_eq!(details["spec"]["name"], "exported, \"quoted\"", "{details}");

    let jsonl = get(
        "format=jsonl&action=VmCreated".to_owned(),
        Some(admin.clone()),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let entries: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["action"] == "VmCreated"));
    // Oldest first.
    let indexes: Vec<i64> = entries
        .iter()
        .map(|e| e["chain_index"].as_i64().unwrap())
        .collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]));

    assert_eq!(
        get("format=csv".to_owned(), None).await.unwrap().status(),
        401
    );
    let viewer = app.account(&admin, "viewer", &["auth:me:get"]).await.1;
    assert_eq!(
        get("format=csv".to_owned(), Some(viewer))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get("format=xml".to_owned(), Some(admin.clone()))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        get("format=csv&outcome=maybe".to_owned(), Some(admin.clone()))
            .await
            .unwrap()
            .status(),
        400
    );
    let reversed = get(
        "format=csv&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z".to_owned(),
        Some(admin),
    )
    .await
    .unwrap();
    assert_eq!(reversed.status(), 400);
    let said = reversed.text().await.unwrap();
    assert!(said.starts_with("BAD_INPUT: "), "{said}");
    // Refused exports are in the log, the anonymous one and the viewer's.
    assert_eq!(denials(&app, "auditExport").await, 2);
}

/// Runs `distribox audit verify` against the test database.
fn verify(app: &TestApp) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_distribox"))
        .args(["audit", "verify"])
        .env("DISTRIBOX_DATABASE_URL", &app.db.url)
        .env("DISTRIBOX_CONFIG", "/dev/null")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn verify_names_the_first_altered_or_removed_event() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let vm = app.create_vm(&admin, "chained", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.data(
        &admin,
        "mutation($id: ID!) { renameVm(id: $id, name: \"renamed\") { id } }",
        json!({ "id": vm }),
    )
    .await;
    wait_for_action(&app, &admin, "VmRenamed").await;
    let (ok, text) = verify(&app);
    assert!(ok, "{text}");
    assert!(text.contains("intact"), "{text}");

    // Someone edits the VM's creation in the event store.
    let position: i64 = sqlx::query_scalar(
        "SELECT global_position FROM events WHERE aggregate_id = $1 AND event_type = 'VmCreated'",
    )
    .bind(&vm)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE events SET payload = replace(payload::text, 'chained', 'innocent')::json
          WHERE global_position = $1",
    )
    .bind(position)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let (ok, text) = verify(&app);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("position {position}")) && text.contains("altered"),
        "{text}"
    );

    // Put back, it is intact again; remove the event, and the gap is named.
    sqlx::query(
        "UPDATE events SET payload = replace(payload::text, 'innocent', 'chained')::json
          WHERE global_position = $1",
    )
    .bind(position)
    .execute(&app.db.pool)
    .await
    .unwrap();
    assert!(verify(&app).0);
    sqlx::query("DELETE FROM events WHERE global_position = $1")
        .bind(position)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (ok, text) = verify(&app);
    assert!(!ok, "{text}");
    assert!(text.contains("removed or inserted"), "{text}");
}
