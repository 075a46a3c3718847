//! `/graphql/ws`: subscriptions over graphql-transport-ws. The bearer token comes in the
//! `connection_init` payload (`{"authorization": "Bearer …"}`), or else the browser's session
//! cookie on the upgrade request counts; a foreign `Origin` is refused before the upgrade.

use std::net::SocketAddr;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Mutex;

use distribox_commands::Actor;
use distribox_console_relay::Revocable;
use tokio::sync::oneshot;

use super::caller;
use super::HttpState;
use crate::error::ApiError;

pub async fn handle(
    State(state): State<HttpState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !state.app.origins.permits(&headers) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let schema = state.schema.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            // The connection's session is known only once `connection_init` arrives; the
            // registration is handed out of the callback to end the connection when revoked.
            let (registered, revocable) = oneshot::channel::<Revocable>();
            let registered = Mutex::new(Some(registered));
            let revocations = state.app.revocations.clone();
            let serve = GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    // GraphiQL sends the headers a person typed, spelled as typed.
                    let authorization = payload
                        .as_object()
                        .and_then(|fields| {
                            fields
                                .iter()
                                .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
                        })
                        .and_then(|(_, value)| value.as_str());
                    let ctx = caller::context(&state.app, &headers, addr, authorization)
                        .await
                        .map_err(ApiError::from)?;
                    if matches!(ctx.actor, Actor::Anonymous) {
                        return Err(ApiError::new(
                            distribox_commands::ErrorCode::Unauthenticated,
                            "log in first",
                        )
                        .into());
                    }
                    let revocable =
                        revocations.register(ctx.revocation_keys(), ctx.authenticated_at);
                    if let Some(sender) =
                        registered.lock().unwrap_or_else(|p| p.into_inner()).take()
                    {
                        let _ = sender.send(revocable);
                    }
                    let mut data = Data::default();
                    data.insert(ctx);
                    Ok(data)
                })
                .serve();
            let revoked = async {
                match revocable.await {
                    Ok(mut revocable) => revocable.revoked().await,
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                () = serve => {}
                reason = revoked => tracing::info!(%reason, "subscription connection closed"),
            }
        })
}
