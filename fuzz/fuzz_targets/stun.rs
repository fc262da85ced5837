//! STUN parser: header check, typed attributes, stream descriptors, integrity and fingerprint.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wacall_core::stun;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = stun::Message::new_checked(data) {
        assert!(m.total_len() <= data.len());
        for a in m.attributes().flatten() {
            if let stun::Attribute::StreamDescriptors(pb) = a {
                let _ = stun::proto::stream_descriptors(pb).count();
            }
        }
        let verified = m.verify_integrity(b"fuzz-key").is_ok();
        let _ = (verified, m.verify_fingerprint(), m.error_code());
    }
});
