//! Fuzz target: `xcord_sfu::fuzzing::twirp_request` on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xcord_sfu::fuzzing::twirp_request(data));
