//! Relay message demultiplexer with group-envelope unwrapping.
#![no_main]
use libfuzzer_sys::fuzz_target;
use wacall_core::demux;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = demux::demux(data) {
        assert_eq!(d.envelope_len + d.bytes.len(), data.len());
        assert_eq!(d.kind, demux::classify(d.bytes));
    }
});
