#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| joblite_fuzz::decode_body(data));
