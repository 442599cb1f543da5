#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wxpay_fuzz::ids_and_amounts(data));
