//! `GET /metrics`: Prometheus metrics, for a bearer holding `usage:get` or the scrape token
//! (`DISTRIBOX_METRICS_TOKEN`, for a scraper that cannot log in), and counting every request.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use distribox_commands::ErrorCode;
use distribox_domain::policy::Policy;
use sha2::{Digest, Sha256};

use super::caller;
use super::HttpState;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Routes counted under their own name; every other path is the web app's.
const ROUTES: &[&str] = &[
    "/graphql",
    "/graphql/ws",
    "/console/ws",
    "/healthz",
    "/metrics",
    "/audit/export",
    "/usage/export",
];

pub async fn metrics(
    State(state): State<HttpState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !holds_scrape_token(&state, &headers) {
        caller::require(&state.app, &headers, addr, Policy::UsageGet, "metrics").await?;
    }
    let text = state.app.metrics.render(&state.app).await.map_err(|err| {
        tracing::error!(error = %err, "cannot gather metrics");
        ApiError::new(ErrorCode::Unavailable, "cannot gather metrics; try again")
    })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response())
}

/// Compared as SHA-256 digests, so the comparison's time says nothing about the token.
fn holds_scrape_token(state: &HttpState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.app.metrics_token else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(caller::bearer)
        .is_some_and(|token| {
            Sha256::digest(token.as_bytes()) == Sha256::digest(expected.as_bytes())
        })
}

/// Counts each request and its time, by method, route and status.
pub async fn track(State(metrics): State<Metrics>, request: Request<Body>, next: Next) -> Response {
    // Any token is a method to HTTP: only the standard ones become series of their own.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    };
    let path = request.uri().path();
    let route = ROUTES
        .iter()
        .find(|route| **route == path)
        .copied()
        .unwrap_or("web");
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe_request(method, route, response.status().as_u16(), started.elapsed());
    response
}
