//! Media key schedule of a WhatsApp 1:1 call: everything that turns the 32-byte call key (and the
//! relay's 30-byte hop-by-hop key) into cipher keys, plus the SSRC derivation that uses the same
//! HKDF.
//!
//! - [`ParticipantId`]: `user:device@lid` normalisation; the id is the HKDF `info` everywhere.
//! - [`SrtpMaster::wahkdf`]: HKDF-SHA256(salt = 0³², call key, sender id) → master key ‖ salt. The
//!   info is always the *sender's* id: send keys from our own id, receive keys from the peer's.
//! - [`SessionKeys`]: the RFC 3711 §4.3 AES-CM key derivation (kdr = 0, labels 0–2 for SRTP, 3–5
//!   for SRTCP).
//! - [`HbhKey`]: the two-stage HKDF over the relay's `<hbh_key>` (salt seed = bytes 0..14, key seed
//!   = bytes 14..30), in its directional and shared label modes.
//! - [`SframeKey`]: HKDF(salt = call key[0..16], ikm = call key[16..32], "e2e sframe key" ‖ id).
//! - [`ssrc`]: HKDF(salt = slot as LE32, ikm = call-id text, info = id) → LE32.
//!
//! Every secret zeroizes on drop and prints as `{ .. }` under `Debug`. Nothing here allocates.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::{AesCm, hkdf_sha256};

/// A key-schedule input was unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The call key was not exactly 32 bytes.
    CallKeyLength,
    /// The hop-by-hop key was not exactly 30 bytes.
    HbhKeyLength,
    /// The normalised participant id does not fit [`ParticipantId::MAX_LEN_BYTES`].
    IdTooLong,
    /// The participant id is empty after trimming.
    IdEmpty,
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            KeyError::CallKeyLength => "call key must be 32 bytes",
            KeyError::HbhKeyLength => "hbh key must be 30 bytes",
            KeyError::IdTooLong => "participant id too long",
            KeyError::IdEmpty => "participant id empty",
        })
    }
}

impl core::error::Error for KeyError {}

/// A normalised participant id (`user:device@domain`), held inline.
///
/// Normalisation: drop anything from the first `/`, trim whitespace; a text without `@`, or
/// starting with `@`, stays as it is; on the `lid` domain a user part without `:` gets `:0`
/// (`123@lid` → `123:0@lid`); other domains pass through unchanged.
#[derive(Clone, PartialEq, Eq)]
pub struct ParticipantId {
    text: heapless::String<{ ParticipantId::MAX_LEN_BYTES }>,
}

impl ParticipantId {
    /// Longest normalised id accepted (WhatsApp ids are about 25 bytes).
    pub const MAX_LEN_BYTES: usize = 96;

    /// Normalise `raw` (see the type's documentation).
    pub fn normalize(raw: &str) -> Result<Self, KeyError> {
        let cut = raw.split('/').next().unwrap_or("").trim();
        if cut.is_empty() {
            return Err(KeyError::IdEmpty);
        }
        let mut text = heapless::String::new();
        let too_long = |_| KeyError::IdTooLong;
        match cut.split_once('@') {
            Some((user, "lid")) if !user.is_empty() && !user.contains(':') => {
                text.push_str(user).map_err(too_long)?;
                text.push_str(":0@lid").map_err(too_long)?;
            }
            _ => text.push_str(cut).map_err(too_long)?,
        }
        Ok(ParticipantId { text })
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl core::fmt::Debug for ParticipantId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ParticipantId({:?})", self.as_str())
    }
}

/// The 32-byte call key, the root secret of a call's media keys.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CallKey([u8; 32]);

impl CallKey {
    /// Wrap 32 key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        CallKey(bytes)
    }

    /// Copy a key of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(CallKey(
            bytes.try_into().map_err(|_| KeyError::CallKeyLength)?,
        ))
    }

    /// The key bytes (for derivations in this crate only).
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for CallKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CallKey { .. }")
    }
}

/// An SRTP master key (16 bytes) and master salt (14 bytes), the input of RFC 3711's KDF.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SrtpMaster {
    key: [u8; 16],
    salt: [u8; 14],
}

impl SrtpMaster {
    /// Length of WAHKDF's output: key 16 ‖ salt 14 ‖ 16 unused bytes.
    pub const WAHKDF_OKM_LEN_BYTES: usize = 46;

    /// Build from a master key and salt.
    pub fn new(key: [u8; 16], salt: [u8; 14]) -> Self {
        SrtpMaster { key, salt }
    }

    /// Build from 30 bytes laid out key ‖ salt.
    pub fn from_key_salt30(bytes: &[u8; 30]) -> Self {
        let mut key = [0u8; 16];
        let mut salt = [0u8; 14];
        key.copy_from_slice(&bytes[..16]);
        salt.copy_from_slice(&bytes[16..]);
        SrtpMaster { key, salt }
    }

    /// WhatsApp's E2E master for packets *sent by* `sender`: the first 30 bytes of
    /// [`wahkdf_okm`](Self::wahkdf_okm).
    pub fn wahkdf(call_key: &CallKey, sender: &ParticipantId) -> Self {
        let okm = Self::wahkdf_okm(call_key, sender);
        let mut key = [0u8; 16];
        let mut salt = [0u8; 14];
        key.copy_from_slice(&okm[..16]);
        salt.copy_from_slice(&okm[16..30]);
        SrtpMaster { key, salt }
    }

    /// The full 46-byte WAHKDF output, HKDF-SHA256(salt = 32 zero bytes, ikm = call key,
    /// info = sender id).
    pub fn wahkdf_okm(
        call_key: &CallKey,
        sender: &ParticipantId,
    ) -> zeroize::Zeroizing<[u8; Self::WAHKDF_OKM_LEN_BYTES]> {
        let mut okm = zeroize::Zeroizing::new([0u8; Self::WAHKDF_OKM_LEN_BYTES]);
        hkdf_sha256(
            &[0u8; 32],
            call_key.bytes(),
            sender.as_str().as_bytes(),
            &mut okm[..],
        )
        .expect("46 bytes is within HKDF-SHA256's range");
        okm
    }

    /// The master key.
    pub fn key(&self) -> &[u8; 16] {
        &self.key
    }

    /// The master salt.
    pub fn salt(&self) -> &[u8; 14] {
        &self.salt
    }

    /// RFC 3711 §4.3.1 with kdr = 0: AES-CM under the master key, IV = (master salt ‖ 00 00) with
    /// `label` XORed into byte 7, keystream over `out.len()` zero bytes.
    pub fn derive(&self, label: u8, out: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        iv[7] ^= label;
        out.fill(0);
        AesCm::new(&self.key)
            .apply_keystream(&iv, out)
            .expect("session keys are far below the AES-CM limit");
    }
}

impl core::fmt::Debug for SrtpMaster {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SrtpMaster { .. }")
    }
}

/// Which half of an SRTP master a key set is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// RTP: labels 0 (cipher key), 1 (auth key), 2 (salt).
    Rtp,
    /// RTCP: labels 3 (cipher key), 4 (auth key), 5 (salt).
    Rtcp,
}

/// SRTP or SRTCP session keys for AES-CM-128 + HMAC-SHA1 (RFC 3711 §4.3).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    /// AES-128 cipher key.
    pub cipher_key: [u8; 16],
    /// HMAC-SHA1 authentication key.
    pub auth_key: [u8; 20],
    /// Session salt (the IV base).
    pub salt: [u8; 14],
}

impl SessionKeys {
    /// Derive the session keys of `stream` from `master`.
    pub fn derive(master: &SrtpMaster, stream: Stream) -> Self {
        let base = match stream {
            Stream::Rtp => 0,
            Stream::Rtcp => 3,
        };
        let mut keys = SessionKeys {
            cipher_key: [0; 16],
            auth_key: [0; 20],
            salt: [0; 14],
        };
        master.derive(base, &mut keys.cipher_key);
        master.derive(base + 1, &mut keys.auth_key);
        master.derive(base + 2, &mut keys.salt);
        keys
    }
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SessionKeys { .. }")
    }
}

/// The relay's 30-byte hop-by-hop key as received (after base64 decoding).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HbhKey([u8; 30]);

/// The (salt label, key label) pairs of the HBH two-stage HKDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HbhLabels {
    /// `"uplink hbh srtcp salt"` / `"uplink hbh srtcp key"`: client → relay in directional mode.
    UplinkSrtcp,
    /// `"downlink hbh srtcp salt"` / `"downlink hbh srtcp key"`: relay → client in directional mode.
    DownlinkSrtcp,
    /// `"hbh srtcp salt"` / `"hbh srtcp key"`: both ways in shared mode.
    SharedSrtcp,
    /// `"hbh srtp salt"` / `"hbh srtp key"`: pinned by the known answers, no known consumer.
    SharedSrtp,
}

impl HbhLabels {
    /// The stage-1 (salt) and stage-2 (key) HKDF info strings.
    pub fn infos(self) -> (&'static [u8], &'static [u8]) {
        match self {
            HbhLabels::UplinkSrtcp => (b"uplink hbh srtcp salt", b"uplink hbh srtcp key"),
            HbhLabels::DownlinkSrtcp => (b"downlink hbh srtcp salt", b"downlink hbh srtcp key"),
            HbhLabels::SharedSrtcp => (b"hbh srtcp salt", b"hbh srtcp key"),
            HbhLabels::SharedSrtp => (b"hbh srtp salt", b"hbh srtp key"),
        }
    }
}

/// How the HBH masters are chosen (WhatsApp's transport rollout flag picks one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HbhMode {
    /// Uplink labels protect what we send to the relay, downlink labels what it sends us.
    Directional,
    /// One key set (the shared srtcp labels) both ways.
    Shared,
}

impl HbhMode {
    /// Labels of the (send, receive) masters.
    pub fn labels(self) -> (HbhLabels, HbhLabels) {
        match self {
            HbhMode::Directional => (HbhLabels::UplinkSrtcp, HbhLabels::DownlinkSrtcp),
            HbhMode::Shared => (HbhLabels::SharedSrtcp, HbhLabels::SharedSrtcp),
        }
    }
}

impl HbhKey {
    /// Copy a key of exactly 30 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        Ok(HbhKey(
            bytes.try_into().map_err(|_| KeyError::HbhKeyLength)?,
        ))
    }

    /// Stage 1: HKDF-SHA256(salt = 32 zero bytes, ikm = salt seed = bytes 0..14, info = the salt
    /// label, L = 32).
    pub fn stage1_salt(&self, labels: HbhLabels) -> zeroize::Zeroizing<[u8; 32]> {
        let mut s = zeroize::Zeroizing::new([0u8; 32]);
        hkdf_sha256(&[0u8; 32], &self.0[..14], labels.infos().0, &mut s[..])
            .expect("32 bytes is within HKDF-SHA256's range");
        s
    }

    /// Stage 2: HKDF-SHA256(salt = stage 1, ikm = key seed = bytes 14..30, info = the key label,
    /// L = 30) = master key ‖ master salt.
    pub fn master(&self, labels: HbhLabels) -> SrtpMaster {
        let salt = self.stage1_salt(labels);
        let mut okm = zeroize::Zeroizing::new([0u8; 30]);
        hkdf_sha256(&salt[..], &self.0[14..], labels.infos().1, &mut okm[..])
            .expect("30 bytes is within HKDF-SHA256's range");
        SrtpMaster::from_key_salt30(&okm)
    }

    /// The (send, receive) masters of `mode`.
    pub fn masters(&self, mode: HbhMode) -> (SrtpMaster, SrtpMaster) {
        let (send, recv) = mode.labels();
        (self.master(send), self.master(recv))
    }
}

impl core::fmt::Debug for HbhKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HbhKey { .. }")
    }
}

/// An SFrame AES-128-GCM key for one participant id.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SframeKey([u8; 16]);

impl SframeKey {
    /// HKDF label prefixed to the participant id.
    pub const INFO_PREFIX: &'static [u8] = b"e2e sframe key";

    /// The 32-byte HKDF output for `id`: salt = call key[0..16], ikm = call key[16..32],
    /// info = `"e2e sframe key"` ‖ id.
    pub fn okm32(call_key: &CallKey, id: &ParticipantId) -> zeroize::Zeroizing<[u8; 32]> {
        let mut info = [0u8; Self::INFO_PREFIX.len() + ParticipantId::MAX_LEN_BYTES];
        let n = Self::INFO_PREFIX.len() + id.as_str().len();
        info[..Self::INFO_PREFIX.len()].copy_from_slice(Self::INFO_PREFIX);
        info[Self::INFO_PREFIX.len()..n].copy_from_slice(id.as_str().as_bytes());
        let k = call_key.bytes();
        let mut okm = zeroize::Zeroizing::new([0u8; 32]);
        hkdf_sha256(&k[..16], &k[16..], &info[..n], &mut okm[..])
            .expect("32 bytes is within HKDF-SHA256's range");
        okm
    }

    /// The AES key for `id`: the first 16 bytes of [`okm32`](Self::okm32).
    pub fn derive(call_key: &CallKey, id: &ParticipantId) -> Self {
        let okm = Self::okm32(call_key, id);
        let mut key = [0u8; 16];
        key.copy_from_slice(&okm[..16]);
        SframeKey(key)
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl core::fmt::Debug for SframeKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SframeKey { .. }")
    }
}

/// SSRC slots of a participant's streams (the HKDF salt of [`ssrc`]).
pub mod slot {
    /// Audio.
    pub const AUDIO: u32 = 0;
    /// Video.
    pub const VIDEO: u32 = 2;
    /// Group app-data.
    pub const APP_DATA: u32 = 6;
    /// Hop-by-hop FEC, send.
    pub const HBH_FEC_TX: u32 = 7;
    /// Hop-by-hop FEC, receive.
    pub const HBH_FEC_RX: u32 = 8;
}

/// The SSRC of `id`'s stream in `slot`: the little-endian u32 of HKDF-SHA256(salt = slot as LE32,
/// ikm = the call-id text as bytes (not hex-decoded), info = id, L = 4).
pub fn ssrc(slot: u32, call_id: &str, id: &ParticipantId) -> u32 {
    let mut out = [0u8; 4];
    hkdf_sha256(
        &slot.to_le_bytes(),
        call_id.as_bytes(),
        id.as_str().as_bytes(),
        &mut out,
    )
    .expect("4 bytes is within HKDF-SHA256's range");
    u32::from_le_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_id_normalisation_rules() {
        let n = |s| ParticipantId::normalize(s).map(|p| alloc::string::String::from(p.as_str()));
        assert_eq!(n("123@lid").unwrap(), "123:0@lid");
        assert_eq!(n("123:7@lid").unwrap(), "123:7@lid");
        assert_eq!(n(" 123@lid/res ").unwrap(), "123:0@lid");
        assert_eq!(n("123@s.whatsapp.net").unwrap(), "123@s.whatsapp.net");
        assert_eq!(n("abc").unwrap(), "abc");
        assert_eq!(n("@lid").unwrap(), "@lid");
        assert_eq!(n("  /x"), Err(KeyError::IdEmpty));
        let long = "1".repeat(ParticipantId::MAX_LEN_BYTES);
        assert_eq!(n(&alloc::format!("{long}@lid")), Err(KeyError::IdTooLong));
    }

    #[test]
    fn video_ssrc_matches_the_reconstruction_vector() {
        // R wv/ssrc.rs: ("CALL-ID-0001", "12345:0@lid", slot 2) → 0xf8d70484, re-derived in the
        // research note.
        let id = ParticipantId::normalize("12345@lid").unwrap();
        assert_eq!(ssrc(slot::VIDEO, "CALL-ID-0001", &id), 0xf8d7_0484);
    }

    #[test]
    fn debug_output_hides_key_material() {
        let ck = CallKey::new([0xab; 32]);
        let id = ParticipantId::normalize("1@lid").unwrap();
        let m = SrtpMaster::wahkdf(&ck, &id);
        let s = alloc::format!(
            "{ck:?} {m:?} {:?} {:?} {:?}",
            SessionKeys::derive(&m, Stream::Rtp),
            SframeKey::derive(&ck, &id),
            HbhKey::from_slice(&[0xab; 30]).unwrap()
        );
        assert!(!s.contains("ab") && !s.contains("171"), "{s}");
    }

    #[test]
    fn hbh_modes_pick_their_label_pairs() {
        let k = HbhKey::from_slice(&[0x40; 30]).unwrap();
        let key = |m: &SrtpMaster| *m.key();
        let (send, recv) = k.masters(HbhMode::Directional);
        assert_eq!(key(&send), key(&k.master(HbhLabels::UplinkSrtcp)));
        assert_eq!(key(&recv), key(&k.master(HbhLabels::DownlinkSrtcp)));
        assert_ne!(key(&send), key(&recv));
        let (send, recv) = k.masters(HbhMode::Shared);
        assert_eq!(key(&send), key(&k.master(HbhLabels::SharedSrtcp)));
        assert_eq!(key(&recv), key(&send));
    }

    #[test]
    fn wrong_lengths_are_typed_errors() {
        assert_eq!(
            CallKey::from_slice(&[0; 31]).err(),
            Some(KeyError::CallKeyLength)
        );
        assert_eq!(
            HbhKey::from_slice(&[0; 32]).err(),
            Some(KeyError::HbhKeyLength)
        );
    }
}

/// Known answers of the key schedule: the shared `voip/kats.json` (WAHKDF, E2E SRTP session keys,
/// HBH, SFrame keys, SSRCs) and RFC 3711 B.3.
#[cfg(feature = "kat")]
pub mod kat {
    use alloc::format;

    use super::*;
    use crate::kat::{Check, Failure, Vectors, expect_eq, hex, int, len, run_checks, text};

    fn id(v: &dyn Vectors, path: &str) -> Result<ParticipantId, Failure> {
        ParticipantId::normalize(text(v, path)?).map_err(|_| Failure {
            at: path.into(),
            what: "participant id rejected",
        })
    }

    fn call_key(v: &dyn Vectors) -> Result<CallKey, Failure> {
        CallKey::from_slice(&hex(v, "inputs.callKey")?).map_err(|_| Failure {
            at: "inputs.callKey".into(),
            what: "call key rejected",
        })
    }

    fn hbh_key(v: &dyn Vectors) -> Result<HbhKey, Failure> {
        HbhKey::from_slice(&hex(v, "inputs.hbhKey")?).map_err(|_| Failure {
            at: "inputs.hbhKey".into(),
            what: "hbh key rejected",
        })
    }

    fn master30(m: &SrtpMaster) -> [u8; 30] {
        let mut b = [0u8; 30];
        b[..16].copy_from_slice(m.key());
        b[16..].copy_from_slice(m.salt());
        b
    }

    fn peer_master(v: &dyn Vectors) -> Result<SrtpMaster, Failure> {
        Ok(SrtpMaster::wahkdf(&call_key(v)?, &id(v, "inputs.peerLid")?))
    }

    fn session(v: &dyn Vectors, lid: &str, stream: Stream) -> Result<SessionKeys, Failure> {
        let m = SrtpMaster::wahkdf(&call_key(v)?, &id(v, lid)?);
        Ok(SessionKeys::derive(&m, stream))
    }

    fn hbh_uplink(v: &dyn Vectors, stream: Stream) -> Result<SessionKeys, Failure> {
        Ok(SessionKeys::derive(
            &hbh_key(v)?.master(HbhLabels::UplinkSrtcp),
            stream,
        ))
    }

    fn hbh_master30(v: &dyn Vectors, path: &str, labels: HbhLabels) -> Result<(), Failure> {
        let got = master30(&hbh_key(v)?.master(labels));
        expect_eq(path, &got[..], &hex(v, path)?[..])
    }

    macro_rules! check {
        ($path:literal, |$v:ident| $got:expr) => {
            Check {
                path: $path,
                run: |$v| {
                    let got = $got;
                    expect_eq($path, &got[..], &hex($v, $path)?[..])
                },
            }
        };
    }

    /// Every value of `voip/kats.json` this module pins, one check each.
    pub static CHECKS: &[Check] = &[
        check!("wahkdf.okm46", |v| *SrtpMaster::wahkdf_okm(
            &call_key(v)?,
            &id(v, "inputs.peerLid")?
        )),
        check!("wahkdf.masterKey", |v| *peer_master(v)?.key()),
        check!("wahkdf.masterSalt", |v| *peer_master(v)?.salt()),
        check!("e2e_srtp.peer_cipherKey", |v| session(
            v,
            "inputs.peerLid",
            Stream::Rtp
        )?
        .cipher_key),
        check!("e2e_srtp.peer_salt", |v| session(
            v,
            "inputs.peerLid",
            Stream::Rtp
        )?
        .salt),
        check!("e2e_srtp.peer_authKey", |v| session(
            v,
            "inputs.peerLid",
            Stream::Rtp
        )?
        .auth_key),
        check!("e2e_srtp.self_cipherKey", |v| session(
            v,
            "inputs.selfLid",
            Stream::Rtp
        )?
        .cipher_key),
        check!("e2e_srtp.self_salt", |v| session(
            v,
            "inputs.selfLid",
            Stream::Rtp
        )?
        .salt),
        check!("e2e_srtp.self_authKey", |v| session(
            v,
            "inputs.selfLid",
            Stream::Rtp
        )?
        .auth_key),
        check!("hbh_srtp.uplinkSalt32", |v| *hbh_key(v)?
            .stage1_salt(HbhLabels::UplinkSrtcp)),
        Check {
            path: "hbh_srtp.uplinkKey30",
            run: |v| hbh_master30(v, "hbh_srtp.uplinkKey30", HbhLabels::UplinkSrtcp),
        },
        Check {
            path: "hbh_srtp.downlinkKey30",
            run: |v| hbh_master30(v, "hbh_srtp.downlinkKey30", HbhLabels::DownlinkSrtcp),
        },
        Check {
            path: "hbh_srtp.sharedSrtcpKey30",
            run: |v| hbh_master30(v, "hbh_srtp.sharedSrtcpKey30", HbhLabels::SharedSrtcp),
        },
        Check {
            path: "hbh_srtp.sharedSrtpKey30",
            run: |v| hbh_master30(v, "hbh_srtp.sharedSrtpKey30", HbhLabels::SharedSrtp),
        },
        check!("hbh_srtp.masterKey", |v| *hbh_key(v)?
            .master(HbhLabels::UplinkSrtcp)
            .key()),
        check!("hbh_srtp.masterSalt", |v| *hbh_key(v)?
            .master(HbhLabels::UplinkSrtcp)
            .salt()),
        check!("hbh_srtp.sessionKey", |v| hbh_uplink(v, Stream::Rtp)?
            .cipher_key),
        check!("hbh_srtp.sessionSalt", |v| hbh_uplink(v, Stream::Rtp)?.salt),
        check!("hbh_srtp.authKey", |v| hbh_uplink(v, Stream::Rtp)?.auth_key),
        check!("hbh_srtp.srtcpSessionKey", |v| hbh_uplink(v, Stream::Rtcp)?
            .cipher_key),
        check!("hbh_srtp.srtcpSessionSalt", |v| hbh_uplink(
            v,
            Stream::Rtcp
        )?
        .salt),
        check!("hbh_srtp.srtcpAuthKey", |v| hbh_uplink(v, Stream::Rtcp)?
            .auth_key),
        check!("hbh_srtp.icmKey30", |v| {
            let k = hbh_uplink(v, Stream::Rtp)?;
            let mut b = [0u8; 30];
            b[..16].copy_from_slice(&k.cipher_key);
            b[16..].copy_from_slice(&k.salt);
            b
        }),
        Check {
            path: "sframe.participantPeerId",
            run: |v| {
                let raw = text(v, "inputs.peerLid")?;
                let want = text(v, "sframe.participantPeerId")?;
                expect_eq(
                    "sframe.participantPeerId",
                    id(v, "inputs.peerLid")?.as_str(),
                    want,
                )?;
                // The bare form normalises to the same id.
                let bare = raw.replace(":0@", "@");
                expect_eq(
                    "sframe.participantPeerId (bare)",
                    ParticipantId::normalize(&bare)
                        .map_err(|_| Failure {
                            at: "sframe.participantPeerId".into(),
                            what: "bare id rejected",
                        })?
                        .as_str(),
                    want,
                )
            },
        },
        Check {
            path: "sframe.infoLabelPeer",
            run: |v| {
                let got = format!(
                    "{}{}",
                    core::str::from_utf8(SframeKey::INFO_PREFIX).unwrap_or(""),
                    id(v, "inputs.peerLid")?.as_str()
                );
                expect_eq(
                    "sframe.infoLabelPeer",
                    &got[..],
                    text(v, "sframe.infoLabelPeer")?,
                )
            },
        },
        check!("sframe.peerKey32", |v| *SframeKey::okm32(
            &call_key(v)?,
            &id(v, "inputs.peerLid")?
        )),
        check!("sframe.selfKey32", |v| *SframeKey::okm32(
            &call_key(v)?,
            &id(v, "inputs.selfLid")?
        )),
        Check {
            path: "voip_crypto.ssrc_slot0",
            run: |v| ssrc_check(v, 0, "voip_crypto.ssrc_slot0"),
        },
        Check {
            path: "voip_crypto.ssrc_slot1",
            run: |v| ssrc_check(v, 1, "voip_crypto.ssrc_slot1"),
        },
    ];

    fn ssrc_check(v: &dyn Vectors, slot: u32, path: &str) -> Result<(), Failure> {
        let got = ssrc(slot, text(v, "inputs.callId")?, &id(v, "inputs.peerLid")?);
        expect_eq(path, &i64::from(got), &int(v, path)?)
    }

    /// The `voip/kats.json` key-schedule suite.
    pub fn kats(v: &dyn Vectors) -> Result<(), Failure> {
        run_checks(v, CHECKS)
    }

    /// RFC 3711 B.3 (`rfc3711-kdf.json`) through [`SrtpMaster::derive`] and [`SessionKeys`].
    pub fn rfc3711_kdf(v: &dyn Vectors) -> Result<(), Failure> {
        for i in 0..len(v, "cases")? {
            let at = |f: &str| format!("cases.{i}.{f}");
            let key: [u8; 16] = hex(v, &at("master_key"))?[..]
                .try_into()
                .map_err(|_| Failure {
                    at: at("master_key"),
                    what: "not 16 bytes",
                })?;
            let salt: [u8; 14] =
                hex(v, &at("master_salt"))?[..]
                    .try_into()
                    .map_err(|_| Failure {
                        at: at("master_salt"),
                        what: "not 14 bytes",
                    })?;
            let keys = SessionKeys::derive(&SrtpMaster::new(key, salt), Stream::Rtp);
            expect_eq(
                &at("cipher_key"),
                &keys.cipher_key[..],
                &hex(v, &at("cipher_key"))?[..],
            )?;
            expect_eq(
                &at("cipher_salt"),
                &keys.salt[..],
                &hex(v, &at("cipher_salt"))?[..],
            )?;
            expect_eq(
                &at("auth_key"),
                &keys.auth_key[..],
                &hex(v, &at("auth_key"))?[..],
            )?;
        }
        Ok(())
    }
}
