use std::collections::BTreeMap;

use wxpay_core::v2::sign::{sign_into, verify, ApiV2Key, SignType};
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
    sign_into(&mut p, &key(), st);
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
            ("openid", "oV2user"),
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
    assert_eq!(
        verify(&r, &key()).expect("reply is signed"),
        SignType::HmacSha256
    );
    let mut mweb = unified(&t, "v2_order02", "MWEB", "https://m.example/n");
    mweb.insert(
        "scene_info".into(),
        r#"{"h5_info":{"type":"Wap","wap_url":"http://localhost","wap_name":"t"}}"#.into(),
    );
    let r = post(&t.http, &t.url("/pay/unifiedorder"), mweb, SignType::Md5).await;
    assert!(r.contains_key("mweb_url"), "{r:?}");
    verify(&r, &key()).expect("md5 reply");
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
    assert_eq!(
        verify(&n, &key()).expect("notification signed"),
        SignType::HmacSha256
    );
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
    let q = post(
        &t.http,
        &t.url("/pay/refundquery"),
        params(&t, &[("out_refund_no", "nope")]),
        SignType::Md5,
    )
    .await;
    assert_eq!(q["err_code"], "REFUNDNOTEXIST");
}
