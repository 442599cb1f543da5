//! A lost notification is recovered by the status query and by the reconciliation worker.

use crate::helpers::TestApp;

#[tokio::test]
async fn dropped_notification_is_recovered_by_the_status_query() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    app.pay(&token, &no, "miniprogram").await;
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        app.stored(&no).await.state.as_str(),
        "NOTPAY",
        "the notification was dropped"
    );
    let (status, body) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("SUCCESS")),
        "{body}"
    );
    let audit = app.state.store.audit("order", &no).await.expect("audit");
    assert_eq!(audit.last().map(|a| a.cause.as_str()), Some("status_query"));
    app.stop().await;
}

#[tokio::test]
async fn dropped_notification_is_recovered_by_the_worker_and_expired_orders_close() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let paid = app.create_order(&token).await;
    app.pay(&token, &paid, "native").await;
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control
        .pay(Some(app.mchid()), &paid, None)
        .expect("pay");
    let unpaid = app.create_order(&token).await;
    app.pay(&token, &unpaid, "native").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let report = wxpay_server::worker::run_pass(&app.state, "test-worker")
        .await
        .expect("pass");
    assert!(report.orders_checked >= 2, "{report:?}");
    assert_eq!(app.stored(&paid).await.state.as_str(), "SUCCESS");
    let audit = app.state.store.audit("order", &paid).await.expect("audit");
    assert_eq!(audit.last().map(|a| a.cause.as_str()), Some("worker"));
    assert_eq!(
        app.stored(&unpaid).await.state.as_str(),
        "NOTPAY",
        "not old enough to close"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_worker_closes_orders_unpaid_past_the_close_threshold() {
    let app = TestApp::spawn().await;
    let close_after = app.state.settings.worker.close_after_secs;
    let (token, _) = app.login_miniprogram().await;
    let prepaid = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &prepaid, "native").await;
    assert_eq!(status, 200, "{body}");
    let never_prepaid = app.create_order(&token).await;
    let paid = app.create_order(&token).await;
    app.pay(&token, &paid, "native").await;
    app.control
        .pay(Some(app.mchid()), &paid, None)
        .expect("pay");
    app.wait_state(&paid, "SUCCESS").await;

    // Just short of the threshold for the oldest order: nothing closes.
    let oldest = app.stored(&prepaid).await.created_at;
    let created = app.stored(&paid).await.created_at;
    let early = wxpay_server::worker::run_pass_at(&app.state, "w1", oldest + close_after - 1)
        .await
        .expect("pass");
    assert_eq!(early.orders_closed, 0, "{early:?}");
    assert_eq!(app.stored(&prepaid).await.state.as_str(), "NOTPAY");
    assert_eq!(app.sim_order(&prepaid).await["trade_state"], "NOTPAY");

    // Past the threshold (and past the first pass's lease): both unpaid orders close, the
    // prepaid one at the simulator too; the paid one is left alone.
    let late = created + close_after + wxpay_server::config::WorkerSettings::default().lease_secs;
    let report = wxpay_server::worker::run_pass_at(&app.state, "w2", late)
        .await
        .expect("pass");
    assert_eq!(report.orders_closed, 2, "{report:?}");
    for no in [&prepaid, &never_prepaid] {
        assert_eq!(app.stored(no).await.state.as_str(), "CLOSED");
        let audit = app.state.store.audit("order", no).await.expect("audit");
        assert_eq!(
            audit.last().map(|a| a.cause.as_str()),
            Some("worker_expired")
        );
    }
    assert_eq!(app.sim_order(&prepaid).await["trade_state"], "CLOSED");
    assert!(
        app.control.pay(Some(app.mchid()), &prepaid, None).is_err(),
        "a closed order cannot be paid at the simulator"
    );
    assert_eq!(app.stored(&paid).await.state.as_str(), "SUCCESS");

    // Closed orders are not pending any more: a later pass finds nothing to do.
    let again = wxpay_server::worker::run_pass_at(&app.state, "w3", late + 1)
        .await
        .expect("pass");
    assert_eq!(again.orders_closed, 0, "{again:?}");
    app.stop().await;
}
