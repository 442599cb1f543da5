//! The merchant API private key (`apiclient_key.pem`), constant-time via aws-lc-rs.
//!
//! Used for request signatures (A.2), `paySign` (B.1), APP `sign` (B.6) and decrypting
//! OAEP-encrypted sensitive response fields (A.11). The simulator also uses it for the
//! platform's own key. Never compiled into the wasm build.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rsa::pkcs8::der::pem::LineEnding;
use rsa::pkcs8::der::zeroize::Zeroizing;
use rsa::pkcs8::SecretDocument;

use super::{KeyError, PublicKey, MIN_RSA_BITS};
use crate::signer::{RsaSigner, SignError};
use crate::v3::oaep::OaepError;

const PKCS8_LABEL: &str = "PRIVATE KEY";
const PKCS1_LABEL: &str = "RSA PRIVATE KEY";

/// An RSA private key for SHA256-with-RSA signing and OAEP-SHA1 decryption.
///
/// `Debug` never prints key material, only the public fingerprint.
pub struct PrivateKey {
    signing: KeyPair,
    decrypting: OaepPrivateDecryptingKey,
    public: PublicKey,
}

impl PrivateKey {
    /// Loads a PEM private key. `PRIVATE KEY` (PKCS#8, what the merchant portal's
    /// certificate tool writes as `apiclient_key.pem`) is the documented form;
    /// `RSA PRIVATE KEY` (PKCS#1) is accepted too because older tooling emits it.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, doc) = SecretDocument::from_pem(pem.trim()).map_err(KeyError::Der)?;
        match label {
            PKCS8_LABEL => Self::from_pkcs8_der(doc.as_bytes()),
            PKCS1_LABEL => {
                let pair =
                    KeyPair::from_der(doc.as_bytes()).map_err(KeyError::PrivateKeyRejected)?;
                Self::from_key_pair(pair)
            }
            other => Err(KeyError::UnexpectedLabel {
                expected: "PRIVATE KEY",
                found: other.to_string(),
            }),
        }
    }

    /// Loads an unencrypted PKCS#8 DER private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = KeyPair::from_pkcs8(der).map_err(KeyError::PrivateKeyRejected)?;
        Self::from_key_pair(pair)
    }

    fn from_key_pair(signing: KeyPair) -> Result<Self, KeyError> {
        let public = PublicKey::from_pkcs1_der(signing.public_key().as_ref())?;
        if public.bits() < MIN_RSA_BITS {
            return Err(KeyError::KeySize {
                bits: public.bits(),
            });
        }
        let pkcs8 = signing
            .as_der()
            .map_err(|_| KeyError::PrivateKeyOperation)?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref())
            .map_err(KeyError::PrivateKeyRejected)?;
        let decrypting =
            OaepPrivateDecryptingKey::new(decrypting).map_err(|_| KeyError::PrivateKeyOperation)?;
        Ok(Self {
            signing,
            decrypting,
            public,
        })
    }

    /// Serialises as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF). The result is secret:
    /// it is wiped from memory on drop and redacted in `Debug`.
    pub fn to_pkcs8_pem(&self) -> Result<PrivateKeyPem, KeyError> {
        let der = self
            .signing
            .as_der()
            .map_err(|_| KeyError::PrivateKeyOperation)?;
        let doc = SecretDocument::try_from(der.as_ref()).map_err(KeyError::Der)?;
        let pem = doc
            .to_pem(PKCS8_LABEL, LineEnding::LF)
            .map_err(KeyError::Der)?;
        Ok(PrivateKeyPem(pem))
    }

    /// The matching public key (what the merchant certificate carries).
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Decrypts one Base64 RSA-OAEP (SHA-1, MGF1-SHA1, no label) ciphertext: a sensitive
    /// field WeChat encrypted to the merchant certificate (A.11).
    pub fn oaep_decrypt_sha1(&self, ciphertext_b64: &str) -> Result<Vec<u8>, OaepError> {
        let ciphertext = STANDARD
            .decode(ciphertext_b64.trim())
            .map_err(OaepError::Base64)?;
        let expected = self.decrypting.key_size_bytes();
        if ciphertext.len() != expected {
            return Err(OaepError::CiphertextLength {
                expected,
                got: ciphertext.len(),
            });
        }
        let mut buf = Zeroizing::new(vec![0u8; self.decrypting.min_output_size()]);
        let plain = self
            .decrypting
            .decrypt(&OAEP_SHA1_MGF1SHA1, &ciphertext, &mut buf, None)
            .map_err(|_| OaepError::DecryptFailed)?;
        Ok(plain.to_vec())
    }
}

impl RsaSigner for PrivateKey {
    fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut signature = vec![0u8; self.signing.public_modulus_len()];
        // aws-lc-rs ignores the RNG argument for PKCS#1 v1.5 (deterministic padding; blinding
        // is internal), so no randomness flows in from this crate.
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.signing
            .sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
            .map_err(|_| {
                SignError(String::from(
                    "aws-lc-rs RSA PKCS#1 v1.5 SHA-256 signing failed",
                ))
            })?;
        Ok(signature)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public)
            .field("private", &"<redacted>")
            .finish()
    }
}

/// A PKCS#8 PEM private key as text: zeroised on drop, redacted in `Debug`.
pub struct PrivateKeyPem(Zeroizing<String>);

impl PrivateKeyPem {
    /// The PEM text. Handle as a secret: write it only to protected storage.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// The core draws no randomness, so it makes no keys: the tests use one from the vectors.
    fn vector_key() -> PrivateKey {
        PrivateKey::from_pkcs8_pem(include_str!(
            "../../../../tests/vectors/oracle_merchant_key.pem"
        ))
        .expect("load")
    }

    #[test]
    fn sign_verify_and_pem_round_trip() {
        let key = vector_key();
        assert_eq!(key.public_key().bits(), 2048);
        let sig = key.sign_sha256(b"hello").expect("sign");
        assert_eq!(sig.len(), 256);
        assert!(key.public_key().verify_sha256(b"hello", &sig));
        assert!(!key.public_key().verify_sha256(b"hellO", &sig));

        let pem = key.to_pkcs8_pem().expect("export");
        assert!(pem
            .expose_secret()
            .starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = PrivateKey::from_pkcs8_pem(pem.expose_secret()).expect("reload");
        assert_eq!(again.public_key(), key.public_key());
        // PKCS#1 v1.5 is deterministic: the reloaded key signs identically.
        assert_eq!(again.sign_sha256(b"hello").expect("sign"), sig);
    }

    #[test]
    fn debug_is_redacted() {
        let key = vector_key();
        let pem = key.to_pkcs8_pem().expect("export");
        assert_eq!(format!("{pem:?}"), "PrivateKeyPem(<redacted>)");
        let dbg = format!("{key:?}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
        assert!(!dbg.contains("BEGIN"), "{dbg}");
    }

    #[test]
    fn oaep_round_trip_and_failures() {
        let key = vector_key();
        let ct = crate::v3::oaep::encrypt_sha1(key.public_key(), "张三".as_bytes(), [7u8; 32])
            .expect("encrypt");
        assert_eq!(
            key.oaep_decrypt_sha1(&ct).expect("decrypt"),
            "张三".as_bytes()
        );
        assert!(matches!(
            key.oaep_decrypt_sha1("%%%"),
            Err(OaepError::Base64(_))
        ));
        assert!(matches!(
            key.oaep_decrypt_sha1("AAAA"),
            Err(OaepError::CiphertextLength { .. })
        ));
        let zeros = STANDARD.encode([0u8; 256]);
        assert!(matches!(
            key.oaep_decrypt_sha1(&zeros),
            Err(OaepError::DecryptFailed)
        ));
    }

    #[test]
    fn rejects_wrong_labels_and_garbage() {
        assert!(PrivateKey::from_pkcs8_pem("").is_err());
        let wrong = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(PrivateKey::from_pkcs8_pem(wrong).is_err());
        assert!(PrivateKey::from_pkcs8_der(&[0x30, 0x00]).is_err());
    }
}
