//! `wxpay-sim init DIR` writes `merchant.toml`, a complete configuration of this server:
//! loaded through the server's own loader (unknown keys refused), it runs against a
//! simulator started from the `sim.toml` written beside it, on the ports `init` was given.

use serde_json::json;
use wxpay_server::config::{Settings, VerifyMode};
use wxpay_sim::config::SimConfig;
use wxpay_sim::server::Simulator;
use wxpay_sim::universe::Universe;

use crate::helpers::TestApp;

/// A port nobody listens on right now (bound, read, released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test]
async fn init_output_runs_the_server_against_the_simulator() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (port, tls_port) = (free_port(), free_port());
    let universe = Universe::generate().expect("universe");
    // What `wxpay-sim init DIR --listen … --tls-listen …` runs.
    universe
        .write_dir(
            dir.path(),
            &format!("127.0.0.1:{port}"),
            &format!("127.0.0.1:{tls_port}"),
        )
        .expect("init");

    // What `wxpay-sim serve --config DIR/sim.toml` runs.
    let sim_config = SimConfig::load(&dir.path().join("sim.toml")).expect("sim.toml");
    sim_config.validate().expect("valid sim.toml");
    let sim = Simulator::start(sim_config).await.expect("simulator");
    assert_eq!(sim.port(), port, "the simulator listens where init said");

    // What `wxpay-server DIR/merchant.toml` runs; only the server's own port is moved off
    // 8080 (through the ordinary WXPAY_ layer) so parallel tests do not collide.
    let snippet = std::fs::read_to_string(dir.path().join("merchant.toml")).expect("read");
    assert!(
        !snippet.contains(universe.apiv3_key.expose())
            && !snippet.contains(universe.apiv2_key.expose()),
        "secrets are referenced by file, never inline"
    );
    let settings = Settings::load_with_env(
        Some(&dir.path().join("merchant.toml")),
        vec![("WXPAY_SERVER__PORT".to_owned(), "0".to_owned())],
    )
    .expect("merchant.toml fits the server's schema");
    let merchant = settings.merchant.as_ref().expect("[merchant]");
    assert_eq!(merchant.mchid, universe.mchid);
    assert_eq!(merchant.serial_no, universe.merchant.serial);
    assert_eq!(merchant.verify_mode, VerifyMode::Certificate);
    assert_eq!(settings.upstream.base_url, sim.base_url());
    assert_eq!(settings.upstream.open_api_base_url, sim.base_url());
    assert_eq!(
        settings.upstream.failover_url(),
        None,
        "never the real host"
    );
    assert_eq!(settings.upstream.secapi_base_url, sim.tls_base_url());
    let db = &settings.database.url;
    assert!(
        db.starts_with("sqlite:///") && db.ends_with("/merchant.db"),
        "an absolute database path next to the universe: {db}"
    );

    let admin_token =
        std::fs::read_to_string(dir.path().join("admin_token.txt")).expect("admin token file");
    let app = TestApp::launch(settings, sim, universe, dir).await;

    // v3: a mini-program payment through to the notification.
    let (token, _) = app.login_miniprogram().await;
    let no = app.create_order(&token).await;
    let (status, body) = app.pay(&token, &no, "miniprogram").await;
    assert_eq!(status, 200, "{body}");
    app.control.pay(Some(app.mchid()), &no, None).expect("pay");
    let order = app.wait_state(&no, "SUCCESS").await;
    assert!(order.transaction_id.is_some());

    // v2 with a refund over mutual TLS: the client certificate, the simulator's CA and the
    // secapi listener all come from the snippet's files.
    let v2 = app.create_order(&token).await;
    let (status, body) = app
        .post(
            &format!("/api/orders/{v2}/pay"),
            Some(&token),
            json!({ "channel": "native", "api_version": "v2" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.control
        .pay(Some(app.mchid()), &v2, None)
        .expect("pay v2");
    app.wait_state(&v2, "SUCCESS").await;
    // Refunds need the staff credential; the snippet points at the generated token file.
    let (status, refund) = app
        .post_admin(
            &format!("/api/orders/{v2}/refunds"),
            admin_token.trim(),
            None,
            json!({ "amount_fen": 100 }),
        )
        .await;
    assert_eq!(status, 200, "{refund}");
    let out_refund_no = refund["out_refund_no"].as_str().expect("out_refund_no");
    app.control
        .refund_action(Some(app.mchid()), out_refund_no, "succeed")
        .expect("the simulator received the refund over mutual TLS");
    app.stop().await;
}
