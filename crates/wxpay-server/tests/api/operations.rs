//! What an operator asks an instance: `/healthz`, `/readyz` and `/metrics`.

use wxpay_core::v3::notification::EventType;
use wxpay_sim::config::AppKind;

use crate::helpers::{NotifySigning, TestApp, ADMIN_TOKEN};

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.http.get(format!("{}/metrics", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("metrics");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The value of the series named exactly `series` (`name{labels}`), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn health_and_readiness_answer_for_a_running_instance() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/healthz", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ready")),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_notifications_upstream_calls_and_orders() {
    let app = TestApp::spawn().await;
    assert_eq!(scrape(&app, None).await.0, 401, "no token");
    assert_eq!(scrape(&app, Some("wrong")).await.0, 401, "wrong token");

    // One order paid through WeChat's own notification, one through a crafted notification
    // delivered twice, and one forged notification.
    let (token, _) = app.login_miniprogram().await;
    let paid = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &paid, "native").await;
    assert_eq!(status, 200, "{body}");
    app.control
        .pay(Some(app.mchid()), &paid, None)
        .expect("pay");
    app.wait_state(&paid, "SUCCESS").await;
    app.wait_deliveries_settled(&paid).await;

    let twice = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &twice, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    let total = app.stored(&twice).await.amount_fen;
    let plaintext = app.transaction_plaintext(&twice, total, &app.appid(AppKind::MiniProgram));
    let signing = NotifySigning {
        id: Some("EV-metrics-0001".into()),
        ..NotifySigning::default()
    };
    for _ in 0..2 {
        let (status, answer) = app
            .send_v3_notification(
                "/notify/v3/pay",
                EventType::TransactionSuccess,
                &plaintext,
                &signing,
            )
            .await;
        assert!((200..300).contains(&status), "{status} {answer}");
    }
    let forged = NotifySigning {
        tamper_body: Some(("resource".into(), "resourcX".into())),
        ..NotifySigning::default()
    };
    let (status, _) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &forged,
        )
        .await;
    assert!(status >= 400);
    // A genuine notification the rules refuse: an amount other than the order's.
    let short = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &short, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    let wrong = app.transaction_plaintext(&short, total - 1, &app.appid(AppKind::MiniProgram));
    let (status, _) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &wrong,
            &NotifySigning::default(),
        )
        .await;
    assert!(status >= 400);

    let (status, text) = scrape(&app, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    let notifications = |outcome: &str| {
        value(
            &text,
            &format!("wxpay_notifications_total{{kind=\"v3_pay\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(notifications("applied"), Some(2.0), "{text}");
    assert_eq!(notifications("duplicate"), Some(1.0), "{text}");
    assert_eq!(notifications("unverified"), Some(1.0), "{text}");
    let rejected: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("wxpay_notifications_total{kind=\"v3_pay\",outcome=\"rejected:"))
        .collect();
    assert_eq!(rejected.len(), 1, "one refusal, with its reason: {text}");
    assert!(
        rejected[0].contains("amount") && rejected[0].ends_with(" 1"),
        "{text}"
    );
    for (endpoint, pays) in [
        ("/v3/pay/transactions/native", 1.0),
        ("/v3/pay/transactions/jsapi", 2.0),
    ] {
        let label = format!("endpoint=\"{endpoint}\"");
        let calls = format!("wxpay_upstream_requests_total{{{label},status=\"200\"}}");
        assert_eq!(value(&text, &calls), Some(pays), "{text}");
        let timed = format!("wxpay_upstream_request_duration_seconds_count{{{label}}}");
        assert_eq!(value(&text, &timed), Some(pays), "{text}");
    }
    assert!(
        value(&text, "wxpay_certificate_refreshes_total").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "wxpay_orders{state=\"SUCCESS\"}"),
        Some(2.0),
        "{text}"
    );
    assert!(!text.contains(&paid), "no order number in a label");
    app.stop().await;
}
