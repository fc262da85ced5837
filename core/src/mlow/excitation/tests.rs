//! Excitation pinned to the reference dumps `exc_pre_lags.json` (pre-noise excitation per subframe
//! over the whole 110-packet stream) and `gennoise_params_dump.json` (per-subframe pulse counts,
//! gain indices and normalised bitrate).

extern crate std;

use std::collections::BTreeMap;
use std::vec::Vec;

use super::*;
use crate::mlow::test_vectors::{float, floats, int, json, report};

type Key = (i64, i64, i64);

fn key(v: &serde_json::Value) -> Key {
    (int(v, "packet"), int(v, "frame"), int(v, "sf"))
}

/// Chains the whole stream through [`Ltp`]: for each subframe the ACB part is predicted from our
/// own history, the remainder of the reference excitation must be whole pulses of the subframe's
/// FCB gain (as many as the parameter dump says), and the rebuilt excitation feeds the history.
#[test]
fn excitation_matches_reference_stream() {
    const T: &str = "excitation_matches_reference_stream";
    let Some(exc) = json(T, "mlow/exc_pre_lags.json") else {
        return;
    };
    let Some(params) = json(T, "mlow/gennoise_params_dump.json") else {
        return;
    };
    let params: BTreeMap<Key, &serde_json::Value> = params
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (key(p), p))
        .collect();
    let records = exc.as_array().unwrap();
    assert_eq!(records.len(), 1320);

    let mut ltp = Ltp::new();
    let (mut worst, mut voiced_subframes, mut fractional_blocks) = (0.0f32, 0, 0);
    for rec in records {
        let p = params[&key(rec)];
        let voiced = int(rec, "voiced") == 1;
        assert_eq!(int(p, "voiced") == 1, voiced);
        let mut reference = [0.0f32; SUBFRAME_LEN];
        for nz in rec["nz"].as_array().unwrap() {
            let pair = nz.as_array().unwrap();
            reference[pair[0].as_u64().unwrap() as usize] = pair[1].as_f64().unwrap() as f32;
        }

        let mut acb = [0.0f32; SUBFRAME_LEN];
        if voiced {
            voiced_subframes += 1;
            let lags = floats(rec, "lags");
            let gains = floats(rec, "acb_gains");
            fractional_blocks += lags.iter().filter(|l| floorf(**l) != **l).count();
            ltp.predict([lags[0], lags[1]], [gains[0], gains[1]], &mut acb);
        }

        // Whatever the predictor does not explain must be whole pulses of the FCB gain.
        let gain = fcb_gain(voiced, int(p, "fcbg_idx") as usize);
        let mut pulses = [0i8; SUBFRAME_LEN];
        for i in 0..SUBFRAME_LEN {
            pulses[i] = libm::roundf((reference[i] - acb[i]) / gain) as i8;
        }
        let count: i64 = pulses.iter().map(|p| i64::from(p.unsigned_abs())).sum();
        assert_eq!(count, int(p, "sf_pulses"), "pulse count at {:?}", key(rec));

        let mut ours = [0.0f32; SUBFRAME_LEN];
        write_pulses(&pulses, gain, &mut ours);
        for (o, a) in ours.iter_mut().zip(&acb) {
            *o += a;
        }
        for (o, r) in ours.iter().zip(&reference) {
            worst = worst.max((o - r).abs());
        }
        ltp.push(&ours);
    }
    report(T, "max |excitation - reference|", worst);
    assert!(voiced_subframes > 500 && fractional_blocks > 100);
    assert!(worst <= 2e-5, "excitation off by {worst:e}");
}

/// `normalized_bitrate` of each frame's total pulse count against the dumped per-subframe value.
#[test]
fn normalized_bitrate_matches_reference() {
    const T: &str = "normalized_bitrate_matches_reference";
    let Some(params) = json(T, "mlow/gennoise_params_dump.json") else {
        return;
    };
    let records = params.as_array().unwrap();
    let mut worst = 0.0f32;
    for frame in records.chunks(4) {
        assert!(
            frame
                .iter()
                .all(|r| int(r, "frame") == int(&frame[0], "frame"))
        );
        let total: i64 = frame.iter().map(|r| int(r, "sf_pulses")).sum();
        let ours = normalized_bitrate(total as u32, 320);
        for r in frame {
            worst = worst.max((ours - float(r, "norm_br")).abs());
        }
    }
    report(T, "max |norm_br - reference|", worst);
    assert!(worst <= 1e-6, "normalized bitrate off by {worst:e}");
}

/// The gain tables follow their dB grids (independent f64 evaluation) and clamp out-of-range indices.
/// The precomputed gains are the formula's `powf` results bit for bit (the reference computes
/// them with `powf`; the tables only save the time).
#[test]
fn fcb_gain_tables_hold_the_formula_bit_exactly() {
    for i in 0..FCB_GAINS_VOICED {
        let db = i as f32 * 3.0 + -100.0;
        let want = libm::powf(10.0, 0.05 * db);
        assert_eq!(fcb_gain(true, i).to_bits(), want.to_bits(), "voiced {i}");
    }
    for i in 0..FCB_GAINS_UNVOICED {
        let db = i as f32 + -90.0;
        let want = libm::powf(10.0, 0.05 * db);
        assert_eq!(fcb_gain(false, i).to_bits(), want.to_bits(), "unvoiced {i}");
    }
}

#[test]
fn fcb_gain_tables() {
    for i in 0..FCB_GAINS_VOICED {
        let exact = 10f64.powf((3.0 * i as f64 - 100.0) / 20.0);
        assert!(((fcb_gain(true, i) as f64 - exact) / exact).abs() < 1e-6);
    }
    for i in 0..FCB_GAINS_UNVOICED {
        let exact = 10f64.powf((i as f64 - 90.0) / 20.0);
        assert!(((fcb_gain(false, i) as f64 - exact) / exact).abs() < 1e-6);
    }
    assert_eq!(fcb_gain(false, 500), 1.0);
    assert_eq!(fcb_gain(true, 500), fcb_gain(true, 33));
}

/// The high boost keeps `g0 + 2·g1` and moves `|g0 − g1|` up by the boost, capped at `|g0 + 2·g1|`.
#[test]
fn acb_high_boost_invariants() {
    let cases: Vec<([i32; 2], f32)> = std::vec![
        ([10000, 3000], 0.0),
        ([10000, 3000], 1.0),
        ([4000, 5000], 0.5),
        ([16000, -2000], 0.25),
        ([0, 0], 0.7),
    ];
    for (q14, nbr) in cases {
        let raw = [q14[0] as f32 / 16384.0, q14[1] as f32 / 16384.0];
        let g = acb_gains(q14, nbr);
        let boost = 0.35 - 0.17 * nbr;
        let (sum, diff) = (raw[0] + 2.0 * raw[1], raw[0] - raw[1]);
        assert!((g[0] + 2.0 * g[1] - sum).abs() < 1e-6);
        let want = (diff.abs() + boost).min(sum.abs());
        assert!(((g[0] - g[1]).abs() - want).abs() < 1e-5, "{q14:?} {nbr}");
        if diff != 0.0 {
            assert_eq!((g[0] - g[1]).signum(), diff.signum());
        }
    }
}

/// Lags outside the servable range are clamped instead of indexing out of the history.
#[test]
fn extreme_lags_do_not_panic() {
    let mut ltp = Ltp::new();
    ltp.push(&[1.0; SUBFRAME_LEN]);
    for lags in [[0.0, -5.0], [1e9, f32::NAN], [320.5, 31.5], [32.0, 320.0]] {
        let mut exc = [0.0f32; SUBFRAME_LEN];
        ltp.predict(lags, [0.5, 0.25], &mut exc);
        assert!(exc.iter().all(|x| x.is_finite()));
    }
    assert_eq!(block_lag(0), 32.0);
    assert_eq!(block_lag(3), 33.5);
    assert_eq!(block_lag(u16::MAX), 320.0);
}

/// [`block_lag`] maps the decoded half-sample lag indices of `pitch_vectors.json` (the first four
/// blocks of each packet's frame 0) exactly onto the lags the reference synthesis used in
/// `exc_pre_lags.json` (packets matched through `inbound_capture_frames.json`).
#[test]
fn block_lag_matches_reference() {
    const T: &str = "block_lag_matches_reference";
    let (Some(pitch), Some(frames), Some(exc)) = (
        json(T, "mlow/pitch_vectors.json"),
        json(T, "mlow/inbound_capture_frames.json"),
        json(T, "mlow/exc_pre_lags.json"),
    ) else {
        return;
    };
    let frames: Vec<&str> = frames
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let exc: BTreeMap<Key, &serde_json::Value> = exc
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (key(r), r))
        .collect();
    let mut checked = 0;
    for rec in pitch.as_array().unwrap() {
        let prefix = rec["frame"].as_str().unwrap();
        let packets: Vec<usize> = (0..frames.len())
            .filter(|&i| frames[i].starts_with(prefix))
            .collect();
        assert_eq!(packets.len(), 1, "frame prefix {prefix} is ambiguous");
        let p = packets[0] as i64;
        if int(exc[&(p, 0, 0)], "voiced") != 1 {
            continue; // the parameter dump force-ran the pitch block on an unvoiced frame
        }
        let mut want = floats(exc[&(p, 0, 0)], "lags");
        want.extend(floats(exc[&(p, 0, 1)], "lags"));
        let got: Vec<f32> = rec["int_lag_q6"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| block_lag(q.as_u64().unwrap() as u16))
            .collect();
        assert_eq!(got, want, "packet {p}");
        checked += 1;
    }
    assert_eq!(checked, 65);
}
