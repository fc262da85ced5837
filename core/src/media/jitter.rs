//! An adaptive jitter buffer for 16 kHz audio packets.
//!
//! Packets go in as they arrive ([`JitterBuffer::insert`]), in any order, with their RTP sequence
//! number, their RTP timestamp on the 16 kHz clock, the number of samples they decode to and their
//! (still encoded) payload. The playout takes them out in timestamp order ([`JitterBuffer::pop`])
//! whenever it has run out of decoded audio. Sequence numbers and timestamps are extended past
//! their 16- and 32-bit wrap internally, so a stream may cross `65535 → 0` at any point.
//!
//! # Playout contract
//!
//! The buffer works on whole packets: a 60 ms MLow packet comes out as one [`Frame`] covering 960
//! samples, a 20 ms packet as one covering 320. The caller decodes it into its PCM queue and
//! plays that out on its 20 ms tick; it calls `pop` again only when the queue cannot fill the next
//! tick. Every [`Pop`] states how many samples it covers, so the caller never has to know the
//! packet duration in advance and mixed durations work:
//!
//! - [`Pop::Frame`]: decode this payload; it covers `samples_16k` samples.
//! - [`Pop::Conceal`]: produce `samples_16k` samples of concealment (codec PLC or comfort noise).
//!   The reason tells a lost packet from a stall that lets the buffer grow.
//! - [`Pop::Wait`]: playout has not started yet (the buffer is priming); play silence for one
//!   tick and ask again. Once playout has started `pop` never answers `Wait`: it always covers
//!   the tick, with audio or with concealment, so playout never stalls.
//!
//! # Depth adaptation
//!
//! For every arriving packet (late ones included) the buffer records its relative transit time,
//! arrival time minus RTP timestamp, both in 16 kHz samples, in a window of the last
//! [`TRANSIT_WINDOW`] packets. The fastest packet in the window sets the minimum transit; the
//! delay *spread* is the window's 95th percentile minus that minimum: how much later than the
//! fastest packet a packet can arrive, ignoring the worst 5 %. Reordering shows up as spread too
//! (a packet overtaken by a later one has a larger transit time). The *target* is the spread
//! clamped to [`Config::min_target_16k`]..=[`Config::max_target_16k`].
//!
//! The *playout delay* is how long after its fastest possible arrival the audio at the playout
//! position is played: now minus the position's timestamp minus the minimum transit. A packet
//! whose transit is within the spread has arrived once the delay reaches the target. Playout
//! starts when the oldest buffered packet's delay reaches the target. Then, at each `pop`:
//!
//! - delay below target with the next packet present: the buffer *stretches*, answering one
//!   concealment quantum without advancing, so the delay grows by a quantum (at most one per
//!   played packet, so the audio keeps flowing while the delay climbs);
//! - nothing buffered at all: an *underrun*; it conceals one quantum without advancing (the
//!   delay grows if the missing packet turns up late). If instead a later packet arrives, the
//!   held concealment is credited against the gap, so a lost packet at the tail or an outage
//!   adds no lasting delay, and as far as sequence numbers are missing before that packet the
//!   held concealment moves from `underrun_16k` to `lost_16k` (a DTX pause is no loss);
//! - a gap before the next buffered packet: the packet at the position is lost; conceal up to one
//!   quantum of the gap and advance;
//! - when the delay has stayed at least one packet above target for [`Config::shrink_period`],
//!   one packet is dropped (played past) to cut the delay, and the period starts again.
//!
//! [`JitterBuffer::level_16k`] (audio buffered ahead of the position) is reported for
//! statistics; it does not steer anything.
//!
//! The RFC 3550 §6.4.1 interarrival jitter is kept alongside ([`JitterBuffer::jitter_16k`]) for
//! reception reports; it does not steer the depth.
//!
//! # Resources
//!
//! `SLOTS` packets of up to `MAX_PAYLOAD` bytes each live in fixed slots inside the value; neither
//! `insert` nor `pop` allocates. Out-of-order handling is a linear scan over the slots, which is
//! cheap for the few dozen slots an audio buffer needs.

use crate::time::{Duration, Instant};

/// How many recent packets the delay-spread estimate looks at.
pub const TRANSIT_WINDOW: usize = 64;

/// Longest packet accepted, in 16 kHz samples: 120 ms, MLow's longest packet. (Silence spans
/// longer than a packet show up as timestamp gaps, not as long packets.)
pub const MAX_PACKET_16K: u32 = 1920;

/// After this many consecutive packets too far from the playout position, the buffer decides the
/// sender restarted its timeline and resynchronises to it.
pub const RESYNC_AFTER: u8 = 8;

/// Tuning of a [`JitterBuffer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Smallest target playout delay (beyond the fastest transit), in 16 kHz samples.
    pub min_target_16k: u32,
    /// Largest target playout delay, in 16 kHz samples.
    pub max_target_16k: u32,
    /// Samples per concealment answer when stretching, on underrun and inside a gap; the
    /// playout's tick (320 = 20 ms) is the natural choice. Used clamped to
    /// 1..=[`MAX_PACKET_16K`].
    pub conceal_quantum_16k: u32,
    /// How long the delay must stay a packet above target before one packet is dropped.
    pub shrink_period: Duration,
    /// Packets further than this from the playout position (either way) are out of range.
    pub max_distance_16k: u32,
}

impl Default for Config {
    /// 20 ms to 500 ms of target delay, 20 ms quantum, 2 s shrink period, 3 s range.
    fn default() -> Self {
        Config {
            min_target_16k: 320,
            max_target_16k: 8000,
            conceal_quantum_16k: 320,
            shrink_period: Duration::from_secs(2),
            max_distance_16k: 48_000,
        }
    }
}

/// Why an insert was refused; the buffer is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// The payload does not fit a slot.
    PayloadTooLarge {
        /// Length of the refused payload in bytes.
        len_bytes: usize,
    },
    /// The duration is zero or above [`MAX_PACKET_16K`].
    BadDuration {
        /// The refused duration in 16 kHz samples.
        samples_16k: u32,
    },
}

/// What became of an accepted insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Stored for playout.
    Buffered,
    /// Stored; the buffer was full, so the oldest packet was dropped for it.
    BufferedEvictingOldest,
    /// Dropped: the same packet is buffered or was played already.
    Duplicate,
    /// Dropped: its time has been played (or concealed) already.
    Late,
    /// Dropped: the buffer is full and every buffered packet is newer.
    Overflow,
    /// Dropped: too far from the playout position (see [`RESYNC_AFTER`]).
    OutOfRange,
    /// Stored after the buffer flushed itself and restarted on this packet's timeline.
    Resynced,
}

/// Why the playout is asked to conceal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConcealReason {
    /// The packet for this time never arrived (a later one did).
    Lost,
    /// Nothing is buffered; the playout position holds until something arrives.
    Underrun,
    /// Audio is buffered but less than the target depth; the buffer grows.
    Stretch,
}

/// A packet handed to the playout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Its RTP sequence number.
    pub seq: u16,
    /// Its RTP timestamp (16 kHz clock).
    pub ts_16k: u32,
    /// Samples it decodes to.
    pub samples_16k: u32,
    /// The encoded payload.
    pub payload: &'a [u8],
}

/// The answer to [`JitterBuffer::pop`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pop<'a> {
    /// Decode and play this packet.
    Frame(Frame<'a>),
    /// Produce this many samples of concealment, standing for RTP time `ts_16k` onwards.
    Conceal {
        /// RTP timestamp (16 kHz clock) of the first concealed sample.
        ts_16k: u32,
        /// Number of samples to conceal.
        samples_16k: u32,
        /// Why.
        reason: ConcealReason,
    },
    /// Playout has not started; play one tick of silence and ask again.
    Wait,
}

/// Counters since creation (or the last [`JitterBuffer::reset`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets stored.
    pub buffered: u64,
    /// Packets handed out as [`Pop::Frame`].
    pub played: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Late packets dropped.
    pub late: u64,
    /// Packets dropped because the buffer was full (evicted or refused).
    pub overflow: u64,
    /// Packets dropped as out of range.
    pub out_of_range: u64,
    /// Timeline restarts.
    pub resyncs: u64,
    /// Packets dropped to shrink the delay.
    pub shrink_drops: u64,
    /// Samples concealed for lost packets.
    pub lost_16k: u64,
    /// Samples concealed on underrun.
    pub underrun_16k: u64,
    /// Samples concealed to grow the depth.
    pub stretch_16k: u64,
}

#[derive(Clone, Copy)]
struct Slot<const P: usize> {
    used: bool,
    seq: i64,
    ts: i64,
    samples: u32,
    len: u16,
    bytes: [u8; P],
}

impl<const P: usize> Slot<P> {
    const EMPTY: Self = Slot {
        used: false,
        seq: 0,
        ts: 0,
        samples: 0,
        len: 0,
        bytes: [0; P],
    };

    fn end(&self) -> i64 {
        self.ts + i64::from(self.samples)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing received since creation or reset.
    Idle,
    /// Holding the first packets until the oldest reaches the target delay.
    Priming,
    /// Playout running.
    Playing,
}

/// Bitmap of recently played sequence numbers, to tell a duplicate from a late packet.
#[derive(Clone, Copy, Default)]
struct Played {
    top: Option<i64>,
    bits: u64,
}

impl Played {
    fn mark(&mut self, seq: i64) {
        match self.top {
            None => {
                self.top = Some(seq);
                self.bits = 1;
            }
            Some(top) if seq > top => {
                let shift = seq - top;
                self.bits = if shift >= 64 { 0 } else { self.bits << shift };
                self.bits |= 1;
                self.top = Some(seq);
            }
            Some(top) => {
                if top - seq < 64 {
                    self.bits |= 1 << (top - seq);
                }
            }
        }
    }

    fn contains(&self, seq: i64) -> bool {
        match self.top {
            Some(top) if seq <= top && top - seq < 64 => self.bits & (1 << (top - seq)) != 0,
            _ => false,
        }
    }
}

/// The adaptive jitter buffer: `SLOTS` packets of up to `MAX_PAYLOAD` bytes.
///
/// See the [module docs](self) for the playout contract and the adaptation rules.
pub struct JitterBuffer<const SLOTS: usize, const MAX_PAYLOAD: usize> {
    cfg: Config,
    slots: [Slot<MAX_PAYLOAD>; SLOTS],
    count: usize,
    phase: Phase,
    /// Highest extended sequence number and timestamp inserted; the reference for extension.
    highest: Option<(i64, i64)>,
    /// Next timestamp to play (meaningful while playing).
    play_ts: i64,
    /// Underrun concealment not yet charged against the timeline.
    held_16k: i64,
    played: Played,
    transit: [i64; TRANSIT_WINDOW],
    transit_len: usize,
    transit_next: usize,
    prev_transit: Option<i64>,
    /// Smallest transit in the window (the fastest recent packet).
    min_transit: i64,
    /// RFC 3550 interarrival jitter in 1/16 samples.
    jitter_q4: i64,
    target_16k: u32,
    window_start: Instant,
    window_min_delay: i64,
    /// A stretch was answered since the last frame; at most one per frame, so a buffer that
    /// cannot reach its target (a sparse stream, a priming timeout) still plays.
    stretched: bool,
    out_of_range_run: u8,
    stats: Stats,
}

impl<const SLOTS: usize, const MAX_PAYLOAD: usize> JitterBuffer<SLOTS, MAX_PAYLOAD> {
    /// An empty buffer.
    pub fn new(cfg: Config) -> Self {
        const { assert!(SLOTS > 0 && MAX_PAYLOAD <= u16::MAX as usize) };
        JitterBuffer {
            cfg,
            slots: [Slot::EMPTY; SLOTS],
            count: 0,
            phase: Phase::Idle,
            highest: None,
            play_ts: 0,
            held_16k: 0,
            played: Played::default(),
            transit: [0; TRANSIT_WINDOW],
            transit_len: 0,
            transit_next: 0,
            prev_transit: None,
            min_transit: 0,
            jitter_q4: 0,
            target_16k: cfg.min_target_16k,
            window_start: Instant::ZERO,
            window_min_delay: i64::MAX,
            stretched: false,
            out_of_range_run: 0,
            stats: Stats::default(),
        }
    }

    /// Forget every packet, the timeline and the statistics (a new stream begins).
    pub fn reset(&mut self) {
        *self = Self::new(self.cfg);
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Packets currently buffered.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no packet is buffered.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether playout has started.
    pub fn is_playing(&self) -> bool {
        self.phase == Phase::Playing
    }

    /// The current target playout delay in 16 kHz samples.
    pub fn target_16k(&self) -> u32 {
        self.target_16k
    }

    /// The delay spread estimate (95th percentile minus minimum transit) in 16 kHz samples.
    pub fn spread_16k(&self) -> u32 {
        self.spread().try_into().unwrap_or(u32::MAX)
    }

    /// Audio buffered ahead of the playout position (before playout starts: ahead of the oldest
    /// buffered packet), in 16 kHz samples.
    pub fn level_16k(&self) -> u32 {
        self.level().try_into().unwrap_or(0)
    }

    /// The playout delay at `now` beyond the fastest recent transit, in 16 kHz samples: of the
    /// playout position while playing, of the oldest buffered packet while priming; 0 before
    /// anything arrived.
    pub fn delay_16k(&self, now: Instant) -> u32 {
        let at = match self.phase {
            Phase::Playing => Some(self.play_ts),
            _ => self.oldest_index().map(|i| self.slots[i].ts),
        };
        at.map_or(0, |ts| self.delay_of(now, ts).try_into().unwrap_or(0))
    }

    /// RFC 3550 §6.4.1 interarrival jitter in 16 kHz samples (rounded down).
    pub fn jitter_16k(&self) -> u32 {
        (self.jitter_q4 >> 4).try_into().unwrap_or(u32::MAX)
    }

    /// Offer an arriving packet.
    ///
    /// `ts_16k` is its RTP timestamp on the 16 kHz clock, `samples_16k` the number of samples it
    /// decodes to (the caller reads this from the codec's table of contents), `payload` its
    /// encoded bytes, copied into a slot.
    ///
    /// # Errors
    /// [`InsertError`] when the payload does not fit a slot or the duration is out of bounds; the
    /// buffer is then unchanged.
    pub fn insert(
        &mut self,
        now: Instant,
        seq: u16,
        ts_16k: u32,
        samples_16k: u32,
        payload: &[u8],
    ) -> Result<Inserted, InsertError> {
        self.offer(now, seq, ts_16k, samples_16k, payload, true)
    }

    /// Offer a packet recovered from redundancy (RED) carried by a later packet.
    ///
    /// Like [`JitterBuffer::insert`], with the sequence number and timestamp the packet had on
    /// its own; whichever copy comes second is dropped as [`Inserted::Duplicate`]. Its arrival
    /// time says nothing about the network (it rode in a later packet), so it does not feed the
    /// jitter estimate, except as the very first packet when nothing else can.
    ///
    /// # Errors
    /// As [`JitterBuffer::insert`].
    pub fn insert_recovered(
        &mut self,
        now: Instant,
        seq: u16,
        ts_16k: u32,
        samples_16k: u32,
        payload: &[u8],
    ) -> Result<Inserted, InsertError> {
        self.offer(now, seq, ts_16k, samples_16k, payload, false)
    }

    fn offer(
        &mut self,
        now: Instant,
        seq: u16,
        ts_16k: u32,
        samples_16k: u32,
        payload: &[u8],
        timing: bool,
    ) -> Result<Inserted, InsertError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(InsertError::PayloadTooLarge {
                len_bytes: payload.len(),
            });
        }
        if samples_16k == 0 || samples_16k > MAX_PACKET_16K {
            return Err(InsertError::BadDuration { samples_16k });
        }
        let Some((high_seq, high_ts)) = self.highest else {
            self.start_timeline(now, seq, ts_16k, samples_16k, payload);
            return Ok(Inserted::Buffered);
        };
        let ext_seq = high_seq + i64::from(seq.wrapping_sub(high_seq as u16) as i16);
        let ext_ts = high_ts + i64::from(ts_16k.wrapping_sub(high_ts as u32) as i32);

        // Far from where playout is (or, while priming, from the newest packet): either junk or
        // a sender that restarted its timeline.
        let reference = match self.phase {
            Phase::Playing => self.play_ts + self.held_16k,
            _ => high_ts,
        };
        if (ext_ts - reference).abs() > i64::from(self.cfg.max_distance_16k) {
            self.out_of_range_run = self.out_of_range_run.saturating_add(1);
            if self.count == 0 || self.out_of_range_run >= RESYNC_AFTER {
                let stats = self.stats;
                self.reset();
                self.stats = stats;
                self.stats.resyncs += 1;
                self.start_timeline(now, seq, ts_16k, samples_16k, payload);
                return Ok(Inserted::Resynced);
            }
            self.stats.out_of_range += 1;
            return Ok(Inserted::OutOfRange);
        }
        self.out_of_range_run = 0;

        if self.played.contains(ext_seq) || self.slots.iter().any(|s| s.used && s.seq == ext_seq) {
            self.stats.duplicates += 1;
            return Ok(Inserted::Duplicate);
        }
        if ext_seq > high_seq {
            self.highest = Some((ext_seq, ext_ts.max(high_ts)));
        } else if ext_ts > high_ts {
            self.highest = Some((high_seq, ext_ts));
        }
        if timing || self.transit_len == 0 {
            self.note_transit(now, ext_ts);
            self.update_target();
        }

        if self.phase == Phase::Playing && ext_ts < self.play_ts {
            self.stats.late += 1;
            return Ok(Inserted::Late);
        }
        if self.slots.iter().any(|s| s.used && s.ts == ext_ts) {
            // Another sequence number for the same stretch of time: keep the first.
            self.stats.duplicates += 1;
            return Ok(Inserted::Duplicate);
        }

        let mut outcome = Inserted::Buffered;
        let index = match self.slots.iter().position(|s| !s.used) {
            Some(free) => free,
            None => {
                let oldest = self.oldest_index().unwrap_or(0);
                self.stats.overflow += 1;
                if self.slots[oldest].ts > ext_ts {
                    return Ok(Inserted::Overflow);
                }
                let evicted = self.slots[oldest];
                self.slots[oldest].used = false;
                self.count -= 1;
                if self.phase == Phase::Playing {
                    self.play_ts = self.play_ts.max(evicted.end());
                }
                outcome = Inserted::BufferedEvictingOldest;
                oldest
            }
        };
        self.store(index, ext_seq, ext_ts, samples_16k, payload);
        Ok(outcome)
    }

    /// Take what the playout should produce next; see the [module docs](self).
    pub fn pop(&mut self, now: Instant) -> Pop<'_> {
        match self.phase {
            Phase::Idle => return Pop::Wait,
            Phase::Priming => {
                let Some(oldest) = self.oldest_index() else {
                    return Pop::Wait;
                };
                let oldest_ts = self.slots[oldest].ts;
                if self.delay_of(now, oldest_ts) < i64::from(self.target_16k) {
                    return Pop::Wait;
                }
                self.phase = Phase::Playing;
                self.play_ts = oldest_ts;
                self.held_16k = 0;
                self.stretched = true;
                self.restart_window(now);
            }
            Phase::Playing => {}
        }

        // Only overlapping packets can fall behind the position; they are too late to play.
        let play_ts = self.play_ts;
        let mut stale = 0;
        for slot in self.slots.iter_mut().filter(|s| s.used && s.ts < play_ts) {
            slot.used = false;
            stale += 1;
        }
        self.count -= stale;
        self.stats.late += stale as u64;

        let quantum = i64::from(self.cfg.conceal_quantum_16k.clamp(1, MAX_PACKET_16K));
        let Some(next) = self.oldest_index() else {
            self.held_16k += quantum;
            self.stats.underrun_16k += quantum as u64;
            self.restart_window(now);
            return self.conceal(quantum, ConcealReason::Underrun);
        };
        let next_ts = self.slots[next].ts;
        if next_ts > self.play_ts && self.held_16k > 0 {
            // Concealment already played while nothing was buffered stands for this gap. If
            // sequence numbers are missing before this packet, that much of it was loss, not
            // underrun (a timestamp gap without missing sequence numbers is a DTX pause).
            let covered = (next_ts - self.play_ts).min(self.held_16k);
            self.play_ts += covered;
            let missing = self
                .played
                .top
                .map_or(0, |top| (self.slots[next].seq - top - 1).max(0));
            let lost = covered.min(missing * i64::from(self.slots[next].samples)) as u64;
            self.stats.underrun_16k = self.stats.underrun_16k.saturating_sub(lost);
            self.stats.lost_16k += lost;
        }
        self.held_16k = 0;
        if next_ts > self.play_ts {
            let gap = (next_ts - self.play_ts).min(quantum);
            let out = self.conceal(gap, ConcealReason::Lost);
            self.play_ts += gap;
            self.stats.lost_16k += gap as u64;
            return out;
        }

        let delay = self.delay_of(now, self.play_ts);
        let target = i64::from(self.target_16k);
        if delay < target && !self.stretched {
            self.stretched = true;
            self.stats.stretch_16k += quantum as u64;
            self.restart_window(now);
            return self.conceal(quantum, ConcealReason::Stretch);
        }
        self.window_min_delay = self.window_min_delay.min(delay);
        let mut head = next;
        if now.saturating_since(self.window_start) >= self.cfg.shrink_period {
            let head_end = self.slots[head].end();
            if self.window_min_delay >= target + i64::from(self.slots[head].samples)
                && let Some(follow) = self.slots.iter().position(|s| s.used && s.ts == head_end)
            {
                self.played.mark(self.slots[head].seq);
                self.release(head);
                self.play_ts = head_end;
                self.stats.shrink_drops += 1;
                head = follow;
            }
            self.restart_window(now);
        }

        self.release(head);
        self.stretched = false;
        let slot = &self.slots[head];
        self.play_ts = slot.end();
        self.played.mark(slot.seq);
        self.stats.played += 1;
        Pop::Frame(Frame {
            seq: slot.seq as u16,
            ts_16k: slot.ts as u32,
            samples_16k: slot.samples,
            payload: &slot.bytes[..usize::from(slot.len)],
        })
    }

    fn start_timeline(
        &mut self,
        now: Instant,
        seq: u16,
        ts_16k: u32,
        samples_16k: u32,
        payload: &[u8],
    ) {
        let (ext_seq, ext_ts) = (i64::from(seq), i64::from(ts_16k));
        self.highest = Some((ext_seq, ext_ts));
        self.phase = Phase::Priming;
        self.note_transit(now, ext_ts);
        self.update_target();
        self.store(0, ext_seq, ext_ts, samples_16k, payload);
    }

    fn store(&mut self, index: usize, seq: i64, ts: i64, samples: u32, payload: &[u8]) {
        let slot = &mut self.slots[index];
        slot.used = true;
        slot.seq = seq;
        slot.ts = ts;
        slot.samples = samples;
        slot.len = payload.len() as u16;
        slot.bytes[..payload.len()].copy_from_slice(payload);
        self.count += 1;
        self.stats.buffered += 1;
    }

    fn release(&mut self, index: usize) {
        self.slots[index].used = false;
        self.count -= 1;
    }

    fn conceal(&self, samples: i64, reason: ConcealReason) -> Pop<'static> {
        Pop::Conceal {
            ts_16k: self.play_ts as u32,
            samples_16k: samples as u32,
            reason,
        }
    }

    fn restart_window(&mut self, now: Instant) {
        self.window_start = now;
        self.window_min_delay = i64::MAX;
    }

    fn oldest_index(&self) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.used)
            .min_by_key(|(_, s)| s.ts)
            .map(|(i, _)| i)
    }

    fn level(&self) -> i64 {
        let newest_end = self.slots.iter().filter(|s| s.used).map(Slot::end).max();
        let from = match self.phase {
            Phase::Playing => self.play_ts,
            _ => self.oldest_index().map_or(0, |i| self.slots[i].ts),
        };
        newest_end.map_or(0, |end| (end - from).max(0))
    }

    /// How long after its fastest possible arrival the audio at `ts` is played at `now`.
    fn delay_of(&self, now: Instant, ts: i64) -> i64 {
        arrival_16k(now) - ts - self.min_transit
    }

    fn note_transit(&mut self, now: Instant, ext_ts: i64) {
        let transit = arrival_16k(now) - ext_ts;
        if let Some(prev) = self.prev_transit {
            // RFC 3550 A.8: J += (|D| - J) / 16, kept in 1/16 units.
            let d = (transit - prev).abs();
            self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4);
        }
        self.prev_transit = Some(transit);
        self.transit[self.transit_next] = transit;
        self.transit_next = (self.transit_next + 1) % TRANSIT_WINDOW;
        self.transit_len = (self.transit_len + 1).min(TRANSIT_WINDOW);
    }

    /// 95th percentile minus minimum of the transit window, and the minimum.
    fn spread_and_min(&self) -> (i64, i64) {
        let n = self.transit_len;
        if n == 0 {
            return (0, 0);
        }
        let mut sorted = self.transit;
        let window = &mut sorted[..n];
        window.sort_unstable();
        let p95 = (n * 95).div_ceil(100) - 1;
        (window[p95] - window[0], window[0])
    }

    fn spread(&self) -> i64 {
        self.spread_and_min().0
    }

    fn update_target(&mut self) {
        let (spread, min_transit) = self.spread_and_min();
        self.min_transit = min_transit;
        let wanted = spread;
        let lo = i64::from(self.cfg.min_target_16k);
        let hi = i64::from(self.cfg.max_target_16k).max(lo);
        self.target_16k = wanted.clamp(lo, hi) as u32;
    }
}

/// `now` on the 16 kHz clock: 16 samples per millisecond, µs × 16 / 1000 = µs × 2 / 125.
fn arrival_16k(now: Instant) -> i64 {
    (now.total_micros() / 125 * 2) as i64
}

impl<const SLOTS: usize, const MAX_PAYLOAD: usize> Default for JitterBuffer<SLOTS, MAX_PAYLOAD> {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

#[cfg(test)]
mod tests;

/// Fuzzing driver: arbitrary bytes become a configuration and a stream of inserts and pops, with
/// the buffer's promises asserted on the way.
#[cfg(fuzzing)]
pub mod fuzzing {
    use super::*;

    /// Run one fuzz input.
    pub fn run(data: &[u8]) {
        let Some((cfg_bytes, ops)) = data.split_first_chunk::<6>() else {
            return;
        };
        let cfg = Config {
            min_target_16k: u32::from(cfg_bytes[0]) * 40,
            max_target_16k: u32::from(cfg_bytes[1]) * 40,
            conceal_quantum_16k: u32::from(cfg_bytes[2]) * 16,
            shrink_period: Duration::from_millis(u64::from(cfg_bytes[3]) * 20),
            max_distance_16k: u32::from(u16::from_le_bytes([cfg_bytes[4], cfg_bytes[5]])) * 16,
        };
        let mut jb = JitterBuffer::<8, 32>::new(cfg);
        let (mut now_ms, mut seq, mut ts) = (0u64, 0u16, 0u32);
        let mut last_frame_ts: Option<u32> = None;
        for op in ops.chunks_exact(6) {
            now_ms += u64::from(op[1]);
            let now = Instant::from_millis(now_ms);
            if op[0] & 1 == 0 {
                seq = seq.wrapping_add(u16::from(op[2]).wrapping_sub(8));
                let step = i32::from(i16::from_le_bytes([op[3], op[4]])) * 20;
                ts = ts.wrapping_add_signed(step);
                let samples = u32::from(op[5]) * 40;
                let payload = [op[0]; 40];
                let len = usize::from(op[0] >> 1) % payload.len();
                let outcome = if op[0] & 2 == 0 {
                    jb.insert(now, seq, ts, samples, &payload[..len])
                } else {
                    jb.insert_recovered(now, seq, ts, samples, &payload[..len])
                };
                match outcome {
                    Ok(Inserted::Resynced) => last_frame_ts = None,
                    Ok(_) => {}
                    Err(InsertError::PayloadTooLarge { len_bytes }) => assert!(len_bytes > 32),
                    Err(InsertError::BadDuration { samples_16k }) => {
                        assert!(samples_16k == 0 || samples_16k > MAX_PACKET_16K)
                    }
                }
            } else {
                let was_playing = jb.is_playing();
                match jb.pop(now) {
                    Pop::Wait => assert!(!was_playing, "Wait after playout started"),
                    Pop::Conceal { samples_16k, .. } => {
                        assert!(samples_16k > 0 && samples_16k <= cfg.conceal_quantum_16k.max(1))
                    }
                    Pop::Frame(f) => {
                        assert!(f.payload.len() <= 32 && f.samples_16k > 0);
                        if let Some(prev) = last_frame_ts {
                            assert!(
                                f.ts_16k.wrapping_sub(prev) as i32 > 0,
                                "frames out of order"
                            );
                        }
                        last_frame_ts = Some(f.ts_16k);
                    }
                }
            }
            assert!(jb.len() <= 8);
            let _ = (
                jb.level_16k(),
                jb.delay_16k(now),
                jb.jitter_16k(),
                jb.spread_16k(),
            );
        }
    }
}
