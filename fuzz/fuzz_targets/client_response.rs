//! Fuzz target: arbitrary bytes as the answer of every SWAS operation, read by the client. The
//! body lives in `swas_image_operator::fuzzing` so that `tests/fuzz_corpus.rs` replays the
//! corpus on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| swas_image_operator::fuzzing::client_response(data));
