//! Faults around the server, each ending in a ledger check: the database busy or read-only,
//! WeChat failing a prepay, a refund's notification arriving before the refund's own answer,
//! a payment's notification arriving after its refund's, and notification timestamps at the
//! edge of the 300-second window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::SqlitePool;
use wxpay_core::v3::notification::EventType;
use wxpay_sim::config::AppKind;

use crate::helpers::{NotifySigning, TestApp};

/// How many times the audit trail shows the order becoming paid.
async fn credits(app: &TestApp, no: &str) -> usize {
    app.state
        .store
        .audit("order", no)
        .await
        .expect("audit")
        .iter()
        .filter(|a| a.to_state == "SUCCESS")
        .count()
}

/// WeChat's retry of a refused notification, and a duplicate of it: each acknowledged, the
/// order credited exactly once.
async fn retry_and_duplicate_credit_once(
    app: &TestApp,
    no: &str,
    plaintext: &Value,
    signing: &NotifySigning,
) {
    for _ in 0..2 {
        let (status, answer) = app
            .send_v3_notification(
                "/notify/v3/pay",
                EventType::TransactionSuccess,
                plaintext,
                signing,
            )
            .await;
        assert!((200..300).contains(&status), "{status} {answer}");
    }
    assert_eq!(app.stored(no).await.state.as_str(), "SUCCESS");
    assert_eq!(credits(app, no).await, 1, "credited exactly once");
}

#[tokio::test]
async fn a_busy_database_refuses_a_notification_unacknowledged_and_the_retry_credits_once() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    let total = app.stored(&no).await.amount_fen;
    let plaintext = app.transaction_plaintext(&no, total, &app.appid(AppKind::MiniProgram));
    let signing = NotifySigning {
        id: Some("EV-busy-database-0001".into()),
        ..NotifySigning::default()
    };

    // Another writer holds the database: the notification cannot be recorded, so it must
    // not be acknowledged (WeChat would stop retrying and the payment would be lost).
    let pool = SqlitePool::connect(&app.state.settings.database.url)
        .await
        .expect("the server's SQLite file");
    let mut writer = pool.acquire().await.expect("connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *writer)
        .await
        .expect("write lock");
    let (status, answer) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &signing,
        )
        .await;
    assert!(
        status >= 500,
        "refused as a failure WeChat retries: {status} {answer}"
    );
    let answer: Value = serde_json::from_str(&answer).expect("WeChat's failure shape");
    assert_eq!(answer["code"], "FAIL");
    sqlx::query("ROLLBACK")
        .execute(&mut *writer)
        .await
        .expect("release");
    drop(writer);
    pool.close().await;
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");

    // WeChat's retry, and a duplicate of it: credited once, acknowledged each time.
    retry_and_duplicate_credit_once(&app, &no, &plaintext, &signing).await;
    app.stop().await;
}

/// Sets or clears the immutable attribute (`chattr ±i`): unlike a permission bit, it stops
/// root too (CI runs as root), so the database files really become unwritable.
fn immutable(paths: &[std::path::PathBuf], on: bool) {
    let flag = if on { "+i" } else { "-i" };
    for path in paths.iter().filter(|p| p.exists()) {
        let status = std::process::Command::new("chattr")
            .arg(flag)
            .arg(path)
            .status()
            .expect("chattr (e2fsprogs) runs");
        assert!(status.success(), "chattr {flag} {}", path.display());
    }
}

#[tokio::test]
async fn a_read_only_database_refuses_a_notification_unacknowledged_and_the_retry_credits_once() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    let total = app.stored(&no).await.amount_fen;
    let plaintext = app.transaction_plaintext(&no, total, &app.appid(AppKind::MiniProgram));
    let signing = NotifySigning {
        id: Some("EV-read-only-database-0001".into()),
        ..NotifySigning::default()
    };

    // The database file and its write-ahead log become unwritable under the running server
    // (a full or remounted disk looks the same to SQLite: the write fails with an I/O error).
    let db = app
        .state
        .settings
        .database
        .url
        .strip_prefix("sqlite://")
        .expect("a SQLite URL")
        .to_owned();
    let files: Vec<std::path::PathBuf> = ["", "-wal"]
        .iter()
        .map(|suffix| format!("{db}{suffix}").into())
        .collect();
    immutable(&files, true);
    let (status, answer) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &signing,
        )
        .await;
    immutable(&files, false);
    assert!(
        status >= 500,
        "refused as a failure WeChat retries: {status} {answer}"
    );
    let answer: Value = serde_json::from_str(&answer).expect("WeChat's failure shape");
    assert_eq!(answer["code"], "FAIL");
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");

    // Writable again: WeChat's retry and a duplicate are credited once, acknowledged each time.
    retry_and_duplicate_credit_once(&app, &no, &plaintext, &signing).await;
    assert_eq!(app.stored(&no).await.amount_fen, total);
    // One bad write must not stop the next ones: an ordinary write still commits.
    let other = app.create_order(&token).await;
    assert_eq!(app.stored(&other).await.state.as_str(), "NOTPAY");
    app.stop().await;
}

#[tokio::test]
async fn a_prepay_wechat_keeps_failing_is_a_retryable_503_under_the_same_order_number() {
    let app = TestApp::spawn_tweaked(
        wxpay_server::config::VerifyMode::Certificate,
        false,
        |settings, _| {
            settings.upstream.max_retries = 1;
            settings.upstream.failover_base_url = None;
        },
    )
    .await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    for kind in ["system_error", "service_unavailable", "bad_gateway"] {
        // Both attempts fail: a clear, typed, retryable answer; nothing handed out.
        app.arm_fault("v3.jsapi", kind, 2).await;
        let (status, body) = app.pay(&token, &no, "miniprogram").await;
        assert_eq!(status, 503, "{kind}: {body}");
        assert!(body["error"]["code"].is_string(), "{kind}: {body}");
        assert_eq!(app.faults_left("v3.jsapi").await, 0, "{kind}: retried once");
        let stored = app.stored(&no).await;
        assert_eq!(stored.state.as_str(), "NOTPAY");
        assert_eq!(stored.prepay_id, None, "{kind}: nothing was handed out");
    }
    // The payer tries again: the same out_trade_no, one order at WeChat.
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["out_trade_no"], no.as_str());
    let at_wechat: Value = reqwest::get(format!("{}/__sim/orders", app.sim_url()))
        .await
        .expect("sim orders")
        .json()
        .await
        .expect("sim orders json");
    let at_wechat = at_wechat.as_array().expect("a list of orders");
    assert_eq!(
        at_wechat.len(),
        1,
        "one order at WeChat, under the same number: {at_wechat:?}"
    );
    assert_eq!(at_wechat[0]["out_trade_no"], no.as_str());
    app.stop().await;
}

#[tokio::test]
async fn notification_timestamps_at_the_edge_of_the_window() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let appid = app.appid(AppKind::MiniProgram);
    let mut paid = Vec::new();
    // Inside WeChat's 5-minute window either way, and outside it. The core's own tests pin
    // the exact edge (299 s in, 300 s out) with `now` as an argument; here the server reads
    // the wall clock a moment after the test signs, so 5 s of margin keep a second boundary
    // crossed in between (a loaded machine) from turning 299 into 300.
    for (skew, accepted) in [(-295, true), (295, true), (-305, false), (305, false)] {
        let no = app.create_order(&token).await;
        let (status, body) = app.pay(&token, &no, "miniprogram").await;
        assert_eq!(status, 200, "{body}");
        let total = app.stored(&no).await.amount_fen;
        let plaintext = app.transaction_plaintext(&no, total, &appid);
        let signing = NotifySigning {
            skew,
            ..NotifySigning::default()
        };
        let (status, answer) = app
            .send_v3_notification(
                "/notify/v3/pay",
                EventType::TransactionSuccess,
                &plaintext,
                &signing,
            )
            .await;
        let state = app.stored(&no).await.state;
        if accepted {
            assert!((200..300).contains(&status), "{skew}: {status} {answer}");
            assert_eq!(state.as_str(), "SUCCESS", "{skew}");
            paid.push(no);
        } else {
            assert!(status >= 400, "{skew}: {status} {answer}");
            assert_eq!(
                state.as_str(),
                "NOTPAY",
                "{skew}: a stale notification changes nothing"
            );
        }
    }
    for no in &paid {
        assert_eq!(credits(&app, no).await, 1);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_refund_notification_before_the_refunds_own_answer_is_applied_once() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;

    // WeChat accepts the refund at once but its answer is 5 s on the way back; meanwhile the
    // refund succeeds and its notification reaches the server first.
    app.arm_fault_delayed("v3.refund", "late_answer", 1, Some(5_000))
        .await;
    let answered = AtomicBool::new(false);
    let refunding = async {
        let answer = app.refund(&no, json!({ "amount_fen": 1000 })).await;
        answered.store(true, Ordering::SeqCst);
        answer
    };
    let notified_first = async {
        let out_refund_no = wait_for(|| async {
            let refunds: Vec<Value> = app
                .http
                .get(format!("{}/__sim/refunds", app.sim_url()))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            refunds
                .iter()
                .find(|r| r["out_trade_no"] == no.as_str())
                .and_then(|r| r["out_refund_no"].as_str().map(str::to_owned))
        })
        .await;
        app.control
            .refund_action(Some(app.mchid()), &out_refund_no, "succeed")
            .expect("the refund succeeds at WeChat");
        let applied = wait_for(|| async {
            let refund = app.state.store.refund(&out_refund_no).await.ok()??;
            (refund.status.as_str() == "SUCCESS").then_some(refund)
        })
        .await;
        assert!(
            !answered.load(Ordering::SeqCst),
            "the notification was applied while the refund's answer was still held"
        );
        applied
    };
    let ((status, body), applied) = tokio::join!(refunding, notified_first);
    assert_eq!(status, 200, "{body}");

    // The late PROCESSING answer did not take the refund back from SUCCESS, and the money
    // moved once: one transition in the audit trail, the order's refunded amount once.
    let refund = app
        .state
        .store
        .refund(&applied.out_refund_no)
        .await
        .expect("store")
        .expect("the refund");
    assert_eq!(refund.status.as_str(), "SUCCESS");
    let to_success = app
        .state
        .store
        .audit("refund", &applied.out_refund_no)
        .await
        .expect("audit")
        .iter()
        .filter(|a| a.to_state == "SUCCESS")
        .count();
    assert_eq!(to_success, 1, "applied exactly once");
    let order = app.stored(&no).await;
    assert_eq!(order.refunded_fen, 1000);
    let at_wechat = app.sim_order(&no).await;
    assert_eq!(at_wechat["trade_state"], "REFUND", "{at_wechat}");
    app.stop().await;
}

#[tokio::test]
async fn a_payment_notification_overtaken_by_its_refunds_changes_nothing() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");

    // The payment's notification is held back 4 s; the server learns of the payment by a
    // status query instead, refunds, and the refund's notification arrives first.
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        reorder: 1,
        delay_ms: Some(4_000),
        ..Default::default()
    });
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    wxpay_server::payments::query_and_apply(&app.state, &no, "status_query")
        .await
        .expect("query");
    assert_eq!(app.stored(&no).await.state.as_str(), "SUCCESS");
    let (status, body) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(status, 200, "{body}");
    let out_refund_no = body["out_refund_no"]
        .as_str()
        .expect("out_refund_no")
        .to_owned();
    app.control
        .refund_action(Some(app.mchid()), &out_refund_no, "succeed")
        .expect("the refund succeeds at WeChat");
    wait_for(|| async {
        let refund = app.state.store.refund(&out_refund_no).await.ok()??;
        (refund.status.as_str() == "SUCCESS").then_some(())
    })
    .await;
    let pay_delivery_pending = |app: &TestApp| {
        app.control.deliveries().iter().any(|d| {
            d.out_trade_no == no && d.event_type == "TRANSACTION.SUCCESS" && d.status == "pending"
        })
    };
    assert!(
        pay_delivery_pending(&app),
        "the refund was applied while the payment's notification was still held back"
    );
    assert_eq!(app.stored(&no).await.state.as_str(), "REFUND");

    // The old payment notification lands last: acknowledged, and it changes nothing.
    wait_for(|| async { (!pay_delivery_pending(&app)).then_some(()) }).await;
    let pay = app
        .control
        .deliveries()
        .into_iter()
        .find(|d| d.out_trade_no == no && d.event_type == "TRANSACTION.SUCCESS")
        .expect("the payment's delivery");
    assert_eq!(pay.status, "acknowledged", "{:?}", pay.attempts);
    let order = app.stored(&no).await;
    assert_eq!((order.state.as_str(), order.refunded_fen), ("REFUND", 3000));
    assert_eq!(credits(&app, &no).await, 1, "credited exactly once");
    let at_wechat = app.sim_order(&no).await;
    assert_eq!(at_wechat["trade_state"], "REFUND", "{at_wechat}");
    app.stop().await;
}

/// Polls `probe` until it yields a value (bounded: 10 s), so the test waits on the event
/// itself rather than on a guess of how long it takes.
async fn wait_for<T, F, Fut>(mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(value) = probe().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the awaited event never happened");
}
