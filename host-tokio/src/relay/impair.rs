//! Network impairment on the relay's forwarding path: loss (independent or in bursts), a fixed
//! delay and jitter, so a call on loopback can be made to sound like a call over a bad network.
//!
//! Loss follows a two-state (Gilbert) model per sending allocation: in the bad state every
//! datagram is lost, in the good state none. With a long-run loss rate `p` and a mean burst length
//! `L`, a burst continues with probability `1 − 1/L` and starts with probability
//! `p / ((1 − p)·L)`, which makes the stationary share of the bad state exactly `p`. `L` below
//! `1/(1 − p)` is raised to it, where the model is plain independent loss with probability `p`.
//!
//! Each forwarded datagram is held for `delay` plus a uniform draw from `0..=jitter`; when the
//! jitter exceeds the packet spacing, datagrams overtake each other as on a real network.
//! Only forwarded media is impaired: the relay's own STUN answers go out at once.
//!
//! Randomness is a seeded SplitMix64 stream: the same seed and the same traffic give the same
//! impairment, which keeps tests deterministic. It is a simulation generator, not a secret one.

use wacall_core::time::Duration;

/// How the relay degrades the media it forwards. [`Impairment::NONE`] forwards at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impairment {
    /// Long-run fraction of forwarded datagrams lost, in `0.0..1.0`.
    pub loss: f64,
    /// Mean length of a loss burst in datagrams (1 or less: independent loss).
    pub mean_burst_len: f64,
    /// Fixed extra one-way delay.
    pub delay: Duration,
    /// Largest extra random delay; each datagram draws uniformly from zero to this.
    pub jitter: Duration,
    /// Seed of the random stream.
    pub seed: u64,
}

/// Why an [`Impairment`] cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImpairmentError {
    /// `loss` is not a number in `0.0..1.0`.
    Loss,
    /// `mean_burst_len` is not a finite number.
    BurstLength,
}

impl std::fmt::Display for ImpairmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImpairmentError::Loss => "loss must be at least 0 and below 1",
            ImpairmentError::BurstLength => "mean burst length must be a finite number",
        })
    }
}

impl std::error::Error for ImpairmentError {}

impl Impairment {
    /// No loss, no delay.
    pub const NONE: Impairment = Impairment {
        loss: 0.0,
        mean_burst_len: 1.0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        seed: 0,
    };

    /// Whether this loses or delays anything at all.
    pub fn is_active(&self) -> bool {
        self.loss > 0.0 || self.delay > Duration::ZERO || self.jitter > Duration::ZERO
    }

    /// Check the numbers.
    pub fn validate(&self) -> Result<(), ImpairmentError> {
        if !(0.0..1.0).contains(&self.loss) {
            return Err(ImpairmentError::Loss);
        }
        if !self.mean_burst_len.is_finite() {
            return Err(ImpairmentError::BurstLength);
        }
        Ok(())
    }

    /// Advance the loss state of one link and say whether this datagram is lost. `in_burst` is
    /// the link's state, kept by the caller.
    pub(super) fn lose(&self, in_burst: &mut bool, rng: &mut SplitMix64) -> bool {
        // NaN or out-of-range values (never validated) impair nothing rather than misbehave.
        if !(self.loss > 0.0 && self.loss < 1.0) {
            *in_burst = false;
            return false;
        }
        let burst = self.mean_burst_len.max(1.0 / (1.0 - self.loss));
        let stay = 1.0 - 1.0 / burst;
        let enter = self.loss / ((1.0 - self.loss) * burst);
        let draw = rng.unit();
        *in_burst = draw < if *in_burst { stay } else { enter };
        *in_burst
    }

    /// The hold time of one datagram.
    pub(super) fn hold(&self, rng: &mut SplitMix64) -> Duration {
        let spread = self.jitter.total_micros();
        let extra = if spread == 0 {
            0
        } else {
            rng.next_u64() % (spread + 1)
        };
        self.delay + Duration::from_micros(extra)
    }
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment::NONE
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small, well-mixed, seedable stream.
#[derive(Clone, Debug)]
pub(super) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(super) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw from `[0, 1)` with 53 bits of precision.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs for seed 0 as published with the algorithm (and reproduced by Java's
    /// `SplittableRandom`, whose mixing function this is): pins the generator itself.
    #[test]
    fn splitmix64_matches_the_reference_stream() {
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    fn measure(imp: &Impairment, n: usize) -> (f64, f64) {
        let mut rng = SplitMix64::new(imp.seed);
        let mut state = false;
        let (mut lost, mut bursts, mut previous) = (0usize, 0usize, false);
        for _ in 0..n {
            let l = imp.lose(&mut state, &mut rng);
            lost += usize::from(l);
            bursts += usize::from(l && !previous);
            previous = l;
        }
        (lost as f64 / n as f64, lost as f64 / bursts.max(1) as f64)
    }

    #[test]
    fn loss_rate_and_burst_length_come_out_as_configured() {
        let n = 200_000;
        for (loss, burst) in [(0.2, 1.0), (0.2, 4.0), (0.05, 3.0), (0.5, 1.0)] {
            let imp = Impairment {
                loss,
                mean_burst_len: burst,
                seed: 7,
                ..Impairment::NONE
            };
            let (rate, mean_burst) = measure(&imp, n);
            assert!((rate - loss).abs() < 0.01, "loss {loss}: measured {rate}");
            // Independent loss has mean run length 1/(1 − p).
            let want = burst.max(1.0 / (1.0 - loss));
            assert!(
                (mean_burst - want).abs() < 0.05 * want,
                "burst {burst}: measured {mean_burst}, want {want}"
            );
        }
        assert_eq!(measure(&Impairment::NONE, 1000).0, 0.0);
        assert!(!Impairment::NONE.is_active());
    }

    #[test]
    fn holds_stay_within_delay_plus_jitter_and_cover_it() {
        let imp = Impairment {
            delay: Duration::from_millis(30),
            jitter: Duration::from_millis(100),
            ..Impairment::NONE
        };
        let mut rng = SplitMix64::new(1);
        let holds: Vec<u64> = (0..10_000)
            .map(|_| imp.hold(&mut rng).total_micros())
            .collect();
        let (lo, hi) = (holds.iter().min().unwrap(), holds.iter().max().unwrap());
        assert!(*lo >= 30_000 && *hi <= 130_000);
        assert!(*lo < 31_000 && *hi > 129_000, "the whole range is used");
        assert_eq!(
            Impairment::NONE.hold(&mut rng),
            Duration::ZERO,
            "no impairment holds nothing"
        );
    }

    #[test]
    fn validation_refuses_impossible_numbers() {
        let with_loss = |loss| Impairment {
            loss,
            ..Impairment::NONE
        };
        assert_eq!(with_loss(1.0).validate(), Err(ImpairmentError::Loss));
        assert_eq!(with_loss(-0.1).validate(), Err(ImpairmentError::Loss));
        assert_eq!(with_loss(f64::NAN).validate(), Err(ImpairmentError::Loss));
        assert_eq!(with_loss(0.99).validate(), Ok(()));
        let burst = Impairment {
            mean_burst_len: f64::INFINITY,
            ..Impairment::NONE
        };
        assert_eq!(burst.validate(), Err(ImpairmentError::BurstLength));
    }
}
