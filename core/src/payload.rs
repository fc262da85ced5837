//! Audio payload routing: which bytes of an RTP audio payload are MLow, which are escaped Opus,
//! and which are the one-byte SID token.
//!
//! The first byte of an MLow frame is its TOC. Bits 7:6 select the frame class: `00` coded without
//! voice activity (still decoded), `01` active voice, `10` SID/DTX, `11` the in-profile Opus/CELT
//! escape. The escape is **not** an RFC 6716 TOC: it is rewritten as
//! `0xC0 | (config - 16) << 2 | stereo << 1 | multi`, so only CELT-only configurations (16..=31)
//! can travel this way; `multi` marks an RFC code-3 style frame-count byte after it (codes 1 and 2
//! gain one such byte on the way in). Opus DTX packets (≤ 2 bytes) and canonical CELT silence map
//! to the one-byte MLow SID token `0x90`.
//!
//! Only on PT 120 is a leading `11` an escape; on PT 121 the payload is SplitRed first
//! ([`crate::red`]) and each frame inside is routed on its own. This module only routes; decoding
//! MLow lives elsewhere.

use crate::rtp::{PT_MLOW, PT_MLOW_SPLIT_RED, PT_OPUS};

/// The one-byte MLow SID (comfort-noise) token.
pub const MLOW_SID_TOKEN: u8 = 0x90;

/// The MLow TOC byte, read for routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Toc(pub u8);

/// Frame class from TOC bits 7:6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameClass {
    /// `00`: a frame coded without voice activity (background or hangover); decoded normally.
    Inactive,
    /// `01`: active voice.
    Active,
    /// `10`: SID / DTX.
    Sid,
    /// `11`: the Opus/CELT escape; not an MLow frame at all.
    OpusEscape,
}

impl Toc {
    /// Frame class (bits 7:6).
    pub fn class(self) -> FrameClass {
        match self.0 >> 6 {
            0 => FrameClass::Inactive,
            1 => FrameClass::Active,
            2 => FrameClass::Sid,
            _ => FrameClass::OpusEscape,
        }
    }

    /// Bit 7: SID/DTX.
    pub fn sid(self) -> bool {
        self.0 & 0x80 != 0
    }

    /// Bit 6: voice activity.
    pub fn vad(self) -> bool {
        self.0 & 0x40 != 0
    }

    /// Bit 5: 32 kHz internal rate (adds the high band) instead of 16 kHz.
    pub fn internal_32k(self) -> bool {
        self.0 & 0x20 != 0
    }

    /// Internal sample rate in Hz: 16000 or 32000.
    pub fn internal_rate_hz(self) -> u32 {
        if self.internal_32k() { 32_000 } else { 16_000 }
    }

    /// Packet duration from bits 4:3: 10, 20, 60 or 120 ms.
    pub fn packet_ms(self) -> u32 {
        [10, 20, 60, 120][usize::from((self.0 >> 3) & 3)]
    }

    /// Bit 2: low-rate mode.
    pub fn low_rate(self) -> bool {
        self.0 & 0x04 != 0
    }

    /// Bit 1 (in-band FEC when VAD is set, hangover when it is not).
    pub fn bit1(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// Bit 0: stereo information present.
    pub fn stereo(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// The frame carries an in-band FEC copy: VAD and bit 1.
    pub fn fec(self) -> bool {
        self.vad() && self.bit1()
    }

    /// The frame was coded as active voice: VAD, or bit 1 (hangover).
    pub fn coded_as_active_voice(self) -> bool {
        self.vad() || self.bit1()
    }
}

/// Where an audio payload goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Nothing to decode (empty payload): play silence / conceal.
    Empty,
    /// An MLow frame (TOC in the first byte); SID frames included.
    MLow(Toc),
    /// An MLow-profile escape: restore the Opus TOC with [`mlow_escape_to_opus`], then decode with
    /// stock Opus.
    OpusEscape,
    /// A SplitRed envelope: split it with [`crate::red`] and route each frame as PT 120.
    SplitRed,
    /// Standard RFC 7587 Opus.
    Opus,
    /// A payload type this module does not route.
    Unknown,
}

/// Route an audio payload by its RTP payload type (never by sniffing the format).
pub fn route(payload_type: u8, payload: &[u8]) -> Route {
    match payload_type {
        _ if payload.is_empty() => Route::Empty,
        PT_MLOW => match payload[0] {
            b if b & 0xC0 == 0xC0 => Route::OpusEscape,
            b => Route::MLow(Toc(b)),
        },
        PT_MLOW_SPLIT_RED => Route::SplitRed,
        PT_OPUS => Route::Opus,
        _ => Route::Unknown,
    }
}

/// The payload is exactly the one-byte MLow SID token.
pub fn is_mlow_sid_token(payload: &[u8]) -> bool {
    payload == [MLOW_SID_TOKEN]
}

/// MLow-profile DTX rule for outgoing packets: the first byte's class is SID (`10`).
pub fn is_mlow_dtx(payload: &[u8]) -> bool {
    payload.first().is_some_and(|b| b & 0xC0 == 0x80)
}

/// Opus-profile DTX rule for outgoing packets: 1–2 byte packets, short comfort-noise-looking
/// packets (≤ 15 bytes starting `0000_1xxx` or `0x0A`), and very short (≤ 6 bytes) `0011_xxxx`.
pub fn is_opus_dtx(payload: &[u8]) -> bool {
    match payload.len() {
        0 => false,
        1 | 2 => true,
        n if n <= 15 => {
            let b = payload[0];
            b & 0xF8 == 0x08 || b == 0x0A || (b & 0xF0 == 0x30 && n <= 6)
        }
        _ => false,
    }
}

/// Why an Opus ↔ MLow escape rewrite was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EscapeError {
    /// Empty packet.
    Empty,
    /// The Opus configuration is SILK or Hybrid (below 16): it cannot use the escape.
    NotCelt,
    /// The Opus frame packing is malformed.
    FramePacking,
    /// The MLow payload is not an escape (`b & 0xC0 != 0xC0`).
    NotEscape,
    /// The output buffer is too small.
    BufferTooSmall,
}

impl core::fmt::Display for EscapeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EscapeError::Empty => "opus escape: empty packet",
            EscapeError::NotCelt => "opus escape: not a CELT-only configuration",
            EscapeError::FramePacking => "opus escape: malformed frame packing",
            EscapeError::NotEscape => "opus escape: not an escape byte",
            EscapeError::BufferTooSmall => "opus escape: buffer too small",
        })
    }
}

impl core::error::Error for EscapeError {}

/// Read an RFC 6716 frame length (1 or 2 bytes) at `at`; returns (length, bytes used).
fn opus_frame_len(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = usize::from(*b.get(at)?);
    if first < 252 {
        Some((first, 1))
    } else {
        Some((first + 4 * usize::from(*b.get(at + 1)?), 2))
    }
}

/// Whether a code-3 frame-count byte is usable: 1..=48 frames.
fn valid_count_byte(b: u8) -> bool {
    (1..=48).contains(&(b & 0x3F))
}

/// Call `f` on each frame of an RFC 6716 packet; `None` if the packing is malformed.
fn for_each_opus_frame(packet: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> Option<bool> {
    let toc = *packet.first()?;
    let body = &packet[1..];
    match toc & 3 {
        0 => Some(f(body)),
        1 => {
            if !body.len().is_multiple_of(2) {
                return None;
            }
            let (a, b) = body.split_at(body.len() / 2);
            Some(f(a) && f(b))
        }
        2 => {
            let (n, used) = opus_frame_len(body, 0)?;
            let rest = body.get(used..)?;
            if n > rest.len() {
                return None;
            }
            let (a, b) = rest.split_at(n);
            Some(f(a) && f(b))
        }
        _ => {
            let desc = *body.first()?;
            if !valid_count_byte(desc) {
                return None;
            }
            let count = usize::from(desc & 0x3F);
            let vbr = desc & 0x80 != 0;
            let mut at = 1;
            let mut padding = 0usize;
            if desc & 0x40 != 0 {
                loop {
                    let p = *body.get(at)?;
                    at += 1;
                    padding += if p == 255 { 254 } else { usize::from(p) };
                    if p != 255 {
                        break;
                    }
                }
            }
            let end = body.len().checked_sub(padding)?;
            let mut sizes = [0usize; 48];
            if vbr {
                for s in sizes.iter_mut().take(count - 1) {
                    let (n, used) = opus_frame_len(body, at)?;
                    at += used;
                    *s = n;
                }
                let listed: usize = sizes[..count - 1].iter().sum();
                sizes[count - 1] = end.checked_sub(at)?.checked_sub(listed)?;
            } else {
                let data = end.checked_sub(at)?;
                if data % count != 0 {
                    return None;
                }
                sizes[..count].fill(data / count);
            }
            let mut all = true;
            for &s in &sizes[..count] {
                let frame = body.get(at..at + s)?;
                at += s;
                all &= f(frame);
            }
            (at == end).then_some(all)
        }
    }
}

/// Whether an Opus packet is DTX-like silence: ≤ 2 bytes, or every CELT frame empty or the
/// canonical silence body `FF FE`.
pub fn is_opus_silence(packet: &[u8]) -> bool {
    packet.len() <= 2
        || for_each_opus_frame(packet, |fr| fr.is_empty() || fr == [0xFF, 0xFE]).unwrap_or(false)
}

/// Rewrite one RFC 6716 Opus packet for the MLow profile (PT 120) into `out`; returns the length
/// written. DTX and canonical silence become the SID token; CELT packets get the escape header
/// (codes 1 and 2 gain a frame-count byte); SILK and Hybrid packets are refused.
pub fn opus_to_mlow_escape(opus: &[u8], out: &mut [u8]) -> Result<usize, EscapeError> {
    let &toc = opus.first().ok_or(EscapeError::Empty)?;
    if is_opus_silence(opus) {
        *out.first_mut().ok_or(EscapeError::BufferTooSmall)? = MLOW_SID_TOKEN;
        return Ok(1);
    }
    let config = toc >> 3;
    if config < 16 {
        return Err(EscapeError::NotCelt);
    }
    for_each_opus_frame(opus, |_| true).ok_or(EscapeError::FramePacking)?;
    let code = toc & 3;
    let inserted = match code {
        1 => Some(0x02u8),
        2 => Some(0x82u8),
        _ => None,
    };
    let total = opus.len() + usize::from(inserted.is_some());
    let out = out.get_mut(..total).ok_or(EscapeError::BufferTooSmall)?;
    out[0] = 0xC0 | (config - 16) << 2 | ((toc >> 2) & 1) << 1 | u8::from(code != 0);
    match inserted {
        Some(desc) => {
            out[1] = desc;
            out[2..].copy_from_slice(&opus[1..]);
        }
        None => out[1..].copy_from_slice(&opus[1..]),
    }
    Ok(total)
}

/// Restore the RFC 6716 TOC of an MLow escape payload in place (the reverse rewrite). A `multi`
/// escape becomes a code-3 packet, whose frame-count byte follows.
pub fn mlow_escape_to_opus(payload: &mut [u8]) -> Result<(), EscapeError> {
    let &b = payload.first().ok_or(EscapeError::Empty)?;
    if b & 0xC0 != 0xC0 {
        return Err(EscapeError::NotEscape);
    }
    let multi = b & 1 != 0;
    if multi && !payload.get(1).is_some_and(|&d| valid_count_byte(d)) {
        return Err(EscapeError::FramePacking);
    }
    let config = 16 + ((b >> 2) & 0x0F);
    payload[0] = config << 3 | ((b >> 1) & 1) << 2 | if multi { 3 } else { 0 };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_examples() {
        // RFC code-3 CELT FB 20 ms (config 23) with one frame: 0xBB <-> 0xDD.
        let opus = [0xBB, 0x01, 0xAA, 0xBB, 0xCC];
        let mut out = [0u8; 8];
        let n = opus_to_mlow_escape(&opus, &mut out).unwrap();
        assert_eq!(&out[..n], &[0xDD, 0x01, 0xAA, 0xBB, 0xCC]);
        mlow_escape_to_opus(&mut out[..n]).unwrap();
        assert_eq!(&out[..n], &opus);
        // Code 0, config 31 stereo: 0xFC -> 0xC0 | 15<<2 | 1<<1 = 0xFE.
        let n = opus_to_mlow_escape(&[0xFC, 1, 2, 3], &mut out).unwrap();
        assert_eq!(&out[..n], &[0xFE, 1, 2, 3]);
        // Code 1 gains a CBR count byte for two frames.
        let n = opus_to_mlow_escape(&[0xB9, 1, 2, 3, 4], &mut out).unwrap();
        assert_eq!(&out[..n], &[0xDD, 0x02, 1, 2, 3, 4]);
        // Code 2 gains a VBR count byte; the length byte stays as code 3's first length.
        let n = opus_to_mlow_escape(&[0xBA, 1, 9, 3, 4], &mut out).unwrap();
        assert_eq!(&out[..n], &[0xDD, 0x82, 1, 9, 3, 4]);
        // DTX and silence become the SID token; SILK is refused.
        assert_eq!(opus_to_mlow_escape(&[0xF8], &mut out), Ok(1));
        assert_eq!(out[0], MLOW_SID_TOKEN);
        assert_eq!(opus_to_mlow_escape(&[0xB8, 0xFF, 0xFE], &mut out), Ok(1));
        assert_eq!(
            opus_to_mlow_escape(&[0x08, 1, 2, 3], &mut out),
            Err(EscapeError::NotCelt)
        );
        assert_eq!(
            mlow_escape_to_opus(&mut [0x50, 1]),
            Err(EscapeError::NotEscape)
        );
    }

    #[test]
    fn toc_fields_and_routes() {
        let t = Toc(0x50);
        assert_eq!(t.class(), FrameClass::Active);
        assert_eq!((t.packet_ms(), t.internal_rate_hz()), (60, 16_000));
        assert_eq!(Toc(0x58).packet_ms(), 120);
        assert!(Toc(0x12).coded_as_active_voice() && !Toc(0x12).fec());
        assert_eq!(route(PT_MLOW, &[0xDD]), Route::OpusEscape);
        assert_eq!(route(PT_MLOW_SPLIT_RED, &[0xDD]), Route::SplitRed);
        assert_eq!(route(PT_MLOW, &[]), Route::Empty);
        assert_eq!(route(PT_MLOW, &[0x90]), Route::MLow(Toc(0x90)));
        assert!(is_mlow_sid_token(&[0x90]) && !is_mlow_sid_token(&[0x90, 0]));
    }
}
