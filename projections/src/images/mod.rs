//! Image files: where an image's disk lives, what the images folder held before images were in
//! the log, and the importer that turns a URL or an upload into an accepted image.

pub mod checksum;
pub mod folder;
pub mod import;
pub mod inspect;
pub mod janitor;

use std::path::PathBuf;

use distribox_domain::image::{Firmware, ImageStatus};
use sqlx::PgPool;

use crate::read_models::images::load;
use crate::ProjectionError;

/// An accepted image's disk, as a VM's disk is built on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    pub id: String,
    pub path: PathBuf,
    /// `qcow2` or `raw`.
    pub format: &'static str,
    pub firmware: Firmware,
}

/// Finds image files by id, from the image's events (read models may lag behind a VM that was
/// created the moment its image became ready).
#[derive(Debug, Clone)]
pub struct ImageFiles {
    pool: PgPool,
    dir: PathBuf,
}

impl ImageFiles {
    pub fn new(pool: PgPool, dir: impl Into<PathBuf>) -> Self {
        Self {
            pool,
            dir: dir.into(),
        }
    }

    /// Image `id`'s file, if it was imported. A retired image's file stays for the VMs built on
    /// it, and so does a deleted one's that a VM created in the same instant still needed.
    pub async fn get(&self, id: &str) -> Result<Option<ImageFile>, ProjectionError> {
        let mut conn = self.pool.acquire().await?;
        let image = load(&mut conn, id, i64::MAX).await?;
        let Some(facts) = image.facts else {
            return Ok(None);
        };
        let path = self.dir.join(&facts.file);
        let usable = match image.status {
            ImageStatus::Ready | ImageStatus::Retired => true,
            ImageStatus::Deleted => tokio::fs::try_exists(&path).await.unwrap_or(false),
            _ => false,
        };
        if !usable {
            return Ok(None);
        }
        let format = match facts.format.as_str() {
            "qcow2" => "qcow2",
            "raw" => "raw",
            other => {
                return Err(ProjectionError::Other(format!(
                    "image {id} has format `{other}`, which no disk is built on"
                )))
            }
        };
        Ok(Some(ImageFile {
            id: id.to_owned(),
            path,
            format,
            firmware: image.metadata.firmware,
        }))
    }
}
