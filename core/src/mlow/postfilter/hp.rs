//! Per-frame HP (pitch) post-filter.

use libm::cosf;

/// Samples per internal frame (20 ms at 16 kHz).
pub const FRAME_LEN: usize = 320;

/// De-/pre-emphasis coefficient around the comb.
const EMPHASIS: f32 = 0.995;
/// A new lag beyond this ratio of the old one cross-fades the old and new filters over a frame.
const LAG_JUMP: f32 = 1.25;
/// Corner of the unvoiced (default) curve, Hz.
const DEFAULT_CORNER_HZ: f32 = 50.0;

/// A biquad design curve: zero pair at `2π·ma_freq·f`, pole pair at angle `2π·(p0·f + p1·f²)` and
/// radius `1 + (r0·f + r1·f²)`, for a normalised frequency `f`.
struct Curve {
    ma_freq: f32,
    pole_angle: [f32; 2],
    pole_radius: [f32; 2],
}

/// Voiced frames: a mild (1.2 dB) resonance at the pitch, `f = 1 / lag`.
#[allow(clippy::excessive_precision)]
const PITCH_CURVE: Curve = Curve {
    ma_freq: 0.1,
    pole_angle: [0.608057355, 0.070939485],
    pole_radius: [-2.187380512, 2.291030664],
};
/// Unvoiced frames: a high-pass at 50 Hz.
#[allow(clippy::excessive_precision)]
const DEFAULT_CURVE: Curve = Curve {
    ma_freq: 0.1,
    pole_angle: [0.728508218, 0.476039848],
    pole_radius: [-4.363803713, 8.441854006],
};

/// HP post-filter state; fresh at decoder start.
///
/// Size: 333 × 4 = 1332 bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct HpPostfilter {
    /// De-emphasis memory (last output).
    pub(crate) deemph: f32,
    /// Pre-emphasis memory (last input).
    pub(crate) preemph: f32,
    /// Comb memory: `[x[−1], x[−2], y[−1], y[−2]]`.
    pub(crate) comb: [f32; 4],
    /// Lag the current coefficients were designed for; negative before the first frame.
    pub(crate) lag_old: f32,
    /// The previous frame after de-emphasis (warms up new coefficients on a lag jump).
    pub(crate) x_old: [f32; FRAME_LEN],
    /// Current comb numerator.
    pub(crate) ma: [f32; 3],
    /// Current comb denominator (monic).
    pub(crate) ar: [f32; 3],
}

impl Default for HpPostfilter {
    fn default() -> Self {
        Self::new()
    }
}

impl HpPostfilter {
    /// A fresh filter.
    pub const fn new() -> Self {
        Self {
            deemph: 0.0,
            preemph: 0.0,
            comb: [0.0; 4],
            lag_old: -1.0,
            x_old: [0.0; FRAME_LEN],
            ma: [0.0; 3],
            ar: [0.0; 3],
        }
    }

    /// The comb lag of a frame from its eight 40-sample block lags: `Σl² / Σl` when voiced, else 0
    /// (which selects the 50 Hz high-pass).
    pub fn frame_lag(voiced: bool, block_lags: &[f32; 8]) -> f32 {
        if !voiced {
            return 0.0;
        }
        let (mut sum, mut sum_sq) = (0.0f32, 0.0f32);
        for &l in block_lags {
            sum += l;
            sum_sq += l * l;
        }
        if sum > 0.0 { sum_sq / sum } else { 0.0 }
    }

    /// Filters one internal frame in place with comb lag `lag` (see [`Self::frame_lag`]).
    pub fn process(&mut self, lag: f32, frame: &mut [f32; FRAME_LEN]) {
        let jump =
            self.lag_old >= 0.0 && (lag > LAG_JUMP * self.lag_old || LAG_JUMP * lag < self.lag_old);
        if jump {
            self.deemph = deemphasis(self.deemph, frame);
            // Finish the frame with the old filter, then warm the new one up on the previous frame.
            let mut old_out = *frame;
            comb_filter(self.ma, self.ar, &mut self.comb, &mut old_out);
            self.redesign(lag);
            let mut warm = self.x_old;
            comb_filter(self.ma, self.ar, &mut self.comb, &mut warm);
            self.x_old = *frame;
            comb_filter(self.ma, self.ar, &mut self.comb, frame);

            // Old filter fades out as cos²: the angle steps by π / (2·(N + 1)), accumulated.
            let step = core::f32::consts::PI / (2.0 * (FRAME_LEN as f32 + 1.0));
            let mut angle = step;
            for (y, old) in frame.iter_mut().zip(&old_out) {
                let c = cosf(angle);
                *y += (old - *y) * (c * c);
                angle += step;
            }
        } else {
            if self.lag_old < 0.0 || lag != self.lag_old {
                self.redesign(lag);
            }
            self.deemphasis_and_comb(frame);
        }

        // Pre-emphasis from a copy of the input (each output reads two plain slices; vectorises).
        let input = *frame;
        frame[0] = input[0] + -EMPHASIS * self.preemph;
        for ((y, &x), &prev) in frame[1..].iter_mut().zip(&input[1..]).zip(&input) {
            *y = x + -EMPHASIS * prev;
        }
        self.preemph = input[FRAME_LEN - 1];
    }

    /// De-emphasis and the comb biquad in one pass (same operations in the same order as
    /// [`deemphasis`] then [`comb_filter`], with the de-emphasised frame kept as `x_old`): the
    /// two recursions are independent chains, so they overlap instead of running one after the
    /// other.
    fn deemphasis_and_comb(&mut self, frame: &mut [f32; FRAME_LEN]) {
        let [b0, b1, b2] = self.ma;
        let (a1, a2) = (-self.ar[1], -self.ar[2]);
        let [mut x1, mut x2, mut y1, mut y2] = self.comb;
        let mut d = self.deemph;
        for (v, old) in frame.iter_mut().zip(&mut self.x_old) {
            d = *v + d * EMPHASIS;
            *old = d;
            let m = b0 * d + b1 * x1 + b2 * x2;
            x2 = x1;
            x1 = d;
            let y = m + a1 * y1 + a2 * y2;
            y2 = y1;
            y1 = y;
            *v = y;
        }
        self.deemph = d;
        self.comb = [x1, x2, y1, y2];
    }

    /// New comb coefficients for `lag` (the pitch curve at `f = 1/lag`, else the 50 Hz default).
    fn redesign(&mut self, lag: f32) {
        (self.ma, self.ar) = if lag > 0.0 {
            design(&PITCH_CURVE, 1.0 / lag)
        } else {
            design(&DEFAULT_CURVE, DEFAULT_CORNER_HZ / 16000.0)
        };
        self.lag_old = lag;
    }
}

/// Small-angle cosine used by the design (`1 − x²/2`).
fn cos_small(x: f32) -> f32 {
    1.0 - 0.5 * x * x
}

/// Biquad `(numerator, monic denominator)` of a curve at normalised frequency `f`, numerator scaled
/// for unity gain at DC.
fn design(curve: &Curve, f: f32) -> ([f32; 3], [f32; 3]) {
    let two_pi = 2.0 * core::f32::consts::PI;
    let mut ma = [1.0, -2.0 * cos_small(two_pi * curve.ma_freq * f), 1.0];
    let angle = curve.pole_angle[0] * f + curve.pole_angle[1] * f * f;
    let radius = curve.pole_radius[0] * f + curve.pole_radius[1] * f * f;
    let ar = [
        1.0,
        -2.0 * cos_small(two_pi * angle) * (1.0 + radius),
        1.0 + (2.0 * radius + radius * radius),
    ];
    let dc = (1.0 - ar[1] + ar[2]) / (1.0 - ma[1] + ma[2]);
    for c in &mut ma {
        *c *= dc;
    }
    (ma, ar)
}

/// De-emphasis `y[n] = x[n] + 0.995·y[n−1]` in place; returns the new memory.
fn deemphasis(mut y: f32, x: &mut [f32]) -> f32 {
    for v in x.iter_mut() {
        y = *v + y * EMPHASIS;
        *v = y;
    }
    y
}

/// The comb biquad in place: three-tap FIR, then the two-pole recursion; `state` is
/// `[x[−1], x[−2], y[−1], y[−2]]`.
fn comb_filter(ma: [f32; 3], ar: [f32; 3], state: &mut [f32; 4], x: &mut [f32; FRAME_LEN]) {
    let [x1, x2, y1, y2] = *state;
    // The input behind its two-sample history, so that each output reads three plain slices
    // (no loop-carried registers: the FIR vectorises).
    let mut ext = [0.0f32; FRAME_LEN + 2];
    ext[..2].copy_from_slice(&[x2, x1]);
    ext[2..].copy_from_slice(x);
    for (((v, &input), &x1), &x2) in x.iter_mut().zip(&ext[2..]).zip(&ext[1..]).zip(&ext) {
        *v = ma[0] * input + ma[1] * x1 + ma[2] * x2;
    }
    let [y1, y2] = two_pole(-ar[1], -ar[2], [y1, y2], x);
    *state = [ext[FRAME_LEN + 1], ext[FRAME_LEN], y1, y2];
}

/// `y[n] = x[n] + a1·y[n−1] + a2·y[n−2]` in place with memory `[y[−1], y[−2]]`; returns the new
/// memory.
///
/// The comb's poles sit close to the unit circle and its input is a near-cancelling second
/// difference, so one-ulp changes of evaluation order move the output by ~1e-5: the reference's
/// (fast-math) order is not recoverable, and this plain recursion measured closest among the
/// orders tried (including the reference port's 4-wide impulse-response form).
fn two_pole(a1: f32, a2: f32, mem: [f32; 2], x: &mut [f32]) -> [f32; 2] {
    let [mut y1, mut y2] = mem;
    for v in x.iter_mut() {
        let y = *v + a1 * y1 + a2 * y2;
        y2 = y1;
        y1 = y;
        *v = y;
    }
    [y1, y2]
}
