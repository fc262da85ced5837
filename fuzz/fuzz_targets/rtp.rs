//! RTP header parser: checked view, accessors, extension elements and the typed header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wacall_core::rtp;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = rtp::Packet::new_checked(data) {
        assert_eq!(
            p.header_len() + p.payload().len() + p.padding_len(),
            data.len()
        );
        let _ = (p.marker(), p.payload_type(), p.sequence_number(), p.form());
        assert!(p.extension_elements().count() <= p.extension().len());
        if let Ok(repr) = rtp::Repr::parse(&p) {
            let mut buf = [0u8; 128];
            if let Ok(n) = repr.emit(&mut buf) {
                assert_eq!(rtp::Repr::parse_bytes(&buf[..n]).map(|(r, _)| r), Ok(repr));
            }
        }
    }
});
