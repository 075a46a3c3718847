//! Removes a deleted image's files. A projection, so a deletion recorded while the server was
//! down still takes effect when it is back; removing a file twice is harmless.

use std::path::PathBuf;

use async_trait::async_trait;
use cqrs_es::Aggregate;
use distribox_domain::image::{Image, ImageEvent, ImageSource};
use sqlx::PgConnection;

use crate::read_models::images::load;
use crate::runner::Projection;
use crate::{ProjectionError, StoredEvent};

pub struct ImageFileJanitor {
    dir: PathBuf,
}

impl ImageFileJanitor {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl Projection for ImageFileJanitor {
    fn name(&self) -> &'static str {
        "image_files"
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        if event.aggregate_type != Image::TYPE {
            return Ok(());
        }
        let ImageEvent::ImageDeleted = event.decode()? else {
            return Ok(());
        };
        let id = &event.aggregate_id;
        // The command refused deletion while VMs were built on the image, but a VM created in
        // the same instant may have slipped past it: its disk's backing file stays.
        let in_use: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events c
                             WHERE c.event_type = 'VmCreated'
                               AND c.payload->'VmCreated'->>'image' = $1
                               AND NOT EXISTS (SELECT 1 FROM events d
                                                WHERE d.aggregate_type = 'Vm'
                                                  AND d.aggregate_id = c.aggregate_id
                                                  AND d.event_type = 'VmDeleted'))",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if in_use {
            tracing::warn!(image = %id, "deleted image still backs a VM's disk; its file is kept");
            return Ok(());
        }
        let image = load(tx, id, event.sequence).await?;
        let mut files = vec![format!(".{id}.partial"), format!(".{id}.converting")];
        if !matches!(image.source, Some(ImageSource::Folder { .. })) {
            // An import may have renamed its file in and stopped before recording it.
            files.extend([format!("{id}.qcow2"), format!("{id}.raw")]);
        }
        files.extend(image.facts.map(|facts| facts.file));
        files.sort();
        files.dedup();
        if let Some(ImageSource::Folder { file }) = &image.source {
            // A file placed by hand may be described twice; another image may still use it.
            let shared: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM events r
                                 WHERE r.aggregate_type = 'Image' AND r.aggregate_id <> $2
                                   AND r.event_type = 'ImageImportRequested'
                                   AND r.payload->'ImageImportRequested'->'source'->'folder'->>'file' = $1
                                   AND NOT EXISTS (SELECT 1 FROM events d
                                                    WHERE d.aggregate_type = 'Image'
                                                      AND d.aggregate_id = r.aggregate_id
                                                      AND d.event_type = 'ImageDeleted'))",
            )
            .bind(file)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if shared {
                files.retain(|f| f != file);
            }
            files.push(format!("{id}.json"));
        }
        for file in files {
            match tokio::fs::remove_file(self.dir.join(&file)).await {
                Ok(()) => tracing::info!(image = %id, %file, "removed a deleted image's file"),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    return Err(ProjectionError::Other(format!(
                        "cannot remove {file}: {err}"
                    )))
                }
            }
        }
        Ok(())
    }
}
