//! Property tests for the transport codecs: every message type emitted and parsed back, and no
//! parser panicking on arbitrary bytes.

use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use wacall_core::time::Instant;
use wacall_core::{demux, payload, red, relay, rtcp, rtp, stun};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

proptest! {
    #![proptest_config(config())]

    // ---------------------------------------------------------------- RTP

    #[test]
    fn rtp_emit_parse_round_trip(
        marker in any::<bool>(),
        payload_type in 0u8..128,
        sequence_number in any::<u16>(),
        timestamp in any::<u32>(),
        ssrc in any::<u32>(),
        ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<[u8; 4]>(), 0..=16))),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let words: Vec<u8> = ext.as_ref().map(|(_, w)| w.concat()).unwrap_or_default();
        let repr = rtp::Repr {
            marker,
            payload_type,
            sequence_number,
            timestamp,
            ssrc,
            extension: ext.as_ref().map(|(profile, _)| rtp::Extension { profile: *profile, words: &words }),
        };
        let mut buf = [0u8; 160];
        let n = repr.emit_packet(&body, &mut buf).unwrap();
        let p = rtp::Packet::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(p.payload(), &body[..]);
        prop_assert_eq!(rtp::Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn rtp_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        if let Ok(p) = rtp::Packet::new_checked(&bytes[..]) {
            let n = p.header_len() + p.payload().len() + p.padding_len();
            prop_assert_eq!(n, bytes.len());
            let _ = (p.marker(), p.payload_type(), p.sequence_number(), p.timestamp(), p.ssrc(), p.form());
            prop_assert!(p.extension_elements().count() <= p.extension().len());
            let _ = rtp::Repr::parse(&p);
        }
    }

    #[test]
    fn rtp_sequencer_numbers_wrap_and_mark_onsets(
        first_seq in any::<u16>(),
        first_ts in any::<u32>(),
        kinds in proptest::collection::vec(0u8..3, 1..40),
    ) {
        let mut s = rtp::AudioSequencer::new(1, rtp::PT_MLOW, rtp::AudioProfile::MLow, first_seq, first_ts);
        let mut speaking = false;
        for (i, k) in kinds.iter().enumerate() {
            let kind = [rtp::AudioFrameKind::Speech, rtp::AudioFrameKind::Dtx, rtp::AudioFrameKind::Priming][usize::from(*k)];
            let h = s.next_header(kind, 960);
            prop_assert_eq!(h.sequence_number, first_seq.wrapping_add(i as u16));
            prop_assert_eq!(h.timestamp, first_ts.wrapping_add(960 * i as u32));
            prop_assert_eq!(h.marker, kind == rtp::AudioFrameKind::Speech && !speaking);
            let want_len = if kind == rtp::AudioFrameKind::Dtx { rtp::DTX_HEADER_LEN } else { rtp::SPEECH_HEADER_LEN };
            prop_assert_eq!(h.header_len(), want_len);
            match kind {
                rtp::AudioFrameKind::Speech => speaking = true,
                rtp::AudioFrameKind::Dtx => speaking = false,
                rtp::AudioFrameKind::Priming => {}
            }
        }
    }

    // ---------------------------------------------------------------- RTCP

    #[test]
    fn rtcp_compound_round_trip(
        ssrc in any::<u32>(),
        info in (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        blocks in proptest::collection::vec(
            (any::<u32>(), any::<u8>(), -0x80_0000i32..=0x7F_FFFF, any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
            0..=15),
        wa_extension in any::<bool>(),
        profile_extension in any::<bool>(),
        rr in any::<bool>(),
        cname in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=255)),
        remote in proptest::option::of(any::<u32>()),
    ) {
        let blocks: Vec<rtcp::ReportBlock> = blocks.into_iter().map(|b| rtcp::ReportBlock {
            ssrc: b.0, fraction_lost: b.1, cumulative_lost: b.2, highest_sequence: b.3,
            jitter: b.4, last_sr: b.5, delay_since_last_sr: b.6,
        }).collect();
        let info = rtcp::SenderInfo {
            ntp: rtcp::NtpTime { seconds: info.0, fraction: info.1 },
            rtp_timestamp: info.2, packet_count: info.3, octet_count: info.4,
        };
        let flags = rtcp::Flags { profile_extension };
        let mut buf = vec![0u8; 1500];
        let mut w = rtcp::CompoundWriter::new(&mut buf);
        if rr {
            w.receiver_report(ssrc, &blocks, wa_extension, flags).unwrap();
        } else {
            w.sender_report(ssrc, &info, &blocks, wa_extension, flags).unwrap();
        }
        w.sdes(ssrc, cname.as_deref(), flags).unwrap();
        w.compact(ssrc, remote).unwrap();
        let n = w.finish();
        let got: Vec<_> = rtcp::compound(&buf[..n]).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got.len(), 3);
        let stride = if wa_extension && !blocks.is_empty() { 48 } else { 24 };
        match &got[0] {
            rtcp::Repr::SenderReport { ssrc: s, info: i, blocks: b, extension, flags: f } if !rr => {
                prop_assert_eq!((*s, *i, *f, *extension), (ssrc, info, flags, &[][..]));
                prop_assert_eq!(b.stride(), stride);
                prop_assert_eq!(b.clone().collect::<Vec<_>>(), blocks.clone());
            }
            rtcp::Repr::ReceiverReport { ssrc: s, blocks: b, extension, flags: f } if rr => {
                prop_assert_eq!((*s, *f, *extension), (ssrc, flags, &[][..]));
                prop_assert_eq!(b.stride(), stride);
                prop_assert_eq!(b.clone().collect::<Vec<_>>(), blocks.clone());
            }
            other => prop_assert!(false, "{:?}", other),
        }
        match &got[1] {
            rtcp::Repr::Sdes { chunks, flags: f } => {
                prop_assert_eq!(*f, flags);
                let chunks: Vec<_> = chunks.clone().map(|(s, items)| (s, items.collect::<Vec<_>>())).collect();
                let want_items: Vec<rtcp::SdesItem<'_>> =
                    cname.iter().map(|c| rtcp::SdesItem { kind: 1, value: c }).collect();
                prop_assert_eq!(chunks, vec![(ssrc, want_items)]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        let compact_ok = matches!(
            got[2],
            rtcp::Repr::Compact { local_ssrc, remote_ssrc, .. } if local_ssrc == ssrc && remote_ssrc == remote
        );
        prop_assert!(compact_ok);
    }

    #[test]
    fn rtcp_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for r in rtcp::compound(&bytes).flatten() {
            match r {
                rtcp::Repr::SenderReport { blocks, .. } | rtcp::Repr::ReceiverReport { blocks, .. } => {
                    let _ = blocks.extensions().count();
                    let _ = blocks.block_count();
                }
                rtcp::Repr::Sdes { chunks, .. } => {
                    for (_, items) in chunks {
                        let _ = items.count();
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn rtcp_receiver_stats_never_panic(
        events in proptest::collection::vec((any::<bool>(), any::<u16>(), any::<u32>(), 0u64..1_000_000, 0u32..3), 0..64),
    ) {
        let mut s = rtcp::ReceiverStats::new(16_000);
        let mut now = 0u64;
        for (sr, seq, ts, dt, ssrc) in events {
            now += dt;
            let at = Instant::from_micros(now);
            if sr {
                s.on_sender_report(at, ssrc, rtcp::NtpTime { seconds: ts, fraction: ts });
            } else {
                s.on_rtp(at, ssrc, seq, ts);
            }
            if let Some(b) = s.report_block(at) {
                prop_assert!((-0x80_0000..=0x7F_FFFF).contains(&b.cumulative_lost));
            }
        }
    }

    // ---------------------------------------------------------------- STUN

    #[test]
    fn stun_emit_parse_round_trip(
        msg_type in 0u16..0x4000,
        tx in any::<[u8; 12]>(),
        picks in proptest::collection::vec((0u8..11, proptest::collection::vec(any::<u8>(), 0..40), any::<u64>(), socket_addr(), 300u16..700), 0..8),
        key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        fingerprint in any::<bool>(),
    ) {
        let attrs: Vec<stun::Attribute<'_>> = picks.iter().map(|(k, bytes, n, addr, code)| match k {
            0 => stun::Attribute::Username(bytes),
            1 => stun::Attribute::RelayToken(bytes),
            2 => stun::Attribute::StreamDescriptors(bytes),
            3 => stun::Attribute::Software(bytes),
            4 => stun::Attribute::Priority(*n as u32),
            5 => stun::Attribute::IceControlled(*n),
            6 => stun::Attribute::IceControlling(*n),
            7 => stun::Attribute::XorRelayEndpoint(*addr),
            8 => stun::Attribute::XorMappedAddress(*addr),
            9 => stun::Attribute::ErrorCode { code: *code, reason: bytes },
            _ => stun::Attribute::Other { kind: 0x7000 | (*n as u16 & 0x0FFF), value: bytes },
        }).collect();
        let repr = stun::Repr {
            msg_type,
            transaction_id: tx,
            attributes: &attrs,
            integrity_key: key.as_deref(),
            fingerprint,
        };
        let mut buf = [0u8; 1024];
        let n = repr.emit(&mut buf).unwrap();
        prop_assert_eq!(n, repr.buffer_len());
        let m = stun::Message::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!((m.message_type(), m.transaction_id(), m.total_len()), (msg_type, tx, n));
        let parsed: Vec<_> = m.attributes().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&parsed[..attrs.len()], &attrs[..]);
        prop_assert_eq!(parsed.len(), attrs.len() + usize::from(key.is_some()) + usize::from(fingerprint));
        match &key {
            Some(k) => {
                prop_assert_eq!(m.verify_integrity(k), Ok(()));
                // HMAC zero-pads short keys, so change a byte rather than append a zero.
                let mut other = k.clone();
                other.push(1);
                prop_assert_eq!(m.verify_integrity(&other), Err(stun::Error::IntegrityMismatch));
            }
            None => prop_assert_eq!(m.verify_integrity(b"k"), Err(stun::Error::NoIntegrity)),
        }
        if fingerprint {
            prop_assert_eq!(m.verify_fingerprint(), Ok(()));
            let mut bad = buf[..n].to_vec();
            bad[n - 1] ^= 1;
            prop_assert_eq!(stun::Message::new_checked(&bad[..]).unwrap().verify_fingerprint(), Err(stun::Error::FingerprintMismatch));
        }
    }

    #[test]
    fn stun_allocate_round_trip(
        tx in any::<[u8; 12]>(),
        token in proptest::collection::vec(any::<u8>(), 0..64),
        descriptors in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 0..12),
        endpoint in socket_addr(),
        key in proptest::collection::vec(any::<u8>(), 1..32),
    ) {
        let descriptors: Vec<_> = descriptors.into_iter().map(|(stream_index, sub_type, ssrc)| {
            stun::proto::StreamDescriptor { stream_index, sub_type, ssrc }
        }).collect();
        let mut buf = [0u8; 1024];
        let n = stun::allocate_request(&mut buf, tx, &token, &descriptors, endpoint, &key).unwrap();
        let m = stun::Message::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(m.message_type(), stun::msg_type::ALLOCATE_REQUEST);
        prop_assert_eq!(m.verify_integrity(&key), Ok(()));
        prop_assert_eq!(m.verify_fingerprint(), Err(stun::Error::NoFingerprint));
        let attrs: Vec<_> = m.attributes().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(attrs.len(), 4);
        prop_assert_eq!(attrs[0], stun::Attribute::RelayToken(&token));
        match attrs[1] {
            stun::Attribute::StreamDescriptors(pb) => {
                let got: Vec<_> = stun::proto::stream_descriptors(pb).collect::<Result<_, _>>().unwrap();
                prop_assert_eq!(got, descriptors);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        prop_assert_eq!(attrs[2], stun::Attribute::XorRelayEndpoint(endpoint));
    }

    #[test]
    fn stun_ping_and_binding_success(tx in any::<[u8; 12]>(), key in proptest::collection::vec(any::<u8>(), 0..32)) {
        let mut buf = [0u8; 64];
        let n = stun::ping(&mut buf, tx).unwrap();
        let m = stun::Message::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!((m.message_type(), m.body_len(), m.transaction_id()), (stun::msg_type::WA_PING, 0, tx));
        let n = stun::binding_success(&mut buf, tx, &key).unwrap();
        let m = stun::Message::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!((m.message_type(), m.transaction_id()), (stun::msg_type::BINDING_SUCCESS, tx));
        prop_assert_eq!(m.verify_integrity(&key), Ok(()));
        prop_assert_eq!(m.verify_fingerprint(), Ok(()));
    }

    #[test]
    fn stun_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160), key in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut framed = bytes.clone();
        // Give most inputs a valid-looking header so the attribute walk is exercised.
        if framed.len() >= 20 {
            framed[0] &= 0x3F;
            framed[4..8].copy_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
            let body = ((framed.len() - 20) & !3) as u16;
            framed[2..4].copy_from_slice(&body.to_be_bytes());
        }
        for b in [&bytes, &framed] {
            if let Ok(m) = stun::Message::new_checked(&b[..]) {
                for a in m.attributes().flatten() {
                    if let stun::Attribute::StreamDescriptors(pb) = a {
                        let _ = stun::proto::stream_descriptors(pb).count();
                    }
                }
                let _ = (m.verify_integrity(&key), m.verify_fingerprint(), m.error_code());
            }
        }
        let _ = stun::proto::stream_descriptors(&bytes).count();
        let _ = stun::proto::fields(&bytes).count();
    }

    // ---------------------------------------------------------------- SplitRed, payload, demux

    #[test]
    fn red_emit_parse_round_trip(
        redundant in proptest::collection::vec((0u8..128, proptest::collection::vec(any::<u8>(), 0..=255)), 0..=red::MAX_REDUNDANT),
        main_time_code in 0u8..128,
        main in proptest::collection::vec(any::<u8>(), 1..200),
    ) {
        let pairs: Vec<(u8, &[u8])> = redundant.iter().map(|(t, b)| (*t, &b[..])).collect();
        let repr = red::Repr { redundant: &pairs, main_time_code, main: &main };
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr.emit(&mut buf).unwrap();
        let parsed = red::SplitRed::parse(&buf[..n]).unwrap();
        let frames: Vec<_> = parsed.frames().collect();
        prop_assert_eq!(frames.len(), pairs.len() + 1);
        for (f, (t, b)) in frames.iter().zip(&pairs) {
            prop_assert_eq!((f.time_code, f.data, f.is_main), (*t, *b, false));
        }
        let last = frames.last().unwrap();
        prop_assert_eq!((last.time_code, last.data, last.is_main), (main_time_code, &main[..], true));
        prop_assert_eq!(parsed.main(), *last);
    }

    #[test]
    fn red_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(r) = red::SplitRed::parse(&bytes) {
            let frames: Vec<_> = r.frames().collect();
            prop_assert_eq!(frames.len(), r.redundant_count() + 1);
            let covered: usize = frames.iter().map(|f| f.data.len()).sum::<usize>() + 2 * r.redundant_count() + 1;
            prop_assert_eq!(covered, bytes.len());
            prop_assert!(!r.main().data.is_empty());
        }
    }

    #[test]
    fn opus_escape_round_trips_celt_packets(
        config in 16u8..32,
        stereo in any::<bool>(),
        frames in 1usize..5,
        frame_len in 3usize..40,
        fill in any::<u8>(),
    ) {
        let mut opus = Vec::new();
        let s = u8::from(stereo) << 2;
        if frames == 1 {
            opus.push(config << 3 | s);
        } else {
            opus.push(config << 3 | s | 3);
            opus.push(frames as u8);
        }
        opus.extend(std::iter::repeat_n(fill, frames * frame_len));
        let mut out = [0u8; 256];
        let n = payload::opus_to_mlow_escape(&opus, &mut out).unwrap();
        prop_assert_eq!(payload::route(rtp::PT_MLOW, &out[..n]), payload::Route::OpusEscape);
        payload::mlow_escape_to_opus(&mut out[..n]).unwrap();
        prop_assert_eq!(&out[..n], &opus[..]);
    }

    #[test]
    fn payload_and_demux_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), pt in 0u8..128) {
        let mut out = [0u8; 80];
        let _ = payload::opus_to_mlow_escape(&bytes, &mut out);
        let mut copy = bytes.clone();
        let _ = payload::mlow_escape_to_opus(&mut copy);
        let _ = payload::route(pt, &bytes);
        let _ = payload::is_opus_silence(&bytes);
        if let Ok(d) = demux::demux(&bytes) {
            prop_assert!(bytes.ends_with(d.bytes));
            prop_assert_eq!(d.envelope_len + d.bytes.len(), bytes.len());
        }
    }

    #[test]
    fn relay_block_never_panics(
        contents in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8),
        values in proptest::collection::vec("[0-9a-z=]{0,6}", 8),
    ) {
        let tags = ["key", "hbh_key", "warp_mi_tag_len", "token", "auth_token", "te2", "te2", "other"];
        let names = ["id", "relay_id", "relay_name", "token_id", "auth_token_id", "is_fna", "protocol", "c2r_rtt"];
        let attrs: Vec<(&str, &str)> = names.iter().zip(&values).map(|(n, v)| (*n, v.as_str())).collect();
        let children: Vec<relay::Element<'_>> = contents.iter().enumerate().map(|(i, c)| relay::Element {
            tag: tags[i % tags.len()],
            attrs: &attrs,
            content: c,
        }).collect();
        let b = relay::RelayBlock::parse(&attrs, &children);
        prop_assert!(b.tokens.len() <= relay::MAX_TOKEN_ID);
        let _ = (b.media_endpoint(), b.latency_candidates());
        for c in &contents {
            let _ = relay::base64_decode(c);
            let _ = relay::decode_hbh_key(c);
        }
    }
}
