//! Comfort noise during discontinuous transmission.
//!
//! A SID packet carries one unvoiced frame's LSF indices and residual energies and stands for
//! its whole duration; after it the sender is silent until the next SID or speech. No reference
//! output pins what the decoder plays (the reference's comfort-noise code is not public), so the
//! behaviour is ours and is tested for its properties:
//! - **spectrum**: the SID's LSFs go through the normal LSF decoder (interpolated from the
//!   previous frame over the first frame, so the envelope glides), and the noise is shaped by the
//!   resulting LPC filter, so its spectral tilt follows the SID envelope;
//! - **level**: the noise generator's unvoiced path is driven at a residual energy that moves a
//!   quarter of the way (in dB) towards the SID's mean level each 5 ms subframe, starting from
//!   the last unvoiced speech level when comfort noise follows speech, so the level glides in;
//! - **duration**: until the next SID (which retargets) or speech (which simply continues the
//!   filter states: no reset, no seam); lost packets in between keep the comfort noise going at
//!   its level instead of fading it.

use super::PacketBuf;
use crate::mlow::lsf::FrameLpc;
use crate::mlow::params::{FrameParams, SUBFRAMES as PARAM_SUBFRAMES};
use crate::mlow::postfilter::FRAME_LEN;
use crate::mlow::synth::{LPC_ORDER, LowBand, SUBFRAMES, SynthFrame};

/// No pulses in a comfort-noise frame.
static NO_PULSES: [i8; FRAME_LEN] = [0; FRAME_LEN];

/// Share of the remaining distance to the SID level covered per subframe: 1/4.
const GLIDE_SHIFT: u32 = 2;

/// Comfort-noise generator state.
///
/// Size: 4 · 17 · 4 + 4 · 2 · 4 + 12 = 316 bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct ComfortNoise {
    active: bool,
    /// SID level (mean of its subframe residual energies), dB in Q14.
    target_q14: i32,
    /// Current level, dB in Q14.
    level_q14: i32,
    /// LPC filters of the next frame's subframes (the SID's interpolated ones at first, then its
    /// own filter).
    lpc: [[f32; LPC_ORDER + 1]; SUBFRAMES],
    /// The two lowest LSFs per subframe.
    lsf_low: [[f32; 2]; SUBFRAMES],
}

impl Default for ComfortNoise {
    fn default() -> Self {
        Self::new()
    }
}

impl ComfortNoise {
    /// Inactive.
    pub const fn new() -> Self {
        Self {
            active: false,
            target_q14: 0,
            level_q14: 0,
            lpc: [[0.0; LPC_ORDER + 1]; SUBFRAMES],
            lsf_low: [[0.0; 2]; SUBFRAMES],
        }
    }

    /// Whether comfort noise is playing (a SID came after the last speech packet).
    pub fn active(&self) -> bool {
        self.active
    }

    /// The current level, dB in Q14 (the residual energy the noise generator is driven at).
    pub fn level_q14(&self) -> i32 {
        self.level_q14
    }

    /// Takes a SID frame: its reconstructed LPC and its level. `previous_q14` is where the level
    /// starts when comfort noise was not already playing (the last unvoiced speech level; the SID
    /// level itself if `None`).
    pub fn start_sid(&mut self, sid: &FrameParams, lpc: &FrameLpc, previous_q14: Option<i32>) {
        let sum: i64 = sid.nrgres_dbq_q14.iter().map(|&q| i64::from(q)).sum();
        self.target_q14 = (sum / PARAM_SUBFRAMES as i64) as i32;
        if !self.active {
            self.level_q14 = previous_q14.unwrap_or(self.target_q14);
        }
        self.lpc = lpc.a;
        self.lsf_low = lpc.subframe_lsf.map(|l| [l[0], l[1]]);
        self.active = true;
    }

    /// Speech resumed.
    pub fn stop(&mut self) {
        self.active = false;
    }

    /// Synthesises the next comfort-noise frame into `buf`.
    pub(super) fn push_frame(&mut self, band: &mut LowBand, buf: &mut PacketBuf) {
        let mut residual = [0i32; SUBFRAMES];
        for r in &mut residual {
            self.level_q14 += (self.target_q14 - self.level_q14) >> GLIDE_SHIFT;
            *r = self.level_q14;
        }
        let lpc = self.lpc;
        let frame = SynthFrame {
            voiced: false,
            pulses: &NO_PULSES,
            fcb_gain_index: [0; SUBFRAMES],
            acb_codebook_q14: [[0; 2]; SUBFRAMES],
            block_lags: [0.0; 8],
            residual_dbq_q14: residual,
            lpc: &lpc,
            lsf_low: self.lsf_low,
        };
        buf.push(band, &frame);
        // Later frames hold the SID's own (last-subframe) envelope.
        self.lpc = [self.lpc[SUBFRAMES - 1]; SUBFRAMES];
        self.lsf_low = [self.lsf_low[SUBFRAMES - 1]; SUBFRAMES];
    }
}
