//! Fuzz target: `xcord_control::gateway::fuzz_frame` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xcord_control::gateway::fuzz_frame(data));
