//! The ids, links and random values the simulator issues, and how long they live.
//!
//! A leaf: the handlers (v3, v2, pages) and the order lifecycle all draw from here, and it
//! depends on nothing else in the crate.

use rand::Rng;

/// A prepay id lives two hours (A.10).
pub const PREPAY_TTL: i64 = 2 * 3600;
/// Unpaid orders without `time_expire` die after seven days.
pub const DEFAULT_EXPIRY: i64 = 7 * 24 * 3600;
/// `h5_url` validity (A.10).
pub const H5_TTL: i64 = 300;

/// A new prepay id shaped like `wx201410272009395522657a690389285100`.
pub fn new_prepay_id(now: i64) -> String {
    let stamp = wxpay_core::v2::time::format_v2_time(now).unwrap_or_default();
    format!("wx{stamp}{}", random_alnum(20).to_ascii_lowercase())
}

/// A new Native `code_url` (`weixin://wxpay/bizpayurl?pr=…`).
pub fn new_code_url() -> String {
    format!("weixin://wxpay/bizpayurl?pr={}", random_alnum(9))
}

/// The `h5_url` for an order, on the simulator reachable at `base_url`.
pub fn h5_url(base_url: &str, prepay_id: &str) -> String {
    format!(
        "{base_url}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}&package={}",
        random_digits(10)
    )
}

/// A new `transaction_id` (28 digits, like `4200000985202103044063346981`).
pub fn new_transaction_id(now: i64) -> String {
    format!(
        "4200{}{}{}",
        random_digits(6),
        wxpay_core::v2::time::format_v2_time(now)
            .unwrap_or_default()
            .get(..8)
            .unwrap_or("20250101"),
        random_digits(10)
    )
}

/// A new `refund_id` (29 digits).
pub fn new_refund_id() -> String {
    format!("50{}", random_digits(27))
}

/// A `WECHATPAY/SIGNTEST/` probe value: deliberately not valid Base64, as WeChat's are.
pub fn probe_signature() -> String {
    format!("WECHATPAY/SIGNTEST/{}", random_alnum(64))
}

/// A random string over `[0-9A-Za-z]`.
pub fn random_alnum(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
        .collect()
}

/// A random decimal string.
pub fn random_digits(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}
