//! Arbitrary datagrams, mic frames and time steps into a running (allocated) media engine.
//!
//! The input is a run of records `[op][len][bytes…]`. `op & 3` picks: 0 a raw datagram, 1 an RTP
//! packet protected by the peer's real SRTP sender first (so fuzzed payloads reach SplitRed, the
//! jitter buffer and the decoder), 2 an RTCP compound protected by the peer's sender, 3 a mic
//! frame filled from the bytes. `op >> 2` advances the clock in milliseconds. Nothing may panic,
//! and the engine must keep producing one playout frame per 20 ms tick.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::keys::{self, CallKey, ParticipantId, SrtpMaster};
use wacall_core::media::codec::InterimCodec;
use wacall_core::media::engine::{AudioFormat, Config, Engine, Input, Output};
use wacall_core::srtp::{self, SrtpSender};
use wacall_core::stun::{self, msg_type};
use wacall_core::time::{Duration, Instant};

const KEY: &[u8] = b"relay-key";
const CALL: &str = "FUZZCALL";

fn drain(e: &mut Engine<InterimCodec, InterimCodec>) -> (u64, Instant) {
    let mut playouts = 0;
    loop {
        match e.poll_output() {
            Output::Playout(pcm) => {
                playouts += 1;
                assert_eq!(pcm.len(), 320);
            }
            Output::Timeout(at) => return (playouts, at),
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let own = ParticipantId::normalize("1@lid").unwrap();
    let peer = ParticipantId::normalize("2@lid").unwrap();
    let key = CallKey::new([1; 32]);
    let cfg = Config {
        call_id: CALL,
        call_key: &key,
        own_id: &own,
        peer_id: &peer,
        relay_token: b"t",
        relay_key: KEY,
        relay_endpoint: "10.0.0.1:3480".parse().unwrap(),
        audio: AudioFormat::default(),
        srtp_tag_len_bytes: 4,
        wall_clock_unix_ms: 0,
        random: [3; 32],
    };
    let mut now = Instant::ZERO;
    let mut e = Box::new(Engine::new(now, &cfg, InterimCodec::new(), InterimCodec::new()).unwrap());
    let mut buf = [0u8; 1600];
    let mut b = stun::Builder::new(
        &mut buf,
        msg_type::ALLOCATE_SUCCESS,
        e.allocate_transaction_id(),
    )
    .unwrap();
    b.integrity(KEY).unwrap();
    let n = b.finish();
    e.handle_input(now, Input::Datagram(&buf[..n]));
    drain(&mut e);
    let peer_ssrc = keys::ssrc(keys::slot::AUDIO, CALL, &peer);
    let mut tx = SrtpSender::new(
        &SrtpMaster::wahkdf(&key, &peer),
        peer_ssrc,
        srtp::Config::WHATSAPP,
    );
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len()) * 5;
        let n = n.min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_millis(u64::from(op >> 2));
        match op & 3 {
            0 => e.handle_input(now, Input::Datagram(chunk)),
            1 | 2 => {
                let rtcp = op & 3 == 2;
                let (min, at) = if rtcp { (8, 4) } else { (12, 8) };
                if chunk.len() < min {
                    e.handle_input(now, Input::Timeout);
                    drain(&mut e);
                    continue;
                }
                buf[..n].copy_from_slice(chunk);
                buf[0] = (buf[0] & 0x3F) | 0x80;
                buf[at..at + 4].copy_from_slice(&peer_ssrc.to_be_bytes());
                let r = if rtcp {
                    buf[1] = 200 + buf[1] % 24;
                    tx.protect_rtcp(&mut buf, n)
                } else {
                    buf[1] = (buf[1] & 0x80) | if buf[1] & 1 == 0 { 120 } else { 121 };
                    tx.protect_rtp(&mut buf, n)
                };
                match r {
                    Ok(len) => e.handle_input(now, Input::Datagram(&buf[..len])),
                    Err(_) => e.handle_input(now, Input::Timeout),
                }
            }
            _ => {
                let mut pcm = [0i16; 320];
                for (s, b) in pcm.iter_mut().zip(chunk.iter().cycle()) {
                    *s = i16::from(*b as i8) << 8;
                }
                e.handle_input(now, Input::MicFrame(&pcm));
            }
        }
        let (played, at) = drain(&mut e);
        assert!(played <= 1);
        assert!(at > now);
    }
    let s = e.stats(now);
    assert!(s.allocated);
});
