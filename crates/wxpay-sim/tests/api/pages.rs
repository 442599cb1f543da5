use serde_json::json;
use wxpay_sim::config::AppKind;

use crate::common::*;

async fn h5_order(t: &TestSim, otn: &str) -> String {
    let body = json!({"appid": t.appid(AppKind::OfficialAccount), "mchid": t.mchid, "description": "d",
        "out_trade_no": otn, "notify_url": "https://m.example/n", "amount": {"total": 1},
        "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}});
    t.post_json("/v3/pay/transactions/h5", &body).await.json()["h5_url"]
        .as_str()
        .expect("h5_url")
        .to_owned()
}

#[tokio::test]
async fn h5_cashier_checks_referer_and_pays() {
    let t = start().await;
    let h5 = h5_order(&t, "h5_page01").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = client
        .get(&h5)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("data-error=\"REFERER\""),
        "no Referer is refused"
    );
    let page = client
        .get(&h5)
        .header("referer", "https://evil.example/")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(page.contains("data-error=\"REFERER\""));
    let with_redirect = format!("{h5}&redirect_url=http%3A%2F%2Flocalhost%2Fdone");
    let page = client
        .get(&with_redirect)
        .header("referer", "http://localhost/shop")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(page.contains("id=\"pay\""), "{page}");
    let prepay = h5
        .split("prepay_id=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("prepay");
    let resp = client
        .post(t.url(&format!("/__sim/cashier/{prepay}/pay")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("redirect_url=http%3A%2F%2Flocalhost%2Fdone")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(
        resp.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("http://localhost/done")
    );
    let q = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/h5_page01?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    assert_eq!(q.json()["trade_state"], "SUCCESS");
}

#[tokio::test]
async fn h5_link_expires_after_five_minutes() {
    let t = start().await;
    let h5 = h5_order(&t, "h5_page02").await;
    t.control("POST", "/__sim/orders/h5_page02/expire", None)
        .await;
    let page = t
        .http
        .get(&h5)
        .header("referer", "http://localhost/")
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(page.contains("data-error=\"EXPIRED\""), "{page}");
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
