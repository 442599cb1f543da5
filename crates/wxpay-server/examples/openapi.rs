//! Prints the server's OpenAPI document (what `GET /openapi.json` serves) on stdout.
//!
//! The client package's API types (`js/src/core/server-api.ts`) are generated from this
//! document by `js/tools/openapi-ts.mjs`, and `scripts/test-client.sh` fails when the two
//! disagree. An example rather than a running server: no port, no network, no configuration.
//!
//! `cargo run -q -p wxpay-server --example openapi > openapi.json`

fn main() {
    println!("{:#}", wxpay_server::api::openapi::openapi());
}
