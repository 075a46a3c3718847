/// Why a projection could not apply an event. The runner logs it and retries the batch: an
/// event is never skipped.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event {position} could not be decoded: {source}")]
    Decode {
        position: i64,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Other(String),
}
