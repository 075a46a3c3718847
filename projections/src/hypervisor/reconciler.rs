//! Periodic reconciliation of libvirt with the read model, for drift that no lifecycle event
//! reports: a domain undefined behind Distribox's back, or a stop or pause missed while
//! Distribox was down or disconnected. The projector acts on events; this catches what happened without one.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::Aggregate;
use distribox_domain::vm::{Desired, Observed, PauseReason, StopReason, Vm, VmCommand};
use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use super::projector::{load_vm, machine_of, OutcomeReporter};
use super::recoverable::recoverable;
use super::{domain_name, DomainStatus, Hypervisor, HypervisorError, LibvirtHypervisor};
use crate::images::ImageFiles;
use crate::ProjectionError;

/// What one pass changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// VMs whose missing domain was defined again from the log.
    pub redefined: Vec<Uuid>,
    /// VMs recorded as running whose domain was not.
    pub found_stopped: Vec<Uuid>,
    /// VMs recorded as stopped whose domain was running: started outside Distribox.
    pub found_running: Vec<Uuid>,
    /// VMs recorded as running whose domain libvirt had paused.
    pub found_paused: Vec<Uuid>,
    /// VMs recorded as paused whose domain was running again.
    pub found_resumed: Vec<Uuid>,
    /// VMs whose ACPI shutdown outlived its grace period without its timer reporting it (the
    /// timer lives in memory and dies with a restart).
    pub shutdowns_overdue: Vec<Uuid>,
    /// Distribox-made domains with no history, waiting for someone to adopt or discard them.
    pub recoverable: Vec<String>,
}

pub struct Reconciler<R> {
    pool: PgPool,
    hypervisor: LibvirtHypervisor,
    reporter: Arc<R>,
    images: ImageFiles,
    shutdown_grace: Duration,
}

impl<R: OutcomeReporter> Reconciler<R> {
    pub fn new(
        pool: PgPool,
        hypervisor: LibvirtHypervisor,
        reporter: R,
        images: ImageFiles,
        shutdown_grace: Duration,
    ) -> Self {
        Self {
            pool,
            hypervisor,
            reporter: Arc::new(reporter),
            images,
            shutdown_grace,
        }
    }

    /// A pass now, then one every `interval` and whenever `reconnected` is signalled, forever.
    pub async fn run(self, interval: Duration, reconnected: Arc<Notify>) {
        loop {
            match self.pass().await {
                Ok(mut done) => {
                    let recoverable = std::mem::take(&mut done.recoverable);
                    if !recoverable.is_empty() {
                        tracing::warn!(
                            domains = ?recoverable,
                            "Distribox-made domains with no history: adopt or discard them"
                        );
                    }
                    if done != Reconciled::default() {
                        tracing::info!(?done, "reconciled with libvirt");
                    }
                }
                Err(err) => tracing::warn!(error = %err, "reconciliation pass failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = reconnected.notified() => tracing::info!("libvirt is back; reconciling"),
            }
        }
    }

    /// Compares every provisioned VM with its domain and repairs what drifted. One libvirt
    /// listing and the read model find candidates; the log confirms each before anything is
    /// done, since the read model may lag.
    pub async fn pass(&self) -> Result<Reconciled, ProjectionError> {
        let rows: Vec<(Uuid, serde_json::Value)> = sqlx::query_as("SELECT id, aggregate FROM vms")
            .fetch_all(&self.pool)
            .await?;
        let domains = self.hypervisor.domain_states().await.map_err(unavailable)?;
        let mut done = Reconciled::default();
        let mut conn = self.pool.acquire().await?;
        for (id, aggregate) in rows {
            let domain = domains.get(&domain_name(id)).copied();
            let seen: Vm = serde_json::from_value(aggregate)
                .map_err(|e| ProjectionError::Other(e.to_string()))?;
            // One VM that can't be repaired must not keep the others from being looked at.
            if let Err(err) = self.vm(id, &seen, domain, &mut conn, &mut done).await {
                tracing::warn!(vm = %id, error = %err, "cannot reconcile this VM");
            }
        }
        done.recoverable = recoverable(&self.pool, &self.hypervisor)
            .await?
            .into_iter()
            .map(|found| found.domain)
            .collect();
        Ok(done)
    }

    /// Repairs what drifted for VM `id`, which the read model shows as `seen` and libvirt has
    /// as `domain`.
    async fn vm(
        &self,
        id: Uuid,
        seen: &Vm,
        domain: Option<DomainStatus>,
        conn: &mut sqlx::PgConnection,
        done: &mut Reconciled,
    ) -> Result<(), ProjectionError> {
        if seen.desired == Desired::ShutDown && self.shutdown_overdue(id).await? {
            let grace_secs = self.shutdown_grace.as_secs();
            self.report(id, VmCommand::ReportShutdownTimedOut { grace_secs })
                .await?;
            done.shutdowns_overdue.push(id);
        }
        // A domain Distribox itself just started is on its way to being recorded.
        if drift(seen, domain).is_none() || self.hypervisor.starts().pending(id) {
            return Ok(());
        }
        let vm = load_vm(conn, &id.to_string()).await?;
        match drift(&vm, domain) {
            Some(Drift::Missing { was_up }) => {
                self.redefine(id, &vm).await?;
                done.redefined.push(id);
                if was_up {
                    self.report_stopped(id).await?;
                    done.found_stopped.push(id);
                }
            }
            Some(Drift::NotRunning) => {
                self.report_stopped(id).await?;
                done.found_stopped.push(id);
            }
            Some(Drift::Running) => {
                self.report(id, VmCommand::ReportStartedOutside).await?;
                done.found_running.push(id);
            }
            Some(Drift::Paused(reason)) => {
                self.report(id, VmCommand::ReportPausedOutside { reason })
                    .await?;
                done.found_paused.push(id);
            }
            Some(Drift::Resumed) => {
                self.report(id, VmCommand::ReportResumed).await?;
                done.found_resumed.push(id);
            }
            None => {}
        }
        Ok(())
    }

    /// Whether VM `id`'s latest shutdown request is older than the grace period.
    async fn shutdown_overdue(&self, id: Uuid) -> Result<bool, ProjectionError> {
        let requested: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT max(recorded_at) FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2 AND event_type = 'VmShutdownRequested'",
        )
        .bind(Vm::TYPE)
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await?;
        let grace =
            chrono::Duration::from_std(self.shutdown_grace).unwrap_or(chrono::TimeDelta::MAX);
        Ok(requested.is_some_and(|at| chrono::Utc::now() - at > grace))
    }

    /// Defines the domain again from the VM's spec, on its existing disk. A disk that is gone
    /// too is not silently replaced by a blank one.
    async fn redefine(&self, id: Uuid, vm: &Vm) -> Result<(), ProjectionError> {
        let disk = self.hypervisor.vm_dir(id).join("disk.qcow2");
        if !tokio::fs::try_exists(&disk).await.unwrap_or(false) {
            return Err(ProjectionError::Other(format!(
                "VM {id} lost both its domain and its disk"
            )));
        }
        let machine = machine_of(id, vm, &self.images)
            .await
            .map_err(unavailable)?;
        tracing::warn!(vm = %id, "domain missing from libvirt; defining it again");
        self.hypervisor
            .provision(&machine)
            .await
            .map_err(unavailable)
    }

    async fn report_stopped(&self, id: Uuid) -> Result<(), ProjectionError> {
        let stopped = VmCommand::ReportStopped {
            reason: StopReason::External,
        };
        self.report(id, stopped).await
    }

    async fn report(&self, id: Uuid, command: VmCommand) -> Result<(), ProjectionError> {
        self.reporter
            .report(id, command)
            .await
            .map_err(|err| ProjectionError::Other(err.to_string()))
    }
}

/// How a VM and its domain (or `None` if libvirt has none) disagree.
#[derive(Debug, PartialEq, Eq)]
enum Drift {
    Missing {
        was_up: bool,
    },
    NotRunning,
    /// Recorded as stopped, but the domain runs.
    Running,
    /// Recorded as running, but libvirt paused the domain.
    Paused(PauseReason),
    /// Recorded as paused, but the domain runs.
    Resumed,
}

fn drift(vm: &Vm, domain: Option<DomainStatus>) -> Option<Drift> {
    // Not provisioned yet, or on its way out: the projector owns those.
    if matches!(vm.observed, Observed::Pending | Observed::Gone) || vm.desired == Desired::Deleted {
        return None;
    }
    let up = matches!(vm.observed, Observed::Running | Observed::Paused);
    let Some(domain) = domain else {
        return Some(Drift::Missing { was_up: up });
    };
    match (domain, vm.observed) {
        (DomainStatus::Off, _) if up => Some(Drift::NotRunning),
        (DomainStatus::Running | DomainStatus::Paused(_), Observed::Stopped) => {
            Some(Drift::Running)
        }
        (DomainStatus::Paused(Some(reason)), Observed::Running) => Some(Drift::Paused(reason)),
        (DomainStatus::Running, Observed::Paused) => Some(Drift::Resumed),
        _ => None,
    }
}

fn unavailable(err: HypervisorError) -> ProjectionError {
    ProjectionError::Other(err.to_string())
}

#[cfg(test)]
mod tests {
    use distribox_domain::vm::VmSpec;

    use super::*;

    fn vm(desired: Desired, observed: Observed) -> Vm {
        Vm {
            spec: Some(VmSpec::new("a", 1, 256, 1).unwrap()),
            desired,
            observed,
            ..Vm::default()
        }
    }

    #[test]
    fn drift_is_a_missing_domain_or_a_running_vm_whose_domain_is_off() {
        use Desired as D;
        use DomainStatus as S;
        use Observed as O;
        assert_eq!(
            drift(&vm(D::Stopped, O::Stopped), None),
            Some(Drift::Missing { was_up: false })
        );
        assert_eq!(
            drift(&vm(D::Running, O::Running), None),
            Some(Drift::Missing { was_up: true })
        );
        assert_eq!(
            drift(&vm(D::Running, O::Running), Some(S::Off)),
            Some(Drift::NotRunning)
        );
        assert_eq!(
            drift(&vm(D::Paused, O::Paused), Some(S::Off)),
            Some(Drift::NotRunning)
        );
        assert_eq!(drift(&vm(D::Running, O::Running), Some(S::Running)), None);
        assert_eq!(drift(&vm(D::Stopped, O::Stopped), Some(S::Off)), None);
        assert_eq!(
            drift(&vm(D::Stopped, O::Stopped), Some(S::Running)),
            Some(Drift::Running)
        );
        // The projector's business: not provisioned yet, being deleted, gone.
        assert_eq!(drift(&vm(D::Running, O::Pending), None), None);
        assert_eq!(drift(&vm(D::Deleted, O::Stopped), None), None);
        assert_eq!(drift(&vm(D::Stopped, O::Gone), None), None);
    }

    #[test]
    fn pauses_libvirt_made_and_resumes_behind_distribox_s_back_are_drift() {
        use Desired as D;
        use DomainStatus as S;
        use Observed as O;
        let fault = PauseReason::HypervisorError;
        assert_eq!(
            drift(&vm(D::Running, O::Running), Some(S::Paused(Some(fault)))),
            Some(Drift::Paused(fault))
        );
        // A pause libvirt undoes itself (a snapshot being taken) is not.
        assert_eq!(
            drift(&vm(D::Running, O::Running), Some(S::Paused(None))),
            None
        );
        assert_eq!(
            drift(&vm(D::Paused, O::Paused), Some(S::Paused(Some(fault)))),
            None
        );
        assert_eq!(
            drift(&vm(D::Paused, O::Paused), Some(S::Running)),
            Some(Drift::Resumed)
        );
    }
}
