//! Notification handling: duplicates and concurrency credit once; forged, tampered,
//! replayed, stale, wrong-serial and probe notifications change nothing.

use wxpay_core::v3::notification::EventType;
use wxpay_sim::config::AppKind;

use crate::helpers::{NotifySigning, TestApp};

fn success_count(audit: &[wxpay_server::store::AuditRow]) -> usize {
    audit.iter().filter(|a| a.to_state == "SUCCESS").count()
}

#[tokio::test]
async fn concurrent_copies_of_one_notification_credit_once() {
    let app = TestApp::spawn().await;
    let (_, no) = app.prepaid_order().await;
    let plaintext = app.transaction_plaintext(&no, 3000, &app.appid(AppKind::MiniProgram));
    let id = "EV-concurrent-0001".to_owned();
    let sends = (0..12).map(|_| {
        let signing = NotifySigning {
            id: Some(id.clone()),
            ..Default::default()
        };
        let plaintext = plaintext.clone();
        let app = &app;
        async move {
            app.send_v3_notification(
                "/notify/v3/pay",
                EventType::TransactionSuccess,
                &plaintext,
                &signing,
            )
            .await
        }
    });
    let results = futures_join_all(sends).await;
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    assert_eq!(app.stored(&no).await.state.as_str(), "SUCCESS");
    let audit = app.state.store.audit("order", &no).await.expect("audit");
    assert_eq!(success_count(&audit), 1, "{audit:?}");
    // A different notification id for the same payment (WeChat re-sends with a new id) is also harmless.
    let (status, _) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &NotifySigning::default(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        success_count(&app.state.store.audit("order", &no).await.expect("audit")),
        1
    );
    app.stop().await;
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    let mut out = Vec::with_capacity(set.len());
    // Drive them concurrently on this task.
    let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    for v in done.into_iter().flatten() {
        out.push(v);
    }
    out
}

#[tokio::test]
async fn simulator_duplicates_and_probes_are_handled() {
    let app = TestApp::spawn().await;
    let (_, no) = app.prepaid_order().await;
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        duplicate: 1,
        probe: 1,
        ..Default::default()
    });
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    app.wait_deliveries_settled(&no).await;
    let audit = app.state.store.audit("order", &no).await.expect("audit");
    assert_eq!(success_count(&audit), 1, "{audit:?}");
    let rows = app
        .state
        .store
        .notifications(Some(&no))
        .await
        .expect("rows");
    let all = app.state.store.notifications(None).await.expect("rows");
    assert!(
        all.iter().any(|r| r.verification == "bad_signature"),
        "the probe was rejected: {all:?}"
    );
    assert!(
        rows.iter().filter(|r| r.verification == "ok").count() >= 2,
        "{rows:?}"
    );
    let deliveries = app.control.deliveries();
    assert!(
        deliveries
            .iter()
            .filter(|d| d.out_trade_no == no)
            .all(|d| d.status == "acknowledged"),
        "{deliveries:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn amount_mismatch_is_rejected_and_recorded() {
    let app = TestApp::spawn().await;
    let (_, no) = app.prepaid_order().await;
    let plaintext = app.transaction_plaintext(&no, 1, &app.appid(AppKind::MiniProgram));
    let (status, body) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &NotifySigning::default(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"FAIL\""), "{body}");
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    let rows = app
        .state
        .store
        .notifications(Some(&no))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].processing, "rejected:amount_mismatch");
    app.stop().await;
}

#[tokio::test]
async fn tampered_stale_wrong_serial_and_foreign_notifications_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, no) = app.prepaid_order().await;
    let plaintext = app.transaction_plaintext(&no, 3000, &app.appid(AppKind::MiniProgram));
    let pay = EventType::TransactionSuccess;

    // Body altered after signing.
    let tampered = NotifySigning {
        tamper_body: Some(("test".into(), "tesT".into())),
        ..Default::default()
    };
    let (status, _) = app
        .send_v3_notification("/notify/v3/pay", pay.clone(), &plaintext, &tampered)
        .await;
    assert_eq!(status, 401);
    // Timestamp 10 minutes old (a replay from the past), and from the future.
    for skew in [-600, 600] {
        let stale = NotifySigning {
            skew,
            ..Default::default()
        };
        let (status, _) = app
            .send_v3_notification("/notify/v3/pay", pay.clone(), &plaintext, &stale)
            .await;
        assert_eq!(status, 401, "skew {skew}");
    }
    // Signed by a key WeChat never had, under an unknown serial and under the real serial.
    let rogue = crate::helpers::rogue_key_pem();
    for serial in [
        Some("0123456789ABCDEF0123456789ABCDEF01234567".to_owned()),
        None,
    ] {
        let forged = NotifySigning {
            key_pem: Some(rogue.clone()),
            serial,
            ..Default::default()
        };
        let (status, _) = app
            .send_v3_notification("/notify/v3/pay", pay.clone(), &plaintext, &forged)
            .await;
        assert_eq!(status, 401);
    }
    // No signature headers at all.
    let response = app
        .http
        .post(format!("{}/notify/v3/pay", app.url))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 401);
    // Correctly signed, but for another merchant.
    let mut foreign = plaintext.clone();
    foreign["mchid"] = serde_json::json!("1999999999");
    let (status, _) = app
        .send_v3_notification(
            "/notify/v3/pay",
            pay.clone(),
            &foreign,
            &NotifySigning::default(),
        )
        .await;
    assert_eq!(status, 400);

    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    assert_eq!(
        success_count(&app.state.store.audit("order", &no).await.expect("audit")),
        0
    );
    let all = app.state.store.notifications(None).await.expect("rows");
    assert!(
        all.len() >= 6,
        "every rejected notification is on file: {all:?}"
    );
    assert!(all.iter().any(|r| r.verification == "timestamp_skew"));
    assert!(all.iter().any(|r| r.verification == "unknown_serial"));

    // The genuine one still works afterwards, and replaying it is a harmless duplicate.
    let genuine = NotifySigning {
        id: Some("EV-genuine-1".into()),
        ..Default::default()
    };
    let (status, _) = app
        .send_v3_notification("/notify/v3/pay", pay.clone(), &plaintext, &genuine)
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .send_v3_notification("/notify/v3/pay", pay, &plaintext, &genuine)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        success_count(&app.state.store.audit("order", &no).await.expect("audit")),
        1
    );
    // Each row keeps the id its body claimed, whether it was refused before it verified
    // (read from the raw body) or applied (read from the parsed notification); the body
    // without signature headers claimed none.
    let all = app.state.store.notifications(None).await.expect("rows");
    let genuine: Vec<_> = all
        .iter()
        .filter(|r| r.claimed_id.as_deref() == Some("EV-genuine-1"))
        .collect();
    assert_eq!(
        genuine.len(),
        2,
        "the applied one and its duplicate: {all:?}"
    );
    let refused = all.iter().filter(|r| r.verification != "ok");
    assert!(
        refused
            .clone()
            .all(|r| r.claimed_id.is_none() == (r.body_len == 2)),
        "{all:?}"
    );
    assert!(refused.count() >= 5, "{all:?}");
    app.stop().await;
}

#[tokio::test]
async fn public_key_mode_verifies_responses_and_notifications() {
    let app = TestApp::spawn_with(wxpay_server::config::VerifyMode::PublicKey).await;
    app.control
        .set_signing_mode(wxpay_sim::config::SigningMode::PublicKey);
    let (_, no) = app.prepaid_order().await;
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    // A certificate-signed notification is not accepted in pure public-key mode.
    let plaintext = app.transaction_plaintext(&no, 3000, &app.appid(AppKind::MiniProgram));
    let (status, _) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &NotifySigning::default(),
        )
        .await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn certificate_rotation_and_switch_to_public_key_mode_without_a_failed_request() {
    let app = TestApp::spawn_with(wxpay_server::config::VerifyMode::Both).await;
    let (token, _) = app.login_miniprogram().await;
    let new_serial = app.control.rotate_platform(true).await.expect("rotate");
    // The next response is signed by a certificate the server has not seen: it refreshes.
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "native").await;
    assert_eq!(status, 200, "{body}");
    assert!(app
        .state
        .v3
        .knows_serial(&wxpay_core::SerialNo::new(new_serial).expect("serial")));
    app.control
        .set_signing_mode(wxpay_sim::config::SigningMode::PublicKey);
    let no2 = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no2, "native").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no2, None).expect("pay");
    app.wait_state(&no2, "SUCCESS").await;
    app.stop().await;
}

#[tokio::test]
async fn a_pay_notification_under_another_of_our_appids_changes_nothing() {
    let app = TestApp::spawn().await;
    // Prepaid under the mini-program; the notification names the official account, which
    // is ours too but not this order's.
    let (_, no) = app.prepaid_order().await;
    let other_app = app.appid(AppKind::OfficialAccount);
    assert_ne!(other_app, app.appid(AppKind::MiniProgram));
    let plaintext = app.transaction_plaintext(&no, 3000, &other_app);
    let (status, body) = app
        .send_v3_notification(
            "/notify/v3/pay",
            EventType::TransactionSuccess,
            &plaintext,
            &NotifySigning::default(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("appid_mismatch"), "{body}");
    assert_eq!(app.stored(&no).await.state.as_str(), "NOTPAY");
    assert_eq!(
        success_count(&app.state.store.audit("order", &no).await.expect("audit")),
        0
    );
    let rows = app
        .state
        .store
        .notifications(Some(&no))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].processing, "rejected:appid_mismatch");
    app.stop().await;
}

/// A paid order with a 1000 fen refund WeChat holds PROCESSING: (order, out_refund_no).
async fn order_with_processing_refund(app: &TestApp) -> (String, String) {
    let (_, no) = app.prepaid_order().await;
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    let (status, refund) = app
        .refund(&no, serde_json::json!({ "amount_fen": 1000 }))
        .await;
    assert_eq!(status, 200, "{refund}");
    let out_refund_no = refund["out_refund_no"].as_str().expect("no").to_owned();
    (no, out_refund_no)
}

fn refund_plaintext(
    app: &TestApp,
    no: &str,
    out_refund_no: &str,
    refund: i64,
) -> serde_json::Value {
    serde_json::json!({
        "mchid": app.mchid(), "transaction_id": "4200000000202501010000000001",
        "out_trade_no": no, "refund_id": "50000000382019052709732678859",
        "out_refund_no": out_refund_no, "refund_status": "SUCCESS",
        "success_time": "2025-01-01T00:00:00+08:00", "user_received_account": "支付用户零钱",
        "amount": { "total": 3000, "refund": refund, "payer_total": 3000, "payer_refund": refund }
    })
}

#[tokio::test]
async fn tampered_wrong_amount_and_foreign_order_refund_notifications_change_nothing() {
    let app = TestApp::spawn().await;
    let (no, out_refund_no) = order_with_processing_refund(&app).await;
    let (other, _) = order_with_processing_refund(&app).await;
    let audit_before = (
        app.state
            .store
            .audit("refund", &out_refund_no)
            .await
            .expect("audit"),
        app.state.store.audit("order", &no).await.expect("audit"),
        app.state.store.audit("order", &other).await.expect("audit"),
    );
    let event = EventType::RefundSuccess;
    let path = "/notify/v3/refund";
    let genuine = refund_plaintext(&app, &no, &out_refund_no, 1000);

    // Body altered after signing.
    let tampered = NotifySigning {
        tamper_body: Some(("test".into(), "tesT".into())),
        ..Default::default()
    };
    let (status, _) = app
        .send_v3_notification(path, event.clone(), &genuine, &tampered)
        .await;
    assert_eq!(status, 401);

    // Correctly signed, but each lies about one thing.
    let wrong_amount = refund_plaintext(&app, &no, &out_refund_no, 3000);
    let foreign_order = refund_plaintext(&app, &other, &out_refund_no, 1000);
    let unknown_refund = refund_plaintext(&app, &no, "RF-never-made", 1000);
    let mut foreign_merchant = genuine.clone();
    foreign_merchant["mchid"] = serde_json::json!("1999999999");
    for (lie, reason) in [
        (&wrong_amount, "amount_mismatch"),
        (&foreign_order, "out_trade_no_mismatch"),
        (&unknown_refund, "unknown_refund"),
        (&foreign_merchant, "mchid_mismatch"),
    ] {
        let (status, body) = app
            .send_v3_notification(path, event.clone(), lie, &NotifySigning::default())
            .await;
        assert_eq!(status, 400, "{reason}: {body}");
        assert!(body.contains(reason), "{reason}: {body}");
    }

    // Nothing changed: the refund, both orders and their audit trails.
    let refund = app
        .state
        .store
        .refund(&out_refund_no)
        .await
        .expect("store")
        .expect("refund");
    assert_eq!(refund.status.to_string(), "PROCESSING");
    for order in [&no, &other] {
        let stored = app.stored(order).await;
        assert_eq!((stored.state.as_str(), stored.refunded_fen), ("SUCCESS", 0));
    }
    let audit_after = (
        app.state
            .store
            .audit("refund", &out_refund_no)
            .await
            .expect("audit"),
        app.state.store.audit("order", &no).await.expect("audit"),
        app.state.store.audit("order", &other).await.expect("audit"),
    );
    assert_eq!(audit_before, audit_after);
    let rows = app.state.store.notifications(None).await.expect("rows");
    for reason in ["amount_mismatch", "out_trade_no_mismatch", "unknown_refund"] {
        assert!(
            rows.iter()
                .any(|r| r.kind == "v3_refund" && r.processing == format!("rejected:{reason}")),
            "{reason} on file: {rows:?}"
        );
    }

    // The genuine notification still completes the refund.
    let (status, body) = app
        .send_v3_notification(path, event, &genuine, &NotifySigning::default())
        .await;
    assert_eq!(status, 200, "{body}");
    let order = app.stored(&no).await;
    assert_eq!((order.state.as_str(), order.refunded_fen), ("REFUND", 1000));
    app.stop().await;
}

/// Sends `size` bytes to `path` as a chunked body (no `Content-Length`, so the body-limit
/// layer lets it through and the handler's extractor refuses it), reading the answer while
/// writing; returns (status, content type, body).
async fn post_chunked(
    port: u16,
    path: &str,
    content_type: &str,
    size: usize,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let write = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 8 * 1024];
        let mut sent = 0;
        while sent < size {
            writer
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            writer.write_all(&chunk).await?;
            writer.write_all(b"\r\n").await?;
            sent += chunk.len();
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw).await;
    // The server may answer and close before the whole body is written.
    let _ = write.await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

fn assert_v3_failure(path: &str, status: u16, content_type: &str, body: &str) {
    assert_eq!(status, 413, "{path}: {body}");
    assert!(
        content_type.starts_with("application/json"),
        "{path}: {content_type}"
    );
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(body["code"], "FAIL", "{path}: {body}");
    assert!(body["message"].is_string(), "{path}: {body}");
    assert!(body.get("error").is_none(), "{path}: {body}");
}

fn assert_v2_failure(path: &str, status: u16, content_type: &str, body: &str) {
    assert_eq!(status, 413, "{path}: {body}");
    assert!(
        content_type.starts_with("text/xml"),
        "{path}: {content_type}"
    );
    let fields = wxpay_core::v2::xml::parse(body.as_bytes(), wxpay_core::v2::xml::DEFAULT_MAX_LEN)
        .expect("XML");
    assert_eq!(
        fields.get("return_code").map(String::as_str),
        Some("FAIL"),
        "{path}: {body}"
    );
    assert!(
        fields.get("return_msg").is_some_and(|m| !m.is_empty()),
        "{path}: {body}"
    );
}

/// A body past `server.body_limit_bytes` (64 KiB), announced by `Content-Length` (refused
/// by the limit layer before the handler) or streamed chunked (refused by the handler's
/// extractor), is answered in the notification protocol's own failure shape: v3
/// `{"code":"FAIL","message"}`, v2 XML `FAIL`, both 413 so WeChat retries. The frontend API
/// keeps its one JSON shape.
#[tokio::test]
async fn oversized_notifications_are_refused_in_their_protocols_failure_shape() {
    let app = TestApp::spawn().await;
    let size = 200 * 1024;
    let cases = [
        ("/notify/v3/pay", "application/json", true),
        ("/notify/v3/refund", "application/json", true),
        ("/notify/v2/pay", "text/xml", false),
        ("/notify/v2/refund", "text/xml", false),
        ("/notify/v2/native-callback", "text/xml", false),
    ];
    for (path, content_type, v3) in cases {
        let check = if v3 {
            assert_v3_failure
        } else {
            assert_v2_failure
        };
        let response = app
            .http
            .post(format!("{}{path}", app.url))
            .header("content-type", content_type)
            .body("x".repeat(size))
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        let answered_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.expect("body");
        check(path, status, &answered_type, &body);

        let (status, answered_type, body) =
            post_chunked(app.port(), path, content_type, 80 * 1024).await;
        check(path, status, &answered_type, &body);
    }
    assert_eq!(app.count_rows("notifications").await, 0);

    let (token, _) = app.login_miniprogram().await;
    let response = app
        .http
        .post(format!("{}/api/orders", app.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("x".repeat(size))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 413);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "body_too_large", "{body}");
    app.stop().await;
}
