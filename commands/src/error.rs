use distribox_domain::{DomainError, ErrorKind};

/// The stable codes every API error carries (`extensions.code` in GraphQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadInput,
    Conflict,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadInput => "BAD_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

/// A command that did not happen. `Refused` carries a message meant for the caller; the
/// infrastructure variants carry a cause meant for the log only.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    #[error("the event store is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CommandError {
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        CommandError::Refused {
            code,
            message: message.into(),
        }
    }

    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        CommandError::Internal(cause.into())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            CommandError::Refused { code, .. } => *code,
            CommandError::Unavailable(_) => ErrorCode::Unavailable,
            CommandError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// What the caller may be told. Infrastructure causes stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            CommandError::Refused { message, .. } => message.clone(),
            CommandError::Unavailable(_) => "the service is temporarily unavailable".to_owned(),
            CommandError::Internal(_) => "internal error".to_owned(),
        }
    }
}

impl From<DomainError> for CommandError {
    fn from(err: DomainError) -> Self {
        let code = match err.kind {
            ErrorKind::BadInput => ErrorCode::BadInput,
            ErrorKind::Conflict => ErrorCode::Conflict,
            ErrorKind::NotFound => ErrorCode::NotFound,
        };
        CommandError::refused(code, err.message)
    }
}

impl From<sqlx::Error> for CommandError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                CommandError::Unavailable(err.into())
            }
            other => CommandError::internal(other),
        }
    }
}
