//! Snapshots of a VM: a named point it can be reverted to. While one is being taken, reverted or
//! deleted the VM is busy, the way Proxmox locks a VM during snapshot work: lifecycle commands
//! wait for it, so the hypervisor never snapshots a disk that is changing under it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::spec::display_name;
use crate::DomainError;

pub const MAX_SNAPSHOTS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotStatus {
    /// Asked for; the hypervisor has not taken it yet.
    Taking,
    Ready,
    /// Asked to be deleted; still on disk.
    Deleting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: Uuid,
    pub name: String,
    pub taken_at: DateTime<Utc>,
    /// Taken while running: it holds the guest's memory too, and reverting to it resumes the
    /// guest where it was.
    pub with_memory: bool,
    pub status: SnapshotStatus,
}

/// Validates a snapshot's display name: printable text, like a VM name.
pub fn parse_snapshot_name(raw: &str) -> Result<String, DomainError> {
    display_name("snapshot name", raw)
}
