//! Packet-loss concealment: synthetic frames that continue the last decoded frame through the
//! normal synthesis chain, so every filter state runs on and the next good packet joins without
//! a seam.
//!
//! The reference's concealment is not public and no vector pins it; this is our own design,
//! measured with PESQ-WB against the loss-free decode (see the decoder tests and the report):
//! - after a voiced frame: a voiced frame without pulses whose long-term predictor repeats the
//!   last pitch period (last block lag, single tap) with a gain chosen so the frame's amplitude
//!   falls by the schedule [`FADE`] whatever the lag is (`g = fade^(lag / 320)`), so the periodic
//!   part decays smoothly instead of stopping;
//! - after an unvoiced frame: an unvoiced frame without pulses at the last subframe's residual
//!   energy, lowered by the same schedule in dB, floored at the codec's −85 dB;
//! - both use the last subframe's LPC filter (the spectral envelope holds during the loss).

use super::PacketBuf;
use crate::mlow::postfilter::FRAME_LEN;
use crate::mlow::synth::{LPC_ORDER, LowBand, SUBFRAMES, SynthFrame};

/// Amplitude factor of the `k`-th consecutive concealed 20 ms frame (the last entry repeats):
/// about −1, −2, −3 dB, then −6 dB per frame, so 100 ms of loss ends 18 dB down and 200 ms 48 dB
/// down.
pub const FADE: [f32; 4] = [0.9, 0.8, 0.7, 0.5];

/// The residual-energy floor of the codec, dB in Q14.
const FLOOR_Q14: i32 = -85 * 16384;

/// No pulses in a concealed frame.
static NO_PULSES: [i8; FRAME_LEN] = [0; FRAME_LEN];

/// What concealment keeps of the last decoded frame.
///
/// Size: 96 bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Concealment {
    voiced: bool,
    /// Last block lag of the last frame, samples.
    lag: f32,
    /// Residual energy of the last subframe, dB in Q14.
    residual_q14: i32,
    /// LPC filter of the last subframe.
    lpc: [f32; LPC_ORDER + 1],
    /// The two lowest LSFs of the last subframe.
    lsf_low: [f32; 2],
    /// Consecutive concealed frames so far.
    lost_frames: u32,
    /// Attenuation reached by the concealment, dB in Q14 (for the unvoiced level).
    fade_q14: i32,
}

impl Default for Concealment {
    fn default() -> Self {
        Self::new()
    }
}

impl Concealment {
    /// Concealment before any packet: silence-level unvoiced frames through a flat filter.
    pub const fn new() -> Self {
        let mut lpc = [0.0; LPC_ORDER + 1];
        lpc[0] = 1.0;
        Self {
            voiced: false,
            lag: 0.0,
            residual_q14: FLOOR_Q14,
            lpc,
            lsf_low: [0.1848, 0.3696],
            lost_frames: 0,
            fade_q14: 0,
        }
    }

    /// Remembers a decoded frame (the last one of a packet is what a loss continues).
    pub fn remember(&mut self, f: &SynthFrame<'_>) {
        self.voiced = f.voiced;
        self.lag = f.block_lags[f.block_lags.len() - 1];
        self.residual_q14 = f.residual_dbq_q14[SUBFRAMES - 1];
        self.lpc = f.lpc[SUBFRAMES - 1];
        self.lsf_low = f.lsf_low[SUBFRAMES - 1];
        self.lost_frames = 0;
        self.fade_q14 = 0;
    }

    /// The last frame's residual energy (dB, Q14) if it was unvoiced: where comfort noise that
    /// follows it starts.
    pub fn last_residual_q14(&self) -> Option<i32> {
        (!self.voiced).then_some(self.residual_q14)
    }

    /// Consecutive concealed frames since the last decoded packet.
    pub fn lost_frames(&self) -> u32 {
        self.lost_frames
    }

    /// Synthesises the next concealed frame into `buf`.
    pub(super) fn push_frame(&mut self, band: &mut LowBand, buf: &mut PacketBuf) {
        let fade = FADE[(self.lost_frames as usize).min(FADE.len() - 1)];
        // 20·log10(fade) in Q14.
        self.fade_q14 += (20.0 * libm::log10f(fade) * 16384.0) as i32;
        self.lost_frames = self.lost_frames.saturating_add(1);
        let lpc = [self.lpc; SUBFRAMES];
        let mut frame = SynthFrame {
            voiced: self.voiced,
            pulses: &NO_PULSES,
            fcb_gain_index: [0; SUBFRAMES],
            acb_codebook_q14: [[0; 2]; SUBFRAMES],
            block_lags: [0.0; 8],
            residual_dbq_q14: [FLOOR_Q14; SUBFRAMES],
            lpc: &lpc,
            lsf_low: [self.lsf_low; SUBFRAMES],
        };
        if self.voiced {
            // Per-frame amplitude `fade` means `fade^(lag/320)` per pitch period.
            let gain = libm::powf(fade, self.lag / FRAME_LEN as f32);
            let q14 = (gain * 16384.0) as i32;
            frame.acb_codebook_q14 = [[q14, 0]; SUBFRAMES];
            frame.block_lags = [self.lag; 8];
        } else {
            let level = self
                .residual_q14
                .saturating_add(self.fade_q14)
                .max(FLOOR_Q14);
            frame.residual_dbq_q14 = [level; SUBFRAMES];
        }
        buf.push(band, &frame);
    }
}
