//! Arbitrary bytes as an MLow payload: parameter decode must never panic, must leave frames
//! behind exactly when it reports success, and whatever it accepts must re-encode to a packet
//! that decodes to the same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::mlow::params::{EndpointRule, PacketParams, decode_packet, encode_packet};

fuzz_target!(|data: &[u8]| {
    let mut params = PacketParams::new();
    let mut again = PacketParams::new();
    let mut buf = [0u8; 1024];
    for rule in [EndpointRule::Reference, EndpointRule::Lenient] {
        match decode_packet(data, rule, &mut params) {
            Ok(()) => {
                assert!(!params.frames().is_empty());
                if params.toc.fec() {
                    continue; // the FEC copy is not kept, so it cannot be re-encoded
                }
                let n = encode_packet(&params, &mut buf).expect("decoded parameters re-encode");
                decode_packet(&buf[..n], EndpointRule::Reference, &mut again)
                    .expect("re-encoded packet decodes");
                assert_eq!(params.frames(), again.frames());
            }
            Err(_) => assert!(params.frames().is_empty()),
        }
    }
});
