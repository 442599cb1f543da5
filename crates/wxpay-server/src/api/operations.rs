//! What a load balancer and a monitoring system ask an instance: is the process up
//! (`/healthz`), can it serve (`/readyz`), and what has it done (`/metrics`).

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::error_chain;
use crate::state::SharedState;

/// `GET /healthz`: the process answers. Checks nothing else, so a database outage does not
/// make an orchestrator restart every instance at once.
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: the database answers and WeChat's answers can be verified (platform
/// certificates downloaded, or the public key configured). 503 with the reason otherwise,
/// so a load balancer sends no traffic an instance would have to refuse.
pub async fn readyz(State(state): State<SharedState>) -> Response {
    if let Err(err) = state.store.ping().await {
        tracing::warn!(error = %error_chain(&err), "not ready: the database does not answer");
        return not_ready("database_unreachable");
    }
    if state.v3.verification_keys() == 0 {
        return not_ready("no_platform_keys");
    }
    Json(json!({ "status": "ready" })).into_response()
}

fn not_ready(reason: &str) -> Response {
    let body = Json(json!({ "status": "not_ready", "reason": reason }));
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

/// `GET /metrics`: Prometheus' text format. It tells how much business the merchant does,
/// so it needs the admin token as a bearer token (Prometheus' `authorization` setting); with
/// no admin token configured it is not served.
pub async fn metrics(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let Some(admin) = &state.admin_token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !admin.matches(presented) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let orders = match state.store.order_counts().await {
        Ok(counts) => counts,
        Err(err) => {
            tracing::warn!(error = %error_chain(&err), "metrics: order counts unavailable");
            Vec::new()
        }
    };
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(&orders),
    )
        .into_response()
}
