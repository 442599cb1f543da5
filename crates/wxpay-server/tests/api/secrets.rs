//! Secrets never reach a log line or a `Debug` dump, and never travel to a host WeChat's
//! answer points at.
//!
//! Login, OAuth and the access-token refresh carry the AppSecret in the URL query, as
//! WeChat requires, and the ticket call the access token. A failed call must not log that
//! URL, and a redirect must not be followed with it. The suite-wide check (every secret of
//! every test's server against everything logged, see `log_capture`) runs on each app's
//! drop; these tests provoke the failures on purpose and also check that the error line is
//! really there, so a capture that silently saw nothing cannot pass them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::RawQuery;
use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use wxpay_server::config::VerifyMode;
use wxpay_server::secret::{Secret, SecretSource};
use wxpay_sim::config::AppKind;

use crate::helpers::TestApp;
use crate::log_capture;

const CANARY_MINI_SECRET: &str = "CANARY0mini0program0app0secret00";
const CANARY_OA_SECRET: &str = "CANARY0official0account0secret00";
const CANARY_ACCESS_TOKEN: &str = "CANARY0access0token0000000000000000000";

/// A URL on which nothing listens (a port bound, read and released).
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A server whose apps carry canary AppSecrets and whose open-platform API is `open_api`.
async fn canary_app(open_api: String) -> TestApp {
    TestApp::spawn_tweaked(VerifyMode::Certificate, false, move |settings, _| {
        let merchant = settings.merchant.as_mut().expect("merchant");
        let canary = |value: &str| Some(SecretSource::Inline(Secret::new(value.to_owned())));
        if let Some(app) = merchant.miniprogram.as_mut() {
            app.secret = canary(CANARY_MINI_SECRET);
        }
        if let Some(app) = merchant.official_account.as_mut() {
            app.secret = canary(CANARY_OA_SECRET);
        }
        settings.upstream.open_api_base_url = open_api;
        settings.upstream.max_retries = 1;
    })
    .await
}

#[tokio::test]
async fn no_secret_reaches_the_logs_when_the_open_api_cannot_be_reached() {
    let (logs, _guard) = log_capture::scoped();
    let app = canary_app(closed_url()).await;

    // AppSecret in the query: code2Session, OAuth, the access-token refresh.
    let (status, body) = app
        .post(
            "/api/login/miniprogram",
            None,
            json!({ "code": "any-code" }),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = app
        .post("/api/login/oauth", None, json!({ "code": "any-code" }))
        .await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = app
        .get("/api/jssdk/config?url=https%3A%2F%2Fshop.example%2F", None)
        .await;
    assert_eq!(status, 503, "{body}");

    // The access token in the query: the ticket call, with a cached token.
    let appid = app.appid(AppKind::OfficialAccount);
    app.state
        .store
        .put_credential(
            &format!("access_token:{appid}"),
            CANARY_ACCESS_TOKEN,
            app.state.clock.now() + 3600,
        )
        .await
        .expect("seed the token");
    let (status, body) = app
        .get("/api/jssdk/config?url=https%3A%2F%2Fshop.example%2F", None)
        .await;
    assert_eq!(status, 503, "{body}");

    let logged = logs.since(0);
    let errors = logged
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("request failed"))
        .count();
    assert_eq!(
        errors, 4,
        "each failed call is logged once at ERROR:\n{logged}"
    );
    assert!(
        logged.contains("WeChat Pay unreachable"),
        "the cause stays readable:\n{logged}"
    );
    for canary in [CANARY_MINI_SECRET, CANARY_OA_SECRET, CANARY_ACCESS_TOKEN] {
        assert!(
            !logged.contains(canary),
            "a secret reached the logs: {}",
            logged
                .lines()
                .find(|l| l.contains(canary))
                .map(|l| l.replace(canary, "<CANARY>"))
                .unwrap_or_default()
        );
    }
    // Debug dumps of what holds the secrets redact them.
    let dumps = format!("{:?} {:?}", app.state.settings, app.state.apps);
    for canary in [CANARY_MINI_SECRET, CANARY_OA_SECRET] {
        assert!(!dumps.contains(canary), "a Debug dump shows a secret");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_upstream_redirect_is_not_followed_with_the_secret() {
    // A host that answers every call with a redirect to another host, carrying the query
    // (the AppSecret) along; the other host counts what reaches it.
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let thief = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { "{}" }
    });
    let thief_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let thief_url = format!(
        "http://127.0.0.1:{}",
        thief_listener.local_addr().expect("addr").port()
    );
    tokio::spawn(async move { axum::serve(thief_listener, thief).await });
    let redirector = Router::new().route(
        "/sns/jscode2session",
        get(move |RawQuery(query): RawQuery| async move {
            let location = format!("{thief_url}/steal?{}", query.unwrap_or_default());
            (StatusCode::FOUND, [(header::LOCATION, location)], "")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let redirector_url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    tokio::spawn(async move { axum::serve(listener, redirector).await });

    let app = canary_app(redirector_url).await;
    let (status, body) = app
        .post(
            "/api/login/miniprogram",
            None,
            json!({ "code": "any-code" }),
        )
        .await;
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the redirect was followed: the AppSecret went to another host"
    );
    assert_eq!(status, 503, "a redirect is no answer: {body}");
    app.stop().await;
}
