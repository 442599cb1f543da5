//! `wxpay-server [CONFIG.toml]`: starts the merchant backend.
//!
//! With no file and no `WXPAY_MERCHANT__…` variables it runs on its embedded defaults: a
//! SQLite file, the simulator in-process with a generated test universe, and the demo pages.

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;
use wxpay_server::app::Application;
use wxpay_server::config::Settings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Crash points named in FAILPOINTS; inert unless built with the `failpoints` feature.
    let _crash_points = fail::FailScenario::setup();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("WXPAY_CONFIG").map(PathBuf::from));
    let settings = match Settings::load(path.as_deref()) {
        Ok(s) => s,
        Err(err) => {
            eprintln!(
                "configuration error: {}",
                wxpay_server::error::error_chain(&err)
            );
            return std::process::ExitCode::from(2);
        }
    };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!(
                "start-up failed: {}",
                wxpay_server::error::error_chain(&err)
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let url = app.state().public_url.clone();
    println!("wxpay-server listening on {url}");
    if let Some(sim) = app.simulator_url() {
        println!("embedded wxpay-sim (test universe) on {sim}");
    }
    if let Some(token) = app.demo_admin_token() {
        // Demo only: the simulator's money. A real deployment configures server.admin_token.
        println!(
            "admin token for refunds (X-Admin-Token, demo only): {}",
            token.expose()
        );
    }
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
