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
    let path = wacall_testkit::shared_file("mlow_encoder_profile", "mlow/synth_mic.raw")
        .expect("synth_mic.raw");
    let bytes = std::fs::read(path).expect("readable synth_mic.raw");
    let mut encoder = Box::new(Encoder::new(Config {
        dtx: false,
        ..Config::default()
    }));
    let mut buf = [0u8; MAX_PACKET_BYTES];
    let mut total = 0;
    for chunk in bytes.chunks_exact(2 * PACKET_LEN).take(n) {
        let pcm: Vec<i16> = chunk
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        total += encoder.encode(&pcm, &mut buf).expect("encode");
    }
    println!("{n} packets, {total} bytes");
}
