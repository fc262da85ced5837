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

/// AES-128 in counter mode as SRTP uses it (RFC 3711 §4.1.1): the key schedule is expanded once
/// and kept, so each packet costs only its keystream blocks.
///
/// The counter is the whole 16-byte IV read as a big-endian integer. RFC 3711 specifies a 16-bit
/// block counter in the IV's last two bytes, which SRTP leaves zero; the two agree for every input
/// shorter than 2^16 blocks (1 MiB), and [`AesCm::apply_keystream`] refuses anything longer.
#[derive(Clone)]
pub struct AesCm {
    cipher: aes::Aes128,
}

impl AesCm {
    /// Longest input the 16-bit RFC 3711 block counter covers.
    pub const MAX_LEN_BYTES: usize = 16 << 16;

    /// Expand `key` (zeroized with the cipher when it is dropped).
    pub fn new(key: &[u8; 16]) -> Self {
        use aes::cipher::KeyInit as _;
        AesCm {
            cipher: aes::Aes128::new(key.into()),
        }
    }

    /// XOR `data` with the keystream that starts at counter block `iv`.
    pub fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) -> Result<(), Error> {
        use aes::cipher::BlockCipherEncrypt as _;
        if data.len() > Self::MAX_LEN_BYTES {
            return Err(Error::OutputTooLong);
        }
        // Eight blocks per call let the AES backends pipeline (AES-NI, ARMv8, bitsliced).
        const BATCH: usize = 8;
        let mut counter = u128::from_be_bytes(*iv);
        let mut blocks = [aes::Block::default(); BATCH];
        for chunk in data.chunks_mut(16 * BATCH) {
            let n = chunk.len().div_ceil(16);
            for block in &mut blocks[..n] {
                *block = counter.to_be_bytes().into();
                counter = counter.wrapping_add(1);
            }
            self.cipher.encrypt_blocks(&mut blocks[..n]);
            for (part, key) in chunk.chunks_mut(16).zip(&blocks) {
                for (byte, k) in part.iter_mut().zip(key.iter()) {
                    *byte ^= k;
                }
            }
        }
        blocks.iter_mut().for_each(|b| b.fill(0));
        Ok(())
    }
}

impl core::fmt::Debug for AesCm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AesCm { .. }")
    }
}

/// HMAC-SHA1 (RFC 2104) with the key already absorbed: the inner and outer SHA-1 chaining values
/// after the padded key block are computed once, and each message starts from copies of them
/// (SRTP/SRTCP authentication).
///
/// Runs the SHA-1 compression function directly on the two 20-byte chaining values and does the
/// message padding itself: per message that is a 40-byte state copy and no hasher buffering or
/// finalisation machinery, which otherwise costs about as much as the compressions of a short
/// RTP packet. The chaining values are keyed material and are wiped on drop.
#[derive(Clone)]
pub struct HmacSha1Key {
    inner: Sha1State,
    outer: Sha1State,
}

/// SHA-1 chaining value (five big-endian words of the running digest).
type Sha1State = [u32; 5];
/// SHA-1 block length.
const SHA1_BLOCK_BYTES: usize = 64;
/// SHA-1 initial chaining value (FIPS 180-4 §5.3.1).
const SHA1_IV: Sha1State = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

impl HmacSha1Key {
    /// Absorb `key` (any length; longer than a block is hashed first).
    pub fn new(key: &[u8]) -> Self {
        use sha1::Digest as _;
        let mut block = zeroize::Zeroizing::new([0u8; SHA1_BLOCK_BYTES]);
        if key.len() > SHA1_BLOCK_BYTES {
            block[..20].copy_from_slice(&Sha1::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut pad = zeroize::Zeroizing::new([0u8; SHA1_BLOCK_BYTES]);
        let mut keyed = |x: u8| {
            for (p, k) in pad.iter_mut().zip(block.iter()) {
                *p = k ^ x;
            }
            let mut h = SHA1_IV;
            sha1::block_api::compress(&mut h, core::slice::from_ref(&*pad));
            h
        };
        HmacSha1Key {
            inner: keyed(0x36),
            outer: keyed(0x5c),
        }
    }

    /// HMAC-SHA1 over the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut inner = zeroize::Zeroizing::new(self.inner);
        let mut total = SHA1_BLOCK_BYTES as u64;
        // Partial block carried between parts, then the padding (0x80, zeros, bit length). It
        // only ever holds message bytes and the inner digest (no key material): not wiped.
        let mut buf = [[0u8; SHA1_BLOCK_BYTES]; 2];
        let mut used = 0usize;
        for part in parts {
            total += part.len() as u64;
            let mut rest = *part;
            if used > 0 {
                let take = rest.len().min(SHA1_BLOCK_BYTES - used);
                buf[0][used..used + take].copy_from_slice(&rest[..take]);
                used += take;
                rest = &rest[take..];
                if used < SHA1_BLOCK_BYTES {
                    continue;
                }
                sha1::block_api::compress(&mut inner, &buf[..1]);
            }
            let (blocks, tail) = rest.as_chunks::<SHA1_BLOCK_BYTES>();
            sha1::block_api::compress(&mut inner, blocks);
            buf[0][..tail.len()].copy_from_slice(tail);
            used = tail.len();
        }
        let inner_digest = sha1_finish(&mut inner, &mut buf, used, total);

        let mut outer = zeroize::Zeroizing::new(self.outer);
        buf[0][..20].copy_from_slice(&inner_digest);
        sha1_finish(&mut outer, &mut buf, 20, SHA1_BLOCK_BYTES as u64 + 20)
    }
}

/// Pads the `used` message bytes at the start of `buf[0]` (the message being `total_bytes` long
/// in all), compresses the one or two final blocks and returns the digest.
fn sha1_finish(
    state: &mut Sha1State,
    buf: &mut [[u8; SHA1_BLOCK_BYTES]; 2],
    used: usize,
    total_bytes: u64,
) -> [u8; 20] {
    let flat = buf.as_flattened_mut();
    let blocks = if used + 9 > SHA1_BLOCK_BYTES { 2 } else { 1 };
    let end = blocks * SHA1_BLOCK_BYTES;
    flat[used] = 0x80;
    flat[used + 1..end - 8].fill(0);
    flat[end - 8..end].copy_from_slice(&(total_bytes * 8).to_be_bytes());
    sha1::block_api::compress(state, &buf[..blocks]);
    let mut out = [0u8; 20];
    for (o, w) in out.chunks_exact_mut(4).zip(state.iter()) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

impl Drop for HmacSha1Key {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.inner);
        zeroize::Zeroize::zeroize(&mut self.outer);
    }
}

impl zeroize::ZeroizeOnDrop for HmacSha1Key {}

impl core::fmt::Debug for HmacSha1Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HmacSha1Key { .. }")
    }
}

/// AES-128-GCM with a 16-byte nonce (so the pre-counter block J0 comes from GHASH, not the 96-bit
/// shortcut) and a 16-byte tag: the AEAD of WhatsApp's SFrame.
#[derive(Clone)]
pub struct Aes128Gcm16 {
    aead: aes_gcm::AesGcm<aes::Aes128, aes_gcm::aead::consts::U16>,
}

/// The AEAD refused: the tag did not verify (or the input was beyond GCM's limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AeadError;

impl Aes128Gcm16 {
    /// Expand `key` (zeroized with the cipher when it is dropped).
    pub fn new(key: &[u8; 16]) -> Self {
        use aes_gcm::KeyInit as _;
        Aes128Gcm16 {
            aead: aes_gcm::AesGcm::new(key.into()),
        }
    }

    /// Encrypt `data` in place; returns the tag.
    pub fn seal(
        &self,
        nonce: &[u8; 16],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; 16], AeadError> {
        use aes_gcm::aead::AeadInOut as _;
        self.aead
            .encrypt_inout_detached(nonce.into(), aad, data.into())
            .map(Into::into)
            .map_err(|_| AeadError)
    }

    /// Verify `tag` over `data` and only then decrypt it in place; on failure `data` is untouched.
    pub fn open(
        &self,
        nonce: &[u8; 16],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AeadError> {
        use aes_gcm::aead::AeadInOut as _;
        self.aead
            .decrypt_inout_detached(nonce.into(), aad, data.into(), tag.into())
            .map_err(|_| AeadError)
    }
}

impl core::fmt::Debug for Aes128Gcm16 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Aes128Gcm16 { .. }")
    }
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
    fn prepared_hmac_sha1_matches_rfc2202() {
        // Case 2 (short key, split message) and case 6 (key longer than a block).
        let k = HmacSha1Key::new(b"Jefe");
        assert_eq!(
            k.mac(&[b"what do ya want ", b"for nothing?"])[..],
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")[..]
        );
        let k = HmacSha1Key::new(&[0xaa; 80]);
        assert_eq!(
            k.mac(&[b"Test Using Larger Than Block-Size Key - Hash Key First"])[..],
            hex("aa4ae5e15272d00e95705637ce8a3b55ed402112")[..]
        );
    }

    #[test]
    fn prepared_hmac_sha1_matches_the_generic_hmac_at_every_padding_boundary() {
        // The hand-padded prepared MAC against RustCrypto's `Hmac<Sha1>` (via `hmac_sha1`) for
        // message lengths across the one/two final-block boundary (55/56 bytes past a block)
        // and several block multiples, split into parts at awkward places.
        let msg: alloc::vec::Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for key_len in [0usize, 20, 64, 65] {
            let key = &msg[100..100 + key_len];
            let k = HmacSha1Key::new(key);
            for len in 0..msg.len() {
                let m = &msg[..len];
                let want = hmac_sha1(key, &[m]);
                assert_eq!(k.mac(&[m]), want, "key {key_len} len {len}");
                let (a, b) = m.split_at(len / 3);
                let (b, c) = b.split_at(b.len() / 2);
                assert_eq!(
                    k.mac(&[a, b, &[], c]),
                    want,
                    "key {key_len} len {len} split"
                );
            }
        }
    }

    #[test]
    fn expanded_keys_zeroize_on_drop() {
        // A compile-time check: the RustCrypto types holding key schedules and HMAC pad states
        // wipe themselves when dropped (the `zeroize` features are enabled).
        fn wipes<T: zeroize::ZeroizeOnDrop>() {}
        wipes::<aes::Aes128>();
        wipes::<Sha1>();
        wipes::<HmacSha1Key>();
        wipes::<aes_gcm::AesGcm<aes::Aes128, aes_gcm::aead::consts::U16>>();
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
