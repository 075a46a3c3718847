//! The Distribox domain: what can happen to a VM or an account, and which rules decide whether it
//! may. Everything here is pure — no database, no libvirt, no HTTP — so every rule is testable with
//! cqrs-es's given/when/then `TestFramework` and what the rules need from the world (an image's
//! state, a clone's source) is looked up by the command side and passed in with the command.

pub mod access;
pub mod account;
pub mod console;
pub mod error;
pub mod image;
pub mod policy;
pub mod role;
pub mod vm;

pub use error::{DomainError, ErrorKind};
