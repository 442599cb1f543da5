//! Signing is a trait so the core never holds a private key itself.
//!
//! The server and the simulator pass a [`RsaSigner`] backed by a constant-time private-key
//! implementation (feature `private-key`); the wasm build has no implementation at all, so
//! a merchant key can never end up in a browser.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// A signing failure inside a signer implementation.
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

/// SHA256-with-RSA (RSASSA-PKCS1-v1_5) signing, as API v3 uses for requests, `paySign` and
/// response/notification signatures.
pub trait RsaSigner {
    /// Signs `message` and returns the raw signature (256 bytes for RSA-2048).
    fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;

    /// Signs `message` and returns standard Base64 with padding, the form WeChat uses.
    fn sign_sha256_base64(&self, message: &[u8]) -> Result<String, SignError> {
        Ok(STANDARD.encode(self.sign_sha256(message)?))
    }
}

impl<T: RsaSigner + ?Sized> RsaSigner for &T {
    fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign_sha256(message)
    }
}

impl<T: RsaSigner + ?Sized> RsaSigner for std::sync::Arc<T> {
    fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign_sha256(message)
    }
}
