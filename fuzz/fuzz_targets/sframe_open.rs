//! SFrame open on arbitrary bytes (must refuse or decrypt, never panic, and leave the buffer alone
//! when it refuses), plus seal → open of the same bytes, which must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::keys::{CallKey, ParticipantId, SframeKey};
use wacall_core::sframe::{MAX_HEADER_LEN_BYTES, SframeOpener, SframeSealer, TAG_LEN_BYTES};

fuzz_target!(|data: &[u8]| {
    let key = SframeKey::derive(
        &CallKey::new([5; 32]),
        &ParticipantId::normalize("1@lid").unwrap(),
    );
    let opener = SframeOpener::new(&key);
    let mut buf = data.to_vec();
    match opener.open(&mut buf) {
        Ok(n) => assert!(n + TAG_LEN_BYTES + 3 <= data.len()),
        Err(_) => assert_eq!(buf, data),
    }
    if data.is_empty() {
        return;
    }
    let mut sealer = SframeSealer::new(&key);
    let mut buf = data.to_vec();
    buf.resize(data.len() + TAG_LEN_BYTES + MAX_HEADER_LEN_BYTES, 0);
    let n = sealer.seal(&mut buf, data.len()).unwrap();
    buf.truncate(n);
    let m = opener.open(&mut buf).unwrap();
    assert_eq!(&buf[..m], data);
});
