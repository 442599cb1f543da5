//! `wxpay-server`: the merchant backend for WeChat Pay (微信支付).
//!
//! It holds the merchant's keys, logs users in (mini-program `code2Session`, WeChat-browser
//! OAuth), creates orders at server-decided prices, prepares every pay channel, receives and
//! verifies notifications, refunds, and reconciles orders whose notification never came.
//! The application is a value ([`app::Application`]) so tests start it on port 0 against a
//! fresh SQLite file and a fresh `wxpay-sim`.

pub mod admin_token;
pub mod api;
pub mod app;
pub mod channel;
pub mod client_ip;
pub mod clock;
pub mod config;
#[cfg(feature = "embedded-sim")]
pub mod embedded;
pub mod error;
pub mod ids;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod notify_guard;
pub mod notify_reply;
pub mod notify_v2;
pub mod payments;
pub mod payments_v2;
pub mod prepay;
pub mod reconcile;
pub mod refund;
pub mod refund_attempt;
pub mod secret;
pub mod shared_credential;
pub mod state;
pub mod store;
pub mod upstream;
pub mod wire_values;
pub mod worker;
