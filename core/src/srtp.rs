//! SRTP and SRTCP (RFC 3711) with AES-CM-128 and HMAC-SHA1, as WhatsApp's E2E media layer uses
//! them: the RTP tag is truncated to 1..=20 bytes (WhatsApp default 4, `warp_mi_tag_len` from the
//! relay overrides it; 10 is the standard 80-bit profile), SRTCP always carries the E flag, an
//! index that starts at 1 and its own tag length (10 by default).
//!
//! - [`SrtpSender`]: one outgoing stream (our SSRC): send ROC, SRTCP index.
//! - [`SrtpReceiver`]: up to `N` incoming SSRCs under one key set, each with its ROC estimate
//!   (RFC 3711 Appendix A), a 64-packet SRTP replay window over the 48-bit index and a 64-packet
//!   SRTCP replay window over the 31-bit index.
//!
//! Packets are protected and unprotected in place in caller buffers; nothing allocates. On
//! receive the tag is verified **before** anything else is decided from the packet: a forged,
//! replayed, truncated or unknown-SSRC packet returns an [`Error`] and leaves every ROC, replay
//! window and the buffer itself exactly as they were.

use subtle::ConstantTimeEq;

use crate::crypto::{AesCm, HmacSha1Key};
use crate::keys::{SessionKeys, SrtpMaster, Stream};

/// Why a packet was not protected or unprotected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Shorter than its header (plus the SRTCP trailer and the tag).
    TooShort,
    /// A payload beyond AES-CM's 16-bit block counter (1 MiB).
    TooLong,
    /// Not an RTP/RTCP version-2 packet.
    Malformed,
    /// The caller's buffer has no room for the trailer and tag.
    BufferTooSmall,
    /// The packet's SSRC is not one this context handles.
    UnknownSsrc,
    /// The authentication tag did not verify.
    AuthFailed,
    /// The packet index was seen already or is older than the replay window.
    Replay,
    /// A tag length outside 1..=20 bytes was configured.
    TagLength,
    /// The receiver already tracks its maximum number of SSRCs.
    TooManyStreams,
    /// The 48-bit SRTP or 31-bit SRTCP index is used up; the keys must be replaced.
    IndexExhausted,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::TooShort => "packet too short",
            Error::TooLong => "payload too long for AES-CM",
            Error::Malformed => "not an RTP/RTCP v2 packet",
            Error::BufferTooSmall => "buffer has no room for the tag",
            Error::UnknownSsrc => "unknown SSRC",
            Error::AuthFailed => "authentication failed",
            Error::Replay => "replayed or too old",
            Error::TagLength => "tag length outside 1..=20",
            Error::TooManyStreams => "too many SSRCs",
            Error::IndexExhausted => "packet index exhausted",
        })
    }
}

impl core::error::Error for Error {}

/// Tag lengths of one SRTP context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    rtp_tag_len_bytes: u8,
    rtcp_tag_len_bytes: u8,
}

impl Config {
    /// WhatsApp's default: 4-byte RTP tag (`AES_CM_128_HMAC_SHA1_32`), 10-byte SRTCP tag.
    pub const WHATSAPP: Config = Config {
        rtp_tag_len_bytes: 4,
        rtcp_tag_len_bytes: 10,
    };
    /// `AES_CM_128_HMAC_SHA1_80`: 10-byte tags on both.
    pub const SHA1_80: Config = Config {
        rtp_tag_len_bytes: 10,
        rtcp_tag_len_bytes: 10,
    };

    /// Tag lengths in bytes, each 1..=20 (HMAC-SHA1 truncated).
    pub fn new(rtp_tag_len_bytes: usize, rtcp_tag_len_bytes: usize) -> Result<Self, Error> {
        let ok = |n: usize| {
            (1..=20)
                .contains(&n)
                .then_some(n as u8)
                .ok_or(Error::TagLength)
        };
        Ok(Config {
            rtp_tag_len_bytes: ok(rtp_tag_len_bytes)?,
            rtcp_tag_len_bytes: ok(rtcp_tag_len_bytes)?,
        })
    }

    /// WhatsApp's default with the relay's `warp_mi_tag_len` as the RTP tag length.
    pub fn with_rtp_tag_len(rtp_tag_len_bytes: usize) -> Result<Self, Error> {
        Self::new(rtp_tag_len_bytes, 10)
    }

    /// RTP tag length in bytes.
    pub fn rtp_tag_len_bytes(&self) -> usize {
        self.rtp_tag_len_bytes.into()
    }

    /// SRTCP tag length in bytes.
    pub fn rtcp_tag_len_bytes(&self) -> usize {
        self.rtcp_tag_len_bytes.into()
    }
}

/// Length of the SRTCP `E ‖ index` word.
pub const SRTCP_INDEX_LEN_BYTES: usize = 4;
const SRTCP_E_FLAG: u32 = 0x8000_0000;
const SRTCP_MAX_INDEX: u32 = 0x7fff_ffff;
const RTCP_CLEAR_LEN_BYTES: usize = 8;

/// Expanded session keys of one stream kind (RTP or RTCP) in one direction.
#[derive(Clone)]
struct StreamCrypto {
    aes: AesCm,
    hmac: HmacSha1Key,
    salt: [u8; 14],
}

impl core::fmt::Debug for StreamCrypto {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StreamCrypto { .. }")
    }
}

impl Drop for StreamCrypto {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.salt);
    }
}

impl StreamCrypto {
    fn new(master: &SrtpMaster, stream: Stream) -> Self {
        let keys = SessionKeys::derive(master, stream);
        StreamCrypto {
            aes: AesCm::new(&keys.cipher_key),
            hmac: HmacSha1Key::new(&keys.auth_key),
            salt: keys.salt,
        }
    }

    /// RFC 3711 §4.1.1: salt ‖ 00 00, XOR SSRC into bytes 4..8 and the 48-bit index into 8..14.
    fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        iv
    }

    fn crypt(&self, ssrc: u32, index: u64, data: &mut [u8]) -> Result<(), Error> {
        self.aes
            .apply_keystream(&self.iv(ssrc, index), data)
            .map_err(|_| Error::TooLong)
    }
}

/// The RTP header length of `packet` (fixed part, CSRCs, extension), checked against its length.
fn rtp_header_len(packet: &[u8]) -> Result<usize, Error> {
    let b0 = *packet.first().ok_or(Error::TooShort)?;
    if b0 >> 6 != 2 {
        return Err(Error::Malformed);
    }
    let mut len = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        let words = packet.get(len + 2..len + 4).ok_or(Error::TooShort)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if packet.len() < len {
        return Err(Error::TooShort);
    }
    Ok(len)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The rollover counter of one SRTP stream (RFC 3711 §3.3.1 and Appendix A).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RocState {
    roc: u32,
    /// Highest sequence number seen under `roc`; `None` before the first packet.
    s_l: Option<u16>,
}

impl RocState {
    /// The ROC the packet with sequence number `seq` was most probably sent under; never mutates.
    fn estimate(&self, seq: u16) -> Result<u32, Error> {
        let Some(s_l) = self.s_l else {
            return Ok(self.roc);
        };
        if s_l < 0x8000 {
            // A packet from before the last wrap; at ROC 0 there is no earlier epoch.
            if u32::from(seq) > u32::from(s_l) + 0x8000 {
                return Ok(self.roc.saturating_sub(1));
            }
        } else if s_l - 0x8000 > seq {
            return self.roc.checked_add(1).ok_or(Error::IndexExhausted);
        }
        Ok(self.roc)
    }

    /// Record an authenticated packet sent under `v` with `seq`.
    fn commit(&mut self, v: u32, seq: u16) {
        match self.s_l {
            None => self.s_l = Some(seq),
            Some(s_l) if v == self.roc => self.s_l = Some(s_l.max(seq)),
            Some(_) if v > self.roc => {
                self.roc = v;
                self.s_l = Some(seq);
            }
            Some(_) => {}
        }
    }
}

/// Replay window over the last 64 indices below and including the highest seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ReplayWindow {
    /// Highest accepted index; `None` before the first.
    top: Option<u64>,
    /// Bit k set: index `top - k` was accepted.
    seen: u64,
}

impl ReplayWindow {
    const SIZE: u64 = 64;

    /// How `index` relates to the window: `Ok(None)` is newer than the top, `Ok(Some(k))` is `k`
    /// below it and not seen yet.
    fn check(&self, index: u64) -> Result<Option<u64>, Error> {
        let Some(top) = self.top else {
            return Ok(None);
        };
        if index > top {
            return Ok(None);
        }
        let back = top - index;
        if back >= Self::SIZE || self.seen >> back & 1 == 1 {
            return Err(Error::Replay);
        }
        Ok(Some(back))
    }

    fn accept(&mut self, index: u64, place: Option<u64>) {
        match (place, self.top) {
            (Some(back), _) => self.seen |= 1 << back,
            (None, Some(top)) => {
                let ahead = index - top;
                self.seen = if ahead >= Self::SIZE {
                    0
                } else {
                    self.seen << ahead
                } | 1;
                self.top = Some(index);
            }
            (None, None) => {
                self.seen = 1;
                self.top = Some(index);
            }
        }
    }
}

/// Replay window over the 31-bit SRTCP index, which may wrap: an index up to 2^30 ahead
/// (mod 2^31) is newer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SrtcpReplayWindow {
    top: Option<u32>,
    seen: u64,
}

impl SrtcpReplayWindow {
    fn check(&self, index: u32) -> Result<Option<u32>, Error> {
        let Some(top) = self.top else {
            return Ok(None);
        };
        let ahead = index.wrapping_sub(top) & SRTCP_MAX_INDEX;
        if ahead != 0 && ahead < 1 << 30 {
            return Ok(None);
        }
        let back = top.wrapping_sub(index) & SRTCP_MAX_INDEX;
        if u64::from(back) >= ReplayWindow::SIZE || self.seen >> back & 1 == 1 {
            return Err(Error::Replay);
        }
        Ok(Some(back))
    }

    fn accept(&mut self, index: u32, place: Option<u32>) {
        match (place, self.top) {
            (Some(back), _) => self.seen |= 1 << back,
            (None, Some(top)) => {
                let ahead = index.wrapping_sub(top) & SRTCP_MAX_INDEX;
                self.seen = if u64::from(ahead) >= ReplayWindow::SIZE {
                    0
                } else {
                    self.seen << ahead
                } | 1;
                self.top = Some(index);
            }
            (None, None) => {
                self.seen = 1;
                self.top = Some(index);
            }
        }
    }
}

/// The sending side of one SRTP stream: our SSRC, its ROC and its SRTCP index.
#[derive(Debug)]
pub struct SrtpSender {
    rtp: StreamCrypto,
    rtcp: StreamCrypto,
    config: Config,
    ssrc: u32,
    roc: RocState,
    /// Index of the last SRTCP packet sent (0 = none yet, so the first is 1).
    srtcp_index: u32,
}

impl SrtpSender {
    /// A sender for `ssrc` under `master` (for WhatsApp E2E: WAHKDF of our own id).
    pub fn new(master: &SrtpMaster, ssrc: u32, config: Config) -> Self {
        SrtpSender {
            rtp: StreamCrypto::new(master, Stream::Rtp),
            rtcp: StreamCrypto::new(master, Stream::Rtcp),
            config,
            ssrc,
            roc: RocState::default(),
            srtcp_index: 0,
        }
    }

    /// Replace the keys (a group epoch rekey) while keeping the ROC and the SRTCP index, so the
    /// stream continues without a sequence discontinuity.
    pub fn rekey(&mut self, master: &SrtpMaster) {
        self.rtp = StreamCrypto::new(master, Stream::Rtp);
        self.rtcp = StreamCrypto::new(master, Stream::Rtcp);
    }

    /// The SSRC this sender protects.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The current rollover counter.
    pub fn roc(&self) -> u32 {
        self.roc.roc
    }

    /// The tag lengths in use.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Protect the RTP packet in `buf[..len]` in place: encrypt the payload and append the tag.
    /// Returns the SRTP packet length (`len` + RTP tag length); `buf` must have that room.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let tag_len = self.config.rtp_tag_len_bytes();
        let packet = buf.get(..len).ok_or(Error::BufferTooSmall)?;
        let hdr = rtp_header_len(packet)?;
        if buf.len() < len + tag_len {
            return Err(Error::BufferTooSmall);
        }
        if be32(buf, 8) != self.ssrc {
            return Err(Error::UnknownSsrc);
        }
        let seq = be16(buf, 2);
        let v = self.roc.estimate(seq)?;
        let index = u64::from(v) << 16 | u64::from(seq);
        self.rtp.crypt(self.ssrc, index, &mut buf[hdr..len])?;
        let tag = self.rtp.hmac.mac(&[&buf[..len], &v.to_be_bytes()]);
        buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
        self.roc.commit(v, seq);
        Ok(len + tag_len)
    }

    /// Protect the RTCP compound in `buf[..len]` in place: encrypt everything after the first 8
    /// bytes, append `E=1 ‖ index` and the tag. Returns the SRTCP length (`len` + 4 + RTCP tag
    /// length). The first packet gets index 1.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let tag_len = self.config.rtcp_tag_len_bytes();
        let packet = buf.get(..len).ok_or(Error::BufferTooSmall)?;
        if packet.len() < RTCP_CLEAR_LEN_BYTES {
            return Err(Error::TooShort);
        }
        if packet[0] >> 6 != 2 {
            return Err(Error::Malformed);
        }
        let total = len + SRTCP_INDEX_LEN_BYTES + tag_len;
        if buf.len() < total {
            return Err(Error::BufferTooSmall);
        }
        if be32(buf, 4) != self.ssrc {
            return Err(Error::UnknownSsrc);
        }
        if self.srtcp_index == SRTCP_MAX_INDEX {
            return Err(Error::IndexExhausted);
        }
        let index = self.srtcp_index + 1;
        self.rtcp
            .crypt(self.ssrc, index.into(), &mut buf[RTCP_CLEAR_LEN_BYTES..len])?;
        buf[len..len + 4].copy_from_slice(&(SRTCP_E_FLAG | index).to_be_bytes());
        let tag = self.rtcp.hmac.mac(&[&buf[..len + 4]]);
        buf[len + 4..total].copy_from_slice(&tag[..tag_len]);
        self.srtcp_index = index;
        Ok(total)
    }
}

/// Receive state of one SSRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RecvStream {
    ssrc: u32,
    roc: RocState,
    rtp_replay: ReplayWindow,
    rtcp_replay: SrtcpReplayWindow,
}

impl RecvStream {
    fn new(ssrc: u32) -> Self {
        RecvStream {
            ssrc,
            roc: RocState::default(),
            rtp_replay: ReplayWindow::default(),
            rtcp_replay: SrtcpReplayWindow::default(),
        }
    }
}

/// The receiving side for up to `N` SSRCs of one sender key (for WhatsApp E2E: WAHKDF of the
/// peer's id). `SrtpReceiver<1>` is a single-SSRC context.
#[derive(Debug)]
pub struct SrtpReceiver<const N: usize> {
    rtp: StreamCrypto,
    rtcp: StreamCrypto,
    config: Config,
    streams: heapless::Vec<RecvStream, N>,
}

impl<const N: usize> SrtpReceiver<N> {
    /// A receiver under `master` that knows no SSRC yet.
    pub fn new(master: &SrtpMaster, config: Config) -> Self {
        SrtpReceiver {
            rtp: StreamCrypto::new(master, Stream::Rtp),
            rtcp: StreamCrypto::new(master, Stream::Rtcp),
            config,
            streams: heapless::Vec::new(),
        }
    }

    /// Start accepting `ssrc` (no-op if already known).
    pub fn add_ssrc(&mut self, ssrc: u32) -> Result<(), Error> {
        if self.find(ssrc).is_none() {
            self.streams
                .push(RecvStream::new(ssrc))
                .map_err(|_| Error::TooManyStreams)?;
        }
        Ok(())
    }

    /// Replace the keys (e.g. the answering device's id became known) and restart every stream's
    /// ROC and replay windows; the SSRC list stays.
    pub fn rekey(&mut self, master: &SrtpMaster) {
        self.rtp = StreamCrypto::new(master, Stream::Rtp);
        self.rtcp = StreamCrypto::new(master, Stream::Rtcp);
        for s in &mut self.streams {
            *s = RecvStream::new(s.ssrc);
        }
    }

    /// The ROC of `ssrc`, if known.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        self.find(ssrc).map(|i| self.streams[i].roc.roc)
    }

    /// The tag lengths in use.
    pub fn config(&self) -> Config {
        self.config
    }

    fn find(&self, ssrc: u32) -> Option<usize> {
        self.streams.iter().position(|s| s.ssrc == ssrc)
    }

    /// Unprotect the SRTP packet that fills `buf`: verify the tag, check replay, decrypt the
    /// payload in place. Returns the RTP packet length (the tag stripped). On error neither the
    /// state nor `buf` has changed.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.config.rtp_tag_len_bytes();
        let hdr = rtp_header_len(buf)?;
        let len = buf
            .len()
            .checked_sub(tag_len)
            .filter(|&l| l >= hdr)
            .ok_or(Error::TooShort)?;
        let i = self.find(be32(buf, 8)).ok_or(Error::UnknownSsrc)?;
        let stream = &self.streams[i];
        let seq = be16(buf, 2);
        let v = stream.roc.estimate(seq)?;
        let tag = self.rtp.hmac.mac(&[&buf[..len], &v.to_be_bytes()]);
        if !bool::from(tag[..tag_len].ct_eq(&buf[len..])) {
            return Err(Error::AuthFailed);
        }
        let index = u64::from(v) << 16 | u64::from(seq);
        let place = stream.rtp_replay.check(index)?;
        self.rtp.crypt(stream.ssrc, index, &mut buf[hdr..len])?;
        let stream = &mut self.streams[i];
        stream.rtp_replay.accept(index, place);
        stream.roc.commit(v, seq);
        Ok(len)
    }

    /// Unprotect the SRTCP packet that fills `buf`: verify the tag, check replay, decrypt (when
    /// the E flag is set). Returns the RTCP compound length (trailer and tag stripped). On error
    /// neither the state nor `buf` has changed.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.config.rtcp_tag_len_bytes();
        let len = buf
            .len()
            .checked_sub(tag_len + SRTCP_INDEX_LEN_BYTES)
            .filter(|&l| l >= RTCP_CLEAR_LEN_BYTES)
            .ok_or(Error::TooShort)?;
        if buf[0] >> 6 != 2 {
            return Err(Error::Malformed);
        }
        let i = self.find(be32(buf, 4)).ok_or(Error::UnknownSsrc)?;
        let authed = len + SRTCP_INDEX_LEN_BYTES;
        let tag = self.rtcp.hmac.mac(&[&buf[..authed]]);
        if !bool::from(tag[..tag_len].ct_eq(&buf[authed..])) {
            return Err(Error::AuthFailed);
        }
        let word = be32(buf, len);
        let index = word & SRTCP_MAX_INDEX;
        let stream = &self.streams[i];
        let place = stream.rtcp_replay.check(index)?;
        if word & SRTCP_E_FLAG != 0 {
            self.rtcp.crypt(
                stream.ssrc,
                index.into(),
                &mut buf[RTCP_CLEAR_LEN_BYTES..len],
            )?;
        }
        self.streams[i].rtcp_replay.accept(index, place);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_estimate_follows_rfc3711_appendix_a() {
        let st = |roc, s_l| RocState {
            roc,
            s_l: Some(s_l),
        };
        // Far below s_l (< 0x8000 away the other way): next epoch.
        assert_eq!(st(3, 0xfff0).estimate(0x0005), Ok(4));
        // Just below s_l: same epoch (reordered).
        assert_eq!(st(3, 0xfff0).estimate(0xffe0), Ok(3));
        // s_l small, seq huge: previous epoch.
        assert_eq!(st(3, 0x0005).estimate(0xfff0), Ok(2));
        // ... except at ROC 0.
        assert_eq!(st(0, 0x0005).estimate(0xfff0), Ok(0));
        assert_eq!(st(u32::MAX, 0xfff0).estimate(1), Err(Error::IndexExhausted));
        assert_eq!(RocState::default().estimate(0xffff), Ok(0));
    }

    #[test]
    fn roc_commit_moves_forward_only() {
        let mut s = RocState::default();
        s.commit(0, 0xfffe);
        s.commit(1, 2);
        assert_eq!((s.roc, s.s_l), (1, Some(2)));
        s.commit(0, 0xffff); // a late packet of the previous epoch
        assert_eq!((s.roc, s.s_l), (1, Some(2)));
        s.commit(1, 1);
        assert_eq!((s.roc, s.s_l), (1, Some(2)));
    }

    #[test]
    fn replay_window_edges() {
        let mut w = ReplayWindow::default();
        for i in [100u64, 99, 37, 101] {
            let p = w.check(i).unwrap();
            w.accept(i, p);
        }
        assert_eq!(w.check(101), Err(Error::Replay));
        assert_eq!(w.check(99), Err(Error::Replay));
        assert_eq!(w.check(37), Err(Error::Replay)); // 64 below the top: too old
        assert_eq!(w.check(38), Ok(Some(63)));
        assert_eq!(w.check(1000), Ok(None));
    }

    #[test]
    fn srtcp_replay_window_wraps_at_2_pow_31() {
        let mut w = SrtcpReplayWindow::default();
        for i in [SRTCP_MAX_INDEX - 1, SRTCP_MAX_INDEX, 0, 1] {
            let p = w.check(i).unwrap();
            w.accept(i, p);
        }
        assert_eq!(w.top, Some(1));
        assert_eq!(w.check(SRTCP_MAX_INDEX), Err(Error::Replay));
        assert_eq!(w.check(SRTCP_MAX_INDEX - 2), Ok(Some(4)));
        assert_eq!(w.check(2), Ok(None));
    }

    const SSRC: u32 = 0x1234_5678;

    fn master() -> SrtpMaster {
        SrtpMaster::new([0x11; 16], [0x22; 14])
    }

    fn rtp(seq: u16, ssrc: u32) -> alloc::vec::Vec<u8> {
        let mut p = alloc::vec![0x90, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xbe, 0, 0];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(b"twelve bytes");
        p
    }

    fn rtcp(ssrc: u32) -> alloc::vec::Vec<u8> {
        let mut p = alloc::vec![0x80, 200, 0, 2, 0, 0, 0, 0];
        p[4..8].copy_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(b"body");
        p
    }

    fn protect(tx: &mut SrtpSender, p: &[u8]) -> alloc::vec::Vec<u8> {
        let mut b = p.to_vec();
        b.resize(p.len() + 20, 0);
        let n = tx.protect_rtp(&mut b, p.len()).unwrap();
        b.truncate(n);
        b
    }

    fn protect_rtcp(tx: &mut SrtpSender, p: &[u8]) -> alloc::vec::Vec<u8> {
        let mut b = p.to_vec();
        b.resize(p.len() + 24, 0);
        let n = tx.protect_rtcp(&mut b, p.len()).unwrap();
        b.truncate(n);
        b
    }

    fn receiver() -> SrtpReceiver<2> {
        let mut rx = SrtpReceiver::new(&master(), Config::WHATSAPP);
        rx.add_ssrc(SSRC).unwrap();
        rx
    }

    /// Feed `bad` to `rx` and require `want` with neither the state nor the buffer changed.
    fn rejects_rtp(rx: &mut SrtpReceiver<2>, bad: &[u8], want: Error) {
        let before = rx.streams.clone();
        let mut buf = bad.to_vec();
        assert_eq!(rx.unprotect_rtp(&mut buf), Err(want));
        assert_eq!(rx.streams, before);
        assert_eq!(buf, bad);
    }

    fn rejects_rtcp(rx: &mut SrtpReceiver<2>, bad: &[u8], want: Error) {
        let before = rx.streams.clone();
        let mut buf = bad.to_vec();
        assert_eq!(rx.unprotect_rtcp(&mut buf), Err(want));
        assert_eq!(rx.streams, before);
        assert_eq!(buf, bad);
    }

    fn accepts_rtp(rx: &mut SrtpReceiver<2>, good: &[u8], plain: &[u8]) {
        let mut buf = good.to_vec();
        let n = rx.unprotect_rtp(&mut buf).unwrap();
        assert_eq!(&buf[..n], plain);
    }

    #[test]
    fn forged_tag_or_payload_is_rejected_without_state_change() {
        let mut tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let mut rx = receiver();
        let first = protect(&mut tx, &rtp(100, SSRC));
        accepts_rtp(&mut rx, &first, &rtp(100, SSRC));
        let good = protect(&mut tx, &rtp(101, SSRC));
        for bit in 0..good.len() * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let want = match (bit / 8, bit % 8) {
                (0, 6 | 7) => Error::Malformed,
                // X, CC or the extension length: the header length changes; any refusal will do, without state change.
                (0, 0..=4) | (14 | 15, _) => rx.unprotect_rtp(&mut bad.clone()).unwrap_err(),
                (8..=11, _) => Error::UnknownSsrc,
                _ => Error::AuthFailed,
            };
            rejects_rtp(&mut rx, &bad, want);
        }
        accepts_rtp(&mut rx, &good, &rtp(101, SSRC));
        assert_eq!(rx.roc(SSRC), Some(0));
    }

    #[test]
    fn unauthenticated_staircase_cannot_move_the_roc() {
        // Forged packets climbing the sequence space must not drag the ROC estimate along.
        let mut tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let mut rx = receiver();
        accepts_rtp(&mut rx, &protect(&mut tx, &rtp(10, SSRC)), &rtp(10, SSRC));
        for step in 1..=8u16 {
            let mut forged = rtp(10u16.wrapping_add(step.wrapping_mul(0x7000)), SSRC);
            forged.extend_from_slice(&[0; 4]);
            rejects_rtp(&mut rx, &forged, Error::AuthFailed);
        }
        assert_eq!(rx.roc(SSRC), Some(0));
        accepts_rtp(&mut rx, &protect(&mut tx, &rtp(11, SSRC)), &rtp(11, SSRC));
    }

    #[test]
    fn replay_is_rejected_without_state_change() {
        let mut tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let mut rx = receiver();
        let a = protect(&mut tx, &rtp(65_535, SSRC));
        let b = protect(&mut tx, &rtp(0, SSRC));
        accepts_rtp(&mut rx, &a, &rtp(65_535, SSRC));
        accepts_rtp(&mut rx, &b, &rtp(0, SSRC));
        assert_eq!(rx.roc(SSRC), Some(1));
        rejects_rtp(&mut rx, &a, Error::Replay);
        rejects_rtp(&mut rx, &b, Error::Replay);
        // 64 packets later the first one is out of the window for good.
        let mut last = b;
        for seq in 1..=64 {
            last = protect(&mut tx, &rtp(seq, SSRC));
            accepts_rtp(&mut rx, &last, &rtp(seq, SSRC));
        }
        rejects_rtp(&mut rx, &last, Error::Replay);
        assert_eq!(rx.roc(SSRC), Some(1));
    }

    #[test]
    fn truncated_packets_are_rejected_without_state_change() {
        let mut tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let mut rx = receiver();
        let good = protect(&mut tx, &rtp(7, SSRC));
        for cut in 0..good.len() {
            let want = match cut {
                0..=19 => Error::TooShort, // below header (16) + tag (4)
                _ => Error::AuthFailed,
            };
            rejects_rtp(&mut rx, &good[..cut], want);
        }
        accepts_rtp(&mut rx, &good, &rtp(7, SSRC));
        let c = protect_rtcp(&mut tx, &rtcp(SSRC));
        for cut in 0..c.len() {
            let want = if cut < 8 + 4 + 10 {
                Error::TooShort
            } else {
                Error::AuthFailed
            };
            rejects_rtcp(&mut rx, &c[..cut], want);
        }
    }

    #[test]
    fn wrong_tag_length_is_an_auth_failure_without_state_change() {
        let mut tx80 = SrtpSender::new(&master(), SSRC, Config::SHA1_80);
        let mut tx32 = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let mut rx = receiver();
        rejects_rtp(
            &mut rx,
            &protect(&mut tx80, &rtp(5, SSRC)),
            Error::AuthFailed,
        );
        accepts_rtp(&mut rx, &protect(&mut tx32, &rtp(5, SSRC)), &rtp(5, SSRC));
        let mut long = rtcp(SSRC);
        long.extend_from_slice(b"longer body.");
        let mut tx4 = SrtpSender::new(&master(), SSRC, Config::new(4, 4).unwrap());
        let c = protect_rtcp(&mut tx4, &long);
        rejects_rtcp(&mut rx, &c, Error::AuthFailed);
    }

    #[test]
    fn unknown_ssrc_is_rejected_without_state_change() {
        let other = 0x0bad_f00d;
        let mut tx = SrtpSender::new(&master(), other, Config::WHATSAPP);
        let mut rx = receiver();
        rejects_rtp(
            &mut rx,
            &protect(&mut tx, &rtp(1, other)),
            Error::UnknownSsrc,
        );
        rejects_rtcp(
            &mut rx,
            &protect_rtcp(&mut tx, &rtcp(other)),
            Error::UnknownSsrc,
        );
        // The sender refuses packets of an SSRC it does not own.
        let mut b = rtp(1, SSRC);
        b.resize(40, 0);
        assert_eq!(tx.protect_rtp(&mut b, 28), Err(Error::UnknownSsrc));
        // Capacity is fixed.
        rx.add_ssrc(other).unwrap();
        assert_eq!(rx.add_ssrc(3), Err(Error::TooManyStreams));
        assert_eq!(rx.add_ssrc(other), Ok(()));
    }

    #[test]
    fn srtcp_replay_forgery_and_plain_e0_packets() {
        let mut tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let mut rx = receiver();
        let c1 = protect_rtcp(&mut tx, &rtcp(SSRC));
        let c2 = protect_rtcp(&mut tx, &rtcp(SSRC));
        let mut forged = c2.clone();
        forged[9] ^= 1;
        rejects_rtcp(&mut rx, &forged, Error::AuthFailed);
        let mut b = c2.clone();
        assert_eq!(rx.unprotect_rtcp(&mut b), Ok(12));
        let mut b = c1.clone();
        assert_eq!(rx.unprotect_rtcp(&mut b), Ok(12));
        assert_eq!(&b[..12], &rtcp(SSRC)[..]);
        rejects_rtcp(&mut rx, &c1, Error::Replay);
        rejects_rtcp(&mut rx, &c2, Error::Replay);
        // E = 0: the body travels in clear, the tag still covers it.
        let crypto = StreamCrypto::new(&master(), Stream::Rtcp);
        let mut p = rtcp(SSRC);
        p.extend_from_slice(&3u32.to_be_bytes());
        let tag = crypto.hmac.mac(&[&p]);
        p.extend_from_slice(&tag[..10]);
        let n = rx.unprotect_rtcp(&mut p).unwrap();
        assert_eq!(&p[..n], &rtcp(SSRC)[..]);
    }

    #[test]
    fn sender_roc_follows_wraps_and_rekey_resets_the_receiver() {
        let mut tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let mut rx = receiver();
        for seq in [65_000u16, 100, 30_000, 60_000, 1, 2] {
            accepts_rtp(&mut rx, &protect(&mut tx, &rtp(seq, SSRC)), &rtp(seq, SSRC));
        }
        assert_eq!((tx.roc(), rx.roc(SSRC)), (2, Some(2)));
        let c = protect_rtcp(&mut tx, &rtcp(SSRC));
        assert_eq!(&c[12..16], &0x8000_0001u32.to_be_bytes());
        let fresh = SrtpMaster::new([0x33; 16], [0x44; 14]);
        rx.rekey(&fresh);
        assert_eq!(rx.roc(SSRC), Some(0));
        // The sender's epoch rekey keeps its ROC and SRTCP index.
        tx.rekey(&fresh);
        assert_eq!(tx.roc(), 2);
        let c = protect_rtcp(&mut tx, &rtcp(SSRC));
        assert_eq!(&c[12..16], &0x8000_0002u32.to_be_bytes());
        let mut tx2 = SrtpSender::new(&fresh, SSRC, Config::WHATSAPP);
        accepts_rtp(&mut rx, &protect(&mut tx2, &rtp(9, SSRC)), &rtp(9, SSRC));
    }

    #[test]
    fn srtcp_index_exhaustion_is_an_error_without_state_change() {
        let mut tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        tx.srtcp_index = SRTCP_MAX_INDEX - 1;
        let last = protect_rtcp(&mut tx, &rtcp(SSRC));
        assert_eq!(&last[12..16], &[0xff, 0xff, 0xff, 0xff]);
        let mut b = rtcp(SSRC);
        b.resize(40, 0);
        let before = b.clone();
        assert_eq!(tx.protect_rtcp(&mut b, 12), Err(Error::IndexExhausted));
        assert_eq!((b, tx.srtcp_index), (before, SRTCP_MAX_INDEX));
    }

    #[test]
    fn non_default_tag_length_round_trips_and_is_checked_in_full() {
        let config = Config::with_rtp_tag_len(20).unwrap();
        let mut tx = SrtpSender::new(&master(), SSRC, config);
        let mut rx = SrtpReceiver::<2>::new(&master(), config);
        rx.add_ssrc(SSRC).unwrap();
        let good = protect(&mut tx, &rtp(1, SSRC));
        assert_eq!(good.len(), rtp(1, SSRC).len() + 20);
        let mut bad = good.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        let mut b = bad.clone();
        assert_eq!(rx.unprotect_rtp(&mut b), Err(Error::AuthFailed));
        let mut b = good.clone();
        let n = rx.unprotect_rtp(&mut b).unwrap();
        assert_eq!(&b[..n], &rtp(1, SSRC)[..]);
    }

    #[test]
    fn debug_output_hides_session_keys() {
        let keys = SessionKeys::derive(&master(), Stream::Rtp);
        let tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let rx = receiver();
        let text = alloc::format!("{tx:?} {rx:?}");
        for secret in [&keys.salt[..4], &keys.cipher_key[..4], &keys.auth_key[..4]] {
            let dec = alloc::format!("{}, {}, {}, {}", secret[0], secret[1], secret[2], secret[3]);
            assert!(!text.contains(&dec), "{text}");
        }
        assert!(text.contains("StreamCrypto { .. }"));
    }

    #[test]
    fn payloads_beyond_the_aes_cm_counter_are_refused_untouched() {
        let mut tx = SrtpSender::new(&master(), SSRC, Config::WHATSAPP);
        let mut big = rtp(1, SSRC);
        let len = 16 + AesCm::MAX_LEN_BYTES + 1;
        big.resize(len + 4, 0x5a);
        let before = big.clone();
        assert_eq!(tx.protect_rtp(&mut big, len), Err(Error::TooLong));
        assert_eq!((big == before, tx.roc), (true, RocState::default()));
    }

    #[test]
    fn tag_lengths_outside_1_to_20_are_rejected() {
        assert_eq!(Config::new(0, 10), Err(Error::TagLength));
        assert_eq!(Config::new(21, 10), Err(Error::TagLength));
        assert_eq!(Config::new(4, 0), Err(Error::TagLength));
        assert_eq!(
            Config::with_rtp_tag_len(20).map(|c| c.rtp_tag_len_bytes()),
            Ok(20)
        );
    }
}

/// Known answers of the SRTP layer: the packet-level values of the shared `voip/kats.json`
/// (E2E IV, payload ciphertext, MI tag; HBH nonce, ciphertext and a full SRTCP packet) and
/// RFC 3711 B.2.
#[cfg(feature = "kat")]
pub mod kat {
    use alloc::format;
    use alloc::vec::Vec;

    use super::*;
    use crate::kat::{Check, Failure, Vectors, expect_eq, hex, int, len, run_checks, text};
    use crate::keys::{CallKey, HbhKey, HbhLabels, ParticipantId};

    fn peer_master(v: &dyn Vectors) -> Result<SrtpMaster, Failure> {
        let ck = CallKey::from_slice(&hex(v, "inputs.callKey")?)
            .map_err(|_| Failure::new("inputs.callKey", "call key rejected"))?;
        let id = ParticipantId::normalize(text(v, "inputs.peerLid")?)
            .map_err(|_| Failure::new("inputs.peerLid", "participant id rejected"))?;
        Ok(SrtpMaster::wahkdf(&ck, &id))
    }

    fn hbh_uplink_master(v: &dyn Vectors) -> Result<SrtpMaster, Failure> {
        let k = HbhKey::from_slice(&hex(v, "inputs.hbhKey")?)
            .map_err(|_| Failure::new("inputs.hbhKey", "hbh key rejected"))?;
        Ok(k.master(HbhLabels::UplinkSrtcp))
    }

    fn u32_at(v: &dyn Vectors, path: &str) -> Result<u32, Failure> {
        u32::try_from(int(v, path)?).map_err(|_| Failure::new(path, "not a u32"))
    }

    fn u16_at(v: &dyn Vectors, path: &str) -> Result<u16, Failure> {
        u16::try_from(int(v, path)?).map_err(|_| Failure::new(path, "not a u16"))
    }

    fn index(v: &dyn Vectors) -> Result<u64, Failure> {
        Ok(u64::from(u32_at(v, "inputs.roc")?) << 16 | u64::from(u16_at(v, "inputs.seq")?))
    }

    /// The KAT's speech packet: `90 78 seq ts=0 ssrc de be 00 00` ‖ payload.
    fn speech_packet(v: &dyn Vectors) -> Result<Vec<u8>, Failure> {
        let mut p = Vec::from([0x90, 0x78]);
        p.extend_from_slice(&u16_at(v, "inputs.seq")?.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p.extend_from_slice(&u32_at(v, "inputs.ssrc")?.to_be_bytes());
        p.extend_from_slice(&[0xde, 0xbe, 0, 0]);
        p.extend_from_slice(&hex(v, "inputs.payload")?);
        Ok(p)
    }

    /// Every value of `voip/kats.json` this module pins, one check each.
    pub static CHECKS: &[Check] = &[
        Check {
            path: "e2e_srtp.rtpIv",
            run: |v| {
                let c = StreamCrypto::new(&peer_master(v)?, Stream::Rtp);
                let iv = c.iv(u32_at(v, "inputs.ssrc")?, index(v)?);
                expect_eq("e2e_srtp.rtpIv", &iv[..], &hex(v, "e2e_srtp.rtpIv")?[..])
            },
        },
        Check {
            path: "e2e_srtp.cipher_out",
            run: |v| {
                let ssrc = u32_at(v, "inputs.ssrc")?;
                if v.get("inputs.roc") != Some(crate::kat::Value::Int(0)) {
                    return Err(Failure::new("inputs.roc", "a fresh sender starts at ROC 0"));
                }
                let plain = speech_packet(v)?;
                let mut buf = plain.clone();
                buf.resize(plain.len() + 4, 0);
                let mut tx = SrtpSender::new(&peer_master(v)?, ssrc, Config::WHATSAPP);
                let n = tx
                    .protect_rtp(&mut buf, plain.len())
                    .map_err(|_| Failure::new("e2e_srtp.cipher_out", "protect refused"))?;
                let want = hex(v, "e2e_srtp.cipher_out")?;
                expect_eq("e2e_srtp.cipher_out", &buf[16..n - 4], &want[..])?;
                // The peer's receiver (same sender key) takes it back.
                let mut rx = SrtpReceiver::<1>::new(&peer_master(v)?, Config::WHATSAPP);
                rx.add_ssrc(ssrc)
                    .map_err(|_| Failure::new("e2e_srtp.cipher_out", "add_ssrc"))?;
                let m = rx
                    .unprotect_rtp(&mut buf[..n])
                    .map_err(|_| Failure::new("e2e_srtp.cipher_out", "unprotect refused"))?;
                expect_eq("e2e_srtp.cipher_out (unprotect)", &buf[..m], &plain[..])
            },
        },
        Check {
            path: "e2e_srtp.warp_mi_tag4",
            run: |v| {
                let c = StreamCrypto::new(&peer_master(v)?, Stream::Rtp);
                let roc = u32_at(v, "inputs.roc")?.to_be_bytes();
                let tag = c.hmac.mac(&[&hex(v, "inputs.samplePacket")?, &roc]);
                let want = hex(v, "e2e_srtp.warp_mi_tag4")?;
                expect_eq("e2e_srtp.warp_mi_tag4", &tag[..4], &want[..])
            },
        },
        Check {
            path: "hbh_srtp.rtpIcmNonce",
            run: |v| {
                // libsrtp's ICM nonce is the IV before the session salt is XORed in.
                let c = StreamCrypto::new(&hbh_uplink_master(v)?, Stream::Rtp);
                let mut iv = c.iv(u32_at(v, "inputs.ssrc")?, index(v)?);
                for (b, s) in iv.iter_mut().zip(c.salt) {
                    *b ^= s;
                }
                expect_eq(
                    "hbh_srtp.rtpIcmNonce",
                    &iv[..],
                    &hex(v, "hbh_srtp.rtpIcmNonce")?[..],
                )
            },
        },
        Check {
            path: "hbh_srtp.cipher_out",
            run: |v| {
                let c = StreamCrypto::new(&hbh_uplink_master(v)?, Stream::Rtp);
                let mut data = hex(v, "inputs.payload")?;
                c.crypt(u32_at(v, "inputs.ssrc")?, index(v)?, &mut data)
                    .map_err(|_| Failure::new("hbh_srtp.cipher_out", "crypt refused"))?;
                expect_eq(
                    "hbh_srtp.cipher_out",
                    &data[..],
                    &hex(v, "hbh_srtp.cipher_out")?[..],
                )
            },
        },
        Check {
            path: "hbh_srtp.srtcpProtectedSrIndex1",
            run: |v| {
                const AT: &str = "hbh_srtp.srtcpProtectedSrIndex1";
                let sr = hex(v, "rtcp.senderReport")?;
                let want = hex(v, AT)?;
                let ssrc = be32(&sr, 4);
                let master = hbh_uplink_master(v)?;
                let mut tx = SrtpSender::new(&master, ssrc, Config::SHA1_80);
                let mut buf = sr.clone();
                buf.resize(want.len(), 0);
                let n = tx
                    .protect_rtcp(&mut buf, sr.len())
                    .map_err(|_| Failure::new(AT, "protect refused"))?;
                expect_eq(AT, &buf[..n], &want[..])?;
                let mut rx = SrtpReceiver::<1>::new(&master, Config::SHA1_80);
                rx.add_ssrc(ssrc)
                    .map_err(|_| Failure::new(AT, "add_ssrc"))?;
                let m = rx
                    .unprotect_rtcp(&mut buf[..n])
                    .map_err(|_| Failure::new(AT, "unprotect refused"))?;
                expect_eq(
                    "hbh_srtp.srtcpProtectedSrIndex1 (unprotect)",
                    &buf[..m],
                    &sr[..],
                )
            },
        },
    ];

    /// The `voip/kats.json` SRTP suite.
    pub fn kats(v: &dyn Vectors) -> Result<(), Failure> {
        run_checks(v, CHECKS)
    }

    /// RFC 3711 B.2 (`rfc3711-aes-cm.json`): keystream blocks through [`AesCm`].
    pub fn rfc3711_aes_cm(v: &dyn Vectors) -> Result<(), Failure> {
        for i in 0..len(v, "cases")? {
            let at = |f: &str| format!("cases.{i}.{f}");
            let key: [u8; 16] = hex(v, &at("key"))?[..]
                .try_into()
                .map_err(|_| Failure::new(&at("key"), "not 16 bytes"))?;
            let iv: [u8; 16] = hex(v, &at("iv"))?[..]
                .try_into()
                .map_err(|_| Failure::new(&at("iv"), "not 16 bytes"))?;
            let want = hex(v, &at("keystream"))?;
            let mut got = alloc::vec![0u8; want.len()];
            AesCm::new(&key)
                .apply_keystream(&iv, &mut got)
                .map_err(|_| Failure::new(&at("keystream"), "refused"))?;
            expect_eq(&at("keystream"), &got[..], &want[..])?;
        }
        Ok(())
    }
}
