//! # wacall-core
//!
//! The protocol and media core of wacall, a WhatsApp 1:1 voice-call stack. It is `#![no_std]` with
//! `alloc` so that the same code runs inside a tokio desktop host and on a Cortex-M microcontroller
//! behind smoltcp.
//!
//! ## The sans-IO contract
//!
//! Every protocol in this crate is either a pure codec (bytes in, typed values out, and back) or a
//! state machine that follows one shape:
//!
//! 1. The host feeds it input with `handle_input(now, …)`: a received datagram, a PCM frame, a
//!    command, or just the passage of time.
//! 2. The host then drains it with `poll_output()` until it yields `Output::Timeout(at)`, collecting
//!    the datagrams to send, the PCM to play and the events to show on the way. The timeout is
//!    always the last output; it is the one instant at which the machine wants to be called again
//!    even if nothing arrives. There are no hidden timers.
//! 3. Time is [`time::Instant`] / [`time::Duration`], this crate's own microsecond types. The core
//!    never reads a clock: `now` is always an argument, and tests drive it with a virtual clock.
//! 4. Randomness comes in as `rand_core` traits from the caller; the core owns no RNG.
//! 5. The core owns no socket, no file, no print and no global state. Errors are typed values,
//!    never panics: bad input is rejected and leaves the state as it was.
//! 6. The media path (SRTP, RTP, STUN, RED, MLow, jitter buffer) does not allocate after setup; it
//!    works in caller-provided buffers and fixed-capacity `heapless` containers.
//!
//! Wire parsers follow smoltcp's discipline: a zero-copy `Packet<T: AsRef<[u8]>>` view whose
//! `check_len()` validates lengths once so that no accessor can panic afterwards, and a `Repr` with
//! `parse` / `buffer_len` / `emit` for the typed form.
//!
//! ## Modules
//!
//! Bottom up; a module depends only on those above it.
//!
//! - [`time`]: the core's `Instant` and `Duration`.
//! - [`crypto`]: thin wrappers over the RustCrypto primitives the protocols use.
//! - [`keys`]: the media key schedule (participant ids, WAHKDF, RFC 3711 KDF, HBH, SFrame, SSRC).
//! - [`srtp`]: SRTP/SRTCP protect and unprotect in place (AES-CM-128, HMAC-SHA1).
//! - [`sframe`]: WhatsApp's SFrame (AES-128-GCM, 16-byte nonce, trailer header).
//! - [`rtp`]: WhatsApp's RTP header forms and the audio sequencer.
//! - [`rtcp`]: SR/RR/SDES builders, the compound parser and RFC 3550 receiver statistics.
//! - [`stun`]: STUN in the relay dialect: attributes, integrity, allocate / ping / binding success.
//! - [`relay`]: the typed `<relay>` block and endpoint preference.
//! - [`demux`]: STUN / RTCP / RTP classification and the group envelope.
//! - [`red`]: the SplitRed redundancy envelope.
//! - [`payload`]: MLow TOC routing, the Opus escape rewrite and the SID token.
//! - [`mlow`]: the MLow speech codec (WhatsApp's default call codec).
//! - [`media`]: the media path: jitter buffer, playout, the codec seam and the 1:1 media engine.
//! - `kat` (feature `kat`): known-answer checks that run on the host and on the QEMU Cortex-M4
//!   target alike.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod crypto;
pub mod demux;
#[cfg(feature = "kat")]
pub mod kat;
pub mod keys;
pub mod media;
pub mod mlow;
pub mod payload;
pub mod red;
pub mod relay;
pub mod rtcp;
pub mod rtp;
pub mod sframe;
pub mod srtp;
pub mod stun;
pub mod time;
