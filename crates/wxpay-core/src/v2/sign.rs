//! API v2 signatures (安全规范 · 签名算法, protocol.md E.2).
//!
//! Every v2 message (requests, responses, notifications, the v2 `paySign` and the APP
//! `sign`) is signed the same way: take the non-empty parameters except `sign`, sort them
//! by name (ASCII, case-sensitive), join them as `k=v&…` with raw values (`stringA`),
//! append `&key=<API key>` (`stringSignTemp`) and hash it with MD5 or HMAC-SHA256 keyed
//! with the API key. The result is upper-case hex.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The name of the signature parameter, which never signs itself.
pub const SIGN_FIELD: &str = "sign";
/// The parameter that names the algorithm of a request. WeChat's answers and notifications
/// never carry it: they are signed with the request's (or the order's) algorithm.
pub const SIGN_TYPE_FIELD: &str = "sign_type";

/// Why a v2 key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V2SignError {
    /// The APIv2 key is not 32 visible ASCII characters, as the merchant portal issues them.
    #[error("the APIv2 key must be 32 visible ASCII characters (got {len} characters)")]
    InvalidKey {
        /// Length of the refused key in characters (the key itself is never shown).
        len: usize,
    },
    /// `sign_type` names an algorithm v2 does not define.
    #[error("unknown v2 sign_type {0:?}; expected MD5 or HMAC-SHA256")]
    UnknownSignType(String),
    /// The message carries no (or an empty) `sign` parameter.
    #[error("the v2 message has no sign parameter")]
    MissingSign,
    /// The recomputed signature differs from the one received.
    #[error("v2 signature does not match")]
    BadSignature,
    /// The message is signed (or says it is signed) with another algorithm than the one it
    /// must use: the merchant's configured or stored sign type disagrees with WeChat's.
    #[error("v2 message is not signed with {expected}")]
    SignTypeMismatch {
        /// The algorithm the message had to be signed with.
        expected: SignType,
    },
}

impl V2SignError {
    /// A stable, coarse code for logs and bindings (`bad_signature` matches the vector set).
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::InvalidKey { .. } => "invalid_key",
            Self::UnknownSignType(_) => "unknown_sign_type",
            Self::MissingSign => "missing_sign",
            Self::BadSignature => "bad_signature",
            Self::SignTypeMismatch { .. } => "sign_type_mismatch",
        }
    }
}

/// The v2 signature algorithm (`sign_type` / `signType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignType {
    /// `MD5`: what WeChat assumes for a request without `sign_type`.
    #[default]
    Md5,
    /// `HMAC-SHA256`, keyed with the API key.
    HmacSha256,
}

impl SignType {
    /// The wire spelling: `MD5` or `HMAC-SHA256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// The algorithm a `sign` value's length implies: 32 hex digits are MD5, 64 HMAC-SHA256.
    ///
    /// For messages that name no algorithm, when the caller has none on record (an order
    /// stored before its sign type was). Both algorithms need the API key, so choosing by
    /// length lets no one forge a message.
    pub fn of_sign(sign: &str) -> Option<Self> {
        if !sign.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        match sign.len() {
            32 => Some(Self::Md5),
            64 => Some(Self::HmacSha256),
            _ => None,
        }
    }

    /// Parses the wire spelling exactly (WeChat never sends other casings).
    pub fn parse(value: &str) -> Result<Self, V2SignError> {
        match value {
            "MD5" => Ok(Self::Md5),
            "HMAC-SHA256" => Ok(Self::HmacSha256),
            other => Err(V2SignError::UnknownSignType(other.to_owned())),
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SignType {
    type Err = V2SignError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The merchant's APIv2 key (API密钥): 32 characters set in the merchant portal.
///
/// A server-only secret: `Debug` never prints it and comparisons are constant-time.
#[derive(Clone)]
pub struct ApiV2Key(String);

impl ApiV2Key {
    /// Length of every key the merchant portal issues.
    pub const LEN: usize = 32;

    /// Accepts exactly 32 visible ASCII characters.
    pub fn new(key: impl Into<String>) -> Result<Self, V2SignError> {
        let key = key.into();
        if key.len() != Self::LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(V2SignError::InvalidKey {
                len: key.chars().count(),
            });
        }
        Ok(Self(key))
    }

    /// The raw key bytes, for the HMAC key and for the refund `req_info` key derivation.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The key text. Named so that every call site reads as a deliberate disclosure.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiV2Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV2Key(<redacted>)")
    }
}

/// Wiped when dropped, like the other keys.
impl Drop for ApiV2Key {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl zeroize::ZeroizeOnDrop for ApiV2Key {}

impl PartialEq for ApiV2Key {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}
impl Eq for ApiV2Key {}

/// Builds `stringA`: the non-empty parameters except `sign`, sorted by name, as `k=v&…`.
///
/// Values are used raw (no URL-encoding); names compare by bytes, i.e. ASCII order and
/// case-sensitive, as WeChat sorts them.
pub fn string_a<I, K, V>(params: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut pairs: Vec<(K, V)> = params
        .into_iter()
        .filter(|(k, v)| k.as_ref() != SIGN_FIELD && !v.as_ref().is_empty())
        .collect();
    pairs.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k.as_ref());
        out.push('=');
        out.push_str(v.as_ref());
    }
    out
}

/// Builds `stringSignTemp` = `stringA&key=<API key>`. Contains the secret: never log it.
pub fn string_sign_temp<I, K, V>(params: I, key: &ApiV2Key) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut s = string_a(params);
    if !s.is_empty() {
        s.push('&');
    }
    s.push_str("key=");
    s.push_str(key.expose_secret());
    s
}

/// Signs `params` (any `sign` among them is ignored) and returns upper-case hex.
///
/// Note that a `sign_type` parameter, when present, is signed like any other field; it
/// must name the same algorithm as `sign_type` here (see [`sign_request_into`]).
pub fn sign<I, K, V>(params: I, key: &ApiV2Key, sign_type: SignType) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let temp = string_sign_temp(params, key);
    let digest = match sign_type {
        SignType::Md5 => Md5::digest(temp.as_bytes()).to_vec(),
        SignType::HmacSha256 => hmac_sha256(key.as_bytes(), temp.as_bytes()),
    };
    upper_hex(&digest)
}

/// Signs a parameter map in place: sets `sign` and nothing else.
///
/// This is how WeChat signs its answers and notifications (they carry no `sign_type`) and how
/// client parameters are signed. A request that uses HMAC-SHA256 must also announce it: use
/// [`sign_request_into`] for requests.
pub fn sign_into(params: &mut BTreeMap<String, String>, key: &ApiV2Key, sign_type: SignType) {
    let signature = sign(params.iter(), key, sign_type);
    params.insert(SIGN_FIELD.to_owned(), signature);
}

/// Signs a request to WeChat in place: records `sign_type` (a signed field, so WeChat learns
/// the algorithm from it and answers with the same one), then sets `sign`.
pub fn sign_request_into(
    params: &mut BTreeMap<String, String>,
    key: &ApiV2Key,
    sign_type: SignType,
) {
    params.insert(SIGN_TYPE_FIELD.to_owned(), sign_type.as_str().to_owned());
    sign_into(params, key, sign_type);
}

/// Verifies a received v2 message with the algorithm the caller knows it must use.
///
/// WeChat's answers are signed with the algorithm of the request, and its pay notifications
/// with the algorithm the order was placed with; neither carries `sign_type` (protocol.md E.4).
/// So the algorithm is never read from the message: reading it and defaulting to MD5 would
/// refuse every genuine HMAC-SHA256 answer. A message that does name a `sign_type` (a request
/// from a merchant, say) must name this same algorithm; the element is signed like any other
/// field.
/// A `sign` whose length fits the other algorithm is reported as
/// [`V2SignError::SignTypeMismatch`], which tells a misconfiguration from a forgery in logs.
/// The comparison is constant-time; a lower-case `sign` is accepted.
pub fn verify(
    params: &BTreeMap<String, String>,
    key: &ApiV2Key,
    sign_type: SignType,
) -> Result<(), V2SignError> {
    let received = match params.get(SIGN_FIELD) {
        Some(s) if !s.is_empty() => s.to_ascii_uppercase(),
        _ => return Err(V2SignError::MissingSign),
    };
    if let Some(stated) = params.get(SIGN_TYPE_FIELD).filter(|t| !t.is_empty()) {
        if SignType::parse(stated)? != sign_type {
            return Err(V2SignError::SignTypeMismatch {
                expected: sign_type,
            });
        }
    }
    match SignType::of_sign(&received) {
        Some(found) if found != sign_type => {
            return Err(V2SignError::SignTypeMismatch {
                expected: sign_type,
            })
        }
        _ => {}
    }
    let expected = sign(params.iter(), key, sign_type);
    if bool::from(expected.as_bytes().ct_eq(received.as_bytes())) {
        Ok(())
    } else {
        Err(V2SignError::BadSignature)
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this constructor cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn key() -> ApiV2Key {
        ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").unwrap()
    }

    fn official_params() -> BTreeMap<String, String> {
        [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn string_a_skips_sign_and_empty_values_and_sorts_by_bytes() {
        let s = string_a([
            ("b", "2"),
            ("sign", "X"),
            ("a", "1"),
            ("empty", ""),
            ("B", "3"),
        ]);
        assert_eq!(s, "B=3&a=1&b=2");
        assert_eq!(string_a(Vec::<(&str, &str)>::new()), "");
    }

    #[test]
    fn official_example_both_algorithms() {
        let p = official_params();
        assert_eq!(
            sign(&p, &key(), SignType::Md5),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(&p, &key(), SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn answers_carry_no_sign_type_and_verify_with_the_known_type() {
        for t in [SignType::Md5, SignType::HmacSha256] {
            let mut p = official_params();
            sign_into(&mut p, &key(), t);
            assert!(!p.contains_key(SIGN_TYPE_FIELD));
            assert_eq!(verify(&p, &key(), t), Ok(()));
            p.insert("body".into(), "tampered".into());
            assert_eq!(verify(&p, &key(), t), Err(V2SignError::BadSignature));
        }
    }

    #[test]
    fn an_hmac_message_without_sign_type_is_not_read_as_md5() {
        // What WeChat sends for an HMAC-SHA256 order: a 64-hex sign and no sign_type.
        let mut p = official_params();
        sign_into(&mut p, &key(), SignType::HmacSha256);
        assert_eq!(verify(&p, &key(), SignType::HmacSha256), Ok(()));
        assert_eq!(
            verify(&p, &key(), SignType::Md5),
            Err(V2SignError::SignTypeMismatch {
                expected: SignType::Md5
            })
        );
    }

    #[test]
    fn requests_announce_their_type_and_it_must_match() {
        let mut p = official_params();
        sign_request_into(&mut p, &key(), SignType::HmacSha256);
        assert_eq!(
            p.get(SIGN_TYPE_FIELD).map(String::as_str),
            Some("HMAC-SHA256")
        );
        assert_eq!(verify(&p, &key(), SignType::HmacSha256), Ok(()));
        let mut m = official_params();
        sign_request_into(&mut m, &key(), SignType::Md5);
        assert_eq!(m.get(SIGN_TYPE_FIELD).map(String::as_str), Some("MD5"));
        assert_eq!(verify(&m, &key(), SignType::Md5), Ok(()));
        // A stated type other than the expected one is refused before any hashing.
        assert_eq!(
            verify(&m, &key(), SignType::HmacSha256),
            Err(V2SignError::SignTypeMismatch {
                expected: SignType::HmacSha256
            })
        );
        // Deleting the stated type changes the signed text.
        p.remove(SIGN_TYPE_FIELD);
        assert_eq!(
            verify(&p, &key(), SignType::HmacSha256),
            Err(V2SignError::BadSignature)
        );
    }

    #[test]
    fn verify_edge_cases() {
        let mut p = official_params();
        assert_eq!(
            verify(&p, &key(), SignType::Md5),
            Err(V2SignError::MissingSign)
        );
        p.insert("sign".into(), "9a0a8659f005d6984697e2ca0a9cf3b7".into());
        assert_eq!(verify(&p, &key(), SignType::Md5), Ok(()));
        p.insert("sign_type".into(), "SHA1".into());
        assert_eq!(
            verify(&p, &key(), SignType::Md5),
            Err(V2SignError::UnknownSignType("SHA1".into()))
        );
        let other = ApiV2Key::new("0".repeat(32)).unwrap();
        let mut q = official_params();
        sign_into(&mut q, &key(), SignType::Md5);
        assert_eq!(
            verify(&q, &other, SignType::Md5),
            Err(V2SignError::BadSignature)
        );
    }

    #[test]
    fn sign_length_names_the_algorithm() {
        assert_eq!(SignType::of_sign(&"A".repeat(32)), Some(SignType::Md5));
        assert_eq!(
            SignType::of_sign(&"a".repeat(64)),
            Some(SignType::HmacSha256)
        );
        assert_eq!(SignType::of_sign(&"A".repeat(40)), None);
        assert_eq!(SignType::of_sign(&"G".repeat(32)), None);
        assert_eq!(SignType::of_sign(""), None);
    }

    #[test]
    fn key_rules_and_redaction() {
        assert!(ApiV2Key::new("short").is_err());
        assert!(ApiV2Key::new(format!("{} ", "a".repeat(31))).is_err());
        let k = key();
        assert_eq!(format!("{k:?}"), "ApiV2Key(<redacted>)");
        let err = ApiV2Key::new("x".repeat(33)).unwrap_err();
        assert!(!err.to_string().contains("xxx"));
        assert_eq!(SignType::parse("HMAC-SHA256"), Ok(SignType::HmacSha256));
        assert_eq!(SignType::HmacSha256.to_string(), "HMAC-SHA256");
        assert!(SignType::parse("md5").is_err());
    }
}
