//! MLow low-band synthesis per 60 ms packet (three voiced 20 ms frames and the harmonic
//! post-filter), with the per-packet share of each stage in the same run.
//!
//! Run: `cargo bench -p wacall-core --bench mlow_synth`. Ratios of interest: `stage/*` against
//! `packet_60ms/synthesis` (what each stage costs of a packet) and the packet time against its
//! 60 ms of real time.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wacall_core::mlow::postfilter::{FRAME_LEN, HarmonicPostfilter, HpPostfilter};
use wacall_core::mlow::synth::{LPC_ORDER, LowBand, SUBFRAMES, SynthFrame, packet_bitrate};

/// A stable order-16 filter (eight resonances) standing in for decoded LPC coefficients.
fn lpc() -> [f32; LPC_ORDER + 1] {
    let mut a = vec![1.0f64];
    for k in 0..8 {
        let (r, w) = (0.95 - 0.04 * k as f64, 0.25 + 0.35 * k as f64);
        let mut next = vec![0.0; a.len() + 2];
        for (i, &v) in a.iter().enumerate() {
            next[i] += v;
            next[i + 1] -= 2.0 * r * w.cos() * v;
            next[i + 2] += r * r * v;
        }
        a = next;
    }
    std::array::from_fn(|i| a[i] as f32)
}

/// About 20 pulses per subframe, a typical voiced density of the reference stream.
fn pulses(frame: usize) -> [i8; FRAME_LEN] {
    std::array::from_fn(|i| match (i * 7 + frame * 3) % 4 {
        0 => 1,
        1 if i % 3 == 0 => -1,
        _ => 0,
    })
}

fn bench(c: &mut Criterion) {
    let coefs = [lpc(); SUBFRAMES];
    let frames: Vec<[i8; FRAME_LEN]> = (0..3).map(pulses).collect();
    let params: Vec<SynthFrame<'_>> = frames
        .iter()
        .map(|p| SynthFrame {
            voiced: true,
            pulses: p,
            fcb_gain_index: [22, 23, 22, 24],
            acb_codebook_q14: [[9000, 2500]; SUBFRAMES],
            block_lags: [105.0, 105.5, 106.0, 106.0, 106.5, 107.0, 107.0, 106.5],
            residual_dbq_q14: [0; SUBFRAMES],
            lpc: &coefs,
            lsf_low: [[0.17, 0.37]; SUBFRAMES],
        })
        .collect();

    let mut band = LowBand::new();
    let mut harmonic = HarmonicPostfilter::new();
    let mut pcm = [0.0f32; 3 * FRAME_LEN];
    let mut lags = [0.0f32; 24];
    c.bench_function("packet_60ms/synthesis", |b| {
        b.iter(|| {
            let mut rates = [0.0f32; 3];
            for (f, p) in params.iter().enumerate() {
                let out: &mut [f32; FRAME_LEN] = (&mut pcm[f * FRAME_LEN..(f + 1) * FRAME_LEN])
                    .try_into()
                    .unwrap();
                rates[f] = band.frame(black_box(p), out);
                lags[f * 8..(f + 1) * 8].copy_from_slice(&p.block_lags);
            }
            harmonic.process(&mut pcm, &lags, packet_bitrate(&rates));
            black_box(&pcm);
        })
    });

    c.bench_function("stage/low_band_3_frames", |b| {
        b.iter(|| {
            for (f, p) in params.iter().enumerate() {
                let out: &mut [f32; FRAME_LEN] = (&mut pcm[f * FRAME_LEN..(f + 1) * FRAME_LEN])
                    .try_into()
                    .unwrap();
                black_box(band.frame(black_box(p), out));
            }
        })
    });

    let mut hp = HpPostfilter::new();
    let mut frame = [0.0f32; FRAME_LEN];
    frame.copy_from_slice(&pcm[..FRAME_LEN]);
    c.bench_function("stage/hp_postfilter_3_frames", |b| {
        b.iter(|| {
            for _ in 0..3 {
                hp.process(black_box(106.0), &mut frame);
            }
            black_box(&frame);
        })
    });

    c.bench_function("stage/harmonic_postfilter_60ms", |b| {
        b.iter(|| {
            harmonic.process(black_box(&mut pcm), &lags, 0.8);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
