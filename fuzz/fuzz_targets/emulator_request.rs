//! Fuzz target: scripts of HTTP requests (raw, or signed with the fuzz keys) against a fresh
//! in-process SWAS emulator. The body lives in `swas_image_operator::fuzzing` so that
//! `tests/fuzz_corpus.rs` replays the corpus on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = swas_image_operator::fuzzing::emulator_request(data);
});
