//! The MLow LSF quantiser against the reference encoder's dump on `synth_mic.raw`
//! (`lsf_quant_io.json`: predictor, analysis LSFs and previous LSFs in; indices and quantised LSFs
//! out), fed the reference's inputs and then our own front end's.
//!
//! The quantiser takes its codebook as a view; the codec's decoder owns the real expansion of the
//! LSF ROM (`lsf_seed.bin`). To test the quantiser on its own, this file carries a test-side
//! expansion of the parts it reads.

// The expansion walks the ROM's row-major layout; explicit indices mirror it.
#![allow(clippy::needless_range_loop)]

use serde_json::Value;
use wacall_core::mlow::analysis::LPC_ORDER;
use wacall_core::mlow::analysis::lsf_quant::{CENTROIDS, LsfCodebook, Stage2Coeff, quantize};

const N: usize = LPC_ORDER;
/// Dequantisation constants of the ROM, per voicing class (unvoiced, voiced).
const CB_MIN: [f32; 2] = [-0.587_377_8, -0.247_219_86];
const CB_SCALE: [f32; 2] = [1.314_516_4e-5, 7.226_229e-6];
const CINV_MIN: [f32; 2] = [-3.596_095_5e-5, -2.778_548e-5];
const CINV_SCALE: [f32; 2] = [1.858_931_6e-9, 1.218_010_6e-9];
const ROT_MIN: [f32; 2] = [-0.912_483_2, -0.845_592_9];
const ROT_SCALE: [f32; 2] = [0.006_554_049, 0.006_925_377_5];
const ROT_COND_MIN: [f32; 2] = [-0.672_916_05, -0.824_821_1];
const ROT_COND_SCALE: [f32; 2] = [0.005_238_656_4, 0.006_418_658_4];
const ST2_MIN: f32 = -0.45;
const ST2_SCALE: f32 = 0.003_447_890_5;
const ST2_LEN: usize = 9593;

struct Seed {
    rot: Vec<u8>,
    rot_cond: Vec<u8>,
    st2_levels: Vec<u8>,
    st2_dcmf: Vec<u8>,
    st2_min: Vec<u8>,
    st2_max: Vec<u8>,
    cb: Vec<u32>,
    cinv: Vec<u32>,
    cmf: Vec<u32>,
    cmf_cond: Vec<u32>,
    mean: Vec<f32>,
    min_dist: Vec<f32>,
    reg_cond: Vec<f32>,
    qstep: Vec<f32>,
}

fn parse_seed(msg: &[u8]) -> Seed {
    let mut fields: Vec<(u64, &[u8])> = Vec::new();
    let mut i = 0;
    let varint = |buf: &[u8], i: &mut usize| {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = buf[*i];
            *i += 1;
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                return v;
            }
        }
    };
    while i < msg.len() {
        let key = varint(msg, &mut i);
        assert_eq!(key & 7, 2, "every LsfSeed field is length-delimited");
        let len = varint(msg, &mut i) as usize;
        fields.push((key >> 3, &msg[i..i + len]));
        i += len;
    }
    let bytes = |n: u64| fields.iter().find(|f| f.0 == n).expect("field").1;
    let uints = |n: u64| {
        let b = bytes(n);
        let mut out = Vec::new();
        let mut j = 0;
        while j < b.len() {
            out.push(varint(b, &mut j) as u32);
        }
        out
    };
    let floats = |n: u64| {
        bytes(n)
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect::<Vec<_>>()
    };
    Seed {
        rot: bytes(1).to_vec(),
        rot_cond: bytes(2).to_vec(),
        st2_levels: bytes(3).to_vec(),
        st2_dcmf: bytes(4).to_vec(),
        st2_min: bytes(5).to_vec(),
        st2_max: bytes(6).to_vec(),
        cb: uints(7),
        cinv: uints(8),
        cmf: uints(9),
        cmf_cond: uints(10),
        mean: floats(13),
        min_dist: floats(14),
        reg_cond: floats(15),
        qstep: floats(16),
    }
}

fn dcmf_to_cdf(d: &[u8]) -> Vec<u32> {
    let sq: Vec<i64> = d
        .iter()
        .map(|&v| ((i64::from(v) + 1).pow(2)).min(65535))
        .collect();
    let sum: i64 = sq.iter().sum();
    let mut cdf = vec![0u32; d.len() + 1];
    for (n, &p) in sq.iter().enumerate() {
        cdf[n + 1] = (i64::from(cdf[n]) + p * (32767 - d.len() as i64) / sum + 1) as u32;
    }
    cdf
}

fn cdf_bits(cdf: &[u32]) -> Vec<f32> {
    let total = cdf[cdf.len() - 1] as f32;
    cdf.windows(2)
        .map(|w| -libm::log2f((w[1] as i32 - w[0] as i32) as f32 / total))
        .collect()
}

fn mul_transposed(m: &[[f32; N]; N], x: &[f32; N]) -> [f32; N] {
    let mut y = [0f32; N];
    for i in 0..N {
        y[i] = m[0][i] * x[0];
    }
    for j in 1..N {
        for i in 0..N {
            y[i] += m[j][i] * x[j];
        }
    }
    y
}

fn weight_rotation(rot: &[[f32; N]; N], lsf: &[f32; N]) -> ([[f32; N]; N], [[f32; N]; N]) {
    let floor = 1e-3f32;
    let mut inv = [0f32; N + 1];
    inv[0] = 1.0 / lsf[0].max(floor);
    for i in 1..N {
        inv[i] = 1.0 / (lsf[i] - lsf[i - 1]).max(floor);
    }
    inv[N] = 1.0 / (std::f32::consts::PI - lsf[N - 1]).max(floor);
    let w: Vec<f32> = (0..N).map(|i| libm::sqrtf(inv[i] + inv[i + 1])).collect();
    let winv: Vec<f32> = w.iter().map(|v| 1.0 / v).collect();
    let (mut fwd, mut back) = ([[0f32; N]; N], [[0f32; N]; N]);
    for i in 0..N {
        for j in 0..N {
            fwd[i][j] = rot[i][j] * winv[j];
            back[j][i] = rot[i][j] * w[j];
        }
    }
    (fwd, back)
}

fn unpack(b: &[u8], min: f32, scale: f32) -> [[f32; N]; N] {
    let mut m = [[0f32; N]; N];
    for i in 0..N {
        for j in 0..N {
            m[i][j] = min + f32::from(b[i * N + j]) * scale;
        }
    }
    m
}

/// One voicing class at full rate (low-rate 0), owning what [`LsfCodebook`] borrows.
struct Class {
    half: [[f32; N]; CENTROIDS],
    metric: [[f32; N]; CENTROIDS],
    cinv: [[f32; N]; N],
    rot: Box<[[[f32; N]; N]; CENTROIDS]>,
    inv_rot: Box<[[[f32; N]; N]; CENTROIDS]>,
    cond_rot: [[f32; N]; N],
    bits: [f32; CENTROIDS],
    cond_bits: [f32; CENTROIDS + 1],
    mean: [f32; N],
    reg: f32,
    min_spacing: [f32; N + 1],
    step: f32,
    stage2: [[Stage2Coeff; N]; CENTROIDS + 1],
}

/// Expand both voicing classes, plus the shared stage-2 level and bit tables.
fn expand(s: &Seed) -> (Vec<Class>, Vec<f32>, Vec<f32>) {
    // Stage 2: walk every [voiced][rate][centroid][coefficient] range in ROM order.
    let mut levels = vec![0f32; ST2_LEN];
    let mut level_bits = vec![0f32; ST2_LEN];
    let mut ranges = [[[[Stage2Coeff::default(); N]; CENTROIDS + 1]; 2]; 2];
    let mut at = 0usize;
    for v in 0..2 {
        for lr in 0..2 {
            for c in 0..=CENTROIDS {
                let mut step = s.qstep[v * 2 + lr];
                if c == CENTROIDS {
                    step *= 0.9;
                }
                for i in 0..N {
                    let k = ((v * 2 + lr) * (CENTROIDS + 1) + c) * N + i;
                    let (lo, hi) = (s.st2_min[k] as i8, s.st2_max[k] as i8);
                    let count = (i32::from(hi) - i32::from(lo) + 1) as usize;
                    ranges[v][lr][c][i] = Stage2Coeff {
                        first: at as u16,
                        min_index: lo,
                        max_index: hi,
                    };
                    for l in 0..count {
                        let q = f32::from(s.st2_levels[at + l]);
                        levels[at + l] =
                            (ST2_MIN + ST2_SCALE * q + l as f32 + f32::from(lo)) * step;
                    }
                    let bits = cdf_bits(&dcmf_to_cdf(&s.st2_dcmf[at..at + count]));
                    level_bits[at..at + count].copy_from_slice(&bits);
                    at += count;
                }
            }
        }
    }
    assert_eq!(at, ST2_LEN, "stage-2 walk covers the ROM");

    let classes = (0..2)
        .map(|v| {
            let mut cinv = [[0f32; N]; N];
            let mut p = 0;
            for i in 0..N {
                for j in 0..=i {
                    let x = CINV_MIN[v] + CINV_SCALE[v] * s.cinv[v * 136 + p] as f32;
                    cinv[i][j] = x;
                    cinv[j][i] = x;
                    p += 1;
                }
            }
            let mut half = [[0f32; N]; CENTROIDS];
            let mut metric = [[0f32; N]; CENTROIDS];
            let mut rot = Box::new([[[0f32; N]; N]; CENTROIDS]);
            let mut inv_rot = Box::new([[[0f32; N]; N]; CENTROIDS]);
            for c in 0..CENTROIDS {
                let mut centroid = [0f32; N];
                for i in 0..N {
                    let q = s.cb[(v * CENTROIDS + c) * N + i] as f32;
                    centroid[i] = CB_MIN[v] + q * CB_SCALE[v] + s.mean[v * N + i];
                    half[c][i] = centroid[i] * 0.5;
                }
                metric[c] = mul_transposed(&cinv, &centroid);
                let base = (v * CENTROIDS + c) * N * N;
                let r = unpack(&s.rot[base..base + N * N], ROT_MIN[v], ROT_SCALE[v]);
                (rot[c], inv_rot[c]) = weight_rotation(&r, &centroid);
            }
            // Full rate only: rotation row 0 of the [voiced][rate] conditional rotations.
            let base = (v * 2) * N * N;
            let cond_rot = unpack(
                &s.rot_cond[base..base + N * N],
                ROT_COND_MIN[v],
                ROT_COND_SCALE[v],
            );
            let bits = cdf_bits(&s.cmf[v * 17..v * 17 + 17]);
            let cond_bits = cdf_bits(&s.cmf_cond[v * 18..v * 18 + 18]);
            Class {
                half,
                metric,
                cinv,
                rot,
                inv_rot,
                cond_rot,
                bits: bits.try_into().expect("16"),
                cond_bits: cond_bits.try_into().expect("17"),
                mean: s.mean[v * N..v * N + N].try_into().expect("16"),
                reg: s.reg_cond[v],
                min_spacing: s.min_dist[v * 17..v * 17 + 17].try_into().expect("17"),
                step: s.qstep[v * 2],
                stage2: ranges[v][0],
            }
        })
        .collect();
    (classes, levels, level_bits)
}

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
    let (Some(seed_path), Some(path)) = (
        wacall_testkit::shared_file(test, "mlow/lsf_seed.bin"),
        wacall_testkit::shared_file(test, "mlow/lsf_quant_io.json"),
    ) else {
        return;
    };
    let packed = std::fs::read(seed_path).expect("readable lsf_seed.bin");
    let msg = miniz_oxide::inflate::decompress_to_vec_zlib(&packed).expect("zlib stream");
    let (classes, levels, level_bits) = expand(&parse_seed(&msg));
    let recs: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");

    let (mut exact, mut worst, mut conditional) = (0, 0f32, 0);
    for (n, rec) in recs.iter().enumerate() {
        let int = |k: &str| rec[k].as_i64().expect(k);
        assert_eq!(int("lowRate"), 0, "the dump is full rate");
        let c = &classes[int("voiced") as usize];
        let cb = LsfCodebook {
            half_centroids: &c.half,
            centroid_metric: &c.metric,
            inverse_covariance: &c.cinv,
            rotation: &c.rot,
            inverse_rotation: &c.inv_rot,
            cond_rotation: &c.cond_rot,
            centroid_bits: &c.bits,
            cond_centroid_bits: &c.cond_bits,
            mean: &c.mean,
            cond_regularisation: c.reg,
            min_spacing: &c.min_spacing,
            step: c.step,
            stage2: &c.stage2,
            levels: &levels,
            level_bits: &level_bits,
        };
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
    let (Some(seed_path), Some(path), Some(pcm_path)) = (
        wacall_testkit::shared_file(test, "mlow/lsf_seed.bin"),
        wacall_testkit::shared_file(test, "mlow/lsf_quant_io.json"),
        wacall_testkit::shared_file(test, "mlow/synth_mic.raw"),
    ) else {
        return;
    };
    let packed = std::fs::read(seed_path).expect("readable lsf_seed.bin");
    let msg = miniz_oxide::inflate::decompress_to_vec_zlib(&packed).expect("zlib stream");
    let (classes, levels, level_bits) = expand(&parse_seed(&msg));
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
        let c = &classes[int("voiced") as usize];
        let cb = LsfCodebook {
            half_centroids: &c.half,
            centroid_metric: &c.metric,
            inverse_covariance: &c.cinv,
            rotation: &c.rot,
            inverse_rotation: &c.inv_rot,
            cond_rotation: &c.cond_rot,
            centroid_bits: &c.bits,
            cond_centroid_bits: &c.cond_bits,
            mean: &c.mean,
            cond_regularisation: c.reg,
            min_spacing: &c.min_spacing,
            step: c.step,
            stage2: &c.stage2,
            levels: &levels,
            level_bits: &level_bits,
        };
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
