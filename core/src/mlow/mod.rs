//! MLow ("smpl"), Meta's CELP speech codec inside a libopus fork and WhatsApp's default call codec.
//!
//! Decoder synthesis stages, each a small state struct with caller-provided buffers so the packet
//! decoder can chain them per subframe, per 20 ms internal frame and per packet:
//!
//! - [`excitation`]: fixed-codebook pulses × gain, the adaptive codebook (long-term predictor) with
//!   its half-sample interpolation kernel, the ACB gain high boost and the normalised-bitrate model.
//! - [`noise`]: the residual-energy decode (the reference's bit-cast exponential) and the shaped
//!   noise generator added to the excitation.
//! - [`synth`]: the order-16 LPC synthesis filter.
//! - [`postfilter`]: the per-frame HP (pitch) post-filter and the per-packet harmonic post-filter.
//!
//! The reference synthesis is single-precision float built with fast-math; these stages are f32
//! (through `libm`) and are pinned to the reference dumps within stated tolerances. Each stage keeps
//! its floating-point arithmetic behind a few small functions so a fixed-point variant can replace
//! it later without touching the callers.

pub mod excitation;
pub mod noise;
pub mod postfilter;
pub mod synth;

#[cfg(test)]
mod test_vectors;
