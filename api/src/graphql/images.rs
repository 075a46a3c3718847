//! The image catalogue in GraphQL: types, and what the image queries, mutations and
//! subscription do (the roots declare them, with their guards).

use async_graphql::{Context, Enum, InputObject, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use distribox_commands::Committed;
use distribox_domain::image::{ImageCommand, ImageSource, MetadataInput};
use distribox_projections::images::import::progress::{ImportProgress, Phase};
use distribox_projections::read_models::images::ImageRow;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;

use super::access::request;
use crate::app::AppState;
use crate::error::ApiError;

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImageStatus {
    Importing,
    Ready,
    Failed,
    /// Kept for the VMs built on it; new VMs can't use it.
    Retired,
}

#[derive(SimpleObject)]
pub struct Image {
    pub id: ID,
    pub name: String,
    pub status: ImageStatus,
    pub os_family: Option<String>,
    pub os_version: Option<String>,
    /// The login user the image's cloud-init creates.
    pub default_user: Option<String>,
    /// `bios` or `uefi`.
    pub firmware: String,
    pub description: Option<String>,
    /// `url`, `upload` or `folder` (placed in the images folder by hand).
    pub source_kind: String,
    /// The URL, or the file's name as it was sent or found.
    pub source: String,
    /// `qcow2` or `raw`, once imported.
    pub format: Option<String>,
    /// The format it arrived in, when it was converted to qcow2.
    pub converted_from: Option<String>,
    /// Of the file as it was received.
    pub sha256: Option<String>,
    pub size_bytes: Option<i64>,
    pub virtual_size_bytes: Option<i64>,
    /// The smallest disk a VM built on it can have.
    pub min_disk_gib: i64,
    /// How many VMs are built on it.
    pub used_by: i64,
    /// Why the import failed.
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<ImageRow> for Image {
    fn from(row: ImageRow) -> Self {
        let status = match row.status.as_str() {
            "importing" => ImageStatus::Importing,
            "failed" => ImageStatus::Failed,
            "retired" => ImageStatus::Retired,
            _ => ImageStatus::Ready,
        };
        Self {
            id: ID(row.id),
            name: row.name,
            status,
            os_family: row.os_family,
            os_version: row.os_version,
            default_user: row.default_user,
            firmware: row.firmware,
            description: row.description,
            source_kind: row.source_kind,
            source: row.source,
            format: row.format,
            converted_from: row.converted_from,
            sha256: row.sha256,
            size_bytes: row.size_bytes,
            min_disk_gib: row
                .virtual_size_bytes
                .map_or(1, |bytes| (bytes as u64).div_ceil(1 << 30).max(1) as i64),
            virtual_size_bytes: row.virtual_size_bytes,
            used_by: row.used_by,
            failure: row.failure,
            created_at: row.created_at,
        }
    }
}

/// An official cloud image Distribox knows where to find.
#[derive(SimpleObject, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CatalogueImage {
    pub key: String,
    pub name: String,
    pub os_family: String,
    pub os_version: String,
    pub url: String,
    /// The vendor's checksum file that lists the image.
    pub checksum_url: String,
    pub default_user: String,
    pub firmware: String,
    pub description: Option<String>,
}

/// The curated list shipped with Distribox (`api/catalogue/images.json`).
pub fn catalogue() -> Vec<CatalogueImage> {
    serde_json::from_str(include_str!("../../catalogue/images.json"))
        .expect("the shipped catalogue is valid JSON")
}

#[derive(InputObject)]
pub struct ImportImageInput {
    /// An http:// or https:// URL.
    pub url: String,
    /// The file's SHA-256 as hex digits…
    pub sha256: Option<String>,
    /// …or the vendor's checksum file listing it (SHA256SUMS, SHA512SUMS, CHECKSUM, .sha256…).
    pub checksum_url: Option<String>,
    pub name: String,
    pub os_family: Option<String>,
    pub os_version: Option<String>,
    pub default_user: Option<String>,
    /// `bios` (the default) or `uefi`.
    pub firmware: Option<String>,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct ImageMetadataInput {
    pub name: String,
    pub os_family: Option<String>,
    pub os_version: Option<String>,
    pub default_user: Option<String>,
    pub firmware: Option<String>,
    pub description: Option<String>,
}

impl From<ImageMetadataInput> for MetadataInput {
    fn from(input: ImageMetadataInput) -> Self {
        Self {
            name: input.name,
            os_family: input.os_family,
            os_version: input.os_version,
            default_user: input.default_user,
            firmware: input.firmware,
            description: input.description,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImportPhase {
    Downloading,
    Uploading,
    Verifying,
    Converting,
    Ready,
    Failed,
}

impl From<Phase> for ImportPhase {
    fn from(phase: Phase) -> Self {
        match phase {
            Phase::Downloading => ImportPhase::Downloading,
            Phase::Uploading => ImportPhase::Uploading,
            Phase::Verifying => ImportPhase::Verifying,
            Phase::Converting => ImportPhase::Converting,
            Phase::Ready => ImportPhase::Ready,
            Phase::Failed => ImportPhase::Failed,
        }
    }
}

/// Where one import is.
#[derive(SimpleObject)]
pub struct ImageProgress {
    pub image_id: ID,
    pub phase: ImportPhase,
    pub bytes: i64,
    pub total: Option<i64>,
    /// Bytes per second lately.
    pub rate: i64,
    pub error: Option<String>,
}

impl From<ImportProgress> for ImageProgress {
    fn from(p: ImportProgress) -> Self {
        Self {
            image_id: ID(p.image_id),
            phase: p.phase.into(),
            bytes: p.bytes as i64,
            total: p.total.map(|t| t as i64),
            rate: p.rate as i64,
            error: p.error,
        }
    }
}

/// Answers a mutation with the image as the catalogue shows it after the change.
async fn after(state: &AppState, id: &str, committed: Committed) -> Result<Image> {
    let row = state.images.at_least(id, committed.version, false).await?;
    Ok(row.ok_or_else(|| ApiError::not_found("image"))?.into())
}

pub async fn import(ctx: &Context<'_>, input: ImportImageInput) -> Result<Image> {
    let state = ctx.data::<AppState>()?;
    let source = ImageSource::url(
        &input.url,
        input.sha256.as_deref().filter(|s| !s.trim().is_empty()),
        input
            .checksum_url
            .as_deref()
            .filter(|s| !s.trim().is_empty()),
    )
    .map_err(|e| ApiError::from(distribox_commands::CommandError::from(e)))?;
    let metadata = MetadataInput {
        name: input.name,
        os_family: input.os_family,
        os_version: input.os_version,
        default_user: input.default_user,
        firmware: input.firmware,
        description: input.description,
    };
    let id = distribox_commands::new_image_id();
    let committed = state
        .bus
        .request_image_import(request(ctx)?, &id, metadata, source)
        .await
        .map_err(ApiError::from)?;
    after(state, &id, committed).await
}

/// Runs one command on image `id` and answers with the image afterwards.
pub async fn command(ctx: &Context<'_>, id: &ID, command: ImageCommand) -> Result<Image> {
    let state = ctx.data::<AppState>()?;
    let committed = state
        .bus
        .image_command(request(ctx)?, id.as_str(), command)
        .await
        .map_err(ApiError::from)?;
    after(state, id.as_str(), committed).await
}

pub async fn delete(ctx: &Context<'_>, id: &ID) -> Result<bool> {
    let state = ctx.data::<AppState>()?;
    let committed = state
        .bus
        .delete_image(request(ctx)?, id.as_str())
        .await
        .map_err(ApiError::from)?;
    state
        .images
        .at_least(id.as_str(), committed.version, true)
        .await?;
    Ok(true)
}

pub async fn get(ctx: &Context<'_>, id: &ID) -> Result<Option<Image>> {
    let state = ctx.data::<AppState>()?;
    Ok(state.images.get(id.as_str()).await?.map(Image::from))
}

pub async fn list(ctx: &Context<'_>) -> Result<Vec<Image>> {
    let state = ctx.data::<AppState>()?;
    Ok(state
        .images
        .list()
        .await?
        .into_iter()
        .map(Image::from)
        .collect())
}

/// Progress of every import (or of image `id`'s) from now on.
pub fn progress(ctx: &Context<'_>, id: Option<ID>) -> Result<impl Stream<Item = ImageProgress>> {
    let state = ctx.data::<AppState>()?;
    let updates = BroadcastStream::new(state.importer.progress().subscribe());
    Ok(updates.filter_map(move |update| {
        // A subscriber that fell behind skips what it missed: the next update has the totals.
        let update = update
            .ok()
            .filter(|u| id.as_ref().is_none_or(|id| id.as_str() == u.image_id));
        async move { update.map(ImageProgress::from) }
    }))
}
