#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gameclips::fuzzing::service_json(data));
