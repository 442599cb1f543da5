//! Typed identifiers with fallible constructors.
//!
//! Parse, don't validate: an `OutTradeNo` that exists is one WeChat will accept, so the
//! rest of the code never re-checks strings. Limits follow the v3 API reference
//! (直连商户 JSAPI 下单 / 申请退款 field tables).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value is empty.
    #[error("{kind} is empty")]
    Empty {
        /// Which identifier.
        kind: &'static str,
    },
    /// The value is shorter or longer than WeChat allows.
    #[error("{kind} must be {min}..={max} characters, got {len}")]
    Length {
        /// Which identifier.
        kind: &'static str,
        /// Minimum length in characters.
        min: usize,
        /// Maximum length in characters.
        max: usize,
        /// Actual length.
        len: usize,
    },
    /// The value holds a character outside the allowed set.
    #[error("{kind} contains {ch:?} at position {pos}; allowed: {allowed}")]
    Character {
        /// Which identifier.
        kind: &'static str,
        /// The offending character.
        ch: char,
        /// Its position (in characters).
        pos: usize,
        /// A human description of the allowed set.
        allowed: &'static str,
    },
    /// The value lacks a required prefix.
    #[error("{kind} must start with {prefix:?}")]
    Prefix {
        /// Which identifier.
        kind: &'static str,
        /// The required prefix.
        prefix: &'static str,
    },
}

struct Rule {
    kind: &'static str,
    min: usize,
    max: usize,
    allowed: &'static str,
    ok: fn(char) -> bool,
}

fn check(rule: &Rule, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind: rule.kind });
    }
    let len = value.chars().count();
    if len < rule.min || len > rule.max {
        return Err(IdError::Length {
            kind: rule.kind,
            min: rule.min,
            max: rule.max,
            len,
        });
    }
    if let Some((pos, ch)) = value.chars().enumerate().find(|(_, c)| !(rule.ok)(*c)) {
        return Err(IdError::Character {
            kind: rule.kind,
            ch,
            pos,
            allowed: rule.allowed,
        });
    }
    Ok(())
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}
fn trade_no_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '|' | '*')
}
fn refund_no_char(c: char) -> bool {
    trade_no_char(c) || c == '@'
}
fn openid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}
fn visible_ascii(c: char) -> bool {
    c.is_ascii_graphic()
}
fn digit(c: char) -> bool {
    c.is_ascii_digit()
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $rule:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            const RULE: Rule = $rule;

            /// Checks `value` against WeChat's rule for this identifier.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check(&Self::RULE, &value)?;
                Ok(Self(value))
            }

            /// The identifier as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Gives back the owned string.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// An app id (公众号, 小程序 or 开放平台移动应用 appid), e.g. `wxd678efh567hg6787`. string(32).
    AppId,
    Rule { kind: "appid", min: 1, max: 32, allowed: "ASCII letters and digits", ok: alnum }
);
string_id!(
    /// A merchant id (商户号 `mchid` / v2 `mch_id`), decimal digits. string(32).
    MchId,
    Rule { kind: "mchid", min: 1, max: 32, allowed: "digits", ok: digit }
);
string_id!(
    /// The merchant's order number: 6–32 of `[0-9A-Za-z_-|*]`, unique per merchant.
    OutTradeNo,
    Rule { kind: "out_trade_no", min: 6, max: 32, allowed: "0-9 A-Z a-z _ - | *", ok: trade_no_char }
);
string_id!(
    /// The merchant's refund number: 1–64 of `[0-9A-Za-z_-|*@]`; retries reuse it.
    OutRefundNo,
    Rule { kind: "out_refund_no", min: 1, max: 64, allowed: "0-9 A-Z a-z _ - | * @", ok: refund_no_char }
);
string_id!(
    /// WeChat's order number (`transaction_id`). string(32).
    TransactionId,
    Rule { kind: "transaction_id", min: 1, max: 32, allowed: "ASCII letters and digits", ok: alnum }
);
string_id!(
    /// WeChat's refund number (`refund_id`). string(32).
    RefundId,
    Rule { kind: "refund_id", min: 1, max: 32, allowed: "ASCII letters and digits", ok: alnum }
);
string_id!(
    /// A prepay session id (`prepay_id`), valid for two hours. string(64).
    PrepayId,
    Rule { kind: "prepay_id", min: 1, max: 64, allowed: "ASCII letters, digits, _ and -", ok: openid_char }
);
string_id!(
    /// A user's openid under one appid. string(128).
    OpenId,
    Rule { kind: "openid", min: 1, max: 128, allowed: "ASCII letters, digits, _ and -", ok: openid_char }
);

/// Prefix of a WeChat Pay public-key id (微信支付公钥 ID).
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// A key identifier in `serial_no` / `Wechatpay-Serial`: either a certificate serial
/// (hex) or a WeChat Pay public-key id (`PUB_KEY_ID_…`).
///
/// Certificate serials compare case-insensitively (WeChat prints them upper-case, some
/// tools lower-case); the value keeps its original spelling for display.
#[derive(Clone)]
pub struct SerialNo {
    original: String,
    canonical: String,
}

impl SerialNo {
    /// Accepts a hex certificate serial or a `PUB_KEY_ID_` id, at most 64 visible ASCII characters.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let original = value.into();
        let rule = Rule {
            kind: "serial_no",
            min: 1,
            max: 64,
            allowed: "visible ASCII",
            ok: visible_ascii,
        };
        check(&rule, &original)?;
        let canonical = if original.starts_with(PUBLIC_KEY_ID_PREFIX) {
            original.clone()
        } else {
            original.to_ascii_uppercase()
        };
        Ok(Self {
            original,
            canonical,
        })
    }

    /// True for a WeChat Pay public-key id rather than a certificate serial.
    pub fn is_public_key_id(&self) -> bool {
        self.canonical.starts_with(PUBLIC_KEY_ID_PREFIX)
    }

    /// The value as given.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The comparison form: upper-case hex for certificate serials, unchanged for key ids.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

impl PartialEq for SerialNo {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}
impl Eq for SerialNo {}

impl std::hash::Hash for SerialNo {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.canonical.hash(state)
    }
}

impl fmt::Display for SerialNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl fmt::Debug for SerialNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerialNo({:?})", self.original)
    }
}

impl std::str::FromStr for SerialNo {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for SerialNo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.original)
    }
}

impl<'de> Deserialize<'de> for SerialNo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn out_trade_no_rules() {
        assert!(OutTradeNo::new("1217752501201407033233368018").is_ok());
        assert!(OutTradeNo::new("ab_-|*").is_ok());
        assert!(matches!(
            OutTradeNo::new("abc12"),
            Err(IdError::Length { len: 5, .. })
        ));
        assert!(matches!(
            OutTradeNo::new("a".repeat(33)),
            Err(IdError::Length { len: 33, .. })
        ));
        assert!(matches!(
            OutTradeNo::new("abc def"),
            Err(IdError::Character {
                ch: ' ',
                pos: 3,
                ..
            })
        ));
        assert!(matches!(
            OutTradeNo::new("订单号123456"),
            Err(IdError::Character { .. })
        ));
        assert!(matches!(OutTradeNo::new(""), Err(IdError::Empty { .. })));
    }

    #[test]
    fn refund_no_allows_at() {
        assert!(OutRefundNo::new("r@1").is_ok());
        assert!(OutTradeNo::new("r@1234").is_err());
    }

    #[test]
    fn serials_compare_case_insensitively_but_key_ids_exactly() {
        let a = SerialNo::new("5157f09efdc096de15ebe81a47057a7232f1b8e1").unwrap();
        let b = SerialNo::new("5157F09EFDC096DE15EBE81A47057A7232F1B8E1").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "5157f09efdc096de15ebe81a47057a7232f1b8e1");
        let k = SerialNo::new("PUB_KEY_ID_0000000000000024101100397200000006").unwrap();
        assert!(k.is_public_key_id());
        assert!(!a.is_public_key_id());
    }

    #[test]
    fn serde_rejects_invalid() {
        let r: Result<OutTradeNo, _> = serde_json::from_str("\"bad no\"");
        assert!(r.is_err());
        let ok: MchId = serde_json::from_str("\"1900007291\"").unwrap();
        assert_eq!(ok.as_str(), "1900007291");
    }
}
