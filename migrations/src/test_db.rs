//! Test databases on the real PostgreSQL server, each a fresh `CREATE DATABASE … TEMPLATE` copy of
//! one migrated template (as crates.io does): isolated, and much faster than migrating each time.
//!
//! The server is `DISTRIBOX_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432`.

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use tokio::sync::OnceCell;

use crate::MIGRATOR;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database that exists for one test. Dropping it does not remove it (drop can't be async);
/// every name is unique, and `scripts/test` clears old ones before a run.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

fn server_url() -> String {
    std::env::var("DISTRIBOX_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

async fn admin_connection() -> PgConnection {
    let options: PgConnectOptions = format!("{}/postgres", server_url())
        .parse()
        .expect("test database url");
    options
        .connect()
        .await
        .expect("connect to the test PostgreSQL server")
}

/// Creates the migrated template once per test process. Its name carries the process id so
/// parallel test binaries never race on one template.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("distribox_template_{}", std::process::id());
            let mut admin = admin_connection().await;
            admin
                .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
                .await
                .expect("drop old template");
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create template");
            let url = format!("{}/{name}", server_url());
            let mut conn = PgConnection::connect(&url)
                .await
                .expect("connect to template");
            MIGRATOR.run(&mut conn).await.expect("migrate template");
            conn.close().await.ok();
            name
        })
        .await
}

impl TestDatabase {
    pub async fn new() -> Self {
        let template = template().await;
        let name = format!("distribox_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin_connection().await;
        admin
            .execute(format!("CREATE DATABASE {name} TEMPLATE {template}").as_str())
            .await
            .expect("create test database");
        let url = format!("{}/{name}", server_url());
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect(&url)
            .await
            .expect("connect to test database");
        Self { name, url, pool }
    }
}
