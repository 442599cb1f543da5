//! The frontend API's promises that the flows do not show by themselves: `wx.config`
//! credentials fetched once under concurrency, closing one's own order, `session_key`
//! neither answered nor kept, and the status endpoint asking WeChat only when its last check
//! is stale.
//!
//! Calls the server makes to the simulator are counted with the simulator's `latency`
//! faults: each call of the endpoint consumes one and is otherwise handled normally, so the
//! number consumed is the number of calls.

use serde_json::{json, Value};
use wxpay_server::config::VerifyMode;

use crate::helpers::TestApp;

/// More than any test here can consume.
const COUNTER: u64 = 1000;

/// Arms a pass-through counter on a simulator endpoint (`delay_ms` of latency per call).
async fn count_calls(app: &TestApp, endpoint: &str, delay_ms: u64) {
    let response = app
        .http
        .post(format!("{}/__sim/faults", app.sim_url()))
        .json(&json!({
            "endpoint": endpoint, "kind": "latency", "count": COUNTER, "delay_ms": delay_ms
        }))
        .send()
        .await
        .expect("arm counter");
    assert!(response.status().is_success(), "arming {endpoint} failed");
}

/// Calls of `endpoint` since [`count_calls`].
async fn calls(app: &TestApp, endpoint: &str) -> u64 {
    COUNTER - app.faults_left(endpoint).await
}

#[tokio::test]
async fn concurrent_jssdk_configs_fetch_the_token_and_ticket_once() {
    let app = TestApp::spawn().await;
    // Slow answers keep every request waiting on the same refresh.
    count_calls(&app, "login.token", 100).await;
    count_calls(&app, "login.ticket", 100).await;
    let requests = (0..16).map(|i| {
        let url = format!(
            "{}/api/jssdk/config?url=http%3A%2F%2Flocalhost%2Fpay%3Fi%3D{i}",
            app.url
        );
        let http = app.http.clone();
        tokio::spawn(async move {
            let response = http.get(url).send().await.expect("config");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or_default())
        })
    });
    let mut signatures = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        let (status, config) = request.await.expect("task");
        assert_eq!(status, 200, "{config}");
        signatures.push(config["signature"].as_str().map(str::to_owned));
    }
    assert!(signatures.iter().all(Option::is_some));
    assert_eq!(calls(&app, "login.token").await, 1, "one access token");
    assert_eq!(calls(&app, "login.ticket").await, 1, "one jsapi_ticket");
    // Later requests are served from the cache.
    let (status, _) = app
        .get("/api/jssdk/config?url=http%3A%2F%2Flocalhost%2F", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(calls(&app, "login.token").await, 1);
    assert_eq!(calls(&app, "login.ticket").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_owner_closes_their_own_order() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    let close = format!("/api/orders/{no}/close");
    let (status, view) = app.post(&close, Some(&token), json!({})).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (200, Some("CLOSED")),
        "{view}"
    );
    assert_eq!(app.stored(&no).await.state.as_str(), "CLOSED");
    let seen = app.sim_order(&no).await;
    assert_eq!(
        seen["trade_state"], "CLOSED",
        "WeChat closed it too: {seen}"
    );
    // Closing again is harmless; paying is refused.
    let (status, view) = app.post(&close, Some(&token), json!({})).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (200, Some("CLOSED")),
        "{view}"
    );
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("order_closed"))
    );
    app.stop().await;
}

#[tokio::test]
async fn the_session_key_never_leaves_the_server() {
    let app = TestApp::spawn().await;
    let (code, _) = app
        .control
        .mint_login_code(&app.appid(wxpay_sim::config::AppKind::MiniProgram), None)
        .expect("code");
    let response = app
        .http
        .post(format!("{}/api/login/miniprogram", app.url))
        .json(&json!({ "code": code }))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).expect("json");
    let mut fields: Vec<&str> = body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(fields, ["expires_in", "openid", "token"], "{text}");
    assert!(!text.contains("session_key"), "{text}");
    // Nothing reads it, so the server does not keep it either: the column is gone.
    let pool = sqlx::SqlitePool::connect(&app.state.settings.database.url)
        .await
        .expect("database");
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('sessions')")
        .fetch_all(&pool)
        .await
        .expect("columns");
    assert!(!columns.is_empty());
    assert!(!columns.iter().any(|c| c == "session_key"), "{columns:?}");
    pool.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_status_endpoint_asks_wechat_only_when_its_last_check_is_stale() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.worker.status_stale_secs = 3600;
    })
    .await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    count_calls(&app, "v3.query", 0).await;
    let path = format!("/api/orders/{no}");
    // Never checked: the status asks WeChat once.
    let (status, view) = app.get(&path, Some(&token)).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("NOTPAY")));
    assert_eq!(calls(&app, "v3.query").await, 1);
    // Checked a moment ago: answered from the store, however often it is asked.
    for _ in 0..3 {
        let (status, view) = app.get(&path, Some(&token)).await;
        assert_eq!((status, view["state"].as_str()), (200, Some("NOTPAY")));
    }
    assert_eq!(calls(&app, "v3.query").await, 1, "no query while fresh");
    app.stop().await;
}
