use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::aggregate::Vm;
use super::events::{PauseReason, StopReason};
use super::seed::SeedInput;
use crate::console::ConsoleKind;
use crate::image::ImageSummary;

/// What a person asks of a VM (the first group) or what the hypervisor reports back (`Report*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VmCommand {
    Create(CreateVm),
    Start,
    ForceStop,
    /// Press the ACPI power button.
    Shutdown,
    Reboot,
    Pause,
    Resume,
    Rename {
        name: String,
    },
    SetLabels {
        note: Option<String>,
        tags: Vec<String>,
    },
    /// New vCPUs and memory, and a disk at least as large; only while stopped.
    Resize {
        vcpus: u32,
        memory_mib: u64,
        disk_gib: u64,
    },
    /// Create this (new) VM as a copy of a stopped one.
    Clone(CloneVm),
    /// Take over a domain Distribox created but has no history of (say, after its database was
    /// restored from an old backup), or take it over only to delete it.
    Adopt(AdoptVm),
    TakeSnapshot {
        id: Uuid,
        name: String,
        at: DateTime<Utc>,
    },
    RevertSnapshot {
        id: Uuid,
    },
    DeleteSnapshot {
        id: Uuid,
    },
    /// `secret_hash` is the SHA-256 of a secret the command side generated and shows once.
    IssueCredential {
        id: Uuid,
        name: String,
        secret_hash: String,
        expires_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    RevokeCredential {
        id: Uuid,
    },
    /// Removes the VM and its disks; `force` powers a running one off first.
    Delete {
        force: bool,
    },
    /// The relay opened a console of this VM (recorded by the system for the audit log and
    /// usage reports; `principal` is who opened it).
    RecordConsoleOpened {
        session: Uuid,
        principal: String,
        kind: ConsoleKind,
        view_only: bool,
    },
    RecordConsoleClosed {
        session: Uuid,
        bytes_in: u64,
        bytes_out: u64,
        duration_ms: u64,
        reason: String,
    },
    ReportProvisioned,
    ReportProvisionFailed {
        reason: String,
    },
    ReportStarted,
    /// The domain started and Distribox did not start it (`virsh start`, libvirt's autostart).
    ReportStartedOutside,
    ReportStartFailed {
        reason: String,
    },
    ReportStopped {
        reason: StopReason,
    },
    ReportShutdownTimedOut {
        grace_secs: u64,
    },
    ReportRebooted,
    ReportPaused,
    /// libvirt paused the guest and says why; Distribox may or may not have asked.
    ReportPausedOutside {
        reason: PauseReason,
    },
    ReportResumed,
    ReportDeleted,
    /// libvirt refused what the VM was waiting for (a stop, a pause, a removal, …).
    ReportActionFailed {
        reason: String,
    },
    ReportSnapshotTaken {
        id: Uuid,
    },
    ReportSnapshotFailed {
        id: Uuid,
        reason: String,
    },
    /// `running`: the snapshot held memory, so the guest runs again where it was.
    ReportSnapshotReverted {
        id: Uuid,
        running: bool,
    },
    ReportSnapshotRevertFailed {
        id: Uuid,
        reason: String,
    },
    ReportSnapshotDeleted {
        id: Uuid,
    },
}

impl VmCommand {
    /// Whether this is the hypervisor telling what it observed (sent by Distribox itself),
    /// rather than someone asking for something. Exhaustive: a new command must be placed.
    pub fn is_report(&self) -> bool {
        match self {
            VmCommand::ReportProvisioned
            | VmCommand::ReportProvisionFailed { .. }
            | VmCommand::ReportStarted
            | VmCommand::ReportStartedOutside
            | VmCommand::ReportStartFailed { .. }
            | VmCommand::ReportStopped { .. }
            | VmCommand::ReportShutdownTimedOut { .. }
            | VmCommand::ReportRebooted
            | VmCommand::ReportPaused
            | VmCommand::ReportPausedOutside { .. }
            | VmCommand::ReportResumed
            | VmCommand::ReportDeleted
            | VmCommand::ReportActionFailed { .. }
            | VmCommand::ReportSnapshotTaken { .. }
            | VmCommand::ReportSnapshotFailed { .. }
            | VmCommand::ReportSnapshotReverted { .. }
            | VmCommand::ReportSnapshotRevertFailed { .. }
            | VmCommand::ReportSnapshotDeleted { .. } => true,
            VmCommand::Create(_)
            | VmCommand::Start
            | VmCommand::ForceStop
            | VmCommand::Shutdown
            | VmCommand::Reboot
            | VmCommand::Pause
            | VmCommand::Resume
            | VmCommand::Rename { .. }
            | VmCommand::SetLabels { .. }
            | VmCommand::Resize { .. }
            | VmCommand::Clone(_)
            | VmCommand::Adopt(_)
            | VmCommand::TakeSnapshot { .. }
            | VmCommand::RevertSnapshot { .. }
            | VmCommand::DeleteSnapshot { .. }
            | VmCommand::IssueCredential { .. }
            | VmCommand::RevokeCredential { .. }
            | VmCommand::Delete { .. }
            | VmCommand::RecordConsoleOpened { .. }
            | VmCommand::RecordConsoleClosed { .. } => false,
        }
    }
}

/// Unvalidated creation input; the aggregate validates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateVm {
    pub name: String,
    /// The base image as it stands now, looked up by the command side.
    pub image: ImageSummary,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    /// A QEMU keymap name; `en-us` when absent.
    pub keyboard_layout: Option<String>,
    pub autostart: bool,
    pub owner: String,
    /// Start as soon as the VM is provisioned.
    pub start: bool,
    /// The cloud-init instance id, unique to this VM (derived from its id by the caller).
    pub instance_id: String,
    pub seed: SeedInput,
}

/// A clone's identity and its source as the caller loaded it; the new VM's aggregate checks the
/// source may be copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloneVm {
    pub source_id: Uuid,
    pub source: Box<Vm>,
    pub name: String,
    pub owner: String,
    /// The clone's own cloud-init instance id, so the guest re-runs its first-boot setup.
    pub instance_id: String,
}

/// What libvirt shows of a Distribox-made domain with no history, and what to do with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdoptVm {
    pub name: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    /// The image id from the domain's metadata, if it carries one.
    pub image: Option<String>,
    pub owner: String,
    pub running: bool,
    /// Adopt it only to delete it, disks and all.
    pub discard: bool,
}
