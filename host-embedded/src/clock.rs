//! A monotonic clock built from a wrapping hardware tick counter.
//!
//! Microcontrollers expose time as a 32-bit counter (SysTick, a timer peripheral, a DWT cycle
//! counter) that wraps every few seconds to hours. The core wants a monotonic microsecond
//! [`Instant`]. [`TickClock`] extends the counter past its wraps, as long as it is sampled at least
//! once per wrap period, and converts ticks to microseconds without drift.

use wacall_core::time::Instant;

/// Extends a wrapping 32-bit tick counter running at `hz` into a monotonic [`Instant`].
#[derive(Clone, Debug)]
pub struct TickClock {
    hz: u32,
    last_raw: u32,
    total_ticks: u64,
}

impl TickClock {
    /// A clock over a counter running at `hz` ticks per second whose current value is `raw`;
    /// `raw` becomes the epoch.
    ///
    /// # Panics
    /// If `hz` is zero (a configuration error, not input).
    pub const fn new(hz: u32, raw: u32) -> Self {
        assert!(hz > 0, "tick rate must be non-zero");
        TickClock {
            hz,
            last_raw: raw,
            total_ticks: 0,
        }
    }

    /// The current instant from a fresh counter reading. Call at least once per counter wrap
    /// (2³² / hz seconds), or whole wrap periods are lost.
    pub fn now(&mut self, raw: u32) -> Instant {
        self.total_ticks += u64::from(raw.wrapping_sub(self.last_raw));
        self.last_raw = raw;
        let hz = u64::from(self.hz);
        let micros = (self.total_ticks / hz) * 1_000_000 + (self.total_ticks % hz) * 1_000_000 / hz;
        Instant::from_micros(micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_across_counter_wrap() {
        let mut c = TickClock::new(1_000_000, u32::MAX - 9);
        assert_eq!(c.now(u32::MAX).total_micros(), 9);
        assert_eq!(c.now(5).total_micros(), 15);
        assert_eq!(c.now(5).total_micros(), 15);
    }

    #[test]
    fn converts_odd_rates_without_drift() {
        // 48 MHz core clock: 48 ticks per microsecond; 3 s in small steps must be exactly 3 s.
        let mut c = TickClock::new(48_000_000, 0);
        let mut raw = 0u32;
        for _ in 0..3000 {
            raw = raw.wrapping_add(48_000);
            c.now(raw);
        }
        assert_eq!(c.now(raw).total_micros(), 3_000_000);
        let mut c = TickClock::new(32_768, 0);
        assert_eq!(c.now(32_768 * 2 + 1).total_micros(), 2_000_030);
    }
}
