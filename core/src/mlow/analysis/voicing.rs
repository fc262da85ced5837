//! Voiced/unvoiced classification of an internal frame, and the spectral harmonicity measure the
//! classifier and the pitch estimator share.
//!
//! Five cues, each mapped to a "strength" around zero, are averaged with fixed weights and a
//! negative bias: the pitch correlation, the VAD activity, the spectral tilt against a tracked
//! background tilt, the harmonicity of the power spectrum at the average lag, and a penalty for very
//! short lags. A hysteresis term pulls towards the previous frame's decision unless the pitch jumped.
//! A frame is coded voiced when the strength is positive and the packet is coded as active voice.
//!
//! State size: [`VoicingClassifier`] 16 bytes.

use super::lpc::SPECTRUM_LEN;

/// Weights of the correlation, activity, tilt, harmonicity and short-lag strengths.
const WEIGHTS: [f32; 5] = [1.0, 0.5, 0.5, 0.7, 0.3];
const BIAS: f32 = -0.1038;
const HYSTERESIS: f32 = 0.05;
/// Bin where the tilt measure switches from the low band to the high band.
const TILT_SPLIT: usize = SPECTRUM_LEN / 3;
/// Activity strength below which the frame updates the background tilt energies.
const BACKGROUND_UPDATE_BELOW: f32 = -0.1;

/// Per-frame measurements the classifier combines.
#[derive(Clone, Copy, Debug)]
pub struct VoicingInputs<'a> {
    /// Normalised pitch correlation from the pitch estimator (0..1).
    pub pitch_corr: f32,
    /// Pitch lag (samples) of each 40-sample block of the frame.
    pub lags: &'a [f32],
    /// Average pitch lag of the frame (samples).
    pub avg_lag: f32,
    /// Spectral harmonicity at `avg_lag`, see [`harmonicity`].
    pub harmonicity: f32,
    /// The frame's LPC power spectrum.
    pub spectrum: &'a [f32; SPECTRUM_LEN],
    /// VAD speech activity of the frame as a probability (`activity_q8 / 256`).
    pub activity: f32,
}

/// Hysteresis and background-tilt memory, carried through the stream.
#[derive(Clone, Debug, Default)]
pub struct VoicingClassifier {
    background_low: f32,
    background_high: f32,
    prev_voicing: f32,
    prev_last_lag: f32,
}

/// Whether a frame with this voicing strength is coded voiced.
pub fn is_voiced(strength: f32, coded_as_active_voice: bool) -> bool {
    strength > 0.0 && coded_as_active_voice
}

fn logistic(x: f32) -> f32 {
    if x > 80.0 {
        1.0
    } else if x < -80.0 {
        0.0
    } else {
        1.0 / (1.0 + libm::expf(-x))
    }
}

impl VoicingClassifier {
    /// A classifier at stream start.
    pub fn new() -> Self {
        Self::default()
    }

    /// Voicing strength of one internal frame (positive means voiced); updates the memory.
    ///
    /// # Panics
    /// If `inputs.lags` is empty.
    pub fn strength(&mut self, inputs: &VoicingInputs<'_>) -> f32 {
        let c = 0.1 + 0.75 * inputs.pitch_corr.clamp(0.0, 1.0);
        let corr = -libm::logf(1.0 / c - 1.0);
        let activity = 0.04 * (1.0 - 1.04 / (inputs.activity + 0.04));

        // Tilt: energy (weighted by bin index) below the split, ramped down towards it, against
        // the energy above, ramped up away from it; both net of the tracked background.
        let f2 = inputs.spectrum;
        let mut low = 0f32;
        for (i, &v) in f2.iter().enumerate().take(TILT_SPLIT).skip(2) {
            low += v * (i + 3) as f32 * (TILT_SPLIT - i) as f32;
        }
        let mut high = 0f32;
        for (i, &v) in f2.iter().enumerate().skip(TILT_SPLIT) {
            high += v * (i + 3) as f32 * (i - TILT_SPLIT) as f32;
        }
        if activity < BACKGROUND_UPDATE_BELOW {
            let k = -0.5 * activity;
            self.background_low += k * (low - self.background_low);
            self.background_high += k * (high - self.background_high);
        }
        let t = ((low - self.background_low).max(0.0) - (high - self.background_high).max(0.0))
            / (low + high + 1e-9);
        let tilt = t * t * t;
        let short_lag = -logistic(0.25 * (38.0 - inputs.avg_lag));

        let strengths = [corr, activity, tilt, inputs.harmonicity, short_lag];
        let mut weighted = 0f32;
        let mut total = 0f32;
        for (w, s) in WEIGHTS.iter().zip(strengths) {
            weighted += w * s;
            total += w;
        }
        let mut strength = weighted / total + BIAS;

        // Hysteresis, weakened when the lag moved since the last frame (upward moves count half).
        if self.prev_last_lag > 0.0 {
            let mut jump = libm::log2f(inputs.lags[0] / self.prev_last_lag);
            if jump > 0.0 {
                jump *= 0.5;
            }
            self.prev_voicing /= 0.4 + jump * jump;
        }
        strength += self.prev_voicing * HYSTERESIS;
        self.prev_voicing = libm::tanhf(3.0 * strength);
        self.prev_last_lag = inputs.lags[inputs.lags.len() - 1];
        strength
    }
}

/// Harmonic peak-to-valley measure of the low spectrum for a pitch of `avg_lag` samples: the
/// log ratio of energy at the first four harmonics to energy between them, weighted by loudness.
/// Returns 0.1 when the harmonics are less than two bins apart.
pub fn harmonicity(avg_lag: f32, spectrum: &[f32; SPECTRUM_LEN]) -> f32 {
    const HARMONICS: usize = 4;
    let bins_per_hz = 2.0 * (SPECTRUM_LEN - 1) as f32 / 16_000.0;
    let spacing = 16_000.0 / avg_lag * bins_per_hz;
    if spacing <= 1.97 {
        return 0.1;
    }
    // Energy in half-harmonic-wide bumps centred on 0, h/2, h, 3h/2, ... (peaks and valleys
    // alternate), with a (t - t^2)^2 bump over each window of one harmonic spacing.
    let mut mags = [0f32; 2 * HARMONICS + 1];
    let inv = 1.0 / spacing;
    for (j, mag) in mags.iter_mut().enumerate() {
        let start = 0.5 * j as f32 * spacing;
        let first = libm::ceilf(start) as i32;
        let last = libm::floorf(start + spacing) as i32;
        let (mut acc, mut wsum) = (0f32, 0f32);
        for (i, bin) in (first..=last).enumerate() {
            let mut t = (first as f32 - start + i as f32) * inv;
            t -= t * t;
            let w = t * t;
            let e = match usize::try_from(bin) {
                Ok(b @ 2..SPECTRUM_LEN) => spectrum[b] * (b + 3) as f32,
                _ => 0.0,
            };
            acc += e * w;
            wsum += w;
        }
        *mag = libm::sqrtf(acc / wsum + 1e-30);
    }
    let (mut num, mut den) = (0f32, 0f32);
    for h in 0..HARMONICS {
        let (a, b, c) = (mags[2 * h], mags[2 * h + 1], mags[2 * h + 2]);
        let peak = a + 10.0 * b + c;
        let valley = 5.0 * a + 2.0 * b + 5.0 * c;
        let w = libm::sqrtf(peak + valley + 1e-30);
        num += w * libm::logf(peak / valley);
        den += w;
    }
    num / den
}
