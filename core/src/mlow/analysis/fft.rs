//! Real FFTs for power spectra: 512 points (LPC window; a 256-point radix-2 complex transform plus
//! the usual split) and 576 points (perceptual model; a 288-point mixed radix-2/3 transform).
//! Twiddles come from f32 cosine tables, so no trigonometry runs per call.

use super::tables::{COS_512, COS_512_QUARTER, COS_576};

/// `cos(2 pi n / 512)` for any `n`, in f64 from the quarter-wave table (for the autocorrelation).
pub(crate) fn cos512(n: usize) -> f64 {
    let n = n % 512;
    match n {
        0..=128 => COS_512_QUARTER[n],
        129..=256 => -COS_512_QUARTER[256 - n],
        257..=384 => -COS_512_QUARTER[n - 256],
        _ => COS_512_QUARTER[512 - n],
    }
}

/// A complex number.
#[derive(Clone, Copy, Debug, Default)]
struct Cpx {
    re: f32,
    im: f32,
}

impl Cpx {
    fn mul(self, o: Cpx) -> Cpx {
        Cpx {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
}

/// `exp(-2 pi i m / 512)`, `m < 512`.
fn w512(m: usize) -> Cpx {
    Cpx {
        re: COS_512[m],
        im: -COS_512[(m + 384) % 512],
    }
}

/// `exp(-2 pi i m / 576)`, `m < 576`.
fn w576(m: usize) -> Cpx {
    Cpx {
        re: COS_576[m],
        im: -COS_576[(m + 432) % 576],
    }
}

/// Power spectrum `|X[k]|^2`, k = 0..=256, of the real sequence `x` (zero-padded to 512).
pub(crate) fn power_spectrum_512(x: &[f32], out: &mut [f32; 257]) {
    const M: usize = 256;
    // Pack even samples as real parts and odd samples as imaginary parts.
    let mut z = [Cpx::default(); M];
    for (k, pair) in x.chunks(2).take(M).enumerate() {
        z[k] = Cpx {
            re: pair[0],
            im: pair.get(1).copied().unwrap_or(0.0),
        };
    }
    fft256(&mut z);
    split_real(&z, out, w512);
}

/// Recover the power spectrum of a real 2M-point sequence from the M-point transform `z` of its
/// even/odd packing: `X[k] = E[k] + W^k O[k]`.
fn split_real(z: &[Cpx], out: &mut [f32], w: fn(usize) -> Cpx) {
    let m = z.len();
    for (k, o) in out.iter_mut().enumerate() {
        let a = z[k % m];
        let b = z[(m - k) % m];
        let (er, ei) = (0.5 * (a.re + b.re), 0.5 * (a.im - b.im));
        let (or_, oi) = (0.5 * (a.im + b.im), 0.5 * (b.re - a.re));
        let t = w(k);
        let xr = er + (or_ * t.re - oi * t.im);
        let xi = ei + (or_ * t.im + oi * t.re);
        *o = xr * xr + xi * xi;
    }
}

/// In-place forward 256-point complex FFT (radix 2, decimation in time).
fn fft256(z: &mut [Cpx; 256]) {
    for i in 0..256 {
        let j = (i as u8).reverse_bits() as usize;
        if j > i {
            z.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= 256 {
        let step = 512 / len; // W_len^m = W_512^(m * step)
        for start in (0..256).step_by(len) {
            for m in 0..len / 2 {
                let t = z[start + m + len / 2].mul(w512(m * step));
                let u = z[start + m];
                z[start + m] = Cpx {
                    re: u.re + t.re,
                    im: u.im + t.im,
                };
                z[start + m + len / 2] = Cpx {
                    re: u.re - t.re,
                    im: u.im - t.im,
                };
            }
        }
        len <<= 1;
    }
}

/// Forward DFT of `out.len()` (a product of 2s and 3s dividing 576) elements of `x` taken with
/// `stride`, by recursive decimation in time.
fn dft_mixed(x: &[Cpx], stride: usize, out: &mut [Cpx]) {
    let n = out.len();
    if n == 1 {
        out[0] = x[0];
        return;
    }
    let p = if n.is_multiple_of(2) { 2 } else { 3 };
    let m = n / p;
    for j in 0..p {
        dft_mixed(&x[j * stride..], stride * p, &mut out[j * m..(j + 1) * m]);
    }
    let scale = 576 / n;
    if p == 2 {
        for k in 0..m {
            let t = out[m + k].mul(w576(k * scale));
            let u = out[k];
            out[k] = Cpx {
                re: u.re + t.re,
                im: u.im + t.im,
            };
            out[m + k] = Cpx {
                re: u.re - t.re,
                im: u.im - t.im,
            };
        }
    } else {
        // Radix 3 with W3 = -1/2 - i sqrt(3)/2.
        let (c, s) = (COS_576[192], -COS_576[(192 + 432) % 576]);
        for k in 0..m {
            let a = out[k];
            let b = out[m + k].mul(w576(k * scale));
            let d = out[2 * m + k].mul(w576(2 * k * scale));
            let (sr, si) = (b.re + d.re, b.im + d.im);
            let (dr, di) = (b.re - d.re, b.im - d.im);
            out[k] = Cpx {
                re: a.re + sr,
                im: a.im + si,
            };
            let (mr, mi) = (a.re + c * sr, a.im + c * si);
            // s * i * (b - d) with s = -sin(2 pi / 3)
            out[m + k] = Cpx {
                re: mr - s * di,
                im: mi + s * dr,
            };
            out[2 * m + k] = Cpx {
                re: mr + s * di,
                im: mi - s * dr,
            };
        }
    }
}

/// Power spectrum `|X[k]|^2`, k = 0..=288, of 576 real samples.
pub(crate) fn power_spectrum_576(x: &[f32; 576], out: &mut [f32; 289]) {
    const M: usize = 288;
    let mut z = [Cpx::default(); M];
    for (zk, pair) in z.iter_mut().zip(x.chunks_exact(2)) {
        *zk = Cpx {
            re: pair[0],
            im: pair[1],
        };
    }
    let mut zt = [Cpx::default(); M];
    dft_mixed(&z, 1, &mut zt);
    split_real(&zt, out, w576);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_spectrum_576_matches_direct_dft() {
        let mut x = [0f32; 576];
        let mut seed = 777u32;
        for v in &mut x {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *v = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        }
        let mut got = [0f32; 289];
        power_spectrum_576(&x, &mut got);
        for k in [0usize, 1, 5, 96, 144, 200, 287, 288] {
            let (mut r, mut i) = (0f64, 0f64);
            for (n, &v) in x.iter().enumerate() {
                let ang = 2.0 * core::f64::consts::PI * (k * n) as f64 / 576.0;
                r += f64::from(v) * libm::cos(ang);
                i -= f64::from(v) * libm::sin(ang);
            }
            let want = r * r + i * i;
            assert!(
                (f64::from(got[k]) - want).abs() < 1e-4 * (1.0 + want),
                "k={k}"
            );
        }
    }

    #[test]
    fn matches_direct_dft() {
        let mut x = [0f32; 448];
        let mut seed = 12345u32;
        for v in &mut x {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *v = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        }
        let mut got = [0f32; 257];
        power_spectrum_512(&x, &mut got);
        for k in [0usize, 1, 7, 100, 128, 255, 256] {
            let (mut r, mut i) = (0f64, 0f64);
            for (n, &v) in x.iter().enumerate() {
                let ang = 2.0 * core::f64::consts::PI * (k * n) as f64 / 512.0;
                r += f64::from(v) * libm::cos(ang);
                i -= f64::from(v) * libm::sin(ang);
            }
            let want = r * r + i * i;
            assert!(
                (f64::from(got[k]) - want).abs() < 1e-4 * (1.0 + want),
                "k={k}"
            );
        }
    }
}
