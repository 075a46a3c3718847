//! Usage monitoring: the [`sampler`] records what running VMs and the host use, the `usage`
//! read model records from the log when VMs ran and consoles were open, and [`report`] and
//! [`series`] answer questions over both.

pub mod host;
pub mod report;
pub mod sampler;
pub mod series;

pub use report::{report, GroupBy, UsageRow};

/// The sample rows (`usage_samples`, `host_samples`) that fall in the period `[$1, $2)`: a raw
/// row covers the tick that ends at its `at`, a folded one the hour that starts there.
const IN_PERIOD: &str = "((resolution = 'raw' AND at > $1 AND at <= $2)
                          OR (resolution = 'hour' AND at >= $1 AND at < $2))";
pub use sampler::{LatestUsage, LatestUsageHandle, Sampler, SamplerOptions};
