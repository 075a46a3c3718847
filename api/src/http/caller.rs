//! Who is calling: the bearer token resolved to an account, plus the request's provenance for the
//! audit log.

use std::net::SocketAddr;

use axum::http::HeaderMap;
use distribox_commands::{Actor, CommandError, RequestContext};
use uuid::Uuid;

use crate::app::AppState;

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect())
}

/// Extracts `token` from `Bearer <token>`.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Builds the request's context. A missing, unknown or expired token makes the caller
/// anonymous (guarded fields then answer `UNAUTHENTICATED`); a token that can't be checked
/// because the database is down is an error, so a blip doesn't log anybody out.
pub async fn context(
    state: &AppState,
    headers: &HeaderMap,
    addr: SocketAddr,
    authorization: Option<&str>,
) -> Result<RequestContext, CommandError> {
    let authenticated_at = std::time::Instant::now();
    let (actor, session) = match authorization.and_then(bearer) {
        Some(token) => match state.bus.authenticate(token).await {
            Ok((actor, session)) => (actor, Some(session)),
            Err(CommandError::Refused { .. }) => (Actor::Anonymous, None),
            Err(err) => return Err(err),
        },
        None => (Actor::Anonymous, None),
    };
    Ok(RequestContext {
        actor,
        session,
        authenticated_at,
        request_id: request_id(headers),
        client_addr: Some(addr.ip().to_string()),
        user_agent: header(headers, "user-agent"),
    })
}

/// The caller's `x-request-id` if it is a sane token (it ends up in the audit log), else a new id.
fn request_id(headers: &HeaderMap) -> String {
    header(headers, "x-request-id")
        .filter(|id| {
            id.len() <= 128
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        })
        .unwrap_or_else(|| Uuid::new_v4().to_string())
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
