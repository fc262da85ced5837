//! The MLow table-of-contents byte (first payload byte) and the packet geometry it implies.
//!
//! Layout, with the reference decoder's meaning (bit 7 first):
//!
//! | bits | field |
//! | --- | --- |
//! | 7:6 | `00` coded without voice activity (still decoded), `01` active voice, `10` SID, `11` escape |
//! | 5 | internal rate: 0 = 16 kHz (low band only), 1 = 32 kHz (adds the high band) |
//! | 4:3 | packet duration: 10, 20, 60, 120 ms |
//! | 2 | low-rate mode |
//! | 1 | with VAD: in-band FEC present; without: coded as active voice during hang-over |
//! | 0 | stereo information present |
//!
//! `11` in bits 7:6 is not an MLow frame: it escapes to a CELT-only Opus frame whose header was
//! rewritten as `11 cccc s m` (CELT config − 16, stereo, multi-frame), see [`CeltEscape`].
//!
//! Differences from the public `toc_vectors.json` table (a regression table of one open decoder,
//! not of the reference): its `voiced` column is our [`SmplToc::fec`] (same formula `vad && bit1`,
//! but the reference uses it as the FEC flag, not as voicing); its `f0` is our stereo bit; for
//! escape bytes it derives a duration from an RFC 6716 config, while we read the rewritten CELT
//! header. Its `active` is the reference's `coded_as_active_voice`, which we do not use to silence
//! frames: frames coded inactive are decoded.

/// Packet duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duration {
    /// 10 ms.
    Ms10,
    /// 20 ms.
    Ms20,
    /// 60 ms.
    Ms60,
    /// 120 ms.
    Ms120,
}

impl Duration {
    /// The duration in milliseconds.
    pub fn ms(self) -> u32 {
        match self {
            Duration::Ms10 => 10,
            Duration::Ms20 => 20,
            Duration::Ms60 => 60,
            Duration::Ms120 => 120,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Duration::Ms10 => 0,
            Duration::Ms20 => 1,
            Duration::Ms60 => 2,
            Duration::Ms120 => 3,
        }
    }
}

/// A TOC byte of an MLow ("smpl") frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmplToc {
    /// Bit 7: SID / DTX frame.
    pub sid: bool,
    /// Bit 6: voice activity.
    pub vad: bool,
    /// Bit 5: 32 kHz internal rate (low band + high band); else 16 kHz.
    pub fs_32k: bool,
    /// Bits 4:3.
    pub duration: Duration,
    /// Bit 2: low-rate mode (fewer, longer subframes).
    pub low_rate: bool,
    /// Bit 1: FEC present (with VAD) or hang-over frame (without).
    pub bit1: bool,
    /// Bit 0: stereo information present.
    pub stereo: bool,
}

/// A CELT-only Opus frame carried behind the escape (`0b11` in bits 7:6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CeltEscape {
    /// The RFC 6716 configuration number, `16..=31` (CELT only).
    pub opus_config: u8,
    /// Stereo.
    pub stereo: bool,
    /// More than one frame follows, described by a code-3 style count byte.
    pub multi_frame: bool,
}

impl CeltEscape {
    /// Duration of one CELT frame in microseconds (2.5, 5, 10 or 20 ms).
    pub fn frame_us(self) -> u32 {
        [2500, 5000, 10_000, 20_000][usize::from((self.opus_config - 16) & 3)]
    }
}

/// What the first payload byte announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toc {
    /// An MLow frame.
    Smpl(SmplToc),
    /// An escaped CELT-only Opus frame.
    CeltEscape(CeltEscape),
}

impl Toc {
    /// Interpret a TOC byte. Every byte has a meaning, so this cannot fail.
    pub fn parse(b: u8) -> Toc {
        if b & 0xc0 == 0xc0 {
            return Toc::CeltEscape(CeltEscape {
                opus_config: 16 + ((b >> 2) & 0xf),
                stereo: b & 2 != 0,
                multi_frame: b & 1 != 0,
            });
        }
        Toc::Smpl(SmplToc {
            sid: b & 0x80 != 0,
            vad: b & 0x40 != 0,
            fs_32k: b & 0x20 != 0,
            duration: [
                Duration::Ms10,
                Duration::Ms20,
                Duration::Ms60,
                Duration::Ms120,
            ][usize::from((b >> 3) & 3)],
            low_rate: b & 4 != 0,
            bit1: b & 2 != 0,
            stereo: b & 1 != 0,
        })
    }

    /// The byte this TOC is written as.
    pub fn to_byte(self) -> u8 {
        match self {
            Toc::CeltEscape(e) => {
                0xc0 | ((e.opus_config.wrapping_sub(16) & 0xf) << 2)
                    | (u8::from(e.stereo) << 1)
                    | u8::from(e.multi_frame)
            }
            Toc::Smpl(t) => {
                (u8::from(t.sid) << 7)
                    | (u8::from(t.vad) << 6)
                    | (u8::from(t.fs_32k) << 5)
                    | (t.duration.bits() << 3)
                    | (u8::from(t.low_rate) << 2)
                    | (u8::from(t.bit1) << 1)
                    | u8::from(t.stereo)
            }
        }
    }
}

impl SmplToc {
    /// In-band FEC data precedes the main data (`vad && bit1`; unused by current encoders).
    pub fn fec(&self) -> bool {
        self.vad && self.bit1
    }

    /// The frame was coded as active voice (`vad || bit1`): it carries the voicing and
    /// LSF-interpolation symbols. Frames without it are still coded and must be decoded.
    pub fn coded_as_active_voice(&self) -> bool {
        self.vad || self.bit1
    }

    /// Internal sample rate in Hz (16000 or 32000).
    pub fn sample_rate_hz(&self) -> u32 {
        if self.fs_32k { 32_000 } else { 16_000 }
    }

    /// The internal frame and subframe layout of this packet.
    pub fn geometry(&self) -> Geometry {
        let ms = self.duration.ms();
        let long = ms > 10;
        let subframes = 1usize << (1 - usize::from(self.low_rate) + usize::from(long));
        Geometry {
            internal_frames: ((ms + 10) / 20) as usize,
            frame_len: if long { 320 } else { 160 },
            subframes,
            subframe_len: 80 * (1 + usize::from(self.low_rate)),
        }
    }
}

/// Internal frame and subframe layout of a packet (16 kHz low-band samples).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Internal frames per packet: `(ms + 10) / 20` (1, 1, 3, 6 for 10, 20, 60, 120 ms).
    pub internal_frames: usize,
    /// Samples per internal frame: 160 for 10 ms packets, else 320.
    pub frame_len: usize,
    /// Subframes per internal frame: 4 (high rate) or 2 (low rate), halved for 10 ms.
    pub subframes: usize,
    /// Samples per subframe: 80 (high rate) or 160 (low rate).
    pub subframe_len: usize,
}

impl Geometry {
    /// Samples per packet at 16 kHz.
    pub fn packet_len(&self) -> usize {
        self.internal_frames * self.frame_len
    }
}

/// Known-answer check against `toc_vectors.json`, field by field where the meaning agrees (see
/// the module docs for the columns read differently).
#[cfg(feature = "kat")]
pub fn kat_toc(v: &dyn crate::kat::Vectors) -> Result<(), crate::kat::Failure> {
    use crate::kat::{Failure, Value, int};
    use alloc::format;
    let flag = |path: &str| -> Result<bool, Failure> {
        match v.get(path) {
            Some(Value::Bool(b)) => Ok(b),
            _ => Err(Failure {
                at: path.into(),
                what: "missing boolean",
            }),
        }
    };
    let bad = |at: &str| Failure {
        at: at.into(),
        what: "mismatch",
    };
    if int(v, "#")? != 256 {
        return Err(bad("#"));
    }
    for i in 0..256 {
        let b = int(v, &format!("{i}.b"))? as u8;
        let toc = Toc::parse(b);
        if toc.to_byte() != b {
            return Err(bad(&format!("{i}.b (round trip)")));
        }
        let escape = matches!(toc, Toc::CeltEscape(_));
        if flag(&format!("{i}.std"))? != escape {
            return Err(bad(&format!("{i}.std")));
        }
        let Toc::Smpl(t) = toc else { continue };
        let checks = [
            ("sid", t.sid),
            ("vad", t.vad),
            ("voiced", t.fec()),
            ("active", t.coded_as_active_voice()),
            ("f2", t.low_rate),
            ("f0", t.stereo),
        ];
        for (name, got) in checks {
            let at = format!("{i}.{name}");
            if flag(&at)? != got {
                return Err(bad(&at));
            }
        }
        if int(v, &format!("{i}.sr"))? != i64::from(t.sample_rate_hz()) {
            return Err(bad(&format!("{i}.sr")));
        }
        if int(v, &format!("{i}.ms"))? != i64::from(t.duration.ms()) {
            return Err(bad(&format!("{i}.ms")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_per_duration_and_rate() {
        let g = |b: u8| match Toc::parse(b) {
            Toc::Smpl(t) => t.geometry(),
            Toc::CeltEscape(_) => panic!("escape"),
        };
        // (internal frames, frame length, subframes, subframe length)
        let want = [
            (0x40, (1, 160, 2, 80)),
            (0x44, (1, 160, 1, 160)),
            (0x48, (1, 320, 4, 80)),
            (0x4c, (1, 320, 2, 160)),
            (0x50, (3, 320, 4, 80)),
            (0x54, (3, 320, 2, 160)),
            (0x58, (6, 320, 4, 80)),
        ];
        for (b, (f, l, s, sl)) in want {
            let got = g(b);
            assert_eq!(
                (
                    got.internal_frames,
                    got.frame_len,
                    got.subframes,
                    got.subframe_len
                ),
                (f, l, s, sl),
                "TOC {b:#04x}"
            );
        }
        assert_eq!(g(0x50).packet_len(), 960);
        assert_eq!(g(0x58).packet_len(), 1920);
    }

    #[test]
    fn coded_inactive_and_hangover() {
        let Toc::Smpl(t) = Toc::parse(0x10) else {
            panic!()
        };
        assert!(!t.coded_as_active_voice() && !t.fec() && !t.sid);
        let Toc::Smpl(t) = Toc::parse(0x12) else {
            panic!()
        };
        assert!(t.coded_as_active_voice() && !t.fec());
        let Toc::Smpl(t) = Toc::parse(0x52) else {
            panic!()
        };
        assert!(t.coded_as_active_voice() && t.fec());
        let Toc::Smpl(t) = Toc::parse(0x90) else {
            panic!()
        };
        assert!(t.sid && !t.coded_as_active_voice());
    }

    #[test]
    fn escape_rewrites_celt_config() {
        // RFC 6716 TOC 0xBB is config 23 (CELT WB 20 ms), stereo, code 3; the MLow escape carries
        // it as 0xDD (config - 16 = 7, stereo, multi-frame).
        let Toc::CeltEscape(e) = Toc::parse(0xdd) else {
            panic!()
        };
        assert_eq!((e.opus_config, e.stereo, e.multi_frame), (23, false, true));
        assert_eq!(e.frame_us(), 20_000);
        let Toc::CeltEscape(e) = Toc::parse(0xc2) else {
            panic!()
        };
        assert_eq!((e.opus_config, e.stereo, e.frame_us()), (16, true, 2500));
    }
}
