//! The [`Hypervisor`] on a real libvirt daemon, through the `virt` crate.
//!
//! libvirt calls block, so each runs on tokio's blocking pool. All calls share one connection
//! behind a mutex: that also means two libvirt actions never race on one domain. A broken
//! connection is dropped and reopened on the next call.

use std::collections::HashMap;
use std::os::unix::io::{FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::mpsc;
use uuid::Uuid;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::ErrorNumber;
use virt::stream::Stream;

use super::disk::{self, DiskSource};
use super::domain_xml::{self, domain_name, Placement};
use super::pause::pause_reason;
use super::seed_iso;
use super::{Hypervisor, HypervisorError, Machine};
use distribox_domain::vm::PauseReason;
use virt::domain::{DomainState, DomainStateEnum, DomainStateReason, DomainStateReasonEnum};
use virt::enumutil::Enum;

/// libvirt's `<domain type=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainType {
    /// Hardware virtualisation.
    Kvm,
    /// Software emulation (TCG): slow, but works where KVM doesn't.
    Qemu,
}

impl DomainType {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainType::Kvm => "kvm",
            DomainType::Qemu => "qemu",
        }
    }
}

impl std::str::FromStr for DomainType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kvm" => Ok(DomainType::Kvm),
            "qemu" => Ok(DomainType::Qemu),
            other => Err(format!(
                "unknown domain type `{other}` (expected `kvm` or `qemu`)"
            )),
        }
    }
}

/// What libvirt says a domain is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainStatus {
    /// Defined, not running (shut off, or crashed and kept).
    Off,
    Running,
    /// Paused, and why; `None` for a pause libvirt undoes itself (a snapshot, a migration).
    Paused(Option<PauseReason>),
}

impl DomainStatus {
    fn of(state: DomainStateEnum, reason: DomainStateReasonEnum) -> Self {
        match (state, reason) {
            (Enum::Known(DomainState::Paused), Enum::Known(DomainStateReason::Paused(why))) => {
                DomainStatus::Paused(pause_reason(why.to_raw() as i32))
            }
            (Enum::Known(DomainState::Paused), _) => {
                DomainStatus::Paused(pause_reason(virt::sys::VIR_DOMAIN_PAUSED_UNKNOWN as i32))
            }
            (Enum::Known(DomainState::Shutoff | DomainState::Crashed), _) => DomainStatus::Off,
            // Running, blocked on I/O, shutting down, suspended by the guest (S3): all up.
            _ => DomainStatus::Running,
        }
    }
}

/// A VM's serial console as two channels: bytes from the guest, bytes to the guest. Dropping the
/// sender closes the console.
#[derive(Debug)]
pub struct SerialStream {
    pub output: mpsc::Receiver<Vec<u8>>,
    pub input: mpsc::Sender<Vec<u8>>,
}

#[derive(Clone)]
pub struct LibvirtHypervisor {
    uri: String,
    domain_type: DomainType,
    vms_dir: PathBuf,
    conn: Arc<Mutex<Option<Connect>>>,
    starts: StartLedger,
    health: HypervisorHealth,
    installation: Option<Uuid>,
}

/// Starts Distribox itself made whose libvirt start event has not arrived yet. libvirt's start
/// events don't say who started a domain; the first one after a start recorded here is ours.
#[derive(Clone, Default)]
pub struct StartLedger(Arc<Mutex<HashMap<Uuid, Instant>>>);

impl StartLedger {
    /// An entry older than this lost its event (say, to a libvirtd restart) and is dropped.
    const MEMORY: Duration = Duration::from_secs(60);

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Instant>> {
        let mut starts = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        starts.retain(|_, at| at.elapsed() < Self::MEMORY);
        starts
    }

    pub(super) fn record(&self, id: Uuid) {
        self.entries().insert(id, Instant::now());
    }

    pub(super) fn forget(&self, id: Uuid) {
        self.entries().remove(&id);
    }

    /// Whether a start of VM `id`'s domain by Distribox is still waiting for its event.
    pub fn pending(&self, id: Uuid) -> bool {
        self.entries().contains_key(&id)
    }

    /// Whether the start event just seen for VM `id` is Distribox's own; consumes the entry, so
    /// a later start from outside is recognised as such.
    pub fn take(&self, id: Uuid) -> bool {
        self.entries().remove(&id).is_some()
    }
}

/// Whether libvirtd answered the last call, shared with the API so it can tell people.
#[derive(Clone, Default)]
pub struct HypervisorHealth(Arc<Mutex<Option<Unavailable>>>);

/// Since when, and why, libvirtd has not been answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub since: chrono::DateTime<chrono::Utc>,
    pub error: String,
}

impl HypervisorHealth {
    /// `None` while libvirtd answers.
    pub fn unavailable(&self) -> Option<Unavailable> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(crate) fn set(&self, result: Result<(), &str>) {
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match (result, state.as_ref()) {
            (Ok(()), Some(_)) => {
                tracing::info!("libvirt is reachable again");
                *state = None;
            }
            (Err(error), None) => {
                tracing::warn!(%error, "libvirt is unavailable");
                *state = Some(Unavailable {
                    since: chrono::Utc::now(),
                    error: error.to_owned(),
                });
            }
            _ => {}
        }
    }
}

/// Why a libvirt call did not do what was asked.
pub(super) enum CallError {
    Libvirt(virt::error::Error),
    /// Distribox refused on its own, e.g. to touch a domain it does not own.
    Refused(String),
}

impl From<virt::error::Error> for CallError {
    fn from(err: virt::error::Error) -> Self {
        CallError::Libvirt(err)
    }
}

/// VM `name`'s domain if it exists. A domain of that name without Distribox's metadata element
/// is someone else's: refused, never modified.
pub(super) fn owned_domain(conn: &Connect, name: &str) -> Result<Option<Domain>, CallError> {
    let dom = match conn.lookup_domain_by_name(name) {
        Ok(dom) => dom,
        Err(err) if is_missing(&err) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let kind = virt::sys::VIR_DOMAIN_METADATA_ELEMENT as i32;
    match dom.metadata(kind, Some(domain_xml::METADATA_NS), 0) {
        Ok(_) => Ok(Some(dom)),
        Err(_) => Err(CallError::Refused(format!(
            "domain `{name}` was not created by Distribox; leaving it alone"
        ))),
    }
}

/// Creates `path` if missing, as a file Distribox (and its group) may read. One Distribox
/// can't read (virtlogd's after a rotation) is replaced when `replace_unreadable` (the domain is
/// off, so nobody writes it). Never through a symlink.
fn ensure_readable_log(path: &Path, replace_unreadable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let unreadable = std::fs::File::open(path)
        .is_err_and(|err| err.kind() == std::io::ErrorKind::PermissionDenied);
    if unreadable && replace_unreadable {
        std::fs::remove_file(path)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::permissions::FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    crate::permissions::restrict_file(path)
}

pub(super) fn is_missing(err: &virt::error::Error) -> bool {
    err.code().is_known_and(|c| c == ErrorNumber::NoDomain)
}

fn is_paused(dom: &Domain) -> Result<bool, virt::error::Error> {
    Ok(dom
        .state()?
        .0
        .is_known_and(|state| state == virt::domain::DomainState::Paused))
}

fn is_not_running(err: &virt::error::Error) -> bool {
    err.code()
        .is_known_and(|c| c == ErrorNumber::OperationInvalid)
}

impl LibvirtHypervisor {
    pub fn new(
        uri: impl Into<String>,
        domain_type: DomainType,
        vms_dir: impl Into<PathBuf>,
    ) -> Self {
        // libvirt prints every error to stderr by default; ours are returned and logged instead.
        virt::error::clear_error_callback();
        Self {
            uri: uri.into(),
            domain_type,
            vms_dir: vms_dir.into(),
            conn: Arc::new(Mutex::new(None)),
            starts: StartLedger::default(),
            health: HypervisorHealth::default(),
            installation: None,
        }
    }

    /// Marks the domains it defines as made by `installation`, and leaves domains marked by
    /// another installation alone.
    pub fn with_installation(mut self, installation: Uuid) -> Self {
        self.installation = Some(installation);
        self
    }

    /// The installation this hypervisor marks its domains with.
    pub fn installation(&self) -> Option<Uuid> {
        self.installation
    }

    pub fn starts(&self) -> StartLedger {
        self.starts.clone()
    }

    pub fn health(&self) -> HypervisorHealth {
        self.health.clone()
    }

    pub fn domain_type(&self) -> DomainType {
        self.domain_type
    }

    /// Everything VM `id`'s serial console printed, kept by virtlogd.
    pub fn serial_log_path(&self, id: Uuid) -> PathBuf {
        self.vm_dir(id).join("serial.log")
    }

    /// The end of what VM `id`'s serial console printed, watched or not: at most `max_bytes`,
    /// from the start of a line. `None` when there is no log (a domain defined before logs
    /// were kept) or it can't be read.
    pub async fn serial_tail(&self, id: Uuid, max_bytes: u64) -> Option<Vec<u8>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let path = self.serial_log_path(id);
        let read = async {
            let mut file = tokio::fs::File::open(&path).await?;
            let len = file.metadata().await?.len();
            let start = len.saturating_sub(max_bytes);
            file.seek(std::io::SeekFrom::Start(start)).await?;
            let mut tail = Vec::with_capacity((len - start) as usize);
            file.read_to_end(&mut tail).await?;
            // A cut line (or escape sequence) at the start would garble the screen.
            if start > 0 {
                let first_line = tail.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
                tail.drain(..first_line);
            }
            Ok::<_, std::io::Error>(tail)
        };
        match read.await {
            Ok(tail) => Some(tail),
            Err(err) => {
                tracing::debug!(vm = %id, error = %err, "no serial console log to replay");
                None
            }
        }
    }

    /// Where VM `id` keeps its disks.
    pub fn vm_dir(&self, id: Uuid) -> PathBuf {
        self.vms_dir.join(id.to_string())
    }

    pub(super) fn disk_path(&self, id: Uuid) -> PathBuf {
        self.vm_dir(id).join("disk.qcow2")
    }

    /// Runs `f` with the shared connection on the blocking pool. libvirt's own refusals come back
    /// as `Failed`; a dead connection as `Unavailable`, after which it is reopened next time.
    pub(super) async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connect) -> Result<T, CallError> + Send + 'static,
    ) -> Result<T, HypervisorError> {
        let conn = self.conn.clone();
        let uri = self.uri.clone();
        let health = self.health.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if guard
                .as_ref()
                .is_some_and(|c| !c.is_alive().unwrap_or(false))
            {
                *guard = None;
            }
            if guard.is_none() {
                let opened = Connect::open(Some(&uri))
                    .map_err(|e| HypervisorError::Unavailable(e.message().to_owned()))?;
                *guard = Some(opened);
            }
            let connection = guard.as_ref().expect("connection just opened");
            match f(connection) {
                Ok(value) => Ok(value),
                Err(CallError::Refused(reason)) => Err(HypervisorError::Failed(reason)),
                Err(CallError::Libvirt(err)) if connection.is_alive().unwrap_or(false) => {
                    Err(HypervisorError::Failed(err.message().to_owned()))
                }
                Err(CallError::Libvirt(err)) => {
                    *guard = None;
                    Err(HypervisorError::Unavailable(err.message().to_owned()))
                }
            }
        })
        .await
        .map_err(|e| HypervisorError::Failed(format!("libvirt call panicked: {e}")))?;
        match &outcome {
            Err(HypervisorError::Unavailable(cause)) => health.set(Err(cause)),
            _ => health.set(Ok(())),
        }
        outcome
    }

    /// Runs `action` on VM `id`'s domain if it is ours and running (or paused); a domain that
    /// is off or missing needs nothing done.
    async fn on_active_domain(
        &self,
        id: Uuid,
        action: impl FnOnce(&Domain) -> Result<(), virt::error::Error> + Send + 'static,
    ) -> Result<(), HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| match owned_domain(conn, &name)? {
            Some(dom) if dom.is_active()? => Ok(action(&dom)?),
            _ => Ok(()),
        })
        .await
    }

    /// Every domain libvirt has, by name, with its state: one call for a whole reconciliation
    /// pass.
    pub async fn domain_states(&self) -> Result<HashMap<String, DomainStatus>, HypervisorError> {
        self.with_conn(|conn| {
            let mut domains = HashMap::new();
            for dom in conn.list_all_domains(0)? {
                match dom.state() {
                    Ok((state, reason)) => {
                        domains.insert(dom.name()?, DomainStatus::of(state, reason));
                    }
                    // Undefined between the listing and the question.
                    Err(err) if is_missing(&err) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            Ok(domains)
        })
        .await
    }

    /// Whether libvirt has a domain for VM `id` (defined or running).
    pub async fn domain_exists(&self, id: Uuid) -> Result<bool, HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| match conn.lookup_domain_by_name(&name) {
            Ok(_) => Ok(true),
            Err(err) if is_missing(&err) => Ok(false),
            Err(err) => Err(err.into()),
        })
        .await
    }

    /// Whether VM `id`'s domain is running.
    pub async fn is_running(&self, id: Uuid) -> Result<bool, HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| match conn.lookup_domain_by_name(&name) {
            Ok(dom) => Ok(dom.is_active()?),
            Err(err) if is_missing(&err) => Ok(false),
            Err(err) => Err(err.into()),
        })
        .await
    }

    /// Creates VM `machine`'s disk if it has none: an overlay on its image, or for a clone a
    /// copy of the source VM's disk.
    async fn ensure_disk(&self, machine: &Machine) -> Result<(), HypervisorError> {
        let disk = self.disk_path(machine.id);
        if tokio::fs::try_exists(&disk).await.unwrap_or(false) {
            return Ok(());
        }
        let image = machine.image.as_ref().ok_or_else(|| {
            HypervisorError::Failed(
                "the VM's disk is missing and its image is no longer available".to_owned(),
            )
        })?;
        create_vm_dir(&self.vm_dir(machine.id)).await?;
        let source_disk = machine.cloned_from.map(|source| self.disk_path(source));
        let source = match &source_disk {
            Some(disk) => DiskSource::Copy {
                disk,
                image: &image.path,
                image_format: image.format,
            },
            None => DiskSource::Image {
                path: &image.path,
                format: image.format,
            },
        };
        disk::ensure(&disk, source, machine.disk_gib).await
    }

    /// Defines (or redefines) the domain from `machine`, with its seed ISO and autostart flag.
    /// Grows the disk first if the VM asks for more and the domain is off.
    async fn define(&self, machine: &Machine) -> Result<(), HypervisorError> {
        let seed = match &machine.seed {
            Some(seed) => Some(
                seed_iso::ensure_seed_iso(&self.vm_dir(machine.id), seed, &machine.keyboard)
                    .await?,
            ),
            None => None,
        };
        let disk_path = self.disk_path(machine.id);
        let running = self.is_running(machine.id).await?;
        if !running {
            disk::grow(&disk_path, machine.disk_gib).await?;
        }
        let serial_log = self.serial_log_path(machine.id);
        // virtlogd makes a missing log root's alone (0600), also when it rotates a full one,
        // but keeps an existing file's owner and mode: made here, Distribox can read it back
        // when it runs as its own user.
        if let Err(err) = ensure_readable_log(&serial_log, !running) {
            tracing::debug!(vm = %machine.id, error = %err, "cannot prepare the serial console log");
        }
        let xml = domain_xml::build(
            machine,
            &Placement {
                domain_type: self.domain_type,
                installation: self.installation,
                disk: &disk_path,
                seed: seed.as_deref(),
                serial_log: &serial_log,
            },
        );
        let (name, autostart) = (domain_name(machine.id), machine.autostart);
        self.with_conn(move |conn| {
            owned_domain(conn, &name)?;
            let dom = conn.define_domain_xml(&xml)?;
            if dom.autostart()? != autostart {
                dom.set_autostart(autostart)?;
            }
            Ok(())
        })
        .await
    }

    /// Makes sure the NAT network VMs plug into exists, runs and comes back after a reboot.
    async fn ensure_network(&self) -> Result<(), HypervisorError> {
        self.with_conn(|conn| {
            let network = match conn.lookup_network_by_name(domain_xml::NETWORK) {
                Ok(network) => network,
                Err(err) if err.code().is_known_and(|c| c == ErrorNumber::NoNetwork) => {
                    tracing::info!("defining libvirt's `default` NAT network");
                    conn.define_network_xml(domain_xml::DEFAULT_NETWORK)?
                }
                Err(err) => return Err(err.into()),
            };
            if !network.is_active()? {
                network.create()?;
            }
            if !network.autostart()? {
                network.set_autostart(true)?;
            }
            Ok(())
        })
        .await
    }

    /// Opens VM `id`'s serial console. Two blocking threads pump the libvirt stream; when the
    /// caller drops `input`, the stream is aborted, which also ends the reading thread.
    pub async fn open_serial(&self, id: Uuid) -> Result<SerialStream, HypervisorError> {
        let name = domain_name(id);
        let uri = self.uri.clone();
        // A connection of its own per console: a stream blocked in `recv` must never hold up the
        // management connection the projector uses.
        let (conn, stream) = tokio::task::spawn_blocking(move || {
            let conn = Connect::open(Some(&uri))
                .map_err(|e| HypervisorError::Unavailable(e.message().to_owned()))?;
            let opened = (|| -> Result<Stream, CallError> {
                let dom = owned_domain(&conn, &name)?
                    .ok_or_else(|| CallError::Refused("the VM has no domain".to_owned()))?;
                let stream = Stream::new(&conn, 0)?;
                // FORCE: a console left open by a crashed session must not lock everyone out.
                dom.open_console(None, &stream, virt::sys::VIR_DOMAIN_CONSOLE_FORCE)?;
                Ok(stream)
            })();
            match opened {
                Ok(stream) => Ok((Arc::new(conn), stream)),
                Err(CallError::Refused(reason)) => Err(HypervisorError::Failed(reason)),
                Err(CallError::Libvirt(err)) => {
                    Err(HypervisorError::Failed(err.message().to_owned()))
                }
            }
        })
        .await
        .map_err(|e| HypervisorError::Failed(format!("libvirt call panicked: {e}")))??;
        let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(64);
        let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(64);
        let reader = stream.clone();
        let reader_conn = conn.clone();
        std::thread::Builder::new()
            .name(format!("serial-read-{id}"))
            .spawn(move || {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = reader.recv(&mut buf) {
                    if n <= 0 || out_tx.blocking_send(buf[..n as usize].to_vec()).is_err() {
                        break;
                    }
                }
                drop(reader);
                drop(reader_conn);
            })
            .map_err(io_failure)?;
        std::thread::Builder::new()
            .name(format!("serial-write-{id}"))
            .spawn(move || {
                'input: while let Some(bytes) = in_rx.blocking_recv() {
                    // `send` may take only part of the buffer.
                    let mut rest = &bytes[..];
                    while !rest.is_empty() {
                        match stream.send(rest) {
                            Ok(sent) if sent > 0 => rest = &rest[sent as usize..],
                            _ => break 'input,
                        }
                    }
                }
                let _ = stream.abort();
                drop(conn);
            })
            .map_err(io_failure)?;
        Ok(SerialStream {
            output: out_rx,
            input: in_tx,
        })
    }

    /// Connects to VM `id`'s VNC server. libvirt has QEMU accept a socket it hands over, so the
    /// server listens nowhere a local user could reach, and each viewer gets a connection of its
    /// own (the domain's `sharePolicy` keeps them all connected).
    #[allow(unsafe_code)]
    pub async fn open_vnc(&self, id: Uuid) -> Result<UnixStream, HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| {
            let dom = owned_domain(conn, &name)?
                .ok_or_else(|| CallError::Refused("the VM has no domain".to_owned()))?;
            if !dom.is_active()? {
                return Err(CallError::Refused("the VM is not running".to_owned()));
            }
            let fd = dom.open_graphics_fd(0, 0)?;
            // SAFETY: libvirt returns a new descriptor that the caller owns and must close.
            Ok(unsafe { UnixStream::from_raw_fd(fd as RawFd) })
        })
        .await
    }
}

fn io_failure(err: std::io::Error) -> HypervisorError {
    HypervisorError::Failed(err.to_string())
}

/// QEMU runs as another user: VM folders let it pass through to the files libvirt hands it,
/// and let nobody else list them.
async fn create_vm_dir(dir: &Path) -> Result<(), HypervisorError> {
    tokio::fs::create_dir_all(dir).await.map_err(io_failure)?;
    crate::permissions::restrict_dir(dir).map_err(io_failure)
}

#[async_trait]
impl Hypervisor for LibvirtHypervisor {
    async fn provision(&self, machine: &Machine) -> Result<(), HypervisorError> {
        self.ensure_network().await?;
        self.ensure_disk(machine).await?;
        self.define(machine).await
    }

    /// Redefines the domain first, so it always boots with the VM's current spec (a resize, a
    /// domain lost behind Distribox's back).
    async fn start(&self, machine: &Machine) -> Result<(), HypervisorError> {
        self.provision(machine).await?;
        let (name, starts, id) = (domain_name(machine.id), self.starts.clone(), machine.id);
        self.with_conn(move |conn| {
            let dom = owned_domain(conn, &name)?.ok_or_else(|| {
                CallError::Refused("the domain disappeared while starting".to_owned())
            })?;
            if !dom.is_active()? {
                starts.record(id);
                dom.create().inspect_err(|_| starts.forget(id))?;
            }
            Ok(())
        })
        .await
    }

    async fn force_stop(&self, id: Uuid) -> Result<(), HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| match owned_domain(conn, &name)? {
            Some(dom) => match dom.destroy() {
                Err(err) if !is_not_running(&err) => Err(err.into()),
                _ => Ok(()),
            },
            None => Ok(()),
        })
        .await
    }

    async fn shutdown(&self, id: Uuid) -> Result<(), HypervisorError> {
        self.on_active_domain(id, |dom| {
            dom.shutdown_flags(virt::sys::VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
        })
        .await
    }

    async fn reboot(&self, id: Uuid) -> Result<(), HypervisorError> {
        self.on_active_domain(id, |dom| {
            dom.reboot(virt::sys::VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)
        })
        .await
    }

    async fn pause(&self, id: Uuid) -> Result<(), HypervisorError> {
        self.on_active_domain(id, |dom| {
            if is_paused(dom)? {
                Ok(())
            } else {
                dom.suspend()
            }
        })
        .await
    }

    async fn resume(&self, id: Uuid) -> Result<(), HypervisorError> {
        self.on_active_domain(id, |dom| {
            if is_paused(dom)? {
                dom.resume()
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn set_title(&self, id: Uuid, title: &str) -> Result<(), HypervisorError> {
        let (name, title) = (domain_name(id), title.to_owned());
        self.with_conn(move |conn| {
            let Some(dom) = owned_domain(conn, &name)? else {
                return Ok(());
            };
            let mut flags = virt::sys::VIR_DOMAIN_AFFECT_CONFIG;
            if dom.is_active()? {
                flags |= virt::sys::VIR_DOMAIN_AFFECT_LIVE;
            }
            let kind = virt::sys::VIR_DOMAIN_METADATA_TITLE as i32;
            Ok(dom.set_metadata(kind, Some(&title), None, None, flags)?)
        })
        .await
    }

    async fn remove(&self, id: Uuid) -> Result<(), HypervisorError> {
        let name = domain_name(id);
        self.with_conn(move |conn| {
            let Some(dom) = owned_domain(conn, &name)? else {
                return Ok(());
            };
            match dom.destroy() {
                Err(err) if !is_not_running(&err) => return Err(err.into()),
                _ => {}
            }
            let flags = virt::sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                | virt::sys::VIR_DOMAIN_UNDEFINE_NVRAM;
            match dom.undefine_flags(flags) {
                Err(err) if !is_missing(&err) => Err(err.into()),
                _ => Ok(()),
            }
        })
        .await?;
        match tokio::fs::remove_dir_all(self.vm_dir(id)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io_failure(err)),
            _ => Ok(()),
        }
    }

    async fn take_snapshot(
        &self,
        id: Uuid,
        snapshot: Uuid,
        description: &str,
    ) -> Result<(), HypervisorError> {
        self.snapshot_take(id, snapshot, description).await
    }

    async fn revert_snapshot(&self, id: Uuid, snapshot: Uuid) -> Result<bool, HypervisorError> {
        self.snapshot_revert(id, snapshot).await
    }

    async fn delete_snapshot(&self, id: Uuid, snapshot: Uuid) -> Result<(), HypervisorError> {
        self.snapshot_delete(id, snapshot).await
    }
}
