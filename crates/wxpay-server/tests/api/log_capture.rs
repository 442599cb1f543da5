//! Everything the servers of this test binary log, and the check that no secret reaches it.
//!
//! [`install`] sets one global subscriber (once per binary) that formats every event the
//! way an operator's log would show it (`debug` and up, noisy transport crates at `info`)
//! into an in-memory buffer. Each [`crate::helpers::TestApp`] notes the buffer's length when
//! its server starts and, when it is dropped, scans what was logged since for every secret
//! its server held: the configured ones (AppSecrets, API v3 and v2 keys, the private key's
//! PEM body, the admin token) and the ones it was handed at run time (access tokens and
//! tickets in the credential cache, users' `session_key`s). A hit fails the test that
//! dropped the app, so the whole suite, failure paths included, is the leak test.
//!
//! A test that must see its own server's lines alone (and assert that the error line it
//! provoked was written) uses [`scoped`] instead: `#[tokio::test]` runs every task of the
//! test on one thread, where the scoped subscriber wins over the global one.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// What is captured: as much as an operator would enable while debugging.
const FILTER: &str =
    "debug,hyper=info,hyper_util=info,h2=info,rustls=info,tokio_rustls=info,sqlx=info";

/// A shared, growing log buffer.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Bytes captured so far (an offset for [`Logs::since`]).
    pub fn len(&self) -> usize {
        self.0.lock().map(|b| b.len()).unwrap_or(0)
    }

    /// The text captured after `offset`.
    pub fn since(&self, offset: usize) -> String {
        let tail = self
            .0
            .lock()
            .map(|b| b.get(offset..).unwrap_or_default().to_vec())
            .unwrap_or_default();
        String::from_utf8_lossy(&tail).into_owned()
    }
}

impl io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn subscriber(logs: Logs) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(FILTER))
        .with_writer(logs)
        .with_ansi(false)
        .finish()
}

/// The binary-wide capture, installed on first use.
pub fn install() -> &'static Logs {
    static GLOBAL: OnceLock<Logs> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let logs = Logs::default();
        // Another subscriber already set (none is today) only means less is captured.
        let _ = tracing::subscriber::set_global_default(subscriber(logs.clone()));
        logs
    })
}

/// A capture of this thread's events only, until the guard is dropped.
pub fn scoped() -> (Logs, DefaultGuard) {
    install();
    let logs = Logs::default();
    let guard = tracing::subscriber::set_default(subscriber(logs.clone()));
    (logs, guard)
}

/// One secret to look for, with a name for the report (never the value itself).
#[derive(Debug, Clone)]
pub struct Needle {
    /// What the secret is, e.g. `miniprogram AppSecret`.
    pub label: String,
    /// The secret's text.
    pub value: String,
}

impl Needle {
    /// A named secret; values too short to be told from ordinary text are skipped.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        (value.trim().len() >= 12).then(|| Self {
            label: label.into(),
            value: value.trim().to_owned(),
        })
    }

    /// The body lines of a PEM private key: a log would show them escaped inside one
    /// string, so each base64 line is looked for on its own.
    pub fn pem_private_key(label: &str, pem: &str) -> Vec<Self> {
        let mut inside = false;
        let mut needles = Vec::new();
        for line in pem.lines().map(str::trim) {
            if line.starts_with("-----BEGIN") {
                inside = line.contains("PRIVATE KEY");
                continue;
            }
            if line.starts_with("-----END") {
                inside = false;
                continue;
            }
            if inside && line.len() >= 32 {
                needles.extend(Self::new(format!("{label} (PEM body line)"), line));
            }
        }
        needles
    }
}

/// The labels of the secrets found in `text`, each with the start of the line it is on.
pub fn leaks(text: &str, needles: &[Needle]) -> Vec<String> {
    let mut found = Vec::new();
    for needle in needles {
        if let Some(at) = text.find(&needle.value) {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let line: String = text[line_start..].chars().take(160).collect();
            // The line is cut before the secret so the report does not print it either.
            let shown: String = line
                .split(needle.value.as_str())
                .next()
                .unwrap_or_default()
                .to_owned();
            found.push(format!("{} in: {shown}<SECRET>…", needle.label));
        }
    }
    found
}
