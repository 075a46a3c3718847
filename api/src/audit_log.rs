//! The audit log for the API: filters checked and resolved (a username becomes its account's
//! label, so the actor index serves it), and exports streamed.

use distribox_commands::ErrorCode;
use distribox_projections::read_models::audit::OUTCOMES;
use distribox_projections::read_models::audit_query::oldest_first;
pub use distribox_projections::read_models::audit_query::{entry, page, AuditFilter, AuditRow};
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use crate::error::ApiError;

/// Checks the values; an actor given as a username becomes its account's label (an unknown
/// username matches nothing).
pub async fn resolve(mut filter: AuditFilter, pool: &PgPool) -> Result<AuditFilter, ApiError> {
    if let Some(outcome) = &filter.outcome {
        if !OUTCOMES.contains(&outcome.as_str()) {
            return Err(ApiError::new(
                ErrorCode::BadInput,
                format!("outcome must be one of {}", OUTCOMES.join(", ")),
            )
            .in_field("outcome"));
        }
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from >= to {
            return Err(ApiError::new(ErrorCode::BadInput, "to must be after from").in_field("to"));
        }
    }
    if let Some(actor) = &filter.actor {
        let labelled = actor == "system"
            || actor == "anonymous"
            || actor.starts_with("account:")
            || actor.starts_with("credential:");
        if !labelled {
            let id: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM accounts WHERE username = $1")
                    .bind(actor)
                    .fetch_optional(pool)
                    .await?;
            filter.actor = Some(match id {
                Some(id) => format!("account:{id}"),
                None => format!("account:unknown:{actor}"),
            });
        }
    }
    Ok(filter)
}

/// Every matching entry, oldest first, as rows arrive from PostgreSQL: an export of millions
/// of entries never sits in memory, and a reader that stops reading stops the query (the
/// channel is bounded).
pub fn stream(pool: PgPool, filter: AuditFilter) -> ReceiverStream<Result<AuditRow, sqlx::Error>> {
    let (rows_out, rows_in) = mpsc::channel(256);
    tokio::spawn(async move {
        let mut sql = oldest_first(&filter);
        let mut rows = sql.build_query_as::<AuditRow>().fetch(&pool);
        while let Some(row) = rows.next().await {
            let failed = row.is_err();
            // Stop when the client has gone, or after passing the error on.
            if rows_out.send(row).await.is_err() || failed {
                break;
            }
        }
    });
    ReceiverStream::new(rows_in)
}
