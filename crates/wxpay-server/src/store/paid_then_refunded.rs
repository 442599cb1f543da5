//! A REFUND that WeChat reports for an order held unpaid here proves the order was paid and
//! then refunded: both transitions are applied (the payment checked as any payment is) and
//! the order flagged, in the caller's transaction. Written once for every engine; each
//! engine lends its transaction through [`LedgerTx`].

use async_trait::async_trait;
use wxpay_core::TradeState;

use super::{ApplyOutcome, PaymentFact, StoreError};

/// What this needs of an engine's open transaction.
#[async_trait]
pub(super) trait LedgerTx: Send {
    /// Applies a payment fact (the engine's payment rules, locked as it locks).
    async fn apply_payment(&mut self, fact: &PaymentFact) -> Result<ApplyOutcome, StoreError>;
    /// Sets the order's attention flag.
    async fn flag(&mut self, out_trade_no: &str, reason: &str) -> Result<(), StoreError>;
}

/// Applies SUCCESS then REFUND and flags the order with `reason`. Returns the outcome and
/// whether to commit (not when nothing new was recorded or the payment was refused).
pub(super) async fn apply(
    tx: &mut impl LedgerTx,
    fact: &PaymentFact,
    reason: &str,
) -> Result<(ApplyOutcome, bool), StoreError> {
    let paid = PaymentFact {
        state: TradeState::Success,
        ..fact.clone()
    };
    // Unchanged when a notification credited it meanwhile: the refund is still news.
    let first = tx.apply_payment(&paid).await?;
    if let ApplyOutcome::Rejected(_) = first {
        return Ok((first, false));
    }
    let refunded = PaymentFact {
        state: TradeState::Refund,
        ..fact.clone()
    };
    let from = match (first, tx.apply_payment(&refunded).await?) {
        (ApplyOutcome::Applied { from, .. }, ApplyOutcome::Applied { .. })
        | (_, ApplyOutcome::Applied { from, .. }) => from,
        // Refused, or already REFUND: nothing new to record.
        (_, other) => return Ok((other, false)),
    };
    tx.flag(&fact.out_trade_no, reason).await?;
    let to = TradeState::Refund.to_string();
    Ok((ApplyOutcome::Applied { from, to }, true))
}
