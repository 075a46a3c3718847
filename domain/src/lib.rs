//! The Distribox domain: what can happen to a VM or an account, and which rules decide whether it
//! may. Everything here is pure — no database, no libvirt, no HTTP — so every rule is testable with
//! cqrs-es's given/when/then `TestFramework` and the outer crates can only reach the world through
//! the ports declared in [`ports`].

pub mod access;
pub mod account;
pub mod console;
pub mod error;
pub mod policy;
pub mod ports;
pub mod vm;

pub use error::{DomainError, ErrorKind};
