//! Full signature equality for the client invocation builders: the official and the
//! independent-oracle JSAPI / APP vectors, signed with the vector's private key through
//! `keys::PrivateKey`. RSASSA-PKCS1-v1_5 is deterministic, so the Base64 must match exactly.

#![cfg(feature = "private-key")]

use serde_json::Value;

use wxpay_core::ids::{AppId, MchId, PrepayId};
use wxpay_core::invoke::{AppPayParams, JsapiPayParams, NonceStr, PayTimestamp};
use wxpay_core::keys::PrivateKey;

mod common;

use common::{all_vectors, read};

fn of_kind(kind: &str) -> Vec<Value> {
    let v: Vec<Value> = all_vectors()
        .into_iter()
        .filter(|v| v["kind"] == kind)
        .collect();
    assert!(v.len() >= 2, "official and oracle vectors of kind {kind}");
    v
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string"))
}

fn key_of(input: &Value) -> PrivateKey {
    PrivateKey::from_pkcs8_pem(read(s(input, "private_key_file"))).expect("vector private key")
}

#[test]
fn jsapi_paysign_equals_vectors() {
    for v in of_kind("v3_paysign_jsapi") {
        let (input, expected) = (&v["input"], &v["expected"]);
        let prepay = s(input, "package")
            .strip_prefix("prepay_id=")
            .expect("prefix");
        let p = JsapiPayParams::sign_v3(
            &key_of(input),
            &AppId::new(s(input, "appId")).expect("appid"),
            &PrepayId::new(prepay).expect("prepay"),
            &PayTimestamp::parse(s(input, "timeStamp")).expect("ts"),
            &NonceStr::new(s(input, "nonceStr")).expect("nonce"),
        )
        .expect("sign");
        assert_eq!(p.message(), s(expected, "message"), "{}", v["id"]);
        assert_eq!(p.pay_sign(), s(expected, "paySign"), "{}", v["id"]);
        assert_eq!(p.sign_type().as_str(), s(expected, "signType"));
    }
}

#[test]
fn app_sign_equals_vectors() {
    for v in of_kind("v3_sign_app") {
        let (input, expected) = (&v["input"], &v["expected"]);
        let p = AppPayParams::sign_v3(
            &key_of(input),
            &AppId::new(s(input, "appid")).expect("appid"),
            &MchId::new(s(input, "partnerid")).expect("mchid"),
            &PrepayId::new(s(input, "prepayid")).expect("prepay"),
            &PayTimestamp::parse(s(input, "timestamp")).expect("ts"),
            &NonceStr::new(s(input, "noncestr")).expect("nonce"),
        )
        .expect("sign");
        assert_eq!(p.message(), s(expected, "message"), "{}", v["id"]);
        assert_eq!(p.sign(), s(expected, "sign"), "{}", v["id"]);
    }
}
