//! The MLow encoder's analysis front end against dumps of the reference encoder run on the shared
//! `synth_mic.raw` fixture (16 kHz mono s16le, 110 packets of 60 ms).

use serde_json::Value;
use wacall_core::mlow::analysis::highpass::{InputHighPass, SignalBuffer};
use wacall_core::mlow::analysis::lpc::{self, LPC_BUF_LEN, SPECTRUM_LEN};
use wacall_core::mlow::analysis::nlsf::a_to_nlsf;
use wacall_core::mlow::analysis::vad::Vad;
use wacall_core::mlow::analysis::voicing::{
    VoicingClassifier, VoicingInputs, harmonicity, is_voiced,
};
use wacall_core::mlow::analysis::{LPC_ORDER, PACKET_LEN};

fn load_json(test: &str, name: &str) -> Option<Vec<Value>> {
    let path = wacall_testkit::shared_file(test, &format!("mlow/{name}"))?;
    let text = std::fs::read_to_string(path).expect("readable vector file");
    match serde_json::from_str(&text).expect("valid JSON") {
        Value::Array(a) => Some(a),
        _ => panic!("{name}: expected a JSON array"),
    }
}

/// The fixture's packets, as 16-bit samples.
fn synth_mic(test: &str) -> Option<Vec<[i16; PACKET_LEN]>> {
    wacall_testkit::shared_pcm_blocks(test, "mlow/synth_mic.raw")
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn int(v: &Value) -> i64 {
    v.as_i64().expect("integer")
}

#[test]
fn vad_matches_reference_activity_and_coded_active_flag() {
    let test = "vad_matches_reference_activity_and_coded_active_flag";
    let (Some(packets), Some(truth)) = (synth_mic(test), load_json(test, "vad_ground_truth.json"))
    else {
        return;
    };
    let mut vad = Vad::new();
    let results: Vec<_> = packets.iter().map(|p| vad.process_packet(p)).collect();
    let mut worst = 0f64;
    for rec in &truth {
        let (pkt, frame) = (int(&rec["pkt"]) as usize, int(&rec["frame"]) as usize);
        let got = &results[pkt];
        let activity = f64::from(got.activity_q8[frame]) / 256.0;
        let err = (activity - rec["spact"].as_f64().expect("spact")).abs();
        worst = worst.max(err);
        assert!(
            err < 1e-4,
            "packet {pkt} frame {frame}: activity {activity}"
        );
        assert_eq!(
            got.coded_as_active_voice,
            int(&rec["cav"]) != 0,
            "packet {pkt}: coded-as-active-voice"
        );
    }
    assert_eq!(truth.len(), 180, "60 packets of 3 frames");
    eprintln!(
        "vad: {} frames, worst |activity error| {worst:.2e}",
        truth.len()
    );
}

#[test]
fn front_end_matches_reference_buffer_window_autocorrelation_and_predictor() {
    let test = "front_end_matches_reference_buffer_window_autocorrelation_and_predictor";
    let (Some(packets), Some(dump)) = (synth_mic(test), load_json(test, "fe_dump.json")) else {
        return;
    };
    // Run the input high-pass and the buffer over the stream, keeping every frame's LPC buffer.
    let mut hp = InputHighPass::new();
    let mut input = SignalBuffer::new();
    let last_pkt = dump.iter().map(|r| int(&r["pkt"])).max().expect("records") as usize;
    let mut buffers = Vec::new();
    for pcm in &packets[..=last_pkt] {
        let x: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let mut y = [0f32; PACKET_LEN];
        hp.filter(&x, &mut y);
        input.push_packet(&y);
        for f in 0..3 {
            buffers.push(*input.frame_buffer(f));
        }
    }
    let (mut worst_buf, mut worst_win, mut worst_r, mut worst_a) = (0f32, 0f32, 0f64, 0f32);
    let mut worst_a_own = 0f32;
    let mut pinned = 0;
    for rec in &dump {
        let (pkt, nf) = (int(&rec["pkt"]) as usize, int(&rec["numframe"]) as usize);
        let want_buf = f32s(&rec["lpcbuf"]);
        assert_eq!(want_buf.len(), LPC_BUF_LEN);
        let buf = &buffers[3 * pkt + nf];
        for (g, w) in buf.iter().zip(&want_buf) {
            worst_buf = worst_buf.max((g - w).abs());
        }
        // End to end: our own buffer through our own analysis.
        let mut own_windowed = [0f32; LPC_BUF_LEN];
        lpc::window(buf, nf < 2, &mut own_windowed);
        let own = lpc::analyse(&own_windowed, &mut [0f32; SPECTRUM_LEN]);
        for (g, w) in own.a.iter().zip(f32s(&rec["A"])) {
            worst_a_own = worst_a_own.max((g - w).abs());
        }
        // From here on, feed the reference buffer so each stage is judged on its own.
        let mut ref_buf = [0f32; LPC_BUF_LEN];
        ref_buf.copy_from_slice(&want_buf);
        let mut windowed = [0f32; LPC_BUF_LEN];
        lpc::window(&ref_buf, nf < 2, &mut windowed);
        for (g, w) in windowed.iter().zip(f32s(&rec["windowed"])) {
            worst_win = worst_win.max((g - w).abs());
        }
        let mut spectrum = [0f32; SPECTRUM_LEN];
        let got = lpc::analyse(&windowed, &mut spectrum);
        let want_r = f64s(&rec["R"]);
        for (g, w) in got.r.iter().zip(&want_r) {
            worst_r = worst_r.max((g - w).abs() / want_r[0].max(1e-30));
        }
        if want_r[0] > 1e-7 {
            pinned += 1;
            for (g, w) in got.a.iter().zip(f32s(&rec["A"])) {
                let err = (g - w).abs();
                worst_a = worst_a.max(err);
                assert!(err < 5e-3, "packet {pkt} frame {nf}: |dA| {err}");
            }
        }
    }
    eprintln!(
        "front end: {} frames ({pinned} with R0 > 1e-7): |d lpcbuf| {worst_buf:.2e}, \
         |d window| {worst_win:.2e}, |dR|/R0 {worst_r:.2e}, |dA| {worst_a:.2e} (from our own buffer {worst_a_own:.2e})",
        dump.len()
    );
    assert!(pinned >= 30, "too few frames with signal");
    // The 35 Hz high-pass amplifies f32 rounding near DC; see `InputHighPass::filter`.
    assert!(worst_buf < 5e-5, "high-passed buffer |d| {worst_buf}");
    assert!(worst_a_own < 5e-3, "|dA| from our own buffer {worst_a_own}");
    assert!(worst_win < 1e-6, "window |d| {worst_win}");
    assert!(worst_r < 1e-5, "autocorrelation relative |d| {worst_r}");
}

#[test]
fn a_to_nlsf_matches_reference() {
    let test = "a_to_nlsf_matches_reference";
    let Some(recs) = load_json(test, "lsf_quant_io.json") else {
        return;
    };
    let mut worst = 0f32;
    for (n, rec) in recs.iter().enumerate() {
        let a: [f32; LPC_ORDER + 1] = f32s(&rec["A"]).try_into().expect("17 coefficients");
        let got = a_to_nlsf(&a);
        for (k, (g, w)) in got.iter().zip(f32s(&rec["lsf"])).enumerate() {
            let err = (g - w).abs();
            worst = worst.max(err);
            assert!(err < 1e-4, "record {n} nlsf[{k}]: {g} vs {w}");
        }
    }
    eprintln!("a->nlsf: {} records, worst |d| {worst:.2e} rad", recs.len());
}

fn spectrum_of(rec: &Value) -> [f32; SPECTRUM_LEN] {
    f32s(&rec["F2"]).try_into().expect("257 bins")
}

#[test]
fn voicing_classifier_matches_reference() {
    let test = "voicing_classifier_matches_reference";
    let Some(recs) = load_json(test, "sigmode_ground_truth.json") else {
        return;
    };
    let mut classifier = VoicingClassifier::new();
    let (mut worst, mut voiced, mut unvoiced) = (0f32, 0, 0);
    for (n, rec) in recs.iter().enumerate() {
        let spectrum = spectrum_of(rec);
        let lags = f32s(&rec["lags"]);
        let inputs = VoicingInputs {
            pitch_corr: rec["pitchcorr"].as_f64().expect("pitchcorr") as f32,
            lags: &lags,
            avg_lag: rec["avg_lag"].as_f64().expect("avg_lag") as f32,
            harmonicity: rec["harm"].as_f64().expect("harm") as f32,
            spectrum: &spectrum,
            activity: rec["sp_act_prob"].as_f64().expect("sp_act_prob") as f32,
        };
        let got = classifier.strength(&inputs);
        let want = rec["vstr"].as_f64().expect("vstr") as f32;
        worst = worst.max((got - want).abs());
        assert!(
            (got - want).abs() < 1e-4,
            "record {n}: strength {got} vs {want}"
        );
        // Every frame of this dump is in a packet coded as active voice.
        let decision = is_voiced(got, true);
        assert_eq!(decision, int(&rec["voiced"]) != 0, "record {n}: decision");
        if decision {
            voiced += 1;
        } else {
            unvoiced += 1;
        }
    }
    eprintln!(
        "voicing: {} frames ({voiced} voiced, {unvoiced} unvoiced), worst |d strength| {worst:.2e}",
        recs.len()
    );
    assert!(
        voiced > 0 && unvoiced > 0,
        "the dump exercises both decisions"
    );
}

#[test]
fn harmonicity_matches_reference_within_cache_aliasing() {
    let test = "harmonicity_matches_reference_within_cache_aliasing";
    let (Some(sig), Some(pitch)) = (
        load_json(test, "sigmode_ground_truth.json"),
        load_json(test, "pitchio_ground_truth.json"),
    ) else {
        return;
    };
    // The reference's pitch search memoises harmonicity per quantised harmonic spacing, so its
    // final value can be one computed for a neighbouring survivor lag; a fresh computation at the
    // final lag is exact on most frames and close on the rest.
    for (name, recs, tolerance) in [("sigmode", &sig, 0.05f32), ("pitchio", &pitch, 0.1)] {
        let (mut worst, mut exact, mut total) = (0f32, 0, 0);
        for rec in recs.iter() {
            let avg_lag = rec["avg_lag"].as_f64().expect("avg_lag") as f32;
            // Frames where the pitch search did not run report the lag floor and no harmonicity.
            if avg_lag <= 33.0 {
                continue;
            }
            let want = rec["harm"].as_f64().expect("harm") as f32;
            let err = (harmonicity(avg_lag, &spectrum_of(rec)) - want).abs();
            worst = worst.max(err);
            total += 1;
            if err < 1e-4 {
                exact += 1;
            }
        }
        eprintln!(
            "harmonicity vs {name}: {total} frames, {exact} within 1e-4, worst |d| {worst:.3e}"
        );
        assert!(
            total > 40 && exact * 4 > total * 3,
            "{name}: most frames recompute exactly"
        );
        assert!(worst < tolerance, "{name}: worst |d harmonicity| {worst}");
    }
}
