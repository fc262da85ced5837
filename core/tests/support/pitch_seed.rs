//! Test-side expansion of the MLow pitch ROM (`pitch_seed.bin`) into the view the pitch
//! estimator reads. The codec's decoder owns the real expansion; this copy exists so the estimator
//! can be tested and benchmarked on its own. It is checked against the FNV-1a digest that an
//! independent implementation (whatsapp-rust, `pitch_seed_build_golden_checksum`) publishes.
#![allow(dead_code)]

use wacall_core::mlow::analysis::pitch::{BlockSeg, LAG_RANGES, MAX_SEGMENTS, PitchTables};

/// Just enough of the CELT range decoder to read uniform symbols.
struct RangeDecoder<'a> {
    buf: &'a [u8],
    pos: usize,
    rem: u32,
    rng: u32,
    val: u32,
    ext: u32,
}

impl<'a> RangeDecoder<'a> {
    fn new(buf: &'a [u8]) -> Self {
        let mut d = RangeDecoder {
            buf,
            pos: 0,
            rem: 0,
            rng: 128,
            val: 0,
            ext: 0,
        };
        d.rem = d.byte();
        d.val = 127 - (d.rem >> 1);
        d.normalise();
        d
    }

    fn byte(&mut self) -> u32 {
        let b = self.buf.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        u32::from(b)
    }

    fn normalise(&mut self) {
        while self.rng <= 1 << 23 {
            self.rng <<= 8;
            let prev = self.rem;
            self.rem = self.byte();
            let sym = ((prev << 8) | self.rem) >> 1;
            self.val = (self.val << 8).wrapping_add(255 & !sym) & 0x7fff_ffff;
        }
    }

    fn uniform(&mut self, ft: u32) -> u32 {
        self.ext = self.rng / ft;
        let s = self.val / self.ext;
        let fl = ft - (s + 1).min(ft);
        let sub = self.ext * (ft - (fl + 1));
        self.val -= sub;
        self.rng = if fl > 0 { self.ext } else { self.rng - sub };
        self.normalise();
        fl
    }
}

/// Integer expansion of a squared-root-coded probability table to cumulative frequencies summing
/// to 32767.
fn dcmf_to_cdf(d: &[u8]) -> Vec<u16> {
    let sq: Vec<i64> = d
        .iter()
        .map(|&v| ((i64::from(v) + 1).pow(2)).min(65535))
        .collect();
    let sum: i64 = sq.iter().sum();
    let mut cdf = vec![0u16; d.len() + 1];
    for (n, &p) in sq.iter().enumerate() {
        cdf[n + 1] = (i64::from(cdf[n]) + p * (32767 - d.len() as i64) / sum + 1) as u16;
    }
    cdf
}

/// The expanded tables, owning what [`PitchTables`] borrows.
pub struct Tables {
    blocksegs: Vec<BlockSeg>,
    symbol: Vec<u8>,
    track_blocksegs: Vec<[u8; 2]>,
    first_range: [[u8; 2]; LAG_RANGES],
    blockseg_cdf: Vec<u16>,
    delta_cdfs: Vec<Vec<u16>>,
    transition: [[u16; LAG_RANGES + 1]; LAG_RANGES],
}

fn protobuf_bytes_fields(msg: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    let varint = |i: &mut usize| {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = msg[*i];
            *i += 1;
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                return v;
            }
        }
    };
    while i < msg.len() {
        let key = varint(&mut i);
        assert_eq!(key & 7, 2, "PitchSeed holds only bytes fields");
        let len = varint(&mut i) as usize;
        out.push(((key >> 3) as u32, &msg[i..i + len]));
        i += len;
    }
    out
}

/// Read and expand `pitch_seed.bin` from the shared vectors (`None` after a skip notice).
pub fn load_tables(test: &str) -> Option<Tables> {
    let path = wacall_testkit::shared_file(test, "mlow/pitch_seed.bin")?;
    let packed = std::fs::read(path).expect("readable pitch_seed.bin");
    let msg = miniz_oxide::inflate::decompress_to_vec_zlib(&packed).expect("zlib stream");
    let fields = protobuf_bytes_fields(&msg);
    let field = |n: u32| fields.iter().find(|f| f.0 == n).expect("field present").1;

    let mut dec = RangeDecoder::new(field(1));
    let blocksegs: Vec<BlockSeg> = (0..217)
        .map(|_| {
            let len = dec.uniform(6) as usize + 1;
            let mut seg = BlockSeg {
                len: len as u8,
                ..BlockSeg::default()
            };
            for k in 0..len.min(MAX_SEGMENTS) {
                seg.ranges[k] = dec.uniform(9) as u8;
                seg.spans[k] = dec.uniform(4) as u8 + 1;
            }
            seg
        })
        .collect();
    let pairs = |b: &[u8]| b.chunks_exact(2).map(|p| [p[0], p[1]]).collect::<Vec<_>>();
    let first_range: [[u8; 2]; LAG_RANGES] = pairs(field(4)).try_into().expect("9 ranges");
    let transition: [[u16; LAG_RANGES + 1]; LAG_RANGES] = field(7)
        .chunks_exact(LAG_RANGES)
        .map(|c| dcmf_to_cdf(c).try_into().expect("10 entries"))
        .collect::<Vec<_>>()
        .try_into()
        .expect("9 rows");
    Some(Tables {
        blocksegs,
        symbol: field(2).to_vec(),
        track_blocksegs: pairs(field(3)),
        first_range,
        blockseg_cdf: dcmf_to_cdf(field(5)),
        delta_cdfs: field(6).chunks_exact(319).map(dcmf_to_cdf).collect(),
        transition,
    })
}

/// The digest whatsapp-rust computes over its expanded tables, field by field in its order.
pub fn reference_digest(t: &Tables) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |x: u64| {
        h ^= x;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for s in &t.blocksegs {
        let n = usize::from(s.len);
        feed(n as u64);
        s.ranges[..n].iter().for_each(|&b| feed(u64::from(b)));
        s.spans[..n].iter().for_each(|&b| feed(u64::from(b)));
    }
    for &[first, _] in &t.track_blocksegs {
        let s = &t.blocksegs[usize::from(first)];
        let (mut mean, mut jumps) = (0f32, 0f32);
        let mut track = Vec::new();
        for k in 0..usize::from(s.len) {
            for _ in 0..s.spans[k] {
                track.push(u64::from(s.ranges[k]));
            }
            mean += f32::from(s.ranges[k]) * f32::from(s.spans[k]);
            if k > 0 {
                jumps += (i32::from(s.ranges[k - 1]) - i32::from(s.ranges[k])).abs() as f32;
            }
        }
        track.iter().for_each(|&v| feed(v));
        feed(u64::from((mean / 8.0).to_bits()));
        feed(u64::from(jumps.to_bits()));
    }
    t.symbol.iter().for_each(|&v| feed(u64::from(v)));
    t.blockseg_cdf.iter().for_each(|&v| feed(u64::from(v)));
    for row in &t.delta_cdfs {
        row.iter().for_each(|&v| feed(u64::from(v)));
    }
    for p in t.track_blocksegs.iter().chain(&t.first_range) {
        feed(u64::from(p[0]));
        feed(u64::from(p[1]));
    }
    for row in &t.transition {
        row.iter().for_each(|&v| feed(u64::from(v)));
    }
    h
}

impl Tables {
    /// The view the estimator reads (delta-lag table of mode 1, the one the search uses).
    pub fn view(&self) -> PitchTables<'_> {
        PitchTables {
            blocksegs: &self.blocksegs,
            blockseg_symbol: &self.symbol,
            track_blocksegs: &self.track_blocksegs,
            first_range_symbols: &self.first_range,
            blockseg_cdf: &self.blockseg_cdf,
            range_transition_cdf: &self.transition,
            delta_lag_cdf: &self.delta_cdfs[1],
        }
    }
}
