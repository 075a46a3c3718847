//! Usage in GraphQL: `usageReport` (per VM, account or credential over a period) and the
//! `vmUsage` and `hostUsage` time series the dashboard charts.

use async_graphql::{Enum, SimpleObject};
use chrono::{DateTime, Utc};
use distribox_projections::usage::series::{HostPoint, VmPoint};
use distribox_projections::usage::{GroupBy, UsageRow as Row};

use crate::usage::Report;

/// What a report's rows are.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum UsageGroup {
    /// One row per VM (deleted ones included).
    Vm,
    /// One row per account: the VMs it owns, and the consoles it opened.
    Account,
    /// One row per credential: the consoles opened with it.
    Credential,
}

impl From<UsageGroup> for GroupBy {
    fn from(group: UsageGroup) -> Self {
        match group {
            UsageGroup::Vm => GroupBy::Vm,
            UsageGroup::Account => GroupBy::Account,
            UsageGroup::Credential => GroupBy::Credential,
        }
    }
}

impl From<GroupBy> for UsageGroup {
    fn from(group: GroupBy) -> Self {
        match group {
            GroupBy::Vm => UsageGroup::Vm,
            GroupBy::Account => UsageGroup::Account,
            GroupBy::Credential => UsageGroup::Credential,
        }
    }
}

/// What one VM, account or credential used in the period. Running time, allocation and
/// console time are exact (from the event log); CPU, memory, disk and network come from
/// samples.
#[derive(SimpleObject)]
pub struct UsageRow {
    /// The VM, account or credential id; `total` for the totals.
    pub key: String,
    /// The VM's name, the username, or the credential's name with its VM's.
    pub label: String,
    /// Hours the VM's domain was powered (running or paused).
    pub running_hours: f64,
    /// Running hours times the vCPUs it had.
    pub vcpu_hours: f64,
    /// Running hours times the memory it was given, in GiB.
    pub memory_gib_hours: f64,
    /// CPU time the guest used.
    pub cpu_seconds: f64,
    /// Resident memory, averaged over the samples (null without samples, and in totals).
    pub memory_avg_mib: Option<f64>,
    pub memory_peak_mib: Option<f64>,
    pub disk_read_bytes: f64,
    pub disk_write_bytes: f64,
    pub net_rx_bytes: f64,
    pub net_tx_bytes: f64,
    /// Console sessions open at any time in the period.
    pub console_sessions: i32,
    /// Minutes of those sessions that fell in the period.
    pub console_minutes: f64,
}

impl From<Row> for UsageRow {
    fn from(row: Row) -> Self {
        Self {
            key: row.key,
            label: row.label,
            running_hours: row.running_hours,
            vcpu_hours: row.vcpu_hours,
            memory_gib_hours: row.memory_gib_hours,
            cpu_seconds: row.cpu_seconds,
            memory_avg_mib: row.memory_avg_mib,
            memory_peak_mib: row.memory_peak_mib,
            disk_read_bytes: row.disk_read_bytes as f64,
            disk_write_bytes: row.disk_write_bytes as f64,
            net_rx_bytes: row.net_rx_bytes as f64,
            net_tx_bytes: row.net_tx_bytes as f64,
            console_sessions: i32::try_from(row.console_sessions).unwrap_or(i32::MAX),
            console_minutes: row.console_minutes,
        }
    }
}

#[derive(SimpleObject)]
pub struct UsageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The moment the report describes: the earliest of `to`, the `asOf` asked for and now.
    pub as_of: DateTime<Utc>,
    pub group_by: UsageGroup,
    pub rows: Vec<UsageRow>,
    pub totals: UsageRow,
}

impl From<Report> for UsageReport {
    fn from(report: Report) -> Self {
        Self {
            from: report.period.from,
            to: report.period.to,
            as_of: report.period.as_of,
            group_by: report.group.into(),
            rows: report.rows.into_iter().map(UsageRow::from).collect(),
            totals: report.totals.into(),
        }
    }
}

/// One bucket of a VM's samples; values are null where no sample fell in it (the VM was off).
#[derive(SimpleObject)]
pub struct UsagePoint {
    /// The bucket's start.
    pub at: DateTime<Utc>,
    /// 100 = one host CPU busy all the time (more with several vCPUs).
    pub cpu_percent: Option<f64>,
    pub memory_avg_mib: Option<f64>,
    pub memory_peak_mib: Option<f64>,
    pub disk_read_bytes_per_second: Option<f64>,
    pub disk_write_bytes_per_second: Option<f64>,
    pub net_rx_bytes_per_second: Option<f64>,
    pub net_tx_bytes_per_second: Option<f64>,
}

impl From<VmPoint> for UsagePoint {
    fn from(p: VmPoint) -> Self {
        Self {
            at: p.at,
            cpu_percent: p.cpu_percent,
            memory_avg_mib: p.memory_avg_mib,
            memory_peak_mib: p.memory_peak_mib,
            disk_read_bytes_per_second: p.disk_read_bytes_per_second,
            disk_write_bytes_per_second: p.disk_write_bytes_per_second,
            net_rx_bytes_per_second: p.net_rx_bytes_per_second,
            net_tx_bytes_per_second: p.net_tx_bytes_per_second,
        }
    }
}

#[derive(SimpleObject)]
pub struct UsageSeries {
    /// The width of each bucket.
    pub step_seconds: i32,
    pub points: Vec<UsagePoint>,
}

/// One bucket of the host's samples.
#[derive(SimpleObject)]
pub struct HostUsagePoint {
    pub at: DateTime<Utc>,
    /// 100 = every CPU busy.
    pub cpu_percent: Option<f64>,
    pub memory_used_mib: Option<f64>,
    pub memory_total_mib: Option<f64>,
    pub disk_used_gib: Option<f64>,
    pub disk_total_gib: Option<f64>,
}

impl From<HostPoint> for HostUsagePoint {
    fn from(p: HostPoint) -> Self {
        Self {
            at: p.at,
            cpu_percent: p.cpu_percent,
            memory_used_mib: p.memory_used_mib,
            memory_total_mib: p.memory_total_mib,
            disk_used_gib: p.disk_used_gib,
            disk_total_gib: p.disk_total_gib,
        }
    }
}

#[derive(SimpleObject)]
pub struct HostUsageSeries {
    pub step_seconds: i32,
    pub points: Vec<HostUsagePoint>,
}
