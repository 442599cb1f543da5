//! Reading an API v2 Native "mode one" product URL (protocol reference B.8):
//! `weixin://wxpay/bizpayurl?sign=…&appid=…&mch_id=…&product_id=…&time_stamp=…&nonce_str=…`.
//!
//! [`CodeUrl::mode_one`](super::CodeUrl::mode_one) builds these. This is the other half: a page
//! checks the shape of a static QR it is about to show ([`ModeOneUrl::parse`], no key), and
//! whoever holds the API v2 key (the merchant server, the simulator playing WeChat's scanner)
//! checks its sign ([`ModeOneUrl::verify`]).

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

use crate::ids::{AppId, MchId};
use crate::invoke::{FieldProblem, NonceStr, PayTimestamp, ProductId};
use crate::v2::sign::{verify, ApiV2Key, SignType, SIGN_TYPE_FIELD};

/// What every mode-one URL starts with (mode two's `?pr=` links share it but carry no sign).
pub const MODE_ONE_PREFIX: &str = "weixin://wxpay/bizpayurl?";

/// Why a string is not a usable mode-one URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeOneUrlError {
    /// Not a `weixin://wxpay/bizpayurl?…` URL, or a mode-two `?pr=` link (no sign).
    #[error("not a mode-one URL (expected weixin://wxpay/bizpayurl?sign=…&appid=…): {0:?}")]
    NotModeOne(String),
    /// Query syntax: a parameter without `=`, a repeated name, a bad `%` escape, non-UTF-8.
    #[error("malformed mode-one URL: {0}")]
    Malformed(String),
    /// A required parameter is absent or empty; a missing `sign` is an unsigned URL.
    #[error("mode-one URL has no {0} parameter")]
    MissingParameter(&'static str),
    /// A parameter breaks WeChat's rule for its value.
    #[error("mode-one parameter {name} {problem}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// The sign does not verify with the merchant's API v2 key: tampered or forged.
    #[error(
        "mode-one URL sign does not verify with the merchant's API v2 key (tampered or forged URL)"
    )]
    BadSign,
}

/// A mode-one URL whose fields have WeChat's shapes; its sign is checked by [`Self::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeOneUrl {
    /// `appid`.
    pub app_id: AppId,
    /// `mch_id`.
    pub mch_id: MchId,
    /// `product_id`: the merchant's product, sent back to its 支付回调URL.
    pub product_id: ProductId,
    /// `time_stamp` (a static QR never expires, so nobody checks it against a clock).
    pub time_stamp: PayTimestamp,
    /// `nonce_str`.
    pub nonce_str: NonceStr,
    /// Every parameter as received, `sign` included: what the sign is checked over. A list,
    /// not a map, so that pages that only check the shape carry no map code in their wasm.
    params: Vec<(String, String)>,
}

impl ModeOneUrl {
    /// Parses the URL and checks every field's shape. Percent escapes are decoded first, so
    /// generators that escape more than the core's builder still verify.
    pub fn parse(url: &str) -> Result<Self, ModeOneUrlError> {
        let query = url
            .strip_prefix(MODE_ONE_PREFIX)
            .ok_or_else(|| ModeOneUrlError::NotModeOne(url.chars().take(64).collect()))?;
        let mut params: Vec<(String, String)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                ModeOneUrlError::Malformed(format!("parameter {pair:?} has no '='"))
            })?;
            let (name, value) = (decode(name)?, decode(value)?);
            if params.iter().any(|(seen, _)| *seen == name) {
                return Err(ModeOneUrlError::Malformed(format!(
                    "parameter {name:?} appears twice"
                )));
            }
            params.push((name, value));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if get("pr").is_some() && get("sign").is_none() {
            return Err(ModeOneUrlError::NotModeOne(
                "a mode-two (unified order) code_url".into(),
            ));
        }
        let take = |name: &'static str| -> Result<&str, ModeOneUrlError> {
            get(name)
                .filter(|v| !v.is_empty())
                .ok_or(ModeOneUrlError::MissingParameter(name))
        };
        let invalid = |name: &'static str| {
            move |problem: FieldProblem| ModeOneUrlError::InvalidParameter { name, problem }
        };
        take("sign")?;
        Ok(Self {
            app_id: AppId::new(take("appid")?)
                .map_err(|e| invalid("appid")(FieldProblem::Id(e)))?,
            mch_id: MchId::new(take("mch_id")?)
                .map_err(|e| invalid("mch_id")(FieldProblem::Id(e)))?,
            product_id: ProductId::new(take("product_id")?).map_err(invalid("product_id"))?,
            time_stamp: PayTimestamp::parse(take("time_stamp")?).map_err(invalid("time_stamp"))?,
            nonce_str: NonceStr::new(take("nonce_str")?).map_err(invalid("nonce_str"))?,
            params,
        })
    }

    /// Verifies the v2 sign, in constant time, over every received parameter but `sign`. B.8
    /// signs exactly the five fields, so an added parameter changes the signed string and is
    /// refused as tampering. The merchant made the URL, so like any merchant-to-WeChat message
    /// it is MD5 unless it names a `sign_type` (which it then signs).
    pub fn verify(&self, key: &ApiV2Key) -> Result<SignType, ModeOneUrlError> {
        let params: BTreeMap<String, String> = self.params.iter().cloned().collect();
        let sign_type = match params.get(SIGN_TYPE_FIELD) {
            Some(stated) => SignType::parse(stated).map_err(|_| ModeOneUrlError::BadSign)?,
            None => SignType::Md5,
        };
        verify(&params, key, sign_type).map_err(|_| ModeOneUrlError::BadSign)?;
        Ok(sign_type)
    }
}

fn decode(part: &str) -> Result<String, ModeOneUrlError> {
    let bytes: Vec<u8> = percent_decode_str(part).collect();
    // `percent_decode_str` passes a broken escape through unchanged; WeChat refuses it.
    let escapes_ok = part
        .split('%')
        .skip(1)
        .all(|rest| rest.len() >= 2 && rest.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !escapes_ok {
        return Err(ModeOneUrlError::Malformed(format!(
            "bad %-escape in {part:?}"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| ModeOneUrlError::Malformed(format!("{part:?} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::invoke::CodeUrl;

    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    fn url_for(key: &ApiV2Key, product: &str) -> String {
        CodeUrl::mode_one(
            key,
            &AppId::new("wx2421b1c4370ec43b").expect("appid"),
            &MchId::new("10000100").expect("mchid"),
            &ProductId::new(product).expect("product"),
            &PayTimestamp::parse("1415949957").expect("ts"),
            &NonceStr::new("ibuaiVcKdpRxkhJA").expect("nonce"),
        )
        .as_str()
        .to_owned()
    }

    #[test]
    fn parses_and_verifies_what_the_builder_makes() {
        let key = ApiV2Key::new(KEY).expect("key");
        let parsed = ModeOneUrl::parse(&url_for(&key, "tea-01")).expect("parse");
        assert_eq!(parsed.product_id.as_str(), "tea-01");
        assert_eq!(parsed.mch_id.as_str(), "10000100");
        assert_eq!(parsed.verify(&key), Ok(SignType::Md5));
        let other = ApiV2Key::new("0".repeat(32)).expect("key");
        assert_eq!(parsed.verify(&other), Err(ModeOneUrlError::BadSign));
    }

    #[test]
    fn refuses_tampered_extended_unsigned_and_foreign_urls() {
        let key = ApiV2Key::new(KEY).expect("key");
        let url = url_for(&key, "tea-01");
        let tampered = url.replace("product_id=tea-01", "product_id=tea-02");
        let parsed = ModeOneUrl::parse(&tampered).expect("parse");
        assert_eq!(parsed.verify(&key), Err(ModeOneUrlError::BadSign));
        let extended = ModeOneUrl::parse(&format!("{url}&total_fee=1")).expect("parse");
        assert_eq!(extended.verify(&key), Err(ModeOneUrlError::BadSign));

        let unsigned: Vec<&str> = url.split('&').filter(|p| !p.contains("sign=")).collect();
        let unsigned = format!("{MODE_ONE_PREFIX}{}", unsigned.join("&"));
        assert_eq!(
            ModeOneUrl::parse(&unsigned),
            Err(ModeOneUrlError::MissingParameter("sign"))
        );
        assert!(matches!(
            ModeOneUrl::parse("https://example.com/?sign=1"),
            Err(ModeOneUrlError::NotModeOne(_))
        ));
        assert!(matches!(
            ModeOneUrl::parse("weixin://wxpay/bizpayurl?pr=JyC91EIz1"),
            Err(ModeOneUrlError::NotModeOne(_))
        ));
        assert!(matches!(
            ModeOneUrl::parse(&format!("{url}&appid=wx1")),
            Err(ModeOneUrlError::Malformed(_))
        ));
        assert!(matches!(
            ModeOneUrl::parse(&url.replace("product_id=tea-01", "product_id=tea%2")),
            Err(ModeOneUrlError::Malformed(_))
        ));
        assert!(matches!(
            ModeOneUrl::parse(&url.replace("product_id=tea-01", "product_id=a%26b")),
            Err(ModeOneUrlError::InvalidParameter {
                name: "product_id",
                problem: FieldProblem::Character { ch: '&', .. }
            })
        ));
    }

    #[test]
    fn percent_escapes_are_decoded_before_verifying() {
        let key = ApiV2Key::new(KEY).expect("key");
        let escaped = url_for(&key, "tea-01").replace("tea-01", "tea%2D01");
        let parsed = ModeOneUrl::parse(&escaped).expect("parse");
        assert_eq!(parsed.product_id.as_str(), "tea-01");
        assert_eq!(parsed.verify(&key), Ok(SignType::Md5));
    }
}
