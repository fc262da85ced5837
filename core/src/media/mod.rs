//! The media engine's building blocks that do not depend on keying, framing or the codec.
//!
//! - [`jitter`]: an adaptive, fixed-capacity jitter buffer for 16 kHz audio packets that reorders
//!   by RTP sequence number and timestamp and tells the playout when to conceal.
//! - [`playout`]: the 20 ms playout tick that drains the jitter buffer through a decoder.

pub mod jitter;
pub mod playout;
