//! Rate limits that keep one user or one client from spending what all share: the
//! merchant's WeChat rate limit (order creation, pay) and the disk (rejected notifications).
//!
//! Each limit is a GCRA (`governor`): `per_minute` events may come at once, then one more
//! every `60 / per_minute` seconds, and a refused event is told exactly when the next one
//! is allowed (`Retry-After`). In-process only: with several instances each enforces its
//! own, which still bounds the total.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitSettings;

/// How often (in checks) a keyed limit forgets keys whose budget is full again, so that
/// memory follows the number of recently active keys, not of all keys ever seen.
const FORGET_EVERY: u64 = 4096;

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// Rounds a wait up to whole seconds (at least one), as `Retry-After` states it.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// `per_minute` events per key.
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// A limit of `n` events per minute per key (at least 1).
    pub fn per_minute(n: u32) -> Self {
        Self {
            limiter: RateLimiter::keyed(per_minute(n)),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one event for `key`; `Err(wait)` (nothing counted) when over the limit.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

/// `per_minute` events in all.
pub struct Limit {
    limiter: DefaultDirectRateLimiter,
}

impl Limit {
    /// A limit of `n` events per minute (at least 1).
    pub fn per_minute(n: u32) -> Self {
        Self {
            limiter: RateLimiter::direct(per_minute(n)),
        }
    }

    /// Counts one event; `Err(wait)` (nothing counted) when over the limit.
    pub fn check(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

/// The key a client address is limited under: the address itself, or its /64 for IPv6,
/// since one IPv6 subscriber is commonly handed a whole /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
    }
}

/// Failures of unverified notification requests: per client, and in all (many addresses).
pub struct NotifyFailureLimits {
    per_client: KeyedLimit<IpAddr>,
    total: Limit,
}

impl NotifyFailureLimits {
    /// From `[limits]`.
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            per_client: KeyedLimit::per_minute(settings.notify_failures_per_minute),
            total: Limit::per_minute(settings.notify_failures_per_minute_total),
        }
    }

    /// Counts one failure from `client` (unknown: only the total); `Err(wait)` when either
    /// budget is spent.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        if let Some(ip) = client {
            self.per_client.check(&client_key(ip))?;
        }
        self.total.check()
    }
}

/// Every limit of this module, built from `[limits]` at start.
pub struct Limits {
    /// Orders created, per user id.
    pub orders: KeyedLimit<String>,
    /// Pay calls, per user id.
    pub pay: KeyedLimit<String>,
    /// Failed (unverified) notification requests.
    pub notify_failures: NotifyFailureLimits,
    /// Warnings that notification failures are being refused (one a minute).
    pub notify_refusal_log: Limit,
}

impl Limits {
    /// From `[limits]`.
    pub fn new(settings: &LimitSettings) -> Self {
        Self {
            orders: KeyedLimit::per_minute(settings.orders_per_minute),
            pay: KeyedLimit::per_minute(settings.pay_per_minute),
            notify_failures: NotifyFailureLimits::new(settings),
            notify_refusal_log: Limit::per_minute(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_limit_refuses_past_the_burst_and_tells_how_long_to_wait() {
        let limit = KeyedLimit::per_minute(2);
        assert!(limit.check(&"alice").is_ok());
        assert!(limit.check(&"alice").is_ok());
        let wait = limit.check(&"alice").expect_err("third in a minute");
        assert!(wait <= Duration::from_secs(30), "{wait:?}");
        assert!(retry_after_secs(wait) >= 1);
        assert!(limit.check(&"bob").is_ok(), "each key has its own budget");
    }

    #[test]
    fn an_ipv6_client_is_limited_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let v4: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(client_key(v4), v4);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }
}
