//! wxpay-sim: being built.
