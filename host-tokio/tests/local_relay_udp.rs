//! The local relay over real UDP sockets on 127.0.0.1: two clients allocate with requests built by
//! `wacall_core::stun`, exchange datagrams through the relay both ways, and a client holding the
//! wrong key is refused. Every wait is bounded so a broken relay fails the test instead of
//! hanging it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;
use wacall_core::stun::{self, Message, msg_type, proto::StreamDescriptor};
use wacall_tokio::relay::udp::{self, RelayHandle};
use wacall_tokio::relay::{Config, Event, Impairment};

const KEY: &str = "dGVzdC1yZWxheS1rZXk=";
const TOKEN: &[u8] = b"\x01\x02\x03\x04call";
/// A generous bound on any single wait: loopback answers in microseconds.
const WAIT: Duration = Duration::from_secs(5);
const ROUNDS: u16 = 25;

async fn client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .expect("the relay answered in time")
        .unwrap();
    (buf[..n].to_vec(), from)
}

/// Send an allocate for `TOKEN` under `key` and return the relay's answer.
async fn allocate(sock: &UdpSocket, relay: SocketAddr, tx: [u8; 12], key: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let ssrc = u32::from(tx[0]) << 24 | 0x5A5A;
    let descriptors = [StreamDescriptor {
        stream_index: 0,
        sub_type: 0,
        ssrc,
    }];
    let n = stun::allocate_request(&mut buf, tx, TOKEN, &descriptors, relay, key).unwrap();
    sock.send_to(&buf[..n], relay).await.unwrap();
    let (answer, from) = recv(sock).await;
    assert_eq!(from, relay);
    answer
}

fn rtp(seq: u16, who: u8) -> Vec<u8> {
    let mut p = vec![0x90, 0x78];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 1, 64, 0, 0, 0, who]);
    p.extend(std::iter::repeat_n(who, 40 + usize::from(seq % 7)));
    p
}

async fn next_event(relay: &mut tokio::sync::mpsc::Receiver<Event>) -> Event {
    timeout(WAIT, relay.recv()).await.unwrap().unwrap()
}

#[tokio::test]
async fn two_clients_allocate_and_talk_through_the_relay() {
    let mut relay: RelayHandle =
        udp::spawn_loopback(Config::new(KEY.as_bytes(), vec![TOKEN.to_vec()]))
            .await
            .unwrap();
    let at = relay.local_addr();
    assert!(at.ip().is_loopback());
    let mut events = relay.take_events().unwrap();
    let (alice, bob, mallory) = (client().await, client().await, client().await);

    // Mallory holds the token but not the key: 401, and nothing is allocated.
    let answer = allocate(&mallory, at, [9; 12], b"not the key").await;
    let m = Message::new_checked(&answer[..]).unwrap();
    assert_eq!(m.message_type(), msg_type::ALLOCATE_ERROR);
    assert_eq!(m.error_code(), Some(401));

    for (sock, tx) in [(&alice, [1u8; 12]), (&bob, [2u8; 12])] {
        let answer = allocate(sock, at, tx, KEY.as_bytes()).await;
        let m = Message::new_checked(&answer[..]).unwrap();
        assert_eq!(m.message_type(), msg_type::ALLOCATE_SUCCESS);
        assert_eq!(m.transaction_id(), tx);
        m.verify_integrity(KEY.as_bytes()).unwrap();
    }
    let alice_addr = alice.local_addr().unwrap();
    let bob_addr = bob.local_addr().unwrap();
    assert_eq!(
        next_event(&mut events).await,
        Event::Allocated {
            from: alice_addr,
            token_index: 0
        }
    );
    assert_eq!(
        next_event(&mut events).await,
        Event::Allocated {
            from: bob_addr,
            token_index: 0
        }
    );
    assert_eq!(
        next_event(&mut events).await,
        Event::Paired {
            token_index: 0,
            first: alice_addr,
            second: bob_addr
        }
    );

    // A WA ping is answered with a pong carrying its transaction id.
    let mut ping = [0u8; 20];
    stun::ping(&mut ping, [7; 12]).unwrap();
    alice.send_to(&ping, at).await.unwrap();
    let (pong, _) = recv(&alice).await;
    let m = Message::new_checked(&pong[..]).unwrap();
    assert_eq!(
        (m.message_type(), m.transaction_id()),
        (msg_type::WA_PONG, [7; 12])
    );

    // Media both ways, in lock step so no datagram can be lost to a full socket buffer. Mallory's
    // media goes nowhere.
    let mut bytes = 0;
    for seq in 0..ROUNDS {
        mallory.send_to(&rtp(seq, 0xEE), at).await.unwrap();
        let a = rtp(seq, 0xAA);
        alice.send_to(&a, at).await.unwrap();
        assert_eq!(recv(&bob).await, (a.clone(), at));
        let b = rtp(seq, 0xBB);
        bob.send_to(&b, at).await.unwrap();
        assert_eq!(recv(&alice).await, (b.clone(), at));
        bytes += a.len() + b.len();
    }

    let last = relay.shutdown().await.unwrap();
    let r = last.relay;
    assert_eq!(r.allocations, 2);
    assert_eq!(r.paired_calls, 1);
    assert_eq!(r.forwarded_packets, 2 * u64::from(ROUNDS));
    assert_eq!(r.forwarded_rtp, 2 * u64::from(ROUNDS));
    assert_eq!(r.forwarded_bytes, bytes as u64);
    assert_eq!(r.pings, 1);
    assert_eq!(r.rejected.bad_integrity, 1);
    assert_eq!(r.rejected.unallocated, u64::from(ROUNDS));
    assert_eq!(last.send_errors, 0);
    // Mallory never heard anything but the 401.
    let mut buf = [0u8; 64];
    assert!(mallory.try_recv_from(&mut buf).is_err());
}

/// Held media leaves on the driver's timer: with a 30 ms delay and 20 ms of jitter every datagram
/// still arrives, none before its hold, and the relay ends with nothing held.
#[tokio::test]
async fn delayed_media_is_released_by_the_driver_timer() {
    let hold = Duration::from_millis(30);
    let config = Config {
        impairment: Impairment {
            delay: wacall_core::time::Duration::from_millis(30),
            jitter: wacall_core::time::Duration::from_millis(20),
            ..Impairment::NONE
        },
        ..Config::new(KEY.as_bytes(), vec![TOKEN.to_vec()])
    };
    let relay = udp::spawn_loopback(config).await.unwrap();
    let at = relay.local_addr();
    let (alice, bob) = (client().await, client().await);
    for (sock, tx) in [(&alice, [1u8; 12]), (&bob, [2u8; 12])] {
        let answer = allocate(sock, at, tx, KEY.as_bytes()).await;
        let m = Message::new_checked(&answer[..]).unwrap();
        assert_eq!(m.message_type(), msg_type::ALLOCATE_SUCCESS);
    }
    let sent: Vec<Vec<u8>> = (0..10).map(|seq| rtp(seq, 0xAA)).collect();
    let start = std::time::Instant::now();
    for p in &sent {
        alice.send_to(p, at).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..sent.len() {
        got.push(recv(&bob).await.0);
    }
    assert!(start.elapsed() >= hold, "released before the hold");
    got.sort();
    let mut want = sent.clone();
    want.sort();
    assert_eq!(got, want);
    let last = relay.shutdown().await.unwrap();
    assert_eq!(last.relay.held, 0);
    assert_eq!(last.relay.forwarded_packets, 10);
}
