//! Error answers WeChat did not sign (protocol A.3, "Error answers may be unsigned"): WeChat
//! signs an answer only after it has verified the merchant's request, so a 401 `SIGN_ERROR`
//! arrives without `Wechatpay-*` headers. The caller must learn the code, yet nothing may
//! change on an answer nobody authenticated; an unsigned 2xx stays forged.

use serde_json::{json, Value};
use wxpay_server::config::VerifyMode;
use wxpay_server::embedded::merchant_settings;
use wxpay_server::secret::{Secret, SecretSource};

use crate::helpers::TestApp;

fn inline(value: &str) -> SecretSource {
    SecretSource::Inline(Secret::new(value.to_owned()))
}

/// The 502 a caller gets for a WeChat refusal, naming WeChat's code.
fn assert_refused_with(status: u16, body: &Value, wechat_code: &str) {
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("upstream_rejected")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(wechat_code)),
        "the caller learns {wechat_code}: {body}"
    );
}

/// A paid order (3000 fen) of a fresh payer.
async fn paid_order(app: &TestApp) -> String {
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    no
}

async fn sim_refunds(app: &TestApp, out_trade_no: &str) -> Vec<Value> {
    let all: Vec<Value> = app
        .http
        .get(format!("{}/__sim/refunds", app.sim_url()))
        .send()
        .await
        .expect("sim refunds")
        .json()
        .await
        .expect("sim refunds json");
    all.into_iter()
        .filter(|r| r["out_trade_no"] == out_trade_no)
        .collect()
}

/// The states of the order's refunds, read from the server's SQLite file.
async fn stored_refund_states(app: &TestApp, out_trade_no: &str) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&app.state.settings.database.url)
        .await
        .expect("open the server's SQLite file");
    let states = sqlx::query_scalar("SELECT status FROM refunds WHERE out_trade_no = ?")
        .bind(out_trade_no)
        .fetch_all(&pool)
        .await
        .expect("refunds");
    pool.close().await;
    states
}

#[tokio::test]
async fn a_wrong_merchant_serial_or_key_is_reported_as_sign_error() {
    // Public-key mode: no certificate download at start, so the server starts and the
    // first signed call meets WeChat's refusal.
    let wrong_serial = TestApp::spawn_tweaked(VerifyMode::PublicKey, false, |settings, _| {
        if let Some(merchant) = settings.merchant.as_mut() {
            merchant.serial_no = "0123456789ABCDEF0123456789ABCDEF01234567".into();
        }
    })
    .await;
    let (token, _) = wrong_serial.login_miniprogram().await;
    let no = wrong_serial.create_order(&token).await;
    let (status, body) = wrong_serial.pay(&token, &no, "miniprogram").await;
    assert_refused_with(status, &body, "SIGN_ERROR");
    let order = wrong_serial.stored(&no).await;
    assert_eq!(
        (order.state.as_str(), order.prepay_id.as_deref()),
        ("NOTPAY", None)
    );
    wrong_serial.stop().await;

    // The right serial with another merchant's key.
    let wrong_key = TestApp::spawn_tweaked(VerifyMode::PublicKey, false, |settings, _| {
        if let Some(merchant) = settings.merchant.as_mut() {
            merchant.private_key = inline(&wrong_key_pem());
        }
    })
    .await;
    let (token, _) = wrong_key.login_miniprogram().await;
    let no = wrong_key.create_order(&token).await;
    let (status, body) = wrong_key.pay(&token, &no, "miniprogram").await;
    assert_refused_with(status, &body, "SIGN_ERROR");
    wrong_key.stop().await;
}

/// A PKCS#8 key that is not the merchant's: the merchant key of another universe.
fn wrong_key_pem() -> String {
    wxpay_sim::universe::Universe::generate()
        .expect("universe")
        .merchant
        .key_pem
}

#[tokio::test]
async fn a_wrong_serial_stops_the_start_with_sign_error() {
    let universe = wxpay_sim::universe::Universe::generate().expect("universe");
    let mut config = universe.sim_config();
    config.tls = None;
    let sim = wxpay_sim::server::Simulator::start(config)
        .await
        .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = wxpay_server::config::Settings::default();
    settings.server.port = 0;
    settings.database.url = format!("sqlite://{}", dir.path().join("server.db").display());
    let mut merchant = merchant_settings(&universe, VerifyMode::Certificate);
    merchant.serial_no = "0123456789ABCDEF0123456789ABCDEF01234567".into();
    settings.merchant = Some(merchant);
    wxpay_server::embedded::point_at(&mut settings, &sim.base_url());
    settings.upstream.backoff_ms = 10;
    let err = match wxpay_server::app::Application::build(settings).await {
        Ok(_) => panic!("a server whose requests WeChat refuses must not start"),
        Err(err) => err,
    };
    let chain = wxpay_server::error::error_chain(&err);
    assert!(chain.contains("SIGN_ERROR"), "{chain}");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unsigned_2xx_is_still_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    app.arm_fault("v3.jsapi", "unsigned", 1).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("upstream_unavailable")),
        "{body}"
    );
    assert_eq!(app.stored(&no).await.prepay_id, None, "nothing handed out");
    app.stop().await;
}

#[tokio::test]
async fn an_unsigned_sign_error_on_close_is_reported_and_the_order_stays_open() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    app.arm_fault("v3.close", "sign_error", 1).await;
    let (status, body) = app
        .post(&format!("/api/orders/{no}/close"), Some(&token), json!({}))
        .await;
    assert_refused_with(status, &body, "SIGN_ERROR");
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    assert_eq!(app.sim_order(&no).await["trade_state"], "NOTPAY");
    app.stop().await;
}

/// The refund request is refused with an unsigned `SIGN_ERROR`. That answer proves nothing,
/// so the server asks WeChat about the refund with a signed query; WeChat's signed
/// `RESOURCE_NOT_EXISTS` proves nothing happened, so the refund is closed and its amount
/// released, instead of staying PROCESSING and being sent again on every worker pass.
#[tokio::test]
async fn a_refund_refused_unsigned_is_released_once_wechat_confirms_it_holds_none() {
    let app = TestApp::spawn().await;
    let no = paid_order(&app).await;
    app.arm_fault("v3.refund", "sign_error", 1).await;
    let (status, body) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_refused_with(status, &body, "SIGN_ERROR");
    assert!(sim_refunds(&app, &no).await.is_empty());
    assert_eq!(
        stored_refund_states(&app, &no).await,
        vec!["CLOSED".to_owned()]
    );

    // Nothing is left for the worker to send again, and the whole amount is free.
    let later = app.state.clock.now() + 3600;
    let report = wxpay_server::worker::run_pass_at(&app.state, "w1", later)
        .await
        .expect("pass");
    assert_eq!(report.refunds_checked, 0, "{report:?}");
    assert!(sim_refunds(&app, &no).await.is_empty(), "never resent");
    let (status, refund) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(
        (status, refund["status"].as_str()),
        (200, Some("PROCESSING")),
        "{refund}"
    );
    app.stop().await;
}

/// When WeChat cannot be asked verifiably either, nothing is known: the refund stays
/// PROCESSING with its amount reserved (an unsigned answer changes no state) and the worker
/// finishes it under the same number once WeChat answers with a signature again.
#[tokio::test]
async fn a_refund_refused_unsigned_stays_reserved_while_nothing_can_be_verified() {
    let app = TestApp::spawn().await;
    let no = paid_order(&app).await;
    app.arm_fault("v3.refund", "sign_error", 1).await;
    app.arm_fault("v3.refund_query", "sign_error", 1).await;
    let (status, refund) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(
        (status, refund["status"].as_str()),
        (200, Some("PROCESSING")),
        "{refund}"
    );
    let out_refund_no = refund["out_refund_no"].as_str().expect("no").to_owned();
    assert_eq!(
        app.faults_left("v3.refund_query").await,
        0,
        "WeChat was asked"
    );
    let (status, body) = app.refund(&no, json!({ "amount_fen": 1 })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("refund_exceeds_paid")),
        "still reserved: {body}"
    );

    let report = wxpay_server::worker::run_pass(&app.state, "w1")
        .await
        .expect("pass");
    assert_eq!(report.refunds_checked, 1, "{report:?}");
    let at_wechat = sim_refunds(&app, &no).await;
    assert_eq!(at_wechat.len(), 1, "{at_wechat:?}");
    assert_eq!(at_wechat[0]["out_refund_no"], out_refund_no.as_str());
    app.stop().await;
}

/// An error answer that does carry signature headers must verify, as before: a 404 with a
/// `WECHATPAY/SIGNTEST/` probe signature is not taken as WeChat's `ORDER_NOT_EXIST`.
#[tokio::test]
async fn a_signed_error_answer_must_still_verify() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    app.arm_fault("v3.query", "sign_test", 1).await;
    let outcome = wxpay_server::payments::query_and_apply(&app.state, &no, "test").await;
    assert!(
        matches!(
            outcome,
            Err(wxpay_server::error::AppError::UpstreamUnavailable(
                wxpay_server::upstream::UpstreamError::Unverified { .. }
            ))
        ),
        "{outcome:?}"
    );
    app.stop().await;
}
