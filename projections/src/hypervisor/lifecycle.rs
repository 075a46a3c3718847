//! libvirt lifecycle events, so what happens to a domain outside Distribox's own actions — the
//! guest powering itself off, a crash, `virsh destroy`, `virsh start`, `virsh suspend`, a guest
//! paused by an I/O error or a KVM internal error — reaches the log within a second.
//!
//! The `virt` crate has no safe wrapper for domain events, so the FFI lives here and only here:
//! libvirt's default event loop runs on a dedicated thread, one dedicated connection registers a
//! lifecycle callback, and the callback forwards what it sees into a channel.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::sync::{Arc, Once};
use std::time::Duration;

use distribox_domain::vm::{PauseReason, StopReason, VmCommand};
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;
use virt::connect::Connect;
use virt::sys;

use super::domain_xml::{metadata_field, METADATA_NS};
use super::libvirt::{HypervisorHealth, LibvirtHypervisor};
use super::pause::pause_reason;
use super::projector::{OutcomeReporter, ReportError};

/// A domain started, stopped, paused or resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainChange {
    pub domain: String,
    pub change: Change,
    /// The installation the domain's metadata names, if any (read with the event, on the
    /// watcher's own connection).
    pub installation: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Started,
    /// With the reason libvirt gave.
    Stopped(StopReason),
    /// Paused, with why, as the domain's state says when the event arrives.
    Paused(PauseReason),
    Resumed,
}

/// Maps a `VIR_DOMAIN_EVENT_STOPPED` detail to why the VM stopped. A destroy is reported as
/// external; the aggregate knows whether Distribox asked for it.
fn stop_reason(detail: c_int) -> StopReason {
    match detail as sys::virDomainEventStoppedDetailType {
        sys::VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN => StopReason::Guest,
        sys::VIR_DOMAIN_EVENT_STOPPED_CRASHED | sys::VIR_DOMAIN_EVENT_STOPPED_FAILED => {
            StopReason::Crashed
        }
        _ => StopReason::External,
    }
}

/// Runs libvirt's default event loop once per process. It must be registered before the
/// connection that receives events is opened.
fn ensure_event_loop() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        if let Err(err) = virt::event::event_register_default_impl() {
            tracing::error!(error = %err, "cannot register libvirt's event loop");
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("libvirt-events".to_owned())
            .spawn(|| loop {
                if let Err(err) = virt::event::event_run_default_impl() {
                    tracing::warn!(error = %err, "libvirt event loop iteration failed");
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "cannot start libvirt's event loop thread");
        }
    });
}

unsafe extern "C" fn on_lifecycle(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    event: c_int,
    detail: c_int,
    opaque: *mut c_void,
) -> c_int {
    // SAFETY: the domain and its name are valid during the callback.
    let name = unsafe { sys::virDomainGetName(dom) };
    if name.is_null() {
        return 0;
    }
    let domain = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    // Other domains cost no further libvirt call.
    if !domain.starts_with("distribox-") {
        return 0;
    }
    let change = match event as sys::virDomainEventType {
        sys::VIR_DOMAIN_EVENT_STOPPED => Change::Stopped(stop_reason(detail)),
        sys::VIR_DOMAIN_EVENT_STARTED => Change::Started,
        sys::VIR_DOMAIN_EVENT_RESUMED => Change::Resumed,
        // The event's detail can't tell a `virsh suspend` from a KVM internal error; the
        // domain's paused reason can.
        // SAFETY: the domain is valid during the callback.
        sys::VIR_DOMAIN_EVENT_SUSPENDED => match unsafe { paused_reason(dom) } {
            Some(reason) => Change::Paused(reason),
            None => return 0,
        },
        _ => return 0,
    };
    // SAFETY: libvirt passes back the pointer registered in `watch_connection`, which stays
    // alive until `free_sender` runs.
    let sender = unsafe { &*(opaque as *const mpsc::UnboundedSender<DomainChange>) };
    // SAFETY: the domain is valid during the callback.
    let installation = unsafe { installation_of(dom) };
    let _ = sender.send(DomainChange {
        domain,
        change,
        installation,
    });
    0
}

/// The installation `dom`'s Distribox metadata names.
///
/// # Safety
/// `dom` must be a valid domain pointer (as during a callback).
unsafe fn installation_of(dom: sys::virDomainPtr) -> Option<String> {
    // SAFETY: the extra reference taken here is the one the `Domain` value releases on drop,
    // so libvirt's own reference, which the callback borrows, is untouched.
    let dom = unsafe {
        if sys::virDomainRef(dom) < 0 {
            return None;
        }
        virt::domain::Domain::from_ptr(dom)
    };
    let kind = sys::VIR_DOMAIN_METADATA_ELEMENT as i32;
    let metadata = dom.metadata(kind, Some(METADATA_NS), 0).ok()?;
    metadata_field(&metadata, "installation")
}

/// Why `dom` is paused now; `None` when it no longer is, or libvirt will resume it itself.
///
/// # Safety
/// `dom` must be a valid domain pointer (as during a callback).
unsafe fn paused_reason(dom: sys::virDomainPtr) -> Option<PauseReason> {
    let (mut state, mut reason): (c_int, c_int) = (0, 0);
    // SAFETY: `dom` is valid (the caller's promise) and both out-pointers are live locals.
    if unsafe { sys::virDomainGetState(dom, &mut state, &mut reason, 0) } < 0 {
        return None;
    }
    if state as sys::virDomainState != sys::VIR_DOMAIN_PAUSED {
        return None;
    }
    pause_reason(reason)
}

unsafe extern "C" fn free_sender(opaque: *mut c_void) {
    // SAFETY: `opaque` came from `Box::into_raw` in `watch_connection`; libvirt frees it once.
    drop(unsafe { Box::from_raw(opaque as *mut mpsc::UnboundedSender<DomainChange>) });
}

/// Registers the callback on `conn`, then blocks while the connection lives.
fn watch_connection(
    conn: &Connect,
    sender: &mpsc::UnboundedSender<DomainChange>,
) -> Result<(), String> {
    type Lifecycle = unsafe extern "C" fn(
        sys::virConnectPtr,
        sys::virDomainPtr,
        c_int,
        c_int,
        *mut c_void,
    ) -> c_int;
    let opaque = Box::into_raw(Box::new(sender.clone())) as *mut c_void;
    // SAFETY: libvirt's API takes the generic callback type and calls it with the lifecycle
    // signature for VIR_DOMAIN_EVENT_ID_LIFECYCLE (the documented VIR_DOMAIN_EVENT_CALLBACK cast).
    let callback = unsafe {
        std::mem::transmute::<
            Lifecycle,
            unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void),
        >(on_lifecycle)
    };
    // SAFETY: `conn` is open for the whole call; the callback and `opaque` outlive the
    // registration (libvirt frees `opaque` through `free_sender`).
    let id = unsafe {
        sys::virConnectDomainEventRegisterAny(
            conn.as_ptr(),
            std::ptr::null_mut(),
            sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
            Some(callback),
            opaque,
            Some(free_sender),
        )
    };
    if id < 0 {
        // SAFETY: registration failed, so libvirt did not take ownership of `opaque`.
        unsafe { free_sender(opaque) };
        return Err(virt::error::Error::last_error().message().to_owned());
    }
    while conn.is_alive().unwrap_or(false) && !sender.is_closed() {
        std::thread::sleep(Duration::from_millis(500));
    }
    // SAFETY: `id` is the registration made above on the same, still referenced, connection.
    unsafe { sys::virConnectDomainEventDeregisterAny(conn.as_ptr(), id) };
    Ok(())
}

/// What the watcher hands the rest of Distribox.
pub struct Watcher {
    pub changes: mpsc::UnboundedReceiver<DomainChange>,
    /// Signalled each time the watcher gets back to libvirtd after losing it: whatever happened
    /// meanwhile sent no event, so it is time to reconcile.
    pub reconnected: Arc<Notify>,
}

/// Watches `uri` for domains that start or stop, reconnecting with backoff when libvirtd goes
/// away and keeping `health` up to date. Stops when the receiver is dropped.
pub fn watch(uri: String, health: HypervisorHealth) -> Watcher {
    let (sender, changes) = mpsc::unbounded_channel();
    let reconnected = Arc::new(Notify::new());
    let notify = reconnected.clone();
    ensure_event_loop();
    let spawned = std::thread::Builder::new().name("libvirt-lifecycle".to_owned()).spawn(move || {
        let mut backoff = Duration::from_millis(500);
        let mut connected_before = false;
        while !sender.is_closed() {
            match Connect::open(Some(&uri)) {
                Ok(conn) => {
                    // Keepalive makes a dead daemon show up as a dead connection.
                    let _ = conn.set_keep_alive(5, 3);
                    backoff = Duration::from_millis(500);
                    health.set(Ok(()));
                    if connected_before {
                        notify.notify_one();
                    }
                    connected_before = true;
                    if let Err(err) = watch_connection(&conn, &sender) {
                        tracing::warn!(error = %err, "cannot watch libvirt lifecycle events");
                    }
                    drop(conn);
                    health.set(Err("the connection to libvirtd was lost"));
                }
                Err(err) => {
                    health.set(Err(err.message()));
                    tracing::debug!(error = %err.message(), "libvirt unreachable; lifecycle events paused");
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot start the lifecycle watcher");
    }
    Watcher {
        changes,
        reconnected,
    }
}

/// Reports every start, stop, pause and resume of a Distribox domain (`distribox-<uuid>`) as an
/// observation, except starts Distribox made itself (the projector reports those). Other
/// domains are none of Distribox's business: those of other installations on the same libvirt
/// are skipped, and a VM this installation has no history of is dropped quietly.
pub async fn report_changes(
    mut changes: mpsc::UnboundedReceiver<DomainChange>,
    reporter: impl OutcomeReporter,
    hypervisor: LibvirtHypervisor,
) {
    let starts = hypervisor.starts();
    let ours = hypervisor.installation().map(|id| id.to_string());
    while let Some(DomainChange {
        domain,
        change,
        installation,
    }) = changes.recv().await
    {
        let Some(id) = domain
            .strip_prefix("distribox-")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            continue;
        };
        let command = match change {
            Change::Started if starts.take(id) => continue,
            Change::Started => VmCommand::ReportStartedOutside,
            Change::Stopped(reason) => VmCommand::ReportStopped { reason },
            Change::Paused(reason) => VmCommand::ReportPausedOutside { reason },
            Change::Resumed => VmCommand::ReportResumed,
        };
        if made_elsewhere(installation.as_deref(), ours.as_deref()) {
            tracing::trace!(domain, "another installation's domain changed");
            continue;
        }
        match change {
            Change::Paused(reason) if reason.is_fault() => {
                tracing::warn!(vm = %id, reason = reason.describe(), "libvirt paused a guest")
            }
            _ => tracing::info!(vm = %id, ?change, "domain changed"),
        }
        report(&reporter, id, command).await;
    }
}

/// Whether a domain marked `theirs` was made by another installation than `ours`. Domains made
/// before installations were marked carry none and are judged by the log.
fn made_elsewhere(theirs: Option<&str>, ours: Option<&str>) -> bool {
    matches!((theirs, ours), (Some(theirs), Some(ours)) if theirs != ours)
}

const REPORT_ATTEMPTS: u32 = 6;

/// Records one observation, retrying while the log is unavailable: a short database hiccup
/// must not lose it.
async fn report(reporter: &impl OutcomeReporter, id: Uuid, command: VmCommand) {
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=REPORT_ATTEMPTS {
        match reporter.report(id, command.clone()).await {
            Ok(()) => return,
            Err(ReportError::UnknownVm) => {
                tracing::debug!(vm = %id, "a domain of a VM this installation does not know changed");
                return;
            }
            Err(ReportError::Refused(reason)) => {
                tracing::warn!(vm = %id, %reason, ?command, "a domain change was refused");
                return;
            }
            Err(err) if attempt == REPORT_ATTEMPTS => {
                tracing::error!(vm = %id, error = %err, ?command, "cannot record a domain change");
            }
            Err(ReportError::Unavailable(_)) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_domains_marked_by_another_installation_are_someone_else_s() {
        assert!(made_elsewhere(Some("b"), Some("a")));
        assert!(!made_elsewhere(Some("a"), Some("a")));
        assert!(!made_elsewhere(None, Some("a")));
        assert!(!made_elsewhere(Some("b"), None));
    }

    #[test]
    fn stop_details_map_to_reasons() {
        assert_eq!(
            stop_reason(sys::VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN as c_int),
            StopReason::Guest
        );
        assert_eq!(
            stop_reason(sys::VIR_DOMAIN_EVENT_STOPPED_CRASHED as c_int),
            StopReason::Crashed
        );
        assert_eq!(
            stop_reason(sys::VIR_DOMAIN_EVENT_STOPPED_FAILED as c_int),
            StopReason::Crashed
        );
        assert_eq!(
            stop_reason(sys::VIR_DOMAIN_EVENT_STOPPED_DESTROYED as c_int),
            StopReason::External
        );
    }
}
