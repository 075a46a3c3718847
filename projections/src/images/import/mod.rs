//! The importer: turns a requested image into an accepted file, or a failure with a reason.
//!
//! Every import holds an advisory lock on its image id for as long as it runs, in whichever
//! process runs it (a server, or the CLI), so an import is never run twice at once. The server
//! looks for importing images whenever the catalogue changes (and every few seconds): one whose
//! lock nobody holds was left by a process that stopped, and is taken over — a download resumes
//! where its temporary file ends; an upload can't be fetched again and is failed.
//!
//! Bytes go to `.<id>.partial` beside the catalogue, hashed on the way. The digest is checked,
//! then the header and `qemu-img info` ([`super::inspect`]); a vmdk, vhdx or vdi is converted
//! into `.<id>.converting`. Only then is the file renamed to `<id>.<format>`, and only then is
//! the import recorded as done.

mod download;
pub mod progress;
mod sink;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use distribox_domain::image::{Digest, Image, ImageFacts, ImageSource, ImageStatus};
use futures::{Stream, StreamExt};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use download::file_name;
use progress::{Phase, ProgressHub, Tracker};
pub use sink::DiskLimits;
use sink::{hash_file, Received, Sink};

use super::inspect::{convert_to_qcow2, inspect};
use crate::permissions::restrict_file;
use crate::read_models::images::{importing, load};
use crate::runner::{session_lock, Checkpoint};

/// How long an upload may send nothing before it is given up.
const RECEIVE_IDLE: Duration = Duration::from_secs(60);
/// How often imports run elsewhere (or abandoned) are looked at.
const RECHECK_ELSEWHERE: Duration = Duration::from_secs(10);

/// First key of the advisory locks held by running imports.
const IMPORT_LOCK_CLASS: i32 = 0x0d15_1a9e;

/// Why an import ended without an image. Each reason is written for the host and recorded as
/// the import's failure (unless the image is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportFailure {
    /// The bytes are not an acceptable image (checksum, format, size, references).
    Failed(String),
    /// This host could not take it: disk full, qemu-img missing or too slow.
    Unavailable(String),
    /// The image was deleted meanwhile, or the sender went away.
    Cancelled(String),
}

impl ImportFailure {
    pub fn reason(&self) -> &str {
        match self {
            ImportFailure::Failed(reason)
            | ImportFailure::Unavailable(reason)
            | ImportFailure::Cancelled(reason) => reason,
        }
    }
}

/// Records outcomes in the log (the API implements it with the command bus, as `system`).
#[async_trait]
pub trait ImportReporter: Send + Sync + 'static {
    async fn imported(&self, id: &str, facts: ImageFacts) -> Result<(), String>;
    async fn failed(&self, id: &str, reason: String) -> Result<(), String>;
}

/// What an import may take, and how long its tools may run.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimits {
    pub disk: DiskLimits,
    pub max_virtual_bytes: u64,
    pub inspect_timeout: Duration,
    pub convert_timeout: Duration,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            disk: DiskLimits {
                max_bytes: 64 << 30,
                reserve_bytes: 1 << 30,
            },
            max_virtual_bytes: 2 << 40,
            inspect_timeout: Duration::from_secs(30),
            convert_timeout: Duration::from_secs(3600),
        }
    }
}

/// An import's claim on its image: released when dropped (its session ends).
pub struct ImportLock {
    _session: PgConnection,
}

#[derive(Clone)]
pub struct Importer {
    pool: PgPool,
    dir: PathBuf,
    limits: ImportLimits,
    progress: ProgressHub,
    reporter: Arc<dyn ImportReporter>,
    client: reqwest::Client,
}

impl Importer {
    pub fn new(
        pool: PgPool,
        dir: impl Into<PathBuf>,
        limits: ImportLimits,
        reporter: Arc<dyn ImportReporter>,
    ) -> Self {
        Self {
            pool,
            dir: dir.into(),
            limits,
            progress: ProgressHub::default(),
            reporter,
            client: download::client(),
        }
    }

    pub fn progress(&self) -> &ProgressHub {
        &self.progress
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn partial(&self, id: &str) -> PathBuf {
        self.dir.join(format!(".{id}.partial"))
    }

    fn converting(&self, id: &str) -> PathBuf {
        self.dir.join(format!(".{id}.converting"))
    }

    /// Claims image `id` for this process; `None` if another session runs its import.
    pub async fn lock(&self, id: &str) -> Result<Option<ImportLock>, sqlx::Error> {
        Ok(session_lock(&self.pool, IMPORT_LOCK_CLASS, id)
            .await?
            .map(|session| ImportLock { _session: session }))
    }

    async fn load(&self, id: &str) -> Result<Image, crate::ProjectionError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id, i64::MAX).await
    }

    /// Takes on every unclaimed import, now and whenever the catalogue's read model (`images`,
    /// whose projection reports its `progress`) changes. Dropping the returned future stops the
    /// imports it runs, as a process that stops would.
    pub async fn run(self, mut progress: watch::Receiver<Checkpoint>) {
        let mut jobs: JoinSet<(String, bool)> = JoinSet::new();
        let mut running = HashSet::new();
        // Imports another process runs, and when that was last seen: asked again only now and
        // then, not on every change of the catalogue (each asking takes a connection).
        let mut elsewhere: HashMap<String, Instant> = HashMap::new();
        loop {
            while let Some(done) = jobs.try_join_next() {
                if let Ok((id, taken)) = done {
                    running.remove(&id);
                    if !taken {
                        elsewhere.insert(id, Instant::now());
                    }
                }
            }
            elsewhere.retain(|_, seen| seen.elapsed() < RECHECK_ELSEWHERE);
            // Marked seen before the sweep: a change during it wakes the next one.
            progress.borrow_and_update();
            match importing(&self.pool).await {
                Ok(ids) => {
                    for id in ids {
                        if elsewhere.contains_key(&id) || !running.insert(id.clone()) {
                            continue;
                        }
                        let importer = self.clone();
                        jobs.spawn(async move {
                            let taken = importer.take_over(&id).await.unwrap_or_else(|err| {
                                tracing::warn!(image = %id, error = %err, "import not taken over");
                                true
                            });
                            (id, taken)
                        });
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot look for imports to run"),
            }
            // Also now and then: an import whose process died changes nothing in the log.
            let _ = tokio::time::timeout(RECHECK_ELSEWHERE, progress.changed()).await;
        }
    }

    /// Runs image `id`'s import unless another session does (`false`).
    async fn take_over(&self, id: &str) -> Result<bool, crate::ProjectionError> {
        let Some(_lock) = self.lock(id).await? else {
            return Ok(false);
        };
        let image = self.load(id).await?;
        if image.status != ImageStatus::Importing {
            return Ok(true);
        }
        let outcome = match image.source {
            Some(ImageSource::Url {
                url,
                digest,
                checksum_url,
            }) => {
                let import = self.download(id, &url, digest, checksum_url.as_deref());
                self.unless_deleted(id, import).await
            }
            Some(ImageSource::Folder { file }) => self.register_folder(&file).await,
            Some(ImageSource::Upload { .. }) | None => Err(ImportFailure::Failed(
                "the upload was interrupted before it finished; upload the file again".to_owned(),
            )),
        };
        let _ = self.finish(id, outcome).await;
        Ok(true)
    }

    /// Runs `import` until it ends or image `id` stops importing (deleted: the import is
    /// cancelled).
    async fn unless_deleted(
        &self,
        id: &str,
        import: impl std::future::Future<Output = Result<ImageFacts, ImportFailure>>,
    ) -> Result<ImageFacts, ImportFailure> {
        let watch = async {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if let Ok(image) = self.load(id).await {
                    if image.status != ImageStatus::Importing {
                        return;
                    }
                }
            }
        };
        tokio::select! {
            outcome = import => outcome,
            () = watch => Err(ImportFailure::Cancelled("the image was deleted".to_owned())),
        }
    }

    /// Downloads `url`, resuming a temporary file left by an earlier attempt, and accepts it.
    pub async fn download(
        &self,
        id: &str,
        url: &str,
        digest: Option<Digest>,
        checksum_url: Option<&str>,
    ) -> Result<ImageFacts, ImportFailure> {
        let mut tracker = self.progress.tracker(id, Phase::Downloading);
        let expected = match (digest, checksum_url) {
            (Some(digest), _) => Some(digest),
            (None, Some(checksum_url)) => {
                Some(download::expected_digest(&self.client, checksum_url, url).await?)
            }
            (None, None) => None,
        };
        let want_sha512 = matches!(expected, Some(Digest::Sha512(_)));
        let partial = self.partial(id);
        // Bytes an earlier process left are kept only when a digest will check the whole:
        // without one, nothing tells whether the file changed on the server since.
        if expected.is_none() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        let mut sink = Sink::open(&partial, want_sha512, self.limits.disk).await?;
        tracker.reset_to(sink.written());
        tracker.phase(Phase::Downloading);
        download::download(&self.client, url, &mut sink, &mut tracker).await?;
        let received = sink.finish().await?;
        self.accept(id, &partial, received, expected, &mut tracker)
            .await
    }

    /// Receives an upload (or a local file) from `body` and accepts it. `size` is what the
    /// sender announced, checked against the disk before anything is written.
    pub async fn receive<E: std::fmt::Display>(
        &self,
        id: &str,
        mut body: impl Stream<Item = Result<Bytes, E>> + Unpin,
        size: Option<u64>,
        expected: Option<Digest>,
    ) -> Result<ImageFacts, ImportFailure> {
        let mut tracker = self.progress.tracker(id, Phase::Uploading);
        tracker.set_total(size);
        tracker.phase(Phase::Uploading);
        let partial = self.partial(id);
        let _ = tokio::fs::remove_file(&partial).await;
        let mut sink = Sink::open(
            &partial,
            matches!(expected, Some(Digest::Sha512(_))),
            self.limits.disk,
        )
        .await?;
        if let Some(size) = size {
            sink.expect(size)?;
        }
        loop {
            let next = tokio::time::timeout(RECEIVE_IDLE, body.next())
                .await
                .map_err(|_| {
                    ImportFailure::Cancelled(format!(
                        "the sender sent nothing for {}s",
                        RECEIVE_IDLE.as_secs()
                    ))
                })?;
            let Some(chunk) = next else {
                break;
            };
            let chunk = chunk.map_err(|e| {
                ImportFailure::Cancelled(format!("the upload stopped before it finished: {e}"))
            })?;
            sink.write(&chunk).await?;
            tracker.advance(chunk.len() as u64);
        }
        let received = sink.finish().await?;
        if size.is_some_and(|size| size != received.size) {
            return Err(ImportFailure::Cancelled(format!(
                "the upload ended after {} of {} bytes",
                received.size,
                size.unwrap_or_default()
            )));
        }
        self.accept(id, &partial, received, expected, &mut tracker)
            .await
    }

    /// Checks a received file (digest, then `qemu-img info`), converts it if its format asks
    /// for it, and renames it into the catalogue.
    async fn accept(
        &self,
        id: &str,
        partial: &Path,
        received: Received,
        expected: Option<Digest>,
        tracker: &mut Tracker,
    ) -> Result<ImageFacts, ImportFailure> {
        tracker.phase(Phase::Verifying);
        if let Some(expected) = &expected {
            let actual = match expected {
                Digest::Sha256(_) => Some(&received.sha256),
                Digest::Sha512(_) => received.sha512.as_ref(),
            };
            if actual.map(String::as_str) != Some(expected.hex()) {
                return Err(ImportFailure::Failed(format!(
                    "checksum mismatch: the {} of the file received is {}, not {} as expected",
                    expected.algorithm(),
                    actual.map(String::as_str).unwrap_or("unknown"),
                    expected.hex()
                )));
            }
        }
        let found = self.inspect(partial).await?;
        let (source, converted_from) = if found.needs_conversion() {
            // A compressed image can grow to its virtual size: make sure that fits first.
            let free = sink::free_bytes(&self.dir).map_err(|e| {
                ImportFailure::Unavailable(format!("cannot check the free space: {e}"))
            })?;
            let needed = found
                .virtual_size_bytes
                .saturating_add(self.limits.disk.reserve_bytes);
            if free < needed {
                return Err(ImportFailure::Unavailable(format!(
                    "not enough disk space to convert the {} image: its disk is {} GiB",
                    found.format,
                    found.virtual_size_bytes.div_ceil(1 << 30)
                )));
            }
            tracker.phase(Phase::Converting);
            let converting = self.converting(id);
            convert_to_qcow2(
                partial,
                &found.format,
                &converting,
                self.limits.convert_timeout,
            )
            .await?;
            let _ = tokio::fs::remove_file(partial).await;
            let converted = self.inspect(&converting).await?;
            if converted.format != "qcow2" {
                return Err(ImportFailure::Failed(
                    "the converted image is not qcow2".to_owned(),
                ));
            }
            (converting, Some(found.format.clone()))
        } else {
            (partial.to_owned(), None)
        };
        let format = if converted_from.is_some() {
            "qcow2".to_owned()
        } else {
            found.format.clone()
        };
        let file = format!("{id}.{format}");
        let target = self.dir.join(&file);
        let fail =
            |e: std::io::Error| ImportFailure::Unavailable(format!("cannot store the image: {e}"));
        restrict_file(&source).map_err(fail)?;
        let size_bytes = tokio::fs::metadata(&source).await.map_err(fail)?.len();
        tokio::fs::rename(&source, &target).await.map_err(fail)?;
        Ok(ImageFacts {
            file,
            format,
            virtual_size_bytes: found.virtual_size_bytes,
            size_bytes,
            sha256: received.sha256,
            converted_from,
        })
    }

    async fn inspect(&self, path: &Path) -> Result<super::inspect::Inspection, ImportFailure> {
        inspect(
            path,
            self.limits.max_virtual_bytes,
            self.limits.inspect_timeout,
        )
        .await
    }

    /// Accepts an image the host placed in the folder, where it is (no copy, no conversion).
    pub async fn register_folder(&self, file: &str) -> Result<ImageFacts, ImportFailure> {
        let path = self.dir.join(file);
        let found = self.inspect(&path).await?;
        if found.needs_conversion() {
            return Err(ImportFailure::Failed(format!(
                "{file} is a {} image: convert it to qcow2, or import it",
                found.format
            )));
        }
        let unreadable = |e| ImportFailure::Unavailable(format!("cannot read {file}: {e}"));
        let mut opened = tokio::fs::File::open(&path).await.map_err(unreadable)?;
        let (sha256, size_bytes) = hash_file(&mut opened).await.map_err(unreadable)?;
        Ok(ImageFacts {
            file: file.to_owned(),
            format: found.format,
            virtual_size_bytes: found.virtual_size_bytes,
            size_bytes,
            sha256,
            converted_from: None,
        })
    }

    /// Records the outcome and removes what a failed or cancelled import left behind. `Err`
    /// when the image could not be recorded as imported (deleted meanwhile, log unreachable).
    pub async fn finish(
        &self,
        id: &str,
        outcome: Result<ImageFacts, ImportFailure>,
    ) -> Result<(), String> {
        let mut tracker = self.progress.tracker(id, Phase::Verifying);
        let recorded =
            match outcome {
                Ok(facts) => {
                    let file = facts.file.clone();
                    match self.reporter.imported(id, facts).await {
                        Ok(()) => {
                            tracker.phase(Phase::Ready);
                            return Ok(());
                        }
                        Err(err) => {
                            // Deleted meanwhile (or the log is unreachable): the file is nobody's.
                            // An import still importing is retried by the next sweep.
                            // A folder image's file is the host's own: never removed here.
                            if self.load(id).await.is_ok_and(|i| {
                                i.status != ImageStatus::Importing && imported_here(&i)
                            }) {
                                let _ = tokio::fs::remove_file(self.dir.join(&file)).await;
                            }
                            tracing::warn!(image = %id, error = %err, "cannot record the import");
                            return Err(format!(
                                "the image could not be recorded as imported: {err}"
                            ));
                        }
                    }
                }
                Err(ImportFailure::Failed(reason) | ImportFailure::Unavailable(reason)) => {
                    tracing::warn!(image = %id, %reason, "import failed");
                    tracker.failed(&reason);
                    self.remove_temporary(id).await;
                    self.reporter.failed(id, reason).await
                }
                Err(ImportFailure::Cancelled(reason)) => {
                    tracing::info!(image = %id, %reason, "import cancelled");
                    tracker.failed(&reason);
                    self.remove_temporary(id).await;
                    if self
                        .load(id)
                        .await
                        .is_ok_and(|i| i.status == ImageStatus::Importing)
                    {
                        self.reporter.failed(id, reason).await
                    } else {
                        Ok(())
                    }
                }
            };
        if let Err(err) = recorded {
            tracing::warn!(image = %id, error = %err, "cannot record the import's outcome");
        }
        Ok(())
    }

    /// Removes an unfinished import's files: temporary ones, and one renamed in whose import
    /// was never recorded (a crash between the two) — unless the image is one the host placed
    /// in the folder, whose file may well be called `<id>.qcow2`.
    async fn remove_temporary(&self, id: &str) {
        for path in [self.partial(id), self.converting(id)] {
            let _ = tokio::fs::remove_file(path).await;
        }
        if self.load(id).await.is_ok_and(|image| imported_here(&image)) {
            for format in ["qcow2", "raw"] {
                let _ = tokio::fs::remove_file(self.dir.join(format!("{id}.{format}"))).await;
            }
        }
    }

    /// Removes temporary files no running import owns: those of imports that ended, and of
    /// uploads a stopped process left. Downloads keep theirs, to resume.
    pub async fn remove_strays(&self) -> Result<(), crate::ProjectionError> {
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(crate::ProjectionError::Other(err.to_string())),
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_prefix('.').and_then(|n| {
                n.strip_suffix(".partial")
                    .or_else(|| n.strip_suffix(".converting"))
            }) else {
                continue;
            };
            let Some(_lock) = self.lock(id).await? else {
                continue;
            };
            let image = self.load(id).await?;
            let resumable = image.status == ImageStatus::Importing
                && name.ends_with(".partial")
                && matches!(image.source, Some(ImageSource::Url { .. }));
            if !resumable {
                tracing::info!(file = %name, "removing a half-written image file");
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(())
    }
}

/// Whether the image's file was written by an import (not placed in the folder by the host).
fn imported_here(image: &Image) -> bool {
    image
        .source
        .as_ref()
        .is_some_and(|source| !matches!(source, ImageSource::Folder { .. }))
}
