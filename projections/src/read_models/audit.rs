//! The `audit_log` table: every event of the log as an audit entry (who, from where, what, on
//! which VM or account, with what outcome), chained by hash so that a changed, removed or
//! inserted event is detected (`verify`).

use std::sync::Mutex;

use async_trait::async_trait;
use futures::TryStreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::runner::Projection;
use crate::{ProjectionError, StoredEvent};

/// Event types that record something turned down.
const REFUSALS: &[&str] = &[
    "LoginFailed",
    "UnknownAccountLogin",
    "LoginThrottled",
    "CredentialRefused",
    "AccessDenied",
];

/// Event types that record libvirt refusing what was asked.
const FAILURES: &[&str] = &["VmStartFailed"];

/// What an entry's outcome can be: done, turned down (a login or request), or refused by
/// libvirt.
pub const OUTCOMES: [&str; 3] = [OK, REFUSED, FAILED];
const OK: &str = "ok";
const REFUSED: &str = "refused";
const FAILED: &str = "failed";

/// The hash of the chain before its first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// A new entry, for the live tail.
#[derive(Debug, Clone)]
pub struct AuditAppended {
    pub chain_index: i64,
}

/// One row of `audit_log`, waiting for its batch's insert.
struct Row {
    chain_index: i64,
    position: i64,
    at: chrono::DateTime<chrono::Utc>,
    entry: AuditEntry,
    hash: [u8; 32],
}

/// Builds `audit_log` and tells subscribers about new entries once they commit. Rows are
/// gathered per batch and inserted in one statement (`flush`): a rebuild over millions of
/// events is bound by hashing and one insert per 500 events, not by a round trip per event.
pub struct AuditLogProjection {
    appended: broadcast::Sender<AuditAppended>,
    /// The last entry applied in the batch in progress: (chain index, hash).
    head: Mutex<Option<(i64, [u8; 32])>>,
    rows: Mutex<Vec<Row>>,
    pending: Mutex<Vec<AuditAppended>>,
}

impl AuditLogProjection {
    pub fn new() -> Self {
        Self {
            appended: broadcast::channel(1024).0,
            head: Mutex::new(None),
            rows: Mutex::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AuditAppended> {
        self.appended.subscribe()
    }
}

impl Default for AuditLogProjection {
    fn default() -> Self {
        Self::new()
    }
}

/// The next link of the chain: SHA-256 over the previous hash and everything stored about the
/// event. JSON is hashed in serde_json's canonical form (keys sorted), so the hash does not
/// depend on how PostgreSQL hands the text back.
pub fn link(previous: &[u8; 32], event: &StoredEvent) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    for part in [
        event.global_position.to_string().as_str(),
        event.aggregate_type.as_str(),
        event.aggregate_id.as_str(),
        event.sequence.to_string().as_str(),
        event.event_type.as_str(),
        serde_json::to_string(&event.payload)
            .unwrap_or_default()
            .as_str(),
        serde_json::to_string(&event.metadata)
            .unwrap_or_default()
            .as_str(),
        event.recorded_at.timestamp_micros().to_string().as_str(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// What one event says for the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub actor: String,
    pub actor_name: Option<String>,
    pub client_address: Option<String>,
    pub action: String,
    pub vm_id: Option<Uuid>,
    pub account_id: Option<Uuid>,
    pub outcome: &'static str,
    pub details: Value,
    pub session_id: Option<Uuid>,
}

impl AuditEntry {
    pub fn of(event: &StoredEvent) -> Self {
        let id = event.aggregate_id.parse::<Uuid>().ok();
        let body = event
            .payload
            .as_object()
            .and_then(|variant| variant.values().next())
            .cloned()
            .unwrap_or(Value::Null);
        // Consoles are recorded by Distribox itself; who opened one is in the event.
        let principal = body.get("principal").and_then(Value::as_str);
        let actor = principal
            .or_else(|| event.actor())
            .unwrap_or("system")
            .to_owned();
        let meta = |key: &str| {
            event
                .metadata
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Self {
            actor_name: meta("actor_name").filter(|_| principal.is_none()),
            client_address: meta("client_addr"),
            action: event.event_type.clone(),
            vm_id: id.filter(|_| event.aggregate_type == "Vm"),
            account_id: id.filter(|_| event.aggregate_type == "Account"),
            outcome: if REFUSALS.contains(&event.event_type.as_str()) {
                REFUSED
            } else if FAILURES.contains(&event.event_type.as_str()) {
                FAILED
            } else {
                OK
            },
            session_id: body
                .get("session")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            details: without_secrets(body),
            actor,
        }
    }
}

/// The payload with every secret-looking field removed (credential and password hashes):
/// the audit log is read by more people than the event store.
fn without_secrets(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(key, _)| {
                    let key = key.to_ascii_lowercase();
                    !(key.contains("hash") || key.contains("password") || key.contains("secret"))
                })
                .map(|(key, value)| (key, without_secrets(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_secrets).collect()),
        other => other,
    }
}

#[async_trait]
impl Projection for AuditLogProjection {
    fn name(&self) -> &'static str {
        "audit_log"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["audit_log"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let head = *self.head.lock().unwrap_or_else(|p| p.into_inner());
        let (index, previous) = match head {
            Some(head) => head,
            None => last_link(tx).await?,
        };
        let hash = link(&previous, event);
        self.rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Row {
                chain_index: index + 1,
                position: event.global_position,
                at: event.recorded_at,
                entry: AuditEntry::of(event),
                hash,
            });
        *self.head.lock().unwrap_or_else(|p| p.into_inner()) = Some((index + 1, hash));
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(AuditAppended {
                chain_index: index + 1,
            });
        Ok(())
    }

    async fn flush(&self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        let rows = std::mem::take(&mut *self.rows.lock().unwrap_or_else(|p| p.into_inner()));
        if rows.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&Row) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO audit_log (chain_index, position, at, actor, actor_name, client_address,
                                    action, vm_id, account_id, outcome, details, session_id, hash)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::timestamptz[], $4::text[],
                                  $5::text[], $6::text[], $7::text[], $8::uuid[], $9::uuid[],
                                  $10::text[], $11::jsonb[], $12::uuid[], $13::bytea[])",
        )
        .bind(rows.iter().map(|r| r.chain_index).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.position).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
        .bind(column(|r| Some(r.entry.actor.clone())))
        .bind(column(|r| r.entry.actor_name.clone()))
        .bind(column(|r| r.entry.client_address.clone()))
        .bind(column(|r| Some(r.entry.action.clone())))
        .bind(rows.iter().map(|r| r.entry.vm_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.entry.account_id).collect::<Vec<_>>())
        .bind(column(|r| Some(r.entry.outcome.to_owned())))
        .bind(
            rows.iter()
                .map(|r| r.entry.details.clone())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.entry.session_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.hash.to_vec()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    fn committed(&self) {
        let appended: Vec<_> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for entry in appended {
            // Nobody listening is fine.
            let _ = self.appended.send(entry);
        }
    }

    fn discarded(&self) {
        // The batch rolled back: the head is what the table says again.
        *self.head.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.rows.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The chain's last (index, hash), or (0, genesis) when it is empty.
async fn last_link(tx: &mut PgConnection) -> Result<(i64, [u8; 32]), ProjectionError> {
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT chain_index, hash FROM audit_log ORDER BY chain_index DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    match row {
        None => Ok((0, GENESIS)),
        Some((index, hash)) => {
            let hash = hash.try_into().map_err(|_| {
                ProjectionError::Other(format!("audit entry {index} has a bad hash"))
            })?;
            Ok((index, hash))
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry matches its event: `entries` of them.
    Intact { entries: i64 },
    /// The first place the log and the chain disagree.
    Broken {
        chain_index: i64,
        position: Option<i64>,
        problem: String,
    },
}

const VERIFY_EVENTS: &str = concat!(
    "SELECT ",
    crate::runner::event_columns!(),
    "
  FROM events
 WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
 ORDER BY events.tx_id, events.global_position"
);

/// Recomputes the chain from the event log and compares it with `audit_log`, entry by entry,
/// streaming both (constant memory over millions of events). Events the projection has not
/// reached yet are not errors.
pub async fn verify(pool: &PgPool) -> Result<Verdict, ProjectionError> {
    let mut events = sqlx::query_as::<_, StoredEvent>(VERIFY_EVENTS).fetch(pool);
    let mut chain = sqlx::query_as::<_, (i64, i64, Vec<u8>)>(
        "SELECT chain_index, position, hash FROM audit_log ORDER BY chain_index",
    )
    .fetch(pool);
    let mut previous = GENESIS;
    let mut index = 0_i64;
    while let Some((chain_index, position, stored)) = chain.try_next().await? {
        index += 1;
        if chain_index != index {
            return Ok(Verdict::Broken {
                chain_index: index,
                position: None,
                problem: format!("audit entry {index} is missing"),
            });
        }
        let Some(event) = events.try_next().await? else {
            return Ok(Verdict::Broken {
                chain_index,
                position: Some(position),
                problem: format!("event at position {position} is missing from the log"),
            });
        };
        if event.global_position != position {
            return Ok(Verdict::Broken {
                chain_index,
                position: Some(position),
                problem: format!(
                    "the log has position {} where the chain has {position}: an event was removed or inserted",
                    event.global_position
                ),
            });
        }
        let expected = link(&previous, &event);
        if stored != expected {
            return Ok(Verdict::Broken {
                chain_index,
                position: Some(position),
                problem: format!("event at position {position} was altered"),
            });
        }
        previous = expected;
    }
    Ok(Verdict::Intact { entries: index })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, aggregate_type: &str, payload: Value) -> StoredEvent {
        StoredEvent {
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: "5d1c8f5e-8a43-4d07-9d3b-0c8ad6f6b1a1".to_owned(),
            sequence: 3,
            event_type: event_type.to_owned(),
            payload,
            metadata: json!({ "actor": "account:a1", "actor_name": "ada", "client_addr": "10.0.0.7" }),
            global_position: 42,
            tx_id: 7,
            recorded_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn a_console_is_attributed_to_whoever_opened_it() {
        let session = "0b6f3a52-2b0e-4a4e-9a55-4f0b5d0b9a11";
        let opened = event(
            "ConsoleOpened",
            "Vm",
            json!({ "ConsoleOpened": { "session": session, "principal": "credential:c9", "kind": "Serial" } }),
        );
        let entry = AuditEntry::of(&opened);
        assert_eq!(entry.actor, "credential:c9");
        assert_eq!(entry.actor_name, None);
        assert_eq!(entry.session_id, Some(session.parse().unwrap()));
        assert_eq!(
            entry.vm_id.map(|id| id.to_string()).as_deref(),
            Some(opened.aggregate_id.as_str())
        );
        assert_eq!(entry.outcome, "ok");
    }

    #[test]
    fn refusals_failures_and_secrets() {
        let denied = event(
            "AccessDenied",
            "AccessAttempt",
            json!({ "AccessDenied": { "operation": "accounts", "policy": "users:get", "code": "FORBIDDEN" } }),
        );
        let entry = AuditEntry::of(&denied);
        assert_eq!(
            (entry.outcome, entry.vm_id, entry.account_id),
            ("refused", None, None)
        );
        assert_eq!(entry.actor_name.as_deref(), Some("ada"));
        assert_eq!(entry.client_address.as_deref(), Some("10.0.0.7"));
        assert_eq!(
            AuditEntry::of(&event(
                "VmStartFailed",
                "Vm",
                json!({ "VmStartFailed": { "reason": "no" } })
            ))
            .outcome,
            "failed"
        );
        let issued = event(
            "VmCredentialIssued",
            "Vm",
            json!({ "VmCredentialIssued": { "id": "c9", "name": "lab", "secret_hash": "abc",
                    "seed": { "user": { "password_hash": "x", "name": "u" } } } }),
        );
        let details = AuditEntry::of(&issued).details;
        assert_eq!(
            details,
            json!({ "id": "c9", "name": "lab", "seed": { "user": { "name": "u" } } })
        );
    }

    #[test]
    fn each_link_depends_on_the_event_and_on_the_chain_before_it() {
        let a = event("VmStarted", "Vm", json!("VmStarted"));
        let first = link(&GENESIS, &a);
        assert_eq!(first, link(&GENESIS, &a));
        assert_ne!(first, link(&[1; 32], &a));
        let mut altered = a.clone();
        altered.payload = json!("VmStopped");
        assert_ne!(first, link(&GENESIS, &altered));
        let mut moved = a.clone();
        moved.global_position += 1;
        assert_ne!(first, link(&GENESIS, &moved));
    }
}
