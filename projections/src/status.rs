//! Where each projection is in the log (`distribox projections status`): its checkpoint, how
//! many committed events it has still to apply, and how old the oldest of them is.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectionStatus {
    pub projection: String,
    /// The last event applied (0: none yet).
    pub position: i64,
    /// When the checkpoint last moved.
    pub updated_at: DateTime<Utc>,
    /// Committed events not applied yet.
    pub behind: i64,
    /// How long the oldest of those has waited (zero when caught up).
    pub lag_seconds: f64,
}

/// Every projection that has run against this database, by name.
pub async fn status(pool: &PgPool) -> Result<Vec<ProjectionStatus>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.projection, c.last_position AS position, c.updated_at,
                count(e.global_position) AS behind,
                coalesce(extract(epoch FROM now() - min(e.recorded_at)), 0)::float8 AS lag_seconds
           FROM projection_checkpoints c
           LEFT JOIN events e
                  ON (e.tx_id, e.global_position) > (c.last_tx_id, c.last_position)
                 AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
          GROUP BY c.projection, c.last_position, c.updated_at
          ORDER BY c.projection",
    )
    .fetch_all(pool)
    .await
}
