//! Reconciliation records: what the ledger holds for one bill date, and each run's
//! outcome with its differences. Kept apart from the ledger's operations
//! ([`Store`](super::Store) has it as a supertrait); each engine implements it in its own
//! file (`sqlite_reconcile.rs`, `postgres_reconcile.rs`).

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;

/// A payment or refund the ledger holds for a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The order.
    pub out_trade_no: String,
    /// The refund, for refund entries.
    pub out_refund_no: Option<String>,
    /// Amount in fen (order total, or refund amount).
    pub amount_fen: i64,
}

/// A finished run to record.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// `YYYY-MM-DD`.
    pub bill_date: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds.
    pub finished_at: i64,
    /// `reconciled`, `not_ready`, `too_old`, `refused` or `failed`.
    pub outcome: String,
    /// Why a run was refused or failed.
    pub detail: Option<String>,
    /// Rows in the bill.
    pub bill_rows: i64,
    /// Rows that agreed with the ledger.
    pub matched: i64,
}

impl NewRun {
    /// The run as recorded under `id`.
    pub fn recorded(self, id: i64) -> RunRecord {
        RunRecord {
            id,
            bill_date: self.bill_date,
            started_at: self.started_at,
            finished_at: self.finished_at,
            outcome: self.outcome,
            detail: self.detail,
            bill_rows: self.bill_rows,
            matched: self.matched,
        }
    }
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// `YYYY-MM-DD` (+08:00).
    pub bill_date: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds.
    pub finished_at: i64,
    /// `reconciled`, `not_ready`, `too_old`, `refused` or `failed`.
    pub outcome: String,
    /// Why a run was refused or failed.
    pub detail: Option<String>,
    /// Rows in the bill.
    pub bill_rows: i64,
    /// Rows that agreed with the ledger.
    pub matched: i64,
}

/// One difference between the bill and the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DifferenceRecord {
    /// `paid_at_wechat_only`, `paid_here_only`, `amount_differs`,
    /// `refund_at_wechat_only` or `refund_here_only`.
    pub kind: String,
    /// The order.
    pub out_trade_no: String,
    /// The refund, for refund differences.
    pub out_refund_no: Option<String>,
    /// WeChat's amount in fen, when the bill has the row.
    pub wechat_fen: Option<i64>,
    /// The ledger's amount in fen, when the ledger has it.
    pub ledger_fen: Option<i64>,
    /// `repaired` (through the order query) or `reported`.
    pub resolution: String,
    /// What was done or why not.
    pub note: Option<String>,
}

/// Reconciliation's reads of the ledger and its own records.
#[async_trait]
pub trait Reconciliation: Send + Sync {
    /// Orders the ledger holds as paid with `paid_at` in `[from, to)`.
    async fn paid_between(&self, from: i64, to: i64) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Refunds the ledger created in `[from, to)`, except those WeChat refused outright
    /// (never sent, so never in a bill).
    async fn refunds_between(&self, from: i64, to: i64) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Records a run and its differences in one transaction; the run's id.
    async fn record_run(
        &self,
        run: &NewRun,
        differences: &[DifferenceRecord],
    ) -> Result<i64, StoreError>;
    /// The latest runs, newest first; of one date only when `bill_date` is given.
    async fn runs(&self, bill_date: Option<&str>, limit: i64)
        -> Result<Vec<RunRecord>, StoreError>;
    /// The differences of a run, in the order recorded.
    async fn differences(&self, run_id: i64) -> Result<Vec<DifferenceRecord>, StoreError>;
}
