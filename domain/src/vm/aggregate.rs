use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use super::commands::{CreateVm, VmCommand};
use super::events::{StopReason, VmEvent};
use super::seed::SeedSpec;
use super::spec::{VmName, VmSpec};
use super::state::{Desired, Observed, VmState};
use crate::ports::ImageCatalog;
use crate::DomainError;

/// What the `Vm` aggregate needs from outside to decide.
#[derive(Clone)]
pub struct VmServices {
    pub images: Arc<dyn ImageCatalog>,
}

/// One VM. `spec` is `None` until it is created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vm {
    pub spec: Option<VmSpec>,
    pub image: String,
    pub owner: String,
    #[serde(default)]
    pub seed: Option<SeedSpec>,
    pub desired: Desired,
    pub observed: Observed,
    /// The last failure libvirt reported, cleared by the next success.
    pub failure: Option<String>,
    /// A reboot was asked for and not yet observed; the hypervisor reboots while it is set.
    #[serde(default)]
    pub reboot_pending: bool,
}

impl Vm {
    pub fn state(&self) -> VmState {
        VmState::derive(self.desired, self.observed, self.failure.is_some())
    }

    pub fn exists(&self) -> bool {
        self.spec.is_some() && self.observed != Observed::Gone
    }

    /// Commands need a VM that exists and is not on its way out. A VM being deleted is still
    /// listed, so it answers CONFLICT rather than pretending it is already gone.
    fn require_exists(&self) -> Result<(), DomainError> {
        if !self.exists() {
            Err(DomainError::not_found("VM not found"))
        } else if self.desired == Desired::Deleted {
            Err(DomainError::conflict("VM is being deleted"))
        } else {
            Ok(())
        }
    }

    fn create(&self, input: CreateVm, services: &VmServices) -> Result<Vec<VmEvent>, DomainError> {
        if self.spec.is_some() {
            return Err(DomainError::conflict("a VM with this id already exists"));
        }
        let spec = VmSpec::new(&input.name, input.vcpus, input.memory_mib, input.disk_gib)?;
        let image = services
            .images
            .find(&input.image)
            .ok_or_else(|| DomainError::bad_input(format!("unknown image `{}`", input.image)))?;
        if spec.disk_bytes() < image.virtual_size_bytes {
            let min_gib = image.virtual_size_bytes.div_ceil(1 << 30);
            return Err(DomainError::bad_input(format!(
                "diskGib must be at least {min_gib}, the size of image `{}`",
                image.id
            )));
        }
        let fallback_hostname = format!(
            "vm-{}",
            input
                .instance_id
                .trim_start_matches("iid-")
                .chars()
                .take(8)
                .collect::<String>()
        );
        let seed = SeedSpec::new(input.instance_id, fallback_hostname, input.seed)?;
        let mut events = vec![VmEvent::VmCreated {
            spec,
            image: image.id,
            owner: input.owner,
            seed: Some(seed),
        }];
        if input.start {
            events.push(VmEvent::VmStartRequested);
        }
        Ok(events)
    }

    /// Whether the guest is up (running or paused) or on its way up.
    fn is_on(&self) -> bool {
        matches!(
            self.desired,
            Desired::Running | Desired::Paused | Desired::ShutDown
        ) || matches!(self.observed, Observed::Running | Observed::Paused)
    }

    /// Operations on a running guest need it running now and nothing else in progress.
    fn require_running(&self) -> Result<(), DomainError> {
        match (self.observed, self.desired) {
            (Observed::Running, Desired::Running) if !self.reboot_pending => Ok(()),
            (Observed::Running, Desired::Running) => Err(DomainError::conflict("VM is rebooting")),
            (Observed::Paused, _) | (_, Desired::Paused) => {
                Err(DomainError::conflict("VM is paused; resume it first"))
            }
            (_, Desired::ShutDown) => Err(DomainError::conflict("VM is shutting down")),
            (Observed::Running, _) => Err(DomainError::conflict("VM is stopping")),
            (_, Desired::Running) => Err(DomainError::conflict("VM is still starting")),
            _ => Err(DomainError::conflict("VM is not running")),
        }
    }

    fn start(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        match self.state() {
            VmState::Running | VmState::Starting => {
                Err(DomainError::conflict("VM is already running"))
            }
            VmState::Paused => Err(DomainError::conflict("VM is paused; resume it instead")),
            VmState::Stopping => Err(DomainError::conflict(
                "VM is stopping; start it once it has stopped",
            )),
            _ => Ok(vec![VmEvent::VmStartRequested]),
        }
    }

    fn force_stop(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        if self.is_on() && self.desired != Desired::Stopped {
            Ok(vec![VmEvent::VmForceStopRequested])
        } else if self.is_on() {
            Err(DomainError::conflict("VM is already being stopped"))
        } else {
            Err(DomainError::conflict("VM is not running"))
        }
    }

    fn shutdown(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        self.require_running()?;
        Ok(vec![VmEvent::VmShutdownRequested])
    }

    fn reboot(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        self.require_running()?;
        Ok(vec![VmEvent::VmRebootRequested])
    }

    fn pause(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        self.require_running()?;
        Ok(vec![VmEvent::VmPauseRequested])
    }

    fn resume(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        match (self.desired, self.observed) {
            (Desired::Paused, _) => Ok(vec![VmEvent::VmResumeRequested]),
            (Desired::Running, Observed::Paused) => {
                Err(DomainError::conflict("VM is already resuming"))
            }
            // Resuming must not undo a stop that is under way.
            (Desired::Stopped | Desired::ShutDown, Observed::Running | Observed::Paused) => {
                Err(DomainError::conflict("VM is stopping"))
            }
            _ => Err(DomainError::conflict("VM is not paused")),
        }
    }

    /// Renaming to the current name records nothing.
    fn rename(&self, name: &str) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        let name = VmName::parse(name)?;
        match &self.spec {
            Some(spec) if spec.name == name => Ok(vec![]),
            _ => Ok(vec![VmEvent::VmRenamed { name }]),
        }
    }

    fn delete(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        if self.is_on() {
            return Err(DomainError::conflict(
                "VM is running; stop it before deleting it",
            ));
        }
        Ok(vec![VmEvent::VmDeleteRequested])
    }

    /// Hypervisor reports are idempotent: a report that matches what is already known (a replay
    /// after a crash, a duplicate libvirt event) records nothing.
    fn report(&self, command: VmCommand) -> Result<Vec<VmEvent>, DomainError> {
        if self.spec.is_none() {
            return Err(DomainError::not_found("VM not found"));
        }
        let up = matches!(self.observed, Observed::Running | Observed::Paused);
        let events = match command {
            VmCommand::ReportProvisioned if self.observed == Observed::Pending => {
                vec![VmEvent::VmProvisioned]
            }
            VmCommand::ReportProvisionFailed { reason } if self.observed == Observed::Pending => {
                vec![VmEvent::VmProvisionFailed { reason }]
            }
            VmCommand::ReportStarted
                if matches!(self.observed, Observed::Pending | Observed::Stopped) =>
            {
                vec![VmEvent::VmStarted]
            }
            VmCommand::ReportStartFailed { reason } if self.desired == Desired::Running => {
                vec![VmEvent::VmStartFailed { reason }]
            }
            VmCommand::ReportStopped { reason } if up => {
                // libvirt reports a destroy without saying who did it: if Distribox wanted the
                // VM off, it was Distribox's own force stop.
                let reason = match reason {
                    StopReason::External if self.desired == Desired::Stopped => StopReason::Forced,
                    other => other,
                };
                vec![VmEvent::VmStopped { reason }]
            }
            VmCommand::ReportShutdownTimedOut { grace_secs }
                if self.desired == Desired::ShutDown && self.observed == Observed::Running =>
            {
                vec![VmEvent::VmShutdownTimedOut { grace_secs }]
            }
            VmCommand::ReportRebooted if self.reboot_pending => vec![VmEvent::VmRebooted],
            VmCommand::ReportPaused if self.observed == Observed::Running => {
                vec![VmEvent::VmPaused]
            }
            VmCommand::ReportResumed if self.observed == Observed::Paused => {
                vec![VmEvent::VmResumed]
            }
            VmCommand::ReportDeleted if self.observed != Observed::Gone => vec![VmEvent::VmDeleted],
            _ => vec![],
        };
        Ok(events)
    }
}

impl Aggregate for Vm {
    const TYPE: &'static str = "Vm";
    type Command = VmCommand;
    type Event = VmEvent;
    type Error = DomainError;
    type Services = VmServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            VmCommand::Create(input) => self.create(input, services)?,
            VmCommand::Start => self.start()?,
            VmCommand::ForceStop => self.force_stop()?,
            VmCommand::Shutdown => self.shutdown()?,
            VmCommand::Reboot => self.reboot()?,
            VmCommand::Pause => self.pause()?,
            VmCommand::Resume => self.resume()?,
            VmCommand::Rename { name } => self.rename(&name)?,
            VmCommand::Delete => self.delete()?,
            report => self.report(report)?,
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            VmEvent::VmCreated {
                spec,
                image,
                owner,
                seed,
            } => {
                self.spec = Some(spec);
                self.image = image;
                self.owner = owner;
                self.seed = seed;
            }
            VmEvent::VmProvisioned => {
                self.observed = Observed::Stopped;
                self.failure = None;
            }
            VmEvent::VmProvisionFailed { reason } => {
                self.failure = Some(reason);
                if self.desired == Desired::Running {
                    self.desired = Desired::Stopped;
                }
            }
            VmEvent::VmStartRequested => {
                self.desired = Desired::Running;
                self.failure = None;
            }
            VmEvent::VmStarted => {
                self.observed = Observed::Running;
                self.failure = None;
            }
            VmEvent::VmStartFailed { reason } => {
                self.desired = Desired::Stopped;
                self.failure = Some(reason);
            }
            VmEvent::VmForceStopRequested => {
                self.desired = Desired::Stopped;
                self.reboot_pending = false;
            }
            VmEvent::VmShutdownRequested => {
                self.desired = Desired::ShutDown;
                self.failure = None;
            }
            VmEvent::VmShutdownTimedOut { grace_secs } => {
                self.desired = Desired::Running;
                self.failure = Some(format!(
                    "the guest did not shut down within {grace_secs} s; force stop it if it must stop"
                ));
            }
            VmEvent::VmStopped { reason } => {
                self.observed = Observed::Stopped;
                self.reboot_pending = false;
                if self.desired != Desired::Deleted {
                    self.desired = Desired::Stopped;
                }
                // A clean stop clears an older failure (say, a shutdown that timed out).
                self.failure =
                    (reason == StopReason::Crashed).then(|| "the guest crashed".to_owned());
            }
            VmEvent::VmRebootRequested => self.reboot_pending = true,
            VmEvent::VmRebooted => self.reboot_pending = false,
            VmEvent::VmPauseRequested => self.desired = Desired::Paused,
            VmEvent::VmPaused => self.observed = Observed::Paused,
            VmEvent::VmResumeRequested => self.desired = Desired::Running,
            VmEvent::VmResumed => self.observed = Observed::Running,
            VmEvent::VmRenamed { name } => {
                if let Some(spec) = &mut self.spec {
                    spec.name = name;
                }
            }
            VmEvent::VmDeleteRequested => self.desired = Desired::Deleted,
            VmEvent::VmDeleted => self.observed = Observed::Gone,
        }
    }
}
