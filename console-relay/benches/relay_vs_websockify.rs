//! Distribox's console relay against websockify 0.13, side by side in one run, both relaying to
//! the same console: the throughput of one session and of many at once (by the clock, and per
//! CPU second the relay spent, since on a small machine the clock also measures this process,
//! the load generator), the round-trip time of small messages (the keystrokes and pointer moves
//! of a viewer), and the memory an idle session costs.
//!
//! Each relay runs as its own process, so its memory is measured alone: websockify as it is
//! normally run (a process forked per connection), and Distribox's relay as this bench
//! re-executed with [`ROLE_VAR`] set, serving the real relay from the crate's public API. The
//! console is a unix socket served by this process; the first byte of a connection picks what
//! it does (see [`console`]).
//!
//! websockify comes from PyPI, pinned in `scripts/test-tools.txt`, in a venv at
//! `$DISTRIBOX_TEST_VENV` (default `/var/tmp/distribox-test-venv`):
//!
//! ```sh
//! python3 -m venv /var/tmp/distribox-test-venv
//! /var/tmp/distribox-test-venv/bin/pip install -r scripts/test-tools.txt
//! cargo bench -p distribox-console-relay --bench relay_vs_websockify
//! ```
//!
//! Progress goes to stderr; a Markdown table of the results, and whether each target was met,
//! to stdout.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::process::{Child, Command};

/// Set to `relay` in the child process that serves Distribox's relay.
const ROLE_VAR: &str = "DISTRIBOX_RELAY_BENCH_ROLE";
/// Where websockify is installed (`bin/websockify` inside).
const VENV_VAR: &str = "DISTRIBOX_TEST_VENV";
const DEFAULT_VENV: &str = "/var/tmp/distribox-test-venv";

/// Bytes streamed through a relay per throughput run.
const STREAM_BYTES: u64 = 512 << 20;
/// Sessions streaming at once in the many-viewers run, and what each receives.
const PARALLEL_SESSIONS: usize = 16;
const PARALLEL_BYTES: u64 = 32 << 20;
/// Throughput is the best of this many runs: the machine's other work only ever slows a run.
const THROUGHPUT_RUNS: usize = 3;

/// Size of a round-trip message: a keystroke or pointer event is a few bytes.
const ROUND_TRIP_BYTES: usize = 16;
const WARM_UP_ROUND_TRIPS: usize = 200;
const ROUND_TRIPS: usize = 5_000;

const IDLE_SESSIONS: usize = 1_000;
/// Sessions being opened at once: enough to be quick, few enough for websockify's listen queue.
const OPENING_AT_ONCE: usize = 50;
/// How long the idle sessions are held open before being checked and measured.
const IDLE_HOLD: Duration = Duration::from_secs(3);
/// How long an idle session has to answer a ping to count as open.
const PONG_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a relay is given to wind down closed sessions before it is measured or loaded again.
const SETTLE: Duration = Duration::from_secs(1);

/// Distribox must stream at least this many times as fast as websockify.
const THROUGHPUT_FACTOR: f64 = 3.0;
/// Distribox's memory budget per idle session.
const IDLE_KIB_BUDGET: f64 = 64.0;

fn main() -> ExitCode {
    if std::env::var(ROLE_VAR).is_ok_and(|role| role == "relay") {
        let console = std::env::args_os()
            .nth(1)
            .expect("the console's socket path");
        runtime().block_on(distribox::serve(PathBuf::from(console)));
        return ExitCode::SUCCESS;
    }
    let venv = std::env::var_os(VENV_VAR).map_or_else(|| DEFAULT_VENV.into(), PathBuf::from);
    let websockify = venv.join("bin/websockify");
    if !websockify.exists() {
        eprintln!(
            "{} not found; install websockify with:\n  python3 -m venv {DEFAULT_VENV} && \
             {DEFAULT_VENV}/bin/pip install -r scripts/test-tools.txt\n\
             (or point {VENV_VAR} at a venv that has it)",
            websockify.display()
        );
        return ExitCode::FAILURE;
    }
    // A thousand sessions take a few thousand descriptors here and in the relays, which inherit
    // the limit.
    rlimit::increase_nofile_limit(u64::MAX).expect("raise the open file limit");
    let scratch = ScratchDir::new();
    runtime().block_on(compare(&websockify, &scratch.0.join("console.sock")));
    ExitCode::SUCCESS
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Measures both relays and prints the comparison.
async fn compare(websockify: &Path, console: &Path) {
    tokio::spawn(console::serve(
        UnixListener::bind(console).expect("bind the console socket"),
    ));
    let relays = [
        Relay::distribox(console).await,
        Relay::websockify(websockify, console).await,
    ];
    // Memory first, while each relay has relayed nothing but a warm-up session: what the
    // throughput runs leave in the allocator's free lists would otherwise hide what the idle
    // sessions take.
    let mut results = Vec::new();
    for relay in &relays {
        let idle = idle_memory(relay).await;
        eprintln!(
            "{}: {} idle sessions open, {:.1} KiB each",
            relay.name, idle.open, idle.kib_per_session
        );
        results.push(Results {
            throughput: Throughput::default(),
            parallel_throughput: Throughput::default(),
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            idle,
        });
    }
    // Speed runs alternate between the relays, so that the machine's other work, which only
    // ever slows a run, falls on both alike.
    for _ in 0..THROUGHPUT_RUNS {
        for (relay, result) in relays.iter().zip(&mut results) {
            let one = session::throughput(&relay.url().await, STREAM_BYTES, relay.pid()).await;
            relay.settle().await;
            let many = session::parallel_throughput(
                relay.urls(PARALLEL_SESSIONS).await,
                PARALLEL_BYTES,
                relay.pid(),
            )
            .await;
            relay.settle().await;
            eprintln!(
                "{}: {:.0} MiB/s ({:.0} per CPU second), {PARALLEL_SESSIONS} sessions {:.0} MiB/s \
                 ({:.0} per CPU second)",
                relay.name, one.wall, one.per_cpu_second, many.wall, many.per_cpu_second
            );
            result.throughput.keep_best(one);
            result.parallel_throughput.keep_best(many);
        }
    }
    for (relay, result) in relays.iter().zip(&mut results) {
        (result.p50, result.p99) = session::round_trips(&relay.url().await).await;
        eprintln!(
            "{}: round trip p50 {} µs, p99 {} µs",
            relay.name,
            result.p50.as_micros(),
            result.p99.as_micros()
        );
    }
    report(&results[0], &results[1]);
}

/// A temporary directory for the console's socket, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("distribox-relay-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        Self(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A relay under test, running as its own process.
struct Relay {
    name: &'static str,
    /// Killed when dropped (`kill_on_drop`), on a panic too. websockify's forked children are
    /// not, but each exits once its connection closes, at the latest when this process exits.
    process: Child,
    port: u16,
    /// Distribox admits a websocket only with a single-use ticket; websockify admits anyone.
    ticketed: bool,
}

impl Relay {
    /// Starts Distribox's relay: this bench again, in the relay role, printing its port.
    async fn distribox(console: &Path) -> Self {
        let mut process = Command::new(std::env::current_exe().expect("the bench's own path"))
            .env(ROLE_VAR, "relay")
            .arg(console)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start Distribox's relay");
        let stdout = process.stdout.take().expect("the relay's stdout");
        let line = BufReader::new(stdout).lines().next_line().await;
        let port = line
            .ok()
            .flatten()
            .and_then(|line| line.parse().ok())
            .expect("Distribox's relay prints its port");
        Self {
            name: "Distribox",
            process,
            port,
            ticketed: true,
        }
    }

    /// Starts websockify in its default mode, and waits until it listens.
    async fn websockify(binary: &Path, console: &Path) -> Self {
        let port = free_port().await;
        let process = Command::new(binary)
            .arg(format!("--unix-target={}", console.display()))
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            // It logs every connection.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start websockify");
        wait_until_listening(port).await;
        Self {
            name: "websockify",
            process,
            port,
            ticketed: false,
        }
    }

    fn pid(&self) -> u32 {
        self.process.id().expect("the relay is running")
    }

    /// Websocket URLs for `count` sessions, each with its own ticket where one is needed.
    async fn urls(&self, count: usize) -> Vec<String> {
        let base = format!("ws://127.0.0.1:{}", self.port);
        if !self.ticketed {
            return vec![format!("{base}/"); count];
        }
        let secrets = post(self.port, &format!("/bench/tickets?count={count}")).await;
        let urls: Vec<String> = secrets
            .lines()
            .map(|secret| format!("{base}/console/ws?ticket={secret}"))
            .collect();
        assert_eq!(urls.len(), count, "tickets issued");
        urls
    }

    async fn url(&self) -> String {
        self.urls(1).await.remove(0)
    }

    /// Waits until the relay runs no more child processes (websockify's per-connection forks
    /// exit once their connection closes), and then a little longer.
    async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while memory::process_tree(self.pid()).len() > 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(SETTLE).await;
    }
}

/// A port nobody listens on right now, for websockify to take.
async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Waits for a freshly started relay to accept connections, for at most 10 s.
async fn wait_until_listening(port: u16) {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on port {port} after 10 s");
}

/// `POST path` with an empty body; answers the response body. A bench needs no HTTP client.
async fn post(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the relay");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "POST {path}: {head}");
    body.to_owned()
}

/// One relay's results.
struct Results {
    /// One session, best of [`THROUGHPUT_RUNS`].
    throughput: Throughput,
    /// [`PARALLEL_SESSIONS`] sessions at once, best of [`THROUGHPUT_RUNS`].
    parallel_throughput: Throughput,
    p50: Duration,
    p99: Duration,
    idle: Idle,
}

/// MiB/s of a streaming run, by the clock and per CPU second the relay spent on it. On a small
/// machine the clock measures the load generator (this process, on the same cores) as much as
/// the relay; CPU seconds measure the relay alone, that is how fast it would go with a core to
/// itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Throughput {
    pub wall: f64,
    pub per_cpu_second: f64,
}

impl Throughput {
    fn keep_best(&mut self, run: Throughput) {
        self.wall = self.wall.max(run.wall);
        self.per_cpu_second = self.per_cpu_second.max(run.per_cpu_second);
    }
}

/// What idle sessions cost a relay.
struct Idle {
    /// Of the [`IDLE_SESSIONS`] opened, those still answering after [`IDLE_HOLD`].
    open: usize,
    /// What they added to the relay's memory, per session.
    kib_per_session: f64,
}

/// Opens [`IDLE_SESSIONS`] idle sessions and measures what those still open after
/// [`IDLE_HOLD`] add to the relay's memory. A relay that refuses or drops sessions is not
/// stopped here: how many it kept is part of the result. (websockify keeps about 500: its
/// parent holds two pipes per live handler, so later handlers get descriptors past 1023, on
/// which their `select()` fails, and they drop their session soon after accepting it.)
async fn idle_memory(relay: &Relay) -> Idle {
    // The first session pays for what every later one shares (code paged in, pools).
    drop(session::open(&relay.url().await, &[console::IDLE]).await);
    relay.settle().await;
    let before = memory::pss_kib(relay.pid());
    let urls = relay.urls(IDLE_SESSIONS).await;
    let sessions: Vec<session::Ws> = futures::stream::iter(urls)
        .map(|url| async move { session::try_open(&url, &[console::IDLE]).await })
        .buffer_unordered(OPENING_AT_ONCE)
        .filter_map(std::future::ready)
        .collect()
        .await;
    tokio::time::sleep(IDLE_HOLD).await;
    // Asked rather than assumed: a session whose end has not been read yet looks open.
    let sessions: Vec<session::Ws> = futures::stream::iter(sessions)
        .map(|mut ws| async move { session::answers_ping(&mut ws).await.then_some(ws) })
        .buffer_unordered(OPENING_AT_ONCE)
        .filter_map(std::future::ready)
        .collect()
        .await;
    let after = memory::pss_kib(relay.pid());
    let open = sessions.len();
    drop(sessions);
    relay.settle().await;
    Idle {
        open,
        kib_per_session: (after - before) / open.max(1) as f64,
    }
}

fn report(distribox: &Results, websockify: &Results) {
    let micros = |r: &Results| format!("{} / {}", r.p50.as_micros(), r.p99.as_micros());
    println!(
        "Throughput: best of {THROUGHPUT_RUNS} runs (alternating between the relays) of one \
         session streaming {} MiB, and of {PARALLEL_SESSIONS} sessions streaming {} MiB each \
         at once. Round trip: {ROUND_TRIPS} messages of {ROUND_TRIP_BYTES} bytes. Memory: PSS \
         of the relay's processes, per idle session still answering pings {} s after opening \
         {IDLE_SESSIONS}.\n",
        STREAM_BYTES >> 20,
        PARALLEL_BYTES >> 20,
        IDLE_HOLD.as_secs(),
    );
    println!("| | Distribox | websockify | target |");
    println!("|---|---|---|---|");
    let rows = [
        (
            "1 session".to_owned(),
            distribox.throughput,
            websockify.throughput,
        ),
        (
            format!("{PARALLEL_SESSIONS} sessions at once"),
            distribox.parallel_throughput,
            websockify.parallel_throughput,
        ),
    ];
    for (what, ours, theirs) in rows {
        println!(
            "| throughput, {what} (MiB/s) | {:.0} | {:.0} | ≥ {THROUGHPUT_FACTOR}× websockify |",
            ours.wall, theirs.wall
        );
        println!(
            "| throughput, {what}, per relay CPU second (MiB) | {:.0} | {:.0} | ≥ {THROUGHPUT_FACTOR}× websockify |",
            ours.per_cpu_second, theirs.per_cpu_second
        );
    }
    println!(
        "| round trip p50 / p99 (µs) | {} | {} | p99 no worse |",
        micros(distribox),
        micros(websockify)
    );
    println!(
        "| idle sessions still open, of {IDLE_SESSIONS} | {} | {} | all |",
        distribox.idle.open, websockify.idle.open
    );
    println!(
        "| memory per idle session at {IDLE_SESSIONS} (KiB) | {:.1} | {:.1} | ≤ {IDLE_KIB_BUDGET} |",
        distribox.idle.kib_per_session, websockify.idle.kib_per_session
    );
    let ratio = |ours: f64, theirs: f64| {
        let factor = ours / theirs;
        format!("{} ({factor:.1}×)", verdict(factor >= THROUGHPUT_FACTOR))
    };
    println!(
        "\nTargets: throughput of one session {}, per relay CPU second {}; of \
         {PARALLEL_SESSIONS} at once {}, per relay CPU second {}; round-trip p99 {} ({} µs vs \
         {} µs); idle sessions {} ({} of {IDLE_SESSIONS} open); idle memory {} ({:.1} KiB per \
         session).",
        ratio(distribox.throughput.wall, websockify.throughput.wall),
        ratio(
            distribox.throughput.per_cpu_second,
            websockify.throughput.per_cpu_second
        ),
        ratio(
            distribox.parallel_throughput.wall,
            websockify.parallel_throughput.wall
        ),
        ratio(
            distribox.parallel_throughput.per_cpu_second,
            websockify.parallel_throughput.per_cpu_second
        ),
        verdict(distribox.p99 <= websockify.p99),
        distribox.p99.as_micros(),
        websockify.p99.as_micros(),
        verdict(distribox.idle.open == IDLE_SESSIONS),
        distribox.idle.open,
        verdict(distribox.idle.kib_per_session <= IDLE_KIB_BUDGET),
        distribox.idle.kib_per_session,
    );
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// The console both relays reach: a unix socket whose connections start with a mode byte.
mod console {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::unix::{ReadHalf, WriteHalf};
    use tokio::net::{UnixListener, UnixStream};

    /// `S` + u64 big-endian N: sends N bytes.
    pub const STREAM: u8 = b'S';
    /// Echoes everything.
    pub const ECHO: u8 = b'E';
    /// Sends nothing.
    pub const IDLE: u8 = b'I';

    /// Largest write: what a relay reading 64 KiB at a time takes in one read.
    const CHUNK: usize = 64 * 1024;

    pub async fn serve(listener: UnixListener) {
        loop {
            let (socket, _) = listener
                .accept()
                .await
                .expect("accept a relay's connection");
            tokio::spawn(connection(socket));
        }
    }

    /// One relayed session, kept open until the relay hangs up.
    async fn connection(mut socket: UnixStream) {
        let Ok(mode) = socket.read_u8().await else {
            return;
        };
        let (mut reader, mut writer) = socket.split();
        match mode {
            STREAM => {
                let Ok(bytes) = reader.read_u64().await else {
                    return;
                };
                send(&mut writer, bytes).await;
                drain(&mut reader).await;
            }
            ECHO => {
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            }
            IDLE => drain(&mut reader).await,
            other => panic!("unknown console mode {other:#04x}"),
        }
    }

    async fn send(writer: &mut WriteHalf<'_>, bytes: u64) {
        let chunk = [0x5a; CHUNK];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            if writer.write_all(&chunk[..n]).await.is_err() {
                return;
            }
            left -= n as u64;
        }
    }

    /// Reads until the relay hangs up.
    async fn drain(reader: &mut ReadHalf<'_>) {
        let _ = tokio::io::copy(reader, &mut tokio::io::sink()).await;
    }
}

/// Websocket sessions through a relay, as a viewer opens them.
mod session {
    use std::time::{Duration, Instant};

    use futures::{SinkExt, StreamExt};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    use crate::{
        console, memory, Throughput, PONG_TIMEOUT, ROUND_TRIPS, ROUND_TRIP_BYTES,
        WARM_UP_ROUND_TRIPS,
    };

    pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

    /// Opens a session and sends `mode` to the console.
    pub async fn open(url: &str, mode: &[u8]) -> Ws {
        try_open(url, mode)
            .await
            .expect("the relay accepts the session")
    }

    /// Opens a session and sends `mode` to the console; `None` if the relay refuses or drops it.
    pub async fn try_open(url: &str, mode: &[u8]) -> Option<Ws> {
        let mut ws = connect(url).await?;
        ws.send(Message::binary(mode.to_vec())).await.ok()?;
        Some(ws)
    }

    /// Connects as noVNC does: subprotocol `binary`, and no `Origin`, as a non-browser client.
    async fn connect(url: &str) -> Option<Ws> {
        let mut request = url.into_client_request().expect("a websocket URL");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
        let (ws, _) = tokio_tungstenite::connect_async(request).await.ok()?;
        Some(ws)
    }

    async fn send(ws: &mut Ws, bytes: &[u8]) {
        ws.send(Message::binary(bytes.to_vec()))
            .await
            .expect("send to the relay");
    }

    /// Bytes of the next binary message.
    async fn receive(ws: &mut Ws) -> usize {
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(bytes))) => return bytes.len(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("the session ended: {other:?}"),
            }
        }
    }

    /// Whether the relay still relays the session: a ping is answered within [`PONG_TIMEOUT`].
    pub async fn answers_ping(ws: &mut Ws) -> bool {
        if ws.send(Message::Ping(Default::default())).await.is_err() {
            return false;
        }
        let pong = async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Pong(_))) => return true,
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return false,
                }
            }
        };
        tokio::time::timeout(PONG_TIMEOUT, pong)
            .await
            .unwrap_or(false)
    }

    /// One session receiving `bytes` from the console through the relay `pid`.
    pub async fn throughput(url: &str, bytes: u64, pid: u32) -> Throughput {
        let ws = connect(url).await.expect("the relay accepts the session");
        let cpu = memory::cpu_seconds(pid);
        let started = Instant::now();
        let ws = stream(ws, bytes).await;
        let result = measured(bytes, started.elapsed(), memory::cpu_seconds(pid) - cpu);
        close(ws).await;
        result
    }

    /// MiB/s of one session per URL, all receiving `bytes` from the console at once. The
    /// sessions are all open before the clock starts (websockify forks for each).
    pub async fn parallel_throughput(urls: Vec<String>, bytes: u64, pid: u32) -> Throughput {
        let sessions = futures::future::join_all(urls.iter().map(|url| connect(url))).await;
        let sessions: Vec<Ws> = sessions
            .into_iter()
            .map(|ws| ws.expect("the relay accepts the session"))
            .collect();
        let count = sessions.len() as u64;
        let cpu = memory::cpu_seconds(pid);
        let started = Instant::now();
        let sessions =
            futures::future::join_all(sessions.into_iter().map(|ws| stream(ws, bytes))).await;
        let result = measured(
            bytes * count,
            started.elapsed(),
            memory::cpu_seconds(pid) - cpu,
        );
        futures::future::join_all(sessions.into_iter().map(close)).await;
        result
    }

    /// Asks the console for `bytes` and receives them all.
    async fn stream(mut ws: Ws, bytes: u64) -> Ws {
        let mut request = vec![console::STREAM];
        request.extend(bytes.to_be_bytes());
        send(&mut ws, &request).await;
        let mut received = 0u64;
        while received < bytes {
            received += receive(&mut ws).await as u64;
        }
        ws
    }

    async fn close(mut ws: Ws) {
        let _ = ws.close(None).await;
    }

    fn measured(bytes: u64, elapsed: Duration, cpu_seconds: f64) -> Throughput {
        let mib = bytes as f64 / f64::from(1 << 20);
        Throughput {
            wall: mib / elapsed.as_secs_f64(),
            per_cpu_second: mib / cpu_seconds,
        }
    }

    /// p50 and p99 of send → echo round trips of small messages.
    pub async fn round_trips(url: &str) -> (Duration, Duration) {
        let mut ws = open(url, &[console::ECHO]).await;
        for _ in 0..WARM_UP_ROUND_TRIPS {
            round_trip(&mut ws).await;
        }
        let mut times = Vec::with_capacity(ROUND_TRIPS);
        for _ in 0..ROUND_TRIPS {
            times.push(round_trip(&mut ws).await);
        }
        let _ = ws.close(None).await;
        times.sort_unstable();
        (times[times.len() / 2], times[times.len() * 99 / 100])
    }

    async fn round_trip(ws: &mut Ws) -> Duration {
        let started = Instant::now();
        send(ws, &[0x5a; ROUND_TRIP_BYTES]).await;
        let mut echoed = 0;
        while echoed < ROUND_TRIP_BYTES {
            echoed += receive(ws).await;
        }
        started.elapsed()
    }
}

/// A relay's memory and CPU time, over all its processes.
mod memory {
    use std::collections::HashMap;

    /// Proportional set size, in KiB, of `root` and all its descendants. Shared pages (a forked
    /// child's copy-on-write memory, libraries) are split between the processes sharing them, so
    /// the sum is what the processes cost the machine together.
    pub fn pss_kib(root: u32) -> f64 {
        process_tree(root).into_iter().map(pss_of).sum()
    }

    /// `root` and all its descendants. A process may exit while this looks; it is then left out.
    pub fn process_tree(root: u32) -> Vec<u32> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for (pid, ppid) in parents() {
            children.entry(ppid).or_default().push(pid);
        }
        let mut tree = vec![root];
        let mut next = 0;
        while next < tree.len() {
            tree.extend(children.remove(&tree[next]).unwrap_or_default());
            next += 1;
        }
        tree
    }

    /// Every process's (pid, parent pid), from `/proc/*/stat`.
    fn parents() -> Vec<(u32, u32)> {
        let entries = std::fs::read_dir("/proc").expect("/proc");
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .filter_map(|pid: u32| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // `pid (comm) state ppid …`, where comm may hold spaces and parentheses.
                let (_, rest) = stat.rsplit_once(')')?;
                let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
                Some((pid, ppid))
            })
            .collect()
    }

    /// CPU seconds (user and system) `root` and its live descendants have used, plus those of
    /// the children `root` has reaped (websockify's finished handlers).
    pub fn cpu_seconds(root: u32) -> f64 {
        let ticks_per_second = clock_ticks_per_second();
        let ticks: u64 = process_tree(root)
            .into_iter()
            .map(|pid| {
                // utime, stime, cutime, cstime: fields 14–17 of `/proc/PID/stat`.
                let times = stat_fields(pid, 11, 4);
                let reaped = if pid == root { times[2] + times[3] } else { 0 };
                times[0] + times[1] + reaped
            })
            .sum();
        ticks as f64 / ticks_per_second
    }

    /// `count` numeric fields of `/proc/PID/stat` from the `first`-th after the command name
    /// (0 is the state, field 3); zeros for a process that has exited meanwhile.
    fn stat_fields(pid: u32, first: usize, count: usize) -> Vec<u64> {
        let fields = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let (_, rest) = stat.rsplit_once(')')?;
                rest.split_whitespace()
                    .skip(first)
                    .take(count)
                    .map(|field| field.parse().ok())
                    .collect::<Option<Vec<u64>>>()
            });
        fields.unwrap_or_else(|| vec![0; count])
    }

    fn clock_ticks_per_second() -> f64 {
        let output = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .expect("getconf CLK_TCK");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a number of clock ticks")
    }

    fn pss_of(pid: u32) -> f64 {
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            return 0.0;
        };
        rollup
            .lines()
            .find_map(|line| line.strip_prefix("Pss:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    }
}

/// Distribox's relay, as the child process serves it: the crate's relay with a console backend
/// that connects to the bench's console socket, and a route that hands out tickets.
mod distribox {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use axum::extract::{Query, State};
    use axum::routing::post;
    use axum::Router;
    use distribox_console_relay::{
        router, ConsoleBackend, ConsoleLimits, ConsoleLog, ConsoleRecorder, ConsoleRelay,
        ConsoleStream, OriginPolicy, RecordedFrame, Revocations, Ticket, TicketStore,
    };
    use distribox_domain::console::ConsoleKind;
    use distribox_domain::vm::VmCommand;
    use serde::Deserialize;
    use tokio::net::{TcpListener, UnixStream};
    use tokio::sync::mpsc;
    use uuid::Uuid;

    /// Tickets outlive the whole run, so a batch can be issued up front.
    const TICKET_TTL: Duration = Duration::from_secs(600);

    /// Serves the relay on a free port of 127.0.0.1, printing the port first for the parent.
    pub async fn serve(console: PathBuf) {
        let relay = Arc::new(ConsoleRelay::new(
            TicketStore::new(TICKET_TTL),
            OriginPolicy::default(),
            Arc::new(UnixConsole(console)),
            Revocations::new(),
            Arc::new(NoLog),
            Arc::new(NoRecorder),
            ConsoleLimits::default(),
        ));
        let app = Router::new()
            .route("/bench/tickets", post(issue_tickets))
            .with_state(relay.clone())
            .merge(router(relay));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        println!("{}", listener.local_addr().expect("its address").port());
        axum::serve(listener, app).await.expect("serve the relay");
    }

    #[derive(Deserialize)]
    struct Count {
        count: usize,
    }

    /// `POST /bench/tickets?count=N`: N graphical-console tickets' secrets, one per line.
    async fn issue_tickets(
        State(relay): State<Arc<ConsoleRelay>>,
        Query(Count { count }): Query<Count>,
    ) -> String {
        (0..count)
            .map(|_| relay.tickets.issue(vnc_ticket()).secret + "\n")
            .collect()
    }

    fn vnc_ticket() -> Ticket {
        Ticket {
            vm_id: Uuid::new_v4(),
            kind: ConsoleKind::Vnc,
            principal: "bench".into(),
            revoked_by: vec![],
            ends_at: None,
            authorized_at: std::time::Instant::now(),
            view_only: false,
        }
    }

    /// Every console is the bench's console socket.
    struct UnixConsole(PathBuf);

    #[async_trait]
    impl ConsoleBackend for UnixConsole {
        async fn open(&self, _vm: Uuid, _kind: ConsoleKind) -> Result<ConsoleStream, String> {
            let socket = UnixStream::connect(&self.0)
                .await
                .map_err(|err| err.to_string())?;
            Ok(ConsoleStream::Socket(socket))
        }
    }

    /// Sessions are not logged: the event log is not what is measured.
    struct NoLog;

    #[async_trait]
    impl ConsoleLog for NoLog {
        async fn record(&self, _vm: Uuid, _command: VmCommand) {}
    }

    /// Graphical sessions are never recorded; serial ones would find the queue closed.
    struct NoRecorder;

    impl ConsoleRecorder for NoRecorder {
        fn start(&self, _session: Uuid, _vm: Uuid) -> mpsc::Sender<RecordedFrame> {
            mpsc::channel(1).0
        }
    }
}
