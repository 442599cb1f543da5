//! Refunds (申请退款 / 查询单笔退款 / 退款结果通知, protocol.md A.6 and A.9).
//!
//! Note the one naming trap: the refund APIs call the state `status`, the refund
//! notification calls it `refund_status`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::json_fields::Obj;
use super::{FieldError, NotifyUrl, CNY};
use crate::ids::{MchId, OutRefundNo, OutTradeNo, RefundId, TransactionId};
use crate::state::RefundStatus;
use crate::values::{Amount, ValueError};

/// `reason`: at most 80 UTF-8 bytes, no control characters. Not shown to the payer for
/// partial refunds of 1 yuan or less.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RefundReason(String);

impl RefundReason {
    /// The limit in UTF-8 bytes.
    pub const MAX_BYTES: usize = 80;

    /// Checks the limit.
    pub fn new(value: impl Into<String>) -> Result<Self, ValueError> {
        let value = value.into();
        if value.len() > Self::MAX_BYTES {
            return Err(ValueError::TooLong {
                field: "reason",
                len: value.len(),
                max: Self::MAX_BYTES,
            });
        }
        if let Some((at, _)) = value.char_indices().find(|(_, c)| c.is_control()) {
            return Err(ValueError::Control {
                field: "reason",
                at,
            });
        }
        Ok(Self(value))
    }

    /// The text as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefundReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefundReason({:?})", self.0)
    }
}

impl Serialize for RefundReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RefundReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// One entry of `amount.from`: which account funds part of the refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundsFrom {
    /// `AVAILABLE` or `UNAVAILABLE`.
    pub account: String,
    /// Amount in fen.
    pub amount: u64,
}

/// `amount` of a refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmountRequest {
    /// How much to refund, in fen.
    pub refund: Amount,
    /// Funding accounts (rarely used).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<FundsFrom>,
    /// The original order total, in fen.
    pub total: Amount,
    /// `CNY` (required here, unlike in prepay).
    pub currency: String,
}

/// One line of `goods_detail` in a refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundGoodsDetail {
    /// The merchant's goods id.
    pub merchant_goods_id: String,
    /// WeChat's goods id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechatpay_goods_id: Option<String>,
    /// Goods name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_name: Option<String>,
    /// Unit price in fen.
    pub unit_price: u64,
    /// Amount refunded for this line, in fen.
    pub refund_amount: u64,
    /// Quantity refunded.
    pub refund_quantity: u32,
}

/// Body of `POST /v3/refund/domestic/refunds`. Exactly one of `transaction_id` and
/// `out_trade_no` names the order; retries must reuse `out_refund_no`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    /// WeChat's order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<TransactionId>,
    /// The merchant's order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<OutTradeNo>,
    /// The merchant's refund number: the idempotency key.
    pub out_refund_no: OutRefundNo,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RefundReason>,
    /// Overrides the refund notify URL set in the portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<NotifyUrl>,
    /// `AVAILABLE` to refund from the available balance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funds_account: Option<String>,
    /// Amounts.
    pub amount: RefundAmountRequest,
    /// Goods lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_detail: Option<Vec<RefundGoodsDetail>>,
}

impl RefundRequest {
    fn with_order(
        transaction_id: Option<TransactionId>,
        out_trade_no: Option<OutTradeNo>,
        out_refund_no: OutRefundNo,
        refund: Amount,
        total: Amount,
    ) -> Self {
        Self {
            transaction_id,
            out_trade_no,
            out_refund_no,
            reason: None,
            notify_url: None,
            funds_account: None,
            amount: RefundAmountRequest {
                refund,
                from: Vec::new(),
                total,
                currency: CNY.to_owned(),
            },
            goods_detail: None,
        }
    }

    /// Refunds `refund` fen of the order `out_trade_no` whose total was `total` fen.
    pub fn by_out_trade_no(
        out_trade_no: OutTradeNo,
        out_refund_no: OutRefundNo,
        refund: Amount,
        total: Amount,
    ) -> Self {
        Self::with_order(None, Some(out_trade_no), out_refund_no, refund, total)
    }

    /// Refunds by WeChat's order number.
    pub fn by_transaction_id(
        transaction_id: TransactionId,
        out_refund_no: OutRefundNo,
        refund: Amount,
        total: Amount,
    ) -> Self {
        Self::with_order(Some(transaction_id), None, out_refund_no, refund, total)
    }

    /// Sets `reason`.
    pub fn with_reason(mut self, reason: RefundReason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Sets `notify_url`.
    pub fn with_notify_url(mut self, notify_url: NotifyUrl) -> Self {
        self.notify_url = Some(notify_url);
        self
    }

    /// Checks the rules the types cannot express.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.transaction_id.is_none() && self.out_trade_no.is_none() {
            return Err(FieldError::new(
                "/out_trade_no",
                "transaction_id or out_trade_no is required",
            ));
        }
        if self.amount.refund > self.amount.total {
            return Err(FieldError::new(
                "/amount/refund",
                "must not exceed amount.total",
            ));
        }
        if self.amount.currency != CNY {
            return Err(FieldError::new("/amount/currency", "must be CNY"));
        }
        Ok(())
    }

    /// Parses a raw refund body, naming the first bad field by its JSON Pointer (for the
    /// simulator).
    pub fn from_json(body: &Value) -> Result<Self, FieldError> {
        Self::from_json_over_private_line(body, &[] as &[&str])
    }

    /// Like [`Self::from_json`], accepting a plain-`http://` `notify_url` to one of
    /// `private_hosts` ([`NotifyUrl::new_over_private_line`]).
    pub fn from_json_over_private_line<S: AsRef<str>>(
        body: &Value,
        private_hosts: &[S],
    ) -> Result<Self, FieldError> {
        let root = Obj::root(body)?;
        let transaction_id = root.opt_typed("transaction_id", TransactionId::new)?;
        let out_trade_no = root.opt_typed("out_trade_no", OutTradeNo::new)?;
        if transaction_id.is_none() && out_trade_no.is_none() {
            return Err(FieldError::new(
                "/out_trade_no",
                "transaction_id or out_trade_no is required",
            ));
        }
        let out_refund_no = root.req_typed("out_refund_no", OutRefundNo::new)?;
        let reason = root.opt_typed("reason", RefundReason::new)?;
        let notify_url = root.opt_typed("notify_url", |url| {
            NotifyUrl::new_over_private_line(url, private_hosts)
        })?;
        let funds_account = root.opt_str("funds_account")?;
        if matches!(funds_account, Some(a) if a != "AVAILABLE") {
            return Err(FieldError::new("/funds_account", "must be AVAILABLE"));
        }
        let amount = root.req_obj("amount")?;
        let fen = |name: &str| -> Result<Amount, FieldError> {
            let n = amount.req_int(name)?;
            Amount::from_fen(n).map_err(|e| FieldError::new(amount.path(name), e.to_string()))
        };
        let refund = fen("refund")?;
        let total = fen("total")?;
        if refund > total {
            return Err(FieldError::new(
                amount.path("refund"),
                "must not exceed amount.total",
            ));
        }
        let currency = amount.req_str("currency")?;
        if currency != CNY {
            return Err(FieldError::new(amount.path("currency"), "must be CNY"));
        }
        for from in amount.opt_obj_array("from")? {
            from.req_str("account")?;
            if from.req_int("amount")? < 0 {
                return Err(FieldError::new(from.path("amount"), "must not be negative"));
            }
        }
        for line in root.opt_obj_array("goods_detail")? {
            line.req_str("merchant_goods_id")?;
            for name in ["unit_price", "refund_amount", "refund_quantity"] {
                if line.req_int(name)? < 0 {
                    return Err(FieldError::new(line.path(name), "must not be negative"));
                }
            }
        }
        Ok(Self {
            transaction_id,
            out_trade_no,
            out_refund_no,
            reason,
            notify_url,
            funds_account: funds_account.map(str::to_owned),
            amount: RefundAmountRequest {
                refund,
                from: amount.opt_build("from")?.unwrap_or_default(),
                total,
                currency: currency.to_owned(),
            },
            goods_detail: root.opt_build("goods_detail")?,
        })
    }
}

/// `amount` of a refund answer, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    /// The original order total.
    pub total: u64,
    /// The refunded amount.
    pub refund: u64,
    /// Funding accounts, raw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<Value>,
    /// What the payer paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<u64>,
    /// What the payer gets back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_refund: Option<u64>,
    /// Settlement refund amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_refund: Option<u64>,
    /// Settlement total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_total: Option<u64>,
    /// Discount refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_refund: Option<u64>,
    /// `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The refund as the refund API and the refund query return it (`status`, not
/// `refund_status`). A 200 only means accepted: `status` is usually `PROCESSING`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// WeChat's refund number.
    pub refund_id: RefundId,
    /// The merchant's refund number.
    pub out_refund_no: OutRefundNo,
    /// WeChat's order number.
    pub transaction_id: TransactionId,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// `ORIGINAL`, `BALANCE`, `OTHER_BALANCE` or `OTHER_BANKCARD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Where the money goes, e.g. `支付用户零钱`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// RFC 3339, once successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// The refund state.
    pub status: RefundStatus,
    /// `UNSETTLED`, `AVAILABLE`, `UNAVAILABLE`, `OPERATION` or `BASIC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funds_account: Option<String>,
    /// Amounts.
    pub amount: RefundAmount,
    /// Coupons, raw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotion_detail: Vec<Value>,
}

/// `amount` of a refund notification, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNotificationAmount {
    /// The original order total.
    pub total: u64,
    /// The refunded amount.
    pub refund: u64,
    /// What the payer paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<u64>,
    /// What the payer gets back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_refund: Option<u64>,
}

/// The decrypted `resource` of a `REFUND.SUCCESS` / `REFUND.ABNORMAL` / `REFUND.CLOSED`
/// notification (`original_type` = `refund`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNotificationPayload {
    /// The merchant.
    pub mchid: MchId,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// WeChat's order number.
    pub transaction_id: TransactionId,
    /// The merchant's refund number.
    pub out_refund_no: OutRefundNo,
    /// WeChat's refund number.
    pub refund_id: RefundId,
    /// The refund state, under this name only in notifications.
    pub refund_status: RefundStatus,
    /// RFC 3339, for successful refunds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// Where the money went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// Amounts.
    pub amount: RefundNotificationAmount,
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const ORACLE_REFUND_BODY: &str = r#"{"out_trade_no":"T20250101000001","out_refund_no":"R20250101000001","reason":"商品已售完","amount":{"refund":50,"total":100,"currency":"CNY"}}"#;

    fn oracle() -> RefundRequest {
        RefundRequest::by_out_trade_no(
            OutTradeNo::new("T20250101000001").unwrap(),
            OutRefundNo::new("R20250101000001").unwrap(),
            Amount::from_fen(50).unwrap(),
            Amount::from_fen(100).unwrap(),
        )
        .with_reason(RefundReason::new("商品已售完").unwrap())
    }

    #[test]
    fn refund_body_matches_the_signed_vector_body() {
        assert_eq!(
            serde_json::to_string(&oracle()).unwrap(),
            ORACLE_REFUND_BODY
        );
        let v: Value = serde_json::from_str(ORACLE_REFUND_BODY).unwrap();
        assert_eq!(RefundRequest::from_json(&v).unwrap(), oracle());
        assert!(oracle().validate().is_ok());
    }

    fn field_of_value(v: &Value) -> String {
        RefundRequest::from_json(v).unwrap_err().field
    }

    fn field_of(edit: impl FnOnce(&mut Value)) -> String {
        let mut v: Value = serde_json::from_str(ORACLE_REFUND_BODY).unwrap();
        edit(&mut v);
        RefundRequest::from_json(&v).unwrap_err().field
    }

    #[test]
    fn from_json_names_the_bad_field() {
        assert_eq!(
            field_of(|v| v["amount"]["refund"] = 101.into()),
            "/amount/refund"
        );
        assert_eq!(
            field_of(|v| v["amount"]["total"] = "100".into()),
            "/amount/total"
        );
        assert_eq!(
            field_of(|v| v["amount"].as_object_mut().unwrap().clear()),
            "/amount/refund"
        );
        assert_eq!(
            field_of(|v| v["amount"]["currency"] = "USD".into()),
            "/amount/currency"
        );
        assert_eq!(
            field_of(|v| v
                .as_object_mut()
                .unwrap()
                .remove("out_trade_no")
                .map(drop)
                .unwrap_or(())),
            "/out_trade_no"
        );
        assert_eq!(
            field_of(|v| v["out_refund_no"] = "bad no".into()),
            "/out_refund_no"
        );
        assert_eq!(
            field_of(|v| v["reason"] = "退".repeat(27).into()),
            "/reason"
        );
        assert_eq!(
            field_of(|v| v["funds_account"] = "BASIC".into()),
            "/funds_account"
        );
        assert_eq!(field_of(|v| v["notify_url"] = "nope".into()), "/notify_url");
        let mut private = serde_json::to_value(oracle()).unwrap();
        private["notify_url"] = "http://pay.internal/refund".into();
        assert_eq!(field_of_value(&private), "/notify_url");
        let parsed =
            RefundRequest::from_json_over_private_line(&private, &["pay.internal"]).unwrap();
        assert_eq!(
            parsed.notify_url.map(|u| u.as_str().to_owned()).as_deref(),
            Some("http://pay.internal/refund")
        );
        let mut r = oracle();
        r.amount.refund = Amount::from_fen(101).unwrap();
        assert_eq!(r.validate().unwrap_err().field, "/amount/refund");
    }

    #[test]
    fn refund_answer_and_notification_use_different_state_names() {
        let answer: Refund = serde_json::from_str(
            r#"{"refund_id":"50300801232025010112345678901","out_refund_no":"R20250101000001","transaction_id":"4200002345202501018123456789","out_trade_no":"T20250101000001","channel":"ORIGINAL","user_received_account":"支付用户零钱","create_time":"2025-01-01T07:59:00+08:00","status":"PROCESSING","funds_account":"AVAILABLE","amount":{"total":100,"refund":50,"from":[],"payer_total":100,"payer_refund":50,"settlement_refund":50,"settlement_total":100,"discount_refund":0,"currency":"CNY"},"promotion_detail":[]}"#,
        )
        .unwrap();
        assert_eq!(answer.status, RefundStatus::Processing);
        assert_eq!(answer.amount.refund, 50);
        let note: RefundNotificationPayload = serde_json::from_str(
            r#"{"mchid":"1900000109","out_trade_no":"T20250101000001","transaction_id":"4200002345202501018123456789","out_refund_no":"R20250101000001","refund_id":"50300801232025010112345678901","refund_status":"SUCCESS","success_time":"2025-01-01T07:59:50+08:00","user_received_account":"支付用户零钱","amount":{"total":100,"refund":50,"payer_total":100,"payer_refund":50}}"#,
        )
        .unwrap();
        assert_eq!(note.refund_status, RefundStatus::Success);
        // A refund answer is not a notification payload and vice versa.
        assert!(serde_json::from_value::<Refund>(serde_json::to_value(&note).unwrap()).is_err());
    }
}
