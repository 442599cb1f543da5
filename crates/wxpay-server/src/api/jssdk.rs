//! JS-SDK `wx.config` parameters (protocol C).
//!
//! The access token and the `jsapi_ticket` are cached in the store until shortly before
//! they expire and refreshed once, not per request, by one instance at a time under a
//! lease in the store ([`shared_credential`]): WeChat revokes the previous token when a
//! new one is fetched, so refreshes from several places break each other.
//!
//! A cached token can still die before its time: another service of the merchant fetches a
//! new one (WeChat then answers 40001 once the old one's grace period is over), or WeChat
//! expires or invalidates it (42001, 40014). Such a token is dropped for every instance
//! (by value, so a newer one is kept), a new one is fetched once and the ticket asked for
//! once more; without that, `wx.config` would fail until the
//! cache ran out, up to two hours later.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use wxpay_core::jssdk::WxConfig;

use crate::error::{query_rejection, AppError, InternalError};
use crate::secret::Secret;
use crate::shared_credential::{self, Shared};
use crate::state::SharedState;
use crate::upstream::open::Expiring;
use crate::upstream::UpstreamError;

/// Refresh credentials this long before WeChat's expiry.
const EXPIRY_MARGIN_SECS: i64 = 300;

/// Whether WeChat refused the access token itself: 40001 (invalid or not the latest, e.g.
/// another service fetched a new one), 40014 (invalid access token) or 42001 (expired).
pub fn access_token_refused(err: &UpstreamError) -> bool {
    matches!(err, UpstreamError::Business { code, .. } if matches!(code.as_str(), "40001" | "40014" | "42001"))
}

/// The shared access token of `appid`: cached, or fetched by one instance for all.
async fn access_token(
    state: &SharedState,
    appid: &str,
    secret: &Secret<String>,
) -> Result<Shared, AppError> {
    let name = format!("access_token:{appid}");
    shared_credential::get_or_refresh(&*state.store, &state.clock, &name, || async {
        let fresh = state.open.access_token(appid, secret).await?;
        let expires_at = state.clock.now() + fresh.expires_in - EXPIRY_MARGIN_SECS;
        Ok((fresh.value.expose().clone(), expires_at))
    })
    .await
}

/// Drops a token WeChat refused, for every instance (only while it is still the cached
/// one: a newer token another instance put meanwhile stays).
async fn drop_access_token(state: &SharedState, appid: &str, token: &str) -> Result<(), AppError> {
    let name = format!("access_token:{appid}");
    state.store.drop_credential(&name, token).await?;
    Ok(())
}

/// `GET /api/jssdk/config` query.
#[derive(Debug, Deserialize)]
pub struct ConfigQuery {
    /// The page URL (its `#fragment` is dropped by the core).
    pub url: String,
}

async fn jsapi_ticket(state: &SharedState, appid: &str) -> Result<String, AppError> {
    let ticket_name = format!("jsapi_ticket:{appid}");
    if let Some(ticket) = state
        .store
        .credential(&ticket_name, state.clock.now())
        .await?
    {
        return Ok(ticket);
    }
    // One refresh per process at a time; across processes, the store's lease.
    let _guard = state.credential_refresh.lock().await;
    let ticket =
        shared_credential::get_or_refresh(&*state.store, &state.clock, &ticket_name, || async {
            let ticket = fetch_jsapi_ticket(state, appid).await?;
            let expires_at = state.clock.now() + ticket.expires_in - EXPIRY_MARGIN_SECS;
            Ok((ticket.value.expose().clone(), expires_at))
        })
        .await?;
    Ok(ticket.value)
}

/// Asks WeChat for a ticket with the shared access token; when WeChat refuses a cached
/// token, it is dropped for all and the ticket asked for once more with a new one.
async fn fetch_jsapi_ticket(state: &SharedState, appid: &str) -> Result<Expiring, AppError> {
    let app = state.apps.official_account.as_ref().ok_or_else(|| {
        AppError::bad_request("jssdk_not_configured", "no official account configured")
    })?;
    let secret = app.secret.as_ref().ok_or_else(|| {
        AppError::bad_request(
            "jssdk_not_configured",
            "the official account has no AppSecret",
        )
    })?;
    let token = access_token(state, appid, secret).await?;
    match state.open.jsapi_ticket(&token.value).await {
        Ok(ticket) => Ok(ticket),
        Err(err) if access_token_refused(&err) => {
            drop_access_token(state, appid, &token.value).await?;
            if token.fresh {
                return Err(err.into());
            }
            tracing::warn!(error = %err, "cached access token refused; fetching a new one");
            let token = access_token(state, appid, secret).await?;
            match state.open.jsapi_ticket(&token.value).await {
                Ok(ticket) => Ok(ticket),
                Err(err) => {
                    if access_token_refused(&err) {
                        drop_access_token(state, appid, &token.value).await?;
                    }
                    Err(err.into())
                }
            }
        }
        Err(err) => Err(err.into()),
    }
}

/// `GET /api/jssdk/config?url=…`
pub async fn config(
    State(state): State<SharedState>,
    query: Result<Query<ConfigQuery>, QueryRejection>,
) -> Result<Json<WxConfig>, AppError> {
    let Query(query) = query.map_err(query_rejection)?;
    if query.url.is_empty() || query.url.len() > 2048 {
        return Err(AppError::bad_request(
            "invalid_url",
            "url must be 1..=2048 characters",
        ));
    }
    let appid = state
        .apps
        .official_account
        .as_ref()
        .map(|a| a.appid.clone())
        .ok_or_else(|| {
            AppError::bad_request("jssdk_not_configured", "no official account configured")
        })?;
    let ticket = jsapi_ticket(&state, &appid).await?;
    let nonce = crate::ids::nonce().map_err(InternalError::Entropy)?;
    let timestamp = u64::try_from(state.clock.now()).unwrap_or(0);
    let config = WxConfig::sign(
        appid,
        &ticket,
        nonce,
        timestamp,
        &query.url,
        vec!["chooseWXPay".to_owned()],
    )
    .map_err(|e| AppError::bad_request("invalid_url", e.to_string()))?;
    Ok(Json(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(code: &str) -> UpstreamError {
        UpstreamError::Business {
            status: 200,
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn only_the_token_errcodes_drop_the_cached_token() {
        for code in ["40001", "40014", "42001"] {
            assert!(access_token_refused(&answered(code)), "{code}");
        }
        for code in ["-1", "45009", "40013", "40125", "MISSING_FIELD"] {
            assert!(!access_token_refused(&answered(code)), "{code}");
        }
        assert!(!access_token_refused(&UpstreamError::Unavailable {
            status: 503
        }));
    }
}
