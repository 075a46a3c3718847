//! Images on the API side: recording import outcomes through the command bus, registering
//! what the images folder held before images were in the log, and waiting for the catalogue's
//! read model to show a change.

use std::sync::Arc;

use async_trait::async_trait;
use distribox_commands::{CommandBus, RequestContext};
use distribox_domain::image::{ImageCommand, ImageFacts, ImageSource, ImageStatus};
use distribox_projections::images::folder;
use distribox_projections::images::import::{ImportReporter, Importer};
use distribox_projections::read_models::images::{self, ImageRow};
use distribox_projections::runner::Checkpoint;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::error::ApiError;
use crate::reads::wait_until;

/// Import outcomes go into the log as the `system` actor.
pub struct BusImportReporter(pub Arc<CommandBus>);

#[async_trait]
impl ImportReporter for BusImportReporter {
    async fn imported(&self, id: &str, facts: ImageFacts) -> Result<(), String> {
        self.report(id, ImageCommand::ReportImported(facts)).await
    }

    async fn failed(&self, id: &str, reason: String) -> Result<(), String> {
        self.report(id, ImageCommand::ReportImportFailed { reason })
            .await
    }
}

impl BusImportReporter {
    async fn report(&self, id: &str, command: ImageCommand) -> Result<(), String> {
        self.0
            .image_command(&RequestContext::system(), id, command)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// Registers every image of the folder the log doesn't know yet, inspected and hashed as an
/// import would be. Runs before the server answers, so VMs can be created on them at once.
pub async fn register_folder_images(bus: &CommandBus, importer: &Importer) -> anyhow::Result<()> {
    let system = RequestContext::system();
    for found in folder::scan(importer.dir()) {
        let image = bus
            .load_image(&found.id)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if image.status != ImageStatus::Absent {
            continue;
        }
        let Some(_lock) = importer.lock(&found.id).await? else {
            continue;
        };
        let source = ImageSource::Folder {
            file: found.file.clone(),
        };
        let request = ImageCommand::RequestImport {
            metadata: found.metadata,
            source,
        };
        if let Err(err) = bus.image_command(&system, &found.id, request).await {
            tracing::warn!(image = %found.id, error = %err, "cannot register an image of the folder");
            continue;
        }
        let outcome = importer.register_folder(&found.file).await;
        if let Err(err) = importer.finish(&found.id, outcome).await {
            tracing::warn!(image = %found.id, %err, "cannot register an image of the folder");
        }
        tracing::info!(image = %found.id, "registered an image found in the images folder");
    }
    Ok(())
}

/// The catalogue's read model, and how far its projection has come.
#[derive(Clone)]
pub struct ImageReads {
    pool: PgPool,
    progress: watch::Receiver<Checkpoint>,
}

impl ImageReads {
    pub fn new(pool: PgPool, progress: watch::Receiver<Checkpoint>) -> Self {
        Self { pool, progress }
    }

    pub async fn list(&self) -> Result<Vec<ImageRow>, ApiError> {
        Ok(images::list(&self.pool).await?)
    }

    pub async fn get(&self, id: &str) -> Result<Option<ImageRow>, ApiError> {
        Ok(images::get(&self.pool, id).await?)
    }

    /// Image `id` once the read model has applied its event `version` (or, with `gone`, once
    /// it no longer lists it); what it shows after a timeout otherwise.
    pub async fn at_least(
        &self,
        id: &str,
        version: i64,
        gone: bool,
    ) -> Result<Option<ImageRow>, ApiError> {
        let done = |row: &Option<ImageRow>| match row {
            None => gone,
            Some(row) => !gone && row.version >= version,
        };
        let subject = format!("image {id} version {version}");
        wait_until(subject, self.progress.clone(), || self.get(id), done).await
    }
}
