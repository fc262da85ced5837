//! SRTCP unprotect on arbitrary bytes: a tag length byte, then length-prefixed packets; a prefix
//! with the high bit set has the packet protected by a matching sender first. A protected packet
//! must come back exactly; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::keys::SrtpMaster;
use wacall_core::srtp::{Config, SrtpReceiver, SrtpSender};

const SSRC: u32 = 0x1234_5678;

fuzz_target!(|data: &[u8]| {
    let Some((&tag, mut rest)) = data.split_first() else {
        return;
    };
    let Ok(config) = Config::new(4, usize::from(tag % 21)) else {
        return;
    };
    let master = SrtpMaster::new([7; 16], [9; 14]);
    let mut tx = SrtpSender::new(&master, SSRC, config);
    let mut rx = SrtpReceiver::<2>::new(&master, config);
    rx.add_ssrc(SSRC).unwrap();
    let mut buf = [0u8; 160];
    // With short tags the fuzzer can forge one; after that the two sides may disagree.
    let mut forged = false;
    while let Some((&prefix, tail)) = rest.split_first() {
        let n = usize::from(prefix & 0x7f).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        buf[..n].copy_from_slice(chunk);
        let mut protected = None;
        if prefix & 0x80 != 0 && n >= 8 {
            buf[4..8].copy_from_slice(&SSRC.to_be_bytes());
            let plain = buf;
            if let Ok(len) = tx.protect_rtcp(&mut buf, n) {
                protected = Some((plain, len));
            }
        }
        let len = protected.map_or(n, |(_, len)| len);
        match (rx.unprotect_rtcp(&mut buf[..len]), protected) {
            // Each sender index is fresh, so a protected packet is never a replay.
            (Ok(m), Some((plain, _))) => assert_eq!(&buf[..m], &plain[..n]),
            (Err(e), Some(_)) => assert!(forged, "own SRTCP packet refused: {e:?}"),
            (Ok(m), None) => {
                assert!(m < len);
                forged = true;
            }
            (Err(_), None) => {}
        }
    }
});
