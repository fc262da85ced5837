//! Differential test of our SRTP/SRTCP against an independent implementation, webrtc-rs's
//! `webrtc-srtp` (pure Rust, its own KDF, counter mode and ROC tracking).
//!
//! Thousands of seeded-random packets per profile, with sequence jumps that wrap the ROC several
//! times, varied RTP headers (WhatsApp's 16/20-byte `0xDEBE` headers, CSRCs, no extension),
//! then a lossy channel that drops, reorders and duplicates:
//! - our protect output must equal webrtc-srtp's byte for byte (RTP and SRTCP);
//! - our receiver decrypts webrtc-srtp's stream and webrtc-srtp decrypts ours;
//! - our receiver accepts exactly what a plain set-based replay model says (duplicates and packets
//!   older than 64 indices rejected) and its ROC matches the sender's.

use std::collections::HashSet;

use wacall_core::keys::SrtpMaster;
use wacall_core::srtp::{Config, Error, SrtpReceiver, SrtpSender};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// SplitMix64: a small seeded generator, so every run sees the same packets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn fill(&mut self, b: &mut [u8]) {
        b.iter_mut().for_each(|x| *x = self.next() as u8);
    }
}

/// Packets per profile and direction (both crates are optimised in test builds too).
const PACKETS: usize = 10000;

struct Case {
    config: Config,
    profile: ProtectionProfile,
    tag_len: usize,
}

fn cases() -> [Case; 2] {
    [
        Case {
            config: Config::WHATSAPP,
            profile: ProtectionProfile::Aes128CmHmacSha1_32,
            tag_len: 4,
        },
        Case {
            config: Config::SHA1_80,
            profile: ProtectionProfile::Aes128CmHmacSha1_80,
            tag_len: 10,
        },
    ]
}

/// A random RTP packet with sequence number `seq`.
fn rtp_packet(rng: &mut Rng, ssrc: u32, seq: u16) -> Vec<u8> {
    let csrcs = if rng.chance(10) {
        rng.below(3) as u8
    } else {
        0
    };
    // 0: WhatsApp speech header (empty 0xDEBE extension), 1: DTX (one word), 2: no extension.
    let shape = rng.below(3);
    let mut p = vec![0x80 | csrcs, rng.below(128) as u8];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for _ in 0..csrcs {
        p.extend_from_slice(&(rng.next() as u32).to_be_bytes());
    }
    match shape {
        0 => {
            p[0] |= 0x10;
            p.extend_from_slice(&[0xde, 0xbe, 0, 0]);
        }
        1 => {
            p[0] |= 0x10;
            p.extend_from_slice(&[0xde, 0xbe, 0, 1, 0x30, 0x01, 0, 0]);
        }
        _ => {}
    }
    let mut payload = vec![0u8; 1 + rng.below(200) as usize];
    rng.fill(&mut payload);
    p.extend_from_slice(&payload);
    p
}

/// A random RTCP packet (a sender report shape with a random body) from `ssrc`.
fn rtcp_packet(rng: &mut Rng, ssrc: u32) -> Vec<u8> {
    let words = 1 + rng.below(12) as usize;
    let mut p = vec![0x80, 200];
    p.extend_from_slice(&(words as u16).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    let mut body = vec![0u8; 4 * words - 4];
    rng.fill(&mut body);
    p.extend_from_slice(&body);
    p
}

/// The channel: drops some packets, swaps neighbours, duplicates some. Returns indices into the
/// sent list in arrival order.
fn channel(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).filter(|_| !rng.chance(5)).collect();
    for i in 1..order.len() {
        if rng.chance(10) {
            // Move a packet up to 7 places later.
            let j = (i + rng.below(8) as usize).min(order.len() - 1);
            order.swap(i, j);
        }
    }
    let mut out = Vec::with_capacity(order.len() + order.len() / 20);
    for i in order {
        out.push(i);
        if rng.chance(3) {
            out.push(i);
        }
    }
    out
}

/// The replay rule in its plainest form: reject what was accepted before or is 64 or more below
/// the highest accepted index.
#[derive(Default)]
struct ReplayModel {
    seen: HashSet<u64>,
    top: Option<u64>,
}

impl ReplayModel {
    fn accept(&mut self, index: u64) -> bool {
        if self.seen.contains(&index) || self.top.is_some_and(|t| index + 64 <= t) {
            return false;
        }
        self.seen.insert(index);
        self.top = Some(self.top.map_or(index, |t| t.max(index)));
        true
    }
}

#[test]
fn srtp_matches_webrtc_srtp_across_loss_reorder_duplicates_and_roc_wrap() {
    let mut rng = Rng(0x5eed_0001);
    for case in cases() {
        let mut key = [0u8; 16];
        let mut salt = [0u8; 14];
        rng.fill(&mut key);
        rng.fill(&mut salt);
        let master = SrtpMaster::new(key, salt);
        let ssrc = rng.next() as u32;

        let mut ours_tx = SrtpSender::new(&master, ssrc, case.config);
        let mut theirs_tx = Context::new(&key, &salt, case.profile, None, None).unwrap();

        // Sender side: monotonic sequence numbers with jumps, starting just below a wrap.
        let mut seq: u16 = 65_535 - rng.below(40) as u16;
        let mut index: u64 = u64::from(seq);
        let mut plain = Vec::new();
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for k in 0..PACKETS {
            if k > 0 {
                let step = if rng.chance(5) {
                    1 + rng.below(3000)
                } else {
                    1
                };
                index += step;
                seq = index as u16;
            }
            let p = rtp_packet(&mut rng, ssrc, seq);
            let mut buf = p.clone();
            buf.resize(p.len() + case.tag_len, 0);
            let n = ours_tx.protect_rtp(&mut buf, p.len()).unwrap();
            assert_eq!(n, p.len() + case.tag_len);
            assert_eq!(ours_tx.roc(), (index >> 16) as u32);
            let t = theirs_tx.encrypt_rtp(&p).unwrap();
            assert_eq!(
                &buf[..],
                &t[..],
                "protect differs at packet {k} (index {index})"
            );
            plain.push((index, p));
            ours.push(buf);
            theirs.push(t.to_vec());
        }
        assert!(
            index >> 16 >= 3,
            "the run should wrap the ROC several times"
        );

        let arrivals = channel(&mut rng, plain.len());
        let mut ours_rx = SrtpReceiver::<4>::new(&master, case.config);
        ours_rx.add_ssrc(ssrc).unwrap();
        let mut theirs_rx = Context::new(&key, &salt, case.profile, None, None).unwrap();
        let mut model = ReplayModel::default();
        let (mut accepted, mut rejected) = (0, 0);
        for &i in &arrivals {
            let (index, p) = &plain[i];
            // webrtc-srtp decrypts what we protected (it has no replay check configured).
            let dec = theirs_rx.decrypt_rtp(&ours[i]).unwrap();
            assert_eq!(
                &dec[..],
                &p[..],
                "webrtc-srtp could not decrypt our packet {i}"
            );
            // We decrypt what webrtc-srtp protected.
            let mut buf = theirs[i].clone();
            let got = ours_rx.unprotect_rtp(&mut buf);
            if model.accept(*index) {
                let m = got.unwrap_or_else(|e| panic!("packet {i} (index {index}): {e:?}"));
                assert_eq!(&buf[..m], &p[..]);
                accepted += 1;
            } else {
                assert_eq!(got, Err(Error::Replay), "packet {i} (index {index})");
                assert_eq!(
                    buf, theirs[i],
                    "a rejected packet must leave the buffer alone"
                );
                rejected += 1;
            }
        }
        assert_eq!(ours_rx.roc(ssrc), Some((model.top.unwrap() >> 16) as u32));
        assert!(
            accepted > PACKETS * 8 / 10 && rejected > 0,
            "{accepted} {rejected}"
        );
    }
}

#[test]
fn srtcp_matches_webrtc_srtp_with_reorder_and_duplicates() {
    let mut rng = Rng(0x5eed_0002);
    for case in cases() {
        let mut key = [0u8; 16];
        let mut salt = [0u8; 14];
        rng.fill(&mut key);
        rng.fill(&mut salt);
        let master = SrtpMaster::new(key, salt);
        let ssrc = rng.next() as u32;
        let mut ours_tx = SrtpSender::new(&master, ssrc, case.config);
        let mut theirs_tx = Context::new(&key, &salt, case.profile, None, None).unwrap();

        let count = PACKETS / 5;
        let mut plain = Vec::new();
        let mut ours = Vec::new();
        for k in 0..count {
            let p = rtcp_packet(&mut rng, ssrc);
            let mut buf = p.clone();
            buf.resize(p.len() + 4 + 10, 0);
            let n = ours_tx.protect_rtcp(&mut buf, p.len()).unwrap();
            assert_eq!(n, buf.len());
            // E flag and an index that starts at 1.
            assert_eq!(
                &buf[p.len()..p.len() + 4],
                &(0x8000_0001u32 + k as u32).to_be_bytes()
            );
            let t = theirs_tx.encrypt_rtcp(&p).unwrap();
            assert_eq!(&buf[..], &t[..], "SRTCP protect differs at packet {k}");
            plain.push(p);
            ours.push(buf);
        }

        let mut ours_rx = SrtpReceiver::<2>::new(&master, case.config);
        ours_rx.add_ssrc(ssrc).unwrap();
        let mut theirs_rx = Context::new(&key, &salt, case.profile, None, None).unwrap();
        let mut model = ReplayModel::default();
        for i in channel(&mut rng, count) {
            let dec = theirs_rx.decrypt_rtcp(&ours[i]).unwrap();
            assert_eq!(&dec[..], &plain[i][..]);
            let mut buf = ours[i].clone();
            let got = ours_rx.unprotect_rtcp(&mut buf);
            if model.accept(i as u64 + 1) {
                assert_eq!(got, Ok(plain[i].len()));
                assert_eq!(&buf[..plain[i].len()], &plain[i][..]);
            } else {
                assert_eq!(got, Err(Error::Replay));
            }
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    wacall_core::kat::decode_hex(s).unwrap()
}

/// The full E2E packets the research note reproduced with libsrtp (`AES128_CM_SHA1_32`, master =
/// WAHKDF of the known-answer peer id): ours and webrtc-srtp must both produce them exactly.
#[test]
fn libsrtp_reproduced_e2e_packets_match_both_implementations() {
    let master30 = unhex("3f5423fb6f67e4c588bf5741a3a4e92c749ee99101a47c82bb5dacec40cf");
    let (key, salt) = master30.split_at(16);
    let master = SrtpMaster::new(key.try_into().unwrap(), salt.try_into().unwrap());
    let profile = ProtectionProfile::Aes128CmHmacSha1_32;

    let rtp = unhex("907800070000000012345678debe0000102132435465768798a9bacb");
    let want = unhex("907800070000000012345678debe000017b30591a2650ed7bbae9c5ad1e8434f");
    let mut buf = rtp.clone();
    buf.resize(want.len(), 0);
    let mut tx = SrtpSender::new(&master, 0x1234_5678, Config::WHATSAPP);
    assert_eq!(tx.protect_rtp(&mut buf, rtp.len()), Ok(want.len()));
    assert_eq!(buf, want);
    let mut theirs = Context::new(key, salt, profile, None, None).unwrap();
    assert_eq!(&theirs.encrypt_rtp(&rtp).unwrap()[..], &want[..]);

    let sr = unhex("80c8000612345678ea11180000000000000006400000000500000258");
    let want = unhex(
        "80c8000612345678ec1515a4ecc540811df43bd3c0f9ec86cb75a187800000014e1dccc5783c23a962c8",
    );
    let mut buf = sr.clone();
    buf.resize(want.len(), 0);
    assert_eq!(tx.protect_rtcp(&mut buf, sr.len()), Ok(want.len()));
    assert_eq!(buf, want);
    assert_eq!(&theirs.encrypt_rtcp(&sr).unwrap()[..], &want[..]);
}
