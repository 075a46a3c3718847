//! The HTTP surface: `/graphql`, `/graphql/ws`, `/console/ws`, `/healthz`, `/metrics`, the
//! exports and the web app.

mod audit_export;
mod caller;
mod csv_record;
mod graphql_http;
mod graphql_ws;
mod image_upload;
mod metrics;
pub(crate) mod session_cookie;
mod usage_export;
mod web;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::graphql::DistriboxSchema;

/// What HTTP handlers share: the app's services and the schema that resolves over them.
#[derive(Clone)]
pub struct HttpState {
    pub app: AppState,
    pub schema: DistriboxSchema,
}

/// Largest request body accepted (GraphQL documents and variables).
const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn router(state: HttpState) -> Router {
    let relay = distribox_console_relay::router(state.app.relay.clone());
    let state_metrics = state.app.metrics.clone();
    // Uploads stream disk images: they are the one body the size limit below doesn't cover.
    let uploads = Router::new()
        .route("/images/upload", post(image_upload::upload))
        .with_state(state.clone());
    Router::new()
        .route("/graphql", get(graphql_http::handle).post(graphql_http::handle))
        .route("/graphql/ws", get(graphql_ws::handle))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/audit/export", get(audit_export::export))
        .route("/usage/export", get(usage_export::export))
        // Compressed: the app's first load is mostly JavaScript, which gzip shrinks ~3×.
        .fallback_service(get(web::serve).layer(CompressionLayer::new()))
        .with_state(state)
        .merge(relay)
        .layer(axum::middleware::from_fn_with_state(
            state_metrics,
            metrics::track,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .merge(uploads)
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
            // The path only: query strings carry console tickets, which must never be logged.
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path())
        }))
}

/// Up when the database answers.
async fn healthz(
    axum::extract::State(state): axum::extract::State<HttpState>,
) -> impl IntoResponse {
    let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.app.pool);
    match tokio::time::timeout(Duration::from_secs(2), query).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
