//! `wxpay-server [--demo] [CONFIG.toml]`: starts the merchant backend.
//!
//! The configuration (file, else `WXPAY_CONFIG`, then `WXPAY_…` variables) must hold a
//! `[merchant]` section. `--demo` (or `demo = true`) runs the local demo instead: a SQLite
//! file, the simulator in-process with a generated test universe, and the demo pages.

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
    let args = match Args::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.help {
        println!("{USAGE}");
        return std::process::ExitCode::SUCCESS;
    }
    let path = args
        .config
        .or_else(|| std::env::var_os("WXPAY_CONFIG").map(PathBuf::from));
    let settings = match Settings::load(path.as_deref()) {
        Ok(mut s) => {
            s.demo |= args.demo;
            s
        }
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

const USAGE: &str = concat!(
    "usage: wxpay-server [--demo] [CONFIG.toml]\n",
    "  CONFIG.toml  the configuration file (else $WXPAY_CONFIG); it needs a [merchant] section\n",
    "  --demo       run the local demo on the built-in simulator (same as demo = true)",
);

/// The command line.
#[derive(Debug, Default)]
struct Args {
    demo: bool,
    help: bool,
    config: Option<PathBuf>,
}

impl Args {
    fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Self, String> {
        let mut parsed = Self::default();
        for arg in args {
            match arg.to_str() {
                Some("--demo") => parsed.demo = true,
                Some("-h" | "--help") => parsed.help = true,
                Some(flag) if flag.starts_with('-') => {
                    return Err(format!("unknown option {flag}"));
                }
                _ if parsed.config.is_some() => {
                    return Err("only one configuration file may be given".into());
                }
                _ => parsed.config = Some(PathBuf::from(arg)),
            }
        }
        Ok(parsed)
    }
}
