#![no_main]

// Thin on purpose: the logic lives in hookgate::verify::fuzz_logic, which the stable
// test suite also runs over fuzz/corpus/paddle_header.
libfuzzer_sys::fuzz_target!(|data: &[u8]| hookgate::verify::fuzz_logic::paddle_header(data));
