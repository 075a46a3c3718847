//! The `Vm` aggregate: one virtual machine from creation to deletion.

mod aggregate;
mod commands;
pub mod credential;
mod events;
pub mod labels;
mod seed;
pub mod snapshot;
pub mod spec;
mod state;

pub use aggregate::Vm;
pub use commands::{AdoptVm, CloneVm, CreateVm, VmCommand};
pub use credential::Credential;
pub use events::{PauseReason, Power, StopReason, VmEvent};
pub use labels::Labels;
pub use seed::{SeedInput, SeedSpec, SeedUser};
pub use snapshot::{Snapshot, SnapshotStatus};
pub use spec::{KeyboardLayout, VmName, VmSpec};
pub use state::{Desired, Observed, VmState};

#[cfg(test)]
mod tests;
