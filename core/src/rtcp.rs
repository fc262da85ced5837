//! RTCP: WhatsApp's sender report, receiver report and SDES builders, a compound-packet parser,
//! and RFC 3550 receiver statistics.
//!
//! WhatsApp's native 1:1 report block is the RFC 3550 24-byte block followed by 24 bytes of
//! transport/bandwidth statistics; zero is the "unavailable" value, which is what
//! [`ReportBlock::emit_wa`] writes. The parser recognises a block stride of 48 when the report
//! area is exactly 48 bytes per block, otherwise it reads 24-byte blocks and leaves the rest as
//! a profile-specific extension. The native video profile also sets bit 4 of the first byte on
//! top of the 4-bit count ([`Flags::profile_extension`]).
//!
//! The periodic packet is an SR (with one block once something was received) followed by an
//! SDES with an 18-byte CNAME shaped `xxxxx@pjxxxxxx.org`; [`wa_cname`] makes one.
//! The compact reports PT 208 / 209 have builders but no known sender.

use crate::time::Instant;

/// Length of the RTCP common header plus the sender SSRC.
pub const HEADER_LEN: usize = 8;
/// Length of an RFC 3550 report block.
pub const REPORT_BLOCK_LEN: usize = 24;
/// Length of WhatsApp's extension after each report block.
pub const WA_BLOCK_EXTENSION_LEN: usize = 24;
/// Length of the sender-info part of an SR.
pub const SENDER_INFO_LEN: usize = 20;
/// Length of WhatsApp's CNAME.
pub const WA_CNAME_LEN: usize = 18;
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// Sender report.
pub const PT_SR: u8 = 200;
/// Receiver report.
pub const PT_RR: u8 = 201;
/// Source description.
pub const PT_SDES: u8 = 202;
/// Goodbye.
pub const PT_BYE: u8 = 203;
/// Transport-layer feedback (NACK).
pub const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (PLI, FIR).
pub const PT_PSFB: u8 = 206;
/// WhatsApp compact report binding local and remote SSRC.
pub const PT_WA_COMPACT: u8 = 208;
/// WhatsApp compact report with the local SSRC only.
pub const PT_WA_COMPACT_LOCAL: u8 = 209;

/// Why an RTCP packet was rejected or could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than a header, or than its length field says.
    Truncated,
    /// Version is not 2.
    Version,
    /// Payload type outside 192..=223.
    PayloadType,
    /// The padding count is zero or larger than the packet body.
    Padding,
    /// Report blocks do not fit the packet.
    ReportBlocks,
    /// An SDES chunk or item is malformed.
    Sdes,
    /// A feedback packet has no media SSRC.
    Feedback,
    /// Emit: the caller's buffer is too small, or too many blocks.
    BufferTooSmall,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "rtcp: truncated",
            Error::Version => "rtcp: version is not 2",
            Error::PayloadType => "rtcp: payload type outside 192..=223",
            Error::Padding => "rtcp: bad padding",
            Error::ReportBlocks => "rtcp: report blocks do not fit",
            Error::Sdes => "rtcp: malformed SDES",
            Error::Feedback => "rtcp: feedback too short",
            Error::BufferTooSmall => "rtcp: buffer too small",
        })
    }
}

impl core::error::Error for Error {}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A 64-bit NTP timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTime {
    /// Seconds since 1900, modulo 2³².
    pub seconds: u32,
    /// Fraction of a second in units of 2⁻³² s.
    pub fraction: u32,
}

impl NtpTime {
    /// From wall-clock Unix milliseconds (the host's, passed in).
    pub fn from_unix_millis(ms: u64) -> Self {
        NtpTime {
            // Truncation is the NTP era wrap.
            seconds: (ms / 1000).wrapping_add(NTP_UNIX_OFFSET_SECS) as u32,
            fraction: (((ms % 1000) << 32) / 1000) as u32,
        }
    }

    /// The middle 32 bits, as used by LSR.
    pub fn middle32(self) -> u32 {
        (self.seconds << 16) | (self.fraction >> 16)
    }
}

/// First-byte flags beyond version and count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags {
    /// WhatsApp's native video profile bit (bit 4 of the count field).
    pub profile_extension: bool,
}

/// One reception report block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter in RTP clock units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP time (0 if none).
    pub last_sr: u32,
    /// Delay since that SR in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Read a block from its first 24 bytes.
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        if b.len() < REPORT_BLOCK_LEN {
            return Err(Error::ReportBlocks);
        }
        let raw = u32::from_be_bytes([0, b[5], b[6], b[7]]);
        // Sign-extend the 24-bit field.
        let cumulative_lost = ((raw << 8) as i32) >> 8;
        Ok(ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            cumulative_lost,
            highest_sequence: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        })
    }

    /// Write the 24-byte RFC block. The cumulative loss is clamped to 24 bits.
    pub fn emit(&self, out: &mut [u8; REPORT_BLOCK_LEN]) {
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4] = self.fraction_lost;
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32;
        out[5..8].copy_from_slice(&lost.to_be_bytes()[1..]);
        out[8..12].copy_from_slice(&self.highest_sequence.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    /// Write WhatsApp's 48-byte form: the RFC block and 24 zero bytes.
    pub fn emit_wa(&self, out: &mut [u8; REPORT_BLOCK_LEN + WA_BLOCK_EXTENSION_LEN]) {
        let (rfc, ext) = out.split_at_mut(REPORT_BLOCK_LEN);
        // The split is exactly REPORT_BLOCK_LEN long.
        if let Ok(rfc) = <&mut [u8; REPORT_BLOCK_LEN]>::try_from(rfc) {
            self.emit(rfc);
        }
        ext.fill(0);
    }
}

/// The sender-info part of an SR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock send time.
    pub ntp: NtpTime,
    /// The same instant in the stream's RTP clock.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the start.
    pub packet_count: u32,
    /// Payload octets sent since the start.
    pub octet_count: u32,
}

/// Zero-copy iterator over report blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportBlocks<'a> {
    area: &'a [u8],
    stride: usize,
}

impl<'a> ReportBlocks<'a> {
    /// Bytes per block on the wire: 24, or 48 with WhatsApp's extension.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Number of blocks left.
    pub fn block_count(&self) -> usize {
        self.area.len() / self.stride
    }

    /// The WhatsApp extension bytes of each block (empty slices for 24-byte blocks).
    pub fn extensions(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let stride = self.stride;
        self.area
            .chunks_exact(stride)
            .map(|c| &c[REPORT_BLOCK_LEN..])
    }
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        if self.area.len() < self.stride {
            return None;
        }
        let (block, rest) = self.area.split_at(self.stride);
        self.area = rest;
        ReportBlock::parse(block).ok()
    }
}

/// Split the report area after the fixed part: returns (blocks, trailing extension, flags).
fn report_area(raw_count: u8, area: &[u8]) -> Result<(ReportBlocks<'_>, &[u8], Flags), Error> {
    let mut count = usize::from(raw_count);
    let mut flags = Flags::default();
    if count * REPORT_BLOCK_LEN > area.len() && raw_count & 0x10 != 0 {
        count = usize::from(raw_count & 0x0F);
        flags.profile_extension = true;
    }
    let wide = REPORT_BLOCK_LEN + WA_BLOCK_EXTENSION_LEN;
    let stride = if count > 0 && area.len() == count * wide {
        wide
    } else {
        REPORT_BLOCK_LEN
    };
    let used = count * stride;
    if used > area.len() {
        return Err(Error::ReportBlocks);
    }
    Ok((
        ReportBlocks {
            area: &area[..used],
            stride,
        },
        &area[used..],
        flags,
    ))
}

/// One SDES item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type (1 = CNAME).
    pub kind: u8,
    /// Item text.
    pub value: &'a [u8],
}

/// Zero-copy iterator over the chunks of a checked SDES packet: (SSRC, items).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdesChunks<'a> {
    rest: &'a [u8],
    left: usize,
}

/// Zero-copy iterator over the items of one SDES chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, tail) = self.rest.split_first()?;
        if kind == 0 {
            self.rest = &[];
            return None;
        }
        let (&len, tail) = tail.split_first()?;
        let value = tail.get(..usize::from(len))?;
        self.rest = &tail[usize::from(len)..];
        Some(SdesItem { kind, value })
    }
}

/// Length of one SDES chunk starting at `b` (SSRC, items, END, padding to 4), if well formed.
fn sdes_chunk_len(b: &[u8]) -> Option<usize> {
    let mut at = 4;
    b.get(..4)?;
    loop {
        let kind = *b.get(at)?;
        at += 1;
        if kind == 0 {
            while at % 4 != 0 {
                if *b.get(at)? != 0 {
                    return None;
                }
                at += 1;
            }
            return Some(at);
        }
        let len = usize::from(*b.get(at)?);
        at += 1 + len;
        b.get(..at)?;
    }
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = (u32, SdesItems<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let n = sdes_chunk_len(self.rest)?;
        let chunk = &self.rest[..n];
        self.rest = &self.rest[n..];
        Some((be32(chunk, 0), SdesItems { rest: &chunk[4..] }))
    }
}

/// One typed RTCP packet out of a compound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Sender report.
    SenderReport {
        /// Sender SSRC.
        ssrc: u32,
        /// Sender info.
        info: SenderInfo,
        /// Report blocks.
        blocks: ReportBlocks<'a>,
        /// Profile-specific extension after the blocks (not WhatsApp's per-block one).
        extension: &'a [u8],
        /// First-byte flags.
        flags: Flags,
    },
    /// Receiver report.
    ReceiverReport {
        /// Reporter SSRC.
        ssrc: u32,
        /// Report blocks.
        blocks: ReportBlocks<'a>,
        /// Profile-specific extension after the blocks.
        extension: &'a [u8],
        /// First-byte flags.
        flags: Flags,
    },
    /// Source description.
    Sdes {
        /// Chunks.
        chunks: SdesChunks<'a>,
        /// First-byte flags.
        flags: Flags,
    },
    /// RTPFB (205) or PSFB (206) feedback.
    Feedback {
        /// 205 or 206.
        packet_type: u8,
        /// Feedback message type (FMT): NACK 1 on RTPFB; PLI 1, FIR 4 on PSFB.
        fmt: u8,
        /// Sender SSRC.
        sender_ssrc: u32,
        /// Media source SSRC.
        media_ssrc: u32,
        /// Feedback control information.
        fci: &'a [u8],
        /// First-byte flags.
        flags: Flags,
    },
    /// WhatsApp compact report (208: local and remote SSRC; 209: local only).
    Compact {
        /// 208 or 209.
        packet_type: u8,
        /// Local SSRC.
        local_ssrc: u32,
        /// Remote SSRC (208 only).
        remote_ssrc: Option<u32>,
    },
    /// Any other packet type in 192..=223, skipped.
    Unknown {
        /// Packet type.
        packet_type: u8,
        /// The whole packet.
        packet: &'a [u8],
    },
}

impl Repr<'_> {
    /// Whether this is a PLI or FIR: the sender wants a video key frame.
    pub fn wants_keyframe(&self) -> bool {
        matches!(
            self,
            Repr::Feedback {
                packet_type: PT_PSFB,
                fmt: 1 | 4,
                ..
            }
        )
    }
}

/// Iterator over the packets of a compound; yields an error and stops at the first bad one.
#[derive(Clone, Debug)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

/// Walk a (decrypted) compound RTCP datagram.
pub fn compound(bytes: &[u8]) -> Compound<'_> {
    Compound { rest: bytes }
}

/// Parse one packet at the start of `b`; returns it and its length.
pub fn parse_one(b: &[u8]) -> Result<(Repr<'_>, usize), Error> {
    if b.len() < 4 {
        return Err(Error::Truncated);
    }
    if b[0] >> 6 != 2 {
        return Err(Error::Version);
    }
    let pt = b[1];
    if !(192..=223).contains(&pt) {
        return Err(Error::PayloadType);
    }
    let total = 4 * (usize::from(u16::from_be_bytes([b[2], b[3]])) + 1);
    let packet = b.get(..total).ok_or(Error::Truncated)?;
    let mut end = total;
    if b[0] & 0x20 != 0 {
        let pad = usize::from(packet[total - 1]);
        if pad == 0 || pad > total - 4 {
            return Err(Error::Padding);
        }
        end -= pad;
    }
    let body = &packet[..end];
    let raw_count = b[0] & 0x1F;
    let need = |n: usize| {
        if body.len() < n {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    };
    let repr = match pt {
        PT_SR => {
            need(HEADER_LEN + SENDER_INFO_LEN)?;
            let (blocks, extension, flags) = report_area(raw_count, &body[28..])?;
            Repr::SenderReport {
                ssrc: be32(body, 4),
                info: SenderInfo {
                    ntp: NtpTime {
                        seconds: be32(body, 8),
                        fraction: be32(body, 12),
                    },
                    rtp_timestamp: be32(body, 16),
                    packet_count: be32(body, 20),
                    octet_count: be32(body, 24),
                },
                blocks,
                extension,
                flags,
            }
        }
        PT_RR => {
            need(HEADER_LEN)?;
            let (blocks, extension, flags) = report_area(raw_count, &body[8..])?;
            Repr::ReceiverReport {
                ssrc: be32(body, 4),
                blocks,
                extension,
                flags,
            }
        }
        PT_SDES => {
            let area = &body[4..];
            let walk = |count: usize| -> Option<()> {
                let mut at = 0;
                for _ in 0..count {
                    at += sdes_chunk_len(area.get(at..)?)?;
                }
                (at == area.len()).then_some(())
            };
            let (count, flags) = if walk(usize::from(raw_count)).is_some() {
                (usize::from(raw_count), Flags::default())
            } else if raw_count & 0x10 != 0 && walk(usize::from(raw_count & 0x0F)).is_some() {
                (
                    usize::from(raw_count & 0x0F),
                    Flags {
                        profile_extension: true,
                    },
                )
            } else {
                return Err(Error::Sdes);
            };
            Repr::Sdes {
                chunks: SdesChunks {
                    rest: area,
                    left: count,
                },
                flags,
            }
        }
        PT_RTPFB | PT_PSFB => {
            if body.len() < 12 {
                return Err(Error::Feedback);
            }
            let profile_extension = raw_count & 0x10 != 0;
            Repr::Feedback {
                packet_type: pt,
                fmt: raw_count & 0x0F,
                sender_ssrc: be32(body, 4),
                media_ssrc: be32(body, 8),
                fci: &body[12..],
                flags: Flags { profile_extension },
            }
        }
        PT_WA_COMPACT if body.len() >= 12 => Repr::Compact {
            packet_type: pt,
            local_ssrc: be32(body, 4),
            remote_ssrc: Some(be32(body, 8)),
        },
        PT_WA_COMPACT_LOCAL if body.len() >= 8 => Repr::Compact {
            packet_type: pt,
            local_ssrc: be32(body, 4),
            remote_ssrc: None,
        },
        _ => Repr::Unknown {
            packet_type: pt,
            packet,
        },
    };
    Ok((repr, total))
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Repr<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match parse_one(self.rest) {
            Ok((repr, n)) => {
                self.rest = &self.rest[n..];
                Some(Ok(repr))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Writes packets one after another into a caller buffer, forming a compound.
#[derive(Debug)]
pub struct CompoundWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> CompoundWriter<'b> {
    /// Start writing at the beginning of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        CompoundWriter { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn take(&mut self, n: usize) -> Result<&mut [u8], Error> {
        let out = self
            .buf
            .get_mut(self.len..self.len + n)
            .ok_or(Error::BufferTooSmall)?;
        self.len += n;
        Ok(out)
    }

    fn header(out: &mut [u8], count: u8, flags: Flags, pt: u8) {
        out[0] = 0x80 | count | if flags.profile_extension { 0x10 } else { 0 };
        out[1] = pt;
        // Every packet built here is far below 2^18 bytes.
        let words = (out.len() / 4 - 1) as u16;
        out[2..4].copy_from_slice(&words.to_be_bytes());
    }

    fn blocks(out: &mut [u8], blocks: &[ReportBlock], wa_extension: bool) {
        let stride = if wa_extension { 48 } else { 24 };
        for (b, slot) in blocks.iter().zip(out.chunks_exact_mut(stride)) {
            if let Ok(rfc) = <&mut [u8; REPORT_BLOCK_LEN]>::try_from(&mut slot[..24]) {
                b.emit(rfc);
            }
            slot[24..].fill(0);
        }
    }

    /// A sender report with up to 15 blocks; `wa_extension` appends WhatsApp's 24 zero bytes to
    /// each block.
    pub fn sender_report(
        &mut self,
        ssrc: u32,
        info: &SenderInfo,
        blocks: &[ReportBlock],
        wa_extension: bool,
        flags: Flags,
    ) -> Result<&mut Self, Error> {
        if blocks.len() > 15 {
            return Err(Error::BufferTooSmall);
        }
        let stride = if wa_extension { 48 } else { 24 };
        let out = self.take(28 + stride * blocks.len())?;
        Self::header(out, blocks.len() as u8, flags, PT_SR);
        out[4..8].copy_from_slice(&ssrc.to_be_bytes());
        out[8..12].copy_from_slice(&info.ntp.seconds.to_be_bytes());
        out[12..16].copy_from_slice(&info.ntp.fraction.to_be_bytes());
        out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
        out[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
        out[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
        Self::blocks(&mut out[28..], blocks, wa_extension);
        Ok(self)
    }

    /// A receiver report with up to 15 blocks.
    pub fn receiver_report(
        &mut self,
        ssrc: u32,
        blocks: &[ReportBlock],
        wa_extension: bool,
        flags: Flags,
    ) -> Result<&mut Self, Error> {
        if blocks.len() > 15 {
            return Err(Error::BufferTooSmall);
        }
        let stride = if wa_extension { 48 } else { 24 };
        let out = self.take(8 + stride * blocks.len())?;
        Self::header(out, blocks.len() as u8, flags, PT_RR);
        out[4..8].copy_from_slice(&ssrc.to_be_bytes());
        Self::blocks(&mut out[8..], blocks, wa_extension);
        Ok(self)
    }

    /// An SDES with one chunk: `ssrc` and, if given, a CNAME item (at most 255 bytes).
    pub fn sdes(
        &mut self,
        ssrc: u32,
        cname: Option<&[u8]>,
        flags: Flags,
    ) -> Result<&mut Self, Error> {
        let item = cname.map_or(0, |c| 2 + c.len());
        if cname.is_some_and(|c| c.len() > 255) {
            return Err(Error::Sdes);
        }
        // Chunk: SSRC, item, END byte, zero padding to a word.
        let chunk = (4 + item + 1).div_ceil(4) * 4;
        let out = self.take(4 + chunk)?;
        Self::header(out, 1, flags, PT_SDES);
        out[4..8].copy_from_slice(&ssrc.to_be_bytes());
        out[8..].fill(0);
        if let Some(c) = cname {
            out[8] = 1;
            out[9] = c.len() as u8;
            out[10..10 + c.len()].copy_from_slice(c);
        }
        Ok(self)
    }

    /// A WhatsApp compact report: PT 208 with `remote_ssrc`, PT 209 without.
    pub fn compact(
        &mut self,
        local_ssrc: u32,
        remote_ssrc: Option<u32>,
    ) -> Result<&mut Self, Error> {
        let (pt, n) = match remote_ssrc {
            Some(_) => (PT_WA_COMPACT, 12),
            None => (PT_WA_COMPACT_LOCAL, 8),
        };
        let out = self.take(n)?;
        Self::header(out, 1, Flags::default(), pt);
        out[4..8].copy_from_slice(&local_ssrc.to_be_bytes());
        if let Some(r) = remote_ssrc {
            out[8..12].copy_from_slice(&r.to_be_bytes());
        }
        Ok(self)
    }

    /// Finish: the compound length.
    pub fn finish(self) -> usize {
        self.len
    }
}

/// WhatsApp's CNAME from six random bytes: their first eleven hex nibbles, laid out as
/// `xxxxx@pjxxxxxx.org`.
pub fn wa_cname(random: [u8; 6]) -> [u8; WA_CNAME_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let nibble = |i: usize| {
        let b = random[i / 2];
        HEX[usize::from(if i.is_multiple_of(2) {
            b >> 4
        } else {
            b & 0x0F
        })]
    };
    let mut out = *b"00000@pj000000.org";
    let slots = (0..5).chain(8..14);
    for (i, slot) in slots.enumerate() {
        out[slot] = nibble(i);
    }
    out
}

/// RFC 3550 receiver statistics for one remote source (A.1 sequence tracking, A.3 loss, A.8
/// jitter, §6.4.1 LSR/DLSR), fed arrival times as [`Instant`].
///
/// A packet from a new SSRC restarts the statistics. A sequence jump of more than
/// [`ReceiverStats::MAX_DROPOUT`] is only believed when the next packet continues it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiverStats {
    clock_rate_hz: u32,
    source: Option<Source>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Source {
    ssrc: u32,
    base_seq: u16,
    max_seq: u16,
    cycles: u32,
    bad_seq: Option<u16>,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<u32>,
    jitter_q4: u32,
    last_sr: Option<(u32, Instant)>,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        Source {
            ssrc,
            base_seq: seq,
            max_seq: seq,
            cycles: 0,
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_q4: 0,
            last_sr: None,
        }
    }

    fn extended_max(&self) -> u32 {
        self.cycles | u32::from(self.max_seq)
    }

    fn expected(&self) -> u32 {
        self.extended_max()
            .wrapping_sub(u32::from(self.base_seq))
            .wrapping_add(1)
    }
}

impl ReceiverStats {
    /// Largest forward sequence jump taken as ordinary loss.
    pub const MAX_DROPOUT: u16 = 3000;
    /// Largest backward step taken as reordering.
    pub const MAX_MISORDER: u16 = 100;

    /// Statistics for a stream with an RTP clock of `clock_rate_hz` (16000 for MLow).
    pub fn new(clock_rate_hz: u32) -> Self {
        ReceiverStats {
            clock_rate_hz,
            source: None,
        }
    }

    /// The source being tracked.
    pub fn ssrc(&self) -> Option<u32> {
        self.source.as_ref().map(|s| s.ssrc)
    }

    /// Account one received RTP packet (after authentication).
    pub fn on_rtp(&mut self, now: Instant, ssrc: u32, sequence: u16, rtp_timestamp: u32) {
        let src = match &mut self.source {
            Some(s) if s.ssrc == ssrc => s,
            slot => slot.insert(Source::new(ssrc, sequence)),
        };
        let delta = sequence.wrapping_sub(src.max_seq);
        if src.received == 0 {
            // First packet: base and max already set.
        } else if delta < Self::MAX_DROPOUT {
            if sequence < src.max_seq {
                src.cycles = src.cycles.wrapping_add(1 << 16);
            }
            src.max_seq = sequence;
        } else if delta <= u16::MAX - Self::MAX_MISORDER {
            // A big jump: believe it only when the next packet follows it.
            if src.bad_seq == Some(sequence) {
                *src = Source::new(ssrc, sequence);
            } else {
                src.bad_seq = Some(sequence.wrapping_add(1));
                return;
            }
        }
        // Otherwise a duplicate or reordered packet: counted, max unchanged.
        src.bad_seq = None;
        src.received = src.received.wrapping_add(1);

        let arrival =
            (u128::from(now.total_micros()) * u128::from(self.clock_rate_hz) / 1_000_000) as u32;
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(prev) = src.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            src.jitter_q4 = src
                .jitter_q4
                .wrapping_add(d)
                .wrapping_sub((src.jitter_q4 + 8) >> 4);
        }
        src.transit = Some(transit);
    }

    /// Note a sender report from the tracked source, received at `now`.
    pub fn on_sender_report(&mut self, now: Instant, ssrc: u32, ntp: NtpTime) {
        if let Some(s) = &mut self.source
            && s.ssrc == ssrc
        {
            s.last_sr = Some((ntp.middle32(), now));
        }
    }

    /// The report block for the tracked source at `now`; starts a new loss interval.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let s = self.source.as_mut()?;
        let expected = s.expected();
        let expected_interval = expected.wrapping_sub(s.expected_prior);
        let received_interval = s.received.wrapping_sub(s.received_prior);
        s.expected_prior = expected;
        s.received_prior = s.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let cumulative_lost =
            (i64::from(expected) - i64::from(s.received)).clamp(-0x80_0000, 0x7F_FFFF) as i32;
        let (last_sr, delay_since_last_sr) = match s.last_sr {
            Some((lsr, at)) => {
                let micros = now.saturating_since(at).total_micros();
                let dlsr = (u128::from(micros) * 65_536 / 1_000_000).min(u128::from(u32::MAX));
                (lsr, dlsr as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: s.ssrc,
            fraction_lost,
            cumulative_lost,
            highest_sequence: s.extended_max(),
            jitter: s.jitter_q4 >> 4,
            last_sr,
            delay_since_last_sr,
        })
    }
}

/// Known-answer checks against the `rtcp` group of the shared `voip/kats.json`.
#[cfg(feature = "kat")]
pub mod kat {
    use super::*;
    use crate::kat::{Failure, Vectors, expect_eq, hex, int};

    /// The bare SR and both compact reports built and parsed back.
    pub fn builders(v: &dyn Vectors) -> Result<(), Failure> {
        let ssrc = int(v, "inputs.ssrc")? as u32;
        let remote = int(v, "rtcp.remoteSsrc")? as u32;
        let now_ms = int(v, "rtcp.nowMs")? as u64;
        let info = SenderInfo {
            ntp: NtpTime::from_unix_millis(now_ms),
            rtp_timestamp: int(v, "rtcp.stats.rtpTimestamp")? as u32,
            packet_count: int(v, "rtcp.stats.packetsSent")? as u32,
            octet_count: int(v, "rtcp.stats.octetsSent")? as u32,
        };
        let mut buf = [0u8; 64];
        let mut w = CompoundWriter::new(&mut buf);
        w.sender_report(ssrc, &info, &[], true, Flags::default())
            .map_err(|_| Failure::new("rtcp.senderReport", "rejected"))?;
        let n = w.finish();
        let want = hex(v, "rtcp.senderReport")?;
        expect_eq("rtcp.senderReport", &buf[..n], &want[..])?;
        match parse_one(&want) {
            Ok((
                Repr::SenderReport {
                    ssrc: s,
                    info: i,
                    blocks,
                    ..
                },
                28,
            )) => expect_eq(
                "rtcp.senderReport",
                &(s, i, blocks.block_count()),
                &(ssrc, info, 0),
            )?,
            _ => return Err(Failure::new("rtcp.senderReport", "rejected")),
        }

        for (name, remote) in [("rtcp.compact208", Some(remote)), ("rtcp.compact209", None)] {
            let mut w = CompoundWriter::new(&mut buf);
            w.compact(ssrc, remote)
                .map_err(|_| Failure::new(name, "rejected"))?;
            let n = w.finish();
            let want = hex(v, name)?;
            expect_eq(name, &buf[..n], &want[..])?;
            match parse_one(&want) {
                Ok((
                    Repr::Compact {
                        local_ssrc,
                        remote_ssrc,
                        ..
                    },
                    _,
                )) => expect_eq(name, &(local_ssrc, remote_ssrc), &(ssrc, remote))?,
                _ => return Err(Failure::new(name, "rejected")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> alloc::vec::Vec<u8> {
        crate::kat::decode_hex(s).unwrap()
    }

    const SSRC: u32 = 0x1234_5678;

    #[test]
    fn cname_and_sdes_match_the_native_shape() {
        let cname = wa_cname([0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB]);
        assert_eq!(&cname, b"66778@pj899aab.org");
        let mut buf = [0u8; 64];
        let mut w = CompoundWriter::new(&mut buf);
        w.sdes(SSRC, Some(&cname), Flags::default()).unwrap();
        let n = w.finish();
        assert_eq!(
            &buf[..n],
            &h("81ca0007123456780112363637373840706a3839396161622e6f726700000000")[..]
        );
        let mut w = CompoundWriter::new(&mut buf);
        w.sdes(SSRC, None, Flags::default()).unwrap();
        let n = w.finish();
        assert_eq!(&buf[..n], &h("81ca00021234567800000000")[..]);
    }

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 25,
            cumulative_lost: -2,
            highest_sequence: 0x0001_0005,
            jitter: 19,
            last_sr: 0x0002_0003,
            delay_since_last_sr: 98_304,
        }
    }

    #[test]
    fn native_sr_with_block_and_sdes_is_108_bytes_and_parses_back() {
        let info = SenderInfo {
            ntp: NtpTime::from_unix_millis(1_718_000_000_250),
            rtp_timestamp: 1600,
            packet_count: 5,
            octet_count: 600,
        };
        assert_eq!(info.ntp.fraction, 1 << 30);
        let flags = Flags {
            profile_extension: true,
        };
        let mut buf = [0u8; 128];
        let mut w = CompoundWriter::new(&mut buf);
        w.sender_report(SSRC, &info, &[block(7)], true, flags)
            .unwrap()
            .sdes(SSRC, Some(b"66778@pj899aab.org"), flags)
            .unwrap();
        let n = w.finish();
        assert_eq!(n, 108);
        assert_eq!(&buf[..4], &[0x91, 200, 0, 18]);
        let mut packets = compound(&buf[..n]);
        match packets.next() {
            Some(Ok(Repr::SenderReport {
                ssrc,
                info: i,
                blocks,
                extension,
                flags: f,
            })) => {
                assert_eq!((ssrc, i, extension, f), (SSRC, info, &[][..], flags));
                assert_eq!(blocks.stride(), 48);
                assert!(blocks.extensions().all(|e| e == [0u8; 24]));
                assert_eq!(blocks.collect::<alloc::vec::Vec<_>>(), [block(7)]);
            }
            other => panic!("{other:?}"),
        }
        match packets.next() {
            Some(Ok(Repr::Sdes {
                mut chunks,
                flags: f,
            })) => {
                assert_eq!(f, flags);
                let (ssrc, mut items) = chunks.next().unwrap();
                assert_eq!(ssrc, SSRC);
                assert_eq!(
                    items.next(),
                    Some(SdesItem {
                        kind: 1,
                        value: b"66778@pj899aab.org"
                    })
                );
                assert_eq!(items.next(), None);
            }
            other => panic!("{other:?}"),
        }
        assert!(packets.next().is_none());
    }

    #[test]
    fn rfc_blocks_feedback_and_unknown_packets() {
        let mut buf = [0u8; 128];
        let mut w = CompoundWriter::new(&mut buf);
        w.receiver_report(SSRC, &[block(1), block(2)], false, Flags::default())
            .unwrap();
        let mut n = w.finish();
        assert_eq!(&buf[..4], &[0x82, 201, 0, 13]);
        // PLI (PSFB FMT 1), then a BYE the parser skips.
        let tail = h("81ce0002123456789abcdef081cb000112345678");
        buf[n..n + tail.len()].copy_from_slice(&tail);
        n += tail.len();
        let got: alloc::vec::Vec<_> = compound(&buf[..n]).collect();
        assert_eq!(got.len(), 3);
        match &got[0] {
            Ok(Repr::ReceiverReport { blocks, .. }) => {
                assert_eq!(blocks.stride(), 24);
                assert_eq!(
                    blocks.clone().collect::<alloc::vec::Vec<_>>(),
                    [block(1), block(2)]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(got[1].as_ref().unwrap().wants_keyframe());
        assert!(matches!(
            got[2],
            Ok(Repr::Unknown {
                packet_type: PT_BYE,
                ..
            })
        ));
        // A length running past the datagram is an error, and iteration stops.
        let bad = h("80c8000612345678");
        let mut it = compound(&bad);
        assert_eq!(it.next(), Some(Err(Error::Truncated)));
        assert_eq!(it.next(), None);
    }

    fn ms(m: u64) -> Instant {
        Instant::from_millis(m)
    }

    #[test]
    fn loss_counts_and_fraction_follow_rfc3550_a3() {
        let mut s = ReceiverStats::new(16_000);
        for seq in (0u16..10).filter(|&q| q != 5) {
            s.on_rtp(ms(20 * u64::from(seq)), SSRC, seq, 320 * u32::from(seq));
        }
        let r = s.report_block(ms(200)).unwrap();
        // expected 10, received 9: 1 lost, 256 * 1 / 10 = 25.
        assert_eq!(
            (
                r.cumulative_lost,
                r.fraction_lost,
                r.highest_sequence,
                r.jitter
            ),
            (1, 25, 9, 0)
        );
        // The next interval has no loss, the cumulative count stays.
        for seq in 10u16..14 {
            s.on_rtp(ms(20 * u64::from(seq)), SSRC, seq, 320 * u32::from(seq));
        }
        let r = s.report_block(ms(300)).unwrap();
        assert_eq!((r.cumulative_lost, r.fraction_lost), (1, 0));
    }

    #[test]
    fn jitter_follows_rfc3550_a8_by_hand() {
        let mut s = ReceiverStats::new(16_000);
        s.on_rtp(ms(0), SSRC, 0, 0);
        // 10 ms late: D = 160 units, J = 160/16 = 10.
        s.on_rtp(ms(30), SSRC, 1, 320);
        assert_eq!(s.report_block(ms(30)).unwrap().jitter, 10);
        // Back on time: |D| = 160, J = 10 + (160 - 10)/16 = 19.375.
        s.on_rtp(ms(40), SSRC, 2, 640);
        assert_eq!(s.report_block(ms(40)).unwrap().jitter, 19);
    }

    #[test]
    fn sequence_wrap_and_large_jumps() {
        let mut s = ReceiverStats::new(16_000);
        for (i, seq) in [65534u16, 65535, 0, 1].into_iter().enumerate() {
            s.on_rtp(ms(20 * i as u64), SSRC, seq, 320 * i as u32);
        }
        let r = s.report_block(ms(100)).unwrap();
        assert_eq!((r.highest_sequence, r.cumulative_lost), (0x0001_0001, 0));

        let mut s = ReceiverStats::new(16_000);
        s.on_rtp(ms(0), SSRC, 0, 0);
        s.on_rtp(ms(20), SSRC, 1, 320);
        // A lone jump is not believed...
        s.on_rtp(ms(40), SSRC, 10_000, 640);
        assert_eq!(s.report_block(ms(40)).unwrap().highest_sequence, 1);
        // ...until the next packet continues it: the source restarts there.
        s.on_rtp(ms(60), SSRC, 10_001, 960);
        let r = s.report_block(ms(60)).unwrap();
        assert_eq!((r.highest_sequence, r.cumulative_lost), (10_001, 0));
        // A new SSRC restarts everything.
        s.on_rtp(ms(80), 99, 5, 0);
        assert_eq!(s.ssrc(), Some(99));
    }

    #[test]
    fn lsr_and_dlsr() {
        let mut s = ReceiverStats::new(16_000);
        assert_eq!(s.report_block(ms(0)), None);
        s.on_rtp(ms(0), SSRC, 0, 0);
        let ntp = NtpTime {
            seconds: 0x0001_0002,
            fraction: 0x0003_0000,
        };
        // A report from another source is ignored.
        s.on_sender_report(ms(1000), 7, ntp);
        assert_eq!(s.report_block(ms(1000)).unwrap().last_sr, 0);
        s.on_sender_report(ms(1000), SSRC, ntp);
        let r = s.report_block(ms(2500)).unwrap();
        // 1.5 s in 1/65536 s.
        assert_eq!((r.last_sr, r.delay_since_last_sr), (0x0002_0003, 98_304));
    }
}
