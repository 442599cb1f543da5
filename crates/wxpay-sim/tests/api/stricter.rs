//! Places where the simulator used to accept what WeChat refuses (README, "Stricter than
//! before"): each test shows the refusal as WeChat words it, and what is still accepted.

use serde_json::json;
use wxpay_core::v2::sign::SignType;
use wxpay_sim::config::AppKind;

use crate::common::*;
use crate::v2::{post, unified};

/// A public host over plain HTTP: WeChat requires HTTPS there (A.8).
const PLAIN_HTTP: &str = "http://merchant.example/notify";

#[tokio::test]
async fn v3_refuses_a_plain_http_notify_url_on_a_public_host() {
    let t = start().await;
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body("order_http1", 100, PLAIN_HTTP),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "{}",
        r.body
    );
    assert_eq!(r.json()["detail"]["field"], "/notify_url");
    // HTTPS, and plain HTTP to a loopback host (a local merchant), are fine.
    for (no, url) in [
        ("order_http2", "https://merchant.example/notify"),
        ("order_http3", "http://127.0.0.1:9/notify"),
    ] {
        let r = t
            .post_json("/v3/pay/transactions/jsapi", &t.jsapi_body(no, 100, url))
            .await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
    }
    // The refund's notify_url follows the same rule.
    t.paid_order("order_http4", 100, "https://merchant.example/notify")
        .await;
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &json!({"out_trade_no": "order_http4", "out_refund_no": "refund_http4",
                    "notify_url": PLAIN_HTTP,
                    "amount": {"refund": 100, "total": 100, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("PARAM_ERROR")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn v2_refuses_a_plain_http_notify_url_on_a_public_host() {
    let t = start().await;
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(&t, "v2_http01", "NATIVE", PLAIN_HTTP),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(r["return_code"], "FAIL", "{r:?}");
    assert!(
        r["return_msg"].contains("invalid notify_url"),
        "WeChat's wording: {r:?}"
    );
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(&t, "v2_http02", "NATIVE", "http://localhost:9/notify"),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");
}

/// A merchant on a private line (专线) may be notified over plain HTTP at the hosts named in
/// `private_line_notify_hosts`.
#[tokio::test]
async fn a_private_line_host_may_be_notified_over_plain_http() {
    let mut config = base_config();
    config.private_line_notify_hosts = vec!["merchant.example".into()];
    let t = start_with(config).await;
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body("order_line1", 100, PLAIN_HTTP),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body("order_line2", 100, "http://other.example/notify"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

/// An openid is per app: WeChat answers `appid和openid不匹配` for another app's openid, and a
/// never-issued one belongs to no app at all.
#[tokio::test]
async fn a_jsapi_prepay_needs_an_openid_issued_for_its_appid() {
    let t = start().await;
    let mp = t.appid(AppKind::MiniProgram);
    let oa = t.appid(AppKind::OfficialAccount);
    let (_, minted) = t
        .control("POST", "/__sim/login/code", Some(json!({ "appid": mp })))
        .await;
    let mp_openid = minted["openid"].as_str().expect("openid").to_owned();
    let (_, minted) = t
        .control("POST", "/__sim/oauth/code", Some(json!({ "appid": oa })))
        .await;
    let oa_openid = minted["openid"].as_str().expect("openid").to_owned();

    let jsapi = |no: &str, appid: &str, openid: &str| {
        let mut body = t.jsapi_body(no, 100, "https://merchant.example/notify");
        body["appid"] = json!(appid);
        body["payer"]["openid"] = json!(openid);
        body
    };
    let path = "/v3/pay/transactions/jsapi";
    let r = t
        .post_json(path, &jsapi("order_oid01", &mp, &mp_openid))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = t
        .post_json(path, &jsapi("order_oid02", &oa, &oa_openid))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (no, appid, openid) in [
        ("order_oid03", &oa, &mp_openid),
        ("order_oid04", &mp, &oa_openid),
        (
            "order_oid05",
            &mp,
            &"oNeverIssuedByThisSimulator0".to_owned(),
        ),
    ] {
        let r = t.post_json(path, &jsapi(no, appid, openid)).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (400, Some("PARAM_ERROR")),
            "{openid} under {appid}: {}",
            r.body
        );
        assert_eq!(r.json()["message"], "appid和openid不匹配");
        assert_eq!(r.json()["detail"]["field"], "/payer/openid");
    }

    // v2 unified order (the test's v2 requests name the official account).
    let v2 = |no: &str, openid: &str| {
        let mut p = unified(&t, no, "JSAPI", "https://merchant.example/notify");
        p.insert("openid".into(), openid.to_owned());
        p
    };
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        v2("v2_oid01", &mp_openid),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(
        (r["result_code"].as_str(), r["err_code"].as_str()),
        ("FAIL", "PARAM_ERROR"),
        "{r:?}"
    );
    assert_eq!(r["err_code_des"], "appid和openid不匹配");
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        v2("v2_oid02", &oa_openid),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");

    // The same openid cannot be issued to a second app.
    let (status, _) = t
        .control(
            "POST",
            "/__sim/login/code",
            Some(json!({ "appid": mp, "openid": oa_openid })),
        )
        .await;
    assert_eq!(status, 400);
}

/// v2 unified order: WeChat refuses a `time_expire` too close to now ("刷卡至少1分钟，其他5分钟":
/// five minutes for every trade type the simulator serves) instead of raising it.
#[tokio::test]
async fn v2_refuses_a_time_expire_under_five_minutes_away() {
    let t = start().await;
    let order = |no: &str, expire_in: i64| {
        let mut p = unified(&t, no, "NATIVE", "https://merchant.example/notify");
        let at = wxpay_core::v2::time::format_v2_time(now() + expire_in).expect("v2 time");
        p.insert("time_expire".into(), at);
        p
    };
    for (no, expire_in) in [("v2_exp01", 60), ("v2_exp02", 240), ("v2_exp03", -60)] {
        let r = post(
            &t.http,
            &t.url("/pay/unifiedorder"),
            order(no, expire_in),
            SignType::HmacSha256,
        )
        .await;
        assert_eq!(r["return_code"], "FAIL", "{expire_in}: {r:?}");
        assert!(
            r["return_msg"].contains("time_expire时间过短"),
            "WeChat's wording: {r:?}"
        );
        let (status, _) = t.control("GET", &format!("/__sim/orders/{no}"), None).await;
        assert_eq!(status, 404, "{expire_in}: nothing was created");
    }
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        order("v2_exp04", 600),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");
    let (_, held) = t.control("GET", "/__sim/orders/v2_exp04", None).await;
    let at = held["time_expire"].as_i64().expect("time_expire");
    assert!(
        (now() + 590..=now() + 600).contains(&at),
        "kept as sent: {held}"
    );
}
