//! The browser app, embedded in the binary so an install is one file. Unknown paths get the app's
//! page, which routes on the client.

use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../../../web/index.html");
const APP_JS: &str = include_str!("../../../web/app.js");
const STYLE: &str = include_str!("../../../web/style.css");

pub async fn serve(uri: Uri) -> Response {
    let (content_type, body) = match uri.path() {
        "/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/style.css" => ("text/css; charset=utf-8", STYLE),
        _ => ("text/html; charset=utf-8", INDEX),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; connect-src 'self'; img-src 'self' data:"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
