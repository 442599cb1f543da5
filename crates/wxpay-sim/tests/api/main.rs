//! Integration tests: a real HTTP client against the simulator on port 0, requests signed
//! and responses verified with `wxpay-core`.

mod bill;
mod client;
mod common;
mod control;
mod login;
mod mode_one;
mod notify;
mod pages;
mod stricter;
mod v2;
mod v3;
