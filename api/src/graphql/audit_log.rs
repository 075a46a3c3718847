//! The audit log in GraphQL: `auditLog` pages (newest first) and the `auditTail` subscription.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ComplexObject, Context, Json, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use distribox_commands::ErrorCode;

use super::query::parse_id;
use super::recording::ConsoleRecording;
use crate::app::AppState;
use crate::audit_log::{self, AuditFilter, AuditRow};
use crate::error::ApiError;
use crate::recordings;

const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 500;

/// One entry of the audit log: an event of the log, or a refusal (also an event).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AuditEntry {
    /// The event's position in the log.
    pub position: i64,
    /// The entry's place in the hash chain (commit order, no gaps).
    pub chain_index: i64,
    pub at: DateTime<Utc>,
    /// `account:<id>`, `credential:<id>`, `system` or `anonymous`.
    pub actor: String,
    /// The account's username: as the event recorded it, else (for what the system recorded
    /// on an account's behalf, such as its console sessions) as the account is named now.
    pub actor_name: Option<String>,
    pub client_address: Option<String>,
    /// The event's type, e.g. `VmStarted`, `AccessDenied`.
    pub action: String,
    pub vm_id: Option<ID>,
    pub account_id: Option<ID>,
    /// `ok`, `refused` or `failed`.
    pub outcome: String,
    /// The event's payload, secrets removed.
    pub details: Json<serde_json::Value>,
    /// The console session of `ConsoleOpened`/`ConsoleClosed` entries.
    pub session_id: Option<ID>,
}

#[ComplexObject]
impl AuditEntry {
    /// The recorded transcript of this entry's serial console session, if there is one.
    async fn recording(&self, ctx: &Context<'_>) -> Result<Option<ConsoleRecording>> {
        let Some(session) = &self.session_id else {
            return Ok(None);
        };
        let state = ctx.data::<AppState>()?;
        let session = parse_id(session, "session")?;
        let row = recordings::recording(&state.pool, session)
            .await
            .map_err(ApiError::from)?;
        Ok(row.map(ConsoleRecording::from))
    }
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        Self {
            position: row.position,
            chain_index: row.chain_index,
            at: row.at,
            actor: row.actor,
            actor_name: row.actor_name,
            client_address: row.client_address,
            action: row.action,
            vm_id: row.vm_id.map(|id| ID(id.to_string())),
            account_id: row.account_id.map(|id| ID(id.to_string())),
            outcome: row.outcome,
            details: Json(row.details),
            session_id: row.session_id.map(|id| ID(id.to_string())),
        }
    }
}

/// The filters `auditLog` and `auditTail` share.
pub struct AuditArgs {
    pub vm_id: Option<ID>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl AuditArgs {
    pub async fn filter(self, state: &AppState) -> Result<AuditFilter, ApiError> {
        let filter = AuditFilter {
            vm_id: self
                .vm_id
                .map(|id| {
                    id.parse::<uuid::Uuid>().map_err(|_| {
                        ApiError::new(ErrorCode::BadInput, "vmId is not a VM id").in_field("vmId")
                    })
                })
                .transpose()?,
            actor: self.actor,
            action: self.action,
            outcome: self.outcome,
            from: self.from,
            to: self.to,
        };
        audit_log::resolve(filter, &state.pool).await
    }
}

/// A page of `auditLog`: `after` is the cursor of the last entry of the previous page.
pub async fn page(
    state: &AppState,
    args: AuditArgs,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<String, AuditEntry>> {
    let first = super::page_size(first.unwrap_or(DEFAULT_PAGE), 1..=MAX_PAGE)?;
    let before = after
        .as_deref()
        .map(|cursor| {
            cursor
                .parse::<i64>()
                .ok()
                .filter(|index| *index > 0)
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::BadInput, "invalid cursor").in_field("after")
                })
        })
        .transpose()?;
    let filter = args.filter(state).await?;
    let (rows, more) = audit_log::page(&state.pool, &filter, before, first)
        .await
        .map_err(ApiError::from)?;
    let mut connection = Connection::new(before.is_some(), more);
    connection.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(row.chain_index.to_string(), AuditEntry::from(row))),
    );
    Ok(connection)
}
