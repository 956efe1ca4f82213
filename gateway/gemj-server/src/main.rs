//! The `gemj-gateway` binary.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, not the system's malloc: under load glibc's malloc and free were about a quarter of
/// the gateway's CPU (docs/PERFORMANCE.md, "Copies, hashes and allocations").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    gemj_server::cli::main(gemj_server::cli::Cli::parse())
}
