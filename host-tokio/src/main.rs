//! `wacall`: the command-line front end of the tokio host.

use clap::{Parser, Subcommand};

/// wacall — WhatsApp 1:1 voice calls from a sans-IO Rust core.
///
/// The call commands (`demo`, `pair`, `call`, `answer`) arrive with the media engine.
#[derive(Parser, Debug)]
#[command(name = "wacall", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// The commands built so far.
#[derive(Subcommand, Debug)]
enum Command {
    /// Run a local relay that stands in for a WhatsApp relay on this machine.
    Relay(wacall_tokio::relay::cli::RelayArgs),
}

fn main() -> std::io::Result<()> {
    match Cli::parse().command {
        Some(Command::Relay(args)) => wacall_tokio::relay::cli::run(args),
        None => {
            println!(
                "wacall {}: `wacall relay --help` runs a local relay; the call commands are not \
                 built yet; see README.md.",
                env!("CARGO_PKG_VERSION")
            );
            Ok(())
        }
    }
}
