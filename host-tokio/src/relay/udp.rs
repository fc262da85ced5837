//! The local relay on a tokio UDP socket.
//!
//! [`spawn`] binds a socket and runs a [`LocalRelay`] on it in a task: every datagram goes in with
//! the [`HostClock`]'s time, every output is sent or reported, and between datagrams the task
//! sleeps until the relay's timeout. The returned [`RelayHandle`] gives the bound address, live
//! [`Status`], the relay's [`Event`]s and a clean [`RelayHandle::shutdown`]. [`spawn_loopback`]
//! is the form the demo embeds: an ephemeral port on 127.0.0.1.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use wacall_core::time::Duration;

use super::{Config, Event, LocalRelay, Output, Stats};
use crate::clock::HostClock;

/// The largest datagram UDP can carry; the receive buffer is this large so nothing is truncated.
const MAX_DATAGRAM_BYTES: usize = 65_536;

/// Events kept for a [`RelayHandle`] that is not reading them; later ones are dropped.
const EVENT_BACKLOG: usize = 256;

/// The longest the driver sleeps when the relay has no deadline (nothing allocated).
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// What the running relay has done, as the driver sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The state machine's counters.
    pub relay: Stats,
    /// Datagrams the socket refused to send.
    pub send_errors: u64,
}

/// A running relay task.
#[derive(Debug)]
pub struct RelayHandle {
    local_addr: SocketAddr,
    status: watch::Receiver<Status>,
    events: Option<mpsc::Receiver<Event>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<Status>>,
}

impl RelayHandle {
    /// The address the relay listens on (give this to the clients as the relay endpoint).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The latest status.
    pub fn status(&self) -> Status {
        *self.status.borrow()
    }

    /// A receiver that sees every status update.
    pub fn status_updates(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// The relay's events (allocations, pairings, expiries); `None` after the first call.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<Event>> {
        self.events.take()
    }

    /// Stop the relay and wait for it; returns the final status, or the socket error that
    /// stopped it earlier. Dropping the handle also stops the relay, without waiting.
    pub async fn shutdown(mut self) -> io::Result<Status> {
        if let Some(tx) = self.shutdown.take() {
            // The task may have ended already (socket error); its result says so below.
            let _ = tx.send(());
        }
        (&mut self.task).await.map_err(io::Error::other)?
    }
}

/// Bind `listen` and run a relay with `config` on it in a new task (needs a tokio runtime).
pub async fn spawn(listen: SocketAddr, config: Config) -> io::Result<RelayHandle> {
    let socket = UdpSocket::bind(listen).await?;
    let local_addr = socket.local_addr()?;
    let (status_tx, status) = watch::channel(Status::default());
    let (event_tx, events) = mpsc::channel(EVENT_BACKLOG);
    let (shutdown, stop) = oneshot::channel();
    let relay = LocalRelay::new(config);
    let task = tokio::spawn(run(
        socket,
        relay,
        HostClock::new(),
        stop,
        status_tx,
        event_tx,
    ));
    Ok(RelayHandle {
        local_addr,
        status,
        events: Some(events),
        shutdown: Some(shutdown),
        task,
    })
}

/// Run a relay with `config` on an ephemeral port of 127.0.0.1 (the demo's relay).
pub async fn spawn_loopback(config: Config) -> io::Result<RelayHandle> {
    spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
}

/// Receive errors that concern one peer, not the socket (an ICMP error reported late, as some
/// systems do on unconnected UDP sockets); the relay keeps going.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The driver loop: feed, drain, sleep until the timeout; stop when `stop` fires or its sender
/// is dropped.
async fn run(
    socket: UdpSocket,
    mut relay: LocalRelay,
    clock: HostClock,
    mut stop: oneshot::Receiver<()>,
    status: watch::Sender<Status>,
    events: mpsc::Sender<Event>,
) -> io::Result<Status> {
    let mut buf = vec![0u8; MAX_DATAGRAM_BYTES];
    let mut send_errors = 0u64;
    loop {
        let deadline = loop {
            match relay.poll_output() {
                Output::Transmit(t) => {
                    if socket.send_to(t.bytes, t.to).await.is_err() {
                        send_errors += 1;
                    }
                }
                Output::Event(e) => {
                    // A handle that does not read its events must not stall the relay.
                    let _ = events.try_send(e);
                }
                Output::Timeout(at) => break at,
            }
        };
        let current = Status {
            relay: relay.stats(),
            send_errors,
        };
        status.send_if_modified(|s| std::mem::replace(s, current) != current);
        let wake = deadline.min(clock.now() + IDLE_WAKE);
        let wake = tokio::time::Instant::from_std(clock.to_host(wake));
        tokio::select! {
            _ = &mut stop => break,
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => relay.handle_input(clock.now(), from, &buf[..n]),
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(e),
            },
            _ = tokio::time::sleep_until(wake) => relay.handle_timeout(clock.now()),
        }
    }
    Ok(Status {
        relay: relay.stats(),
        send_errors,
    })
}
