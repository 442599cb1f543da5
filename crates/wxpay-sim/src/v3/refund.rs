//! Domestic refunds (退款): create and query (A.9), with WeChat's business errors.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use wxpay_core::RefundStatus;

use super::validate::Fields;
use super::{serve, ApiError, Reply, V3Request};
use crate::crypto::VerifiedAuth;
use crate::lifecycle::{create_refund, refund_json, RefundRefusal, RefundRequest};
use crate::sim::{lock, Sim};
use crate::state::{order_key, ApiVersion};

fn resource_missing(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "RESOURCE_NOT_EXISTS",
        format!("{what}不存在"),
    )
}

/// `POST /v3/refund/domestic/refunds`.
pub async fn create(State(sim): State<Sim>, request: Request) -> Response {
    serve(sim, "v3.refund", request, create_inner).await
}

fn create_inner(sim: &Sim, req: &V3Request, auth: &VerifiedAuth) -> Result<Reply, ApiError> {
    let body = req.json()?;
    let f = Fields::body(&body);
    let transaction_id = f.opt_string("transaction_id")?;
    let out_trade_no = f.opt_string("out_trade_no")?;
    if transaction_id.is_none() && out_trade_no.is_none() {
        return Err(ApiError::param(
            "/body/out_trade_no",
            "transaction_id or out_trade_no is required",
        ));
    }
    let out_refund_no = f.out_refund_no()?;
    let reason = f.bounded("reason", 80)?.map(str::to_owned);
    let notify_url = f.notify_url("notify_url", false, &sim.config.private_line_notify_hosts)?;
    let funds_account = f.opt_string("funds_account")?;
    if funds_account.is_some_and(|fa| fa != "AVAILABLE") {
        return Err(ApiError::param(
            "/body/funds_account",
            "only AVAILABLE is accepted",
        ));
    }
    let amount = f.object("amount")?;
    let refund = amount.amount("refund")?.fen();
    let total = amount.amount("total")?.fen();
    amount.currency(true)?;
    let request = RefundRequest {
        mchid: auth.mchid.clone(),
        out_trade_no: out_trade_no.map(str::to_owned),
        transaction_id: transaction_id.map(str::to_owned),
        out_refund_no: out_refund_no.into_inner(),
        refund,
        total,
        reason,
        notify_url,
        funds_account: funds_account.map(str::to_owned),
        api: ApiVersion::V3,
    };
    let (refund, created) = create_refund(sim, request).map_err(|r| match r {
        RefundRefusal::OrderNotFound => resource_missing("订单"),
        RefundRefusal::Mismatch => ApiError::invalid(
            "订单号或退款金额与之前请求不一致 (out_refund_no reused with different parameters)",
        ),
        RefundRefusal::TotalMismatch => {
            ApiError::invalid("订单金额不一致 (amount.total differs from the order total)")
        }
        RefundRefusal::Exceeds => {
            ApiError::invalid("申请退款金额超过订单可退金额 (refund exceeds the refundable amount)")
        }
        RefundRefusal::NotEnough => ApiError::new(
            StatusCode::FORBIDDEN,
            "NOT_ENOUGH",
            "基本账户余额不足，请充值后重新发起",
        ),
        RefundRefusal::TooMany => {
            ApiError::new(StatusCode::FORBIDDEN, "RULE_LIMIT", "退款次数超过限制")
        }
    })?;
    if created {
        schedule_auto_success(sim, order_key(&refund.mchid, &refund.out_refund_no));
    }
    Ok(Reply::Json(refund_json(&refund)))
}

/// When configured, a PROCESSING refund succeeds on its own after a (scaled) delay.
pub fn schedule_auto_success(sim: &Sim, key: String) {
    let Some(secs) = sim.config.refund_auto_success_seconds else {
        return;
    };
    let delay = sim.config.scaled(secs as f64);
    let sim = sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let still_processing = lock(&sim.world)
            .refunds
            .get(&key)
            .map(|r| r.status == RefundStatus::Processing)
            .unwrap_or(false);
        if still_processing {
            let _ = crate::lifecycle::finish_refund(&sim, &key, RefundStatus::Success);
        }
    });
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`.
pub async fn query(
    State(sim): State<Sim>,
    Path(out_refund_no): Path<String>,
    request: Request,
) -> Response {
    serve(sim, "v3.refund_query", request, move |sim, _req, auth| {
        let world = lock(&sim.world);
        let refund = world
            .refunds
            .get(&order_key(&auth.mchid, &out_refund_no))
            .ok_or_else(|| resource_missing("退款单"))?;
        Ok(Reply::Json(refund_json(refund)))
    })
    .await
}
