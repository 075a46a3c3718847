//! The `images` table: the catalogue as the dashboard lists it, and the queries over it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use distribox_domain::image::{Image, ImageEvent, ImageSource, ImageStatus};
use sqlx::{PgConnection, PgPool};

use crate::runner::Projection;
use crate::{ProjectionError, StoredEvent};

/// One catalogue entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImageRow {
    pub id: String,
    pub name: String,
    /// `importing`, `ready`, `failed` or `retired`.
    pub status: String,
    pub os_family: Option<String>,
    pub os_version: Option<String>,
    pub default_user: Option<String>,
    /// `bios` or `uefi`.
    pub firmware: String,
    pub description: Option<String>,
    /// `url`, `upload` or `folder`.
    pub source_kind: String,
    /// The URL, or the file's name as it was sent or found.
    pub source: String,
    pub file: Option<String>,
    pub format: Option<String>,
    pub converted_from: Option<String>,
    pub sha256: Option<String>,
    pub size_bytes: Option<i64>,
    pub virtual_size_bytes: Option<i64>,
    pub failure: Option<String>,
    pub version: i64,
    /// How many VMs not yet deleted are built on it.
    pub used_by: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT i.*, (SELECT count(*) FROM vms v WHERE v.image = i.id) AS used_by
                        FROM images i";

/// Every image not deleted, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<ImageRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} ORDER BY lower(i.name), i.id"))
        .fetch_all(pool)
        .await
}

pub async fn get(pool: &PgPool, id: &str) -> Result<Option<ImageRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE i.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Images whose import has not finished, oldest first: the importer's to-do list.
pub async fn importing(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM images WHERE status = 'importing' ORDER BY updated_at")
        .fetch_all(pool)
        .await
}

fn source_columns(source: &ImageSource) -> (&'static str, &str) {
    match source {
        ImageSource::Url { url, .. } => ("url", url),
        ImageSource::Upload { file_name } => ("upload", file_name),
        ImageSource::Folder { file } => ("folder", file),
    }
}

pub struct ImagesProjection;

#[async_trait]
impl Projection for ImagesProjection {
    fn name(&self) -> &'static str {
        "images"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["images"]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != Image::TYPE {
            return Ok(());
        }
        let decoded: ImageEvent = event.decode()?;
        // Images have short histories: fold them from the log rather than keep their state.
        let mut image = load(&mut *tx, &event.aggregate_id, event.sequence).await?;
        image.apply(decoded);
        if image.status == ImageStatus::Deleted {
            sqlx::query("DELETE FROM images WHERE id = $1")
                .bind(&event.aggregate_id)
                .execute(&mut *tx)
                .await?;
            return Ok(());
        }
        let Some(source) = &image.source else {
            return Err(ProjectionError::Other(format!(
                "event {} precedes ImageImportRequested",
                event.global_position
            )));
        };
        let (source_kind, source) = source_columns(source);
        let facts = image.facts.as_ref();
        let metadata = &image.metadata;
        sqlx::query(
            "INSERT INTO images (id, name, status, os_family, os_version, default_user, firmware,
                 description, source_kind, source, file, format, converted_from, sha256, size_bytes,
                 virtual_size_bytes, failure, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18, $19, $19)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status,
                 os_family = excluded.os_family, os_version = excluded.os_version,
                 default_user = excluded.default_user, firmware = excluded.firmware,
                 description = excluded.description, file = excluded.file,
                 format = excluded.format, converted_from = excluded.converted_from,
                 sha256 = excluded.sha256, size_bytes = excluded.size_bytes,
                 virtual_size_bytes = excluded.virtual_size_bytes, failure = excluded.failure,
                 version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(&event.aggregate_id)
        .bind(&metadata.name)
        .bind(image.status.as_str())
        .bind(&metadata.os_family)
        .bind(&metadata.os_version)
        .bind(&metadata.default_user)
        .bind(metadata.firmware.as_str())
        .bind(&metadata.description)
        .bind(source_kind)
        .bind(source)
        .bind(facts.map(|f| &f.file))
        .bind(facts.map(|f| &f.format))
        .bind(facts.and_then(|f| f.converted_from.as_ref()))
        .bind(facts.map(|f| &f.sha256))
        .bind(facts.map(|f| f.size_bytes as i64))
        .bind(facts.map(|f| f.virtual_size_bytes as i64))
        .bind(&image.failure)
        .bind(event.sequence)
        .bind(event.recorded_at)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// Image `id` as its events before `before` (a sequence number; `i64::MAX` for all of them)
/// leave it.
pub async fn load(
    conn: &mut PgConnection,
    id: &str,
    before: i64,
) -> Result<Image, ProjectionError> {
    let payloads: Vec<(serde_json::Value, i64)> = sqlx::query_as(
        "SELECT payload, global_position FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence < $3 ORDER BY sequence",
    )
    .bind(Image::TYPE)
    .bind(id)
    .bind(before)
    .fetch_all(&mut *conn)
    .await?;
    let mut image = Image::default();
    for (payload, position) in payloads {
        let event: ImageEvent = serde_json::from_value(payload)
            .map_err(|source| ProjectionError::Decode { position, source })?;
        image.apply(event);
    }
    Ok(image)
}
