use serde::{Deserialize, Serialize};

use super::events::StopReason;
use super::seed::SeedInput;

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
    Delete,
    ReportProvisioned,
    ReportProvisionFailed {
        reason: String,
    },
    ReportStarted,
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
    ReportResumed,
    ReportDeleted,
}

/// Unvalidated creation input; the aggregate validates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateVm {
    pub name: String,
    pub image: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    pub owner: String,
    /// Start as soon as the VM is provisioned.
    pub start: bool,
    /// The cloud-init instance id, unique to this VM (derived from its id by the caller).
    pub instance_id: String,
    pub seed: SeedInput,
}
