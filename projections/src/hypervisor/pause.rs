//! Why libvirt says a domain is paused, in the domain's terms. Pauses libvirt makes for its own
//! work (a snapshot, a save, a migration, starting up) end by themselves and are not reported.

use distribox_domain::vm::PauseReason;
use virt::sys;

/// The reason of a paused domain (`virDomainGetState`'s `VIR_DOMAIN_PAUSED_*`), or `None` for
/// a transient pause libvirt will undo itself.
pub fn pause_reason(reason: i32) -> Option<PauseReason> {
    let Ok(reason) = sys::virDomainPausedReason::try_from(reason) else {
        return Some(PauseReason::Other);
    };
    match reason {
        sys::VIR_DOMAIN_PAUSED_USER => Some(PauseReason::Outside),
        sys::VIR_DOMAIN_PAUSED_IOERROR => Some(PauseReason::IoError),
        sys::VIR_DOMAIN_PAUSED_WATCHDOG => Some(PauseReason::Watchdog),
        sys::VIR_DOMAIN_PAUSED_CRASHED => Some(PauseReason::Crashed),
        // QEMU stopped the guest and said nothing libvirt understands: a KVM internal error
        // (emulation failure) looks exactly like this.
        sys::VIR_DOMAIN_PAUSED_UNKNOWN
        | sys::VIR_DOMAIN_PAUSED_API_ERROR
        | sys::VIR_DOMAIN_PAUSED_POSTCOPY_FAILED => Some(PauseReason::HypervisorError),
        sys::VIR_DOMAIN_PAUSED_MIGRATION
        | sys::VIR_DOMAIN_PAUSED_SAVE
        | sys::VIR_DOMAIN_PAUSED_DUMP
        | sys::VIR_DOMAIN_PAUSED_FROM_SNAPSHOT
        | sys::VIR_DOMAIN_PAUSED_SHUTTING_DOWN
        | sys::VIR_DOMAIN_PAUSED_SNAPSHOT
        | sys::VIR_DOMAIN_PAUSED_STARTING_UP
        | sys::VIR_DOMAIN_PAUSED_POSTCOPY => None,
        _ => Some(PauseReason::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_and_outside_pauses_are_told_apart_and_transient_ones_dropped() {
        let reason = |r: sys::virDomainPausedReason| pause_reason(r as i32);
        assert_eq!(
            reason(sys::VIR_DOMAIN_PAUSED_USER),
            Some(PauseReason::Outside)
        );
        assert_eq!(
            reason(sys::VIR_DOMAIN_PAUSED_IOERROR),
            Some(PauseReason::IoError)
        );
        assert_eq!(
            reason(sys::VIR_DOMAIN_PAUSED_WATCHDOG),
            Some(PauseReason::Watchdog)
        );
        assert_eq!(
            reason(sys::VIR_DOMAIN_PAUSED_CRASHED),
            Some(PauseReason::Crashed)
        );
        assert_eq!(
            reason(sys::VIR_DOMAIN_PAUSED_UNKNOWN),
            Some(PauseReason::HypervisorError)
        );
        assert_eq!(reason(sys::VIR_DOMAIN_PAUSED_SNAPSHOT), None);
        assert_eq!(reason(sys::VIR_DOMAIN_PAUSED_MIGRATION), None);
        assert_eq!(pause_reason(999), Some(PauseReason::Other));
        assert_eq!(pause_reason(-1), Some(PauseReason::Other));
    }
}
