//! Excitation of the low-band CELP: fixed-codebook (FCB) pulses scaled by their gain, plus, in voiced
//! frames, the adaptive-codebook (ACB) / long-term-predictor contribution built from the excitation
//! history at the decoded pitch lags.
//!
//! Per 80-sample subframe the packet decoder:
//! 1. writes the FCB part with [`write_pulses`] (gain from [`fcb_gain`]);
//! 2. in a voiced frame, adds the ACB part with [`Ltp::predict`], using the two 40-sample block lags
//!    of the subframe and the gains from [`acb_gains`] (which applies the bitrate-dependent high
//!    boost; the bitrate comes from [`normalized_bitrate`]);
//! 3. always calls [`Ltp::push`] with the resulting excitation, *before* any noise is added (the
//!    reference history holds the noise-free excitation);
//! 4. then hands the same excitation to [`super::noise`].
//!
//! Only the high-rate (HR, 4 × 80-sample subframes per 20 ms frame) geometry is covered here; the
//! low-rate pitch sharpening and its gain codebook have no reference vectors yet.

use libm::{expf, floorf, log2f};

/// Samples per subframe at 16 kHz in the high-rate geometry (5 ms).
pub const SUBFRAME_LEN: usize = 80;
/// Samples per pitch-lag block (2.5 ms); each subframe carries two block lags.
pub const LAG_BLOCK_LEN: usize = 40;
/// Smallest pitch lag, in samples.
pub const MIN_LAG: f32 = 32.0;
/// Largest pitch lag, in samples.
pub const MAX_LAG: f32 = 320.0;
/// Number of voiced FCB gains (3 dB steps from −100 dB).
pub const FCB_GAINS_VOICED: usize = 34;
/// Number of unvoiced FCB gains (1 dB steps from −90 dB).
pub const FCB_GAINS_UNVOICED: usize = 91;

/// Half-width of the half-sample interpolation kernel (taps on each side).
const INTERP_HALF: usize = 8;
/// The 16-tap half-sample interpolation kernel of the long-term predictor.
#[allow(clippy::excessive_precision)]
const INTERP_KERNEL: [f32; 2 * INTERP_HALF] = [
    -6.3925986e-6,
    0.00011064114,
    -0.0009153038,
    0.00484772,
    -0.018698348,
    0.05759091,
    -0.15997477,
    0.6170455,
    0.61704546,
    -0.15997475,
    0.057590906,
    -0.018698348,
    0.00484772,
    -0.0009153038,
    0.000110641144,
    -6.392598e-6,
];

/// ACB high boost at normalised bitrate 0 and 1 (interpolated linearly in between).
const HIGH_BOOST_AT_0: f32 = 0.35;
const HIGH_BOOST_AT_1: f32 = 0.18;

/// The FCB gain for a decoded gain index: voiced `10^((3i − 100)/20)`, unvoiced `10^((i − 90)/20)`.
///
/// Out-of-range indices are clamped to the table (the parameter decoder never produces them).
pub fn fcb_gain(voiced: bool, index: usize) -> f32 {
    let bits = if voiced {
        FCB_GAIN_VOICED_BITS[index.min(FCB_GAINS_VOICED - 1)]
    } else {
        FCB_GAIN_UNVOICED_BITS[index.min(FCB_GAINS_UNVOICED - 1)]
    };
    f32::from_bits(bits)
}

/// IEEE-754 bit patterns of the voiced FCB gains, `libm::powf(10, 0.05 · (3i − 100))` in f32
/// precomputed (a `powf` per subframe was a visible share of the decode; a test recomputes them).
const FCB_GAIN_VOICED_BITS: [u32; FCB_GAINS_VOICED] = [
    0x3727c5ac, 0x376cfc0a, 0x37a75fe7, 0x37ec6c49, 0x3826fa6c, 0x386bdcf1, 0x38a6952e, 0x38eb4de6,
    0x39263028, 0x396abf33, 0x39a5cb5f, 0x39ea30d6, 0x3a2566d4, 0x3a69a2d8, 0x3aa50284, 0x3ae91528,
    0x3b249e72, 0x3b6887cd, 0x3ba43aa3, 0x3be7fac9, 0x3c23d70a, 0x3c676e1e, 0x3ca373ae, 0x3ce6e1c4,
    0x3d231090, 0x3d6655c3, 0x3da2adac, 0x3de5ca15, 0x3e224b06, 0x3e653eba, 0x3ea1e89b, 0x3ee4b3b6,
    0x3f21866c, 0x3f642906,
];

/// IEEE-754 bit patterns of the unvoiced FCB gains, `libm::powf(10, 0.05 · (i − 90))` in f32.
const FCB_GAIN_UNVOICED_BITS: [u32; FCB_GAINS_UNVOICED] = [
    0x3804a2b3, 0x3814d1c6, 0x3826fa6c, 0x383b5a4c, 0x3852368c, 0x386bdcf1, 0x3884523e, 0x3894778b,
    0x38a6952e, 0x38bae8a6, 0x38d1b717, 0x38eb4de6, 0x39040204, 0x39141d81, 0x39263028, 0x393a7753,
    0x395137e9, 0x396abf33, 0x3983b1f5, 0x3993c3b3, 0x39a5cb5f, 0x39ba063e, 0x39d0b907, 0x39ea30d6,
    0x3a03621c, 0x3a136a16, 0x3a2566d4, 0x3a39956e, 0x3a503a73, 0x3a69a2d8, 0x3a83126f, 0x3a9310b0,
    0x3aa50284, 0x3ab924e1, 0x3acfbc32, 0x3ae91528, 0x3b02c2f1, 0x3b12b780, 0x3b249e72, 0x3b38b4a0,
    0x3b4f3e37, 0x3b6887cd, 0x3b8273a5, 0x3b925e86, 0x3ba43aa3, 0x3bb8449c, 0x3bcec088, 0x3be7fac9,
    0x3c022488, 0x3c1205c7, 0x3c23d70a, 0x3c37d4dc, 0x3c4e432a, 0x3c676e1e, 0x3c81d59d, 0x3c91ad39,
    0x3ca373ae, 0x3cb76563, 0x3ccdc613, 0x3ce6e1c4, 0x3d0186e2, 0x3d1154e0, 0x3d231090, 0x3d36f62a,
    0x3d4d4948, 0x3d6655c3, 0x3d813855, 0x3d90fcc0, 0x3da2adac, 0x3db68736, 0x3dcccccd, 0x3de5ca15,
    0x3e00e9f9, 0x3e10a4d2, 0x3e224b06, 0x3e361887, 0x3e4c509b, 0x3e653eba, 0x3e809bcc, 0x3e904d1c,
    0x3ea1e89b, 0x3eb5aa19, 0x3ecbd4b4, 0x3ee4b3b6, 0x3f004dce, 0x3f0ff59a, 0x3f21866c, 0x3f353bef,
    0x3f4b5918, 0x3f642906, 0x3f800000,
];

/// Writes one subframe's FCB excitation: `exc[i] = pulses[i] · gain` (signed pulse magnitudes; zero
/// where there is no pulse). Uses `min(pulses.len(), exc.len())` samples and zeroes the rest of `exc`.
pub fn write_pulses(pulses: &[i8], gain: f32, exc: &mut [f32]) {
    let n = pulses.len().min(exc.len());
    exc[n..].fill(0.0);
    for (e, &p) in exc.iter_mut().zip(pulses) {
        // A select rather than a skipped store: pulses are sparse and their branch
        // unpredictable, and the select vectorises.
        *e = if p != 0 { f32::from(p) * gain } else { 0.0 };
    }
}

/// The reference's logistic function, saturated outside ±80.
pub(crate) fn sigmoid(x: f32) -> f32 {
    if x > 80.0 {
        1.0
    } else if x < -80.0 {
        0.0
    } else {
        1.0 / (1.0 + expf(-x))
    }
}

/// The normalised bitrate in (0, 1) of an internal frame: a logistic function of the pulse density,
/// `sigmoid(1.4 · log2(pulses_per_20ms + 1) − 6.5)`.
///
/// `frame_pulses` is the total pulse count of the internal frame and `frame_len_16` its length in
/// 16 kHz samples (320 for 20 ms frames, 160 for 10 ms packets). It sets the ACB high boost, the
/// noise hardness and (averaged per packet) the harmonic post-filter feedback.
pub fn normalized_bitrate(frame_pulses: u32, frame_len_16: usize) -> f32 {
    let per_20ms = (frame_pulses as f32 * frame_len_16 as f32) / (20.0 * 16.0);
    sigmoid(1.4 * log2f(per_20ms + 1.0) - 6.5)
}

/// The synthesis lag in samples of a decoded block lag index (half-sample units above the minimum
/// lag): `index / 2 + 32`, capped at 320.
pub fn block_lag(index_half_samples: u16) -> f32 {
    (f32::from(index_half_samples) * 0.5 + MIN_LAG).min(MAX_LAG)
}

/// The two ACB gains of a subframe from its Q14 codebook row, with the high boost applied.
///
/// The boost works on the sum/difference pair `(g0 + 2·g1, g0 − g1)`: it raises the magnitude of the
/// difference by `0.35 + (0.18 − 0.35) · normalized_bitrate`, never beyond the sum's magnitude, and
/// maps back. `codebook_q14` is the selected row of the high-rate ACB gain codebook (a runtime table
/// of the parameter layer).
pub fn acb_gains(codebook_q14: [i32; 2], normalized_bitrate: f32) -> [f32; 2] {
    let scale = 1.0 / 16384.0;
    let g = [
        codebook_q14[0] as f32 * scale,
        codebook_q14[1] as f32 * scale,
    ];
    let boost = HIGH_BOOST_AT_0 + (HIGH_BOOST_AT_1 - HIGH_BOOST_AT_0) * normalized_bitrate;
    boost_gains(g, boost)
}

/// Applies a high boost to dequantised ACB gains (no-op for a zero boost).
fn boost_gains(g: [f32; 2], boost: f32) -> [f32; 2] {
    if boost == 0.0 {
        return g;
    }
    let sum = g[0] + 2.0 * g[1];
    let diff = g[0] - g[1];
    let target = (diff.abs() + boost).min(sum.abs());
    let diff = diff * (target / (diff.abs() + 1e-12));
    [(sum + 2.0 * diff) / 3.0, (sum - diff) / 3.0]
}

/// Past excitation the predictor may reach: the longest lag, the interpolation half-width and one
/// neighbour, rounded up to a multiple of 16.
const LTP_HISTORY_LEN: usize = 336;
const _: () = assert!(LTP_HISTORY_LEN > MAX_LAG as usize + INTERP_HALF);

/// Long-term predictor state: the excitation history plus one subframe of working space.
///
/// Size: `(336 + 80) · 4` = 1664 bytes. Zero at decoder start.
#[derive(Clone, Debug, PartialEq)]
pub struct Ltp {
    /// `buf[..LTP_HISTORY_LEN]` is the past excitation (newest last); the tail is where the
    /// pitch-extended history of the current subframe is built.
    buf: [f32; LTP_HISTORY_LEN + SUBFRAME_LEN],
}

impl Default for Ltp {
    fn default() -> Self {
        Self::new()
    }
}

impl Ltp {
    /// A predictor with silent history.
    pub const fn new() -> Self {
        Self {
            buf: [0.0; LTP_HISTORY_LEN + SUBFRAME_LEN],
        }
    }

    /// Adds the ACB contribution of one voiced subframe to `exc`.
    ///
    /// `lags` are the subframe's two block lags in samples (integer or half-integer, 32..=320;
    /// other values are clamped), `gains` the boosted gains from [`acb_gains`]. For each 40-sample
    /// block the history is extended by the lag (interpolated at half-sample lags) into basis 0, and
    /// basis 1 is the sum of basis 0's two neighbours; the contribution is `g0·b0 + g1·b1`.
    pub fn predict(&mut self, lags: [f32; 2], gains: [f32; 2], exc: &mut [f32; SUBFRAME_LEN]) {
        for (block, &lag) in lags.iter().enumerate() {
            let start = LTP_HISTORY_LEN + block * LAG_BLOCK_LEN;
            let mut b0 = [0.0f32; LAG_BLOCK_LEN];
            let mut b1 = [0.0f32; LAG_BLOCK_LEN];
            self.extend(start, sanitize_lag(lag), &mut b0, &mut b1);
            let out = &mut exc[block * LAG_BLOCK_LEN..(block + 1) * LAG_BLOCK_LEN];
            for ((e, &x0), &x1) in out.iter_mut().zip(&b0).zip(&b1) {
                let acb = gains[0] * x0;
                *e += acb + gains[1] * x1;
            }
        }
    }

    /// The two bases [`Ltp::predict`] would weight for a subframe with block lags `lags`, without
    /// gains (for the encoder's gain and lag search; leaves the working area as `predict` does).
    pub fn bases(
        &mut self,
        lags: [f32; 2],
        b0: &mut [f32; SUBFRAME_LEN],
        b1: &mut [f32; SUBFRAME_LEN],
    ) {
        let blocks0 = b0.as_chunks_mut::<LAG_BLOCK_LEN>().0;
        let blocks1 = b1.as_chunks_mut::<LAG_BLOCK_LEN>().0;
        for (block, ((&lag, x0), x1)) in lags.iter().zip(blocks0).zip(blocks1).enumerate() {
            let start = LTP_HISTORY_LEN + block * LAG_BLOCK_LEN;
            self.extend(start, sanitize_lag(lag), x0, x1);
        }
    }

    /// Appends one subframe of (noise-free) excitation to the history.
    pub fn push(&mut self, exc: &[f32; SUBFRAME_LEN]) {
        self.buf.copy_within(SUBFRAME_LEN..LTP_HISTORY_LEN, 0);
        self.buf[LTP_HISTORY_LEN - SUBFRAME_LEN..LTP_HISTORY_LEN].copy_from_slice(exc);
    }

    /// Builds both bases of one block starting at `start` in the working area.
    fn extend(
        &mut self,
        start: usize,
        lag: f32,
        b0: &mut [f32; LAG_BLOCK_LEN],
        b1: &mut [f32; LAG_BLOCK_LEN],
    ) {
        let whole = floorf(lag);
        let int_lag = whole as usize;
        let buf = &mut self.buf;
        if whole == lag {
            // Integer lag: repeat the history (periodically for lags under one block), in runs
            // short enough to read only samples that already exist.
            for run in (0..LAG_BLOCK_LEN).step_by(INDEPENDENT_RUN) {
                let from = start + run - int_lag;
                buf.copy_within(from..from + INDEPENDENT_RUN, start + run);
            }
            b0.copy_from_slice(&buf[start..start + LAG_BLOCK_LEN]);
            for (i, b) in b1.iter_mut().enumerate() {
                let at = start + i - int_lag;
                *b = buf[at - 1] + buf[at + 1];
            }
        } else {
            // Half-sample lag: interpolate between int_lag and int_lag + 1 samples back. The
            // samples just outside the block are interpolated too, for basis 1's end points.
            let before = interpolate_full(&buf[start - 1 - int_lag - INTERP_HALF..]);
            for run in (0..LAG_BLOCK_LEN).step_by(INDEPENDENT_RUN) {
                let taps = start + run - int_lag - INTERP_HALF;
                let out =
                    interpolate_paired_run(&buf[taps..taps + INDEPENDENT_RUN + 2 * INTERP_HALF]);
                buf[start + run..start + run + INDEPENDENT_RUN].copy_from_slice(&out);
            }
            let after = interpolate_full(&buf[start + LAG_BLOCK_LEN - int_lag - INTERP_HALF..]);
            b0.copy_from_slice(&buf[start..start + LAG_BLOCK_LEN]);
            b1[0] = before + buf[start + 1];
            for i in 1..LAG_BLOCK_LEN - 1 {
                b1[i] = buf[start + i - 1] + buf[start + i + 1];
            }
            b1[LAG_BLOCK_LEN - 1] = buf[start + LAG_BLOCK_LEN - 2] + after;
        }
    }
}

/// Keeps a lag inside the range the history can serve (NaN becomes the minimum).
fn sanitize_lag(lag: f32) -> f32 {
    if lag >= MIN_LAG {
        lag.min(MAX_LAG)
    } else {
        MIN_LAG
    }
}

/// Half-sample interpolation as a plain 16-tap dot product over `taps[..16]`.
fn interpolate_full(taps: &[f32]) -> f32 {
    let mut acc = 0.0f32;
    for (x, k) in taps.iter().zip(&INTERP_KERNEL) {
        acc += x * k;
    }
    acc
}

/// Outputs of the block interior computed together: each reads the history at least
/// `32 − 8 + 1` samples back (shortest lag, interpolation half-width), so a run of 20 depends
/// only on samples written before it. Divides the block.
const INDEPENDENT_RUN: usize = 20;
const _: () = assert!(INDEPENDENT_RUN < MIN_LAG as usize - INTERP_HALF + 1);
const _: () = assert!(LAG_BLOCK_LEN.is_multiple_of(INDEPENDENT_RUN));

/// Half-sample interpolation of [`INDEPENDENT_RUN`] consecutive outputs, output `m` from
/// `taps[m..m + 16]`, folding mirrored tap pairs onto the first half of the kernel (the
/// reference's order for the block interior). Tap by tap over all outputs at once, so it
/// vectorises; each output still adds its terms in the same order.
fn interpolate_paired_run(taps: &[f32]) -> [f32; INDEPENDENT_RUN] {
    let mut acc = [0.0f32; INDEPENDENT_RUN];
    for (i, &k) in INTERP_KERNEL[..INTERP_HALF].iter().enumerate() {
        let near = &taps[i..i + INDEPENDENT_RUN];
        let far = &taps[2 * INTERP_HALF - 1 - i..2 * INTERP_HALF - 1 - i + INDEPENDENT_RUN];
        for ((a, &x), &y) in acc.iter_mut().zip(near).zip(far) {
            *a += (x + y) * k;
        }
    }
    acc
}

#[cfg(test)]
mod tests;
