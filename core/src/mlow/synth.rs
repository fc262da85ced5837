//! Order-16 LPC synthesis: the all-pole filter that turns the excitation (FCB + ACB + noise) into
//! the low-band signal, `y[n] = x[n] − Σ_{i=1..16} a[i] · y[n − i]`, with the coefficients of the
//! current subframe and a history that runs on across subframes, frames and packets.
//!
//! [`LowBand`] chains every per-frame stage in the reference order for one 20 ms internal frame
//! (excitation, long-term predictor, noise, LPC synthesis, HP post-filter). The packet decoder
//! then runs [`super::postfilter::HarmonicPostfilter`] once over the packet with the frames' block
//! lags (zeros for unvoiced frames) and [`packet_bitrate`] of the frames' normalised bitrates
//! (both verified against the reference dumps).

use super::excitation::{
    LAG_BLOCK_LEN, Ltp, SUBFRAME_LEN, acb_gains, block_lag, fcb_gain, normalized_bitrate,
    write_pulses,
};
use super::lsf::FrameLpc;
use super::noise::{NoiseInput, NoiseState, residual_energy};
use super::params::{self, Excitation};
use super::postfilter::{FRAME_LEN, HpPostfilter};
use super::tables::cc::ACB_GAIN_CB_Q14;

/// LPC order of the low band.
pub const LPC_ORDER: usize = 16;

/// Synthesis filter memory; zero at decoder start.
///
/// Size: 16 × 4 = 64 bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LpcSynth {
    /// The last 16 output samples, oldest first.
    mem: [f32; LPC_ORDER],
}

impl LpcSynth {
    /// A filter with silent history.
    pub const fn new() -> Self {
        Self {
            mem: [0.0; LPC_ORDER],
        }
    }

    /// Filters one subframe: `out[n] = exc[n] − Σ a[i] · y[n − i]` for `n < min(exc.len(),
    /// out.len())`. `a` is monic (`a[0]` = 1 is not read), as produced by NLSF → LPC conversion.
    pub fn filter(&mut self, a: &[f32; LPC_ORDER + 1], exc: &[f32], out: &mut [f32]) {
        let len = exc.len().min(out.len());
        // taps[k] weighs y[n − 16 + k]: oldest tap first, the reference's accumulation order.
        let taps: [f32; LPC_ORDER] = core::array::from_fn(|k| a[LPC_ORDER - k]);
        // Outputs go to a contiguous buffer behind the history (buf[n + 16] is y[n]). Each
        // output's sum keeps its order but is split in two: the far part (x minus the twelve
        // oldest terms) is computed `AHEAD` samples early, and the sample's own step adds only
        // the newest terms, kept in registers. The recursion then waits on a short chain, and
        // the long serial far chains of later samples run beside it instead of having to be
        // found far ahead in the instruction stream by the processor.
        let mut buf = [0.0f32; LPC_ORDER + CHUNK];
        for (x, y) in exc[..len].chunks(CHUNK).zip(out[..len].chunks_mut(CHUNK)) {
            buf[..LPC_ORDER].copy_from_slice(&self.mem);
            // recent[k] is y[n − AHEAD + k].
            let mut recent: [f32; AHEAD] = core::array::from_fn(|k| self.mem[FAR + k]);
            // The far parts of the first samples come from the history alone.
            let mut far = [0.0f32; AHEAD];
            for (m, f) in far.iter_mut().enumerate().take(x.len()) {
                *f = x[m];
                for (t, yk) in taps[..FAR].iter().zip(&buf[m..m + FAR]) {
                    *f -= t * yk;
                }
            }
            for (n, yn) in y.iter_mut().enumerate() {
                // The far part of sample n + AHEAD: its oldest terms from the buffer, the
                // newest (y[n − AHEAD] … y[n − 1]) from the registers.
                let ahead = match x.get(n + AHEAD) {
                    Some(&xa) => {
                        let mut f = xa;
                        let from_buf = &buf[n + AHEAD..n + FAR];
                        for (t, yk) in taps[..FAR - AHEAD].iter().zip(from_buf) {
                            f -= t * yk;
                        }
                        for (t, yk) in taps[FAR - AHEAD..FAR].iter().zip(&recent) {
                            f -= t * yk;
                        }
                        f
                    }
                    None => 0.0,
                };
                let mut acc = far[0];
                for (t, yk) in taps[FAR..].iter().zip(&recent) {
                    acc -= t * yk;
                }
                buf[n + LPC_ORDER] = acc;
                *yn = acc;
                recent = core::array::from_fn(|k| if k + 1 < AHEAD { recent[k + 1] } else { acc });
                far = core::array::from_fn(|k| if k + 1 < AHEAD { far[k + 1] } else { ahead });
            }
            let n = x.len();
            self.mem.copy_from_slice(&buf[n..n + LPC_ORDER]);
        }
    }
}

/// How many samples ahead the synthesis computes an output's far part (also the number of
/// newest terms each sample adds itself).
const AHEAD: usize = 4;
/// Terms in the far part of an output's sum (the oldest; the newest `AHEAD` are added last).
const FAR: usize = LPC_ORDER - AHEAD;

/// Samples filtered per pass through the contiguous work buffer.
const CHUNK: usize = 160;

/// Subframes per internal frame in the high-rate geometry.
pub const SUBFRAMES: usize = FRAME_LEN / SUBFRAME_LEN;
/// Pitch-lag blocks per internal frame.
pub const LAG_BLOCKS: usize = FRAME_LEN / LAG_BLOCK_LEN;

/// One 20 ms high-rate internal frame as the synthesis consumes it: the parameter layer's
/// [`params::FrameParams`] (integers, as coded) resolved through the runtime tables and joined
/// with the frame's LPC filters from [`super::lsf::LsfDecoder`]. [`SynthFrame::new`] builds it
/// from those two; the fields stay public so the concealment and the tests can synthesise frames
/// that no packet carried.
#[derive(Clone, Copy, Debug)]
pub struct SynthFrame<'a> {
    /// Voicing of the frame.
    pub voiced: bool,
    /// Signed pulse magnitudes at the 320 positions of the frame.
    pub pulses: &'a [i8; FRAME_LEN],
    /// Per subframe: the voiced FCB gain index (the decoded index floored at 0) or the unvoiced
    /// FCB gain offset; subframes without pulses may carry anything.
    pub fcb_gain_index: [usize; SUBFRAMES],
    /// Voiced only: per subframe, the row of the high-rate ACB gain codebook (Q14) selected by the
    /// decoded ACB gain index.
    pub acb_codebook_q14: [[i32; 2]; SUBFRAMES],
    /// Voiced only: the eight block lags in samples ([`super::excitation::block_lag`]).
    pub block_lags: [f32; LAG_BLOCKS],
    /// Unvoiced only: per-subframe residual-energy levels, dB in Q14.
    pub residual_dbq_q14: [i32; SUBFRAMES],
    /// Per-subframe LPC coefficients (monic) from the interpolated LSFs.
    pub lpc: &'a [[f32; LPC_ORDER + 1]; SUBFRAMES],
    /// Per-subframe interpolated LSF 0 and 1, radians.
    pub lsf_low: [[f32; 2]; SUBFRAMES],
}

impl<'a> SynthFrame<'a> {
    /// Resolves one decoded frame: gain indices as decoded, the ACB codebook rows of the voiced
    /// gain indices, the block lags of the decoded half-sample lag indices (zeros for unvoiced
    /// frames), the carried residual energies and the two lowest interpolated LSFs per subframe.
    pub fn new(p: &'a params::FrameParams, lpc: &'a FrameLpc) -> Self {
        let mut acb_codebook_q14 = [[0i32; 2]; SUBFRAMES];
        let mut block_lags = [0.0f32; LAG_BLOCKS];
        if let Excitation::Voiced(v) = &p.excitation {
            for (row, &idx) in acb_codebook_q14.iter_mut().zip(&v.acb_gain_idx) {
                let entry = &ACB_GAIN_CB_Q14[usize::from(idx).min(ACB_GAIN_CB_Q14.len() - 1)];
                *row = [i32::from(entry[0]), i32::from(entry[1])];
            }
            for (lag, &half) in block_lags.iter_mut().zip(&v.lag_half) {
                *lag = block_lag(half);
            }
        }
        Self {
            voiced: p.voiced,
            pulses: &p.pulses,
            fcb_gain_index: p.fcb_gain_idx.map(usize::from),
            acb_codebook_q14,
            block_lags,
            residual_dbq_q14: p.nrgres_dbq_q14,
            lpc: &lpc.a,
            lsf_low: lpc.subframe_lsf.map(|l| [l[0], l[1]]),
        }
    }
}

/// Low-band synthesis state of the decoder: long-term predictor, noise generator, LPC filter and
/// HP post-filter. Zero/fresh at decoder start.
///
/// Size: 1664 + 56 + 64 + 1332 = 3116 bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LowBand {
    ltp: Ltp,
    noise: NoiseState,
    lpc: LpcSynth,
    hp: HpPostfilter,
}

impl LowBand {
    /// A fresh synthesis state.
    pub const fn new() -> Self {
        Self {
            ltp: Ltp::new(),
            noise: NoiseState::new(),
            lpc: LpcSynth::new(),
            hp: HpPostfilter::new(),
        }
    }

    /// Synthesises one internal frame into `out` (after the HP post-filter) and returns the
    /// frame's normalised bitrate (for the packet's harmonic post-filter).
    pub fn frame(&mut self, p: &SynthFrame<'_>, out: &mut [f32; FRAME_LEN]) -> f32 {
        let mut counts = [0u32; SUBFRAMES];
        for (count, sub) in counts.iter_mut().zip(p.pulses.chunks_exact(SUBFRAME_LEN)) {
            *count = sub.iter().map(|x| u32::from(x.unsigned_abs())).sum();
        }
        let bitrate = normalized_bitrate(counts.iter().sum(), FRAME_LEN);

        for (sf, &count) in counts.iter().enumerate() {
            let span = sf * SUBFRAME_LEN..(sf + 1) * SUBFRAME_LEN;
            let mut exc = [0.0f32; SUBFRAME_LEN];
            let gain = fcb_gain(p.voiced, p.fcb_gain_index[sf]);
            write_pulses(&p.pulses[span.clone()], gain, &mut exc);
            if p.voiced {
                let lags = [p.block_lags[2 * sf], p.block_lags[2 * sf + 1]];
                let gains = acb_gains(p.acb_codebook_q14[sf], bitrate);
                self.ltp.predict(lags, gains, &mut exc);
            }
            // The predictor's history is the excitation without noise.
            self.ltp.push(&exc);

            let mut noise = [0.0f32; SUBFRAME_LEN];
            let input = NoiseInput {
                excitation: &exc,
                voiced: p.voiced,
                pulses: count,
                residual_energy: residual_energy(p.residual_dbq_q14[sf], SUBFRAME_LEN),
                fcb_gain_index: p.fcb_gain_index[sf],
                lsf_low: p.lsf_low[sf],
                normalized_bitrate: bitrate,
            };
            self.noise.generate(&input, &mut noise);
            for (e, n) in exc.iter_mut().zip(&noise) {
                *e += n;
            }
            self.lpc.filter(&p.lpc[sf], &exc, &mut out[span]);
        }

        let lag = HpPostfilter::frame_lag(p.voiced, &p.block_lags);
        self.hp.process(lag, out);
        bitrate
    }
}

/// The packet's normalised bitrate for the harmonic post-filter: the mean of its frames' values
/// (summed in frame order, then divided, as the reference does); 0 for no frames.
pub fn packet_bitrate(frame_bitrates: &[f32]) -> f32 {
    if frame_bitrates.is_empty() {
        return 0.0;
    }
    let mut sum = 0.0f32;
    for &b in frame_bitrates {
        sum += b;
    }
    sum / frame_bitrates.len() as f32
}

/// Converts decoder output to 16-bit PCM as the reference does: scale by 32767 (not 32768) and
/// truncate toward zero, saturating at the i16 range (NaN becomes 0). Converts
/// `min(samples.len(), pcm.len())` samples.
pub fn to_pcm16(samples: &[f32], pcm: &mut [i16]) {
    // `(x · 32767) as i16` spelled so that it vectorises (a saturating float-to-int cast is
    // converted one lane at a time): clamp in f32 (NaN to 0), round to an integer with the
    // 1.5·2^23 trick (exact below 2^22: the sum's unit in the last place is 1, and its bit
    // pattern minus the constant's is the rounded value), then step back toward zero where
    // rounding went away from it.
    const ROUND: f32 = 12_582_912.0;
    for (p, &x) in pcm.iter_mut().zip(samples) {
        let v = x * 32767.0;
        let v = if v.is_nan() {
            0.0
        } else {
            v.clamp(-32768.0, 32767.0)
        };
        let sum = v + ROUND;
        let rounded = sum.to_bits() as i32 - ROUND.to_bits() as i32;
        let back = sum - ROUND;
        let fix = if v >= 0.0 {
            -i32::from(back > v)
        } else {
            i32::from(back < v)
        };
        *p = (rounded + fix) as i16;
    }
}

#[cfg(test)]
mod tests;
