//! What `qemu-img info` says about a file, and whether a VM may ever boot from it.
//!
//! A disk image is a program for QEMU's block layer: a qcow2 can name a backing file or an
//! external data file anywhere on the host (`/etc/shadow`, another VM's disk), a vmdk descriptor
//! can name extents, and an encrypted image can't be used without its key. Only self-contained
//! qcow2 and raw files are accepted as they are; vmdk, vhdx and vdi are converted to qcow2.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::import::ImportFailure;

/// Formats a VM's disk is built on directly.
const NATIVE: &[&str] = &["qcow2", "raw"];
/// Formats converted to qcow2 on import.
const CONVERTED: &[&str] = &["vmdk", "vhdx", "vdi"];

/// An accepted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub format: String,
    pub virtual_size_bytes: u64,
}

impl Inspection {
    /// Whether the file must be converted to qcow2 before a VM can use it.
    pub fn needs_conversion(&self) -> bool {
        !NATIVE.contains(&self.format.as_str())
    }
}

/// Runs `qemu-img info` on `path` and checks its answer against the rules above.
pub async fn inspect(
    path: &Path,
    max_virtual_bytes: u64,
    timeout: Duration,
) -> Result<Inspection, ImportFailure> {
    let mut command = tokio::process::Command::new("qemu-img");
    command
        .args(["info", "--output=json", "--force-share"])
        .arg(path)
        .kill_on_drop(true);
    let output = tokio::time::timeout(timeout, command.output())
        .await
        .map_err(|_| {
            ImportFailure::Unavailable(format!(
                "qemu-img info took longer than {}s",
                timeout.as_secs()
            ))
        })?
        .map_err(|e| ImportFailure::Unavailable(format!("cannot run qemu-img: {e}")))?;
    if !output.status.success() {
        return Err(ImportFailure::Failed(format!(
            "not a disk image qemu-img can read: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let info: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| ImportFailure::Unavailable(format!("cannot read qemu-img's answer: {e}")))?;
    check(&info, path, max_virtual_bytes).map_err(ImportFailure::Failed)
}

/// The rules, on `qemu-img info --output=json` of `path`.
pub fn check(info: &Value, path: &Path, max_virtual_bytes: u64) -> Result<Inspection, String> {
    let format = info["format"].as_str().unwrap_or_default().to_owned();
    if !NATIVE.contains(&format.as_str()) && !CONVERTED.contains(&format.as_str()) {
        return Err(format!(
            "format `{format}` is not accepted (qcow2, raw, vmdk, vhdx or vdi)"
        ));
    }
    if let Some(backing) = info.get("backing-filename").and_then(Value::as_str) {
        return Err(format!(
            "the image refers to a backing file ({backing}); only self-contained images are accepted"
        ));
    }
    let specific = &info["format-specific"]["data"];
    if let Some(data_file) = specific.get("data-file").and_then(Value::as_str) {
        return Err(format!(
            "the image keeps its data in an external file ({data_file}); only self-contained images are accepted"
        ));
    }
    if info["encrypted"].as_bool() == Some(true) || !specific["encrypt"].is_null() {
        return Err("the image is encrypted".to_owned());
    }
    if specific["corrupt"].as_bool() == Some(true) {
        return Err("the image is marked corrupt".to_owned());
    }
    if let Some(extents) = specific.get("extents").and_then(Value::as_array) {
        let own = path.to_string_lossy();
        if extents
            .iter()
            .any(|extent| extent["filename"].as_str() != Some(own.as_ref()))
        {
            return Err(
                "the image's extents are other files; only single-file images are accepted"
                    .to_owned(),
            );
        }
    }
    let virtual_size_bytes = info["virtual-size"]
        .as_u64()
        .ok_or("qemu-img did not report a virtual size")?;
    if virtual_size_bytes > max_virtual_bytes {
        return Err(format!(
            "the image's virtual size ({} GiB) is above the limit of {} GiB",
            virtual_size_bytes.div_ceil(1 << 30),
            max_virtual_bytes >> 30
        ));
    }
    Ok(Inspection {
        format,
        virtual_size_bytes,
    })
}

/// Converts `source` (of `format`) to a qcow2 file at `target`.
pub async fn convert_to_qcow2(
    source: &Path,
    format: &str,
    target: &Path,
    timeout: Duration,
) -> Result<(), ImportFailure> {
    let mut command = tokio::process::Command::new("qemu-img");
    command
        .args(["convert", "-q", "-f", format, "-O", "qcow2"])
        .arg(source)
        .arg(target)
        .kill_on_drop(true);
    let output = tokio::time::timeout(timeout, command.output())
        .await
        .map_err(|_| {
            ImportFailure::Unavailable(format!(
                "converting took longer than {}s",
                timeout.as_secs()
            ))
        })?
        .map_err(|e| ImportFailure::Unavailable(format!("cannot run qemu-img: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ImportFailure::Failed(format!(
            "cannot convert the {format} image: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const LIMIT: u64 = 64 << 30;

    fn accepted(info: Value) -> Result<Inspection, String> {
        check(&info, Path::new("/images/x.partial"), LIMIT)
    }

    #[test]
    fn self_contained_images_are_accepted() {
        let qcow2 = accepted(json!({"format": "qcow2", "virtual-size": 1u64 << 30,
            "format-specific": {"type": "qcow2", "data": {"compat": "1.1", "corrupt": false}}}))
        .unwrap();
        assert!(!qcow2.needs_conversion());
        let vmdk = accepted(json!({"format": "vmdk", "virtual-size": 1024,
            "format-specific": {"type": "vmdk", "data": {"extents": [{"filename": "/images/x.partial"}]}}}))
        .unwrap();
        assert!(vmdk.needs_conversion());
    }

    #[test]
    fn images_reaching_other_files_are_refused() {
        let refusal = |info: Value| accepted(info).unwrap_err();
        assert!(refusal(json!({"format": "qcow2", "virtual-size": 1,
            "backing-filename": "/etc/shadow", "full-backing-filename": "/etc/shadow"}))
        .contains("backing file (/etc/shadow)"));
        assert!(refusal(json!({"format": "qcow2", "virtual-size": 1,
            "format-specific": {"type": "qcow2", "data": {"data-file": "/var/lib/x"}}}))
        .contains("external file"));
        assert!(refusal(json!({"format": "vmdk", "virtual-size": 1,
            "format-specific": {"type": "vmdk", "data": {"extents": [{"filename": "/etc/passwd"}]}}}))
        .contains("extents"));
    }

    #[test]
    fn encrypted_unknown_oversized_or_corrupt_images_are_refused() {
        let refusal = |info: Value| accepted(info).unwrap_err();
        assert_eq!(
            refusal(json!({"format": "qcow2", "virtual-size": 1, "encrypted": true})),
            "the image is encrypted"
        );
        assert_eq!(
            refusal(json!({"format": "luks", "virtual-size": 1})),
            "format `luks` is not accepted (qcow2, raw, vmdk, vhdx or vdi)"
        );
        assert_eq!(
            refusal(json!({"format": "raw", "virtual-size": LIMIT + 1})),
            "the image's virtual size (65 GiB) is above the limit of 64 GiB"
        );
        assert_eq!(
            refusal(json!({"format": "qcow2", "virtual-size": 1,
                "format-specific": {"type": "qcow2", "data": {"corrupt": true}}})),
            "the image is marked corrupt"
        );
    }
}
