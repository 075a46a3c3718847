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

/// Gives `path` [`FILE_MODE`] and, when running as root (the CLI, say, beside a service that
/// runs as its own user), its folder's owner and group, so the service can read it too.
pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))?;
    let folder = path.parent().unwrap_or(Path::new("/"));
    if rustix::process::geteuid().is_root() {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(folder)?;
        let file = std::fs::metadata(path)?;
        if (file.uid(), file.gid()) != (owner.uid(), owner.gid()) {
            std::os::unix::fs::chown(path, Some(owner.uid()), Some(owner.gid()))?;
        }
    }
    Ok(())
}

pub fn restrict_dir(path: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn files_get_the_mode_and_as_root_the_folders_owner() {
        let dir = std::env::temp_dir().join(format!("distribox-perms-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("disk.qcow2");
        std::fs::write(&file, b"data").unwrap();
        let root = rustix::process::geteuid().is_root();
        if root {
            // The folder belongs to the service's user (here: nobody).
            std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        }
        restrict_file(&file).unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o640);
        if root {
            assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        }
        restrict_dir(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o711);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
