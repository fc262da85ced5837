//! Thin wrappers over the RustCrypto primitives the protocols use.
//!
//! Each wrapper fixes the algorithm choice, works in caller buffers (no allocation) and turns the
//! libraries' errors into [`Error`]. Protocol modules call these rather than the crates directly, so
//! that the primitive set of the core is visible in one place.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// A primitive was asked for something it cannot do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The requested output is longer than the primitive can produce (HKDF: 255 × hash length).
    OutputTooLong,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::OutputTooLong => f.write_str("requested output too long"),
        }
    }
}

impl core::error::Error for Error {}

/// HKDF-SHA256 (RFC 5869): extract with `salt` (empty means a zero salt) over `ikm`, then expand
/// with `info` to fill `okm`.
pub fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), Error> {
    let salt = if salt.is_empty() { None } else { Some(salt) };
    Hkdf::<Sha256>::new(salt, ikm)
        .expand(info, okm)
        .map_err(|_| Error::OutputTooLong)
}

/// HMAC-SHA1 over the concatenation of `parts` (SRTP authentication, STUN MESSAGE-INTEGRITY).
pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// CRC-32 (ISO-HDLC, the zlib/Ethernet polynomial) over the concatenation of `parts`; STUN's
/// FINGERPRINT is this value XOR `0x5354_554E`.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let mut digest = CRC32.digest();
    for p in parts {
        digest.update(p);
    }
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> alloc::vec::Vec<u8> {
        crate::kat::decode_hex(s).unwrap()
    }

    #[test]
    fn hmac_sha1_rfc2202_case_2_split_input() {
        let want = hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        assert_eq!(
            hmac_sha1(b"Jefe", &[b"what do ya want ", b"for nothing?"])[..],
            want[..]
        );
    }

    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        let want = hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(
            hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"])[..],
            want[..]
        );
    }

    #[test]
    fn crc32_check_value() {
        // The catalogue check value of CRC-32/ISO-HDLC over "123456789".
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
    }

    #[test]
    fn hkdf_rejects_oversized_output_without_panicking() {
        let mut okm = [0u8; 255 * 32 + 1];
        assert_eq!(
            hkdf_sha256(b"", b"k", b"", &mut okm),
            Err(Error::OutputTooLong)
        );
        assert!(hkdf_sha256(b"", b"k", b"", &mut okm[..255 * 32]).is_ok());
    }
}
