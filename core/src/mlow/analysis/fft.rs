//! Real FFTs for power spectra: 512 points (LPC window) and 576 points (perceptual model), each a
//! half-length complex transform of the even/odd packing plus the usual split. The complex
//! transforms (256 = 2^8 and 288 = 2^5 * 3^2 points) run in place as decimation-in-time stages
//! on input loaded straight into digit-reversed order (a compile-time permutation), with
//! twiddles from tables built at compile time from the f32 cosine tables: no trigonometry, no
//! index arithmetic modulo the length and no second buffer per call.
//!
//! The radix order and every butterfly's arithmetic are those of the straightforward recursive
//! transforms the front end was pinned with, so the spectra are bit-identical to theirs (and the
//! encoder's packets with them); a radix-4 variant saved a further 40 k instructions per packet
//! but changed roundings, and with them individual packets.
//!
//! Cost (callgrind, x86-64): about 19 k instructions for the 512-point spectrum and 36 k for the
//! 576-point one.
use super::tables::{COS_512, COS_512_QUARTER, COS_576};

/// One period of `cos(2 pi n / 512)` in f64, unfolded at compile time from the quarter-wave table
/// (for the autocorrelation).
pub(crate) const COS_512_F64: [f64; 512] = {
    let mut out = [0f64; 512];
    let mut n = 0;
    while n < 512 {
        out[n] = match n {
            0..=128 => COS_512_QUARTER[n],
            129..=256 => -COS_512_QUARTER[256 - n],
            257..=384 => -COS_512_QUARTER[n - 256],
            _ => COS_512_QUARTER[512 - n],
        };
        n += 1;
    }
    out
};

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

    fn add(self, o: Cpx) -> Cpx {
        Cpx {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }

    fn sub(self, o: Cpx) -> Cpx {
        Cpx {
            re: self.re - o.re,
            im: self.im - o.im,
        }
    }
}

/// `exp(-2 pi i m / len)` for `m = 0..N`, with `cos` one period of `len = N * step` cosines.
const fn twiddles<const N: usize>(cos: &[f32], step: usize) -> [Cpx; N] {
    let len = cos.len();
    let mut out = [Cpx { re: 0.0, im: 0.0 }; N];
    let mut m = 0;
    while m < N {
        let a = m * step;
        // sin(x) = cos(x - pi / 2), i.e. three quarters of a period on.
        out[m] = Cpx {
            re: cos[a],
            im: -cos[(a + 3 * len / 4) % len],
        };
        m += 1;
    }
    out
}

/// `exp(-2 pi i m / 256)`, m = 0..256.
static TW256: [Cpx; 256] = twiddles(&COS_512, 2);
/// `exp(-2 pi i m / 288)`, m = 0..288.
static TW288: [Cpx; 288] = twiddles(&COS_576, 2);
/// `exp(-2 pi i k / 512)`, k = 0..=256, for the real split.
static TW512: [Cpx; 257] = twiddles(&COS_512, 1);
/// `exp(-2 pi i k / 576)`, k = 0..=288, for the real split.
static TW576: [Cpx; 289] = twiddles(&COS_576, 1);

/// Radices of the 256-point transform, outermost decimation first.
const RADICES_256: [usize; 8] = [2; 8];
/// Radices of the 288-point transform, outermost decimation first (halving while even, as the
/// reference-matching recursive transform this replaces did).
const RADICES_288: [usize; 7] = [2, 2, 2, 2, 2, 3, 3];

/// The input order of an in-place decimation-in-time transform: `perm[pos]` is the index of the
/// sample that goes to position `pos` (mixed-radix digit reversal). With `n = n1 + r1 (n2 + r2
/// (n3 + ...))`, sample `n` sits at `n1 N / r1 + n2 N / (r1 r2) + ...`: the sub-sequence of each
/// decimation is one contiguous block, recursively.
const fn digit_reversal<const N: usize>(radices: &[usize]) -> [u16; N] {
    let mut perm = [0u16; N];
    let mut n = 0;
    while n < N {
        let (mut rest, mut block, mut pos) = (n, N, 0);
        let mut i = 0;
        while i < radices.len() {
            block /= radices[i];
            pos += (rest % radices[i]) * block;
            rest /= radices[i];
            i += 1;
        }
        perm[pos] = n as u16;
        n += 1;
    }
    perm
}

static PERM_256: [u16; 256] = digit_reversal(&RADICES_256);
static PERM_288: [u16; 288] = digit_reversal(&RADICES_288);

/// In-place forward complex DFT of `z`, loaded in [`digit_reversal`] order for `radices`, whose
/// product is `N`; `tw` holds `exp(-2 pi i m / N)`. Stages run from the innermost decimation
/// out: a stage of radix `r` over sub-transforms of length `sub` combines, in each block of
/// `r sub` elements, the elements `j sub + k` (twiddled by `W_(r sub)^(j k)`) into outputs
/// `q sub + k`.
fn dit_in_place<const N: usize>(z: &mut [Cpx; N], radices: &[usize], tw: &[Cpx; N]) {
    let mut sub = 1;
    for &r in radices.iter().rev() {
        let len = r * sub;
        let step = N / len; // W_len^e = tw[e * step]
        if r == 3 {
            radix3(z, sub, tw, step);
        } else {
            radix2(z, sub, tw, step);
        }
        sub = len;
    }
}

fn radix3(z: &mut [Cpx], sub: usize, tw: &[Cpx], step: usize) {
    // W3 = c - i s3 with c = cos(2 pi / 3) = -1/2, s3 = sin(2 pi / 3) = cos(pi / 6).
    let (c, s3) = (COS_576[192], COS_576[48]);
    for block in z.chunks_exact_mut(3 * sub) {
        let (b0, rest) = block.split_at_mut(sub);
        let (b1, b2) = rest.split_at_mut(sub);
        for k in 0..sub {
            // Twiddled even at k = 0: the table's W^0 is (1, -cos(3 pi / 2) as f32), not exactly
            // 1, and the results stay bit-identical to the transform this replaced.
            let (a0, a1, a2) = (b0[k], b1[k].mul(tw[k * step]), b2[k].mul(tw[2 * k * step]));
            let (sr, si) = (a1.re + a2.re, a1.im + a2.im);
            let (dr, di) = (a1.re - a2.re, a1.im - a2.im);
            let (mr, mi) = (a0.re + c * sr, a0.im + c * si);
            b0[k] = Cpx {
                re: a0.re + sr,
                im: a0.im + si,
            };
            b1[k] = Cpx {
                re: mr + s3 * di,
                im: mi - s3 * dr,
            };
            b2[k] = Cpx {
                re: mr - s3 * di,
                im: mi + s3 * dr,
            };
        }
    }
}

fn radix2(z: &mut [Cpx], sub: usize, tw: &[Cpx], step: usize) {
    for block in z.chunks_exact_mut(2 * sub) {
        let (b0, b1) = block.split_at_mut(sub);
        for k in 0..sub {
            let (a0, a1) = (b0[k], b1[k].mul(tw[k * step]));
            b0[k] = a0.add(a1);
            b1[k] = a0.sub(a1);
        }
    }
}

/// Power spectrum `|X[k]|^2`, k = 0..=256, of the real sequence `x` (zero-padded to 512).
pub(crate) fn power_spectrum_512(x: &[f32], out: &mut [f32; 257]) {
    const M: usize = 256;
    // Pack even samples as real parts and odd samples as imaginary parts, straight into the
    // transform's input order.
    let sample = |i: usize| x.get(i).copied().unwrap_or(0.0);
    let mut z: [Cpx; M] = core::array::from_fn(|pos| {
        let n = usize::from(PERM_256[pos]);
        Cpx {
            re: sample(2 * n),
            im: sample(2 * n + 1),
        }
    });
    dit_in_place(&mut z, &RADICES_256, &TW256);
    split_real(&z, out, &TW512);
}

/// Recover the power spectrum of a real 2M-point sequence from the M-point transform `z` of its
/// even/odd packing: `X[k] = E[k] + W^k O[k]`, with `w[k] = W^k`, `W = exp(-2 pi i / 2M)`.
fn split_real(z: &[Cpx], out: &mut [f32], w: &[Cpx]) {
    let m = z.len();
    let (out, w) = (&mut out[..=m], &w[..=m]);
    let bin = |a: Cpx, b: Cpx, t: Cpx| {
        let (er, ei) = (0.5 * (a.re + b.re), 0.5 * (a.im - b.im));
        let (or_, oi) = (0.5 * (a.im + b.im), 0.5 * (b.re - a.re));
        let xr = er + (or_ * t.re - oi * t.im);
        let xi = ei + (or_ * t.im + oi * t.re);
        xr * xr + xi * xi
    };
    out[0] = bin(z[0], z[0], w[0]);
    out[m] = bin(z[0], z[0], w[m]);
    for k in 1..m {
        out[k] = bin(z[k], z[m - k], w[k]);
    }
}

/// Power spectrum `|X[k]|^2`, k = 0..=288, of 576 real samples.
pub(crate) fn power_spectrum_576(x: &[f32; 576], out: &mut [f32; 289]) {
    const M: usize = 288;
    let mut z: [Cpx; M] = core::array::from_fn(|pos| {
        let n = usize::from(PERM_288[pos]);
        Cpx {
            re: x[2 * n],
            im: x[2 * n + 1],
        }
    });
    dit_in_place(&mut z, &RADICES_288, &TW288);
    split_real(&z, out, &TW576);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recursive decimation-in-time transform the in-place one replaced: halve while even,
    /// then thirds, every twiddle (including `W^0`) applied by multiplication.
    fn recursive_dft(x: &[Cpx], stride: usize, out: &mut [Cpx], tw: &[Cpx]) {
        let n = out.len();
        if n == 1 {
            out[0] = x[0];
            return;
        }
        let p = if n.is_multiple_of(2) { 2 } else { 3 };
        let m = n / p;
        for j in 0..p {
            recursive_dft(
                &x[j * stride..],
                stride * p,
                &mut out[j * m..(j + 1) * m],
                tw,
            );
        }
        let step = tw.len() / n;
        for k in 0..m {
            if p == 2 {
                let (u, t) = (out[k], out[m + k].mul(tw[k * step]));
                out[k] = u.add(t);
                out[m + k] = u.sub(t);
            } else {
                let a = out[k];
                let b = out[m + k].mul(tw[k * step]);
                let d = out[2 * m + k].mul(tw[2 * k * step]);
                let (c, s) = (COS_576[192], -COS_576[48]);
                let (sr, si, dr, di) = (b.re + d.re, b.im + d.im, b.re - d.re, b.im - d.im);
                let (mr, mi) = (a.re + c * sr, a.im + c * si);
                out[k] = Cpx {
                    re: a.re + sr,
                    im: a.im + si,
                };
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

    fn noise<const N: usize>(seed: u32) -> [Cpx; N] {
        let mut s = seed;
        let mut next = move || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        core::array::from_fn(|_| Cpx {
            re: next(),
            im: next(),
        })
    }

    fn in_place<const N: usize>(
        x: &[Cpx; N],
        radices: &[usize],
        perm: &[u16; N],
        tw: &[Cpx; N],
    ) -> [Cpx; N] {
        let mut z: [Cpx; N] = core::array::from_fn(|pos| x[usize::from(perm[pos])]);
        dit_in_place(&mut z, radices, tw);
        z
    }

    #[test]
    fn in_place_transforms_are_bit_identical_to_the_recursive_ones() {
        let same = |a: &[Cpx], b: &[Cpx]| {
            a.iter()
                .zip(b)
                .all(|(x, y)| x.re.to_bits() == y.re.to_bits() && x.im.to_bits() == y.im.to_bits())
        };
        let x: [Cpx; 288] = noise(99);
        let mut want = [Cpx::default(); 288];
        recursive_dft(&x, 1, &mut want, &TW288);
        let got = in_place(&x, &RADICES_288, &PERM_288, &TW288);
        assert!(same(&got, &want));

        let x: [Cpx; 256] = noise(7);
        let mut want = [Cpx::default(); 256];
        recursive_dft(&x, 1, &mut want, &TW256);
        let got = in_place(&x, &RADICES_256, &PERM_256, &TW256);
        assert!(same(&got, &want));
    }

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
