//! LPC synthesis against an independent double-precision direct-form filter.

extern crate std;

use std::vec::Vec;

use super::*;

/// Coefficients of `Π (1 − r_k z⁻¹)(1 − r̄_k z⁻¹)` for eight pole pairs inside the unit circle.
fn stable_lpc() -> [f64; LPC_ORDER + 1] {
    let mut a = std::vec![1.0f64];
    for k in 0..8 {
        let radius = 0.97 - 0.05 * k as f64;
        let angle = 0.2 + 0.37 * k as f64;
        let (c1, c2) = (-2.0 * radius * angle.cos(), radius * radius);
        let mut next = std::vec![0.0; a.len() + 2];
        for (i, &v) in a.iter().enumerate() {
            next[i] += v;
            next[i + 1] += c1 * v;
            next[i + 2] += c2 * v;
        }
        a = next;
    }
    core::array::from_fn(|i| a[i])
}

#[test]
fn matches_double_precision_reference_across_calls() {
    let a64 = stable_lpc();
    let a32: [f32; LPC_ORDER + 1] = a64.map(|v| v as f32);
    // Deterministic pseudo-random excitation with sparse pulses.
    let mut seed = 12345u32;
    let exc: Vec<f32> = (0..1000)
        .map(|n| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 1e-3;
            if n % 97 == 0 { 0.1 + noise } else { noise }
        })
        .collect();

    let mut want = std::vec![0.0f64; exc.len()];
    for n in 0..exc.len() {
        let mut acc = exc[n] as f64;
        for i in 1..=LPC_ORDER {
            if n >= i {
                acc -= a64[i] * want[n - i];
            }
        }
        want[n] = acc;
    }

    // Uneven chunk sizes exercise the history hand-over, including chunks shorter than the order.
    let mut synth = LpcSynth::new();
    let mut got = std::vec![0.0f32; exc.len()];
    let mut at = 0;
    for len in [80, 80, 7, 3, 160, 1, 15, 16, 17].iter().cycle() {
        if at == exc.len() {
            break;
        }
        let end = (at + len).min(exc.len());
        synth.filter(&a32, &exc[at..end], &mut got[at..end]);
        at = end;
    }
    let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
    std::eprintln!("lpc synth: peak {peak:.3e}, max error {err:.3e}");
    assert!(peak > 0.1);
    assert!(err < 1e-4 * peak, "max error {err:e}");
}

#[test]
fn one_pole_impulse_response() {
    let mut a = [0.0f32; LPC_ORDER + 1];
    a[0] = 1.0;
    a[1] = -0.5;
    let mut synth = LpcSynth::new();
    let mut x = [0.0f32; 20];
    x[0] = 1.0;
    let mut y = [0.0f32; 20];
    synth.filter(&a, &x, &mut y);
    for (n, v) in y.iter().enumerate() {
        assert_eq!(*v, 0.5f32.powi(n as i32));
    }
}
