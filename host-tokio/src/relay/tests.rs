//! The relay state machine on a virtual clock.

use super::*;
use proptest::prelude::*;
use wacall_core::stun::proto::StreamDescriptor;

const KEY: &[u8] = b"bG9jYWwtcmVsYXkta2V5LXRleHQ=";
const TOKEN: &[u8] = &[0xA1, 0xB2, 0xC3, 0xD4, 0x05];
const OTHER_TOKEN: &[u8] = &[0x77; 9];

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

const ALICE: u16 = 40001;
const BOB: u16 = 40002;
const CAROL: u16 = 40003;

fn at_ms(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn relay() -> LocalRelay {
    LocalRelay::new(Config::new(KEY, vec![TOKEN.to_vec(), OTHER_TOKEN.to_vec()]))
}

#[derive(Debug, Default)]
struct Drained {
    sent: Vec<(SocketAddr, Vec<u8>)>,
    events: Vec<Event>,
    timeout: Option<Instant>,
}

fn drain(r: &mut LocalRelay) -> Drained {
    let mut d = Drained::default();
    loop {
        match r.poll_output() {
            Output::Transmit(t) => d.sent.push((t.to, t.bytes.to_vec())),
            Output::Event(e) => d.events.push(e),
            Output::Timeout(t) => {
                d.timeout = Some(t);
                return d;
            }
        }
    }
}

fn feed(r: &mut LocalRelay, now: Instant, from: u16, bytes: &[u8]) -> Drained {
    r.handle_input(now, addr(from), bytes);
    drain(r)
}

fn tx(n: u8) -> [u8; 12] {
    [n; 12]
}

fn allocate(t: [u8; 12], token: &[u8], key: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let descriptors = [StreamDescriptor {
        stream_index: 0,
        sub_type: 0,
        ssrc: 0x1234_5678,
    }];
    let n = stun::allocate_request(
        &mut buf,
        t,
        token,
        &descriptors,
        "127.0.0.1:3480".parse().unwrap(),
        key,
    )
    .unwrap();
    buf[..n].to_vec()
}

fn ping(t: [u8; 12]) -> Vec<u8> {
    let mut buf = [0u8; 20];
    let n = stun::ping(&mut buf, t).unwrap();
    buf[..n].to_vec()
}

/// A plausible RTP packet: version 2, PT 120, with a payload marker byte.
fn rtp(seq: u16, marker: u8) -> Vec<u8> {
    let mut p = vec![0x90, 0x78];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, marker, 1, 2, 3]);
    p
}

/// One response to `from`, parsed: (type, transaction id, the message bytes).
fn only_response(d: &Drained, from: u16) -> (u16, [u8; 12], Vec<u8>) {
    assert_eq!(d.sent.len(), 1, "one response expected: {d:?}");
    let (to, bytes) = &d.sent[0];
    assert_eq!(*to, addr(from));
    let m = Message::new_checked(&bytes[..]).expect("a well-formed STUN response");
    assert_eq!(m.total_len(), bytes.len());
    (m.message_type(), m.transaction_id(), bytes.clone())
}

fn mapped_address(bytes: &[u8]) -> Option<SocketAddr> {
    Message::new_checked(bytes)
        .unwrap()
        .attributes()
        .find_map(|a| match a {
            Ok(Attribute::XorMappedAddress(a)) => Some(a),
            _ => None,
        })
}

fn paired_call(r: &mut LocalRelay) {
    feed(r, at_ms(0), ALICE, &allocate(tx(1), TOKEN, KEY));
    feed(r, at_ms(10), BOB, &allocate(tx(2), TOKEN, KEY));
}

/// The allocate captured from a WhatsApp Web client (shared `voip/kats.json`, `stun.wasmAllocate`,
/// MESSAGE-INTEGRITY computed by an independent implementation under the key text
/// `0123456789abcdef`) is accepted, and a relay holding another key refuses it with 401.
#[test]
fn captured_web_allocate_is_accepted_under_its_key_text() {
    let Some(path) = wacall_testkit::shared_file(
        "captured_web_allocate_is_accepted_under_its_key_text",
        "voip/kats.json",
    ) else {
        return;
    };
    let kats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let hex = |k: &str| -> Vec<u8> {
        let s = kats["stun"][k].as_str().unwrap();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let request = hex("wasmAllocate");
    let key = hex("miKey");
    assert_eq!(key, b"0123456789abcdef", "the key is ASCII text");
    let token = hex("relayToken");
    let want_tx: [u8; 12] = hex("tx").try_into().unwrap();

    let mut r = LocalRelay::new(Config::new(key.clone(), vec![token.clone()]));
    let d = feed(&mut r, at_ms(0), ALICE, &request);
    let (kind, t, bytes) = only_response(&d, ALICE);
    assert_eq!(kind, msg_type::ALLOCATE_SUCCESS);
    assert_eq!(t, want_tx);
    let m = Message::new_checked(&bytes[..]).unwrap();
    m.verify_integrity(&key).unwrap();
    m.verify_fingerprint().unwrap();
    assert_eq!(mapped_address(&bytes), Some(addr(ALICE)));
    assert_eq!(
        d.events,
        [Event::Allocated {
            from: addr(ALICE),
            token_index: 0
        }]
    );

    let mut wrong = LocalRelay::new(Config::new(&b"0123456789abcdeg"[..], vec![token]));
    let d = feed(&mut wrong, at_ms(0), ALICE, &request);
    let (kind, t, bytes) = only_response(&d, ALICE);
    assert_eq!((kind, t), (msg_type::ALLOCATE_ERROR, want_tx));
    let m = Message::new_checked(&bytes[..]).unwrap();
    assert_eq!(m.error_code(), Some(401));
    assert_eq!(m.verify_integrity(&key), Err(stun::Error::NoIntegrity));
    m.verify_fingerprint().unwrap();
    assert_eq!(wrong.stats().rejected.bad_integrity, 1);
    assert_eq!(wrong.stats().active_allocations, 0);
}

#[test]
fn allocate_with_the_key_is_answered_with_a_signed_success() {
    let mut r = relay();
    let d = feed(&mut r, at_ms(0), ALICE, &allocate(tx(1), TOKEN, KEY));
    let (kind, t, bytes) = only_response(&d, ALICE);
    assert_eq!((kind, t), (msg_type::ALLOCATE_SUCCESS, tx(1)));
    let m = Message::new_checked(&bytes[..]).unwrap();
    m.verify_integrity(KEY).unwrap();
    assert_eq!(
        m.verify_integrity(b"another key"),
        Err(stun::Error::IntegrityMismatch)
    );
    m.verify_fingerprint().unwrap();
    assert_eq!(d.timeout, Some(at_ms(0) + DEFAULT_IDLE_TIMEOUT));
    let s = r.stats();
    assert_eq!(
        (s.allocations, s.active_allocations, s.paired_calls),
        (1, 1, 0)
    );
}

#[test]
fn allocate_signed_with_the_decoded_key_bytes_is_refused() {
    // The key is the <key> text; a client that keys HMAC with the base64-decoded bytes is wrong.
    let decoded = wacall_core::relay::base64_decode(KEY).unwrap();
    let mut r = relay();
    let d = feed(&mut r, at_ms(0), ALICE, &allocate(tx(1), TOKEN, &decoded));
    let (kind, _, bytes) = only_response(&d, ALICE);
    assert_eq!(kind, msg_type::ALLOCATE_ERROR);
    assert_eq!(
        Message::new_checked(&bytes[..]).unwrap().error_code(),
        Some(401)
    );
    assert!(d.events.is_empty());
    assert_eq!(r.stats().active_allocations, 0);
}

#[test]
fn allocate_without_integrity_or_token_gets_400() {
    let mut r = relay();
    let mut buf = [0u8; 128];
    let unsigned = stun::Repr {
        msg_type: msg_type::ALLOCATE_REQUEST,
        transaction_id: tx(3),
        attributes: &[Attribute::RelayToken(TOKEN)],
        integrity_key: None,
        fingerprint: false,
    };
    let n = unsigned.emit(&mut buf).unwrap();
    let d = feed(&mut r, at_ms(0), ALICE, &buf[..n]);
    let (kind, t, bytes) = only_response(&d, ALICE);
    assert_eq!((kind, t), (msg_type::ALLOCATE_ERROR, tx(3)));
    assert_eq!(
        Message::new_checked(&bytes[..]).unwrap().error_code(),
        Some(400)
    );

    let tokenless = stun::Repr {
        msg_type: msg_type::ALLOCATE_REQUEST,
        transaction_id: tx(4),
        attributes: &[],
        integrity_key: Some(KEY),
        fingerprint: false,
    };
    let n = tokenless.emit(&mut buf).unwrap();
    let d = feed(&mut r, at_ms(0), ALICE, &buf[..n]);
    let (_, t, bytes) = only_response(&d, ALICE);
    assert_eq!(t, tx(4));
    let m = Message::new_checked(&bytes[..]).unwrap();
    assert_eq!(m.error_code(), Some(400));
    m.verify_integrity(KEY).unwrap();

    let s = r.stats();
    assert_eq!(s.rejected.missing_integrity, 1);
    assert_eq!(s.rejected.missing_token, 1);
    assert_eq!(s.active_allocations, 0);
}

#[test]
fn unknown_token_gets_a_signed_403() {
    let mut r = relay();
    let d = feed(
        &mut r,
        at_ms(0),
        ALICE,
        &allocate(tx(5), b"not-a-token", KEY),
    );
    let (kind, t, bytes) = only_response(&d, ALICE);
    assert_eq!((kind, t), (msg_type::ALLOCATE_ERROR, tx(5)));
    let m = Message::new_checked(&bytes[..]).unwrap();
    assert_eq!(m.error_code(), Some(403));
    m.verify_integrity(KEY).unwrap();
    assert_eq!(r.stats().rejected.unknown_token, 1);
    assert_eq!(r.stats().active_allocations, 0);
}

#[test]
fn a_third_party_and_a_token_switch_are_refused() {
    let mut r = relay();
    paired_call(&mut r);
    let d = feed(&mut r, at_ms(20), CAROL, &allocate(tx(6), TOKEN, KEY));
    let (_, _, bytes) = only_response(&d, CAROL);
    assert_eq!(
        Message::new_checked(&bytes[..]).unwrap().error_code(),
        Some(486)
    );
    let d = feed(&mut r, at_ms(30), ALICE, &allocate(tx(7), OTHER_TOKEN, KEY));
    let (_, _, bytes) = only_response(&d, ALICE);
    assert_eq!(
        Message::new_checked(&bytes[..]).unwrap().error_code(),
        Some(437)
    );
    let s = r.stats();
    assert_eq!(
        (s.rejected.call_full, s.rejected.allocation_mismatch),
        (1, 1)
    );
    assert_eq!((s.active_allocations, s.paired_calls), (2, 1));
    // The other token is its own call: Carol may allocate on it.
    let d = feed(&mut r, at_ms(40), CAROL, &allocate(tx(8), OTHER_TOKEN, KEY));
    assert_eq!(only_response(&d, CAROL).0, msg_type::ALLOCATE_SUCCESS);
    assert_eq!(
        d.events,
        [Event::Allocated {
            from: addr(CAROL),
            token_index: 1
        }]
    );
}

#[test]
fn the_two_allocations_of_a_token_pair_and_media_flows_both_ways() {
    let mut r = relay();
    let d = feed(&mut r, at_ms(0), ALICE, &allocate(tx(1), TOKEN, KEY));
    assert_eq!(d.events.len(), 1);
    // Before the peer allocates, Alice's media has nowhere to go.
    let d = feed(&mut r, at_ms(5), ALICE, &rtp(1, 0xAA));
    assert!(d.sent.is_empty());
    assert_eq!(r.stats().rejected.unpaired, 1);

    let d = feed(&mut r, at_ms(10), BOB, &allocate(tx(2), TOKEN, KEY));
    assert_eq!(only_response(&d, BOB).0, msg_type::ALLOCATE_SUCCESS);
    assert_eq!(
        d.events,
        [
            Event::Allocated {
                from: addr(BOB),
                token_index: 0
            },
            Event::Paired {
                token_index: 0,
                first: addr(ALICE),
                second: addr(BOB)
            }
        ]
    );

    let a = rtp(2, 0xAA);
    let d = feed(&mut r, at_ms(20), ALICE, &a);
    assert_eq!(d.sent, [(addr(BOB), a.clone())]);
    let b = rtp(9, 0xBB);
    let d = feed(&mut r, at_ms(21), BOB, &b);
    assert_eq!(d.sent, [(addr(ALICE), b.clone())]);
    // RTCP (PT 200) and a 0x09-enveloped group packet are forwarded unchanged too.
    let sr = [0x80, 200, 0, 6, 1, 2, 3, 4, 0, 0, 0, 0];
    let d = feed(&mut r, at_ms(22), BOB, &sr);
    assert_eq!(d.sent, [(addr(ALICE), sr.to_vec())]);
    let mut enveloped = vec![0x09, 0x02, 0, 0, 0, 0, 0, 0];
    enveloped.extend_from_slice(&rtp(3, 0xCC));
    let d = feed(&mut r, at_ms(23), ALICE, &enveloped);
    assert_eq!(d.sent, [(addr(BOB), enveloped.clone())]);

    let s = r.stats();
    assert_eq!(s.forwarded_packets, 4);
    assert_eq!(
        s.forwarded_bytes,
        (a.len() + b.len() + sr.len() + enveloped.len()) as u64
    );
    assert_eq!((s.forwarded_rtp, s.forwarded_rtcp), (3, 1));
    assert_eq!(s.paired_calls, 1);
}

#[test]
fn media_from_strangers_is_dropped_and_counted() {
    let mut r = relay();
    paired_call(&mut r);
    let d = feed(&mut r, at_ms(20), CAROL, &rtp(1, 0));
    assert!(d.sent.is_empty());
    assert_eq!(r.stats().rejected.unallocated, 1);
    assert_eq!(r.stats().forwarded_packets, 0);
}

#[test]
fn ping_is_answered_with_a_pong_and_refreshes_the_allocation() {
    let mut r = relay();
    feed(&mut r, at_ms(0), ALICE, &allocate(tx(1), TOKEN, KEY));
    let d = feed(&mut r, at_ms(3000), ALICE, &ping(tx(9)));
    let (kind, t, bytes) = only_response(&d, ALICE);
    assert_eq!((kind, t), (msg_type::WA_PONG, tx(9)));
    assert_eq!(bytes.len(), stun::HEADER_LEN, "the pong has an empty body");
    assert_eq!(d.timeout, Some(at_ms(3000) + DEFAULT_IDLE_TIMEOUT));
    // A ping from a stranger is answered too, and allocates nothing.
    let d = feed(&mut r, at_ms(3001), CAROL, &ping(tx(10)));
    assert_eq!(only_response(&d, CAROL).0, msg_type::WA_PONG);
    assert_eq!(r.stats().pings, 2);
    assert_eq!(r.stats().active_allocations, 1);
}

#[test]
fn allocations_expire_without_refresh_and_keep_alive_with_it() {
    let mut r = LocalRelay::new(Config {
        idle_timeout: Duration::from_millis(4500),
        ..Config::new(KEY, vec![TOKEN.to_vec()])
    });
    paired_call(&mut r);
    // Bob keeps refreshing every second (allocate + ping, as the clients do); Alice goes silent.
    let mut last = Drained::default();
    for s in 1..=5u64 {
        feed(
            &mut r,
            at_ms(s * 1000 + 10),
            BOB,
            &allocate(tx(2), TOKEN, KEY),
        );
        last = feed(&mut r, at_ms(s * 1000 + 11), BOB, &ping(tx(20 + s as u8)));
    }
    // Alice's allocation (made at 0 ms) is due at 4500 ms: it has gone by the fifth refresh.
    assert_eq!(r.stats().active_allocations, 1);
    assert_eq!(r.stats().expired, 1);
    assert_eq!(r.stats().refreshes, 5);
    assert_eq!(last.timeout, Some(at_ms(5011 + 4500)));
    let d = feed(&mut r, at_ms(5100), BOB, &rtp(1, 0));
    assert!(d.sent.is_empty());
    assert_eq!(r.stats().rejected.unpaired, 1);

    // The expiry fires on the timer alone, exactly at the deadline, once.
    r.handle_timeout(at_ms(9510));
    assert!(drain(&mut r).events.is_empty());
    r.handle_timeout(at_ms(9511));
    let d = drain(&mut r);
    assert_eq!(
        d.events,
        [Event::Expired {
            addr: addr(BOB),
            token_index: 0
        }]
    );
    assert_eq!(d.timeout, Some(NEVER));
    r.handle_timeout(at_ms(20_000));
    assert!(drain(&mut r).events.is_empty());
    assert_eq!(r.stats().expired, 2);
}

#[test]
fn expiry_is_reported_on_the_timer() {
    let mut r = relay();
    paired_call(&mut r);
    assert_eq!(drain(&mut r).timeout, Some(at_ms(0) + DEFAULT_IDLE_TIMEOUT));
    r.handle_timeout(at_ms(0) + DEFAULT_IDLE_TIMEOUT);
    let d = drain(&mut r);
    assert_eq!(
        d.events,
        [Event::Expired {
            addr: addr(ALICE),
            token_index: 0
        }]
    );
    assert_eq!(d.timeout, Some(at_ms(10) + DEFAULT_IDLE_TIMEOUT));
}

#[test]
fn binding_requests_are_answered() {
    let mut r = relay();
    let mut buf = [0u8; 128];
    for (key, want_kind, signed) in [
        (None, msg_type::BINDING_SUCCESS, false),
        (Some(KEY), msg_type::BINDING_SUCCESS, true),
        (Some(&b"wrong"[..]), msg_type::BINDING_ERROR, false),
    ] {
        let n = stun::Repr {
            msg_type: msg_type::BINDING_REQUEST,
            transaction_id: tx(11),
            attributes: &[Attribute::Priority(16_777_215)],
            integrity_key: key,
            fingerprint: true,
        }
        .emit(&mut buf)
        .unwrap();
        let d = feed(&mut r, at_ms(0), ALICE, &buf[..n]);
        let (kind, t, bytes) = only_response(&d, ALICE);
        assert_eq!((kind, t), (want_kind, tx(11)));
        let m = Message::new_checked(&bytes[..]).unwrap();
        m.verify_fingerprint().unwrap();
        assert_eq!(m.verify_integrity(KEY).is_ok(), signed);
        if want_kind == msg_type::BINDING_SUCCESS {
            assert_eq!(mapped_address(&bytes), Some(addr(ALICE)));
        } else {
            assert_eq!(m.error_code(), Some(401));
        }
    }
    assert_eq!(r.stats().bindings, 2);
    assert_eq!(r.stats().rejected.bad_integrity, 1);
}

#[test]
fn garbage_and_stray_stun_are_dropped_and_counted() {
    let mut r = relay();
    paired_call(&mut r);
    let mut truncated = allocate(tx(1), TOKEN, KEY);
    truncated.truncate(30);
    let mut bad_attr = ping(tx(1));
    bad_attr[3] = 4; // announces a 4-byte body holding an attribute header that runs past it
    bad_attr.extend_from_slice(&[0x40, 0x00, 0x00, 0x10]);
    let mut response = ping(tx(1));
    response[1] = 0x02; // a pong: the relay sends those, it does not take them
    for (bytes, reason) in [
        (&[][..], Reject::Malformed),
        (&[0x00][..], Reject::Malformed),
        (&truncated[..], Reject::Malformed),
        (&bad_attr[..], Reject::Malformed),
        (&response[..], Reject::UnexpectedStun),
    ] {
        let before = r.stats().rejected.get(reason);
        let d = feed(&mut r, at_ms(20), ALICE, bytes);
        assert!(d.sent.is_empty(), "{bytes:02x?} was answered: {d:?}");
        assert_eq!(r.stats().rejected.get(reason), before + 1, "{bytes:02x?}");
    }
    // The call survives all of it.
    let d = feed(&mut r, at_ms(30), ALICE, &rtp(1, 0));
    assert_eq!(d.sent.len(), 1);
    assert_eq!(r.stats().datagrams_in, 2 + 5 + 1);
}

#[test]
fn unpolled_outputs_are_bounded() {
    let mut r = relay();
    paired_call(&mut r);
    drain(&mut r);
    for i in 0..(MAX_PENDING as u16 + 10) {
        r.handle_input(at_ms(20), addr(ALICE), &rtp(i, 0));
    }
    let d = drain(&mut r);
    assert_eq!(d.sent.len(), MAX_PENDING);
    // The newest are kept.
    assert_eq!(d.sent.last().unwrap().1, rtp(MAX_PENDING as u16 + 9, 0));
    assert_eq!(r.stats().rejected.output_overflow, 10);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary datagrams from arbitrary senders, mixed into a live call (impaired or not), never
    /// panic; every transmit answers its sender or carries, unchanged, a datagram the other party
    /// of the call sent; the call keeps its two allocations only.
    #[test]
    fn arbitrary_datagrams_never_panic(
        inputs in proptest::collection::vec(
            (0u16..4, proptest::collection::vec(any::<u8>(), 0..120), 0u64..2000),
            0..40,
        ),
        stun_prefix in any::<bool>(),
        impaired in any::<bool>(),
    ) {
        let mut r = LocalRelay::new(Config {
            impairment: if impaired {
                Impairment {
                    loss: 0.3,
                    mean_burst_len: 2.0,
                    delay: Duration::from_millis(5),
                    jitter: Duration::from_millis(500),
                    seed: 3,
                }
            } else {
                Impairment::NONE
            },
            ..Config::new(KEY, vec![TOKEN.to_vec(), OTHER_TOKEN.to_vec()])
        });
        paired_call(&mut r);
        drain(&mut r);
        let mut sent_by: std::collections::HashMap<SocketAddr, Vec<Vec<u8>>> = Default::default();
        let mut now = at_ms(20);
        for (who, mut bytes, step_ms) in inputs {
            if stun_prefix && bytes.len() >= 8 {
                // Steer half the cases into the STUN paths: a valid-looking header.
                bytes[0] &= 0x3F;
                bytes[4..8].copy_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
            }
            now += Duration::from_millis(step_ms);
            let from = addr(ALICE + who);
            sent_by.entry(from).or_default().push(bytes.clone());
            r.handle_input(now, from, &bytes);
            let d = drain(&mut r);
            for (to, out) in &d.sent {
                // STUN is never forwarded, so a STUN message back to the sender is an answer.
                let answer = *to == from && Message::new_checked(&out[..]).is_ok();
                let other = match to.port() {
                    ALICE => Some(addr(BOB)),
                    BOB => Some(addr(ALICE)),
                    _ => None,
                };
                let relayed = other
                    .and_then(|o| sent_by.get(&o))
                    .is_some_and(|v| v.contains(out));
                prop_assert!(answer || relayed, "{:02x?} to {} is neither", out, to);
            }
            prop_assert!(d.timeout.is_some_and(|t| t > now));
        }
        prop_assert!(r.stats().active_allocations <= 2);
    }
}

/// Drive an impaired call on the virtual clock: Alice sends `n` RTP packets 20 ms apart; the
/// relay is woken exactly at each timeout it asks for. Returns, per delivered packet, its
/// sequence number and hold time, in delivery order.
fn impaired_run(imp: Impairment, n: u16) -> (LocalRelay, Vec<(u16, Duration)>) {
    let mut r = LocalRelay::new(Config {
        impairment: imp,
        ..Config::new(KEY, vec![TOKEN.to_vec()])
    });
    paired_call(&mut r);
    let mut delivered = Vec::new();
    let mut collect = |d: &Drained, at: Instant| {
        for (to, bytes) in &d.sent {
            if *to == addr(BOB) {
                let seq = u16::from_be_bytes([bytes[2], bytes[3]]);
                assert_eq!(bytes, &rtp(seq, 0xAA), "forwarded unchanged");
                let sent = at_ms(100 + 20 * u64::from(seq));
                delivered.push((seq, at - sent));
            }
        }
    };
    let mut timeout = drain(&mut r).timeout.unwrap();
    for seq in 0..n {
        let now = at_ms(100 + 20 * u64::from(seq));
        while timeout <= now {
            r.handle_timeout(timeout);
            let d = drain(&mut r);
            collect(&d, timeout);
            timeout = d.timeout.unwrap();
        }
        if seq % 50 == 0 {
            // Keep the call alive as the clients do; the answers are not impaired.
            for (who, t) in [(ALICE, tx(1)), (BOB, tx(2))] {
                let d = feed(&mut r, now, who, &allocate(t, TOKEN, KEY));
                assert_eq!(only_response(&d, who).0, msg_type::ALLOCATE_SUCCESS);
            }
        }
        let d = feed(&mut r, now, ALICE, &rtp(seq, 0xAA));
        collect(&d, now);
        timeout = d.timeout.unwrap();
    }
    while r.stats().held > 0 {
        r.handle_timeout(timeout);
        let d = drain(&mut r);
        collect(&d, timeout);
        timeout = d.timeout.unwrap();
    }
    (r, delivered)
}

#[test]
fn impaired_forwarding_loses_delays_and_reorders_media() {
    let imp = Impairment {
        loss: 0.2,
        mean_burst_len: 1.0,
        delay: Duration::from_millis(30),
        jitter: Duration::from_millis(100),
        seed: 42,
    };
    let n = 3000u16;
    let (r, delivered) = impaired_run(imp, n);
    let s = r.stats();
    let lost = s.rejected.impairment_loss;
    assert_eq!(lost + delivered.len() as u64, u64::from(n));
    assert_eq!(s.forwarded_packets, delivered.len() as u64);
    let rate = lost as f64 / f64::from(n);
    assert!((0.17..0.23).contains(&rate), "loss {rate}");
    for (seq, hold) in &delivered {
        assert!(
            (30_000..=130_000).contains(&hold.total_micros()),
            "{seq} held {hold:?}"
        );
    }
    let mut seqs: Vec<u16> = delivered.iter().map(|d| d.0).collect();
    let overtaken = seqs.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(
        overtaken > 100,
        "100 ms of jitter over 20 ms spacing reorders: {overtaken}"
    );
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), delivered.len(), "nothing duplicated");
}

#[test]
fn bursty_loss_comes_in_runs_and_same_seed_same_outcome() {
    let imp = Impairment {
        loss: 0.1,
        mean_burst_len: 5.0,
        seed: 9,
        ..Impairment::NONE
    };
    let (r, delivered) = impaired_run(imp, 3000);
    let seqs: Vec<u16> = delivered.iter().map(|d| d.0).collect();
    // Without delay nothing is held or reordered.
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(delivered.iter().all(|d| d.1 == Duration::ZERO));
    let gaps: Vec<u16> = seqs
        .windows(2)
        .map(|w| w[1] - w[0] - 1)
        .filter(|g| *g > 0)
        .collect();
    let mean_gap = f64::from(gaps.iter().sum::<u16>()) / gaps.len() as f64;
    assert!((3.5..6.5).contains(&mean_gap), "mean burst {mean_gap}");
    let lost = r.stats().rejected.impairment_loss as f64 / 3000.0;
    assert!((0.06..0.14).contains(&lost), "loss {lost}");
    let (_, again) = impaired_run(imp, 3000);
    assert_eq!(again, delivered);
}

#[test]
fn consent_checks_go_out_on_the_interval_and_answers_are_counted() {
    let mut r = LocalRelay::new(Config {
        consent_interval: Some(Duration::from_secs(1)),
        ..Config::new(KEY, vec![TOKEN.to_vec()])
    });
    let d = feed(&mut r, at_ms(0), ALICE, &allocate(tx(1), TOKEN, KEY));
    assert_eq!(
        d.timeout,
        Some(at_ms(1000)),
        "the first check is the next deadline"
    );
    r.handle_timeout(at_ms(1000));
    let d = drain(&mut r);
    let (kind, check_tx, bytes) = only_response(&d, ALICE);
    assert_eq!(kind, msg_type::BINDING_REQUEST);
    let m = Message::new_checked(&bytes[..]).unwrap();
    m.verify_integrity(KEY).unwrap();
    m.verify_fingerprint().unwrap();
    assert_eq!(d.timeout, Some(at_ms(2000)));

    // The client's answer as the core builds it (same transaction id, MI and FP) is counted, and
    // not answered.
    let mut buf = [0u8; 64];
    let n = stun::binding_success(&mut buf, check_tx, KEY).unwrap();
    let d = feed(&mut r, at_ms(1010), ALICE, &buf[..n]);
    assert!(d.sent.is_empty());
    assert_eq!(r.stats().consent_answers, 1);
    // The same answer again, or from someone else, is stray.
    feed(&mut r, at_ms(1020), ALICE, &buf[..n]);
    feed(&mut r, at_ms(1030), BOB, &buf[..n]);
    assert_eq!(r.stats().rejected.unexpected_stun, 2);

    // The next check, answered under the wrong key, is not counted.
    r.handle_timeout(at_ms(2000));
    let d = drain(&mut r);
    let (_, second_tx, _) = only_response(&d, ALICE);
    assert_ne!(second_tx, check_tx, "each check has a fresh transaction id");
    let n = stun::binding_success(&mut buf, second_tx, b"wrong key").unwrap();
    feed(&mut r, at_ms(2010), ALICE, &buf[..n]);
    let s = r.stats();
    assert_eq!((s.consent_checks, s.consent_answers), (2, 1));
    assert_eq!(s.rejected.bad_integrity, 1);
    // A correct late answer is still taken.
    let n = stun::binding_success(&mut buf, second_tx, KEY).unwrap();
    feed(&mut r, at_ms(2020), ALICE, &buf[..n]);
    assert_eq!(r.stats().consent_answers, 2);
}

#[test]
fn no_consent_checks_unless_configured() {
    let mut r = relay();
    paired_call(&mut r);
    r.handle_timeout(at_ms(4000));
    assert!(drain(&mut r).sent.is_empty());
    assert_eq!(r.stats().consent_checks, 0);
}
