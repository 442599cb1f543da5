//! Crash recovery: the `wxpay-server` binary, a real simulator and a real SQLite file. The
//! server is stopped with SIGKILL at a crash point (a `fail` point that holds the request
//! still) and started again on the same port and database; WeChat's retries and the worker
//! must then finish the work exactly once. Each scenario ends with a ledger check against
//! the simulator.
//!
//! Needs the `failpoints` feature (the test command builds with `--all-features`).

#![cfg(all(unix, feature = "failpoints"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::SqlitePool;
use wxpay_sim::config::AppKind;
use wxpay_sim::control::SimControl;
use wxpay_sim::server::RunningSim;
use wxpay_sim::universe::Universe;

use crate::process::{simulator_with_files, ServerProcess};

/// Starts the binary on `config` (the universe's `merchant.toml`) with its database and port
/// overridden; `crash_points` is the `FAILPOINTS` value.
async fn start_server(config: &Path, db: &Path, port: u16, crash_points: &str) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxpay-server"));
    command
        .arg(config)
        .env_clear()
        .env("WXPAY_SERVER__PORT", port.to_string())
        .env("WXPAY_DATABASE__URL", format!("sqlite://{}", db.display()))
        .env("WXPAY_WORKER__ENABLED", "true")
        .env("WXPAY_WORKER__INTERVAL_SECS", "1")
        .env("WXPAY_WORKER__PENDING_AFTER_SECS", "0")
        .env("FAILPOINTS", crash_points)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit());
    ServerProcess::start(&mut command).await
}

/// The simulator, the universe's files and the server's database in one temporary folder.
struct World {
    sim: RunningSim,
    control: SimControl,
    universe: Universe,
    config: PathBuf,
    db: PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (universe, sim, config) = simulator_with_files(dir.path()).await;
        let db = dir.path().join("crash.db");
        Self {
            control: sim.control(),
            sim,
            universe,
            config,
            db,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn post(
        &self,
        url: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (u16, Value) {
        let mut request = self.http.post(url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Logs a mini-program user in, creates an order and prepays it; returns its number.
    async fn prepaid_order(&self, server: &str) -> String {
        let appid = self
            .universe
            .appid(AppKind::MiniProgram)
            .expect("mini-program");
        let (code, _) = self.control.mint_login_code(appid, None).expect("code");
        let (_, login) = self
            .post(
                &format!("{server}/api/login/miniprogram"),
                None,
                &[],
                json!({ "code": code }),
            )
            .await;
        let token = login["token"].as_str().expect("token").to_owned();
        let products: Value = self
            .http
            .get(format!("{server}/api/products"))
            .send()
            .await
            .expect("products")
            .json()
            .await
            .expect("products json");
        let product = products["products"][0]["id"].as_str().expect("a product");
        let (status, order) = self
            .post(
                &format!("{server}/api/orders"),
                Some(&token),
                &[],
                json!({ "items": [{ "product_id": product, "quantity": 1 }] }),
            )
            .await;
        assert_eq!(status, 200, "{order}");
        let no = order["out_trade_no"].as_str().expect("number").to_owned();
        let (status, paid) = self
            .post(
                &format!("{server}/api/orders/{no}/pay"),
                Some(&token),
                &[],
                json!({ "channel": "miniprogram" }),
            )
            .await;
        assert_eq!(status, 200, "{paid}");
        no
    }

    async fn pool(&self) -> SqlitePool {
        SqlitePool::connect(&format!("sqlite://{}", self.db.display()))
            .await
            .expect("the server's SQLite file")
    }

    /// Polls `probe` until it holds or `limit` passes.
    async fn until<F, Fut>(&self, what: &str, limit: Duration, probe: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        crate::wait::until(what, limit, probe).await
    }

    /// The ledger check: the server's state and amounts equal the simulator's, the payment
    /// was credited once, each refund applied once.
    async fn ledger_check(&self, no: &str, refunds: &[&str]) {
        let pool = self.pool().await;
        let (state, amount, refunded, transaction): (String, i64, i64, Option<String>) =
            sqlx::query_as(
                "SELECT state, amount_fen, refunded_fen, transaction_id FROM orders WHERE out_trade_no = ?",
            )
            .bind(no)
            .fetch_one(&pool)
            .await
            .expect("order row");
        let sim = self
            .control
            .order(Some(&self.universe.mchid), no)
            .expect("the simulator's order");
        assert_eq!(state, sim.trade_state.as_str(), "state");
        assert_eq!(u64::try_from(amount).ok(), Some(sim.total), "amount");
        assert_eq!(transaction, sim.transaction_id, "transaction id");
        assert_eq!(
            successes(&pool, "order", no).await,
            1,
            "the payment is credited exactly once"
        );
        let mut refunded_at_sim = 0;
        for out_refund_no in refunds {
            let (status, amount): (String, i64) =
                sqlx::query_as("SELECT status, amount_fen FROM refunds WHERE out_refund_no = ?")
                    .bind(out_refund_no)
                    .fetch_one(&pool)
                    .await
                    .expect("refund row");
            let at_sim: Value = self
                .http
                .get(format!("{}/__sim/refunds", self.sim.base_url()))
                .send()
                .await
                .expect("sim refunds")
                .json()
                .await
                .expect("sim refunds json");
            let matching: Vec<&Value> = at_sim
                .as_array()
                .expect("a list of refunds")
                .iter()
                .filter(|r| r["out_refund_no"] == *out_refund_no)
                .collect();
            assert_eq!(
                matching.len(),
                1,
                "one refund at WeChat for {out_refund_no}"
            );
            assert_eq!(status, matching[0]["status"].as_str().unwrap_or_default());
            assert_eq!(
                Some(amount),
                matching[0]["refund"].as_i64(),
                "refund amount"
            );
            if status == "SUCCESS" {
                refunded_at_sim += amount;
            }
            assert_eq!(
                successes(&pool, "refund", out_refund_no).await,
                1,
                "the refund is applied exactly once"
            );
        }
        assert_eq!(refunded, refunded_at_sim, "refunded amount");
        pool.close().await;
    }
}

/// How many times the audit trail shows `entity` becoming SUCCESS.
async fn successes(pool: &SqlitePool, entity: &str, id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit WHERE entity = ? AND entity_id = ? AND to_state = 'SUCCESS' AND from_state <> 'SUCCESS'",
    )
    .bind(entity)
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("audit")
}

async fn order_state(pool: &SqlitePool, no: &str) -> String {
    sqlx::query_scalar("SELECT state FROM orders WHERE out_trade_no = ?")
        .bind(no)
        .fetch_one(pool)
        .await
        .unwrap_or_default()
}

/// A port free now, for a server that must come back on the same one after a crash.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn killed_after_committing_a_notification_before_answering_it_the_retry_is_acknowledged_once()
{
    let world = World::start().await;
    let port = free_port();
    // The crash point holds every notification after its commit, before the answer.
    let server = start_server(
        &world.config,
        &world.db,
        port,
        "notify::after_commit=sleep(600000)",
    )
    .await;
    assert_eq!(server.port(), port);
    let no = world.prepaid_order(&server.url).await;
    world
        .control
        .pay(Some(&world.universe.mchid), &no, None)
        .expect("the payer pays");
    let pool = world.pool().await;
    world
        .until(
            "the payment is committed",
            Duration::from_secs(30),
            || async { order_state(&pool, &no).await == "SUCCESS" },
        )
        .await;
    pool.close().await;
    // Committed, WeChat never answered: the process dies here.
    server.kill9();
    let first = world
        .control
        .deliveries()
        .into_iter()
        .find(|d| d.out_trade_no == no)
        .expect("the delivery");
    assert_ne!(first.status, "acknowledged");

    let server = start_server(&world.config, &world.db, port, "").await;
    world
        .until(
            "WeChat's retry is acknowledged",
            Duration::from_secs(60),
            || async {
                world
                    .control
                    .deliveries()
                    .iter()
                    .any(|d| d.out_trade_no == no && d.status == "acknowledged")
            },
        )
        .await;
    world.ledger_check(&no, &[]).await;
    drop(server);
}

#[tokio::test]
async fn killed_during_a_refund_submission_it_is_claimed_again_and_completes_once() {
    let world = World::start().await;
    let port = free_port();
    let server = start_server(
        &world.config,
        &world.db,
        port,
        "refund::after_submit=sleep(600000)",
    )
    .await;
    let no = world.prepaid_order(&server.url).await;
    world
        .control
        .pay(Some(&world.universe.mchid), &no, None)
        .expect("the payer pays");
    let pool = world.pool().await;
    world
        .until(
            "the payment is recorded",
            Duration::from_secs(30),
            || async { order_state(&pool, &no).await == "SUCCESS" },
        )
        .await;
    // `wxpay-sim init` writes the staff token beside merchant.toml, which references it.
    let admin_token = std::fs::read_to_string(world.config.with_file_name("admin_token.txt"))
        .expect("admin token");
    // The refund request holds at the crash point once WeChat has it; answer never comes.
    let refund_url = format!("{}/api/orders/{no}/refunds", server.url);
    let admin = admin_token.trim().to_owned();
    let http = world.http.clone();
    let request = tokio::spawn(async move {
        http.post(refund_url)
            .header("x-admin-token", admin)
            .json(&json!({ "amount_fen": 1 }))
            .send()
            .await
    });
    let sim_refunds = || async {
        let at_sim: Value = world
            .http
            .get(format!("{}/__sim/refunds", world.sim.base_url()))
            .send()
            .await
            .expect("sim refunds")
            .json()
            .await
            .expect("json");
        at_sim.as_array().cloned().unwrap_or_default()
    };
    world
        .until("WeChat has the refund", Duration::from_secs(30), || async {
            !sim_refunds().await.is_empty()
        })
        .await;
    let reserved: Vec<String> =
        sqlx::query_scalar("SELECT out_refund_no FROM refunds WHERE out_trade_no = ?")
            .bind(&no)
            .fetch_all(&pool)
            .await
            .expect("refund rows");
    assert_eq!(reserved.len(), 1, "reserved before it was sent");
    server.kill9();
    assert!(
        request.await.expect("task").is_err(),
        "the caller saw the crash"
    );

    // Restarted: the worker finds the PROCESSING refund and asks WeChat about it (it is
    // still processing there); when WeChat completes it, the notification and the worker
    // both learn it, and it counts once.
    let server = start_server(&world.config, &world.db, port, "").await;
    world
        .until(
            "the worker has claimed the refund",
            Duration::from_secs(30),
            || async {
                let owner: Option<String> =
                    sqlx::query_scalar("SELECT lease_owner FROM refunds WHERE out_refund_no = ?")
                        .bind(&reserved[0])
                        .fetch_one(&pool)
                        .await
                        .unwrap_or_default();
                owner.is_some()
            },
        )
        .await;
    world
        .control
        .refund_action(Some(&world.universe.mchid), &reserved[0], "succeed")
        .expect("WeChat completes the refund");
    world
        .until("the refund completes", Duration::from_secs(60), || async {
            let status: String =
                sqlx::query_scalar("SELECT status FROM refunds WHERE out_refund_no = ?")
                    .bind(&reserved[0])
                    .fetch_one(&pool)
                    .await
                    .unwrap_or_default();
            status == "SUCCESS"
        })
        .await;
    pool.close().await;
    world.ledger_check(&no, &[reserved[0].as_str()]).await;
    drop(server);
}
