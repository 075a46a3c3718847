//! Who is calling: the bearer token resolved to an account, plus the request's provenance for the
//! audit log.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap};
use distribox_commands::{Actor, CommandError, RequestContext};
use distribox_domain::policy::Policy;
use uuid::Uuid;

use super::session_cookie;
use crate::app::AppState;
use crate::error::ApiError;

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

/// The session token: `authorization` (a bearer token, from the header or a websocket's
/// `connection_init`) if given, else the browser's session cookie — unless the request comes
/// from a page of a foreign origin, which a browser would otherwise let ride on the cookie.
fn session_token(
    state: &AppState,
    headers: &HeaderMap,
    authorization: Option<&str>,
) -> Option<String> {
    match authorization.and_then(bearer) {
        Some(token) => Some(token.to_owned()),
        None if state.origins.permits(headers) => session_cookie::token(headers),
        None => None,
    }
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
    let (actor, session) = match session_token(state, headers, authorization) {
        Some(token) => match state.bus.authenticate(&token).await {
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
        client_addr: Some(client_address(headers, addr.ip(), &state.trusted_proxies).to_string()),
        user_agent: header(headers, "user-agent"),
    })
}

/// The caller of a plain HTTP endpoint (an export, `/metrics`), who must hold `policy`: 401
/// without a valid bearer token or session cookie, 403 without the policy. A refusal is
/// recorded in the audit log under `operation`, as refused GraphQL requests are.
pub async fn require(
    state: &AppState,
    headers: &HeaderMap,
    addr: SocketAddr,
    policy: Policy,
    operation: &str,
) -> Result<RequestContext, ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let ctx = context(state, headers, addr, authorization).await?;
    if let Err(refused) = ctx.authorize(policy) {
        let code = refused.code().as_str().to_owned();
        let policy = Some(policy.to_string());
        if let Err(err) = state
            .bus
            .record_denied(&ctx, operation.to_owned(), policy, code)
            .await
        {
            tracing::warn!(error = %err, "cannot record a refused request");
        }
        return Err(refused.into());
    }
    Ok(ctx)
}

/// Who is really calling: the peer, unless it is a trusted proxy, in which case the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy. Entries further left were
/// written by the client and could be anything.
fn client_address(headers: &HeaderMap, peer: IpAddr, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .filter_map(|entry| entry.parse::<IpAddr>().ok())
        .find(|address| !trusted.contains(address))
        .unwrap_or(peer)
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
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        use super::client_address;
        let proxy: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 203.0.113.7, 10.0.0.2".parse().unwrap(),
        );
        // The client's own claim (6.6.6.6) is left of what the proxies added.
        assert_eq!(
            client_address(&headers, proxy, &[proxy]),
            "203.0.113.7".parse::<std::net::IpAddr>().unwrap()
        );
        let stranger: std::net::IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_address(&headers, stranger, &[proxy]), stranger);
        assert_eq!(
            client_address(&axum::http::HeaderMap::new(), proxy, &[proxy]),
            proxy
        );
    }

    #[test]
    fn bearer_tokens_are_extracted() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("abc"), None);
    }
}
