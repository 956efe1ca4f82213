//! The `gemj-gateway` command line: `serve`, `demo`, `migrate`, `print-default-config`,
//! `audit verify`, `ingest` and `export phenopacket`. Bad input (configuration, database URL, data folder) prints one line on
//! stderr and exits with code 2; nothing is half-written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gemj_demo::{self as demo, DemoOptions};

use crate::config::{Config, Overrides};
use crate::{Gateway, endpoints, ensure_writable_dir, open_store, telemetry};

/// The GeMJ gateway: GA4GH and HL7 FHIR access to Japan's national whole-genome program.
#[derive(Debug, Parser)]
#[command(name = "gemj-gateway", version, about)]
pub struct Cli {
    /// TOML configuration file (layered over the defaults, under GEMJ_* variables and flags).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Data folder [default: ./gemj-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gateway.
    Serve {
        /// Generate the synthetic demo cohort into the data folder first, if it has none.
        #[arg(long)]
        demo: bool,
    },
    /// Generate the synthetic demo cohort into a data folder.
    Demo {
        /// The data folder to create the cohort in.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Participants.
        #[arg(long)]
        participants: Option<usize>,
        /// Seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Mean read depth of the per-participant BAM/CRAM.
        #[arg(long)]
        coverage: Option<f64>,
    },
    /// Apply the store's migrations.
    Migrate,
    /// Print the default configuration as TOML.
    PrintDefaultConfig,
    /// The demo passport broker (demo mode only).
    Passport {
        /// The passport command.
        #[command(subcommand)]
        command: PassportCommand,
    },
    /// The demo institutions (demo mode only).
    Institution {
        /// The institution command.
        #[command(subcommand)]
        command: InstitutionCommand,
    },
    /// Audit log tools.
    Audit {
        /// The audit command.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Ingest institutions' files into the store: `ssmix2` (a standard_root tree), `fhir`
    /// (transaction bundles), `redcap` (data dictionary and raw record export), `odm`,
    /// `biobank` (manifests) or `genome` (BAM, CRAM, VCF, BCF; needs --dataset). Every record
    /// ends created, merged, unchanged, deleted or quarantined with its reason; re-running the
    /// same input changes nothing. Exit code 0 when the ingest ran (the report lists what was
    /// quarantined and why), 1 when the store failed, 2 on bad input.
    Ingest {
        /// The input kind.
        #[arg(value_parser = ["ssmix2", "fhir", "redcap", "odm", "biobank", "genome"])]
        kind: String,
        /// Input files (SS-MIX2: the standard_root folder). Genome files may also be objects
        /// already in the configured object storage (`s3://bucket/prefix/key`): they are
        /// registered where they are.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Read, check and report; store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the JSON report to this file.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// The submitting institution (10-digit code): owner of new participants whose source
        /// names none, and of consent events.
        #[arg(long)]
        institution: Option<String>,
        /// The dataset genome files join (kind `genome`).
        #[arg(long)]
        dataset: Option<String>,
    },
    /// Export records.
    Export {
        /// The export command.
        #[command(subcommand)]
        command: ExportCommand,
    },
}

/// Export subcommands.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Print a participant as a GA4GH Phenopacket v2 (JSON), as the operator. The read goes
    /// through the access policy like `GET /phenopackets/v2/{id}`: it is audited as
    /// `operator:<name>`, and a withdrawn participant is not exported.
    Phenopacket {
        /// The participant's id.
        id: String,
        /// Who runs the export, for the audit trail (default: the login name, `$USER`).
        #[arg(long)]
        operator: Option<String>,
    },
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chains of the audit log and the consent events, including every
    /// sealed audit segment fetched from the archive; report the first broken link. Exit code
    /// 0 when intact, 1 when broken.
    Verify,
    /// Seal the audit rows older than a date into segments in the archive (`audit.archive_url`),
    /// one per calendar month (UTC), and remove them from the database. They stay verifiable
    /// (`audit verify`) and keep answering the participant access report.
    Archive {
        /// Seal rows whose time is before this: a date (`2026-10-01`, midnight UTC) or an
        /// RFC 3339 time.
        #[arg(long)]
        before: String,
    },
}

/// Institution subcommands.
#[derive(Debug, Subcommand)]
pub enum InstitutionCommand {
    /// Print a token signed by a demo institution's key (trusted only by `serve --demo` on the
    /// same data folder and address), for the consent, recontact-inbox and participant-audit
    /// APIs.
    Token {
        /// The demo institution's id (9999000001, 9999000002 or 9999000003).
        #[arg(long)]
        institution: String,
        /// The subject at the institution (a person or system).
        #[arg(long, default_value = "consent-system")]
        subject: String,
        /// Lifetime in seconds (at most 3600).
        #[arg(long, default_value_t = 300)]
        ttl: u64,
    },
}

/// Passport subcommands.
#[derive(Debug, Subcommand)]
pub enum PassportCommand {
    /// Print a passport signed by the local demo broker (trusted only by `serve --demo` on the
    /// same data folder and address): a ResearcherStatus visa, and a ControlledAccessGrants visa
    /// per `--dataset`. With `--purpose`, also records a demo approval of the data-use committee
    /// for that researcher, purpose and datasets.
    Issue {
        /// The researcher's subject.
        #[arg(long)]
        subject: String,
        /// A dataset to grant (repeatable).
        #[arg(long)]
        dataset: Vec<String>,
        /// The approved research purpose as DUO terms (repeatable), e.g. DUO:0000006.
        #[arg(long)]
        purpose: Vec<String>,
        /// For disease-specific purposes, the diseases studied (repeatable; MONDO or ICD-10).
        #[arg(long)]
        disease: Vec<String>,
        /// The country where the data will be processed (ISO 3166-1 alpha-2).
        #[arg(long, default_value = "JP")]
        country: String,
        /// The use is for profit (industry).
        #[arg(long)]
        for_profit: bool,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

/// An error that is the user's input, not a failure: exit code 2.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Runs the command line and returns the exit code.
#[must_use]
pub fn main(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // Configuration, URL and data-folder problems are the user's input: one line, code 2.
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn load(cli: &Cli, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let overrides = Overrides {
        listen: cli.listen.clone(),
        data_dir: data_dir.or_else(|| cli.data_dir.clone()),
    };
    Ok(Config::load(cli.config.as_deref(), &overrides)?)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::PrintDefaultConfig => {
            print!(
                "{}",
                Config::default_toml().context("cannot render the default configuration")?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let config = load(&cli, None)?;
            telemetry::init(&config.log);
            ensure_writable_dir(&config.data_dir)?;
            let store = open_store(&config).await?;
            println!("migrations applied ({} store)", store.backend().as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let config = load(&cli, None)?;
            telemetry::init(&config.log);
            let store = open_store(&config).await?;
            let report = store
                .verify_chains()
                .await
                .context("cannot read the chains")?;
            println!(
                "audit records: {} in the database, {} in sealed segments; consent events: {}",
                report.audit_rows, report.archived_rows, report.consent_rows
            );
            if let Some(b) = report.broken {
                println!("BROKEN: chain {} at seq {}: {}", b.chain, b.seq, b.reason);
                return Ok(ExitCode::from(1));
            }
            if !config.audit.journal.is_empty() {
                println!("{}", journal_state(&store, &config).await?);
            }
            let archive = crate::open_audit_archive(&config).await?;
            match archive.verify(&store).await {
                Ok(r) => {
                    println!(
                        "sealed segments: {} read from {}, {} records",
                        r.segments,
                        archive.location(),
                        r.rows
                    );
                    println!("all hash chains intact");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("BROKEN: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Archive { before },
        } => {
            let config = load(&cli, None)?;
            telemetry::init(&config.log);
            let before = parse_cutoff(before)?;
            let store = open_store(&config).await?;
            let archive = crate::open_audit_archive(&config).await?;
            let sealed = archive
                .seal_before(&store, before)
                .await
                .context("cannot seal the audit")?;
            for s in &sealed {
                println!(
                    "sealed rows {}..={} ({} records, {} to {}) as {} ({} bytes, SHA-256 {})",
                    s.first_seq,
                    s.last_seq,
                    s.rows,
                    s.first_at,
                    s.last_at,
                    s.location,
                    s.bytes,
                    s.sha256
                );
            }
            println!(
                "{} segment(s) sealed into {}; {} audit records left in the database",
                sealed.len(),
                archive.location(),
                store.audit_count().await?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            kind,
            paths,
            dry_run,
            report,
            institution,
            dataset,
        } => {
            let config = load(&cli, None)?;
            telemetry::init(&config.log);
            let request = crate::ingest::IngestRequest {
                kind,
                paths,
                dry_run: *dry_run,
                report: report.as_deref(),
                institution: institution.as_deref(),
                dataset: dataset.as_deref(),
            };
            crate::ingest::run(&config, &request)
                .await
                .map_err(|e| match e.downcast::<crate::ingest::UsageError>() {
                    Ok(u) => Usage(u.0).into(),
                    Err(e) => e,
                })
        }
        Command::Export {
            command: ExportCommand::Phenopacket { id, operator },
        } => {
            let config = load(&cli, None)?;
            telemetry::init(&config.log);
            gemj_model::ParticipantId::parse(id)
                .map_err(|e| Usage(format!("participant id: {e}")))?;
            let operator = operator_name(operator.as_deref())?;
            // A one-shot command audits straight into the chain: the journal file is the
            // serving process's.
            let mut config = config;
            config.audit.journal.clear();
            let gateway = crate::Gateway::boot(config).await?;
            let packet = gateway
                .export_phenopacket(&operator, id)
                .await?
                .ok_or_else(|| Usage(format!("no participant {id} (or withdrawn)")))?;
            println!("{}", serde_json::to_string_pretty(&packet)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Passport {
            command:
                PassportCommand::Issue {
                    subject,
                    dataset,
                    purpose,
                    disease,
                    country,
                    for_profit,
                    ttl,
                },
        } => {
            let config = load(&cli, None)?;
            let approval = DemoApproval {
                purposes: purpose,
                diseases: disease,
                country,
                for_profit: *for_profit,
            };
            issue_passport(&config, subject, dataset, &approval, *ttl).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Institution {
            command:
                InstitutionCommand::Token {
                    institution,
                    subject,
                    ttl,
                },
        } => {
            let config = load(&cli, None)?;
            institution_token(&config, institution, subject, *ttl)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            dir,
            participants,
            seed,
            coverage,
        } => {
            let config = load(&cli, Some(dir.clone()))?;
            telemetry::init(&config.log);
            let options = DemoOptions {
                participants: participants.unwrap_or(config.demo.participants),
                seed: seed.unwrap_or(config.demo.seed),
                coverage: coverage.unwrap_or(config.demo.coverage),
            };
            if options.participants == 0 || !(options.coverage > 0.0 && options.coverage <= 100.0) {
                return Err(Usage(
                    "--participants must be at least 1 and --coverage in (0, 100]".to_owned(),
                )
                .into());
            }
            make_demo(&config, &options).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { demo: with_demo } => {
            let mut config = load(&cli, None)?;
            telemetry::init(&config.log);
            if *with_demo {
                // Labelled: a test environment (service-info and Beacon /info alike), named as
                // the demo, since it trusts the local demo broker.
                config.service.environment = "test".to_owned();
                if !config.service.name.contains("demo") {
                    config.service.name.push_str(" (demo)");
                }
                let options = DemoOptions {
                    participants: config.demo.participants,
                    seed: config.demo.seed,
                    coverage: config.demo.coverage,
                };
                ensure_writable_dir(&config.data_dir)?;
                if demo::existing(&config.data_dir).is_none() {
                    make_demo(&config, &options).await?;
                }
            }
            let mut gateway = Gateway::boot(config).await?;
            if *with_demo {
                gateway = gateway.with_demo_broker();
            }
            let audit = gateway.audit().clone();
            let running = gateway.serve()?;
            println!(
                "gemj-gateway {} listening at {}",
                gemj_core::services::VERSION,
                running.base_url
            );
            for (url, what) in endpoints(&running.base_url) {
                println!("  {url:<48} {what}");
            }
            if *with_demo {
                let url = format!("{}{}", running.base_url, gemj_demo::broker::JWKS_PATH);
                println!("  {url:<48} DEMO passport broker keys (trusted in demo mode only)");
                println!("  Get a demo passport: gemj-gateway passport issue --subject alice");
                println!(
                    "  Controlled access: gemj-gateway passport issue --subject alice --dataset GEMJ-DEMO-JOINT-CTRL --purpose DUO:0000006"
                );
                println!(
                    "  Approvals admin:   gemj-gateway passport issue --subject {}",
                    gemj_demo::broker::ADMINISTRATOR
                );
                println!(
                    "  Institution token: gemj-gateway institution token --institution 9999000001"
                );
            }
            println!("Stop with Ctrl-C (SIGINT) or SIGTERM: in-flight requests finish first.");
            let stopped = running.join.await;
            // A local audit journal: what is left ships before the process ends (what cannot
            // ship now, with the store out of reach, ships at the next start).
            if !audit.settle(std::time::Duration::from_secs(10)).await {
                eprintln!(
                    "warning: the audit journal is not all shipped; the rest ships at the next start"
                );
            }
            match stopped {
                Ok(Ok(())) => Ok(ExitCode::SUCCESS),
                Ok(Err(e)) => {
                    eprintln!("error: server failed: {e}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => {
                    eprintln!("error: server task failed: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

async fn make_demo(config: &Config, options: &DemoOptions) -> anyhow::Result<()> {
    ensure_writable_dir(&config.data_dir)?;
    let objects = crate::open_objects(config).await?;
    if let Some(existing) = demo::existing(&config.data_dir) {
        let location = objects.location();
        let same_storage = existing.storage == location
            || (existing.storage.is_empty() && config.storage.url.is_empty());
        if !same_storage {
            return Err(Usage(format!(
                "{} holds a demo cohort whose objects are in {}, not in {location}; use an \
                 empty data folder for another storage",
                config.data_dir.display(),
                existing.storage
            ))
            .into());
        }
        if existing.options == *options {
            println!(
                "{} already holds this demo cohort ({} participants)",
                config.data_dir.display(),
                existing.participants
            );
            return Ok(());
        }
        return Err(Usage(format!(
            "{} already holds a demo cohort made with other options; use an empty folder",
            config.data_dir.display()
        ))
        .into());
    }
    let store = open_store(config).await?;
    println!(
        "generating the synthetic demo cohort: {} participants, seed {}, coverage {}x",
        options.participants, options.seed, options.coverage
    );
    let summary = demo::generate(&store, &*objects, &config.data_dir, options)
        .await
        .context("demo cohort generation failed")?;
    println!(
        "demo cohort ready in {}: {} participants, {} datasets, {} objects ({:.1} MB), {} sites, {} variant-index rows; genomes {:.1}s, registration {:.1}s",
        config.data_dir.display(),
        summary.participants,
        summary.datasets,
        summary.objects,
        summary.bytes as f64 / 1e6,
        summary.sites,
        summary.variant_rows,
        summary.genome_seconds,
        summary.register_seconds
    );
    Ok(())
}

/// What `passport issue` records as the demo approval.
struct DemoApproval<'a> {
    purposes: &'a [String],
    diseases: &'a [String],
    country: &'a str,
    for_profit: bool,
}

fn base_url_of(config: &Config) -> String {
    if config.public_url.is_empty() {
        format!("http://{}", config.listen)
    } else {
        config.public_url.trim_end_matches('/').to_owned()
    }
}

fn institution_token(
    config: &Config,
    institution: &str,
    subject: &str,
    ttl: u64,
) -> anyhow::Result<()> {
    if subject.is_empty() || subject.len() > 255 {
        return Err(Usage("--subject must be 1 to 255 characters".to_owned()).into());
    }
    if ttl == 0 || ttl > 3600 {
        return Err(Usage("--ttl must be 1 to 3600 seconds".to_owned()).into());
    }
    let base_url = base_url_of(config);
    ensure_writable_dir(&config.data_dir)?;
    let brokers = gemj_demo::broker::institutions(&config.data_dir, &base_url)?;
    let Some((id, broker)) = brokers.iter().find(|(id, _)| id.as_str() == institution) else {
        let known: Vec<&str> = brokers.iter().map(|(id, _)| id.as_str()).collect();
        return Err(Usage(format!(
            "--institution must be a demo institution: {}",
            known.join(", ")
        ))
        .into());
    };
    let audience = if config.auth.institution_audience.is_empty() {
        base_url.clone()
    } else {
        config.auth.institution_audience.clone()
    };
    let token = broker
        .issue_token(
            subject,
            &audience,
            std::time::Duration::from_secs(ttl),
            gemj_auth::now_unix(),
        )
        .map_err(|e| anyhow::anyhow!("cannot sign the token: {e}"))?;
    eprintln!(
        "DEMO token of institution {id} for {subject} (trusted only by `serve --demo` at {base_url})"
    );
    println!("{token}");
    Ok(())
}

async fn issue_passport(
    config: &Config,
    subject: &str,
    datasets: &[String],
    demo_approval: &DemoApproval<'_>,
    ttl: u64,
) -> anyhow::Result<()> {
    if subject.is_empty() || subject.len() > 255 {
        return Err(Usage("--subject must be 1 to 255 characters".to_owned()).into());
    }
    let ids = datasets
        .iter()
        .map(|d| gemj_model::DatasetId::parse(d).map_err(|e| Usage(format!("--dataset: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let purpose = demo_approval
        .purposes
        .iter()
        .map(|p| gemj_model::DuoCode::parse(p).map_err(|e| Usage(format!("--purpose: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if !purpose.is_empty() && ids.is_empty() {
        return Err(Usage("--purpose needs at least one --dataset".to_owned()).into());
    }
    let base_url = base_url_of(config);
    ensure_writable_dir(&config.data_dir)?;
    let broker = gemj_demo::broker::load(&config.data_dir, &base_url)?;
    let now = gemj_auth::now_unix();
    let visas = gemj_demo::broker::visas(
        &broker,
        &gemj_demo::broker::PassportRequest {
            datasets: &ids,
            terms_url: &config.auth.terms_url,
            grant_prefix: &config.auth.dataset_grant_prefix,
        },
        now,
    );
    if !purpose.is_empty() {
        let terms = gemj_demo::broker::ApprovalTerms {
            purpose,
            diseases: demo_approval.diseases.to_vec(),
            country: demo_approval.country.to_owned(),
            for_profit: demo_approval.for_profit,
        };
        let approval = gemj_demo::broker::approval(
            &broker,
            subject,
            &ids,
            terms,
            time::OffsetDateTime::now_utc(),
        )?;
        open_store(config)
            .await?
            .put_approval(&approval)
            .await
            .map_err(|e| Usage(format!("the demo approval was refused: {e}")))?;
        eprintln!(
            "recorded demo approval {} (DEMO: approved by no committee)",
            approval.id
        );
    }
    let token = broker
        .issue_passport(
            subject,
            &visas,
            std::time::Duration::from_secs(ttl.max(1)),
            now,
        )
        .map_err(|e| anyhow::anyhow!("cannot sign the passport: {e}"))?;
    eprintln!(
        "DEMO passport for {subject} from issuer {} (trusted only by `serve --demo` at {base_url})",
        broker.issuer()
    );
    println!("{token}");
    Ok(())
}

/// Who runs an operator command, for the audit trail: `--operator`, else the login name
/// (`$USER`, `$LOGNAME`), else the numeric user id of the process.
fn operator_name(given: Option<&str>) -> Result<String, Usage> {
    let name = given
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            use std::os::unix::fs::MetadataExt as _;
            std::fs::metadata("/proc/self")
                .ok()
                .map(|m| format!("uid:{}", m.uid()))
        })
        .ok_or_else(|| Usage("name the operator: --operator NAME".to_owned()))?;
    if name.len() > 64 || name.chars().any(|c| c.is_control() || c == '#') {
        return Err(Usage(
            "--operator: at most 64 characters, no control characters or '#'".to_owned(),
        ));
    }
    Ok(name)
}

/// `--before`: a date (midnight UTC) or an RFC 3339 time.
fn parse_cutoff(text: &str) -> anyhow::Result<time::OffsetDateTime> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, rfc3339) {
        return Ok(t);
    }
    let date = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| {
        anyhow::anyhow!("--before {text:?}: expected a date (2026-10-01) or an RFC 3339 time")
    })?;
    Ok(date.midnight().assume_utc())
}

/// What `audit verify` says of this replica's local audit journal: its rows not yet in the
/// chain, or that a running gateway holds it (and ships them).
async fn journal_state(store: &gemj_store::Store, config: &Config) -> anyhow::Result<String> {
    let path = config.data_dir.join(&config.audit.journal);
    if !path.exists() {
        return Ok(format!("audit journal {}: none yet", path.display()));
    }
    let journal = match gemj_store::AuditJournal::open(&path) {
        Ok(journal) => journal,
        Err(e) => return Ok(format!("audit journal {}: {e}", path.display())),
    };
    let mark = store
        .audit_journal_shipped(journal.id())
        .await
        .context("cannot read the audit journal's mark")?;
    let waiting = journal.rows_after(mark)?;
    Ok(format!(
        "audit journal {}: {waiting} records not yet in the chain (the gateway ships them when it starts)",
        path.display()
    ))
}
