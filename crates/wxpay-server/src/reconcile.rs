//! Daily reconciliation (对账) against WeChat's trade bill.
//!
//! One run for one date (+08:00): ask for the `ALL` bill (gzip), download it with a signed
//! request, refuse it unless its SHA1 is the one in the signed answer, parse it, and match
//! every row with the ledger. Differences are recorded with the run. A payment WeChat has
//! and the ledger holds as unpaid (a lost notification) is repaired through the normal
//! order query ([`payments::query_and_apply`]) and recorded as repaired; everything else is
//! reported for a person. A bill WeChat has not made yet, or no longer keeps, is a
//! `not_ready` / `too_old` run, never a difference.
//!
//! Known limit: the ledger's `paid_at` is when this server learnt of the payment, so a
//! payment made just before midnight and learnt after it can show as a difference of two
//! adjacent days; the note says so.

use std::collections::HashMap;
use std::fmt;

use wxpay_core::v3::bill::fen_to_yuan;
use wxpay_core::v3::bill::{
    gunzip, parse_trade_bill, verify_sha1, BillAnswer, BillDate, BillType, BillUnavailable,
    TradeBillRequest, TradeBillRow,
};
use wxpay_core::v3::paths::Endpoint;

use crate::error::{error_chain, AppError};
use crate::payments;
use crate::state::SharedState;
use crate::store::{DifferenceRecord, LedgerEntry, NewRun, RunRecord};
use crate::upstream::UpstreamError;

/// Kinds of difference, as recorded.
pub mod kind {
    /// In the bill as paid; the ledger has it unpaid or not at all.
    pub const PAID_AT_WECHAT_ONLY: &str = "paid_at_wechat_only";
    /// Paid in the ledger on that date; not in the bill.
    pub const PAID_HERE_ONLY: &str = "paid_here_only";
    /// Both have it, with different amounts.
    pub const AMOUNT_DIFFERS: &str = "amount_differs";
    /// A refund in the bill that the ledger does not know.
    pub const REFUND_AT_WECHAT_ONLY: &str = "refund_at_wechat_only";
    /// A refund the ledger made that date; not in the bill.
    pub const REFUND_HERE_ONLY: &str = "refund_here_only";
}

/// How a run ended.
pub mod outcome {
    /// The bill was matched with the ledger.
    pub const RECONCILED: &str = "reconciled";
    /// WeChat has not made the bill yet.
    pub const NOT_READY: &str = "not_ready";
    /// Older than WeChat keeps bills (three months).
    pub const TOO_OLD: &str = "too_old";
    /// The file was refused: hash mismatch, truncated, unreadable.
    pub const REFUSED: &str = "refused";
    /// WeChat could not be asked (network, signature, system error).
    pub const FAILED: &str = "failed";
}

/// A run with its differences.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The run as recorded.
    #[serde(flatten)]
    pub run: RunRecord,
    /// Its differences.
    pub differences: Vec<DifferenceRecord>,
}

impl Report {
    /// Differences repaired during the run.
    pub fn repaired(&self) -> usize {
        self.differences
            .iter()
            .filter(|d| d.resolution == "repaired")
            .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.run;
        write!(f, "对账 {}: {}", r.bill_date, r.outcome)?;
        if let Some(detail) = &r.detail {
            write!(f, " ({detail})")?;
        }
        if r.outcome == outcome::RECONCILED {
            write!(
                f,
                " — {} bill rows, {} matched, {} differences ({} repaired)",
                r.bill_rows,
                r.matched,
                self.differences.len(),
                self.repaired()
            )?;
        }
        for d in &self.differences {
            let money = |fen: Option<i64>| fen.map_or("-".to_owned(), fen_to_yuan);
            write!(
                f,
                "\n  {:<22} {:<24} {:<22} wechat {:>8} ledger {:>8}  {}",
                d.kind,
                d.out_trade_no,
                d.out_refund_no.as_deref().unwrap_or("-"),
                money(d.wechat_fen),
                money(d.ledger_fen),
                d.resolution
            )?;
            if let Some(note) = &d.note {
                write!(f, ": {note}")?;
            }
        }
        Ok(())
    }
}

/// Reconciles `date` now.
pub async fn run(state: &SharedState, date: BillDate) -> Result<Report, AppError> {
    run_at(state, date, state.clock.now()).await
}

/// Reconciles `date` as if the time were `now` (Unix seconds; used to read WeChat's
/// "not made yet" and "too old" refusals) and records the run.
pub async fn run_at(state: &SharedState, date: BillDate, now: i64) -> Result<Report, AppError> {
    let started_at = state.clock.now();
    let (outcome, detail, bill_rows, matched, differences) = match fetch(state, date, now).await {
        Fetched::Rows(rows) => {
            let (matched, differences) = compare(state, date, &rows).await?;
            (outcome::RECONCILED, None, rows.len(), matched, differences)
        }
        Fetched::Unavailable(BillUnavailable::NotReady) => (
            outcome::NOT_READY,
            Some("WeChat makes a day's bill after 10:00 (+08:00) the next day".to_owned()),
            0,
            0,
            Vec::new(),
        ),
        Fetched::Unavailable(BillUnavailable::TooOld) => (
            outcome::TOO_OLD,
            Some("WeChat keeps bills for three months".to_owned()),
            0,
            0,
            Vec::new(),
        ),
        Fetched::Unavailable(BillUnavailable::NoStatement) => {
            let (matched, differences) = compare(state, date, &[]).await?;
            (outcome::RECONCILED, None, 0, matched, differences)
        }
        Fetched::Refused(why) => (outcome::REFUSED, Some(why), 0, 0, Vec::new()),
        Fetched::Failed(why) => (outcome::FAILED, Some(why), 0, 0, Vec::new()),
    };
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let new = NewRun {
        bill_date: date.to_string(),
        started_at,
        finished_at: state.clock.now(),
        outcome: outcome.to_owned(),
        detail,
        bill_rows: count(bill_rows),
        matched: count(matched),
    };
    let id = state.store.record_run(&new, &differences).await?;
    let report = Report {
        run: new.recorded(id),
        differences,
    };
    tracing::info!(date = %date, outcome, differences = report.differences.len(), repaired = report.repaired(), "reconciliation run");
    Ok(report)
}

/// Runs yesterday's (+08:00) reconciliation once WeChat has made its bill (10:00 +08:00)
/// unless a run of that date already reconciled or found it too old; `None` when nothing
/// was due. A function of `now`, like the worker's pass.
pub async fn daily_at(state: &SharedState, now: i64) -> Result<Option<Report>, AppError> {
    let date = BillDate::in_china_at(now).previous();
    if now < date.ready_at() {
        return Ok(None);
    }
    let done = state
        .store
        .runs(Some(&date.to_string()), 20)
        .await?
        .iter()
        .any(|r| r.outcome == outcome::RECONCILED || r.outcome == outcome::TOO_OLD);
    if done {
        return Ok(None);
    }
    run_at(state, date, now).await.map(Some)
}

/// A recorded run with its differences.
pub async fn report_of(state: &SharedState, run: RunRecord) -> Result<Report, AppError> {
    let differences = state.store.differences(run.id).await?;
    Ok(Report { run, differences })
}

enum Fetched {
    Rows(Vec<TradeBillRow>),
    Unavailable(BillUnavailable),
    Refused(String),
    Failed(String),
}

async fn fetch(state: &SharedState, date: BillDate, now: i64) -> Fetched {
    let request = TradeBillRequest {
        bill_date: date,
        bill_type: BillType::All,
        gzip: true,
    };
    let answer: BillAnswer = match state.v3.get(&Endpoint::TradeBill(request)).await {
        Ok(answer) => answer,
        Err(UpstreamError::Business { code, message, .. }) => {
            return match BillUnavailable::from_refusal(&code, date, now) {
                Some(unavailable) => Fetched::Unavailable(unavailable),
                None => Fetched::Failed(format!("{code}: {message}")),
            };
        }
        Err(err) => return Fetched::Failed(error_chain(&err)),
    };
    let packed = match state.v3.download(&answer.download_url).await {
        Ok(bytes) => bytes,
        // The top-level message only: a transport error's source names the URL, whose
        // token is a (short-lived) credential for the file.
        Err(err) => return Fetched::Failed(format!("download: {err}")),
    };
    let bill = match gunzip(&packed).and_then(|bill| verify_sha1(&bill, &answer).map(|()| bill)) {
        Ok(bill) => bill,
        Err(err) => return Fetched::Refused(err.to_string()),
    };
    match parse_trade_bill(&bill) {
        Ok(parsed) => Fetched::Rows(parsed.rows),
        Err(err) => Fetched::Refused(err.to_string()),
    }
}

fn difference(
    kind: &str,
    out_trade_no: &str,
    out_refund_no: Option<&str>,
    wechat_fen: Option<i64>,
    ledger_fen: Option<i64>,
    note: &str,
) -> DifferenceRecord {
    DifferenceRecord {
        kind: kind.to_owned(),
        out_trade_no: out_trade_no.to_owned(),
        out_refund_no: out_refund_no.map(str::to_owned),
        wechat_fen,
        ledger_fen,
        resolution: "reported".to_owned(),
        note: Some(note.to_owned()).filter(|n| !n.is_empty()),
    }
}

/// Matches the bill's rows with the ledger of `date`; (rows matched, differences).
async fn compare(
    state: &SharedState,
    date: BillDate,
    rows: &[TradeBillRow],
) -> Result<(usize, Vec<DifferenceRecord>), AppError> {
    let store = &state.store;
    let mut matched = 0;
    let mut differences = Vec::new();
    let mut billed_orders = HashMap::new();
    let mut billed_refunds = HashMap::new();
    for row in rows {
        if row.is_refund() {
            billed_refunds.insert(row.out_refund_no.clone(), row.refund);
            match store.refund(&row.out_refund_no).await? {
                None => differences.push(difference(
                    kind::REFUND_AT_WECHAT_ONLY,
                    &row.out_trade_no,
                    Some(&row.out_refund_no),
                    Some(row.refund),
                    None,
                    "refund unknown to the ledger (made outside this server?)",
                )),
                Some(ours) if ours.amount_fen != row.refund => differences.push(difference(
                    kind::AMOUNT_DIFFERS,
                    &row.out_trade_no,
                    Some(&row.out_refund_no),
                    Some(row.refund),
                    Some(ours.amount_fen),
                    "",
                )),
                Some(_) => matched += 1,
            }
            continue;
        }
        billed_orders.insert(row.out_trade_no.clone(), row.total);
        let Some(ours) = store.order(&row.out_trade_no).await? else {
            differences.push(difference(
                kind::PAID_AT_WECHAT_ONLY,
                &row.out_trade_no,
                None,
                Some(row.total),
                None,
                "order unknown to the ledger",
            ));
            continue;
        };
        if ours.amount_fen != row.total {
            differences.push(difference(
                kind::AMOUNT_DIFFERS,
                &row.out_trade_no,
                None,
                Some(row.total),
                Some(ours.amount_fen),
                "",
            ));
            continue;
        }
        if ours.state.is_paid() || ours.paid_at.is_some() {
            matched += 1;
            continue;
        }
        differences.push(repair_payment(state, row, ours.amount_fen).await);
    }
    for entry in store.paid_between(date.starts_at(), date.ends_at()).await? {
        if !billed_orders.contains_key(&entry.out_trade_no) {
            differences.push(ledger_only(kind::PAID_HERE_ONLY, &entry));
        }
    }
    for entry in store
        .refunds_between(date.starts_at(), date.ends_at())
        .await?
    {
        let no = entry.out_refund_no.clone().unwrap_or_default();
        if !billed_refunds.contains_key(&no) {
            differences.push(ledger_only(kind::REFUND_HERE_ONLY, &entry));
        }
    }
    differences.sort_by(|a, b| {
        (kind_rank(&a.kind), &a.out_trade_no, &a.out_refund_no).cmp(&(
            kind_rank(&b.kind),
            &b.out_trade_no,
            &b.out_refund_no,
        ))
    });
    Ok((matched, differences))
}

/// Report order: WeChat-side surprises first, then disagreements, then the ledger's own.
fn kind_rank(k: &str) -> u8 {
    match k {
        kind::PAID_AT_WECHAT_ONLY => 0,
        kind::REFUND_AT_WECHAT_ONLY => 1,
        kind::AMOUNT_DIFFERS => 2,
        kind::PAID_HERE_ONLY => 3,
        _ => 4,
    }
}

fn ledger_only(kind: &str, entry: &LedgerEntry) -> DifferenceRecord {
    difference(
        kind,
        &entry.out_trade_no,
        entry.out_refund_no.as_deref(),
        None,
        Some(entry.amount_fen),
        "not in WeChat's bill for this date (check the adjacent day before acting)",
    )
}

/// A payment WeChat billed that the ledger holds as unpaid: query the order the normal
/// way (the same checks as a notification) and apply what WeChat answers.
async fn repair_payment(
    state: &SharedState,
    row: &TradeBillRow,
    ledger_fen: i64,
) -> DifferenceRecord {
    let mut d = difference(
        kind::PAID_AT_WECHAT_ONLY,
        &row.out_trade_no,
        None,
        Some(row.total),
        Some(ledger_fen),
        "",
    );
    let queried = payments::query_and_apply(state, &row.out_trade_no, "reconciliation").await;
    let now_paid = match queried {
        Ok(_) => state
            .store
            .order(&row.out_trade_no)
            .await
            .ok()
            .flatten()
            .is_some_and(|o| o.paid_at.is_some()),
        Err(err) => {
            d.note = Some(format!("order query failed: {}", error_chain(&err)));
            return d;
        }
    };
    if now_paid {
        d.resolution = "repaired".to_owned();
        d.note = Some("payment applied from the order query".to_owned());
    } else {
        d.note = Some("the order query did not show it paid".to_owned());
    }
    d
}
