//! LPC synthesis against an independent double-precision direct-form filter.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::mlow::excitation::Ltp;
use crate::mlow::noise::NoiseState;
use crate::mlow::postfilter::{FRAME_LEN, HpPostfilter};

/// Coefficients of `Π (1 − r_k z⁻¹)(1 − r̄_k z⁻¹)` for eight pole pairs inside the unit circle.
fn stable_lpc() -> [f64; LPC_ORDER + 1] {
    let mut a = std::vec![1.0f64];
    for k in 0..8 {
        let radius = 0.97 - 0.05 * k as f64;
        let angle = 0.2 + 0.37 * k as f64;
        let (c1, c2) = (-2.0 * radius * angle.cos(), radius * radius);
        let mut next = std::vec![0.0; a.len() + 2];
        for (i, &v) in a.iter().enumerate() {
            next[i] += v;
            next[i + 1] += c1 * v;
            next[i + 2] += c2 * v;
        }
        a = next;
    }
    core::array::from_fn(|i| a[i])
}

#[test]
fn matches_double_precision_reference_across_calls() {
    let a64 = stable_lpc();
    let a32: [f32; LPC_ORDER + 1] = a64.map(|v| v as f32);
    // Deterministic pseudo-random excitation with sparse pulses.
    let mut seed = 12345u32;
    let exc: Vec<f32> = (0..1000)
        .map(|n| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 1e-3;
            if n % 97 == 0 { 0.1 + noise } else { noise }
        })
        .collect();

    let mut want = std::vec![0.0f64; exc.len()];
    for n in 0..exc.len() {
        let mut acc = exc[n] as f64;
        for i in 1..=LPC_ORDER {
            if n >= i {
                acc -= a64[i] * want[n - i];
            }
        }
        want[n] = acc;
    }

    // Uneven chunk sizes exercise the history hand-over, including chunks shorter than the order.
    let mut synth = LpcSynth::new();
    let mut got = std::vec![0.0f32; exc.len()];
    let mut at = 0;
    for len in [80, 80, 7, 3, 160, 1, 15, 16, 17].iter().cycle() {
        if at == exc.len() {
            break;
        }
        let end = (at + len).min(exc.len());
        synth.filter(&a32, &exc[at..end], &mut got[at..end]);
        at = end;
    }
    let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
    std::eprintln!("lpc synth: peak {peak:.3e}, max error {err:.3e}");
    assert!(peak > 0.1);
    assert!(err < 1e-4 * peak, "max error {err:e}");
}

#[test]
fn one_pole_impulse_response() {
    let mut a = [0.0f32; LPC_ORDER + 1];
    a[0] = 1.0;
    a[1] = -0.5;
    let mut synth = LpcSynth::new();
    let mut x = [0.0f32; 20];
    x[0] = 1.0;
    let mut y = [0.0f32; 20];
    synth.filter(&a, &x, &mut y);
    for (n, v) in y.iter().enumerate() {
        assert_eq!(*v, 0.5f32.powi(n as i32));
    }
}

/// The state sizes the documentation promises (no hidden buffers).
#[test]
fn state_sizes() {
    use crate::mlow::postfilter::HarmonicPostfilter;
    use core::mem::size_of;
    assert_eq!(size_of::<Ltp>(), 1664);
    assert_eq!(size_of::<NoiseState>(), 56);
    assert_eq!(size_of::<LpcSynth>(), 64);
    assert_eq!(size_of::<HpPostfilter>(), 1332);
    assert_eq!(size_of::<LowBand>(), 3116);
    assert_eq!(size_of::<HarmonicPostfilter>(), 9332);
}

/// The packet-level inputs of the harmonic post-filter follow from the frames: its dumped
/// bitrate is [`packet_bitrate`] of the frames' dumped values, and its block lags are the voiced
/// frames' lags with zeros for unvoiced frames (all 110 packets).
#[test]
fn harmonic_inputs_follow_from_frames() {
    use crate::mlow::test_vectors::{Raw, float, floats, int, json, raw};
    const T: &str = "harmonic_inputs_follow_from_frames";
    let (Some(params), Some(exc), Some(harm)) = (
        json(T, "mlow/gennoise_params_dump.json"),
        json(T, "mlow/exc_pre_lags.json"),
        raw(T, "mlow/harm_postfilter_vectors.raw"),
    ) else {
        return;
    };
    let params = params.as_array().unwrap();
    let exc = exc.as_array().unwrap();
    let mut r = Raw::new(&harm);
    let count = r.i32() as usize;
    for k in 0..count {
        let packet = r.i32() as i64;
        let len = r.i32() as usize;
        let n_lags = r.i32() as usize;
        let bitrate = r.f32();
        let lags = r.f32_vec(n_lags);
        r.f32_vec(2 * len);

        let subframes = &params[12 * k..12 * (k + 1)];
        assert!(subframes.iter().all(|s| int(s, "packet") == packet));
        let frames: Vec<f32> = subframes
            .iter()
            .step_by(4)
            .map(|s| float(s, "norm_br"))
            .collect();
        assert_eq!(packet_bitrate(&frames), bitrate, "packet {packet}");

        let mut want = Vec::new();
        for s in &exc[12 * k..12 * (k + 1)] {
            assert_eq!(int(s, "packet"), packet);
            if int(s, "voiced") == 1 {
                want.extend(floats(s, "lags"));
            } else {
                want.extend([0.0, 0.0]);
            }
        }
        assert_eq!(lags, want, "packet {packet}");
    }
    assert!(r.done());
    assert_eq!(packet_bitrate(&[]), 0.0);
}

/// [`LowBand::frame`] is the stages chained in the reference order: the predictor sees the
/// excitation before noise, the noise sees the frame's pulse counts and bitrate, and LPC plus HP
/// filtering follow (checked against the stages driven by hand over voiced/unvoiced frames).
#[test]
#[allow(clippy::needless_range_loop)]
fn low_band_chains_the_stages() {
    use crate::mlow::excitation::{acb_gains, fcb_gain, normalized_bitrate, write_pulses};
    use crate::mlow::noise::{NoiseInput, residual_energy};

    let lpc64 = stable_lpc();
    let lpc = [lpc64.map(|v| v as f32); SUBFRAMES];
    let mut band = LowBand::new();
    let (mut ltp, mut noise, mut filt, mut hp) = (
        Ltp::new(),
        NoiseState::new(),
        LpcSynth::new(),
        HpPostfilter::new(),
    );
    for (f, voiced) in [false, true, true, false, true].into_iter().enumerate() {
        let mut pulses = [0i8; FRAME_LEN];
        for (i, p) in pulses.iter_mut().enumerate() {
            if (i * 7 + f * 13) % 23 == 0 {
                *p = if i % 2 == 0 { 2 } else { -1 };
            }
        }
        let params = SynthFrame {
            voiced,
            pulses: &pulses,
            fcb_gain_index: [20 + f, 25, 30, 18],
            acb_codebook_q14: [[12000, 500], [5000, 4000], [7000, 3000], [0, 0]],
            block_lags: [96.0, 96.5, 97.0, 97.0, 98.5, 99.0, 99.0, 100.0],
            residual_dbq_q14: [-40 * 16384, -45 * 16384, -50 * 16384, -85 * 16384],
            lpc: &lpc,
            lsf_low: [[0.2, 0.35], [0.21, 0.36], [0.22, 0.3], [0.25, 0.5]],
        };
        let mut out = [0.0f32; FRAME_LEN];
        let bitrate = band.frame(&params, &mut out);

        let total: u32 = pulses.iter().map(|p| u32::from(p.unsigned_abs())).sum();
        assert!(total > 0);
        let want_bitrate = normalized_bitrate(total, FRAME_LEN);
        assert_eq!(bitrate, want_bitrate);
        let mut want = [0.0f32; FRAME_LEN];
        for sf in 0..SUBFRAMES {
            let span = sf * 80..(sf + 1) * 80;
            let mut exc = [0.0f32; 80];
            write_pulses(
                &pulses[span.clone()],
                fcb_gain(voiced, params.fcb_gain_index[sf]),
                &mut exc,
            );
            if voiced {
                let g = acb_gains(params.acb_codebook_q14[sf], want_bitrate);
                ltp.predict(
                    [params.block_lags[2 * sf], params.block_lags[2 * sf + 1]],
                    g,
                    &mut exc,
                );
            }
            ltp.push(&exc);
            let mut n = [0.0f32; 80];
            let count = pulses[span.clone()]
                .iter()
                .map(|p| u32::from(p.unsigned_abs()))
                .sum();
            noise.generate(
                &NoiseInput {
                    excitation: &exc,
                    voiced,
                    pulses: count,
                    residual_energy: residual_energy(params.residual_dbq_q14[sf], 80),
                    fcb_gain_index: params.fcb_gain_index[sf],
                    lsf_low: params.lsf_low[sf],
                    normalized_bitrate: want_bitrate,
                },
                &mut n,
            );
            let mut x = [0.0f32; 80];
            for i in 0..80 {
                x[i] = exc[i] + n[i];
            }
            filt.filter(&lpc[sf], &x, &mut want[span]);
        }
        hp.process(
            HpPostfilter::frame_lag(voiced, &params.block_lags),
            &mut want,
        );
        assert_eq!(out, want, "frame {f}");
        assert!(out.iter().any(|v| *v != 0.0));
    }
}

/// The vectorisable PCM conversion equals the plain saturating cast `(x · 32767) as i16` around
/// every output step (exact integers, quarter and half steps, one ulp either side), at and past
/// both ends of the range, and for ±0, infinities and NaN.
#[test]
fn pcm_conversion_is_the_saturating_truncating_cast() {
    let mut xs = std::vec::Vec::new();
    for i in -32_800i32..=32_800 {
        for f in [0.0f32, 0.25, 0.5, 0.75, -0.25, -0.5, -0.75] {
            let v = i as f32 + f;
            for v in [
                v,
                f32::from_bits(v.to_bits().wrapping_add(1)),
                f32::from_bits(v.to_bits().wrapping_sub(1)),
            ] {
                xs.push(v / 32767.0);
                xs.push(f32::from_bits((v / 32767.0).to_bits().wrapping_add(1)));
            }
        }
    }
    xs.extend([
        0.0,
        -0.0,
        1.0,
        -1.0,
        2.0,
        -2.0,
        1e30,
        -1e30,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
    ]);
    let mut pcm = std::vec![0i16; xs.len()];
    to_pcm16(&xs, &mut pcm);
    for (&x, &p) in xs.iter().zip(&pcm) {
        assert_eq!(p, (x * 32767.0) as i16, "x = {x:e} ({:#x})", x.to_bits());
    }
}
