//! Arbitrary PCM (including full-scale extremes and DC) through the MLow encoder, with the
//! settings taken from the first bytes: nothing may panic, and every packet it emits must be
//! accepted by our decoder under the reference decoder's endpoint rule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::mlow::Decoder;
use wacall_core::mlow::encoder::{Config, Encoder, MAX_PACKET_BYTES, PacketDuration};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let config = Config {
        bitrate_bps: 4_000 + u32::from(mode & 0x3f) * 1_000,
        duration: if mode & 0x40 != 0 {
            PacketDuration::Ms20
        } else {
            PacketDuration::Ms60
        },
        dtx: mode & 0x80 != 0,
        ..Config::default()
    };
    let step = match config.duration {
        PacketDuration::Ms20 => 320,
        PacketDuration::Ms60 => 960,
    };
    let mut enc = Encoder::new(config);
    let mut dec = Decoder::new();
    let mut buf = [0u8; MAX_PACKET_BYTES];
    let mut out = [0i16; 960];
    // Up to 12 packets; a short tail is zero-padded. A 2-byte sample pattern repeats, so short
    // inputs make DC and square waves.
    let packets = (data.len() / (2 * step)).clamp(1, 12);
    for p in 0..packets {
        let pcm: Vec<i16> = (0..step)
            .map(|i| {
                let at = (2 * (p * step + i)) % data.len().max(2);
                match data.get(at..at + 2) {
                    Some(b) => i16::from_le_bytes([b[0], b[1]]),
                    None => 0,
                }
            })
            .collect();
        let n = enc.encode(&pcm, &mut buf).expect("right input length");
        if n > 0 {
            let got = dec.decode(&buf[..n], &mut out);
            assert!(got.is_ok(), "packet refused: {got:?}");
        }
    }
});
