//! Image files, VM disks and seed ISOs hold other people's data: only their owner (Distribox)
//! may read them. QEMU gets at them because libvirt hands each domain's disks to QEMU's user
//! while the domain runs (its dynamic ownership); their folders only let others pass through
//! to a name they already know, as libvirt's own image folder does.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Files: read and write for the owner only.
pub const FILE_MODE: u32 = 0o600;
/// Folders: others may pass through to a name they know, but not list.
pub const DIR_MODE: u32 = 0o711;

pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
}

pub fn restrict_dir(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
}
