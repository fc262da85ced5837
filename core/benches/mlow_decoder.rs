//! The whole MLow decoder per 60 ms packet over the 110 packets of the shared inbound stream,
//! against the bare parameter decode of the same packets in the same run (the integer layer
//! alone), plus concealment of a lost 60 ms packet.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wacall_core::mlow::Decoder;
use wacall_core::mlow::params::{EndpointRule, PacketParams, decode_packet};

fn packets() -> Option<Vec<Vec<u8>>> {
    wacall_testkit::shared_hex_array("mlow bench", "mlow/inbound_capture_frames.json")
}

fn bench(c: &mut Criterion) {
    let Some(packets) = packets() else { return };
    let mut g = c.benchmark_group("mlow decode per 60 ms packet");
    g.throughput(Throughput::Elements(1));
    let mut params = PacketParams::new();
    let mut k = 0usize;
    g.bench_function("parameter decode only (baseline)", |b| {
        b.iter(|| {
            k = (k + 1) % packets.len();
            decode_packet(black_box(&packets[k]), EndpointRule::Reference, &mut params).unwrap();
        })
    });
    let mut dec = Box::new(Decoder::new());
    let mut pcm = [0i16; 960];
    let mut k = 0usize;
    g.bench_function("full decode to PCM", |b| {
        b.iter(|| {
            k = (k + 1) % packets.len();
            dec.decode(black_box(&packets[k]), &mut pcm).unwrap();
            pcm[0]
        })
    });
    let mut k = 0usize;
    g.bench_function("concealment (every 4th packet lost)", |b| {
        b.iter(|| {
            k = (k + 1) % packets.len();
            if k.is_multiple_of(4) {
                dec.decode_lost(&mut pcm);
            } else {
                dec.decode(black_box(&packets[k]), &mut pcm).unwrap();
            }
            pcm[0]
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
