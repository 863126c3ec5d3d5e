//! Fuzz target: arbitrary parameters signed by the client's signer must verify in the
//! emulator's key store, and stop verifying when a value changes. The body lives in
//! `swas_image_operator::fuzzing` so that `tests/fuzz_corpus.rs` replays the corpus on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| swas_image_operator::fuzzing::signing(data));
