//! Ports: what the domain needs to know about the outside world, as traits the outer crates
//! implement. Pure tests use in-memory fakes of them.

use serde::{Deserialize, Serialize};

/// What the domain needs to know about a base image to accept a VM built on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    pub id: String,
    pub name: String,
    /// Virtual size of the image; a VM's disk can't be smaller than its image.
    pub virtual_size_bytes: u64,
}

/// The catalogue of base images available on this host.
pub trait ImageCatalog: Send + Sync {
    fn find(&self, id: &str) -> Option<ImageSummary>;
}
