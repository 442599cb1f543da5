//! The server's clock: wall-clock time in Unix seconds, held in the shared state and read
//! through it, so that a test moves time forward ([`Clock::advance`]) instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The system clock plus an offset that only ever grows (zero outside tests). Clones share
/// the offset, so the state, the WeChat clients and the worker all see one time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, in Unix seconds (0 if the system clock is before 1970).
    pub fn now(&self) -> i64 {
        system_now().saturating_add(self.offset_secs.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone) `secs` seconds forward: a test lets an order age
    /// or a lease lapse without waiting for it. Negative values are ignored, because the
    /// store's rules assume time does not run backwards.
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs.max(0), Ordering::Relaxed);
    }
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_an_advance_and_time_never_runs_back() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = clock.now();
        other.advance(3600);
        assert!(clock.now() >= before + 3600);
        clock.advance(-7200);
        assert!(other.now() >= before + 3600);
    }
}
