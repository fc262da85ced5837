//! RTCP compound parser: every packet, block, chunk and item.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wacall_core::rtcp;

fuzz_target!(|data: &[u8]| {
    let mut seen = 0usize;
    for r in rtcp::compound(data).flatten() {
        seen += 1;
        match r {
            rtcp::Repr::SenderReport { blocks, .. } | rtcp::Repr::ReceiverReport { blocks, .. } => {
                assert!(blocks.extensions().count() == blocks.block_count());
                seen += blocks.count();
            }
            rtcp::Repr::Sdes { chunks, .. } => {
                for (_, items) in chunks {
                    seen += items.count();
                }
            }
            _ => {}
        }
    }
    assert!(seen <= data.len());
});
