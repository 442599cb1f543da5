//! API v3 (JSON): routing, request authentication, WeChat-shaped errors and signed responses.
//!
//! Every `/v3/…` request runs through [`dispatch`]: the core's [`Endpoint::parse`] names
//! the endpoint from the method and request URI, faults apply (as a failing WeChat front
//! end would), the merchant's `Authorization` is checked against the exact bytes and
//! request URI received, then the endpoint's handler runs, and whatever it returns —
//! success, 204 or business error — is signed with the current platform identity. Request
//! bodies are read with the core's models (`PrepayRequest::from_json`, …) and answers are
//! the core's types, so the wire rules live in `wxpay-core` only.
//!
//! What is refused before the request signature verified (401 `SIGN_ERROR`, an unreadable
//! body) goes back unsigned: WeChat signs an answer only after it has verified the
//! merchant's request (A.3, "Error answers may be unsigned"), so a client must report such
//! an error by its code without taking it as authenticated.

pub mod bill;
pub mod call;
pub mod certs;
pub mod pay;
pub mod refund;

pub use call::{ApiError, Reply, V3Request};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;
use wxpay_core::v3::models::{error_code, ErrorBody, FieldError, PrepayKind};
use wxpay_core::v3::paths::Endpoint;

use crate::crypto::{verify_authorization, VerifiedAuth};
use crate::faults::FaultKind;
use crate::ids::{probe_signature, random_alnum};
use crate::sim::{lock, now_unix, Sim};

/// Largest request body accepted (WeChat's own limit is not documented; 1 MiB is generous).
const MAX_BODY: usize = 1 << 20;

/// The fault-injection label of an endpoint (see [`crate::faults::ENDPOINTS`]).
pub fn label(endpoint: &Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Prepay(PrepayKind::Jsapi) => "v3.jsapi",
        Endpoint::Prepay(PrepayKind::App) => "v3.app",
        Endpoint::Prepay(PrepayKind::H5) => "v3.h5",
        Endpoint::Prepay(PrepayKind::Native) => "v3.native",
        Endpoint::QueryByTransactionId { .. } | Endpoint::QueryByOutTradeNo { .. } => "v3.query",
        Endpoint::Close { .. } => "v3.close",
        Endpoint::Refund => "v3.refund",
        Endpoint::RefundQuery { .. } => "v3.refund_query",
        Endpoint::Certificates => "v3.certificates",
        Endpoint::TradeBill(_) => "v3.tradebill",
        Endpoint::FundFlowBill(_) => "v3.fundflowbill",
        Endpoint::BillDownload { .. } => "v3.billdownload",
    }
}

/// Runs one endpoint's handler.
fn handle(
    sim: &Sim,
    req: &V3Request,
    auth: &VerifiedAuth,
    endpoint: Endpoint,
) -> Result<Reply, ApiError> {
    match endpoint {
        Endpoint::Prepay(kind) => pay::prepay(sim, req, auth, kind),
        Endpoint::QueryByOutTradeNo {
            out_trade_no,
            mchid,
        } => pay::query_by_out_trade_no(sim, auth, &out_trade_no, &mchid),
        Endpoint::QueryByTransactionId {
            transaction_id,
            mchid,
        } => pay::query_by_transaction_id(sim, auth, &transaction_id, &mchid),
        Endpoint::Close { out_trade_no } => pay::close(sim, req, auth, &out_trade_no),
        Endpoint::Refund => refund::create(sim, req, auth),
        Endpoint::RefundQuery { out_refund_no } => refund::query(sim, auth, &out_refund_no),
        Endpoint::Certificates => certs::certificates(sim, auth),
        Endpoint::TradeBill(request) => bill::trade_bill(sim, auth, &request),
        Endpoint::FundFlowBill(request) => bill::fund_flow_bill(sim, auth, &request),
        Endpoint::BillDownload { token } => bill::download(sim, auth, &token),
    }
}

/// Handler for every `/v3/…` request: route, latency and faults, body read,
/// authentication, endpoint, signing.
///
/// A request line the core cannot route is answered after authentication as WeChat would
/// ([`wxpay_core::v3::paths::PathError::to_error_body`]: 404, or `PARAM_ERROR` naming the
/// query or path parameter); faults apply only to requests that name an endpoint.
pub async fn dispatch(State(sim): State<Sim>, request: Request) -> Response {
    let uri = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let route = Endpoint::parse(request.method().as_str(), &uri);
    let (latency, fault) = match &route {
        Ok(endpoint) => {
            let mut faults = lock(&sim.faults);
            (
                faults.latency(label(endpoint)),
                faults.take(label(endpoint)),
            )
        }
        Err(_) => (0, None),
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let mut signature = Signature::Valid;
    let mut refuse_signature = false;
    let mut damage = None;
    let mut hold_answer = None;
    if let Some(fault) = &fault {
        let delay = std::time::Duration::from_millis(fault.delay_ms.unwrap_or(10_000));
        let early = match fault.kind {
            FaultKind::SystemError => Some(ApiError::new(error_code::SYSTEM_ERROR, "系统错误")),
            FaultKind::ServiceUnavailable => {
                Some(ApiError::new(error_code::SERVICE_UNAVAILABLE, "服务不可用"))
            }
            FaultKind::RateLimited => {
                Some(ApiError::new(error_code::FREQUENCY_LIMITED, "请求频率超限"))
            }
            FaultKind::BadGateway => return bad_gateway(),
            FaultKind::Timeout => {
                tokio::time::sleep(delay).await;
                Some(ApiError::new(error_code::SYSTEM_ERROR, "系统超时"))
            }
            FaultKind::Latency => {
                tokio::time::sleep(delay).await;
                None
            }
            FaultKind::LateAnswer => {
                hold_answer = Some(delay);
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
            FaultKind::CorruptFile | FaultKind::TruncateFile => {
                damage = Some(fault.kind);
                None
            }
        };
        if let Some(err) = early {
            return respond_as(&sim, Err(err), signature);
        }
    }
    let req = match read_request(request, uri).await {
        Ok(r) => r,
        Err(e) => return respond_as(&sim, Err(e), Signature::Absent),
    };
    let sign_error = |issue: &str| {
        ApiError(ErrorBody::sign_error(
            &req.method,
            &req.uri,
            req.body.len(),
            issue,
        ))
    };
    let auth = match req.authorization.as_deref() {
        None => Err(sign_error("authorization header missing")),
        Some(_) if refuse_signature => Err(sign_error("sign not match")),
        Some(h) => verify_authorization(h, &req.method, &req.uri, &req.body, now_unix(), |m, s| {
            sim.merchant_key(m, s)
        })
        .map_err(|f| sign_error(&f.issue)),
    };
    let auth = match auth {
        Ok(auth) => auth,
        // Not authenticated: nothing is signed (A.3).
        Err(refusal) => return respond_as(&sim, Err(refusal), Signature::Absent),
    };
    let outcome = match route {
        Ok(endpoint) => handle(&sim, &req, &auth, endpoint),
        Err(unroutable) => Err(ApiError(unroutable.to_error_body())),
    };
    let outcome = match (outcome, damage) {
        (Ok(Reply::File(bytes)), Some(kind)) => Ok(Reply::File(bill::damage(bytes, kind))),
        (other, _) => other,
    };
    if let Some(delay) = hold_answer {
        tokio::time::sleep(delay).await;
    }
    respond_as(&sim, outcome, signature)
}

/// Reads the request into a [`V3Request`] (body as raw bytes, never re-encoded).
async fn read_request(request: Request, uri: String) -> Result<V3Request, ApiError> {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::param(
            &FieldError::new("", "body too large or unreadable"),
            &Value::Null,
        )
    })?;
    Ok(V3Request {
        method: parts.method.as_str().to_owned(),
        uri,
        body,
        authorization,
    })
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

/// Builds the HTTP response for a handler outcome, signed as `signature` says.
pub fn respond_as(sim: &Sim, outcome: Result<Reply, ApiError>, signature: Signature) -> Response {
    let (status, body) = match outcome {
        Ok(Reply::File(bytes)) => return file_response(bytes),
        Ok(Reply::Json(bytes)) => (StatusCode::OK, bytes),
        Ok(Reply::NoContent) => (StatusCode::NO_CONTENT, Vec::new()),
        Err(e) => {
            let status = e.status();
            if status.is_server_error() {
                tracing::warn!(code = %e.0.code, message = %e.0.message, "v3 server error (simulated)");
            }
            // An ErrorBody holds strings and a JSON value: serialising cannot fail.
            (status, serde_json::to_vec(&e.0).unwrap_or_default())
        }
    };
    match signature {
        Signature::Absent => unsigned_response(status, body),
        Signature::Valid => signed_response(sim, status, body, false),
        Signature::Probe => signed_response(sim, status, body, true),
    }
}

/// A bill file: 200, a byte stream, `Request-ID` but no signature.
fn file_response(bytes: Vec<u8>) -> Response {
    let mut resp = unsigned_response(StatusCode::OK, bytes);
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
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

/// Fallback for paths outside `/v3`, the v2 and login APIs: 404 with WeChat's body, signed.
pub async fn not_found(State(sim): State<Sim>) -> Response {
    respond_as(
        &sim,
        Err(ApiError::new(error_code::NOT_FOUND, "请求的资源不存在")),
        Signature::Valid,
    )
}
