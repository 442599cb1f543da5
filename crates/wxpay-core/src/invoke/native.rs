//! Native (扫码) payment: `code_url` rendered as a QR code (protocol reference B.8).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::ids::{AppId, MchId};
use crate::invoke::{FieldProblem, NonceStr, PayTimestamp, UrlProblem};
use crate::v2::sign::{sign as v2_sign, ApiV2Key, SignType as V2SignType};

/// The scheme every WeChat Pay QR URL uses; WeChat's scanner is the only reader.
pub const CODE_URL_SCHEME: &str = "weixin://";

/// A Native `code_url`, e.g. `weixin://wxpay/bizpayurl?pr=JyC91EIz1`.
///
/// Opaque: WeChat has changed the path before (`weixin://pay.weixin.qq.com/bizpayurl/up?…`), so
/// only the scheme is checked. Valid for two hours after prepay.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CodeUrl(String);

impl CodeUrl {
    /// Accepts a non-empty `weixin://` URL without whitespace or control characters.
    pub fn new(value: impl Into<String>) -> Result<Self, UrlProblem> {
        let value = value.into();
        if value.is_empty() {
            return Err(UrlProblem::Empty);
        }
        if let Some(at) = value.find(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(UrlProblem::Whitespace { at });
        }
        match value.split_once("://") {
            Some((scheme, rest)) if scheme == "weixin" && !rest.is_empty() => Ok(Self(value)),
            Some((scheme, _)) if scheme != "weixin" => Err(UrlProblem::Scheme {
                found: scheme.to_ascii_lowercase(),
                expected: CODE_URL_SCHEME,
            }),
            _ => Err(UrlProblem::NotAbsolute { value }),
        }
    }

    /// API v2 Native "mode one" (static product QR):
    /// `weixin://wxpay/bizpayurl?sign=…&appid=…&mch_id=…&product_id=…&time_stamp=…&nonce_str=…`,
    /// signed with the v2 MD5 sign over `appid, mch_id, nonce_str, product_id, time_stamp`.
    ///
    /// Scanning it makes WeChat call the merchant's 支付回调URL with `product_id` and the
    /// payer's `openid`; the merchant answers with a prepay id. MD5 because the URL has no
    /// `sign_type` field to announce anything else.
    pub fn mode_one(
        key: &ApiV2Key,
        app_id: &AppId,
        mch_id: &MchId,
        product_id: &ProductId,
        time_stamp: &PayTimestamp,
        nonce_str: &NonceStr,
    ) -> Self {
        let sign = v2_sign(
            [
                ("appid", app_id.as_str()),
                ("mch_id", mch_id.as_str()),
                ("nonce_str", nonce_str.as_str()),
                ("product_id", product_id.as_str()),
                ("time_stamp", time_stamp.as_str()),
            ],
            key,
            V2SignType::Md5,
        );
        // Every value is restricted to letters, digits, `_` and `-`, so none needs escaping.
        Self(format!(
            "weixin://wxpay/bizpayurl?sign={sign}&appid={}&mch_id={}&product_id={}&time_stamp={}&nonce_str={}",
            app_id.as_str(),
            mch_id.as_str(),
            product_id.as_str(),
            time_stamp.as_str(),
            nonce_str.as_str()
        ))
    }

    /// The URL to encode in the QR code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeUrl({:?})", self.0)
    }
}

impl fmt::Display for CodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CodeUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The merchant's product id in a v2 mode-one QR (`product_id`, string(32)).
///
/// Restricted to ASCII letters, digits, `_` and `-` so that it needs no URL escaping and
/// cannot inject another `&key=value` into the signed string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductId(String);

impl ProductId {
    /// The longest product id WeChat accepts.
    pub const MAX_LEN: usize = 32;

    /// Checks length and characters.
    pub fn new(value: impl Into<String>) -> Result<Self, FieldProblem> {
        let value = value.into();
        if value.is_empty() {
            return Err(FieldProblem::Empty);
        }
        let len = value.chars().count();
        if len > Self::MAX_LEN {
            return Err(FieldProblem::TooLong {
                len,
                max: Self::MAX_LEN,
            });
        }
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if let Some((pos, ch)) = value.chars().enumerate().find(|(_, c)| !ok(*c)) {
            return Err(FieldProblem::Character {
                ch,
                pos,
                allowed: "ASCII letters, digits, _ and -",
            });
        }
        Ok(Self(value))
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn code_url_checks_only_the_scheme() {
        assert!(CodeUrl::new("weixin://wxpay/bizpayurl?pr=JyC91EIz1").is_ok());
        assert!(
            CodeUrl::new("weixin://pay.weixin.qq.com/bizpayurl/up?pr=NwY5Mz9&groupid=00").is_ok()
        );
        assert!(matches!(
            CodeUrl::new("https://evil.example/qr"),
            Err(UrlProblem::Scheme { .. })
        ));
        assert!(matches!(
            CodeUrl::new("WEIXIN://wxpay/x"),
            Err(UrlProblem::Scheme { .. })
        ));
        assert!(matches!(
            CodeUrl::new("weixin://"),
            Err(UrlProblem::NotAbsolute { .. })
        ));
        assert!(matches!(
            CodeUrl::new("weixin:wxpay"),
            Err(UrlProblem::NotAbsolute { .. })
        ));
        assert!(matches!(
            CodeUrl::new("weixin://a b"),
            Err(UrlProblem::Whitespace { at: 10 })
        ));
        assert_eq!(CodeUrl::new(""), Err(UrlProblem::Empty));
    }

    #[test]
    fn mode_one_url_is_signed_over_five_fields() {
        let key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").expect("key");
        let url = CodeUrl::mode_one(
            &key,
            &AppId::new("wx2421b1c4370ec43b").expect("appid"),
            &MchId::new("10000100").expect("mch"),
            &ProductId::new("88888").expect("product"),
            &PayTimestamp::parse("1415949957").expect("ts"),
            &NonceStr::new("1415949957").expect("nonce"),
        );
        // Expected sign computed independently of this crate, with Python's hashlib:
        // md5("appid=wx2421b1c4370ec43b&mch_id=10000100&nonce_str=1415949957&product_id=88888
        //      &time_stamp=1415949957&key=192006250b4c09247ec02edce69f6a2d").upper()
        let sign = "378E80EED79077062D9C32C6A793FE40";
        assert_eq!(
            url.as_str(),
            format!(
                "weixin://wxpay/bizpayurl?sign={sign}&appid=wx2421b1c4370ec43b&mch_id=10000100\
                 &product_id=88888&time_stamp=1415949957&nonce_str=1415949957"
            )
        );
    }

    #[test]
    fn product_id_rules() {
        assert!(ProductId::new("sku_01-a").is_ok());
        assert!(matches!(
            ProductId::new("a&b=c"),
            Err(FieldProblem::Character { ch: '&', .. })
        ));
        assert!(matches!(
            ProductId::new("x".repeat(33)),
            Err(FieldProblem::TooLong { len: 33, max: 32 })
        ));
        assert_eq!(ProductId::new(""), Err(FieldProblem::Empty));
    }
}
