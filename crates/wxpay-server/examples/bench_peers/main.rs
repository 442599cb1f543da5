//! Our side of `scripts/bench-peers.sh`: wxpay measured beside the SDKs merchants use today.
//!
//! Each command prints JSON lines (`impl`, `row`, `ops_per_s`, …) that the script
//! collects with the peers' lines and turns into one table:
//!
//! ```text
//! fixtures UNIVERSE OUT_DIR                  fixture of rows 1-4 (same key, same bytes for all)
//! micro UNIVERSE FIXTURES SECONDS [ROWS]     rows 1-4 through wxpay-core (ROWS: e.g. notify,verify)
//! check UNIVERSE FIXTURES RESULTS            every implementation's sample output checked with wxpay-core
//! order-lib UNIVERSE SIM_URL C SECONDS PREFIX     row 5: wxpay-core + the upstream client as a library
//! order-server UNIVERSE SERVER SIM_URL C SECONDS ORDERS  row 5: wxpay-server's pay endpoint
//! make-notifications UNIVERSE OUT N PREFIX [SERVER SIM_URL]   row 6 inputs
//! notify IMPL URL FILE C SECONDS             row 6: post the inputs at concurrency C
//! ```

mod check;
mod load;
mod micro;
mod universe;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use universe::Universe;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn arg<'a>(args: &'a [String], i: usize, what: &str) -> Result<&'a str, BoxError> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument {i}: {what}").into())
}

fn number<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, BoxError> {
    arg(args, i, what)?
        .parse()
        .map_err(|_| format!("argument {i} ({what}) is not a number").into())
}

fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, BoxError> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        // Load drivers stay on one thread so they take as little as possible from the
        // implementation under test on a small machine.
        tokio::runtime::Builder::new_current_thread()
    };
    Ok(builder.enable_all().build()?)
}

fn run(args: &[String]) -> Result<(), BoxError> {
    let command = arg(args, 1, "command")?;
    let universe = || Universe::load(Path::new(arg(args, 2, "UNIVERSE")?));
    match command {
        "fixtures" => {
            let u = universe()?;
            universe::write_fixtures(
                &u,
                Path::new(arg(args, 3, "OUT_DIR")?),
                wxpay_server::clock::Clock::system().now(),
            )?;
        }
        "micro" => {
            let u = universe()?;
            let fx = universe::read_fixtures(Path::new(arg(args, 3, "FIXTURES")?))?;
            let only = args.get(5).map(String::as_str);
            micro::run(&u, &fx, number(args, 4, "SECONDS")?, only)?;
        }
        "check" => {
            let u = universe()?;
            let fx = universe::read_fixtures(Path::new(arg(args, 3, "FIXTURES")?))?;
            let results = std::fs::read_to_string(arg(args, 4, "RESULTS")?)?;
            check::run(&u, &fx, &results)?;
        }
        "order-lib" => {
            let u = Arc::new(universe()?);
            let (sim, c) = (arg(args, 3, "SIM_URL")?, number(args, 4, "C")?);
            let (seconds, prefix) = (number(args, 5, "SECONDS")?, arg(args, 6, "PREFIX")?);
            let outcome =
                runtime(true)?.block_on(load::order_library(u, sim, c, seconds, prefix))?;
            println!("{}", outcome.to_json("ours-lib", &format!("order_c{c}")));
        }
        "order-server" => {
            let u = Arc::new(universe()?);
            let (server, sim) = (arg(args, 3, "SERVER")?, arg(args, 4, "SIM_URL")?);
            let (c, seconds) = (number(args, 5, "C")?, number(args, 6, "SECONDS")?);
            let orders = number(args, 7, "ORDERS")?;
            let run = load::order_server(u, server, sim, c, seconds, orders);
            let outcome = runtime(false)?.block_on(run)?;
            println!("{}", outcome.to_json("ours-server", &format!("order_c{c}")));
        }
        "make-notifications" => {
            let u = universe()?;
            let out = Path::new(arg(args, 3, "OUT")?);
            let (n, prefix) = (number(args, 4, "N")?, arg(args, 5, "PREFIX")?);
            let server = match (args.get(6), args.get(7)) {
                (Some(server), Some(sim)) => Some((server.as_str(), sim.as_str())),
                _ => None,
            };
            runtime(false)?.block_on(load::make_notifications(&u, out, n, prefix, server))?;
        }
        "notify" => {
            let implementation = arg(args, 2, "IMPL")?;
            let (url, file) = (arg(args, 3, "URL")?, Path::new(arg(args, 4, "FILE")?));
            let (c, seconds) = (number(args, 5, "C")?, number(args, 6, "SECONDS")?);
            let outcome =
                runtime(false)?.block_on(load::post_notifications(url, file, c, seconds))?;
            println!(
                "{}",
                outcome.to_json(implementation, &format!("notifications_c{c}"))
            );
        }
        other => {
            return Err(format!("unknown command {other}; see the module documentation").into())
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_peers: {e}");
            ExitCode::FAILURE
        }
    }
}
