//! The bindings as JavaScript sees them, in headless Chromium (wasm-bindgen-test).
//!
//! Run: `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! CHROMEDRIVER=/usr/bin/chromedriver cargo test -p wxpay-wasm --target wasm32-unknown-unknown`
//! (`webdriver.json` next to Cargo.toml adds the quiet, root-safe Chromium flags).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn prop(v: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(name)).expect("property read")
}

fn bundle() -> String {
    format!(
        r#"{{"appId":"wx8888888888888888","timeStamp":"1700000000","nonceStr":"n0nce","package":"prepay_id=wx2014","signType":"RSA","paySign":"{}"}}"#,
        "A".repeat(342) + "=="
    )
}

#[wasm_bindgen_test]
fn validation_errors_are_js_errors_with_code_and_field() {
    let bad = bundle().replace("\"timeStamp\"", "\"timestamp\"");
    let err = wxpay_wasm::format_params("mini-program", &bad, "").expect_err("casing mix-up");
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(
        prop(&err, "code").as_string().as_deref(),
        Some("MISNAMED_FIELD")
    );
    assert_eq!(
        prop(&err, "field").as_string().as_deref(),
        Some("timeStamp")
    );
    assert_eq!(
        prop(&err, "name").as_string().as_deref(),
        Some("WxPayError")
    );
    let message = prop(&err, "message").as_string().unwrap_or_default();
    assert!(
        message.contains("timestamp") && message.contains("wx.requestPayment"),
        "{message}"
    );
}

#[wasm_bindgen_test]
fn formats_each_jsapi_surface_with_its_casing() {
    let mp = wxpay_wasm::format_params("mini-program", &bundle(), "").expect("mini-program");
    assert!(
        mp.contains(r#""timeStamp":"1700000000""#) && !mp.contains("appId"),
        "{mp}"
    );
    let bridge = wxpay_wasm::format_params("weixin-js-bridge", &bundle(), "").expect("bridge");
    assert!(
        bridge.contains(r#""appId":"wx8888888888888888""#),
        "{bridge}"
    );
    let sdk_input = bundle().replace("\"timeStamp\"", "\"timestamp\"");
    let sdk = wxpay_wasm::format_params("js-sdk", &sdk_input, "").expect("js-sdk");
    assert!(
        sdk.contains(r#""timestamp":"1700000000""#) && !sdk.contains("timeStamp"),
        "{sdk}"
    );
    let uni = wxpay_wasm::format_params("uni-mp-weixin", &bundle(), "").expect("uni");
    assert!(uni.contains(r#""provider":"wxpay""#), "{uni}");
}

#[wasm_bindgen_test]
fn unknown_surface_and_bad_json_have_codes() {
    let e = wxpay_wasm::format_params("fax", "{}", "").expect_err("surface");
    assert_eq!(
        prop(&e, "code").as_string().as_deref(),
        Some("UNKNOWN_SURFACE")
    );
    let e = wxpay_wasm::format_params("h5", "{not json", "").expect_err("json");
    assert_eq!(prop(&e, "code").as_string().as_deref(), Some("BAD_INPUT"));
}

#[wasm_bindgen_test]
fn normalises_outcomes_with_the_raw_message() {
    let r = wxpay_wasm::normalise_result(
        "weixin-js-bridge",
        r#"{"err_msg":"get_brand_wcpay_request:cancel"}"#,
    )
    .expect("ok");
    assert!(
        r.contains(r#""outcome":"cancel""#) && r.contains("get_brand_wcpay_request:cancel"),
        "{r}"
    );
    let r = wxpay_wasm::normalise_result(
        "uni-app",
        r#"{"errMsg":"requestPayment:fail [payment微信:-1]General errors"}"#,
    )
    .expect("ok");
    assert!(
        r.contains(r#""outcome":"fail""#) && r.contains("微信"),
        "{r}"
    );
}

#[wasm_bindgen_test]
fn detects_this_browser_as_desktop() {
    let ua = web_sys_free_user_agent();
    let env =
        wxpay_wasm::detect_env(&ua, r#"{"hasWindow":true,"maxTouchPoints":0}"#).expect("detect");
    assert_eq!(env, "desktop-browser", "user agent {ua}");
}

/// `navigator.userAgent` through js-sys reflection (no web-sys dependency for one string).
fn web_sys_free_user_agent() -> String {
    let global = js_sys::global();
    let nav = prop(&global, "navigator");
    prop(&nav, "userAgent").as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
fn poll_policy_decisions_cross_as_json() {
    let w = wxpay_wasm::poll_next("after-client-result", 0, 0, "", 0, 0.0).expect("wait");
    assert_eq!(w, r#"{"action":"wait","value":500}"#);
    let s = wxpay_wasm::poll_next("h5-return", 10, 1, "REFUND", 0, 0.5).expect("stop");
    assert_eq!(s, r#"{"action":"stop","value":"paid"}"#);
}

#[wasm_bindgen_test]
fn qr_svg_renders_and_rejects_oversized_input() {
    let svg = wxpay_wasm::qr_svg("weixin://wxpay/bizpayurl?pr=AbCdEf1", 0).expect("svg");
    assert!(svg.contains("<svg"));
    let e = wxpay_wasm::qr_svg(&"x".repeat(8000), 0).expect_err("too long");
    assert_eq!(prop(&e, "code").as_string().as_deref(), Some("QR_TOO_LONG"));
}

#[wasm_bindgen_test]
fn trade_state_info_reflects_core_rules() {
    assert_eq!(
        wxpay_wasm::trade_state_info("REFUND"),
        r#"{"final":true,"paid":true,"pending":false}"#
    );
    assert_eq!(
        wxpay_wasm::trade_state_info("USERPAYING"),
        r#"{"final":false,"paid":false,"pending":true}"#
    );
}
