//! The relay's steady state does not allocate per packet: once a call is up and its buffers have
//! been used, forwarding, keepalives and consent checks reuse what they have. With impairment the
//! pool of held buffers only grows when more datagrams are in flight than ever before. A counting
//! global allocator, armed on this test's thread only for the second half of each call, checks
//! it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use wacall_core::stun;
use wacall_core::time::{Duration, Instant};
use wacall_tokio::relay::{Config, Impairment, LocalRelay, Output};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a side
// effect with no bearing on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const KEY: &[u8] = b"c3RlYWR5LXN0YXRl";
const TOKEN: &[u8] = b"steady";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Run `seconds` of a 50 packet/s call each way with 1 s keepalives; return the allocations
/// counted during the second half.
fn run(impairment: Impairment, seconds: u64) -> (u64, u64) {
    let mut relay = LocalRelay::new(Config {
        impairment,
        consent_interval: Some(Duration::from_millis(1500)),
        ..Config::new(KEY, vec![TOKEN.to_vec()])
    });
    let (alice, bob) = (addr(5001), addr(5002));
    let mut allocate = [[0u8; 128]; 2];
    let mut lens = [0usize; 2];
    for (i, (buf, len)) in allocate.iter_mut().zip(&mut lens).enumerate() {
        *len = stun::allocate_request(buf, [i as u8; 12], TOKEN, &[], addr(3480), KEY).unwrap();
    }
    let mut ping = [0u8; 20];
    stun::ping(&mut ping, [9; 12]).unwrap();
    let mut answer = [0u8; 64];
    let mut packet = [0u8; 172];
    packet[0] = 0x90;
    packet[1] = 0x78;

    let mut sent = 0u64;
    let mut deadline = Instant::ZERO;
    let ticks = seconds * 50;
    for tick in 0..ticks {
        if tick == ticks / 2 {
            ARMED.with(|a| a.set(true));
        }
        let now = Instant::from_millis(tick * 20);
        packet[2..4].copy_from_slice(&(tick as u16).to_be_bytes());
        // Time first, as a driver would.
        while deadline <= now {
            relay.handle_timeout(deadline);
            deadline = drain(&mut relay, &mut sent, &mut answer);
        }
        for (i, from) in [alice, bob].into_iter().enumerate() {
            if tick % 50 == i as u64 {
                // Each drain ends with the full deadline; the last one of the tick is kept.
                relay.handle_input(now, from, &allocate[i][..lens[i]]);
                drain(&mut relay, &mut sent, &mut answer);
                relay.handle_input(now, from, &ping);
                drain(&mut relay, &mut sent, &mut answer);
            }
            relay.handle_input(now, from, &packet);
            deadline = drain(&mut relay, &mut sent, &mut answer);
            if answer[0] != 0 {
                // Answer the consent check the drain just saw.
                let n = answer[0] as usize;
                let tx: [u8; 12] = answer[1..13].try_into().unwrap();
                let mut reply = [0u8; 64];
                let len = stun::binding_success(&mut reply, tx, KEY).unwrap();
                relay.handle_input(now, if n == 1 { alice } else { bob }, &reply[..len]);
                answer[0] = 0;
                deadline = drain(&mut relay, &mut sent, &mut answer);
            }
        }
    }
    ARMED.with(|a| a.set(false));
    let stats = relay.stats();
    assert_eq!(stats.active_allocations, 2);
    assert!(stats.consent_answers > 0, "consent checks answered");
    assert!(stats.forwarded_packets > ticks, "media flowed: {stats:?}");
    (ALLOCATIONS.swap(0, Ordering::Relaxed), sent)
}

/// Drain outputs, counting transmits; note a consent check (who, transaction id) in `answer`.
fn drain(relay: &mut LocalRelay, sent: &mut u64, answer: &mut [u8; 64]) -> Instant {
    loop {
        match relay.poll_output() {
            Output::Transmit(t) => {
                *sent += 1;
                if let Ok(m) = stun::Message::new_checked(t.bytes)
                    && m.message_type() == stun::msg_type::BINDING_REQUEST
                {
                    answer[0] = if t.to.port() == 5001 { 1 } else { 2 };
                    answer[1..13].copy_from_slice(&m.transaction_id());
                }
            }
            Output::Event(_) => {}
            Output::Timeout(at) => return at,
        }
    }
}

#[test]
fn forwarding_keepalives_and_consent_do_not_allocate_once_warm() {
    let (plain, sent) = run(Impairment::NONE, 20);
    assert!(sent > 2000);
    assert_eq!(plain, 0, "allocations in the steady state of a plain call");
    let impaired = Impairment {
        loss: 0.1,
        mean_burst_len: 2.0,
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(80),
        seed: 5,
    };
    let (allocs, sent) = run(impaired, 20);
    // A new high-water mark of datagrams in flight may add a buffer or two; per-packet
    // allocation would be over a thousand here.
    assert!(
        allocs <= 4,
        "{allocs} allocations in the steady state of an impaired call ({sent} datagrams sent)"
    );
}
