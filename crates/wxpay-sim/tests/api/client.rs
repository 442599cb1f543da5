//! The payer's WeChat app (`/__sim/client/…`): pay bundles built by the core's builders with
//! the merchant's key are accepted, and every way a bundle goes wrong is refused before the
//! order moves.

use serde_json::{json, Value};
use wxpay_core::invoke::{AppPayParams, JsapiPayParams, NonceStr, PayTimestamp};
use wxpay_core::jssdk::config_signature;
use wxpay_core::v2::sign::SignType;
use wxpay_core::{AppId, MchId, PrepayId};
use wxpay_sim::config::AppKind;

use crate::common::*;

/// A v3 JSAPI order for the mini-program; returns its prepay id.
async fn prepay(t: &TestSim, otn: &str) -> String {
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body(otn, 100, "https://m.example/n"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["prepay_id"]
        .as_str()
        .expect("prepay_id")
        .to_owned()
}

fn signed_jsapi(t: &TestSim, appid: &str, prepay_id: &str) -> JsapiPayParams {
    JsapiPayParams::sign_v3(
        &t.key,
        &AppId::new(appid).expect("appid"),
        &PrepayId::new(prepay_id).expect("prepay id"),
        &PayTimestamp::from_unix(now()).expect("ts"),
        &NonceStr::new("5K8264ILTKCH16CQ2502SI8ZNMTM67VS").expect("nonce"),
    )
    .expect("sign")
}

async fn client_pay(t: &TestSim, call: Value) -> Value {
    let (status, reply) = t.control("POST", "/__sim/client/pay", Some(call)).await;
    assert_eq!(status, 200, "{reply}");
    reply
}

async fn state(t: &TestSim, otn: &str) -> String {
    let (_, order) = t
        .control("GET", &format!("/__sim/orders/{otn}"), None)
        .await;
    order["trade_state"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn mini_program_pays_a_correctly_signed_bundle_and_cancels() {
    let t = start().await;
    let mp = t.appid(AppKind::MiniProgram);
    let id = prepay(&t, "client_mp01").await;
    let params = signed_jsapi(&t, &mp, &id).request_payment().to_json();
    let cancel = client_pay(
        &t,
        json!({ "surface": "mini-program", "appid": mp, "params": params, "choice": "cancel" }),
    )
    .await;
    assert_eq!(cancel["result"]["errMsg"], "requestPayment:fail cancel");
    assert_eq!(cancel["refused"], Value::Null);
    assert_eq!(state(&t, "client_mp01").await, "NOTPAY");

    let paid = client_pay(
        &t,
        json!({ "surface": "mini-program", "appid": mp, "params": params }),
    )
    .await;
    assert_eq!(paid["result"]["errMsg"], "requestPayment:ok", "{paid}");
    assert_eq!(paid["out_trade_no"], "client_mp01");
    assert_eq!(state(&t, "client_mp01").await, "SUCCESS");

    let again = client_pay(
        &t,
        json!({ "surface": "mini-program", "appid": mp, "params": params }),
    )
    .await;
    assert_eq!(again["refused"]["code"], "ORDER_PAID");
}

#[tokio::test]
async fn bridge_and_js_sdk_shapes() {
    let t = start().await;
    let mp = t.appid(AppKind::MiniProgram);
    let id = prepay(&t, "client_br01").await;
    let bundle = signed_jsapi(&t, &mp, &id);
    let fail = client_pay(
        &t,
        json!({ "surface": "weixin-js-bridge", "params": bundle.to_json(), "choice": "fail" }),
    )
    .await;
    assert_eq!(fail["result"]["err_msg"], "get_brand_wcpay_request:fail");
    assert_eq!(state(&t, "client_br01").await, "PAYERROR");
    let retry = client_pay(
        &t,
        json!({ "surface": "weixin-js-bridge", "params": bundle.to_json() }),
    )
    .await;
    assert_eq!(retry["refused"]["code"], "ORDER_FAILED", "{retry}");

    let id = prepay(&t, "client_js01").await;
    let bundle = signed_jsapi(&t, &mp, &id);
    let ok = client_pay(
        &t,
        json!({ "surface": "js-sdk", "appid": mp, "params": bundle.choose_wx_pay().to_json() }),
    )
    .await;
    assert_eq!(ok["result"]["errMsg"], "chooseWXPay:ok", "{ok}");
    assert_eq!(state(&t, "client_js01").await, "SUCCESS");
}

#[tokio::test]
async fn refusals_leave_the_order_unpaid() {
    let t = start().await;
    let mp = t.appid(AppKind::MiniProgram);
    let oa = t.appid(AppKind::OfficialAccount);
    let id = prepay(&t, "client_bad01").await;
    let good = signed_jsapi(&t, &mp, &id).to_json();
    let bridge = |params: Value| json!({ "surface": "weixin-js-bridge", "params": params });

    // One Base64 character changed: still well-formed, no longer the merchant's signature.
    let mut tampered = good.clone();
    let sig = good["paySign"].as_str().expect("sig");
    let first = if sig.starts_with('A') { 'B' } else { 'A' };
    tampered["paySign"] = Value::String(format!("{first}{}", &sig[1..]));
    let r = client_pay(&t, bridge(tampered)).await;
    assert_eq!(r["refused"]["code"], "SIGNATURE", "{r}");
    assert_eq!(r["result"]["err_msg"], "get_brand_wcpay_request:fail");

    // Same values signed for another app: the signature is fine, the appid is not.
    let foreign = signed_jsapi(&t, &oa, &id).to_json();
    assert_eq!(
        client_pay(&t, bridge(foreign)).await["refused"]["code"],
        "APPID_MISMATCH"
    );

    // The most common real mistake: JS-SDK casing sent to the bridge.
    let mut lower = good.clone();
    let ts = lower
        .as_object_mut()
        .and_then(|o| o.remove("timeStamp"))
        .expect("ts");
    lower["timestamp"] = ts;
    let r = client_pay(&t, bridge(lower)).await;
    assert_eq!(r["refused"]["code"], "PARAMETER", "{r}");
    assert!(
        r["refused"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("timeStamp"),
        "{r}"
    );

    // An RSA paySign labelled MD5 fails the format check before any key is tried.
    let mut md5 = good.clone();
    md5["signType"] = json!("MD5");
    let r = client_pay(&t, bridge(md5)).await;
    assert_eq!(r["refused"]["code"], "PARAMETER", "{r}");
    assert!(
        r["refused"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("for MD5"),
        "{r}"
    );

    let unknown = signed_jsapi(&t, &mp, "wx201410272009395522657a690389285100").to_json();
    assert_eq!(
        client_pay(&t, bridge(unknown)).await["refused"]["code"],
        "PREPAY_NOT_FOUND"
    );

    let r = client_pay(&t, json!({ "surface": "mini-program", "params": signed_jsapi(&t, &mp, &id).request_payment().to_json() })).await;
    assert_eq!(r["refused"]["code"], "APPID_REQUIRED");

    let (status, _) = t
        .control("POST", "/__sim/orders/client_bad01/expire", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        client_pay(&t, bridge(good)).await["refused"]["code"],
        "PREPAY_EXPIRED"
    );
    assert_eq!(state(&t, "client_bad01").await, "CLOSED");

    // The merchant closed the order while the payer still had the bundle.
    let id = prepay(&t, "client_bad02").await;
    let closed = t
        .post_json(
            "/v3/pay/transactions/out-trade-no/client_bad02/close",
            &json!({ "mchid": t.mchid }),
        )
        .await;
    assert_eq!(closed.status, 204, "{}", closed.body);
    let r = client_pay(&t, bridge(signed_jsapi(&t, &mp, &id).to_json())).await;
    assert_eq!(r["refused"]["code"], "ORDER_CLOSED", "{r}");

    let (status, _) = t
        .control(
            "POST",
            "/__sim/client/pay",
            Some(json!({ "surface": "h5", "params": {} })),
        )
        .await;
    assert_eq!(status, 400, "an H5 redirect is not a client call");
}

#[tokio::test]
async fn app_bundle_v3() {
    let t = start().await;
    let app = t.appid(AppKind::App);
    let mut body = t.jsapi_body("client_app01", 100, "https://m.example/n");
    body["appid"] = json!(app);
    body.as_object_mut().expect("obj").remove("payer");
    let r = t.post_json("/v3/pay/transactions/app", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["prepay_id"].as_str().expect("prepay").to_owned();
    let bundle = |mchid: &str| {
        AppPayParams::sign_v3(
            &t.key,
            &AppId::new(app.as_str()).expect("appid"),
            &MchId::new(mchid).expect("mchid"),
            &PrepayId::new(id.as_str()).expect("prepay"),
            &PayTimestamp::from_unix(now()).expect("ts"),
            &NonceStr::new("5K8264ILTKCH16CQ2502SI8ZNMTM67VS").expect("nonce"),
        )
        .expect("sign")
    };
    let wrong = client_pay(
        &t,
        json!({ "surface": "app", "params": bundle("1900000109").to_json() }),
    )
    .await;
    assert_eq!(wrong["refused"]["code"], "MCHID_MISMATCH", "{wrong}");
    let uni = client_pay(&t, json!({ "surface": "uni-app", "params": bundle(&t.mchid).uni_app().to_json(), "choice": "cancel" })).await;
    assert_eq!(
        uni["result"]["errMsg"], "requestPayment:fail [payment微信:-2]User canceled",
        "{uni}"
    );
    let ok = client_pay(
        &t,
        json!({ "surface": "app", "params": bundle(&t.mchid).to_json() }),
    )
    .await;
    assert_eq!(ok["result"]["errCode"], 0, "{ok}");
    assert_eq!(state(&t, "client_app01").await, "SUCCESS");
}

#[tokio::test]
async fn v2_bundle_checks_the_unified_orders_sign_type() {
    let t = start().await;
    let oa = t.appid(AppKind::OfficialAccount);
    let r = crate::v2::post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        crate::v2::unified(&t, "client_v2_01", "JSAPI", "https://m.example/n"),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");
    let sign = |st: SignType| {
        JsapiPayParams::sign_v2(
            &crate::v2::key(),
            st,
            &AppId::new(oa.as_str()).expect("appid"),
            &PrepayId::new(r["prepay_id"].as_str()).expect("prepay"),
            &PayTimestamp::from_unix(now()).expect("ts"),
            &NonceStr::new("ibuaiVcKdpRxkhJA").expect("nonce"),
        )
        .expect("sign")
        .to_json()
    };
    let md5 = client_pay(
        &t,
        json!({ "surface": "weixin-js-bridge", "params": sign(SignType::Md5) }),
    )
    .await;
    assert_eq!(md5["refused"]["code"], "SIGN_TYPE", "{md5}");
    let ok = client_pay(
        &t,
        json!({ "surface": "weixin-js-bridge", "params": sign(SignType::HmacSha256) }),
    )
    .await;
    assert_eq!(
        ok["result"]["err_msg"], "get_brand_wcpay_request:ok",
        "{ok}"
    );
    assert_eq!(state(&t, "client_v2_01").await, "SUCCESS");
}

#[tokio::test]
async fn wx_config_is_checked_against_the_current_ticket() {
    let t = start().await;
    let oa = universe()
        .apps
        .iter()
        .find(|a| a.kind == AppKind::OfficialAccount)
        .expect("official account");
    let get = |path: String| {
        let http = t.http.clone();
        let url = t.url(&path);
        async move {
            http.get(url)
                .send()
                .await
                .expect("get")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let page = "https://shop.example/pay?order=1#/cart";
    let config = |signature: &str| json!({ "appId": oa.appid, "timestamp": 1_700_000_000u64, "nonceStr": "Wm3WZYTPz0wzccnW", "signature": signature, "url": page });

    let (_, before) = t
        .control(
            "POST",
            "/__sim/client/config",
            Some(config("0".repeat(40).as_str())),
        )
        .await;
    assert_eq!(
        before["errMsg"], "config:invalid signature",
        "no ticket issued yet"
    );

    let token = get(format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        oa.appid,
        oa.secret.expose()
    ))
    .await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let ticket = get(format!(
        "/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
    ))
    .await["ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    let (_, good) =
        config_signature(&ticket, "Wm3WZYTPz0wzccnW", 1_700_000_000, page).expect("sign");
    let (_, ok) = t
        .control("POST", "/__sim/client/config", Some(config(&good)))
        .await;
    assert_eq!(ok["errMsg"], "config:ok");

    // An SPA that signs the URL it navigated to instead of the landing URL: WeChat's 63002.
    let (_, other_page) = config_signature(
        &ticket,
        "Wm3WZYTPz0wzccnW",
        1_700_000_000,
        "https://shop.example/pay?order=2",
    )
    .expect("sign");
    let (_, bad) = t
        .control("POST", "/__sim/client/config", Some(config(&other_page)))
        .await;
    assert_eq!(bad["errMsg"], "config:invalid signature");
}
