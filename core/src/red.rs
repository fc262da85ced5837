//! SplitRed: WhatsApp's redundancy envelope for MLow on PT 121.
//!
//! ```text
//! [1ttttttt size8] × N     redundant-block headers (time code, body length)
//! [0ttttttt]               main marker: ends the header run, main time code
//! body_0 … body_{N-1}      redundant bodies, in header order
//! main body                the rest of the payload (at least one byte)
//! ```
//!
//! There is no count field: the first byte with the high bit clear ends the header run. A bare
//! MLow frame also starts with a set high bit now and then, so the envelope is chosen by payload
//! type, never by sniffing. The time codes are carried as they are; their relation to the RTP
//! timestamp is not pinned by any source, so [`Frame::time_code`] is left uninterpreted.
//!
//! [`SplitRed`] parses zero-copy and yields the redundant frames in header order, then the main
//! frame; [`Repr::emit`] builds an envelope into a caller buffer.

/// Most redundant blocks an envelope built by [`Repr`] may carry.
pub const MAX_REDUNDANT: usize = 8;

/// Why a SplitRed payload was rejected (the names follow the reference parser's error cases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Empty payload.
    PktSizeZero,
    /// The header run ran off the end before a main marker.
    HeaderTooShort,
    /// A redundant block (header or body) leaves no room for the main marker and a main byte.
    RedundantTooShort,
    /// The main marker is the last byte: the main body is empty.
    MainTooShort,
    /// Emit: a time code above 127, a body longer than 255 bytes, or more than
    /// [`MAX_REDUNDANT`] blocks.
    Field,
    /// Emit: the caller's buffer is too small.
    BufferTooSmall,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::PktSizeZero => "splitred: empty payload",
            Error::HeaderTooShort => "splitred: header run truncated",
            Error::RedundantTooShort => "splitred: redundant block too long",
            Error::MainTooShort => "splitred: empty main frame",
            Error::Field => "splitred: field out of range",
            Error::BufferTooSmall => "splitred: buffer too small",
        })
    }
}

impl core::error::Error for Error {}

/// One frame out of an envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The 7-bit time code of this frame.
    pub time_code: u8,
    /// The frame bytes (a complete MLow frame, TOC first).
    pub data: &'a [u8],
    /// Whether this is the main frame (the last one yielded).
    pub is_main: bool,
}

/// A checked SplitRed envelope, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitRed<'a> {
    payload: &'a [u8],
    redundant: usize,
}

impl<'a> SplitRed<'a> {
    /// Check the whole envelope; after this no accessor can fail.
    pub fn parse(payload: &'a [u8]) -> Result<Self, Error> {
        if payload.is_empty() {
            return Err(Error::PktSizeZero);
        }
        let mut cur = 0usize;
        // Bytes not yet assigned to a header or a redundant body.
        let mut rem = payload.len();
        let mut redundant = 0usize;
        loop {
            let Some(&b0) = payload.get(cur) else {
                return Err(Error::HeaderTooShort);
            };
            if rem == 0 {
                return Err(Error::HeaderTooShort);
            }
            if b0 & 0x80 == 0 {
                if rem <= 1 {
                    return Err(Error::MainTooShort);
                }
                break;
            }
            if rem <= 2 {
                return Err(Error::RedundantTooShort);
            }
            let size = usize::from(*payload.get(cur + 1).ok_or(Error::RedundantTooShort)?);
            if size + 2 >= rem {
                return Err(Error::RedundantTooShort);
            }
            redundant += 1;
            cur += 2;
            rem -= size + 2;
        }
        Ok(SplitRed { payload, redundant })
    }

    /// Number of redundant frames.
    pub fn redundant_count(&self) -> usize {
        self.redundant
    }

    /// The main frame.
    pub fn main(&self) -> Frame<'a> {
        let mut last = None;
        for f in self.frames() {
            last = Some(f);
        }
        // `parse` guarantees the iterator ends with the main frame.
        last.unwrap_or(Frame {
            time_code: 0,
            data: &[],
            is_main: true,
        })
    }

    /// Every frame: redundant ones in header order, then the main frame.
    pub fn frames(&self) -> Frames<'a> {
        let body = 2 * self.redundant + 1;
        Frames {
            payload: self.payload,
            header: 0,
            body,
            left: self.redundant + 1,
        }
    }
}

/// Iterator over the frames of a [`SplitRed`].
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    payload: &'a [u8],
    header: usize,
    body: usize,
    left: usize,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let b0 = *self.payload.get(self.header)?;
        if self.left == 0 {
            let data = self.payload.get(self.body..)?;
            return Some(Frame {
                time_code: b0 & 0x7F,
                data,
                is_main: true,
            });
        }
        let size = usize::from(*self.payload.get(self.header + 1)?);
        let data = self.payload.get(self.body..self.body + size)?;
        self.header += 2;
        self.body += size;
        Some(Frame {
            time_code: b0 & 0x7F,
            data,
            is_main: false,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// The typed form of an envelope to build: redundant frames (oldest first) and the main frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'r, 'a> {
    /// Redundant frames as (time code, body); at most [`MAX_REDUNDANT`], bodies ≤ 255 bytes.
    pub redundant: &'r [(u8, &'a [u8])],
    /// Main frame time code (≤ 127).
    pub main_time_code: u8,
    /// Main frame body (non-empty).
    pub main: &'a [u8],
}

impl Repr<'_, '_> {
    /// Envelope length.
    pub fn buffer_len(&self) -> usize {
        let bodies: usize = self.redundant.iter().map(|(_, b)| b.len()).sum();
        2 * self.redundant.len() + 1 + bodies + self.main.len()
    }

    /// Write the envelope into `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.redundant.len() > MAX_REDUNDANT
            || self.main_time_code > 0x7F
            || self.main.is_empty()
            || self
                .redundant
                .iter()
                .any(|&(tc, b)| tc > 0x7F || b.len() > 255)
        {
            return Err(Error::Field);
        }
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let mut at = 0;
        for &(tc, body) in self.redundant {
            out[at] = 0x80 | tc;
            // Checked above: at most 255.
            out[at + 1] = body.len() as u8;
            at += 2;
        }
        out[at] = self.main_time_code;
        at += 1;
        for &(_, body) in self.redundant {
            out[at..at + body.len()].copy_from_slice(body);
            at += body.len();
        }
        out[at..].copy_from_slice(self.main);
        Ok(len)
    }
}

/// Known-answer check for the worked example of wacrg `mlow-red-fec` (our own vector file).
#[cfg(feature = "kat")]
pub mod kat {
    use crate::kat::{Failure, Vectors, expect_eq, hex, int, len, text};
    use alloc::format;

    /// Each case's envelope parsed into the listed frames, and rebuilt from them byte for byte.
    pub fn worked_examples(v: &dyn Vectors) -> Result<(), Failure> {
        for i in 0..len(v, "cases")? {
            let at = |f: &str| format!("cases.{i}.{f}");
            let payload = hex(v, &at("payload"))?;
            let parsed = super::SplitRed::parse(&payload);
            if let Ok(err) = text(v, &at("error")) {
                let got = format!("{:?}", parsed.err());
                expect_eq(&at("error"), &got[..], &format!("Some({err})")[..])?;
                continue;
            }
            let red = parsed.map_err(|_| Failure {
                at: at("payload"),
                what: "rejected",
            })?;
            let n = len(v, &at("frames"))?;
            expect_eq(&at("frames.#"), &red.frames().count(), &n)?;
            let mut pairs: heapless::Vec<(u8, &[u8]), { super::MAX_REDUNDANT }> =
                heapless::Vec::new();
            let wants: alloc::vec::Vec<_> = (0..n)
                .map(|j| {
                    Ok((
                        int(v, &format!("cases.{i}.frames.{j}.timeCode"))? as u8,
                        hex(v, &format!("cases.{i}.frames.{j}.data"))?,
                    ))
                })
                .collect::<Result<_, Failure>>()?;
            for (j, (f, w)) in red.frames().zip(&wants).enumerate() {
                let here = format!("cases.{i}.frames.{j}");
                expect_eq(
                    &here,
                    &(f.time_code, f.data, f.is_main),
                    &(w.0, &w.1[..], j + 1 == n),
                )?;
                if !f.is_main {
                    pairs.push((f.time_code, f.data)).map_err(|_| Failure {
                        at: here,
                        what: "too many",
                    })?;
                }
            }
            let main = red.main();
            let repr = super::Repr {
                redundant: &pairs,
                main_time_code: main.time_code,
                main: main.data,
            };
            let mut out = alloc::vec![0u8; repr.buffer_len()];
            repr.emit(&mut out).map_err(|_| Failure {
                at: at("payload"),
                what: "emit refused",
            })?;
            expect_eq(&at("payload"), &out[..], &payload[..])?;
        }
        Ok(())
    }
}
