//! Post-filters pinned to `hp_postfilter_vectors.raw` (330 frames, each with the filter state the
//! reference had before it) and `harm_postfilter_vectors.raw` (the 110 packets in order, state
//! carried by the filter itself). Layouts: mlow.md §4.

extern crate std;

use super::*;
use crate::mlow::test_vectors::{Raw, raw, report};

/// One 16-bit output step.
const LSB: f32 = 1.0 / 32768.0;

#[test]
fn hp_postfilter_matches_reference_frames() {
    const T: &str = "hp_postfilter_matches_reference_frames";
    let Some(bytes) = raw(T, "mlow/hp_postfilter_vectors.raw") else {
        return;
    };
    let mut r = Raw::new(&bytes);
    let count = r.i32();
    assert_eq!(count, 330);
    let (mut worst, mut crossfades, mut voiced, mut pcm_diffs) = (0.0f32, 0, 0, 0usize);
    for _ in 0..count {
        let _packet = r.i32();
        let _frame = r.i32();
        let lags: [f32; 8] = r.f32s();
        let mut pf = HpPostfilter::new();
        pf.deemph = r.f32();
        pf.preemph = r.f32();
        pf.comb = r.f32s();
        pf.lag_old = r.f32();
        pf.x_old = r.f32s();
        pf.ma = r.f32s();
        pf.ar = r.f32s();
        let mut frame: [f32; FRAME_LEN] = r.f32s();
        let want: [f32; FRAME_LEN] = r.f32s();

        let lag = HpPostfilter::frame_lag(lags[0] > 0.0, &lags);
        voiced += usize::from(lag > 0.0);
        let old = pf.lag_old;
        crossfades += usize::from(old >= 0.0 && (lag > 1.25 * old || 1.25 * lag < old));
        pf.process(lag, &mut frame);
        for (o, w) in frame.iter().zip(&want) {
            worst = worst.max((o - w).abs());
            let pcm = |v: f32| libm::roundf(v * 32768.0);
            pcm_diffs += usize::from(pcm(*o) != pcm(*w));
        }
    }
    assert!(r.done());
    report(T, "max |out - reference|", worst);
    std::eprintln!(
        "{T}: {voiced} voiced frames, {crossfades} cross-faded, {pcm_diffs} of {} samples differ \
         after rounding to 16 bits",
        count as usize * FRAME_LEN
    );
    assert!(voiced > 100 && crossfades > 0);
    assert!(worst < LSB, "HP post-filter off by {worst:e}");
}

#[test]
fn harmonic_postfilter_matches_reference_stream() {
    const T: &str = "harmonic_postfilter_matches_reference_stream";
    let Some(bytes) = raw(T, "mlow/harm_postfilter_vectors.raw") else {
        return;
    };
    let mut r = Raw::new(&bytes);
    let count = r.i32();
    assert_eq!(count, 110);
    let mut pf = HarmonicPostfilter::new();
    let (mut worst_steady, mut worst_transition) = (0.0f32, 0.0f32);
    for _ in 0..count {
        let _packet = r.i32();
        let len = r.i32() as usize;
        let n_lags = r.i32() as usize;
        assert_eq!((len, n_lags), (960, 24));
        let nbr = r.f32();
        let lags = r.f32_vec(n_lags);
        let mut packet = r.f32_vec(len);
        let want = r.f32_vec(len);
        pf.process(&mut packet, &lags, nbr);
        // A silent packet right after a voiced one carries the previous kernel's ringing in its
        // first HARMONIC_DELAY samples; the reference's fast-math rounding shows most there.
        let transition = lags[0] == 0.0;
        for (i, (o, w)) in packet.iter().zip(&want).enumerate() {
            let err = (o - w).abs();
            if transition && i < HARMONIC_DELAY {
                worst_transition = worst_transition.max(err);
            } else {
                worst_steady = worst_steady.max(err);
            }
        }
    }
    assert!(r.done());
    report(T, "max |out - reference| steady", worst_steady);
    report(T, "max |out - reference| transitions", worst_transition);
    assert!(worst_steady < LSB, "steady state off by {worst_steady:e}");
    // The issue allows 6e-4 there; the transitions meet the steady-state bound as well.
    assert!(
        worst_transition < LSB,
        "transitions off by {worst_transition:e}"
    );
}

/// Partial and odd-sized packets never index out of bounds.
#[test]
fn harmonic_postfilter_odd_sizes() {
    let mut pf = HarmonicPostfilter::new();
    for (len, lag) in [
        (0, 100.0),
        (39, 32.0),
        (160, 320.0),
        (1960, 57.5),
        (320, f32::NAN),
    ] {
        let mut packet = std::vec![0.25f32; len];
        pf.process(&mut packet, &[lag, 1e9, -3.0], 0.5);
        assert!(packet.iter().all(|x| x.is_finite()));
    }
}
