//! A REFUND that WeChat reports for an order held unpaid here proves the order was paid and
//! then refunded: both transitions are applied (the payment checked as any payment is) and
//! the order flagged, in one transaction. The rules are here, once; each engine runs the
//! steps in its own transaction (SQLite's writer is synchronous, PostgreSQL's is not):
//!
//! 1. apply [`paid`]; a refusal ends it, with nothing kept;
//! 2. apply [`refunded`];
//! 3. [`settle`] the two outcomes: something new is flagged and committed, nothing new is
//!    rolled back.

use wxpay_core::TradeState;

use super::{ApplyOutcome, PaymentFact};

/// Step 1: the fact as the payment it proves.
pub(super) fn paid(fact: &PaymentFact) -> PaymentFact {
    PaymentFact {
        state: TradeState::Success,
        ..fact.clone()
    }
}

/// Step 2: the fact as the refund WeChat reports.
pub(super) fn refunded(fact: &PaymentFact) -> PaymentFact {
    PaymentFact {
        state: TradeState::Refund,
        ..fact.clone()
    }
}

/// Whether step 1's outcome ends the change (the payment was refused).
pub(super) fn refused(first: &ApplyOutcome) -> bool {
    matches!(first, ApplyOutcome::Rejected(_))
}

/// Step 3: `Ok` with the outcome to report when something new was recorded (flag the order
/// and commit), `Err` with the outcome when not (roll back).
pub(super) fn settle(
    first: ApplyOutcome,
    second: ApplyOutcome,
) -> Result<ApplyOutcome, ApplyOutcome> {
    // Step 1 is Unchanged when a notification credited the order meanwhile: the refund is
    // still news.
    let from = match (first, second) {
        (ApplyOutcome::Applied { from, .. }, ApplyOutcome::Applied { .. })
        | (_, ApplyOutcome::Applied { from, .. }) => from,
        // Refused, or already REFUND: nothing new to record.
        (_, other) => return Err(other),
    };
    Ok(ApplyOutcome::Applied {
        from,
        to: TradeState::Refund.to_string(),
    })
}
