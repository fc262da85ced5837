//! `wacall`: the command-line front end of the tokio host.

use clap::Parser;

/// wacall — WhatsApp 1:1 voice calls from a sans-IO Rust core.
///
/// The call commands (`demo`, `relay`, `pair`, `call`, `answer`) arrive with the media engine;
/// this build carries the protocol core only.
#[derive(Parser, Debug)]
#[command(name = "wacall", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!(
        "wacall {}: no call commands are built yet; see README.md.",
        env!("CARGO_PKG_VERSION")
    );
}
