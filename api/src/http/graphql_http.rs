//! `/graphql` per the GraphQL-over-HTTP specification: `application/graphql-response+json` when
//! the client accepts it (with 4xx for requests that fail to parse or validate), legacy
//! `application/json` (always 200) otherwise, 406 for neither; no mutations over GET.
//!
//! A POST must say its body is JSON (415 otherwise). Browsers send the session cookie with
//! whatever a page submits, and a form on another site can post `text/plain` or form data
//! without asking first; only JSON needs the CORS preflight such a page can't pass.

use std::net::SocketAddr;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::GraphQLRequest;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use distribox_commands::{Actor, ErrorCode};

use super::caller;
use super::session_cookie::Transport;
use super::HttpState;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    GraphqlResponse,
    Json,
}

fn negotiate(headers: &HeaderMap) -> Option<Format> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else {
        return Some(Format::Json);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .collect();
    if types.contains(&GRAPHQL_RESPONSE) {
        Some(Format::GraphqlResponse)
    } else if types
        .iter()
        .any(|t| matches!(*t, JSON | "application/*" | "*/*"))
    {
        Some(Format::Json)
    } else {
        None
    }
}

fn body(format: Format, status: StatusCode, json: Vec<u8>) -> Response {
    let content_type = match format {
        Format::GraphqlResponse => GRAPHQL_RESPONSE,
        Format::Json => JSON,
    };
    let mut response = (status, json).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A response with one error and no data, for requests that never reached execution.
fn request_error(format: Format, status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let json = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] });
    body(format, status, json.to_string().into_bytes())
}

/// Whether a POST body is declared as JSON, the only encoding `/graphql` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .is_some_and(|media| media == JSON || media == GRAPHQL_RESPONSE)
}

fn is_mutation(query: &str) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    match document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => {
            ops.values().any(|op| op.node.ty == OperationType::Mutation)
        }
    }
}

pub async fn handle(
    State(state): State<HttpState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    request: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let Some(format) = negotiate(&headers) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            format!("accepts {GRAPHQL_RESPONSE} or {JSON}"),
        )
            .into_response();
    };
    if method == Method::POST && !is_json(&headers) {
        let mut response = request_error(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadInput,
            &format!("send the request as {JSON}"),
        );
        response
            .headers_mut()
            .insert("accept-post", HeaderValue::from_static(JSON));
        return response;
    }
    let request = match request {
        Ok(request) => request.into_inner(),
        Err(rejection) => {
            let message = format!("malformed GraphQL request: {}", rejection.0);
            return request_error(
                format,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadInput,
                &message,
            );
        }
    };
    if method == Method::GET && is_mutation(&request.query) {
        let mut response = request_error(
            format,
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadInput,
            "mutations need POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let ctx = match caller::context(&state.app, &headers, addr, authorization).await {
        Ok(ctx) => ctx,
        Err(err) => {
            tracing::warn!(error = %err, "cannot check the bearer token");
            return request_error(
                format,
                StatusCode::SERVICE_UNAVAILABLE,
                err.code(),
                &err.public_message(),
            );
        }
    };
    let anonymous = matches!(ctx.actor, Actor::Anonymous);
    let transport = Transport::of(&headers, addr.ip(), &state.app.trusted_proxies);
    let mut request = request.data(ctx).data(transport);
    if anonymous {
        // The schema is no secret, but strangers have no need to map it.
        request = request.disable_introspection();
    }
    let response = state.schema.execute(request).await;
    // No data and errors without a path: the request failed to parse or validate.
    let rejected = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = if format == Format::GraphqlResponse && rejected {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    match serde_json::to_vec(&response) {
        Ok(json) => {
            let mut reply = body(format, status, json);
            // Resolvers set headers of their own: login and logout set the session cookie.
            reply.headers_mut().extend(response.http_headers);
            reply
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot serialise a GraphQL response");
            request_error(
                format,
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "internal error",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn content_negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Format::Json));
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Format::GraphqlResponse)
        );
        assert_eq!(negotiate(&accept("application/json")), Some(Format::Json));
        assert_eq!(negotiate(&accept("*/*")), Some(Format::Json));
        assert_eq!(negotiate(&accept("text/html")), None);
    }

    #[test]
    fn only_json_bodies_are_accepted() {
        let content_type = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(is_json(&content_type("application/json")));
        assert!(is_json(&content_type("Application/JSON; charset=utf-8")));
        assert!(is_json(&content_type("application/graphql-response+json")));
        assert!(!is_json(&content_type("text/plain")));
        assert!(!is_json(&content_type("application/x-www-form-urlencoded")));
        assert!(!is_json(&content_type("multipart/form-data; boundary=x")));
        assert!(!is_json(&content_type("application/graphql")));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn mutations_are_detected() {
        assert!(is_mutation(
            "mutation { login(username: \"a\", password: \"b\") { token } }"
        ));
        assert!(!is_mutation("{ me { id } }"));
        assert!(!is_mutation("query Q { me { id } } "));
    }
}
