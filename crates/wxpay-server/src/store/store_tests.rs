//! The store test suite, run on both engines: SQLite always, PostgreSQL when
//! `WXPAY_TEST_POSTGRES_URL` names a database (`scripts/with-postgres.sh` starts one). Each
//! PostgreSQL test gets its own schema, so the tests run side by side on one database.
//! Tests of one engine's own settings (SQLite's PRAGMAs and table rebuilds) are at the end.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::SqlitePool;
use wxpay_core::{RefundStatus, TradeState};

use super::migrations::{migrator, SQLITE};
use super::*;
use crate::config::Synchronous;

/// A fresh store of the engine, with what must live as long as it.
pub(crate) struct Fresh {
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite store in a temporary folder.
pub(crate) async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::connect(&url, 4).await.expect("connect");
    Fresh {
        store: Arc::new(store),
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL store in a schema of its own, or `None` when no database is given.
pub(crate) async fn postgres() -> Option<Fresh> {
    let url = std::env::var("WXPAY_TEST_POSTGRES_URL").ok()?;
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("WXPAY_TEST_POSTGRES_URL");
    let schema = crate::ids::random_id("t").to_ascii_lowercase();
    let admin = sqlx::PgPool::connect_with(options.clone())
        .await
        .expect("connect postgres");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("schema");
    admin.close().await;
    let options = options.options([("search_path", schema.as_str())]);
    let store = PgStore::connect_with(options, 6)
        .await
        .expect("migrate postgres");
    Some(Fresh {
        store: Arc::new(store),
        _dir: None,
    })
}

/// Runs each named `async fn(Arc<dyn Store>)` as a test on SQLite (`sqlite_engine::…`)
/// and on PostgreSQL (`postgres_engine::…`, passing trivially without a database).
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite_engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::sqlite().await.store).await;
                }
            )*
        }
        mod postgres_engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: scripts/with-postgres.sh, then -- --include-ignored"]
                async fn $name() {
                    let fresh = super::postgres().await.expect(
                        "WXPAY_TEST_POSTGRES_URL names the PostgreSQL server (scripts/with-postgres.sh)",
                    );
                    super::$name(fresh.store).await;
                }
            )*
        }
    };
}

on_both_engines!(
    concurrent_duplicate_notifications_credit_once,
    amount_mismatch_is_refused_and_changes_nothing,
    a_payment_under_another_app_than_the_prepay_is_refused,
    a_closed_order_proven_paid_is_flagged_and_refunds_stay_within_the_paid_amount,
    leases_keep_two_workers_apart,
    a_refund_proven_for_an_unpaid_order_records_both_steps_once_and_flags_it,
    the_same_id_under_another_kind_is_another_notification,
    concurrent_claims_lease_each_order_once,
    concurrent_refunds_never_reserve_more_than_was_paid,
    one_idempotency_key_makes_one_refund_and_one_order_under_concurrency,
    a_refund_success_credits_the_order_once_under_concurrency,
    a_lease_has_one_holder_until_it_expires_or_is_released,
    a_refused_credential_is_dropped_only_while_it_is_current,
    one_refresh_serves_every_waiting_instance,
    reconciliation_reads_the_ledger_by_date_and_keeps_runs,
);

async fn order(store: &dyn Store, no: &str, amount: i64) -> Order {
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
        appid: Some("wxd678efh567hg6787".into()),
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

async fn concurrent_duplicate_notifications_credit_once(store: Arc<dyn Store>) {
    order(&*store, "WXORDER0001", 100).await;
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

async fn amount_mismatch_is_refused_and_changes_nothing(store: Arc<dyn Store>) {
    order(&*store, "WXORDER0002", 100).await;
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

async fn a_payment_under_another_app_than_the_prepay_is_refused(store: Arc<dyn Store>) {
    order(&*store, "WXORDER0005", 100).await;
    let route = crate::channel::PrepayRoute::new(
        crate::channel::Channel::MiniProgram,
        crate::channel::ApiVersion::V3,
    );
    let prepaid = Prepaid {
        prepay_id: Some("wx201410272009395522657a690389285100".into()),
        ..Prepaid::default()
    };
    assert!(store
        .save_prepay(
            "WXORDER0005",
            route,
            "wxd678efh567hg6788",
            &prepaid,
            900,
            10
        )
        .await
        .expect("prepay"));
    // paid() reports wxd678efh567hg6787: one of ours, not the one this order was prepaid under.
    let outcome = store
        .apply_notification(
            &record("WXORDER0005"),
            "EV-5",
            &NotifiedChange::Payment(paid("WXORDER0005", 100)),
        )
        .await
        .expect("apply");
    assert_eq!(
        outcome,
        NotificationOutcome::Processed(ApplyOutcome::Rejected(Rejection::AppidMismatch))
    );
    let stored = store
        .order("WXORDER0005")
        .await
        .expect("get")
        .expect("order");
    assert_eq!(stored.state, TradeState::NotPay);
    let under_its_app = PaymentFact {
        appid: Some("wxd678efh567hg6788".into()),
        ..paid("WXORDER0005", 100)
    };
    assert!(matches!(
        store.apply_payment(&under_its_app).await.expect("apply"),
        ApplyOutcome::Applied { .. }
    ));
}

async fn a_closed_order_proven_paid_is_flagged_and_refunds_stay_within_the_paid_amount(
    store: Arc<dyn Store>,
) {
    order(&*store, "WXORDER0003", 100).await;
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

    order(&*store, "WXORDER0004", 100).await;
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

async fn leases_keep_two_workers_apart(store: Arc<dyn Store>) {
    order(&*store, "WXORDER0005", 100).await;
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

// SQLite's own: its PRAGMAs and its table rebuilds.

async fn fresh_sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::connect(&url, 4).await.expect("connect");
    (dir, store)
}

/// `PRAGMA synchronous` of the store's writer (the one connection that commits).
async fn writer_synchronous(store: &SqliteStore) -> i64 {
    store
        .writer
        .write(|db| Ok(db.pragma_query_value(None, "synchronous", |row| row.get(0))?))
        .await
        .expect("pragma")
}

/// The columns of `table`, as a reader sees them.
fn columns(store: &SqliteStore, table: &str) -> Vec<String> {
    store
        .readers
        .read(|db| {
            let mut statement = db.prepare("SELECT name FROM pragma_table_info(?)")?;
            let names = statement.query_map([table], |row| row.get(0))?;
            Ok(names.collect::<Result<_, _>>()?)
        })
        .expect("columns")
}

#[tokio::test]
async fn the_writer_syncs_fully_so_an_acknowledged_payment_survives_a_power_cut() {
    let (_dir, store) = fresh_sqlite().await;
    assert_eq!(writer_synchronous(&store).await, 2, "synchronous=FULL");
}

/// A SQLite file migrated only up to `version`, as an older release left it: its folder,
/// its URL and an open pool (close it before [`SqliteStore::connect`] migrates the rest).
async fn sqlite_at_version(version: usize) -> (tempfile::TempDir, String, SqlitePool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .expect("url")
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.expect("open");
    let older = Migrator {
        migrations: Cow::Owned(migrator(SQLITE).migrations[..version].to_vec()),
        ..Migrator::DEFAULT
    };
    older.run(&pool).await.expect("older migrations");
    (dir, url, pool)
}

#[tokio::test]
async fn migration_0006_gives_each_prepay_result_its_column() {
    // A database as release 0005 left it: the URL in prepay_id for v3 H5 and Native.
    let (_dir, url, pool) = sqlite_at_version(5).await;
    sqlx::query(
        "INSERT INTO users (id, appid, openid, created_at) VALUES ('u1', 'wxapp', 'o1', 1)",
    )
    .execute(&pool)
    .await
    .expect("user");
    for (no, channel, prepay_id, payload) in [
        ("WXJSAPI01", "jsapi", "wx-prepay-1", None),
        (
            "WXH5V3001",
            "h5",
            "https://cashier/1",
            Some("https://cashier/1"),
        ),
        (
            "WXNATIVE1",
            "native",
            "weixin://pay/1",
            Some("weixin://pay/1"),
        ),
        (
            "WXH5V2001",
            "h5.v2",
            "wx-prepay-2",
            Some("https://cashier/2"),
        ),
        (
            "WXNATIVE2",
            "native.v2",
            "wx-prepay-3",
            Some("weixin://pay/3"),
        ),
    ] {
        sqlx::query(
            "INSERT INTO orders (out_trade_no, user_id, description, amount_fen, state, channel, \
             appid, prepay_id, prepay_payload, prepay_expires_at, created_at, updated_at) \
             VALUES (?, 'u1', 'd', 100, 'NOTPAY', ?, 'wxapp', ?, ?, 9999999999, 1, 1)",
        )
        .bind(no)
        .bind(channel)
        .bind(prepay_id)
        .bind(payload)
        .execute(&pool)
        .await
        .expect(no);
    }
    pool.close().await;

    let store = SqliteStore::connect(&url, 2).await.expect("migrated");
    let read = |no: &'static str| {
        let store = &store;
        async move {
            let order = store.order(no).await.expect("read").expect(no);
            (order.prepay_id, order.h5_url, order.code_url)
        }
    };
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(read("WXJSAPI01").await, (s("wx-prepay-1"), None, None));
    assert_eq!(
        read("WXH5V3001").await,
        (None, s("https://cashier/1"), None)
    );
    assert_eq!(read("WXNATIVE1").await, (None, None, s("weixin://pay/1")));
    assert_eq!(
        read("WXH5V2001").await,
        (s("wx-prepay-2"), s("https://cashier/2"), None)
    );
    assert_eq!(
        read("WXNATIVE2").await,
        (s("wx-prepay-3"), None, s("weixin://pay/3"))
    );
    let columns = columns(&store, "orders");
    assert!(
        !columns.iter().any(|c| c == "prepay_payload"),
        "{columns:?}"
    );
}

#[tokio::test]
async fn migration_0004_keeps_the_notification_log_and_wipes_session_keys() {
    // A database as the first release left it.
    let (_dir, url, pool) = sqlite_at_version(1).await;
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
    let columns = columns(&store, "sessions");
    assert!(!columns.iter().any(|c| c == "session_key"), "{columns:?}");
    let user = store.session_user("h1", 10).await.expect("session");
    assert_eq!(
        user.map(|u| u.id).as_deref(),
        Some("u1"),
        "sessions survive"
    );
    // The verified id is now unique per kind: the same id under another kind is another.
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
async fn a_refund_proven_for_an_unpaid_order_records_both_steps_once_and_flags_it(
    store: Arc<dyn Store>,
) {
    order(&*store, "WX1", 500).await;
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
async fn the_synchronous_setting_reaches_the_writer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    for (setting, pragma) in [(Synchronous::Normal, 1), (Synchronous::Full, 2)] {
        let store = SqliteStore::connect_with(&url, 2, setting)
            .await
            .expect("connect");
        assert_eq!(writer_synchronous(&store).await, pragma, "{setting:?}");
    }
}

async fn the_same_id_under_another_kind_is_another_notification(store: Arc<dyn Store>) {
    order(&*store, "WX1", 100).await;
    let first = store
        .apply_notification(
            &record("WX1"),
            "EV-1",
            &NotifiedChange::Payment(paid("WX1", 100)),
        )
        .await
        .expect("apply");
    assert!(matches!(
        first,
        NotificationOutcome::Processed(ApplyOutcome::Applied { .. })
    ));
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
    let again = store
        .apply_notification(&refund, "EV-1", &NotifiedChange::Ignored)
        .await
        .expect("apply");
    assert_eq!(
        again,
        NotificationOutcome::Duplicate {
            previous: "unchanged".into()
        }
    );
}

/// Many stale orders and eight workers claiming at once: every order is leased to exactly
/// one of them.
async fn concurrent_claims_lease_each_order_once(store: Arc<dyn Store>) {
    for i in 0..60 {
        order(&*store, &format!("WXCLAIM{i:04}"), 100).await;
    }
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let owner = format!("w{worker}");
                let batch = store
                    .claim_pending_orders(&owner, 100, 100, 100, 160, 7)
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|o| o.out_trade_no));
            }
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.expect("join"));
    }
    let total = claimed.len();
    claimed.sort();
    claimed.dedup();
    assert_eq!((total, claimed.len()), (60, 60), "each order leased once");
}

/// Eight refunds of 30 against a paid order of 100 at once: three fit, five are refused.
async fn concurrent_refunds_never_reserve_more_than_was_paid(store: Arc<dyn Store>) {
    order(&*store, "WXRACE", 100).await;
    store
        .apply_payment(&paid("WXRACE", 100))
        .await
        .expect("pay");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_refund(&format!("RR{i}"), "WXRACE", 30, None, "admin", 30)
                .await
                .expect("refund")
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(_) => created += 1,
            Err(RefundRefusal::ExceedsRefundable { remaining }) => assert_eq!(remaining, 10),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created, 3);
}

/// One key sent eight times at once makes one refund (the others replay it), and one
/// order key likewise one order.
async fn one_idempotency_key_makes_one_refund_and_one_order_under_concurrency(
    store: Arc<dyn Store>,
) {
    let first = order(&*store, "WXKEY", 100).await;
    store.apply_payment(&paid("WXKEY", 100)).await.expect("pay");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let no = format!("RK{i}");
            let refund = NewRefund {
                out_refund_no: &no,
                out_trade_no: "WXKEY",
                amount_fen: 40,
                reason: Some("broken"),
                actor: "admin",
                now: 30,
            };
            store
                .create_refund_once(&refund, "key-1")
                .await
                .expect("refund")
                .expect("accepted")
        }));
    }
    let mut refunds = Vec::new();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("join") {
            RefundCreation::Created(r) => {
                created += 1;
                refunds.push(r.out_refund_no);
            }
            RefundCreation::Replayed(r) => refunds.push(r.out_refund_no),
        }
    }
    refunds.dedup();
    assert_eq!((created, refunds.len()), (1, 1), "{refunds:?}");

    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let user_id = first.user_id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_order(NewOrder {
                    out_trade_no: format!("WXIDEM{i}"),
                    user_id,
                    idempotency_key: Some("order-key".into()),
                    description: "d".into(),
                    items: vec![("p".into(), 1, 100)],
                    amount_fen: 100,
                    now: 10,
                })
                .await
                .expect("order")
                .out_trade_no
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("join"));
    }
    numbers.dedup();
    assert_eq!(numbers.len(), 1, "{numbers:?}");
}

/// The same refund success from a query and a notification at once credits the order once.
async fn a_refund_success_credits_the_order_once_under_concurrency(store: Arc<dyn Store>) {
    order(&*store, "WXCRED", 100).await;
    store
        .apply_payment(&paid("WXCRED", 100))
        .await
        .expect("pay");
    store
        .create_refund("RC1", "WXCRED", 70, None, "admin", 30)
        .await
        .expect("refund")
        .expect("accepted");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .apply_refund(&RefundFact {
                    out_refund_no: "RC1".into(),
                    status: RefundStatus::Success,
                    refund_id: Some("50300002".into()),
                    amount_fen: Some(70),
                    cause: "query".into(),
                    at: 40,
                })
                .await
                .expect("apply")
        }));
    }
    let mut applied = 0;
    for task in tasks {
        if let ApplyOutcome::Applied { .. } = task.await.expect("join") {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    let stored = store.order("WXCRED").await.expect("get").expect("order");
    assert_eq!(
        (stored.state, stored.refunded_fen),
        (TradeState::Refund, 70)
    );
    let audit = store.audit("order", "WXCRED").await.expect("audit");
    assert_eq!(audit.iter().filter(|a| a.to_state == "REFUND").count(), 1);
}

/// Eight holders race for one lease: one wins; the others get it once it is released or
/// expired, never while it is held.
async fn a_lease_has_one_holder_until_it_expires_or_is_released(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .take_lease("access_token:wx1", &format!("h{i}"), 100, 115)
                .await
                .expect("lease")
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.expect("join"));
    }
    assert_eq!(won, 1);
    assert!(!store
        .take_lease("access_token:wx1", "late", 114, 130)
        .await
        .expect("held"));
    assert!(store
        .take_lease("access_token:wx1", "late", 115, 130)
        .await
        .expect("expired"));
    store
        .release_lease("access_token:wx1", "someone else")
        .await
        .expect("release");
    assert!(!store
        .take_lease("access_token:wx1", "other", 116, 130)
        .await
        .expect("held"));
    store
        .release_lease("access_token:wx1", "late")
        .await
        .expect("release");
    assert!(store
        .take_lease("access_token:wx1", "other", 116, 130)
        .await
        .expect("free"));
    assert_eq!(
        store
            .credential("access_token:wx1", 116)
            .await
            .expect("read"),
        None,
        "a lease is not the credential"
    );
}

async fn a_refused_credential_is_dropped_only_while_it_is_current(store: Arc<dyn Store>) {
    store
        .put_credential("access_token:wx1", "old", 500)
        .await
        .expect("put");
    store
        .put_credential("access_token:wx1", "new", 600)
        .await
        .expect("put");
    assert!(!store
        .drop_credential("access_token:wx1", "old")
        .await
        .expect("drop"));
    assert_eq!(
        store
            .credential("access_token:wx1", 100)
            .await
            .expect("read")
            .as_deref(),
        Some("new")
    );
    assert!(store
        .drop_credential("access_token:wx1", "new")
        .await
        .expect("drop"));
    assert_eq!(
        store
            .credential("access_token:wx1", 100)
            .await
            .expect("read"),
        None
    );
}

/// Six "instances" want the token at once: one refresh, and all get its value.
async fn one_refresh_serves_every_waiting_instance(store: Arc<dyn Store>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (store, fetches) = (store.clone(), fetches.clone());
        let clock = crate::clock::Clock::system();
        tasks.push(tokio::spawn(async move {
            crate::shared_credential::get_or_refresh(
                &*store,
                &clock.clone(),
                "access_token:wx1",
                || async {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    Ok(("TOKEN-1".to_owned(), clock.now() + 3600))
                },
            )
            .await
            .expect("token")
        }));
    }
    let mut fresh = 0;
    for task in tasks {
        let shared = task.await.expect("join");
        assert_eq!(shared.value, "TOKEN-1");
        fresh += usize::from(shared.fresh);
    }
    assert_eq!((fetches.load(Ordering::SeqCst), fresh), (1, 1));
}

#[test]
fn the_url_scheme_picks_the_engine() {
    for url in ["postgres://u@h/db", "postgresql://h/db", "POSTGRES://h/db"] {
        assert!(is_postgres(url), "{url}");
    }
    for url in [
        "sqlite://x.db",
        "sqlite:x.db",
        "postgres:/h",
        "pg://h/db",
        "",
    ] {
        assert!(!is_postgres(url), "{url}");
    }
}

#[tokio::test]
async fn open_gives_a_working_store_for_either_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("o.db").display());
    let store = open(&url, 2, Synchronous::Full).await.expect("sqlite");
    store
        .upsert_user("wxapp", "o1", None, 1)
        .await
        .expect("a write");
    // The test database itself (the suite's other tests use schemas of their own).
    if let Ok(url) = std::env::var("WXPAY_TEST_POSTGRES_URL") {
        let store = open(&url, 2, Synchronous::Full).await.expect("postgres");
        store
            .upsert_user("wxapp", "o1", None, 1)
            .await
            .expect("a write");
    }
}

async fn reconciliation_reads_the_ledger_by_date_and_keeps_runs(store: Arc<dyn Store>) {
    order(&*store, "WXREC0001", 100).await;
    order(&*store, "WXREC0002", 250).await;
    order(&*store, "WXREC0003", 80).await;
    store
        .apply_payment(&paid("WXREC0001", 100))
        .await
        .expect("pay 1");
    let mut late = paid("WXREC0002", 250);
    late.at = 40;
    store.apply_payment(&late).await.expect("pay 2");
    assert!(store
        .create_refund("WXRECR1", "WXREC0001", 30, None, "admin", 25)
        .await
        .expect("refund")
        .is_ok());
    // Paid at 20 and 40; the window [15, 40) holds the first only. WXREC0003 is unpaid.
    let paid_in = store.paid_between(15, 40).await.expect("paid");
    assert_eq!(
        paid_in,
        vec![LedgerEntry {
            out_trade_no: "WXREC0001".into(),
            out_refund_no: None,
            amount_fen: 100
        }]
    );
    assert_eq!(store.paid_between(15, 41).await.expect("paid").len(), 2);
    let refunds = store.refunds_between(25, 26).await.expect("refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].out_refund_no.as_deref(), Some("WXRECR1"));
    assert!(store
        .refunds_between(26, 99)
        .await
        .expect("refunds")
        .is_empty());

    let run = |date: &str, outcome: &str| NewRun {
        bill_date: date.into(),
        started_at: 100,
        finished_at: 101,
        outcome: outcome.into(),
        detail: None,
        bill_rows: 3,
        matched: 2,
    };
    let difference = DifferenceRecord {
        kind: "paid_at_wechat_only".into(),
        out_trade_no: "WXREC0003".into(),
        out_refund_no: None,
        wechat_fen: Some(80),
        ledger_fen: Some(80),
        resolution: "repaired".into(),
        note: Some("payment applied".into()),
    };
    let first = store
        .record_run(&run("2026-12-03", "not_ready"), &[])
        .await
        .expect("run 1");
    let second = store
        .record_run(
            &run("2026-12-03", "reconciled"),
            std::slice::from_ref(&difference),
        )
        .await
        .expect("run 2");
    store
        .record_run(&run("2026-12-02", "reconciled"), &[])
        .await
        .expect("run 3");
    let of_date = store.runs(Some("2026-12-03"), 10).await.expect("runs");
    let ids: Vec<i64> = of_date.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![second, first], "newest first, that date only");
    assert_eq!(of_date[0].outcome, "reconciled");
    assert_eq!(store.runs(None, 10).await.expect("all").len(), 3);
    assert_eq!(store.runs(None, 1).await.expect("one").len(), 1);
    assert_eq!(
        store.differences(second).await.expect("diffs"),
        vec![difference]
    );
    assert!(store.differences(first).await.expect("none").is_empty());
}
