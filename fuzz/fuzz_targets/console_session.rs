#![no_main]

// Thin on purpose: the logic lives in hookgate::http::fuzz_logic, which the stable test
// suite also runs over fuzz/corpus/console_session.
libfuzzer_sys::fuzz_target!(|data: &[u8]| hookgate::http::fuzz_logic::console_session(data));
