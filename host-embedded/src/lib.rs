//! # wacall-embedded
//!
//! The microcontroller host for `wacall-core`. Like the tokio host it owns every side effect the
//! core refuses to have (clock, sockets, audio, randomness) and drives the core's sans-IO state
//! machines; unlike it, it is `#![no_std]`, allocation-light and built for targets such as
//! `thumbv7em-none-eabihf`.
//!
//! - [`audio`]: whole PCM frames over `embedded-io` byte streams.
//! - [`clock`]: turns a free-running hardware tick counter into the core's `Instant`.
#![no_std]
#![forbid(unsafe_code)]

pub mod audio;
pub mod clock;
