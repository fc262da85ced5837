//! Playing 16 kHz mono audio on the default output device through cpal (feature `play`).

use std::sync::mpsc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

/// Play each `(label, samples)` track in turn on the default output device, blocking until done.
///
/// # Errors
/// A sentence saying why not: no output device, or none that takes a usable format.
pub fn play(tracks: &[(&str, &[i16])]) -> Result<(), String> {
    let host = cpal::default_host();
    let device = host.default_output_device().ok_or_else(|| {
        format!(
            "this machine has no default audio output device (host {:?})",
            host.id()
        )
    })?;
    let supported = device
        .default_output_config()
        .map_err(|e| format!("no usable audio output device ({e})"))?;
    let config: cpal::StreamConfig = supported.config();
    let channels = usize::from(config.channels.max(1));
    let rate = f64::from(config.sample_rate.0);
    for (label, samples) in tracks {
        println!(
            "playing what the {label} ({:.1} s)…",
            samples.len() as f64 / 16_000.0
        );
        // Resample 16 kHz to the device rate by linear interpolation.
        let step = 16_000.0 / rate;
        let out: Vec<f32> = (0..((samples.len() as f64) / step) as usize)
            .map(|i| {
                let x = i as f64 * step;
                let j = x as usize;
                let a = f32::from(samples[j]);
                let b = samples.get(j + 1).map_or(a, |&v| f32::from(v));
                (a + (b - a) * (x - j as f64) as f32) / 32768.0
            })
            .collect();
        let (done_tx, done_rx) = mpsc::channel();
        let mut pos = 0usize;
        let data = move |buf: &mut [f32], _: &cpal::OutputCallbackInfo| {
            for frame in buf.chunks_mut(channels) {
                let v = out.get(pos).copied().unwrap_or(0.0);
                frame.fill(v);
                pos += 1;
            }
            if pos >= out.len() + 4800 {
                let _ = done_tx.send(());
            }
        };
        let stream = device
            .build_output_stream(&config, data, |e| eprintln!("audio output: {e}"), None)
            .map_err(|e| format!("cannot open the output stream: {e}"))?;
        stream
            .play()
            .map_err(|e| format!("cannot start playback: {e}"))?;
        let limit = std::time::Duration::from_secs_f64(samples.len() as f64 / 16_000.0 + 2.0);
        let _ = done_rx.recv_timeout(limit);
    }
    Ok(())
}
