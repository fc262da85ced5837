//! SFrame as WhatsApp applies it inside the SRTP payload: AES-128-GCM with a 16-byte nonce
//! (8 zero bytes ‖ the frame counter as a little-endian u64), no AAD, a 16-byte tag, and a
//! *trailer* header:
//!
//! ```text
//! ciphertext ‖ tag (16) ‖ varint(counter) ‖ varint(key id) ‖ header length (1, counts itself)
//! ```
//!
//! Varints are LEB128; the key id is always 0 on send and ignored on receive. The counter starts
//! at 0 and increases per frame.
//!
//! Direction rule for 1:1 calls ([`OneToOne`]): frames are **sealed under the key of the peer's
//! id and opened under the key of our own id** — the opposite of SRTP's sender-id rule.
//!
//! Receivers treat any [`Error`] from [`SframeOpener::open`] as "this frame is not SFrame" and use
//! the bytes as they are: peers may send plain codec frames. `open` leaves the buffer untouched on
//! error, so that fallback is always possible.

use crate::crypto::Aes128Gcm16;
use crate::keys::{CallKey, ParticipantId, SframeKey};

/// Why a frame was not sealed or opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Too short to hold a header, a tag and at least one byte of ciphertext.
    TooShort,
    /// The trailer header length or its varints are inconsistent.
    BadHeader,
    /// The GCM tag did not verify.
    AuthFailed,
    /// The caller's buffer has no room for tag and header.
    BufferTooSmall,
    /// The 64-bit frame counter is used up.
    CounterExhausted,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::TooShort => "frame too short",
            Error::BadHeader => "bad SFrame header",
            Error::AuthFailed => "authentication failed",
            Error::BufferTooSmall => "buffer has no room for tag and header",
            Error::CounterExhausted => "frame counter exhausted",
        })
    }
}

impl core::error::Error for Error {}

/// GCM tag length.
pub const TAG_LEN_BYTES: usize = 16;
/// Shortest frame `open` considers: 3-byte header, 16-byte tag (and ≥ 1 ciphertext byte on top).
pub const MIN_FRAME_LEN_BYTES: usize = 19;
/// Longest trailer header: two 10-byte varints and the length byte.
pub const MAX_HEADER_LEN_BYTES: usize = 21;

/// The 16-byte GCM nonce of frame `counter`: 8 zero bytes, then the counter little-endian.
pub fn nonce(counter: u64) -> [u8; 16] {
    let mut n = [0u8; 16];
    n[8..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// The SFrame trailer header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Frame counter (the nonce input).
    pub counter: u64,
    /// Key id (always 0 in WhatsApp 1:1).
    pub key_id: u64,
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn emit_varint(mut v: u64, out: &mut [u8]) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Parse one LEB128 u64 from the front of `b`: (value, bytes used).
fn parse_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7f);
        if i == 9 && bits > 1 {
            return None;
        }
        v |= bits << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

impl Header {
    /// Encoded length, including the trailing length byte.
    pub fn buffer_len(&self) -> usize {
        varint_len(self.counter) + varint_len(self.key_id) + 1
    }

    /// Write the header into `out[..buffer_len()]`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, Error> {
        let n = self.buffer_len();
        let out = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let c = emit_varint(self.counter, out);
        emit_varint(self.key_id, &mut out[c..]);
        out[n - 1] = n as u8;
        Ok(n)
    }

    /// Parse the trailer header at the end of `frame`: (header, its length).
    pub fn parse_trailer(frame: &[u8]) -> Result<(Header, usize), Error> {
        let n = usize::from(*frame.last().ok_or(Error::TooShort)?);
        if !(3..=frame.len()).contains(&n) {
            return Err(Error::BadHeader);
        }
        let body = &frame[frame.len() - n..frame.len() - 1];
        let (counter, a) = parse_varint(body).ok_or(Error::BadHeader)?;
        let (key_id, b) = parse_varint(&body[a..]).ok_or(Error::BadHeader)?;
        if a + b != body.len() {
            return Err(Error::BadHeader);
        }
        Ok((Header { counter, key_id }, n))
    }
}

/// Seals outgoing frames under one key with a running counter.
#[derive(Debug)]
pub struct SframeSealer {
    aead: Aes128Gcm16,
    /// Counter of the next frame; `None` once all 2^64 are used.
    next: Option<u64>,
}

impl SframeSealer {
    /// A sealer whose first frame has counter 0.
    pub fn new(key: &SframeKey) -> Self {
        SframeSealer {
            aead: Aes128Gcm16::new(key.bytes()),
            next: Some(0),
        }
    }

    /// Counter the next frame will carry.
    pub fn next_counter(&self) -> Option<u64> {
        self.next
    }

    /// Seal the frame in `buf[..len]` in place and append tag and header; returns the new length.
    pub fn seal(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let counter = self.next.ok_or(Error::CounterExhausted)?;
        let header = Header { counter, key_id: 0 };
        let total = len + TAG_LEN_BYTES + header.buffer_len();
        if buf.len() < total {
            return Err(Error::BufferTooSmall);
        }
        let tag = self
            .aead
            .seal(&nonce(counter), &[], &mut buf[..len])
            .map_err(|_| Error::BufferTooSmall)?;
        buf[len..len + TAG_LEN_BYTES].copy_from_slice(&tag);
        header.emit(&mut buf[len + TAG_LEN_BYTES..])?;
        self.next = counter.checked_add(1);
        Ok(total)
    }
}

/// Opens incoming frames under one key.
#[derive(Debug)]
pub struct SframeOpener {
    aead: Aes128Gcm16,
}

impl SframeOpener {
    /// An opener for `key`.
    pub fn new(key: &SframeKey) -> Self {
        SframeOpener {
            aead: Aes128Gcm16::new(key.bytes()),
        }
    }

    /// Open the frame that fills `buf`: the plaintext ends up in `buf[..n]` and `n` is returned.
    /// On error `buf` is unchanged (use it as a plain frame).
    pub fn open(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.len() < MIN_FRAME_LEN_BYTES {
            return Err(Error::TooShort);
        }
        let (header, hdr_len) = Header::parse_trailer(buf)?;
        let sealed = buf.len() - hdr_len;
        let n = sealed
            .checked_sub(TAG_LEN_BYTES)
            .filter(|&n| n >= 1)
            .ok_or(Error::TooShort)?;
        let (data, rest) = buf.split_at_mut(n);
        let tag: &[u8; TAG_LEN_BYTES] = rest[..TAG_LEN_BYTES]
            .try_into()
            .map_err(|_| Error::TooShort)?;
        self.aead
            .open(&nonce(header.counter), &[], data, tag)
            .map_err(|_| Error::AuthFailed)?;
        Ok(n)
    }
}

/// The SFrame pair of a 1:1 call: seal under the peer's id, open under our own.
#[derive(Debug)]
pub struct OneToOne {
    /// Seals what we send (key of the peer's id).
    pub sealer: SframeSealer,
    /// Opens what we receive (key of our own id).
    pub opener: SframeOpener,
}

impl OneToOne {
    /// Derive both directions from the call key.
    pub fn new(call_key: &CallKey, own: &ParticipantId, peer: &ParticipantId) -> Self {
        OneToOne {
            sealer: SframeSealer::new(&SframeKey::derive(call_key, peer)),
            opener: SframeOpener::new(&SframeKey::derive(call_key, own)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_their_limits() {
        for v in [0u64, 0x7f, 0x80, 0x3fff, 0x4000, u64::MAX] {
            let h = Header {
                counter: v,
                key_id: 0,
            };
            let mut b = [0u8; MAX_HEADER_LEN_BYTES];
            let n = h.emit(&mut b).unwrap();
            assert_eq!(Header::parse_trailer(&b[..n]), Ok((h, n)));
        }
        // An 11th continuation byte or an overflowing 10th byte is not a u64.
        assert_eq!(parse_varint(&[0xff; 11]), None);
        assert_eq!(
            parse_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            None
        );
    }

    fn keyed() -> (SframeSealer, SframeOpener) {
        let key = SframeKey::derive(
            &CallKey::new([9; 32]),
            &ParticipantId::normalize("2@lid").unwrap(),
        );
        (SframeSealer::new(&key), SframeOpener::new(&key))
    }

    fn sealed(sealer: &mut SframeSealer, plain: &[u8]) -> alloc::vec::Vec<u8> {
        let mut b = plain.to_vec();
        b.resize(plain.len() + TAG_LEN_BYTES + MAX_HEADER_LEN_BYTES, 0);
        let n = sealer.seal(&mut b, plain.len()).unwrap();
        b.truncate(n);
        b
    }

    fn refuses(opener: &SframeOpener, frame: &[u8], want: Error) {
        let mut b = frame.to_vec();
        assert_eq!(opener.open(&mut b), Err(want));
        assert_eq!(b, frame, "a refused frame must be left as it was");
    }

    #[test]
    fn forged_truncated_and_malformed_frames_are_refused_untouched() {
        let (mut sealer, opener) = keyed();
        let good = sealed(&mut sealer, b"an mlow frame");
        // Any flipped bit of ciphertext or tag fails authentication.
        for bit in 0..(good.len() - 3) * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            refuses(&opener, &bad, Error::AuthFailed);
        }
        // A different counter in the header changes the nonce.
        let mut bad = good.clone();
        let at = bad.len() - 3;
        bad[at] ^= 1;
        refuses(&opener, &bad, Error::AuthFailed);
        // Truncations.
        for cut in 0..good.len() {
            let mut b = good[..cut].to_vec();
            assert!(opener.open(&mut b).is_err(), "cut {cut}");
            assert_eq!(b, &good[..cut]);
        }
        // Header length byte out of range, and varints that do not fill the header.
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = 2;
        refuses(&opener, &bad, Error::BadHeader);
        *bad.last_mut().unwrap() = 0xff;
        refuses(&opener, &bad, Error::BadHeader);
        // A key-id varint that runs into the length byte.
        let mut bad = good.clone();
        let at = bad.len() - 2;
        bad[at] = 0x80;
        refuses(&opener, &bad, Error::BadHeader);
        // Still opens afterwards.
        let mut b = good.clone();
        let n = opener.open(&mut b).unwrap();
        assert_eq!(&b[..n], b"an mlow frame");
    }

    #[test]
    fn seal_counts_frames_and_checks_room() {
        let (mut sealer, opener) = keyed();
        for counter in 0..300u64 {
            let frame = sealed(&mut sealer, &[counter as u8; 20]);
            assert_eq!(Header::parse_trailer(&frame).unwrap().0.counter, counter);
            let mut b = frame.clone();
            assert_eq!(opener.open(&mut b), Ok(20));
        }
        let mut small = [0u8; 20 + TAG_LEN_BYTES + 2];
        assert_eq!(sealer.seal(&mut small, 20), Err(Error::BufferTooSmall));
        assert_eq!(sealer.next_counter(), Some(300));
    }

    #[test]
    fn captured_plain_frames_are_not_sframe() {
        // Inbound plain frames from real peers (research note §4.2) must fail to open.
        let opener = SframeOpener::new(&SframeKey::derive(
            &CallKey::new([7; 32]),
            &ParticipantId::normalize("1@lid").unwrap(),
        ));
        for hex in [
            "00",
            "90b81414c4",
            "12101a759d3399bbaefb874fd75a004af7c0",
            "9036ba6ffa40",
        ] {
            let frame = crate::kat::decode_hex(hex).unwrap();
            let mut buf = frame.clone();
            assert!(opener.open(&mut buf).is_err(), "{hex}");
            assert_eq!(buf, frame);
        }
    }
}

/// Known answers of the SFrame layer from the shared `voip/kats.json`: nonce, trailer header and a
/// sealed frame (which also pins the direction rule: it is sealed under the peer's key).
#[cfg(feature = "kat")]
pub mod kat {
    use super::*;
    use crate::kat::{Check, Failure, Vectors, expect_eq, hex, int, run_checks, text};

    fn pair(v: &dyn Vectors) -> Result<OneToOne, Failure> {
        let ck = CallKey::from_slice(&hex(v, "inputs.callKey")?)
            .map_err(|_| Failure::new("inputs.callKey", "call key rejected"))?;
        let id = |p| {
            ParticipantId::normalize(text(v, p)?)
                .map_err(|_| Failure::new(p, "participant id rejected"))
        };
        Ok(OneToOne::new(
            &ck,
            &id("inputs.selfLid")?,
            &id("inputs.peerLid")?,
        ))
    }

    fn counter(v: &dyn Vectors) -> Result<u64, Failure> {
        u64::try_from(int(v, "inputs.sframeCounter")?)
            .map_err(|_| Failure::new("inputs.sframeCounter", "not a u64"))
    }

    /// Every value of `voip/kats.json` this module pins, one check each.
    pub static CHECKS: &[Check] = &[
        Check {
            path: "sframe.counterToIv_5",
            run: |v| {
                let got = nonce(counter(v)?);
                expect_eq(
                    "sframe.counterToIv_5",
                    &got[..],
                    &hex(v, "sframe.counterToIv_5")?[..],
                )
            },
        },
        Check {
            path: "sframe.header_5_0",
            run: |v| {
                let h = Header {
                    counter: counter(v)?,
                    key_id: 0,
                };
                let mut b = [0u8; MAX_HEADER_LEN_BYTES];
                let n = h
                    .emit(&mut b)
                    .map_err(|_| Failure::new("sframe.header_5_0", "emit"))?;
                let want = hex(v, "sframe.header_5_0")?;
                expect_eq("sframe.header_5_0", &b[..n], &want[..])?;
                let parsed = Header::parse_trailer(&want)
                    .map_err(|_| Failure::new("sframe.header_5_0", "parse refused"))?;
                expect_eq("sframe.header_5_0 (parse)", &parsed, &(h, want.len()))
            },
        },
        Check {
            path: "sframe.encrypt_out",
            run: |v| {
                const AT: &str = "sframe.encrypt_out";
                let want = hex(v, AT)?;
                let payload = hex(v, "inputs.payload")?;
                let mut our = pair(v)?;
                let mut buf = alloc::vec![0u8; want.len() + MAX_HEADER_LEN_BYTES];
                // Advance the sealer to the KAT's counter with throw-away frames.
                for _ in 0..counter(v)? {
                    our.sealer
                        .seal(&mut buf, 1)
                        .map_err(|_| Failure::new(AT, "seal refused"))?;
                }
                buf[..payload.len()].copy_from_slice(&payload);
                let n = our
                    .sealer
                    .seal(&mut buf, payload.len())
                    .map_err(|_| Failure::new(AT, "seal refused"))?;
                expect_eq(AT, &buf[..n], &want[..])?;
                // Our own opener (self key) must refuse it; the peer's (whose self is our peer)
                // opens it.
                let mut copy = want.clone();
                if our.opener.open(&mut copy).is_ok() {
                    return Err(Failure::new(AT, "opened under the wrong direction's key"));
                }
                let ck = CallKey::from_slice(&hex(v, "inputs.callKey")?)
                    .map_err(|_| Failure::new("inputs.callKey", "call key rejected"))?;
                let peer = ParticipantId::normalize(text(v, "inputs.peerLid")?)
                    .map_err(|_| Failure::new("inputs.peerLid", "participant id rejected"))?;
                let theirs = SframeOpener::new(&SframeKey::derive(&ck, &peer));
                let m = theirs
                    .open(&mut copy)
                    .map_err(|_| Failure::new(AT, "open refused"))?;
                expect_eq("sframe.encrypt_out (open)", &copy[..m], &payload[..])
            },
        },
    ];

    /// The `voip/kats.json` SFrame suite.
    pub fn kats(v: &dyn Vectors) -> Result<(), Failure> {
        run_checks(v, CHECKS)
    }
}
