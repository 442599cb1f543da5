use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use wxpay_sim::notify::RETRY_SCHEDULE_SECS;

use crate::common::*;

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

/// A merchant endpoint that refuses (500) every notification until `accept` is set.
async fn switchable_receiver() -> (String, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let accept = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(AtomicUsize::new(0));
    let (a, h) = (accept.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move || {
            let (a, h) = (a.clone(), h.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if a.load(Ordering::SeqCst) {
                    axum::http::StatusCode::NO_CONTENT
                } else {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/notify"), accept, hits)
}

#[tokio::test]
async fn state_file_survives_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_path = dir.path().join("state.json");
    let mut c = base_config();
    c.state_file = Some(state_path.clone());
    // Retries 750 ms, 750 ms, 1.5 s apart: the delivery is still pending at shutdown.
    c.time_scale = 0.05;
    let (notify_url, accept, hits) = switchable_receiver().await;
    let t = start_with(c.clone()).await;
    t.paid_order("order_pers1", 1000, &notify_url).await;
    t.wait_for_delivery("order_pers1", 10, |d| {
        d["attempts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    // A refund without notify_url, completed: no notification is sent for it.
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &json!({"out_trade_no": "order_pers1", "out_refund_no": "refund_pers1",
                    "amount": {"refund": 300, "total": 1000, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (s, _) = t
        .control("POST", "/__sim/refunds/refund_pers1/succeed", None)
        .await;
    assert_eq!(s, 200);
    // Signing mode switched through the control API.
    let (s, _) = t
        .control(
            "POST",
            "/__sim/signing-mode",
            Some(json!({"mode": "public-key"})),
        )
        .await;
    assert_eq!(s, 200);
    t.sim.shutdown().await;

    // What the state file holds: the delivery pending after some failed attempts.
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&state_path).expect("state file")).expect("json");
    let saved_delivery = saved["deliveries"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["out_trade_no"] == "order_pers1"))
        .cloned()
        .expect("delivery saved");
    assert_eq!(saved_delivery["status"], "pending");
    let before = saved_delivery["attempts"]
        .as_array()
        .expect("attempts")
        .clone();
    assert!(!before.is_empty());
    assert!(before.iter().all(|a| a["status"] == 500));
    assert_eq!(hits.load(Ordering::SeqCst), before.len());

    accept.store(true, Ordering::SeqCst);
    let t2 = start_with(c).await;
    // The order, its refund and the signing mode came back.
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
    assert_eq!(q.json()["trade_state"], "REFUND");
    assert_eq!(
        q.header("wechatpay-serial").as_deref(),
        Some(universe().public_key_id.as_str()),
        "still signing with the public key"
    );
    let r = t2
        .call("GET", "/v3/refund/domestic/refunds/refund_pers1", "")
        .await;
    assert_eq!(r.json()["status"], "SUCCESS", "{}", r.body);
    assert_eq!(r.json()["amount"]["refund"], 300);
    // The pending delivery resumed on its schedule and was acknowledged.
    let d = t2
        .wait_for_delivery("order_pers1", 10, |d| d["status"] == "acknowledged")
        .await;
    let attempts = d["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), before.len() + 1, "{d}");
    assert_eq!(attempts[before.len()]["status"], 204);
    let numbers: Vec<u64> = attempts
        .iter()
        .map(|a| a["number"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(numbers, (1..=attempts.len() as u64).collect::<Vec<_>>());
    let last_before = before.last().expect("attempt")["at_ms"]
        .as_i64()
        .expect("at_ms");
    let scheduled_ms = 0.05 * RETRY_SCHEDULE_SECS[before.len() - 1] as f64 * 1000.0;
    let resumed_at = attempts[before.len()]["at_ms"].as_i64().expect("at_ms");
    assert!(
        (resumed_at - last_before) as f64 >= scheduled_ms - 2.0,
        "the resumed attempt waited for its scheduled delay"
    );
    assert_eq!(d["id"], saved_delivery["id"]);
    assert_eq!(hits.load(Ordering::SeqCst), before.len() + 1);
    assert_eq!(
        t2.deliveries().await.len(),
        1,
        "no notification for a refund without notify_url"
    );
    t2.sim.shutdown().await;
}

/// The serial that signs responses and how many platform certificates are listed.
async fn signing_serial(t: &TestSim) -> (String, usize) {
    let path = "/v3/certificates";
    let r = t
        .raw(
            "GET",
            path,
            "",
            Some(t.authorization("GET", path, "", now())),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = r.json()["data"].as_array().map(Vec::len).unwrap_or(0);
    (r.header("wechatpay-serial").unwrap_or_default(), listed)
}

#[tokio::test]
async fn platform_certificate_choice_survives_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = base_config();
    c.state_file = Some(dir.path().join("state.json"));
    let original = universe().platform.serial.to_ascii_uppercase();
    let t = start_with(c.clone()).await;
    let (s, v) = t
        .control(
            "POST",
            "/__sim/platform/rotate",
            Some(json!({"activate": false})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let rotated = v["serial"].as_str().expect("serial").to_ascii_uppercase();
    t.sim.shutdown().await;
    // Rotated without activation: after a restart the configured certificate still signs.
    let t = start_with(c.clone()).await;
    let (serial, listed) = signing_serial(&t).await;
    assert_eq!(serial.to_ascii_uppercase(), original);
    assert_eq!(listed, 2, "the rotated certificate is still listed");
    let (s, _) = t
        .control("POST", &format!("/__sim/platform/activate/{rotated}"), None)
        .await;
    assert_eq!(s, 200);
    t.sim.shutdown().await;
    // Activated: it signs after a restart.
    let t = start_with(c).await;
    let (serial, _) = signing_serial(&t).await;
    assert_eq!(serial.to_ascii_uppercase(), rotated);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn latency_faults() {
    let t = start().await;
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("order_lat01", 1, "https://m.example/n"),
    )
    .await;
    let path = format!(
        "/v3/pay/transactions/out-trade-no/order_lat01?mchid={}",
        t.mchid
    );
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(1000))
        .build()
        .expect("client");
    let query = |client: reqwest::Client| {
        let auth = t.authorization("GET", &path, "", now());
        let url = t.url(&path);
        async move { client.get(url).header("authorization", auth).send().await }
    };
    // Constant latency on one endpoint, listed, then removed.
    let (s, _) = t
        .control(
            "POST",
            "/__sim/faults/latency",
            Some(json!({"endpoint": "v3.query", "ms": 3000})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, faults) = t.control("GET", "/__sim/faults", None).await;
    assert_eq!(faults["latency_ms"]["v3.query"], 3000);
    assert!(query(impatient.clone())
        .await
        .is_err_and(|e| e.is_timeout()));
    t.control(
        "POST",
        "/__sim/faults/latency",
        Some(json!({"endpoint": "v3.query", "ms": 0})),
    )
    .await;
    let (_, faults) = t.control("GET", "/__sim/faults", None).await;
    assert!(faults["latency_ms"]
        .as_object()
        .is_some_and(|m| m.is_empty()));
    let r = query(impatient.clone()).await.expect("no latency any more");
    assert_eq!(r.status().as_u16(), 200);
    // A counted latency fault: the call is late, then handled normally, signed.
    t.control(
        "POST",
        "/__sim/faults",
        Some(json!({"endpoint": "v3.query", "kind": "latency", "delay_ms": 3000})),
    )
    .await;
    assert!(query(impatient.clone())
        .await
        .is_err_and(|e| e.is_timeout()));
    let r = query(impatient.clone())
        .await
        .expect("the fault is used up");
    assert_eq!(r.status().as_u16(), 200);
    t.control(
        "POST",
        "/__sim/faults",
        Some(json!({"endpoint": "v3.query", "kind": "latency", "delay_ms": 200})),
    )
    .await;
    let r = t.call("GET", &path, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["trade_state"], "NOTPAY");
}

#[tokio::test]
async fn delete_faults_clears_every_armed_fault() {
    let t = start().await;
    let rx = receiver(vec![]).await;
    for spec in [
        json!({"endpoint": "v3.jsapi", "kind": "system_error", "count": 5}),
        json!({"endpoint": "*", "kind": "bad_gateway", "count": 5}),
    ] {
        let (s, _) = t.control("POST", "/__sim/faults", Some(spec)).await;
        assert_eq!(s, 200);
    }
    t.control(
        "POST",
        "/__sim/faults/latency",
        Some(json!({"endpoint": "*", "ms": 5000})),
    )
    .await;
    t.control("POST", "/__sim/faults/notify", Some(json!({"drop": 3})))
        .await;
    let (_, faults) = t.control("GET", "/__sim/faults", None).await;
    assert_eq!(faults["api"]["v3.jsapi"][0]["count"], 5);
    assert_eq!(faults["notify"]["drop"], 3);
    let (s, v) = t.control("DELETE", "/__sim/faults", None).await;
    assert_eq!(s, 200, "{v}");
    let (_, faults) = t.control("GET", "/__sim/faults", None).await;
    assert!(faults["api"].as_object().is_some_and(|m| m.is_empty()));
    assert!(faults["latency_ms"]
        .as_object()
        .is_some_and(|m| m.is_empty()));
    assert_eq!(faults["notify"]["drop"], 0);
    // Everything behaves normally again.
    t.paid_order("order_clr01", 1, &rx.url).await;
    rx.wait_for(1).await;
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
