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
//! groups on the writer's own thread (`sqlite_group_commit.rs`) so that concurrent ones
//! share one fsync; reads run on the thread that asks (`sqlite_read.rs`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use wxpay_core::v2::sign::SignType as V2SignType;

use crate::config::Synchronous;

use group_commit::GroupCommit;
use read::Readers;

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

/// How long a writer waits for another process's write lock (several servers may share
/// one file) before its write fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements the writer keeps: every write's SQL, with room to spare.
const WRITER_STATEMENTS: usize = 64;

/// [`Store`] on a SQLite file.
///
/// Through rusqlite: sqlx (the PostgreSQL engine's driver) only migrates the file at start.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// The readers, used on the caller's thread.
    pub(super) readers: Arc<Readers>,
    /// The one connection that writes, on its own thread: every INSERT, UPDATE and DELETE
    /// goes through it, in batches with one commit each.
    pub(super) writer: GroupCommit,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://file.db`) and migrates it;
    /// up to `max_connections` readers are kept open.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, max_connections, Synchronous::Full).await
    }

    /// [`Self::connect`] with the WAL's sync policy chosen (`[database] synchronous`).
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        synchronous: Synchronous,
    ) -> Result<Self, StoreError> {
        let (sqlx_synchronous, pragma) = match synchronous {
            Synchronous::Normal => (SqliteSynchronous::Normal, "NORMAL"),
            Synchronous::Full => (SqliteSynchronous::Full, "FULL"),
        };
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx_synchronous)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // Migrated on a connection of its own, closed before the writer opens the file.
        let migrator = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrations::migrator(SQLITE).run(&migrator).await?;
        migrator.close().await;
        // One connection writes; the others read. SQLite admits one writer at a time anyway,
        // and writers that meet in SQLite wait in its busy handler, which sleeps in growing
        // steps: under concurrent notifications that, not the work, set the pace (bench-load:
        // 8 and 32 concurrent notifications ran slower than 1). Queued for the one writer
        // instead, each batch starts the moment the previous one commits.
        let db = Connection::open(options.get_filename())?;
        db.busy_timeout(BUSY_TIMEOUT)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", pragma)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        let writer = GroupCommit::start(db)?;
        let readers = Readers::open(
            options.get_filename().to_owned(),
            BUSY_TIMEOUT,
            usize::try_from(max_connections).unwrap_or(usize::MAX),
        )?;
        Ok(Self { readers, writer })
    }

    /// Deletes the `credentials` row `name` if it holds `value`: whether it did.
    async fn delete_credential(&self, name: String, value: String) -> Result<bool, StoreError> {
        self.writer
            .write(move |db| {
                let deleted = db
                    .prepare_cached("DELETE FROM credentials WHERE name = ? AND value = ?")?
                    .execute(params![name, value])?;
                Ok(deleted == 1)
            })
            .await
    }
}

/// One order by number (on a reader, or inside a write).
fn order_in(db: &Connection, out_trade_no: &str) -> Result<Option<Order>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE out_trade_no = ?");
    let mut statement = db.prepare_cached(&sql)?;
    let mut found = statement.query([out_trade_no])?;
    found.next()?.map(rows::order).transpose()
}

/// One refund by number (on a reader, or inside a write).
fn refund_in(db: &Connection, out_refund_no: &str) -> Result<Option<Refund>, StoreError> {
    let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE out_refund_no = ?");
    let mut statement = db.prepare_cached(&sql)?;
    let mut found = statement.query([out_refund_no])?;
    found.next()?.map(rows::refund).transpose()
}

fn audit_in(
    db: &Connection,
    entity: &str,
    id: &str,
    from: Option<&str>,
    to: &str,
    cause: &str,
    at: i64,
) -> Result<(), StoreError> {
    db.prepare_cached(
        "INSERT INTO audit (entity, entity_id, from_state, to_state, cause, at) VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![entity, id, from, to, cause, at])?;
    Ok(())
}

/// The payment rules, inside a write.
pub(super) fn apply_payment_in(
    db: &Connection,
    fact: &PaymentFact,
) -> Result<ApplyOutcome, StoreError> {
    let order = order_in(db, &fact.out_trade_no)?;
    let change = match rules::payment(order.as_ref(), fact) {
        Decision::Settled(outcome) => return Ok(outcome),
        Decision::Change(change) => change,
    };
    let updated = db
        .prepare_cached(
            "UPDATE orders SET state = ?, transaction_id = COALESCE(transaction_id, ?), paid_at = COALESCE(paid_at, ?), \
             attention = COALESCE(?, attention), version = version + 1, updated_at = ?, last_checked_at = ? \
             WHERE out_trade_no = ? AND version = ?",
        )?
        .execute(params![
            change.to.as_str(),
            fact.transaction_id,
            change.paid_at,
            change.attention,
            fact.at,
            fact.at,
            fact.out_trade_no,
            change.version,
        ])?;
    if updated != 1 {
        // Impossible under the write lock; refuse rather than guess.
        return Err(StoreError::Corrupt(format!(
            "order {} changed under the write lock",
            fact.out_trade_no
        )));
    }
    audit_in(
        db,
        "order",
        &fact.out_trade_no,
        Some(change.from.as_str()),
        change.to.as_str(),
        &change.cause,
        fact.at,
    )?;
    Ok(change.outcome())
}

fn insert_notification(
    db: &Connection,
    record: &NotificationRecord,
    verified_id: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    let inserted = db
        .prepare_cached(
            "INSERT INTO notifications (kind, claimed_id, verified_id, headers, body, body_len, body_sha256, \
             verification, processing, out_trade_no, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (kind, verified_id) DO NOTHING",
        )?
        .execute(params![
            record.kind,
            record.claimed_id,
            verified_id,
            record.headers_json,
            record.body,
            i64::try_from(record.body_len).unwrap_or(i64::MAX),
            record.body_sha256,
            record.verification,
            record.processing,
            record.out_trade_no,
            record.received_at,
        ])?;
    Ok((inserted == 1).then(|| db.last_insert_rowid()))
}

/// Records a verified notification and applies its change, inside a write: a notification
/// already on file (same kind and verified id) is kept as a duplicate row and changes
/// nothing.
pub(super) fn apply_notification_in(
    db: &Connection,
    record: &NotificationRecord,
    verified_id: &str,
    change: &NotifiedChange,
) -> Result<NotificationOutcome, StoreError> {
    let Some(row_id) = insert_notification(db, record, Some(verified_id))? else {
        let previous: String = db
            .prepare_cached(
                "SELECT processing FROM notifications WHERE kind = ? AND verified_id = ?",
            )?
            .query_row(params![record.kind, verified_id], |row| row.get(0))?;
        // Keep the retry itself on file too, as an unverified-id duplicate row.
        let mut retry = record.clone();
        retry.processing = rules::duplicate_label(verified_id);
        insert_notification(db, &retry, None)?;
        return Ok(NotificationOutcome::Duplicate { previous });
    };
    let outcome = match change {
        NotifiedChange::Payment(fact) => apply_payment_in(db, fact)?,
        NotifiedChange::Refund(fact) => refunds::apply_refund_in(db, fact)?,
        NotifiedChange::Ignored => ApplyOutcome::Unchanged,
    };
    db.prepare_cached("UPDATE notifications SET processing = ? WHERE id = ?")?
        .execute(params![outcome.processing_label(), row_id])?;
    Ok(NotificationOutcome::Processed(outcome))
}

/// Creates `order` inside a write, or finds the one its idempotency key made before.
fn create_order_in(db: &Connection, order: &NewOrder) -> Result<Order, StoreError> {
    if let Some(key) = &order.idempotency_key {
        let sql =
            format!("SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = ? AND idempotency_key = ?");
        let mut statement = db.prepare_cached(&sql)?;
        let mut found = statement.query(params![order.user_id, key])?;
        if let Some(row) = found.next()? {
            return rows::order(row);
        }
    }
    db.prepare_cached(
        "INSERT INTO orders (out_trade_no, user_id, idempotency_key, description, amount_fen, state, created_at, \
         updated_at) VALUES (?, ?, ?, ?, ?, 'NOTPAY', ?, ?)",
    )?
    .execute(params![
        order.out_trade_no,
        order.user_id,
        order.idempotency_key,
        order.description,
        order.amount_fen,
        order.now,
        order.now,
    ])?;
    let mut item = db.prepare_cached(
        "INSERT INTO order_items (out_trade_no, product_id, quantity, unit_price_fen) VALUES (?, ?, ?, ?)",
    )?;
    for (product_id, quantity, unit_price) in &order.items {
        item.execute(params![
            order.out_trade_no,
            product_id,
            quantity,
            unit_price
        ])?;
    }
    audit_in(
        db,
        "order",
        &order.out_trade_no,
        None,
        "NOTPAY",
        "created",
        order.now,
    )?;
    order_in(db, &order.out_trade_no)?
        .ok_or_else(|| StoreError::Corrupt("order vanished inside its own transaction".into()))
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
        self.writer
            .write(move |db| {
                let id = crate::ids::random_id("u");
                db.prepare_cached(
                    "INSERT INTO users (id, appid, openid, unionid, created_at) VALUES (?, ?, ?, ?, ?) \
                     ON CONFLICT (appid, openid) DO UPDATE SET unionid = COALESCE(excluded.unionid, users.unionid)",
                )?
                .execute(params![id, appid, openid, unionid, now])?;
                let mut statement = db.prepare_cached(
                    "SELECT id, appid, openid, unionid FROM users WHERE appid = ? AND openid = ?",
                )?;
                let mut found = statement.query(params![appid, openid])?;
                match found.next()? {
                    Some(row) => rows::user(row),
                    None => Err(StoreError::Corrupt("user vanished inside its own transaction".into())),
                }
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
        self.writer
            .write(move |db| {
                db.prepare_cached(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                )?
                .execute(params![token_hash, user_id, now, expires_at])?;
                Ok(())
            })
            .await
    }

    async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>, StoreError> {
        self.readers.read(|db| {
            let mut statement = db.prepare_cached(
                "SELECT u.id, u.appid, u.openid, u.unionid FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = ? AND s.expires_at > ?",
            )?;
            let mut found = statement.query(params![token_hash, now])?;
            found.next()?.map(rows::user).transpose()
        })
    }

    async fn upsert_products(&self, products: &[Product]) -> Result<(), StoreError> {
        let products = products.to_vec();
        self.writer
            .write(move |db| {
                let mut upsert = db.prepare_cached(
                    "INSERT INTO products (id, name, price_fen, active) VALUES (?, ?, ?, 1) ON CONFLICT (id) \
                     DO UPDATE SET name = excluded.name, price_fen = excluded.price_fen, active = 1",
                )?;
                for product in &products {
                    upsert.execute(params![product.id, product.name, product.price_fen])?;
                }
                Ok(())
            })
            .await
    }

    async fn products(&self) -> Result<Vec<Product>, StoreError> {
        self.readers.read(|db| {
            let mut statement = db.prepare_cached(
                "SELECT id, name, price_fen FROM products WHERE active = 1 ORDER BY id",
            )?;
            let products = statement.query_map([], |row| {
                Ok(Product {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    price_fen: row.get(2)?,
                })
            })?;
            Ok(products.collect::<Result<_, _>>()?)
        })
    }

    async fn create_order(&self, order: NewOrder) -> Result<Order, StoreError> {
        self.writer
            .write(move |db| create_order_in(db, &order))
            .await
    }

    async fn order(&self, out_trade_no: &str) -> Result<Option<Order>, StoreError> {
        self.readers.read(|db| order_in(db, out_trade_no))
    }

    async fn record_v2_sign_type(
        &self,
        out_trade_no: &str,
        sign_type: V2SignType,
    ) -> Result<(), StoreError> {
        let out_trade_no = out_trade_no.to_owned();
        self.writer
            .write(move |db| {
                db.prepare_cached("UPDATE orders SET v2_sign_type = ? WHERE out_trade_no = ?")?
                    .execute(params![sign_type.as_str(), out_trade_no])?;
                Ok(())
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
        self.writer
            .write(move |db| {
                let saved = db
                    .prepare_cached(
                        "UPDATE orders SET channel = ?, appid = ?, prepay_id = ?, h5_url = ?, code_url = ?, \
                         prepay_expires_at = ?, version = version + 1, updated_at = ? \
                         WHERE out_trade_no = ? AND state IN ('NOTPAY', 'USERPAYING')",
                    )?
                    .execute(params![
                        channel,
                        appid,
                        prepaid.prepay_id,
                        prepaid.h5_url,
                        prepaid.code_url,
                        expires_at,
                        now,
                        out_trade_no,
                    ])?;
                Ok(saved == 1)
            })
            .await
    }

    async fn mark_checked(&self, out_trade_no: &str, now: i64) -> Result<(), StoreError> {
        let out_trade_no = out_trade_no.to_owned();
        self.writer
            .write(move |db| {
                db.prepare_cached(
                    "UPDATE orders SET last_checked_at = ?, lease_owner = NULL, lease_until = NULL \
                     WHERE out_trade_no = ?",
                )?
                .execute(params![now, out_trade_no])?;
                Ok(())
            })
            .await
    }

    async fn apply_payment(&self, fact: &PaymentFact) -> Result<ApplyOutcome, StoreError> {
        let fact = fact.clone();
        self.writer
            .write(move |db| apply_payment_in(db, &fact))
            .await
    }

    async fn record_notification(&self, record: &NotificationRecord) -> Result<i64, StoreError> {
        let record = record.clone();
        self.writer
            .write(move |db| {
                insert_notification(db, &record, None)?.ok_or_else(|| {
                    StoreError::Corrupt("unverified notification insert ignored".into())
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
        self.writer
            .write(move |db| apply_notification_in(db, &record, &verified_id, &change))
            .await
    }

    async fn notifications(
        &self,
        out_trade_no: Option<&str>,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        // Every notification on file when no order is named: no bound, so off this thread.
        let out_trade_no = out_trade_no.map(str::to_owned);
        self.readers
            .scan(move |db| {
                let sql = format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE (?1 IS NULL OR out_trade_no = ?1) ORDER BY id"
                );
                let mut statement = db.prepare_cached(&sql)?;
                let mut found = statement.query([out_trade_no])?;
                let mut notifications = Vec::new();
                while let Some(row) = found.next()? {
                    notifications.push(rows::notification(row)?);
                }
                Ok(notifications)
            })
            .await
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
        self.writer
            .write(move |db| refunds::reserve_in(db, &refund.borrowed(), None))
            .await
    }

    async fn create_refund_once(
        &self,
        refund: &NewRefund<'_>,
        idempotency_key: &str,
    ) -> Result<Result<RefundCreation, RefundRefusal>, StoreError> {
        let refund = OwnedRefund::new(refund);
        let key = idempotency_key.to_owned();
        self.writer
            .write(move |db| refunds::reserve_once_in(db, &refund.borrowed(), &key))
            .await
    }

    async fn refund(&self, out_refund_no: &str) -> Result<Option<Refund>, StoreError> {
        self.readers.read(|db| refund_in(db, out_refund_no))
    }

    async fn apply_refund(&self, fact: &RefundFact) -> Result<ApplyOutcome, StoreError> {
        let fact = fact.clone();
        self.writer
            .write(move |db| refunds::apply_refund_in(db, &fact))
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
        self.writer
            .write(move |db| {
                let mut statement = db.prepare_cached(&sql)?;
                let mut found = statement.query(params![
                    owner,
                    lease_until,
                    created_before,
                    checked_before,
                    now,
                    limit
                ])?;
                let mut claimed = Vec::new();
                while let Some(row) = found.next()? {
                    claimed.push(rows::order(row)?);
                }
                claimed.sort_by_key(|o| o.created_at);
                Ok(claimed)
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
        self.writer
            .write(move |db| {
                let mut statement = db.prepare_cached(&sql)?;
                let mut found =
                    statement.query(params![owner, lease_until, created_before, now, limit])?;
                let mut claimed = Vec::new();
                while let Some(row) = found.next()? {
                    claimed.push(rows::refund(row)?);
                }
                claimed.sort_by_key(|r| r.created_at);
                Ok(claimed)
            })
            .await
    }

    async fn orders_needing_attention(&self, limit: i64) -> Result<Vec<Order>, StoreError> {
        self.readers.read(|db| attention::list(db, limit))
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
        self.writer
            .write(move |db| attention::resolve_in(db, &out_trade_no, &note, &actor, now))
            .await
    }

    async fn audit(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditRow>, StoreError> {
        self.readers.read(|db| {
            let mut statement = db.prepare_cached(
                "SELECT from_state, to_state, cause FROM audit WHERE entity = ? AND entity_id = ? ORDER BY id",
            )?;
            let mut found = statement.query(params![entity, entity_id])?;
            let mut audit = Vec::new();
            while let Some(row) = found.next()? {
                audit.push(rows::audit(row)?);
            }
            Ok(audit)
        })
    }

    async fn credential(&self, name: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.readers.read(|db| {
            Ok(db
                .prepare_cached("SELECT value FROM credentials WHERE name = ? AND expires_at > ?")?
                .query_row(params![name, now], |row| row.get(0))
                .optional()?)
        })
    }

    async fn put_credential(
        &self,
        name: &str,
        value: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.writer
            .write(move |db| {
                db.prepare_cached(
                    "INSERT INTO credentials (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) \
                     DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                )?
                .execute(params![name, value, expires_at])?;
                Ok(())
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
        self.writer
            .write(move |db| {
                let taken = db
                    .prepare_cached(
                        "INSERT INTO credentials (name, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) \
                         DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at \
                         WHERE credentials.expires_at <= ? OR credentials.value = excluded.value",
                    )?
                    .execute(params![row, holder, until, now])?;
                Ok(taken == 1)
            })
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.delete_credential(super::lease_row(name), holder.to_owned())
            .await
            .map(|_| ())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // A store that can read but no longer write is not ready either.
        if self.writer.stopped() {
            return Err(StoreError::GroupCommitStopped);
        }
        self.readers
            .read(|db| Ok(db.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    async fn order_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        // Counts every order: no bound, so off this thread.
        self.readers
            .scan(|db| {
                let mut statement = db.prepare_cached(
                    "SELECT state, COUNT(*) FROM orders GROUP BY state ORDER BY state",
                )?;
                let counts = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
                Ok(counts.collect::<Result<_, _>>()?)
            })
            .await
    }
}

#[path = "sqlite_attention.rs"]
mod attention;
#[path = "sqlite_group_commit.rs"]
mod group_commit;
#[path = "sqlite_read.rs"]
mod read;
#[path = "sqlite_reconcile.rs"]
mod reconcile;
#[path = "sqlite_refunds.rs"]
mod refunds;
