//! The trade bill (交易账单) file: parse and write.
//!
//! Layout (WeChat's docs, 交易账单格式说明): a header row of column names, one row per
//! payment or refund with every cell starting with a backtick (so Excel keeps long numbers
//! as text), then a summary header row and one totals row, comma-separated, amounts in
//! yuan with two decimals. Confirmed from the docs: the four parts, the backtick, yuan,
//! and the leading ALL columns 交易时间, 公众账号ID, 商户号, 设备号, 微信订单号, 商户订单号,
//! 用户标识, 交易类型. Not confirmed (the docs' sample files are spreadsheets we could not
//! read): the exact tail of each column set and the summary's column names below, which
//! follow the widely published v2 downloadbill layout. So the parser finds columns by
//! *name*, requires only those reconciliation needs, and ignores the others.
//!
//! Cells carry no quoting: a cell containing a comma (a goods name, say) would shift the
//! row, so a row whose cell count differs from the header's is refused, never guessed.

use super::api::BillType;
use super::{fen_to_yuan, yuan_to_fen, BillAmountError};

const TRADE_TIME: &str = "交易时间";
const APPID: &str = "公众账号ID";
const MCHID: &str = "商户号";
const SUB_MCHID: &str = "特约商户号";
const DEVICE: &str = "设备号";
const TRANSACTION_ID: &str = "微信订单号";
const OUT_TRADE_NO: &str = "商户订单号";
const OPENID: &str = "用户标识";
const TRADE_TYPE: &str = "交易类型";
const TRADE_STATE: &str = "交易状态";
const BANK: &str = "付款银行";
const CURRENCY: &str = "货币种类";
const SETTLEMENT_TOTAL: &str = "应结订单金额";
const COUPON: &str = "代金券金额";
const REFUND_APPLIED_AT: &str = "退款申请时间";
const REFUND_SUCCESS_AT: &str = "退款成功时间";
const REFUND_ID: &str = "微信退款单号";
const OUT_REFUND_NO: &str = "商户退款单号";
const REFUND: &str = "退款金额";
const RECHARGE_REFUND: &str = "充值券退款金额";
const REFUND_TYPE: &str = "退款类型";
const REFUND_STATUS: &str = "退款状态";
const DESCRIPTION: &str = "商品名称";
const ATTACH: &str = "商户数据包";
const FEE: &str = "手续费";
const RATE: &str = "费率";
const TOTAL: &str = "订单金额";
const REQUESTED_REFUND: &str = "申请退款金额";
const RATE_NOTE: &str = "费率备注";

const HEAD: [&str; 14] = [
    TRADE_TIME,
    APPID,
    MCHID,
    SUB_MCHID,
    DEVICE,
    TRANSACTION_ID,
    OUT_TRADE_NO,
    OPENID,
    TRADE_TYPE,
    TRADE_STATE,
    BANK,
    CURRENCY,
    SETTLEMENT_TOTAL,
    COUPON,
];
const REFUND_CELLS: [&str; 6] = [
    REFUND_ID,
    OUT_REFUND_NO,
    REFUND,
    RECHARGE_REFUND,
    REFUND_TYPE,
    REFUND_STATUS,
];
const TAIL: [&str; 4] = [DESCRIPTION, ATTACH, FEE, RATE];

const SUMMARY_COUNT: &str = "总交易单数";
const SUMMARY: [&str; 7] = [
    SUMMARY_COUNT,
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

/// The columns of a bill type, in file order.
pub fn columns(bill_type: BillType) -> Vec<&'static str> {
    let mut cols: Vec<&str> = HEAD.to_vec();
    match bill_type {
        BillType::All => cols.extend(REFUND_CELLS),
        BillType::Success => {}
        BillType::Refund => {
            cols.extend([REFUND_APPLIED_AT, REFUND_SUCCESS_AT]);
            cols.extend(REFUND_CELLS);
        }
    }
    cols.extend(TAIL);
    cols.push(TOTAL);
    if bill_type != BillType::Success {
        cols.push(REQUESTED_REFUND);
    }
    cols.push(RATE_NOTE);
    cols
}

/// One payment or refund row. Amounts in fen; a payment row has no refund numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TradeBillRow {
    /// `yyyy-MM-dd HH:mm:ss` (+08:00): payment time, or when the refund was requested.
    pub trade_time: String,
    /// App id.
    pub appid: String,
    /// Merchant.
    pub mchid: String,
    /// WeChat's order number.
    pub transaction_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// Payer openid.
    pub openid: String,
    /// `JSAPI`, `NATIVE`, `APP`, `MWEB`, …
    pub trade_type: String,
    /// `SUCCESS` for a payment row, `REFUND` for a refund row (also `REVOKED`).
    pub trade_state: String,
    /// Bank of the payer.
    pub bank_type: String,
    /// `CNY`.
    pub currency: String,
    /// Settlement amount of the order (after coupons), fen.
    pub settlement_total: i64,
    /// WeChat's refund number (refund rows).
    pub refund_id: String,
    /// The merchant's refund number (refund rows).
    pub out_refund_no: String,
    /// Refunded settlement amount, fen.
    pub refund: i64,
    /// `ORIGINAL` … (refund rows).
    pub refund_type: String,
    /// `SUCCESS`, `PROCESSING`, … (refund rows).
    pub refund_status: String,
    /// Goods description.
    pub description: String,
    /// Merchant data.
    pub attach: String,
    /// Fee, fen.
    pub fee: i64,
    /// Rate, e.g. `0.60%`.
    pub rate: String,
    /// Order amount, fen.
    pub total: i64,
    /// Refund amount asked for, fen.
    pub requested_refund: i64,
}

impl TradeBillRow {
    /// A refund row (not a payment row).
    pub fn is_refund(&self) -> bool {
        self.trade_state == "REFUND" || !self.out_refund_no.is_empty()
    }
}

/// The totals row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TradeBillSummary {
    /// 总交易单数: rows in the bill.
    pub count: u64,
    /// 应结订单总金额, fen.
    pub settlement_total: i64,
    /// 退款总金额, fen.
    pub refund_total: i64,
    /// 手续费总金额, fen.
    pub fee_total: i64,
    /// 订单总金额, fen.
    pub order_total: i64,
    /// 申请退款总金额, fen.
    pub requested_refund_total: i64,
}

impl TradeBillSummary {
    /// Totals of `rows`, as WeChat writes them (payment rows add the settlement and order
    /// amounts, refund rows the refund amounts). Sums saturate: a hostile file cannot
    /// overflow them, and a saturated sum never matches a real totals row.
    pub fn of(rows: &[TradeBillRow]) -> Self {
        let mut s = Self {
            count: rows.len() as u64,
            ..Self::default()
        };
        for row in rows {
            s.fee_total = s.fee_total.saturating_add(row.fee);
            if row.is_refund() {
                s.refund_total = s.refund_total.saturating_add(row.refund);
                s.requested_refund_total = s
                    .requested_refund_total
                    .saturating_add(row.requested_refund);
            } else {
                s.settlement_total = s.settlement_total.saturating_add(row.settlement_total);
                s.order_total = s.order_total.saturating_add(row.total);
            }
        }
        s
    }
}

/// A parsed trade bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeBill {
    /// Which column set the header had.
    pub bill_type: BillType,
    /// Payment and refund rows in file order.
    pub rows: Vec<TradeBillRow>,
    /// The totals row.
    pub summary: TradeBillSummary,
}

/// Why a trade bill file was refused. `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TradeBillError {
    /// Not UTF-8 text.
    #[error("bill is not UTF-8 text")]
    NotText,
    /// No header row, or one without a column reconciliation needs.
    #[error("bill header lacks column {0}")]
    MissingColumn(&'static str),
    /// A row's cell count differs from the header's.
    #[error("line {line}: {found} cells where the header has {expected}")]
    CellCount {
        /// Line.
        line: usize,
        /// Cells found.
        found: usize,
        /// Cells in the header.
        expected: usize,
    },
    /// A data cell without its backtick.
    #[error("line {line}: cell {column} does not start with a backtick")]
    NoBacktick {
        /// Line.
        line: usize,
        /// Column name.
        column: String,
    },
    /// An amount that is not yuan with two decimals.
    #[error("line {line}: {column}: {source}")]
    Amount {
        /// Line.
        line: usize,
        /// Column name.
        column: String,
        /// Why.
        #[source]
        source: BillAmountError,
    },
    /// The file ends before its summary rows (cut short).
    #[error("bill has no summary rows: truncated")]
    Truncated,
    /// The totals row disagrees with the rows.
    #[error("bill totals disagree with its rows: {0}")]
    Totals(String),
}

/// Parses a trade bill of any type (found from its header).
pub fn parse_trade_bill(bytes: &[u8]) -> Result<TradeBill, TradeBillError> {
    let text = std::str::from_utf8(bytes).map_err(|_| TradeBillError::NotText)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or(TradeBillError::MissingColumn(TRADE_TIME))?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let bill_type = if names.contains(&REFUND_APPLIED_AT) {
        BillType::Refund
    } else if names.contains(&OUT_REFUND_NO) {
        BillType::All
    } else {
        BillType::Success
    };
    let col = |name: &'static str| names.iter().position(|n| *n == name);
    let need = |name: &'static str| col(name).ok_or(TradeBillError::MissingColumn(name));
    for name in [
        TRADE_TIME,
        MCHID,
        TRANSACTION_ID,
        OUT_TRADE_NO,
        TRADE_STATE,
        TOTAL,
    ] {
        need(name)?;
    }
    if bill_type != BillType::Success {
        for name in [OUT_REFUND_NO, REFUND_ID, REFUND, REFUND_STATUS] {
            need(name)?;
        }
    }
    let mut rows = Vec::new();
    let mut summary = None;
    while let Some((line, raw)) = lines.next() {
        let cells: Vec<&str> = raw.split(',').collect();
        if cells.first().map(|c| c.trim()) == Some(SUMMARY_COUNT) {
            let (total_line, totals) = lines.next().ok_or(TradeBillError::Truncated)?;
            summary = Some(parse_summary(&cells, total_line, totals)?);
            break;
        }
        if cells.len() != names.len() {
            return Err(TradeBillError::CellCount {
                line,
                found: cells.len(),
                expected: names.len(),
            });
        }
        let mut values = Vec::with_capacity(cells.len());
        for (cell, name) in cells.iter().zip(&names) {
            let value = cell
                .strip_prefix('`')
                .ok_or_else(|| TradeBillError::NoBacktick {
                    line,
                    column: (*name).to_owned(),
                })?;
            values.push(value);
        }
        let text = |name: &'static str| col(name).map(|i| values[i].to_owned()).unwrap_or_default();
        let amount = |name: &'static str| -> Result<i64, TradeBillError> {
            match col(name) {
                None => Ok(0),
                Some(i) => yuan_to_fen(values[i]).map_err(|source| TradeBillError::Amount {
                    line,
                    column: name.to_owned(),
                    source,
                }),
            }
        };
        // A payment row of an ALL bill has `0` where a refund's numbers would be.
        let refund_no = |name: &'static str| {
            let v = text(name);
            if v == "0" {
                String::new()
            } else {
                v
            }
        };
        rows.push(TradeBillRow {
            trade_time: text(TRADE_TIME),
            appid: text(APPID),
            mchid: text(MCHID),
            transaction_id: text(TRANSACTION_ID),
            out_trade_no: text(OUT_TRADE_NO),
            openid: text(OPENID),
            trade_type: text(TRADE_TYPE),
            trade_state: text(TRADE_STATE),
            bank_type: text(BANK),
            currency: text(CURRENCY),
            settlement_total: amount(SETTLEMENT_TOTAL)?,
            refund_id: refund_no(REFUND_ID),
            out_refund_no: refund_no(OUT_REFUND_NO),
            refund: amount(REFUND)?,
            refund_type: text(REFUND_TYPE),
            refund_status: text(REFUND_STATUS),
            description: text(DESCRIPTION),
            attach: text(ATTACH),
            fee: amount(FEE)?,
            rate: text(RATE),
            total: amount(TOTAL)?,
            requested_refund: amount(REQUESTED_REFUND)?,
        });
    }
    let summary = summary.ok_or(TradeBillError::Truncated)?;
    let computed = TradeBillSummary::of(&rows);
    if summary.count != computed.count {
        return Err(TradeBillError::Totals(format!(
            "{} rows, totals row says {}",
            computed.count, summary.count
        )));
    }
    if (
        summary.settlement_total,
        summary.refund_total,
        summary.order_total,
    ) != (
        computed.settlement_total,
        computed.refund_total,
        computed.order_total,
    ) {
        return Err(TradeBillError::Totals("amount totals differ".into()));
    }
    Ok(TradeBill {
        bill_type,
        rows,
        summary,
    })
}

fn parse_summary(
    names: &[&str],
    line: usize,
    totals: &str,
) -> Result<TradeBillSummary, TradeBillError> {
    let cells: Vec<&str> = totals.split(',').collect();
    if cells.len() != names.len() {
        return Err(TradeBillError::CellCount {
            line,
            found: cells.len(),
            expected: names.len(),
        });
    }
    let cell = |name: &str| {
        names
            .iter()
            .position(|n| n.trim() == name)
            .map(|i| cells[i].strip_prefix('`').unwrap_or(cells[i]))
    };
    let amount = |name: &str| -> Result<i64, TradeBillError> {
        cell(name).map_or(Ok(0), |v| {
            yuan_to_fen(v).map_err(|source| TradeBillError::Amount {
                line,
                column: name.to_owned(),
                source,
            })
        })
    };
    let count = cell(SUMMARY_COUNT)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| TradeBillError::Totals(format!("line {line}: bad {SUMMARY_COUNT}")))?;
    Ok(TradeBillSummary {
        count,
        settlement_total: amount(SUMMARY[1])?,
        refund_total: amount(SUMMARY[2])?,
        fee_total: amount(SUMMARY[4])?,
        order_total: amount(SUMMARY[5])?,
        requested_refund_total: amount(SUMMARY[6])?,
    })
}

impl BillType {
    /// Whether a bill of this type lists `row` (refunds are not in `SUCCESS`, payments not
    /// in `REFUND`).
    pub fn holds(self, row: &TradeBillRow) -> bool {
        match self {
            BillType::All => true,
            BillType::Success => !row.is_refund(),
            BillType::Refund => row.is_refund(),
        }
    }
}

/// Writes `rows` as a bill of `bill_type` (the simulator's file; the parser's inverse).
/// Rows that do not belong in that type (refunds in `SUCCESS`, payments in `REFUND`) are
/// left out, as WeChat does.
pub fn render_trade_bill(bill_type: BillType, rows: &[TradeBillRow]) -> String {
    let cols = columns(bill_type);
    let kept: Vec<TradeBillRow> = rows
        .iter()
        .filter(|r| bill_type.holds(r))
        .cloned()
        .collect();
    let mut out = cols.join(",");
    out.push_str("\r\n");
    for row in &kept {
        let cells: Vec<String> = cols
            .iter()
            .map(|name| format!("`{}", cell_of(row, name)))
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    let s = TradeBillSummary::of(&kept);
    out.push_str(&SUMMARY.join(","));
    out.push_str("\r\n");
    let totals = [
        s.count.to_string(),
        fen_to_yuan(s.settlement_total),
        fen_to_yuan(s.refund_total),
        fen_to_yuan(0),
        fen_to_yuan(s.fee_total),
        fen_to_yuan(s.order_total),
        fen_to_yuan(s.requested_refund_total),
    ];
    let totals: Vec<String> = totals.iter().map(|t| format!("`{t}")).collect();
    out.push_str(&totals.join(","));
    out.push_str("\r\n");
    out
}

fn cell_of(row: &TradeBillRow, name: &str) -> String {
    let refund_no = |v: &str| {
        if v.is_empty() {
            "0".to_owned()
        } else {
            v.to_owned()
        }
    };
    match name {
        TRADE_TIME => row.trade_time.clone(),
        APPID => row.appid.clone(),
        MCHID => row.mchid.clone(),
        TRANSACTION_ID => row.transaction_id.clone(),
        OUT_TRADE_NO => row.out_trade_no.clone(),
        OPENID => row.openid.clone(),
        TRADE_TYPE => row.trade_type.clone(),
        TRADE_STATE => row.trade_state.clone(),
        BANK => row.bank_type.clone(),
        CURRENCY => row.currency.clone(),
        SETTLEMENT_TOTAL => fen_to_yuan(row.settlement_total),
        COUPON | RECHARGE_REFUND => fen_to_yuan(0),
        REFUND_APPLIED_AT | REFUND_SUCCESS_AT => row.trade_time.clone(),
        REFUND_ID => refund_no(&row.refund_id),
        OUT_REFUND_NO => refund_no(&row.out_refund_no),
        REFUND => fen_to_yuan(row.refund),
        REFUND_TYPE => row.refund_type.clone(),
        REFUND_STATUS => row.refund_status.clone(),
        DESCRIPTION => row.description.clone(),
        ATTACH => row.attach.clone(),
        FEE => fen_to_yuan(row.fee),
        RATE => row.rate.clone(),
        TOTAL => fen_to_yuan(row.total),
        REQUESTED_REFUND => fen_to_yuan(row.requested_refund),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A realistic ALL bill: two payments, one refund, Windows line ends, a BOM.
    const REALISTIC: &str = "\u{feff}交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n\
`2026-12-03 09:15:02,`wx8888888888888888,`1900000109,`0,`,`4200002345202612031234567890,`ord-001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`CMB_DEBIT,`CNY,`123.45,`0.00,`0,`0,`0.00,`0.00,`,`,`T恤,`,`0.74,`0.60%,`123.45,`0.00,`\r\n\
`2026-12-03 11:40:00,`wx8888888888888888,`1900000109,`0,`,`4200002345202612039876543210,`ord-002,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.29,`0.00,`0,`0,`0.00,`0.00,`,`,`贴纸,`,`0.00,`0.60%,`0.29,`0.00,`\r\n\
`2026-12-03 15:01:09,`wx8888888888888888,`1900000109,`0,`,`4200002345202612031234567890,`ord-001,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`CMB_DEBIT,`CNY,`0.00,`0.00,`50300000000000000001,`rf-001,`20.00,`0.00,`ORIGINAL,`SUCCESS,`T恤,`,`-0.12,`0.60%,`123.45,`20.00,`\r\n\
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n\
`3,`123.74,`20.00,`0.00,`0.62,`123.74,`20.00\r\n";

    #[test]
    fn a_realistic_all_bill_parses_to_fen() {
        let bill = parse_trade_bill(REALISTIC.as_bytes()).expect("parses");
        assert_eq!(bill.bill_type, BillType::All);
        assert_eq!(bill.rows.len(), 3);
        let pay = &bill.rows[0];
        assert_eq!(pay.out_trade_no, "ord-001");
        assert_eq!(pay.total, 12_345);
        assert!(!pay.is_refund());
        assert_eq!(pay.out_refund_no, "");
        assert_eq!(bill.rows[1].total, 29);
        let refund = &bill.rows[2];
        assert!(refund.is_refund());
        assert_eq!(
            (refund.out_refund_no.as_str(), refund.refund),
            ("rf-001", 2_000)
        );
        assert_eq!(refund.fee, -12);
        assert_eq!(bill.summary.count, 3);
        assert_eq!(bill.summary.order_total, 12_374);
        assert_eq!(bill.summary.fee_total, 62);
    }

    #[test]
    fn a_bad_amount_is_refused_with_its_place() {
        let bad = REALISTIC.replacen("`0.29,`0.00", "`0.2,`0.00", 1);
        match parse_trade_bill(bad.as_bytes()) {
            Err(TradeBillError::Amount { line, column, .. }) => {
                assert_eq!((line, column.as_str()), (3, "应结订单金额"))
            }
            other => panic!("expected an amount error, got {other:?}"),
        }
    }

    #[test]
    fn a_cut_file_a_shifted_row_or_wrong_totals_are_refused() {
        let cut = &REALISTIC[..REALISTIC.find("总交易单数").expect("summary")];
        assert_eq!(
            parse_trade_bill(cut.as_bytes()),
            Err(TradeBillError::Truncated)
        );
        let shifted = REALISTIC.replacen("`贴纸", "`贴纸,`大号", 1);
        assert!(matches!(
            parse_trade_bill(shifted.as_bytes()),
            Err(TradeBillError::CellCount { line: 3, .. })
        ));
        let totals = REALISTIC.replacen("`3,`123.74", "`2,`123.74", 1);
        assert!(matches!(
            parse_trade_bill(totals.as_bytes()),
            Err(TradeBillError::Totals(_))
        ));
        let no_tick = REALISTIC.replacen("`ord-002", "ord-002", 1);
        assert!(matches!(
            parse_trade_bill(no_tick.as_bytes()),
            Err(TradeBillError::NoBacktick { .. })
        ));
        assert_eq!(
            parse_trade_bill(&[0xff, 0xfe]),
            Err(TradeBillError::NotText)
        );
    }

    #[test]
    fn huge_amounts_cannot_overflow_the_totals() {
        let max = "92233720368547758.07";
        let huge = REALISTIC
            .replacen("`123.45,`0.00,`0,`0", &format!("`{max},`0.00,`0,`0"), 1)
            .replacen("`0.29,`0.00,`0,`0", &format!("`{max},`0.00,`0,`0"), 1);
        assert!(matches!(
            parse_trade_bill(huge.as_bytes()),
            Err(TradeBillError::Totals(_))
        ));
    }

    #[test]
    fn the_writer_and_parser_agree_on_every_type() {
        let bill = parse_trade_bill(REALISTIC.as_bytes()).expect("parses");
        for t in [BillType::All, BillType::Success, BillType::Refund] {
            let again =
                parse_trade_bill(render_trade_bill(t, &bill.rows).as_bytes()).expect("re-parses");
            assert_eq!(again.bill_type, t);
            let expected: Vec<_> = bill
                .rows
                .iter()
                .filter(|r| t == BillType::All || (t == BillType::Refund) == r.is_refund())
                .map(|r| (r.out_trade_no.clone(), r.total, r.refund))
                .collect();
            let got: Vec<_> = again
                .rows
                .iter()
                .map(|r| (r.out_trade_no.clone(), r.total, r.refund))
                .collect();
            assert_eq!(got, expected, "{t:?}");
        }
    }
}
