//! Errors of the invocation builders and validators.
//!
//! Validator errors name the surface and the exact field, because the person reading them is
//! a developer staring at a payment sheet that did not open: "found `timestamp`, expected
//! `timeStamp` for wx.requestPayment" saves the hour that "parameter error" costs.

use crate::ids::IdError;
use crate::invoke::Surface;
use crate::signer::SignError;

/// What is wrong with the value of one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// The value is an empty string.
    #[error("is empty")]
    Empty,
    /// A timestamp is not 10 decimal digits of Unix seconds.
    #[error("must be 10 decimal digits of Unix seconds, got {value:?}")]
    Timestamp {
        /// The value as received (or formatted from the number given).
        value: String,
    },
    /// `nonceStr` is longer than WeChat's 32 characters.
    #[error("is {len} characters long; WeChat allows at most 32")]
    NonceTooLong {
        /// Its length in characters.
        len: usize,
    },
    /// A character outside the allowed set.
    #[error("contains {ch:?} at position {pos}; allowed: {allowed}")]
    Character {
        /// The offending character.
        ch: char,
        /// Its position in characters.
        pos: usize,
        /// The allowed set, for the message.
        allowed: &'static str,
    },
    /// A JSAPI `package` that is not `prepay_id=<id>`.
    #[error("must be \"prepay_id=<prepay id>\", got {value:?}")]
    PackageFormat {
        /// The value received.
        value: String,
    },
    /// An APP `package` that is not the fixed `Sign=WXPay`.
    #[error("must be exactly \"Sign=WXPay\", got {value:?}")]
    AppPackage {
        /// The value received.
        value: String,
    },
    /// `signType` is not one of `RSA`, `MD5`, `HMAC-SHA256` (case-sensitive).
    #[error("must be one of RSA, MD5, HMAC-SHA256 (case-sensitive), got {value:?}")]
    SignType {
        /// The value received.
        value: String,
    },
    /// An RSA signature that is not standard padded Base64.
    #[error("must be standard Base64 (RSA signature): {reason}")]
    NotBase64 {
        /// What the decoder objected to.
        reason: String,
    },
    /// An RSA signature of the wrong size (WeChat Pay merchant keys are RSA-2048).
    #[error("decodes to {found} bytes; an RSA-2048 signature has {expected}")]
    SignatureBytes {
        /// Expected byte count.
        expected: usize,
        /// Decoded byte count.
        found: usize,
    },
    /// A v2 signature that is not hex of the length its algorithm produces.
    #[error("must be {expected} hex characters for {sign_type}, got {found:?}")]
    HexSignature {
        /// The signature type it was checked against.
        sign_type: &'static str,
        /// Required number of hex digits (32 for MD5, 64 for HMAC-SHA256).
        expected: usize,
        /// The value received.
        found: String,
    },
    /// An id (appid, mchid, prepay id) breaks WeChat's rule for it.
    #[error(transparent)]
    Id(#[from] IdError),
    /// uni-app `provider` is not `wxpay`.
    #[error("must be \"wxpay\" for WeChat Pay, got {value:?}")]
    Provider {
        /// The value received.
        value: String,
    },
    /// `orderInfo` was a string that does not hold a JSON object.
    #[error("is a string but not a JSON object: {reason}")]
    NotJsonObject {
        /// The parser's complaint.
        reason: String,
    },
    /// A product id (v2 Native mode one) is longer than 32 characters.
    #[error("is {len} characters long; WeChat allows at most {max}")]
    TooLong {
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// What is wrong with a URL (`h5_url`, `redirect_url`, `code_url`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    /// Not an absolute URL with a scheme.
    #[error("is not an absolute URL: {value:?}")]
    NotAbsolute {
        /// The value received.
        value: String,
    },
    /// The scheme is not one this field allows.
    #[error("has scheme {found:?}; expected {expected}")]
    Scheme {
        /// The scheme found (lower-cased).
        found: String,
        /// The allowed scheme(s), for the message.
        expected: &'static str,
    },
    /// No host after `//`.
    #[error("has no host")]
    NoHost,
    /// Credentials in the URL (`user@host`): a classic way to disguise the real host.
    #[error("contains user info ('@' before the host)")]
    UserInfo,
    /// The host is not one of WeChat's cashier hosts (or the configured simulator hosts).
    #[error("host {host:?} is not an allowed WeChat Pay cashier host")]
    HostNotAllowed {
        /// The host (and port, if any) found.
        host: String,
    },
    /// Whitespace or a control character, which no URL WeChat returns contains.
    #[error("contains whitespace or a control character at byte {at}")]
    Whitespace {
        /// Byte offset.
        at: usize,
    },
    /// The `h5_url` already carries a `redirect_url`; appending a second one is ambiguous.
    #[error("already contains a redirect_url parameter")]
    RedirectAlreadyPresent,
    /// The value is empty.
    #[error("is empty")]
    Empty,
    /// A signed v2 mode-one product URL with a missing, repeated or malformed field. Its sign
    /// can only be checked with the API v2 key, on the server.
    #[error("{0}")]
    ModeOne(#[source] crate::invoke::ModeOneUrlError),
}

/// A bundle received from the merchant server does not fit the target surface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The value is not a JSON object (or, for uni-app `orderInfo`, a JSON string of one).
    #[error("{surface} expects a JSON object, found {found}")]
    NotAnObject {
        /// Target surface.
        surface: Surface,
        /// The JSON type found.
        found: &'static str,
    },
    /// A required field is absent and nothing with a similar name is present.
    #[error("missing `{field}` for {surface}")]
    MissingField {
        /// Target surface.
        surface: Surface,
        /// The field WeChat requires.
        field: &'static str,
    },
    /// A required field is absent but a look-alike is present: the casing mix-ups
    /// (`timestamp`/`timeStamp`, `appid`/`appId`, `noncestr`/`nonceStr`) and the
    /// `sign`/`paySign` swap between APP and JSAPI bundles.
    #[error("found `{found}`, expected `{expected}` for {surface}")]
    MisnamedField {
        /// Target surface.
        surface: Surface,
        /// The key present in the object.
        found: String,
        /// The key this surface requires.
        expected: &'static str,
    },
    /// A field has the wrong JSON type (a number `timeStamp` makes WeChat answer
    /// "parameter.timeStamp should be String").
    #[error("`{field}` must be a {expected} for {surface}, found {found}")]
    WrongType {
        /// Target surface.
        surface: Surface,
        /// The field.
        field: &'static str,
        /// The JSON type required.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A field is present with the right type but an invalid value.
    #[error("`{field}` {problem} (for {surface})")]
    InvalidField {
        /// Target surface.
        surface: Surface,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        problem: FieldProblem,
    },
    /// A URL field is unusable.
    #[error("`{field}` {problem} (for {surface})")]
    InvalidUrl {
        /// Target surface.
        surface: Surface,
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        problem: UrlProblem,
    },
}

impl InvokeError {
    /// Every value [`Self::code`] can return, for bindings that publish their code list.
    pub const CODES: [&'static str; 6] = [
        "NOT_AN_OBJECT",
        "MISSING_FIELD",
        "MISNAMED_FIELD",
        "WRONG_TYPE",
        "INVALID_FIELD",
        "INVALID_URL",
    ];

    /// A stable machine-readable code, mapped to the JS `Error.code` by the wasm layer.
    pub fn code(&self) -> &'static str {
        match self {
            InvokeError::NotAnObject { .. } => "NOT_AN_OBJECT",
            InvokeError::MissingField { .. } => "MISSING_FIELD",
            InvokeError::MisnamedField { .. } => "MISNAMED_FIELD",
            InvokeError::WrongType { .. } => "WRONG_TYPE",
            InvokeError::InvalidField { .. } => "INVALID_FIELD",
            InvokeError::InvalidUrl { .. } => "INVALID_URL",
        }
    }

    /// The surface the bundle was checked against.
    pub fn surface(&self) -> Surface {
        match self {
            InvokeError::NotAnObject { surface, .. }
            | InvokeError::MissingField { surface, .. }
            | InvokeError::MisnamedField { surface, .. }
            | InvokeError::WrongType { surface, .. }
            | InvokeError::InvalidField { surface, .. }
            | InvokeError::InvalidUrl { surface, .. } => *surface,
        }
    }

    /// The field the error is about (the expected name), if it concerns one field.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            InvokeError::NotAnObject { .. } => None,
            InvokeError::MissingField { field, .. }
            | InvokeError::WrongType { field, .. }
            | InvokeError::InvalidField { field, .. }
            | InvokeError::InvalidUrl { field, .. } => Some(field),
            InvokeError::MisnamedField { expected, .. } => Some(expected),
        }
    }
}

/// A server-side builder could not produce a bundle.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// An input value (timestamp, nonce, product id) breaks WeChat's rule.
    #[error("`{field}` {problem}")]
    InvalidField {
        /// The wire name of the field.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        problem: FieldProblem,
    },
    /// The signer failed (HSM, key store).
    #[error("signing the invocation parameters failed")]
    Sign(#[source] SignError),
}

impl From<SignError> for BuildError {
    fn from(e: SignError) -> Self {
        BuildError::Sign(e)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn codes_lists_every_variants_code() {
        let surface = Surface::MiniProgram;
        let samples = [
            InvokeError::NotAnObject {
                surface,
                found: "array",
            },
            InvokeError::MissingField {
                surface,
                field: "paySign",
            },
            InvokeError::MisnamedField {
                surface,
                found: "timestamp".into(),
                expected: "timeStamp",
            },
            InvokeError::WrongType {
                surface,
                field: "timeStamp",
                expected: "string",
                found: "number",
            },
            InvokeError::InvalidField {
                surface,
                field: "nonceStr",
                problem: FieldProblem::Empty,
            },
            InvokeError::InvalidUrl {
                surface,
                field: "h5_url",
                problem: UrlProblem::Empty,
            },
        ];
        for e in &samples {
            // Exhaustive on purpose: a new variant fails to compile here until it has a
            // sample above and its code is in `CODES`.
            match e {
                InvokeError::NotAnObject { .. }
                | InvokeError::MissingField { .. }
                | InvokeError::MisnamedField { .. }
                | InvokeError::WrongType { .. }
                | InvokeError::InvalidField { .. }
                | InvokeError::InvalidUrl { .. } => {}
            }
        }
        let codes: Vec<&str> = samples.iter().map(InvokeError::code).collect();
        assert_eq!(codes, InvokeError::CODES);
    }
}
