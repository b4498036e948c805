#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gameclips::fuzzing::retry_after(data));
