//! Secrets that must never reach a log line, an error body or a `Debug` dump.
//!
//! The merchant private key, the APIv3 key, the APIv2 key, app secrets, the admin token and
//! users' `session_key`s all pass through [`Secret`]. Its `Debug` and `Display` print a
//! fixed placeholder, so `tracing::debug!(?settings)` is safe. The only way to the value is
//! [`Secret::expose`], which makes every use greppable. The value is wiped from memory when
//! the `Secret` is dropped ([`Zeroizing`]), so a loaded key file or a `session_key` does not
//! linger in freed memory.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A value that is redacted wherever it is printed and wiped when dropped.
#[derive(Clone, Default)]
pub struct Secret<T: Zeroize>(Zeroizing<T>);

impl<T: Zeroize> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The wrapped value. Call sites are the audit trail of where secrets are used.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl Secret<String> {
    /// Constant-time equality, for comparing a presented secret with a stored one.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl<T: Zeroize> ZeroizeOnDrop for Secret<T> {}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de, T: Deserialize<'de> + Zeroize> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret::new)
    }
}

/// Where a secret comes from in the configuration: inline (tests, env), a file, or an
/// environment variable. Files are the recommended form for keys (`apiclient_key.pem`).
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    /// `{ file = "/etc/wxpay/apiclient_key.pem" }`
    File {
        /// Path of the file holding the secret (trailing whitespace is trimmed).
        file: PathBuf,
    },
    /// `{ env = "WXPAY_APIV3_KEY" }`
    Env {
        /// Name of the environment variable holding the secret.
        env: String,
    },
    /// The value itself (fine for the generated test universe; avoid for real keys).
    Inline(Secret<String>),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { file } => write!(f, "SecretSource::File({})", file.display()),
            Self::Env { env } => write!(f, "SecretSource::Env({env})"),
            Self::Inline(_) => f.write_str("SecretSource::Inline([REDACTED])"),
        }
    }
}

/// A secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("cannot read secret file {path}")]
    File {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The environment variable is not set or not UTF-8.
    #[error("environment variable {0} is not set")]
    Env(String),
}

impl SecretSource {
    /// Reads the secret. File contents keep interior newlines (PEM) and lose trailing ones.
    pub fn load(&self) -> Result<Secret<String>, SecretError> {
        match self {
            Self::File { file } => read_file(file),
            Self::Env { env } => std::env::var(env)
                .map(|v| Secret::new(v.trim_end().to_owned()))
                .map_err(|_| SecretError::Env(env.clone())),
            Self::Inline(value) => Ok(value.clone()),
        }
    }
}

fn read_file(path: &Path) -> Result<Secret<String>, SecretError> {
    std::fs::read_to_string(path)
        .map(|text| Secret::new(text.trim_end().to_owned()))
        .map_err(|source| SecretError::File {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2-apiv3-key".to_owned());
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
        let source = SecretSource::Inline(secret.clone());
        assert!(!format!("{source:?}").contains("hunter2"));
        assert!(secret.ct_eq("hunter2-apiv3-key"));
        assert!(!secret.ct_eq("hunter2-apiv3-kez"));
    }

    /// Only compiles for types that wipe their secret on drop.
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn secrets_are_wiped_on_drop() {
        wiped_on_drop::<Secret<String>>();
        wiped_on_drop::<crate::admin_token::AdminToken>();
        wiped_on_drop::<wxpay_core::v2::sign::ApiV2Key>();
        wiped_on_drop::<wxpay_core::v3::aead::ApiV3Key>();
    }

    #[test]
    fn loads_from_file_and_reports_missing_env() {
        let dir = std::env::temp_dir().join(format!("wxpay-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("k.pem");
        std::fs::write(&path, "line1\nline2\n\n").expect("write");
        let loaded = SecretSource::File { file: path }.load().expect("load");
        assert_eq!(loaded.expose(), "line1\nline2");
        let missing = SecretSource::Env {
            env: "WXPAY_TEST_SURELY_UNSET_VARIABLE".into(),
        }
        .load();
        assert!(matches!(missing, Err(SecretError::Env(_))));
    }
}
