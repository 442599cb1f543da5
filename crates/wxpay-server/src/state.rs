//! The shared state every handler sees, and the merchant's run-time identity.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use wxpay_core::v3::models::{NotifyUrl, NotifyUrlError};

use crate::admin_token::AdminToken;
use crate::config::Settings;
use crate::secret::Secret;
use crate::store::Store;
use crate::upstream::open::OpenClient;
use crate::upstream::v2::V2Client;
use crate::upstream::v3::V3Client;

/// The `notify_url`s the server hands to WeChat, checked once at start against the core's
/// rule (HTTPS, or plain HTTP to loopback or a private-line host), so no request carries one
/// WeChat would refuse.
#[derive(Debug, Clone)]
pub struct NotifyUrls {
    /// `…/notify/v3/pay`.
    pub v3_pay: NotifyUrl,
    /// `…/notify/v3/refund`.
    pub v3_refund: NotifyUrl,
    /// `…/notify/v2/pay`.
    pub v2_pay: NotifyUrl,
    /// `…/notify/v2/refund`.
    pub v2_refund: NotifyUrl,
}

impl NotifyUrls {
    /// The four URLs under `public_url`; plain HTTP is accepted only to `private_hosts`.
    pub fn under(public_url: &str, private_hosts: &[&str]) -> Result<Self, NotifyUrlError> {
        let url = |path: &str| {
            NotifyUrl::new_over_private_line(format!("{public_url}{path}"), private_hosts)
        };
        Ok(Self {
            v3_pay: url("/notify/v3/pay")?,
            v3_refund: url("/notify/v3/refund")?,
            v2_pay: url("/notify/v2/pay")?,
            v2_refund: url("/notify/v2/refund")?,
        })
    }
}

/// An appid with its secret (when the app has one).
#[derive(Debug, Clone)]
pub struct AppIdentity {
    /// The appid.
    pub appid: String,
    /// AppSecret.
    pub secret: Option<Secret<String>>,
}

/// The merchant's apps, resolved from the settings at start.
#[derive(Debug, Clone, Default)]
pub struct MerchantApps {
    /// Mini-program.
    pub miniprogram: Option<AppIdentity>,
    /// Official account (WeChat browser).
    pub official_account: Option<AppIdentity>,
    /// Mobile app.
    pub app: Option<AppIdentity>,
}

impl MerchantApps {
    /// Whether `appid` is one of the merchant's apps (a payment under any other is not ours).
    pub fn contains(&self, appid: &str) -> bool {
        [&self.miniprogram, &self.official_account, &self.app]
            .iter()
            .any(|app| app.as_ref().is_some_and(|a| a.appid == appid))
    }

    /// The appid used for channels without a user-bound app (h5, native): the official
    /// account when configured, else any app.
    pub fn web_appid(&self) -> Option<&str> {
        self.official_account
            .as_ref()
            .or(self.miniprogram.as_ref())
            .or(self.app.as_ref())
            .map(|a| a.appid.as_str())
    }
}

/// A fixed-window counter per client IP (login abuse protection). In-process only: with
/// several instances each enforces its own window, which still bounds the total.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl RateLimiter {
    /// Counts one attempt from `ip` at `now`; false when over `per_minute`.
    pub fn allow(&self, ip: IpAddr, now: i64, per_minute: u32) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return false;
        };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now - *start < 60);
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now - entry.0 >= 60 {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= per_minute
    }

    /// Whether `ip` has used up `per_minute` in its current window, without counting an
    /// attempt (checked before a secret is compared, so a locked-out guesser learns nothing).
    pub fn exhausted(&self, ip: IpAddr, now: i64, per_minute: u32) -> bool {
        let Ok(windows) = self.windows.lock() else {
            return true;
        };
        windows
            .get(&ip)
            .is_some_and(|(start, count)| now - *start < 60 && *count >= per_minute)
    }
}

/// Everything a handler needs.
pub struct AppState {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// The v3 API client (also holds the notification verifier).
    pub v3: Arc<V3Client>,
    /// The v2 API client, when an API v2 key is configured (v2 pay, v2 notifications,
    /// refunds over mutual TLS, the mode-one callback).
    pub v2: Option<Arc<V2Client>>,
    /// `api.weixin.qq.com` client.
    pub open: OpenClient,
    /// The merchant's apps.
    pub apps: MerchantApps,
    /// Settings as loaded.
    pub settings: Settings,
    /// Base URL WeChat posts notifications to (`…/notify/v3/pay`).
    pub public_url: String,
    /// The `notify_url`s built on it.
    pub notify_urls: NotifyUrls,
    /// The only clock handlers, the worker and the WeChat clients read.
    pub clock: crate::clock::Clock,
    /// Login attempts.
    pub login_limiter: RateLimiter,
    /// `server.admin_token` (digest only); `None` disables refunds through the API.
    pub admin_token: Option<AdminToken>,
    /// Wrong admin tokens per client IP.
    pub admin_failures: RateLimiter,
    /// Serialises access-token / ticket refreshes so one instance fetches once, not per request.
    pub credential_refresh: tokio::sync::Mutex<()>,
    /// Per-user and per-client limits ([`crate::limits`]).
    pub limits: crate::limits::Limits,
    /// Counters for `/metrics` (shared with the upstream transports).
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// The state as handlers receive it.
pub type SharedState = Arc<AppState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_blocks_after_the_limit_and_resets() {
        let limiter = RateLimiter::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(limiter.allow(ip, 1000, 2));
        assert!(limiter.allow(ip, 1001, 2));
        assert!(!limiter.allow(ip, 1002, 2));
        assert!(limiter.allow(ip, 1061, 2));
    }

    #[test]
    fn exhausted_only_looks() {
        let limiter = RateLimiter::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(!limiter.exhausted(ip, 1000, 1));
        assert!(!limiter.exhausted(ip, 1000, 1), "looking counts nothing");
        assert!(limiter.allow(ip, 1000, 1));
        assert!(limiter.exhausted(ip, 1001, 1));
        assert!(!limiter.exhausted(ip, 1060, 1), "a new window");
    }
}
