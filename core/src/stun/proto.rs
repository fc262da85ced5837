//! The few protobuf payloads the relay dialect carries, hand-encoded into caller buffers.
//!
//! Field layouts (all from the reconstructions' documented wire bytes):
//!
//! - WASM `StreamDescriptors` (attribute 0x4024): repeated field 1 =
//!   `{1: stream_index (omitted when 0), 2: sub_type (omitted when 0), 3: ssrc}`, all varints.
//! - WASM `voip.SenderSubscriptions` (attribute 0x4000 in some binding requests):
//!   `{1: {3: ssrc, 5: stream_layer, 6: payload_type}}`, the zero enums written out.
//! - APK `wa.voip.SenderSubscriptions` (0x4025): `{1: {1: {1: [zigzag ssrc], 2: [{1: zigzag pid,
//!   2: layer_id}]}}}`.
//! - APK `wa.voip.StreamDescriptors` (0x4024): `{1: {1: layer, 2: codec, 3: zigzag ssrc,
//!   4: prefetch bool}}`.

/// Why a protobuf payload could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A varint, length or field ran off the end.
    Truncated,
    /// A varint longer than 10 bytes, or a value out of range for its field.
    Malformed,
    /// A wire type this reader does not handle (groups).
    WireType,
    /// The output buffer is too small.
    BufferTooSmall,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "protobuf: truncated",
            Error::Malformed => "protobuf: malformed",
            Error::WireType => "protobuf: unsupported wire type",
            Error::BufferTooSmall => "protobuf: buffer too small",
        })
    }
}

impl core::error::Error for Error {}

/// One decoded field value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

/// Iterator over the fields of a message: `(field number, value)`; stops after the first error.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

/// Walk the fields of `msg`.
pub fn fields(msg: &[u8]) -> Fields<'_> {
    Fields { rest: msg }
}

fn read_varint(b: &[u8]) -> Result<(u64, usize), Error> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    if b.len() < 10 {
        Err(Error::Truncated)
    } else {
        Err(Error::Malformed)
    }
}

impl<'a> Fields<'a> {
    fn step(&mut self) -> Result<(u32, Value<'a>), Error> {
        let (key, n) = read_varint(self.rest)?;
        let field = u32::try_from(key >> 3).map_err(|_| Error::Malformed)?;
        let rest = &self.rest[n..];
        let (value, used) = match key & 7 {
            0 => {
                let (v, n) = read_varint(rest)?;
                (Value::Varint(v), n)
            }
            1 => {
                let b = rest.get(..8).ok_or(Error::Truncated)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (Value::Fixed64(u64::from_le_bytes(a)), 8)
            }
            2 => {
                let (len, n) = read_varint(rest)?;
                let len = usize::try_from(len).map_err(|_| Error::Malformed)?;
                let end = n.checked_add(len).ok_or(Error::Malformed)?;
                (Value::Bytes(rest.get(n..end).ok_or(Error::Truncated)?), end)
            }
            5 => {
                let b = rest.get(..4).ok_or(Error::Truncated)?;
                (
                    Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    4,
                )
            }
            _ => return Err(Error::WireType),
        };
        self.rest = &rest[used..];
        Ok((field, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// A protobuf writer over a caller buffer.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Zigzag-encode a signed value (protobuf `sint64`).
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

impl<'b> Writer<'b> {
    /// A writer filling `buf` from the start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, at: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.at
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.at == 0
    }

    fn raw_varint(&mut self, mut v: u64) -> Result<(), Error> {
        loop {
            let slot = self.buf.get_mut(self.at).ok_or(Error::BufferTooSmall)?;
            let low = (v & 0x7F) as u8;
            v >>= 7;
            *slot = if v == 0 { low } else { low | 0x80 };
            self.at += 1;
            if v == 0 {
                return Ok(());
            }
        }
    }

    /// A varint field.
    pub fn varint(&mut self, field: u32, v: u64) -> Result<(), Error> {
        self.raw_varint(u64::from(field) << 3)?;
        self.raw_varint(v)
    }

    /// A length-delimited field with the given bytes.
    pub fn bytes(&mut self, field: u32, v: &[u8]) -> Result<(), Error> {
        self.raw_varint(u64::from(field) << 3 | 2)?;
        self.raw_varint(v.len() as u64)?;
        let out = self
            .buf
            .get_mut(self.at..self.at + v.len())
            .ok_or(Error::BufferTooSmall)?;
        out.copy_from_slice(v);
        self.at += v.len();
        Ok(())
    }

    /// A nested message field whose body `f` writes.
    pub fn nested(
        &mut self,
        field: u32,
        f: impl FnOnce(&mut Writer<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.raw_varint(u64::from(field) << 3 | 2)?;
        // Write the body after room for the longest length prefix, then slide it down.
        const ROOM: usize = 5;
        let start = self.at;
        let body_at = start.checked_add(ROOM).ok_or(Error::BufferTooSmall)?;
        let inner_buf = self.buf.get_mut(body_at..).ok_or(Error::BufferTooSmall)?;
        let mut inner = Writer::new(inner_buf);
        f(&mut inner)?;
        let body_len = inner.at;
        let prefix = varint_len(body_len as u64);
        self.buf
            .copy_within(body_at..body_at + body_len, start + prefix);
        self.raw_varint(body_len as u64)?;
        self.at = start + prefix + body_len;
        Ok(())
    }
}

/// One WASM stream descriptor (an entry of attribute 0x4024).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamDescriptor {
    /// Stream index: 0 audio, 1 video, 2 secondary video (3, 4: group HBH FEC).
    pub stream_index: u32,
    /// Sub-type: 0 media, 1 FEC, 2 NACK (3: HBH FEC).
    pub sub_type: u32,
    /// The SSRC carried on that stream.
    pub ssrc: u32,
}

/// Encode WASM `StreamDescriptors` into `out`; returns the length.
pub fn encode_stream_descriptors(
    descriptors: &[StreamDescriptor],
    out: &mut [u8],
) -> Result<usize, Error> {
    let mut w = Writer::new(out);
    for d in descriptors {
        w.nested(1, |w| {
            if d.stream_index != 0 {
                w.varint(1, d.stream_index.into())?;
            }
            if d.sub_type != 0 {
                w.varint(2, d.sub_type.into())?;
            }
            w.varint(3, d.ssrc.into())
        })?;
    }
    Ok(w.len())
}

/// Iterator over the descriptors of a WASM `StreamDescriptors` payload.
#[derive(Clone, Debug)]
pub struct StreamDescriptors<'a> {
    outer: Fields<'a>,
}

/// Read a WASM `StreamDescriptors` payload (unknown fields are skipped).
pub fn stream_descriptors(payload: &[u8]) -> StreamDescriptors<'_> {
    StreamDescriptors {
        outer: fields(payload),
    }
}

fn u32_of(v: Value<'_>) -> Result<u32, Error> {
    match v {
        Value::Varint(x) => u32::try_from(x).map_err(|_| Error::Malformed),
        _ => Err(Error::Malformed),
    }
}

fn decode_descriptor(body: &[u8]) -> Result<StreamDescriptor, Error> {
    let mut d = StreamDescriptor {
        stream_index: 0,
        sub_type: 0,
        ssrc: 0,
    };
    for f in fields(body) {
        match f? {
            (1, v) => d.stream_index = u32_of(v)?,
            (2, v) => d.sub_type = u32_of(v)?,
            (3, v) => d.ssrc = u32_of(v)?,
            _ => {}
        }
    }
    Ok(d)
}

impl Iterator for StreamDescriptors<'_> {
    type Item = Result<StreamDescriptor, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.outer.next()? {
                Err(e) => return Some(Err(e)),
                Ok((1, Value::Bytes(body))) => {
                    let r = decode_descriptor(body);
                    if r.is_err() {
                        self.outer.rest = &[];
                    }
                    return Some(r);
                }
                Ok((1, _)) => {
                    self.outer.rest = &[];
                    return Some(Err(Error::Malformed));
                }
                Ok(_) => continue,
            }
        }
    }
}

/// Encode the WASM `voip.SenderSubscriptions` for one audio sender into `out`.
pub fn encode_voip_sender_subscriptions(ssrc: u32, out: &mut [u8]) -> Result<usize, Error> {
    let mut w = Writer::new(out);
    w.nested(1, |w| {
        w.varint(3, ssrc.into())?;
        // stream_layer AUDIO = 0 and payload_type MEDIA = 0 are written out explicitly.
        w.varint(5, 0)?;
        w.varint(6, 0)
    })?;
    Ok(w.len())
}

/// Encode the APK `wa.voip.SenderSubscriptions` for one SSRC, optionally naming a participant
/// `(pid, layer_id)`.
pub fn encode_apk_sender_subscriptions(
    ssrc: u32,
    pid: Option<(i64, &str)>,
    out: &mut [u8],
) -> Result<usize, Error> {
    let mut w = Writer::new(out);
    w.nested(1, |w| {
        w.nested(1, |w| {
            w.varint(1, zigzag(i64::from(ssrc)))?;
            if let Some((pid, layer)) = pid {
                w.nested(2, |w| {
                    w.varint(1, zigzag(pid))?;
                    w.bytes(2, layer.as_bytes())
                })?;
            }
            Ok(())
        })
    })?;
    Ok(w.len())
}

/// Encode the APK `wa.voip.StreamDescriptors` with one descriptor.
pub fn encode_apk_stream_descriptors(
    layer: &str,
    codec: &str,
    ssrc: u32,
    uplink_prefetch: bool,
    out: &mut [u8],
) -> Result<usize, Error> {
    let mut w = Writer::new(out);
    w.nested(1, |w| {
        w.bytes(1, layer.as_bytes())?;
        w.bytes(2, codec.as_bytes())?;
        w.varint(3, zigzag(i64::from(ssrc)))?;
        w.varint(4, u64::from(uplink_prefetch))
    })?;
    Ok(w.len())
}

/// Known-answer checks against the `stun_proto` group of the shared `voip/kats.json`.
#[cfg(feature = "kat")]
pub mod kat {
    use crate::kat::{Failure, Vectors, expect_eq, hex, int};

    /// The four protobuf payloads, encoded from their documented field values.
    pub fn payloads(v: &dyn Vectors) -> Result<(), Failure> {
        let ssrc = int(v, "inputs.ssrc")? as u32;
        for (i, name) in [
            "stun_proto.voip_sender_subscriptions",
            "stun_proto.apk_sender_subscriptions_nopid",
            "stun_proto.apk_sender_subscriptions_pid",
            "stun_proto.apk_stream_descriptors",
        ]
        .into_iter()
        .enumerate()
        {
            let mut buf = [0u8; 64];
            let n = match i {
                0 => super::encode_voip_sender_subscriptions(ssrc, &mut buf),
                1 => super::encode_apk_sender_subscriptions(ssrc, None, &mut buf),
                2 => super::encode_apk_sender_subscriptions(ssrc, Some((7, "audio")), &mut buf),
                _ => super::encode_apk_stream_descriptors("audio", "OPUS", ssrc, false, &mut buf),
            }
            .map_err(|_| Failure {
                at: alloc::string::String::from(name),
                what: "encoder refused",
            })?;
            expect_eq(name, &buf[..n], &hex(v, name)?[..])?;
        }
        Ok(())
    }
}
