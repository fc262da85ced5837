use super::*;
use alloc::vec::Vec;

type Jb = JitterBuffer<16, 8>;

const P60: u32 = 960;

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// A config whose target delay is pinned to zero, to test ordering without adaptation.
fn fixed() -> Config {
    Config {
        min_target_16k: 0,
        max_target_16k: 0,
        ..Config::default()
    }
}

/// What a pop produced, owned, for comparing sequences.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Out {
    F(u16, u32, u32, u8),
    C(u32, u32, ConcealReason),
    W,
}

fn pop(jb: &mut Jb, now: Instant) -> Out {
    match jb.pop(now) {
        Pop::Frame(f) => {
            // Every test payload repeats one byte: check it came back whole.
            assert!(f.payload.iter().all(|&b| b == f.payload[0]));
            Out::F(f.seq, f.ts_16k, f.samples_16k, f.payload[0])
        }
        Pop::Conceal {
            ts_16k,
            samples_16k,
            reason,
        } => Out::C(ts_16k, samples_16k, reason),
        Pop::Wait => Out::W,
    }
}

fn ins(jb: &mut Jb, now: Instant, seq: u16, ts: u32) -> Inserted {
    jb.insert(now, seq, ts, P60, &[seq as u8; 5]).unwrap()
}

#[test]
fn reorders_by_sequence_and_timestamp() {
    let mut jb = Jb::new(fixed());
    assert_eq!(pop(&mut jb, ms(0)), Out::W);
    for seq in [10u16, 12, 11, 13] {
        assert_eq!(
            ins(&mut jb, ms(0), seq, u32::from(seq) * P60),
            Inserted::Buffered
        );
    }
    let got: Vec<Out> = (0..5).map(|_| pop(&mut jb, ms(0))).collect();
    assert_eq!(
        got,
        [
            Out::F(10, 9600, P60, 10),
            Out::F(11, 10560, P60, 11),
            Out::F(12, 11520, P60, 12),
            Out::F(13, 12480, P60, 13),
            Out::C(13440, 320, ConcealReason::Underrun),
        ]
    );
    assert_eq!(jb.stats().played, 4);
}

#[test]
fn drops_duplicates_whether_buffered_or_played() {
    let mut jb = Jb::new(fixed());
    assert_eq!(ins(&mut jb, ms(0), 1, 0), Inserted::Buffered);
    assert_eq!(ins(&mut jb, ms(1), 1, 0), Inserted::Duplicate);
    assert_eq!(ins(&mut jb, ms(2), 2, P60), Inserted::Buffered);
    assert_eq!(pop(&mut jb, ms(3)), Out::F(1, 0, P60, 1));
    // Played already: a duplicate, not a late packet.
    assert_eq!(ins(&mut jb, ms(4), 1, 0), Inserted::Duplicate);
    // A second sequence number claiming a buffered packet's time is dropped as well.
    assert_eq!(
        jb.insert(ms(5), 7, P60, P60, &[7; 5]).unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(pop(&mut jb, ms(6)), Out::F(2, P60, P60, 2));
    let s = jb.stats();
    assert_eq!((s.duplicates, s.late, s.buffered, s.played), (3, 0, 2, 2));
}

#[test]
fn sequence_and_timestamp_wrap() {
    let mut jb = Jb::new(fixed());
    // Four packets straddling both wraps, arriving scrambled.
    let t0 = u32::MAX - 2 * P60 + 1; // 65534 starts 1920 samples before 2^32; seq 0 at ts 0
    let pkts = [
        (65535u16, t0.wrapping_add(P60)),
        (65534, t0),
        (1, t0.wrapping_add(3 * P60)),
        (0, t0.wrapping_add(2 * P60)),
    ];
    for (seq, ts) in pkts {
        assert_eq!(ins(&mut jb, ms(0), seq, ts), Inserted::Buffered);
    }
    let got: Vec<Out> = (0..4).map(|_| pop(&mut jb, ms(0))).collect();
    assert_eq!(
        got,
        [
            Out::F(65534, 4_294_965_376, P60, 254),
            Out::F(65535, 4_294_966_336, P60, 255),
            Out::F(0, 0, P60, 0),
            Out::F(1, 960, P60, 1),
        ]
    );
    // The played-bitmap works across the wrap too.
    assert_eq!(
        ins(&mut jb, ms(1), 65535, t0.wrapping_add(P60)),
        Inserted::Duplicate
    );
}

#[test]
fn gap_is_concealed_in_quanta_and_the_straggler_dropped_late() {
    let mut jb = Jb::new(fixed());
    ins(&mut jb, ms(0), 1, 0);
    assert_eq!(pop(&mut jb, ms(0)), Out::F(1, 0, P60, 1));
    // Seq 2 is missing, seq 3 arrived: conceal exactly 2's 960 samples, then play 3.
    ins(&mut jb, ms(100), 3, 2 * P60);
    let got: Vec<Out> = (0..4).map(|_| pop(&mut jb, ms(100))).collect();
    assert_eq!(
        got,
        [
            Out::C(960, 320, ConcealReason::Lost),
            Out::C(1280, 320, ConcealReason::Lost),
            Out::C(1600, 320, ConcealReason::Lost),
            Out::F(3, 1920, P60, 3),
        ]
    );
    assert_eq!(ins(&mut jb, ms(130), 2, P60), Inserted::Late);
    let s = jb.stats();
    assert_eq!((s.lost_16k, s.late, s.played), (960, 1, 2));
}

#[test]
fn tail_loss_is_credited_and_adds_no_delay() {
    let mut jb = Jb::new(fixed());
    ins(&mut jb, ms(0), 1, 0);
    assert_eq!(pop(&mut jb, ms(0)), Out::F(1, 0, P60, 1));
    // Nothing buffered: hold the position while concealing.
    for t in [60, 80, 100] {
        assert_eq!(
            pop(&mut jb, ms(t)),
            Out::C(960, 320, ConcealReason::Underrun)
        );
    }
    // Seq 2 was lost; seq 3 arrives on time. The held 960 samples stand for seq 2: they were
    // concealed as underrun, and are credited as loss once seq 3 proves the gap.
    ins(&mut jb, ms(115), 3, 2 * P60);
    assert_eq!(pop(&mut jb, ms(120)), Out::F(3, 1920, P60, 3));
    assert_eq!(jb.stats().underrun_16k, 0);
    assert_eq!(jb.stats().lost_16k, 960);
}

#[test]
fn late_packet_after_underrun_plays_and_the_delay_grows() {
    let mut jb = Jb::new(fixed());
    ins(&mut jb, ms(0), 1, 0);
    assert_eq!(pop(&mut jb, ms(0)), Out::F(1, 0, P60, 1));
    assert_eq!(
        pop(&mut jb, ms(60)),
        Out::C(960, 320, ConcealReason::Underrun)
    );
    assert_eq!(
        pop(&mut jb, ms(80)),
        Out::C(960, 320, ConcealReason::Underrun)
    );
    ins(&mut jb, ms(90), 2, P60);
    ins(&mut jb, ms(91), 3, 2 * P60);
    assert_eq!(pop(&mut jb, ms(100)), Out::F(2, 960, P60, 2));
    assert_eq!(pop(&mut jb, ms(160)), Out::F(3, 1920, P60, 3));
    assert_eq!(jb.stats().underrun_16k, 640);
}

#[test]
fn primes_to_the_target_delay_then_stretches_at_most_once_per_frame() {
    let cfg = Config {
        min_target_16k: 2 * P60,
        max_target_16k: 2 * P60,
        ..Config::default()
    };
    let mut jb = Jb::new(cfg);
    ins(&mut jb, ms(0), 1, 0);
    assert_eq!(jb.target_16k(), 2 * P60);
    assert_eq!(pop(&mut jb, ms(0)), Out::W);
    ins(&mut jb, ms(60), 2, P60);
    assert_eq!(pop(&mut jb, ms(119)), Out::W);
    assert_eq!(jb.delay_16k(ms(119)), 1904);
    assert!(!jb.is_playing());
    // 120 ms after its (only, so fastest) transit, packet 1 plays.
    assert_eq!(pop(&mut jb, ms(120)), Out::F(1, 0, P60, 1));
    assert!(jb.is_playing());
    // Asked early, packet 2 is only 90 ms past its arrival: stretch once, then play it anyway.
    assert_eq!(jb.delay_16k(ms(150)), 1440);
    assert_eq!(
        pop(&mut jb, ms(150)),
        Out::C(P60, 320, ConcealReason::Stretch)
    );
    assert_eq!(pop(&mut jb, ms(151)), Out::F(2, P60, P60, 2));
    assert_eq!(jb.stats().stretch_16k, 320);
}

#[test]
fn full_buffer_evicts_the_oldest_and_refuses_older() {
    let mut jb = JitterBuffer::<4, 8>::new(fixed());
    let mut outcomes = Vec::new();
    for seq in 1u16..=5 {
        outcomes.push(
            jb.insert(ms(0), seq, u32::from(seq) * P60, P60, &[seq as u8])
                .unwrap(),
        );
    }
    assert_eq!(outcomes[..4], [Inserted::Buffered; 4]);
    assert_eq!(outcomes[4], Inserted::BufferedEvictingOldest);
    assert_eq!(
        jb.insert(ms(0), 0, 0, P60, &[0]).unwrap(),
        Inserted::Overflow
    );
    let seqs: Vec<u16> = (0..4)
        .map(|_| match jb.pop(ms(0)) {
            Pop::Frame(f) => f.seq,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seqs, [2, 3, 4, 5]);
    assert_eq!(jb.stats().overflow, 2);
}

#[test]
fn bad_input_is_refused_without_state_change() {
    let mut jb = Jb::new(fixed());
    assert_eq!(
        jb.insert(ms(0), 1, 0, P60, &[0; 9]),
        Err(InsertError::PayloadTooLarge { len_bytes: 9 })
    );
    assert_eq!(
        jb.insert(ms(0), 1, 0, 0, &[0; 1]),
        Err(InsertError::BadDuration { samples_16k: 0 })
    );
    assert_eq!(
        jb.insert(ms(0), 1, 0, MAX_PACKET_16K + 1, &[0; 1]),
        Err(InsertError::BadDuration {
            samples_16k: MAX_PACKET_16K + 1
        })
    );
    assert!(jb.is_empty());
    assert_eq!(*jb.stats(), Stats::default());
    assert_eq!(pop(&mut jb, ms(0)), Out::W);
}

#[test]
fn mixed_packet_durations_report_their_own_length() {
    let mut jb = Jb::new(fixed());
    jb.insert(ms(0), 1, 0, 320, &[1]).unwrap();
    jb.insert(ms(0), 2, 320, P60, &[2]).unwrap();
    jb.insert(ms(0), 3, 1280, 1920, &[3]).unwrap();
    assert_eq!(pop(&mut jb, ms(0)), Out::F(1, 0, 320, 1));
    assert_eq!(pop(&mut jb, ms(20)), Out::F(2, 320, P60, 2));
    assert_eq!(pop(&mut jb, ms(80)), Out::F(3, 1280, 1920, 3));
    assert_eq!(
        pop(&mut jb, ms(200)),
        Out::C(3200, 320, ConcealReason::Underrun)
    );
}

#[test]
fn restarted_timeline_resyncs_after_a_run_of_far_packets() {
    let mut jb = Jb::new(fixed());
    ins(&mut jb, ms(0), 1, 0);
    ins(&mut jb, ms(0), 2, P60);
    assert_eq!(pop(&mut jb, ms(0)), Out::F(1, 0, P60, 1));
    // The sender jumps 10 s ahead; seq 2 is still buffered, so the buffer waits for a run.
    let far = 160_000u32;
    for k in 0..u32::from(RESYNC_AFTER) - 1 {
        assert_eq!(
            ins(&mut jb, ms(10), 3 + k as u16, far + k * P60),
            Inserted::OutOfRange
        );
    }
    let k = u32::from(RESYNC_AFTER) - 1;
    assert_eq!(
        ins(&mut jb, ms(10), 3 + k as u16, far + k * P60),
        Inserted::Resynced
    );
    assert_eq!((jb.stats().out_of_range, jb.stats().resyncs), (7, 1));
    assert_eq!(pop(&mut jb, ms(20)), Out::F(10, far + k * P60, P60, 10));

    // With nothing buffered a single far packet is enough.
    let mut jb = Jb::new(fixed());
    ins(&mut jb, ms(0), 1, 0);
    assert_eq!(pop(&mut jb, ms(0)), Out::F(1, 0, P60, 1));
    assert_eq!(ins(&mut jb, ms(5), 500, far), Inserted::Resynced);
}

#[test]
fn rfc3550_jitter_matches_the_recurrence() {
    let mut jb = Jb::new(fixed());
    let mut expected = 0.0f64;
    let mut prev_transit: Option<f64> = None;
    // Packets every 60 ms sent, arriving with delays cycling 0, 25, 5, 40 ms.
    let delays_ms = [0u64, 25, 5, 40];
    for k in 0..40u64 {
        let arrival = k * 60 + delays_ms[(k % 4) as usize];
        let ts = (k as u32) * P60;
        jb.insert(ms(arrival), k as u16, ts, P60, &[0]).unwrap();
        let transit = arrival as f64 * 16.0 - f64::from(ts);
        if let Some(p) = prev_transit {
            expected += ((transit - p).abs() - expected) / 16.0;
        }
        prev_transit = Some(transit);
        while jb.len() > 8 {
            let _ = jb.pop(ms(arrival));
        }
    }
    let got = f64::from(jb.jitter_16k());
    assert!((got - expected).abs() <= 1.0, "jitter {got} vs {expected}");
    assert!(expected > 300.0);
}

/// Drives a buffer the way an engine does: 20 ms ticks, a PCM queue refilled by `pop`.
struct Player {
    jb: Jb,
    pcm_left: u32,
    outs: Vec<(u64, Out)>,
}

impl Player {
    fn tick(&mut self, t_ms: u64) {
        if self.pcm_left == 0 {
            let out = pop(&mut self.jb, ms(t_ms));
            self.pcm_left = match out {
                Out::F(_, _, n, _) | Out::C(_, n, _) => n,
                Out::W => 320,
            };
            self.outs.push((t_ms, out));
        }
        self.pcm_left -= 320;
    }
}

/// 60 ms packets through three network phases: calm (5 ms fixed delay), jittery (delays cycling
/// 5, 125, 45, 85 ms, so packets overtake each other), calm again.
#[test]
fn depth_grows_under_jitter_and_shrinks_when_it_calms() {
    const CALM1: u64 = 100; // packets per phase
    const JITTER: u64 = 200;
    const CALM2: u64 = 200;
    let total = CALM1 + JITTER + CALM2;
    let delay = |k: u64| {
        if (CALM1..CALM1 + JITTER).contains(&k) {
            [5, 125, 45, 85][(k % 4) as usize]
        } else {
            5
        }
    };
    let mut arrivals: Vec<(u64, u64)> = (0..total).map(|k| (k * 60 + delay(k), k)).collect();
    arrivals.sort();
    let mut p = Player {
        jb: Jb::default(),
        pcm_left: 0,
        outs: Vec::new(),
    };
    let mut next = 0;
    let mut targets = Vec::new();
    let mut delays = Vec::new();
    for tick in 0..(total * 3 + 30) {
        let t = tick * 20;
        while next < arrivals.len() && arrivals[next].0 <= t {
            let k = arrivals[next].1;
            p.jb.insert(ms(t), k as u16, (k as u32) * P60, P60, &[k as u8])
                .unwrap();
            next += 1;
        }
        if p.pcm_left == 0 {
            // The delay the buffer is about to judge (only meaningful at a pop).
            delays.push((tick, p.jb.delay_16k(ms(t))));
        }
        p.tick(t);
        targets.push(p.jb.target_16k());
    }
    let at = |packet: u64| (packet * 3) as usize; // tick index when packet `packet` is sent
    // Calm: no spread, the target is the configured floor (20 ms).
    assert_eq!(targets[at(CALM1) - 1], 320);
    // Jitter: spread is 120 ms (1920 samples); the target follows once the window holds it.
    assert_eq!(targets[at(CALM1 + JITTER) - 1], 1920);
    // Calm again: the window forgets the spread after TRANSIT_WINDOW packets.
    assert_eq!(targets[at(CALM1 + JITTER + TRANSIT_WINDOW as u64) + 3], 320);

    // The playout delay tracks the target: at least the target (stretching lifts it) and at
    // most a packet and a quantum above it (shrinking cuts it) during the second half of the
    // jitter phase, and back down to the floor's band at the end.
    let between = |from: u64, to: u64| -> Vec<u32> {
        let range = at(from) as u64..at(to) as u64;
        delays
            .iter()
            .filter(|(tick, _)| range.contains(tick))
            .map(|&(_, d)| d)
            .collect()
    };
    let jitter_half = between(CALM1 + JITTER / 2, CALM1 + JITTER);
    assert!(
        jitter_half
            .iter()
            .all(|&d| (1920..=1920 + P60 + 320).contains(&d)),
        "{jitter_half:?}"
    );
    let end = between(total - 20, total);
    assert!(
        end.iter().all(|&d| (320..=320 + P60 + 320).contains(&d)),
        "{end:?}"
    );

    // Playout never waited after it started, every packet was played or deliberately dropped,
    // and once adapted the jitter phase lost nothing.
    let first_frame = p
        .outs
        .iter()
        .position(|(_, o)| matches!(o, Out::F(..)))
        .unwrap();
    assert!(p.outs[first_frame..].iter().all(|(_, o)| *o != Out::W));
    let s = *p.jb.stats();
    assert_eq!(s.played + s.shrink_drops + s.late, total, "{s:?}");
    assert!(s.shrink_drops >= 1, "{s:?}");
    let adapted_ms = (CALM1 + JITTER / 2) * 60;
    let lost_after: Vec<_> = p
        .outs
        .iter()
        .filter(|(t, o)| *t >= adapted_ms && matches!(o, Out::C(_, _, ConcealReason::Lost)))
        .collect();
    assert!(lost_after.is_empty(), "{lost_after:?}");
}

#[test]
fn recovered_packets_fill_gaps_without_inflating_the_jitter_estimate() {
    let mut jb = Jb::new(fixed());
    ins(&mut jb, ms(0), 1, 0);
    assert_eq!(pop(&mut jb, ms(0)), Out::F(1, 0, P60, 1));
    // Seq 2 is lost; seq 3 arrives carrying a redundant copy of 2, 60 ms "late".
    ins(&mut jb, ms(120), 3, 2 * P60);
    assert_eq!(
        jb.insert_recovered(ms(120), 2, P60, P60, &[2; 5]).unwrap(),
        Inserted::Buffered
    );
    assert_eq!(jb.spread_16k(), 0);
    assert_eq!(pop(&mut jb, ms(120)), Out::F(2, P60, P60, 2));
    assert_eq!(pop(&mut jb, ms(180)), Out::F(3, 2 * P60, P60, 3));
    // The original of 2 turning up afterwards is a duplicate; so is a second recovered copy.
    assert_eq!(ins(&mut jb, ms(190), 2, P60), Inserted::Duplicate);
    assert_eq!(
        jb.insert_recovered(ms(190), 3, 2 * P60, P60, &[3; 5])
            .unwrap(),
        Inserted::Duplicate
    );
    // Counted as a regular arrival, the same copy would have shown 60 ms of spread.
    let mut other = Jb::new(fixed());
    ins(&mut other, ms(0), 1, 0);
    ins(&mut other, ms(120), 3, 2 * P60);
    ins(&mut other, ms(120), 2, P60);
    assert_eq!(other.spread_16k(), P60);
}
