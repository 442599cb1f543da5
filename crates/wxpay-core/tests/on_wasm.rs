//! Checks of the typed values and parsers that the browser build leans on, written once and
//! run on both targets (`cargo test` natively; `wasm-bindgen-test-runner` on wasm32), next
//! to the known-answer files `vectors_v2.rs` and `vectors_v3.rs`, which also run on both.

use wxpay_core::ids::{IdError, OutTradeNo, SerialNo};
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
}
