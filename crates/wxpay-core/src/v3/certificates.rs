//! `GET /v3/certificates` (平台证书下载, protocol A.4).
//!
//! Each entry carries an AES-GCM-encrypted PEM certificate. The APIv3 key authenticates
//! it (GCM), which is why the response signature can then be checked with a certificate
//! the response itself contains: decrypt first, then verify.

use serde::{Deserialize, Serialize};

use super::aead::{self, AeadError, ApiV3Key, ALGORITHM};
use super::verify::{SignedHeaders, Verifier, VerifyError};
use crate::keys::{Certificate, KeyError};

/// The request path.
pub const PATH: &str = "/v3/certificates";

/// AAD WeChat uses for certificate entries.
pub const ASSOCIATED_DATA: &str = "certificate";

/// Longest response body parsed.
pub const MAX_BODY_LEN: usize = 256 * 1024;

/// Why a `/v3/certificates` response was refused.
#[derive(Debug, thiserror::Error)]
pub enum CertificatesError {
    /// The body is not the documented JSON shape (or too large).
    #[error("certificates response is malformed: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The body is larger than [`MAX_BODY_LEN`].
    #[error("certificates response of {len} bytes is too large")]
    TooLarge {
        /// Body length.
        len: usize,
    },
    /// An entry did not decrypt under the APIv3 key.
    #[error("certificate {serial_no} did not decrypt: {source}")]
    Decrypt {
        /// The entry's `serial_no`.
        serial_no: String,
        /// Cause.
        #[source]
        source: AeadError,
    },
    /// An entry decrypted to something that is not a usable certificate.
    #[error("certificate {serial_no} is invalid: {source}")]
    Certificate {
        /// The entry's `serial_no`.
        serial_no: String,
        /// Cause.
        #[source]
        source: KeyError,
    },
    /// The decrypted certificate's serial differs from the entry's `serial_no`.
    #[error("entry serial_no {listed} does not match certificate serial {actual}")]
    SerialMismatch {
        /// `serial_no` in the JSON.
        listed: String,
        /// Serial inside the certificate.
        actual: String,
    },
    /// The response signature did not verify with the new or existing keys.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl CertificatesError {
    /// Stable reason code, shared with the wasm error codes.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Malformed(_) | Self::TooLarge { .. } => "malformed_body",
            Self::Decrypt { .. } => "decrypt_failed",
            Self::Certificate { .. } | Self::SerialMismatch { .. } => "bad_certificate",
            Self::Verify(e) => e.reason_code(),
        }
    }
}

/// `encrypt_certificate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedCertificate {
    /// Always `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// 12-character nonce.
    pub nonce: String,
    /// `certificate`.
    #[serde(default)]
    pub associated_data: String,
    /// Base64 of ciphertext ‖ tag.
    pub ciphertext: String,
}

/// One `data[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateEntry {
    /// Certificate serial, upper-case hex.
    pub serial_no: String,
    /// RFC 3339 start of validity.
    pub effective_time: String,
    /// RFC 3339 end of validity.
    pub expire_time: String,
    /// The encrypted PEM.
    pub encrypt_certificate: EncryptedCertificate,
}

impl CertificateEntry {
    /// Decrypts and parses the certificate, checking that its serial is the listed one.
    pub fn decrypt(&self, key: &ApiV3Key) -> Result<Certificate, CertificatesError> {
        let enc = &self.encrypt_certificate;
        let decrypt_err = |source| CertificatesError::Decrypt {
            serial_no: self.serial_no.clone(),
            source,
        };
        if enc.algorithm != ALGORITHM {
            return Err(decrypt_err(AeadError::UnsupportedAlgorithm(
                enc.algorithm.clone(),
            )));
        }
        let pem = aead::decrypt(key, &enc.nonce, &enc.associated_data, &enc.ciphertext)
            .map_err(decrypt_err)?;
        let cert =
            Certificate::from_pem_bytes(&pem).map_err(|source| CertificatesError::Certificate {
                serial_no: self.serial_no.clone(),
                source,
            })?;
        if !cert
            .serial()
            .canonical()
            .eq_ignore_ascii_case(self.serial_no.trim())
        {
            return Err(CertificatesError::SerialMismatch {
                listed: self.serial_no.clone(),
                actual: cert.serial().as_str().to_string(),
            });
        }
        Ok(cert)
    }

    /// Encrypts `certificate` into an entry (simulator side). Times are RFC 3339 text the
    /// caller formats (WeChat uses +08:00).
    pub fn encrypt(
        certificate: &Certificate,
        key: &ApiV3Key,
        nonce: &str,
        effective_time: &str,
        expire_time: &str,
    ) -> Result<Self, AeadError> {
        Ok(Self {
            serial_no: certificate.serial().as_str().to_string(),
            effective_time: effective_time.to_string(),
            expire_time: expire_time.to_string(),
            encrypt_certificate: EncryptedCertificate {
                algorithm: ALGORITHM.to_string(),
                nonce: nonce.to_string(),
                associated_data: ASSOCIATED_DATA.to_string(),
                ciphertext: aead::encrypt(
                    key,
                    nonce,
                    ASSOCIATED_DATA,
                    certificate.pem().as_bytes(),
                )?,
            },
        })
    }
}

/// The response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificatesResponse {
    /// Currently valid certificates (several during a rotation).
    pub data: Vec<CertificateEntry>,
}

impl CertificatesResponse {
    /// Parses the raw body.
    pub fn parse(body: &[u8]) -> Result<Self, CertificatesError> {
        if body.len() > MAX_BODY_LEN {
            return Err(CertificatesError::TooLarge { len: body.len() });
        }
        serde_json::from_slice(body).map_err(CertificatesError::Malformed)
    }

    /// Decrypts every entry; one bad entry fails the whole response.
    pub fn decrypt(&self, key: &ApiV3Key) -> Result<Vec<Certificate>, CertificatesError> {
        self.data.iter().map(|e| e.decrypt(key)).collect()
    }
}

/// Parses and decrypts the response, then verifies its signature with the union of
/// `existing` keys (public-key mode, or certificates already trusted) and the certificates
/// just decrypted. Returns the new certificates; the host adds them to its [`Verifier`].
pub fn verify_and_decrypt(
    body: &[u8],
    headers: &SignedHeaders,
    now: i64,
    key: &ApiV3Key,
    existing: Option<&Verifier>,
) -> Result<Vec<Certificate>, CertificatesError> {
    let response = CertificatesResponse::parse(body)?;
    let certificates = response.decrypt(key)?;
    let mut verifier = existing.cloned().unwrap_or_default();
    for cert in &certificates {
        verifier.add_certificate(cert.clone());
    }
    verifier.verify(headers, body, now)?;
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

    #[test]
    fn malformed_bodies_are_errors() {
        assert_eq!(
            CertificatesResponse::parse(b"").map_err(|e| e.reason_code()),
            Err("malformed_body")
        );
        assert!(CertificatesResponse::parse(b"{\"data\":[{}]}").is_err());
        let empty = CertificatesResponse::parse(b"{\"data\":[]}").expect("parse");
        assert!(empty
            .decrypt(&ApiV3Key::new(KEY).expect("key"))
            .expect("none")
            .is_empty());
    }

    #[test]
    fn entry_that_is_not_a_certificate_is_refused() {
        let key = ApiV3Key::new(KEY).expect("key");
        let entry = CertificateEntry {
            serial_no: "ABC".into(),
            effective_time: String::new(),
            expire_time: String::new(),
            encrypt_certificate: EncryptedCertificate {
                algorithm: ALGORITHM.into(),
                nonce: "14b16c03dc1b".into(),
                associated_data: ASSOCIATED_DATA.into(),
                ciphertext: aead::encrypt(&key, "14b16c03dc1b", ASSOCIATED_DATA, b"not a pem")
                    .expect("enc"),
            },
        };
        assert_eq!(
            entry.decrypt(&key).map_err(|e| e.reason_code()).err(),
            Some("bad_certificate")
        );
        let mut wrong_alg = entry.clone();
        wrong_alg.encrypt_certificate.algorithm = "AES".into();
        assert_eq!(
            wrong_alg.decrypt(&key).map_err(|e| e.reason_code()).err(),
            Some("decrypt_failed")
        );
        let other = ApiV3Key::new("b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").expect("key");
        assert_eq!(
            entry.decrypt(&other).map_err(|e| e.reason_code()).err(),
            Some("decrypt_failed")
        );
    }
}
