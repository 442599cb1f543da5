//! The application's life: a graceful shutdown drains what is in flight, then refuses
//! connections and frees its port (also for a stop sent before it runs, and for SIGTERM to
//! the binary); upstream timeouts are answered promptly in the one error shape and leave
//! the order payable.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wxpay_server::app::Application;
use wxpay_server::config::VerifyMode;

use crate::helpers::TestApp;

/// Whether a TCP connection to `port` on the loopback is accepted.
async fn accepts(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// Polls `probe` every 10 ms until it is true or `limit` has passed.
async fn eventually<F, Fut>(limit: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    probe().await
}

#[tokio::test]
async fn shutdown_drains_an_in_flight_pay_then_refuses_connections_and_frees_the_port() {
    let mut app = TestApp::spawn().await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let port = app.port();

    // WeChat is slow: the prepay call the next pay request makes takes 3 s.
    app.arm_fault_delayed("v3.jsapi", "latency", 1, Some(3_000))
        .await;
    let in_flight = tokio::spawn({
        let request = reqwest::Client::new()
            .post(format!("{}/api/orders/{no}/pay", app.url))
            .bearer_auth(&token)
            .json(&json!({ "channel": "miniprogram" }));
        async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            Ok::<_, reqwest::Error>((status, response.json::<Value>().await?))
        }
    });
    // The simulator took the fault: the server's prepay call is under way.
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.faults_left("v3.jsapi").await == 0
        })
        .await,
        "the pay request never reached the simulator"
    );

    app.stop_server();
    // The listener is closed at once (the test client's idle keep-alive connection does
    // not hold the drain up either), while the request already accepted goes on.
    assert!(
        eventually(Duration::from_secs(2), || async { !accepts(port).await }).await,
        "new connections are still accepted after the stop"
    );
    assert!(!in_flight.is_finished(), "the in-flight request was cut");
    assert!(
        !app.server_finished(),
        "the server returned before draining"
    );

    let (status, body) = in_flight
        .await
        .expect("request task")
        .expect("the in-flight request got an answer");
    assert_eq!(status, 200, "{body}");
    let package = body["params"]["package"].as_str().unwrap_or_default();
    let prepay_id = package
        .strip_prefix("prepay_id=")
        .expect("a prepay package");
    tokio::time::timeout(Duration::from_secs(5), app.join_server())
        .await
        .expect("the server returned once drained")
        .expect("serve ended cleanly");
    assert_eq!(
        app.stored(&no).await.prepay_id.as_deref(),
        Some(prepay_id),
        "the prepay handed out was persisted"
    );

    assert!(!accepts(port).await, "connections refused after shutdown");
    let rebound = std::net::TcpListener::bind(("127.0.0.1", port));
    assert!(rebound.is_ok(), "the port is free again: {rebound:?}");
    drop(rebound);
    app.stop().await;
}

#[tokio::test]
async fn a_request_that_never_finishes_cannot_hold_the_stop_past_the_grace_period() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.server.shutdown_grace_secs = 1;
    })
    .await;
    // Two clients send half a request each. One finishes its body after the stop: a stop
    // drains requests in flight, so it is answered. The other stalls for good (slowloris):
    // its connection is neither idle nor answered, so a plain drain would wait for it
    // forever, and the grace period must end the stop anyway.
    let mut finishing = half_a_request(app.port()).await;
    let stalled = half_a_request(app.port()).await;

    app.stop_server();
    assert!(!app.server_finished(), "requests in flight hold the stop");
    finishing
        .write_all(&[b' '; 99])
        .await
        .expect("write the rest of the body");
    let mut answer = Vec::new();
    finishing
        .read_to_end(&mut answer)
        .await
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("HTTP/1.1 401"),
        "a request in flight is still served during the stop: {answer}"
    );
    tokio::time::timeout(Duration::from_secs(10), app.join_server())
        .await
        .expect("the stop gave up on the stalled request after the grace period")
        .expect("serve ended");
    drop(stalled);
    app.stop().await;
}

/// Connects, sends the head of a notification with `Expect: 100-continue` and one byte of
/// its 100-byte body, and returns once the server has asked for the body (`100 Continue`):
/// from then on the request is in flight.
async fn half_a_request(port: u16) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream
        .write_all(
            b"POST /notify/v3/pay HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\
              Connection: close\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .expect("write the head");
    let mut heard = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&heard).contains("100 Continue") {
            let mut chunk = [0u8; 256];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed before 100 Continue: {heard:?}");
            heard.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("the server asks for the body");
    stream
        .write_all(b"{")
        .await
        .expect("write a byte of the body");
    stream
}

#[tokio::test]
async fn a_stop_sent_before_the_server_runs_is_not_lost() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = app.state.settings.clone();
    settings.server.port = 0;
    settings.database.url = format!("sqlite://{}", dir.path().join("second.db").display());
    let second = Application::build(settings).await.expect("second server");
    let port = second.port();
    second
        .stop_handle()
        .send(true)
        .expect("the stop handle is heard");
    tokio::time::timeout(Duration::from_secs(5), second.run_until_stopped())
        .await
        .expect("a stopped server returns")
        .expect("serve ended cleanly");
    assert!(!accepts(port).await);
    app.stop().await;
}

/// `wxpay-server --demo`, SIGTERM'd as a service manager or container
/// runtime stops it: it shuts down gracefully and exits 0.
#[cfg(unix)]
#[tokio::test]
async fn the_binary_stops_gracefully_on_sigterm() {
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxpay-server"));
    command
        .arg("--demo")
        .current_dir(dir.path())
        .env_clear()
        .env("WXPAY_SERVER__PORT", "0")
        .env(
            "WXPAY_DATABASE__URL",
            format!("sqlite://{}", dir.path().join("bin.db").display()),
        )
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let (mut child, url) = crate::process::start_server_binary(&mut command).await;
    let health = reqwest::get(format!("{url}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    })
    .await
    .expect("waiter")
    .expect("the server exited after SIGTERM");
    assert!(status.success(), "exit after SIGTERM: {status:?}");
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}

#[tokio::test]
async fn an_upstream_timeout_is_a_prompt_typed_503_and_the_order_stays_payable() {
    // Each attempt may take 400 ms; idempotent calls get one retry, one-shot calls none.
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, false, |settings, _| {
        settings.upstream.timeout_ms = 400;
        settings.upstream.max_retries = 1;
        settings.upstream.backoff_ms = 10;
    })
    .await;
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;

    // WeChat holds every prepay for 10 s: far past the server's timeout.
    app.arm_fault_delayed("v3.jsapi", "timeout", 5, Some(10_000))
        .await;
    // Answered while WeChat still holds the request: the server's own timeout decided.
    let (status, body) =
        tokio::time::timeout(Duration::from_secs(8), app.pay(&token, &no, "miniprogram"))
            .await
            .expect("answered before WeChat let go of the prepay");
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["error"]["code"].as_str(),
        Some("upstream_unavailable"),
        "{body}"
    );
    assert!(body["error"]["message"].is_string(), "{body}");
    // A prepay is keyed by out_trade_no (the same number and fields give the same prepay),
    // so it counts as idempotent: the first attempt and one retry, no more.
    assert_eq!(app.faults_left("v3.jsapi").await, 3, "two attempts");
    let stored = app.stored(&no).await;
    assert_eq!(stored.state.as_str(), "NOTPAY");
    assert_eq!(stored.prepay_id, None, "nothing was handed out");
    let (status, view) = app.get(&format!("/api/orders/{no}"), Some(&token)).await;
    assert_eq!(
        (status, view["state"].as_str()),
        (200, Some("NOTPAY")),
        "{view}"
    );

    // The fault clears: the same order is paid.
    app.control.clear_faults();
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    app.payer_pays("miniprogram", &no, &body["params"]);
    app.wait_state(&no, "SUCCESS").await;

    // A one-shot call (a login code is single-use) is never repeated after a timeout.
    app.arm_fault_delayed("login.jscode2session", "timeout", 3, Some(10_000))
        .await;
    let (code, _) = app
        .control
        .mint_login_code(&app.appid(wxpay_sim::config::AppKind::MiniProgram), None)
        .expect("code");
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(8),
        app.post("/api/login/miniprogram", None, json!({ "code": code })),
    )
    .await
    .expect("answered before WeChat let go of the login");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("upstream_unavailable")),
        "{body}"
    );
    assert_eq!(
        app.faults_left("login.jscode2session").await,
        2,
        "exactly one attempt"
    );
    app.stop().await;
}

/// `WXPAY_LOG_FORMAT=json`: every log line is one JSON object a collector can read.
#[cfg(unix)]
#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxpay-server"))
        .arg("--demo")
        .current_dir(dir.path())
        .env_clear()
        .env("WXPAY_SERVER__PORT", "0")
        .env(
            "WXPAY_DATABASE__URL",
            format!("sqlite://{}", dir.path().join("bin.db").display()),
        )
        .env("RUST_LOG", "info")
        .env("WXPAY_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wxpay-server");
    let stdout = child.stdout.take().expect("stdout");
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let listening = line.starts_with("wxpay-server listening on ");
            seen.push(line);
            if listening {
                break;
            }
        }
        seen
    })
    .await
    .expect("reader");
    let _ = child.kill();
    let _ = child.wait();
    let logs: Vec<&String> = lines
        .iter()
        .filter(|l| !l.starts_with("wxpay-server listening on ") && !l.trim().is_empty())
        .collect();
    assert!(!logs.is_empty(), "the server logged at start-up: {lines:?}");
    for line in logs {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            entry["level"].is_string() && entry["fields"].is_object(),
            "{line}"
        );
    }
}
