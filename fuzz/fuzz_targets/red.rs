//! Fuzz target: `xcord_sfu::fuzzing::red` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xcord_sfu::fuzzing::red(data));
