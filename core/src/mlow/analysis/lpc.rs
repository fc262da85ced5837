//! LPC front end: window the 448-sample analysis buffer, take its 512-point power spectrum, turn
//! that into the autocorrelation by cosine sums, run the Schur recursion for the reflection
//! coefficients, step up to the order-16 predictor and expand its bandwidth slightly.
//!
//! The power spectrum `F2` (257 bins) is an output in its own right: the voicing classifier and
//! the pitch estimator's harmonicity measure read it.
//!
//! Precision follows the reference: f32 window, FFT and predictor; f64 autocorrelation and Schur
//! recursion, with each reflection coefficient stored as f32. The FFT is our own, so `A` agrees with
//! the reference to a float tolerance rather than bit for bit.
//!
//! No state: everything lives on the caller's stack (about 6 KB of scratch).

use super::LPC_ORDER;
use super::fft::{COS_512_F64, power_spectrum_512};
pub use super::highpass::LPC_BUF_LEN;
use super::tables::{LPC_WIN_RISE, LPC_WIN_TAIL_LONG, LPC_WIN_TAIL_SHORT};

/// Bins of the power spectrum, DC to Nyquist.
pub const SPECTRUM_LEN: usize = 257;
/// White-noise regularisation of the zero-lag autocorrelation.
const REGULARISATION: f32 = 5e-7;
/// Bandwidth expansion factor: `A[i] *= BWE^i`.
const BWE: f32 = 0.9999;
/// Length of the taper at the end of the window, in the long variant.
const TAIL_LEN: usize = 64;

/// Result of the LPC analysis of one internal frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Lpc {
    /// Monic predictor `A(z) = 1 + a[1] z^-1 + ... + a[16] z^-16`, after bandwidth expansion.
    pub a: [f32; LPC_ORDER + 1],
    /// Autocorrelation of the windowed buffer, lags 0..=16 (before regularisation).
    pub r: [f64; LPC_ORDER + 1],
}

/// Window an LPC buffer: a sine rise over the first 264 samples, 120 untouched samples, then a
/// cosine fall over the last 64 (`long_tail`, internal frames 0 and 1) or over 32 followed by 32
/// zeros (the last internal frame, whose buffer ends in look-ahead).
pub fn window(buf: &[f32; LPC_BUF_LEN], long_tail: bool, out: &mut [f32; LPC_BUF_LEN]) {
    let rise = LPC_WIN_RISE.len();
    let tail_start = LPC_BUF_LEN - TAIL_LEN;
    for i in 0..rise {
        out[i] = buf[i] * LPC_WIN_RISE[i];
    }
    out[rise..tail_start].copy_from_slice(&buf[rise..tail_start]);
    let tail: &[f32] = if long_tail {
        &LPC_WIN_TAIL_LONG
    } else {
        &LPC_WIN_TAIL_SHORT
    };
    for (i, o) in out[tail_start..].iter_mut().enumerate() {
        *o = tail.get(i).map_or(0.0, |w| buf[tail_start + i] * w);
    }
}

/// Analyse a windowed buffer: fills `spectrum` with the power spectrum and returns the predictor.
pub fn analyse(windowed: &[f32; LPC_BUF_LEN], spectrum: &mut [f32; SPECTRUM_LEN]) -> Lpc {
    power_spectrum_512(windowed, spectrum);
    let r = autocorrelation(spectrum);
    let mut rc = [0f32; LPC_ORDER];
    schur(&r, f64::from(1.0f32 + REGULARISATION), &mut rc);
    let mut a = [0f32; LPC_ORDER + 1];
    step_up(&rc, &mut a);
    let mut g = BWE;
    for c in a.iter_mut().skip(1) {
        *c *= g;
        g *= BWE;
    }
    Lpc { a, r }
}

/// Autocorrelation lags 0..=16 as the inverse transform of the (even) power spectrum:
/// `R[j] = (F2[0] + (-1)^j F2[256] + 2 sum_{n=1}^{255} F2[n] cos(2 pi j n / 512)) / 512`, with the
/// bins `n` and `256 - n` folded together.
fn autocorrelation(f2: &[f32; SPECTRUM_LEN]) -> [f64; LPC_ORDER + 1] {
    // The lags run side by side (vector lanes), each summing over n in order.
    let mut even = [0f64; EVEN_LAGS];
    let mut odd = [0f64; ODD_LAGS];
    for n in 1..128 {
        let (lo, hi) = (f64::from(f2[n]), f64::from(f2[256 - n]));
        let (sum, dif) = (lo + hi, lo - hi);
        for (a, &c) in even.iter_mut().zip(&AUTOCORR_COS_EVEN[n - 1]) {
            *a += sum * c;
        }
        for (a, &c) in odd.iter_mut().zip(&AUTOCORR_COS_ODD[n - 1]) {
            *a += dif * c;
        }
    }
    let (dc, nyq, mid) = (f64::from(f2[0]), f64::from(f2[256]), f64::from(f2[128]));
    let mut r = [0f64; LPC_ORDER + 1];
    for (j, rj) in r.iter_mut().enumerate() {
        let (edges, acc) = if j % 2 == 0 {
            (
                dc + nyq + 2.0 * mid * COS_512_F64[(128 * j) & 511],
                even[j / 2],
            )
        } else {
            (dc - nyq, odd[j / 2])
        };
        *rj = (edges + 2.0 * acc) / 512.0;
    }
    r
}

/// Even lags 0, 2, ..., 16 (padded to an even count) and odd lags 1, 3, ..., 15.
const EVEN_LAGS: usize = 10;
const ODD_LAGS: usize = 8;

/// `cos(2 pi j n / 512)` for the lags `j = start, start + 2, ...` (`LAGS` of them, those past the
/// order zero) and `n = 1..128`.
const fn autocorr_cos<const LAGS: usize>(start: usize) -> [[f64; LAGS]; 127] {
    let mut out = [[0f64; LAGS]; 127];
    let mut n = 1;
    while n < 128 {
        let mut l = 0;
        while l < LAGS {
            let j = start + 2 * l;
            if j <= LPC_ORDER {
                out[n - 1][l] = COS_512_F64[(j * n) & 511];
            }
            l += 1;
        }
        n += 1;
    }
    out
}

static AUTOCORR_COS_EVEN: [[f64; EVEN_LAGS]; 127] = autocorr_cos(0);
static AUTOCORR_COS_ODD: [[f64; ODD_LAGS]; 127] = autocorr_cos(1);

/// Reflection coefficients from the autocorrelation by the Schur recursion, with `r[0]` scaled by
/// `1 + regularisation`; `rc.len()` is the order (at most 32) and `r` needs one more lag. Stops with
/// a coefficient of -1 or +1 if the correlation is not positive definite, leaving the rest 0.
pub(crate) fn schur(r: &[f64], regularisation: f64, rc: &mut [f32]) {
    const MAX: usize = 33;
    let order = rc.len();
    rc.fill(0.0);
    // `fwd[i]` tracks the forward prediction error correlation at lag i, `bwd[i]` the backward one.
    let mut fwd = [0f64; MAX];
    fwd[..=order].copy_from_slice(&r[..=order]);
    fwd[0] *= regularisation;
    let mut bwd = fwd;
    for k in 0..order {
        let err = bwd[0];
        if fwd[k + 1] > err {
            rc[k] = -1.0;
            break;
        }
        if fwd[k + 1] < -err {
            rc[k] = 1.0;
            break;
        }
        if err == 0.0 {
            break;
        }
        let g = -fwd[k + 1] / err;
        rc[k] = g as f32;
        for n in 0..order - k {
            let (f, b) = (fwd[n + k + 1], bwd[n]);
            fwd[n + k + 1] = f + b * g;
            bwd[n] = b + f * g;
        }
    }
}

/// Predictor from reflection coefficients (Levinson step-up), in f32: `a.len() == rc.len() + 1`.
pub(crate) fn step_up(rc: &[f32], a: &mut [f32]) {
    a.fill(0.0);
    a[0] = 1.0;
    for (k, &g) in rc.iter().enumerate() {
        // Update the symmetric pairs (a[n+1], a[k-n]) of the order-k predictor in place.
        for n in 0..k.div_ceil(2) {
            let (lo, hi) = (a[n + 1], a[k - n]);
            a[n + 1] = lo + hi * g;
            a[k - n] = hi + lo * g;
        }
        a[k + 1] = g;
    }
}
