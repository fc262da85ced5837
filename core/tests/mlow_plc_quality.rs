//! Packet-loss concealment of the MLow decoder, scored with wideband PESQ (P.862.2) against the
//! loss-free decode of the same packets: the reference stream `inbound_capture_frames.json`
//! (110 packets of 60 ms), with packets dropped at random (5, 10, 20 %) and in bursts of two.
//! Next to our concealment, the two naive answers: insert silence, or repeat the last decoded
//! packet (both with a decoder that simply never sees the lost packets).
//!
//! The thresholds are set from the measured figures (printed by the test) with a small margin,
//! so that a regression of the concealment fails; and concealment must beat both naive answers.

use wacall_core::mlow::Decoder;

#[path = "support/plc.rs"]
mod plc;
use plc::{PACKET, score};

const T: &str = "mlow_plc_quality";

fn packets() -> Option<Vec<Vec<u8>>> {
    wacall_testkit::shared_hex_array(T, "mlow/inbound_capture_frames.json")
}

/// Deterministic loss pattern: each packet lost with probability `rate` (xorshift), or, with
/// `burst`, runs of two packets starting with probability `rate / 2`.
fn pattern(n: usize, rate: f64, burst: bool, mut seed: u64) -> Vec<bool> {
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut lost = vec![false; n];
    let mut k = 1; // the first packet always arrives
    while k < n {
        if burst {
            if next() < rate / 2.0 {
                lost[k] = true;
                if k + 1 < n {
                    lost[k + 1] = true;
                }
                k += 2;
                continue;
            }
        } else {
            lost[k] = next() < rate;
        }
        k += 1;
    }
    lost
}

#[test]
fn concealment_beats_silence_and_repetition() {
    let Some(packets) = packets() else {
        return;
    };
    let mut dec = Decoder::new();
    let mut clean = Vec::new();
    let mut pcm = [0i16; PACKET];
    for p in &packets {
        dec.decode(p, &mut pcm).expect("decodes");
        clean.extend_from_slice(&pcm);
    }
    // (loss rate, bursts, minimum PESQ-WB of the concealment: measured 4.345, 3.556, 2.510,
    // 4.133, less 0.05)
    let cases = [
        (0.05, false, 4.30),
        (0.10, false, 3.50),
        (0.20, false, 2.46),
        (0.10, true, 4.08),
    ];
    for (rate, burst, floor) in cases {
        let lost = pattern(packets.len(), rate, burst, 0x9e37_79b9_7f4a_7c15);
        let o = score(&packets, &clean, &lost);
        eprintln!(
            "{T}: {:>3.0} % {} ({} of {} lost): PESQ-WB concealment {:.3}, silence {:.3}, \
             repetition {:.3}",
            rate * 100.0,
            if burst { "bursts of 2" } else { "random     " },
            lost.iter().filter(|&&l| l).count(),
            packets.len(),
            o.plc,
            o.silence,
            o.repeat
        );
        assert!(
            o.plc > o.silence && o.plc > o.repeat,
            "concealment must beat silence and repetition"
        );
        assert!(o.plc >= floor, "concealment {} below {floor}", o.plc);
    }
}
