//! Pitch estimation on the perceptually weighted speech of one internal frame.
//!
//! The input is the weighted-speech buffer (`ltp_buf`, 659 samples ending 7 samples past the frame)
//! and the frame's LPC power spectrum. The search runs in stages:
//!
//! 1. a DC-blocking high-pass, then 2x decimation to 8 kHz;
//! 2. at 8 kHz, for each of the eight 40-sample blocks (20 at 8 kHz), normalised correlations over
//!    lags 10..=166, interpolated to 16 kHz resolution;
//! 3. per block and per 2 ms lag range ("lag block", 9 of them covering lags 32..320), the best
//!    normalised correlation; every allowed per-block path through the lag blocks ("block track",
//!    from the codec's table) is scored, and the 24 best survive;
//! 4. around the surviving lag blocks, correlations are recomputed at 16 kHz and interpolated to
//!    half-sample resolution;
//! 5. every segmentation of every surviving track ("block segmentation", also a table) picks the
//!    best half-sample lag per segment; the final choice weighs the correlation against lag jumps,
//!    harmonicity of the spectrum, closeness to the previous lag and the bits the lags would cost.
//!
//! The tables come from the codec's pitch ROM (`pitch_seed`), which this module does not decode:
//! the caller passes them as a [`PitchTables`] view.
//!
//! State size: [`PitchEstimator`] 16 bytes. Scratch: 28.7 KB of search working memory (kept by the
//! [`super::analyser::Analyser`]; [`PitchEstimator::estimate`] puts it on the stack) plus about
//! 4 KB of locals on the stack per call; nothing is allocated.

use super::lpc::SPECTRUM_LEN;
use super::voicing::harmonicity;

/// Length of the weighted-speech buffer the estimator reads.
pub const LTP_BUF_LEN: usize = 659;
/// Samples of look-ahead at the end of the buffer.
const LOOKAHEAD: usize = 7;
/// Lag blocks ("subframes" of the lag contour) per internal frame, each 40 samples.
pub const LAG_BLOCKS: usize = 8;
const LAG_BLOCK_LEN: usize = 40;
/// Shortest lag, in samples.
pub const MIN_LAG: usize = 32;
/// Lag ranges of 32 samples each (64 half-sample indices) covering lags 32..320.
pub const LAG_RANGES: usize = 9;
const RANGE_LEN: usize = 32;
/// Half-sample lag indices per lag range.
pub const RANGE_INDICES: usize = 2 * RANGE_LEN;
/// Largest number of segments in a block segmentation.
pub const MAX_SEGMENTS: usize = 6;
/// Block tracks kept after the coarse search.
const SURVIVING_TRACKS: usize = 24;

// 8 kHz stage: lags 10..=166 over 20-sample blocks.
const DECIM_DELAY: usize = 7;
const STAGE1_MIN_LAG: usize = 10;
const STAGE1_LAGS: usize = 157;
const STAGE1_BLOCK_LEN: usize = 20;
/// Samples of the decimated buffer.
const DECIM_LEN: usize = (LTP_BUF_LEN + DECIM_DELAY - 2 * DECIM_DELAY) / 2;
/// 16 kHz lag grids after interpolation, both starting at lag 20: correlations (306 lags) and
/// energies (312 lags). The search uses lags 32..320, i.e. offset 12.
const CORR_LAGS: usize = 2 * (STAGE1_LAGS - 4);
const ENERGY_LAGS: usize = 2 * (STAGE1_LAGS - 1);
const GRID_MIN_LAG: usize = 2 * STAGE1_MIN_LAG;
const GRID_OFFSET: usize = MIN_LAG - GRID_MIN_LAG;
/// High-passed samples used at full rate (the look-ahead is left out).
const HP_LEN: usize = LTP_BUF_LEN - LOOKAHEAD;

const DELTA_WEIGHT: f32 = 0.1439;
const SHORT_LAG_WEIGHT: f32 = 0.04;
const HARMONIC_WEIGHT: f32 = 2.5;
const PREV_LAG_WEIGHT: f32 = 0.7981;
const PREV_LAG_SPAN: f32 = 0.15;
const RATE_WEIGHT: f32 = 0.022;
/// Coarse normalised correlation a lag needs before it is refined at full rate.
const REFINE_THRESHOLD: f32 = 0.25;

/// Half-band decimation filter (odd taps zero except the centre), first half and centre.
#[allow(clippy::excessive_precision)]
const DECIM_TAPS: [f32; 8] = [
    -0.045472838,
    0.0,
    0.06366198,
    0.0,
    -0.10610329,
    0.0,
    0.31830987,
    0.5,
];
/// Half-sample interpolation filter, first half of a symmetric 8-tap kernel.
#[allow(clippy::excessive_precision)]
const INTERP_TAPS: [f32; 4] = [-0.0024414062, 0.023925781, -0.119628906, 0.59814453];

/// One block segmentation of the codec's pitch ROM: the lag range of each segment and how many
/// consecutive lag blocks it spans (the spans add up to 8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockSeg {
    /// Number of segments, 1..=6.
    pub len: u8,
    /// Lag range (0..9) of each segment.
    pub ranges: [u8; MAX_SEGMENTS],
    /// Lag blocks covered by each segment.
    pub spans: [u8; MAX_SEGMENTS],
}

impl BlockSeg {
    fn segments(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let n = usize::from(self.len).min(MAX_SEGMENTS);
        self.ranges[..n]
            .iter()
            .zip(&self.spans[..n])
            .map(|(&r, &s)| (usize::from(r), usize::from(s)))
    }

    /// The lag range of each of the 8 lag blocks, or `None` if the spans do not cover exactly 8
    /// blocks or a range is out of bounds.
    fn track(&self) -> Option<[usize; LAG_BLOCKS]> {
        let mut track = [0; LAG_BLOCKS];
        let mut at = 0;
        for (range, span) in self.segments() {
            if range >= LAG_RANGES {
                return None;
            }
            for _ in 0..span {
                *track.get_mut(at)? = range;
                at += 1;
            }
        }
        (at == LAG_BLOCKS).then_some(track)
    }
}

/// The pitch tables the estimator reads, expanded from the codec's pitch ROM.
#[derive(Clone, Copy, Debug)]
pub struct PitchTables<'a> {
    /// The 217 block segmentations.
    pub blocksegs: &'a [BlockSeg],
    /// Coded symbol (1-based) of each block segmentation (`blocksegs2idx`).
    pub blockseg_symbol: &'a [u8],
    /// For each of the 187 block tracks: its first block segmentation and how many consecutive
    /// segmentations share the track (`blocksegs_ix`).
    pub track_blocksegs: &'a [[u8; 2]],
    /// For each first lag range, the first and last symbol of the segmentations starting there.
    pub first_range_symbols: &'a [[u8; 2]; LAG_RANGES],
    /// Cumulative frequencies of the segmentation symbol (218 entries).
    pub blockseg_cdf: &'a [u16],
    /// Cumulative frequencies of the first lag range given the previous one.
    pub range_transition_cdf: &'a [[u16; LAG_RANGES + 1]; LAG_RANGES],
    /// Cumulative frequencies of the lag delta for the delta mode used during the search
    /// (mode 1 of 3; 320 entries).
    pub delta_lag_cdf: &'a [u16],
}

impl PitchTables<'static> {
    /// The view over the codec's generated pitch tables ([`crate::mlow::tables::pitch`]),
    /// with the delta-lag table of mode 1 (the one the search prices lags with).
    pub fn builtin() -> Self {
        use crate::mlow::tables::pitch as t;
        PitchTables {
            blocksegs: &BUILTIN_BLOCKSEGS,
            blockseg_symbol: &t::CONTOUR_ID,
            track_blocksegs: &t::TRACK_IX,
            first_range_symbols: &t::FIRST_BLOCK_RANGE,
            blockseg_cdf: &t::CONTOUR_CDF,
            range_transition_cdf: &t::BLOCK_TRANSITION_CDF,
            delta_lag_cdf: &t::DELTA_LAG_CDF[1],
        }
    }
}

/// The 217 block segmentations in the estimator's layout, built at compile time from the
/// generated contour tables (segment count, lag range and span of each segment).
static BUILTIN_BLOCKSEGS: [BlockSeg; 217] = {
    use crate::mlow::tables::pitch as t;
    let mut out = [BlockSeg {
        len: 0,
        ranges: [0; MAX_SEGMENTS],
        spans: [0; MAX_SEGMENTS],
    }; 217];
    let mut c = 0;
    while c < 217 {
        let len = t::CONTOUR_SEGMENTS[c];
        out[c].len = len;
        let mut k = 0;
        while k < len as usize && k < MAX_SEGMENTS {
            out[c].ranges[k] = t::CONTOUR_BLOCK[c][k];
            out[c].spans[k] = t::CONTOUR_LEN[c][k];
            k += 1;
        }
        c += 1;
    }
    out
};

/// The estimator's memory across internal frames.
#[derive(Clone, Debug)]
pub struct PitchEstimator {
    prev_lag: f32,
    prev_pitch_corr: f32,
    /// Lag predictor for the rate estimate: last lag range and half-sample index, -1 when reset.
    prev_range: i32,
    prev_index: i32,
}

impl Default for PitchEstimator {
    fn default() -> Self {
        Self::new()
    }
}

/// Result of the pitch search for one internal frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pitch {
    /// Best normalised correlation over all candidates (0 when the frame is not searched).
    pub pitch_corr: f32,
    /// Lag (samples, in half-sample steps) of each 40-sample block.
    pub lags: [f32; LAG_BLOCKS],
    /// Half-sample lag index of each block: `lag = index / 2 + 32`.
    pub lag_indices: [u16; LAG_BLOCKS],
    /// Lag of the block with the most energy.
    pub avg_lag: f32,
    /// Spectral harmonicity at `avg_lag`.
    pub harmonicity: f32,
    /// Chosen block segmentation (index into [`PitchTables::blocksegs`]).
    pub blockseg: u8,
}

impl Pitch {
    /// The result for a frame that is not searched (packet not coded as active voice).
    pub const UNVOICED: Pitch = Pitch {
        pitch_corr: 0.0,
        lags: [MIN_LAG as f32; LAG_BLOCKS],
        lag_indices: [0; LAG_BLOCKS],
        avg_lag: MIN_LAG as f32,
        harmonicity: 0.0,
        blockseg: 0,
    };
}

/// Why a search could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PitchError {
    /// The tables are inconsistent (a segmentation not covering 8 blocks, an index out of range).
    BadTables,
}

impl PitchEstimator {
    /// An estimator at stream start.
    pub fn new() -> Self {
        PitchEstimator {
            prev_lag: 0.0,
            prev_pitch_corr: 0.0,
            prev_range: -1,
            prev_index: -1,
        }
    }

    /// Forget the lag predictor used for the rate estimate. The encoder does this after the last
    /// internal frame of each packet and after every unvoiced frame.
    pub fn reset_predictor(&mut self) {
        self.prev_range = -1;
        self.prev_index = -1;
    }

    /// The lag predictor: last lag range and half-sample index (-1, -1 when reset).
    pub fn predictor(&self) -> (i32, i32) {
        (self.prev_range, self.prev_index)
    }

    /// Set the lag predictor (last lag range and half-sample index; -1 for none).
    pub fn set_predictor(&mut self, range: i32, index: i32) {
        self.prev_range = range;
        self.prev_index = index;
    }

    /// Estimate the pitch of one internal frame. Frames of packets not coded as active voice are
    /// not searched: they get [`Pitch::UNVOICED`] and reset the memory.
    pub fn estimate(
        &mut self,
        tables: &PitchTables<'_>,
        ltp_buf: &[f32; LTP_BUF_LEN],
        spectrum: &[f32; SPECTRUM_LEN],
        coded_as_active_voice: bool,
    ) -> Result<Pitch, PitchError> {
        self.estimate_with(
            &mut PitchScratch::default(),
            tables,
            ltp_buf,
            spectrum,
            coded_as_active_voice,
        )
    }

    /// [`PitchEstimator::estimate`] with the search's scratch memory kept by the caller, which
    /// saves clearing 28.7 KB per frame.
    pub(crate) fn estimate_with(
        &mut self,
        scratch: &mut PitchScratch,
        tables: &PitchTables<'_>,
        ltp_buf: &[f32; LTP_BUF_LEN],
        spectrum: &[f32; SPECTRUM_LEN],
        coded_as_active_voice: bool,
    ) -> Result<Pitch, PitchError> {
        if !coded_as_active_voice {
            *self = Self::new();
            return Ok(Pitch::UNVOICED);
        }
        let s = &mut scratch.search;
        scratch.rows.reset();
        s.prepare(ltp_buf);
        s.coarse();
        let tracks = s.surviving_tracks(tables)?;
        s.refine();
        let (best, pitch_corr, max_block) =
            s.choose(self, &mut scratch.rows, &tracks, tables, spectrum)?;

        let idx = best.indices;
        let lag_of = |i: u16| f32::from(i) * 0.5 + MIN_LAG as f32;
        let lags = idx.map(lag_of);
        let avg_lag = lag_of(idx[max_block]);
        let harm = s.harm_cache.get(avg_lag, spectrum);
        self.prev_lag = lags[LAG_BLOCKS - 1];
        self.prev_pitch_corr = pitch_corr;
        self.prev_index = i32::from(idx[LAG_BLOCKS - 1]);
        self.prev_range = self.prev_index / RANGE_INDICES as i32;
        Ok(Pitch {
            pitch_corr,
            lags,
            lag_indices: idx,
            avg_lag,
            harmonicity: harm,
            blockseg: best.blockseg,
        })
    }

    fn prev_lag_bias(&self, lag: f32) -> f32 {
        let diff = (lag - self.prev_lag).abs();
        let span = PREV_LAG_SPAN * self.prev_lag;
        if diff < span {
            self.prev_pitch_corr * (1.0 - diff / span) * PREV_LAG_WEIGHT
        } else {
            0.0
        }
    }
}

/// A candidate contour: one half-sample lag index per block and its segmentation.
#[derive(Clone, Copy, Debug, Default)]
struct Candidate {
    indices: [u16; LAG_BLOCKS],
    blockseg: u8,
}

/// Harmonicity memo keyed by the quantised harmonic spacing, as the reference keeps it during the
/// final search (so the reported value can be one computed for a neighbouring lag).
#[derive(Clone, Debug)]
struct HarmCache([f32; 50]);

impl HarmCache {
    const EMPTY: f32 = -10_000.0;

    fn reset(&mut self) {
        self.0 = [Self::EMPTY; 50];
    }

    fn get(&mut self, lag: f32, spectrum: &[f32; SPECTRUM_LEN]) -> f32 {
        let bins_per_hz = 2.0 * (SPECTRUM_LEN - 1) as f32 / 16_000.0;
        let key = libm::roundf(16_000.0 / lag * 2.0 * bins_per_hz);
        match usize::try_from(key as i64)
            .ok()
            .and_then(|k| self.0.get(k).map(|v| (k, *v)))
        {
            Some((_, v)) if v > Self::EMPTY => v,
            Some((k, _)) => {
                let v = harmonicity(lag, spectrum);
                self.0[k] = v;
                v
            }
            None => harmonicity(lag, spectrum),
        }
    }
}

/// Scratch memory of the pitch search. Every search overwrites what it reads, so one scratch can
/// serve any number of searches without being cleared.
#[derive(Clone, Debug)]
pub(crate) struct PitchScratch {
    search: Search,
    rows: NormRows,
}

impl Default for PitchScratch {
    fn default() -> Self {
        PitchScratch {
            search: Search::default(),
            rows: NormRows::new(),
        }
    }
}

/// Scratch of one search.
#[derive(Clone, Debug)]
struct Search {
    /// High-passed buffer with `DECIM_DELAY` zeros in front.
    hp: [f32; DECIM_DELAY + LTP_BUF_LEN],
    decim: [f32; DECIM_LEN],
    /// Block energies (8 kHz first, then replaced by 16 kHz values).
    target_energy: [f32; LAG_BLOCKS],
    /// Block weights from the 8 kHz energies.
    weight: [f32; LAG_BLOCKS],
    /// Correlations and energies per block on the 16 kHz lag grids.
    corr: [[f32; CORR_LAGS]; LAG_BLOCKS],
    energy: [[f32; ENERGY_LAGS]; LAG_BLOCKS],
    /// Best coarse normalised correlation of each lag range, per block.
    range_max: [[f32; LAG_RANGES]; LAG_BLOCKS],
    /// Which lag ranges of each block some surviving track uses (bit per range).
    used_ranges: [u16; LAG_BLOCKS],
    harm_cache: HarmCache,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            hp: [0.0; DECIM_DELAY + LTP_BUF_LEN],
            decim: [0.0; DECIM_LEN],
            target_energy: [0.0; LAG_BLOCKS],
            weight: [0.0; LAG_BLOCKS],
            corr: [[0.0; CORR_LAGS]; LAG_BLOCKS],
            energy: [[0.0; ENERGY_LAGS]; LAG_BLOCKS],
            range_max: [[0.0; LAG_RANGES]; LAG_BLOCKS],
            used_ranges: [0; LAG_BLOCKS],
            harm_cache: HarmCache([HarmCache::EMPTY; 50]),
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0f32;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// Correlations of `target` with the windows of `x` starting at `start - i`, for `i` in
/// `0..out.len()`: `out[i] = dot(target, x[start - i..])`, each summed in the same order as
/// [`dot`], four lags at a time so the compiler can put the lags in vector lanes.
fn lagged_dots(target: &[f32], x: &[f32], start: usize, out: &mut [f32]) {
    let len = target.len();
    let mut i0 = 0;
    while i0 + 4 <= out.len() {
        // Lane l holds lag i0 + 3 - l, so the four windows are consecutive in `x`.
        let w = &x[start - i0 - 3..start - i0 + len];
        let mut acc = [0f32; 4];
        for (n, &t) in target.iter().enumerate() {
            let v = &w[n..n + 4];
            for l in 0..4 {
                acc[l] += t * v[l];
            }
        }
        for l in 0..4 {
            out[i0 + 3 - l] = acc[l];
        }
        i0 += 4;
    }
    for (i, o) in out.iter_mut().enumerate().skip(i0) {
        *o = dot(target, &x[start - i..start - i + len]);
    }
}

/// Sliding energies of `len`-sample windows of `x` ending at `end`, for lags `min_lag..` going
/// back: `out[i] = |x[end - len - min_lag - i .. end - min_lag - i]|^2` (floored at 1e-9).
fn sliding_energy(x: &[f32], end: usize, len: usize, min_lag: usize, out: &mut [f32]) {
    let start = end - len - min_lag;
    let mut e = dot(&x[start..start + len], &x[start..start + len]).max(1e-9);
    out[0] = e;
    for (i, o) in out.iter_mut().enumerate().skip(1) {
        let (enter, leave) = (x[start - i], x[start + len - i]);
        e = (e + enter * enter - leave * leave).max(1e-9);
        *o = e;
    }
}

/// The interpolated value halfway between `x[m]` and `x[m + 1]` (8-tap kernel).
fn half_sample(x: &[f32], m: usize) -> f32 {
    let mut acc = 0f32;
    for (j, &t) in INTERP_TAPS.iter().enumerate() {
        acc += (x[m + j - 3] + x[m + 4 - j]) * t;
    }
    acc
}

/// [`half_sample`] at every point of a run, `out[i] = half_sample(x, i + 3)` (`x` needs
/// `out.len() + 7` elements), in one pass the compiler can vectorise (same operations, same
/// order).
fn half_samples(x: &[f32], out: &mut [f32]) {
    let x = &x[..out.len() + 7];
    for (i, h) in out.iter_mut().enumerate() {
        let mut acc = 0f32;
        for (j, &t) in INTERP_TAPS.iter().enumerate() {
            acc += (x[i + j] + x[i + 7 - j]) * t;
        }
        *h = acc;
    }
}

impl Search {
    /// High-pass (x[n] - x[n-1], then a pole at 0.96) and decimate to 8 kHz.
    fn prepare(&mut self, ltp_buf: &[f32; LTP_BUF_LEN]) {
        self.used_ranges = [0; LAG_BLOCKS];
        let out = &mut self.hp[DECIM_DELAY..];
        let mut prev = 0f32;
        for (o, &x) in out.iter_mut().zip(ltp_buf) {
            *o = x - prev;
            prev = x;
        }
        // The pole runs in blocks of five, each output written in terms of the block's inputs and
        // the output before the block (the reference's evaluation order).
        let a = 0.96f32;
        let a2 = a * a;
        let a3 = a * a2;
        let a4 = a * a3;
        let a5 = a * a4;
        let mut y = 0f32;
        let mut blocks = out.chunks_exact_mut(5);
        for b in &mut blocks {
            let [x0, x1, x2, x3, x4] = [b[0], b[1], b[2], b[3], b[4]];
            b[4] = x4 + a * x3 + a2 * x2 + a3 * x1 + a4 * x0 + a5 * y;
            b[0] = x0 + a * y;
            b[1] = x1 + a * x0 + a2 * y;
            b[2] = x2 + a * x1 + a2 * x0 + a3 * y;
            b[3] = x3 + a * x2 + a2 * x1 + a3 * x0 + a4 * y;
            y = b[4];
        }
        for v in blocks.into_remainder() {
            y = *v + y * a;
            *v = y;
        }

        for (j, d) in self.decim.iter_mut().enumerate() {
            let x = &self.hp[2 * j..];
            let mut acc = x[DECIM_DELAY] * DECIM_TAPS[DECIM_DELAY];
            for i in (0..DECIM_DELAY).step_by(2) {
                acc += (x[i] + x[2 * DECIM_DELAY - i]) * DECIM_TAPS[i];
            }
            *d = acc;
        }
    }

    /// Correlations and energies at 8 kHz, interpolated onto the 16 kHz grids, and the coarse
    /// normalised correlation.
    fn coarse(&mut self) {
        // Energies of the lagged windows, shared by all blocks through one long sliding pass.
        const EXT: usize = STAGE1_LAGS + (LAG_BLOCKS - 1) * STAGE1_BLOCK_LEN;
        let mut lagged = [0f32; EXT];
        sliding_energy(
            &self.decim,
            DECIM_LEN,
            STAGE1_BLOCK_LEN,
            STAGE1_MIN_LAG,
            &mut lagged,
        );
        let first_target = DECIM_LEN - STAGE1_BLOCK_LEN * LAG_BLOCKS;
        for b in 0..LAG_BLOCKS {
            let t = first_target + b * STAGE1_BLOCK_LEN;
            let target = &self.decim[t..t + STAGE1_BLOCK_LEN];
            let mut c = [0f32; STAGE1_LAGS];
            lagged_dots(target, &self.decim, t - STAGE1_MIN_LAG, &mut c);
            let te = dot(target, target).max(1e-9);
            self.target_energy[b] = te;
            let sqrt_te = libm::sqrtf(te + 1e-30);
            // Later blocks sit later in the buffer, so their lagged windows start nearer the front
            // of the shared pass.
            let off = (LAG_BLOCKS - 1 - b) * STAGE1_BLOCK_LEN;
            let mut e = [0f32; STAGE1_LAGS];
            for (i, ei) in e.iter_mut().enumerate() {
                let m = 0.5 * (libm::sqrtf(lagged[off + i] + 1e-30) + sqrt_te);
                *ei = m * m;
            }
            // Onto the 16 kHz grids (lag 20 + k): even k copy, odd k interpolate.
            let energy = &mut self.energy[b];
            for m in 0..STAGE1_LAGS - 1 {
                energy[2 * m] = e[m];
                energy[2 * m + 1] = (e[m] + e[m + 1]) * 0.5;
            }
            let corr = &mut self.corr[b];
            let mut half = [0f32; STAGE1_LAGS - 7];
            half_samples(&c, &mut half);
            for (m, &h) in half.iter().enumerate().map(|(i, h)| (i + 3, h)) {
                corr[2 * m] = c[m];
                corr[2 * m + 1] = h;
            }
            for (r, m) in self.range_max[b].iter_mut().enumerate() {
                let base = GRID_OFFSET + r * RANGE_LEN;
                *m = corr[base] / energy[base];
                for i in base + 1..base + RANGE_LEN {
                    let h = corr[i] / energy[i];
                    if h > *m {
                        *m = h;
                    }
                }
            }
        }
        let mut total = 0f32;
        for &e in &self.target_energy {
            total += e;
        }
        for (w, &e) in self.weight.iter_mut().zip(&self.target_energy) {
            *w = e / total;
        }
    }

    /// Score every block track on the best coarse correlation of its lag ranges and keep the 24
    /// best, in order of score.
    fn surviving_tracks(
        &mut self,
        tables: &PitchTables<'_>,
    ) -> Result<[usize; SURVIVING_TRACKS], PitchError> {
        let range_max = &self.range_max;
        let delta_weight = DELTA_WEIGHT / RANGE_INDICES as f32;
        let mut score = [0f32; 256];
        let n = tables.track_blocksegs.len();
        if n > score.len() || n < SURVIVING_TRACKS {
            return Err(PitchError::BadTables);
        }
        for (t, s) in score.iter_mut().take(n).enumerate() {
            let seg = tables
                .blocksegs
                .get(usize::from(tables.track_blocksegs[t][0]))
                .ok_or(PitchError::BadTables)?;
            // One pass over the segments: the weighted coarse correlation block by block (the
            // same sum, in block order, as over the expanded track), the mean range and the
            // range jumps; the spans must cover the 8 blocks exactly.
            let (mut corr, mut mean, mut jumps) = (0f32, 0f32, 0f32);
            let (mut at, mut prev) = (0, None);
            for (range, span) in seg.segments() {
                if range >= LAG_RANGES || at + span > LAG_BLOCKS {
                    return Err(PitchError::BadTables);
                }
                #[allow(clippy::needless_range_loop)] // block b indexes two tables
                for b in at..at + span {
                    corr += range_max[b][range] * self.weight[b];
                }
                at += span;
                mean += (range * span) as f32;
                if let Some(p) = prev {
                    jumps += (p as i32 - range as i32).abs() as f32;
                }
                prev = Some(range);
            }
            if at != LAG_BLOCKS {
                return Err(PitchError::BadTables);
            }
            mean /= LAG_BLOCKS as f32;
            let short_lag_bias =
                (320.0 / ((mean + 1.5) * RANGE_LEN as f32) - 1.0) * SHORT_LAG_WEIGHT;
            let v =
                1.0 / (1.1 - corr) - 0.7 * RANGE_LEN as f32 * delta_weight * jumps + short_lag_bias;
            // A NaN score (impossible for finite input) ranks last.
            *s = if v.is_nan() { f32::NEG_INFINITY } else { v };
        }
        // The 24 best in order of score, ties to the lowest index: insert each track after every
        // kept track scoring at least as much.
        let mut out = [0usize; SURVIVING_TRACKS];
        let mut kept = 0;
        for (t, &st) in score.iter().enumerate().take(n) {
            let at = out[..kept].partition_point(|&o| score[o] >= st);
            if at == SURVIVING_TRACKS {
                continue;
            }
            let end = kept.min(SURVIVING_TRACKS - 1);
            out.copy_within(at..end, at + 1);
            out[at] = t;
            kept = (kept + 1).min(SURVIVING_TRACKS);
        }
        for &t in &out {
            let seg = &tables.blocksegs[usize::from(tables.track_blocksegs[t][0])];
            let track = seg.track().ok_or(PitchError::BadTables)?;
            for (b, &r) in track.iter().enumerate() {
                self.used_ranges[b] |= 1 << r;
            }
        }
        Ok(out)
    }

    /// Recompute energies and (where the coarse correlation is promising) correlations at 16 kHz
    /// for the lag ranges some survivor uses.
    fn refine(&mut self) {
        const EXT: usize = ENERGY_LAGS + (LAG_BLOCKS - 1) * LAG_BLOCK_LEN;
        let hp = &self.hp[DECIM_DELAY..DECIM_DELAY + HP_LEN];
        let mut lagged = [0f32; EXT];
        sliding_energy(hp, HP_LEN, LAG_BLOCK_LEN, GRID_MIN_LAG, &mut lagged);
        for b in 0..LAG_BLOCKS {
            let t = HP_LEN - (LAG_BLOCKS - b) * LAG_BLOCK_LEN;
            let target = &hp[t..t + LAG_BLOCK_LEN];
            let te = dot(target, target).max(1e-9);
            self.target_energy[b] = te;
            let sqrt_te = libm::sqrtf(te + 1e-30);
            let off = (LAG_BLOCKS - 1 - b) * LAG_BLOCK_LEN;
            // Ranges from the top down: a range's update also writes the first energy of the range
            // above, whose coarse value that range has then already used.
            for r in (0..LAG_RANGES).rev() {
                if self.used_ranges[b] & (1 << r) == 0 {
                    continue;
                }
                let base = GRID_OFFSET + r * RANGE_LEN;
                let promising: [bool; RANGE_LEN] = core::array::from_fn(|i| {
                    self.corr[b][base + i] / self.energy[b][base + i] > REFINE_THRESHOLD
                });
                for i in 0..=RANGE_LEN {
                    let m = 0.5 * (libm::sqrtf(lagged[off + base + i] + 1e-30) + sqrt_te);
                    self.energy[b][base + i] = 0.5 * m * m;
                }
                // Four neighbouring lags in one vector pass where at least three need it, else
                // lag by lag (same sums either way).
                let first_lag = MIN_LAG + r * RANGE_LEN;
                for (g, group) in promising.chunks_exact(4).enumerate() {
                    let at = 4 * g;
                    if group.iter().filter(|&&p| p).count() >= 3 {
                        let mut c = [0f32; 4];
                        lagged_dots(target, hp, t - first_lag - at, &mut c);
                        for (l, (&p, c)) in group.iter().zip(c).enumerate() {
                            if p {
                                self.corr[b][base + at + l] = 0.5 * c;
                            }
                        }
                        continue;
                    }
                    for (l, _) in group.iter().enumerate().filter(|(_, p)| **p) {
                        let lag = first_lag + at + l;
                        let c = dot(target, &hp[t - lag..t - lag + LAG_BLOCK_LEN]);
                        self.corr[b][base + at + l] = 0.5 * c;
                    }
                }
            }
        }
    }

    /// Correlation and energy of block `b` at half-sample index `k` (lag `k / 2 + 32`).
    fn fine(&self, b: usize, k: usize) -> (f32, f32) {
        let m = GRID_OFFSET + k / 2;
        let (c, e) = (&self.corr[b], &self.energy[b]);
        if k.is_multiple_of(2) {
            (c[m], e[m])
        } else {
            (half_sample(c, m), (e[m] + e[m + 1]) * 0.5)
        }
    }

    /// Pick the best lag per segment for every segmentation of every survivor, then the best
    /// candidate overall. Returns it, the best correlation seen, and the highest-weight block.
    fn choose(
        &mut self,
        est: &PitchEstimator,
        rows: &mut NormRows,
        tracks: &[usize; SURVIVING_TRACKS],
        tables: &PitchTables<'_>,
        spectrum: &[f32; SPECTRUM_LEN],
    ) -> Result<(Candidate, f32, usize), PitchError> {
        // Best index within a lag range for a run of blocks, memoised by (first block, span, range).
        let mut memo = [u8::MAX; 1 << 10];
        let mut max_block = 0;
        for b in 1..LAG_BLOCKS {
            if self.weight[b] > self.weight[max_block] {
                max_block = b;
            }
        }
        let delta_weight = DELTA_WEIGHT / RANGE_INDICES as f32;
        let mut best: Option<(f32, Candidate)> = None;
        let mut best_corr = 0f32;
        let mut first = true;
        for &t in tracks {
            let [start, count] = tables.track_blocksegs[t];
            for bs in usize::from(start)..usize::from(start) + usize::from(count) {
                let seg = tables.blocksegs.get(bs).ok_or(PitchError::BadTables)?;
                let mut cand = Candidate {
                    indices: [0; LAG_BLOCKS],
                    blockseg: u8::try_from(bs).map_err(|_| PitchError::BadTables)?,
                };
                let mut at = 0;
                for (range, span) in seg.segments() {
                    if range >= LAG_RANGES || at + span > LAG_BLOCKS {
                        return Err(PitchError::BadTables);
                    }
                    let key = (((at << 3) + span) << 4) | range;
                    let pick = match memo[key] {
                        u8::MAX => {
                            let p = self.best_in_range(rows, at, span, range);
                            memo[key] = p as u8;
                            p
                        }
                        p => usize::from(p),
                    };
                    for i in &mut cand.indices[at..at + span] {
                        *i = (pick + range * RANGE_INDICES) as u16;
                    }
                    at += span;
                }
                if at != LAG_BLOCKS {
                    return Err(PitchError::BadTables);
                }

                let (mut sum_c, mut sum_e) = (0f32, 0f32);
                for (b, &k) in cand.indices.iter().enumerate() {
                    let (c, e) = self.fine(b, usize::from(k));
                    sum_c += c;
                    sum_e += e;
                }
                let bits = rate_bits(tables, bs, &cand.indices, est.prev_range, est.prev_index)?;
                let lag_of = |i: u16| f32::from(i) * 0.5 + MIN_LAG as f32;
                let mean_lag = lag_of(cand.indices[max_block]);
                let corr = sum_c / sum_e;
                let prev_bias = est.prev_lag_bias(lag_of(cand.indices[0]));
                if first {
                    self.harm_cache.reset();
                }
                let harm_bias = HARMONIC_WEIGHT * self.harm_cache.get(mean_lag, spectrum);
                let mut jumps = 0i32;
                for w in cand.indices.windows(2) {
                    jumps += (i32::from(w[1]) - i32::from(w[0])).abs();
                }
                let util = 1.0 / (1.1 - corr) - delta_weight * jumps as f32 + harm_bias + prev_bias
                    - bits * RATE_WEIGHT;
                if first || best.is_some_and(|(u, _)| util > u) {
                    best = Some((util, cand));
                }
                if first || corr > best_corr {
                    best_corr = corr;
                }
                first = false;
            }
        }
        let (_, cand) = best.ok_or(PitchError::BadTables)?;
        Ok((cand, best_corr, max_block))
    }

    /// Half-sample index (0..64) within lag range `range` maximising the energy-weighted sum of the
    /// normalised correlation over blocks `first..first + span`.
    fn best_in_range(&self, rows: &mut NormRows, first: usize, span: usize, range: usize) -> usize {
        let mut comb = [0f32; RANGE_INDICES];
        for b in first..first + span {
            for (v, &n) in comb.iter_mut().zip(rows.get(self, b, range)) {
                *v += n;
            }
        }
        let mut best = 0;
        for k in 1..RANGE_INDICES {
            if comb[k] > comb[best] {
                best = k;
            }
        }
        best
    }

    /// The energy-weighted normalised correlation of block `b` at every half-sample index of lag
    /// range `range`: [`Search::fine`] for each index, with the half-sample interpolations of the
    /// range done in one pass the compiler can vectorise (same operations, same order).
    fn norm_row(&self, b: usize, range: usize, out: &mut [f32; RANGE_INDICES]) {
        let base = GRID_OFFSET + range * RANGE_LEN;
        // Correlations the 8-tap interpolation reads (3 before, 4 after) and the energies up to
        // the first of the next range.
        let c = &self.corr[b][base - 3..base + RANGE_LEN + 4];
        let e = &self.energy[b][base..=base + RANGE_LEN];
        let te = self.target_energy[b];
        let mut half = [0f32; RANGE_LEN];
        half_samples(c, &mut half);
        for (i, pair) in out.chunks_exact_mut(2).enumerate() {
            pair[0] = c[i + 3] / e[i] * te;
            pair[1] = half[i] / ((e[i] + e[i + 1]) * 0.5) * te;
        }
    }
}

/// Rows of [`Search::norm_row`] kept for the (block, lag range) pairs the segmentations visit:
/// every row is then computed once per search however many segment runs cover it.
#[derive(Clone, Debug)]
struct NormRows {
    rows: [[f32; RANGE_INDICES]; NORM_SLOTS + 1],
    /// Slot of each (block, range) pair, `u8::MAX` while not computed.
    slot: [[u8; LAG_RANGES]; LAG_BLOCKS],
    used: usize,
}

/// Cached rows; further pairs are recomputed on each use (same values, only slower).
const NORM_SLOTS: usize = 16;

impl NormRows {
    fn new() -> Self {
        NormRows {
            rows: [[0.0; RANGE_INDICES]; NORM_SLOTS + 1],
            slot: [[u8::MAX; LAG_RANGES]; LAG_BLOCKS],
            used: 0,
        }
    }

    fn reset(&mut self) {
        self.slot = [[u8::MAX; LAG_RANGES]; LAG_BLOCKS];
        self.used = 0;
    }

    fn get(&mut self, search: &Search, b: usize, range: usize) -> &[f32; RANGE_INDICES] {
        let mut at = usize::from(self.slot[b][range]);
        if at > NORM_SLOTS {
            at = self.used;
            if self.used < NORM_SLOTS {
                self.slot[b][range] = at as u8;
                self.used += 1;
            }
            search.norm_row(b, range, &mut self.rows[at]);
        }
        &self.rows[at]
    }
}

/// Bits (as -log2 of the coded probabilities) the lag contour would cost: the segmentation symbol,
/// then either a uniform first index or deltas from the predictor, then deltas between segments.
fn rate_bits(
    tables: &PitchTables<'_>,
    blockseg: usize,
    indices: &[u16; LAG_BLOCKS],
    prev_range: i32,
    prev_index: i32,
) -> Result<f32, PitchError> {
    let bad = PitchError::BadTables;
    // -log2 of the probability of [cdf[lo], cdf[hi]) within [cdf[base], cdf[total]).
    let cost = |cdf: &[u16], lo: i32, hi: i32, base: i32, total: i32| -> Result<f32, PitchError> {
        let at = |i: i32| -> Result<u32, PitchError> {
            let v = cdf.get(usize::try_from(i).map_err(|_| bad)?).ok_or(bad)?;
            Ok(u32::from(*v))
        };
        let b = at(base)?;
        let rel = |i: i32| -> Result<f32, PitchError> { Ok(at(i)?.wrapping_sub(b) as f32) };
        let p = (rel(hi)? - rel(lo)?) / rel(total)?;
        Ok(if p <= 0.0 { 0.0 } else { -libm::log2f(p) })
    };
    let seg = tables.blocksegs.get(blockseg).ok_or(bad)?;
    let symbol = i32::from(*tables.blockseg_symbol.get(blockseg).ok_or(bad)?);
    let mut bits = 0f32;
    let (mut prev_range, mut prev_index) = (prev_range, prev_index);
    let first_range = i32::from(seg.ranges[0]);
    if prev_range < 0 {
        let n = tables.blocksegs.len() as i32;
        bits += cost(tables.blockseg_cdf, symbol - 1, symbol, 0, n)?;
    } else {
        let row = tables
            .range_transition_cdf
            .get(usize::try_from(prev_range).map_err(|_| bad)?)
            .ok_or(bad)?;
        bits += cost(row, first_range, first_range + 1, 0, LAG_RANGES as i32)?;
        let [lo, hi] = *tables
            .first_range_symbols
            .get(usize::from(seg.ranges[0]))
            .ok_or(bad)?;
        // The symbol among the segmentations that start in this lag range.
        bits += cost(
            tables.blockseg_cdf,
            symbol - 1,
            symbol,
            i32::from(lo),
            i32::from(hi) + 1,
        )?;
    }
    let block_indices = RANGE_INDICES as i32;
    let mut segments = seg.segments();
    let mut at = 0usize;
    let delta_from_predictor = first_range - prev_range;
    if !(prev_range > -1 && (-1..=2).contains(&delta_from_predictor)) {
        // First index coded uniformly within its range.
        bits += 6.0;
        let (range, span) = segments.next().ok_or(bad)?;
        prev_range = range as i32;
        prev_index = i32::from(indices[0]);
        at += span;
    }
    for (range, span) in segments {
        let idx = i32::from(*indices.get(at).ok_or(bad)?);
        at += span;
        let delta_range = range as i32 - prev_range;
        let prev_mod = prev_index - prev_range * block_indices;
        let window_start = -prev_mod + delta_range * block_indices;
        let base = window_start + 2 * block_indices - 1;
        let ix = idx - prev_index - window_start;
        bits += cost(
            tables.delta_lag_cdf,
            base + ix,
            base + ix + 1,
            base,
            base + block_indices,
        )?;
        prev_range = range as i32;
        prev_index = idx;
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(core::mem::size_of::<PitchEstimator>(), 16);
        // The per-call scratch the module docs quote.
        assert_eq!(core::mem::size_of::<PitchScratch>(), 28_744);
    }

    #[test]
    fn inactive_frames_are_not_searched_and_reset_the_memory() {
        let tables = PitchTables {
            blocksegs: &[],
            blockseg_symbol: &[],
            track_blocksegs: &[],
            first_range_symbols: &[[0; 2]; LAG_RANGES],
            blockseg_cdf: &[],
            range_transition_cdf: &[[0; LAG_RANGES + 1]; LAG_RANGES],
            delta_lag_cdf: &[],
        };
        let mut est = PitchEstimator::new();
        est.set_predictor(3, 200);
        let got = est.estimate(&tables, &[0.1; LTP_BUF_LEN], &[1.0; SPECTRUM_LEN], false);
        assert_eq!(got, Ok(Pitch::UNVOICED));
        assert_eq!((est.prev_range, est.prev_index), (-1, -1));
        // Active frames with empty tables are refused, not a panic.
        let got = est.estimate(&tables, &[0.1; LTP_BUF_LEN], &[1.0; SPECTRUM_LEN], true);
        assert_eq!(got, Err(PitchError::BadTables));
    }
}
