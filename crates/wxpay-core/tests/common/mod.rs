//! Shared fixtures for the known-answer tests.
//!
//! The vectors are embedded with `include_str!` rather than read from disk so the very same
//! test files run natively and on `wasm32-unknown-unknown` (which has no filesystem).
//! The repository keeps its own copy in `tests/vectors/`; `scripts/sync-spec.sh` refreshes it.

#![allow(dead_code)]

use serde_json::Value;

macro_rules! vector_files {
    ($($name:literal),* $(,)?) => {
        /// The text of one file of `tests/vectors/`, by bare file name.
        pub fn read(name: &str) -> &'static str {
            match name {
                $($name => include_str!(concat!("../../../../tests/vectors/", $name)),)*
                other => panic!("vector file {other} is not embedded; add it to tests/common/mod.rs"),
            }
        }
    };
}

vector_files!(
    "vectors.json",
    "go_test_private_key.pem",
    "go_test_wechatpay_cert.pem",
    "java_download_certificate_plain.pem",
    "official_doc_wechatpay_public_key.pem",
    "official_test_key.pem",
    "oracle_merchant_cert.pem",
    "oracle_merchant_key.pem",
    "oracle_platform_cert.pem",
    "oracle_platform_key.pem",
    "oracle_pubkey_mode_private.pem",
    "oracle_pubkey_mode_public.pem",
);

/// Every vector, parsed.
pub fn all_vectors() -> Vec<Value> {
    serde_json::from_str(read("vectors.json")).expect("vectors.json is a JSON list")
}
