//! Test harness: a fresh simulator, a fresh database, the server on port 0.

use std::time::Duration;

use serde_json::{json, Value};
use wxpay_core::invoke::{format_for, Surface};
use wxpay_core::keys::PrivateKey;
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::notification::{encrypt_notification, EventType, NotificationParams};
use wxpay_core::v3::verify::SignedHeaders;
use wxpay_core::SerialNo;
use wxpay_server::app::Application;
use wxpay_server::config::{Settings, VerifyMode};
use wxpay_server::secret::{Secret, SecretSource};
use wxpay_server::state::SharedState;
use wxpay_sim::client::{PayCall, PayerChoice};
use wxpay_sim::config::AppKind;
use wxpay_sim::control::SimControl;
use wxpay_sim::server::{RunningSim, Simulator};
use wxpay_sim::universe::Universe;

use crate::log_capture::{self, leaks, Needle};

/// `server.admin_token` of every [`TestApp::spawn_tweaked`] server (refunds need it).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// More calls than any test makes ([`TestApp::count_calls`]).
const CALL_COUNTER: u32 = 1000;

/// Polls `check` until it holds, for at most `within`; panics naming `what` otherwise. For
/// waiting on an event (a delivery settled, a state reached) instead of sleeping.
pub async fn wait_until<F, Fut>(within: Duration, what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    crate::wait::until(what, within, check).await
}

/// A running server + simulator pair.
pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub state: SharedState,
    pub sim: Option<RunningSim>,
    pub control: SimControl,
    pub universe: Universe,
    stop: tokio::sync::watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Where the captured logs stood when this server started (see `log_capture`).
    log_offset: usize,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(VerifyMode::Certificate).await
    }

    pub async fn spawn_with(mode: VerifyMode) -> Self {
        Self::spawn_inner(mode, false).await
    }

    /// Like [`TestApp::spawn`] with the simulator's mutual-TLS listener (v2 refunds) on,
    /// and the server pointed at it with the merchant's client certificate.
    pub async fn spawn_with_mutual_tls() -> Self {
        Self::spawn_inner(VerifyMode::Certificate, true).await
    }

    async fn spawn_inner(mode: VerifyMode, mutual_tls: bool) -> Self {
        Self::spawn_tweaked(mode, mutual_tls, |_, _| {}).await
    }

    /// Like [`TestApp::spawn_with`], with `tweak` applied to the server's settings (the
    /// running simulator at hand) before the server is built.
    pub async fn spawn_tweaked(
        mode: VerifyMode,
        mutual_tls: bool,
        tweak: impl FnOnce(&mut Settings, &RunningSim),
    ) -> Self {
        let universe = Universe::generate().expect("universe");
        let mut sim_config = universe.sim_config();
        sim_config.time_scale = 0.001;
        if !mutual_tls {
            sim_config.tls = None;
        }
        let sim = Simulator::start(sim_config).await.expect("simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::default();
        settings.server.port = 0;
        settings.server.trusted_proxy_header = Some("x-forwarded-for".into());
        settings.database.url = format!("sqlite://{}", dir.path().join("server.db").display());
        settings.merchant = Some(wxpay_server::embedded::merchant_settings(&universe, mode));
        wxpay_server::embedded::point_at(&mut settings, &sim.base_url());
        if mutual_tls {
            wxpay_server::embedded::point_secapi_at(&mut settings, &universe, &sim);
        }
        settings.worker.enabled = false;
        settings.worker.status_stale_secs = 0;
        settings.worker.pending_after_secs = 0;
        settings.upstream.backoff_ms = 10;
        settings.upstream.timeout_ms = 5_000;
        settings.server.admin_token = Some(SecretSource::Inline(Secret::new(ADMIN_TOKEN.into())));
        tweak(&mut settings, &sim);
        Self::launch(settings, sim, universe, dir).await
    }

    /// Builds and starts the server from `settings` next to an already running simulator.
    pub async fn launch(
        settings: Settings,
        sim: RunningSim,
        universe: Universe,
        dir: tempfile::TempDir,
    ) -> Self {
        let log_offset = log_capture::install().len();
        let app = Application::build(settings).await.expect("application");
        let url = format!("http://127.0.0.1:{}", app.port());
        let state = app.state();
        let stop = app.stop_handle();
        let server = tokio::spawn(app.run_until_stopped());
        let control = sim.control();
        Self {
            url,
            http: reqwest::Client::new(),
            state,
            sim: Some(sim),
            control,
            universe,
            stop,
            server: Some(server),
            log_offset,
            _dir: dir,
        }
    }

    /// Every secret this server holds: the configured ones, and the access tokens, tickets
    /// and `session_key`s it was handed at run time (read from its SQLite file).
    fn held_secrets(&self) -> Vec<Needle> {
        let mut needles = Vec::new();
        let settings = &self.state.settings;
        let load = |source: &SecretSource| source.load().ok().map(|s| s.expose().clone());
        if let Some(token) = settings.server.admin_token.as_ref().and_then(load) {
            needles.extend(Needle::new("admin token", token));
        }
        if let Some(merchant) = &settings.merchant {
            for (what, app) in [
                ("mini-program", &merchant.miniprogram),
                ("official account", &merchant.official_account),
                ("app", &merchant.app),
            ] {
                if let Some(secret) = app.as_ref().and_then(|a| a.secret.as_ref()).and_then(load) {
                    needles.extend(Needle::new(format!("{what} AppSecret"), secret));
                }
            }
            if let Some(key) = load(&merchant.apiv3_key) {
                needles.extend(Needle::new("API v3 key", key));
            }
            if let Some(key) = merchant.apiv2_key.as_ref().and_then(load) {
                needles.extend(Needle::new("API v2 key", key));
            }
            if let Some(pem) = load(&merchant.private_key) {
                needles.extend(Needle::pem_private_key("merchant private key", &pem));
            }
            if let Some(pem) = merchant.client_cert_pem.as_ref().and_then(load) {
                needles.extend(Needle::pem_private_key("mutual-TLS key", &pem));
            }
        }
        // The store is async; a drop is not. A short-lived runtime on its own thread reads it.
        let url = settings.database.url.clone();
        let issued = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let pool = sqlx::SqlitePool::connect(&url).await.ok()?;
                let mut values: Vec<(String, String)> = Vec::new();
                let keys: Vec<Option<String>> =
                    sqlx::query_scalar("SELECT session_key FROM sessions")
                        .fetch_all(&pool)
                        .await
                        .ok()?;
                values.extend(
                    keys.into_iter()
                        .flatten()
                        .map(|k| ("session_key".into(), k)),
                );
                let credentials: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, value FROM credentials")
                        .fetch_all(&pool)
                        .await
                        .ok()?;
                values.extend(credentials);
                pool.close().await;
                Some(values)
            })
        })
        .join()
        .ok()
        .flatten()
        .unwrap_or_default();
        for (label, value) in issued {
            needles.extend(Needle::new(label, value));
        }
        needles
    }

    /// Asks the server (not the simulator) to stop; [`TestApp::join_server`] waits for it.
    pub fn stop_server(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the server task has drained and returned.
    pub async fn join_server(&mut self) -> std::io::Result<()> {
        match self.server.take() {
            Some(server) => server.await.expect("the server task panicked"),
            None => Ok(()),
        }
    }

    /// Whether the server task has returned.
    pub fn server_finished(&self) -> bool {
        self.server.as_ref().is_none_or(|s| s.is_finished())
    }

    /// A mini-program user's new order with a v3 prepay: `(session token, out_trade_no)`.
    pub async fn prepaid_order(&self) -> (String, String) {
        let (token, _) = self.login_miniprogram().await;
        let no = self.create_order(&token).await;
        let (status, body) = self.pay(&token, &no, "miniprogram").await;
        assert_eq!(status, 200, "{body}");
        (token, no)
    }

    /// The server's bound port.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in url")
    }

    /// The simulator's base URL.
    pub fn sim_url(&self) -> String {
        self.sim
            .as_ref()
            .map(RunningSim::base_url)
            .unwrap_or_default()
    }

    /// Arms a fault through the simulator's HTTP control API (`POST /__sim/faults`).
    pub async fn arm_fault(&self, endpoint: &str, kind: &str, count: u32) {
        self.arm_fault_delayed(endpoint, kind, count, None).await;
    }

    /// [`TestApp::arm_fault`] with the `delay_ms` of a `timeout` or `latency` fault.
    pub async fn arm_fault_delayed(
        &self,
        endpoint: &str,
        kind: &str,
        count: u32,
        delay_ms: Option<u64>,
    ) {
        let response = self
            .http
            .post(format!("{}/__sim/faults", self.sim_url()))
            .json(&json!({ "endpoint": endpoint, "kind": kind, "count": count, "delay_ms": delay_ms }))
            .send()
            .await
            .expect("arm fault");
        assert!(response.status().is_success(), "arming {endpoint} failed");
    }

    /// How many armed faults are left for `endpoint` (`GET /__sim/faults`): the number of
    /// calls the server made is what the fault queue lost.
    pub async fn faults_left(&self, endpoint: &str) -> u64 {
        let faults: Value = self
            .http
            .get(format!("{}/__sim/faults", self.sim_url()))
            .send()
            .await
            .expect("list faults")
            .json()
            .await
            .expect("faults json");
        faults["api"][endpoint]
            .as_array()
            .map(|queue| queue.iter().filter_map(|f| f["count"].as_u64()).sum())
            .unwrap_or(0)
    }

    /// The order as the simulator holds it (`GET /__sim/orders/{no}`).
    pub async fn sim_order(&self, out_trade_no: &str) -> Value {
        self.http
            .get(format!("{}/__sim/orders/{out_trade_no}", self.sim_url()))
            .send()
            .await
            .expect("sim order")
            .json()
            .await
            .expect("sim order json")
    }

    /// The payer pays as WeChat lets them. For channels whose parameters go to a WeChat
    /// client call, the simulator first checks the bundle as WeChat's client does (fields,
    /// prepay id, appid, `paySign`); H5 and Native are paid on WeChat's own page.
    pub fn payer_pays(&self, channel: &str, out_trade_no: &str, params: &Value) {
        let (surface, running_app) = match channel {
            "miniprogram" => ("mini-program", Some(AppKind::MiniProgram)),
            "jsapi" => ("weixin-js-bridge", None),
            "jssdk" => ("js-sdk", Some(AppKind::OfficialAccount)),
            "app" => ("app", None),
            _ => {
                self.control
                    .pay(Some(self.mchid()), out_trade_no, None)
                    .expect("payer pays");
                return;
            }
        };
        // The server answers `jssdk` in the `wx.chooseWXPay` shape (`timestamp`, no appId),
        // which a page passes on as-is.
        if surface == "js-sdk" {
            format_for(Surface::JsSdk, params).expect("a wx.chooseWXPay bundle");
        }
        let call = PayCall {
            surface: surface.into(),
            params: params.clone(),
            appid: running_app.map(|kind| self.appid(kind)),
            choice: PayerChoice::Pay,
            openid: None,
        };
        let reply = self.control.client_pay(&call).expect("client call");
        assert_eq!(reply.refused, None, "{channel}: WeChat refused {params}");
    }

    pub fn appid(&self, kind: AppKind) -> String {
        self.universe.appid(kind).expect("app of kind").to_owned()
    }

    pub fn mchid(&self) -> &str {
        &self.universe.mchid
    }

    /// Logs a new mini-program user in; returns (token, openid).
    pub async fn login_miniprogram(&self) -> (String, String) {
        let (code, _) = self
            .control
            .mint_login_code(&self.appid(AppKind::MiniProgram), None)
            .expect("code");
        let body: Value = self
            .post("/api/login/miniprogram", None, json!({ "code": code }))
            .await
            .1;
        (
            body["token"].as_str().expect("token").to_owned(),
            body["openid"].as_str().expect("openid").to_owned(),
        )
    }

    /// Logs a new official-account user in through OAuth; returns (token, openid).
    pub async fn login_oauth(&self) -> (String, String) {
        let (code, _) = self
            .control
            .mint_oauth_code(&self.appid(AppKind::OfficialAccount), None, None)
            .expect("code");
        let body: Value = self
            .post("/api/login/oauth", None, json!({ "code": code }))
            .await
            .1;
        (
            body["token"].as_str().expect("token").to_owned(),
            body["openid"].as_str().expect("openid").to_owned(),
        )
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts with the merchant's admin credential (`X-Admin-Token`) and an optional session.
    pub async fn post_admin(
        &self,
        path: &str,
        admin_token: &str,
        session: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("x-admin-token", admin_token)
            .json(&body);
        if let Some(session) = session {
            request = request.bearer_auth(session);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates a refund as the merchant's staff (the configured [`ADMIN_TOKEN`]).
    pub async fn refund(&self, out_trade_no: &str, body: Value) -> (u16, Value) {
        self.post_admin(
            &format!("/api/orders/{out_trade_no}/refunds"),
            ADMIN_TOKEN,
            None,
            body,
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates an order for one coffee; returns its number.
    pub async fn create_order(&self, token: &str) -> String {
        let (status, body) = self
            .post(
                "/api/orders",
                Some(token),
                json!({ "items": [{ "product_id": "cake", "quantity": 2 }] }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["out_trade_no"]
            .as_str()
            .expect("out_trade_no")
            .to_owned()
    }

    pub async fn pay(&self, token: &str, out_trade_no: &str, channel: &str) -> (u16, Value) {
        self.post(
            &format!("/api/orders/{out_trade_no}/pay"),
            Some(token),
            json!({ "channel": channel }),
        )
        .await
    }

    /// Rows in one table of the server's SQLite file, read directly (not through the store).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let pool = sqlx::SqlitePool::connect(&self.state.settings.database.url)
            .await
            .expect("open the server's SQLite file");
        let count = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        count
    }

    /// A connection pool on the server's SQLite file, for reading what the store wrote.
    pub async fn db(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&self.state.settings.database.url)
            .await
            .expect("open the server's SQLite file")
    }

    /// Arms a pass-through counter on a simulator endpoint: each call consumes one
    /// zero-delay `latency` fault and is otherwise handled normally ([`TestApp::calls`]).
    pub async fn count_calls(&self, endpoint: &str) {
        self.arm_fault_delayed(endpoint, "latency", CALL_COUNTER, Some(0))
            .await;
    }

    /// Calls of `endpoint` since [`TestApp::count_calls`].
    pub async fn calls(&self, endpoint: &str) -> u64 {
        u64::from(CALL_COUNTER) - self.faults_left(endpoint).await
    }

    /// The order as stored (no upstream query).
    pub async fn stored(&self, out_trade_no: &str) -> wxpay_server::store::Order {
        self.state
            .store
            .order(out_trade_no)
            .await
            .expect("store")
            .expect("order")
    }

    /// Waits until the stored order reaches `state` (notifications are asynchronous).
    pub async fn wait_state(&self, out_trade_no: &str, state: &str) -> wxpay_server::store::Order {
        for _ in 0..200 {
            let order = self.stored(out_trade_no).await;
            if order.state.as_str() == state {
                return order;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "order {out_trade_no} never reached {state}: {:?}",
            self.stored(out_trade_no).await.state
        );
    }

    /// Waits until the simulator has no pending delivery for the order.
    pub async fn wait_deliveries_settled(&self, out_trade_no: &str) {
        for _ in 0..200 {
            let pending = self
                .control
                .deliveries()
                .iter()
                .any(|d| d.out_trade_no == out_trade_no && d.status == "pending");
            if !pending {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("deliveries for {out_trade_no} never settled");
    }

    /// Waits until the simulator's newest notification for the order has settled (it is no
    /// longer pending) and asserts it was dropped, never sent: after a `drop` fault the
    /// server cannot have heard of the change, and asserting so needs no sleep.
    pub async fn assert_notification_dropped(&self, out_trade_no: &str) {
        let newest = || {
            self.control
                .deliveries()
                .into_iter()
                .filter(|d| d.out_trade_no == out_trade_no)
                .max_by_key(|d| d.seq)
        };
        wait_until(
            Duration::from_secs(5),
            &format!("the newest delivery for {out_trade_no} settles"),
            || async { newest().is_some_and(|d| d.status != "pending") },
        )
        .await;
        let delivery = newest().expect("a delivery");
        assert_eq!(delivery.status, "dropped", "{delivery:?}");
        assert!(delivery.attempts.is_empty(), "{delivery:?}");
    }

    /// Signs and encrypts a v3 notification exactly as WeChat would, with the universe's
    /// platform key (or any key/serial given), and posts it to the server.
    pub async fn send_v3_notification(
        &self,
        path: &str,
        event: EventType,
        plaintext: &Value,
        sign: &NotifySigning,
    ) -> (u16, String) {
        let key = ApiV3Key::new(self.universe.apiv3_key.expose()).expect("apiv3 key");
        let id = sign
            .id
            .clone()
            .unwrap_or_else(|| format!("EV-{}", wxpay_server::ids::random_id("t")));
        let params = NotificationParams {
            id: &id,
            create_time: "2025-01-01T00:00:00+08:00",
            event_type: &event,
            summary: "test",
            original_type: if event.is_refund() {
                "refund"
            } else {
                "transaction"
            },
            nonce: "abcdefghijkl",
            associated_data: "transaction",
        };
        let notification =
            encrypt_notification(&key, &params, plaintext.to_string().as_bytes()).expect("encrypt");
        let mut body = notification.to_json();
        let signer = PrivateKey::from_pkcs8_pem(
            sign.key_pem
                .as_deref()
                .unwrap_or(&self.universe.platform.key_pem),
        )
        .expect("key");
        let serial = SerialNo::new(
            sign.serial
                .clone()
                .unwrap_or_else(|| self.universe.platform.serial.clone()),
        )
        .expect("serial");
        let timestamp = self.state.clock.now() + sign.skew;
        let headers = SignedHeaders::sign(
            &signer,
            &serial,
            timestamp,
            "nonce-0123456789",
            body.as_bytes(),
        )
        .expect("sign");
        if let Some(tamper) = &sign.tamper_body {
            body = body.replace(&tamper.0, &tamper.1);
        }
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json");
        for (name, value) in headers.header_pairs() {
            request = request.header(name, value);
        }
        if let Some(client) = &sign.forwarded_for {
            request = request.header("x-forwarded-for", client);
        }
        let response = request.body(body).send().await.expect("notify");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub fn transaction_plaintext(&self, out_trade_no: &str, total: i64, appid: &str) -> Value {
        json!({
            "appid": appid, "mchid": self.mchid(), "out_trade_no": out_trade_no,
            "transaction_id": "4200000000202501010000000001", "trade_type": "JSAPI", "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功", "bank_type": "OTHERS", "success_time": "2025-01-01T00:00:00+08:00",
            "payer": { "openid": "o-test" }, "amount": { "total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY" }
        })
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
    }
}

impl Drop for TestApp {
    /// Fails the test when anything logged since this server started shows one of its
    /// secrets (see `log_capture`).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let logged = log_capture::install().since(self.log_offset);
        let found = leaks(&logged, &self.held_secrets());
        assert!(found.is_empty(), "secrets reached the logs: {found:#?}");
    }
}

/// How a crafted notification is signed.
#[derive(Default)]
pub struct NotifySigning {
    pub id: Option<String>,
    pub key_pem: Option<String>,
    pub serial: Option<String>,
    pub skew: i64,
    pub tamper_body: Option<(String, String)>,
    /// Sent as `X-Forwarded-For` (the test server trusts it as the client address).
    pub forwarded_for: Option<String>,
}

/// A private key WeChat never had (wechatpay-go's test key, from the vectors): signatures made
/// with it must be refused under any serial.
pub fn rogue_key_pem() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors/go_test_private_key.pem");
    std::fs::read_to_string(path).expect("tests/vectors/go_test_private_key.pem")
}
