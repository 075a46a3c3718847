//! `distribox projections status`: each projection's position, what it has still to apply and
//! how long that has waited.

mod support;

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
