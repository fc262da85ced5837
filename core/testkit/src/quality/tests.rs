use super::*;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

fn clip(x: f64) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

/// The degradations pinned in `vectors/speech/pesq-wb-reference.json`, rebuilt exactly:
/// `gain-10db`, `delay30ms`, `quant6` (6-bit), `zero-every-{n}th-frame` (20 ms frames),
/// `avg{n}` (n-tap moving average, a crude low-pass) and `noise{n}db` (uniform white noise at
/// n dB below the mean signal power, ChaCha8 seed 2026).
fn degrade(x: &[i16], kind: &str) -> Vec<i16> {
    let param = |prefix: &str, suffix: &str| -> Option<usize> {
        kind.strip_prefix(prefix)?
            .strip_suffix(suffix)?
            .parse()
            .ok()
    };
    if kind == "gain-10db" {
        x.iter()
            .map(|&s| clip(f64::from(s) * 10f64.powf(-0.5)))
            .collect()
    } else if kind == "delay30ms" {
        std::iter::repeat_n(0, 480)
            .chain(x.iter().copied())
            .take(x.len())
            .collect()
    } else if kind == "quant6" {
        x.iter()
            .map(|&s| clip((f64::from(s) / 1024.0).round() * 1024.0))
            .collect()
    } else if let Some(n) = param("zero-every-", "th-frame") {
        x.chunks(320)
            .enumerate()
            .flat_map(|(i, c)| c.iter().map(move |&s| if i % n == n / 2 { 0 } else { s }))
            .collect()
    } else if let Some(n) = param("avg", "") {
        (0..x.len())
            .map(|i| {
                let sum: i32 = (0..n).map(|k| i32::from(x[i.saturating_sub(k)])).sum();
                clip(f64::from(sum) / n as f64)
            })
            .collect()
    } else if let Some(db) = param("noise", "db") {
        // Uniform noise of variance P / 10^(db/10): a^2 / 3 = P / 10^(db/10).
        let p = x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64;
        let a = (3.0 * p / 10f64.powf(db as f64 / 10.0)).sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(2026);
        x.iter()
            .map(|&s| {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                clip(f64::from(s) + a * (2.0 * u - 1.0))
            })
            .collect()
    } else {
        panic!("unknown degradation {kind}")
    }
}

/// Wideband PESQ through the `pesq` crate matches scores the ITU reference code gave for the
/// same degraded files (written with `WACALL_WRITE_DEGRADED=dir`, scored by
/// `vectors/speech/pesq_reference.py dir`).
#[test]
fn pesq_wb_agrees_with_the_itu_reference() {
    let path = crate::own_vectors().join("speech/pesq-wb-reference.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let tolerance = json["tolerance"].as_f64().unwrap();
    let write_dir = std::env::var_os("WACALL_WRITE_DEGRADED").map(PathBuf::from);
    let cases = json["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let mut worst = 0.0f64;
    for case in cases {
        let fixture = case["fixture"].as_str().unwrap();
        let kind = case["degradation"].as_str().unwrap();
        let reference = speech(fixture);
        let degraded = degrade(&reference, kind);
        if let Some(dir) = &write_dir {
            // Regeneration mode: write the pair for the reference scorer, compare nothing.
            write_wav(&dir.join(format!("{fixture}__{kind}.wav")), &degraded).unwrap();
            eprintln!("!!!!! WACALL_WRITE_DEGRADED: wrote {fixture}__{kind}.wav, NOT compared");
            continue;
        }
        let ours = f64::from(pesq_wb(&reference, &degraded).unwrap());
        let theirs = case["mos_lqo"].as_f64().unwrap();
        assert!(
            (ours - theirs).abs() <= tolerance,
            "{fixture} {kind}: ours {ours:.4}, ITU reference {theirs:.4}"
        );
        worst = worst.max((ours - theirs).abs());
    }
    eprintln!("pesq_wb: largest difference from the ITU reference {worst:.6}");
}

#[test]
fn pesq_wb_ranks_degradations_and_refuses_short_input() {
    let x = speech("de-male");
    let clean = pesq_wb(&x, &x).unwrap();
    let noisy = pesq_wb(&x, &degrade(&x, "noise20db")).unwrap();
    assert!(clean > 4.5 && noisy < clean - 1.0, "{clean} {noisy}");
    assert!(matches!(
        pesq_wb(&x[..3000], &x[..3000]),
        Err(QualityError::Pesq(pesq::PesqError::SignalTooShort { .. }))
    ));
}

#[test]
fn sample_domain_measures() {
    let x = speech("en-female");
    assert_eq!(segmental_snr_db(&x, &x), 35.0);
    assert!((correlation(&x, &x) - 1.0).abs() < 1e-12);
    let negated: Vec<i16> = x.iter().map(|&s| s.saturating_neg()).collect();
    assert!((correlation(&x, &negated) + 1.0).abs() < 1e-6);

    // Uniform noise 20 dB below the mean power: active frames are louder than the mean, so the
    // segmental figure lands near, not at, 20 dB; the overall SNR is exactly what was added.
    let noisy = degrade(&x, "noise20db");
    let seg = segmental_snr_db(&x, &noisy);
    assert!((15.0..25.0).contains(&seg), "{seg}");
    let err: f64 = x
        .iter()
        .zip(&noisy)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    let sig: f64 = x.iter().map(|&a| f64::from(a).powi(2)).sum();
    assert!((10.0 * (sig / err).log10() - 20.0).abs() < 0.1);

    let delayed = degrade(&x, "delay30ms");
    assert!(segmental_snr_db(&x, &delayed) < 5.0);
    let lag = best_lag(&x, &delayed, 800);
    assert_eq!(lag, 480);
    assert_eq!(segmental_snr_db(&x, &delayed[lag..]), 35.0);
}

#[test]
fn wav_round_trip_and_format_check() {
    let dir = std::env::temp_dir().join(format!("wacall-quality-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.wav");
    let samples: Vec<i16> = (0..1000).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
    write_wav(&path, &samples).unwrap();
    assert_eq!(read_wav(&path).unwrap(), samples);

    let stereo = dir.join("s.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&stereo, spec).unwrap();
    w.write_sample(0i16).unwrap();
    w.write_sample(0i16).unwrap();
    w.finalize().unwrap();
    assert!(matches!(
        read_wav(&stereo),
        Err(QualityError::Format {
            rate_hz: 8000,
            channels: 2,
            bits: 16
        })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(speech_fixtures().len(), 5);
}
