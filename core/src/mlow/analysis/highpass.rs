//! The encoder's input high-pass (a 35 Hz biquad) and the sliding buffer of high-passed signal
//! the analysis stages cut their input from.
//!
//! The biquad is the codec's "default corner" design: a double zero near DC (at a tenth of the
//! corner) and a resonant pole pair whose angle and radius follow quadratic fits in the normalised
//! corner frequency, with the numerator scaled for unity gain at Nyquist. The cosines use the
//! reference's second-order approximation `cos x ~ 1 - x^2 / 2`, which is what the reference
//! computes, not an accuracy shortcut of ours.
//!
//! State size: [`InputHighPass`] 36 bytes; [`SignalBuffer`] 5248 bytes.

use super::{FRAME_LEN, PACKET_LEN};

/// Corner frequency of the encoder input high-pass.
pub const CORNER_HZ: f32 = 35.0;
/// Zero frequency as a fraction of the corner.
const ZERO_FRACTION: f32 = 0.1;
/// Pole angle fit `a1 f + a2 f^2` and radius fit `1 + r1 f + r2 f^2` in the normalised corner `f`.
#[allow(clippy::excessive_precision)]
const POLE_ANGLE_FIT: [f32; 2] = [0.728_508_218, 0.476_039_848];
#[allow(clippy::excessive_precision)]
const POLE_RADIUS_FIT: [f32; 2] = [-4.363_803_713, 8.441_854_006];
const PI: f32 = core::f32::consts::PI;

/// Second-order high-pass with its carried state (two inputs and two outputs back).
#[derive(Clone, Debug)]
pub struct InputHighPass {
    num: [f32; 3],
    /// Denominator `1 + den[0] z^-1 + den[1] z^-2`.
    den: [f32; 2],
    x_hist: [f32; 2],
    y_hist: [f32; 2],
}

impl Default for InputHighPass {
    fn default() -> Self {
        Self::new()
    }
}

fn cos_approx(x: f32) -> f32 {
    1.0 - 0.5 * x * x
}

impl InputHighPass {
    /// The 35 Hz high-pass at 16 kHz, with zero history.
    pub fn new() -> Self {
        let f = CORNER_HZ / 16_000.0;
        let mut num = [1.0, -2.0 * cos_approx(2.0 * PI * ZERO_FRACTION * f), 1.0];
        let angle = POLE_ANGLE_FIT[0] * f + POLE_ANGLE_FIT[1] * f * f;
        let dr = POLE_RADIUS_FIT[0] * f + POLE_RADIUS_FIT[1] * f * f;
        let den = [
            -2.0 * cos_approx(2.0 * PI * angle) * (1.0 + dr),
            1.0 + (2.0 * dr + dr * dr),
        ];
        // Unity gain at Nyquist (z = -1).
        let scale = (1.0 - den[0] + den[1]) / (1.0 - num[1] + num[2]);
        for c in &mut num {
            *c *= scale;
        }
        InputHighPass {
            num,
            den,
            x_hist: [0.0; 2],
            y_hist: [0.0; 2],
        }
    }

    /// Filter `input` into `output` (same length; the shorter of the two is used).
    ///
    /// The double zero near DC cancels most of the signal in the numerator, and the poles near DC
    /// amplify what is left about 5000-fold, so f32 rounding noise shows up as a slow wander of
    /// about 2e-5 against the reference (relative 1e-4 of full scale). Neither the reference's
    /// 4-sample block form nor f64 arithmetic comes closer; the LPC stage downstream is insensitive
    /// to it.
    pub fn filter(&mut self, input: &[f32], output: &mut [f32]) {
        let [b0, b1, b2] = self.num;
        let [a1, a2] = self.den;
        let [mut x1, mut x2] = self.x_hist;
        let [mut y1, mut y2] = self.y_hist;
        for (x, y) in input.iter().zip(output.iter_mut()) {
            let ma = b0 * *x + b1 * x1 + b2 * x2;
            let out = ma - a1 * y1 - a2 * y2;
            x2 = x1;
            x1 = *x;
            y2 = y1;
            y1 = out;
            *y = out;
        }
        self.x_hist = [x1, x2];
        self.y_hist = [y1, y2];
    }
}

/// Samples of the LPC window before the internal frame starts.
const WINDOW_LEAD: usize = 96;
/// High-passed samples kept from the previous packet: the longest pitch lag (the LPC window
/// reaches back only 96 samples, the weighted-speech filter 48).
pub const HISTORY_LEN: usize = 320;
/// Look-ahead samples past the packet end that the last window covers; they are zero.
pub const LOOKAHEAD_LEN: usize = 32;
/// Length of one LPC analysis buffer.
pub const LPC_BUF_LEN: usize = 448;
const BUF_LEN: usize = HISTORY_LEN + PACKET_LEN + LOOKAHEAD_LEN;

/// The high-passed signal of the current packet with the previous packet's tail in front and the
/// (zero) look-ahead behind. Each analysis stage cuts its input from here.
#[derive(Clone, Debug)]
pub struct SignalBuffer {
    buf: [f32; BUF_LEN],
}

impl Default for SignalBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl SignalBuffer {
    /// An empty (all-zero) history.
    pub fn new() -> Self {
        SignalBuffer {
            buf: [0.0; BUF_LEN],
        }
    }

    /// Append the next high-passed packet, keeping the last [`HISTORY_LEN`] samples of the one
    /// before.
    pub fn push_packet(&mut self, hp: &[f32; PACKET_LEN]) {
        self.buf
            .copy_within(PACKET_LEN..PACKET_LEN + HISTORY_LEN, 0);
        self.buf[HISTORY_LEN..HISTORY_LEN + PACKET_LEN].copy_from_slice(hp);
    }

    /// The 448-sample LPC buffer of internal frame `frame` (0..3): it starts 96 samples before the
    /// frame and, for the last frame, ends in the 32 zero look-ahead samples.
    ///
    /// # Panics
    /// If `frame >= 3`.
    pub fn frame_buffer(&self, frame: usize) -> &[f32; LPC_BUF_LEN] {
        let start = HISTORY_LEN - WINDOW_LEAD + frame * FRAME_LEN;
        self.buf[start..start + LPC_BUF_LEN]
            .try_into()
            .expect("the slice is LPC_BUF_LEN long")
    }

    /// Sample `t` relative to the start of the current packet: negative `t` reaches into the
    /// previous packet (down to `-HISTORY_LEN`), `t >= PACKET_LEN` into the zero look-ahead; 0
    /// outside both.
    pub fn at(&self, t: isize) -> f32 {
        t.checked_add_unsigned(HISTORY_LEN)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.buf.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// `out.len()` samples starting at packet-relative `t` (see [`SignalBuffer::at`]).
    pub fn copy_from(&self, t: isize, out: &mut [f32]) {
        let first = t.checked_add_unsigned(HISTORY_LEN).unwrap_or(isize::MIN);
        match usize::try_from(first) {
            Ok(i) if i + out.len() <= BUF_LEN => out.copy_from_slice(&self.buf[i..i + out.len()]),
            _ => {
                for (k, o) in out.iter_mut().enumerate() {
                    *o = self.at(t + k as isize);
                }
            }
        }
    }

    /// The current packet's high-passed samples.
    pub fn packet(&self) -> &[f32] {
        &self.buf[HISTORY_LEN..HISTORY_LEN + PACKET_LEN]
    }
}
