//! The test universe `wxpay-sim init DIR` wrote, and the fixture every implementation
//! signs, verifies and decrypts in rows 1–4 (same key, same bytes).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wxpay_core::keys::{Certificate, PrivateKey};
use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::notification::{encrypt_notification, EventType, NotificationParams};
use wxpay_core::v3::verify::SignedHeaders;
use wxpay_core::{AppId, MchId, SerialNo};

use crate::BoxError;

/// What the benchmark needs from the universe directory.
pub struct Universe {
    pub dir: PathBuf,
    pub mchid: MchId,
    pub merchant_serial: SerialNo,
    pub merchant_key: PrivateKey,
    pub platform_key: PrivateKey,
    pub platform_cert: Certificate,
    pub apiv3_key: ApiV3Key,
    pub apiv3_key_text: String,
    /// The mini-program: every implementation pays through `/v3/pay/transactions/jsapi` with it.
    pub appid: AppId,
}

fn read(dir: &Path, name: &str) -> Result<String, BoxError> {
    fs::read_to_string(dir.join(name))
        .map_err(|e| format!("{}: {e}", dir.join(name).display()).into())
}

impl Universe {
    pub fn load(dir: &Path) -> Result<Self, BoxError> {
        let merchant: toml::Value = toml::from_str(&read(dir, "merchant.toml")?)?;
        let m = merchant
            .get("merchant")
            .ok_or("merchant.toml has no [merchant]")?;
        let text = |v: Option<&toml::Value>, what: &str| -> Result<String, BoxError> {
            Ok(v.and_then(|v| v.as_str())
                .ok_or_else(|| format!("merchant.toml: no {what}"))?
                .to_owned())
        };
        let apiv3_key_text = read(dir, "apiv3_key.txt")?.trim().to_owned();
        Ok(Self {
            dir: dir.to_path_buf(),
            mchid: MchId::new(text(m.get("mchid"), "mchid")?)?,
            merchant_serial: SerialNo::new(text(m.get("serial_no"), "serial_no")?)?,
            merchant_key: PrivateKey::from_pkcs8_pem(&read(dir, "apiclient_key.pem")?)?,
            platform_key: PrivateKey::from_pkcs8_pem(&read(dir, "platform_key.pem")?)?,
            platform_cert: Certificate::from_pem(&read(dir, "platform_cert.pem")?)?,
            apiv3_key: ApiV3Key::new(&apiv3_key_text)?,
            apiv3_key_text,
            appid: AppId::new(text(
                m.get("miniprogram").and_then(|a| a.get("appid")),
                "miniprogram.appid",
            )?)?,
        })
    }

    /// Headers as WeChat sends them, signed by the platform key over `body`.
    pub fn platform_headers(
        &self,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> Result<Value, BoxError> {
        let signed = SignedHeaders::sign(
            &self.platform_key,
            self.platform_cert.serial(),
            timestamp,
            nonce,
            body.as_bytes(),
        )?;
        let mut map = serde_json::Map::new();
        for (name, value) in signed.header_pairs() {
            map.insert(name.to_owned(), Value::String(value));
        }
        Ok(Value::Object(map))
    }

    /// A signed, encrypted `TRANSACTION.SUCCESS` notification whose resource plaintext is
    /// exactly `size` bytes (padded through `attach`), as `(body, plaintext)`.
    pub fn pay_notification(
        &self,
        id: &str,
        out_trade_no: &str,
        transaction_id: &str,
        total_fen: i64,
        size: usize,
    ) -> Result<(String, String), BoxError> {
        let mut resource = json!({
            "mchid": self.mchid.as_str(), "appid": self.appid.as_str(), "out_trade_no": out_trade_no,
            "transaction_id": transaction_id, "trade_type": "JSAPI", "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
            "success_time": "2026-01-01T00:00:00+08:00", "payer": { "openid": "oBenchPeersPayer0001" },
            "amount": { "total": total_fen, "payer_total": total_fen, "currency": "CNY", "payer_currency": "CNY" }
        });
        let unpadded = resource.to_string().len();
        if unpadded < size {
            resource["attach"] = Value::String("a".repeat(size - unpadded));
        }
        let plaintext = resource.to_string();
        let params = NotificationParams {
            id,
            create_time: "2026-01-01T00:00:00+08:00",
            event_type: &EventType::TransactionSuccess,
            summary: "支付成功",
            original_type: "transaction",
            nonce: "benchpeers01",
            associated_data: "transaction",
        };
        let body = encrypt_notification(&self.apiv3_key, &params, plaintext.as_bytes())?.to_json();
        Ok((body, plaintext))
    }
}

/// The prepay body every implementation signs in row 1 (a typical JSAPI order).
fn request_body(u: &Universe) -> String {
    json!({
        "appid": u.appid.as_str(), "mchid": u.mchid.as_str(), "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": "1217752501201407033233368018", "notify_url": "https://merchant.example/notify/v3/pay",
        "amount": { "total": 100, "currency": "CNY" }, "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" }
    })
    .to_string()
}

/// Writes `DIR/fixtures.json` and `DIR/certs/platform_cert.pem` (the SDKs' certificate
/// directory), and returns the fixture.
pub fn write_fixtures(u: &Universe, out: &Path, now: i64) -> Result<Value, BoxError> {
    fs::create_dir_all(out.join("certs"))?;
    fs::write(out.join("certs/platform_cert.pem"), u.platform_cert.pem())?;

    let response_body = r#"{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}"#;
    let notify_id = "EV-2018022511223320873";
    let (notify_body, plaintext) = u.pay_notification(
        notify_id,
        "1217752501201407033233368018",
        "4200000000000000000000000001",
        100,
        1024,
    )?;
    // A forged resource: the GCM tag is flipped, then the body is signed again with the
    // platform key, so only the AEAD check can refuse it.
    let mut forged: Value = serde_json::from_str(&notify_body)?;
    let ciphertext = forged["resource"]["ciphertext"]
        .as_str()
        .ok_or("no ciphertext")?
        .to_owned();
    forged["resource"]["ciphertext"] = Value::String(flip_last_byte(&ciphertext)?);
    let forged_body = serde_json::to_string(&forged)?;

    let fixture = json!({
        "universe": u.dir,
        "cert_dir": out.join("certs"),
        "mchid": u.mchid.as_str(),
        "merchant_serial": u.merchant_serial.as_str(),
        "appid": u.appid.as_str(),
        "apiv3_key": u.apiv3_key_text,
        "platform_serial": u.platform_cert.serial().as_str(),
        "request": {
            "method": "POST", "path": "/v3/pay/transactions/jsapi", "body": request_body(u),
            "timestamp": now, "nonce": "593BEC0C930BF1AFEB40B4A08C8FB242"
        },
        "response": {
            "body": response_body,
            "headers": u.platform_headers(now, "fdasfwewafeijgekrjgjerkgj", response_body)?,
        },
        "notification": {
            "body": notify_body,
            "headers": u.platform_headers(now, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", &notify_body)?,
            "plaintext_sha256": hex(&Sha256::digest(plaintext.as_bytes())),
            "plaintext_len": plaintext.len(),
            "out_trade_no": "1217752501201407033233368018",
        },
        "forged_tag_notification": {
            "body": forged_body,
            "headers": u.platform_headers(now, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", &forged_body)?,
        },
        "paysign": {
            "appid": u.appid.as_str(), "prepay_id": "wx201410272009395522657a690389285100",
            "timestamp": now.to_string(), "nonce": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
        }
    });
    // Bytes hashed in each row, for the OpenSSL floor (digest + RSA + AES at these sizes).
    let mut fixture = fixture;
    let request = &fixture["request"];
    let request_len = ["method", "path", "body", "nonce"]
        .iter()
        .map(|k| request[*k].as_str().map_or(0, str::len))
        .sum::<usize>()
        + now.to_string().len()
        + 5;
    let signed_len = |body: &str, nonce: &str| now.to_string().len() + nonce.len() + body.len() + 3;
    let paysign = &fixture["paysign"];
    let paysign_len = ["appid", "timestamp", "nonce", "prepay_id"]
        .iter()
        .map(|k| paysign[*k].as_str().map_or(0, str::len))
        .sum::<usize>()
        + "prepay_id=".len()
        + 4;
    fixture["message_len"] = json!({
        "sign": request_len,
        "verify": signed_len(response_body, "fdasfwewafeijgekrjgjerkgj"),
        "notify": signed_len(&notify_body, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        "notify_aead": plaintext.len(),
        "paysign": paysign_len,
    });
    fs::write(
        out.join("fixtures.json"),
        serde_json::to_vec_pretty(&fixture)?,
    )?;
    Ok(fixture)
}

fn flip_last_byte(b64: &str) -> Result<String, BoxError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    let mut raw = STANDARD.decode(b64)?;
    let last = raw.last_mut().ok_or("empty ciphertext")?;
    *last ^= 0x01;
    Ok(STANDARD.encode(raw))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `DIR/fixtures.json`.
pub fn read_fixtures(path: &Path) -> Result<Value, BoxError> {
    Ok(serde_json::from_slice(&fs::read(path)?)?)
}

/// A string field of a JSON value by a `/`-separated path.
pub fn field<'a>(v: &'a Value, path: &str) -> Result<&'a str, BoxError> {
    v.pointer(path)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("fixture has no string at {path}").into())
}
