//! Cost of the API v3 crypto on the server's hot paths, and the case for aws-lc-rs.
//!
//! Run: `cargo bench -p wxpay-core --features private-key --bench crypto`.
//! The `rsa_private_sign` group signs with the same RSA-2048 key through aws-lc-rs (what
//! `keys::PrivateKey` uses: constant-time) and through the pure-Rust `rsa` crate (not
//! constant-time, RUSTSEC-2023-0071; benchmarked here only), and prints their ratio.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_main, Criterion};
use rsa::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};

use wxpay_core::ids::{AppId, MchId, PrepayId, SerialNo};
use wxpay_core::invoke::{JsapiPayParams, NonceStr, PayTimestamp};
use wxpay_core::keys::PrivateKey;
use wxpay_core::signer::RsaSigner;
use wxpay_core::v2::sign::{self as v2, ApiV2Key, SignType};
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::authorization::{Authorization, RequestParts};
use wxpay_core::v3::notification::{self, EventType, NotificationParams};
use wxpay_core::v3::verify::{SignedHeaders, Verifier};

const SERIAL: &str = "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB";
const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";
const TS: i64 = 1_554_208_460;
const BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1900007291","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}"#;

struct Fixture {
    key: PrivateKey,
    serial: SerialNo,
    verifier: Verifier,
}

fn fixture() -> Fixture {
    let key = PrivateKey::from_pkcs8_pem(include_str!(
        "../../../tests/vectors/oracle_merchant_key.pem"
    ))
    .expect("load");
    let serial = SerialNo::new(SERIAL).expect("serial");
    let mut verifier = Verifier::new();
    verifier.add_public_key(serial.clone(), key.public_key().clone());
    Fixture {
        key,
        serial,
        verifier,
    }
}

fn v3(c: &mut Criterion) {
    let f = fixture();
    let mchid = MchId::new("1900007291").expect("mchid");
    let parts = RequestParts {
        method: "POST",
        canonical_url: "/v3/pay/transactions/jsapi",
        timestamp: TS,
        nonce: NONCE,
        body: BODY.as_bytes(),
    };
    c.bench_function("v3_request_sign", |b| {
        b.iter(|| Authorization::sign(&f.key, &mchid, &f.serial, black_box(&parts)).expect("sign"))
    });

    let headers = SignedHeaders::sign(&f.key, &f.serial, TS, NONCE, BODY.as_bytes()).expect("sign");
    c.bench_function("v3_verify", |b| {
        b.iter(|| {
            f.verifier
                .verify(black_box(&headers), BODY.as_bytes(), TS)
                .expect("verify")
        })
    });
    // The same check through the pure-Rust `rsa` crate, which the wasm build uses.
    let message = headers.message(BODY.as_bytes());
    let signature = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &headers.signature,
    )
    .expect("base64");
    let public = f.key.public_key();
    assert!(public.verify_sha256_rsa_crate(&message, &signature));
    c.bench_function("rsa_public_verify/rsa-crate", |b| {
        b.iter(|| public.verify_sha256_rsa_crate(black_box(&message), &signature))
    });
    c.bench_function("rsa_public_verify/aws-lc-rs", |b| {
        b.iter(|| public.verify_sha256(black_box(&message), &signature))
    });

    let api_key = ApiV3Key::new("1MuVBgXva0ChJanmKB0W5rtyYkOYB89G").expect("key");
    let payload = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 - 10));
    assert_eq!(payload.len(), 1024);
    let event = EventType::TransactionSuccess;
    let params = NotificationParams {
        id: "EV-2018022511223320873",
        create_time: "2015-05-20T13:29:35+08:00",
        event_type: &event,
        summary: "支付成功",
        original_type: "transaction",
        nonce: "fdasflkja484",
        associated_data: "transaction",
    };
    let body = notification::encrypt_notification(&api_key, &params, payload.as_bytes())
        .expect("enc")
        .to_json();
    let n_headers =
        SignedHeaders::sign(&f.key, &f.serial, TS, NONCE, body.as_bytes()).expect("sign");
    c.bench_function("notification_decrypt_1kib", |b| {
        b.iter(|| {
            let n = wxpay_core::v3::notification::Notification::parse(black_box(body.as_bytes()))
                .expect("parse");
            n.decrypt(&api_key).expect("decrypt")
        })
    });
    c.bench_function("notification_verify_and_decrypt_1kib", |b| {
        b.iter(|| {
            notification::verify_and_decrypt(
                &f.verifier,
                &n_headers,
                black_box(body.as_bytes()),
                TS,
                &api_key,
            )
            .expect("ok")
        })
    });

    // The whole builder a server runs per payment: message, RSA signature, Base64, bundle.
    let app_id = AppId::new("wx2421b1c4370ec43b").expect("appid");
    let prepay_id = PrepayId::new("wx201410272009395522657a690389285100").expect("prepay id");
    let time_stamp = PayTimestamp::parse(&TS.to_string()).expect("timestamp");
    let nonce_str = NonceStr::new(NONCE).expect("nonce");
    c.bench_function("paysign", |b| {
        b.iter(|| {
            JsapiPayParams::sign_v3(
                &f.key,
                black_box(&app_id),
                black_box(&prepay_id),
                &time_stamp,
                &nonce_str,
            )
            .expect("sign")
        })
    });

    let v2_key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").expect("v2 key");
    let v2_params = [
        ("appid", "wxd930ea5d5a258f4f"),
        ("mch_id", "10000100"),
        ("device_info", "1000"),
        ("body", "test"),
        ("nonce_str", "ibuaiVcKdpRxkhJA"),
    ];
    c.bench_function("v2_sign_md5", |b| {
        b.iter(|| v2::sign(black_box(v2_params), &v2_key, SignType::Md5))
    });
    c.bench_function("v2_sign_hmac_sha256", |b| {
        b.iter(|| v2::sign(black_box(v2_params), &v2_key, SignType::HmacSha256))
    });
}

fn rsa_private_sign(c: &mut Criterion) {
    let f = fixture();
    let pem = f.key.to_pkcs8_pem().expect("export");
    let rsa_key = rsa::RsaPrivateKey::from_pkcs8_pem(pem.expose_secret())
        .expect("rsa crate loads the same key");
    let scheme = || rsa::Pkcs1v15Sign::new::<Sha256>();
    let msg = BODY.as_bytes();
    let rsa_crate_sign = |m: &[u8]| {
        rsa_key
            .sign(scheme(), &Sha256::digest(m))
            .expect("rsa sign")
    };
    // Same key, deterministic padding: both must produce the same bytes.
    assert_eq!(
        f.key.sign_sha256(msg).expect("aws-lc sign"),
        rsa_crate_sign(msg)
    );

    let mut group = c.benchmark_group("rsa_private_sign");
    group.bench_function("aws-lc-rs", |b| {
        b.iter(|| f.key.sign_sha256(black_box(msg)).expect("sign"))
    });
    group.bench_function("rsa-crate", |b| b.iter(|| rsa_crate_sign(black_box(msg))));
    group.finish();

    // A direct ratio from the same run, as STYLE.md asks of benchmarks.
    let rounds = 50;
    let t = Instant::now();
    for _ in 0..rounds {
        black_box(f.key.sign_sha256(black_box(msg)).expect("sign"));
    }
    let aws = t.elapsed();
    let t = Instant::now();
    for _ in 0..rounds {
        black_box(rsa_crate_sign(black_box(msg)));
    }
    let rsa_crate = t.elapsed();
    println!(
        "rsa_private_sign: aws-lc-rs {:?}/op, rsa crate {:?}/op, rsa crate / aws-lc-rs = {:.2}x",
        aws / rounds,
        rsa_crate / rounds,
        rsa_crate.as_secs_f64() / aws.as_secs_f64()
    );
}

/// `criterion_group!` emits an undocumented `pub fn`; keep the lint quiet in one place.
mod group {
    #![allow(missing_docs)]
    use super::{rsa_private_sign, v3};
    criterion::criterion_group!(benches, v3, rsa_private_sign);
}

criterion_main!(group::benches);
