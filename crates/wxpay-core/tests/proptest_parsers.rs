//! Every parser that reads something a network peer or a page controls returns a typed error on
//! arbitrary input and never panics: ids and values, client bundles on every surface, URLs,
//! environment hints, v2 models, v3 request bodies and paths.
//!
//! Inputs lean towards the real field names and shapes, so the generator reaches the checks
//! behind "is it an object" instead of stopping at the first one.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Map, Value};
use wxpay_core::env::{detect, EnvHints};
use wxpay_core::invoke::{
    format_for, h5_redirect_url, parse_app_bundle, parse_jsapi_bundle, CodeUrl, H5HostPolicy,
    ModeOneUrl, NonceStr, PaySignType, PayTimestamp, ProductId, Surface,
};
use wxpay_core::v2::models::{
    CloseOrderRequest, OrderQueryRequest, OrderQueryResponse, PayNotification, UnifiedOrderRequest,
    UnifiedOrderResponse,
};
use wxpay_core::v2::refund_models::{
    RefundNotification, RefundNotificationInfo, RefundQueryRequest, RefundQueryResponse,
    RefundRequest as V2RefundRequest, RefundResponse as V2RefundResponse,
};
use wxpay_core::v2::time::parse_v2_time;
use wxpay_core::v2::ApiV2Key;
use wxpay_core::v3::models::{CloseRequest, PrepayKind, PrepayRequest, RefundRequest};
use wxpay_core::v3::paths::Endpoint;
use wxpay_core::{
    AppId, MchId, OpenId, OutRefundNo, OutTradeNo, PrepayId, RefundId, SerialNo, TimeExpire,
    TransactionId,
};

/// Field names the validators and models look for, in every casing people get wrong.
const NAMES: &[&str] = &[
    "appId",
    "appid",
    "AppId",
    "timeStamp",
    "timestamp",
    "nonceStr",
    "noncestr",
    "package",
    "signType",
    "paySign",
    "partnerid",
    "prepayid",
    "sign",
    "orderInfo",
    "provider",
    "h5_url",
    "mweb_url",
    "code_url",
    "amount",
    "total",
    "currency",
    "payer",
    "openid",
    "mchid",
    "out_trade_no",
    "transaction_id",
    "out_refund_no",
    "refund",
    "description",
    "notify_url",
    "time_expire",
    "scene_info",
    "h5_info",
    "type",
    "payer_client_ip",
    "reason",
    "funds_account",
    "return_code",
    "result_code",
    "mch_id",
    "total_fee",
    "refund_fee",
    "trade_type",
    "trade_state",
    "time_end",
    "req_info",
    "prepay_id",
    "err_code",
    "refund_count",
    "refund_status_0",
    "out_refund_no_0",
    "refund_fee_0",
    "settlement_refund_fee",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(NAMES).prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

/// Strings shaped like the values those fields carry, plus arbitrary text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,12}",
        "wx[0-9a-f]{0,18}",
        "prepay_id=wx[0-9a-z]{0,30}",
        "(RSA|MD5|HMAC-SHA256|Sign=WXPay|wxpay|SUCCESS|FAIL|CNY|JSAPI|NATIVE)",
        "(https?|weixin)://[a-z.%&?=/:@\\[\\]#-]{0,40}",
        "[A-Za-z0-9+/=]{0,64}",
        "20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-Z][0-9:]{0,5}",
        "\\PC{0,24}",
        ".{0,8}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 48, 10, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(name(), inner, 0..10)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn params() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(name(), text(), 0..16)
}

fn hints() -> impl Strategy<Value = EnvHints> {
    (
        any::<[bool; 4]>(),
        prop::option::of(text()),
        any::<u32>(),
        prop::option::of(prop_oneof![
            Just("h5".to_owned()),
            Just("mp-weixin".to_owned()),
            Just("app".to_owned()),
            text()
        ]),
    )
        .prop_map(
            |(b, wxjs_environment, max_touch_points, uni_platform)| EnvHints {
                has_wx_request_payment: b[0],
                has_window: b[1],
                has_plus: b[2],
                has_uni: b[3],
                wxjs_environment,
                max_touch_points,
                uni_platform,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ids_and_values_never_panic(s in text()) {
        let _ = AppId::new(s.as_str());
        let _ = MchId::new(s.as_str());
        let _ = OpenId::new(s.as_str());
        let _ = OutTradeNo::new(s.as_str());
        let _ = OutRefundNo::new(s.as_str());
        let _ = TransactionId::new(s.as_str());
        let _ = PrepayId::new(s.as_str());
        let _ = RefundId::new(s.as_str());
        let _ = SerialNo::new(s.as_str());
        let _ = TimeExpire::parse(s.as_str());
        let _ = PayTimestamp::parse(&s);
        let _ = NonceStr::new(s.as_str());
        let _ = PaySignType::parse(&s);
        let _ = ProductId::new(s.as_str());
        let _ = parse_v2_time(&s);
    }

    #[test]
    fn client_bundles_never_panic_on_any_surface(value in json()) {
        for surface in Surface::ALL {
            let _ = format_for(surface, &value);
        }
        let _ = parse_jsapi_bundle(&value);
        let _ = parse_app_bundle(&value);
    }

    #[test]
    fn urls_never_panic(url in text(), redirect in prop::option::of(text()), host in text()) {
        let _ = CodeUrl::new(url.as_str());
        let _ = ModeOneUrl::parse(&url);
        let _ = ModeOneUrl::parse(&format!("weixin://wxpay/bizpayurl?{url}"));
        let _ = H5HostPolicy::wechat().check(&url);
        let policy = H5HostPolicy::with_hosts([host]);
        let _ = policy.check(&url);
        let _ = h5_redirect_url(&url, redirect.as_deref(), &H5HostPolicy::wechat());
    }

    #[test]
    fn environment_detection_never_panics(ua in prop::option::of(text()), h in hints()) {
        let _ = detect(ua.as_deref(), &h);
    }

    #[test]
    fn v2_models_never_panic(p in params(), key in "[!-~]{32}") {
        let key = ApiV2Key::new(key).expect("32 visible ASCII characters");
        let _ = UnifiedOrderRequest::from_params(&p);
        let _ = UnifiedOrderResponse::from_params(&p);
        let _ = OrderQueryRequest::from_params(&p);
        let _ = OrderQueryResponse::from_params(&p);
        let _ = CloseOrderRequest::from_params(&p);
        let _ = PayNotification::from_params(&p);
        let _ = V2RefundRequest::from_params(&p);
        let _ = V2RefundResponse::from_params(&p);
        let _ = RefundQueryRequest::from_params(&p);
        let _ = RefundQueryResponse::from_params(&p);
        let _ = RefundNotification::decrypt(&p, &key);
        let _ = RefundNotificationInfo::from_params(&p);
    }

    #[test]
    fn v3_request_bodies_and_paths_never_panic(
        body in json(),
        method in "(GET|POST|PUT|DELETE|get|\\PC{0,6})",
        path in "(/v3/(pay/transactions|refund/domestic|certificates)[/a-z0-9_?=&%-]{0,48}|\\PC{0,32})",
    ) {
        for kind in [PrepayKind::Jsapi, PrepayKind::App, PrepayKind::H5, PrepayKind::Native] {
            let _ = PrepayRequest::from_json(kind, &body);
        }
        let _ = RefundRequest::from_json(&body);
        let _ = CloseRequest::from_json(&body);
        let _ = Endpoint::parse(&method, &path);
    }
}
