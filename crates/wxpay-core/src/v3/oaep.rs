//! Sensitive-field encryption (敏感信息加解密, protocol A.11): RSA-OAEP with SHA-1 and
//! MGF1-SHA1, no label, Base64 output.
//!
//! Encryption is a public-key operation and runs everywhere (including wasm). The core
//! reads no randomness of its own, so the caller passes a 32-byte seed that drives a
//! ChaCha20 RNG for the OAEP padding. Decryption needs the merchant private key and lives
//! on [`crate::keys::PrivateKey`] (feature `private-key`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa::Oaep;

use crate::keys::PublicKey;

/// SHA-1 digest length, which fixes the OAEP overhead.
const SHA1_LEN: usize = 20;

/// Why OAEP encryption or decryption failed.
#[derive(Debug, thiserror::Error)]
pub enum OaepError {
    /// The ciphertext is not standard Base64.
    #[error("ciphertext is not Base64: {0}")]
    Base64(#[source] base64::DecodeError),
    /// The decoded ciphertext is not exactly one RSA block long.
    #[error("ciphertext is {got} bytes, expected {expected}")]
    CiphertextLength {
        /// The key's modulus length in bytes.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The plaintext does not fit one OAEP-SHA1 block (214 bytes for RSA-2048).
    #[error("plaintext is {got} bytes, at most {max} fit")]
    PlaintextTooLong {
        /// Largest plaintext for this key.
        max: usize,
        /// What was given.
        got: usize,
    },
    /// The `rsa` crate refused to encrypt (should not happen for a valid key). Not a
    /// `source()`: `rsa::Error` lacks `std::error::Error` without the crate's `std` feature.
    #[error("OAEP encryption failed: {0}")]
    Encrypt(rsa::Error),
    /// Padding check failed: wrong key, corrupted ciphertext or different OAEP parameters.
    /// Deliberately carries no detail (no padding oracle).
    #[error("OAEP decryption failed")]
    DecryptFailed,
    /// The decrypted field is not UTF-8 text.
    #[error("decrypted field is not UTF-8")]
    NotUtf8,
}

/// Largest plaintext that fits one OAEP-SHA1 block under `key`.
pub fn max_plaintext_len(key: &PublicKey) -> usize {
    key.size_bytes().saturating_sub(2 * SHA1_LEN + 2)
}

/// Encrypts a sensitive field for WeChat Pay with its public key (public-key mode) or a
/// platform certificate's key; the request must then name that key in `Wechatpay-Serial`.
///
/// `seed` must be fresh random bytes for every call: the same seed and plaintext give the
/// same ciphertext.
pub fn encrypt_sha1(
    key: &PublicKey,
    plaintext: &[u8],
    seed: [u8; 32],
) -> Result<String, OaepError> {
    let max = max_plaintext_len(key);
    if plaintext.len() > max {
        return Err(OaepError::PlaintextTooLong {
            max,
            got: plaintext.len(),
        });
    }
    let mut rng = ChaCha20Rng::from_seed(seed);
    let ciphertext = key
        .rsa()
        .encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), plaintext)
        .map_err(OaepError::Encrypt)?;
    Ok(STANDARD.encode(ciphertext))
}

/// Decrypts a Base64 OAEP-SHA1 field with the merchant private key and checks it is UTF-8
/// (names, phone numbers and ids are text).
#[cfg(feature = "private-key")]
pub fn decrypt_sha1_to_string(
    key: &crate::keys::PrivateKey,
    ciphertext_b64: &str,
) -> Result<String, OaepError> {
    let bytes = key.oaep_decrypt_sha1(ciphertext_b64)?;
    String::from_utf8(bytes).map_err(|_| OaepError::NotUtf8)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn key() -> PublicKey {
        // wechatpay official doc public key (spec/vectors/official_doc_wechatpay_public_key.pem)
        PublicKey::from_spki_pem(
            "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwXNI6sdlknHBnK8Fu2U6
Cwor9qY747jP8KAfeBMeveEt1TqaHkLfaSD07trZLhGpfs8/AHqjhgSMO1O10YQW
OrrJ4hjIWPKqxbgrYMkBQc+mwdiWp4W3ByCqxBRagCveCXRWCmuJYovl9H/bsDI0
iGbpVtEOghJtfciisYSgxcLufUDTRkvwxjIBK1pCRjk33jJ5YTBWTHMRtMAOcFLN
F6hdEYdX8SPsgHHeLZ5Lv2T/686w1xtgCHef/sd4uSfWmyzsalQdHG/e4IyYmrhx
+O3VBoNDzE3nx23bFeV/RVNCG7cV6VhmYokJNHa/erIPkEmEFID6A5wQOXuxUkmJ
WwIDAQAB
-----END PUBLIC KEY-----",
        )
        .expect("key")
    }

    #[test]
    fn output_is_one_block_and_seed_determines_it() {
        let k = key();
        let a = encrypt_sha1(&k, b"13800138000", [1; 32]).expect("a");
        let b = encrypt_sha1(&k, b"13800138000", [1; 32]).expect("b");
        let c = encrypt_sha1(&k, b"13800138000", [2; 32]).expect("c");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(STANDARD.decode(a).expect("b64").len(), 256);
    }

    #[test]
    fn length_limit_is_enforced() {
        let k = key();
        assert_eq!(max_plaintext_len(&k), 214);
        assert!(encrypt_sha1(&k, &[b'x'; 214], [0; 32]).is_ok());
        assert!(matches!(
            encrypt_sha1(&k, &[b'x'; 215], [0; 32]),
            Err(OaepError::PlaintextTooLong { max: 214, got: 215 })
        ));
    }
}
