//! API v3 (JSON over HTTPS, RSA-signed).
