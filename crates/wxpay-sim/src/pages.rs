//! The payer's side: the H5 cashier behind `h5_url`/`mweb_url` and a desktop "scan" page
//! for Native `code_url`s. Minimal HTML with pay / cancel buttons; the checks are WeChat's
//! (the Referer must be on the merchant's H5 domain, the link lives five minutes).

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::lifecycle;
use crate::mode_one;
use crate::sim::{lock, now_unix, Sim};
use crate::state::{order_key, Order};
use crate::v3::pay::H5_TTL;

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

fn pay_form(order: &Order, redirect_url: Option<&str>) -> String {
    let hidden = redirect_url
        .map(|u| {
            format!(
                "<input type=\"hidden\" name=\"redirect_url\" value=\"{}\">",
                escape(u)
            )
        })
        .unwrap_or_default();
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

/// Host of a URL (`https://a.b:8080/x` → `a.b`).
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host.split(':').next()?.to_owned()
    };
    Some(host.to_ascii_lowercase())
}

fn domain_allowed(host: &str, domains: &[String]) -> bool {
    domains.iter().any(|d| {
        let d = d.to_ascii_lowercase();
        host == d || host.ends_with(&format!(".{d}"))
    })
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
    let domains = sim
        .merchants
        .get(&order.mchid)
        .map(|m| m.config.h5_domains.clone())
        .unwrap_or_default();
    let referer_host = headers
        .get("referer")
        .and_then(|v| v.to_str().ok())
        .and_then(host_of);
    match referer_host {
        Some(h) if domain_allowed(&h, &domains) => {}
        _ => {
            return error_page(
                "REFERER",
                "商家参数格式有误，请联系商家解决 (Referer is not an H5 payment domain)",
            )
        }
    }
    if let Some(redirect) = q.get("redirect_url") {
        if !host_of(redirect).is_some_and(|h| domain_allowed(&h, &domains)) {
            return error_page("REDIRECT", "redirect_url 域名与H5支付域名不一致");
        }
    }
    let issued = order.h5_issued_at.unwrap_or(order.created_at);
    if now_unix() - issued > H5_TTL {
        return error_page(
            "EXPIRED",
            "支付链接已失效，请重新发起支付 (h5_url is valid for 5 minutes)",
        );
    }
    if !order.trade_state.is_pending() {
        return error_page("STATE", &format!("订单状态 {}", order.trade_state.as_str()));
    }
    Html(page(
        "微信支付",
        &pay_form(&order, q.get("redirect_url").map(String::as_str)),
    ))
    .into_response()
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
                    Some(order) => Html(page("扫码支付", &pay_form(&order, None))).into_response(),
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
    if !order.trade_state.is_pending() || now_unix() >= order.prepay_expires_at {
        return error_page("EXPIRED", "二维码已过期");
    }
    Html(page("扫码支付", &pay_form(&order, None))).into_response()
}

/// `POST /__sim/cashier/{prepay_id}/{pay|cancel}` from the pages' buttons.
pub async fn cashier_action(
    State(sim): State<Sim>,
    Path((prepay_id, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(order) = lock(&sim.world).order_by_prepay(&prepay_id).cloned() else {
        return error_page("NOT_FOUND", "订单不存在");
    };
    let key = order_key(&order.mchid, &order.out_trade_no);
    let outcome = match action.as_str() {
        "pay" => lifecycle::pay(&sim, &key, None).map(|_| "支付成功"),
        "cancel" => Ok("已取消支付"),
        _ => return error_page("PARAM", "未知操作"),
    };
    match (outcome, form.get("redirect_url")) {
        (Ok(_), Some(url)) => Redirect::to(url).into_response(),
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
    }
}
