//! Notification endpoints (WeChat → merchant), API v3 pay and refund, and the shared
//! record-apply-acknowledge step (`finish`) that the v2 endpoints in `notify_v2` reuse.
//!
//! Order of work, per the protocol reference A.3–A.8: keep the raw body; verify the
//! signature over those exact bytes (the `Wechatpay-Serial` may be a platform certificate
//! serial or a `PUB_KEY_ID_…`; a `WECHATPAY/SIGNTEST/` probe fails like any bad signature;
//! a timestamp 5 minutes or more away fails); decrypt; check mchid / appid / order /
//! amount; then record the notification under its unique id and apply the change in ONE
//! store transaction. Only after that commits is WeChat told 200. Every failure is
//! recorded too and answered 4xx/5xx with `{"code":"FAIL","message":…}` so WeChat retries.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use sha2::{Digest, Sha256};
use wxpay_core::v3::models::{RefundNotificationPayload, Transaction};
use wxpay_core::v3::notification::{EventType, Notification};
use wxpay_core::v3::verify::{SignedHeaders, VerifyError};

pub(crate) use crate::notify_reply::{ack_as, fail_as, Protocol};
use crate::payments::{refund_notification_fact, transaction_fact};
use crate::state::SharedState;
use crate::store::{ApplyOutcome, NotificationOutcome, NotificationRecord, NotifiedChange};

/// Headers kept with a notification: the ones verification reads, plus a few for tracing.
const KEPT_HEADERS: [&str; 8] = [
    "wechatpay-serial",
    "wechatpay-signature",
    "wechatpay-timestamp",
    "wechatpay-nonce",
    "wechatpay-signature-type",
    "content-type",
    "user-agent",
    "request-id",
];

/// Longest header value kept (a 4096-bit RSA signature is 684 Base64 characters).
const MAX_KEPT_HEADER_CHARS: usize = 1024;

/// Bytes of an unverified body kept (its length and SHA-256 are kept whole).
pub(crate) const MAX_UNVERIFIED_BODY_BYTES: usize = 1024;

/// The [`KEPT_HEADERS`] of a notification as a JSON object, each value cut to
/// [`MAX_KEPT_HEADER_CHARS`]: anyone can send anything, so what is stored is bounded.
pub(crate) fn headers_json(headers: &HeaderMap) -> String {
    let mut map = serde_json::Map::new();
    for name in KEPT_HEADERS {
        if let Some(value) = headers.get(name) {
            let value: String = value
                .to_str()
                .unwrap_or("<non-ascii>")
                .chars()
                .take(MAX_KEPT_HEADER_CHARS)
                .collect();
            map.insert(name.to_owned(), json!(value));
        }
    }
    serde_json::Value::Object(map).to_string()
}

fn fail(status: StatusCode, message: &str) -> Response {
    fail_as(Protocol::V3, status, message)
}

/// What the verified part of a handler decided.
pub(crate) enum Decision {
    Apply {
        id: String,
        out_trade_no: String,
        change: NotifiedChange,
    },
    Reject {
        out_trade_no: Option<String>,
        reason: &'static str,
    },
    Ignore {
        id: String,
    },
    /// The store could not be read to decide: nothing recorded, WeChat is asked to retry.
    Unavailable(crate::store::StoreError),
}

pub(crate) struct Received {
    pub(crate) kind: &'static str,
    pub(crate) headers_json: String,
    pub(crate) body: Bytes,
    pub(crate) claimed_id: Option<String>,
    pub(crate) now: i64,
}

impl Received {
    fn record(
        &self,
        verification: &str,
        processing: &str,
        out_trade_no: Option<String>,
    ) -> NotificationRecord {
        NotificationRecord {
            kind: self.kind.to_owned(),
            claimed_id: self.claimed_id.clone(),
            headers_json: self.headers_json.clone(),
            body: self.body.to_vec(),
            body_len: self.body.len(),
            body_sha256: crate::ids::hex(&Sha256::digest(&self.body)),
            verification: verification.to_owned(),
            processing: processing.to_owned(),
            out_trade_no,
            received_at: self.now,
        }
    }
}

/// Records a rejected notification. One that did not verify (`verification` is not `ok`)
/// could come from anyone: only its first [`MAX_UNVERIFIED_BODY_BYTES`] are kept (with its
/// length and SHA-256), and only while its client is within its failure budget
/// ([`crate::notify_guard`]); past it nothing is stored and WeChat's failure answer
/// becomes a 429.
pub(crate) async fn record_failure(
    state: &SharedState,
    received: &Received,
    verification: &str,
    processing: &str,
    order: Option<String>,
) {
    let mut record = received.record(verification, processing, order);
    if verification != "ok" {
        state.metrics.notification(received.kind, "unverified");
        if !crate::notify_guard::admit_unverified_failure() {
            return;
        }
        record.body.truncate(MAX_UNVERIFIED_BODY_BYTES);
    }
    if let Err(err) = state.store.record_notification(&record).await {
        tracing::error!(error = %crate::error::error_chain(&err), "could not record a rejected notification");
    }
}

/// The `id` a v3 body claims, whatever else it holds (kept with a refused notification).
fn claimed_id(body: &[u8]) -> Option<String> {
    let value = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    value.get("id")?.as_str().map(cut_id)
}

/// A claimed id as stored: its first 64 characters (anyone can send anything).
fn cut_id(id: &str) -> String {
    id.chars().take(64).collect()
}

/// Keeps, verifies and parses a v3 notification; on failure records it and returns the
/// answer for WeChat.
async fn receive(
    state: &SharedState,
    kind: &'static str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(Received, Notification), Response> {
    // The claimed id is read from the parsed notification once it verified; only a body
    // that is refused earlier is read for it on its own (one JSON pass per notification).
    let mut received = Received {
        kind,
        headers_json: headers_json(&headers),
        body,
        claimed_id: None,
        now: state.clock.now(),
    };

    let signed = match SignedHeaders::from_lookup(|name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }) {
        Ok(signed) => signed,
        Err(err) => {
            received.claimed_id = claimed_id(&received.body);
            record_failure(state, &received, err.reason_code(), "rejected", None).await;
            return Err(fail(
                StatusCode::UNAUTHORIZED,
                "signature headers missing or malformed",
            ));
        }
    };
    if let Err(err) = state.v3.verify(&signed, &received.body, received.now).await {
        if signed.is_signature_probe() {
            tracing::info!("signature probe rejected as expected");
        } else {
            tracing::warn!(
                reason = err.reason_code(),
                "notification signature rejected"
            );
        }
        received.claimed_id = claimed_id(&received.body);
        record_failure(state, &received, err.reason_code(), "rejected", None).await;
        // An unknown serial may be a rotation the throttled refresh has not caught yet
        // (forged notifications can spend its budget): WeChat retries a failed notification
        // after 15 s, 15 s, 30 s, 3 min …, past the throttle window.
        let message = match err {
            VerifyError::UnknownSerial(_) => "unknown certificate serial, retry later",
            _ => "signature verification failed",
        };
        return Err(fail(StatusCode::UNAUTHORIZED, message));
    }
    match Notification::parse(&received.body) {
        Ok(notification) => {
            received.claimed_id = Some(cut_id(&notification.id));
            Ok((received, notification))
        }
        Err(err) => {
            received.claimed_id = claimed_id(&received.body);
            tracing::warn!(
                kind,
                reason = err.reason_code(),
                "verified notification refused"
            );
            record_failure(
                state,
                &received,
                "ok",
                &format!("rejected:{}", err.reason_code()),
                None,
            )
            .await;
            Err(fail(StatusCode::BAD_REQUEST, "malformed notification"))
        }
    }
}

/// Records a verified notification and applies its change in one store transaction, then
/// answers WeChat: acknowledged only when the change is persisted (or was already).
pub(crate) async fn finish(
    state: &SharedState,
    received: &Received,
    decision: Decision,
    protocol: Protocol,
) -> Response {
    let ack = || ack_as(protocol);
    let fail = |status, message: &str| fail_as(protocol, status, message);
    let count = |outcome: &str| state.metrics.notification(received.kind, outcome);
    match decision {
        Decision::Unavailable(err) => {
            count("failed");
            tracing::error!(error = %crate::error::error_chain(&err), "notification lookup failed");
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "temporarily unable to process",
            )
        }
        Decision::Ignore { id } => {
            let record = received.record("ok", "ignored", None);
            let change = NotifiedChange::Ignored;
            match state.store.apply_notification(&record, &id, &change).await {
                Ok(_) => {
                    count("ignored");
                    ack()
                }
                Err(err) => {
                    count("failed");
                    tracing::error!(error = %crate::error::error_chain(&err), "could not record notification");
                    fail(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "temporarily unable to process",
                    )
                }
            }
        }
        Decision::Reject {
            out_trade_no,
            reason,
        } => {
            // It verified, so it came from WeChat: a refusal here (another merchant or app,
            // a payload that no longer decrypts after a key rotation) is something an
            // operator must see, not only a database row.
            tracing::warn!(
                kind = received.kind,
                reason,
                order = out_trade_no.as_deref().unwrap_or("-"),
                "verified notification refused"
            );
            record_failure(
                state,
                received,
                "ok",
                &format!("rejected:{reason}"),
                out_trade_no,
            )
            .await;
            count(&format!("rejected:{reason}"));
            fail(StatusCode::BAD_REQUEST, reason)
        }
        Decision::Apply {
            id,
            out_trade_no,
            change,
        } => {
            let record = received.record("ok", "pending", Some(out_trade_no));
            let applied = state.store.apply_notification(&record, &id, &change).await;
            // Crash-recovery tests stop the process here: committed, WeChat not yet answered.
            fail::fail_point!("notify::after_commit");
            match applied {
                Ok(NotificationOutcome::Processed(outcome)) if outcome.is_persisted() => {
                    count("applied");
                    ack()
                }
                Ok(NotificationOutcome::Processed(ApplyOutcome::Rejected(rejection))) => {
                    count(&format!("rejected:{}", rejection.code()));
                    tracing::warn!(
                        id,
                        reason = rejection.code(),
                        "notification refused by the store rules"
                    );
                    fail(StatusCode::BAD_REQUEST, rejection.code())
                }
                Ok(NotificationOutcome::Processed(_)) => {
                    count("unchanged");
                    ack()
                }
                Ok(NotificationOutcome::Duplicate { previous }) => {
                    if previous.starts_with("applied")
                        || previous == "unchanged"
                        || previous == "ignored"
                    {
                        count("duplicate");
                        ack()
                    } else {
                        count("duplicate_refused");
                        fail(StatusCode::BAD_REQUEST, "previously refused")
                    }
                }
                Err(err) => {
                    count("failed");
                    tracing::error!(error = %crate::error::error_chain(&err), "notification not persisted");
                    fail(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "temporarily unable to process",
                    )
                }
            }
        }
    }
}

/// `POST /notify/v3/pay`
pub async fn v3_pay(State(state): State<SharedState>, headers: HeaderMap, body: Bytes) -> Response {
    let (received, notification) = match receive(&state, "v3_pay", headers, body).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let decision = decide_pay(&state, &notification);
    finish(&state, &received, decision, Protocol::V3).await
}

/// The checks of a verified pay notification ([`crate::payments::transaction_refusal`], the
/// same as a query's): our merchant, one of our apps, CNY, and an amount. The order itself
/// is not read here: the store checks the amount and the appid it was prepaid with (not
/// merely one of ours: a payment made under another of our apps is not this order's
/// payment) in the transaction that applies it.
fn decide_pay(state: &SharedState, notification: &Notification) -> Decision {
    if notification.event_type != EventType::TransactionSuccess {
        return Decision::Ignore {
            id: notification.id.clone(),
        };
    }
    let transaction: Transaction = match notification.decrypt_json(state.v3.apiv3_key()) {
        Ok(t) => t,
        Err(_) => {
            return Decision::Reject {
                out_trade_no: None,
                reason: "decrypt_failed",
            }
        }
    };
    let out_trade_no = transaction.out_trade_no.as_str().to_owned();
    if let Some(reason) = crate::payments::transaction_refusal(state, &transaction) {
        return Decision::Reject {
            out_trade_no: Some(out_trade_no),
            reason,
        };
    }
    Decision::Apply {
        id: notification.id.clone(),
        out_trade_no,
        change: NotifiedChange::Payment(transaction_fact(
            &transaction,
            "notify_v3",
            state.clock.now(),
        )),
    }
}

/// `POST /notify/v3/refund`
pub async fn v3_refund(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (received, notification) = match receive(&state, "v3_refund", headers, body).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let decision = decide_refund(&state, &notification).await;
    finish(&state, &received, decision, Protocol::V3).await
}

/// The checks of a verified refund notification: our merchant, and a refund we made for
/// the very order the notification names (the store checks the amount and the transition).
async fn decide_refund(state: &SharedState, notification: &Notification) -> Decision {
    if !notification.event_type.is_refund() {
        return Decision::Ignore {
            id: notification.id.clone(),
        };
    }
    let payload: RefundNotificationPayload = match notification.decrypt_json(state.v3.apiv3_key()) {
        Ok(p) => p,
        Err(_) => {
            return Decision::Reject {
                out_trade_no: None,
                reason: "decrypt_failed",
            }
        }
    };
    let out_trade_no = payload.out_trade_no.as_str().to_owned();
    let order = Some(out_trade_no.clone());
    if &payload.mchid != state.v3.mchid() {
        return Decision::Reject {
            out_trade_no: order,
            reason: "mchid_mismatch",
        };
    }
    match state.store.refund(payload.out_refund_no.as_str()).await {
        Ok(Some(refund)) if refund.out_trade_no == out_trade_no => {}
        Ok(Some(_)) => {
            return Decision::Reject {
                out_trade_no: order,
                reason: "out_trade_no_mismatch",
            }
        }
        Ok(None) => {
            return Decision::Reject {
                out_trade_no: order,
                reason: "unknown_refund",
            }
        }
        Err(err) => return Decision::Unavailable(err),
    }
    Decision::Apply {
        id: notification.id.clone(),
        out_trade_no,
        change: NotifiedChange::Refund(refund_notification_fact(
            &payload,
            "notify_v3",
            state.clock.now(),
        )),
    }
}
