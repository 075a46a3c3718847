use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use distribox_domain::vm::{Vm, VmEvent, VmState};
use sqlx::PgConnection;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::runner::Projection;
use crate::{ProjectionError, StoredEvent};

/// A committed change to one VM, for live subscriptions.
#[derive(Debug, Clone)]
pub struct VmChange {
    pub vm_id: Uuid,
    pub state: VmState,
    pub event: String,
    pub at: DateTime<Utc>,
}

/// The `vms` table: one row per VM that is not deleted, plus live change notices.
pub struct VmsProjection {
    changes: broadcast::Sender<VmChange>,
    /// Changes of the batch in progress, published only once it commits.
    pending: Mutex<Vec<VmChange>>,
}

impl VmsProjection {
    pub fn new() -> Self {
        Self {
            changes: broadcast::channel(1024).0,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Changes as they commit. A receiver that falls more than 1024 behind is told it lagged.
    pub fn subscribe(&self) -> broadcast::Receiver<VmChange> {
        self.changes.subscribe()
    }
}

impl Default for VmsProjection {
    fn default() -> Self {
        Self::new()
    }
}

/// The `vm_credentials` table follows the VM's credential events, in the same transaction as
/// the VM's row, so a mutation that waited for the VM sees its credential too.
async fn project_credentials(
    tx: &mut PgConnection,
    vm: Uuid,
    event: &VmEvent,
    stored: &StoredEvent,
) -> Result<(), ProjectionError> {
    match event {
        VmEvent::VmCredentialIssued {
            id,
            name,
            secret_hash,
            issued_at,
            expires_at,
        } => {
            sqlx::query(
                "INSERT INTO vm_credentials (id, vm_id, name, secret_hash, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(vm)
            .bind(name)
            .bind(secret_hash)
            .bind(issued_at)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        }
        VmEvent::VmCredentialRevoked { id } => {
            sqlx::query("UPDATE vm_credentials SET revoked_at = $2 WHERE id = $1")
                .bind(id)
                .bind(stored.recorded_at)
                .execute(&mut *tx)
                .await?;
        }
        // A deleted VM's credentials open nothing any more.
        VmEvent::VmDeleteRequested => {
            sqlx::query(
                "UPDATE vm_credentials SET revoked_at = $2 WHERE vm_id = $1 AND revoked_at IS NULL",
            )
            .bind(vm)
            .bind(stored.recorded_at)
            .execute(&mut *tx)
            .await?;
        }
        VmEvent::VmDeleted => {
            sqlx::query("DELETE FROM vm_credentials WHERE vm_id = $1")
                .bind(vm)
                .execute(&mut *tx)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

#[async_trait]
impl Projection for VmsProjection {
    fn name(&self) -> &'static str {
        "vms"
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != Vm::TYPE {
            return Ok(());
        }
        let id = event.aggregate_uuid()?;
        let decoded: VmEvent = event.decode()?;
        project_credentials(tx, id, &decoded, event).await?;
        let stored: Option<serde_json::Value> =
            sqlx::query_scalar("SELECT aggregate FROM vms WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let mut vm: Vm = match stored {
            Some(json) => {
                serde_json::from_value(json).map_err(|source| ProjectionError::Decode {
                    position: event.global_position,
                    source,
                })?
            }
            None => Vm::default(),
        };
        vm.apply(decoded);
        self.pending
            .lock()
            .expect("pending changes")
            .push(VmChange {
                vm_id: id,
                state: vm.state(),
                event: event.event_type.clone(),
                at: event.recorded_at,
            });
        if vm.state() == VmState::Deleted {
            sqlx::query("DELETE FROM vms WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            return Ok(());
        }
        let Some(spec) = &vm.spec else {
            return Err(ProjectionError::Other(format!(
                "event {} precedes VmCreated",
                event.global_position
            )));
        };
        let owner: Uuid = vm.owner.parse().unwrap_or(Uuid::nil());
        sqlx::query(
            "INSERT INTO vms (id, name, image, owner, vcpus, memory_mib, disk_gib, state, failure, aggregate,
                              version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
             ON CONFLICT (id) DO UPDATE SET
                 name = excluded.name, vcpus = excluded.vcpus, memory_mib = excluded.memory_mib,
                 disk_gib = excluded.disk_gib, state = excluded.state, failure = excluded.failure,
                 aggregate = excluded.aggregate, version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(spec.name.as_str())
        .bind(&vm.image)
        .bind(owner)
        .bind(spec.vcpus as i32)
        .bind(spec.memory_mib as i64)
        .bind(spec.disk_gib as i64)
        .bind(vm.state().as_str())
        .bind(&vm.failure)
        .bind(serde_json::to_value(&vm).map_err(|e| ProjectionError::Other(e.to_string()))?)
        .bind(event.sequence)
        .bind(event.recorded_at)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    fn committed(&self) {
        for change in self.pending.lock().expect("pending changes").drain(..) {
            // No subscriber is fine.
            let _ = self.changes.send(change);
        }
    }

    fn discarded(&self) {
        self.pending.lock().expect("pending changes").clear();
    }
}
