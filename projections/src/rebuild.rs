//! `distribox projections rebuild NAME`: builds a read model afresh from the whole log while
//! the server keeps serving the old one, then swaps the new tables in.
//!
//! The new tables are made `LIKE` the live ones in a schema of their own, and the projection
//! runs there through the ordinary runner: its connections put that schema first on their
//! `search_path`, so its unqualified table names (its checkpoint's too) are the new ones while
//! `events` is still the real log. Then one short transaction:
//!
//! 1. locks the live tables (readers finish their statements; waits are bounded, and a swap
//!    that cannot get its locks soon, behind a slow export say, rolls back and tries again);
//! 2. locks the live checkpoint, so the live runner cannot move it meanwhile, and applies to the
//!    new tables whatever the live runner applied since the rebuild's last pass;
//! 3. drops the live tables, moves the new ones in under the old index names and sets the live
//!    checkpoint to where both now are.
//!
//! The live runner's next batch then continues from the same position, on the new tables; a
//! batch it had in flight fails on the dropped table, rolls back and is read again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};

use crate::runner::{session_lock, Checkpoint, Projection, Runner, RunnerOptions, EVENT_COLUMNS};
use crate::{ProjectionError, StoredEvent};

/// First key of the advisory locks that keep one rebuild per projection at a time.
const REBUILD_LOCK_CLASS: i32 = 0x0d15_7b0d;

/// How long the swap waits for a lock before it rolls back and tries again, and how often.
const LOCK_TIMEOUT: &str = "3s";
const SWAP_ATTEMPTS: u32 = 10;

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct Rebuilt {
    /// The last event the new tables had applied when they were swapped in.
    pub checkpoint: Checkpoint,
    /// Events applied, and how long building and swapping took.
    pub events: i64,
    pub build: Duration,
    pub swap: Duration,
}

/// Rebuilds `projection`'s tables. Refused for a projection with effects outside its own
/// tables, and while another rebuild of it runs.
pub async fn rebuild<P: Projection>(
    pool: &PgPool,
    projection: Arc<P>,
) -> Result<Rebuilt, ProjectionError> {
    let name = projection.name();
    let tables = projection.tables();
    if tables.is_empty() {
        return Err(ProjectionError::Other(format!(
            "`{name}` does more than write its own tables, so it cannot be rebuilt beside itself"
        )));
    }
    let Some(_lock) = session_lock(pool, REBUILD_LOCK_CLASS, name).await? else {
        return Err(ProjectionError::Other(format!(
            "a rebuild of `{name}` is already running"
        )));
    };
    let schema = format!("rebuild_{name}");
    prepare(pool, &schema, tables).await?;

    let started = Instant::now();
    let shadow = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(
            (*pool.connect_options())
                .clone()
                .options([("search_path", format!("{schema},public"))]),
        )
        .await?;
    let runner = Runner::new(shadow.clone(), projection.clone(), RunnerOptions::default());
    runner.apply_readable().await?;
    for table in tables {
        sqlx::query(&format!("ANALYZE {}.{}", ident(&schema), ident(table)))
            .execute(&shadow)
            .await?;
    }
    let build = started.elapsed();

    let started = Instant::now();
    let mut attempt = 0;
    let checkpoint = loop {
        attempt += 1;
        // What committed during the long pass, before any lock is taken.
        let caught_up = runner.apply_readable().await?;
        let mut tx = shadow.begin().await?;
        let swapped = match swap(&mut tx, &*projection, &schema, caught_up).await {
            Ok(checkpoint) => tx.commit().await.map(|()| checkpoint).map_err(Into::into),
            Err(err) => Err(err),
        };
        match swapped {
            Ok(checkpoint) => break checkpoint,
            // A lock wait timed out, or the server's runner deadlocked with us: let it go on.
            Err(ProjectionError::Database(err))
                if attempt < SWAP_ATTEMPTS && is_lock_wait(&err) =>
            {
                projection.discarded();
                tracing::info!(
                    projection = name,
                    attempt,
                    "the live tables are busy; trying the swap again"
                );
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(err) => {
                projection.discarded();
                return Err(err);
            }
        }
    };
    projection.committed();
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE (tx_id, global_position) <= ($1::text::xid8, $2)",
    )
    .bind(checkpoint.tx_id.to_string())
    .bind(checkpoint.position)
    .fetch_one(pool)
    .await?;
    Ok(Rebuilt {
        checkpoint,
        events,
        build,
        swap: started.elapsed(),
    })
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A fresh schema with empty copies of the tables (columns, defaults, constraints, indexes)
/// and a checkpoint table of its own. What an interrupted earlier rebuild left is dropped.
async fn prepare(pool: &PgPool, schema: &str, tables: &[&str]) -> Result<(), ProjectionError> {
    let schema = ident(schema);
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut *tx)
        .await?;
    for table in tables.iter().chain(&["projection_checkpoints"]) {
        let table = ident(table);
        sqlx::query(&format!(
            "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)"
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An index's definition without its name and table: what tells two copies apart or not.
fn index_shape(definition: &str) -> (bool, &str) {
    let unique = definition.starts_with("CREATE UNIQUE INDEX");
    let body = definition
        .split_once(" USING ")
        .map_or(definition, |(_, body)| body);
    (unique, body)
}

async fn indexes(
    tx: &mut PgConnection,
    schema: &str,
    table: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(&mut *tx)
    .await
}

/// `lock_not_available` (a lock timeout) or `deadlock_detected`.
fn is_lock_wait(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "55P03" || code == "40P01")
}

/// Replaces the live tables with the rebuilt ones, which have applied the log up to `shadow`;
/// returns the checkpoint both end at.
async fn swap<P: Projection>(
    tx: &mut PgConnection,
    projection: &P,
    schema: &str,
    shadow: Checkpoint,
) -> Result<Checkpoint, ProjectionError> {
    let name = projection.name();
    let tables = projection.tables();
    sqlx::query(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        .execute(&mut *tx)
        .await?;
    let live_tables: Vec<String> = tables
        .iter()
        .map(|table| format!("public.{}", ident(table)))
        .collect();
    sqlx::query(&format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        live_tables.join(", ")
    ))
    .execute(&mut *tx)
    .await?;
    let live: Option<(i64, i64)> = sqlx::query_as(
        "SELECT last_tx_id::text::bigint, last_position FROM public.projection_checkpoints
          WHERE projection = $1 FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let live = live.map_or(Checkpoint::default(), |(tx_id, position)| Checkpoint {
        tx_id,
        position,
    });
    // The live runner got further than the rebuild: the events between were all committed
    // before it read them, so they are read here directly, with no horizon to wait for.
    let checkpoint = if live > shadow {
        let events: Vec<StoredEvent> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM events
              WHERE (tx_id, global_position) > ($1::text::xid8, $2)
                AND (tx_id, global_position) <= ($3::text::xid8, $4)
              ORDER BY events.tx_id, events.global_position"
        ))
        .bind(shadow.tx_id.to_string())
        .bind(shadow.position)
        .bind(live.tx_id.to_string())
        .bind(live.position)
        .fetch_all(&mut *tx)
        .await?;
        for event in &events {
            projection.apply(tx, event).await?;
        }
        projection.flush(tx).await?;
        live
    } else {
        shadow
    };
    for table in tables {
        let old = indexes(tx, "public", table).await?;
        let new = indexes(tx, schema, table).await?;
        sqlx::query(&format!("DROP TABLE public.{}", ident(table)))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "ALTER TABLE {}.{} SET SCHEMA public",
            ident(schema),
            ident(table)
        ))
        .execute(&mut *tx)
        .await?;
        // Later migrations name indexes: the moved table keeps the names the old one had.
        for (new_name, new_definition) in &new {
            let Some((old_name, _)) = old
                .iter()
                .find(|(_, old)| index_shape(old) == index_shape(new_definition))
            else {
                continue;
            };
            if old_name != new_name {
                sqlx::query(&format!(
                    "ALTER INDEX public.{} RENAME TO {}",
                    ident(new_name),
                    ident(old_name)
                ))
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    sqlx::query(
        "INSERT INTO public.projection_checkpoints (projection, last_tx_id, last_position, updated_at)
         VALUES ($1, $2::text::xid8, $3, now())
         ON CONFLICT (projection) DO UPDATE
            SET last_tx_id = excluded.last_tx_id, last_position = excluded.last_position,
                updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(checkpoint.tx_id.to_string())
    .bind(checkpoint.position)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!("DROP SCHEMA {} CASCADE", ident(schema)))
        .execute(&mut *tx)
        .await?;
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::audit::{self, AuditLogProjection, Verdict};

    async fn append(pool: &PgPool, count: i64) {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                                 payload, metadata)
             SELECT 'Test', gen_random_uuid()::text, 1, 'Tested', '1', '{}', '{}'
               FROM generate_series(1, $1)",
        )
        .bind(count)
        .execute(pool)
        .await
        .unwrap();
    }

    fn live(pool: &PgPool) -> Runner<AuditLogProjection> {
        Runner::new(
            pool.clone(),
            Arc::new(AuditLogProjection::new()),
            RunnerOptions::default(),
        )
    }

    /// The live runner got further than the rebuilt tables: the swap applies the difference
    /// under its locks and leaves both at the live position, chain intact.
    #[tokio::test]
    async fn the_swap_catches_up_with_the_live_runner() {
        let db = distribox_migrations::test_db::TestDatabase::new().await;
        append(&db.pool, 5).await;
        live(&db.pool).catch_up().await.unwrap();
        sqlx::query("UPDATE audit_log SET action = 'Tampered'")
            .execute(&db.pool)
            .await
            .unwrap();

        let schema = "rebuild_audit_log";
        prepare(&db.pool, schema, &["audit_log"]).await.unwrap();
        let shadow = PgPoolOptions::new()
            .connect_with(
                (*db.pool.connect_options())
                    .clone()
                    .options([("search_path", format!("{schema},public"))]),
            )
            .await
            .unwrap();
        let projection = Arc::new(AuditLogProjection::new());
        let rebuilt = Runner::new(shadow.clone(), projection.clone(), RunnerOptions::default())
            .catch_up()
            .await
            .unwrap();

        append(&db.pool, 3).await;
        let ahead = live(&db.pool).catch_up().await.unwrap();
        assert!(ahead > rebuilt);

        let mut tx = shadow.begin().await.unwrap();
        let swapped = swap(&mut tx, &*projection, schema, rebuilt).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(swapped, ahead);
        assert_eq!(
            audit::verify(&db.pool).await.unwrap(),
            Verdict::Intact { entries: 8 }
        );

        // The live runner goes on from there, on the new table.
        append(&db.pool, 2).await;
        live(&db.pool).catch_up().await.unwrap();
        assert_eq!(
            audit::verify(&db.pool).await.unwrap(),
            Verdict::Intact { entries: 10 }
        );
    }

    #[tokio::test]
    async fn a_second_rebuild_of_the_same_projection_is_refused() {
        let db = distribox_migrations::test_db::TestDatabase::new().await;
        let _running = session_lock(&db.pool, REBUILD_LOCK_CLASS, "audit_log")
            .await
            .unwrap()
            .unwrap();
        let refused = rebuild(&db.pool, Arc::new(AuditLogProjection::new()))
            .await
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "a rebuild of `audit_log` is already running"
        );
        let schemas: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rebuild_%'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(schemas, 0, "nothing was prepared");
    }

    #[test]
    fn index_copies_are_matched_by_shape_not_name() {
        let old =
            "CREATE INDEX audit_log_actor ON public.audit_log USING btree (actor, chain_index)";
        let new = "CREATE INDEX audit_log_actor_chain_index_idx ON rebuild_audit_log.audit_log \
                   USING btree (actor, chain_index)";
        assert_eq!(index_shape(old), index_shape(new));
        let unique = "CREATE UNIQUE INDEX x ON public.audit_log USING btree (actor, chain_index)";
        assert_ne!(index_shape(old), index_shape(unique));
        let partial = "CREATE INDEX y ON public.audit_log USING btree (actor, chain_index) \
                       WHERE (outcome <> 'ok'::text)";
        assert_ne!(index_shape(old), index_shape(partial));
    }
}
