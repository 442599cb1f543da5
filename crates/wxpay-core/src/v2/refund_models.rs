//! v2 refund messages: refund (`/secapi/pay/refund`, mutual TLS), refundquery and the
//! refund notification with its encrypted `req_info` (protocol.md E.3, E.4).
//!
//! v2 spells refund states differently from v3: `CHANGE` is v3's `ABNORMAL` and
//! `REFUNDCLOSE` is `CLOSED`. They are mapped onto [`RefundStatus`] here so the rest of the
//! toolkit deals with one set.

use super::fields::{
    check_nonce, check_return_code, check_success, Fields, Params, ParamsBuilder, V2ModelError,
};
use super::models::{success_builder, OrderRef};
use super::refund_crypto::{self, RefundCryptoError};
use super::sign::ApiV2Key;
use crate::ids::{AppId, MchId, OutRefundNo, OutTradeNo, RefundId, TransactionId};
use crate::state::RefundStatus;
use crate::v3::models::NotifyUrl;
use crate::values::Amount;

/// The most refunds one refundquery answer lists per page.
pub const MAX_REFUNDS_PER_QUERY: usize = 50;

/// Maps a v2 refund status onto [`RefundStatus`].
pub fn parse_v2_refund_status(s: &str) -> RefundStatus {
    match s {
        "CHANGE" => RefundStatus::Abnormal,
        "REFUNDCLOSE" => RefundStatus::Closed,
        other => RefundStatus::parse(other),
    }
}

/// The v2 spelling of a [`RefundStatus`].
pub fn v2_refund_status_str(status: &RefundStatus) -> &str {
    match status {
        RefundStatus::Abnormal => "CHANGE",
        RefundStatus::Closed => "REFUNDCLOSE",
        other => other.as_str(),
    }
}

/// `POST /secapi/pay/refund` (needs the merchant's client certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// Random string.
    pub nonce_str: String,
    /// Which order.
    pub order: OrderRef,
    /// The merchant's refund number; retries reuse it.
    pub out_refund_no: OutRefundNo,
    /// Order total in fen.
    pub total_fee: Amount,
    /// Amount to refund in fen.
    pub refund_fee: Amount,
    /// Reason shown to the payer (at most 80 bytes).
    pub refund_desc: Option<String>,
    /// `REFUND_SOURCE_RECHARGE_FUNDS` to refund from the recharge balance.
    pub refund_account: Option<String>,
    /// Overrides the refund notify URL.
    pub notify_url: Option<NotifyUrl>,
}

impl RefundRequest {
    /// Checks amounts and limits.
    pub fn validate(&self) -> Result<(), V2ModelError> {
        check_nonce(&self.nonce_str)?;
        if self.refund_fee > self.total_fee {
            return Err(V2ModelError::invalid(
                "refund_fee",
                "must not exceed total_fee",
            ));
        }
        if matches!(&self.refund_desc, Some(d) if d.len() > 80) {
            return Err(V2ModelError::invalid(
                "refund_desc",
                "must be at most 80 bytes",
            ));
        }
        Ok(())
    }

    /// The unsigned parameters, after [`Self::validate`].
    pub fn to_params(&self) -> Result<Params, V2ModelError> {
        self.validate()?;
        let b = ParamsBuilder::default()
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("nonce_str", &self.nonce_str);
        Ok(self
            .order
            .write(b)
            .set("out_refund_no", &self.out_refund_no)
            .set("total_fee", self.total_fee.fen())
            .set("refund_fee", self.refund_fee.fen())
            .set("refund_fee_type", "CNY")
            .opt("refund_desc", self.refund_desc.as_ref())
            .opt("refund_account", self.refund_account.as_ref())
            .opt("notify_url", self.notify_url.as_ref())
            .build())
    }

    /// Reads a received request (simulator side) and applies [`Self::validate`].
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        Self::from_params_over_private_line(params, &[] as &[&str])
    }

    /// Like [`Self::from_params`], accepting a plain-`http://` `notify_url` to one of
    /// `private_hosts` ([`NotifyUrl::new_over_private_line`]).
    pub fn from_params_over_private_line<S: AsRef<str>>(
        params: &Params,
        private_hosts: &[S],
    ) -> Result<Self, V2ModelError> {
        let f = Fields(params);
        let fen = |name: &'static str| {
            f.req_typed(name, |s| {
                s.parse::<i64>()
                    .map_err(|e| e.to_string())
                    .and_then(|n| Amount::from_fen(n).map_err(|e| e.to_string()))
            })
        };
        let request = Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            nonce_str: f.req("nonce_str")?.to_owned(),
            order: OrderRef::read(&f)?,
            out_refund_no: f.req_typed("out_refund_no", OutRefundNo::new)?,
            total_fee: fen("total_fee")?,
            refund_fee: fen("refund_fee")?,
            refund_desc: f.opt_string("refund_desc"),
            refund_account: f.opt_string("refund_account"),
            notify_url: f.opt_typed("notify_url", |url| {
                NotifyUrl::new_over_private_line(url, private_hosts)
            })?,
        };
        request.validate()?;
        Ok(request)
    }
}

/// A successful refund answer: the refund was accepted, not necessarily done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundResponse {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// WeChat's order number.
    pub transaction_id: TransactionId,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// The merchant's refund number.
    pub out_refund_no: OutRefundNo,
    /// WeChat's refund number.
    pub refund_id: RefundId,
    /// Refunded amount in fen.
    pub refund_fee: u64,
    /// Order total in fen.
    pub total_fee: u64,
    /// Cash paid in fen.
    pub cash_fee: Option<u64>,
}

impl RefundResponse {
    /// Reads a verified answer.
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        check_success(params)?;
        let f = Fields(params);
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            transaction_id: f.req_typed("transaction_id", TransactionId::new)?,
            out_trade_no: f.req_typed("out_trade_no", OutTradeNo::new)?,
            out_refund_no: f.req_typed("out_refund_no", OutRefundNo::new)?,
            refund_id: f.req_typed("refund_id", RefundId::new)?,
            refund_fee: f.req_u64("refund_fee")?,
            total_fee: f.req_u64("total_fee")?,
            cash_fee: f.opt_u64("cash_fee")?,
        })
    }

    /// The unsigned success answer (simulator side).
    pub fn to_params(&self, nonce_str: &str) -> Params {
        success_builder(nonce_str)
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("transaction_id", &self.transaction_id)
            .set("out_trade_no", &self.out_trade_no)
            .set("out_refund_no", &self.out_refund_no)
            .set("refund_id", &self.refund_id)
            .set("refund_fee", self.refund_fee)
            .set("total_fee", self.total_fee)
            .opt("cash_fee", self.cash_fee)
            .build()
    }
}

/// What a refundquery names; the most specific id wins on WeChat's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundQueryBy {
    /// `refund_id`.
    RefundId(RefundId),
    /// `out_refund_no`.
    OutRefundNo(OutRefundNo),
    /// `transaction_id`: all refunds of the order.
    TransactionId(TransactionId),
    /// `out_trade_no`: all refunds of the order.
    OutTradeNo(OutTradeNo),
}

/// `POST /pay/refundquery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryRequest {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// Random string.
    pub nonce_str: String,
    /// Which refund(s).
    pub by: RefundQueryBy,
}

impl RefundQueryRequest {
    /// The unsigned parameters.
    pub fn to_params(&self) -> Result<Params, V2ModelError> {
        check_nonce(&self.nonce_str)?;
        let b = ParamsBuilder::default()
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("nonce_str", &self.nonce_str);
        let b = match &self.by {
            RefundQueryBy::RefundId(v) => b.set("refund_id", v),
            RefundQueryBy::OutRefundNo(v) => b.set("out_refund_no", v),
            RefundQueryBy::TransactionId(v) => b.set("transaction_id", v),
            RefundQueryBy::OutTradeNo(v) => b.set("out_trade_no", v),
        };
        Ok(b.build())
    }

    /// Reads a received request (simulator side).
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        let f = Fields(params);
        let by = if let Some(v) = f.opt_typed("refund_id", RefundId::new)? {
            RefundQueryBy::RefundId(v)
        } else if let Some(v) = f.opt_typed("out_refund_no", OutRefundNo::new)? {
            RefundQueryBy::OutRefundNo(v)
        } else if let Some(v) = f.opt_typed("transaction_id", TransactionId::new)? {
            RefundQueryBy::TransactionId(v)
        } else if let Some(v) = f.opt_typed("out_trade_no", OutTradeNo::new)? {
            RefundQueryBy::OutTradeNo(v)
        } else {
            return Err(V2ModelError::Missing("out_refund_no"));
        };
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            nonce_str: f.req("nonce_str")?.to_owned(),
            by,
        })
    }
}

/// One refund of a refundquery answer (the `_$n` fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryItem {
    /// `out_refund_no_$n`.
    pub out_refund_no: OutRefundNo,
    /// `refund_id_$n`.
    pub refund_id: RefundId,
    /// `refund_fee_$n`, in fen.
    pub refund_fee: u64,
    /// `refund_status_$n`, mapped from the v2 spelling.
    pub refund_status: RefundStatus,
    /// `refund_success_time_$n` (`yyyy-MM-dd HH:mm:ss`,
    /// [`format_v2_datetime`](crate::v2::time::format_v2_datetime)).
    pub refund_success_time: Option<String>,
    /// `refund_recv_accout_$n` (WeChat's spelling).
    pub refund_recv_accout: Option<String>,
}

/// A successful refundquery answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryResponse {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// WeChat's order number.
    pub transaction_id: TransactionId,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// Order total in fen.
    pub total_fee: u64,
    /// Cash paid in fen.
    pub cash_fee: Option<u64>,
    /// The refunds, in `_0`, `_1`, … order. The answer's `refund_fee` (退款总金额) is
    /// their sum and is written, not stored.
    pub refunds: Vec<RefundQueryItem>,
}

fn indexed(name: &str, i: usize) -> String {
    format!("{name}_{i}")
}

impl RefundQueryResponse {
    /// Reads a verified answer, including every `_$n` refund up to `refund_count`.
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        check_success(params)?;
        let f = Fields(params);
        let count = f.req_typed("refund_count", str::parse::<usize>)?;
        if count > MAX_REFUNDS_PER_QUERY {
            return Err(V2ModelError::invalid(
                "refund_count",
                format!("more than {MAX_REFUNDS_PER_QUERY}"),
            ));
        }
        let mut refunds = Vec::with_capacity(count);
        for i in 0..count {
            let get = |name: &str| {
                params
                    .get(&indexed(name, i))
                    .map(String::as_str)
                    .filter(|v| !v.is_empty())
            };
            let missing = || V2ModelError::Missing("refund_$n");
            let out_refund_no = OutRefundNo::new(get("out_refund_no").ok_or_else(missing)?)
                .map_err(|e| V2ModelError::invalid("out_refund_no_$n", e))?;
            let refund_id = RefundId::new(get("refund_id").ok_or_else(missing)?)
                .map_err(|e| V2ModelError::invalid("refund_id_$n", e))?;
            let refund_fee = get("refund_fee")
                .ok_or_else(missing)?
                .parse::<u64>()
                .map_err(|e| V2ModelError::invalid("refund_fee_$n", e))?;
            refunds.push(RefundQueryItem {
                out_refund_no,
                refund_id,
                refund_fee,
                refund_status: parse_v2_refund_status(get("refund_status").ok_or_else(missing)?),
                refund_success_time: get("refund_success_time").map(str::to_owned),
                refund_recv_accout: get("refund_recv_accout").map(str::to_owned),
            });
        }
        Ok(Self {
            appid: f.req_typed("appid", AppId::new)?,
            mch_id: f.req_typed("mch_id", MchId::new)?,
            transaction_id: f.req_typed("transaction_id", TransactionId::new)?,
            out_trade_no: f.req_typed("out_trade_no", OutTradeNo::new)?,
            total_fee: f.req_u64("total_fee")?,
            cash_fee: f.opt_u64("cash_fee")?,
            refunds,
        })
    }

    /// The unsigned success answer (simulator side).
    pub fn to_params(&self, nonce_str: &str) -> Params {
        let mut b = success_builder(nonce_str)
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("transaction_id", &self.transaction_id)
            .set("out_trade_no", &self.out_trade_no)
            .set("total_fee", self.total_fee)
            .opt("cash_fee", self.cash_fee)
            .set(
                "refund_fee",
                self.refunds.iter().map(|r| r.refund_fee).sum::<u64>(),
            )
            .set("refund_count", self.refunds.len());
        for (i, r) in self.refunds.iter().enumerate() {
            b = b
                .set(&indexed("out_refund_no", i), &r.out_refund_no)
                .set(&indexed("refund_id", i), &r.refund_id)
                .set(&indexed("refund_fee", i), r.refund_fee)
                .set(
                    &indexed("refund_status", i),
                    v2_refund_status_str(&r.refund_status),
                )
                .opt(
                    &indexed("refund_success_time", i),
                    r.refund_success_time.as_ref(),
                )
                .opt(
                    &indexed("refund_recv_accout", i),
                    r.refund_recv_accout.as_ref(),
                );
        }
        b.build()
    }
}

/// The decrypted `req_info` of a refund notification.
///
/// The notification is not signed, so treat this as a prompt to query the refund, not as
/// proof (see [`refund_crypto`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundNotificationInfo {
    /// WeChat's order number.
    pub transaction_id: TransactionId,
    /// The merchant's order number.
    pub out_trade_no: OutTradeNo,
    /// WeChat's refund number.
    pub refund_id: RefundId,
    /// The merchant's refund number.
    pub out_refund_no: OutRefundNo,
    /// Order total in fen.
    pub total_fee: u64,
    /// Refunded amount in fen.
    pub refund_fee: u64,
    /// What the payer gets back, in fen.
    pub settlement_refund_fee: Option<u64>,
    /// `SUCCESS`, `CHANGE` (→ `Abnormal`) or `REFUNDCLOSE` (→ `Closed`).
    pub refund_status: RefundStatus,
    /// `yyyy-MM-dd HH:mm:ss` ([`format_v2_datetime`](crate::v2::time::format_v2_datetime)).
    pub success_time: Option<String>,
    /// Where the money went (WeChat's spelling).
    pub refund_recv_accout: Option<String>,
    /// Which funds paid it: `REFUND_SOURCE_RECHARGE_FUNDS` or
    /// `REFUND_SOURCE_UNSETTLED_FUNDS`.
    pub refund_account: Option<String>,
    /// Where the refund was asked for: `API`, `VENDOR_PLATFORM`.
    pub refund_request_source: Option<String>,
}

impl RefundNotificationInfo {
    /// Reads the decrypted `<root>` fields.
    pub fn from_params(params: &Params) -> Result<Self, V2ModelError> {
        let f = Fields(params);
        Ok(Self {
            transaction_id: f.req_typed("transaction_id", TransactionId::new)?,
            out_trade_no: f.req_typed("out_trade_no", OutTradeNo::new)?,
            refund_id: f.req_typed("refund_id", RefundId::new)?,
            out_refund_no: f.req_typed("out_refund_no", OutRefundNo::new)?,
            total_fee: f.req_u64("total_fee")?,
            refund_fee: f.req_u64("refund_fee")?,
            settlement_refund_fee: f.opt_u64("settlement_refund_fee")?,
            refund_status: parse_v2_refund_status(f.req("refund_status")?),
            success_time: f.opt_string("success_time"),
            refund_recv_accout: f.opt_string("refund_recv_accout"),
            refund_account: f.opt_string("refund_account"),
            refund_request_source: f.opt_string("refund_request_source"),
        })
    }

    /// The `<root>` fields (simulator side; encrypt with [`refund_crypto::encrypt_fields`]).
    pub fn to_params(&self) -> Params {
        ParamsBuilder::default()
            .set("transaction_id", &self.transaction_id)
            .set("out_trade_no", &self.out_trade_no)
            .set("refund_id", &self.refund_id)
            .set("out_refund_no", &self.out_refund_no)
            .set("total_fee", self.total_fee)
            .set("refund_fee", self.refund_fee)
            .opt("settlement_refund_fee", self.settlement_refund_fee)
            .set("refund_status", v2_refund_status_str(&self.refund_status))
            .opt("success_time", self.success_time.as_ref())
            .opt("refund_recv_accout", self.refund_recv_accout.as_ref())
            .opt("refund_account", self.refund_account.as_ref())
            .opt("refund_request_source", self.refund_request_source.as_ref())
            .build()
    }
}

/// Why a refund notification could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RefundNotificationError {
    /// The outer message failed (`return_code` not `SUCCESS`) or lacks fields.
    #[error(transparent)]
    Model(#[from] V2ModelError),
    /// `req_info` did not decrypt.
    #[error(transparent)]
    Crypto(#[from] RefundCryptoError),
}

/// The refund notification: `return_code`, `appid`, `mch_id`, `nonce_str` and `req_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundNotification {
    /// The appid.
    pub appid: AppId,
    /// The merchant.
    pub mch_id: MchId,
    /// The decrypted details.
    pub info: RefundNotificationInfo,
}

impl RefundNotification {
    /// Checks `return_code`, decrypts `req_info` with the APIv2 key and reads it.
    pub fn decrypt(params: &Params, key: &ApiV2Key) -> Result<Self, RefundNotificationError> {
        check_return_code(params)?;
        let f = Fields(params);
        let appid = f.req_typed("appid", AppId::new)?;
        let mch_id = f.req_typed("mch_id", MchId::new)?;
        let inner = refund_crypto::decrypt_fields(f.req("req_info")?, key)?;
        Ok(Self {
            appid,
            mch_id,
            info: RefundNotificationInfo::from_params(&inner)?,
        })
    }

    /// The outer parameters with `req_info` encrypted (simulator side). Not signed: v2
    /// refund notifications carry no `sign`.
    pub fn to_params(
        &self,
        nonce_str: &str,
        key: &ApiV2Key,
    ) -> Result<Params, crate::v2::xml::XmlError> {
        let req_info = refund_crypto::encrypt_fields(&self.info.to_params(), key)?;
        Ok(ParamsBuilder::default()
            .set("return_code", "SUCCESS")
            .set("appid", &self.appid)
            .set("mch_id", &self.mch_id)
            .set("nonce_str", nonce_str)
            .set("req_info", req_info)
            .build())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn key() -> ApiV2Key {
        ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").unwrap()
    }

    fn ids() -> (AppId, MchId) {
        (
            AppId::new("wx2421b1c4370ec43b").unwrap(),
            MchId::new("10000100").unwrap(),
        )
    }

    #[test]
    fn status_spellings() {
        assert_eq!(parse_v2_refund_status("CHANGE"), RefundStatus::Abnormal);
        assert_eq!(parse_v2_refund_status("REFUNDCLOSE"), RefundStatus::Closed);
        assert_eq!(parse_v2_refund_status("SUCCESS"), RefundStatus::Success);
        assert_eq!(
            parse_v2_refund_status("PROCESSING"),
            RefundStatus::Processing
        );
        assert_eq!(v2_refund_status_str(&RefundStatus::Abnormal), "CHANGE");
        assert_eq!(v2_refund_status_str(&RefundStatus::Closed), "REFUNDCLOSE");
    }

    #[test]
    fn refund_request_round_trip_and_rules() {
        let (appid, mch_id) = ids();
        let r = RefundRequest {
            appid,
            mch_id,
            nonce_str: "6cefdb308e1e2e8aabd48cf79e546a02".into(),
            order: OrderRef::TransactionId(
                TransactionId::new("1217752501201407033233368018").unwrap(),
            ),
            out_refund_no: OutRefundNo::new("1217752501201407033233368018").unwrap(),
            total_fee: Amount::from_fen(100).unwrap(),
            refund_fee: Amount::from_fen(100).unwrap(),
            refund_desc: Some("商品已售完".into()),
            refund_account: None,
            notify_url: None,
        };
        let p = r.to_params().unwrap();
        assert_eq!(p["refund_fee_type"], "CNY");
        assert_eq!(RefundRequest::from_params(&p).unwrap(), r);
        let mut too_much = r.clone();
        too_much.refund_fee = Amount::from_fen(101).unwrap();
        assert!(matches!(
            too_much.validate(),
            Err(V2ModelError::Invalid {
                field: "refund_fee",
                ..
            })
        ));
    }

    #[test]
    fn refund_query_items_round_trip() {
        let (appid, mch_id) = ids();
        let q = RefundQueryRequest {
            appid: appid.clone(),
            mch_id: mch_id.clone(),
            nonce_str: "n1".into(),
            by: RefundQueryBy::OutRefundNo(OutRefundNo::new("R1").unwrap()),
        };
        assert_eq!(
            RefundQueryRequest::from_params(&q.to_params().unwrap()).unwrap(),
            q
        );
        let answer = RefundQueryResponse {
            appid,
            mch_id,
            transaction_id: TransactionId::new("4200000001").unwrap(),
            out_trade_no: OutTradeNo::new("T000001").unwrap(),
            total_fee: 100,
            cash_fee: Some(100),
            refunds: vec![
                RefundQueryItem {
                    out_refund_no: OutRefundNo::new("R1").unwrap(),
                    refund_id: RefundId::new("50000001").unwrap(),
                    refund_fee: 30,
                    refund_status: RefundStatus::Success,
                    refund_success_time: Some("2025-01-01 08:00:00".into()),
                    refund_recv_accout: Some("支付用户的零钱".into()),
                },
                RefundQueryItem {
                    out_refund_no: OutRefundNo::new("R2").unwrap(),
                    refund_id: RefundId::new("50000002").unwrap(),
                    refund_fee: 20,
                    refund_status: RefundStatus::Abnormal,
                    refund_success_time: None,
                    refund_recv_accout: None,
                },
            ],
        };
        let p = answer.to_params("n2");
        assert_eq!(p["refund_status_1"], "CHANGE");
        assert_eq!(p["refund_count"], "2");
        assert_eq!(p["refund_fee"], "50", "the sum of the refunds listed");
        assert_eq!(RefundQueryResponse::from_params(&p).unwrap(), answer);
        let mut broken = p.clone();
        broken.remove("refund_id_1");
        assert_eq!(
            RefundQueryResponse::from_params(&broken),
            Err(V2ModelError::Missing("refund_$n"))
        );
    }

    #[test]
    fn refund_notification_encrypt_then_decrypt() {
        let (appid, mch_id) = ids();
        let n = RefundNotification {
            appid,
            mch_id,
            info: RefundNotificationInfo {
                transaction_id: TransactionId::new("4200000001").unwrap(),
                out_trade_no: OutTradeNo::new("T000001").unwrap(),
                refund_id: RefundId::new("50000001").unwrap(),
                out_refund_no: OutRefundNo::new("R1").unwrap(),
                total_fee: 100,
                refund_fee: 30,
                settlement_refund_fee: Some(30),
                refund_status: RefundStatus::Closed,
                success_time: None,
                refund_recv_accout: None,
                refund_account: Some("REFUND_SOURCE_RECHARGE_FUNDS".into()),
                refund_request_source: Some("API".into()),
            },
        };
        let p = n.to_params("n3", &key()).unwrap();
        assert!(!p.contains_key("sign"));
        assert_eq!(RefundNotification::decrypt(&p, &key()).unwrap(), n);
        let other = ApiV2Key::new("1".repeat(32)).unwrap();
        assert!(RefundNotification::decrypt(&p, &other).is_err());
    }
}
