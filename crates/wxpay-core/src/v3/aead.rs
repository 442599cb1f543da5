//! `AEAD_AES_256_GCM` (protocol A.7): decrypting notification resources and
//! `/v3/certificates` entries, and encrypting them (the simulator plays WeChat).
//!
//! Key = the APIv3 key's 32 ASCII bytes used raw; nonce = the 12 ASCII bytes of
//! `resource.nonce`; AAD = `resource.associated_data` (possibly empty); ciphertext = Base64
//! of encrypted bytes ‖ 16-byte tag.
//!
//! The wechatpay-go test vectors use 16-byte keys, i.e. AES-128-GCM. [`ApiV3Key::new`]
//! refuses them with [`AeadError::KeyLength`]; [`decrypt_aes128_gcm`] is a separate,
//! clearly named function that exists only to reproduce those third-party vectors.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use subtle::ConstantTimeEq;

/// APIv3 key length in bytes ("密钥key长度为32个字节").
pub const KEY_LEN: usize = 32;
/// GCM nonce length WeChat uses (12 ASCII characters = 96 bits).
pub const NONCE_LEN: usize = 12;
/// GCM tag length, appended to the ciphertext.
pub const TAG_LEN: usize = 16;
/// The only algorithm name WeChat uses in `resource.algorithm`.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// Why AES-GCM failed. Every variant maps to the vector reason code `decrypt_failed`.
#[derive(Debug, thiserror::Error)]
pub enum AeadError {
    /// The key is not 32 bytes (AES-256). A 16-byte key is AES-128: see [`decrypt_aes128_gcm`].
    #[error("APIv3 key must be {KEY_LEN} bytes, got {len}")]
    KeyLength {
        /// Length given.
        len: usize,
    },
    /// The nonce is not 12 bytes.
    #[error("AES-GCM nonce must be {NONCE_LEN} bytes, got {len}")]
    NonceLength {
        /// Length given.
        len: usize,
    },
    /// The ciphertext is not standard Base64.
    #[error("ciphertext is not Base64: {0}")]
    Base64(#[source] base64::DecodeError),
    /// The decoded ciphertext is shorter than the 16-byte tag.
    #[error("ciphertext of {len} bytes is shorter than the GCM tag")]
    TooShort {
        /// Decoded length.
        len: usize,
    },
    /// Tag check failed: wrong APIv3 key, wrong nonce/AAD or tampered ciphertext.
    #[error("AES-GCM authentication failed (wrong APIv3 key or tampered data)")]
    Authentication,
    /// `resource.algorithm` is not `AEAD_AES_256_GCM`.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
}

impl AeadError {
    /// Stable reason code shared with the test vectors and the wasm error codes.
    pub fn reason_code(&self) -> &'static str {
        "decrypt_failed"
    }
}

/// The APIv3 key (APIv3密钥): 32 bytes used raw as the AES-256 key.
///
/// Redacted in `Debug`, compared in constant time, wiped on drop.
#[derive(Clone)]
pub struct ApiV3Key([u8; KEY_LEN]);

impl ApiV3Key {
    /// Takes the key as set in the merchant portal (32 ASCII characters).
    pub fn new(key: &str) -> Result<Self, AeadError> {
        Self::from_bytes(key.as_bytes())
    }

    /// Takes 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AeadError> {
        let arr: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| AeadError::KeyLength { len: bytes.len() })?;
        Ok(Self(arr))
    }

    /// Constant-time equality, e.g. for configuration reload checks.
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(<redacted>)")
    }
}

impl Drop for ApiV3Key {
    fn drop(&mut self) {
        // Volatile writes: not optimised away although the key is never read again.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl zeroize::ZeroizeOnDrop for ApiV3Key {}

impl std::str::FromStr for ApiV3Key {
    type Err = AeadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

fn nonce_of(nonce: &str) -> Result<&Nonce<aes_gcm::aead::consts::U12>, AeadError> {
    let bytes = nonce.as_bytes();
    if bytes.len() != NONCE_LEN {
        return Err(AeadError::NonceLength { len: bytes.len() });
    }
    Ok(Nonce::from_slice(bytes))
}

fn decode_ciphertext(ciphertext_b64: &str) -> Result<Vec<u8>, AeadError> {
    let ct = STANDARD.decode(ciphertext_b64).map_err(AeadError::Base64)?;
    if ct.len() < TAG_LEN {
        return Err(AeadError::TooShort { len: ct.len() });
    }
    Ok(ct)
}

/// Decrypts one resource (A.7). Returns the plaintext bytes (UTF-8 JSON or PEM).
pub fn decrypt(
    key: &ApiV3Key,
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, AeadError> {
    let nonce = nonce_of(nonce)?;
    let ct = decode_ciphertext(ciphertext_b64)?;
    #[cfg(feature = "aws-lc")]
    {
        open_aws_lc(key, nonce, associated_data, ct)
    }
    #[cfg(not(feature = "aws-lc"))]
    key.cipher()
        .decrypt(
            nonce,
            Payload {
                msg: &ct,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| AeadError::Authentication)
}

/// The same decryption through aws-lc on native hosts: every notification a server receives
/// goes through here, and aws-lc's AES-GCM (VAES/CLMUL assembly) takes about a quarter of
/// the pure-Rust time on a 1 KiB resource (`scripts/bench-peers.sh`, row 3).
#[cfg(feature = "aws-lc")]
fn open_aws_lc(
    key: &ApiV3Key,
    nonce: &Nonce<aes_gcm::aead::consts::U12>,
    associated_data: &str,
    mut ct: Vec<u8>,
) -> Result<Vec<u8>, AeadError> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce as AwsNonce, UnboundKey, AES_256_GCM};
    let unbound = UnboundKey::new(&AES_256_GCM, &key.0).map_err(|_| AeadError::Authentication)?;
    let nonce = AwsNonce::try_assume_unique_for_key(nonce.as_slice())
        .map_err(|_| AeadError::Authentication)?;
    let plain_len = LessSafeKey::new(unbound)
        .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut ct)
        .map_err(|_| AeadError::Authentication)?
        .len();
    ct.truncate(plain_len);
    Ok(ct)
}

/// Encrypts `plaintext` the way WeChat does for notifications and certificates; returns
/// Base64(ciphertext ‖ tag). The caller supplies a fresh 12-character nonce per message.
pub fn encrypt(
    key: &ApiV3Key,
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, AeadError> {
    let nonce = nonce_of(nonce)?;
    let ct = key
        .cipher()
        .encrypt(
            nonce,
            Payload {
                msg: plaintext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| AeadError::Authentication)?;
    Ok(STANDARD.encode(ct))
}

/// AES-**128**-GCM decryption with a 16-byte key, for the wechatpay-go SDK's test vectors
/// only (Go picks the AES variant from the key length). Real APIv3 keys are 32 bytes; use
/// [`decrypt`].
pub fn decrypt_aes128_gcm(
    key: &[u8; 16],
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, AeadError> {
    let nonce = nonce_of(nonce)?;
    let ct = decode_ciphertext(ciphertext_b64)?;
    Aes128Gcm::new(key.into())
        .decrypt(
            nonce,
            Payload {
                msg: &ct,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| AeadError::Authentication)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

    #[test]
    fn round_trip_with_and_without_aad() {
        let key = ApiV3Key::new(KEY).expect("key");
        for aad in ["", "transaction"] {
            let ct = encrypt(&key, "0123456789ab", aad, b"{\"a\":1}").expect("enc");
            assert_eq!(STANDARD.decode(&ct).expect("b64").len(), 7 + TAG_LEN);
            assert_eq!(
                decrypt(&key, "0123456789ab", aad, &ct).expect("dec"),
                b"{\"a\":1}"
            );
        }
    }

    /// Both backends (aws-lc natively with the `aws-lc` feature, RustCrypto otherwise and
    /// on wasm) must open what the RustCrypto encryption sealed, at every length around the
    /// block size, and refuse it once any byte or the tag changes.
    #[test]
    fn decrypt_opens_rustcrypto_ciphertexts_of_every_length() {
        let key = ApiV3Key::new(KEY).expect("key");
        for len in 0..=70 {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let ct = key
                .cipher()
                .encrypt(
                    Nonce::from_slice(b"0123456789ab"),
                    Payload {
                        msg: &plain,
                        aad: b"transaction",
                    },
                )
                .expect("seal");
            let b64 = STANDARD.encode(&ct);
            assert_eq!(
                decrypt(&key, "0123456789ab", "transaction", &b64).expect("open"),
                plain
            );
            for i in 0..ct.len() {
                let mut bad = ct.clone();
                bad[i] ^= 0x80;
                assert!(matches!(
                    decrypt(&key, "0123456789ab", "transaction", &STANDARD.encode(bad)),
                    Err(AeadError::Authentication)
                ));
            }
        }
    }

    #[test]
    fn any_change_fails_authentication() {
        let key = ApiV3Key::new(KEY).expect("key");
        let other = ApiV3Key::new("b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").expect("key");
        let ct = encrypt(&key, "0123456789ab", "certificate", b"hello").expect("enc");
        assert!(matches!(
            decrypt(&other, "0123456789ab", "certificate", &ct),
            Err(AeadError::Authentication)
        ));
        assert!(matches!(
            decrypt(&key, "0123456789ac", "certificate", &ct),
            Err(AeadError::Authentication)
        ));
        assert!(matches!(
            decrypt(&key, "0123456789ab", "", &ct),
            Err(AeadError::Authentication)
        ));
        let mut raw = STANDARD.decode(&ct).expect("b64");
        raw[0] ^= 1;
        let flipped = STANDARD.encode(raw);
        assert!(matches!(
            decrypt(&key, "0123456789ab", "certificate", &flipped),
            Err(AeadError::Authentication)
        ));
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        let key = ApiV3Key::new(KEY).expect("key");
        assert!(matches!(
            decrypt(&key, "short", "", "AAAA"),
            Err(AeadError::NonceLength { len: 5 })
        ));
        assert!(matches!(
            decrypt(&key, "0123456789ab", "", "!!!"),
            Err(AeadError::Base64(_))
        ));
        assert!(matches!(
            decrypt(&key, "0123456789ab", "", "AAAA"),
            Err(AeadError::TooShort { len: 3 })
        ));
        assert!(matches!(
            ApiV3Key::new("testMchAPIv3Key0"),
            Err(AeadError::KeyLength { len: 16 })
        ));
        assert_eq!(AeadError::Authentication.reason_code(), "decrypt_failed");
    }

    #[test]
    fn key_is_redacted_and_compared() {
        let a = ApiV3Key::new(KEY).expect("key");
        let b: ApiV3Key = KEY.parse().expect("key");
        let c = ApiV3Key::new("b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").expect("key");
        assert!(a.ct_eq(&b));
        assert!(!a.ct_eq(&c));
        assert_eq!(format!("{a:?}"), "ApiV3Key(<redacted>)");
    }

    #[test]
    fn aes128_vector_from_wechatpay_go() {
        // utils/aes_test.go: key testAPIv3Key0000, plaintext "Hello World"
        let plain = decrypt_aes128_gcm(
            b"testAPIv3Key0000",
            "wCq51qZv4Yfg",
            "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
            "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC",
        )
        .expect("decrypt");
        assert_eq!(plain, b"Hello World");
    }
}
