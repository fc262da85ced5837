//! The 1:1 media engine: relay lifecycle, send and receive audio paths, RTCP and statistics, as
//! one sans-IO state machine.
//!
//! # Driving it
//!
//! ```text
//! let mut e = Engine::new(now, &config, encoder, decoder)?;   // queues the first allocate
//! loop {
//!     while let out = e.poll_output() { match out {
//!         Output::Transmit(bytes) => send bytes to the relay,
//!         Output::Playout(pcm)    => play 20 ms (320 samples at 16 kHz),
//!         Output::Event(ev)       => show / log it,
//!         Output::Timeout(at)     => { arm one timer for `at`; break }
//!     }}
//!     wait for a datagram, a 20 ms mic frame or the timer, then
//!     e.handle_input(now, Input::Datagram(..) | Input::MicFrame(..) | Input::Timeout);
//! }
//! ```
//!
//! `Timeout` is always the last output and is the earliest deadline of the engine's timers:
//! relay keepalive (1 s: the same allocate bytes again and a WhatsApp ping), the allocation
//! deadline (10 s), RTCP (1.5 s after allocation) and the 20 ms playout tick. Every call of
//! [`Engine::handle_input`] also runs whatever timers are due. A periodic timer that fell more
//! than one interval behind restarts at `now + interval`, giving one tick instead of a backlog.
//!
//! # Relay lifecycle
//!
//! The engine sends WhatsApp's allocate request (relay token, stream descriptors, relay endpoint,
//! MESSAGE-INTEGRITY keyed by the `<key>` text) at creation. An allocate or binding success with
//! the allocate's transaction id (and, when it carries MESSAGE-INTEGRITY, a valid one) makes it
//! *allocated*: [`Event::Allocated`] fires once, an SDES goes out and RTCP starts. An allocate
//! error with that transaction id gives [`Event::AllocateFailed`] with the STUN error code; no
//! answer within 10 s gives [`Event::AllocateTimedOut`]. Both make the engine inert (it then
//! only answers `Timeout(never)`). Binding requests from the relay get a binding success with
//! MESSAGE-INTEGRITY and FINGERPRINT.
//!
//! # Send path
//!
//! 20 ms mic frames (320 samples at 16 kHz) are gathered into one packet (60 ms by default) and
//! given to the [`AudioEncoder`]. A payload whose TOC class is SID goes out with the DTX header;
//! the first speech packet after DTX carries the marker. With redundancy on, every packet is a
//! SplitRed envelope on PT 121 carrying the previous speech payload as one redundant block
//! (when it fits in 255 bytes), else it is the bare payload on PT 120. The RTP packet is
//! SRTP-protected under the WAHKDF key of our own id. Mic audio before allocation is dropped.
//!
//! SplitRed's 7-bit time codes are not pinned by any source; this engine writes the frame's RTP
//! timestamp in 20 ms units modulo 128 and, on receive, places the redundant frames by position
//! (the N redundant frames are the N packets before this one, oldest first) and by the
//! durations in their TOCs, not by the time codes.
//!
//! # Receive path
//!
//! Demux → STUN / SRTCP / SRTP. Audio is accepted on PT 120 and 121 only, from the peer's
//! derived SSRC, after SRTP authentication and replay checking. A packet's main frame goes into
//! the adaptive jitter buffer ([`crate::media::jitter`]) which reorders by sequence and
//! timestamp and sizes itself to the measured delay spread; redundant frames fill holes through
//! `insert_recovered` (a copy that already arrived is dropped as a duplicate). The 20 ms
//! playout tick decodes through the [`Decoder`] or conceals what never arrived. Every rejected
//! datagram is counted by reason in [`Rejects`]; none changes any state.
//!
//! # RTCP and statistics
//!
//! Every 1.5 s after allocation: an SR (with one WhatsApp-form report block once the peer's
//! audio was received) and an SDES, protected as SRTCP, plus [`Event::Stats`]. Peer SRs feed
//! LSR/DLSR; a report block about our SSRC gives the round-trip time (RFC 3550 §6.4.1).
//!
//! # Resources
//!
//! All buffers are fixed arrays inside the engine (about 50 KiB; box it on small stacks).
//! Only [`Engine::new`] allocates (the allocate message and the integrity key); no per-packet
//! work does.

use alloc::vec::Vec;
use core::net::SocketAddr;

use crate::demux::{self, Kind};
use crate::keys::{self, CallKey, ParticipantId, SrtpMaster};
use crate::media::codec::{AudioEncoder, EncodeError};
use crate::media::jitter::{self, JitterBuffer};
use crate::media::playout::{Decoder, Playout, TICK_16K};
use crate::payload::{self, Route, Toc};
use crate::red;
use crate::relay::RelayBlock;
use crate::rtcp::{self, CompoundWriter, Flags, NtpTime, ReceiverStats, SenderInfo};
use crate::rtp::{self, AudioFrameKind, AudioProfile, AudioSequencer};
use crate::srtp::{self, SrtpReceiver, SrtpSender};
use crate::stun::{self, msg_type, proto::StreamDescriptor};
use crate::time::{Duration, Instant};

/// Largest datagram the engine sends or accepts.
pub const MAX_DATAGRAM_BYTES: usize = 1500;
/// Largest encoded audio payload (one frame) the engine handles; MLow's encoder writes at most
/// 513 bytes.
pub const MAX_PAYLOAD_BYTES: usize = 520;
/// Jitter buffer slots (32 × 60 ms ≈ 1.9 s of audio).
pub const JITTER_SLOTS: usize = 32;
/// Relay keepalive period (allocate again plus a WhatsApp ping).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// How long the relay has to answer the allocate.
pub const ALLOCATE_TIMEOUT: Duration = Duration::from_secs(10);
/// RTCP report period.
pub const RTCP_INTERVAL: Duration = Duration::from_millis(1500);
/// Playout tick.
pub const TICK: Duration = Duration::from_millis(20);
/// The instant reported by `Output::Timeout` when nothing is pending.
pub const NEVER: Instant = Instant::from_micros(u64::MAX);

const TX_SLOTS: usize = 8;
const PLAYOUT_SLOTS: usize = 4;
const EVENT_SLOTS: usize = 8;
const MAX_PACKET_16K: usize = 1920;
const RTP_CLOCK_HZ: u32 = 16_000;

/// Audio settings of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFormat {
    /// Packet duration: 20, 60 (WhatsApp's default) or 120 ms.
    pub packet_ms: u32,
    /// Send SplitRed redundancy on PT 121.
    pub red: bool,
}

impl Default for AudioFormat {
    /// 60 ms packets, redundancy on.
    fn default() -> Self {
        AudioFormat {
            packet_ms: 60,
            red: true,
        }
    }
}

/// Everything the engine needs to run one call leg.
#[derive(Clone, Debug)]
pub struct Config<'a> {
    /// The call id (its text feeds the SSRC derivation).
    pub call_id: &'a str,
    /// The 32-byte call key from the offer/accept.
    pub call_key: &'a CallKey,
    /// Our participant id (normalised).
    pub own_id: &'a ParticipantId,
    /// The peer's participant id (normalised).
    pub peer_id: &'a ParticipantId,
    /// The relay's `<token>` bytes (STUN attribute 0x4000).
    pub relay_token: &'a [u8],
    /// The relay's `<key>` text as received (the STUN MESSAGE-INTEGRITY key).
    pub relay_key: &'a [u8],
    /// The relay endpoint the allocate names (and the host sends to).
    pub relay_endpoint: SocketAddr,
    /// Audio packetisation.
    pub audio: AudioFormat,
    /// SRTP tag length in bytes (`warp_mi_tag_len`; WhatsApp's default is 4).
    pub srtp_tag_len_bytes: usize,
    /// The host's wall clock (Unix milliseconds) at the `now` passed to [`Engine::new`]; only
    /// RTCP's NTP timestamps use it.
    pub wall_clock_unix_ms: u64,
    /// Fresh random bytes from the host's CSPRNG: STUN transaction ids and the RTCP CNAME.
    pub random: [u8; 32],
}

/// The relay-facing part of a [`Config`], read from a parsed `<relay>` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayParams<'a> {
    /// The preferred media endpoint's IPv4 address ([`RelayBlock::media_endpoint`]).
    pub endpoint: SocketAddr,
    /// That endpoint's relay token.
    pub token: &'a [u8],
    /// The `<key>` text (STUN MESSAGE-INTEGRITY key).
    pub key: &'a [u8],
    /// `warp_mi_tag_len`, or WhatsApp's default of 4.
    pub srtp_tag_len_bytes: usize,
}

impl<'a> RelayParams<'a> {
    /// WhatsApp's SRTP tag length when the block does not set one.
    pub const DEFAULT_TAG_LEN_BYTES: usize = 4;

    /// Pick the media endpoint of `block` with its token and key; `None` when the block lacks
    /// a usable endpoint (IPv4 address and token) or the key.
    pub fn from_block(block: &'a RelayBlock) -> Option<Self> {
        let ep = block.media_endpoint()?;
        Some(RelayParams {
            endpoint: ep.primary_ipv4()?,
            token: block.token_for(ep)?,
            key: block.integrity_key()?,
            srtp_tag_len_bytes: block
                .warp_mi_tag_len
                .map_or(Self::DEFAULT_TAG_LEN_BYTES, usize::from),
        })
    }
}

/// Why an engine could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The packet duration is not 20, 60 or 120 ms.
    PacketDuration,
    /// The SRTP tag length is not 1..=20.
    TagLength,
    /// The allocate request does not fit a datagram (relay token too long).
    Allocate(stun::Error),
}

/// Input to [`Engine::handle_input`].
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A datagram received from the relay.
    Datagram(&'a [u8]),
    /// 20 ms of microphone audio: exactly 320 samples at 16 kHz (other lengths are dropped and
    /// counted in [`Rejects::mic_frame`]).
    MicFrame(&'a [i16]),
    /// Nothing arrived; time passed (the timer fired).
    Timeout,
}

/// Output of [`Engine::poll_output`]; borrowed data is valid until the next call.
#[derive(Debug, PartialEq, Eq)]
pub enum Output<'a> {
    /// Send these bytes to the relay.
    Transmit(&'a [u8]),
    /// Play these 20 ms (320 samples at 16 kHz).
    Playout(&'a [i16; TICK_16K]),
    /// Something happened.
    Event(Event),
    /// Call again at this instant at the latest (always the last output).
    Timeout(Instant),
}

/// Things the host shows or logs.
// `Stats` is large, but events are rare and boxing it would allocate on the media path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The relay accepted our allocation; media flows.
    Allocated,
    /// The relay refused the allocation with this STUN error code; the engine is inert.
    AllocateFailed(u16),
    /// The relay never answered within [`ALLOCATE_TIMEOUT`]; the engine is inert.
    AllocateTimedOut,
    /// Periodic statistics (every RTCP interval).
    Stats(Stats),
}

/// Rejected input, counted by reason. A rejected datagram changes no other state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rejects {
    /// Not STUN/RTP/RTCP, a bad group envelope, or longer than [`MAX_DATAGRAM_BYTES`].
    pub unclassified: u64,
    /// STUN that does not parse.
    pub stun_malformed: u64,
    /// STUN answers that match no request of ours, or STUN we do not handle.
    pub stun_unmatched: u64,
    /// STUN answers with a wrong MESSAGE-INTEGRITY.
    pub stun_integrity: u64,
    /// SRTP/SRTCP with a bad authentication tag.
    pub auth_failed: u64,
    /// SRTP/SRTCP replays.
    pub replayed: u64,
    /// SRTP/SRTCP from an SSRC other than the peer's.
    pub unknown_ssrc: u64,
    /// SRTP/SRTCP too short or malformed.
    pub srtp_malformed: u64,
    /// RTP with a payload type that is not MLow audio (120 / 121).
    pub payload_type: u64,
    /// Authenticated audio whose payload could not be routed or buffered (bad SplitRed, Opus
    /// escape, empty, bad duration, too large).
    pub payload: u64,
    /// RTCP compounds that do not parse after decryption.
    pub rtcp_malformed: u64,
    /// Mic frames that were not 320 samples.
    pub mic_frame: u64,
    /// Packets the encoder refused (unsupported length, payload over
    /// [`MAX_PAYLOAD_BYTES`]); not counted in [`Rejects::datagrams`].
    pub encode_failed: u64,
}

impl Rejects {
    /// All rejected datagrams (mic frames not included).
    pub fn datagrams(&self) -> u64 {
        self.unclassified
            + self.stun_malformed
            + self.stun_unmatched
            + self.stun_integrity
            + self.auth_failed
            + self.replayed
            + self.unknown_ssrc
            + self.srtp_malformed
            + self.payload_type
            + self.payload
            + self.rtcp_malformed
    }
}

/// A snapshot of the call's media statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Relay allocation done.
    pub allocated: bool,
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Authenticated RTP audio packets received.
    pub packets_received: u64,
    /// Lost packets restored from redundancy before their time was played.
    pub packets_recovered: u64,
    /// Sending bitrate over the last interval (RTP + SRTP bytes, no UDP/IP), bits per second.
    pub send_bitrate_bps: u32,
    /// Receiving bitrate over the last interval, bits per second.
    pub recv_bitrate_bps: u32,
    /// Fraction of the peer's packets lost in the last interval, in 1/256 (RFC 3550).
    pub fraction_lost: u8,
    /// Cumulative packets lost (RFC 3550, duplicates can make it negative).
    pub cumulative_lost: i32,
    /// The peer's report of our stream: fraction lost in 1/256.
    pub peer_fraction_lost: u8,
    /// RFC 3550 interarrival jitter of the peer's stream, milliseconds.
    pub jitter_ms: u32,
    /// Round-trip time from the peer's last report block on our stream, milliseconds.
    pub rtt_ms: Option<u32>,
    /// Audio concealed so far (lost, underrun, stretch, undecodable), milliseconds.
    pub concealed_ms: u64,
    /// Of which concealed for packets that never arrived, milliseconds.
    pub lost_ms: u64,
    /// Audio decoded from packets, milliseconds.
    pub decoded_ms: u64,
    /// Playout ticks produced.
    pub playout_ticks: u64,
    /// The jitter buffer's target delay beyond the fastest transit, milliseconds.
    pub jitter_target_ms: u32,
    /// Audio buffered ahead of the playout position, milliseconds.
    pub jitter_level_ms: u32,
    /// Outputs dropped because the host did not drain them.
    pub outputs_dropped: u64,
    /// Rejected input by reason.
    pub rejects: Rejects,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Allocating,
    Allocated,
    Inert,
}

/// A fixed-capacity FIFO of equally sized buffers; a popped slot stays readable until the next
/// push.
struct Ring<T: Copy, const N: usize> {
    items: [T; N],
    lens: [usize; N],
    head: usize,
    count: usize,
}

impl<T: Copy, const N: usize> Ring<T, N> {
    fn new(fill: T) -> Self {
        Ring {
            items: [fill; N],
            lens: [0; N],
            head: 0,
            count: 0,
        }
    }

    /// The next free slot, if any; `commit` makes it visible.
    fn slot(&mut self) -> Option<&mut T> {
        (self.count < N).then(|| &mut self.items[(self.head + self.count) % N])
    }

    fn commit(&mut self, len: usize) {
        self.lens[(self.head + self.count) % N] = len;
        self.count += 1;
    }

    /// Index of the oldest item, now freed.
    fn pop(&mut self) -> Option<usize> {
        if self.count == 0 {
            return None;
        }
        let i = self.head;
        self.head = (self.head + 1) % N;
        self.count -= 1;
        Some(i)
    }
}

/// The media engine for one 1:1 call leg, with encoder `E` and decoder `D`.
pub struct Engine<E: AudioEncoder, D: Decoder> {
    phase: Phase,
    encoder: E,
    decoder: D,
    audio: AudioFormat,
    packet_16k: usize,
    own_ssrc: u32,
    peer_ssrc: u32,
    sender: SrtpSender,
    receiver: SrtpReceiver<1>,
    sequencer: AudioSequencer,
    allocate_msg: Vec<u8>,
    allocate_txid: [u8; 12],
    relay_key: Vec<u8>,
    txid_seed: [u8; 12],
    txid_counter: u32,
    cname: [u8; rtcp::WA_CNAME_LEN],
    wall_epoch_us: u64,
    start: Instant,

    keepalive_at: Instant,
    allocate_deadline: Instant,
    rtcp_at: Instant,
    playout_at: Instant,

    mic: [i16; MAX_PACKET_16K],
    mic_len: usize,
    enc: [u8; MAX_PAYLOAD_BYTES],
    prev: [u8; MAX_PAYLOAD_BYTES],
    prev_len: usize,
    prev_ts: u32,
    payload_buf: [u8; MAX_DATAGRAM_BYTES],
    rx: [u8; MAX_DATAGRAM_BYTES],

    playout: Playout<JITTER_SLOTS, MAX_PAYLOAD_BYTES>,
    recv_stats: ReceiverStats,

    tx: Ring<[u8; MAX_DATAGRAM_BYTES], TX_SLOTS>,
    pcm: Ring<[i16; TICK_16K], PLAYOUT_SLOTS>,
    events: heapless::Deque<Event, EVENT_SLOTS>,

    packets_sent: u64,
    payload_octets_sent: u64,
    last_rtp_ts: u32,
    bytes_sent: u64,
    bytes_received: u64,
    interval_bytes: (u64, u64, Instant),
    packets_received: u64,
    recovered: u64,
    rtt_ms: Option<u32>,
    peer_fraction_lost: u8,
    outputs_dropped: u64,
    rejects: Rejects,
}

/// Stream descriptor order of WhatsApp's 1:1 allocate: (stream, sub-type, SSRC slot).
const DESCRIPTORS: [(u32, u32, u32); 9] = [
    (0, 0, 0),
    (0, 1, 1),
    (0, 2, 4),
    (1, 0, 2),
    (1, 1, 3),
    (1, 2, 5),
    (2, 0, 7),
    (2, 1, 8),
    (2, 2, 6),
];

fn advance(deadline: Instant, interval: Duration, now: Instant) -> Instant {
    let next = deadline + interval;
    if next <= now { now + interval } else { next }
}

impl<E: AudioEncoder, D: Decoder> Engine<E, D> {
    /// Start a call leg at `now`: derive keys and SSRCs, queue the allocate request.
    ///
    /// # Errors
    /// [`ConfigError`] for an unsupported packet duration or tag length, or an allocate that
    /// does not fit a datagram.
    pub fn new(
        now: Instant,
        config: &Config<'_>,
        encoder: E,
        decoder: D,
    ) -> Result<Self, ConfigError> {
        let packet_16k = match config.audio.packet_ms {
            20 | 60 | 120 => config.audio.packet_ms as usize * 16,
            _ => return Err(ConfigError::PacketDuration),
        };
        let srtp_cfg = srtp::Config::with_rtp_tag_len(config.srtp_tag_len_bytes)
            .map_err(|_| ConfigError::TagLength)?;
        let own_ssrc = keys::ssrc(keys::slot::AUDIO, config.call_id, config.own_id);
        let peer_ssrc = keys::ssrc(keys::slot::AUDIO, config.call_id, config.peer_id);
        let sender = SrtpSender::new(
            &SrtpMaster::wahkdf(config.call_key, config.own_id),
            own_ssrc,
            srtp_cfg,
        );
        let mut receiver = SrtpReceiver::new(
            &SrtpMaster::wahkdf(config.call_key, config.peer_id),
            srtp_cfg,
        );
        // One SSRC into an empty one-slot receiver cannot fail.
        let _ = receiver.add_ssrc(peer_ssrc);
        let pt = if config.audio.red {
            rtp::PT_MLOW_SPLIT_RED
        } else {
            rtp::PT_MLOW
        };
        let sequencer = AudioSequencer::new(own_ssrc, pt, AudioProfile::MLow, 1, 0);

        let mut allocate_txid = [0u8; 12];
        allocate_txid.copy_from_slice(&config.random[..12]);
        let mut txid_seed = [0u8; 12];
        txid_seed.copy_from_slice(&config.random[12..24]);
        let mut cname_random = [0u8; 6];
        cname_random.copy_from_slice(&config.random[24..30]);
        let descriptors = DESCRIPTORS.map(|(stream_index, sub_type, slot)| StreamDescriptor {
            stream_index,
            sub_type,
            ssrc: keys::ssrc(slot, config.call_id, config.own_id),
        });
        let mut buf = [0u8; MAX_DATAGRAM_BYTES];
        let n = stun::allocate_request(
            &mut buf,
            allocate_txid,
            config.relay_token,
            &descriptors,
            config.relay_endpoint,
            config.relay_key,
        )
        .map_err(ConfigError::Allocate)?;

        let mut engine = Engine {
            phase: Phase::Allocating,
            encoder,
            decoder,
            audio: config.audio,
            packet_16k,
            own_ssrc,
            peer_ssrc,
            sender,
            receiver,
            sequencer,
            allocate_msg: buf[..n].to_vec(),
            allocate_txid,
            relay_key: config.relay_key.to_vec(),
            txid_seed,
            txid_counter: 0,
            cname: rtcp::wa_cname(cname_random),
            wall_epoch_us: config.wall_clock_unix_ms.saturating_mul(1000),
            start: now,
            keepalive_at: now + KEEPALIVE_INTERVAL,
            allocate_deadline: now + ALLOCATE_TIMEOUT,
            rtcp_at: NEVER,
            playout_at: now,
            mic: [0; MAX_PACKET_16K],
            mic_len: 0,
            enc: [0; MAX_PAYLOAD_BYTES],
            prev: [0; MAX_PAYLOAD_BYTES],
            prev_len: 0,
            prev_ts: 0,
            payload_buf: [0; MAX_DATAGRAM_BYTES],
            rx: [0; MAX_DATAGRAM_BYTES],
            playout: Playout::new(JitterBuffer::new(jitter::Config::default())),
            recv_stats: ReceiverStats::new(RTP_CLOCK_HZ),
            tx: Ring::new([0; MAX_DATAGRAM_BYTES]),
            pcm: Ring::new([0; TICK_16K]),
            events: heapless::Deque::new(),
            packets_sent: 0,
            payload_octets_sent: 0,
            last_rtp_ts: 0,
            bytes_sent: 0,
            bytes_received: 0,
            interval_bytes: (0, 0, now),
            packets_received: 0,
            recovered: 0,
            rtt_ms: None,
            peer_fraction_lost: 0,
            outputs_dropped: 0,
            rejects: Rejects::default(),
        };
        engine.send_allocate();
        Ok(engine)
    }

    /// Our audio SSRC (`keys::ssrc` of slot 0 for our id).
    pub fn own_ssrc(&self) -> u32 {
        self.own_ssrc
    }

    /// The peer's audio SSRC.
    pub fn peer_ssrc(&self) -> u32 {
        self.peer_ssrc
    }

    /// The allocate request's transaction id.
    pub fn allocate_transaction_id(&self) -> [u8; 12] {
        self.allocate_txid
    }

    /// Whether the relay allocation succeeded (and the engine is not inert).
    pub fn is_allocated(&self) -> bool {
        self.phase == Phase::Allocated
    }

    /// Whether the engine stopped after an allocation failure or timeout.
    pub fn is_inert(&self) -> bool {
        self.phase == Phase::Inert
    }

    /// The jitter buffer (read-only), for its depth and counters.
    pub fn jitter(&mut self) -> &JitterBuffer<JITTER_SLOTS, MAX_PAYLOAD_BYTES> {
        self.playout.jitter()
    }

    /// Current statistics. Bitrates cover the time since the last [`Event::Stats`].
    pub fn stats(&mut self, now: Instant) -> Stats {
        let (sent0, recv0, since) = self.interval_bytes;
        let span_us = now.saturating_since(since).total_micros().max(1);
        let bps = |bytes: u64| (bytes * 8 * 1_000_000 / span_us).min(u64::from(u32::MAX)) as u32;
        let p = *self.playout.stats();
        let to_ms = |s: u64| s / 16;
        let jb = self.playout.jitter();
        let (target, level) = (jb.target_16k(), jb.level_16k());
        let (fraction_lost, cumulative_lost, jitter_ms) = match self.peek_report_block(now) {
            Some(b) => (b.fraction_lost, b.cumulative_lost, b.jitter / 16),
            None => (0, 0, 0),
        };
        Stats {
            allocated: self.phase == Phase::Allocated,
            packets_sent: self.packets_sent,
            packets_received: self.packets_received,
            packets_recovered: self.recovered,
            send_bitrate_bps: bps(self.bytes_sent - sent0),
            recv_bitrate_bps: bps(self.bytes_received - recv0),
            fraction_lost,
            cumulative_lost,
            peer_fraction_lost: self.peer_fraction_lost,
            jitter_ms,
            rtt_ms: self.rtt_ms,
            concealed_ms: to_ms(p.concealed_16k()),
            lost_ms: to_ms(p.lost_16k),
            decoded_ms: to_ms(p.decoded_16k),
            playout_ticks: p.ticks,
            jitter_target_ms: target / 16,
            jitter_level_ms: level / 16,
            outputs_dropped: self.outputs_dropped,
            rejects: self.rejects,
        }
    }

    /// A report block without starting a new loss interval.
    fn peek_report_block(&self, now: Instant) -> Option<rtcp::ReportBlock> {
        self.recv_stats.clone().report_block(now)
    }

    /// Feed one input at `now`, then run every timer that is due.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Datagram(bytes) => self.on_datagram(now, bytes),
            Input::MicFrame(pcm) => self.on_mic(now, pcm),
            Input::Timeout => {}
        }
        self.run_timers(now);
    }

    /// The next output; drain until [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output<'_> {
        if let Some(ev) = self.events.pop_front() {
            return Output::Event(ev);
        }
        if let Some(i) = self.tx.pop() {
            return Output::Transmit(&self.tx.items[i][..self.tx.lens[i]]);
        }
        if let Some(i) = self.pcm.pop() {
            return Output::Playout(&self.pcm.items[i]);
        }
        Output::Timeout(self.next_deadline())
    }

    fn next_deadline(&self) -> Instant {
        if self.phase == Phase::Inert {
            return NEVER;
        }
        let mut t = self.keepalive_at.min(self.playout_at).min(self.rtcp_at);
        if self.phase == Phase::Allocating {
            t = t.min(self.allocate_deadline);
        }
        t
    }

    fn event(&mut self, ev: Event) {
        if self.events.push_back(ev).is_err() {
            self.outputs_dropped += 1;
        }
    }

    /// Queue a datagram written by `write` into a free transmit slot.
    fn transmit(&mut self, write: impl FnOnce(&mut [u8; MAX_DATAGRAM_BYTES]) -> Option<usize>) {
        let Some(slot) = self.tx.slot() else {
            self.outputs_dropped += 1;
            return;
        };
        if let Some(n) = write(slot) {
            self.bytes_sent += n as u64;
            self.tx.commit(n);
        }
    }

    fn next_txid(&mut self) -> [u8; 12] {
        self.txid_counter = self.txid_counter.wrapping_add(1);
        let mut id = self.txid_seed;
        for (b, c) in id[8..].iter_mut().zip(self.txid_counter.to_be_bytes()) {
            *b ^= c;
        }
        id
    }

    fn send_allocate(&mut self) {
        let Some(slot) = self.tx.slot() else {
            self.outputs_dropped += 1;
            return;
        };
        let n = self.allocate_msg.len();
        slot[..n].copy_from_slice(&self.allocate_msg);
        self.bytes_sent += n as u64;
        self.tx.commit(n);
    }

    fn run_timers(&mut self, now: Instant) {
        if self.phase == Phase::Allocating && now >= self.allocate_deadline {
            self.phase = Phase::Inert;
            self.event(Event::AllocateTimedOut);
        }
        if self.phase == Phase::Inert {
            return;
        }
        if now >= self.keepalive_at {
            self.keepalive_at = advance(self.keepalive_at, KEEPALIVE_INTERVAL, now);
            self.send_allocate();
            let id = self.next_txid();
            self.transmit(|b| stun::ping(b, id).ok());
        }
        if now >= self.rtcp_at {
            self.rtcp_at = advance(self.rtcp_at, RTCP_INTERVAL, now);
            let stats = self.stats(now);
            self.send_rtcp(now, true);
            self.interval_bytes = (self.bytes_sent, self.bytes_received, now);
            self.event(Event::Stats(stats));
        }
        if now >= self.playout_at {
            self.playout_at = advance(self.playout_at, TICK, now);
            match self.pcm.slot() {
                Some(slot) => {
                    self.playout.tick(now, &mut self.decoder, slot);
                    self.pcm.commit(TICK_16K);
                }
                None => self.outputs_dropped += 1,
            }
        }
    }

    fn ntp(&self, now: Instant) -> NtpTime {
        let unix_us = self
            .wall_epoch_us
            .saturating_add(now.saturating_since(self.start).total_micros());
        NtpTime {
            seconds: (unix_us / 1_000_000).wrapping_add(rtcp::NTP_UNIX_OFFSET_SECS) as u32,
            fraction: (((unix_us % 1_000_000) << 32) / 1_000_000) as u32,
        }
    }

    /// Send an SRTCP compound: SR (+ report block) and SDES when `report`, SDES alone otherwise.
    fn send_rtcp(&mut self, now: Instant, report: bool) {
        let info = SenderInfo {
            ntp: self.ntp(now),
            rtp_timestamp: self.last_rtp_ts,
            packet_count: self.packets_sent as u32,
            octet_count: self.payload_octets_sent as u32,
        };
        let block = if report {
            self.recv_stats.report_block(now)
        } else {
            None
        };
        let (ssrc, cname) = (self.own_ssrc, self.cname);
        let Some(slot) = self.tx.slot() else {
            self.outputs_dropped += 1;
            return;
        };
        let mut w = CompoundWriter::new(&mut slot[..]);
        let written = (|| {
            if report {
                w.sender_report(ssrc, &info, block.as_slice(), true, Flags::default())?;
            }
            w.sdes(ssrc, Some(&cname), Flags::default())?;
            Ok::<_, rtcp::Error>(())
        })();
        let len = w.finish();
        if written.is_err() {
            return;
        }
        if let Ok(n) = self.sender.protect_rtcp(slot, len) {
            self.bytes_sent += n as u64;
            self.tx.commit(n);
        }
    }

    fn on_mic(&mut self, now: Instant, pcm: &[i16]) {
        if pcm.len() != TICK_16K {
            self.rejects.mic_frame += 1;
            return;
        }
        if self.phase != Phase::Allocated {
            self.mic_len = 0;
            return;
        }
        self.mic[self.mic_len..self.mic_len + TICK_16K].copy_from_slice(pcm);
        self.mic_len += TICK_16K;
        if self.mic_len < self.packet_16k {
            return;
        }
        self.mic_len = 0;
        let n = match self
            .encoder
            .encode(&self.mic[..self.packet_16k], &mut self.enc)
        {
            Ok(0) => {
                // Nothing to send (DTX between SID packets, an encoder's start-up delay): no
                // packet and no sequence number, but the media clock moves on, and the last
                // payload is no longer the packet before the next one (no stale redundancy).
                self.sequencer.skip(self.packet_16k as u32);
                self.prev_len = 0;
                return;
            }
            Ok(n) if n <= MAX_PAYLOAD_BYTES => n,
            Ok(_) | Err(EncodeError::FrameLength | EncodeError::BufferTooSmall) => {
                self.rejects.encode_failed += 1;
                return;
            }
        };
        self.send_audio(now, n);
    }

    /// Packetise `self.enc[..n]` and queue it.
    fn send_audio(&mut self, _now: Instant, n: usize) {
        let kind = AudioFrameKind::of_payload(AudioProfile::MLow, &self.enc[..n]);
        let ts = self.sequencer.next_timestamp();
        let payload_len = if self.audio.red {
            let have_prev = self.prev_len > 0 && self.prev_len <= 255;
            let redundant = [(
                ((self.prev_ts / TICK_16K as u32) & 0x7F) as u8,
                &self.prev[..self.prev_len],
            )];
            let repr = red::Repr {
                redundant: if have_prev { &redundant } else { &[] },
                main_time_code: ((ts / TICK_16K as u32) & 0x7F) as u8,
                main: &self.enc[..n],
            };
            match repr.emit(&mut self.payload_buf) {
                Ok(len) => len,
                Err(_) => return,
            }
        } else {
            self.payload_buf[..n].copy_from_slice(&self.enc[..n]);
            n
        };
        // Remember this payload as the next packet's redundancy (speech only).
        if kind == AudioFrameKind::Speech {
            self.prev[..n].copy_from_slice(&self.enc[..n]);
            self.prev_len = n;
        } else {
            self.prev_len = 0;
        }
        self.prev_ts = ts;
        let header = self.sequencer.next_header(kind, self.packet_16k as u32);
        self.last_rtp_ts = header.timestamp;
        let Some(slot) = self.tx.slot() else {
            self.outputs_dropped += 1;
            return;
        };
        let Ok(len) = header.emit_packet(&self.payload_buf[..payload_len], slot) else {
            return;
        };
        if let Ok(total) = self.sender.protect_rtp(slot, len) {
            self.tx.commit(total);
            self.bytes_sent += total as u64;
            self.packets_sent += 1;
            self.payload_octets_sent += payload_len as u64;
        }
    }

    fn on_datagram(&mut self, now: Instant, bytes: &[u8]) {
        if self.phase == Phase::Inert {
            return;
        }
        let d = match demux::demux(bytes) {
            Ok(d) if d.bytes.len() <= MAX_DATAGRAM_BYTES => d,
            _ => {
                self.rejects.unclassified += 1;
                return;
            }
        };
        match d.kind {
            Kind::Stun => self.on_stun(now, d.bytes),
            Kind::Rtp => self.on_rtp(now, d.bytes),
            Kind::Rtcp => self.on_rtcp(now, d.bytes),
            Kind::Other => self.rejects.unclassified += 1,
        }
    }

    fn on_stun(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(msg) = stun::Message::new_checked(bytes) else {
            self.rejects.stun_malformed += 1;
            return;
        };
        let txid = msg.transaction_id();
        match msg.message_type() {
            msg_type::BINDING_REQUEST => {
                let key = core::mem::take(&mut self.relay_key);
                self.transmit(|b| stun::binding_success(b, txid, &key).ok());
                self.relay_key = key;
            }
            t @ (msg_type::ALLOCATE_SUCCESS
            | msg_type::BINDING_SUCCESS
            | msg_type::ALLOCATE_ERROR)
                if txid == self.allocate_txid =>
            {
                if msg.find(stun::attr::MESSAGE_INTEGRITY).is_some()
                    && msg.verify_integrity(&self.relay_key).is_err()
                {
                    self.rejects.stun_integrity += 1;
                    return;
                }
                if self.phase != Phase::Allocating {
                    // A repeated answer to a keepalive allocate.
                    return;
                }
                if t == msg_type::ALLOCATE_ERROR {
                    match msg.error_code() {
                        Some(code) => {
                            self.phase = Phase::Inert;
                            self.event(Event::AllocateFailed(code));
                        }
                        None => self.rejects.stun_malformed += 1,
                    }
                    return;
                }
                self.phase = Phase::Allocated;
                self.event(Event::Allocated);
                self.rtcp_at = now + RTCP_INTERVAL;
                self.interval_bytes = (self.bytes_sent, self.bytes_received, now);
                self.send_rtcp(now, false);
            }
            msg_type::WA_PONG => {}
            _ => self.rejects.stun_unmatched += 1,
        }
    }

    fn count_srtp_error(&mut self, e: srtp::Error) {
        match e {
            srtp::Error::AuthFailed => self.rejects.auth_failed += 1,
            srtp::Error::Replay => self.rejects.replayed += 1,
            srtp::Error::UnknownSsrc => self.rejects.unknown_ssrc += 1,
            _ => self.rejects.srtp_malformed += 1,
        }
    }

    fn on_rtp(&mut self, now: Instant, bytes: &[u8]) {
        // Route by payload type before unprotecting (byte 1 exists: demux saw 12 bytes).
        let pt = bytes[1] & 0x7F;
        if pt != rtp::PT_MLOW && pt != rtp::PT_MLOW_SPLIT_RED {
            self.rejects.payload_type += 1;
            return;
        }
        let buf = &mut self.rx[..bytes.len()];
        buf.copy_from_slice(bytes);
        let len = match self.receiver.unprotect_rtp(buf) {
            Ok(len) => len,
            Err(e) => {
                self.count_srtp_error(e);
                return;
            }
        };
        let Ok(packet) = rtp::Packet::new_checked(&self.rx[..len]) else {
            self.rejects.srtp_malformed += 1;
            return;
        };
        let (seq, ts, ssrc) = (packet.sequence_number(), packet.timestamp(), packet.ssrc());
        self.packets_received += 1;
        self.bytes_received += bytes.len() as u64;
        self.recv_stats.on_rtp(now, ssrc, seq, ts);
        let payload = packet.payload();
        let jb = self.playout.jitter();
        let ok = match payload::route(pt, payload) {
            Route::MLow(toc) => insert(jb, now, seq, ts, toc, payload, false).is_some(),
            Route::SplitRed => match red::SplitRed::parse(payload) {
                Ok(env) => {
                    let main = env.main();
                    let main_ok = match main.data.first() {
                        Some(&b) if b & 0xC0 != 0xC0 => {
                            insert(jb, now, seq, ts, Toc(b), main.data, false).is_some()
                        }
                        _ => false,
                    };
                    // Redundant frames, newest first: each sits just before the next one.
                    // Only the newest MAX_REDUNDANT are looked at.
                    let n = env.redundant_count();
                    let (mut r_seq, mut r_ts) = (seq, ts);
                    for k in (n.saturating_sub(red::MAX_REDUNDANT)..n).rev() {
                        let Some(f) = env.frames().nth(k) else { break };
                        let Some(&b) = f.data.first().filter(|&&b| b & 0xC0 != 0xC0) else {
                            break;
                        };
                        r_seq = r_seq.wrapping_sub(1);
                        r_ts = r_ts.wrapping_sub(Toc(b).packet_ms() * 16);
                        if insert(jb, now, r_seq, r_ts, Toc(b), f.data, true)
                            == Some(jitter::Inserted::Buffered)
                        {
                            self.recovered += 1;
                        }
                    }
                    main_ok
                }
                Err(_) => false,
            },
            _ => false,
        };
        if !ok {
            self.rejects.payload += 1;
        }
    }

    fn on_rtcp(&mut self, now: Instant, bytes: &[u8]) {
        let buf = &mut self.rx[..bytes.len()];
        buf.copy_from_slice(bytes);
        let len = match self.receiver.unprotect_rtcp(buf) {
            Ok(len) => len,
            Err(e) => {
                self.count_srtp_error(e);
                return;
            }
        };
        let arrival_mid = self.ntp(now).middle32();
        let mut bad = false;
        for r in rtcp::compound(&self.rx[..len]) {
            let blocks = match r {
                Ok(rtcp::Repr::SenderReport {
                    ssrc, info, blocks, ..
                }) => {
                    self.recv_stats.on_sender_report(now, ssrc, info.ntp);
                    blocks
                }
                Ok(rtcp::Repr::ReceiverReport { blocks, .. }) => blocks,
                Ok(_) => continue,
                Err(_) => {
                    bad = true;
                    break;
                }
            };
            for b in blocks.filter(|b| b.ssrc == self.own_ssrc && b.last_sr != 0) {
                self.peer_fraction_lost = b.fraction_lost;
                let rtt = arrival_mid
                    .wrapping_sub(b.last_sr)
                    .wrapping_sub(b.delay_since_last_sr);
                // Ignore a negative (wrapped) figure from a clock step.
                if rtt < 0x8000_0000 {
                    self.rtt_ms = Some((u64::from(rtt) * 1000 / 65_536) as u32);
                }
            }
        }
        if bad {
            self.rejects.rtcp_malformed += 1;
        }
    }
}

/// Buffer one frame; `None` when the jitter buffer refused it.
fn insert(
    jb: &mut JitterBuffer<JITTER_SLOTS, MAX_PAYLOAD_BYTES>,
    now: Instant,
    seq: u16,
    ts: u32,
    toc: Toc,
    frame: &[u8],
    recovered: bool,
) -> Option<jitter::Inserted> {
    let samples = toc.packet_ms() * 16;
    let r = if recovered {
        jb.insert_recovered(now, seq, ts, samples, frame)
    } else {
        jb.insert(now, seq, ts, samples, frame)
    };
    r.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Element;

    #[test]
    fn relay_params_come_from_the_preferred_endpoint() {
        let te2_a: [u8; 6] = [10, 0, 0, 1, 0x0D, 0x96]; // 10.0.0.1:3478
        let te2_b: [u8; 6] = [10, 0, 0, 2, 0x0D, 0x98]; // 10.0.0.2:3480
        let a = [("relay_id", "1"), ("relay_name", "a"), ("token_id", "0")];
        let b = [("relay_id", "2"), ("relay_name", "b"), ("token_id", "1")];
        let children = [
            Element {
                tag: "key",
                attrs: &[],
                content: b"S2V5",
            },
            Element {
                tag: "token",
                attrs: &[("id", "0")],
                content: b"tok-a",
            },
            Element {
                tag: "token",
                attrs: &[("id", "1")],
                content: b"tok-b",
            },
            Element {
                tag: "te2",
                attrs: &a,
                content: &te2_a,
            },
            Element {
                tag: "te2",
                attrs: &b,
                content: &te2_b,
            },
        ];
        let block = RelayBlock::parse(&[], &children);
        let p = RelayParams::from_block(&block).unwrap();
        // Port 3480 wins (the web client's port).
        assert_eq!(p.endpoint, "10.0.0.2:3480".parse().unwrap());
        assert_eq!((p.token, p.key), (&b"tok-b"[..], &b"S2V5"[..]));
        assert_eq!(p.srtp_tag_len_bytes, 4);
        let no_key = RelayBlock::parse(&[], &children[1..]);
        assert_eq!(RelayParams::from_block(&no_key), None);
    }
}
