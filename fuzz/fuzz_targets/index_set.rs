#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| joblite_fuzz::index_set(data));
