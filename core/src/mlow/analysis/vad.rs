//! Voice activity detection: a fixed-point, SILK-style speech-activity measure per 20 ms internal
//! frame, and the packet-level "coded as active voice" decision with a 60 ms hangover.
//!
//! The detector runs on the raw 16-bit microphone samples (before the encoder's high-pass). Per
//! internal frame it splits the signal into four bands (0–1, 1–2, 2–4 and 4–8 kHz) with a tree of
//! half-band all-pass pairs, high-passes the lowest band, measures each band's energy, tracks a
//! per-band noise floor, and maps the rms band SNR through a logistic curve to an activity in Q8
//! (0..=255). All arithmetic is integer and reproduces the reference to the bit.
//!
//! State size: [`Vad`] is 100 bytes.

use super::fixed::{
    add_pos_sat32, lin2log, rshift_round, sat16, sigm_q15, smlabb, smlawb, smulwb, smulww,
    sqrt_approx,
};
use super::{FRAME_LEN, FRAMES_PER_PACKET, PACKET_LEN};

const BANDS: usize = 4;
/// Energy is measured over four equal sub-blocks per frame.
const SUB_BLOCKS: usize = 4;
/// All-pass coefficients of the half-band split, Q15 (the first is applied as Q16).
const ALLPASS_ODD_Q16: i32 = 3894 << 1;
const ALLPASS_EVEN_Q15: i32 = -29322;
/// Lowest-band high-pass: pole `a` and gain `b = (1 + a) / 2`, both Q16 (-3 dB near 66 Hz).
const LOW_HP_POLE_Q16: i32 = 53_084;
const LOW_HP_GAIN_Q16: i32 = (65_536 + LOW_HP_POLE_Q16) / 2;
/// Noise-floor smoothing coefficient, Q16.
const NOISE_SMOOTH_Q16: i32 = 1024;
/// Noise floors start at 100 times this bias (divided by the band number).
const NOISE_BIAS: i32 = 50;
/// SNR-to-activity slope (Q16) and offset (Q5).
const SNR_FACTOR_Q16: i32 = 45_000;
const ACTIVITY_OFFSET_Q5: i32 = 128;
/// Frames with activity above this (Q8, round(0.05 * 256)) count as active.
pub const ACTIVE_THRESHOLD_Q8: u8 = 12;
/// Hangover after the last active frame, in milliseconds.
pub const HANGOVER_MS: u16 = 60;
const FRAME_MS: u16 = 20;

/// One packet's voice-activity verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VadPacket {
    /// Speech activity of each internal frame, Q8 (divide by 256 for a probability).
    pub activity_q8: [u8; FRAMES_PER_PACKET],
    /// Whether the packet is coded as active voice: some frame is active or in hangover.
    pub coded_as_active_voice: bool,
}

/// The carried state of the detector and of the hangover counter.
#[derive(Clone, Debug)]
pub struct Vad {
    /// All-pass states of the three half-band splits (8 kHz, 4 kHz, 2 kHz input rate).
    split_state: [[i32; 2]; 3],
    /// Energy of each band's last sub-block, carried into the next frame's sum.
    carried_energy: [i32; BANDS],
    noise_level: [i32; BANDS],
    inv_noise_level: [i32; BANDS],
    noise_bias: [i32; BANDS],
    /// Frames seen while the noise tracker is still adapting quickly.
    counter: i32,
    low_hp_state: i32,
    remaining_hangover_ms: u16,
}

impl Default for Vad {
    fn default() -> Self {
        Self::new()
    }
}

impl Vad {
    /// A detector at stream start. The hangover starts full, so the first packet is coded active.
    pub fn new() -> Self {
        let mut noise_bias = [0; BANDS];
        let mut noise_level = [0; BANDS];
        let mut inv_noise_level = [0; BANDS];
        for b in 0..BANDS {
            noise_bias[b] = (NOISE_BIAS / (b as i32 + 1)).max(1);
            noise_level[b] = 100 * noise_bias[b];
            inv_noise_level[b] = i32::MAX / noise_level[b];
        }
        Vad {
            split_state: [[0; 2]; 3],
            carried_energy: [0; BANDS],
            noise_level,
            inv_noise_level,
            noise_bias,
            counter: 15,
            low_hp_state: 0,
            remaining_hangover_ms: HANGOVER_MS,
        }
    }

    /// Analyse one 60 ms packet of 16 kHz samples.
    pub fn process_packet(&mut self, pcm: &[i16; PACKET_LEN]) -> VadPacket {
        let mut activity_q8 = [0u8; FRAMES_PER_PACKET];
        let coded_as_active_voice = self.process_frames(pcm, &mut activity_q8);
        VadPacket {
            activity_q8,
            coded_as_active_voice,
        }
    }

    /// Analyse a packet of any whole number of 20 ms frames (one for 20 ms packets): writes each
    /// frame's activity (Q8) to `activity_q8` and returns whether the packet is coded as active
    /// voice. Frames beyond the shorter of `pcm` and `activity_q8` are ignored.
    pub fn process_frames(&mut self, pcm: &[i16], activity_q8: &mut [u8]) -> bool {
        let mut coded_as_active_voice = false;
        for (frame, out) in pcm.chunks_exact(FRAME_LEN).zip(activity_q8.iter_mut()) {
            let mut samples = [0i16; FRAME_LEN];
            samples.copy_from_slice(frame);
            let a = self.frame_activity_q8(&samples);
            *out = a;
            if a > ACTIVE_THRESHOLD_Q8 {
                self.remaining_hangover_ms = HANGOVER_MS;
                coded_as_active_voice = true;
            } else if self.remaining_hangover_ms > 0 {
                self.remaining_hangover_ms = self.remaining_hangover_ms.saturating_sub(FRAME_MS);
                coded_as_active_voice = true;
            }
        }
        coded_as_active_voice
    }

    /// Speech activity (Q8) of one 20 ms frame; advances the detector state.
    pub fn frame_activity_q8(&mut self, pcm: &[i16; FRAME_LEN]) -> u8 {
        // Band split: 0-8 kHz -> 0-4 + 4-8, 0-4 -> 0-2 + 2-4, 0-2 -> 0-1 + 1-2.
        let mut below_4k = [0i16; FRAME_LEN / 2];
        let mut band3 = [0i16; FRAME_LEN / 2];
        half_band_split(pcm, &mut self.split_state[0], &mut below_4k, &mut band3);
        let mut below_2k = [0i16; FRAME_LEN / 4];
        let mut band2 = [0i16; FRAME_LEN / 4];
        half_band_split(
            &below_4k,
            &mut self.split_state[1],
            &mut below_2k,
            &mut band2,
        );
        let mut band0 = [0i16; FRAME_LEN / 8];
        let mut band1 = [0i16; FRAME_LEN / 8];
        half_band_split(&below_2k, &mut self.split_state[2], &mut band0, &mut band1);
        self.high_pass_lowest(&mut band0);

        let bands: [&[i16]; BANDS] = [&band0, &band1, &band2, &band3];
        let mut energy = [0i32; BANDS];
        for (b, band) in bands.iter().enumerate() {
            energy[b] = self.band_energy(b, band);
        }
        self.update_noise_levels(&energy);

        // Mean square of the per-band SNRs (Q7 dB-like log units) over the bands above the floor.
        let mut snr_sq_sum = 0i32;
        for (b, &e) in energy.iter().enumerate() {
            let nl = self.noise_level[b];
            if e - nl > 0 {
                let ratio_q8 = if (e & !0x007f_ffff) == 0 {
                    (e << 8) / (nl + 1)
                } else {
                    e / ((nl >> 8) + 1)
                };
                let snr_q7 = lin2log(ratio_q8) - 8 * 128;
                snr_sq_sum = smlabb(snr_sq_sum, snr_q7, snr_q7);
            }
        }
        let snr_q7 = i32::from((3 * sqrt_approx(snr_sq_sum / BANDS as i32)) as i16);
        let sa_q15 = sigm_q15(smulwb(SNR_FACTOR_Q16, snr_q7) - ACTIVITY_OFFSET_Q5);
        (sa_q15 >> 7).min(255) as u8
    }

    /// First-order pole-zero high-pass on the 0-1 kHz band, in place.
    fn high_pass_lowest(&mut self, x: &mut [i16]) {
        for s in x.iter_mut() {
            let scaled = smulwb(LOW_HP_GAIN_Q16, i32::from(*s));
            let out = sat16(self.low_hp_state - scaled);
            self.low_hp_state = smlawb(scaled, LOW_HP_POLE_Q16, out);
            *s = out as i16;
        }
    }

    /// Energy of band `b` over this frame: the carried last sub-block of the previous frame, the
    /// first three sub-blocks, and half of the last one (which is carried on in full).
    fn band_energy(&mut self, b: usize, x: &[i16]) -> i32 {
        let mut total = self.carried_energy[b];
        let block = x.len() / SUB_BLOCKS;
        let mut last = 0;
        for (k, chunk) in x.chunks_exact(block).enumerate() {
            let mut sum = 0i32;
            for &s in chunk {
                let v = i32::from(s) >> 3;
                sum = smlabb(sum, v, v);
            }
            let add = if k + 1 < SUB_BLOCKS { sum } else { sum >> 1 };
            total = add_pos_sat32(total, add);
            last = sum;
        }
        self.carried_energy[b] = last;
        total
    }

    /// Track each band's noise floor: fast while the stream is young, slow when the band is loud.
    fn update_noise_levels(&mut self, energy: &[i32; BANDS]) {
        let min_coef = if self.counter < 1000 {
            let c = i32::from(i16::MAX) / ((self.counter >> 4) + 1);
            self.counter += 1;
            c
        } else {
            0
        };
        for (b, &band_energy) in energy.iter().enumerate() {
            let nl = self.noise_level[b];
            let e = add_pos_sat32(band_energy, self.noise_bias[b]);
            let inv_e = i32::MAX / e;
            let coef = if e > nl << 3 {
                NOISE_SMOOTH_Q16 >> 3
            } else if e < nl {
                NOISE_SMOOTH_Q16
            } else {
                smulwb(smulww(inv_e, nl), NOISE_SMOOTH_Q16 << 1)
            }
            .max(min_coef);
            let inv = smlawb(
                self.inv_noise_level[b],
                inv_e - self.inv_noise_level[b],
                coef,
            );
            self.inv_noise_level[b] = inv;
            self.noise_level[b] = (i32::MAX / inv).min(0x00ff_ffff);
        }
    }
}

/// Split `input` into a low and a high half band at half the rate, with a pair of first-order
/// all-pass sections on the even and odd samples.
fn half_band_split(input: &[i16], state: &mut [i32; 2], low: &mut [i16], high: &mut [i16]) {
    for (k, pair) in input.chunks_exact(2).enumerate() {
        let even = i32::from(pair[0]) << 10;
        let d = even - state[0];
        let t = smlawb(d, d, ALLPASS_EVEN_Q15);
        let branch_even = state[0] + t;
        state[0] = even + t;

        let odd = i32::from(pair[1]) << 10;
        let d = odd - state[1];
        let t = smulwb(d, ALLPASS_ODD_Q16);
        let branch_odd = state[1] + t;
        state[1] = odd + t;

        low[k] = sat16(rshift_round(branch_odd + branch_even, 11)) as i16;
        high[k] = sat16(rshift_round(branch_odd - branch_even, 11)) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_ms_packets_hang_over_for_three_packets() {
        let mut vad = Vad::new();
        let mut seed = 7u32;
        let mut noise = [0i16; FRAME_LEN];
        for s in &mut noise {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *s = (seed >> 18) as i16 - 8192;
        }
        let silence = [0i16; FRAME_LEN];
        let mut a = [0u8; 1];
        // Settle the start-of-stream hangover on silence, then one loud packet.
        for _ in 0..4 {
            vad.process_frames(&silence, &mut a);
        }
        assert!(!vad.process_frames(&silence, &mut a));
        assert!(vad.process_frames(&noise, &mut a));
        assert!(
            a[0] > ACTIVE_THRESHOLD_Q8,
            "noise burst is active: {}",
            a[0]
        );
        // Silence after it: the frame carrying the burst's last energy block may itself still be
        // active; after the last active frame come exactly three hangover packets.
        let mut last_active = 0;
        let mut cav = [false; 8];
        for (k, c) in cav.iter_mut().enumerate() {
            *c = vad.process_frames(&silence, &mut a);
            if a[0] > ACTIVE_THRESHOLD_Q8 {
                last_active = k + 1;
            }
        }
        assert!(last_active <= 2, "silence turns inactive quickly");
        let after = &cav[last_active..];
        assert_eq!(
            &after[..4],
            &[true, true, true, false],
            "60 ms of hangover, 20 ms at a time"
        );
    }

    #[test]
    fn hangover_covers_three_frames_after_speech() {
        let mut vad = Vad::new();
        // Silence from the start: the initial hangover keeps the first packet active only.
        let silence = [0i16; PACKET_LEN];
        assert!(vad.process_packet(&silence).coded_as_active_voice);
        assert!(!vad.process_packet(&silence).coded_as_active_voice);
    }
}
