//! A payment is never lost to a local close.
//!
//! A close that commits while a prepay is on its way must not be overwritten by the
//! prepay, and the payer must not get parameters for an order that is closed; a close
//! reaches WeChat before it is recorded locally; WeChat's 202 `USERPAYING` to a close means
//! "not closed"; and when WeChat does prove a payment for an order closed here (verified
//! notification or query), the money is recorded as received and the order flagged for the
//! merchant to refund or fulfil, never refused.

use serde_json::{json, Value};
use wxpay_core::TradeState;
use wxpay_server::store::PaymentFact;

use crate::helpers::{TestApp, ADMIN_TOKEN};

async fn close(app: &TestApp, token: &str, no: &str) -> (u16, Value) {
    app.post(&format!("/api/orders/{no}/close"), Some(token), json!({}))
        .await
}

async fn attention_list(app: &TestApp) -> Value {
    let response = app
        .http
        .get(format!("{}/api/admin/attention", app.url))
        .header("x-admin-token", ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("json")
}

/// Closes the order in the server's store only, as a close that never reached WeChat
/// did before (or another instance's old version would).
async fn close_locally_only(app: &TestApp, no: &str) {
    let fact = PaymentFact {
        out_trade_no: no.to_owned(),
        state: TradeState::Closed,
        transaction_id: None,
        amount_fen: None,
        appid: None,
        cause: "test_local_close".into(),
        at: app.state.clock.now(),
    };
    app.state.store.apply_payment(&fact).await.expect("closed");
}

#[tokio::test]
async fn a_close_during_a_slow_prepay_leaves_the_payer_without_parameters() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    // The prepay is held at WeChat for a while: the close comes in meanwhile.
    app.arm_fault_delayed("v3.jsapi", "latency", 1, Some(1_500))
        .await;
    let ((pay_status, pay), (close_status, closed)) =
        tokio::join!(app.pay(&token, &no, "miniprogram"), async {
            // Once the fault is taken, the prepay request is inside the simulator.
            while app.faults_left("v3.jsapi").await > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            close(&app, &token, &no).await
        });
    assert_eq!(close_status, 200, "{closed}");
    assert_eq!(closed["state"], "CLOSED", "{closed}");
    assert_eq!(
        (pay_status, pay["error"]["code"].as_str()),
        (409, Some("order_closed")),
        "no signed parameters for a closed order: {pay}"
    );
    let order = app.stored(&no).await;
    assert_eq!(order.state.as_str(), "CLOSED");
    assert_eq!(order.prepay_id, None, "the late prepay was not saved");
    // The prepay that arrived after the close was closed at WeChat too: nobody can pay it.
    let sim = app.sim_order(&no).await;
    assert_eq!(sim["trade_state"], "CLOSED", "{sim}");
    app.stop().await;
}

#[tokio::test]
async fn a_payment_proven_for_a_locally_closed_order_is_credited_and_flagged() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;

    // Through the verified notification.
    let notified = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &notified, "native").await;
    assert_eq!(status, 200, "{body}");
    close_locally_only(&app, &notified).await;
    app.control
        .pay(Some(app.mchid()), &notified, None)
        .expect("the payer pays at WeChat");
    let order = app.wait_state(&notified, "SUCCESS").await;
    assert_eq!(order.attention.as_deref(), Some("paid_after_closed"));
    app.wait_deliveries_settled(&notified).await;
    assert!(
        app.control
            .deliveries()
            .iter()
            .filter(|d| d.out_trade_no == notified)
            .all(|d| d.status == "acknowledged"),
        "WeChat was told the notification was received, so it stops retrying"
    );

    // Through a query (the status endpoint, the worker and close all use it).
    let queried = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &queried, "native").await;
    assert_eq!(status, 200, "{body}");
    close_locally_only(&app, &queried).await;
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control
        .pay(Some(app.mchid()), &queried, None)
        .expect("the payer pays at WeChat");
    wxpay_server::payments::query_and_apply(&app.state, &queried, "test_query")
        .await
        .expect("applied");
    let order = app.stored(&queried).await;
    assert_eq!(order.state.as_str(), "SUCCESS");
    assert_eq!(order.attention.as_deref(), Some("paid_after_closed"));

    // The merchant sees both, refunds one and resolves them.
    let listed = attention_list(&app).await;
    let numbers: Vec<&str> = listed["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .filter_map(|o| o["out_trade_no"].as_str())
        .collect();
    assert!(
        numbers.contains(&notified.as_str()) && numbers.contains(&queried.as_str()),
        "{listed}"
    );
    assert_eq!(listed["orders"][0]["attention"], "paid_after_closed");
    let (status, refund) = app.refund(&queried, json!({ "amount_fen": 3000 })).await;
    assert_eq!(status, 200, "money received can be handed back: {refund}");
    for no in [&notified, &queried] {
        let (status, body) = app
            .post_admin(
                &format!("/api/admin/orders/{no}/attention/resolve"),
                ADMIN_TOKEN,
                None,
                json!({ "note": "handled" }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(attention_list(&app).await["orders"], json!([]));
    let audit = app
        .state
        .store
        .audit("order", &notified)
        .await
        .expect("audit");
    assert!(
        audit
            .iter()
            .any(|row| row.from_state.as_deref() == Some("CLOSED") && row.to_state == "SUCCESS"),
        "{audit:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_close_answered_userpaying_leaves_the_order_payable_and_the_payment_counts() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    // The payer is entering the password: WeChat answers a close with 202 USERPAYING.
    app.control
        .order_action(Some(app.mchid()), &no, "hold", None)
        .expect("hold");
    let (status, body) = close(&app, &token, &no).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("order_paying")),
        "{body}"
    );
    let order = app.stored(&no).await;
    assert!(order.state.is_pending(), "not closed: {}", order.state);
    assert_eq!(app.sim_order(&no).await["trade_state"], "USERPAYING");

    // The payment completes and is credited as any other.
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    let order = app.wait_state(&no, "SUCCESS").await;
    assert_eq!(order.attention, None);
    app.stop().await;
}

#[tokio::test]
async fn attention_is_for_the_merchant_staff_only() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let (status, body) = app.get("/api/admin/attention", Some(&token)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("admin_required")),
        "{body}"
    );
    app.stop().await;
}
