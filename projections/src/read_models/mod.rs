//! SQL read models the API queries. Each is disposable: drop its table rows and checkpoint and
//! the runner rebuilds it from the log.

mod accounts;
pub mod audit;
pub mod audit_query;
pub mod images;
mod usage;
mod vms;

pub use accounts::AccountsProjection;
pub use audit::AuditLogProjection;
pub use images::ImagesProjection;
pub use usage::UsageProjection;
pub use vms::{VmChange, VmsProjection};
