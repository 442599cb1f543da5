//! `wxpay-sim`: a faithful local WeChat Pay (微信支付).
//!
//! A real HTTP server (never a mock object) that speaks API v3 and v2 the way WeChat does:
//! it verifies every merchant signature, signs every response, encrypts notifications and
//! certificates, keeps orders and refunds in a state machine, and lets tests drive the
//! payer's side and inject faults through `/__sim/…`. Embed it with
//! [`Simulator::start`] on a port-0 listener, or run the `wxpay-sim` binary.
//!
//! All protocol cryptography (signatures, AEAD, v2 signing, XML) and the message model come
//! from `wxpay-core`: requests are read with the core's request types, routed with its
//! `Endpoint::parse`, and answered with its response, notification and error types. What
//! the simulator writes itself is its state (orders, refunds, deliveries), the clock, ids it
//! issues, the payer's side and WeChat's business decisions (which error when). A host that
//! reads WeChat through the same model cannot disagree with the simulator on the wire.

pub mod bill_file;
pub mod client;
pub mod config;
pub mod control;
pub mod crypto;
pub mod error;
pub mod faults;
pub mod ids;
pub mod lifecycle;
pub mod login;
pub mod mode_one;
pub mod notify;
pub mod pages;
pub mod server;
pub mod sim;
pub mod state;
pub mod tls;
pub mod universe;
pub mod v2;
pub mod v3;
pub mod wire;

pub use config::{SigningMode, SimConfig};
pub use control::SimControl;
pub use error::SimError;
pub use server::{RunningSim, Simulator};
pub use universe::Universe;
