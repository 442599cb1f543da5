//! Bill (对账单) values shared by the trade bill (申请交易账单) and fund-flow bill
//! (申请资金账单) APIs.
//!
//! Bill files carry amounts in yuan as decimal text (for example `` `123.45 ``), unlike the
//! JSON APIs, which carry integer fen. Converting through floating point would lose cents
//! (`0.29 * 100.0 == 28.999…`), so the text is converted to fen digit by digit.

use thiserror::Error;

pub mod api;
pub mod file;
pub mod trade;

pub use api::{
    BillAnswer, BillDate, BillType, BillUnavailable, FundFlowBillRequest, TradeBillRequest,
};
pub use file::{gunzip, verify_sha1, BillFileError};
pub use trade::{
    parse_trade_bill, render_trade_bill, TradeBill, TradeBillError, TradeBillRow, TradeBillSummary,
};

/// Why a bill amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BillAmountError {
    /// Not `[-]digits.dd`: bill amounts always have exactly two decimals.
    #[error("bill amount is not yuan with exactly two decimals: {0:?}")]
    Format(String),
    /// More fen than an `i64` holds.
    #[error("bill amount out of range: {0:?}")]
    Range(String),
}

/// Converts a bill amount in yuan with exactly two decimals (`"123456.78"`, `"-0.01"`) to fen.
///
/// A leading backtick (the bill's cell marker) is stripped first. Anything else — no
/// decimals, one or three decimals, signs other than a single leading `-`, spaces, letters —
/// is refused, because a silently rounded amount would make reconciliation report the
/// wrong difference.
pub fn yuan_to_fen(text: &str) -> Result<i64, BillAmountError> {
    let format = || BillAmountError::Format(text.to_owned());
    let cell = text.strip_prefix('`').unwrap_or(text);
    let (negative, digits) = match cell.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cell),
    };
    let (whole, cents) = digits.split_once('.').ok_or_else(format)?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || cents.len() != 2 || !all_digits(cents) {
        return Err(format());
    }
    let range = || BillAmountError::Range(text.to_owned());
    let whole: i64 = whole.parse().map_err(|_| range())?;
    let cents: i64 = cents.parse().map_err(|_| format())?;
    let fen = whole
        .checked_mul(100)
        .and_then(|f| f.checked_add(cents))
        .ok_or_else(range)?;
    Ok(if negative { -fen } else { fen })
}

/// Writes fen as a bill amount: yuan with exactly two decimals (`-1` → `"-0.01"`).
pub fn fen_to_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_with_two_decimals_converts_exactly() {
        assert_eq!(yuan_to_fen("0.01"), Ok(1));
        assert_eq!(yuan_to_fen("1.00"), Ok(100));
        assert_eq!(yuan_to_fen("0.29"), Ok(29));
        assert_eq!(yuan_to_fen("123456.78"), Ok(12_345_678));
        assert_eq!(yuan_to_fen("-0.01"), Ok(-1));
        assert_eq!(yuan_to_fen("`0.00"), Ok(0));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "1.5", "1.234", "abc", "1", "", ".50", "1.", "+1.00", "--1.00", " 1.00", "1.0a",
            "1,000.00", "-", "1e2.00",
        ] {
            assert!(
                matches!(yuan_to_fen(bad), Err(BillAmountError::Format(_))),
                "{bad:?} accepted"
            );
        }
        assert!(matches!(
            yuan_to_fen("99999999999999999999.00"),
            Err(BillAmountError::Range(_))
        ));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,24}") {
            let _ = yuan_to_fen(&text);
        }

        #[test]
        fn round_trips_every_fen(fen in -1_000_000_000_000i64..1_000_000_000_000) {
            let sign = if fen < 0 { "-" } else { "" };
            let text = format!("{sign}{}.{:02}", fen.unsigned_abs() / 100, fen.unsigned_abs() % 100);
            prop_assert_eq!(yuan_to_fen(&text), Ok(fen));
        }
    }
}
