//! The local relay state machine: a live call fed arbitrary datagrams, signed allocates and pings
//! from four senders on a moving virtual clock. Nothing may panic, a datagram is only ever
//! answered to its sender or forwarded unchanged, and the timeout always lies ahead.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use wacall_core::stun;
use wacall_core::time::{Duration, Instant};
use wacall_tokio::relay::{Config, LocalRelay, Output};

const KEY: &[u8] = b"fuzz-key-text";
const TOKENS: [&[u8]; 2] = [b"call-one", b"call-two"];

fn signed_allocate(tx: [u8; 12], token: &[u8], out: &mut [u8]) -> usize {
    let relay = SocketAddr::from(([127, 0, 0, 1], 3480));
    stun::allocate_request(out, tx, token, &[], relay, KEY).unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let mut relay = LocalRelay::new(Config::new(
        KEY,
        TOKENS.iter().map(|t| t.to_vec()).collect(),
    ));
    let who = |n: u8| SocketAddr::from(([127, 0, 0, 1], 40_000 + u16::from(n & 3)));
    let mut now = Instant::ZERO;
    let mut scratch = [0u8; 512];
    let mut rest = data;
    let mut rounds = 0u32;
    // Records: [sender+kind, time step (10 ms units), length, bytes…].
    while let [head, step, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (body, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_millis(u64::from(*step) * 10);
        let from = who(*head);
        let tx = [head ^ step; 12];
        let datagram: &[u8] = match head >> 6 {
            0 => {
                let k = signed_allocate(tx, TOKENS[usize::from((head >> 2) & 1)], &mut scratch);
                &scratch[..k]
            }
            1 => {
                let k = stun::ping(&mut scratch, tx).unwrap_or(0);
                &scratch[..k]
            }
            _ => body,
        };
        relay.handle_input(now, from, datagram);
        loop {
            match relay.poll_output() {
                Output::Transmit(t) => {
                    assert!(
                        t.to == from || t.bytes == datagram,
                        "rewrote a forwarded datagram"
                    );
                }
                Output::Event(_) => {}
                Output::Timeout(at) => {
                    assert!(at > now, "timeout not ahead");
                    break;
                }
            }
        }
        rounds += 1;
    }
    assert_eq!(relay.stats().datagrams_in, u64::from(rounds));
});
