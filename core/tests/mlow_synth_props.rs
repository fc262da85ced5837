//! Property tests for the MLow synthesis stages: whatever the decoded parameters (including
//! out-of-range indices and lags), a frame sequence stays finite and never panics, given stable
//! LPC coefficients and ACB gains in the codebook's range.

use proptest::prelude::*;
use wacall_core::mlow::postfilter::{FRAME_LEN, HarmonicPostfilter};
use wacall_core::mlow::synth::{LPC_ORDER, LowBand, SUBFRAMES, SynthFrame, packet_bitrate};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A stable order-16 filter: eight resonances with radii and angles drawn by the test.
fn stable_lpc(poles: &[(f64, f64); 8]) -> [f32; LPC_ORDER + 1] {
    let mut a = vec![1.0f64];
    for &(r, w) in poles {
        let mut next = vec![0.0; a.len() + 2];
        for (i, &v) in a.iter().enumerate() {
            next[i] += v;
            next[i + 1] -= 2.0 * r * w.cos() * v;
            next[i + 2] += r * r * v;
        }
        a = next;
    }
    std::array::from_fn(|i| a[i] as f32)
}

#[derive(Clone, Debug)]
struct Frame {
    voiced: bool,
    pulses: Vec<(usize, i8)>,
    fcb: [usize; SUBFRAMES],
    acb: [[i32; 2]; SUBFRAMES],
    lags: [f32; 8],
    dbq: [i32; SUBFRAMES],
    lsf: [[f32; 2]; SUBFRAMES],
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        any::<bool>(),
        prop::collection::vec((0usize..FRAME_LEN, -4i8..=4), 0..80),
        [0usize..200, 0usize..200, 0usize..200, 0usize..200],
        prop::array::uniform4((-4000i32..16384, -4000i32..8000)),
        prop::array::uniform8(prop_oneof![-10.0f32..400.0, Just(f32::NAN), Just(32.5f32)]),
        prop::array::uniform4(-100i32 * 16384..2 * 16384),
        prop::array::uniform4((0.0f32..3.2, 0.0f32..3.2)),
    )
        .prop_map(|(voiced, pulses, fcb, acb, lags, dbq, lsf)| Frame {
            voiced,
            pulses,
            fcb,
            acb: acb.map(|(a, b)| [a, b]),
            lags,
            dbq,
            lsf: lsf.map(|(a, b)| [a, b]),
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn synthesis_stays_finite(
        poles in prop::array::uniform8((0.0f64..0.97, 0.0f64..std::f64::consts::PI)),
        frames in prop::collection::vec(frame(), 1..7),
    ) {
        let lpc = [stable_lpc(&poles); SUBFRAMES];
        let mut band = LowBand::new();
        let mut harmonic = HarmonicPostfilter::new();
        let mut packet = vec![0.0f32; frames.len() * FRAME_LEN];
        let mut lags = vec![0.0f32; frames.len() * 8];
        let mut rates = Vec::new();
        for (k, f) in frames.iter().enumerate() {
            let mut pulses = [0i8; FRAME_LEN];
            for &(at, v) in &f.pulses {
                pulses[at] = pulses[at].saturating_add(v);
            }
            let params = SynthFrame {
                voiced: f.voiced,
                pulses: &pulses,
                fcb_gain_index: f.fcb,
                acb_codebook_q14: f.acb,
                block_lags: f.lags,
                residual_dbq_q14: f.dbq,
                lpc: &lpc,
                lsf_low: f.lsf,
            };
            let out: &mut [f32; FRAME_LEN] =
                (&mut packet[k * FRAME_LEN..(k + 1) * FRAME_LEN]).try_into().unwrap();
            rates.push(band.frame(&params, out));
            if f.voiced {
                lags[k * 8..(k + 1) * 8].copy_from_slice(&f.lags);
            }
        }
        harmonic.process(&mut packet, &lags, packet_bitrate(&rates));
        prop_assert!(packet.iter().all(|x| x.is_finite()));
        prop_assert!(rates.iter().all(|r| (0.0..=1.0).contains(r)));
    }
}
