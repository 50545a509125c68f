#![no_main]

// Thin on purpose: the logic lives in hookgate::verify::fuzz_logic, which the stable
// test suite also runs over fuzz/corpus/aws_sns_message.
libfuzzer_sys::fuzz_target!(|data: &[u8]| hookgate::verify::fuzz_logic::aws_sns_message(data));
