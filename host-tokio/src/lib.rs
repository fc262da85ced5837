//! # wacall-tokio
//!
//! The desktop host for `wacall-core`. It owns the side effects the core refuses to have — sockets,
//! the clock, audio devices, storage, randomness — and drives the core's sans-IO state machines.
//!
//! - [`clock`]: the host's monotonic clock as the core's `Instant`.
//! - [`demo`]: `wacall demo`, a complete call on loopback with a measured report.
//! - [`relay`]: a local stand-in for a WhatsApp relay (sans-IO state machine, UDP driver, the
//!   `wacall relay` command).
//! - [`udp`]: the loop that runs any sans-IO datagram machine on a tokio UDP socket.

pub mod clock;
pub mod demo;
#[cfg(feature = "play")]
pub mod playback;
pub mod relay;
pub mod udp;
