//! Arbitrary packets and losses through the full MLow decoder. The input is a script of records:
//! a byte `h`; `h & 0x80` set means a lost packet concealed over `(h & 7) · 160 + 1` samples,
//! otherwise a packet of the next `h & 0x7f` bytes follows (`0x7f` takes the length from one more
//! byte, for packets up to 255 bytes). Nothing may panic; a decoded packet yields exactly the
//! samples its TOC says; a refused one changes no state (and state comparing equal to itself
//! rules out NaN in it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wacall_core::mlow::Decoder;
use wacall_core::mlow::decoder::fuzzing::same_state;

fuzz_target!(|data: &[u8]| {
    let mut dec = Decoder::new();
    let mut out = [0i16; 1920];
    let mut rest = data;
    while let Some((&h, tail)) = rest.split_first() {
        rest = tail;
        if h & 0x80 != 0 {
            let n = usize::from(h & 7) * 160 + 1;
            assert_eq!(dec.decode_lost(&mut out[..n]), n);
            continue;
        }
        let mut len = usize::from(h & 0x7f);
        if len == 0x7f {
            let Some((&l, tail)) = rest.split_first() else {
                break;
            };
            rest = tail;
            len = usize::from(l);
        }
        let len = len.min(rest.len());
        let (packet, tail) = rest.split_at(len);
        rest = tail;
        let before = dec.clone();
        match dec.decode(packet, &mut out) {
            Ok(n) => assert_eq!(Some(n), Decoder::packet_samples(packet)),
            Err(_) => assert!(same_state(&before, &dec)),
        }
    }
});
