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
    let packets: Vec<[i16; PACKET_LEN]> =
        wacall_testkit::shared_pcm_blocks("mlow_analysis_profile", "mlow/synth_mic.raw")
            .expect("synth_mic.raw");
    let tables = PitchTables::builtin();
    let mut analyser = Analyser::new();
    let mut out = Box::<PacketAnalysis>::default();
    let mut voiced = 0;
    for pcm in packets.iter().take(n) {
        analyser
            .analyse_packet(&tables, pcm, &mut out)
            .expect("consistent tables");
        voiced += out.frames.iter().filter(|f| f.voiced).count();
    }
    println!("{n} packets analysed, {voiced} voiced frames");
}
