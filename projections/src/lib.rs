//! The read side of Distribox. Projections follow the event log in order through one durable
//! catch-up [`runner`]: SQL read models for the API, and the [`hypervisor`] projector that makes
//! libvirt match what the log asks for.

pub mod error;
pub mod event;
pub mod hypervisor;
pub mod images;
pub mod permissions;
pub mod read_models;
pub mod rebuild;
pub mod runner;
pub mod status;
pub mod usage;

pub use error::ProjectionError;
pub use event::StoredEvent;
