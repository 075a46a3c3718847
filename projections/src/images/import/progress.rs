//! Live progress of imports, for the dashboard. Not history: only an import's start and outcome
//! are events; these updates are dropped when nobody listens.

use std::time::{Duration, Instant};

use tokio::sync::broadcast;

/// What an import is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Downloading,
    Uploading,
    Verifying,
    Converting,
    Ready,
    Failed,
}

/// One update about one import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportProgress {
    pub image_id: String,
    pub phase: Phase,
    /// Bytes received so far.
    pub bytes: u64,
    /// Bytes expected, when the sender said.
    pub total: Option<u64>,
    /// Bytes per second over the last second or so.
    pub rate: u64,
    /// Why it failed, with `Phase::Failed`.
    pub error: Option<String>,
}

/// Where progress goes: every subscriber sees every import's updates.
#[derive(Debug, Clone)]
pub struct ProgressHub {
    tx: broadcast::Sender<ImportProgress>,
}

impl Default for ProgressHub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(256).0,
        }
    }
}

impl ProgressHub {
    pub fn subscribe(&self) -> broadcast::Receiver<ImportProgress> {
        self.tx.subscribe()
    }

    /// A reporter for one import.
    pub fn tracker(&self, image_id: &str, phase: Phase) -> Tracker {
        Tracker {
            hub: self.clone(),
            image_id: image_id.to_owned(),
            phase,
            bytes: 0,
            total: None,
            last_sent: None,
            window_start: Instant::now(),
            window_bytes: 0,
            rate: 0,
        }
    }

    fn send(&self, update: ImportProgress) {
        // Nobody listening is fine.
        let _ = self.tx.send(update);
    }
}

/// How often byte counts are sent at most: a few updates a second are smooth enough.
const THROTTLE: Duration = Duration::from_millis(250);

/// Counts one import's bytes and sends throttled updates; phase changes go out at once.
#[derive(Debug)]
pub struct Tracker {
    hub: ProgressHub,
    image_id: String,
    phase: Phase,
    bytes: u64,
    total: Option<u64>,
    last_sent: Option<Instant>,
    window_start: Instant,
    window_bytes: u64,
    rate: u64,
}

impl Tracker {
    pub fn set_total(&mut self, total: Option<u64>) {
        self.total = total;
    }

    /// Starts counting afresh from `bytes` (a resumed or restarted transfer).
    pub fn reset_to(&mut self, bytes: u64) {
        self.bytes = bytes;
    }

    pub fn advance(&mut self, bytes: u64) {
        self.bytes += bytes;
        self.window_bytes += bytes;
        let elapsed = self.window_start.elapsed();
        if elapsed >= Duration::from_secs(1) {
            self.rate = (self.window_bytes as f64 / elapsed.as_secs_f64()) as u64;
            self.window_start = Instant::now();
            self.window_bytes = 0;
        }
        if self.last_sent.is_none_or(|at| at.elapsed() >= THROTTLE) {
            self.send(None);
        }
    }

    pub fn phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.send(None);
    }

    pub fn failed(&mut self, reason: &str) {
        self.phase = Phase::Failed;
        self.send(Some(reason.to_owned()));
    }

    fn send(&mut self, error: Option<String>) {
        self.last_sent = Some(Instant::now());
        self.hub.send(ImportProgress {
            image_id: self.image_id.clone(),
            phase: self.phase,
            bytes: self.bytes,
            total: self.total,
            rate: self.rate,
            error,
        });
    }
}
