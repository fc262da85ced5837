//! The FNV-1a digest an independent implementation (whatsapp-rust,
//! `pitch_seed_build_golden_checksum`) publishes over its expansion of the MLow pitch ROM
//! (`pitch_seed.bin`), computed here over the codec's generated tables as the estimator sees them
//! ([`PitchTables::builtin`]) plus all three delta-lag tables.
#![allow(dead_code)]

use wacall_core::mlow::analysis::pitch::PitchTables;
use wacall_core::mlow::tables::pitch::DELTA_LAG_CDF;

/// The digest whatsapp-rust computes over its expanded tables, field by field in its order.
pub fn reference_digest(t: &PitchTables<'_>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |x: u64| {
        h ^= x;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for s in t.blocksegs {
        let n = usize::from(s.len);
        feed(n as u64);
        s.ranges[..n].iter().for_each(|&b| feed(u64::from(b)));
        s.spans[..n].iter().for_each(|&b| feed(u64::from(b)));
    }
    for &[first, _] in t.track_blocksegs {
        let s = &t.blocksegs[usize::from(first)];
        let (mut mean, mut jumps) = (0f32, 0f32);
        let mut track = Vec::new();
        for k in 0..usize::from(s.len) {
            for _ in 0..s.spans[k] {
                track.push(u64::from(s.ranges[k]));
            }
            mean += f32::from(s.ranges[k]) * f32::from(s.spans[k]);
            if k > 0 {
                jumps += (i32::from(s.ranges[k - 1]) - i32::from(s.ranges[k])).abs() as f32;
            }
        }
        track.iter().for_each(|&v| feed(v));
        feed(u64::from((mean / 8.0).to_bits()));
        feed(u64::from(jumps.to_bits()));
    }
    t.blockseg_symbol.iter().for_each(|&v| feed(u64::from(v)));
    t.blockseg_cdf.iter().for_each(|&v| feed(u64::from(v)));
    for row in &DELTA_LAG_CDF {
        row.iter().for_each(|&v| feed(u64::from(v)));
    }
    for p in t.track_blocksegs.iter().chain(t.first_range_symbols.iter()) {
        feed(u64::from(p[0]));
        feed(u64::from(p[1]));
    }
    for row in t.range_transition_cdf {
        row.iter().for_each(|&v| feed(u64::from(v)));
    }
    h
}
