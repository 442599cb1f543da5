//! [`Reconciliation`] on SQLite: the ledger read off the caller's thread, the run written
//! through the single writer in one write.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::store::reconcile::{DifferenceRecord, LedgerEntry, NewRun, Reconciliation, RunRecord};
use crate::store::rows::{self, RUN_COLUMNS};
use crate::store::StoreError;

#[async_trait]
impl Reconciliation for SqliteStore {
    async fn paid_between(&self, from: i64, to: i64) -> Result<Vec<LedgerEntry>, StoreError> {
        // A day's payments: no bound, so off the caller's thread.
        self.readers
            .scan(move |db| {
                let mut statement = db.prepare_cached(
                    "SELECT out_trade_no, amount_fen FROM orders \
                     WHERE paid_at >= ? AND paid_at < ? ORDER BY paid_at, out_trade_no",
                )?;
                let entries = statement.query_map(params![from, to], |r| {
                    Ok(LedgerEntry {
                        out_trade_no: r.get("out_trade_no")?,
                        out_refund_no: None,
                        amount_fen: r.get("amount_fen")?,
                    })
                })?;
                Ok(entries.collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn refunds_between(&self, from: i64, to: i64) -> Result<Vec<LedgerEntry>, StoreError> {
        self.readers
            .scan(move |db| {
                let mut statement = db.prepare_cached(
                    "SELECT out_trade_no, out_refund_no, amount_fen FROM refunds \
                     WHERE created_at >= ? AND created_at < ? \
                       AND NOT (status = 'CLOSED' AND refund_id IS NULL) \
                     ORDER BY created_at, out_refund_no",
                )?;
                let entries = statement.query_map(params![from, to], |r| {
                    Ok(LedgerEntry {
                        out_trade_no: r.get("out_trade_no")?,
                        out_refund_no: Some(r.get("out_refund_no")?),
                        amount_fen: r.get("amount_fen")?,
                    })
                })?;
                Ok(entries.collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn record_run(
        &self,
        run: &NewRun,
        differences: &[DifferenceRecord],
    ) -> Result<i64, StoreError> {
        let (run, differences) = (run.clone(), differences.to_vec());
        self.writer
            .write(move |db| {
                let id: i64 = db
                    .prepare_cached(
                        "INSERT INTO reconciliation_runs \
                         (bill_date, started_at, finished_at, outcome, detail, bill_rows, matched) \
                         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    )?
                    .query_row(
                        params![
                            run.bill_date,
                            run.started_at,
                            run.finished_at,
                            run.outcome,
                            run.detail,
                            run.bill_rows,
                            run.matched,
                        ],
                        |row| row.get(0),
                    )?;
                let mut difference = db.prepare_cached(
                    "INSERT INTO reconciliation_differences \
                     (run_id, kind, out_trade_no, out_refund_no, wechat_fen, ledger_fen, resolution, note) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )?;
                for d in &differences {
                    difference.execute(params![
                        id,
                        d.kind,
                        d.out_trade_no,
                        d.out_refund_no,
                        d.wechat_fen,
                        d.ledger_fen,
                        d.resolution,
                        d.note,
                    ])?;
                }
                Ok(id)
            })
            .await
    }

    async fn runs(
        &self,
        bill_date: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        self.readers.read(|db| {
            let mut statement = db.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM reconciliation_runs \
                 WHERE (?1 IS NULL OR bill_date = ?1) ORDER BY id DESC LIMIT ?2"
            ))?;
            let mut found = statement.query(params![bill_date, limit])?;
            let mut runs = Vec::new();
            while let Some(row) = found.next()? {
                runs.push(rows::run(row)?);
            }
            Ok(runs)
        })
    }

    async fn differences(&self, run_id: i64) -> Result<Vec<DifferenceRecord>, StoreError> {
        // As many as the bill had lines: off the caller's thread.
        self.readers
            .scan(move |db| {
                let mut statement = db.prepare_cached(
                    "SELECT kind, out_trade_no, out_refund_no, wechat_fen, ledger_fen, resolution, note \
                     FROM reconciliation_differences WHERE run_id = ? ORDER BY id",
                )?;
                let differences = statement.query_map([run_id], |r| {
                    Ok(DifferenceRecord {
                        kind: r.get("kind")?,
                        out_trade_no: r.get("out_trade_no")?,
                        out_refund_no: r.get("out_refund_no")?,
                        wechat_fen: r.get("wechat_fen")?,
                        ledger_fen: r.get("ledger_fen")?,
                        resolution: r.get("resolution")?,
                        note: r.get("note")?,
                    })
                })?;
                Ok(differences.collect::<Result<_, _>>()?)
            })
            .await
    }
}
