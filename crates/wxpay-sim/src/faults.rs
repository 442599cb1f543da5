//! Fault injection: what the control API arms and the handlers consume.
//!
//! Faults are counted ("the next N calls of an endpoint"), so a test states exactly which
//! request misbehaves and every later one is normal again. Endpoint names are the labels
//! in [`ENDPOINTS`]; `*` matches any endpoint.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Endpoint labels accepted by fault injection (`*` matches all).
pub const ENDPOINTS: &[&str] = &[
    "v3.jsapi",
    "v3.app",
    "v3.h5",
    "v3.native",
    "v3.query",
    "v3.close",
    "v3.refund",
    "v3.refund_query",
    "v3.certificates",
    "v3.tradebill",
    "v3.fundflowbill",
    "v3.billdownload",
    "v2.unifiedorder",
    "v2.orderquery",
    "v2.closeorder",
    "v2.refund",
    "v2.refundquery",
    "login.jscode2session",
    "login.oauth2",
    "login.token",
    "login.ticket",
];

/// What happens to an API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// HTTP 500 with WeChat's `SYSTEM_ERROR` body (signed).
    SystemError,
    /// HTTP 502 with an HTML gateway page and no signature, like a failing front proxy.
    BadGateway,
    /// HTTP 503 `SERVICE_UNAVAILABLE` (signed).
    ServiceUnavailable,
    /// HTTP 429 `FREQUENCY_LIMITED` (signed).
    RateLimited,
    /// Holds the request for `delay_ms` (default 10 s) then answers 500 `SYSTEM_ERROR`:
    /// a client with a shorter timeout sees a timeout.
    Timeout,
    /// Adds `delay_ms` of latency, then handles the call normally.
    Latency,
    /// Handles the call at once (its effects happen: a refund is accepted, a notification
    /// may go out) but holds the answer for `delay_ms` (default 10 s), as when WeChat's
    /// answer is slow on the way back: the merchant can hear of the result before its own
    /// request returns (v3 endpoints only).
    LateAnswer,
    /// Handles the call normally but signs the response with a `WECHATPAY/SIGNTEST/` probe.
    SignTest,
    /// Answers 401 `SIGN_ERROR` without `Wechatpay-*` headers, as WeChat does when the
    /// request signature does not verify, whatever the request (v3 endpoints only): a
    /// merchant that signs other bytes than it sends for this one call.
    SignError,
    /// Handles the call normally but sends the answer without `Wechatpay-*` headers, as a
    /// forger or a header-stripping proxy would (v3 endpoints only).
    Unsigned,
    /// Serves the next bill file with one byte changed (its SHA1 then differs from the
    /// signed `hash_value`), `v3.billdownload` only.
    CorruptFile,
    /// Serves the next bill file cut at half its length, `v3.billdownload` only.
    TruncateFile,
}

impl FaultKind {
    /// Whether the kind only makes sense on a v3 endpoint (it is about the v3 signature).
    pub fn is_v3_only(self) -> bool {
        matches!(
            self,
            Self::SignError
                | Self::Unsigned
                | Self::CorruptFile
                | Self::TruncateFile
                | Self::LateAnswer
        )
    }

    /// Whether the kind damages a served file (it applies after the handler ran).
    pub fn damages_file(self) -> bool {
        matches!(self, Self::CorruptFile | Self::TruncateFile)
    }
}

/// A request to arm a fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Endpoint label (or `*`).
    pub endpoint: String,
    /// What to do.
    pub kind: FaultKind,
    /// How many calls it applies to (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Delay for `timeout` and `latency`.
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

/// Counted notification faults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NotifyFaults {
    /// Send each of the next N notifications twice.
    #[serde(default)]
    pub duplicate: u32,
    /// Never send the next N notifications (recorded as `dropped`).
    #[serde(default)]
    pub drop: u32,
    /// Hold back the next N notifications by `delay_ms`, so later ones overtake them.
    #[serde(default)]
    pub reorder: u32,
    /// Hold-back delay for `reorder` (default 500 ms, not time-scaled).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Send the first attempt of the next N notifications with a `WECHATPAY/SIGNTEST/` signature.
    #[serde(default)]
    pub probe: u32,
    /// Send the second copy of a `duplicate` to this origin (`http://host:port`) with the
    /// `notify_url`'s path, at the same moment as the first: two server instances behind a
    /// load balancer receiving one notification at once. Kept until replaced; `""` clears.
    #[serde(default)]
    pub mirror_to: Option<String>,
}

/// What the notification sender should do with one notification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyPlan {
    /// Send a second copy.
    pub duplicate: bool,
    /// Do not send.
    pub drop: bool,
    /// Wait this long before the first attempt.
    pub delay_ms: u64,
    /// First attempt carries a probe signature.
    pub probe: bool,
}

/// All armed faults.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Faults {
    /// Counted API faults per endpoint, applied in arming order.
    pub api: BTreeMap<String, Vec<FaultSpec>>,
    /// Constant added latency per endpoint, milliseconds.
    pub latency_ms: BTreeMap<String, u64>,
    /// Notification faults.
    pub notify: NotifyFaults,
}

impl Faults {
    /// Arms a counted fault.
    pub fn arm(&mut self, spec: FaultSpec) {
        if spec.count > 0 {
            self.api
                .entry(spec.endpoint.clone())
                .or_default()
                .push(spec);
        }
    }

    /// Consumes the next fault for `endpoint` (exact name first, then `*`).
    pub fn take(&mut self, endpoint: &str) -> Option<FaultSpec> {
        for key in [endpoint, "*"] {
            if let Some(queue) = self.api.get_mut(key) {
                if let Some(first) = queue.first_mut() {
                    let taken = first.clone();
                    first.count -= 1;
                    if first.count == 0 {
                        queue.remove(0);
                    }
                    if queue.is_empty() {
                        self.api.remove(key);
                    }
                    return Some(taken);
                }
            }
        }
        None
    }

    /// Constant latency for `endpoint` (exact, else `*`).
    pub fn latency(&self, endpoint: &str) -> u64 {
        self.latency_ms
            .get(endpoint)
            .or_else(|| self.latency_ms.get("*"))
            .copied()
            .unwrap_or(0)
    }

    /// Consumes notification faults for one notification.
    pub fn take_notify(&mut self) -> NotifyPlan {
        let n = &mut self.notify;
        let mut plan = NotifyPlan::default();
        if n.drop > 0 {
            n.drop -= 1;
            plan.drop = true;
            return plan;
        }
        if n.duplicate > 0 {
            n.duplicate -= 1;
            plan.duplicate = true;
        }
        if n.reorder > 0 {
            n.reorder -= 1;
            plan.delay_ms = n.delay_ms.unwrap_or(500);
        }
        if n.probe > 0 {
            n.probe -= 1;
            plan.probe = true;
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(endpoint: &str, kind: FaultKind, count: u32) -> FaultSpec {
        FaultSpec {
            endpoint: endpoint.into(),
            kind,
            count,
            delay_ms: None,
        }
    }

    #[test]
    fn counted_faults_run_out() {
        let mut f = Faults::default();
        f.arm(spec("v3.jsapi", FaultKind::SystemError, 2));
        f.arm(spec("v3.jsapi", FaultKind::RateLimited, 1));
        assert_eq!(
            f.take("v3.jsapi").map(|s| s.kind),
            Some(FaultKind::SystemError)
        );
        assert_eq!(
            f.take("v3.jsapi").map(|s| s.kind),
            Some(FaultKind::SystemError)
        );
        assert_eq!(
            f.take("v3.jsapi").map(|s| s.kind),
            Some(FaultKind::RateLimited)
        );
        assert!(f.take("v3.jsapi").is_none());
    }

    #[test]
    fn wildcard_applies_after_exact() {
        let mut f = Faults::default();
        f.arm(spec("*", FaultKind::BadGateway, 1));
        assert!(f.take("v3.native").is_some());
        assert!(f.take("v3.native").is_none());
    }

    #[test]
    fn notify_drop_wins_over_others() {
        let mut f = Faults {
            notify: NotifyFaults {
                duplicate: 1,
                drop: 1,
                reorder: 0,
                delay_ms: None,
                probe: 0,
                mirror_to: None,
            },
            ..Faults::default()
        };
        assert!(f.take_notify().drop);
        let p = f.take_notify();
        assert!(!p.drop && p.duplicate);
        assert_eq!(f.take_notify(), NotifyPlan::default());
    }
}
