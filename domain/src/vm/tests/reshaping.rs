//! Resize, clone, snapshots, forced deletion and starts from outside Distribox.

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::{created, deleted, running, state_after, stopped, vm, with};
use crate::vm::*;
use crate::DomainError;

const SNAP: Uuid = Uuid::from_u128(7);

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

fn take(name: &str) -> VmCommand {
    VmCommand::TakeSnapshot {
        id: SNAP,
        name: name.to_owned(),
        at: at(),
    }
}

fn requested(with_memory: bool) -> VmEvent {
    VmEvent::VmSnapshotRequested {
        id: SNAP,
        name: "before upgrade".to_owned(),
        taken_at: at(),
        with_memory,
    }
}

fn with_snapshot(base: Vec<VmEvent>) -> Vec<VmEvent> {
    with(
        base,
        &[requested(false), VmEvent::VmSnapshotTaken { id: SNAP }],
    )
}

fn resize(vcpus: u32, memory_mib: u64, disk_gib: u64) -> VmCommand {
    VmCommand::Resize {
        vcpus,
        memory_mib,
        disk_gib,
    }
}

fn folded(events: Vec<VmEvent>) -> Vm {
    let mut vm = Vm::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut vm, event);
    }
    vm
}

#[test]
fn resize_a_stopped_vm() {
    vm().given(stopped())
        .when(resize(2, 1024, 8))
        .then_expect_events(vec![VmEvent::VmResized {
            vcpus: 2,
            memory_mib: 1024,
            disk_gib: 8,
        }]);
    // Nothing changes, nothing is recorded.
    vm().given(stopped())
        .when(resize(1, 256, 4))
        .then_expect_events(vec![]);
    let spec = folded(with(
        stopped(),
        &[VmEvent::VmResized {
            vcpus: 2,
            memory_mib: 1024,
            disk_gib: 8,
        }],
    ))
    .spec
    .unwrap();
    assert_eq!((spec.vcpus, spec.memory_mib, spec.disk_gib), (2, 1024, 8));
}

#[test]
fn resize_refusals() {
    vm().given(running())
        .when(resize(2, 512, 4))
        .then_expect_error(DomainError::conflict(
            "VM is not stopped; stop it before resizing it",
        ));
    vm().given(stopped())
        .when(resize(1, 256, 2))
        .then_expect_error(DomainError::bad_field(
            "diskGib",
            "diskGib can only grow: the disk has 4 GiB",
        ));
    vm().given(stopped())
        .when(resize(65, 256, 4))
        .then_expect_error(DomainError::bad_field(
            "vcpus",
            "vcpus must be between 1 and 64, got 65",
        ));
    vm().given(with_snapshot(stopped()))
        .when(resize(1, 256, 5))
        .then_expect_error(DomainError::conflict(
            "the disk has snapshots; delete them before growing it",
        ));
    // Memory and vCPUs may change with snapshots around.
    vm().given(with_snapshot(stopped()))
        .when(resize(2, 256, 4))
        .then_expect_events(vec![VmEvent::VmResized {
            vcpus: 2,
            memory_mib: 256,
            disk_gib: 4,
        }]);
    vm().given(deleted())
        .when(resize(2, 256, 4))
        .then_expect_error(DomainError::not_found("VM not found"));
}

fn clone_of(source: Vec<VmEvent>, name: &str) -> VmCommand {
    VmCommand::Clone(CloneVm {
        source_id: Uuid::from_u128(1),
        source: Box::new(folded(source)),
        name: name.to_owned(),
        owner: "acc-2".to_owned(),
        instance_id: "iid-abcdef0123".to_owned(),
    })
}

#[test]
fn clone_a_stopped_vm_with_a_new_identity() {
    let VmEvent::VmCreated { spec, seed, .. } = created() else {
        unreachable!()
    };
    let expected = VmEvent::VmCreated {
        spec: VmSpec {
            name: VmName::parse("web copy").unwrap(),
            ..spec
        },
        image: "test-guest".to_owned(),
        owner: "acc-2".to_owned(),
        seed: Some(SeedSpec {
            instance_id: "iid-abcdef0123".to_owned(),
            hostname: "vm-abcdef01".to_owned(),
            user: seed.unwrap().user,
        }),
    };
    vm().given_no_previous_events()
        .when(clone_of(stopped(), "web copy"))
        .then_expect_events(vec![
            expected,
            VmEvent::VmCloned {
                from: Uuid::from_u128(1),
            },
        ]);
}

#[test]
fn clone_refusals() {
    vm().given_no_previous_events()
        .when(clone_of(running(), "copy"))
        .then_expect_error(DomainError::conflict(
            "VM is not stopped; stop it before cloning it",
        ));
    vm().given_no_previous_events()
        .when(clone_of(deleted(), "copy"))
        .then_expect_error(DomainError::not_found("VM not found"));
    vm().given_no_previous_events()
        .when(clone_of(vec![], "copy"))
        .then_expect_error(DomainError::not_found("VM not found"));
    vm().given_no_previous_events()
        .when(clone_of(stopped(), " "))
        .then_expect_error(DomainError::bad_field("name", "VM name must not be empty"));
    vm().given_no_previous_events()
        .when(clone_of(with(stopped(), &[requested(false)]), "copy"))
        .then_expect_error(DomainError::conflict(
            "VM is busy with a snapshot; try again when it is done",
        ));
    vm().given(stopped())
        .when(clone_of(stopped(), "copy"))
        .then_expect_error(DomainError::conflict("a VM with this id already exists"));
}

#[test]
fn snapshots_are_taken_with_memory_only_while_running() {
    vm().given(stopped())
        .when(take(" before upgrade "))
        .then_expect_events(vec![requested(false)]);
    vm().given(running())
        .when(take("before upgrade"))
        .then_expect_events(vec![requested(true)]);
    vm().given(with(stopped(), &[requested(false)]))
        .when(VmCommand::ReportSnapshotTaken { id: SNAP })
        .then_expect_events(vec![VmEvent::VmSnapshotTaken { id: SNAP }]);
    // A duplicate report records nothing.
    vm().given(with_snapshot(stopped()))
        .when(VmCommand::ReportSnapshotTaken { id: SNAP })
        .then_expect_events(vec![]);
    let vm = folded(with_snapshot(stopped()));
    assert_eq!(vm.snapshots.len(), 1);
    assert_eq!(vm.snapshots[0].status, SnapshotStatus::Ready);
    assert!(!vm.snapshot_busy());
}

#[test]
fn a_failed_snapshot_disappears_and_says_why() {
    let vm = folded(with(
        stopped(),
        &[
            requested(false),
            VmEvent::VmSnapshotFailed {
                id: SNAP,
                reason: "no space".to_owned(),
            },
        ],
    ));
    assert!(vm.snapshots.is_empty());
    assert_eq!(
        vm.failure.as_deref(),
        Some("the snapshot could not be taken: no space")
    );
}

#[test]
fn snapshot_refusals() {
    for (given, command, error) in [
        (
            stopped(),
            take(""),
            DomainError::bad_field("name", "snapshot name must not be empty"),
        ),
        (
            with_snapshot(stopped()),
            take("before upgrade"),
            DomainError::conflict("a snapshot named `before upgrade` already exists"),
        ),
        (
            with(running(), &[VmEvent::VmPauseRequested, VmEvent::VmPaused]),
            take("x"),
            DomainError::conflict("VM is paused; resume it first"),
        ),
        (
            with(stopped(), &[VmEvent::VmStartRequested]),
            take("x"),
            DomainError::conflict("VM is still starting"),
        ),
        (deleted(), take("x"), DomainError::not_found("VM not found")),
        (
            with_snapshot(running()),
            VmCommand::RevertSnapshot { id: SNAP },
            DomainError::conflict("VM is not stopped; stop it before reverting it"),
        ),
        (
            stopped(),
            VmCommand::RevertSnapshot { id: SNAP },
            DomainError::not_found("snapshot not found"),
        ),
        (
            stopped(),
            VmCommand::DeleteSnapshot { id: SNAP },
            DomainError::not_found("snapshot not found"),
        ),
    ] {
        vm().given(given).when(command).then_expect_error(error);
    }
}

#[test]
fn a_busy_vm_refuses_lifecycle_commands_until_the_snapshot_is_done() {
    let busy = with(stopped(), &[requested(false)]);
    for command in [
        VmCommand::Start,
        resize(2, 256, 4),
        take("another"),
        VmCommand::Delete { force: false },
    ] {
        vm().given(busy.clone())
            .when(command)
            .then_expect_error(DomainError::conflict(
                "VM is busy with a snapshot; try again when it is done",
            ));
    }
    let busy_running = with(running(), &[requested(true)]);
    for command in [
        VmCommand::ForceStop,
        VmCommand::Shutdown,
        VmCommand::Reboot,
        VmCommand::Pause,
    ] {
        vm().given(busy_running.clone())
            .when(command)
            .then_expect_error(DomainError::conflict(
                "VM is busy with a snapshot; try again when it is done",
            ));
    }
    // Renaming is harmless, and a forced delete wins over anything.
    vm().given(busy.clone())
        .when(VmCommand::Rename {
            name: "new".to_owned(),
        })
        .then_expect_events(vec![VmEvent::VmRenamed {
            name: VmName::parse("new").unwrap(),
        }]);
    vm().given(busy)
        .when(VmCommand::Delete { force: true })
        .then_expect_events(vec![VmEvent::VmDeleteRequested]);
}

#[test]
fn revert_restores_the_snapshot_state() {
    let reverting = with(
        with_snapshot(stopped()),
        &[VmEvent::VmSnapshotRevertRequested { id: SNAP }],
    );
    vm().given(with_snapshot(stopped()))
        .when(VmCommand::RevertSnapshot { id: SNAP })
        .then_expect_events(vec![VmEvent::VmSnapshotRevertRequested { id: SNAP }]);
    vm().given(reverting.clone())
        .when(VmCommand::ReportSnapshotReverted {
            id: SNAP,
            running: true,
        })
        .then_expect_events(vec![VmEvent::VmSnapshotReverted {
            id: SNAP,
            running: true,
        }]);
    let resumed = with(
        reverting.clone(),
        &[VmEvent::VmSnapshotReverted {
            id: SNAP,
            running: true,
        }],
    );
    assert_eq!(state_after(resumed), VmState::Running);
    let failed = folded(with(
        reverting,
        &[VmEvent::VmSnapshotRevertFailed {
            id: SNAP,
            reason: "gone".to_owned(),
        }],
    ));
    assert!(!failed.snapshot_busy());
    assert_eq!(failed.state(), VmState::Failed);
}

#[test]
fn delete_a_snapshot() {
    vm().given(with_snapshot(running()))
        .when(VmCommand::DeleteSnapshot { id: SNAP })
        .then_expect_events(vec![VmEvent::VmSnapshotDeleteRequested { id: SNAP }]);
    let deleting = with(
        with_snapshot(running()),
        &[VmEvent::VmSnapshotDeleteRequested { id: SNAP }],
    );
    vm().given(deleting.clone())
        .when(VmCommand::DeleteSnapshot { id: SNAP })
        .then_expect_error(DomainError::conflict(
            "VM is busy with a snapshot; try again when it is done",
        ));
    vm().given(deleting.clone())
        .when(VmCommand::ReportSnapshotDeleted { id: SNAP })
        .then_expect_events(vec![VmEvent::VmSnapshotDeleted { id: SNAP }]);
    let gone = folded(with(deleting, &[VmEvent::VmSnapshotDeleted { id: SNAP }]));
    assert!(gone.snapshots.is_empty());
}

#[test]
fn force_delete_of_a_running_vm() {
    vm().given(running())
        .when(VmCommand::Delete { force: true })
        .then_expect_events(vec![VmEvent::VmDeleteRequested]);
    vm().given(deleted())
        .when(VmCommand::Delete { force: true })
        .then_expect_error(DomainError::not_found("VM not found"));
}

#[test]
fn a_start_outside_distribox_becomes_what_is_wanted() {
    vm().given(stopped())
        .when(VmCommand::ReportStartedOutside)
        .then_expect_events(vec![VmEvent::VmStartedOutside]);
    assert_eq!(
        state_after(with(stopped(), &[VmEvent::VmStartedOutside])),
        VmState::Running
    );
    // Distribox's own start, heard first from libvirt.
    vm().given(with(stopped(), &[VmEvent::VmStartRequested]))
        .when(VmCommand::ReportStartedOutside)
        .then_expect_events(vec![VmEvent::VmStarted]);
    vm().given(running())
        .when(VmCommand::ReportStartedOutside)
        .then_expect_events(vec![]);
}

fn adopt(discard: bool, memory_mib: u64) -> VmCommand {
    VmCommand::Adopt(AdoptVm {
        name: "found".to_owned(),
        vcpus: 2,
        memory_mib,
        disk_gib: 4,
        image: Some("test-guest".to_owned()),
        owner: "acc-1".to_owned(),
        running: true,
        discard,
    })
}

#[test]
fn adopting_a_domain_takes_it_as_found() {
    let created = VmEvent::VmCreated {
        spec: VmSpec::new("found", 2, 512, 4).unwrap(),
        image: "test-guest".to_owned(),
        owner: "acc-1".to_owned(),
        seed: None,
    };
    let adopted = VmEvent::VmAdopted { running: true };
    vm().given_no_previous_events()
        .when(adopt(false, 512))
        .then_expect_events(vec![created.clone(), adopted.clone()]);
    assert_eq!(
        state_after(vec![created.clone(), adopted.clone()]),
        VmState::Running
    );
    // Discarding adopts it only to delete it, running or not.
    vm().given_no_previous_events()
        .when(adopt(true, 512))
        .then_expect_events(vec![created, adopted, VmEvent::VmDeleteRequested]);
    vm().given_no_previous_events()
        .when(adopt(false, 16))
        .then_expect_error(DomainError::bad_input(
            "cannot adopt it: memoryMib must be between 64 and 262144, got 16",
        ));
    vm().given(stopped())
        .when(adopt(false, 512))
        .then_expect_error(DomainError::conflict(
            "this domain's VM already has a history",
        ));
}

#[test]
fn a_refused_action_settles_the_vm_as_it_is() {
    let failed = |given: Vec<VmEvent>| {
        folded(with(
            given,
            &[VmEvent::VmActionFailed {
                reason: "permission denied".to_owned(),
            }],
        ))
    };
    // A removal libvirt refused: the VM is back to stopped, not stuck deleting.
    let vm = failed(with(stopped(), &[VmEvent::VmDeleteRequested]));
    assert_eq!(vm.state(), VmState::Failed);
    assert_eq!(vm.failure.as_deref(), Some("permission denied"));
    // A refused force stop leaves it running; a refused snapshot deletion keeps the snapshot.
    let vm = failed(with(running(), &[VmEvent::VmForceStopRequested]));
    assert_eq!(vm.state(), VmState::Running);
    let vm = failed(with(
        with_snapshot(running()),
        &[VmEvent::VmSnapshotDeleteRequested { id: SNAP }],
    ));
    assert!(!vm.snapshot_busy());
    assert_eq!(vm.snapshots[0].status, SnapshotStatus::Ready);
}

#[test]
fn a_refused_action_can_be_asked_for_again() {
    let refused = VmEvent::VmActionFailed {
        reason: "x".to_owned(),
    };
    vm().given(with(
        stopped(),
        &[VmEvent::VmDeleteRequested, refused.clone()],
    ))
    .when(VmCommand::Delete { force: false })
    .then_expect_events(vec![VmEvent::VmDeleteRequested]);
    vm().given(running())
        .when(VmCommand::ReportActionFailed {
            reason: "x".to_owned(),
        })
        .then_expect_events(vec![refused]);
    vm().given(deleted())
        .when(VmCommand::ReportActionFailed {
            reason: "x".to_owned(),
        })
        .then_expect_events(vec![]);
}
