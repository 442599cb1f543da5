//! The JSAPI / APP known-answer vectors (official doc and independent reference
//! implementation) against the builders and validators, without a private key: the builders
//! run with a signer that echoes the message, so the signed bytes can be compared with
//! `expected.message`, and the validators must accept `expected.paySign` / `expected.sign`.
//! Signature equality with the real key is in `tests/vectors_invoke.rs` (feature `private-key`).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::ids::{AppId, MchId, PrepayId};
use crate::invoke::{format_for, AppPayParams, JsapiPayParams, NonceStr, PayTimestamp, Surface};
use crate::signer::{RsaSigner, SignError};

const VECTORS: &str = include_str!("../../../../tests/vectors/vectors.json");

struct EchoSigner;
impl RsaSigner for EchoSigner {
    fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        Ok(message.to_vec())
    }
}

fn vectors(kind: &str) -> Vec<Value> {
    let all: Vec<Value> = serde_json::from_str(VECTORS).expect("vectors.json is a JSON list");
    let found: Vec<Value> = all.into_iter().filter(|v| v["kind"] == kind).collect();
    assert!(
        found.len() >= 2,
        "expected the official and the oracle {kind} vectors"
    );
    found
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {key} is a string"))
}

fn signed_message(signature_b64: &str) -> String {
    String::from_utf8(
        STANDARD
            .decode(signature_b64)
            .expect("echo signature is Base64"),
    )
    .expect("utf-8")
}

#[test]
fn jsapi_paysign_messages_match_vectors() {
    for v in vectors("v3_paysign_jsapi") {
        let (input, expected) = (&v["input"], &v["expected"]);
        let prepay = s(input, "package")
            .strip_prefix("prepay_id=")
            .expect("package prefix");
        let p = JsapiPayParams::sign_v3(
            &EchoSigner,
            &AppId::new(s(input, "appId")).expect("appid"),
            &PrepayId::new(prepay).expect("prepay id"),
            &PayTimestamp::parse(s(input, "timeStamp")).expect("ts"),
            &NonceStr::new(s(input, "nonceStr")).expect("nonce"),
        )
        .expect("build");
        assert_eq!(p.message(), s(expected, "message"), "{}", v["id"]);
        assert_eq!(
            signed_message(p.pay_sign()),
            s(expected, "message"),
            "{}",
            v["id"]
        );
        assert_eq!(p.sign_type().as_str(), s(expected, "signType"));

        // The expected signature, in each JSAPI surface's shape, passes the client validator.
        let bundle = json!({
            "appId": input["appId"], "timeStamp": input["timeStamp"], "nonceStr": input["nonceStr"],
            "package": input["package"], "signType": expected["signType"], "paySign": expected["paySign"],
        });
        assert_eq!(
            format_for(Surface::WeixinJsBridge, &bundle),
            Ok(bundle.clone()),
            "{}",
            v["id"]
        );
        let rp = format_for(Surface::MiniProgram, &bundle).expect("requestPayment");
        assert_eq!(rp["paySign"], expected["paySign"]);
    }
}

#[test]
fn app_sign_messages_match_vectors() {
    for v in vectors("v3_sign_app") {
        let (input, expected) = (&v["input"], &v["expected"]);
        let p = AppPayParams::sign_v3(
            &EchoSigner,
            &AppId::new(s(input, "appid")).expect("appid"),
            &MchId::new(s(input, "partnerid")).expect("mchid"),
            &PrepayId::new(s(input, "prepayid")).expect("prepay id"),
            &PayTimestamp::parse(s(input, "timestamp")).expect("ts"),
            &NonceStr::new(s(input, "noncestr")).expect("nonce"),
        )
        .expect("build");
        assert_eq!(p.message(), s(expected, "message"), "{}", v["id"]);
        assert_eq!(
            signed_message(p.sign()),
            s(expected, "message"),
            "{}",
            v["id"]
        );

        let bundle = json!({
            "appid": input["appid"], "partnerid": input["partnerid"], "prepayid": input["prepayid"],
            "package": input["package"], "noncestr": input["noncestr"], "timestamp": input["timestamp"],
            "sign": expected["sign"],
        });
        assert_eq!(
            format_for(Surface::App, &bundle),
            Ok(bundle.clone()),
            "{}",
            v["id"]
        );
        let uni = format_for(Surface::UniApp, &bundle).expect("uni");
        assert_eq!(uni["orderInfo"], bundle);
    }
}
