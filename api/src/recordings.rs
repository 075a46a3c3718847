//! Console recordings in PostgreSQL: the relay's [`ConsoleRecorder`], and reading them back.
//!
//! Each session gets a writer task that batches frames (by count or after a short wait), so a
//! flooding console costs a few inserts a second, not one per chunk.

use std::time::Duration;

use chrono::{DateTime, Utc};
use distribox_console_relay::{ConsoleRecorder, RecordedFrame};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Frames queued per session before the relay counts them as lost: with serial reads of at
/// most 16 KiB, at most 4 MiB waiting for a slow database.
const QUEUE_FRAMES: usize = 256;
/// Most frames in one insert.
const BATCH_FRAMES: usize = 256;
/// Longest a frame waits for its batch to fill.
const BATCH_WAIT: Duration = Duration::from_millis(200);
/// Tries at finishing a recording before giving up (1 s, 2 s, … apart).
const FINISH_ATTEMPTS: u32 = 5;

pub struct PgRecorder {
    pool: PgPool,
}

impl PgRecorder {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl ConsoleRecorder for PgRecorder {
    fn start(&self, session: Uuid, vm: Uuid) -> mpsc::Sender<RecordedFrame> {
        let (frames, queue) = mpsc::channel(QUEUE_FRAMES);
        tokio::spawn(write(self.pool.clone(), session, vm, queue));
        frames
    }
}

/// A batch, column by column, as `UNNEST` takes it.
#[derive(Default)]
struct Batch {
    seq: Vec<i64>,
    at_ms: Vec<i64>,
    data: Vec<Vec<u8>>,
}

async fn write(pool: PgPool, session: Uuid, vm: Uuid, mut queue: mpsc::Receiver<RecordedFrame>) {
    let opened = sqlx::query(
        "INSERT INTO console_recordings (session_id, vm_id, started_at) VALUES ($1, $2, now())",
    )
    .bind(session)
    .bind(vm)
    .execute(&pool)
    .await;
    if let Err(err) = opened {
        tracing::error!(%session, error = %err, "cannot record a console session");
        return;
    }
    let mut next_seq = 0i64;
    // Bytes lost here (a failed insert), on top of those the relay could not queue.
    let mut lost_here = 0u64;
    let mut lost_in_relay = 0u64;
    let mut finished = false;
    while !finished {
        let Some(first) = queue.recv().await else {
            break;
        };
        let mut batch = Batch::default();
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        let mut frame = Some(first);
        while let Some(next) = frame.take() {
            let (at_ms, data) = match next {
                RecordedFrame::Output { at_ms, data } => (at_ms, data),
                RecordedFrame::Finished { lost_bytes } => {
                    lost_in_relay = lost_bytes;
                    finished = true;
                    break;
                }
            };
            batch.seq.push(next_seq);
            next_seq += 1;
            batch.at_ms.push(at_ms as i64);
            batch.data.push(data);
            if batch.seq.len() < BATCH_FRAMES {
                frame = tokio::time::timeout_at(deadline, queue.recv())
                    .await
                    .ok()
                    .flatten();
            }
        }
        if batch.seq.is_empty() {
            continue;
        }
        let inserted = sqlx::query(
            "INSERT INTO console_recording_frames (session_id, seq, at_ms, data)
             SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::bytea[])",
        )
        .bind(session)
        .bind(&batch.seq)
        .bind(&batch.at_ms)
        .bind(&batch.data)
        .execute(&pool)
        .await;
        if let Err(err) = inserted {
            tracing::warn!(%session, error = %err, "console recording frames lost");
            lost_here += batch.data.iter().map(|d| d.len() as u64).sum::<u64>();
        }
    }
    // Retried: a recording left unfinished would look open forever, and hide what it lost.
    let lost = (lost_in_relay + lost_here) as i64;
    for attempt in 1..=FINISH_ATTEMPTS {
        let closed = sqlx::query(
            "UPDATE console_recordings SET finished_at = now(), lost_bytes = $2
              WHERE session_id = $1",
        )
        .bind(session)
        .bind(lost)
        .execute(&pool)
        .await;
        match closed {
            Ok(_) => return,
            Err(err) if attempt == FINISH_ATTEMPTS => {
                tracing::error!(%session, error = %err, "cannot finish a console recording");
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(attempt.into())).await,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordingRow {
    pub session_id: Uuid,
    pub vm_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub lost_bytes: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FrameRow {
    pub seq: i64,
    pub at_ms: i64,
    pub data: Vec<u8>,
}

pub async fn recording(pool: &PgPool, session: Uuid) -> sqlx::Result<Option<RecordingRow>> {
    sqlx::query_as(
        "SELECT session_id, vm_id, started_at, finished_at, lost_bytes
         FROM console_recordings WHERE session_id = $1",
    )
    .bind(session)
    .fetch_optional(pool)
    .await
}

/// Up to `limit` frames of `session` from sequence number `from` on.
pub async fn frames(
    pool: &PgPool,
    session: Uuid,
    from: i64,
    limit: i64,
) -> sqlx::Result<Vec<FrameRow>> {
    sqlx::query_as(
        "SELECT seq, at_ms, data FROM console_recording_frames
         WHERE session_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
    )
    .bind(session)
    .bind(from)
    .bind(limit)
    .fetch_all(pool)
    .await
}
