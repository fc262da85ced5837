//! Predictor to normalised line spectral frequencies, in SILK's fixed point.
//!
//! The predictor `A(z)` of order 16 is split into its symmetric and antisymmetric polynomials
//! `P` and `Q`, each rewritten as a polynomial in `x = cos(w)`. Their roots alternate on the unit
//! circle; we walk a 128-step cosine grid, find each sign change, refine it by three bisections and
//! a linear interpolation, and read the frequency off in Q15 (0..32767 for 0..pi). If the grid walk
//! does not find all 16 roots, the predictor's bandwidth is expanded a little and the walk repeats.
//! All integer, bit-exact with the reference.
//!
//! No state.

use super::LPC_ORDER;
use super::fixed::{rshift_round, smlaww, smulww};
use super::tables::LSF_COS_Q12;

const HALF: usize = LPC_ORDER / 2;
const GRID_STEPS: usize = 128;
const BISECTIONS: u32 = 3;
const MAX_EXPANSIONS: u32 = 16;
const PI: f32 = core::f32::consts::PI;

/// NLSFs in radians (0..pi, increasing) of a monic order-16 predictor `a` (`a[0] = 1`).
pub fn a_to_nlsf(a: &[f32; LPC_ORDER + 1]) -> [f32; LPC_ORDER] {
    // SILK's whitening coefficients have the opposite sign: A(z) = 1 - sum c_k z^-k.
    let mut c_q16 = [0i32; LPC_ORDER];
    for (c, &x) in c_q16.iter_mut().zip(&a[1..]) {
        *c = libm::roundf(-x * 65536.0) as i32;
    }
    let q15 = a_to_nlsf_q15(&mut c_q16);
    let mut out = [0f32; LPC_ORDER];
    for (o, &v) in out.iter_mut().zip(&q15) {
        *o = v as f32 / 32768.0 * PI;
    }
    out
}

/// NLSFs in Q15 of the whitening filter `1 - sum c_q16[k] z^-(k+1)`. `c_q16` is bandwidth-expanded
/// in place if the root search needs it.
pub fn a_to_nlsf_q15(c_q16: &mut [i32; LPC_ORDER]) -> [i32; LPC_ORDER] {
    let mut nlsf = [0i32; LPC_ORDER];
    let mut polys = [[0i32; HALF + 1]; 2];
    let mut expansions = 0;
    'restart: loop {
        cheby_polys(c_q16, &mut polys);
        // Roots alternate between P (even index) and Q (odd index). If P is already negative at
        // w = 0, the first root is taken to be at 0 and the search starts on Q.
        let mut root = 0usize;
        let mut xlo = LSF_COS_Q12[0];
        let mut ylo = eval(&polys[0], xlo);
        if ylo < 0 {
            nlsf[0] = 0;
            root = 1;
            ylo = eval(&polys[1], xlo);
        }
        let mut k = 1usize;
        let mut thr = 0i32;
        loop {
            let poly = &polys[root & 1];
            let xhi = LSF_COS_Q12[k];
            let mut yhi = eval(poly, xhi);
            let crossed = (ylo <= 0 && yhi >= thr) || (ylo >= 0 && yhi <= -thr);
            if !crossed {
                k += 1;
                xlo = xhi;
                ylo = yhi;
                thr = 0;
                if k > GRID_STEPS {
                    expansions += 1;
                    if expansions > MAX_EXPANSIONS {
                        // Give up: equally spaced frequencies.
                        let step = (1 << 15) / (LPC_ORDER as i32 + 1);
                        for (i, v) in nlsf.iter_mut().enumerate() {
                            *v = step * (i as i32 + 1);
                        }
                        return nlsf;
                    }
                    bandwidth_expand(c_q16, 65536 - (1 << expansions));
                    continue 'restart;
                }
                continue;
            }
            // A root lies in (xlo, xhi]: narrow it down.
            thr = i32::from(yhi == 0);
            let (mut lo_x, mut lo_y, mut hi_x) = (xlo, ylo, xhi);
            let mut frac = -256i32;
            for m in 0..BISECTIONS {
                let xmid = rshift_round(lo_x + hi_x, 1);
                let ymid = eval(poly, xmid);
                if (lo_y <= 0 && ymid >= 0) || (lo_y >= 0 && ymid <= 0) {
                    hi_x = xmid;
                    yhi = ymid;
                } else {
                    lo_x = xmid;
                    lo_y = ymid;
                    frac += 128 >> m;
                }
            }
            // Linear interpolation inside the last bisection interval, in 1/256 of a grid step.
            // Differences wrap like the reference's 32-bit arithmetic (only reachable with
            // degenerate predictors).
            if lo_y.unsigned_abs() < 65536 {
                let den = lo_y.wrapping_sub(yhi);
                if den != 0 {
                    frac += ((lo_y << (8 - BISECTIONS)) + (den >> 1)) / den;
                }
            } else {
                let den = lo_y.wrapping_sub(yhi) >> (8 - BISECTIONS);
                if den != 0 {
                    frac = frac.wrapping_add(lo_y.wrapping_div(den));
                }
            }
            nlsf[root] = ((k as i32) << 8)
                .wrapping_add(frac)
                .min(i32::from(i16::MAX));
            root += 1;
            if root >= LPC_ORDER {
                return nlsf;
            }
            // The next root (on the other polynomial) may lie in the same grid interval.
            xlo = LSF_COS_Q12[k - 1];
            ylo = (1 - (root as i32 & 2)) << 12;
        }
    }
}

/// Build P and Q (with their trivial roots at z = -1 and z = 1 divided out) as polynomials in
/// `2 cos(w)`, Q16 coefficients, lowest order first, leading coefficient `1 << 16`.
fn cheby_polys(c: &[i32; LPC_ORDER], polys: &mut [[i32; HALF + 1]; 2]) {
    let [p, q] = polys;
    p[HALF] = 1 << 16;
    q[HALF] = 1 << 16;
    for k in 0..HALF {
        let (lo, hi) = (c[HALF - k - 1], c[HALF + k]);
        p[k] = lo.wrapping_neg().wrapping_sub(hi);
        q[k] = lo.wrapping_neg().wrapping_add(hi);
    }
    for k in (1..=HALF).rev() {
        p[k - 1] = p[k - 1].wrapping_sub(p[k]);
        q[k - 1] = q[k - 1].wrapping_add(q[k]);
    }
    to_cosine_basis(p);
    to_cosine_basis(q);
}

/// Rewrite a polynomial in `z + 1/z` as one in `cos(w)` (Chebyshev substitution), in place.
fn to_cosine_basis(p: &mut [i32; HALF + 1]) {
    for k in 2..=HALF {
        for n in (k + 1..=HALF).rev() {
            p[n - 2] = p[n - 2].wrapping_sub(p[n]);
        }
        p[k - 2] = p[k - 2].wrapping_sub(p[k].wrapping_shl(1));
    }
}

/// Horner evaluation at `x` (Q12).
fn eval(p: &[i32; HALF + 1], x_q12: i32) -> i32 {
    let x_q16 = x_q12 << 4;
    let mut y = p[HALF];
    for n in (0..HALF).rev() {
        y = smlaww(p[n], y, x_q16);
    }
    y
}

/// `c[i] *= chirp^(i+1)` in Q16, with the chirp power updated in fixed point.
fn bandwidth_expand(c: &mut [i32; LPC_ORDER], chirp_q16: i32) {
    let mut chirp = chirp_q16;
    let step = chirp_q16 - 65536;
    let last = LPC_ORDER - 1;
    for v in c[..last].iter_mut() {
        *v = smulww(chirp, *v);
        chirp = chirp.wrapping_add(rshift_round(chirp.wrapping_mul(step), 16));
    }
    c[last] = smulww(chirp, c[last]);
}
