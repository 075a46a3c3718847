//! The `distribox` binary's library: configuration, wiring of the command side, projections,
//! console relay and hypervisor, and the HTTP surface (GraphQL, websockets, web app).

pub mod app;
pub mod config;
mod error;
mod graphql;
mod http;
mod reads;
mod recordings;
mod revoker;
pub mod wiring;

pub use app::{migrate, App};
pub use config::Config;
