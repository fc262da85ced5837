//! Callgrind driver for the MLow analysis front end: analyses the first N packets (argument,
//! default 110) of the shared `synth_mic.raw`. Instructions per packet are the difference of two
//! runs divided by the difference in N, which cancels set-up and table expansion:
//!
//! ```sh
//! cargo build --release -p wacall-core --example mlow_analysis_profile
//! valgrind --tool=callgrind target/release/examples/mlow_analysis_profile 10
//! valgrind --tool=callgrind target/release/examples/mlow_analysis_profile 110
//! ```

use wacall_core::mlow::analysis::PACKET_LEN;
use wacall_core::mlow::analysis::analyser::{Analyser, PacketAnalysis};
use wacall_core::mlow::analysis::pitch::PitchTables;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(110, |a| a.parse().expect("packet count"));
    let path = wacall_testkit::shared_file("mlow_analysis_profile", "mlow/synth_mic.raw")
        .expect("synth_mic.raw");
    let bytes = std::fs::read(path).expect("readable synth_mic.raw");
    let tables = PitchTables::builtin();
    let mut analyser = Analyser::new();
    let mut out = Box::<PacketAnalysis>::default();
    let mut voiced = 0;
    for c in bytes.chunks_exact(2 * PACKET_LEN).take(n) {
        let pcm: [i16; PACKET_LEN] =
            std::array::from_fn(|i| i16::from_le_bytes([c[2 * i], c[2 * i + 1]]));
        analyser
            .analyse_packet(&tables, &pcm, &mut out)
            .expect("consistent tables");
        voiced += out.frames.iter().filter(|f| f.voiced).count();
    }
    println!("{n} packets analysed, {voiced} voiced frames");
}
