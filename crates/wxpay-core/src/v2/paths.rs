//! Endpoint paths of API v2 (protocol.md E.3), one list for the server that calls them and
//! the simulator that serves them.

/// `POST` unified order (统一下单).
pub const UNIFIED_ORDER: &str = "/pay/unifiedorder";
/// `POST` order query.
pub const ORDER_QUERY: &str = "/pay/orderquery";
/// `POST` close an unpaid order.
pub const CLOSE_ORDER: &str = "/pay/closeorder";
/// `POST` refund query.
pub const REFUND_QUERY: &str = "/pay/refundquery";
/// `POST` refund; needs the merchant's API certificate (mutual TLS), like every `/secapi/` path.
pub const REFUND: &str = "/secapi/pay/refund";

/// Whether `path` needs the merchant's API certificate (mutual TLS).
pub fn needs_client_certificate(path: &str) -> bool {
    path.starts_with("/secapi/")
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn only_the_refund_needs_the_client_certificate() {
        assert!(needs_client_certificate(REFUND));
        for path in [UNIFIED_ORDER, ORDER_QUERY, CLOSE_ORDER, REFUND_QUERY] {
            assert!(!needs_client_certificate(path), "{path}");
        }
    }
}
