//! The browser app (web/, built by Vite into web/dist), embedded in the binary so an install is
//! one file. Unknown paths get the app's page, which routes on the client; unknown paths that
//! look like files get a 404. Debug builds read web/dist from disk on each request, so a
//! rebuilt app shows without recompiling Rust.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::{EmbeddedFile, RustEmbed};

#[derive(RustEmbed)]
#[folder = "../web/dist"]
#[allow_missing = true]
#[exclude = ".vite/*"]
struct Bundle;

/// `style-src 'unsafe-inline'`: xterm.js, noVNC and GraphiQL set `style` attributes while they
/// render, which `style-src 'self'` would block. Scripts stay `'self'` only.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; \
    font-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Vite names what it builds under `assets/` by content hash: such a file never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

const NOT_BUILT: &str = "This Distribox was built without its web app. Build it with \
    `npm ci && npm run build` in web/, then rebuild Distribox (install.sh does both).";

/// The path's last segment has a dot: a file the app would have asked for by its exact name.
fn looks_like_a_file(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|segment| segment.contains('.'))
}

pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (name, file) = match page_or_file(path) {
        Some(found) => found,
        None if Bundle::get("index.html").is_none() => {
            return (StatusCode::SERVICE_UNAVAILABLE, NOT_BUILT).into_response()
        }
        None => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    let tag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|candidate| candidate.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(file.metadata.mimetype()) {
        h.insert(header::CONTENT_TYPE, value);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    let cache = if name.starts_with("assets/") {
        IMMUTABLE
    } else {
        "no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, value);
    }
    response
}

/// The bundled file for `path` (without its leading slash) and its name in the bundle.
fn page_or_file(path: &str) -> Option<(String, EmbeddedFile)> {
    let name = match path {
        "" => "index.html".to_owned(),
        "graphiql" | "graphiql/" => "graphiql.html".to_owned(),
        // The pages are served under their routes only, never as files.
        "index.html" | "graphiql.html" => return None,
        file if looks_like_a_file(file) => file.to_owned(),
        _ => "index.html".to_owned(),
    };
    Bundle::get(&name).map(|file| (name, file))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_routes_get_the_page_and_missing_files_do_not() {
        assert!(!looks_like_a_file("/"));
        assert!(!looks_like_a_file("/vms/5d1c/console"));
        assert!(looks_like_a_file("/assets/index-3f2a.js.map"));
        assert!(looks_like_a_file("/favicon.ico"));
    }
}
