//! The MLow LSF quantiser against the reference encoder's dump on `synth_mic.raw`
//! (`lsf_quant_io.json`: predictor, analysis LSFs and previous LSFs in; indices and quantised LSFs
//! out), fed the reference's inputs and then our own front end's, over the codec's generated
//! tables ([`LsfCodebook::builtin`]).

use serde_json::Value;
use wacall_core::mlow::analysis::LPC_ORDER;
use wacall_core::mlow::analysis::lsf_quant::{LsfCodebook, quantize};

const N: usize = LPC_ORDER;

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

#[test]
fn lsf_quantiser_matches_reference() {
    let test = "lsf_quantiser_matches_reference";
    let Some(path) = wacall_testkit::shared_file(test, "mlow/lsf_quant_io.json") else {
        return;
    };
    let recs: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");

    let (mut exact, mut worst, mut conditional) = (0, 0f32, 0);
    for (n, rec) in recs.iter().enumerate() {
        let int = |k: &str| rec[k].as_i64().expect(k);
        assert_eq!(int("lowRate"), 0, "the dump is full rate");
        let cb = LsfCodebook::builtin(int("voiced") != 0);
        let a: [f32; N + 1] = f32s(&rec["A"]).try_into().expect("17");
        let lsf: [f32; N] = f32s(&rec["lsf"]).try_into().expect("16");
        let prev: [f32; N] = f32s(&rec["prev_lsf"]).try_into().expect("16");
        let cond = int("cond_coding") != 0;
        conditional += usize::from(cond);
        let got = quantize(
            &cb,
            &a,
            &lsf,
            cond.then_some(&prev),
            rec["RDw_adj"].as_f64().expect("RDw_adj") as f32,
            int("surv") as usize,
        )
        .expect("consistent codebook");
        let mut qi = vec![i64::from(got.stage1)];
        qi.extend(got.stage2.iter().map(|&v| i64::from(v)));
        let want: Vec<i64> = rec["qi"]
            .as_array()
            .expect("qi")
            .iter()
            .map(|v| v.as_i64().expect("int"))
            .collect();
        assert_eq!(qi, want, "record {n}: indices");
        exact += 1;
        for (g, w) in got.lsf.iter().zip(f32s(&rec["qlsf"])) {
            worst = worst.max((g - w).abs());
        }
    }
    eprintln!(
        "lsf quantiser: {exact} of {} records with exact indices ({conditional} conditional), \
         worst |d qlsf| {worst:.2e}",
        recs.len()
    );
    assert!(
        conditional > 0 && conditional < recs.len(),
        "both modes covered"
    );
    assert!(worst < 1e-4, "quantised lsf |d| {worst}");
}

#[test]
fn lsf_quantiser_on_our_own_front_end() {
    use wacall_core::mlow::analysis::PACKET_LEN;
    use wacall_core::mlow::analysis::highpass::{InputHighPass, SignalBuffer};
    use wacall_core::mlow::analysis::lpc::{self, LPC_BUF_LEN, SPECTRUM_LEN};
    use wacall_core::mlow::analysis::nlsf::a_to_nlsf;

    let test = "lsf_quantiser_on_our_own_front_end";
    let (Some(path), Some(pcm_path)) = (
        wacall_testkit::shared_file(test, "mlow/lsf_quant_io.json"),
        wacall_testkit::shared_file(test, "mlow/synth_mic.raw"),
    ) else {
        return;
    };
    let recs: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");
    let bytes = std::fs::read(pcm_path).expect("readable synth_mic.raw");

    // Our own predictor and NLSFs for every frame the dump covers.
    let mut hp = InputHighPass::new();
    let mut signal = SignalBuffer::new();
    let mut ours = Vec::new();
    for chunk in bytes
        .chunks_exact(2 * PACKET_LEN)
        .take(recs.len().div_ceil(3))
    {
        let x: Vec<f32> = chunk
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        let mut y = [0f32; PACKET_LEN];
        hp.filter(&x, &mut y);
        signal.push_packet(&y);
        for f in 0..3 {
            let mut w = [0f32; LPC_BUF_LEN];
            lpc::window(signal.frame_buffer(f), f < 2, &mut w);
            let a = lpc::analyse(&w, &mut [0f32; SPECTRUM_LEN]).a;
            ours.push((a, a_to_nlsf(&a)));
        }
    }
    let mut exact = 0;
    let mut worst = 0f32;
    for (n, rec) in recs.iter().enumerate() {
        let int = |k: &str| rec[k].as_i64().expect(k);
        let n_frame = 3 * int("pkt") as usize + int("numframe") as usize;
        let (a, nlsf) = &ours[n_frame];
        let cb = LsfCodebook::builtin(int("voiced") != 0);
        for (g, w) in nlsf.iter().zip(f32s(&rec["lsf"])) {
            worst = worst.max((g - w).abs());
        }
        let prev: [f32; N] = f32s(&rec["prev_lsf"]).try_into().expect("16");
        let got = quantize(
            &cb,
            a,
            nlsf,
            (int("cond_coding") != 0).then_some(&prev),
            rec["RDw_adj"].as_f64().expect("RDw_adj") as f32,
            int("surv") as usize,
        )
        .expect("consistent codebook");
        let mut qi = vec![i64::from(got.stage1)];
        qi.extend(got.stage2.iter().map(|&v| i64::from(v)));
        let want: Vec<i64> = rec["qi"]
            .as_array()
            .expect("qi")
            .iter()
            .map(|v| v.as_i64().expect("int"))
            .collect();
        if qi == want {
            exact += 1;
        } else {
            eprintln!("record {n}: {qi:?} vs {want:?}");
        }
    }
    eprintln!(
        "lsf quantiser on our own front end: {exact} of {} records with the reference's indices; \
         worst |d nlsf| {worst:.2e}",
        recs.len()
    );
    // Our predictor differs from the reference's by about 1e-5, a few Q15 steps of NLSF at most.
    assert!(worst < 1e-3, "nlsf from our own front end |d| {worst}");
    assert_eq!(exact, recs.len(), "indices from our own front end");
}
