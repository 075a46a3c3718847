//! `GET /audit/export?format=csv|jsonl&vmId=&actor=&action=&outcome=&from=&to=`: the audit log,
//! oldest first, streamed as rows come from PostgreSQL (never built in memory). Bearer token and
//! `audit:get`, like `auditLog`; the filters are the same.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use distribox_commands::ErrorCode;
use distribox_domain::policy::Policy;
use futures::StreamExt;
use serde::Deserialize;

use super::caller;
use super::{csv_record, HttpState};
use crate::audit_log::{self, AuditFilter, AuditRow};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    format: Format,
    vm_id: Option<uuid::Uuid>,
    actor: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

const CSV_HEADER: &[&str] = &[
    "chain_index",
    "position",
    "at",
    "actor",
    "actor_name",
    "client_address",
    "action",
    "vm_id",
    "account_id",
    "outcome",
    "session_id",
    "details",
];

pub async fn export(
    State(state): State<HttpState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    caller::require(&state.app, &headers, addr, Policy::AuditGet, "auditExport").await?;
    let Ok(Query(query)) = query else {
        return Err(ApiError::new(
            ErrorCode::BadInput,
            "format must be csv or jsonl; vmId a UUID; from and to RFC 3339 times",
        ));
    };
    let filter = AuditFilter {
        vm_id: query.vm_id,
        actor: query.actor,
        action: query.action,
        outcome: query.outcome,
        from: query.from,
        to: query.to,
    };
    let filter = audit_log::resolve(filter, &state.app.pool).await?;
    let format = query.format;
    let header_line = match format {
        Format::Csv => Some(csv_record::record(CSV_HEADER.iter().map(|s| s.to_string()))),
        Format::Jsonl => None,
    };
    let rows = audit_log::stream(state.app.pool.clone(), filter).map(move |row| {
        row.map(|row| encode(format, &row)).map_err(|err| {
            // The client sees a cut-off file; the log says why.
            tracing::error!(error = %err, "audit export failed");
            std::io::Error::other("audit export failed")
        })
    });
    let body = futures::stream::iter(header_line.map(Ok)).chain(rows);
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Jsonl => ("application/jsonl; charset=utf-8", "jsonl"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"distribox-audit.{extension}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

fn encode(format: Format, row: &AuditRow) -> Bytes {
    match format {
        Format::Jsonl => {
            let mut line = serde_json::to_vec(row).unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        }
        Format::Csv => {
            let optional = |v: Option<String>| v.unwrap_or_default();
            csv_record::record(
                [
                    row.chain_index.to_string(),
                    row.position.to_string(),
                    row.at.to_rfc3339(),
                    row.actor.clone(),
                    optional(row.actor_name.clone()),
                    optional(row.client_address.clone()),
                    row.action.clone(),
                    optional(row.vm_id.map(|id| id.to_string())),
                    optional(row.account_id.map(|id| id.to_string())),
                    row.outcome.clone(),
                    optional(row.session_id.map(|id| id.to_string())),
                    row.details.to_string(),
                ]
                .into_iter(),
            )
        }
    }
}
