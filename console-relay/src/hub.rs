//! Shared serial consoles: one console stream per VM, whatever the number of viewers. What the
//! guest prints goes to every viewer, and a newcomer first gets the recent scroll-back so it
//! sees the current prompt; what any (not view-only) viewer types goes to the guest. Nobody
//! takes the console from anybody.
//!
//! Memory stays bounded: the scroll-back is a fixed-size ring, and each viewer reads through a
//! bounded broadcast queue — a viewer that falls that far behind is disconnected rather than
//! buffered for.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use distribox_domain::console::ConsoleKind;
use tokio::sync::{broadcast, mpsc, oneshot};
use uuid::Uuid;

use crate::{ConsoleBackend, ConsoleStream};

/// Bytes of recent output a newcomer sees first.
pub const SCROLLBACK_BYTES: usize = 16 * 1024;
/// Chunks of output a viewer may be behind before it is disconnected.
const VIEWER_LAG_CHUNKS: usize = 256;
/// How often a viewer that is not taking output is checked for lag.
const LAG_CHECK: Duration = Duration::from_millis(100);

fn fell_behind() -> String {
    format!("the viewer fell more than {VIEWER_LAG_CHUNKS} chunks behind")
}

/// One VM's shared console.
struct Shared {
    /// `None` once the console ended (the VM stopped): viewers are let go, newcomers open a
    /// new one.
    output: Mutex<Option<broadcast::Sender<Arc<[u8]>>>>,
    input: mpsc::Sender<Vec<u8>>,
    scrollback: Mutex<VecDeque<u8>>,
}

impl Shared {
    fn is_open(&self) -> bool {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

/// Shares each VM's serial console among its viewers; other kinds go straight to `backend`.
pub struct SerialHub {
    backend: Arc<dyn ConsoleBackend>,
    /// Live shared consoles; a `Weak` so the last viewer leaving ends the session.
    sessions: tokio::sync::Mutex<HashMap<Uuid, Weak<Shared>>>,
}

impl SerialHub {
    pub fn new(backend: Arc<dyn ConsoleBackend>) -> Self {
        Self {
            backend,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The VM's shared console, opening it if nobody is watching.
    async fn shared(&self, vm: Uuid) -> Result<Arc<Shared>, String> {
        let mut sessions = self.sessions.lock().await;
        if let Some(shared) = sessions.get(&vm).and_then(Weak::upgrade) {
            if shared.is_open() {
                return Ok(shared);
            }
        }
        let ConsoleStream::Channels {
            mut output, input, ..
        } = self.backend.open(vm, ConsoleKind::Serial).await?
        else {
            return Err("a serial console must come as channels".to_owned());
        };
        let (sender, _) = broadcast::channel(VIEWER_LAG_CHUNKS);
        let shared = Arc::new(Shared {
            output: Mutex::new(Some(sender)),
            input,
            scrollback: Mutex::new(VecDeque::with_capacity(SCROLLBACK_BYTES)),
        });
        let weak = Arc::downgrade(&shared);
        tokio::spawn(async move {
            while let Some(bytes) = output.recv().await {
                let Some(shared) = weak.upgrade() else { break };
                {
                    let mut scrollback =
                        shared.scrollback.lock().unwrap_or_else(|p| p.into_inner());
                    scrollback.extend(&bytes);
                    let excess = scrollback.len().saturating_sub(SCROLLBACK_BYTES);
                    scrollback.drain(..excess);
                }
                let viewers = shared.output.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(sender) = viewers.as_ref() {
                    // No viewer at this instant is fine.
                    let _ = sender.send(bytes.into());
                }
            }
            // The console ended: dropping the sender ends every viewer's stream.
            if let Some(shared) = weak.upgrade() {
                shared
                    .output
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
            }
        });
        sessions.retain(|_, session| session.strong_count() > 0);
        sessions.insert(vm, Arc::downgrade(&shared));
        Ok(shared)
    }
}

#[async_trait]
impl ConsoleBackend for SerialHub {
    async fn open(&self, vm: Uuid, kind: ConsoleKind) -> Result<ConsoleStream, String> {
        if kind != ConsoleKind::Serial {
            return self.backend.open(vm, kind).await;
        }
        let shared = self.shared(vm).await?;
        // Subscribe and copy the scroll-back under one lock, so nothing falls between them.
        let (backlog, mut updates) = {
            let output = shared.output.lock().unwrap_or_else(|p| p.into_inner());
            let updates = output
                .as_ref()
                .ok_or("the console has just ended")?
                .subscribe();
            let scrollback = shared.scrollback.lock().unwrap_or_else(|p| p.into_inner());
            (scrollback.iter().copied().collect::<Vec<u8>>(), updates)
        };
        let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(8);
        let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(8);
        let (ended_tx, ended) = oneshot::channel();
        let to_guest = shared.input.clone();
        tokio::spawn(async move {
            // Holding `shared` keeps the session open while this viewer is.
            let _shared = shared;
            let typing = async {
                while let Some(bytes) = in_rx.recv().await {
                    if to_guest.send(bytes).await.is_err() {
                        break;
                    }
                }
            };
            let showing = async {
                if !backlog.is_empty() && out_tx.send(backlog).await.is_err() {
                    return None;
                }
                loop {
                    let bytes = match updates.recv().await {
                        Ok(bytes) => bytes,
                        Err(broadcast::error::RecvError::Lagged(_)) => return Some(fell_behind()),
                        // The console ended.
                        Err(broadcast::error::RecvError::Closed) => return None,
                    };
                    // Wait for the viewer to take it, noticing meanwhile when it falls too far
                    // behind: a viewer that stopped reading would otherwise never get to see
                    // its lag.
                    let permit = loop {
                        tokio::select! {
                            permit = out_tx.reserve() => match permit {
                                Ok(permit) => break permit,
                                Err(_) => return None,
                            },
                            () = tokio::time::sleep(LAG_CHECK) => {
                                if updates.len() >= VIEWER_LAG_CHUNKS {
                                    return Some(fell_behind());
                                }
                            }
                        }
                    };
                    permit.send(bytes.to_vec());
                }
            };
            tokio::select! {
                () = typing => {}
                why = showing => {
                    if let Some(why) = why {
                        let _ = ended_tx.send(why);
                    }
                }
            }
        });
        Ok(ConsoleStream::Channels {
            output: out_rx,
            input: in_tx,
            ended: Some(ended),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A console that echoes what it is sent, counting how often it was opened.
    struct Echo {
        opened: AtomicUsize,
    }

    #[async_trait]
    impl ConsoleBackend for Echo {
        async fn open(&self, _vm: Uuid, _kind: ConsoleKind) -> Result<ConsoleStream, String> {
            self.opened.fetch_add(1, Ordering::SeqCst);
            let (out_tx, out_rx) = mpsc::channel(8);
            let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(8);
            tokio::spawn(async move {
                while let Some(bytes) = in_rx.recv().await {
                    if out_tx.send(bytes).await.is_err() {
                        break;
                    }
                }
            });
            Ok(ConsoleStream::channels(out_rx, in_tx))
        }
    }

    /// A viewer's side of the hub's console.
    struct Viewer {
        output: mpsc::Receiver<Vec<u8>>,
        input: mpsc::Sender<Vec<u8>>,
        ended: Option<oneshot::Receiver<String>>,
    }

    fn viewer(stream: ConsoleStream) -> Viewer {
        let ConsoleStream::Channels {
            output,
            input,
            ended,
        } = stream
        else {
            panic!("the hub hands out channels");
        };
        Viewer {
            output,
            input,
            ended,
        }
    }

    async fn next(stream: &mut Viewer) -> Vec<u8> {
        tokio::time::timeout(Duration::from_secs(1), stream.output.recv())
            .await
            .expect("output in time")
            .expect("console open")
    }

    #[tokio::test]
    async fn viewers_share_one_console_and_newcomers_get_the_scrollback() {
        let echo = Arc::new(Echo {
            opened: AtomicUsize::new(0),
        });
        let hub = SerialHub::new(echo.clone());
        let vm = Uuid::new_v4();
        let mut first = viewer(hub.open(vm, ConsoleKind::Serial).await.unwrap());
        let mut second = viewer(hub.open(vm, ConsoleKind::Serial).await.unwrap());
        first.input.send(b"hello".to_vec()).await.unwrap();
        assert_eq!(next(&mut first).await, b"hello");
        assert_eq!(next(&mut second).await, b"hello");
        let mut late = viewer(hub.open(vm, ConsoleKind::Serial).await.unwrap());
        assert_eq!(next(&mut late).await, b"hello");
        assert_eq!(echo.opened.load(Ordering::SeqCst), 1);

        // When everybody has left, the next viewer opens a new console.
        drop((first, second, late));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _again = viewer(hub.open(vm, ConsoleKind::Serial).await.unwrap());
        assert_eq!(echo.opened.load(Ordering::SeqCst), 2);
    }

    /// A console whose guest says one thing and then goes away.
    struct Brief;

    #[async_trait]
    impl ConsoleBackend for Brief {
        async fn open(&self, _vm: Uuid, _kind: ConsoleKind) -> Result<ConsoleStream, String> {
            let (out_tx, out_rx) = mpsc::channel(8);
            let (in_tx, _in_rx) = mpsc::channel(8);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = out_tx.send(b"bye".to_vec()).await;
            });
            Ok(ConsoleStream::channels(out_rx, in_tx))
        }
    }

    #[tokio::test]
    async fn when_the_console_ends_every_viewer_is_let_go() {
        let hub = SerialHub::new(Arc::new(Brief));
        let vm = Uuid::new_v4();
        let mut first = viewer(hub.open(vm, ConsoleKind::Serial).await.unwrap());
        let mut second = viewer(hub.open(vm, ConsoleKind::Serial).await.unwrap());
        for viewer in [&mut first, &mut second] {
            assert_eq!(next(viewer).await, b"bye");
            let ended = tokio::time::timeout(Duration::from_secs(1), viewer.output.recv()).await;
            assert_eq!(ended.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn a_viewer_that_stops_reading_is_dropped_without_holding_up_the_others() {
        let echo = Arc::new(Echo {
            opened: AtomicUsize::new(0),
        });
        let hub = SerialHub::new(echo);
        let vm = Uuid::new_v4();
        let mut reader = viewer(hub.open(vm, ConsoleKind::Serial).await.unwrap());
        let mut stalled = viewer(hub.open(vm, ConsoleKind::Serial).await.unwrap());
        for i in 0..(VIEWER_LAG_CHUNKS * 2) {
            reader
                .input
                .send(format!("{i};").into_bytes())
                .await
                .unwrap();
            next(&mut reader).await;
        }
        // The stalled viewer got what fitted in its queues, then was disconnected.
        let mut received = 0;
        while let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(200), stalled.output.recv()).await
        {
            received += 1;
        }
        assert!(received < VIEWER_LAG_CHUNKS * 2, "{received}");
        assert!(stalled.output.recv().await.is_none());
        let why = stalled.ended.take().unwrap().await.unwrap();
        assert!(why.contains("fell more than 256 chunks behind"), "{why}");
    }
}
