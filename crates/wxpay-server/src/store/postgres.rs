//! The PostgreSQL store, for several server instances on one database.
//!
//! The rules are [`rules`]'; this file holds the SQL and the locking. Every change to an
//! order or a refund reads its row `FOR UPDATE` first, so two instances applying facts to
//! the same order take turns and the second sees the first one's committed result (READ
//! COMMITTED re-reads a row once its lock is granted). The update is guarded by the
//! version read as well. A notification is unique per kind and verified id: of two
//! instances inserting the same one, the second waits for the first transaction and then
//! finds the conflict. Workers claim stale rows with `FOR UPDATE SKIP LOCKED` and a lease,
//! so no two instances query the same order in one round.

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use wxpay_core::v2::sign::SignType as V2SignType;

use super::migrations::{self, POSTGRES};
use super::rows::{self, NOTIFICATION_COLUMNS, ORDER_COLUMNS, REFUND_COLUMNS};
use super::rules::{self, Decision};
use super::Prepaid;
use super::{
    ApplyOutcome, AuditRow, NewOrder, NewRefund, NotificationOutcome, NotificationRecord,
    NotifiedChange, Order, PaymentFact, Product, Refund, RefundCreation, RefundFact, RefundRefusal,
    Store, StoreError, StoredNotification, User,
};
use crate::channel::PrepayRoute;

/// [`Store`] on a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgStore {
    pub(super) pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and migrates the database (the migrator holds an
    /// advisory lock, so instances starting together migrate once).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse()?;
        Self::connect_with(options, max_connections).await
    }

    /// [`Self::connect`] with the connection options built by the caller.
    pub async fn connect_with(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .connect_with(options)
            .await?;
        migrations::migrator(POSTGRES).run(&pool).await?;
        Ok(Self { pool })
    }

    async fn tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// One order by number (no lock), through the pool or an open transaction.
async fn fetch_order<'e>(
    db: impl PgExecutor<'e>,
    out_trade_no: &str,
) -> Result<Option<Order>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE out_trade_no = $1");
    let row = sqlx::query(&sql)
        .bind(out_trade_no)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(rows::order).transpose()
}

/// One order by number, locked until the transaction ends.
pub(super) async fn lock_order(
    tx: &mut Transaction<'static, Postgres>,
    out_trade_no: &str,
) -> Result<Option<Order>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE out_trade_no = $1 FOR UPDATE");
    let row = sqlx::query(&sql)
        .bind(out_trade_no)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(rows::order).transpose()
}

/// One refund by number; `FOR UPDATE` when `lock`.
async fn fetch_refund<'e>(
    db: impl PgExecutor<'e>,
    out_refund_no: &str,
    lock: bool,
) -> Result<Option<Refund>, StoreError> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE out_refund_no = $1{lock}");
    let row = sqlx::query(&sql)
        .bind(out_refund_no)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(rows::refund).transpose()
}

/// Serialises the transactions that use `key` (an idempotency key with no row to lock
/// yet) until they end.
async fn lock_key(tx: &mut Transaction<'static, Postgres>, key: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn audit_in(
    tx: &mut Transaction<'static, Postgres>,
    entity: &str,
    id: &str,
    from: Option<&str>,
    to: &str,
    cause: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit (entity, entity_id, from_state, to_state, cause, at) VALUES ($1, $2, $3, $4, $5, $6)")
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

/// Applies a payment fact inside an open transaction, the order locked first.
pub(super) async fn apply_payment_in(
    tx: &mut Transaction<'static, Postgres>,
    fact: &PaymentFact,
) -> Result<ApplyOutcome, StoreError> {
    let order = lock_order(tx, &fact.out_trade_no).await?;
    let change = match rules::payment(order.as_ref(), fact) {
        Decision::Settled(outcome) => return Ok(outcome),
        Decision::Change(change) => change,
    };
    let updated = sqlx::query(
        "UPDATE orders SET state = $1, transaction_id = COALESCE(transaction_id, $2), paid_at = COALESCE(paid_at, $3), \
         attention = COALESCE($4, attention), version = version + 1, updated_at = $5, last_checked_at = $5 \
         WHERE out_trade_no = $6 AND version = $7",
    )
    .bind(change.to.as_str())
    .bind(&fact.transaction_id)
    .bind(change.paid_at)
    .bind(&change.attention)
    .bind(fact.at)
    .bind(&fact.out_trade_no)
    .bind(change.version)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(StoreError::Corrupt(format!(
            "order {} changed under its row lock",
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

/// Applies a refund fact inside an open transaction: the order is locked before the
/// refund (the order reservations' order too), so the two never wait on each other.
async fn apply_refund_in(
    tx: &mut Transaction<'static, Postgres>,
    fact: &RefundFact,
) -> Result<ApplyOutcome, StoreError> {
    let order = match fetch_refund(&mut **tx, &fact.out_refund_no, false).await? {
        Some(unlocked) => lock_order(tx, &unlocked.out_trade_no).await?,
        None => None,
    };
    let refund = fetch_refund(&mut **tx, &fact.out_refund_no, true).await?;
    let change = match rules::refund(refund.as_ref(), fact) {
        Decision::Settled(outcome) => return Ok(outcome),
        Decision::Change(change) => change,
    };
    sqlx::query(
        "UPDATE refunds SET status = $1, refund_id = COALESCE(refund_id, $2), version = version + 1, updated_at = $3 \
         WHERE out_refund_no = $4",
    )
    .bind(change.to.as_str())
    .bind(&fact.refund_id)
    .bind(fact.at)
    .bind(&fact.out_refund_no)
    .execute(&mut **tx)
    .await?;
    let (from, to) = (change.from.as_str(), change.to.as_str());
    audit_in(
        tx,
        "refund",
        &fact.out_refund_no,
        Some(from),
        to,
        &fact.cause,
        fact.at,
    )
    .await?;
    if change.credits_order() {
        sqlx::query(
            "UPDATE orders SET refunded_fen = refunded_fen + $1, state = 'REFUND', version = version + 1, \
             updated_at = $2 WHERE out_trade_no = $3",
        )
        .bind(change.amount_fen)
        .bind(fact.at)
        .bind(&change.out_trade_no)
        .execute(&mut **tx)
        .await?;
        if rules::refund_moves_order(order.as_ref().map(|o| o.state.as_str())) {
            let no = &change.out_trade_no;
            audit_in(
                tx,
                "order",
                no,
                Some("SUCCESS"),
                "REFUND",
                &fact.cause,
                fact.at,
            )
            .await?;
        }
    }
    Ok(change.outcome())
}

/// Reserves a refund (under `key` when given) inside an open transaction: the order row
/// lock serialises reservations against one order across instances.
async fn reserve_in(
    tx: &mut Transaction<'static, Postgres>,
    refund: &NewRefund<'_>,
    key: Option<&str>,
) -> Result<Result<Refund, RefundRefusal>, StoreError> {
    let order = lock_order(tx, refund.out_trade_no).await?;
    let order = match rules::refundable_order(order.as_ref()) {
        Ok(order) => order,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let reserved: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(amount_fen), 0)::BIGINT FROM refunds WHERE out_trade_no = $1 AND status <> 'CLOSED'",
    )
    .bind(refund.out_trade_no)
    .fetch_one(&mut **tx)
    .await?;
    if let Err(refusal) = rules::fits(order, reserved, refund.amount_fen) {
        return Ok(Err(refusal));
    }
    sqlx::query(
        "INSERT INTO refunds (out_refund_no, out_trade_no, amount_fen, status, reason, idempotency_key, \
         request_fingerprint, created_at, updated_at) VALUES ($1, $2, $3, 'PROCESSING', $4, $5, $6, $7, $7)",
    )
    .bind(refund.out_refund_no)
    .bind(refund.out_trade_no)
    .bind(refund.amount_fen)
    .bind(refund.reason)
    .bind(key)
    .bind(key.map(|_| rules::fingerprint(refund)))
    .bind(refund.now)
    .execute(&mut **tx)
    .await?;
    let cause = format!("created_by:{}", refund.actor);
    let no = refund.out_refund_no;
    audit_in(tx, "refund", no, None, "PROCESSING", &cause, refund.now).await?;
    Ok(Ok(rules::reserved_refund(refund)))
}

async fn insert_notification(
    tx: &mut Transaction<'static, Postgres>,
    record: &NotificationRecord,
    verified_id: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO notifications (kind, claimed_id, verified_id, headers, body, body_len, body_sha256, \
         verification, processing, out_trade_no, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (kind, verified_id) DO NOTHING RETURNING id",
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
    .fetch_optional(&mut **tx)
    .await?)
}

#[async_trait]
impl Store for PgStore {
    async fn upsert_user(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        now: i64,
    ) -> Result<User, StoreError> {
        let row = sqlx::query(
            "INSERT INTO users (id, appid, openid, unionid, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (appid, openid) DO UPDATE SET unionid = COALESCE(excluded.unionid, users.unionid) \
             RETURNING id, appid, openid, unionid",
        )
        .bind(crate::ids::random_id("u"))
        .bind(appid)
        .bind(openid)
        .bind(unionid)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        rows::user(&row)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.appid, u.openid, u.unionid FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn upsert_products(&self, products: &[Product]) -> Result<(), StoreError> {
        let mut tx = self.tx().await?;
        for product in products {
            sqlx::query(
                "INSERT INTO products (id, name, price_fen, active) VALUES ($1, $2, $3, 1) ON CONFLICT (id) DO UPDATE \
                 SET name = excluded.name, price_fen = excluded.price_fen, active = 1",
            )
            .bind(&product.id)
            .bind(&product.name)
            .bind(product.price_fen)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
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
        let mut tx = self.tx().await?;
        if let Some(key) = &order.idempotency_key {
            lock_key(&mut tx, &format!("order:{}:{key}", order.user_id)).await?;
            let sql = format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = $1 AND idempotency_key = $2"
            );
            if let Some(row) = sqlx::query(&sql)
                .bind(&order.user_id)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?
            {
                return rows::order(&row);
            }
        }
        sqlx::query(
            "INSERT INTO orders (out_trade_no, user_id, idempotency_key, description, amount_fen, state, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, 'NOTPAY', $6, $6)",
        )
        .bind(&order.out_trade_no)
        .bind(&order.user_id)
        .bind(&order.idempotency_key)
        .bind(&order.description)
        .bind(order.amount_fen)
        .bind(order.now)
        .execute(&mut *tx)
        .await?;
        for (product_id, quantity, unit_price) in &order.items {
            sqlx::query("INSERT INTO order_items (out_trade_no, product_id, quantity, unit_price_fen) VALUES ($1, $2, $3, $4)")
                .bind(&order.out_trade_no)
                .bind(product_id)
                .bind(quantity)
                .bind(unit_price)
                .execute(&mut *tx)
                .await?;
        }
        let no = &order.out_trade_no;
        audit_in(&mut tx, "order", no, None, "NOTPAY", "created", order.now).await?;
        let created = fetch_order(&mut *tx, no).await?.ok_or_else(|| {
            StoreError::Corrupt("order vanished inside its own transaction".into())
        })?;
        tx.commit().await?;
        Ok(created)
    }

    async fn order(&self, out_trade_no: &str) -> Result<Option<Order>, StoreError> {
        fetch_order(&self.pool, out_trade_no).await
    }

    async fn record_v2_sign_type(
        &self,
        out_trade_no: &str,
        sign_type: V2SignType,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE orders SET v2_sign_type = $1 WHERE out_trade_no = $2")
            .bind(sign_type.as_str())
            .bind(out_trade_no)
            .execute(&self.pool)
            .await?;
        Ok(())
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
        // One statement: the state condition is re-checked on the row's latest version.
        let saved = sqlx::query(
            "UPDATE orders SET channel = $1, appid = $2, prepay_id = $3, h5_url = $4, code_url = $5, prepay_expires_at = $6, \
             version = version + 1, updated_at = $7 WHERE out_trade_no = $8 AND state IN ('NOTPAY', 'USERPAYING')",
        )
        .bind(route.to_stored())
        .bind(appid)
        .bind(&prepaid.prepay_id)
        .bind(&prepaid.h5_url)
        .bind(&prepaid.code_url)
        .bind(expires_at)
        .bind(now)
        .bind(out_trade_no)
        .execute(&self.pool)
        .await?;
        Ok(saved.rows_affected() == 1)
    }

    async fn mark_checked(&self, out_trade_no: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE orders SET last_checked_at = $1, lease_owner = NULL, lease_until = NULL WHERE out_trade_no = $2")
            .bind(now)
            .bind(out_trade_no)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn apply_payment(&self, fact: &PaymentFact) -> Result<ApplyOutcome, StoreError> {
        let mut tx = self.tx().await?;
        let outcome = apply_payment_in(&mut tx, fact).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn record_notification(&self, record: &NotificationRecord) -> Result<i64, StoreError> {
        let mut tx = self.tx().await?;
        let id = insert_notification(&mut tx, record, None).await?;
        tx.commit().await?;
        id.ok_or_else(|| StoreError::Corrupt("unverified notification insert ignored".into()))
    }

    async fn apply_notification(
        &self,
        record: &NotificationRecord,
        verified_id: &str,
        change: &NotifiedChange,
    ) -> Result<NotificationOutcome, StoreError> {
        let mut tx = self.tx().await?;
        let Some(row_id) = insert_notification(&mut tx, record, Some(verified_id)).await? else {
            // The first receipt has committed (the insert waited for it): its outcome stands.
            let previous: String = sqlx::query_scalar(
                "SELECT processing FROM notifications WHERE kind = $1 AND verified_id = $2",
            )
            .bind(&record.kind)
            .bind(verified_id)
            .fetch_one(&mut *tx)
            .await?;
            let mut retry = record.clone();
            retry.processing = rules::duplicate_label(verified_id);
            insert_notification(&mut tx, &retry, None).await?;
            tx.commit().await?;
            return Ok(NotificationOutcome::Duplicate { previous });
        };
        let outcome = match change {
            NotifiedChange::Payment(fact) => apply_payment_in(&mut tx, fact).await?,
            NotifiedChange::Refund(fact) => apply_refund_in(&mut tx, fact).await?,
            NotifiedChange::Ignored => ApplyOutcome::Unchanged,
        };
        sqlx::query("UPDATE notifications SET processing = $1 WHERE id = $2")
            .bind(outcome.processing_label())
            .bind(row_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(NotificationOutcome::Processed(outcome))
    }

    async fn notifications(
        &self,
        out_trade_no: Option<&str>,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications \
             WHERE ($1::TEXT IS NULL OR out_trade_no = $1) ORDER BY id"
        );
        let rows = sqlx::query(&sql)
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
        let refund = NewRefund {
            out_refund_no,
            out_trade_no,
            amount_fen,
            reason,
            actor,
            now,
        };
        let mut tx = self.tx().await?;
        let created = reserve_in(&mut tx, &refund, None).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn create_refund_once(
        &self,
        refund: &NewRefund<'_>,
        idempotency_key: &str,
    ) -> Result<Result<RefundCreation, RefundRefusal>, StoreError> {
        let mut tx = self.tx().await?;
        // Two requests with one key take turns, so the second finds the first's refund.
        lock_key(&mut tx, &format!("refund:{idempotency_key}")).await?;
        let earlier: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT out_refund_no, request_fingerprint FROM refunds WHERE idempotency_key = $1",
        )
        .bind(idempotency_key)
        .fetch_optional(&mut *tx)
        .await?;
        let created = match earlier {
            Some((out_refund_no, asked)) => match rules::replay(asked.as_deref(), refund) {
                Err(refusal) => Err(refusal),
                Ok(()) => Ok(RefundCreation::Replayed(
                    fetch_refund(&mut *tx, &out_refund_no, false)
                        .await?
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("refund {out_refund_no} vanished"))
                        })?,
                )),
            },
            None => reserve_in(&mut tx, refund, Some(idempotency_key))
                .await?
                .map(RefundCreation::Created),
        };
        tx.commit().await?;
        Ok(created)
    }

    async fn refund(&self, out_refund_no: &str) -> Result<Option<Refund>, StoreError> {
        fetch_refund(&self.pool, out_refund_no, false).await
    }

    async fn apply_refund(&self, fact: &RefundFact) -> Result<ApplyOutcome, StoreError> {
        let mut tx = self.tx().await?;
        let outcome = apply_refund_in(&mut tx, fact).await?;
        tx.commit().await?;
        Ok(outcome)
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
        // Rows another instance is claiming are skipped, not waited for; a row it claimed
        // and committed fails the lease condition when re-checked.
        let sql = format!(
            "UPDATE orders SET lease_owner = $1, lease_until = $2 WHERE out_trade_no IN (\
             SELECT out_trade_no FROM orders WHERE state IN ('NOTPAY', 'USERPAYING') AND created_at <= $3 \
             AND COALESCE(last_checked_at, 0) <= $4 AND COALESCE(lease_until, 0) < $5 ORDER BY created_at LIMIT $6 \
             FOR UPDATE SKIP LOCKED) RETURNING {ORDER_COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(created_before)
            .bind(checked_before)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = rows
            .iter()
            .map(rows::order)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|o| o.created_at);
        Ok(claimed)
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
            "UPDATE refunds SET lease_owner = $1, lease_until = $2 WHERE out_refund_no IN (\
             SELECT out_refund_no FROM refunds WHERE status = 'PROCESSING' AND created_at <= $3 \
             AND COALESCE(lease_until, 0) < $4 ORDER BY created_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
             RETURNING {REFUND_COLUMNS}"
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(created_before)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = rows
            .iter()
            .map(rows::refund)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|r| r.created_at);
        Ok(claimed)
    }

    async fn orders_needing_attention(&self, limit: i64) -> Result<Vec<Order>, StoreError> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE attention IS NOT NULL ORDER BY created_at LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(rows::order).collect()
    }

    async fn resolve_attention(
        &self,
        out_trade_no: &str,
        note: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.tx().await?;
        let Some(order) = lock_order(&mut tx, out_trade_no).await? else {
            return Ok(false);
        };
        let Some(flag) = order.attention else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE orders SET attention = NULL, version = version + 1, updated_at = $1 WHERE out_trade_no = $2",
        )
        .bind(now)
        .bind(out_trade_no)
        .execute(&mut *tx)
        .await?;
        let state = order.state.as_str();
        let cause = rules::resolution_cause(&flag, actor, note);
        audit_in(
            &mut tx,
            "order",
            out_trade_no,
            Some(state),
            state,
            &cause,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn audit(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query("SELECT from_state, to_state, cause FROM audit WHERE entity = $1 AND entity_id = $2 ORDER BY id")
            .bind(entity)
            .bind(entity_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::audit).collect()
    }

    async fn credential(&self, name: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM credentials WHERE name = $1 AND expires_at > $2")
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
        sqlx::query(
            "INSERT INTO credentials (name, value, expires_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
             SET value = excluded.value, expires_at = excluded.expires_at",
        )
        .bind(name)
        .bind(value)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn drop_credential(&self, name: &str, value: &str) -> Result<bool, StoreError> {
        let dropped = sqlx::query("DELETE FROM credentials WHERE name = $1 AND value = $2")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(dropped.rows_affected() == 1)
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "INSERT INTO credentials (name, value, expires_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
             SET value = excluded.value, expires_at = excluded.expires_at \
             WHERE credentials.expires_at <= $4 OR credentials.value = excluded.value",
        )
        .bind(super::lease_row(name))
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM credentials WHERE name = $1 AND value = $2")
            .bind(super::lease_row(name))
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
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

#[path = "postgres_reconcile.rs"]
mod reconcile;
#[path = "postgres_upkeep.rs"]
mod upkeep;
