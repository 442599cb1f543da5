//! What one client can cost the merchant: disk through the notification endpoints, and the
//! merchant's WeChat rate limit through order creation, pay and the refund status.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wxpay_core::v3::notification::EventType;
use wxpay_server::config::VerifyMode;
use wxpay_sim::config::AppKind;

use crate::helpers::{NotifySigning, TestApp};

/// A notification whose signature cannot verify (the body was changed after signing).
fn forged_from(client: &str) -> NotifySigning {
    NotifySigning {
        tamper_body: Some(("test".into(), "tesT".into())),
        forwarded_for: Some(client.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_unverified_notification_is_kept_bounded() {
    let app = TestApp::spawn().await;
    let body = format!(r#"{{"id":"EV-forged","pad":"{}"}}"#, "x".repeat(50_000));
    let response = app
        .http
        .post(format!("{}/notify/v3/pay", app.url))
        .header("content-type", "application/json")
        .header("wechatpay-serial", "S".repeat(4000))
        .header("wechatpay-signature", "AAAA")
        .header("wechatpay-timestamp", "1")
        .header("wechatpay-nonce", "n")
        .header("wechatpay-x-padding", "p".repeat(4000))
        .body(body.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 401);
    let pool = app.db().await;
    let kept: i64 = sqlx::query_scalar("SELECT length(body) FROM notifications")
        .fetch_one(&pool)
        .await
        .expect("row");
    assert!(kept <= 1024, "{kept} bytes of an unverified body kept");
    let (len, sha256, headers): (i64, String, String) =
        sqlx::query_as("SELECT body_len, body_sha256, headers FROM notifications")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(len, i64::try_from(body.len()).expect("len"));
    let digest: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha256, digest);
    assert!(headers.len() <= 2048, "{} bytes of headers", headers.len());
    assert!(!headers.contains("wechatpay-x-padding"), "{headers}");
    pool.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_v2_refund_failure_before_decryption_counts_as_unverified() {
    // `return_code` FAIL is read before `req_info` is decrypted, which is what
    // authenticates a v2 refund notification: anyone can send it.
    let app = TestApp::spawn().await;
    let body = format!(
        "<xml><return_code>FAIL</return_code><return_msg>{}</return_msg></xml>",
        "x".repeat(50_000)
    );
    let response = app
        .http
        .post(format!("{}/notify/v2/refund", app.url))
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 400);
    let pool = app.db().await;
    let (kept, verification): (i64, String) =
        sqlx::query_as("SELECT length(body), verification FROM notifications")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert!(kept <= 1024, "{kept} bytes of an unverified body kept");
    assert_ne!(verification, "ok");
    pool.close().await;
    app.stop().await;
}

#[tokio::test]
async fn failures_from_one_client_are_limited_and_a_genuine_notification_still_credits() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.limits.notify_failures_per_minute = 3;
    })
    .await;
    let (_, no) = app.prepaid_order().await;
    let plaintext = app.transaction_plaintext(&no, 3000, &app.appid(AppKind::MiniProgram));
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, _) = app
            .send_v3_notification(
                "/notify/v3/pay",
                EventType::TransactionSuccess,
                &plaintext,
                &forged_from("203.0.113.7"),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let forged_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE verification <> 'ok'")
            .fetch_one(&app.db().await)
            .await
            .expect("count");
    assert_eq!(forged_rows, 3, "nothing is stored past the limit");
    // A v2 endpoint shares the client's budget; its 429 keeps WeChat's XML shape.
    let response = app
        .http
        .post(format!("{}/notify/v2/pay", app.url))
        .header("x-forwarded-for", "203.0.113.7")
        .body("<xml><return_code>SUCCESS</return_code></xml>")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert!(response.text().await.expect("body").contains("FAIL"));
    // Another client has its own budget.
    let (status, _) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &forged_from("203.0.113.8"),
        )
        .await;
    assert_eq!(status, 401);
    // A genuine notification from the limited address is still verified and credited.
    let genuine = NotifySigning {
        forwarded_for: Some("203.0.113.7".into()),
        ..Default::default()
    };
    let (status, body) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &genuine,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.stored(&no).await.state.as_str(), "SUCCESS");
    app.stop().await;
}

#[tokio::test]
async fn the_worker_keeps_the_notification_log_for_the_configured_days() {
    let app = TestApp::spawn().await;
    let (_, no) = app.prepaid_order().await;
    let plaintext = app.transaction_plaintext(&no, 3000, &app.appid(AppKind::MiniProgram));
    app.send_v3_notification(
        "/notify/v3/pay",
        EventType::TransactionSuccess,
        &plaintext,
        &NotifySigning::default(),
    )
    .await;
    app.send_v3_notification(
        "/notify/v3/pay",
        EventType::TransactionSuccess,
        &plaintext,
        &forged_from("203.0.113.9"),
    )
    .await;
    assert_eq!(app.count_rows("notifications").await, 2);
    let day = 24 * 3600;
    let now = app.state.clock.now();
    wxpay_server::worker::run_pass_at(&app.state, "w-test", now + 89 * day)
        .await
        .expect("pass");
    assert_eq!(
        app.count_rows("notifications").await,
        2,
        "90 days by default"
    );
    wxpay_server::worker::run_pass_at(&app.state, "w-test", now + 91 * day)
        .await
        .expect("pass");
    assert_eq!(app.count_rows("notifications").await, 0);
    app.stop().await;
}

/// Creates an order for `token` and answers the raw response.
async fn create(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/api/orders", app.url))
        .bearer_auth(token)
        .json(&json!({ "items": [{ "product_id": "tea" }] }))
        .send()
        .await
        .expect("create")
}

async fn pay(app: &TestApp, token: &str, no: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/api/orders/{no}/pay", app.url))
        .bearer_auth(token)
        .json(&json!({ "channel": "native" }))
        .send()
        .await
        .expect("pay")
}

/// Asserts a 429 `rate_limited` with a positive `Retry-After`.
async fn assert_limited(response: reqwest::Response) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!(retry_after >= 1, "{retry_after}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn one_user_cannot_create_or_pay_past_their_limits() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.limits.orders_per_minute = 3;
        settings.limits.pay_per_minute = 2;
    })
    .await;
    let (alice, _) = app.login_miniprogram().await;
    let (bob, _) = app.login_miniprogram().await;
    let mut orders = Vec::new();
    for _ in 0..3 {
        let response = create(&app, &alice).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        orders.push(body["out_trade_no"].as_str().expect("no").to_owned());
    }
    assert_limited(create(&app, &alice).await).await;
    assert_eq!(create(&app, &bob).await.status(), 200, "bob has his own");

    assert_eq!(pay(&app, &alice, &orders[0]).await.status(), 200);
    assert_eq!(pay(&app, &alice, &orders[1]).await.status(), 200);
    app.count_calls("v3.native").await;
    assert_limited(pay(&app, &alice, &orders[2]).await).await;
    assert_eq!(
        app.calls("v3.native").await,
        0,
        "a limited pay asks WeChat nothing"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_refund_status_asks_wechat_only_when_its_last_check_is_stale() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.worker.status_stale_secs = 3600;
    })
    .await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    let (status, refund) = app.refund(&no, json!({ "amount_fen": 100 })).await;
    assert_eq!(
        (status, refund["status"].as_str()),
        (200, Some("PROCESSING")),
        "{refund}"
    );
    let path = format!(
        "/api/refunds/{}",
        refund["out_refund_no"].as_str().expect("out_refund_no")
    );
    app.count_calls("v3.refund_query").await;
    for _ in 0..4 {
        let (status, view) = app.get(&path, Some(&token)).await;
        assert_eq!((status, view["status"].as_str()), (200, Some("PROCESSING")));
    }
    assert_eq!(
        app.calls("v3.refund_query").await,
        0,
        "the refund was checked when it was submitted a moment ago"
    );
    app.stop().await;
}
