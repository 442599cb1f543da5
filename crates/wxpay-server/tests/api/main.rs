//! API tests: one binary; every test gets a fresh SQLite file in a temp dir and a fresh
//! `wxpay-sim` on port 0 (a real HTTP server with a generated test universe). No mocks.

mod helpers;
mod log_capture;
#[path = "../support/process.rs"]
mod process;
#[path = "../support/wait.rs"]
mod wait;

mod abuse;
mod access;
mod admin_refunds;
mod channels;
mod crash_recovery;
mod faults;
mod frontend_api;
mod housekeeping;
mod jssdk;
mod ledger;
mod lifecycle;
mod login;
mod notifications;
mod operations;
mod paid_after_close;
mod public_url;
mod reconcile;
mod recovery;
mod refund_idempotency;
mod refund_retries;
mod secrets;
mod sim_init;
mod start_up;
mod unsigned_errors;
mod upstream;
mod v2;
mod v2_refund_notification;
