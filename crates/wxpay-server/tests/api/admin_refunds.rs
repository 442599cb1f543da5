//! Refunds are the merchant's decision: creating one needs `X-Admin-Token`
//! (`server.admin_token`), never just a payer's session; without a configured token the
//! API cannot refund at all.

use serde_json::{json, Value};
use wxpay_server::app::{Application, StartError};
use wxpay_server::config::{Settings, VerifyMode};
use wxpay_server::secret::{Secret, SecretSource};
use wxpay_sim::universe::Universe;

use crate::helpers::{TestApp, ADMIN_TOKEN};

/// A paid order of a fresh payer: (payer's session, order number).
async fn paid_order(app: &TestApp) -> (String, String) {
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    (token, no)
}

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

#[tokio::test]
async fn a_payers_session_alone_cannot_refund_even_their_own_order() {
    let app = TestApp::spawn().await;
    let (token, no) = paid_order(&app).await;
    let audit_before = app.state.store.audit("order", &no).await.expect("audit");

    let path = format!("/api/orders/{no}/refunds");
    let (status, body) = app
        .post(&path, Some(&token), json!({ "amount_fen": 3000 }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (403, Some("admin_required")),
        "{body}"
    );
    let (status, body) = app.post(&path, None, json!({ "amount_fen": 1 })).await;
    assert_eq!(
        (status, code(&body)),
        (403, Some("admin_required")),
        "{body}"
    );

    // Nothing changed: the order, its audit trail, WeChat's side, and no amount was
    // reserved (the full amount is still refundable by the staff).
    let order = app.stored(&no).await;
    assert_eq!((order.state.as_str(), order.refunded_fen), ("SUCCESS", 0));
    let audit_after = app.state.store.audit("order", &no).await.expect("audit");
    assert_eq!(audit_before, audit_after);
    let sim = app.sim_order(&no).await;
    assert_eq!(sim["trade_state"].as_str(), Some("SUCCESS"), "{sim}");
    let (status, body) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_admin_token_is_refused_with_or_without_a_session() {
    let app = TestApp::spawn().await;
    let (token, no) = paid_order(&app).await;
    let path = format!("/api/orders/{no}/refunds");
    let mut near_miss = ADMIN_TOKEN.to_owned();
    near_miss.pop();
    near_miss.push('X');
    let longer = format!("{ADMIN_TOKEN}0");
    for (wrong, session) in [
        (near_miss.as_str(), None),
        (near_miss.as_str(), Some(token.as_str())),
        ("short", Some(token.as_str())),
        (longer.as_str(), None),
    ] {
        let (status, body) = app
            .post_admin(&path, wrong, session, json!({ "amount_fen": 1 }))
            .await;
        assert_eq!(
            (status, code(&body)),
            (403, Some("invalid_admin_token")),
            "{wrong}: {body}"
        );
    }
    // None of them reserved anything: the right token can still refund the full amount.
    let (status, body) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn the_admin_refunds_any_users_order_and_the_audit_names_the_admin() {
    let app = TestApp::spawn().await;
    let (alice, no) = paid_order(&app).await;
    let (mallory, _) = app.login_miniprogram().await;

    // Staff with a session of their own (not the payer's) still refund: the order's owner
    // does not matter to the admin credential.
    let (status, refund) = app
        .post_admin(
            &format!("/api/orders/{no}/refunds"),
            ADMIN_TOKEN,
            Some(&mallory),
            json!({ "amount_fen": 1200, "reason": "damaged" }),
        )
        .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["out_trade_no"].as_str(), Some(no.as_str()));
    assert_eq!(refund["amount_fen"], 1200);
    let number = refund["out_refund_no"].as_str().expect("number").to_owned();
    let audit = app
        .state
        .store
        .audit("refund", &number)
        .await
        .expect("audit");
    assert_eq!(
        audit.first().map(|row| row.cause.as_str()),
        Some("created_by:admin"),
        "{audit:?}"
    );

    // Reading the status: the owner and the admin may, another payer may not.
    let path = format!("/api/refunds/{number}");
    let (status, _) = app.get(&path, Some(&alice)).await;
    assert_eq!(status, 200);
    let (status, body) = app.get(&path, Some(&mallory)).await;
    assert_eq!((status, code(&body)), (404, Some("refund_not_found")));
    let response = app
        .http
        .get(format!("{}{path}", app.url))
        .header("x-admin-token", ADMIN_TOKEN)
        .send()
        .await
        .expect("admin read");
    assert_eq!(response.status(), 200);
    let response = app
        .http
        .get(format!("{}{path}", app.url))
        .header("x-admin-token", "not-the-admin-token-at-all")
        .bearer_auth(&alice)
        .send()
        .await
        .expect("wrong admin read");
    assert_eq!(response.status(), 403, "a presented token is judged alone");

    app.control
        .refund_action(Some(app.mchid()), &number, "succeed")
        .expect("succeed");
    for _ in 0..200 {
        if app.stored(&no).await.refunded_fen == 1200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(app.stored(&no).await.refunded_fen, 1200);
    app.stop().await;
}

#[tokio::test]
async fn without_a_configured_admin_token_refunds_are_disabled() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.server.admin_token = None;
    })
    .await;
    let (token, no) = paid_order(&app).await;
    let path = format!("/api/orders/{no}/refunds");
    for (admin, session) in [(Some(ADMIN_TOKEN), None), (None, Some(token.as_str()))] {
        let (status, body) = match admin {
            Some(admin) => {
                app.post_admin(&path, admin, session, json!({ "amount_fen": 1 }))
                    .await
            }
            None => app.post(&path, session, json!({ "amount_fen": 1 })).await,
        };
        assert_eq!(
            (status, code(&body)),
            (403, Some("refunds_disabled")),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("server.admin_token")),
            "{body}"
        );
    }
    assert_eq!(app.stored(&no).await.refunded_fen, 0);
    app.stop().await;
}

#[tokio::test]
async fn guessing_the_admin_token_locks_the_client_out() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.limits.admin_failures_per_minute = 2;
    })
    .await;
    let (_, no) = paid_order(&app).await;
    let path = format!("/api/orders/{no}/refunds");
    for guess in ["guess-number-one-xxxxxx", "guess-number-two-xxxxxx"] {
        let (status, body) = app
            .post_admin(&path, guess, None, json!({ "amount_fen": 1 }))
            .await;
        assert_eq!((status, code(&body)), (403, Some("invalid_admin_token")));
    }
    // Past the limit even the right token gets no answer but 429, so a guesser cannot tell
    // a hit from a miss.
    let (status, body) = app.refund(&no, json!({ "amount_fen": 1 })).await;
    assert_eq!((status, code(&body)), (429, Some("rate_limited")), "{body}");
    assert_eq!(app.stored(&no).await.refunded_fen, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_weak_admin_token_stops_the_start() {
    let universe = Universe::generate().expect("universe");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.database.url = format!("sqlite://{}", dir.path().join("weak.db").display());
    settings.merchant = Some(wxpay_server::embedded::merchant_settings(
        &universe,
        VerifyMode::PublicKey,
    ));
    settings.server.admin_token = Some(SecretSource::Inline(Secret::new("admin".into())));
    let result = Application::build(settings).await;
    assert!(
        matches!(result, Err(StartError::AdminToken(_))),
        "a five-character admin token is refused"
    );
}
