//! PCM frames over `embedded-io` byte streams.
//!
//! Microcontroller audio paths (an I2S DMA ring, a USB audio endpoint, a codec driver) are commonly
//! exposed as byte streams. The core works in whole frames of 16-bit mono samples at 16 kHz
//! (20 ms = 320 samples). [`PcmReader`] and [`PcmWriter`] move whole frames of little-endian `i16`
//! between such a stream and caller buffers, without allocation.

use embedded_io::{Read, ReadExactError, Write};

/// Bytes per sample of 16-bit PCM.
const SAMPLE_BYTES: usize = 2;
/// Samples converted per chunk: bounds the stack buffer independently of the frame size.
const CHUNK_SAMPLES: usize = 64;

/// A frame could not be moved.
#[derive(Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The source ended before a whole frame; the partial frame is discarded.
    EndOfStream,
    /// The underlying stream failed.
    Io(E),
}

/// Reads whole frames of s16le PCM from a byte stream.
pub struct PcmReader<R> {
    inner: R,
}

impl<R: Read> PcmReader<R> {
    /// Wraps a byte source.
    pub fn new(inner: R) -> Self {
        PcmReader { inner }
    }

    /// Fills `frame` completely, or fails with [`Error::EndOfStream`] if the stream ends first.
    pub fn read_frame(&mut self, frame: &mut [i16]) -> Result<(), Error<R::Error>> {
        let mut bytes = [0u8; CHUNK_SAMPLES * SAMPLE_BYTES];
        for chunk in frame.chunks_mut(CHUNK_SAMPLES) {
            let raw = &mut bytes[..chunk.len() * SAMPLE_BYTES];
            self.inner.read_exact(raw).map_err(|e| match e {
                ReadExactError::UnexpectedEof => Error::EndOfStream,
                ReadExactError::Other(e) => Error::Io(e),
            })?;
            for (s, b) in chunk.iter_mut().zip(raw.chunks_exact(SAMPLE_BYTES)) {
                *s = i16::from_le_bytes([b[0], b[1]]);
            }
        }
        Ok(())
    }
}

/// Writes whole frames of s16le PCM to a byte stream.
pub struct PcmWriter<W> {
    inner: W,
}

impl<W: Write> PcmWriter<W> {
    /// Wraps a byte sink.
    pub fn new(inner: W) -> Self {
        PcmWriter { inner }
    }

    /// Writes every sample of `frame`.
    pub fn write_frame(&mut self, frame: &[i16]) -> Result<(), Error<W::Error>> {
        let mut bytes = [0u8; CHUNK_SAMPLES * SAMPLE_BYTES];
        for chunk in frame.chunks(CHUNK_SAMPLES) {
            for (b, s) in bytes.chunks_exact_mut(SAMPLE_BYTES).zip(chunk) {
                b.copy_from_slice(&s.to_le_bytes());
            }
            self.inner
                .write_all(&bytes[..chunk.len() * SAMPLE_BYTES])
                .map_err(Error::Io)?;
        }
        Ok(())
    }

    /// The wrapped sink.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_frames_across_chunks() {
        // 70 samples spans two conversion chunks.
        let mut stream = [0u8; 140];
        for (i, b) in stream.chunks_exact_mut(2).enumerate() {
            b.copy_from_slice(&(i as i16 * -300).to_le_bytes());
        }
        let mut r = PcmReader::new(&stream[..]);
        let mut frame = [0i16; 70];
        r.read_frame(&mut frame).unwrap();
        assert_eq!(frame[0], 0);
        assert_eq!(frame[1], -300);
        assert_eq!(frame[69], -20_700);
        assert_eq!(r.read_frame(&mut frame[..1]), Err(Error::EndOfStream));
    }

    #[test]
    fn partial_frame_at_end_is_end_of_stream() {
        let stream = [1u8, 0, 2];
        let mut r = PcmReader::new(&stream[..]);
        let mut frame = [0i16; 2];
        assert_eq!(r.read_frame(&mut frame), Err(Error::EndOfStream));
    }

    #[test]
    fn writes_little_endian_and_reports_a_full_sink() {
        let mut out = [0u8; 8];
        let mut w = PcmWriter::new(&mut out[..]);
        w.write_frame(&[0x0102, -2]).unwrap();
        assert!(matches!(w.write_frame(&[1, 2, 3]), Err(Error::Io(_))));
        assert_eq!(out[..4], [0x02, 0x01, 0xFE, 0xFF]);
    }
}
