//! Errors from configuring, generating and starting the simulator.
//!
//! Request-time failures are not here: those become WeChat-shaped HTTP responses
//! (see `v3::ApiError` and the login errcodes), because that is what a merchant must see.

use std::path::PathBuf;

/// Why the simulator could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML configuration does not parse.
    #[error("configuration: {0}")]
    ConfigSyntax(#[source] toml::de::Error),
    /// The configuration could not be serialised.
    #[error("configuration: {0}")]
    ConfigWrite(#[source] toml::ser::Error),
    /// The configuration parses but is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// Key or certificate material is unusable.
    #[error("key material ({what}): {detail}")]
    Material {
        /// Which material.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Generate(#[source] rcgen::Error),
    /// The listener could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The state file is corrupt.
    #[error("state file {path}: {detail}")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}
