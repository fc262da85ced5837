//! Thin wrappers over the RustCrypto primitives the protocols use.
//!
//! Each wrapper fixes the algorithm choice, works in caller buffers (no allocation) and turns the
//! libraries' errors into [`Error`]. Protocol modules call these rather than the crates directly, so
//! that the primitive set of the core is visible in one place.

use hkdf::Hkdf;
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

#[cfg(test)]
mod tests {
    use super::*;

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
