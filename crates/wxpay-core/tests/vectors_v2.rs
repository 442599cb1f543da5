//! Known-answer tests for the v2 sign, the v2 XML codec and the JS-SDK signature, run
//! against every vector of those kinds in the repository's set (`tests/vectors`).

use std::collections::BTreeMap;

use serde_json::Value;
use wxpay_core::jssdk;
use wxpay_core::v2::sign::{self, ApiV2Key, SignType};
use wxpay_core::v2::xml;

mod common;

fn vectors(kind: &str) -> Vec<Value> {
    let all = common::all_vectors();
    let found: Vec<Value> = all.into_iter().filter(|v| v["kind"] == kind).collect();
    assert!(!found.is_empty(), "no vectors of kind {kind}");
    found
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {v}"))
}

fn params_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .expect("params is an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_owned()))
        .collect()
}

fn run_sign(kind: &str, sign_type: SignType) -> usize {
    let all = vectors(kind);
    for v in &all {
        let (input, expected) = (&v["input"], &v["expected"]);
        let key = ApiV2Key::new(s(input, "api_key")).expect("vector key is valid");
        let params = params_of(&input["params"]);
        assert_eq!(
            sign::string_a(&params),
            s(expected, "string_a"),
            "{}",
            v["id"]
        );
        assert_eq!(
            sign::string_sign_temp(&params, &key),
            s(expected, "string_sign_temp"),
            "{}",
            v["id"]
        );
        assert_eq!(
            sign::sign(&params, &key, sign_type),
            s(expected, "sign"),
            "{}",
            v["id"]
        );
    }
    all.len()
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn v2_sign_md5_vectors() {
    assert!(run_sign("v2_sign_md5", SignType::Md5) >= 1);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn v2_sign_hmac_sha256_vectors() {
    assert!(run_sign("v2_sign_hmac_sha256", SignType::HmacSha256) >= 1);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn jssdk_signature_vectors() {
    for v in vectors("jssdk_signature") {
        let (input, expected) = (&v["input"], &v["expected"]);
        let timestamp: u64 = s(input, "timestamp").parse().expect("numeric timestamp");
        let (string1, signature) = jssdk::config_signature(
            s(input, "jsapi_ticket"),
            s(input, "noncestr"),
            timestamp,
            s(input, "url"),
        )
        .expect("vector inputs are acceptable");
        assert_eq!(string1, s(expected, "string1"), "{}", v["id"]);
        assert_eq!(signature, s(expected, "signature"), "{}", v["id"]);
        // A fragment never changes the signature.
        let with_fragment = format!("{}#section", s(input, "url"));
        let (_, again) = jssdk::config_signature(
            s(input, "jsapi_ticket"),
            s(input, "noncestr"),
            timestamp,
            &with_fragment,
        )
        .expect("fragment is dropped");
        assert_eq!(again, signature);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn v2_notify_verify_vectors() {
    let mut valid = 0;
    let mut invalid = 0;
    for v in vectors("v2_notify_verify") {
        let (input, expected) = (&v["input"], &v["expected"]);
        let key = ApiV2Key::new(s(input, "api_key")).expect("vector key is valid");
        let fields = xml::parse(s(input, "xml").as_bytes(), xml::DEFAULT_MAX_LEN)
            .expect("vector XML parses");
        // The merchant's own sign type for the order: WeChat's notifications never name it.
        assert!(
            !fields.contains_key(sign::SIGN_TYPE_FIELD),
            "{}: WeChat's notifications carry no sign_type",
            v["id"]
        );
        let sign_type = SignType::parse(s(input, "sign_type")).expect("known sign type");
        let result = sign::verify(&fields, &key, sign_type);
        if expected["valid"] == true {
            valid += 1;
            assert_eq!(fields, params_of(&expected["fields"]), "{}", v["id"]);
            assert_eq!(
                sign::string_a(&fields),
                s(expected, "string_a"),
                "{}",
                v["id"]
            );
            assert_eq!(
                sign::string_sign_temp(&fields, &key),
                s(expected, "string_sign_temp"),
                "{}",
                v["id"]
            );
            assert_eq!(s(expected, "sign_type"), sign_type.as_str(), "{}", v["id"]);
            assert_eq!(result, Ok(()), "{}", v["id"]);
            assert_eq!(
                sign::sign(&fields, &key, sign_type),
                s(expected, "sign"),
                "{}",
                v["id"]
            );
        } else {
            invalid += 1;
            let err = result.expect_err("negative vector must fail");
            assert_eq!(err.reason_code(), s(expected, "reason"), "{}", v["id"]);
        }
    }
    assert!(valid >= 1 && invalid >= 1);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn v2_xml_reject_doctype_vectors() {
    for v in vectors("v2_xml_reject_doctype") {
        let (input, expected) = (&v["input"], &v["expected"]);
        let err = xml::parse(s(input, "xml").as_bytes(), xml::DEFAULT_MAX_LEN)
            .expect_err("DOCTYPE must be refused");
        assert!(
            matches!(err, xml::XmlError::DoctypeRefused),
            "{}: {err:?}",
            v["id"]
        );
        assert_eq!(err.reason_code(), s(expected, "reason"), "{}", v["id"]);
    }
}
