//! The test day: one date built through the simulator with every kind of difference, then
//! reconciled against WeChat's (the simulator's) trade bill. Real server, real simulator,
//! real SQLite file.
//!
//! Every difference comes from WeChat's side through the simulator (a dropped notification,
//! a refund made in the merchant platform, a refund WeChat never received) except two the
//! simulator cannot produce honestly: an amount difference and a payment only the ledger
//! holds. The simulator keeps the amount the server sent, and the server refuses any
//! notification or query answer whose amount differs from its own (so the ledger cannot
//! drift through the protocol); both are made by editing the server's SQLite file directly,
//! as a bug or a hand edit of the ledger would.

use serde_json::json;
use wxpay_core::v3::bill::BillDate;
use wxpay_server::reconcile::{self, kind, outcome, Report};
use wxpay_server::store::DifferenceRecord;

use crate::helpers::TestApp;

/// A paid order (notification delivered); its number.
async fn paid(app: &TestApp, token: &str) -> String {
    let no = app.create_order(token).await;
    let (status, body) = app.pay(token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    no
}

fn diff(
    kind: &str,
    no: &str,
    refund: Option<&str>,
    wechat: Option<i64>,
    ledger: Option<i64>,
    resolution: &str,
) -> (
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    String,
) {
    (
        kind.into(),
        no.into(),
        refund.map(Into::into),
        wechat,
        ledger,
        resolution.into(),
    )
}

fn shape(
    d: &DifferenceRecord,
) -> (
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    String,
) {
    (
        d.kind.clone(),
        d.out_trade_no.clone(),
        d.out_refund_no.clone(),
        d.wechat_fen,
        d.ledger_fen,
        d.resolution.clone(),
    )
}

async fn run(app: &TestApp, date: BillDate) -> Report {
    let report = reconcile::run(&app.state, date).await.expect("run");
    println!("{report}\n");
    report
}

#[tokio::test]
async fn the_test_day_reconciles_to_the_expected_report() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let today = BillDate::in_china_at(app.state.clock.now());

    // 1. A payment both sides agree on.
    let agreed = paid(&app, &token).await;
    let total = app.stored(&agreed).await.amount_fen;
    // 2. A payment whose notification was lost: pending here, paid at WeChat.
    let dropped = app.create_order(&token).await;
    app.pay(&token, &dropped, "miniprogram").await;
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control
        .pay(Some(app.mchid()), &dropped, None)
        .expect("pay");
    app.assert_notification_dropped(&dropped).await;
    assert_eq!(app.stored(&dropped).await.state.as_str(), "NOTPAY");
    // 3. A refund made in the merchant platform: WeChat has it, the ledger does not.
    let portal = paid(&app, &token).await;
    app.control
        .portal_refund(&wxpay_sim::control::PortalRefund {
            mchid: Some(app.mchid().to_owned()),
            out_trade_no: portal.clone(),
            out_refund_no: "portal-refund-1".into(),
            refund: 500,
        })
        .expect("portal refund");
    // 4. A refund both sides agree on.
    let refunded = paid(&app, &token).await;
    let (status, agreed_refund) = app.refund(&refunded, json!({ "amount_fen": 700 })).await;
    assert_eq!(status, 200, "{agreed_refund}");
    let agreed_refund = agreed_refund["out_refund_no"]
        .as_str()
        .expect("no")
        .to_owned();
    // 5. A refund WeChat never received (every attempt answered 5xx): only the ledger has it.
    let lost = paid(&app, &token).await;
    let attempts = app.state.settings.upstream.max_retries + 1;
    app.arm_fault("v3.refund", "system_error", attempts).await;
    let (status, lost_refund) = app.refund(&lost, json!({ "amount_fen": 300 })).await;
    assert_eq!(
        (status, lost_refund["status"].as_str()),
        (200, Some("PROCESSING"))
    );
    let lost_refund = lost_refund["out_refund_no"]
        .as_str()
        .expect("no")
        .to_owned();
    // 6. The ledger edited by hand: one amount changed, one unpaid order marked paid.
    let altered = paid(&app, &token).await;
    let phantom = app.create_order(&token).await;
    let db = app.db().await;
    sqlx::query("UPDATE orders SET amount_fen = amount_fen + 1 WHERE out_trade_no = ?")
        .bind(&altered)
        .execute(&db)
        .await
        .expect("edit amount");
    sqlx::query("UPDATE orders SET state = 'SUCCESS', paid_at = ? WHERE out_trade_no = ?")
        .bind(app.state.clock.now())
        .bind(&phantom)
        .execute(&db)
        .await
        .expect("edit state");
    db.close().await;

    // Before 10:00 (+08:00) the next day WeChat has no bill: not ready, not a difference.
    let early = run(&app, today).await;
    assert_eq!(
        (early.run.outcome.as_str(), early.differences.len()),
        (outcome::NOT_READY, 0)
    );
    // Older than three months: too old.
    let mut old = today;
    for _ in 0..100 {
        old = old.previous();
    }
    let too_old = run(&app, old).await;
    assert_eq!(
        (too_old.run.outcome.as_str(), too_old.differences.len()),
        (outcome::TOO_OLD, 0)
    );

    // The next morning, 10:01 (+08:00), at WeChat.
    let offset = today.ready_at() - app.state.clock.now() + 60;
    app.control.set_bill_clock_offset(offset);
    // A tampered file and a truncated one are refused, and change nothing.
    app.arm_fault("v3.billdownload", "corrupt_file", 1).await;
    let tampered = run(&app, today).await;
    assert_eq!(tampered.run.outcome, outcome::REFUSED);
    let why = tampered.run.detail.clone().unwrap_or_default();
    assert!(why.contains("SHA1"), "{why}");
    app.arm_fault("v3.billdownload", "truncate_file", 1).await;
    let truncated = run(&app, today).await;
    assert_eq!(truncated.run.outcome, outcome::REFUSED);
    let why = truncated.run.detail.clone().unwrap_or_default();
    assert!(why.contains("gzip"), "{why}");
    assert!(truncated.differences.is_empty());
    assert_eq!(
        app.stored(&dropped).await.state.as_str(),
        "NOTPAY",
        "refused bills repair nothing"
    );

    // The real run.
    let report = run(&app, today).await;
    assert_eq!(report.run.outcome, outcome::RECONCILED);
    // Payments: agreed, dropped, portal, refunded, lost, altered; refunds: portal, agreed.
    assert_eq!(report.run.bill_rows, 8);
    // agreed, portal, refunded, lost (payments) and the agreed refund.
    assert_eq!(report.run.matched, 5);
    let got: Vec<_> = report.differences.iter().map(shape).collect();
    let expected = vec![
        diff(
            kind::PAID_AT_WECHAT_ONLY,
            &dropped,
            None,
            Some(total),
            Some(total),
            "repaired",
        ),
        diff(
            kind::REFUND_AT_WECHAT_ONLY,
            &portal,
            Some("portal-refund-1"),
            Some(500),
            None,
            "reported",
        ),
        diff(
            kind::AMOUNT_DIFFERS,
            &altered,
            None,
            Some(total),
            Some(total + 1),
            "reported",
        ),
        diff(
            kind::PAID_HERE_ONLY,
            &phantom,
            None,
            None,
            Some(total),
            "reported",
        ),
        diff(
            kind::REFUND_HERE_ONLY,
            &lost,
            Some(&lost_refund),
            None,
            Some(300),
            "reported",
        ),
    ];
    assert_eq!(got, expected);
    assert_eq!(
        app.stored(&dropped).await.state.as_str(),
        "SUCCESS",
        "repaired by the query"
    );
    let audit = app
        .state
        .store
        .audit("order", &dropped)
        .await
        .expect("audit");
    assert_eq!(
        audit.last().map(|a| a.cause.as_str()),
        Some("reconciliation")
    );
    assert_eq!(app.stored(&agreed).await.state.as_str(), "SUCCESS");
    let _ = agreed_refund;

    // Recorded: the runs of the date, newest first, and the differences of the last.
    let runs = app
        .state
        .store
        .runs(Some(&today.to_string()), 10)
        .await
        .expect("runs");
    let outcomes: Vec<_> = runs.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            outcome::RECONCILED,
            outcome::REFUSED,
            outcome::REFUSED,
            outcome::NOT_READY
        ]
    );
    let stored = app
        .state
        .store
        .differences(runs[0].id)
        .await
        .expect("differences");
    assert_eq!(stored, report.differences);

    // Run again: the repaired payment now matches; the rest is still reported.
    let again = run(&app, today).await;
    assert_eq!(again.run.matched, 6);
    assert_eq!(again.differences.len(), 4);
    assert!(again.differences.iter().all(|d| d.resolution == "reported"));
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_runs_and_lists_reconciliations() {
    let app = TestApp::spawn().await;
    let today = BillDate::in_china_at(app.state.clock.now()).to_string();
    let (status, _) = app
        .post("/api/admin/reconciliations", None, json!({ "date": today }))
        .await;
    assert_eq!(status, 403, "staff only");
    let (status, body) = app
        .post_admin(
            "/api/admin/reconciliations",
            crate::helpers::ADMIN_TOKEN,
            None,
            json!({ "date": "2026-13-01" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_date"))
    );
    let (status, body) = app
        .post_admin(
            "/api/admin/reconciliations",
            crate::helpers::ADMIN_TOKEN,
            None,
            json!({ "date": today }),
        )
        .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("not_ready")),
        "{body}"
    );
    assert_eq!(body["bill_date"], today.as_str());
    let get = |path: String| {
        app.http
            .get(format!("{}{path}", app.url))
            .header("x-admin-token", crate::helpers::ADMIN_TOKEN)
            .send()
    };
    let all: serde_json::Value = get("/api/admin/reconciliations".into())
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(all["runs"].as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all["runs"][0]["differences"], json!([]));
    let of_date: serde_json::Value = get(format!("/api/admin/reconciliations/{today}"))
        .await
        .expect("of date")
        .json()
        .await
        .expect("json");
    assert_eq!(of_date["runs"][0]["id"], all["runs"][0]["id"]);
    let other: serde_json::Value = get("/api/admin/reconciliations/2020-01-01".into())
        .await
        .expect("other date")
        .json()
        .await
        .expect("json");
    assert_eq!(other["runs"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn the_daily_run_waits_for_ten_oclock_and_runs_once() {
    let app = TestApp::spawn().await;
    let today = BillDate::in_china_at(app.state.clock.now());
    let yesterday = today.previous();
    // 09:59 (+08:00): WeChat has not made yesterday's bill; nothing is due.
    let before = reconcile::daily_at(&app.state, yesterday.ready_at() - 60)
        .await
        .expect("daily");
    assert!(before.is_none());
    // 10:01: due. The simulator's bill clock agrees; it had no trade that day.
    app.control
        .set_bill_clock_offset(yesterday.ready_at() + 60 - app.state.clock.now());
    let first = reconcile::daily_at(&app.state, yesterday.ready_at() + 60)
        .await
        .expect("daily")
        .expect("due");
    assert_eq!(
        (first.run.bill_date, first.run.outcome.as_str()),
        (yesterday.to_string(), outcome::RECONCILED)
    );
    // Done for that date: a later pass does nothing.
    let again = reconcile::daily_at(&app.state, yesterday.ready_at() + 3600)
        .await
        .expect("daily");
    assert!(again.is_none());
    app.stop().await;
}
