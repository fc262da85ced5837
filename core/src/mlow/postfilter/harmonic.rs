//! Per-packet harmonic post-filter.

use libm::{cosf, roundf, sinf};

use super::hp::FRAME_LEN;

/// Samples per pitch-lag block.
const BLOCK: usize = 40;
/// Delay of the low-pass feedback path (half the 17-tap kernel).
const FB_DELAY: usize = 8;
/// Taps of the low-pass kernel.
const TAPS: usize = 2 * FB_DELAY + 1;
/// Output delay the filter adds: the kernel's half-length plus one lag block of look-ahead.
pub const HARMONIC_DELAY: usize = FB_DELAY + BLOCK;
/// Longest packet handled (120 ms).
pub const MAX_PACKET_LEN: usize = 6 * FRAME_LEN;
/// Lag range.
const MIN_LAG: i32 = 32;
const MAX_LAG: i32 = 320;
/// Blocks per internal frame (the kernel history restarts from state at each frame).
const BLOCKS_PER_FRAME: usize = FRAME_LEN / BLOCK;
/// History before the current packet in the signal buffer: one maximal lag plus the look-ahead.
const HISTORY: usize = MAX_LAG as usize + BLOCK;

const FB_STRENGTH: f32 = 0.4734;
const STRENGTH: f32 = 0.6438;
const REDUCTION: f32 = 0.0579;
const HARMONICS_IN_BAND: f32 = 6.3;
const CUTOFF_HZ: f32 = 4000.0;
/// Lag buckets for the kernels: `2500 / max(lag + 30, 80) − 2500 / 320`.
const BUCKET_RES: i32 = 2500;

/// Harmonic post-filter state; zero at decoder start.
///
/// Size: (2280 + 16 + 17 + 17) × 4 + 12 = 9332 bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct HarmonicPostfilter {
    /// Unfiltered input: `HISTORY` samples of the past, then the current packet.
    signal: [f32; HISTORY + MAX_PACKET_LEN],
    /// Last 16 samples of the comb difference signal (the kernel's history).
    diff_tail: [f32; 2 * FB_DELAY],
    /// Kernel of the last filtered block, scaled by the feedback strength.
    kernel: [f32; TAPS],
    /// Unscaled kernel of `bucket` (cache).
    bucket_kernel: [f32; TAPS],
    /// Lag bucket whose kernel is cached, or −1.
    bucket: i32,
    /// Lag of the last block, applied to the first block of the next packet.
    prev_lag: i32,
    /// Whether the last block was filtered (its kernel's tail then rings into the next block).
    prev_filtered: bool,
}

impl Default for HarmonicPostfilter {
    fn default() -> Self {
        Self::new()
    }
}

impl HarmonicPostfilter {
    /// A fresh filter.
    pub const fn new() -> Self {
        Self {
            signal: [0.0; HISTORY + MAX_PACKET_LEN],
            diff_tail: [0.0; 2 * FB_DELAY],
            kernel: [0.0; TAPS],
            bucket_kernel: [0.0; TAPS],
            bucket: -1,
            prev_lag: 0,
            prev_filtered: false,
        }
    }

    /// Filters one packet in place.
    ///
    /// `packet` holds whole 40-sample blocks (at most [`MAX_PACKET_LEN`] samples; any extra tail is
    /// left untouched), `block_lags` one lag per block (0 for unvoiced; missing entries count as 0),
    /// and `normalized_bitrate` the packet's mean normalised bitrate. Block `k` is filtered with the
    /// lag of block `k − 1` (the previous packet's last lag for `k = 0`), and the output lags the
    /// input by [`HARMONIC_DELAY`] samples.
    pub fn process(&mut self, packet: &mut [f32], block_lags: &[f32], normalized_bitrate: f32) {
        let blocks = packet.len().min(MAX_PACKET_LEN) / BLOCK;
        let len = blocks * BLOCK;
        self.signal[HISTORY..HISTORY + len].copy_from_slice(&packet[..len]);
        let feedback = 1.0 - FB_STRENGTH * normalized_bitrate;
        let mut lag = self.prev_lag;

        for (frame_index, frame) in packet[..len].chunks_mut(FRAME_LEN).enumerate() {
            // Difference signal of this frame behind its 16-sample history.
            let mut diff = [0.0f32; 2 * FB_DELAY + FRAME_LEN];
            diff[..2 * FB_DELAY].copy_from_slice(&self.diff_tail);
            let frame_blocks = frame.len() / BLOCK;
            for b in 0..frame_blocks {
                let k = frame_index * BLOCKS_PER_FRAME + b;
                let at = HISTORY - BLOCK + k * BLOCK;
                let out = &mut frame[b * BLOCK..(b + 1) * BLOCK];
                self.block(
                    at,
                    len + BLOCK - k * BLOCK,
                    lag,
                    &mut diff,
                    b * BLOCK,
                    feedback,
                    out,
                );
                lag = sanitize_lag(block_lags.get(k).copied().unwrap_or(0.0));
            }
            let end = 2 * FB_DELAY + frame_blocks * BLOCK;
            self.diff_tail
                .copy_from_slice(&diff[end - 2 * FB_DELAY..end]);
        }

        self.prev_lag = lag;
        self.signal.copy_within(len..len + HISTORY, 0);
    }

    /// One 40-sample block whose (delayed) input starts at `signal[at]`, with `ahead` valid signal
    /// samples from there on. `diff[2·FB_DELAY + d..]` receives the block's difference signal.
    #[allow(clippy::too_many_arguments)]
    fn block(
        &mut self,
        at: usize,
        ahead: usize,
        lag: i32,
        diff: &mut [f32],
        d: usize,
        feedback: f32,
        out: &mut [f32],
    ) {
        let s = &self.signal;
        let mut harm = [0.0f32; BLOCK];
        // Correlation and both energies in one pass (three independent chains, each in index
        // order); the energies only matter when the correlation is positive.
        let (mut xy, mut xx, mut hh) = (0.0f32, 0.0f32, 0.0f32);
        if lag > 0 {
            let lag = lag as usize;
            // Look-ahead past the end of the packet falls back to the current sample.
            let reach = ahead.saturating_sub(lag).min(BLOCK);
            let back = &s[at - lag..at - lag + BLOCK];
            let (near, far) = harm.split_at_mut(reach);
            let ahead_signal = &s[(at + lag).min(s.len())..];
            for ((h, &b), &f) in near.iter_mut().zip(back).zip(ahead_signal) {
                *h = b + f;
            }
            for ((h, &b), &f) in far.iter_mut().zip(&back[reach..]).zip(&s[at + reach..]) {
                *h = b + f;
            }
            for (&xv, &h) in s[at..at + BLOCK].iter().zip(&harm) {
                xy += xv * h;
                xx += xv * xv;
                hh += h * h;
            }
        }
        let d = 2 * FB_DELAY + d;
        if lag > 0 && xy > 0.0 {
            let x = &s[at..at + BLOCK];
            let yy = 0.25 * hh;
            let high_lag = 1.0 - REDUCTION * ((lag - MIN_LAG) as f32 / (MAX_LAG - MIN_LAG) as f32);
            let strength = 0.5 * xy / yy.max(xx) * high_lag * STRENGTH;
            for ((h, dv), &xv) in harm.iter_mut().zip(&mut diff[d..d + BLOCK]).zip(x) {
                *h *= 0.5 * strength;
                *dv = *h + -strength * xv;
            }
            let unscaled = self.kernel_for(lag);
            self.kernel = unscaled.map(|c| c * feedback);
            let s = &self.signal;
            fir17(&self.kernel, diff, d, &s[at - FB_DELAY..], out);
            self.prev_filtered = true;
        } else {
            diff[d..d + BLOCK].fill(0.0);
            out.copy_from_slice(&s[at - FB_DELAY..at - FB_DELAY + BLOCK]);
            // After a filtered block the kernel's tail (its zero-input response) rings on.
            if self.prev_filtered {
                let head = &mut out[..2 * FB_DELAY];
                fir17(&self.kernel, diff, d, &s[at - FB_DELAY..], head);
            }
            self.prev_filtered = false;
        }
    }

    /// The unscaled low-pass kernel of `lag`'s bucket (computed once per bucket change).
    fn kernel_for(&mut self, lag: i32) -> [f32; TAPS] {
        let bucket = bucket(lag);
        if bucket != self.bucket {
            // Each bucket's kernel is designed for the shortest lag that falls into it.
            let design_lag = (MIN_LAG..=MAX_LAG)
                .find(|&l| self::bucket(l) == bucket)
                .unwrap_or(MIN_LAG);
            self.bucket_kernel = lowpass_kernel(design_lag);
            self.bucket = bucket;
        }
        self.bucket_kernel
    }
}

/// Keeps a block lag within the filter's range (anything not positive disables the block).
fn sanitize_lag(lag: f32) -> i32 {
    if lag > 0.0 {
        roundf(lag.min(MAX_LAG as f32)) as i32
    } else {
        0
    }
}

/// Kernel bucket of a lag (0 for the longest lags, 24 for the shortest).
fn bucket(lag: i32) -> i32 {
    BUCKET_RES / (lag + 30).max(80) - BUCKET_RES / MAX_LAG
}

/// 17-tap windowed-sinc low-pass for pitch lag `lag`, unity DC gain: cutoff at 6.3 harmonics,
/// at most 4 kHz; cosine window over the 8 taps each side.
fn lowpass_kernel(lag: i32) -> [f32; TAPS] {
    let pi = core::f32::consts::PI;
    let cutoff = (2.0 * pi / lag as f32 * HARMONICS_IN_BAND).min(CUTOFF_HZ / 16000.0 * pi);
    let window_step = (0.5 * pi) / (FB_DELAY as f32 + 1.0);
    let mut kernel = [0.0f32; TAPS];
    let (mut window_angle, mut angle, mut sum) = (window_step, cutoff, 0.0f32);
    for i in 0..FB_DELAY {
        let tap = cosf(window_angle) / (i as f32 + 1.0) * sinf(angle);
        window_angle += window_step;
        angle += cutoff;
        kernel[FB_DELAY + 1 + i] = tap;
        kernel[FB_DELAY - 1 - i] = tap;
        sum += 2.0 * tap;
    }
    kernel[FB_DELAY] = cutoff;
    sum += cutoff;
    let scale = 1.0 / sum;
    kernel.map(|c| c * scale)
}

/// Symmetric 17-tap FIR centred 8 samples before `x[n]` (reading `x[n − 16 ..= n]`) plus
/// `base[i]`, for the `out.len()` outputs `n = d, d + 1, …`: `out[i] = fir(x, d + i) + base[i]`.
///
/// Computed tap by tap over all outputs at once (the outputs are independent, so this vectorises)
/// while each output still sums its terms in the reference's order: centre tap first, then the
/// mirrored pairs from the outermost in.
fn fir17(kernel: &[f32; TAPS], x: &[f32], d: usize, base: &[f32], out: &mut [f32]) {
    let mut acc = [0.0f32; BLOCK];
    let acc = &mut acc[..out.len()];
    let x = &x[d - 2 * FB_DELAY..d + acc.len()];
    for (a, &v) in acc.iter_mut().zip(&x[FB_DELAY..]) {
        *a = v * kernel[FB_DELAY];
    }
    for (i, &k) in kernel[..FB_DELAY].iter().enumerate() {
        for ((a, &new), &old) in acc.iter_mut().zip(&x[2 * FB_DELAY - i..]).zip(&x[i..]) {
            *a += k * (new + old);
        }
    }
    for ((o, a), &b) in out.iter_mut().zip(acc.iter()).zip(base) {
        *o = a + b;
    }
}
