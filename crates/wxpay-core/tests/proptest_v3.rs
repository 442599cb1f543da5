//! Property tests for the API v3 crypto: round trips hold for arbitrary inputs, and the
//! parsers facing the network never panic on arbitrary bytes.
#![cfg(feature = "private-key")]
#![cfg(not(target_arch = "wasm32"))]

use std::sync::OnceLock;

use proptest::prelude::*;

use wxpay_core::ids::{MchId, SerialNo};
use wxpay_core::keys::{Certificate, PrivateKey, PublicKey};
use wxpay_core::v3::aead::{self, ApiV3Key};
use wxpay_core::v3::authorization::{Authorization, RequestParts, SCHEME};
use wxpay_core::v3::certificates::CertificatesResponse;
use wxpay_core::v3::notification::Notification;
use wxpay_core::v3::oaep;
use wxpay_core::v3::verify::{SignedHeaders, Verifier};

const SERIAL: &str = "4A3B2C1D0E0F1A2B3C4D5E6F708192A3B4C5D6E7";

/// One key per test binary, from the vectors (the core makes no keys: it draws no randomness).
fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::from_pkcs8_pem(include_str!(
            "../../../tests/vectors/oracle_merchant_key.pem"
        ))
        .expect("load")
    })
}

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let mut v = Verifier::new();
        v.add_public_key(
            SerialNo::new(SERIAL).expect("serial"),
            key().public_key().clone(),
        );
        v
    })
}

fn nonce() -> impl Strategy<Value = String> {
    "[0-9A-Za-z]{1,32}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn response_sign_then_verify(body in proptest::collection::vec(any::<u8>(), 0..2048),
                                 ts in 0i64..4_000_000_000, nonce in nonce(), skew in -299i64..=299,
                                 flip in any::<usize>()) {
        let serial = SerialNo::new(SERIAL).expect("serial");
        let headers = SignedHeaders::sign(key(), &serial, ts, &nonce, &body).expect("sign");
        prop_assert!(verifier().verify(&headers, &body, ts + skew).is_ok());
        // Through the header map, as a host would receive them.
        let pairs = headers.header_pairs();
        let again = SignedHeaders::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).expect("headers");
        prop_assert_eq!(&again, &headers);
        // Any single-bit change of the body breaks it.
        let mut altered = body.clone();
        if altered.is_empty() {
            altered.push(0);
        } else {
            let i = flip % altered.len();
            altered[i] ^= 1 << (flip % 8);
        }
        prop_assert_eq!(verifier().verify(&headers, &altered, ts).map_err(|e| e.reason_code()), Err("bad_signature"));
    }

    #[test]
    fn request_sign_parse_verify(body in "\\PC{0,300}", ts in 0i64..4_000_000_000, nonce in nonce(),
                                 path in "/v3/[a-z/_-]{0,40}(\\?[a-z]{1,5}=[0-9]{1,5})?") {
        let mchid = MchId::new("1900000109").expect("mchid");
        let serial = SerialNo::new(SERIAL).expect("serial");
        let parts = RequestParts { method: "POST", canonical_url: &path, timestamp: ts, nonce: &nonce, body: body.as_bytes() };
        let auth = Authorization::sign(key(), &mchid, &serial, &parts).expect("sign");
        let parsed = Authorization::parse(&auth.to_header_value()).expect("parse");
        prop_assert_eq!(&parsed, &auth);
        prop_assert!(parsed.verify(key().public_key(), "POST", &path, body.as_bytes()).is_ok());
        prop_assert!(parsed.verify(key().public_key(), "PUT", &path, body.as_bytes()).is_err());
    }

    #[test]
    fn oaep_round_trip(plain in proptest::collection::vec(any::<u8>(), 0..=214), seed in any::<[u8; 32]>()) {
        let ct = oaep::encrypt_sha1(key().public_key(), &plain, seed).expect("encrypt");
        prop_assert_eq!(key().oaep_decrypt_sha1(&ct).expect("decrypt"), plain);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn aead_round_trip(key in any::<[u8; 32]>(), nonce in "[0-9A-Za-z]{12}", aad in "[ -~]{0,16}",
                       plain in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let key = ApiV3Key::from_bytes(&key).expect("key");
        let ct = aead::encrypt(&key, &nonce, &aad, &plain).expect("encrypt");
        prop_assert_eq!(aead::decrypt(&key, &nonce, &aad, &ct).expect("decrypt"), plain);
    }

    #[test]
    fn aead_decrypt_never_panics(nonce in "\\PC{0,20}", aad in "\\PC{0,20}", ct in "\\PC{0,200}") {
        let key = ApiV3Key::new("1MuVBgXva0ChJanmKB0W5rtyYkOYB89G").expect("key");
        let _ = aead::decrypt(&key, &nonce, &aad, &ct);
    }

    #[test]
    fn authorization_parse_never_panics(tail in "\\PC{0,400}", raw in "\\PC{0,400}") {
        let _ = Authorization::parse(&raw);
        let _ = Authorization::parse(&format!("{SCHEME} {tail}"));
        let _ = Authorization::parse(&format!("{SCHEME} mchid=\"1\",{tail}"));
    }

    #[test]
    fn authorization_parse_of_reordered_fields(order in Just([0usize, 1, 2, 3, 4]).prop_shuffle()) {
        let items = [
            "mchid=\"1900000109\"",
            "nonce_str=\"abc\"",
            "timestamp=\"1735689600\"",
            "serial_no=\"3775B6A45ACD588826D15E583A95F5DD3F9C5E8B\"",
            "signature=\"c2ln\"",
        ];
        let header = format!("{SCHEME} {}", order.iter().map(|i| items[*i]).collect::<Vec<_>>().join(","));
        let a = Authorization::parse(&header).expect("parse");
        prop_assert_eq!(a.timestamp, 1_735_689_600);
        prop_assert_eq!(a.nonce_str.as_str(), "abc");
    }

    #[test]
    fn notification_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), text in "\\PC{0,300}") {
        let _ = Notification::parse(&bytes);
        let _ = Notification::parse(text.as_bytes());
        let wrapped = format!("{{\"id\":\"x\",\"create_time\":\"t\",\"event_type\":\"{text:?}\",\"resource\":{{}}}}");
        let _ = Notification::parse(wrapped.as_bytes());
    }

    #[test]
    fn certificate_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), text in "\\PC{0,300}") {
        let _ = Certificate::from_der(&bytes);
        let _ = Certificate::from_pem(&text);
        let _ = Certificate::from_pem(&format!("-----BEGIN CERTIFICATE-----\n{text}\n-----END CERTIFICATE-----\n"));
        let _ = Certificate::from_pem_bytes(&bytes);
        let _ = PublicKey::from_spki_der(&bytes);
        let _ = PublicKey::from_pem(&text);
        let _ = CertificatesResponse::parse(&bytes);
    }

    #[test]
    fn header_verification_never_panics(ts in "\\PC{0,20}", nonce in "\\PC{0,40}", sig in "\\PC{0,400}",
                                        serial in "\\PC{0,70}", now in any::<i64>()) {
        let pairs = [
            ("Wechatpay-Timestamp", ts.as_str()),
            ("Wechatpay-Nonce", nonce.as_str()),
            ("Wechatpay-Signature", sig.as_str()),
            ("Wechatpay-Serial", serial.as_str()),
        ];
        if let Ok(h) = SignedHeaders::from_pairs(pairs) {
            let _ = verifier().verify(&h, b"{}", now);
        }
        let probe = format!("WECHATPAY/SIGNTEST/{sig}");
        let pairs = [
            ("Wechatpay-Timestamp", "1735689600"),
            ("Wechatpay-Nonce", "n"),
            ("Wechatpay-Signature", probe.as_str()),
            ("Wechatpay-Serial", SERIAL),
        ];
        let h = SignedHeaders::from_pairs(pairs).expect("headers");
        prop_assert_eq!(verifier().verify(&h, b"{}", 1_735_689_600).map_err(|e| e.reason_code()), Err("bad_signature"));
    }
}
