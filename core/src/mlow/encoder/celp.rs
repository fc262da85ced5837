//! Closed-loop CELP coding of one 20 ms internal frame against a mirror of the decoder's
//! synthesis state.
//!
//! Per subframe: the target is the high-passed speech minus the zero-input response of the
//! decoder's LPC synthesis filter, weighted by `W(z) = A(z/0.94) / A(z/0.6)` (A: the unquantised
//! analysis predictor). Voiced subframes first refine the lag of each pitch-contour segment that
//! lies within the subframe (the open-loop lag or a half-sample neighbour inside the segment's
//! contour block, whichever leaves the least weighted error over the ACB gain rows; segments that
//! run on into later subframes keep the open-loop lag; a packet the refined lags make uncodable is
//! re-coded with the open-loop lags). Then they pick the ACB gain codebook row that best matches
//! the target with the two long-term-predictor bases the decoder will build from its own history;
//! then the fixed codebook places the subframe's pulse budget greedily (one unit pulse at a time,
//! maximising the normalised correlation with the remaining target; pulses may stack), followed
//! by a replacement pass that moves single pulses while that raises the criterion. Both gains are
//! then chosen jointly (every ACB row with the FCB gain indices around its optimum) by weighted
//! error, a mild penalty on the FCB energy, and for voiced frames the bits of the two gain
//! symbols (rate-distortion weight 0.015 per bit, the reference's). Unvoiced frames code the LPC residual energy per subframe (frame
//! step + 4-vector shape) for the noise generator, plus pulses when the budget allows.
//!
//! The search scores only its own subframe and must place every pulse it is given; under a flat
//! (identity) weighting that parks surplus pulses at the subframe end, whose ringing then runs
//! away on resonant voices. The perceptual weighting keeps the loop stable (test
//! `the_search_loop_tracks_the_waveform`).
//!
//! After each subframe's choice the mirror runs exactly the decoder's per-subframe steps
//! ([`crate::mlow::synth::LowBand::frame`] without its output post-filter), so the next search
//! starts from the state the decoder will be in.

use libm::{log2f, log10f};

use crate::mlow::excitation::{
    FCB_GAINS_UNVOICED, FCB_GAINS_VOICED, Ltp, SUBFRAME_LEN, acb_gains, block_lag, fcb_gain,
    normalized_bitrate, write_pulses,
};
use crate::mlow::lsf::{FrameLpc, LsfDecoder};
use crate::mlow::noise::{NoiseInput, NoiseState, residual_energy};
use crate::mlow::params::{FRAME_LEN, ORDER, SUBFRAMES};
use crate::mlow::synth::LpcSynth;
use crate::mlow::tables::cc::{
    ACB_GAIN_CB_Q14, ACB_GAIN_CDF, FCBG_VOICED_CDF, FCBG_VOICED_DELTA_CDF, NRGRES_SHAPE4_Q10,
    NRGRES_STEP_Q14,
};
use crate::mlow::tables::pitch;

const L: usize = SUBFRAME_LEN;
/// Half-sample steps either side of the open-loop lag that the closed-loop refinement tries.
/// PESQ-WB means over the six inputs (19/9 kbit/s, 60/20 ms) against no refinement: ±1 +0.005,
/// +0.024, +0.022, +0.018 on the five speech fixtures (and more on `synth_mic.raw`); ±2 and ±4
/// smaller gains. Refining segments that run on into later subframes too (scored on their first
/// subframe only) was worse at 19 kbit/s (-0.02 to -0.07), also with a 2 % hysteresis.
pub const LAG_REFINE_HALF: u16 = 1;
/// Pulse replacement passes after the greedy placement.
const REPLACE_PASSES: usize = 1;
/// Rate-distortion weight of the gain symbols: a bit is worth this fraction of the least
/// weighted error energy left in the subframe.
const RD_MU: f32 = 0.015;
/// Extra weight on the energy of the FCB contribution in the joint gain choice (shrinks the FCB
/// gain; the decoder's noise fill follows the excitation energy). PESQ-WB mean over the espeak
/// fixtures, 60 ms: +0.03 at both 19 and 9 kbit/s with 0.15; 0.3 no better.
const FCB_SHRINK: f32 = 0.15;
/// Weighting filter bandwidth factors (numerator, denominator).
const GAMMA_NUM: f32 = 0.94;
const GAMMA_DEN: f32 = 0.6;
/// Offset added to the measured residual level of unvoiced frames, dB. The decoder's noise fill
/// at the measured level scores worse on PESQ-WB than a quieter one (espeak fixtures and
/// `synth_mic.raw`, 60 ms: +2 dB −0.09, −2 dB +0.05, −4 dB +0.06 mean at 19 kbit/s, −7 dB no
/// better).
const UV_LEVEL_OFFSET_DB: f32 = -4.0;
/// Energy floor of the residual-energy quantiser, dB.
const NRG_FLOOR_DB: i32 = -85;
/// Frame energy indices of the 4-subframe table.
const NRG_FRAME_LEVELS: usize = 84;

/// The decoder's synthesis state as the encoder mirrors it: LSF memory, long-term predictor,
/// noise generator and LPC synthesis filter (the output post-filters do not feed back).
///
/// Size: 128 + 1664 + 56 + 64 = 1912 bytes.
#[derive(Clone, Debug, Default)]
pub struct Mirror {
    /// LSF memory (dequantisation predictor and interpolation).
    pub lsf: LsfDecoder,
    ltp: Ltp,
    noise: NoiseState,
    lpc: LpcSynth,
}

/// Scratch for the fixed-codebook search, kept out of the stack frame (26 KB).
#[derive(Clone, Debug)]
pub struct Scratch {
    /// Sign-adjusted correlations of the weighted impulse response (symmetric, both halves).
    phi: [[f32; L]; L],
    /// The voiced and unvoiced FCB gain tables (the search's copy of [`fcb_gain`]).
    gains_voiced: [f32; FCB_GAINS_VOICED],
    gains_unvoiced: [f32; FCB_GAINS_UNVOICED],
    /// Bandwidth factors of the weighting filter (numerator, denominator).
    weighting: [f32; 2],
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            phi: [[0.0; L]; L],
            gains_voiced: core::array::from_fn(|i| fcb_gain(true, i)),
            gains_unvoiced: core::array::from_fn(|i| fcb_gain(false, i)),
            weighting: [GAMMA_NUM, GAMMA_DEN],
        }
    }
}

/// What the search needs to know about one frame.
pub struct FrameInput<'a> {
    /// High-passed speech of the frame (float, full scale 1).
    pub speech: &'a [f32; FRAME_LEN],
    /// The 16 speech samples before the frame, oldest first.
    pub history: &'a [f32; ORDER],
    /// The unquantised analysis predictor (for the weighting filter).
    pub analysis_a: &'a [f32; ORDER + 1],
    /// Voiced frames: the half-sample lag index of each 40-sample block.
    pub lag_half: Option<&'a [u16; 8]>,
    /// Voiced frames: the pitch contour of `lag_half` if its segments' lags may be refined
    /// closed loop (each within its contour block and [`LAG_REFINE_HALF`] of the open-loop lag).
    pub refine_contour: Option<u8>,
    /// Pulses to place per subframe.
    pub pulses: [u8; SUBFRAMES],
    /// Unvoiced frames: residual levels to use as given (dB in Q14) instead of measuring the
    /// speech's, as for the decoder's comfort noise.
    pub levels: Option<[i32; SUBFRAMES]>,
    /// Low-frequency tilt of the weighting filter: `W(z)` is followed by `1 / (1 - tilt z^-1)`.
    pub tilt: f32,
}

/// Zero-state `1 / (1 - tilt z^-1)` over `x`, in place.
fn tilt(tilt: f32, x: &mut [f32; L]) {
    for n in 1..L {
        x[n] += tilt * x[n - 1];
    }
}

/// What the search chose for one frame (the caller assembles the frame parameters).
pub struct FrameChoice {
    /// Signed pulse amplitudes.
    pub pulses: [i8; FRAME_LEN],
    /// FCB gain index per subframe with pulses (others: untouched from the input).
    pub fcb_gain_idx: [u8; SUBFRAMES],
    /// Voiced: ACB gain index per subframe.
    pub acb_gain_idx: [u8; SUBFRAMES],
    /// Voiced: the lags used (the input's, refined if asked).
    pub lag_half: [u16; 8],
    /// Unvoiced: frame energy index, shape index and the per-subframe levels they decode to.
    pub nrg: Option<(u8, u8, [i32; SUBFRAMES])>,
}

/// Quantises per-subframe residual levels (dB) to the 4-subframe frame index and shape: the
/// combination with the least squared dB error. Returns `(frame_qi, shape_qi, levels_q14)`.
pub fn quantise_residual_db(db: &[f32; SUBFRAMES]) -> (u8, u8, [i32; SUBFRAMES]) {
    let step = NRGRES_STEP_Q14[2];
    let floor = NRG_FLOOR_DB << 14;
    let mut best = (f32::MAX, 0usize, 0usize);
    for (s, shape) in NRGRES_SHAPE4_Q10.iter().enumerate() {
        // The best frame index for this shape is the rounded mean offset; check its neighbours.
        let mut mean = 0.0f32;
        for (k, &d) in db.iter().enumerate() {
            let base = (floor + 16 * i32::from(shape[k])) as f32 / 16384.0;
            mean += d - base;
        }
        let centre = (mean / SUBFRAMES as f32 / (step as f32 / 16384.0)) as i32;
        for q in centre - 1..=centre + 1 {
            let q = q.clamp(0, NRG_FRAME_LEVELS as i32 - 1);
            let mut err = 0.0f32;
            for (k, &d) in db.iter().enumerate() {
                let lvl = (q * step + floor + 16 * i32::from(shape[k])) as f32 / 16384.0;
                err += (lvl - d) * (lvl - d);
            }
            if err < best.0 {
                best = (err, q as usize, s);
            }
        }
    }
    let (_, q, s) = best;
    let levels =
        core::array::from_fn(|k| q as i32 * step + floor + 16 * i32::from(NRGRES_SHAPE4_Q10[s][k]));
    (q as u8, s as u8, levels)
}

/// `a(z/gamma)`.
fn bandwidth(a: &[f32; ORDER + 1], gamma: f32) -> [f32; ORDER + 1] {
    let mut out = [0.0; ORDER + 1];
    let mut g = 1.0;
    for (o, &x) in out.iter_mut().zip(a) {
        *o = x * g;
        g *= gamma;
    }
    out
}

/// Zero-state `W(z) = num(z) / den(z)` over `x`, in place.
fn weight(num: &[f32; ORDER + 1], den: &[f32; ORDER + 1], x: &mut [f32; L]) {
    let input = *x;
    for n in 0..L {
        let taps = ORDER.min(n);
        let mut acc = input[n];
        let past_in = input[n - taps..n].iter().rev();
        let past_out = x[n - taps..n].iter().rev();
        for ((&i, &o), (&nk, &dk)) in past_in
            .zip(past_out)
            .zip(num[1..=taps].iter().zip(&den[1..=taps]))
        {
            acc += nk * i - dk * o;
        }
        x[n] = acc;
    }
}

/// Zero-state LPC synthesis `1 / a(z)` of `x`, in place.
fn synth(a: &[f32; ORDER + 1], x: &mut [f32; L]) {
    for n in 0..L {
        let taps = ORDER.min(n);
        let mut acc = x[n];
        for (&y, &ak) in x[n - taps..n].iter().rev().zip(&a[1..=taps]) {
            acc -= ak * y;
        }
        x[n] = acc;
    }
}

/// Truncated convolution `h * x` over one subframe.
fn convolve(h: &[f32; L], x: &[f32; L]) -> [f32; L] {
    let mut y = [0.0; L];
    for (i, &xi) in x.iter().enumerate() {
        if xi != 0.0 {
            for (yn, &hk) in y[i..].iter_mut().zip(h) {
                *yn += xi * hk;
            }
        }
    }
    y
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Mirror {
    /// Codes one frame: searches each subframe against the mirror state and advances the mirror
    /// exactly as the decoder will, writing the decoder's LPC synthesis output (before its
    /// post-filters) to `recon`. `fcb_gain_idx` carries the packet's previous per-subframe
    /// FCB gain indices in (the decoder keeps them for subframes without pulses) and the frame's
    /// out; `nrg_carry` likewise for the residual levels of voiced frames.
    pub fn code_frame(
        &mut self,
        lpc: &FrameLpc,
        input: &FrameInput<'_>,
        fcb_gain_idx: &mut [u8; SUBFRAMES],
        nrg_carry: &mut [i32; SUBFRAMES],
        scratch: &mut Scratch,
        recon: &mut [f32; FRAME_LEN],
    ) -> FrameChoice {
        let voiced = input.lag_half.is_some();
        let total: u32 = input.pulses.iter().map(|&n| u32::from(n)).sum();
        let bitrate = normalized_bitrate(total, FRAME_LEN);
        let num = bandwidth(input.analysis_a, scratch.weighting[0]);
        let den = bandwidth(input.analysis_a, scratch.weighting[1]);
        let mut choice = FrameChoice {
            pulses: [0; FRAME_LEN],
            fcb_gain_idx: *fcb_gain_idx,
            acb_gain_idx: [0; SUBFRAMES],
            lag_half: input.lag_half.copied().unwrap_or([0; 8]),
            nrg: None,
        };
        // Segments of the contour: (first lag block, blocks, contour block).
        let mut segments = [(0usize, 0usize, 0u16); 8];
        let mut seg_count = 0;
        if let (Some(c), true) = (input.refine_contour, voiced) {
            let c = usize::from(c).min(pitch::CONTOUR_SEGMENTS.len() - 1);
            let mut w = 0;
            for s in 0..usize::from(pitch::CONTOUR_SEGMENTS[c]).min(8) {
                let len = usize::from(pitch::CONTOUR_LEN[c][s]);
                segments[seg_count] = (w, len, u16::from(pitch::CONTOUR_BLOCK[c][s]));
                seg_count += 1;
                w += len;
            }
        }

        if let (false, Some(levels)) = (voiced, input.levels) {
            *nrg_carry = levels;
        } else if !voiced {
            // LPC residual energy of the speech with the decoder's filters, per subframe.
            let mut db = [0.0f32; SUBFRAMES];
            for (sf, d) in db.iter_mut().enumerate() {
                let a = &lpc.a[sf];
                let mut e = 0.0f32;
                for n in 0..L {
                    let t = sf * L + n;
                    let mut r = input.speech[t];
                    for (k, &ak) in a.iter().enumerate().skip(1) {
                        let past = if t >= k {
                            input.speech[t - k]
                        } else {
                            input.history[ORDER + t - k]
                        };
                        r += ak * past;
                    }
                    e += r * r;
                }
                *d = 10.0 * log10f((e / L as f32).max(1e-12));
            }
            let q = quantise_residual_db(&db.map(|d| d + UV_LEVEL_OFFSET_DB));
            *nrg_carry = q.2;
            choice.nrg = Some(q);
        }

        let (mut prev_acb, mut prev_fcb) = (None::<u8>, None::<u8>);
        for sf in 0..SUBFRAMES {
            let span = sf * L..(sf + 1) * L;
            let a = &lpc.a[sf];
            // Weighted impulse response of the decoder's synthesis filter.
            let mut h = [0.0f32; L];
            h[0] = 1.0;
            synth(a, &mut h);
            weight(&num, &den, &mut h);
            tilt(input.tilt, &mut h);
            // Weighted target: speech minus the synthesis filter's ringing.
            let mut zir = [0.0f32; L];
            self.lpc.clone().filter(a, &[0.0; L], &mut zir);
            let mut x = [0.0f32; L];
            for ((xn, &s), &z) in x.iter_mut().zip(&input.speech[span.clone()]).zip(&zir) {
                *xn = s - z;
            }
            weight(&num, &den, &mut x);
            tilt(input.tilt, &mut x);

            let mut lags = [0.0f32; 2];
            // ACB responses (zero for unvoiced frames) and their correlations.
            let mut y0 = [0.0f32; L];
            let mut y1 = [0.0f32; L];
            if voiced {
                // Responses of the last refined candidate set kept (the subframe's final lags).
                let mut kept: Option<([f32; L], [f32; L])> = None;
                // Closed-loop refinement of the segments starting in this subframe, one after
                // the other: the lag whose best ACB gain row leaves the least weighted error.
                for &(first, len, block) in &segments[..seg_count] {
                    if len == 0 || first / 2 != sf || (first + len - 1) / 2 != sf {
                        continue;
                    }
                    let open = choice.lag_half[first];
                    let lo = open.saturating_sub(LAG_REFINE_HALF).max(64 * block);
                    let hi = (open + LAG_REFINE_HALF).min(64 * block + 63);
                    let mut best = (f32::MAX, open, [0.0f32; L], [0.0f32; L]);
                    for cand in lo..=hi {
                        choice.lag_half[first..first + len].fill(cand);
                        let l = [
                            block_lag(choice.lag_half[2 * sf]),
                            block_lag(choice.lag_half[2 * sf + 1]),
                        ];
                        let (y0, y1) = self.acb_responses(&h, l);
                        let err = best_acb_error(&x, &y0, &y1, bitrate);
                        // Ties keep the open-loop lag (cheaper to code on average).
                        if err < best.0 || (err == best.0 && cand == open) {
                            best = (err, cand, y0, y1);
                        }
                    }
                    choice.lag_half[first..first + len].fill(best.1);
                    kept = Some((best.2, best.3));
                }
                let lag_half = &choice.lag_half;
                lags = [block_lag(lag_half[2 * sf]), block_lag(lag_half[2 * sf + 1])];
                (y0, y1) = match kept {
                    Some(y) => y,
                    None => self.acb_responses(&h, lags),
                };
            }
            let (c0, c1) = (dot(&x, &y0), dot(&x, &y1));
            let (e00, e01, e11) = (dot(&y0, &y0), dot(&y0, &y1), dot(&y1, &y1));
            let acb_err = |g: [f32; 2], c0: f32, c1: f32| {
                -2.0 * (g[0] * c0 + g[1] * c1)
                    + g[0] * g[0] * e00
                    + 2.0 * g[0] * g[1] * e01
                    + g[1] * g[1] * e11
            };
            let mut acb = (f32::MAX, 0usize, [0.0f32; 2]);
            if voiced {
                for (i, row) in ACB_GAIN_CB_Q14.iter().enumerate() {
                    let g = acb_gains([i32::from(row[0]), i32::from(row[1])], bitrate);
                    let err = acb_err(g, c0, c1);
                    if err < acb.0 {
                        acb = (err, i, g);
                    }
                }
                choice.acb_gain_idx[sf] = acb.1 as u8;
            }

            let n = usize::from(input.pulses[sf]);
            // The FCB response (zero without pulses) and its correlations.
            let mut yc = [0.0f32; L];
            if n > 0 {
                // Pulses against the target left by the provisional ACB choice.
                let mut x2 = x;
                for ((xn, &p), &q) in x2.iter_mut().zip(&y0).zip(&y1) {
                    *xn -= acb.2[0] * p + acb.2[1] * q;
                }
                let pulses = &mut choice.pulses[span.clone()];
                search_pulses(&h, &x2, n, pulses, scratch);
                let mut c = [0.0f32; L];
                for (ci, &p) in c.iter_mut().zip(pulses.iter()) {
                    *ci = f32::from(p);
                }
                yc = convolve(&h, &c);
            }
            let ee = dot(&yc, &yc);
            let (e0c, e1c) = (dot(&y0, &yc), dot(&y1, &yc));
            // Both gains jointly: every ACB row with the FCB gain indices around its optimum,
            // by weighted error plus (voiced) RD_MU times the least error per bit of the two
            // gain symbols, costed with the decoder's CDFs given this frame's previous indices.
            let cx = dot(&x, &yc);
            let carried = choice.fcb_gain_idx[sf];
            let rows = if voiced { ACB_GAIN_CB_Q14.len() } else { 1 };
            // (error relative to the empty excitation, bits, row, FCB gain index)
            let mut cands = [(0.0f32, 0.0f32, 0usize, 0u8); 16 * 4];
            let mut count = 0;
            let mut least = f32::MAX;
            for (i, row) in ACB_GAIN_CB_Q14.iter().enumerate().take(rows) {
                let g = if voiced {
                    acb_gains([i32::from(row[0]), i32::from(row[1])], bitrate)
                } else {
                    [0.0; 2]
                };
                let acb_bits = if voiced {
                    cdf_bits(&ACB_GAIN_CDF[prev_acb.map_or(0, |p| usize::from(p) + 1)], i)
                } else {
                    0.0
                };
                let base = acb_err(g, c0, c1);
                if n == 0 {
                    cands[count] = (base, acb_bits, i, carried);
                    count += 1;
                    least = least.min(base);
                    continue;
                }
                // Correlation of the FCB response with what the ACB leaves.
                let cr = cx - g[0] * e0c - g[1] * e1c;
                let gc = if ee > 0.0 { (cr / ee).max(1e-9) } else { 1e-9 };
                let (lo, hi) = fcb_gain_span(voiced, gc);
                for idx in lo..=hi {
                    let q = if voiced {
                        scratch.gains_voiced[idx]
                    } else {
                        scratch.gains_unvoiced[idx]
                    };
                    let err = base - 2.0 * q * cr + (1.0 + FCB_SHRINK) * q * q * ee;
                    let fcb_bits = if voiced {
                        match prev_fcb {
                            None => cdf_bits(&FCBG_VOICED_CDF, idx),
                            Some(p) => cdf_bits(
                                &FCBG_VOICED_DELTA_CDF[33 - usize::from(p).min(33)..][..35],
                                idx,
                            ),
                        }
                    } else {
                        0.0
                    };
                    cands[count] = (err, acb_bits + fcb_bits, i, idx as u8);
                    count += 1;
                    least = least.min(err);
                }
            }
            // Bits are priced against the least absolute error (energy left in the target).
            let lambda = RD_MU * (dot(&x, &x) + least).max(0.0);
            let mut best = (f32::MAX, 0usize, carried);
            for &(err, bits, i, idx) in &cands[..count] {
                let cost = err + lambda * bits;
                if cost < best.0 {
                    best = (cost, i, idx);
                }
            }
            let (row, gidx) = (best.1, best.2);
            if voiced {
                prev_acb = Some(row as u8);
                if n > 0 {
                    prev_fcb = Some(gidx);
                }
            }
            if voiced {
                choice.acb_gain_idx[sf] = row as u8;
            }
            choice.fcb_gain_idx[sf] = gidx;

            // The decoder's steps for this subframe.
            let mut exc = [0.0f32; L];
            let gain_idx = usize::from(choice.fcb_gain_idx[sf]);
            write_pulses(
                &choice.pulses[span.clone()],
                fcb_gain(voiced, gain_idx),
                &mut exc,
            );
            if voiced {
                let row = ACB_GAIN_CB_Q14[usize::from(choice.acb_gain_idx[sf])];
                let gains = acb_gains([i32::from(row[0]), i32::from(row[1])], bitrate);
                self.ltp.predict(lags, gains, &mut exc);
            }
            self.ltp.push(&exc);
            let mut noise = [0.0f32; L];
            let count: u32 = choice.pulses[span]
                .iter()
                .map(|p| u32::from(p.unsigned_abs()))
                .sum();
            self.noise.generate(
                &NoiseInput {
                    excitation: &exc,
                    voiced,
                    pulses: count,
                    residual_energy: residual_energy(nrg_carry[sf], L),
                    fcb_gain_index: gain_idx,
                    lsf_low: [lpc.subframe_lsf[sf][0], lpc.subframe_lsf[sf][1]],
                    normalized_bitrate: bitrate,
                },
                &mut noise,
            );
            for (e, n) in exc.iter_mut().zip(&noise) {
                *e += n;
            }
            self.lpc.filter(a, &exc, &mut recon[span_out(sf)]);
        }
        *fcb_gain_idx = choice.fcb_gain_idx;
        choice
    }

    /// The weighted responses (`h` convolved) of the two long-term-predictor bases the decoder
    /// builds for a subframe with block lags `lags`.
    fn acb_responses(&self, h: &[f32; L], lags: [f32; 2]) -> ([f32; L], [f32; L]) {
        let mut b0 = [0.0f32; L];
        let mut b1 = [0.0f32; L];
        self.ltp.clone().bases(lags, &mut b0, &mut b1);
        (convolve(h, &b0), convolve(h, &b1))
    }
}

/// The least weighted error (relative to the target's energy) over the ACB gain rows for
/// responses `y0`, `y1` against target `x`.
fn best_acb_error(x: &[f32; L], y0: &[f32; L], y1: &[f32; L], bitrate: f32) -> f32 {
    let (c0, c1) = (dot(x, y0), dot(x, y1));
    let (e00, e01, e11) = (dot(y0, y0), dot(y0, y1), dot(y1, y1));
    let mut least = f32::MAX;
    for row in ACB_GAIN_CB_Q14.iter() {
        let g = acb_gains([i32::from(row[0]), i32::from(row[1])], bitrate);
        let err = -2.0 * (g[0] * c0 + g[1] * c1)
            + g[0] * g[0] * e00
            + 2.0 * g[0] * g[1] * e01
            + g[1] * g[1] * e11;
        least = least.min(err);
    }
    least
}

fn span_out(sf: usize) -> core::ops::Range<usize> {
    sf * L..(sf + 1) * L
}

/// Greedy placement of `n` unit pulses in one subframe.
fn search_pulses(h: &[f32; L], x: &[f32; L], n: usize, pulses: &mut [i8], scratch: &mut Scratch) {
    // Backward-filtered target and the impulse-response correlations.
    let mut d = [0.0f32; L];
    for (i, di) in d.iter_mut().enumerate() {
        *di = dot(&x[i..], &h[..L - i]);
    }
    // Each position's pulse takes the sign of its correlation, so adding one raises the
    // correlation by |d[i]| and stacked pulses never cancel.
    let mut sign = [0.0f32; L];
    let mut g = [0.0f32; L];
    for ((s, gi), &di) in sign.iter_mut().zip(g.iter_mut()).zip(&d) {
        *s = if di >= 0.0 { 1.0 } else { -1.0 };
        *gi = di.abs();
    }
    // The signed correlations of the impulse responses, psi[i][j] = s_i s_j phi[i][j] with
    // phi[i][j] = sum_{n >= max(i, j)} h[n - i] h[n - j], built upwards from the last row by
    // phi[i][j] = phi[i + 1][j + 1] + h[L-1-i] h[L-1-j] (whole rows, so it vectorises).
    let hr: [f32; L] = core::array::from_fn(|j| h[L - 1 - j]);
    let psi = &mut scratch.phi;
    let mut row = [0.0f32; L + 1];
    for i in (0..L).rev() {
        let hi = hr[i];
        let mut next = [0.0f32; L + 1];
        for ((nj, &pj), &hj) in next.iter_mut().zip(&row[1..]).zip(&hr) {
            *nj = pj + hi * hj;
        }
        let si = sign[i];
        for ((out, &v), &sj) in psi[i].iter_mut().zip(&next).zip(&sign) {
            *out = v * si * sj;
        }
        row = next;
    }
    let dg: [f32; L] = core::array::from_fn(|i| psi[i][i]);
    // q[k]: correlation of position k's unit response with the pulses placed so far; the
    // criterion of the placed set is c^2 / e.
    let mut q = [0.0f32; L];
    let (mut c, mut e) = (0.0f32, 0.0f32);
    let mut score = [0.0f32; L];
    for _ in 0..n {
        // Maximise (c + |d_i|)^2 / e_i.
        for (i, sc) in score.iter_mut().enumerate() {
            let c2 = c + g[i];
            let e2 = (e + 2.0 * q[i] + dg[i]).max(1e-30);
            *sc = c2 * c2 / e2;
        }
        let p = argmax(&score);
        c += g[p];
        e += 2.0 * q[p] + dg[p];
        for (qk, &v) in q.iter_mut().zip(&psi[p]) {
            *qk += v;
        }
        pulses[p] += sign[p] as i8;
    }
    // Replacement passes: move one unit pulse to another position while that raises the
    // criterion (the greedy order strands early pulses once later ones share the work).
    for _ in 0..REPLACE_PASSES {
        let mut moved = false;
        for j in 0..L {
            if pulses[j] == 0 {
                continue;
            }
            // Without one unit at j, then with one at i.
            let c1 = c - g[j];
            let e1 = e - 2.0 * q[j] + dg[j];
            for (i, sc) in score.iter_mut().enumerate() {
                let c2 = c1 + g[i];
                let e2 = (e1 + 2.0 * (q[i] - psi[j][i]) + dg[i]).max(1e-30);
                *sc = c2 * c2 / e2;
            }
            score[j] = 0.0;
            let i = argmax(&score);
            if score[i] > c * c / e.max(1e-30) * (1.0 + 1e-5) {
                pulses[j] -= sign[j] as i8;
                pulses[i] += sign[i] as i8;
                c = c1 + g[i];
                e = e1 + 2.0 * (q[i] - psi[j][i]) + dg[i];
                let (row_i, row_j) = (psi[i], psi[j]);
                for ((qk, &vi), &vj) in q.iter_mut().zip(&row_i).zip(&row_j) {
                    *qk += vi - vj;
                }
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    // Budget left unplaced (pathological input): park the rest on the strongest position.
    let placed: usize = pulses.iter().map(|p| usize::from(p.unsigned_abs())).sum();
    if placed < n {
        let p = pulses.iter().position(|&v| v != 0).unwrap_or(0);
        let s = if pulses[p] < 0 { -1 } else { 1 };
        for _ in placed..n {
            pulses[p] += s;
        }
    }
}

/// The index of the largest element (the first of equals); lane-wise maxima first so that the
/// scan vectorises.
fn argmax(v: &[f32; L]) -> usize {
    let mut lanes = [f32::MIN; 8];
    for chunk in v.chunks_exact(8) {
        for (l, &x) in lanes.iter_mut().zip(chunk) {
            *l = if x > *l { x } else { *l };
        }
    }
    let m = lanes
        .iter()
        .fold(f32::MIN, |a, &b| if b > a { b } else { a });
    v.iter().position(|&x| x == m).unwrap_or(0)
}

/// The FCB gain indices to try around the unquantised optimum `g`: one step below to two above
/// its floor in the table's dB grid, clamped to the table.
fn fcb_gain_span(voiced: bool, g: f32) -> (usize, usize) {
    let db = 20.0 * log10f(g);
    let (centre, max) = if voiced {
        (((db + 100.0) / 3.0) as i32, FCB_GAINS_VOICED as i32 - 1)
    } else {
        ((db + 90.0) as i32, FCB_GAINS_UNVOICED as i32 - 1)
    };
    (
        (centre - 1).clamp(0, max) as usize,
        (centre + 2).clamp(0, max) as usize,
    )
}

/// Bits the range coder spends on symbol `s` of a CDF window (`cdf[0]` its base).
fn cdf_bits(cdf: &[u16], s: usize) -> f32 {
    let total = f32::from(cdf[cdf.len() - 1]) - f32::from(cdf[0]);
    let width = f32::from(cdf[s + 1]) - f32::from(cdf[s]);
    log2f(total / width.max(0.5))
}

#[cfg(test)]
mod tests;
