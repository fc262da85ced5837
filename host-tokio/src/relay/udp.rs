//! The local relay on a tokio UDP socket.
//!
//! [`spawn`] binds a socket and runs a [`LocalRelay`] on it in a task with [`crate::udp::drive`]:
//! every datagram goes in with the [`HostClock`]'s time, every output is sent or reported, and
//! between datagrams the task sleeps until the relay's timeout. The returned [`RelayHandle`]
//! gives the bound address, live [`Status`], the relay's [`Event`]s and a clean
//! [`RelayHandle::shutdown`]. [`spawn_loopback`] is the form the demo embeds: an ephemeral port
//! on 127.0.0.1.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use wacall_core::time::Instant;

use super::{Config, Event, LocalRelay, Output, Stats};
use crate::clock::HostClock;
use crate::udp::{DriveStats, UdpMachine, drive};

/// Events kept for a [`RelayHandle`] that is not reading them; later ones are dropped.
const EVENT_BACKLOG: usize = 256;

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
    let task = tokio::spawn(run(socket, relay, stop, status_tx, event_tx));
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

/// The relay as a [`UdpMachine`]: its events go to the handle's channel.
struct Driven {
    relay: LocalRelay,
    events: mpsc::Sender<Event>,
}

impl UdpMachine for Driven {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.relay.handle_input(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.relay.handle_timeout(now);
    }

    fn drain(&mut self, send: &mut dyn FnMut(SocketAddr, &[u8])) -> Instant {
        loop {
            match self.relay.poll_output() {
                Output::Transmit(t) => send(t.to, t.bytes),
                Output::Event(e) => {
                    // A handle that does not read its events must not stall the relay.
                    let _ = self.events.try_send(e);
                }
                Output::Timeout(at) => return at,
            }
        }
    }
}

/// The task: drive the relay until `stop` fires or its sender is dropped, publishing the status
/// after every round of outputs.
async fn run(
    socket: UdpSocket,
    relay: LocalRelay,
    stop: oneshot::Receiver<()>,
    status: watch::Sender<Status>,
    events: mpsc::Sender<Event>,
) -> io::Result<Status> {
    let mut machine = Driven { relay, events };
    let stop = async {
        // Either a shutdown request or a dropped handle: both mean stop.
        let _ = stop.await;
    };
    let publish = |m: &Driven, d: &DriveStats| {
        let current = Status {
            relay: m.relay.stats(),
            send_errors: d.send_errors,
        };
        status.send_if_modified(|s| std::mem::replace(s, current) != current);
    };
    let driven = drive(&socket, &mut machine, &HostClock::new(), stop, publish).await?;
    Ok(Status {
        relay: machine.relay.stats(),
        send_errors: driven.send_errors,
    })
}
