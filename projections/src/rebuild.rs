//! `distribox projections rebuild NAME`: builds a read model afresh from the whole log while
//! the server keeps serving the old one, then swaps the new tables in.
//!
//! The new tables are made `LIKE` the live ones in a schema of their own, and the projection
//! runs there through the ordinary runner: its connections put that schema first on their
//! `search_path`, so its unqualified table names (its checkpoint's too) are the new ones while
//! `events` is still the real log. Once it has caught up, one short transaction locks the live
//! tables, drops them, moves the new ones in under the old index names and hands their
//! checkpoint to the live projection. A live runner that meanwhile applied events to the old
//! tables finds its checkpoint moved, reloads it, and applies those events again to the new
//! tables: nothing is lost or applied twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};

use crate::runner::{Checkpoint, Projection, Runner, RunnerOptions};
use crate::ProjectionError;

/// First key of the advisory locks that keep one rebuild per projection at a time.
const REBUILD_LOCK_CLASS: i32 = 0x0d15_7b0d;

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
    let mut lock = pool.acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
        .bind(REBUILD_LOCK_CLASS)
        .bind(name)
        .fetch_one(&mut lock)
        .await?;
    if !locked {
        return Err(ProjectionError::Other(format!(
            "a rebuild of `{name}` is already running"
        )));
    }
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
    let runner = Runner::new(shadow.clone(), projection, RunnerOptions::default());
    runner.catch_up().await?;
    // Again: what committed during a long first pass is applied before the tables are locked.
    let checkpoint = runner.catch_up().await?;
    let build = started.elapsed();

    let started = Instant::now();
    let mut tx = shadow.begin().await?;
    swap(&mut tx, name, &schema, tables).await?;
    tx.commit().await?;
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

/// Replaces the live tables with the rebuilt ones and moves the live checkpoint to theirs.
async fn swap(
    tx: &mut PgConnection,
    name: &str,
    schema: &str,
    tables: &[&str],
) -> Result<(), ProjectionError> {
    // Readers finish their statements first; the server's next ones wait for the commit.
    for table in tables {
        sqlx::query(&format!(
            "LOCK TABLE public.{} IN ACCESS EXCLUSIVE MODE",
            ident(table)
        ))
        .execute(&mut *tx)
        .await?;
    }
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
    sqlx::query(&format!(
        "INSERT INTO public.projection_checkpoints (projection, last_tx_id, last_position, updated_at)
         SELECT projection, last_tx_id, last_position, now()
           FROM {}.projection_checkpoints WHERE projection = $1
         ON CONFLICT (projection) DO UPDATE
            SET last_tx_id = excluded.last_tx_id, last_position = excluded.last_position,
                updated_at = excluded.updated_at",
        ident(schema)
    ))
    .bind(name)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!("DROP SCHEMA {} CASCADE", ident(schema)))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
