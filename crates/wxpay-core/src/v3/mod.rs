//! API v3 (JSON over HTTPS, RSA-signed).
pub mod aead;
pub mod authorization;
pub mod bill;
pub mod certificates;
pub mod models;
pub mod notification;
pub mod oaep;
pub mod paths;
pub mod verify;
