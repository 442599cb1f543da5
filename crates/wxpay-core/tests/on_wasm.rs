//! Checks of the typed values and parsers that the browser build leans on, written once and
//! run on both targets (`cargo test` natively; `wasm-bindgen-test-runner` on wasm32), next
//! to the known-answer files `vectors_v2.rs` and `vectors_v3.rs`, which also run on both.

use serde_json::json;
use wxpay_core::env::{detect, EnvHints, Environment};
use wxpay_core::ids::{IdError, OutTradeNo, SerialNo};
use wxpay_core::invoke::{format_for, Surface};
use wxpay_core::poll::{PollDecision, PollPolicy};
use wxpay_core::state::TradeState;
use wxpay_core::v2::xml;
use wxpay_core::values::{Amount, Description, TimeExpire};

macro_rules! both_targets {
    ($($(#[$meta:meta])* fn $name:ident() $body:block)*) => {$(
        $(#[$meta])*
        #[cfg_attr(not(target_arch = "wasm32"), test)]
        #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
        fn $name() $body
    )*};
}

both_targets! {
    fn typed_ids_refuse_what_wechat_refuses() {
        assert!(OutTradeNo::new("1217752501201407033233368018").is_ok());
        assert!(matches!(OutTradeNo::new("short"), Err(IdError::Length { .. })));
        assert!(matches!(OutTradeNo::new("has space1"), Err(IdError::Character { ch: ' ', .. })));
        let upper = SerialNo::new("5157F09EFDC096DE15EBE81A47057A7232F1B8E1").expect("serial");
        let lower = SerialNo::new("5157f09efdc096de15ebe81a47057a7232f1b8e1").expect("serial");
        assert_eq!(upper, lower);
    }

    fn amounts_and_texts() {
        assert!(Amount::from_fen(0).is_err());
        assert_eq!(Amount::from_fen(1).map(Amount::fen), Ok(1));
        assert!(Description::new("形".repeat(42)).is_ok());
        assert!(Description::new("形".repeat(43)).is_err());
        let t = TimeExpire::parse("2018-06-08T10:34:56+08:00").expect("rfc3339");
        assert_eq!(t.unix_seconds(), 1_528_425_296);
    }

    fn trade_states_parse_unknown_values() {
        assert_eq!(TradeState::parse("SUCCESS"), TradeState::Success);
        assert_eq!(TradeState::parse("NEW_STATE"), TradeState::Unknown("NEW_STATE".into()));
        assert!(!TradeState::Closed.can_transition_to(&TradeState::Success));
    }

    fn xml_codec_round_trip_and_refusals() {
        let fields = [("return_code", "SUCCESS"), ("body", "a]]>b & <c>")];
        let text = xml::to_xml(fields).expect("to_xml");
        let back = xml::parse(text.as_bytes(), xml::DEFAULT_MAX_LEN).expect("parse");
        assert_eq!(back.get("body").map(String::as_str), Some("a]]>b & <c>"));
        let evil = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>"#;
        assert!(xml::parse(evil, xml::DEFAULT_MAX_LEN).is_err());
        assert!(xml::parse(&[b'a'; 100], 10).is_err());
    }

    fn validators_name_the_misnamed_field() {
        let ok = json!({"timeStamp": "1554208460", "nonceStr": "593BEC0C930BF1AFEB40B4A08C8FB242",
            "package": "prepay_id=wx201410272009395522657a690389285100", "signType": "MD5",
            "paySign": "9A0A8659F005D6984697E2CA0A9CF3B7", "appId": "wx2421b1c4370ec43b"});
        let formatted = format_for(Surface::MiniProgram, &ok).expect("valid requestPayment params");
        assert!(formatted.get("appId").is_none(), "wx.requestPayment takes no appId");
        let mut wrong = ok.clone();
        let ts = wrong.as_object_mut().and_then(|o| o.remove("timeStamp")).expect("timeStamp");
        wrong.as_object_mut().map(|o| o.insert("timestamp".into(), ts));
        let err = format_for(Surface::MiniProgram, &wrong).expect_err("casing mix-up");
        assert_eq!(err.code(), "MISNAMED_FIELD");
        assert!(err.to_string().contains("timeStamp"), "{err}");
    }

    fn environments_from_user_agents() {
        let browser = EnvHints { has_window: true, ..EnvHints::default() };
        let wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2f) NetType/WIFI Language/zh_CN";
        assert_eq!(detect(Some(wechat), &browser), Environment::WeChatBrowser);
        let desktop = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(detect(Some(desktop), &browser), Environment::DesktopBrowser);
    }

    fn poll_policy_stops_on_paid_and_on_timeout() {
        let policy = PollPolicy::h5_return();
        assert!(matches!(policy.next(0, 0, None), PollDecision::Wait(_)));
        assert!(matches!(policy.next(1_000, 1, Some(&TradeState::Success)), PollDecision::Stop(_)));
        assert!(matches!(policy.next(policy.overall_timeout_ms, 50, None), PollDecision::Stop(_)));
    }
}
