//! wxpay-server: being built.
