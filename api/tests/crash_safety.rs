//! Crash safety of the projections: commands committed while no projection runs are applied
//! once the runners start — read models and the real hypervisor end in the right state — and
//! replaying from a lost checkpoint changes nothing.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use distribox_api::wiring::BusReporter;
use distribox_commands::{Actor, CommandBus, CreateVmInput, RequestContext, SessionLifetimes};
use distribox_domain::policy::{Policy, PolicySet};
use distribox_domain::vm::VmCommand;
use distribox_migrations::test_db::TestDatabase;
use distribox_projections::hypervisor::{
    DomainType, Hypervisor, HypervisorProjector, LibvirtHypervisor, Reconciler,
};
use distribox_projections::images::ImageFiles;
use distribox_projections::read_models::{AccountsProjection, VmsProjection};
use distribox_projections::runner::{EventSignal, Runner, RunnerOptions};
use sqlx::PgPool;
use uuid::Uuid;

fn admin() -> RequestContext {
    RequestContext {
        session: None,
        authenticated_at: std::time::Instant::now(),
        actor: Actor::Account {
            id: Uuid::new_v4(),
            username: "tester".to_owned(),
            policies: [Policy::DistriboxAdmin].into_iter().collect::<PolicySet>(),
            scoped: Default::default(),
        },
        request_id: "crash-test".to_owned(),
        client_addr: None,
        user_agent: None,
    }
}

fn create(name: &str, start: bool) -> CreateVmInput {
    CreateVmInput {
        name: name.to_owned(),
        image: "test-guest".to_owned(),
        vcpus: 1,
        memory_mib: 256,
        disk_gib: 1,
        keyboard_layout: None,
        autostart: false,
        start,
        hostname: None,
        user: None,
        password: None,
        ssh_keys: vec![],
    }
}

async fn history(pool: &PgPool, id: Uuid) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence")
        .bind(id.to_string())
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn read_state(pool: &PgPool, id: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT state FROM vms WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn commands_committed_while_projections_are_down_are_applied_once_after_restart() {
    let db = TestDatabase::new().await;
    let data_dir = support::test_data_dir();
    let images = ImageFiles::new(db.pool.clone(), data_dir.join("images"));
    let bus = Arc::new(CommandBus::new(
        db.pool.clone(),
        SessionLifetimes::default(),
    ));
    support::register_test_image(&bus).await;
    let hypervisor =
        LibvirtHypervisor::new("qemu:///system", DomainType::Qemu, data_dir.join("vms"));
    let ctx = admin();

    // Projections are down: commit an account and a history for three VMs.
    bus.ensure_admin(Some("a password".to_owned()))
        .await
        .unwrap();
    let (running, _) = bus
        .create_vm(&ctx, create("wants to run", true))
        .await
        .unwrap();
    let (gone, _) = bus
        .create_vm(&ctx, create("changed its mind", false))
        .await
        .unwrap();
    bus.vm_command(&ctx, gone, VmCommand::Start).await.unwrap();
    bus.vm_command(&ctx, gone, VmCommand::ForceStop)
        .await
        .unwrap();
    bus.vm_command(&ctx, gone, VmCommand::Delete { force: false })
        .await
        .unwrap();
    let (idle, _) = bus
        .create_vm(&ctx, create("stays off", false))
        .await
        .unwrap();
    assert_eq!(
        read_state(&db.pool, running).await,
        None,
        "nothing is projected yet"
    );

    // Start the projections.
    let options = RunnerOptions {
        batch_size: 3,
        poll_interval: Duration::from_millis(200),
    };
    let vms_projection = Arc::new(VmsProjection::new());
    let projector = || {
        Arc::new(HypervisorProjector::new(
            hypervisor.clone(),
            BusReporter(bus.clone()),
            images.clone(),
            Duration::from_secs(120),
        ))
    };
    let signal = EventSignal::listen(&db.pool).await.unwrap();
    let tasks = [
        tokio::spawn(
            Runner::new(db.pool.clone(), Arc::new(AccountsProjection), options).run(signal.clone()),
        ),
        tokio::spawn(
            Runner::new(db.pool.clone(), vms_projection.clone(), options).run(signal.clone()),
        ),
        tokio::spawn(Runner::new(db.pool.clone(), projector(), options).run(signal)),
    ];

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let states = (
            read_state(&db.pool, running).await,
            read_state(&db.pool, gone).await,
            read_state(&db.pool, idle).await,
            history(&db.pool, gone).await.last().cloned(),
        );
        if states
            == (
                Some("RUNNING".into()),
                None,
                Some("STOPPED".into()),
                Some("VmDeleted".into()),
            )
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "projections did not converge: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for task in &tasks {
        task.abort();
    }

    // libvirt matches the log, and each VM's history holds each outcome once. The VM that was
    // deleted before the hypervisor ever saw it was never provisioned or started.
    assert!(hypervisor.is_running(running).await.unwrap());
    assert!(!hypervisor.domain_exists(gone).await.unwrap());
    assert!(!data_dir.join("vms").join(gone.to_string()).exists());
    assert!(hypervisor.domain_exists(idle).await.unwrap());
    assert!(!hypervisor.is_running(idle).await.unwrap());
    assert_eq!(
        history(&db.pool, running).await,
        [
            "VmCreated",
            "VmStartRequested",
            "VmProvisioned",
            "VmStarted"
        ]
    );
    assert_eq!(
        history(&db.pool, gone).await,
        [
            "VmCreated",
            "VmStartRequested",
            "VmForceStopRequested",
            "VmDeleteRequested",
            "VmDeleted"
        ]
    );
    assert_eq!(
        history(&db.pool, idle).await,
        ["VmCreated", "VmProvisioned"]
    );

    // A crash that lost every checkpoint: replaying the whole log changes nothing anywhere.
    let before = event_count(&db.pool).await;
    sqlx::query("UPDATE projection_checkpoints SET last_tx_id = '0', last_position = 0")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM vms")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM accounts")
        .execute(&db.pool)
        .await
        .unwrap();
    Runner::new(db.pool.clone(), projector(), options)
        .catch_up()
        .await
        .unwrap();
    Runner::new(db.pool.clone(), Arc::new(VmsProjection::new()), options)
        .catch_up()
        .await
        .unwrap();
    Runner::new(db.pool.clone(), Arc::new(AccountsProjection), options)
        .catch_up()
        .await
        .unwrap();
    let accounts: Vec<String> = sqlx::query_scalar("SELECT username FROM accounts")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        accounts,
        ["admin"],
        "the accounts read model is rebuilt exactly once"
    );
    assert_eq!(
        event_count(&db.pool).await,
        before,
        "a replay must not report anything again"
    );
    assert_eq!(
        read_state(&db.pool, running).await.as_deref(),
        Some("RUNNING")
    );
    assert_eq!(read_state(&db.pool, idle).await.as_deref(), Some("STOPPED"));
    assert_eq!(read_state(&db.pool, gone).await, None);
    assert!(hypervisor.is_running(running).await.unwrap());

    for id in [running, idle] {
        hypervisor.remove(id).await.unwrap();
    }
}

/// The shutdown grace timer lives in memory; a crash during the grace period loses it. The
/// reconciler finds the overdue shutdown from the log and records the timeout.
#[tokio::test]
async fn a_shutdown_timeout_lost_in_a_crash_is_recorded_by_the_reconciler() {
    let db = TestDatabase::new().await;
    let data_dir = support::test_data_dir();
    let images = ImageFiles::new(db.pool.clone(), data_dir.join("images"));
    let bus = Arc::new(CommandBus::new(
        db.pool.clone(),
        SessionLifetimes::default(),
    ));
    support::register_test_image(&bus).await;
    // A VM the log says is running, with a shutdown requested ten minutes ago that no timer
    // reported (its domain is on no hypervisor: the reconciler cannot repair that, and says so
    // in the log, but looks at the shutdown all the same).
    let (id, _) = bus
        .create_vm(&admin(), create("ignores ACPI", true))
        .await
        .unwrap();
    let system = RequestContext::system();
    for report in [VmCommand::ReportProvisioned, VmCommand::ReportStarted] {
        bus.vm_command(&system, id, report).await.unwrap();
    }
    bus.vm_command(&admin(), id, VmCommand::Shutdown)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE events SET recorded_at = now() - interval '10 minutes'
          WHERE event_type = 'VmShutdownRequested'",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let signal = EventSignal::listen(&db.pool).await.unwrap();
    let vms = tokio::spawn(
        Runner::new(
            db.pool.clone(),
            Arc::new(VmsProjection::new()),
            RunnerOptions::default(),
        )
        .run(signal),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_state(&db.pool, id).await.as_deref() != Some("STOPPING") {
        assert!(Instant::now() < deadline, "the read model never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hypervisor =
        LibvirtHypervisor::new("test:///default", DomainType::Qemu, data_dir.join("vms"));
    let reconciler = Reconciler::new(
        db.pool.clone(),
        hypervisor,
        BusReporter(bus.clone()),
        images,
        Duration::from_secs(120),
    );
    let done = reconciler.pass().await.unwrap();
    vms.abort();
    assert_eq!(done.shutdowns_overdue, [id]);
    let events = history(&db.pool, id).await;
    assert!(
        events.contains(&"VmShutdownTimedOut".to_owned()),
        "{events:?}"
    );
}
