use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::spec::VmSpec;

/// Why a VM stopped running, as observed by the hypervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Someone asked Distribox to force it off.
    Forced,
    /// The guest powered itself off.
    Guest,
    /// The guest crashed or QEMU died.
    Crashed,
    /// It stopped outside Distribox (for example `virsh destroy`).
    External,
}

/// Everything that can happen to a VM. Request events record intent; the others record what the
/// hypervisor observed, reported back through commands so the log tells the whole story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VmEvent {
    VmCreated {
        spec: VmSpec,
        image: String,
        owner: String,
    },
    /// Disk overlay and libvirt domain exist.
    VmProvisioned,
    VmProvisionFailed {
        reason: String,
    },
    VmStartRequested,
    VmStarted,
    VmStartFailed {
        reason: String,
    },
    VmForceStopRequested,
    VmStopped {
        reason: StopReason,
    },
    VmDeleteRequested,
    VmDeleted,
}

impl DomainEvent for VmEvent {
    fn event_type(&self) -> String {
        let name = match self {
            VmEvent::VmCreated { .. } => "VmCreated",
            VmEvent::VmProvisioned => "VmProvisioned",
            VmEvent::VmProvisionFailed { .. } => "VmProvisionFailed",
            VmEvent::VmStartRequested => "VmStartRequested",
            VmEvent::VmStarted => "VmStarted",
            VmEvent::VmStartFailed { .. } => "VmStartFailed",
            VmEvent::VmForceStopRequested => "VmForceStopRequested",
            VmEvent::VmStopped { .. } => "VmStopped",
            VmEvent::VmDeleteRequested => "VmDeleteRequested",
            VmEvent::VmDeleted => "VmDeleted",
        };
        name.to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
