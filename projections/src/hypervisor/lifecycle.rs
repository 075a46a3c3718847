//! libvirt lifecycle events, so what happens to a domain outside Distribox's own actions — the
//! guest powering itself off, a crash, `virsh destroy` — reaches the log within a second.
//!
//! The `virt` crate has no safe wrapper for domain events, so the FFI lives here and only here:
//! libvirt's default event loop runs on a dedicated thread, one dedicated connection registers a
//! lifecycle callback, and the callback forwards what it sees into a channel.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::sync::Once;
use std::time::Duration;

use distribox_domain::vm::{StopReason, VmCommand};
use tokio::sync::mpsc;
use uuid::Uuid;
use virt::connect::Connect;
use virt::sys;

use super::projector::OutcomeReporter;

/// A domain stopped, with the reason libvirt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainStopped {
    pub domain: String,
    pub reason: StopReason,
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
    if event as sys::virDomainEventType != sys::VIR_DOMAIN_EVENT_STOPPED {
        return 0;
    }
    // SAFETY: libvirt passes back the pointer registered in `watch_connection`, which stays
    // alive until `free_sender` runs; the domain and its name are valid during the callback.
    let sender = unsafe { &*(opaque as *const mpsc::UnboundedSender<DomainStopped>) };
    let name = unsafe { sys::virDomainGetName(dom) };
    if name.is_null() {
        return 0;
    }
    let domain = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    let _ = sender.send(DomainStopped {
        domain,
        reason: stop_reason(detail),
    });
    0
}

unsafe extern "C" fn free_sender(opaque: *mut c_void) {
    // SAFETY: `opaque` came from `Box::into_raw` in `watch_connection`; libvirt frees it once.
    drop(unsafe { Box::from_raw(opaque as *mut mpsc::UnboundedSender<DomainStopped>) });
}

/// Registers the callback on `conn`, then blocks while the connection lives.
fn watch_connection(
    conn: &Connect,
    sender: &mpsc::UnboundedSender<DomainStopped>,
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

/// Watches `uri` for domains that stop, reconnecting with backoff when libvirtd goes away.
/// Stops when the receiver is dropped.
pub fn watch(uri: String) -> mpsc::UnboundedReceiver<DomainStopped> {
    let (sender, receiver) = mpsc::unbounded_channel();
    ensure_event_loop();
    let spawned = std::thread::Builder::new().name("libvirt-lifecycle".to_owned()).spawn(move || {
        let mut backoff = Duration::from_millis(500);
        while !sender.is_closed() {
            match Connect::open(Some(&uri)) {
                Ok(conn) => {
                    // Keepalive makes a dead daemon show up as a dead connection.
                    let _ = conn.set_keep_alive(5, 3);
                    backoff = Duration::from_millis(500);
                    if let Err(err) = watch_connection(&conn, &sender) {
                        tracing::warn!(error = %err, "cannot watch libvirt lifecycle events");
                    }
                    drop(conn);
                }
                Err(err) => tracing::warn!(error = %err.message(), "libvirt unreachable; lifecycle events paused"),
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot start the lifecycle watcher");
    }
    receiver
}

const REPORT_ATTEMPTS: u32 = 6;

/// Reports every stop of a Distribox domain (`distribox-<uuid>`) as an observation; other
/// domains are none of Distribox's business.
pub async fn report_stops(
    mut stops: mpsc::UnboundedReceiver<DomainStopped>,
    reporter: impl OutcomeReporter,
) {
    while let Some(stop) = stops.recv().await {
        let Some(id) = stop
            .domain
            .strip_prefix("distribox-")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            continue;
        };
        tracing::info!(vm = %id, reason = ?stop.reason, "domain stopped");
        // A short database hiccup must not lose the observation.
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=REPORT_ATTEMPTS {
            match reporter
                .report(
                    id,
                    VmCommand::ReportStopped {
                        reason: stop.reason,
                    },
                )
                .await
            {
                Ok(()) => break,
                Err(err) if attempt == REPORT_ATTEMPTS => {
                    tracing::error!(vm = %id, error = %err, "cannot record that the domain stopped")
                }
                Err(_) => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
