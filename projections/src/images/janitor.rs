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
        let image = load(tx, id, event.sequence).await?;
        let mut files = vec![format!(".{id}.partial"), format!(".{id}.converting")];
        files.extend(image.facts.map(|facts| facts.file));
        if let Some(ImageSource::Folder { .. }) = image.source {
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
