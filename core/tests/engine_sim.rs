//! Two media engines and a relay model on a simulated network (virtual clock, bounded steps).
//!
//! The relay model checks each allocate's MESSAGE-INTEGRITY against the relay key, answers with
//! a success (or an error, or nothing) carrying the request's transaction id, sends one binding
//! request to each client and forwards every non-STUN datagram between the two allocations.
//! The relay→client links carry the impairment of each profile. Every profile asserts that
//! playout never stalls (one 20 ms frame every 20 ms), bounds the concealed time, and prints its
//! figures (`cargo test --test engine_sim -- --nocapture`).

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use wacall_core::keys::{CallKey, ParticipantId};
use wacall_core::media::codec::{AudioEncoder, EncodeError, InterimCodec};
use wacall_core::media::engine::{AudioFormat, Config, Engine, Event, Input, NEVER, Output, Stats};
use wacall_core::media::playout::{DecodeError, Decoder};
use wacall_core::mlow;
use wacall_core::stun::{self, Attribute, msg_type};
use wacall_core::time::{Duration, Instant};
use wacall_testkit::netsim::{GilbertElliott, Link, LinkConfig, Sim};

type Eng = Engine<Enc, Dec>;

/// The send codec of a simulated side: the interim codec or MLow's encoder (boxed: 51 KB).
// Interim inline keeps the engine size test about the interim engine as before.
#[allow(clippy::large_enum_variant)]
enum Enc {
    Interim(InterimCodec),
    Mlow(Box<mlow::encoder::Encoder>),
}

impl AudioEncoder for Enc {
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, EncodeError> {
        match self {
            Enc::Interim(c) => AudioEncoder::encode(c, pcm, out),
            Enc::Mlow(c) => AudioEncoder::encode(&mut **c, pcm, out),
        }
    }
}

/// The receive codec of a simulated side.
#[allow(clippy::large_enum_variant)]
enum Dec {
    Interim(InterimCodec),
    Mlow(Box<mlow::Decoder>),
}

impl Decoder for Dec {
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<(), DecodeError> {
        match self {
            Dec::Interim(c) => Decoder::decode(c, payload, out),
            Dec::Mlow(c) => Decoder::decode(&mut **c, payload, out),
        }
    }

    fn conceal(&mut self, out: &mut [i16]) {
        match self {
            Dec::Interim(c) => c.conceal(out),
            Dec::Mlow(c) => Decoder::conceal(&mut **c, out),
        }
    }
}

/// Which codec both sides run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Codec {
    Interim,
    Mlow,
}

const RELAY_KEY: &[u8] = b"c2VjcmV0LXJlbGF5LWtleQ==";
const TOKEN: &[u8] = b"relay-token-bytes";
const TICK_MS: u64 = 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RelayMode {
    Answer,
    Silent,
    Refuse(u16),
}

struct Relay {
    mode: RelayMode,
    allocated: [bool; 2],
    allocates: [u64; 2],
    pings: [u64; 2],
    binding_successes: [u64; 2],
    binding_txid: [u8; 12],
}

impl Relay {
    fn new(mode: RelayMode) -> Self {
        Relay {
            mode,
            allocated: [false; 2],
            allocates: [0; 2],
            pings: [0; 2],
            binding_successes: [0; 2],
            binding_txid: [7; 12],
        }
    }

    /// Handle a datagram from client `from`; returns (to client, bytes) to send.
    fn on_datagram(&mut self, from: usize, bytes: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        if bytes[0] & 0xC0 != 0 {
            if self.allocated[from] && self.allocated[1 - from] {
                out.push((1 - from, bytes.to_vec()));
            }
            return out;
        }
        let msg = stun::Message::new_checked(bytes).expect("clients send well-formed STUN");
        let txid = msg.transaction_id();
        match msg.message_type() {
            msg_type::ALLOCATE_REQUEST => {
                msg.verify_integrity(RELAY_KEY)
                    .expect("allocate integrity under the relay key");
                assert!(matches!(
                    msg.find(stun::attr::RELAY_TOKEN),
                    Some(Ok(Attribute::RelayToken(TOKEN)))
                ));
                self.allocates[from] += 1;
                let mut buf = [0u8; 256];
                match self.mode {
                    RelayMode::Silent => {}
                    RelayMode::Answer => {
                        let mut b =
                            stun::Builder::new(&mut buf, msg_type::ALLOCATE_SUCCESS, txid).unwrap();
                        b.integrity(RELAY_KEY).unwrap();
                        let n = b.finish();
                        out.push((from, buf[..n].to_vec()));
                        if !self.allocated[from] {
                            self.allocated[from] = true;
                            // A consent check the client must answer.
                            let mut b = stun::Builder::new(
                                &mut buf,
                                msg_type::BINDING_REQUEST,
                                self.binding_txid,
                            )
                            .unwrap();
                            b.integrity(RELAY_KEY).unwrap();
                            let n = b.finish();
                            out.push((from, buf[..n].to_vec()));
                        }
                    }
                    RelayMode::Refuse(code) => {
                        let mut b =
                            stun::Builder::new(&mut buf, msg_type::ALLOCATE_ERROR, txid).unwrap();
                        b.attribute(&Attribute::ErrorCode {
                            code,
                            reason: b"Forbidden",
                        })
                        .unwrap();
                        b.integrity(RELAY_KEY).unwrap();
                        let n = b.finish();
                        out.push((from, buf[..n].to_vec()));
                    }
                }
            }
            msg_type::BINDING_SUCCESS => {
                assert_eq!(txid, self.binding_txid);
                msg.verify_integrity(RELAY_KEY).expect("binding success MI");
                msg.verify_fingerprint().expect("binding success FP");
                self.binding_successes[from] += 1;
            }
            msg_type::WA_PING => {
                assert_eq!(msg.body_len(), 0);
                self.pings[from] += 1;
            }
            t => panic!("unexpected STUN type {t:#06x} from a client"),
        }
        out
    }
}

/// Everything one side saw.
#[derive(Default)]
struct Side {
    heard: Vec<i16>,
    playout_times: Vec<Instant>,
    events: Vec<(Instant, Event)>,
    timeout: Option<Instant>,
    mic_pos: usize,
}

impl Side {
    fn last_stats(&self) -> Stats {
        self.events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                Event::Stats(s) => Some(*s),
                _ => None,
            })
            .expect("a stats event")
    }

    fn stats_events(&self) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Stats(_)))
            .count()
    }
}

struct Profile {
    name: &'static str,
    /// Impairment of both relay→client links.
    link: LinkConfig,
    relay: RelayMode,
    red: bool,
    codec: Codec,
    secs: u64,
    seed: u64,
}

impl Profile {
    fn new(name: &'static str, link: LinkConfig) -> Self {
        Profile {
            name,
            link,
            relay: RelayMode::Answer,
            red: true,
            codec: Codec::Interim,
            secs: 8,
            seed: 1,
        }
    }
}

/// Extra datagrams injected towards side 1 while the call runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attack {
    None,
    /// Every 7th forwarded RTP/RTCP datagram is also delivered with one bit flipped.
    BitFlips,
    /// Every 5th forwarded datagram is delivered again (a replay) 200 ms later.
    Replays,
    /// Random garbage of random length every 10 ms.
    Garbage,
    /// Every 7th forwarded RTP packet is followed by a forgery: the same header (peer SSRC, a
    /// fresh sequence number) with a random payload, protected under a wrong key.
    Forged,
}

struct Run {
    sides: [Side; 2],
    engines: [Box<Eng>; 2],
    relay: Relay,
    injected: u64,
    end: Instant,
}

fn engine(side: usize, now: Instant, red: bool) -> Box<Eng> {
    engine_with(side, now, red, Codec::Interim)
}

fn engine_with(side: usize, now: Instant, red: bool, codec: Codec) -> Box<Eng> {
    let ids = [
        ParticipantId::normalize("111111111111111@lid").unwrap(),
        ParticipantId::normalize("222222222222222@lid").unwrap(),
    ];
    let key = CallKey::new([0x5A; 32]);
    let mut random = [0u8; 32];
    ChaCha8Rng::seed_from_u64(side as u64 + 100).fill_bytes(&mut random);
    let cfg = Config {
        call_id: "5D3E0C4A8B7F2E1D9C6B5A4F3E2D1C0B",
        call_key: &key,
        own_id: &ids[side],
        peer_id: &ids[1 - side],
        relay_token: TOKEN,
        relay_key: RELAY_KEY,
        relay_endpoint: "10.0.0.1:3480".parse().unwrap(),
        audio: AudioFormat { packet_ms: 60, red },
        srtp_tag_len_bytes: 4,
        wall_clock_unix_ms: 1_764_000_000_000,
        random,
    };
    let (enc, dec) = match codec {
        Codec::Interim => (
            Enc::Interim(InterimCodec::new()),
            Dec::Interim(InterimCodec::new()),
        ),
        Codec::Mlow => {
            let duration = mlow::encoder::PacketDuration::from_ms(cfg.audio.packet_ms).unwrap();
            let mc = mlow::encoder::Config {
                duration,
                ..mlow::encoder::Config::default()
            };
            (
                Enc::Mlow(Box::new(mlow::encoder::Encoder::new(mc))),
                Dec::Mlow(Box::new(mlow::Decoder::new())),
            )
        }
    };
    Box::new(Engine::new(now, &cfg, enc, dec).unwrap())
}

/// Drain one engine; its transmits go onto `up` (client→relay).
fn drain(e: &mut Eng, now: Instant, side: &mut Side, up: &mut Link<Vec<u8>>) {
    loop {
        match e.poll_output() {
            Output::Transmit(b) => up.send(now, b.to_vec()),
            Output::Playout(pcm) => {
                side.heard.extend_from_slice(pcm);
                side.playout_times.push(now);
            }
            Output::Event(ev) => side.events.push((now, ev)),
            Output::Timeout(at) => {
                assert!(at >= now || at == NEVER || at == now, "timeout in the past");
                side.timeout = Some(at);
                return;
            }
        }
    }
}

fn speech() -> [Vec<i16>; 2] {
    [
        wacall_testkit::quality::speech("en-male"),
        wacall_testkit::quality::speech("en-female"),
    ]
}

fn run(p: &Profile, attack: Attack) -> Run {
    let voices = speech();
    let t0 = Instant::ZERO;
    let mut engines = [
        engine_with(0, t0, p.red, p.codec),
        engine_with(1, t0, p.red, p.codec),
    ];
    let mut relay = Relay::new(p.relay);
    let hop = LinkConfig {
        delay: Duration::from_millis(25),
        ..LinkConfig::default()
    };
    let mut up: [Link<Vec<u8>>; 2] = [
        Link::seeded(hop.clone(), p.seed * 10 + 1),
        Link::seeded(hop, p.seed * 10 + 2),
    ];
    let mut down_cfg = p.link.clone();
    down_cfg.delay = down_cfg.delay + Duration::from_millis(25);
    let mut down: [Link<Vec<u8>>; 2] = [
        Link::seeded(down_cfg.clone(), p.seed * 10 + 3),
        Link::seeded(down_cfg, p.seed * 10 + 4),
    ];
    let mut sides = [Side::default(), Side::default()];
    let mut sim = Sim::new(t0, 2_000_000);
    let end = Instant::from_millis(p.secs * 1000);
    let mut mic_at = t0;
    let mut garbage_at = t0;
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed ^ 0xA77AC);
    let mut forwarded = 0u64;
    let mut injected = 0u64;
    // Replays waiting for their time: (at, to side, bytes).
    let mut pending: Vec<(Instant, usize, Vec<u8>)> = Vec::new();
    for (i, e) in engines.iter_mut().enumerate() {
        drain(e, t0, &mut sides[i], &mut up[i]);
    }
    while sim.advance(
        [
            sides[0].timeout,
            sides[1].timeout,
            Some(mic_at),
            (attack == Attack::Garbage).then_some(garbage_at),
            pending.iter().map(|x| x.0).min(),
            up[0].next_delivery(),
            up[1].next_delivery(),
            down[0].next_delivery(),
            down[1].next_delivery(),
        ],
        end,
    ) {
        let now = sim.now();
        for (from, link) in up.iter_mut().enumerate() {
            while let Some(d) = link.poll_delivery(now) {
                for (to, bytes) in relay.on_datagram(from, &d) {
                    if to == 1 && bytes[0] & 0xC0 != 0 {
                        forwarded += 1;
                        match attack {
                            Attack::BitFlips if forwarded.is_multiple_of(7) => {
                                let mut bad = bytes.clone();
                                let bit = rng.next_u32() as usize % (bad.len() * 8);
                                // Keep byte 0 (the demux class) so it reaches SRTP/SRTCP.
                                let bit = bit.max(8);
                                bad[bit / 8] ^= 1 << (bit % 8);
                                pending.push((now, 1, bad));
                                injected += 1;
                            }
                            Attack::Forged
                                if forwarded.is_multiple_of(7)
                                    && (120..=121).contains(&(bytes[1] & 0x7F)) =>
                            {
                                let mut f = bytes[..16].to_vec();
                                let seq = u16::from_be_bytes([f[2], f[3]]).wrapping_add(1);
                                f[2..4].copy_from_slice(&seq.to_be_bytes());
                                f.resize(16 + 100, 0);
                                rng.fill_bytes(&mut f[16..]);
                                let ssrc = u32::from_be_bytes(f[8..12].try_into().unwrap());
                                let wrong = wacall_core::keys::SrtpMaster::new([1; 16], [2; 14]);
                                let mut tx = wacall_core::srtp::SrtpSender::new(
                                    &wrong,
                                    ssrc,
                                    wacall_core::srtp::Config::WHATSAPP,
                                );
                                f.resize(16 + 100 + 4, 0);
                                let n = tx.protect_rtp(&mut f, 116).unwrap();
                                f.truncate(n);
                                pending.push((now, 1, f));
                                injected += 1;
                            }
                            Attack::Replays if forwarded.is_multiple_of(5) => {
                                pending.push((now + Duration::from_millis(200), 1, bytes.clone()));
                                injected += 1;
                            }
                            _ => {}
                        }
                    }
                    down[to].send(now, bytes);
                }
            }
        }
        pending.sort_by_key(|x| x.0);
        while pending.first().is_some_and(|x| x.0 <= now) {
            let (_, to, bytes) = pending.remove(0);
            engines[to].handle_input(now, Input::Datagram(&bytes));
        }
        if attack == Attack::Garbage && garbage_at <= now {
            let len = rng.next_u32() as usize % 200;
            let mut g = vec![0u8; len];
            rng.fill_bytes(&mut g);
            // Half of it dressed up as RTP/RTCP/STUN to reach the deeper parsers.
            match rng.next_u32() % 4 {
                0 if len > 1 => g[0] = 0x90,
                1 if len > 1 => g[0] &= 0x3F,
                2 if len > 1 => {
                    g[0] = 0x80;
                    g[1] = 200;
                }
                _ => {}
            }
            engines[1].handle_input(now, Input::Datagram(&g));
            injected += 1;
            garbage_at = now + Duration::from_millis(10);
        }
        for to in 0..2 {
            while let Some(d) = down[to].poll_delivery(now) {
                engines[to].handle_input(now, Input::Datagram(&d));
            }
        }
        if mic_at <= now {
            for (i, e) in engines.iter_mut().enumerate() {
                let v = &voices[i];
                let mut frame = [0i16; 320];
                for s in frame.iter_mut() {
                    *s = v[sides[i].mic_pos % v.len()];
                    sides[i].mic_pos += 1;
                }
                e.handle_input(now, Input::MicFrame(&frame));
            }
            mic_at = now + Duration::from_millis(TICK_MS);
        }
        for (i, e) in engines.iter_mut().enumerate() {
            e.handle_input(now, Input::Timeout);
            drain(e, now, &mut sides[i], &mut up[i]);
        }
    }
    Run {
        sides,
        engines,
        relay,
        injected,
        end,
    }
}

/// One playout frame every 20 ms from the first tick to the end: never a stall, never a burst.
fn assert_never_stalls(name: &str, s: &Side, end: Instant) {
    let t = &s.playout_times;
    for w in t.windows(2) {
        assert_eq!(
            w[1] - w[0],
            Duration::from_millis(TICK_MS),
            "{name}: playout gap at {:?}",
            w[0]
        );
    }
    let expected = end.total_millis() / TICK_MS;
    assert!(
        t.len() as u64 >= expected,
        "{name}: {} playout frames, expected {expected}",
        t.len()
    );
}

struct Figures {
    concealed_pct: f64,
    lost_pct: f64,
    recovered: u64,
    target_ms: u32,
    rtt_ms: Option<u32>,
    stats: Stats,
}

fn report(p: &Profile, r: &mut Run) -> Figures {
    let s = r.engines[1].stats(r.end);
    // Audio time after the first decoded packet can arrive (allocation ~0.1 s, priming).
    let audio_ms = (r.end.total_millis() - 300) as f64;
    let f = Figures {
        concealed_pct: 100.0 * s.concealed_ms as f64 / audio_ms,
        lost_pct: 100.0 * s.lost_ms as f64 / audio_ms,
        recovered: s.packets_recovered,
        target_ms: s.jitter_target_ms,
        rtt_ms: s.rtt_ms,
        stats: s,
    };
    println!(
        "{:<22} sent {:>4} recv {:>4} recovered {:>3} | concealed {:>5.1} % (lost {:>5.1} %) | \
         jb target {:>3} ms level {:>3} ms | jitter {:>3} ms | rtt {:?} ms | loss {}/256 | \
         {} kbit/s | rejects {}",
        p.name,
        r.engines[0].stats(r.end).packets_sent,
        s.packets_received,
        f.recovered,
        f.concealed_pct,
        f.lost_pct,
        s.jitter_target_ms,
        s.jitter_level_ms,
        s.jitter_ms,
        s.rtt_ms,
        // Over the last full RTCP interval.
        r.sides[1].last_stats().fraction_lost,
        r.sides[1].last_stats().recv_bitrate_bps / 1000,
        s.rejects.datagrams(),
    );
    f
}

fn call(p: &Profile) -> (Run, Figures) {
    let mut r = run(p, Attack::None);
    for (i, s) in r.sides.iter().enumerate() {
        assert_never_stalls(p.name, s, r.end);
        assert_eq!(
            s.events.first().map(|e| e.1),
            Some(Event::Allocated),
            "side {i}"
        );
        assert!(s.stats_events() >= (p.secs * 1000 / 1500 - 1) as usize);
        assert!(s.last_stats().allocated);
        let rejects = r.engines[i].stats(r.end).rejects;
        // Only the link's duplicates may be refused (as SRTP replays).
        assert_eq!(
            rejects.datagrams(),
            rejects.replayed,
            "{}: {rejects:?}",
            p.name
        );
        if p.link.duplicate == 0.0 {
            assert_eq!(rejects.replayed, 0);
        }
    }
    let f = report(p, &mut r);
    (r, f)
}

#[test]
fn clean_link_plays_everything_and_measures_rtt() {
    let p = Profile::new("clean", LinkConfig::default());
    let (r, f) = call(&p);
    assert!(f.concealed_pct < 2.0, "concealed {}", f.concealed_pct);
    assert_eq!(f.stats.cumulative_lost, 0);
    // Four 25 ms hops there and back.
    let rtt = f.rtt_ms.expect("rtt measured");
    assert!((95..=110).contains(&rtt), "rtt {rtt}");
    assert!(f.target_ms <= 40, "target {}", f.target_ms);
    // Relay lifecycle: one allocate per second, a ping with each keepalive, the binding
    // request answered.
    for i in 0..2 {
        assert!(
            (7..=9).contains(&r.relay.allocates[i]),
            "{:?}",
            r.relay.allocates
        );
        assert!(r.relay.pings[i] >= 7);
        assert_eq!(r.relay.binding_successes[i], 1);
    }
    // The heard audio is the sent speech (interim codec), delayed: check it correlates.
    let sent = &speech()[0];
    let heard = &r.sides[1].heard;
    let n = 16_000 * 5;
    let lag = lag_of(sent, heard);
    let c = wacall_testkit::quality::correlation(&sent[..n], &heard[lag..lag + n]);
    println!("clean: lag {} ms, correlation {c:.3}", lag / 16);
    assert!(c > 0.8, "correlation {c}");
    assert!(r.engines[1].is_allocated());
}

#[test]
fn twenty_percent_random_loss_is_concealed_and_red_recovers() {
    let link = LinkConfig {
        loss: 0.2,
        ..LinkConfig::default()
    };
    let (_, with_red) = call(&Profile::new("20% loss, RED", link.clone()));
    let mut p = Profile::new("20% loss, no RED", link);
    p.red = false;
    let (_, without) = call(&p);
    // Without redundancy about a fifth of the audio is concealed; with it, mostly the packets
    // whose successor was lost too (about 4 %).
    assert!(
        (14.0..=26.0).contains(&without.concealed_pct),
        "{}",
        without.concealed_pct
    );
    assert!(with_red.concealed_pct < 10.0, "{}", with_red.concealed_pct);
    assert!(with_red.recovered > 12);
    assert!(with_red.stats.fraction_lost > 20);
}

#[test]
fn hundred_ms_jitter_with_reordering_grows_the_buffer() {
    let link = LinkConfig {
        jitter: Duration::from_millis(100),
        reorder: 0.05,
        reorder_delay: Duration::from_millis(80),
        duplicate: 0.05,
        ..LinkConfig::default()
    };
    let (_, f) = call(&Profile::new("100ms jitter+reorder", link));
    assert!(f.target_ms >= 60, "target {}", f.target_ms);
    assert!(f.target_ms <= 250, "target {}", f.target_ms);
    assert!(f.concealed_pct < 10.0, "concealed {}", f.concealed_pct);
    assert!(f.stats.jitter_ms >= 10, "jitter {}", f.stats.jitter_ms);
}

#[test]
fn one_second_outage_is_bridged() {
    let link = LinkConfig {
        outages: vec![(Instant::from_millis(5000), Instant::from_millis(6000))],
        ..LinkConfig::default()
    };
    let (_, f) = call(&Profile::new("1 s outage", link));
    // The outage itself plus at most a few packets around it.
    assert!(
        (900..=1400).contains(&f.stats.concealed_ms),
        "{}",
        f.stats.concealed_ms
    );
}

#[test]
fn burst_loss_is_concealed_within_bounds() {
    let link = LinkConfig {
        burst: Some(GilbertElliott::bursts(0.1, 3.0)),
        ..LinkConfig::default()
    };
    let mut p = Profile::new("10% bursts of 3", link);
    p.secs = 12;
    let (_, f) = call(&p);
    assert!(f.lost_pct < 14.0, "{}", f.lost_pct);
    assert!(f.concealed_pct < 16.0, "{}", f.concealed_pct);
}

#[test]
fn corrupted_packets_are_rejected_and_counted() {
    let p = Profile::new("bit flips", LinkConfig::default());
    let mut r = run(&p, Attack::BitFlips);
    let s = r.engines[1].stats(r.end);
    assert_never_stalls(p.name, &r.sides[1], r.end);
    assert!(r.injected > 12);
    // Every flipped copy is refused: by the tag, or earlier (unknown SSRC, payload type).
    assert_eq!(s.rejects.datagrams(), r.injected, "{:?}", s.rejects);
    assert!(s.rejects.auth_failed > r.injected / 2);
    report(&p, &mut r);
    assert!(s.concealed_ms < 200);
}

#[test]
fn forged_packets_are_rejected_and_counted() {
    let p = Profile::new("forged", LinkConfig::default());
    let mut r = run(&p, Attack::Forged);
    let s = r.engines[1].stats(r.end);
    assert_never_stalls(p.name, &r.sides[1], r.end);
    assert!(r.injected > 12);
    assert_eq!(s.rejects.auth_failed, r.injected, "{:?}", s.rejects);
    assert_eq!(s.rejects.datagrams(), r.injected);
    report(&p, &mut r);
    assert!(s.concealed_ms < 200);
}

#[test]
fn replayed_packets_are_rejected_and_counted() {
    let p = Profile::new("replays", LinkConfig::default());
    let mut r = run(&p, Attack::Replays);
    let s = r.engines[1].stats(r.end);
    assert_never_stalls(p.name, &r.sides[1], r.end);
    assert!(r.injected > 20);
    assert_eq!(s.rejects.replayed, s.rejects.datagrams());
    // Replays still pending at the end of the run were never delivered.
    assert!(r.injected - s.rejects.replayed <= 1, "{:?}", s.rejects);
}

#[test]
fn garbage_never_panics_and_audio_continues() {
    let p = Profile::new("garbage", LinkConfig::default());
    let mut r = run(&p, Attack::Garbage);
    let s = r.engines[1].stats(r.end);
    assert_never_stalls(p.name, &r.sides[1], r.end);
    assert!(r.injected > 700);
    assert_eq!(s.rejects.datagrams(), r.injected, "{:?}", s.rejects);
    report(&p, &mut r);
    assert!(s.concealed_ms < 200);
}

#[test]
fn silent_relay_times_out_after_ten_seconds() {
    let mut p = Profile::new("silent relay", LinkConfig::default());
    p.relay = RelayMode::Silent;
    p.secs = 11;
    let r = run(&p, Attack::None);
    for s in &r.sides {
        assert_eq!(
            s.events,
            vec![(Instant::from_millis(10_000), Event::AllocateTimedOut)]
        );
        assert_eq!(s.timeout, Some(NEVER));
    }
    // Allocate at 0 s and at every keepalive up to 9 s; nothing after the deadline.
    assert_eq!(r.relay.allocates, [10, 10]);
    assert!(r.engines[0].is_inert());
}

#[test]
fn allocate_error_is_reported_with_its_code() {
    let mut p = Profile::new("refusing relay", LinkConfig::default());
    p.relay = RelayMode::Refuse(403);
    p.secs = 3;
    let r = run(&p, Attack::None);
    for s in &r.sides {
        assert_eq!(s.events.len(), 1);
        assert_eq!(s.events[0].1, Event::AllocateFailed(403));
        assert_eq!(s.timeout, Some(NEVER));
    }
    assert_eq!(r.relay.allocates, [1, 1]);
}

#[test]
fn jitter_buffer_depth_tracks_the_jitter() {
    let mut targets = Vec::new();
    for (ms, name) in [
        (0, "jitter 0 ms"),
        (40, "jitter 40 ms"),
        (100, "jitter 100 ms"),
    ] {
        let link = LinkConfig {
            jitter: Duration::from_millis(ms),
            ..LinkConfig::default()
        };
        let (_, f) = call(&Profile::new(name, link));
        targets.push(f.target_ms);
    }
    println!("jitter 0/40/100 ms -> targets {targets:?} ms");
    assert!(targets.windows(2).all(|w| w[0] < w[1]), "{targets:?}");
    assert!(targets[0] <= 40 && (20..=90).contains(&targets[1]) && targets[2] >= 60);
}

/// Mouth-to-ear delay in samples: where half a second of speech from 1 s in shows up (searched
/// up to 375 ms; a short window keeps the search cheap in debug builds).
fn lag_of(sent: &[i16], heard: &[i16]) -> usize {
    let (at, m, max) = (16_000, 8_000, 6_000);
    wacall_testkit::quality::best_lag(&sent[at..at + m], &heard[at..at + m + max], max)
}

/// Wideband PESQ of what side 1 heard against the first 5 s side 0 sent.
fn pesq_heard(r: &Run) -> f32 {
    let sent = &speech()[0];
    let heard = &r.sides[1].heard;
    let n = 16_000 * 5;
    let lag = lag_of(sent, heard);
    wacall_testkit::quality::pesq_wb(&sent[..n], &heard[lag..lag + n]).unwrap()
}

#[test]
fn speech_quality_under_loss_with_and_without_redundancy() {
    let loss = LinkConfig {
        loss: 0.2,
        ..LinkConfig::default()
    };
    let clean = pesq_heard(&run(
        &Profile::new("clean", LinkConfig::default()),
        Attack::None,
    ));
    let red = pesq_heard(&run(&Profile::new("loss red", loss.clone()), Attack::None));
    let mut p = Profile::new("loss no red", loss);
    p.red = false;
    let bare = pesq_heard(&run(&p, Attack::None));
    println!(
        "PESQ-WB (interim codec): clean {clean:.2}, 20% loss + RED {red:.2}, 20% loss {bare:.2}"
    );
    assert!(clean > red && red > bare, "{clean} {red} {bare}");
}

#[test]
fn a_late_host_gets_one_tick_not_a_backlog_and_timeout_comes_last() {
    let mut e = engine(0, Instant::ZERO, true);
    let mut kinds = Vec::new();
    loop {
        match e.poll_output() {
            Output::Transmit(_) => kinds.push('T'),
            Output::Playout(_) => kinds.push('P'),
            Output::Event(_) => kinds.push('E'),
            Output::Timeout(at) => {
                assert_eq!(at, Instant::ZERO, "the first playout tick is due at once");
                break;
            }
        }
    }
    assert_eq!(kinds, ['T'], "the allocate goes out at creation");
    let mut buf = [0u8; 64];
    let mut b = stun::Builder::new(
        &mut buf,
        msg_type::ALLOCATE_SUCCESS,
        e.allocate_transaction_id(),
    )
    .unwrap();
    b.integrity(RELAY_KEY).unwrap();
    let n = b.finish();
    e.handle_input(Instant::from_millis(1), Input::Datagram(&buf[..n]));
    let mut side = Side::default();
    let mut up: Link<Vec<u8>> = Link::seeded(LinkConfig::default(), 0);
    drain(&mut e, Instant::from_millis(1), &mut side, &mut up);
    assert_eq!(side.events[0].1, Event::Allocated);
    // The SDES at allocation and one playout tick; next: the playout at 20 ms.
    assert_eq!((up.stats().sent, side.playout_times.len()), (1, 1));
    assert_eq!(
        side.timeout,
        Some(Instant::from_millis(20)),
        "ticks stay on the 20 ms grid"
    );
    // The host sleeps 5 s: one tick, one keepalive (allocate + ping), one RTCP report.
    let late = Instant::from_millis(5000);
    e.handle_input(late, Input::Timeout);
    drain(&mut e, late, &mut side, &mut up);
    assert_eq!(side.playout_times.len(), 2);
    assert_eq!(up.stats().sent, 1 + 3);
    assert_eq!(side.timeout, Some(late + Duration::from_millis(20)));
}

/// The send path checked by an independent SRTP implementation (webrtc-srtp): the engine's
/// datagrams decrypt under the WAHKDF key of its own id, with WhatsApp's header forms, the
/// derived SSRC, sequence from 1, +960 per 60 ms packet, the DTX header for SID, and SplitRed
/// envelopes whose frames are the codec's own output.
#[test]
fn sent_packets_decrypt_with_an_independent_srtp() {
    use wacall_core::keys::SrtpMaster;
    use wacall_core::media::codec::AudioEncoder;
    use wacall_core::red::SplitRed;
    use webrtc_srtp::context::Context;
    use webrtc_srtp::protection_profile::ProtectionProfile;

    let mut e = engine(0, Instant::ZERO, true);
    let mut buf = [0u8; 64];
    let mut b = stun::Builder::new(
        &mut buf,
        msg_type::ALLOCATE_SUCCESS,
        e.allocate_transaction_id(),
    )
    .unwrap();
    b.integrity(RELAY_KEY).unwrap();
    let n = b.finish();
    let mut side = Side::default();
    let mut up: Link<Vec<u8>> = Link::seeded(LinkConfig::default(), 0);
    e.handle_input(Instant::ZERO, Input::Datagram(&buf[..n]));
    drain(&mut e, Instant::ZERO, &mut side, &mut up);
    let voice = &speech()[0];
    // 1.2 s of speech, then 0.6 s of silence (SID), then speech again.
    let mut pcm: Vec<i16> = voice[16_000..16_000 + 19_200].to_vec();
    pcm.extend(std::iter::repeat_n(0, 9_600));
    pcm.extend_from_slice(&voice[40_000..40_000 + 9_600]);
    let mut sent = Vec::new();
    for (k, frame) in pcm.chunks_exact(320).enumerate() {
        let now = Instant::from_millis(20 * k as u64);
        e.handle_input(now, Input::MicFrame(frame));
        drain(&mut e, now, &mut side, &mut up);
    }
    let now = Instant::from_millis(3000);
    while let Some(d) = up.poll_delivery(now) {
        sent.push(d);
    }
    let ids = [
        ParticipantId::normalize("111111111111111@lid").unwrap(),
        ParticipantId::normalize("222222222222222@lid").unwrap(),
    ];
    let master = SrtpMaster::wahkdf(&CallKey::new([0x5A; 32]), &ids[0]);
    let mut theirs = Context::new(
        master.key(),
        master.salt(),
        ProtectionProfile::Aes128CmHmacSha1_32,
        None,
        None,
    )
    .unwrap();
    let ssrc = wacall_core::keys::ssrc(0, "5D3E0C4A8B7F2E1D9C6B5A4F3E2D1C0B", &ids[0]);
    let mut codec = InterimCodec::new();
    let mut expect_seq = 1u16;
    let mut prev_frame: Option<Vec<u8>> = None;
    let mut rtcp = 0;
    let mut sids = 0;
    for d in &sent {
        if d[0] & 0xC0 == 0 {
            continue; // STUN keepalive
        }
        if (200..=204).contains(&d[1]) {
            let plain = theirs.decrypt_rtcp(d).expect("SRTCP decrypts");
            assert_eq!(u32::from_be_bytes(plain[4..8].try_into().unwrap()), ssrc);
            rtcp += 1;
            continue;
        }
        let plain = theirs.decrypt_rtp(d).expect("SRTP decrypts");
        let (p, hdr) = (&plain[..], usize::from(plain[15]) * 4 + 16);
        assert_eq!(p[1] & 0x7F, 121);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), expect_seq);
        let ts = u32::from_be_bytes(p[4..8].try_into().unwrap());
        assert_eq!(ts, u32::from(expect_seq - 1) * 960);
        assert_eq!(u32::from_be_bytes(p[8..12].try_into().unwrap()), ssrc);
        assert_eq!(&p[12..14], &[0xDE, 0xBE]);
        let k = usize::from(expect_seq - 1) * 960;
        let mut want = [0u8; 600];
        let wn = codec.encode(&pcm[k..k + 960], &mut want).unwrap();
        let env = SplitRed::parse(&p[hdr..]).unwrap();
        assert_eq!(env.main().data, &want[..wn]);
        let sid = wn == 1;
        // DTX header for SID, speech header otherwise.
        assert_eq!(
            &p[14..hdr],
            if sid {
                &[0, 1, 0x30, 1, 0, 0][..]
            } else {
                &[0, 0][..]
            }
        );
        let red: Vec<&[u8]> = env
            .frames()
            .take(env.redundant_count())
            .map(|f| f.data)
            .collect();
        match &prev_frame {
            Some(f) => assert_eq!(red, vec![&f[..]]),
            None => assert!(red.is_empty()),
        }
        prev_frame = (!sid).then(|| want[..wn].to_vec());
        sids += usize::from(sid);
        expect_seq += 1;
    }
    assert_eq!(expect_seq - 1, 40, "2.4 s of mic audio is 40 packets");
    assert_eq!(sids, 10, "0.6 s of silence is 10 SID packets");
    assert!(rtcp >= 2, "SDES at allocation and an SR at 1.5 s");
}

#[test]
fn bad_configs_are_typed_errors() {
    use wacall_core::media::engine::ConfigError;
    let ids = [
        ParticipantId::normalize("1@lid").unwrap(),
        ParticipantId::normalize("2@lid").unwrap(),
    ];
    let key = CallKey::new([1; 32]);
    let base = Config {
        call_id: "C",
        call_key: &key,
        own_id: &ids[0],
        peer_id: &ids[1],
        relay_token: TOKEN,
        relay_key: RELAY_KEY,
        relay_endpoint: "10.0.0.1:3480".parse().unwrap(),
        audio: AudioFormat::default(),
        srtp_tag_len_bytes: 4,
        wall_clock_unix_ms: 0,
        random: [0; 32],
    };
    let new = |c: &Config| {
        Engine::new(Instant::ZERO, c, InterimCodec::new(), InterimCodec::new()).map(|_| ())
    };
    assert_eq!(new(&base), Ok(()));
    let mut c = base.clone();
    c.audio.packet_ms = 40;
    assert_eq!(new(&c), Err(ConfigError::PacketDuration));
    let mut c = base.clone();
    c.srtp_tag_len_bytes = 21;
    assert_eq!(new(&c), Err(ConfigError::TagLength));
    let long = vec![7u8; 2000];
    let mut c = base.clone();
    c.relay_token = &long;
    assert!(matches!(new(&c), Err(ConfigError::Allocate(_))));
}

/// A 120 ms wideband packet does not fit the engine's payload slot: counted, nothing sent.
#[test]
fn encoder_failures_are_counted() {
    let ids = [
        ParticipantId::normalize("1@lid").unwrap(),
        ParticipantId::normalize("2@lid").unwrap(),
    ];
    let key = CallKey::new([1; 32]);
    let cfg = Config {
        call_id: "C",
        call_key: &key,
        own_id: &ids[0],
        peer_id: &ids[1],
        relay_token: TOKEN,
        relay_key: RELAY_KEY,
        relay_endpoint: "10.0.0.1:3480".parse().unwrap(),
        audio: AudioFormat {
            packet_ms: 120,
            red: false,
        },
        srtp_tag_len_bytes: 4,
        wall_clock_unix_ms: 0,
        random: [0; 32],
    };
    let mut e = Engine::new(
        Instant::ZERO,
        &cfg,
        Enc::Interim(InterimCodec::wideband()),
        Dec::Interim(InterimCodec::new()),
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let mut b = stun::Builder::new(
        &mut buf,
        msg_type::ALLOCATE_SUCCESS,
        e.allocate_transaction_id(),
    )
    .unwrap();
    b.integrity(RELAY_KEY).unwrap();
    let n = b.finish();
    e.handle_input(Instant::ZERO, Input::Datagram(&buf[..n]));
    let tone: Vec<i16> = (0..320).map(|i| ((i % 40) * 500 - 10_000) as i16).collect();
    for k in 0..6 {
        e.handle_input(Instant::from_millis(20 * k), Input::MicFrame(&tone));
    }
    let s = e.stats(Instant::from_millis(120));
    assert_eq!((s.rejects.encode_failed, s.packets_sent), (1, 0));
}

#[test]
fn engine_size_is_as_documented() {
    let bytes = std::mem::size_of::<Eng>();
    println!("Engine (interim codec or boxed MLow): {bytes} bytes");
    assert!(bytes < 56 * 1024, "{bytes}");
}

/// MLow both ways through the engine: on a clean link and with 10 % random loss (RED on) the
/// playout never stalls, and what side 1 hears keeps a PESQ-WB floor measured with this harness
/// (clean 2.88, 10 % loss 2.29 when set; floors a little below).
#[test]
fn mlow_both_ways_on_clean_and_lossy_links() {
    let mut clean = Profile::new("mlow clean", LinkConfig::default());
    clean.codec = Codec::Mlow;
    let (mut r, f) = call(&clean);
    let q_clean = pesq_heard(&r);
    // DTX gaps (the encoder returning 0) are neither encoder failures nor sequence gaps: the
    // receiver's RTCP sees no loss on the clean link, and fewer packets than packet times went out.
    let tx = r.engines[0].stats(r.end);
    assert_eq!(tx.rejects.encode_failed, 0);
    assert!(
        tx.packets_sent < clean.secs * 1000 / 60,
        "{}",
        tx.packets_sent
    );
    assert_eq!(r.sides[1].last_stats().fraction_lost, 0);
    // DTX gaps play comfort noise (counted as concealment), so only a loose bound here.
    assert!(f.concealed_pct < 10.0, "{}", f.concealed_pct);
    let mut lossy = Profile::new(
        "mlow 10% loss",
        LinkConfig {
            loss: 0.1,
            ..LinkConfig::default()
        },
    );
    lossy.codec = Codec::Mlow;
    let (r, f) = call(&lossy);
    let q_loss = pesq_heard(&r);
    assert!(f.recovered > 0);
    println!("PESQ-WB (MLow through the engine): clean {q_clean:.2}, 10% loss + RED {q_loss:.2}");
    assert!(q_clean > 2.7, "{q_clean}");
    assert!(q_loss > 2.1 && q_loss < q_clean, "{q_loss}");
}

/// Unrecovered losses are counted as loss: with 10 % random loss and no redundancy, the
/// receiver's `lost_ms` matches the packets that never arrived (60 ms each), though the jitter
/// buffer first played most of them as an underrun. Measured: 15 packets lost, 800 ms (before
/// the fix 260 ms); the bound allows two packets' worth uncredited (one may still be pending
/// at the end; the rest of the measured 100 ms shortfall is not yet explained).
#[test]
fn unrecovered_losses_are_counted_as_lost_time() {
    let mut p = Profile::new(
        "mlow 10% loss no red",
        LinkConfig {
            loss: 0.1,
            ..LinkConfig::default()
        },
    );
    p.codec = Codec::Mlow;
    p.red = false;
    let (mut r, f) = call(&p);
    let sent = r.engines[0].stats(r.end).packets_sent;
    let received = f.stats.packets_received;
    assert_eq!(f.recovered, 0);
    let lost = sent - received;
    println!("lost packets {lost}, lost_ms {}", f.stats.lost_ms);
    assert!(lost >= 5, "{lost}");
    assert!(
        (60 * (lost - 2)..=60 * lost).contains(&f.stats.lost_ms),
        "{lost} packets lost, lost_ms {}",
        f.stats.lost_ms
    );
}
