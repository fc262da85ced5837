//! The Opus range coder (RFC 6716 §4.1 / §5.1 semantics: `ec_dec` and `ec_enc`), which MLow reuses
//! unchanged, plus the three symbol shapes MLow codes with it:
//!
//! - a symbol from a *cumulative* table `cdf[0..=n]` whose first entry need not be zero (the total
//!   is `cdf[n] - cdf[0]`), see [`Decoder::cdf`];
//! - the same over a window `cdf[start..start + len]` of a longer table, see [`Decoder::cdf_window`];
//! - uniform symbols straight on the range stream, see [`Decoder::uniform`] (not the raw bits at the
//!   end of the buffer, which MLow never uses).
//!
//! Both coders work in caller memory and never allocate. Malformed input never panics: the
//! decoder reads zeros past the end of its buffer like the reference, and a degenerate table sets
//! a sticky error flag ([`Decoder::error`]) and yields symbol 0.

const SYM_BITS: u32 = 8;
const SYM_MAX: u32 = 0xff;
const CODE_TOP: u32 = 1 << 31;
const CODE_BOT: u32 = CODE_TOP >> SYM_BITS;
const CODE_SHIFT: u32 = 32 - SYM_BITS - 1;
const CODE_EXTRA: u32 = 7;
const UINT_BITS: u32 = 8;
const WINDOW_BITS: u32 = 32;

/// Position of the highest set bit plus one (`ec_ilog`); 0 for 0.
fn ilog(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// Range decoder over one packet body.
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    offs: usize,
    end_offs: usize,
    end_window: u32,
    nend_bits: u32,
    nbits_total: u32,
    rng: u32,
    val: u32,
    ext: u32,
    rem: u32,
    error: bool,
}

impl<'a> Decoder<'a> {
    /// Start decoding `buf` (`ec_dec_init`).
    pub fn new(buf: &'a [u8]) -> Self {
        let mut d = Decoder {
            buf,
            offs: 0,
            end_offs: 0,
            end_window: 0,
            nend_bits: 0,
            nbits_total: 32 + 1 - ((32 - CODE_EXTRA) / SYM_BITS) * SYM_BITS,
            rng: 1 << CODE_EXTRA,
            val: 0,
            ext: 0,
            rem: 0,
            error: false,
        };
        d.rem = d.next_byte();
        d.val = d.rng - 1 - (d.rem >> (SYM_BITS - CODE_EXTRA));
        d.normalize();
        d
    }

    fn next_byte(&mut self) -> u32 {
        match self.buf.get(self.offs) {
            Some(&b) => {
                self.offs += 1;
                u32::from(b)
            }
            None => 0,
        }
    }

    fn prev_byte_from_end(&mut self) -> u32 {
        if self.end_offs < self.buf.len() {
            self.end_offs += 1;
            u32::from(self.buf[self.buf.len() - self.end_offs])
        } else {
            0
        }
    }

    fn normalize(&mut self) {
        while self.rng <= CODE_BOT {
            self.nbits_total += SYM_BITS;
            self.rng <<= SYM_BITS;
            let prev = self.rem;
            self.rem = self.next_byte();
            let sym = ((prev << SYM_BITS) | self.rem) >> (SYM_BITS - CODE_EXTRA);
            self.val = ((self.val << SYM_BITS).wrapping_add(SYM_MAX & !sym)) & (CODE_TOP - 1);
        }
    }

    /// The cumulative frequency of the next symbol out of `ft` (`ec_decode`); follow with
    /// [`Decoder::update`]. `ft` must be in `1..=65535`; otherwise the error flag is set.
    pub fn decode(&mut self, ft: u32) -> u32 {
        if ft == 0 || ft > self.rng {
            self.error = true;
            self.ext = 1;
            return 0;
        }
        self.ext = self.rng / ft;
        let s = self.val / self.ext;
        ft - (s + 1).min(ft)
    }

    /// As [`Decoder::decode`] with `ft = 1 << bits` (`ec_decode_bin`).
    pub fn decode_bin(&mut self, bits: u32) -> u32 {
        if bits > 16 {
            self.error = true;
            self.ext = 1;
            return 0;
        }
        self.ext = self.rng >> bits;
        let s = self.val / self.ext;
        (1 << bits) - (s + 1).min(1 << bits)
    }

    /// Consume the symbol occupying `[fl, fh)` of `ft` (`ec_dec_update`).
    pub fn update(&mut self, fl: u32, fh: u32, ft: u32) {
        let s = self.ext.wrapping_mul(ft.wrapping_sub(fh));
        self.val = self.val.wrapping_sub(s);
        self.rng = if fl > 0 {
            self.ext.wrapping_mul(fh.wrapping_sub(fl))
        } else {
            self.rng.wrapping_sub(s)
        };
        self.normalize();
    }

    /// One bit whose probability of being 1 is `1 / 2^logp` (`ec_dec_bit_logp`).
    pub fn bit_logp(&mut self, logp: u32) -> bool {
        if !(1..32).contains(&logp) {
            self.error = true;
            return false;
        }
        let s = self.rng >> logp;
        let one = self.val < s;
        if one {
            self.rng = s;
        } else {
            self.val -= s;
            self.rng -= s;
        }
        self.normalize();
        one
    }

    /// A symbol from an inverse CDF with total `1 << ftb` (`ec_dec_icdf`).
    pub fn icdf(&mut self, icdf: &[u8], ftb: u32) -> usize {
        if ftb > 16 {
            self.error = true;
            return 0;
        }
        let r = self.rng >> ftb;
        let mut s = self.rng;
        let mut t;
        let mut k = 0;
        loop {
            t = s;
            let Some(&next) = icdf.get(k) else {
                self.error = true;
                return 0;
            };
            s = r.wrapping_mul(u32::from(next));
            if self.val >= s {
                break;
            }
            k += 1;
        }
        if s > t {
            // An increasing "inverse" CDF.
            self.error = true;
            return 0;
        }
        self.val -= s;
        self.rng = t - s;
        self.normalize();
        k
    }

    /// `bits` raw bits from the end of the buffer (`ec_dec_bits`), `bits <= 25`.
    pub fn bits(&mut self, bits: u32) -> u32 {
        if bits > 25 {
            self.error = true;
            return 0;
        }
        let mut window = self.end_window;
        let mut available = self.nend_bits;
        if available < bits {
            while available <= WINDOW_BITS - SYM_BITS {
                window |= self.prev_byte_from_end() << available;
                available += SYM_BITS;
            }
        }
        let out = window & ((1u32 << bits) - 1);
        self.end_window = window >> bits;
        self.nend_bits = available - bits;
        self.nbits_total += bits;
        out
    }

    /// A uniform integer in `0..ft` (`ec_dec_uint`), `ft >= 2`.
    pub fn uint(&mut self, ft: u32) -> u32 {
        if ft < 2 {
            self.error = true;
            return 0;
        }
        let top = ft - 1;
        let ftb = ilog(top);
        if ftb > UINT_BITS {
            let low_bits = ftb - UINT_BITS;
            let t = (top >> low_bits) + 1;
            let s = self.decode(t);
            self.update(s, s + 1, t);
            let v = (s << low_bits) | self.bits(low_bits);
            if v <= top {
                return v;
            }
            self.error = true;
            top
        } else {
            let s = self.decode(ft);
            self.update(s, s + 1, ft);
            s
        }
    }

    /// A uniform symbol in `0..ft` coded on the range stream (MLow's contour seed and first lag).
    pub fn uniform(&mut self, ft: u32) -> u32 {
        let s = self.decode(ft);
        self.update(s, s + 1, ft.max(1));
        s
    }

    /// A uniform `bits`-bit symbol on the range stream (MLow's pulse signs), `bits <= 15`.
    pub fn uniform_bits(&mut self, bits: u32) -> u32 {
        let s = self.decode_bin(bits);
        self.update(s, s + 1, 1 << bits.min(16));
        s
    }

    /// A symbol of the cumulative table `cdf` (`n + 1` entries for `n` symbols, non-decreasing,
    /// base `cdf[0]` subtracted).
    pub fn cdf(&mut self, cdf: &[u16]) -> usize {
        self.cdf_window(cdf, 0, cdf.len())
    }

    /// A symbol of the window `cdf[start..start + len]`. A window that leaves the table, has fewer
    /// than two entries or no range sets the error flag and yields 0.
    pub fn cdf_window(&mut self, cdf: &[u16], start: usize, len: usize) -> usize {
        let Some(w) = start
            .checked_add(len)
            .and_then(|end| cdf.get(start..end))
            .filter(|w| w.len() >= 2)
        else {
            self.error = true;
            return 0;
        };
        let base = u32::from(w[0]);
        let ft = u32::from(w[w.len() - 1]).saturating_sub(base);
        if ft == 0 {
            self.error = true;
            return 0;
        }
        let target = base + self.decode(ft);
        // The symbol is the first k with w[k + 1] > target; tables are non-decreasing, so a
        // binary search finds it (k <= len - 2 because target < w[len - 1]).
        let k = w[1..w.len() - 1].partition_point(|&x| u32::from(x) <= target);
        let lo = u32::from(w[k]).saturating_sub(base);
        let hi = u32::from(w[k + 1]).saturating_sub(base);
        if hi <= lo || hi > ft {
            // Only a decreasing table can get here.
            self.error = true;
            return 0;
        }
        self.update(lo, hi, ft);
        k
    }

    /// Bits consumed so far, rounded up (`ec_tell`).
    pub fn tell(&self) -> u32 {
        self.nbits_total - ilog(self.rng)
    }

    /// Bytes the decode has consumed: `ceil(tell / 8)`.
    pub fn consumed_bytes(&self) -> usize {
        self.tell().div_ceil(8) as usize
    }

    /// Length of the body being decoded.
    pub fn storage(&self) -> usize {
        self.buf.len()
    }

    /// Record that the caller found the decoded values impossible (sticky, like a table error).
    pub fn mark_corrupt(&mut self) {
        self.error = true;
    }

    /// True once any primitive met an impossible table or argument (sticky).
    pub fn error(&self) -> bool {
        self.error
    }
}

/// Why an encode could not be completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small.
    BufferFull,
    /// A symbol outside its table, or a degenerate table.
    BadSymbol,
}

/// Range encoder writing into a caller buffer.
#[derive(Debug)]
pub struct Encoder<'a> {
    buf: &'a mut [u8],
    offs: usize,
    end_offs: usize,
    end_window: u32,
    nend_bits: u32,
    nbits_total: u32,
    rng: u32,
    val: u32,
    ext: u32,
    rem: Option<u32>,
    error: Option<EncodeError>,
}

impl<'a> Encoder<'a> {
    /// Start encoding into `buf` (`ec_enc_init`); the whole buffer is the storage.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Encoder {
            buf,
            offs: 0,
            end_offs: 0,
            end_window: 0,
            nend_bits: 0,
            nbits_total: 33,
            rng: CODE_TOP,
            val: 0,
            ext: 0,
            rem: None,
            error: None,
        }
    }

    fn fail(&mut self, e: EncodeError) {
        self.error.get_or_insert(e);
    }

    fn write_byte(&mut self, b: u32) {
        if self.offs + self.end_offs >= self.buf.len() {
            self.fail(EncodeError::BufferFull);
            return;
        }
        self.buf[self.offs] = b as u8;
        self.offs += 1;
    }

    fn write_byte_at_end(&mut self, b: u32) {
        if self.offs + self.end_offs >= self.buf.len() {
            self.fail(EncodeError::BufferFull);
            return;
        }
        self.end_offs += 1;
        let at = self.buf.len() - self.end_offs;
        self.buf[at] = b as u8;
    }

    fn carry_out(&mut self, c: u32) {
        if c == SYM_MAX {
            self.ext += 1;
            return;
        }
        let carry = c >> SYM_BITS;
        if let Some(rem) = self.rem {
            self.write_byte(rem + carry);
        }
        while self.ext > 0 {
            self.write_byte((SYM_MAX + carry) & SYM_MAX);
            self.ext -= 1;
        }
        self.rem = Some(c & SYM_MAX);
    }

    fn normalize(&mut self) {
        while self.rng <= CODE_BOT {
            self.carry_out(self.val >> CODE_SHIFT);
            self.val = (self.val << SYM_BITS) & (CODE_TOP - 1);
            self.rng <<= SYM_BITS;
            self.nbits_total += SYM_BITS;
        }
    }

    /// Encode the symbol occupying `[fl, fh)` of `ft` (`ec_encode`).
    pub fn encode(&mut self, fl: u32, fh: u32, ft: u32) {
        if ft == 0 || fl >= fh || fh > ft || ft > self.rng {
            self.fail(EncodeError::BadSymbol);
            return;
        }
        let r = self.rng / ft;
        if fl > 0 {
            self.val += self.rng - r * (ft - fl);
            self.rng = r * (fh - fl);
        } else {
            self.rng -= r * (ft - fh);
        }
        self.normalize();
    }

    /// As [`Encoder::encode`] with `ft = 1 << bits` (`ec_encode_bin`).
    pub fn encode_bin(&mut self, fl: u32, fh: u32, bits: u32) {
        if bits > 16 || fl >= fh || fh > 1 << bits {
            self.fail(EncodeError::BadSymbol);
            return;
        }
        let r = self.rng >> bits;
        if fl > 0 {
            self.val += self.rng - r * ((1 << bits) - fl);
            self.rng = r * (fh - fl);
        } else {
            self.rng -= r * ((1 << bits) - fh);
        }
        self.normalize();
    }

    /// One bit whose probability of being 1 is `1 / 2^logp` (`ec_enc_bit_logp`).
    pub fn bit_logp(&mut self, one: bool, logp: u32) {
        if !(1..32).contains(&logp) {
            self.fail(EncodeError::BadSymbol);
            return;
        }
        let s = self.rng >> logp;
        let r = self.rng - s;
        if one {
            self.val += r;
            self.rng = s;
        } else {
            self.rng = r;
        }
        self.normalize();
    }

    /// A symbol of an inverse CDF with total `1 << ftb` (`ec_enc_icdf`).
    pub fn icdf(&mut self, s: usize, icdf: &[u8], ftb: u32) {
        let Some(&hi) = icdf.get(s) else {
            self.fail(EncodeError::BadSymbol);
            return;
        };
        let lo = if s > 0 {
            u32::from(icdf[s - 1])
        } else {
            1 << ftb.min(16)
        };
        if ftb > 16 || lo <= u32::from(hi) || lo > 1 << ftb {
            self.fail(EncodeError::BadSymbol);
            return;
        }
        let r = self.rng >> ftb;
        if s > 0 {
            self.val += self.rng - r * lo;
            self.rng = r * (lo - u32::from(hi));
        } else {
            self.rng -= r * u32::from(hi);
        }
        self.normalize();
    }

    /// `bits` raw bits at the end of the buffer (`ec_enc_bits`), `bits <= 25`.
    pub fn bits(&mut self, value: u32, bits: u32) {
        if !(1..=25).contains(&bits) || value >> bits != 0 {
            self.fail(EncodeError::BadSymbol);
            return;
        }
        let mut window = self.end_window;
        let mut used = self.nend_bits;
        if used + bits > WINDOW_BITS {
            while used >= SYM_BITS {
                self.write_byte_at_end(window & SYM_MAX);
                window >>= SYM_BITS;
                used -= SYM_BITS;
            }
        }
        window |= value << used;
        self.end_window = window;
        self.nend_bits = used + bits;
        self.nbits_total += bits;
    }

    /// A uniform integer in `0..ft` (`ec_enc_uint`).
    pub fn uint(&mut self, value: u32, ft: u32) {
        if ft < 2 || value >= ft {
            self.fail(EncodeError::BadSymbol);
            return;
        }
        let top = ft - 1;
        let ftb = ilog(top);
        if ftb > UINT_BITS {
            let low_bits = ftb - UINT_BITS;
            let t = (top >> low_bits) + 1;
            self.encode(value >> low_bits, (value >> low_bits) + 1, t);
            self.bits(value & ((1 << low_bits) - 1), low_bits);
        } else {
            self.encode(value, value + 1, ft);
        }
    }

    /// Inverse of [`Decoder::uniform`].
    pub fn uniform(&mut self, value: u32, ft: u32) {
        self.encode(value, value + 1, ft);
    }

    /// Inverse of [`Decoder::uniform_bits`].
    pub fn uniform_bits(&mut self, value: u32, bits: u32) {
        self.encode_bin(value, value + 1, bits);
    }

    /// Inverse of [`Decoder::cdf`].
    pub fn cdf(&mut self, s: usize, cdf: &[u16]) {
        self.cdf_window(s, cdf, 0, cdf.len());
    }

    /// Inverse of [`Decoder::cdf_window`].
    pub fn cdf_window(&mut self, s: usize, cdf: &[u16], start: usize, len: usize) {
        let Some(w) = start
            .checked_add(len)
            .and_then(|end| cdf.get(start..end))
            .filter(|w| s + 1 < w.len())
        else {
            self.fail(EncodeError::BadSymbol);
            return;
        };
        let base = u32::from(w[0]);
        let ft = u32::from(w[w.len() - 1]).saturating_sub(base);
        let lo = u32::from(w[s]).saturating_sub(base);
        let hi = u32::from(w[s + 1]).saturating_sub(base);
        self.encode(lo, hi, ft);
    }

    /// Bits written so far, rounded up (`ec_tell`).
    pub fn tell(&self) -> u32 {
        self.nbits_total - ilog(self.rng)
    }

    /// Flush (`ec_enc_done`): terminate the range stream with the fewest bytes that decode
    /// unambiguously, zero the gap, merge the end bits. Returns the bytes used at the front (range
    /// stream); raw bits, if any, sit at the very end of the buffer.
    pub fn done(mut self) -> Result<usize, EncodeError> {
        let mut l = 32 - ilog(self.rng) as i32;
        let mut msk = (CODE_TOP - 1) >> l;
        let mut end = self.val.wrapping_add(msk) & !msk;
        if (end | msk) >= self.val.wrapping_add(self.rng) {
            l += 1;
            msk >>= 1;
            end = self.val.wrapping_add(msk) & !msk;
        }
        while l > 0 {
            self.carry_out(end >> CODE_SHIFT);
            end = (end << SYM_BITS) & (CODE_TOP - 1);
            l -= SYM_BITS as i32;
        }
        if self.rem.is_some() || self.ext > 0 {
            self.carry_out(0);
        }
        let mut window = self.end_window;
        let mut used = self.nend_bits;
        while used >= SYM_BITS {
            self.write_byte_at_end(window & SYM_MAX);
            window >>= SYM_BITS;
            used -= SYM_BITS;
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        let storage = self.buf.len();
        self.buf[self.offs..storage - self.end_offs].fill(0);
        if used > 0 {
            if self.end_offs >= storage {
                return Err(EncodeError::BufferFull);
            }
            let spare = (-l) as u32;
            if self.offs + self.end_offs >= storage && spare < used {
                return Err(EncodeError::BufferFull);
            }
            self.buf[storage - self.end_offs - 1] |= window as u8;
        }
        Ok(self.offs)
    }
}

/// Known-answer check against `rc_vectors.json`: a 2000-operation script of every `ec_dec`
/// primitive and a 1500-symbol script of cumulative tables (some with a non-zero base), each
/// decoded from the reference bytes and re-encoded to the identical 8192-byte buffer.
#[cfg(feature = "kat")]
pub fn kat_rc(v: &dyn crate::kat::Vectors) -> Result<(), crate::kat::Failure> {
    use crate::kat::{Failure, expect_eq, hex, int, len, text};
    use alloc::format;
    use alloc::vec::Vec;
    // The inverse CDF the script was written with, as the file's base64 `icdf` spells it.
    const ICDF: [u8; 6] = [255, 200, 150, 90, 30, 0];
    expect_eq("icdf", text(v, "icdf")?, "/8iWWh4A")?;
    let bad = |at: &str, what: &'static str| Failure {
        at: at.into(),
        what,
    };
    let u = |p: &str| -> Result<u32, Failure> {
        u32::try_from(int(v, p)?).map_err(|_| bad(p, "not a u32"))
    };

    let bytes = hex(v, "bytesHex")?;
    let mut dec = Decoder::new(&bytes);
    let mut out = alloc::vec![0u8; bytes.len()];
    let mut enc = Encoder::new(&mut out);
    for i in 0..len(v, "ops")? {
        let at = |f: &str| format!("ops.{i}.{f}");
        let (kind, a, b) = (u(&at("kind"))?, u(&at("a"))?, u(&at("b"))?);
        let got = match kind {
            0 => {
                enc.icdf(a as usize, &ICDF, 8);
                dec.icdf(&ICDF, 8) as u32 == a
            }
            1 => {
                enc.bits(b, a);
                dec.bits(a) == b
            }
            2 => {
                enc.bit_logp(b != 0, a);
                u32::from(dec.bit_logp(a)) == b
            }
            3 => {
                enc.uint(b, a);
                dec.uint(a) == b
            }
            _ => return Err(bad(&at("kind"), "unknown op")),
        };
        if !got {
            return Err(bad(&at("a"), "decoded value differs"));
        }
    }
    if dec.error() {
        return Err(bad("ops", "decoder error flag"));
    }
    enc.done().map_err(|_| bad("ops", "encoder failed"))?;
    expect_eq("bytesHex (re-encoded)", &out[..], &bytes[..])?;

    let mut tables: Vec<Vec<u16>> = Vec::new();
    for t in 0..len(v, "cdfTables")? {
        let mut row = Vec::new();
        for k in 0..len(v, &format!("cdfTables.{t}"))? {
            let p = format!("cdfTables.{t}.{k}");
            row.push(u16::try_from(int(v, &p)?).map_err(|_| bad(&p, "not a u16"))?);
        }
        tables.push(row);
    }
    let bytes = hex(v, "cdfBytesHex")?;
    let mut dec = Decoder::new(&bytes);
    let mut out = alloc::vec![0u8; bytes.len()];
    let mut enc = Encoder::new(&mut out);
    for i in 0..len(v, "cdfOps")? {
        let at = |f: &str| format!("cdfOps.{i}.{f}");
        let table = tables
            .get(u(&at("kind"))? as usize)
            .ok_or_else(|| bad(&at("kind"), "no such table"))?;
        let sym = u(&at("a"))? as usize;
        enc.cdf(sym, table);
        if dec.cdf(table) != sym {
            return Err(bad(&at("a"), "decoded symbol differs"));
        }
    }
    if dec.error() {
        return Err(bad("cdfOps", "decoder error flag"));
    }
    enc.done().map_err(|_| bad("cdfOps", "encoder failed"))?;
    expect_eq("cdfBytesHex (re-encoded)", &out[..], &bytes[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_set_the_error_instead_of_panicking() {
        let data = [0x5au8; 16];
        let mut d = Decoder::new(&data);
        assert_eq!(d.bits(40), 0);
        assert!(d.error());
        let mut d = Decoder::new(&data);
        d.bit_logp(40);
        assert!(d.error());
        // Not inverse CDFs: must not panic, whatever they decode to.
        for (icdf, ftb) in [
            (&[15u8, 200, 0][..], 4),
            (&[10, 200, 0][..], 8),
            (&[3, 2][..], 20),
        ] {
            Decoder::new(&data).icdf(icdf, ftb);
        }
        let mut d = Decoder::new(&data);
        d.icdf(&[], 8); // runs off the table
        assert!(d.error());
        let mut d = Decoder::new(&data);
        d.cdf_window(&[0, 5, 9], 2, 4); // leaves the table
        assert!(d.error());
        let mut d = Decoder::new(&data);
        d.cdf(&[7, 7]); // no range
        assert!(d.error());

        let mut buf = [0u8; 8];
        let mut e = Encoder::new(&mut buf);
        e.bits(1, 40);
        assert_eq!(e.done(), Err(EncodeError::BadSymbol));
        let mut e = Encoder::new(&mut buf);
        e.icdf(1, &[10, 200, 0], 8);
        assert_eq!(e.done(), Err(EncodeError::BadSymbol));
        let mut e = Encoder::new(&mut buf);
        e.cdf(3, &[0, 4, 9]);
        assert_eq!(e.done(), Err(EncodeError::BadSymbol));
        let mut small = [0u8; 1];
        let mut e = Encoder::new(&mut small);
        for _ in 0..8 {
            e.uniform_bits(0x5555, 16);
        }
        assert_eq!(e.done(), Err(EncodeError::BufferFull));
    }
}
