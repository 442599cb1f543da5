//! Fuzz entry points: one function per parser that reads what a network peer, a page or a
//! merchant's client controls. Each takes raw bytes and must return without panicking, whatever
//! they hold; invariants that must hold for every input are asserted, so a violation is a
//! crash the fuzzer keeps.
//!
//! The libFuzzer targets in `fuzz/fuzz_targets/` are one line each and call these functions;
//! `tests/replay_corpus.rs` replays the kept corpus (`fuzz/regressions/<target>/`) on stable in
//! CI. Keeping the bodies here means the replay runs exactly the code the fuzzer ran.

use serde_json::Value;
use wxpay_core::invoke::{
    format_for, h5_redirect_url, parse_app_bundle, parse_jsapi_bundle, CodeUrl, H5HostPolicy,
    ModeOneUrl, NonceStr, PaySignType, PayTimestamp, ProductId, Surface,
};
use wxpay_core::keys::Certificate;
use wxpay_core::v2::models::{
    CloseOrderRequest, OrderQueryRequest, OrderQueryResponse, PayNotification, UnifiedOrderRequest,
    UnifiedOrderResponse,
};
use wxpay_core::v2::refund_models::{
    RefundNotification, RefundNotificationInfo, RefundQueryRequest, RefundQueryResponse,
    RefundRequest as V2RefundRequest, RefundResponse as V2RefundResponse,
};
use wxpay_core::v2::sign::{self, SignType};
use wxpay_core::v2::time::parse_v2_time;
use wxpay_core::v2::{refund_crypto, xml, ApiV2Key};
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::authorization::Authorization;
use wxpay_core::v3::models::RefundNotificationPayload;
use wxpay_core::v3::models::Transaction;
use wxpay_core::v3::models::{CloseRequest, PrepayKind, PrepayRequest, RefundRequest};
use wxpay_core::v3::notification::{self, EncryptedResource, Notification};
use wxpay_core::v3::paths::Endpoint;
use wxpay_core::v3::verify::{SignedHeaders, Verifier};
use wxpay_core::v3::{bill, certificates};
use wxpay_core::{
    Amount, AppId, MchId, OpenId, OutRefundNo, OutTradeNo, PrepayId, RefundId, SerialNo,
    TimeExpire, TransactionId,
};

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target by name; the names are the folders of `fuzz/regressions/` and the files of
/// `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("authorization_header", authorization_header),
    ("v3_response_verify", v3_response_verify),
    ("v3_notification", v3_notification),
    ("v3_notification_payload", v3_notification_payload),
    ("v3_certificates", v3_certificates),
    ("v3_request_bodies", v3_request_bodies),
    ("v3_bill", v3_bill),
    ("v2_xml", v2_xml),
    ("v2_models", v2_models),
    ("v2_refund_req_info", v2_refund_req_info),
    ("client_params", client_params),
    ("mode_one_url", mode_one_url),
    ("ids_and_amounts", ids_and_amounts),
    #[cfg(feature = "server")]
    ("server_json_bodies", server_json_bodies),
];

/// The platform certificate of the test vectors: a real key store for the verifier, so inputs
/// that name its serial reach the RSA check.
const PLATFORM_CERT: &str = include_str!("../../../tests/vectors/oracle_platform_cert.pem");
/// An APIv3 key (32 bytes) and an APIv2 key (32 visible characters), fixed so that inputs the
/// corpus keeps decrypt the same way on every run.
const API_V3_KEY: &str = "0123456789abcdef0123456789abcdef";
const API_V2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

fn v3_key() -> ApiV3Key {
    ApiV3Key::new(API_V3_KEY).expect("a 32-byte key")
}

fn v2_key() -> ApiV2Key {
    ApiV2Key::new(API_V2_KEY).expect("a 32-character key")
}

fn verifier() -> Verifier {
    let mut verifier = Verifier::new();
    let certificate = Certificate::from_pem(PLATFORM_CERT).expect("the vector certificate");
    verifier.add_certificate(certificate);
    verifier
}

/// Splits `data` into the five signature headers (one per line) and the body after them.
fn headers_and_body(data: &[u8]) -> (Vec<(&'static str, String)>, &[u8]) {
    const NAMES: [&str; 5] = [
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
        "Wechatpay-Signature-Type",
    ];
    let mut rest = data;
    let mut headers = Vec::new();
    for name in NAMES {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        headers.push((name, text(&rest[..end])));
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    (headers, rest)
}

/// The `Authorization` header a merchant sends (the simulator parses it): parsing, the
/// timestamp window, and a printed header that parses back to the same value.
pub fn authorization_header(data: &[u8]) {
    let header = text(data);
    if let Ok(auth) = Authorization::parse(&header) {
        let _ = auth.check_timestamp(0, 300);
        let printed = auth.to_header_value();
        let again = Authorization::parse(&printed).expect("a printed header parses");
        assert_eq!(again.to_header_value(), printed, "print/parse is stable");
    }
}

/// A v3 answer: the five `Wechatpay-*` headers and the body, verified at the header's own
/// timestamp so that the skew check passes and the signature check runs.
pub fn v3_response_verify(data: &[u8]) {
    let (pairs, body) = headers_and_body(data);
    let Ok(headers) = SignedHeaders::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))) else {
        return;
    };
    let now = pairs[0].1.trim().parse::<i64>().unwrap_or(0);
    let verifier = verifier();
    let _ = verifier.verify(&headers, body, now);
    let _ = notification::verify_and_decrypt(&verifier, &headers, body, now, &v3_key());
}

/// A v3 notification body: the envelope, then AES-256-GCM decryption with the APIv3 key.
pub fn v3_notification(data: &[u8]) {
    if let Ok(notification) = Notification::parse(data) {
        let _ = notification.decrypt(&v3_key());
        let _ = notification.decrypt_json::<Transaction>(&v3_key());
        let _ = Notification::parse(notification.to_json().as_bytes())
            .expect("a printed notification parses");
    }
}

/// What a notification decrypts to: the bytes are encrypted with the APIv3 key first, so the
/// payload parsers behind the GCM tag see arbitrary plaintext, as only WeChat could send.
pub fn v3_notification_payload(data: &[u8]) {
    let key = v3_key();
    let resource = EncryptedResource::encrypt(&key, "transaction", "0123456789ab", "", data)
        .expect("encryption of any bytes");
    assert_eq!(resource.decrypt(&key).ok().as_deref(), Some(data));
    let _ = serde_json::from_slice::<Transaction>(data);
    let _ = serde_json::from_slice::<RefundNotificationPayload>(data);
}

/// The `GET /v3/certificates` answer: parse, decrypt each entry, verify with the new keys.
pub fn v3_certificates(data: &[u8]) {
    let (pairs, body) = headers_and_body(data);
    if let Ok(response) = certificates::CertificatesResponse::parse(body) {
        let _ = response.decrypt(&v3_key());
    }
    if let Ok(headers) = SignedHeaders::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))) {
        let _ = certificates::verify_and_decrypt(body, &headers, 0, &v3_key(), None);
    }
}

/// v3 request bodies and paths as the simulator reads what a merchant sends.
pub fn v3_request_bodies(data: &[u8]) {
    let (path, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (text(&data[..i]), &data[i + 1..]),
        None => (text(data), &[][..]),
    };
    for method in ["GET", "POST"] {
        let _ = Endpoint::parse(method, &path);
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    for kind in [
        PrepayKind::Jsapi,
        PrepayKind::App,
        PrepayKind::H5,
        PrepayKind::Native,
    ] {
        let _ = PrepayRequest::from_json(kind, &body);
    }
    let _ = RefundRequest::from_json(&body);
    let _ = CloseRequest::from_json(&body);
}

/// A downloaded bill file: gunzip, and the trade bill parser on the raw and the inflated
/// bytes. A bill it accepts, written again, parses to the same rows.
pub fn v3_bill(data: &[u8]) {
    let inflated = bill::gunzip(data).ok();
    for bytes in [Some(data), inflated.as_deref()].into_iter().flatten() {
        if let Ok(parsed) = bill::parse_trade_bill(bytes) {
            let again = bill::parse_trade_bill(
                bill::render_trade_bill(parsed.bill_type, &parsed.rows).as_bytes(),
            )
            .expect("a written bill parses");
            let amounts = |rows: &[bill::TradeBillRow]| {
                rows.iter()
                    .filter(|r| parsed.bill_type.holds(r))
                    .map(|r| {
                        (
                            r.total,
                            r.settlement_total,
                            r.refund,
                            r.requested_refund,
                            r.fee,
                        )
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(amounts(&again.rows), amounts(&parsed.rows));
        }
    }
}

/// The v2 XML codec: anything it accepts prints and parses back to the same fields, and a
/// message that starts with a DOCTYPE is never accepted.
pub fn v2_xml(data: &[u8]) {
    let Ok(fields) = xml::parse(data, xml::DEFAULT_MAX_LEN) else {
        return;
    };
    let printed = xml::to_xml(&fields).expect("parsed fields are writable");
    let back = xml::parse(printed.as_bytes(), usize::MAX).expect("own output parses");
    assert_eq!(back, fields, "print/parse round trip");
    // A DOCTYPE inside a CDATA value is text; one before the root is markup and refused.
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    assert!(
        !data[start..].starts_with(b"<!DOCTYPE"),
        "a DOCTYPE must be refused"
    );
}

/// Every v2 model read from a parsed message, and signature verification over it.
pub fn v2_models(data: &[u8]) {
    let Ok(p) = xml::parse(data, xml::DEFAULT_MAX_LEN) else {
        return;
    };
    let key = v2_key();
    for sign_type in [SignType::Md5, SignType::HmacSha256] {
        let _ = sign::verify(&p, &key, sign_type);
    }
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

/// The v2 refund notification's `req_info`: decryption of the Base64 text as received, and
/// the XML inside it (the bytes are encrypted first, so the inner parser sees them as they are).
pub fn v2_refund_req_info(data: &[u8]) {
    let key = v2_key();
    let _ = refund_crypto::decrypt_fields(&text(data), &key);
    let req_info = refund_crypto::encrypt(data, &key);
    assert_eq!(
        refund_crypto::decrypt(&req_info, &key).ok().as_deref(),
        Some(data)
    );
    if let Ok(fields) = refund_crypto::decrypt_fields(&req_info, &key) {
        let _ = RefundNotificationInfo::from_params(&fields);
    }
}

/// The client-parameter validators the pages run on what the merchant server sent.
pub fn client_params(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for surface in Surface::ALL {
        let _ = format_for(surface, &value);
    }
    let _ = parse_jsapi_bundle(&value);
    let _ = parse_app_bundle(&value);
}

/// The scan-pay mode-one URL, `code_url` and the H5 redirect a page follows.
pub fn mode_one_url(data: &[u8]) {
    let url = text(data);
    if let Ok(parsed) = ModeOneUrl::parse(&url) {
        let _ = parsed.verify(&v2_key());
    }
    let _ = ModeOneUrl::parse(&format!("weixin://wxpay/bizpayurl?{url}"));
    let _ = CodeUrl::new(url.as_str());
    let _ = H5HostPolicy::wechat().check(&url);
    let middle = (0..=url.len() / 2)
        .rev()
        .find(|&i| url.is_char_boundary(i))
        .unwrap_or(0);
    let (first, second) = url.split_at(middle);
    let _ = H5HostPolicy::with_hosts([first.to_owned()]).check(second);
    let _ = h5_redirect_url(first, Some(second), &H5HostPolicy::wechat());
}

/// Every id, amount and value constructor.
pub fn ids_and_amounts(data: &[u8]) {
    let s = text(data);
    let s = s.as_str();
    let _ = AppId::new(s);
    let _ = MchId::new(s);
    let _ = OpenId::new(s);
    let _ = OutTradeNo::new(s);
    let _ = OutRefundNo::new(s);
    let _ = TransactionId::new(s);
    let _ = PrepayId::new(s);
    let _ = RefundId::new(s);
    let _ = SerialNo::new(s);
    let _ = TimeExpire::parse(s);
    let _ = PayTimestamp::parse(s);
    let _ = NonceStr::new(s);
    let _ = PaySignType::parse(s);
    let _ = ProductId::new(s);
    let _ = parse_v2_time(s);
    let _ = SignType::of_sign(s);
    if let Ok(fen) = s.trim().parse::<i64>() {
        let _ = Amount::from_fen(fen);
    }
    if let Ok(value) = serde_json::from_str::<Value>(s) {
        let _ = serde_json::from_value::<Amount>(value);
    }
}

/// The server's JSON request bodies, decoded as its handlers decode them.
#[cfg(feature = "server")]
pub fn server_json_bodies(data: &[u8]) {
    use wxpay_server::api::auth::LoginRequest;
    use wxpay_server::api::orders::{CreateOrderRequest, PayRequest};
    use wxpay_server::api::refunds::RefundRequest as ServerRefundRequest;

    let _ = serde_json::from_slice::<LoginRequest>(data);
    let _ = serde_json::from_slice::<CreateOrderRequest>(data);
    let _ = serde_json::from_slice::<PayRequest>(data);
    let _ = serde_json::from_slice::<ServerRefundRequest>(data);
}
