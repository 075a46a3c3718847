//! `spawn_app()` for integration tests: a real Distribox on a random port, with its own
//! PostgreSQL database (cloned from a migrated template), its own data folder, and either the
//! real `qemu:///system` (booting the test guest under TCG) or libvirt's in-process
//! `test:///default` driver.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use distribox_api::{App, Config};
use distribox_migrations::test_db::TestDatabase;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Libvirt {
    /// The system daemon: real QEMU guests (TCG).
    System,
    /// libvirt's in-process test driver: domains are simulated.
    TestDriver,
}

pub struct TestApp {
    pub app: App,
    pub addr: std::net::SocketAddr,
    pub db: TestDatabase,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
    pub config: Config,
}

/// The test guest built by `scripts/build-test-guest` (run by `scripts/test`).
pub fn test_images_dir() -> PathBuf {
    std::env::var_os("DISTRIBOX_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/distribox-test-images"))
}

fn link_test_image(images: &Path) {
    let source = test_images_dir();
    assert!(
        source.join("test-guest.json").exists(),
        "no test guest in {} — run scripts/build-test-guest {0}",
        source.display()
    );
    std::fs::create_dir_all(images).unwrap();
    for file in ["test-guest.json", "test-guest.qcow2"] {
        std::os::unix::fs::symlink(source.join(file), images.join(file)).unwrap();
    }
}

/// Records the test guest in the log as an image found in the images folder, as a starting
/// server does: for tests that drive the command bus without one.
pub async fn register_test_image(bus: &distribox_commands::CommandBus) {
    use distribox_commands::RequestContext;
    use distribox_domain::image::{ImageCommand, ImageFacts, ImageSource, MetadataInput};
    let file = test_images_dir().join("test-guest.qcow2");
    let header = std::fs::read(&file).unwrap();
    let virtual_size_bytes = u64::from_be_bytes(header[24..32].try_into().unwrap());
    let system = RequestContext::system();
    let request = ImageCommand::RequestImport {
        metadata: MetadataInput {
            name: "Test guest".to_owned(),
            ..MetadataInput::default()
        },
        source: ImageSource::Folder {
            file: "test-guest.qcow2".to_owned(),
        },
    };
    bus.image_command(&system, "test-guest", request)
        .await
        .unwrap();
    let facts = ImageFacts {
        file: "test-guest.qcow2".to_owned(),
        format: "qcow2".to_owned(),
        virtual_size_bytes,
        size_bytes: header.len() as u64,
        sha256: "0".repeat(64),
        converted_from: None,
    };
    bus.image_command(&system, "test-guest", ImageCommand::ReportImported(facts))
        .await
        .unwrap();
}

pub async fn spawn_app(libvirt: Libvirt) -> TestApp {
    spawn_app_with(libvirt, |_| {}).await
}

/// A fresh data folder holding the test guest image. Under /var/tmp (not a private /tmp) and
/// world-traversable: QEMU runs as libvirt-qemu.
pub fn test_data_dir() -> PathBuf {
    let data_dir = PathBuf::from("/var/tmp/distribox-tests").join(Uuid::new_v4().to_string());
    std::fs::create_dir_all(data_dir.join("vms")).unwrap();
    for dir in [
        data_dir.parent().unwrap(),
        data_dir.as_path(),
        &data_dir.join("vms"),
    ] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    link_test_image(&data_dir.join("images"));
    data_dir
}

pub async fn spawn_app_with(libvirt: Libvirt, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDatabase::new().await;
    let data_dir = test_data_dir();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: db.url.clone(),
        libvirt_uri: match libvirt {
            Libvirt::System => "qemu:///system".to_owned(),
            Libvirt::TestDriver => "test:///default".to_owned(),
        },
        data_dir: data_dir.clone(),
        admin_password: Some(ADMIN_PASSWORD.to_owned()),
        domain_type: Some("qemu".parse().unwrap()),
        allowed_origins: vec!["https://lab.example.org".to_owned()],
        console_ticket_ttl: 30,
        shutdown_grace: 120,
        reconcile_interval: 60,
        trusted_proxies: vec![],
        console_idle: 1800,
        console_lifetime: 8 * 3600,
        console_keepalive: 25,
        session_idle: 3600,
        session_lifetime: 7200,
        usage_interval: 15,
        usage_raw_hours: 48,
        metrics_token: None,
        image_max_gib: 64,
        // Tests run four servers at once on one PostgreSQL (100 connections by default).
        database_pool_size: 8,
        image_max_virtual_gib: 2048,
        disk_reserve_gib: 0,
    };
    tweak(&mut config);
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let app = App::start(config.clone(), listener)
        .await
        .expect("Distribox starts");
    let addr = app.addr;
    TestApp {
        app,
        addr,
        db,
        data_dir,
        http: reqwest::Client::new(),
        config,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// POSTs a GraphQL operation and returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.endpoint().gql(token, query, variables).await
    }

    /// Like `gql`, but panics on errors and returns `data`.
    pub async fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        self.endpoint().data(token, query, variables).await
    }

    pub async fn login(&self) -> String {
        let data = self
            .gql(
                None,
                "mutation($p: String!) { login(username: \"admin\", password: $p) { token } }",
                json!({ "p": ADMIN_PASSWORD }),
            )
            .await;
        data["data"]["login"]["token"]
            .as_str()
            .expect("login token")
            .to_owned()
    }

    /// Creates account `name` holding `policies`, with password [`password_of`]; its id.
    pub async fn create_account(&self, admin: &str, name: &str, policies: &[&str]) -> String {
        let created = self
            .data(
                admin,
                "mutation($i: CreateAccountInput!) { createAccount(input: $i) { account { id } } }",
                json!({ "i": { "username": name, "password": password_of(name), "policies": policies } }),
            )
            .await;
        created["createAccount"]["account"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Logs in an account made by [`TestApp::create_account`]; its session token.
    pub async fn login_account(&self, name: &str) -> String {
        let login = self.login_as(name, &password_of(name)).await;
        login["data"]["login"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} cannot log in: {login}"))
            .to_owned()
    }

    /// [`TestApp::create_account`], then [`TestApp::login_account`]: its id and token.
    pub async fn account(&self, admin: &str, name: &str, policies: &[&str]) -> (String, String) {
        let id = self.create_account(admin, name, policies).await;
        (id, self.login_account(name).await)
    }

    /// A handle on `/graphql` for tasks that cannot borrow the app.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            http: self.http.clone(),
            url: self.url("/graphql"),
        }
    }

    /// Logs `username` in; the whole response, so refusals can be inspected.
    pub async fn login_as(&self, username: &str, password: &str) -> Value {
        self.gql(
            None,
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            json!({ "u": username, "p": password }),
        )
        .await
    }

    pub async fn create_vm(&self, token: &str, name: &str, start: bool) -> Value {
        let data = self
            .data(
                token,
                "mutation($input: CreateVmInput!) { createVm(input: $input) { id name state } }",
                json!({ "input": { "name": name, "image": "test-guest", "vcpus": 1, "memoryMib": 256, "diskGib": 1, "start": start } }),
            )
            .await;
        data["createVm"].clone()
    }

    pub async fn vm_state(&self, token: &str, id: &str) -> Option<String> {
        let data = self
            .data(
                token,
                "query($id: ID!) { vm(id: $id) { state } }",
                json!({ "id": id }),
            )
            .await;
        data["vm"]["state"].as_str().map(str::to_owned)
    }

    /// Why VM `vm`'s console sessions ended, in the order they did (`ConsoleClosed` events).
    pub async fn console_close_reasons(&self, vm: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT payload->'ConsoleClosed'->>'reason' FROM events
              WHERE aggregate_id = $1 AND event_type = 'ConsoleClosed' ORDER BY sequence",
        )
        .bind(vm)
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }

    /// Creates and starts VM `name`, and waits until it runs; its id.
    pub async fn running_vm(&self, token: &str, name: &str) -> String {
        let id = self.create_vm(token, name, true).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.wait_for_state(token, &id, Some("RUNNING"), Duration::from_secs(90))
            .await;
        id
    }

    /// Polls `vm(id).state` until `wanted` (`None` = gone), failing after `timeout`.
    pub async fn wait_for_state(
        &self,
        token: &str,
        id: &str,
        wanted: Option<&str>,
        timeout: Duration,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.vm_state(token, id).await;
            if state.as_deref() == wanted {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "VM {id} stuck in {state:?}, wanted {wanted:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Events of one aggregate, as (event_type, actor) in sequence order.
    pub async fn events_of(&self, id: &str) -> Vec<(String, String)> {
        sqlx::query_as("SELECT event_type, metadata->>'actor' FROM events WHERE aggregate_id = $1 ORDER BY sequence")
            .bind(id)
            .fetch_all(&self.db.pool)
            .await
            .unwrap()
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A graphql-transport-ws client holding one subscription.
pub struct Subscription {
    ws: Ws,
}

impl Subscription {
    pub async fn start(app: &TestApp, token: &str, query: &str) -> Self {
        let mut request = app.ws_url("/graphql/ws").into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
        ws.send(Message::text(init.to_string())).await.unwrap();
        let ack = next_json(&mut ws).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
        ws.send(Message::text(subscribe.to_string())).await.unwrap();
        Self { ws }
    }

    /// Whether the server ends the connection within `timeout` (answering pings meanwhile).
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, async {
            loop {
                match self.ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .is_ok()
    }

    /// The next `next` payload's data, skipping pings.
    pub async fn next(&mut self, timeout: Duration) -> Value {
        let message = tokio::time::timeout(timeout, async {
            loop {
                let message = next_json(&mut self.ws).await;
                match message["type"].as_str() {
                    Some("next") => return message["payload"]["data"].clone(),
                    Some("ping") => {
                        self.ws
                            .send(Message::text(json!({"type": "pong"}).to_string()))
                            .await
                            .unwrap();
                    }
                    _ => panic!("unexpected subscription message: {message}"),
                }
            }
        })
        .await;
        message.expect("subscription event in time")
    }
}

impl Subscription {
    /// The errors a refused subscription gets: a `next` carrying errors (as async-graphql
    /// answers a refused field) or an `error` message.
    pub async fn refusal(&mut self, timeout: Duration) -> Value {
        let message = tokio::time::timeout(timeout, next_json(&mut self.ws))
            .await
            .expect("an answer in time");
        match message["type"].as_str() {
            Some("next") => message["payload"]["errors"].clone(),
            Some("error") => message["payload"].clone(),
            _ => panic!("not a refusal: {message}"),
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws
            .next()
            .await
            .expect("socket open")
            .expect("websocket message")
        {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected websocket message: {other:?}"),
        }
    }
}

impl TestApp {
    /// Runs the VM mutation `name(id:)` (one returning the VM) and returns the whole response.
    pub async fn vm_op(&self, token: &str, name: &str, id: &str) -> Value {
        let query = format!("mutation($id: ID!) {{ {name}(id: $id) {{ state failure }} }}");
        self.gql(Some(token), &query, json!({ "id": id })).await
    }

    /// Like `vm_op`, but panics on errors and returns the VM.
    pub async fn vm_ok(&self, token: &str, name: &str, id: &str) -> Value {
        let response = self.vm_op(token, name, id).await;
        assert!(response.get("errors").is_none(), "{name}: {response}");
        response["data"][name].clone()
    }

    /// Deletes VM `id` and waits until it is gone.
    pub async fn delete_vm(&self, token: &str, id: &str) {
        let deleted = self
            .data(
                token,
                "mutation($id: ID!) { deleteVm(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(deleted["deleteVm"], true);
        self.wait_for_state(token, id, None, Duration::from_secs(30))
            .await;
    }

    /// The types of VM `id`'s events, in order.
    pub async fn event_types(&self, id: &str) -> Vec<String> {
        self.events_of(id)
            .await
            .into_iter()
            .map(|(event, _)| event)
            .collect()
    }

    /// VM `id`'s lifecycle events, in order: its history without the console sessions, which
    /// are recorded when they close and so land wherever that happens.
    pub async fn lifecycle_types(&self, id: &str) -> Vec<String> {
        let mut events = self.event_types(id).await;
        events.retain(|event| !event.starts_with("Console"));
        events
    }

    /// The reason of VM `id`'s latest `VmStopped` event.
    pub async fn last_stop_reason(&self, id: &str) -> String {
        sqlx::query_scalar(
            "SELECT payload->'VmStopped'->>'reason' FROM events
              WHERE aggregate_id = $1 AND event_type = 'VmStopped' ORDER BY sequence DESC LIMIT 1",
        )
        .bind(id)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }

    /// A console ticket URL for VM `vm`.
    pub async fn open_console(&self, token: &str, vm: &str) -> String {
        let data = self
            .data(
                token,
                "mutation($id: ID!) { openConsole(vmId: $id, kind: SERIAL) { url expiresAt } }",
                json!({ "id": vm }),
            )
            .await;
        data["openConsole"]["url"].as_str().unwrap().to_owned()
    }
}

/// The password [`TestApp::create_account`] gives account `name`.
pub fn password_of(name: &str) -> String {
    format!("password of {name}")
}

/// `/graphql` of a test app, owned: it can move into a spawned task.
#[derive(Clone)]
pub struct Endpoint {
    http: reqwest::Client,
    url: String,
}

impl Endpoint {
    /// POSTs a GraphQL operation and returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        response.json().await.expect("JSON response")
    }

    /// Like `gql`, but panics on errors and returns `data`.
    pub async fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.gql(Some(token), query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response}"
        );
        response["data"].clone()
    }
}

/// A serial console session through the relay, from a same-origin browser's point of view.
pub struct Console {
    ws: Ws,
    /// Everything the guest has printed so far.
    pub seen: String,
}

impl Console {
    pub async fn connect(app: &TestApp, url: &str) -> Self {
        let mut request = app.ws_url(url).into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(&app.url("")).unwrap());
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("console connects");
        assert_eq!(response.status().as_u16(), 101);
        Self {
            ws,
            seen: String::new(),
        }
    }

    /// Sends any websocket message as it is.
    pub async fn send_raw(&mut self, message: Message) {
        // The server may already have closed the connection: that is for the caller to see.
        let _ = self.ws.send(message).await;
    }

    /// Sends keystrokes (as a text frame: the relay takes text and binary frames alike).
    pub async fn type_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Types `echo $((6*7))` until the shell answers 42 — the guest may still be booting.
    pub async fn wait_for_shell(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut next_prompt = Instant::now();
        // A fresh sum each time: the console opens on what the guest printed before, which
        // may hold the answer to an earlier call.
        let n = uuid::Uuid::new_v4().as_u128() % 90_000 + 10_000;
        let (question, answer) = (format!("echo $(({n}*7))\n"), (n * 7).to_string());
        loop {
            assert!(
                Instant::now() < deadline,
                "no answer from the guest shell; console said: {}",
                self.seen
            );
            if Instant::now() >= next_prompt {
                self.type_text(&question).await;
                next_prompt = Instant::now() + Duration::from_secs(2);
            }
            match tokio::time::timeout(Duration::from_millis(500), self.ws.next()).await {
                Ok(Some(Ok(Message::Binary(bytes)))) => {
                    self.seen.push_str(&String::from_utf8_lossy(&bytes))
                }
                Ok(Some(Ok(Message::Close(frame)))) => panic!(
                    "console closed early: {frame:?}; console said: {}",
                    self.seen
                ),
                Ok(Some(Ok(_))) | Err(_) => {}
                Ok(other) => panic!(
                    "console closed early: {other:?}; console said: {}",
                    self.seen
                ),
            }
            // The answer on a line of its own: the command's echo holds the sum, never its result.
            if self.seen.lines().any(|line| line.trim() == answer) {
                return;
            }
        }
    }

    /// Collects what the guest prints for `duration`.
    pub async fn read_for(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if let Message::Binary(bytes) = message {
                self.seen.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }

    /// The next piece of output (pings are answered, as browsers do).
    pub async fn next_output(&mut self, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Binary(bytes)))) => {
                    return String::from_utf8_lossy(&bytes).into_owned()
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                other => panic!("no output within {timeout:?}: {other:?}"),
            }
        }
    }

    /// Pings received within `duration` (answered, as browsers do, while reading).
    pub async fn pings_for(&mut self, duration: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + duration;
        let mut pings = 0;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match message {
                Message::Ping(_) => pings += 1,
                Message::Binary(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                _ => {}
            }
        }
        pings
    }

    /// The close frame's code and reason if the server closes the console within `timeout`
    /// (`None` if it stays open); output meanwhile goes to `seen`.
    pub async fn closed_within(&mut self, timeout: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Some(
                        frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new())),
                    )
                }
                Ok(Some(Ok(Message::Binary(bytes)))) => {
                    self.seen.push_str(&String::from_utf8_lossy(&bytes))
                }
                Ok(Some(Ok(_))) => {}
                Ok(None | Some(Err(_))) => return Some((1006, String::new())),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// `virsh -c qemu:///system ARGS…`, as a person would type it behind Distribox's back.
pub fn virsh(args: &[&str]) -> std::process::Output {
    std::process::Command::new("virsh")
        .args(["-c", "qemu:///system"])
        .args(args)
        .output()
        .unwrap()
}
