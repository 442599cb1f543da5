//! `server.public_url` is where every `notify_url` points. WeChat refuses plain HTTP on a
//! public host (A.8), so a real merchant configuration with one must not start; plain HTTP
//! is fine on a loopback host (a local simulator) and on the embedded simulator's demo.

use serde_json::json;
use tempfile::TempDir;
use wxpay_core::v3::models::PrepayKind;
use wxpay_core::v3::paths::Endpoint;
use wxpay_server::app::{Application, StartError};
use wxpay_server::config::{Settings, VerifyMode};
use wxpay_sim::server::{RunningSim, Simulator};
use wxpay_sim::universe::Universe;

/// Builds a server for a generated merchant pointed at a fresh simulator, with `public_url`
/// (the simulator and the database directory are handed back to outlive the build).
async fn build(public_url: &str) -> (Result<Application, StartError>, RunningSim, TempDir) {
    let universe = Universe::generate().expect("universe");
    let mut config = universe.sim_config();
    config.tls = None;
    let sim = Simulator::start(config).await.expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.server.public_url = Some(public_url.to_owned());
    settings.database.url = format!("sqlite://{}", dir.path().join("server.db").display());
    settings.merchant = Some(wxpay_server::embedded::merchant_settings(
        &universe,
        VerifyMode::Certificate,
    ));
    wxpay_server::embedded::point_at(&mut settings, &sim.base_url());
    (Application::build(settings).await, sim, dir)
}

#[tokio::test]
async fn a_plain_http_public_url_on_a_public_host_stops_the_start() {
    for url in ["http://pay.example.com", "http://10.1.2.3:8080"] {
        let (built, sim, _dir) = build(url).await;
        sim.shutdown().await;
        let Err(err) = built else {
            panic!("{url}: WeChat would refuse every notify_url; must not start")
        };
        let chain = wxpay_server::error::error_chain(&err);
        assert!(
            chain.contains("public_url") && chain.contains("https"),
            "{url}: {chain}"
        );
    }
}

#[tokio::test]
async fn https_or_a_loopback_host_starts() {
    for url in [
        "https://pay.example.com",
        "http://127.0.0.1:8080",
        "http://localhost:8080/",
    ] {
        let (built, sim, _dir) = build(url).await;
        let app = built.unwrap_or_else(|e| panic!("{url} must start: {e:?}"));
        assert_eq!(app.state().public_url, url.trim_end_matches('/'));
        sim.shutdown().await;
    }
}

/// The embedded demo has no WeChat to reach it: its own simulator is told to accept the
/// server's plain-HTTP host (as WeChat does for a private line), whatever interface it is.
#[tokio::test]
async fn the_embedded_simulator_accepts_the_demo_servers_plain_http_host() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.server.public_url = Some("http://192.168.1.5:8080".into());
    settings.demo = true;
    settings.database.url = format!("sqlite://{}", dir.path().join("server.db").display());
    let app = Application::build(settings)
        .await
        .expect("the embedded demo starts on a LAN address");
    assert!(app.simulator_url().is_some());
    let state = app.state();
    let appid = state
        .apps
        .official_account
        .as_ref()
        .map(|a| a.appid.clone())
        .expect("official account");
    let body = json!({
        "appid": appid, "mchid": state.v3.mchid().as_str(), "description": "demo",
        "out_trade_no": "DEMOLAN0001", "notify_url": format!("{}/notify/v3/pay", state.public_url),
        "amount": { "total": 1, "currency": "CNY" },
    });
    let answer: serde_json::Value = state
        .v3
        .post(&Endpoint::Prepay(PrepayKind::Native), &body)
        .await
        .expect("the embedded simulator takes the demo's notify_url");
    assert!(answer["code_url"].is_string(), "{answer}");
}
