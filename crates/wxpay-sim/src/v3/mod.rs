//! API v3 (JSON): request authentication, WeChat-shaped errors and signed responses.
//!
//! Every v3 handler runs through [`serve`]: faults first (as a failing WeChat front end
//! would), then the merchant's `Authorization` is checked against the exact bytes and
//! request URI received, then the handler runs, and whatever it returns — success, 204 or
//! business error — is signed with the current platform identity.
//!
//! What is refused before the request signature verified (401 `SIGN_ERROR`, an unreadable
//! body) goes back unsigned: WeChat signs an answer only after it has verified the
//! merchant's request (A.3, "Error answers may be unsigned"), so a client must report such
//! an error by its code without taking it as authenticated.

pub mod certs;
pub mod pay;
pub mod refund;
pub mod validate;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::crypto::{verify_authorization, VerifiedAuth};
use crate::faults::FaultKind;
use crate::sim::{lock, now_unix, random_alnum, Sim};

/// Largest request body accepted (WeChat's own limit is not documented; 1 MiB is generous).
const MAX_BODY: usize = 1 << 20;

/// A WeChat-shaped v3 error: HTTP status plus `{"code","message","detail"}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// WeChat error code, e.g. `PARAM_ERROR`.
    pub code: &'static str,
    /// Message (Chinese, as WeChat writes it, with the English reason after it).
    pub message: String,
    /// Optional `detail` object.
    pub detail: Option<Value>,
}

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// 400 `PARAM_ERROR` naming the offending field (`/body/amount/total` style path).
    pub fn param(field: &str, issue: impl Into<String>) -> Self {
        let issue = issue.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "PARAM_ERROR",
            message: format!("参数错误: {field} {issue}"),
            detail: Some(json!({ "field": field, "location": "body", "issue": issue })),
        }
    }

    /// Adds `detail.field` (query parameters and path segments).
    pub fn with_field(mut self, field: &str) -> Self {
        self.detail = Some(json!({ "field": field, "location": "query" }));
        self
    }

    /// Adds `detail.field` for a body field whose value is well-formed but refused.
    pub fn with_body_field(mut self, field: &str) -> Self {
        self.detail = Some(json!({ "field": field, "location": "body" }));
        self
    }

    /// 400 `INVALID_REQUEST`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let (Some(detail), Some(obj)) = (&self.detail, body.as_object_mut()) {
            obj.insert("detail".into(), detail.clone());
        }
        body
    }
}

/// What a v3 handler produces on success.
#[derive(Debug)]
pub enum Reply {
    /// 200 with a JSON body.
    Json(Value),
    /// 204 with no body.
    NoContent,
}

/// The parts of a request that authentication and handlers need, body as raw bytes.
#[derive(Debug)]
pub struct V3Request {
    /// Upper-case method.
    pub method: String,
    /// Path plus `?query` exactly as received: the signed canonical URL.
    pub uri: String,
    /// Query string parameters (decoded).
    pub query: Vec<(String, String)>,
    /// Raw body.
    pub body: Bytes,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl V3Request {
    /// A query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parses the body as a JSON object (400 `PARAM_ERROR` otherwise).
    pub fn json(&self) -> Result<Value, ApiError> {
        let value: Value = serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::param("/body", format!("body is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::param("/body", "body must be a JSON object"));
        }
        Ok(value)
    }
}

/// The SIGN_ERROR response body WeChat sends, with the `sign_information` that tells the
/// merchant what the server reconstructed.
fn sign_error(req: &V3Request, issue: &str) -> ApiError {
    let message = format!("{}\n{}\n", req.method, req.uri);
    let len = message.len() + req.body.len() + 40;
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "SIGN_ERROR",
        message: "签名错误".into(),
        detail: Some(json!({
            "detail": { "issue": issue },
            "field": "signature",
            "location": "authorization",
            "sign_information": {
                "method": req.method,
                "sign_message_length": len,
                "truncated_sign_message": message,
                "url": req.uri.split('?').next().unwrap_or(""),
            }
        })),
    }
}

/// Runs a v3 endpoint: latency and faults, body read, authentication, handler, signing.
pub async fn serve<F>(sim: Sim, endpoint: &'static str, request: Request, handler: F) -> Response
where
    F: FnOnce(&Sim, &V3Request, &VerifiedAuth) -> Result<Reply, ApiError>,
{
    let (latency, fault) = {
        let mut faults = lock(&sim.faults);
        (faults.latency(endpoint), faults.take(endpoint))
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let mut signature = Signature::Valid;
    let mut refuse_signature = false;
    if let Some(fault) = &fault {
        let delay = std::time::Duration::from_millis(fault.delay_ms.unwrap_or(10_000));
        let early = match fault.kind {
            FaultKind::SystemError => Some(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "系统错误",
            )),
            FaultKind::ServiceUnavailable => Some(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "服务不可用",
            )),
            FaultKind::RateLimited => Some(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "FREQUENCY_LIMITED",
                "请求频率超限",
            )),
            FaultKind::BadGateway => return bad_gateway(),
            FaultKind::Timeout => {
                tokio::time::sleep(delay).await;
                Some(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "SYSTEM_ERROR",
                    "系统超时",
                ))
            }
            FaultKind::Latency => {
                tokio::time::sleep(delay).await;
                None
            }
            FaultKind::SignTest => {
                signature = Signature::Probe;
                None
            }
            FaultKind::Unsigned => {
                signature = Signature::Absent;
                None
            }
            FaultKind::SignError => {
                refuse_signature = true;
                None
            }
        };
        if let Some(err) = early {
            return respond_as(&sim, Err(err), signature);
        }
    }
    let req = match read_request(request).await {
        Ok(r) => r,
        Err(e) => return respond_as(&sim, Err(e), Signature::Absent),
    };
    let auth = match req.authorization.clone() {
        None => Err(sign_error(&req, "authorization header missing")),
        Some(_) if refuse_signature => Err(sign_error(&req, "sign not match")),
        Some(h) => {
            verify_authorization(&h, &req.method, &req.uri, &req.body, now_unix(), |m, s| {
                sim.merchant_key(m, s)
            })
            .map_err(|f| sign_error(&req, &f.issue))
        }
    };
    let auth = match auth {
        Ok(auth) => auth,
        // Not authenticated: nothing is signed (A.3).
        Err(refusal) => return respond_as(&sim, Err(refusal), Signature::Absent),
    };
    let outcome = handler(&sim, &req, &auth);
    respond_as(&sim, outcome, signature)
}

/// Reads the request into a [`V3Request`] (body as raw bytes, never re-encoded).
async fn read_request(request: Request) -> Result<V3Request, ApiError> {
    let (parts, body) = request.into_parts();
    let uri = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let query = parts
        .uri
        .query()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::param("/body", "body too large or unreadable"))?;
    Ok(V3Request {
        method: parts.method.as_str().to_owned(),
        uri,
        query,
        body,
        authorization,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bad_gateway() -> Response {
    let mut resp = Response::new(Body::from(
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    ));
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/html"));
    resp
}

/// A `Request-ID` shaped like WeChat's (hex, then `-` and an internal code).
pub fn request_id() -> String {
    format!("08{}-0", random_alnum(40).to_ascii_uppercase())
}

/// How an answer carries (or lacks) the `Wechatpay-*` signature headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// Signed with the current identity (every authenticated answer).
    Valid,
    /// Signed, but `Wechatpay-Signature` is a `WECHATPAY/SIGNTEST/` probe.
    Probe,
    /// No `Wechatpay-*` headers at all (answers to unauthenticated requests).
    Absent,
}

/// Signs and builds the HTTP response for a handler outcome (`probe`: with a
/// `WECHATPAY/SIGNTEST/` signature).
pub fn respond(sim: &Sim, outcome: Result<Reply, ApiError>, probe: bool) -> Response {
    let signature = if probe {
        Signature::Probe
    } else {
        Signature::Valid
    };
    respond_as(sim, outcome, signature)
}

/// Builds the HTTP response for a handler outcome, signed as `signature` says.
pub fn respond_as(sim: &Sim, outcome: Result<Reply, ApiError>, signature: Signature) -> Response {
    let (status, body) = match outcome {
        Ok(Reply::Json(v)) => (StatusCode::OK, v.to_string().into_bytes()),
        Ok(Reply::NoContent) => (StatusCode::NO_CONTENT, Vec::new()),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::warn!(code = e.code, message = %e.message, "v3 server error (simulated)");
            }
            (e.status, e.body().to_string().into_bytes())
        }
    };
    match signature {
        Signature::Absent => unsigned_response(status, body),
        Signature::Valid => signed_response(sim, status, body, false),
        Signature::Probe => signed_response(sim, status, body, true),
    }
}

/// A response with `Request-ID` but no `Wechatpay-*` headers.
fn unsigned_response(status: StatusCode, body: Vec<u8>) -> Response {
    let empty = body.is_empty();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if !empty {
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("request-id", v);
    }
    resp
}

/// Builds a response carrying `Wechatpay-*` headers over `body`.
pub fn signed_response(sim: &Sim, status: StatusCode, body: Vec<u8>, probe: bool) -> Response {
    let signer = sim.signer();
    let nonce = random_alnum(32);
    let headers = signer.sign_headers(now_unix(), &nonce, &body);
    let mut resp = unsigned_response(status, body);
    let h = resp.headers_mut();
    match headers {
        Ok(pairs) => {
            for (name, value) in pairs {
                let value = if probe && name.eq_ignore_ascii_case("wechatpay-signature") {
                    probe_signature()
                } else {
                    value
                };
                if let (Ok(n), Ok(v)) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    h.insert(n, v);
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "could not sign a response");
            *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    resp
}

/// A `WECHATPAY/SIGNTEST/` probe value: deliberately not valid Base64, as WeChat's are.
pub fn probe_signature() -> String {
    format!("WECHATPAY/SIGNTEST/{}", random_alnum(64))
}

/// Fallback for unknown paths: 404 with WeChat's body, signed.
pub async fn not_found(axum::extract::State(sim): axum::extract::State<Sim>) -> Response {
    respond(
        &sim,
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "请求的资源不存在",
        )),
        false,
    )
}
