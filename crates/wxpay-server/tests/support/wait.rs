//! Waiting on an event instead of sleeping, shared by the test binaries (`#[path]`).

use std::time::{Duration, Instant};

/// Polls `probe` until it holds; panics naming `what` when `limit` passes first.
pub async fn until<F, Fut>(what: &str, limit: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !probe().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
