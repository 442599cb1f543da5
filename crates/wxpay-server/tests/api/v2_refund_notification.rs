//! The v2 refund notification is a trigger, not a fact: its `req_info` is AES-256-ECB with
//! no MAC, so its fields are only a hint of which refund to look at. The server asks
//! WeChat (`/pay/refundquery`, signed answer verified) and applies what the query proves.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use wxpay_core::v2::refund_crypto::encrypt_fields;
use wxpay_core::v2::sign::ApiV2Key;
use wxpay_core::v2::xml;
use wxpay_sim::config::AppKind;
use wxpay_sim::faults::NotifyFaults;

use crate::helpers::TestApp;

/// A v2-paid mini-program order with a PROCESSING refund of 1000 fen:
/// (order number, refund number, WeChat's refund id).
async fn v2_order_with_a_refund(app: &TestApp) -> (String, String, String) {
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app
        .post(
            &format!("/api/orders/{no}/pay"),
            Some(&token),
            json!({ "channel": "miniprogram", "api_version": "v2" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    let (status, refund) = app.refund(&no, json!({ "amount_fen": 1000 })).await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["status"], "PROCESSING", "{refund}");
    let out_refund_no = refund["out_refund_no"].as_str().expect("no").to_owned();
    let refund_id = refund["refund_id"]
        .as_str()
        .unwrap_or("50000000000000000000")
        .to_owned();
    (no, out_refund_no, refund_id)
}

/// Posts a refund notification whose `req_info` says what `claims` says, encrypted with
/// the merchant's real API v2 key (as anyone who learnt it, or replays a real ciphertext
/// block by block, could produce: ECB has no integrity).
async fn post_claim(app: &TestApp, claims: &[(&str, &str)]) -> (u16, String) {
    let key = ApiV2Key::new(app.universe.apiv2_key.expose()).expect("v2 key");
    let req_info = encrypt_fields(claims.iter().copied(), &key).expect("encrypt");
    let mut fields = BTreeMap::new();
    fields.insert("return_code".to_owned(), "SUCCESS".to_owned());
    fields.insert("appid".to_owned(), app.appid(AppKind::MiniProgram));
    fields.insert("mch_id".to_owned(), app.mchid().to_owned());
    fields.insert("nonce_str".to_owned(), "forged0nonce".to_owned());
    fields.insert("req_info".to_owned(), req_info);
    let body = xml::to_xml(fields.iter()).expect("xml");
    let response = app
        .http
        .post(format!("{}/notify/v2/refund", app.url))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn refund_status(app: &TestApp, out_refund_no: &str) -> String {
    app.state
        .store
        .refund(out_refund_no)
        .await
        .expect("store")
        .expect("refund")
        .status
        .to_string()
}

#[tokio::test]
async fn a_v2_refund_notification_changes_only_what_the_refund_query_proves() {
    let app = TestApp::spawn_with_mutual_tls().await;
    let (no, out_refund_no, refund_id) = v2_order_with_a_refund(&app).await;

    // WeChat says PROCESSING; the notification claims SUCCESS.
    let claim = |status: &'static str, fee: &'static str| {
        vec![
            ("out_trade_no", no.clone()),
            ("out_refund_no", out_refund_no.clone()),
            ("refund_id", refund_id.clone()),
            ("refund_status", status.to_owned()),
            ("refund_fee", fee.to_owned()),
            ("total_fee", "3000".to_owned()),
            ("settlement_refund_fee", fee.to_owned()),
        ]
    };
    let owned = claim("SUCCESS", "1000");
    let fields: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_claim(&app, &fields).await;
    assert_eq!(
        refund_status(&app, &out_refund_no).await,
        "PROCESSING",
        "a claim WeChat does not confirm changes nothing"
    );
    assert_eq!(app.stored(&no).await.refunded_fen, 0);

    // WeChat completes the refund, its own notification is lost; a claim with another
    // amount comes in. What is applied is the query's answer: the stored 1000 fen.
    app.control.notify_faults(NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control
        .refund_action(Some(app.mchid()), &out_refund_no, "succeed")
        .expect("succeed");
    let owned = claim("SUCCESS", "1");
    let fields: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, reply) = post_claim(&app, &fields).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(refund_status(&app, &out_refund_no).await, "SUCCESS");
    assert_eq!(
        app.stored(&no).await.refunded_fen,
        1000,
        "the queried amount"
    );

    // A claim for a refund WeChat does not know is refused and changes nothing.
    let (status, _) = post_claim(
        &app,
        &[
            ("out_trade_no", no.as_str()),
            ("out_refund_no", "RFNOSUCHREFUND0000001"),
            ("refund_status", "SUCCESS"),
            ("refund_fee", "1000"),
        ],
    )
    .await;
    assert!(status >= 400);
    assert_eq!(app.stored(&no).await.refunded_fen, 1000);
    let rows: Vec<Value> = app
        .state
        .store
        .notifications(Some(&no))
        .await
        .expect("rows")
        .iter()
        .filter(|r| r.kind == "v2_refund")
        .map(|r| json!(r.processing))
        .collect();
    assert!(!rows.is_empty(), "every receipt is on record");
    app.stop().await;
}
