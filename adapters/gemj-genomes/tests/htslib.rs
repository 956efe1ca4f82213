//! The indexes this crate writes, read by samtools, bcftools and tabix (htslib): for generated
//! files (BAM with a BAI, BAM with a CSI for a 1 Gbp reference, CRAM, BGZF VCF, BCF) and the
//! shipped BAM, region counts through our index equal those through the tools' own index, and
//! equal noodles' answers. Skipped when the tools are absent, unless `CI=true`.

use std::{
    error::Error,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use gemj_genomes::index::{Index, bgzip_vcf, build_index, write_index};
use gemj_model::DataFormat;
use noodles::{
    bam,
    core::Region,
    csi::{self, BinningIndex},
    tabix,
};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

type TestResult = Result<(), Box<dyn Error>>;

/// Whether `tools` all run; an error under CI when one does not.
fn have(tools: &[&str]) -> Result<bool, Box<dyn Error>> {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            Command::new(t)
                .arg("--version")
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(true);
    }
    if gemj_schemas::testing::is_ci() {
        return Err(format!("CI=true but {missing:?} not installed").into());
    }
    eprintln!("skipped: {missing:?} not installed (set CI=true to make this an error)");
    Ok(false)
}

/// Runs a command; its standard output.
fn run(program: &str, args: &[&str]) -> Result<String, Box<dyn Error>> {
    let out = Command::new(program).args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn s(p: &Path) -> Result<&str, Box<dyn Error>> {
    p.to_str().ok_or_else(|| "non-UTF-8 path".into())
}

/// `samtools view -c FILE REGION` (and `bcftools view -H ... | wc -l` for variants).
fn count(tool: &str, file: &Path, region: &str) -> Result<usize, Box<dyn Error>> {
    let out = match tool {
        "samtools" => run("samtools", &["view", "-c", s(file)?, region])?,
        "bcftools" => {
            let lines = run("bcftools", &["view", "-H", s(file)?, region])?;
            lines.lines().count().to_string()
        }
        _ => {
            let lines = run("tabix", &[s(file)?, region])?;
            lines.lines().count().to_string()
        }
    };
    Ok(out.trim().parse()?)
}

/// Random regions on `contigs` (name, length), plus each whole contig.
fn random_regions(rng: &mut ChaCha8Rng, contigs: &[(&str, u64)], n: usize) -> Vec<String> {
    let mut out: Vec<String> = contigs.iter().map(|(c, _)| (*c).to_owned()).collect();
    for _ in 0..n {
        let (name, len) = contigs[rng.random_range(0..contigs.len())];
        let start = rng.random_range(1..len);
        let width = match rng.random_range(0..3) {
            0 => rng.random_range(0..1_000),
            1 => rng.random_range(0..100_000),
            _ => rng.random_range(0..5_000_000),
        };
        let end = (start + width).min(len);
        out.push(format!("{name}:{start}-{end}"));
    }
    out
}

/// A coordinate-sorted SAM with reads of span 100 (some with a deletion or soft clip), placed
/// unmapped reads, and unplaced unmapped reads at the end.
fn synthetic_sam(rng: &mut ChaCha8Rng, contigs: &[(&str, u64)], reads: usize) -> String {
    let mut sam = String::from("@HD\tVN:1.6\tSO:coordinate\n");
    for (name, len) in contigs {
        let _ = writeln!(sam, "@SQ\tSN:{name}\tLN:{len}");
    }
    let seq: String = (0..100).map(|i| ['A', 'C', 'G', 'T'][i % 4]).collect();
    let qual = "I".repeat(100);
    let mut n = 0;
    for (name, len) in contigs {
        let mut positions: Vec<u64> = (0..reads / contigs.len())
            .map(|_| rng.random_range(1..len.saturating_sub(200).max(2)))
            .collect();
        positions.sort_unstable();
        for pos in positions {
            n += 1;
            let (flag, cigar) = match rng.random_range(0..20) {
                0 => (4, "*"),
                1 => (0, "50M10D50M"),
                2 => (16, "10S90M"),
                _ => (0, "100M"),
            };
            let _ = writeln!(
                sam,
                "r{n}\t{flag}\t{name}\t{pos}\t60\t{cigar}\t*\t0\t0\t{seq}\t{qual}"
            );
        }
    }
    for _ in 0..reads / 50 {
        n += 1;
        let _ = writeln!(sam, "r{n}\t4\t*\t0\t0\t*\t*\t0\t0\t{seq}\t{qual}");
    }
    sam
}

fn noodles_bam_count(
    path: &Path,
    index: &impl BinningIndex,
    region: &str,
) -> Result<usize, Box<dyn Error>> {
    let region: Region = region.parse()?;
    let mut reader = bam::io::reader::Builder.build_from_path(path)?;
    let header = reader.read_header()?;
    let mut n = 0;
    for record in reader.query(&header, index, &region)?.records() {
        record?;
        n += 1;
    }
    Ok(n)
}

/// Builds `name.bam` from SAM text, indexed by us; `theirs.bam` indexed by samtools.
fn bam_pair(dir: &Path, sam: &str, csi: bool) -> Result<(PathBuf, PathBuf, Index), Box<dyn Error>> {
    let sam_path = dir.join("x.sam");
    fs::write(&sam_path, sam)?;
    let ours = dir.join("ours.bam");
    let theirs = dir.join("theirs.bam");
    run("samtools", &["view", "-b", "-o", s(&ours)?, s(&sam_path)?])?;
    fs::copy(&ours, &theirs)?;
    let index = build_index(&ours)?;
    write_index(&ours)?;
    if csi {
        run("samtools", &["index", "-c", s(&theirs)?])?;
    } else {
        run("samtools", &["index", s(&theirs)?])?;
    }
    Ok((ours, theirs, index))
}

#[test]
fn bam_bai_agrees_with_samtools() -> TestResult {
    if !have(&["samtools"])? {
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let contigs = [("chrA", 5_000_000), ("chrB", 2_000_000), ("chrC", 300_000)];
    let dir = tempfile::tempdir()?;
    let sam = synthetic_sam(&mut rng, &contigs, 60_000);
    let (ours, theirs, index) = bam_pair(dir.path(), &sam, false)?;
    let Index::Bai(bai) = index else {
        return Err("expected a BAI".into());
    };
    // The same index as samtools wrote (bins, chunks, linear index, counts; htslib writes bins
    // in hash-table order, so the bytes differ).
    assert_eq!(bam::bai::fs::read(dir.path().join("theirs.bam.bai"))?, bai);
    assert_eq!(bam::bai::fs::read(dir.path().join("ours.bam.bai"))?, bai);
    for region in random_regions(&mut rng, &contigs, 60) {
        let a = count("samtools", &ours, &region)?;
        let b = count("samtools", &theirs, &region)?;
        assert_eq!(a, b, "{region}");
        assert_eq!(noodles_bam_count(&ours, &bai, &region)?, a, "{region}");
    }
    // Unplaced unmapped reads.
    let stats = run("samtools", &["idxstats", s(&ours)?])?;
    let theirs_stats = run("samtools", &["idxstats", s(&theirs)?])?;
    assert_eq!(stats, theirs_stats);
    Ok(())
}

#[test]
fn long_reference_bam_gets_a_csi_samtools_reads() -> TestResult {
    if !have(&["samtools"])? {
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let contigs = [("big", 1_000_000_000), ("small", 100_000)];
    let dir = tempfile::tempdir()?;
    let sam = synthetic_sam(&mut rng, &contigs, 20_000);
    let (ours, theirs, index) = bam_pair(dir.path(), &sam, true)?;
    let Index::Csi(csi) = index else {
        return Err("expected a CSI".into());
    };
    assert_eq!(csi.depth(), 6);
    assert_eq!(csi::fs::read(dir.path().join("theirs.bam.csi"))?, csi);
    assert_eq!(csi::fs::read(dir.path().join("ours.bam.csi"))?, csi);
    let regions = random_regions(&mut rng, &contigs, 40);
    for region in regions
        .iter()
        .chain(["big:600000000-900000000".to_owned()].iter())
    {
        let a = count("samtools", &ours, region)?;
        let b = count("samtools", &theirs, region)?;
        assert_eq!(a, b, "{region}");
        assert_eq!(noodles_bam_count(&ours, &csi, region)?, a, "{region}");
    }
    Ok(())
}

#[test]
fn cram_crai_agrees_with_samtools() -> TestResult {
    if !have(&["samtools"])? {
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    // Two long references; then many short ones, which samtools packs into multi-reference
    // slices (their CRAI entries come from decoded records).
    let long: Vec<(String, u64)> = vec![("chrA".into(), 3_000_000), ("chrB".into(), 1_000_000)];
    let short: Vec<(String, u64)> = (0..120).map(|i| (format!("ctg{i}"), 20_000)).collect();
    for (contigs, reads) in [(long, 30_000), (short, 6_000)] {
        let contigs: Vec<(&str, u64)> = contigs.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        let dir = tempfile::tempdir()?;
        let sam = synthetic_sam(&mut rng, &contigs, reads);
        let (bam_path, _, _) = bam_pair(dir.path(), &sam, false)?;
        let ours = dir.path().join("ours.cram");
        let theirs = dir.path().join("theirs.cram");
        run(
            "samtools",
            &[
                "view",
                "-C",
                "--output-fmt-option",
                "no_ref=1",
                "-o",
                s(&ours)?,
                s(&bam_path)?,
            ],
        )?;
        fs::copy(&ours, &theirs)?;
        let (crai, format) = write_index(&ours)?;
        assert_eq!(format, DataFormat::Crai);
        run("samtools", &["index", s(&theirs)?])?;
        let text = |p: &Path| -> Result<String, Box<dyn Error>> {
            let mut out = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::MultiGzDecoder::new(fs::File::open(p)?),
                &mut out,
            )?;
            Ok(out)
        };
        let expected = text(&dir.path().join("theirs.cram.crai"))?;
        assert_eq!(text(&crai)?, expected);
        if contigs.len() > 2 {
            // Several references share a slice: the same container and slice on several lines.
            let slices: std::collections::HashSet<&str> = expected
                .lines()
                .filter_map(|l| l.split('\t').nth(3))
                .collect();
            assert!(
                slices.len() < expected.lines().count(),
                "no multi-reference slice"
            );
        }
        for region in random_regions(&mut rng, &contigs, 30) {
            assert_eq!(
                count("samtools", &ours, &region)?,
                count("samtools", &theirs, &region)?,
                "{region}"
            );
        }
    }
    Ok(())
}

/// A sorted VCF on three contigs, with multi-allelic sites and symbolic deletions with END.
fn synthetic_vcf(rng: &mut ChaCha8Rng, contigs: &[(&str, u64)], records: usize) -> String {
    let mut vcf = String::from("##fileformat=VCFv4.3\n");
    for (name, len) in contigs {
        let _ = writeln!(vcf, "##contig=<ID={name},length={len}>");
    }
    vcf.push_str(
        "##INFO=<ID=END,Number=1,Type=Integer,Description=\"End\">\n\
         ##INFO=<ID=SVTYPE,Number=1,Type=String,Description=\"Type\">\n\
         ##ALT=<ID=DEL,Description=\"Deletion\">\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n",
    );
    for (name, len) in contigs {
        let mut positions: Vec<u64> = (0..records / contigs.len())
            .map(|_| rng.random_range(1..len - 10_000))
            .collect();
        positions.sort_unstable();
        for pos in positions {
            match rng.random_range(0..15) {
                0 => {
                    let end = pos + rng.random_range(1..5_000);
                    let _ = writeln!(
                        vcf,
                        "{name}\t{pos}\t.\tA\t<DEL>\t.\tPASS\tSVTYPE=DEL;END={end}\tGT\t0/1\t0/0"
                    );
                }
                1 => {
                    let _ = writeln!(
                        vcf,
                        "{name}\t{pos}\t.\tACGTACGT\tA,AC\t.\tPASS\t.\tGT\t1/2\t0/1"
                    );
                }
                _ => {
                    let _ = writeln!(vcf, "{name}\t{pos}\t.\tC\tT\t.\tPASS\t.\tGT\t0|1\t1|1");
                }
            }
        }
    }
    vcf
}

#[test]
fn vcf_tbi_and_bcf_csi_agree_with_htslib() -> TestResult {
    if !have(&["bcftools", "tabix", "bgzip"])? {
        return Ok(());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let contigs = [("chr1", 20_000_000), ("chr2", 8_000_000), ("chrM", 16_569)];
    let dir = tempfile::tempdir()?;
    let plain = dir.path().join("x.vcf");
    let text = synthetic_vcf(&mut rng, &contigs, 40_000);
    fs::write(&plain, &text)?;

    // bgzip_vcf and write_index, against bgzip and tabix.
    let ours = dir.path().join("ours.vcf.gz");
    let theirs = dir.path().join("theirs.vcf.gz");
    bgzip_vcf(&plain, &ours)?;
    assert_eq!(run("bgzip", &["-dc", s(&ours)?])?, text);
    let (tbi, format) = write_index(&ours)?;
    assert_eq!(format, DataFormat::Tbi);
    assert!(tbi.ends_with("ours.vcf.gz.tbi"));
    // tabix on the same BGZF file.
    fs::copy(&ours, &theirs)?;
    run("tabix", &["-p", "vcf", s(&theirs)?])?;
    assert_eq!(
        tabix::fs::read(&tbi)?,
        tabix::fs::read(dir.path().join("theirs.vcf.gz.tbi"))?
    );
    // And bgzip's own output decompresses to the same text.
    let by_bgzip = dir.path().join("bgzip.vcf.gz");
    fs::write(
        &by_bgzip,
        Command::new("bgzip")
            .args(["-c", s(&plain)?])
            .output()?
            .stdout,
    )?;
    assert_eq!(run("bgzip", &["-dc", s(&by_bgzip)?])?, text);

    // The same records as BCF, indexed by us and by bcftools.
    let ours_bcf = dir.path().join("ours.bcf");
    let theirs_bcf = dir.path().join("theirs.bcf");
    run(
        "bcftools",
        &["view", "-Ob", "-o", s(&ours_bcf)?, s(&plain)?],
    )?;
    fs::copy(&ours_bcf, &theirs_bcf)?;
    let (csi, format) = write_index(&ours_bcf)?;
    assert_eq!(format, DataFormat::Csi);
    assert!(csi.ends_with("ours.bcf.csi"));
    run("bcftools", &["index", s(&theirs_bcf)?])?;
    assert_eq!(
        csi::fs::read(&csi)?,
        csi::fs::read(dir.path().join("theirs.bcf.csi"))?
    );

    for region in random_regions(&mut rng, &contigs, 60) {
        let expect = count("tabix", &theirs, &region)?;
        assert_eq!(count("tabix", &ours, &region)?, expect, "tabix {region}");
        assert_eq!(
            count("bcftools", &ours, &region)?,
            expect,
            "bcftools vcf {region}"
        );
        assert_eq!(
            count("bcftools", &ours_bcf, &region)?,
            count("bcftools", &theirs_bcf, &region)?,
            "bcftools bcf {region}"
        );
    }
    Ok(())
}

#[test]
fn shipped_files_reindexed_answer_samtools_and_bcftools_alike() -> TestResult {
    if !have(&["samtools", "bcftools"])? {
        return Ok(());
    }
    let Some(shared) = gemj_schemas::testing::shared_dir()? else {
        return Ok(());
    };
    let data = shared.join("data/htsget");
    let dir = tempfile::tempdir()?;
    let bam = dir.path().join("htsnexus_test_NA12878.bam");
    fs::copy(data.join("htsnexus_test_NA12878.bam"), &bam)?;
    write_index(&bam)?;
    // samtools view -c with our BAI (PROVENANCE.md's 12,789 and 14,425 are the mapped reads).
    assert_eq!(count("samtools", &bam, "11")?, 12_898);
    assert_eq!(count("samtools", &bam, "20")?, 14_545);
    let original = data.join("htsnexus_test_NA12878.bam");
    for region in [
        "11:5015000-5050000",
        "20:5999000-6000100",
        "11:1-4999999",
        "1",
    ] {
        assert_eq!(
            count("samtools", &bam, region)?,
            count("samtools", &original, region)?,
            "{region}"
        );
    }
    assert_eq!(
        bam::bai::fs::read(dir.path().join("htsnexus_test_NA12878.bam.bai"))?,
        bam::bai::fs::read(data.join("htsnexus_test_NA12878.bam.bai"))?
    );

    for name in ["HG002_GIAB.filtered.bcf", "HG002_GIAB.filtered.vcf.gz"] {
        let copy = dir.path().join(name);
        fs::copy(data.join("giab").join(name), &copy)?;
        write_index(&copy)?;
        for region in ["1", "6:1-30000000", "22:20000000-30000000", "9"] {
            assert_eq!(
                count("bcftools", &copy, region)?,
                count("bcftools", &data.join("giab").join(name), region)?,
                "{name} {region}"
            );
        }
    }
    Ok(())
}
