//! MLow's runtime tables, expanded from the three table seeds by `wacall-mlow-tablegen` (see
//! `PROVENANCE.md` beside this file). The three submodules are generated; do not edit them.
//!
//! CDFs are cumulative `u16` tables with one more entry than symbols, consumed by
//! [`crate::mlow::range::Decoder::cdf`]. Tables of varying length are stored back to back with an
//! offset table (`*_AT`).

#[allow(clippy::approx_constant, clippy::excessive_precision)]
#[rustfmt::skip]
pub mod cc;
#[allow(clippy::approx_constant, clippy::excessive_precision)]
#[rustfmt::skip]
pub mod lsf;
#[allow(clippy::approx_constant, clippy::excessive_precision)]
#[rustfmt::skip]
pub mod pitch;

/// Stage-2 CDF of one LSF coefficient: `[voiced][low_rate][centroid (16 = conditional)][k]`.
pub fn st2_cdf(voiced: usize, low_rate: usize, centroid: usize, k: usize) -> &'static [u16] {
    let at = usize::from(lsf::ST2_CDF_AT[voiced][low_rate][centroid][k]);
    let n = usize::from(lsf::ST2_LEVELS[voiced][low_rate][centroid][k]);
    &lsf::ST2_CDF[at..at + n + 1]
}

/// Stage-2 residual values of one LSF coefficient, one per level.
pub fn st2_values(voiced: usize, low_rate: usize, centroid: usize, k: usize) -> &'static [f32] {
    let at = usize::from(lsf::ST2_VALUE_AT[voiced][low_rate][centroid][k]);
    let n = usize::from(lsf::ST2_LEVELS[voiced][low_rate][centroid][k]);
    &lsf::ST2_VALUE[at..at + n]
}

/// The pulse split CDF for `total` pulses (`1..=159`).
pub fn split_cdf(total: usize) -> &'static [u16] {
    let i = total - 1;
    let end = cc::SPLIT_CDF_AT
        .get(i + 1)
        .map_or(cc::SPLIT_CDF.len(), |&e| usize::from(e));
    &cc::SPLIT_CDF[usize::from(cc::SPLIT_CDF_AT[i])..end]
}

/// The run-length CDF for positions bucket `oct` (`1..=20`, `8 * oct` positions) and `left`
/// pulses still to place (`1..=40`).
pub fn runlen_cdf(oct: usize, left: usize) -> &'static [u16] {
    let at = cc::RUNLEN_CDF_AT[oct - 1][left - 1] as usize;
    &cc::RUNLEN_CDF[at..at + 8 * oct + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Word-wise FNV-1a 64 (each value XORed in whole), the checksum the public decoder pins its
    /// expanded pitch tables with.
    fn fnv_words(words: impl IntoIterator<Item = u64>) -> u64 {
        words.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, w| {
            (h ^ w).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    #[test]
    fn pitch_tables_match_published_checksum() {
        use pitch::*;
        let mut w = alloc::vec::Vec::new();
        for c in 0..217 {
            let n = usize::from(CONTOUR_SEGMENTS[c]);
            w.push(n as u64);
            w.extend(CONTOUR_BLOCK[c][..n].iter().map(|&b| u64::from(b)));
            w.extend(CONTOUR_LEN[c][..n].iter().map(|&b| u64::from(b)));
        }
        for t in 0..187 {
            w.extend(TRACK_BLOCK[t].iter().map(|&b| u64::from(b)));
            w.push(u64::from(TRACK_MEAN[t].to_bits()));
            w.push(u64::from(TRACK_JUMPS[t].to_bits()));
        }
        w.extend(CONTOUR_ID.iter().map(|&x| u64::from(x)));
        w.extend(CONTOUR_CDF.iter().map(|&x| u64::from(x)));
        w.extend(DELTA_LAG_CDF.iter().flatten().map(|&x| u64::from(x)));
        w.extend(TRACK_IX.iter().flatten().map(|&x| u64::from(x)));
        w.extend(FIRST_BLOCK_RANGE.iter().flatten().map(|&x| u64::from(x)));
        w.extend(BLOCK_TRANSITION_CDF.iter().flatten().map(|&x| u64::from(x)));
        assert_eq!(fnv_words(w), 0x21ce_965d_809c_8048);
    }

    #[test]
    fn lsf_tables_match_published_values() {
        assert_eq!(st2_cdf(1, 0, 0, 0), &[0, 33, 140, 932, 6942, 28552, 32763]);
        assert_eq!(st2_values(1, 0, 0, 0)[0].to_bits(), 0xbf2c_0e76);
        assert_eq!(lsf::CB_HALF[1][0][0].to_bits(), 0x3d93_b440);
        assert_eq!(lsf::WE[1][0][0][0].to_bits(), 0x3e0f_f885);
        assert_eq!(lsf::WIE[1][0][0][0].to_bits(), 0x4062_b10f);
        assert_eq!(lsf::ST1_BITS[1][0].to_bits(), 0x4088_3c1d);
        assert_eq!(lsf::ST2_LEVELS[1][0][0][0], 6);
        // Every stage-2 CDF is strictly increasing (each level has at least one count).
        for v in 0..2 {
            for lr in 0..2 {
                for c in 0..17 {
                    for k in 0..16 {
                        let cdf = st2_cdf(v, lr, c, k);
                        assert!(cdf.windows(2).all(|p| p[0] < p[1]) && cdf[0] == 0);
                    }
                }
            }
        }
    }

    #[test]
    fn generated_pulse_tables_are_well_formed() {
        for n in 1..=159usize {
            let lo = n.saturating_sub(80);
            let cdf = split_cdf(n);
            assert_eq!(cdf.len(), n - 2 * lo + 2, "split {n}");
            assert!(cdf.windows(2).all(|p| p[0] < p[1]) && *cdf.last().unwrap() < 32768);
        }
        for oct in 1..=20 {
            for left in 1..=40 {
                let cdf = runlen_cdf(oct, left);
                assert!(cdf.windows(2).all(|p| p[0] < p[1]), "runlen {oct} {left}");
            }
        }
        // The energy steps the reference documents for 1, 2 and 4 subframes.
        assert_eq!(cc::NRGRES_STEP_Q14, [16384, 19843, 16686]);
    }
}
