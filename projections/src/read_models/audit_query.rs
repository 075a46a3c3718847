//! Reading the audit log: filtered pages, newest first by chain index (commit order, so a
//! cursor never skips an entry that committed late), and the same filters oldest first for
//! exports. Each filter is a plain `AND` on an indexed column.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// One entry of the audit log.
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
    /// `account:<id>`, `credential:<id>`, `system` or `anonymous`.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
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

/// `actor_name` is what the event recorded, else the account's current username: entries the
/// system recorded for an account name it too — a console session's opening by its principal,
/// its close by whoever opened it.
const COLUMNS: &str = "SELECT chain_index, position, at, actor, \
       coalesce(actor_name, (SELECT username FROM accounts \
           WHERE id = CASE WHEN w.who ~ '^account:[0-9a-f-]{36}$' \
                           THEN substr(w.who, 9)::uuid END)) AS actor_name, \
       client_address, action, vm_id, account_id, outcome, details, session_id \
       FROM audit_log \
       CROSS JOIN LATERAL (SELECT CASE WHEN action = 'ConsoleClosed' THEN \
           (SELECT o.actor FROM audit_log o WHERE o.session_id = audit_log.session_id \
               AND o.action = 'ConsoleOpened' LIMIT 1) \
           ELSE actor END AS who) w";

/// Up to `first` entries older than `before` (a chain index), newest first, and whether there
/// are more.
pub async fn page(
    pool: &PgPool,
    filter: &AuditFilter,
    before: Option<i64>,
    first: i64,
) -> Result<(Vec<AuditRow>, bool), sqlx::Error> {
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

/// The entry at `chain_index` if it passes the filters (for the live tail: the same filter
/// SQL as the pages, so the two never disagree).
pub async fn entry(
    pool: &PgPool,
    filter: &AuditFilter,
    chain_index: i64,
) -> Result<Option<AuditRow>, sqlx::Error> {
    let mut sql = QueryBuilder::new(COLUMNS);
    filter.push_where(&mut sql);
    sql.push(" AND chain_index = ").push_bind(chain_index);
    sql.build_query_as().fetch_optional(pool).await
}

/// Every matching entry, oldest first (for an export to stream).
pub fn oldest_first(filter: &AuditFilter) -> QueryBuilder<'static, Postgres> {
    let mut sql = QueryBuilder::new(COLUMNS);
    filter.push_where(&mut sql);
    sql.push(" ORDER BY chain_index");
    sql
}
