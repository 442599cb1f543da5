//! The merchant request signature and `Authorization` header (protocol A.2, 签名生成).
//!
//! The signed message is five lines, each terminated by `\n`:
//! `METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n`. The header carries the merchant id,
//! nonce, timestamp, merchant certificate serial and Base64 signature. The merchant side
//! builds it; the simulator parses and verifies it.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::ids::{IdError, MchId, SerialNo};
use crate::keys::PublicKey;
use crate::signer::{RsaSigner, SignError};

/// The scheme token that precedes the parameters, and the only `Wechatpay-Signature-Type`.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// Longest header value accepted by [`Authorization::parse`]; a real one is ~600 bytes.
pub const MAX_HEADER_LEN: usize = 4096;

/// Why an `Authorization` header could not be built, parsed or verified.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    /// The header does not start with `WECHATPAY2-SHA256-RSA2048 `.
    #[error("authorization scheme is not {SCHEME}")]
    Scheme,
    /// The header is longer than [`MAX_HEADER_LEN`].
    #[error("authorization header too long ({len} bytes)")]
    TooLong {
        /// Length given.
        len: usize,
    },
    /// The parameter list is not `key="value"` items separated by commas.
    #[error("malformed authorization parameters at byte {at}")]
    Syntax {
        /// Byte offset (in the parameter list) where parsing stopped.
        at: usize,
    },
    /// A parameter appears twice.
    #[error("duplicate authorization parameter {0:?}")]
    Duplicate(String),
    /// A required parameter is absent.
    #[error("authorization parameter {0} is missing")]
    Missing(&'static str),
    /// `timestamp` is not Unix seconds as decimal digits.
    #[error("authorization timestamp {0:?} is not Unix seconds")]
    Timestamp(String),
    /// `mchid` or `serial_no` breaks the identifier rules.
    #[error("invalid authorization identifier: {0}")]
    Id(#[from] IdError),
    /// A field would break the line-based signed message or the quoted header syntax
    /// (newline, `"` or control character, or an empty nonce), or the method is not an
    /// upper-case token, or the URL does not start with `/`.
    #[error("{field} cannot be signed: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signer failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The signature is not Base64 or does not verify under the given key.
    #[error("request signature does not verify")]
    BadSignature,
    /// The timestamp is outside the accepted window around `now`.
    #[error("request timestamp {timestamp} is {skew} s away from now")]
    TimestampSkew {
        /// The header's timestamp.
        timestamp: i64,
        /// |now - timestamp|.
        skew: u64,
    },
}

/// The parts of an outgoing request that the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestParts<'a> {
    /// Upper-case HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// Absolute path plus `?` and the raw query exactly as sent; no scheme or host.
    pub canonical_url: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
    /// The request nonce (the Go SDK uses 32 alphanumerics).
    pub nonce: &'a str,
    /// The exact body bytes sent; empty for GET.
    pub body: &'a [u8],
}

impl RequestParts<'_> {
    /// The five-line message these parts sign to.
    pub fn message(&self) -> Vec<u8> {
        request_message(
            self.method,
            self.canonical_url,
            self.timestamp,
            self.nonce,
            self.body,
        )
    }

    fn validate(&self) -> Result<(), AuthorizationError> {
        if self.method.is_empty() || !self.method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AuthorizationError::InvalidField {
                field: "method",
                reason: "must be upper-case letters",
            });
        }
        if !self.canonical_url.starts_with('/') {
            return Err(AuthorizationError::InvalidField {
                field: "canonical_url",
                reason: "must start with '/'",
            });
        }
        if self
            .canonical_url
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ')
        {
            return Err(AuthorizationError::InvalidField {
                field: "canonical_url",
                reason: "contains a space or control character",
            });
        }
        if self.timestamp < 0 {
            return Err(AuthorizationError::InvalidField {
                field: "timestamp",
                reason: "is negative",
            });
        }
        check_header_safe("nonce_str", self.nonce)
    }
}

/// The string to sign for a request (A.2), as bytes. `body` goes in verbatim.
pub fn request_message(
    method: &str,
    canonical_url: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let ts = timestamp.to_string();
    let mut m = Vec::with_capacity(
        method.len() + canonical_url.len() + ts.len() + nonce.len() + body.len() + 5,
    );
    for part in [
        method.as_bytes(),
        canonical_url.as_bytes(),
        ts.as_bytes(),
        nonce.as_bytes(),
        body,
    ] {
        m.extend_from_slice(part);
        m.push(b'\n');
    }
    m
}

fn check_header_safe(field: &'static str, value: &str) -> Result<(), AuthorizationError> {
    if value.is_empty() {
        return Err(AuthorizationError::InvalidField {
            field,
            reason: "is empty",
        });
    }
    if value
        .bytes()
        .any(|b| b == b'"' || b == b',' || b.is_ascii_control())
    {
        return Err(AuthorizationError::InvalidField {
            field,
            reason: "contains '\"', ',' or a control character",
        });
    }
    Ok(())
}

/// A parsed or freshly signed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Merchant id (商户号).
    pub mchid: MchId,
    /// The nonce that was signed.
    pub nonce_str: String,
    /// The timestamp that was signed (Unix seconds).
    pub timestamp: i64,
    /// Serial of the merchant API certificate whose key signed.
    pub serial_no: SerialNo,
    /// Standard Base64 signature.
    pub signature: String,
}

impl Authorization {
    /// Signs `request` and returns the header. Validates the parts first so that a
    /// newline or quote can never make the header or message ambiguous.
    pub fn sign<S: RsaSigner + ?Sized>(
        signer: &S,
        mchid: &MchId,
        serial_no: &SerialNo,
        request: &RequestParts<'_>,
    ) -> Result<Self, AuthorizationError> {
        request.validate()?;
        let signature = signer.sign_sha256_base64(&request.message())?;
        Ok(Self {
            mchid: mchid.clone(),
            nonce_str: request.nonce.to_string(),
            timestamp: request.timestamp,
            serial_no: serial_no.clone(),
            signature,
        })
    }

    /// The header value in the Go SDK's parameter order: mchid, nonce_str, timestamp,
    /// serial_no, signature.
    pub fn to_header_value(&self) -> String {
        format!(
            "{SCHEME} mchid=\"{}\",nonce_str=\"{}\",timestamp=\"{}\",serial_no=\"{}\",signature=\"{}\"",
            self.mchid, self.nonce_str, self.timestamp, self.serial_no, self.signature
        )
    }

    /// Parses a header value. Parameters may come in any order (the official doc and the
    /// Go SDK disagree); values may be quoted or bare tokens; unknown parameters are
    /// ignored; duplicates, missing fields and garbage are typed errors.
    pub fn parse(header: &str) -> Result<Self, AuthorizationError> {
        if header.len() > MAX_HEADER_LEN {
            return Err(AuthorizationError::TooLong { len: header.len() });
        }
        let header = header.trim();
        let rest = match header.split_once([' ', '\t']) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case(SCHEME) => rest,
            _ => return Err(AuthorizationError::Scheme),
        };
        let mut fields = Fields::default();
        for item in Params::new(rest) {
            let (key, value) = item?;
            fields.set(key, value)?;
        }
        fields.finish()
    }

    /// Verifies the signature against the merchant's public key for the request that
    /// carried this header. Does not check the timestamp: see [`Self::check_timestamp`].
    pub fn verify(
        &self,
        key: &PublicKey,
        method: &str,
        canonical_url: &str,
        body: &[u8],
    ) -> Result<(), AuthorizationError> {
        let message = request_message(method, canonical_url, self.timestamp, &self.nonce_str, body);
        let sig = STANDARD
            .decode(&self.signature)
            .map_err(|_| AuthorizationError::BadSignature)?;
        if key.verify_sha256(&message, &sig) {
            Ok(())
        } else {
            Err(AuthorizationError::BadSignature)
        }
    }

    /// Rejects a timestamp `max_skew_seconds` or more away from `now` (either direction).
    pub fn check_timestamp(
        &self,
        now: i64,
        max_skew_seconds: u64,
    ) -> Result<(), AuthorizationError> {
        let skew = now.abs_diff(self.timestamp);
        if skew >= max_skew_seconds {
            return Err(AuthorizationError::TimestampSkew {
                timestamp: self.timestamp,
                skew,
            });
        }
        Ok(())
    }
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

#[derive(Default)]
struct Fields<'a> {
    mchid: Option<&'a str>,
    nonce_str: Option<&'a str>,
    timestamp: Option<&'a str>,
    serial_no: Option<&'a str>,
    signature: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn set(&mut self, key: &'a str, value: &'a str) -> Result<(), AuthorizationError> {
        let slot = match key {
            "mchid" => &mut self.mchid,
            "nonce_str" => &mut self.nonce_str,
            "timestamp" => &mut self.timestamp,
            "serial_no" => &mut self.serial_no,
            "signature" => &mut self.signature,
            _ => return Ok(()),
        };
        if slot.replace(value).is_some() {
            return Err(AuthorizationError::Duplicate(key.to_string()));
        }
        Ok(())
    }

    fn finish(self) -> Result<Authorization, AuthorizationError> {
        let mchid = MchId::new(self.mchid.ok_or(AuthorizationError::Missing("mchid"))?)?;
        let nonce_str = self
            .nonce_str
            .ok_or(AuthorizationError::Missing("nonce_str"))?;
        check_header_safe("nonce_str", nonce_str)?;
        let ts_text = self
            .timestamp
            .ok_or(AuthorizationError::Missing("timestamp"))?;
        let timestamp = parse_unix_seconds(ts_text)
            .ok_or_else(|| AuthorizationError::Timestamp(ts_text.to_string()))?;
        let serial_no = SerialNo::new(
            self.serial_no
                .ok_or(AuthorizationError::Missing("serial_no"))?,
        )?;
        let signature = self
            .signature
            .ok_or(AuthorizationError::Missing("signature"))?;
        check_header_safe("signature", signature)?;
        Ok(Authorization {
            mchid,
            nonce_str: nonce_str.to_string(),
            timestamp,
            serial_no,
            signature: signature.to_string(),
        })
    }
}

/// Decimal Unix seconds: 1 to 12 ASCII digits (no sign, no spaces).
pub(crate) fn parse_unix_seconds(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Iterator over `key="value"` / `key=token` items separated by commas and optional spaces.
struct Params<'a> {
    text: &'a str,
    pos: usize,
    failed: bool,
}

impl<'a> Params<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            failed: false,
        }
    }

    fn skip_spaces(&mut self) {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && (bytes[self.pos] == b' ' || bytes[self.pos] == b'\t') {
            self.pos += 1;
        }
    }

    fn item(&mut self) -> Result<(&'a str, &'a str), AuthorizationError> {
        let bytes = self.text.as_bytes();
        let err = |at| AuthorizationError::Syntax { at };
        let key_start = self.pos;
        while self.pos < bytes.len()
            && (bytes[self.pos].is_ascii_alphanumeric() || bytes[self.pos] == b'_')
        {
            self.pos += 1;
        }
        if self.pos == key_start || bytes.get(self.pos) != Some(&b'=') {
            return Err(err(self.pos));
        }
        let key = &self.text[key_start..self.pos];
        self.pos += 1;
        let value = if bytes.get(self.pos) == Some(&b'"') {
            let start = self.pos + 1;
            let len = self.text[start..].find('"').ok_or(err(self.pos))?;
            self.pos = start + len + 1;
            &self.text[start..start + len]
        } else {
            let start = self.pos;
            while self.pos < bytes.len() && !matches!(bytes[self.pos], b',' | b' ' | b'\t' | b'"') {
                self.pos += 1;
            }
            &self.text[start..self.pos]
        };
        self.skip_spaces();
        match bytes.get(self.pos) {
            None => {}
            Some(b',') => {
                self.pos += 1;
                self.skip_spaces();
                if self.pos >= bytes.len() {
                    return Err(err(self.pos));
                }
            }
            Some(_) => return Err(err(self.pos)),
        }
        Ok((key, value))
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<(&'a str, &'a str), AuthorizationError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.pos == 0 {
            self.skip_spaces();
        }
        if self.pos >= self.text.len() {
            return None;
        }
        let item = self.item();
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    struct FixedSigner;
    impl RsaSigner for FixedSigner {
        fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
            // Not RSA: returns the message length so tests can see what was signed.
            Ok(message.len().to_be_bytes().to_vec())
        }
    }

    const OFFICIAL: &str = "WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",timestamp=\"1554208460\",serial_no=\"408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB\",signature=\"c2ln\"";

    fn parts(body: &[u8]) -> RequestParts<'_> {
        RequestParts {
            method: "POST",
            canonical_url: "/v3/pay/transactions/jsapi",
            timestamp: 1_554_208_460,
            nonce: "593BEC0C930BF1AFEB40B4A08C8FB242",
            body,
        }
    }

    #[test]
    fn message_has_five_terminated_lines() {
        assert_eq!(
            request_message("GET", "/v3/certificates", 1, "n", b""),
            b"GET\n/v3/certificates\n1\nn\n\n"
        );
        assert_eq!(
            parts(b"{}").message(),
            b"POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{}\n"
        );
    }

    #[test]
    fn header_round_trips() {
        let mchid = MchId::new("1900009191").expect("mchid");
        let serial = SerialNo::new("408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB").expect("serial");
        let auth = Authorization::sign(&FixedSigner, &mchid, &serial, &parts(b"{}")).expect("sign");
        assert_eq!(auth.signature, STANDARD.encode(79usize.to_be_bytes()));
        let header = auth.to_header_value();
        assert!(header.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\",nonce_str="));
        assert_eq!(Authorization::parse(&header).expect("parse"), auth);
    }

    #[test]
    fn parses_any_order_bare_tokens_and_spaces() {
        let a = Authorization::parse(OFFICIAL).expect("parse");
        let reordered = "wechatpay2-sha256-rsa2048  signature=c2ln, serial_no=\"408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB\",timestamp=\"1554208460\" ,nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",extra=\"x\",mchid=\"1900009191\"";
        assert_eq!(Authorization::parse(reordered).expect("parse"), a);
        assert_eq!(a.timestamp, 1_554_208_460);
    }

    #[test]
    fn garbage_gives_typed_errors() {
        use AuthorizationError as E;
        assert!(matches!(Authorization::parse(""), Err(E::Scheme)));
        assert!(matches!(Authorization::parse("Bearer x"), Err(E::Scheme)));
        assert!(matches!(
            Authorization::parse("WECHATPAY2-SHA256-RSA2048 mchid"),
            Err(E::Syntax { .. })
        ));
        assert!(matches!(
            Authorization::parse("WECHATPAY2-SHA256-RSA2048 mchid=\"1"),
            Err(E::Syntax { .. })
        ));
        assert!(matches!(
            Authorization::parse("WECHATPAY2-SHA256-RSA2048 mchid=\"1\","),
            Err(E::Syntax { .. })
        ));
        assert!(matches!(
            Authorization::parse("WECHATPAY2-SHA256-RSA2048 mchid=\"1\""),
            Err(E::Missing("nonce_str"))
        ));
        let dup = OFFICIAL.replace("signature=", "mchid=\"1\",signature=");
        assert!(matches!(Authorization::parse(&dup), Err(E::Duplicate(_))));
        let bad_ts = OFFICIAL.replace("1554208460", "1554208460000000");
        assert!(matches!(
            Authorization::parse(&bad_ts),
            Err(E::Timestamp(_))
        ));
        let bad_mchid = OFFICIAL.replace("1900009191", "19000x");
        assert!(matches!(Authorization::parse(&bad_mchid), Err(E::Id(_))));
        assert!(matches!(
            Authorization::parse(&"a".repeat(5000)),
            Err(E::TooLong { .. })
        ));
    }

    #[test]
    fn unsafe_parts_are_refused_before_signing() {
        let mchid = MchId::new("1900009191").expect("mchid");
        let serial = SerialNo::new("408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB").expect("serial");
        let mut p = parts(b"");
        p.nonce = "a\"b";
        assert!(matches!(
            Authorization::sign(&FixedSigner, &mchid, &serial, &p),
            Err(AuthorizationError::InvalidField {
                field: "nonce_str",
                ..
            })
        ));
        let mut p = parts(b"");
        p.method = "post";
        assert!(Authorization::sign(&FixedSigner, &mchid, &serial, &p).is_err());
        let mut p = parts(b"");
        p.canonical_url = "/v3/x\n";
        assert!(Authorization::sign(&FixedSigner, &mchid, &serial, &p).is_err());
    }

    #[test]
    fn timestamp_window_is_exclusive_at_the_limit() {
        let a = Authorization::parse(OFFICIAL).expect("parse");
        assert!(a.check_timestamp(1_554_208_460 + 299, 300).is_ok());
        assert!(a.check_timestamp(1_554_208_460 - 299, 300).is_ok());
        assert!(a.check_timestamp(1_554_208_460 + 300, 300).is_err());
        assert!(a.check_timestamp(1_554_208_460 - 301, 300).is_err());
    }
}
