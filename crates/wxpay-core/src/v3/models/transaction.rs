//! The order as WeChat reports it (query response and decrypted `TRANSACTION.SUCCESS`
//! payload, protocol.md A.6 / A.9) and the close request.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::json_fields::Obj;
use super::{FieldError, TradeType};
use crate::ids::{AppId, MchId, OpenId, OutTradeNo, TransactionId};
use crate::state::TradeState;

/// `payer` of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionPayer {
    /// The payer's openid (absent before payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<OpenId>,
}

/// `amount` of a transaction, in fen. `payer_total` may be below `total` (coupons) or 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionAmount {
    /// The order total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// What the payer actually paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<u64>,
    /// `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The payer's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// `scene_info` of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionSceneInfo {
    /// Merchant device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// An order: the answer to both order queries and the payload of a payment notification.
///
/// Only `appid`, `mchid`, `out_trade_no` and `trade_state` are always present; an unpaid
/// order has no `transaction_id`, `payer`, `success_time` or `bank_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The appid of the order.
    pub appid: AppId,
    /// The merchant.
    pub mchid: MchId,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// WeChat's order number, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<TransactionId>,
    /// `JSAPI`, `NATIVE`, `APP`, `MWEB`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<TradeType>,
    /// The order state.
    pub trade_state: TradeState,
    /// A human description of the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_state_desc: Option<String>,
    /// The payer's bank (`OTHERS`, `CMC`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    /// The merchant's `attach`, echoed back (raw: WeChat may send an empty string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// RFC 3339 time of payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// The payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<TransactionPayer>,
    /// Amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<TransactionAmount>,
    /// Scene.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_info: Option<TransactionSceneInfo>,
    /// Coupons used; kept raw because the schema is large and unused by the toolkit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotion_detail: Vec<Value>,
}

impl Transaction {
    /// The order total in fen, when WeChat reported it.
    pub fn total(&self) -> Option<u64> {
        self.amount.as_ref().and_then(|a| a.total)
    }

    /// The payer's openid, when paid.
    pub fn payer_openid(&self) -> Option<&OpenId> {
        self.payer.as_ref().and_then(|p| p.openid.as_ref())
    }

    /// `success_time` as Unix seconds; `None` when absent or not RFC 3339.
    pub fn success_unix(&self) -> Option<i64> {
        let text = self.success_time.as_deref()?;
        OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .map(OffsetDateTime::unix_timestamp)
    }
}

/// Body of `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close`: `{"mchid":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseRequest {
    /// The merchant.
    pub mchid: MchId,
}

impl CloseRequest {
    /// Parses a raw close body, naming the bad field.
    pub fn from_json(body: &Value) -> Result<Self, FieldError> {
        let mchid = Obj::root(body)?.req_typed("mchid", MchId::new)?;
        Ok(Self { mchid })
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const PAID: &str = r#"{"transaction_id":"4200002345202501018123456789","amount":{"payer_total":100,"total":100,"currency":"CNY","payer_currency":"CNY"},"mchid":"1900000109","trade_state":"SUCCESS","bank_type":"OTHERS","promotion_detail":[],"success_time":"2025-01-01T07:59:55+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"out_trade_no":"T20250101000001","appid":"wxd678efh567hg6787","trade_state_desc":"支付成功","trade_type":"JSAPI","attach":"","scene_info":{"device_id":""}}"#;

    #[test]
    fn paid_notification_payload() {
        let t: Transaction = serde_json::from_str(PAID).unwrap();
        assert_eq!(t.trade_state, TradeState::Success);
        assert_eq!(t.trade_type, Some(TradeType::Jsapi));
        assert_eq!(t.total(), Some(100));
        assert_eq!(
            t.payer_openid().unwrap().as_str(),
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
        );
        assert_eq!(t.success_unix(), Some(1_735_689_595));
        assert_eq!(t.attach.as_deref(), Some(""));
        let again: Transaction = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(again, t);
    }

    #[test]
    fn unpaid_query_answer_is_minimal() {
        let t: Transaction = serde_json::from_str(
            r#"{"appid":"wxd678efh567hg6787","mchid":"1900000109","out_trade_no":"T20250101000001","trade_state":"NOTPAY","trade_state_desc":"订单未支付","amount":{"currency":"CNY","payer_currency":"CNY"},"promotion_detail":[],"unknown_new_field":1}"#,
        )
        .unwrap();
        assert!(t.trade_state.is_pending());
        assert_eq!(t.transaction_id, None);
        assert_eq!(t.total(), None);
        assert_eq!(t.success_unix(), None);
        let json = serde_json::to_value(&t).unwrap();
        assert!(json.get("transaction_id").is_none());
        assert!(json.get("promotion_detail").is_none());
    }

    #[test]
    fn close_body() {
        let c = CloseRequest {
            mchid: MchId::new("1900000109").unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"mchid":"1900000109"}"#
        );
        assert_eq!(
            CloseRequest::from_json(&serde_json::json!({}))
                .unwrap_err()
                .field,
            "/mchid"
        );
        assert_eq!(
            CloseRequest::from_json(&serde_json::json!({"mchid":"abc"}))
                .unwrap_err()
                .field,
            "/mchid"
        );
        assert!(CloseRequest::from_json(&serde_json::json!({"mchid":"1900000109"})).is_ok());
    }
}
