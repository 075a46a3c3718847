//! `GET /usage/export?from=&to=&groupBy=vm|account|credential[&asOf=]`: a usage report as CSV,
//! for a bearer holding `usage:get`; the same report `usageReport` answers. A report has a row
//! per VM, account or credential, so it is small enough to build whole.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use distribox_commands::ErrorCode;
use distribox_domain::policy::Policy;
use distribox_projections::usage::{GroupBy, UsageRow};
use serde::Deserialize;

use super::caller;
use super::{csv_record, HttpState};
use crate::error::ApiError;
use crate::usage::{self, Period};

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Group {
    Vm,
    Account,
    Credential,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: Group,
    as_of: Option<DateTime<Utc>>,
}

const CSV_HEADER: [&str; 14] = [
    "key",
    "label",
    "running_hours",
    "vcpu_hours",
    "memory_gib_hours",
    "cpu_seconds",
    "memory_avg_mib",
    "memory_peak_mib",
    "disk_read_bytes",
    "disk_write_bytes",
    "net_rx_bytes",
    "net_tx_bytes",
    "console_sessions",
    "console_minutes",
];

pub async fn export(
    State(state): State<HttpState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller::require(&state.app, &headers, addr, Policy::UsageGet, "usageExport").await?;
    let Ok(Query(query)) = query else {
        return Err(ApiError::new(
            ErrorCode::BadInput,
            "from and to (and asOf) must be RFC 3339 times; groupBy vm, account or credential",
        ));
    };
    let period = Period::new(query.from, query.to, query.as_of, Utc::now())?;
    let (group, name) = match query.group_by {
        Group::Vm => (GroupBy::Vm, "vm"),
        Group::Account => (GroupBy::Account, "account"),
        Group::Credential => (GroupBy::Credential, "credential"),
    };
    let report = usage::report(&state.app, period, group).await?;
    let mut body = csv_record::record(CSV_HEADER.iter().map(|s| s.to_string())).to_vec();
    for row in report.rows.iter().chain([&report.totals]) {
        body.extend_from_slice(&csv_record::record(fields(row).into_iter()));
    }
    let stamp = |at: DateTime<Utc>| at.format("%Y%m%dT%H%MZ");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"distribox-usage-{name}-{}-{}.csv\"",
                    stamp(period.from),
                    stamp(period.as_of)
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

fn fields(row: &UsageRow) -> [String; 14] {
    let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    [
        row.key.clone(),
        row.label.clone(),
        row.running_hours.to_string(),
        row.vcpu_hours.to_string(),
        row.memory_gib_hours.to_string(),
        row.cpu_seconds.to_string(),
        optional(row.memory_avg_mib),
        optional(row.memory_peak_mib),
        row.disk_read_bytes.to_string(),
        row.disk_write_bytes.to_string(),
        row.net_rx_bytes.to_string(),
        row.net_tx_bytes.to_string(),
        row.console_sessions.to_string(),
        row.console_minutes.to_string(),
    ]
}
