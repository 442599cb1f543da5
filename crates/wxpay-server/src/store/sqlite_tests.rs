//! Tests of the SQLite store: one-transaction rules, idempotency, leases.

use std::sync::Arc;

use super::*;

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::connect(&url, 4).await.expect("connect");
    (dir, store)
}

async fn order(store: &SqliteStore, no: &str, amount: i64) -> Order {
    let user = store
        .upsert_user("wxapp", "openid-1", None, 1)
        .await
        .expect("user");
    store
        .upsert_products(&[Product {
            id: "p".into(),
            name: "P".into(),
            price_fen: amount,
        }])
        .await
        .expect("product");
    store
        .create_order(NewOrder {
            out_trade_no: no.into(),
            user_id: user.id,
            idempotency_key: None,
            description: "d".into(),
            items: vec![("p".into(), 1, amount)],
            amount_fen: amount,
            now: 10,
        })
        .await
        .expect("order")
}

fn paid(no: &str, amount: i64) -> PaymentFact {
    PaymentFact {
        out_trade_no: no.into(),
        state: TradeState::Success,
        transaction_id: Some("4200000001".into()),
        amount_fen: Some(amount),
        cause: "notify_v3".into(),
        at: 20,
    }
}

fn record(no: &str) -> NotificationRecord {
    NotificationRecord {
        kind: "v3_pay".into(),
        claimed_id: Some("EV-1".into()),
        headers_json: "{}".into(),
        body: b"{}".to_vec(),
        verification: "ok".into(),
        processing: "pending".into(),
        out_trade_no: Some(no.into()),
        received_at: 20,
    }
}

#[tokio::test]
async fn concurrent_duplicate_notifications_credit_once() {
    let (_dir, store) = fresh().await;
    let store = Arc::new(store);
    order(&store, "WXORDER0001", 100).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .apply_notification(
                    &record("WXORDER0001"),
                    "EV-1",
                    &NotifiedChange::Payment(paid("WXORDER0001", 100)),
                )
                .await
        }));
    }
    let mut applied = 0;
    let mut duplicates = 0;
    for task in tasks {
        match task.await.expect("join").expect("apply") {
            NotificationOutcome::Processed(ApplyOutcome::Applied { .. }) => applied += 1,
            NotificationOutcome::Duplicate { previous } => {
                assert_eq!(previous, "applied:SUCCESS");
                duplicates += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((applied, duplicates), (1, 15));
    let audit = store.audit("order", "WXORDER0001").await.expect("audit");
    assert_eq!(audit.iter().filter(|a| a.to_state == "SUCCESS").count(), 1);
    let rows = store
        .notifications(Some("WXORDER0001"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 16, "every receipt is on file");
    assert_eq!(rows.iter().filter(|r| r.verified_id.is_some()).count(), 1);
}

#[tokio::test]
async fn amount_mismatch_is_refused_and_changes_nothing() {
    let (_dir, store) = fresh().await;
    order(&store, "WXORDER0002", 100).await;
    let outcome = store
        .apply_notification(
            &record("WXORDER0002"),
            "EV-2",
            &NotifiedChange::Payment(paid("WXORDER0002", 1)),
        )
        .await
        .expect("apply");
    assert_eq!(
        outcome,
        NotificationOutcome::Processed(ApplyOutcome::Rejected(Rejection::AmountMismatch {
            expected: 100,
            reported: 1
        }))
    );
    let stored = store
        .order("WXORDER0002")
        .await
        .expect("get")
        .expect("order");
    assert_eq!(stored.state, TradeState::NotPay);
    let rows = store
        .notifications(Some("WXORDER0002"))
        .await
        .expect("rows");
    assert_eq!(rows[0].processing, "rejected:amount_mismatch");
}

#[tokio::test]
async fn a_closed_order_proven_paid_is_flagged_and_refunds_stay_within_the_paid_amount() {
    let (_dir, store) = fresh().await;
    order(&store, "WXORDER0003", 100).await;
    let close = PaymentFact {
        state: TradeState::Closed,
        transaction_id: None,
        amount_fen: None,
        ..paid("WXORDER0003", 100)
    };
    assert!(matches!(
        store.apply_payment(&close).await.expect("close"),
        ApplyOutcome::Applied { .. }
    ));
    // WeChat proving a payment for it (wrong amounts still refused) is money received: the
    // order is paid and flagged for the merchant, never refused.
    assert!(matches!(
        store
            .apply_payment(&paid("WXORDER0003", 99))
            .await
            .expect("pay"),
        ApplyOutcome::Rejected(Rejection::AmountMismatch { .. })
    ));
    assert!(matches!(
        store
            .apply_payment(&paid("WXORDER0003", 100))
            .await
            .expect("pay"),
        ApplyOutcome::Applied { .. }
    ));
    let flagged = store
        .order("WXORDER0003")
        .await
        .expect("read")
        .expect("order");
    assert_eq!(flagged.state, TradeState::Success);
    assert_eq!(flagged.attention.as_deref(), Some("paid_after_closed"));
    let listed = store.orders_needing_attention(10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(store
        .resolve_attention("WXORDER0003", "refunded", "admin", 50)
        .await
        .expect("resolve"));
    assert!(store
        .orders_needing_attention(10)
        .await
        .expect("list")
        .is_empty());
    // A paid order can no longer be reported closed.
    assert!(matches!(
        store.apply_payment(&close).await.expect("close"),
        ApplyOutcome::Rejected(Rejection::IllegalTransition { .. })
    ));

    order(&store, "WXORDER0004", 100).await;
    store
        .apply_payment(&paid("WXORDER0004", 100))
        .await
        .expect("pay");
    assert!(store
        .create_refund("R1", "WXORDER0004", 60, None, "admin", 30)
        .await
        .expect("r1")
        .is_ok());
    assert_eq!(
        store
            .create_refund("R2", "WXORDER0004", 50, None, "admin", 31)
            .await
            .expect("r2")
            .err(),
        Some(RefundRefusal::ExceedsRefundable { remaining: 40 })
    );
    assert!(store
        .create_refund("R3", "WXORDER0004", 40, None, "admin", 32)
        .await
        .expect("r3")
        .is_ok());
    let audit = store.audit("refund", "R1").await.expect("audit");
    assert_eq!(
        audit.first().map(|row| row.cause.as_str()),
        Some("created_by:admin"),
        "the refund's creator is on record"
    );
    let done = RefundFact {
        out_refund_no: "R1".into(),
        status: RefundStatus::Success,
        refund_id: Some("50300001".into()),
        amount_fen: Some(60),
        cause: "notify_v3".into(),
        at: 40,
    };
    assert!(matches!(
        store.apply_refund(&done).await.expect("ok"),
        ApplyOutcome::Applied { .. }
    ));
    assert_eq!(
        store.apply_refund(&done).await.expect("dup"),
        ApplyOutcome::Unchanged
    );
    let stored = store
        .order("WXORDER0004")
        .await
        .expect("get")
        .expect("order");
    assert_eq!(
        (stored.state, stored.refunded_fen),
        (TradeState::Refund, 60)
    );
}

#[tokio::test]
async fn leases_keep_two_workers_apart() {
    let (_dir, store) = fresh().await;
    order(&store, "WXORDER0005", 100).await;
    let first = store
        .claim_pending_orders("a", 100, 100, 100, 160, 10)
        .await
        .expect("a");
    let second = store
        .claim_pending_orders("b", 101, 101, 101, 161, 10)
        .await
        .expect("b");
    assert_eq!((first.len(), second.len()), (1, 0));
    let later = store
        .claim_pending_orders("b", 200, 200, 200, 260, 10)
        .await
        .expect("b later");
    assert_eq!(later.len(), 1, "an expired lease is taken over");
}

#[tokio::test]
async fn synchronous_setting_reaches_every_connection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    for (setting, pragma) in [(Synchronous::Normal, 1), (Synchronous::Full, 2)] {
        let store = SqliteStore::connect_with(&url, 2, setting)
            .await
            .expect("connect");
        let mut a = store.pool.acquire().await.expect("first connection");
        let mut b = store.pool.acquire().await.expect("second connection");
        for conn in [&mut *a, &mut *b] {
            let value: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(conn)
                .await
                .expect("pragma");
            assert_eq!(value, pragma, "{setting:?}");
        }
    }
}
