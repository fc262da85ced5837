//! The local relay state machine with consent checks on: arbitrary datagrams, signed allocates,
//! pings and consent answers from four senders on a moving virtual clock. Nothing may panic, a datagram is only ever
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
    let mut relay = LocalRelay::new(Config {
        consent_interval: Some(Duration::from_millis(700)),
        ..Config::new(KEY, TOKENS.iter().map(|t| t.to_vec()).collect())
    });
    // The transaction id of the last consent check each sender was sent, to answer it.
    let mut last_check = [[0u8; 12]; 4];
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
            1 if head & 0x20 == 0 => {
                let k = stun::ping(&mut scratch, tx).unwrap_or(0);
                &scratch[..k]
            }
            1 => {
                // Answer the sender's last consent check, under the key when the body is empty and
                // under the body (a wrong key) otherwise.
                let answer_tx = last_check[usize::from(head & 3)];
                let key: &[u8] = if body.is_empty() { KEY } else { body };
                let k = stun::binding_success(&mut scratch, answer_tx, key).unwrap_or(0);
                &scratch[..k]
            }
            _ => body,
        };
        relay.handle_input(now, from, datagram);
        loop {
            match relay.poll_output() {
                Output::Transmit(t) => {
                    let check = stun::Message::new_checked(t.bytes)
                        .ok()
                        .filter(|m| m.message_type() == stun::msg_type::BINDING_REQUEST);
                    if let Some(m) = &check {
                        last_check[usize::from(t.to.port() - 40_000) & 3] = m.transaction_id();
                    }
                    assert!(
                        t.to == from || t.bytes == datagram || check.is_some(),
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
