//! `GET /v3/certificates` (A.4): every platform certificate still listed, each encrypted
//! with the requesting merchant's APIv3 key (associated data `certificate`).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{serve, ApiError, Reply};
use crate::crypto::aead_encrypt;
use crate::sim::{lock, random_alnum, rfc3339_cst, Sim};

/// Handler.
pub async fn certificates(State(sim): State<Sim>, request: Request) -> Response {
    serve(sim, "v3.certificates", request, |sim, _req, auth| {
        let signing = lock(&sim.signing).clone();
        if !signing.mode.serves_certificates() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "NO_AUTH",
                "商户已切换为微信支付公钥模式，平台证书不可用 (platform certificates are disabled in public-key mode)",
            ));
        }
        let merchant = sim
            .merchants
            .get(&auth.mchid)
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "MCH_NOT_EXISTS", "商户号不存在"))?;
        let mut data = Vec::new();
        for p in &signing.platforms {
            let nonce = random_alnum(12);
            let ciphertext =
                aead_encrypt(merchant.config.apiv3_key.expose(), &nonce, "certificate", p.cert_pem.as_bytes())
                    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "系统错误"))?;
            data.push(json!({
                "serial_no": p.signer.serial(),
                "effective_time": rfc3339_cst(p.not_before),
                "expire_time": rfc3339_cst(p.not_after),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": ciphertext,
                }
            }));
        }
        Ok(Reply::Json(json!({ "data": data })))
    })
    .await
}
