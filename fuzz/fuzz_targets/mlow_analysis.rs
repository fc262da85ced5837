//! Arbitrary PCM (including full-scale extremes and DC) through the table-free stages of the MLow
//! analysis front end: nothing may panic, and every output must stay finite and ordered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::mlow::analysis::highpass::{InputHighPass, SignalBuffer};
use wacall_core::mlow::analysis::lpc::{self, LPC_BUF_LEN, SPECTRUM_LEN};
use wacall_core::mlow::analysis::nlsf::a_to_nlsf;
use wacall_core::mlow::analysis::perceptual::{PerceptualModel, WeightedSpeech};
use wacall_core::mlow::analysis::pitch::Pitch;
use wacall_core::mlow::analysis::vad::Vad;
use wacall_core::mlow::analysis::voicing::{VoicingClassifier, VoicingInputs, harmonicity};
use wacall_core::mlow::analysis::{FRAMES_PER_PACKET, PACKET_LEN};

fuzz_target!(|data: &[u8]| {
    let (mut vad, mut hp, mut signal) = (Vad::new(), InputHighPass::new(), SignalBuffer::new());
    let (mut perc, mut weighted) = (PerceptualModel::new(), WeightedSpeech::new());
    let mut voicing = VoicingClassifier::new();
    // Up to three packets; a short tail is zero-padded.
    for chunk in data.chunks(2 * PACKET_LEN).take(3) {
        let mut pcm = [0i16; PACKET_LEN];
        for (s, b) in pcm.iter_mut().zip(chunk.chunks_exact(2)) {
            *s = i16::from_le_bytes([b[0], b[1]]);
        }
        let v = vad.process_packet(&pcm);
        let x: [f32; PACKET_LEN] = core::array::from_fn(|i| f32::from(pcm[i]) / 32768.0);
        let mut y = [0f32; PACKET_LEN];
        hp.filter(&x, &mut y);
        signal.push_packet(&y);
        for f in 0..FRAMES_PER_PACKET {
            let mut w = [0f32; LPC_BUF_LEN];
            lpc::window(signal.frame_buffer(f), f < 2, &mut w);
            let mut spectrum = [0f32; SPECTRUM_LEN];
            let a = lpc::analyse(&w, &mut spectrum).a;
            assert!(a.iter().all(|c| c.is_finite()), "predictor");
            let nlsf = a_to_nlsf(&a);
            assert!(nlsf.windows(2).all(|p| p[0] <= p[1]), "nlsf order");
            let mut corrs = [[0f32; 33]; 4];
            perc.frame_correlations(&signal, f, &mut corrs);
            weighted.push_frame(&signal, f, &corrs);
            assert!(
                weighted.buffer().iter().all(|s| s.is_finite()),
                "weighted speech"
            );
            let lag = 32.0 + f32::from(pcm[f] as u16 % 577) * 0.5;
            let h = harmonicity(lag, &spectrum);
            let p = Pitch::UNVOICED;
            let s = voicing.strength(&VoicingInputs {
                pitch_corr: p.pitch_corr,
                lags: &p.lags,
                avg_lag: lag,
                harmonicity: h,
                spectrum: &spectrum,
                activity: f32::from(v.activity_q8[f]) / 256.0,
            });
            assert!(h.is_finite() && s.is_finite(), "voicing");
        }
    }
});
