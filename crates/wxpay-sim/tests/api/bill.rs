//! The bill endpoints: readiness by date, the signed answer, the unsigned file, file faults.

use serde_json::json;
use wxpay_core::v3::bill::api::Availability;
use wxpay_core::v3::bill::{
    gunzip, parse_trade_bill, verify_sha1, BillAnswer, BillDate, BillFileError,
};

use crate::common::{now, start, TestSim};

/// Today's date in China, and the bill clock moved to when its bill is ready.
async fn make_today_ready(s: &TestSim) -> BillDate {
    let today = BillDate::in_china_at(now());
    let offset = today.ready_at() - now() + 60;
    let (status, _) = s
        .control(
            "POST",
            "/__sim/bill-clock",
            Some(json!({ "offset_secs": offset })),
        )
        .await;
    assert_eq!(status, 200);
    today
}

/// A signed GET of the file; returns status, whether it carried a signature, bytes.
async fn download(s: &TestSim, answer: &BillAnswer, signed: bool) -> (u16, bool, Vec<u8>) {
    let path = answer
        .download_url
        .strip_prefix(&s.sim.base_url())
        .expect("on the simulator");
    let mut req = s.http.get(&answer.download_url);
    if signed {
        req = req.header("authorization", s.authorization("GET", path, "", now()));
    }
    let resp = req.send().await.expect("download");
    let status = resp.status().as_u16();
    let signature = resp.headers().contains_key("wechatpay-signature");
    (
        status,
        signature,
        resp.bytes().await.expect("bytes").to_vec(),
    )
}

async fn ask(s: &TestSim, query: &str) -> crate::common::Resp {
    s.call("GET", &format!("/v3/bill/tradebill?{query}"), "")
        .await
}

#[tokio::test]
async fn a_days_trade_bill_lists_payments_and_refunds_with_its_hash() {
    let s = start().await;
    s.paid_order("bill-a", 12_345, "https://merchant.example/notify")
        .await;
    s.paid_order("bill-b", 29, "https://merchant.example/notify")
        .await;
    let (status, refund) = s
        .control(
            "POST",
            "/__sim/portal-refunds",
            Some(json!({ "out_trade_no": "bill-a", "out_refund_no": "portal-1", "refund": 2_000 })),
        )
        .await;
    assert_eq!(status, 200, "{refund}");
    let today = BillDate::in_china_at(now());
    assert_eq!(today.availability(now()), Availability::NotReady);
    let early = ask(&s, &format!("bill_date={today}&bill_type=ALL")).await;
    assert_eq!(
        (early.status, early.json()["code"].as_str()),
        (400, Some("STATEMENT_CREATING"))
    );

    make_today_ready(&s).await;
    let r = ask(
        &s,
        &format!("bill_date={today}&bill_type=ALL&tar_type=GZIP"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer: BillAnswer = serde_json::from_str(&r.body).expect("answer");
    assert_eq!(answer.hash_type, "SHA1");
    let (status, signed, bytes) = download(&s, &answer, true).await;
    assert_eq!(status, 200);
    assert!(!signed, "bill files are not signed");
    let bill = gunzip(&bytes).expect("gzip");
    verify_sha1(&bill, &answer).expect("hash of the uncompressed bill");
    let parsed = parse_trade_bill(&bill).expect("parses");
    let rows: Vec<_> = parsed
        .rows
        .iter()
        .map(|r| {
            (
                r.out_trade_no.as_str(),
                r.trade_state.as_str(),
                r.total,
                r.out_refund_no.as_str(),
                r.refund,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("bill-a", "SUCCESS", 12_345, "", 0),
            ("bill-b", "SUCCESS", 29, "", 0),
            ("bill-a", "REFUND", 12_345, "portal-1", 2_000),
        ]
    );

    // SUCCESS and REFUND bills hold their part only; plain (no gzip) works too.
    let r = ask(&s, &format!("bill_date={today}&bill_type=REFUND")).await;
    let answer: BillAnswer = serde_json::from_str(&r.body).expect("answer");
    let (_, _, plain) = download(&s, &answer, true).await;
    verify_sha1(&plain, &answer).expect("hash");
    assert_eq!(parse_trade_bill(&plain).expect("parses").rows.len(), 1);

    // The fund-flow bill answers the same way.
    let r = s
        .call(
            "GET",
            &format!("/v3/bill/fundflowbill?bill_date={today}"),
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer: BillAnswer = serde_json::from_str(&r.body).expect("answer");
    let (_, _, flow) = download(&s, &answer, true).await;
    verify_sha1(&flow, &answer).expect("hash");
    assert!(String::from_utf8(flow)
        .expect("text")
        .contains("资金流水总笔数"));
}

#[tokio::test]
async fn the_download_needs_a_signature_and_file_faults_damage_it() {
    let s = start().await;
    s.paid_order("bill-f", 100, "https://merchant.example/notify")
        .await;
    let today = make_today_ready(&s).await;
    let r = ask(
        &s,
        &format!("bill_date={today}&bill_type=ALL&tar_type=GZIP"),
    )
    .await;
    let answer: BillAnswer = serde_json::from_str(&r.body).expect("answer");
    let (status, _, _) = download(&s, &answer, false).await;
    assert_eq!(status, 401);

    for (kind, truncated) in [("corrupt_file", false), ("truncate_file", true)] {
        let (status, _) = s
            .control(
                "POST",
                "/__sim/faults",
                Some(json!({ "endpoint": "v3.billdownload", "kind": kind })),
            )
            .await;
        assert_eq!(status, 200);
        let (_, _, bytes) = download(&s, &answer, true).await;
        let outcome = gunzip(&bytes).and_then(|bill| verify_sha1(&bill, &answer));
        match outcome {
            Err(BillFileError::Gzip(_)) if truncated => {}
            Err(BillFileError::HashMismatch { .. }) if !truncated => {}
            other => panic!("{kind}: damaged file accepted: {other:?}"),
        }
    }
    // Faults are counted: the next download is whole again.
    let (_, _, bytes) = download(&s, &answer, true).await;
    verify_sha1(&gunzip(&bytes).expect("gzip"), &answer).expect("hash");
    let (status, _) = s
        .control(
            "POST",
            "/__sim/faults",
            Some(json!({ "endpoint": "v3.query", "kind": "truncate_file" })),
        )
        .await;
    assert_eq!(status, 400, "file faults apply to downloads only");
}

#[tokio::test]
async fn old_days_and_days_without_trade_are_refused_by_code() {
    let s = start().await;
    let today = make_today_ready(&s).await;
    let r = ask(&s, &format!("bill_date={}", today.previous())).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("NO_STATEMENT_EXIST"))
    );
    let mut old = today;
    for _ in 0..100 {
        old = old.previous();
    }
    let r = ask(&s, &format!("bill_date={old}")).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("INVALID_REQUEST"))
    );
    let r = ask(&s, "bill_date=2026-1-1").await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("PARAM_ERROR"))
    );
}
