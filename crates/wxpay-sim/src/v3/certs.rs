//! `GET /v3/certificates` (A.4): every platform certificate still listed, each encrypted
//! with the requesting merchant's APIv3 key into the core's [`CertificateEntry`].

use wxpay_core::v3::aead::ApiV3Key;
use wxpay_core::v3::certificates::{CertificateEntry, CertificatesResponse};
use wxpay_core::v3::models::error_code;
use wxpay_core::values::format_beijing_rfc3339;

use super::call::{ApiError, Reply};
use crate::crypto::VerifiedAuth;
use crate::ids::random_alnum;
use crate::sim::{lock, Sim};

/// The handler, after authentication.
pub fn certificates(sim: &Sim, auth: &VerifiedAuth) -> Result<Reply, ApiError> {
    let signing = lock(&sim.signing).clone();
    if !signing.mode.serves_certificates() {
        return Err(ApiError::new(
            error_code::NO_AUTH,
            "商户已切换为微信支付公钥模式，平台证书不可用 (platform certificates are disabled in public-key mode)",
        ));
    }
    let merchant = sim
        .merchants
        .get(&auth.mchid)
        .ok_or_else(|| ApiError::new(error_code::MCH_NOT_EXISTS, "商户号不存在"))?;
    let key = ApiV3Key::new(merchant.config.apiv3_key.expose()).map_err(ApiError::internal)?;
    let data = signing
        .platforms
        .iter()
        .map(|p| {
            let cert = &p.certificate;
            let effective =
                format_beijing_rfc3339(cert.not_before()).map_err(ApiError::internal)?;
            let expire = format_beijing_rfc3339(cert.not_after()).map_err(ApiError::internal)?;
            CertificateEntry::encrypt(cert, &key, &random_alnum(12), &effective, &expire)
                .map_err(ApiError::internal)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Reply::json(&CertificatesResponse { data })
}
