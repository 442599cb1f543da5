use serde_json::{json, Value};
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::notification::{verify_and_decrypt, EventType};

use crate::common::*;

fn key() -> ApiV3Key {
    ApiV3Key::new(universe().apiv3_key.expose()).expect("key")
}

#[tokio::test]
async fn transaction_success_notification_verifies_and_decrypts() {
    let t = start().await;
    let rx = receiver(vec![]).await;
    t.paid_order("order_ntf01", 100, &rx.url).await;
    let got = rx.wait_for(1).await;
    let n = &got[0];
    let d = verify_and_decrypt(&t.verifier, &signed_headers_of(n), &n.body, now(), &key())
        .expect("verify + decrypt");
    assert_eq!(d.notification.event_type, EventType::TransactionSuccess);
    let payload: Value = serde_json::from_str(&d.plaintext).expect("json");
    assert_eq!(payload["out_trade_no"], "order_ntf01");
    assert_eq!(payload["trade_state"], "SUCCESS");
    assert_eq!(payload["amount"]["total"], 100);
    // The delivery log shows one acknowledged attempt.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (_, log) = t.control("GET", "/__sim/notifications", None).await;
    assert_eq!(log[0]["status"], "acknowledged");
    assert_eq!(log[0]["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(log[0]["attempts"][0]["status"], 200);
}

#[tokio::test]
async fn retries_until_acknowledged() {
    let t = start().await;
    let rx = receiver(vec![500, 404, 500]).await;
    t.paid_order("order_ntf02", 100, &rx.url).await;
    let got = rx.wait_for(4).await;
    // Same notification id each time, signed afresh.
    let ids: Vec<String> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(rx.count(), 4, "stops after the acknowledgement");
    let (_, log) = t.control("GET", "/__sim/notifications", None).await;
    let attempts = log[0]["attempts"].as_array().expect("attempts");
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["status"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        vec![500, 404, 500, 200]
    );
    assert_eq!(log[0]["status"], "acknowledged");
}

#[tokio::test]
async fn refund_notification() {
    let t = start().await;
    let rx = receiver(vec![]).await;
    t.paid_order("order_ntf03", 500, &rx.url).await;
    rx.wait_for(1).await;
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &json!({"out_trade_no": "order_ntf03", "out_refund_no": "rn_1",
            "notify_url": rx.url, "amount": {"refund": 500, "total": 500, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(r.status, 200);
    t.control("POST", "/__sim/refunds/rn_1/abnormal", None)
        .await;
    let got = rx.wait_for(2).await;
    let d = verify_and_decrypt(
        &t.verifier,
        &signed_headers_of(&got[1]),
        &got[1].body,
        now(),
        &key(),
    )
    .expect("verify");
    assert_eq!(d.notification.event_type, EventType::RefundAbnormal);
    let p: Value = serde_json::from_str(&d.plaintext).expect("json");
    assert_eq!(p["refund_status"], "ABNORMAL");
    assert_eq!(p["out_refund_no"], "rn_1");
}

#[tokio::test]
async fn notification_faults_duplicate_drop_probe() {
    let t = start().await;
    let rx = receiver(vec![]).await;
    t.control("POST", "/__sim/faults/notify", Some(json!({"drop": 1})))
        .await;
    t.paid_order("order_drop1", 100, &rx.url).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(rx.count(), 0, "dropped");
    t.control(
        "POST",
        "/__sim/faults/notify",
        Some(json!({"duplicate": 1})),
    )
    .await;
    t.paid_order("order_dup01", 100, &rx.url).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[0].body, got[1].body, "duplicate carries the same body");
    t.control("POST", "/__sim/faults/notify", Some(json!({"probe": 1})))
        .await;
    // The receiver answers 200 to anything: a probe acknowledged counts as acknowledged,
    // so use a receiver that rejects the first attempt as a verifying merchant would.
    let strict = receiver(vec![401]).await;
    t.paid_order("order_prb01", 100, &strict.url).await;
    let got = strict.wait_for(2).await;
    let first = signed_headers_of(&got[0]);
    assert!(first.signature.starts_with("WECHATPAY/SIGNTEST/"));
    assert!(t.verifier.verify(&first, &got[0].body, now()).is_err());
    t.verifier
        .verify(&signed_headers_of(&got[1]), &got[1].body, now())
        .expect("retry is properly signed");
    let (_, log) = t.control("GET", "/__sim/notifications", None).await;
    let statuses: Vec<&str> = log
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|d| d["status"].as_str())
        .collect();
    assert!(statuses.contains(&"dropped"));
}

#[tokio::test]
async fn out_of_order_notifications() {
    let t = start().await;
    let rx = receiver(vec![]).await;
    t.control(
        "POST",
        "/__sim/faults/notify",
        Some(json!({"reorder": 1, "delay_ms": 300})),
    )
    .await;
    t.paid_order("order_ooo01", 100, &rx.url).await;
    t.paid_order("order_ooo02", 100, &rx.url).await;
    let got = rx.wait_for(2).await;
    let first: Value = serde_json::from_slice(&got[0].body).expect("json");
    let d = verify_and_decrypt(
        &t.verifier,
        &signed_headers_of(&got[0]),
        &got[0].body,
        now(),
        &key(),
    )
    .expect("v");
    let p: Value = serde_json::from_str(&d.plaintext).expect("json");
    assert_eq!(
        p["out_trade_no"], "order_ooo02",
        "the later notification overtook: {first}"
    );
}

#[tokio::test]
async fn api_faults() {
    let t = start().await;
    let (s, _) = t
        .control(
            "POST",
            "/__sim/faults",
            Some(json!({"endpoint": "v3.jsapi", "kind": "system_error", "count": 2})),
        )
        .await;
    assert_eq!(s, 200);
    for _ in 0..2 {
        let r = t
            .post_json(
                "/v3/pay/transactions/jsapi",
                &t.jsapi_body("order_flt01", 1, "https://m.example/n"),
            )
            .await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (500, Some("SYSTEM_ERROR"))
        );
    }
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body("order_flt01", 1, "https://m.example/n"),
        )
        .await;
    assert_eq!(r.status, 200);
    // Probe signature on a response.
    t.control(
        "POST",
        "/__sim/faults",
        Some(json!({"endpoint": "v3.query", "kind": "sign_test"})),
    )
    .await;
    let path = format!(
        "/v3/pay/transactions/out-trade-no/order_flt01?mchid={}",
        t.mchid
    );
    let r = t
        .raw(
            "GET",
            &path,
            "",
            Some(t.authorization("GET", &path, "", now())),
        )
        .await;
    let h = r.signed_headers().expect("headers");
    assert!(h.signature.starts_with("WECHATPAY/SIGNTEST/"));
    assert!(t.verifier.verify(&h, r.body.as_bytes(), now()).is_err());
    // 502 gateway page, unsigned.
    t.control(
        "POST",
        "/__sim/faults",
        Some(json!({"endpoint": "*", "kind": "bad_gateway"})),
    )
    .await;
    let r = t
        .raw(
            "GET",
            &path,
            "",
            Some(t.authorization("GET", &path, "", now())),
        )
        .await;
    assert_eq!(r.status, 502);
    assert!(r.signed_headers().is_err());
    // Timeout (short delay) and rate limit.
    t.control(
        "POST",
        "/__sim/faults",
        Some(json!({"endpoint": "v3.query", "kind": "timeout", "delay_ms": 300})),
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(100))
        .build()
        .expect("client");
    let err = client
        .get(t.url(&path))
        .header("authorization", t.authorization("GET", &path, "", now()))
        .send()
        .await;
    assert!(err.is_err_and(|e| e.is_timeout()));
    t.control(
        "POST",
        "/__sim/faults",
        Some(json!({"endpoint": "v3.query", "kind": "rate_limited"})),
    )
    .await;
    let r = t.call("GET", &path, "").await;
    assert_eq!(r.status, 429);
    // Unknown endpoint is refused.
    let (s, _) = t
        .control(
            "POST",
            "/__sim/faults",
            Some(json!({"endpoint": "v9.nope", "kind": "timeout"})),
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn order_actions() {
    let t = start().await;
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("order_act01", 1, "https://m.example/n"),
    )
    .await;
    let state = |v: Value| v["trade_state"].as_str().unwrap_or("").to_owned();
    let (_, v) = t
        .control("POST", "/__sim/orders/order_act01/hold", None)
        .await;
    assert_eq!(state(v), "USERPAYING");
    let q = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/order_act01?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    assert_eq!(q.json()["trade_state"], "USERPAYING");
    let (_, v) = t
        .control("POST", "/__sim/orders/order_act01/cancel", None)
        .await;
    assert_eq!(state(v), "NOTPAY");
    let (_, v) = t
        .control("POST", "/__sim/orders/order_act01/fail", None)
        .await;
    assert_eq!(state(v), "PAYERROR");
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("order_act02", 1, "https://m.example/n"),
    )
    .await;
    let (_, v) = t
        .control("POST", "/__sim/orders/order_act02/expire", None)
        .await;
    assert_eq!(state(v), "CLOSED");
    let (s, _) = t
        .control("POST", "/__sim/orders/order_act02/pay", None)
        .await;
    assert_eq!(s, 409);
    let (s, _) = t.control("POST", "/__sim/orders/nope_0001/pay", None).await;
    assert_eq!(s, 404);
    let (s, _) = t
        .control("POST", "/__sim/orders/order_act01/dance", None)
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn state_file_survives_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = base_config();
    c.state_file = Some(dir.path().join("state.json"));
    let t = start_with(c.clone()).await;
    t.paid_order("order_pers1", 100, "https://m.example/n")
        .await;
    t.sim.shutdown().await;
    let t2 = start_with(c).await;
    let q = t2
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/order_pers1?mchid={}",
                t2.mchid
            ),
            "",
        )
        .await;
    assert_eq!(q.json()["trade_state"], "SUCCESS");
}

#[tokio::test]
async fn init_writes_a_loadable_universe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let u = universe();
    u.write_dir(dir.path(), "127.0.0.1:0", "127.0.0.1:0")
        .expect("write");
    for f in [
        "sim.toml",
        "merchant.toml",
        "apiclient_key.pem",
        "apiclient_cert.pem",
        "pub_key.pem",
        "platform_cert.pem",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    // Mode one's callback URL is offered commented out: the loaded config has none.
    let sim_toml = std::fs::read_to_string(dir.path().join("sim.toml")).expect("read");
    assert!(sim_toml.contains("# native_callback_url = \"http://"));
    let mut config = wxpay_sim::SimConfig::load(&dir.path().join("sim.toml")).expect("load");
    assert_eq!(config.merchants[0].native_callback_url, None);
    config.tls = None;
    config.state_file = None;
    let running = wxpay_sim::Simulator::start(config).await.expect("start");
    let (s, _) = {
        let r = reqwest::get(format!("{}/__sim/health", running.base_url()))
            .await
            .expect("health");
        (r.status().as_u16(), ())
    };
    assert_eq!(s, 200);
    let snippet = std::fs::read_to_string(dir.path().join("merchant.toml")).expect("read");
    let parsed: toml::Value = toml::from_str(&snippet).expect("merchant.toml is TOML");
    assert_eq!(parsed["merchant"]["mchid"].as_str(), Some(u.mchid.as_str()));
    // No key material inline: every secret is a file that exists.
    for key in ["private_key", "apiv3_key", "apiv2_key", "client_cert_pem"] {
        let path = parsed["merchant"][key]["file"]
            .as_str()
            .expect("file secret");
        assert!(std::path::Path::new(path).is_file(), "{key}: {path}");
    }
    assert!(!snippet.contains(u.apiv3_key.expose()));
    running.shutdown().await;
}
