//! Unit tests of the ledger rules: no database, just rows and facts.

use wxpay_core::{RefundStatus, TradeState};

use super::*;
use crate::store::{Order, Refund};

fn order(state: TradeState) -> Order {
    Order {
        out_trade_no: "WX1".into(),
        user_id: "u".into(),
        description: "d".into(),
        amount_fen: 100,
        state,
        channel: None,
        appid: None,
        prepay_id: None,
        h5_url: None,
        code_url: None,
        prepay_expires_at: None,
        transaction_id: None,
        paid_at: None,
        refunded_fen: 0,
        last_checked_at: None,
        version: 3,
        created_at: 1,
        v2_sign_type: None,
        attention: None,
    }
}

fn fact(state: TradeState, amount: Option<i64>) -> PaymentFact {
    PaymentFact {
        out_trade_no: "WX1".into(),
        state,
        transaction_id: Some("42".into()),
        amount_fen: amount,
        appid: Some("wxa".into()),
        cause: "notify_v3".into(),
        at: 50,
    }
}

fn rejected(decision: Decision<PaymentChange>) -> Rejection {
    match decision {
        Decision::Settled(ApplyOutcome::Rejected(r)) => r,
        other => panic!("not rejected: {other:?}"),
    }
}

#[test]
fn a_payment_moves_an_unpaid_order_and_records_when() {
    let Decision::Change(change) = payment(
        Some(&order(TradeState::NotPay)),
        &fact(TradeState::Success, Some(100)),
    ) else {
        panic!("no change");
    };
    assert_eq!(
        (change.from, change.to),
        (TradeState::NotPay, TradeState::Success)
    );
    assert_eq!((change.paid_at, change.version), (Some(50), 3));
    assert_eq!(
        (change.attention, change.cause.as_str()),
        (None, "notify_v3")
    );
}

#[test]
fn unknown_orders_other_apps_wrong_amounts_and_other_transactions_are_refused() {
    let success = fact(TradeState::Success, Some(100));
    assert_eq!(rejected(payment(None, &success)), Rejection::UnknownRecord);
    let short = fact(TradeState::Success, Some(99));
    assert_eq!(
        rejected(payment(Some(&order(TradeState::NotPay)), &short)),
        Rejection::AmountMismatch {
            expected: 100,
            reported: 99
        }
    );
    let mut paid = order(TradeState::Success);
    paid.transaction_id = Some("41".into());
    assert_eq!(
        rejected(payment(Some(&paid), &success)),
        Rejection::TransactionMismatch
    );
    // Another of our apps is not the app this order was prepaid under, whatever the state.
    let mut prepaid = order(TradeState::NotPay);
    prepaid.appid = Some("wxb".into());
    assert_eq!(
        rejected(payment(Some(&prepaid), &success)),
        Rejection::AppidMismatch
    );
    let closed_elsewhere = fact(TradeState::Closed, None);
    assert_eq!(
        rejected(payment(Some(&prepaid), &closed_elsewhere)),
        Rejection::AppidMismatch
    );
    // Never prepaid (no appid stored), or no appid reported (a close): nothing to compare.
    assert!(matches!(
        payment(Some(&order(TradeState::NotPay)), &success),
        Decision::Change(_)
    ));
    let unnamed = PaymentFact {
        appid: None,
        ..success.clone()
    };
    assert!(matches!(
        payment(Some(&prepaid), &unnamed),
        Decision::Change(_)
    ));
    // An amount on an unpaid state is not checked: only payments carry money.
    let closing = fact(TradeState::Closed, Some(1));
    assert!(matches!(
        payment(Some(&order(TradeState::NotPay)), &closing),
        Decision::Change(_)
    ));
}

#[test]
fn repeats_are_unchanged_and_backward_moves_refused() {
    let success = fact(TradeState::Success, Some(100));
    assert_eq!(
        payment(Some(&order(TradeState::Success)), &success),
        Decision::Settled(ApplyOutcome::Unchanged)
    );
    assert_eq!(
        payment(Some(&order(TradeState::Refund)), &success),
        Decision::Settled(ApplyOutcome::Unchanged),
        "SUCCESS after REFUND is old news"
    );
    assert_eq!(
        rejected(payment(
            Some(&order(TradeState::Success)),
            &fact(TradeState::Closed, None)
        )),
        Rejection::IllegalTransition {
            from: "SUCCESS".into(),
            to: "CLOSED".into()
        }
    );
}

#[test]
fn money_for_an_order_closed_here_is_taken_and_flagged() {
    for (state, flag) in [
        (TradeState::Closed, "paid_after_closed"),
        (TradeState::Revoked, "paid_after_revoked"),
        (TradeState::PayError, "paid_after_payerror"),
    ] {
        let Decision::Change(change) =
            payment(Some(&order(state)), &fact(TradeState::Success, Some(100)))
        else {
            panic!("refused");
        };
        assert_eq!(change.attention.as_deref(), Some(flag));
        assert_eq!(change.cause, format!("notify_v3:{flag}"));
    }
    assert_eq!(paid_after(&TradeState::Closed, &TradeState::Refund), None);
}

fn stored_refund(status: RefundStatus) -> Refund {
    Refund {
        out_refund_no: "R1".into(),
        out_trade_no: "WX1".into(),
        amount_fen: 60,
        status,
        refund_id: None,
        reason: None,
        created_at: 1,
    }
}

fn refund_fact(status: RefundStatus, amount: Option<i64>) -> RefundFact {
    RefundFact {
        out_refund_no: "R1".into(),
        status,
        refund_id: Some("503".into()),
        amount_fen: amount,
        cause: "query".into(),
        at: 9,
    }
}

#[test]
fn refund_rules() {
    let done = refund_fact(RefundStatus::Success, Some(60));
    let Decision::Change(change) = refund(Some(&stored_refund(RefundStatus::Processing)), &done)
    else {
        panic!("no change");
    };
    assert!(change.credits_order());
    assert_eq!(
        (change.out_trade_no.as_str(), change.amount_fen),
        ("WX1", 60)
    );
    let closed = refund_fact(RefundStatus::Closed, None);
    let Decision::Change(change) = refund(Some(&stored_refund(RefundStatus::Processing)), &closed)
    else {
        panic!("no change");
    };
    assert!(!change.credits_order());
    assert_eq!(
        refund(Some(&stored_refund(RefundStatus::Success)), &done),
        Decision::Settled(ApplyOutcome::Unchanged)
    );
    assert_eq!(
        refund(
            Some(&stored_refund(RefundStatus::Processing)),
            &refund_fact(RefundStatus::Success, Some(61))
        ),
        Decision::Settled(ApplyOutcome::Rejected(Rejection::AmountMismatch {
            expected: 60,
            reported: 61
        }))
    );
    assert!(matches!(
        refund(Some(&stored_refund(RefundStatus::Success)), &closed),
        Decision::Settled(ApplyOutcome::Rejected(Rejection::IllegalTransition { .. }))
    ));
    assert_eq!(
        refund(None, &done),
        Decision::Settled(ApplyOutcome::Rejected(Rejection::UnknownRecord))
    );
    assert!(refund_moves_order(Some("SUCCESS")));
    assert!(!refund_moves_order(Some("REFUND")));
}

#[test]
fn reservations_fit_in_what_was_paid_and_keys_replay_only_the_same_request() {
    assert_eq!(
        refundable_order(None).err(),
        Some(RefundRefusal::UnknownOrder)
    );
    assert_eq!(
        refundable_order(Some(&order(TradeState::NotPay))).err(),
        Some(RefundRefusal::NotPaid)
    );
    let paid = order(TradeState::Success);
    assert!(refundable_order(Some(&paid)).is_ok());
    assert_eq!(fits(&paid, 60, 40), Ok(()));
    assert_eq!(
        fits(&paid, 60, 41),
        Err(RefundRefusal::ExceedsRefundable { remaining: 40 })
    );
    let asked = NewRefund {
        out_refund_no: "R1",
        out_trade_no: "WX1",
        amount_fen: 10,
        reason: Some("r"),
        actor: "admin",
        now: 1,
    };
    let print = fingerprint(&asked);
    assert_eq!(replay(Some(&print), &asked), Ok(()));
    let other = NewRefund {
        amount_fen: 11,
        ..asked.clone()
    };
    assert_eq!(
        replay(Some(&print), &other),
        Err(RefundRefusal::IdempotencyKeyReused)
    );
    assert_eq!(
        replay(None, &asked),
        Err(RefundRefusal::IdempotencyKeyReused)
    );
}
