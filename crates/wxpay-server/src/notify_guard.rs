//! What an unverified request to a notification endpoint may cost: a bounded record, and
//! only so many of them per client per minute.
//!
//! Anyone can post to `/notify/…`; before this, each rejected request was stored with its
//! whole body, without limit. [`limit_failures`] wraps the four notification endpoints:
//! it works out the client address (as the rest of the API does, see
//! [`crate::client_ip::client_ip`]) and lends the handler a gate for the request. The handler's
//! failure path asks the gate before it records an unverified request
//! ([`admit_unverified_failure`]); past the client's (or everyone's) budget nothing is
//! stored and the answer becomes 429 with `Retry-After`, in WeChat's failure shape.
//!
//! A verified notification is never refused here: the request still runs its whole course
//! (verification, processing, acknowledgement), so a genuine notification from a limited
//! address is credited, and one refused for its content is recorded and answered as before.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::client_ip::client_ip;
use crate::limits::retry_after_secs;
use crate::state::SharedState;

tokio::task_local! {
    /// The gate of the notification request this task is handling. Axum polls a handler
    /// inside its middleware's future, so the handler's code runs in this scope.
    static GATE: Arc<FailureGate>;
}

/// One request's view of the failure limits.
struct FailureGate {
    state: SharedState,
    client: Option<IpAddr>,
    /// Set once a failure was refused: how long the client should wait.
    refused: Mutex<Option<Duration>>,
}

impl FailureGate {
    fn admit(&self) -> bool {
        match self.state.limits.notify_failures.check(self.client) {
            Ok(()) => true,
            Err(wait) => {
                if let Ok(mut refused) = self.refused.lock() {
                    *refused = Some(wait);
                }
                false
            }
        }
    }

    fn refused(&self) -> Option<Duration> {
        self.refused.lock().ok().and_then(|r| *r)
    }
}

/// Whether `path` is one of the notification endpoints that record what they reject.
fn records_rejections(path: &str) -> bool {
    matches!(
        path,
        "/notify/v3/pay" | "/notify/v3/refund" | "/notify/v2/pay" | "/notify/v2/refund"
    )
}

/// Counts one unverified failure of the current notification request against its client's
/// budget: `true` when it may be recorded, `false` when the budget is spent (nothing is to
/// be stored, and the answer becomes 429). Outside a notification request (a unit test
/// calling a handler directly) everything is admitted.
pub(crate) fn admit_unverified_failure() -> bool {
    GATE.try_with(|gate| gate.admit()).unwrap_or(true)
}

/// Middleware for the notification endpoints (see the module docs); other paths pass.
pub async fn limit_failures(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    if !records_rejections(request.uri().path()) {
        return next.run(request).await;
    }
    let client = client_ip(
        &state,
        request.headers(),
        request.extensions().get::<ConnectInfo<SocketAddr>>(),
    );
    let gate = Arc::new(FailureGate {
        state,
        client,
        refused: Mutex::new(None),
    });
    let mut response = GATE.scope(gate.clone(), next.run(request)).await;
    if let Some(wait) = gate.refused() {
        // Said once a minute at most: the log must not become the next disk to fill.
        if gate.state.limits.notify_refusal_log.check().is_ok() {
            tracing::warn!(client = ?client, "unverified notification requests over the limit; not recorded");
        }
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
    }
    response
}
