use std::collections::BTreeMap;

use serde_json::json;
use wxpay_sim::config::AppKind;

use crate::common::*;

fn h5_body(t: &TestSim, otn: &str) -> serde_json::Value {
    json!({"appid": t.appid(AppKind::OfficialAccount), "mchid": t.mchid, "description": "d",
        "out_trade_no": otn, "notify_url": "https://m.example/n", "amount": {"total": 1},
        "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}})
}

async fn h5_order(t: &TestSim, otn: &str) -> String {
    t.post_json("/v3/pay/transactions/h5", &h5_body(t, otn))
        .await
        .json()["h5_url"]
        .as_str()
        .expect("h5_url")
        .to_owned()
}

/// A browser that does not follow redirects, so a test sees the cashier's 303.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Opens the cashier the way a browser leaving a merchant page does.
async fn open(client: &reqwest::Client, url: &str, referer: Option<&str>) -> String {
    let mut req = client.get(url);
    if let Some(r) = referer {
        req = req.header("referer", r);
    }
    req.send().await.expect("get").text().await.expect("text")
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The form holding the button `#{button}`: its action and hidden fields, as a browser
/// would submit them.
fn form_of(page: &str, button: &str) -> (String, BTreeMap<String, String>) {
    let form = page
        .split("<form ")
        .skip(1)
        .find(|f| f.contains(&format!("id=\"{button}\"")))
        .unwrap_or_else(|| panic!("no #{button} on the page: {page}"));
    let action = form
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("action");
    let mut fields = BTreeMap::new();
    for input in form.split("<input ").skip(1) {
        let attr = |name: &str| {
            input
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .map(unescape)
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            fields.insert(n, v);
        }
    }
    (unescape(action), fields)
}

struct Posted {
    status: u16,
    location: Option<String>,
    body: String,
}

async fn submit(
    t: &TestSim,
    client: &reqwest::Client,
    action: &str,
    fields: &BTreeMap<String, String>,
) -> Posted {
    let resp = client
        .post(t.url(action))
        .form(fields)
        .send()
        .await
        .expect("post");
    Posted {
        status: resp.status().as_u16(),
        location: resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: resp.text().await.expect("text"),
    }
}

fn prepay_of(h5_url: &str) -> String {
    h5_url
        .split("prepay_id=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("prepay")
        .to_owned()
}

#[tokio::test]
async fn h5_cashier_checks_referer_and_pays() {
    let t = start().await;
    let h5 = h5_order(&t, "h5_page01").await;
    let client = browser();
    let page = open(&client, &h5, None).await;
    assert!(
        page.contains("data-error=\"REFERER\""),
        "no Referer is refused"
    );
    let page = open(&client, &h5, Some("https://evil.example/")).await;
    assert!(page.contains("data-error=\"REFERER\""));
    let with_redirect = format!("{h5}&redirect_url=http%3A%2F%2Flocalhost%2Fdone");
    let page = open(&client, &with_redirect, Some("http://localhost/shop")).await;
    assert!(page.contains("id=\"pay\""), "{page}");
    let (action, fields) = form_of(&page, "pay");
    assert_eq!(
        action,
        format!("/__sim/cashier/{}/pay", prepay_of(&h5)),
        "the button posts to the order's cashier"
    );
    let resp = submit(&t, &client, &action, &fields).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(resp.location.as_deref(), Some("http://localhost/done"));
    assert_eq!(t.trade_state("h5_page01").await, "SUCCESS");
    // Paid: the page and its button now refuse.
    let page = open(&client, &with_redirect, Some("http://localhost/shop")).await;
    assert!(page.contains("data-error=\"STATE\""), "{page}");
    let again = submit(&t, &client, &action, &fields).await;
    assert!(
        again.body.contains("data-error=\"STATE\""),
        "{}",
        again.body
    );
    assert_eq!(again.location, None);
}

#[tokio::test]
async fn h5_link_of_an_open_order_expires_after_five_minutes() {
    let t = start().await;
    let h5 = h5_order(&t, "h5_page02").await;
    let client = browser();
    let page = open(&client, &h5, Some("http://localhost/")).await;
    let (action, fields) = form_of(&page, "pay");
    // Five minutes pass (the link's life is not time-scaled; the control API ages it).
    let (status, order) = t
        .control("POST", "/__sim/orders/h5_page02/expire-link", None)
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["trade_state"], "NOTPAY", "only the link expired");
    assert_eq!(t.trade_state("h5_page02").await, "NOTPAY");
    let page = open(&client, &h5, Some("http://localhost/")).await;
    assert!(page.contains("data-error=\"EXPIRED\""), "{page}");
    // The page's button, posted after the link expired, cannot pay either.
    let resp = submit(&t, &client, &action, &fields).await;
    assert!(
        resp.body.contains("data-error=\"EXPIRED\""),
        "{} {}",
        resp.status,
        resp.body
    );
    assert_eq!(t.trade_state("h5_page02").await, "NOTPAY");
    assert!(t.deliveries().await.is_empty(), "no payment notification");
    // Prepay again with the same parameters: a fresh link for the same open order.
    let renewed = h5_order(&t, "h5_page02").await;
    assert_eq!(prepay_of(&renewed), prepay_of(&h5));
    let page = open(&client, &renewed, Some("http://localhost/")).await;
    assert!(page.contains("id=\"pay\""), "{page}");
    // A JSAPI order has no h5_url to age.
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("h5_page02j", 1, "https://m.example/n"),
    )
    .await;
    let (status, _) = t
        .control("POST", "/__sim/orders/h5_page02j/expire-link", None)
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_closed_orders_link_is_refused() {
    let t = start().await;
    let h5 = h5_order(&t, "h5_page03").await;
    let client = browser();
    let page = open(&client, &h5, Some("http://localhost/")).await;
    let (action, fields) = form_of(&page, "pay");
    t.post_json(
        "/v3/pay/transactions/out-trade-no/h5_page03/close",
        &json!({"mchid": t.mchid}),
    )
    .await;
    let page = open(&client, &h5, Some("http://localhost/")).await;
    assert!(page.contains("data-error=\"STATE\""), "{page}");
    let resp = submit(&t, &client, &action, &fields).await;
    assert!(resp.body.contains("data-error=\"STATE\""), "{}", resp.body);
    assert_eq!(t.trade_state("h5_page03").await, "CLOSED");
}

#[tokio::test]
async fn foreign_redirect_url_is_refused_by_the_page_and_its_buttons() {
    let t = start().await;
    let h5 = h5_order(&t, "h5_page04").await;
    let client = browser();
    // The page: the REDIRECT refusal.
    for foreign in [
        "https%3A%2F%2Fevil.example%2Fphish",
        // A browser goes to evil.example for both of these.
        "http%3A%2F%2Fevil.example%5C%40localhost%2F",
        "http%3A%2F%2Flocalhost%40evil.example%2F",
        "javascript%3Aalert(1)",
    ] {
        let page = open(
            &client,
            &format!("{h5}&redirect_url={foreign}"),
            Some("http://localhost/shop"),
        )
        .await;
        assert!(
            page.contains("data-error=\"REDIRECT\""),
            "{foreign}: {page}"
        );
        assert!(page.contains("redirect_url 域名与H5支付域名不一致"));
        assert!(!page.contains("id=\"pay\""));
    }
    // The buttons: a form whose redirect_url was swapped for a foreign one.
    let page = open(
        &client,
        &format!("{h5}&redirect_url=http%3A%2F%2Flocalhost%2Fdone"),
        Some("http://localhost/shop"),
    )
    .await;
    for button in ["pay", "cancel"] {
        let (action, mut fields) = form_of(&page, button);
        for foreign in [
            "https://evil.example/phish",
            "http://evil.example\\@localhost/",
        ] {
            fields.insert("redirect_url".into(), foreign.into());
            let resp = submit(&t, &client, &action, &fields).await;
            assert_eq!(
                resp.location, None,
                "{button} must not redirect to {foreign}"
            );
            assert!(
                resp.body.contains("data-error=\"REDIRECT\""),
                "{button} {foreign}: {}",
                resp.body
            );
        }
    }
    assert_eq!(t.trade_state("h5_page04").await, "NOTPAY");
    // Skipping the page: no Referer carried, refused like the page refuses it.
    let resp = submit(
        &t,
        &client,
        &format!("/__sim/cashier/{}/pay", prepay_of(&h5)),
        &BTreeMap::new(),
    )
    .await;
    assert!(
        resp.body.contains("data-error=\"REFERER\""),
        "{}",
        resp.body
    );
    let mut forged = BTreeMap::new();
    forged.insert("referer".to_owned(), "https://evil.example/".to_owned());
    let resp = submit(
        &t,
        &client,
        &format!("/__sim/cashier/{}/pay", prepay_of(&h5)),
        &forged,
    )
    .await;
    assert!(
        resp.body.contains("data-error=\"REFERER\""),
        "{}",
        resp.body
    );
    assert_eq!(t.trade_state("h5_page04").await, "NOTPAY");
}

#[tokio::test]
async fn cancel_button_returns_and_leaves_the_order_unpaid() {
    let t = start().await;
    let h5 = h5_order(&t, "h5_page05").await;
    let client = browser();
    // The payer is in the middle of paying (USERPAYING) and backs out.
    let (_, v) = t
        .control("POST", "/__sim/orders/h5_page05/hold", None)
        .await;
    assert_eq!(v["trade_state"], "USERPAYING");
    let page = open(
        &client,
        &format!("{h5}&redirect_url=http%3A%2F%2Flocalhost%2Fback%3Fo%3D5"),
        Some("http://localhost/shop"),
    )
    .await;
    let (action, fields) = form_of(&page, "cancel");
    assert!(action.ends_with("/cancel"));
    let resp = submit(&t, &client, &action, &fields).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(resp.location.as_deref(), Some("http://localhost/back?o=5"));
    assert_eq!(t.trade_state("h5_page05").await, "NOTPAY");
    // Cancelling again (NOTPAY) changes nothing; without redirect_url the page says so.
    let page = open(&client, &h5, Some("http://localhost/shop")).await;
    let (action, fields) = form_of(&page, "cancel");
    let resp = submit(&t, &client, &action, &fields).await;
    assert!(
        resp.body.contains("data-result=\"cancel\""),
        "{}",
        resp.body
    );
    assert_eq!(t.trade_state("h5_page05").await, "NOTPAY");
    assert!(t.deliveries().await.is_empty());
}

#[tokio::test]
async fn scan_page_for_native() {
    let t = start().await;
    let body = json!({"appid": t.appid(AppKind::OfficialAccount), "mchid": t.mchid, "description": "d",
        "out_trade_no": "native_pg1", "notify_url": "https://m.example/n", "amount": {"total": 1}});
    let code_url = t
        .post_json("/v3/pay/transactions/native", &body)
        .await
        .json()["code_url"]
        .as_str()
        .expect("c")
        .to_owned();
    let page = t
        .http
        .get(t.url("/__sim/scan"))
        .query(&[("code_url", &code_url)])
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(page.contains("id=\"pay\""));
    // The desktop scan page needs no Referer: its button pays.
    let client = browser();
    let (action, fields) = form_of(&page, "pay");
    let resp = submit(&t, &client, &action, &fields).await;
    assert!(resp.body.contains("data-result=\"pay\""), "{}", resp.body);
    assert_eq!(t.trade_state("native_pg1").await, "SUCCESS");
    let page = t
        .http
        .get(t.url("/__sim/scan?code_url=weixin%3A%2F%2Fnope"))
        .send()
        .await
        .expect("g")
        .text()
        .await
        .expect("t");
    assert!(page.contains("data-error=\"NOT_FOUND\""));
}
