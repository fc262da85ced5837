//! The MLow encoder's analysis front end: every measurement the encoder makes on the microphone
//! signal before it quantises anything.
//!
//! [`analyser::Analyser`] runs them all for a packet, in the reference's order.
//!
//! Each stage is pinned to a dump of the reference encoder run on the shared `synth_mic.raw`
//! fixture (integration tests `core/tests/mlow_analysis.rs`, `mlow_lsf.rs` and `mlow_pitch.rs`):
//!
//! - [`vad`]: the fixed-point SILK-style voice activity detector and the packet-level
//!   "coded as active voice" decision with its 60 ms hangover;
//! - [`highpass`]: the 35 Hz input high-pass and the sliding buffer of high-passed signal;
//! - [`lpc`]: window, 512-point power spectrum, cosine-sum autocorrelation, Schur recursion and
//!   bandwidth expansion, giving the order-16 predictor `A` and the power spectrum `F2`;
//! - [`nlsf`]: predictor to normalised line spectral frequencies (fixed point, SILK style);
//! - [`lsf_quant`]: the LSF quantiser (codebook passed in);
//! - [`perceptual`]: the perceptual model, weighting filters and the weighted speech buffer;
//! - [`pitch`]: the pitch estimator on the perceptually weighted speech (tables passed in);
//! - [`voicing`]: the voiced/unvoiced classifier and the spectral harmonicity measure.
//!
//! Integer stages stay integer; float stages use `libm` so they run without `std`. Nothing here
//! allocates: state lives in fixed arrays (the pitch search's working memory among them, see
//! [`analyser`]) and the remaining scratch on the stack.
//!
//! Cost on `synth_mic.raw` (callgrind, x86-64, `examples/mlow_analysis_profile.rs`): about
//! 1.39 M instructions per 60 ms packet: pitch search 0.80 M, perceptual model 0.31 M (of which
//! its six 576-point spectra 0.21 M), LPC 0.08 M, weighted speech 0.06 M, A to NLSF 0.05 M, VAD
//! 0.04 M, voicing 0.02 M. The speed comes from in-place transforms, table-driven cosine sums
//! computing several lags side by side (vector lanes), cached rows in the final pitch search and
//! not clearing scratch per frame; every float sum keeps its original order, so the outputs are
//! bit-identical to the straightforward forms the stages were pinned with.

pub mod analyser;
mod fft;
mod fixed;
pub mod highpass;
pub mod lpc;
pub mod lsf_quant;
pub mod nlsf;
pub mod perceptual;
pub mod pitch;
mod tables;
pub mod vad;
pub mod voicing;

/// Samples per second of the analysis (the MLow low band).
pub const SAMPLE_RATE_HZ: u32 = 16_000;
/// Samples in one internal frame (20 ms).
pub const FRAME_LEN: usize = 320;
/// Internal frames in one 60 ms packet.
pub const FRAMES_PER_PACKET: usize = 3;
/// Samples in one 60 ms packet.
pub const PACKET_LEN: usize = FRAME_LEN * FRAMES_PER_PACKET;
/// Order of the linear predictor.
pub const LPC_ORDER: usize = 16;

#[cfg(test)]
mod tests {
    use core::mem::size_of;

    /// The state sizes the module docs quote; a change here should update them.
    #[test]
    fn state_sizes() {
        assert_eq!(size_of::<super::vad::Vad>(), 100);
        assert_eq!(size_of::<super::highpass::InputHighPass>(), 36);
        assert_eq!(size_of::<super::highpass::SignalBuffer>(), 5248);
        assert_eq!(size_of::<super::voicing::VoicingClassifier>(), 16);
        assert_eq!(size_of::<super::perceptual::PerceptualModel>(), 2436);
        assert_eq!(size_of::<super::perceptual::WeightedSpeech>(), 2636);
        assert_eq!(size_of::<super::pitch::PitchEstimator>(), 16);
        assert_eq!(size_of::<super::analyser::Analyser>(), 39_232);
    }
}
