//! `wxpay-core`: the sans-I/O WeChat Pay (微信支付) protocol core.
//!
//! Everything here is pure computation over bytes and values: no network, no clock, no
//! randomness of its own. Hosts pass `now`, nonces and keys in as arguments and send the
//! requests this crate builds. That keeps one implementation correct on the server
//! (`wxpay-server`), in the simulator (`wxpay-sim`) and in the browser (`wxpay-wasm`).
//!
//! Private-key operations (merchant signing, OAEP decryption, key generation) live behind
//! the `private-key` feature, which the wasm crate never enables.

pub mod env;
pub mod ids;
pub mod invoke;
pub mod jssdk;
pub mod keys;
pub mod open;
pub mod poll;
pub mod signer;
pub mod state;
pub mod v2;
pub mod v3;
pub mod values;

pub use ids::{
    AppId, IdError, MchId, OpenId, OutRefundNo, OutTradeNo, PrepayId, RefundId, SerialNo,
    TransactionId,
};
pub use state::{RefundStatus, TradeState};
pub use values::{Amount, Attach, Description, TimeExpire, ValueError};
