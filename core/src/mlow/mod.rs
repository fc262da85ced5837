//! MLow ("smpl"), Meta's CELP speech codec inside a libopus fork that reuses the Opus range coder,
//! and WhatsApp's default call codec.
//!
//! The bit-exact integer layer:
//! - [`range`]: the Opus range decoder/encoder and MLow's symbol shapes;
//! - [`toc`]: the first payload byte and the packet geometry;
//! - [`tables`]: the runtime tables, generated from the table seeds;
//! - [`params`]: per-packet low-band parameter decode (and its exact inverse for the encoder),
//!   the in-packet predictors and the endpoint check.
//!
//! The synthesis stages, each a small state struct with caller-provided buffers so the packet
//! decoder can chain them per subframe, per 20 ms internal frame and per packet:
//! - [`lsf`]: LSF dequantisation, stabilisation, interpolation and NLSF → LPC;
//! - [`excitation`]: fixed-codebook pulses × gain, the adaptive codebook (long-term predictor) with
//!   its half-sample interpolation kernel, the ACB gain high boost and the normalised-bitrate model;
//! - [`noise`]: the residual-energy decode (the reference's bit-cast exponential) and the shaped
//!   noise generator added to the excitation;
//! - [`synth`]: the order-16 LPC synthesis filter;
//! - [`postfilter`]: the per-frame HP (pitch) post-filter and the per-packet harmonic post-filter.
//!
//! [`decoder`] chains the decoder stages into the packet decoder ([`Decoder`]) with comfort noise
//! and packet-loss concealment.
//!
//! The encoder:
//! - [`analysis`]: VAD, input high-pass, LPC front end, A → NLSF, LSF quantiser, perceptual model,
//!   pitch estimator and voicing classifier, each pinned to the reference encoder's dumps;
//! - [`encoder`]: the encoder proper ([`encoder::Encoder`]): LSF quantisation, closed-loop CELP
//!   against a mirror of the decoder, rate control, hang-over, DTX with SID packets.
//!
//! The reference synthesis is single-precision float built with fast-math; the float stages are
//! f32 (through `libm`) and pinned to the reference dumps within stated tolerances. Each keeps its
//! floating-point arithmetic behind a few small functions so a fixed-point variant can replace it
//! later without touching the callers.

pub mod analysis;
pub mod decoder;
pub mod encoder;
pub mod excitation;
pub mod lsf;
pub mod noise;
pub mod params;
pub mod postfilter;
pub mod range;
pub mod synth;
pub mod tables;
pub mod toc;

pub use decoder::{DecodeError, Decoder};

#[cfg(test)]
mod test_vectors;
