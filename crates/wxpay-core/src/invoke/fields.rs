//! Typed values shared by every surface: timestamp, nonce, signature type, and the format
//! checks for signatures and `package`.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::PrepayId;
use crate::invoke::{FieldProblem, APP_PACKAGE, PREPAY_PACKAGE_PREFIX};

/// Byte length of an RSA-2048 signature, the only size WeChat Pay merchant keys have.
pub(crate) const RSA_2048_SIGNATURE_BYTES: usize = 256;

/// `signType` of a JSAPI / mini-program bundle.
///
/// `RSA` for API v3 (not part of the signed message); `MD5` or `HMAC-SHA256` for API v2,
/// where it is one of the signed fields and must match the unified order's `sign_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaySignType {
    /// API v3: SHA256-with-RSA, Base64.
    Rsa,
    /// API v2: MD5, 32 upper-case hex digits.
    Md5,
    /// API v2: HMAC-SHA256 keyed with the API v2 key, 64 upper-case hex digits.
    HmacSha256,
}

impl PaySignType {
    /// The wire spelling (case-sensitive).
    pub fn as_str(self) -> &'static str {
        match self {
            PaySignType::Rsa => "RSA",
            PaySignType::Md5 => "MD5",
            PaySignType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// Parses the exact wire spelling; WeChat does not accept `rsa` or `md5`.
    pub fn parse(value: &str) -> Result<Self, FieldProblem> {
        match value {
            "RSA" => Ok(PaySignType::Rsa),
            "MD5" => Ok(PaySignType::Md5),
            "HMAC-SHA256" => Ok(PaySignType::HmacSha256),
            other => Err(FieldProblem::SignType {
                value: other.to_owned(),
            }),
        }
    }

    /// Checks that `signature` has the shape this algorithm produces. This is a format
    /// check only: the client has no key, so it cannot tell a forged signature from a real one.
    pub fn check_signature(self, signature: &str) -> Result<(), FieldProblem> {
        match self {
            PaySignType::Rsa => check_rsa_signature(signature),
            PaySignType::Md5 => check_hex_signature(signature, 32, "MD5"),
            PaySignType::HmacSha256 => check_hex_signature(signature, 64, "HMAC-SHA256"),
        }
    }
}

impl fmt::Display for PaySignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PaySignType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PaySignType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Standard padded Base64 decoding to exactly 256 bytes.
pub(crate) fn check_rsa_signature(signature: &str) -> Result<(), FieldProblem> {
    if signature.is_empty() {
        return Err(FieldProblem::Empty);
    }
    let bytes = STANDARD
        .decode(signature)
        .map_err(|e| FieldProblem::NotBase64 {
            reason: e.to_string(),
        })?;
    if bytes.len() != RSA_2048_SIGNATURE_BYTES {
        return Err(FieldProblem::SignatureBytes {
            expected: RSA_2048_SIGNATURE_BYTES,
            found: bytes.len(),
        });
    }
    Ok(())
}

/// `expected` hex digits. Either case is accepted: WeChat compares v2 signatures
/// case-insensitively in practice, and the official SDKs emit upper case.
pub(crate) fn check_hex_signature(
    signature: &str,
    expected: usize,
    sign_type: &'static str,
) -> Result<(), FieldProblem> {
    if signature.is_empty() {
        return Err(FieldProblem::Empty);
    }
    if signature.len() != expected || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FieldProblem::HexSignature {
            sign_type,
            expected,
            found: signature.to_owned(),
        });
    }
    Ok(())
}

/// Guesses the algorithm of an APP `sign`, which has no `signType` beside it: 32 hex digits
/// is v2 MD5, 64 hex digits is v2 HMAC-SHA256, anything else must be v3 RSA.
pub(crate) fn app_sign_type(signature: &str) -> PaySignType {
    let hex = signature.bytes().all(|b| b.is_ascii_hexdigit());
    match (hex, signature.len()) {
        (true, 32) => PaySignType::Md5,
        (true, 64) => PaySignType::HmacSha256,
        _ => PaySignType::Rsa,
    }
}

/// Splits `prepay_id=<id>` and checks the id.
pub(crate) fn parse_prepay_package(package: &str) -> Result<PrepayId, FieldProblem> {
    if package.is_empty() {
        return Err(FieldProblem::Empty);
    }
    let id =
        package
            .strip_prefix(PREPAY_PACKAGE_PREFIX)
            .ok_or_else(|| FieldProblem::PackageFormat {
                value: package.to_owned(),
            })?;
    PrepayId::new(id).map_err(FieldProblem::Id)
}

/// The APP `package` is the constant `Sign=WXPay`.
pub(crate) fn check_app_package(package: &str) -> Result<(), FieldProblem> {
    if package == APP_PACKAGE {
        Ok(())
    } else {
        Err(FieldProblem::AppPackage {
            value: package.to_owned(),
        })
    }
}

/// `nonceStr` / `noncestr`: 1–32 ASCII letters and digits.
///
/// WeChat only states "at most 32 characters"; letters and digits are what every official SDK
/// generates, and they keep the v2 `k=v&…` string unambiguous (no `&` or `=` inside a value).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NonceStr(String);

impl NonceStr {
    /// The longest nonce WeChat accepts.
    pub const MAX_LEN: usize = 32;

    /// Checks the length and the character set.
    pub fn new(value: impl Into<String>) -> Result<Self, FieldProblem> {
        let value = value.into();
        if value.is_empty() {
            return Err(FieldProblem::Empty);
        }
        let len = value.chars().count();
        if len > Self::MAX_LEN {
            return Err(FieldProblem::NonceTooLong { len });
        }
        if let Some((pos, ch)) = value
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_alphanumeric())
        {
            return Err(FieldProblem::Character {
                ch,
                pos,
                allowed: "ASCII letters and digits",
            });
        }
        Ok(Self(value))
    }

    /// The nonce as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NonceStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NonceStr({:?})", self.0)
    }
}

impl fmt::Display for NonceStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `timeStamp` / `timestamp`: Unix seconds as a string of exactly 10 decimal digits.
///
/// A string, not a number, because `wx.requestPayment` rejects a number ("parameter.timeStamp
/// should be String"); 10 digits because WeChat wants seconds, and a 13-digit millisecond
/// value (JavaScript's `Date.now()`) is the most common mistake.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayTimestamp(String);

impl PayTimestamp {
    /// From Unix seconds; refuses values that do not have exactly 10 digits
    /// (before 2001-09-09 or after 2286-11-20), which catches milliseconds.
    pub fn from_unix(seconds: i64) -> Result<Self, FieldProblem> {
        if (1_000_000_000..=9_999_999_999).contains(&seconds) {
            Ok(Self(seconds.to_string()))
        } else {
            Err(FieldProblem::Timestamp {
                value: seconds.to_string(),
            })
        }
    }

    /// From the wire string.
    pub fn parse(value: &str) -> Result<Self, FieldProblem> {
        if value.len() == 10 && value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0')
        {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldProblem::Timestamp {
                value: value.to_owned(),
            })
        }
    }

    /// The 10-digit string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PayTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayTimestamp({})", self.0)
    }
}

impl fmt::Display for PayTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn timestamp_rules() {
        assert_eq!(
            PayTimestamp::from_unix(1_554_208_460).map(|t| t.0),
            Ok("1554208460".to_owned())
        );
        assert!(matches!(
            PayTimestamp::from_unix(1_554_208_460_000),
            Err(FieldProblem::Timestamp { .. })
        ));
        assert!(PayTimestamp::from_unix(999_999_999).is_err());
        assert!(PayTimestamp::parse("1554208460").is_ok());
        assert!(PayTimestamp::parse("155420846").is_err());
        assert!(PayTimestamp::parse("1554208460000").is_err());
        assert!(PayTimestamp::parse("15542084a0").is_err());
        assert!(PayTimestamp::parse("0554208460").is_err());
        assert!(PayTimestamp::parse("+554208460").is_err());
    }

    #[test]
    fn nonce_rules() {
        assert!(NonceStr::new("593BEC0C930BF1AFEB40B4A08C8FB242").is_ok());
        assert_eq!(
            NonceStr::new("a".repeat(33)),
            Err(FieldProblem::NonceTooLong { len: 33 })
        );
        assert_eq!(NonceStr::new(""), Err(FieldProblem::Empty));
        assert!(matches!(
            NonceStr::new("ab&c"),
            Err(FieldProblem::Character {
                ch: '&',
                pos: 2,
                ..
            })
        ));
    }

    #[test]
    fn sign_types_are_case_sensitive() {
        assert_eq!(PaySignType::parse("RSA"), Ok(PaySignType::Rsa));
        assert_eq!(
            PaySignType::parse("HMAC-SHA256"),
            Ok(PaySignType::HmacSha256)
        );
        assert!(PaySignType::parse("rsa").is_err());
        assert!(PaySignType::parse("HMAC_SHA256").is_err());
    }

    #[test]
    fn signature_shapes() {
        let rsa = STANDARD.encode([7u8; 256]);
        assert_eq!(PaySignType::Rsa.check_signature(&rsa), Ok(()));
        let short = STANDARD.encode([7u8; 128]);
        assert_eq!(
            PaySignType::Rsa.check_signature(&short),
            Err(FieldProblem::SignatureBytes {
                expected: 256,
                found: 128
            })
        );
        assert!(matches!(
            PaySignType::Rsa.check_signature("not base64!"),
            Err(FieldProblem::NotBase64 { .. })
        ));
        assert_eq!(PaySignType::Md5.check_signature(&"A".repeat(32)), Ok(()));
        assert!(PaySignType::Md5.check_signature(&"A".repeat(64)).is_err());
        assert_eq!(
            PaySignType::HmacSha256.check_signature(&"0f".repeat(32)),
            Ok(())
        );
        assert!(PaySignType::HmacSha256
            .check_signature(&"G".repeat(64))
            .is_err());
        assert_eq!(app_sign_type(&"A".repeat(32)), PaySignType::Md5);
        assert_eq!(app_sign_type(&"A".repeat(64)), PaySignType::HmacSha256);
        assert_eq!(app_sign_type(&rsa), PaySignType::Rsa);
    }

    #[test]
    fn packages() {
        assert_eq!(
            parse_prepay_package("prepay_id=wx201410272009395522657a690389285100")
                .map(|p| p.into_inner()),
            Ok("wx201410272009395522657a690389285100".to_owned())
        );
        assert!(matches!(
            parse_prepay_package("wx2014"),
            Err(FieldProblem::PackageFormat { .. })
        ));
        assert!(matches!(
            parse_prepay_package("prepay_id="),
            Err(FieldProblem::Id(_))
        ));
        assert_eq!(check_app_package("Sign=WXPay"), Ok(()));
        assert!(check_app_package("sign=WXPay").is_err());
    }
}
