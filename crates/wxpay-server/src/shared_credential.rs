//! Credentials every instance shares: WeChat's access token (one per app) and the JS-SDK
//! ticket. Fetching a new access token revokes the previous one after a short grace, so
//! instances that each refreshed theirs would keep breaking each other's `wx.config`
//! (errcode 40001). Instead the value lives in the store, and only the instance holding
//! the store's lease for it refreshes; the others wait briefly and read what it put.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::error::AppError;
use crate::store::Store;

/// How long one refresh may hold the lease (seconds); a holder that dies frees it then.
const LEASE_SECS: i64 = 15;
/// How long an instance waits for another's refresh before answering "busy".
const WAIT: Duration = Duration::from_secs(10);
/// How often a waiting instance looks for the refreshed value.
const POLL: Duration = Duration::from_millis(50);

/// A credential value, and whether this call fetched it (rather than found it cached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// The value.
    pub value: String,
    /// Fetched by this call.
    pub fresh: bool,
}

/// The cached credential `name`, or a new one from `refresh` (value and expiry in Unix
/// seconds), fetched by one instance at a time across every instance on the store.
pub async fn get_or_refresh<F, Fut>(
    store: &dyn Store,
    clock: &Clock,
    name: &str,
    refresh: F,
) -> Result<Shared, AppError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(String, i64), AppError>>,
{
    let deadline = Instant::now() + WAIT;
    // Each call holds the lease under its own name, so two tasks never share one.
    let holder = crate::ids::random_id("lease");
    loop {
        let now = clock.now();
        if let Some(value) = store.credential(name, now).await? {
            return Ok(Shared {
                value,
                fresh: false,
            });
        }
        if store
            .take_lease(name, &holder, now, now + LEASE_SECS)
            .await?
        {
            // Another instance may have put a value between the read and the lease.
            let result = match store.credential(name, clock.now()).await? {
                Some(value) => Ok(Shared {
                    value,
                    fresh: false,
                }),
                None => fetch_and_put(store, name, refresh).await,
            };
            store.release_lease(name, &holder).await?;
            return result;
        }
        if Instant::now() >= deadline {
            return Err(AppError::UpstreamBusy {
                code: "credential_refresh_pending".into(),
                retry_after_secs: 1,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn fetch_and_put<F, Fut>(
    store: &dyn Store,
    name: &str,
    refresh: F,
) -> Result<Shared, AppError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(String, i64), AppError>>,
{
    let (value, expires_at) = refresh().await?;
    store.put_credential(name, &value, expires_at).await?;
    Ok(Shared { value, fresh: true })
}
