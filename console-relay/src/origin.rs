//! Cross-site websocket hijacking defence: browsers always send `Origin` on websocket requests,
//! so a page on another site can't open a console with the user's ticket or cookie.

use axum::http::HeaderMap;

/// Origins allowed to open websockets, besides the server's own.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// `allowed` holds exact origins such as `https://lab.example.org`.
    pub fn new(allowed: impl IntoIterator<Item = String>) -> Self {
        Self {
            allowed: allowed
                .into_iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect(),
        }
    }

    /// No `Origin` (a non-browser client) is allowed; a browser origin must be the server's own
    /// (same host as the `Host` header) or listed.
    pub fn permits(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if self.allowed.iter().any(|a| a == origin) {
            return true;
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok());
        match (origin.split_once("://"), host) {
            (Some((scheme, origin_host)), Some(host)) => {
                matches!(scheme, "http" | "https") && origin_host.eq_ignore_ascii_case(host)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert("origin", HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn same_origin_listed_and_absent_are_allowed_others_refused() {
        let policy = OriginPolicy::new(["https://lab.example.org/".to_owned()]);
        assert!(policy.permits(&headers(None, "localhost:3000")));
        assert!(policy.permits(&headers(Some("http://localhost:3000"), "localhost:3000")));
        assert!(policy.permits(&headers(Some("https://lab.example.org"), "localhost:3000")));
        assert!(!policy.permits(&headers(Some("https://evil.example"), "localhost:3000")));
        assert!(!policy.permits(&headers(Some("http://localhost:3001"), "localhost:3000")));
        assert!(!policy.permits(&headers(Some("null"), "localhost:3000")));
    }
}
