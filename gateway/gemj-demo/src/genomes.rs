//! The deterministic synthetic demo genomes: everything [`generate`] writes under its output
//! directory, and the in-memory truth (genes, segregating sites) that describes it.
//!
//! Layout under `out_dir`:
//!
//! ```text
//! reference/gemj-synthetic-ref.fa (+ .fai)
//! samples/<sample>.bam (+ .bam.bai)
//! samples/<sample>.cram (+ .cram.crai)       CRAM 3.0 against the reference, @SQ M5 tags
//! samples/<sample>.vcf.gz (+ .vcf.gz.tbi)    the sample's non-reference genotypes
//! joint/gemj-demo-joint.vcf.gz (+ .tbi)      every site, GT of every sample, AC/AN/AF
//! joint/gemj-demo-joint.bcf (+ .csi)
//! annotation/genes.tsv
//! ```
//!
//! Everything is drawn from ChaCha streams derived from [`DemoGenomeOptions::seed`] (one stream
//! for the reference, genes and sites, one per sample index), so the same options give
//! byte-identical files regardless of thread count. Samples are generated in parallel, one at a
//! time per thread, contig by contig, so memory stays bounded for thousands of samples.
//!
//! Invariant: nothing here reads the clock, the environment or the network, and no output holds
//! an absolute path (headers name the reference by file name only).

mod cram_layout;
mod error;
mod joint;
mod population;
mod reads;
mod reference;
mod rng;
mod sample;

use std::{
    collections::BTreeSet,
    fs,
    num::NonZero,
    ops::Range,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    thread,
    time::Instant,
};

use noodles::fasta;

pub use self::error::GenomicsError;
use self::{
    reference::Contig,
    rng::{Stream, stream},
};

/// The reference FASTA file name, as named in BAM/CRAM/VCF headers.
const REFERENCE_FILE_NAME: &str = "gemj-synthetic-ref.fa";

/// The shortest contig accepted: room for the leading `N` run, fragments and genes.
const MIN_CONTIG_LENGTH: u32 = 10_000;

/// The longest sample name accepted.
const MAX_SAMPLE_NAME_LENGTH: usize = 128;

/// The highest mean depth accepted.
const MAX_COVERAGE: f64 = 100.0;

/// What to generate.
///
/// # Examples
///
/// ```
/// use gemj_demo::genomes::DemoGenomeOptions;
///
/// let opts = DemoGenomeOptions {
///     samples: vec![String::from("GEMJ-P0001"), String::from("GEMJ-P0002")],
///     ..Default::default()
/// };
///
/// assert_eq!(opts.seed, 20_250_401);
/// assert_eq!(opts.contigs[0], (String::from("chr20"), 1_200_000));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct DemoGenomeOptions {
    /// The seed every output is derived from.
    pub seed: u64,
    /// Sample names, one per participant, in order. Used as the read-group SM and VCF sample
    /// column names, and in file names: ASCII letters, digits, `.`, `_` and `-`, not starting
    /// with `.` or `-`.
    pub samples: Vec<String>,
    /// Mean read depth of the per-sample BAM/CRAM (default 2.0). Benchmarks use small values
    /// with thousands of samples.
    pub coverage: f64,
    /// Contigs (name, length). Default: chr20 1_200_000, chr21 1_000_000, chr22 1_100_000.
    /// Contigs named `chr20`/`chr21`/`chr22` (or `20`/`21`/`22`) get genes; others get none.
    pub contigs: Vec<(String, u32)>,
}

impl Default for DemoGenomeOptions {
    fn default() -> Self {
        Self {
            seed: 20_250_401,
            samples: Vec::new(),
            coverage: 2.0,
            contigs: vec![
                (String::from("chr20"), 1_200_000),
                (String::from("chr21"), 1_000_000),
                (String::from("chr22"), 1_100_000),
            ],
        }
    }
}

/// The files of one sample. All paths are absolute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleFiles {
    /// The sample name.
    pub sample: String,
    /// `samples/<sample>.bam`: coordinate-sorted paired reads.
    pub bam: PathBuf,
    /// `samples/<sample>.bam.bai`.
    pub bai: PathBuf,
    /// `samples/<sample>.cram`: the same reads, CRAM 3.0 against the synthetic reference.
    pub cram: PathBuf,
    /// `samples/<sample>.cram.crai`.
    pub crai: PathBuf,
    /// `samples/<sample>.vcf.gz`: the sample's non-reference genotypes (VCF 4.3, BGZF).
    pub vcf: PathBuf,
    /// `samples/<sample>.vcf.gz.tbi`.
    pub tbi: PathBuf,
}

impl SampleFiles {
    fn new(samples_dir: &Path, sample: &str) -> Self {
        let path = |suffix: &str| samples_dir.join(format!("{sample}{suffix}"));

        Self {
            sample: sample.to_owned(),
            bam: path(".bam"),
            bai: path(".bam.bai"),
            cram: path(".cram"),
            crai: path(".cram.crai"),
            vcf: path(".vcf.gz"),
            tbi: path(".vcf.gz.tbi"),
        }
    }
}

/// A gene of the synthetic annotation: a real HGNC symbol at made-up coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gene {
    /// The HGNC symbol (`BRCA2`-style).
    pub name: String,
    /// `GEMJSYN:<symbol>`.
    pub gene_id: String,
    /// The contig.
    pub chrom: String,
    /// 1-based inclusive start.
    pub start: u32,
    /// 1-based inclusive end.
    pub end: u32,
    /// `+` or `-`.
    pub strand: char,
}

/// A segregating site of the joint call set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The contig.
    pub chrom: String,
    /// 1-based position of the first reference base (the anchor base for indels).
    pub pos: u32,
    /// The reference allele.
    pub reference: String,
    /// The alternate allele.
    pub alternate: String,
    /// Alternate allele copies (0, 1 or 2) per sample, in sample order.
    pub genotypes: Vec<u8>,
}

/// What [`generate`] wrote. All paths are absolute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoGenomes {
    /// `reference/gemj-synthetic-ref.fa`.
    pub reference: PathBuf,
    /// `reference/gemj-synthetic-ref.fa.fai`.
    pub reference_fai: PathBuf,
    /// The files of each sample, in sample order.
    pub samples: Vec<SampleFiles>,
    /// `joint/gemj-demo-joint.vcf.gz`.
    pub joint_vcf: PathBuf,
    /// `joint/gemj-demo-joint.vcf.gz.tbi`.
    pub joint_vcf_tbi: PathBuf,
    /// `joint/gemj-demo-joint.bcf`.
    pub joint_bcf: PathBuf,
    /// `joint/gemj-demo-joint.bcf.csi`.
    pub joint_bcf_csi: PathBuf,
    /// `annotation/genes.tsv`.
    pub genes_tsv: PathBuf,
    /// The genes listed in `genes_tsv`, in file order.
    pub genes: Vec<Gene>,
    /// Every segregating site in the joint call set, sorted by (contig order, pos).
    pub sites: Vec<Site>,
}

/// Everything a generator thread reads.
struct Cohort<'a> {
    opts: &'a DemoGenomeOptions,
    contigs: &'a [Contig],
    sites: &'a [Site],
    /// The range of `sites` on each contig, in contig order.
    site_ranges: Vec<Range<usize>>,
    repository: fasta::Repository,
}

/// Generates the demo genomes under `out_dir` (created if missing; existing files are replaced).
///
/// # Errors
///
/// Invalid options (see [`DemoGenomeOptions`]) and I/O failures.
///
/// # Examples
///
/// ```
/// use gemj_demo::genomes::{DemoGenomeOptions, generate};
///
/// let dir = tempfile::tempdir()?;
/// let opts = DemoGenomeOptions {
///     samples: vec![String::from("S1")],
///     coverage: 0.5,
///     contigs: vec![(String::from("chr21"), 20_000)],
///     ..Default::default()
/// };
///
/// let genomes = generate(&opts, dir.path())?;
///
/// assert!(genomes.samples[0].cram.ends_with("samples/S1.cram"));
/// assert!(genomes.genes.iter().any(|gene| gene.name == "RUNX1"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn generate(opts: &DemoGenomeOptions, out_dir: &Path) -> Result<DemoGenomes, GenomicsError> {
    validate(opts)?;

    let started = Instant::now();
    let out_dir = std::path::absolute(out_dir).map_err(|e| GenomicsError::io(out_dir, e))?;

    let reference_dir = out_dir.join("reference");
    let samples_dir = out_dir.join("samples");
    let joint_dir = out_dir.join("joint");
    let annotation_dir = out_dir.join("annotation");

    for dir in [&reference_dir, &samples_dir, &joint_dir, &annotation_dir] {
        fs::create_dir_all(dir).map_err(|e| GenomicsError::io(dir, e))?;
    }

    let reference_path = reference_dir.join(REFERENCE_FILE_NAME);
    let reference_fai = reference_dir.join(format!("{REFERENCE_FILE_NAME}.fai"));

    let contigs = reference::generate(&opts.contigs, &mut stream(opts.seed, Stream::Reference));
    reference::write_fasta(&contigs, &reference_path, &reference_fai)?;

    let genes = population::generate_genes(&contigs, &mut stream(opts.seed, Stream::Genes));
    let genes_tsv = annotation_dir.join("genes.tsv");
    population::write_genes_tsv(&genes, &genes_tsv)?;

    let sites = population::generate_sites(
        &contigs,
        opts.samples.len(),
        &genes,
        &mut stream(opts.seed, Stream::Sites),
    );

    let site_ranges = contigs
        .iter()
        .map(|contig| {
            let start = sites.partition_point(|site| {
                contig_index(&contigs, &site.chrom) < contig_index(&contigs, &contig.name)
            });
            let end = start + sites[start..].partition_point(|site| site.chrom == contig.name);
            start..end
        })
        .collect();

    let sample_files: Vec<SampleFiles> = opts
        .samples
        .iter()
        .map(|sample| SampleFiles::new(&samples_dir, sample))
        .collect();

    let joint = joint::JointFiles {
        vcf: joint_dir.join("gemj-demo-joint.vcf.gz"),
        vcf_tbi: joint_dir.join("gemj-demo-joint.vcf.gz.tbi"),
        bcf: joint_dir.join("gemj-demo-joint.bcf"),
        bcf_csi: joint_dir.join("gemj-demo-joint.bcf.csi"),
    };

    let cohort = Cohort {
        opts,
        contigs: &contigs,
        sites: &sites,
        site_ranges,
        repository: reference::repository(&contigs),
    };

    run_tasks(&cohort, &sample_files, &joint)?;

    tracing::info!(
        message = "Generated the demo genomes.",
        samples = opts.samples.len(),
        contigs = contigs.len(),
        sites = sites.len(),
        elapsed_ms = started.elapsed().as_millis(),
    );

    Ok(DemoGenomes {
        reference: reference_path,
        reference_fai,
        samples: sample_files,
        joint_vcf: joint.vcf,
        joint_vcf_tbi: joint.vcf_tbi,
        joint_bcf: joint.bcf,
        joint_bcf_csi: joint.bcf_csi,
        genes_tsv,
        genes,
        sites,
    })
}

fn contig_index(contigs: &[Contig], name: &str) -> usize {
    contigs
        .iter()
        .position(|contig| contig.name == name)
        .unwrap_or(contigs.len())
}

/// Runs the joint call set (task 0) and every sample (task `i + 1`) on a pool of scoped threads.
/// Each task's output depends only on its inputs, never on which thread runs it.
fn run_tasks(
    cohort: &Cohort<'_>,
    sample_files: &[SampleFiles],
    joint: &joint::JointFiles,
) -> Result<(), GenomicsError> {
    let task_count = sample_files.len() + 1;
    let threads = thread::available_parallelism()
        .map_or(1, NonZero::get)
        .min(task_count);

    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);

    let run = || {
        let mut outcomes = Vec::new();

        loop {
            let task = next.fetch_add(1, Ordering::Relaxed);

            if task >= task_count || failed.load(Ordering::Relaxed) {
                break;
            }

            let result = match task.checked_sub(1) {
                None => joint::write_joint(cohort, joint),
                Some(i) => sample::write_sample(cohort, i, &sample_files[i]),
            };

            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }

            outcomes.push((task, result));
        }

        outcomes
    };

    let joined: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(run)).collect();
        handles
            .into_iter()
            .map(std::thread::ScopedJoinHandle::join)
            .collect()
    });

    let mut errors = Vec::new();

    for outcome in joined {
        let outcomes = outcome.map_err(|_| GenomicsError::WorkerPanicked)?;
        errors.extend(
            outcomes
                .into_iter()
                .filter_map(|(task, result)| result.err().map(|e| (task, e))),
        );
    }

    // Report the failure of the lowest task, whatever the scheduling.
    errors.sort_by_key(|(task, _)| *task);

    match errors.into_iter().next() {
        Some((_, error)) => Err(error),
        None => Ok(()),
    }
}

fn validate(opts: &DemoGenomeOptions) -> Result<(), GenomicsError> {
    if opts.samples.is_empty() {
        return Err(GenomicsError::NoSamples);
    }

    let mut seen = BTreeSet::new();

    for name in &opts.samples {
        if let Some(reason) = invalid_name_reason(name, MAX_SAMPLE_NAME_LENGTH) {
            return Err(GenomicsError::InvalidSampleName {
                name: name.clone(),
                reason,
            });
        }

        if !seen.insert(name.as_str()) {
            return Err(GenomicsError::DuplicateSample(name.clone()));
        }
    }

    if opts.contigs.is_empty() {
        return Err(GenomicsError::NoContigs);
    }

    let mut seen = BTreeSet::new();

    for (name, length) in &opts.contigs {
        let reason = invalid_name_reason(name, 255).or(if *length < MIN_CONTIG_LENGTH {
            Some("contigs must be at least 10 kb long")
        } else {
            None
        });

        if let Some(reason) = reason {
            return Err(GenomicsError::InvalidContig {
                name: name.clone(),
                length: *length,
                reason,
            });
        }

        if !seen.insert(name.as_str()) {
            return Err(GenomicsError::DuplicateContig(name.clone()));
        }
    }

    if !(opts.coverage.is_finite() && (0.0..=MAX_COVERAGE).contains(&opts.coverage)) {
        return Err(GenomicsError::InvalidCoverage(opts.coverage));
    }

    Ok(())
}

/// Names go into file names, SAM headers and VCF columns: keep them plain.
fn invalid_name_reason(name: &str, max_len: usize) -> Option<&'static str> {
    if name.is_empty() {
        Some("empty")
    } else if name.len() > max_len {
        Some("too long")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("only ASCII letters, digits, '.', '_' and '-' are allowed")
    } else if name.starts_with(['.', '-']) {
        Some("must not start with '.' or '-'")
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
