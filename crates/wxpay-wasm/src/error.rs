//! Errors crossing into JavaScript.
//!
//! Every failure leaves the wasm as a plain JS `Error` whose `code` property is one of the
//! stable strings below, so TypeScript can expose a closed union (`WxPayErrorCode`) and
//! applications can branch on it without parsing messages. Messages are for people and may
//! change; codes may not.

use std::fmt;

use wasm_bindgen::JsValue;

/// A binding-layer error: a stable machine code plus a human explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingError {
    /// Stable code, one of the `codes::*` constants.
    pub code: &'static str,
    /// Explanation naming the offending field where there is one.
    pub message: String,
    /// The field the error is about (exposed to JS as `error.field`).
    pub field: Option<&'static str>,
}

/// The stable error codes: this layer's own (below) and those of the core's validators
/// (`wxpay_core::invoke::InvokeError::CODES`). [`codes::all`] lists every code the wasm can
/// produce; it is exported as `errorCodes()`, and a node test (`js/test/error-codes.test.mjs`)
/// checks it equals `CORE_ERROR_CODES` / `CoreErrorCode` in `js/src/core/errors.ts`.
pub mod codes {
    /// The input was not the JSON object the function expects.
    pub const BAD_INPUT: &str = "BAD_INPUT";
    /// The surface (payment API) name is not one this build knows.
    pub const UNKNOWN_SURFACE: &str = "UNKNOWN_SURFACE";
    /// A required parameter is absent (often a casing mix-up such as `timestamp` for `timeStamp`).
    pub const PARAM_MISSING: &str = "PARAM_MISSING";
    /// A parameter is present but malformed or has the wrong JSON type.
    pub const PARAM_INVALID: &str = "PARAM_INVALID";
    /// The text does not fit in a QR code.
    pub const QR_TOO_LONG: &str = "QR_TOO_LONG";
    /// This build has no QR renderer (the mini-program flavour is built without the `qr` feature).
    pub const QR_UNAVAILABLE: &str = "QR_UNAVAILABLE";

    /// This layer's own codes; [`all`] adds the core validator's (`InvokeError::CODES`).
    pub const OWN: [&str; 6] = [
        BAD_INPUT,
        UNKNOWN_SURFACE,
        PARAM_MISSING,
        PARAM_INVALID,
        QR_TOO_LONG,
        QR_UNAVAILABLE,
    ];

    /// Every code an error leaving the wasm can carry.
    pub fn all() -> impl Iterator<Item = &'static str> {
        OWN.into_iter()
            .chain(wxpay_core::invoke::InvokeError::CODES)
    }
}

impl BindingError {
    /// Builds an error from a stable code and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Converts into a JS `Error` carrying `code` (and `name = "WxPayError"`).
    ///
    /// Only meaningful on wasm32: `js-sys` calls are unavailable natively, where the rlib is
    /// used by the pure-Rust unit tests that never reach this conversion.
    pub fn into_js(self) -> JsValue {
        let err = js_sys::Error::new(&self.message);
        err.set_name("WxPayError");
        // Reflect::set only fails on frozen or proxied targets; a fresh Error is neither.
        let _ = js_sys::Reflect::set(
            &err,
            &JsValue::from_str("code"),
            &JsValue::from_str(self.code),
        );
        if let Some(field) = self.field {
            let _ =
                js_sys::Reflect::set(&err, &JsValue::from_str("field"), &JsValue::from_str(field));
        }
        err.into()
    }
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for BindingError {}

#[cfg(test)]
mod tests {
    use super::codes;

    #[test]
    fn every_code_constant_is_listed_once() {
        let consts: Vec<&str> = include_str!("error.rs")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub const "))
            .filter_map(|l| l.split_once(": &str = \""))
            .map(|(name, _)| name)
            .collect();
        assert_eq!(consts.len(), codes::OWN.len(), "{consts:?}");
        for name in consts {
            assert!(codes::OWN.contains(&name), "{name} missing from codes::OWN");
        }
        let mut all: Vec<&str> = codes::all().collect();
        let listed = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), listed, "a code is listed twice");
    }
}
