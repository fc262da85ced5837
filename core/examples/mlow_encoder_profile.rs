//! Callgrind driver for the MLow encoder: encodes the first N packets (argument, default 110) of
//! the shared `synth_mic.raw` with DTX off. Instructions per packet are the difference of two runs
//! divided by the difference in N, which cancels set-up:
//!
//! ```sh
//! cargo build --release -p wacall-core --example mlow_encoder_profile
//! valgrind --tool=callgrind target/release/examples/mlow_encoder_profile 10
//! valgrind --tool=callgrind target/release/examples/mlow_encoder_profile 110
//! ```

use wacall_core::mlow::analysis::PACKET_LEN;
use wacall_core::mlow::encoder::{Config, Encoder, MAX_PACKET_BYTES};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(110, |a| a.parse().expect("packet count"));
    let packets: Vec<[i16; PACKET_LEN]> =
        wacall_testkit::shared_pcm_blocks("mlow_encoder_profile", "mlow/synth_mic.raw")
            .expect("synth_mic.raw");
    let mut encoder = Box::new(Encoder::new(Config {
        dtx: false,
        ..Config::default()
    }));
    let mut buf = [0u8; MAX_PACKET_BYTES];
    let mut total = 0;
    for pcm in packets.iter().take(n) {
        total += encoder.encode(pcm, &mut buf).expect("encode");
    }
    println!("{n} packets, {total} bytes");
}
