//! Perceptual model: per-subframe autocorrelations of a masking-smoothed spectrum, the weighting
//! filters derived from them, and the perceptually weighted speech the pitch estimator searches.
//!
//! Every second subframe, a 576-sample window (the two subframes, 32 samples of look-ahead and
//! 352 samples of history) is transformed, its power spectrum smoothed forwards and backwards
//! across frequency with a coefficient that widens like the mel scale (a crude masking model), and
//! transformed back to 33 autocorrelation lags. The subframe in between takes the mean of its
//! neighbours' autocorrelations. A weighting filter is then a predictor fitted to that
//! autocorrelation after a first-order emphasis; the pitch search uses a 17-tap one with emphasis
//! -0.82, the excitation search (not here yet) 32 taps with -0.72 (voiced) or -0.55 (unvoiced).
//!
//! State size: [`PerceptualModel`] 2436 bytes, [`WeightedSpeech`] 2636 bytes.

use super::fft::power_spectrum_576;
use super::highpass::SignalBuffer;
use super::lpc::{schur, step_up};
use super::pitch::LTP_BUF_LEN;
use super::tables::{
    COS_576, LPC_WIN_TAIL_LONG, LPC_WIN_TAIL_SHORT, PERC_SMOOTHING, PERC_WIN_RISE,
};
use super::{FRAME_LEN, FRAMES_PER_PACKET};

/// Autocorrelation lags the model produces.
pub const CORR_LEN: usize = 33;
/// Subframes per internal frame (80 samples each).
pub const SUBFRAMES: usize = 4;
const SUBFRAME_LEN: usize = FRAME_LEN / SUBFRAMES;
/// Emphasis and length of the weighting filter the pitch search uses.
pub const PITCH_EMPHASIS: f32 = -0.82;
/// Taps of the pitch weighting filter (including the leading 1).
pub const PITCH_FILTER_LEN: usize = 17;
/// Emphasis of the excitation weighting filter on voiced frames.
pub const VOICED_EMPHASIS: f32 = -0.72;
/// Emphasis of the excitation weighting filter on unvoiced frames.
pub const UNVOICED_EMPHASIS: f32 = -0.55;
/// White-noise regularisation of the weighting-filter fit.
const REGULARISATION: f32 = 1e-3;

const NFFT: usize = 576;
const BINS: usize = NFFT / 2 + 1;
/// Samples fed per model update: two subframes plus look-ahead.
const PAIR_INPUT: usize = 2 * SUBFRAME_LEN + LOOKAHEAD;
const LOOKAHEAD: usize = 32;
const TAIL_LEN: usize = 64;

/// The model's memory: the last 576 input samples and the previous autocorrelation.
#[derive(Clone, Debug)]
pub struct PerceptualModel {
    buf: [f32; NFFT],
    prev: [f32; CORR_LEN],
}

impl Default for PerceptualModel {
    fn default() -> Self {
        Self::new()
    }
}

impl PerceptualModel {
    /// A model at stream start.
    pub fn new() -> Self {
        PerceptualModel {
            buf: [0.0; NFFT],
            prev: [0.0; CORR_LEN],
        }
    }

    /// Autocorrelations of the four subframes of internal frame `frame` (0..3) of the packet in
    /// `signal`. Call once per internal frame, in order.
    pub fn frame_correlations(
        &mut self,
        signal: &SignalBuffer,
        frame: usize,
        out: &mut [[f32; CORR_LEN]; SUBFRAMES],
    ) {
        for pair in 0..SUBFRAMES / 2 {
            let t = frame * FRAME_LEN + 2 * pair * SUBFRAME_LEN;
            let mut x = [0f32; PAIR_INPUT];
            signal.copy_from(t as isize, &mut x);
            let last = frame == FRAMES_PER_PACKET - 1 && pair == SUBFRAMES / 2 - 1;
            let r = self.update(&x, last);
            for (o, (&a, &b)) in out[2 * pair].iter_mut().zip(r.iter().zip(&self.prev)) {
                *o = 0.5 * (a + b);
            }
            out[2 * pair + 1] = r;
            self.prev = r;
        }
    }

    /// Slide in 192 new samples (the last 32 are look-ahead, replaced next time) and return the
    /// smoothed-spectrum autocorrelation of the windowed buffer. The packet's last update sees zero
    /// look-ahead and uses the short tail.
    fn update(&mut self, x: &[f32; PAIR_INPUT], last: bool) -> [f32; CORR_LEN] {
        let advance = PAIR_INPUT - LOOKAHEAD;
        self.buf.copy_within(advance..NFFT - LOOKAHEAD, 0);
        self.buf[NFFT - PAIR_INPUT..].copy_from_slice(x);

        let mut w = [0f32; NFFT];
        let rise = PERC_WIN_RISE.len();
        for (i, o) in w[..rise].iter_mut().enumerate() {
            *o = PERC_WIN_RISE[i] * self.buf[i];
        }
        w[rise..NFFT - TAIL_LEN].copy_from_slice(&self.buf[rise..NFFT - TAIL_LEN]);
        let tail: &[f32] = if last {
            &LPC_WIN_TAIL_SHORT
        } else {
            &LPC_WIN_TAIL_LONG
        };
        for (i, o) in w[NFFT - TAIL_LEN..].iter_mut().enumerate() {
            *o = tail
                .get(i)
                .map_or(0.0, |c| c * self.buf[NFFT - TAIL_LEN + i]);
        }

        let mut p = [0f32; BINS];
        power_spectrum_576(&w, &mut p);
        smooth_across_frequency(&mut p);

        // Inverse transform of the real, even spectrum, lags 0..33 only, with bins k and 288 - k
        // folded together (sum for even lags, difference for odd ones) and the cosines from a
        // table. The lags run side by side (vector lanes), each summing over k in order.
        let mut even = [0f32; EVEN_LAGS];
        let mut odd = [0f32; ODD_LAGS];
        for k in 1..=HALF {
            let (lo, hi) = (p[k], p[BINS - 1 - k]);
            let (sum, dif) = if k == HALF {
                (lo, lo)
            } else {
                (lo + hi, lo - hi)
            };
            for (a, &c) in even.iter_mut().zip(&INVERSE_COS_EVEN[k - 1]) {
                *a += sum * c;
            }
            for (a, &c) in odd.iter_mut().zip(&INVERSE_COS_ODD[k - 1]) {
                *a += dif * c;
            }
        }
        let mut r = [0f32; CORR_LEN];
        for (n, rn) in r.iter_mut().enumerate() {
            let (edge, acc) = if n % 2 == 0 {
                (p[0] + p[BINS - 1], even[n / 2])
            } else {
                (p[0] - p[BINS - 1], odd[n / 2])
            };
            *rn = (edge + 2.0 * acc) * (1.0 / NFFT as f32);
        }
        r
    }
}

/// Bins folded onto each other by the inverse transform: `k` and `288 - k` for `k < HALF`.
const HALF: usize = NFFT / 4;

/// Even lags 0, 2, ..., 32 (padded to a multiple of 4) and odd lags 1, 3, ..., 31.
const EVEN_LAGS: usize = 20;
const ODD_LAGS: usize = 16;

/// `cos(2 pi k n / 576)` for the lags `n = start, start + 2, ...` (`LAGS` of them, those past
/// `CORR_LEN` zero) and bins `k = 1..=HALF`, unfolded at compile time from `COS_576`.
const fn inverse_cos<const LAGS: usize>(start: usize) -> [[f32; LAGS]; HALF] {
    let mut out = [[0f32; LAGS]; HALF];
    let mut k = 1;
    while k <= HALF {
        let mut l = 0;
        while l < LAGS {
            let n = start + 2 * l;
            if n < CORR_LEN {
                out[k - 1][l] = COS_576[(k * n) % NFFT];
            }
            l += 1;
        }
        k += 1;
    }
    out
}

static INVERSE_COS_EVEN: [[f32; EVEN_LAGS]; HALF] = inverse_cos(0);
static INVERSE_COS_ODD: [[f32; ODD_LAGS]; HALF] = inverse_cos(1);

/// One-pole smoothing of the power spectrum up and then down the frequency axis; the pole at bin
/// `i` is `w / (1 + w)` with `w` the masking width in bins, growing with frequency (`0.1158` of the
/// distance from -320 Hz), tabulated in `PERC_SMOOTHING`.
fn smooth_across_frequency(p: &mut [f32; BINS]) {
    let coef = &PERC_SMOOTHING;
    let mut s = p[0];
    for (v, &c) in p.iter_mut().zip(coef).take(BINS - 1).skip(1) {
        s = *v + c * (s - *v);
        *v = s;
    }
    let top = BINS - 1;
    p[top] += coef[top] * (s - p[top]);
    s = p[top];
    for i in (1..top).rev() {
        s = p[i] + coef[i] * (s - p[i]);
        p[i] = s;
    }
    p[0] += coef[0] * (s - p[0]);
}

/// The weighting filter (monic, `out.len()` taps, at most 32) for an autocorrelation: emphasise
/// with `(1 + e z^-1)`, then fit a predictor of order `out.len() - 1`.
pub fn weighting_filter(r: &[f32; CORR_LEN], emphasis: f32, out: &mut [f32]) {
    let len = out.len();
    let (e0, e1) = (emphasis, 1.0 + emphasis * emphasis);
    // Autocorrelation of the emphasised signal: e r[i+1] + (1 + e^2) r[i] + e r[i-1], r even.
    let mut re = [0f64; CORR_LEN];
    for (i, v) in re.iter_mut().enumerate().take(len) {
        let below = if i == 0 { r[1] } else { r[i - 1] };
        *v = f64::from(e0 * r[i + 1] + e1 * r[i] + e0 * below);
    }
    let mut rc = [0f32; CORR_LEN - 1];
    schur(&re, 1.0 + f64::from(REGULARISATION), &mut rc[..len - 1]);
    step_up(&rc[..len - 1], out);
}

/// The perceptually weighted speech buffer the pitch estimator reads: 652 samples of history and
/// current frame, then 7 samples of look-ahead.
#[derive(Clone, Debug)]
pub struct WeightedSpeech {
    buf: [f32; LTP_BUF_LEN],
}

impl Default for WeightedSpeech {
    fn default() -> Self {
        Self::new()
    }
}

/// Samples of look-ahead at the end of the weighted-speech buffer.
const WEIGHTED_LOOKAHEAD: usize = 7;
/// The analysed frame runs 32 samples ahead of the internal frame grid.
const FRAME_ADVANCE: isize = 32;

impl WeightedSpeech {
    /// An all-zero buffer.
    pub fn new() -> Self {
        WeightedSpeech {
            buf: [0.0; LTP_BUF_LEN],
        }
    }

    /// Shift by one internal frame and append frame `frame` of the packet in `signal`, filtered
    /// with each subframe's pitch weighting filter (from `corrs`, see
    /// [`PerceptualModel::frame_correlations`]), plus the look-ahead under the last one.
    pub fn push_frame(
        &mut self,
        signal: &SignalBuffer,
        frame: usize,
        corrs: &[[f32; CORR_LEN]; SUBFRAMES],
    ) {
        let end = LTP_BUF_LEN - WEIGHTED_LOOKAHEAD;
        self.buf.copy_within(FRAME_LEN..end, 0);
        let origin = end - FRAME_LEN;
        let start = (frame * FRAME_LEN) as isize - FRAME_ADVANCE;
        let mut filters = [[0f32; PITCH_FILTER_LEN]; SUBFRAMES];
        for (f, r) in filters.iter_mut().zip(corrs) {
            weighting_filter(r, PITCH_EMPHASIS, f);
        }
        // The frame, its look-ahead and the filter's history, copied out once.
        const TAPS: usize = PITCH_FILTER_LEN - 1;
        let mut x = [0f32; TAPS + FRAME_LEN + WEIGHTED_LOOKAHEAD];
        signal.copy_from(start - TAPS as isize, &mut x);
        let filter_at = |pos: usize| &filters[(pos / SUBFRAME_LEN).min(SUBFRAMES - 1)];
        // Four outputs side by side (vector lanes; a subframe is a multiple of 4 long), each
        // summing its taps in order.
        const GROUPS: usize = (FRAME_LEN + WEIGHTED_LOOKAHEAD) / 4;
        for (g, out) in self.buf[origin..origin + 4 * GROUPS]
            .chunks_exact_mut(4)
            .enumerate()
        {
            let pos = 4 * g;
            let a = filter_at(pos);
            let mut acc = [0f32; 4];
            acc.copy_from_slice(&x[TAPS + pos..TAPS + pos + 4]);
            for (j, &c) in a.iter().enumerate().skip(1) {
                let v = &x[TAPS + pos - j..TAPS + pos - j + 4];
                for l in 0..4 {
                    acc[l] += c * v[l];
                }
            }
            out.copy_from_slice(&acc);
        }
        for pos in 4 * GROUPS..FRAME_LEN + WEIGHTED_LOOKAHEAD {
            let mut acc = x[TAPS + pos];
            for (j, &c) in filter_at(pos).iter().enumerate().skip(1) {
                acc += c * x[TAPS + pos - j];
            }
            self.buf[origin + pos] = acc;
        }
    }

    /// The buffer, oldest sample first.
    pub fn buffer(&self) -> &[f32; LTP_BUF_LEN] {
        &self.buf
    }
}
