//! What reaches the ledger: duplicates are told apart per endpoint, a query is checked as
//! strictly as a notification before it credits, a query that proves more than the store
//! expected is recorded and flagged, and verified-but-refused notifications are logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wxpay_core::v3::notification::EventType;
use wxpay_core::v3::paths::Endpoint;
use wxpay_sim::config::AppKind;
use wxpay_sim::faults::NotifyFaults;

use crate::helpers::{NotifySigning, TestApp, ADMIN_TOKEN};

/// The payer pays at the simulator and the notification is lost on the way.
async fn paid_without_notification(app: &TestApp, no: &str) {
    app.control.notify_faults(NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control.pay(Some(app.mchid()), no, None).expect("pay");
    app.assert_notification_dropped(no).await;
    assert_eq!(app.stored(no).await.state.as_str(), "NOTPAY");
}

#[tokio::test]
async fn a_pay_notification_replayed_to_the_refund_endpoint_does_not_shadow_the_genuine_one() {
    let app = TestApp::spawn().await;
    let (_, no) = app.prepaid_order().await;
    let plaintext = app.transaction_plaintext(&no, 3000, &app.appid(AppKind::MiniProgram));
    let captured = NotifySigning {
        id: Some("EV-captured-0001".into()),
        ..Default::default()
    };
    // A captured genuine pay notification, replayed to the refund endpoint first: it
    // verifies, and is not a refund event, so it is acknowledged and ignored there.
    let (status, _) = app
        .send_v3_notification(
            "/notify/v3/refund",
            EventType::TransactionSuccess,
            &plaintext,
            &captured,
        )
        .await;
    assert_eq!(status, 200);
    // WeChat's own delivery (or retry) of it to the pay endpoint must still credit.
    let (status, body) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &captured,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.stored(&no).await.state.as_str(), "SUCCESS");
    // And its retry there is a duplicate again.
    let (status, _) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &captured,
        )
        .await;
    assert_eq!(status, 200);
    let audit = app.state.store.audit("order", &no).await.expect("audit");
    assert_eq!(
        audit.iter().filter(|a| a.to_state == "SUCCESS").count(),
        1,
        "{audit:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_query_answer_under_another_of_our_appids_does_not_credit() {
    let app = TestApp::spawn().await;
    let (token, no) = app.prepaid_order().await;
    paid_without_notification(&app, &no).await;
    // The order as the store knows it was prepaid under the official account; WeChat's
    // answer names the mini-program (ours too, but not this order's).
    let pool = app.db().await;
    sqlx::query("UPDATE orders SET appid = ? WHERE out_trade_no = ?")
        .bind(app.appid(AppKind::OfficialAccount))
        .bind(&no)
        .execute(&pool)
        .await
        .expect("update");
    pool.close().await;
    let (status, view) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (200, Some("NOTPAY")),
        "{view}"
    );
    let report =
        wxpay_server::worker::run_pass_at(&app.state, "w-test", app.state.clock.now() + 120)
            .await
            .expect("pass");
    assert_eq!(report.orders_changed, 0, "{report:?}");
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    app.stop().await;
}

#[tokio::test]
async fn a_query_answer_in_another_currency_does_not_credit() {
    // The simulator keeps its state in a file, so the order can be edited between runs.
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
    settings.worker.status_stale_secs = 0;
    settings.upstream.backoff_ms = 10;
    let mut app = TestApp::launch(settings, sim, universe.clone(), dir).await;
    let (token, no) = app.prepaid_order().await;
    paid_without_notification(&app, &no).await;

    let port = app.sim.as_ref().expect("sim").port();
    app.sim.take().expect("sim").shutdown().await;
    let mut world = wxpay_sim::state::World::load(&state_file).expect("sim state");
    for order in world.orders.values_mut().filter(|o| o.out_trade_no == no) {
        order.currency = "USD".into();
    }
    world.save(&state_file).expect("sim state saved");
    let sim = wxpay_sim::server::Simulator::start(sim_config(&format!("127.0.0.1:{port}")))
        .await
        .expect("simulator restarted");
    app.control = sim.control();
    app.sim = Some(sim);

    let (status, view) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (200, Some("NOTPAY")),
        "{view}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_query_that_proves_paid_then_refunded_is_recorded_and_flagged() {
    let app = TestApp::spawn().await;
    let (token, no) = app.prepaid_order().await;
    paid_without_notification(&app, &no).await;
    // Refunded at WeChat without this server (the merchant portal, another system).
    let refund: Value = app
        .state
        .v3
        .post(
            &Endpoint::Refund,
            &json!({
                "out_trade_no": no, "out_refund_no": "RFPORTAL0001",
                "amount": { "refund": 3000, "total": 3000, "currency": "CNY" }
            }),
        )
        .await
        .expect("refund at WeChat");
    assert_eq!(refund["out_refund_no"], "RFPORTAL0001");
    assert_eq!(app.sim_order(&no).await["trade_state"], "REFUND");

    let (status, view) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (200, Some("REFUND")),
        "{view}"
    );
    let stored = app.stored(&no).await;
    assert!(stored.transaction_id.is_some() && stored.paid_at.is_some());
    let audit = app.state.store.audit("order", &no).await.expect("audit");
    let steps: Vec<(Option<&str>, &str)> = audit
        .iter()
        .map(|a| (a.from_state.as_deref(), a.to_state.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (None, "NOTPAY"),
            (Some("NOTPAY"), "SUCCESS"),
            (Some("SUCCESS"), "REFUND")
        ]
    );
    // The merchant's view says someone should look at it.
    let response = app
        .http
        .get(format!("{}/api/admin/orders/{no}", app.url))
        .header("x-admin-token", ADMIN_TOKEN)
        .send()
        .await
        .expect("admin view");
    assert_eq!(response.status(), 200);
    let admin: Value = response.json().await.expect("json");
    assert_eq!(admin["state"], "REFUND");
    assert_eq!(admin["attention"], "refunded_outside_server", "{admin}");
    // No longer pending: the worker leaves it alone.
    let report =
        wxpay_server::worker::run_pass_at(&app.state, "w-test", app.state.clock.now() + 120)
            .await
            .expect("pass");
    assert_eq!(report.orders_checked, 0, "{report:?}");
    app.stop().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut out) = self.0.lock() {
            out.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn verified_notifications_refused_by_the_checks_are_logged_at_warn() {
    // `#[tokio::test]` runs the server's tasks on this thread, under this subscriber.
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::spawn().await;
    let (_, no) = app.prepaid_order().await;
    let mut plaintext = app.transaction_plaintext(&no, 3000, &app.appid(AppKind::MiniProgram));
    plaintext["mchid"] = json!("1900009999");
    let (status, body) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &NotifySigning::default(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let logs = captured.text();
    let line = logs
        .lines()
        .find(|l| l.contains("mchid_mismatch"))
        .unwrap_or_else(|| panic!("no log line names the reason:\n{logs}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("v3_pay"), "{line}");
    assert!(!logs.contains(app.universe.apiv3_key.expose()));
    assert!(
        !logs.contains("4200000000202501010000000001"),
        "no decrypted payload"
    );
    app.stop().await;
}
