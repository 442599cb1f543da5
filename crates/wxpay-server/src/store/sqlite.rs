//! The SQLite store (the embedded default).
//!
//! WAL mode lets readers run beside the single writer. Every writing transaction starts
//! with `BEGIN IMMEDIATE`, which takes the write lock up front: two notifications for the
//! same order are serialised by SQLite itself, so the second one always sees the first
//! one's committed result (and a deferred transaction can never fail half-way with
//! `SQLITE_BUSY` when it upgrades from reading to writing).
//!
//! `synchronous=FULL`: in WAL mode `NORMAL` does not sync the log at each commit, so a
//! power cut can undo transactions that had committed, and WeChat, told 200 for a
//! notification, never sends it again. `FULL` syncs every commit before it returns, so an
//! acknowledged payment is on disk. The writes of the [`Store`] operations are committed in
//! groups (`sqlite_group_commit.rs`) so that concurrent ones share one fsync.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteExecutor, SqlitePool, Transaction};
use wxpay_core::v2::sign::SignType as V2SignType;

use crate::config::Synchronous;

use group_commit::{GroupCommit, Tx};

use super::migrations::{self, SQLITE};
use super::rows::{self, NOTIFICATION_COLUMNS, ORDER_COLUMNS, REFUND_COLUMNS};
use super::rules::{self, Decision};
use super::Prepaid;
use super::{
    ApplyOutcome, AuditRow, NewOrder, NewRefund, NotificationOutcome, NotificationRecord,
    NotifiedChange, Order, PaymentFact, Product, Refund, RefundCreation, RefundFact, RefundRefusal,
    Store, StoreError, StoredNotification, User,
};
use crate::channel::PrepayRoute;

/// [`Store`] on a SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// Readers.
    pub(super) pool: SqlitePool,
    /// The one connection that writes (every INSERT, UPDATE and DELETE goes through it).
    pub(super) writer: SqlitePool,
    /// The [`Store`] operations' writes, run on the writer in batches with one commit each
    /// (housekeeping, follow-ups and reconciliation use the writer directly).
    group_commit: GroupCommit,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://file.db`) and migrates it.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, max_connections, Synchronous::Full).await
    }

    /// [`Self::connect`] with the WAL's sync policy chosen (`[database] synchronous`).
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        synchronous: Synchronous,
    ) -> Result<Self, StoreError> {
        let synchronous = match synchronous {
            Synchronous::Normal => SqliteSynchronous::Normal,
            Synchronous::Full => SqliteSynchronous::Full,
        };
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // One connection writes; the others read. SQLite admits one writer at a time anyway,
        // and writers that meet in SQLite wait in its busy handler, which sleeps in growing
        // steps: under concurrent notifications that, not the work, set the pace (bench-load:
        // 8 and 32 concurrent notifications ran slower than 1). Queued on the pool instead,
        // each write starts the moment the previous one commits.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrations::migrator(SQLITE).run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await?;
        let group_commit = GroupCommit::start(writer.clone());
        Ok(Self {
            pool,
            writer,
            group_commit,
        })
    }

    /// Deletes the `credentials` row `name` if it holds `value`: whether it did.
    async fn delete_credential(&self, name: String, value: String) -> Result<bool, StoreError> {
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    let deleted =
                        sqlx::query("DELETE FROM credentials WHERE name = ? AND value = ?")
                            .bind(&name)
                            .bind(&value)
                            .execute(&mut **tx)
                            .await?;
                    Ok(deleted.rows_affected() == 1)
                })
            })
            .await
    }
}

/// Starts a write transaction (`BEGIN IMMEDIATE`) on the writer.
///
/// After some failed writes (an I/O error, a full disk) SQLite rolls the transaction back on
/// its own; the driver's ROLLBACK then fails, and sqlx keeps counting a transaction that no
/// longer exists, refusing every later BEGIN on that connection. Left alone, one such fault
/// would stop all writes until a restart. That connection is closed instead, and the pool
/// opens a fresh one.
pub(super) async fn begin_write(
    writer: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    match writer.begin_with("BEGIN IMMEDIATE").await {
        Err(sqlx::Error::InvalidSavePointStatement) => {
            tracing::warn!(
                "the writer connection lost track of a failed transaction; reopening it"
            );
            writer.acquire().await?.close().await?;
            writer.begin_with("BEGIN IMMEDIATE").await
        }
        other => other,
    }
}

/// One order by number, through the pool or an open transaction.
async fn fetch_order<'e>(
    db: impl SqliteExecutor<'e>,
    out_trade_no: &str,
) -> Result<Option<Order>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE out_trade_no = ?");
    let row = sqlx::query(&sql)
        .bind(out_trade_no)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(rows::order).transpose()
}

/// One refund by number, through the pool or an open transaction.
async fn fetch_refund<'e>(
    db: impl SqliteExecutor<'e>,
    out_refund_no: &str,
) -> Result<Option<Refund>, StoreError> {
    let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE out_refund_no = ?");
    let row = sqlx::query(&sql)
        .bind(out_refund_no)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(rows::refund).transpose()
}

async fn audit_in(
    tx: &mut Transaction<'static, Sqlite>,
    entity: &str,
    id: &str,
    from: Option<&str>,
    to: &str,
    cause: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit (entity, entity_id, from_state, to_state, cause, at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(entity)
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(cause)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The payment rules, inside an open write transaction.
pub(super) async fn apply_payment_in(
    tx: &mut Transaction<'static, Sqlite>,
    fact: &PaymentFact,
) -> Result<ApplyOutcome, StoreError> {
    let order = fetch_order(&mut **tx, &fact.out_trade_no).await?;
    let change = match rules::payment(order.as_ref(), fact) {
        Decision::Settled(outcome) => return Ok(outcome),
        Decision::Change(change) => change,
    };
    let updated = sqlx::query(
        "UPDATE orders SET state = ?, transaction_id = COALESCE(transaction_id, ?), paid_at = COALESCE(paid_at, ?), \
         attention = COALESCE(?, attention), version = version + 1, updated_at = ?, last_checked_at = ? \
         WHERE out_trade_no = ? AND version = ?",
    )
    .bind(change.to.as_str())
    .bind(&fact.transaction_id)
    .bind(change.paid_at)
    .bind(&change.attention)
    .bind(fact.at)
    .bind(fact.at)
    .bind(&fact.out_trade_no)
    .bind(change.version)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() != 1 {
        // Impossible under the write lock; refuse rather than guess.
        return Err(StoreError::Corrupt(format!(
            "order {} changed under the write lock",
            fact.out_trade_no
        )));
    }
    audit_in(
        tx,
        "order",
        &fact.out_trade_no,
        Some(change.from.as_str()),
        change.to.as_str(),
        &change.cause,
        fact.at,
    )
    .await?;
    Ok(change.outcome())
}

async fn insert_notification(
    tx: &mut Transaction<'static, Sqlite>,
    record: &NotificationRecord,
    verified_id: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO notifications (kind, claimed_id, verified_id, headers, body, body_len, body_sha256, \
         verification, processing, out_trade_no, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (kind, verified_id) DO NOTHING",
    )
    .bind(&record.kind)
    .bind(&record.claimed_id)
    .bind(verified_id)
    .bind(&record.headers_json)
    .bind(&record.body)
    .bind(i64::try_from(record.body_len).unwrap_or(i64::MAX))
    .bind(&record.body_sha256)
    .bind(&record.verification)
    .bind(&record.processing)
    .bind(&record.out_trade_no)
    .bind(record.received_at)
    .execute(&mut **tx)
    .await?;
    Ok((inserted.rows_affected() == 1).then(|| inserted.last_insert_rowid()))
}

/// Records a verified notification and applies its change, inside an open write
/// transaction: a notification already on file (same kind and verified id) is kept as a
/// duplicate row and changes nothing.
pub(super) async fn apply_notification_in(
    tx: &mut Transaction<'static, Sqlite>,
    record: &NotificationRecord,
    verified_id: &str,
    change: &NotifiedChange,
) -> Result<NotificationOutcome, StoreError> {
    let Some(row_id) = insert_notification(tx, record, Some(verified_id)).await? else {
        let previous: String = sqlx::query_scalar(
            "SELECT processing FROM notifications WHERE kind = ? AND verified_id = ?",
        )
        .bind(&record.kind)
        .bind(verified_id)
        .fetch_one(&mut **tx)
        .await?;
        // Keep the retry itself on file too, as an unverified-id duplicate row.
        let mut retry = record.clone();
        retry.processing = rules::duplicate_label(verified_id);
        insert_notification(tx, &retry, None).await?;
        return Ok(NotificationOutcome::Duplicate { previous });
    };
    let outcome = match change {
        NotifiedChange::Payment(fact) => apply_payment_in(tx, fact).await?,
        NotifiedChange::Refund(fact) => refunds::apply_refund_in(tx, fact).await?,
        NotifiedChange::Ignored => ApplyOutcome::Unchanged,
    };
    sqlx::query("UPDATE notifications SET processing = ? WHERE id = ?")
        .bind(outcome.processing_label())
        .bind(row_id)
        .execute(&mut **tx)
        .await?;
    Ok(NotificationOutcome::Processed(outcome))
}

/// Creates `order` inside an open write transaction, or finds the one its idempotency key
/// made before.
async fn create_order_in(tx: &mut Tx, order: &NewOrder) -> Result<Order, StoreError> {
    if let Some(key) = &order.idempotency_key {
        let sql =
            format!("SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = ? AND idempotency_key = ?");
        if let Some(row) = sqlx::query(&sql)
            .bind(&order.user_id)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?
        {
            return rows::order(&row);
        }
    }
    sqlx::query(
        "INSERT INTO orders (out_trade_no, user_id, idempotency_key, description, amount_fen, state, created_at, \
         updated_at) VALUES (?, ?, ?, ?, ?, 'NOTPAY', ?, ?)",
    )
    .bind(&order.out_trade_no)
    .bind(&order.user_id)
    .bind(&order.idempotency_key)
    .bind(&order.description)
    .bind(order.amount_fen)
    .bind(order.now)
    .bind(order.now)
    .execute(&mut **tx)
    .await?;
    for (product_id, quantity, unit_price) in &order.items {
        sqlx::query("INSERT INTO order_items (out_trade_no, product_id, quantity, unit_price_fen) VALUES (?, ?, ?, ?)")
            .bind(&order.out_trade_no)
            .bind(product_id)
            .bind(quantity)
            .bind(unit_price)
            .execute(&mut **tx)
            .await?;
    }
    audit_in(
        tx,
        "order",
        &order.out_trade_no,
        None,
        "NOTPAY",
        "created",
        order.now,
    )
    .await?;
    let created = fetch_order(&mut **tx, &order.out_trade_no)
        .await?
        .ok_or_else(|| StoreError::Corrupt("order vanished inside its own transaction".into()))?;
    Ok(created)
}

/// A [`NewRefund`] that owns its strings, to travel to the group commit.
struct OwnedRefund {
    out_refund_no: String,
    out_trade_no: String,
    amount_fen: i64,
    reason: Option<String>,
    actor: String,
    now: i64,
}

impl OwnedRefund {
    fn new(refund: &NewRefund<'_>) -> Self {
        Self {
            out_refund_no: refund.out_refund_no.to_owned(),
            out_trade_no: refund.out_trade_no.to_owned(),
            amount_fen: refund.amount_fen,
            reason: refund.reason.map(str::to_owned),
            actor: refund.actor.to_owned(),
            now: refund.now,
        }
    }

    fn borrowed(&self) -> NewRefund<'_> {
        NewRefund {
            out_refund_no: &self.out_refund_no,
            out_trade_no: &self.out_trade_no,
            amount_fen: self.amount_fen,
            reason: self.reason.as_deref(),
            actor: &self.actor,
            now: self.now,
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn upsert_user(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        now: i64,
    ) -> Result<User, StoreError> {
        let (appid, openid) = (appid.to_owned(), openid.to_owned());
        let unionid = unionid.map(str::to_owned);
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    let id = crate::ids::random_id("u");
                    sqlx::query(
                        "INSERT INTO users (id, appid, openid, unionid, created_at) VALUES (?, ?, ?, ?, ?) \
                         ON CONFLICT (appid, openid) DO UPDATE SET unionid = COALESCE(excluded.unionid, users.unionid)",
                    )
                    .bind(&id)
                    .bind(&appid)
                    .bind(&openid)
                    .bind(&unionid)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    let row = sqlx::query(
                        "SELECT id, appid, openid, unionid FROM users WHERE appid = ? AND openid = ?",
                    )
                    .bind(&appid)
                    .bind(&openid)
                    .fetch_one(&mut **tx)
                    .await?;
                    rows::user(&row)
                })
            })
            .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (token_hash, user_id) = (token_hash.to_owned(), user_id.to_owned());
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                    )
                    .bind(&token_hash)
                    .bind(&user_id)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.appid, u.openid, u.unionid FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn upsert_products(&self, products: &[Product]) -> Result<(), StoreError> {
        let products = products.to_vec();
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    for product in &products {
                        sqlx::query(
                            "INSERT INTO products (id, name, price_fen, active) VALUES (?, ?, ?, 1) ON CONFLICT (id) \
                             DO UPDATE SET name = excluded.name, price_fen = excluded.price_fen, active = 1",
                        )
                        .bind(&product.id)
                        .bind(&product.name)
                        .bind(product.price_fen)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT id, name, price_fen FROM products WHERE active = 1 ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, price_fen)| Product {
                id,
                name,
                price_fen,
            })
            .collect())
    }

    async fn create_order(&self, order: NewOrder) -> Result<Order, StoreError> {
        self.group_commit
            .write(move |tx| Box::pin(async move { create_order_in(tx, &order).await }))
            .await
    }

    async fn order(&self, out_trade_no: &str) -> Result<Option<Order>, StoreError> {
        fetch_order(&self.pool, out_trade_no).await
    }

    async fn record_v2_sign_type(
        &self,
        out_trade_no: &str,
        sign_type: V2SignType,
    ) -> Result<(), StoreError> {
        let out_trade_no = out_trade_no.to_owned();
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    sqlx::query("UPDATE orders SET v2_sign_type = ? WHERE out_trade_no = ?")
                        .bind(sign_type.as_str())
                        .bind(&out_trade_no)
                        .execute(&mut **tx)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn save_prepay(
        &self,
        out_trade_no: &str,
        route: PrepayRoute,
        appid: &str,
        prepaid: &Prepaid,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (out_trade_no, channel) = (out_trade_no.to_owned(), route.to_stored());
        let (appid, prepaid) = (appid.to_owned(), prepaid.clone());
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    let saved = sqlx::query(
                        "UPDATE orders SET channel = ?, appid = ?, prepay_id = ?, h5_url = ?, code_url = ?, \
                         prepay_expires_at = ?, version = version + 1, updated_at = ? \
                         WHERE out_trade_no = ? AND state IN ('NOTPAY', 'USERPAYING')",
                    )
                    .bind(&channel)
                    .bind(&appid)
                    .bind(&prepaid.prepay_id)
                    .bind(&prepaid.h5_url)
                    .bind(&prepaid.code_url)
                    .bind(expires_at)
                    .bind(now)
                    .bind(&out_trade_no)
                    .execute(&mut **tx)
                    .await?;
                    Ok(saved.rows_affected() == 1)
                })
            })
            .await
    }

    async fn mark_checked(&self, out_trade_no: &str, now: i64) -> Result<(), StoreError> {
        let out_trade_no = out_trade_no.to_owned();
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE orders SET last_checked_at = ?, lease_owner = NULL, lease_until = NULL \
                         WHERE out_trade_no = ?",
                    )
                    .bind(now)
                    .bind(&out_trade_no)
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn apply_payment(&self, fact: &PaymentFact) -> Result<ApplyOutcome, StoreError> {
        let fact = fact.clone();
        self.group_commit
            .write(move |tx| Box::pin(async move { apply_payment_in(tx, &fact).await }))
            .await
    }

    async fn record_notification(&self, record: &NotificationRecord) -> Result<i64, StoreError> {
        let record = record.clone();
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    insert_notification(tx, &record, None)
                        .await?
                        .ok_or_else(|| {
                            StoreError::Corrupt("unverified notification insert ignored".into())
                        })
                })
            })
            .await
    }

    async fn apply_notification(
        &self,
        record: &NotificationRecord,
        verified_id: &str,
        change: &NotifiedChange,
    ) -> Result<NotificationOutcome, StoreError> {
        let (record, change) = (record.clone(), change.clone());
        let verified_id = verified_id.to_owned();
        self.group_commit
            .write(move |tx| {
                Box::pin(
                    async move { apply_notification_in(tx, &record, &verified_id, &change).await },
                )
            })
            .await
    }

    async fn notifications(
        &self,
        out_trade_no: Option<&str>,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE (? IS NULL OR out_trade_no = ?) ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(out_trade_no)
            .bind(out_trade_no)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::notification).collect()
    }

    async fn create_refund(
        &self,
        out_refund_no: &str,
        out_trade_no: &str,
        amount_fen: i64,
        reason: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<Result<Refund, RefundRefusal>, StoreError> {
        let refund = OwnedRefund::new(&NewRefund {
            out_refund_no,
            out_trade_no,
            amount_fen,
            reason,
            actor,
            now,
        });
        self.group_commit
            .write(move |tx| {
                Box::pin(async move { refunds::reserve_in(tx, &refund.borrowed(), None).await })
            })
            .await
    }

    async fn create_refund_once(
        &self,
        refund: &NewRefund<'_>,
        idempotency_key: &str,
    ) -> Result<Result<RefundCreation, RefundRefusal>, StoreError> {
        let refund = OwnedRefund::new(refund);
        let key = idempotency_key.to_owned();
        self.group_commit
            .write(move |tx| {
                Box::pin(
                    async move { refunds::reserve_once_in(tx, &refund.borrowed(), &key).await },
                )
            })
            .await
    }

    async fn refund(&self, out_refund_no: &str) -> Result<Option<Refund>, StoreError> {
        fetch_refund(&self.pool, out_refund_no).await
    }

    async fn apply_refund(&self, fact: &RefundFact) -> Result<ApplyOutcome, StoreError> {
        let fact = fact.clone();
        self.group_commit
            .write(move |tx| Box::pin(async move { refunds::apply_refund_in(tx, &fact).await }))
            .await
    }

    async fn claim_pending_orders(
        &self,
        owner: &str,
        now: i64,
        created_before: i64,
        checked_before: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Order>, StoreError> {
        // One statement: SQLite runs it under the write lock, so two workers never lease the
        // same row.
        let sql = format!(
            "UPDATE orders SET lease_owner = ?, lease_until = ? WHERE out_trade_no IN (\
             SELECT out_trade_no FROM orders WHERE state IN ('NOTPAY', 'USERPAYING') AND created_at <= ? \
             AND COALESCE(last_checked_at, 0) <= ? AND COALESCE(lease_until, 0) < ? ORDER BY created_at LIMIT ?) \
             RETURNING {ORDER_COLUMNS}"
        );
        let owner = owner.to_owned();
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    let rows = sqlx::query(&sql)
                        .bind(&owner)
                        .bind(lease_until)
                        .bind(created_before)
                        .bind(checked_before)
                        .bind(now)
                        .bind(limit)
                        .fetch_all(&mut **tx)
                        .await?;
                    let mut claimed = rows
                        .iter()
                        .map(rows::order)
                        .collect::<Result<Vec<_>, _>>()?;
                    claimed.sort_by_key(|o| o.created_at);
                    Ok(claimed)
                })
            })
            .await
    }

    async fn claim_processing_refunds(
        &self,
        owner: &str,
        now: i64,
        created_before: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Refund>, StoreError> {
        let sql = format!(
            "UPDATE refunds SET lease_owner = ?, lease_until = ? WHERE out_refund_no IN (\
             SELECT out_refund_no FROM refunds WHERE status = 'PROCESSING' AND created_at <= ? \
             AND COALESCE(lease_until, 0) < ? ORDER BY created_at LIMIT ?) RETURNING {REFUND_COLUMNS}"
        );
        let owner = owner.to_owned();
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    let rows = sqlx::query(&sql)
                        .bind(&owner)
                        .bind(lease_until)
                        .bind(created_before)
                        .bind(now)
                        .bind(limit)
                        .fetch_all(&mut **tx)
                        .await?;
                    let mut claimed = rows
                        .iter()
                        .map(rows::refund)
                        .collect::<Result<Vec<_>, _>>()?;
                    claimed.sort_by_key(|r| r.created_at);
                    Ok(claimed)
                })
            })
            .await
    }

    async fn orders_needing_attention(&self, limit: i64) -> Result<Vec<Order>, StoreError> {
        attention::list(&self.pool, limit).await
    }

    async fn resolve_attention(
        &self,
        out_trade_no: &str,
        note: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (out_trade_no, note) = (out_trade_no.to_owned(), note.to_owned());
        let actor = actor.to_owned();
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    attention::resolve_in(tx, &out_trade_no, &note, &actor, now).await
                })
            })
            .await
    }

    async fn audit(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query("SELECT from_state, to_state, cause FROM audit WHERE entity = ? AND entity_id = ? ORDER BY id")
            .bind(entity)
            .bind(entity_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::audit).collect()
    }

    async fn credential(&self, name: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM credentials WHERE name = ? AND expires_at > ?")
                .bind(name)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn put_credential(
        &self,
        name: &str,
        value: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO credentials (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) \
                         DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                    )
                    .bind(&name)
                    .bind(&value)
                    .bind(expires_at)
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn drop_credential(&self, name: &str, value: &str) -> Result<bool, StoreError> {
        self.delete_credential(name.to_owned(), value.to_owned())
            .await
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let (row, holder) = (super::lease_row(name), holder.to_owned());
        self.group_commit
            .write(move |tx| {
                Box::pin(async move {
                    let taken = sqlx::query(
                        "INSERT INTO credentials (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) \
                         DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at \
                         WHERE credentials.expires_at <= ? OR credentials.value = excluded.value",
                    )
                    .bind(&row)
                    .bind(&holder)
                    .bind(until)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    Ok(taken.rows_affected() == 1)
                })
            })
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.delete_credential(super::lease_row(name), holder.to_owned())
            .await
            .map(|_| ())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn order_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT state, COUNT(*) FROM orders GROUP BY state ORDER BY state")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

#[path = "sqlite_attention.rs"]
mod attention;
#[path = "sqlite_group_commit.rs"]
mod group_commit;
#[path = "sqlite_reconcile.rs"]
mod reconcile;
#[path = "sqlite_refunds.rs"]
mod refunds;
