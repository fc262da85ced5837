use super::*;

const N: u64 = 100_000;
const INTERVAL: Duration = Duration::from_millis(20);

/// Sends `n` datagrams (their send index) every 20 ms and drains everything; returns the
/// deliveries as (send index, delivery time, send time) and the link.
fn run(cfg: LinkConfig, seed: u64, n: u64) -> (Vec<(u64, Instant, Instant)>, Link<u64>) {
    let mut link = Link::seeded(cfg, seed);
    let mut out = Vec::new();
    let mut sim = Sim::new(Instant::ZERO, 10 * n + 100);
    let mut next_send = 0u64;
    let send_at = |i: u64| Instant::ZERO + Duration::from_micros(i * INTERVAL.total_micros());
    let end = send_at(n) + Duration::from_secs(10);
    while sim.advance(
        [
            (next_send < n).then(|| send_at(next_send)),
            link.next_delivery(),
        ],
        end,
    ) {
        let now = sim.now();
        while let Some(i) = link.poll_delivery(now) {
            out.push((i, now, send_at(i)));
        }
        while next_send < n && send_at(next_send) <= now {
            link.send(now, next_send);
            next_send += 1;
        }
    }
    assert_eq!(link.in_flight(), 0);
    (out, link)
}

fn rate(count: u64, of: u64) -> f64 {
    count as f64 / of as f64
}

#[test]
fn perfect_link_delivers_everything_in_order_after_the_delay() {
    let cfg = LinkConfig {
        delay: Duration::from_millis(30),
        ..LinkConfig::default()
    };
    let (out, link) = run(cfg, 1, 1000);
    assert_eq!(out.len(), 1000);
    for (k, &(i, at, sent)) in out.iter().enumerate() {
        assert_eq!(i, k as u64);
        assert_eq!(at - sent, Duration::from_millis(30));
    }
    assert_eq!(
        *link.stats(),
        LinkStats {
            sent: 1000,
            delivered: 1000,
            ..LinkStats::default()
        }
    );
}

#[test]
fn random_loss_rate_is_as_configured() {
    let cfg = LinkConfig {
        loss: 0.2,
        ..LinkConfig::default()
    };
    let (out, link) = run(cfg, 7, N);
    let s = link.stats();
    let r = rate(s.lost, N);
    assert!((0.195..0.205).contains(&r), "loss rate {r}");
    assert_eq!(out.len() as u64, N - s.lost);
    // Independent losses: mean burst 1 / (1 - p) = 1.25.
    let burst = s.lost as f64 / s.loss_bursts as f64;
    assert!((1.22..1.28).contains(&burst), "mean burst {burst}");
}

#[test]
fn gilbert_elliott_gives_the_configured_rate_in_bursts() {
    let ge = GilbertElliott::bursts(0.05, 4.0);
    assert!((ge.mean_loss() - 0.05).abs() < 1e-12);
    let cfg = LinkConfig {
        burst: Some(ge),
        ..LinkConfig::default()
    };
    let (_, link) = run(cfg, 11, N);
    let s = link.stats();
    let r = rate(s.lost, N);
    assert!((0.045..0.055).contains(&r), "loss rate {r}");
    let burst = s.lost as f64 / s.loss_bursts as f64;
    assert!((3.6..4.4).contains(&burst), "mean burst {burst}");
}

#[test]
fn outage_drops_exactly_its_window() {
    let start = Instant::from_millis(2000);
    let cfg = LinkConfig {
        outages: vec![(start, start + Duration::from_secs(1))],
        ..LinkConfig::default()
    };
    let (out, link) = run(cfg, 3, 500);
    assert_eq!(link.stats().outage_dropped, 50);
    assert_eq!(link.stats().lost, 0);
    assert!(out.iter().all(|&(i, _, _)| !(100..150).contains(&i)));
    assert_eq!(out.len(), 450);
}

#[test]
fn jitter_stays_in_bounds_and_reorders_unless_fifo() {
    let cfg = LinkConfig {
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(100),
        ..LinkConfig::default()
    };
    let (out, link) = run(cfg.clone(), 5, 10_000);
    assert_eq!(out.len(), 10_000);
    let delays: Vec<u64> = out
        .iter()
        .map(|&(_, at, s)| (at - s).total_micros())
        .collect();
    assert!(delays.iter().all(|&d| (10_000..=110_000).contains(&d)));
    let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
    assert!((58_000.0..62_000.0).contains(&mean), "mean delay {mean}");
    // Uniform 0..100 ms against a 20 ms interval. Datagram i with extra delay u is overtaken
    // unless every later i+k draws more than u - 20k: P = 1 - E_u[prod_k (1 - max(0, u-20k)/100)]
    // = 0.4087 (numerical integration).
    let r = rate(link.stats().reordered, 10_000);
    assert!((r - 0.4087).abs() < 0.02, "reordered {r}");

    let (out, link) = run(LinkConfig { fifo: true, ..cfg }, 5, 10_000);
    assert_eq!(link.stats().reordered, 0);
    assert!(out.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
    assert!(
        out.iter()
            .all(|&(_, at, s)| at - s >= Duration::from_millis(10))
    );
}

#[test]
fn held_back_datagrams_are_overtaken() {
    let cfg = LinkConfig {
        reorder: 0.05,
        reorder_delay: Duration::from_millis(50),
        ..LinkConfig::default()
    };
    let (out, link) = run(cfg, 9, N);
    let s = link.stats();
    assert_eq!(out.len() as u64, N);
    let r = rate(s.held_back, N);
    assert!((0.045..0.055).contains(&r), "held back {r}");
    // A held-back datagram is overtaken (50 ms > 20 ms) unless the next two are held back
    // too (then it still leaves first): expected in 0.05^2 of cases, about 12 of 5000.
    assert!(s.reordered <= s.held_back, "{s:?}");
    assert!(s.held_back - s.reordered <= 30, "{s:?}");
}

#[test]
fn duplicates_add_copies() {
    let cfg = LinkConfig {
        duplicate: 0.03,
        loss: 0.01,
        ..LinkConfig::default()
    };
    let (out, link) = run(cfg, 13, N);
    let s = link.stats();
    assert!((0.027..0.033).contains(&rate(s.duplicated, N)), "{s:?}");
    assert_eq!(out.len() as u64, N - s.lost + s.duplicated);
    assert_eq!(s.delivered, out.len() as u64);
}

#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let cfg = LinkConfig {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(40),
        loss: 0.1,
        burst: Some(GilbertElliott::bursts(0.05, 3.0)),
        reorder: 0.02,
        reorder_delay: Duration::from_millis(30),
        duplicate: 0.01,
        ..LinkConfig::default()
    };
    let (a, _) = run(cfg.clone(), 42, 2000);
    let (b, _) = run(cfg.clone(), 42, 2000);
    let (c, _) = run(cfg, 43, 2000);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn sim_ends_at_until_and_counts_steps() {
    let mut sim = Sim::new(Instant::ZERO, 10);
    let end = Instant::from_millis(100);
    assert!(sim.advance([Some(Instant::from_millis(40)), None], end));
    assert_eq!(sim.now(), Instant::from_millis(40));
    // A deadline past the end: the clock stops at the end, then the run is over.
    assert!(sim.advance([Some(Instant::from_millis(150))], end));
    assert_eq!(sim.now(), end);
    assert!(!sim.advance([Some(Instant::from_millis(150))], end));
    assert_eq!(sim.steps(), 2);
}

#[test]
#[should_panic(expected = "livelock")]
fn a_deadline_that_never_moves_is_a_livelock() {
    let mut sim = Sim::new(Instant::ZERO, u64::MAX);
    let stuck = Some(Instant::from_millis(5));
    while sim.advance([stuck], Instant::from_millis(1000)) {}
}

#[test]
#[should_panic(expected = "livelock")]
fn the_step_bound_stops_a_runaway_loop() {
    let mut sim = Sim::new(Instant::ZERO, 1000);
    let mut t = Instant::ZERO;
    while sim.advance([Some(t)], Instant::from_millis(1_000_000)) {
        t += Duration::from_micros(1);
    }
}
