//! Several `wxpay-server` processes on one PostgreSQL database and one simulator, as a
//! merchant runs them behind a load balancer. Each test gets a database of its own on the
//! server `WXPAY_TEST_POSTGRES_URL` names (`scripts/with-postgres.sh` starts one; the
//! `scripts/test.sh` step always does). They are `#[ignore]`d so a plain `cargo test` reports
//! them as not run; run them with `-- --include-ignored`, where a missing URL fails them.
//!
//! Needs the `failpoints` feature for the SIGKILL test (the test command builds with
//! `--all-features`).

#![cfg(unix)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use wxpay_sim::config::AppKind;
use wxpay_sim::control::SimControl;
use wxpay_sim::faults::{FaultKind, FaultSpec, NotifyFaults};
use wxpay_sim::server::RunningSim;
use wxpay_sim::universe::Universe;

#[path = "support/process.rs"]
mod process;
#[path = "support/wait.rs"]
mod wait;
use process::{simulator_with_files, ServerProcess};
use wait::until;

/// Every instance's admin token (it also guards `/metrics`).
const METRICS_TOKEN: &str = "multi-instance-admin-token-0123456789";

/// The value of `series` (`name{labels}`) in an instance's `/metrics`, 0 when absent.
async fn metric(http: &reqwest::Client, url: &str, series: &str) -> f64 {
    let text = http
        .get(format!("{url}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The PostgreSQL server to test on (these tests are not run without one).
fn postgres_url() -> String {
    std::env::var("WXPAY_TEST_POSTGRES_URL")
        .expect("WXPAY_TEST_POSTGRES_URL names the PostgreSQL server (scripts/with-postgres.sh)")
}

/// One simulator, one fresh database, the universe's `merchant.toml`.
struct World {
    sim: RunningSim,
    product: tokio::sync::OnceCell<String>,
    control: SimControl,
    universe: Universe,
    config: PathBuf,
    database_url: String,
    db: PgPool,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start(postgres: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (universe, sim, config) = simulator_with_files(dir.path()).await;
        // A database of its own, beside the one the URL names.
        let name = format!("mi_{}", std::process::id()) + &random_suffix();
        let admin = PgPool::connect(postgres).await.expect("connect postgres");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        let (base, _) = postgres.rsplit_once('/').expect("a database in the URL");
        let database_url = format!("{base}/{name}");
        let db = PgPool::connect(&database_url).await.expect("the database");
        Self {
            control: sim.control(),
            sim,
            product: tokio::sync::OnceCell::new(),
            universe,
            config,
            database_url,
            db,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Starts an instance with `env` on top of the common settings.
    async fn server(&self, env: &[(&str, &str)]) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wxpay-server"));
        command
            .arg(&self.config)
            .env_clear()
            .env("WXPAY_SERVER__PORT", "0")
            .env("WXPAY_DATABASE__URL", &self.database_url)
            .env("WXPAY_DATABASE__MAX_CONNECTIONS", "8")
            .env("WXPAY_LIMITS__LOGIN_PER_MINUTE", "100000")
            .env("WXPAY_LIMITS__ORDERS_PER_MINUTE", "100000")
            .env("WXPAY_LIMITS__PAY_PER_MINUTE", "100000")
            .env("WXPAY_WORKER__ENABLED", "false")
            .env("WXPAY_SERVER__ADMIN_TOKEN", METRICS_TOKEN)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stderr(Stdio::inherit());
        ServerProcess::start(&mut command).await
    }

    async fn post(&self, url: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.http.post(url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Logs a new mini-program user in at `server`; returns the session token.
    async fn login(&self, server: &str) -> String {
        let appid = self.universe.appid(AppKind::MiniProgram).expect("app");
        let (code, _) = self.control.mint_login_code(appid, None).expect("code");
        let (status, login) = self
            .post(
                &format!("{server}/api/login/miniprogram"),
                None,
                json!({ "code": code }),
            )
            .await;
        assert_eq!(status, 200, "{login}");
        login["token"].as_str().expect("token").to_owned()
    }

    /// Creates an order at `server` and prepays it; returns its number.
    async fn prepaid_order(&self, server: &str, token: &str) -> String {
        let product = self
            .product
            .get_or_init(|| async {
                let products: Value = self
                    .http
                    .get(format!("{server}/api/products"))
                    .send()
                    .await
                    .expect("products")
                    .json()
                    .await
                    .expect("products json");
                products["products"][0]["id"]
                    .as_str()
                    .expect("a product")
                    .to_owned()
            })
            .await;
        let (status, order) = self
            .post(
                &format!("{server}/api/orders"),
                Some(token),
                json!({ "items": [{ "product_id": product, "quantity": 1 }] }),
            )
            .await;
        assert_eq!(status, 200, "{order}");
        let no = order["out_trade_no"].as_str().expect("number").to_owned();
        let (status, paid) = self
            .post(
                &format!("{server}/api/orders/{no}/pay"),
                Some(token),
                json!({ "channel": "miniprogram" }),
            )
            .await;
        assert_eq!(status, 200, "{paid}");
        no
    }

    fn pay_at_wechat(&self, no: &str) {
        self.control
            .pay(Some(&self.universe.mchid), no, None)
            .expect("the payer pays");
    }

    /// Counts calls of a simulator endpoint from now on (a pass-through fault per call).
    fn count_calls(&self, endpoint: &str) {
        self.control
            .arm_fault(FaultSpec {
                endpoint: endpoint.into(),
                kind: FaultKind::Latency,
                count: COUNTER,
                delay_ms: Some(0),
            })
            .expect("arm counter");
    }

    /// Calls of `endpoint` since [`World::count_calls`] (what its counter lost).
    async fn calls(&self, endpoint: &str) -> u64 {
        let faults: Value = self
            .http
            .get(format!("{}/__sim/faults", self.sim.base_url()))
            .send()
            .await
            .expect("list faults")
            .json()
            .await
            .expect("faults json");
        let left: u64 = faults["api"][endpoint]
            .as_array()
            .map(|queue| queue.iter().filter_map(|f| f["count"].as_u64()).sum())
            .unwrap_or(0);
        u64::from(COUNTER) - left
    }

    async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.db)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The ledger check of one order: state, amount and transaction id as WeChat holds
    /// them, and the payment credited exactly once.
    async fn ledger_check(&self, no: &str) {
        let (state, amount, transaction): (String, i64, Option<String>) = sqlx::query_as(
            "SELECT state, amount_fen, transaction_id FROM orders WHERE out_trade_no = $1",
        )
        .bind(no)
        .fetch_one(&self.db)
        .await
        .expect("order row");
        let sim = self
            .control
            .order(Some(&self.universe.mchid), no)
            .expect("the simulator's order");
        assert_eq!(state, sim.trade_state.as_str(), "{no}: state");
        assert_eq!(u64::try_from(amount).ok(), Some(sim.total), "{no}: amount");
        assert_eq!(transaction, sim.transaction_id, "{no}: transaction id");
        let credited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit WHERE entity = 'order' AND entity_id = $1 AND to_state = 'SUCCESS'",
        )
        .bind(no)
        .fetch_one(&self.db)
        .await
        .expect("audit");
        assert_eq!(credited, 1, "{no}: credited exactly once");
    }
}

/// More calls than a test makes ([`World::count_calls`]).
const COUNTER: u32 = 100_000;

fn random_suffix() -> String {
    wxpay_server::ids::random_id("").to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/with-postgres.sh, then -- --include-ignored"]
async fn one_notification_at_two_instances_at_once_is_credited_once() {
    let postgres = postgres_url();
    let world = World::start(&postgres).await;
    let servers = [
        world.server(&[]).await,
        world.server(&[]).await,
        world.server(&[]).await,
    ];
    let mut tokens = Vec::new();
    for server in &servers {
        tokens.push(world.login(&server.url).await);
    }
    const ROUNDS: usize = 30;
    let mut orders = Vec::new();
    for round in 0..ROUNDS {
        let (first, second) = (round % 3, (round + 1) % 3);
        let no = world
            .prepaid_order(&servers[first].url, &tokens[first])
            .await;
        // The notification goes to the order's instance and, at the same moment, a copy
        // with the same id to the next one.
        world.control.notify_faults(NotifyFaults {
            duplicate: 1,
            mirror_to: Some(servers[second].url.clone()),
            ..NotifyFaults::default()
        });
        world.pay_at_wechat(&no);
        orders.push((no, first, second));
    }
    until(
        "every copy is acknowledged",
        Duration::from_secs(60),
        || async {
            let deliveries = world.control.deliveries();
            orders.iter().all(|(no, _, _)| {
                let mine: Vec<_> = deliveries
                    .iter()
                    .filter(|d| d.out_trade_no == *no)
                    .collect();
                mine.len() == 2 && mine.iter().all(|d| d.status == "acknowledged")
            })
        },
    )
    .await;
    let deliveries = world.control.deliveries();
    for (no, first, second) in &orders {
        let urls: Vec<&str> = deliveries
            .iter()
            .filter(|d| d.out_trade_no == *no)
            .map(|d| d.url.as_str())
            .collect();
        assert!(urls[0].starts_with(&servers[*first].url), "{urls:?}");
        assert!(urls[1].starts_with(&servers[*second].url), "{urls:?}");
        world.ledger_check(no).await;
        let (kept, verified): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(verified_id) FROM notifications WHERE out_trade_no = $1",
        )
        .bind(no)
        .fetch_one(&world.db)
        .await
        .expect("notifications");
        assert_eq!(
            (kept, verified),
            (2, 1),
            "{no}: both receipts kept, one applied"
        );
    }
    // What the instances report: summed over the three, every copy the simulator sent is
    // counted once, as applied (one per order) or as a duplicate (the other copy).
    let mut applied = 0.0;
    let mut duplicates = 0.0;
    for server in &servers {
        let series = |outcome: &str| {
            format!("wxpay_notifications_total{{kind=\"v3_pay\",outcome=\"{outcome}\"}}")
        };
        applied += metric(&world.http, &server.url, &series("applied")).await;
        duplicates += metric(&world.http, &server.url, &series("duplicate")).await;
    }
    assert_eq!((applied, duplicates), (ROUNDS as f64, ROUNDS as f64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/with-postgres.sh, then -- --include-ignored"]
async fn three_workers_query_each_stale_order_once_per_round() {
    let postgres = postgres_url();
    let world = World::start(&postgres).await;
    // A round: an order is queried once it is an hour old and its last check an hour old.
    let worker = [
        ("WXPAY_WORKER__ENABLED", "true"),
        ("WXPAY_WORKER__INTERVAL_SECS", "1"),
        ("WXPAY_WORKER__PENDING_AFTER_SECS", "3600"),
        ("WXPAY_WORKER__CLOSE_AFTER_SECS", "604800"),
    ];
    let servers = [
        world.server(&worker).await,
        world.server(&worker).await,
        world.server(&worker).await,
    ];
    const ORDERS: usize = 300;
    let mut jobs = Vec::new();
    for server in &servers {
        let token = world.login(&server.url).await;
        let url = server.url.clone();
        let world = &world;
        jobs.push(async move {
            let mut numbers = Vec::new();
            for _ in 0..ORDERS / 3 {
                numbers.push(world.prepaid_order(&url, &token).await);
            }
            numbers
        });
    }
    let created: usize = join_all(jobs).await.iter().map(Vec::len).sum();
    assert_eq!(created, ORDERS);
    world.count_calls("v3.query");
    // Everything goes stale at once: the next passes of three workers share them out.
    world
        .scalar("WITH aged AS (UPDATE orders SET created_at = created_at - 7200 RETURNING 1) SELECT COUNT(*) FROM aged")
        .await;
    until(
        "every order is checked",
        Duration::from_secs(90),
        || async {
            world
                .scalar("SELECT COUNT(*) FROM orders WHERE last_checked_at IS NULL")
                .await
                == 0
        },
    )
    .await;
    // Two more passes of every worker (so at least one whole pass began after the last
    // check): nothing is stale, nothing is asked again.
    let passes = "wxpay_worker_passes_total";
    let mut before = Vec::new();
    for server in &servers {
        before.push(metric(&world.http, &server.url, passes).await);
    }
    until(
        "every worker makes two more passes",
        Duration::from_secs(30),
        || async {
            for (server, seen) in servers.iter().zip(&before) {
                if metric(&world.http, &server.url, passes).await < seen + 2.0 {
                    return false;
                }
            }
            true
        },
    )
    .await;
    assert_eq!(
        world.calls("v3.query").await,
        ORDERS as u64,
        "one query per order"
    );
    drop(servers);
}

/// Awaits every future concurrently (on this task).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
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
    outputs.into_iter().flatten().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/with-postgres.sh, then -- --include-ignored"]
async fn the_access_token_is_fetched_once_per_expiry_across_instances() {
    let postgres = postgres_url();
    let world = World::start(&postgres).await;
    let servers = [
        world.server(&[]).await,
        world.server(&[]).await,
        world.server(&[]).await,
    ];
    world.count_calls("login.token");
    world.count_calls("login.ticket");
    let configs = || {
        let mut requests = Vec::new();
        for round in 0..10 {
            for server in &servers {
                let url = format!(
                    "{}/api/jssdk/config?url=https%3A%2F%2Fshop.example%2Fpay%3Fr%3D{round}",
                    server.url
                );
                let http = world.http.clone();
                requests.push(async move {
                    let response = http.get(url).send().await.expect("config");
                    let status = response.status().as_u16();
                    (status, response.text().await.unwrap_or_default())
                });
            }
        }
        join_all(requests)
    };
    for (status, body) in configs().await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        world.calls("login.token").await,
        1,
        "one token for all instances"
    );
    assert_eq!(
        world.calls("login.ticket").await,
        1,
        "one ticket for all instances"
    );

    // WeChat expires the token and the ticket runs out: every instance needs a ticket
    // again, its token is refused (42001) once, one instance fetches the next token.
    let token: String =
        sqlx::query_scalar("SELECT value FROM credentials WHERE name LIKE 'access_token:%'")
            .fetch_one(&world.db)
            .await
            .expect("the shared token");
    world.control.expire_access_token(&token).expect("expire");
    sqlx::query("UPDATE credentials SET expires_at = 0 WHERE name LIKE 'jsapi_ticket:%'")
        .execute(&world.db)
        .await
        .expect("ticket runs out");
    for (status, body) in configs().await {
        assert_eq!(status, 200, "no request fails on the refused token: {body}");
    }
    assert_eq!(
        world.calls("login.token").await,
        2,
        "one more token, for all"
    );
    assert_eq!(
        world.calls("login.ticket").await,
        3,
        "the refused ask, then one ticket for all"
    );
    drop(servers);
}

#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/with-postgres.sh, then -- --include-ignored"]
async fn an_instance_killed_holding_work_loses_nothing() {
    let postgres = postgres_url();
    let world = World::start(&postgres).await;
    // The survivors look at an order once it is 8 s old; the doomed instance at once, and
    // it stops for good right after claiming its first batch.
    let survivor = [
        ("WXPAY_WORKER__ENABLED", "true"),
        ("WXPAY_WORKER__INTERVAL_SECS", "1"),
        ("WXPAY_WORKER__PENDING_AFTER_SECS", "8"),
    ];
    let first = world.server(&survivor).await;
    let second = world.server(&survivor).await;
    const ORDERS: usize = 40;
    let token = world.login(&first.url).await;
    // WeChat's notifications are lost: only the workers can learn of the payments.
    world.control.notify_faults(NotifyFaults {
        drop: u32::try_from(ORDERS).expect("count"),
        ..NotifyFaults::default()
    });
    let mut orders = Vec::new();
    for _ in 0..ORDERS {
        let no = world.prepaid_order(&first.url, &token).await;
        world.pay_at_wechat(&no);
        orders.push(no);
    }
    let doomed = world
        .server(&[
            ("WXPAY_WORKER__ENABLED", "true"),
            ("WXPAY_WORKER__INTERVAL_SECS", "1"),
            ("WXPAY_WORKER__PENDING_AFTER_SECS", "0"),
            ("WXPAY_WORKER__LEASE_SECS", "5"),
            ("FAILPOINTS", "worker::after_claim=sleep(600000)"),
        ])
        .await;
    until("the doomed instance holds leases", Duration::from_secs(30), || async {
        world
            .scalar("SELECT COUNT(*) FROM orders WHERE lease_owner IS NOT NULL AND state = 'NOTPAY'")
            .await
            > 0
    })
    .await;
    let held = world
        .scalar(
            "SELECT COUNT(*) FROM orders WHERE lease_owner IS NOT NULL AND last_checked_at IS NULL",
        )
        .await;
    doomed.kill9();
    until(
        "the survivors credit every order",
        Duration::from_secs(90),
        || async {
            world
                .scalar("SELECT COUNT(*) FROM orders WHERE state <> 'SUCCESS'")
                .await
                == 0
        },
    )
    .await;
    assert!(held > 0, "the killed instance held work");
    for no in &orders {
        world.ledger_check(no).await;
    }
    drop((first, second));
}
