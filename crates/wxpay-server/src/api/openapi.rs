//! `GET /openapi.json`: the hand-written OpenAPI 3.1 document of the frontend API.
//!
//! Hand-written because the API is small and its error shape and per-channel parameters
//! are easier to state exactly than to derive; `tests/api` checks that every routed path
//! appears here.

use axum::Json;
use serde_json::{json, Value};

fn error_ref() -> Value {
    json!({ "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(schema: &str) -> Value {
    json!({ "description": "OK", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn path_param(name: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
}

/// The document.
pub fn openapi() -> Value {
    let auth = json!([{ "bearer": [] }]);
    let admin = json!([{ "adminToken": [] }]);
    let owner_or_admin = json!([{ "bearer": [] }, { "adminToken": [] }]);
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": "wxpay-server", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Merchant backend for WeChat Pay. Amounts are integers in fen. Every error is {\"error\":{\"code\",\"message\"}}." },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A payer's session from a login call" },
                "adminToken": { "type": "apiKey", "in": "header", "name": "X-Admin-Token",
                    "description": "The merchant staff's credential (server.admin_token). Refunds need it; without one configured they answer 403 refunds_disabled." }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object",
                    "required": ["code", "message"], "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } },
                "LoginRequest": { "type": "object", "required": ["code"], "properties": { "code": { "type": "string", "maxLength": 128 } } },
                "LoginResponse": { "type": "object", "required": ["token", "openid", "expires_in"], "properties": {
                    "token": { "type": "string" }, "openid": { "type": "string" }, "expires_in": { "type": "integer" } } },
                "Products": { "type": "object", "properties": { "products": { "type": "array", "items": { "type": "object",
                    "properties": { "id": { "type": "string" }, "name": { "type": "string" }, "price_fen": { "type": "integer" } } } } } },
                "CreateOrder": { "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "minItems": 1, "maxItems": 50,
                    "items": { "type": "object", "required": ["product_id"], "properties": {
                        "product_id": { "type": "string" }, "quantity": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 1 } } } } } },
                "Order": { "type": "object", "properties": {
                    "out_trade_no": { "type": "string" },
                    "state": { "type": "string", "enum": ["NOTPAY", "USERPAYING", "SUCCESS", "REFUND", "CLOSED", "PAYERROR", "REVOKED"] },
                    "amount_fen": { "type": "integer" }, "refunded_fen": { "type": "integer" },
                    "channel": { "type": ["string", "null"] }, "transaction_id": { "type": ["string", "null"] },
                    "api_version": { "type": ["string", "null"], "enum": ["v3", "v2", null] },
                    "description": { "type": "string" }, "created_at": { "type": "integer" }, "paid_at": { "type": ["integer", "null"] } } },
                "AdminOrder": { "allOf": [{ "$ref": "#/components/schemas/Order" }, { "type": "object", "properties": {
                    "attention": { "type": ["string", "null"],
                        "description": "Why the merchant should look at this order, e.g. refunded_outside_server (WeChat reports it paid and refunded while this server held it unpaid) or unknown_trade_state; null when nothing is wrong." } } }] },
                "PayRequest": { "type": "object", "required": ["channel"], "properties": {
                    "channel": { "type": "string", "enum": ["miniprogram", "jsapi", "jssdk", "h5", "native", "app"] },
                    "api_version": { "type": "string", "enum": ["v3", "v2"], "default": "v3" } } },
                "PayResponse": { "type": "object", "required": ["out_trade_no", "channel", "params"], "properties": {
                    "out_trade_no": { "type": "string" }, "channel": { "type": "string" },
                    "params": { "oneOf": [
                        { "title": "getBrandWCPayRequest / wx.requestPayment (miniprogram, jsapi)", "type": "object",
                          "required": ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"],
                          "properties": { "appId": { "type": "string" }, "timeStamp": { "type": "string" }, "nonceStr": { "type": "string" },
                                          "package": { "type": "string", "pattern": "^prepay_id=" }, "signType": { "type": "string" }, "paySign": { "type": "string" } } },
                        { "title": "wx.chooseWXPay (jssdk): lower-case timestamp, no appId (it comes from wx.config)", "type": "object",
                          "required": ["timestamp", "nonceStr", "package", "signType", "paySign"],
                          "properties": { "timestamp": { "type": "string" }, "nonceStr": { "type": "string" },
                                          "package": { "type": "string", "pattern": "^prepay_id=" }, "signType": { "type": "string" }, "paySign": { "type": "string" } } },
                        { "title": "APP", "type": "object",
                          "required": ["appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"],
                          "properties": { "appid": { "type": "string" }, "partnerid": { "type": "string" }, "prepayid": { "type": "string" },
                                          "package": { "const": "Sign=WXPay" }, "noncestr": { "type": "string" }, "timestamp": { "type": "string" }, "sign": { "type": "string" } } },
                        { "title": "H5", "type": "object", "required": ["h5Url"], "properties": { "h5Url": { "type": "string" } } },
                        { "title": "Native", "type": "object", "required": ["codeUrl"], "properties": { "codeUrl": { "type": "string" } } }
                    ] } } },
                "RefundRequest": { "type": "object", "required": ["amount_fen"], "properties": {
                    "amount_fen": { "type": "integer", "minimum": 1 }, "reason": { "type": "string", "maxLength": 80 } } },
                "Refund": { "type": "object", "properties": {
                    "out_refund_no": { "type": "string" }, "out_trade_no": { "type": "string" }, "amount_fen": { "type": "integer" },
                    "status": { "type": "string", "enum": ["PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL"] }, "refund_id": { "type": ["string", "null"] } } },
                "WxConfig": { "type": "object", "properties": {
                    "appId": { "type": "string" }, "timestamp": { "type": "integer" }, "nonceStr": { "type": "string" },
                    "signature": { "type": "string" }, "jsApiList": { "type": "array", "items": { "type": "string" } } } },
                "NotifyFail": { "type": "object", "properties": { "code": { "const": "FAIL" }, "message": { "type": "string" } } }
            }
        },
        "paths": {
            "/healthz": { "get": { "summary": "Liveness: the process answers (checks nothing else)", "responses": { "200": { "description": "OK" } } } },
            "/readyz": { "get": { "summary": "Readiness: the database answers and WeChat's answers can be verified",
                "responses": { "200": { "description": "Ready" }, "503": { "description": "Not ready; the JSON body names the reason" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics (text format); the admin token as a bearer token",
                "responses": { "200": { "description": "Metrics" }, "401": { "description": "Missing or wrong token" }, "404": { "description": "No admin token configured" } } } },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OK" } } } },
            "/api/login/miniprogram": { "post": { "summary": "Mini-program login (code2Session); session_key stays on the server",
                "requestBody": body("LoginRequest"), "responses": { "200": ok("LoginResponse"), "400": error_ref(), "429": error_ref(), "503": error_ref() } } },
            "/api/login/oauth": { "post": { "summary": "WeChat-browser web authorisation code → openid",
                "requestBody": body("LoginRequest"), "responses": { "200": ok("LoginResponse"), "400": error_ref(), "429": error_ref(), "503": error_ref() } } },
            "/api/logout": { "post": { "summary": "End the session: its token stops working at once", "security": auth,
                "responses": { "204": { "description": "Logged out" }, "401": error_ref() } } },
            "/api/products": { "get": { "summary": "Products with server-decided prices", "responses": { "200": ok("Products") } } },
            "/api/orders": { "post": { "summary": "Create an order from product ids (price from the server)", "security": auth,
                "parameters": [{ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 64 } }],
                "description": "At most limits.orders_per_minute per user: past it 429 rate_limited with Retry-After.",
                "requestBody": body("CreateOrder"), "responses": { "200": ok("Order"), "400": error_ref(), "401": error_ref(), "429": error_ref() } } },
            "/api/orders/{out_trade_no}": { "get": { "summary": "Order status; queries WeChat when unpaid and the last check is stale",
                "security": auth, "parameters": [path_param("out_trade_no")], "responses": { "200": ok("Order"), "401": error_ref(), "404": error_ref() } } },
            "/api/orders/{out_trade_no}/pay": { "post": { "summary": "Prepay (reused while valid) and signed client parameters",
                "description": "409 order_closed when the order was closed while WeChat was being asked: no parameters are handed out for it. At most limits.pay_per_minute per user: past it 429 rate_limited with Retry-After.",
                "security": auth, "parameters": [path_param("out_trade_no")], "requestBody": body("PayRequest"),
                "responses": { "200": ok("PayResponse"), "400": error_ref(), "401": error_ref(), "404": error_ref(), "409": error_ref(), "429": error_ref(), "502": error_ref(), "503": error_ref() } } },
            "/api/orders/{out_trade_no}/close": { "post": { "summary": "Close an unpaid order", "security": auth,
                "description": "Closed at WeChat first, then here. 409 order_paid when it was paid first; 409 order_paying when WeChat answers USERPAYING (the payer is entering the password): the order is not closed, query it again; 503 when WeChat cannot be reached (nothing closed).",
                "parameters": [path_param("out_trade_no")], "responses": { "200": ok("Order"), "404": error_ref(), "409": error_ref(), "503": error_ref() } } },
            "/api/orders/{out_trade_no}/refunds": { "post": { "summary": "Refund part or all of any paid order (merchant staff only)",
                "description": "Needs X-Admin-Token; a payer's session is not enough (403 admin_required), a wrong token is 403 invalid_admin_token, and with no server.admin_token configured refunds are disabled (403 refunds_disabled). After limits.admin_failures_per_minute wrong tokens a client gets 429 rate_limited, even with the right one, until the minute is over. The audit row records the admin as the actor. When WeChat's answer is unknown (5xx, timeout, SYSTEMERROR, BIZERR_NEED_RETRY) the refund is answered 200 with status PROCESSING: the amount stays reserved and the reconciliation worker resubmits it under the same out_refund_no, so never create a second refund for it; follow it at /api/refunds/{out_refund_no}. Send an Idempotency-Key to make a repeated request safe: the same key with the same order, amount and reason answers the refund it first created (WeChat is asked once); the same key with another request is 409 idempotency_key_reused.",
                "security": admin, "parameters": [path_param("out_trade_no"), { "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 64 } }], "requestBody": body("RefundRequest"),
                "responses": { "200": ok("Refund"), "400": error_ref(), "403": error_ref(), "404": error_ref(), "409": error_ref(), "429": error_ref(), "502": error_ref() } } },
            "/api/refunds/{out_refund_no}": { "get": { "summary": "Refund status (queries WeChat while processing and the last check is stale): the order's owner or an admin",
                "description": "A request carrying X-Admin-Token is judged by it alone (a wrong one is 403); otherwise the session must own the order (404 otherwise).",
                "security": owner_or_admin, "parameters": [path_param("out_refund_no")],
                "responses": { "200": ok("Refund"), "401": error_ref(), "403": error_ref(), "404": error_ref() } } },
            "/api/admin/attention": { "get": { "summary": "Orders that need the merchant (merchant staff only)",
                "description": "Orders WeChat proved paid (verified notification or query) after this server had closed them, flagged paid_after_closed: the money is recorded as received (state SUCCESS, refundable) and someone must refund or fulfil the order. Oldest first, at most 500: {\"orders\":[{out_trade_no, attention, state, amount_fen, refunded_fen, transaction_id, paid_at, created_at}]}.",
                "security": admin, "responses": { "200": { "description": "{\"orders\": [...]}" }, "403": error_ref(), "429": error_ref() } } },
            "/api/admin/orders/{out_trade_no}/attention/resolve": { "post": { "summary": "Clear an order's flag once it was refunded or fulfilled (merchant staff only)",
                "description": "Body {\"note\": \"what was done\"} (1..=200 characters), kept in the audit row with the admin as actor. 409 nothing_to_resolve when the order is not flagged.",
                "security": admin, "parameters": [path_param("out_trade_no")],
                "responses": { "200": { "description": "The order as listed by /api/admin/attention" }, "400": error_ref(), "403": error_ref(), "404": error_ref(), "409": error_ref() } } },
            "/api/admin/orders/{out_trade_no}": { "get": { "summary": "Any order as the merchant's staff see it, with why it needs attention",
                "security": admin, "parameters": [path_param("out_trade_no")],
                "responses": { "200": ok("AdminOrder"), "403": error_ref(), "404": error_ref(), "429": error_ref() } } },
            "/api/jssdk/config": { "get": { "summary": "wx.config parameters for a page URL",
                "parameters": [{ "name": "url", "in": "query", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": ok("WxConfig"), "400": error_ref() } } },
            "/notify/v3/pay": { "post": { "summary": "WeChat Pay v3 payment notification (signed, encrypted)",
                "responses": { "200": { "description": "Persisted" }, "400": ok("NotifyFail"), "401": ok("NotifyFail"), "500": ok("NotifyFail") } } },
            "/notify/v3/refund": { "post": { "summary": "WeChat Pay v3 refund notification (signed, encrypted)",
                "responses": { "200": { "description": "Persisted" }, "400": ok("NotifyFail"), "401": ok("NotifyFail"), "500": ok("NotifyFail") } } },
            "/api/native/mode-one-url": { "get": { "summary": "Static scan-pay (v2 mode one) QR content for a catalogue product",
                "parameters": [{ "name": "product_id", "in": "query", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "{\"codeUrl\": \"weixin://wxpay/bizpayurl?sign=…\", \"product_id\"}" }, "400": error_ref() } } },
            "/notify/v2/pay": { "post": { "summary": "WeChat Pay v2 payment notification (XML, MD5 / HMAC-SHA256 sign)",
                "responses": { "200": { "description": "XML return_code SUCCESS: persisted" }, "4XX": { "description": "XML return_code FAIL" }, "500": { "description": "XML return_code FAIL" } } } },
            "/notify/v2/refund": { "post": { "summary": "WeChat Pay v2 refund notification (XML, req_info AES-256-ECB)",
                "responses": { "200": { "description": "XML return_code SUCCESS: persisted" }, "4XX": { "description": "XML return_code FAIL" }, "500": { "description": "XML return_code FAIL" } } } },
            "/notify/v2/native-callback": { "post": { "summary": "v2 scan-pay mode-one callback (product_id + openid in, signed prepay_id out)",
                "responses": { "200": { "description": "Signed XML with prepay_id, or result_code FAIL" }, "4XX": { "description": "XML return_code FAIL" } } } }
        }
    });
    add_reconciliation(&mut doc, &admin);
    doc
}

/// The reconciliation schemas and paths (a separate `json!` keeps the macro within its
/// recursion limit).
fn add_reconciliation(doc: &mut Value, admin: &Value) {
    let schemas = json!({
                "ReconciliationRequest": { "type": "object", "required": ["date"], "properties": {
                    "date": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "Bill date, YYYY-MM-DD (+08:00)" } } },
                "ReconciliationDifference": { "type": "object", "required": ["kind", "out_trade_no", "resolution"], "properties": {
                    "kind": { "type": "string", "enum": ["paid_at_wechat_only", "paid_here_only", "amount_differs", "refund_at_wechat_only", "refund_here_only"] },
                    "out_trade_no": { "type": "string" }, "out_refund_no": { "type": ["string", "null"] },
                    "wechat_fen": { "type": ["integer", "null"] }, "ledger_fen": { "type": ["integer", "null"] },
                    "resolution": { "type": "string", "enum": ["repaired", "reported"] }, "note": { "type": ["string", "null"] } } },
                "ReconciliationReport": { "type": "object", "required": ["id", "bill_date", "started_at", "finished_at", "outcome", "bill_rows", "matched", "differences"], "properties": {
                    "id": { "type": "integer" }, "bill_date": { "type": "string" },
                    "started_at": { "type": "integer" }, "finished_at": { "type": "integer" },
                    "outcome": { "type": "string", "enum": ["reconciled", "not_ready", "too_old", "refused", "failed"] },
                    "detail": { "type": ["string", "null"] }, "bill_rows": { "type": "integer" }, "matched": { "type": "integer" },
                    "differences": { "type": "array", "items": { "$ref": "#/components/schemas/ReconciliationDifference" } } } },
                "Reconciliations": { "type": "object", "required": ["runs"], "properties": {
                    "runs": { "type": "array", "items": { "$ref": "#/components/schemas/ReconciliationReport" } } } }
    });
    let paths = json!({
            "/api/admin/reconciliations": {
                "get": { "summary": "The latest reconciliation runs with their differences, newest first (merchant staff only)",
                    "security": admin, "responses": { "200": ok("Reconciliations"), "403": error_ref(), "429": error_ref() } },
                "post": { "summary": "Reconcile one date against WeChat's trade bill now (merchant staff only)",
                    "description": "Downloads the ALL trade bill of the date, refuses it unless its SHA1 is the signed one, and matches every row with the ledger. A payment WeChat has and the ledger holds unpaid is repaired through the order query; other differences are reported. outcome not_ready / too_old when WeChat has no bill yet (before 10:00 +08:00 the next day) or no longer (three months); refused when the file does not check out.",
                    "security": admin, "requestBody": body("ReconciliationRequest"),
                    "responses": { "200": ok("ReconciliationReport"), "400": error_ref(), "403": error_ref(), "429": error_ref() } } },
            "/api/admin/reconciliations/{date}": { "get": { "summary": "The reconciliation runs of one date, newest first (merchant staff only)",
                "security": admin, "parameters": [path_param("date")],
                "responses": { "200": ok("Reconciliations"), "400": error_ref(), "403": error_ref(), "429": error_ref() } } }
    });
    for (section, entries) in [("components", schemas), ("paths", paths)] {
        let target = if section == "components" {
            doc.pointer_mut("/components/schemas")
        } else {
            doc.pointer_mut("/paths")
        };
        if let (Some(Value::Object(target)), Value::Object(entries)) = (target, entries) {
            target.extend(entries);
        }
    }
}

/// `GET /openapi.json`
pub async fn document() -> Json<Value> {
    Json(openapi())
}
