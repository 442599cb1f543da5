use serde_json::json;
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_sim::config::AppKind;

use crate::common::*;

const NOTIFY: &str = "https://merchant.example/notify";

#[tokio::test]
async fn jsapi_prepay_and_query_are_signed() {
    let t = start().await;
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body("order_0001", 100, NOTIFY),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let prepay_id = r.json()["prepay_id"]
        .as_str()
        .expect("prepay_id")
        .to_owned();
    assert!(prepay_id.starts_with("wx"));
    assert!(r.header("request-id").is_some());
    let q = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/order_0001?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    assert_eq!(q.status, 200);
    let v = q.json();
    assert_eq!(v["trade_state"], "NOTPAY");
    assert_eq!(v["trade_type"], "JSAPI");
    assert_eq!(v["amount"]["total"], 100);
    assert!(v.get("transaction_id").is_none());
}

#[tokio::test]
async fn app_h5_native_prepay_shapes() {
    let t = start().await;
    let base = |otn: &str, appid: String| {
        json!({"appid": appid, "mchid": t.mchid, "description": "d", "out_trade_no": otn,
               "notify_url": NOTIFY, "amount": {"total": 1}})
    };
    let r = t
        .post_json(
            "/v3/pay/transactions/app",
            &base("app_00001", t.appid(AppKind::App)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["prepay_id"].is_string());

    let r = t
        .post_json(
            "/v3/pay/transactions/native",
            &base("native_001", t.appid(AppKind::OfficialAccount)),
        )
        .await;
    assert!(r.json()["code_url"]
        .as_str()
        .expect("code_url")
        .starts_with("weixin://wxpay/bizpayurl?pr="));

    let mut h5 = base("h5_000001", t.appid(AppKind::OfficialAccount));
    h5["scene_info"] = json!({"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}});
    let r = t.post_json("/v3/pay/transactions/h5", &h5).await;
    let url = r.json()["h5_url"].as_str().expect("h5_url").to_owned();
    assert!(
        url.contains("/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx"),
        "{url}"
    );
    let q = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/h5_000001?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    assert_eq!(q.json()["trade_type"], "MWEB");
}

/// WeChat signs an answer only once it has verified the request (A.3), so every 401
/// `SIGN_ERROR` comes back without `Wechatpay-*` headers.
#[tokio::test]
async fn bad_authorization_is_401_sign_error() {
    let t = start().await;
    let body = t.jsapi_body("order_auth1", 100, NOTIFY).to_string();
    let path = "/v3/pay/transactions/jsapi";
    // Missing header.
    let r = t.raw("POST", path, &body, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "SIGN_ERROR");
    assert_eq!(r.json()["detail"]["location"], "authorization");
    t.assert_unsigned(&r);
    // Signed over a different body.
    let other = t.jsapi_body("order_auth1", 101, NOTIFY).to_string();
    let r = t
        .raw(
            "POST",
            path,
            &body,
            Some(t.authorization("POST", path, &other, now())),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["detail"]["detail"]["issue"], "sign not match");
    assert_eq!(r.json()["detail"]["sign_information"]["url"], path);
    t.assert_unsigned(&r);
    // Stale timestamp.
    let r = t
        .raw(
            "POST",
            path,
            &body,
            Some(t.authorization("POST", path, &body, now() - 600)),
        )
        .await;
    assert_eq!(r.status, 401);
    // Unknown merchant serial.
    let auth = t
        .authorization("POST", path, &body, now())
        .replace(&t.serial, "0123456789ABCDEF0123456789ABCDEF01234567");
    let r = t.raw("POST", path, &body, Some(auth)).await;
    assert_eq!(r.status, 401);
    t.assert_unsigned(&r);
    // Garbage.
    let r = t.raw("POST", path, &body, Some("Bearer x".into())).await;
    assert_eq!(r.status, 401);
    // Query string is part of the signed URL.
    let signed = t.authorization(
        "GET",
        &format!(
            "/v3/pay/transactions/out-trade-no/x123456?mchid={}",
            t.mchid
        ),
        "",
        now(),
    );
    let r = t
        .raw(
            "GET",
            "/v3/pay/transactions/out-trade-no/x123456?mchid=1",
            "",
            Some(signed),
        )
        .await;
    assert_eq!(r.status, 401);
    t.assert_unsigned(&r);
}

/// `sign_error` refuses one call as if its signature did not verify; `unsigned` answers one
/// call normally but without its signature. Both are v3-only.
#[tokio::test]
async fn sign_error_and_unsigned_faults() {
    let t = start().await;
    let arm =
        |kind: &str, endpoint: &str| json!({ "endpoint": endpoint, "kind": kind, "count": 1 });
    let (status, _) = t
        .control("POST", "/__sim/faults", Some(arm("sign_error", "v3.jsapi")))
        .await;
    assert_eq!(status, 200);
    let path = "/v3/pay/transactions/jsapi";
    let body = t.jsapi_body("order_flt01", 100, NOTIFY).to_string();
    let send = || {
        t.raw(
            "POST",
            path,
            &body,
            Some(t.authorization("POST", path, &body, now())),
        )
    };
    let r = send().await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (401, Some("SIGN_ERROR"))
    );
    t.assert_unsigned(&r);
    let (status, _) = t.control("GET", "/__sim/orders/order_flt01", None).await;
    assert_eq!(status, 404, "a refused call creates nothing");

    let (status, _) = t
        .control("POST", "/__sim/faults", Some(arm("unsigned", "v3.jsapi")))
        .await;
    assert_eq!(status, 200);
    let r = send().await;
    assert_eq!(r.status, 200, "{}", r.body);
    t.assert_unsigned(&r);
    let r = send().await;
    assert_eq!(r.status, 200, "{}", r.body);
    t.assert_signed(&r);

    for endpoint in ["v2.unifiedorder", "login.token", "*"] {
        let (status, _) = t
            .control("POST", "/__sim/faults", Some(arm("sign_error", endpoint)))
            .await;
        assert_eq!(status, 400, "{endpoint}");
    }
}

#[tokio::test]
async fn param_errors_name_the_field() {
    let t = start().await;
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            {
                let mut b = t.jsapi_body("order_p0001", 1, NOTIFY);
                b["amount"]["total"] = json!("100");
                b
            },
            "/amount/total",
        ),
        (
            {
                let mut b = t.jsapi_body("order_p0002", 1, NOTIFY);
                b["amount"]["total"] = json!(0);
                b
            },
            "/amount/total",
        ),
        (
            {
                let mut b = t.jsapi_body("order_p0003", 1, NOTIFY);
                b.as_object_mut().expect("obj").remove("payer");
                b
            },
            "/payer",
        ),
        (
            {
                let mut b = t.jsapi_body("bad no!", 1, NOTIFY);
                b["out_trade_no"] = json!("bad no!");
                b
            },
            "/out_trade_no",
        ),
        (
            t.jsapi_body("order_p0005", 1, "https://merchant.example/n?x=1"),
            "/notify_url",
        ),
        (
            {
                let mut b = t.jsapi_body("order_p0006", 1, NOTIFY);
                b.as_object_mut().expect("obj").remove("description");
                b
            },
            "/description",
        ),
        (
            {
                let mut b = t.jsapi_body("order_p0007", 1, NOTIFY);
                b["amount"]["currency"] = json!("USD");
                b
            },
            "/amount/currency",
        ),
    ];
    for (body, field) in cases {
        let r = t.post_json("/v3/pay/transactions/jsapi", &body).await;
        assert_eq!(r.status, 400, "{field}: {}", r.body);
        assert_eq!(r.json()["code"], "PARAM_ERROR");
        // WeChat's API v3 rules: a JSON Pointer into the body, the value found there, and
        // `location` body.
        let detail = &r.json()["detail"];
        assert_eq!(detail["field"], field, "{}", r.body);
        assert_eq!(detail["location"], "body", "{}", r.body);
        assert_eq!(
            detail.get("value"),
            body.pointer(field),
            "the value received: {}",
            r.body
        );
        assert!(detail["issue"].is_string(), "{}", r.body);
    }
    // H5 requires scene_info.
    let body = json!({"appid": t.appid(AppKind::OfficialAccount), "mchid": t.mchid, "description": "d",
                      "out_trade_no": "h5_p00001", "notify_url": NOTIFY, "amount": {"total": 1}});
    let r = t.post_json("/v3/pay/transactions/h5", &body).await;
    assert_eq!(r.json()["detail"]["field"], "/scene_info");
    // Not JSON at all.
    let r = t
        .call("POST", "/v3/pay/transactions/native", "{not json")
        .await;
    assert_eq!(r.json()["code"], "PARAM_ERROR");
    // appid not bound to the merchant.
    let mut b = t.jsapi_body("order_p0008", 1, NOTIFY);
    b["appid"] = json!("wx0000000000000000");
    let r = t.post_json("/v3/pay/transactions/jsapi", &b).await;
    assert_eq!(r.json()["code"], "APPID_MCHID_NOT_MATCH");
}

#[tokio::test]
async fn reused_out_trade_no() {
    let t = start().await;
    let body = t.jsapi_body("order_reuse", 100, NOTIFY);
    let a = t
        .post_json("/v3/pay/transactions/jsapi", &body)
        .await
        .json();
    let b = t
        .post_json("/v3/pay/transactions/jsapi", &body)
        .await
        .json();
    assert_eq!(
        a["prepay_id"], b["prepay_id"],
        "same parameters give the same prepay_id"
    );
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body("order_reuse", 200, NOTIFY),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "INVALID_REQUEST");
}

#[tokio::test]
async fn paid_order_lifecycle() {
    let t = start().await;
    t.paid_order("order_paid1", 100, NOTIFY).await;
    let q = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/order_paid1?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    let v = q.json();
    assert_eq!(v["trade_state"], "SUCCESS");
    let tid = v["transaction_id"]
        .as_str()
        .expect("transaction_id")
        .to_owned();
    assert_eq!(tid.len(), 28);
    assert!(v["success_time"]
        .as_str()
        .expect("success_time")
        .ends_with("+08:00"));
    assert_eq!(v["payer"]["openid"], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    let q = t
        .call(
            "GET",
            &format!("/v3/pay/transactions/id/{tid}?mchid={}", t.mchid),
            "",
        )
        .await;
    assert_eq!(q.json()["out_trade_no"], "order_paid1");
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body("order_paid1", 100, NOTIFY),
        )
        .await;
    assert_eq!(r.json()["code"], "ORDERPAID");
    let r = t
        .post_json(
            "/v3/pay/transactions/out-trade-no/order_paid1/close",
            &json!({"mchid": t.mchid}),
        )
        .await;
    assert_eq!(r.json()["code"], "ORDERPAID");
}

#[tokio::test]
async fn close_is_204_and_signed() {
    let t = start().await;
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("order_close", 100, NOTIFY),
    )
    .await;
    let r = t
        .post_json(
            "/v3/pay/transactions/out-trade-no/order_close/close",
            &json!({"mchid": t.mchid}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let q = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/order_close?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    assert_eq!(q.json()["trade_state"], "CLOSED");
    let r = t
        .post_json(
            "/v3/pay/transactions/jsapi",
            &t.jsapi_body("order_close", 100, NOTIFY),
        )
        .await;
    assert_eq!(r.json()["code"], "ORDER_CLOSED");
    let (status, _) = t
        .control("POST", "/__sim/orders/order_close/pay", None)
        .await;
    assert_eq!(status, 409, "a closed order cannot be paid");
}

#[tokio::test]
async fn close_while_the_payer_enters_the_password_is_202_userpaying_and_closes_nothing() {
    let t = start().await;
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("order_paying", 100, NOTIFY),
    )
    .await;
    let (status, _) = t
        .control("POST", "/__sim/orders/order_paying/hold", None)
        .await;
    assert_eq!(status, 200);
    // Signed like every answer (`call` verifies the signature).
    let r = t
        .post_json(
            "/v3/pay/transactions/out-trade-no/order_paying/close",
            &json!({"mchid": t.mchid}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (202, Some("USERPAYING"))
    );
    let query = format!(
        "/v3/pay/transactions/out-trade-no/order_paying?mchid={}",
        t.mchid
    );
    assert_eq!(
        t.call("GET", &query, "").await.json()["trade_state"],
        "USERPAYING"
    );
    // The payment goes through, and a close now meets a paid order.
    let (status, _) = t
        .control("POST", "/__sim/orders/order_paying/pay", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        t.call("GET", &query, "").await.json()["trade_state"],
        "SUCCESS"
    );
    let r = t
        .post_json(
            "/v3/pay/transactions/out-trade-no/order_paying/close",
            &json!({"mchid": t.mchid}),
        )
        .await;
    assert_eq!(r.json()["code"], "ORDERPAID");
}

#[tokio::test]
async fn not_found_and_query_param_errors() {
    let t = start().await;
    let q = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/missing01?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    assert_eq!(
        (q.status, q.json()["code"].as_str()),
        (404, Some("ORDER_NOT_EXIST")),
        "the current docs' spelling, not the older ORDERNOTEXIST"
    );
    let q = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/id/4200000000000000000000000000?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    assert_eq!(
        (q.status, q.json()["code"].as_str()),
        (404, Some("ORDER_NOT_EXIST"))
    );
    let q = t
        .call("GET", "/v3/pay/transactions/out-trade-no/missing01", "")
        .await;
    assert_eq!(q.json()["code"], "PARAM_ERROR");
    // A query parameter is named by its name, not by a path (API v3 rules).
    assert_eq!(q.json()["detail"]["field"], "mchid", "{}", q.body);
    assert_eq!(q.json()["detail"]["location"], "query", "{}", q.body);
    let q = t
        .call(
            "GET",
            "/v3/pay/transactions/out-trade-no/missing01?mchid=1900000000",
            "",
        )
        .await;
    assert_eq!(
        (q.status, q.json()["detail"]["field"].as_str()),
        (400, Some("mchid")),
        "another merchant's mchid: {}",
        q.body
    );
    // So is a path parameter that is not a valid id.
    let q = t
        .call(
            "GET",
            &format!("/v3/pay/transactions/out-trade-no/a%20b?mchid={}", t.mchid),
            "",
        )
        .await;
    assert_eq!(
        (q.status, q.json()["detail"]["field"].as_str()),
        (400, Some("out_trade_no")),
        "{}",
        q.body
    );
    assert_eq!(q.json()["detail"]["location"], "url");
    let r = t
        .post_json(
            "/v3/pay/transactions/out-trade-no/missing01/close",
            &json!({"mchid": t.mchid}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (404, Some("ORDER_NOT_EXIST"))
    );
    let r = t.call("GET", "/v3/no/such/path", "").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn refunds_and_their_errors() {
    let t = start().await;
    t.paid_order("order_ref01", 1000, NOTIFY).await;
    let refund = |orn: &str, amount: i64, total: i64| {
        json!({"out_trade_no": "order_ref01", "out_refund_no": orn, "reason": "r",
               "amount": {"refund": amount, "total": total, "currency": "CNY"}})
    };
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("refund_01", 300, 1000),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "PROCESSING");
    assert_eq!(r.json()["amount"]["refund"], 300);
    // Retry with the same out_refund_no returns the same refund.
    let again = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("refund_01", 300, 1000),
        )
        .await;
    assert_eq!(again.json()["refund_id"], r.json()["refund_id"]);
    // Same number, different amount.
    let r2 = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("refund_01", 301, 1000),
        )
        .await;
    assert_eq!(r2.json()["code"], "INVALID_REQUEST");
    // Exceeds what is left.
    let r3 = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("refund_02", 800, 1000),
        )
        .await;
    assert_eq!(r3.json()["code"], "INVALID_REQUEST");
    // Wrong total.
    let r4 = t
        .post_json("/v3/refund/domestic/refunds", &refund("refund_03", 1, 999))
        .await;
    assert_eq!(r4.json()["code"], "INVALID_REQUEST");
    // Merchant balance short.
    t.control(
        "POST",
        "/__sim/balance",
        Some(json!({"mchid": t.mchid, "fen": 10})),
    )
    .await;
    let r5 = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &refund("refund_04", 100, 1000),
        )
        .await;
    assert_eq!(
        (r5.status, r5.json()["code"].as_str()),
        (403, Some("NOT_ENOUGH"))
    );
    // Unpaid order.
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("order_unpd1", 100, NOTIFY),
    )
    .await;
    let r6 = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &json!({"out_trade_no": "order_unpd1", "out_refund_no": "rf_x",
            "amount": {"refund": 1, "total": 100, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(
        (r6.status, r6.json()["code"].as_str()),
        (404, Some("RESOURCE_NOT_EXISTS"))
    );
    // Missing currency is a PARAM_ERROR naming it.
    let r7 = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &json!({"out_trade_no": "order_ref01", "out_refund_no": "rf_y",
            "amount": {"refund": 1, "total": 1000}}),
        )
        .await;
    assert_eq!(r7.json()["detail"]["field"], "/amount/currency");
    // Query.
    let q = t
        .call("GET", "/v3/refund/domestic/refunds/refund_01", "")
        .await;
    assert_eq!(q.json()["status"], "PROCESSING");
    let q = t.call("GET", "/v3/refund/domestic/refunds/nope", "").await;
    assert_eq!(
        (q.status, q.json()["code"].as_str()),
        (404, Some("RESOURCE_NOT_EXISTS"))
    );
    // Order shows REFUND.
    let o = t
        .call(
            "GET",
            &format!(
                "/v3/pay/transactions/out-trade-no/order_ref01?mchid={}",
                t.mchid
            ),
            "",
        )
        .await;
    assert_eq!(o.json()["trade_state"], "REFUND");
    // Control: succeed.
    let (s, v) = t
        .control("POST", "/__sim/refunds/refund_01/succeed", None)
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("SUCCESS")));
    let q = t
        .call("GET", "/v3/refund/domestic/refunds/refund_01", "")
        .await;
    assert_eq!(q.json()["status"], "SUCCESS");
    assert!(q.json()["success_time"].is_string());
    let (s, _) = t
        .control("POST", "/__sim/refunds/refund_01/fail", None)
        .await;
    assert_eq!(s, 409, "a successful refund cannot close");
}

#[tokio::test]
async fn certificates_decrypt_and_verify() {
    let t = start().await;
    let r = t.call("GET", "/v3/certificates", "").await;
    assert_eq!(r.status, 200);
    let key = ApiV3Key::new(universe().apiv3_key.expose()).expect("key");
    let headers = r.signed_headers().expect("headers");
    // Verify as an SDK does on first download: only with the certificates it contains.
    let certs = wxpay_core::v3::certificates::verify_and_decrypt(
        r.body.as_bytes(),
        &headers,
        now(),
        &key,
        None,
    )
    .expect("verifies with its own certificate");
    assert_eq!(certs.len(), 1);
    assert!(certs[0]
        .serial()
        .as_str()
        .eq_ignore_ascii_case(&universe().platform.serial));
    assert!(headers
        .serial
        .as_str()
        .eq_ignore_ascii_case(&universe().platform.serial));
}

#[tokio::test]
async fn public_key_mode_and_switch_over() {
    let mut c = base_config();
    c.signing_mode = wxpay_sim::SigningMode::PublicKey;
    let t = start_with(c).await;
    let r = t.call("GET", "/v3/certificates", "").await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (403, Some("NO_AUTH"))
    );
    assert_eq!(
        r.header("wechatpay-serial").as_deref(),
        Some(universe().public_key_id.as_str())
    );
    // Switch to both: certificates downloadable, responses signed with the public key.
    t.control("POST", "/__sim/signing-mode", Some(json!({"mode": "both"})))
        .await;
    let r = t.call("GET", "/v3/certificates", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("wechatpay-serial").as_deref(),
        Some(universe().public_key_id.as_str())
    );
    t.control(
        "POST",
        "/__sim/signing-mode",
        Some(json!({"mode": "certificate"})),
    )
    .await;
    let r = t.call("GET", "/v3/certificates", "").await;
    assert!(r
        .header("wechatpay-serial")
        .expect("serial")
        .eq_ignore_ascii_case(&universe().platform.serial));
}

#[tokio::test]
async fn platform_rotation() {
    let t = start().await;
    let (s, v) = t
        .control(
            "POST",
            "/__sim/platform/rotate",
            Some(json!({"activate": false})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let new_serial = v["serial"].as_str().expect("serial").to_owned();
    let r = t.call("GET", "/v3/certificates", "").await;
    assert_eq!(r.json()["data"].as_array().map(Vec::len), Some(2));
    assert!(r
        .header("wechatpay-serial")
        .expect("s")
        .eq_ignore_ascii_case(&universe().platform.serial));
    t.control(
        "POST",
        &format!("/__sim/platform/activate/{new_serial}"),
        None,
    )
    .await;
    let r = t
        .raw(
            "GET",
            "/v3/certificates",
            "",
            Some(t.authorization("GET", "/v3/certificates", "", now())),
        )
        .await;
    assert_eq!(
        r.header("wechatpay-serial").as_deref(),
        Some(new_serial.as_str())
    );
    // The old verifier does not know the new certificate; the downloaded list does.
    assert!(t
        .verifier
        .verify(&r.signed_headers().expect("h"), r.body.as_bytes(), now())
        .is_err());
    let key = ApiV3Key::new(universe().apiv3_key.expose()).expect("key");
    wxpay_core::v3::certificates::verify_and_decrypt(
        r.body.as_bytes(),
        &r.signed_headers().expect("h"),
        now(),
        &key,
        None,
    )
    .expect("verifies with the rotated certificate");
}

#[tokio::test]
async fn rule_limit_after_fifty_refunds() {
    let t = start().await;
    t.paid_order("order_rule1", 100, NOTIFY).await;
    let refund = |n: u32| {
        json!({"out_trade_no": "order_rule1", "out_refund_no": format!("rule_{n:02}"),
               "amount": {"refund": 1, "total": 100, "currency": "CNY"}})
    };
    for n in 1..=50 {
        let r = t.post_json("/v3/refund/domestic/refunds", &refund(n)).await;
        assert_eq!(r.status, 200, "refund {n}: {}", r.body);
    }
    let r = t
        .post_json("/v3/refund/domestic/refunds", &refund(51))
        .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (403, Some("RULE_LIMIT")),
        "{}",
        r.body
    );
    // A retry of an existing refund is not a new one.
    let r = t
        .post_json("/v3/refund/domestic/refunds", &refund(50))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn closing_a_closed_order_again_is_204() {
    let t = start().await;
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("order_cls02", 100, NOTIFY),
    )
    .await;
    let body = json!({"mchid": t.mchid});
    let close = || t.post_json("/v3/pay/transactions/out-trade-no/order_cls02/close", &body);
    assert_eq!(close().await.status, 204);
    let again = close().await;
    assert_eq!(again.status, 204, "{}", again.body);
    assert!(again.body.is_empty());
    assert_eq!(t.trade_state("order_cls02").await, "CLOSED");
    // An order closed by its time_expire closes again the same way.
    t.post_json(
        "/v3/pay/transactions/jsapi",
        &t.jsapi_body("order_cls03", 100, NOTIFY),
    )
    .await;
    t.control("POST", "/__sim/orders/order_cls03/expire", None)
        .await;
    let r = t
        .post_json(
            "/v3/pay/transactions/out-trade-no/order_cls03/close",
            &json!({"mchid": t.mchid}),
        )
        .await;
    assert_eq!(r.status, 204);
    // Paying is still refused.
    let (s, _) = t
        .control("POST", "/__sim/orders/order_cls02/pay", None)
        .await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn refund_by_transaction_id() {
    let t = start().await;
    let order = t.paid_order("order_rtid1", 800, NOTIFY).await;
    let tid = order["transaction_id"]
        .as_str()
        .expect("transaction_id")
        .to_owned();
    let r = t
        .post_json(
            "/v3/refund/domestic/refunds",
            &json!({"transaction_id": tid, "out_refund_no": "rtid_1",
                    "amount": {"refund": 300, "total": 800, "currency": "CNY"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["out_trade_no"], "order_rtid1");
    assert_eq!(r.json()["transaction_id"], tid.as_str());
    // An unknown transaction id, and one that names another order than out_trade_no.
    t.paid_order("order_rtid2", 800, NOTIFY).await;
    for body in [
        json!({"transaction_id": "4200000000000000000000000000", "out_refund_no": "rtid_2",
               "amount": {"refund": 1, "total": 800, "currency": "CNY"}}),
        json!({"transaction_id": tid, "out_trade_no": "order_rtid2", "out_refund_no": "rtid_3",
               "amount": {"refund": 1, "total": 800, "currency": "CNY"}}),
    ] {
        let r = t.post_json("/v3/refund/domestic/refunds", &body).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (404, Some("RESOURCE_NOT_EXISTS")),
            "{}",
            r.body
        );
    }
}
