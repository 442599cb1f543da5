//! Sessions end (logout, expiry purge), a stop is not held by a stuck worker pass, and an
//! upstream answer larger than the cap is refused.

use std::time::Duration;

use serde_json::Value;
use wxpay_core::v3::paths::Endpoint;
use wxpay_core::OutTradeNo;
use wxpay_server::config::VerifyMode;
use wxpay_server::upstream::UpstreamError;

use crate::helpers::TestApp;

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let logout = |token: String| {
        app.http
            .post(format!("{}/api/logout", app.url))
            .bearer_auth(token)
            .send()
    };
    let response = logout(token.clone()).await.expect("logout");
    assert_eq!(response.status(), 204);
    let (status, _) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!(status, 401, "the token no longer works");
    assert_eq!(app.count_rows("sessions").await, 0);
    let again = logout(token).await.expect("logout again");
    assert_eq!(again.status(), 401);
    let (_, document) = app.get("/openapi.json", None).await;
    assert!(
        document["paths"]["/api/logout"]["post"].is_object(),
        "{}",
        document["paths"]
    );
    app.stop().await;
}

#[tokio::test]
async fn the_worker_purges_expired_sessions() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    app.login_oauth().await;
    assert_eq!(app.count_rows("sessions").await, 2);
    let now = app.state.clock.now();
    wxpay_server::worker::run_pass_at(&app.state, "w-test", now + 60)
        .await
        .expect("pass");
    assert_eq!(app.count_rows("sessions").await, 2, "still valid");
    let (status, _) = app.get("/api/products", Some(&token)).await;
    assert_eq!(status, 200);
    let ttl = app.state.settings.server.session_ttl_secs;
    wxpay_server::worker::run_pass_at(&app.state, "w-test", now + ttl + 60)
        .await
        .expect("pass");
    assert_eq!(app.count_rows("sessions").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_worker_pass_stuck_on_wechat_does_not_hold_the_stop() {
    let mut app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.worker.enabled = true;
        settings.worker.interval_secs = 1;
        settings.upstream.timeout_ms = 60_000;
        settings.upstream.max_retries = 0;
        settings.server.shutdown_grace_secs = 1;
    })
    .await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    // The worker's query of the order hangs at WeChat far longer than the grace period.
    app.arm_fault_delayed("v3.query", "latency", 1, Some(15_000))
        .await;
    let mut waited = 0;
    while app.faults_left("v3.query").await > 0 {
        assert!(waited < 100, "the worker never queried the order");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    app.stop_server();
    let joined = tokio::time::timeout(Duration::from_secs(8), app.join_server()).await;
    assert!(
        joined.is_ok(),
        "the stop waited for the worker's pass beyond the grace period"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_upstream_answer_over_the_size_cap_is_refused_with_a_typed_error() {
    // Public-key mode: no certificate download at start, which the tiny cap would refuse.
    let app = TestApp::spawn_tweaked(VerifyMode::PublicKey, false, |settings, _| {
        settings.upstream.max_response_bytes = 16;
    })
    .await;
    let endpoint = Endpoint::QueryByOutTradeNo {
        out_trade_no: OutTradeNo::new("WX0000000000NOSUCH").unwrap(),
        mchid: app.state.v3.mchid().clone(),
    };
    let answer: Result<Value, UpstreamError> = app.state.v3.get(&endpoint).await;
    match answer {
        Err(UpstreamError::BodyTooLarge { limit }) => assert_eq!(limit, 16),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    app.stop().await;
}
