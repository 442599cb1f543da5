//! The v3 error body and the error codes the toolkit reacts to (protocol.md A.1, A.12).
//!
//! `detail` of a `PARAM_ERROR` follows WeChat's API v3 rules (接口规则, 错误信息): `field` is a
//! JSON Pointer (RFC 6901) into the request body (`/amount/currency`) when the bad parameter
//! is in the body, and the parameter's name (`mchid`) when it is in the URL path or the query
//! string; `value` is the value received, `issue` the reason, `location` where it was.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Error codes WeChat answers with, as constants so the server, client and simulator spell
/// them the same way. The sets are open: always keep the raw `code` string too.
pub mod error_code {
    /// 400: a field is missing or malformed.
    pub const PARAM_ERROR: &str = "PARAM_ERROR";
    /// 400: the request is not allowed in the current state (e.g. refund of an unpaid order).
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// 400: the appid is not bound to the merchant.
    pub const APPID_MCHID_NOT_MATCH: &str = "APPID_MCHID_NOT_MATCH";
    /// 400: unknown merchant.
    pub const MCH_NOT_EXISTS: &str = "MCH_NOT_EXISTS";
    /// 400: the order was closed.
    pub const ORDER_CLOSED: &str = "ORDER_CLOSED";
    /// 401: the request signature did not verify.
    pub const SIGN_ERROR: &str = "SIGN_ERROR";
    /// 403: the merchant lacks the permission.
    pub const NO_AUTH: &str = "NO_AUTH";
    /// 403: balance too low (the payer's, or for refunds the merchant's refundable balance).
    pub const NOT_ENOUGH: &str = "NOT_ENOUGH";
    /// 403: the out_trade_no was already used with different parameters.
    pub const OUT_TRADE_NO_USED: &str = "OUT_TRADE_NO_USED";
    /// 403 (status UNCONFIRMED): the order is already paid, e.g. when closing it.
    pub const ORDERPAID: &str = "ORDERPAID";
    /// 403: account error.
    pub const ACCOUNT_ERROR: &str = "ACCOUNT_ERROR";
    /// 403: blocked by a business rule.
    pub const RULE_LIMIT: &str = "RULE_LIMIT";
    /// 403: trade error.
    pub const TRADE_ERROR: &str = "TRADE_ERROR";
    /// 403: the payer's account cannot receive the refund.
    pub const USER_ACCOUNT_ABNORMAL: &str = "USER_ACCOUNT_ABNORMAL";
    /// 404: no such order (newer pages).
    pub const ORDER_NOT_EXIST: &str = "ORDER_NOT_EXIST";
    /// 404: no such order (older v3 pages).
    pub const ORDERNOTEXIST: &str = "ORDERNOTEXIST";
    /// 404: order not found or not paid (refund), or refund not found (refund query).
    pub const RESOURCE_NOT_EXISTS: &str = "RESOURCE_NOT_EXISTS";
    /// 429: rate-limited (refunds of old orders, erroneous calls).
    pub const FREQUENCY_LIMITED: &str = "FREQUENCY_LIMITED";
    /// 429: the generic table's rate-limit code.
    pub const RATELIMIT_EXCEEDED: &str = "RATELIMIT_EXCEEDED";
    /// 500: WeChat-side error; retry with the same parameters.
    pub const SYSTEM_ERROR: &str = "SYSTEM_ERROR";
    /// 500: the older spelling.
    pub const SYSTEMERROR: &str = "SYSTEMERROR";
    /// 500: the openid does not belong to the appid.
    pub const OPENID_MISMATCH: &str = "OPENID_MISMATCH";
    /// 502/503: temporarily unavailable; retry.
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    /// 202: the payer is entering the password; query again later.
    pub const USERPAYING: &str = "USERPAYING";
    /// 400: no bill for that date (no trade that day, or not made yet).
    pub const NO_STATEMENT_EXIST: &str = "NO_STATEMENT_EXIST";
    /// 400: the bill for that date is still being made (before 10:00 +08:00 the next day).
    pub const STATEMENT_CREATING: &str = "STATEMENT_CREATING";
    /// 404: no such endpoint. WeChat's body for an unknown path is undocumented; this is
    /// the code the simulator answers with.
    pub const NOT_FOUND: &str = "NOT_FOUND";

    /// The HTTP status WeChat pairs with `code`, for the simulator. Statuses marked
    /// UNCONFIRMED in A.12 follow the analogy given there (ORDERPAID 403, refund codes).
    pub fn http_status(code: &str) -> Option<u16> {
        Some(match code {
            USERPAYING => 202,
            PARAM_ERROR
            | INVALID_REQUEST
            | APPID_MCHID_NOT_MATCH
            | MCH_NOT_EXISTS
            | ORDER_CLOSED
            | NO_STATEMENT_EXIST
            | STATEMENT_CREATING => 400,
            SIGN_ERROR => 401,
            NO_AUTH
            | NOT_ENOUGH
            | OUT_TRADE_NO_USED
            | ORDERPAID
            | ACCOUNT_ERROR
            | RULE_LIMIT
            | TRADE_ERROR
            | USER_ACCOUNT_ABNORMAL => 403,
            ORDER_NOT_EXIST | ORDERNOTEXIST | RESOURCE_NOT_EXISTS | NOT_FOUND => 404,
            FREQUENCY_LIMITED | RATELIMIT_EXCEEDED => 429,
            SYSTEM_ERROR | SYSTEMERROR | OPENID_MISMATCH => 500,
            SERVICE_UNAVAILABLE => 503,
            _ => return None,
        })
    }

    /// True for the "no such order" codes, whichever generation of the docs WeChat follows.
    pub fn is_order_not_found(code: &str) -> bool {
        matches!(code, ORDER_NOT_EXIST | ORDERNOTEXIST | RESOURCE_NOT_EXISTS)
    }
}

/// The body of every v3 4xx/5xx answer: `{"code":"PARAM_ERROR","message":"…","detail":{…}}`.
///
/// `detail`'s schema is not documented (A.1), so it stays raw JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code, see [`error_code`].
    pub code: String,
    /// Human-readable message (often Chinese).
    pub message: String,
    /// Extra information, e.g. the field at fault or the signed message WeChat saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

impl ErrorBody {
    /// An error body without detail.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            detail: None,
        }
    }

    /// Adds `detail`.
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The 400 `PARAM_ERROR` answer for a field of `body` that failed validation: `detail`
    /// names the field by its JSON Pointer and carries the value found there.
    pub fn param_error_in(err: &FieldError, body: &Value) -> Self {
        Self::param(ParamErrorDetail::in_body(err, Some(body)))
    }

    /// A 400 `PARAM_ERROR` whose `detail` is `detail`; the message names the field.
    pub fn param(detail: ParamErrorDetail) -> Self {
        let message = if detail.field.is_empty() {
            format!("参数错误: {}", detail.issue)
        } else {
            format!("参数错误: {} {}", detail.field, detail.issue)
        };
        Self::new(error_code::PARAM_ERROR, message).with_detail(detail.to_value())
    }

    /// The 401 `SIGN_ERROR` answer to a request whose `Authorization` did not verify, with the
    /// `sign_information` WeChat adds so the merchant can compare what was signed (A.1): the
    /// method and URL it saw, the start of the message it rebuilt, and that message's length
    /// for a 10-digit timestamp and a 32-character nonce.
    pub fn sign_error(method: &str, canonical_url: &str, body_len: usize, issue: &str) -> Self {
        let truncated = format!("{method}\n{canonical_url}\n");
        // timestamp + "\n" + nonce + "\n" + body + "\n"
        let length = truncated.len() + 10 + 1 + 32 + 1 + body_len + 1;
        let path = canonical_url.split('?').next().unwrap_or_default();
        Self::new(error_code::SIGN_ERROR, "签名错误").with_detail(json!({
            "detail": { "issue": issue },
            "field": "signature",
            "location": "authorization",
            "sign_information": {
                "method": method,
                "sign_message_length": length,
                "truncated_sign_message": truncated,
                "url": path,
            }
        }))
    }

    /// `detail` read as a [`ParamErrorDetail`], when it has that shape.
    pub fn param_detail(&self) -> Option<ParamErrorDetail> {
        self.detail
            .as_ref()
            .and_then(|d| serde_json::from_value(d.clone()).ok())
    }

    /// The HTTP status WeChat pairs with this code ([`error_code::http_status`]).
    pub fn http_status(&self) -> Option<u16> {
        error_code::http_status(&self.code)
    }

    /// True when `code` equals `expected`.
    pub fn is(&self, expected: &str) -> bool {
        self.code == expected
    }
}

/// Where a refused parameter was: `detail.location` of a `PARAM_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParamLocation {
    /// In the JSON body; `field` is a JSON Pointer.
    Body,
    /// In the query string; `field` is the parameter's name.
    Query,
    /// In the URL path; `field` is the path parameter's name.
    Url,
    /// Anything else WeChat reports (`header`, `path`, …).
    Other(String),
}

impl ParamLocation {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Body => "body",
            Self::Query => "query",
            Self::Url => "url",
            Self::Other(s) => s,
        }
    }

    /// Parses the wire spelling; anything else is kept as `Other`.
    pub fn parse(s: &str) -> Self {
        match s {
            "body" => Self::Body,
            "query" => Self::Query,
            "url" => Self::Url,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for ParamLocation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ParamLocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// `detail` of a 400 `PARAM_ERROR`, as WeChat's API v3 rules document it:
/// `{"field":"/amount/currency","value":"XYZ","issue":"Currency code is invalid","location":"body"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamErrorDetail {
    /// A JSON Pointer into the body (`/amount/total`), or the name of a query or path
    /// parameter (`mchid`); empty when the whole body is at fault.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
    /// The value received, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Why it was refused.
    #[serde(default)]
    pub issue: String,
    /// Where the parameter was.
    pub location: ParamLocation,
}

impl ParamErrorDetail {
    /// A body field, with its value looked up in `body` when given.
    pub fn in_body(err: &FieldError, body: Option<&Value>) -> Self {
        let value = match body {
            Some(body) if !err.field.is_empty() => body.pointer(&err.field).cloned(),
            _ => None,
        };
        Self {
            field: err.field.clone(),
            value,
            issue: err.issue.clone(),
            location: ParamLocation::Body,
        }
    }

    /// A query-string parameter named `name`.
    pub fn in_query(name: &str, value: Option<&str>, issue: impl Into<String>) -> Self {
        Self {
            field: name.to_owned(),
            value: value.map(|v| Value::String(v.to_owned())),
            issue: issue.into(),
            location: ParamLocation::Query,
        }
    }

    /// A URL path parameter named `name`.
    pub fn in_url(name: &str, value: Option<&str>, issue: impl Into<String>) -> Self {
        Self {
            location: ParamLocation::Url,
            ..Self::in_query(name, value, issue)
        }
    }

    /// The `detail` JSON.
    pub fn to_value(&self) -> Value {
        // Strings, an optional JSON value and a string-backed enum: cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One field of a request body that failed validation, named by its JSON Pointer (RFC 6901)
/// as WeChat names it in `detail.field`: `/amount/total`, `/scene_info/h5_info/type`,
/// `/detail/goods_detail/0/quantity`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    /// The JSON Pointer of the field; empty for the whole body.
    pub field: String,
    /// What is wrong with it.
    pub issue: String,
}

impl FieldError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, issue: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            issue: issue.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "body: {}", self.issue)
        } else {
            write!(f, "{}: {}", self.field, self.issue)
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn error_body_round_trip_and_optional_detail() {
        let b: ErrorBody =
            serde_json::from_str(r#"{"code":"ORDER_NOT_EXIST","message":"订单不存在"}"#).unwrap();
        assert!(b.is(error_code::ORDER_NOT_EXIST));
        assert!(b.detail.is_none());
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"code":"ORDER_NOT_EXIST","message":"订单不存在"}"#
        );
        let signed: ErrorBody = serde_json::from_str(
            r#"{"code":"SIGN_ERROR","message":"签名错误","detail":{"detail":{"issue":"sign not match"},"field":"signature","location":"authorization"}}"#,
        )
        .unwrap();
        assert_eq!(signed.detail.unwrap()["field"], "signature");
    }

    #[test]
    fn param_error_names_the_field_by_json_pointer_with_its_value() {
        let body = serde_json::json!({"amount": {"total": "100"}});
        let e = ErrorBody::param_error_in(
            &FieldError::new("/amount/total", "must be an integer"),
            &body,
        );
        assert_eq!(e.code, "PARAM_ERROR");
        assert_eq!(e.http_status(), Some(400));
        assert!(e.message.contains("/amount/total"));
        let detail = e.param_detail().unwrap();
        assert_eq!(detail.field, "/amount/total");
        assert_eq!(detail.value, Some(Value::String("100".into())));
        assert_eq!(detail.location, ParamLocation::Body);
        assert_eq!(e.detail.unwrap()["location"], "body");
        let whole = ErrorBody::param(ParamErrorDetail::in_body(
            &FieldError::new("", "must be a JSON object"),
            None,
        ));
        assert!(whole.detail.unwrap().get("field").is_none());
    }

    /// The example of WeChat's API v3 rules page (接口规则, 错误信息) reads back, and the
    /// simulator's query-parameter errors take the documented shape: the name, not a path.
    #[test]
    fn documented_param_error_shape() {
        let doc: ErrorBody = serde_json::from_str(
            r#"{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/currency","value":"XYZ","issue":"Currency code is invalid","location":"body"}}"#,
        )
        .unwrap();
        let detail = doc.param_detail().unwrap();
        assert_eq!(
            detail,
            ParamErrorDetail::in_body(
                &FieldError::new("/amount/currency", "Currency code is invalid"),
                Some(&serde_json::json!({"amount": {"currency": "XYZ"}}))
            )
        );
        let q = ErrorBody::param(ParamErrorDetail::in_query("mchid", None, "is required"));
        assert_eq!(
            q.detail.unwrap(),
            serde_json::json!({"field": "mchid", "issue": "is required", "location": "query"})
        );
    }

    #[test]
    fn sign_error_carries_the_sign_information() {
        let e = ErrorBody::sign_error(
            "POST",
            "/v3/pay/transactions/jsapi?x=1",
            10,
            "sign not match",
        );
        assert_eq!(e.http_status(), Some(401));
        let d = e.detail.unwrap();
        assert_eq!(d["location"], "authorization");
        assert_eq!(d["detail"]["issue"], "sign not match");
        assert_eq!(d["sign_information"]["url"], "/v3/pay/transactions/jsapi");
        assert_eq!(
            d["sign_information"]["truncated_sign_message"],
            "POST\n/v3/pay/transactions/jsapi?x=1\n"
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(error_code::http_status(error_code::PARAM_ERROR), Some(400));
        assert_eq!(error_code::http_status(error_code::SIGN_ERROR), Some(401));
        assert_eq!(error_code::http_status(error_code::ORDERPAID), Some(403));
        assert_eq!(
            error_code::http_status(error_code::RESOURCE_NOT_EXISTS),
            Some(404)
        );
        assert_eq!(
            error_code::http_status(error_code::FREQUENCY_LIMITED),
            Some(429)
        );
        assert_eq!(error_code::http_status(error_code::SYSTEM_ERROR), Some(500));
        assert_eq!(error_code::http_status(error_code::NOT_FOUND), Some(404));
        assert_eq!(error_code::http_status("SOMETHING_NEW"), None);
        assert!(error_code::is_order_not_found("ORDERNOTEXIST"));
    }
}
