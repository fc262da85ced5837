//! Cost of the MLow encoder's analysis front end: one 60 ms packet through the whole chain, against
//! the full decode of a 60 ms packet of the shared inbound stream in the same run (the baseline:
//! the cost every call pays in the other direction), and each stage on its own, on the shared
//! `synth_mic.raw` fixture (voiced and unvoiced packets).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wacall_core::mlow::Decoder;
use wacall_core::mlow::analysis::PACKET_LEN;
use wacall_core::mlow::analysis::analyser::{Analyser, PacketAnalysis};
use wacall_core::mlow::analysis::lpc::{self, LPC_BUF_LEN, SPECTRUM_LEN};
use wacall_core::mlow::analysis::nlsf::a_to_nlsf;
use wacall_core::mlow::analysis::perceptual::{PerceptualModel, WeightedSpeech};
use wacall_core::mlow::analysis::pitch::PitchEstimator;
use wacall_core::mlow::analysis::pitch::PitchTables;
use wacall_core::mlow::analysis::vad::Vad;

fn bench(c: &mut Criterion) {
    let Some(pcm) = wacall_testkit::shared_pcm_blocks::<PACKET_LEN>(
        "mlow_analysis bench",
        "mlow/synth_mic.raw",
    ) else {
        return;
    };
    let tables = PitchTables::builtin();
    // Packets 10..18 mix voiced speech-like and noise-like content; prime the state on 0..10.
    let mut analyser = Analyser::new();
    let mut out = Box::<PacketAnalysis>::default();
    for p in &pcm[..10] {
        analyser
            .analyse_packet(&tables, p, &mut out)
            .expect("tables");
    }
    let set = &pcm[10..18];

    let mut g = c.benchmark_group("mlow analysis per 60 ms packet");
    g.throughput(Throughput::Elements(1));
    if let Some(inbound) =
        wacall_testkit::shared_hex_array("mlow_analysis bench", "mlow/inbound_capture_frames.json")
    {
        let mut dec = Box::new(Decoder::new());
        let mut decoded = [0i16; PACKET_LEN];
        let mut k = 0usize;
        g.bench_function("full decode to PCM (baseline)", |b| {
            b.iter(|| {
                k = (k + 1) % inbound.len();
                dec.decode(black_box(&inbound[k]), &mut decoded)
                    .expect("reference packet");
                decoded[0]
            })
        });
    }
    let mut i = 0;
    g.bench_function("analyse_packet_60ms", |b| {
        b.iter(|| {
            analyser
                .analyse_packet(&tables, black_box(&set[i % set.len()]), &mut out)
                .expect("tables");
            i += 1;
        })
    });
    g.finish();

    let mut vad = Vad::new();
    c.bench_function("vad_packet_60ms", |b| {
        b.iter(|| black_box(vad.process_packet(black_box(&set[0]))))
    });

    let buf = *analyser.signal().frame_buffer(0);
    c.bench_function("lpc_frame_20ms", |b| {
        b.iter(|| {
            let mut w = [0f32; LPC_BUF_LEN];
            lpc::window(black_box(&buf), true, &mut w);
            let mut s = [0f32; SPECTRUM_LEN];
            black_box(lpc::analyse(&w, &mut s))
        })
    });

    let a = out.frames[0].lpc.a;
    c.bench_function("a_to_nlsf_frame_20ms", |b| {
        b.iter(|| black_box(a_to_nlsf(black_box(&a))))
    });

    let mut model = PerceptualModel::new();
    let mut weighted = WeightedSpeech::new();
    c.bench_function("perceptual_and_weighted_frame_20ms", |b| {
        b.iter(|| {
            let mut corrs = [[0f32; 33]; 4];
            model.frame_correlations(analyser.signal(), 1, &mut corrs);
            weighted.push_frame(analyser.signal(), 1, &corrs);
        })
    });

    let ltp = *analyser.weighted_speech().buffer();
    let spectrum = out.frames[2].spectrum;
    let mut est = PitchEstimator::new();
    c.bench_function("pitch_frame_20ms", |b| {
        b.iter(|| {
            est.reset_predictor();
            black_box(est.estimate(&tables, black_box(&ltp), &spectrum, true))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
