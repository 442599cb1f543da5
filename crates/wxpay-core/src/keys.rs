//! RSA key material: public keys, X.509 platform certificates and (feature `private-key`)
//! the merchant private key.
//!
//! Public-key work (signature verification, OAEP encryption) uses the pure-Rust `rsa` crate,
//! which is fine for operations on public data and builds for `wasm32-unknown-unknown`.
//! Private-key work uses `aws-lc-rs` instead: the `rsa` crate's private-key operations are
//! not constant-time (RUSTSEC-2023-0071), and a merchant key must never leak through timing.

mod certificate;
#[cfg(feature = "private-key")]
mod private;

use std::fmt;

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::der::pem::LineEnding;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

pub use certificate::Certificate;
#[cfg(feature = "private-key")]
pub use private::{PrivateKey, PrivateKeyPem};

/// Smallest RSA modulus accepted, in bits. WeChat Pay keys are RSA-2048; anything shorter
/// is refused rather than silently trusted.
pub const MIN_RSA_BITS: usize = 2048;

/// Why key material was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text is not an SPKI `PUBLIC KEY` document (PEM or DER), or the key inside is not RSA.
    #[error("not an RSA SubjectPublicKeyInfo (PUBLIC KEY): {0}")]
    Spki(#[source] rsa::pkcs8::spki::Error),
    /// The text is not a PKCS#1 `RSA PUBLIC KEY` document. (The value is kept but not
    /// exposed as `source()`: without the `rsa` crate's `std` feature, which would pull
    /// `getrandom` into the wasm build, it does not implement `std::error::Error`.)
    #[error("not a PKCS#1 RSA PUBLIC KEY: {0}")]
    Pkcs1(rsa::pkcs1::Error),
    /// PEM framing or DER structure is malformed (certificates, private keys).
    #[error("malformed PEM/DER: {0}")]
    Der(#[source] rsa::pkcs8::der::Error),
    /// The PEM label is not one this function accepts.
    #[error("unexpected PEM label {found:?}, expected {expected}")]
    UnexpectedLabel {
        /// What the function accepts.
        expected: &'static str,
        /// What the document says.
        found: String,
    },
    /// The RSA modulus is shorter than [`MIN_RSA_BITS`].
    #[error("RSA key of {bits} bits is too small (minimum {MIN_RSA_BITS})")]
    KeySize {
        /// Modulus length in bits.
        bits: usize,
    },
    /// The certificate text (e.g. a decrypted `/v3/certificates` entry) is not UTF-8.
    #[error("certificate PEM is not UTF-8")]
    NotUtf8,
    /// aws-lc-rs refused the private key (not RSA, unsupported size, inconsistent components).
    #[cfg(feature = "private-key")]
    #[error("private key rejected: {0}")]
    PrivateKeyRejected(#[source] aws_lc_rs::error::KeyRejected),
    /// Key generation or serialisation failed inside aws-lc-rs (no further detail is given).
    #[cfg(feature = "private-key")]
    #[error("private key operation failed inside aws-lc-rs")]
    PrivateKeyOperation,
    /// aws-lc-rs refused a public key the `rsa` crate accepted (e.g. an exponent it does not support).
    #[cfg(feature = "aws-lc")]
    #[error("public key rejected by aws-lc-rs: {0}")]
    PublicKeyRejected(#[source] aws_lc_rs::error::KeyRejected),
}

/// An RSA public key used to verify WeChat Pay signatures and to encrypt sensitive fields.
///
/// Built from a WeChat Pay public key (`PUB_KEY_ID_…` mode, SPKI PEM from the merchant
/// portal), from a platform certificate ([`Certificate::public_key`]) or from the merchant's
/// own key pair (the simulator verifies merchant requests with it).
#[derive(Clone)]
pub struct PublicKey {
    inner: RsaPublicKey,
    /// The same key parsed once by aws-lc-rs, so verification does no per-call parsing.
    #[cfg(feature = "aws-lc")]
    parsed: aws_lc_rs::signature::ParsedPublicKey,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}
impl Eq for PublicKey {}

impl PublicKey {
    /// Parses an SPKI PEM document (`-----BEGIN PUBLIC KEY-----`), the format of the WeChat
    /// Pay public key downloaded from the merchant portal.
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        Self::checked(RsaPublicKey::from_public_key_pem(pem.trim()).map_err(KeyError::Spki)?)
    }

    /// Parses DER-encoded SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::checked(RsaPublicKey::from_public_key_der(der).map_err(KeyError::Spki)?)
    }

    /// Parses a PKCS#1 PEM document (`-----BEGIN RSA PUBLIC KEY-----`).
    pub fn from_pkcs1_pem(pem: &str) -> Result<Self, KeyError> {
        Self::checked(RsaPublicKey::from_pkcs1_pem(pem.trim()).map_err(KeyError::Pkcs1)?)
    }

    /// Parses a DER-encoded PKCS#1 `RSAPublicKey`.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::checked(RsaPublicKey::from_pkcs1_der(der).map_err(KeyError::Pkcs1)?)
    }

    /// Accepts any of `PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE` PEM, so configuration
    /// can hold whichever form the merchant has at hand.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim();
        if pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
            Self::from_pkcs1_pem(pem)
        } else if pem.starts_with("-----BEGIN CERTIFICATE-----") {
            Ok(Certificate::from_pem(pem)?.public_key().clone())
        } else {
            Self::from_spki_pem(pem)
        }
    }

    fn checked(inner: RsaPublicKey) -> Result<Self, KeyError> {
        let bits = inner.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(KeyError::KeySize { bits });
        }
        #[cfg(feature = "aws-lc")]
        let parsed = {
            use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
            use rsa::pkcs1::EncodeRsaPublicKey;
            let der = inner.to_pkcs1_der().map_err(KeyError::Pkcs1)?;
            ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_bytes())
                .map_err(KeyError::PublicKeyRejected)?
        };
        Ok(Self {
            inner,
            #[cfg(feature = "aws-lc")]
            parsed,
        })
    }

    /// SPKI DER encoding.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        let doc = self.inner.to_public_key_der().map_err(KeyError::Spki)?;
        Ok(doc.as_bytes().to_vec())
    }

    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`, LF line endings), the form WeChat publishes.
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        self.inner
            .to_public_key_pem(LineEnding::LF)
            .map_err(KeyError::Spki)
    }

    /// Modulus length in bits (2048 for every WeChat Pay key).
    pub fn bits(&self) -> usize {
        self.inner.n().bits()
    }

    /// Signature / ciphertext length in bytes (256 for RSA-2048).
    pub fn size_bytes(&self) -> usize {
        self.inner.size()
    }

    /// Lower-case hex SHA-256 of the SPKI DER: a stable, non-secret name for logs.
    pub fn fingerprint_sha256(&self) -> String {
        match self.to_spki_der() {
            Ok(der) => hex_lower(&Sha256::digest(der)),
            Err(_) => String::from("unencodable"),
        }
    }

    /// Verifies an RSASSA-PKCS1-v1_5 / SHA-256 signature (raw bytes) over `message`.
    ///
    /// Returns `false` for a wrong-length signature instead of erroring: to a caller every
    /// failure means the same thing, "not signed by this key".
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.inner.size() {
            return false;
        }
        #[cfg(feature = "aws-lc")]
        {
            self.parsed.verify_sig(message, signature).is_ok()
        }
        #[cfg(not(feature = "aws-lc"))]
        self.verify_sha256_rsa_crate(message, signature)
    }

    /// [`Self::verify_sha256`] over the concatenation of `parts`, hashed as they are: a
    /// signed message made of a few pieces (a notification's body among them) is never
    /// copied into one buffer.
    pub(crate) fn verify_sha256_parts(&self, parts: &[&[u8]], signature: &[u8]) -> bool {
        if signature.len() != self.inner.size() {
            return false;
        }
        #[cfg(feature = "aws-lc")]
        {
            use aws_lc_rs::digest::{Context, SHA256};
            let mut context = Context::new(&SHA256);
            for part in parts {
                context.update(part);
            }
            self.parsed
                .verify_digest_sig(&context.finish(), signature)
                .is_ok()
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            let mut hasher = Sha256::new();
            for part in parts {
                hasher.update(part);
            }
            self.inner
                .verify(Pkcs1v15Sign::new::<Sha256>(), &hasher.finalize(), signature)
                .is_ok()
        }
    }

    /// The pure-Rust path (used on wasm32, and benchmarked against aws-lc-rs natively).
    #[doc(hidden)]
    pub fn verify_sha256_rsa_crate(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.inner.size() {
            return false;
        }
        let digest = Sha256::digest(message);
        self.inner
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
            .is_ok()
    }

    /// The `rsa` crate key, for OAEP encryption inside the crate.
    pub(crate) fn rsa(&self) -> &RsaPublicKey {
        &self.inner
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fp = self.fingerprint_sha256();
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .field("sha256", &fp.get(..16).unwrap_or(&fp))
            .finish()
    }
}

/// Lower-case hex without separators.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    // The public key WeChat's "如何使用微信支付公钥验签" page pairs with its example response
    // (same value as spec/vectors/official_doc_wechatpay_public_key.pem).
    const DOC_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwXNI6sdlknHBnK8Fu2U6\n\
Cwor9qY747jP8KAfeBMeveEt1TqaHkLfaSD07trZLhGpfs8/AHqjhgSMO1O10YQW\n\
OrrJ4hjIWPKqxbgrYMkBQc+mwdiWp4W3ByCqxBRagCveCXRWCmuJYovl9H/bsDI0\n\
iGbpVtEOghJtfciisYSgxcLufUDTRkvwxjIBK1pCRjk33jJ5YTBWTHMRtMAOcFLN\n\
F6hdEYdX8SPsgHHeLZ5Lv2T/686w1xtgCHef/sd4uSfWmyzsalQdHG/e4IyYmrhx\n\
+O3VBoNDzE3nx23bFeV/RVNCG7cV6VhmYokJNHa/erIPkEmEFID6A5wQOXuxUkmJ\n\
WwIDAQAB\n\
-----END PUBLIC KEY-----\n";

    #[test]
    fn spki_pem_round_trips() {
        let key = PublicKey::from_spki_pem(DOC_PUBLIC_KEY).expect("parse");
        assert_eq!(key.bits(), 2048);
        assert_eq!(key.size_bytes(), 256);
        let pem = key.to_spki_pem().expect("encode");
        assert_eq!(pem.trim(), DOC_PUBLIC_KEY.trim());
        assert_eq!(PublicKey::from_pem(&pem).expect("again"), key);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(PublicKey::from_spki_pem("").is_err());
        assert!(PublicKey::from_spki_pem(
            "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----"
        )
        .is_err());
        assert!(PublicKey::from_spki_der(&[0x30, 0x03, 0x02, 0x01]).is_err());
        assert!(PublicKey::from_pkcs1_pem("nope").is_err());
    }

    #[test]
    fn wrong_length_signature_is_false() {
        let key = PublicKey::from_spki_pem(DOC_PUBLIC_KEY).expect("parse");
        assert!(!key.verify_sha256(b"m", &[]));
        assert!(!key.verify_sha256(b"m", &[0u8; 255]));
        assert!(!key.verify_sha256(b"m", &[0u8; 256]));
        assert!(!key.verify_sha256(b"m", &[0xffu8; 256]));
    }

    #[test]
    fn debug_shows_fingerprint_only() {
        let key = PublicKey::from_spki_pem(DOC_PUBLIC_KEY).expect("parse");
        let dbg = format!("{key:?}");
        assert!(
            dbg.starts_with("PublicKey { bits: 2048, sha256: \""),
            "{dbg}"
        );
        assert_eq!(key.fingerprint_sha256().len(), 64);
    }

    #[test]
    fn hex_lower_encodes() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0x0f, 0xf0]), "00ab0ff0");
    }
}
