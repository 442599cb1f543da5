#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wxpay_fuzz::v3_bill(data));
