//! The jitter buffer behind simulated networks: a 60 ms packet stream through a `netsim` link,
//! played out on a 20 ms tick the way the media engine will. Each profile asserts that playout
//! never stalls, bounds the concealed time and the delay, and prints its figures.

use wacall_core::media::jitter::{ConcealReason, JitterBuffer, Pop};
use wacall_core::time::{Duration, Instant};
use wacall_testkit::netsim::{GilbertElliott, Link, LinkConfig, Sim};

const PACKET_MS: u64 = 60;
const TICK_MS: u64 = 20;

/// One packet in flight: sequence number, RTP timestamp, send time.
type Packet = (u16, u32, Instant);

#[derive(Debug, Default)]
struct Figures {
    sent: u64,
    played: u64,
    lost_ms: u64,
    underrun_ms: u64,
    stretch_ms: u64,
    /// Ticks answered with `Wait` after playout started (must stay zero).
    stalls: u64,
    /// Send-to-playout delay of played packets, ms: mean and max over the whole run and mean
    /// over the last 5 s.
    mean_delay_ms: f64,
    max_delay_ms: u64,
    final_delay_ms: f64,
    final_target_ms: f64,
    max_target_ms: f64,
}

impl Figures {
    fn concealed_ms(&self) -> u64 {
        self.lost_ms + self.underrun_ms + self.stretch_ms
    }
}

fn run(cfg: LinkConfig, seed: u64, secs: u64) -> Figures {
    let mut link: Link<Packet> = Link::seeded(cfg, seed);
    let mut jb = JitterBuffer::<32, 16>::default();
    let mut sim = Sim::new(Instant::ZERO, 1_000_000);
    let end = Instant::from_millis(secs * 1000);
    let stop_sending = secs * 1000 - 1000; // leave a second to drain
    let mut f = Figures::default();
    let (mut next_send, mut next_tick) = (0u64, 0u64);
    let mut pcm_left = 0u64;
    let mut started = false;
    let mut delays: Vec<(u64, u64)> = Vec::new();
    while sim.advance(
        [
            (next_send < stop_sending).then(|| Instant::from_millis(next_send)),
            Some(Instant::from_millis(next_tick)),
            link.next_delivery(),
        ],
        end,
    ) {
        let now = sim.now();
        while let Some((seq, ts, _)) = link.poll_delivery(now) {
            jb.insert(now, seq, ts, 960, &[0x50]).unwrap();
        }
        if next_send < stop_sending && Instant::from_millis(next_send) <= now {
            let k = next_send / PACKET_MS;
            // Start near the wraps so every run crosses them.
            let seq = (k as u16).wrapping_add(65_000);
            let ts = (k as u32)
                .wrapping_mul(960)
                .wrapping_add(u32::MAX - 100_000);
            link.send(now, (seq, ts, now));
            f.sent += 1;
            next_send += PACKET_MS;
        }
        if Instant::from_millis(next_tick) <= now {
            if pcm_left == 0 {
                let t = now.total_millis();
                pcm_left = match jb.pop(now) {
                    Pop::Frame(fr) => {
                        started = true;
                        f.played += 1;
                        // Recover the send time from the timestamp (20 ms per 320 samples).
                        let k = u64::from(fr.ts_16k.wrapping_sub(u32::MAX - 100_000)) / 960;
                        delays.push((t, t - k * PACKET_MS));
                        u64::from(fr.samples_16k)
                    }
                    Pop::Conceal {
                        samples_16k,
                        reason,
                        ..
                    } => {
                        // Count while the stream runs; after the sender stops the buffer
                        // conceals by design.
                        let ms = if t < stop_sending {
                            u64::from(samples_16k) / 16
                        } else {
                            0
                        };
                        match reason {
                            ConcealReason::Lost => f.lost_ms += ms,
                            ConcealReason::Underrun => f.underrun_ms += ms,
                            ConcealReason::Stretch => f.stretch_ms += ms,
                        }
                        u64::from(samples_16k)
                    }
                    Pop::Wait => {
                        f.stalls += u64::from(started);
                        320
                    }
                };
                let target_ms = f64::from(jb.target_16k()) / 16.0;
                f.max_target_ms = f.max_target_ms.max(target_ms);
                f.final_target_ms = target_ms;
            }
            pcm_left -= 320;
            next_tick += TICK_MS;
        }
    }
    let mean = |d: &[(u64, u64)]| d.iter().map(|x| x.1 as f64).sum::<f64>() / d.len() as f64;
    f.mean_delay_ms = mean(&delays);
    f.max_delay_ms = delays.iter().map(|x| x.1).max().unwrap_or(0);
    let tail: Vec<_> = delays
        .iter()
        .copied()
        .filter(|&(t, _)| t + 6000 >= secs * 1000)
        .collect();
    f.final_delay_ms = mean(&tail);
    f
}

fn report(name: &str, f: &Figures) {
    eprintln!(
        "{name}: sent {} played {} concealed {} ms (lost {}, underrun {}, stretch {}), stalls {}, \
         delay mean {:.0} / max {} / final {:.0} ms, target final {:.0} / max {:.0} ms",
        f.sent,
        f.played,
        f.concealed_ms(),
        f.lost_ms,
        f.underrun_ms,
        f.stretch_ms,
        f.stalls,
        f.mean_delay_ms,
        f.max_delay_ms,
        f.final_delay_ms,
        f.final_target_ms,
        f.max_target_ms
    );
}

#[test]
fn clean_link_plays_everything_at_the_floor_delay() {
    let f = run(
        LinkConfig {
            delay: Duration::from_millis(30),
            ..LinkConfig::default()
        },
        1,
        20,
    );
    report("clean", &f);
    assert_eq!(f.stalls, 0);
    assert_eq!(f.played, f.sent);
    // Start-up only: the first packet is held for the 20 ms floor.
    assert!(f.concealed_ms() <= 60, "{f:?}");
    // 30 ms network + 20 ms floor, rounded up to the 20 ms tick.
    assert_eq!(f.max_delay_ms, 60, "{f:?}");
    assert_eq!(f.final_target_ms, 20.0);
}

#[test]
fn twenty_percent_random_loss_is_concealed_without_stalls() {
    let f = run(
        LinkConfig {
            delay: Duration::from_millis(30),
            loss: 0.2,
            ..LinkConfig::default()
        },
        2,
        30,
    );
    report("loss 20%", &f);
    assert_eq!(f.stalls, 0);
    let lost_share = 1.0 - f.played as f64 / f.sent as f64;
    assert!((0.17..0.23).contains(&lost_share), "{lost_share}");
    // Concealment covers the lost packets' time (29 s of stream) and hardly more.
    let conceal_share = f.concealed_ms() as f64 / 29_000.0;
    assert!(
        (lost_share - 0.02..lost_share + 0.04).contains(&conceal_share),
        "{conceal_share} vs {lost_share}"
    );
    assert!(f.final_delay_ms < 150.0, "{f:?}");
}

#[test]
fn hundred_ms_jitter_with_reordering_adapts_the_depth() {
    let f = run(
        LinkConfig {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(100),
            ..LinkConfig::default()
        },
        3,
        30,
    );
    report("jitter 100 ms", &f);
    assert_eq!(f.stalls, 0);
    // The spread estimate (95th percentile of 64 draws of uniform 0..100 ms) sets the target.
    assert!((75.0..=100.0).contains(&f.final_target_ms), "{f:?}");
    // Once adapted, few packets miss their slot: at least 97 % play.
    assert!(f.played as f64 >= 0.97 * f.sent as f64, "{f:?}");
    // The delay tracks the jitter: the 20 ms base plus most of the 100 ms spread, and not
    // much more than the worst case (120 ms) plus a tick.
    assert!((100.0..=140.0).contains(&f.final_delay_ms), "{f:?}");
}

#[test]
fn one_second_outage_costs_its_second_and_no_lasting_delay() {
    let start = Instant::from_millis(10_000);
    let f = run(
        LinkConfig {
            delay: Duration::from_millis(30),
            jitter: Duration::from_millis(10),
            outages: vec![(start, start + Duration::from_secs(1))],
            ..LinkConfig::default()
        },
        4,
        20,
    );
    report("outage 1 s", &f);
    assert_eq!(f.stalls, 0);
    let outage_packets = 1000 / PACKET_MS + 1;
    assert!(f.played + outage_packets + 1 >= f.sent, "{f:?}");
    let c = f.concealed_ms();
    assert!((1000..=1150).contains(&c), "concealed {c} ms, {f:?}");
    // After the outage the delay is back where it was, not a second longer.
    assert!(f.final_delay_ms <= 80.0, "{f:?}");
}

#[test]
fn burst_loss_is_concealed_without_stalls() {
    let f = run(
        LinkConfig {
            delay: Duration::from_millis(40),
            jitter: Duration::from_millis(30),
            burst: Some(GilbertElliott::bursts(0.05, 3.0)),
            ..LinkConfig::default()
        },
        5,
        30,
    );
    report("bursts 5% x3", &f);
    assert_eq!(f.stalls, 0);
    let lost_share = 1.0 - f.played as f64 / f.sent as f64;
    assert!(lost_share < 0.1, "{f:?}");
    assert!(f.final_delay_ms < 200.0, "{f:?}");
}
