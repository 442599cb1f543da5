//! The downloaded bill file: gunzip and the SHA1 check against the signed answer.
//!
//! The file answer carries no signature; its integrity rests on `hash_value` in the signed
//! answer to the bill request, which WeChat computes over the *uncompressed* bill. So a
//! gzip stream is inflated first, then hashed; a file whose digest differs is refused.

use std::io::Read;

use sha1::{Digest, Sha1};

use super::api::BillAnswer;

/// Largest inflated bill accepted (a bomb guard; a busy merchant's day is far below it).
pub const MAX_BILL_BYTES: u64 = 256 << 20;

/// Why a downloaded file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillFileError {
    /// `hash_type` is not `SHA1`, the only one WeChat documents.
    #[error("unsupported bill hash type {0:?}")]
    UnsupportedHash(String),
    /// The file's digest is not the signed one: tampered or damaged on the way.
    #[error("bill file SHA1 {actual} does not match the signed {expected}")]
    HashMismatch {
        /// From the signed answer.
        expected: String,
        /// Of the bytes received.
        actual: String,
    },
    /// Not a complete gzip stream (truncated or corrupted).
    #[error("bill file is not a complete gzip stream: {0}")]
    Gzip(String),
    /// Inflates past [`MAX_BILL_BYTES`].
    #[error("bill file inflates past {MAX_BILL_BYTES} bytes")]
    TooLarge,
}

/// Inflates a gzip bill, refusing a truncated or corrupt stream.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, BillFileError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_BILL_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| BillFileError::Gzip(e.to_string()))?;
    if out.len() as u64 > MAX_BILL_BYTES {
        return Err(BillFileError::TooLarge);
    }
    Ok(out)
}

/// Lower-case hex SHA1 of `bytes`.
pub fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks the uncompressed bill against the signed answer (the whole digest, any case).
pub fn verify_sha1(bill: &[u8], answer: &BillAnswer) -> Result<(), BillFileError> {
    if !answer.hash_type.eq_ignore_ascii_case("SHA1") {
        return Err(BillFileError::UnsupportedHash(answer.hash_type.clone()));
    }
    let actual = sha1_hex(bill);
    if !actual.eq_ignore_ascii_case(answer.hash_value.trim()) {
        return Err(BillFileError::HashMismatch {
            expected: answer.hash_value.clone(),
            actual,
        });
    }
    Ok(())
}

/// Gzips `bill` (the simulator's `tar_type=GZIP` answer, and tests).
pub fn gzip(bill: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bill);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(hash: &str) -> BillAnswer {
        BillAnswer {
            hash_type: "SHA1".into(),
            hash_value: hash.into(),
            download_url: "/v3/billdownload/file?token=x".into(),
        }
    }

    #[test]
    fn sha1_is_checked_over_the_whole_digest() {
        let bill = "交易时间\n".as_bytes();
        let good = sha1_hex(bill);
        assert_eq!(good.len(), 40);
        assert_eq!(verify_sha1(bill, &answer(&good)), Ok(()));
        assert_eq!(verify_sha1(bill, &answer(&good.to_uppercase())), Ok(()));
        // Same prefix, last digit changed: still refused.
        let mut bad = good.clone();
        bad.replace_range(39.., if good.ends_with('0') { "1" } else { "0" });
        assert!(matches!(
            verify_sha1(bill, &answer(&bad)),
            Err(BillFileError::HashMismatch { .. })
        ));
        assert!(matches!(
            verify_sha1(bill, &answer(&good[..20])),
            Err(BillFileError::HashMismatch { .. })
        ));
        let mut md5 = answer(&good);
        md5.hash_type = "MD5".into();
        assert!(matches!(
            verify_sha1(bill, &md5),
            Err(BillFileError::UnsupportedHash(_))
        ));
    }

    #[test]
    fn gzip_round_trips_and_a_truncated_stream_is_refused() {
        let bill = "`2026-12-03 10:00:00,`wx1\n".repeat(50);
        let packed = gzip(bill.as_bytes());
        assert_eq!(gunzip(&packed).as_deref(), Ok(bill.as_bytes()));
        for cut in [packed.len() - 1, packed.len() / 2, 5] {
            assert!(
                matches!(gunzip(&packed[..cut]), Err(BillFileError::Gzip(_))),
                "cut at {cut}"
            );
        }
        assert!(matches!(gunzip(b"not gzip"), Err(BillFileError::Gzip(_))));
    }
}
