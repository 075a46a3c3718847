use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::commands::{AdoptVm, CloneVm, CreateVm, VmCommand};
use super::credential::{check_expiry, parse_credential_name, Credential, MAX_LIVE_CREDENTIALS};
use super::events::{PauseReason, StopReason, VmEvent};
use super::labels::Labels;
use super::seed::SeedSpec;
use super::snapshot::{parse_snapshot_name, Snapshot, SnapshotStatus, MAX_SNAPSHOTS};
use super::spec::{KeyboardLayout, VmName, VmSpec};
use super::state::{Desired, Observed, VmState};
use crate::DomainError;

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
    /// The VM whose disk this one's was copied from.
    #[serde(default)]
    pub cloned_from: Option<Uuid>,
    #[serde(default)]
    pub snapshots: Vec<Snapshot>,
    /// A revert to this snapshot was asked for and not yet done.
    #[serde(default)]
    pub reverting_to: Option<Uuid>,
    #[serde(default)]
    pub credentials: Vec<Credential>,
    /// Why libvirt paused the guest on its own, while it stays paused.
    #[serde(default)]
    pub paused_by: Option<PauseReason>,
    /// The guest crashed the last time it stopped.
    #[serde(default)]
    pub crashed: bool,
    #[serde(default)]
    pub labels: Labels,
}

impl Vm {
    pub fn state(&self) -> VmState {
        match VmState::derive(self.desired, self.observed, self.failure.is_some()) {
            VmState::Failed | VmState::Stopped if self.crashed => VmState::Crashed,
            state => state,
        }
    }

    /// Why the VM is in its state, when that is not self-evident: what paused it, why it
    /// crashed or failed.
    pub fn state_reason(&self) -> Option<String> {
        match self.state() {
            VmState::Paused => self
                .paused_by
                .map(|reason| reason.describe().to_owned())
                .or_else(|| self.failure.clone()),
            VmState::Starting | VmState::Stopping | VmState::Deleted => None,
            _ => self.failure.clone(),
        }
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

    /// Snapshot work in progress: the VM waits for it before anything else happens to it.
    pub fn snapshot_busy(&self) -> bool {
        self.reverting_to.is_some()
            || self
                .snapshots
                .iter()
                .any(|snapshot| snapshot.status != SnapshotStatus::Ready)
    }

    fn require_not_busy(&self) -> Result<(), DomainError> {
        if self.snapshot_busy() {
            Err(DomainError::conflict(
                "VM is busy with a snapshot; try again when it is done",
            ))
        } else {
            Ok(())
        }
    }

    /// Stopped, with nothing asked of it: the state resizing, cloning and reverting need.
    fn is_at_rest_stopped(&self) -> bool {
        self.observed == Observed::Stopped && self.desired == Desired::Stopped
    }

    fn snapshot(&self, id: Uuid) -> Result<&Snapshot, DomainError> {
        self.snapshots
            .iter()
            .find(|snapshot| snapshot.id == id)
            .ok_or_else(|| DomainError::not_found("snapshot not found"))
    }

    fn create(&self, input: CreateVm) -> Result<Vec<VmEvent>, DomainError> {
        if self.spec.is_some() {
            return Err(DomainError::conflict("a VM with this id already exists"));
        }
        let mut spec = VmSpec::new(&input.name, input.vcpus, input.memory_mib, input.disk_gib)?;
        if let Some(layout) = &input.keyboard_layout {
            spec.keyboard = KeyboardLayout::parse(layout)?;
        }
        spec.autostart = input.autostart;
        let image = input.image;
        image.require_usable()?;
        if spec.disk_bytes() < image.virtual_size_bytes {
            let min_gib = image.virtual_size_bytes.div_ceil(1 << 30);
            return Err(DomainError::bad_field(
                "diskGib",
                format!(
                    "diskGib must be at least {min_gib}, the size of image `{}`",
                    image.id
                ),
            ));
        }
        let hostname = fallback_hostname(&input.instance_id);
        let seed = SeedSpec::new(input.instance_id, hostname, input.seed)?;
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

    /// A new VM whose disk will be a copy of a stopped VM's: same resources, image and guest
    /// login, its own name, hostname and cloud-init instance id.
    fn create_clone(&self, input: CloneVm) -> Result<Vec<VmEvent>, DomainError> {
        if self.spec.is_some() {
            return Err(DomainError::conflict("a VM with this id already exists"));
        }
        let source = &input.source;
        let Some(source_spec) = source.spec.as_ref().filter(|_| source.exists()) else {
            return Err(DomainError::not_found("VM not found"));
        };
        source.require_exists()?;
        source.require_not_busy()?;
        if !source.is_at_rest_stopped() {
            return Err(DomainError::conflict(
                "VM is not stopped; stop it before cloning it",
            ));
        }
        let spec = VmSpec {
            name: VmName::parse(&input.name)?,
            autostart: false,
            ..source_spec.clone()
        };
        let seed = SeedSpec {
            hostname: fallback_hostname(&input.instance_id),
            instance_id: input.instance_id,
            user: source.seed.as_ref().and_then(|seed| seed.user.clone()),
        };
        Ok(vec![
            VmEvent::VmCreated {
                spec,
                image: source.image.clone(),
                owner: input.owner,
                seed: Some(seed),
            },
            VmEvent::VmCloned {
                from: input.source_id,
            },
        ])
    }

    /// A VM for a domain libvirt already has. Its disk and domain exist, so it is provisioned
    /// at once, running or stopped as found; it has no cloud-init seed of its own.
    fn adopt(&self, input: AdoptVm) -> Result<Vec<VmEvent>, DomainError> {
        if self.spec.is_some() {
            return Err(DomainError::conflict(
                "this domain's VM already has a history",
            ));
        }
        let spec = VmSpec::new(&input.name, input.vcpus, input.memory_mib, input.disk_gib)
            .map_err(|err| DomainError::bad_input(format!("cannot adopt it: {}", err.message)))?;
        let mut events = vec![
            VmEvent::VmCreated {
                spec,
                image: input.image.unwrap_or_default(),
                owner: input.owner,
                seed: None,
            },
            VmEvent::VmAdopted {
                running: input.running,
            },
        ];
        if input.discard {
            events.push(VmEvent::VmDeleteRequested);
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
        self.require_not_busy()?;
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
        self.require_not_busy()?;
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
        self.require_not_busy()?;
        self.require_running()?;
        Ok(vec![VmEvent::VmShutdownRequested])
    }

    fn reboot(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        self.require_not_busy()?;
        self.require_running()?;
        Ok(vec![VmEvent::VmRebootRequested])
    }

    fn pause(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        self.require_not_busy()?;
        self.require_running()?;
        Ok(vec![VmEvent::VmPauseRequested])
    }

    fn resume(&self) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        self.require_not_busy()?;
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

    /// Setting the labels the VM already has records nothing.
    fn set_labels(&self, note: Option<&str>, tags: &[String]) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        let labels = Labels::parse(note, tags)?;
        if labels == self.labels {
            return Ok(vec![]);
        }
        Ok(vec![VmEvent::VmLabelsSet { labels }])
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

    fn resize(
        &self,
        vcpus: u32,
        memory_mib: u64,
        disk_gib: u64,
    ) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        let spec = self.spec.as_ref().expect("an existing VM has a spec");
        let resized = spec.resized(vcpus, memory_mib, disk_gib)?;
        self.require_not_busy()?;
        if !self.is_at_rest_stopped() {
            return Err(DomainError::conflict(
                "VM is not stopped; stop it before resizing it",
            ));
        }
        if resized.disk_gib > spec.disk_gib && !self.snapshots.is_empty() {
            // qcow2 cannot grow a disk that holds internal snapshots.
            return Err(DomainError::conflict(
                "the disk has snapshots; delete them before growing it",
            ));
        }
        if &resized == spec {
            return Ok(vec![]);
        }
        Ok(vec![VmEvent::VmResized {
            vcpus,
            memory_mib,
            disk_gib,
        }])
    }

    fn take_snapshot(
        &self,
        id: Uuid,
        name: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        let name = parse_snapshot_name(name)?;
        self.require_not_busy()?;
        if self.snapshots.iter().any(|snapshot| snapshot.name == name) {
            return Err(DomainError::conflict(format!(
                "a snapshot named `{name}` already exists"
            )));
        }
        if self.snapshots.iter().any(|snapshot| snapshot.id == id) {
            return Err(DomainError::conflict(
                "a snapshot with this id already exists",
            ));
        }
        if self.snapshots.len() >= MAX_SNAPSHOTS {
            return Err(DomainError::conflict(format!(
                "a VM keeps at most {MAX_SNAPSHOTS} snapshots; delete one first"
            )));
        }
        let with_memory = if self.is_at_rest_stopped() {
            false
        } else {
            self.require_running()?;
            true
        };
        Ok(vec![VmEvent::VmSnapshotRequested {
            id,
            name,
            taken_at: at,
            with_memory,
        }])
    }

    fn revert_snapshot(&self, id: Uuid) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        self.snapshot(id)?;
        self.require_not_busy()?;
        if !self.is_at_rest_stopped() {
            return Err(DomainError::conflict(
                "VM is not stopped; stop it before reverting it",
            ));
        }
        Ok(vec![VmEvent::VmSnapshotRevertRequested { id }])
    }

    fn delete_snapshot(&self, id: Uuid) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        self.snapshot(id)?;
        self.require_not_busy()?;
        Ok(vec![VmEvent::VmSnapshotDeleteRequested { id }])
    }

    fn issue_credential(
        &self,
        id: Uuid,
        name: &str,
        secret_hash: String,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        let name = parse_credential_name(name)?;
        check_expiry(expires_at, at)?;
        let live: Vec<&Credential> = self.credentials.iter().filter(|c| c.is_live(at)).collect();
        if live.iter().any(|c| c.name == name) {
            return Err(DomainError::conflict(format!(
                "a credential named `{name}` already exists"
            )));
        }
        if live.len() >= MAX_LIVE_CREDENTIALS {
            return Err(DomainError::conflict(format!(
                "a VM has at most {MAX_LIVE_CREDENTIALS} live credentials; revoke one first"
            )));
        }
        if self.credentials.iter().any(|c| c.id == id) {
            return Err(DomainError::conflict(
                "a credential with this id already exists",
            ));
        }
        Ok(vec![VmEvent::VmCredentialIssued {
            id,
            name,
            secret_hash,
            issued_at: at,
            expires_at,
        }])
    }

    fn revoke_credential(&self, id: Uuid) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        match self.credentials.iter().find(|c| c.id == id) {
            None => Err(DomainError::not_found("credential not found")),
            Some(c) if c.revoked => Err(DomainError::conflict("the credential is already revoked")),
            Some(_) => Ok(vec![VmEvent::VmCredentialRevoked { id }]),
        }
    }

    fn delete(&self, force: bool) -> Result<Vec<VmEvent>, DomainError> {
        self.require_exists()?;
        if !force {
            self.require_not_busy()?;
            if self.is_on() {
                return Err(DomainError::conflict(
                    "VM is running; stop it first or delete it with force",
                ));
            }
        }
        Ok(vec![VmEvent::VmDeleteRequested])
    }

    fn has_snapshot(&self, id: Uuid, status: SnapshotStatus) -> bool {
        self.snapshots
            .iter()
            .any(|snapshot| snapshot.id == id && snapshot.status == status)
    }

    /// Console sessions are facts about the past: recorded whenever the VM was ever created,
    /// even after it is gone (a console that closed with the VM's deletion).
    fn record_console(&self, command: VmCommand) -> Result<Vec<VmEvent>, DomainError> {
        if self.spec.is_none() {
            return Err(DomainError::not_found("VM not found"));
        }
        Ok(match command {
            VmCommand::RecordConsoleOpened {
                session,
                principal,
                kind,
                view_only,
            } => vec![VmEvent::ConsoleOpened {
                session,
                principal,
                kind,
                view_only,
            }],
            VmCommand::RecordConsoleClosed {
                session,
                bytes_in,
                bytes_out,
                duration_ms,
                reason,
            } => vec![VmEvent::ConsoleClosed {
                session,
                bytes_in,
                bytes_out,
                duration_ms,
                reason,
            }],
            _ => vec![],
        })
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
            // Distribox may have started it and only heard of it first from libvirt.
            VmCommand::ReportStartedOutside
                if self.observed == Observed::Stopped && self.desired == Desired::Running =>
            {
                vec![VmEvent::VmStarted]
            }
            VmCommand::ReportStartedOutside if self.observed == Observed::Stopped => {
                vec![VmEvent::VmStartedOutside]
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
            // libvirt tells every pause, Distribox's own too: that one was asked for, unless a
            // fault beat the request to it.
            VmCommand::ReportPausedOutside { reason }
                if self.observed == Observed::Running
                    && self.desired == Desired::Paused
                    && !reason.is_fault() =>
            {
                vec![VmEvent::VmPaused]
            }
            VmCommand::ReportPausedOutside { reason } if self.observed == Observed::Running => {
                vec![VmEvent::VmPausedOutside { reason }]
            }
            VmCommand::ReportResumed if self.observed == Observed::Paused => {
                vec![VmEvent::VmResumed]
            }
            VmCommand::ReportDeleted if self.observed != Observed::Gone => vec![VmEvent::VmDeleted],
            VmCommand::ReportActionFailed { reason } if self.observed != Observed::Gone => {
                vec![VmEvent::VmActionFailed { reason }]
            }
            VmCommand::ReportSnapshotTaken { id }
                if self.has_snapshot(id, SnapshotStatus::Taking) =>
            {
                vec![VmEvent::VmSnapshotTaken { id }]
            }
            VmCommand::ReportSnapshotFailed { id, reason }
                if self.has_snapshot(id, SnapshotStatus::Taking) =>
            {
                vec![VmEvent::VmSnapshotFailed { id, reason }]
            }
            VmCommand::ReportSnapshotReverted { id, running } if self.reverting_to == Some(id) => {
                vec![VmEvent::VmSnapshotReverted { id, running }]
            }
            VmCommand::ReportSnapshotRevertFailed { id, reason }
                if self.reverting_to == Some(id) =>
            {
                vec![VmEvent::VmSnapshotRevertFailed { id, reason }]
            }
            VmCommand::ReportSnapshotDeleted { id }
                if self.snapshots.iter().any(|snapshot| snapshot.id == id) =>
            {
                vec![VmEvent::VmSnapshotDeleted { id }]
            }
            // Already known (a replay after a crash, a duplicate libvirt event) or no longer
            // relevant (the VM moved on): nothing to record.
            report if report.is_report() => vec![],
            // A command `handle` doesn't route elsewhere: a mistake to be heard of, not a no-op.
            _ => return Err(DomainError::conflict("not a hypervisor report")),
        };
        Ok(events)
    }
}

impl Vm {
    /// The guest runs again: what paused it no longer holds, nor does a fault it caused.
    fn clear_pause(&mut self) {
        if self.paused_by.take().is_some_and(PauseReason::is_fault) {
            self.failure = None;
        }
    }

    /// The hypervisor put the VM in this state without being asked for it, and that is now
    /// what is wanted too.
    fn settle(&mut self, running: bool) {
        self.crashed = false;
        (self.desired, self.observed) = if running {
            (Desired::Running, Observed::Running)
        } else {
            (Desired::Stopped, Observed::Stopped)
        };
    }

    fn set_snapshot_status(&mut self, id: Uuid, status: SnapshotStatus) {
        if let Some(snapshot) = self.snapshots.iter_mut().find(|snapshot| snapshot.id == id) {
            snapshot.status = status;
        }
    }
}

/// `vm-` and the first eight characters of the VM id: a hostname that tells VMs apart.
fn fallback_hostname(instance_id: &str) -> String {
    let id: String = instance_id
        .trim_start_matches("iid-")
        .chars()
        .take(8)
        .collect();
    format!("vm-{id}")
}

impl Aggregate for Vm {
    const TYPE: &'static str = "Vm";
    type Command = VmCommand;
    type Event = VmEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            VmCommand::Create(input) => self.create(input)?,
            VmCommand::Start => self.start()?,
            VmCommand::ForceStop => self.force_stop()?,
            VmCommand::Shutdown => self.shutdown()?,
            VmCommand::Reboot => self.reboot()?,
            VmCommand::Pause => self.pause()?,
            VmCommand::Resume => self.resume()?,
            VmCommand::Rename { name } => self.rename(&name)?,
            VmCommand::SetLabels { note, tags } => self.set_labels(note.as_deref(), &tags)?,
            VmCommand::Resize {
                vcpus,
                memory_mib,
                disk_gib,
            } => self.resize(vcpus, memory_mib, disk_gib)?,
            VmCommand::Clone(input) => self.create_clone(input)?,
            VmCommand::Adopt(input) => self.adopt(input)?,
            VmCommand::TakeSnapshot { id, name, at } => self.take_snapshot(id, &name, at)?,
            VmCommand::RevertSnapshot { id } => self.revert_snapshot(id)?,
            VmCommand::DeleteSnapshot { id } => self.delete_snapshot(id)?,
            VmCommand::IssueCredential {
                id,
                name,
                secret_hash,
                expires_at,
                at,
            } => self.issue_credential(id, &name, secret_hash, expires_at, at)?,
            VmCommand::RevokeCredential { id } => self.revoke_credential(id)?,
            VmCommand::Delete { force } => self.delete(force)?,
            command @ (VmCommand::RecordConsoleOpened { .. }
            | VmCommand::RecordConsoleClosed { .. }) => self.record_console(command)?,
            // Hypervisor reports; anything else that lands here is refused, never ignored.
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
                self.crashed = false;
            }
            VmEvent::VmStarted => {
                self.observed = Observed::Running;
                self.failure = None;
                self.crashed = false;
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
                self.crashed = reason == StopReason::Crashed;
                self.failure = self.crashed.then(|| "the guest crashed".to_owned());
                self.paused_by = None;
            }
            VmEvent::VmRebootRequested => self.reboot_pending = true,
            VmEvent::VmRebooted => self.reboot_pending = false,
            VmEvent::VmPauseRequested => self.desired = Desired::Paused,
            VmEvent::VmPaused => self.observed = Observed::Paused,
            // Wanted paused now, so nothing resumes it behind the back of whoever looks; a stop
            // or delete already asked for still goes ahead.
            VmEvent::VmPausedOutside { reason } => {
                self.observed = Observed::Paused;
                if self.desired == Desired::Running {
                    self.desired = Desired::Paused;
                }
                self.paused_by = Some(reason);
                if reason.is_fault() {
                    self.failure = Some(reason.describe().to_owned());
                }
            }
            VmEvent::VmLabelsSet { labels } => self.labels = labels,
            VmEvent::VmResumeRequested => self.desired = Desired::Running,
            VmEvent::VmResumed => {
                self.observed = Observed::Running;
                // A pause libvirt made is over once anything resumes the guest, so nothing
                // pauses it again; a pause someone asked Distribox for is theirs to end.
                if self.paused_by.is_some() && self.desired == Desired::Paused {
                    self.desired = Desired::Running;
                }
                self.clear_pause();
            }
            VmEvent::VmRenamed { name } => {
                if let Some(spec) = &mut self.spec {
                    spec.name = name;
                }
            }
            VmEvent::VmResized {
                vcpus,
                memory_mib,
                disk_gib,
            } => {
                if let Some(spec) = &mut self.spec {
                    spec.vcpus = vcpus;
                    spec.memory_mib = memory_mib;
                    spec.disk_gib = disk_gib;
                }
            }
            VmEvent::VmCloned { from } => self.cloned_from = Some(from),
            VmEvent::VmActionFailed { reason } => {
                // Nothing is wanted any more that the VM isn't already.
                self.desired = match self.observed {
                    Observed::Running => Desired::Running,
                    Observed::Paused => Desired::Paused,
                    _ => Desired::Stopped,
                };
                self.reboot_pending = false;
                for snapshot in &mut self.snapshots {
                    if snapshot.status == SnapshotStatus::Deleting {
                        snapshot.status = SnapshotStatus::Ready;
                    }
                }
                self.failure = Some(reason);
            }
            VmEvent::VmAdopted { running } => self.settle(running),
            VmEvent::VmStartedOutside => {
                self.observed = Observed::Running;
                self.desired = Desired::Running;
                self.failure = None;
                self.crashed = false;
            }
            VmEvent::VmSnapshotRequested {
                id,
                name,
                taken_at,
                with_memory,
            } => self.snapshots.push(Snapshot {
                id,
                name,
                taken_at,
                with_memory,
                status: SnapshotStatus::Taking,
            }),
            VmEvent::VmSnapshotTaken { id } => self.set_snapshot_status(id, SnapshotStatus::Ready),
            VmEvent::VmSnapshotFailed { id, reason } => {
                self.snapshots.retain(|snapshot| snapshot.id != id);
                self.failure = Some(format!("the snapshot could not be taken: {reason}"));
            }
            VmEvent::VmSnapshotRevertRequested { id } => self.reverting_to = Some(id),
            VmEvent::VmSnapshotReverted { running, .. } => {
                self.reverting_to = None;
                self.settle(running);
                self.failure = None;
            }
            VmEvent::VmSnapshotRevertFailed { reason, .. } => {
                self.reverting_to = None;
                self.failure = Some(format!("the snapshot could not be restored: {reason}"));
            }
            VmEvent::VmSnapshotDeleteRequested { id } => {
                self.set_snapshot_status(id, SnapshotStatus::Deleting)
            }
            VmEvent::VmSnapshotDeleted { id } => {
                self.snapshots.retain(|snapshot| snapshot.id != id)
            }
            VmEvent::VmCredentialIssued {
                id,
                name,
                issued_at,
                expires_at,
                ..
            } => self.credentials.push(Credential {
                id,
                name,
                issued_at,
                expires_at,
                revoked: false,
            }),
            VmEvent::VmCredentialRevoked { id } => {
                if let Some(credential) = self.credentials.iter_mut().find(|c| c.id == id) {
                    credential.revoked = true;
                }
            }
            VmEvent::ConsoleOpened { .. } | VmEvent::ConsoleClosed { .. } => {}
            VmEvent::VmDeleteRequested => self.desired = Desired::Deleted,
            VmEvent::VmDeleted => self.observed = Observed::Gone,
        }
    }
}
