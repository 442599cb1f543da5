//! wxpay-wasm: being built.
