//! `wacall demo`: a complete call on this machine, with no account.
//!
//! The demo starts the local relay ([`crate::relay::udp::spawn_loopback`]) on an ephemeral port of
//! 127.0.0.1 with a fresh random relay key and token, and two endpoints, *caller* and *callee*,
//! each a media [`Engine`] on its own UDP socket driven by [`crate::udp::drive`], with a fresh
//! random 32-byte call key. Once an endpoint's allocation succeeds it feeds its speech sample as
//! 20 ms mic frames paced by the host clock (the caller a shipped English male voice or
//! `--input`, the callee a shipped English female voice), so both directions run at once. Every
//! playout frame is kept with the time it was produced.
//!
//! A status line per second shows each side's view; at the end a report gives, per direction,
//! the packets sent / received / recovered from redundancy, the audio concealed, the
//! mouth-to-ear latency (the lag of the heard audio behind the sent audio, found by
//! cross-correlation on the common clock), the mean send bitrate and the wideband PESQ of the
//! heard audio against the sent audio after removing that lag.
//!
//! The codec is a [`CodecChoice`]; [`CodecChoice::make`] is the one place that builds one.

use std::cell::RefCell;
use std::io::{self, Read, Seek};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use clap::{Args, ValueEnum};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use wacall_core::keys::{CallKey, ParticipantId};
use wacall_core::media::codec::{AudioEncoder, EncodeError, InterimCodec};
use wacall_core::media::engine::{
    self, AudioFormat, Config, Engine, Event, Input, NEVER, Output, Stats,
};
use wacall_core::media::playout::{DecodeError, Decoder};
use wacall_core::mlow::{self, encoder::PacketDuration};
use wacall_core::time::{Duration, Instant};

use crate::clock::HostClock;
use crate::relay::{self, Impairment};
use crate::udp::{DriveStats, UdpMachine, drive};

/// Sample rate of the call audio.
pub const RATE_HZ: u32 = 16_000;
/// Samples in one 20 ms mic frame.
const FRAME_16K: usize = 320;
/// The caller's default sample (English, male voice; 5.5 s).
const CALLER_WAV: &[u8] = include_bytes!("../../vectors/speech/en-male.wav");
/// The callee's sample (English, female voice; 5.1 s).
const CALLEE_WAV: &[u8] = include_bytes!("../../vectors/speech/en-female.wav");
/// Participant ids of the two endpoints.
const IDS: [&str; 2] = ["111111111111111:0@lid", "222222222222222:0@lid"];
/// Endpoint names, in [`IDS`] order.
const NAMES: [&str; 2] = ["caller", "callee"];
/// Wait after allocation before speaking, so both sides are allocated when audio starts.
const SPEAK_DELAY: Duration = Duration::from_millis(200);
/// Both endpoints must be allocated within this.
const ALLOCATE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Longest mouth-to-ear latency searched for.
const MAX_LAG_MS: usize = 1500;

/// The codec both endpoints use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CodecChoice {
    /// MLow, WhatsApp's codec (the default): our encoder at its default 20 kbit/s target with
    /// DTX, 60 ms packets (WhatsApp's), SplitRed redundancy.
    Mlow,
    /// The interim wideband IMA ADPCM stand-in (16 kHz, 20 ms packets; NOT WhatsApp-compatible).
    Interim,
}

impl CodecChoice {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            CodecChoice::Mlow => "mlow",
            CodecChoice::Interim => "interim",
        }
    }

    /// The packetisation this codec sounds best with.
    pub fn audio_format(self) -> AudioFormat {
        match self {
            CodecChoice::Mlow => AudioFormat {
                packet_ms: 60,
                red: true,
            },
            // Wideband interim packets fit a SplitRed redundant block only at 20 ms.
            CodecChoice::Interim => AudioFormat {
                packet_ms: 20,
                red: true,
            },
        }
    }

    /// A fresh encoder and decoder for one endpoint.
    pub fn make(self) -> (BoxedEncoder, BoxedDecoder) {
        match self {
            CodecChoice::Mlow => {
                let duration = PacketDuration::from_ms(self.audio_format().packet_ms)
                    .expect("MLow's encoder emits the packet duration chosen above");
                let config = mlow::encoder::Config {
                    duration,
                    ..mlow::encoder::Config::default()
                };
                (
                    BoxedEncoder(Box::new(mlow::encoder::Encoder::new(config))),
                    BoxedDecoder(Box::new(mlow::Decoder::new())),
                )
            }
            CodecChoice::Interim => (
                BoxedEncoder(Box::new(InterimCodec::wideband())),
                BoxedDecoder(Box::new(InterimCodec::wideband())),
            ),
        }
    }
}

/// Any encoder, boxed, so the engine type does not depend on the codec choice.
pub struct BoxedEncoder(pub Box<dyn AudioEncoder>);

impl AudioEncoder for BoxedEncoder {
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, EncodeError> {
        self.0.encode(pcm, out)
    }
}

/// Any decoder, boxed (see [`BoxedEncoder`]).
pub struct BoxedDecoder(pub Box<dyn Decoder>);

impl Decoder for BoxedDecoder {
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<(), DecodeError> {
        self.0.decode(payload, out)
    }

    fn conceal(&mut self, out: &mut [i16]) {
        self.0.conceal(out);
    }
}

type DemoEngine = Engine<BoxedEncoder, BoxedDecoder>;

/// Options of `wacall demo`.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Codec of both endpoints.
    #[arg(long, value_enum, default_value_t = CodecChoice::Mlow)]
    pub codec: CodecChoice,
    /// WAV file the caller speaks instead of the shipped sample (converted to 16 kHz mono).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Seconds of audio each side sends, e.g. `3` or `2.5s` (default: the caller's sample).
    #[arg(long, value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Percent of forwarded media datagrams the relay drops (each direction).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Mean loss burst length in datagrams (1: independent loss).
    #[arg(long, default_value_t = 1.0)]
    pub burst: f64,
    /// Largest extra random delay per forwarded datagram, milliseconds (reorders).
    #[arg(long, default_value_t = 0)]
    pub jitter: u64,
    /// Seed of the relay's loss and jitter draws (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fixed extra one-way delay per forwarded datagram, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay: u64,
    /// Directory for caller_heard.wav and callee_heard.wav.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Write the final report as JSON to this file.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// Play what each side heard on the default output device afterwards.
    #[arg(long)]
    pub play: bool,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = if let Some(ms) = t.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(sec) = t.strip_suffix('s') {
        (sec, 1.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 3, 2.5s, 800ms)"))?;
    let secs = v * scale;
    if !(0.3..=600.0).contains(&secs) {
        return Err(format!("duration {secs} s is outside 0.3..=600 s"));
    }
    Ok(secs)
}

/// Read a WAV as 16 kHz mono: channels averaged, other rates resampled linearly.
fn load_wav<R: Read + Seek>(reader: R) -> Result<Vec<i16>, String> {
    let mut wav = hound::WavReader::new(io::BufReader::new(reader)).map_err(|e| e.to_string())?;
    let spec = wav.spec();
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => wav
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?,
        (hound::SampleFormat::Int, bits @ 8..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            wav.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?
        }
        (format, bits) => {
            return Err(format!(
                "unsupported WAV sample format {format:?} with {bits} bits"
            ));
        }
    };
    let channels = usize::from(spec.channels.max(1));
    let mono: Vec<f32> = interleaved
        .chunks(channels)
        .map(|c| c.iter().sum::<f32>() / c.len() as f32)
        .collect();
    let resampled = if spec.sample_rate == RATE_HZ {
        mono
    } else {
        if spec.sample_rate < 8000 {
            return Err(format!("sample rate {} Hz is too low", spec.sample_rate));
        }
        // Linear interpolation (no anti-alias filter): fine for a demo input.
        let step = f64::from(spec.sample_rate) / f64::from(RATE_HZ);
        let n = ((mono.len() as f64) / step) as usize;
        (0..n)
            .map(|i| {
                let x = i as f64 * step;
                let j = x as usize;
                let frac = (x - j as f64) as f32;
                let a = mono[j];
                let b = *mono.get(j + 1).unwrap_or(&a);
                a + (b - a) * frac
            })
            .collect()
    };
    if resampled.is_empty() {
        return Err("the WAV holds no samples".into());
    }
    Ok(resampled
        .into_iter()
        .map(|v| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

fn write_wav(path: &Path, samples: &[i16]) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(|e| e.to_string())?;
    for &s in samples {
        w.write_sample(s).map_err(|e| e.to_string())?;
    }
    w.finalize().map_err(|e| e.to_string())
}

/// `samples` cut or padded with silence to `len`, `len` a whole number of frames.
fn fit(mut samples: Vec<i16>, len: usize) -> Vec<i16> {
    samples.resize(len, 0);
    samples
}

/// The lag (0..=`max_lag` samples) of `heard` behind `sent` that maximises their
/// cross-correlation: a coarse search on 8× decimated signals, refined at full rate.
pub fn measure_lag(sent: &[i16], heard: &[i16], max_lag: usize) -> usize {
    const D: usize = 8;
    let decimate = |x: &[i16]| -> Vec<f64> {
        x.chunks(D)
            .map(|c| c.iter().map(|&v| f64::from(v)).sum::<f64>())
            .collect()
    };
    let (s, h) = (decimate(sent), decimate(heard));
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let coarse = (0..=max_lag / D)
        .map(|lag| (lag, dot(&s, h.get(lag..).unwrap_or(&[]))))
        .fold((0, f64::NEG_INFINITY), |b, c| if c.1 > b.1 { c } else { b })
        .0
        * D;
    let full = |lag: usize| -> f64 {
        let h = heard.get(lag..).unwrap_or(&[]);
        sent.iter()
            .zip(h)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum()
    };
    (coarse.saturating_sub(2 * D)..=(coarse + 2 * D).min(max_lag))
        .map(|lag| (lag, full(lag)))
        .fold((0, f64::NEG_INFINITY), |b, c| if c.1 > b.1 { c } else { b })
        .0
}

/// What the controller sees of one endpoint, refreshed after every round of outputs.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    allocated: bool,
    speaking_done: bool,
    speech_end: Option<Instant>,
    failure: Option<String>,
    stats: Stats,
    /// Datagram bytes sent and received so far (UDP payload).
    bytes: (u64, u64),
}

/// One call endpoint: an engine, its mic schedule and what it heard.
struct Endpoint {
    engine: Box<DemoEngine>,
    relay: SocketAddr,
    now: Instant,
    mic: Vec<i16>,
    mic_pos: usize,
    next_mic: Instant,
    mic_start: Option<Instant>,
    mic_phase: Instant,
    tx_bytes: u64,
    rx_bytes: u64,
    speech_tx_bytes: u64,
    heard: Vec<i16>,
    first_playout: Option<Instant>,
    status_at: Instant,
    snapshot: Snapshot,
    foreign_datagrams: u64,
}

impl Endpoint {
    /// The first mic frame is due [`SPEAK_DELAY`] after allocation, on the instant half a tick
    /// after the peer's playout ticks. Both engines start their playout clocks at creation,
    /// microseconds apart, which real endpoints never do; without the offset every packet
    /// would arrive at the very instant the peer plays out and scheduling noise would turn
    /// some into underruns.
    fn first_mic_due(&self) -> Instant {
        let base = (self.now + SPEAK_DELAY).total_micros();
        let phase = self.mic_phase.total_micros();
        let tick = engine::TICK.total_micros();
        let k = base.saturating_sub(phase).div_ceil(tick);
        Instant::from_micros(phase + k * tick)
    }

    fn feed_mic(&mut self, now: Instant) {
        while self.next_mic <= now && self.mic_pos < self.mic.len() {
            if self.mic_start.is_none() {
                self.mic_start = Some(self.next_mic);
            }
            let frame = &self.mic[self.mic_pos..self.mic_pos + FRAME_16K];
            self.engine.handle_input(now, Input::MicFrame(frame));
            self.mic_pos += FRAME_16K;
            self.next_mic += engine::TICK;
        }
        if self.mic_pos >= self.mic.len() && !self.snapshot.speaking_done {
            self.snapshot.speaking_done = true;
            self.snapshot.speech_end = Some(self.next_mic);
            self.next_mic = NEVER;
        }
    }

    fn sample_status(&mut self, now: Instant) {
        if now >= self.status_at {
            let s = self.engine.stats(now);
            self.snapshot.stats = s;
            self.status_at = now + Duration::from_millis(500);
        }
    }
}

impl UdpMachine for Endpoint {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.now = now;
        if from == self.relay {
            self.rx_bytes += datagram.len() as u64;
            self.snapshot.bytes = (self.tx_bytes, self.rx_bytes);
            self.engine.handle_input(now, Input::Datagram(datagram));
        } else {
            self.foreign_datagrams += 1;
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.feed_mic(now);
        self.engine.handle_input(now, Input::Timeout);
        self.sample_status(now);
    }

    fn drain(&mut self, send: &mut dyn FnMut(SocketAddr, &[u8])) -> Instant {
        loop {
            match self.engine.poll_output() {
                Output::Transmit(bytes) => {
                    self.tx_bytes += bytes.len() as u64;
                    if self.mic_start.is_some() && !self.snapshot.speaking_done {
                        self.speech_tx_bytes += bytes.len() as u64;
                    }
                    self.snapshot.bytes = (self.tx_bytes, self.rx_bytes);
                    send(self.relay, bytes)
                }
                Output::Playout(pcm) => {
                    self.first_playout.get_or_insert(self.now);
                    self.heard.extend_from_slice(pcm);
                }
                Output::Event(Event::Allocated) => {
                    self.snapshot.allocated = true;
                    self.next_mic = self.first_mic_due();
                }
                Output::Event(Event::AllocateFailed(code)) => {
                    self.snapshot.failure = Some(format!("relay refused the allocation ({code})"));
                }
                Output::Event(Event::AllocateTimedOut) => {
                    self.snapshot.failure = Some("relay allocation timed out".into());
                }
                Output::Event(Event::Stats(s)) => self.snapshot.stats = s,
                Output::Timeout(at) => return at.min(self.next_mic).min(self.status_at),
            }
        }
    }
}

/// One direction's results.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DirectionReport {
    /// Sending endpoint.
    pub from: &'static str,
    /// Receiving endpoint.
    pub to: &'static str,
    /// RTP packets the sender sent.
    pub packets_sent: u64,
    /// Authenticated audio packets the receiver got.
    pub packets_received: u64,
    /// Lost packets the receiver restored from redundancy.
    pub packets_recovered: u64,
    /// Audio the receiver concealed, milliseconds (lost, underrun, stretch).
    pub concealed_ms: u64,
    /// Of which for packets that never arrived, milliseconds.
    pub lost_ms: u64,
    /// Audio decoded from packets, milliseconds.
    pub decoded_ms: u64,
    /// Datagrams the receiver rejected (authentication, replay, malformed, …).
    pub rejected: u64,
    /// Mouth-to-ear latency (sender's mic frame to receiver's playout), milliseconds.
    pub latency_ms: f64,
    /// Mean send bitrate while speaking: every datagram's bytes (SRTP, SRTCP, STUN; no UDP/IP
    /// headers), bits per second.
    pub bitrate_bps: u32,
    /// Wideband PESQ (P.862.2 MOS-LQO) of heard against sent, after removing the latency.
    pub pesq_wb: Option<f32>,
}

/// The demo's final report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Every direction delivered audio and nothing failed.
    pub ok: bool,
    /// Codec name.
    pub codec: &'static str,
    /// Audio each side sent, milliseconds.
    pub duration_ms: u64,
    /// Relay loss, percent.
    pub loss_pct: f64,
    /// Relay jitter (largest extra delay), milliseconds.
    pub jitter_ms: u64,
    /// Caller→callee, then callee→caller.
    pub directions: Vec<DirectionReport>,
    /// What went wrong, if anything.
    pub errors: Vec<String>,
}

fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| io::Error::other(format!("host CSPRNG: {e}")))?;
    Ok(b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn status_line(t: std::time::Duration, snaps: &[Snapshot; 2], prev: &[Snapshot; 2]) -> String {
    let side = |i: usize| {
        let s = &snaps[i];
        let st = &s.stats;
        let state = if s.failure.is_some() {
            "failed"
        } else if !s.allocated {
            "allocating"
        } else if s.speaking_done {
            "done"
        } else {
            "talking"
        };
        let rtt = st.rtt_ms.map_or("-".into(), |r| format!("{r} ms"));
        let kbps = |now: u64, before: u64| (now - before) as f64 * 8.0 / 1000.0;
        let (tx, rx) = (
            kbps(s.bytes.0, prev[i].bytes.0),
            kbps(s.bytes.1, prev[i].bytes.1),
        );
        format!(
            "{}: {state} loss {:.1}% jitter {} ms rtt {rtt} tx {:.0} kbit/s rx {:.0} kbit/s concealed {} ms",
            NAMES[i],
            f64::from(st.fraction_lost) * 100.0 / 256.0,
            st.jitter_ms,
            tx,
            rx,
            st.concealed_ms,
        )
    };
    format!("[{:4.1}s] {} | {}", t.as_secs_f64(), side(0), side(1))
}

/// Run the demo; prints as it goes and returns the exit code.
pub fn run(args: DemoArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wacall demo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(call(&args)) {
        Ok(report) => finish(&args, &report),
        Err(e) => {
            eprintln!("wacall demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Write the JSON report, play if asked, and pick the exit code.
fn finish(args: &DemoArgs, report: &Report) -> ExitCode {
    let mut ok = report.ok;
    if let Some(path) = &args.report_json {
        let text = serde_json::to_string_pretty(report).expect("report serialises");
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("wacall demo: cannot write {}: {e}", path.display());
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The call itself: relay, two endpoints, talk, measure.
async fn call(args: &DemoArgs) -> io::Result<Report> {
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    let caller_sample = match &args.input {
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| bad(format!("--input {}: {e}", path.display())))?;
            load_wav(f).map_err(|e| bad(format!("--input {}: {e}", path.display())))?
        }
        None => load_wav(io::Cursor::new(CALLER_WAV)).map_err(bad)?,
    };
    let callee_sample = load_wav(io::Cursor::new(CALLEE_WAV)).map_err(bad)?;
    let duration_s = args
        .duration
        .unwrap_or(caller_sample.len() as f64 / f64::from(RATE_HZ));
    let frames = ((duration_s * f64::from(RATE_HZ)) / FRAME_16K as f64).ceil() as usize;
    let len = frames * FRAME_16K;
    let sent = [fit(caller_sample, len), fit(callee_sample, len)];
    let duration_ms = (len as u64 * 1000) / u64::from(RATE_HZ);

    if !(0.0..100.0).contains(&args.loss) {
        return Err(bad(format!("--loss {} is not in 0..100", args.loss)));
    }
    let impairment = Impairment {
        loss: args.loss / 100.0,
        mean_burst_len: args.burst,
        delay: Duration::from_millis(args.delay),
        jitter: Duration::from_millis(args.jitter),
        seed: match args.seed {
            Some(seed) => seed,
            None => u64::from_le_bytes(random_bytes()?),
        },
    };
    impairment.validate().map_err(|e| bad(format!("{e:?}")))?;

    let relay_key = hex(&random_bytes::<16>()?);
    let relay_token = random_bytes::<8>()?.to_vec();
    let relay_config = relay::Config {
        impairment,
        ..relay::Config::new(relay_key.clone().into_bytes(), vec![relay_token.clone()])
    };
    let relay = relay::udp::spawn_loopback(relay_config).await?;
    let relay_addr = relay.local_addr();
    let call_key = CallKey::new(random_bytes()?);
    let call_id = hex(&random_bytes::<16>()?).to_uppercase();
    let ids = IDS.map(|s| ParticipantId::normalize(s).expect("valid participant id"));
    println!(
        "wacall demo: relay on {relay_addr}, codec {}, {:.2} s of speech each way, loss {}%, jitter 0..{} ms, delay {} ms",
        args.codec.name(),
        duration_ms as f64 / 1000.0,
        args.loss,
        args.jitter,
        args.delay
    );

    let clock = HostClock::new();
    let wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut sockets = Vec::new();
    let mut endpoints = Vec::new();
    for side in 0..2 {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let config = Config {
            call_id: &call_id,
            call_key: &call_key,
            own_id: &ids[side],
            peer_id: &ids[1 - side],
            relay_token: &relay_token,
            relay_key: relay_key.as_bytes(),
            relay_endpoint: relay_addr,
            audio: args.codec.audio_format(),
            srtp_tag_len_bytes: 4,
            wall_clock_unix_ms: wall_ms,
            random: random_bytes()?,
        };
        let (enc, dec) = args.codec.make();
        let now = clock.now();
        let engine = Engine::new(now, &config, enc, dec)
            .map_err(|e| io::Error::other(format!("engine configuration: {e:?}")))?;
        println!(
            "  {} {} on {}",
            NAMES[side],
            IDS[side],
            socket.local_addr()?
        );
        sockets.push(socket);
        endpoints.push(Endpoint {
            engine: Box::new(engine),
            relay: relay_addr,
            now,
            mic: sent[side].clone(),
            mic_pos: 0,
            next_mic: NEVER,
            mic_start: None,
            mic_phase: now,
            tx_bytes: 0,
            rx_bytes: 0,
            speech_tx_bytes: 0,
            heard: Vec::new(),
            first_playout: None,
            status_at: now,
            snapshot: Snapshot::default(),
            foreign_datagrams: 0,
        });
    }
    let mut callee = endpoints.pop().expect("two endpoints");
    let mut caller = endpoints.pop().expect("two endpoints");
    let half_tick = Duration::from_micros(engine::TICK.total_micros() / 2);
    (caller.mic_phase, callee.mic_phase) = (callee.now + half_tick, caller.now + half_tick);

    let shared = Rc::new(RefCell::new([Snapshot::default(), Snapshot::default()]));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let publish = |i: usize| {
        let shared = Rc::clone(&shared);
        move |m: &Endpoint, _: &DriveStats| shared.borrow_mut()[i] = m.snapshot.clone()
    };
    let tail = std::time::Duration::from_millis(400 + args.delay + 2 * args.jitter);
    let controller = async {
        let started = std::time::Instant::now();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(50));
        let mut prev: [Snapshot; 2] = Default::default();
        let mut next_status = started + std::time::Duration::from_secs(1);
        let limit = ALLOCATE_LIMIT
            + std::time::Duration::from_millis(duration_ms)
            + tail
            + std::time::Duration::from_secs(5);
        let outcome = loop {
            tick.tick().await;
            let snaps = shared.borrow().clone();
            let host_now = std::time::Instant::now();
            if host_now >= next_status {
                println!("{}", status_line(host_now - started, &snaps, &prev));
                prev = snaps.clone();
                next_status += std::time::Duration::from_secs(1);
            }
            if let Some(f) = snaps.iter().find_map(|s| s.failure.clone()) {
                break Err(f);
            }
            if snaps.iter().any(|s| !s.allocated) && host_now - started > ALLOCATE_LIMIT {
                break Err("an endpoint was not allocated within 5 s".to_string());
            }
            let ends: Option<Vec<Instant>> = snaps.iter().map(|s| s.speech_end).collect();
            if let Some(ends) = ends {
                let last = ends.into_iter().max().expect("two sides");
                if clock.now() >= last + Duration::from_micros(tail.as_micros() as u64) {
                    break Ok(());
                }
            }
            if host_now - started > limit {
                break Err("the call did not finish in time".to_string());
            }
        };
        let _ = stop_tx.send(true);
        outcome
    };
    let (r0, r1, outcome) = tokio::join!(
        drive(
            &sockets[0],
            &mut caller,
            &clock,
            stop(stop_rx.clone()),
            publish(0)
        ),
        drive(
            &sockets[1],
            &mut callee,
            &clock,
            stop(stop_rx.clone()),
            publish(1)
        ),
        controller,
    );
    let relay_status = relay.shutdown().await?;
    let mut errors = Vec::new();
    for (name, r) in NAMES.iter().zip([r0, r1]) {
        match r {
            Ok(d) if d.send_errors > 0 => {
                errors.push(format!("{name}: {} datagrams not sent", d.send_errors))
            }
            Ok(_) => {}
            Err(e) => errors.push(format!("{name}: socket error {e}")),
        }
    }
    if let Err(e) = outcome {
        errors.push(e);
    }
    let end = clock.now();
    let final_stats = [caller.engine.stats(end), callee.engine.stats(end)];
    let eps = [&caller, &callee];

    let mut directions = Vec::new();
    for (from, to) in [(0usize, 1usize), (1, 0)] {
        let (tx, rx) = (eps[from], eps[to]);
        let heard = aligned_heard(tx.mic_start, rx.first_playout, &rx.heard);
        let max_lag = MAX_LAG_MS * RATE_HZ as usize / 1000;
        let (latency_ms, pesq_wb) = if heard.is_empty() || final_stats[to].decoded_ms == 0 {
            (f64::NAN, None)
        } else {
            let lag = measure_lag(&sent[from], &heard, max_lag);
            let mut deg = heard.get(lag..).unwrap_or(&[]).to_vec();
            deg.resize(sent[from].len(), 0);
            let pesq = pesq::pesq_wb(&sent[from], &deg)
                .map_err(|e| errors.push(format!("PESQ {}→{}: {e}", NAMES[from], NAMES[to])))
                .ok();
            (lag as f64 * 1000.0 / f64::from(RATE_HZ), pesq)
        };
        let bitrate_bps = (tx.speech_tx_bytes * 8 * 1000 / duration_ms.max(1)) as u32;
        let s = &final_stats[to];
        if s.decoded_ms == 0 {
            errors.push(format!("{}→{}: no audio delivered", NAMES[from], NAMES[to]));
        }
        directions.push(DirectionReport {
            from: NAMES[from],
            to: NAMES[to],
            packets_sent: final_stats[from].packets_sent,
            packets_received: s.packets_received,
            packets_recovered: s.packets_recovered,
            concealed_ms: s.concealed_ms,
            lost_ms: s.lost_ms,
            decoded_ms: s.decoded_ms,
            rejected: s.rejects.datagrams(),
            latency_ms,
            bitrate_bps,
            pesq_wb,
        });
    }

    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir)?;
        for (i, ep) in eps.iter().enumerate() {
            let peer = 1 - i;
            let heard = aligned_heard(eps[peer].mic_start, ep.first_playout, &ep.heard);
            let path = dir.join(format!("{}_heard.wav", NAMES[i]));
            write_wav(&path, &heard).map_err(io::Error::other)?;
            println!("wrote {}", path.display());
        }
    }

    let report = Report {
        ok: errors.is_empty(),
        codec: args.codec.name(),
        duration_ms,
        loss_pct: args.loss,
        jitter_ms: args.jitter,
        directions,
        errors,
    };
    print_report(&report, &relay_status);
    if args.play {
        play(&[
            (
                "caller heard",
                &aligned_heard(callee.mic_start, caller.first_playout, &caller.heard),
            ),
            (
                "callee heard",
                &aligned_heard(caller.mic_start, callee.first_playout, &callee.heard),
            ),
        ]);
    }
    Ok(report)
}

/// What a receiver heard on the sender's timeline: sample 0 is the instant the sender's first
/// mic frame was due (earlier playout is cut, a later start is padded with silence).
fn aligned_heard(
    mic_start: Option<Instant>,
    first_playout: Option<Instant>,
    heard: &[i16],
) -> Vec<i16> {
    let (Some(t0), Some(tp)) = (mic_start, first_playout) else {
        return Vec::new();
    };
    let per_us = f64::from(RATE_HZ) / 1e6;
    if tp >= t0 {
        let pad = ((tp - t0).total_micros() as f64 * per_us) as usize;
        let mut v = vec![0; pad];
        v.extend_from_slice(heard);
        v
    } else {
        let cut = ((t0 - tp).total_micros() as f64 * per_us) as usize;
        heard.get(cut..).unwrap_or(&[]).to_vec()
    }
}

fn print_report(report: &Report, relay: &relay::udp::Status) {
    println!();
    println!("== wacall demo report ({} codec) ==", report.codec);
    for d in &report.directions {
        println!(
            "{:>6} → {:<6}  sent {} pkts, received {}, recovered {}, concealed {} ms (lost {} ms), decoded {} ms, rejected {}",
            d.from,
            d.to,
            d.packets_sent,
            d.packets_received,
            d.packets_recovered,
            d.concealed_ms,
            d.lost_ms,
            d.decoded_ms,
            d.rejected
        );
        println!(
            "                 mouth-to-ear {:.1} ms, bitrate {:.1} kbit/s, PESQ-WB {}",
            d.latency_ms,
            f64::from(d.bitrate_bps) / 1000.0,
            d.pesq_wb.map_or("n/a".into(), |p| format!("{p:.2}"))
        );
    }
    let r = &relay.relay;
    println!(
        "relay: {} allocations, forwarded {} datagrams ({} RTP, {} RTCP), dropped {} by --loss",
        r.allocations,
        r.forwarded_packets,
        r.forwarded_rtp,
        r.forwarded_rtcp,
        r.rejected.impairment_loss
    );
    if report.errors.is_empty() {
        println!("result: OK");
    } else {
        for e in &report.errors {
            println!("error: {e}");
        }
        println!("result: FAILED");
    }
}

/// Play the heard audio (no audio output support in this build).
#[cfg(not(feature = "play"))]
fn play(_tracks: &[(&str, &[i16])]) {
    println!(
        "--play: nothing played: this build has no audio output; rebuild with \
         `--features play` (on Linux that needs libasound2-dev)"
    );
}

#[cfg(feature = "play")]
fn play(tracks: &[(&str, &[i16])]) {
    if let Err(e) = crate::playback::play(tracks) {
        println!("--play: nothing played: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_search_finds_a_known_delay() {
        let sent = load_wav(io::Cursor::new(CALLER_WAV)).unwrap();
        for lag in [0usize, 7, 1000, 2345] {
            let mut heard = vec![0i16; lag];
            heard.extend_from_slice(&sent);
            assert_eq!(measure_lag(&sent, &heard, 4000), lag);
        }
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_seconds("3"), Ok(3.0));
        assert_eq!(parse_seconds("2.5s"), Ok(2.5));
        assert_eq!(parse_seconds("800ms"), Ok(0.8));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("abc").is_err());
    }
}
