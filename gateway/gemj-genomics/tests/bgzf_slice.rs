//! BGZF slices (BAM, VCF.gz, BCF) against samtools and bcftools: for random regions over the
//! demo cohort, over files whose records cross BGZF block boundaries (bgzip VCF, bcftools BCF,
//! a bgzip-recompressed BAM) and over the real files in the shared htsget data, the tool reading
//! the slice prints exactly the records it prints for the region on the local file, with one
//! header and no warning.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use gemj_demo::genomes::{DemoGenomeOptions, generate};
use gemj_genomics::slice::{Class, Format, IndexedFile, ReferenceName, Region, SliceQuery};
use rand::{Rng as _, SeedableRng as _};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether the tools are here; in CI their absence is a failure.
fn tools() -> bool {
    let ok = ["samtools", "bcftools", "bgzip", "tabix"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(
        ok || !ci(),
        "samtools, bcftools, bgzip and tabix are required in CI"
    );
    if !ok {
        eprintln!("skipping: samtools/bcftools/bgzip/tabix not installed");
    }
    ok
}

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var("GEMJ_SHARED_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    if dir.join("data/htsget").is_dir() {
        Some(dir)
    } else {
        assert!(!ci(), "the shared data is missing at {}", dir.display());
        None
    }
}

fn run(cmd: &mut Command) -> Result<(String, String), Box<dyn std::error::Error>> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok((
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

fn tool(format: Format) -> &'static str {
    if format.is_reads() {
        "samtools"
    } else {
        "bcftools"
    }
}

fn region_arg(r: &Region) -> String {
    match &r.reference {
        ReferenceName::Unplaced => "*".to_owned(),
        ReferenceName::Named(n) => match r.end {
            Some(e) => format!("{n}:{}-{e}", r.start + 1),
            None if r.start == 0 => n.clone(),
            None => format!("{n}:{}", r.start + 1),
        },
    }
}

/// The records the tool prints for `regions` on the local file (deduplicated, file order).
fn expected(
    format: Format,
    path: &Path,
    regions: &[Region],
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut cmd = Command::new(tool(format));
    match format {
        Format::Bam | Format::Cram => cmd.arg("view").arg("-M"),
        Format::Vcf | Format::Bcf => cmd.arg("view").arg("-H"),
    };
    cmd.arg(path);
    if format.is_reads() {
        for r in regions {
            cmd.arg(region_arg(r));
        }
    } else {
        let list: Vec<String> = regions.iter().map(region_arg).collect();
        cmd.arg("-r").arg(list.join(","));
    }
    let (out, _) = run(&mut cmd)?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// The records the tool prints reading the slice, and the header line count check.
fn actual(
    format: Format,
    file: &IndexedFile,
    query: &SliceQuery,
    dir: &Path,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let slice = file.slice(query)?;
    let bytes = slice.read_all_from(file.source())?;
    let out = dir.join(match format {
        Format::Bam => "slice.bam",
        Format::Cram => "slice.cram",
        Format::Vcf => "slice.vcf.gz",
        Format::Bcf => "slice.bcf",
    });
    std::fs::write(&out, &bytes)?;
    let mut cmd = Command::new(tool(format));
    match format {
        Format::Bam | Format::Cram => cmd.arg("view"),
        Format::Vcf | Format::Bcf => cmd.arg("view").arg("-H"),
    };
    let (records, stderr) = run(cmd.arg(&out))?;
    assert!(
        stderr.trim().is_empty(),
        "{} warned on {query:?}: {stderr}",
        tool(format)
    );
    let (header, _) = run(Command::new(tool(format)).arg("view").arg("-h").arg(&out))?;
    let first = if format.is_reads() {
        "@HD"
    } else {
        "##fileformat"
    };
    assert_eq!(
        header.lines().filter(|l| l.starts_with(first)).count(),
        1,
        "one header for {query:?}"
    );
    Ok(records.lines().map(str::to_owned).collect())
}

fn check_regions(
    format: Format,
    path: &Path,
    index: &Path,
    regions: Vec<Vec<Region>>,
    dir: &Path,
) -> TestResult {
    let file = IndexedFile::open(format, path, index)?;
    for rs in regions {
        let query = SliceQuery {
            class: Class::Body,
            regions: rs.clone(),
        };
        let mut want = expected(format, path, &rs)?;
        let mut got = actual(format, &file, &query, dir)?;
        if rs.len() > 1 {
            // bcftools prints several regions in the order of the region list, not file order.
            want.sort();
            got.sort();
        }
        assert_eq!(
            got.len(),
            want.len(),
            "{} {rs:?}: record count",
            path.display()
        );
        assert_eq!(got, want, "{} {rs:?}", path.display());
    }
    Ok(())
}

fn random_regions(
    file: &IndexedFile,
    lengths: &[(String, u64)],
    n: usize,
    seed: u64,
) -> Vec<Vec<Region>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    let _ = file;
    for i in 0..n {
        let mut one = || {
            let (name, len) = &lengths[rng.random_range(0..lengths.len())];
            let width = match rng.random_range(0..4) {
                0 => rng.random_range(1..200),
                1 => rng.random_range(200..5_000),
                2 => rng.random_range(5_000..100_000),
                _ => rng.random_range(100_000..1_000_000),
            };
            let start = rng.random_range(0..*len);
            Region::new(name, start, Some((start + width).min(*len).max(start + 1)))
        };
        if i % 10 == 9 {
            // Several regions, some overlapping, out of order.
            let mut rs: Vec<Region> = (0..3).map(|_| one()).collect();
            let copy = Region::new(
                match &rs[0].reference {
                    ReferenceName::Named(n) => n,
                    ReferenceName::Unplaced => "",
                },
                rs[0].start + 1,
                rs[0].end.map(|e| e + 500),
            );
            rs.push(copy);
            rs.reverse();
            out.push(rs);
        } else {
            out.push(vec![one()]);
        }
    }
    out
}

fn contig_lengths(fai: &Path) -> Result<Vec<(String, u64)>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(fai)?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_owned(), f.next()?.parse().ok()?))
        })
        .collect())
}

#[test]
fn demo_cohort_random_regions() -> TestResult {
    if !tools() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let opts = DemoGenomeOptions {
        samples: (1..=6).map(|i| format!("SP-T{i:02}")).collect(),
        coverage: 3.0,
        contigs: vec![("chr20".to_owned(), 300_000), ("chr21".to_owned(), 200_000)],
        ..Default::default()
    };
    let g = generate(&opts, &dir.path().join("demo"))?;
    let lengths = contig_lengths(&g.reference_fai)?;
    let work = dir.path();
    let s = &g.samples[0];
    for (format, path, index, seed) in [
        (Format::Bam, &s.bam, &s.bai, 1),
        (Format::Vcf, &s.vcf, &s.tbi, 2),
        (Format::Vcf, &g.joint_vcf, &g.joint_vcf_tbi, 3),
        (Format::Bcf, &g.joint_bcf, &g.joint_bcf_csi, 4),
    ] {
        let file = IndexedFile::open(format, path, index)?;
        let regions = random_regions(&file, &lengths, 200, seed);
        check_regions(format, path, index, regions, work)?;
    }
    Ok(())
}

/// Files whose records cross BGZF block boundaries, as bgzip, bcftools and non-htslib writers
/// make them: the slices must still be valid.
#[test]
fn records_crossing_blocks() -> TestResult {
    if !tools() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let opts = DemoGenomeOptions {
        samples: (1..=24).map(|i| format!("SP-X{i:02}")).collect(),
        coverage: 4.0,
        contigs: vec![("chr20".to_owned(), 250_000), ("chr22".to_owned(), 150_000)],
        ..Default::default()
    };
    let g = generate(&opts, &dir.path().join("demo"))?;
    let lengths = contig_lengths(&g.reference_fai)?;
    let w = dir.path();
    // bgzip-compressed VCF: lines cut at 64 KiB boundaries.
    let plain = w.join("joint.vcf");
    let (text, _) = run(Command::new("bcftools").arg("view").arg(&g.joint_vcf))?;
    std::fs::write(&plain, text)?;
    run(Command::new("bgzip").arg("-f").arg(&plain))?;
    let vcf = w.join("joint.vcf.gz");
    run(Command::new("tabix")
        .arg("-f")
        .arg("-p")
        .arg("vcf")
        .arg(&vcf))?;
    // bcftools BCF: records span blocks.
    let bcf = w.join("joint.bcf");
    run(Command::new("bcftools")
        .args(["view", "-Ob", "-o"])
        .arg(&bcf)
        .arg(&g.joint_vcf))?;
    run(Command::new("bcftools").arg("index").arg("-f").arg(&bcf))?;
    // A BAM recompressed by bgzip (non-htslib block layout).
    let bam = w.join("re.bam");
    let (_, _) = run(Command::new("sh").arg("-c").arg(format!(
        "samtools view -u {} | bgzip -d -c | bgzip -c > {} && samtools index {}",
        g.samples[0].bam.display(),
        bam.display(),
        bam.display()
    )))?;
    for (format, path, index, seed) in [
        (Format::Vcf, vcf.clone(), w.join("joint.vcf.gz.tbi"), 11),
        (Format::Bcf, bcf.clone(), w.join("joint.bcf.csi"), 12),
        (Format::Bam, bam.clone(), w.join("re.bam.bai"), 13),
    ] {
        let file = IndexedFile::open(format, &path, &index)?;
        let regions = random_regions(&file, &lengths, 200, seed);
        check_regions(format, &path, &index, regions, w)?;
    }
    Ok(())
}

#[test]
fn shared_real_files() -> TestResult {
    if !tools() {
        return Ok(());
    }
    let Some(shared) = shared_dir() else {
        return Ok(());
    };
    let d = shared.join("data/htsget");
    let dir = tempfile::tempdir()?;
    let bam = d.join("htsnexus_test_NA12878.bam");
    let r = |n: &str, s: u64, e: u64| Region::new(n, s, Some(e));
    let unplaced = Region {
        reference: ReferenceName::Unplaced,
        start: 0,
        end: None,
    };
    check_regions(
        Format::Bam,
        &bam,
        &d.join("htsnexus_test_NA12878.bam.bai"),
        vec![
            vec![r("11", 5_015_000, 5_050_000)],
            vec![r("11", 4_999_000, 5_000_100)],
            vec![r("20", 6_000_000, 6_000_001)],
            vec![Region::whole("11")],
            vec![unplaced.clone()],
            vec![
                unplaced,
                r("20", 6_050_000, 6_050_100),
                r("11", 5_020_000, 5_020_010),
            ],
            vec![r("11", 5_030_000, 5_031_000), r("11", 5_030_500, 5_032_000)],
            vec![r("1", 0, 1000)],
        ],
        dir.path(),
    )?;
    let giab = |ext: &str| d.join(format!("giab/HG002_GIAB.filtered.{ext}"));
    let mut giab_regions: Vec<Vec<Region>> = (1..=22)
        .map(|c| vec![r(&c.to_string(), 1_000_000 * c, 1_000_000 * c + 20_000_000)])
        .collect();
    giab_regions.push(vec![
        r("1", 0, 1 << 28),
        r("2", 100, 5_000_000),
        r("1", 50_000, 70_000),
    ]);
    for (format, file, index) in [
        (Format::Vcf, giab("vcf.gz"), giab("vcf.gz.tbi")),
        (Format::Vcf, giab("vcf.gz"), giab("vcf.gz.csi")),
        (Format::Bcf, giab("bcf"), giab("bcf.csi")),
    ] {
        check_regions(format, &file, &index, giab_regions.clone(), dir.path())?;
    }
    for (format, file, index) in [
        (
            Format::Vcf,
            d.join("spec-v4.3.vcf.gz"),
            d.join("spec-v4.3.vcf.gz.tbi"),
        ),
        (
            Format::Bcf,
            d.join("spec-v4.3.bcf"),
            d.join("spec-v4.3.bcf.csi"),
        ),
    ] {
        check_regions(
            format,
            &file,
            &index,
            vec![
                vec![r("20", 14_000, 1_110_700)],
                vec![r("20", 1_110_695, 1_110_696)],
                vec![Region::whole("20")],
            ],
            dir.path(),
        )?;
    }
    Ok(())
}

#[test]
fn header_class_and_errors() -> TestResult {
    if !tools() {
        return Ok(());
    }
    let Some(shared) = shared_dir() else {
        return Ok(());
    };
    let d = shared.join("data/htsget");
    let file = IndexedFile::open(
        Format::Bam,
        &d.join("htsnexus_test_NA12878.bam"),
        &d.join("htsnexus_test_NA12878.bam.bai"),
    )?;
    let dir = tempfile::tempdir()?;
    let header = SliceQuery {
        class: Class::Header,
        regions: vec![],
    };
    let got = actual(Format::Bam, &file, &header, dir.path())?;
    assert!(got.is_empty(), "a header slice holds no records");
    let names: BTreeSet<&str> = file.reference_names().iter().map(String::as_str).collect();
    assert!(names.contains("11") && names.contains("MT"));
    use gemj_genomics::slice::SliceError;
    let err = |q: SliceQuery| file.slice(&q).err();
    assert!(matches!(
        err(SliceQuery {
            class: Class::Body,
            regions: vec![Region::new("chrNope", 0, Some(10))]
        }),
        Some(SliceError::UnknownReference(_))
    ));
    assert!(matches!(
        err(SliceQuery {
            class: Class::Body,
            regions: vec![Region::new("11", 10, Some(10))]
        }),
        Some(SliceError::InvalidRange(_))
    ));
    assert!(matches!(
        err(SliceQuery {
            class: Class::Header,
            regions: vec![Region::new("11", 0, Some(10))]
        }),
        Some(SliceError::InvalidInput(_))
    ));
    assert!(matches!(
        err(SliceQuery {
            class: Class::Body,
            regions: vec![Region::new("11", 999_999_999, None)]
        }),
        Some(SliceError::InvalidRange(_))
    ));
    Ok(())
}
