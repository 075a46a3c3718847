//! Writes received bytes to a temporary file beside the catalogue, hashing them on the way and
//! watching the disk: nothing is ever held in memory whole.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256, Sha512};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::ImportFailure;

/// Bounds on what an import may take from the disk.
#[derive(Debug, Clone, Copy)]
pub struct DiskLimits {
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
    /// Free space the import must leave on the images' filesystem, for everything else.
    pub reserve_bytes: u64,
}

/// How many bytes pass between two looks at the free space.
const SPACE_CHECK_EVERY: u64 = 32 << 20;

/// What was received.
#[derive(Debug, Clone)]
pub struct Received {
    pub size: u64,
    pub sha256: String,
    pub sha512: Option<String>,
}

pub struct Sink {
    path: PathBuf,
    file: BufWriter<tokio::fs::File>,
    sha256: Sha256,
    sha512: Option<Sha512>,
    written: u64,
    limits: DiskLimits,
    checked_at: u64,
}

/// Free bytes for unprivileged use on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn write_failure(path: &Path, err: std::io::Error) -> ImportFailure {
    if err.kind() == std::io::ErrorKind::StorageFull {
        ImportFailure::Unavailable("the disk holding the images is full".to_owned())
    } else {
        ImportFailure::Unavailable(format!("cannot write {}: {err}", path.display()))
    }
}

impl Sink {
    /// Opens `path`, keeping (and hashing) what an earlier attempt left in it, so the transfer
    /// can resume where it stopped.
    pub async fn open(
        path: &Path,
        want_sha512: bool,
        limits: DiskLimits,
    ) -> Result<Self, ImportFailure> {
        let fail = |e| write_failure(path, e);
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)
            .await
            .map_err(fail)?;
        crate::permissions::restrict_file(path).map_err(fail)?;
        let mut sha256 = Sha256::new();
        let mut sha512 = want_sha512.then(Sha512::new);
        let written = hash_from(&mut file, &mut sha256, sha512.as_mut())
            .await
            .map_err(fail)?;
        file.seek(std::io::SeekFrom::End(0)).await.map_err(fail)?;
        Ok(Self {
            path: path.to_owned(),
            file: BufWriter::with_capacity(1 << 20, file),
            sha256,
            sha512,
            written,
            limits,
            checked_at: written,
        })
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Refuses a transfer of `remaining` more bytes that would not fit.
    pub fn expect(&self, remaining: u64) -> Result<(), ImportFailure> {
        let total = self.written.saturating_add(remaining);
        if total > self.limits.max_bytes {
            return Err(ImportFailure::Failed(format!(
                "the file is {}, above the limit of {}",
                gib(total),
                gib(self.limits.max_bytes)
            )));
        }
        let free = free_bytes(self.path.parent().unwrap_or(Path::new("/")))
            .map_err(|e| write_failure(&self.path, e))?;
        if free < remaining.saturating_add(self.limits.reserve_bytes) {
            return Err(ImportFailure::Unavailable(format!(
                "not enough disk space: the file needs {} more and {} must stay free, but only {} is",
                gib(remaining),
                gib(self.limits.reserve_bytes),
                gib(free)
            )));
        }
        Ok(())
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ImportFailure> {
        if self.written + chunk.len() as u64 > self.limits.max_bytes {
            return Err(ImportFailure::Failed(format!(
                "the file is larger than the limit of {}",
                gib(self.limits.max_bytes)
            )));
        }
        if self.written - self.checked_at >= SPACE_CHECK_EVERY {
            self.checked_at = self.written;
            self.file
                .flush()
                .await
                .map_err(|e| write_failure(&self.path, e))?;
            self.expect(0)?;
        }
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| write_failure(&self.path, e))?;
        self.sha256.update(chunk);
        if let Some(sha512) = &mut self.sha512 {
            sha512.update(chunk);
        }
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Throws away everything received: the sender starts over from the first byte.
    pub async fn restart(&mut self) -> Result<(), ImportFailure> {
        let fail = |e| write_failure(&self.path, e);
        self.file.flush().await.map_err(fail)?;
        let file = self.file.get_mut();
        file.set_len(0).await.map_err(fail)?;
        file.seek(std::io::SeekFrom::Start(0)).await.map_err(fail)?;
        self.sha256 = Sha256::new();
        self.sha512 = self.sha512.as_ref().map(|_| Sha512::new());
        self.written = 0;
        self.checked_at = 0;
        Ok(())
    }

    /// Hands what is buffered to the file, so a resume continues after every byte received.
    pub async fn flush(&mut self) -> Result<(), ImportFailure> {
        self.file
            .flush()
            .await
            .map_err(|e| write_failure(&self.path, e))
    }

    pub async fn finish(mut self) -> Result<Received, ImportFailure> {
        self.flush().await?;
        self.file
            .get_mut()
            .sync_all()
            .await
            .map_err(|e| write_failure(&self.path, e))?;
        Ok(Received {
            size: self.written,
            sha256: hex(&self.sha256.finalize()),
            sha512: self.sha512.map(|h| hex(&h.finalize())),
        })
    }
}

/// Feeds what is left of `file` to the hashers; how many bytes that was.
async fn hash_from(
    file: &mut tokio::fs::File,
    sha256: &mut Sha256,
    mut sha512: Option<&mut Sha512>,
) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut read_total = 0u64;
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(read_total);
        }
        sha256.update(&buffer[..read]);
        if let Some(sha512) = sha512.as_deref_mut() {
            sha512.update(&buffer[..read]);
        }
        read_total += read as u64;
    }
}

/// SHA-256 (as hex) and length of a whole file.
pub async fn hash_file(file: &mut tokio::fs::File) -> std::io::Result<(String, u64)> {
    let mut sha256 = Sha256::new();
    let size = hash_from(file, &mut sha256, None).await?;
    Ok((hex(&sha256.finalize()), size))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
