//! Persistence: the [`Store`] trait and its records.
//!
//! The trait speaks in domain operations ("apply this payment fact", "claim pending
//! orders"), not SQL. Every operation that changes an order or a refund runs in a single
//! transaction that also writes the audit row, checks the amount and refuses illegal
//! transitions, which is what makes duplicate and concurrent notifications credit exactly
//! once. What is allowed is decided once, in `store/rules.rs`; each engine ([`SqliteStore`] for
//! one instance, [`PgStore`] for several on one database) holds only its SQL and its
//! locking. [`open`] picks the engine from the database URL.

mod follow_up;
mod housekeeping;
mod migrations;
mod paid_then_refunded;
mod postgres;
mod reconcile;
mod rows;
mod rules;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use wxpay_core::v2::sign::SignType as V2SignType;
use wxpay_core::v3::models::PrepayKind;
use wxpay_core::{RefundStatus, TradeState};

pub use crate::channel::PrepayRoute;

pub use follow_up::FollowUp;
pub use housekeeping::Housekeeping;
pub use postgres::PgStore;
pub use reconcile::{DifferenceRecord, LedgerEntry, NewRun, Reconciliation, RunRecord};
pub use sqlite::SqliteStore;

/// Opens the store the database URL names: `postgres://` or `postgresql://` for
/// PostgreSQL (several instances on one database), anything else for SQLite (one instance).
/// `synchronous` applies to SQLite only.
pub async fn open(
    url: &str,
    max_connections: u32,
    synchronous: crate::config::Synchronous,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(if is_postgres(url) {
        Arc::new(PgStore::connect(url, max_connections).await?)
    } else {
        Arc::new(SqliteStore::connect_with(url, max_connections, synchronous).await?)
    })
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres(url: &str) -> bool {
    ["postgres://", "postgresql://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    })
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database driver failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds a value this version cannot read (corruption or a newer schema).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// SQLite failed (a read or a write).
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    /// The batch this write was committed with failed: nothing of it was written.
    #[error("the group commit holding this write failed")]
    GroupCommit(#[source] Arc<BatchFailure>),
    /// A SQLite read on a blocking thread did not finish (the runtime is shutting down).
    #[error("a SQLite read did not finish")]
    ReaderStopped,
    /// The SQLite writer's thread could not be started.
    #[error("could not start the SQLite writer thread")]
    WriterThread(#[source] std::io::Error),
    /// The task that commits batches has stopped (the store is shutting down).
    #[error("the group commit task has stopped")]
    GroupCommitStopped,
}

/// Why a batch of SQLite writes was not committed.
#[derive(Debug, thiserror::Error)]
pub enum BatchFailure {
    /// SQLite refused the batch's BEGIN, a savepoint or its COMMIT.
    #[error("SQLite failed")]
    Sqlite(#[from] rusqlite::Error),
    /// A write of the batch panicked, leaving the transaction in an unknown state.
    #[error("a write of the batch panicked")]
    WritePanicked,
}

/// A WeChat user known to the merchant (one per appid + openid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Internal id.
    pub id: String,
    /// The appid the openid belongs to.
    pub appid: String,
    /// The user's openid under that appid.
    pub openid: String,
    /// UnionID, when the app is bound to an Open Platform account.
    pub unionid: Option<String>,
}

/// A product with its server-decided price.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Product {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Price in fen.
    pub price_fen: i64,
}

/// An order as stored.
#[derive(Debug, Clone)]
pub struct Order {
    /// The merchant order number (`out_trade_no`).
    pub out_trade_no: String,
    /// Owner.
    pub user_id: String,
    /// Bill description.
    pub description: String,
    /// Amount in fen, decided by the server.
    pub amount_fen: i64,
    /// Last known trade state.
    pub state: TradeState,
    /// Channel of the last prepay.
    pub channel: Option<PrepayRoute>,
    /// Appid used for the last prepay.
    pub appid: Option<String>,
    /// WeChat's prepay id of the last prepay (JSAPI and APP; every v2 unified order).
    pub prepay_id: Option<String>,
    /// The H5 cashier URL of the last prepay (`h5_url`, v2 `mweb_url`).
    pub h5_url: Option<String>,
    /// The Native QR content of the last prepay (`code_url`).
    pub code_url: Option<String>,
    /// When the last prepay stops being usable (Unix seconds).
    pub prepay_expires_at: Option<i64>,
    /// WeChat's order number once paid.
    pub transaction_id: Option<String>,
    /// When the payment was confirmed (Unix seconds).
    pub paid_at: Option<i64>,
    /// Sum of successful refunds in fen.
    pub refunded_fen: i64,
    /// Last time WeChat was asked about this order (Unix seconds).
    pub last_checked_at: Option<i64>,
    /// Optimistic-concurrency version, bumped on every change.
    pub version: i64,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// The API v2 sign type of the order's unified order (`None` for v3 orders and for v2
    /// orders stored before the type was recorded).
    pub v2_sign_type: Option<V2SignType>,
    /// Why a person must look at the order, e.g. `paid_after_closed`: WeChat proved a
    /// payment for an order this server had closed, so the money was recorded as received
    /// and the merchant is to refund or fulfil it. `None` when nothing is needed.
    pub attention: Option<String>,
}

impl Order {
    /// Do not hand out a prepay that expires sooner than this (seconds).
    pub const PREPAY_MARGIN_SECS: i64 = 60;

    /// Whether a prepay was ever saved for the order (so WeChat may know it).
    pub fn was_prepaid(&self) -> bool {
        self.prepay_id.is_some() || self.h5_url.is_some() || self.code_url.is_some()
    }

    /// The last prepay when it was made for `route` and `appid`, is usable for at least
    /// [`Self::PREPAY_MARGIN_SECS`] more and holds what the route's client needs: paying
    /// again within a prepay's life hands out the same one instead of asking WeChat again.
    pub fn reusable_prepay(&self, route: PrepayRoute, appid: &str, now: i64) -> Option<Prepaid> {
        let usable = self.channel == Some(route)
            && self.appid.as_deref() == Some(appid)
            && self
                .prepay_expires_at
                .is_some_and(|t| t - now > Self::PREPAY_MARGIN_SECS);
        if !usable {
            return None;
        }
        let prepaid = Prepaid {
            prepay_id: self.prepay_id.clone(),
            h5_url: self.h5_url.clone(),
            code_url: self.code_url.clone(),
        };
        prepaid
            .serves(route.channel.prepay_kind())
            .then_some(prepaid)
    }
}

/// What one prepay gave the payer to pay with. Which fields are set depends on the kind and
/// the API version: a v3 H5 or Native prepay has only its URL, a v2 one also a prepay id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepaid {
    /// WeChat's prepay id (JSAPI and APP; every v2 unified order).
    pub prepay_id: Option<String>,
    /// The H5 cashier URL (`h5_url`, v2 `mweb_url`).
    pub h5_url: Option<String>,
    /// The Native QR content (`code_url`).
    pub code_url: Option<String>,
}

impl Prepaid {
    /// Whether it holds what a client of `kind` pays with.
    pub fn serves(&self, kind: PrepayKind) -> bool {
        match kind {
            PrepayKind::Jsapi | PrepayKind::App => self.prepay_id.is_some(),
            PrepayKind::H5 => self.h5_url.is_some(),
            PrepayKind::Native => self.code_url.is_some(),
        }
    }
}

/// What is needed to create an order.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Generated merchant order number.
    pub out_trade_no: String,
    /// Owner.
    pub user_id: String,
    /// Client-chosen key; a repeat returns the first order.
    pub idempotency_key: Option<String>,
    /// Bill description.
    pub description: String,
    /// `(product id, quantity, unit price)`.
    pub items: Vec<(String, i64, i64)>,
    /// Total in fen.
    pub amount_fen: i64,
    /// Now (Unix seconds).
    pub now: i64,
}

/// A refund as stored.
#[derive(Debug, Clone)]
pub struct Refund {
    /// The merchant refund number.
    pub out_refund_no: String,
    /// The order refunded.
    pub out_trade_no: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Last known status.
    pub status: RefundStatus,
    /// WeChat's refund id.
    pub refund_id: Option<String>,
    /// Reason given.
    pub reason: Option<String>,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

/// A fact about an order learnt from WeChat (notification or query).
#[derive(Debug, Clone)]
pub struct PaymentFact {
    /// The order.
    pub out_trade_no: String,
    /// The state WeChat reports.
    pub state: TradeState,
    /// WeChat's order number, when reported.
    pub transaction_id: Option<String>,
    /// The amount WeChat reports (fen); checked against the order when paid.
    pub amount_fen: Option<i64>,
    /// The appid WeChat reports the order under, when it does; checked against the one the
    /// order was prepaid with (another of our apps is not this order's payment).
    pub appid: Option<String>,
    /// Why: `notify_v3`, `query`, `worker`, `close` ...
    pub cause: String,
    /// Now (Unix seconds).
    pub at: i64,
}

/// A fact about a refund learnt from WeChat.
#[derive(Debug, Clone)]
pub struct RefundFact {
    /// The refund.
    pub out_refund_no: String,
    /// The status WeChat reports.
    pub status: RefundStatus,
    /// WeChat's refund id.
    pub refund_id: Option<String>,
    /// The refunded amount WeChat reports (fen); checked against the refund.
    pub amount_fen: Option<i64>,
    /// Why.
    pub cause: String,
    /// Now (Unix seconds).
    pub at: i64,
}

/// What applying a fact did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The state changed.
    Applied {
        /// Previous state.
        from: String,
        /// New state.
        to: String,
    },
    /// The record was already in that state (a duplicate): nothing changed.
    Unchanged,
    /// The fact was refused and nothing changed.
    Rejected(Rejection),
}

impl ApplyOutcome {
    /// Whether the fact is now reflected in the store (applied or already there).
    pub fn is_persisted(&self) -> bool {
        !matches!(self, Self::Rejected(_))
    }

    /// The value written into `notifications.processing`.
    pub fn processing_label(&self) -> String {
        match self {
            Self::Applied { to, .. } => format!("applied:{to}"),
            Self::Unchanged => "unchanged".into(),
            Self::Rejected(r) => format!("rejected:{}", r.code()),
        }
    }
}

/// Why a fact was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No such order or refund.
    UnknownRecord,
    /// The reported amount differs from the stored one.
    AmountMismatch {
        /// Stored amount (fen).
        expected: i64,
        /// Reported amount (fen).
        reported: i64,
    },
    /// The state machine forbids the change (e.g. CLOSED → SUCCESS).
    IllegalTransition {
        /// Current state.
        from: String,
        /// Requested state.
        to: String,
    },
    /// A paid order reported with a different transaction id.
    TransactionMismatch,
    /// Reported under another appid than the order was prepaid with.
    AppidMismatch,
}

impl Rejection {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownRecord => "unknown_record",
            Self::AmountMismatch { .. } => "amount_mismatch",
            Self::IllegalTransition { .. } => "illegal_transition",
            Self::TransactionMismatch => "transaction_mismatch",
            Self::AppidMismatch => "appid_mismatch",
        }
    }
}

/// A received notification, as recorded.
#[derive(Debug, Clone)]
pub struct NotificationRecord {
    /// `v3_pay`, `v3_refund`, `v2_pay`, `v2_refund`.
    pub kind: String,
    /// The id the body claims (unverified).
    pub claimed_id: Option<String>,
    /// Headers as a JSON object.
    pub headers_json: String,
    /// The raw body, or its first bytes when the notification did not verify.
    pub body: Vec<u8>,
    /// Length of the whole body in bytes.
    pub body_len: usize,
    /// Lower-case hex SHA-256 of the whole body.
    pub body_sha256: String,
    /// `ok` or the verification failure code.
    pub verification: String,
    /// Outcome of processing (`applied:SUCCESS`, `unchanged`, `rejected:…`).
    pub processing: String,
    /// The order concerned, when known.
    pub out_trade_no: Option<String>,
    /// Receipt time (Unix seconds).
    pub received_at: i64,
}

/// A stored notification row (for operators and tests).
#[derive(Debug, Clone)]
pub struct StoredNotification {
    /// Row id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Claimed id.
    pub claimed_id: Option<String>,
    /// Verified id (unique per kind).
    pub verified_id: Option<String>,
    /// Verification outcome.
    pub verification: String,
    /// Processing outcome.
    pub processing: String,
    /// Order concerned.
    pub out_trade_no: Option<String>,
    /// Length of the whole body in bytes (what was kept may be less).
    pub body_len: usize,
}

/// The change a verified notification asks for.
#[derive(Debug, Clone)]
pub enum NotifiedChange {
    /// A payment fact.
    Payment(PaymentFact),
    /// A refund fact.
    Refund(RefundFact),
    /// An event the server does not act on (recorded and acknowledged).
    Ignored,
}

/// The result of [`Store::apply_notification`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// First time seen; the change was applied, found unchanged or rejected.
    Processed(ApplyOutcome),
    /// Seen before (same kind and verified id); the previous processing label is returned.
    Duplicate {
        /// `processing` of the first receipt.
        previous: String,
    },
}

/// An audit row: one per state transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Previous state (None at creation).
    pub from_state: Option<String>,
    /// New state.
    pub to_state: String,
    /// Why.
    pub cause: String,
}

/// A refund to create (see [`Store::create_refund_once`]).
#[derive(Debug, Clone)]
pub struct NewRefund<'a> {
    /// The merchant refund number to use when a new refund is made.
    pub out_refund_no: &'a str,
    /// The order refunded.
    pub out_trade_no: &'a str,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Reason given.
    pub reason: Option<&'a str>,
    /// Who asks (recorded in the audit row).
    pub actor: &'a str,
    /// Now (Unix seconds).
    pub now: i64,
}

/// What [`Store::create_refund_once`] did.
#[derive(Debug, Clone)]
pub enum RefundCreation {
    /// A new refund, reserved and PROCESSING: submit it to WeChat.
    Created(Refund),
    /// The key was used before for the same request: the refund it created, as stored now
    /// (already submitted, or being submitted by the first request).
    Replayed(Refund),
}

/// Refusal to create a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRefusal {
    /// The order is not paid.
    NotPaid,
    /// The amount would exceed what is left to refund.
    ExceedsRefundable {
        /// Fen still refundable.
        remaining: i64,
    },
    /// No such order.
    UnknownOrder,
    /// The idempotency key was used before for another request (order, amount or reason).
    IdempotencyKeyReused,
}

/// Persistence operations of the server (with its [`Housekeeping`] and [`FollowUp`]).
#[async_trait]
pub trait Store: Housekeeping + FollowUp + Reconciliation + Send + Sync + 'static {
    /// Inserts or finds a user by appid + openid (unionid updated when given).
    async fn upsert_user(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        now: i64,
    ) -> Result<User, StoreError>;
    /// Stores a session under the hash of its token (nothing else of the login is kept: a
    /// mini-program `session_key` is never needed by this server).
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// The user of an unexpired session.
    async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>, StoreError>;
    /// Inserts or updates products (prices are the server's).
    async fn upsert_products(&self, products: &[Product]) -> Result<(), StoreError>;
    /// Active products.
    async fn products(&self) -> Result<Vec<Product>, StoreError>;
    /// Creates an order, or returns the existing one for the same user + idempotency key.
    async fn create_order(&self, order: NewOrder) -> Result<Order, StoreError>;
    /// An order by number.
    async fn order(&self, out_trade_no: &str) -> Result<Option<Order>, StoreError>;
    /// Records the API v2 sign type the order's unified order is signed with, before it is
    /// sent: WeChat signs the order's pay notification with it and does not name it, and the
    /// client parameters must use the same type. The latest unified order's type is kept.
    async fn record_v2_sign_type(
        &self,
        out_trade_no: &str,
        sign_type: V2SignType,
    ) -> Result<(), StoreError>;
    /// Records a new prepay for the order, only while it is still payable (NOTPAY or
    /// USERPAYING). `false` when it is not: a close (or a payment) committed while the
    /// prepay was on its way, so nothing is saved and the prepay must not be handed out.
    #[allow(clippy::too_many_arguments)]
    async fn save_prepay(
        &self,
        out_trade_no: &str,
        route: PrepayRoute,
        appid: &str,
        prepaid: &Prepaid,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Notes that WeChat was just asked about the order.
    async fn mark_checked(&self, out_trade_no: &str, now: i64) -> Result<(), StoreError>;
    /// Applies a payment fact in one transaction (amount check, transition check, audit).
    async fn apply_payment(&self, fact: &PaymentFact) -> Result<ApplyOutcome, StoreError>;
    /// Records a notification that was not verified or not processable (no state change).
    async fn record_notification(&self, record: &NotificationRecord) -> Result<i64, StoreError>;
    /// Records a verified notification under its id, unique per kind (the same id sent to
    /// another endpoint is another notification), and applies its change, in one transaction.
    async fn apply_notification(
        &self,
        record: &NotificationRecord,
        verified_id: &str,
        change: &NotifiedChange,
    ) -> Result<NotificationOutcome, StoreError>;
    /// Notifications concerning an order (or all when `None`), oldest first.
    async fn notifications(
        &self,
        out_trade_no: Option<&str>,
    ) -> Result<Vec<StoredNotification>, StoreError>;
    /// Creates a refund if the order is paid and the amount fits, in one transaction. The
    /// audit row's cause is `created_by:<actor>`, so who handed money back stays on record.
    async fn create_refund(
        &self,
        out_refund_no: &str,
        out_trade_no: &str,
        amount_fen: i64,
        reason: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<Result<Refund, RefundRefusal>, StoreError>;
    /// [`Store::create_refund`] under the caller's idempotency key, in one transaction: the
    /// key's first use creates the refund; the same key with the same request (order,
    /// amount, reason) gives that refund back instead of reserving money again; the same
    /// key with another request is refused.
    async fn create_refund_once(
        &self,
        refund: &NewRefund<'_>,
        idempotency_key: &str,
    ) -> Result<Result<RefundCreation, RefundRefusal>, StoreError>;
    /// A refund by number.
    async fn refund(&self, out_refund_no: &str) -> Result<Option<Refund>, StoreError>;
    /// Applies a refund fact in one transaction (credits the order on SUCCESS).
    async fn apply_refund(&self, fact: &RefundFact) -> Result<ApplyOutcome, StoreError>;
    /// Leases up to `limit` unpaid orders created before `created_before` whose last check
    /// is older than `checked_before`, for `owner` until `lease_until`.
    async fn claim_pending_orders(
        &self,
        owner: &str,
        now: i64,
        created_before: i64,
        checked_before: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Order>, StoreError>;
    /// Leases up to `limit` refunds in PROCESSING created before `created_before`.
    async fn claim_processing_refunds(
        &self,
        owner: &str,
        now: i64,
        created_before: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Refund>, StoreError>;
    /// Orders flagged for the merchant ([`Order::attention`]), oldest first, at most `limit`.
    async fn orders_needing_attention(&self, limit: i64) -> Result<Vec<Order>, StoreError>;
    /// Clears an order's flag once the merchant has refunded or fulfilled it; the audit row
    /// keeps `note` and `actor`. `false` when the order is not flagged.
    async fn resolve_attention(
        &self,
        out_trade_no: &str,
        note: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Audit rows of an entity (`order` / `refund`), oldest first.
    async fn audit(&self, entity: &str, entity_id: &str) -> Result<Vec<AuditRow>, StoreError>;
    /// A cached credential (access token, ticket) that has not expired.
    async fn credential(&self, name: &str, now: i64) -> Result<Option<String>, StoreError>;
    /// Caches a credential until `expires_at`.
    async fn put_credential(
        &self,
        name: &str,
        value: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Drops the cached credential `name` if it still holds `value`: a credential WeChat
    /// refused is dropped for every instance, but a newer one another instance has put
    /// meanwhile is kept. Whether it was dropped.
    async fn drop_credential(&self, name: &str, value: &str) -> Result<bool, StoreError>;
    /// Takes the lease `name` for `holder` until `until`, in one statement, when it is free
    /// (never taken, expired at `now`, or `holder`'s already): whether `holder` has it now.
    /// One instance at a time refreshes a shared credential under such a lease.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
    /// Gives the lease `name` back, if `holder` still has it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
    /// A cheap round trip to the database (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// How many orders are in each state (`/metrics`).
    async fn order_counts(&self) -> Result<Vec<(String, i64)>, StoreError>;
}

/// The `credentials` row that holds the lease `name` (leases share the table: a name, a
/// value that is the holder, an expiry).
fn lease_row(name: &str) -> String {
    format!("lease:{name}")
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
