//! The encrypted `req_info` of the v2 refund notification (退款结果通知, protocol.md E.4).
//!
//! WeChat encrypts the refund details with AES-256-ECB and PKCS#7 padding, keyed with the
//! 32 ASCII bytes of the lower-case hex MD5 of the APIv2 key, and Base64-encodes the result.
//! The plaintext is a flat XML document with a `<root>` element.
//!
//! ECB has no integrity protection and the refund notification carries no `sign`, so the
//! decrypted fields are only a hint: the merchant must confirm the refund with a query
//! (`refundquery`) before acting on it. Both failure causes (bad length, bad padding) give
//! the same error so the handler does not become a padding oracle.

use std::collections::BTreeMap;

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes256;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use md5::{Digest, Md5};

use crate::v2::sign::ApiV2Key;
use crate::v2::xml::{self, XmlError};

const BLOCK: usize = 16;

/// Why `req_info` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RefundCryptoError {
    /// `req_info` is not standard Base64.
    #[error("req_info is not valid Base64")]
    Base64(#[source] base64::DecodeError),
    /// Wrong length or wrong padding: most likely the wrong API key.
    #[error("req_info did not decrypt (wrong APIv2 key or corrupted data)")]
    Decrypt,
    /// The plaintext is not the expected flat XML.
    #[error("decrypted req_info is not valid v2 XML")]
    Xml(#[source] XmlError),
}

/// The AES-256 key: lower-case hex MD5 of the APIv2 key, used as 32 ASCII bytes.
fn derive_cipher(key: &ApiV2Key) -> Aes256 {
    let digest = Md5::digest(key.as_bytes());
    let mut hex = [0u8; 32];
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        hex[2 * i] = DIGITS[usize::from(b >> 4)];
        hex[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    Aes256::new(GenericArray::from_slice(&hex))
}

/// Decrypts a Base64 `req_info` into its plaintext bytes (UTF-8 XML).
pub fn decrypt(req_info: &str, key: &ApiV2Key) -> Result<Vec<u8>, RefundCryptoError> {
    let mut data = STANDARD
        .decode(req_info.trim())
        .map_err(RefundCryptoError::Base64)?;
    if data.is_empty() || data.len() % BLOCK != 0 {
        return Err(RefundCryptoError::Decrypt);
    }
    let cipher = derive_cipher(key);
    for chunk in data.chunks_exact_mut(BLOCK) {
        cipher.decrypt_block(GenericArray::from_mut_slice(chunk));
    }
    let unpadded = pkcs7_unpad_len(&data).ok_or(RefundCryptoError::Decrypt)?;
    data.truncate(unpadded);
    Ok(data)
}

/// Decrypts `req_info` and parses its `<root>` fields (`out_refund_no`, `refund_status`, …).
pub fn decrypt_fields(
    req_info: &str,
    key: &ApiV2Key,
) -> Result<BTreeMap<String, String>, RefundCryptoError> {
    let plain = decrypt(req_info, key)?;
    xml::parse(&plain, xml::DEFAULT_MAX_LEN).map_err(RefundCryptoError::Xml)
}

/// Encrypts a plaintext into `req_info` form. The simulator uses it to emit notifications;
/// ECB with PKCS#7 is deterministic, so no randomness is needed.
pub fn encrypt(plaintext: &[u8], key: &ApiV2Key) -> String {
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut data = Vec::with_capacity(plaintext.len() + pad);
    data.extend_from_slice(plaintext);
    // `pad` is 1..=16, so it always fits a byte.
    data.resize(plaintext.len() + pad, pad as u8);
    let cipher = derive_cipher(key);
    for chunk in data.chunks_exact_mut(BLOCK) {
        cipher.encrypt_block(GenericArray::from_mut_slice(chunk));
    }
    STANDARD.encode(data)
}

/// Writes `fields` as `<root>…</root>` and encrypts it: a whole `req_info` for the simulator.
pub fn encrypt_fields<I, K, V>(fields: I, key: &ApiV2Key) -> Result<String, XmlError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let plain = xml::to_xml_with_root("root", fields)?;
    Ok(encrypt(plain.as_bytes(), key))
}

/// Length of `data` without its PKCS#7 padding, or `None` when the padding is invalid.
/// Every padding byte is checked without an early exit.
fn pkcs7_unpad_len(data: &[u8]) -> Option<usize> {
    let last = *data.last()?;
    let n = usize::from(last);
    if n == 0 || n > BLOCK || n > data.len() {
        return None;
    }
    let bad = data[data.len() - n..]
        .iter()
        .fold(0u8, |acc, b| acc | (b ^ last));
    (bad == 0).then_some(data.len() - n)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn key() -> ApiV2Key {
        ApiV2Key::new("192006250b4c09247ec02edce69f6a2d").unwrap()
    }

    #[test]
    fn aes256_ecb_known_answer() {
        // FIPS-197 C.3 (AES-256) through the same block path, to pin the cipher itself.
        let k: Vec<u8> = (0u8..32).collect();
        let cipher = Aes256::new(GenericArray::from_slice(&k));
        let mut block: [u8; 16] = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        cipher.encrypt_block(GenericArray::from_mut_slice(&mut block));
        assert_eq!(
            block,
            [
                0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf, 0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49,
                0x60, 0x89
            ]
        );
    }

    #[test]
    fn openssl_known_answers() {
        // Computed independently with coreutils and OpenSSL:
        //   K=$(printf %s 192006250b4c09247ec02edce69f6a2d | md5sum)  -> d96eb16afdd491fa1e705096edbc2205
        //   openssl enc -aes-256-ecb -K <hex of those 32 ASCII bytes> | base64
        assert_eq!(
            encrypt(b"hello req_info", &key()),
            "r23pGwiOOAtXMaXpxo0pCw=="
        );
        let req_info = "WBzGpzQuNpcFxIlFjUUD9BfnwwNUlVAs7bwvgHME4/SyHggOftiK/WFLLEQYifPJjUF6J1J4xU4Xuo3b+lNaAuZloaWxuPIzEFs5Ryn6am7trayykxsLw6Hromg5MRuTdyNfcYA1aMejn8N0Tw4diFiigbjsamPn5iS2yL1JGBM=";
        let m = decrypt_fields(req_info, &key()).unwrap();
        assert_eq!(m["out_refund_no"], "R20250101000001");
        assert_eq!(m["refund_status"], "SUCCESS");
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn round_trip_and_padding() {
        for len in [0usize, 1, 15, 16, 17, 100] {
            let plain = vec![b'a'; len];
            let ct = encrypt(&plain, &key());
            let raw = STANDARD.decode(&ct).unwrap();
            assert_eq!(raw.len(), (len / 16 + 1) * 16);
            assert_eq!(decrypt(&ct, &key()).unwrap(), plain);
        }
    }

    #[test]
    fn wrong_key_or_corruption_fails_cleanly() {
        let ct = encrypt(b"<root><a>1</a></root>", &key());
        let other = ApiV2Key::new("0".repeat(32)).unwrap();
        // With a wrong key the padding check fails with overwhelming probability; never panics.
        assert!(decrypt(&ct, &other)
            .map(|p| p != b"<root><a>1</a></root>")
            .unwrap_or(true));
        assert!(matches!(
            decrypt("AAAA", &key()),
            Err(RefundCryptoError::Decrypt)
        ));
        assert!(matches!(
            decrypt("%%%", &key()),
            Err(RefundCryptoError::Base64(_))
        ));
        assert!(matches!(
            decrypt("", &key()),
            Err(RefundCryptoError::Decrypt)
        ));
    }

    #[test]
    fn fields_round_trip() {
        let ct = encrypt_fields(
            [("out_refund_no", "R1"), ("refund_status", "SUCCESS")],
            &key(),
        )
        .unwrap();
        let m = decrypt_fields(&ct, &key()).unwrap();
        assert_eq!(m["out_refund_no"], "R1");
        assert_eq!(m["refund_status"], "SUCCESS");
    }

    #[test]
    fn unpad_rules() {
        assert_eq!(pkcs7_unpad_len(&[1, 2, 3, 1]), Some(3));
        assert_eq!(pkcs7_unpad_len(&[2, 2]), Some(0));
        assert_eq!(pkcs7_unpad_len(&[1, 3, 2]), None);
        assert_eq!(pkcs7_unpad_len(&[0]), None);
        assert_eq!(pkcs7_unpad_len(&[17; 17]), None);
        assert_eq!(pkcs7_unpad_len(&[]), None);
    }
}
