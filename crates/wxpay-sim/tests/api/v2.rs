use std::collections::BTreeMap;

use wxpay_core::v2::sign::{sign_into, sign_request_into, verify, ApiV2Key, SignType};
use wxpay_core::v2::time::parse_v2_datetime;
use wxpay_core::v2::{refund_crypto, xml};
use wxpay_sim::config::AppKind;

use crate::common::*;

pub(crate) fn key() -> ApiV2Key {
    ApiV2Key::new(universe().apiv2_key.expose()).expect("key")
}

fn params(t: &TestSim, pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("appid".to_owned(), t.appid(AppKind::OfficialAccount));
    m.insert("mch_id".to_owned(), t.mchid.clone());
    m.insert("nonce_str".to_owned(), "ibuaiVcKdpRxkhJA".to_owned());
    for (k, v) in pairs {
        m.insert((*k).to_owned(), (*v).to_owned());
    }
    m
}

pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    mut p: BTreeMap<String, String>,
    st: SignType,
) -> BTreeMap<String, String> {
    sign_request_into(&mut p, &key(), st);
    let body = xml::to_xml(p.iter()).expect("xml");
    let text = client
        .post(url)
        .body(body)
        .send()
        .await
        .expect("post")
        .text()
        .await
        .expect("text");
    xml::parse(text.as_bytes(), xml::DEFAULT_MAX_LEN).expect("parse reply")
}

pub(crate) fn unified(
    t: &TestSim,
    otn: &str,
    trade_type: &str,
    notify: &str,
) -> BTreeMap<String, String> {
    params(
        t,
        &[
            ("body", "test"),
            ("out_trade_no", otn),
            ("total_fee", "100"),
            ("spbill_create_ip", "127.0.0.1"),
            ("notify_url", notify),
            ("trade_type", trade_type),
            ("product_id", "p1"),
            ("openid", OA_PAYER),
        ],
    )
}

#[tokio::test]
async fn unified_order_query_close() {
    let t = start().await;
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(&t, "v2_order01", "NATIVE", "https://m.example/n"),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(r["return_code"], "SUCCESS", "{r:?}");
    assert_eq!(r["result_code"], "SUCCESS");
    assert!(r["code_url"].starts_with("weixin://wxpay/bizpayurl?pr="));
    // Signed like the request, and like WeChat's answers it does not name the algorithm.
    verify(&r, &key(), SignType::HmacSha256).expect("reply is signed HMAC-SHA256");
    assert!(!r.contains_key("sign_type"), "{r:?}");
    let mut mweb = unified(&t, "v2_order02", "MWEB", "https://m.example/n");
    mweb.insert(
        "scene_info".into(),
        r#"{"h5_info":{"type":"Wap","wap_url":"http://localhost","wap_name":"t"}}"#.into(),
    );
    let r = post(&t.http, &t.url("/pay/unifiedorder"), mweb, SignType::Md5).await;
    assert!(r.contains_key("mweb_url"), "{r:?}");
    verify(&r, &key(), SignType::Md5).expect("md5 reply");
    assert!(!r.contains_key("sign_type"), "{r:?}");
    let q = post(
        &t.http,
        &t.url("/pay/orderquery"),
        params(&t, &[("out_trade_no", "v2_order01")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["trade_state"], "NOTPAY");
    let c = post(
        &t.http,
        &t.url("/pay/closeorder"),
        params(&t, &[("out_trade_no", "v2_order01")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(c["result_code"], "SUCCESS");
    let q = post(
        &t.http,
        &t.url("/pay/orderquery"),
        params(&t, &[("out_trade_no", "v2_order01")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["trade_state"], "CLOSED");
    let again = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(&t, "v2_order01", "NATIVE", "https://m.example/n"),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(again["err_code"], "ORDERCLOSED");
    let q = post(
        &t.http,
        &t.url("/pay/orderquery"),
        params(&t, &[("out_trade_no", "v2_none01")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["err_code"], "ORDERNOTEXIST");
}

#[tokio::test]
async fn bad_v2_signature_and_missing_fields() {
    let t = start().await;
    let mut p = unified(&t, "v2_order03", "JSAPI", "https://m.example/n");
    sign_into(&mut p, &key(), SignType::Md5);
    p.insert("total_fee".into(), "1".into());
    let text = t
        .http
        .post(t.url("/pay/unifiedorder"))
        .body(xml::to_xml(p.iter()).expect("xml"))
        .send()
        .await
        .expect("p")
        .text()
        .await
        .expect("t");
    let r = xml::parse(text.as_bytes(), xml::DEFAULT_MAX_LEN).expect("parse");
    assert_eq!(r["return_code"], "FAIL");
    assert!(r["return_msg"].contains("签名错误"));
    let mut p = unified(&t, "v2_order04", "JSAPI", "https://m.example/n");
    p.remove("openid");
    let r = post(&t.http, &t.url("/pay/unifiedorder"), p, SignType::Md5).await;
    assert_eq!(r["return_code"], "FAIL");
    assert!(r["return_msg"].contains("openid"));
    let text = t
        .http
        .post(t.url("/pay/unifiedorder"))
        .body("<!DOCTYPE x><xml/>")
        .send()
        .await
        .expect("p")
        .text()
        .await
        .expect("t");
    assert!(text.contains("FAIL"));
}

#[tokio::test]
async fn v2_pay_notification_and_refund_over_mutual_tls() {
    let t = start().await;
    let rx = receiver(vec![]).await;
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(&t, "v2_order05", "JSAPI", &rx.url),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS");
    t.control("POST", "/__sim/orders/v2_order05/pay", None)
        .await;
    let got = rx.wait_for(1).await;
    let n = xml::parse(&got[0].body, xml::DEFAULT_MAX_LEN).expect("xml");
    // Signed with the order's type, which the notification does not name.
    verify(&n, &key(), SignType::HmacSha256).expect("notification signed HMAC-SHA256");
    assert!(!n.contains_key("sign_type"), "{n:?}");
    assert_eq!(n["total_fee"], "100");
    assert_eq!(n["openid"], "oV2user");
    let transaction_id = n["transaction_id"].clone();

    // Plain listener refuses the refund.
    let refund = params(
        &t,
        &[
            ("out_trade_no", "v2_order05"),
            ("out_refund_no", "v2_ref01"),
            ("total_fee", "100"),
            ("refund_fee", "40"),
            ("notify_url", &rx.url),
        ],
    );
    let r = post(
        &t.http,
        &t.url("/secapi/pay/refund"),
        refund.clone(),
        SignType::Md5,
    )
    .await;
    assert_eq!(r["return_code"], "FAIL");

    let u = universe();
    let tls_url = t.sim.tls_base_url().expect("tls listener");
    let ca = reqwest::Certificate::from_pem(u.ca.cert_pem.as_bytes()).expect("ca");
    // Without a client certificate the handshake fails.
    let no_cert = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca.clone())
        .build()
        .expect("client");
    let mut signed = refund.clone();
    sign_into(&mut signed, &key(), SignType::Md5);
    let err = no_cert
        .post(format!("{tls_url}/secapi/pay/refund"))
        .body(xml::to_xml(signed.iter()).expect("x"))
        .send()
        .await;
    assert!(err.is_err(), "client certificate required");
    let identity = reqwest::Identity::from_pem(
        format!("{}{}", u.merchant.key_pem, u.merchant.cert_pem).as_bytes(),
    )
    .expect("id");
    let mtls = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .identity(identity)
        .build()
        .expect("client");
    let r = post(
        &mtls,
        &format!("{tls_url}/secapi/pay/refund"),
        refund,
        SignType::Md5,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");
    assert_eq!(r["refund_fee"], "40");
    assert_eq!(r["transaction_id"], transaction_id);
    let q = post(
        &t.http,
        &t.url("/pay/refundquery"),
        params(&t, &[("out_refund_no", "v2_ref01")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["refund_status_0"], "PROCESSING");
    assert_eq!(q["refund_count"], "1");
    t.control("POST", "/__sim/refunds/v2_ref01/succeed", None)
        .await;
    let got = rx.wait_for(2).await;
    let n = xml::parse(&got[1].body, xml::DEFAULT_MAX_LEN).expect("xml");
    let inner = refund_crypto::decrypt_fields(&n["req_info"], &key()).expect("req_info decrypts");
    assert_eq!(inner["refund_status"], "SUCCESS");
    assert_eq!(inner["out_refund_no"], "v2_ref01");
    // Refund times are yyyy-MM-dd HH:mm:ss in v2 (the core's format_v2_datetime), in the
    // notification and in refundquery alike; refundquery's refund_fee is the total refunded.
    let at = parse_v2_datetime(&inner["success_time"]).expect("success_time form");
    assert!((now() - 60..=now() + 1).contains(&at), "{inner:?}");
    let q = post(
        &t.http,
        &t.url("/pay/refundquery"),
        params(&t, &[("out_trade_no", "v2_order05")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["refund_status_0"], "SUCCESS", "{q:?}");
    assert_eq!(
        parse_v2_datetime(&q["refund_success_time_0"]),
        Ok(at),
        "{q:?}"
    );
    assert_eq!(q["refund_fee"], "40", "{q:?}");
    let q = post(
        &t.http,
        &t.url("/pay/refundquery"),
        params(&t, &[("out_refund_no", "nope")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["err_code"], "REFUNDNOTEXIST");
}

/// A client presenting `identity` (key + certificate PEM) on the mutual-TLS listener.
fn mtls_client(key_pem: &str, cert_pem: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(universe().ca.cert_pem.as_bytes()).expect("ca");
    let identity =
        reqwest::Identity::from_pem(format!("{key_pem}{cert_pem}").as_bytes()).expect("identity");
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .identity(identity)
        .build()
        .expect("client")
}

async fn paid_v2_order(t: &TestSim, otn: &str) -> String {
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(t, otn, "JSAPI", "https://m.example/n"),
        SignType::Md5,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");
    let (s, order) = t
        .control("POST", &format!("/__sim/orders/{otn}/pay"), None)
        .await;
    assert_eq!(s, 200, "{order}");
    order["transaction_id"]
        .as_str()
        .expect("transaction_id")
        .to_owned()
}

#[tokio::test]
async fn app_trade_type() {
    let t = start().await;
    let mut p = unified(&t, "v2_app01", "APP", "https://m.example/n");
    p.remove("openid");
    p.remove("product_id");
    p.insert("appid".into(), t.appid(AppKind::App));
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        p,
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");
    assert_eq!(r["trade_type"], "APP");
    assert!(r["prepay_id"].starts_with("wx"));
    assert!(!r.contains_key("code_url") && !r.contains_key("mweb_url"));
    verify(&r, &key(), SignType::HmacSha256).expect("signed");
    let mut q = params(&t, &[("out_trade_no", "v2_app01")]);
    q.insert("appid".into(), t.appid(AppKind::App));
    let q = post(&t.http, &t.url("/pay/orderquery"), q, SignType::Md5).await;
    assert_eq!(q["trade_type"], "APP");
    assert_eq!(q["trade_state"], "NOTPAY");
}

#[tokio::test]
async fn orderpaid_from_unifiedorder_and_closeorder() {
    let t = start().await;
    paid_v2_order(&t, "v2_paid01").await;
    let again = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(&t, "v2_paid01", "JSAPI", "https://m.example/n"),
        SignType::Md5,
    )
    .await;
    assert_eq!(again["return_code"], "SUCCESS");
    assert_eq!(again["result_code"], "FAIL");
    assert_eq!(again["err_code"], "ORDERPAID", "{again:?}");
    verify(&again, &key(), SignType::Md5).expect("business errors are signed");
    let close = post(
        &t.http,
        &t.url("/pay/closeorder"),
        params(&t, &[("out_trade_no", "v2_paid01")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(close["err_code"], "ORDERPAID", "{close:?}");
    let q = post(
        &t.http,
        &t.url("/pay/orderquery"),
        params(&t, &[("out_trade_no", "v2_paid01")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["trade_state"], "SUCCESS", "closeorder changed nothing");
}

#[tokio::test]
async fn reused_out_trade_no_with_different_parameters_is_invalid_request() {
    let t = start().await;
    let first = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(&t, "v2_reuse01", "JSAPI", "https://m.example/n"),
        SignType::Md5,
    )
    .await;
    assert_eq!(first["result_code"], "SUCCESS");
    // Same parameters (a fresh nonce): the same prepay_id.
    let mut same = unified(&t, "v2_reuse01", "JSAPI", "https://m.example/n");
    same.insert("nonce_str".into(), "anotherNonce0001".into());
    let r = post(&t.http, &t.url("/pay/unifiedorder"), same, SignType::Md5).await;
    assert_eq!(r["prepay_id"], first["prepay_id"]);
    let mut changed = unified(&t, "v2_reuse01", "JSAPI", "https://m.example/n");
    changed.insert("total_fee".into(), "101".into());
    let r = post(&t.http, &t.url("/pay/unifiedorder"), changed, SignType::Md5).await;
    assert_eq!(r["result_code"], "FAIL");
    assert_eq!(r["err_code"], "INVALID_REQUEST", "{r:?}");
}

#[tokio::test]
async fn orderquery_by_transaction_id() {
    let t = start().await;
    let tid = paid_v2_order(&t, "v2_tid01").await;
    let q = post(
        &t.http,
        &t.url("/pay/orderquery"),
        params(&t, &[("transaction_id", &tid)]),
        SignType::HmacSha256,
    )
    .await;
    assert_eq!(q["result_code"], "SUCCESS", "{q:?}");
    assert_eq!(q["out_trade_no"], "v2_tid01");
    assert_eq!(q["transaction_id"], tid);
    assert_eq!(q["trade_state"], "SUCCESS");
    verify(&q, &key(), SignType::HmacSha256).expect("signed");
    let q = post(
        &t.http,
        &t.url("/pay/orderquery"),
        params(&t, &[("transaction_id", "4200000000000000000000000000")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["err_code"], "ORDERNOTEXIST");
}

#[tokio::test]
async fn v2_refund_notenough_and_a_foreign_client_certificate() {
    // A second merchant whose API certificate chains to the same CA.
    let u = universe();
    let other = wxpay_sim::universe::CertAuthority::from_identity(&u.ca)
        .and_then(|ca| ca.issue_platform())
        .expect("issue");
    let mut c = base_config();
    let mut second = c.merchants[0].clone();
    second.mchid = "1900000002".into();
    second.certs = vec![wxpay_sim::config::Material::inline(other.cert_pem.clone())];
    c.merchants.push(second);
    let t = start_with(c).await;
    paid_v2_order(&t, "v2_nen01").await;
    let tls_url = format!(
        "{}/secapi/pay/refund",
        t.sim.tls_base_url().expect("tls listener")
    );
    let refund = params(
        &t,
        &[
            ("out_trade_no", "v2_nen01"),
            ("out_refund_no", "v2_nen_r1"),
            ("total_fee", "100"),
            ("refund_fee", "60"),
        ],
    );
    // The other merchant's certificate, for this merchant's mch_id.
    let foreign = mtls_client(&other.key_pem, &other.cert_pem);
    let r = post(&foreign, &tls_url, refund.clone(), SignType::Md5).await;
    assert_eq!(r["return_code"], "FAIL", "{r:?}");
    assert!(r["return_msg"].contains("证书与商户号不匹配"), "{r:?}");
    // The merchant's own certificate, but the balance is short.
    t.control(
        "POST",
        "/__sim/balance",
        Some(serde_json::json!({"mchid": t.mchid, "fen": 59})),
    )
    .await;
    let own = mtls_client(&u.merchant.key_pem, &u.merchant.cert_pem);
    let r = post(&own, &tls_url, refund.clone(), SignType::Md5).await;
    assert_eq!(r["result_code"], "FAIL", "{r:?}");
    assert_eq!(r["err_code"], "NOTENOUGH");
    t.control(
        "POST",
        "/__sim/balance",
        Some(serde_json::json!({"mchid": t.mchid, "fen": 60})),
    )
    .await;
    let r = post(&own, &tls_url, refund, SignType::Md5).await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");
    let (_, refunds) = t.control("GET", "/__sim/refunds", None).await;
    assert_eq!(refunds.as_array().map(Vec::len), Some(1), "only one refund");
}

#[tokio::test]
async fn v2_notification_is_retried_on_return_code_fail() {
    let t = start().await;
    let fail = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名失败]]></return_msg></xml>";
    let rx = receiver_replying(vec![
        (200, fail.to_owned()),
        (200, "OK".to_owned()),
        (204, String::new()),
    ])
    .await;
    let r = post(
        &t.http,
        &t.url("/pay/unifiedorder"),
        unified(&t, "v2_ntf01", "JSAPI", &rx.url),
        SignType::Md5,
    )
    .await;
    assert_eq!(r["result_code"], "SUCCESS");
    t.control("POST", "/__sim/orders/v2_ntf01/pay", None).await;
    let d = t
        .wait_for_delivery("v2_ntf01", 10, |d| d["status"] == "acknowledged")
        .await;
    assert_eq!(d["event_type"], "V2.PAY");
    assert_eq!(attempt_statuses(&d), vec![200, 200, 204, 200]);
    let acks: Vec<bool> = d["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["acknowledged"] == true)
        .collect();
    assert_eq!(acks, vec![false, false, false, true]);
    assert_eq!(d["attempts"][0]["reply"], fail);
    let got = rx.wait_for(4).await;
    assert!(got.windows(2).all(|w| w[0].body == w[1].body));
}
