//! Converges libvirt on the desired state in the log.
//!
//! On every VM event the projector rebuilds that VM's aggregate from the log and acts on its
//! *current* desired state, not on the event alone: a replay after a crash, or of a long-gone VM's
//! history, then does only what is still wanted, and every action is idempotent. What it observes
//! goes back as a `Report*` command; the resulting event triggers the next step.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cqrs_es::Aggregate;
use distribox_domain::image::Firmware;
use distribox_domain::vm::{Desired, Observed, SnapshotStatus, StopReason, Vm, VmCommand, VmEvent};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{BaseImage, Hypervisor, HypervisorError, Machine};
use crate::images::ImageFiles;
use crate::runner::Projection;
use crate::{ProjectionError, StoredEvent};

/// Why an observation did not make it into the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// This installation has no VM with that id (another installation's domain, say).
    #[error("no such VM")]
    UnknownVm,
    /// The VM's rules refused it; retrying won't help.
    #[error("refused: {0}")]
    Refused(String),
    /// The log could not be reached; retrying may help.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Sends what the hypervisor observed back into the log (as the `system` actor).
#[async_trait]
pub trait OutcomeReporter: Send + Sync + 'static {
    async fn report(&self, vm: Uuid, command: VmCommand) -> Result<(), ReportError>;
}

pub struct HypervisorProjector<H, R> {
    hypervisor: H,
    reporter: Arc<R>,
    images: ImageFiles,
    /// How long a guest has to act on an ACPI shutdown before it is reported as not stopping.
    shutdown_grace: Duration,
}

/// What the projector decided to do for one VM.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Nothing,
    Provision,
    Start,
    ForceStop,
    Shutdown,
    Reboot,
    Pause,
    Resume,
    Remove,
    TakeSnapshot(Uuid),
    RevertSnapshot(Uuid),
    DeleteSnapshot(Uuid),
}

/// Snapshot work comes before the lifecycle: the aggregate refuses lifecycle commands while it
/// is pending, so whatever the log asks next was asked after it.
fn next_step(vm: &Vm) -> Step {
    if vm.observed == Observed::Gone {
        return Step::Nothing;
    }
    if vm.desired == Desired::Deleted {
        return Step::Remove;
    }
    if let Some(id) = vm.reverting_to {
        return Step::RevertSnapshot(id);
    }
    for snapshot in &vm.snapshots {
        match snapshot.status {
            SnapshotStatus::Taking => return Step::TakeSnapshot(snapshot.id),
            SnapshotStatus::Deleting => return Step::DeleteSnapshot(snapshot.id),
            SnapshotStatus::Ready => {}
        }
    }
    match (vm.desired, vm.observed) {
        (Desired::Running | Desired::Paused, Observed::Pending | Observed::Stopped) => Step::Start,
        (_, Observed::Pending) if vm.failure.is_none() => Step::Provision,
        (Desired::Stopped, Observed::Running | Observed::Paused) => Step::ForceStop,
        (Desired::ShutDown, Observed::Running) => Step::Shutdown,
        (Desired::Paused, Observed::Running) => Step::Pause,
        (Desired::Running, Observed::Paused) => Step::Resume,
        (Desired::Running, Observed::Running) if vm.reboot_pending => Step::Reboot,
        _ => Step::Nothing,
    }
}

/// Everything the hypervisor needs to build VM `id` as `vm` describes it.
pub(crate) async fn machine_of(
    id: Uuid,
    vm: &Vm,
    images: &ImageFiles,
) -> Result<Machine, HypervisorError> {
    let spec = vm
        .spec
        .as_ref()
        .ok_or_else(|| HypervisorError::Failed("VM has no spec".to_owned()))?;
    let image = images
        .get(&vm.image)
        .await
        .map_err(|e| HypervisorError::Unavailable(format!("cannot look up image: {e}")))?;
    Ok(Machine {
        id,
        name: spec.name.as_str().to_owned(),
        vcpus: spec.vcpus,
        memory_mib: spec.memory_mib,
        disk_gib: spec.disk_gib,
        uefi: image
            .as_ref()
            .is_some_and(|image| image.firmware == Firmware::Uefi),
        image: image.map(|image| BaseImage {
            id: image.id,
            path: image.path,
            format: image.format,
        }),
        seed: vm.seed.clone(),
        keyboard: spec.keyboard.clone(),
        autostart: spec.autostart,
        cloned_from: vm.cloned_from,
    })
}

/// VM `id`'s current state, folded from its events: the authority on what is wanted now
/// (read models may lag).
pub(crate) async fn load_vm(conn: &mut PgConnection, id: &str) -> Result<Vm, ProjectionError> {
    let payloads: Vec<(serde_json::Value, i64)> = sqlx::query_as(
        "SELECT payload, global_position FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
    )
    .bind(Vm::TYPE)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut vm = Vm::default();
    for (payload, position) in payloads {
        let event: VmEvent = serde_json::from_value(payload)
            .map_err(|source| ProjectionError::Decode { position, source })?;
        vm.apply(event);
    }
    Ok(vm)
}

impl<H: Hypervisor, R: OutcomeReporter> HypervisorProjector<H, R> {
    pub fn new(hypervisor: H, reporter: R, images: ImageFiles, shutdown_grace: Duration) -> Self {
        Self {
            hypervisor,
            reporter: Arc::new(reporter),
            images,
            shutdown_grace,
        }
    }

    async fn machine(&self, id: Uuid, vm: &Vm) -> Result<Machine, HypervisorError> {
        machine_of(id, vm, &self.images).await
    }

    async fn report(&self, id: Uuid, command: VmCommand) -> Result<(), ProjectionError> {
        self.reporter
            .report(id, command)
            .await
            .map_err(|err| ProjectionError::Other(err.to_string()))
    }

    /// Reports the outcome of provisioning or starting. libvirt's refusal is an outcome like a
    /// success; an unreachable hypervisor is an error, so the runner retries the batch later.
    async fn record(
        &self,
        id: Uuid,
        outcome: Result<(), HypervisorError>,
        success: VmCommand,
        failure: impl FnOnce(String) -> VmCommand,
    ) -> Result<(), ProjectionError> {
        match outcome {
            Ok(()) => self.report(id, success).await,
            Err(HypervisorError::Failed(reason)) => {
                tracing::warn!(vm = %id, %reason, "hypervisor refused");
                self.report(id, failure(reason)).await
            }
            Err(HypervisorError::Unavailable(cause)) => Err(ProjectionError::Other(cause)),
        }
    }

    /// Runs the one step this VM needs next and reports what happened.
    async fn converge(&self, id: Uuid, vm: &Vm) -> Result<(), ProjectionError> {
        let step = next_step(vm);
        if step != Step::Nothing {
            tracing::info!(vm = %id, ?step, "converging");
        }
        match step {
            Step::Nothing => Ok(()),
            Step::Provision => {
                let outcome = match self.machine(id, vm).await {
                    Ok(machine) => self.hypervisor.provision(&machine).await,
                    Err(err) => Err(err),
                };
                self.record(id, outcome, VmCommand::ReportProvisioned, |reason| {
                    VmCommand::ReportProvisionFailed { reason }
                })
                .await
            }
            Step::Start => {
                let outcome = match self.machine(id, vm).await {
                    Ok(machine) => self.hypervisor.start(&machine).await,
                    Err(err) => Err(err),
                };
                // A VM started straight from PENDING was provisioned on the way.
                if outcome.is_ok() && vm.observed == Observed::Pending {
                    self.report(id, VmCommand::ReportProvisioned).await?;
                }
                self.record(id, outcome, VmCommand::ReportStarted, |reason| {
                    VmCommand::ReportStartFailed { reason }
                })
                .await
            }
            // libvirt refusing any of the remaining steps is recorded as a failed action, which
            // settles the VM as it is: retrying a refusal forever would hold up every other VM.
            Step::ForceStop => {
                let outcome = self.hypervisor.force_stop(id).await;
                let stopped = VmCommand::ReportStopped {
                    reason: StopReason::Forced,
                };
                self.record(id, outcome, stopped, action_failed).await
            }
            Step::Shutdown => {
                match self.hypervisor.shutdown(id).await {
                    Ok(()) => {}
                    Err(HypervisorError::Failed(reason)) => {
                        return self.report(id, action_failed(reason)).await
                    }
                    Err(err) => return Err(retry(err)),
                }
                // The guest's power-off arrives as a lifecycle event; if it hasn't by the end of
                // the grace period, say so. A timeout after the VM stopped records nothing.
                let (reporter, grace) = (self.reporter.clone(), self.shutdown_grace);
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    let timed_out = VmCommand::ReportShutdownTimedOut {
                        grace_secs: grace.as_secs(),
                    };
                    if let Err(err) = reporter.report(id, timed_out).await {
                        tracing::warn!(vm = %id, error = %err, "cannot record the shutdown timeout");
                    }
                });
                Ok(())
            }
            Step::Reboot => {
                let outcome = self.hypervisor.reboot(id).await;
                self.record(id, outcome, VmCommand::ReportRebooted, action_failed)
                    .await
            }
            Step::Pause => {
                let outcome = self.hypervisor.pause(id).await;
                self.record(id, outcome, VmCommand::ReportPaused, action_failed)
                    .await
            }
            Step::Resume => {
                let outcome = self.hypervisor.resume(id).await;
                self.record(id, outcome, VmCommand::ReportResumed, action_failed)
                    .await
            }
            Step::Remove => {
                let outcome = self.hypervisor.remove(id).await;
                self.record(id, outcome, VmCommand::ReportDeleted, action_failed)
                    .await
            }
            Step::TakeSnapshot(snapshot) => {
                let name = vm
                    .snapshots
                    .iter()
                    .find(|s| s.id == snapshot)
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                let outcome = self.hypervisor.take_snapshot(id, snapshot, &name).await;
                self.record(
                    id,
                    outcome,
                    VmCommand::ReportSnapshotTaken { id: snapshot },
                    move |reason| VmCommand::ReportSnapshotFailed {
                        id: snapshot,
                        reason,
                    },
                )
                .await
            }
            Step::RevertSnapshot(snapshot) => {
                match self.hypervisor.revert_snapshot(id, snapshot).await {
                    Ok(running) => {
                        self.report(
                            id,
                            VmCommand::ReportSnapshotReverted {
                                id: snapshot,
                                running,
                            },
                        )
                        .await
                    }
                    Err(HypervisorError::Failed(reason)) => {
                        tracing::warn!(vm = %id, %reason, "revert refused");
                        self.report(
                            id,
                            VmCommand::ReportSnapshotRevertFailed {
                                id: snapshot,
                                reason,
                            },
                        )
                        .await
                    }
                    Err(err) => Err(retry(err)),
                }
            }
            Step::DeleteSnapshot(snapshot) => {
                let outcome = self.hypervisor.delete_snapshot(id, snapshot).await;
                let deleted = VmCommand::ReportSnapshotDeleted { id: snapshot };
                self.record(id, outcome, deleted, action_failed).await
            }
        }
    }

    /// A resized VM is stopped: define it anew and grow its disk now, so what the host shows
    /// matches at once (a start would do the same).
    async fn reshape(&self, id: Uuid, vm: &Vm) -> Result<(), ProjectionError> {
        if vm.observed != Observed::Stopped || vm.desired == Desired::Deleted {
            return Ok(());
        }
        let outcome = match self.machine(id, vm).await {
            Ok(machine) => self.hypervisor.provision(&machine).await,
            Err(err) => Err(err),
        };
        match outcome {
            Err(HypervisorError::Failed(reason)) => self.report(id, action_failed(reason)).await,
            other => other.map_err(retry),
        }
    }

    /// A new name goes into the domain's title (setting it again is harmless).
    async fn retitle(&self, id: Uuid, vm: &Vm) -> Result<(), ProjectionError> {
        let Some(spec) = &vm.spec else {
            return Ok(());
        };
        if matches!(vm.observed, Observed::Pending | Observed::Gone)
            || vm.desired == Desired::Deleted
        {
            return Ok(());
        }
        self.hypervisor
            .set_title(id, spec.name.as_str())
            .await
            .map_err(retry)
    }
}

fn action_failed(reason: String) -> VmCommand {
    VmCommand::ReportActionFailed { reason }
}

fn retry(err: HypervisorError) -> ProjectionError {
    ProjectionError::Other(err.to_string())
}

#[async_trait]
impl<H: Hypervisor, R: OutcomeReporter> Projection for HypervisorProjector<H, R> {
    fn name(&self) -> &'static str {
        "hypervisor"
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
        let vm = load_vm(tx, &event.aggregate_id).await?;
        match event.decode()? {
            VmEvent::VmRenamed { .. } => self.retitle(id, &vm).await?,
            VmEvent::VmResized { .. } => self.reshape(id, &vm).await?,
            _ => {}
        }
        self.converge(id, &vm).await
    }
}

#[cfg(test)]
mod tests {
    use distribox_domain::vm::VmSpec;

    use super::*;

    fn vm(desired: Desired, observed: Observed, failure: Option<&str>) -> Vm {
        Vm {
            spec: Some(VmSpec::new("a", 1, 256, 1).unwrap()),
            image: "img".to_owned(),
            owner: "o".to_owned(),
            seed: None,
            desired,
            observed,
            failure: failure.map(str::to_owned),
            ..Vm::default()
        }
    }

    #[test]
    fn steps_follow_the_desired_state() {
        use Desired as D;
        use Observed as O;
        assert_eq!(
            next_step(&vm(D::Stopped, O::Pending, None)),
            Step::Provision
        );
        assert_eq!(
            next_step(&vm(D::Stopped, O::Pending, Some("no disk"))),
            Step::Nothing
        );
        assert_eq!(next_step(&vm(D::Running, O::Pending, None)), Step::Start);
        assert_eq!(next_step(&vm(D::Running, O::Stopped, None)), Step::Start);
        assert_eq!(next_step(&vm(D::Running, O::Running, None)), Step::Nothing);
        assert_eq!(
            next_step(&vm(D::Stopped, O::Running, None)),
            Step::ForceStop
        );
        assert_eq!(next_step(&vm(D::Stopped, O::Stopped, None)), Step::Nothing);
        assert_eq!(next_step(&vm(D::Deleted, O::Running, None)), Step::Remove);
        assert_eq!(next_step(&vm(D::Deleted, O::Gone, None)), Step::Nothing);
        assert_eq!(
            next_step(&vm(D::ShutDown, O::Running, None)),
            Step::Shutdown
        );
        assert_eq!(next_step(&vm(D::ShutDown, O::Stopped, None)), Step::Nothing);
        assert_eq!(next_step(&vm(D::Paused, O::Running, None)), Step::Pause);
        assert_eq!(next_step(&vm(D::Paused, O::Paused, None)), Step::Nothing);
        assert_eq!(next_step(&vm(D::Running, O::Paused, None)), Step::Resume);
        assert_eq!(next_step(&vm(D::Stopped, O::Paused, None)), Step::ForceStop);
        let rebooting = Vm {
            reboot_pending: true,
            ..vm(D::Running, O::Running, None)
        };
        assert_eq!(next_step(&rebooting), Step::Reboot);
    }

    #[test]
    fn snapshot_work_comes_before_the_lifecycle_and_deletion_before_all() {
        use distribox_domain::vm::Snapshot;
        let snapshot = |status| Snapshot {
            id: Uuid::from_u128(9),
            name: "s".to_owned(),
            taken_at: chrono::DateTime::UNIX_EPOCH,
            with_memory: false,
            status,
        };
        let taking = Vm {
            snapshots: vec![
                snapshot(SnapshotStatus::Ready),
                snapshot(SnapshotStatus::Taking),
            ],
            ..vm(Desired::Running, Observed::Stopped, None)
        };
        assert_eq!(next_step(&taking), Step::TakeSnapshot(Uuid::from_u128(9)));
        let deleting = Vm {
            snapshots: vec![snapshot(SnapshotStatus::Deleting)],
            ..vm(Desired::Stopped, Observed::Stopped, None)
        };
        assert_eq!(
            next_step(&deleting),
            Step::DeleteSnapshot(Uuid::from_u128(9))
        );
        let reverting = Vm {
            reverting_to: Some(Uuid::from_u128(9)),
            ..vm(Desired::Stopped, Observed::Stopped, None)
        };
        assert_eq!(
            next_step(&reverting),
            Step::RevertSnapshot(Uuid::from_u128(9))
        );
        let removing = Vm {
            desired: Desired::Deleted,
            ..taking
        };
        assert_eq!(next_step(&removing), Step::Remove);
    }
}
