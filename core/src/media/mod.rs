//! The media engine and its building blocks.
//!
//! - [`jitter`]: an adaptive, fixed-capacity jitter buffer for 16 kHz audio packets that reorders
//!   by RTP sequence number and timestamp and tells the playout when to conceal.
//! - [`playout`]: the 20 ms playout tick that drains the jitter buffer through a decoder.
//! - [`codec`]: the encoder trait the engine sends through, and an interim (not
//!   WhatsApp-compatible) codec for tests and the demo until MLow encodes.
//! - [`engine`]: the sans-IO 1:1 media engine: relay lifecycle, SRTP audio with SplitRed
//!   redundancy, jitter buffer and playout, RTCP and statistics.

pub mod codec;
pub mod engine;
pub mod jitter;
pub mod playout;
