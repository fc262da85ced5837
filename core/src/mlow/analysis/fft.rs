//! Real FFTs for power spectra: 512 points (LPC window; a 256-point radix-2 complex transform plus
//! the usual split) and 576 points (perceptual model; a 288-point mixed radix-2/3 transform).

use super::tables::{COS_512_QUARTER, COS_576_QUARTER};

/// `cos(2 pi n / 512)` for any `n`, from the quarter-wave table.
pub(crate) fn cos512(n: usize) -> f64 {
    let n = n % 512;
    match n {
        0..=128 => COS_512_QUARTER[n],
        129..=256 => -COS_512_QUARTER[256 - n],
        257..=384 => -COS_512_QUARTER[n - 256],
        _ => COS_512_QUARTER[512 - n],
    }
}

/// `sin(2 pi n / 512)` for any `n`.
pub(crate) fn sin512(n: usize) -> f64 {
    cos512(n % 512 + 384)
}

const N: usize = 512;
const HALF: usize = N / 2;

/// Power spectrum `|X[k]|^2`, k = 0..=256, of the real sequence `x` (zero-padded to 512).
pub(crate) fn power_spectrum_512(x: &[f32], out: &mut [f32; HALF + 1]) {
    // Pack even samples as real parts and odd samples as imaginary parts.
    let mut re = [0f32; HALF];
    let mut im = [0f32; HALF];
    for (k, pair) in x.chunks(2).take(HALF).enumerate() {
        re[k] = pair[0];
        im[k] = pair.get(1).copied().unwrap_or(0.0);
    }
    fft256(&mut re, &mut im);
    // Split: X[k] = E[k] + W^k O[k] with E, O the transforms of the even and odd samples.
    for (k, o) in out.iter_mut().enumerate() {
        let (zr, zi) = (re[k % HALF], im[k % HALF]);
        let (cr, ci) = (re[(HALF - k) % HALF], -im[(HALF - k) % HALF]);
        let (er, ei) = (0.5 * (zr + cr), 0.5 * (zi + ci));
        // O = (Z - conj Z') / 2i
        let (dr, di) = (zr - cr, zi - ci);
        let (or_, oi) = (0.5 * di, -0.5 * dr);
        let (wr, wi) = (cos512(k) as f32, -sin512(k) as f32);
        let xr = er + wr * or_ - wi * oi;
        let xi = ei + wr * oi + wi * or_;
        *o = xr * xr + xi * xi;
    }
}

/// In-place forward 256-point complex FFT (decimation in time).
fn fft256(re: &mut [f32; HALF], im: &mut [f32; HALF]) {
    // Bit-reversal permutation.
    for i in 0..HALF {
        let j = (i as u8).reverse_bits() as usize;
        if j > i {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= HALF {
        let step = N / len; // twiddle W_len^m = W_512^(m * step)
        for start in (0..HALF).step_by(len) {
            for m in 0..len / 2 {
                let (wr, wi) = (cos512(m * step) as f32, -sin512(m * step) as f32);
                let (a, b) = (start + m, start + m + len / 2);
                let tr = wr * re[b] - wi * im[b];
                let ti = wr * im[b] + wi * re[b];
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        len <<= 1;
    }
}

/// `cos(2 pi n / 576)` for any `n`, from the quarter-wave table.
pub(crate) fn cos576(n: usize) -> f64 {
    let n = n % 576;
    match n {
        0..=144 => COS_576_QUARTER[n],
        145..=288 => -COS_576_QUARTER[288 - n],
        289..=432 => -COS_576_QUARTER[n - 288],
        _ => COS_576_QUARTER[576 - n],
    }
}

/// `sin(2 pi n / 576)` for any `n`.
fn sin576(n: usize) -> f64 {
    cos576(n % 576 + 432)
}

/// A complex number for the mixed-radix transform.
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

    /// `exp(-2 pi i e / n)` for `n` dividing 576.
    fn twiddle(e: usize, n: usize) -> Cpx {
        let m = e * (576 / n);
        Cpx {
            re: cos576(m) as f32,
            im: -sin576(m) as f32,
        }
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
    for k in 0..m {
        let mut t = [Cpx::default(); 3];
        for (j, tj) in t.iter_mut().enumerate().take(p) {
            *tj = out[j * m + k].mul(Cpx::twiddle(j * k, n));
        }
        for q in 0..p {
            let mut acc = t[0];
            for (j, tj) in t.iter().enumerate().take(p).skip(1) {
                let v = tj.mul(Cpx::twiddle((j * q) % p, p));
                acc.re += v.re;
                acc.im += v.im;
            }
            out[k + q * m] = acc;
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
    for (k, o) in out.iter_mut().enumerate() {
        let a = zt[k % M];
        let b = zt[(M - k) % M];
        let (er, ei) = (0.5 * (a.re + b.re), 0.5 * (a.im - b.im));
        let (or_, oi) = (0.5 * (a.im + b.im), 0.5 * (b.re - a.re));
        let w = Cpx::twiddle(k, 576);
        let xr = er + (or_ * w.re - oi * w.im);
        let xi = ei + (or_ * w.im + oi * w.re);
        *o = xr * xr + xi * xi;
    }
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
        let mut got = [0f32; HALF + 1];
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
