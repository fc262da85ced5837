//! The codec seam of the media engine, and an interim codec to run it before MLow encodes.
//!
//! - [`AudioEncoder`]: 16 kHz mono PCM of one packet in, one MLow-routed payload out (TOC byte
//!   first). The engine sends a payload whose TOC class is SID (`10xx_xxxx`) as DTX. The MLow
//!   encoder ([`crate::mlow::encoder::Encoder`]) implements it.
//! - Decoding uses [`crate::media::playout::Decoder`]: the MLow decoder implements it.
//! - [`InterimCodec`]: a deliberately simple stand-in (8 kHz IMA ADPCM behind an MLow-shaped TOC)
//!   so that the engine, the simulation and a loopback demo run end to end today. **It is not
//!   WhatsApp-compatible**: a real peer would hand its bytes to its MLow decoder and get noise.
//!   It exists for tests and the interim demo only.
//!
//! # Interim payload format (ours)
//!
//! ```text
//! byte 0      TOC: 0x40 | wide << 5 | size << 3   (class 01 "active voice", bits 4:3 =
//!             10/20/60/120 ms, bit 5 = wideband)
//! byte 1..3   ADPCM start state: predictor (i16 BE), step index (u8)
//! byte 4..    4-bit IMA ADPCM codes, high nibble first: of the 16 kHz signal when wideband,
//!             else of the signal decimated to 8 kHz
//! ```
//!
//! A silent packet becomes the one-byte SID `0x80 | size << 3` (for 60 ms exactly MLow's
//! comfort-noise token `0x90`). Every packet carries its own start state, so a loss never
//! desynchronises the decoder. Narrowband ([`InterimCodec::new`]): 32 kbit/s, a 60 ms packet
//! is 244 bytes, small enough for a SplitRed redundant block (at most 255 bytes), but the 4 kHz
//! bandwidth caps wideband PESQ near 1.4. Wideband ([`InterimCodec::wideband`]): 64 kbit/s and
//! far better quality; its packets fit a redundant block only at 20 ms (164 bytes).

use crate::media::playout::{DecodeError, Decoder};

/// An encoder could not produce a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The PCM length is not a packet duration this encoder supports.
    FrameLength,
    /// The output buffer is too small.
    BufferTooSmall,
}

/// The send side's codec: one packet of 16 kHz mono PCM to one payload.
pub trait AudioEncoder {
    /// Encode `pcm` (the whole packet: 160, 320, 960 or 1920 samples) into `out`; returns the
    /// payload length. The payload starts with its MLow TOC byte; a SID class TOC marks DTX.
    /// 0 means "nothing to send for this packet time" (a DTX gap, a start-up delay): the engine
    /// then sends no packet and uses no sequence number, but advances the RTP timestamp.
    ///
    /// # Errors
    /// [`EncodeError`] when the frame length is unsupported or `out` is too small.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, EncodeError>;
}

/// Step sizes of IMA ADPCM.
const STEPS: [i16; 89] = [
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66,
    73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449,
    494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272,
    2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493,
    10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767,
];
/// Step index change per code magnitude.
const INDEX_STEP: [i8; 8] = [-1, -1, -1, -1, 2, 4, 6, 8];

/// Bytes before the ADPCM codes.
const HEADER_LEN_BYTES: usize = 4;

/// Packets below this RMS (in 16-bit units, about -54 dBFS) are sent as SID.
pub const INTERIM_SILENCE_RMS: u32 = 64;

fn size_bits(samples_16k: usize) -> Option<u8> {
    match samples_16k {
        160 => Some(0),
        320 => Some(1),
        960 => Some(2),
        1920 => Some(3),
        _ => None,
    }
}

/// Largest interim payload (a wideband 120 ms packet).
pub const INTERIM_MAX_PAYLOAD_BYTES: usize = HEADER_LEN_BYTES + 1920 / 2;

#[derive(Clone, Copy, Debug, Default)]
struct Adpcm {
    predictor: i16,
    index: u8,
}

impl Adpcm {
    fn step(&self) -> i32 {
        i32::from(STEPS[usize::from(self.index)])
    }

    fn apply(&mut self, code: u8) {
        let step = self.step();
        let mut diff = step >> 3;
        if code & 4 != 0 {
            diff += step;
        }
        if code & 2 != 0 {
            diff += step >> 1;
        }
        if code & 1 != 0 {
            diff += step >> 2;
        }
        let p = i32::from(self.predictor);
        let p = if code & 8 != 0 { p - diff } else { p + diff };
        self.predictor = p.clamp(-32768, 32767) as i16;
        let idx = i16::from(self.index) + i16::from(INDEX_STEP[usize::from(code & 7)]);
        self.index = idx.clamp(0, 88) as u8;
    }

    fn encode(&mut self, sample: i16) -> u8 {
        let step = self.step();
        let mut diff = i32::from(sample) - i32::from(self.predictor);
        let mut code = 0u8;
        if diff < 0 {
            code = 8;
            diff = -diff;
        }
        let mut s = step;
        for bit in [4u8, 2, 1] {
            if diff >= s {
                code |= bit;
                diff -= s;
            }
            s >>= 1;
        }
        self.apply(code);
        code
    }
}

/// The interim codec (see the [module docs](self)): an encoder and a decoder with packet-loss
/// concealment. **Not WhatsApp-compatible.**
#[derive(Clone, Debug)]
pub struct InterimCodec {
    wideband: bool,
    enc: Adpcm,
    /// Last 16 kHz input sample of the previous packet (decimation filter memory).
    enc_prev: i16,
    /// Last 20 ms played, for concealment.
    history: [i16; 320],
    /// Concealment gain in 1/256 (fades on consecutive concealment).
    conceal_gain: u16,
    /// Read position in `history` while concealing.
    conceal_pos: usize,
}

impl InterimCodec {
    /// A fresh narrowband codec (8 kHz ADPCM; decodes both forms).
    pub fn new() -> Self {
        InterimCodec {
            wideband: false,
            enc: Adpcm::default(),
            enc_prev: 0,
            history: [0; 320],
            conceal_gain: 256,
            conceal_pos: 0,
        }
    }

    /// A fresh wideband codec (16 kHz ADPCM; decodes both forms).
    pub fn wideband() -> Self {
        InterimCodec {
            wideband: true,
            ..Self::new()
        }
    }

    fn remember(&mut self, pcm: &[i16]) {
        let n = pcm.len().min(self.history.len());
        let keep = self.history.len() - n;
        self.history.copy_within(n.., 0);
        self.history[keep..].copy_from_slice(&pcm[pcm.len() - n..]);
        self.conceal_gain = 256;
        self.conceal_pos = 0;
    }
}

impl Default for InterimCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl AudioEncoder for InterimCodec {
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, EncodeError> {
        let size = size_bits(pcm.len()).ok_or(EncodeError::FrameLength)?;
        let energy: u64 = pcm
            .iter()
            .map(|&s| (i64::from(s) * i64::from(s)) as u64)
            .sum();
        let rms_sq = energy / pcm.len() as u64;
        if rms_sq < u64::from(INTERIM_SILENCE_RMS * INTERIM_SILENCE_RMS) {
            let out = out.first_mut().ok_or(EncodeError::BufferTooSmall)?;
            *out = 0x80 | size << 3;
            self.enc_prev = pcm[pcm.len() - 1];
            return Ok(1);
        }
        let per_byte = if self.wideband { 2 } else { 4 };
        let len = HEADER_LEN_BYTES + pcm.len() / per_byte;
        let out = out.get_mut(..len).ok_or(EncodeError::BufferTooSmall)?;
        out[0] = 0x40 | u8::from(self.wideband) << 5 | size << 3;
        out[1..3].copy_from_slice(&self.enc.predictor.to_be_bytes());
        out[3] = self.enc.index;
        if self.wideband {
            for (pair, byte) in pcm.chunks_exact(2).zip(&mut out[HEADER_LEN_BYTES..]) {
                let hi = self.enc.encode(pair[0]);
                let lo = self.enc.encode(pair[1]);
                *byte = hi << 4 | lo;
            }
            self.enc_prev = pcm[pcm.len() - 1];
            return Ok(len);
        }
        let mut prev = i32::from(self.enc_prev);
        for (pair, byte) in pcm.chunks_exact(4).zip(&mut out[HEADER_LEN_BYTES..]) {
            // Two 8 kHz samples per byte, each a [1 2 1]/4 low-pass of the 16 kHz input.
            let a = (prev + 2 * i32::from(pair[0]) + i32::from(pair[1])) / 4;
            let b = (i32::from(pair[1]) + 2 * i32::from(pair[2]) + i32::from(pair[3])) / 4;
            prev = i32::from(pair[3]);
            let hi = self.enc.encode(a as i16);
            let lo = self.enc.encode(b as i16);
            *byte = hi << 4 | lo;
        }
        self.enc_prev = prev as i16;
        Ok(len)
    }
}

impl Decoder for InterimCodec {
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<(), DecodeError> {
        let (&toc, rest) = payload.split_first().ok_or(DecodeError)?;
        if size_bits(out.len()) != Some(toc >> 3 & 3) {
            return Err(DecodeError);
        }
        match toc & 0xC0 {
            0x80 => {
                // SID: comfort "noise" is silence here.
                out.fill(0);
                self.remember(out);
                return Ok(());
            }
            0x40 => {}
            _ => return Err(DecodeError),
        }
        let wide = toc & 0x20 != 0;
        let per_byte = if wide { 2 } else { 4 };
        if rest.len() != HEADER_LEN_BYTES - 1 + out.len() / per_byte || rest[2] > 88 {
            return Err(DecodeError);
        }
        let mut st = Adpcm {
            predictor: i16::from_be_bytes([rest[0], rest[1]]),
            index: rest[2],
        };
        if wide {
            for (byte, pair) in rest[3..].iter().zip(out.chunks_exact_mut(2)) {
                st.apply(byte >> 4);
                pair[0] = st.predictor;
                st.apply(byte & 0x0F);
                pair[1] = st.predictor;
            }
            self.remember(out);
            return Ok(());
        }
        // Decode at 8 kHz into the even output positions, then interpolate the odd ones.
        for (byte, quad) in rest[3..].iter().zip(out.chunks_exact_mut(4)) {
            st.apply(byte >> 4);
            quad[0] = st.predictor;
            st.apply(byte & 0x0F);
            quad[2] = st.predictor;
        }
        let n = out.len();
        for i in (1..n).step_by(2) {
            let next = if i + 1 < n { out[i + 1] } else { out[i - 1] };
            out[i] = ((i32::from(out[i - 1]) + i32::from(next)) / 2) as i16;
        }
        self.remember(out);
        Ok(())
    }

    fn conceal(&mut self, out: &mut [i16]) {
        // Repeat the last 20 ms, fading by half for every 20 ms concealed.
        for s in out.iter_mut() {
            let h = i32::from(self.history[self.conceal_pos]);
            *s = (h * i32::from(self.conceal_gain) / 256) as i16;
            self.conceal_pos += 1;
            if self.conceal_pos == self.history.len() {
                self.conceal_pos = 0;
                self.conceal_gain /= 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn tone(n: usize, freq_hz: f64, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * libm::sin(2.0 * core::f64::consts::PI * freq_hz * i as f64 / 16000.0)) as i16
            })
            .collect()
    }

    #[test]
    fn speech_band_tone_survives_and_silence_is_sid() {
        let mut c = InterimCodec::new();
        let pcm = tone(960, 440.0, 8000.0);
        let mut buf = [0u8; INTERIM_MAX_PAYLOAD_BYTES];
        let n = c.encode(&pcm, &mut buf).unwrap();
        assert_eq!((n, buf[0]), (244, 0x50));
        let mut out = [0i16; 960];
        Decoder::decode(&mut c, &buf[..n], &mut out).unwrap();
        // SNR of the second half (the ADPCM has converged), against the input.
        let (mut sig, mut err) = (0f64, 0f64);
        for i in 480..960 {
            sig += f64::from(pcm[i]).powi(2);
            err += (f64::from(pcm[i]) - f64::from(out[i])).powi(2);
        }
        let snr_db = 10.0 * libm::log10(sig / err);
        assert!(snr_db > 12.0, "snr {snr_db}");
        let n = c.encode(&[3i16; 960], &mut buf).unwrap();
        assert_eq!(&buf[..n], &[crate::payload::MLOW_SID_TOKEN]);
        assert!(crate::payload::is_mlow_dtx(&buf[..n]));
    }

    #[test]
    fn wideband_form_keeps_the_upper_band() {
        let mut enc = InterimCodec::wideband();
        // A 6 kHz tone: above the narrowband form's 4 kHz limit.
        let pcm = tone(320, 6000.0, 8000.0);
        let mut buf = [0u8; INTERIM_MAX_PAYLOAD_BYTES];
        let n = enc.encode(&pcm, &mut buf).unwrap();
        assert_eq!((n, buf[0]), (164, 0x68));
        // Any codec decodes both forms.
        let mut out = [0i16; 320];
        Decoder::decode(&mut InterimCodec::new(), &buf[..n], &mut out).unwrap();
        let (mut sig, mut err) = (0f64, 0f64);
        for i in 160..320 {
            sig += f64::from(pcm[i]).powi(2);
            err += (f64::from(pcm[i]) - f64::from(out[i])).powi(2);
        }
        assert!(10.0 * libm::log10(sig / err) > 10.0);
    }

    #[test]
    fn malformed_payloads_are_refused_and_concealment_fades() {
        let mut c = InterimCodec::new();
        let mut out = [0i16; 960];
        for bad in [&[][..], &[0x50], &[0xD0, 0, 0, 0], &[0x48, 0, 0, 0]] {
            assert_eq!(Decoder::decode(&mut c, bad, &mut out), Err(DecodeError));
        }
        let pcm = tone(960, 300.0, 10000.0);
        let mut buf = [0u8; 300];
        let n = c.encode(&pcm, &mut buf).unwrap();
        Decoder::decode(&mut c, &buf[..n], &mut out).unwrap();
        let mut first = [0i16; 320];
        c.conceal(&mut first);
        assert_eq!(&first[..], &out[640..]);
        let mut later = [0i16; 640];
        c.conceal(&mut later);
        let peak = |s: &[i16]| s.iter().map(|v| v.unsigned_abs()).max().unwrap();
        assert!(peak(&later[320..]) <= peak(&first) / 4 + 1);
    }
}
