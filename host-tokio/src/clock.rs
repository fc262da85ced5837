//! The host's monotonic clock, expressed in the core's time type.

use wacall_core::time::Instant;

/// Maps `std::time::Instant` onto the core's microsecond [`Instant`], with its epoch at creation.
#[derive(Clone, Copy, Debug)]
pub struct HostClock {
    epoch: std::time::Instant,
}

impl HostClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        HostClock {
            epoch: std::time::Instant::now(),
        }
    }

    /// The core instant for a host instant (instants before the epoch map to the epoch).
    pub fn to_core(&self, t: std::time::Instant) -> Instant {
        let micros = t.saturating_duration_since(self.epoch).as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// The host instant for a core instant (used to sleep until a core deadline).
    pub fn to_host(&self, t: Instant) -> std::time::Instant {
        self.epoch + std::time::Duration::from_micros(t.total_micros())
    }

    /// Now, as a core instant.
    pub fn now(&self) -> Instant {
        self.to_core(std::time::Instant::now())
    }
}

impl Default for HostClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_and_host_instants_round_trip() {
        let clock = HostClock::new();
        let later = clock.epoch + std::time::Duration::from_micros(1_234_567);
        let core = clock.to_core(later);
        assert_eq!(core.total_micros(), 1_234_567);
        assert_eq!(clock.to_host(core), later);
        assert_eq!(clock.to_core(clock.epoch).total_micros(), 0);
    }
}
