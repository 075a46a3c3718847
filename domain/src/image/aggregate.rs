use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::metadata::{ImageMetadata, MetadataInput};
use super::source::ImageSource;
use crate::DomainError;

/// Where an image is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    /// No such image was ever asked for.
    #[default]
    Absent,
    Importing,
    Ready,
    Failed,
    /// Kept for the VMs built on it, hidden from new ones.
    Retired,
    Deleted,
}

impl ImageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Absent => "absent",
            ImageStatus::Importing => "importing",
            ImageStatus::Ready => "ready",
            ImageStatus::Failed => "failed",
            ImageStatus::Retired => "retired",
            ImageStatus::Deleted => "deleted",
        }
    }
}

/// What the importer established about an accepted file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// The file's name in the images folder.
    pub file: String,
    /// `qcow2` or `raw`: the only formats a VM's disk is built on.
    pub format: String,
    pub virtual_size_bytes: u64,
    pub size_bytes: u64,
    /// Of the file as it was received (before any conversion).
    pub sha256: String,
    /// The format it arrived in, when it was converted to qcow2 (`vmdk`, `vhdx`, `vdi`).
    pub converted_from: Option<String>,
}

/// What a VM's creation needs to know about its base image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    pub id: String,
    pub status: ImageStatus,
    /// A VM's disk can't be smaller than its image.
    pub virtual_size_bytes: u64,
}

impl ImageSummary {
    /// Refuses images a new VM cannot be built on, saying why.
    pub fn require_usable(&self) -> Result<(), DomainError> {
        let problem = match self.status {
            ImageStatus::Ready => return Ok(()),
            ImageStatus::Absent | ImageStatus::Deleted => "is unknown",
            ImageStatus::Importing => "is still being imported",
            ImageStatus::Failed => "failed to import",
            ImageStatus::Retired => "is retired",
        };
        Err(DomainError::bad_field(
            "image",
            format!("image `{}` {problem}", self.id),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImageCommand {
    RequestImport {
        metadata: MetadataInput,
        source: ImageSource,
    },
    /// Fetch a failed import's source once more.
    RetryImport,
    /// The importer accepted the file (system only).
    ReportImported(ImageFacts),
    /// The importer gave up (system only); `reason` is written for the host.
    ReportImportFailed {
        reason: String,
    },
    ChangeMetadata(MetadataInput),
    Retire,
    Reinstate,
    /// `used_by` names the VMs whose disks are built on the image (the command side looks
    /// them up); deletion is refused while there are any.
    Delete {
        used_by: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImageEvent {
    ImageImportRequested {
        metadata: ImageMetadata,
        source: ImageSource,
    },
    ImageImportRetried,
    ImageImported(ImageFacts),
    ImageImportFailed {
        reason: String,
    },
    ImageMetadataChanged {
        metadata: ImageMetadata,
    },
    ImageRetired,
    ImageReinstated,
    ImageDeleted,
}

impl DomainEvent for ImageEvent {
    fn event_type(&self) -> String {
        match self {
            ImageEvent::ImageImportRequested { .. } => "ImageImportRequested",
            ImageEvent::ImageImportRetried => "ImageImportRetried",
            ImageEvent::ImageImported(_) => "ImageImported",
            ImageEvent::ImageImportFailed { .. } => "ImageImportFailed",
            ImageEvent::ImageMetadataChanged { .. } => "ImageMetadataChanged",
            ImageEvent::ImageRetired => "ImageRetired",
            ImageEvent::ImageReinstated => "ImageReinstated",
            ImageEvent::ImageDeleted => "ImageDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub status: ImageStatus,
    pub metadata: ImageMetadata,
    pub source: Option<ImageSource>,
    pub facts: Option<ImageFacts>,
    /// Why the last import failed.
    pub failure: Option<String>,
}

impl Image {
    pub fn summary(&self, id: &str) -> ImageSummary {
        ImageSummary {
            id: id.to_owned(),
            status: self.status,
            virtual_size_bytes: self
                .facts
                .as_ref()
                .map_or(0, |facts| facts.virtual_size_bytes),
        }
    }

    fn require_exists(&self) -> Result<(), DomainError> {
        match self.status {
            ImageStatus::Absent | ImageStatus::Deleted => {
                Err(DomainError::not_found("image not found"))
            }
            _ => Ok(()),
        }
    }

    fn require_importing(&self) -> Result<(), DomainError> {
        self.require_exists()?;
        if self.status != ImageStatus::Importing {
            return Err(DomainError::conflict(format!(
                "the image is {}, not importing",
                self.status.as_str()
            )));
        }
        Ok(())
    }

    fn request_import(
        &self,
        metadata: MetadataInput,
        source: ImageSource,
    ) -> Result<Vec<ImageEvent>, DomainError> {
        if self.status != ImageStatus::Absent {
            return Err(DomainError::conflict(
                "an image with this id already exists",
            ));
        }
        let metadata = ImageMetadata::parse(metadata)?;
        Ok(vec![ImageEvent::ImageImportRequested { metadata, source }])
    }

    fn retry(&self) -> Result<Vec<ImageEvent>, DomainError> {
        self.require_exists()?;
        if self.status != ImageStatus::Failed {
            return Err(DomainError::conflict("only a failed import can be retried"));
        }
        if !self
            .source
            .as_ref()
            .is_some_and(ImageSource::is_refetchable)
        {
            return Err(DomainError::conflict(
                "an upload cannot be fetched again: upload the file once more",
            ));
        }
        Ok(vec![ImageEvent::ImageImportRetried])
    }

    fn change_metadata(&self, input: MetadataInput) -> Result<Vec<ImageEvent>, DomainError> {
        self.require_exists()?;
        let metadata = ImageMetadata::parse(input)?;
        if metadata == self.metadata {
            return Ok(vec![]);
        }
        Ok(vec![ImageEvent::ImageMetadataChanged { metadata }])
    }

    fn retire(&self) -> Result<Vec<ImageEvent>, DomainError> {
        self.require_exists()?;
        match self.status {
            ImageStatus::Retired => Ok(vec![]),
            ImageStatus::Ready => Ok(vec![ImageEvent::ImageRetired]),
            other => Err(DomainError::conflict(format!(
                "only a ready image can be retired; this one is {}",
                other.as_str()
            ))),
        }
    }

    fn reinstate(&self) -> Result<Vec<ImageEvent>, DomainError> {
        self.require_exists()?;
        match self.status {
            ImageStatus::Ready => Ok(vec![]),
            ImageStatus::Retired => Ok(vec![ImageEvent::ImageReinstated]),
            other => Err(DomainError::conflict(format!(
                "only a retired image can be reinstated; this one is {}",
                other.as_str()
            ))),
        }
    }

    fn delete(&self, used_by: Vec<String>) -> Result<Vec<ImageEvent>, DomainError> {
        self.require_exists()?;
        if !used_by.is_empty() {
            return Err(DomainError::conflict(format!(
                "the disks of {} {} are built on this image; delete them first, or retire the image",
                if used_by.len() == 1 { "VM" } else { "VMs" },
                used_by.join(", ")
            )));
        }
        Ok(vec![ImageEvent::ImageDeleted])
    }
}

impl Aggregate for Image {
    const TYPE: &'static str = "Image";
    type Command = ImageCommand;
    type Event = ImageEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            ImageCommand::RequestImport { metadata, source } => {
                self.request_import(metadata, source)?
            }
            ImageCommand::RetryImport => self.retry()?,
            ImageCommand::ReportImported(facts) => {
                self.require_importing()?;
                vec![ImageEvent::ImageImported(facts)]
            }
            ImageCommand::ReportImportFailed { reason } => {
                self.require_importing()?;
                vec![ImageEvent::ImageImportFailed { reason }]
            }
            ImageCommand::ChangeMetadata(input) => self.change_metadata(input)?,
            ImageCommand::Retire => self.retire()?,
            ImageCommand::Reinstate => self.reinstate()?,
            ImageCommand::Delete { used_by } => self.delete(used_by)?,
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ImageEvent::ImageImportRequested { metadata, source } => {
                self.status = ImageStatus::Importing;
                self.metadata = metadata;
                self.source = Some(source);
            }
            ImageEvent::ImageImportRetried => {
                self.status = ImageStatus::Importing;
                self.failure = None;
            }
            ImageEvent::ImageImported(facts) => {
                self.status = ImageStatus::Ready;
                self.facts = Some(facts);
                self.failure = None;
            }
            ImageEvent::ImageImportFailed { reason } => {
                self.status = ImageStatus::Failed;
                self.failure = Some(reason);
            }
            ImageEvent::ImageMetadataChanged { metadata } => self.metadata = metadata,
            ImageEvent::ImageRetired => self.status = ImageStatus::Retired,
            ImageEvent::ImageReinstated => self.status = ImageStatus::Ready,
            ImageEvent::ImageDeleted => self.status = ImageStatus::Deleted,
        }
    }
}
