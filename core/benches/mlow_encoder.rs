//! Cost of the MLow encoder per 60 ms packet on the shared `synth_mic.raw` fixture, with the
//! analysis front end alone as the in-run baseline (the encoder runs it plus quantisation and the
//! closed-loop excitation search).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wacall_core::mlow::analysis::PACKET_LEN;
use wacall_core::mlow::analysis::analyser::{Analyser, PacketAnalysis};
use wacall_core::mlow::analysis::pitch::PitchTables;
use wacall_core::mlow::encoder::{Config, Encoder, MAX_PACKET_BYTES};

fn bench(c: &mut Criterion) {
    let Some(pcm) =
        wacall_testkit::shared_pcm_blocks::<PACKET_LEN>("mlow_encoder bench", "mlow/synth_mic.raw")
    else {
        return;
    };
    let tables = PitchTables::builtin();
    // Packets 10..18 mix voiced and unvoiced content; the state is primed on 0..10.
    let mut analyser = Analyser::new();
    let mut out = Box::<PacketAnalysis>::default();
    let mut encoder = Box::new(Encoder::new(Config {
        dtx: false,
        ..Config::default()
    }));
    let mut buf = [0u8; MAX_PACKET_BYTES];
    for p in &pcm[..10] {
        analyser
            .analyse_packet(&tables, p, &mut out)
            .expect("tables");
        encoder.encode(p, &mut buf).expect("encode");
    }
    let work = &pcm[10..18];
    let mut g = c.benchmark_group("mlow_encoder");
    g.bench_function("analysis_only_60ms", |b| {
        let mut i = 0;
        b.iter(|| {
            analyser
                .analyse_packet(&tables, &work[i % work.len()], &mut out)
                .expect("tables");
            i += 1;
            black_box(out.frames[0].voiced)
        })
    });
    g.bench_function("encode_60ms", |b| {
        let mut i = 0;
        b.iter(|| {
            let n = encoder
                .encode(&work[i % work.len()], &mut buf)
                .expect("encode");
            i += 1;
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
