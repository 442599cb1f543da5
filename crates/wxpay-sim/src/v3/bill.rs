//! The bill endpoints: `GET /v3/bill/tradebill`, `GET /v3/bill/fundflowbill` and the file
//! download they point at.
//!
//! A bill lists the merchant's own orders paid and refunds requested on one date (+08:00),
//! written with the core's bill writer. It is given only from 10:00 (+08:00) the next day
//! and for three months (judged by the simulator's clock plus the control API's bill-clock
//! offset): before, 400 `STATEMENT_CREATING`; after, 400 `INVALID_REQUEST`; a day without
//! trades is 400 `NO_STATEMENT_EXIST`. The answer is signed and carries the SHA1 of the
//! uncompressed file; the file itself is served unsigned to the same merchant only, with a
//! signed `Authorization`, for five minutes.

use std::sync::atomic::Ordering;

use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use wxpay_core::v3::bill::api::{Availability, BILL_DOWNLOAD};
use wxpay_core::v3::bill::file::{gunzip, gzip, sha1_hex};
use wxpay_core::v3::bill::{
    fen_to_yuan, render_trade_bill, BillAnswer, BillDate, FundFlowBillRequest, TradeBillRequest,
    TradeBillRow,
};
use wxpay_core::v3::models::error_code;

use super::call::{ApiError, Reply};
use crate::bill_file::BillFile;
use crate::crypto::VerifiedAuth;
use crate::faults::FaultKind;
use crate::ids::random_alnum;
use crate::sim::{lock, now_unix, Sim};
use crate::state::World;

/// How long a `download_url` works (WeChat's docs give 5 minutes for the v3 one).
const DOWNLOAD_VALID_SECS: i64 = 300;

/// The time the bill endpoints judge readiness by.
pub fn bill_clock(sim: &Sim) -> i64 {
    now_unix() + sim.bill_clock_offset.load(Ordering::Relaxed)
}

/// `GET /v3/bill/tradebill`.
pub fn trade_bill(
    sim: &Sim,
    auth: &VerifiedAuth,
    request: &TradeBillRequest,
) -> Result<Reply, ApiError> {
    check_available(sim, request.bill_date)?;
    let rows = trade_rows(&lock(&sim.world), &auth.mchid, request.bill_date);
    if rows.is_empty() {
        return Err(no_statement());
    }
    let bill = render_trade_bill(request.bill_type, &rows);
    hand_out(sim, auth, bill.into_bytes(), request.gzip)
}

/// `GET /v3/bill/fundflowbill` (basic account: payments in, refunds out).
pub fn fund_flow_bill(
    sim: &Sim,
    auth: &VerifiedAuth,
    request: &FundFlowBillRequest,
) -> Result<Reply, ApiError> {
    check_available(sim, request.bill_date)?;
    let rows = trade_rows(&lock(&sim.world), &auth.mchid, request.bill_date);
    if rows.is_empty() || request.account_type != "BASIC" {
        return Err(no_statement());
    }
    hand_out(sim, auth, fund_flow_file(&rows).into_bytes(), request.gzip)
}

/// `GET /v3/billdownload/file?token=…`: the file, unsigned, to the merchant it was made for.
pub fn download(sim: &Sim, auth: &VerifiedAuth, token: &str) -> Result<Reply, ApiError> {
    let now = now_unix();
    let mut bills = lock(&sim.bills);
    bills.retain(|_, f| f.expires_at > now);
    match bills.get(token) {
        Some(file) if file.mchid == auth.mchid => Ok(Reply::File(file.bytes.clone())),
        Some(_) => Err(ApiError::new(error_code::NO_AUTH, "无权下载该账单")),
        None => Err(ApiError::new(
            error_code::RESOURCE_NOT_EXISTS,
            "下载地址无效或已过期",
        )),
    }
}

/// Applies a file fault: the file cut at half its length, or its bill altered — one
/// character of the uncompressed bill changed and a gzip stream rebuilt around it, as a
/// forger would, so only the SHA1 of the signed answer can tell.
pub fn damage(mut bytes: Vec<u8>, kind: FaultKind) -> Vec<u8> {
    if kind == FaultKind::TruncateFile {
        bytes.truncate(bytes.len() / 2);
        return bytes;
    }
    let packed = gunzip(&bytes).ok();
    let mut bill = packed.clone().unwrap_or(bytes);
    // Turn one digit into another: the bill still reads, one amount or number differs.
    if let Some(digit) = bill.iter_mut().rev().find(|b| b.is_ascii_digit()) {
        *digit = if *digit == b'9' { b'8' } else { *digit + 1 };
    }
    if packed.is_some() {
        gzip(&bill)
    } else {
        bill
    }
}

fn check_available(sim: &Sim, date: BillDate) -> Result<(), ApiError> {
    match date.availability(bill_clock(sim)) {
        Availability::Ready => Ok(()),
        Availability::NotReady => Err(ApiError::new(
            error_code::STATEMENT_CREATING,
            "账单生成中，请在次日10点后再下载",
        )),
        Availability::TooOld => Err(ApiError::new(
            error_code::INVALID_REQUEST,
            "参数错误，仅支持下载三个月内的账单 (bill_date)",
        )),
    }
}

fn no_statement() -> ApiError {
    ApiError::new(error_code::NO_STATEMENT_EXIST, "账单文件不存在")
}

fn hand_out(
    sim: &Sim,
    auth: &VerifiedAuth,
    bill: Vec<u8>,
    gzipped: bool,
) -> Result<Reply, ApiError> {
    // WeChat hashes the uncompressed bill, whatever tar_type asked for.
    let hash_value = sha1_hex(&bill);
    let bytes = if gzipped { gzip(&bill) } else { bill };
    let token = random_alnum(32);
    lock(&sim.bills).insert(
        token.clone(),
        BillFile {
            mchid: auth.mchid.clone(),
            bytes,
            expires_at: now_unix() + DOWNLOAD_VALID_SECS,
        },
    );
    Reply::json(&BillAnswer {
        hash_type: "SHA1".into(),
        hash_value,
        download_url: format!("{}{BILL_DOWNLOAD}?token={token}", sim.base_url()),
    })
}

/// Payments made and refunds requested on `date` by `mchid`, in time order.
fn trade_rows(world: &World, mchid: &str, date: BillDate) -> Vec<TradeBillRow> {
    let on_date = |t: i64| t >= date.starts_at() && t < date.ends_at();
    let mut rows: Vec<(i64, TradeBillRow)> = Vec::new();
    for order in world.orders.values().filter(|o| o.mchid == mchid) {
        let Some(paid_at) = order.success_time.filter(|t| on_date(*t)) else {
            continue;
        };
        let total = i64::try_from(order.total).unwrap_or(i64::MAX);
        rows.push((
            paid_at,
            TradeBillRow {
                trade_time: china_time(paid_at),
                appid: order.appid.clone(),
                mchid: order.mchid.clone(),
                transaction_id: order.transaction_id.clone().unwrap_or_default(),
                out_trade_no: order.out_trade_no.clone(),
                openid: order.payer_openid.clone().unwrap_or_default(),
                trade_type: order.trade_type.as_str().to_owned(),
                trade_state: "SUCCESS".into(),
                bank_type: "OTHERS".into(),
                currency: order.currency.clone(),
                settlement_total: total,
                description: order.description.replace(',', " "),
                attach: order.attach.clone().unwrap_or_default().replace(',', " "),
                fee: fee(total),
                rate: "0.60%".into(),
                total,
                ..TradeBillRow::default()
            },
        ));
    }
    for refund in world.refunds.values().filter(|r| r.mchid == mchid) {
        if !on_date(refund.created_at) {
            continue;
        }
        let order = world
            .orders
            .values()
            .find(|o| o.mchid == mchid && o.out_trade_no == refund.out_trade_no);
        let amount = i64::try_from(refund.refund).unwrap_or(i64::MAX);
        rows.push((
            refund.created_at,
            TradeBillRow {
                trade_time: china_time(refund.created_at),
                appid: order.map(|o| o.appid.clone()).unwrap_or_default(),
                mchid: refund.mchid.clone(),
                transaction_id: refund.transaction_id.clone(),
                out_trade_no: refund.out_trade_no.clone(),
                openid: order
                    .and_then(|o| o.payer_openid.clone())
                    .unwrap_or_default(),
                trade_type: order
                    .map(|o| o.trade_type.as_str().to_owned())
                    .unwrap_or_default(),
                trade_state: "REFUND".into(),
                bank_type: "OTHERS".into(),
                currency: refund.currency.clone(),
                refund_id: refund.refund_id.clone(),
                out_refund_no: refund.out_refund_no.clone(),
                refund: amount,
                refund_type: "ORIGINAL".into(),
                refund_status: refund.status.as_str().to_owned(),
                description: order
                    .map(|o| o.description.replace(',', " "))
                    .unwrap_or_default(),
                fee: -fee(amount),
                rate: "0.60%".into(),
                total: i64::try_from(refund.total).unwrap_or(i64::MAX),
                requested_refund: amount,
                ..TradeBillRow::default()
            },
        ));
    }
    rows.sort_by(|a, b| {
        (a.0, a.1.is_refund(), &a.1.out_trade_no, &a.1.out_refund_no).cmp(&(
            b.0,
            b.1.is_refund(),
            &b.1.out_trade_no,
            &b.1.out_refund_no,
        ))
    });
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The simulator's fee: 0.6 %, rounded half up to the fen.
fn fee(fen: i64) -> i64 {
    fen.saturating_mul(6).saturating_add(500) / 1000
}

/// `yyyy-MM-dd HH:mm:ss` in +08:00.
fn china_time(unix: i64) -> String {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
}

/// A basic-account fund-flow bill: one income row per payment, one expense row per refund.
/// Column names follow the published layout (记账时间 … 备注, then 资金流水总笔数 …); the
/// server does not read this bill, so only its hash and shape are exercised.
fn fund_flow_file(rows: &[TradeBillRow]) -> String {
    let mut out = String::from(
        "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号\r\n",
    );
    let (mut balance, mut income, mut income_n, mut spent, mut spent_n) = (0i64, 0i64, 0, 0i64, 0);
    for row in rows {
        let (name, kind, amount, id) = if row.is_refund() {
            spent += row.refund;
            spent_n += 1;
            ("退款", "支出", row.refund, &row.refund_id)
        } else {
            income += row.total - row.fee;
            income_n += 1;
            ("交易", "收入", row.total - row.fee, &row.transaction_id)
        };
        balance += if kind == "收入" { amount } else { -amount };
        out.push_str(&format!(
            "`{},`{id},`{},`{name},`{name},`{kind},`{},`{},`system,`,`{}\r\n",
            row.trade_time,
            random_alnum(20),
            fen_to_yuan(amount),
            fen_to_yuan(balance),
            row.out_trade_no,
        ));
    }
    out.push_str("资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额\r\n");
    out.push_str(&format!(
        "`{},`{income_n},`{},`{spent_n},`{}\r\n",
        rows.len(),
        fen_to_yuan(income),
        fen_to_yuan(spent)
    ));
    out
}
