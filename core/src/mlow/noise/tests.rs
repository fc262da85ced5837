//! Noise generator pinned to `mlow-meowcaller/gennoise_vectors.json` (30 reference subframes with
//! the generator state before and after) and the residual-energy decode to the per-subframe values
//! of `mlow/gennoise_params_dump.json`.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::mlow::test_vectors::{float, floats, int, json, report};

fn state_from(v: &serde_json::Value) -> NoiseState {
    let two = |k: &str| {
        let a = floats(v, k);
        [a[0], a[1]]
    };
    let c = floats(v, "corr_smth");
    NoiseState {
        env_smooth: float(v, "env_smth"),
        env_last: float(v, "env_last"),
        uv_filter: two("out_state_uv"),
        v_filter: two("out_state_v"),
        corr_smooth: [c[0], c[1], c[2]],
        shape_filter: two("shape_state"),
        prev_voiced: int(v, "prev_voiced") != 0,
        voiced_run: int(v, "since_unvoiced") as i32,
        seed: int(v, "rand_seed") as i32,
    }
}

fn state_fields(s: &NoiseState) -> Vec<f32> {
    let mut v = std::vec![s.env_smooth, s.env_last];
    v.extend(s.uv_filter);
    v.extend(s.v_filter);
    v.extend(s.corr_smooth);
    v.extend(s.shape_filter);
    v
}

#[test]
fn noise_matches_reference_subframes() {
    const T: &str = "noise_matches_reference_subframes";
    let Some(doc) = json(T, "mlow-meowcaller/gennoise_vectors.json") else {
        return;
    };
    let records = doc.as_array().unwrap();
    assert_eq!(records.len(), 30);
    let (mut worst_noise, mut worst_state, mut worst_rel) = (0.0f32, 0.0f32, 0.0f32);
    let mut paths = [0usize; 3];
    for rec in records {
        let voiced = int(rec, "voiced") == 1;
        let pulses = int(rec, "sf_pulses") as u32;
        paths[if voiced { 2 } else { usize::from(pulses > 0) }] += 1;
        let exc = floats(rec, "exc_pre");
        let lsf = floats(rec, "lsf");
        let mut state = state_from(&rec["ng_in"]);
        assert_eq!(state.seed, int(rec, "seed_in") as i32);
        let input = NoiseInput {
            excitation: &exc,
            voiced,
            pulses,
            residual_energy: float(rec, "nrgres"),
            fcb_gain_index: int(rec, "fcbg_idx") as usize,
            lsf_low: [lsf[0], lsf[1]],
            normalized_bitrate: float(rec, "norm_br"),
        };
        let mut out = [0.0f32; 80];
        state.generate(&input, &mut out);

        let want = state_from(&rec["ng_out"]);
        assert_eq!(state.seed, int(rec, "seed_out") as i32, "seed");
        assert_eq!(state.seed, want.seed);
        assert_eq!(state.prev_voiced, want.prev_voiced);
        assert_eq!(state.voiced_run, want.voiced_run);
        let want_noise = floats(rec, "noise");
        let peak = want_noise.iter().fold(0.0f32, |m, r| m.max(r.abs()));
        for (o, r) in out.iter().zip(&want_noise) {
            worst_noise = worst_noise.max((o - r).abs());
            worst_rel = worst_rel.max((o - r).abs() / peak);
        }
        for (o, r) in state_fields(&state).iter().zip(state_fields(&want)) {
            worst_state = worst_state.max((o - r).abs());
        }
    }
    report(T, "max |noise - reference|", worst_noise);
    report(T, "max |state - reference|", worst_state);
    report(T, "max |noise - reference| / subframe peak", worst_rel);
    assert!(paths.iter().all(|&n| n >= 10), "paths exercised {paths:?}");
    assert!(worst_noise <= 1e-6, "noise off by {worst_noise:e}");
    assert!(worst_state <= 1e-6, "state off by {worst_state:e}");
    // The noise is tiny in absolute terms; it must also agree relative to its own level.
    assert!(worst_rel <= 1e-4, "noise off by {worst_rel:e} of its peak");
}

/// The fast exponential against every subframe of the reference stream, and against exact `powf`
/// to show the difference is real (the floor keeps energy only with the fast form).
#[test]
fn residual_energy_matches_reference_stream() {
    const T: &str = "residual_energy_matches_reference_stream";
    let Some(doc) = json(T, "mlow/gennoise_params_dump.json") else {
        return;
    };
    let (mut worst_rel, mut worst_powf_rel) = (0.0f32, 0.0f32);
    let mut floor_seen = false;
    for rec in doc.as_array().unwrap() {
        let q14 = int(rec, "nrgres_dbq_Q14") as i32;
        let want = float(rec, "nrgres");
        let ours = residual_energy(q14, 80);
        worst_rel = worst_rel.max((ours - want).abs() / want);
        let exact = (libm::powf(10.0, 0.1 * (q14 as f32 / 16384.0)) - RES_NRG_BIAS).max(0.0) * 80.0;
        worst_powf_rel = worst_powf_rel.max((exact - want).abs() / want);
        floor_seen |= q14 <= -85 * 16384;
    }
    report(T, "max relative error (fast exp)", worst_rel);
    report(T, "max relative error (exact powf)", worst_powf_rel);
    assert!(floor_seen);
    assert!(worst_rel <= 1e-6, "fast exp off by {worst_rel:e}");
    assert!(
        worst_powf_rel > 1e-2,
        "exact powf would pass too: the vector no longer pins it"
    );
}

/// The tabulated spectrum basis equals the cosines evaluated with the reference's f32 angle
/// accumulation (within one ulp of libm's `cosf`).
#[test]
fn spectrum_basis_matches_cosines() {
    for i in 0..16 {
        let step = ((0.5 + i as f32) * PI) / 16.0;
        let mut angle = 0.0f32;
        for row in &SPECTRUM_BASIS {
            let want = libm::cosf(angle) * 0.25;
            let ulp = f32::EPSILON * want.abs().max(f32::MIN_POSITIVE);
            assert!((row[i] - want).abs() <= ulp, "basis at {i}");
            angle += step;
        }
    }
}

/// Spectral factorisation recovers a minimum-phase MA filter from its own autocorrelation.
#[test]
fn spectral_factor_inverts_autocorrelation() {
    let a = [0.8f32, -0.3, 0.1];
    let c = [
        a[0] * a[0] + a[1] * a[1] + a[2] * a[2],
        a[0] * a[1] + a[1] * a[2],
        a[0] * a[2],
    ];
    let got = spectral_factor(c);
    for (g, w) in got.iter().zip(&a) {
        assert!((g - w).abs() < 1e-3, "{got:?}");
    }
}

/// Degenerate lengths never panic and leave the generator usable.
#[test]
fn odd_lengths_do_not_panic() {
    let mut s = NoiseState::new();
    let exc = [0.0f32; 3];
    let mut out = [1.0f32; 3];
    let input = NoiseInput {
        excitation: &exc,
        voiced: true,
        pulses: 0,
        residual_energy: 0.0,
        fcb_gain_index: 999,
        lsf_low: [0.0, 0.0],
        normalized_bitrate: 0.5,
    };
    s.generate(&input, &mut out);
    assert_eq!(out, [1.0; 3]);
    let exc = [0.0f32; 162];
    let mut out = [0.0f32; 162];
    for voiced in [false, true, false] {
        s.generate(
            &NoiseInput {
                excitation: &exc,
                voiced,
                ..input
            },
            &mut out,
        );
        assert!(out.iter().all(|x| x.is_finite()));
    }
}
