//! The API's one error type: a stable code and a message for the caller; the cause of internal
//! failures goes to the log, never to the client.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use distribox_commands::{CommandError, ErrorCode};
use distribox_projections::hypervisor::HypervisorError;

/// Deliberately not `Display`: async-graphql turns any `Display` error into a GraphQL error
/// verbatim, so resolvers must convert lower-layer errors (whose `Display` may carry internal
/// causes) through `ApiError` with `.map_err(ApiError::from)`.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    /// The policy the caller lacked (`FORBIDDEN`), given to the client and the audit log.
    policy: Option<String>,
    /// The one input the caller got wrong (`BAD_INPUT`), as the client names it, so a form can
    /// show the message on that field.
    field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            policy: None,
            field: None,
        }
    }

    /// The same error about the argument or input field `field`, named as the client sends it
    /// (`memoryMib`, `expiresAt`): reported as `extensions.field`.
    pub fn in_field(self, field: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..self
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// An unexpected failure: logged with its cause, reported as `INTERNAL`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl From<CommandError> for ApiError {
    fn from(err: CommandError) -> Self {
        match &err {
            CommandError::Refused { .. } => {}
            CommandError::Unavailable(cause) => {
                tracing::warn!(%cause, "command failed: store unavailable")
            }
            CommandError::Internal(cause) => tracing::error!(%cause, "command failed"),
        }
        Self {
            policy: err.missing_policy().map(|p| p.to_string()),
            field: err.field().map(str::to_owned),
            ..Self::new(err.code(), err.public_message())
        }
    }
}

/// A hypervisor call made on behalf of a request (a screenshot): libvirt's refusal is shown, an
/// unreachable daemon is `UNAVAILABLE`.
impl From<HypervisorError> for ApiError {
    fn from(err: HypervisorError) -> Self {
        match err {
            HypervisorError::Unavailable(cause) => {
                tracing::warn!(%cause, "hypervisor unavailable");
                Self::new(
                    ErrorCode::Unavailable,
                    "the hypervisor is unavailable; try again",
                )
            }
            HypervisorError::Failed(reason) => Self::new(ErrorCode::Conflict, reason),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        CommandError::from(err).into()
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        async_graphql::Error::new(err.message).extend_with(|_, ext| {
            ext.set("code", err.code.as_str());
            if let Some(policy) = &err.policy {
                ext.set("policy", policy.as_str());
            }
            if let Some(field) = &err.field {
                ext.set("field", field.as_str());
            }
        })
    }
}

/// For the plain HTTP endpoints (exports, `/metrics`, uploads): the status the code stands for.
impl ApiError {
    /// The error as a JSON body, `{"code", "message", "field"}`, for endpoints whose clients
    /// read JSON (uploads).
    pub fn into_json_response(self) -> Response {
        let body = serde_json::json!({
            "code": self.code.as_str(),
            "message": self.message,
            "field": self.field,
        });
        (self.status(), axum::Json(body)).into_response()
    }

    fn status(&self) -> StatusCode {
        match self.code {
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::BadInput => StatusCode::BAD_REQUEST,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `CODE: message` as the body.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        (
            status,
            format!("{}: {}\n", self.code.as_str(), self.message),
        )
            .into_response()
    }
}
