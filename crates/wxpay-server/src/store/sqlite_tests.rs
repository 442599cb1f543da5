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
        body_len: 2,
        body_sha256: "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a".into(),
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
async fn every_connection_syncs_fully_so_an_acknowledged_payment_survives_a_power_cut() {
    let (_dir, store) = fresh().await;
    // Several connections at once, so more than one of the pool's is asked.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = store.pool.acquire().await.expect("connection");
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .expect("pragma");
        assert_eq!(level, 2, "synchronous=FULL");
        held.push(conn);
    }
}

#[tokio::test]
async fn migration_0004_keeps_the_notification_log_and_wipes_session_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    // A database as the first release left it.
    let options = SqliteConnectOptions::from_str(&url)
        .expect("url")
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.expect("open");
    let first = Migrator {
        migrations: Cow::Owned(migrator().migrations[..1].to_vec()),
        ..Migrator::DEFAULT
    };
    first.run(&pool).await.expect("migration 0001");
    for sql in [
        "INSERT INTO users (id, appid, openid, created_at) VALUES ('u1', 'wxapp', 'o1', 1)",
        "INSERT INTO sessions (token_hash, user_id, session_key, created_at, expires_at) \
         VALUES ('h1', 'u1', 'sk-secret', 1, 4102444800)",
        "INSERT INTO notifications (kind, verified_id, headers, body, verification, processing, received_at) \
         VALUES ('v3_pay', 'EV-1', '{}', 'abc', 'ok', 'applied:SUCCESS', 5)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    pool.close().await;

    let store = SqliteStore::connect(&url, 2).await.expect("migrated");
    let rows = store.notifications(None).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].verified_id.as_deref(), Some("EV-1"));
    assert_eq!(rows[0].body_len, 3);
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('sessions')")
        .fetch_all(&store.pool)
        .await
        .expect("columns");
    assert!(!columns.iter().any(|c| c == "session_key"), "{columns:?}");
    let user = store.session_user("h1", 10).await.expect("session");
    assert_eq!(
        user.map(|u| u.id).as_deref(),
        Some("u1"),
        "sessions survive"
    );
    // The same id under another kind is another notification.
    let mut refund = record("WX1");
    refund.kind = "v3_refund".into();
    let outcome = store
        .apply_notification(&refund, "EV-1", &NotifiedChange::Ignored)
        .await
        .expect("apply");
    assert_eq!(
        outcome,
        NotificationOutcome::Processed(ApplyOutcome::Unchanged)
    );
}

#[tokio::test]
async fn a_refund_proven_for_an_unpaid_order_records_both_steps_once_and_flags_it() {
    use crate::store::FollowUp;
    let (_dir, store) = fresh().await;
    order(&store, "WX1", 500).await;
    let refunded = |amount| PaymentFact {
        state: TradeState::Refund,
        ..paid("WX1", amount)
    };
    let wrong = store
        .apply_paid_then_refunded(&refunded(499), "refunded_outside_server")
        .await
        .expect("apply");
    assert!(matches!(
        wrong,
        ApplyOutcome::Rejected(Rejection::AmountMismatch { .. })
    ));
    let untouched = store.order("WX1").await.expect("read").expect("order");
    assert_eq!(untouched.state, TradeState::NotPay);
    assert_eq!(store.order_attention("WX1").await.expect("read"), None);

    let applied = store
        .apply_paid_then_refunded(&refunded(500), "refunded_outside_server")
        .await
        .expect("apply");
    assert_eq!(
        applied,
        ApplyOutcome::Applied {
            from: "NOTPAY".into(),
            to: "REFUND".into()
        }
    );
    let audit = store.audit("order", "WX1").await.expect("audit");
    let steps: Vec<&str> = audit.iter().map(|a| a.to_state.as_str()).collect();
    assert_eq!(steps, ["NOTPAY", "SUCCESS", "REFUND"]);
    assert_eq!(
        store.order_attention("WX1").await.expect("read").as_deref(),
        Some("refunded_outside_server")
    );
    let again = store
        .apply_paid_then_refunded(&refunded(500), "refunded_outside_server")
        .await
        .expect("apply");
    assert_eq!(again, ApplyOutcome::Unchanged);
    assert_eq!(store.audit("order", "WX1").await.expect("audit").len(), 3);
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
