//! `distribox projections status`: each projection's position, what it has still to apply and
//! how long that has waited; and `distribox projections rebuild`, run against a live server.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{spawn_app, Libvirt, TestApp};

fn status(app: &TestApp) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_distribox"))
        .args(["projections", "status"])
        .env("DISTRIBOX_DATABASE_URL", &app.db.url)
        .env("DISTRIBOX_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The `behind` column of `projection`'s line.
fn behind(table: &str, projection: &str) -> Option<i64> {
    table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(projection))
        .and_then(|line| line.split_whitespace().nth(2)?.parse().ok())
}

#[tokio::test]
async fn status_shows_each_projection_caught_up_or_behind() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    app.create_vm(&token, "counted", false).await;

    // The server's projections catch up within moments.
    let mut table = String::new();
    for _ in 0..50 {
        table = status(&app);
        let caught_up = ["accounts", "audit_log", "hypervisor", "vms"]
            .iter()
            .all(|p| behind(&table, p) == Some(0));
        if caught_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for projection in ["accounts", "audit_log", "hypervisor", "vms"] {
        assert_eq!(behind(&table, projection), Some(0), "{table}");
    }

    // A projection that never ran past the start has the whole log ahead of it, and its lag is
    // the age of the first event.
    sqlx::query("INSERT INTO projection_checkpoints (projection) VALUES ('stalled')")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let table = status(&app);
    assert_eq!(behind(&table, "stalled"), Some(events), "{table}");
    let line = table.lines().find(|l| l.starts_with("stalled")).unwrap();
    let lag: f64 = line
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!(lag > 0.0, "{line}");
}

/// Runs the CLI without blocking the test's runtime, which also runs the server.
async fn rebuild(app: &TestApp, name: &str) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_distribox"))
        .args(["projections", "rebuild", name])
        .env("DISTRIBOX_DATABASE_URL", &app.db.url)
        .env("DISTRIBOX_CONFIG", "/dev/null")
        .output()
        .await
        .unwrap()
}

async fn audit_entries(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn events(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// Waits until the audit log has an entry for every event.
async fn audit_caught_up(app: &TestApp) {
    for _ in 0..100 {
        if audit_entries(app).await == events(app).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the audit log did not catch up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_replaces_a_damaged_read_model_while_the_server_serves() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let token = app.login().await;
    for name in ["one", "two", "three"] {
        app.create_vm(&token, name, false).await;
    }
    audit_caught_up(&app).await;
    // Damage the live model: entries gone, one altered.
    sqlx::query("DELETE FROM audit_log WHERE chain_index > 3")
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET action = 'Tampered' WHERE chain_index = 2")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let live_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'audit_log' ORDER BY 1",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();

    // Writes go on during the rebuild, through the server that keeps serving the old table.
    let rebuilding = Arc::new(AtomicBool::new(true));
    let writer = {
        let (graphql, token, rebuilding) = (app.endpoint(), token.clone(), rebuilding.clone());
        tokio::spawn(async move {
            let mut written = 0;
            while rebuilding.load(Ordering::Relaxed) || written < 3 {
                let query = format!(
                    "mutation {{ createVm(input: {{ name: \"during-{written}\", image: \"test-guest\", vcpus: 1, memoryMib: 256, diskGib: 1 }}) {{ id }} }}"
                );
                graphql.data(&token, &query, serde_json::json!({})).await;
                written += 1;
            }
            written
        })
    };
    let output = rebuild(&app, "audit_log").await;
    rebuilding.store(false, Ordering::Relaxed);
    assert!(output.status.success(), "{output:?}");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("rebuilt `audit_log` from"), "{said}");
    let written = writer.await.unwrap();
    assert!(written >= 3);

    // Whole again, with every event written during the rebuild, a valid chain and the index
    // names the migrations gave.
    audit_caught_up(&app).await;
    let tampered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'Tampered'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(tampered, 0);
    let verified = std::process::Command::new(env!("CARGO_BIN_EXE_distribox"))
        .args(["audit", "verify"])
        .env("DISTRIBOX_DATABASE_URL", &app.db.url)
        .env("DISTRIBOX_CONFIG", "/dev/null")
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    let rebuilt_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'audit_log' ORDER BY 1",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(rebuilt_indexes, live_indexes);
    let leftovers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rebuild_%'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(leftovers, 0);
    // The server reads the new table (the hypervisor may still be appending events).
    let rebuilt_entries = audit_entries(&app).await;
    let page = app
        .data(
            &token,
            "{ auditLog(first: 500) { edges { node { action } } } }",
            serde_json::json!({}),
        )
        .await;
    let entries = page["auditLog"]["edges"].as_array().unwrap().len() as i64;
    assert!(entries >= rebuilt_entries, "{entries} < {rebuilt_entries}");

    // Refusals: a projection with effects beyond its tables, and one that does not exist.
    let refused = rebuild(&app, "vms").await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("cannot be rebuilt"), "{said}");
    let refused = rebuild(&app, "hypervisor").await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("acts outside the database"));
    let refused = rebuild(&app, "nonsense").await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("accounts, audit_log, images, usage"));

    // The image catalogue is rebuilt the same way, and lists the same images afterwards.
    let before = app
        .data(&token, "{ images { id status } }", serde_json::json!({}))
        .await;
    let output = rebuild(&app, "images").await;
    assert!(output.status.success(), "{output:?}");
    let after = app
        .data(&token, "{ images { id status } }", serde_json::json!({}))
        .await;
    assert_eq!(before, after);
    assert_eq!(after["images"][0]["id"], "test-guest");
}
