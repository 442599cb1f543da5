//! Identifiers and tokens made from OS randomness.
//!
//! Order numbers must be unique per merchant and fit WeChat's `out_trade_no` rules
//! (6–32 of `[0-9A-Za-z_-|*]`); session tokens must be unguessable. Both come from the
//! operating system's CSPRNG; only a SHA-256 of a session token is ever stored.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Random bytes from the OS. Failing to get entropy is not recoverable for a payment
/// server, so this aborts the request (the caller maps the error to a 500).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)?;
    Ok(buf)
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A random id with a short prefix, e.g. `u3f9a…` (internal rows only).
pub fn random_id(prefix: &str) -> String {
    // Fall back to time-based uniqueness only if entropy is unavailable; ids are not secrets.
    let bytes = random_bytes::<12>().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut out = [0u8; 12];
        out.copy_from_slice(&nanos.to_be_bytes()[4..16]);
        out
    });
    format!("{prefix}{}", hex(&bytes))
}

/// A fresh merchant order number: `WX` + Unix seconds + 10 random hex digits (24 chars).
pub fn new_out_trade_no(now: i64) -> Result<String, getrandom::Error> {
    let bytes = random_bytes::<5>()?;
    Ok(format!("WX{now}{}", hex(&bytes).to_ascii_uppercase()))
}

/// A fresh merchant refund number: `RF` + Unix seconds + 10 random hex digits.
pub fn new_out_refund_no(now: i64) -> Result<String, getrandom::Error> {
    let bytes = random_bytes::<5>()?;
    Ok(format!("RF{now}{}", hex(&bytes).to_ascii_uppercase()))
}

/// A nonce of 32 characters from `[0-9A-Za-z]`-compatible hex, as WeChat's SDKs send.
pub fn nonce() -> Result<String, getrandom::Error> {
    Ok(hex(&random_bytes::<16>()?).to_ascii_uppercase())
}

/// A new bearer token (256 bits, URL-safe Base64).
pub fn session_token() -> Result<String, getrandom::Error> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What the store keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_fit_wechat_rules_and_differ() {
        let a = new_out_trade_no(1_700_000_000).expect("entropy");
        let b = new_out_trade_no(1_700_000_000).expect("entropy");
        assert_ne!(a, b);
        assert!(wxpay_core::OutTradeNo::new(a.clone()).is_ok(), "{a}");
        assert!(wxpay_core::OutRefundNo::new(new_out_refund_no(1).expect("entropy")).is_ok());
        assert_eq!(nonce().expect("entropy").len(), 32);
    }

    #[test]
    fn token_hash_is_stable_and_not_the_token() {
        let token = session_token().expect("entropy");
        assert_eq!(token_hash(&token), token_hash(&token));
        assert_ne!(token_hash(&token), token);
    }
}
