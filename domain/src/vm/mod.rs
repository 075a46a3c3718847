//! The `Vm` aggregate: one virtual machine from creation to deletion.

mod aggregate;
mod commands;
mod events;
pub mod spec;
mod state;

pub use aggregate::{Vm, VmServices};
pub use commands::{CreateVm, VmCommand};
pub use events::{StopReason, VmEvent};
pub use spec::{VmName, VmSpec};
pub use state::{Desired, Observed, VmState};

#[cfg(test)]
mod tests;
