//! Recorded serial console sessions, for replay (`consoleRecording`).

use async_graphql::{ComplexObject, Context, Result, SimpleObject, ID};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use distribox_commands::ErrorCode;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::ApiError;
use crate::recordings::{self, FrameRow, RecordingRow};

/// Most frames one request returns.
const MAX_FRAMES: i32 = 5_000;

/// A serial console session as the viewer saw it (typed commands as the guest echoed them),
/// with the time of each piece.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ConsoleRecording {
    /// The `session` of the VM's `ConsoleOpened` and `ConsoleClosed` events.
    pub session: ID,
    pub vm_id: ID,
    pub started_at: DateTime<Utc>,
    /// Null while the session is open.
    pub finished_at: Option<DateTime<Utc>>,
    /// Bytes the recorder could not keep up with (the console itself lost nothing).
    pub lost_bytes: i64,
    #[graphql(skip)]
    session_id: Uuid,
}

#[ComplexObject]
impl ConsoleRecording {
    /// Frames in order, from sequence number `from` on; page with the last `seq` + 1.
    async fn frames(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] from: i64,
        #[graphql(default = 1000)] first: i32,
    ) -> Result<Vec<ConsoleFrame>> {
        if from < 0 {
            return Err(
                ApiError::new(ErrorCode::BadInput, "from must not be negative")
                    .in_field("from")
                    .into(),
            );
        }
        let first = super::page_size(first, 1..=MAX_FRAMES)?;
        let state = ctx.data::<AppState>()?;
        let rows = recordings::frames(&state.pool, self.session_id, from, first).await?;
        Ok(rows.into_iter().map(ConsoleFrame::from).collect())
    }
}

impl From<RecordingRow> for ConsoleRecording {
    fn from(row: RecordingRow) -> Self {
        Self {
            session: ID(row.session_id.to_string()),
            vm_id: ID(row.vm_id.to_string()),
            started_at: row.started_at,
            finished_at: row.finished_at,
            lost_bytes: row.lost_bytes,
            session_id: row.session_id,
        }
    }
}

#[derive(SimpleObject)]
pub struct ConsoleFrame {
    pub seq: i64,
    /// Milliseconds since the session opened.
    pub at_ms: i64,
    /// The bytes as UTF-8 (invalid sequences replaced), for reading.
    pub text: String,
    /// The exact bytes, base64-encoded, for a terminal to replay.
    pub base64: String,
}

impl From<FrameRow> for ConsoleFrame {
    fn from(row: FrameRow) -> Self {
        Self {
            seq: row.seq,
            at_ms: row.at_ms,
            text: String::from_utf8_lossy(&row.data).into_owned(),
            base64: STANDARD.encode(&row.data),
        }
    }
}
