//! The payer's side: the H5 cashier behind `h5_url`/`mweb_url` and a desktop "scan" page
//! for Native `code_url`s. Minimal HTML with pay / cancel buttons; the checks are WeChat's
//! (the Referer must be on the merchant's H5 domain, so must `redirect_url`, the link lives
//! five minutes) and live in one function, `check_cashier_link`, that the page and its
//! buttons both run: posting to a button's URL skips no check.

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use wxpay_core::v3::models::TradeType;

use crate::ids::H5_TTL;
use crate::lifecycle;
use crate::mode_one;
use crate::sim::{lock, now_unix, Sim};
use crate::state::{order_key, Order};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{t}</title></head><body>{body}</body></html>",
        t = escape(title)
    )
}

fn error_page(code: &str, message: &str) -> Response {
    let body = format!(
        "<h1 data-error=\"{}\">{}</h1>",
        escape(code),
        escape(message)
    );
    (StatusCode::OK, Html(page("微信支付", &body))).into_response()
}

/// The pay / cancel buttons. Each form carries what the page was opened with (the merchant
/// page's `Referer` and the `redirect_url`) so the POST can run the page's checks again.
fn pay_form(order: &Order, link: &LinkContext) -> String {
    let hidden = |name: &str, value: Option<&str>| {
        value
            .map(|v| {
                format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    escape(v)
                )
            })
            .unwrap_or_default()
    };
    let hidden = format!(
        "{}{}",
        hidden("referer", link.referer.as_deref()),
        hidden("redirect_url", link.redirect_url.as_deref())
    );
    format!(
        "<h1>微信支付</h1><p data-out-trade-no=\"{otn}\">{desc}</p><p>¥{yuan}.{fen:02}</p>\
         <form method=\"post\" action=\"/__sim/cashier/{p}/pay\">{hidden}<button id=\"pay\">确认支付</button></form>\
         <form method=\"post\" action=\"/__sim/cashier/{p}/cancel\">{hidden}<button id=\"cancel\">取消</button></form>",
        otn = escape(&order.out_trade_no),
        desc = escape(&order.description),
        yuan = order.total / 100,
        fen = order.total % 100,
        p = escape(&order.prepay_id),
    )
}

/// An http(s) URL parsed the way a browser parses it (WHATWG rules: `\` is a path
/// separator, user info is dropped), so the host checked is the host a browser would visit.
fn parse_web_url(url: &str) -> Option<reqwest::Url> {
    let parsed = reqwest::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(parsed)
}

/// Host of an http(s) URL, lower case (`https://a.b:8080/x` → `a.b`).
fn host_of(url: &str) -> Option<String> {
    parse_web_url(url)?.host_str().map(str::to_ascii_lowercase)
}

fn domain_allowed(host: &str, domains: &[String]) -> bool {
    domains.iter().any(|d| {
        let d = d.to_ascii_lowercase();
        host == d || host.ends_with(&format!(".{d}"))
    })
}

/// What a cashier link was opened with: the page the payer came from and where to return.
#[derive(Debug, Default, Clone)]
struct LinkContext {
    /// The merchant page's URL (the `Referer` of the `h5_url` visit).
    referer: Option<String>,
    /// Where to send the payer afterwards.
    redirect_url: Option<String>,
}

/// A refusal shown on the cashier page as `data-error="<code>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn page(&self) -> Response {
        error_page(self.code, &self.message)
    }
}

/// The checks WeChat's cashier makes before it offers to pay, shared by the page (GET) and
/// its buttons (POST) so that skipping the page skips no check:
///
/// - H5 (`MWEB`): the `Referer` must be on one of the merchant's H5 payment domains, and the
///   `h5_url` lives five minutes from its issue (A.10; E for `mweb_url`);
/// - Native: the `code_url` lives as long as the prepay id (two hours);
/// - `redirect_url`, when given, must be an http(s) URL on an H5 payment domain (WeChat
///   refuses a return page outside them, and the simulator must not redirect anywhere);
/// - the order must still be payable (NOTPAY or USERPAYING, `time_expire` not passed).
///
/// On success returns the parsed `redirect_url` to send the payer back to.
fn check_cashier_link(
    sim: &Sim,
    order: &Order,
    link: &LinkContext,
    now: i64,
) -> Result<Option<reqwest::Url>, Refusal> {
    let domains = sim
        .merchants
        .get(&order.mchid)
        .map(|m| m.config.h5_domains.clone())
        .unwrap_or_default();
    match order.trade_type {
        TradeType::Mweb => {
            let referer_host = link.referer.as_deref().and_then(host_of);
            if !referer_host.is_some_and(|h| domain_allowed(&h, &domains)) {
                return Err(Refusal::new(
                    "REFERER",
                    "商家参数格式有误，请联系商家解决 (Referer is not an H5 payment domain)",
                ));
            }
        }
        TradeType::Native => {}
        ref other => {
            return Err(Refusal::new(
                "TRADE_TYPE",
                format!("{other} 订单不能在收银台支付 (the cashier serves H5 and Native orders)"),
            ))
        }
    }
    let redirect = match link.redirect_url.as_deref() {
        None => None,
        Some(url) => match parse_web_url(url) {
            Some(parsed)
                if parsed
                    .host_str()
                    .is_some_and(|h| domain_allowed(&h.to_ascii_lowercase(), &domains)) =>
            {
                Some(parsed)
            }
            _ => {
                return Err(Refusal::new(
                    "REDIRECT",
                    "redirect_url 域名与H5支付域名不一致",
                ))
            }
        },
    };
    match order.trade_type {
        TradeType::Mweb => {
            let issued = order.h5_issued_at.unwrap_or(order.created_at);
            if now.saturating_sub(issued) > H5_TTL {
                return Err(Refusal::new(
                    "EXPIRED",
                    "支付链接已失效，请重新发起支付 (h5_url is valid for 5 minutes)",
                ));
            }
        }
        _ => {
            if now >= order.prepay_expires_at {
                return Err(Refusal::new("EXPIRED", "二维码已过期"));
            }
        }
    }
    let mut order = order.clone();
    lifecycle::apply_expiry(&mut order, now);
    if !order.trade_state.is_pending() {
        return Err(Refusal::new(
            "STATE",
            format!("订单状态 {}", order.trade_state.as_str()),
        ));
    }
    Ok(redirect)
}

/// `GET /cgi-bin/mmpayweb-bin/checkmweb?prepay_id=…&package=…[&redirect_url=…]`.
pub async fn h5_cashier(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(prepay_id) = q.get("prepay_id") else {
        return error_page("PARAM", "缺少参数 prepay_id");
    };
    let Some(order) = lock(&sim.world).order_by_prepay(prepay_id).cloned() else {
        return error_page("NOT_FOUND", "订单不存在");
    };
    if order.trade_type != TradeType::Mweb {
        return error_page("NOT_FOUND", "订单不存在");
    }
    let link = LinkContext {
        referer: headers
            .get("referer")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        redirect_url: q.get("redirect_url").cloned(),
    };
    if let Err(refusal) = check_cashier_link(&sim, &order, &link, now_unix()) {
        return refusal.page();
    }
    Html(page("微信支付", &pay_form(&order, &link))).into_response()
}

/// `GET /__sim/scan?code_url=…`: the desktop stand-in for scanning a Native QR code.
///
/// A mode-one (static product) URL is scanned the way WeChat does it: the merchant's
/// callback is called first, and the cashier shows the order it answered with. A GET with
/// that side effect is deliberate: opening the page *is* the scan.
pub async fn scan_page(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(code_url) = q.get("code_url") else {
        return error_page("PARAM", "缺少参数 code_url");
    };
    if code_url.starts_with(mode_one::MODE_ONE_PREFIX) && code_url.contains("sign=") {
        let request = mode_one::ScanRequest::new(code_url.clone());
        return match mode_one::scan(&sim, request).await {
            Ok(outcome) => {
                let key = order_key(&outcome.mchid, &outcome.out_trade_no);
                match lock(&sim.world).orders.get(&key).cloned() {
                    Some(order) => {
                        Html(page("扫码支付", &pay_form(&order, &LinkContext::default())))
                            .into_response()
                    }
                    None => error_page("NOT_FOUND", "订单不存在"),
                }
            }
            Err(e) => error_page(e.reason_code(), &e.to_string()),
        };
    }
    let order = lock(&sim.world)
        .orders
        .values()
        .find(|o| o.code_url.as_deref() == Some(code_url.as_str()))
        .cloned();
    let Some(order) = order else {
        return error_page("NOT_FOUND", "二维码无效");
    };
    if let Err(refusal) = check_cashier_link(&sim, &order, &LinkContext::default(), now_unix()) {
        return refusal.page();
    }
    Html(page("扫码支付", &pay_form(&order, &LinkContext::default()))).into_response()
}

/// `POST /__sim/cashier/{prepay_id}/{pay|cancel}` from the pages' buttons.
///
/// Runs [`check_cashier_link`] again with what the page was opened with (its hidden
/// `referer` and `redirect_url` fields): an expired link cannot be paid by posting to the
/// button's URL directly, and the return is never to a host outside the H5 domains.
pub async fn cashier_action(
    State(sim): State<Sim>,
    Path((prepay_id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(order) = lock(&sim.world).order_by_prepay(&prepay_id).cloned() else {
        return error_page("NOT_FOUND", "订单不存在");
    };
    if !matches!(action.as_str(), "pay" | "cancel") {
        return error_page("PARAM", "未知操作");
    }
    let link = LinkContext {
        referer: form.get("referer").cloned(),
        redirect_url: form.get("redirect_url").cloned(),
    };
    let redirect = match check_cashier_link(&sim, &order, &link, now_unix()) {
        Ok(redirect) => redirect,
        Err(refusal) => return refusal.page(),
    };
    let key = order_key(&order.mchid, &order.out_trade_no);
    let outcome = if action == "pay" {
        lifecycle::pay(&sim, &key, None).map(|_| "支付成功")
    } else {
        lifecycle::payer_cancels(&sim, &key).map(|_| "已取消支付")
    };
    match (outcome, redirect) {
        (Ok(_), Some(url)) => Redirect::to(url.as_str()).into_response(),
        (Ok(msg), None) => Html(page(
            "微信支付",
            &format!("<h1 data-result=\"{action}\">{msg}</h1>"),
        ))
        .into_response(),
        (Err(e), _) => error_page("STATE", &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referer_hosts_match_domains_and_subdomains() {
        let domains = vec!["shop.example".to_owned()];
        assert_eq!(
            host_of("https://m.shop.example:8443/pay?x=1").as_deref(),
            Some("m.shop.example")
        );
        assert!(domain_allowed("m.shop.example", &domains));
        assert!(domain_allowed("shop.example", &domains));
        assert!(!domain_allowed("evilshop.example", &domains));
        assert!(host_of("not a url").is_none());
        assert!(host_of("javascript:alert(1)").is_none());
        // A browser reads `\` as a path separator and drops user info: the host it visits
        // is the one checked.
        assert_eq!(
            host_of("http://evil.example\\@shop.example/").as_deref(),
            Some("evil.example")
        );
        assert_eq!(
            host_of("http://shop.example@evil.example/").as_deref(),
            Some("evil.example")
        );
    }
}
