//! SplitRed depacketizer, and re-packetizing what it found.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wacall_core::red;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = red::SplitRed::parse(data) {
        let pairs: Vec<(u8, &[u8])> = r
            .frames()
            .filter(|f| !f.is_main)
            .map(|f| (f.time_code, f.data))
            .collect();
        let main = r.main();
        let repr = red::Repr {
            redundant: &pairs,
            main_time_code: main.time_code,
            main: main.data,
        };
        let mut out = vec![0u8; repr.buffer_len()];
        if repr.emit(&mut out).is_ok() {
            assert_eq!(&out[..], data);
        }
    }
});
