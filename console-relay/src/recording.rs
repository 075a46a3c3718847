//! Serial console sessions are recorded as a timestamped transcript of what the viewer was
//! shown, for audit and replay. What was typed shows in it as the guest echoed it; keystrokes
//! themselves are not kept, so passwords typed at a prompt that does not echo stay unrecorded.
//! Recording never slows a console down: frames go through a bounded queue to the recorder,
//! and what does not fit is counted as lost rather than waited for.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use uuid::Uuid;

/// One piece of a recorded session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedFrame {
    /// Bytes the viewer was shown, `at_ms` after the session opened.
    Output { at_ms: u64, data: Vec<u8> },
    /// The session ended; `lost_bytes` did not fit in the recorder's queue.
    Finished { lost_bytes: u64 },
}

/// Where recordings are stored (PostgreSQL, in the binary).
pub trait ConsoleRecorder: Send + Sync + 'static {
    /// Starts recording `session` on `vm`: frames sent through the returned queue are stored in
    /// order, up to the closing [`RecordedFrame::Finished`].
    fn start(&self, session: Uuid, vm: Uuid) -> mpsc::Sender<RecordedFrame>;
}

/// How long a finished session waits for room for its closing frame.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// A session being recorded.
pub(crate) struct Recording {
    frames: mpsc::Sender<RecordedFrame>,
    started: Instant,
    lost_bytes: u64,
}

impl Recording {
    pub(crate) fn new(frames: mpsc::Sender<RecordedFrame>) -> Self {
        Self {
            frames,
            started: Instant::now(),
            lost_bytes: 0,
        }
    }

    fn at_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub(crate) fn output(&mut self, data: &[u8]) {
        let frame = RecordedFrame::Output {
            at_ms: self.at_ms(),
            data: data.to_vec(),
        };
        self.push(frame, data.len());
    }

    fn push(&mut self, frame: RecordedFrame, len: usize) {
        if self.frames.try_send(frame).is_err() {
            self.lost_bytes += len as u64;
        }
    }

    pub(crate) async fn finish(self) {
        let finished = RecordedFrame::Finished {
            lost_bytes: self.lost_bytes,
        };
        if tokio::time::timeout(FINISH_WAIT, self.frames.send(finished))
            .await
            .is_err()
        {
            tracing::warn!("a console recording could not be finished in time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_does_not_fit_is_counted_not_waited_for() {
        let (tx, mut rx) = mpsc::channel(2);
        let mut recording = Recording::new(tx);
        recording.output(b"login: ");
        recording.output(b"root\r\n");
        recording.output(b"lost");
        let reader = tokio::spawn(async move {
            let mut frames = Vec::new();
            while let Some(frame) = rx.recv().await {
                frames.push(frame);
            }
            frames
        });
        recording.finish().await;
        let frames = reader.await.unwrap();
        assert!(matches!(&frames[0], RecordedFrame::Output { data, .. } if data == b"login: "));
        assert!(matches!(&frames[1], RecordedFrame::Output { data, .. } if data == b"root\r\n"));
        assert_eq!(frames[2], RecordedFrame::Finished { lost_bytes: 4 });
    }
}
