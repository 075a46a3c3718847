use distribox_domain::policy::Policy;
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
    Refused {
        code: ErrorCode,
        message: String,
        /// The policy the caller lacked, for `FORBIDDEN`.
        policy: Option<Policy>,
        /// The one input at fault, for `BAD_INPUT`, named as the API's client spells it.
        field: Option<&'static str>,
    },
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
            policy: None,
            field: None,
        }
    }

    /// `BAD_INPUT` about one input, `field`, named as the API's client spells it.
    pub fn bad_field(field: &'static str, message: impl Into<String>) -> Self {
        CommandError::Refused {
            code: ErrorCode::BadInput,
            message: message.into(),
            policy: None,
            field: Some(field),
        }
    }

    /// The caller lacks `policy`.
    pub fn forbidden(policy: Policy) -> Self {
        CommandError::Refused {
            code: ErrorCode::Forbidden,
            message: format!("this needs the {policy} policy"),
            policy: Some(policy),
            field: None,
        }
    }

    /// The caller lacks `policy` on a VM it may not even see: told the VM does not exist, but
    /// the audit log learns why.
    pub fn hidden(policy: Policy) -> Self {
        CommandError::Refused {
            code: ErrorCode::NotFound,
            message: "VM not found".to_owned(),
            policy: Some(policy),
            field: None,
        }
    }

    /// The policy the caller lacked, if that is why it was refused.
    pub fn missing_policy(&self) -> Option<Policy> {
        match self {
            CommandError::Refused { policy, .. } => *policy,
            _ => None,
        }
    }

    /// The input the caller got wrong, if the refusal is about exactly one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CommandError::Refused { field, .. } => *field,
            _ => None,
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
        CommandError::Refused {
            code,
            message: err.message,
            policy: None,
            field: err.field,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_refusal_keeps_its_field() {
        let err = CommandError::from(DomainError::bad_field("sshKeys", "not a key"));
        assert_eq!(err.code(), ErrorCode::BadInput);
        assert_eq!(err.field(), Some("sshKeys"));
        assert_eq!(err.public_message(), "not a key");
        assert_eq!(
            CommandError::from(DomainError::bad_input("x")).field(),
            None
        );
        assert_eq!(CommandError::from(DomainError::conflict("x")).field(), None);
        assert_eq!(CommandError::forbidden(Policy::UsersCreate).field(), None);
    }
}
