//! A guest flooding its serial console while one viewer has stopped reading: the relay's
//! memory stays bounded (the stalled viewer is let go instead of buffered for), and the other
//! viewer keeps getting everything. Its own test binary, so the process's memory is the
//! relay's and this test's alone.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use support::{spawn_app, Console, Libvirt, TestApp};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// Lines the guest prints (32 bytes each with the terminal's CR LF): 6 MB, far more than any
/// buffer the relay may hold (a serial console under TCG prints 0.1–0.2 MiB/s).
const FLOOD_LINES: usize = 190_000;
const LINE_BYTES: usize = 32;

/// This process's resident memory.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// A viewer that connects and then never reads, with a tiny receive buffer so the stall
/// reaches the relay at once instead of filling the kernel first.
async fn stalled_viewer(
    app: &TestApp,
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let mut request = app.ws_url(url).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(&app.url("")).unwrap());
    let (ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    ws
}

#[tokio::test]
async fn a_stalled_viewer_neither_grows_the_relay_nor_holds_up_the_others() {
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let vm = app.running_vm(&token, "flood").await;
    let mut reader = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    reader.wait_for_shell(BOOT_TIMEOUT).await;
    let mut stalled = stalled_viewer(&app, &app.open_console(&token, &vm).await).await;

    let baseline = rss_bytes();
    reader
        .type_text(&format!(
            "yes 'flood 0123456789 abcdefghijklm' | head -n {FLOOD_LINES}; echo flood-$((40+2))\n"
        ))
        .await;
    let started = Instant::now();
    let mut received = 0usize;
    let mut peak = baseline;
    let mut tail = String::new();
    // How much of the flood had gone by when the stalled viewer was let go, and why.
    let mut let_go: Option<(usize, String)> = None;
    let mut checked = Instant::now();
    while !tail.contains("flood-42") {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the flood never ended for the reading viewer ({received} bytes)"
        );
        let chunk = reader.next_output(Duration::from_secs(30)).await;
        received += chunk.len();
        tail.push_str(&chunk);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..tail.floor_char_boundary(keep));
        peak = peak.max(rss_bytes());
        if let_go.is_none() && checked.elapsed() > Duration::from_millis(500) {
            checked = Instant::now();
            let first_closed = app.console_close_reasons(&vm).await.into_iter().next();
            let_go = first_closed.map(|reason| (received, reason));
        }
    }
    let elapsed = started.elapsed();
    let flooded = FLOOD_LINES * LINE_BYTES;
    let growth = peak.saturating_sub(baseline);
    println!(
        "{received} bytes in {elapsed:?} ({:.2} MiB/s); stalled viewer let go after {let_go:?} bytes; \
         RSS grew by {} KiB",
        received as f64 / elapsed.as_secs_f64() / f64::from(1 << 20),
        growth >> 10
    );
    // The reading viewer got the whole flood.
    assert!(received >= flooded, "{received} < {flooded}");
    // The stalled viewer was let go while the flood went on, instead of being buffered for
    // (once the kernel's socket buffers had filled: about 2 MB on loopback here, 4 MB at most
    // with Linux's default tcp_wmem), and its session says why; the relay's memory grew by no
    // more than its fixed buffers.
    let (at, reason) = let_go.expect("the stalled viewer was never let go");
    assert!(at < flooded * 3 / 4, "let go only after {at} bytes");
    assert_eq!(reason, "the viewer fell more than 256 chunks behind");
    assert!(growth < 16 << 20, "memory grew by {} MiB", growth >> 20);
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(message)) = stalled.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the stalled viewer is still connected");
}
