//! Image files, VM disks and seed ISOs hold other people's data: only their owner (Distribox)
//! and its group may read them, never every local user. QEMU gets at them because libvirt hands
//! each domain's disks, base images included, to QEMU's user and group while the domain runs
//! (its dynamic ownership). The group may read so that Distribox, a member of QEMU's group,
//! still reads a base image while a running VM has it (to build another VM's disk on it).
//! Their folders only let others pass through to a name they already know, as libvirt's own
//! image folder does.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Files: read and write for the owner, read for its group, nothing for others.
pub const FILE_MODE: u32 = 0o640;
/// Folders: others may pass through to a name they know, but not list.
pub const DIR_MODE: u32 = 0o711;

pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
}

pub fn restrict_dir(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
}
