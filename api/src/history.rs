//! One VM's history (`Vm.events`): its own events from the event log, newest first, each with
//! who caused it and a line a person can read.
//!
//! Read straight from `events` rather than a read model: the log already is the history, and
//! the primary key (aggregate, id, sequence) serves each page.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use distribox_domain::console::ConsoleKind;
use distribox_domain::vm::{StopReason, Vm, VmEvent};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, sqlx::FromRow)]
pub struct HistoryRow {
    pub position: i64,
    pub sequence: i64,
    pub at: DateTime<Utc>,
    pub event: String,
    /// The account's current username, else the one recorded, else the recorded label
    /// (`credential:<id>`, `system`).
    pub actor: String,
    pub payload: Json<serde_json::Value>,
}

/// Whose console sessions a reader of a VM's history sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consoles {
    /// Everyone's: auditors.
    All,
    /// Only the sessions opened by this principal (`account:<id>`): who else watches a VM is
    /// the audit log's business.
    Of(String),
}

/// Up to `first` of VM `vm`'s events with a sequence below `before` (all if `None`), newest
/// first, with the console sessions `consoles` allows.
///
/// Consoles are recorded by Distribox itself, so their actor is the principal in the event (the
/// account or credential that opened the console; for a close, the one that opened it), not the
/// metadata's `system`.
pub async fn vm_history(
    pool: &PgPool,
    vm: Uuid,
    before: Option<i64>,
    first: i64,
    consoles: &Consoles,
) -> Result<Vec<HistoryRow>, ApiError> {
    let only = match consoles {
        Consoles::All => None,
        Consoles::Of(principal) => Some(principal.as_str()),
    };
    Ok(sqlx::query_as(
        "SELECT e.global_position AS position, e.sequence, e.recorded_at AS at,
                e.event_type AS event, e.payload,
                coalesce(a.username, e.metadata->>'actor_name', w.who, 'system') AS actor
           FROM events e
          CROSS JOIN LATERAL (
                SELECT coalesce(
                    e.payload->'ConsoleOpened'->>'principal',
                    (SELECT o.payload->'ConsoleOpened'->>'principal' FROM events o
                      WHERE e.event_type = 'ConsoleClosed'
                        AND o.aggregate_type = e.aggregate_type
                        AND o.aggregate_id = e.aggregate_id
                        AND o.event_type = 'ConsoleOpened'
                        AND o.sequence < e.sequence
                        AND o.payload->'ConsoleOpened'->>'session'
                            = e.payload->'ConsoleClosed'->>'session'
                      ORDER BY o.sequence DESC
                      LIMIT 1),
                    e.metadata->>'actor') AS who) w
           LEFT JOIN accounts a
                  ON a.id = CASE WHEN w.who ~ '^account:[0-9a-f-]{36}$'
                                 THEN substr(w.who, 9)::uuid END
          WHERE e.aggregate_type = $1 AND e.aggregate_id = $2
            AND ($3::bigint IS NULL OR e.sequence < $3)
            AND ($5::text IS NULL OR e.event_type NOT IN ('ConsoleOpened', 'ConsoleClosed')
                 OR w.who = $5)
          ORDER BY e.sequence DESC
          LIMIT $4",
    )
    .bind(Vm::TYPE)
    .bind(vm.to_string())
    .bind(before)
    .bind(first)
    .bind(only)
    .fetch_all(pool)
    .await?)
}

/// A short summary of a stored event for people; empty when its type says it all (or for a
/// payload this version cannot read).
///
/// Built per event rather than by showing the payload, which holds what must not be shown
/// (credential secret hashes, cloud-init password hashes).
pub fn detail(payload: serde_json::Value) -> String {
    serde_json::from_value::<VmEvent>(payload)
        .map(|event| summary(&event))
        .unwrap_or_default()
}

fn size(vcpus: u32, memory_mib: u64, disk_gib: u64) -> String {
    format!("{vcpus} vCPU, {memory_mib} MiB, {disk_gib} GiB")
}

fn summary(event: &VmEvent) -> String {
    match event {
        VmEvent::VmCreated { spec, image, .. } => format!(
            "{} from {image}: {}",
            spec.name.as_str(),
            size(spec.vcpus, spec.memory_mib, spec.disk_gib)
        ),
        VmEvent::VmProvisionFailed { reason }
        | VmEvent::VmStartFailed { reason }
        | VmEvent::VmActionFailed { reason }
        | VmEvent::VmSnapshotFailed { reason, .. }
        | VmEvent::VmSnapshotRevertFailed { reason, .. } => reason.clone(),
        VmEvent::VmShutdownTimedOut { grace_secs } => {
            format!("still running after {grace_secs} s")
        }
        VmEvent::VmStopped { reason } => match reason {
            StopReason::Forced => "forced off",
            StopReason::Guest => "the guest powered off",
            StopReason::Crashed => "crashed",
            StopReason::External => "stopped outside Distribox",
        }
        .to_owned(),
        VmEvent::VmRenamed { name } => format!("to {}", name.as_str()),
        VmEvent::VmPausedOutside { reason } => reason.describe().to_owned(),
        VmEvent::VmLabelsSet { labels } => {
            let tags = labels.tags.join(", ");
            match (&labels.note, tags.is_empty()) {
                (Some(note), true) => format!("note: {note}"),
                (Some(note), false) => format!("tags: {tags}; note: {note}"),
                (None, false) => format!("tags: {tags}"),
                (None, true) => "labels cleared".to_owned(),
            }
        }
        VmEvent::VmResized {
            vcpus,
            memory_mib,
            disk_gib,
        } => size(*vcpus, *memory_mib, *disk_gib),
        VmEvent::VmCloned { from } => format!("from VM {from}"),
        VmEvent::VmAdopted { running: true } => "found running".to_owned(),
        VmEvent::VmAdopted { running: false } => "found stopped".to_owned(),
        VmEvent::VmSnapshotRequested {
            name, with_memory, ..
        } => match with_memory {
            true => format!("{name}, with memory"),
            false => name.clone(),
        },
        VmEvent::VmSnapshotTaken { id }
        | VmEvent::VmSnapshotRevertRequested { id }
        | VmEvent::VmSnapshotReverted { id, .. }
        | VmEvent::VmSnapshotDeleteRequested { id }
        | VmEvent::VmSnapshotDeleted { id } => format!("snapshot {id}"),
        VmEvent::VmCredentialIssued {
            name, expires_at, ..
        } => match expires_at {
            Some(at) => format!("{name}, expires {}", at.to_rfc3339()),
            None => name.clone(),
        },
        VmEvent::VmCredentialRevoked { id } => format!("credential {id}"),
        VmEvent::ConsoleOpened {
            kind, view_only, ..
        } => {
            let kind = match kind {
                ConsoleKind::Serial => "serial console",
                ConsoleKind::Vnc => "graphical console",
            };
            match view_only {
                true => format!("{kind}, view only"),
                false => kind.to_owned(),
            }
        }
        VmEvent::ConsoleClosed {
            reason,
            duration_ms,
            ..
        } => format!("{reason} after {} s", duration_ms / 1000),
        VmEvent::VmProvisioned
        | VmEvent::VmStartRequested
        | VmEvent::VmStarted
        | VmEvent::VmForceStopRequested
        | VmEvent::VmShutdownRequested
        | VmEvent::VmRebootRequested
        | VmEvent::VmRebooted
        | VmEvent::VmPauseRequested
        | VmEvent::VmPaused
        | VmEvent::VmResumeRequested
        | VmEvent::VmResumed
        | VmEvent::VmStartedOutside
        | VmEvent::VmDeleteRequested
        | VmEvent::VmDeleted => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_say_what_happened_and_keep_secrets_out() {
        let issued = VmEvent::VmCredentialIssued {
            id: Uuid::nil(),
            name: "lab pc".to_owned(),
            secret_hash: "c2VjcmV0IGhhc2g".to_owned(),
            issued_at: Utc::now(),
            expires_at: None,
        };
        assert_eq!(detail(serde_json::to_value(issued).unwrap()), "lab pc");
        let stopped = VmEvent::VmStopped {
            reason: StopReason::Guest,
        };
        assert_eq!(
            detail(serde_json::to_value(stopped).unwrap()),
            "the guest powered off"
        );
        assert_eq!(detail(json!("VmStarted")), "");
        assert_eq!(detail(json!({ "NoSuchEvent": {} })), "");
    }
}
