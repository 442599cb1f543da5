//! What an operator watches, in Prometheus' text format (`GET /metrics`).
//!
//! One [`Metrics`] per server instance (tests run several in one process, and each must count
//! only its own). Labels come from bounded sets only: notification kinds and outcome codes,
//! endpoint templates (never an order or refund number), HTTP statuses and order states.

use std::time::Duration;

use prometheus_client::encoding::{text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A notification's kind and what became of it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    kind: String,
    outcome: String,
}

/// One WeChat endpoint and the HTTP status it answered (`error` when none came).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    endpoint: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

type Latency = Family<EndpointLabel, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 5 ms … about 20 s: WeChat answers in tens of milliseconds; timeouts are seconds.
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

/// The instance's counters, histograms and gauges.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    notifications: Family<NotificationLabels, Counter>,
    upstream_calls: Family<UpstreamLabels, Counter>,
    upstream_seconds: Latency,
    certificate_refreshes: Counter,
    worker_passes: Counter,
    orders: Family<StateLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("wxpay");
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "notifications",
            "Notifications from WeChat by kind and outcome",
            notifications.clone(),
        );
        let upstream_calls = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "Calls to WeChat by endpoint and HTTP status",
            upstream_calls.clone(),
        );
        let upstream_seconds: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            "upstream_request_duration_seconds",
            "Time WeChat took to answer, by endpoint",
            upstream_seconds.clone(),
        );
        let certificate_refreshes = Counter::default();
        registry.register(
            "certificate_refreshes",
            "Platform certificate downloads that verified and were adopted",
            certificate_refreshes.clone(),
        );
        let worker_passes = Counter::default();
        registry.register(
            "worker_passes",
            "Reconciliation worker passes completed",
            worker_passes.clone(),
        );
        let orders = Family::<StateLabel, Gauge>::default();
        registry.register("orders", "Orders in the store by state", orders.clone());
        Self {
            registry,
            notifications,
            upstream_calls,
            upstream_seconds,
            certificate_refreshes,
            worker_passes,
            orders,
        }
    }
}

impl Metrics {
    /// A notification of `kind` ended as `outcome` (a code from a fixed set).
    pub fn notification(&self, kind: &str, outcome: &str) {
        self.notifications
            .get_or_create(&NotificationLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One call to WeChat: its endpoint template, its status (`None`: no answer) and time.
    pub fn upstream_call(&self, endpoint: &str, status: Option<u16>, took: Duration) {
        let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
        self.upstream_calls
            .get_or_create(&UpstreamLabels {
                endpoint: endpoint.to_owned(),
                status,
            })
            .inc();
        self.upstream_seconds
            .get_or_create(&EndpointLabel {
                endpoint: endpoint.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A platform certificate set was downloaded, verified and adopted.
    pub fn certificate_refresh(&self) {
        self.certificate_refreshes.inc();
    }

    /// The worker finished a pass.
    pub fn worker_pass(&self) {
        self.worker_passes.inc();
    }

    /// The text exposition, with the order gauges set from `orders_by_state` first.
    pub fn render(&self, orders_by_state: &[(String, i64)]) -> String {
        self.orders.clear();
        for (state, count) in orders_by_state {
            self.orders
                .get_or_create(&StateLabel {
                    state: state.clone(),
                })
                .set(*count);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = text::encode(&mut out, &self.registry);
        out
    }
}

/// The label of a call to WeChat: the v3 endpoint's template, else the path (v2 and the
/// open platform use fixed paths; their query strings, which may hold secrets, are dropped).
pub fn endpoint_label(method: &str, url: &reqwest::Url) -> String {
    let path = url.path();
    if path.starts_with("/v3/") {
        let target = match url.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        return wxpay_core::v3::paths::Endpoint::parse(method, &target)
            .map(|e| e.template().to_owned())
            .unwrap_or_else(|_| "/v3/other".to_owned());
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_endpoints_never_their_values() {
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        assert_eq!(
            endpoint_label(
                "GET",
                &url("https://h/v3/pay/transactions/out-trade-no/WX20261204123?mchid=1230000109")
            ),
            "/v3/pay/transactions/out-trade-no/{out_trade_no}"
        );
        assert_eq!(
            endpoint_label(
                "GET",
                &url("https://h/sns/jscode2session?appid=wx1&secret=s3cret&js_code=c")
            ),
            "/sns/jscode2session"
        );
    }

    #[test]
    fn the_exposition_counts_what_happened() {
        let m = Metrics::default();
        m.notification("v3_pay", "applied");
        m.notification("v3_pay", "applied");
        m.upstream_call(
            "/v3/pay/transactions/jsapi",
            Some(200),
            Duration::from_millis(12),
        );
        m.worker_pass();
        let text = m.render(&[("SUCCESS".into(), 2)]);
        assert!(
            text.contains("wxpay_notifications_total{kind=\"v3_pay\",outcome=\"applied\"} 2"),
            "{text}"
        );
        assert!(text.contains("wxpay_upstream_requests_total{endpoint=\"/v3/pay/transactions/jsapi\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("wxpay_upstream_request_duration_seconds_count{endpoint=\"/v3/pay/transactions/jsapi\"} 1"), "{text}");
        assert!(text.contains("wxpay_worker_passes_total 1"), "{text}");
        assert!(text.contains("wxpay_orders{state=\"SUCCESS\"} 2"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
