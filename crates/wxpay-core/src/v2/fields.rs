//! Shared plumbing of the v2 message types: the error type, the `return_code` /
//! `result_code` checks (protocol.md E.1) and typed access to a parameter map.

use std::collections::BTreeMap;
use std::fmt::Display;

use crate::ids::{AppId, MchId};
use crate::v2::sign::{self, ApiV2Key, SignType};
use crate::v2::xml::{self, XmlError};

/// A v2 message as name → value, the form both the signer and the XML codec use.
pub type Params = BTreeMap<String, String>;

/// The value of `return_code` / `result_code` that means success.
pub const SUCCESS: &str = "SUCCESS";
/// The value that means failure.
pub const FAIL: &str = "FAIL";

/// Why a v2 message could not be read or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V2ModelError {
    /// `return_code` is not `SUCCESS`: the call itself failed (bad sign, bad parameters, …).
    #[error("v2 call failed: return_code={return_code} return_msg={return_msg:?}")]
    Communication {
        /// The `return_code` received (`FAIL`, or empty when missing).
        return_code: String,
        /// WeChat's explanation.
        return_msg: String,
    },
    /// `result_code` is not `SUCCESS`: the business operation failed (`ORDERPAID`, …).
    #[error("v2 business error {err_code}: {err_code_des}")]
    Business {
        /// `err_code`, e.g. `ORDERPAID`, `ORDERNOTEXIST`, `SYSTEMERROR`.
        err_code: String,
        /// `err_code_des`.
        err_code_des: String,
    },
    /// A required field is absent or empty.
    #[error("v2 field {0} is required")]
    Missing(&'static str),
    /// A field's value is not acceptable.
    #[error("v2 field {field} is invalid: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl V2ModelError {
    pub(crate) fn invalid(field: &'static str, reason: impl Display) -> Self {
        Self::Invalid {
            field,
            reason: reason.to_string(),
        }
    }
}

/// Checks `return_code` (communication level).
pub fn check_return_code(params: &Params) -> Result<(), V2ModelError> {
    match params.get("return_code").map(String::as_str) {
        Some(SUCCESS) => Ok(()),
        other => Err(V2ModelError::Communication {
            return_code: other.unwrap_or_default().to_owned(),
            return_msg: params.get("return_msg").cloned().unwrap_or_default(),
        }),
    }
}

/// Checks `result_code` (business level); call after [`check_return_code`].
pub fn check_result_code(params: &Params) -> Result<(), V2ModelError> {
    match params.get("result_code").map(String::as_str) {
        Some(SUCCESS) => Ok(()),
        _ => Err(V2ModelError::Business {
            err_code: params.get("err_code").cloned().unwrap_or_default(),
            err_code_des: params.get("err_code_des").cloned().unwrap_or_default(),
        }),
    }
}

/// Both checks, in the documented order.
pub fn check_success(params: &Params) -> Result<(), V2ModelError> {
    check_return_code(params)?;
    check_result_code(params)
}

/// A v2 answer refusing the call itself (`return_code` FAIL, E.1): an unreadable message,
/// a bad signature, a missing or malformed parameter. WeChat does not sign it, and the
/// reader sees it as [`V2ModelError::Communication`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnFailure {
    /// `return_msg`: WeChat's wording of what is wrong (`签名错误`, `缺少参数openid`, …).
    pub return_msg: String,
}

impl ReturnFailure {
    /// A refusal saying `return_msg`.
    pub fn new(return_msg: impl Into<String>) -> Self {
        Self {
            return_msg: return_msg.into(),
        }
    }

    /// WeChat's `return_msg` for a request model that did not read: `缺少参数…` for a missing
    /// field, `invalid …` for a malformed one.
    pub fn for_request(err: &V2ModelError) -> Self {
        match err {
            V2ModelError::Missing(field) => Self::new(format!("缺少参数{field}")),
            V2ModelError::Invalid { field, reason } => {
                Self::new(format!("invalid {field}参数格式错误 ({reason})"))
            }
            V2ModelError::Communication { return_msg, .. } => Self::new(return_msg.clone()),
            V2ModelError::Business { err_code_des, .. } => Self::new(err_code_des.clone()),
        }
    }

    /// The parameters (`return_code` FAIL and `return_msg`), not to be signed.
    pub fn to_params(&self) -> Params {
        ParamsBuilder::default()
            .set("return_code", FAIL)
            .set("return_msg", &self.return_msg)
            .build()
    }
}

/// A v2 answer refusing the business operation (`return_code` SUCCESS, `result_code` FAIL,
/// E.1): the call was understood and authenticated, the operation not done (`ORDERPAID`,
/// `ORDERNOTEXIST`, `NOTENOUGH`, …). Signed like a success; the reader sees it as
/// [`V2ModelError::Business`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessFailure {
    /// The appid of the request.
    pub appid: AppId,
    /// The merchant of the request.
    pub mch_id: MchId,
    /// `err_code`.
    pub err_code: String,
    /// `err_code_des`.
    pub err_code_des: String,
}

impl BusinessFailure {
    /// The unsigned parameters.
    pub fn to_params(&self, nonce_str: &str) -> Params {
        ParamsBuilder::default()
            .set("return_code", SUCCESS)
            .set("return_msg", "OK")
            .set("result_code", FAIL)
            .set("err_code", &self.err_code)
            .set("err_code_des", &self.err_code_des)
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("nonce_str", nonce_str)
            .build()
    }
}

/// The reply that acknowledges a v2 notification (E.4).
pub const NOTIFY_SUCCESS_REPLY: &str =
    "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

/// The reply that asks WeChat to retry a notification, with a short reason.
pub fn notify_fail_reply(message: &str) -> String {
    let clean: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    xml::to_xml([("return_code", FAIL), ("return_msg", clean.as_str())]).unwrap_or_else(|_| {
        "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[ERROR]]></return_msg></xml>".to_owned()
    })
}

/// Signs a request to WeChat (sets `sign_type` and `sign`) and writes the XML body.
pub fn signed_request_xml(
    mut params: Params,
    key: &ApiV2Key,
    sign_type: SignType,
) -> Result<String, XmlError> {
    sign::sign_request_into(&mut params, key, sign_type);
    xml::to_xml(&params)
}

/// Signs an answer or a notification as WeChat does (`sign` only, no `sign_type`: the
/// receiver knows the algorithm from its request or its order) and writes the XML body.
pub fn signed_xml(
    mut params: Params,
    key: &ApiV2Key,
    sign_type: SignType,
) -> Result<String, XmlError> {
    sign::sign_into(&mut params, key, sign_type);
    xml::to_xml(&params)
}

/// `nonce_str`: at most 32 characters; WeChat's examples use letters and digits.
pub(crate) fn check_nonce(nonce: &str) -> Result<(), V2ModelError> {
    if nonce.is_empty() {
        return Err(V2ModelError::Missing("nonce_str"));
    }
    if nonce.len() > 32 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(V2ModelError::invalid(
            "nonce_str",
            "must be 1-32 ASCII letters or digits",
        ));
    }
    Ok(())
}

/// Typed, read-only access to a received parameter map. Empty values count as absent,
/// as they do in the sign algorithm.
pub(crate) struct Fields<'a>(pub(crate) &'a Params);

impl<'a> Fields<'a> {
    pub(crate) fn opt(&self, name: &str) -> Option<&'a str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn opt_string(&self, name: &str) -> Option<String> {
        self.opt(name).map(str::to_owned)
    }

    pub(crate) fn req(&self, name: &'static str) -> Result<&'a str, V2ModelError> {
        self.opt(name).ok_or(V2ModelError::Missing(name))
    }

    pub(crate) fn req_typed<T, E: Display>(
        &self,
        name: &'static str,
        ctor: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<T, V2ModelError> {
        ctor(self.req(name)?).map_err(|e| V2ModelError::invalid(name, e))
    }

    pub(crate) fn opt_typed<T, E: Display>(
        &self,
        name: &'static str,
        ctor: impl FnOnce(&'a str) -> Result<T, E>,
    ) -> Result<Option<T>, V2ModelError> {
        self.opt(name)
            .map(ctor)
            .transpose()
            .map_err(|e| V2ModelError::invalid(name, e))
    }

    pub(crate) fn req_u64(&self, name: &'static str) -> Result<u64, V2ModelError> {
        self.req_typed(name, str::parse::<u64>)
    }

    pub(crate) fn opt_u64(&self, name: &'static str) -> Result<Option<u64>, V2ModelError> {
        self.opt_typed(name, str::parse::<u64>)
    }
}

/// Builds a parameter map, leaving out absent optional fields.
#[derive(Default)]
pub(crate) struct ParamsBuilder(Params);

impl ParamsBuilder {
    pub(crate) fn set(mut self, name: &str, value: impl Display) -> Self {
        self.0.insert(name.to_owned(), value.to_string());
        self
    }

    pub(crate) fn opt(self, name: &str, value: Option<impl Display>) -> Self {
        match value {
            Some(v) => self.set(name, v),
            None => self,
        }
    }

    pub(crate) fn build(self) -> Params {
        self.0
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn return_then_result() {
        assert!(check_success(&params(&[
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS")
        ]))
        .is_ok());
        let e = check_success(&params(&[
            ("return_code", "FAIL"),
            ("return_msg", "签名错误"),
        ]))
        .unwrap_err();
        assert_eq!(
            e,
            V2ModelError::Communication {
                return_code: "FAIL".into(),
                return_msg: "签名错误".into()
            }
        );
        let e = check_success(&params(&[
            ("return_code", "SUCCESS"),
            ("result_code", "FAIL"),
            ("err_code", "ORDERPAID"),
            ("err_code_des", "该订单已支付"),
        ]))
        .unwrap_err();
        assert!(
            matches!(e, V2ModelError::Business { ref err_code, .. } if err_code == "ORDERPAID")
        );
        assert!(matches!(
            check_success(&Params::new()),
            Err(V2ModelError::Communication { .. })
        ));
    }

    #[test]
    fn failures_read_back_as_the_two_levels() {
        let fail = ReturnFailure::for_request(&V2ModelError::Missing("openid")).to_params();
        assert_eq!(
            check_success(&fail),
            Err(V2ModelError::Communication {
                return_code: "FAIL".into(),
                return_msg: "缺少参数openid".into()
            })
        );
        let invalid = ReturnFailure::for_request(&V2ModelError::invalid("notify_url", "x"));
        assert!(invalid.return_msg.starts_with("invalid notify_url"));
        let biz = BusinessFailure {
            appid: AppId::new("wx2421b1c4370ec43b").unwrap(),
            mch_id: MchId::new("10000100").unwrap(),
            err_code: "ORDERPAID".into(),
            err_code_des: "该订单已支付".into(),
        }
        .to_params("n1");
        assert_eq!(check_return_code(&biz), Ok(()));
        assert_eq!(
            check_result_code(&biz),
            Err(V2ModelError::Business {
                err_code: "ORDERPAID".into(),
                err_code_des: "该订单已支付".into()
            })
        );
    }

    #[test]
    fn replies_parse_back() {
        let ok = xml::parse(NOTIFY_SUCCESS_REPLY.as_bytes(), 1024).unwrap();
        assert_eq!(ok["return_code"], "SUCCESS");
        let fail = xml::parse(notify_fail_reply("bad\u{0}sign]]>").as_bytes(), 1024).unwrap();
        assert_eq!(fail["return_code"], "FAIL");
        assert_eq!(fail["return_msg"], "badsign]]>");
    }

    #[test]
    fn signed_xml_verifies_after_parsing() {
        let key = ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").unwrap();
        let fields = params(&[("appid", "wx1"), ("total_fee", "1")]);
        let answer = signed_xml(fields.clone(), &key, SignType::HmacSha256).unwrap();
        let back = xml::parse(answer.as_bytes(), 4096).unwrap();
        assert!(!back.contains_key(sign::SIGN_TYPE_FIELD));
        assert_eq!(sign::verify(&back, &key, SignType::HmacSha256), Ok(()));
        let request = signed_request_xml(fields, &key, SignType::HmacSha256).unwrap();
        let back = xml::parse(request.as_bytes(), 4096).unwrap();
        assert_eq!(back[sign::SIGN_TYPE_FIELD], "HMAC-SHA256");
        assert_eq!(sign::verify(&back, &key, SignType::HmacSha256), Ok(()));
    }

    #[test]
    fn nonce_rules() {
        assert!(check_nonce("5K8264ILTKCH16CQ2502SI8ZNMTM67VS").is_ok());
        assert!(check_nonce("").is_err());
        assert!(check_nonce(&"a".repeat(33)).is_err());
        assert!(check_nonce("a-b").is_err());
    }
}
