//! Images a host placed in the images folder by hand: `<id>.json` describes image `<id>`, whose
//! disk file sits beside it. Before images were in the log this was the only way in; such
//! images are registered in the log when Distribox starts, so nothing that worked breaks.

use std::path::Path;

use distribox_domain::image::MetadataInput;
use serde::Deserialize;

/// The metadata file's contents.
#[derive(Debug, Clone, Deserialize)]
struct FolderMetadata {
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
    #[serde(default)]
    description: Option<String>,
}

/// One image found in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderImage {
    pub id: String,
    /// The disk's file name, beside the metadata.
    pub file: String,
    pub metadata: MetadataInput,
}

/// Ids become file names: keep them to a safe alphabet.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Every image described in `dir` whose disk file is there, sorted by id. Broken entries are
/// logged and left out.
pub fn scan(dir: &Path) -> Vec<FolderImage> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut images: Vec<FolderImage> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            let id = (path.extension()? == "json").then(|| path.file_stem()?.to_str())??;
            valid_id(id).then(|| id.to_owned())
        })
        .filter_map(|id| match read(dir, &id) {
            Ok(image) => Some(image),
            Err(err) => {
                tracing::warn!(image = id, error = %err, "skipping unreadable image");
                None
            }
        })
        .collect();
    images.sort_by(|a, b| a.id.cmp(&b.id));
    images
}

fn read(dir: &Path, id: &str) -> Result<FolderImage, String> {
    let meta_path = dir.join(format!("{id}.json"));
    let raw = std::fs::read(&meta_path).map_err(|e| format!("{}: {e}", meta_path.display()))?;
    let meta: FolderMetadata =
        serde_json::from_slice(&raw).map_err(|e| format!("{}: {e}", meta_path.display()))?;
    if !valid_id(&meta.file) {
        return Err(format!(
            "{}: `file` must be a file name in the same folder",
            meta_path.display()
        ));
    }
    // Imported images are `<uuid>.<format>`: such a file belongs to its own image.
    let stem = meta.file.split('.').next().unwrap_or_default();
    if stem != id && uuid::Uuid::parse_str(stem).is_ok() {
        return Err(format!(
            "{}: `{}` is an imported image's file",
            meta_path.display(),
            meta.file
        ));
    }
    if !dir.join(&meta.file).is_file() {
        return Err(format!("{}: no file `{}`", meta_path.display(), meta.file));
    }
    Ok(FolderImage {
        id: id.to_owned(),
        file: meta.file,
        metadata: MetadataInput {
            name: meta.name,
            os_family: meta.os_family,
            os_version: meta.os_version,
            default_user: meta.default_user,
            firmware: meta.firmware,
            description: meta.description,
        },
    })
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
        write(&dir, "guest.qcow2", b"QFI\xfb");
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

        let found = scan(&dir);
        let ids: Vec<_> = found
            .iter()
            .map(|i| (i.id.as_str(), i.file.as_str()))
            .collect();
        assert_eq!(ids, vec![("guest", "guest.qcow2"), ("raw", "raw.img")]);
        assert_eq!(found[0].metadata.name, "Guest");
        assert_eq!(found[0].metadata.os_family.as_deref(), Some("linux"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
