//! Scoring packet-loss concealment: one loss pattern decoded three ways — our concealment, silence
//! in place of each lost packet, and a repeat of the last good packet — each scored with PESQ-WB
//! against the loss-free decode. Shared by the reference-stream and the speech PLC tests.

use wacall_core::mlow::Decoder;
use wacall_testkit::quality::pesq_wb;

/// Samples per 60 ms packet at 16 kHz.
pub const PACKET: usize = 960;

/// PESQ-WB of the three ways to fill the lost packets.
pub struct Outcome {
    /// `Decoder::decode_lost` for every lost packet.
    pub plc: f32,
    /// Zeros for every lost packet (the decoder never sees it).
    pub silence: f32,
    /// The last decoded packet again for every lost packet (the decoder never sees it).
    pub repeat: f32,
}

/// Decode `packets` with the ones marked in `lost` missing, and score each way against `clean`.
pub fn score(packets: &[Vec<u8>], clean: &[i16], lost: &[bool]) -> Outcome {
    let mut plc_dec = Decoder::new();
    let mut skip_dec = Decoder::new();
    let n = packets.len() * PACKET;
    let (mut plc, mut silence, mut repeat) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut last = [0i16; PACKET];
    let mut pcm = [0i16; PACKET];
    for (p, &is_lost) in packets.iter().zip(lost) {
        if is_lost {
            plc_dec.decode_lost(&mut pcm);
            plc.extend_from_slice(&pcm);
            silence.extend_from_slice(&[0; PACKET]);
            repeat.extend_from_slice(&last);
        } else {
            plc_dec.decode(p, &mut pcm).expect("decodes");
            plc.extend_from_slice(&pcm);
            skip_dec.decode(p, &mut last).expect("decodes");
            silence.extend_from_slice(&last);
            repeat.extend_from_slice(&last);
        }
    }
    Outcome {
        plc: pesq_wb(clean, &plc).expect("pesq"),
        silence: pesq_wb(clean, &silence).expect("pesq"),
        repeat: pesq_wb(clean, &repeat).expect("pesq"),
    }
}
