//! The engine's promise, measured with a counting global allocator: after `Engine::new`, neither
//! the send path (mic frames → encode → SplitRed → RTP → SRTP), the receive path (SRTP →
//! SplitRed recovery → jitter buffer → decode/conceal → playout), RTCP, keepalives nor binding
//! replies allocate; with the interim codec and with MLow's encoder and decoder.

use wacall_core::keys::{CallKey, ParticipantId};
use wacall_core::media::codec::{AudioEncoder, InterimCodec};
use wacall_core::media::engine::{AudioFormat, Config, Engine, Event, Input, Output};
use wacall_core::media::playout::Decoder;
use wacall_core::mlow;
use wacall_core::stun::{self, msg_type};
use wacall_core::time::{Duration, Instant};
use wacall_testkit::alloc_counter::{self, AllocStats, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const KEY: &[u8] = b"relay-key";

/// Datagrams one drain produced: fixed buffers, so draining does not allocate either.
struct Outbox {
    bufs: [[u8; 1500]; 16],
    lens: [usize; 16],
    n: usize,
    playouts: u64,
    stats_events: u64,
}

impl Outbox {
    fn new() -> Self {
        Outbox {
            bufs: [[0; 1500]; 16],
            lens: [0; 16],
            n: 0,
            playouts: 0,
            stats_events: 0,
        }
    }
}

fn drain<E: AudioEncoder, D: Decoder>(e: &mut Engine<E, D>, out: &mut Outbox) {
    out.n = 0;
    loop {
        match e.poll_output() {
            Output::Transmit(b) => {
                out.bufs[out.n][..b.len()].copy_from_slice(b);
                out.lens[out.n] = b.len();
                out.n += 1;
            }
            Output::Playout(_) => out.playouts += 1,
            Output::Event(Event::Stats(_)) => out.stats_events += 1,
            Output::Event(_) => {}
            Output::Timeout(_) => return,
        }
    }
}

fn engine<E: AudioEncoder, D: Decoder>(
    side: usize,
    ids: &[ParticipantId; 2],
    key: &CallKey,
    (enc, dec): (E, D),
) -> Box<Engine<E, D>> {
    let cfg = Config {
        call_id: "ABCDEF0123456789",
        call_key: key,
        own_id: &ids[side],
        peer_id: &ids[1 - side],
        relay_token: b"token",
        relay_key: KEY,
        relay_endpoint: "10.0.0.1:3480".parse().unwrap(),
        audio: AudioFormat::default(),
        srtp_tag_len_bytes: 4,
        wall_clock_unix_ms: 1_764_000_000_000,
        random: [side as u8 + 1; 32],
    };
    Box::new(Engine::new(Instant::ZERO, &cfg, enc, dec).unwrap())
}

fn stun_msg(kind: u16, txid: [u8; 12]) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let mut b = stun::Builder::new(&mut buf, kind, txid).unwrap();
    b.integrity(KEY).unwrap();
    let n = b.finish();
    buf[..n].to_vec()
}

#[test]
fn steady_state_send_and_receive_do_not_allocate() {
    steady_state(|| (InterimCodec::new(), InterimCodec::new()));
}

/// MLow's encoder and decoder are built (boxed) before the call; the packets do not allocate.
#[test]
fn steady_state_with_mlow_does_not_allocate() {
    steady_state(|| {
        (
            mlow::encoder::Encoder::new(mlow::encoder::Config::default()),
            mlow::Decoder::new(),
        )
    });
}

fn steady_state<E: AudioEncoder, D: Decoder>(codecs: impl Fn() -> (E, D)) {
    let ids = [
        ParticipantId::normalize("111@lid").unwrap(),
        ParticipantId::normalize("222@lid").unwrap(),
    ];
    let key = CallKey::new([9; 32]);
    let mut e = [
        engine(0, &ids, &key, codecs()),
        engine(1, &ids, &key, codecs()),
    ];
    let mut out = [Outbox::new(), Outbox::new()];
    for (i, eng) in e.iter_mut().enumerate() {
        let ok = stun_msg(msg_type::ALLOCATE_SUCCESS, eng.allocate_transaction_id());
        eng.handle_input(Instant::ZERO, Input::Datagram(&ok));
        drain(eng, &mut out[i]);
        assert!(eng.is_allocated());
    }
    let binding = stun_msg(msg_type::BINDING_REQUEST, [4; 12]);
    // A tone with pauses (speech and DTX packets).
    let pcm: Vec<[i16; 320]> = (0..50)
        .map(|f| {
            core::array::from_fn(|i| {
                if f % 10 < 7 {
                    let t = (f * 320 + i) as f64 / 16000.0;
                    (6000.0 * (2.0 * core::f64::consts::PI * 330.0 * t).sin()) as i16
                } else {
                    0
                }
            })
        })
        .collect();

    let mut total = AllocStats::default();
    let mut delivered = 0u64;
    let mut offered = 0u64;
    let mut bindings = 0u64;
    for tick in 0..400u64 {
        let now = Instant::ZERO + Duration::from_millis(20 * tick);
        let measuring = tick >= 150;
        let ((), s) = alloc_counter::count(|| {
            for i in 0..2 {
                e[i].handle_input(now, Input::MicFrame(&pcm[tick as usize % pcm.len()]));
                if tick % 25 == 0 && i == 0 {
                    e[0].handle_input(now, Input::Datagram(&binding));
                    bindings += 1;
                }
                e[i].handle_input(now, Input::Timeout);
                drain(&mut e[i], &mut out[i]);
            }
            // Deliver media directly to the peer, dropping every 9th datagram (RED recovers)
            // and the STUN meant for the relay.
            for from in 0..2 {
                for k in 0..out[from].n {
                    let d = &out[from].bufs[k][..out[from].lens[k]];
                    if d[0] & 0xC0 == 0 {
                        continue;
                    }
                    offered += 1;
                    if offered.is_multiple_of(9) {
                        continue;
                    }
                    e[1 - from].handle_input(now, Input::Datagram(d));
                    delivered += 1;
                }
            }
        });
        if measuring {
            total.allocs += s.allocs;
            total.reallocs += s.reallocs;
        }
    }
    let stats = e[1].stats(Instant::from_millis(8000));
    assert!(delivered > 200, "{delivered}");
    assert!(
        stats.packets_received > 100 && stats.packets_recovered > 5,
        "{stats:?}"
    );
    assert!(
        stats.decoded_ms > 5000 && stats.concealed_ms > 0,
        "{stats:?}"
    );
    assert!(out[1].stats_events >= 4 && out[0].playouts == 400);
    assert!(bindings >= 10 && stats.rtt_ms.is_some());
    assert_eq!(total.allocations(), 0, "{total:?}");
}
