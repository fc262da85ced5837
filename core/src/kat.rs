//! Known-answer checks that run on the host and on a microcontroller alike.
//!
//! A [`Suite`] names a vector file and a check function. The check reads its inputs and expected
//! outputs through the [`Vectors`] trait, a flat view of a JSON document: objects become dotted
//! paths (`wahkdf.masterKey`), array elements are numbered (`cases.0.ikm`) and every array also
//! answers its length at `path.#`. Host tests build that view from the JSON file at run time; the
//! QEMU Cortex-M4 runner gets it from a table its build script generated from the same file. So a
//! known-answer test written here once runs in both places.
//!
//! To add one: write a `fn(&dyn Vectors) -> Result<(), Failure>` beside the code it pins and list
//! it in [`SUITES`]; if its file is new, name it in `host-embedded/qemu/vectors.list`.
//!
//! File names start with `own:` (the project's `vectors/` directory) or `shared:` (the shared
//! golden vectors, located by `$WACALL_SHARED_VECTORS` or `../shared/vectors`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// One leaf of a flattened JSON document.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// A JSON string.
    Text(&'a str),
    /// A JSON number without fraction or exponent.
    Int(i64),
    /// Any other JSON number.
    Float(f64),
    /// A JSON boolean.
    Bool(bool),
}

/// A flat view of one vector file.
pub trait Vectors {
    /// The leaf at a dotted path, if present.
    fn get(&self, path: &str) -> Option<Value<'_>>;
}

/// Why a check did not pass: which value, and what went wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The vector path (or the check's own label) concerned.
    pub at: String,
    /// What was wrong with it.
    pub what: &'static str,
}

impl Failure {
    /// A failure at `at` (a vector path or a check's own label).
    pub fn new(at: &str, what: &'static str) -> Self {
        Failure {
            at: String::from(at),
            what,
        }
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.at, self.what)
    }
}

/// A named group of known-answer checks over one vector file.
pub struct Suite {
    /// Short name, printed by runners.
    pub name: &'static str,
    /// `own:<file>` or `shared:<relative path>`.
    pub file: &'static str,
    /// The checks.
    pub run: fn(&dyn Vectors) -> Result<(), Failure>,
}

/// Every known-answer suite of the core.
pub static SUITES: &[Suite] = &[
    Suite {
        name: "hkdf-sha256 (RFC 5869)",
        file: "own:rfc5869-hkdf-sha256.json",
        run: hkdf_rfc5869,
    },
    Suite {
        name: "rtp headers (voip kats)",
        file: "shared:voip/kats.json",
        run: crate::rtp::kat::headers,
    },
    Suite {
        name: "rtcp builders (voip kats)",
        file: "shared:voip/kats.json",
        run: crate::rtcp::kat::builders,
    },
    Suite {
        name: "stun relay dialect (voip kats)",
        file: "shared:voip/kats.json",
        run: crate::stun::kat::relay_dialect,
    },
    Suite {
        name: "stun protobuf payloads (voip kats)",
        file: "shared:voip/kats.json",
        run: crate::stun::proto::kat::payloads,
    },
    Suite {
        name: "stun (RFC 5769)",
        file: "own:rfc5769-stun.json",
        run: crate::stun::kat::rfc5769,
    },
    Suite {
        name: "splitred (wacrg mlow-red-fec)",
        file: "own:wacrg-mlow-splitred.json",
        run: crate::red::kat::worked_examples,
    },
    Suite {
        name: "media key schedule (voip kats)",
        file: "shared:voip/kats.json",
        run: crate::keys::kat::kats,
    },
    Suite {
        name: "srtp packets (voip kats)",
        file: "shared:voip/kats.json",
        run: crate::srtp::kat::kats,
    },
    Suite {
        name: "sframe (voip kats)",
        file: "shared:voip/kats.json",
        run: crate::sframe::kat::kats,
    },
    Suite {
        name: "aes-cm keystream (RFC 3711 B.2)",
        file: "own:rfc3711-aes-cm.json",
        run: crate::srtp::kat::rfc3711_aes_cm,
    },
    Suite {
        name: "srtp key derivation (RFC 3711 B.3)",
        file: "own:rfc3711-kdf.json",
        run: crate::keys::kat::rfc3711_kdf,
    },
    Suite {
        name: "mlow noise generator (reference subframes)",
        file: "shared:mlow-meowcaller/gennoise_vectors.json",
        run: crate::mlow::noise::kat::reference_subframes,
    },
    Suite {
        name: "mlow range coder (rc_vectors)",
        file: "shared:mlow/rc_vectors.json",
        run: crate::mlow::range::kat_rc,
    },
    Suite {
        name: "mlow TOC (toc_vectors)",
        file: "shared:mlow/toc_vectors.json",
        run: crate::mlow::toc::kat_toc,
    },
    Suite {
        name: "mlow LSF indices (lsf_vectors)",
        file: "shared:mlow/lsf_vectors.json",
        run: crate::mlow::params::kat_lsf,
    },
    Suite {
        name: "mlow voiced block (pitch_vectors)",
        file: "shared:mlow/pitch_vectors.json",
        run: crate::mlow::params::kat_pitch,
    },
    Suite {
        name: "mlow unvoiced block (gains_vectors)",
        file: "shared:mlow/gains_vectors.json",
        run: crate::mlow::params::kat_gains,
    },
];

fn fail(at: &str, what: &'static str) -> Failure {
    Failure::new(at, what)
}

/// The text at `path`.
pub fn text<'v>(v: &'v dyn Vectors, path: &str) -> Result<&'v str, Failure> {
    match v.get(path) {
        Some(Value::Text(s)) => Ok(s),
        Some(_) => Err(fail(path, "not a string")),
        None => Err(fail(path, "missing")),
    }
}

/// The integer at `path`.
pub fn int(v: &dyn Vectors, path: &str) -> Result<i64, Failure> {
    match v.get(path) {
        Some(Value::Int(i)) => Ok(i),
        Some(_) => Err(fail(path, "not an integer")),
        None => Err(fail(path, "missing")),
    }
}

/// The number at `path` (an integer leaf converts).
pub fn float(v: &dyn Vectors, path: &str) -> Result<f64, Failure> {
    match v.get(path) {
        Some(Value::Float(f)) => Ok(f),
        Some(Value::Int(i)) => Ok(i as f64),
        Some(_) => Err(fail(path, "not a number")),
        None => Err(fail(path, "missing")),
    }
}

/// The bytes of the hex string at `path`.
pub fn hex(v: &dyn Vectors, path: &str) -> Result<Vec<u8>, Failure> {
    decode_hex(text(v, path)?).ok_or_else(|| fail(path, "not hex"))
}

/// The length of the array at `path`.
pub fn len(v: &dyn Vectors, path: &str) -> Result<usize, Failure> {
    let n = int(v, &format!("{path}.#"))?;
    usize::try_from(n).map_err(|_| fail(path, "bad array length"))
}

/// Ok when `got == want`, else a failure naming `at`.
pub fn expect_eq<T: PartialEq + ?Sized>(at: &str, got: &T, want: &T) -> Result<(), Failure> {
    if got == want {
        Ok(())
    } else {
        Err(fail(at, "mismatch"))
    }
}

/// Decode a hex string (either case, even length) into bytes.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// RFC 5869 Appendix A, the SHA-256 cases, through [`crate::crypto::hkdf_sha256`].
fn hkdf_rfc5869(v: &dyn Vectors) -> Result<(), Failure> {
    for i in 0..len(v, "cases")? {
        let at = |f: &str| format!("cases.{i}.{f}");
        let ikm = hex(v, &at("ikm"))?;
        let salt = hex(v, &at("salt"))?;
        let info = hex(v, &at("info"))?;
        let want = hex(v, &at("okm"))?;
        let mut okm = alloc::vec![0u8; want.len()];
        crate::crypto::hkdf_sha256(&salt, &ikm, &info, &mut okm)
            .map_err(|_| fail(&at("okm"), "hkdf refused"))?;
        expect_eq(&at("okm"), &okm[..], &want[..])?;
    }
    Ok(())
}

/// One known answer inside a suite, named by its vector path, so that host tests can run every
/// value as a test of its own while the suite (and the QEMU runner) runs them all.
pub struct Check {
    /// The vector path of the pinned value (`wahkdf.okm46`).
    pub path: &'static str,
    /// The check.
    pub run: fn(&dyn Vectors) -> Result<(), Failure>,
}

/// Run `checks` in order and stop at the first failure.
pub fn run_checks(v: &dyn Vectors, checks: &[Check]) -> Result<(), Failure> {
    checks.iter().try_for_each(|c| (c.run)(v))
}
