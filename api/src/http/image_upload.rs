//! `POST /images/upload?name=…[&fileName=&osFamily=&osVersion=&defaultUser=&firmware=&sha256=]`:
//! a disk image streamed as the request body, written straight to a temporary file (never held
//! in memory), checked like a download and added to the catalogue. A bearer holding
//! `images:import`; answers `201 {"id", "status"}` once the image is ready, or
//! `{"code", "message", "field"}` with the status of the code. A sender that goes away leaves no
//! file behind, and the image records why it failed.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use distribox_commands::{new_image_id, CommandError, ErrorCode};
use distribox_domain::image::{Digest, ImageSource, MetadataInput};
use distribox_domain::policy::Policy;
use distribox_projections::images::import::ImportFailure;
use serde::Deserialize;

use super::caller;
use super::HttpState;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadQuery {
    name: String,
    file_name: Option<String>,
    os_family: Option<String>,
    os_version: Option<String>,
    default_user: Option<String>,
    firmware: Option<String>,
    description: Option<String>,
    sha256: Option<String>,
}

pub async fn upload(
    State(state): State<HttpState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Response {
    match receive(state, addr, headers, query, body).await {
        Ok(id) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "id": id, "status": "READY" })),
        )
            .into_response(),
        Err(err) => err.into_json_response(),
    }
}

async fn receive(
    state: HttpState,
    addr: SocketAddr,
    headers: HeaderMap,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Result<String, ApiError> {
    let app = state.app;
    let ctx = caller::require(&app, &headers, addr, Policy::ImagesImport, "uploadImage").await?;
    let Query(query) = query.map_err(|e| {
        ApiError::new(ErrorCode::BadInput, format!("bad query: {}", e.body_text())).in_field("name")
    })?;
    let expected = query
        .sha256
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(Digest::sha256)
        .transpose()
        .map_err(|e| ApiError::from(CommandError::from(e.in_field("sha256"))))?;
    let size = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let file_name = query
        .file_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "upload".to_owned())
        .chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect();
    let metadata = MetadataInput {
        name: query.name,
        os_family: query.os_family,
        os_version: query.os_version,
        default_user: query.default_user,
        firmware: query.firmware,
        description: query.description,
    };
    // Claimed before it is announced, so no importer takes the upload for an abandoned one.
    let id = new_image_id();
    let lock = app
        .importer
        .lock(&id)
        .await?
        .ok_or_else(|| ApiError::internal("a fresh image id is already claimed"))?;
    app.bus
        .request_image_import(&ctx, &id, metadata, ImageSource::Upload { file_name })
        .await
        .map_err(ApiError::from)?;
    // On a task of its own: a sender that goes away ends the body stream, and the import still
    // records why and removes its temporary file.
    let importer = app.importer.clone();
    let job_id = id.clone();
    let outcome = tokio::spawn(async move {
        let outcome = importer
            .receive(&job_id, body.into_data_stream(), size, expected)
            .await;
        let answer = outcome.as_ref().map(drop).map_err(Clone::clone);
        let recorded = importer.finish(&job_id, outcome).await;
        drop(lock);
        answer.and_then(|()| recorded.map_err(ImportFailure::Unavailable))
    })
    .await
    .map_err(ApiError::internal)?;
    match outcome {
        Ok(()) => Ok(id),
        Err(ImportFailure::Failed(reason) | ImportFailure::Cancelled(reason)) => {
            Err(ApiError::new(ErrorCode::BadInput, reason))
        }
        Err(ImportFailure::Unavailable(reason)) => {
            Err(ApiError::new(ErrorCode::Unavailable, reason))
        }
    }
}
