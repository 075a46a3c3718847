//! What libvirt does on its own — pausing a guest after a fault, someone's `virsh suspend`, a
//! crash — reaches the VM's state with its reason.

use super::*;

fn folded(events: Vec<VmEvent>) -> Vm {
    let mut vm = Vm::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut vm, event);
    }
    vm
}

fn paused_outside(reason: PauseReason) -> VmCommand {
    VmCommand::ReportPausedOutside { reason }
}

#[test]
fn a_pause_nobody_asked_for_is_recorded_with_its_reason_and_sticks() {
    vm().given(running())
        .when(paused_outside(PauseReason::HypervisorError))
        .then_expect_events(vec![VmEvent::VmPausedOutside {
            reason: PauseReason::HypervisorError,
        }]);
    let mut events = running();
    events.push(VmEvent::VmPausedOutside {
        reason: PauseReason::HypervisorError,
    });
    let paused = folded(events.clone());
    assert_eq!(paused.state(), VmState::Paused);
    // Wanted paused now: nothing resumes it without being asked.
    assert_eq!(paused.desired, Desired::Paused);
    let reason = paused.state_reason().unwrap();
    assert!(reason.contains("internal error"), "{reason}");
    // Reported twice (the event and reconciliation): recorded once.
    vm().given(events)
        .when(paused_outside(PauseReason::HypervisorError))
        .then_expect_events(vec![]);
}

#[test]
fn distribox_s_own_pause_is_not_an_outside_one() {
    let mut events = running();
    events.push(VmEvent::VmPauseRequested);
    vm().given(events)
        .when(paused_outside(PauseReason::Outside))
        .then_expect_events(vec![VmEvent::VmPaused]);
}

#[test]
fn resuming_clears_the_reason_and_the_fault() {
    let mut events = running();
    events.push(VmEvent::VmPausedOutside {
        reason: PauseReason::IoError,
    });
    assert!(folded(events.clone()).failure.is_some());
    vm().given(events.clone())
        .when(VmCommand::Resume)
        .then_expect_events(vec![VmEvent::VmResumeRequested]);
    events.extend([VmEvent::VmResumeRequested, VmEvent::VmResumed]);
    let resumed = folded(events);
    assert_eq!(resumed.state(), VmState::Running);
    assert_eq!(resumed.paused_by, None);
    assert_eq!(resumed.failure, None);
    assert_eq!(resumed.state_reason(), None);
}

#[test]
fn a_resume_behind_distribox_s_back_ends_an_outside_pause_for_good() {
    let mut events = running();
    events.extend([
        VmEvent::VmPausedOutside {
            reason: PauseReason::Outside,
        },
        VmEvent::VmResumed,
    ]);
    let resumed = folded(events);
    assert_eq!(resumed.state(), VmState::Running);
    // Nothing left that would make the hypervisor pause it again.
    assert_eq!(resumed.desired, Desired::Running);
}

#[test]
fn a_crash_shows_as_crashed_until_the_next_start() {
    let mut events = running();
    events.push(VmEvent::VmStopped {
        reason: StopReason::Crashed,
    });
    let crashed = folded(events.clone());
    assert_eq!(crashed.state(), VmState::Crashed);
    assert_eq!(crashed.state_reason().as_deref(), Some("the guest crashed"));
    vm().given(events.clone())
        .when(VmCommand::Start)
        .then_expect_events(vec![VmEvent::VmStartRequested]);
    events.extend([VmEvent::VmStartRequested, VmEvent::VmStarted]);
    assert_eq!(folded(events).state(), VmState::Running);
}

#[test]
fn a_stopped_vm_ignores_a_late_pause_report() {
    let mut events = running();
    events.push(VmEvent::VmStopped {
        reason: StopReason::Guest,
    });
    vm().given(events)
        .when(paused_outside(PauseReason::Outside))
        .then_expect_events(vec![]);
}

#[test]
fn labels_are_set_and_unchanged_labels_record_nothing() {
    let tags = vec!["Lab".to_owned(), "web".to_owned()];
    let labels = Labels::parse(Some("class of Tuesday"), &tags).unwrap();
    vm().given(vec![created()])
        .when(VmCommand::SetLabels {
            note: Some("class of Tuesday".to_owned()),
            tags: tags.clone(),
        })
        .then_expect_events(vec![VmEvent::VmLabelsSet {
            labels: labels.clone(),
        }]);
    vm().given(vec![created(), VmEvent::VmLabelsSet { labels }])
        .when(VmCommand::SetLabels {
            note: Some("class of Tuesday ".to_owned()),
            tags: vec!["web".to_owned(), "lab".to_owned()],
        })
        .then_expect_events(vec![]);
    vm().given(vec![created()])
        .when(VmCommand::SetLabels {
            note: None,
            tags: vec!["no spaces".to_owned()],
        })
        .then_expect_error(
            DomainError::bad_input(
                "a tag is 1–32 letters, digits, dots, dashes or underscores (`no spaces` is not)",
            )
            .in_field("tags"),
        );
    vm().given(vec![])
        .when(VmCommand::SetLabels {
            note: None,
            tags: vec![],
        })
        .then_expect_error(DomainError::not_found("VM not found"));
}

#[test]
fn a_stop_or_delete_asked_for_survives_a_pause_that_races_it() {
    for request in [VmEvent::VmForceStopRequested, VmEvent::VmDeleteRequested] {
        let mut events = running();
        events.extend([
            request.clone(),
            VmEvent::VmPausedOutside {
                reason: PauseReason::IoError,
            },
        ]);
        let vm = folded(events.clone());
        assert_ne!(vm.desired, Desired::Paused, "{request:?}");
        // And a resume behind Distribox's back doesn't bring the VM back either.
        events.push(VmEvent::VmResumed);
        assert_ne!(folded(events).desired, Desired::Running, "{request:?}");
    }
}

#[test]
fn a_fault_that_beats_a_requested_pause_keeps_its_reason() {
    let mut events = running();
    events.push(VmEvent::VmPauseRequested);
    vm().given(events)
        .when(paused_outside(PauseReason::IoError))
        .then_expect_events(vec![VmEvent::VmPausedOutside {
            reason: PauseReason::IoError,
        }]);
}

#[test]
fn reverting_or_starting_a_crashed_vm_ends_the_crash() {
    let mut events = running();
    events.push(VmEvent::VmStopped {
        reason: StopReason::Crashed,
    });
    let mut started = events.clone();
    started.extend([
        VmEvent::VmStartRequested,
        VmEvent::VmStartFailed {
            reason: "no memory".to_owned(),
        },
    ]);
    assert_eq!(folded(started).state(), VmState::Failed);
    events.push(VmEvent::VmSnapshotReverted {
        id: uuid::Uuid::nil(),
        running: false,
    });
    assert_eq!(folded(events).state(), VmState::Stopped);
}
