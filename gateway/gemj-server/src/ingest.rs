//! `gemj-gateway ingest`: reads the paths, runs the core ingest with a progress bar on a
//! terminal (indicatif) or plain progress lines otherwise, prints a summary and writes the JSON
//! report.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use gemj_ingest::genomes::GenomeOptions;
use gemj_ingest::sources::{InputFile, Kind, Progress, ingest_files, ingest_ssmix2_tree};
use gemj_ingest::{ApplyOptions, IngestReport};
use gemj_model::{DatasetId, InstitutionId};

use crate::{Config, ensure_writable_dir, ingest_readers, open_store};

/// An error in the command's input (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// What `gemj-gateway ingest` was asked.
#[derive(Debug)]
pub struct IngestRequest<'a> {
    /// The kind's name.
    pub kind: &'a str,
    /// The input paths.
    pub paths: &'a [PathBuf],
    /// Store nothing.
    pub dry_run: bool,
    /// Where to write the JSON report.
    pub report: Option<&'a Path>,
    /// The submitting institution.
    pub institution: Option<&'a str>,
    /// The dataset of genome files.
    pub dataset: Option<&'a str>,
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Runs an ingest; the exit code is 0 when it ran (the report says what was quarantined and
/// why: SS-MIX2 trees always hold superseded files).
///
/// # Errors
/// [`UsageError`] for bad arguments; store and I/O failures.
pub async fn run(config: &Config, request: &IngestRequest<'_>) -> anyhow::Result<ExitCode> {
    let kind = Kind::parse(request.kind).ok_or_else(|| usage("unknown input kind"))?;
    let institution = request
        .institution
        .map(InstitutionId::parse)
        .transpose()
        .map_err(|e| usage(format!("--institution: {e}")))?;
    for p in request.paths {
        // A genome file may be an object of the configured storage, checked when it is read.
        let stored = kind == Kind::Genome && p.to_string_lossy().contains("://");
        if !stored && !p.exists() {
            return Err(usage(format!("{} does not exist", p.display())));
        }
    }
    ensure_writable_dir(&config.data_dir)?;
    let store = open_store(config).await?;
    let readers = ingest_readers(config)?;
    let options = ApplyOptions {
        institution,
        dry_run: request.dry_run,
        // The operator's command may touch any participant.
        own_participants_only: false,
    };
    let progress = Bar::new(kind.as_str());
    let started = Instant::now();
    let report = match kind {
        Kind::Ssmix2 => {
            let mut report = IngestReport::new(kind.as_str(), request.dry_run);
            for root in request.paths {
                let r = ingest_ssmix2_tree(&store, root, &readers, &options, &progress).await?;
                report.absorb(r);
            }
            report
        }
        Kind::Genome => {
            let dataset = request
                .dataset
                .ok_or_else(|| usage("genome files need --dataset"))
                .and_then(|d| DatasetId::parse(d).map_err(|e| usage(format!("--dataset: {e}"))))?;
            let objects = crate::open_objects(config).await?;
            let work = tempfile::Builder::new()
                .prefix("ingest-")
                .tempdir_in(&config.data_dir)
                .context("cannot make a work folder in the data folder")?;
            let genome = GenomeOptions {
                dataset,
                dry_run: request.dry_run,
                work_dir: work.path().to_owned(),
            };
            // Objects of the configured storage are named by their URI; each is resolved
            // before anything is read.
            enum Target<'p> {
                File(&'p std::path::Path),
                Stored(gemj_objects::ObjectKey),
            }
            let mut targets = Vec::with_capacity(request.paths.len());
            for path in request.paths {
                let text = path.to_string_lossy();
                if !text.contains("://") {
                    targets.push(Target::File(path));
                    continue;
                }
                let key = objects.key_from_uri(&text).ok_or_else(|| {
                    usage(format!(
                        "{text} is not an object of the configured storage ({})",
                        objects.location()
                    ))
                })?;
                if !objects.exists(&key).await? {
                    return Err(usage(format!("{text} is not in the object storage")));
                }
                targets.push(Target::Stored(key));
            }
            let mut report = IngestReport::new(kind.as_str(), request.dry_run);
            progress.begin(u64::try_from(targets.len()).unwrap_or(u64::MAX));
            for target in targets {
                let ingested = match target {
                    Target::File(path) => {
                        gemj_ingest::genomes::ingest_file(
                            &store,
                            &*objects,
                            path,
                            &genome,
                            &mut report,
                        )
                        .await
                    }
                    Target::Stored(key) => {
                        gemj_ingest::genomes::ingest_object(
                            &store,
                            &*objects,
                            &key,
                            &genome,
                            &mut report,
                        )
                        .await
                    }
                };
                ingested.map_err(|e| match e {
                    gemj_core::CoreError::InvalidInput(m) => usage(m),
                    e => anyhow::Error::new(e),
                })?;
                progress.advance(1);
            }
            progress.finish();
            report
        }
        _ => {
            let mut files = Vec::with_capacity(request.paths.len());
            for path in request.paths {
                let bytes = tokio::fs::read(path)
                    .await
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push(InputFile { name, bytes });
            }
            ingest_files(&store, kind, files, &readers, &options, &progress)
                .await
                .map_err(|e| match e {
                    gemj_core::CoreError::InvalidInput(m) => usage(m),
                    e => anyhow::Error::new(e),
                })?
        }
    };
    let elapsed = started.elapsed();
    if let Some(path) = request.report {
        let json = serde_json::to_vec_pretty(&report).context("cannot render the report")?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    print_summary(&report, elapsed);
    Ok(ExitCode::SUCCESS)
}

fn print_summary(report: &IngestReport, elapsed: Duration) {
    let t = &report.totals;
    println!(
        "{}{}: {} files, {} records in {:.1} s: {} created, {} merged, {} unchanged, {} deleted, {} quarantined",
        report.kind,
        if report.dry_run {
            " (dry run: nothing stored)"
        } else {
            ""
        },
        report.files,
        t.records,
        elapsed.as_secs_f64(),
        t.created,
        t.merged,
        t.unchanged,
        t.deleted,
        t.quarantined
    );
    for (kind, c) in &report.by_kind {
        println!(
            "  {kind:<12} {:>7} records: {} created, {} merged, {} unchanged, {} deleted, {} quarantined",
            c.records, c.created, c.merged, c.unchanged, c.deleted, c.quarantined
        );
    }
    if let Some(g) = &report.genomes {
        println!(
            "  variants: {} records read; {} created, {} merged, {} unchanged, {} without carriers; {} objects registered, {} indexes built",
            g.variant_records,
            g.variants_created,
            g.variants_merged,
            g.variants_unchanged,
            g.variants_without_carriers,
            g.objects_registered,
            g.indexes_built
        );
    }
    for q in report.quarantined.iter().take(20) {
        println!(
            "  quarantined: {} {} {}: {}",
            q.file.as_deref().unwrap_or("-"),
            q.position.as_deref().unwrap_or("-"),
            q.kind,
            q.reason
        );
    }
    if report.quarantined.len() > 20 {
        println!(
            "  ... and {} more (see the report)",
            report.quarantined.len() - 20
        );
    }
    if !report.diagnostics.is_empty() {
        println!(
            "  {} diagnostics (see the report)",
            report.diagnostics.len()
        );
    }
}

/// A progress bar on a terminal, plain lines (at most every 5 seconds) otherwise.
struct Bar {
    what: String,
    bar: Option<indicatif::ProgressBar>,
    plain: Mutex<PlainState>,
}

#[derive(Default)]
struct PlainState {
    total: u64,
    done: u64,
    last: Option<Instant>,
}

impl Bar {
    fn new(what: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} files ({per_sec}, eta {eta})",
            ) {
                bar.set_style(style);
            }
            bar.set_message(what.to_owned());
            bar
        });
        Self {
            what: what.to_owned(),
            bar,
            plain: Mutex::new(PlainState::default()),
        }
    }
}

impl Progress for Bar {
    fn begin(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        } else if let Ok(mut s) = self.plain.lock() {
            s.total = total;
            s.last = Some(Instant::now());
            eprintln!("{}: {total} files to read", self.what);
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        } else if let Ok(mut s) = self.plain.lock() {
            s.done += n;
            if s.last.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                s.last = Some(Instant::now());
                eprintln!("{}: {}/{} files", self.what, s.done, s.total);
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        } else if let Ok(s) = self.plain.lock() {
            eprintln!("{}: {}/{} files, done", self.what, s.done, s.total);
        }
    }
}
