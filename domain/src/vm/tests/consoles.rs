//! Console sessions in a VM's history.

use uuid::Uuid;

use super::{deleted, running, vm};
use crate::vm::*;
use crate::DomainError;

#[test]
fn console_sessions_are_recorded_even_after_the_vm_is_gone() {
    let session = Uuid::from_u128(5);
    vm().given(running())
        .when(VmCommand::RecordConsoleOpened {
            session,
            principal: "credential:x".to_owned(),
            kind: crate::console::ConsoleKind::Serial,
            view_only: true,
        })
        .then_expect_events(vec![VmEvent::ConsoleOpened {
            session,
            principal: "credential:x".to_owned(),
            kind: crate::console::ConsoleKind::Serial,
            view_only: true,
        }]);
    let closed = VmCommand::RecordConsoleClosed {
        session,
        bytes_in: 0,
        bytes_out: 10,
        duration_ms: 1500,
        reason: "the VM is being deleted".to_owned(),
    };
    vm().given(deleted())
        .when(closed.clone())
        .then_expect_events(vec![VmEvent::ConsoleClosed {
            session,
            bytes_in: 0,
            bytes_out: 10,
            duration_ms: 1500,
            reason: "the VM is being deleted".to_owned(),
        }]);
    vm().given_no_previous_events()
        .when(closed)
        .then_expect_error(DomainError::not_found("VM not found"));
}
