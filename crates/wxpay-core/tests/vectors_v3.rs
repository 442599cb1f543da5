//! Known-answer tests: every API v3 / RSA / AES vector in `tests/vectors/vectors.json`
//! (official docs, the wechatpay-go/java test suites and an independent reference
//! implementation), run through the crate's public API.
//!
//! Verification and decryption vectors run with default features; the signing and OAEP
//! decryption vectors need `--features private-key` (they use `keys::PrivateKey`).

use std::collections::BTreeMap;

use serde_json::Value;

use wxpay_core::ids::SerialNo;
use wxpay_core::keys::{Certificate, PublicKey};
#[cfg(feature = "private-key")]
use wxpay_core::signer::RsaSigner as _;
use wxpay_core::v3::aead::{self, AeadError, ApiV3Key};
use wxpay_core::v3::notification::{self, Notification, NotificationError};
use wxpay_core::v3::verify::{SignedHeaders, Verifier};

mod common;

/// Kinds this file must handle; the v2 / JS-SDK kinds belong to other test files.
const V3_KINDS: &[&str] = &[
    "v3_paysign_jsapi",
    "v3_sign_app",
    "v3_request_signature",
    "v3_request_signature_empty_body",
    "v3_verify_pubkey_response",
    "v3_verify_response_empty_body",
    "v3_notification_verify_and_decrypt",
    "aes256gcm_decrypt_certificate",
    "aes128gcm_decrypt",
    "rsa_sign_raw",
    "rsa_oaep_sha1_decrypt",
];

use common::{all_vectors, read};

fn of_kind(kind: &str) -> Vec<Value> {
    let v: Vec<Value> = all_vectors()
        .into_iter()
        .filter(|v| v["kind"] == kind)
        .collect();
    assert!(!v.is_empty(), "no vectors of kind {kind}");
    v
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key} missing or not a string in {v}"))
}

#[cfg(feature = "private-key")]
fn private_key(file: &str) -> wxpay_core::keys::PrivateKey {
    use wxpay_core::keys::PrivateKey;

    PrivateKey::from_pkcs8_pem(read(file)).unwrap_or_else(|e| panic!("load {file}: {e}"))
}

#[cfg(feature = "private-key")]
/// The `paySign` / APP `sign` message: four fields, each followed by `\n` (protocol B.1,
/// B.6). Kept local so this file does not depend on the `invoke` module.
fn four_line_message(a: &str, b: &str, c: &str, d: &str) -> String {
    format!("{a}\n{b}\n{c}\n{d}\n")
}

fn verifier_for(input: &Value) -> Verifier {
    let mut verifier = Verifier::new();
    for k in input["verification_keys"]
        .as_array()
        .expect("verification_keys")
    {
        let serial = SerialNo::new(s(k, "serial")).expect("serial");
        let pem = read(s(k, "pem_file"));
        match s(k, "type") {
            "certificate" => {
                let cert = Certificate::from_pem(pem).expect("certificate");
                assert_eq!(
                    cert.serial(),
                    &serial,
                    "certificate serial matches the vector's key store"
                );
                verifier.add_certificate(cert);
            }
            "public_key" => {
                verifier.add_public_key(serial, PublicKey::from_spki_pem(pem).expect("public key"));
            }
            other => panic!("unknown key type {other}"),
        }
    }
    verifier
}

fn headers_of(input: &Value) -> SignedHeaders {
    let map: BTreeMap<String, String> =
        serde_json::from_value(input["headers"].clone()).expect("headers map");
    SignedHeaders::from_pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .expect("signed headers")
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn every_v3_kind_is_covered() {
    // The kinds vectors_v2.rs runs; any other kind must be one of this file's.
    const V2_KINDS: &[&str] = &[
        "v2_sign_md5",
        "v2_sign_hmac_sha256",
        "jssdk_signature",
        "v2_notify_verify",
        "v2_xml_reject_doctype",
    ];
    let all = all_vectors();
    for v in &all {
        let kind = s(v, "kind");
        assert!(
            V2_KINDS.contains(&kind) || V3_KINDS.contains(&kind),
            "vector kind {kind} is not handled by vectors_v2.rs or vectors_v3.rs"
        );
    }
    // tests/vectors/README.md promises 38 vectors with distinct ids: a vector dropped
    // from the file, or a duplicated id, shows up here instead of as a silently smaller run.
    let mut ids: Vec<&str> = all.iter().map(|v| s(v, "id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        (all.len(), ids.len()),
        (38, 38),
        "vector count or unique ids changed"
    );
    for kind in V3_KINDS {
        assert!(
            all.iter().any(|v| v["kind"] == *kind),
            "no vector of kind {kind}"
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg(feature = "private-key")]
fn paysign_jsapi() {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    for v in of_kind("v3_paysign_jsapi") {
        let (i, e) = (&v["input"], &v["expected"]);
        let key = private_key(s(i, "private_key_file"));
        let message = four_line_message(
            s(i, "appId"),
            s(i, "timeStamp"),
            s(i, "nonceStr"),
            s(i, "package"),
        );
        assert_eq!(message, s(e, "message"), "{}", v["id"]);
        assert_eq!(s(e, "signType"), "RSA");
        let sig = key.sign_sha256_base64(message.as_bytes()).expect("sign");
        assert_eq!(sig, s(e, "paySign"), "{}", v["id"]);
        if let Some(cert) = i["certificate_file"].as_str() {
            let cert = Certificate::from_pem(read(cert)).expect("cert");
            assert!(cert
                .public_key()
                .verify_sha256(message.as_bytes(), &STANDARD.decode(&sig).expect("b64")));
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg(feature = "private-key")]
fn sign_app() {
    for v in of_kind("v3_sign_app") {
        let (i, e) = (&v["input"], &v["expected"]);
        let key = private_key(s(i, "private_key_file"));
        let message = four_line_message(
            s(i, "appid"),
            s(i, "timestamp"),
            s(i, "noncestr"),
            s(i, "prepayid"),
        );
        assert_eq!(message, s(e, "message"), "{}", v["id"]);
        assert_eq!(
            key.sign_sha256_base64(message.as_bytes()).expect("sign"),
            s(e, "sign"),
            "{}",
            v["id"]
        );
    }
}

#[cfg(feature = "private-key")]
fn check_request_signature(v: &Value) {
    use wxpay_core::ids::MchId;
    use wxpay_core::v3::authorization::{request_message, Authorization, RequestParts};

    let (i, e) = (&v["input"], &v["expected"]);
    let key = private_key(s(i, "private_key_file"));
    let timestamp: i64 = s(i, "timestamp").parse().expect("timestamp");
    let parts = RequestParts {
        method: s(i, "method"),
        canonical_url: s(i, "canonical_url"),
        timestamp,
        nonce: s(i, "nonce_str"),
        body: s(i, "body").as_bytes(),
    };
    assert_eq!(parts.message(), s(e, "message").as_bytes(), "{}", v["id"]);
    assert_eq!(
        request_message(
            parts.method,
            parts.canonical_url,
            timestamp,
            parts.nonce,
            parts.body
        ),
        s(e, "message").as_bytes()
    );
    let mchid = MchId::new(s(i, "mchid")).expect("mchid");
    let serial = SerialNo::new(s(i, "serial_no")).expect("serial");
    let auth = Authorization::sign(&key, &mchid, &serial, &parts).expect("sign");
    assert_eq!(auth.signature, s(e, "signature"), "{}", v["id"]);
    assert_eq!(auth.to_header_value(), s(e, "authorization"), "{}", v["id"]);

    // The simulator's side: parse the expected header and verify it with the public key.
    let parsed = Authorization::parse(s(e, "authorization")).expect("parse");
    assert_eq!(parsed, auth);
    parsed
        .verify(
            key.public_key(),
            parts.method,
            parts.canonical_url,
            parts.body,
        )
        .expect("verifies");
    assert!(parsed
        .verify(key.public_key(), parts.method, parts.canonical_url, b"x")
        .is_err());
    parsed.check_timestamp(timestamp + 299, 300).expect("fresh");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg(feature = "private-key")]
fn request_signatures() {
    for v in of_kind("v3_request_signature") {
        check_request_signature(&v);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg(feature = "private-key")]
fn request_signatures_empty_body() {
    for v in of_kind("v3_request_signature_empty_body") {
        check_request_signature(&v);
    }
}

fn check_response(v: &Value) {
    let (i, e) = (&v["input"], &v["expected"]);
    assert_eq!(e["valid"], true);
    let verifier = verifier_for(i);
    let headers = headers_of(i);
    let body = s(i, "body").as_bytes();
    assert_eq!(
        headers.message(body),
        s(e, "message").as_bytes(),
        "{}",
        v["id"]
    );
    let now = i["now"].as_i64().expect("now");
    verifier
        .verify(&headers, body, now)
        .unwrap_or_else(|err| panic!("{}: {err}", v["id"]));
    // A different body or a clock 300 s off must fail.
    assert_eq!(
        verifier
            .verify(&headers, b"{}", now)
            .map_err(|e| e.reason_code()),
        Err("bad_signature")
    );
    assert_eq!(
        verifier
            .verify(&headers, body, now + 300)
            .map_err(|e| e.reason_code()),
        Err("timestamp_skew")
    );
    #[cfg(feature = "private-key")]
    if let Some(file) = i["signed_with_private_key_file"].as_str() {
        let key = private_key(file);
        let again = SignedHeaders::sign(
            &key,
            &headers.serial,
            headers.timestamp,
            &headers.nonce,
            body,
        )
        .expect("sign");
        assert_eq!(
            again.signature, headers.signature,
            "{}: own signer reproduces the signature",
            v["id"]
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn verify_pubkey_response() {
    for v in of_kind("v3_verify_pubkey_response") {
        check_response(&v);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn verify_response_empty_body() {
    for v in of_kind("v3_verify_response_empty_body") {
        check_response(&v);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn notifications() {
    let vectors = of_kind("v3_notification_verify_and_decrypt");
    let (mut positive, mut negative) = (0, 0);
    for v in &vectors {
        let (id, i, e) = (s(v, "id"), &v["input"], &v["expected"]);
        let verifier = verifier_for(i);
        let headers = headers_of(i);
        let body = s(i, "body").as_bytes();
        let now = i["now"].as_i64().expect("now");
        let key_text = s(i, "apiv3_key");

        if e["valid"] == true {
            positive += 1;
            assert_eq!(headers.message(body), s(e, "message").as_bytes(), "{id}");
            let event = s(e, "event_type");
            if i["aes_key_bytes"] == 16 {
                // wechatpay-go vector: AES-128. The signature verifies; the strict APIv3 key
                // type refuses the 16-byte key; the separate AES-128 path decrypts it.
                verifier
                    .verify(&headers, body, now)
                    .unwrap_or_else(|err| panic!("{id}: {err}"));
                assert!(
                    matches!(
                        ApiV3Key::new(key_text),
                        Err(AeadError::KeyLength { len: 16 })
                    ),
                    "{id}"
                );
                let n = Notification::parse(body).expect("parse");
                assert_eq!(n.event_type.as_str(), event);
                let key16: [u8; 16] = key_text.as_bytes().try_into().expect("16 bytes");
                let r = &n.resource;
                let plain =
                    aead::decrypt_aes128_gcm(&key16, &r.nonce, &r.associated_data, &r.ciphertext)
                        .expect(id);
                assert_eq!(
                    String::from_utf8(plain).expect("utf8"),
                    s(e, "plaintext"),
                    "{id}"
                );
            } else {
                let key = ApiV3Key::new(key_text).expect("key");
                let out = notification::verify_and_decrypt(&verifier, &headers, body, now, &key)
                    .unwrap_or_else(|err| panic!("{id}: {err}"));
                assert_eq!(out.notification.event_type.as_str(), event, "{id}");
                assert_eq!(out.plaintext, s(e, "plaintext"), "{id}");
                let json: Value = out.payload().expect("json");
                assert_eq!(json, e["plaintext_json"], "{id}");
            }
            #[cfg(feature = "private-key")]
            if let Some(file) = i["signed_with_private_key_file"].as_str() {
                let signer = private_key(file);
                let again = SignedHeaders::sign(
                    &signer,
                    &headers.serial,
                    headers.timestamp,
                    &headers.nonce,
                    body,
                )
                .expect("sign");
                assert_eq!(
                    again.signature, headers.signature,
                    "{id}: own signer reproduces the signature"
                );
            }
        } else {
            negative += 1;
            let reason = s(e, "reason");
            let key = ApiV3Key::new(key_text).expect("key");
            let err: NotificationError =
                notification::verify_and_decrypt(&verifier, &headers, body, now, &key)
                    .expect_err(id);
            assert_eq!(err.reason_code(), reason, "{id}: {err}");
        }
    }
    assert!(
        positive >= 5 && negative >= 8,
        "positive {positive}, negative {negative}"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn certificate_decrypt() {
    for v in of_kind("aes256gcm_decrypt_certificate") {
        let (i, e) = (&v["input"], &v["expected"]);
        assert_eq!(i["aes_key_bytes"], 32);
        let key = ApiV3Key::new(s(i, "apiv3_key")).expect("key");
        let plain = aead::decrypt(
            &key,
            s(i, "nonce"),
            s(i, "associated_data"),
            s(i, "ciphertext"),
        )
        .expect("decrypt");
        let text = String::from_utf8(plain).expect("utf8");
        assert_eq!(text, s(e, "plaintext"));
        assert_eq!(text.trim(), read(s(e, "plaintext_file")).trim());

        // The same through the /v3/certificates entry type.
        let body = serde_json::json!({"data": [{
            "serial_no": s(i, "serial_no"),
            "effective_time": s(i, "effective_time"),
            "expire_time": s(i, "expire_time"),
            "encrypt_certificate": {
                "algorithm": s(i, "algorithm"), "nonce": s(i, "nonce"),
                "associated_data": s(i, "associated_data"), "ciphertext": s(i, "ciphertext"),
            },
        }]})
        .to_string();
        let response = wxpay_core::v3::certificates::CertificatesResponse::parse(body.as_bytes())
            .expect("parse");
        let certs = response.decrypt(&key).expect("decrypt entries");
        assert_eq!(certs.len(), 1);
        let cert = &certs[0];
        assert_eq!(cert.serial().as_str(), s(e, "certificate_serial"));
        assert_eq!(cert.subject(), s(e, "certificate_subject"));
        // expire_time 2028-09-17T23:15:58+08:00
        assert_eq!(cert.not_after(), 1_852_816_558);
        assert!(!cert.is_expired_at(1_852_816_558));
        assert!(cert.is_expired_at(1_852_816_559));
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn aes128gcm() {
    for v in of_kind("aes128gcm_decrypt") {
        let (i, e) = (&v["input"], &v["expected"]);
        assert_eq!(i["aes_key_bytes"], 16);
        let key: [u8; 16] = s(i, "apiv3_key")
            .as_bytes()
            .try_into()
            .expect("16-byte key");
        let result = aead::decrypt_aes128_gcm(
            &key,
            s(i, "nonce"),
            s(i, "associated_data"),
            s(i, "ciphertext"),
        );
        if e["valid"] == true {
            assert_eq!(
                String::from_utf8(result.expect("decrypt")).expect("utf8"),
                s(e, "plaintext")
            );
        } else {
            assert_eq!(
                result.map_err(|e| e.reason_code()).err(),
                Some(s(e, "reason")),
                "{}",
                v["id"]
            );
        }
        // The strict APIv3 type refuses the 16-byte key with a clean error.
        assert!(matches!(
            ApiV3Key::new(s(i, "apiv3_key")),
            Err(AeadError::KeyLength { len: 16 })
        ));
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg(feature = "private-key")]
fn rsa_sign_raw() {
    for v in of_kind("rsa_sign_raw") {
        let (i, e) = (&v["input"], &v["expected"]);
        let key = private_key(s(i, "private_key_file"));
        let sig = key
            .sign_sha256_base64(s(i, "message").as_bytes())
            .expect("sign");
        assert_eq!(sig, s(e, "signature"), "{}", v["id"]);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg(feature = "private-key")]
fn rsa_oaep_sha1() {
    use wxpay_core::v3::oaep;

    for v in of_kind("rsa_oaep_sha1_decrypt") {
        let (i, e) = (&v["input"], &v["expected"]);
        assert_eq!((s(i, "hash"), s(i, "mgf")), ("SHA-1", "MGF1-SHA1"));
        let key = private_key(s(i, "private_key_file"));
        let plain = oaep::decrypt_sha1_to_string(&key, s(i, "ciphertext")).expect("decrypt");
        assert_eq!(plain, s(e, "plaintext"), "{}", v["id"]);

        // Round trip: encrypt with the given public key (PEM public key or certificate),
        // decrypt with the private key.
        let public = PublicKey::from_pem(read(s(i, "public_key_file"))).expect("public key");
        assert_eq!(&public, key.public_key());
        let ct = oaep::encrypt_sha1(&public, plain.as_bytes(), [42u8; 32]).expect("encrypt");
        assert_ne!(ct, s(i, "ciphertext"));
        assert_eq!(
            oaep::decrypt_sha1_to_string(&key, &ct).expect("round trip"),
            s(e, "plaintext")
        );
    }
}

/// Certificate serials are hex and WeChat has sent them in either case: a lower-case
/// `Wechatpay-Serial` must find the certificate registered in upper case.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn certificate_serials_match_case_insensitively() {
    let mut checked = 0;
    for v in all_vectors() {
        let (i, e) = (&v["input"], &v["expected"]);
        if !i["headers"].is_object() || e["valid"] != true {
            continue;
        }
        let mut headers = headers_of(i);
        if headers.serial.is_public_key_id() {
            continue;
        }
        let lower = headers.serial.as_str().to_ascii_lowercase();
        assert_ne!(lower, headers.serial.as_str(), "{}", v["id"]);
        headers.serial = SerialNo::new(lower).expect("serial");
        let now = i["now"].as_i64().expect("now");
        verifier_for(i)
            .verify(&headers, s(i, "body").as_bytes(), now)
            .unwrap_or_else(|err| panic!("{}: {err}", v["id"]));
        checked += 1;
    }
    assert!(checked >= 1, "no certificate-mode vector with headers");
}
