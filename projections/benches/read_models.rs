//! The audit and usage read models at scale: rebuild each from 1,000,000 events (what
//! `distribox projections rebuild` does), verify the audit log's whole hash chain, and time
//! `auditLog` pages and usage reports at that size.
//!
//!   cargo bench -p distribox-projections --bench read_models     (BENCH_EVENTS=… to change)
//!
//! The events are VM lifecycle and console events of 10,000 VMs by 1,000 accounts from 250
//! addresses, shaped like the real ones (metadata, console sessions and principals), one second
//! apart (eleven and a half days), plus 100 samples per VM.

use std::sync::Arc;
use std::time::Instant;

use distribox_migrations::test_db::TestDatabase;
use distribox_projections::read_models::audit::{self, AuditLogProjection, Verdict};
use distribox_projections::read_models::audit_query::{self, AuditFilter};
use distribox_projections::read_models::UsageProjection;
use distribox_projections::runner::{Runner, RunnerOptions};
use distribox_projections::usage::{self, GroupBy};

const SEED: &str = r#"
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata,
                    recorded_at)
SELECT 'Vm', md5('vm' || (i / 100))::uuid::text, i % 100 + 1, kind.event_type, '1', kind.payload::json,
       json_build_object('actor', 'account:' || md5('account' || (i % 1000))::uuid,
                         'actor_name', 'user' || (i % 1000),
                         'request_id', md5(i::text),
                         'client_addr', '10.0.' || (i % 250) || '.' || (i % 200),
                         'user_agent', 'bench',
                         'at', now()),
       now() - make_interval(secs => $1 - i)
  FROM generate_series(0, $1 - 1) AS i
 CROSS JOIN LATERAL (
       SELECT CASE WHEN i % 100 = 0 THEN 'VmCreated'
                   ELSE CASE i % 6 WHEN 0 THEN 'VmStartRequested' WHEN 1 THEN 'VmStarted'
                                   WHEN 2 THEN 'ConsoleOpened' WHEN 3 THEN 'ConsoleClosed'
                                   WHEN 4 THEN 'VmShutdownRequested' ELSE 'VmStopped' END
              END AS event_type,
              CASE WHEN i % 100 = 0 THEN json_build_object('VmCreated', json_build_object(
                         'spec', json_build_object('name', 'bench-' || (i / 100), 'vcpus', 2,
                                                   'memory_mib', 2048, 'disk_gib', 10),
                         'image', 'test-guest',
                         'owner', md5('account' || (i / 100 % 1000))::uuid))::text
                   ELSE CASE i % 6
                     WHEN 2 THEN json_build_object('ConsoleOpened', json_build_object(
                              'session', md5('session' || (i / 6))::uuid,
                              'principal', 'account:' || md5('account' || (i % 1000))::uuid,
                              'kind', 'SERIAL', 'view_only', false))::text
                     WHEN 3 THEN json_build_object('ConsoleClosed', json_build_object(
                              'session', md5('session' || (i / 6))::uuid,
                              'bytes_in', i % 4096, 'bytes_out', i % 65536, 'duration_ms', 1000,
                              'reason', 'closed by the viewer'))::text
                     WHEN 5 THEN '{"VmStopped":{"reason":"guest"}}'
                     ELSE to_json(CASE i % 6 WHEN 0 THEN 'VmStartRequested' WHEN 1 THEN 'VmStarted'
                                                ELSE 'VmShutdownRequested' END)::text
                   END
              END AS payload) AS kind"#;

/// 100 raw samples for each of the seed's VMs, spread over the same days.
const SEED_SAMPLES: &str = r#"
INSERT INTO usage_samples (vm_id, resolution, at, span_seconds, samples, cpu_seconds,
                           memory_avg_kib, memory_peak_kib, disk_read_bytes, disk_write_bytes,
                           net_rx_bytes, net_tx_bytes)
SELECT md5('vm' || v)::uuid, 'raw', now() - make_interval(secs => s * 10000 + v), 15, 1,
       (v % 15)::float8, 200000 + v, 250000 + v, v * 10, v * 20, v * 30, v * 40
  FROM generate_series(0, $1 / 100 - 1) AS v, generate_series(0, 99) AS s"#;

const PAGE_SAMPLES: usize = 100;
const REPORT_SAMPLES: usize = 20;

/// The UUID the seed derives from `text` (`md5(text)::uuid`).
async fn uuid_of(pool: &sqlx::PgPool, text: &str) -> String {
    sqlx::query_scalar("SELECT md5($1)::uuid::text")
        .bind(text)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// p50 and p99 of `samples`.
fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

fn rate(count: i64, seconds: f64) -> String {
    format!("{:.0}", count as f64 / seconds)
}

#[tokio::main]
async fn main() {
    let events: i64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let db = TestDatabase::new().await;

    let started = Instant::now();
    sqlx::query(SEED)
        .bind(events)
        .execute(&db.pool)
        .await
        .expect("seed events");
    let seeded = started.elapsed().as_secs_f64();

    let runner = Runner::new(
        db.pool.clone(),
        Arc::new(AuditLogProjection::new()),
        RunnerOptions::default(),
    );
    let started = Instant::now();
    runner.catch_up().await.expect("rebuild");
    let rebuilt = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let verdict = audit::verify(&db.pool).await.expect("verify");
    let verified = started.elapsed().as_secs_f64();
    assert_eq!(verdict, Verdict::Intact { entries: events });

    let runner = Runner::new(
        db.pool.clone(),
        Arc::new(UsageProjection),
        RunnerOptions::default(),
    );
    let started = Instant::now();
    runner.catch_up().await.expect("rebuild usage");
    let usage_rebuilt = started.elapsed().as_secs_f64();
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM usage_vm_runs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    sqlx::query(SEED_SAMPLES)
        .bind(events)
        .execute(&db.pool)
        .await
        .expect("seed samples");
    sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();

    // Usage reports at this size: the whole seed's days, and the last day.
    let now = chrono::Utc::now();
    let mut reports = Vec::new();
    for (span, days) in [("30 days", 30), ("1 day", 1)] {
        for (group_name, group) in [
            ("VM", GroupBy::Vm),
            ("account", GroupBy::Account),
            ("credential", GroupBy::Credential),
        ] {
            let mut timings = Vec::new();
            let mut rows = 0;
            for _ in 0..REPORT_SAMPLES {
                let started = Instant::now();
                rows = usage::report(&db.pool, now - chrono::Duration::days(days), now, group)
                    .await
                    .unwrap()
                    .len();
                timings.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            reports.push((span, group_name, rows, percentiles(&mut timings)));
        }
    }

    // auditLog's pages at this size: 50 entries, newest first, and the page after them.
    let actor = "account:".to_owned() + &uuid_of(&db.pool, "account7").await;
    let recent = chrono::Utc::now() - chrono::Duration::minutes(10);
    let filters: Vec<(&str, AuditFilter)> = vec![
        ("none", AuditFilter::default()),
        (
            "one VM",
            AuditFilter {
                vm_id: Some(uuid_of(&db.pool, "vm4242").await.parse().unwrap()),
                ..Default::default()
            },
        ),
        (
            "one actor",
            AuditFilter {
                actor: Some(actor.clone()),
                ..Default::default()
            },
        ),
        (
            "one action",
            AuditFilter {
                action: Some("ConsoleOpened".to_owned()),
                ..Default::default()
            },
        ),
        (
            "refused (none exist)",
            AuditFilter {
                outcome: Some("refused".to_owned()),
                ..Default::default()
            },
        ),
        (
            "actor + action",
            AuditFilter {
                actor: Some(actor),
                action: Some("VmStarted".to_owned()),
                ..Default::default()
            },
        ),
        (
            "one VM + action",
            AuditFilter {
                vm_id: Some(uuid_of(&db.pool, "vm4242").await.parse().unwrap()),
                action: Some("ConsoleOpened".to_owned()),
                ..Default::default()
            },
        ),
        (
            "time range",
            AuditFilter {
                from: Some(recent),
                ..Default::default()
            },
        ),
    ];
    let mut pages = Vec::new();
    for (name, filter) in &filters {
        let mut first_page = Vec::new();
        let mut next_page = Vec::new();
        for _ in 0..PAGE_SAMPLES {
            let started = Instant::now();
            let (rows, _) = audit_query::page(&db.pool, filter, None, 50).await.unwrap();
            first_page.push(started.elapsed().as_secs_f64() * 1000.0);
            let before = rows.last().map(|r| r.chain_index);
            let started = Instant::now();
            audit_query::page(&db.pool, filter, before, 50)
                .await
                .unwrap();
            next_page.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        pages.push((
            name.to_owned(),
            percentiles(&mut first_page),
            percentiles(&mut next_page),
        ));
    }

    let size: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('audit_log')")
        .fetch_one(&db.pool)
        .await
        .unwrap();

    println!("\n| {events} events | seconds | events per second |\n|---|---|---|");
    println!(
        "| seed (one INSERT … SELECT) | {seeded:.1} | {} |",
        rate(events, seeded)
    );
    println!(
        "| rebuild audit_log (batches of 500, one transaction each) | {rebuilt:.1} | {} |",
        rate(events, rebuilt)
    );
    println!(
        "| verify the whole chain | {verified:.1} | {} |",
        rate(events, verified)
    );
    println!(
        "| rebuild usage ({runs} runs) | {usage_rebuilt:.1} | {} |",
        rate(events, usage_rebuilt)
    );
    println!("\naudit_log with its indexes: {} MiB", size >> 20);
    println!("\n| auditLog page of 50 at {events} entries, filter | first page p50 / p99 (ms) | next page p50 / p99 (ms) |\n|---|---|---|");
    for (name, (p50, p99), (n50, n99)) in pages {
        println!("| {name} | {p50:.2} / {p99:.2} | {n50:.2} / {n99:.2} |");
    }

    println!("\n| usageReport at {events} events and {} samples | rows | p50 / p99 (ms) |\n|---|---|---|", events);
    for (span, group, rows, (p50, p99)) in reports {
        println!("| {span}, by {group} | {rows} | {p50:.1} / {p99:.1} |");
    }

    // A million events is a gigabyte: don't leave it for scripts/test's cleanup.
    db.pool.close().await;
    let server = std::env::var("DISTRIBOX_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    let admin = sqlx::PgPool::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", db.name))
        .execute(&admin)
        .await
        .unwrap();
}
