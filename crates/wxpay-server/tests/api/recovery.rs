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
