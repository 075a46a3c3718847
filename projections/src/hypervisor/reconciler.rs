//! Periodic reconciliation of libvirt with the read model, for drift that no lifecycle event
//! reports: a domain undefined behind Distribox's back, or a stop missed while Distribox was
//! down or disconnected. The projector acts on events; this catches what happened without one.

use std::sync::Arc;
use std::time::Duration;

use distribox_domain::vm::{Desired, Observed, StopReason, Vm, VmCommand};
use sqlx::PgPool;
use uuid::Uuid;

use super::projector::{load_vm, machine_of, OutcomeReporter};
use super::{Hypervisor, HypervisorError, LibvirtHypervisor};
use crate::images::DirImageCatalog;
use crate::ProjectionError;

/// What one pass changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// VMs whose missing domain was defined again from the log.
    pub redefined: Vec<Uuid>,
    /// VMs recorded as running whose domain was not.
    pub found_stopped: Vec<Uuid>,
}

pub struct Reconciler<R> {
    pool: PgPool,
    hypervisor: LibvirtHypervisor,
    reporter: Arc<R>,
    images: Arc<DirImageCatalog>,
}

impl<R: OutcomeReporter> Reconciler<R> {
    pub fn new(
        pool: PgPool,
        hypervisor: LibvirtHypervisor,
        reporter: R,
        images: Arc<DirImageCatalog>,
    ) -> Self {
        Self {
            pool,
            hypervisor,
            reporter: Arc::new(reporter),
            images,
        }
    }

    /// A pass now, then one every `interval`, forever.
    pub async fn run(self, interval: Duration) {
        loop {
            match self.pass().await {
                Ok(done) if done != Reconciled::default() => {
                    tracing::info!(?done, "reconciled with libvirt")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "reconciliation pass failed"),
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Compares every provisioned VM with its domain and repairs what drifted.
    pub async fn pass(&self) -> Result<Reconciled, ProjectionError> {
        let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM vms")
            .fetch_all(&self.pool)
            .await?;
        let mut done = Reconciled::default();
        let mut conn = self.pool.acquire().await?;
        for id in ids {
            // The read model only says which VMs exist; what they want comes from the log.
            let vm = load_vm(&mut conn, &id.to_string()).await?;
            // Not provisioned yet, or on its way out: the projector owns those.
            if matches!(vm.observed, Observed::Pending | Observed::Gone)
                || vm.desired == Desired::Deleted
            {
                continue;
            }
            let up = matches!(vm.observed, Observed::Running | Observed::Paused);
            if !self
                .hypervisor
                .domain_exists(id)
                .await
                .map_err(unavailable)?
            {
                self.redefine(id, &vm).await?;
                done.redefined.push(id);
                if up {
                    self.report_stopped(id).await?;
                    done.found_stopped.push(id);
                }
            } else if up && !self.hypervisor.is_running(id).await.map_err(unavailable)? {
                self.report_stopped(id).await?;
                done.found_stopped.push(id);
            }
        }
        Ok(done)
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
        let machine = machine_of(id, vm, &self.images).map_err(unavailable)?;
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
        self.reporter
            .report(id, stopped)
            .await
            .map_err(ProjectionError::Other)
    }
}

fn unavailable(err: HypervisorError) -> ProjectionError {
    ProjectionError::Other(err.to_string())
}
