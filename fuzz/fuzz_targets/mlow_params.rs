//! Arbitrary bytes as an MLow payload: parameter decode must never panic, and must leave frames
//! behind exactly when it reports success.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::mlow::params::{EndpointRule, PacketParams, decode_packet};

fuzz_target!(|data: &[u8]| {
    let mut params = PacketParams::new();
    for rule in [EndpointRule::Reference, EndpointRule::Lenient] {
        match decode_packet(data, rule, &mut params) {
            Ok(()) => assert!(!params.frames().is_empty()),
            Err(_) => assert!(params.frames().is_empty()),
        }
    }
});
