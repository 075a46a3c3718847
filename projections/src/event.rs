use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::ProjectionError;

/// One row of the event log, as projections see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub global_position: i64,
    /// The writing transaction (an `xid8`, read as a number).
    pub tx_id: i64,
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// Decodes the payload into the aggregate's event type.
    pub fn decode<E: DeserializeOwned>(&self) -> Result<E, ProjectionError> {
        serde_json::from_value(self.payload.clone()).map_err(|source| ProjectionError::Decode {
            position: self.global_position,
            source,
        })
    }

    /// The aggregate id as a UUID (VM and account ids are UUIDs).
    pub fn aggregate_uuid(&self) -> Result<uuid::Uuid, ProjectionError> {
        self.aggregate_id.parse().map_err(|_| {
            ProjectionError::Other(format!(
                "{} id `{}` is not a UUID",
                self.aggregate_type, self.aggregate_id
            ))
        })
    }

    /// The `actor` recorded in the event's metadata.
    pub fn actor(&self) -> Option<&str> {
        self.metadata.get("actor").and_then(|a| a.as_str())
    }
}
