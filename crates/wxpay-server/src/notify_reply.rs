//! What the server answers WeChat's notifications, in each API version's shape: v3 wants an
//! empty 200 or `{"code":"FAIL","message":…}` (the core's [`ErrorBody`]), v2 an XML
//! `return_code`. Kept apart from the handlers so the error layer can shape a refusal the
//! way WeChat reads it without depending on them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use wxpay_core::v2::models::{notify_fail_reply, NOTIFY_SUCCESS_REPLY};
use wxpay_core::v3::models::ErrorBody;

/// Which acknowledgement format WeChat expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// JSON `{"code":"FAIL",…}` on failure, an empty 200 on success.
    V3,
    /// XML `<xml><return_code>SUCCESS|FAIL</return_code>…</xml>`.
    V2,
}

/// The failure answer WeChat expects (it retries on any non-2xx, and on a v2 `FAIL`).
pub fn fail_as(protocol: Protocol, status: StatusCode, message: &str) -> Response {
    match protocol {
        Protocol::V3 => (status, Json(ErrorBody::new("FAIL", message))).into_response(),
        Protocol::V2 => v2_reply(status, notify_fail_reply(message)),
    }
}

/// A v2 XML answer.
fn v2_reply(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

/// The acknowledgement WeChat expects for a notification that was handled.
pub fn ack_as(protocol: Protocol) -> Response {
    match protocol {
        Protocol::V3 => StatusCode::OK.into_response(),
        Protocol::V2 => v2_reply(StatusCode::OK, NOTIFY_SUCCESS_REPLY.to_owned()),
    }
}
