//! SRTP protect + unprotect of one 100-byte audio payload (16-byte WhatsApp speech header,
//! 4-byte tag), ours against webrtc-rs's `webrtc-srtp` in the same run. Each iteration uses the
//! next sequence number so that replay checks pass.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wacall_core::keys::SrtpMaster;
use wacall_core::srtp::{Config, SrtpReceiver, SrtpSender};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

const SSRC: u32 = 0x1234_5678;
const KEY: [u8; 16] = [0x3f; 16];
const SALT: [u8; 14] = [0x74; 14];

fn packet(seq: u16) -> [u8; 116] {
    let mut p = [0x5au8; 116];
    p[..16].copy_from_slice(&[
        0x90, 0x78, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0xde, 0xbe, 0, 0,
    ]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("srtp_protect_unprotect_100B");

    let master = SrtpMaster::new(KEY, SALT);
    let mut tx = SrtpSender::new(&master, SSRC, Config::WHATSAPP);
    let mut rx = SrtpReceiver::<1>::new(&master, Config::WHATSAPP);
    rx.add_ssrc(SSRC).unwrap();
    let mut seq = 0u16;
    g.bench_function("wacall", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let mut buf = [0u8; 128];
            buf[..116].copy_from_slice(&packet(seq));
            let n = tx.protect_rtp(&mut buf, 116).unwrap();
            let m = rx.unprotect_rtp(black_box(&mut buf[..n])).unwrap();
            black_box(&buf[..m]);
        })
    });

    let mut wtx = Context::new(
        &KEY,
        &SALT,
        ProtectionProfile::Aes128CmHmacSha1_32,
        None,
        None,
    )
    .unwrap();
    let mut wrx = Context::new(
        &KEY,
        &SALT,
        ProtectionProfile::Aes128CmHmacSha1_32,
        None,
        None,
    )
    .unwrap();
    let mut seq = 0u16;
    g.bench_function("webrtc-srtp", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let p = packet(seq);
            let enc = wtx.encrypt_rtp(&p).unwrap();
            let dec = wrx.decrypt_rtp(black_box(&enc)).unwrap();
            black_box(dec);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("srtp_protect_100B");
    let mut tx = SrtpSender::new(&master, SSRC, Config::WHATSAPP);
    let mut seq = 0u16;
    g.bench_function("wacall", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let mut buf = [0u8; 128];
            buf[..116].copy_from_slice(&packet(seq));
            black_box(tx.protect_rtp(&mut buf, 116).unwrap());
            black_box(&buf);
        })
    });
    let mut wtx = Context::new(
        &KEY,
        &SALT,
        ProtectionProfile::Aes128CmHmacSha1_32,
        None,
        None,
    )
    .unwrap();
    let mut seq = 0u16;
    g.bench_function("webrtc-srtp", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(wtx.encrypt_rtp(&packet(seq)).unwrap());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
