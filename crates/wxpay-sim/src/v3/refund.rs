//! Domestic refunds (退款): create and query (A.9), with WeChat's business errors. The
//! request is read with the core's [`RefundRequest`]; the answer is the core's `Refund`.

use wxpay_core::v3::models::{error_code, RefundRequest};
use wxpay_core::OutRefundNo;

use super::call::{ApiError, Reply, V3Request};
use crate::crypto::VerifiedAuth;
use crate::lifecycle::{create_refund, schedule_auto_success, NewRefund, RefundRefusal};
use crate::sim::{lock, Sim};
use crate::state::{order_key, ApiVersion};
use crate::wire::refund_answer;

fn resource_missing(what: &str) -> ApiError {
    ApiError::new(error_code::RESOURCE_NOT_EXISTS, format!("{what}不存在"))
}

/// `POST /v3/refund/domestic/refunds`.
pub fn create(sim: &Sim, req: &V3Request, auth: &VerifiedAuth) -> Result<Reply, ApiError> {
    let body = req.json()?;
    let request =
        RefundRequest::from_json_over_private_line(&body, &sim.config.private_line_notify_hosts)
            .map_err(|e| ApiError::param(&e, &body))?;
    let new = NewRefund {
        mchid: auth.mchid.clone(),
        out_trade_no: request.out_trade_no.map(|n| n.as_str().to_owned()),
        transaction_id: request.transaction_id.map(|t| t.as_str().to_owned()),
        out_refund_no: request.out_refund_no.as_str().to_owned(),
        refund: request.amount.refund.fen(),
        total: request.amount.total.fen(),
        reason: request.reason.map(|r| r.as_str().to_owned()),
        notify_url: request.notify_url.map(|u| u.as_str().to_owned()),
        funds_account: request.funds_account,
        api: ApiVersion::V3,
    };
    let (refund, created) = create_refund(sim, new).map_err(|r| match r {
        RefundRefusal::OrderNotFound => resource_missing("订单"),
        RefundRefusal::Mismatch => ApiError::new(
            error_code::INVALID_REQUEST,
            "订单号或退款金额与之前请求不一致 (out_refund_no reused with different parameters)",
        ),
        RefundRefusal::TotalMismatch => ApiError::new(
            error_code::INVALID_REQUEST,
            "订单金额不一致 (amount.total differs from the order total)",
        ),
        RefundRefusal::Exceeds => ApiError::new(
            error_code::INVALID_REQUEST,
            "申请退款金额超过订单可退金额 (refund exceeds the refundable amount)",
        ),
        RefundRefusal::NotEnough => {
            ApiError::new(error_code::NOT_ENOUGH, "基本账户余额不足，请充值后重新发起")
        }
        RefundRefusal::TooMany => ApiError::new(error_code::RULE_LIMIT, "退款次数超过限制"),
    })?;
    if created {
        schedule_auto_success(sim, order_key(&refund.mchid, &refund.out_refund_no));
    }
    Reply::json(&refund_answer(&refund).map_err(ApiError::internal)?)
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`.
pub fn query(
    sim: &Sim,
    auth: &VerifiedAuth,
    out_refund_no: &OutRefundNo,
) -> Result<Reply, ApiError> {
    let refund = lock(&sim.world)
        .refunds
        .get(&order_key(&auth.mchid, out_refund_no.as_str()))
        .cloned()
        .ok_or_else(|| resource_missing("退款单"))?;
    Reply::json(&refund_answer(&refund).map_err(ApiError::internal)?)
}
