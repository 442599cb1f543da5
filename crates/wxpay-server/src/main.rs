//! `wxpay-server [--demo] [CONFIG.toml]`: starts the merchant backend.
//! `wxpay-server reconcile --date YYYY-MM-DD [--config CONFIG.toml]`: reconciles one date
//! against WeChat's trade bill, prints the report and exits (1 when differences remain).
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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // WXPAY_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if std::env::var("WXPAY_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
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
    let mut settings = match Settings::load(path.as_deref()) {
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
    if args.reconcile.is_some() {
        // A one-off run beside a serving instance: listen on a free port, run no worker.
        settings.server.port = 0;
        settings.worker.enabled = false;
    }
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
    if let Some(date) = args.reconcile {
        return reconcile(&app, &date).await;
    }
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

/// `reconcile --date`: one run, its report on stdout; exit 0 when nothing is left to look
/// at, 1 when differences were reported or the bill was refused or could not be had.
async fn reconcile(app: &Application, date: &str) -> std::process::ExitCode {
    let Ok(date) = wxpay_core::v3::bill::BillDate::parse(date) else {
        eprintln!("--date must be YYYY-MM-DD\n{USAGE}");
        return std::process::ExitCode::from(2);
    };
    match wxpay_server::reconcile::run(&app.state(), date).await {
        Ok(report) => {
            println!("{report}");
            let clean = report.run.outcome == wxpay_server::reconcile::outcome::RECONCILED
                && report
                    .differences
                    .iter()
                    .all(|d| d.resolution == "repaired");
            if clean {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!(
                "reconciliation failed: {}",
                wxpay_server::error::error_chain(&err)
            );
            std::process::ExitCode::FAILURE
        }
    }
}

const USAGE: &str = concat!(
    "usage: wxpay-server [--demo] [CONFIG.toml]\n",
    "       wxpay-server reconcile --date YYYY-MM-DD [--config CONFIG.toml]\n",
    "  CONFIG.toml  the configuration file (else $WXPAY_CONFIG); it needs a [merchant] section\n",
    "  --demo       run the local demo on the built-in simulator (same as demo = true)",
);

/// The command line.
#[derive(Debug, Default)]
struct Args {
    demo: bool,
    help: bool,
    config: Option<PathBuf>,
    /// `reconcile --date`: the date to reconcile.
    reconcile: Option<String>,
}

impl Args {
    fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Self, String> {
        let mut parsed = Self::default();
        let mut args = args.into_iter().peekable();
        let reconcile = args.peek().and_then(|a| a.to_str()) == Some("reconcile");
        if reconcile {
            args.next();
        }
        while let Some(arg) = args.next() {
            match arg.to_str() {
                Some("--date") if reconcile => {
                    let date = args.next().ok_or("--date needs a value")?;
                    parsed.reconcile = Some(date.to_string_lossy().into_owned());
                }
                Some("--config") if reconcile => {
                    let file = args.next().ok_or("--config needs a value")?;
                    parsed.config = Some(PathBuf::from(file));
                }
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
        if reconcile && parsed.reconcile.is_none() && !parsed.help {
            return Err("reconcile needs --date YYYY-MM-DD".into());
        }
        Ok(parsed)
    }
}
