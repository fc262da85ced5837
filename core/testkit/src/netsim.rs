//! A deterministic network simulation on a virtual clock, for tests.
//!
//! - [`Link`]: one direction of a path. Datagrams handed to [`Link::send`] come out of
//!   [`Link::poll_delivery`] after a delay, or never, according to a [`LinkConfig`]: random loss,
//!   Gilbert-Elliott burst loss, scheduled outages, uniform delay jitter (reordering or FIFO),
//!   deliberate reordering and duplication. All randomness comes from the caller's
//!   `rand_core::Rng` (use [`Link::seeded`] for a ChaCha8 stream from a `u64` seed), so a
//!   test with a fixed seed replays exactly.
//! - [`Sim`]: the virtual clock and a bounded stepper. Each step jumps to the earliest pending
//!   deadline (timers, deliveries); a test that keeps stepping without progress hits the step
//!   bound and panics with a livelock message instead of hanging.
//!
//! A typical loop, two sans-IO endpoints `a` and `b`:
//!
//! ```ignore
//! let mut sim = Sim::new(Instant::ZERO, 100_000);
//! while sim.advance([a.timeout(), b.timeout(), ab.next_delivery(), ba.next_delivery()], end) {
//!     let now = sim.now();
//!     while let Some(d) = ab.poll_delivery(now) { b.handle(now, d) }
//!     while let Some(d) = ba.poll_delivery(now) { a.handle(now, d) }
//!     a.handle_timeout(now); b.handle_timeout(now);
//!     while let Some(d) = a.poll_transmit() { ab.send(now, d) }
//!     while let Some(d) = b.poll_transmit() { ba.send(now, d) }
//! }
//! ```

use std::collections::BinaryHeap;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use wacall_core::time::{Duration, Instant};

/// Two-state burst-loss model (Gilbert-Elliott): a Markov chain between a good and a bad state,
/// stepped once per datagram, each state with its own loss probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from good to bad before a datagram.
    pub p_good_to_bad: f64,
    /// Probability of moving from bad to good before a datagram.
    pub p_bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// The classic "Gilbert" form: lossless good state, total loss in the bad state, tuned for
    /// an average `loss` rate with bursts of `mean_burst` datagrams on average.
    pub fn bursts(loss: f64, mean_burst: f64) -> Self {
        let p_bad_to_good = 1.0 / mean_burst;
        // Stationary share of the bad state is p_gb / (p_gb + p_bg) = loss.
        let p_good_to_bad = loss * p_bad_to_good / (1.0 - loss);
        GilbertElliott {
            p_good_to_bad,
            p_bad_to_good,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// Long-run loss rate of the chain.
    pub fn mean_loss(&self) -> f64 {
        let bad = self.p_good_to_bad / (self.p_good_to_bad + self.p_bad_to_good);
        bad * self.loss_bad + (1.0 - bad) * self.loss_good
    }
}

/// How a [`Link`] treats datagrams. `Default` is a perfect 0-delay link.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` per datagram.
    pub jitter: Duration,
    /// Keep send order despite jitter (a FIFO path: a datagram never leaves before the one sent
    /// ahead of it). Without it, jitter larger than the send interval reorders.
    pub fifo: bool,
    /// Independent loss probability per datagram.
    pub loss: f64,
    /// Burst loss on top of `loss`.
    pub burst: Option<GilbertElliott>,
    /// Probability that a datagram is held back by `reorder_delay` extra, letting later ones
    /// overtake it (applies even in FIFO mode).
    pub reorder: f64,
    /// Extra delay of a held-back datagram.
    pub reorder_delay: Duration,
    /// Probability that a datagram is delivered twice (the copy gets its own delay).
    pub duplicate: f64,
    /// Windows `[start, end)` of send time during which everything is dropped.
    pub outages: Vec<(Instant, Instant)>,
}

/// Counters of a [`Link`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams handed to `send`.
    pub sent: u64,
    /// Dropped by random or burst loss.
    pub lost: u64,
    /// Dropped by an outage.
    pub outage_dropped: u64,
    /// Extra copies scheduled.
    pub duplicated: u64,
    /// Datagrams held back on purpose (`reorder`).
    pub held_back: u64,
    /// Datagrams delivered (copies included).
    pub delivered: u64,
    /// Deliveries of a datagram sent before one already delivered.
    pub reordered: u64,
    /// Loss bursts: maximal runs of consecutive lost datagrams (outages not counted).
    pub loss_bursts: u64,
}

struct InFlight<T> {
    at: Instant,
    order: u64,
    send_index: u64,
    item: T,
}

impl<T> PartialEq for InFlight<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl<T> Eq for InFlight<T> {}
impl<T> PartialOrd for InFlight<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for InFlight<T> {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest delivery must come out first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

/// One direction of a simulated path carrying datagrams of type `T`.
pub struct Link<T, R = ChaCha8Rng> {
    cfg: LinkConfig,
    rng: R,
    queue: BinaryHeap<InFlight<T>>,
    next_order: u64,
    last_fifo_at: Instant,
    ge_bad: bool,
    in_burst: bool,
    max_delivered_index: Option<u64>,
    stats: LinkStats,
}

impl<T: Clone> Link<T, ChaCha8Rng> {
    /// A link drawing its randomness from ChaCha8 seeded with `seed`.
    pub fn seeded(cfg: LinkConfig, seed: u64) -> Self {
        Link::new(cfg, ChaCha8Rng::seed_from_u64(seed))
    }
}

impl<T: Clone, R: Rng> Link<T, R> {
    /// A link drawing its randomness from `rng`.
    pub fn new(cfg: LinkConfig, rng: R) -> Self {
        Link {
            cfg,
            rng,
            queue: BinaryHeap::new(),
            next_order: 0,
            last_fifo_at: Instant::ZERO,
            ge_bad: false,
            in_burst: false,
            max_delivered_index: None,
            stats: LinkStats::default(),
        }
    }

    /// The configuration; change it mid-test through [`Link::config_mut`].
    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// Mutable configuration (e.g. to switch a profile during a call).
    pub fn config_mut(&mut self) -> &mut LinkConfig {
        &mut self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// Datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// Hand a datagram to the link at `now`.
    pub fn send(&mut self, now: Instant, item: T) {
        let send_index = self.stats.sent;
        self.stats.sent += 1;
        // Draw every random number for this datagram up front, in a fixed order, so that a
        // config change in one feature does not shift the random stream of the others.
        let u_state = self.unit();
        let u_burst = self.unit();
        let u_loss = self.unit();
        let u_reorder = self.unit();
        let u_dup = self.unit();
        let j1 = self.rng.next_u64();
        let j2 = self.rng.next_u64();

        if self
            .cfg
            .outages
            .iter()
            .any(|&(start, end)| start <= now && now < end)
        {
            self.stats.outage_dropped += 1;
            return;
        }
        let mut lost = u_loss < self.cfg.loss;
        if let Some(ge) = self.cfg.burst {
            let flip = if self.ge_bad {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if u_state < flip {
                self.ge_bad = !self.ge_bad;
            }
            let p = if self.ge_bad {
                ge.loss_bad
            } else {
                ge.loss_good
            };
            lost |= u_burst < p;
        }
        if lost {
            self.stats.lost += 1;
            if !self.in_burst {
                self.stats.loss_bursts += 1;
                self.in_burst = true;
            }
            return;
        }
        self.in_burst = false;

        let held_back = u_reorder < self.cfg.reorder;
        if held_back {
            self.stats.held_back += 1;
        }
        if u_dup < self.cfg.duplicate {
            self.stats.duplicated += 1;
            let at = self.arrival(now, j2, false);
            self.push(at, send_index, item.clone());
        }
        let at = self.arrival(now, j1, held_back);
        self.push(at, send_index, item);
    }

    /// When the next datagram is due, if any is in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.queue.peek().map(|f| f.at)
    }

    /// The next datagram due at or before `now`, in delivery order.
    pub fn poll_delivery(&mut self, now: Instant) -> Option<T> {
        if self.queue.peek()?.at > now {
            return None;
        }
        let f = self.queue.pop()?;
        self.stats.delivered += 1;
        match self.max_delivered_index {
            Some(max) if f.send_index < max => self.stats.reordered += 1,
            _ => self.max_delivered_index = Some(f.send_index),
        }
        Some(f.item)
    }

    fn arrival(&mut self, now: Instant, jitter_draw: u64, held_back: bool) -> Instant {
        let jitter_us = self.cfg.jitter.total_micros();
        let extra = if jitter_us == 0 {
            0
        } else {
            jitter_draw % (jitter_us + 1)
        };
        let mut at = now + self.cfg.delay + Duration::from_micros(extra);
        if self.cfg.fifo {
            at = at.max(self.last_fifo_at);
            self.last_fifo_at = at;
        }
        if held_back {
            at += self.cfg.reorder_delay;
        }
        at
    }

    fn push(&mut self, at: Instant, send_index: u64, item: T) {
        let order = self.next_order;
        self.next_order += 1;
        self.queue.push(InFlight {
            at,
            order,
            send_index,
            item,
        });
    }

    /// A uniform draw in `[0, 1)` with 53 bits of precision.
    fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The virtual clock with a bounded number of steps.
#[derive(Debug)]
pub struct Sim {
    now: Instant,
    steps: u64,
    max_steps: u64,
    steps_at_now: u64,
}

/// Steps allowed at one instant before [`Sim::advance`] calls it a livelock.
pub const MAX_STEPS_AT_ONE_INSTANT: u64 = 10_000;

impl Sim {
    /// A clock at `start` that allows `max_steps` calls of [`Sim::advance`].
    pub fn new(start: Instant, max_steps: u64) -> Self {
        Sim {
            now: start,
            steps: 0,
            max_steps,
            steps_at_now: 0,
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Move the clock to the earliest of `deadlines` (past ones count as now), capped at
    /// `until`. Returns `false`, without moving, once the clock has reached `until` and nothing
    /// earlier is pending — the end of the run. With no deadline at all the clock jumps to
    /// `until` and the next call ends the run.
    ///
    /// # Panics
    /// After `max_steps` steps, or after [`MAX_STEPS_AT_ONE_INSTANT`] steps without the clock
    /// moving: the system under test keeps asking to be woken without making progress.
    pub fn advance(
        &mut self,
        deadlines: impl IntoIterator<Item = Option<Instant>>,
        until: Instant,
    ) -> bool {
        let earliest = deadlines.into_iter().flatten().min();
        let target = match earliest {
            Some(t) => t.max(self.now).min(until),
            None => until.max(self.now),
        };
        if target == self.now && self.now >= until && earliest.is_none_or(|t| t > until) {
            return false;
        }
        self.steps += 1;
        assert!(
            self.steps <= self.max_steps,
            "netsim livelock: more than {} steps (virtual time {:?})",
            self.max_steps,
            self.now
        );
        if target == self.now {
            self.steps_at_now += 1;
            assert!(
                self.steps_at_now <= MAX_STEPS_AT_ONE_INSTANT,
                "netsim livelock: {MAX_STEPS_AT_ONE_INSTANT} steps without time moving at {:?}",
                self.now
            );
        } else {
            self.steps_at_now = 0;
            self.now = target;
        }
        true
    }
}

#[cfg(test)]
mod tests;
