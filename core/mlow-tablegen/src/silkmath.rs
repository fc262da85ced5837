//! The SILK fixed-point helpers (log2 / exp2 approximations and the Q15 sigmoid) that the MLow
//! reference uses to build its generated pulse tables, plus the integer CDF normalisers.
//! Everything here is integer arithmetic with the reference's 32-bit wrap-around.

/// SILK `silk_SMULBB`: product of the low 16 bits of both operands.
fn mul_bb(a: i32, b: i32) -> i32 {
    i32::from(a as i16).wrapping_mul(i32::from(b as i16))
}

/// SILK `silk_SMLAWB`: `a + (b * low16(c)) >> 16`.
fn mla_wb(a: i32, b: i32, c: i32) -> i32 {
    (i64::from(a) + ((i64::from(b) * i64::from(c as i16)) >> 16)) as i32
}

/// Approximate `128 * log2(x)` for `x > 0` (SILK `silk_lin2log`).
pub fn lin2log(x: i32) -> i32 {
    let lz = (x as u32).leading_zeros() as i32;
    let frac_q7 = ((x as u32).rotate_right(((24 - lz) & 31) as u32) & 0x7f) as i32;
    mla_wb(frac_q7, frac_q7.wrapping_mul(128 - frac_q7), 179).wrapping_add((31 - lz) << 7)
}

/// Approximate `2^(x / 128)` (SILK `silk_log2lin`), saturating.
pub fn log2lin(x_q7: i32) -> i32 {
    if x_q7 < 0 {
        return 0;
    }
    if x_q7 >= 3967 {
        return i32::MAX;
    }
    let whole = 1i32 << (x_q7 >> 7);
    let frac_q7 = x_q7 & 0x7f;
    let corr = mla_wb(frac_q7, mul_bb(frac_q7, 128 - frac_q7), -174);
    if x_q7 < 2048 {
        whole.wrapping_add(whole.wrapping_mul(corr) >> 7)
    } else {
        whole.wrapping_add((whole >> 7).wrapping_mul(corr))
    }
}

/// Piecewise-linear sigmoid, Q5 in, Q15 out (SILK `silk_sigm_Q15`).
pub fn sigm_q15(x_q5: i32) -> i32 {
    const SLOPE_Q10: [i32; 6] = [237, 153, 73, 30, 12, 7];
    const POS_Q15: [i32; 6] = [16384, 23955, 28861, 31213, 32178, 32548];
    const NEG_Q15: [i32; 6] = [16384, 8812, 3906, 1554, 589, 219];
    let mag = x_q5.unsigned_abs() as i32;
    if mag >= 6 * 32 {
        return if x_q5 < 0 { 0 } else { 32767 };
    }
    let seg = (mag >> 5) as usize;
    let step = mul_bb(SLOPE_Q10[seg], mag & 0x1f);
    if x_q5 < 0 {
        NEG_Q15[seg] - step
    } else {
        POS_Q15[seg] + step
    }
}

/// Normalise non-negative weights into a cumulative table topping out just below 32767; every
/// symbol gets at least one count.
pub fn pdf_to_cmf(pdf: &[i32]) -> Vec<u16> {
    let n = pdf.len() as i64;
    let total: i64 = pdf.iter().map(|&p| i64::from(p)).sum();
    assert!(total > 0, "pdf_to_cmf: empty distribution");
    let mut cmf = vec![0u16; pdf.len() + 1];
    for (i, &p) in pdf.iter().enumerate() {
        let step = i64::from(p) * (32767 - n) / total + 1;
        cmf[i + 1] = (i64::from(cmf[i]) + step) as u16;
    }
    cmf
}

/// Expand a byte "dcmf" (square-root-compressed probabilities) into a cumulative table: weight
/// `min((d + 1)^2, 65535)`, normalised like [`pdf_to_cmf`].
pub fn dcmf_to_cmf(dcmf: &[u8]) -> Vec<u16> {
    let w: Vec<i32> = dcmf
        .iter()
        .map(|&d| ((i32::from(d) + 1) * (i32::from(d) + 1)).min(65535))
        .collect();
    pdf_to_cmf(&w)
}

const LOG2_E_Q15: i32 = 47274;
const LOG2_2PI_Q14: i32 = 43442;

/// Stirling's approximation of `log2(n!)` in the reference's mixed Q format.
fn stirling(n: i32) -> i32 {
    if n == 0 {
        return 0;
    }
    ((n << 1) + 1)
        .wrapping_mul(lin2log(n) << 7)
        .wrapping_sub(LOG2_E_Q15.wrapping_mul(n))
        .wrapping_add(LOG2_2PI_Q14)
        .wrapping_add(LOG2_E_Q15 / (12 * n))
}

/// Relative probability (Q30 scale) that `n` pulses split as `k` | `n - k` between two halves.
fn split_weight(k: i32, n: i32) -> Result<i32, String> {
    let e = stirling(n)
        .wrapping_sub(stirling(k))
        .wrapping_sub(stirling(n - k))
        .wrapping_sub(n.wrapping_mul(1 << 15));
    if e == 0 {
        return Ok(1 << 30);
    }
    let lin = log2lin((-e) >> 8);
    if lin == 0 {
        return Err(format!("split weight underflow at k={k} n={n}"));
    }
    Ok((1 << 30) / lin)
}

/// Most pulses one subframe can hold.
pub const MAX_PULSES_PER_SUBFRAME: i32 = 40;

/// The split CDF for `n` total pulses: symbols `k - lo` for `k` in
/// `lo = max(n - 2 * MAX, 0) ..= n - lo`.
pub fn split_cmf(n: i32) -> Result<Vec<u16>, String> {
    let lo = (n - 2 * MAX_PULSES_PER_SUBFRAME).max(0);
    let w = (lo..=n - lo)
        .map(|k| split_weight(k, n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(pdf_to_cmf(&w))
}

/// The run-length CDF for `pulses` remaining pulses over `max_samples` positions: the probability
/// that the next pulse sits `m` positions further, from a geometric model reshaped by a sigmoid of
/// the pulse density.
pub fn runlen_cmf(max_samples: i32, pulses: i32) -> Vec<u16> {
    const ONE_Q31: i64 = 1 << 31;
    const CAP_Q31: i64 = 2_147_376_274; // 0.99995
    const SIGM_BIAS_Q5: i32 = 146;
    const SCALE_MAX_Q15: i32 = 36000;
    const SCALE_MIN_Q15: i32 = 26000;
    let ms = max_samples;
    let mut p_longer = ONE_Q31;
    let mut pdf = vec![0i32; ms as usize];
    // The density term depends only on (ms, pulses).
    let density_q7 = if pulses > ms {
        lin2log((pulses << 10) / ms) - 10 * 128
    } else {
        -(lin2log((ms << 10) / pulses) - 10 * 128)
    };
    let scale_q15 = SCALE_MAX_Q15
        - (((SCALE_MAX_Q15 - SCALE_MIN_Q15) * sigm_q15((density_q7 >> 2) + SIGM_BIAS_Q5)) >> 15);
    for (slot, gap) in pdf.iter_mut().zip(1..=ms) {
        let stay = ONE_Q31 - ONE_Q31 / i64::from(ms - gap + 1);
        let mut none = stay;
        for _ in 1..pulses {
            none = (none * stay) >> 31;
        }
        let mut here = (ONE_Q31 - none).min(CAP_Q31);
        let log_miss = lin2log((ONE_Q31 - here) as i32) - 31 * 128;
        here = ONE_Q31
            - i64::from(log2lin(
                ((scale_q15.wrapping_mul(log_miss)) >> 15) + 31 * 128,
            ));
        here = here.min(CAP_Q31);
        *slot = ((p_longer * here) >> 31) as i32;
        p_longer = (p_longer * (ONE_Q31 - here)) >> 31;
    }
    pdf_to_cmf(&pdf)
}
