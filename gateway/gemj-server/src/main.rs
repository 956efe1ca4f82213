//! The `gemj-gateway` binary.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    gemj_server::cli::main(gemj_server::cli::Cli::parse())
}
