//! Mini-program login against code2Session's errcodes (protocol D): a bad, used or blocked
//! code is the caller's problem (400 `login_rejected`); WeChat being busy (-1) or over its
//! minute quota (45011) is not, so the caller gets a retryable 503 with `Retry-After`.

use serde_json::{json, Value};
use wxpay_sim::config::AppKind;

use crate::helpers::TestApp;

/// Logs in with `code`; returns status, `Retry-After` and body.
async fn login(app: &TestApp, code: &str) -> (u16, Option<String>, Value) {
    let response = app
        .http
        .post(format!("{}/api/login/miniprogram", app.url))
        .json(&json!({ "code": code }))
        .send()
        .await
        .expect("login");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn fresh_code(app: &TestApp) -> String {
    app.control
        .mint_login_code(&app.appid(AppKind::MiniProgram), None)
        .expect("code")
        .0
}

#[tokio::test]
async fn a_busy_or_rate_limited_wechat_is_a_retryable_503() {
    let app = TestApp::spawn().await;
    for (fault, errcode, wait) in [("system_error", "-1", "1"), ("rate_limited", "45011", "60")] {
        app.arm_fault("login.jscode2session", fault, 1).await;
        let code = fresh_code(&app).await;
        let (status, retry_after, body) = login(&app, &code).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("upstream_unavailable")),
            "{errcode}: {body}"
        );
        assert_eq!(retry_after.as_deref(), Some(wait), "{errcode}: {body}");
        // The code was never exchanged: the same one logs in once WeChat answers again.
        let (status, _, body) = login(&app, &code).await;
        assert_eq!(status, 200, "{errcode}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_bad_used_or_blocked_code_is_the_callers_400() {
    let app = TestApp::spawn().await;
    let blocked = app
        .control
        .mint_blocked_login_code(&app.appid(AppKind::MiniProgram), None)
        .expect("blocked code")
        .0;
    let used = fresh_code(&app).await;
    let (status, _, _) = login(&app, &used).await;
    assert_eq!(status, 200);
    for (code, errcode) in [
        ("not-a-code", "40029"),
        (used.as_str(), "40163"),
        (blocked.as_str(), "40226"),
    ] {
        let (status, retry_after, body) = login(&app, code).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("login_rejected")),
            "{errcode}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(errcode)),
            "{errcode}: {body}"
        );
        assert_eq!(retry_after, None);
    }
    app.stop().await;
}
