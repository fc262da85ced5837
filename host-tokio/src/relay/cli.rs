//! `wacall relay`: the local relay as a command.

use std::net::SocketAddr;

use clap::Args;
use wacall_core::time::Duration;

use super::udp::{self, Status};
use super::{Config, Event, Impairment, ImpairmentError};

/// Run a local stand-in for a WhatsApp relay: answers allocate requests whose integrity verifies
/// under `--key`, pairs the two allocations of each `--token` and forwards media between them.
#[derive(Args, Debug)]
pub struct RelayArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:3480")]
    pub listen: SocketAddr,
    /// The relay `<key>` text; clients key MESSAGE-INTEGRITY with these exact bytes.
    #[arg(long)]
    pub key: String,
    /// A relay token (hex) that may allocate; the two allocations of one token form a call.
    #[arg(long = "token", value_name = "HEX", required = true, value_parser = parse_hex)]
    pub tokens: Vec<Vec<u8>>,
    /// Milliseconds an allocation lives without an allocate or ping refreshing it.
    #[arg(long, default_value_t = 5000)]
    pub idle_timeout_ms: u64,
    /// Milliseconds between status lines.
    #[arg(long, default_value_t = 1000)]
    pub status_interval_ms: u64,
    /// Milliseconds between the relay's consent checks (binding requests) to each client; 0 sends
    /// none.
    #[arg(long, default_value_t = 0)]
    pub consent_interval_ms: u64,
    /// Percentage of forwarded media to lose (0 to below 100).
    #[arg(long, value_name = "PERCENT", default_value_t = 0.0)]
    pub loss: f64,
    /// Mean length of a loss burst, in packets (1: independent loss).
    #[arg(long, value_name = "PACKETS", default_value_t = 1.0)]
    pub burst: f64,
    /// Fixed extra delay of forwarded media, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// Largest random extra delay of forwarded media, in milliseconds (packets may reorder).
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Seed of the impairment's random stream.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl RelayArgs {
    /// The impairment these options ask for.
    pub fn impairment(&self) -> Result<Impairment, ImpairmentError> {
        let imp = Impairment {
            loss: self.loss / 100.0,
            mean_burst_len: self.burst,
            delay: Duration::from_millis(self.delay_ms),
            jitter: Duration::from_millis(self.jitter_ms),
            seed: self.seed,
        };
        imp.validate()?;
        Ok(imp)
    }
}

/// Parse a relay token given as hex digits (an optional `0x` prefix, even length).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text).as_bytes();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return Err(String::from(
            "expected an even, non-zero number of hex digits",
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("not hex: {:?}", String::from_utf8_lossy(pair)))
        })
        .collect()
}

/// One status line.
pub fn status_line(s: &Status) -> String {
    let r = &s.relay;
    format!(
        "allocations {} (calls {}) | forwarded {} pkts {} B (rtp {}, rtcp {}) | pings {} bindings {} consent {}/{} | \
         allocated {} refreshed {} expired {} | held {} | rejected {}{}",
        r.active_allocations,
        r.paired_calls,
        r.forwarded_packets,
        r.forwarded_bytes,
        r.forwarded_rtp,
        r.forwarded_rtcp,
        r.pings,
        r.bindings,
        r.consent_answers,
        r.consent_checks,
        r.allocations,
        r.refreshes,
        r.expired,
        r.held,
        r.rejected.total(),
        if s.send_errors > 0 {
            format!(" | send errors {}", s.send_errors)
        } else {
            String::new()
        },
    )
}

/// The rejection counters, one `reason count` pair each, non-zero ones only.
pub fn rejection_breakdown(s: &Status) -> String {
    let r = &s.relay.rejected;
    let parts: Vec<String> = [
        ("malformed", r.malformed),
        ("missing-integrity", r.missing_integrity),
        ("bad-integrity", r.bad_integrity),
        ("missing-token", r.missing_token),
        ("unknown-token", r.unknown_token),
        ("allocation-mismatch", r.allocation_mismatch),
        ("call-full", r.call_full),
        ("unallocated-media", r.unallocated),
        ("unpaired-media", r.unpaired),
        ("unexpected-stun", r.unexpected_stun),
        ("output-overflow", r.output_overflow),
        ("impairment-loss", r.impairment_loss),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{name} {n}"))
    .collect();
    if parts.is_empty() {
        String::from("none")
    } else {
        parts.join(", ")
    }
}

/// Run the relay until Ctrl-C, printing events, a status line every interval and a summary.
pub fn run(args: RelayArgs) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let impairment = args.impairment().map_err(std::io::Error::other)?;
        let config = Config {
            idle_timeout: Duration::from_millis(args.idle_timeout_ms),
            impairment,
            consent_interval: (args.consent_interval_ms > 0)
                .then(|| Duration::from_millis(args.consent_interval_ms)),
            ..Config::new(args.key.into_bytes(), args.tokens)
        };
        let tokens = config.tokens.len();
        if impairment.is_active() {
            println!(
                "impairing forwarded media: loss {}% (mean burst {}), delay {} ms + jitter 0..{} ms, seed {}",
                args.loss, args.burst, args.delay_ms, args.jitter_ms, args.seed
            );
        }
        let mut relay = udp::spawn(args.listen, config).await?;
        println!(
            "wacall relay listening on {} ({tokens} token{}); Ctrl-C stops it",
            relay.local_addr(),
            if tokens == 1 { "" } else { "s" }
        );
        let mut events = relay.take_events().expect("events not taken yet");
        let period = std::time::Duration::from_millis(args.status_interval_ms.max(1));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tick.tick().await;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                r = &mut ctrl_c => { r?; break; }
                Some(e) = events.recv() => println!("{}", describe(&e)),
                _ = tick.tick() => println!("{}", status_line(&relay.status())),
            }
        }
        let last = relay.shutdown().await?;
        println!("summary: {}", status_line(&last));
        println!(
            "summary: {} datagrams in ({} B); rejected: {}",
            last.relay.datagrams_in,
            last.relay.bytes_in,
            rejection_breakdown(&last)
        );
        Ok(())
    })
}

fn describe(e: &Event) -> String {
    match e {
        Event::Allocated { from, token_index } => {
            format!("allocated {from} on token #{token_index}")
        }
        Event::Paired {
            token_index,
            first,
            second,
        } => format!("call on token #{token_index}: {first} <-> {second}"),
        Event::Expired { addr, token_index } => {
            format!("expired {addr} on token #{token_index} (no refresh)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Wrapper {
        #[command(flatten)]
        relay: RelayArgs,
    }

    fn parse(args: &[&str]) -> Result<RelayArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("relay").chain(args.iter().copied()))
            .map(|w| w.relay)
    }

    #[test]
    fn options_become_a_configuration() {
        let a = parse(&[
            "--key",
            "a2V5",
            "--token",
            "0102",
            "--token",
            "ff",
            "--loss",
            "20",
            "--burst",
            "3",
            "--jitter-ms",
            "100",
        ])
        .unwrap();
        assert_eq!(a.listen, "127.0.0.1:3480".parse().unwrap());
        assert_eq!(a.tokens, [vec![1, 2], vec![0xFF]]);
        let imp = a.impairment().unwrap();
        assert_eq!(imp.loss, 0.2);
        assert_eq!(imp.mean_burst_len, 3.0);
        assert_eq!(imp.jitter, Duration::from_millis(100));
        assert_eq!(imp.delay, Duration::ZERO);
        assert!(parse(&["--key", "k"]).is_err(), "a token is required");
        assert!(parse(&["--token", "01"]).is_err(), "a key is required");
        assert!(parse(&["--key", "k", "--token", "0g"]).is_err());
        let full = parse(&["--key", "k", "--token", "01", "--loss", "100"]).unwrap();
        assert_eq!(full.impairment(), Err(ImpairmentError::Loss));
    }

    #[test]
    fn tokens_parse_from_hex() {
        assert_eq!(parse_hex("a1B2"), Ok(vec![0xA1, 0xB2]));
        assert_eq!(parse_hex("0x0001ff"), Ok(vec![0x00, 0x01, 0xFF]));
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex("é").is_err());
    }
}
