//! The web app's session lives in a cookie so every tab of the browser shares one login. The
//! cookie is `HttpOnly` (page scripts never see the token), `SameSite=Strict` (other sites'
//! pages can't make the browser send it) and `Secure` when the app is served over HTTPS. API
//! clients keep using `Authorization: Bearer`, which wins when both are present.

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

/// The cookie's name over plain HTTP. Its value is the same opaque token `login` returns.
pub const NAME: &str = "distribox_session";
/// Its name over HTTPS: browsers accept a `__Host-` cookie only from the host itself (Secure,
/// no `Domain`), so a sibling subdomain can't plant one to pin a victim to its own session.
pub const SECURE_NAME: &str = "__Host-distribox_session";

/// The session token the browser sent in its `Cookie` header, if any: the `__Host-` cookie
/// when there is one, else the plain one. Two cookies of the same name mean someone planted
/// one; neither is trusted.
pub fn token(headers: &HeaderMap) -> Option<String> {
    let cookies: Vec<Cookie<'_>> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|cookie| !cookie.value().is_empty())
        .collect();
    let named =
        |name: &str| -> Vec<&Cookie<'_>> { cookies.iter().filter(|c| c.name() == name).collect() };
    let (secure, plain) = (named(SECURE_NAME), named(NAME));
    let chosen = if secure.is_empty() { plain } else { secure };
    match chosen.as_slice() {
        [only] => Some(only.value().to_owned()),
        _ => None,
    }
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
        self.header(Cookie::build((self.name(), token.to_owned())))
    }

    /// `Set-Cookie` making the browser forget the session, in every tab.
    pub fn end(self) -> HeaderValue {
        self.header(Cookie::build((self.name(), "")).max_age(cookie::time::Duration::ZERO))
    }

    fn name(self) -> &'static str {
        if self.https {
            SECURE_NAME
        } else {
            NAME
        }
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
    fn the_host_only_cookie_wins_and_duplicates_are_trusted_by_nobody() {
        assert_eq!(
            token(&cookies(
                "distribox_session=plain; __Host-distribox_session=host"
            )),
            Some("host".to_owned())
        );
        // A sibling subdomain's planted cookie beside the real one.
        assert_eq!(
            token(&cookies(
                "distribox_session=planted; distribox_session=real"
            )),
            None
        );
        assert_eq!(
            token(&cookies(
                "__Host-distribox_session=a; __Host-distribox_session=b"
            )),
            None
        );
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
        let secure = secure.to_str().unwrap();
        assert!(
            secure.starts_with("__Host-distribox_session=tok"),
            "{secure}"
        );
        assert!(secure.contains("Secure") && secure.contains("Path=/"));
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
