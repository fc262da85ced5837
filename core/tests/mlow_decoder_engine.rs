//! The MLow decoder as the engine uses it: behind the playout's `Decoder` trait, fed by the
//! jitter buffer with every fifth packet missing and one refused (a 10 ms packet), and without a
//! heap allocation in steady state.

use wacall_core::media::jitter::JitterBuffer;
use wacall_core::media::playout::{Playout, TICK_16K};
use wacall_core::mlow::Decoder;
use wacall_core::time::Instant;
use wacall_testkit::alloc_counter::{self, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const T: &str = "mlow_decoder_engine";

fn packets() -> Option<Vec<Vec<u8>>> {
    wacall_testkit::shared_hex_array(T, "mlow/inbound_capture_frames.json")
}

#[test]
fn playout_with_mlow_decoder() {
    let Some(mut packets) = packets() else {
        return;
    };
    // Packet 7 arrives as a 10 ms packet the parameter layer does not support.
    packets[7][0] &= !0x18;
    let mut playout = Box::new(Playout::new(JitterBuffer::<32, 512>::default()));
    let mut dec = Box::new(Decoder::new());
    let mut out = [0i16; TICK_16K];
    let mut heard = Vec::with_capacity(packets.len() * 960 + 40 * TICK_16K);
    let ticks = packets.len() as u64 * 3 + 20;
    let (_, stats) = alloc_counter::count(|| {
        for tick in 0..ticks {
            let now = Instant::from_millis(tick * 20);
            if tick % 3 == 0 {
                let k = (tick / 3) as usize;
                if k < packets.len() && k % 5 != 4 {
                    let samples = if k == 7 {
                        960
                    } else {
                        Decoder::packet_samples(&packets[k]).unwrap()
                    };
                    playout
                        .jitter()
                        .insert(now, k as u16, (k as u32) * 960, samples as u32, &packets[k])
                        .unwrap();
                }
            }
            playout.tick(now, &mut *dec, &mut out);
            heard.extend_from_slice(&out);
        }
    });
    assert_eq!(stats.allocations(), 0, "{stats:?}");
    let p = *playout.stats();
    let d = dec.stats();
    eprintln!("{T}: playout {p:?}; decoder {d:?}");
    assert_eq!(p.decode_errors, 1);
    assert_eq!(d.unsupported_packets, 1);
    assert!(
        p.decoded_16k >= 80 * 960 && p.concealed_16k() >= 20 * 960,
        "{p:?}"
    );
    assert!(d.concealed_samples >= 22 * 960, "{d:?}");
    // Audio came out, and it is speech-level, not silence or clipping.
    let rms =
        (heard.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / heard.len() as f64).sqrt();
    assert!(rms > 1000.0 && rms < 8000.0, "rms {rms}");
}
