//! The `gemj-gateway` binary.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: under load glibc's malloc took a fifth of the
/// gateway's CPU (docs/PERFORMANCE.md, "The allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    gemj_server::cli::main(gemj_server::cli::Cli::parse())
}
