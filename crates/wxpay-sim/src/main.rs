//! `wxpay-sim` binary: `init DIR` writes a test universe; `serve --config FILE` runs it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wxpay_sim::{SimConfig, Simulator, Universe};

#[derive(Parser)]
#[command(
    name = "wxpay-sim",
    about = "A faithful local WeChat Pay (微信支付) for development and tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate keys, certificates, sim.toml and the matching merchant.toml into DIR.
    Init {
        /// Output directory (created when missing).
        dir: PathBuf,
        /// Address the generated sim.toml listens on.
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: String,
        /// Address of the mutual-TLS listener (v2 refunds) in the generated sim.toml.
        #[arg(long, default_value = "127.0.0.1:8701")]
        tls_listen: String,
    },
    /// Run the simulator.
    Serve {
        /// Configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Override the listen address (e.g. 127.0.0.1:0).
        #[arg(long)]
        listen: Option<String>,
        /// Override the time scale (e.g. 0.001 turns 15 s retries into 15 ms).
        #[arg(long)]
        time_scale: Option<f64>,
        /// Override the signing mode: certificate | public-key | both.
        #[arg(long)]
        signing_mode: Option<String>,
        /// Keep state in memory only (ignore state_file).
        #[arg(long)]
        no_state: bool,
        /// Do not start the mutual-TLS listener (v2 refunds).
        #[arg(long)]
        no_tls: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wxpay-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Init {
            dir,
            listen,
            tls_listen,
        } => {
            let universe = Universe::generate()?;
            universe.write_dir(&dir, &listen, &tls_listen)?;
            println!(
                "wrote a test universe to {} (mchid {})",
                dir.display(),
                universe.mchid
            );
            println!(
                "run: wxpay-sim serve --config {}",
                dir.join("sim.toml").display()
            );
            println!("then: wxpay-server {}", dir.join("merchant.toml").display());
        }
        Command::Serve {
            config,
            listen,
            time_scale,
            signing_mode,
            no_state,
            no_tls,
        } => {
            let mut config = SimConfig::load(&config)?;
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Some(t) = time_scale {
                config.time_scale = t;
            }
            if let Some(mode) = signing_mode {
                config.signing_mode = toml::Value::String(mode).try_into()?;
            }
            if no_state {
                config.state_file = None;
            }
            if no_tls {
                config.tls = None;
            }
            config.validate()?;
            let running = Simulator::start(config).await?;
            // The first line is machine-readable so scripts can find the port.
            println!("wxpay-sim listening on {}", running.base_url());
            if let Some(tls) = running.tls_base_url() {
                println!("wxpay-sim mutual-TLS listener on {tls}");
            }
            running.wait_for_ctrl_c().await;
        }
    }
    Ok(())
}
