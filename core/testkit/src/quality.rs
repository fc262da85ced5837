//! Speech quality measures for codec, jitter-buffer and end-to-end tests (host side).
//!
//! - [`pesq_wb`]: ITU-T P.862.2 wideband PESQ (MOS-LQO, about 1.0 to 4.64) through the pure-Rust
//!   `pesq` crate. Checked against the ITU reference C code (PyPI `pesq` 0.0.4, which wraps it):
//!   on 55 pairs (the five speech fixtures × 11 degradations: white noise at 30/20/10 dB SNR,
//!   3.4 and 7 kHz low-pass, GSM 06.10 and 8 kHz µ-law round trips, 6-bit quantisation, 10 % of
//!   20 ms frames zeroed, a 30 ms delay, -10 dB gain) the two agree to a largest difference of
//!   0.000085 MOS (mean 0.000018). `vectors/speech/pesq-wb-reference.json` pins 20 more pairs
//!   (two fixtures × 10 degradations the test rebuilds in Rust, MOS 1.27 to 4.64) at a
//!   tolerance of 0.002; the largest difference there is 0.00027 (reference scores are stored
//!   to 4 decimals).
//! - [`segmental_snr_db`] and [`correlation`]: simple sample-domain measures, meaningful only
//!   for time-aligned signals ([`best_lag`] finds a constant delay; a jitter buffer that stretches
//!   or drops frames breaks alignment, which PESQ tolerates and these do not).
//! - [`read_wav`] / [`write_wav`] for 16 kHz mono 16-bit WAV, and [`speech`] /
//!   [`speech_fixtures`] for the project's own samples in `vectors/speech/`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Sample rate of everything here.
pub const RATE_HZ: u32 = 16_000;

/// Why a quality measurement could not be made.
#[derive(Debug)]
pub enum QualityError {
    /// Reading or writing a WAV file failed.
    Wav(hound::Error),
    /// The WAV file is not 16 kHz mono 16-bit integer PCM.
    Format {
        /// Sample rate found.
        rate_hz: u32,
        /// Channels found.
        channels: u16,
        /// Bits per sample found.
        bits: u16,
    },
    /// PESQ refused the pair (too short, or no speech found).
    Pesq(pesq::PesqError),
}

impl fmt::Display for QualityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QualityError::Wav(e) => write!(f, "wav: {e}"),
            QualityError::Format {
                rate_hz,
                channels,
                bits,
            } => write!(
                f,
                "need 16 kHz mono 16-bit PCM, got {rate_hz} Hz, {channels} channel(s), {bits} bits"
            ),
            QualityError::Pesq(e) => write!(f, "pesq: {e}"),
        }
    }
}

impl std::error::Error for QualityError {}

impl From<hound::Error> for QualityError {
    fn from(e: hound::Error) -> Self {
        QualityError::Wav(e)
    }
}

/// Read a 16 kHz mono 16-bit PCM WAV file.
///
/// # Errors
/// [`QualityError::Wav`] on I/O or parse failure, [`QualityError::Format`] for any other format.
pub fn read_wav(path: &Path) -> Result<Vec<i16>, QualityError> {
    let reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    if spec.sample_rate != RATE_HZ
        || spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(QualityError::Format {
            rate_hz: spec.sample_rate,
            channels: spec.channels,
            bits: spec.bits_per_sample,
        });
    }
    Ok(reader.into_samples::<i16>().collect::<Result<_, _>>()?)
}

/// Write `samples` as a 16 kHz mono 16-bit PCM WAV file.
///
/// # Errors
/// [`QualityError::Wav`] when the file cannot be written.
pub fn write_wav(path: &Path, samples: &[i16]) -> Result<(), QualityError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for &s in samples {
        writer.write_sample(s)?;
    }
    writer.finalize()?;
    Ok(())
}

/// Paths of the speech fixtures in `vectors/speech/`, sorted by name.
pub fn speech_fixtures() -> Vec<PathBuf> {
    let dir = crate::own_vectors().join("speech");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    files.sort();
    files
}

/// The samples of speech fixture `name` (e.g. `"en-male"` for `vectors/speech/en-male.wav`).
///
/// # Panics
/// When the fixture is missing or unreadable: it ships with the repository.
pub fn speech(name: &str) -> Vec<i16> {
    let path = crate::own_vectors()
        .join("speech")
        .join(format!("{name}.wav"));
    read_wav(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Wideband PESQ (ITU-T P.862.2 MOS-LQO) of `degraded` against `reference`, both 16 kHz.
///
/// PESQ aligns the two itself, including delay changes between utterances.
///
/// # Errors
/// [`QualityError::Pesq`] when a signal is shorter than 0.25 s or holds no speech.
pub fn pesq_wb(reference: &[i16], degraded: &[i16]) -> Result<f32, QualityError> {
    pesq::pesq_wb(reference, degraded).map_err(QualityError::Pesq)
}

/// Segmental SNR in dB over 20 ms frames of the common length: the mean of per-frame SNRs, each
/// clamped to -10..=35 dB, over frames whose reference energy is within 40 dB of the mean frame
/// energy (silent frames would only add noise to the figure). `NaN` if no frame qualifies.
pub fn segmental_snr_db(reference: &[i16], degraded: &[i16]) -> f64 {
    const FRAME: usize = 320;
    let n = reference.len().min(degraded.len()) / FRAME;
    let energy = |i: usize| -> (f64, f64) {
        let r = &reference[i * FRAME..(i + 1) * FRAME];
        let d = &degraded[i * FRAME..(i + 1) * FRAME];
        r.iter().zip(d).fold((0.0, 0.0), |(sig, err), (&a, &b)| {
            let (a, b) = (f64::from(a), f64::from(b));
            (sig + a * a, err + (a - b) * (a - b))
        })
    };
    let frames: Vec<(f64, f64)> = (0..n).map(energy).collect();
    if frames.is_empty() {
        return f64::NAN;
    }
    let mean_sig = frames.iter().map(|f| f.0).sum::<f64>() / frames.len() as f64;
    let floor = mean_sig * 1e-4;
    let snrs: Vec<f64> = frames
        .iter()
        .filter(|(sig, _)| *sig > floor && *sig > 0.0)
        .map(|&(sig, err)| {
            if err == 0.0 {
                35.0
            } else {
                (10.0 * (sig / err).log10()).clamp(-10.0, 35.0)
            }
        })
        .collect();
    if snrs.is_empty() {
        return f64::NAN;
    }
    snrs.iter().sum::<f64>() / snrs.len() as f64
}

/// Pearson correlation of the two signals over their common length (`NaN` if either is
/// constant there).
pub fn correlation(a: &[i16], b: &[i16]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return f64::NAN;
    }
    let mean = |x: &[i16]| x[..n].iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a[..n].iter().zip(&b[..n]) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

/// The delay in samples (0..=`max_lag`) by which `degraded` lags `reference`, found as the
/// peak of their cross-correlation. Compare `reference` with `&degraded[lag..]` afterwards.
pub fn best_lag(reference: &[i16], degraded: &[i16], max_lag: usize) -> usize {
    let score = |lag: usize| -> f64 {
        let d = degraded.get(lag..).unwrap_or(&[]);
        reference
            .iter()
            .zip(d)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum()
    };
    (0..=max_lag)
        .map(|lag| (lag, score(lag)))
        .fold((0, f64::NEG_INFINITY), |best, cur| {
            if cur.1 > best.1 { cur } else { best }
        })
        .0
}

#[cfg(test)]
mod tests;
