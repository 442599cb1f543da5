//! What starts: the demo (embedded simulator, a generated admin token handed to anyone who
//! asks) only when asked for; a configuration without `[merchant]` is a start-up error that
//! says what is missing, never a silent demo.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wxpay_server::app::Application;
use wxpay_server::config::{Settings, VerifyMode};
use wxpay_server::error::error_chain;
use wxpay_sim::universe::Universe;

/// Runs the binary with `args` in `dir` (no `WXPAY_*` variables) and waits at most 30 s for
/// it to exit; a binary still running then is killed and reported as `None`.
fn run_binary(dir: &std::path::Path, args: &[&str]) -> Option<(std::process::ExitStatus, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxpay-server"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wxpay-server");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break Some(status),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => break None,
        }
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    Some((status, stderr))
}

#[tokio::test]
async fn a_config_file_without_merchant_stops_the_start_and_names_what_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("wxpay-server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nport = 0\n[database]\nurl = \"sqlite://{}\"\n",
            dir.path().join("forgot.db").display()
        ),
    )
    .expect("write config");
    let dir_path = dir.path().to_owned();
    let config = config.display().to_string();
    let outcome = tokio::task::spawn_blocking(move || run_binary(&dir_path, &[&config]))
        .await
        .expect("runner");
    let (status, stderr) = outcome.expect("the server must refuse to start, not run a demo");
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("[merchant]"), "{stderr}");
    assert!(stderr.contains("--demo"), "{stderr}");
}

#[tokio::test]
async fn without_a_merchant_the_application_is_not_built_unless_the_demo_is_asked_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.worker.enabled = false;
    settings.database.url = format!("sqlite://{}", dir.path().join("none.db").display());
    let refused = Application::build(settings.clone()).await;
    let message = match refused {
        Ok(_) => panic!("no [merchant] and no demo = true must not start"),
        Err(err) => error_chain(&err),
    };
    assert!(
        message.contains("[merchant]") && message.contains("demo"),
        "{message}"
    );

    // Asked for: the demo starts with the embedded simulator.
    let demo = Settings::load_with_env(None, Vec::new())
        .map(|mut s| {
            s.server = settings.server.clone();
            s.worker = settings.worker.clone();
            s.database = settings.database.clone();
            s
        })
        .expect("defaults");
    let demo = with_demo(demo);
    let app = Application::build(demo).await.expect("the demo starts");
    assert!(app.simulator_url().is_some());
}

#[tokio::test]
async fn the_demo_and_a_merchant_together_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let universe = Universe::generate().expect("universe");
    let mut settings = with_demo(Settings::default());
    settings.server.port = 0;
    settings.database.url = format!("sqlite://{}", dir.path().join("both.db").display());
    settings.merchant = Some(wxpay_server::embedded::merchant_settings(
        &universe,
        VerifyMode::PublicKey,
    ));
    match Application::build(settings).await {
        Ok(_) => panic!("demo = true beside a [merchant] must not start"),
        Err(err) => assert!(error_chain(&err).contains("demo"), "{err:?}"),
    }
}

/// `settings` with the demo asked for, as `--demo` or `demo = true` does.
fn with_demo(mut settings: Settings) -> Settings {
    settings.demo = true;
    settings
}
