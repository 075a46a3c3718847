//! A VM's lifecycle as two halves — what was asked for and what the hypervisor last saw — and the
//! single public state the API shows, derived from both.

use serde::{Deserialize, Serialize};

/// What the most recent request wants the VM to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Desired {
    /// Off, by force if need be.
    #[default]
    Stopped,
    /// Off, by asking the guest (ACPI); it stays running if the guest ignores it.
    ShutDown,
    Running,
    Paused,
    Deleted,
}

/// What the hypervisor last reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Observed {
    /// No disk or libvirt domain yet.
    #[default]
    Pending,
    Stopped,
    Running,
    Paused,
    /// Domain and disks are gone.
    Gone,
}

/// The state shown to people (the GraphQL `VmState` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VmState {
    Pending,
    Stopped,
    Starting,
    Running,
    Paused,
    Stopping,
    Crashed,
    Failed,
    Deleted,
}

impl VmState {
    pub fn derive(desired: Desired, observed: Observed, failed: bool) -> Self {
        match (observed, desired) {
            (Observed::Gone, _) => VmState::Deleted,
            (Observed::Pending, _) if failed => VmState::Failed,
            (Observed::Pending, Desired::Deleted) => VmState::Stopping,
            (Observed::Pending, _) => VmState::Pending,
            // Running until the hypervisor says it paused.
            (Observed::Running, Desired::Running | Desired::Paused) => VmState::Running,
            (Observed::Running, _) => VmState::Stopping,
            // Paused until the hypervisor says it resumed.
            (Observed::Paused, Desired::Running | Desired::Paused) => VmState::Paused,
            (Observed::Paused, _) => VmState::Stopping,
            (Observed::Stopped, Desired::Running) => VmState::Starting,
            (Observed::Stopped, Desired::Deleted) => VmState::Stopping,
            (Observed::Stopped, _) if failed => VmState::Failed,
            (Observed::Stopped, _) => VmState::Stopped,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VmState::Pending => "PENDING",
            VmState::Stopped => "STOPPED",
            VmState::Starting => "STARTING",
            VmState::Running => "RUNNING",
            VmState::Paused => "PAUSED",
            VmState::Stopping => "STOPPING",
            VmState::Crashed => "CRASHED",
            VmState::Failed => "FAILED",
            VmState::Deleted => "DELETED",
        }
    }
}
