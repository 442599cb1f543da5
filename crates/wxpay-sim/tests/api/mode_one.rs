//! v2 scan-pay mode one: a payer scans a static product QR, the simulator calls a tiny
//! in-test merchant, which places a NATIVE unified order with the simulator and answers
//! with the signed prepay id.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use wxpay_core::invoke::{CodeUrl, NonceStr, PayTimestamp, ProductId};
use wxpay_core::v2::sign::{sign_into, verify, ApiV2Key, SignType};
use wxpay_core::v2::xml;
use wxpay_core::{AppId, MchId};
use wxpay_sim::config::AppKind;
use wxpay_sim::mode_one::ScanRequest;

use crate::common::*;

type Fields = BTreeMap<String, String>;

fn key() -> ApiV2Key {
    ApiV2Key::new(universe().apiv2_key.expose()).expect("key")
}

fn appid() -> String {
    universe()
        .appid(AppKind::OfficialAccount)
        .expect("official account")
        .to_owned()
}

fn code_url(product: &str) -> String {
    CodeUrl::mode_one(
        &key(),
        &AppId::new(appid()).expect("appid"),
        &MchId::new(universe().mchid.clone()).expect("mchid"),
        &ProductId::new(product).expect("product id"),
        &PayTimestamp::from_unix(now()).expect("timestamp"),
        &NonceStr::new("ibuaiVcKdpRxkhJA").expect("nonce"),
    )
    .as_str()
    .to_owned()
}

/// How the test merchant answers the callback.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Places a NATIVE unified order and answers with its prepay id, correctly signed.
    Honest,
    /// Same, but signs the reply with another key.
    BadSign,
    /// Same, with the right key but HMAC-SHA256 where the reply must be MD5.
    HmacReply,
    /// Answers with a prepay id it never obtained.
    UnknownPrepay,
    /// Places a JSAPI order (not NATIVE) and answers with that prepay id.
    JsapiPrepay,
}

struct MerchantState {
    behaviour: Behaviour,
    sim_base: Arc<OnceLock<String>>,
    notify_url: String,
    callbacks: Arc<Mutex<Vec<Fields>>>,
    http: reqwest::Client,
}

struct Merchant {
    url: String,
    sim_base: Arc<OnceLock<String>>,
    callbacks: Arc<Mutex<Vec<Fields>>>,
}

impl Merchant {
    fn callbacks(&self) -> Vec<Fields> {
        self.callbacks.lock().expect("lock").clone()
    }
}

static ORDER_SEQ: AtomicU64 = AtomicU64::new(0);

async fn unified_order(m: &MerchantState, trade_type: &str, product_id: &str) -> Fields {
    let base = m.sim_base.get().expect("simulator base URL set");
    let mut p = Fields::new();
    let out_trade_no = format!("m1_{}_{}", now(), ORDER_SEQ.fetch_add(1, Ordering::Relaxed));
    for (k, v) in [
        ("appid", appid()),
        ("mch_id", universe().mchid.clone()),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_owned()),
        ("body", "tea".to_owned()),
        ("out_trade_no", out_trade_no),
        ("total_fee", "88".to_owned()),
        ("spbill_create_ip", "127.0.0.1".to_owned()),
        ("notify_url", m.notify_url.clone()),
        ("trade_type", trade_type.to_owned()),
        ("product_id", product_id.to_owned()),
        ("openid", OA_PAYER.to_owned()),
    ] {
        if trade_type == "NATIVE" && k == "openid" {
            continue;
        }
        p.insert(k.to_owned(), v);
    }
    sign_into(&mut p, &key(), SignType::Md5);
    let text = m
        .http
        .post(format!("{base}/pay/unifiedorder"))
        .body(xml::to_xml(p.iter()).expect("xml"))
        .send()
        .await
        .expect("unifiedorder")
        .text()
        .await
        .expect("text");
    let reply = xml::parse(text.as_bytes(), xml::DEFAULT_MAX_LEN).expect("reply");
    verify(&reply, &key(), SignType::Md5).expect("unifiedorder reply is signed");
    assert_eq!(reply["result_code"], "SUCCESS", "{reply:?}");
    reply
}

async fn callback(State(m): State<Arc<MerchantState>>, body: Bytes) -> String {
    let fields = xml::parse(&body, xml::DEFAULT_MAX_LEN).expect("callback XML");
    m.callbacks.lock().expect("lock").push(fields.clone());
    if verify(&fields, &key(), SignType::Md5).is_err() {
        return "<xml><return_code>FAIL</return_code><return_msg>sign</return_msg></xml>".into();
    }
    let product = fields.get("product_id").cloned().unwrap_or_default();
    let prepay_id = match m.behaviour {
        Behaviour::UnknownPrepay => "wx20991231000000aaaaaaaaaaaaaaaaaaaaaa".to_owned(),
        Behaviour::JsapiPrepay => unified_order(&m, "JSAPI", &product).await["prepay_id"].clone(),
        Behaviour::Honest | Behaviour::BadSign | Behaviour::HmacReply => {
            unified_order(&m, "NATIVE", &product).await["prepay_id"].clone()
        }
    };
    let mut reply = Fields::new();
    for (k, v) in [
        ("return_code", "SUCCESS".to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("appid", appid()),
        ("mch_id", universe().mchid.clone()),
        ("nonce_str", "Zq8TmLw1".to_owned()),
        ("prepay_id", prepay_id),
    ] {
        reply.insert(k.to_owned(), v);
    }
    let signing_key = if m.behaviour == Behaviour::BadSign {
        ApiV2Key::new("x".repeat(32)).expect("other key")
    } else {
        key()
    };
    let sign_type = if m.behaviour == Behaviour::HmacReply {
        SignType::HmacSha256
    } else {
        SignType::Md5
    };
    sign_into(&mut reply, &signing_key, sign_type);
    xml::to_xml(reply.iter()).expect("xml")
}

async fn merchant(behaviour: Behaviour, notify_url: &str) -> Merchant {
    let sim_base: Arc<OnceLock<String>> = Arc::default();
    let callbacks: Arc<Mutex<Vec<Fields>>> = Arc::default();
    let state = Arc::new(MerchantState {
        behaviour,
        sim_base: sim_base.clone(),
        notify_url: notify_url.to_owned(),
        callbacks: callbacks.clone(),
        http: reqwest::Client::new(),
    });
    let app = Router::new()
        .route("/native-callback", post(callback))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Merchant {
        url: format!("http://{addr}/native-callback"),
        sim_base,
        callbacks,
    }
}

/// A simulator plus a merchant with the given behaviour, wired through `callback_url`.
async fn setup(behaviour: Behaviour) -> (TestSim, Merchant, Receiver) {
    let rx = receiver(vec![]).await;
    let m = merchant(behaviour, &rx.url).await;
    let t = start().await;
    let _ = m.sim_base.set(t.sim.base_url());
    (t, m, rx)
}

async fn scan(t: &TestSim, body: Value) -> (u16, Value) {
    t.control("POST", "/__sim/mode-one/scan", Some(body)).await
}

#[tokio::test]
async fn scan_calls_the_configured_callback_and_the_order_pays_with_a_v2_notification() {
    let rx = receiver(vec![]).await;
    let m = merchant(Behaviour::Honest, &rx.url).await;
    let mut config = base_config();
    config.merchants[0].native_callback_url = Some(m.url.clone());
    let t = start_with(config).await;
    let _ = m.sim_base.set(t.sim.base_url());

    let url = code_url("tea-01");
    let (status, out) = scan(&t, json!({ "code_url": url, "openid": "oScanner01" })).await;
    assert_eq!(status, 200, "{out}");
    let prepay_id = out["prepay_id"].as_str().expect("prepay_id").to_owned();
    let otn = out["out_trade_no"]
        .as_str()
        .expect("out_trade_no")
        .to_owned();
    assert!(prepay_id.starts_with("wx"), "{prepay_id}");
    assert_eq!(out["openid"], "oScanner01");

    // The merchant got one signed (MD5) callback with the six fields.
    let calls = m.callbacks();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    verify(c, &key(), SignType::Md5).expect("callback signed MD5");
    assert!(!c.contains_key("sign_type"), "{c:?}");
    assert_eq!(c["product_id"], "tea-01");
    assert_eq!(c["openid"], "oScanner01");
    assert_eq!(c["is_subscribe"], "N");
    assert_eq!(c["appid"], appid());
    assert_eq!(c["mch_id"], t.mchid);
    assert!(!c["nonce_str"].is_empty());

    // The order is the merchant's NATIVE order, unpaid, bound to the scanner.
    let (_, order) = t
        .control("GET", &format!("/__sim/orders/{otn}"), None)
        .await;
    assert_eq!(order["trade_type"], "NATIVE");
    assert_eq!(order["prepay_id"], prepay_id.as_str());
    assert_eq!(order["trade_state"], "NOTPAY");
    assert_eq!(order["payer_openid"], "oScanner01");

    // The exchange is recorded.
    let (_, log) = t.control("GET", "/__sim/mode-one", None).await;
    assert_eq!(log[0]["outcome"], "ok");
    assert_eq!(log[0]["callback_url"], m.url.as_str());
    assert_eq!(log[0]["reply_status"], 200);
    assert_eq!(log[0]["prepay_id"], prepay_id.as_str());
    assert!(log[0]["request"]
        .as_str()
        .is_some_and(|r| r.contains("oScanner01")));

    // Paying sends the usual v2 pay notification, signed like the unified order (MD5).
    let (status, paid) = t
        .control("POST", &format!("/__sim/orders/{otn}/pay"), None)
        .await;
    assert_eq!(status, 200, "{paid}");
    let got = rx.wait_for(1).await;
    let n = xml::parse(&got[0].body, xml::DEFAULT_MAX_LEN).expect("notification XML");
    verify(&n, &key(), SignType::Md5).expect("notification signed MD5");
    assert!(!n.contains_key("sign_type"), "{n:?}");
    assert_eq!(n["out_trade_no"], otn.as_str());
    assert_eq!(n["trade_type"], "NATIVE");
    assert_eq!(n["openid"], "oScanner01");
    assert_eq!(n["total_fee"], "88");
}

#[tokio::test]
async fn in_process_scan_with_pay_settles_the_order_at_once() {
    let (t, m, rx) = setup(Behaviour::Honest).await;
    let mut request = ScanRequest::new(code_url("cake-2"));
    request.callback_url = Some(m.url.clone());
    request.pay = true;
    let out = t
        .sim
        .control()
        .mode_one_scan(request)
        .await
        .expect("scan accepted");
    let order = out.order.expect("paid order");
    assert_eq!(order.out_trade_no, out.out_trade_no);
    assert!(order.trade_state.is_paid());
    assert_eq!(order.payer_openid.as_deref(), Some(out.openid.as_str()));
    assert!(out.openid.starts_with("oSim"));
    let got = rx.wait_for(1).await;
    let n = xml::parse(&got[0].body, xml::DEFAULT_MAX_LEN).expect("notification XML");
    verify(&n, &key(), SignType::Md5).expect("notification signed");
    assert_eq!(n["out_trade_no"], out.out_trade_no.as_str());
    assert_eq!(t.sim.control().mode_one_exchanges()[0].seq, out.exchange);
}

#[tokio::test]
async fn tampered_and_unsigned_urls_are_refused_before_any_callback() {
    let (t, m, _rx) = setup(Behaviour::Honest).await;
    let tampered = code_url("tea-01").replace("product_id=tea-01", "product_id=tea-99");
    let (status, out) = scan(&t, json!({ "code_url": tampered, "callback_url": m.url })).await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["reason"], "bad_url_sign");
    assert!(out["error"]
        .as_str()
        .is_some_and(|e| e.contains("tampered")));

    // The same URL with its sign parameter removed.
    let signed = code_url("tea-01");
    let (_, query) = signed.split_once('?').expect("query");
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("sign="))
        .collect();
    let unsigned = format!("weixin://wxpay/bizpayurl?{}", rest.join("&"));
    let (status, out) = scan(&t, json!({ "code_url": unsigned, "callback_url": m.url })).await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["reason"], "unsigned_url");

    // Signed with another merchant key: same refusal as tampering.
    let other = ApiV2Key::new("y".repeat(32)).expect("key");
    let forged = CodeUrl::mode_one(
        &other,
        &AppId::new(appid()).expect("appid"),
        &MchId::new(t.mchid.clone()).expect("mchid"),
        &ProductId::new("tea-01").expect("product"),
        &PayTimestamp::from_unix(now()).expect("ts"),
        &NonceStr::new("abc123").expect("nonce"),
    );
    let (status, out) = scan(
        &t,
        json!({ "code_url": forged.as_str(), "callback_url": m.url }),
    )
    .await;
    assert_eq!(status, 400, "{out}");
    assert_eq!(out["reason"], "bad_url_sign");

    assert!(m.callbacks().is_empty(), "no callback for a refused URL");
    let (_, log) = t.control("GET", "/__sim/mode-one", None).await;
    let outcomes: Vec<&str> = log
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        vec!["bad_url_sign", "unsigned_url", "bad_url_sign"]
    );
    assert!(log[0]["callback_url"].is_null());
}

#[tokio::test]
async fn a_reply_with_a_bad_sign_is_refused() {
    let (t, m, _rx) = setup(Behaviour::BadSign).await;
    let (status, out) = scan(
        &t,
        json!({ "code_url": code_url("tea-01"), "callback_url": m.url }),
    )
    .await;
    assert_eq!(status, 502, "{out}");
    assert_eq!(out["reason"], "reply_bad_sign");
    assert_eq!(m.callbacks().len(), 1);
    let exchanges = t.sim.control().mode_one_exchanges();
    assert_eq!(exchanges[0].outcome, "reply_bad_sign");
    assert!(exchanges[0].prepay_id.is_none());
    assert!(exchanges[0]
        .reply
        .as_deref()
        .is_some_and(|r| r.contains("prepay_id")));
}

#[tokio::test]
async fn a_reply_signed_hmac_sha256_is_refused_like_any_bad_sign() {
    let (t, m, _rx) = setup(Behaviour::HmacReply).await;
    let (status, out) = scan(
        &t,
        json!({ "code_url": code_url("tea-01"), "callback_url": m.url }),
    )
    .await;
    assert_eq!(status, 502, "{out}");
    assert_eq!(out["reason"], "reply_bad_sign");
}

#[tokio::test]
async fn a_prepay_id_the_merchant_never_created_is_refused() {
    let (t, m, _rx) = setup(Behaviour::UnknownPrepay).await;
    let (status, out) = scan(
        &t,
        json!({ "code_url": code_url("tea-01"), "callback_url": m.url }),
    )
    .await;
    assert_eq!(status, 502, "{out}");
    assert_eq!(out["reason"], "unknown_prepay");
}

#[tokio::test]
async fn a_prepay_from_a_jsapi_order_is_refused() {
    let (t, m, _rx) = setup(Behaviour::JsapiPrepay).await;
    let (status, out) = scan(
        &t,
        json!({ "code_url": code_url("tea-01"), "callback_url": m.url }),
    )
    .await;
    assert_eq!(status, 502, "{out}");
    assert_eq!(out["reason"], "unknown_prepay");
    assert!(out["error"].as_str().is_some_and(|e| e.contains("NATIVE")));
}

#[tokio::test]
async fn without_a_callback_url_the_scan_is_refused() {
    let (t, m, _rx) = setup(Behaviour::Honest).await;
    let (status, out) = scan(&t, json!({ "code_url": code_url("tea-01") })).await;
    assert_eq!(status, 409, "{out}");
    assert_eq!(out["reason"], "no_callback_url");
    assert!(m.callbacks().is_empty());
    let (status, out) = scan(&t, json!({ "openid": "o1" })).await;
    assert_eq!(status, 400, "{out}");
}

#[tokio::test]
async fn the_scan_page_runs_the_callback_and_shows_the_cashier() {
    let rx = receiver(vec![]).await;
    let m = merchant(Behaviour::Honest, &rx.url).await;
    let mut config = base_config();
    config.merchants[0].native_callback_url = Some(m.url.clone());
    let t = start_with(config).await;
    let _ = m.sim_base.set(t.sim.base_url());
    let get_page = |url: String| {
        let http = t.http.clone();
        let page = t.url("/__sim/scan");
        async move {
            http.get(page)
                .query(&[("code_url", url)])
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("text")
        }
    };
    let page = get_page(code_url("tea-01")).await;
    assert!(page.contains("id=\"pay\""), "{page}");
    assert_eq!(m.callbacks().len(), 1);
    let otn = t.sim.control().mode_one_exchanges()[0]
        .out_trade_no
        .clone()
        .expect("accepted");
    assert!(page.contains(&format!("data-out-trade-no=\"{otn}\"")));
    let tampered = code_url("tea-01").replace("tea-01", "tea-02");
    let page = get_page(tampered).await;
    assert!(page.contains("data-error=\"bad_url_sign\""), "{page}");
    assert_eq!(m.callbacks().len(), 1);
}
