//! The ledger's rules, once for every engine: which order and refund transitions are
//! allowed, what a repeated fact is, the amount checks, the refund reservation and the
//! attention flag. Pure functions over the rows an engine has read (and locked); the
//! engine then writes what they decide. Keeping them here is what lets SQLite and
//! PostgreSQL behave the same without repeating the rules in each.

use wxpay_core::{RefundStatus, TradeState};

use super::{
    ApplyOutcome, NewRefund, Order, PaymentFact, Refund, RefundFact, RefundRefusal, Rejection,
};

/// What a rule decided: either the outcome is settled with nothing to write, or there is a
/// change for the engine to write (with its audit row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decision<C> {
    /// Nothing to write: a duplicate (`Unchanged`) or a refusal (`Rejected`).
    Settled(ApplyOutcome),
    /// A change to write.
    Change(C),
}

/// An order transition to write: the new state, `paid_at` and `attention` when they are
/// set by it (kept when already set), and the audit row's cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PaymentChange {
    /// Current state (the audit row's `from_state`).
    pub from: TradeState,
    /// New state.
    pub to: TradeState,
    /// When the payment was confirmed, for a paid state.
    pub paid_at: Option<i64>,
    /// The flag raised ([`paid_after`]).
    pub attention: Option<String>,
    /// The audit row's cause.
    pub cause: String,
    /// The order's version as read: the update is guarded by it.
    pub version: i64,
}

impl PaymentChange {
    /// The outcome reported once the change is written.
    pub fn outcome(&self) -> ApplyOutcome {
        ApplyOutcome::Applied {
            from: self.from.to_string(),
            to: self.to.to_string(),
        }
    }
}

/// The payment rules: `order` is the stored row (read under the engine's lock).
pub(super) fn payment(order: Option<&Order>, fact: &PaymentFact) -> Decision<PaymentChange> {
    let Some(order) = order else {
        return Decision::Settled(ApplyOutcome::Rejected(Rejection::UnknownRecord));
    };
    if let (Some(prepaid_under), Some(reported)) = (&order.appid, &fact.appid) {
        if prepaid_under != reported {
            return Decision::Settled(ApplyOutcome::Rejected(Rejection::AppidMismatch));
        }
    }
    if fact.state.is_paid() {
        if let Some(reported) = fact.amount_fen.filter(|r| *r != order.amount_fen) {
            return Decision::Settled(ApplyOutcome::Rejected(Rejection::AmountMismatch {
                expected: order.amount_fen,
                reported,
            }));
        }
        if let (Some(known), Some(reported)) = (&order.transaction_id, &fact.transaction_id) {
            if known != reported {
                return Decision::Settled(ApplyOutcome::Rejected(Rejection::TransactionMismatch));
            }
        }
    }
    // A query reporting SUCCESS for an order already moved to REFUND is old news.
    if order.state == fact.state
        || (order.state == TradeState::Refund && fact.state == TradeState::Success)
    {
        return Decision::Settled(ApplyOutcome::Unchanged);
    }
    // Money WeChat proved for an order closed here is received, not refused.
    let attention = paid_after(&order.state, &fact.state);
    if attention.is_none() && !order.state.can_transition_to(&fact.state) {
        return Decision::Settled(ApplyOutcome::Rejected(Rejection::IllegalTransition {
            from: order.state.to_string(),
            to: fact.state.to_string(),
        }));
    }
    Decision::Change(PaymentChange {
        from: order.state.clone(),
        to: fact.state.clone(),
        paid_at: fact.state.is_paid().then_some(fact.at),
        cause: cause(fact, &attention),
        attention,
        version: order.version,
    })
}

/// The flag a change from `from` to `to` raises: `paid_after_<state>` when WeChat reports
/// a payment for an order that ended unpaid here (closed, revoked, failed), else `None`.
///
/// WeChat can prove a payment for an order this server already closed (a close that never
/// reached WeChat, or one that lost a race with the payer). Refusing it would leave the
/// customer charged; instead the money is recorded as received and the order flagged for
/// the merchant to refund or fulfil.
pub(super) fn paid_after(from: &TradeState, to: &TradeState) -> Option<String> {
    let ended_unpaid = matches!(
        from,
        TradeState::Closed | TradeState::Revoked | TradeState::PayError
    );
    (ended_unpaid && *to == TradeState::Success)
        .then(|| format!("paid_after_{}", from.as_str().to_ascii_lowercase()))
}

/// The audit cause of applying `fact`: its own, plus the flag it raised (logged at WARN,
/// since a person has to act on it).
fn cause(fact: &PaymentFact, attention: &Option<String>) -> String {
    match attention {
        Some(flag) => {
            tracing::warn!(
                order = %fact.out_trade_no,
                flag = %flag,
                cause = %fact.cause,
                "payment received for an order closed here: recorded as paid and flagged for the merchant to refund or fulfil"
            );
            format!("{}:{flag}", fact.cause)
        }
        None => fact.cause.clone(),
    }
}

/// The audit cause of clearing an order's flag.
pub(super) fn resolution_cause(flag: &str, actor: &str, note: &str) -> String {
    format!("resolved:{flag} by {actor}: {note}")
}

/// A refund transition to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RefundChange {
    /// Current status.
    pub from: RefundStatus,
    /// New status.
    pub to: RefundStatus,
    /// The order refunded.
    pub out_trade_no: String,
    /// The refund's amount (fen), credited to the order on SUCCESS.
    pub amount_fen: i64,
}

impl RefundChange {
    /// Whether the order is credited with the refund (and moves to REFUND).
    pub fn credits_order(&self) -> bool {
        self.to == RefundStatus::Success
    }

    /// The outcome reported once the change is written.
    pub fn outcome(&self) -> ApplyOutcome {
        ApplyOutcome::Applied {
            from: self.from.to_string(),
            to: self.to.to_string(),
        }
    }
}

/// The refund rules: `refund` is the stored row (read under the engine's lock).
pub(super) fn refund(refund: Option<&Refund>, fact: &RefundFact) -> Decision<RefundChange> {
    let Some(refund) = refund else {
        return Decision::Settled(ApplyOutcome::Rejected(Rejection::UnknownRecord));
    };
    if let Some(reported) = fact.amount_fen.filter(|r| *r != refund.amount_fen) {
        return Decision::Settled(ApplyOutcome::Rejected(Rejection::AmountMismatch {
            expected: refund.amount_fen,
            reported,
        }));
    }
    if refund.status == fact.status {
        return Decision::Settled(ApplyOutcome::Unchanged);
    }
    if !refund.status.can_transition_to(&fact.status) {
        return Decision::Settled(ApplyOutcome::Rejected(Rejection::IllegalTransition {
            from: refund.status.to_string(),
            to: fact.status.to_string(),
        }));
    }
    Decision::Change(RefundChange {
        from: refund.status.clone(),
        to: fact.status.clone(),
        out_trade_no: refund.out_trade_no.clone(),
        amount_fen: refund.amount_fen,
    })
}

/// Whether crediting a refund to an order in `state` is an order transition to audit
/// (SUCCESS → REFUND); a further refund of an order already in REFUND is not.
pub(super) fn refund_moves_order(state: Option<&str>) -> bool {
    state == Some(TradeState::Success.as_str())
}

/// The order a refund may be reserved against: it must exist and be paid.
pub(super) fn refundable_order(order: Option<&Order>) -> Result<&Order, RefundRefusal> {
    let order = order.ok_or(RefundRefusal::UnknownOrder)?;
    if !order.state.is_paid() {
        return Err(RefundRefusal::NotPaid);
    }
    Ok(order)
}

/// Whether `amount` fits beside `reserved`: money already refunded or on its way
/// (every refund not CLOSED) is spoken for.
pub(super) fn fits(order: &Order, reserved: i64, amount: i64) -> Result<(), RefundRefusal> {
    let remaining = order.amount_fen - reserved;
    if amount > remaining {
        return Err(RefundRefusal::ExceedsRefundable { remaining });
    }
    Ok(())
}

/// What a keyed refund request asked for, compared when its key comes again: the order,
/// the amount and the reason, as canonical JSON.
pub(super) fn fingerprint(refund: &NewRefund<'_>) -> String {
    serde_json::json!([refund.out_trade_no, refund.amount_fen, refund.reason]).to_string()
}

/// A key seen before: the same request replays its refund; another is refused.
pub(super) fn replay(asked: Option<&str>, refund: &NewRefund<'_>) -> Result<(), RefundRefusal> {
    if asked == Some(fingerprint(refund).as_str()) {
        Ok(())
    } else {
        Err(RefundRefusal::IdempotencyKeyReused)
    }
}

/// The `processing` of a notification's repeat, kept on file beside the first receipt.
pub(super) fn duplicate_label(verified_id: &str) -> String {
    format!("duplicate_of:{verified_id}")
}

/// The refund a successful reservation stored.
pub(super) fn reserved_refund(refund: &NewRefund<'_>) -> Refund {
    Refund {
        out_refund_no: refund.out_refund_no.to_owned(),
        out_trade_no: refund.out_trade_no.to_owned(),
        amount_fen: refund.amount_fen,
        status: RefundStatus::Processing,
        refund_id: None,
        reason: refund.reason.map(str::to_owned),
        created_at: refund.now,
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
