//! The `gemj-conformance` command: checks a live server against the official GA4GH schemas and
//! prints a report. Exit code 0 when every check passes, 1 when any fails, 2 on a usage or setup
//! error (bad URL, a schemas folder that cannot be opened, schemas that do not compile).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use gemj_conformance::Suite;
use gemj_schemas::SchemaSet;

/// Check a live server against the official GA4GH specifications.
#[derive(Debug, Parser)]
#[command(name = "gemj-conformance", version)]
struct Args {
    /// Base URL of the server, e.g. http://127.0.0.1:8080 (`/service-info` is under it).
    #[arg(long)]
    base_url: String,
    /// A folder of newer official schemas, laid out as the project's `schemas/official` (default:
    /// the official schemas shipped with the project, compiled into this binary).
    #[arg(long, value_name = "DIR")]
    schemas: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Run only this suite (repeatable; default: every suite).
    #[arg(long = "suite", value_name = "NAME")]
    suites: Vec<Suite>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("gemj-conformance: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the suites; `Ok(true)` when every check passed.
fn run(args: &Args) -> anyhow::Result<bool> {
    let base_url = gemj_conformance::base_url(&args.base_url).context("checking --base-url")?;
    let schemas = match &args.schemas {
        Some(dir) => SchemaSet::open_folder(dir)
            .with_context(|| format!("opening the schemas in {}", dir.display()))?,
        None => SchemaSet::embedded(),
    };
    let suites = if args.suites.is_empty() {
        Suite::ALL.to_vec()
    } else {
        args.suites.clone()
    };
    gemj_conformance::preflight(&schemas, &suites).context("loading the official schemas")?;
    let report = gemj_conformance::run(&base_url, &schemas, &suites);
    if args.json {
        println!("{}", report.render_json(&base_url));
    } else {
        print!("{}", report.render_text());
    }
    Ok(report.failed() == 0)
}
