//! API tests: one binary; every test gets a fresh SQLite file in a temp dir and a fresh
//! `wxpay-sim` on port 0 (a real HTTP server with a generated test universe). No mocks.

mod helpers;

mod abuse;
mod access;
mod admin_refunds;
mod channels;
mod frontend_api;
mod housekeeping;
mod ledger;
mod lifecycle;
mod notifications;
mod recovery;
mod refund_retries;
mod sim_init;
mod start_up;
mod upstream;
mod v2;
