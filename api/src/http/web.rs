//! The browser app, embedded in the binary so an install is one file. Unknown paths get the app's
//! page, which routes on the client; unknown paths that look like files get a 404.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";
const TEXT: &str = "text/plain; charset=utf-8";

/// `style-src 'unsafe-inline'`: xterm.js creates `<style>` elements and sets `style` attributes
/// while it renders, which `style-src 'self'` would block. Scripts stay `'self'` only.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
    style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

const INDEX: &[u8] = include_bytes!("../../../web/index.html");

/// Path, content type, body.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("/app.js", JS, include_bytes!("../../../web/app.js")),
    ("/api.js", JS, include_bytes!("../../../web/api.js")),
    ("/console.js", JS, include_bytes!("../../../web/console.js")),
    ("/dom.js", JS, include_bytes!("../../../web/dom.js")),
    ("/events.js", JS, include_bytes!("../../../web/events.js")),
    ("/store.js", JS, include_bytes!("../../../web/store.js")),
    ("/style.css", CSS, include_bytes!("../../../web/style.css")),
    (
        "/favicon.svg",
        SVG,
        include_bytes!("../../../web/favicon.svg"),
    ),
    (
        "/vendor/xterm.js",
        JS,
        include_bytes!("../../../web/vendor/xterm.js"),
    ),
    (
        "/vendor/xterm.css",
        CSS,
        include_bytes!("../../../web/vendor/xterm.css"),
    ),
    (
        "/vendor/xterm-LICENSE.txt",
        TEXT,
        include_bytes!("../../../web/vendor/xterm-LICENSE.txt"),
    ),
];

/// A validator per file (keyed by its path, `""` for the page), so browsers revalidate
/// (`no-cache`) but skip downloading what has not changed.
fn etag(path: &str) -> &'static str {
    static TAGS: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        std::iter::once(("", INDEX))
            .chain(ASSETS.iter().map(|(path, _, body)| (*path, *body)))
            .map(|(path, body)| {
                let mut hasher = DefaultHasher::new();
                body.hash(&mut hasher);
                (path, format!("\"{:016x}\"", hasher.finish()))
            })
            .collect()
    });
    tags.get(path).map(String::as_str).unwrap_or("\"0\"")
}

/// The path's last segment has a dot: a file the app would have asked for by its exact name.
fn looks_like_a_file(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|segment| segment.contains('.'))
}

pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let (key, content_type, body) = match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((key, content_type, body)) => (*key, *content_type, *body),
        None if looks_like_a_file(path) => {
            return (StatusCode::NOT_FOUND, "not found").into_response()
        }
        None => ("", HTML, INDEX),
    };
    let tag = etag(key);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|candidate| candidate.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
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
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_routes_get_the_page_and_missing_files_do_not() {
        assert!(!looks_like_a_file("/"));
        assert!(!looks_like_a_file("/vms/5d1c/console"));
        assert!(looks_like_a_file("/vendor/xterm.js.map"));
        assert!(looks_like_a_file("/favicon.ico"));
    }

    #[test]
    fn every_body_has_its_own_tag() {
        let mut tags: Vec<_> = ASSETS.iter().map(|(path, _, _)| etag(path)).collect();
        tags.push(etag(""));
        assert!(tags.iter().all(|t| *t != "\"0\""));
        let count = tags.len();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), count);
    }
}
