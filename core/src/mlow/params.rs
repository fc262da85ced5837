//! Low-band parameter decode of one MLow packet: everything the range-coded body carries, as
//! integers, bit-exact with the reference decoder.
//!
//! Per internal frame, in stream order:
//! 1. voicing (only in frames coded as active voice; otherwise unvoiced by definition), with a CDF
//!    row chosen by the previous frame's voicing;
//! 2. LSF stage 1 (centroid, or the conditional "predict from the previous frame" symbol 16 once
//!    the voicing repeats), 16 stage-2 levels, and the interpolation index (active voice only);
//! 3. the pulse count (triangular prior), its split over the subframes, run-length positions and
//!    signs;
//! 4. voiced frames: per subframe an ACB gain index and, with pulses, a voiced FCB gain index;
//!    then the lag contour and the lag of each 40-sample lag subframe;
//!    unvoiced frames: the residual-energy frame index and shape, and, per subframe with pulses,
//!    an FCB gain offset above the energy floor.
//!
//! The predictors (previous ACB/FCB gain index, previous lag block and lag) live only inside a
//! packet: they reset at its first frame and whenever the voicing changes ("conditional coding"
//! off). So this layer keeps no state between packets, and a rejected packet changes nothing.
//!
//! After the last frame the decode must end where the body ends: the reference accepts a packet
//! when `storage <= ceil(tell / 8) <= storage + 2`, see [`EndpointRule`].
//!
//! [`encode_packet`] is the exact inverse (for the encoder): it re-creates the reference
//! encoder's packets byte for byte from their decoded parameters, trailing-zero trimming included.
//!
//! Supported: 16 kHz internal rate, high-rate mode, 20/60/120 ms, active voice, hang-over and
//! coded-inactive frames, SID packets (one comfort-noise frame; layout checked black-box only,
//! see `decode_sid`), FEC-flagged packets (the FEC copy is skipped as the reference does; no
//! vector pins it). Not yet: low-rate mode, 10 ms packets and the 32 kHz high band, whose tables
//! no public source has, and stereo side information, whose format is unknown; they give
//! [`ParamError::Unsupported`]. A TOC byte without body (real
//! streams send 1-byte 10 ms packets) gives [`ParamError::Empty`].

use super::range::{Decoder, EncodeError, Encoder};
use super::tables::{cc, lsf, pitch, runlen_cdf, split_cdf, st2_cdf};
use super::toc::{Geometry, SmplToc, Toc};

/// Internal frames in the longest packet (120 ms).
pub const MAX_FRAMES: usize = 6;
/// Subframes per internal frame (high rate, 20 ms frames).
pub const SUBFRAMES: usize = 4;
/// Samples per internal frame at 16 kHz.
pub const FRAME_LEN: usize = 320;
/// 40-sample lag subframes per internal frame.
pub const LAG_SUBFRAMES: usize = 8;
/// LPC order.
pub const ORDER: usize = 16;

/// The LSF indices of one internal frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LsfIndices {
    /// Stage-1 centroid `0..=15`, or 16 = conditional (predicted from the previous frame).
    pub grid: u8,
    /// Stage-2 level symbol per coefficient.
    pub stage2: [u8; ORDER],
    /// Interpolation row: 0 or 1 (always 0 when not coded as active voice).
    pub interp: u8,
}

/// Voiced-frame (long-term prediction) parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VoicedParams {
    /// ACB gain codebook index per subframe (`0..=15`).
    pub acb_gain_idx: [u8; SUBFRAMES],
    /// Mean of `g0 + 2 g1` over the subframes' ACB codebook entries (Q14); it selects the lag-delta
    /// CDF and the synthesis reuses it.
    pub mean_acb_gain_q14: i32,
    /// Coded contour symbol (0-based contour id).
    pub contour_symbol: u8,
    /// Contour index (`0..217`) into the pitch tables.
    pub contour: u8,
    /// Lag of each 40-sample lag subframe in half samples above 32 samples:
    /// `lag = 32 + lag_half / 2` (the synthesis clamps to 320).
    pub lag_half: [u16; LAG_SUBFRAMES],
}

/// Unvoiced-frame (residual energy) parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnvoicedParams {
    /// Frame energy index.
    pub frame_qi: u8,
    /// Energy shape index.
    pub shape_qi: u8,
    /// Residual energy per subframe, dB in Q14 (`-85 dB` floor).
    pub nrgres_dbq_q14: [i32; SUBFRAMES],
}

/// The long-term part of a frame: voiced or unvoiced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Excitation {
    /// LTP with lags and ACB gains.
    Voiced(VoicedParams),
    /// Shaped noise with a residual energy per subframe.
    Unvoiced(UnvoicedParams),
}

/// Everything decoded for one internal frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameParams {
    /// Voiced (1) or unvoiced (0) as coded.
    pub voiced: bool,
    /// LSF indices.
    pub lsf: LsfIndices,
    /// Pulse count per subframe.
    pub subframe_pulses: [u8; SUBFRAMES],
    /// Signed pulse amplitude per sample of the frame (most are 0).
    pub pulses: [i8; FRAME_LEN],
    /// FCB gain index per subframe. Voiced: index `0..=33` into `10^(0.05 (3 i - 100))`;
    /// unvoiced: index `0..=90` into `10^(0.05 (i - 90))`. Only subframes with pulses code one;
    /// the others keep the packet's previous value for that subframe (0 at packet start), as in
    /// the reference decoder, whose later stages read them.
    pub fcb_gain_idx: [u8; SUBFRAMES],
    /// Residual energy per subframe (dB, Q14) as the reference carries it: set by unvoiced frames,
    /// kept unchanged through voiced frames, 0 at packet start.
    pub nrgres_dbq_q14: [i32; SUBFRAMES],
    /// The voiced or unvoiced block.
    pub excitation: Excitation,
}

impl FrameParams {
    /// A frame with every field zero: unvoiced, no pulses (a starting value to fill in).
    pub const EMPTY: FrameParams = FrameParams {
        voiced: false,
        lsf: LsfIndices {
            grid: 0,
            stage2: [0; ORDER],
            interp: 0,
        },
        subframe_pulses: [0; SUBFRAMES],
        pulses: [0; FRAME_LEN],
        fcb_gain_idx: [0; SUBFRAMES],
        nrgres_dbq_q14: [0; SUBFRAMES],
        excitation: Excitation::Unvoiced(UnvoicedParams {
            frame_qi: 0,
            shape_qi: 0,
            nrgres_dbq_q14: [0; SUBFRAMES],
        }),
    };

    /// Total pulses in the frame.
    pub fn total_pulses(&self) -> u32 {
        self.subframe_pulses.iter().map(|&n| u32::from(n)).sum()
    }
}

/// The decoded parameters of one packet, in a fixed-size, reusable buffer.
#[derive(Clone, Debug)]
pub struct PacketParams {
    /// The packet's TOC.
    pub toc: SmplToc,
    /// Its geometry.
    pub geometry: Geometry,
    frames: [FrameParams; MAX_FRAMES],
    frame_count: usize,
    /// Bytes of the body (after the TOC) the decode consumed, `ceil(tell / 8)`.
    pub consumed_bytes: usize,
}

impl Default for PacketParams {
    fn default() -> Self {
        Self::new()
    }
}

impl PacketParams {
    /// An empty buffer.
    pub const fn new() -> Self {
        PacketParams {
            toc: SmplToc {
                sid: false,
                vad: false,
                fs_32k: false,
                duration: super::toc::Duration::Ms20,
                low_rate: false,
                bit1: false,
                stereo: false,
            },
            geometry: Geometry {
                internal_frames: 0,
                frame_len: FRAME_LEN,
                subframes: SUBFRAMES,
                subframe_len: 80,
            },
            frames: [FrameParams::EMPTY; MAX_FRAMES],
            frame_count: 0,
            consumed_bytes: 0,
        }
    }

    /// The internal frames of the last successfully decoded packet (empty after an error).
    ///
    /// A normal packet has `geometry.internal_frames` of them. A SID packet (`toc.sid`) has one:
    /// the comfort-noise description (unvoiced LSF and residual energy, no pulses) that stands for
    /// the whole `geometry.packet_len()` samples.
    pub fn frames(&self) -> &[FrameParams] {
        &self.frames[..self.frame_count]
    }

    /// A packet to encode with [`encode_packet`]: `toc` and up to [`MAX_FRAMES`] frames (extra
    /// frames are dropped). `consumed_bytes` is 0 until a decode sets it.
    pub fn from_frames(toc: SmplToc, frames: &[FrameParams]) -> Self {
        let mut p = Self::new();
        let n = frames.len().min(MAX_FRAMES);
        p.frames[..n].copy_from_slice(&frames[..n]);
        p.frame_count = n;
        p.geometry = toc.geometry();
        p.toc = toc;
        p
    }
}

/// Where a decoded body may end relative to its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointRule {
    /// The reference decoder: `storage <= consumed <= storage + 2`.
    Reference,
    /// The shipped desktop client was reported to allow `+ 4`.
    Lenient,
}

impl EndpointRule {
    /// Whether a decode that consumed `consumed` of `storage` body bytes is acceptable.
    pub fn accepts(self, storage: usize, consumed: usize) -> bool {
        let slack = match self {
            EndpointRule::Reference => 2,
            EndpointRule::Lenient => 4,
        };
        storage <= consumed && consumed <= storage + slack
    }
}

/// Why a packet's parameters could not be decoded. The caller conceals the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamError {
    /// No bytes at all, or a TOC byte without body (nothing to decode; conceal).
    Empty,
    /// The TOC escapes to a CELT Opus frame; not MLow.
    CeltEscape,
    /// A mode this decoder does not implement (see the module docs).
    Unsupported,
    /// The body asked for an impossible table entry (corrupt data).
    Corrupt,
    /// The decode ended outside the accepted window around the body's end.
    Endpoint {
        /// Body bytes (after the TOC).
        storage: usize,
        /// Bytes the decode consumed.
        consumed: usize,
    },
}

/// Decode the parameters of one MLow payload (TOC byte + body) into `out`.
///
/// On error `out` holds no frames ([`PacketParams::frames`] is empty); nothing else changes.
pub fn decode_packet(
    payload: &[u8],
    rule: EndpointRule,
    out: &mut PacketParams,
) -> Result<(), ParamError> {
    out.frame_count = 0;
    let (&toc, body) = payload.split_first().ok_or(ParamError::Empty)?;
    let toc = match Toc::parse(toc) {
        Toc::CeltEscape(_) => return Err(ParamError::CeltEscape),
        Toc::Smpl(t) => t,
    };
    if body.is_empty() {
        return Err(ParamError::Empty);
    }
    if toc.fs_32k || toc.low_rate || toc.stereo || toc.duration.ms() == 10 || (toc.sid && toc.bit1)
    {
        return Err(ParamError::Unsupported);
    }
    let geometry = toc.geometry();
    let mut dec = Decoder::new(body);
    let frame_count = if toc.sid {
        decode_sid(&mut dec, &mut out.frames[0]);
        1
    } else {
        decode_frames(&mut dec, &toc, &geometry, &mut out.frames);
        geometry.internal_frames
    };
    if dec.error() {
        return Err(ParamError::Corrupt);
    }
    let consumed = dec.consumed_bytes();
    if !rule.accepts(body.len(), consumed) {
        return Err(ParamError::Endpoint {
            storage: body.len(),
            consumed,
        });
    }
    out.toc = toc;
    out.geometry = geometry;
    out.frame_count = frame_count;
    out.consumed_bytes = consumed;
    Ok(())
}

/// A SID body: the LSF indices of one unvoiced, unconditional frame (no voicing, no
/// interpolation index), then the 4-subframe residual-energy frame index and shape; no pulses.
///
/// No public vector pins SID decoding. The layout is the reference's documented one (frame-0
/// parameters, unvoiced energy), and it was checked black-box on a real capture's 137 SID packets
/// (4 to 7 body bytes): every one ends exactly where the reference's endpoint rule accepts it,
/// while dropping the shape index, or reading voiced tables, leaves most of them rejected.
fn decode_sid(dec: &mut Decoder<'_>, out: &mut FrameParams) {
    out.voiced = false;
    decode_lsf(dec, false, false, false, out);
    out.subframe_pulses = [0; SUBFRAMES];
    out.pulses = [0; FRAME_LEN];
    out.fcb_gain_idx = [0; SUBFRAMES];
    out.excitation = Excitation::Unvoiced(decode_unvoiced(dec, out));
}

/// The internal frames of a normal packet.
fn decode_frames(
    dec: &mut Decoder<'_>,
    toc: &SmplToc,
    geometry: &Geometry,
    frames: &mut [FrameParams; MAX_FRAMES],
) {
    if toc.fec() {
        // The FEC copy comes first, coded as active voice; decode and drop it.
        let mut scratch = FrameParams::EMPTY;
        let mut pred = Predictors::default();
        for f in 0..geometry.internal_frames {
            decode_frame(dec, f, true, &mut pred, &mut scratch);
        }
    }
    let mut pred = Predictors::default();
    for (f, frame) in frames.iter_mut().enumerate().take(geometry.internal_frames) {
        decode_frame(dec, f, toc.coded_as_active_voice(), &mut pred, frame);
    }
}

/// The in-packet predictors.
#[derive(Clone, Copy, Debug, Default)]
struct Predictors {
    prev_voiced: bool,
    /// Previous ACB gain index, previous voiced FCB gain index, previous lag block and lag; `None`
    /// after a reset.
    acb: Option<u8>,
    fcb: Option<u8>,
    lag: Option<(u8, u16)>,
    /// The packet-local per-subframe FCB gain indices and residual energies.
    fcb_gain_idx: [u8; SUBFRAMES],
    nrgres_dbq_q14: [i32; SUBFRAMES],
}

fn sym_u8(x: usize) -> u8 {
    // Every table this layer reads has at most 256 symbols except the pulse and lag tables,
    // which are converted where they are read.
    x as u8
}

/// Decode one internal frame into `out`. Errors surface through the decoder's flag.
fn decode_frame(
    dec: &mut Decoder<'_>,
    f: usize,
    active: bool,
    pred: &mut Predictors,
    out: &mut FrameParams,
) {
    decode_frame_block(dec, f, active, pred, out, None);
}

/// As [`decode_frame`], optionally reading the voiced (`Some(true)`) or unvoiced block regardless
/// of the coded voicing (the published block vectors were made that way).
fn decode_frame_block(
    dec: &mut Decoder<'_>,
    f: usize,
    active: bool,
    pred: &mut Predictors,
    out: &mut FrameParams,
    force_block: Option<bool>,
) {
    // 1. Voicing.
    let voiced = if active {
        let row = match (f, pred.prev_voiced) {
            (0, _) => 0,
            (_, false) => 1,
            (_, true) => 2,
        };
        dec.cdf(&lsf::VOICING_CDF[row]) == 1
    } else {
        false
    };
    let conditional = f > 0 && voiced == pred.prev_voiced;
    if !conditional {
        pred.acb = None;
        pred.fcb = None;
        pred.lag = None;
    }
    pred.prev_voiced = voiced;
    out.voiced = voiced;

    // 2. LSF indices.
    decode_lsf(dec, voiced, conditional, active, out);

    // 3. Pulses.
    decode_pulses(dec, usize::from(active) + usize::from(voiced), out);

    // 4. Voiced or unvoiced block; the per-subframe gain state carries over from the last frame.
    out.fcb_gain_idx = pred.fcb_gain_idx;
    out.nrgres_dbq_q14 = pred.nrgres_dbq_q14;
    out.excitation = if force_block.unwrap_or(voiced) {
        Excitation::Voiced(decode_voiced(dec, pred, out))
    } else {
        Excitation::Unvoiced(decode_unvoiced(dec, out))
    };
    pred.fcb_gain_idx = out.fcb_gain_idx;
    pred.nrgres_dbq_q14 = out.nrgres_dbq_q14;
}

/// Stage 1, the 16 stage-2 levels and (active voice only) the interpolation index.
fn decode_lsf(
    dec: &mut Decoder<'_>,
    voiced: bool,
    conditional: bool,
    active: bool,
    out: &mut FrameParams,
) {
    let v = usize::from(voiced);
    let grid = if conditional {
        dec.cdf(&lsf::ST1_COND_CDF[v])
    } else {
        dec.cdf(&lsf::ST1_CDF[v])
    };
    out.lsf.grid = sym_u8(grid);
    for (k, s) in out.lsf.stage2.iter_mut().enumerate() {
        *s = sym_u8(dec.cdf(st2_cdf(v, 0, grid, k)));
    }
    out.lsf.interp = if active {
        sym_u8(dec.cdf(&lsf::INTERP_CDF))
    } else {
        0
    };
}

/// Frame pulse budget per class (background, unvoiced, voiced) at high rate.
const MAX_PULSES: [u32; 3] = [80, 160, 160];

/// Cumulative count below `k + 1` of the triangular pulse-count prior over `0..=max`, in the
/// reference's 16-bit wrapping arithmetic.
fn triangular_cum(k: u32, max: u32) -> u32 {
    let a = k.wrapping_add(2).wrapping_mul(max + 1);
    let b = k.wrapping_sub(1).wrapping_mul(k.wrapping_add(131_070)) >> 1;
    a.wrapping_sub(b) & 0xffff
}

/// Split `count` pulses over two units holding at most `cap` each; `None` if impossible.
fn split_two(dec: &mut Decoder<'_>, count: u32, cap: u32) -> Option<u32> {
    let hi = count.min(cap);
    let lo = count.saturating_sub(cap);
    if hi < lo {
        return None;
    }
    if hi == lo {
        return Some(lo);
    }
    let s = dec.cdf_window(
        split_cdf(count as usize),
        lo as usize,
        (hi - lo + 2) as usize,
    );
    Some(lo + s as u32)
}

fn decode_pulses(dec: &mut Decoder<'_>, class: usize, out: &mut FrameParams) {
    out.pulses = [0; FRAME_LEN];
    out.subframe_pulses = [0; SUBFRAMES];
    let max = MAX_PULSES[class];
    let per_subframe = max / SUBFRAMES as u32;

    // Total count.
    let ft = triangular_cum(max, max).max(1);
    let fs = dec.decode(ft);
    let mut below = 0;
    let mut total = None;
    for k in 0..=max {
        let cum = triangular_cum(k, max);
        if below <= fs && fs < cum {
            dec.update(below, cum, ft);
            total = Some(k);
            break;
        }
        below = cum;
    }
    let Some(total) = total else {
        // Only a wrapped prior could miss; flag it rather than guess.
        dec.mark_corrupt();
        return;
    };
    if total == 0 {
        return;
    }

    // Split: first the two half frames, then each half into two subframes.
    let mut counts = [0u32; SUBFRAMES];
    let floor = total.saturating_sub(2 * per_subframe);
    let lo = total.saturating_sub(80);
    if floor < lo {
        return;
    }
    let mut first = floor;
    let hi = total - lo;
    if first < hi {
        let s = dec.cdf_window(
            split_cdf(total as usize),
            (first - lo) as usize,
            (hi - first + 2) as usize,
        );
        first += s as u32;
    }
    let mut ok = true;
    if first > 0 {
        match split_two(dec, first, per_subframe) {
            Some(a) => counts[..2].copy_from_slice(&[a, first - a]),
            None => ok = false,
        }
    }
    if first < total {
        match split_two(dec, total - first, per_subframe) {
            Some(a) => counts[2..].copy_from_slice(&[a, total - first - a]),
            None => ok = false,
        }
    }
    if !ok {
        // The reference zeroes every count on an impossible split.
        return;
    }
    for (o, &c) in out.subframe_pulses.iter_mut().zip(&counts) {
        *o = c as u8;
    }

    // Positions: per subframe, run lengths to the next pulse; a zero run after the first pulse
    // stacks another unit on the current position.
    let sub_len = FRAME_LEN / SUBFRAMES;
    let mut positions = [0u16; 160];
    let mut amps = [0i8; 160];
    let mut n = 0usize;
    for (sf, &c) in counts.iter().enumerate() {
        let mut at = sf * sub_len;
        let mut left_pos = sub_len;
        for k in 0..c as usize {
            let left = c as usize - k;
            let oct = left_pos.div_ceil(8);
            let m = dec.cdf_window(runlen_cdf(oct, left), 8 * oct - left_pos, left_pos + 1);
            if m > 0 || k == 0 {
                if n == positions.len() || m >= left_pos {
                    dec.mark_corrupt();
                    return;
                }
                at += m;
                left_pos -= m;
                positions[n] = at as u16;
                amps[n] = 1;
                n += 1;
            } else {
                amps[n - 1] += 1;
            }
        }
    }

    // Signs, in batches of up to 15 uniform bits, first pulse in the most significant bit.
    let mut p = 0;
    while p < n {
        let bits = (n - p).min(15);
        let word = dec.uniform_bits(bits as u32);
        for j in 0..bits {
            if (word >> (bits - 1 - j)) & 1 == 0 {
                amps[p + j] = -amps[p + j];
            }
        }
        p += bits;
    }
    for i in 0..n {
        out.pulses[usize::from(positions[i])] = amps[i];
    }
}

/// Mean ACB gain (Q14) thresholds selecting the lag-delta CDF.
const LAG_MODE_Q14: [i32; 2] = [10007, 14085];

fn decode_voiced(
    dec: &mut Decoder<'_>,
    pred: &mut Predictors,
    out: &mut FrameParams,
) -> VoicedParams {
    let mut p = VoicedParams::default();
    let mut acc = 0i32;
    for sf in 0..SUBFRAMES {
        let row = pred.acb.map_or(0, |g| usize::from(g) + 1);
        let g = dec.cdf(&cc::ACB_GAIN_CDF[row]).min(15);
        p.acb_gain_idx[sf] = g as u8;
        pred.acb = Some(g as u8);
        let cb = cc::ACB_GAIN_CB_Q14[g];
        acc += i32::from(cb[0]) + 2 * i32::from(cb[1]);
        if out.subframe_pulses[sf] > 0 {
            let idx = match pred.fcb {
                None => dec.cdf(&cc::FCBG_VOICED_CDF),
                Some(prev) => dec.cdf_window(
                    &cc::FCBG_VOICED_DELTA_CDF,
                    33 - usize::from(prev).min(33),
                    35,
                ),
            };
            out.fcb_gain_idx[sf] = idx as u8;
            pred.fcb = Some(idx as u8);
        }
    }
    p.mean_acb_gain_q14 = acc / SUBFRAMES as i32;
    let mode = LAG_MODE_Q14
        .iter()
        .filter(|&&t| p.mean_acb_gain_q14 >= t)
        .count();

    // Contour: free, or restricted to the ids whose first block follows the previous block.
    let symbol = match pred.lag {
        None => dec.cdf(&pitch::CONTOUR_CDF),
        Some((block, _)) => {
            let b0 = dec.cdf(&pitch::BLOCK_TRANSITION_CDF[usize::from(block).min(8)]);
            let [lo, hi] = pitch::FIRST_BLOCK_RANGE[b0.min(8)];
            let (lo, hi) = (usize::from(lo), usize::from(hi));
            lo + dec.cdf_window(&pitch::CONTOUR_CDF, lo, (hi + 2).saturating_sub(lo))
        }
    };
    p.contour_symbol = symbol as u8;
    let Some(contour) = pitch::CONTOUR_ID
        .iter()
        .position(|&id| usize::from(id) == symbol + 1)
    else {
        dec.mark_corrupt();
        return p;
    };
    p.contour = contour as u8;
    let segments = usize::from(pitch::CONTOUR_SEGMENTS[contour]);
    let blocks = &pitch::CONTOUR_BLOCK[contour];
    let lens = &pitch::CONTOUR_LEN[contour];

    // The first segment's lag is sent in full unless the previous block is close.
    let b0 = i32::from(blocks[0]);
    let near = pred
        .lag
        .is_some_and(|(prev, _)| (-1..=2).contains(&(b0 - i32::from(prev))));
    let mut w = 0;
    let fill = |w: &mut usize, seg: usize, lag: u16, lags: &mut [u16; LAG_SUBFRAMES]| {
        for _ in 0..lens[seg] {
            if *w < LAG_SUBFRAMES {
                lags[*w] = lag;
                *w += 1;
            }
        }
    };
    let mut first_seg = 0;
    if !near {
        let lag = 64 * blocks[0] as u16 + dec.uniform(64) as u16;
        fill(&mut w, 0, lag, &mut p.lag_half);
        pred.lag = Some((blocks[0], lag));
        first_seg = 1;
    }
    // Later segments: a windowed delta against the previous lag, landing in the segment's block.
    for (seg, &block) in blocks.iter().enumerate().take(segments).skip(first_seg) {
        let Some((_, prev)) = pred.lag else { break };
        let start = 64 * i32::from(block) - i32::from(prev) + 127;
        let Ok(start) = usize::try_from(start) else {
            dec.mark_corrupt();
            return p;
        };
        let sym = dec.cdf_window(&pitch::DELTA_LAG_CDF[mode], start, 65);
        let lag = 64 * u16::from(block) + sym as u16;
        fill(&mut w, seg, lag, &mut p.lag_half);
        pred.lag = Some((block, lag));
    }
    p
}

fn decode_unvoiced(dec: &mut Decoder<'_>, out: &mut FrameParams) -> UnvoicedParams {
    /// Table row for the 4-subframe layout.
    const LAYOUT4: usize = 2;
    let mut p = UnvoicedParams {
        frame_qi: dec.cdf(&cc::NRGRES_FRAME4_CDF) as u8,
        shape_qi: dec.cdf(&cc::NRGRES_SHAPE4_CDF) as u8,
        ..UnvoicedParams::default()
    };
    let base = i32::from(p.frame_qi) * cc::NRGRES_STEP_Q14[LAYOUT4] - 85 * (1 << 14);
    let shape = &cc::NRGRES_SHAPE4_Q10[usize::from(p.shape_qi).min(97)];
    for (q, &s) in p.nrgres_dbq_q14.iter_mut().zip(shape) {
        *q = base + 16 * i32::from(s);
    }
    for sf in 0..SUBFRAMES {
        let n = out.subframe_pulses[sf];
        if n == 0 {
            continue;
        }
        let bucket = usize::from(n / 10).min(3);
        let db = ((p.nrgres_dbq_q14[sf] + 8192) >> 14).clamp(-85, 0);
        let idx = dec.cdf_window(&cc::FCBG_OFFSET_CDF[LAYOUT4][bucket], (-db) as usize, 92);
        out.fcb_gain_idx[sf] = idx as u8;
    }
    out.nrgres_dbq_q14 = p.nrgres_dbq_q14;
    p
}

/// Write `params` (TOC and body) into `out`, the exact inverse of [`decode_packet`]: decoding the
/// result yields the same parameters. Returns the packet length.
///
/// The parameters must be codable (as decoded ones are): counts within the class budget, pulses
/// matching the counts, lags inside their contour's blocks. FEC packets cannot be written (the
/// FEC copy is not kept).
pub fn encode_packet(params: &PacketParams, out: &mut [u8]) -> Result<usize, EncodeError> {
    let toc = params.toc;
    let frames = params.frames();
    let want = if toc.sid {
        1
    } else {
        toc.geometry().internal_frames
    };
    if toc.fs_32k
        || toc.low_rate
        || toc.stereo
        || toc.duration.ms() == 10
        || toc.fec()
        || frames.len() != want
    {
        return Err(EncodeError::BadSymbol);
    }
    let (head, body) = out.split_first_mut().ok_or(EncodeError::BufferFull)?;
    *head = Toc::Smpl(toc).to_byte();
    let mut enc = Encoder::new(body);
    if toc.sid {
        let f = &frames[0];
        encode_lsf(&mut enc, false, false, false, &f.lsf)?;
        encode_unvoiced(&mut enc, f)?;
    } else {
        let mut pred = Predictors::default();
        for (i, f) in frames.iter().enumerate() {
            encode_frame(&mut enc, i, toc.coded_as_active_voice(), &mut pred, f)?;
        }
    }
    let consumed = enc.tell().div_ceil(8) as usize;
    let mut n = enc.done()?;
    // Like the reference encoder, drop trailing zero bytes (the decoder reads zeros past the end
    // anyway) as long as the decode still ends within the reference's endpoint window.
    while n > 0 && body[n - 1] == 0 && EndpointRule::Reference.accepts(n - 1, consumed) {
        n -= 1;
    }
    if !EndpointRule::Reference.accepts(n, consumed) {
        return Err(EncodeError::BadSymbol);
    }
    Ok(1 + n)
}

fn encode_frame(
    enc: &mut Encoder<'_>,
    f: usize,
    active: bool,
    pred: &mut Predictors,
    fr: &FrameParams,
) -> Result<(), EncodeError> {
    let voiced = fr.voiced;
    if active {
        let row = match (f, pred.prev_voiced) {
            (0, _) => 0,
            (_, false) => 1,
            (_, true) => 2,
        };
        enc.cdf(usize::from(voiced), &lsf::VOICING_CDF[row]);
    } else if voiced {
        return Err(EncodeError::BadSymbol);
    }
    let conditional = f > 0 && voiced == pred.prev_voiced;
    if !conditional {
        pred.acb = None;
        pred.fcb = None;
        pred.lag = None;
    }
    pred.prev_voiced = voiced;
    encode_lsf(enc, voiced, conditional, active, &fr.lsf)?;
    encode_pulses(enc, usize::from(active) + usize::from(voiced), fr)?;
    match (&fr.excitation, voiced) {
        (Excitation::Voiced(v), true) => encode_voiced(enc, pred, fr, v),
        (Excitation::Unvoiced(_), false) => encode_unvoiced(enc, fr),
        _ => Err(EncodeError::BadSymbol),
    }
}

fn encode_lsf(
    enc: &mut Encoder<'_>,
    voiced: bool,
    conditional: bool,
    active: bool,
    idx: &LsfIndices,
) -> Result<(), EncodeError> {
    let v = usize::from(voiced);
    let grid = usize::from(idx.grid);
    if grid > 16 || (grid == 16 && !conditional) {
        return Err(EncodeError::BadSymbol);
    }
    if conditional {
        enc.cdf(grid, &lsf::ST1_COND_CDF[v]);
    } else {
        enc.cdf(grid, &lsf::ST1_CDF[v]);
    }
    for (k, &s) in idx.stage2.iter().enumerate() {
        enc.cdf(usize::from(s), st2_cdf(v, 0, grid, k));
    }
    if active {
        enc.cdf(usize::from(idx.interp), &lsf::INTERP_CDF);
    }
    Ok(())
}

fn encode_split_two(
    enc: &mut Encoder<'_>,
    count: u32,
    cap: u32,
    first: u32,
) -> Result<(), EncodeError> {
    let hi = count.min(cap);
    let lo = count.saturating_sub(cap);
    if first < lo || first > hi {
        return Err(EncodeError::BadSymbol);
    }
    if hi > lo {
        enc.cdf_window(
            (first - lo) as usize,
            split_cdf(count as usize),
            lo as usize,
            (hi - lo + 2) as usize,
        );
    }
    Ok(())
}

fn encode_pulses(enc: &mut Encoder<'_>, class: usize, fr: &FrameParams) -> Result<(), EncodeError> {
    let max = MAX_PULSES[class];
    let per_subframe = max / SUBFRAMES as u32;
    let counts = fr.subframe_pulses.map(u32::from);
    let total: u32 = counts.iter().sum();
    if total > max {
        return Err(EncodeError::BadSymbol);
    }
    let fl = if total == 0 {
        0
    } else {
        triangular_cum(total - 1, max)
    };
    enc.encode(
        fl,
        triangular_cum(total, max),
        triangular_cum(max, max).max(1),
    );
    if total == 0 {
        return Ok(());
    }
    let floor = total.saturating_sub(2 * per_subframe);
    let lo = total.saturating_sub(80);
    let first = counts[0] + counts[1];
    let hi = total - lo;
    if floor < lo || first < floor || first > hi {
        return Err(EncodeError::BadSymbol);
    }
    if floor < hi {
        enc.cdf_window(
            (first - floor) as usize,
            split_cdf(total as usize),
            (floor - lo) as usize,
            (hi - floor + 2) as usize,
        );
    }
    if first > 0 {
        encode_split_two(enc, first, per_subframe, counts[0])?;
    }
    if first < total {
        encode_split_two(enc, total - first, per_subframe, counts[2])?;
    }

    // Positions as runs, magnitudes as zero runs, then the signs.
    let sub_len = FRAME_LEN / SUBFRAMES;
    let mut signs = [false; 160];
    let mut n = 0;
    for (sf, &c) in counts.iter().enumerate() {
        let base = sf * sub_len;
        let mut at = base;
        let mut left_pos = sub_len;
        let mut left = c as usize;
        for (p, &a) in fr.pulses[base..base + sub_len].iter().enumerate() {
            if a == 0 {
                continue;
            }
            let pos = base + p;
            let units = usize::from(a.unsigned_abs());
            if units > left || n == signs.len() {
                return Err(EncodeError::BadSymbol);
            }
            let mut run = pos - at;
            for _ in 0..units {
                let oct = left_pos.div_ceil(8);
                enc.cdf_window(run, runlen_cdf(oct, left), 8 * oct - left_pos, left_pos + 1);
                left_pos -= run;
                left -= 1;
                run = 0;
            }
            at = pos;
            signs[n] = a > 0;
            n += 1;
        }
        if left != 0 {
            return Err(EncodeError::BadSymbol);
        }
    }
    let mut p = 0;
    while p < n {
        let bits = (n - p).min(15);
        let word = signs[p..p + bits]
            .iter()
            .fold(0u32, |w, &plus| (w << 1) | u32::from(plus));
        enc.uniform_bits(word, bits as u32);
        p += bits;
    }
    Ok(())
}

fn encode_voiced(
    enc: &mut Encoder<'_>,
    pred: &mut Predictors,
    fr: &FrameParams,
    v: &VoicedParams,
) -> Result<(), EncodeError> {
    let mut acc = 0i32;
    for sf in 0..SUBFRAMES {
        let row = pred.acb.map_or(0, |g| usize::from(g) + 1);
        let g = v.acb_gain_idx[sf];
        enc.cdf(usize::from(g), &cc::ACB_GAIN_CDF[row]);
        pred.acb = Some(g);
        let cb = cc::ACB_GAIN_CB_Q14[usize::from(g).min(15)];
        acc += i32::from(cb[0]) + 2 * i32::from(cb[1]);
        if fr.subframe_pulses[sf] > 0 {
            let idx = fr.fcb_gain_idx[sf];
            match pred.fcb {
                None => enc.cdf(usize::from(idx), &cc::FCBG_VOICED_CDF),
                Some(prev) => enc.cdf_window(
                    usize::from(idx),
                    &cc::FCBG_VOICED_DELTA_CDF,
                    33 - usize::from(prev).min(33),
                    35,
                ),
            }
            pred.fcb = Some(idx);
        }
    }
    let mode = LAG_MODE_Q14
        .iter()
        .filter(|&&t| acc / SUBFRAMES as i32 >= t)
        .count();
    let symbol = usize::from(v.contour_symbol);
    let contour = usize::from(v.contour);
    if pitch::CONTOUR_ID.get(contour).map(|&id| usize::from(id)) != Some(symbol + 1) {
        return Err(EncodeError::BadSymbol);
    }
    match pred.lag {
        None => enc.cdf(symbol, &pitch::CONTOUR_CDF),
        Some((block, _)) => {
            let b0 = pitch::FIRST_BLOCK_RANGE
                .iter()
                .position(|&[lo, hi]| (usize::from(lo)..=usize::from(hi)).contains(&symbol))
                .ok_or(EncodeError::BadSymbol)?;
            enc.cdf(b0, &pitch::BLOCK_TRANSITION_CDF[usize::from(block).min(8)]);
            let [lo, hi] = pitch::FIRST_BLOCK_RANGE[b0].map(usize::from);
            enc.cdf_window(symbol - lo, &pitch::CONTOUR_CDF, lo, hi + 2 - lo);
        }
    }
    let segments = usize::from(pitch::CONTOUR_SEGMENTS[contour]);
    let blocks = &pitch::CONTOUR_BLOCK[contour];
    let lens = &pitch::CONTOUR_LEN[contour];
    let b0 = i32::from(blocks[0]);
    let near = pred
        .lag
        .is_some_and(|(prev, _)| (-1..=2).contains(&(b0 - i32::from(prev))));
    let mut w = 0;
    for (seg, &block) in blocks.iter().enumerate().take(segments) {
        let lag = v.lag_half[w.min(LAG_SUBFRAMES - 1)];
        let sym = u32::from(lag).wrapping_sub(64 * u32::from(block));
        if seg == 0 && !near {
            if sym >= 64 {
                return Err(EncodeError::BadSymbol);
            }
            enc.uniform(sym, 64);
        } else {
            let Some((_, prev)) = pred.lag else {
                return Err(EncodeError::BadSymbol);
            };
            let start = 64 * i32::from(block) - i32::from(prev) + 127;
            let start = usize::try_from(start).map_err(|_| EncodeError::BadSymbol)?;
            enc.cdf_window(sym as usize, &pitch::DELTA_LAG_CDF[mode], start, 65);
        }
        pred.lag = Some((block, lag));
        w += usize::from(lens[seg]);
    }
    Ok(())
}

fn encode_unvoiced(enc: &mut Encoder<'_>, fr: &FrameParams) -> Result<(), EncodeError> {
    let Excitation::Unvoiced(u) = &fr.excitation else {
        return Err(EncodeError::BadSymbol);
    };
    enc.cdf(usize::from(u.frame_qi), &cc::NRGRES_FRAME4_CDF);
    enc.cdf(usize::from(u.shape_qi), &cc::NRGRES_SHAPE4_CDF);
    for sf in 0..SUBFRAMES {
        let n = fr.subframe_pulses[sf];
        if n == 0 {
            continue;
        }
        let bucket = usize::from(n / 10).min(3);
        let db = ((u.nrgres_dbq_q14[sf] + 8192) >> 14).clamp(-85, 0);
        enc.cdf_window(
            usize::from(fr.fcb_gain_idx[sf]),
            &cc::FCBG_OFFSET_CDF[2][bucket],
            (-db) as usize,
            92,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlow::range::Encoder;
    use crate::mlow::tables::lsf::ST1_CDF;

    #[test]
    fn sid_body_round_trips() {
        // grid 5, levels 1.., energy index 20, shape 7, written with the same tables.
        let (grid, frame_qi, shape) = (5usize, 20usize, 7usize);
        let mut buf = [0u8; 32];
        let mut enc = Encoder::new(&mut buf);
        enc.cdf(grid, &ST1_CDF[0]);
        for k in 0..ORDER {
            enc.cdf(k % 3, st2_cdf(0, 0, grid, k));
        }
        enc.cdf(frame_qi, &cc::NRGRES_FRAME4_CDF);
        enc.cdf(shape, &cc::NRGRES_SHAPE4_CDF);
        let n = enc.done().unwrap();
        let mut pkt = [0u8; 33];
        pkt[0] = 0x90;
        pkt[1..=n].copy_from_slice(&buf[..n]);
        let mut out = PacketParams::new();
        decode_packet(&pkt[..=n], EndpointRule::Reference, &mut out).unwrap();
        assert!(out.toc.sid);
        assert_eq!(out.geometry.packet_len(), 960);
        let [f] = out.frames() else {
            panic!("one SID frame")
        };
        assert!(!f.voiced && f.total_pulses() == 0);
        assert_eq!(usize::from(f.lsf.grid), grid);
        assert!(
            f.lsf
                .stage2
                .iter()
                .enumerate()
                .all(|(k, &s)| usize::from(s) == k % 3)
        );
        let Excitation::Unvoiced(u) = f.excitation else {
            panic!()
        };
        assert_eq!(
            (usize::from(u.frame_qi), usize::from(u.shape_qi)),
            (frame_qi, shape)
        );
        let want0 =
            frame_qi as i32 * 16686 - 85 * 16384 + 16 * i32::from(cc::NRGRES_SHAPE4_Q10[shape][0]);
        assert_eq!(u.nrgres_dbq_q14[0], want0);
        assert_eq!(f.nrgres_dbq_q14, u.nrgres_dbq_q14);
        // The packet encoder writes the same SID body.
        let mut again = [0u8; 33];
        let m = encode_packet(&out, &mut again).unwrap();
        assert_eq!(again[..m], pkt[..m]);
        assert!(m == n + 1 || (m < n + 1 && pkt[m..=n].iter().all(|&b| b == 0)));
        // The same body followed by three stray bytes ends early: refused.
        pkt[n + 1] = 0;
        pkt[n + 2] = 0;
        pkt[n + 3] = 0;
        assert!(matches!(
            decode_packet(&pkt[..n + 4], EndpointRule::Reference, &mut out),
            Err(ParamError::Endpoint { .. })
        ));
        assert!(out.frames().is_empty());
    }

    #[test]
    fn refusals_are_typed() {
        let mut out = PacketParams::new();
        let mut check = |pkt: &[u8], want: ParamError| {
            assert_eq!(
                decode_packet(pkt, EndpointRule::Reference, &mut out),
                Err(want)
            );
        };
        check(&[], ParamError::Empty);
        check(&[0x00], ParamError::Empty);
        check(&[0xdd, 1, 2], ParamError::CeltEscape);
        check(&[0x40, 1, 2], ParamError::Unsupported); // 10 ms
        check(&[0x54, 1, 2], ParamError::Unsupported); // low rate
        check(&[0x70, 1, 2], ParamError::Unsupported); // 32 kHz
        check(&[0x51, 1, 2], ParamError::Unsupported); // stereo
        check(&[0x92, 1, 2], ParamError::Unsupported); // SID + hang-over: not a valid TOC
    }
}

#[cfg(feature = "kat")]
mod kat_suites {
    use super::*;
    use crate::kat::{Failure, Vectors, hex, int, len};
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    fn bad(at: String, what: &'static str) -> Failure {
        Failure { at, what }
    }

    fn ints(v: &dyn Vectors, path: &str) -> Result<Vec<i64>, Failure> {
        (0..len(v, path)?)
            .map(|k| int(v, &format!("{path}.{k}")))
            .collect()
    }

    /// Decode internal frame 0 of record `i`'s packet, reading the block `force` selects.
    fn frame0(v: &dyn Vectors, i: usize, force: Option<bool>) -> Result<FrameParams, Failure> {
        let at = format!("{i}.frame");
        let pkt = hex(v, &at)?;
        let Some((&toc, body)) = pkt.split_first() else {
            return Err(bad(at, "empty packet"));
        };
        let Toc::Smpl(toc) = Toc::parse(toc) else {
            return Err(bad(at, "not an MLow TOC"));
        };
        let mut dec = Decoder::new(body);
        let mut out = FrameParams::EMPTY;
        let mut pred = Predictors::default();
        decode_frame_block(
            &mut dec,
            0,
            toc.coded_as_active_voice(),
            &mut pred,
            &mut out,
            force,
        );
        if dec.error() {
            return Err(bad(at, "range decoder error"));
        }
        Ok(out)
    }

    fn check(at: String, ok: bool) -> Result<(), Failure> {
        if ok { Ok(()) } else { Err(bad(at, "mismatch")) }
    }

    /// `lsf_vectors.json`: voicing, stage 1, stage 2 and interpolation index of frame 0.
    pub fn lsf(v: &dyn Vectors) -> Result<(), Failure> {
        for i in 0..int(v, "#")? as usize {
            let f = frame0(v, i, None)?;
            check(
                format!("{i}.stage1"),
                int(v, &format!("{i}.stage1"))? == i64::from(f.voiced),
            )?;
            check(
                format!("{i}.grid"),
                int(v, &format!("{i}.grid"))? == i64::from(f.lsf.grid),
            )?;
            check(
                format!("{i}.extra"),
                int(v, &format!("{i}.extra"))? == i64::from(f.lsf.interp),
            )?;
            let want = ints(v, &format!("{i}.stage2"))?;
            let got: Vec<i64> = f.lsf.stage2.iter().map(|&x| i64::from(x)).collect();
            check(format!("{i}.stage2"), want == got)?;
        }
        Ok(())
    }

    /// `pulse_vectors.json`: subframe counts and every signed pulse of frame 0.
    pub fn pulses(v: &dyn Vectors) -> Result<(), Failure> {
        for i in 0..int(v, "#")? as usize {
            let f = frame0(v, i, None)?;
            let want = ints(v, &format!("{i}.subfr"))?;
            let got: Vec<i64> = f.subframe_pulses.iter().map(|&x| i64::from(x)).collect();
            check(format!("{i}.subfr"), want == got)?;
            let n = len(v, &format!("{i}.pulses"))?;
            let mut seen = 0;
            for k in 0..n {
                let pos = int(v, &format!("{i}.pulses.{k}.pos"))?;
                let val = int(v, &format!("{i}.pulses.{k}.val"))?;
                let got = usize::try_from(pos)
                    .ok()
                    .and_then(|p| f.pulses.get(p))
                    .map(|&a| i64::from(a));
                check(format!("{i}.pulses.{k}"), got == Some(val))?;
            }
            seen += f.pulses.iter().filter(|&&a| a != 0).count();
            check(format!("{i}.pulses.#"), seen == n)?;
        }
        Ok(())
    }

    /// `pitch_vectors.json`: the voiced block of frame 0 (read even when frame 0 is unvoiced).
    pub fn pitch(v: &dyn Vectors) -> Result<(), Failure> {
        for i in 0..int(v, "#")? as usize {
            let f = frame0(v, i, Some(true))?;
            let Excitation::Voiced(p) = f.excitation else {
                return Err(bad(format!("{i}"), "no voiced block"));
            };
            let at = |s: &str| format!("{i}.{s}");
            check(
                at("lag"),
                int(v, &at("lag"))? == i64::from(p.contour_symbol),
            )?;
            check(
                at("contour"),
                int(v, &at("contour"))? == i64::from(p.contour),
            )?;
            let g: Vec<i64> = p.acb_gain_idx.iter().map(|&x| i64::from(x)).collect();
            check(at("gain_idx"), ints(v, &at("gain_idx"))? == g)?;
            let fi: Vec<i64> = (0..SUBFRAMES)
                .map(|sf| match f.subframe_pulses[sf] {
                    0 => -1,
                    _ => i64::from(f.fcb_gain_idx[sf]),
                })
                .collect();
            check(at("filt_idx"), ints(v, &at("filt_idx"))? == fi)?;
            let lags: Vec<i64> = p.lag_half[..4].iter().map(|&x| i64::from(x)).collect();
            check(at("int_lag_q6"), ints(v, &at("int_lag_q6"))? == lags)?;
        }
        Ok(())
    }

    /// `gains_vectors.json`: the unvoiced block of frame 0 (read even when frame 0 is voiced).
    pub fn gains(v: &dyn Vectors) -> Result<(), Failure> {
        for i in 0..int(v, "#")? as usize {
            let f = frame0(v, i, Some(false))?;
            let Excitation::Unvoiced(p) = f.excitation else {
                return Err(bad(format!("{i}"), "no unvoiced block"));
            };
            let at = |s: &str| format!("{i}.{s}");
            let q: Vec<i64> = p.nrgres_dbq_q14.iter().map(|&x| i64::from(x)).collect();
            check(at("gain_q"), ints(v, &at("gain_q"))? == q)?;
            // Subframes without pulses carry no offset; the vectors show 0 there.
            let o: Vec<i64> = f.fcb_gain_idx.iter().map(|&x| i64::from(x)).collect();
            check(at("nrg_res"), ints(v, &at("nrg_res"))? == o)?;
        }
        Ok(())
    }
}

#[cfg(feature = "kat")]
pub use kat_suites::{
    gains as kat_gains, lsf as kat_lsf, pitch as kat_pitch, pulses as kat_pulses,
};
