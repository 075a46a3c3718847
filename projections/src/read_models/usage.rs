//! The usage read model: from the event log, the exact stretches of time each VM's domain was
//! powered (with the size it had then) and each console session lasted, plus the names reports
//! show. Times are the events' `recorded_at` (when the transaction that wrote them began), so a
//! report for any past period, or "as of" any past moment, comes out the same whenever it is
//! asked for.

use async_trait::async_trait;
use cqrs_es::Aggregate;
use distribox_domain::account::{Account, AccountEvent};
use distribox_domain::vm::{Power, Vm, VmEvent};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::runner::Projection;
use crate::{ProjectionError, StoredEvent};

/// Builds `usage_vms`, `usage_vm_runs`, `usage_console_sessions`, `usage_accounts` and
/// `usage_credentials`. Nothing else writes them, so the model can be rebuilt from the log.
pub struct UsageProjection;

#[async_trait]
impl Projection for UsageProjection {
    fn name(&self) -> &'static str {
        "usage"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "usage_vms",
            "usage_vm_runs",
            "usage_console_sessions",
            "usage_accounts",
            "usage_credentials",
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type == Vm::TYPE {
            let vm = event.aggregate_uuid()?;
            apply_vm(tx, vm, &event.decode::<VmEvent>()?, event).await
        } else if event.aggregate_type == Account::TYPE {
            if let AccountEvent::AccountCreated { username, .. } = event.decode()? {
                sqlx::query(
                    "INSERT INTO usage_accounts (account_id, username) VALUES ($1, $2)
                     ON CONFLICT (account_id) DO UPDATE SET username = excluded.username",
                )
                .bind(event.aggregate_uuid()?)
                .bind(username.as_str())
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        } else {
            Ok(())
        }
    }
}

async fn apply_vm(
    tx: &mut PgConnection,
    vm: Uuid,
    event: &VmEvent,
    stored: &StoredEvent,
) -> Result<(), ProjectionError> {
    let at = stored.recorded_at;
    match event {
        VmEvent::VmCreated { spec, owner, .. } => {
            let owner: Uuid = owner.parse().map_err(|_| {
                ProjectionError::Other(format!("VM {vm} has an owner that is not an id: {owner}"))
            })?;
            sqlx::query(
                "INSERT INTO usage_vms (vm_id, name, owner, vcpus, memory_mib)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (vm_id) DO NOTHING",
            )
            .bind(vm)
            .bind(spec.name.as_str())
            .bind(owner)
            .bind(spec.vcpus as i32)
            .bind(spec.memory_mib as i64)
            .execute(&mut *tx)
            .await?;
        }
        VmEvent::VmRenamed { name } => {
            sqlx::query("UPDATE usage_vms SET name = $2 WHERE vm_id = $1")
                .bind(vm)
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
        }
        // Only a stopped VM can be resized: the new size counts from its next start.
        VmEvent::VmResized {
            vcpus, memory_mib, ..
        } => {
            sqlx::query("UPDATE usage_vms SET vcpus = $2, memory_mib = $3 WHERE vm_id = $1")
                .bind(vm)
                .bind(*vcpus as i32)
                .bind(*memory_mib as i64)
                .execute(&mut *tx)
                .await?;
        }
        VmEvent::VmCredentialIssued { id, name, .. } => {
            sqlx::query(
                "INSERT INTO usage_credentials (credential_id, vm_id, name) VALUES ($1, $2, $3)
                 ON CONFLICT (credential_id) DO NOTHING",
            )
            .bind(id)
            .bind(vm)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        VmEvent::ConsoleOpened {
            session,
            principal,
            kind,
            ..
        } => {
            sqlx::query(
                "INSERT INTO usage_console_sessions (session_id, vm_id, principal, kind, opened_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(session)
            .bind(vm)
            .bind(principal)
            .bind(kind.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        VmEvent::ConsoleClosed {
            session,
            bytes_in,
            bytes_out,
            ..
        } => {
            // A session the VM's stop already ended keeps that end.
            sqlx::query(
                "UPDATE usage_console_sessions
                    SET closed_at = coalesce(closed_at, $2), bytes_in = $3, bytes_out = $4
                  WHERE session_id = $1",
            )
            .bind(session)
            .bind(at)
            .bind(*bytes_in as i64)
            .bind(*bytes_out as i64)
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    match event.power() {
        Some(Power::On) => {
            sqlx::query(
                "INSERT INTO usage_vm_runs (vm_id, started_at, vcpus, memory_mib)
                 SELECT vm_id, $2, vcpus, memory_mib FROM usage_vms WHERE vm_id = $1
                 ON CONFLICT DO NOTHING",
            )
            .bind(vm)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        Some(Power::Off) => {
            sqlx::query(
                "UPDATE usage_vm_runs SET stopped_at = $2 WHERE vm_id = $1 AND stopped_at IS NULL",
            )
            .bind(vm)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            // No console outlives its domain, even when its close was never recorded (the
            // server stopped with the session open).
            sqlx::query(
                "UPDATE usage_console_sessions SET closed_at = $2
                  WHERE vm_id = $1 AND closed_at IS NULL",
            )
            .bind(vm)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        None => {}
    }
    Ok(())
}
