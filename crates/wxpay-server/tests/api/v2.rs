//! API v2 end to end against the simulator's real v2 endpoints: unified order for every
//! channel, v2 client parameters, the v2 pay notification, refunds over mutual TLS with the
//! v2 refund notification, crafted (tampered, duplicate, wrong-amount) v2 notifications,
//! and the scan-pay mode-one callback.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use wxpay_core::invoke::ModeOneUrl;
use wxpay_core::v2::sign::{sign, sign_into, verify, ApiV2Key, SignType};
use wxpay_core::v2::xml;
use wxpay_server::config::VerifyMode;
use wxpay_sim::config::AppKind;

use crate::helpers::TestApp;

fn key(app: &TestApp) -> ApiV2Key {
    ApiV2Key::new(app.universe.apiv2_key.expose()).expect("v2 key")
}

async fn pay_v2(app: &TestApp, token: &str, no: &str, channel: &str) -> (u16, Value) {
    app.post(
        &format!("/api/orders/{no}/pay"),
        Some(token),
        json!({ "channel": channel, "api_version": "v2" }),
    )
    .await
}

async fn post_xml(app: &TestApp, path: &str, fields: &BTreeMap<String, String>) -> (u16, String) {
    let body = xml::to_xml(fields.iter()).expect("xml");
    let resp = app
        .http
        .post(format!("{}{path}", app.url))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

fn return_code(body: &str) -> String {
    xml::parse(body.as_bytes(), xml::DEFAULT_MAX_LEN)
        .expect("reply is XML")
        .get("return_code")
        .cloned()
        .unwrap_or_default()
}

/// Prepays through v2, lets the payer pay in the simulator and waits for the v2
/// notification to credit the order.
async fn pay_through_v2_notification(app: &TestApp, token: &str, channel: &str) -> Value {
    let no = app.create_order(token).await;
    let (status, body) = pay_v2(app, token, &no, channel).await;
    assert_eq!(status, 200, "{channel}: {body}");
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    app.payer_pays(channel, &no, &body["params"]);
    let order = app.wait_state(&no, "SUCCESS").await;
    assert_eq!(order.amount_fen, 3000);
    assert!(order.transaction_id.is_some());
    let audit = app.state.store.audit("order", &no).await.expect("audit");
    assert_eq!(
        audit.last().map(|a| a.cause.as_str()),
        Some("notify_v2"),
        "{audit:?}"
    );
    let rows = app
        .state
        .store
        .notifications(Some(&no))
        .await
        .expect("rows");
    assert!(
        rows.iter()
            .any(|r| r.kind == "v2_pay" && r.processing == "applied:SUCCESS"),
        "{rows:?}"
    );
    let (_, view) = app.get(&format!("/api/orders/{no}"), Some(token)).await;
    assert_eq!(view["api_version"], "v2", "{view}");
    assert_eq!(view["channel"], channel, "{view}");
    body["params"].clone()
}

#[tokio::test]
async fn every_v2_channel_pays_through_the_v2_notification() {
    let app = TestApp::spawn().await;
    let key = key(&app);
    let (mini, _) = app.login_miniprogram().await;
    let params = pay_through_v2_notification(&app, &mini, "miniprogram").await;
    assert_eq!(params["signType"], "HMAC-SHA256");
    // paySign is the v2 sign over appId, nonceStr, package, signType, timeStamp.
    let mut signed = BTreeMap::new();
    for name in ["appId", "nonceStr", "package", "signType", "timeStamp"] {
        signed.insert(
            name.to_owned(),
            params[name].as_str().expect("field").to_owned(),
        );
    }
    assert_eq!(
        params["paySign"].as_str(),
        Some(sign(signed.iter(), &key, SignType::HmacSha256).as_str())
    );

    let (web, _) = app.login_oauth().await;
    let jsapi = pay_through_v2_notification(&app, &web, "jsapi").await;
    assert!(jsapi["package"]
        .as_str()
        .is_some_and(|p| p.starts_with("prepay_id=")));
    let h5 = pay_through_v2_notification(&app, &web, "h5").await;
    assert!(
        h5["h5Url"].as_str().is_some_and(|u| u.starts_with("http")),
        "{h5}"
    );
    let native = pay_through_v2_notification(&app, &web, "native").await;
    assert!(
        native["codeUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("weixin://wxpay/bizpayurl")),
        "{native}"
    );
    let app_params = pay_through_v2_notification(&app, &web, "app").await;
    let mut signed = BTreeMap::new();
    for name in [
        "appid",
        "partnerid",
        "prepayid",
        "package",
        "noncestr",
        "timestamp",
    ] {
        signed.insert(
            name.to_owned(),
            app_params[name].as_str().expect("field").to_owned(),
        );
    }
    assert_eq!(app_params["appid"], app.appid(AppKind::App), "{app_params}");
    assert_eq!(
        app_params["sign"].as_str(),
        Some(sign(signed.iter(), &key, SignType::HmacSha256).as_str())
    );
    app.stop().await;
}

/// `apiv2_sign_type = "MD5"`: the unified order is signed MD5 (the simulator verifies it and
/// records the type), the client's `paySign` is MD5 under `signType: MD5` (the simulator's
/// client checks it as WeChat's does), and the notification, signed MD5 like the order,
/// credits it.
#[tokio::test]
async fn a_v2_md5_merchant_pays_through_the_md5_signed_notification() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        if let Some(merchant) = settings.merchant.as_mut() {
            merchant.apiv2_sign_type = Some("MD5".into());
        }
    })
    .await;
    let key = key(&app);
    let (mini, _) = app.login_miniprogram().await;
    let (web, _) = app.login_oauth().await;
    for (channel, token, kind) in [
        ("miniprogram", &mini, AppKind::MiniProgram),
        ("jsapi", &web, AppKind::OfficialAccount),
    ] {
        let no = app.create_order(token).await;
        let (status, body) = pay_v2(&app, token, &no, channel).await;
        assert_eq!(status, 200, "{channel}: {body}");
        assert_eq!(
            app.sim_order(&no).await["v2_sign_type"],
            "MD5",
            "{channel}: the unified order was signed MD5"
        );
        let params = &body["params"];
        assert_eq!(params["signType"], "MD5", "{channel}: {params}");
        assert_eq!(params["appId"], app.appid(kind), "{channel}: {params}");
        let mut signed = BTreeMap::new();
        for name in ["appId", "nonceStr", "package", "signType", "timeStamp"] {
            signed.insert(
                name.to_owned(),
                params[name].as_str().expect("field").to_owned(),
            );
        }
        let pay_sign = params["paySign"].as_str().expect("paySign");
        assert_eq!(
            pay_sign,
            sign(signed.iter(), &key, SignType::Md5),
            "{channel}"
        );
        assert_ne!(
            pay_sign,
            sign(signed.iter(), &key, SignType::HmacSha256),
            "{channel}"
        );

        app.payer_pays(channel, &no, params);
        let order = app.wait_state(&no, "SUCCESS").await;
        assert!(order.transaction_id.is_some());
        let audit = app.state.store.audit("order", &no).await.expect("audit");
        assert_eq!(
            audit.last().map(|a| a.cause.as_str()),
            Some("notify_v2"),
            "{audit:?}"
        );
        app.wait_deliveries_settled(&no).await;
        let delivery = app
            .control
            .deliveries()
            .into_iter()
            .find(|d| d.out_trade_no == no && d.event_type == "V2.PAY")
            .expect("the v2 pay notification");
        assert_eq!(delivery.status, "acknowledged", "{channel}");
        let fields = xml::parse(delivery.body.as_bytes(), xml::DEFAULT_MAX_LEN).expect("XML");
        assert_eq!(fields.get("sign_type"), None, "WeChat names no sign type");
        assert_eq!(verify(&fields, &key, SignType::Md5), Ok(()), "{channel}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_v2_prepay_is_reused_and_an_unknown_api_version_refused() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_oauth().await;
    let no = app.create_order(&token).await;
    let (_, first) = pay_v2(&app, &token, &no, "native").await;
    let (_, second) = pay_v2(&app, &token, &no, "native").await;
    assert_eq!(first["params"]["codeUrl"], second["params"]["codeUrl"]);
    let (status, body) = app
        .post(
            &format!("/api/orders/{no}/pay"),
            Some(&token),
            json!({ "channel": "native", "api_version": "v1" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_api_version");
    app.stop().await;
}

/// A v2 pay notification for `no` as WeChat would sign it for an HMAC-SHA256 order: with
/// HMAC-SHA256 and without a `sign_type` element.
fn crafted_pay(app: &TestApp, no: &str, total: i64, tid: &str) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    for (k, v) in [
        ("return_code", "SUCCESS".to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("appid", app.appid(AppKind::OfficialAccount)),
        ("mch_id", app.mchid().to_owned()),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_owned()),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned()),
        ("trade_type", "NATIVE".to_owned()),
        ("bank_type", "OTHERS".to_owned()),
        ("total_fee", total.to_string()),
        ("cash_fee", total.to_string()),
        ("transaction_id", tid.to_owned()),
        ("out_trade_no", no.to_owned()),
        ("time_end", "20261123120000".to_owned()),
    ] {
        f.insert(k.to_owned(), v);
    }
    sign_into(&mut f, &key(app), SignType::HmacSha256);
    f
}

#[tokio::test]
async fn crafted_v2_notifications_credit_once_and_forgeries_change_nothing() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_oauth().await;
    let no = app.create_order(&token).await;
    let (status, _) = pay_v2(&app, &token, &no, "native").await;
    assert_eq!(status, 200);

    // Tampered after signing: refused, recorded, nothing changes.
    let mut tampered = crafted_pay(&app, &no, 3000, "4200000000202611230000000001");
    tampered.insert("total_fee".into(), "1".into());
    let (status, body) = post_xml(&app, "/notify/v2/pay", &tampered).await;
    assert_ne!(status, 200);
    assert_eq!(return_code(&body), "FAIL");
    // Signed, but the amount differs from the order: refused and recorded.
    let wrong = crafted_pay(&app, &no, 1, "4200000000202611230000000002");
    let (_, body) = post_xml(&app, "/notify/v2/pay", &wrong).await;
    assert_eq!(return_code(&body), "FAIL");
    // Signed with another key: refused.
    let mut forged = crafted_pay(&app, &no, 3000, "4200000000202611230000000003");
    forged.remove("sign");
    sign_into(
        &mut forged,
        &ApiV2Key::new("ffffffffffffffffffffffffffffffff").expect("key"),
        SignType::HmacSha256,
    );
    let (_, body) = post_xml(&app, "/notify/v2/pay", &forged).await;
    assert_eq!(return_code(&body), "FAIL");
    // Signed, but for another of the merchant's appids than the order was prepaid with.
    let mut other_app = crafted_pay(&app, &no, 3000, "4200000000202611230000000005");
    other_app.insert("appid".into(), app.appid(AppKind::MiniProgram));
    other_app.remove("sign");
    sign_into(&mut other_app, &key(&app), SignType::HmacSha256);
    let (_, body) = post_xml(&app, "/notify/v2/pay", &other_app).await;
    assert_eq!(return_code(&body), "FAIL");
    // Signed with the right key but MD5, while the order was placed HMAC-SHA256: refused.
    assert_eq!(
        app.stored(&no).await.v2_sign_type,
        Some(SignType::HmacSha256)
    );
    let mut md5 = crafted_pay(&app, &no, 3000, "4200000000202611230000000006");
    md5.remove("sign");
    sign_into(&mut md5, &key(&app), SignType::Md5);
    let (status, body) = post_xml(&app, "/notify/v2/pay", &md5).await;
    assert_eq!(
        (status, return_code(&body).as_str()),
        (401, "FAIL"),
        "{body}"
    );
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");

    // The genuine one, delivered twice and concurrently: credited once, acknowledged each time.
    let good = crafted_pay(&app, &no, 3000, "4200000000202611230000000004");
    let (a, b) = tokio::join!(
        post_xml(&app, "/notify/v2/pay", &good),
        post_xml(&app, "/notify/v2/pay", &good)
    );
    assert_eq!(return_code(&a.1), "SUCCESS", "{}", a.1);
    assert_eq!(return_code(&b.1), "SUCCESS", "{}", b.1);
    let (_, again) = post_xml(&app, "/notify/v2/pay", &good).await;
    assert_eq!(return_code(&again), "SUCCESS");
    let order = app.stored(&no).await;
    assert_eq!(order.state.as_str(), "SUCCESS");
    assert_eq!(
        order.transaction_id.as_deref(),
        Some("4200000000202611230000000004")
    );
    let audit = app.state.store.audit("order", &no).await.expect("audit");
    assert_eq!(
        audit.iter().filter(|a| a.to_state == "SUCCESS").count(),
        1,
        "{audit:?}"
    );
    let rows = app.state.store.notifications(None).await.expect("rows");
    assert!(rows
        .iter()
        .any(|r| r.kind == "v2_pay" && r.verification == "bad_signature"));
    assert!(rows
        .iter()
        .any(|r| r.kind == "v2_pay" && r.verification == "sign_type_mismatch"));
    assert!(rows
        .iter()
        .any(|r| r.kind == "v2_pay" && r.processing == "rejected:amount_mismatch"));
    assert!(rows
        .iter()
        .any(|r| r.kind == "v2_pay" && r.processing == "rejected:appid_mismatch"));
    app.stop().await;
}

#[tokio::test]
async fn a_v2_order_is_refunded_over_mutual_tls_and_the_v2_refund_notification_completes_it() {
    let app = TestApp::spawn_with_mutual_tls().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = pay_v2(&app, &token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;

    let (status, refund) = app
        .refund(&no, json!({ "amount_fen": 1000, "reason": "partial" }))
        .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["status"], "PROCESSING", "{refund}");
    let out_refund_no = refund["out_refund_no"].as_str().expect("no").to_owned();
    app.control
        .refund_action(Some(app.mchid()), &out_refund_no, "succeed")
        .expect("the simulator knows the v2 refund");
    let mut done = None;
    for _ in 0..200 {
        let r = app
            .state
            .store
            .refund(&out_refund_no)
            .await
            .expect("store")
            .expect("refund");
        if r.status.to_string() == "SUCCESS" {
            done = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        done.is_some(),
        "refund never completed: {:?} {:?}",
        app.state.store.notifications(None).await,
        app.control.deliveries()
    );
    assert_eq!(app.stored(&no).await.refunded_fen, 1000);
    let rows = app
        .state
        .store
        .notifications(Some(&no))
        .await
        .expect("rows");
    assert!(
        rows.iter()
            .any(|r| r.kind == "v2_refund" && r.processing.starts_with("applied")),
        "{rows:?}"
    );
    // A refund notification whose req_info was not made with our key is refused.
    let mut forged = BTreeMap::new();
    forged.insert("return_code".to_owned(), "SUCCESS".to_owned());
    forged.insert("appid".to_owned(), app.appid(AppKind::MiniProgram));
    forged.insert("mch_id".to_owned(), app.mchid().to_owned());
    forged.insert("nonce_str".to_owned(), "abc".to_owned());
    forged.insert(
        "req_info".to_owned(),
        wxpay_core::v2::refund_crypto::encrypt(
            b"<root><out_refund_no>x</out_refund_no></root>",
            &ApiV2Key::new("ffffffffffffffffffffffffffffffff").expect("key"),
        ),
    );
    let (_, body) = post_xml(&app, "/notify/v2/refund", &forged).await;
    assert_eq!(return_code(&body), "FAIL");
    app.stop().await;
}

#[tokio::test]
async fn the_mode_one_callback_answers_a_signed_prepay_at_the_server_price() {
    let app = TestApp::spawn().await;
    let key = key(&app);
    let callback = |product: &str| {
        let mut f = BTreeMap::new();
        f.insert("appid".to_owned(), app.appid(AppKind::OfficialAccount));
        f.insert("mch_id".to_owned(), app.mchid().to_owned());
        f.insert(
            "openid".to_owned(),
            "oScanner0000000000000000000".to_owned(),
        );
        f.insert("product_id".to_owned(), product.to_owned());
        f.insert("is_subscribe".to_owned(), "N".to_owned());
        f.insert("nonce_str".to_owned(), "Oa2hA2kwPvXvBL5V".to_owned());
        sign_into(&mut f, &key, SignType::Md5);
        f
    };
    // The static QR the merchant prints for a product, signed MD5 over its fields.
    let (status, qr) = app
        .get("/api/native/mode-one-url?product_id=tea", None)
        .await;
    assert_eq!(status, 200, "{qr}");
    let url = qr["codeUrl"].as_str().expect("codeUrl");
    let parsed = ModeOneUrl::parse(url).expect("mode-one URL");
    assert_eq!(parsed.product_id.as_str(), "tea");
    assert_eq!(parsed.verify(&key), Ok(SignType::Md5));
    let forged =
        ModeOneUrl::parse(&url.replace("product_id=tea", "product_id=cake")).expect("well-formed");
    assert!(forged.verify(&key).is_err());
    let (status, _) = app
        .get("/api/native/mode-one-url?product_id=nope", None)
        .await;
    assert_eq!(status, 400);

    let (status, body) = post_xml(&app, "/notify/v2/native-callback", &callback("tea")).await;
    assert_eq!(status, 200, "{body}");
    let reply = xml::parse(body.as_bytes(), xml::DEFAULT_MAX_LEN).expect("xml");
    assert_eq!(
        reply.get("return_code").map(String::as_str),
        Some("SUCCESS")
    );
    assert_eq!(
        reply.get("result_code").map(String::as_str),
        Some("SUCCESS"),
        "{body}"
    );
    assert!(
        verify(&reply, &key, SignType::Md5).is_ok(),
        "reply must be signed MD5"
    );
    let prepay_id = reply.get("prepay_id").cloned().unwrap_or_default();
    assert!(!prepay_id.is_empty());
    let orders_after_first = app.count_rows("orders").await;
    // WeChat re-sends a callback it got no answer to: same order, same prepay.
    let (_, body) = post_xml(&app, "/notify/v2/native-callback", &callback("tea")).await;
    let again = xml::parse(body.as_bytes(), xml::DEFAULT_MAX_LEN).expect("xml");
    assert_eq!(again.get("prepay_id"), Some(&prepay_id), "{body}");
    assert_eq!(app.count_rows("orders").await, orders_after_first);

    let (_, body) = post_xml(&app, "/notify/v2/native-callback", &callback("nope")).await;
    let reply = xml::parse(body.as_bytes(), xml::DEFAULT_MAX_LEN).expect("xml");
    assert_eq!(reply.get("result_code").map(String::as_str), Some("FAIL"));

    let mut tampered = callback("tea");
    tampered.insert("product_id".into(), "cake".into());
    let (status, body) = post_xml(&app, "/notify/v2/native-callback", &tampered).await;
    assert_ne!(status, 200);
    assert_eq!(return_code(&body), "FAIL");
    app.stop().await;
}

#[tokio::test]
async fn a_payer_scanning_the_printed_mode_one_qr_pays_through_the_callback() {
    let app = TestApp::spawn().await;
    let (status, qr) = app
        .get("/api/native/mode-one-url?product_id=tea", None)
        .await;
    assert_eq!(status, 200, "{qr}");
    let code_url = qr["codeUrl"].as_str().expect("codeUrl").to_owned();
    // The simulator plays the payer's WeChat: it verifies the QR, calls the merchant's
    // callback, checks the signed reply and pays the order the merchant placed.
    let outcome = app
        .control
        .mode_one_scan(wxpay_sim::mode_one::ScanRequest {
            code_url,
            openid: None,
            callback_url: Some(format!("{}/notify/v2/native-callback", app.url)),
            pay: true,
        })
        .await
        .expect("mode-one scan");
    let order = app.wait_state(&outcome.out_trade_no, "SUCCESS").await;
    assert_eq!(order.state.as_str(), "SUCCESS");
    app.stop().await;
}

#[tokio::test]
async fn a_dropped_v2_notification_is_recovered_and_hostile_xml_is_refused() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, _) = pay_v2(&app, &token, &no, "miniprogram").await;
    assert_eq!(status, 200);
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.assert_notification_dropped(&no).await;
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY", "dropped");
    // The status endpoint asks WeChat (v3 query answers for v2 orders too).
    let (status, body) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("SUCCESS")),
        "{body}"
    );

    // An entity-expansion body is refused by the XML codec and recorded, never expanded.
    let hostile = concat!(
        "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY a \"aaaaaaaaaa\">]>",
        "<xml><return_code>&a;</return_code></xml>"
    );
    let resp = app
        .http
        .post(format!("{}/notify/v2/pay", app.url))
        .body(hostile)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(return_code(&resp.text().await.expect("body")), "FAIL");
    // A notification for an order the server never created is refused, not acknowledged.
    let unknown = crafted_pay(
        &app,
        "WXNOSUCHORDER000000001",
        3000,
        "4200000000202611230000000009",
    );
    let (_, body) = post_xml(&app, "/notify/v2/pay", &unknown).await;
    assert_eq!(return_code(&body), "FAIL");
    let rows = app.state.store.notifications(None).await.expect("rows");
    assert!(
        rows.iter()
            .any(|r| r.kind == "v2_pay" && r.verification != "ok" && r.processing == "rejected"),
        "{rows:?}"
    );
    app.stop().await;
}
