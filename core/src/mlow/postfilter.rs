//! The decoder's two post-filters (mlow.md §2.11–§2.12).
//!
//! - [`HpPostfilter`] runs on every 20 ms internal frame right after LPC synthesis: a pitch-keyed
//!   second-order comb (or a 50 Hz high-pass on unvoiced frames) between a de-emphasis and a
//!   pre-emphasis, cross-faded over the frame when the pitch jumps.
//! - [`HarmonicPostfilter`] runs once per packet on the whole HP-filtered low band: it adds the
//!   signal one pitch period back and ahead, low-passed, with a strength derived from the local
//!   correlation. It delays the output by [`HARMONIC_DELAY`] samples.
//!
//! Both are f32 and are pinned to reference dumps within one 16-bit LSB in steady state.

mod harmonic;
mod hp;

pub use harmonic::{HARMONIC_DELAY, HarmonicPostfilter, MAX_PACKET_LEN};
pub use hp::{FRAME_LEN, HpPostfilter};

#[cfg(test)]
mod tests;
