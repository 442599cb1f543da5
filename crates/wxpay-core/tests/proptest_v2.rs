//! Property tests for the v2 codec, signer and refund `req_info` cipher.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;

use proptest::prelude::*;
use wxpay_core::v2::refund_crypto;
use wxpay_core::v2::sign::{self, ApiV2Key, SignType, V2SignError};
use wxpay_core::v2::xml;

fn key_strategy() -> impl Strategy<Value = ApiV2Key> {
    "[!-~]{32}".prop_map(|k| ApiV2Key::new(k).expect("32 visible ASCII characters"))
}

fn name_strategy() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,15}"
}

/// Values of any XML 1.0 character (including `]]>`-like runs and CJK), never control
/// characters other than tab / LF / CR.
fn value_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,20}",
        "[\\]>\\[<&\"' ]{0,12}",
        "\\PC{0,20}",
        "[\t\n\r a-z]{0,8}",
    ]
}

fn fields_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(name_strategy(), value_strategy(), 0..12)
}

fn sign_type_strategy() -> impl Strategy<Value = SignType> {
    prop_oneof![Just(SignType::Md5), Just(SignType::HmacSha256)]
}

proptest! {
    #[test]
    fn sign_then_verify(mut fields in fields_strategy(), key in key_strategy(), t in sign_type_strategy()) {
        fields.remove("sign");
        fields.remove("sign_type");
        sign::sign_into(&mut fields, &key, t);
        prop_assert_eq!(sign::verify(&fields, &key, t), Ok(()));
    }

    #[test]
    fn changing_a_signed_value_breaks_verification(
        mut fields in fields_strategy(),
        key in key_strategy(),
        t in sign_type_strategy(),
        extra in "[a-z0-9]{1,8}",
    ) {
        fields.remove("sign");
        fields.remove("sign_type");
        fields.insert("total_fee".into(), "1".into());
        sign::sign_into(&mut fields, &key, t);
        fields.insert("total_fee".into(), format!("1{extra}"));
        prop_assert_eq!(sign::verify(&fields, &key, t), Err(V2SignError::BadSignature));
    }

    #[test]
    fn xml_round_trip(fields in fields_strategy()) {
        let text = xml::to_xml(&fields).expect("names and values are writable");
        let back = xml::parse(text.as_bytes(), usize::MAX).expect("own output parses");
        prop_assert_eq!(back, fields);
    }

    #[test]
    fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = xml::parse(&bytes, 4096);
    }

    #[test]
    fn parse_never_panics_on_xmlish_text(text in "[<>/!?\\[\\]&#;a-zA-Z0-9 \"'=-]{0,200}") {
        let _ = xml::parse(text.as_bytes(), 4096);
        let wrapped = format!("<xml>{text}</xml>");
        let _ = xml::parse(wrapped.as_bytes(), 4096);
    }

    #[test]
    fn req_info_round_trip(plain in prop::collection::vec(any::<u8>(), 0..300), key in key_strategy()) {
        let ct = refund_crypto::encrypt(&plain, &key);
        prop_assert_eq!(refund_crypto::decrypt(&ct, &key).expect("own ciphertext decrypts"), plain);
    }

    #[test]
    fn req_info_decrypt_never_panics(text in "[A-Za-z0-9+/=]{0,64}", key in key_strategy()) {
        let _ = refund_crypto::decrypt(&text, &key);
    }
}
