//! Classify a message received from a relay: STUN, RTCP, RTP or other.
//!
//! Group relays may prefix forwarded media with an envelope whose first byte is `0x09`; its second
//! byte selects the envelope length (2 → 8 bytes, 4 → 12, 7 → 18) and at least 12 bytes of
//! version-2 RTP/RTCP must follow. A malformed envelope is an error, never passed through: its
//! metadata must not reach the media parsers.
//!
//! After unwrapping: fewer than 2 bytes → other; top two bits `00` → STUN; version 2 with at least
//! 8 bytes and a second byte in 192..=223 (RFC 5761's RTCP range) → RTCP; version 2 with at least
//! 12 bytes → RTP; anything else → other.

/// What a relay message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A STUN message (relay dialect).
    Stun,
    /// An (S)RTCP compound packet.
    Rtcp,
    /// An (S)RTP packet.
    Rtp,
    /// Nothing this stack handles.
    Other,
}

/// A message after demultiplexing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Demuxed<'a> {
    /// Its classification.
    pub kind: Kind,
    /// The message without any group envelope.
    pub bytes: &'a [u8],
    /// Length of the group envelope removed (0 if none).
    pub envelope_len: usize,
}

/// A `0x09` group envelope was unknown or truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeError;

impl core::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("demux: malformed group forwarding envelope")
    }
}

impl core::error::Error for EnvelopeError {}

/// First byte of a group forwarding envelope.
pub const GROUP_ENVELOPE_TAG: u8 = 0x09;

/// Remove a group envelope if present; other messages pass unchanged.
pub fn unwrap_envelope(msg: &[u8]) -> Result<(&[u8], usize), EnvelopeError> {
    if msg.first() != Some(&GROUP_ENVELOPE_TAG) {
        return Ok((msg, 0));
    }
    let len = match msg.get(1) {
        Some(2) => 8,
        Some(4) => 12,
        Some(7) => 18,
        _ => return Err(EnvelopeError),
    };
    match msg.get(len..) {
        Some(inner) if inner.len() >= 12 && inner[0] >> 6 == 2 => Ok((inner, len)),
        _ => Err(EnvelopeError),
    }
}

/// Classify an unwrapped message.
pub fn classify(msg: &[u8]) -> Kind {
    match msg {
        [] | [_] => Kind::Other,
        [b0, ..] if b0 & 0xC0 == 0 => Kind::Stun,
        [b0, b1, ..] if b0 >> 6 == 2 && msg.len() >= 8 && (192..=223).contains(b1) => Kind::Rtcp,
        [b0, ..] if b0 >> 6 == 2 && msg.len() >= 12 => Kind::Rtp,
        _ => Kind::Other,
    }
}

/// Unwrap any group envelope, then classify.
pub fn demux(msg: &[u8]) -> Result<Demuxed<'_>, EnvelopeError> {
    let (bytes, envelope_len) = unwrap_envelope(msg)?;
    Ok(Demuxed {
        kind: classify(bytes),
        bytes,
        envelope_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> alloc::vec::Vec<u8> {
        crate::kat::decode_hex(s).unwrap()
    }

    /// Envelopes captured from group calls, as the reconstructions pin them (8, 12, 18 bytes).
    #[test]
    fn captured_group_envelopes_unwrap_to_rtp() {
        for (msg, inner, len) in [
            (
                "0902336e0100018890e1001300120c96772e6aa9",
                "90e1001300120c96772e6aa9",
                8,
            ),
            (
                "09047eb5410001000000001090e100010013fbf08f1df407",
                "90e100010013fbf08f1df407",
                12,
            ),
            (
                "0907338f2900020a00c801e000000000000090780001000331808cd481d5",
                "90780001000331808cd481d5",
                18,
            ),
        ] {
            let msg = h(msg);
            let d = demux(&msg).unwrap();
            assert_eq!(
                (d.kind, d.bytes, d.envelope_len),
                (Kind::Rtp, &h(inner)[..], len)
            );
        }
    }

    #[test]
    fn malformed_envelopes_are_errors() {
        for msg in [
            &[0x09][..],
            &[0x09, 0xFF],
            &[0x09, 0x02, 0, 0, 0, 0, 0, 0],
            &[
                0x09, 0x02, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ] {
            assert_eq!(demux(msg), Err(EnvelopeError));
        }
    }

    #[test]
    fn classification_table() {
        assert_eq!(classify(&[0x00, 0x01]), Kind::Stun);
        assert_eq!(classify(&[0x08, 0x01]), Kind::Stun);
        assert_eq!(classify(&[0x80, 0xC8, 0, 1, 0, 0, 0, 1]), Kind::Rtcp);
        // A PSFB whose FMT changes the first byte is still RTCP.
        assert_eq!(
            classify(&[0x8F, 0xCE, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]),
            Kind::Rtcp
        );
        let mut rtp = [0u8; 12];
        rtp[0] = 0x80;
        rtp[1] = 0xE1; // marker + PT 97: byte 225, outside the RTCP range
        assert_eq!(classify(&rtp), Kind::Rtp);
        rtp[1] = 0x61;
        assert_eq!(classify(&rtp), Kind::Rtp);
        assert_eq!(classify(&rtp[..11]), Kind::Other);
        assert_eq!(classify(&[0xFF, 0xFF]), Kind::Other);
        assert_eq!(classify(&[0x00]), Kind::Other);
    }
}
