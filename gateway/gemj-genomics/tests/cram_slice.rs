//! CRAM slices against `samtools view`: for random and edge-case regions, the slice's bytes must
//! decode (with one header, no warning) to exactly the records `samtools view` prints for the
//! same regions of the original file.
//!
//! Files: a small demo cohort generated into a temporary directory, and, from the shared data
//! directory (`GEMJ_SHARED_DIR`, else `../../../shared` from this crate), the htsget test file
//! `htsnexus_test_NA12878.cram` (no reference needed) and htslib's `range.cram` (with `ce.fa`).
//! Without samtools (or the shared data) the tests print a notice and pass, unless `CI=true`.

use std::{
    error::Error,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use gemj_demo::genomes::{DemoGenomeOptions, generate};
use gemj_genomics::slice::{
    Class, Format, IndexedFile, Piece, ReferenceName, Region, SliceError, SliceQuery,
};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

type TestResult = Result<(), Box<dyn Error>>;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether samtools runs; panics in CI when it does not.
fn samtools_available() -> bool {
    let ok = Command::new("samtools")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !in_ci(),
            "samtools is required in CI (CI=true) but was not found"
        );
        println!("notice: samtools not found; skipping the CRAM slice comparisons");
    }
    ok
}

/// The shared data directory; panics in CI when it is missing.
fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GEMJ_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    if dir.join("data/htsget").is_dir() {
        Some(dir)
    } else {
        assert!(
            !in_ci(),
            "the shared data directory {} is missing (set GEMJ_SHARED_DIR)",
            dir.display()
        );
        println!(
            "notice: shared data directory {} not found; skipping",
            dir.display()
        );
        None
    }
}

/// A CRAM file under test.
struct Subject {
    cram: PathBuf,
    reference: Option<PathBuf>,
    file: IndexedFile,
    /// (name, length) of each reference sequence.
    references: Vec<(String, u64)>,
}

impl Subject {
    fn open(cram: &Path, reference: Option<&Path>) -> Result<Self, Box<dyn Error>> {
        let crai = PathBuf::from(format!("{}.crai", cram.display()));
        let file = IndexedFile::open(Format::Cram, cram, &crai)?;
        let header = samtools(&["view", "-H"], reference, cram, &[])?;
        let references = header
            .lines()
            .filter(|l| l.starts_with("@SQ"))
            .map(|l| {
                let field = |key: &str| {
                    l.split('\t')
                        .find_map(|f| f.strip_prefix(key))
                        .map(str::to_owned)
                };
                let name = field("SN:").unwrap_or_default();
                let length = field("LN:").and_then(|n| n.parse().ok()).unwrap_or(0);
                (name, length)
            })
            .collect();
        Ok(Self {
            cram: cram.to_owned(),
            reference: reference.map(Path::to_owned),
            file,
            references,
        })
    }

    fn length(&self, name: &str) -> u64 {
        self.references
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, l)| *l)
    }

    /// Slices `regions`, checks the slice against samtools and returns the record count.
    fn check(&self, regions: &[Region], scratch: &Path) -> Result<usize, Box<dyn Error>> {
        let query = SliceQuery {
            class: Class::Body,
            regions: regions.to_vec(),
        };
        let slice = self.file.slice(&query)?;
        fs::write(scratch, slice.read_all(&self.cram)?)?;

        let reference = self.reference.as_deref();
        let header = samtools(&["view", "-H"], reference, scratch, &[])?;
        assert_eq!(
            header.lines().filter(|l| l.starts_with("@HD")).count(),
            1,
            "one header for {regions:?}"
        );

        let actual = samtools(&["view"], reference, scratch, &[])?;
        let specs: Vec<String> = regions.iter().map(region_spec).collect();
        let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
        let expected = if regions.len() == 1 {
            samtools(&["view"], reference, &self.cram, &specs)?
        } else {
            self.expected_multi(regions, &specs)?
        };

        if actual != expected {
            let a: Vec<&str> = actual.lines().collect();
            let e: Vec<&str> = expected.lines().collect();
            let first = a
                .iter()
                .zip(&e)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(e.len()));
            panic!(
                "{}: {specs:?}: slice has {} records, samtools {}; first difference at {first}:\n  slice:    {:?}\n  samtools: {:?}\npieces: {:?}",
                self.cram.display(),
                a.len(),
                e.len(),
                a.get(first),
                e.get(first),
                slice.pieces,
            );
        }

        Ok(expected.lines().count())
    }

    /// The records of several regions, each once, in file order: the union of single-region
    /// queries, checked against `samtools view -M`.
    ///
    /// samtools 1.16's multi-region iterator also returns records of other reference sequences
    /// from multi-reference slices (htslib's `range.cram` has such slices); those, and only
    /// those, may differ.
    fn expected_multi(&self, regions: &[Region], specs: &[&str]) -> Result<String, Box<dyn Error>> {
        let reference = self.reference.as_deref();
        let mut wanted = std::collections::HashSet::new();
        for spec in specs {
            for line in samtools(&["view"], reference, &self.cram, &[spec])?.lines() {
                wanted.insert(line.to_owned());
            }
        }
        let all = samtools(&["view"], reference, &self.cram, &[])?;
        let mut expected = String::new();
        for line in all.lines().filter(|l| wanted.contains(*l)) {
            expected.push_str(line);
            expected.push('\n');
        }

        let names: Vec<&str> = regions
            .iter()
            .map(|r| match &r.reference {
                ReferenceName::Named(n) => n.as_str(),
                ReferenceName::Unplaced => "*",
            })
            .collect();
        // samtools warns about regions on sequences without index entries; that is fine here.
        let merged = samtools_allowing(
            &["view", "-M"],
            reference,
            &self.cram,
            specs,
            "No index entry for",
        )?;
        let foreign = |l: &&str| !names.contains(&l.split('\t').nth(2).unwrap_or(""));
        let merged_own: Vec<&str> = merged.lines().filter(|l| !foreign(l)).collect();
        let expected_lines: Vec<&str> = expected.lines().collect();
        assert_eq!(
            merged_own, expected_lines,
            "samtools view -M {specs:?} disagrees with its single-region queries"
        );

        Ok(expected)
    }

    /// A random region on a random reference sequence (lengths from one base to the whole
    /// sequence, weighted towards small ones).
    fn random_region(&self, rng: &mut ChaCha8Rng) -> Region {
        let (name, length) = &self.references[rng.random_range(0..self.references.len())];
        let max = match rng.random_range(0..10) {
            0..=4 => 2_000,
            5..=7 => 30_000,
            _ => *length,
        }
        .min(*length)
        .max(1);
        let len = rng.random_range(1..=max);
        let start = rng.random_range(0..=length - len);
        Region::new(name, start, Some(start + len))
    }
}

/// Runs samtools and returns its standard output; fails on a non-zero exit or any message on
/// standard error (warnings such as a missing end-of-file marker included).
fn samtools(
    args: &[&str],
    reference: Option<&Path>,
    file: &Path,
    regions: &[&str],
) -> Result<String, Box<dyn Error>> {
    samtools_allowing(args, reference, file, regions, "\0")
}

/// As [`samtools`], tolerating standard error lines that contain `allowed`.
fn samtools_allowing(
    args: &[&str],
    reference: Option<&Path>,
    file: &Path,
    regions: &[&str],
    allowed: &str,
) -> Result<String, Box<dyn Error>> {
    let mut command = Command::new("samtools");
    command.args(args);
    if let Some(r) = reference {
        command.arg("-T").arg(r);
    }
    command.arg(file).args(regions);
    let output = command.output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let complaints = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains(allowed))
        .count();
    if !output.status.success() || complaints > 0 {
        return Err(format!(
            "samtools {args:?} {} {regions:?} failed ({}): {stderr}",
            file.display(),
            output.status
        )
        .into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn region_spec(region: &Region) -> String {
    match &region.reference {
        ReferenceName::Unplaced => "*".to_owned(),
        ReferenceName::Named(name) => match (region.start, region.end) {
            (0, None) => name.clone(),
            (start, None) => format!("{name}:{}", start + 1),
            (start, Some(end)) => format!("{name}:{}-{end}", start + 1),
        },
    }
}

fn unplaced() -> Region {
    Region {
        reference: ReferenceName::Unplaced,
        start: 0,
        end: None,
    }
}

/// The demo cohort: two contigs long enough for several containers each.
fn demo(dir: &Path) -> Result<Subject, Box<dyn Error>> {
    let opts = DemoGenomeOptions {
        seed: 11,
        samples: vec![String::from("S1")],
        coverage: 12.0,
        contigs: vec![
            (String::from("chr20"), 260_000),
            (String::from("chr21"), 150_000),
        ],
    };
    let genomes = generate(&opts, dir)?;
    Subject::open(&genomes.samples[0].cram, Some(&genomes.reference))
}

/// Random single regions, random multi-region queries and edge cases.
fn check_all(subject: &Subject, seed: u64, random: usize, edges: &[Vec<Region>]) -> TestResult {
    let dir = tempfile::tempdir()?;
    let scratch = dir.path().join("slice.cram");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut records = 0;

    for case in edges {
        records += subject.check(case, &scratch)?;
    }

    for i in 0..random {
        let regions: Vec<Region> = if i % 5 == 4 {
            (0..rng.random_range(2..5))
                .map(|_| {
                    if rng.random_range(0..8) == 0 {
                        unplaced()
                    } else {
                        subject.random_region(&mut rng)
                    }
                })
                .collect()
        } else {
            vec![subject.random_region(&mut rng)]
        };
        records += subject.check(&regions, &scratch)?;
    }

    assert!(records > 0, "the regions held no record at all");
    Ok(())
}

#[test]
fn demo_cohort_slices_match_samtools() -> TestResult {
    if !samtools_available() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let subject = demo(dir.path())?;

    let chr20 = subject.length("chr20");
    // The CRAI of the demo file, to aim at container boundaries.
    let index = noodles::cram::crai::fs::read(format!("{}.crai", subject.cram.display()))?;
    let boundaries: Vec<u64> = index
        .iter()
        .filter(|r| r.reference_sequence_id() == Some(0))
        .filter_map(noodles::cram::crai::Record::alignment_start)
        .map(|p| u64::try_from(usize::from(p)).unwrap_or(0))
        .collect();
    assert!(
        boundaries.len() >= 2,
        "chr20 should span several containers"
    );

    let mut edges = vec![
        // Before the first read (the contigs start with a run of N).
        vec![Region::new("chr20", 0, Some(100))],
        // After the last read.
        vec![Region::new("chr20", chr20 - 50, None)],
        // Whole contigs, unplaced reads, everything named.
        vec![Region::whole("chr20")],
        vec![Region::whole("chr21")],
        vec![unplaced()],
        vec![Region::whole("chr21"), unplaced(), Region::whole("chr20")],
        // Several overlapping regions in any order.
        vec![
            Region::new("chr21", 40_000, Some(41_000)),
            Region::new("chr20", 50_000, Some(52_000)),
            Region::new("chr20", 51_500, Some(60_000)),
            Region::new("chr20", 50_500, Some(50_600)),
        ],
        // One base.
        vec![Region::new("chr21", 77_777, Some(77_778))],
    ];
    for &b in &boundaries[1..] {
        // Spanning two containers, and just around a container start.
        edges.push(vec![Region::new("chr20", b - 2_000, Some(b + 2_000))]);
        edges.push(vec![Region::new("chr20", b - 1, Some(b))]);
        edges.push(vec![Region::new("chr20", b - 300, Some(b + 10))]);
    }

    check_all(&subject, 20_250_401, 200, &edges)?;

    // A small region costs about its records: trimmed containers, not whole ones.
    let small = subject.file.slice(&SliceQuery {
        class: Class::Body,
        regions: vec![Region::new("chr20", 100_000, Some(101_000))],
    })?;
    assert!(
        small
            .pieces
            .iter()
            .any(|p| matches!(p, Piece::Inline(b) if b.len() > 38)),
        "a 1 kb region is served as trimmed containers: {:?}",
        small.pieces
    );
    assert!(small.len() * 8 < fs::metadata(&subject.cram)?.len());
    Ok(())
}

#[test]
fn htsget_na12878_slices_match_samtools() -> TestResult {
    if !samtools_available() {
        return Ok(());
    }
    let Some(shared) = shared_dir() else {
        return Ok(());
    };
    let cram = shared.join("data/htsget/htsnexus_test_NA12878.cram");
    let mut subject = Subject::open(&cram, None)?;
    // Only the sequences that hold reads.
    subject
        .references
        .retain(|(name, _)| name == "11" || name == "20");

    let edges = vec![
        vec![Region::whole("11")],
        vec![Region::whole("20")],
        vec![unplaced()],
        vec![Region::new("11", 5_015_000, Some(5_050_000))],
        vec![Region::new("11", 5_068_000, Some(5_069_000))],
        vec![Region::new("20", 0, Some(5_999_000))],
        vec![Region::new("20", 6_200_000, None)],
        vec![
            unplaced(),
            Region::new("20", 6_075_000, Some(6_076_000)),
            Region::new("11", 5_000_000, Some(5_001_000)),
        ],
    ];
    // Random regions within the covered parts of 11 and 20.
    let dir = tempfile::tempdir()?;
    let scratch = dir.path().join("slice.cram");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut records = 0;
    for case in &edges {
        records += subject.check(case, &scratch)?;
    }
    for _ in 0..60 {
        let (name, base) = if rng.random_bool(0.5) {
            ("11", 4_999_900)
        } else {
            ("20", 5_999_900)
        };
        let start = base + rng.random_range(0..110_000);
        let len = rng.random_range(1..5_000);
        records += subject.check(&[Region::new(name, start, Some(start + len))], &scratch)?;
    }
    assert!(records > 0);
    Ok(())
}

#[test]
fn htslib_range_cram_slices_match_samtools() -> TestResult {
    if !samtools_available() {
        return Ok(());
    }
    let Some(shared) = shared_dir() else {
        return Ok(());
    };
    let dir = shared.join("data/htsget/htslib");
    let subject = Subject::open(&dir.join("range.cram"), Some(&dir.join("ce.fa")))?;
    let edges = vec![
        vec![Region::whole("CHROMOSOME_I")],
        vec![Region::new("CHROMOSOME_I", 900, Some(1_000))],
        vec![Region::new("CHROMOSOME_I", 1_500, Some(2_000))],
        vec![Region::whole("CHROMOSOME_II")],
        vec![Region::whole("CHROMOSOME_III")],
        vec![Region::whole("CHROMOSOME_IV")],
        vec![
            Region::whole("CHROMOSOME_IV"),
            Region::new("CHROMOSOME_II", 2_000, Some(3_000)),
        ],
        vec![unplaced()],
    ];
    check_all(&subject, 3, 100, &edges)
}

#[test]
fn header_class_and_whole_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = DemoGenomeOptions {
        seed: 5,
        samples: vec![String::from("S1")],
        coverage: 1.0,
        contigs: vec![(String::from("chr21"), 20_000)],
    };
    let genomes = generate(&opts, dir.path())?;
    let cram = &genomes.samples[0].cram;
    let file = IndexedFile::open(Format::Cram, cram, &genomes.samples[0].crai)?;
    let len = fs::metadata(cram)?.len();

    let whole = file.slice(&SliceQuery::default())?;
    assert!(whole.whole_file);
    assert_eq!(whole.pieces, vec![Piece::Range { start: 0, end: len }]);

    let header = file.slice(&SliceQuery {
        class: Class::Header,
        regions: Vec::new(),
    })?;
    assert!(!header.whole_file);
    let bytes = header.read_all(cram)?;
    assert_eq!(&bytes[..4], b"CRAM");
    assert_eq!(
        bytes[bytes.len() - 38..],
        fs::read(cram)?[len as usize - 38..]
    );

    if samtools_available() {
        let scratch = dir.path().join("header.cram");
        fs::write(&scratch, &bytes)?;
        let text = samtools(&["view", "-H"], Some(&genomes.reference), &scratch, &[])?;
        assert_eq!(text.lines().filter(|l| l.starts_with("@HD")).count(), 1);
        let body = samtools(&["view"], Some(&genomes.reference), &scratch, &[])?;
        assert!(body.is_empty());
    }
    Ok(())
}

#[test]
fn errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = DemoGenomeOptions {
        seed: 5,
        samples: vec![String::from("S1")],
        coverage: 1.0,
        contigs: vec![(String::from("chr21"), 20_000)],
    };
    let genomes = generate(&opts, dir.path())?;
    let sample = &genomes.samples[0];
    let file = IndexedFile::open(Format::Cram, &sample.cram, &sample.crai)?;
    assert_eq!(file.reference_names(), ["chr21"]);

    let query = |regions| SliceQuery {
        class: Class::Body,
        regions,
    };
    assert!(matches!(
        file.slice(&query(vec![Region::whole("chr1")])),
        Err(SliceError::UnknownReference(name)) if name == "chr1"
    ));
    assert!(matches!(
        file.slice(&query(vec![Region::new("chr21", 20_000, None)])),
        Err(SliceError::InvalidRange(_))
    ));
    assert!(matches!(
        file.slice(&query(vec![Region::new("chr21", 30_000, Some(40_000))])),
        Err(SliceError::InvalidRange(_))
    ));
    // An end past the sequence is clamped.
    file.slice(&query(vec![Region::new("chr21", 19_000, Some(90_000))]))?;

    // Damaged files and indices: errors, never panics.
    let original = fs::read(&sample.cram)?;
    let crai = fs::read(&sample.crai)?;
    let damaged_cram = dir.path().join("damaged.cram");
    let damaged_crai = dir.path().join("damaged.cram.crai");
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for round in 0..300 {
        let mut bytes = original.clone();
        let mut index = crai.clone();
        match round % 4 {
            0 => bytes.truncate(rng.random_range(0..bytes.len())),
            1 => {
                for _ in 0..rng.random_range(1..8) {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] = rng.random();
                }
            }
            2 => {
                // Damage inside the data containers only (past the header).
                let i = rng.random_range(bytes.len() / 4..bytes.len() - 38);
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            _ => {
                let i = rng.random_range(0..index.len());
                index[i] = rng.random();
            }
        }
        fs::write(&damaged_cram, &bytes)?;
        fs::write(&damaged_crai, &index)?;
        if let Ok(file) = IndexedFile::open(Format::Cram, &damaged_cram, &damaged_crai) {
            for region in [
                Region::new("chr21", 5_000, Some(6_000)),
                Region::whole("chr21"),
            ] {
                // Either a slice or an error; the point is not to panic.
                let _ = file.slice(&query(vec![region, unplaced()]));
            }
        }
    }
    Ok(())
}
