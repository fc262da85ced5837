//! # wacall-tokio
//!
//! The desktop host for `wacall-core`. It owns the side effects the core refuses to have — sockets,
//! the clock, audio devices, storage, randomness — and drives the core's sans-IO state machines.
//!
//! - [`clock`]: the host's monotonic clock as the core's `Instant`.
//! - [`relay`]: a local stand-in for a WhatsApp relay (sans-IO state machine, UDP driver, the
//!   `wacall relay` command).
//! - [`udp`]: the loop that runs any sans-IO datagram machine on a tokio UDP socket.

pub mod clock;
pub mod relay;
pub mod udp;
