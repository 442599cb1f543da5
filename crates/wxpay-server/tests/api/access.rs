//! Who may see and pay what; the one error shape; login limits; the OpenAPI document.

use serde_json::json;
use wxpay_server::config::VerifyMode;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_second_user_cannot_read_pay_close_or_refund_the_first_users_order() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.login_miniprogram().await;
    let (mallory, _) = app.login_miniprogram().await;
    let no = app.create_order(&alice).await;
    let (status, body) = app.get(&format!("/api/orders/{no}"), Some(&mallory)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("order_not_found"))
    );
    let (status, _) = app.pay(&mallory, &no, "native").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            &format!("/api/orders/{no}/close"),
            Some(&mallory),
            json!({}),
        )
        .await;
    assert_eq!(status, 404);
    // Refunds need the merchant's admin credential, whoever's session is attached.
    let (status, body) = app
        .post(
            &format!("/api/orders/{no}/refunds"),
            Some(&mallory),
            json!({ "amount_fen": 1 }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("admin_required"))
    );
    let (status, _) = app.get(&format!("/api/orders/{no}"), None).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .get(&format!("/api/orders/{no}"), Some("not-a-token"))
        .await;
    assert_eq!(status, 401);
    let (status, body) = app.get(&format!("/api/orders/{no}"), Some(&alice)).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("NOTPAY")));
    app.stop().await;
}

async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn assert_error_shape(status: u16, body: &serde_json::Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"].as_str(), Some(code), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[tokio::test]
async fn bad_input_gets_one_json_error_shape() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let cases = [
        json!({ "items": [] }),
        json!({ "items": [{ "product_id": "nope" }] }),
        json!({ "items": [{ "product_id": "cake", "quantity": 0 }] }),
        json!({ "items": [{ "product_id": "cake", "price_fen": 1 }], "amount": 1 }),
        json!("garbage"),
    ];
    for case in cases {
        let (status, body) = app.post("/api/orders", Some(&token), case.clone()).await;
        assert_eq!(status, 400, "{case}: {body}");
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{body}"
        );
    }
    // Past `server.body_limit_bytes` (64 KiB; a body streamed without a length is refused
    // by the extractor instead, see the error module's unit tests).
    let huge = "x".repeat(200 * 1024);
    let request = app
        .http
        .post(format!("{}/api/orders", app.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(huge);
    let (status, body) = send(request).await;
    assert_error_shape(status, &body, 413, "body_too_large");
    // Body rejections: not JSON, malformed JSON, wrong content type.
    for (content_type, raw) in [
        ("application/json", "{ not json"),
        ("application/json", "{\"items\": 5}"),
        ("text/plain", "{\"items\": []}"),
    ] {
        let request = app
            .http
            .post(format!("{}/api/orders", app.url))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(raw);
        let (status, body) = send(request).await;
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_error_shape(status, &body, 400, &code);
        assert!(
            ["invalid_json", "unsupported_media_type"].contains(&code.as_str()),
            "{content_type} {raw}: {body}"
        );
    }
    // Missing query parameters.
    let (status, body) = app.get("/api/jssdk/config", None).await;
    assert_error_shape(status, &body, 400, "invalid_query");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("url")),
        "the message names the parameter: {body}"
    );
    let (status, body) = app.get("/api/native/mode-one-url", None).await;
    assert_error_shape(status, &body, 400, "invalid_query");
    // Unknown route, wrong method, a path that is not UTF-8.
    let (status, body) = app.get("/api/no-such-route", None).await;
    assert_error_shape(status, &body, 404, "route_not_found");
    let response = app
        .http
        .delete(format!("{}/api/orders", app.url))
        .send()
        .await
        .expect("delete");
    assert!(response.headers().contains_key("allow"), "Allow is kept");
    let (status, body) = (
        response.status().as_u16(),
        response.json().await.unwrap_or_default(),
    );
    assert_error_shape(status, &body, 405, "method_not_allowed");
    let (status, body) = app.get("/api/orders/%FF", Some(&token)).await;
    assert_error_shape(status, &body, 400, "invalid_request");
    let (status, body) = app
        .post(
            "/api/login/miniprogram",
            None,
            json!({ "code": "used-or-invalid" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("login_rejected"))
    );
    app.stop().await;
}

#[tokio::test]
async fn idempotency_key_returns_the_same_order_and_prices_come_from_the_server() {
    let app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let send = || {
        app.http
            .post(format!("{}/api/orders", app.url))
            .bearer_auth(&token)
            .header("Idempotency-Key", "cart-42")
            .json(&json!({ "items": [{ "product_id": "coffee", "quantity": 3 }, { "product_id": "tea" }] }))
            .send()
    };
    let first: serde_json::Value = send().await.expect("first").json().await.expect("json");
    let second: serde_json::Value = send().await.expect("second").json().await.expect("json");
    assert_eq!(first["out_trade_no"], second["out_trade_no"]);
    assert_eq!(first["amount_fen"], 5);
    app.stop().await;
}

#[tokio::test]
async fn login_is_rate_limited_and_openapi_lists_every_route() {
    let app = TestApp::spawn().await;
    let mut limited = false;
    for _ in 0..40 {
        let (status, _) = app
            .post("/api/login/miniprogram", None, json!({ "code": "x" }))
            .await;
        if status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "login attempts are limited per IP");
    let (status, doc) = app.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    for path in [
        "/api/login/miniprogram",
        "/api/login/oauth",
        "/api/products",
        "/api/orders",
        "/api/orders/{out_trade_no}",
        "/api/orders/{out_trade_no}/pay",
        "/api/orders/{out_trade_no}/close",
        "/api/orders/{out_trade_no}/refunds",
        "/api/refunds/{out_refund_no}",
        "/api/jssdk/config",
        "/notify/v3/pay",
        "/notify/v3/refund",
        "/notify/v2/pay",
        "/notify/v2/refund",
        "/notify/v2/native-callback",
        "/api/native/mode-one-url",
        "/api/admin/attention",
        "/api/admin/orders/{out_trade_no}/attention/resolve",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from /openapi.json"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn jssdk_config_is_signed_with_a_cached_ticket() {
    let app = TestApp::spawn().await;
    let (status, first) = app
        .get(
            "/api/jssdk/config?url=http%3A%2F%2Flocalhost%2Fpay%3Fa%3D1%23frag",
            None,
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = app
        .get(
            "/api/jssdk/config?url=http%3A%2F%2Flocalhost%2Fpay%3Fa%3D1",
            None,
        )
        .await;
    assert_eq!(status, 200, "{second}");
    let appid = app.appid(wxpay_sim::config::AppKind::OfficialAccount);
    let ticket = app
        .state
        .store
        .credential(&format!("jsapi_ticket:{appid}"), 0)
        .await
        .expect("store")
        .expect("cached");
    let (_, expected) = wxpay_core::jssdk::config_signature(
        &ticket,
        second["nonceStr"].as_str().expect("nonce"),
        second["timestamp"].as_u64().expect("ts"),
        "http://localhost/pay?a=1",
    )
    .expect("sign");
    assert_eq!(second["signature"].as_str(), Some(expected.as_str()));
    assert_eq!(first["appId"].as_str(), Some(appid.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn login_is_limited_by_the_address_the_trusted_proxy_appended() {
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.limits.login_per_minute = 3;
    })
    .await;
    let login = |forwarded: String| {
        app.http
            .post(format!("{}/api/login/miniprogram", app.url))
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "code": "x" }))
            .send()
    };
    // The client writes a new left-most address each time; the proxy appends the real one.
    for attempt in 0..3 {
        let response = login(format!("198.51.100.{attempt}, 203.0.113.7"))
            .await
            .expect("login");
        assert_eq!(
            response.status(),
            400,
            "attempt {attempt} is within the limit"
        );
    }
    let response = login("198.51.100.99, 203.0.113.7".into())
        .await
        .expect("login");
    assert_eq!(
        response.status(),
        429,
        "a forged left-most address does not reset the real address's count"
    );
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    let response = login("203.0.113.7, 203.0.113.8".into())
        .await
        .expect("login");
    assert_eq!(
        response.status(),
        400,
        "another real address has its own count, whatever it puts on the left"
    );
    app.stop().await;
}
