//! Usage reports from a given event history, against a real PostgreSQL: VMs running across
//! the period's boundaries, a pause, a resize, a deletion, console sessions still open at the
//! end, samples folded into hours, and reports "as of" a moment inside the period. Every
//! number below is worked out by hand from the history.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use distribox_domain::account::{AccountEvent, Username};
use distribox_domain::console::ConsoleKind;
use distribox_domain::policy::PolicySet;
use distribox_domain::vm::{StopReason, VmEvent, VmSpec};
use distribox_migrations::test_db::TestDatabase;
use distribox_projections::read_models::UsageProjection;
use distribox_projections::runner::{Runner, RunnerOptions};
use distribox_projections::usage::{report, GroupBy, UsageRow};
use sqlx::PgPool;
use uuid::Uuid;

/// 2026-01-01T00:00:00Z: the history's day.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

/// `t0` plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

/// Appends events with the commit times the history gives them.
struct History {
    pool: PgPool,
    sequences: HashMap<String, i64>,
}

impl History {
    async fn append(
        &mut self,
        aggregate: &str,
        id: Uuid,
        payload: serde_json::Value,
        when: DateTime<Utc>,
    ) {
        let sequence = self.sequences.entry(id.to_string()).or_insert(0);
        *sequence += 1;
        let event_type = payload
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .or_else(|| payload.as_str().map(str::to_owned))
            .unwrap();
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, metadata, recorded_at)
             VALUES ($1, $2, $3, $4, '1', $5, '{}', $6)",
        )
        .bind(aggregate)
        .bind(id.to_string())
        .bind(*sequence)
        .bind(event_type)
        .bind(payload)
        .bind(when)
        .execute(&self.pool)
        .await
        .unwrap();
    }

    async fn vm(&mut self, id: Uuid, event: VmEvent, minutes: i64) {
        let payload = serde_json::to_value(&event).unwrap();
        self.append("Vm", id, payload, at(minutes)).await;
    }

    async fn account(&mut self, id: Uuid, username: &str) {
        let event = AccountEvent::AccountCreated {
            username: Username::parse(username).unwrap(),
            password_hash: "not-a-hash".to_owned(),
            policies: PolicySet::default(),
        };
        let payload = serde_json::to_value(&event).unwrap();
        self.append("Account", id, payload, at(-24 * 60)).await;
    }

    async fn create(&mut self, id: Uuid, name: &str, owner: Uuid, vcpus: u32, memory_mib: u64) {
        let event = VmEvent::VmCreated {
            spec: VmSpec::new(name, vcpus, memory_mib, 4).unwrap(),
            image: "test-guest".to_owned(),
            owner: owner.to_string(),
            seed: None,
        };
        self.vm(id, event, -60).await;
    }

    async fn console(&mut self, vm: Uuid, session: Uuid, principal: &str, opened: i64) {
        let event = VmEvent::ConsoleOpened {
            session,
            principal: principal.to_owned(),
            kind: ConsoleKind::Serial,
            view_only: false,
        };
        self.vm(vm, event, opened).await;
    }

    async fn console_closed(&mut self, vm: Uuid, session: Uuid, closed: i64) {
        let event = VmEvent::ConsoleClosed {
            session,
            bytes_in: 10,
            bytes_out: 20,
            duration_ms: 0,
            reason: "viewer left".to_owned(),
        };
        self.vm(vm, event, closed).await;
    }
}

fn stopped() -> VmEvent {
    VmEvent::VmStopped {
        reason: StopReason::Guest,
    }
}

async fn project(pool: &PgPool) {
    Runner::new(
        pool.clone(),
        Arc::new(UsageProjection),
        RunnerOptions::default(),
    )
    .catch_up()
    .await
    .unwrap();
}

/// A sample row as the sampler (raw) or the folding (hour) writes it.
async fn sample(
    pool: &PgPool,
    vm: Uuid,
    resolution: &str,
    when: DateTime<Utc>,
    cpu: f64,
    memory_kib: i64,
    samples: i32,
) {
    sqlx::query(
        "INSERT INTO usage_samples (vm_id, resolution, at, span_seconds, samples, cpu_seconds,
                                    memory_avg_kib, memory_peak_kib, disk_read_bytes,
                                    disk_write_bytes, net_rx_bytes, net_tx_bytes)
         VALUES ($1, $2, $3, 15, $4, $5, $6, $6, 100, 200, 300, 400)",
    )
    .bind(vm)
    .bind(resolution)
    .bind(when)
    .bind(samples)
    .bind(cpu)
    .bind(memory_kib)
    .execute(pool)
    .await
    .unwrap();
}

fn row<'a>(rows: &'a [UsageRow], label: &str) -> &'a UsageRow {
    rows.iter()
        .find(|row| row.label == label)
        .unwrap_or_else(|| panic!("no row `{label}` in {rows:#?}"))
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-9
}

#[tokio::test]
async fn reports_clip_runs_and_sessions_to_the_period_and_never_change_afterwards() {
    let db = TestDatabase::new().await;
    let pool = db.pool.clone();
    let mut history = History {
        pool: pool.clone(),
        sequences: HashMap::new(),
    };
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (web, lab, old) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let credential = Uuid::new_v4();
    let (s1, s2, s3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    history.account(alice, "alice").await;
    history.account(bob, "bob").await;
    history.create(web, "web", alice, 2, 2048).await;
    history.create(lab, "lab", bob, 1, 1024).await;
    history.create(old, "old", alice, 8, 8192).await;

    // The period is 01:00–03:00.
    // `old` ran only before it.
    history.vm(old, VmEvent::VmStarted, 0).await;
    history.vm(old, stopped(), 30).await;
    // `web` runs 00:30–01:30 (half an hour inside), then from 02:00 on, paused 02:30–02:40.
    history.vm(web, VmEvent::VmStarted, 30).await;
    history
        .console(web, s1, &format!("account:{alice}"), 50)
        .await;
    history.console_closed(web, s1, 70).await;
    history.vm(web, stopped(), 90).await;
    // `lab` is resized while stopped: it runs with 2 vCPUs and 512 MiB from 02:30 on.
    history
        .vm(
            lab,
            VmEvent::VmResized {
                vcpus: 2,
                memory_mib: 512,
                disk_gib: 4,
            },
            100,
        )
        .await;
    history.vm(web, VmEvent::VmStarted, 120).await;
    history
        .console(web, s3, &format!("account:{bob}"), 130)
        .await;
    history.console_closed(web, s3, 140).await;
    history.vm(web, VmEvent::VmPaused, 150).await;
    history.vm(lab, VmEvent::VmStarted, 150).await;
    history.vm(web, VmEvent::VmResumed, 160).await;
    history
        .vm(
            lab,
            VmEvent::VmCredentialIssued {
                id: credential,
                name: "class".to_owned(),
                secret_hash: "x".to_owned(),
                issued_at: at(160),
                expires_at: None,
            },
            160,
        )
        .await;
    // Opened with the credential at 02:45 and still open when the period ends.
    history
        .console(lab, s2, &format!("credential:{credential}"), 165)
        .await;
    project(&pool).await;

    // `web`'s samples: one raw sample ending exactly at 01:00 (it covers time before the
    // period), one just after, one folded hour starting at 02:00, one folded hour after the
    // period, and a raw one at its very end.
    sample(&pool, web, "raw", at(60), 1000.0, 1, 1).await;
    sample(
        &pool,
        web,
        "raw",
        at(60) + Duration::seconds(15),
        3.0,
        1000,
        1,
    )
    .await;
    sample(&pool, web, "hour", at(120), 100.0, 2000, 240).await;
    sample(&pool, web, "hour", at(180), 1000.0, 1, 240).await;
    sample(&pool, web, "raw", at(180), 5.0, 3000, 1).await;

    let (from, to) = (at(60), at(180));
    let by_vm = report(&pool, from, to, GroupBy::Vm).await.unwrap();
    assert_eq!(
        by_vm.len(),
        2,
        "`old` used nothing in the period: {by_vm:#?}"
    );
    let w = row(&by_vm, "web");
    assert!(close(w.running_hours, 1.5), "{w:?}");
    assert!(close(w.vcpu_hours, 3.0), "{w:?}");
    assert!(close(w.memory_gib_hours, 3.0), "{w:?}");
    assert!(close(w.cpu_seconds, 108.0), "{w:?}");
    let average_kib = (1000.0 + 2000.0 * 240.0 + 3000.0) / 242.0;
    assert!(
        close(w.memory_avg_mib.unwrap(), average_kib / 1024.0),
        "{w:?}"
    );
    assert!(close(w.memory_peak_mib.unwrap(), 3000.0 / 1024.0), "{w:?}");
    assert_eq!(
        (
            w.disk_read_bytes,
            w.disk_write_bytes,
            w.net_rx_bytes,
            w.net_tx_bytes
        ),
        (300, 600, 900, 1200)
    );
    assert_eq!(w.console_sessions, 2);
    assert!(close(w.console_minutes, 20.0), "{w:?}");
    let l = row(&by_vm, "lab");
    assert!(close(l.running_hours, 0.5), "{l:?}");
    assert!(close(l.vcpu_hours, 1.0), "{l:?}");
    assert!(close(l.memory_gib_hours, 0.25), "{l:?}");
    assert_eq!(l.memory_avg_mib, None, "no samples, no memory");
    assert_eq!(l.console_sessions, 1);
    assert!(
        close(l.console_minutes, 15.0),
        "still open at the end: {l:?}"
    );
    assert_eq!(l.key, lab.to_string());

    let by_account = report(&pool, from, to, GroupBy::Account).await.unwrap();
    let a = row(&by_account, "alice");
    assert!(
        close(a.running_hours, 1.5) && close(a.cpu_seconds, 108.0),
        "{a:?}"
    );
    assert_eq!(a.console_sessions, 1);
    assert!(close(a.console_minutes, 10.0), "{a:?}");
    let b = row(&by_account, "bob");
    assert!(
        close(b.running_hours, 0.5) && close(b.vcpu_hours, 1.0),
        "{b:?}"
    );
    assert_eq!(
        b.console_sessions, 1,
        "bob's console on alice's VM is bob's"
    );
    assert!(close(b.console_minutes, 10.0), "{b:?}");
    assert_eq!(by_account.len(), 2);

    let by_credential = report(&pool, from, to, GroupBy::Credential).await.unwrap();
    assert_eq!(by_credential.len(), 1, "{by_credential:#?}");
    let c = row(&by_credential, "class (lab)");
    assert_eq!(c.key, credential.to_string());
    assert_eq!(c.console_sessions, 1);
    assert!(
        close(c.console_minutes, 15.0) && close(c.running_hours, 0.0),
        "{c:?}"
    );

    // As of 02:15: `lab` had not started, bob's session is cut at 02:15, and only samples up
    // to then count (a folded hour counts whole once it has begun).
    let as_of = report(&pool, from, at(135), GroupBy::Vm).await.unwrap();
    assert_eq!(as_of.len(), 1, "{as_of:#?}");
    let w = row(&as_of, "web");
    assert!(close(w.running_hours, 0.75), "{w:?}");
    assert!(close(w.cpu_seconds, 103.0), "{w:?}");
    assert_eq!(w.console_sessions, 2);
    assert!(close(w.console_minutes, 15.0), "{w:?}");

    // The log goes on: `web` stops at 04:00, `lab`'s console closes, `old` runs and is
    // deleted while running. The report of the past period is unchanged.
    history.vm(web, stopped(), 240).await;
    history.console_closed(lab, s2, 250).await;
    history.vm(old, VmEvent::VmStarted, 300).await;
    history.vm(old, VmEvent::VmDeleted, 360).await;
    project(&pool).await;
    assert_eq!(report(&pool, from, to, GroupBy::Vm).await.unwrap(), by_vm);
    assert_eq!(
        report(&pool, from, at(135), GroupBy::Vm).await.unwrap(),
        as_of
    );

    // The deleted VM keeps its name and its hour of running, and its run is closed.
    let later = report(&pool, at(240), at(24 * 60), GroupBy::Vm)
        .await
        .unwrap();
    let o = row(&later, "old");
    assert!(
        close(o.running_hours, 1.0) && close(o.vcpu_hours, 8.0),
        "{o:?}"
    );
    // `lab` still runs: the day's report counts it to the period's end.
    let l = row(&later, "lab");
    assert!(close(l.running_hours, 20.0), "{l:?}");
    let totals = UsageRow::total(&later);
    assert!(close(totals.running_hours, 21.0), "{totals:?}");
    assert_eq!(totals.memory_avg_mib, None);
}

#[tokio::test]
async fn a_stop_ends_consoles_whose_close_was_never_recorded() {
    let db = TestDatabase::new().await;
    let mut history = History {
        pool: db.pool.clone(),
        sequences: HashMap::new(),
    };
    let (owner, vm, session) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    history.account(owner, "carol").await;
    history.create(vm, "box", owner, 1, 256).await;
    history.vm(vm, VmEvent::VmStarted, 0).await;
    history
        .console(vm, session, &format!("account:{owner}"), 10)
        .await;
    // The server went away with the console open; the VM later stops.
    history.vm(vm, stopped(), 40).await;
    // It runs again from 00:50; a second start while it runs opens no second run.
    history.vm(vm, VmEvent::VmStarted, 50).await;
    history.vm(vm, VmEvent::VmStartedOutside, 60).await;
    project(&db.pool).await;
    let rows = report(&db.pool, at(0), at(120), GroupBy::Vm).await.unwrap();
    let r = row(&rows, "box");
    assert!(close(r.console_minutes, 30.0), "{r:?}");
    assert!(close(r.running_hours, 40.0 / 60.0 + 70.0 / 60.0), "{r:?}");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM usage_vm_runs WHERE vm_id = $1")
        .bind(vm)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(runs, 2);
}

#[tokio::test]
async fn folding_keeps_sums_weighted_averages_and_peaks() {
    let db = TestDatabase::new().await;
    let vm = Uuid::new_v4();
    // 00:59:50, 01:00:10 and 01:20 raw; 03:00 stays raw (after the cutoff's hour).
    sample(
        &db.pool,
        vm,
        "raw",
        at(60) - Duration::seconds(10),
        1.0,
        100,
        1,
    )
    .await;
    sample(
        &db.pool,
        vm,
        "raw",
        at(60) + Duration::seconds(10),
        2.0,
        200,
        1,
    )
    .await;
    sample(&db.pool, vm, "raw", at(80), 4.0, 600, 1).await;
    sample(&db.pool, vm, "raw", at(180), 8.0, 800, 1).await;
    let before = report_sums(&db.pool, vm).await;
    distribox_projections::usage::sampler::fold(&db.pool, at(170))
        .await
        .unwrap();
    let rows: Vec<SampleRow> = sqlx::query_as(
        "SELECT resolution, at, samples, cpu_seconds, memory_avg_kib, memory_peak_kib, disk_read_bytes
           FROM usage_samples WHERE vm_id = $1 ORDER BY at, resolution",
    )
    .bind(vm)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("hour".to_owned(), at(0), 1, 1.0, 100, 100, 100),
            ("hour".to_owned(), at(60), 2, 6.0, 400, 600, 200),
            ("raw".to_owned(), at(180), 1, 8.0, 800, 800, 100),
        ]
    );
    // A late raw row of an hour already folded merges into it.
    sample(&db.pool, vm, "raw", at(90), 3.0, 1000, 1).await;
    distribox_projections::usage::sampler::fold(&db.pool, at(170))
        .await
        .unwrap();
    let merged: (i32, f64, i64, i64) = sqlx::query_as(
        "SELECT samples, cpu_seconds, memory_avg_kib, memory_peak_kib FROM usage_samples
          WHERE vm_id = $1 AND resolution = 'hour' AND at = $2",
    )
    .bind(vm)
    .bind(at(60))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(merged, (3, 9.0, 600, 1000));
    let after = report_sums(&db.pool, vm).await;
    assert_eq!(
        after,
        (before.0 + 3.0, before.1 + 100),
        "folding loses nothing"
    );
}

/// resolution, at, samples, cpu, memory average and peak, disk read.
type SampleRow = (String, DateTime<Utc>, i32, f64, i64, i64, i64);

/// Total CPU seconds and disk bytes of a VM over all its rows.
async fn report_sums(pool: &PgPool, vm: Uuid) -> (f64, i64) {
    sqlx::query_as(
        "SELECT sum(cpu_seconds), sum(disk_read_bytes)::bigint FROM usage_samples WHERE vm_id = $1",
    )
    .bind(vm)
    .fetch_one(pool)
    .await
    .unwrap()
}
