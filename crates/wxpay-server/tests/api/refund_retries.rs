//! A refund whose outcome WeChat left open (5xx, `SYSTEM_ERROR`, v2 `SYSTEMERROR` /
//! `BIZERR_NEED_RETRY`) stays PROCESSING with its amount reserved: no second refund can
//! exceed what was paid, and the reconciliation worker finishes it under the same
//! out_refund_no, whether or not WeChat had executed the first request.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use serde_json::{json, Value};
use wxpay_core::v2::sign::{sign_into, ApiV2Key, SignType};
use wxpay_core::v2::xml;
use wxpay_server::config::{VerifyMode, WorkerSettings};
use wxpay_server::store::Refund;

use crate::helpers::TestApp;

/// A paid order (3000 fen) of a fresh payer, prepaid through `api_version`.
async fn paid_order(app: &TestApp, api_version: &str) -> String {
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app
        .post(
            &format!("/api/orders/{no}/pay"),
            Some(&token),
            json!({ "channel": "miniprogram", "api_version": api_version }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    app.wait_state(&no, "SUCCESS").await;
    no
}

async fn stored_refund(app: &TestApp, out_refund_no: &str) -> Refund {
    app.state
        .store
        .refund(out_refund_no)
        .await
        .expect("store")
        .expect("refund")
}

/// The refunds the simulator (WeChat) holds for `out_trade_no`.
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

/// Asserts the whole paid amount is spoken for: even 1 fen more is refused.
async fn assert_nothing_left_to_refund(app: &TestApp, no: &str) {
    let (status, body) = app.refund(no, json!({ "amount_fen": 1 })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("refund_exceeds_paid")),
        "{body}"
    );
}

/// WeChat finishes the refund but its notification is lost; a worker pass (later than the
/// previous pass's lease) learns it by querying.
async fn worker_learns_success(app: &TestApp, no: &str, out_refund_no: &str) {
    app.control.notify_faults(wxpay_sim::faults::NotifyFaults {
        drop: 1,
        ..Default::default()
    });
    app.control
        .refund_action(Some(app.mchid()), out_refund_no, "succeed")
        .expect("WeChat holds the refund");
    app.assert_notification_dropped(no).await;
    assert_eq!(
        stored_refund(app, out_refund_no).await.status.to_string(),
        "PROCESSING",
        "the notification was dropped"
    );
    let later = app.state.clock.now() + WorkerSettings::default().lease_secs + 1;
    let report = wxpay_server::worker::run_pass_at(&app.state, "w-late", later)
        .await
        .expect("pass");
    assert!(report.refunds_checked >= 1, "{report:?}");
    assert_eq!(
        stored_refund(app, out_refund_no).await.status.to_string(),
        "SUCCESS"
    );
    let order = app.stored(no).await;
    assert_eq!((order.state.as_str(), order.refunded_fen), ("REFUND", 3000));
    assert_eq!(sim_refunds(app, no).await.len(), 1, "refunded exactly once");
}

#[tokio::test]
async fn a_v3_refund_answered_5xx_stays_reserved_and_the_worker_completes_it() {
    let app = TestApp::spawn().await;
    let no = paid_order(&app, "v3").await;
    // More 5xx answers than the client's 1 + max_retries attempts.
    let attempts = app.state.settings.upstream.max_retries + 1;
    app.arm_fault("v3.refund", "system_error", attempts).await;
    let (status, refund) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(
        status, 200,
        "the caller learns the refund to follow: {refund}"
    );
    assert_eq!(refund["status"], "PROCESSING", "{refund}");
    assert_eq!(app.faults_left("v3.refund").await, 0);
    let out_refund_no = refund["out_refund_no"].as_str().expect("no").to_owned();
    assert!(
        sim_refunds(&app, &no).await.is_empty(),
        "WeChat never got it"
    );
    assert_nothing_left_to_refund(&app, &no).await;

    // The worker finds nothing at WeChat (RESOURCE_NOT_EXISTS) and sends it again under the
    // same number.
    let report = wxpay_server::worker::run_pass(&app.state, "w1")
        .await
        .expect("pass");
    assert_eq!(report.refunds_checked, 1, "{report:?}");
    let at_wechat = sim_refunds(&app, &no).await;
    assert_eq!(at_wechat.len(), 1, "{at_wechat:?}");
    assert_eq!(at_wechat[0]["out_refund_no"], out_refund_no.as_str());
    assert_nothing_left_to_refund(&app, &no).await;

    worker_learns_success(&app, &no, &out_refund_no).await;
    app.stop().await;
}

/// What the front in [`FlakySecapi`] does with the next refund requests, in order.
#[derive(Debug, Clone, Copy)]
enum Front {
    /// Pass the request to WeChat, then answer `result_code` FAIL with this `err_code` (the
    /// refund was executed, the merchant is told to retry).
    ForwardThenFail(&'static str),
    /// Answer `result_code` FAIL with this `err_code` without passing the request on.
    Fail(&'static str),
}

/// Where the front passes requests on: the simulator's mutual-TLS listener, with the
/// merchant's client certificate.
struct Upstream {
    url: String,
    http: reqwest::Client,
}

#[derive(Clone)]
struct FrontState {
    script: Arc<Mutex<Vec<Front>>>,
    upstream: Arc<Mutex<Option<Upstream>>>,
    key: Arc<Mutex<Option<ApiV2Key>>>,
}

/// A stand-in for WeChat's `/secapi/pay/refund` front end that answers scripted signed
/// `result_code` FAIL replies (the simulator's faults only produce `return_code` FAIL) and
/// otherwise forwards to the simulator, which does the actual refund.
struct FlakySecapi {
    url: String,
    state: FrontState,
}

impl FlakySecapi {
    async fn start() -> Self {
        let state = FrontState {
            script: Arc::default(),
            upstream: Arc::default(),
            key: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/secapi/pay/refund", axum::routing::post(front_refund))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, state }
    }

    fn script(&self, steps: &[Front]) {
        self.state
            .script
            .lock()
            .expect("script")
            .extend_from_slice(steps);
    }
}

async fn forward(state: &FrontState, body: Bytes) -> String {
    let (url, http) = {
        let upstream = state.upstream.lock().expect("upstream");
        let upstream = upstream.as_ref().expect("upstream configured");
        (upstream.url.clone(), upstream.http.clone())
    };
    http.post(format!("{url}/secapi/pay/refund"))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .expect("forward")
        .text()
        .await
        .expect("forward body")
}

async fn front_refund(State(state): State<FrontState>, body: Bytes) -> String {
    let step = {
        let mut script = state.script.lock().expect("script");
        (!script.is_empty()).then(|| script.remove(0))
    };
    let err_code = match step {
        None => return forward(&state, body).await,
        Some(Front::ForwardThenFail(code)) => {
            forward(&state, body.clone()).await;
            code
        }
        Some(Front::Fail(code)) => code,
    };
    let request = xml::parse(&body, xml::DEFAULT_MAX_LEN).expect("request xml");
    let mut reply = std::collections::BTreeMap::new();
    for (k, v) in [
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("result_code", "FAIL"),
        ("err_code", err_code),
        ("err_code_des", "System Error"),
        ("nonce_str", "2yIv2hV7Sg13d92m"),
    ] {
        reply.insert(k.to_owned(), v.to_owned());
    }
    for name in ["appid", "mch_id"] {
        reply.insert(
            name.to_owned(),
            request.get(name).cloned().unwrap_or_default(),
        );
    }
    let key = state
        .key
        .lock()
        .expect("key")
        .clone()
        .expect("key configured");
    sign_into(&mut reply, &key, SignType::HmacSha256);
    xml::to_xml(reply.iter()).expect("reply xml")
}

#[tokio::test]
async fn a_v2_refund_answered_systemerror_stays_reserved_and_the_worker_completes_it() {
    let front = FlakySecapi::start().await;
    let front_url = front.url.clone();
    let front_state = front.state.clone();
    let app = TestApp::spawn_tweaked(VerifyMode::Certificate, true, move |settings, sim| {
        // The server's /secapi/ calls go through the front; the front reaches the
        // simulator's mutual-TLS listener as the server would.
        let merchant = settings.merchant.as_ref().expect("merchant");
        let identity = merchant
            .client_cert_pem
            .as_ref()
            .expect("client cert")
            .load()
            .expect("identity");
        let root = settings
            .upstream
            .tls_root_pem
            .as_ref()
            .expect("sim CA")
            .load()
            .expect("root");
        let http = wxpay_server::upstream::v2::mutual_tls_client(
            identity.expose(),
            Some(root.expose()),
            std::time::Duration::from_secs(5),
        )
        .expect("mutual-TLS client");
        let key = merchant
            .apiv2_key
            .as_ref()
            .expect("v2 key")
            .load()
            .expect("v2 key");
        *front_state.key.lock().expect("key") =
            Some(ApiV2Key::new(key.expose().as_str()).expect("v2 key"));
        *front_state.upstream.lock().expect("upstream") = Some(Upstream {
            url: sim.tls_base_url().expect("tls listener"),
            http,
        });
        settings.upstream.secapi_base_url = Some(front_url);
    })
    .await;

    // 1. WeChat executed the refund but answered SYSTEMERROR: the refund must stay
    //    reserved, or a second refund of the same money could be created meanwhile.
    let no = paid_order(&app, "v2").await;
    front.script(&[Front::ForwardThenFail("SYSTEMERROR")]);
    let (status, refund) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["status"], "PROCESSING", "{refund}");
    let out_refund_no = refund["out_refund_no"].as_str().expect("no").to_owned();
    assert_eq!(sim_refunds(&app, &no).await.len(), 1, "WeChat executed it");
    assert_nothing_left_to_refund(&app, &no).await;
    let report = wxpay_server::worker::run_pass(&app.state, "w1")
        .await
        .expect("pass");
    assert_eq!(report.refunds_checked, 1, "{report:?}");
    assert_eq!(
        stored_refund(&app, &out_refund_no).await.status.to_string(),
        "PROCESSING"
    );
    worker_learns_success(&app, &no, &out_refund_no).await;

    // 2. BIZERR_NEED_RETRY before WeChat did anything: reserved, and the worker's
    //    resubmission (same number, through the front again) is what reaches WeChat.
    let no = paid_order(&app, "v2").await;
    front.script(&[Front::Fail("BIZERR_NEED_RETRY")]);
    let (status, refund) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(
        (status, refund["status"].as_str()),
        (200, Some("PROCESSING"))
    );
    let out_refund_no = refund["out_refund_no"].as_str().expect("no").to_owned();
    assert!(sim_refunds(&app, &no).await.is_empty());
    assert_nothing_left_to_refund(&app, &no).await;
    wxpay_server::worker::run_pass(&app.state, "w2")
        .await
        .expect("pass");
    let at_wechat = sim_refunds(&app, &no).await;
    assert_eq!(at_wechat.len(), 1, "{at_wechat:?}");
    assert_eq!(at_wechat[0]["out_refund_no"], out_refund_no.as_str());
    worker_learns_success(&app, &no, &out_refund_no).await;

    // 3. A final refusal still releases the amount.
    let no = paid_order(&app, "v2").await;
    front.script(&[Front::Fail("NOTENOUGH")]);
    let (status, body) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(status, 502, "{body}");
    let (status, refund) = app.refund(&no, json!({ "amount_fen": 3000 })).await;
    assert_eq!(
        (status, refund["status"].as_str()),
        (200, Some("PROCESSING"))
    );
    app.stop().await;
}
