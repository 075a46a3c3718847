//! The audit log at scale: rebuild its read model from 1,000,000 events (what
//! `distribox projections rebuild audit_log` would do), then verify the whole hash chain.
//!
//!   cargo bench -p distribox-projections --bench audit_rebuild     (BENCH_EVENTS=… to change)
//!
//! The events are VM lifecycle and console events of 10,000 VMs by 1,000 accounts from 250
//! addresses, shaped like the real ones (metadata, console sessions and principals).

use std::sync::Arc;
use std::time::Instant;

use distribox_migrations::test_db::TestDatabase;
use distribox_projections::read_models::audit::{self, AuditLogProjection, Verdict};
use distribox_projections::runner::{Runner, RunnerOptions};

const SEED: &str = r#"
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT 'Vm', md5('vm' || (i / 100))::uuid::text, i % 100 + 1, kind.event_type, '1', kind.payload::json,
       json_build_object('actor', 'account:' || md5('account' || (i % 1000))::uuid,
                         'actor_name', 'user' || (i % 1000),
                         'request_id', md5(i::text),
                         'client_addr', '10.0.' || (i % 250) || '.' || (i % 200),
                         'user_agent', 'bench',
                         'at', now())
  FROM generate_series(0, $1 - 1) AS i
 CROSS JOIN LATERAL (
       SELECT CASE i % 6 WHEN 0 THEN 'VmStartRequested' WHEN 1 THEN 'VmStarted'
                         WHEN 2 THEN 'ConsoleOpened' WHEN 3 THEN 'ConsoleClosed'
                         WHEN 4 THEN 'VmShutdownRequested' ELSE 'VmStopped' END AS event_type,
              CASE i % 6
                WHEN 2 THEN json_build_object('ConsoleOpened', json_build_object(
                         'session', md5('session' || (i / 6))::uuid,
                         'principal', 'account:' || md5('account' || (i % 1000))::uuid,
                         'kind', 'SERIAL', 'view_only', false))::text
                WHEN 3 THEN json_build_object('ConsoleClosed', json_build_object(
                         'session', md5('session' || (i / 6))::uuid,
                         'bytes_in', i % 4096, 'bytes_out', i % 65536,
                         'reason', 'closed by the viewer'))::text
                WHEN 5 THEN '{"VmStopped":{"reason":"Requested"}}'
                ELSE to_json(CASE i % 6 WHEN 0 THEN 'VmStartRequested' WHEN 1 THEN 'VmStarted'
                                           ELSE 'VmShutdownRequested' END)::text
              END AS payload) AS kind"#;

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
    println!("\naudit_log with its indexes: {} MiB", size >> 20);

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
