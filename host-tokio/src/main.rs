//! `wacall`: the command-line front end of the tokio host.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// wacall — WhatsApp 1:1 voice calls from a sans-IO Rust core.
#[derive(Parser, Debug)]
#[command(name = "wacall", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// The commands built so far.
#[derive(Subcommand, Debug)]
enum Command {
    /// A complete call on this machine: local relay, caller and callee on 127.0.0.1, speech both
    /// ways, a live status line and a measured report.
    Demo(wacall_tokio::demo::DemoArgs),
    /// Run a local relay that stands in for a WhatsApp relay on this machine.
    Relay(wacall_tokio::relay::cli::RelayArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Command::Demo(args)) => wacall_tokio::demo::run(args),
        Some(Command::Relay(args)) => match wacall_tokio::relay::cli::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wacall relay: {e}");
                ExitCode::FAILURE
            }
        },
        None => {
            println!(
                "wacall {}: `wacall demo` runs a complete call on this machine, `wacall relay \
                 --help` a local relay; see README.md.",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
    }
}
