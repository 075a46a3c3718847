//! The GraphQL API on HTTP: authentication, GraphQL-over-HTTP behaviour and every kind of bad
//! input. VMs live on libvirt's in-process test driver here; the real-guest path is covered by
//! `serial_console_e2e`.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{spawn_app, Libvirt, TestApp};

const CREATE: &str =
    "mutation($input: CreateVmInput!) { createVm(input: $input) { id name state } }";

fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {response}"))
}

fn message(response: &Value) -> &str {
    response["errors"][0]["message"].as_str().unwrap()
}

fn input(name: &str) -> Value {
    json!({ "input": { "name": name, "image": "test-guest", "vcpus": 1, "memoryMib": 256, "diskGib": 1 } })
}

/// VM events recorded for callers. The hypervisor's own reports (recorded by `system`, say
/// that a new VM's disk was provisioned) arrive in their own time, so they are not counted.
async fn vm_event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE aggregate_type = 'Vm' AND metadata->>'actor' IS DISTINCT FROM 'system'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn unauthenticated_callers_get_unauthenticated() {
    let app = spawn_app(Libvirt::TestDriver).await;
    for query in [
        "{ me { id } }",
        "{ vms { edges { cursor } } }",
        "{ images { id } }",
    ] {
        let response = app.gql(None, query, json!({})).await;
        assert_eq!(code(&response), "UNAUTHENTICATED", "{query}: {response}");
    }
    let response = app.gql(None, CREATE, input("x")).await;
    assert_eq!(code(&response), "UNAUTHENTICATED");
    let forged = app
        .gql(Some(&"ab".repeat(32)), "{ me { id } }", json!({}))
        .await;
    assert_eq!(code(&forged), "UNAUTHENTICATED");
    let wrong = app
        .gql(
            None,
            "mutation { login(username: \"admin\", password: \"nope\") { token } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    assert_eq!(message(&wrong), "invalid username or password");
    let unknown = app
        .gql(
            None,
            "mutation { login(username: \"nobody\", password: \"nope\") { token } }",
            json!({}),
        )
        .await;
    assert_eq!(
        message(&unknown),
        message(&wrong),
        "unknown users look like wrong passwords"
    );
    assert_eq!(vm_event_count(&app).await, 0);
}

#[tokio::test]
async fn login_returns_a_token_that_identifies_the_account() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let me = app
        .data(&token, "{ me { username policies } }", json!({}))
        .await;
    assert_eq!(
        me["me"],
        json!({ "username": "admin", "policies": ["distribox:admin"] })
    );
    let events = app.events_of(&me_id(&app, &token).await).await;
    assert_eq!(
        events.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
        ["AccountCreated", "LoggedIn"]
    );
    assert_eq!(events[0].1, "system");
}

#[tokio::test]
async fn images_carry_their_metadata() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let images = app
        .data(
            &token,
            "{ images { id name osFamily osVersion defaultUser firmware minDiskGib } }",
            json!({}),
        )
        .await;
    assert_eq!(
        images["images"],
        json!([{ "id": "test-guest", "name": "Distribox test guest", "osFamily": "linux",
                 "osVersion": "busybox", "defaultUser": "root", "firmware": "bios",
                 "minDiskGib": 1 }])
    );
}

async fn me_id(app: &TestApp, token: &str) -> String {
    app.data(token, "{ me { id } }", json!({})).await["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn graphql_over_http_status_codes_and_content_types() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let post = |body: &'static str, accept: &'static str| {
        app.http
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(body)
    };

    // Malformed JSON never reaches GraphQL.
    let response = post("{\"query\": ", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "BAD_INPUT");

    // A syntax error: 400 for graphql-response+json, 200 for legacy JSON clients.
    let response = post(
        "{\"query\": \"{ me { \"}",
        "application/graphql-response+json",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json"
    );
    let response = post("{\"query\": \"{ me { \"}", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.json::<Value>().await.unwrap()["errors"][0]["message"].is_string());

    // Wrong argument types fail validation.
    let body = r#"{"query": "mutation { createVm(input: {name: \"a\", image: \"test-guest\", vcpus: \"two\"}) { id } }"}"#;
    let response = post(body, "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Unsupported media type requested.
    let response = post("{\"query\": \"{ __typename }\"}", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 406);

    // No mutations over GET.
    let response = app
        .http
        .get(app.url("/graphql"))
        .query(&[(
            "query",
            "mutation { login(username: \"admin\", password: \"x\") { token } }",
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    // Queries over GET are fine.
    let response = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Oversized bodies are refused before parsing.
    let huge = format!(
        "{{\"query\": \"{{ __typename }}\", \"variables\": {{\"x\": \"{}\"}}}}",
        "a".repeat(400_000)
    );
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn costly_queries_and_batches_are_refused() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    // Deeper than the depth limit (16), through introspection's recursive types.
    let mut deep = String::from("name");
    for _ in 0..16 {
        deep = format!("ofType {{ {deep} }}");
    }
    let response = app
        .gql(
            Some(&token),
            &format!("{{ __schema {{ types {{ fields {{ type {{ {deep} }} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert!(
        message(&response).contains("too deep") || message(&response).contains("depth"),
        "{response}"
    );
    // Many aliases of a listing exceed the complexity limit.
    let aliases: String = (0..300)
        .map(|i| format!("a{i}: vms {{ edges {{ node {{ id name }} }} }} "))
        .collect();
    let response = app
        .gql(Some(&token), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert!(message(&response).contains("complex"), "{response}");
    // One operation per request: a batch is not accepted.
    let response = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"[{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// GraphiQL and codegen tools introspect with a query that nests 13–15 levels through `ofType`:
/// the depth limit must leave room for it.
#[tokio::test]
async fn api_tools_can_introspect_the_schema() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let mut type_ref = String::from("kind name");
    for _ in 0..10 {
        type_ref = format!("kind name ofType {{ {type_ref} }}");
    }
    let response = app
        .gql(
            Some(&token),
            &format!(
                "{{ __schema {{ types {{ name fields {{ args {{ type {{ {type_ref} }} }} }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert!(response["errors"].is_null(), "{response}");
    let types = response["data"]["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Vm"), "{response}");
}

#[tokio::test]
async fn introspection_is_for_logged_in_accounts_only() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let query = "{ __schema { queryType { name } } }";
    let anonymous = app.gql(None, query, json!({})).await;
    assert_eq!(anonymous["data"]["__schema"], Value::Null, "{anonymous}");
    let token = app.login().await;
    let known = app.data(&token, query, json!({})).await;
    assert_eq!(known["__schema"]["queryType"]["name"], "QueryRoot");
}

#[tokio::test]
async fn bad_vm_input_is_refused_with_bad_input_and_records_nothing() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let cases = [
        (
            json!({ "name": "n".repeat(65) }),
            "VM name must be at most 64 characters",
        ),
        (json!({ "name": "   " }), "VM name must not be empty"),
        (
            json!({ "name": "line\nbreak" }),
            "VM name must not contain control characters",
        ),
        (json!({ "vcpus": -1 }), "vcpus must not be negative"),
        (
            json!({ "vcpus": 0 }),
            "vcpus must be between 1 and 64, got 0",
        ),
        (
            json!({ "vcpus": 0 }),
            "vcpus must be between 1 and 64, got 0",
        ),
        (
            json!({ "memoryMib": 16 }),
            "memoryMib must be between 64 and 262144, got 16",
        ),
        (
            json!({ "diskGib": 0 }),
            "diskGib must be between 1 and 4096, got 0",
        ),
        (
            json!({ "diskGib": 5000 }),
            "diskGib must be between 1 and 4096, got 5000",
        ),
        (
            json!({ "image": "no-such-image" }),
            "image `no-such-image` is unknown",
        ),
        (
            json!({ "image": "../../etc/passwd" }),
            "image `../../etc/passwd` is unknown",
        ),
        // The cloud-init seed.
        (
            json!({ "user": "alice", "password": "short" }),
            "password must be 8 to 256 characters",
        ),
        (
            json!({ "user": "alice" }),
            "a login user needs a password or at least one SSH public key",
        ),
        (
            json!({ "password": "long enough" }),
            "a password or SSH keys need a user name",
        ),
        (
            json!({ "user": "root", "password": "long enough" }),
            "user must not be root",
        ),
        (
            json!({ "user": "x;reboot", "password": "long enough" }),
            "user must be up to 32 of a-z, 0-9, '_' or '-', starting with a letter or '_'",
        ),
        (
            json!({ "hostname": "bad_host;rm" }),
            "hostname must be letters, digits and '-' in dot-separated labels of up to 63",
        ),
        (
            json!({ "user": "alice", "sshKeys": ["ssh-ed25519 AAAA\nssh-rsa BBBB"] }),
            "ssh keys must be OpenSSH public key lines (`ssh-ed25519 AAAA… comment`)",
        ),
    ];
    for (overrides, expected) in cases {
        let mut variables = input("ok");
        for (key, value) in overrides.as_object().unwrap() {
            variables["input"][key] = value.clone();
        }
        let response = app.gql(Some(&token), CREATE, variables).await;
        assert_eq!(code(&response), "BAD_INPUT", "{overrides}: {response}");
        assert_eq!(message(&response), expected);
    }
    assert_eq!(vm_event_count(&app).await, 0);
}

#[tokio::test]
async fn names_with_sql_xml_and_shell_metacharacters_are_kept_verbatim() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    for name in [
        "'; DROP TABLE vms; --",
        "<script>alert(1)</script>",
        "]]></title><devices/><!--",
        "$(reboot) `id` && rm -rf /",
        "\"quoted\" &amp; ünïcødé 🚀",
    ] {
        let vm = app.data(&token, CREATE, input(name)).await["createVm"].clone();
        assert_eq!(vm["name"], name);
        let id = vm["id"].as_str().unwrap();
        let fetched = app
            .data(
                &token,
                "query($id: ID!) { vm(id: $id) { name } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(fetched["vm"]["name"], name);
        // The hypervisor projector took the name through domain XML without choking on it.
        app.wait_for_state(&token, id, Some("STOPPED"), Duration::from_secs(20))
            .await;
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM vms")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 5);
}

#[tokio::test]
async fn lifecycle_refusals_are_conflicts_or_not_found_and_record_nothing() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let mutation = |name: &str| format!("mutation($id: ID!) {{ {name}(id: $id) {{ state }} }}");

    let unknown = uuid::Uuid::new_v4().to_string();
    for op in [
        "startVm",
        "forceStopVm",
        "shutdownVm",
        "rebootVm",
        "pauseVm",
        "resumeVm",
    ] {
        let response = app
            .gql(Some(&token), &mutation(op), json!({ "id": unknown }))
            .await;
        assert_eq!(code(&response), "NOT_FOUND", "{op}: {response}");
        let response = app
            .gql(Some(&token), &mutation(op), json!({ "id": "not-a-uuid" }))
            .await;
        assert_eq!(code(&response), "NOT_FOUND", "{op}: {response}");
    }
    let response = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { deleteVm(id: $id) }",
            json!({ "id": unknown }),
        )
        .await;
    assert_eq!(code(&response), "NOT_FOUND");
    let missing = app
        .data(
            &token,
            "query($id: ID!) { vm(id: $id) { id } }",
            json!({ "id": "not-a-uuid" }),
        )
        .await;
    assert_eq!(missing["vm"], Value::Null);

    let mut variables = input("runner");
    variables["input"]["start"] = json!(true);
    let id = app.data(&token, CREATE, variables).await["createVm"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&token, &id, Some("RUNNING"), Duration::from_secs(20))
        .await;
    let before = vm_event_count(&app).await;

    let rename = "mutation($id: ID!, $name: String!) { renameVm(id: $id, name: $name) { name } }";
    let response = app
        .gql(Some(&token), rename, json!({ "id": unknown, "name": "x" }))
        .await;
    assert_eq!(code(&response), "NOT_FOUND");
    for (name, expected) in [
        ("  ", "VM name must not be empty"),
        ("tab\there", "VM name must not contain control characters"),
    ] {
        let response = app
            .gql(Some(&token), rename, json!({ "id": id, "name": name }))
            .await;
        assert_eq!(
            (code(&response), message(&response)),
            ("BAD_INPUT", expected)
        );
    }
    let too_long = app
        .gql(
            Some(&token),
            rename,
            json!({ "id": id, "name": "n".repeat(65) }),
        )
        .await;
    assert_eq!(code(&too_long), "BAD_INPUT");

    let response = app
        .gql(Some(&token), &mutation("startVm"), json!({ "id": id }))
        .await;
    assert_eq!(
        (code(&response), message(&response)),
        ("CONFLICT", "VM is already running")
    );
    let response = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { deleteVm(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        (code(&response), message(&response)),
        (
            "CONFLICT",
            "VM is running; stop it first or delete it with force"
        )
    );
    for (query, variables, expected) in [
        (
            RESIZE,
            json!({ "id": id, "vcpus": 2, "memoryMib": 256, "diskGib": 1 }),
            ("CONFLICT", "VM is not stopped; stop it before resizing it"),
        ),
        (
            RESIZE,
            json!({ "id": unknown, "vcpus": 2, "memoryMib": 256, "diskGib": 1 }),
            ("NOT_FOUND", "VM not found"),
        ),
        (
            RESIZE,
            json!({ "id": id, "vcpus": -1, "memoryMib": 256, "diskGib": 1 }),
            ("BAD_INPUT", "vcpus must not be negative"),
        ),
        (
            CLONE,
            json!({ "id": id, "name": "copy" }),
            ("CONFLICT", "VM is not stopped; stop it before cloning it"),
        ),
        (
            CLONE,
            json!({ "id": unknown, "name": "copy" }),
            ("NOT_FOUND", "VM not found"),
        ),
        (
            TAKE,
            json!({ "id": id, "name": " " }),
            ("BAD_INPUT", "snapshot name must not be empty"),
        ),
        (
            TAKE,
            json!({ "id": unknown, "name": "s" }),
            ("NOT_FOUND", "VM not found"),
        ),
        (
            REVERT,
            json!({ "id": id, "snapshot": unknown }),
            ("NOT_FOUND", "snapshot not found"),
        ),
        (
            REVERT,
            json!({ "id": id, "snapshot": "nope" }),
            ("NOT_FOUND", "snapshot not found"),
        ),
        (
            DELETE_SNAPSHOT,
            json!({ "id": id, "snapshot": unknown }),
            ("NOT_FOUND", "snapshot not found"),
        ),
        (
            SCREENSHOT,
            json!({ "id": id, "width": 8 }),
            ("BAD_INPUT", "maxWidth must be between 16 and 640"),
        ),
        (
            SCREENSHOT,
            json!({ "id": unknown, "width": 64 }),
            ("NOT_FOUND", "VM not found"),
        ),
    ] {
        let response = app.gql(Some(&token), query, variables).await;
        assert_eq!((code(&response), message(&response)), expected, "{query}");
    }
    assert_eq!(
        vm_event_count(&app).await,
        before,
        "refusals must not append events"
    );

    app.data(&token, &mutation("forceStopVm"), json!({ "id": id }))
        .await;
    app.wait_for_state(&token, &id, Some("STOPPED"), Duration::from_secs(20))
        .await;
    let before = vm_event_count(&app).await;
    let response = app
        .gql(Some(&token), &mutation("forceStopVm"), json!({ "id": id }))
        .await;
    assert_eq!(
        (code(&response), message(&response)),
        ("CONFLICT", "VM is not running")
    );
    let response = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { openConsole(vmId: $id, kind: SERIAL) { url } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        (code(&response), message(&response)),
        ("CONFLICT", "VM is not running")
    );
    for (query, variables, expected) in [
        (
            RESIZE,
            json!({ "id": id, "vcpus": 1, "memoryMib": 256, "diskGib": 0 }),
            ("BAD_INPUT", "diskGib must be between 1 and 4096, got 0"),
        ),
        (
            RESIZE,
            json!({ "id": id, "vcpus": 1, "memoryMib": 32, "diskGib": 1 }),
            (
                "BAD_INPUT",
                "memoryMib must be between 64 and 262144, got 32",
            ),
        ),
        (
            SCREENSHOT,
            json!({ "id": id, "width": 64 }),
            ("CONFLICT", "VM is not running"),
        ),
        (
            CLONE,
            json!({ "id": id, "name": "\u{1}" }),
            ("BAD_INPUT", "VM name must not contain control characters"),
        ),
    ] {
        let response = app.gql(Some(&token), query, variables).await;
        assert_eq!((code(&response), message(&response)), expected, "{query}");
    }
    assert_eq!(vm_event_count(&app).await, before);
}

const RESIZE: &str = "mutation($id: ID!, $vcpus: Int!, $memoryMib: Int!, $diskGib: Int!) {
    resizeVm(id: $id, vcpus: $vcpus, memoryMib: $memoryMib, diskGib: $diskGib) { state } }";
const CLONE: &str = "mutation($id: ID!, $name: String!) { cloneVm(id: $id, name: $name) { id } }";
const TAKE: &str =
    "mutation($id: ID!, $name: String!) { takeSnapshot(vmId: $id, name: $name) { id } }";
const REVERT: &str =
    "mutation($id: ID!, $snapshot: ID!) { revertSnapshot(vmId: $id, snapshotId: $snapshot) }";
const DELETE_SNAPSHOT: &str =
    "mutation($id: ID!, $snapshot: ID!) { deleteSnapshot(vmId: $id, snapshotId: $snapshot) }";
const SCREENSHOT: &str =
    "query($id: ID!, $width: Int!) { vmScreenshot(id: $id, maxWidth: $width) }";

#[tokio::test]
async fn vms_are_paginated_in_creation_order() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    for name in ["a", "b", "c"] {
        app.data(&token, CREATE, input(name)).await;
    }
    let page = "query($after: String) { vms(first: 2, after: $after) { edges { node { name } cursor } pageInfo { hasNextPage endCursor } } }";
    let first = app.data(&token, page, json!({ "after": null })).await["vms"].clone();
    let names: Vec<_> = first["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("a"), json!("b")]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let second = app
        .data(
            &token,
            page,
            json!({ "after": first["pageInfo"]["endCursor"] }),
        )
        .await["vms"]
        .clone();
    assert_eq!(second["edges"][0]["node"]["name"], "c");
    assert_eq!(second["pageInfo"]["hasNextPage"], false);
    let bad = app
        .gql(Some(&token), page, json!({ "after": "garbage!" }))
        .await;
    assert_eq!(code(&bad), "BAD_INPUT");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "after");
    let too_many = app
        .gql(
            Some(&token),
            "{ vms(first: 100000) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&too_many), "BAD_INPUT");
    assert_eq!(too_many["errors"][0]["extensions"]["field"], "first");
}

#[tokio::test]
async fn health_and_web_app_are_served() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let page = app
        .http
        .get(app.url("/vms/some/client/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.headers().contains_key("content-security-policy"));
}

#[tokio::test]
async fn subscriptions_need_a_token_and_an_allowed_origin() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    use tokio_tungstenite::tungstenite::Message;

    let app = spawn_app(Libvirt::TestDriver).await;
    let request = |origin: Option<&str>| {
        let mut request = app.ws_url("/graphql/ws").into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        request
    };

    // Cross-site websocket hijacking: refused before the upgrade.
    match tokio_tungstenite::connect_async(request(Some("https://evil.example"))).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!(
            "a foreign origin was upgraded: {:?}",
            other.map(|(_, r)| r.status())
        ),
    }

    // No (or a forged) token: no connection_ack, the server closes.
    for payload in [
        json!({}),
        json!({ "authorization": format!("Bearer {}", "ab".repeat(32)) }),
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(request(Some(&app.url(""))))
            .await
            .unwrap();
        let init = json!({ "type": "connection_init", "payload": payload });
        ws.send(Message::text(init.to_string())).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an answer");
        match answer {
            Some(Ok(Message::Text(text))) => {
                assert!(!text.contains("connection_ack"), "acknowledged: {text}")
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {}
            Some(Ok(other)) => panic!("unexpected message {other:?}"),
        }
    }
}

#[tokio::test]
async fn credential_refusals_are_bad_input_or_not_found_and_record_nothing() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    let id = app.data(&token, CREATE, input("holder")).await["createVm"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = vm_event_count(&app).await;
    let issue = "mutation($vm: ID!, $n: String!, $e: DateTime) {
        issueVmCredential(vmId: $vm, name: $n, expiresAt: $e) { secret } }";
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    for (variables, expected) in [
        (
            json!({ "vm": id, "n": "x", "e": past }),
            ("BAD_INPUT", "expiresAt must be in the future"),
        ),
        (
            json!({ "vm": id, "n": " ", "e": null }),
            ("BAD_INPUT", "credential name must not be empty"),
        ),
        (
            json!({ "vm": uuid::Uuid::new_v4().to_string(), "n": "x", "e": null }),
            ("NOT_FOUND", "VM not found"),
        ),
    ] {
        let response = app.gql(Some(&token), issue, variables.clone()).await;
        assert_eq!(
            (code(&response), message(&response)),
            expected,
            "{variables}"
        );
    }
    let revoke = "mutation($vm: ID!, $c: ID!) { revokeVmCredential(vmId: $vm, credentialId: $c) }";
    let response = app
        .gql(
            Some(&token),
            revoke,
            json!({ "vm": id, "c": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    assert_eq!(
        (code(&response), message(&response)),
        ("NOT_FOUND", "credential not found")
    );
    let response = app
        .gql(
            None,
            "mutation { openConsoleWithCredential(secret: \"\", kind: SERIAL) { url } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&response), "UNAUTHENTICATED");
    assert_eq!(vm_event_count(&app).await, before);
}

#[tokio::test]
async fn console_recordings_page_and_refuse_bad_arguments() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    // A recording as the relay's writer leaves it: three frames.
    let session = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO console_recordings (session_id, vm_id, started_at, finished_at)
         VALUES ($1, $2, now(), now())",
    )
    .bind(session)
    .bind(uuid::Uuid::new_v4())
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO console_recording_frames (session_id, seq, at_ms, data)
         SELECT $1, seq, seq * 10, convert_to('frame ' || seq, 'UTF8') FROM generate_series(0, 2) seq",
    )
    .bind(session)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let frames = "query($s: ID!, $from: Int!, $first: Int!) {
        consoleRecording(session: $s) { frames(from: $from, first: $first) { seq atMs text } } }";
    let page = app
        .data(
            &token,
            frames,
            json!({ "s": session, "from": 1, "first": 1 }),
        )
        .await;
    assert_eq!(
        page["consoleRecording"]["frames"],
        json!([{ "seq": 1, "atMs": 10, "text": "frame 1" }])
    );
    for (from, first, expected, field) in [
        (-1, 10, "from must not be negative", "from"),
        (0, 0, "first must be between 1 and 5000", "first"),
        (0, 5001, "first must be between 1 and 5000", "first"),
    ] {
        let response = app
            .gql(
                Some(&token),
                frames,
                json!({ "s": session, "from": from, "first": first }),
            )
            .await;
        assert_eq!(
            (code(&response), message(&response)),
            ("BAD_INPUT", expected)
        );
        assert_eq!(response["errors"][0]["extensions"]["field"], field);
    }
    // An id that names no recording (or is no id at all) finds nothing.
    for id in [uuid::Uuid::new_v4().to_string(), "not-an-id".to_owned()] {
        let none = app
            .data(
                &token,
                "query($s: ID!) { consoleRecording(session: $s) { lostBytes } }",
                json!({ "s": id }),
            )
            .await;
        assert!(none["consoleRecording"].is_null(), "{none}");
    }
}

/// Grants (or revokes) `policy` on VM `vm` to account `account`.
async fn change_on_vm(
    app: &TestApp,
    admin: &str,
    grant: bool,
    account: &str,
    policy: &str,
    vm: &str,
) {
    let field = if grant { "grantPolicy" } else { "revokePolicy" };
    let query =
        format!("mutation($a: ID!, $p: String!, $vm: ID!) {{ {field}(accountId: $a, policy: $p, vmId: $vm) }}");
    let done = app
        .data(
            admin,
            &query,
            json!({ "a": account, "p": policy, "vm": vm }),
        )
        .await;
    assert_eq!(done[field], true);
}

/// Every VM-level policy, in catalogue order.
fn vm_scoped_policies() -> Vec<&'static str> {
    use distribox_domain::policy::Policy;
    Policy::ALL
        .iter()
        .filter(|p| p.is_vm_scoped())
        .map(|p| p.as_str())
        .collect()
}

const ALLOWED: &str = "query($id: ID!) { vm(id: $id) { allowed ownerName } }";

#[tokio::test]
async fn vms_show_what_the_caller_may_do_and_who_owns_them() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let shared = app.data(&admin, CREATE, input("shared")).await["createVm"]["id"].clone();
    let everything = vm_scoped_policies();
    assert_eq!(
        app.data(&admin, ALLOWED, json!({ "id": shared })).await["vm"],
        json!({ "allowed": everything, "ownerName": "admin" })
    );

    // A grant on one VM allows exactly that there.
    let (bob, bob_token) = app.account(&admin, "bob", &["auth:me:get"]).await;
    change_on_vm(
        &app,
        &admin,
        true,
        &bob,
        "vms:connect",
        shared.as_str().unwrap(),
    )
    .await;
    assert_eq!(
        app.data(&bob_token, ALLOWED, json!({ "id": shared })).await["vm"],
        json!({ "allowed": ["vms:connect"], "ownerName": "admin" })
    );

    // Owners hold every VM-level policy on their VMs, but those taken away; the listing says
    // the same.
    let (carol, carol_token) = app
        .account(&admin, "carol", &["vms:create", "vms:get"])
        .await;
    let own = app.data(&carol_token, CREATE, input("carol's")).await["createVm"]["id"].clone();
    change_on_vm(
        &app,
        &admin,
        false,
        &carol,
        "vms:delete",
        own.as_str().unwrap(),
    )
    .await;
    let mut kept = everything.clone();
    kept.retain(|p| *p != "vms:delete");
    let listed = app
        .data(
            &carol_token,
            "{ vms { edges { node { id name allowed ownerName } } } }",
            json!({}),
        )
        .await;
    let nodes: Vec<Value> = listed["vms"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect();
    assert_eq!(
        nodes,
        [
            json!({ "id": shared, "name": "shared", "allowed": [], "ownerName": "admin" }),
            json!({ "id": own, "name": "carol's", "allowed": kept, "ownerName": "carol" }),
        ]
    );

    // The owner's name goes with the account.
    let deleted = app
        .data(
            &admin,
            "mutation($id: ID!) { deleteAccount(id: $id) }",
            json!({ "id": carol }),
        )
        .await;
    assert_eq!(deleted["deleteAccount"], true);
    assert_eq!(
        app.data(&admin, ALLOWED, json!({ "id": own })).await["vm"]["ownerName"],
        Value::Null
    );
}

const HISTORY: &str = "query($id: ID!, $first: Int!, $before: Int) {
    vm(id: $id) { events(first: $first, before: $before) { position sequence at event actor detail } } }";

#[tokio::test]
async fn vm_history_is_newest_first_with_who_and_what() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let (dora_id, dora) = app.account(&admin, "dora", &["vms:create"]).await;
    let id = app.data(&dora, CREATE, input("diary")).await["createVm"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_state(&dora, &id, Some("STOPPED"), Duration::from_secs(20))
        .await;
    app.data(
        &dora,
        "mutation($id: ID!) { renameVm(id: $id, name: \"journal\") { id } }",
        json!({ "id": id }),
    )
    .await;
    app.data(
        &dora,
        "mutation($id: ID!) { issueVmCredential(vmId: $id, name: \"lab pc\") { secret } }",
        json!({ "id": id }),
    )
    .await;

    let all = app
        .data(&dora, HISTORY, json!({ "id": id, "first": 50 }))
        .await["vm"]["events"]
        .as_array()
        .unwrap()
        .clone();
    let summary: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|e| {
            let text = |field: &str| e[field].as_str().unwrap();
            (text("event"), text("actor"), text("detail"))
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("VmCredentialIssued", "dora", "lab pc"),
            ("VmRenamed", "dora", "to journal"),
            ("VmProvisioned", "system", ""),
            (
                "VmCreated",
                "dora",
                "diary from test-guest: 1 vCPU, 256 MiB, 1 GiB"
            ),
        ]
    );
    let numbers =
        |field: &str| -> Vec<i64> { all.iter().map(|e| e[field].as_i64().unwrap()).collect() };
    assert!(numbers("sequence").windows(2).all(|w| w[0] > w[1]));
    assert!(numbers("position").windows(2).all(|w| w[0] > w[1]));
    assert!(all.iter().all(|e| e["at"].is_string()));

    // Pages: the newest one, then the rest before it.
    let newest = app
        .data(&dora, HISTORY, json!({ "id": id, "first": 1 }))
        .await["vm"]["events"]
        .clone();
    assert_eq!(newest, json!([all[0]]));
    let rest = app
        .data(
            &dora,
            HISTORY,
            json!({ "id": id, "first": 50, "before": all[0]["sequence"] }),
        )
        .await["vm"]["events"]
        .clone();
    assert_eq!(rest, json!(all[1..]));

    for first in [0, 501] {
        let response = app
            .gql(Some(&dora), HISTORY, json!({ "id": id, "first": first }))
            .await;
        assert_eq!(
            (code(&response), message(&response)),
            ("BAD_INPUT", "first must be between 1 and 500")
        );
        assert_eq!(response["errors"][0]["extensions"]["field"], "first");
    }

    // Consoles are recorded by Distribox; they name who opened them.
    let credential = format!("credential:{}", uuid::Uuid::new_v4());
    for (principal, view_only) in [
        (format!("account:{dora_id}"), true),
        (credential.clone(), false),
    ] {
        let opened = distribox_domain::vm::VmEvent::ConsoleOpened {
            session: uuid::Uuid::new_v4(),
            principal,
            kind: distribox_domain::console::ConsoleKind::Serial,
            view_only,
        };
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, metadata)
             SELECT 'Vm', $1, max(sequence) + 1, 'ConsoleOpened', '1', $2::json,
                    '{\"actor\": \"system\"}'
               FROM events WHERE aggregate_type = 'Vm' AND aggregate_id = $1",
        )
        .bind(&id)
        .bind(serde_json::to_value(opened).unwrap().to_string())
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    // An auditor sees every session; the owner, who is none, only her own.
    let consoles = app
        .data(&admin, HISTORY, json!({ "id": id, "first": 2 }))
        .await["vm"]["events"]
        .clone();
    assert_eq!(consoles[0]["actor"], json!(credential));
    assert_eq!(consoles[0]["detail"], "serial console");
    assert_eq!(consoles[1]["actor"], "dora");
    assert_eq!(consoles[1]["detail"], "serial console, view only");
    let own = app
        .data(&dora, HISTORY, json!({ "id": id, "first": 2 }))
        .await["vm"]["events"]
        .clone();
    assert_eq!(own[0]["actor"], "dora");
    assert_eq!(own[0]["detail"], "serial console, view only");
    assert_ne!(own[1]["event"], "ConsoleOpened", "{own}");
}

#[tokio::test]
async fn host_reports_its_resources_and_what_vms_were_given() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    for (name, vcpus, memory, disk) in [("small", 1, 256, 1), ("large", 2, 512, 3)] {
        app.data(
            &admin,
            CREATE,
            json!({ "input": { "name": name, "image": "test-guest", "vcpus": vcpus, "memoryMib": memory, "diskGib": disk } }),
        )
        .await;
    }
    let host = app
        .data(
            &admin,
            "{ host { cpus memoryTotalMib memoryAvailableMib diskTotalGib diskAvailableGib
                      loadAverage allocatedVcpus allocatedMemoryMib allocatedDiskGib } }",
            json!({}),
        )
        .await["host"]
        .clone();
    let number = |field: &str| host[field].as_f64().unwrap();
    assert!(number("cpus") >= 1.0, "{host}");
    assert!(
        number("memoryTotalMib") > 0.0 && number("memoryAvailableMib") > 0.0,
        "{host}"
    );
    assert!(
        number("memoryAvailableMib") <= number("memoryTotalMib"),
        "{host}"
    );
    assert!(
        number("diskTotalGib") > 0.0 && number("diskAvailableGib") > 0.0,
        "{host}"
    );
    assert!(
        number("diskAvailableGib") <= number("diskTotalGib"),
        "{host}"
    );
    let load = host["loadAverage"].as_array().unwrap();
    assert!(
        load.len() == 3 && load.iter().all(|l| l.as_f64().unwrap() >= 0.0),
        "{host}"
    );
    assert_eq!(
        (
            &host["allocatedVcpus"],
            &host["allocatedMemoryMib"],
            &host["allocatedDiskGib"]
        ),
        (&json!(3), &json!(768), &json!(4))
    );
}

/// `username`'s per-VM grants, as `token` sees them in `accounts`.
async fn vm_grants(app: &TestApp, token: &str, username: &str) -> Value {
    let accounts = app
        .data(
            token,
            "{ accounts { username vmGrants { vmId vmName granted denied } } }",
            json!({}),
        )
        .await;
    accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == username)
        .unwrap()["vmGrants"]
        .clone()
}

#[tokio::test]
async fn accounts_list_their_per_vm_grants() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let admin = app.login().await;
    let lab = app.data(&admin, CREATE, input("lab")).await["createVm"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (erin, _) = app.account(&admin, "erin", &["auth:me:get"]).await;
    assert_eq!(vm_grants(&app, &admin, "erin").await, json!([]));
    change_on_vm(&app, &admin, true, &erin, "vms:connect", &lab).await;
    change_on_vm(&app, &admin, true, &erin, "vms:start", &lab).await;
    assert_eq!(
        vm_grants(&app, &admin, "erin").await,
        json!([{ "vmId": lab, "vmName": "lab", "granted": ["vms:start", "vms:connect"], "denied": [] }])
    );
    change_on_vm(&app, &admin, false, &erin, "vms:start", &lab).await;
    assert_eq!(
        vm_grants(&app, &admin, "erin").await,
        json!([{ "vmId": lab, "vmName": "lab", "granted": ["vms:connect"], "denied": ["vms:start"] }])
    );

    // Someone who may list accounts but not see the VM learns its id, not its name.
    let (_, hr) = app.account(&admin, "hr", &["users:get"]).await;
    let erin_for_hr = vm_grants(&app, &hr, "erin").await;
    assert_eq!(erin_for_hr[0]["vmId"], json!(lab));
    assert_eq!(erin_for_hr[0]["vmName"], Value::Null);
}
