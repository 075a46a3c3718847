//! The web app's session lives in a cookie so every tab of the browser shares one login. The
//! cookie is `HttpOnly` (page scripts never see the token), `SameSite=Strict` (other sites'
//! pages can't make the browser send it) and `Secure` when the app is served over HTTPS. API
//! clients keep using `Authorization: Bearer`, which wins when both are present.

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

/// The cookie's name. Its value is the same opaque token `login` returns.
pub const NAME: &str = "distribox_session";

/// The session token the browser sent in its `Cookie` header, if any.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == NAME && !cookie.value().is_empty())
        .map(|cookie| cookie.value().to_owned())
}

/// How the browser reached Distribox, which decides whether the cookie may be `Secure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    pub https: bool,
}

impl Transport {
    /// Distribox itself serves plain HTTP; HTTPS is a proxy's job, believed only from a trusted
    /// proxy's `X-Forwarded-Proto`.
    pub fn of(headers: &HeaderMap, peer: IpAddr, trusted_proxies: &[IpAddr]) -> Self {
        let forwarded_https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        Self {
            https: forwarded_https && trusted_proxies.contains(&peer),
        }
    }

    /// `Set-Cookie` starting a browser session with `token`. No expiry: the server ends the
    /// session (idle and absolute lifetimes), and the browser forgets it when it closes.
    pub fn start(self, token: &str) -> HeaderValue {
        self.header(Cookie::build((NAME, token.to_owned())))
    }

    /// `Set-Cookie` making the browser forget the session, in every tab.
    pub fn end(self) -> HeaderValue {
        self.header(Cookie::build((NAME, "")).max_age(cookie::time::Duration::ZERO))
    }

    fn header(self, cookie: cookie::CookieBuilder<'static>) -> HeaderValue {
        let cookie = cookie
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.https)
            .build();
        // Tokens are URL-safe base64 and the name is fixed: always a valid header value.
        HeaderValue::from_str(&cookie.to_string()).expect("a session cookie is a valid header")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(
            token(&cookies("theme=dark; distribox_session=abc; x=1")),
            Some("abc".to_owned())
        );
        assert_eq!(token(&cookies("distribox_session=")), None);
        assert_eq!(token(&cookies("other=abc")), None);
        assert_eq!(token(&HeaderMap::new()), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_only_behind_https() {
        let plain = Transport { https: false }.start("tok");
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with("distribox_session=tok"));
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(plain.contains(attribute), "{plain} has {attribute}");
        }
        assert!(!plain.contains("Secure"));
        let secure = Transport { https: true }.start("tok");
        assert!(secure.to_str().unwrap().contains("Secure"));
        assert!(Transport { https: false }
            .end()
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
    }

    #[test]
    fn https_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(Transport::of(&headers, proxy, &[proxy]).https);
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(!Transport::of(&headers, stranger, &[proxy]).https);
        assert!(!Transport::of(&HeaderMap::new(), proxy, &[proxy]).https);
    }
}
