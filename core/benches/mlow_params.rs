//! MLow parameter layer over the 110 packets of the shared inbound stream (60 ms each):
//! decode, encode and LSF reconstruction, against a baseline that only runs the range decoder
//! over the same bytes (8-bit uniform symbols until each body is consumed).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wacall_core::mlow::lsf::LsfDecoder;
use wacall_core::mlow::params::{EndpointRule, PacketParams, decode_packet, encode_packet};
use wacall_core::mlow::range::Decoder;

fn packets() -> Option<Vec<Vec<u8>>> {
    wacall_testkit::shared_hex_array("mlow bench", "mlow/inbound_capture_frames.json")
}

fn bench(c: &mut Criterion) {
    let Some(packets) = packets() else { return };
    let mut g = c.benchmark_group("mlow 110 packets");
    g.bench_function("range decoder only (baseline)", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for p in &packets {
                let mut d = Decoder::new(black_box(&p[1..]));
                while d.consumed_bytes() < d.storage() {
                    acc = acc.wrapping_add(d.uniform_bits(8));
                }
            }
            acc
        })
    });
    let mut params = PacketParams::new();
    g.bench_function("decode_packet", |b| {
        b.iter(|| {
            for p in &packets {
                decode_packet(black_box(p), EndpointRule::Reference, &mut params).unwrap();
            }
        })
    });
    let decoded: Vec<PacketParams> = packets
        .iter()
        .map(|p| {
            let mut q = PacketParams::new();
            decode_packet(p, EndpointRule::Reference, &mut q).unwrap();
            q
        })
        .collect();
    let mut buf = [0u8; 512];
    g.bench_function("encode_packet", |b| {
        b.iter(|| {
            for q in &decoded {
                encode_packet(black_box(q), &mut buf).unwrap();
            }
        })
    });
    g.bench_function("lsf reconstruction (330 frames)", |b| {
        b.iter(|| {
            let mut lsf = LsfDecoder::new();
            for q in &decoded {
                for f in q.frames() {
                    black_box(lsf.frame(&f.lsf, f.voiced));
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
