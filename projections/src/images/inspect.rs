//! What `qemu-img info` says about a file, and whether a VM may ever boot from it.
//!
//! A disk image is a program for QEMU's block layer: a qcow2 can name a backing file or an
//! external data file anywhere on the host (`/etc/shadow`, another VM's disk), a vmdk descriptor
//! can name extents, and an encrypted image can't be used without its key. Only self-contained
//! qcow2 and raw files are accepted as they are; vmdk, vhdx and vdi are converted to qcow2.
//!
//! Even `qemu-img info` opens what an image refers to, so the header is read here first
//! ([`sniff`]) and anything referring elsewhere is refused before qemu-img sees it; qemu-img
//! then reads the file as the format found (never probing), with its memory and CPU bounded.

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

/// Bytes of a file's start that [`sniff`] reads.
pub const HEADER_BYTES: usize = 512;

/// qemu-img's limits while it reads an untrusted header: a crafted one must not take the host's
/// memory or a CPU for long.
const QEMU_IMG_MEMORY: &str = "--as=1073741824";
const QEMU_IMG_CPU_SECONDS: &str = "--cpu=30";

fn be_u32(header: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(header[at..at + 4].try_into().expect("four bytes"))
}

fn be_u64(header: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(header[at..at + 8].try_into().expect("eight bytes"))
}

/// The format a file's first [`HEADER_BYTES`] tell, refusing images that refer to other files
/// or are encrypted, and formats that are not accepted. Anything unrecognised is raw.
pub fn sniff(header: &[u8]) -> Result<&'static str, String> {
    let mut padded = header.to_vec();
    padded.resize(HEADER_BYTES, 0);
    let header = padded.as_slice();
    let refer = |what: &str| {
        Err(format!(
            "the image refers to {what}; only self-contained images are accepted"
        ))
    };
    if header.starts_with(b"QFI\xfb") {
        if be_u64(header, 8) != 0 {
            return refer("a backing file");
        }
        if be_u32(header, 32) != 0 {
            return Err("the image is encrypted".to_owned());
        }
        // Version 3 headers have incompatible feature bits; bit 2 is an external data file.
        if be_u32(header, 4) >= 3 && be_u64(header, 72) & 0b100 != 0 {
            return refer("an external data file");
        }
        return Ok("qcow2");
    }
    if header.starts_with(b"KDMV") {
        return Ok("vmdk");
    }
    if header.starts_with(b"# Disk DescriptorFile") {
        return refer("extent files (a vmdk descriptor)");
    }
    if header.starts_with(b"vhdxfile") {
        return Ok("vhdx");
    }
    if u32::from_le_bytes(header[0x40..0x44].try_into().expect("four bytes")) == 0xbeda_107f {
        return Ok("vdi");
    }
    for (magic, format) in [
        (&b"LUKS\xba\xbe"[..], "luks"),
        (b"QED\0", "qed"),
        (b"conectix", "vpc"),
        (b"COWD", "vmdk (ESX COWD)"),
    ] {
        if header.starts_with(magic) {
            return Err(format!(
                "format `{format}` is not accepted (qcow2, raw, vmdk, vhdx or vdi)"
            ));
        }
    }
    Ok("raw")
}

/// Reads `path`'s header, then runs `qemu-img info` on it as the format found, and checks its
/// answer against the rules above.
pub async fn inspect(
    path: &Path,
    max_virtual_bytes: u64,
    timeout: Duration,
) -> Result<Inspection, ImportFailure> {
    let unreadable =
        |e: std::io::Error| ImportFailure::Unavailable(format!("cannot read the image: {e}"));
    let mut header = Vec::with_capacity(HEADER_BYTES);
    {
        use tokio::io::AsyncReadExt;
        let file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        file.take(HEADER_BYTES as u64)
            .read_to_end(&mut header)
            .await
            .map_err(unreadable)?;
    }
    let format = sniff(&header).map_err(ImportFailure::Failed)?;
    // qemu-img reads any bytes as raw: an error page or a truncated file would pass.
    let size = tokio::fs::metadata(path).await.map_err(unreadable)?.len();
    if format == "raw" && !size.is_multiple_of(512) {
        return Err(ImportFailure::Failed(format!(
            "not a disk image: {size} bytes of no known format (a raw disk is whole 512-byte sectors)"
        )));
    }
    let mut command = tokio::process::Command::new("prlimit");
    command
        .args([
            QEMU_IMG_MEMORY,
            QEMU_IMG_CPU_SECONDS,
            "--",
            "qemu-img",
            "info",
        ])
        .args(["-f", format, "--output=json", "--force-share"])
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
    if info["format"].as_str() != Some(format) {
        return Err(ImportFailure::Failed(format!(
            "qemu-img does not read the file as {format}"
        )));
    }
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

    /// A qcow2 header: magic, version, backing file offset, encryption, incompatible features.
    fn qcow2_header(version: u32, backing: u64, crypt: u32, incompatible: u64) -> Vec<u8> {
        let mut header = vec![0u8; HEADER_BYTES];
        header[..4].copy_from_slice(b"QFI\xfb");
        header[4..8].copy_from_slice(&version.to_be_bytes());
        header[8..16].copy_from_slice(&backing.to_be_bytes());
        header[32..36].copy_from_slice(&crypt.to_be_bytes());
        header[72..80].copy_from_slice(&incompatible.to_be_bytes());
        header
    }

    #[test]
    fn headers_tell_the_format_and_refuse_references_before_qemu_img_runs() {
        assert_eq!(sniff(&qcow2_header(3, 0, 0, 0)), Ok("qcow2"));
        assert!(sniff(&qcow2_header(3, 512, 0, 0))
            .unwrap_err()
            .contains("backing file"));
        assert_eq!(
            sniff(&qcow2_header(2, 0, 1, 0)).unwrap_err(),
            "the image is encrypted"
        );
        assert!(sniff(&qcow2_header(3, 0, 0, 0b100))
            .unwrap_err()
            .contains("external data file"));
        // Version 2 has no feature bits: whatever lies there means nothing.
        assert_eq!(sniff(&qcow2_header(2, 0, 0, 0b100)), Ok("qcow2"));
        assert_eq!(sniff(b"KDMV\x01\0\0\0"), Ok("vmdk"));
        assert!(sniff(b"# Disk DescriptorFile\nRW 8 SPARSE \"/etc/shadow\"")
            .unwrap_err()
            .contains("vmdk descriptor"));
        assert_eq!(sniff(b"vhdxfile"), Ok("vhdx"));
        let mut vdi = vec![0u8; 0x44];
        vdi[0x40..0x44].copy_from_slice(&0xbeda_107fu32.to_le_bytes());
        assert_eq!(sniff(&vdi), Ok("vdi"));
        assert!(sniff(b"LUKS\xba\xbe").unwrap_err().contains("luks"));
        assert_eq!(sniff(b"<html>"), Ok("raw"));
        assert_eq!(sniff(b""), Ok("raw"));
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
