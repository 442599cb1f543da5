//! Rows 5 and 6: orders placed against the simulator and notifications processed, driven
//! at a fixed concurrency for a fixed time.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wxpay_core::invoke::{JsapiPayParams, NonceStr, PayTimestamp};
use wxpay_core::v3::models::{PrepayIdResponse, PrepayKind};
use wxpay_core::v3::paths::Endpoint;
use wxpay_server::config::VerifyMode;
use wxpay_server::upstream::transport::{client_builder, Transport};
use wxpay_server::upstream::v3::{MerchantIdentity, V3Client};

use crate::universe::Universe;
use crate::BoxError;

/// What one timed run did.
pub struct Outcome {
    pub ops: usize,
    pub errors: usize,
    pub secs: f64,
    pub first_error: Option<String>,
    pub sample: Option<Value>,
}

impl Outcome {
    pub fn to_json(&self, implementation: &str, row: &str) -> String {
        json!({
            "impl": implementation, "row": row,
            "ops_per_s": if self.secs > 0.0 { self.ops as f64 / self.secs } else { 0.0 },
            "ops": self.ops, "errors": self.errors, "secs": self.secs,
            "first_error": self.first_error, "sample": self.sample,
        })
        .to_string()
    }
}

struct Tally {
    ops: usize,
    errors: usize,
    last: Option<Instant>,
    first_error: Option<String>,
    sample: Option<Value>,
}

/// Runs `op(i)` on `concurrency` tasks, i = 0, 1, … up to `limit`, until `warmup + measure`
/// has passed. Completions inside the measurement window count; a run that runs out of
/// inputs ends at its last completion.
pub async fn drive<F, Fut>(
    concurrency: usize,
    limit: usize,
    warmup: Duration,
    measure: Duration,
    op: F,
) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, BoxError>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let begin = Instant::now();
    let window_start = begin + warmup;
    let window_end = window_start + measure;
    let tally = Arc::new(Mutex::new(Tally {
        ops: 0,
        errors: 0,
        last: None,
        first_error: None,
        sample: None,
    }));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (op, next, tally) = (op.clone(), next.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < window_end {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let result = op(i).await;
                let done = Instant::now();
                let Ok(mut t) = tally.lock() else { break };
                match result {
                    Ok(value) if done >= window_start && done <= window_end => {
                        t.ops += 1;
                        t.last = Some(done);
                        if t.sample.is_none() && !value.is_null() {
                            t.sample = Some(value);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        t.errors += 1;
                        if t.first_error.is_none() {
                            t.first_error = Some(e.to_string());
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let t = tally.lock().map(|mut t| {
        std::mem::replace(
            &mut *t,
            Tally {
                ops: 0,
                errors: 0,
                last: None,
                first_error: None,
                sample: None,
            },
        )
    });
    match t {
        Ok(t) => {
            let end = t.last.map_or(window_end, |last| last.min(window_end));
            Outcome {
                ops: t.ops,
                errors: t.errors,
                secs: end.saturating_duration_since(window_start).as_secs_f64(),
                first_error: t.first_error,
                sample: t.sample,
            }
        }
        Err(_) => Outcome {
            ops: 0,
            errors: 1,
            secs: 0.0,
            first_error: Some("tally poisoned".into()),
            sample: None,
        },
    }
}

async fn post_json(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<Value, BoxError> {
    let mut req = http.post(url).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        return Err(format!("{url}: {status} {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}

/// The prepay body the library loop and the peers send (same fields, same sizes).
pub fn prepay_body(u: &Universe, out_trade_no: &str) -> Value {
    json!({
        "appid": u.appid.as_str(), "mchid": u.mchid.as_str(), "description": "bench-peers order",
        "out_trade_no": out_trade_no, "notify_url": "http://127.0.0.1:9/notify/v3/pay",
        "amount": { "total": 1, "currency": "CNY" }, "payer": { "openid": "oBenchPeersPayer0001" }
    })
}

/// Row 5, wxpay-core + wxpay-server's upstream client as a library: prepay at the
/// simulator (signed request, verified answer), then the signed client parameters.
pub async fn order_library(
    u: Arc<Universe>,
    sim_url: &str,
    concurrency: usize,
    seconds: f64,
    prefix: &str,
) -> Result<Outcome, BoxError> {
    let transport = Transport::new(
        client_builder().pool_max_idle_per_host(64).build()?,
        vec![sim_url.to_owned()],
        0,
        Duration::from_millis(50),
    );
    let identity = MerchantIdentity {
        mchid: u.mchid.clone(),
        serial: u.merchant_serial.clone(),
        key: Arc::new(wxpay_core::keys::PrivateKey::from_pkcs8_pem(
            &std::fs::read_to_string(u.dir.join("apiclient_key.pem"))?,
        )?),
        apiv3_key: u.apiv3_key.clone(),
    };
    let client = Arc::new(V3Client::new(
        transport,
        identity,
        VerifyMode::Certificate,
        None,
        wxpay_server::clock::Clock::system(),
    ));
    client.refresh_certificates().await?;
    let prefix = prefix.to_owned();
    Ok(drive(
        concurrency,
        usize::MAX,
        warmup(seconds),
        secs(seconds),
        move |i| {
            let (client, u, prefix) = (client.clone(), u.clone(), prefix.clone());
            async move {
                let body = prepay_body(&u, &format!("{prefix}{i}"));
                let answer: PrepayIdResponse = client
                    .post(&Endpoint::Prepay(PrepayKind::Jsapi), &body)
                    .await?;
                let params = JsapiPayParams::sign_v3(
                    client.signer(),
                    &u.appid,
                    &answer.prepay_id,
                    &PayTimestamp::from_unix(wxpay_server::clock::Clock::system().now())?,
                    &NonceStr::new(wxpay_server::ids::nonce()?)?,
                )?;
                Ok(params.to_json())
            }
        },
    )
    .await)
}

/// Logs `n` payers in through the server (codes minted at the simulator's control API).
async fn login(
    http: &reqwest::Client,
    u: &Universe,
    server: &str,
    sim: &str,
    n: usize,
) -> Result<Vec<String>, BoxError> {
    let mut tokens = Vec::with_capacity(n);
    for _ in 0..n {
        let code = post_json(
            http,
            &format!("{sim}/__sim/login/code"),
            None,
            &json!({ "appid": u.appid.as_str() }),
        )
        .await?;
        let code = code["code"].as_str().ok_or("no login code")?;
        let session = post_json(
            http,
            &format!("{server}/api/login/miniprogram"),
            None,
            &json!({ "code": code }),
        )
        .await?;
        tokens.push(session["token"].as_str().ok_or("no token")?.to_owned());
    }
    Ok(tokens)
}

async fn create_order(
    http: &reqwest::Client,
    server: &str,
    token: &str,
) -> Result<Value, BoxError> {
    post_json(
        http,
        &format!("{server}/api/orders"),
        Some(token),
        &json!({ "items": [{ "product_id": "coffee", "quantity": 1 }] }),
    )
    .await
}

/// Creates `n` orders through the server's API, 32 at a time, for the payers in `tokens`;
/// returns `(out_trade_no, amount_fen)` of each.
async fn create_orders(
    http: &reqwest::Client,
    server: &str,
    tokens: &[String],
    n: usize,
) -> Result<Vec<(String, i64)>, BoxError> {
    let mut orders = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for start in (0..n).step_by(32) {
        for i in start..n.min(start + 32) {
            let (http, server) = (http.clone(), server.to_owned());
            let token = tokens[i % tokens.len()].clone();
            pending.push(tokio::spawn(async move {
                create_order(&http, &server, &token).await
            }));
        }
        for task in pending.drain(..) {
            let order = task.await??;
            let no = order["out_trade_no"].as_str().ok_or("no out_trade_no")?;
            let total = order["amount_fen"]
                .as_i64()
                .ok_or_else(|| format!("no amount_fen in {order}"))?;
            orders.push((no.to_owned(), total));
        }
    }
    Ok(orders)
}

/// Row 5 through wxpay-server's pay endpoint: `POST /api/orders/{no}/pay` places the order
/// at the simulator and answers the signed parameters for `wx.requestPayment`. The orders
/// themselves (`POST /api/orders`, the merchant's own bookkeeping, which the SDK loops do not
/// have) are created before the clock starts; `orders` of them, so a run can end early.
pub async fn order_server(
    u: Arc<Universe>,
    server: &str,
    sim: &str,
    concurrency: usize,
    seconds: f64,
    orders: usize,
) -> Result<Outcome, BoxError> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let tokens = login(&http, &u, server, sim, concurrency).await?;
    let created = create_orders(&http, server, &tokens, orders).await?;
    // Order i belongs to payer i % tokens.len(), as created.
    let jobs: Arc<Vec<(String, String)>> = Arc::new(
        created
            .into_iter()
            .enumerate()
            .map(|(i, (no, _))| (no, tokens[i % tokens.len()].clone()))
            .collect(),
    );
    let server = server.to_owned();
    let limit = jobs.len();
    Ok(drive(
        concurrency,
        limit,
        warmup(seconds),
        secs(seconds),
        move |i| {
            let (http, jobs, server) = (http.clone(), jobs.clone(), server.clone());
            async move {
                let (no, token) = &jobs[i];
                let paid = post_json(
                    &http,
                    &format!("{server}/api/orders/{no}/pay"),
                    Some(token),
                    &json!({ "channel": "miniprogram", "api_version": "v3" }),
                )
                .await?;
                Ok(paid["params"].clone())
            }
        },
    )
    .await)
}

/// Row 6 inputs: `n` signed pay notifications, one JSON line each
/// (`out_trade_no`, `total`, `body`, `headers`). With `server`, the orders are created
/// there first (the server refuses a payment for an order it does not hold); otherwise
/// they are named `PREFIX<i>` for 1 fen and the peer's handler creates them at start.
pub async fn make_notifications(
    u: &Universe,
    out: &Path,
    n: usize,
    prefix: &str,
    server: Option<(&str, &str)>,
) -> Result<(), BoxError> {
    let orders: Vec<(String, i64)> = match server {
        Some((server, sim)) => {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?;
            let tokens = login(&http, u, server, sim, 8).await?;
            create_orders(&http, server, &tokens, n).await?
        }
        None => (0..n).map(|i| (format!("{prefix}{i}"), 1)).collect(),
    };
    let now = wxpay_server::clock::Clock::system().now();
    let mut lines = String::new();
    for (i, (no, total)) in orders.iter().enumerate() {
        let id = format!("{prefix}-EV-{i:08}");
        let (body, _) = u.pay_notification(&id, no, &format!("42{:026}", i), *total, 1024)?;
        let headers = u.platform_headers(now, &format!("{prefix}N{i:08}"), &body)?;
        lines.push_str(
            &json!({ "out_trade_no": no, "total": total, "body": body, "headers": headers })
                .to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(out, lines)?;
    Ok(())
}

/// Row 6: posts the prepared notifications to `url` at `concurrency`; an answer counts
/// when it is 200 or 204 (what WeChat accepts as an acknowledgement).
pub async fn post_notifications(
    url: &str,
    file: &Path,
    concurrency: usize,
    seconds: f64,
) -> Result<Outcome, BoxError> {
    let mut jobs = Vec::new();
    for line in std::fs::read_to_string(file)?.lines() {
        let v: Value = serde_json::from_str(line)?;
        let body = v["body"].as_str().ok_or("no body")?.to_owned();
        let headers: Vec<(String, String)> = v["headers"]
            .as_object()
            .ok_or("no headers")?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        jobs.push((body, headers));
    }
    let jobs = Arc::new(jobs);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let url = url.to_owned();
    let limit = jobs.len();
    Ok(drive(
        concurrency,
        limit,
        Duration::from_millis(200),
        secs(seconds),
        move |i| {
            let (http, jobs, url) = (http.clone(), jobs.clone(), url.clone());
            async move {
                let (body, headers) = &jobs[i];
                let mut req = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                for (k, v) in headers {
                    req = req.header(k.as_str(), v.as_str());
                }
                let resp = req.send().await?;
                let status = resp.status().as_u16();
                let text = resp.text().await?;
                if status != 200 && status != 204 {
                    return Err(format!("notification refused: {status} {text}").into());
                }
                Ok(Value::Null)
            }
        },
    )
    .await)
}

fn warmup(seconds: f64) -> Duration {
    Duration::from_secs_f64((seconds / 5.0).clamp(0.2, 1.0))
}

fn secs(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds)
}
