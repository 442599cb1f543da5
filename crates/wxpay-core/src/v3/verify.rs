//! Verifying WeChat Pay's signatures on responses and notifications (protocol A.3, A.5).
//!
//! The message is `TIMESTAMP\nNONCE\nBODY\n` over the raw body bytes. The key is chosen by
//! `Wechatpay-Serial`: a platform-certificate serial (平台证书模式) or a `PUB_KEY_ID_…`
//! (微信支付公钥模式). One [`Verifier`] holds both kinds at once, so a merchant can migrate
//! between modes without a window where either kind of signature fails.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::authorization::{parse_unix_seconds, SCHEME};
use crate::ids::SerialNo;
use crate::keys::{Certificate, PublicKey};
use crate::signer::{RsaSigner, SignError};

/// Both official SDKs reject when |now − `Wechatpay-Timestamp`| ≥ 300 s.
pub const MAX_SKEW_SECONDS: u64 = 300;

/// `Wechatpay-Timestamp`.
pub const HEADER_TIMESTAMP: &str = "Wechatpay-Timestamp";
/// `Wechatpay-Nonce`.
pub const HEADER_NONCE: &str = "Wechatpay-Nonce";
/// `Wechatpay-Signature` (Base64).
pub const HEADER_SIGNATURE: &str = "Wechatpay-Signature";
/// `Wechatpay-Serial`: certificate serial or `PUB_KEY_ID_…`.
pub const HEADER_SERIAL: &str = "Wechatpay-Serial";
/// `Wechatpay-Signature-Type`; absent means [`SCHEME`].
pub const HEADER_SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";

/// Prefix of WeChat's deliberate signature probes (签名探测), which must simply fail.
pub const SIGNATURE_PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// Longest header value looked at; anything longer is malformed, not parsed.
const MAX_HEADER_VALUE_LEN: usize = 1024;

/// Why a response or notification signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required `Wechatpay-*` header is absent. A 2xx without them must be treated as forged.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is present but unusable (non-numeric timestamp, over-long value, bad serial).
    #[error("malformed header {name}: {reason}")]
    MalformedHeader {
        /// Header name.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `Wechatpay-Signature-Type` names an algorithm other than `WECHATPAY2-SHA256-RSA2048`.
    #[error("unsupported signature type {0:?}")]
    UnsupportedSignatureType(String),
    /// No certificate or public key is configured under `Wechatpay-Serial` (or the
    /// certificate under it has expired). For a certificate serial the host may refresh
    /// `/v3/certificates` and retry once.
    #[error("no verification key for serial {0}")]
    UnknownSerial(String),
    /// `Wechatpay-Timestamp` is 300 s or more away from `now`.
    #[error("timestamp {timestamp} is {skew} s away from now {now}")]
    TimestampSkew {
        /// Header value.
        timestamp: i64,
        /// The caller's clock.
        now: i64,
        /// |now - timestamp|.
        skew: u64,
    },
    /// The signature is not Base64, has the wrong length, is a `WECHATPAY/SIGNTEST/` probe,
    /// or does not verify.
    #[error("bad signature ({0})")]
    BadSignature(BadSignature),
}

/// Detail of [`VerifyError::BadSignature`], for logs only; callers treat all alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadSignature {
    /// A `WECHATPAY/SIGNTEST/` probe: WeChat checking that the merchant verifies.
    Probe,
    /// Not standard Base64.
    NotBase64,
    /// Decoded length differs from the key's modulus length.
    WrongLength,
    /// The RSA check failed (wrong key, altered body/headers).
    Mismatch,
}

impl std::fmt::Display for BadSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Probe => "signature probe",
            Self::NotBase64 => "not Base64",
            Self::WrongLength => "wrong length",
            Self::Mismatch => "mismatch",
        })
    }
}

impl VerifyError {
    /// Stable reason code, shared with the test vectors and the wasm error codes.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader { .. } => "malformed_header",
            Self::UnsupportedSignatureType(_) => "unsupported_signature_type",
            Self::UnknownSerial(_) => "unknown_serial",
            Self::TimestampSkew { .. } => "timestamp_skew",
            Self::BadSignature(_) => "bad_signature",
        }
    }
}

/// The message WeChat signs on responses and notifications: `TS\nNONCE\nBODY\n`.
pub fn response_message(timestamp: i64, nonce: &str, body: &[u8]) -> Vec<u8> {
    let ts = timestamp.to_string();
    let mut m = Vec::with_capacity(ts.len() + nonce.len() + body.len() + 3);
    for part in [ts.as_bytes(), nonce.as_bytes(), body] {
        m.extend_from_slice(part);
        m.push(b'\n');
    }
    m
}

/// The `Wechatpay-*` headers of one response or notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Wechatpay-Timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature`, kept verbatim (it may be a probe or garbage; checked by
    /// [`Verifier::verify`]).
    pub signature: String,
    /// `Wechatpay-Serial`.
    pub serial: SerialNo,
    /// `Wechatpay-Signature-Type`, defaulted to [`SCHEME`] when absent.
    pub signature_type: String,
}

impl SignedHeaders {
    /// Reads the headers through `lookup`, which must match names case-insensitively (as
    /// `http::HeaderMap` does). Only structure is checked here; the signature is checked by
    /// [`Verifier::verify`].
    pub fn from_lookup<F>(lookup: F) -> Result<Self, VerifyError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |name: &'static str| -> Result<Option<String>, VerifyError> {
            match lookup(name) {
                Some(v) if v.len() > MAX_HEADER_VALUE_LEN => Err(VerifyError::MalformedHeader {
                    name,
                    reason: "value too long",
                }),
                // Most values need no trimming: keep the lookup's String then.
                Some(v) if v.trim().len() == v.len() => Ok(Some(v)),
                Some(v) => Ok(Some(v.trim().to_string())),
                None => Ok(None),
            }
        };
        let require = |name: &'static str| get(name)?.ok_or(VerifyError::MissingHeader(name));

        let ts_text = require(HEADER_TIMESTAMP)?;
        let timestamp = parse_unix_seconds(&ts_text).ok_or(VerifyError::MalformedHeader {
            name: HEADER_TIMESTAMP,
            reason: "not Unix seconds",
        })?;
        let nonce = require(HEADER_NONCE)?;
        if nonce.bytes().any(|b| b.is_ascii_control()) {
            return Err(VerifyError::MalformedHeader {
                name: HEADER_NONCE,
                reason: "control character",
            });
        }
        let signature = require(HEADER_SIGNATURE)?;
        let serial =
            SerialNo::new(require(HEADER_SERIAL)?).map_err(|_| VerifyError::MalformedHeader {
                name: HEADER_SERIAL,
                reason: "not a serial or key id",
            })?;
        let signature_type = get(HEADER_SIGNATURE_TYPE)?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| SCHEME.to_string());
        Ok(Self {
            timestamp,
            nonce,
            signature,
            serial,
            signature_type,
        })
    }

    /// Like [`Self::from_lookup`] over `(name, value)` pairs, matching names
    /// case-insensitively (HTTP/2 lower-cases them). The first occurrence wins.
    pub fn from_pairs<'a, I>(pairs: I) -> Result<Self, VerifyError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        Self::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        })
    }

    /// Signs `body` as WeChat would (the simulator's side of A.3).
    pub fn sign<S: RsaSigner + ?Sized>(
        signer: &S,
        serial: &SerialNo,
        timestamp: i64,
        nonce: &str,
        body: &[u8],
    ) -> Result<Self, SignError> {
        let signature = signer.sign_sha256_base64(&response_message(timestamp, nonce, body))?;
        Ok(Self {
            timestamp,
            nonce: nonce.to_string(),
            signature,
            serial: serial.clone(),
            signature_type: SCHEME.to_string(),
        })
    }

    /// The five headers with their canonical names, ready to put on a response.
    pub fn header_pairs(&self) -> [(&'static str, String); 5] {
        [
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
            (HEADER_SERIAL, self.serial.as_str().to_string()),
            (HEADER_SIGNATURE_TYPE, self.signature_type.clone()),
        ]
    }

    /// The message these headers sign over `body`.
    pub fn message(&self, body: &[u8]) -> Vec<u8> {
        response_message(self.timestamp, &self.nonce, body)
    }

    /// True for a `WECHATPAY/SIGNTEST/` probe; such a request must get a 4xx, and its
    /// failure is expected rather than an alarm.
    pub fn is_signature_probe(&self) -> bool {
        self.signature.starts_with(SIGNATURE_PROBE_PREFIX)
    }
}

/// Where a verification key came from.
#[derive(Debug, Clone)]
pub enum VerificationKey {
    /// A platform certificate (平台证书), selected by its serial.
    Certificate(Certificate),
    /// A WeChat Pay public key (微信支付公钥), selected by its `PUB_KEY_ID_…`.
    PublicKey(PublicKey),
}

impl VerificationKey {
    /// The RSA key itself.
    pub fn public_key(&self) -> &PublicKey {
        match self {
            Self::Certificate(c) => c.public_key(),
            Self::PublicKey(k) => k,
        }
    }
}

/// A key store of platform certificates and WeChat Pay public keys, keyed by serial /
/// key id, plus the verification procedure of A.3.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: HashMap<SerialNo, VerificationKey>,
    skip_expired: bool,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    /// An empty store that ignores certificates past their `notAfter`.
    pub fn new() -> Self {
        Self {
            keys: HashMap::new(),
            skip_expired: true,
        }
    }

    /// Whether an expired certificate is treated as unknown (default `true`). `notBefore`
    /// is never checked: WeChat publishes new certificates ahead of rotation, and clocks
    /// differ. Turn this off only to replay old recorded traffic in tests.
    pub fn skip_expired_certificates(mut self, skip: bool) -> Self {
        self.skip_expired = skip;
        self
    }

    /// Adds (or replaces) a platform certificate under its serial; returns the previous
    /// key under that serial.
    pub fn add_certificate(&mut self, certificate: Certificate) -> Option<VerificationKey> {
        self.keys.insert(
            certificate.serial().clone(),
            VerificationKey::Certificate(certificate),
        )
    }

    /// Adds (or replaces) a WeChat Pay public key under its id (`PUB_KEY_ID_…`).
    pub fn add_public_key(&mut self, key_id: SerialNo, key: PublicKey) -> Option<VerificationKey> {
        self.keys.insert(key_id, VerificationKey::PublicKey(key))
    }

    /// Removes the key under `serial`; true if there was one.
    pub fn remove(&mut self, serial: &SerialNo) -> bool {
        self.keys.remove(serial).is_some()
    }

    /// True if a key is configured under `serial` (expired or not).
    pub fn contains(&self, serial: &SerialNo) -> bool {
        self.keys.contains_key(serial)
    }

    /// The key under `serial`.
    pub fn get(&self, serial: &SerialNo) -> Option<&VerificationKey> {
        self.keys.get(serial)
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Certificates held, for refresh scheduling ([`Certificate::seconds_until_expiry`]).
    pub fn certificates(&self) -> impl Iterator<Item = &Certificate> {
        self.keys.values().filter_map(|k| match k {
            VerificationKey::Certificate(c) => Some(c),
            VerificationKey::PublicKey(_) => None,
        })
    }

    /// Drops certificates expired at `now`; returns how many were removed.
    pub fn prune_expired(&mut self, now: i64) -> usize {
        let before = self.keys.len();
        self.keys
            .retain(|_, k| !matches!(k, VerificationKey::Certificate(c) if c.is_expired_at(now)));
        before - self.keys.len()
    }

    /// Verifies `headers` over the raw `body` at time `now` (Unix seconds): signature type,
    /// clock skew, key lookup, then the RSA check. Never panics on hostile input.
    pub fn verify(
        &self,
        headers: &SignedHeaders,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        if headers.signature_type != SCHEME {
            return Err(VerifyError::UnsupportedSignatureType(
                headers.signature_type.clone(),
            ));
        }
        let skew = now.abs_diff(headers.timestamp);
        if skew >= MAX_SKEW_SECONDS {
            return Err(VerifyError::TimestampSkew {
                timestamp: headers.timestamp,
                now,
                skew,
            });
        }
        let key = match self.keys.get(&headers.serial) {
            Some(VerificationKey::Certificate(c)) if self.skip_expired && c.is_expired_at(now) => {
                None
            }
            other => other,
        }
        .ok_or_else(|| VerifyError::UnknownSerial(headers.serial.as_str().to_string()))?
        .public_key();
        if headers.is_signature_probe() {
            return Err(VerifyError::BadSignature(BadSignature::Probe));
        }
        // Header values are capped, so the decoded signature always fits on the stack.
        let mut sig = [0u8; MAX_HEADER_VALUE_LEN / 4 * 3];
        let sig_len = STANDARD
            .decode_slice(headers.signature.as_bytes(), &mut sig)
            .map_err(|e| {
                VerifyError::BadSignature(match e {
                    base64::DecodeSliceError::OutputSliceTooSmall => BadSignature::WrongLength,
                    base64::DecodeSliceError::DecodeError(_) => BadSignature::NotBase64,
                })
            })?;
        let sig = sig.get(..sig_len).unwrap_or_default();
        if sig.len() != key.size_bytes() {
            return Err(VerifyError::BadSignature(BadSignature::WrongLength));
        }
        // The message `TIMESTAMP\nNONCE\nBODY\n` ([`response_message`]) is hashed in pieces
        // rather than copied together with the body.
        let timestamp = headers.timestamp.to_string();
        let message: [&[u8]; 6] = [
            timestamp.as_bytes(),
            b"\n",
            headers.nonce.as_bytes(),
            b"\n",
            body,
            b"\n",
        ];
        if key.verify_sha256_parts(&message, sig) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature(BadSignature::Mismatch))
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn pairs() -> Vec<(&'static str, &'static str)> {
        vec![
            ("wechatpay-timestamp", "1722850421"),
            ("WECHATPAY-NONCE", "d824f2e086d3c1df967785d13fcd22ef"),
            (
                "Wechatpay-Serial",
                "PUB_KEY_ID_0000000000000024101100397200000006",
            ),
            ("Wechatpay-Signature", "AAAA"),
        ]
    }

    #[test]
    fn message_framing() {
        assert_eq!(response_message(1, "n", b""), b"1\nn\n\n");
        assert_eq!(
            response_message(1_722_850_421, "abc", b"{}"),
            b"1722850421\nabc\n{}\n"
        );
    }

    #[test]
    fn headers_are_case_insensitive_and_type_defaults() {
        let h = SignedHeaders::from_pairs(pairs()).expect("headers");
        assert_eq!(h.timestamp, 1_722_850_421);
        assert_eq!(h.signature_type, SCHEME);
        assert!(h.serial.is_public_key_id());
        let names: Vec<&str> = h.header_pairs().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                HEADER_TIMESTAMP,
                HEADER_NONCE,
                HEADER_SIGNATURE,
                HEADER_SERIAL,
                HEADER_SIGNATURE_TYPE
            ]
        );
    }

    #[test]
    fn missing_and_malformed_headers() {
        let mut p = pairs();
        p.remove(1);
        assert_eq!(
            SignedHeaders::from_pairs(p),
            Err(VerifyError::MissingHeader(HEADER_NONCE))
        );
        let mut p = pairs();
        p[0].1 = "17228504210000";
        assert_eq!(
            SignedHeaders::from_pairs(p).map_err(|e| e.reason_code()),
            Err("malformed_header")
        );
        let mut p = pairs();
        p[0].1 = "-5";
        assert!(SignedHeaders::from_pairs(p).is_err());
    }

    #[test]
    fn checks_run_in_order_without_keys() {
        let v = Verifier::new();
        let mut h = SignedHeaders::from_pairs(pairs()).expect("headers");
        assert_eq!(
            v.verify(&h, b"", h.timestamp).map_err(|e| e.reason_code()),
            Err("unknown_serial")
        );
        assert_eq!(
            v.verify(&h, b"", h.timestamp + 300)
                .map_err(|e| e.reason_code()),
            Err("timestamp_skew")
        );
        assert_eq!(
            v.verify(&h, b"", h.timestamp - 300)
                .map_err(|e| e.reason_code()),
            Err("timestamp_skew")
        );
        h.signature_type = "WECHATPAY2-SM2-WITH-SM3".to_string();
        assert_eq!(
            v.verify(&h, b"", h.timestamp).map_err(|e| e.reason_code()),
            Err("unsupported_signature_type")
        );
    }

    #[test]
    fn probe_is_detected() {
        let mut p = pairs();
        p[3].1 = "WECHATPAY/SIGNTEST/abc";
        let h = SignedHeaders::from_pairs(p).expect("headers");
        assert!(h.is_signature_probe());
    }
}
