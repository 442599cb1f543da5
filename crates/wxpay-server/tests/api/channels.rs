//! Every pay channel, end to end: order → prepay + signed client parameters → the payer
//! pays in the simulator → the signed, encrypted notification → the order is paid.

use base64::Engine;
use serde_json::Value;
use wxpay_core::invoke::{app_sign_message, paysign_message};
use wxpay_core::keys::PrivateKey;

use crate::helpers::TestApp;

/// `wx.chooseWXPay`'s fields (protocol B.4), sorted.
const CHOOSE_WX_PAY_FIELDS: [&str; 5] = ["nonceStr", "package", "paySign", "signType", "timestamp"];

fn field_names(params: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = params
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    names.sort_unstable();
    names
}

fn merchant_verifies(app: &TestApp, message: &str, signature: &str) -> bool {
    let key = PrivateKey::from_pkcs8_pem(&app.universe.merchant.key_pem).expect("merchant key");
    let sig = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .expect("base64");
    key.public_key().verify_sha256(message.as_bytes(), &sig)
}

async fn pay_through_notification(app: &TestApp, token: &str, channel: &str) -> (String, Value) {
    let no = app.create_order(token).await;
    let (status, body) = app.pay(token, &no, channel).await;
    assert_eq!(status, 200, "{channel}: {body}");
    let params = body["params"].clone();
    // Nothing is paid before WeChat says so.
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    app.payer_pays(channel, &no, &params);
    let order = app.wait_state(&no, "SUCCESS").await;
    assert_eq!(order.amount_fen, 3000);
    assert!(order.transaction_id.is_some());
    let audit = app.state.store.audit("order", &no).await.expect("audit");
    assert_eq!(
        audit.last().map(|a| a.cause.as_str()),
        Some("notify_v3"),
        "{audit:?}"
    );
    let rows = app
        .state
        .store
        .notifications(Some(&no))
        .await
        .expect("notifications");
    assert!(
        rows.iter()
            .any(|r| r.verification == "ok" && r.processing == "applied:SUCCESS"),
        "{rows:?}"
    );
    (no, params)
}

#[tokio::test]
async fn miniprogram_channel_pays_through_the_notification() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let (_, params) = pay_through_notification(&app, &token, "miniprogram").await;
    assert_eq!(params["signType"], "RSA");
    let package = params["package"].as_str().expect("package");
    assert!(package.starts_with("prepay_id="));
    let message = paysign_message(
        params["appId"].as_str().expect("appId"),
        params["timeStamp"].as_str().expect("timeStamp"),
        params["nonceStr"].as_str().expect("nonceStr"),
        package,
    );
    assert!(merchant_verifies(
        &app,
        &message,
        params["paySign"].as_str().expect("paySign")
    ));
    app.stop().await;
}

#[tokio::test]
async fn jsapi_and_jssdk_channels_pay_for_an_oauth_user() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_oauth().await;
    let official_account = app.appid(wxpay_sim::config::AppKind::OfficialAccount);
    // WeixinJSBridge `getBrandWCPayRequest`: appId and camel-case timeStamp.
    let (_, params) = pay_through_notification(&app, &token, "jsapi").await;
    assert_eq!(params["appId"].as_str(), Some(official_account.as_str()));
    assert!(params["timeStamp"].is_string(), "{params}");
    // JS-SDK `wx.chooseWXPay`: lower-case timestamp and no appId (wx.config names the app),
    // signed over the same fields as the bridge's.
    let (_, params) = pay_through_notification(&app, &token, "jssdk").await;
    assert_eq!(field_names(&params), CHOOSE_WX_PAY_FIELDS, "{params}");
    let message = paysign_message(
        &official_account,
        params["timestamp"].as_str().expect("timestamp"),
        params["nonceStr"].as_str().expect("nonceStr"),
        params["package"].as_str().expect("package"),
    );
    assert!(merchant_verifies(
        &app,
        &message,
        params["paySign"].as_str().expect("paySign")
    ));
    // A mini-program user cannot use the official-account channel.
    let (mp_token, _) = app.login_miniprogram().await;
    let no = app.create_order(&mp_token).await;
    let (status, body) = app.pay(&mp_token, &no, "jsapi").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "channel_needs_other_login");
    app.stop().await;
}

#[tokio::test]
async fn app_h5_and_native_channels_pay_through_the_notification() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let (_, params) = pay_through_notification(&app, &token, "app").await;
    assert_eq!(params["package"], "Sign=WXPay");
    assert_eq!(params["partnerid"].as_str(), Some(app.mchid()));
    let message = app_sign_message(
        params["appid"].as_str().expect("appid"),
        params["timestamp"].as_str().expect("timestamp"),
        params["noncestr"].as_str().expect("noncestr"),
        params["prepayid"].as_str().expect("prepayid"),
    );
    assert!(merchant_verifies(
        &app,
        &message,
        params["sign"].as_str().expect("sign")
    ));

    let (_, params) = pay_through_notification(&app, &token, "h5").await;
    assert!(
        params["h5Url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{params}"
    );
    let (_, params) = pay_through_notification(&app, &token, "native").await;
    assert!(
        params["codeUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("weixin://")),
        "{params}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_valid_prepay_is_reused_and_paid_orders_cannot_be_paid_again() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (_, first) = app.pay(&token, &no, "miniprogram").await;
    let (_, second) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(first["params"]["package"], second["params"]["package"]);
    assert_ne!(
        first["params"]["nonceStr"], second["params"]["nonceStr"],
        "parameters are re-signed"
    );
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("order_paid"))
    );
    app.stop().await;
}

#[tokio::test]
async fn partial_refunds_up_to_the_paid_amount() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let (no, _) = pay_through_notification(&app, &token, "native").await;
    let (status, first) = app
        .refund(&no, serde_json::json!({ "amount_fen": 1000 }))
        .await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = app
        .refund(&no, serde_json::json!({ "amount_fen": 2000 }))
        .await;
    assert_eq!(status, 200, "{second}");
    let (status, third) = app
        .refund(&no, serde_json::json!({ "amount_fen": 1 }))
        .await;
    assert_eq!(
        (status, third["error"]["code"].as_str()),
        (409, Some("refund_exceeds_paid"))
    );
    for refund in [&first, &second] {
        let number = refund["out_refund_no"].as_str().expect("number");
        app.control
            .refund_action(Some(app.mchid()), number, "succeed")
            .expect("succeed");
    }
    for _ in 0..200 {
        if app.stored(&no).await.refunded_fen == 3000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let order = app.stored(&no).await;
    assert_eq!((order.state.as_str(), order.refunded_fen), ("REFUND", 3000));
    let number = first["out_refund_no"].as_str().expect("number");
    let (status, view) = app
        .get(&format!("/api/refunds/{number}"), Some(&token))
        .await;
    assert_eq!((status, view["status"].as_str()), (200, Some("SUCCESS")));
    app.stop().await;
}

#[tokio::test]
async fn h5_payer_ip_is_the_address_the_trusted_proxy_appended() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    for (api_version, real_ip) in [("v3", "203.0.113.7"), ("v2", "203.0.113.8")] {
        let no = app.create_order(&token).await;
        let response = app
            .http
            .post(format!("{}/api/orders/{no}/pay", app.url))
            .bearer_auth(&token)
            .header("x-forwarded-for", format!("198.51.100.1, {real_ip}"))
            .json(&serde_json::json!({ "channel": "h5", "api_version": api_version }))
            .send()
            .await
            .expect("pay");
        assert_eq!(response.status(), 200, "{api_version}");
        // What WeChat received in `scene_info.payer_client_ip` (v2: `spbill_create_ip`).
        let seen = app.sim_order(&no).await;
        assert_eq!(
            seen["payer_client_ip"].as_str(),
            Some(real_ip),
            "{api_version}: {seen}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_v2_jssdk_channel_answers_in_the_choose_wx_pay_shape() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_oauth().await;
    let no = app.create_order(&token).await;
    let (status, body) = app
        .post(
            &format!("/api/orders/{no}/pay"),
            Some(&token),
            serde_json::json!({ "channel": "jssdk", "api_version": "v2" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let params = &body["params"];
    assert_eq!(field_names(params), CHOOSE_WX_PAY_FIELDS, "{params}");
    // The simulator's WeChat client checks the v2 paySign over appId (from wx.config) and
    // timeStamp, as WeChat does, before the payer can pay.
    app.payer_pays("jssdk", &no, params);
    app.wait_state(&no, "SUCCESS").await;
    app.stop().await;
}

/// The server sends no `time_expire`, in either API version: WeChat refuses a v2 one under
/// five minutes away rather than raising it, and an order's life is the worker's business
/// (it closes unpaid orders at WeChat after `worker.close_after_secs`). So nothing is sent
/// that WeChat could refuse or that the simulator used to quietly raise.
#[tokio::test]
async fn no_time_expire_is_sent_with_a_prepay() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    for api_version in ["v3", "v2"] {
        let no = app.create_order(&token).await;
        let (status, body) = app
            .post(
                &format!("/api/orders/{no}/pay"),
                Some(&token),
                serde_json::json!({ "channel": "miniprogram", "api_version": api_version }),
            )
            .await;
        assert_eq!(status, 200, "{api_version}: {body}");
        // The simulator keeps what it received (minus nonce and signature).
        let seen = app.sim_order(&no).await;
        assert!(
            seen["fingerprint"].is_object() && seen["fingerprint"].get("time_expire").is_none(),
            "{api_version}: {seen}"
        );
    }
    app.stop().await;
}
