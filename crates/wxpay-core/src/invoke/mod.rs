//! Client invocation parameters: what the merchant server hands to the page, mini-program or
//! app so that it can open WeChat Pay's cashier, and what comes back.
//!
//! Three jobs, kept apart:
//! - **Builders** (server side): sign the bundle for one surface. The v3 bundles take an
//!   [`RsaSigner`](crate::signer::RsaSigner); the v2 ones an API v2 key. Timestamps and nonces are
//!   arguments because the core has no clock and no randomness.
//! - **Validators** ([`format_for`]; client side, compiled to wasm): check a bundle received from
//!   the merchant server against the exact field names and formats of one surface, and return
//!   the object to pass straight to the platform call. No key is needed or present.
//! - **Outcome normalisation** ([`normalize_err_msg`], [`normalize_open_sdk`]): map the platform
//!   result strings onto [`Outcome`]. A client-side "ok" is never proof of payment; the caller
//!   still polls the server (see [`crate::poll`]).
//!
//! The wire shapes follow the protocol reference, part B (`wx.requestPayment`,
//! `getBrandWCPayRequest`, `wx.chooseWXPay`, APP `PayReq`, `h5_url`, `code_url`).

mod app;
mod error;
mod fields;
mod h5;
mod jsapi;
mod message;
mod mode_one;
mod native;
mod outcome;
mod surface;
mod validate;

pub use app::{AppPayParams, UniAppPayParams};
pub use error::{BuildError, FieldProblem, InvokeError, UrlProblem};
pub use fields::{NonceStr, PaySignType, PayTimestamp};
pub use h5::{h5_redirect_url, H5HostPolicy, WECHAT_H5_HOSTS};
pub use jsapi::{ChooseWxPayParams, JsapiPayParams, RequestPaymentParams, UniMpWeixinParams};
pub use message::{app_sign_message, paysign_message};
pub use mode_one::{ModeOneUrl, ModeOneUrlError, MODE_ONE_PREFIX};
pub use native::{CodeUrl, ProductId};
pub use outcome::{normalize_err_msg, normalize_open_sdk, ClientResult, Outcome};
pub use surface::Surface;
pub use validate::{
    format_for, format_for_with, parse_app_bundle, parse_jsapi_bundle, ValidateOptions,
};

/// The `provider` value uni-app expects for WeChat Pay in `uni.requestPayment`.
pub const UNI_PROVIDER_WXPAY: &str = "wxpay";

/// The fixed `package` value of an APP payment (`PayReq.packageValue`).
pub const APP_PACKAGE: &str = "Sign=WXPay";

/// The prefix of a JSAPI / mini-program `package` value.
pub const PREPAY_PACKAGE_PREFIX: &str = "prepay_id=";

#[cfg(test)]
mod vector_tests;
