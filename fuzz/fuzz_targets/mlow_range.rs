//! Arbitrary bytes as a script of range-coder operations: whatever the encoder accepts, the
//! decoder must read back unchanged from the finished buffer; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::mlow::range::{Decoder, Encoder};

#[derive(Clone, Copy)]
enum Op {
    Cdf(usize),
    Window(usize, usize, usize),
    Uniform(u32, u32),
    Bits(u32, u32),
    Logp(bool, u32),
    Uint(u32, u32),
}

const CDF: [u16; 9] = [3, 10, 50, 51, 400, 1000, 1001, 9000, 32000];

fn script(data: &[u8]) -> Vec<Op> {
    data.chunks_exact(4)
        .map(|c| {
            let (a, b) = (u32::from(c[1]), u32::from(c[2]) | (u32::from(c[3]) << 8));
            match c[0] % 6 {
                0 => Op::Cdf(a as usize % 8),
                1 => {
                    let start = a as usize % 7;
                    let len = 2 + (b as usize % (9 - start - 1));
                    Op::Window(b as usize % (len - 1), start, len)
                }
                2 => {
                    let ft = 2 + b % 60000;
                    Op::Uniform(a * 257 % ft, ft)
                }
                3 => {
                    let n = 1 + a % 25;
                    Op::Bits(b & ((1 << n.min(16)) - 1), n)
                }
                4 => Op::Logp(b & 1 == 1, 1 + a % 15),
                _ => {
                    let ft = 2 + (b << 8 | a);
                    Op::Uint((a * 7919 + b) % ft, ft)
                }
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let ops = script(data);
    let mut buf = [0u8; 2048];
    let mut e = Encoder::new(&mut buf);
    for &op in &ops {
        match op {
            Op::Cdf(s) => e.cdf(s, &CDF),
            Op::Window(s, start, len) => e.cdf_window(s, &CDF, start, len),
            Op::Uniform(v, ft) => e.uniform(v, ft),
            Op::Bits(v, n) => e.bits(v, n),
            Op::Logp(one, logp) => e.bit_logp(one, logp),
            Op::Uint(v, ft) => e.uint(v, ft),
        }
    }
    if e.done().is_err() {
        return;
    }
    let mut d = Decoder::new(&buf);
    for &op in &ops {
        let ok = match op {
            Op::Cdf(s) => d.cdf(&CDF) == s,
            Op::Window(s, start, len) => d.cdf_window(&CDF, start, len) == s,
            Op::Uniform(v, ft) => d.uniform(ft) == v,
            Op::Bits(v, n) => d.bits(n) == v,
            Op::Logp(one, logp) => d.bit_logp(logp) == one,
            Op::Uint(v, ft) => d.uint(ft) == v,
        };
        assert!(ok, "round trip differs");
    }
    assert!(!d.error());
});
