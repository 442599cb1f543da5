//! Notifications to the merchant's `notify_url`, on WeChat's retry schedule.
//!
//! v3: a signed JSON envelope whose `resource` is AEAD_AES_256_GCM-encrypted with the
//! merchant's APIv3 key (A.6, A.7); acknowledged by HTTP 200 or 204, as WeChat documents
//! (any other status, 2xx included, is a failure and retried). v2: signed XML, acknowledged
//! by HTTP 200 with `return_code` SUCCESS (E.4); the refund's `req_info` is AES-256-ECB
//! encrypted by the core. Each attempt is signed afresh (a retry hours
//! later must pass the merchant's 5-minute timestamp check), and every attempt with the
//! merchant's reply is recorded for the control API. Deliveries still pending when the
//! simulator stops are resumed on the next start from the state file ([`resume_pending`]).

use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use wxpay_core::v2::models::{check_return_code, signed_xml, PayNotification};
use wxpay_core::v2::refund_models::{RefundNotification, RefundNotificationInfo};
use wxpay_core::v2::sign::{ApiV2Key, SignType};
use wxpay_core::v2::xml;
use wxpay_core::v3::aead::{AeadError, ApiV3Key};
use wxpay_core::v3::notification::{
    encrypt_notification, EventType, Notification, NotificationParams,
};
use wxpay_core::values::{format_beijing_rfc3339, ValueError};
use wxpay_core::{AppId, MchId, OutRefundNo, OutTradeNo, RefundId, TransactionId};

use crate::config::scale_seconds;
use crate::faults::NotifyPlan;
use crate::ids::{probe_signature, random_alnum};
use crate::sim::{lock, now_ms, now_unix, Sim};
use crate::state::{order_key, Attempt, Delivery, Order, Refund, World};
use crate::wire::{v2_order, v2_refund_time, WireError};

/// Delays between attempts, in seconds: 15s 15s 30s 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h
/// (24 h 4 min in all), scaled by `time_scale`.
pub const RETRY_SCHEDULE_SECS: [u64; 15] = [
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

/// How long a merchant may take to answer one attempt (WeChat: 5 s).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait after the `attempts_made`-th attempt failed (from 1), scaled by
/// `time_scale`; `None` once the last attempt has been made (WeChat gives up).
pub fn retry_delay(time_scale: f64, attempts_made: usize) -> Option<Duration> {
    let secs = RETRY_SCHEDULE_SECS.get(attempts_made.checked_sub(1)?)?;
    Some(scale_seconds(*secs as f64, time_scale))
}

/// How many attempts a notification gets in all: the first plus one per scheduled retry.
pub const MAX_ATTEMPTS: usize = RETRY_SCHEDULE_SECS.len() + 1;

/// Whether a merchant's reply acknowledges a notification.
pub fn is_acknowledgement(protocol: Protocol, status: u16, body: &str) -> bool {
    match protocol {
        // "商户接收通知成功时需返回 HTTP 应答状态码 200 或 204，无需返回应答报文。"
        Protocol::V3 => status == 200 || status == 204,
        Protocol::V2 => status == 200 && is_success_reply(body),
    }
}

/// `true` when a merchant's reply to a v2 notification is `return_code` SUCCESS.
pub fn is_success_reply(body: &str) -> bool {
    xml::parse(body.as_bytes(), xml::DEFAULT_MAX_LEN)
        .map(|params| check_return_code(&params).is_ok())
        .unwrap_or(false)
}

/// Wire protocol of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// JSON, `Wechatpay-*` signed headers, 200 or 204 acknowledges.
    V3,
    /// XML, signature inside the body, `return_code` SUCCESS acknowledges.
    V2,
}

fn notification_id() -> String {
    let mut rng = rand::thread_rng();
    let hex = |n: usize, rng: &mut rand::rngs::ThreadRng| -> String {
        (0..n)
            .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
            .collect()
    };
    format!(
        "{}-{}-{}-{}-{}",
        hex(8, &mut rng),
        hex(4, &mut rng),
        hex(4, &mut rng),
        hex(4, &mut rng),
        hex(12, &mut rng)
    )
}

/// Builds, records and starts delivering a v3 notification: `payload` (the core's
/// `Transaction` or `RefundNotificationPayload`) encrypted with the merchant's APIv3 key into
/// the core's [`Notification`] envelope, with `original_type` as associated data.
pub fn enqueue_v3<T: Serialize>(
    sim: &Sim,
    mchid: &str,
    url: &str,
    event: &EventType,
    payload: &T,
    out_trade_no: &str,
    out_refund_no: Option<&str>,
) {
    match v3_envelope(sim, mchid, event, payload) {
        Ok((notification, plaintext)) => enqueue(
            sim,
            Protocol::V3,
            notification.id.clone(),
            event.as_str(),
            mchid,
            url,
            notification.to_json(),
            plaintext,
            out_trade_no,
            out_refund_no,
        ),
        Err(e) => tracing::error!(error = %e, event = %event, "could not build a notification"),
    }
}

/// Queues the v2 pay notification (E.4), signed like the unified order was.
pub fn enqueue_v2_pay(sim: &Sim, order: &Order) {
    let Some(key) = merchant_key(sim, &order.mchid) else {
        return;
    };
    let sign_type = order
        .v2_sign_type
        .as_deref()
        .and_then(|s| SignType::parse(s).ok())
        .unwrap_or_default();
    let notification = match v2_order(order) {
        Ok(v2) => PayNotification {
            order: v2,
            is_subscribe: Some("N".into()),
        },
        Err(e) => {
            tracing::error!(error = %e, "could not build a v2 pay notification");
            return;
        }
    };
    let Ok(body) = signed_xml(notification.to_params(&random_alnum(16)), &key, sign_type) else {
        return;
    };
    let id = order.transaction_id.clone().unwrap_or_default();
    enqueue(
        sim,
        Protocol::V2,
        id,
        "V2.PAY",
        &order.mchid,
        &order.notify_url,
        body.clone(),
        body,
        &order.out_trade_no,
        None,
    );
}

/// Queues the v2 refund notification with `req_info` AES-256-ECB encrypted (not signed:
/// v2 refund notifications carry no `sign`).
pub fn enqueue_v2_refund(sim: &Sim, refund: &Refund) {
    let (Some(key), Some(url)) = (merchant_key(sim, &refund.mchid), refund.notify_url.clone())
    else {
        return;
    };
    let appid = lock(&sim.world)
        .orders
        .get(&order_key(&refund.mchid, &refund.out_trade_no))
        .map(|o| o.appid.clone())
        .unwrap_or_default();
    let notification = || -> Result<RefundNotification, WireError> {
        Ok(RefundNotification {
            appid: AppId::new(appid)?,
            mch_id: MchId::new(refund.mchid.clone())?,
            info: RefundNotificationInfo {
                transaction_id: TransactionId::new(refund.transaction_id.clone())?,
                out_trade_no: OutTradeNo::new(refund.out_trade_no.clone())?,
                refund_id: RefundId::new(refund.refund_id.clone())?,
                out_refund_no: OutRefundNo::new(refund.out_refund_no.clone())?,
                total_fee: refund.total,
                refund_fee: refund.refund,
                settlement_refund_fee: Some(refund.refund),
                refund_status: refund.status.clone(),
                success_time: refund.success_time.map(v2_refund_time).transpose()?,
                refund_recv_accout: Some("支付用户零钱".into()),
                refund_account: Some("REFUND_SOURCE_RECHARGE_FUNDS".into()),
                refund_request_source: Some("API".into()),
            },
        })
    };
    let notification = match notification() {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "could not build a v2 refund notification");
            return;
        }
    };
    let plaintext =
        xml::to_xml_with_root("root", &notification.info.to_params()).unwrap_or_default();
    let Ok(params) = notification.to_params(&random_alnum(16), &key) else {
        return;
    };
    let Ok(body) = xml::to_xml(&params) else {
        return;
    };
    enqueue(
        sim,
        Protocol::V2,
        refund.refund_id.clone(),
        "V2.REFUND",
        &refund.mchid,
        &url,
        body,
        plaintext,
        &refund.out_trade_no,
        Some(&refund.out_refund_no),
    );
}

fn merchant_key(sim: &Sim, mchid: &str) -> Option<ApiV2Key> {
    sim.merchants
        .get(mchid)
        .and_then(|m| ApiV2Key::new(m.config.apiv2_key.expose()).ok())
}

/// Why a v3 notification could not be built (logged; nothing is sent).
#[derive(Debug, thiserror::Error)]
enum EnvelopeError {
    /// The notification names a merchant the configuration does not hold.
    #[error("unknown merchant {0}")]
    UnknownMerchant(String),
    /// The merchant's APIv3 key is unusable, or encryption failed.
    #[error(transparent)]
    Aead(#[from] AeadError),
    /// The payload did not serialise.
    #[error(transparent)]
    Payload(#[from] serde_json::Error),
    /// The clock is outside what RFC 3339 can print.
    #[error(transparent)]
    Time(#[from] ValueError),
}

/// The encrypted envelope of a v3 notification, and the plaintext it carries.
fn v3_envelope<T: Serialize>(
    sim: &Sim,
    mchid: &str,
    event: &EventType,
    payload: &T,
) -> Result<(Notification, String), EnvelopeError> {
    let merchant = sim
        .merchants
        .get(mchid)
        .ok_or_else(|| EnvelopeError::UnknownMerchant(mchid.to_owned()))?;
    let key = ApiV3Key::new(merchant.config.apiv3_key.expose())?;
    let plaintext = serde_json::to_string(payload)?;
    let original_type = event.original_type().unwrap_or_default();
    let create_time = format_beijing_rfc3339(now_unix())?;
    let params = NotificationParams {
        id: &notification_id(),
        create_time: &create_time,
        event_type: event,
        summary: event.summary().unwrap_or_default(),
        original_type,
        nonce: &random_alnum(12),
        associated_data: original_type,
    };
    let notification = encrypt_notification(&key, &params, plaintext.as_bytes())?;
    Ok((notification, plaintext))
}

/// Records a delivery (and its duplicate, when armed) and spawns the sender.
#[allow(clippy::too_many_arguments)]
pub fn enqueue(
    sim: &Sim,
    protocol: Protocol,
    id: String,
    event_type: &str,
    mchid: &str,
    url: &str,
    body: String,
    plaintext: String,
    out_trade_no: &str,
    out_refund_no: Option<&str>,
) {
    let (plan, mirror) = {
        let mut faults = lock(&sim.faults);
        (faults.take_notify(), faults.notify.mirror_to.clone())
    };
    let copies = if plan.duplicate { 2 } else { 1 };
    for copy in 0..copies {
        let url = match &mirror {
            Some(origin) if copy > 0 => rebase(url, origin),
            _ => url.to_owned(),
        };
        let seq = {
            let mut world = lock(&sim.world);
            let seq = world.next_seq;
            world.next_seq += 1;
            world.deliveries.push(Delivery {
                seq,
                id: id.clone(),
                event_type: event_type.to_owned(),
                mchid: mchid.to_owned(),
                out_trade_no: out_trade_no.to_owned(),
                out_refund_no: out_refund_no.map(str::to_owned),
                url,
                body: body.clone(),
                plaintext: plaintext.clone(),
                attempts: Vec::new(),
                status: if plan.drop {
                    "dropped".into()
                } else {
                    "pending".into()
                },
                duplicate: copy > 0,
            });
            seq
        };
        if !plan.drop {
            let sim = sim.clone();
            let plan = NotifyPlan {
                probe: plan.probe && copy == 0,
                ..plan
            };
            let start = Resume {
                next_attempt: 0,
                wait: Duration::from_millis(plan.delay_ms),
            };
            tokio::spawn(async move { deliver(sim, seq, protocol, plan, start).await });
        }
    }
    sim.persist();
}

/// `url` with its scheme, host and port replaced by `origin`'s (the path and query kept).
fn rebase(url: &str, origin: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path = url[after_scheme..]
        .find('/')
        .map_or("", |i| &url[after_scheme + i..]);
    format!("{}{path}", origin.trim_end_matches('/'))
}

fn find(world: &mut World, seq: u64) -> Option<&mut Delivery> {
    world.deliveries.iter_mut().find(|d| d.seq == seq)
}

/// Where a delivery task starts: which attempt (from 0) and after how long a wait.
#[derive(Debug, Clone, Copy)]
struct Resume {
    next_attempt: usize,
    wait: Duration,
}

/// Restarts the deliveries a previous run left `pending` (loaded from the state file).
///
/// Each continues WeChat's schedule where it stopped: the next attempt is due one scheduled
/// (scaled) delay after the last recorded attempt, or at once when that time has passed or
/// no attempt was made yet. Returns how many were resumed.
pub fn resume_pending(sim: &Sim) -> usize {
    let now = now_ms();
    let pending: Vec<(u64, Protocol, Resume)> = lock(&sim.world)
        .deliveries
        .iter()
        .filter(|d| d.status == "pending")
        .map(|d| {
            let made = d.attempts.len();
            let due = match (d.attempts.last(), retry_delay(sim.config.time_scale, made)) {
                (Some(last), Some(delay)) => last
                    .at_ms
                    .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
                _ => now,
            };
            let wait = Duration::from_millis(u64::try_from(due.saturating_sub(now)).unwrap_or(0));
            let protocol = if d.is_v2() {
                Protocol::V2
            } else {
                Protocol::V3
            };
            let resume = Resume {
                next_attempt: made,
                wait,
            };
            (d.seq, protocol, resume)
        })
        .collect();
    let count = pending.len();
    for (seq, protocol, resume) in pending {
        let sim = sim.clone();
        tokio::spawn(
            async move { deliver(sim, seq, protocol, NotifyPlan::default(), resume).await },
        );
    }
    count
}

async fn deliver(sim: Sim, seq: u64, protocol: Protocol, plan: NotifyPlan, start: Resume) {
    let mut shutdown = sim.shutdown.subscribe();
    if !start.wait.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(start.wait) => {}
            _ = shutdown.changed() => return,
        }
    }
    let Some((url, body)) =
        find(&mut lock(&sim.world), seq).map(|d| (d.url.clone(), d.body.clone()))
    else {
        return;
    };
    for attempt in start.next_attempt..MAX_ATTEMPTS {
        if *shutdown.borrow() {
            return;
        }
        let probe = plan.probe && attempt == 0;
        let record = send_once(
            &sim,
            protocol,
            &url,
            &body,
            probe,
            u32::try_from(attempt + 1).unwrap_or(u32::MAX),
        )
        .await;
        let acknowledged = record.acknowledged;
        let next = retry_delay(sim.config.time_scale, attempt + 1);
        {
            let mut world = lock(&sim.world);
            if let Some(d) = find(&mut world, seq) {
                d.attempts.push(record);
                if acknowledged {
                    d.status = "acknowledged".into();
                } else if next.is_none() {
                    d.status = "gave_up".into();
                }
            }
        }
        sim.persist();
        let Some(wait) = next.filter(|_| !acknowledged) else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
    // Every attempt was made in an earlier run but the outcome was not recorded.
    if let Some(d) = find(&mut lock(&sim.world), seq) {
        if d.status == "pending" {
            d.status = "gave_up".into();
        }
    }
    sim.persist();
}

async fn send_once(
    sim: &Sim,
    protocol: Protocol,
    url: &str,
    body: &str,
    probe: bool,
    number: u32,
) -> Attempt {
    let mut request = sim
        .http
        .post(url)
        .timeout(ATTEMPT_TIMEOUT)
        .body(body.to_owned());
    match protocol {
        Protocol::V3 => {
            request = request.header("content-type", "application/json");
            match sim
                .signer()
                .sign_headers(now_unix(), &random_alnum(32), body.as_bytes())
            {
                Ok(pairs) => {
                    for (name, value) in pairs {
                        let value = if probe && name.eq_ignore_ascii_case("wechatpay-signature") {
                            probe_signature()
                        } else {
                            value
                        };
                        request = request.header(name, value);
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not sign a notification"),
            }
        }
        Protocol::V2 => request = request.header("content-type", "text/xml"),
    }
    let at_ms = now_ms();
    match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let reply = resp.text().await.unwrap_or_default();
            let acknowledged = is_acknowledgement(protocol, status, &reply);
            let reply: String = reply.chars().take(2048).collect();
            Attempt {
                number,
                at_ms,
                status: Some(status),
                reply,
                error: None,
                probe,
                acknowledged,
            }
        }
        Err(e) => Attempt {
            number,
            at_ms,
            status: None,
            reply: String::new(),
            error: Some(e.to_string()),
            probe,
            acknowledged: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirrored_copy_keeps_the_path() {
        assert_eq!(
            rebase(
                "http://127.0.0.1:8080/notify/v3/pay?x=1",
                "http://127.0.0.1:9090/"
            ),
            "http://127.0.0.1:9090/notify/v3/pay?x=1"
        );
        assert_eq!(rebase("http://a:1", "http://b:2"), "http://b:2");
    }

    #[test]
    fn schedule_sums_to_24h4m() {
        let total: u64 = RETRY_SCHEDULE_SECS.iter().sum();
        assert_eq!(total, 24 * 3600 + 4 * 60);
    }

    #[test]
    fn retry_delays_follow_the_schedule_scaled() {
        assert_eq!(retry_delay(0.001, 0), None);
        assert_eq!(retry_delay(0.001, 1), Some(Duration::from_millis(15)));
        assert_eq!(retry_delay(0.001, 4), Some(Duration::from_millis(180)));
        assert_eq!(retry_delay(0.001, 15), Some(Duration::from_millis(21_600)));
        assert_eq!(retry_delay(0.001, MAX_ATTEMPTS), None, "16 attempts in all");
        assert_eq!(retry_delay(1.0, 10), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn v3_acknowledgement_is_200_or_204_only() {
        assert!(is_acknowledgement(Protocol::V3, 200, ""));
        assert!(is_acknowledgement(Protocol::V3, 204, ""));
        for status in [201, 202, 299, 302, 400, 500] {
            assert!(!is_acknowledgement(Protocol::V3, status, ""), "{status}");
        }
        let ok = "<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>";
        let fail = "<xml><return_code><![CDATA[FAIL]]></return_code></xml>";
        assert!(is_acknowledgement(Protocol::V2, 200, ok));
        assert!(!is_acknowledgement(Protocol::V2, 200, fail));
        assert!(!is_acknowledgement(Protocol::V2, 204, ok));
    }

    #[test]
    fn notification_ids_look_like_uuids() {
        let id = notification_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
