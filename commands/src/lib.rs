//! The command side of Distribox: every change goes through here. A command is authorized
//! (the caller's policies), handled by its aggregate (validation and rules), and appended to the
//! event log with the caller's metadata — the audit log is that metadata. Optimistic-concurrency
//! conflicts are retried a bounded number of times before the caller sees `CONFLICT`.

mod account_lifecycle;
mod accounts;
mod bus;
mod context;
mod credentials;
mod error;
mod images;
pub use images::new_image_id;
pub mod secrets;
mod sessions;
mod throttle;
mod vms;

pub use account_lifecycle::CreatedAccount;
pub use accounts::LoginSuccess;
pub use bus::{CommandBus, CommandObserver, CommandOutcome, Committed};
pub use context::{Actor, RequestContext};
pub use credentials::{CredentialGrant, IssuedCredential};
pub use distribox_domain::account::ADMIN_USERNAME;
pub use error::{CommandError, ErrorCode};
pub use sessions::SessionLifetimes;
pub use throttle::{Limit, LoginLimits};
pub use vms::{CreateVmInput, FoundVm};
