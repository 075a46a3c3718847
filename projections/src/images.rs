//! The image catalogue: `<data_dir>/images/<id>.json` describes image `<id>`, whose disk file sits
//! beside it. The folder is read on each lookup, so a host adds an image by copying two files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use distribox_domain::ports::{ImageCatalog, ImageSummary};
use serde::Deserialize;

/// The metadata file's contents.
#[derive(Debug, Clone, Deserialize)]
struct ImageMetadata {
    name: String,
    /// The disk image, a file name in the same folder.
    file: String,
    #[serde(default)]
    os_family: Option<String>,
    #[serde(default)]
    os_version: Option<String>,
    #[serde(default)]
    default_user: Option<String>,
    #[serde(default)]
    firmware: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    pub name: String,
    pub path: PathBuf,
    /// `qcow2` or `raw`, from the file's header.
    pub format: &'static str,
    pub virtual_size_bytes: u64,
    pub os_family: Option<String>,
    pub os_version: Option<String>,
    pub default_user: Option<String>,
    pub firmware: Option<String>,
}

impl Image {
    /// Whether the image boots only with UEFI firmware (`"firmware": "uefi"` in its metadata).
    pub fn needs_uefi(&self) -> bool {
        self.firmware.as_deref().is_some_and(|firmware| {
            firmware.eq_ignore_ascii_case("uefi") || firmware.eq_ignore_ascii_case("efi")
        })
    }
}

#[derive(Debug, Clone)]
pub struct DirImageCatalog {
    dir: PathBuf,
}

/// Ids become file names: keep them to a safe alphabet.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

impl DirImageCatalog {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Every readable image, sorted by id. Broken entries are logged and left out.
    pub fn list(&self) -> Vec<Image> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut images: Vec<Image> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let path = entry.path();
                (path.extension()? == "json")
                    .then(|| path.file_stem()?.to_str().map(str::to_owned))?
            })
            .filter_map(|id| self.get(&id))
            .collect();
        images.sort_by(|a, b| a.id.cmp(&b.id));
        images
    }

    pub fn get(&self, id: &str) -> Option<Image> {
        if !valid_id(id) {
            return None;
        }
        match self.load(id) {
            Ok(image) => Some(image),
            Err(err) => {
                tracing::warn!(image = id, error = %err, "skipping unreadable image");
                None
            }
        }
    }

    fn load(&self, id: &str) -> Result<Image, String> {
        let meta_path = self.dir.join(format!("{id}.json"));
        let raw = std::fs::read(&meta_path).map_err(|e| format!("{}: {e}", meta_path.display()))?;
        let meta: ImageMetadata =
            serde_json::from_slice(&raw).map_err(|e| format!("{}: {e}", meta_path.display()))?;
        if meta.file.contains('/') || !valid_id(&meta.file) {
            return Err(format!(
                "{}: `file` must be a file name in the same folder",
                meta_path.display()
            ));
        }
        let path = self.dir.join(&meta.file);
        let (format, virtual_size_bytes) = disk_format_and_size(&path)?;
        Ok(Image {
            id: id.to_owned(),
            name: meta.name,
            path,
            format,
            virtual_size_bytes,
            os_family: meta.os_family,
            os_version: meta.os_version,
            default_user: meta.default_user,
            firmware: meta.firmware,
        })
    }
}

/// Reads the virtual size from a qcow2 header (big-endian u64 at offset 24); any other file is
/// taken as raw, its size being its length.
fn disk_format_and_size(path: &Path) -> Result<(&'static str, u64), String> {
    let describe = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = File::open(path).map_err(describe)?;
    let mut header = [0u8; 32];
    let read = file.read(&mut header).map_err(describe)?;
    if read == header.len() && header[..4] == *b"QFI\xfb" {
        let size = u64::from_be_bytes(header[24..32].try_into().expect("8 bytes"));
        Ok(("qcow2", size))
    } else {
        Ok(("raw", file.metadata().map_err(describe)?.len()))
    }
}

impl ImageCatalog for DirImageCatalog {
    fn find(&self, id: &str) -> Option<ImageSummary> {
        self.get(id).map(|image| ImageSummary {
            id: image.id,
            name: image.name,
            virtual_size_bytes: image.virtual_size_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    #[test]
    fn reads_images_and_skips_broken_or_unsafe_entries() {
        let dir = std::env::temp_dir().join(format!("distribox-images-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut qcow = b"QFI\xfb".to_vec();
        qcow.resize(24, 0);
        qcow.extend_from_slice(&(3u64 << 30).to_be_bytes());
        write(&dir, "guest.qcow2", &qcow);
        write(
            &dir,
            "guest.json",
            br#"{"name": "Guest", "file": "guest.qcow2", "os_family": "linux"}"#,
        );
        write(&dir, "raw.img", &[0u8; 4096]);
        write(&dir, "raw.json", br#"{"name": "Raw", "file": "raw.img"}"#);
        write(&dir, "broken.json", b"{not json");
        write(
            &dir,
            "escape.json",
            br#"{"name": "Escape", "file": "../etc/passwd"}"#,
        );
        write(
            &dir,
            "missing.json",
            br#"{"name": "Missing", "file": "nope.qcow2"}"#,
        );

        let catalog = DirImageCatalog::new(&dir);
        let ids: Vec<_> = catalog
            .list()
            .into_iter()
            .map(|i| (i.id, i.format, i.virtual_size_bytes))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("guest".to_owned(), "qcow2", 3 << 30),
                ("raw".to_owned(), "raw", 4096)
            ]
        );
        assert_eq!(catalog.find("guest").unwrap().name, "Guest");
        assert!(catalog.find("../guest").is_none());
        assert!(catalog.find("escape").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
