//! RTP as WhatsApp's relays carry it (the "WARP" header forms).
//!
//! Every WhatsApp RTP packet sets the extension bit (first byte `0x90`) and carries a header
//! extension under the profile `0xDEBE`, even when it is empty. Three forms occur:
//!
//! | form   | length | extension words                                      |
//! | ------ | ------ | ---------------------------------------------------- |
//! | speech | 16     | none                                                 |
//! | DTX    | 20     | `30 01 00 00` (element id 3, one byte `01`)           |
//! | video  | 28     | three words of one-byte elements (ids 3, 5, 6, 9)     |
//!
//! The extension words are laid out like RFC 8285 one-byte elements (`id << 4 | len - 1`, data,
//! zero padding); [`Packet::extension_elements`] walks them. Payload types: 120 MLow, 121 MLow
//! SplitRed, 111 Opus (48 kHz clock), 97 video (parsed, never built here).
//!
//! [`AudioSequencer`] numbers an outgoing audio stream: sequence numbers and 16 kHz timestamps
//! that wrap, the DTX header form for DTX/SID payloads and the marker on speech onset.

use crate::payload;

/// Length of the fixed RTP header (RFC 3550 §5.1), before CSRCs and extension.
pub const FIXED_HEADER_LEN: usize = 12;
/// Length of a WhatsApp speech header: fixed header plus an empty `0xDEBE` extension.
pub const SPEECH_HEADER_LEN: usize = 16;
/// Length of a WhatsApp DTX header: fixed header plus the one-word DTX extension.
pub const DTX_HEADER_LEN: usize = 20;
/// Length of a WhatsApp video header: fixed header plus a three-word extension.
pub const VIDEO_HEADER_LEN: usize = 28;
/// WhatsApp's header-extension profile identifier.
pub const WA_EXTENSION_PROFILE: u16 = 0xDEBE;
/// The one extension word a DTX packet carries (element id 3 with the byte `01`).
pub const DTX_EXTENSION_WORD: [u8; 4] = [0x30, 0x01, 0x00, 0x00];
/// Largest extension this module emits or accepts in a [`Repr`], in 32-bit words.
pub const MAX_EXTENSION_WORDS: usize = 16;

/// Payload type of plain MLow audio (16 kHz clock).
pub const PT_MLOW: u8 = 120;
/// Payload type of MLow wrapped in SplitRed redundancy (16 kHz clock).
pub const PT_MLOW_SPLIT_RED: u8 = 121;
/// Payload type of RFC 7587 Opus audio (48 kHz clock).
pub const PT_OPUS: u8 = 111;
/// Payload type of H.264 video (parsed only).
pub const PT_VIDEO: u8 = 97;

/// Why an RTP packet was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than the header it announces.
    Truncated,
    /// Version field is not 2.
    Version,
    /// The padding count is zero or runs into the header.
    Padding,
    /// The extension is longer than [`MAX_EXTENSION_WORDS`] or not whole words (emit side).
    Extension,
    /// The caller's buffer is too small for the packet.
    BufferTooSmall,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "rtp: truncated",
            Error::Version => "rtp: version is not 2",
            Error::Padding => "rtp: bad padding",
            Error::Extension => "rtp: bad header extension",
            Error::BufferTooSmall => "rtp: buffer too small",
        })
    }
}

impl core::error::Error for Error {}

/// A zero-copy view of an RTP packet.
///
/// After [`Packet::new_checked`] (or [`Packet::check_len`]) succeeds, no accessor can panic.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checking it; call [`Packet::check_len`] before any accessor.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap a buffer and check that every length it announces fits.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// Check version, header, CSRC list, extension and padding lengths against the buffer.
    pub fn check_len(&self) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        if b.len() < FIXED_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[0] >> 6 != 2 {
            return Err(Error::Version);
        }
        let mut header = FIXED_HEADER_LEN + 4 * usize::from(b[0] & 0x0F);
        if b[0] & 0x10 != 0 {
            if b.len() < header + 4 {
                return Err(Error::Truncated);
            }
            header += 4 + 4 * usize::from(be16(b, header + 2));
        }
        if b.len() < header {
            return Err(Error::Truncated);
        }
        if b[0] & 0x20 != 0 {
            let pad = usize::from(b[b.len() - 1]);
            if pad == 0 || b.len() - header < pad {
                return Err(Error::Padding);
            }
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// RTP version (2 for every accepted packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 6
    }

    /// Padding bit.
    pub fn has_padding(&self) -> bool {
        self.buffer.as_ref()[0] & 0x20 != 0
    }

    /// Extension bit (set on every WhatsApp packet).
    pub fn has_extension(&self) -> bool {
        self.buffer.as_ref()[0] & 0x10 != 0
    }

    /// Number of CSRC entries.
    pub fn csrc_count(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x0F
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.buffer.as_ref()[1] & 0x80 != 0
    }

    /// Payload type (7 bits).
    pub fn payload_type(&self) -> u8 {
        self.buffer.as_ref()[1] & 0x7F
    }

    /// Sequence number.
    pub fn sequence_number(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// Timestamp, in the payload type's clock units.
    pub fn timestamp(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> u32 {
        be32(self.buffer.as_ref(), 8)
    }

    fn extension_at(&self) -> usize {
        FIXED_HEADER_LEN + 4 * usize::from(self.csrc_count())
    }

    /// The extension profile, when the extension bit is set.
    pub fn extension_profile(&self) -> Option<u16> {
        self.has_extension()
            .then(|| be16(self.buffer.as_ref(), self.extension_at()))
    }

    /// The extension words (without their 4-byte profile/length header); empty when absent.
    pub fn extension(&self) -> &[u8] {
        if !self.has_extension() {
            return &[];
        }
        let at = self.extension_at() + 4;
        &self.buffer.as_ref()[at..self.header_len()]
    }

    /// The one-byte-form elements of the extension (id, data); stops at the first malformed one.
    pub fn extension_elements(&self) -> ExtensionElements<'_> {
        ExtensionElements {
            rest: self.extension(),
        }
    }

    /// Total header length: fixed header, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        let at = self.extension_at();
        if self.has_extension() {
            at + 4 + 4 * usize::from(be16(self.buffer.as_ref(), at + 2))
        } else {
            at
        }
    }

    /// Number of padding bytes at the end (0 without the padding bit).
    pub fn padding_len(&self) -> usize {
        let b = self.buffer.as_ref();
        if self.has_padding() {
            usize::from(b[b.len() - 1])
        } else {
            0
        }
    }

    /// The payload: after the header, before any padding. Under SRTP this includes the auth tag.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[self.header_len()..b.len() - self.padding_len()]
    }

    /// Which WhatsApp header form this is (see the module docs).
    pub fn form(&self) -> HeaderForm {
        classify_extension(self.extension_profile(), self.extension())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// The payload, mutably (for in-place SRTP).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = self.buffer.as_ref().len() - self.padding_len();
        &mut self.buffer.as_mut()[start..end]
    }
}

/// Which WhatsApp header form a packet uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderForm {
    /// `0xDEBE` with no words: 16-byte speech header.
    Speech,
    /// `0xDEBE` with exactly the DTX word: 20-byte header.
    Dtx,
    /// `0xDEBE` with other words (video carries three).
    WaExtended,
    /// No extension, or another profile: not a WhatsApp form.
    Foreign,
}

fn classify_extension(profile: Option<u16>, words: &[u8]) -> HeaderForm {
    match profile {
        Some(WA_EXTENSION_PROFILE) if words.is_empty() => HeaderForm::Speech,
        Some(WA_EXTENSION_PROFILE) if words == DTX_EXTENSION_WORD => HeaderForm::Dtx,
        Some(WA_EXTENSION_PROFILE) => HeaderForm::WaExtended,
        _ => HeaderForm::Foreign,
    }
}

/// Iterator over one-byte-form extension elements: `(id, data)`.
#[derive(Clone, Debug)]
pub struct ExtensionElements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&first, tail) = self.rest.split_first()?;
            if first == 0 {
                // Padding between or after elements.
                self.rest = tail;
                continue;
            }
            let id = first >> 4;
            let len = usize::from(first & 0x0F) + 1;
            if id == 15 || tail.len() < len {
                self.rest = &[];
                return None;
            }
            let (data, rest) = tail.split_at(len);
            self.rest = rest;
            return Some((id, data));
        }
    }
}

/// The typed form of a WhatsApp RTP header (no CSRCs, no padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Marker bit (speech onset on audio, end of frame on video).
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// Timestamp in the payload type's clock units.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Extension: profile and its words, or `None` for a plain RFC 3550 header.
    pub extension: Option<Extension<'a>>,
}

/// A header extension: profile and whole 32-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    /// Profile identifier (`0xDEBE` for WhatsApp).
    pub profile: u16,
    /// The words, a multiple of 4 bytes long.
    pub words: &'a [u8],
}

impl Extension<'static> {
    /// The empty WhatsApp extension of the 16-byte speech header.
    pub const SPEECH: Extension<'static> = Extension {
        profile: WA_EXTENSION_PROFILE,
        words: &[],
    };
    /// The one-word WhatsApp extension of the 20-byte DTX header.
    pub const DTX: Extension<'static> = Extension {
        profile: WA_EXTENSION_PROFILE,
        words: &DTX_EXTENSION_WORD,
    };
}

impl<'a> Repr<'a> {
    /// Parse the header of a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Self, Error> {
        packet.check_len()?;
        let buf: &'a [u8] = T::as_ref(packet.buffer);
        let view = Packet::new_unchecked(buf);
        let extension = match view.extension_profile() {
            Some(profile) => {
                let at = view.extension_at() + 4;
                let words = &buf[at..view.header_len()];
                if words.len() > 4 * MAX_EXTENSION_WORDS {
                    return Err(Error::Extension);
                }
                Some(Extension { profile, words })
            }
            None => None,
        };
        Ok(Repr {
            marker: view.marker(),
            payload_type: view.payload_type(),
            sequence_number: view.sequence_number(),
            timestamp: view.timestamp(),
            ssrc: view.ssrc(),
            extension,
        })
    }

    /// Parse the header at the start of `bytes`; returns it and the header length.
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<(Self, usize), Error> {
        let p = Packet::new_checked(bytes)?;
        let repr = Repr::parse(&p)?;
        Ok((repr, p.header_len()))
    }

    /// Which WhatsApp header form this header uses.
    pub fn form(&self) -> HeaderForm {
        match self.extension {
            Some(e) => classify_extension(Some(e.profile), e.words),
            None => HeaderForm::Foreign,
        }
    }

    /// Length of the header this emits.
    pub fn header_len(&self) -> usize {
        FIXED_HEADER_LEN + self.extension.map_or(0, |e| 4 + e.words.len())
    }

    /// Write the header into the start of `buf`; returns the header length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(e) = self.extension
            && (e.words.len() % 4 != 0 || e.words.len() > 4 * MAX_EXTENSION_WORDS)
        {
            return Err(Error::Extension);
        }
        let len = self.header_len();
        let out = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        out[0] = if self.extension.is_some() { 0x90 } else { 0x80 };
        out[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7F);
        out[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        if let Some(e) = self.extension {
            out[12..14].copy_from_slice(&e.profile.to_be_bytes());
            // Checked above: at most MAX_EXTENSION_WORDS words.
            let words = (e.words.len() / 4) as u16;
            out[14..16].copy_from_slice(&words.to_be_bytes());
            out[16..].copy_from_slice(e.words);
        }
        Ok(len)
    }

    /// Write header and payload into `buf`; returns the packet length.
    pub fn emit_packet(&self, payload: &[u8], buf: &mut [u8]) -> Result<usize, Error> {
        let h = self.header_len();
        let total = h + payload.len();
        if buf.len() < total {
            return Err(Error::BufferTooSmall);
        }
        self.emit(buf)?;
        buf[h..total].copy_from_slice(payload);
        Ok(total)
    }
}

/// Which audio profile a sequencer follows: it decides DTX detection and marker behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioProfile {
    /// MLow (PT 120, or 121 with SplitRed): 16 kHz clock, marker on speech onset.
    MLow,
    /// Opus over PT 111: 48 kHz clock, marker never set.
    Opus,
}

/// What kind of audio payload the caller is about to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioFrameKind {
    /// Coded speech (or coded background).
    Speech,
    /// DTX / SID / comfort-noise token: sent with the DTX header form.
    Dtx,
    /// A priming frame at stream start: speech header, never counts as speech onset.
    Priming,
}

impl AudioFrameKind {
    /// Classify an outgoing payload as speech or DTX by the profile's rule (priming frames are the
    /// caller's to declare).
    pub fn of_payload(profile: AudioProfile, payload: &[u8]) -> Self {
        let dtx = match profile {
            AudioProfile::MLow => payload::is_mlow_dtx(payload),
            AudioProfile::Opus => payload::is_opus_dtx(payload),
        };
        if dtx {
            AudioFrameKind::Dtx
        } else {
            AudioFrameKind::Speech
        }
    }
}

/// Numbers an outgoing audio stream.
///
/// Each [`AudioSequencer::next_header`] hands out the current sequence number and timestamp and
/// then advances them (both wrap). DTX payloads get the 20-byte DTX header; in the MLow profile
/// the first speech packet after the start or after DTX carries the marker. Priming packets and
/// DTX packets never count as speech.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioSequencer {
    ssrc: u32,
    payload_type: u8,
    profile: AudioProfile,
    next_sequence: u16,
    next_timestamp: u32,
    in_speech: bool,
}

impl AudioSequencer {
    /// A sequencer for `ssrc` sending `payload_type`, starting at `first_sequence` and
    /// `first_timestamp` (WhatsApp's web stack starts at 1 and 0).
    pub fn new(
        ssrc: u32,
        payload_type: u8,
        profile: AudioProfile,
        first_sequence: u16,
        first_timestamp: u32,
    ) -> Self {
        AudioSequencer {
            ssrc,
            payload_type,
            profile,
            next_sequence: first_sequence,
            next_timestamp: first_timestamp,
            in_speech: false,
        }
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.next_sequence
    }

    /// The timestamp the next packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.next_timestamp
    }

    /// The header for the next packet, of `kind`, covering `duration_ts` clock units (960 for a
    /// 60 ms MLow packet at 16 kHz, 2880 for 60 ms of Opus at 48 kHz).
    pub fn next_header(&mut self, kind: AudioFrameKind, duration_ts: u32) -> Repr<'static> {
        let marker = match kind {
            AudioFrameKind::Speech => {
                let onset = !self.in_speech && self.profile == AudioProfile::MLow;
                self.in_speech = true;
                onset
            }
            AudioFrameKind::Dtx => {
                self.in_speech = false;
                false
            }
            AudioFrameKind::Priming => false,
        };
        let extension = if kind == AudioFrameKind::Dtx {
            Extension::DTX
        } else {
            Extension::SPEECH
        };
        let repr = Repr {
            marker,
            payload_type: self.payload_type,
            sequence_number: self.next_sequence,
            timestamp: self.next_timestamp,
            ssrc: self.ssrc,
            extension: Some(extension),
        };
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.next_timestamp = self.next_timestamp.wrapping_add(duration_ts);
        repr
    }
}

impl AudioSequencer {
    /// Let `duration_ts` clock units pass without a packet (the encoder had nothing to send,
    /// e.g. a DTX gap): the timestamp advances, the sequence number does not.
    pub fn skip(&mut self, duration_ts: u32) {
        self.next_timestamp = self.next_timestamp.wrapping_add(duration_ts);
    }
}

/// WhatsApp's on-the-wire size guess for an outgoing audio packet, used to pick frame sizes:
/// header (20 bytes for an Opus-profile DTX payload, else 16) + payload + tag, where the tag is
/// guessed at 4 bytes for DTX or payloads of at most 18 bytes and 10 otherwise. It is a ladder
/// heuristic only; the real tag is always the relay block's `warp_mi_tag_len`.
pub fn estimate_wire_len_bytes(payload: &[u8]) -> usize {
    let dtx = payload::is_opus_dtx(payload);
    let header = if dtx {
        DTX_HEADER_LEN
    } else {
        SPEECH_HEADER_LEN
    };
    let tag = if dtx || payload.len() <= 18 { 4 } else { 10 };
    header + payload.len() + tag
}

/// Known-answer checks against the `rtp` group of the shared `voip/kats.json`.
#[cfg(feature = "kat")]
pub mod kat {
    use crate::kat::{Failure, Vectors, expect_eq, hex, int};

    /// The speech and DTX headers as [`super::AudioSequencer`] produces them, and the two
    /// captured Android video headers parsed.
    pub fn headers(v: &dyn Vectors) -> Result<(), Failure> {
        use super::*;
        let ssrc = int(v, "inputs.ssrc")? as u32;
        let mut seq = AudioSequencer::new(ssrc, PT_MLOW, AudioProfile::MLow, 1, 0);
        let mut buf = [0u8; 32];
        // A 20 ms speech packet (320 samples at 16 kHz), then a SID token.
        let speech = seq.next_header(AudioFrameKind::of_payload(AudioProfile::MLow, &[0x48]), 320);
        let n = speech
            .emit(&mut buf)
            .map_err(|_| Failure::new("speech emit", "rejected"))?;
        expect_eq(
            "rtp.speechHeader16",
            &buf[..n],
            &hex(v, "rtp.speechHeader16")?[..],
        )?;
        let dtx = seq.next_header(AudioFrameKind::of_payload(AudioProfile::MLow, &[0x90]), 320);
        let n = dtx
            .emit(&mut buf)
            .map_err(|_| Failure::new("dtx emit", "rejected"))?;
        expect_eq(
            "rtp.dtxHeader20",
            &buf[..n],
            &hex(v, "rtp.dtxHeader20")?[..],
        )?;

        for (name, ext_name) in [
            ("rtp.androidVideoHeader28", "rtp.androidVideoExtension12"),
            (
                "rtp.androidVideoDeltaHeader28",
                "rtp.androidVideoDeltaExtension12",
            ),
        ] {
            let bytes = hex(v, name)?;
            let p = Packet::new_checked(&bytes[..]).map_err(|_| Failure::new(name, "rejected"))?;
            expect_eq(name, &p.header_len(), &VIDEO_HEADER_LEN)?;
            expect_eq(name, &p.payload_type(), &PT_VIDEO)?;
            expect_eq(name, &p.form(), &HeaderForm::WaExtended)?;
            expect_eq(ext_name, p.extension(), &hex(v, ext_name)?[..])?;
            let ids: heapless::Vec<u8, 8> = p.extension_elements().map(|(id, _)| id).collect();
            expect_eq(name, &ids[..], &[3, 5, 6, 9][..])?;
            let (repr, h) =
                Repr::parse_bytes(&bytes).map_err(|_| Failure::new(name, "rejected"))?;
            let mut out = [0u8; 32];
            let n = repr
                .emit(&mut out)
                .map_err(|_| Failure::new(name, "rejected"))?;
            expect_eq(name, &(n, &out[..n]), &(h, &bytes[..]))?;
        }

        // The size heuristic on a 12-byte payload, a 1-byte DTX payload and the 5-byte priming
        // frame `90 b8 14 14 c4`.
        let payload = hex(v, "inputs.payload")?;
        let cases: [(&str, &[u8]); 3] = [
            ("rtp.estimateSpeech12", &payload),
            ("rtp.estimateDtx1", &[0x10]),
            ("rtp.estimatePriming2", &[0x90, 0xB8, 0x14, 0x14, 0xC4]),
        ];
        for (name, p) in cases {
            expect_eq(name, &(estimate_wire_len_bytes(p) as i64), &int(v, name)?)?;
        }
        Ok(())
    }
}
