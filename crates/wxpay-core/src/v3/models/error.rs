//! The v3 error body and the error codes the toolkit reacts to (protocol.md A.1, A.12).

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

    /// The HTTP status WeChat pairs with `code`, for the simulator. Statuses marked
    /// UNCONFIRMED in A.12 follow the analogy given there (ORDERPAID 403, refund codes).
    pub fn http_status(code: &str) -> Option<u16> {
        Some(match code {
            USERPAYING => 202,
            PARAM_ERROR
            | INVALID_REQUEST
            | APPID_MCHID_NOT_MATCH
            | MCH_NOT_EXISTS
            | ORDER_CLOSED => 400,
            SIGN_ERROR => 401,
            NO_AUTH
            | NOT_ENOUGH
            | OUT_TRADE_NO_USED
            | ORDERPAID
            | ACCOUNT_ERROR
            | RULE_LIMIT
            | TRADE_ERROR
            | USER_ACCOUNT_ABNORMAL => 403,
            ORDER_NOT_EXIST | ORDERNOTEXIST | RESOURCE_NOT_EXISTS => 404,
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

    /// The 400 `PARAM_ERROR` answer for a field that failed validation; `detail` names the
    /// field and says it came from the body.
    pub fn param_error(err: &FieldError) -> Self {
        Self::new(error_code::PARAM_ERROR, err.to_string())
            .with_detail(json!({"field": err.field, "location": "body", "issue": err.issue}))
    }

    /// True when `code` equals `expected`.
    pub fn is(&self, expected: &str) -> bool {
        self.code == expected
    }
}

/// One field of a request body that failed validation, named by its dotted path
/// (`amount.total`, `scene_info.h5_info.type`, `detail.goods_detail[0].quantity`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    /// The dotted path of the field; `body` for the whole body.
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
        write!(f, "{}: {}", self.field, self.issue)
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
    fn param_error_names_the_field() {
        let e = ErrorBody::param_error(&FieldError::new("amount.total", "must be an integer"));
        assert_eq!(e.code, "PARAM_ERROR");
        assert!(e.message.contains("amount.total"));
        assert_eq!(e.detail.unwrap()["field"], "amount.total");
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
        assert_eq!(error_code::http_status("SOMETHING_NEW"), None);
        assert!(error_code::is_order_not_found("ORDERNOTEXIST"));
    }
}
