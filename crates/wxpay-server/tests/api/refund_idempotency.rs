//! Creating a refund honours `Idempotency-Key` as creating an order does: a repeated
//! request (a double click, a client retry after a lost answer) gets the refund the first
//! one created, and WeChat is asked once.

use serde_json::{json, Value};

use crate::helpers::{TestApp, ADMIN_TOKEN};

/// A paid order of a fresh payer.
async fn paid_order(app: &TestApp) -> String {
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    no
}

async fn refund_with_key(app: &TestApp, no: &str, key: &str, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/api/orders/{no}/refunds", app.url))
        .header("x-admin-token", ADMIN_TOKEN)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The refunds the simulator holds for an order.
async fn sim_refunds(app: &TestApp, no: &str) -> Vec<Value> {
    let all: Vec<Value> = app
        .http
        .get(format!("{}/__sim/refunds", app.sim_url()))
        .send()
        .await
        .expect("sim refunds")
        .json()
        .await
        .expect("json");
    all.into_iter()
        .filter(|r| r["out_trade_no"].as_str() == Some(no))
        .collect()
}

#[tokio::test]
async fn the_same_idempotency_key_refunds_once() {
    let app = TestApp::spawn().await;
    let no = paid_order(&app).await;
    let body = json!({ "amount_fen": 1000, "reason": "double click" });

    let (status, first) = refund_with_key(&app, &no, "refund-key-1", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = refund_with_key(&app, &no, "refund-key-1", body.clone()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(first["out_refund_no"], again["out_refund_no"]);

    // Two at once (the double click itself): still the same refund.
    let (a, b) = tokio::join!(
        refund_with_key(&app, &no, "refund-key-2", body.clone()),
        refund_with_key(&app, &no, "refund-key-2", body.clone()),
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(a.1["out_refund_no"], b.1["out_refund_no"]);
    assert_ne!(a.1["out_refund_no"], first["out_refund_no"]);

    assert_eq!(
        sim_refunds(&app, &no).await.len(),
        2,
        "two keys, two refunds at WeChat"
    );
    assert_eq!(app.count_rows("refunds").await, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_reused_idempotency_key_with_another_request_is_refused() {
    let app = TestApp::spawn().await;
    let no = paid_order(&app).await;
    let (status, first) =
        refund_with_key(&app, &no, "refund-key", json!({ "amount_fen": 1000 })).await;
    assert_eq!(status, 200, "{first}");

    for other in [
        json!({ "amount_fen": 999 }),
        json!({ "amount_fen": 1000, "reason": "changed my mind" }),
    ] {
        let (status, body) = refund_with_key(&app, &no, "refund-key", other).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("idempotency_key_reused")),
            "{body}"
        );
    }
    // The same key on another order is another request too.
    let other_order = paid_order(&app).await;
    let (status, body) = refund_with_key(
        &app,
        &other_order,
        "refund-key",
        json!({ "amount_fen": 1000 }),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("idempotency_key_reused")),
        "{body}"
    );

    // A malformed key is refused before anything is reserved.
    let (status, body) =
        refund_with_key(&app, &no, &"k".repeat(65), json!({ "amount_fen": 1 })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_idempotency_key")),
        "{body}"
    );
    assert_eq!(sim_refunds(&app, &no).await.len(), 1);
    assert!(sim_refunds(&app, &other_order).await.is_empty());
    app.stop().await;
}
