//! Input kinds and files: which adapter reads what, how files are grouped into transactions,
//! and progress. The CLI hands in paths, the HTTP API bytes; both end here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gemj_model::source::Extract;
use gemj_store::{Store, StoreError};

use super::report::IngestReport;
use super::{ApplyOptions, apply, quarantine_all};
use gemj_core::CoreError;

/// The input kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An SS-MIX2 standardized storage tree (HL7 v2.5 messages).
    Ssmix2,
    /// FHIR R4 transaction or batch bundles.
    Fhir,
    /// A REDCap data dictionary and raw record export.
    Redcap,
    /// CDISC ODM 1.3.2 clinical data.
    Odm,
    /// Biobank sample manifests (MIABIS-flavoured CSV).
    Biobank,
    /// BAM, CRAM, VCF and BCF files.
    Genome,
}

impl Kind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [Kind; 6] = [
        Kind::Ssmix2,
        Kind::Fhir,
        Kind::Redcap,
        Kind::Odm,
        Kind::Biobank,
        Kind::Genome,
    ];

    /// The kind's name (`ssmix2`, `fhir`, `redcap`, `odm`, `biobank`, `genome`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ssmix2 => "ssmix2",
            Self::Fhir => "fhir",
            Self::Redcap => "redcap",
            Self::Odm => "odm",
            Self::Biobank => "biobank",
            Self::Genome => "genome",
        }
    }

    /// The kind of a name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One input file, in memory.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Its name (for SS-MIX2, the path relative to `standard_root`).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What the adapters need beyond the bytes: the FHIR R4 bundle validator, compiled on first use
/// (the R4 schema is 3.3 MB), and the SS-MIX2 batch size.
#[derive(Debug, Clone)]
pub struct Readers {
    /// The official schemas FHIR bundles are validated against (the embedded copies, or a
    /// configured folder of newer releases).
    pub schemas: gemj_schemas::SchemaSet,
    /// SS-MIX2 files per transaction (at least 1).
    pub batch_files: usize,
    fhir: Arc<std::sync::OnceLock<Result<Arc<gemj_fhir_import::BundleValidator>, String>>>,
}

impl Readers {
    /// Readers validating against `schemas`, with `batch_files` SS-MIX2 files per transaction.
    #[must_use]
    pub fn new(schemas: gemj_schemas::SchemaSet, batch_files: usize) -> Self {
        Self {
            schemas,
            batch_files: batch_files.max(1),
            fhir: Arc::default(),
        }
    }

    /// The FHIR bundle validator, compiled on first use (blocking: call it off the async
    /// runtime's threads).
    ///
    /// # Errors
    /// Why FHIR input is refused: the schema is missing from a configured folder or does not
    /// compile.
    pub fn fhir_validator(&self) -> Result<Arc<gemj_fhir_import::BundleValidator>, String> {
        self.fhir
            .get_or_init(|| {
                gemj_fhir_import::BundleValidator::new(&self.schemas)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}

/// Progress of a long ingest, shown by the caller (a bar on a terminal, lines otherwise).
pub trait Progress: Send + Sync {
    /// Work of `total` units begins.
    fn begin(&self, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The work is done.
    fn finish(&self);
}

/// Progress nobody watches.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Ingests in-memory files of one clinical kind (all but [`Kind::Genome`]). Each file is one
/// transaction (SS-MIX2: each batch of `batch_files`; REDCap: the dictionary and the records
/// export together).
///
/// # Errors
/// [`CoreError::InvalidInput`] for [`Kind::Genome`] or a REDCap input without its dictionary;
/// store failures (the batch in progress is rolled back).
pub async fn ingest_files(
    store: &Store,
    kind: Kind,
    files: Vec<InputFile>,
    readers: &Readers,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, CoreError> {
    let mut report = IngestReport::new(kind.as_str(), options.dry_run);
    progress.begin(u64::try_from(files.len()).unwrap_or(u64::MAX));
    match kind {
        Kind::Genome => {
            return Err(CoreError::InvalidInput(
                "genome files are registered from paths (gemj-gateway ingest genome)".to_owned(),
            ));
        }
        Kind::Ssmix2 => {
            let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
            let source = MemoryFiles(files);
            ssmix2(
                store,
                &names,
                &source,
                readers,
                options,
                progress,
                &mut report,
            )
            .await?;
        }
        Kind::Redcap => {
            redcap(store, files, options, &mut report).await?;
            progress.advance(2);
        }
        Kind::Fhir | Kind::Odm | Kind::Biobank => {
            let fhir = if kind == Kind::Fhir {
                let r = readers.clone();
                Some(
                    tokio::task::spawn_blocking(move || r.fhir_validator())
                        .await
                        .map_err(CoreError::from)?,
                )
            } else {
                None
            };
            for file in files {
                report.files += 1;
                match read_one(kind, &file, fhir.as_ref(), options) {
                    Ok(extract) => {
                        apply_or_quarantine(store, extract, options, &mut report).await?;
                    }
                    Err((reason, errors)) => {
                        report.refuse_file(kind.as_str(), &file.name, &reason, errors);
                    }
                }
                progress.advance(1);
            }
        }
    }
    progress.finish();
    Ok(report)
}

/// Ingests an SS-MIX2 tree from disk: `root` is the `standard_root` folder (or a folder that
/// holds one). Files are read batch by batch, never all at once.
///
/// # Errors
/// [`CoreError::InvalidInput`] when `root` cannot be walked; store failures.
pub async fn ingest_ssmix2_tree(
    store: &Store,
    root: &Path,
    readers: &Readers,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, CoreError> {
    let root = if root.join("standard_root").is_dir() {
        root.join("standard_root")
    } else {
        root.to_owned()
    };
    let walk_root = root.clone();
    let names = tokio::task::spawn_blocking(move || walk(&walk_root))
        .await
        .map_err(CoreError::from)?
        .map_err(|e| {
            CoreError::InvalidInput(format!(
                "cannot read the SS-MIX2 tree {}: {e}",
                root.display()
            ))
        })?;
    let mut report = IngestReport::new(Kind::Ssmix2.as_str(), options.dry_run);
    progress.begin(u64::try_from(names.len()).unwrap_or(u64::MAX));
    let source = DiskFiles(root);
    ssmix2(
        store,
        &names,
        &source,
        readers,
        options,
        progress,
        &mut report,
    )
    .await?;
    progress.finish();
    Ok(report)
}

/// Where SS-MIX2 files are read from.
trait FileSource: Sync + Send {
    fn read(&self, index: usize, name: &str) -> std::io::Result<Vec<u8>>;
}

struct MemoryFiles(Vec<InputFile>);

impl FileSource for MemoryFiles {
    fn read(&self, index: usize, _: &str) -> std::io::Result<Vec<u8>> {
        self.0
            .get(index)
            .map(|f| f.bytes.clone())
            .ok_or_else(|| std::io::Error::other("no such file"))
    }
}

struct DiskFiles(PathBuf);

impl FileSource for DiskFiles {
    fn read(&self, _: usize, name: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.0.join(name))
    }
}

/// Every file under `root`, as `/`-separated paths relative to it, sorted.
fn walk(root: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && let Ok(rel) = path.strip_prefix(root)
            {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

async fn apply_or_quarantine(
    store: &Store,
    extract: Extract,
    options: &ApplyOptions,
    report: &mut IngestReport,
) -> Result<(), CoreError> {
    let backup = extract.clone();
    match apply(store, extract, options, report).await {
        Ok(()) => Ok(()),
        Err(CoreError::Store(
            e @ (StoreError::MissingReference { .. }
            | StoreError::Conflict { .. }
            | StoreError::InvalidInput { .. }),
        )) => {
            // A record the store refuses (a broken reference) rolls its whole file back: the
            // file's records are reported, none is stored, and the run goes on.
            tracing::warn!(message = "Ingest batch rolled back.", error = %e);
            quarantine_all(
                &backup,
                &format!("rolled back: the store refused the batch ({e})"),
                report,
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Reads one file of a single-file kind; `Err` refuses it whole, with a reason and any schema
/// errors.
fn read_one(
    kind: Kind,
    file: &InputFile,
    fhir: Option<&Result<Arc<gemj_fhir_import::BundleValidator>, String>>,
    options: &ApplyOptions,
) -> Result<Extract, (String, Vec<String>)> {
    match kind {
        Kind::Fhir => {
            let validator = match fhir {
                Some(Ok(v)) => v,
                Some(Err(why)) => {
                    return Err((format!("FHIR input is refused: {why}"), Vec::new()));
                }
                None => return Err(("FHIR input is refused".to_owned(), Vec::new())),
            };
            gemj_fhir_import::read_bundle(&file.bytes, &file.name, Some(validator)).map_err(|e| {
                let errors = match &e {
                    gemj_fhir_import::FhirImportError::Invalid { errors, .. } => errors.clone(),
                    _ => Vec::new(),
                };
                (e.to_string(), errors)
            })
        }
        Kind::Odm => read_odm(file, options),
        Kind::Biobank => read_biobank(file),
        Kind::Ssmix2 | Kind::Redcap | Kind::Genome => Err((
            format!("{} input is not read one file at a time", kind.as_str()),
            Vec::new(),
        )),
    }
}

fn read_biobank(file: &InputFile) -> Result<Extract, (String, Vec<String>)> {
    let options = gemj_biobank::ManifestOptions {
        file: file.name.clone(),
    };
    gemj_biobank::read_manifest(&file.bytes, &options).map_err(|e| (e.to_string(), Vec::new()))
}

fn read_odm(file: &InputFile, options: &ApplyOptions) -> Result<Extract, (String, Vec<String>)> {
    let odm = gemj_cdisc_odm::OdmOptions {
        file: file.name.clone(),
        institution: options.institution.clone(),
        ..gemj_cdisc_odm::OdmOptions::default()
    };
    gemj_cdisc_odm::read_odm(&file.bytes, &odm).map_err(|e| (e.to_string(), Vec::new()))
}

/// REDCap: the data dictionary (recognised by its header) and one or more record exports, each
/// export one transaction.
async fn redcap(
    store: &Store,
    files: Vec<InputFile>,
    options: &ApplyOptions,
    report: &mut IngestReport,
) -> Result<(), CoreError> {
    let (dictionaries, exports): (Vec<InputFile>, Vec<InputFile>) = files
        .into_iter()
        .partition(|f| is_redcap_dictionary(&f.bytes));
    let dictionary = match dictionaries.first() {
        Some(d) => match gemj_redcap::DataDictionary::parse(&d.bytes) {
            Ok(dict) => {
                report.diagnostics.extend(dict.diagnostics(&d.name));
                dict
            }
            Err(e) => {
                report.files += 1;
                report.refuse_file("redcap", &d.name, &e.to_string(), Vec::new());
                return Ok(());
            }
        },
        None => {
            return Err(CoreError::InvalidInput(
                "REDCap input needs the project's data dictionary (the CSV whose first header is \"Variable / Field Name\") next to the record export".to_owned(),
            ));
        }
    };
    report.files += u64::try_from(dictionaries.len()).unwrap_or(0);
    for export in exports {
        report.files += 1;
        let read = gemj_redcap::ReadOptions {
            file: export.name.clone(),
            institution: options.institution.clone(),
            ..gemj_redcap::ReadOptions::default()
        };
        match gemj_redcap::read_records(&dictionary, &export.bytes, &read) {
            Ok(extract) => apply_or_quarantine(store, extract, options, report).await?,
            Err(e) => report.refuse_file("redcap", &export.name, &e.to_string(), Vec::new()),
        }
    }
    Ok(())
}

/// Whether a CSV is a REDCap data dictionary (its first header cell).
fn is_redcap_dictionary(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.starts_with(b"Variable / Field Name") || bytes.starts_with(b"\"Variable / Field Name\"")
}

/// SS-MIX2: plan the whole tree (flags, superseded files), then read and apply it batch by
/// batch.
async fn ssmix2(
    store: &Store,
    names: &[String],
    source: &(dyn FileSource + Send),
    readers: &Readers,
    options: &ApplyOptions,
    progress: &dyn Progress,
    report: &mut IngestReport,
) -> Result<(), CoreError> {
    let plan = gemj_ssmix2::Plan::new(names.iter().cloned());
    let batch = readers.batch_files.max(1);
    let files = plan.files();
    for (chunk_index, chunk) in files.chunks(batch).enumerate() {
        let mut extract = Extract::default();
        for (offset, file) in chunk.iter().enumerate() {
            let index = chunk_index * batch + offset;
            let bytes = if file.action().needs_bytes() {
                match source.read(index, file.path()) {
                    Ok(b) => b,
                    Err(e) => {
                        report.files += 1;
                        report.refuse_file(
                            "ssmix2",
                            file.path(),
                            &format!("cannot be read: {e}"),
                            Vec::new(),
                        );
                        continue;
                    }
                }
            } else {
                Vec::new()
            };
            extract.append(file.extract(&bytes));
            report.files += 1;
        }
        apply_or_quarantine(store, extract, options, report).await?;
        progress.advance(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
    }
    Ok(())
}
