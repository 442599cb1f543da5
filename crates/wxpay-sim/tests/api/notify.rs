//! Notifications: what is sent, WeChat's retry schedule, acknowledgements, and the
//! delivery log with the merchant's replies.

use serde_json::{json, Value};
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::notification::{verify_and_decrypt, EventType};
use wxpay_sim::notify::RETRY_SCHEDULE_SECS;

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
    // The delivery log shows one acknowledged attempt (recorded once the reply is read).
    let d = t
        .wait_for_delivery("order_ntf01", 10, |d| d["status"] != "pending")
        .await;
    assert_eq!(d["status"], "acknowledged");
    assert_eq!(attempt_statuses(&d), vec![200]);
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
    // Once the log records the acknowledgement the delivery is final: no fifth attempt.
    let d = t
        .wait_for_delivery("order_ntf02", 10, |d| d["status"] != "pending")
        .await;
    assert_eq!(d["status"], "acknowledged");
    assert_eq!(attempt_statuses(&d), vec![500, 404, 500, 200]);
    assert_eq!(rx.count(), 4, "stops after the acknowledgement");
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
    // The log records the drop at once; that nothing reaches the merchant is checked
    // below, after later notifications to the same receiver have arrived.
    let dropped = t
        .wait_for_delivery("order_drop1", 10, |d| d["status"] != "pending")
        .await;
    assert_eq!(dropped["status"], "dropped");
    t.control(
        "POST",
        "/__sim/faults/notify",
        Some(json!({"duplicate": 1})),
    )
    .await;
    t.paid_order("order_dup01", 100, &rx.url).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[0].body, got[1].body, "duplicate carries the same body");
    let (_, log) = t.control("GET", "/__sim/notifications", None).await;
    let dup_body = log
        .as_array()
        .expect("log")
        .iter()
        .find(|d| d["out_trade_no"] == "order_dup01")
        .and_then(|d| d["body"].as_str())
        .expect("order_dup01 delivery")
        .to_owned();
    assert_eq!(
        got[0].body,
        dup_body.as_bytes(),
        "the dropped one never arrived"
    );
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
    assert_eq!(rx.count(), 2, "only the duplicated notification reached rx");
    let dropped = t
        .wait_for_delivery("order_drop1", 1, |d| d["status"] == "dropped")
        .await;
    assert_eq!(attempt_statuses(&dropped), Vec::<u64>::new());
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
async fn retry_schedule_gaps_and_giving_up() {
    // 24 h 4 min of retries compressed into 17.3 s.
    const SCALE: f64 = 0.0002;
    let mut c = base_config();
    c.time_scale = SCALE;
    let t = start_with(c).await;
    let rx = receiver(vec![500; 40]).await;
    t.paid_order("order_sched", 1, &rx.url).await;
    // Until the last attempt the delivery is pending; after it, gave_up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let d = loop {
        let d = t
            .deliveries()
            .await
            .into_iter()
            .find(|d| d["out_trade_no"] == "order_sched")
            .expect("delivery");
        let made = d["attempts"].as_array().map(Vec::len).unwrap_or(0);
        if d["status"] != "pending" {
            break d;
        }
        assert!(made < 16, "still pending after {made} attempts: {d}");
        assert!(std::time::Instant::now() < deadline, "no give-up: {d}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(d["status"], "gave_up");
    let attempts = d["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 16, "the first attempt plus 15 retries");
    assert!(attempts.iter().all(|a| a["acknowledged"] == false));
    let numbers: Vec<u64> = attempts
        .iter()
        .map(|a| a["number"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(numbers, (1..=16).collect::<Vec<_>>());
    // Nothing after giving up: `gave_up` is recorded after the last reply and is final.
    assert_eq!(rx.count(), 16);

    let at: Vec<i64> = attempts
        .iter()
        .map(|a| a["at_ms"].as_i64().expect("at_ms"))
        .collect();
    let gaps: Vec<f64> = at.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let scheduled: Vec<f64> = RETRY_SCHEDULE_SECS
        .iter()
        .map(|s| *s as f64 * 1000.0 * SCALE)
        .collect();
    assert_eq!(gaps.len(), scheduled.len());
    for (i, (gap, want)) in gaps.iter().zip(&scheduled).enumerate() {
        // A timer never fires early (at_ms is truncated to the millisecond)…
        assert!(
            *gap >= want - 2.0,
            "retry {}: {gap} ms < scheduled {want} ms ({gaps:?})",
            i + 1
        );
        // …and, allowing a loaded machine generous slack, not much later either.
        assert!(
            *gap <= want + 1500.0,
            "retry {}: {gap} ms ≫ scheduled {want} ms ({gaps:?})",
            i + 1
        );
    }
    // The long steps come in the documented order, in roughly the documented ratios:
    // 30 m (×3) → 60 m → 3 h (×3) → 6 h (×2).
    let mean = |r: std::ops::Range<usize>| gaps[r.clone()].iter().sum::<f64>() / r.len() as f64;
    let (m30, m60, h3, h6) = (mean(6..9), mean(9..10), mean(10..13), mean(13..15));
    assert!((1.3..2.7).contains(&(m60 / m30)), "60m/30m {gaps:?}");
    assert!((2.0..4.0).contains(&(h3 / m60)), "3h/60m {gaps:?}");
    assert!((1.4..2.6).contains(&(h6 / h3)), "6h/3h {gaps:?}");
}

#[tokio::test]
async fn v3_acknowledgement_is_200_or_204_and_replies_are_recorded() {
    let t = start().await;
    let rx = receiver_replying(vec![
        (500, "busy, try later".to_owned()),
        (202, String::new()),
        (201, "{\"code\":\"SUCCESS\"}".to_owned()),
        (204, String::new()),
    ])
    .await;
    t.paid_order("order_ack01", 100, &rx.url).await;
    let d = t
        .wait_for_delivery("order_ack01", 10, |d| d["status"] != "pending")
        .await;
    assert_eq!(d["status"], "acknowledged");
    assert_eq!(attempt_statuses(&d), vec![500, 202, 201, 204]);
    let attempts = d["attempts"].as_array().expect("attempts");
    let acks: Vec<bool> = attempts.iter().map(|a| a["acknowledged"] == true).collect();
    assert_eq!(acks, vec![false, false, false, true], "only 200/204 ack");
    assert_eq!(attempts[0]["reply"], "busy, try later");
    assert_eq!(attempts[2]["reply"], "{\"code\":\"SUCCESS\"}");
    assert!(attempts.iter().all(|a| a["error"].is_null()));
    // `acknowledged` is final once recorded: the receiver saw exactly the four attempts.
    assert_eq!(rx.count(), 4, "no attempt after the 204");
    // A merchant that cannot be reached: no status, the transport error recorded.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead_url = format!("http://{}/notify", closed.local_addr().expect("addr"));
    drop(closed);
    t.paid_order("order_ack02", 100, &dead_url).await;
    let d = t
        .wait_for_delivery("order_ack02", 10, |d| {
            d["attempts"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert!(d["attempts"][0]["status"].is_null(), "{d}");
    assert!(d["attempts"][0]["error"].is_string(), "{d}");
    assert_eq!(d["status"], "pending");
}

#[tokio::test]
async fn refund_fail_closes_it_and_releases_the_balance() {
    let t = start().await;
    let rx = receiver(vec![]).await;
    t.paid_order("order_rfl01", 500, &rx.url).await;
    t.paid_order("order_rfl02", 300, &rx.url).await;
    rx.wait_for(2).await;
    t.control(
        "POST",
        "/__sim/balance",
        Some(json!({"mchid": t.mchid, "fen": 500})),
    )
    .await;
    let refund = |otn: &str, orn: &str, amount: u64, total: u64| {
        json!({"out_trade_no": otn, "out_refund_no": orn, "notify_url": rx.url,
               "amount": {"refund": amount, "total": total, "currency": "CNY"}})
    };
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("order_rfl01", "rfl_1", 500, 500),
        )
        .await;
    assert_eq!(r.json()["status"], "PROCESSING", "{}", r.body);
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("order_rfl02", "rfl_2", 300, 300),
        )
        .await;
    assert_eq!(r.json()["code"], "NOT_ENOUGH", "the balance is spoken for");
    let (s, v) = t.control("POST", "/__sim/refunds/rfl_1/fail", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "CLOSED");
    let got = rx.wait_for(3).await;
    let d = verify_and_decrypt(
        &t.verifier,
        &signed_headers_of(&got[2]),
        &got[2].body,
        now(),
        &key(),
    )
    .expect("verify");
    assert_eq!(d.notification.event_type, EventType::RefundClosed);
    let p: Value = serde_json::from_str(&d.plaintext).expect("json");
    assert_eq!(p["refund_status"], "CLOSED");
    assert_eq!(p["out_refund_no"], "rfl_1");
    let q = t.call("GET", "/v3/refund/domestic/refunds/rfl_1", "").await;
    assert_eq!(q.json()["status"], "CLOSED");
    // The 500 fen are back: 300 for the other order, and the first order is refundable
    // again with what is left.
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("order_rfl02", "rfl_2", 300, 300),
        )
        .await;
    assert_eq!(r.json()["status"], "PROCESSING", "{}", r.body);
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("order_rfl01", "rfl_3", 200, 500),
        )
        .await;
    assert_eq!(r.json()["status"], "PROCESSING", "{}", r.body);
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("order_rfl01", "rfl_4", 1, 500),
        )
        .await;
    assert_eq!(r.json()["code"], "NOT_ENOUGH");
    // A closed refund is final.
    let (s, _) = t
        .control("POST", "/__sim/refunds/rfl_1/succeed", None)
        .await;
    assert_eq!(s, 409);
}
