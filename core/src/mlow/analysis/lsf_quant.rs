//! LSF quantiser: choose the stage-1 centroid and stage-2 indices the decoder will rebuild the
//! envelope from, trading weighted error against bits.
//!
//! Stage 1 is a 16-centroid codebook per voicing class, plus (for conditional coding) a 17th
//! "centroid" derived from the previous frame's quantised LSFs. A Mahalanobis shortlist keeps the
//! best few centroids. For each, the residual is rotated and weighted into a decorrelated domain,
//! divided by the step size and rounded per coefficient (clamped to the coded range); a small beam
//! then tries moving the coefficients with the largest rounding error to their other neighbour.
//! Each candidate is scored as `8 log2(weighted error) * rd_weight + bits`, the weights being the
//! inverse spectral envelope at each LSF.
//!
//! The codebook comes from the codec's LSF ROM (`lsf_seed`), which this module does not decode: the
//! caller passes one voicing class's tables as an [`LsfCodebook`].
//!
//! No state: the previous quantised LSFs are an argument.

use super::LPC_ORDER;

/// Stage-1 centroids per voicing class.
pub const CENTROIDS: usize = 16;
/// Index of the conditional centroid (the previous frame's LSFs).
pub const COND_CENTROID: usize = CENTROIDS;
const N: usize = LPC_ORDER;
const PI: f32 = core::f32::consts::PI;
/// The conditional centroid uses a finer step.
const COND_STEP_FACTOR: f32 = 0.9;
/// Largest shortlist the quantiser supports.
pub const MAX_SURVIVORS: usize = CENTROIDS + 1;

/// The stage-2 range of one coefficient under one centroid: its quantisation levels (and their bit
/// costs) are `levels[first..first + (max_index - min_index + 1)]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stage2Coeff {
    /// Offset into [`LsfCodebook::levels`] and [`LsfCodebook::level_bits`].
    pub first: u16,
    /// Smallest coded index (before the offset to 0).
    pub min_index: i8,
    /// Largest coded index.
    pub max_index: i8,
}

/// One voicing class's (and rate's) LSF tables, expanded from the codec's LSF ROM.
#[derive(Clone, Copy, Debug)]
pub struct LsfCodebook<'a> {
    /// Half of each stage-1 centroid (radians).
    pub half_centroids: &'a [[f32; N]; CENTROIDS],
    /// Each full centroid multiplied by the inverse covariance (`C^-1 c`).
    pub centroid_metric: &'a [[f32; N]; CENTROIDS],
    /// Inverse covariance of the LSF vectors.
    pub inverse_covariance: &'a [[f32; N]; N],
    /// Per centroid: the rotation divided by the square-root Laroia weight of the centroid
    /// (maps stage-2 values back to LSFs: `lsf += sum_j M[j][i] q[j]`).
    pub rotation: &'a [[[f32; N]; N]; CENTROIDS],
    /// Per centroid: the rotation times that weight, transposed (maps LSF errors to the stage-2
    /// domain).
    pub inverse_rotation: &'a [[[f32; N]; N]; CENTROIDS],
    /// The rotation of the conditional centroid (weighted at run time).
    pub cond_rotation: &'a [[f32; N]; N],
    /// Bits of each stage-1 index without conditional coding.
    pub centroid_bits: &'a [f32; CENTROIDS],
    /// Bits of each stage-1 index (17th: the conditional centroid) with conditional coding.
    pub cond_centroid_bits: &'a [f32; CENTROIDS + 1],
    /// Mean LSF vector the conditional centroid is pulled towards.
    pub mean: &'a [f32; N],
    /// How far the conditional centroid is pulled towards the mean.
    pub cond_regularisation: f32,
    /// Minimum spacing of the quantised LSFs (17 gaps, including 0 and pi).
    pub min_spacing: &'a [f32; N + 1],
    /// Stage-2 step size.
    pub step: f32,
    /// Stage-2 ranges per centroid (17th row: the conditional centroid) and coefficient.
    pub stage2: &'a [[Stage2Coeff; N]; CENTROIDS + 1],
    /// Stage-2 levels (already scaled by the step).
    pub levels: &'a [f32],
    /// Bits of each stage-2 level.
    pub level_bits: &'a [f32],
}

impl LsfCodebook<'static> {
    /// The full-rate codebook of one voicing class over the codec's generated LSF tables
    /// ([`crate::mlow::tables::lsf`]).
    pub fn builtin(voiced: bool) -> Self {
        use crate::mlow::tables::lsf as t;
        let v = usize::from(voiced);
        LsfCodebook {
            half_centroids: &t::CB_HALF[v],
            centroid_metric: &t::CB_CINV[v],
            inverse_covariance: &BUILTIN_INVERSE_COVARIANCE[v],
            rotation: &t::WE[v],
            inverse_rotation: &t::WIE[v],
            cond_rotation: &t::ROT_COND[v][0],
            centroid_bits: &t::ST1_BITS[v],
            cond_centroid_bits: &t::ST1_COND_BITS[v],
            mean: &t::MEAN[v],
            cond_regularisation: t::REG_COND[v],
            min_spacing: &t::MIN_DIST[v],
            step: t::QSTEP[v][0],
            stage2: &BUILTIN_STAGE2[v],
            levels: &t::ST2_VALUE,
            level_bits: &t::ST2_BITS,
        }
    }
}

/// The inverse covariance per voicing as a full symmetric matrix, unpacked at compile time from
/// the generated lower triangle.
static BUILTIN_INVERSE_COVARIANCE: [[[f32; N]; N]; 2] = {
    use crate::mlow::tables::lsf as t;
    let mut out = [[[0f32; N]; N]; 2];
    let mut v = 0;
    while v < 2 {
        let mut p = 0;
        let mut i = 0;
        while i < N {
            let mut j = 0;
            while j <= i {
                out[v][i][j] = t::C_INV[v][p];
                out[v][j][i] = t::C_INV[v][p];
                p += 1;
                j += 1;
            }
            i += 1;
        }
        v += 1;
    }
    out
};

/// The full-rate stage-2 ranges per voicing, built at compile time from the generated level
/// counts, lowest indices and value offsets.
static BUILTIN_STAGE2: [[[Stage2Coeff; N]; CENTROIDS + 1]; 2] = {
    use crate::mlow::tables::lsf as t;
    let mut out = [[[Stage2Coeff {
        first: 0,
        min_index: 0,
        max_index: 0,
    }; N]; CENTROIDS + 1]; 2];
    let mut v = 0;
    while v < 2 {
        let mut c = 0;
        while c <= CENTROIDS {
            let mut i = 0;
            while i < N {
                let lo = t::ST2_MIN_QI[v][0][c][i];
                out[v][c][i] = Stage2Coeff {
                    first: t::ST2_VALUE_AT[v][0][c][i],
                    min_index: lo,
                    max_index: lo + t::ST2_LEVELS[v][0][c][i] as i8 - 1,
                };
                i += 1;
            }
            c += 1;
        }
        v += 1;
    }
    out
};

/// The chosen indices and the LSFs they stand for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LsfQuantized {
    /// Stage-1 index (0..16, 16 = conditional centroid).
    pub stage1: u8,
    /// Stage-2 indices, 0-based within each coefficient's range.
    pub stage2: [u8; N],
    /// The quantised LSFs as the encoder sees them (after minimum spacing).
    pub lsf: [f32; N],
}

/// Why the quantiser could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LsfQuantError {
    /// The codebook is inconsistent (a stage-2 range past the level tables).
    BadCodebook,
    /// `survivors` is 0 or larger than [`MAX_SURVIVORS`].
    BadSurvivors,
}

/// Quantise `nlsf` (the analysis LSFs of predictor `a`). With `prev` (the previous frame's quantised
/// LSFs) conditional coding is used: the conditional centroid joins the shortlist and stage-1 bits
/// come from the conditional table. `rd_weight` scales the error against the bits
/// (`sqrt(bitrate / 14000)`); `survivors` is the shortlist and beam width (6 at complexity 8).
pub fn quantize(
    cb: &LsfCodebook<'_>,
    a: &[f32; N + 1],
    nlsf: &[f32; N],
    prev: Option<&[f32; N]>,
    rd_weight: f32,
    survivors: usize,
) -> Result<LsfQuantized, LsfQuantError> {
    if survivors == 0 || survivors > MAX_SURVIVORS {
        return Err(LsfQuantError::BadSurvivors);
    }
    let weights = spectral_weights(a, nlsf);

    // The conditional centroid, from the previous LSFs pulled towards the mean.
    let mut cond_half = [0f32; N];
    let mut cond_metric = [0f32; N];
    let mut cond_rot = [[0f32; N]; N];
    let mut cond_inv_rot = [[0f32; N]; N];
    if let Some(p) = prev {
        let mut c = [0f32; N];
        for i in 0..N {
            c[i] = p[i] + cb.cond_regularisation * (cb.mean[i] - p[i]);
            cond_half[i] = 0.5 * c[i];
        }
        cond_metric = mul_transposed(cb.inverse_covariance, &c);
        (cond_rot, cond_inv_rot) = weight_rotation(cb.cond_rotation, &c);
    }

    // Stage-1 shortlist by Mahalanobis-style score.
    let mut score = [0f32; MAX_SURVIVORS];
    for (s, sc) in score.iter_mut().enumerate().take(CENTROIDS) {
        *sc = -dot_diff(&cb.half_centroids[s], nlsf, &cb.centroid_metric[s]);
    }
    let count = if prev.is_some() {
        score[COND_CENTROID] = -dot_diff(&cond_half, nlsf, &cond_metric);
        CENTROIDS + 1
    } else {
        CENTROIDS
    };
    let mut shortlist = [0usize; MAX_SURVIVORS];
    top_k(&score[..count], &mut shortlist[..survivors]);

    let mut best: Option<(f32, LsfQuantized)> = None;
    for (s1, &c1) in shortlist[..survivors].iter().enumerate() {
        let is_cond = c1 == COND_CENTROID;
        let (half, rot, inv_rot) = if is_cond {
            (&cond_half, &cond_rot, &cond_inv_rot)
        } else {
            (
                &cb.half_centroids[c1],
                &cb.rotation[c1],
                &cb.inverse_rotation[c1],
            )
        };
        let mut stage1_lsf = [0f32; N];
        for (o, &h) in stage1_lsf.iter_mut().zip(half) {
            *o = h * 2.0;
        }
        let mut resid = [0f32; N];
        for i in 0..N {
            resid[i] = nlsf[i] - stage1_lsf[i];
        }
        let mut err = mul_transposed(inv_rot, &resid);
        let step = if is_cond {
            cb.step * COND_STEP_FACTOR
        } else {
            cb.step
        };
        let inv_step = 1.0 / step;
        for e in &mut err {
            *e *= inv_step;
        }
        let mut bits = if prev.is_none() {
            cb.centroid_bits[c1]
        } else {
            cb.cond_centroid_bits[c1]
        };

        // Round each coefficient within its range; note the direction and size of the rounding
        // error (-1 when the other neighbour is out of range).
        let ranges = &cb.stage2[c1];
        let mut toward = [0i32; N];
        let mut room = [0f32; N];
        let mut qres = [0f32; N];
        let mut idx = [0i32; N];
        for i in 0..N {
            let (lo, hi) = (
                i32::from(ranges[i].min_index),
                i32::from(ranges[i].max_index),
            );
            let q = (libm::roundf(err[i]) as i32).min(hi).max(lo);
            err[i] -= q as f32;
            toward[i] = if err[i] > 0.0 {
                1
            } else if err[i] == 0.0 {
                0
            } else {
                -1
            };
            room[i] = if (q == hi && toward[i] > 0) || (q == lo && toward[i] < 0) {
                -1.0
            } else {
                err[i].abs()
            };
            idx[i] = q - lo;
            let at = level_at(cb, ranges[i], idx[i])?;
            bits += cb.level_bits[at];
            qres[i] = cb.levels[at];
        }
        let mut flips = [0usize; MAX_SURVIVORS];
        top_k(&room, &mut flips[..survivors.min(N)]);

        let mut base = mul_transposed(rot, &qres);
        for i in 0..N {
            base[i] += stage1_lsf[i];
        }
        let mut lsfq = base;
        let bits0 = bits;
        let mut changed: Option<usize> = None;
        let beam = survivors - s1;
        for s2 in 0..beam {
            min_spacing(&mut lsfq, cb.min_spacing);
            let w = weighted_error(nlsf, &lsfq, &weights);
            let rd = 0.5 * N as f32 * libm::log2f(w) * rd_weight + bits;
            if best.is_none_or(|(b, _)| rd < b) {
                let mut stage2 = [0u8; N];
                for (o, &v) in stage2.iter_mut().zip(&idx) {
                    *o = u8::try_from(v).map_err(|_| LsfQuantError::BadCodebook)?;
                }
                best = Some((
                    rd,
                    LsfQuantized {
                        stage1: c1 as u8,
                        stage2,
                        lsf: lsfq,
                    },
                ));
            }
            if s2 == beam - 1 || s2 >= N || room[flips[s2]] < 0.25 {
                break;
            }
            // Move one coefficient to its other neighbour (undoing the previous move).
            if let Some(k) = changed {
                idx[k] -= toward[k];
            }
            let k = flips[s2];
            changed = Some(k);
            let old = level_at(cb, ranges[k], idx[k])?;
            idx[k] += toward[k];
            let new = level_at(cb, ranges[k], idx[k])?;
            let diff = cb.levels[new] - cb.levels[old];
            for i in 0..N {
                lsfq[i] = base[i] + diff * rot[k][i];
            }
            bits = bits0 + cb.level_bits[new] - cb.level_bits[old];
        }
    }
    best.map(|(_, q)| q).ok_or(LsfQuantError::BadCodebook)
}

/// Index into the level tables of stage-2 index `idx` (0-based) of a coefficient range.
fn level_at(cb: &LsfCodebook<'_>, r: Stage2Coeff, idx: i32) -> Result<usize, LsfQuantError> {
    let count = i32::from(r.max_index) - i32::from(r.min_index) + 1;
    let at = usize::from(r.first) + usize::try_from(idx).map_err(|_| LsfQuantError::BadCodebook)?;
    if idx >= count || at >= cb.levels.len() || at >= cb.level_bits.len() {
        return Err(LsfQuantError::BadCodebook);
    }
    Ok(at)
}

/// `sum_i (h[i] - x[i]) * m[i]`.
fn dot_diff(h: &[f32; N], x: &[f32; N], m: &[f32; N]) -> f32 {
    let mut s = 0f32;
    for i in 0..N {
        s += (h[i] - x[i]) * m[i];
    }
    s
}

/// `y[i] = sum_j m[j][i] x[j]`, accumulated over `j` in order.
pub(crate) fn mul_transposed(m: &[[f32; N]; N], x: &[f32; N]) -> [f32; N] {
    let mut y = [0f32; N];
    for i in 0..N {
        y[i] = m[0][i] * x[0];
    }
    for j in 1..N {
        for i in 0..N {
            y[i] += m[j][i] * x[j];
        }
    }
    y
}

/// Laroia weights: the sum of the inverse gaps on either side of each LSF (gaps floored at 1e-3).
pub(crate) fn laroia_weights(lsf: &[f32; N]) -> [f32; N] {
    const FLOOR: f32 = 1e-3;
    let mut inv = [0f32; N + 1];
    inv[0] = 1.0 / lsf[0].max(FLOOR);
    for i in 1..N {
        inv[i] = 1.0 / (lsf[i] - lsf[i - 1]).max(FLOOR);
    }
    inv[N] = 1.0 / (PI - lsf[N - 1]).max(FLOOR);
    let mut w = [0f32; N];
    for i in 0..N {
        w[i] = inv[i] + inv[i + 1];
    }
    w
}

/// Weight a rotation by the square-root Laroia weights of `lsf`: returns the rotation with column
/// `j` divided by the weight, and its transpose with row `j` multiplied by it.
pub(crate) fn weight_rotation(
    rot: &[[f32; N]; N],
    lsf: &[f32; N],
) -> ([[f32; N]; N], [[f32; N]; N]) {
    let mut w = laroia_weights(lsf);
    for v in &mut w {
        *v = libm::sqrtf(*v);
    }
    let mut inv = [0f32; N];
    for i in 0..N {
        inv[i] = 1.0 / w[i];
    }
    let mut fwd = [[0f32; N]; N];
    let mut back = [[0f32; N]; N];
    for i in 0..N {
        for j in 0..N {
            fwd[i][j] = rot[i][j] * inv[j];
            back[j][i] = rot[i][j] * w[j];
        }
    }
    (fwd, back)
}

/// Error weights: the spectral envelope `1 / |A(e^jw)|` at each LSF, normalised to 1 at the LSF
/// where `|A|` is smallest (so every weight is at most 1).
fn spectral_weights(a: &[f32; N + 1], lsf: &[f32; N]) -> [f32; N] {
    let mut p = [0f32; N];
    for (pi, &w) in p.iter_mut().zip(lsf) {
        let (c, s) = (libm::cosf(w), libm::sinf(w));
        let (mut re, mut im) = (1f32, 0f32);
        let (mut er, mut ei) = (c, s);
        for &aj in &a[1..N] {
            re += er * aj;
            im -= ei * aj;
            let nr = er * c - ei * s;
            let ni = er * s + ei * c;
            er = nr;
            ei = ni;
        }
        re += er * a[N];
        im -= ei * a[N];
        *pi = re * re + im * im;
    }
    let mut min = p[0];
    for &v in &p[1..] {
        if v < min {
            min = v;
        }
    }
    let scale = 1.0 / min;
    for v in &mut p {
        *v = 1.0 / libm::sqrtf(*v * scale);
    }
    p
}

fn weighted_error(x: &[f32; N], y: &[f32; N], w: &[f32; N]) -> f32 {
    let mut s = 0f32;
    for k in 0..N {
        let e = x[k] - y[k];
        s += w[k] * e * e;
    }
    s
}

/// Indices of the `out.len()` largest values, largest first; ties go to the lower index.
fn top_k(x: &[f32], out: &mut [usize]) {
    let mut used = [false; MAX_SURVIVORS];
    for o in out.iter_mut() {
        let mut best: Option<usize> = None;
        for (i, &v) in x.iter().enumerate() {
            if !used[i] && best.is_none_or(|b| v > x[b]) {
                best = Some(i);
            }
        }
        let b = best.unwrap_or(0);
        used[b] = true;
        *o = b;
    }
}

/// Push the LSFs apart until every gap (including those to 0 and pi) reaches its minimum, by
/// repeatedly widening the smallest gap at the expense of its neighbours.
fn min_spacing(lsf: &mut [f32; N], min: &[f32; N + 1]) {
    let mut gap = [0f32; N + 1];
    gap[0] = lsf[0] - min[0];
    for i in 1..N {
        gap[i] = (lsf[i] - lsf[i - 1]) - min[i];
    }
    gap[N] = (PI - lsf[N - 1]) - min[N];
    let smallest = |g: &[f32; N + 1]| {
        let mut m = 0;
        for i in 1..=N {
            if g[i] < g[m] {
                m = i;
            }
        }
        m
    };
    let mut m = smallest(&gap);
    if gap[m] > 0.0 {
        return;
    }
    for k in 0..1000 {
        let mut delta = k as f32 * 1.0e-6 - gap[m];
        gap[m] += delta;
        if m == 0 {
            gap[1] -= delta;
        } else if m == N {
            gap[N - 1] -= delta;
        } else {
            delta *= 0.5;
            gap[m - 1] -= delta;
            gap[m + 1] -= delta;
        }
        m = smallest(&gap);
        if gap[m] >= 0.0 {
            lsf[0] = gap[0] + min[0];
            for i in 1..N {
                lsf[i] = lsf[i - 1] + (gap[i] + min[i]);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_spacing_repairs_crowded_lsfs() {
        let mut lsf = [0f32; N];
        for (i, v) in lsf.iter_mut().enumerate() {
            *v = 0.1 + 0.18 * i as f32;
        }
        lsf[5] = lsf[4] + 1e-4; // too close
        let min = [0.01f32; N + 1];
        min_spacing(&mut lsf, &min);
        assert!(lsf[0] >= min[0] - 1e-6);
        for i in 1..N {
            assert!(lsf[i] - lsf[i - 1] >= min[i] - 1e-6, "gap {i}");
        }
        assert!(PI - lsf[N - 1] >= min[N] - 1e-6);
    }

    #[test]
    fn survivor_count_is_checked() {
        let z16 = [[0f32; N]; CENTROIDS];
        let zr = [[[0f32; N]; N]; CENTROIDS];
        let cb = LsfCodebook {
            half_centroids: &z16,
            centroid_metric: &z16,
            inverse_covariance: &[[0.0; N]; N],
            rotation: &zr,
            inverse_rotation: &zr,
            cond_rotation: &[[0.0; N]; N],
            centroid_bits: &[0.0; CENTROIDS],
            cond_centroid_bits: &[0.0; CENTROIDS + 1],
            mean: &[0.0; N],
            cond_regularisation: 0.0,
            min_spacing: &[0.0; N + 1],
            step: 1.0,
            stage2: &[[Stage2Coeff::default(); N]; CENTROIDS + 1],
            levels: &[],
            level_bits: &[],
        };
        let a = [1.0; N + 1];
        let lsf = [0.5; N];
        assert_eq!(
            quantize(&cb, &a, &lsf, None, 1.0, 0),
            Err(LsfQuantError::BadSurvivors)
        );
        // Empty level tables are refused, not indexed.
        assert_eq!(
            quantize(&cb, &a, &lsf, None, 1.0, 6),
            Err(LsfQuantError::BadCodebook)
        );
    }
}
