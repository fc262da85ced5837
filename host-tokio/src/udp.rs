//! Driving a sans-IO machine over a tokio UDP socket.
//!
//! The core's state machines all have one shape: feed them a datagram or the passage of time,
//! then drain their outputs until they name the instant they next want to be woken. [`drive`] is
//! that loop for anything that speaks UDP, written once: it receives into one reusable buffer,
//! stamps every input with the [`HostClock`], sends what the machine asks, sleeps until its
//! deadline and returns when the `stop` future completes. The relay runs on it
//! ([`crate::relay::udp`]), and so can a call endpoint: its adapter feeds microphone frames from
//! `handle_timeout` and keeps playout and events for itself while draining.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;
use wacall_core::time::{Duration, Instant};

use crate::clock::HostClock;

/// The largest datagram UDP can carry: nothing received is ever truncated.
pub const MAX_DATAGRAM_BYTES: usize = 65_536;

/// The longest [`drive`] sleeps, even when the machine names a later deadline (or none).
pub const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// How long [`drive`] waits for the socket to accept a datagram that `try_send_to` refused with
/// `WouldBlock` (tokio has not yet seen the socket writable, e.g. right after binding, or its
/// send buffer is full) before counting it as a send error.
pub const SEND_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// A sans-IO machine that exchanges datagrams.
pub trait UdpMachine {
    /// A datagram arrived from `from` at `now`.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]);

    /// Time passed: `now` is at or after the deadline [`UdpMachine::drain`] last returned.
    fn handle_timeout(&mut self, now: Instant);

    /// Hand every datagram the machine wants sent to `send` (destination, bytes), deal with its
    /// other outputs, and return the instant it next wants [`UdpMachine::handle_timeout`].
    fn drain(&mut self, send: &mut dyn FnMut(SocketAddr, &[u8])) -> Instant;
}

/// What [`drive`] saw of the socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriveStats {
    /// Datagrams received and fed in.
    pub received: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams the socket refused (buffer full, unreachable destination, …).
    pub send_errors: u64,
}

/// Receive errors that concern one peer, not the socket (an ICMP error reported late, as some
/// systems do on unconnected UDP sockets): the loop carries on.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Run `machine` on `socket` until `stop` completes (or the socket fails). After each round of
/// outputs `after_drain` sees the machine and the counts, e.g. to publish a status.
pub async fn drive<M: UdpMachine>(
    socket: &UdpSocket,
    machine: &mut M,
    clock: &HostClock,
    stop: impl Future<Output = ()>,
    mut after_drain: impl FnMut(&M, &DriveStats),
) -> io::Result<DriveStats> {
    let mut buf = vec![0u8; MAX_DATAGRAM_BYTES];
    let mut stats = DriveStats::default();
    // Datagrams refused with WouldBlock, kept (bytes back to back) to be sent once the socket is
    // writable; both vectors keep their capacity, so this costs an allocation only while growing.
    let mut blocked: Vec<(SocketAddr, usize)> = Vec::new();
    let mut blocked_bytes: Vec<u8> = Vec::new();
    tokio::pin!(stop);
    loop {
        let deadline = machine.drain(&mut |to, bytes| match socket.try_send_to(bytes, to) {
            Ok(_) => stats.sent += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                blocked.push((to, bytes.len()));
                blocked_bytes.extend_from_slice(bytes);
            }
            Err(_) => stats.send_errors += 1,
        });
        let mut at = 0;
        for (to, len) in blocked.drain(..) {
            let bytes = &blocked_bytes[at..at + len];
            at += len;
            match tokio::time::timeout(SEND_WAIT, socket.send_to(bytes, to)).await {
                Ok(Ok(_)) => stats.sent += 1,
                Ok(Err(_)) | Err(_) => stats.send_errors += 1,
            }
        }
        blocked_bytes.clear();
        after_drain(machine, &stats);
        let wake = deadline.min(clock.now() + MAX_SLEEP);
        let wake = tokio::time::Instant::from_std(clock.to_host(wake));
        tokio::select! {
            _ = &mut stop => return Ok(stats),
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => {
                    stats.received += 1;
                    machine.handle_datagram(clock.now(), from, &buf[..n]);
                }
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(e),
            },
            _ = tokio::time::sleep_until(wake) => machine.handle_timeout(clock.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every datagram with its reverse and asks to be woken 5 ms after each one; counts
    /// its wake-ups.
    struct Mirror {
        queued: Vec<(SocketAddr, Vec<u8>)>,
        deadline: Instant,
        wakes: u32,
    }

    impl UdpMachine for Mirror {
        fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
            self.queued
                .push((from, datagram.iter().rev().copied().collect()));
            self.deadline = now + Duration::from_millis(5);
        }
        fn handle_timeout(&mut self, _now: Instant) {
            self.wakes += 1;
            self.deadline = Instant::from_micros(u64::MAX);
        }
        fn drain(&mut self, send: &mut dyn FnMut(SocketAddr, &[u8])) -> Instant {
            for (to, bytes) in self.queued.drain(..) {
                send(to, &bytes);
            }
            self.deadline
        }
    }

    /// Sends one datagram in its very first drain, before tokio has seen the fresh socket
    /// writable (where `try_send_to` alone refused it and it was silently lost).
    struct Greeter {
        to: SocketAddr,
        greeted: bool,
    }

    impl UdpMachine for Greeter {
        fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, _datagram: &[u8]) {}
        fn handle_timeout(&mut self, _now: Instant) {}
        fn drain(&mut self, send: &mut dyn FnMut(SocketAddr, &[u8])) -> Instant {
            if !self.greeted {
                self.greeted = true;
                send(self.to, b"hello");
            }
            Instant::from_micros(u64::MAX)
        }
    }

    #[tokio::test]
    async fn the_first_datagram_on_a_fresh_socket_is_sent() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut greeter = Greeter {
            to: peer.local_addr().unwrap(),
            greeted: false,
        };
        let clock = HostClock::new();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let client = async {
            let mut buf = [0u8; 16];
            let got =
                tokio::time::timeout(std::time::Duration::from_secs(2), peer.recv_from(&mut buf))
                    .await;
            stop_tx.send(()).unwrap();
            got.ok().map(|r| buf[..r.unwrap().0].to_vec())
        };
        let stop = async {
            let _ = stop_rx.await;
        };
        let (stats, got) = tokio::join!(
            drive(&socket, &mut greeter, &clock, stop, |_, _| {}),
            client
        );
        assert_eq!(got.as_deref(), Some(&b"hello"[..]));
        assert_eq!(stats.unwrap().sent, 1);
    }

    #[tokio::test]
    async fn a_machine_is_fed_answered_woken_and_stopped() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let at = socket.local_addr().unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut mirror = Mirror {
            queued: Vec::new(),
            deadline: Instant::from_micros(u64::MAX),
            wakes: 0,
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let clock = HostClock::new();
        let client = async {
            let mut buf = [0u8; 16];
            for word in [&b"abc"[..], b"wacall"] {
                peer.send_to(word, at).await.unwrap();
                let (n, from) = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    peer.recv_from(&mut buf),
                )
                .await
                .unwrap()
                .unwrap();
                assert_eq!(from, at);
                let back: Vec<u8> = word.iter().rev().copied().collect();
                assert_eq!(&buf[..n], &back[..]);
            }
            // Outlive the machine's 5 ms deadline, then stop it.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            stop_tx.send(()).unwrap();
        };
        let stop = async {
            let _ = stop_rx.await;
        };
        let (stats, ()) =
            tokio::join!(drive(&socket, &mut mirror, &clock, stop, |_, _| {}), client);
        let stats = stats.unwrap();
        assert_eq!((stats.received, stats.sent, stats.send_errors), (2, 2, 0));
        assert!(mirror.wakes >= 1, "the deadline woke the machine");
    }
}
