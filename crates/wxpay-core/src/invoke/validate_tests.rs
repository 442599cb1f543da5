//! Tests of the client-side validators: one per error kind and per casing mix-up.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use serde_json::{json, Value};

use super::*;
use crate::invoke::{ModeOneUrlError, UrlProblem};

const OFFICIAL_PAYSIGN: &str = "mI35pfNEQV6777ke/1T+LJLQDNTm7yeoUJH+j/adPGhmCCi0PbgkvYQTRcXH0uibcLVtvFLdGLpmoYO9FV6lBBsTAjuhh5YOvQi0e2g3e0yytitiNET9FEuqM0pjnKfRW4K6LIZDdbWJv9KhZUx3DrJa5TL7OJ7VdADVivxVySIlPVKjGwuCXzuXSJes0UcILgWQUMyha5/3nYofuHtS7r+KYyMuxD+oJ9VM1Qdxk4UIG59CP5Y3wtYIFybyF3bdu1caHTRRX+DLyMXyYA/IrTmiW01c4RPjpHBX5Dk1sZyY1zVsWNsvMHr2e1NTWtBxKJ+qk5N61J7caYoepHFaxw==";
const OFFICIAL_APP_SIGN: &str = "gXx9KhTP6IooKV1SuG3OCGlBIgZbKtubCZvnau6khw1iffvNT28IzLbKmztq2xA/RCNbZa1XOsoiuVmAEeTZQicWfhv4P+O4oBRIrx0X9f3cnWFkMBU9alTWs0nyQ1N9fcILOTe0f4kxOhVh+/Xhn5hOiUK7Sz3XA1mcpa3R2NCWf/e+0ow/RDf15iTymOHgDrEkT/gedg/3E0iXfDX3mFicSZhrHESZDOTXcl9RzELREBUFznd/o2NQM99WcL86m23HY0cTy+QGWU4QDmNrbQ9ihmLW71qPb0Cx/d7EQvw/Kyx0A6s64ZQp3hHdcmiRcLnjVXrKCk7LShaCK+lS3Q==";

/// The official JSAPI vector in the `getBrandWCPayRequest` shape.
fn bridge() -> Value {
    json!({
        "appId": "wx2421b1c4370ec43b",
        "timeStamp": "1554208460",
        "nonceStr": "593BEC0C930BF1AFEB40B4A08C8FB242",
        "package": "prepay_id=wx201410272009395522657a690389285100",
        "signType": "RSA",
        "paySign": OFFICIAL_PAYSIGN,
    })
}

fn request_payment() -> Value {
    let mut v = bridge();
    remove(&mut v, "appId");
    v
}

fn choose_wx_pay() -> Value {
    let mut v = request_payment();
    rename(&mut v, "timeStamp", "timestamp");
    v
}

/// The official APP vector.
fn app_bundle() -> Value {
    json!({
        "appid": "wx2421b1c4370ec43b",
        "partnerid": "1900007291",
        "prepayid": "wx201410272009395522657a690389285100",
        "package": "Sign=WXPay",
        "noncestr": "593BEC0C930BF1AFEB40B4A08C8FB242",
        "timestamp": "1554208460",
        "sign": OFFICIAL_APP_SIGN,
    })
}

fn remove(v: &mut Value, key: &str) -> Value {
    v.as_object_mut()
        .and_then(|m| m.remove(key))
        .unwrap_or(Value::Null)
}

fn rename(v: &mut Value, from: &str, to: &str) {
    let x = remove(v, from);
    v[to] = x;
}

fn set(mut v: Value, key: &str, x: Value) -> Value {
    v[key] = x;
    v
}

fn message(surface: Surface, v: &Value) -> String {
    match format_for(surface, v) {
        Ok(ok) => panic!("expected an error for {surface}, got {ok}"),
        Err(e) => e.to_string(),
    }
}

// ---- accepted bundles --------------------------------------------------------------------

#[test]
fn official_vectors_pass_for_every_jsapi_surface() {
    assert_eq!(
        format_for(Surface::MiniProgram, &request_payment()),
        Ok(request_payment())
    );
    // The full bridge bundle is accepted for wx.requestPayment: appId is dropped.
    assert_eq!(
        format_for(Surface::MiniProgram, &bridge()),
        Ok(request_payment())
    );
    assert_eq!(format_for(Surface::WeixinJsBridge, &bridge()), Ok(bridge()));
    assert_eq!(
        format_for(Surface::JsSdk, &choose_wx_pay()),
        Ok(choose_wx_pay())
    );
    let uni = format_for(Surface::UniMpWeixin, &request_payment()).expect("uni");
    assert_eq!(uni, set(request_payment(), "provider", json!("wxpay")));
    let with_provider = set(request_payment(), "provider", json!("wxpay"));
    assert_eq!(format_for(Surface::UniMpWeixin, &with_provider), Ok(uni));
}

#[test]
fn extra_fields_are_dropped() {
    let v = set(request_payment(), "orderNo", json!("A1"));
    assert_eq!(format_for(Surface::MiniProgram, &v), Ok(request_payment()));
}

#[test]
fn official_app_vector_passes_and_numeric_timestamp_is_normalised() {
    assert_eq!(format_for(Surface::App, &app_bundle()), Ok(app_bundle()));
    let numeric = set(
        set(app_bundle(), "timestamp", json!(1554208460)),
        "partnerid",
        json!(1900007291),
    );
    assert_eq!(format_for(Surface::App, &numeric), Ok(app_bundle()));
}

#[test]
fn uni_app_accepts_object_string_or_bare_bundle() {
    let expected = json!({ "provider": "wxpay", "orderInfo": app_bundle() });
    let wrapped = json!({ "provider": "wxpay", "orderInfo": app_bundle() });
    assert_eq!(format_for(Surface::UniApp, &wrapped), Ok(expected.clone()));
    let as_string = json!({ "orderInfo": app_bundle().to_string() });
    assert_eq!(
        format_for(Surface::UniApp, &as_string),
        Ok(expected.clone())
    );
    assert_eq!(format_for(Surface::UniApp, &app_bundle()), Ok(expected));
}

#[test]
fn v2_signatures_are_accepted_with_their_sign_type() {
    let md5 = set(
        set(request_payment(), "signType", json!("MD5")),
        "paySign",
        json!("C380BEC2BFD727A4B6845133519F3AD6"),
    );
    assert!(format_for(Surface::MiniProgram, &md5).is_ok());
    let hmac = set(
        set(request_payment(), "signType", json!("HMAC-SHA256")),
        "paySign",
        json!("6A".repeat(32)),
    );
    assert!(format_for(Surface::MiniProgram, &hmac).is_ok());
    let app_md5 = set(
        app_bundle(),
        "sign",
        json!("C380BEC2BFD727A4B6845133519F3AD6"),
    );
    assert!(format_for(Surface::App, &app_md5).is_ok());
}

#[test]
fn parse_helpers_return_typed_bundles() {
    let p = parse_jsapi_bundle(&bridge()).expect("bridge");
    assert_eq!(
        p.message(),
        "wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nprepay_id=wx201410272009395522657a690389285100\n"
    );
    let a = parse_app_bundle(&app_bundle()).expect("app");
    assert_eq!(a.message(), "wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nwx201410272009395522657a690389285100\n");
}

// ---- casing mix-ups ----------------------------------------------------------------------

#[test]
fn timestamp_lower_case_for_request_payment() {
    assert_eq!(
        message(Surface::MiniProgram, &choose_wx_pay()),
        "found `timestamp`, expected `timeStamp` for wx.requestPayment"
    );
}

#[test]
fn time_stamp_camel_case_for_choose_wx_pay() {
    assert_eq!(
        message(Surface::JsSdk, &request_payment()),
        "found `timeStamp`, expected `timestamp` for wx.chooseWXPay"
    );
}

#[test]
fn appid_lower_case_for_bridge() {
    let mut v = bridge();
    rename(&mut v, "appId", "appid");
    let err = format_for(Surface::WeixinJsBridge, &v).expect_err("misnamed");
    assert_eq!(
        err,
        InvokeError::MisnamedField {
            surface: Surface::WeixinJsBridge,
            found: "appid".into(),
            expected: "appId"
        }
    );
    assert_eq!(err.code(), "MISNAMED_FIELD");
    assert_eq!(err.field(), Some("appId"));
}

#[test]
fn noncestr_lower_case_for_request_payment() {
    let mut v = request_payment();
    rename(&mut v, "nonceStr", "noncestr");
    assert_eq!(
        message(Surface::MiniProgram, &v),
        "found `noncestr`, expected `nonceStr` for wx.requestPayment"
    );
}

#[test]
fn paysign_variants_for_request_payment() {
    let mut v = request_payment();
    rename(&mut v, "paySign", "paysign");
    assert_eq!(
        message(Surface::MiniProgram, &v),
        "found `paysign`, expected `paySign` for wx.requestPayment"
    );
    let mut v = request_payment();
    rename(&mut v, "paySign", "sign");
    assert_eq!(
        message(Surface::MiniProgram, &v),
        "found `sign`, expected `paySign` for wx.requestPayment"
    );
}

#[test]
fn sign_type_lower_case() {
    let mut v = request_payment();
    rename(&mut v, "signType", "signtype");
    assert_eq!(
        message(Surface::MiniProgram, &v),
        "found `signtype`, expected `signType` for wx.requestPayment"
    );
}

#[test]
fn camel_case_keys_for_app() {
    let cases = [
        ("appid", "appId"),
        ("noncestr", "nonceStr"),
        ("timestamp", "timeStamp"),
        ("sign", "paySign"),
        ("package", "packageValue"),
        ("partnerid", "partnerId"),
        ("prepayid", "prepayId"),
    ];
    for (expected, found) in cases {
        let mut v = app_bundle();
        rename(&mut v, expected, found);
        assert_eq!(
            format_for(Surface::App, &v),
            Err(InvokeError::MisnamedField {
                surface: Surface::App,
                found: found.into(),
                expected
            }),
            "{found}"
        );
    }
}

#[test]
fn jsapi_bundle_sent_to_uni_app() {
    // A JSAPI bundle where the APP orderInfo was expected: the first field reports the casing.
    assert_eq!(
        message(Surface::UniApp, &bridge()),
        "found `appId`, expected `appid` for uni.requestPayment orderInfo (App)"
    );
    let v = json!({ "provider": "wxpay", "order_info": app_bundle() });
    assert_eq!(
        message(Surface::UniApp, &v),
        "found `order_info`, expected `orderInfo` for uni.requestPayment orderInfo (App)"
    );
}

// ---- other error kinds -------------------------------------------------------------------

#[test]
fn not_an_object() {
    for (v, found) in [
        (json!([1]), "array"),
        (json!("x"), "string"),
        (Value::Null, "null"),
    ] {
        let err = format_for(Surface::MiniProgram, &v).expect_err("not object");
        assert_eq!(
            err,
            InvokeError::NotAnObject {
                surface: Surface::MiniProgram,
                found
            }
        );
        assert_eq!(err.code(), "NOT_AN_OBJECT");
    }
}

#[test]
fn missing_field() {
    let mut v = request_payment();
    remove(&mut v, "package");
    let err = format_for(Surface::MiniProgram, &v).expect_err("missing");
    assert_eq!(
        err,
        InvokeError::MissingField {
            surface: Surface::MiniProgram,
            field: "package"
        }
    );
    assert_eq!(err.to_string(), "missing `package` for wx.requestPayment");
    // appId is required by the bridge only.
    assert_eq!(
        format_for(Surface::WeixinJsBridge, &request_payment()),
        Err(InvokeError::MissingField {
            surface: Surface::WeixinJsBridge,
            field: "appId"
        })
    );
}

#[test]
fn numeric_timestamp_is_a_type_error_for_request_payment() {
    let v = set(request_payment(), "timeStamp", json!(1554208460));
    let err = format_for(Surface::MiniProgram, &v).expect_err("type");
    assert_eq!(
        err,
        InvokeError::WrongType {
            surface: Surface::MiniProgram,
            field: "timeStamp",
            expected: "string",
            found: "number"
        }
    );
    assert_eq!(err.code(), "WRONG_TYPE");
}

fn invalid(surface: Surface, v: &Value) -> (&'static str, FieldProblem) {
    match format_for(surface, v) {
        Err(InvokeError::InvalidField { field, problem, .. }) => (field, problem),
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn millisecond_timestamp() {
    let (field, problem) = invalid(
        Surface::MiniProgram,
        &set(request_payment(), "timeStamp", json!("1554208460000")),
    );
    assert_eq!(field, "timeStamp");
    assert!(matches!(problem, FieldProblem::Timestamp { .. }));
}

#[test]
fn package_without_prefix() {
    let v = set(
        request_payment(),
        "package",
        json!("wx201410272009395522657a690389285100"),
    );
    assert!(matches!(
        invalid(Surface::MiniProgram, &v),
        ("package", FieldProblem::PackageFormat { .. })
    ));
    let v = set(app_bundle(), "package", json!("prepay_id=wx2014"));
    assert!(matches!(
        invalid(Surface::App, &v),
        ("package", FieldProblem::AppPackage { .. })
    ));
}

#[test]
fn sign_type_spelling() {
    let v = set(request_payment(), "signType", json!("rsa"));
    assert!(matches!(
        invalid(Surface::MiniProgram, &v),
        ("signType", FieldProblem::SignType { .. })
    ));
}

#[test]
fn pay_sign_shapes() {
    let v = set(request_payment(), "paySign", json!("%%%"));
    assert!(matches!(
        invalid(Surface::MiniProgram, &v),
        ("paySign", FieldProblem::NotBase64 { .. })
    ));
    let v = set(request_payment(), "paySign", json!("AAAA"));
    assert_eq!(
        invalid(Surface::MiniProgram, &v),
        (
            "paySign",
            FieldProblem::SignatureBytes {
                expected: 256,
                found: 3
            }
        )
    );
    // An RSA signature sent with signType MD5.
    let v = set(request_payment(), "signType", json!("MD5"));
    assert!(matches!(
        invalid(Surface::MiniProgram, &v),
        ("paySign", FieldProblem::HexSignature { expected: 32, .. })
    ));
    let v = set(app_bundle(), "sign", json!("short"));
    assert!(matches!(
        invalid(Surface::App, &v),
        ("sign", FieldProblem::NotBase64 { .. })
    ));
}

#[test]
fn nonce_too_long() {
    let v = set(request_payment(), "nonceStr", json!("A".repeat(33)));
    assert_eq!(
        invalid(Surface::MiniProgram, &v),
        ("nonceStr", FieldProblem::NonceTooLong { len: 33 })
    );
}

#[test]
fn bad_ids() {
    let v = set(bridge(), "appId", json!("wx 123"));
    assert!(matches!(
        invalid(Surface::WeixinJsBridge, &v),
        ("appId", FieldProblem::Id(_))
    ));
    let v = set(app_bundle(), "partnerid", json!("19000x"));
    assert!(matches!(
        invalid(Surface::App, &v),
        ("partnerid", FieldProblem::Id(_))
    ));
}

#[test]
fn uni_provider_and_order_info_errors() {
    let v = set(request_payment(), "provider", json!("alipay"));
    assert!(matches!(
        invalid(Surface::UniMpWeixin, &v),
        ("provider", FieldProblem::Provider { .. })
    ));
    let v = json!({ "orderInfo": "app_id=2021&biz_content=x" });
    assert!(matches!(
        invalid(Surface::UniApp, &v),
        ("orderInfo", FieldProblem::NotJsonObject { .. })
    ));
    let v = json!({ "orderInfo": 5 });
    assert!(matches!(
        format_for(Surface::UniApp, &v),
        Err(InvokeError::WrongType {
            field: "orderInfo",
            ..
        })
    ));
}

#[test]
fn h5_formats_and_checks_host() {
    let h5_url =
        "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=1037687096";
    let out = format_for(
        Surface::H5,
        &json!({ "h5_url": h5_url, "redirect_url": "https://shop.example/ret?o=1" }),
    );
    assert_eq!(
        out,
        Ok(
            json!({ "url": format!("{h5_url}&redirect_url=https%3A%2F%2Fshop.example%2Fret%3Fo%3D1") })
        )
    );
    assert_eq!(
        format_for(Surface::H5, &json!({ "mweb_url": h5_url })),
        Ok(json!({ "url": h5_url }))
    );

    let err =
        format_for(Surface::H5, &json!({ "h5Url": "https://evil.example/pay" })).expect_err("host");
    assert!(matches!(
        err,
        InvokeError::InvalidUrl {
            field: "h5_url",
            problem: UrlProblem::HostNotAllowed { .. },
            ..
        }
    ));
    assert_eq!(err.code(), "INVALID_URL");
    let err = format_for(
        Surface::H5,
        &json!({ "h5_url": h5_url, "redirect_url": "javascript://x" }),
    )
    .expect_err("js");
    assert!(matches!(
        err,
        InvokeError::InvalidUrl {
            field: "redirect_url",
            ..
        }
    ));
    assert_eq!(
        format_for(Surface::H5, &json!({})),
        Err(InvokeError::MissingField {
            surface: Surface::H5,
            field: "h5_url"
        })
    );

    let sim = ValidateOptions {
        h5_hosts: H5HostPolicy::with_hosts(["127.0.0.1:7070"]).allowing_http(true),
    };
    let local = json!({ "h5_url": "http://127.0.0.1:7070/cashier?prepay_id=wx1" });
    assert!(format_for_with(Surface::H5, &local, &sim).is_ok());
    assert!(format_for(Surface::H5, &local).is_err());
}

#[test]
fn native_checks_scheme() {
    let ok = format_for(
        Surface::Native,
        &json!({ "codeUrl": "weixin://wxpay/bizpayurl?pr=JyC91EIz1" }),
    );
    assert_eq!(
        ok,
        Ok(json!({ "code_url": "weixin://wxpay/bizpayurl?pr=JyC91EIz1" }))
    );
    let err = format_for(
        Surface::Native,
        &json!({ "code_url": "https://evil.example" }),
    )
    .expect_err("scheme");
    assert!(matches!(
        err,
        InvokeError::InvalidUrl {
            problem: UrlProblem::Scheme { .. },
            ..
        }
    ));
    let err = format_for(Surface::Native, &json!({ "code_url": 5 })).expect_err("type");
    assert!(matches!(
        err,
        InvokeError::WrongType {
            field: "code_url",
            ..
        }
    ));
}

#[test]
fn native_checks_a_mode_one_product_url_without_the_key() {
    let url =
        "weixin://wxpay/bizpayurl?sign=378E80EED79077062D9C32C6A793FE40&appid=wx2421b1c4370ec43b\
               &mch_id=10000100&product_id=88888&time_stamp=1415949957&nonce_str=1415949957";
    assert_eq!(
        format_for(Surface::Native, &json!({ "code_url": url })),
        Ok(json!({ "code_url": url }))
    );
    let truncated = url.replace("&product_id=88888", "");
    let err = format_for(Surface::Native, &json!({ "code_url": truncated })).expect_err("field");
    assert!(matches!(
        err,
        InvokeError::InvalidUrl {
            field: "code_url",
            problem: UrlProblem::ModeOne(ModeOneUrlError::MissingParameter("product_id")),
            ..
        }
    ));
    let bad_time = url.replace("time_stamp=1415949957", "time_stamp=soon");
    let err = format_for(Surface::Native, &json!({ "code_url": bad_time })).expect_err("time");
    assert!(err.to_string().contains("time_stamp"), "{err}");
}
