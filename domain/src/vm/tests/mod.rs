//! Given/when/then tests of every `Vm` rule, including every refusal.

use cqrs_es::test::TestFramework;

use super::*;
use crate::image::{ImageStatus, ImageSummary};
use crate::DomainError;

mod consoles;
mod credentials;
mod observed;
mod reshaping;

/// The base image most tests build on: ready, 3 GiB.
fn test_image(status: ImageStatus) -> ImageSummary {
    ImageSummary {
        id: "test-guest".to_owned(),
        status,
        virtual_size_bytes: 3 << 30,
    }
}

pub(super) fn vm() -> TestFramework<Vm> {
    TestFramework::with(())
}

pub(super) fn create(name: &str) -> CreateVm {
    CreateVm {
        name: name.to_owned(),
        image: test_image(ImageStatus::Ready),
        vcpus: 1,
        memory_mib: 256,
        disk_gib: 4,
        keyboard_layout: None,
        autostart: false,
        owner: "acc-1".to_owned(),
        start: false,
        instance_id: "iid-0123456789".to_owned(),
        seed: SeedInput::default(),
    }
}

pub(super) fn created() -> VmEvent {
    VmEvent::VmCreated {
        spec: VmSpec::new("web", 1, 256, 4).unwrap(),
        image: "test-guest".to_owned(),
        owner: "acc-1".to_owned(),
        seed: Some(SeedSpec {
            instance_id: "iid-0123456789".to_owned(),
            hostname: "vm-01234567".to_owned(),
            user: None,
        }),
    }
}

pub(super) fn running() -> Vec<VmEvent> {
    vec![
        created(),
        VmEvent::VmProvisioned,
        VmEvent::VmStartRequested,
        VmEvent::VmStarted,
    ]
}

pub(super) fn stopped() -> Vec<VmEvent> {
    vec![created(), VmEvent::VmProvisioned]
}

pub(super) fn deleted() -> Vec<VmEvent> {
    vec![
        created(),
        VmEvent::VmProvisioned,
        VmEvent::VmDeleteRequested,
        VmEvent::VmDeleted,
    ]
}

pub(super) fn state_after(events: Vec<VmEvent>) -> VmState {
    let mut vm = Vm::default();
    for e in events {
        cqrs_es::Aggregate::apply(&mut vm, e);
    }
    vm.state()
}

#[test]
fn create_records_the_validated_spec() {
    vm().given_no_previous_events()
        .when(VmCommand::Create(create("  web ")))
        .then_expect_events(vec![created()]);
}

#[test]
fn create_with_start_also_requests_the_start() {
    let mut input = create("web");
    input.start = true;
    vm().given_no_previous_events()
        .when(VmCommand::Create(input))
        .then_expect_events(vec![created(), VmEvent::VmStartRequested]);
}

#[test]
fn create_refuses_bad_input_naming_the_field() {
    let cases: Vec<(CreateVm, &str, &str)> = vec![
        (create(""), "name", "VM name must not be empty"),
        (
            create(&"n".repeat(65)),
            "name",
            "VM name must be at most 64 characters",
        ),
        (
            CreateVm {
                vcpus: 0,
                ..create("a")
            },
            "vcpus",
            "vcpus must be between 1 and 64, got 0",
        ),
        (
            CreateVm {
                vcpus: 65,
                ..create("a")
            },
            "vcpus",
            "vcpus must be between 1 and 64, got 65",
        ),
        (
            CreateVm {
                memory_mib: 32,
                ..create("a")
            },
            "memoryMib",
            "memoryMib must be between 64 and 262144, got 32",
        ),
        (
            CreateVm {
                disk_gib: 0,
                ..create("a")
            },
            "diskGib",
            "diskGib must be between 1 and 4096, got 0",
        ),
        (
            CreateVm {
                disk_gib: 2,
                ..create("a")
            },
            "diskGib",
            "diskGib must be at least 3, the size of image `test-guest`",
        ),
        (
            CreateVm {
                image: test_image(ImageStatus::Absent),
                ..create("a")
            },
            "image",
            "image `test-guest` is unknown",
        ),
        (
            CreateVm {
                image: test_image(ImageStatus::Importing),
                ..create("a")
            },
            "image",
            "image `test-guest` is still being imported",
        ),
        (
            CreateVm {
                image: test_image(ImageStatus::Retired),
                ..create("a")
            },
            "image",
            "image `test-guest` is retired",
        ),
    ];
    for (input, field, message) in cases {
        vm().given_no_previous_events()
            .when(VmCommand::Create(input))
            .then_expect_error(DomainError::bad_field(field, message));
    }
}

#[test]
fn create_refuses_an_unknown_keyboard_layout_in_its_field() {
    let input = CreateVm {
        keyboard_layout: Some("klingon".to_owned()),
        ..create("a")
    };
    let err = vm()
        .given_no_previous_events()
        .when(VmCommand::Create(input))
        .inspect_result()
        .unwrap_err();
    assert_eq!(err.field, Some("keyboardLayout"));
    assert!(err
        .message
        .starts_with("keyboardLayout `klingon` is not one of"));
}

fn seeded(
    hostname: Option<&str>,
    user: Option<&str>,
    hash: Option<&str>,
    keys: &[&str],
) -> CreateVm {
    CreateVm {
        seed: SeedInput {
            hostname: hostname.map(str::to_owned),
            user: user.map(str::to_owned),
            password_hash: hash.map(str::to_owned),
            ssh_keys: keys.iter().map(|k| k.to_string()).collect(),
        },
        ..create("a")
    }
}

#[test]
fn create_refuses_a_bad_seed_naming_the_field() {
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB alice@laptop";
    let too_many = vec![key; 33];
    let cases = vec![
        (
            seeded(None, Some("root"), Some("$6$x$y"), &[]),
            DomainError::bad_field("user", "user must not be root"),
        ),
        (
            seeded(None, Some("Alice"), Some("$6$x$y"), &[]),
            DomainError::bad_field(
                "user",
                "user must be up to 32 of a-z, 0-9, '_' or '-', starting with a letter or '_'",
            ),
        ),
        (
            seeded(Some("-lead"), None, None, &[]),
            DomainError::bad_field(
                "hostname",
                "hostname must be letters, digits and '-' in dot-separated labels of up to 63",
            ),
        ),
        (
            seeded(None, Some("alice"), None, &["not a key"]),
            DomainError::bad_field(
                "sshKeys",
                "ssh keys must be OpenSSH public key lines (`ssh-ed25519 AAAA… comment`)",
            ),
        ),
        (
            seeded(None, Some("alice"), None, &too_many),
            DomainError::bad_field("sshKeys", "at most 32 SSH keys"),
        ),
        (
            seeded(None, None, None, &[key]),
            DomainError::bad_field("user", "a password or SSH keys need a user name"),
        ),
        // Either a password or a key would do: no single field is at fault.
        (
            seeded(None, Some("alice"), None, &[]),
            DomainError::bad_input("a login user needs a password or at least one SSH public key"),
        ),
    ];
    for (input, error) in cases {
        vm().given_no_previous_events()
            .when(VmCommand::Create(input))
            .then_expect_error(error);
    }
}

#[test]
fn create_twice_is_a_conflict() {
    vm().given(vec![created()])
        .when(VmCommand::Create(create("web")))
        .then_expect_error(DomainError::conflict("a VM with this id already exists"));
}

#[test]
fn commands_on_an_unknown_vm_are_not_found() {
    for command in [
        VmCommand::Start,
        VmCommand::ForceStop,
        VmCommand::Delete { force: false },
        VmCommand::ReportStarted,
    ] {
        vm().given_no_previous_events()
            .when(command)
            .then_expect_error(DomainError::not_found("VM not found"));
    }
}

#[test]
fn commands_on_a_deleted_vm_are_not_found() {
    for command in [
        VmCommand::Start,
        VmCommand::ForceStop,
        VmCommand::Delete { force: false },
    ] {
        vm().given(deleted())
            .when(command)
            .then_expect_error(DomainError::not_found("VM not found"));
    }
    let mut deleting = stopped();
    deleting.push(VmEvent::VmDeleteRequested);
    for command in [
        VmCommand::Start,
        VmCommand::ForceStop,
        VmCommand::Delete { force: false },
    ] {
        vm().given(deleting.clone())
            .when(command)
            .then_expect_error(DomainError::conflict("VM is being deleted"));
    }
}

#[test]
fn start_a_stopped_vm() {
    vm().given(stopped())
        .when(VmCommand::Start)
        .then_expect_events(vec![VmEvent::VmStartRequested]);
    // A pending VM may be started: provisioning then starting is the hypervisor's job.
    vm().given(vec![created()])
        .when(VmCommand::Start)
        .then_expect_events(vec![VmEvent::VmStartRequested]);
}

#[test]
fn start_a_running_or_starting_vm_is_a_conflict() {
    vm().given(running())
        .when(VmCommand::Start)
        .then_expect_error(DomainError::conflict("VM is already running"));
    let mut starting = stopped();
    starting.push(VmEvent::VmStartRequested);
    vm().given(starting)
        .when(VmCommand::Start)
        .then_expect_error(DomainError::conflict("VM is already running"));
}

#[test]
fn force_stop_only_when_running_or_starting() {
    vm().given(running())
        .when(VmCommand::ForceStop)
        .then_expect_events(vec![VmEvent::VmForceStopRequested]);
    vm().given(stopped())
        .when(VmCommand::ForceStop)
        .then_expect_error(DomainError::conflict("VM is not running"));
}

#[test]
fn delete_refused_while_running() {
    vm().given(running())
        .when(VmCommand::Delete { force: false })
        .then_expect_error(DomainError::conflict(
            "VM is running; stop it first or delete it with force",
        ));
    vm().given(stopped())
        .when(VmCommand::Delete { force: false })
        .then_expect_events(vec![VmEvent::VmDeleteRequested]);
}

#[test]
fn hypervisor_reports_are_idempotent() {
    vm().given(running())
        .when(VmCommand::ReportStarted)
        .then_expect_events(vec![]);
    vm().given(stopped())
        .when(VmCommand::ReportProvisioned)
        .then_expect_events(vec![]);
    vm().given(deleted())
        .when(VmCommand::ReportDeleted)
        .then_expect_events(vec![]);
    vm().given(stopped())
        .when(VmCommand::ReportStopped {
            reason: StopReason::Forced,
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_guest_power_off_is_recorded_with_its_reason() {
    vm().given(running())
        .when(VmCommand::ReportStopped {
            reason: StopReason::Guest,
        })
        .then_expect_events(vec![VmEvent::VmStopped {
            reason: StopReason::Guest,
        }]);
}

#[test]
fn a_destroy_is_external_unless_distribox_asked_for_the_stop() {
    vm().given(running())
        .when(VmCommand::ReportStopped {
            reason: StopReason::External,
        })
        .then_expect_events(vec![VmEvent::VmStopped {
            reason: StopReason::External,
        }]);
    let mut stopping = running();
    stopping.push(VmEvent::VmForceStopRequested);
    vm().given(stopping)
        .when(VmCommand::ReportStopped {
            reason: StopReason::External,
        })
        .then_expect_events(vec![VmEvent::VmStopped {
            reason: StopReason::Forced,
        }]);
}

#[test]
fn a_failed_start_is_recorded_and_shown_as_failed() {
    let mut starting = stopped();
    starting.push(VmEvent::VmStartRequested);
    let failure = VmEvent::VmStartFailed {
        reason: "no space".to_owned(),
    };
    vm().given(starting.clone())
        .when(VmCommand::ReportStartFailed {
            reason: "no space".to_owned(),
        })
        .then_expect_events(vec![failure.clone()]);
    starting.push(failure);
    assert_eq!(state_after(starting.clone()), VmState::Failed);
    // A failed VM may be started again.
    vm().given(starting)
        .when(VmCommand::Start)
        .then_expect_events(vec![VmEvent::VmStartRequested]);
}

#[test]
fn public_state_follows_the_lifecycle() {
    assert_eq!(state_after(vec![created()]), VmState::Pending);
    assert_eq!(state_after(stopped()), VmState::Stopped);
    let mut events = stopped();
    events.push(VmEvent::VmStartRequested);
    assert_eq!(state_after(events.clone()), VmState::Starting);
    events.push(VmEvent::VmStarted);
    assert_eq!(state_after(events.clone()), VmState::Running);
    events.push(VmEvent::VmForceStopRequested);
    assert_eq!(state_after(events.clone()), VmState::Stopping);
    events.push(VmEvent::VmStopped {
        reason: StopReason::Forced,
    });
    assert_eq!(state_after(events.clone()), VmState::Stopped);
    events.push(VmEvent::VmDeleteRequested);
    assert_eq!(state_after(events.clone()), VmState::Stopping);
    events.push(VmEvent::VmDeleted);
    assert_eq!(state_after(events), VmState::Deleted);
}

pub(super) fn with(mut events: Vec<VmEvent>, more: &[VmEvent]) -> Vec<VmEvent> {
    events.extend_from_slice(more);
    events
}

#[test]
fn shutdown_asks_the_guest_and_its_power_off_stops_the_vm() {
    vm().given(running())
        .when(VmCommand::Shutdown)
        .then_expect_events(vec![VmEvent::VmShutdownRequested]);
    let shutting = with(running(), &[VmEvent::VmShutdownRequested]);
    assert_eq!(state_after(shutting.clone()), VmState::Stopping);
    vm().given(shutting.clone())
        .when(VmCommand::Shutdown)
        .then_expect_error(DomainError::conflict("VM is shutting down"));
    vm().given(shutting.clone())
        .when(VmCommand::ReportStopped {
            reason: StopReason::Guest,
        })
        .then_expect_events(vec![VmEvent::VmStopped {
            reason: StopReason::Guest,
        }]);
    // Force stop stays available while the guest takes its time.
    vm().given(shutting)
        .when(VmCommand::ForceStop)
        .then_expect_events(vec![VmEvent::VmForceStopRequested]);
    vm().given(stopped())
        .when(VmCommand::Shutdown)
        .then_expect_error(DomainError::conflict("VM is not running"));
}

#[test]
fn a_shutdown_the_guest_ignores_times_out_and_leaves_it_running() {
    let shutting = with(running(), &[VmEvent::VmShutdownRequested]);
    vm().given(shutting.clone())
        .when(VmCommand::ReportShutdownTimedOut { grace_secs: 60 })
        .then_expect_events(vec![VmEvent::VmShutdownTimedOut { grace_secs: 60 }]);
    let mut vm_state = Vm::default();
    for e in with(shutting, &[VmEvent::VmShutdownTimedOut { grace_secs: 60 }]) {
        cqrs_es::Aggregate::apply(&mut vm_state, e);
    }
    assert_eq!(vm_state.state(), VmState::Running);
    assert_eq!(
        vm_state.failure.as_deref(),
        Some("the guest did not shut down within 60 s; force stop it if it must stop")
    );
    // Asking again clears the old failure, and a clean stop leaves none behind.
    let timed_out = with(
        running(),
        &[
            VmEvent::VmShutdownRequested,
            VmEvent::VmShutdownTimedOut { grace_secs: 60 },
        ],
    );
    assert_eq!(
        state_after(with(
            timed_out,
            &[
                VmEvent::VmShutdownRequested,
                VmEvent::VmStopped {
                    reason: StopReason::Guest
                }
            ]
        )),
        VmState::Stopped
    );
    // A late timeout after the guest did stop records nothing.
    vm().given(with(
        running(),
        &[
            VmEvent::VmShutdownRequested,
            VmEvent::VmStopped {
                reason: StopReason::Guest,
            },
        ],
    ))
    .when(VmCommand::ReportShutdownTimedOut { grace_secs: 60 })
    .then_expect_events(vec![]);
}

#[test]
fn reboot_is_recorded_once_until_observed() {
    vm().given(running())
        .when(VmCommand::Reboot)
        .then_expect_events(vec![VmEvent::VmRebootRequested]);
    let rebooting = with(running(), &[VmEvent::VmRebootRequested]);
    vm().given(rebooting.clone())
        .when(VmCommand::Reboot)
        .then_expect_error(DomainError::conflict("VM is rebooting"));
    vm().given(rebooting)
        .when(VmCommand::ReportRebooted)
        .then_expect_events(vec![VmEvent::VmRebooted]);
    vm().given(running())
        .when(VmCommand::ReportRebooted)
        .then_expect_events(vec![]);
    vm().given(stopped())
        .when(VmCommand::Reboot)
        .then_expect_error(DomainError::conflict("VM is not running"));
}

#[test]
fn pause_and_resume() {
    vm().given(running())
        .when(VmCommand::Pause)
        .then_expect_events(vec![VmEvent::VmPauseRequested]);
    let pausing = with(running(), &[VmEvent::VmPauseRequested]);
    assert_eq!(state_after(pausing.clone()), VmState::Running);
    vm().given(pausing.clone())
        .when(VmCommand::ReportPaused)
        .then_expect_events(vec![VmEvent::VmPaused]);
    let paused = with(pausing, &[VmEvent::VmPaused]);
    assert_eq!(state_after(paused.clone()), VmState::Paused);
    for (command, message) in [
        (VmCommand::Pause, "VM is paused; resume it first"),
        (VmCommand::Shutdown, "VM is paused; resume it first"),
        (VmCommand::Reboot, "VM is paused; resume it first"),
        (VmCommand::Start, "VM is paused; resume it instead"),
        (
            VmCommand::Delete { force: false },
            "VM is running; stop it first or delete it with force",
        ),
    ] {
        vm().given(paused.clone())
            .when(command)
            .then_expect_error(DomainError::conflict(message));
    }
    vm().given(paused.clone())
        .when(VmCommand::ForceStop)
        .then_expect_events(vec![VmEvent::VmForceStopRequested]);
    vm().given(with(paused.clone(), &[VmEvent::VmForceStopRequested]))
        .when(VmCommand::Resume)
        .then_expect_error(DomainError::conflict("VM is stopping"));
    vm().given(paused.clone())
        .when(VmCommand::Resume)
        .then_expect_events(vec![VmEvent::VmResumeRequested]);
    let resuming = with(paused, &[VmEvent::VmResumeRequested]);
    vm().given(resuming.clone())
        .when(VmCommand::Resume)
        .then_expect_error(DomainError::conflict("VM is already resuming"));
    vm().given(resuming.clone())
        .when(VmCommand::ReportResumed)
        .then_expect_events(vec![VmEvent::VmResumed]);
    assert_eq!(
        state_after(with(resuming, &[VmEvent::VmResumed])),
        VmState::Running
    );
    vm().given(running())
        .when(VmCommand::Resume)
        .then_expect_error(DomainError::conflict("VM is not paused"));
    vm().given(stopped())
        .when(VmCommand::Pause)
        .then_expect_error(DomainError::conflict("VM is not running"));
}

#[test]
fn rename_validates_and_is_idempotent() {
    vm().given(stopped())
        .when(VmCommand::Rename {
            name: " db & <cache> ".to_owned(),
        })
        .then_expect_events(vec![VmEvent::VmRenamed {
            name: VmName::parse("db & <cache>").unwrap(),
        }]);
    vm().given(running())
        .when(VmCommand::Rename {
            name: "web".to_owned(),
        })
        .then_expect_events(vec![]);
    vm().given(stopped())
        .when(VmCommand::Rename {
            name: " ".to_owned(),
        })
        .then_expect_error(DomainError::bad_field("name", "VM name must not be empty"));
    vm().given(deleted())
        .when(VmCommand::Rename {
            name: "x".to_owned(),
        })
        .then_expect_error(DomainError::not_found("VM not found"));
}
