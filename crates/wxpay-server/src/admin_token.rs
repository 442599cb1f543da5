//! The configured admin token, kept only as its SHA-256 and compared in constant time, so
//! neither the token's bytes nor its length leak through timing. The HTTP side (which
//! header, rate limits, the answers) is in [`crate::api::admin`].

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::secret::Secret;

/// Fewest characters accepted for `server.admin_token` (a guessable token would hand
/// refunds to anyone).
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// Longest presented token looked at; anything longer cannot match and is not hashed.
const MAX_PRESENTED_CHARS: usize = 512;

/// `server.admin_token` is unusable.
#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    /// Shorter than [`MIN_ADMIN_TOKEN_CHARS`] (after trimming whitespace).
    #[error("server.admin_token must be at least {MIN_ADMIN_TOKEN_CHARS} characters")]
    TooShort,
    /// Longer than the longest token a request may present.
    #[error("server.admin_token must be at most {MAX_PRESENTED_CHARS} characters")]
    TooLong,
    /// Contains characters an HTTP header value cannot carry verbatim.
    #[error("server.admin_token must be printable ASCII without spaces")]
    NotPrintable,
}

/// The configured admin token, kept only as its SHA-256.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl Drop for AdminToken {
    fn drop(&mut self) {
        self.digest.zeroize();
    }
}

impl ZeroizeOnDrop for AdminToken {}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken([REDACTED])")
    }
}

impl AdminToken {
    /// Checks the configured token's shape and keeps its digest.
    pub fn new(token: &Secret<String>) -> Result<Self, AdminTokenError> {
        let value = token.expose().trim();
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AdminTokenError::NotPrintable);
        }
        if value.len() < MIN_ADMIN_TOKEN_CHARS {
            return Err(AdminTokenError::TooShort);
        }
        if value.len() > MAX_PRESENTED_CHARS {
            return Err(AdminTokenError::TooLong);
        }
        Ok(Self {
            digest: Sha256::digest(value.as_bytes()).into(),
        })
    }

    /// Whether `presented` is the configured token (constant time over the digests).
    pub fn matches(&self, presented: &str) -> bool {
        if presented.len() > MAX_PRESENTED_CHARS {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.digest).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> Secret<String> {
        Secret::new(value.to_owned())
    }

    #[test]
    fn matches_only_the_configured_token() {
        let token = AdminToken::new(&secret("0123456789abcdef-admin")).expect("valid");
        assert!(token.matches("0123456789abcdef-admin"));
        assert!(!token.matches("0123456789abcdef-admiN"));
        assert!(!token.matches("0123456789abcdef-admin "));
        assert!(!token.matches(""));
        assert!(!token.matches(&"x".repeat(10_000)));
        assert!(!format!("{token:?}").contains("0123"));
    }

    #[test]
    fn refuses_weak_or_unsendable_tokens() {
        assert!(matches!(
            AdminToken::new(&secret("short")),
            Err(AdminTokenError::TooShort)
        ));
        assert!(matches!(
            AdminToken::new(&secret("has a space inside it")),
            Err(AdminTokenError::NotPrintable)
        ));
        assert!(matches!(
            AdminToken::new(&secret(&"a".repeat(600))),
            Err(AdminTokenError::TooLong)
        ));
        // A file's trailing newline is not part of the token.
        let token = AdminToken::new(&secret("0123456789abcdef\n")).expect("trimmed");
        assert!(token.matches("0123456789abcdef"));
    }
}
