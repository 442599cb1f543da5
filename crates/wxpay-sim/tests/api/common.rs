//! Shared fixtures: one generated universe for the whole test binary, a fresh simulator per
//! test, a signing client built on the core, and a merchant notification receiver.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use wxpay_core::keys::{Certificate, PrivateKey, PublicKey};
use wxpay_core::v3::authorization::{Authorization, RequestParts};
use wxpay_core::v3::verify::{SignedHeaders, Verifier, VerifyError};
use wxpay_core::{MchId, SerialNo};
use wxpay_sim::{RunningSim, SimConfig, Simulator, Universe};

pub fn universe() -> &'static Universe {
    static U: OnceLock<Universe> = OnceLock::new();
    U.get_or_init(|| Universe::generate().expect("generate universe"))
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Polls `check` until it holds, for at most `within`; panics naming `what` otherwise. For
/// waiting on an event (a delivery recorded, a token expired) instead of sleeping.
pub async fn wait_until<F, Fut>(within: std::time::Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub struct TestSim {
    pub sim: RunningSim,
    pub http: reqwest::Client,
    pub key: PrivateKey,
    pub mchid: String,
    pub serial: String,
    pub verifier: Verifier,
}

pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    pub fn signed_headers(&self) -> Result<SignedHeaders, VerifyError> {
        SignedHeaders::from_lookup(|n| self.header(n))
    }
}

pub fn base_config() -> SimConfig {
    let mut c = universe().sim_config();
    c.time_scale = 0.001;
    c
}

pub async fn start() -> TestSim {
    start_with(base_config()).await
}

/// The payer of [`TestSim::jsapi_body`], a mini-program user.
pub const MP_PAYER: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
/// The payer of the v2 tests' JSAPI orders, an official-account user.
pub const OA_PAYER: &str = "oV2user";

pub async fn start_with(config: SimConfig) -> TestSim {
    let u = universe();
    let sim = Simulator::start(config).await.expect("start simulator");
    // The fixed payers of the helpers are users the simulator issued (an openid belongs to
    // one app): what a login through that app would have given the merchant.
    let control = sim.control();
    for (kind, openid) in [
        (wxpay_sim::config::AppKind::MiniProgram, MP_PAYER),
        (wxpay_sim::config::AppKind::OfficialAccount, OA_PAYER),
    ] {
        if let Some(appid) = u.appid(kind) {
            if kind == wxpay_sim::config::AppKind::MiniProgram {
                control.mint_login_code(appid, Some(openid.into()))
            } else {
                control.mint_oauth_code(appid, Some(openid.into()), None)
            }
            .expect("register the helpers' payer");
        }
    }
    let mut verifier = Verifier::new();
    verifier.add_certificate(Certificate::from_pem(&u.platform.cert_pem).expect("platform cert"));
    verifier.add_public_key(
        SerialNo::new(u.public_key_id.clone()).expect("key id"),
        PublicKey::from_spki_pem(&u.public_key_pem).expect("public key"),
    );
    TestSim {
        sim,
        http: reqwest::Client::new(),
        key: PrivateKey::from_pkcs8_pem(&u.merchant.key_pem).expect("merchant key"),
        mchid: u.mchid.clone(),
        serial: u.merchant.serial.clone(),
        verifier,
    }
}

impl TestSim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.base_url(), path)
    }

    pub fn authorization(&self, method: &str, path: &str, body: &str, ts: i64) -> String {
        let parts = RequestParts {
            method,
            canonical_url: path,
            timestamp: ts,
            nonce: "0123456789ABCDEFGHIJ0123456789ab",
            body: body.as_bytes(),
        };
        Authorization::sign(
            &self.key,
            &MchId::new(self.mchid.clone()).expect("mchid"),
            &SerialNo::new(self.serial.clone()).expect("serial"),
            &parts,
        )
        .expect("sign")
        .to_header_value()
    }

    /// A raw request with an optional Authorization header value.
    pub async fn raw(&self, method: &str, path: &str, body: &str, auth: Option<String>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(m, self.url(path))
            .header("accept", "application/json");
        if !body.is_empty() {
            req = req
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.expect("body");
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A correctly signed v3 call whose response signature must verify.
    pub async fn call(&self, method: &str, path: &str, body: &str) -> Resp {
        let resp = self
            .raw(
                method,
                path,
                body,
                Some(self.authorization(method, path, body, now())),
            )
            .await;
        self.assert_signed(&resp);
        resp
    }

    pub fn assert_signed(&self, resp: &Resp) {
        let headers = resp.signed_headers().expect("Wechatpay-* headers present");
        self.verifier
            .verify(&headers, resp.body.as_bytes(), now())
            .expect("response signature verifies");
    }

    /// An answer WeChat gives before it has verified the request: no `Wechatpay-*` header
    /// at all (A.3), but still a `Request-ID`.
    pub fn assert_unsigned(&self, resp: &Resp) {
        for name in [
            "wechatpay-timestamp",
            "wechatpay-nonce",
            "wechatpay-signature",
            "wechatpay-serial",
            "wechatpay-signature-type",
        ] {
            assert!(resp.header(name).is_none(), "{name} on an unsigned answer");
        }
        assert!(resp.header("request-id").is_some());
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.call("POST", path, &body.to_string()).await
    }

    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("control");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub fn appid(&self, kind: wxpay_sim::config::AppKind) -> String {
        universe().appid(kind).expect("app").to_owned()
    }

    pub fn jsapi_body(&self, out_trade_no: &str, total: i64, notify_url: &str) -> Value {
        serde_json::json!({
            "appid": self.appid(wxpay_sim::config::AppKind::MiniProgram),
            "mchid": self.mchid,
            "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": { "total": total, "currency": "CNY" },
            "payer": { "openid": MP_PAYER }
        })
    }

    /// Places a JSAPI order and pays it through the control API.
    pub async fn paid_order(&self, out_trade_no: &str, total: i64, notify_url: &str) -> Value {
        let r = self
            .post_json(
                "/v3/pay/transactions/jsapi",
                &self.jsapi_body(out_trade_no, total, notify_url),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (status, order) = self
            .control("POST", &format!("/__sim/orders/{out_trade_no}/pay"), None)
            .await;
        assert_eq!(status, 200, "{order}");
        order
    }
}

/// A received notification.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A merchant endpoint that records notifications and answers with scripted statuses
/// (then 200 once the script runs out).
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

const SUCCESS_XML: &str = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

pub async fn receiver(script: Vec<u16>) -> Receiver {
    let replies = script
        .into_iter()
        .map(|status| {
            let body = if (200..300).contains(&status) {
                SUCCESS_XML
            } else {
                "{\"code\":\"FAIL\",\"message\":\"失败\"}"
            };
            (status, body.to_owned())
        })
        .collect();
    receiver_replying(replies).await
}

/// A receiver answering with scripted (status, body) replies, then 200 with a v2
/// `return_code` SUCCESS body (which also acknowledges a v3 notification).
pub async fn receiver_replying(script: Vec<(u16, String)>) -> Receiver {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let rec = received.clone();
    let app = Router::new().route(
        "/notify",
        post(move |headers: HeaderMap, body: Bytes| {
            let rec = rec.clone();
            let script = script.clone();
            async move {
                rec.lock().expect("lock").push(Received { headers, body });
                let (status, body) = script
                    .lock()
                    .expect("lock")
                    .pop_front()
                    .unwrap_or((200, SUCCESS_XML.to_owned()));
                (StatusCode::from_u16(status).expect("status"), body)
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
    Receiver {
        url: format!("http://{addr}/notify"),
        received,
    }
}

impl Receiver {
    pub fn count(&self) -> usize {
        self.received.lock().expect("lock").len()
    }
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            if self.count() >= n {
                return self.all();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("expected {n} notifications, got {}", self.count());
    }
}

pub fn signed_headers_of(r: &Received) -> SignedHeaders {
    SignedHeaders::from_lookup(|n| {
        r.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
    .expect("headers")
}

impl TestSim {
    /// The delivery log (`GET /__sim/notifications`).
    pub async fn deliveries(&self) -> Vec<Value> {
        let (status, log) = self.control("GET", "/__sim/notifications", None).await;
        assert_eq!(status, 200, "{log}");
        log.as_array().cloned().unwrap_or_default()
    }

    /// Polls the delivery log until the delivery for `out_trade_no` (first one found)
    /// satisfies `done`, for at most `secs` seconds; returns it.
    pub async fn wait_for_delivery(
        &self,
        out_trade_no: &str,
        secs: u64,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let found = self
                .deliveries()
                .await
                .into_iter()
                .find(|d| d["out_trade_no"] == out_trade_no);
            match found {
                Some(d) if done(&d) => return d,
                other if std::time::Instant::now() >= deadline => {
                    panic!("delivery for {out_trade_no} not as expected in {secs}s: {other:?}")
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
            }
        }
    }

    /// The trade state as a v3 query reports it.
    pub async fn trade_state(&self, out_trade_no: &str) -> String {
        let q = self
            .call(
                "GET",
                &format!(
                    "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
                    self.mchid
                ),
                "",
            )
            .await;
        assert_eq!(q.status, 200, "{}", q.body);
        q.json()["trade_state"].as_str().unwrap_or("").to_owned()
    }
}

/// The statuses of a delivery's attempts, in order.
pub fn attempt_statuses(delivery: &Value) -> Vec<u64> {
    delivery["attempts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["status"].as_u64().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default()
}
