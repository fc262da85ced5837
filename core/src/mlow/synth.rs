//! Order-16 LPC synthesis: the all-pole filter that turns the excitation (FCB + ACB + noise) into
//! the low-band signal, `y[n] = x[n] − Σ_{i=1..16} a[i] · y[n − i]`, with the coefficients of the
//! current subframe and a history that runs on across subframes, frames and packets.

/// LPC order of the low band.
pub const LPC_ORDER: usize = 16;

/// Synthesis filter memory; zero at decoder start.
///
/// Size: 16 × 4 = 64 bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LpcSynth {
    /// The last 16 output samples, oldest first.
    mem: [f32; LPC_ORDER],
}

impl LpcSynth {
    /// A filter with silent history.
    pub const fn new() -> Self {
        Self {
            mem: [0.0; LPC_ORDER],
        }
    }

    /// Filters one subframe: `out[n] = exc[n] − Σ a[i] · y[n − i]` for `n < min(exc.len(),
    /// out.len())`. `a` is monic (`a[0]` = 1 is not read), as produced by NLSF → LPC conversion.
    pub fn filter(&mut self, a: &[f32; LPC_ORDER + 1], exc: &[f32], out: &mut [f32]) {
        let len = exc.len().min(out.len());
        for n in 0..len {
            // Oldest tap first, the reference's accumulation order.
            let mut acc = exc[n];
            for i in 0..LPC_ORDER {
                let back = n + i; // position of y[n − 16 + i] in mem ++ out
                let y = if back < LPC_ORDER {
                    self.mem[back]
                } else {
                    out[back - LPC_ORDER]
                };
                acc -= a[LPC_ORDER - i] * y;
            }
            out[n] = acc;
        }
        if len >= LPC_ORDER {
            self.mem.copy_from_slice(&out[len - LPC_ORDER..len]);
        } else {
            self.mem.copy_within(len.., 0);
            self.mem[LPC_ORDER - len..].copy_from_slice(&out[..len]);
        }
    }
}

#[cfg(test)]
mod tests;
