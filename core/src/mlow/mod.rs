//! MLow ("smpl"), the CELP codec WhatsApp calls use, carried in a libopus fork that reuses the
//! Opus range coder.
//!
//! Decoder part 1, the bit-exact integer layer:
//! - [`range`]: the Opus range decoder/encoder and MLow's symbol shapes;
//! - [`toc`]: the first payload byte and the packet geometry;
//! - [`tables`]: the runtime tables, generated from the table seeds;
//! - [`params`]: per-packet low-band parameter decode (and its exact inverse for the encoder),
//!   the in-packet predictors and the endpoint check;
//! - [`lsf`]: LSF dequantisation, stabilisation, interpolation and NLSF → LPC (the float stage).
pub mod lsf;
pub mod params;
pub mod range;
pub mod tables;
pub mod toc;
