//! A callgrind driver for the MLow decoder: decodes the shared inbound stream (110 packets of
//! 60 ms) `N` times (first argument, default 1). Instructions per packet are the difference of
//! two runs with different `N` divided by the extra packets, which cancels the setup:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/mlow_decode_profile 1
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/mlow_decode_profile 11
//! ```
//!
//! A second argument `params` decodes only the parameters (the baseline).

use std::hint::black_box;
use wacall_core::mlow::Decoder;
use wacall_core::mlow::params::{EndpointRule, PacketParams, decode_packet};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let params_only = args.next().as_deref() == Some("params");
    let Some(packets) =
        wacall_testkit::shared_hex_array("mlow profile", "mlow/inbound_capture_frames.json")
    else {
        return;
    };
    let mut dec = Box::new(Decoder::new());
    let mut params = PacketParams::new();
    let mut pcm = [0i16; 960];
    let mut acc = 0i64;
    for _ in 0..rounds {
        for p in &packets {
            if params_only {
                decode_packet(black_box(p), EndpointRule::Reference, &mut params).unwrap();
                acc += params.consumed_bytes as i64;
            } else {
                dec.decode(black_box(p), &mut pcm).unwrap();
                acc += i64::from(pcm[0]);
            }
        }
    }
    println!("{acc}");
}
