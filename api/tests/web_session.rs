//! The web app's session cookie: set at login (HttpOnly, SameSite=Strict, Secure behind an
//! HTTPS proxy), accepted on `/graphql` and `/graphql/ws`, refused from foreign origins, ended
//! by logout; and `/graphql` accepting JSON bodies only.

mod support;

use futures::{SinkExt, StreamExt};
use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use serde_json::{json, Value};
use support::{spawn_app, Libvirt, TestApp, ADMIN_PASSWORD};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const LOGIN: &str = "mutation($p: String!) { login(username: \"admin\", password: $p) { token } }";
const ME: &str = "{ me { username } }";

fn body(query: &str, variables: Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

/// Logs in; the `Set-Cookie` header and the token in the body.
async fn login(app: &TestApp, extra: &[(&str, &str)]) -> (String, String) {
    let mut request = app
        .http
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .body(body(LOGIN, json!({ "p": ADMIN_PASSWORD })));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .expect("login sets the session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let json: Value = response.json().await.unwrap();
    let token = json["data"]["login"]["token"].as_str().unwrap().to_owned();
    (cookie, token)
}

/// `{ me }` sent with the cookie only (and `origin` if given): the username, or the error code.
async fn me_with_cookie(app: &TestApp, cookie: &str, origin: Option<&str>) -> String {
    let mut request = app
        .http
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .header(COOKIE, cookie)
        .body(body(ME, json!({})));
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    let json: Value = request.send().await.unwrap().json().await.unwrap();
    match json["data"]["me"]["username"].as_str() {
        Some(name) => name.to_owned(),
        None => json["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

#[tokio::test]
async fn the_session_cookie_logs_the_browser_in_and_logout_ends_it() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let (set_cookie, token) = login(&app, &[]).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    assert_eq!(cookie, format!("distribox_session={token}"));

    assert_eq!(me_with_cookie(&app, &cookie, None).await, "admin");
    // The page's own origin may use it; another site's page may not.
    let own = format!("http://{}", app.addr);
    assert_eq!(me_with_cookie(&app, &cookie, Some(&own)).await, "admin");
    assert_eq!(
        me_with_cookie(&app, &cookie, Some("https://evil.example")).await,
        "UNAUTHENTICATED"
    );
    // A bearer token wins over the cookie: API clients are unaffected.
    let other = app.login().await;
    let bearer: Value = app
        .http
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .header(COOKIE, "distribox_session=not-a-session")
        .bearer_auth(&other)
        .body(body(ME, json!({})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bearer["data"]["me"]["username"], "admin");

    // Logout with the cookie ends the session and tells the browser to forget it.
    let response = app
        .http
        .post(app.url("/graphql"))
        .header(CONTENT_TYPE, "application/json")
        .header(COOKIE, &cookie)
        .body(body("mutation { logout }", json!({})))
        .send()
        .await
        .unwrap();
    let cleared = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(me_with_cookie(&app, &cookie, None).await, "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_cookie_is_secure_behind_an_https_proxy() {
    let app = support::spawn_app_with(Libvirt::TestDriver, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let (set_cookie, token) = login(&app, &[("x-forwarded-proto", "https")]).await;
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap();
    assert_eq!(cookie, format!("__Host-distribox_session={token}"));
    assert_eq!(me_with_cookie(&app, cookie, None).await, "admin");
}

#[tokio::test]
async fn graphql_takes_json_bodies_only() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let (set_cookie, _) = login(&app, &[]).await;
    let cookie = set_cookie.split(';').next().unwrap();
    // What a form on another site can send without asking first.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/graphql",
    ] {
        let response = app
            .http
            .post(app.url("/graphql"))
            .header(CONTENT_TYPE, content_type)
            .header(COOKIE, cookie)
            .body(body("mutation { logout }", json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["errors"][0]["extensions"]["code"], "BAD_INPUT");
    }
    // Nothing was done: the session still works.
    assert_eq!(me_with_cookie(&app, cookie, None).await, "admin");
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "application/graphql-response+json",
    ] {
        let response = app
            .http
            .post(app.url("/graphql"))
            .header(CONTENT_TYPE, content_type)
            .body(body(ME, json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{content_type}");
    }
}

#[tokio::test]
async fn subscriptions_authenticate_with_the_cookie_of_the_upgrade_request() {
    let app = spawn_app(Libvirt::TestDriver).await;
    let (set_cookie, _) = login(&app, &[]).await;
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let connect = |cookie: Option<String>, origin: Option<&'static str>| {
        let mut request = app.ws_url("/graphql/ws").into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        if let Some(cookie) = cookie {
            headers.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
        }
        if let Some(origin) = origin {
            headers.insert("origin", HeaderValue::from_static(origin));
        }
        tokio_tungstenite::connect_async(request)
    };
    let (mut ws, _) = connect(Some(cookie.clone()), None).await.unwrap();
    ws.send(Message::text(
        json!({ "type": "connection_init" }).to_string(),
    ))
    .await
    .unwrap();
    let ack: Value = match ws.next().await.unwrap().unwrap() {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ack["type"], "connection_ack", "{ack}");

    // Without the cookie, `connection_init` without a token is refused.
    let (mut ws, _) = connect(None, None).await.unwrap();
    ws.send(Message::text(
        json!({ "type": "connection_init" }).to_string(),
    ))
    .await
    .unwrap();
    let refused = ws.next().await.unwrap();
    assert!(
        !matches!(&refused, Ok(Message::Text(text)) if text.contains("connection_ack")),
        "{refused:?}"
    );
    // And a foreign page is refused before the upgrade.
    assert!(connect(Some(cookie), Some("https://evil.example"))
        .await
        .is_err());
}
