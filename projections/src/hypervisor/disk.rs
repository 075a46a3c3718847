//! A VM's disk: a qcow2 overlay on its base image, or a copy of another VM's, grown to the size
//! the VM asks for. Every step is idempotent and leaves no half-made file under the final name.

use std::path::Path;

use tokio::io::AsyncReadExt;

use super::HypervisorError;

/// Where the new disk's contents come from.
#[derive(Debug, Clone, Copy)]
pub enum DiskSource<'a> {
    /// An empty overlay on the base image.
    Image { path: &'a Path, format: &'a str },
    /// A copy of another VM's disk (which sits on the same base image).
    Copy {
        disk: &'a Path,
        image: &'a Path,
        image_format: &'a str,
    },
}

/// Creates `disk` from `source` at `size_gib` unless it exists.
pub async fn ensure(
    disk: &Path,
    source: DiskSource<'_>,
    size_gib: u64,
) -> Result<(), HypervisorError> {
    if tokio::fs::try_exists(disk).await.unwrap_or(false) {
        return Ok(());
    }
    // Build beside the final name and rename, so a crash never leaves a half-made disk that a
    // retry would take as finished.
    let partial = disk.with_extension("qcow2.partial");
    let size = format!("{size_gib}G");
    match source {
        DiskSource::Image { path, format } => {
            qemu_img(&[
                "create".as_ref(),
                "-q".as_ref(),
                "-f".as_ref(),
                "qcow2".as_ref(),
                "-F".as_ref(),
                format.as_ref(),
                "-b".as_ref(),
                path.as_os_str(),
                partial.as_os_str(),
                size.as_ref(),
            ])
            .await?
        }
        DiskSource::Copy {
            disk: source,
            image,
            image_format,
        } => {
            // Only the source's own clusters are copied, onto the same base image; its internal
            // snapshots stay behind. qemu-img takes the source's write lock, so a source that
            // is running (and changing) refuses the copy instead of yielding a torn disk.
            qemu_img(&[
                "convert".as_ref(),
                "-q".as_ref(),
                "-f".as_ref(),
                "qcow2".as_ref(),
                "-O".as_ref(),
                "qcow2".as_ref(),
                "-B".as_ref(),
                image.as_os_str(),
                "-F".as_ref(),
                image_format.as_ref(),
                source.as_os_str(),
                partial.as_os_str(),
            ])
            .await?;
            grow(&partial, size_gib).await?;
        }
    }
    // The guest's data: its owner's alone (libvirt hands it to QEMU while the VM runs).
    crate::permissions::restrict_file(&partial)
        .map_err(|e| HypervisorError::Failed(e.to_string()))?;
    tokio::fs::rename(&partial, disk)
        .await
        .map_err(|e| HypervisorError::Failed(e.to_string()))
}

/// Grows `disk` to `size_gib` if it is smaller; never shrinks it. The disk must not be in use.
pub async fn grow(disk: &Path, size_gib: u64) -> Result<(), HypervisorError> {
    let wanted = size_gib << 30;
    if virtual_size(disk).await? >= wanted {
        return Ok(());
    }
    qemu_img(&[
        "resize".as_ref(),
        "-q".as_ref(),
        "-f".as_ref(),
        "qcow2".as_ref(),
        disk.as_os_str(),
        wanted.to_string().as_ref(),
    ])
    .await
}

/// The guest-visible size of a qcow2 file, from its header (big-endian u64 at byte 24): cheap
/// enough to check before every start.
pub async fn virtual_size(disk: &Path) -> Result<u64, HypervisorError> {
    let mut header = [0u8; 32];
    let mut file = tokio::fs::File::open(disk)
        .await
        .map_err(|e| HypervisorError::Failed(format!("cannot open {}: {e}", disk.display())))?;
    file.read_exact(&mut header)
        .await
        .map_err(|e| HypervisorError::Failed(format!("cannot read {}: {e}", disk.display())))?;
    if &header[..4] != b"QFI\xfb" {
        return Err(HypervisorError::Failed(format!(
            "{} is not a qcow2 image",
            disk.display()
        )));
    }
    let size: [u8; 8] = header[24..32].try_into().expect("eight bytes");
    Ok(u64::from_be_bytes(size))
}

async fn qemu_img(args: &[&std::ffi::OsStr]) -> Result<(), HypervisorError> {
    let output = tokio::process::Command::new("qemu-img")
        .args(args)
        .output()
        .await
        .map_err(|e| HypervisorError::Failed(format!("cannot run qemu-img: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(HypervisorError::Failed(format!(
            "qemu-img {} failed: {}",
            args[0].to_string_lossy(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overlays_grow_and_copies_keep_their_contents() {
        let dir = std::env::temp_dir().join(format!("distribox-disk-{}", uuid::Uuid::new_v4()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let base = dir.join("base.qcow2");
        qemu_img(&[
            "create".as_ref(),
            "-q".as_ref(),
            "-f".as_ref(),
            "qcow2".as_ref(),
            base.as_os_str(),
            "1G".as_ref(),
        ])
        .await
        .unwrap();
        let image = DiskSource::Image {
            path: &base,
            format: "qcow2",
        };
        let disk = dir.join("disk.qcow2");
        ensure(&disk, image, 2).await.unwrap();
        assert_eq!(virtual_size(&disk).await.unwrap(), 2 << 30);
        // Idempotent, and never shrinks.
        ensure(&disk, image, 3).await.unwrap();
        grow(&disk, 1).await.unwrap();
        assert_eq!(virtual_size(&disk).await.unwrap(), 2 << 30);
        grow(&disk, 4).await.unwrap();
        assert_eq!(virtual_size(&disk).await.unwrap(), 4 << 30);

        let copy = dir.join("copy.qcow2");
        let source = DiskSource::Copy {
            disk: &disk,
            image: &base,
            image_format: "qcow2",
        };
        ensure(&copy, source, 4).await.unwrap();
        assert_eq!(virtual_size(&copy).await.unwrap(), 4 << 30);
        assert!(!copy.with_extension("qcow2.partial").exists());
        let info = tokio::process::Command::new("qemu-img")
            .args(["info", "--output=json"])
            .arg(&copy)
            .output()
            .await
            .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(info["backing-filename"], base.to_string_lossy().as_ref());

        let err = virtual_size(&dir.join("missing")).await.unwrap_err();
        assert!(err.to_string().starts_with("cannot open"));
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }
}
