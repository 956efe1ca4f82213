//! `slice::samples::drop_samples` against bcftools 1.16: the demo cohort's joint VCF.gz and BCF,
//! the htsget spec VCF/BCF, hand-made edge cases, and damaged input.
//!
//! The expected records are `bcftools view -s ^X` with `AF` (and `NS` when declared) refilled by
//! `bcftools +fill-tags`, cross-sample INFO fields removed, and the records dropped whose ALT
//! alleles only excluded samples carry (their `AC` over all samples, from `+fill-tags -t AC`,
//! is positive and their `AC` over the remaining samples is 0).

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{Read as _, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use gemj_demo::genomes::{DemoGenomeOptions, generate};
use gemj_genomics::slice::{
    Format, SliceError,
    samples::{DropStats, drop_samples},
};
use noodles::bgzf;

use gemj_bgzf::EOF_BLOCK as BGZF_EOF;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether bcftools can run: panics under CI when it cannot, else prints a notice.
fn have_bcftools() -> bool {
    let ok = Command::new("bcftools")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(!ci(), "bcftools is required when CI=true");
        eprintln!("notice: bcftools not found; skipping the comparison with bcftools");
    }
    ok
}

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GEMJ_SHARED_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let data = dir.join("data/htsget");
    if data.is_dir() {
        Some(data)
    } else {
        assert!(
            !ci(),
            "shared data {} is required when CI=true",
            data.display()
        );
        eprintln!("notice: {} not found; skipping", data.display());
        None
    }
}

/// Runs `sh -c script` with `args` as `$1`, `$2`, ...; returns stdout, asserting success and an
/// empty stderr.
fn sh(script: &str, args: &[&Path]) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .output()
        .expect("run sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} {args:?} failed: {stderr}");
    assert!(
        stderr.trim().is_empty(),
        "{script} {args:?} warned: {stderr}"
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn run(format: Format, input: &[u8], exclude: &[&str]) -> Result<(DropStats, Vec<u8>), SliceError> {
    let exclude: BTreeSet<String> = exclude.iter().map(|s| (*s).to_owned()).collect();
    let mut out = Vec::new();
    drop_samples(format, input, &exclude, &mut out).map(|stats| (stats, out))
}

fn decompress(bytes: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    bgzf::io::Reader::new(bytes)
        .read_to_end(&mut text)
        .expect("decompress");
    text
}

fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut writer = bgzf::io::Writer::new(Vec::new());
    writer.write_all(bytes).expect("compress");
    writer.finish().expect("compress")
}

/// One VCF data line: the columns, with INFO as a map.
#[derive(Debug)]
struct Line {
    fixed: Vec<String>,
    info: BTreeMap<String, String>,
    rest: Vec<String>,
}

fn parse_line(line: &str) -> Line {
    let columns: Vec<&str> = line.split('\t').collect();
    assert!(columns.len() >= 8, "short line {line:?}");
    let info = if columns[7] == "." {
        BTreeMap::new()
    } else {
        columns[7]
            .split(';')
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (e.to_owned(), String::new()),
            })
            .collect()
    };
    Line {
        fixed: columns[..7].iter().map(|s| (*s).to_owned()).collect(),
        info,
        rest: columns[8..].iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn ac_sum(info: &BTreeMap<String, String>) -> u64 {
    info.get("AC").map_or(0, |ac| {
        ac.split(',').filter_map(|c| c.parse::<u64>().ok()).sum()
    })
}

fn assert_same_line(actual: &str, expected: &Line, context: &str) {
    let a = parse_line(actual);
    assert_eq!(a.fixed, expected.fixed, "{context}: {actual}");
    assert_eq!(a.rest, expected.rest, "{context}: {actual}");
    let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&a.info), keys(&expected.info), "{context}: {actual}");
    for (key, value) in &a.info {
        let want = &expected.info[key];
        if key == "AF" {
            let af: Vec<&str> = value.split(',').collect();
            let want_af: Vec<&str> = want.split(',').collect();
            assert_eq!(af.len(), want_af.len(), "{context}: AF of {actual}");
            for (x, y) in af.iter().zip(&want_af) {
                match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => assert!((x - y).abs() < 1e-6, "{context}: AF of {actual}"),
                    _ => assert_eq!(x, y, "{context}: AF of {actual}"),
                }
            }
        } else {
            assert_eq!(value, want, "{context}: {key} of {actual}");
        }
    }
}

/// What a file is checked with.
struct Case<'a> {
    file: &'a Path,
    format: Format,
    /// Every sample of the file, in order.
    samples: &'a [String],
    /// INFO keys declared by the file that the drop removes.
    removed_info: &'a [&'a str],
    /// Whether the header declares `NS` (recomputed).
    has_ns: bool,
    /// Whether the header declares `AF` (recomputed).
    has_af: bool,
}

/// Drops `exclude` from the case's file and compares with bcftools.
fn check(case: &Case<'_>, exclude: &[&str], scratch: &Path) {
    let context = format!("{} without {exclude:?}", case.file.display());
    let input = std::fs::read(case.file).expect("read input");
    let (stats, output) =
        run(case.format, &input, exclude).unwrap_or_else(|e| panic!("{context}: {e}"));

    let out_path = scratch.join(match case.format {
        Format::Bcf => "out.bcf",
        _ => "out.vcf.gz",
    });
    std::fs::write(&out_path, &output).expect("write output");

    // A complete BGZF stream that htslib reads without a word.
    assert!(output.ends_with(&BGZF_EOF), "{context}: no BGZF EOF marker");
    sh("bcftools view \"$1\" > /dev/null", &[&out_path]);

    // The sample list.
    let removed: BTreeSet<&str> = exclude
        .iter()
        .copied()
        .filter(|x| case.samples.iter().any(|s| s == x))
        .collect();
    let remaining: Vec<&str> = case
        .samples
        .iter()
        .map(String::as_str)
        .filter(|s| !removed.contains(s))
        .collect();
    let listed = sh("bcftools query -l \"$1\"", &[&out_path]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), remaining, "{context}");
    assert_eq!(stats.samples_removed, removed.len(), "{context}");

    // No excluded name anywhere.
    let text = decompress(&output);
    for name in exclude {
        assert!(
            !text.windows(name.len()).any(|w| w == name.as_bytes()),
            "{context}: {name} is still in the output"
        );
    }

    let actual = sh("bcftools view -H \"$1\"", &[&out_path]);
    let actual: Vec<&str> = actual.lines().collect();
    let original = sh("bcftools view -H \"$1\"", &[case.file]);
    let original: Vec<&str> = original.lines().collect();
    assert_eq!(stats.records_in, original.len() as u64, "{context}");
    assert_eq!(stats.records_out, actual.len() as u64, "{context}");

    if removed.is_empty() {
        assert_eq!(actual, original, "{context}: records changed");
        return;
    }

    // AC over all samples, from the genotypes.
    let all_ac: Vec<u64> = sh(
        "bcftools +fill-tags \"$1\" -- -t AC | bcftools query -f '%AC\\n'",
        &[case.file],
    )
    .lines()
    .map(|l| l.split(',').filter_map(|c| c.parse::<u64>().ok()).sum())
    .collect();
    assert_eq!(all_ac.len(), original.len(), "{context}");

    let strip = case
        .removed_info
        .iter()
        .map(|k| format!(" | bcftools annotate -x INFO/{k}"))
        .collect::<String>();
    // NS as fill-tags counts it; AF below, from bcftools' AC and AN (fill-tags counts at most
    // two alleles per sample for AN, bcftools view all of them).
    let fill = if case.has_ns {
        " | bcftools +fill-tags -- -t NS"
    } else {
        ""
    };

    let expected: Vec<Line> = if remaining.is_empty() {
        // bcftools keeps the old AC/AN when no sample remains: the counts are all zero.
        let sites = sh(
            &format!("bcftools view -G \"$1\"{strip} | bcftools view -H"),
            &[case.file],
        );
        sites
            .lines()
            .zip(&original)
            .zip(&all_ac)
            .filter(|(_, ac)| **ac == 0)
            .map(|((line, orig), _)| {
                let mut line = parse_line(line);
                let has_gt = parse_line(orig)
                    .rest
                    .first()
                    .is_some_and(|f| f.split(':').any(|k| k == "GT"));
                if has_gt {
                    let alts = &line.fixed[4];
                    let n_alt = if alts == "." {
                        0
                    } else {
                        alts.split(',').count()
                    };
                    if n_alt > 0 {
                        line.info.insert("AC".into(), vec!["0"; n_alt].join(","));
                        if case.has_af {
                            line.info.insert("AF".into(), vec!["."; n_alt].join(","));
                        }
                    }
                    line.info.insert("AN".into(), "0".into());
                    if case.has_ns {
                        line.info.insert("NS".into(), "0".into());
                    }
                }
                line
            })
            .collect()
    } else {
        let list = exclude.join(",");
        let subset = sh(
            &format!(
                "bcftools view --force-samples -s \"^$2\" \"$1\"{fill}{strip} | bcftools view -H"
            ),
            &[case.file, Path::new(&list)],
        );
        let subset: Vec<Line> = subset.lines().map(parse_line).collect();
        assert_eq!(subset.len(), original.len(), "{context}");
        subset
            .into_iter()
            .zip(&all_ac)
            .filter(|(line, all)| **all == 0 || ac_sum(&line.info) > 0)
            .map(|(mut line, _)| {
                if let Some(an) = line.info.get("AN").and_then(|an| an.parse::<u64>().ok()) {
                    if case.has_af && line.info.contains_key("AC") {
                        let af: Vec<String> = line.info["AC"]
                            .split(',')
                            .map(|c| match (c.parse::<u64>(), an) {
                                (Ok(c), 1..) => format!("{:.6}", c as f64 / an as f64),
                                _ => String::from("."),
                            })
                            .collect();
                        line.info.insert("AF".into(), af.join(","));
                    }
                } else {
                    // No genotypes: stale counts are removed, not kept as bcftools keeps them.
                    for key in ["AC", "AF", "NS"] {
                        line.info.remove(key);
                    }
                }
                line
            })
            .collect()
    };

    assert_eq!(actual.len(), expected.len(), "{context}: record count");
    for (a, e) in actual.iter().zip(&expected) {
        assert_same_line(a, e, &context);
    }
}

fn exclusion_sets(samples: &[String]) -> Vec<Vec<&str>> {
    let names: Vec<&str> = samples.iter().map(String::as_str).collect();
    let n = names.len();
    vec![
        vec![],
        vec!["NOT-A-SAMPLE"],
        vec![names[2]],
        names.iter().copied().step_by(2).collect(),
        names
            .iter()
            .copied()
            .filter(|s| *s != names[n / 2])
            .collect(),
        names.clone(),
    ]
}

fn demo_samples() -> Vec<String> {
    (1..=12).map(|i| format!("GEMJ-T{i:03}")).collect()
}

fn demo(dir: &Path) -> gemj_demo::genomes::DemoGenomes {
    let opts = DemoGenomeOptions {
        samples: demo_samples(),
        coverage: 0.05,
        contigs: vec![
            (String::from("chr21"), 60_000),
            (String::from("chr22"), 40_000),
        ],
        ..Default::default()
    };
    generate(&opts, dir).expect("generate the demo cohort")
}

#[test]
fn demo_joint_matches_bcftools() {
    if !have_bcftools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let genomes = demo(&dir.path().join("demo"));
    let samples = demo_samples();
    assert!(genomes.sites.len() > 50, "too few sites to test");

    for (file, format) in [
        (&genomes.joint_vcf, Format::Vcf),
        (&genomes.joint_bcf, Format::Bcf),
    ] {
        let case = Case {
            file,
            format,
            samples: &samples,
            removed_info: &[],
            has_ns: false,
            has_af: true,
        };
        for exclude in exclusion_sets(&samples) {
            check(&case, &exclude, dir.path());
        }
    }
}

#[test]
fn spec_files_match_bcftools() {
    if !have_bcftools() {
        return;
    }
    let Some(data) = shared_dir() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let samples: Vec<String> = ["NA00001", "NA00002", "NA00003"].map(String::from).to_vec();

    for (name, format) in [
        ("spec-v4.3.vcf.gz", Format::Vcf),
        ("spec-v4.3.bcf", Format::Bcf),
    ] {
        let file = data.join(name);
        let case = Case {
            file: &file,
            format,
            samples: &samples,
            removed_info: &["DP"],
            has_ns: true,
            has_af: true,
        };
        for exclude in [
            vec!["NA00002"],
            vec![],
            vec!["NA00001", "NA00003"],
            vec!["NA00001", "NA00002", "NA00003"],
        ] {
            check(&case, &exclude, dir.path());
        }

        // The record at 20:17330 has its only ALT allele in NA00002: it goes.
        let input = std::fs::read(&file).expect("read");
        let (stats, out) = run(format, &input, &["NA00002"]).expect("drop");
        assert_eq!((stats.records_in, stats.records_out), (5, 4), "{name}");
        let path = dir.path().join("spec-out");
        std::fs::write(&path, out).expect("write");
        let positions = sh("bcftools query -f '%POS\\n' \"$1\"", &[&path]);
        assert!(!positions.lines().any(|p| p == "17330"), "{name}");
    }
}

/// Haploid, polyploid, missing and half-missing calls, multi-allelic sites, a record without
/// GT, a sites-level INFO key, cross-sample keys, and meta lines naming samples.
const EDGE_VCF: &str = "\
##fileformat=VCFv4.3
##fileDate=20250401
##contig=<ID=1,length=10000>
##SAMPLE=<ID=SB,Description=\"withdrawn participant\">
##PEDIGREE=<ID=SC,Father=SB>
##gatkCommandLine=--sample-name SB
##INFO=<ID=NS,Number=1,Type=Integer,Description=\"Number of samples with data\">
##INFO=<ID=AF,Number=A,Type=Float,Description=\"Allele frequency\">
##INFO=<ID=DP,Number=1,Type=Integer,Description=\"Total depth\">
##INFO=<ID=END,Number=1,Type=Integer,Description=\"End position\">
##INFO=<ID=DB,Number=0,Type=Flag,Description=\"dbSNP\">
##FILTER=<ID=q10,Description=\"Low quality\">
##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\"Allelic depths\">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tSA\tSB\tSC\tSD
1\t10\trs1\tA\tC\t30\tPASS\tNS=4;DP=20;DB\tGT:DP\t./.:1\t./1:2\t.:3\t1:4
1\t11\t.\tA\tC\t.\t.\tDP=9\tDP\t3\t4\t5\t6
1\t12\t.\tA\tC,G\t.\tq10\tEND=12\tGT:DP:AD\t./.:1:1,0,0\t.|.:2:2,0,0\t.:3:.\t./.:.:.
1\t13\t.\tA\tC\t.\t.\t.\tGT\t0/1\t1|1\t0\t0/0/1
1\t14\t.\tA\tC,G,T\t.\t.\tAF=0.1,0.2,0.3\tGT:DP\t0/1:5\t2|3:6\t0/0:7\t0/2:8
1\t15\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0|1\t0/0\t./.
1\t16\t.\tA\tT\t.\t.\t.\tGT\t0/0\t0|0\t0/0\t./.
1\t17\t.\tAT\tA\t.\t.\t.\tGT\t0/0\t1|1\t1/1\t0/1
";

#[test]
fn edge_cases_match_bcftools() {
    if !have_bcftools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let vcf = dir.path().join("edge.vcf.gz");
    std::fs::write(&vcf, compress(EDGE_VCF.as_bytes())).expect("write");
    let bcf = dir.path().join("edge.bcf");
    sh("bcftools view -Ob -o \"$2\" \"$1\"", &[&vcf, &bcf]);

    let samples: Vec<String> = ["SA", "SB", "SC", "SD"].map(String::from).to_vec();
    for (file, format) in [(&vcf, Format::Vcf), (&bcf, Format::Bcf)] {
        let case = Case {
            file,
            format,
            samples: &samples,
            removed_info: &["DP"],
            has_ns: true,
            has_af: true,
        };
        for exclude in [
            vec!["SB"],
            vec!["SB", "SD"],
            vec!["SA", "SC", "SD"],
            vec!["SA", "SB", "SC", "SD"],
        ] {
            check(&case, &exclude, dir.path());
        }
    }

    // Meta lines naming an excluded sample go, even when the name is not a column.
    let (stats, out) = run(Format::Vcf, &compress(EDGE_VCF.as_bytes()), &["SB"]).expect("drop");
    let text = String::from_utf8(decompress(&out)).expect("UTF-8");
    assert_eq!(stats.samples_removed, 1);
    assert!(!text.contains("##SAMPLE") && !text.contains("##PEDIGREE"));
    assert!(!text.contains("gatkCommandLine"));
    assert!(text.contains("##fileDate=20250401"));
    // Only SB carries the ALT at 15: dropped. Nobody carries the ALT at 16: kept.
    assert!(!text.contains("\n1\t15\t"));
    assert!(
        text.contains("\n1\t16\t.\tA\tT\t.\t.\tAC=0;AN=4;NS=2;AF=0\tGT\t0/0\t0/0\t./.\n"),
        "{text}"
    );
    // AF replaced in place, the counts appended; AF is written as the demo writes it.
    assert!(
        text.contains("\tAF=0.166667,0.166667,0;AC=1,1,0;AN=6;NS=3\tGT:DP\t0/1:5\t0/0:7\t0/2:8\n"),
        "{text}"
    );

    let (stats, _) = run(Format::Vcf, &compress(EDGE_VCF.as_bytes()), &["NOBODY"]).expect("drop");
    assert_eq!(
        stats,
        DropStats {
            records_in: 8,
            records_out: 8,
            samples_removed: 0
        }
    );
}

#[test]
fn header_only_streams() {
    let header = &EDGE_VCF[..EDGE_VCF.find("\n1\t").expect("a record") + 1];
    let (stats, out) = run(Format::Vcf, &compress(header.as_bytes()), &["SB"]).expect("drop");
    assert_eq!(
        stats,
        DropStats {
            records_in: 0,
            records_out: 0,
            samples_removed: 1
        }
    );
    assert!(out.ends_with(&BGZF_EOF));
    let text = String::from_utf8(decompress(&out)).expect("UTF-8");
    assert!(text.ends_with("\tINFO\tFORMAT\tSA\tSC\tSD\n"), "{text}");

    if !have_bcftools() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let vcf = dir.path().join("edge.vcf.gz");
    std::fs::write(&vcf, compress(EDGE_VCF.as_bytes())).expect("write");
    let bcf = dir.path().join("header-only.bcf");
    sh(
        "bcftools view -Ob -e 'POS>0' -o \"$2\" \"$1\"",
        &[&vcf, &bcf],
    );
    let samples: Vec<String> = ["SA", "SB", "SC", "SD"].map(String::from).to_vec();
    let case = Case {
        file: &bcf,
        format: Format::Bcf,
        samples: &samples,
        removed_info: &["DP"],
        has_ns: true,
        has_af: true,
    };
    check(&case, &["SB"], dir.path());
    check(&case, &[], dir.path());
}

#[test]
fn reads_formats_are_refused() {
    let err = run(Format::Bam, &[], &[]).map(|_| ()).unwrap_err();
    assert!(matches!(err, SliceError::InvalidInput(_)), "{err}");
}

/// A deterministic xorshift stream for the damage test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn damaged_inputs_do_not_panic(format: Format, file: &[u8]) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let exclusions: [&[&str]; 3] = [&[], &["GEMJ-T003"], &["NA00002"]];

    // Empty and non-BGZF input.
    for input in [&b""[..], b"##fileformat=VCFv4.3\n", &BGZF_EOF] {
        let err = run(format, input, &["NA00002"]).map(|_| ()).unwrap_err();
        assert!(matches!(err, SliceError::Damaged { .. }), "{err}");
    }

    // Truncated streams: every strict prefix lacks the end-of-file marker.
    for _ in 0..150 {
        let cut = rng.below(file.len());
        for exclude in exclusions {
            let err = run(format, &file[..cut], exclude).map(|_| ()).unwrap_err();
            assert!(
                matches!(err, SliceError::Damaged { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    // Flipped compressed bytes.
    for _ in 0..150 {
        let mut input = file.to_vec();
        let at = rng.below(input.len());
        input[at] ^= 1 << rng.below(8);
        for exclude in exclusions {
            let _ = run(format, &input, exclude);
        }
    }

    // Garbled and truncated content in valid BGZF: the record parsers meet it.
    let text = decompress(file);
    for round in 0..300 {
        let mut content = text.clone();
        match round % 3 {
            0 => content.truncate(rng.below(text.len())),
            1 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(content.len());
                    content[at] = rng.next() as u8;
                }
            }
            _ => {
                let at = rng.below(content.len());
                let len = rng.below(64).min(content.len() - at);
                content.drain(at..at + len);
            }
        }
        let input = compress(&content);
        for exclude in exclusions {
            let _ = run(format, &input, exclude);
        }
    }
}

#[test]
fn damaged_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genomes = demo(&dir.path().join("demo"));
    damaged_inputs_do_not_panic(
        Format::Vcf,
        &std::fs::read(&genomes.joint_vcf).expect("read"),
    );
    damaged_inputs_do_not_panic(
        Format::Bcf,
        &std::fs::read(&genomes.joint_bcf).expect("read"),
    );

    if let Some(data) = shared_dir() {
        for (name, format) in [
            ("spec-v4.3.vcf.gz", Format::Vcf),
            ("spec-v4.3.bcf", Format::Bcf),
        ] {
            damaged_inputs_do_not_panic(format, &std::fs::read(data.join(name)).expect("read"));
        }
    }
}
