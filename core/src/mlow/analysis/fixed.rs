//! The handful of SILK fixed-point operations the VAD and the NLSF search are specified in.
//!
//! Names follow the SILK macro they reproduce (lower-cased), because the reference behaviour is
//! defined by exactly those roundings and truncations; the bodies are ours. "W" operands are 32-bit,
//! "B" operands are the low 16 bits of a 32-bit value, taken as signed.

/// Low 16 bits of `x`, sign-extended.
#[inline]
fn lo16(x: i32) -> i64 {
    i64::from(x as i16)
}

/// `(a * lo16(b)) >> 16`.
#[inline]
pub(crate) fn smulwb(a: i32, b: i32) -> i32 {
    ((i64::from(a) * lo16(b)) >> 16) as i32
}

/// `a + ((b * lo16(c)) >> 16)`, wrapping like the 32-bit original.
#[inline]
pub(crate) fn smlawb(a: i32, b: i32, c: i32) -> i32 {
    a.wrapping_add(smulwb(b, c))
}

/// `(a * b) >> 16` with a 64-bit product.
#[inline]
pub(crate) fn smulww(a: i32, b: i32) -> i32 {
    ((i64::from(a) * i64::from(b)) >> 16) as i32
}

/// `a + ((b * c) >> 16)` with a 64-bit product, wrapping the sum.
#[inline]
pub(crate) fn smlaww(a: i32, b: i32, c: i32) -> i32 {
    a.wrapping_add(smulww(b, c))
}

/// `lo16(a) * lo16(b)`.
#[inline]
pub(crate) fn smulbb(a: i32, b: i32) -> i32 {
    (lo16(a) * lo16(b)) as i32
}

/// `a + lo16(b) * lo16(c)`, wrapping.
#[inline]
pub(crate) fn smlabb(a: i32, b: i32, c: i32) -> i32 {
    a.wrapping_add(smulbb(b, c))
}

/// Sum of two non-negative values, saturating at `i32::MAX`.
#[inline]
pub(crate) fn add_pos_sat32(a: i32, b: i32) -> i32 {
    let s = (a as u32).wrapping_add(b as u32);
    if s & 0x8000_0000 != 0 {
        i32::MAX
    } else {
        s as i32
    }
}

/// Clamp to the 16-bit range.
#[inline]
pub(crate) fn sat16(a: i32) -> i32 {
    a.clamp(i32::from(i16::MIN), i32::from(i16::MAX))
}

/// Arithmetic right shift by `shift >= 1` with rounding half up.
#[inline]
pub(crate) fn rshift_round(a: i32, shift: u32) -> i32 {
    if shift == 1 {
        (a >> 1) + (a & 1)
    } else {
        ((a >> (shift - 1)) + 1) >> 1
    }
}

/// Leading-zero count and the 7 bits that follow the leading one (`CLZ_FRAC`).
#[inline]
fn clz_frac(x: i32) -> (i32, i32) {
    let lz = (x as u32).leading_zeros() as i32;
    // Rotating right by (24 - lz) brings the 7 bits after the leading one to the bottom; for values
    // below 2^7 that is a left rotation, which fills with the (zero) top bits.
    let rot = (24 - lz).rem_euclid(32) as u32;
    (lz, ((x as u32).rotate_right(rot) & 0x7f) as i32)
}

/// Approximate `128 * log2(x)` for `x > 0` (`lin2log`).
#[inline]
pub(crate) fn lin2log(x: i32) -> i32 {
    let (lz, frac) = clz_frac(x);
    let corr = smlawb(frac, frac.wrapping_mul(128 - frac), 179);
    corr + ((31 - lz) << 7)
}

/// Approximate square root (`SQRT_APPROX`); 0 for `x <= 0`.
#[inline]
pub(crate) fn sqrt_approx(x: i32) -> i32 {
    if x <= 0 {
        return 0;
    }
    let (lz, frac) = clz_frac(x);
    // 46214 = sqrt(2) * 32768: odd/even leading-zero counts start from 1 or sqrt(2).
    let y = if lz & 1 == 1 { 32768 } else { 46214 } >> (lz >> 1);
    smlawb(y, y, smulbb(213, frac))
}

/// Piecewise-linear logistic function, input Q5, output Q15 (`sigm_Q15`).
pub(crate) fn sigm_q15(x_q5: i32) -> i32 {
    const SLOPE_Q10: [i32; 6] = [237, 153, 73, 30, 12, 7];
    const ABOVE_Q15: [i32; 6] = [16384, 23955, 28861, 31213, 32178, 32548];
    const BELOW_Q15: [i32; 6] = [16384, 8812, 3906, 1554, 589, 219];
    let mag = x_q5.unsigned_abs();
    if mag >= 6 * 32 {
        return if x_q5 < 0 { 0 } else { 32767 };
    }
    let seg = (mag >> 5) as usize;
    let step = smulbb(SLOPE_Q10[seg], (mag & 0x1f) as i32);
    if x_q5 < 0 {
        BELOW_Q15[seg] - step
    } else {
        ABOVE_Q15[seg] + step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lin2log_is_close_to_128_log2() {
        for x in [1, 2, 3, 100, 255, 256, 1000, 65535, 1 << 20, i32::MAX] {
            let want = 128.0 * libm::log2(f64::from(x));
            assert!((f64::from(lin2log(x)) - want).abs() < 1.5, "x={x}");
        }
    }

    #[test]
    fn sqrt_approx_is_close() {
        for x in [1, 4, 100, 12345, 1 << 20, 1 << 30] {
            let want = libm::sqrt(f64::from(x));
            let got = f64::from(sqrt_approx(x));
            assert!(
                (got - want).abs() <= 0.05 * want + 1.0,
                "x={x} got {got} want {want}"
            );
        }
    }

    #[test]
    fn sigmoid_is_monotone_and_saturates() {
        let mut last = -1;
        for x in -300..300 {
            let y = sigm_q15(x);
            // The table's segments meet with a step of at most 2 (at -5 in Q5).
            assert!(y >= last - 2, "x={x}");
            last = y;
        }
        assert_eq!(sigm_q15(-192), 0);
        assert_eq!(sigm_q15(192), 32767);
        assert_eq!(sigm_q15(0), 16384);
    }
}
