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

/// Everything after LPC synthesis, chained with our own carried state from a fresh decoder over
/// the whole 110-packet stream: per frame the HP filter on the reference's LPC output
/// (`hp_postfilter_vectors.raw` `y_pre`), per packet the harmonic filter (lags and bitrate from
/// `harm_postfilter_vectors.raw`), then [`to_pcm16`]; against the reference decoder's PCM
/// `ref_usesmpl_expected.raw`.
#[test]
fn post_chain_matches_reference_pcm() {
    use crate::mlow::synth::to_pcm16;
    const T: &str = "post_chain_matches_reference_pcm";
    let (Some(hp_bytes), Some(harm_bytes), Some(pcm_bytes)) = (
        raw(T, "mlow/hp_postfilter_vectors.raw"),
        raw(T, "mlow/harm_postfilter_vectors.raw"),
        raw(T, "mlow/ref_usesmpl_expected.raw"),
    ) else {
        return;
    };
    let reference: std::vec::Vec<i16> = pcm_bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(reference.len(), 110 * 960);

    let (mut hp_r, mut harm_r) = (Raw::new(&hp_bytes), Raw::new(&harm_bytes));
    assert_eq!((hp_r.i32(), harm_r.i32()), (330, 110));
    let (mut hp, mut harmonic) = (HpPostfilter::new(), HarmonicPostfilter::new());
    let (mut mismatches, mut worst_lsb, mut worst_float) = (0usize, 0i32, 0.0f32);
    let (mut sxy, mut sxx, mut syy) = (0.0f64, 0.0f64, 0.0f64);
    let mut snrs = std::vec::Vec::new();
    for k in 0..110 {
        // The HP frames of packet k, from the reference's LPC output, with our own state.
        let mut packet = [0.0f32; 960];
        for f in 0..3 {
            assert_eq!((hp_r.i32(), hp_r.i32()), (k, f));
            let lags: [f32; 8] = hp_r.f32s();
            let state_in = hp_r.f32_vec(2 + 4 + 1 + FRAME_LEN + 6);
            if k == 0 && f == 0 {
                // The stream starts from a fresh decoder (lag_old = −1, all else zero).
                assert!(
                    state_in
                        .iter()
                        .enumerate()
                        .all(|(i, v)| *v == if i == 6 { -1.0 } else { 0.0 })
                );
            }
            let mut frame: [f32; FRAME_LEN] = hp_r.f32s();
            hp_r.f32_vec(FRAME_LEN);
            hp.process(HpPostfilter::frame_lag(lags[0] > 0.0, &lags), &mut frame);
            packet[f as usize * FRAME_LEN..(f as usize + 1) * FRAME_LEN].copy_from_slice(&frame);
        }
        assert_eq!(harm_r.i32(), k);
        let (len, n_lags) = (harm_r.i32() as usize, harm_r.i32() as usize);
        let bitrate = harm_r.f32();
        let lags = harm_r.f32_vec(n_lags);
        harm_r.f32_vec(len);
        let want_float = harm_r.f32_vec(len);
        harmonic.process(&mut packet, &lags, bitrate);
        for (o, w) in packet.iter().zip(&want_float) {
            worst_float = worst_float.max((o - w).abs());
        }

        let mut pcm = [0i16; 960];
        to_pcm16(&packet, &mut pcm);
        let want = &reference[k as usize * 960..(k as usize + 1) * 960];
        let (mut sig, mut err) = (0.0f64, 0.0f64);
        for (&o, &w) in pcm.iter().zip(want) {
            let d = i32::from(o) - i32::from(w);
            mismatches += usize::from(d != 0);
            worst_lsb = worst_lsb.max(d.abs());
            let (o, w) = (f64::from(o), f64::from(w));
            sxy += o * w;
            sxx += o * o;
            syy += w * w;
            sig += w * w;
            err += (o - w) * (o - w);
        }
        if sig > 0.0 {
            snrs.push(10.0 * libm::log10(sig / err.max(1e-9)));
        }
    }
    assert!(hp_r.done() && harm_r.done());
    snrs.sort_by(f64::total_cmp);
    let corr = sxy / libm::sqrt(sxx * syy);
    report(
        T,
        "max |float - reference float| (HP + harmonic chained)",
        worst_float,
    );
    std::eprintln!(
        "{T}: {mismatches} of {} PCM samples differ, by at most {worst_lsb} LSB; correlation \
         {corr:.9}; per-packet SNR min {:.1} dB, median {:.1} dB",
        reference.len(),
        snrs[0],
        snrs[snrs.len() / 2]
    );
    assert!(worst_lsb <= 1, "PCM off by {worst_lsb} LSB");
    assert!(corr > 0.99999, "correlation {corr}");
}

/// The reference's float → PCM rule reproduces its PCM exactly from its own float output.
#[test]
fn pcm_conversion_matches_reference() {
    use crate::mlow::synth::to_pcm16;
    const T: &str = "pcm_conversion_matches_reference";
    let (Some(harm_bytes), Some(pcm_bytes)) = (
        raw(T, "mlow/harm_postfilter_vectors.raw"),
        raw(T, "mlow/ref_usesmpl_expected.raw"),
    ) else {
        return;
    };
    let mut r = Raw::new(&harm_bytes);
    let count = r.i32() as usize;
    for k in 0..count {
        let packet = r.i32() as usize;
        let (len, n_lags) = (r.i32() as usize, r.i32() as usize);
        r.f32();
        r.f32_vec(n_lags + len);
        let out = r.f32_vec(len);
        let mut pcm = std::vec![0i16; len];
        to_pcm16(&out, &mut pcm);
        let want: std::vec::Vec<i16> = pcm_bytes[2 * packet * len..2 * (packet + 1) * len]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(pcm, want, "packet {k}");
    }
    let mut sat = [0i16; 4];
    to_pcm16(&[2.0, -2.0, f32::NAN, -0.99999], &mut sat);
    assert_eq!(sat, [32767, -32768, 0, -32766]);
}
