//! Reading the audit log (the `audit_log` read model): filtered pages, newest first by chain
//! index (commit order, so a cursor never skips an entry that committed late), and the same
//! filters streamed oldest first for exports.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::{PgPool, Postgres, QueryBuilder};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use distribox_commands::ErrorCode;

use crate::error::ApiError;

/// One entry as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AuditRow {
    pub chain_index: i64,
    pub position: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_name: Option<String>,
    pub client_address: Option<String>,
    pub action: String,
    pub vm_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub outcome: String,
    pub details: serde_json::Value,
    pub session_id: Option<Uuid>,
}

/// What to show; every filter is optional and they combine with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub vm_id: Option<Uuid>,
    /// `account:<id>`, `credential:<id>`, `system`, `anonymous` or a username.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

const OUTCOMES: &[&str] = &["ok", "refused", "failed"];

impl AuditFilter {
    /// Checks the values; a username actor becomes its account's label, so the filter uses the
    /// actor index (an unknown username matches nothing).
    pub async fn resolve(mut self, pool: &PgPool) -> Result<Self, ApiError> {
        if let Some(outcome) = &self.outcome {
            if !OUTCOMES.contains(&outcome.as_str()) {
                return Err(ApiError::new(
                    ErrorCode::BadInput,
                    format!("outcome must be one of {}", OUTCOMES.join(", ")),
                )
                .in_field("outcome"));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                return Err(
                    ApiError::new(ErrorCode::BadInput, "to must be after from").in_field("to")
                );
            }
        }
        if let Some(actor) = &self.actor {
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
                self.actor = Some(match id {
                    Some(id) => format!("account:{id}"),
                    None => format!("account:unknown:{actor}"),
                });
            }
        }
        Ok(self)
    }

    /// Whether `row` passes the filters (the live tail checks each new entry).
    pub fn matches(&self, row: &AuditRow) -> bool {
        self.vm_id.is_none_or(|vm| row.vm_id == Some(vm))
            && self.actor.as_ref().is_none_or(|actor| &row.actor == actor)
            && self
                .action
                .as_ref()
                .is_none_or(|action| &row.action == action)
            && self
                .outcome
                .as_ref()
                .is_none_or(|outcome| &row.outcome == outcome)
            && self.from.is_none_or(|from| row.at >= from)
            && self.to.is_none_or(|to| row.at < to)
    }

    fn push_where(&self, sql: &mut QueryBuilder<'_, Postgres>) {
        sql.push(" WHERE true");
        if let Some(vm) = self.vm_id {
            sql.push(" AND vm_id = ").push_bind(vm);
        }
        if let Some(actor) = &self.actor {
            sql.push(" AND actor = ").push_bind(actor.clone());
        }
        if let Some(action) = &self.action {
            sql.push(" AND action = ").push_bind(action.clone());
        }
        if let Some(outcome) = &self.outcome {
            sql.push(" AND outcome = ").push_bind(outcome.clone());
        }
        if let Some(from) = self.from {
            sql.push(" AND at >= ").push_bind(from);
        }
        if let Some(to) = self.to {
            sql.push(" AND at < ").push_bind(to);
        }
    }
}

const COLUMNS: &str =
    "SELECT chain_index, position, at, actor, actor_name, client_address, action, \
                       vm_id, account_id, outcome, details, session_id FROM audit_log";

/// Up to `first` entries older than `before` (a chain index), newest first, and whether there
/// are more.
pub async fn page(
    pool: &PgPool,
    filter: &AuditFilter,
    before: Option<i64>,
    first: i64,
) -> Result<(Vec<AuditRow>, bool), ApiError> {
    let mut sql = QueryBuilder::new(COLUMNS);
    filter.push_where(&mut sql);
    if let Some(before) = before {
        sql.push(" AND chain_index < ").push_bind(before);
    }
    sql.push(" ORDER BY chain_index DESC LIMIT ")
        .push_bind(first + 1);
    let mut rows: Vec<AuditRow> = sql.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

/// One entry by chain index (for the live tail).
pub async fn entry(pool: &PgPool, chain_index: i64) -> Result<Option<AuditRow>, ApiError> {
    let mut sql = QueryBuilder::new(COLUMNS);
    sql.push(" WHERE chain_index = ").push_bind(chain_index);
    Ok(sql.build_query_as().fetch_optional(pool).await?)
}

/// Every matching entry, oldest first, as rows arrive from PostgreSQL: an export of millions
/// of entries never sits in memory, and a reader that stops reading stops the query (the
/// channel is bounded).
pub fn stream(pool: PgPool, filter: AuditFilter) -> ReceiverStream<Result<AuditRow, sqlx::Error>> {
    let (rows_out, rows_in) = mpsc::channel(256);
    tokio::spawn(async move {
        let mut sql = QueryBuilder::new(COLUMNS);
        filter.push_where(&mut sql);
        sql.push(" ORDER BY chain_index");
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
