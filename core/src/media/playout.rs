//! The 20 ms playout tick: jitter buffer in, one tick of 16 kHz PCM out.
//!
//! [`Playout`] owns a [`JitterBuffer`] and a small PCM queue. On each [`Playout::tick`] it tops
//! the queue up to one tick by asking the buffer for the next packet and handing it to the
//! caller's [`Decoder`] (a whole packet at a time: 10, 20, 60 or 120 ms), or by asking the decoder
//! to conceal when the buffer says so, then copies exactly [`TICK_16K`] samples out. Before
//! playout starts (the buffer is priming) a tick is silence. A packet that fails to decode is
//! concealed instead and counted. Nothing allocates.

use crate::media::jitter::{ConcealReason, JitterBuffer, MAX_PACKET_16K, Pop};
use crate::time::Instant;

/// Samples in one playout tick: 20 ms at 16 kHz.
pub const TICK_16K: usize = 320;

/// A packet could not be decoded; the playout conceals its duration instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError;

/// The codec side of the playout (MLow in the engine, a fake in tests).
pub trait Decoder {
    /// Decode one packet into `out`, whose length is the packet's duration in samples.
    ///
    /// # Errors
    /// [`DecodeError`] when the payload is not decodable; `out` is then concealed instead.
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<(), DecodeError>;

    /// Fill `out` with concealment that continues the audio played so far.
    fn conceal(&mut self, out: &mut [i16]);
}

/// Counters of a [`Playout`], in 16 kHz samples unless named otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlayoutStats {
    /// Ticks produced.
    pub ticks: u64,
    /// Samples decoded from packets.
    pub decoded_16k: u64,
    /// Samples concealed because a packet was lost.
    pub lost_16k: u64,
    /// Samples concealed while nothing was buffered or while the buffer grew.
    pub stalled_16k: u64,
    /// Samples of silence before playout started.
    pub silence_16k: u64,
    /// Packets that failed to decode (and were concealed).
    pub decode_errors: u64,
}

impl PlayoutStats {
    /// All concealed samples (lost, stalled and failed-to-decode packets).
    pub fn concealed_16k(&self) -> u64 {
        self.lost_16k + self.stalled_16k
    }
}

/// A jitter buffer of `SLOTS` packets of up to `MAX_PAYLOAD` bytes with a PCM queue behind it.
pub struct Playout<const SLOTS: usize, const MAX_PAYLOAD: usize> {
    jitter: JitterBuffer<SLOTS, MAX_PAYLOAD>,
    /// Decoded PCM: `pcm[head..tail]` is queued for playout.
    pcm: [i16; QUEUE],
    head: usize,
    tail: usize,
    stats: PlayoutStats,
}

/// Queue capacity: less than a tick left over plus the longest packet.
const QUEUE: usize = TICK_16K + MAX_PACKET_16K as usize;

impl<const SLOTS: usize, const MAX_PAYLOAD: usize> Playout<SLOTS, MAX_PAYLOAD> {
    /// A playout around `jitter`.
    pub fn new(jitter: JitterBuffer<SLOTS, MAX_PAYLOAD>) -> Self {
        Playout {
            jitter,
            pcm: [0; QUEUE],
            head: 0,
            tail: 0,
            stats: PlayoutStats::default(),
        }
    }

    /// The jitter buffer, to insert packets and read its statistics.
    pub fn jitter(&mut self) -> &mut JitterBuffer<SLOTS, MAX_PAYLOAD> {
        &mut self.jitter
    }

    /// Counters so far.
    pub fn stats(&self) -> &PlayoutStats {
        &self.stats
    }

    /// Decoded samples waiting for the next ticks.
    pub fn queued_16k(&self) -> usize {
        self.tail - self.head
    }

    /// Produce the next 20 ms of audio into `out`.
    pub fn tick(&mut self, now: Instant, decoder: &mut impl Decoder, out: &mut [i16; TICK_16K]) {
        while self.tail - self.head < TICK_16K {
            // Move the leftover (under one tick) to the front so a whole packet fits behind it.
            self.pcm.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
            let tail = self.tail;
            let jitter_lost_16k = self.jitter.stats().lost_16k;
            let mut lost_now_16k = 0;
            match self.jitter.pop(now) {
                Pop::Frame(frame) => {
                    let n = frame.samples_16k as usize;
                    let dst = &mut self.pcm[tail..tail + n];
                    if decoder.decode(frame.payload, dst).is_ok() {
                        self.stats.decoded_16k += n as u64;
                    } else {
                        decoder.conceal(dst);
                        self.stats.decode_errors += 1;
                        self.stats.lost_16k += n as u64;
                    }
                    self.tail += n;
                }
                Pop::Conceal {
                    samples_16k,
                    reason,
                    ..
                } => {
                    let n = samples_16k as usize;
                    decoder.conceal(&mut self.pcm[tail..tail + n]);
                    match reason {
                        ConcealReason::Lost => {
                            self.stats.lost_16k += n as u64;
                            lost_now_16k = n as u64;
                        }
                        ConcealReason::Underrun | ConcealReason::Stretch => {
                            self.stats.stalled_16k += n as u64
                        }
                    }
                    self.tail += n;
                }
                Pop::Wait => {
                    let n = TICK_16K - tail;
                    self.pcm[tail..TICK_16K].fill(0);
                    self.stats.silence_16k += n as u64;
                    self.tail = TICK_16K;
                }
            }
            // A packet arriving after a missing sequence number proves that concealment played
            // as a stall stood for a lost packet: the jitter buffer credits it as loss in this
            // pop (beyond any concealment it asked for as loss now), and so do we.
            let credited =
                (self.jitter.stats().lost_16k - jitter_lost_16k).saturating_sub(lost_now_16k);
            self.stats.stalled_16k = self.stats.stalled_16k.saturating_sub(credited);
            self.stats.lost_16k += credited;
        }
        out.copy_from_slice(&self.pcm[self.head..self.head + TICK_16K]);
        self.head += TICK_16K;
        self.stats.ticks += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::jitter::Config;
    use alloc::vec::Vec;

    /// Decodes a payload `[v]` to samples of value `v`; conceals with -1; fails on empty input.
    struct Fake;

    impl Decoder for Fake {
        fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<(), DecodeError> {
            let &[v] = payload else {
                return Err(DecodeError);
            };
            out.fill(i16::from(v));
            Ok(())
        }
        fn conceal(&mut self, out: &mut [i16]) {
            out.fill(-1);
        }
    }

    /// Each tick summarised as its distinct runs: (value, length).
    fn runs(tick: &[i16]) -> Vec<(i16, usize)> {
        let mut r: Vec<(i16, usize)> = Vec::new();
        for &s in tick {
            match r.last_mut() {
                Some((v, n)) if *v == s => *n += 1,
                _ => r.push((s, 1)),
            }
        }
        r
    }

    fn playout() -> Playout<16, 4> {
        Playout::new(JitterBuffer::new(Config {
            min_target_16k: 0,
            max_target_16k: 0,
            ..Config::default()
        }))
    }

    #[test]
    fn sixty_ms_packets_fill_three_ticks_and_gaps_are_concealed() {
        let mut p = playout();
        let mut out = [0; TICK_16K];
        let mut got = Vec::new();
        p.tick(Instant::ZERO, &mut Fake, &mut out);
        got.push(runs(&out));
        // Packets 1, 3, 2 arrive scrambled; 4 is lost; 5 arrives.
        for (seq, v) in [(1u16, 10u8), (3, 30), (2, 20), (5, 50)] {
            let ts = u32::from(seq) * 960;
            p.jitter()
                .insert(Instant::ZERO, seq, ts, 960, &[v])
                .unwrap();
        }
        for _ in 0..15 {
            p.tick(Instant::ZERO, &mut Fake, &mut out);
            got.push(runs(&out));
        }
        let expect: Vec<Vec<(i16, usize)>> = [0, 10, 10, 10, 20, 20, 20, 30, 30, 30]
            .into_iter()
            .chain([-1, -1, -1, 50, 50, 50])
            .map(|v| alloc::vec![(v, TICK_16K)])
            .collect();
        assert_eq!(got, expect);
        let s = *p.stats();
        assert_eq!(
            (s.ticks, s.decoded_16k, s.lost_16k, s.silence_16k),
            (16, 4 * 960, 960, 320)
        );
    }

    #[test]
    fn ten_ms_packets_share_a_tick_and_a_bad_packet_is_concealed() {
        let mut p = playout();
        let mut out = [0; TICK_16K];
        p.jitter().insert(Instant::ZERO, 1, 0, 160, &[1]).unwrap();
        p.jitter().insert(Instant::ZERO, 2, 160, 160, &[2]).unwrap();
        // Undecodable (empty) 20 ms packet, then a 10 ms one.
        p.jitter().insert(Instant::ZERO, 3, 320, 320, &[]).unwrap();
        p.jitter().insert(Instant::ZERO, 4, 640, 160, &[4]).unwrap();
        p.tick(Instant::ZERO, &mut Fake, &mut out);
        assert_eq!(runs(&out), [(1, 160), (2, 160)]);
        p.tick(Instant::ZERO, &mut Fake, &mut out);
        assert_eq!(runs(&out), [(-1, 320)]);
        // Packet 4 (160) then an underrun quantum (320), of which 160 remain queued.
        p.tick(Instant::ZERO, &mut Fake, &mut out);
        assert_eq!(runs(&out), [(4, 160), (-1, 160)]);
        assert_eq!(p.queued_16k(), 160);
        let s = *p.stats();
        assert_eq!((s.decode_errors, s.lost_16k, s.stalled_16k), (1, 320, 320));
    }

    /// A lost packet whose successor arrives only after its play time: played as a stall, then
    /// credited as loss when the successor shows the missing sequence number.
    #[test]
    fn a_loss_noticed_late_is_counted_as_loss() {
        let mut p = playout();
        let mut out = [0; TICK_16K];
        let ms = Instant::from_millis;
        p.jitter().insert(ms(0), 1, 960, 960, &[10]).unwrap();
        for t in 0..6 {
            p.tick(ms(20 * t), &mut Fake, &mut out);
        }
        // Seq 2 is lost; seq 3 arrives after seq 2's play time.
        p.jitter().insert(ms(125), 3, 3 * 960, 960, &[30]).unwrap();
        for t in 6..12 {
            p.tick(ms(20 * t), &mut Fake, &mut out);
        }
        let s = *p.stats();
        assert_eq!((s.lost_16k, s.decoded_16k), (960, 2 * 960), "{s:?}");
    }
}
