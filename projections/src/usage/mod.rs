//! Usage monitoring: the [`sampler`] records what running VMs and the host use, the `usage`
//! read model records from the log when VMs ran and consoles were open, and [`report`] and
//! [`series`] answer questions over both.

pub mod host;
pub mod report;
pub mod sampler;
pub mod series;

pub use report::{report, GroupBy, UsageRow};
pub use sampler::{LatestUsage, LatestUsageHandle, Sampler, SamplerOptions};
