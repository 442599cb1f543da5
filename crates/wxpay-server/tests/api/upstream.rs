//! Retries and failover against the simulator, exactly per `upstream::retry_delay` and
//! `upstream::should_fail_over`: a connect error always moves to the failover host; a 5xx
//! moves there (or is retried with backoff) only for idempotent calls; one-shot calls
//! (login codes) are never repeated.

use wxpay_server::config::VerifyMode;

use crate::helpers::TestApp;

/// A URL on which nothing listens (a port bound, read and released).
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_dead_primary_fails_over_to_the_second_host() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, sim| {
        settings.upstream.base_url = closed_url();
        settings.upstream.failover_base_url = Some(sim.base_url());
        settings.upstream.max_retries = 0;
    })
    .await;
    // Start-up already downloaded the platform certificates through the failover host.
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["params"]["package"]
        .as_str()
        .is_some_and(|p| p.starts_with("prepay_id=")));
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    let (status, view) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("SUCCESS")));
    app.stop().await;
}

#[tokio::test]
async fn a_5xx_on_an_idempotent_call_moves_to_the_failover_host() {
    // The second "region" is the same simulator under another host name, so it shares the
    // orders as WeChat's two regions do. No retries: only failover can save a call.
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, sim| {
        settings.upstream.failover_base_url = Some(format!("http://localhost:{}", sim.port()));
        settings.upstream.max_retries = 0;
    })
    .await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    app.arm_fault("v3.jsapi", "service_unavailable", 1).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "the failover host answered: {body}");
    assert_eq!(
        app.faults_left("v3.jsapi").await,
        0,
        "the primary was tried first"
    );

    // Both hosts failing: the primary, then the failover, then nothing more.
    let other = app.create_order(&token).await;
    app.arm_fault("v3.jsapi", "system_error", 3).await;
    let (status, body) = app.pay(&token, &other, "miniprogram").await;
    assert!(status >= 500, "{status} {body}");
    assert_eq!(app.faults_left("v3.jsapi").await, 1, "exactly two attempts");
    app.stop().await;
}

#[tokio::test]
async fn an_idempotent_query_is_retried_with_backoff_and_a_login_is_not() {
    // One host, two retries.
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.upstream.max_retries = 2;
        settings.upstream.backoff_ms = 5;
    })
    .await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");

    // Three 5xx answers outlast 1 + 2 attempts: the status endpoint answers what it knows.
    app.arm_fault("v3.query", "system_error", 4).await;
    let (status, view) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("NOTPAY")));
    assert_eq!(app.faults_left("v3.query").await, 1, "three attempts");

    // One 5xx left, then a normal answer: the retry learns the payment.
    let (status, view) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (200, Some("SUCCESS")),
        "{view}"
    );
    assert_eq!(app.faults_left("v3.query").await, 0);

    // code2Session is one-shot: a 5xx is not repeated.
    app.arm_fault("login.jscode2session", "service_unavailable", 2)
        .await;
    let (code, _) = app
        .control
        .mint_login_code(&app.appid(wxpay_sim::config::AppKind::MiniProgram), None)
        .expect("code");
    let (status, body) = app
        .post(
            "/api/login/miniprogram",
            None,
            serde_json::json!({ "code": code }),
        )
        .await;
    assert_ne!(status, 200, "{body}");
    assert_eq!(
        app.faults_left("login.jscode2session").await,
        1,
        "exactly one attempt"
    );
    app.stop().await;
}

#[tokio::test]
async fn forged_unknown_serials_cannot_starve_the_refresh_a_real_rotation_needs() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");

    // Anyone can POST a notification naming a made-up serial: it spends the notification
    // refresh budget and is answered "retry later" (WeChat retries failed notifications).
    let rogue = crate::helpers::rogue_key_pem();
    let forged = crate::helpers::NotifySigning {
        key_pem: Some(rogue),
        serial: Some("7E57C0DE7E57C0DE7E57C0DE7E57C0DE7E57C0DE".into()),
        ..Default::default()
    };
    let plaintext = app.transaction_plaintext(
        &no,
        3000,
        &app.appid(wxpay_sim::config::AppKind::MiniProgram),
    );
    let (status, body) = app
        .send_v3_notification(
            "/notify/v3/pay",
            wxpay_core::v3::notification::EventType::TransactionSuccess,
            &plaintext,
            &forged,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("retry later"), "{body}");

    // WeChat rotates its platform certificate right after: the next answer is signed by a
    // serial the server has never seen, within the throttle window of the forged one. The
    // call still succeeds, because answers to our own calls have their own budget.
    let new_serial = app.control.rotate_platform(true).await.expect("rotate");
    let other = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &other, "native").await;
    assert_eq!(status, 200, "{body}");
    assert!(app
        .state
        .v3
        .knows_serial(&wxpay_core::SerialNo::new(new_serial).expect("serial")));
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    app.stop().await;
}
