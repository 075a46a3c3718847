//! The hypervisor side: the [`HypervisorProjector`] follows VM events and makes libvirt match the
//! desired state; what it observes goes back into the log as commands.

mod addresses;
mod disk;
mod domain_xml;
pub mod kvm_probe;
mod libvirt;
pub mod lifecycle;
mod pause;
mod projector;
mod reconciler;
mod recoverable;
mod screenshot;
mod seed_iso;
mod snapshots;
mod stats;

use std::path::PathBuf;

use async_trait::async_trait;
use distribox_domain::vm::{KeyboardLayout, SeedSpec};
use uuid::Uuid;

pub use self::libvirt::{
    DomainStatus, DomainType, HypervisorHealth, LibvirtHypervisor, SerialStream, StartLedger,
    Unavailable,
};
pub use domain_xml::domain_name;
pub use projector::{HypervisorProjector, OutcomeReporter, ReportError};
pub use reconciler::{Reconciled, Reconciler};
pub use recoverable::{recoverable, FoundDomain};
pub use screenshot::TILE_MAX_WIDTH;
pub use stats::{Readings, StatsReader, VmCounters};

/// The base image a VM's disk is an overlay on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    pub id: String,
    pub path: PathBuf,
    /// `qcow2` or `raw`.
    pub format: &'static str,
}

/// Everything needed to build a VM's disk and libvirt domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub id: Uuid,
    /// Display name, any text: escaped into the domain's `<title>`.
    pub name: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub disk_gib: u64,
    /// The base image, if the catalogue still has it: needed only to build a missing disk.
    pub image: Option<BaseImage>,
    /// The cloud-init seed, attached as a CD-ROM.
    pub seed: Option<SeedSpec>,
    pub keyboard: KeyboardLayout,
    /// Started by libvirt when the host boots.
    pub autostart: bool,
    /// The image needs UEFI firmware.
    pub uefi: bool,
    /// The VM whose disk the new disk copies (a clone).
    pub cloned_from: Option<Uuid>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum HypervisorError {
    /// libvirtd can't be reached; the operation should be retried later.
    #[error("hypervisor unavailable: {0}")]
    Unavailable(String),
    /// libvirt (or the disk tooling) refused the operation; the message is libvirt's.
    #[error("{0}")]
    Failed(String),
}

/// The operations the projector needs, each idempotent: doing it twice leaves the same state.
#[async_trait]
pub trait Hypervisor: Send + Sync + 'static {
    /// Creates the disk overlay if missing and (re)defines the domain.
    async fn provision(&self, machine: &Machine) -> Result<(), HypervisorError>;
    /// Starts the domain unless it is running, provisioning it first if it went missing.
    async fn start(&self, machine: &Machine) -> Result<(), HypervisorError>;
    /// Powers the domain off at once unless it is already off.
    async fn force_stop(&self, id: Uuid) -> Result<(), HypervisorError>;
    /// Presses the ACPI power button (unless the domain is off); the guest decides.
    async fn shutdown(&self, id: Uuid) -> Result<(), HypervisorError>;
    /// Asks the guest to reboot through ACPI.
    async fn reboot(&self, id: Uuid) -> Result<(), HypervisorError>;
    /// Freezes the guest's vCPUs unless already paused.
    async fn pause(&self, id: Uuid) -> Result<(), HypervisorError>;
    /// Lets a paused guest run again unless already running.
    async fn resume(&self, id: Uuid) -> Result<(), HypervisorError>;
    /// Sets the domain's title (the VM's display name), live and in its saved definition.
    async fn set_title(&self, id: Uuid, title: &str) -> Result<(), HypervisorError>;
    /// Destroys and undefines the domain and removes its disks.
    async fn remove(&self, id: Uuid) -> Result<(), HypervisorError>;
    /// Takes snapshot `snapshot` unless it exists; `description` is the name people gave it.
    async fn take_snapshot(
        &self,
        id: Uuid,
        snapshot: Uuid,
        description: &str,
    ) -> Result<(), HypervisorError>;
    /// Reverts to `snapshot`; answers whether the domain is running afterwards.
    async fn revert_snapshot(&self, id: Uuid, snapshot: Uuid) -> Result<bool, HypervisorError>;
    /// Deletes `snapshot` unless it is already gone.
    async fn delete_snapshot(&self, id: Uuid, snapshot: Uuid) -> Result<(), HypervisorError>;
}
