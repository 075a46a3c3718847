//! The one error type every aggregate refuses commands with.

/// How the outer layers should classify a refusal; they map it to the stable API codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input itself is wrong (out of range, malformed, unknown reference).
    BadInput,
    /// The input is fine but the aggregate's current state does not allow it.
    Conflict,
    /// The aggregate does not exist (or no longer does).
    NotFound,
}

/// A refused command. The message is written for the person who sent the command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DomainError {
    pub kind: ErrorKind,
    pub message: String,
}

impl DomainError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::BadInput,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }
}
