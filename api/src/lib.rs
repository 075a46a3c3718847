//! The `distribox` binary's library: configuration, wiring of the command side, projections,
//! console relay and hypervisor, and the HTTP surface (GraphQL, websockets, web app).

pub mod app;
mod audit_log;
pub mod config;
mod error;
mod graphql;
mod history;
mod host;
mod http;
mod images;
pub mod images_cli;
mod installation;
mod metrics;
mod reads;
mod recordings;
mod revoker;
mod usage;
pub mod wiring;

pub use app::{migrate, App};
pub use config::Config;
pub use graphql::sdl as graphql_sdl;
