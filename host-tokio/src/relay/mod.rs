//! A local stand-in for a WhatsApp relay, as a sans-IO state machine.
//!
//! [`LocalRelay`] does what the clients expect of a relay in the plain-UDP form, so that two
//! engines on one machine can call each other with no account and no network:
//!
//! - **Allocate** (`0x0003`): the request must carry MESSAGE-INTEGRITY keyed by the relay `<key>`
//!   **text** (as the clients compute it) and a relay token (`0x4000`) the relay was configured to
//!   accept. It is answered with an allocate success (`0x0103`) echoing the transaction id, carrying
//!   the client's address as XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY under the same key and a
//!   FINGERPRINT. The reconstructed clients only look at the type and the transaction id; the
//!   attributes are what an RFC 5389 server adds. A repeated allocate from the same address
//!   refreshes the allocation (the clients repeat it every second as a keepalive).
//! - **Errors** (`0x0113`, with ERROR-CODE, FINGERPRINT): 400 for a malformed request or one with
//!   no integrity or no token; 401 when the integrity does not verify (both unsigned, as RFC 5389
//!   §10.1.2 says); 403 for a token the relay does not know; 437 when the address already holds an
//!   allocation for another token; 486 when the call already has two allocations. 403, 437 and 486
//!   answer an authenticated request and are signed.
//! - **WhatsApp ping** (`0x0801`) → pong (`0x0802`, same transaction id, empty body). A ping from an
//!   allocated address also refreshes its allocation.
//! - **Binding request** (`0x0001`) → binding success with XOR-MAPPED-ADDRESS and FINGERPRINT, plus
//!   MESSAGE-INTEGRITY when the request carried one that verified (401 binding error when it did
//!   not).
//! - **Media**: the two allocations holding the same token are one call. Every datagram that is
//!   not STUN — RTP, RTCP, a `0x09`-enveloped group packet or anything else — from one allocated
//!   address is forwarded unchanged to the other. Media from an address with no allocation, or
//!   whose call has no second party yet, is dropped and counted.
//! - **Impairment** (optional, [`Config::impairment`]): forwarded media can be lost (independently
//!   or in bursts), delayed and jittered, so a loopback call can be heard over a bad network; see
//!   [`impair`].
//! - **Consent checks** (optional, [`Config::consent_interval`]): the relay sends each allocation
//!   a binding request (MESSAGE-INTEGRITY and FINGERPRINT) at the interval and counts the binding
//!   successes that answer it with the same transaction id, as the clients must (they reply with
//!   MESSAGE-INTEGRITY and FINGERPRINT). An unanswered check only shows in the counters.
//! - **Expiry**: an allocation not refreshed for [`Config::idle_timeout`] (default
//!   [`DEFAULT_IDLE_TIMEOUT`]) is removed; media does not refresh it, only allocate and ping do.
//!
//! The shape is the core's sans-IO contract: [`LocalRelay::handle_input`] /
//! [`LocalRelay::handle_timeout`] with the current [`Instant`], then [`LocalRelay::poll_output`]
//! until it yields [`Output::Timeout`]. It reads no clock and owns no socket; [`udp`] drives it
//! over a tokio UDP socket. Garbage never panics: it is dropped and counted in [`Stats`].
//! The relay recycles its output buffers: once warm, forwarding does not allocate per packet (with
//! impairment, only a new high of datagrams in flight adds a buffer); a counting-allocator test
//! pins this.

pub mod cli;
pub mod impair;
pub mod udp;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::SocketAddr;

use wacall_core::demux;
use wacall_core::stun::{self, Attribute, Builder, Message, msg_type};
use wacall_core::time::{Duration, Instant};

use impair::SplitMix64;
pub use impair::{Impairment, ImpairmentError};

/// How long an allocation lives without an allocate or ping refreshing it. The clients refresh
/// every second; a real relay drops a silent client after about four seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The timeout reported when nothing is allocated: the relay has no reason to wake up.
pub const NEVER: Instant = Instant::from_micros(u64::MAX);

/// Outputs held for the caller before the oldest are dropped. The caller drains after each input,
/// which yields a few outputs (an answer or a forward, due held media, a consent check per
/// allocation, a few events), so this is only reached by a caller that stops polling.
const MAX_PENDING: usize = 64;

/// Room for any STUN response this relay writes.
const RESPONSE_CAPACITY_BYTES: usize = 256;

/// Forwarded datagrams held back by [`Impairment`] delay at most (40 s worth of a 100 packet/s
/// stream); beyond this they are dropped and counted as output overflow.
const MAX_HELD: usize = 4096;

/// What the relay accepts.
#[derive(Clone)]
pub struct Config {
    /// The relay `<key>` content as text: the MESSAGE-INTEGRITY key.
    pub integrity_key: Vec<u8>,
    /// The relay tokens (raw `<token>` bytes, attribute `0x4000`) that may allocate. The two
    /// allocations holding the same token are paired into one call.
    pub tokens: Vec<Vec<u8>>,
    /// Allocations not refreshed for this long are removed.
    pub idle_timeout: Duration,
    /// Loss and delay applied to forwarded media (none by default).
    pub impairment: Impairment,
    /// When set, every allocation is sent a binding request at this interval, as a relay checks
    /// that its client still consents; the answers are counted (off by default).
    pub consent_interval: Option<Duration>,
}

impl Config {
    /// A configuration with the default idle timeout.
    pub fn new(integrity_key: impl Into<Vec<u8>>, tokens: Vec<Vec<u8>>) -> Self {
        Config {
            integrity_key: integrity_key.into(),
            tokens,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            impairment: Impairment::NONE,
            consent_interval: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("integrity_key", &"[redacted]")
            .field("tokens", &self.tokens.len())
            .field("idle_timeout", &self.idle_timeout)
            .field("impairment", &self.impairment)
            .field("consent_interval", &self.consent_interval)
            .finish()
    }
}

/// Why a datagram was not answered or forwarded the normal way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Not parseable: a STUN-looking datagram whose header or attributes do not hold together.
    Malformed,
    /// An allocate (or binding) without MESSAGE-INTEGRITY (answered 400).
    MissingIntegrity,
    /// MESSAGE-INTEGRITY that does not verify under the key (answered 401).
    BadIntegrity,
    /// An allocate without a relay token (answered 400).
    MissingToken,
    /// A relay token the relay was not given (answered 403).
    UnknownToken,
    /// An allocate for another token from an address that already holds one (answered 437).
    AllocationMismatch,
    /// A third party allocating on a call that has two already (answered 486).
    CallFull,
    /// Media from an address with no allocation.
    Unallocated,
    /// Media from an allocation whose call has no second party.
    Unpaired,
    /// A well-formed STUN message the relay has no business with (responses, indications, …).
    UnexpectedStun,
    /// Outputs dropped because the caller did not poll them, or held media beyond the bound.
    OutputOverflow,
    /// Media deliberately lost by the configured [`Impairment`].
    ImpairmentLoss,
}

/// Counts of rejected datagrams, by [`Reject`] reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejected {
    /// [`Reject::Malformed`].
    pub malformed: u64,
    /// [`Reject::MissingIntegrity`].
    pub missing_integrity: u64,
    /// [`Reject::BadIntegrity`].
    pub bad_integrity: u64,
    /// [`Reject::MissingToken`].
    pub missing_token: u64,
    /// [`Reject::UnknownToken`].
    pub unknown_token: u64,
    /// [`Reject::AllocationMismatch`].
    pub allocation_mismatch: u64,
    /// [`Reject::CallFull`].
    pub call_full: u64,
    /// [`Reject::Unallocated`].
    pub unallocated: u64,
    /// [`Reject::Unpaired`].
    pub unpaired: u64,
    /// [`Reject::UnexpectedStun`].
    pub unexpected_stun: u64,
    /// [`Reject::OutputOverflow`].
    pub output_overflow: u64,
    /// [`Reject::ImpairmentLoss`].
    pub impairment_loss: u64,
}

impl Rejected {
    /// The counter for `reason`.
    pub fn get(&self, reason: Reject) -> u64 {
        match reason {
            Reject::Malformed => self.malformed,
            Reject::MissingIntegrity => self.missing_integrity,
            Reject::BadIntegrity => self.bad_integrity,
            Reject::MissingToken => self.missing_token,
            Reject::UnknownToken => self.unknown_token,
            Reject::AllocationMismatch => self.allocation_mismatch,
            Reject::CallFull => self.call_full,
            Reject::Unallocated => self.unallocated,
            Reject::Unpaired => self.unpaired,
            Reject::UnexpectedStun => self.unexpected_stun,
            Reject::OutputOverflow => self.output_overflow,
            Reject::ImpairmentLoss => self.impairment_loss,
        }
    }

    fn count(&mut self, reason: Reject) {
        let c = match reason {
            Reject::Malformed => &mut self.malformed,
            Reject::MissingIntegrity => &mut self.missing_integrity,
            Reject::BadIntegrity => &mut self.bad_integrity,
            Reject::MissingToken => &mut self.missing_token,
            Reject::UnknownToken => &mut self.unknown_token,
            Reject::AllocationMismatch => &mut self.allocation_mismatch,
            Reject::CallFull => &mut self.call_full,
            Reject::Unallocated => &mut self.unallocated,
            Reject::Unpaired => &mut self.unpaired,
            Reject::UnexpectedStun => &mut self.unexpected_stun,
            Reject::OutputOverflow => &mut self.output_overflow,
            Reject::ImpairmentLoss => &mut self.impairment_loss,
        };
        *c += 1;
    }

    /// All rejections together.
    pub fn total(&self) -> u64 {
        self.malformed
            + self.missing_integrity
            + self.bad_integrity
            + self.missing_token
            + self.unknown_token
            + self.allocation_mismatch
            + self.call_full
            + self.unallocated
            + self.unpaired
            + self.unexpected_stun
            + self.output_overflow
            + self.impairment_loss
    }
}

/// What the relay has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed in.
    pub datagrams_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Allocations created.
    pub allocations: u64,
    /// Allocate requests that refreshed an existing allocation.
    pub refreshes: u64,
    /// Allocations removed for want of a refresh.
    pub expired: u64,
    /// Allocations alive now.
    pub active_allocations: u64,
    /// Calls with both parties allocated now.
    pub paired_calls: u64,
    /// WhatsApp pings answered.
    pub pings: u64,
    /// Binding requests answered with a success.
    pub bindings: u64,
    /// Consent checks (binding requests) the relay sent to its clients.
    pub consent_checks: u64,
    /// Binding successes from clients that answered the outstanding consent check, with
    /// MESSAGE-INTEGRITY under the key when they carried one.
    pub consent_answers: u64,
    /// Datagrams forwarded between the parties of a call (including those still held by the
    /// impairment delay; not those it lost).
    pub forwarded_packets: u64,
    /// Their bytes.
    pub forwarded_bytes: u64,
    /// Of the forwarded datagrams, those that demultiplex as RTP (possibly enveloped).
    pub forwarded_rtp: u64,
    /// Of the forwarded datagrams, those that demultiplex as RTCP (possibly enveloped).
    pub forwarded_rtcp: u64,
    /// Forwarded datagrams the impairment delay is holding now.
    pub held: u64,
    /// Rejections by reason.
    pub rejected: Rejected,
}

/// Something the relay did worth telling the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A new allocation for the token at `token_index` of [`Config::tokens`].
    Allocated {
        /// The client's address.
        from: SocketAddr,
        /// Which configured token.
        token_index: usize,
    },
    /// Both parties of a call are allocated: media now flows between them.
    Paired {
        /// Which configured token.
        token_index: usize,
        /// The party that allocated first.
        first: SocketAddr,
        /// The party that allocated second.
        second: SocketAddr,
    },
    /// An allocation was removed because nothing refreshed it.
    Expired {
        /// The client's address.
        addr: SocketAddr,
        /// Which configured token.
        token_index: usize,
    },
}

/// A datagram to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Where to.
    pub to: SocketAddr,
    /// What.
    pub bytes: &'a [u8],
}

/// What [`LocalRelay::poll_output`] yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output<'a> {
    /// Send a datagram.
    Transmit(Transmit<'a>),
    /// Something happened.
    Event(Event),
    /// Nothing more for now: call [`LocalRelay::handle_timeout`] at this instant ([`NEVER`] when
    /// nothing is allocated) unless a datagram arrives first. Always the last output.
    Timeout(Instant),
}

#[derive(Debug)]
enum Pending {
    Transmit(SocketAddr, Vec<u8>),
    Event(Event),
}

#[derive(Clone, Copy, Debug)]
struct Allocation {
    addr: SocketAddr,
    token_index: usize,
    expires: Instant,
    /// The impairment's loss state for what this party sends.
    in_loss_burst: bool,
    /// When the next consent check is due ([`NEVER`] without consent checks).
    next_consent: Instant,
    /// The transaction id of the consent check awaiting an answer.
    consent_tx: Option<[u8; 12]>,
}

/// A forwarded datagram waiting out its impairment delay; ordered by release time, then arrival.
#[derive(Debug)]
struct Held {
    release: Instant,
    order: u64,
    to: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.release, self.order) == (other.release, other.order)
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.release, self.order).cmp(&(other.release, other.order))
    }
}

/// The local relay state machine (see the module docs).
#[derive(Debug)]
pub struct LocalRelay {
    config: Config,
    allocations: Vec<Allocation>,
    pending: VecDeque<Pending>,
    /// The buffer of the transmit last returned by `poll_output`, kept so it can be borrowed.
    lent: Vec<u8>,
    /// Buffers to reuse.
    spare: Vec<Vec<u8>>,
    /// Media waiting out its impairment delay, earliest first.
    held: BinaryHeap<Reverse<Held>>,
    next_order: u64,
    rng: SplitMix64,
    stats: Stats,
}

impl LocalRelay {
    /// A relay with nothing allocated.
    pub fn new(config: Config) -> Self {
        LocalRelay {
            rng: SplitMix64::new(config.impairment.seed),
            config,
            allocations: Vec::new(),
            pending: VecDeque::with_capacity(MAX_PENDING),
            lent: Vec::new(),
            spare: Vec::new(),
            held: BinaryHeap::new(),
            next_order: 0,
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What the relay has done so far.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.held = self.held.len() as u64;
        s.active_allocations = self.allocations.len() as u64;
        s.paired_calls = self
            .allocations
            .iter()
            .filter(|a| self.peer_of(a.addr, a.token_index).is_some())
            .count() as u64
            / 2;
        s
    }

    /// Handle one datagram received from `from` at `now`.
    pub fn handle_input(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.expire(now);
        self.release(now);
        self.check_consent(now);
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        match Message::new_checked(datagram) {
            Ok(m) => self.handle_stun(now, from, &m),
            // A STUN-looking first byte that is not the group envelope's: broken STUN.
            Err(_)
                if datagram
                    .first()
                    .is_none_or(|b| b & 0xC0 == 0 && *b != demux::GROUP_ENVELOPE_TAG) =>
            {
                self.stats.rejected.count(Reject::Malformed);
            }
            Err(_) => self.forward(now, from, datagram),
        }
    }

    /// Let time pass: remove allocations whose refresh is overdue and send held media that is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
        self.release(now);
        self.check_consent(now);
    }

    /// The next output; [`Output::Timeout`] once there is nothing else.
    pub fn poll_output(&mut self) -> Output<'_> {
        if self.lent.capacity() > 0 {
            let buf = std::mem::take(&mut self.lent);
            self.spare.push(buf);
        }
        match self.pending.pop_front() {
            Some(Pending::Transmit(to, buf)) => {
                self.lent = buf;
                Output::Transmit(Transmit {
                    to,
                    bytes: &self.lent,
                })
            }
            Some(Pending::Event(e)) => Output::Event(e),
            None => Output::Timeout(
                self.allocations
                    .iter()
                    .flat_map(|a| [a.expires, a.next_consent])
                    .chain(self.held.peek().map(|h| h.0.release))
                    .min()
                    .unwrap_or(NEVER),
            ),
        }
    }

    fn expire(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.allocations.len() {
            let a = self.allocations[i];
            if a.expires <= now {
                self.allocations.swap_remove(i);
                self.stats.expired += 1;
                self.push(Pending::Event(Event::Expired {
                    addr: a.addr,
                    token_index: a.token_index,
                }));
            } else {
                i += 1;
            }
        }
    }

    /// Send a binding request to every allocation whose consent check is due.
    fn check_consent(&mut self, now: Instant) {
        let Some(interval) = self.config.consent_interval else {
            return;
        };
        for i in 0..self.allocations.len() {
            if self.allocations[i].next_consent > now {
                continue;
            }
            // Transaction ids come from the seeded simulation stream: unique enough to match
            // answers, and predictable, which a local test relay may be.
            let mut tx = [0u8; 12];
            tx[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
            tx[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes()[..4]);
            let a = &mut self.allocations[i];
            a.next_consent = now + interval;
            a.consent_tx = Some(tx);
            let to = a.addr;
            let mut buf = self.buffer();
            buf.resize(RESPONSE_CAPACITY_BYTES, 0);
            let key = &self.config.integrity_key;
            let written = (|| {
                let mut b = Builder::new(&mut buf, msg_type::BINDING_REQUEST, tx)?;
                b.integrity(key)?;
                b.fingerprint()?;
                Ok::<_, stun::Error>(b.finish())
            })();
            self.stats.consent_checks += 1;
            self.queue_response(to, buf, written);
        }
    }

    /// A binding success from a client: the answer to its consent check, or stray.
    fn handle_consent_answer(&mut self, from: SocketAddr, m: &Message<&[u8]>) {
        let tx = m.transaction_id();
        let Some(i) = self
            .allocation(from)
            .filter(|&i| self.allocations[i].consent_tx == Some(tx))
        else {
            self.stats.rejected.count(Reject::UnexpectedStun);
            return;
        };
        match m.verify_integrity(&self.config.integrity_key) {
            Ok(()) | Err(stun::Error::NoIntegrity) => {
                self.allocations[i].consent_tx = None;
                self.stats.consent_answers += 1;
            }
            Err(_) => self.stats.rejected.count(Reject::BadIntegrity),
        }
    }

    /// Move held media whose time has come to the outputs, as far as the output bound allows
    /// (the rest stays held, and the timeout asks to be called again at once).
    fn release(&mut self, now: Instant) {
        while self.pending.len() < MAX_PENDING
            && self.held.peek().is_some_and(|h| h.0.release <= now)
        {
            if let Some(Reverse(h)) = self.held.pop() {
                self.pending.push_back(Pending::Transmit(h.to, h.bytes));
            }
        }
    }

    fn push(&mut self, p: Pending) {
        if self.pending.len() >= MAX_PENDING {
            if let Some(Pending::Transmit(_, buf)) = self.pending.pop_front() {
                self.spare.push(buf);
            }
            self.stats.rejected.count(Reject::OutputOverflow);
        }
        self.pending.push_back(p);
    }

    fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.spare.pop().unwrap_or_default();
        b.clear();
        b
    }

    fn allocation(&self, addr: SocketAddr) -> Option<usize> {
        self.allocations.iter().position(|a| a.addr == addr)
    }

    fn peer_of(&self, addr: SocketAddr, token_index: usize) -> Option<SocketAddr> {
        self.allocations
            .iter()
            .find(|a| a.token_index == token_index && a.addr != addr)
            .map(|a| a.addr)
    }

    fn refresh(&mut self, i: usize, now: Instant) {
        self.allocations[i].expires = now + self.config.idle_timeout;
    }

    fn forward(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let Some(i) = self.allocation(from) else {
            self.stats.rejected.count(Reject::Unallocated);
            return;
        };
        let Some(to) = self.peer_of(from, self.allocations[i].token_index) else {
            self.stats.rejected.count(Reject::Unpaired);
            return;
        };
        let impairment = self.config.impairment;
        if impairment.lose(&mut self.allocations[i].in_loss_burst, &mut self.rng) {
            self.stats.rejected.count(Reject::ImpairmentLoss);
            return;
        }
        self.stats.forwarded_packets += 1;
        self.stats.forwarded_bytes += datagram.len() as u64;
        match demux::demux(datagram).map(|d| d.kind) {
            Ok(demux::Kind::Rtp) => self.stats.forwarded_rtp += 1,
            Ok(demux::Kind::Rtcp) => self.stats.forwarded_rtcp += 1,
            _ => {}
        }
        let mut buf = self.buffer();
        buf.extend_from_slice(datagram);
        let hold = impairment.hold(&mut self.rng);
        if hold == Duration::ZERO {
            self.push(Pending::Transmit(to, buf));
        } else if self.held.len() >= MAX_HELD {
            self.stats.rejected.count(Reject::OutputOverflow);
            self.spare.push(buf);
        } else {
            self.next_order += 1;
            self.held.push(Reverse(Held {
                release: now + hold,
                order: self.next_order,
                to,
                bytes: buf,
            }));
        }
    }

    fn handle_stun(&mut self, now: Instant, from: SocketAddr, m: &Message<&[u8]>) {
        // Every attribute must parse: a relay does not act on a half-readable request.
        if m.attributes().any(|a| a.is_err()) {
            self.stats.rejected.count(Reject::Malformed);
            if m.message_type() == msg_type::ALLOCATE_REQUEST {
                self.respond_error(from, m, msg_type::ALLOCATE_ERROR, 400, false);
            }
            return;
        }
        match m.message_type() {
            msg_type::ALLOCATE_REQUEST => self.handle_allocate(now, from, m),
            msg_type::WA_PING => {
                self.stats.pings += 1;
                if let Some(i) = self.allocation(from) {
                    self.refresh(i, now);
                }
                let mut buf = self.buffer();
                buf.resize(stun::HEADER_LEN, 0);
                // A 20-byte buffer always holds a header-only message.
                if let Ok(b) = Builder::new(&mut buf, msg_type::WA_PONG, m.transaction_id()) {
                    b.finish();
                    self.push(Pending::Transmit(from, buf));
                }
            }
            msg_type::BINDING_REQUEST => {
                let signed = match m.verify_integrity(&self.config.integrity_key) {
                    Ok(()) => true,
                    Err(stun::Error::NoIntegrity) => false,
                    Err(stun::Error::IntegrityMismatch) => {
                        self.stats.rejected.count(Reject::BadIntegrity);
                        self.respond_error(from, m, msg_type::BINDING_ERROR, 401, false);
                        return;
                    }
                    Err(_) => {
                        self.stats.rejected.count(Reject::Malformed);
                        self.respond_error(from, m, msg_type::BINDING_ERROR, 400, false);
                        return;
                    }
                };
                self.stats.bindings += 1;
                self.respond_success(from, m, msg_type::BINDING_SUCCESS, signed);
            }
            msg_type::BINDING_SUCCESS => self.handle_consent_answer(from, m),
            _ => self.stats.rejected.count(Reject::UnexpectedStun),
        }
    }

    fn handle_allocate(&mut self, now: Instant, from: SocketAddr, m: &Message<&[u8]>) {
        // Authenticate first, as a relay would: nothing about the token is revealed to a sender
        // who does not hold the key.
        match m.verify_integrity(&self.config.integrity_key) {
            Ok(()) => {}
            Err(stun::Error::NoIntegrity) => {
                self.stats.rejected.count(Reject::MissingIntegrity);
                return self.respond_error(from, m, msg_type::ALLOCATE_ERROR, 400, false);
            }
            Err(stun::Error::IntegrityMismatch) => {
                self.stats.rejected.count(Reject::BadIntegrity);
                return self.respond_error(from, m, msg_type::ALLOCATE_ERROR, 401, false);
            }
            Err(_) => {
                self.stats.rejected.count(Reject::Malformed);
                return self.respond_error(from, m, msg_type::ALLOCATE_ERROR, 400, false);
            }
        }
        let token = m.attributes().find_map(|a| match a {
            Ok(Attribute::RelayToken(t)) => Some(t),
            _ => None,
        });
        let Some(token) = token else {
            self.stats.rejected.count(Reject::MissingToken);
            return self.respond_error(from, m, msg_type::ALLOCATE_ERROR, 400, true);
        };
        let Some(token_index) = self.config.tokens.iter().position(|t| t == token) else {
            self.stats.rejected.count(Reject::UnknownToken);
            return self.respond_error(from, m, msg_type::ALLOCATE_ERROR, 403, true);
        };
        match self.allocation(from) {
            Some(i) if self.allocations[i].token_index == token_index => {
                self.refresh(i, now);
                self.stats.refreshes += 1;
            }
            Some(_) => {
                self.stats.rejected.count(Reject::AllocationMismatch);
                return self.respond_error(from, m, msg_type::ALLOCATE_ERROR, 437, true);
            }
            None => {
                let holders = self
                    .allocations
                    .iter()
                    .filter(|a| a.token_index == token_index)
                    .count();
                if holders >= 2 {
                    self.stats.rejected.count(Reject::CallFull);
                    return self.respond_error(from, m, msg_type::ALLOCATE_ERROR, 486, true);
                }
                self.allocations.push(Allocation {
                    addr: from,
                    token_index,
                    expires: now + self.config.idle_timeout,
                    in_loss_burst: false,
                    next_consent: self.config.consent_interval.map_or(NEVER, |d| now + d),
                    consent_tx: None,
                });
                self.stats.allocations += 1;
                self.push(Pending::Event(Event::Allocated { from, token_index }));
                if let Some(first) = self.peer_of(from, token_index) {
                    self.push(Pending::Event(Event::Paired {
                        token_index,
                        first,
                        second: from,
                    }));
                }
            }
        }
        self.respond_success(from, m, msg_type::ALLOCATE_SUCCESS, true);
    }

    fn respond_success(&mut self, to: SocketAddr, m: &Message<&[u8]>, kind: u16, signed: bool) {
        let mut buf = self.buffer();
        buf.resize(RESPONSE_CAPACITY_BYTES, 0);
        let key = &self.config.integrity_key;
        let written = (|| {
            let mut b = Builder::new(&mut buf, kind, m.transaction_id())?;
            b.attribute(&Attribute::XorMappedAddress(to))?;
            if signed {
                b.integrity(key)?;
            }
            b.fingerprint()?;
            Ok::<_, stun::Error>(b.finish())
        })();
        self.queue_response(to, buf, written);
    }

    fn respond_error(
        &mut self,
        to: SocketAddr,
        m: &Message<&[u8]>,
        kind: u16,
        code: u16,
        signed: bool,
    ) {
        let mut buf = self.buffer();
        buf.resize(RESPONSE_CAPACITY_BYTES, 0);
        let key = &self.config.integrity_key;
        let written = (|| {
            let mut b = Builder::new(&mut buf, kind, m.transaction_id())?;
            b.attribute(&Attribute::ErrorCode {
                code,
                reason: reason_phrase(code),
            })?;
            if signed {
                b.integrity(key)?;
            }
            b.fingerprint()?;
            Ok::<_, stun::Error>(b.finish())
        })();
        self.queue_response(to, buf, written);
    }

    fn queue_response(
        &mut self,
        to: SocketAddr,
        mut buf: Vec<u8>,
        written: Result<usize, stun::Error>,
    ) {
        match written {
            Ok(n) => {
                buf.truncate(n);
                self.push(Pending::Transmit(to, buf));
            }
            // Responses are a few dozen bytes; this is unreachable with the fixed capacity, and if
            // it were reached the request simply goes unanswered.
            Err(_) => self.spare.push(buf),
        }
    }
}

/// The reason phrase sent with an error code.
fn reason_phrase(code: u16) -> &'static [u8] {
    match code {
        400 => b"Bad Request",
        401 => b"Unauthorized",
        403 => b"Forbidden",
        437 => b"Allocation Mismatch",
        486 => b"Allocation Quota Reached",
        _ => b"",
    }
}

#[cfg(test)]
mod tests;
