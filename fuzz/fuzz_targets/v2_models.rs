#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wxpay_fuzz::v2_models(data));
