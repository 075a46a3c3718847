use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::labels::Labels;
use super::seed::SeedSpec;
use super::spec::{VmName, VmSpec};
use crate::console::ConsoleKind;

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

/// Why libvirt paused a guest that Distribox did not ask to pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// Someone paused it outside Distribox (`virsh suspend`).
    Outside,
    /// A disk read or write failed (a full or failing host disk, usually).
    IoError,
    /// The guest's watchdog fired.
    Watchdog,
    /// The guest panicked.
    Crashed,
    /// QEMU stopped the guest for no reason it gives: on a host whose KVM can't run guests
    /// this is the "KVM internal error … emulation failure".
    HypervisorError,
    /// A reason newer than this version of Distribox.
    Other,
}

impl PauseReason {
    /// Paused by a fault, not by a person or a task that resumes it.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            PauseReason::IoError
                | PauseReason::Watchdog
                | PauseReason::Crashed
                | PauseReason::HypervisorError
        )
    }

    /// Why, for people: shown as the VM's state reason.
    pub fn describe(self) -> &'static str {
        match self {
            PauseReason::Outside => "paused outside Distribox (for example with virsh suspend)",
            PauseReason::IoError => {
                "paused by libvirt after a disk I/O error: check the host's free disk space"
            }
            PauseReason::Watchdog => "paused by libvirt: the guest's watchdog fired",
            PauseReason::Crashed => "paused by libvirt: the guest crashed (kernel panic)",
            PauseReason::HypervisorError => {
                "stopped by the hypervisor with an internal error (for example KVM failing to \
                 emulate an instruction): force stop and start it, or run Distribox with \
                 DISTRIBOX_DOMAIN_TYPE=qemu"
            }
            PauseReason::Other => "paused by libvirt",
        }
    }
}

/// Everything that can happen to a VM. Request events record intent; the others record what the
/// hypervisor observed, reported back through commands so the log tells the whole story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VmEvent {
    VmCreated {
        spec: VmSpec,
        image: String,
        owner: String,
        /// Absent in VMs created before seeds existed.
        #[serde(default)]
        seed: Option<SeedSpec>,
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
    /// An ACPI power-button press was asked for; the guest decides whether to stop.
    VmShutdownRequested,
    /// The guest was still running when the shutdown grace period ended.
    VmShutdownTimedOut {
        grace_secs: u64,
    },
    VmStopped {
        reason: StopReason,
    },
    VmRebootRequested,
    VmRebooted,
    VmPauseRequested,
    VmPaused,
    VmResumeRequested,
    VmResumed,
    VmRenamed {
        name: VmName,
    },
    VmResized {
        vcpus: u32,
        memory_mib: u64,
        disk_gib: u64,
    },
    /// Follows `VmCreated` in a clone: its disk is a copy of `from`'s.
    VmCloned {
        from: Uuid,
    },
    /// The domain started without Distribox asking; the VM is now wanted running.
    VmStartedOutside,
    /// libvirt paused the guest without Distribox asking; it stays paused until resumed.
    VmPausedOutside {
        reason: PauseReason,
    },
    /// The note and tags people gave the VM.
    VmLabelsSet {
        labels: Labels,
    },
    /// Follows `VmCreated` for a domain that existed before its history: the VM is as libvirt
    /// found it.
    VmAdopted {
        running: bool,
    },
    /// libvirt refused what was asked; the VM settles as it is, with the reason as its failure.
    VmActionFailed {
        reason: String,
    },
    VmSnapshotRequested {
        id: Uuid,
        name: String,
        taken_at: DateTime<Utc>,
        with_memory: bool,
    },
    VmSnapshotTaken {
        id: Uuid,
    },
    VmSnapshotFailed {
        id: Uuid,
        reason: String,
    },
    VmSnapshotRevertRequested {
        id: Uuid,
    },
    VmSnapshotReverted {
        id: Uuid,
        running: bool,
    },
    VmSnapshotRevertFailed {
        id: Uuid,
        reason: String,
    },
    VmSnapshotDeleteRequested {
        id: Uuid,
    },
    VmSnapshotDeleted {
        id: Uuid,
    },
    VmCredentialIssued {
        id: Uuid,
        name: String,
        secret_hash: String,
        issued_at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    },
    VmCredentialRevoked {
        id: Uuid,
    },
    ConsoleOpened {
        session: Uuid,
        principal: String,
        kind: ConsoleKind,
        view_only: bool,
    },
    /// `bytes_in`: typed into the guest; `bytes_out`: sent to the viewer.
    ConsoleClosed {
        session: Uuid,
        bytes_in: u64,
        bytes_out: u64,
        duration_ms: u64,
        reason: String,
    },
    VmDeleteRequested,
    VmDeleted,
}

/// Whether the VM's domain is powered (running or paused) after an event, as far as the event
/// says: what usage accounting counts as running time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    On,
    Off,
}

impl VmEvent {
    /// The power state this event observed, if it observed one. Requests say nothing (the
    /// hypervisor may refuse them); pausing keeps the domain and its memory, so it stays on.
    pub fn power(&self) -> Option<Power> {
        match self {
            VmEvent::VmStarted | VmEvent::VmStartedOutside => Some(Power::On),
            VmEvent::VmAdopted { running } | VmEvent::VmSnapshotReverted { running, .. } => {
                Some(if *running { Power::On } else { Power::Off })
            }
            VmEvent::VmStopped { .. } | VmEvent::VmDeleted => Some(Power::Off),
            _ => None,
        }
    }
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
            VmEvent::VmShutdownRequested => "VmShutdownRequested",
            VmEvent::VmShutdownTimedOut { .. } => "VmShutdownTimedOut",
            VmEvent::VmRebootRequested => "VmRebootRequested",
            VmEvent::VmRebooted => "VmRebooted",
            VmEvent::VmPauseRequested => "VmPauseRequested",
            VmEvent::VmPaused => "VmPaused",
            VmEvent::VmResumeRequested => "VmResumeRequested",
            VmEvent::VmResumed => "VmResumed",
            VmEvent::VmRenamed { .. } => "VmRenamed",
            VmEvent::VmStopped { .. } => "VmStopped",
            VmEvent::VmResized { .. } => "VmResized",
            VmEvent::VmCloned { .. } => "VmCloned",
            VmEvent::VmStartedOutside => "VmStartedOutside",
            VmEvent::VmPausedOutside { .. } => "VmPausedOutside",
            VmEvent::VmLabelsSet { .. } => "VmLabelsSet",
            VmEvent::VmAdopted { .. } => "VmAdopted",
            VmEvent::VmActionFailed { .. } => "VmActionFailed",
            VmEvent::VmSnapshotRequested { .. } => "VmSnapshotRequested",
            VmEvent::VmSnapshotTaken { .. } => "VmSnapshotTaken",
            VmEvent::VmSnapshotFailed { .. } => "VmSnapshotFailed",
            VmEvent::VmSnapshotRevertRequested { .. } => "VmSnapshotRevertRequested",
            VmEvent::VmSnapshotReverted { .. } => "VmSnapshotReverted",
            VmEvent::VmSnapshotRevertFailed { .. } => "VmSnapshotRevertFailed",
            VmEvent::VmSnapshotDeleteRequested { .. } => "VmSnapshotDeleteRequested",
            VmEvent::VmSnapshotDeleted { .. } => "VmSnapshotDeleted",
            VmEvent::VmCredentialIssued { .. } => "VmCredentialIssued",
            VmEvent::VmCredentialRevoked { .. } => "VmCredentialRevoked",
            VmEvent::ConsoleOpened { .. } => "ConsoleOpened",
            VmEvent::ConsoleClosed { .. } => "ConsoleClosed",
            VmEvent::VmDeleteRequested => "VmDeleteRequested",
            VmEvent::VmDeleted => "VmDeleted",
        };
        name.to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_observations_change_power() {
        assert_eq!(VmEvent::VmStarted.power(), Some(Power::On));
        assert_eq!(VmEvent::VmStartedOutside.power(), Some(Power::On));
        assert_eq!(
            VmEvent::VmAdopted { running: true }.power(),
            Some(Power::On)
        );
        assert_eq!(
            VmEvent::VmAdopted { running: false }.power(),
            Some(Power::Off)
        );
        let reverted = |running| VmEvent::VmSnapshotReverted {
            id: Uuid::nil(),
            running,
        };
        assert_eq!(reverted(true).power(), Some(Power::On));
        assert_eq!(reverted(false).power(), Some(Power::Off));
        let stopped = VmEvent::VmStopped {
            reason: StopReason::Guest,
        };
        assert_eq!(stopped.power(), Some(Power::Off));
        assert_eq!(VmEvent::VmDeleted.power(), Some(Power::Off));
        // Intent, failures and pausing leave the domain as it was.
        for event in [
            VmEvent::VmStartRequested,
            VmEvent::VmStartFailed {
                reason: "no".to_owned(),
            },
            VmEvent::VmShutdownRequested,
            VmEvent::VmForceStopRequested,
            VmEvent::VmPaused,
            VmEvent::VmResumed,
            VmEvent::VmRebooted,
        ] {
            assert_eq!(event.power(), None, "{event:?}");
        }
    }
}
