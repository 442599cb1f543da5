//! Trade bills written then parsed keep every amount to the fen.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use wxpay_core::v3::bill::{parse_trade_bill, render_trade_bill, BillType, TradeBillRow};

fn row() -> impl Strategy<Value = TradeBillRow> {
    (
        0i64..10_000_000_000,
        0i64..100_000_000,
        -1_000i64..1_000,
        any::<bool>(),
        "[a-z0-9]{6,12}",
    )
        .prop_map(|(total, refund, fee, is_refund, no)| TradeBillRow {
            trade_time: "2026-12-03 10:00:00".into(),
            mchid: "1900000109".into(),
            transaction_id: format!("42000{no}"),
            out_trade_no: no.clone(),
            trade_state: if is_refund { "REFUND" } else { "SUCCESS" }.into(),
            settlement_total: if is_refund { 0 } else { total },
            total,
            refund: if is_refund { refund } else { 0 },
            requested_refund: if is_refund { refund } else { 0 },
            out_refund_no: if is_refund {
                format!("rf-{no}")
            } else {
                String::new()
            },
            refund_id: if is_refund {
                format!("503{no}")
            } else {
                String::new()
            },
            refund_status: if is_refund { "SUCCESS" } else { "" }.into(),
            fee,
            ..TradeBillRow::default()
        })
}

proptest! {
    #[test]
    fn amounts_round_trip(rows in proptest::collection::vec(row(), 0..20)) {
        let parsed = parse_trade_bill(render_trade_bill(BillType::All, &rows).as_bytes()).expect("parses");
        let amounts = |r: &TradeBillRow| (r.out_trade_no.clone(), r.out_refund_no.clone(), r.total, r.settlement_total, r.refund, r.requested_refund, r.fee);
        let want: Vec<_> = rows.iter().map(amounts).collect();
        let got: Vec<_> = parsed.rows.iter().map(amounts).collect();
        prop_assert_eq!(got, want);
    }
}

proptest! {
    /// Whatever the bytes, the parser and gunzip answer without panicking.
    #[test]
    fn any_bytes_are_refused_or_parsed_without_a_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_trade_bill(&data);
        let _ = wxpay_core::v3::bill::gunzip(&data);
    }

    /// A realistic bill with one byte changed anywhere is refused or parsed, never a panic.
    #[test]
    fn a_bill_with_one_byte_changed_never_panics(at in 0usize..4096, byte in any::<u8>()) {
        let row = TradeBillRow {
            trade_time: "2026-12-03 10:00:00".into(),
            mchid: "1900000109".into(),
            out_trade_no: "ord-1".into(),
            trade_state: "SUCCESS".into(),
            total: 12_345,
            settlement_total: 12_345,
            ..TradeBillRow::default()
        };
        let mut bill = render_trade_bill(BillType::All, &[row]).into_bytes();
        let at = at % bill.len();
        bill[at] = byte;
        let _ = parse_trade_bill(&bill);
    }
}
