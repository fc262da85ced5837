//! The whole analysis front end for one 60 ms packet, in the reference's order: VAD on the raw
//! samples, the input high-pass, then per internal frame the LPC analysis, NLSFs, perceptual model,
//! weighted speech, pitch search and voicing decision.
//!
//! The LSF quantiser and everything after it (interpolation search, excitation) belong to the
//! encoder proper, which reads this module's [`PacketAnalysis`] and the high-passed signal.
//!
//! State size: [`Analyser`] 39 232 bytes, of which 28.7 KB are the pitch search's working memory
//! (kept rather than put on the stack and cleared for every frame: the stack peak drops by the
//! 24 KB the search used to take there, to about 5 KB). [`PacketAnalysis`] is 6 KB and provided by
//! the caller.

use super::highpass::{InputHighPass, SignalBuffer};
use super::lpc::{self, LPC_BUF_LEN, Lpc, SPECTRUM_LEN};
use super::nlsf::a_to_nlsf;
use super::perceptual::{CORR_LEN, PerceptualModel, SUBFRAMES, WeightedSpeech};
use super::pitch::{Pitch, PitchError, PitchEstimator, PitchScratch, PitchTables};
use super::vad::Vad;
use super::voicing::{VoicingClassifier, VoicingInputs, is_voiced};
use super::{FRAMES_PER_PACKET, LPC_ORDER, PACKET_LEN};

/// What the front end found in one internal frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameAnalysis {
    /// VAD speech activity, Q8.
    pub activity_q8: u8,
    /// LPC predictor and autocorrelation.
    pub lpc: Lpc,
    /// NLSFs of the predictor (radians).
    pub nlsf: [f32; LPC_ORDER],
    /// Power spectrum of the LPC window.
    pub spectrum: [f32; SPECTRUM_LEN],
    /// Perceptual autocorrelation of each subframe (for the excitation weighting filters).
    pub perceptual: [[f32; CORR_LEN]; SUBFRAMES],
    /// Pitch search result.
    pub pitch: Pitch,
    /// Voicing strength (positive: voiced-like).
    pub voicing_strength: f32,
    /// Whether the frame is coded voiced.
    pub voiced: bool,
}

impl Default for FrameAnalysis {
    fn default() -> Self {
        FrameAnalysis {
            activity_q8: 0,
            lpc: Lpc {
                a: [0.0; LPC_ORDER + 1],
                r: [0.0; LPC_ORDER + 1],
            },
            nlsf: [0.0; LPC_ORDER],
            spectrum: [0.0; SPECTRUM_LEN],
            perceptual: [[0.0; CORR_LEN]; SUBFRAMES],
            pitch: Pitch::UNVOICED,
            voicing_strength: 0.0,
            voiced: false,
        }
    }
}

/// What the front end found in one packet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PacketAnalysis {
    /// The VAD's packet decision (active frame or hangover somewhere in the packet).
    pub coded_as_active_voice: bool,
    /// The three internal frames.
    pub frames: [FrameAnalysis; FRAMES_PER_PACKET],
}

/// The carried state of every analysis stage.
#[derive(Clone, Debug, Default)]
pub struct Analyser {
    vad: Vad,
    high_pass: InputHighPass,
    signal: SignalBuffer,
    perceptual: PerceptualModel,
    weighted: WeightedSpeech,
    pitch: PitchEstimator,
    /// Not state: the pitch search's working memory, kept here so it is not cleared per frame.
    pitch_scratch: PitchScratch,
    voicing: VoicingClassifier,
}

impl Analyser {
    /// A front end at stream start.
    pub fn new() -> Self {
        Self::default()
    }

    /// Analyse the next packet of 16 kHz samples into `out`.
    ///
    /// # Errors
    /// [`PitchError::BadTables`] if the pitch tables are inconsistent; the packet's state changes
    /// are then partial, so the stream should be restarted with a fresh analyser.
    pub fn analyse_packet(
        &mut self,
        tables: &PitchTables<'_>,
        pcm: &[i16; PACKET_LEN],
        out: &mut PacketAnalysis,
    ) -> Result<(), PitchError> {
        let vad = self.vad.process_packet(pcm);
        out.coded_as_active_voice = vad.coded_as_active_voice;

        let mut x = [0f32; PACKET_LEN];
        for (o, &s) in x.iter_mut().zip(pcm) {
            *o = f32::from(s) / 32768.0;
        }
        let mut hp = [0f32; PACKET_LEN];
        self.high_pass.filter(&x, &mut hp);
        self.signal.push_packet(&hp);

        for (f, fa) in out.frames.iter_mut().enumerate() {
            fa.activity_q8 = vad.activity_q8[f];
            let mut windowed = [0f32; LPC_BUF_LEN];
            lpc::window(
                self.signal.frame_buffer(f),
                f + 1 < FRAMES_PER_PACKET,
                &mut windowed,
            );
            fa.lpc = lpc::analyse(&windowed, &mut fa.spectrum);
            fa.nlsf = a_to_nlsf(&fa.lpc.a);

            self.perceptual
                .frame_correlations(&self.signal, f, &mut fa.perceptual);
            self.weighted.push_frame(&self.signal, f, &fa.perceptual);
            fa.pitch = self.pitch.estimate_with(
                &mut self.pitch_scratch,
                tables,
                self.weighted.buffer(),
                &fa.spectrum,
                vad.coded_as_active_voice,
            )?;
            fa.voicing_strength = self.voicing.strength(&VoicingInputs {
                pitch_corr: fa.pitch.pitch_corr,
                lags: &fa.pitch.lags,
                avg_lag: fa.pitch.avg_lag,
                harmonicity: fa.pitch.harmonicity,
                spectrum: &fa.spectrum,
                activity: f32::from(fa.activity_q8) / 256.0,
            });
            fa.voiced = is_voiced(fa.voicing_strength, vad.coded_as_active_voice);
            // The lag predictor of the rate estimate restarts after unvoiced frames and packets.
            if !fa.voiced || f + 1 == FRAMES_PER_PACKET {
                self.pitch.reset_predictor();
            }
        }
        Ok(())
    }

    /// The high-passed signal: the current packet with the previous packet's tail.
    pub fn signal(&self) -> &SignalBuffer {
        &self.signal
    }

    /// The perceptually weighted speech as of the last analysed frame.
    pub fn weighted_speech(&self) -> &WeightedSpeech {
        &self.weighted
    }

    /// The pitch estimator (its lag predictor is what the next frame's search starts from).
    pub fn pitch_estimator(&self) -> &PitchEstimator {
        &self.pitch
    }
}
