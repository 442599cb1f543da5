//! `wxpay-server`: the merchant backend for WeChat Pay (微信支付).
//!
//! It holds the merchant's keys, logs users in (mini-program `code2Session`, WeChat-browser
//! OAuth), creates orders at server-decided prices, prepares every pay channel, receives and
//! verifies notifications, refunds, and reconciles orders whose notification never came.
//! The application is a value ([`app::Application`]) so tests start it on port 0 against a
//! fresh SQLite file and a fresh `wxpay-sim`.
//!
//! Where each flow lives (HTTP handlers in [`api`], WeChat clients in [`upstream`], the
//! ledger in [`store`] beneath them; every message to and from WeChat is the core's type):
//!
//! | flow | module |
//! |---|---|
//! | login (`code2Session`, OAuth) | [`api::auth`] |
//! | pay: prepay (v3 or v2) and client parameters | [`prepay`] |
//! | notifications, v3 / v2 and mode one | [`notify`], [`notify_v2`] |
//! | order query and close, v3 calls | [`payments`] (v2 calls: [`payments_v2`]) |
//! | refund (v3 or v2) | [`refund`] |
//! | reconciliation (对账) | [`reconcile`] |
//! | worker (stale orders, refunds, daily run) | [`worker`] |

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
