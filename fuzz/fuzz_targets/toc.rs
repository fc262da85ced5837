//! MLow TOC routing and the Opus escape rewrite in both directions.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wacall_core::payload;

fuzz_target!(|data: &[u8]| {
    let Some((&pt, body)) = data.split_first() else {
        return;
    };
    if let payload::Route::MLow(toc) = payload::route(pt & 0x7F, body) {
        assert!(toc.packet_ms() <= 120 && toc.internal_rate_hz() <= 32_000);
    }
    let mut out = [0u8; 2048];
    if let Ok(n) = payload::opus_to_mlow_escape(body, &mut out) {
        if n > 1 {
            assert!(payload::mlow_escape_to_opus(&mut out[..n]).is_ok());
        }
    }
    let mut copy = body.to_vec();
    let _ = payload::mlow_escape_to_opus(&mut copy);
});
