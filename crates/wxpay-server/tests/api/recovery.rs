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
    app.assert_notification_dropped(&no).await;
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
    // Both orders become old enough for the worker to ask about them.
    app.state.clock.advance(2);
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

#[tokio::test]
async fn the_worker_never_closes_an_order_whose_latest_prepay_is_still_valid() {
    let app = TestApp::spawn().await;
    let close_after = app.state.settings.worker.close_after_secs;
    let lease = wxpay_server::config::WorkerSettings::default().lease_secs;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    // The payer comes back later than the order was made (a second apart here) and gets a
    // prepay that outlives the close threshold measured from creation.
    app.state.clock.advance(2);
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    let order = app.stored(&no).await;
    let expires = order.prepay_expires_at.expect("prepay expiry");
    let old_enough = order.created_at + close_after;
    assert!(expires > old_enough, "the prepay outlives the threshold");

    // Old enough to close, but the prepay just handed out is still valid: left alone, here
    // and at WeChat.
    let report = wxpay_server::worker::run_pass_at(&app.state, "w1", old_enough)
        .await
        .expect("pass");
    assert_eq!(report.orders_checked, 1, "{report:?}");
    assert_eq!(report.orders_closed, 0, "{report:?}");
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    assert_eq!(app.sim_order(&no).await["trade_state"], "NOTPAY");

    // Once that prepay has expired too (and the first lease ran out), it closes.
    let report =
        wxpay_server::worker::run_pass_at(&app.state, "w2", expires.max(old_enough + lease + 1))
            .await
            .expect("pass");
    assert_eq!(report.orders_closed, 1, "{report:?}");
    assert_eq!(app.stored(&no).await.state.as_str(), "CLOSED");
    assert_eq!(app.sim_order(&no).await["trade_state"], "CLOSED");
    app.stop().await;
}

#[tokio::test]
async fn an_expired_prepay_is_replaced_by_a_new_prepay_id_on_pay() {
    // The simulator keeps its state in a file so that it can be restarted two hours "later".
    let universe = wxpay_sim::universe::Universe::generate().expect("universe");
    let dir = tempfile::tempdir().expect("temp dir");
    let state_file = dir.path().join("sim-state.json");
    let sim_config = |listen: &str| {
        let mut config = universe.sim_config();
        config.time_scale = 0.001;
        config.tls = None;
        config.listen = listen.to_owned();
        config.state_file = Some(state_file.clone());
        config
    };
    let sim = wxpay_sim::server::Simulator::start(sim_config("127.0.0.1:0"))
        .await
        .expect("simulator");
    let mut settings = wxpay_server::config::Settings::default();
    settings.server.port = 0;
    settings.database.url = format!("sqlite://{}", dir.path().join("server.db").display());
    settings.merchant = Some(wxpay_server::embedded::merchant_settings(
        &universe,
        wxpay_server::config::VerifyMode::Certificate,
    ));
    wxpay_server::embedded::point_at(&mut settings, &sim.base_url());
    settings.worker.enabled = false;
    settings.upstream.backoff_ms = 10;
    let mut app = TestApp::launch(settings, sim, universe.clone(), dir).await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let prepay_of =
        |body: &serde_json::Value| body["params"]["package"].as_str().map(str::to_owned);

    let (status, first) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(
        prepay_of(&again),
        prepay_of(&first),
        "a valid prepay is reused"
    );

    // Two hours pass: the prepay has expired at WeChat and in the server's record.
    let port = app.sim.as_ref().expect("sim").port();
    app.sim.take().expect("sim").shutdown().await;
    let mut world = wxpay_sim::state::World::load(&state_file).expect("sim state");
    let now = app.state.clock.now();
    for order in world.orders.values_mut().filter(|o| o.out_trade_no == no) {
        order.prepay_expires_at = now - 1;
    }
    world.save(&state_file).expect("sim state saved");
    let sim = wxpay_sim::server::Simulator::start(sim_config(&format!("127.0.0.1:{port}")))
        .await
        .expect("simulator restarted");
    app.control = sim.control();
    app.sim = Some(sim);
    let stored = app.stored(&no).await;
    app.state
        .store
        .save_prepay(
            &no,
            stored.channel.expect("channel"),
            stored.appid.as_deref().expect("appid"),
            &wxpay_server::store::Prepaid {
                prepay_id: Some(stored.prepay_id.clone().expect("prepay id")),
                h5_url: stored.h5_url.clone(),
                code_url: stored.code_url.clone(),
            },
            now - 1,
            now - 1,
        )
        .await
        .expect("expired in the server's record");

    let (status, replaced) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{replaced}");
    let new_prepay = prepay_of(&replaced).expect("package");
    assert_ne!(
        Some(new_prepay.clone()),
        prepay_of(&first),
        "a new prepay id"
    );
    let stored = app.stored(&no).await;
    assert_eq!(
        stored.prepay_id.map(|id| format!("prepay_id={id}")),
        Some(new_prepay)
    );
    assert!(stored.prepay_expires_at.is_some_and(|t| t > now + 3600));
    // WeChat's client accepts the new bundle and the payment completes.
    app.payer_pays("miniprogram", &no, &replaced["params"]);
    app.wait_state(&no, "SUCCESS").await;
    app.stop().await;
}

#[tokio::test]
async fn the_worker_follows_a_processing_refund_whose_notification_was_lost() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    app.pay(&token, &no, "native").await;
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    let (status, refund) = app
        .refund(&no, serde_json::json!({ "amount_fen": 1200 }))
        .await;
    assert_eq!(
        (status, refund["status"].as_str()),
        (200, Some("PROCESSING")),
        "{refund}"
    );
    let out_refund_no = refund["out_refund_no"].as_str().expect("no").to_owned();
    let status_of = |app: &TestApp| {
        let store = app.state.store.clone();
        let no = out_refund_no.clone();
        async move {
            store
                .refund(&no)
                .await
                .expect("store")
                .expect("refund")
                .status
                .to_string()
        }
    };

    // WeChat still holds it PROCESSING: a pass learns nothing new.
    let report = wxpay_server::worker::run_pass(&app.state, "w1")
        .await
        .expect("pass");
    assert_eq!(report.refunds_checked, 1, "{report:?}");
    assert_eq!(status_of(&app).await, "PROCESSING");

    // WeChat completes it and its notification is lost.
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control
        .refund_action(Some(app.mchid()), &out_refund_no, "succeed")
        .expect("succeed");
    app.assert_notification_dropped(&no).await;
    assert_eq!(
        status_of(&app).await,
        "PROCESSING",
        "no notification arrived"
    );
    assert!(
        app.control
            .deliveries()
            .iter()
            .any(|d| d.status == "dropped"),
        "{:?}",
        app.control.deliveries()
    );

    // The next pass (after the first one's lease) queries it and records the success.
    let later =
        app.state.clock.now() + wxpay_server::config::WorkerSettings::default().lease_secs + 1;
    let report = wxpay_server::worker::run_pass_at(&app.state, "w2", later)
        .await
        .expect("pass");
    assert_eq!(report.refunds_checked, 1, "{report:?}");
    assert_eq!(status_of(&app).await, "SUCCESS");
    let order = app.stored(&no).await;
    assert_eq!((order.state.as_str(), order.refunded_fen), ("REFUND", 1200));
    let audit = app
        .state
        .store
        .audit("refund", &out_refund_no)
        .await
        .expect("audit");
    assert_eq!(audit.last().map(|a| a.cause.as_str()), Some("worker"));
    app.stop().await;
}

/// WeChat answers a query for an order it never saw with 404 `ORDER_NOT_EXIST` (older pages:
/// `ORDERNOTEXIST`; both spellings are covered by `payments::order_unknown_at_wechat`): the
/// order is left as it is, not treated as a failure.
#[tokio::test]
async fn a_query_for_an_order_wechat_never_saw_changes_nothing() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let outcome = wxpay_server::payments::query_and_apply(&app.state, &no, "test")
        .await
        .expect("ORDER_NOT_EXIST is an answer, not an error");
    assert!(
        matches!(outcome, wxpay_server::store::ApplyOutcome::Unchanged),
        "{outcome:?}"
    );
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    app.stop().await;
}
