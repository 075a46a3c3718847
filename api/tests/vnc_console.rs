//! The graphical console through the relay: a VNC client not written here (vncdotool, from
//! PyPI) reads the guest's screen over the websocket, while a viewer asking for an exclusive
//! session stays connected, and a view-only viewer still gets the screen.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::json;
use support::{spawn_app, virsh, Console, Libvirt, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

async fn vnc_ticket(app: &TestApp, token: &str, vm: &str, view_only: bool) -> String {
    let data = app
        .data(
            token,
            "mutation($vm: ID!, $v: Boolean!) { openConsole(vmId: $vm, kind: VNC, viewOnly: $v) { url } }",
            json!({ "vm": vm, "v": view_only }),
        )
        .await;
    data["openConsole"]["url"].as_str().unwrap().to_owned()
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Opens the console websocket as noVNC does: same origin, subprotocol `binary`.
async fn connect(app: &TestApp, url: &str) -> Ws {
    let mut request = app.ws_url(url).into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("origin", HeaderValue::from_str(&app.url("")).unwrap());
    headers.insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
    let (ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("console connects");
    assert_eq!(response.headers()["sec-websocket-protocol"], "binary");
    ws
}

/// The small websocket adapter: a TCP port whose one connection is pumped to and from `ws`,
/// for VNC clients that speak plain TCP.
async fn tcp_adapter(ws: Ws) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (mut tcp_read, mut tcp_write) = tcp.into_split();
        let (mut ws_write, mut ws_read) = ws.split();
        let up = async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = tcp_read.read(&mut buf).await {
                if n == 0
                    || ws_write
                        .send(Message::binary(buf[..n].to_vec()))
                        .await
                        .is_err()
                {
                    break;
                }
            }
            let _ = ws_write.close().await;
        };
        let down = async move {
            while let Some(Ok(message)) = ws_read.next().await {
                if let Message::Binary(bytes) = message {
                    if tcp_write.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
            }
        };
        tokio::join!(up, down);
    });
    port
}

fn vncdo() -> PathBuf {
    let venv = std::env::var("DISTRIBOX_TEST_VENV")
        .unwrap_or_else(|_| "/var/tmp/distribox-test-venv".to_owned());
    Path::new(&venv).join("bin/vncdo")
}

/// Captures the screen with vncdotool through the adapter on `port`.
async fn capture(port: u16, path: &Path) {
    let run = tokio::process::Command::new(vncdo())
        .args(["-s", &format!("127.0.0.1::{port}"), "capture"])
        .arg(path)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("vncdotool finishes")
        .expect("vncdotool runs (scripts/test installs it)");
    assert!(
        output.status.success(),
        "vncdotool: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A minimal RFB viewer of our own that asks for an *exclusive* session (shared flag 0), which
/// a default QEMU would answer by disconnecting everyone else.
struct ExclusiveViewer {
    ws: Ws,
    pending: Vec<u8>,
    width: u16,
    height: u16,
}

impl ExclusiveViewer {
    async fn handshake(ws: Ws) -> Self {
        let mut viewer = Self {
            ws,
            pending: Vec::new(),
            width: 0,
            height: 0,
        };
        let version = viewer.read_exact(12).await;
        assert!(version.starts_with(b"RFB 003."), "{version:?}");
        viewer.send(b"RFB 003.008\n").await;
        let count = viewer.read_exact(1).await[0];
        let types = viewer.read_exact(usize::from(count)).await;
        assert!(types.contains(&1), "no 'None' security: {types:?}");
        viewer.send(&[1]).await;
        assert_eq!(viewer.read_exact(4).await, [0, 0, 0, 0], "security result");
        viewer.send(&[0]).await; // ClientInit: exclusive, please
        let init = viewer.read_exact(24).await;
        viewer.width = u16::from_be_bytes([init[0], init[1]]);
        viewer.height = u16::from_be_bytes([init[2], init[3]]);
        let name_length = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
        viewer.read_exact(name_length as usize).await;
        viewer
    }

    async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.pending.len() < n {
            let message = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("the VNC server answers");
            match message {
                Some(Ok(Message::Binary(bytes))) => self.pending.extend_from_slice(&bytes),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("the console ended: {other:?}"),
            }
        }
        self.pending.drain(..n).collect()
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.ws.send(Message::binary(bytes.to_vec())).await.unwrap();
    }

    /// Whether the console closes within `timeout`, whatever comes before.
    async fn closes_within(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, async {
            while let Some(Ok(message)) = self.ws.next().await {
                if message.is_close() {
                    break;
                }
            }
        })
        .await
        .is_ok()
    }

    /// Asks for the whole screen and sees a FramebufferUpdate (type 0) begin.
    async fn still_gets_updates(&mut self) {
        let [w1, w2] = self.width.to_be_bytes();
        let [h1, h2] = self.height.to_be_bytes();
        self.send(&[3, 0, 0, 0, 0, 0, w1, w2, h1, h2]).await;
        assert_eq!(self.read_exact(1).await, [0], "a framebuffer update");
    }
}

/// Share of pixels that differ between two images of the same size.
fn differing_share(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let differing = a
        .pixels()
        .zip(b.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0).any(|(x, y)| x.abs_diff(y) > 8))
        .count();
    differing as f64 / f64::from(a.width() * a.height())
}

#[tokio::test]
async fn vnc_clients_read_the_guest_screen_through_the_relay_and_share_it() {
    let app = spawn_app(Libvirt::System).await;
    let token = app.login().await;
    let vm = app.running_vm(&token, "graphical").await;

    // Once the guest is up, its screen stays in one mode.
    let mut serial = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    serial.wait_for_shell(BOOT_TIMEOUT).await;
    serial.close().await;

    // A viewer that asks for the console to itself.
    let exclusive = connect(&app, &vnc_ticket(&app, &token, &vm, false).await).await;
    let mut exclusive = ExclusiveViewer::handshake(exclusive).await;
    assert!(exclusive.width >= 320 && exclusive.height >= 200);

    // vncdotool, through the adapter, reads the screen; QEMU's own screen dump agrees with it.
    let dir = tempdir(&app);
    let captured = dir.join("vnc.png");
    let port = tcp_adapter(connect(&app, &vnc_ticket(&app, &token, &vm, false).await).await).await;
    capture(port, &captured).await;
    let dumped = dir.join("screen");
    let dump = virsh(&[
        "screenshot",
        &format!("distribox-{vm}"),
        dumped.to_str().unwrap(),
    ]);
    assert!(dump.status.success(), "{dump:?}");
    let from_vnc = image::open(&captured).unwrap().to_rgb8();
    // PPM or PNG, depending on QEMU's version.
    let from_qemu = image::ImageReader::open(&dumped)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .decode()
        .unwrap()
        .to_rgb8();
    assert_eq!(
        (from_vnc.width(), from_vnc.height()),
        (u32::from(exclusive.width), u32::from(exclusive.height))
    );
    assert_eq!(from_vnc.dimensions(), from_qemu.dimensions());
    // The guest's screen has something on it (the firmware's and boot loader's text), and
    // VNC shows what QEMU shows — up to a blinking cursor.
    let first = *from_qemu.get_pixel(0, 0);
    assert!(from_qemu.pixels().any(|p| *p != first), "a blank screen");
    let share = differing_share(&from_vnc, &from_qemu);
    assert!(share < 0.01, "{:.2}% of pixels differ", share * 100.0);

    // A view-only viewer completes the handshake and gets the screen too.
    let view_only = dir.join("view-only.png");
    let port = tcp_adapter(connect(&app, &vnc_ticket(&app, &token, &vm, true).await).await).await;
    capture(port, &view_only).await;
    let seen = image::open(&view_only).unwrap().to_rgb8();
    assert!(differing_share(&seen, &from_qemu) < 0.01);

    // Nobody was kicked out: the exclusive viewer is still connected and served.
    exclusive.still_gets_updates().await;

    // Stopping the VM ends its consoles, graphical and serial, as soon as QEMU is gone.
    let mut serial = Console::connect(&app, &app.open_console(&token, &vm).await).await;
    app.data(
        &token,
        "mutation($id: ID!) { forceStopVm(id: $id) { state } }",
        json!({ "id": vm }),
    )
    .await;
    let stopping = std::time::Instant::now();
    assert!(exclusive.closes_within(Duration::from_secs(10)).await);
    assert_eq!(
        serial.closed_within(Duration::from_secs(10)).await,
        Some((4000, "the console ended".to_owned()))
    );
    app.wait_for_state(&token, &vm, Some("STOPPED"), BOOT_TIMEOUT)
        .await;
    println!(
        "consoles closed {:?} after the stop was asked",
        stopping.elapsed()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A scratch folder for this test's images.
fn tempdir(app: &TestApp) -> PathBuf {
    let dir = app.data_dir.join("vnc-test");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
