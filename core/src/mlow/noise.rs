//! Residual-energy decode and the shaped noise the decoder adds to the excitation before LPC
//! synthesis (mlow.md §2.9).
//!
//! - [`residual_energy`] turns a subframe's Q14 dB residual-energy level into linear energy with the
//!   reference's bit-cast exponential (exact `powf` is measurably wrong at the −85 dB floor).
//! - [`NoiseState::generate`] draws one subframe of noise. Voiced subframes get white noise shaped
//!   by a 3-tap MA filter whose spectrum is the "inverse" of the excitation's smoothed short-term
//!   spectrum, under the excitation's envelope. Unvoiced subframes get white noise under an affine
//!   envelope solved to hit the residual-energy target while continuing the previous envelope,
//!   placed only between the pulses; it is then high-passed with a corner that rises when the two
//!   lowest LSFs are close. A voiced subframe after an unvoiced one cross-fades the unvoiced noise
//!   out.
//!
//! The generator is deterministic: its pseudo-random sequence is a 32-bit LCG whose seed is part
//! of the state and advances a fixed number of times per subframe.

use libm::{expf, logf, sqrtf};

use super::excitation::{fcb_gain, sigmoid};

/// Longest subframe the generator handles (low-rate geometry, 10 ms).
pub const MAX_SUBFRAME_LEN: usize = 160;

/// Bias subtracted from the decoded linear residual energy (−85 dB).
const RES_NRG_BIAS: f32 = 3.1622776e-9;
/// Voiced noise level relative to the excitation.
const VOICED_NOISE_GAIN: f32 = 0.35;
/// Unvoiced noise output gain.
const UNVOICED_NOISE_GAIN: f32 = 0.8;
/// Base corner of the unvoiced noise high-pass, Hz.
const UNVOICED_CORNER_HZ: f32 = 800.0;
/// Envelope smoothing: voiced, unvoiced, and the unvoiced fade-out in a voiced subframe.
const ENV_SMOOTH_VOICED: f32 = 0.95;
const ENV_SMOOTH_UNVOICED: f32 = 0.995;
const ENV_FADE: f32 = 0.99;
/// Final MA shaping of the voiced noise.
const VOICED_OUT_MA: [f32; 3] = [0.25, -0.496, 0.25];
/// The reference's π literal.
#[allow(clippy::approx_constant)]
const PI: f32 = 3.141_592_7;

/// `basis[j][i] = cos(j · (i + ½) · π / 16) / 4`: maps a 3-lag autocorrelation to a 16-bin power
/// spectrum and back (the angles are accumulated in f32 like the reference; see the test).
#[allow(clippy::excessive_precision)]
const SPECTRUM_BASIS: [[f32; 16]; 3] = [
    [0.25; 16],
    [
        0.24879617989063263,
        0.23923508822917938,
        0.2204803079366684,
        0.19325260818004608,
        0.15859831869602203,
        0.11784916371107101,
        0.07257115840911865,
        0.0245042834430933,
        -0.02450430579483509,
        -0.07257118076086044,
        -0.1178492084145546,
        -0.15859831869602203,
        -0.19325262308120728,
        -0.22048033773899078,
        -0.23923508822917938,
        -0.24879617989063263,
    ],
    [
        0.24519631266593933,
        0.20786739885807037,
        0.1388925462961197,
        0.04877255856990814,
        -0.04877258092164993,
        -0.13889259099960327,
        -0.20786741375923157,
        -0.24519632756710052,
        -0.24519631266593933,
        -0.20786738395690918,
        -0.1388925015926361,
        -0.04877259582281113,
        0.048772603273391724,
        0.13889260590076447,
        0.20786739885807037,
        0.24519632756710052,
    ],
];

/// Linear residual energy of one subframe from its Q14 dB level (≤ 0 dB; −85 dB is the floor):
/// `max(0, 10^(dB/10) − 10^(−8.5)) · subframe_len`.
///
/// `10^(dB/10)` is the reference's fast exponential: the IEEE-754 bit pattern of the result is an
/// affine function of the level, i.e. exact at the grid points of the exponent and piecewise
/// linear in between. It must be reproduced: it differs from `powf` by up to 0.33 dB and keeps a
/// non-zero energy at the floor.
pub fn residual_energy(dbq_q14: i32, subframe_len: usize) -> f32 {
    let lin = (fast_pow10_db10(dbq_q14) - RES_NRG_BIAS).max(0.0);
    lin * subframe_len as f32
}

/// `≈ 10^(q / 2^14 / 10)` by writing a scaled, offset level straight into an f32 bit pattern.
fn fast_pow10_db10(q14: i32) -> f32 {
    let bits = q14 as f32 * (1.0 / 16384.0) * 0.1 * 27_749_388.0 + 1_064_866_816.0;
    // Saturating like the reference's range-checked cast (a negative pattern yields a negative
    // float, which the caller clamps to zero).
    f32::from_bits(bits as i32 as u32)
}

/// One subframe's inputs to the noise generator.
#[derive(Clone, Copy, Debug)]
pub struct NoiseInput<'a> {
    /// The subframe's pre-noise excitation (FCB + ACB), 80 or 160 samples.
    pub excitation: &'a [f32],
    /// Voicing of the internal frame.
    pub voiced: bool,
    /// Pulses in this subframe.
    pub pulses: u32,
    /// Linear residual energy from [`residual_energy`] (only used when unvoiced).
    pub residual_energy: f32,
    /// The subframe's unvoiced FCB gain index (caps the noise between pulses).
    pub fcb_gain_index: usize,
    /// The two lowest interpolated LSFs of the subframe, radians.
    pub lsf_low: [f32; 2],
    /// The frame's [`super::excitation::normalized_bitrate`].
    pub normalized_bitrate: f32,
}

/// Noise generator state carried across subframes, frames and packets; zero at decoder start.
///
/// Size: 11 × 4 bytes of filter memory, seed, run length and a flag: 56 bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NoiseState {
    /// Envelope smoother memory.
    pub(crate) env_smooth: f32,
    /// Envelope gain at the end of the previous subframe.
    pub(crate) env_last: f32,
    /// Unvoiced high-pass state (MA input, AR output).
    pub(crate) uv_filter: [f32; 2],
    /// Voiced output MA state (last two inputs).
    pub(crate) v_filter: [f32; 2],
    /// Smoothed 3-lag autocorrelation of voiced excitation.
    pub(crate) corr_smooth: [f32; 3],
    /// Voiced shaping MA state (last two inputs).
    pub(crate) shape_filter: [f32; 2],
    /// Whether the previous subframe was voiced.
    pub(crate) prev_voiced: bool,
    /// Voiced subframes since the last unvoiced one.
    pub(crate) voiced_run: i32,
    /// LCG seed.
    pub(crate) seed: i32,
}

impl NoiseState {
    /// A fresh generator (all zero).
    pub const fn new() -> Self {
        Self {
            env_smooth: 0.0,
            env_last: 0.0,
            uv_filter: [0.0; 2],
            v_filter: [0.0; 2],
            corr_smooth: [0.0; 3],
            shape_filter: [0.0; 2],
            prev_voiced: false,
            voiced_run: 0,
            seed: 0,
        }
    }

    /// Generates one subframe of noise into `out` (to be added to the excitation).
    ///
    /// The subframe length is `min(excitation.len(), out.len(), 160)` rounded down to a multiple
    /// of 4 (80 or 160 in every MLow geometry); samples of `out` past it are left untouched.
    pub fn generate(&mut self, input: &NoiseInput<'_>, out: &mut [f32]) {
        let len = input.excitation.len().min(out.len()).min(MAX_SUBFRAME_LEN) & !3;
        if len == 0 {
            return;
        }
        // The high-rate geometry's 80-sample subframe gets its own instance: scratch of the
        // right size (no zeroing of unused halves) and loops of known length.
        if len == MAX_SUBFRAME_LEN / 2 {
            self.generate_in::<{ MAX_SUBFRAME_LEN / 2 }>(input, &mut out[..len], len);
        } else {
            self.generate_in::<MAX_SUBFRAME_LEN>(input, &mut out[..len], len);
        }
    }

    /// [`NoiseState::generate`] for `len <= N` samples (`len` a non-zero multiple of 4).
    #[inline(always)]
    fn generate_in<const N: usize>(&mut self, input: &NoiseInput<'_>, out: &mut [f32], len: usize) {
        let exc = &input.excitation[..len];
        let mut shaped_v = [0.0f32; N];
        let mut noise_uv = [0.0f32; N];
        let shaped_v = &mut shaped_v[..len];
        let noise_uv = &mut noise_uv[..len];

        let energy_ratio = if input.voiced {
            self.voiced_noise::<N>(exc, shaped_v, noise_uv);
            1.0
        } else {
            self.corr_smooth = [0.0; 3];
            self.shape_filter = [0.0; 2];
            self.unvoiced_noise::<N>(input, exc, noise_uv)
        };

        if self.prev_voiced || input.voiced {
            ma2(shaped_v, VOICED_OUT_MA, &mut self.v_filter, out);
        } else {
            out.fill(0.0);
        }
        if self.voiced_run < 2 || !input.voiced {
            self.add_unvoiced(noise_uv, input.lsf_low, energy_ratio, out);
        } else {
            self.uv_filter = [0.0; 2];
        }
        self.prev_voiced = input.voiced;
        self.voiced_run = if input.voiced { self.voiced_run + 1 } else { 0 };
    }

    /// Voiced branch: spectrally shaped noise into `shaped`, and the fade-out of the unvoiced noise
    /// into `fade` on the first voiced subframe.
    fn voiced_noise<const N: usize>(&mut self, exc: &[f32], shaped: &mut [f32], fade: &mut [f32]) {
        let len = exc.len();
        // White noise under the excitation's envelope first, so that its energy and the
        // excitation's three autocorrelation lags can be summed in one pass below.
        let mut white = [0.0f32; N];
        let white = &mut white[..len];
        self.white_noise(white);
        if !self.prev_voiced {
            self.env_smooth = self.env_last;
        }
        let mut env = [0.0f32; N];
        let env = &mut env[..len];
        envelope::<false>(exc, ENV_SMOOTH_VOICED, &mut self.env_smooth, env);

        // Four independent chains in one loop, each still adding its terms in index order (one
        // after the other they cost the sum of their latencies).
        let [mut c0, mut c1, mut c2, mut noise_energy] = [0.0f32; 4];
        let mut noise = white.iter_mut().zip(env.iter());
        for (((&x, &x1), &x2), (w, &e)) in exc.iter().zip(&exc[1..]).zip(&exc[2..]).zip(&mut noise)
        {
            c0 += x * x;
            c1 += x * x1;
            c2 += x * x2;
            *w *= e;
            noise_energy += *w * *w;
        }
        for (w, &e) in noise {
            *w *= e;
            noise_energy += *w * *w;
        }
        let [.., a, b] = exc else { return };
        c0 += a * a;
        c1 += a * b;
        c0 += b * b;
        let mut corr = [c0, c1, c2];
        corr[0] += 1e-12;
        let smooth = if len == MAX_SUBFRAME_LEN { 0.4 } else { 0.16 };
        for (s, c) in self.corr_smooth.iter_mut().zip(&corr) {
            *s += smooth * (c - *s);
        }
        let scale = VOICED_NOISE_GAIN * VOICED_NOISE_GAIN * corr[0] / self.corr_smooth[0];
        let mut target = self.corr_smooth.map(|c| c * scale);
        target[1] *= 2.0;
        target[2] *= 2.0;
        let target = invert_spectrum(target);

        let inv = 1.0 / (noise_energy + 1e-12);
        let ma = spectral_factor(target.map(|t| t * inv));
        ma2(white, ma, &mut self.shape_filter, shaped);

        if !self.prev_voiced {
            self.white_noise(fade);
            let mut gain = self.env_last * ENV_FADE;
            for pair in fade.chunks_exact_mut(2) {
                pair[0] *= gain;
                pair[1] *= gain * ENV_FADE;
                gain *= ENV_FADE * ENV_FADE;
            }
        }
        self.env_last = env[len - 1];
    }

    /// Unvoiced branch: enveloped noise into `noise`; returns the excitation-to-target energy ratio
    /// (0 without pulses).
    fn unvoiced_noise<const N: usize>(
        &mut self,
        input: &NoiseInput<'_>,
        exc: &[f32],
        noise: &mut [f32],
    ) -> f32 {
        let len = exc.len();
        let nrgres = input.residual_energy;
        let mut env = [0.0f32; N];
        let env = &mut env[..len];
        let (ratio, target, sums) = if input.pulses > 0 {
            let sums = envelope::<true>(exc, ENV_SMOOTH_UNVOICED, &mut self.env_smooth, env);
            let ratio = sums.input_energy / (nrgres + 1e-20);
            let hardness = 10.0 + 20.0 * input.normalized_bitrate;
            // Soft floor: the noise fills the part of the target the pulses leave.
            let target = nrgres * logf(expf(hardness * (1.0 - ratio)) + 1.0) / hardness;
            (ratio, target, sums)
        } else {
            decaying_envelope(ENV_SMOOTH_UNVOICED, &mut self.env_smooth, env);
            (0.0, nrgres, EnvelopeSums::of(env))
        };
        let (offset, slope) = envelope_gain(env, &sums, target, self.env_last);

        self.white_noise(noise);
        if input.pulses > 0 {
            let cap = fcb_gain(false, input.fcb_gain_index) * 0.5;
            for ((n, e), x) in noise.iter_mut().zip(env.iter()).zip(exc) {
                if *x == 0.0 {
                    *n *= (offset + slope * e).min(cap);
                } else {
                    *n = 0.0;
                }
            }
            self.env_last = (offset + slope * env[len - 1]).min(cap);
        } else {
            for (n, e) in noise.iter_mut().zip(env.iter()) {
                *n *= offset + slope * e;
            }
            self.env_last = offset + slope * env[len - 1];
        }
        ratio
    }

    /// High-passes the unvoiced noise and adds it to `out`. The corner starts at 800 Hz (lower when
    /// the pulses carry little of the energy), rises towards three times the mean of the two lowest
    /// LSFs when they are close (a low formant), and is capped at 1500 Hz.
    fn add_unvoiced(&mut self, noise: &[f32], lsf: [f32; 2], ratio: f32, out: &mut [f32]) {
        let lsf_hz = 16000.0 * (lsf[0] + lsf[1]) / (4.0 * PI);
        let formant_corner = lsf_hz * 3.0 * sigmoid(0.2 / (lsf[1] - lsf[0] + 1e-30) - 3.0);
        let corner = (UNVOICED_CORNER_HZ * (0.6 + 0.4 * ratio).min(1.0))
            .max(formant_corner)
            .min(1500.0);
        let k = 6.0 * corner / 16000.0;
        let ma = (1.0 - 0.5 * k) * UNVOICED_NOISE_GAIN;
        let pole = 1.0 - k;
        let [mut x_prev, mut y_prev] = self.uv_filter;
        for (o, &x) in out.iter_mut().zip(noise) {
            let diff = ma * x + -ma * x_prev;
            y_prev = diff + y_prev * pole;
            x_prev = x;
            *o += y_prev;
        }
        self.uv_filter = [x_prev, y_prev];
    }

    /// White noise from the LCG: each draw gives four samples (the seed shifted left by 0, 8, 16
    /// and 24 bits, read as signed); a tail shorter than four draws once per sample.
    fn white_noise(&mut self, out: &mut [f32]) {
        const SCALE: f32 = 8.1e-10;
        let mut quads = out.chunks_exact_mut(4);
        for quad in &mut quads {
            let s = self.next_seed() as u32;
            for (k, o) in quad.iter_mut().enumerate() {
                *o = SCALE * ((s << (8 * k)) as i32) as f32;
            }
        }
        for o in quads.into_remainder() {
            *o = SCALE * self.next_seed() as f32;
        }
    }

    fn next_seed(&mut self) -> i32 {
        self.seed =
            907_633_515i32.wrapping_add((self.seed as u32).wrapping_mul(196_314_165) as i32);
        self.seed
    }
}

/// Maps scaled autocorrelation lags to a 16-bin spectrum, flips it under 1.5 × its peak and maps
/// the result back to three lags: the target autocorrelation of the voiced noise.
fn invert_spectrum(c: [f32; 3]) -> [f32; 3] {
    let mut spec = [0.0f32; 16];
    for (i, s) in spec.iter_mut().enumerate() {
        *s = SPECTRUM_BASIS[0][i] * c[0];
    }
    for (row, &cj) in SPECTRUM_BASIS.iter().zip(&c).skip(1) {
        for (s, b) in spec.iter_mut().zip(row) {
            *s += b * cj;
        }
    }
    let peak = spec[1..]
        .iter()
        .fold(spec[0], |m, &v| if v > m { v } else { m })
        * 1.5;
    spec.iter_mut().for_each(|s| *s = peak - *s);
    SPECTRUM_BASIS.map(|row| {
        let mut acc = 0.0f32;
        for (b, s) in row.iter().zip(&spec) {
            acc += b * s;
        }
        acc
    })
}

/// Spectral factorisation of a 3-lag autocorrelation `c` into a 3-tap MA filter `a` with
/// `a ⋆ a = c`: two Gauss–Newton steps on the normalised taps `(r1, r2)`, then the gain.
fn spectral_factor(c: [f32; 3]) -> [f32; 3] {
    let c0 = c[0] + 1e-30;
    let inv_c0 = 1.0 / c0;
    let mut r2 = c[2] * inv_c0;
    let mut r1 = c[1] / (c0 * (1.0 + r2));
    for _ in 0..2 {
        // Model lags of (1, r1, r2): v0 = 1 + r1² + r2², v1 = r1 + r1·r2; residuals against c/c0·v0.
        let v0 = 1.0 + r1 * r1 + r2 * r2;
        let v1 = r1 + r1 * r2;
        let s = -2.0 / v0;
        let d0 = s * r1;
        let d1 = s * r2;
        let s = v0 * inv_c0;
        let e1 = s * c[1] - v1;
        let e2 = s * c[2] - r2;
        // Jacobian columns (rows j0, j1, j2) and the 2×2 normal equations.
        let j00 = 2.0 * r1 + v0 * d0;
        let j01 = 2.0 * r2 + v0 * d1;
        let mut n00 = j00 * j00;
        let mut n01 = j00 * j01;
        let mut n11 = j01 * j01;
        let j10 = 1.0 + r2 + v1 * d0;
        let j11 = r1 + v1 * d1;
        n00 += j10 * j10;
        n01 += j10 * j11;
        n11 += j11 * j11;
        let mut g0 = j10 * e1;
        let mut g1 = j11 * e1;
        let j20 = r2 * d0;
        let j21 = 1.0 + r2 * d1;
        n00 += j20 * j20;
        n01 += j20 * j21;
        n11 += j21 * j21;
        g0 += j20 * e2;
        g1 += j21 * e2;
        let det = n00 * n11 - n01 * n01;
        if det < 1e-4 {
            break;
        }
        let inv_det = 1.0 / det;
        r1 += (n11 * g0 - n01 * g1) * inv_det;
        r2 += (-n01 * g0 + n00 * g1) * inv_det;
    }
    let gain = sqrtf(c0 / (1.0 + r1 * r1 + r2 * r2));
    [gain, gain * r1, gain * r2]
}

/// Solves the affine gain `offset + slope · env[i]` whose mean energy is `target / len` and which
/// starts at `prev` (the previous subframe's final gain) when possible; otherwise the better of the
/// pure offset or pure slope solutions.
fn envelope_gain(env: &[f32], sums: &EnvelopeSums, target: f32, prev: f32) -> (f32, f32) {
    let inv_len = 1.0 / env.len() as f32;
    let target = target * inv_len + 1e-30;
    let env_energy = sums.energy * inv_len;
    let offset = sqrtf(target);
    let slope = sqrtf(target / env_energy);
    let slope_start = slope * env[0];
    if prev < offset.min(slope_start) {
        if offset < slope_start {
            (offset, 0.0)
        } else {
            (0.0, slope)
        }
    } else if prev > offset.max(slope_start) {
        if offset > slope_start {
            (offset, 0.0)
        } else {
            (0.0, slope)
        }
    } else {
        // offset = prev − env[0]·slope; mean((offset + slope·env)²) = target is quadratic in slope.
        let env_mean = sums.sum * inv_len;
        let a = env_energy + env[0] * env[0] - 2.0 * env_mean * env[0];
        let b = 2.0 * prev * (env_mean - env[0]);
        let c = prev * prev - target;
        let disc = b * b - 4.0 * a * c;
        if disc < 1e-35 || a < 1e-25 {
            (0.0, 0.0)
        } else {
            let root = sqrtf(disc);
            let half_inv_a = 0.5 / a;
            let slope = (-b + root) * half_inv_a;
            let offset = prev - env[0] * slope;
            if offset < 0.0 {
                let slope = (-b - root) * half_inv_a;
                (prev - env[0] * slope, slope)
            } else {
                (offset, slope)
            }
        }
    }
}

/// Sums over an envelope (and, from [`envelope`], over its input), each added in index order.
#[derive(Clone, Copy, Debug, Default)]
struct EnvelopeSums {
    /// Σ x², the input's energy (only filled by [`envelope`] with `SUMS`).
    input_energy: f32,
    /// Σ env².
    energy: f32,
    /// Σ env.
    sum: f32,
}

impl EnvelopeSums {
    /// The envelope's energy and sum (two chains in one pass).
    fn of(env: &[f32]) -> Self {
        let mut sums = Self::default();
        for &e in env {
            sums.energy += e * e;
            sums.sum += e;
        }
        sums
    }
}

/// Envelope of `x`: one-pole smoothing of the squared signal over sample pairs (`coef` applies per
/// sample of the magnitude), evaluated in blocks of four like the reference; `state` carries the
/// last envelope value. With `SUMS` the same pass also sums the input's energy and the envelope's
/// energy and sum (independent chains that overlap with the smoother's instead of following it).
fn envelope<const SUMS: bool>(
    x: &[f32],
    coef: f32,
    state: &mut f32,
    env: &mut [f32],
) -> EnvelopeSums {
    let c = coef * coef;
    let mut s = *state + 1e-8;
    s *= s;
    let gain = 1.0 - c;
    let c2 = c * c;
    let gain_c = gain * c;
    let mut sums = EnvelopeSums::default();
    for (xs, es) in x.chunks_exact(4).zip(env.chunks_exact_mut(4)) {
        let p0 = xs[0] * xs[0] + xs[1] * xs[1];
        let p1 = xs[2] * xs[2] + xs[3] * xs[3];
        let y1 = gain * p1 + gain_c * p0 + c2 * s;
        let y0 = gain * p0 + c * s;
        es[0] = sqrtf(y0);
        es[1] = es[0];
        es[2] = sqrtf(y1);
        es[3] = es[2];
        s = y1;
        if SUMS {
            for (&v, &e) in xs.iter().zip(es.iter()) {
                sums.input_energy += v * v;
                sums.energy += e * e;
                sums.sum += e;
            }
        }
    }
    *state = env[env.len() - 1];
    sums
}

/// Envelope without excitation: the previous value decaying by `coef` per sample pair.
fn decaying_envelope(coef: f32, state: &mut f32, env: &mut [f32]) {
    let len = env.len();
    let coef2 = coef * coef;
    env[0] = (*state + 1e-8) * coef;
    env[1] = env[0];
    let mut i = 2;
    while i + 2 < len {
        env[i + 2] = env[i - 1] * coef2;
        env[i + 3] = env[i + 2];
        env[i] = env[i - 1] * coef;
        env[i + 1] = env[i];
        i += 4;
    }
    env[len - 2] = env[len - 3] * coef;
    env[len - 1] = env[len - 2];
    *state = env[len - 1];
}

/// Three-tap FIR `y[n] = c0·x[n] + c1·x[n−1] + c2·x[n−2]`; `state` holds `[x[−1], x[−2]]`.
/// Filters `min(x.len(), y.len(), 160)` samples.
fn ma2(x: &[f32], c: [f32; 3], state: &mut [f32; 2], y: &mut [f32]) {
    let n = x.len().min(y.len()).min(MAX_SUBFRAME_LEN);
    // The input behind its two-sample history, so that each output reads three plain slices
    // (no loop-carried registers: the loop vectorises).
    let mut ext = [0.0f32; MAX_SUBFRAME_LEN + 2];
    ext[..2].copy_from_slice(&[state[1], state[0]]);
    ext[2..n + 2].copy_from_slice(&x[..n]);
    for (((o, &v), &v1), &v2) in y[..n].iter_mut().zip(&ext[2..]).zip(&ext[1..]).zip(&ext) {
        *o = c[0] * v + c[1] * v1 + c[2] * v2;
    }
    *state = [ext[n + 1], ext[n]];
}

#[cfg(feature = "kat")]
pub mod kat {
    //! Known-answer check of the generator on `gennoise_vectors.json` (30 reference subframes
    //! with the state before and after), run on the host and on the Cortex-M4 target.

    use alloc::format;
    use alloc::string::String;

    use super::{NoiseInput, NoiseState};
    use crate::kat::{Failure, Vectors, float, int};

    fn state(v: &dyn Vectors, at: &str) -> Result<NoiseState, Failure> {
        let f = |k: &str| float(v, &format!("{at}.{k}")).map(|x| x as f32);
        Ok(NoiseState {
            env_smooth: f("env_smth")?,
            env_last: f("env_last")?,
            uv_filter: [f("out_state_uv.0")?, f("out_state_uv.1")?],
            v_filter: [f("out_state_v.0")?, f("out_state_v.1")?],
            corr_smooth: [f("corr_smth.0")?, f("corr_smth.1")?, f("corr_smth.2")?],
            shape_filter: [f("shape_state.0")?, f("shape_state.1")?],
            prev_voiced: int(v, &format!("{at}.prev_voiced"))? != 0,
            voiced_run: int(v, &format!("{at}.since_unvoiced"))? as i32,
            seed: int(v, &format!("{at}.rand_seed"))? as i32,
        })
    }

    fn close(at: String, got: f32, want: f32, tol: f32) -> Result<(), Failure> {
        if (got - want).abs() <= tol {
            Ok(())
        } else {
            Err(Failure {
                at,
                what: "beyond tolerance",
            })
        }
    }

    /// Each subframe from its recorded input state: seed exact, noise and state within 1e-6
    /// absolute and the noise within 1e-4 of the subframe's peak.
    pub fn reference_subframes(v: &dyn Vectors) -> Result<(), Failure> {
        for r in 0..int(v, "#")? {
            let f = |k: &str| float(v, &format!("{r}.{k}")).map(|x| x as f32);
            let mut exc = [0.0f32; 80];
            for (i, e) in exc.iter_mut().enumerate() {
                *e = f(&format!("exc_pre.{i}"))?;
            }
            let mut s = state(v, &format!("{r}.ng_in"))?;
            let input = NoiseInput {
                excitation: &exc,
                voiced: int(v, &format!("{r}.voiced"))? == 1,
                pulses: int(v, &format!("{r}.sf_pulses"))? as u32,
                residual_energy: f("nrgres")?,
                fcb_gain_index: int(v, &format!("{r}.fcbg_idx"))? as usize,
                lsf_low: [f("lsf.0")?, f("lsf.1")?],
                normalized_bitrate: f("norm_br")?,
            };
            let mut out = [0.0f32; 80];
            s.generate(&input, &mut out);
            let want = state(v, &format!("{r}.ng_out"))?;
            let seed_ok = s.seed == int(v, &format!("{r}.seed_out"))? as i32 && s.seed == want.seed;
            let flags_ok = s.prev_voiced == want.prev_voiced && s.voiced_run == want.voiced_run;
            if !seed_ok || !flags_ok {
                return Err(Failure {
                    at: format!("{r}.ng_out"),
                    what: "seed or voicing history differs",
                });
            }
            let mut peak = 0.0f32;
            for i in 0..80 {
                peak = peak.max(f(&format!("noise.{i}"))?.abs());
            }
            for (i, o) in out.iter().enumerate() {
                let w = f(&format!("noise.{i}"))?;
                close(format!("{r}.noise.{i}"), *o, w, 1e-6_f32.min(1e-4 * peak))?;
            }
            let pairs = [
                (s.env_smooth, want.env_smooth),
                (s.env_last, want.env_last),
                (s.uv_filter[0], want.uv_filter[0]),
                (s.uv_filter[1], want.uv_filter[1]),
                (s.v_filter[0], want.v_filter[0]),
                (s.v_filter[1], want.v_filter[1]),
            ];
            for (g, w) in pairs {
                close(format!("{r}.ng_out"), g, w, 1e-6)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
