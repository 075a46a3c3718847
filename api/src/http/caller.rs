//! Who is calling: the bearer token resolved to an account, plus the request's provenance for the
//! audit log.

use std::net::SocketAddr;

use axum::http::HeaderMap;
use distribox_commands::{Actor, RequestContext};
use uuid::Uuid;

use crate::app::AppState;

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.chars().take(256).collect())
}

/// Extracts `token` from `Bearer <token>`.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Builds the request's context. A missing or invalid token makes the caller anonymous; guarded
/// fields then answer `UNAUTHENTICATED`.
pub async fn context(state: &AppState, headers: &HeaderMap, addr: SocketAddr, authorization: Option<&str>) -> RequestContext {
    let actor = match authorization.and_then(bearer) {
        Some(token) => match state.bus.authenticate(token).await {
            Ok(actor) => actor,
            Err(err) => {
                tracing::debug!(error = %err, "bearer token refused");
                Actor::Anonymous
            }
        },
        None => Actor::Anonymous,
    };
    RequestContext {
        actor,
        request_id: header(headers, "x-request-id").unwrap_or_else(|| Uuid::new_v4().to_string()),
        client_addr: Some(addr.ip().to_string()),
        user_agent: header(headers, "user-agent"),
    }
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_tokens_are_extracted() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }
}
