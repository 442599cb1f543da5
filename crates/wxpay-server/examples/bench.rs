//! Throughput and latency of the merchant server against the in-process simulator.
//!
//! Run through `scripts/bench-server.sh` (release build). Measures, at concurrency 1 and 32:
//! - create + pay: `POST /api/orders` then `POST /api/orders/{no}/pay` (prepay at the
//!   simulator + signed client parameters), for v3 (mini-program) and v2 (JSAPI);
//! - notifications processed: pre-signed v3 (RSA + AES-GCM) and v2 (HMAC-SHA256) pay
//!   notifications posted to the server, each verified, decrypted and applied in one
//!   SQLite transaction;
//! - the simulator's own cost: a prepay sent straight to the simulator through the
//!   server's upstream clients (signing, the simulator's work, response verification),
//!   without the merchant API, the store or the client parameters around it.
//!
//! Operation counts: `BENCH_OPS_1` (default 200) at concurrency 1, `BENCH_OPS_32`
//! (default 1280) at concurrency 32. `BENCH_APIS` picks the APIs (default `v3,v2`).
//!
//! Several instances (`scripts/bench-instances.sh`): `BENCH_INSTANCES=n` starts n servers in
//! this process, each with its own state and database pool, on one database, and sends the
//! requests to them in turn (as a load balancer would). `BENCH_POSTGRES_URL` puts that
//! database on PostgreSQL: a fresh one is created beside the one the URL names.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wxpay_core::keys::PrivateKey;
use wxpay_core::v2::sign::{sign_into, ApiV2Key, SignType};
use wxpay_core::v2::xml;
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::models::PrepayKind;
use wxpay_core::v3::notification::{encrypt_notification, EventType, NotificationParams};
use wxpay_core::v3::paths::Endpoint;
use wxpay_core::v3::verify::SignedHeaders;
use wxpay_core::{AppId, SerialNo};
use wxpay_server::app::Application;
use wxpay_server::config::{Settings, VerifyMode};
use wxpay_server::state::SharedState;
use wxpay_server::upstream::v2::Fields;
use wxpay_server::upstream::Idempotency;
use wxpay_sim::config::AppKind;
use wxpay_sim::control::SimControl;
use wxpay_sim::faults::NotifyFaults;
use wxpay_sim::server::Simulator;
use wxpay_sim::universe::Universe;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A notification body and the headers to send with it.
type Prepared = (String, Vec<(&'static str, String)>);

/// What the simulator recorded when the payer paid (its own notification is dropped, so the
/// bench delivers WeChat's notification itself, at the concurrency under test).
struct PaidAtSim {
    transaction_id: String,
    total: u64,
    openid: String,
}

struct Bench {
    /// The instances' base URLs, used in turn ([`Bench::pick`]).
    urls: Vec<String>,
    next_url: AtomicUsize,
    http: reqwest::Client,
    state: SharedState,
    control: SimControl,
    universe: Universe,
}

struct Stats {
    ops: usize,
    errors: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[idx.min(self.latencies.len() - 1)]
    }

    fn print(&self, name: &str, concurrency: usize) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<44} c={concurrency:<3} {:>8.1} ops/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} ops, {} errors)",
            self.ops as f64 / self.wall.as_secs_f64(),
            ms(self.percentile(0.50)),
            ms(self.percentile(0.99)),
            self.ops,
            self.errors
        );
    }
}

/// Runs `op(i)` for i in 0..n on `concurrency` tasks and collects per-operation latency.
async fn run<F, Fut>(concurrency: usize, n: usize, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let op = op.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                match op(i).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("operation failed: {e}");
                        }
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((lat, e)) = task.await {
            latencies.extend(lat);
            errors += e;
        }
    }
    let wall = started.elapsed();
    latencies.sort();
    Stats {
        ops: latencies.len(),
        errors,
        wall,
        latencies,
    }
}

impl Bench {
    /// The next instance's base URL, round robin.
    fn pick(&self) -> &str {
        &self.urls[self.next_url.fetch_add(1, Ordering::Relaxed) % self.urls.len()]
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Result<Value, BoxError> {
        let mut req = self.http.post(format!("{}{path}", self.pick())).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            return Err(format!("{path}: {status} {body}").into());
        }
        Ok(body)
    }

    async fn login(&self) -> Result<String, BoxError> {
        let appid = self
            .universe
            .appid(AppKind::MiniProgram)
            .ok_or("no mini-program")?;
        let (code, _) = self.control.mint_login_code(appid, None)?;
        let body = self
            .post("/api/login/miniprogram", None, json!({ "code": code }))
            .await?;
        Ok(body["token"].as_str().ok_or("no token")?.to_owned())
    }

    async fn create_and_pay(&self, token: &str, api: &str) -> Result<String, BoxError> {
        let order = self
            .post(
                "/api/orders",
                Some(token),
                json!({ "items": [{ "product_id": "coffee", "quantity": 1 }] }),
            )
            .await?;
        let no = order["out_trade_no"].as_str().ok_or("no order")?.to_owned();
        let paid = self
            .post(
                &format!("/api/orders/{no}/pay"),
                Some(token),
                json!({ "channel": "miniprogram", "api_version": api }),
            )
            .await?;
        if paid["params"]["paySign"].as_str().is_none() {
            return Err(format!("no paySign: {paid}").into());
        }
        Ok(no)
    }

    /// A v3 TRANSACTION.SUCCESS notification for `no`, signed by the platform key, carrying
    /// the transaction id and amount the simulator recorded for its payment.
    fn v3_notification(&self, no: &str, i: usize, paid: &PaidAtSim) -> Result<Prepared, BoxError> {
        let key = ApiV3Key::new(self.universe.apiv3_key.expose())?;
        let id = format!("BENCH-{no}-{i}");
        let appid = self
            .universe
            .appid(AppKind::MiniProgram)
            .ok_or("no mini-program")?;
        let plaintext = json!({
            "appid": appid, "mchid": self.universe.mchid, "out_trade_no": no,
            "transaction_id": paid.transaction_id, "trade_type": "JSAPI", "trade_state": "SUCCESS",
            "trade_state_desc": "ok", "bank_type": "OTHERS", "success_time": "2026-01-01T00:00:00+08:00",
            "payer": { "openid": paid.openid }, "amount": { "total": paid.total, "payer_total": paid.total, "currency": "CNY", "payer_currency": "CNY" }
        });
        let params = NotificationParams {
            id: &id,
            create_time: "2026-01-01T00:00:00+08:00",
            event_type: &EventType::TransactionSuccess,
            summary: "bench",
            original_type: "transaction",
            nonce: "abcdefghijkl",
            associated_data: "transaction",
        };
        let body = encrypt_notification(&key, &params, plaintext.to_string().as_bytes())?.to_json();
        let signer = PrivateKey::from_pkcs8_pem(&self.universe.platform.key_pem)?;
        let serial = SerialNo::new(self.universe.platform.serial.clone())?;
        let headers = SignedHeaders::sign(
            &signer,
            &serial,
            wxpay_server::clock::Clock::system().now(),
            "bench-nonce-0123",
            body.as_bytes(),
        )?;
        Ok((body, headers.header_pairs().to_vec()))
    }

    /// A v2 pay notification for `no`, signed with the API v2 key (HMAC-SHA256) as WeChat
    /// signs it (no `sign_type`), carrying the simulator's transaction id and amount.
    fn v2_notification(&self, no: &str, i: usize, paid: &PaidAtSim) -> Result<String, BoxError> {
        let key = ApiV2Key::new(self.universe.apiv2_key.expose())?;
        let appid = self
            .universe
            .appid(AppKind::MiniProgram)
            .ok_or("no mini-program")?;
        let mut f = Fields::new();
        for (k, v) in [
            ("return_code", "SUCCESS".to_owned()),
            ("result_code", "SUCCESS".to_owned()),
            ("appid", appid.to_owned()),
            ("mch_id", self.universe.mchid.clone()),
            ("nonce_str", format!("bench{i}")),
            ("openid", paid.openid.clone()),
            ("trade_type", "JSAPI".to_owned()),
            ("total_fee", paid.total.to_string()),
            ("cash_fee", paid.total.to_string()),
            ("transaction_id", paid.transaction_id.clone()),
            ("out_trade_no", no.to_owned()),
            ("time_end", "20260101000000".to_owned()),
        ] {
            f.insert(k.to_owned(), v);
        }
        sign_into(&mut f, &key, SignType::HmacSha256);
        Ok(xml::to_xml(f.iter())?)
    }
}

async fn start() -> Result<(Bench, tempfile::TempDir), BoxError> {
    let universe = Universe::generate()?;
    let mut sim_config = universe.sim_config();
    sim_config.tls = None;
    let sim = Simulator::start(sim_config).await?;
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.database.url = match std::env::var("BENCH_POSTGRES_URL") {
        Ok(url) => fresh_postgres_database(&url).await?,
        Err(_) => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    settings.merchant = Some(wxpay_server::embedded::merchant_settings(
        &universe,
        VerifyMode::Certificate,
    ));
    wxpay_server::embedded::point_at(&mut settings, &sim.base_url());
    settings.worker.enabled = false;
    settings.limits.login_per_minute = 1_000_000;
    // 32 users create and pay thousands of orders: far past the per-user limits.
    settings.limits.orders_per_minute = 1_000_000;
    settings.limits.pay_per_minute = 1_000_000;
    // BENCH_SYNCHRONOUS=normal measures what the fsync per commit costs (the default is full).
    if std::env::var("BENCH_SYNCHRONOUS").as_deref() == Ok("normal") {
        settings.database.synchronous = wxpay_server::config::Synchronous::Normal;
    }
    if let Ok(n) = std::env::var("BENCH_DB_CONNECTIONS") {
        settings.database.max_connections = n.parse()?;
    }
    let instances = env_count("BENCH_INSTANCES", 1).max(1);
    let mut urls = Vec::new();
    let mut states = Vec::new();
    for _ in 0..instances {
        let app = Application::build(settings.clone()).await?;
        urls.push(format!("http://127.0.0.1:{}", app.port()));
        states.push(app.state());
        tokio::spawn(app.run_until_stopped());
    }
    let state = states.swap_remove(0);
    let control = sim.control();
    // `o-bench`, the payer of the simulator-only rows, is a mini-program user: the simulator
    // refuses a JSAPI prepay whose openid its appid never issued.
    let mini_program = universe
        .appid(AppKind::MiniProgram)
        .ok_or("no mini-program")?;
    control.mint_login_code(mini_program, Some("o-bench".to_owned()))?;
    // The simulator lives as long as the process.
    std::mem::forget(sim);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    Ok((
        Bench {
            urls,
            next_url: AtomicUsize::new(0),
            http,
            state,
            control,
            universe,
        },
        dir,
    ))
}

/// A new database on the PostgreSQL server of `url`; its URL.
async fn fresh_postgres_database(url: &str) -> Result<String, BoxError> {
    let name = format!("bench_{}", std::process::id());
    let admin = sqlx::PgPool::connect(url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let (server, _) = url.rsplit_once('/').ok_or("no database in the URL")?;
    Ok(format!("{server}/{name}"))
}

/// The ledger check: every order the simulator says is paid is paid here, with the same
/// transaction and amount, and the audit trail shows exactly one credit.
#[derive(Default)]
struct Ledger {
    checked: usize,
    lost: usize,
    double: usize,
    differing: usize,
}

impl Ledger {
    async fn check(&mut self, bench: &Bench, numbers: &[String]) -> Result<(), BoxError> {
        for no in numbers {
            let at_sim = bench.control.order(Some(&bench.universe.mchid), no)?;
            let here = bench.state.store.order(no).await?.ok_or("order missing")?;
            let credits = bench
                .state
                .store
                .audit("order", no)
                .await?
                .iter()
                .filter(|a| a.to_state == "SUCCESS")
                .count();
            self.checked += 1;
            if here.state.as_str() != at_sim.trade_state.as_str() {
                self.lost += 1;
            } else if credits != 1 {
                self.double += 1;
            } else if here.transaction_id != at_sim.transaction_id
                || u64::try_from(here.amount_fen).ok() != Some(at_sim.total)
            {
                self.differing += 1;
            }
        }
        Ok(())
    }
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (bench, _dir) = start().await?;
    let bench = Arc::new(bench);
    // BENCH_LEVELS: the concurrency levels (default 1 and 32); BENCH_OPS_<c> the operation
    // count at level c (default 200 at 1, else 40 per task, at most 5 120).
    let levels: Vec<(usize, usize)> = std::env::var("BENCH_LEVELS")
        .unwrap_or_else(|_| "1,32".into())
        .split(',')
        .filter_map(|c| c.trim().parse::<usize>().ok())
        .map(|c| {
            let default = if c == 1 { 200 } else { (40 * c).min(5_120) };
            (c, env_count(&format!("BENCH_OPS_{c}"), default))
        })
        .collect();
    let mut ledger = Ledger::default();
    let mut tokens = Vec::new();
    for _ in 0..32 {
        tokens.push(bench.login().await?);
    }
    let tokens = Arc::new(tokens);

    // BENCH_SIM_COST=0 skips the simulator's own cost (the load script does).
    let sim_levels: &[(usize, usize)] = if std::env::var("BENCH_SIM_COST").as_deref() == Ok("0") {
        &[]
    } else {
        println!(
            "== simulator's own cost (prepay straight to the simulator via the upstream clients)"
        );
        &levels
    };
    for &(c, n) in sim_levels {
        let b = bench.clone();
        let appid = b
            .universe
            .appid(AppKind::MiniProgram)
            .ok_or("no mini-program")?
            .to_owned();
        let stats = run(c, n, move |i| {
            let b = b.clone();
            let appid = appid.clone();
            async move {
                let body = json!({
                    "appid": appid, "mchid": b.universe.mchid, "description": "bench",
                    "out_trade_no": format!("SIMV3{c}N{i}"), "notify_url": format!("{}/notify/v3/pay", b.pick()),
                    "amount": { "total": 1, "currency": "CNY" }, "payer": { "openid": "o-bench" }
                });
                let _: Value = b
                    .state
                    .v3
                    .post(&Endpoint::Prepay(PrepayKind::Jsapi), &body)
                    .await?;
                Ok(())
            }
        })
        .await;
        stats.print("sim v3 jsapi prepay (RSA sign + verify)", c);
        let b = bench.clone();
        let appid = AppId::new(
            b.universe
                .appid(AppKind::MiniProgram)
                .ok_or("no mini-program")?,
        )?;
        let stats = run(c, n, move |i| {
            let b = b.clone();
            let appid = appid.clone();
            async move {
                let v2 = b.state.v2.clone().ok_or("no v2 client")?;
                let mut f = Fields::new();
                for (k, v) in [
                    ("body", "bench".to_owned()),
                    ("out_trade_no", format!("SIMV2{c}N{i}")),
                    ("total_fee", "1".to_owned()),
                    ("spbill_create_ip", "127.0.0.1".to_owned()),
                    ("notify_url", format!("{}/notify/v2/pay", b.pick())),
                    ("trade_type", "JSAPI".to_owned()),
                    ("openid", "o-bench".to_owned()),
                    ("appid", appid.as_str().to_owned()),
                    ("mch_id", v2.mchid().as_str().to_owned()),
                    ("nonce_str", wxpay_server::ids::nonce()?),
                ] {
                    f.insert(k.to_owned(), v);
                }
                v2.call(
                    wxpay_core::v2::paths::UNIFIED_ORDER,
                    f,
                    Idempotency::Idempotent,
                )
                .await?;
                Ok(())
            }
        })
        .await;
        stats.print("sim v2 unifiedorder (HMAC-SHA256)", c);
    }

    let apis: Vec<&'static str> = std::env::var("BENCH_APIS")
        .unwrap_or_else(|_| "v3,v2".into())
        .split(',')
        .filter_map(|a| match a.trim() {
            "v3" => Some("v3"),
            "v2" => Some("v2"),
            _ => None,
        })
        .collect();
    println!("== create + pay through the merchant API (order + prepay + client parameters)");
    for &api in &apis {
        for &(c, n) in &levels {
            let b = bench.clone();
            let tokens = tokens.clone();
            let stats = run(c, n, move |i| {
                let b = b.clone();
                let token = tokens[i % tokens.len()].clone();
                async move {
                    b.create_and_pay(&token, api).await?;
                    Ok(())
                }
            })
            .await;
            stats.print(&format!("create+pay miniprogram ({api})"), c);
        }
    }

    println!("== notifications processed (verify, decrypt, check, apply in one transaction)");
    for &api in &apis {
        for &(c, n) in &levels {
            // Orders paid at the simulator (its own notifications dropped) and WeChat's
            // notifications for them are prepared outside the timing.
            bench.control.notify_faults(NotifyFaults {
                drop: u32::try_from(n).unwrap_or(u32::MAX),
                ..NotifyFaults::default()
            });
            let mut jobs = Vec::with_capacity(n);
            let mut numbers = Vec::with_capacity(n);
            for i in 0..n {
                let no = bench.create_and_pay(&tokens[i % tokens.len()], api).await?;
                let order = bench.control.pay(Some(&bench.universe.mchid), &no, None)?;
                let paid = PaidAtSim {
                    transaction_id: order.transaction_id.clone().ok_or("no transaction id")?,
                    total: order.total,
                    openid: order.payer_openid.clone().ok_or("no payer")?,
                };
                let job = if api == "v3" {
                    bench.v3_notification(&no, c * 100_000 + i, &paid)?
                } else {
                    (
                        bench.v2_notification(&no, c * 100_000 + i, &paid)?,
                        Vec::new(),
                    )
                };
                jobs.push(job);
                numbers.push(no);
            }
            let jobs = Arc::new(jobs);
            let b = bench.clone();
            let stats = run(c, n, move |i| {
                let b = b.clone();
                let jobs = jobs.clone();
                async move {
                    let (body, headers) = &jobs[i];
                    let mut req = b
                        .http
                        .post(format!("{}/notify/{api}/pay", b.pick()))
                        .body(body.clone());
                    for (name, value) in headers {
                        req = req.header(*name, value);
                    }
                    let resp = req.send().await?;
                    let status = resp.status();
                    let text = resp.text().await?;
                    if !status.is_success() || (api == "v2" && !text.contains("SUCCESS")) {
                        return Err(format!("notification refused: {status} {text}").into());
                    }
                    Ok(())
                }
            })
            .await;
            stats.print(&format!("pay notification ({api})"), c);
            ledger.check(&bench, &numbers).await?;
        }
    }
    println!(
        "== ledger: {} paid orders checked against the simulator: {} lost, {} credited twice, {} differing",
        ledger.checked, ledger.lost, ledger.double, ledger.differing
    );
    if ledger.lost + ledger.double + ledger.differing > 0 {
        return Err("the ledger check failed".into());
    }
    Ok(())
}
