//! Target: projection lag p99 < 50 ms under a steady command load; and what the usage
//! sampler costs the API.
//!
//! **Lag.** A real Distribox (all its projections, libvirt's `test:///default`) takes
//! `renameVm` mutations at a steady rate, each on its own schedule whatever the previous one
//! took. A watcher polls `projection_checkpoints` every millisecond; an event's lag in a
//! projection is from its commit (`recorded_at`, its transaction's start, so slightly more
//! than the lag) to the first poll that finds the projection's checkpoint at or past it, both
//! on PostgreSQL's clock.
//!
//! **Sampler cost.** Two servers side by side, the same 200 running (test-driver) VMs in each:
//! one samples every second, the other every day (so never, during the run). Requests
//! alternate between them; each is the `vms` first page plus `host`.
//!
//! `cargo bench -p distribox-api --bench projection_lag`; `BENCH_RATE` commands per second
//! (default 100), `BENCH_SECONDS` (default 30).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;
use support::{spawn_app_with, Libvirt, TestApp};

const PROJECTIONS: [&str; 6] = [
    "accounts",
    "audit_log",
    "hypervisor",
    "revocations",
    "usage",
    "vms",
];
const TARGET_P99_MS: f64 = 50.0;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{name} is a number")))
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        lag(
            env_number("BENCH_RATE", 100),
            env_number("BENCH_SECONDS", 30),
        )
        .await;
        sampler_cost().await;
    });
}

/// p50, p99 and max of `samples`.
fn percentiles(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99), samples[samples.len() - 1])
}

/// Creates `count` VMs (started if `start`); their ids.
async fn vms(app: &TestApp, token: &str, count: usize, start: bool) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let vm = app.create_vm(token, &format!("bench-{i}"), start).await;
        ids.push(vm["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// One checkpoint seen by the watcher: projection, (tx id, position), when.
type Seen = (String, (i64, i64), DateTime<Utc>);

async fn lag(rate: u64, seconds: u64) {
    let app = spawn_app_with(Libvirt::TestDriver, |_| {}).await;
    let token = app.login().await;
    let ids = vms(&app, &token, 20, false).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let first: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();

    // The watcher, on a connection of its own.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let pool = app.db.pool.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut seen: Vec<Seen> = Vec::new();
            let mut last: HashMap<String, (i64, i64)> = HashMap::new();
            while !stop.load(Ordering::Relaxed) {
                let rows: Vec<(String, i64, i64, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT projection, last_tx_id::text::bigint, last_position, clock_timestamp()
                       FROM projection_checkpoints",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
                for (projection, tx, position, at) in rows {
                    if last.get(&projection) != Some(&(tx, position)) {
                        last.insert(projection.clone(), (tx, position));
                        seen.push((projection, (tx, position), at));
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            seen
        })
    };

    // The load: one rename every 1/rate seconds, each on its own task.
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut sent = 0usize;
    let mut requests = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let (graphql, token) = (app.endpoint(), token.clone());
        let vm = ids[sent % ids.len()].clone();
        let name = format!("renamed-{sent}");
        requests.push(tokio::spawn(async move {
            graphql
                .data(
                    &token,
                    "mutation($id: ID!, $name: String!) { renameVm(id: $id, name: $name) { id } }",
                    json!({ "id": vm, "name": name }),
                )
                .await;
        }));
        sent += 1;
    }
    for request in requests {
        request.await.unwrap();
    }
    let achieved = sent as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = watcher.await.unwrap();

    let events: Vec<(i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT tx_id::text::bigint, global_position, recorded_at FROM events
          WHERE global_position > $1 ORDER BY tx_id, global_position",
    )
    .bind(first)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();

    println!(
        "\nProjection lag: {sent} renameVm at {achieved:.0}/s for {seconds} s ({} events), 2 cores\n",
        events.len()
    );
    println!("| projection | p50 (ms) | p99 (ms) | max (ms) | target p99 |\n|---|---|---|---|---|");
    let mut worst = 0.0f64;
    for projection in PROJECTIONS {
        let mut checkpoints: Vec<&Seen> = seen.iter().filter(|s| s.0 == projection).collect();
        checkpoints.sort_by_key(|s| s.1);
        let mut lags = Vec::new();
        for (tx, position, recorded_at) in &events {
            // The first checkpoint at or past the event (checkpoints only move forward).
            let index = checkpoints.partition_point(|s| s.1 < (*tx, *position));
            if let Some((_, _, applied)) = checkpoints.get(index) {
                lags.push((*applied - *recorded_at).num_microseconds().unwrap() as f64 / 1000.0);
            }
        }
        assert_eq!(
            lags.len(),
            events.len(),
            "{projection} did not apply every event"
        );
        let (p50, p99, max) = percentiles(&mut lags);
        worst = worst.max(p99);
        println!(
            "| {projection} | {p50:.1} | {p99:.1} | {max:.1} | < {TARGET_P99_MS} ms: {} |",
            if p99 < TARGET_P99_MS { "met" } else { "MISSED" }
        );
    }
    println!("\nworst p99: {worst:.1} ms");
}

/// API latency with the sampler reading 200 running VMs every second, against the same server
/// sampling once a day.
async fn sampler_cost() {
    let sampling = spawn_app_with(Libvirt::TestDriver, |c| c.usage_interval = 1).await;
    let idle = spawn_app_with(Libvirt::TestDriver, |c| c.usage_interval = 86_400).await;
    let mut tokens = Vec::new();
    for app in [&sampling, &idle] {
        let token = app.login().await;
        vms(app, &token, 200, true).await;
        tokens.push(token);
    }
    // Until every VM runs, and the sampler has had a few ticks.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let query =
        "{ vms(first: 50) { edges { node { id name state } } } host { cpus memoryTotalMib } }";
    let mut timings = [Vec::new(), Vec::new()];
    let apps = [&sampling, &idle];
    for round in 0..1000 {
        // Each goes first every other round.
        for i in [round % 2, (round + 1) % 2] {
            let started = Instant::now();
            apps[i].data(&tokens[i], query, json!({})).await;
            timings[i].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let samples: i64 = sqlx::query_scalar("SELECT count(*) FROM usage_samples")
        .fetch_one(&sampling.db.pool)
        .await
        .unwrap();
    let running: i64 = sqlx::query_scalar("SELECT count(*) FROM vms WHERE state = 'RUNNING'")
        .fetch_one(&sampling.db.pool)
        .await
        .unwrap();
    println!(
        "\nSampler cost: `vms(first: 50)` + `host`, 1,000 requests each, alternating; {running} running VMs, {samples} VM samples written meanwhile\n"
    );
    println!("| server | p50 (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|");
    for (name, timings) in ["sampling every 1 s", "not sampling"]
        .iter()
        .zip(&mut timings)
    {
        let (p50, p99, max) = percentiles(timings);
        println!("| {name} | {p50:.2} | {p99:.2} | {max:.2} |");
    }
}
