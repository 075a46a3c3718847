//! `GET /console/ws?ticket=…`: checks the `Origin`, redeems the ticket, opens the VM's console and
//! pumps bytes both ways until either side goes away.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use distribox_domain::console::ConsoleKind;
use distribox_domain::vm::VmCommand;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::recording::Recording;
use crate::rfb::{RfbError, RfbFilter};
use crate::socket;
use crate::tickets::masked;
use crate::{ConsoleRecorder, OriginPolicy, Revocable, Revocations, Ticket, TicketStore};

/// Largest websocket message accepted from a browser.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// What a browser sends is keystrokes and pointer moves: a small read buffer keeps an idle
/// session's memory low (tungstenite's default is 128 KiB, allocated up front).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// A viewer that does not answer pings for this many keepalive periods is gone.
const UNANSWERED_PINGS: u32 = 2;
/// How long a closing console waits for a viewer to take the close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// An open console: how its bytes come and go.
#[derive(Debug)]
pub enum ConsoleStream {
    /// Through channels fed by tasks of the backend's (a shared serial console). Dropping
    /// `input` closes it.
    Channels {
        output: mpsc::Receiver<Vec<u8>>,
        input: mpsc::Sender<Vec<u8>>,
        /// Why `output` ended, when the backend knows better than "the console ended".
        ended: Option<oneshot::Receiver<String>>,
    },
    /// A socket straight to the console (a VM's VNC server), read and written by the session
    /// itself.
    Socket(UnixStream),
}

impl ConsoleStream {
    pub fn channels(output: mpsc::Receiver<Vec<u8>>, input: mpsc::Sender<Vec<u8>>) -> Self {
        Self::Channels {
            output,
            input,
            ended: None,
        }
    }
}

/// Where console sessions are recorded (the event log, in the binary): who opened which
/// console, and how it went. Recording must not fail a console, so failures are the
/// implementation's to log.
#[async_trait]
pub trait ConsoleLog: Send + Sync + 'static {
    async fn record(&self, vm: Uuid, command: VmCommand);
}

/// Opens a VM's console; implemented on the hypervisor by the binary.
#[async_trait]
pub trait ConsoleBackend: Send + Sync + 'static {
    async fn open(&self, vm: Uuid, kind: ConsoleKind) -> Result<ConsoleStream, String>;
}

pub struct ConsoleRelay {
    pub tickets: TicketStore,
    origins: OriginPolicy,
    backend: Arc<dyn ConsoleBackend>,
    revocations: Arc<Revocations>,
    log: Arc<dyn ConsoleLog>,
    recorder: Arc<dyn ConsoleRecorder>,
    limits: ConsoleLimits,
    open: OpenSessions,
}

/// Console sessions open now, by kind: for `/metrics`.
#[derive(Debug, Default)]
struct OpenSessions {
    serial: AtomicUsize,
    vnc: AtomicUsize,
}

impl OpenSessions {
    fn of(&self, kind: ConsoleKind) -> &AtomicUsize {
        match kind {
            ConsoleKind::Serial => &self.serial,
            ConsoleKind::Vnc => &self.vnc,
        }
    }
}

/// Counts one session as open for as long as it lives.
struct OpenGuard<'a>(&'a AtomicUsize);

impl<'a> OpenGuard<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How long a console may stay open.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleLimits {
    /// Nothing typed and nothing printed for this long ends the console (pings don't count).
    pub idle: Duration,
    /// No console lives longer than this, however busy.
    pub lifetime: Duration,
    /// Interval of the pings that keep consoles alive through proxies (nginx closes after 60 s
    /// of silence) and find viewers that are gone.
    pub keepalive: Duration,
}

impl Default for ConsoleLimits {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            lifetime: Duration::from_secs(8 * 3600),
            keepalive: Duration::from_secs(25),
        }
    }
}

impl ConsoleRelay {
    pub fn new(
        tickets: TicketStore,
        origins: OriginPolicy,
        backend: Arc<dyn ConsoleBackend>,
        revocations: Arc<Revocations>,
        log: Arc<dyn ConsoleLog>,
        recorder: Arc<dyn ConsoleRecorder>,
        limits: ConsoleLimits,
    ) -> Self {
        Self {
            tickets,
            origins,
            backend,
            revocations,
            log,
            recorder,
            limits,
            open: OpenSessions::default(),
        }
    }

    /// How many sessions of `kind` are open.
    pub fn open_sessions(&self, kind: ConsoleKind) -> usize {
        self.open.of(kind).load(Ordering::Relaxed)
    }
}

/// Close codes in the private range (4000–4999) the page can tell apart.
pub mod close_code {
    /// The console ended (the VM stopped), or let this viewer go (it fell too far behind).
    pub const CONSOLE_ENDED: u16 = 4000;
    /// The access behind the console was revoked (logout, password change, account disabled or
    /// deleted, credential revoked, VM deleted).
    pub const REVOKED: u16 = 4001;
    /// The credential behind the console expired.
    pub const EXPIRED: u16 = 4002;
    /// Nothing happened on the console for the idle timeout.
    pub const IDLE: u16 = 4003;
    /// The console reached its maximum lifetime.
    pub const LIFETIME: u16 = 4004;
    /// The viewer stopped answering pings (or reading at all).
    pub const UNRESPONSIVE: u16 = 4005;
    /// The viewer sent RFB the relay cannot pass on (a version QEMU does not speak, or a
    /// message a view-only viewer may not send).
    pub const REFUSED_INPUT: u16 = 4006;
}

#[derive(Deserialize)]
struct ConsoleParams {
    ticket: String,
}

/// The relay's routes, to be merged into the main router.
pub fn router(relay: Arc<ConsoleRelay>) -> Router {
    Router::new()
        .route("/console/ws", get(console_ws))
        .with_state(relay)
}

async fn console_ws(
    State(relay): State<Arc<ConsoleRelay>>,
    Query(params): Query<ConsoleParams>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !relay.origins.permits(&headers) {
        tracing::warn!(origin = ?headers.get("origin"), "console refused: origin not allowed");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let ticket = match relay.tickets.redeem(&params.ticket) {
        Ok(ticket) => ticket,
        Err(err) => {
            tracing::info!(ticket = %masked(&params.ticket), "console refused: {err}");
            return (StatusCode::FORBIDDEN, err.to_string()).into_response();
        }
    };
    // Registered before anything slow, so a revocation that lands meanwhile is not missed.
    let revocable = relay
        .revocations
        .register(ticket.revoked_by.clone(), ticket.authorized_at);
    let stream = match relay.backend.open(ticket.vm_id, ticket.kind).await {
        Ok(stream) => stream,
        Err(cause) => {
            tracing::warn!(vm = %ticket.vm_id, %cause, "console could not be opened");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the console is not available",
            )
                .into_response();
        }
    };
    tracing::info!(vm = %ticket.vm_id, principal = %ticket.principal, kind = ?ticket.kind, "console opened");
    let now = tokio::time::Instant::now();
    let ends = Ends {
        revocable,
        at: ticket.ends_at,
        limits: relay.limits,
        opened: now,
        last_activity: now,
        last_heard: now,
    };
    upgrade
        .protocols(["binary"])
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| relay.session(socket, stream, ticket, ends))
}

impl ConsoleRelay {
    /// One console session, from its `ConsoleOpened` to its `ConsoleClosed`.
    async fn session(
        self: Arc<Self>,
        socket: WebSocket,
        stream: ConsoleStream,
        ticket: Ticket,
        ends: Ends,
    ) {
        let _open = OpenGuard::new(self.open.of(ticket.kind));
        let session = Uuid::new_v4();
        let vm = ticket.vm_id;
        let opened = VmCommand::RecordConsoleOpened {
            session,
            principal: ticket.principal.clone(),
            kind: ticket.kind,
            view_only: ticket.view_only,
        };
        self.log.record(vm, opened).await;
        // Graphical sessions are not recorded: a frame buffer stream is no transcript.
        let recording = (ticket.kind == ConsoleKind::Serial)
            .then(|| Recording::new(self.recorder.start(session, vm)));
        let gate = InputGate::for_ticket(&ticket);
        let started = Instant::now();
        let summary = pump(socket, stream, ends, gate, recording).await;
        tracing::info!(%vm, principal = %ticket.principal, bytes_in = summary.bytes_in, bytes_out = summary.bytes_out, reason = %summary.reason, "console closed");
        let closed = VmCommand::RecordConsoleClosed {
            session,
            bytes_in: summary.bytes_in,
            bytes_out: summary.bytes_out,
            duration_ms: started.elapsed().as_millis() as u64,
            reason: summary.reason,
        };
        self.log.record(vm, closed).await;
    }
}

/// What of a viewer's input reaches the VM.
enum InputGate {
    /// A serial viewer's keystrokes.
    All,
    /// A view-only serial viewer: nothing.
    Nothing,
    /// A graphical viewer: its RFB stream, always as a shared session; for a view-only one,
    /// only the messages that look.
    Rfb(RfbFilter),
}

impl InputGate {
    fn for_ticket(ticket: &Ticket) -> Self {
        match (ticket.kind, ticket.view_only) {
            (ConsoleKind::Serial, false) => Self::All,
            (ConsoleKind::Serial, true) => Self::Nothing,
            (ConsoleKind::Vnc, false) => Self::Rfb(RfbFilter::full()),
            (ConsoleKind::Vnc, true) => Self::Rfb(RfbFilter::view_only()),
        }
    }

    fn pass(&mut self, bytes: Vec<u8>) -> Result<Vec<u8>, RfbError> {
        match self {
            Self::All => Ok(bytes),
            Self::Nothing => Ok(Vec::new()),
            Self::Rfb(filter) => filter.filter(&bytes),
        }
    }
}

/// `{"type":"resize","cols":…,"rows":…}`, as terminal front ends send when their size changes.
fn is_resize(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|message| message["type"] == "resize")
}

/// What ends a console besides either side going away: revocation, expiry and its limits.
struct Ends {
    revocable: Revocable,
    at: Option<chrono::DateTime<chrono::Utc>>,
    limits: ConsoleLimits,
    opened: tokio::time::Instant,
    /// Last byte either way.
    last_activity: tokio::time::Instant,
    /// Last frame of any kind (pongs too) from the viewer.
    last_heard: tokio::time::Instant,
}

impl Ends {
    /// Resolves with the close frame to send when the console must end: its access revoked
    /// or expired, idle for too long, open for too long, or — while the relay is listening to
    /// the viewer (`listening`) — nothing heard from it for too long.
    async fn reached(&mut self, listening: bool) -> CloseFrame {
        let expiry = async {
            match self.at {
                Some(at) => {
                    let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(left).await;
                }
                None => std::future::pending().await,
            }
        };
        let idle_until = self.last_activity + self.limits.idle;
        let lifetime_until = self.opened + self.limits.lifetime;
        let unresponsive = async {
            if listening {
                let silence = self.limits.keepalive * (UNANSWERED_PINGS + 1);
                tokio::time::sleep_until(self.last_heard + silence).await;
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            reason = self.revocable.revoked() => CloseFrame {
                code: close_code::REVOKED,
                reason: reason.into(),
            },
            () = expiry => CloseFrame {
                code: close_code::EXPIRED,
                reason: "the credential expired".into(),
            },
            () = tokio::time::sleep_until(idle_until) => CloseFrame {
                code: close_code::IDLE,
                reason: format!("idle for {} s", self.limits.idle.as_secs()).into(),
            },
            () = tokio::time::sleep_until(lifetime_until) => CloseFrame {
                code: close_code::LIFETIME,
                reason: format!(
                    "consoles last at most {} s; open it again",
                    self.limits.lifetime.as_secs()
                )
                .into(),
            },
            () = unresponsive => CloseFrame {
                code: close_code::UNRESPONSIVE,
                reason: "the viewer stopped answering".into(),
            },
        }
    }
}

/// The next thing to deliver.
enum Delivery {
    ToViewer(Message),
    ToVm(Vec<u8>),
}

/// Relays until the browser or the console goes away, or the access behind it ends.
async fn pump(
    socket: WebSocket,
    stream: ConsoleStream,
    mut ends: Ends,
    mut gate: InputGate,
    mut recording: Option<Recording>,
) -> Summary {
    let (mut from_vm, mut vm_input) = socket::split(stream);
    let (mut sink, mut source) = socket.split();
    let mut bytes_in = 0u64;
    let mut bytes_out = 0u64;
    let mut keepalive = tokio::time::interval(ends.limits.keepalive);
    keepalive.tick().await;
    let mut close = None;
    let reason = loop {
        let delivery = tokio::select! {
            frame = ends.reached(true) => {
                let reason = frame.reason.to_string();
                close = Some(frame);
                break reason;
            }
            from_vm = from_vm.next() => {
                let bytes = match from_vm {
                    Ok(bytes) => bytes,
                    Err(why) => {
                        close = Some(CloseFrame {
                            code: close_code::CONSOLE_ENDED,
                            reason: why.clone().into(),
                        });
                        break why;
                    }
                };
                ends.last_activity = tokio::time::Instant::now();
                bytes_out += bytes.len() as u64;
                if let Some(recording) = recording.as_mut() {
                    recording.output(&bytes);
                }
                Delivery::ToViewer(Message::Binary(bytes))
            }
            from_browser = source.next() => {
                ends.last_heard = tokio::time::Instant::now();
                let bytes = match from_browser {
                    Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                    // xterm.js-style resize messages are control, not keystrokes: a serial
                    // line has no size to set.
                    Some(Ok(Message::Text(text))) if is_resize(&text) => continue,
                    Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) => break "closed by the viewer".to_owned(),
                    Some(Err(_)) | None => break "the viewer went away".to_owned(),
                };
                ends.last_activity = ends.last_heard;
                let bytes = match gate.pass(bytes) {
                    Ok(bytes) if bytes.is_empty() => continue,
                    Ok(bytes) => bytes,
                    Err(err) => {
                        let reason = format!("the viewer sent what the relay cannot pass on: {err}");
                        close = Some(CloseFrame {
                            code: close_code::REFUSED_INPUT,
                            reason: reason.clone().into(),
                        });
                        break reason;
                    }
                };
                bytes_in += bytes.len() as u64;
                Delivery::ToVm(bytes)
            }
            _ = keepalive.tick() => Delivery::ToViewer(Message::Ping(Default::default())),
        };
        // Delivering waits for a slow viewer (or VM) — that is the backpressure — but never
        // past the end of the access behind the console. While it waits for the VM, the viewer
        // is not being read, so its silence is not held against it.
        let to_vm = matches!(delivery, Delivery::ToVm(_));
        let delivered = tokio::select! {
            delivered = async {
                match delivery {
                    Delivery::ToViewer(message) => sink
                        .send(message)
                        .await
                        .map_err(|_| "the viewer went away".to_owned()),
                    Delivery::ToVm(bytes) => vm_input.send(bytes).await,
                }
            } => delivered,
            frame = ends.reached(!to_vm) => {
                let reason = frame.reason.to_string();
                close = Some(frame);
                break reason;
            }
            // A shared console lets go of a viewer that fell too far behind, typically while
            // this very send waits for it.
            why = from_vm.let_go() => {
                close = Some(CloseFrame {
                    code: close_code::CONSOLE_ENDED,
                    reason: why.clone().into(),
                });
                break why;
            }
        };
        if let Err(reason) = delivered {
            break reason;
        }
        if to_vm {
            // The viewer was not read meanwhile: its clock starts again now.
            ends.last_heard = tokio::time::Instant::now();
        }
    };
    // A viewer that stopped reading may never take the close frame.
    let _ = tokio::time::timeout(CLOSE_WAIT, sink.send(Message::Close(close))).await;
    if let Some(recording) = recording {
        recording.finish().await;
    }
    Summary {
        bytes_in,
        bytes_out,
        reason,
    }
}

/// How a console session went.
struct Summary {
    /// Typed into the guest.
    bytes_in: u64,
    /// Sent to the viewer.
    bytes_out: u64,
    reason: String,
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    use super::*;

    /// The guest's end of a console: what it would print, what it is sent.
    type GuestEnd = (mpsc::Sender<Vec<u8>>, mpsc::Receiver<Vec<u8>>);

    /// A console whose guest prints nothing and takes one chunk of input, then no more, as a
    /// hung guest does.
    #[derive(Default)]
    struct Hung {
        /// Kept so the consoles stay open.
        guests: Mutex<Vec<GuestEnd>>,
    }

    #[async_trait]
    impl ConsoleBackend for Hung {
        async fn open(&self, _vm: Uuid, _kind: ConsoleKind) -> Result<ConsoleStream, String> {
            let (output_tx, output) = mpsc::channel(1);
            let (input, input_rx) = mpsc::channel(1);
            self.guests.lock().unwrap().push((output_tx, input_rx));
            Ok(ConsoleStream::channels(output, input))
        }
    }

    struct NoLog;

    #[async_trait]
    impl ConsoleLog for NoLog {
        async fn record(&self, _vm: Uuid, _command: VmCommand) {}
    }

    struct NoRecorder;

    impl ConsoleRecorder for NoRecorder {
        fn start(&self, _session: Uuid, _vm: Uuid) -> mpsc::Sender<crate::RecordedFrame> {
            mpsc::channel(1).0
        }
    }

    #[tokio::test]
    async fn a_viewer_is_not_blamed_for_silence_while_the_vm_takes_no_input() {
        let relay = Arc::new(ConsoleRelay::new(
            TicketStore::new(Duration::from_secs(30)),
            OriginPolicy::default(),
            Arc::new(Hung::default()),
            Revocations::new(),
            Arc::new(NoLog),
            Arc::new(NoRecorder),
            ConsoleLimits {
                keepalive: Duration::from_millis(200),
                ..ConsoleLimits::default()
            },
        ));
        let issued = relay.tickets.issue(Ticket {
            vm_id: Uuid::new_v4(),
            kind: ConsoleKind::Serial,
            principal: "account:test".to_owned(),
            revoked_by: Vec::new(),
            ends_at: None,
            authorized_at: std::time::Instant::now(),
            view_only: false,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(relay)).await });
        let url = format!("ws://{addr}/console/ws?ticket={}", issued.secret);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();

        // The guest takes the first keystrokes, then the relay waits on it for the rest.
        for _ in 0..3 {
            ws.send(WsMessage::binary(b"x".to_vec())).await.unwrap();
        }
        // Five times the silence that would end a viewer the relay was listening to.
        let stayed_open = tokio::time::timeout(Duration::from_secs(3), ws.next()).await;
        assert!(stayed_open.is_err(), "closed: {stayed_open:?}");
    }
}
