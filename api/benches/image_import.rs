//! Image import against the tools a person would use: Distribox downloads a 1 GiB image from a
//! local HTTP server, verifies its SHA-256 and inspects it; the baseline is `curl` of the same
//! file followed by `sha256sum`. Side by side in one run, alternating, on this machine.
//!
//! Targets: baseline time ÷ import time ≥ 0.8, and the server's resident memory grows by less
//! than 32 MiB during an import (the file is streamed, never held).
//!
//! `cargo bench -p distribox-api --bench image_import`; `BENCH_ITERATIONS` (default 3) pairs,
//! `BENCH_IMAGE_MIB` (default 1024) the image's size. The server is the `distribox` binary in a
//! process of its own (so its memory is its own), on a fresh database and data folder and
//! libvirt's in-process test driver. Every phase has a deadline; the server, the database and
//! the files are removed at the end, pass or fail.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use distribox_migrations::test_db::TestDatabase;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TARGET_RATIO: f64 = 0.8;
const TARGET_GROWTH_MIB: u64 = 32;
const PHASE: Duration = Duration::from_secs(300);
const PASSWORD: &str = "bench password 1";

fn main() {
    let iterations: usize = env_number("BENCH_ITERATIONS", 3);
    let mib: usize = env_number("BENCH_IMAGE_MIB", 1024);
    assert!(iterations > 0 && mib > 0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(iterations, mib));
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{name} is a number")))
        .unwrap_or(default)
}

/// Runs `phase` with the deadline every phase has, naming it if it runs out.
async fn phase<T>(name: &str, work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PHASE, work)
        .await
        .unwrap_or_else(|_| panic!("phase `{name}` did not end within {}s", PHASE.as_secs()))
}

/// Everything the bench leaves on the machine, removed when it ends.
struct Leftovers {
    dir: PathBuf,
    server: Option<Child>,
    database: Option<String>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        if let Some(name) = self.database.take() {
            let url = std::env::var("DISTRIBOX_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
            let _ = Command::new("psql")
                .args(["-X", "-q", "-d", &format!("{url}/postgres"), "-c"])
                .arg(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Deterministic bytes that don't compress: what a real image's hash and transfer cost.
fn image_bytes(mib: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = Vec::with_capacity(mib << 20);
    while bytes.len() < mib << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves `body` at `/image.raw` on a random local port; the URL.
async fn file_server(body: bytes::Bytes) -> String {
    let router = axum::Router::new().route(
        "/image.raw",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                Response::builder()
                    .header(header::CONTENT_LENGTH, body.len())
                    .body(Body::from(body))
                    .unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/image.raw")
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    async fn gql(&self, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(answer.get("errors").is_none(), "{answer}");
        answer["data"].clone()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn run(iterations: usize, mib: usize) {
    let dir = PathBuf::from("/var/tmp").join(format!("distribox-bench-{}", uuid::Uuid::new_v4()));
    let mut leftovers = Leftovers {
        dir: dir.clone(),
        server: None,
        database: None,
    };
    std::fs::create_dir_all(dir.join("images")).unwrap();

    let (body, sha256) = phase("making the image", async {
        let body = image_bytes(mib);
        let sha256 = hex(&Sha256::digest(&body));
        (bytes::Bytes::from(body), sha256)
    })
    .await;
    let url = file_server(body).await;

    let db = phase("creating the database", TestDatabase::new()).await;
    leftovers.database = Some(db.name.clone());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new(env!("CARGO_BIN_EXE_distribox"))
        .arg("serve")
        .env("DISTRIBOX_LISTEN", format!("127.0.0.1:{port}"))
        .env("DISTRIBOX_DATABASE_URL", &db.url)
        .env("DISTRIBOX_DATA_DIR", &dir)
        .env("DISTRIBOX_LIBVIRT_URI", "test:///default")
        .env("DISTRIBOX_DOMAIN_TYPE", "qemu")
        .env("DISTRIBOX_ADMIN_PASSWORD", PASSWORD)
        .env("DISTRIBOX_DISK_RESERVE_GIB", "0")
        .env("DISTRIBOX_CONFIG", "/nonexistent")
        .env("DISTRIBOX_LOG", "warn")
        .spawn()
        .expect("start distribox");
    let pid = server.id();
    leftovers.server = Some(server);
    let mut client = Client {
        http: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{port}"),
        token: None,
    };
    phase("starting the server", async {
        while client
            .http
            .get(format!("{}/healthz", client.base))
            .send()
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let login = client
        .gql(
            "mutation($p: String!) { login(username: \"admin\", password: $p) { token } }",
            json!({ "p": PASSWORD }),
        )
        .await;
    client.token = Some(login["login"]["token"].as_str().unwrap().to_owned());

    println!("image import, {mib} MiB, {iterations} pairs");
    println!(
        "{:>4} {:>16} {:>16} {:>14}",
        "pair", "curl+sha256sum s", "distribox s", "RSS growth MiB"
    );
    let (mut baseline, mut imports, mut growths) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 1..=iterations {
        // Baseline: download to a file, then hash it, as a person would.
        let copy = dir.join("curl.raw");
        let started = Instant::now();
        phase("curl and sha256sum", async {
            let curl = tokio::process::Command::new("curl")
                .args(["-sS", "-o"])
                .arg(&copy)
                .arg(&url)
                .status()
                .await
                .unwrap();
            assert!(curl.success());
            let sum = tokio::process::Command::new("sha256sum")
                .arg(&copy)
                .output()
                .await
                .unwrap();
            assert!(String::from_utf8_lossy(&sum.stdout).starts_with(&sha256));
        })
        .await;
        baseline.push(started.elapsed().as_secs_f64());
        std::fs::remove_file(&copy).unwrap();

        // Distribox: from the mutation until the image is ready, sampling the server's memory.
        let before = rss_kib(pid);
        let peak = Arc::new(AtomicU64::new(before));
        let sampling = {
            let peak = peak.clone();
            tokio::spawn(async move {
                loop {
                    peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let started = Instant::now();
        let image = client
            .gql(
                "mutation($i: ImportImageInput!) { importImage(input: $i) { id } }",
                json!({ "i": { "url": url, "sha256": sha256, "name": format!("bench {pair}") } }),
            )
            .await;
        let id = image["importImage"]["id"].as_str().unwrap().to_owned();
        phase("importing", async {
            loop {
                let image = client
                    .gql(
                        "query($id: ID!) { image(id: $id) { status failure } }",
                        json!({ "id": id }),
                    )
                    .await;
                match image["image"]["status"].as_str() {
                    Some("READY") => break,
                    Some("IMPORTING") => tokio::time::sleep(Duration::from_millis(10)).await,
                    _ => panic!("the import failed: {image}"),
                }
            }
        })
        .await;
        imports.push(started.elapsed().as_secs_f64());
        sampling.abort();
        let growth = peak.load(Ordering::Relaxed).saturating_sub(before) as f64 / 1024.0;
        growths.push(growth);
        println!(
            "{pair:>4} {:>16.2} {:>16.2} {growth:>14.1}",
            baseline[pair - 1],
            imports[pair - 1]
        );
        phase(
            "deleting the image",
            client.gql(
                "mutation($id: ID!) { deleteImage(id: $id) }",
                json!({ "id": id }),
            ),
        )
        .await;
    }
    let ratio = median(baseline.clone()) / median(imports.clone());
    let growth = growths.iter().copied().fold(0.0, f64::max);
    println!(
        "median: curl+sha256sum {:.2}s, distribox {:.2}s: ratio {ratio:.2} (target ≥ {TARGET_RATIO}) {}",
        median(baseline),
        median(imports),
        if ratio >= TARGET_RATIO { "PASS" } else { "FAIL" }
    );
    println!(
        "server memory growth during an import: {growth:.1} MiB at most (target < {TARGET_GROWTH_MIB}) {}",
        if growth < TARGET_GROWTH_MIB as f64 { "PASS" } else { "FAIL" }
    );
    drop(leftovers);
}
