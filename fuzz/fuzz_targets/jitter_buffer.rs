//! Arbitrary insert/pop sequences into the jitter buffer: no panic, and its ordering and
//! playout promises hold (asserted inside `wacall_core::media::jitter::fuzzing::run`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wacall_core::media::jitter::fuzzing::run(data));
