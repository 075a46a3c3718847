//! The `Image` aggregate: a base disk image VMs are built on.
//!
//! An import is asked for (from a URL, an upload, a local file, or found lying in the images
//! folder), then the importer reports its outcome: imported, with the facts it checked (format,
//! sizes, SHA-256), or failed with a reason. Only the start and the outcome are events; progress
//! in between is not history. A ready image can be described anew, retired (hidden from
//! provisioning, file kept for the VMs built on it) and deleted once no VM uses it.

mod aggregate;
mod metadata;
mod source;

pub use aggregate::{Image, ImageCommand, ImageEvent, ImageFacts, ImageStatus, ImageSummary};
pub use metadata::{Firmware, ImageMetadata, MetadataInput};
pub use source::{Digest, ImageSource};

#[cfg(test)]
mod tests;
