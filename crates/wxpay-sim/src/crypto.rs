//! The simulator's narrow view of `wxpay-core` cryptography.
//!
//! Every signature, verification and encryption the simulator performs goes through the
//! core, the same code the merchant server uses. This module only adapts the core's types
//! to the simulator's needs: a signer that knows its serial, merchant-certificate lookup,
//! and `Authorization` checking that reports the `issue` WeChat's `SIGN_ERROR` names.
//! (Message shapes come from the core's models as well; see `v3` and `v2`.)

use std::fmt;

use wxpay_core::keys::{Certificate, PrivateKey, PublicKey};

/// Why a cryptographic step failed on the simulator's side.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Key or certificate material is invalid.
    #[error("key material: {0}")]
    Key(#[from] wxpay_core::keys::KeyError),
    /// The private-key operation failed.
    #[error("signing: {0}")]
    Sign(#[from] wxpay_core::signer::SignError),
    /// The serial is not a valid `Wechatpay-Serial`.
    #[error("serial: {0}")]
    Serial(#[from] wxpay_core::IdError),
}

/// A private key together with the `Wechatpay-Serial` it signs under (a certificate serial
/// or a `PUB_KEY_ID_…`).
#[derive(Clone)]
pub struct ResponseSigner {
    key: std::sync::Arc<PrivateKey>,
    serial: String,
}

impl fmt::Debug for ResponseSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseSigner")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl ResponseSigner {
    /// Loads a PKCS#8 PEM key that signs under `serial`.
    pub fn from_pem(pem: &str, serial: impl Into<String>) -> Result<Self, CryptoError> {
        Ok(Self {
            key: std::sync::Arc::new(PrivateKey::from_pkcs8_pem(pem)?),
            serial: serial.into(),
        })
    }

    /// The serial put into `Wechatpay-Serial`.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The `Wechatpay-*` headers for a response or notification body (A.3).
    pub fn sign_headers(
        &self,
        timestamp: i64,
        nonce: &str,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, CryptoError> {
        let serial = wxpay_core::SerialNo::new(self.serial.clone())?;
        let headers = wxpay_core::v3::verify::SignedHeaders::sign(
            &*self.key, &serial, timestamp, nonce, body,
        )?;
        Ok(headers
            .header_pairs()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect())
    }
}

/// A merchant API certificate accepted for `Authorization`.
#[derive(Debug, Clone)]
pub struct MerchantCert {
    /// Upper-case serial.
    pub serial: String,
    /// Its public key.
    pub key: PublicKey,
}

impl MerchantCert {
    /// Parses a PEM certificate.
    pub fn from_pem(pem: &str) -> Result<Self, CryptoError> {
        let cert = Certificate::from_pem(pem)?;
        Ok(Self {
            serial: cert.serial().as_str().to_ascii_uppercase(),
            key: cert.public_key().clone(),
        })
    }
}

/// A verified merchant `Authorization` header.
#[derive(Debug, Clone)]
pub struct VerifiedAuth {
    /// `mchid` from the header.
    pub mchid: String,
    /// `serial_no` from the header.
    pub serial_no: String,
}

/// Why an `Authorization` header was refused; `issue` is what goes into WeChat's error detail.
#[derive(Debug, Clone)]
pub struct AuthFailure {
    /// Short machine reason, e.g. `sign not match`.
    pub issue: String,
}

/// Verifies a merchant request's `Authorization` header (A.2) with the certificate named by
/// its `serial_no`, found through `lookup(mchid, serial)`, and checks the timestamp window.
pub fn verify_authorization(
    header: &str,
    method: &str,
    canonical_url: &str,
    body: &[u8],
    now: i64,
    lookup: impl Fn(&str, &str) -> Option<PublicKey>,
) -> Result<VerifiedAuth, AuthFailure> {
    use wxpay_core::v3::authorization::Authorization;
    let fail = |issue: &str| AuthFailure {
        issue: issue.to_owned(),
    };
    let auth = Authorization::parse(header).map_err(|_| fail("authorization header malformed"))?;
    let mchid = auth.mchid.as_str().to_owned();
    let serial_no = auth.serial_no.as_str().to_ascii_uppercase();
    let key =
        lookup(&mchid, &serial_no).ok_or_else(|| fail("merchant certificate serial not found"))?;
    auth.check_timestamp(now, wxpay_core::v3::verify::MAX_SKEW_SECONDS)
        .map_err(|_| fail("timestamp expired"))?;
    auth.verify(&key, method, canonical_url, body)
        .map_err(|_| fail("sign not match"))?;
    Ok(VerifiedAuth { mchid, serial_no })
}
