//! What the test binaries that run `wxpay-server` as a process share: starting it and
//! waiting for the URL it prints, killing it, and the simulator with its universe's files
//! that such a server is pointed at. Included with `#[path]` by `tests/api` (the crash and
//! lifecycle tests) and `tests/multi_instance.rs`; each uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wxpay_sim::server::{RunningSim, Simulator};
use wxpay_sim::universe::Universe;

/// A `wxpay-server` process; killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
}

impl ServerProcess {
    /// Starts the binary as `command` describes (stdin and stdout are taken here) and waits
    /// for the URL it prints when it listens.
    pub async fn start(command: &mut Command) -> Self {
        let (child, url) = start_server_binary(command).await;
        Self { child, url }
    }

    /// The port in its URL.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in the URL")
    }

    /// SIGKILL: no drain, no flush, no goodbye.
    pub fn kill9(mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the `wxpay-server` binary as `command` describes (stdout is taken here) and waits
/// for the URL it prints when it listens.
pub async fn start_server_binary(command: &mut Command) -> (Child, String) {
    use std::io::BufRead;

    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start wxpay-server");
    let stdout = child.stdout.take().expect("stdout");
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Some(url) = line.strip_prefix("wxpay-server listening on ") {
                let _ = url_tx.send(url.trim().to_owned());
            }
        }
    });
    let url = tokio::task::spawn_blocking(move || url_rx.recv_timeout(Duration::from_secs(60)))
        .await
        .expect("reader")
        .expect("the server printed its URL");
    (child, url)
}

/// A fresh universe, its simulator (WeChat's retry schedule a thousand times faster, no
/// TLS listener) and its files in `dir`; returns the path of the server's `merchant.toml`.
pub async fn simulator_with_files(dir: &Path) -> (Universe, RunningSim, PathBuf) {
    let universe = Universe::generate().expect("universe");
    let mut sim_config = universe.sim_config();
    sim_config.time_scale = 0.001;
    sim_config.tls = None;
    let sim = Simulator::start(sim_config).await.expect("simulator");
    let listen = sim.base_url().trim_start_matches("http://").to_owned();
    universe
        .write_dir(dir, &listen, "127.0.0.1:9")
        .expect("universe files");
    (universe, sim, dir.join("merchant.toml"))
}
