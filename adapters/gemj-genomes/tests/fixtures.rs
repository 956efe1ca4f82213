//! The fixtures: the adapter VCFs shipped in `examples/adapters/vcf` (README §9), and the real
//! htsget files of the shared folder with their indexes. The tests of the real files are skipped
//! on a machine without the shared folder, an error under `CI=true`.

use std::{
    error::Error,
    fs,
    path::{Path, PathBuf},
};

use gemj_genomes::{
    checksum::checksum_file,
    detect::{Compression, detect_file},
    index::{Index, build_index, write_index},
    specimens::specimens_of_samples,
    variants::{AlleleRecord, VariantReader},
};
use gemj_model::{DataFormat, VariantKey};
use md5::{Digest as _, Md5};
use noodles::{
    bam, bcf,
    core::Region,
    cram,
    csi::{self, BinningIndex, binning_index::ReferenceSequence as _},
    fasta, tabix, vcf,
};
use sha2::Sha256;

type TestResult = Result<(), Box<dyn Error>>;

/// `<shared>/data` (the real htsget files), or `None` when the shared folder is absent (not
/// under CI).
fn data() -> Result<Option<PathBuf>, Box<dyn Error>> {
    Ok(gemj_schemas::testing::shared_dir()?.map(|s| s.join("data")))
}

/// `<workspace>/examples` (the synthetic VCFs of `adapters/vcf`).
fn examples() -> PathBuf {
    gemj_schemas::testing::examples_dir()
}

fn read_all(path: &Path) -> Result<(Vec<String>, Vec<AlleleRecord>), Box<dyn Error>> {
    let reader = VariantReader::open(path)?;
    let samples = reader.sample_names().to_vec();
    let mut reader = reader;
    let alleles: Vec<AlleleRecord> = reader.by_ref().collect();
    let summary = reader.finish();
    assert!(summary.diagnostics.is_empty(), "{:?}", summary.diagnostics);
    Ok((samples, alleles))
}

fn allele(
    chrom: &str,
    pos: u32,
    r: &str,
    a: &str,
    copies: &[u8],
) -> Result<(VariantKey, Vec<u8>), Box<dyn Error>> {
    Ok((VariantKey::parse(chrom, pos, r, a)?, copies.to_vec()))
}

#[test]
fn somatic_vcf() -> TestResult {
    let path = examples().join("adapters/vcf/GEMJ-TEST-0001.somatic.vcf");
    let (samples, alleles) = read_all(&path)?;
    assert_eq!(samples, ["SP-0001-T", "SP-0001-B"]);
    let got: Vec<(VariantKey, Vec<u8>)> = alleles.into_iter().map(|a| (a.key, a.copies)).collect();
    assert_eq!(
        got,
        [
            allele("chr12", 25_245_350, "C", "T", &[1, 0])?,
            allele("chr17", 7_675_088, "C", "T", &[1, 0])?,
        ]
    );
    let specimens = specimens_of_samples("somatic.vcf", &samples);
    assert!(specimens.diagnostics.is_empty());
    let ids: Vec<&str> = specimens
        .found()
        .map(gemj_model::SpecimenId::as_str)
        .collect();
    assert_eq!(ids, ["SP-0001-T", "SP-0001-B"]);
    assert_eq!(detect_file(&path)?.format, DataFormat::Vcf);
    Ok(())
}

#[test]
fn germline_vcf() -> TestResult {
    let path = examples().join("adapters/vcf/GEMJ-TEST-0002.germline.vcf");
    let (samples, alleles) = read_all(&path)?;
    assert_eq!(samples, ["SP-0002-B-DNA"]);
    let got: Vec<(VariantKey, Vec<u8>)> = alleles.into_iter().map(|a| (a.key, a.copies)).collect();
    assert_eq!(
        got,
        [
            allele("chr6", 26_092_913, "G", "A", &[1])?,
            allele("chr10", 94_781_859, "G", "A", &[2])?,
        ]
    );
    let specimens = specimens_of_samples("germline.vcf", &samples);
    assert_eq!(specimens.found().count(), 1);
    Ok(())
}

/// Every file of the fixture folders used here: the shipped adapter VCFs and the real htsget
/// files under `data` (`<shared>/data`).
fn all_files(data: &Path) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut files = Vec::new();
    let dirs = [
        examples().join("adapters/vcf"),
        data.join("htsget"),
        data.join("htsget/htslib"),
        data.join("htsget/giab"),
    ];
    for dir in dirs {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[test]
fn checksums_match_a_second_implementation_and_coreutils() -> TestResult {
    let Some(data) = data()? else { return Ok(()) };
    for path in all_files(&data)? {
        let bytes = fs::read(&path)?;
        let sums = checksum_file(&path)?;
        assert_eq!(sums.size, bytes.len() as u64, "{}", path.display());
        assert_eq!(
            sums.checksums.sha256,
            hex::encode(Sha256::digest(&bytes)),
            "{}",
            path.display()
        );
        assert_eq!(
            sums.checksums.md5,
            hex::encode(Md5::digest(&bytes)),
            "{}",
            path.display()
        );
    }
    // Values printed by coreutils sha256sum and md5sum (Debian bookworm 9.1).
    let literal = [
        (
            "adapters/vcf/GEMJ-TEST-0001.somatic.vcf",
            "7470c6595b5817b2317f2d506ec66b9433f6002931286ada3af44130a63208f8",
            "a42f723ccf32babda24ef04397e44460",
        ),
        (
            "adapters/vcf/GEMJ-TEST-0002.germline.vcf",
            "e72fdf96b64a65338586f77ed45c92c164318bc6c2dc09679df08b573588b481",
            "89f968a72eeae8bc00c8eaca387f14ef",
        ),
        (
            "htsget/spec-v4.3.vcf.gz",
            "d60da22a23f34b10786260d207e2fd73d6d68bfdc85df675dc8c0cadd5538987",
            "b31d7ef160f5035d1a13066187b0469d",
        ),
        (
            "htsget/htsnexus_test_NA12878.bam",
            "0424dfcc1255ff5f48ae39f9bf0129d1d01cb75fa6cf8d141670101860182060",
            "6dc47e886b9f2ecef870af88da3ebdd6",
        ),
    ];
    for (file, sha256, md5) in literal {
        let path = if file.starts_with("adapters/") {
            examples().join(file)
        } else {
            data.join(file)
        };
        let sums = checksum_file(path)?;
        assert_eq!(
            (sums.checksums.sha256.as_str(), sums.checksums.md5.as_str()),
            (sha256, md5),
            "{file}"
        );
    }
    Ok(())
}

fn expected_format(name: &str) -> Option<(DataFormat, Compression)> {
    use Compression::{Bgzf, Gzip, None};
    let rules: [(&str, DataFormat, Compression); 12] = [
        (".vcf.gz", DataFormat::Vcf, Bgzf),
        (".vcf", DataFormat::Vcf, None),
        (".bcf", DataFormat::Bcf, Bgzf),
        (".bam", DataFormat::Bam, Bgzf),
        (".bai", DataFormat::Bai, None),
        (".cram", DataFormat::Cram, None),
        (".crai", DataFormat::Crai, Gzip),
        (".tbi", DataFormat::Tbi, Bgzf),
        (".csi", DataFormat::Csi, Bgzf),
        (".gzi", DataFormat::Gzi, None),
        (".fa", DataFormat::Fasta, None),
        (".fai", DataFormat::Fai, None),
    ];
    rules
        .into_iter()
        .find(|(suffix, _, _)| name.ends_with(suffix))
        .map(|(_, f, c)| (f, c))
}

#[test]
fn every_fixture_is_detected() -> TestResult {
    let Some(data) = data()? else { return Ok(()) };
    let mut checked = 0;
    for path in all_files(&data)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some(expect) = expected_format(name) else {
            assert!(name.ends_with(".md"), "no expectation for {name}");
            continue;
        };
        let got = detect_file(&path)?;
        assert_eq!((got.format, got.compression), expect, "{name}");
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
    Ok(())
}

/// Copies `files` (relative to `dir`) into a fresh temporary folder.
fn copies(dir: &Path, files: &[&str]) -> Result<tempfile::TempDir, Box<dyn Error>> {
    let tmp = tempfile::tempdir()?;
    for f in files {
        fs::copy(dir.join(f), tmp.path().join(f))?;
    }
    Ok(tmp)
}

fn bam_count(
    path: &Path,
    index: &impl BinningIndex,
    region: &Region,
) -> Result<usize, Box<dyn Error>> {
    let mut reader = bam::io::reader::Builder.build_from_path(path)?;
    let header = reader.read_header()?;
    let mut n = 0;
    for record in reader.query(&header, index, region)?.records() {
        record?;
        n += 1;
    }
    Ok(n)
}

fn vcf_count(
    path: &Path,
    index: &impl BinningIndex,
    region: &Region,
) -> Result<usize, Box<dyn Error>> {
    let mut reader = vcf::io::Reader::new(noodles::bgzf::io::Reader::new(fs::File::open(path)?));
    let header = reader.read_header()?;
    let mut n = 0;
    for record in reader.query(&header, index, region)?.records() {
        record?;
        n += 1;
    }
    Ok(n)
}

fn bcf_count(
    path: &Path,
    index: &impl BinningIndex,
    region: &Region,
) -> Result<usize, Box<dyn Error>> {
    let mut reader = bcf::io::Reader::new(fs::File::open(path)?);
    let header = reader.read_header()?;
    let mut n = 0;
    for record in reader.query(&header, index, region)?.records() {
        record?;
        n += 1;
    }
    Ok(n)
}

fn regions(list: &[&str]) -> Result<Vec<Region>, Box<dyn Error>> {
    Ok(list.iter().map(|r| r.parse()).collect::<Result<_, _>>()?)
}

#[test]
fn bam_indexes_answer_like_the_shipped_ones() -> TestResult {
    let Some(data) = data()? else { return Ok(()) };
    let cases: [(&str, &str, &[&str], &[usize]); 2] = [
        (
            "htsget",
            "htsnexus_test_NA12878.bam",
            &[
                "11",
                "20",
                "11:5015000-5050000",
                "20:6000000-6010000",
                "1",
                "11:1-5000000",
            ],
            // `samtools view -c` (PROVENANCE.md's 12,789 and 14,425 are the mapped reads).
            &[12_898, 14_545],
        ),
        (
            "htsget/htslib",
            "range.bam",
            &[
                "CHROMOSOME_I",
                "CHROMOSOME_II:1-2000",
                "CHROMOSOME_IV",
                "CHROMOSOME_V",
            ],
            &[18],
        ),
    ];
    for (dir, file, list, known) in cases {
        let tmp = copies(&data.join(dir), &[file])?;
        let path = tmp.path().join(file);
        let shipped = bam::bai::fs::read(data.join(dir).join(format!("{file}.bai")))?;
        let Index::Bai(built) = build_index(&path)? else {
            return Err(format!("{file}: expected a BAI").into());
        };
        for (i, region) in regions(list)?.iter().enumerate() {
            let ours = bam_count(&path, &built, region)?;
            let theirs = bam_count(&path, &shipped, region)?;
            assert_eq!(ours, theirs, "{file} {region}");
            if let Some(&n) = known.get(i) {
                assert_eq!(ours, n, "{file} {region} (PROVENANCE.md)");
            }
        }
        assert_eq!(
            built.unplaced_unmapped_record_count(),
            shipped.unplaced_unmapped_record_count()
        );
        // Mapped and unmapped counts per reference (`samtools idxstats`).
        let counts = |index: &bam::bai::Index| -> Vec<Option<(u64, u64)>> {
            index
                .reference_sequences()
                .iter()
                .map(|r| {
                    r.metadata()
                        .map(|m| (m.mapped_record_count(), m.unmapped_record_count()))
                })
                .collect()
        };
        assert_eq!(counts(&built), counts(&shipped), "{file}");
        if file.starts_with("htsnexus") {
            // PROVENANCE.md: 12,789 mapped reads on 11 and 14,425 on 20.
            assert_eq!(counts(&built)[10], Some((12_789, 109)));
            assert_eq!(counts(&built)[19], Some((14_425, 120)));
        }
        // The same bins, chunks, linear index and counts as samtools wrote (bins may be in
        // another order: htslib writes them in hash-table order).
        assert_eq!(built, shipped, "{file}");
        // Written beside the file and read back.
        let (written, format) = write_index(&path)?;
        assert_eq!(format, DataFormat::Bai);
        assert_eq!(bam::bai::fs::read(&written)?, built);
    }
    Ok(())
}

#[test]
fn vcf_and_bcf_indexes_answer_like_the_shipped_ones() -> TestResult {
    let Some(data) = data()? else { return Ok(()) };
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "htsget",
            "spec-v4.3",
            &["20", "20:14370-17330", "20:1-1000", "21"],
        ),
        (
            "htsget",
            "sample1-bcbio-cancer",
            &["chrM", "chrM:151-153", "chr22", "chr1"],
        ),
        (
            "htsget/giab",
            "HG002_GIAB.filtered",
            &["1", "2:1000000-20000000", "22", "6:26092913-26092913", "X"],
        ),
    ];
    for (dir, id, list) in cases {
        let vcf_name = format!("{id}.vcf.gz");
        let bcf_name = format!("{id}.bcf");
        let tmp = copies(&data.join(dir), &[&vcf_name, &bcf_name])?;
        let vcf_path = tmp.path().join(&vcf_name);
        let bcf_path = tmp.path().join(&bcf_name);
        let shipped_tbi = tabix::fs::read(data.join(dir).join(format!("{vcf_name}.tbi")))?;
        let shipped_csi = csi::fs::read(data.join(dir).join(format!("{bcf_name}.csi")))?;
        let Index::Tbi(tbi) = build_index(&vcf_path)? else {
            return Err(format!("{vcf_name}: expected a TBI").into());
        };
        let Index::Csi(csi) = build_index(&bcf_path)? else {
            return Err(format!("{bcf_name}: expected a CSI").into());
        };
        assert_eq!(csi.depth(), shipped_csi.depth(), "{bcf_name}");
        // The same bins, chunks and offsets as bcftools wrote; for tabix, the same bins and
        // chunks (the linear index of empty windows depends on the tabix version: spec-v4.3's
        // was written by an older one, which filled them forwards; `tests/htslib.rs` compares
        // whole indexes with the installed tabix).
        assert_eq!(csi, shipped_csi, "{bcf_name}");
        assert_eq!(bins_of(&tbi), bins_of(&shipped_tbi), "{vcf_name}");
        if id == "HG002_GIAB.filtered" {
            assert_eq!(tbi, shipped_tbi, "{vcf_name}");
        }
        for region in regions(list)? {
            // noodles refuses a region on a contig the index does not know; so does every index.
            let ours = vcf_count(&vcf_path, &tbi, &region).ok();
            let theirs = vcf_count(&vcf_path, &shipped_tbi, &region).ok();
            assert_eq!(ours, theirs, "{vcf_name} {region}");
            let ours = bcf_count(&bcf_path, &csi, &region).ok();
            let theirs = bcf_count(&bcf_path, &shipped_csi, &region).ok();
            assert_eq!(ours, theirs, "{bcf_name} {region}");
        }
        // The same alleles from the VCF and the BCF.
        let (vcf_samples, vcf_alleles) = read_all_lenient(&vcf_path)?;
        let (bcf_samples, bcf_alleles) = read_all_lenient(&bcf_path)?;
        assert_eq!(vcf_samples, bcf_samples, "{id}");
        assert_eq!(vcf_alleles, bcf_alleles, "{id}");
    }
    Ok(())
}

/// A bin and its chunks as (start, end) virtual positions.
type BinChunks = (usize, Vec<(u64, u64)>);

/// Bins and chunks of each reference, in bin order.
fn bins_of<I: csi::binning_index::index::reference_sequence::Index>(
    index: &csi::binning_index::Index<I>,
) -> Vec<Vec<BinChunks>> {
    index
        .reference_sequences()
        .iter()
        .map(|r| {
            let mut bins: Vec<BinChunks> = r
                .bins()
                .iter()
                .map(|(&id, bin)| {
                    let chunks = bin
                        .chunks()
                        .iter()
                        .map(|c| (u64::from(c.start()), u64::from(c.end())))
                        .collect();
                    (id, chunks)
                })
                .collect();
            bins.sort();
            bins
        })
        .collect()
}

/// An allele's key and copies.
type KeyCopies = (VariantKey, Vec<u8>);

/// Alleles without the positions (line numbers differ from record numbers).
fn read_all_lenient(path: &Path) -> Result<(Vec<String>, Vec<KeyCopies>), Box<dyn Error>> {
    let mut reader = VariantReader::open(path)?;
    let samples = reader.sample_names().to_vec();
    let alleles = reader.by_ref().map(|a| (a.key, a.copies)).collect();
    Ok((samples, alleles))
}

#[test]
fn giab_counts_match_provenance() -> TestResult {
    let Some(data) = data()? else { return Ok(()) };
    let tmp = copies(&data.join("htsget/giab"), &["HG002_GIAB.filtered.vcf.gz"])?;
    let path = tmp.path().join("HG002_GIAB.filtered.vcf.gz");
    let Index::Tbi(index) = build_index(&path)? else {
        return Err("expected a TBI".into());
    };
    // PROVENANCE.md: records per chromosome.
    for (chrom, n) in [("1", 862), ("6", 679), ("9", 162), ("22", 143)] {
        assert_eq!(vcf_count(&path, &index, &chrom.parse()?)?, n, "{chrom}");
    }
    let mut reader = VariantReader::open(&path)?;
    while reader.next_allele().is_some() {}
    let summary = reader.finish();
    assert_eq!(summary.records, 10_000);
    Ok(())
}

/// The six columns of a CRAI line.
type CraiLine = (Option<usize>, Option<usize>, usize, u64, u64, u64);

fn crai_records(index: &cram::crai::Index) -> Vec<CraiLine> {
    index
        .iter()
        .map(|r| {
            (
                r.reference_sequence_id(),
                r.alignment_start().map(usize::from),
                r.alignment_span(),
                r.offset(),
                r.landmark(),
                r.slice_length(),
            )
        })
        .collect()
}

#[test]
fn cram_indexes_equal_the_shipped_ones() -> TestResult {
    let Some(data) = data()? else { return Ok(()) };
    for (dir, file) in [
        ("htsget", "htsnexus_test_NA12878.cram"),
        ("htsget/htslib", "range.cram"),
    ] {
        let tmp = copies(&data.join(dir), &[file])?;
        let path = tmp.path().join(file);
        let shipped = cram::crai::fs::read(data.join(dir).join(format!("{file}.crai")))?;
        let Index::Crai(built) = build_index(&path)? else {
            return Err(format!("{file}: expected a CRAI").into());
        };
        assert_eq!(crai_records(&built), crai_records(&shipped), "{file}");
    }
    Ok(())
}

#[test]
fn cram_region_queries_with_the_built_index() -> TestResult {
    let Some(data) = data()? else { return Ok(()) };
    let dir = data.join("htsget");
    let tmp = copies(&dir, &["htsnexus_test_NA12878.cram"])?;
    let path = tmp.path().join("htsnexus_test_NA12878.cram");
    write_index(&path)?;
    let count = |region: &Region| -> Result<usize, Box<dyn Error>> {
        let mut reader = cram::io::indexed_reader::Builder::default()
            .set_reference_sequence_repository(fasta::Repository::default())
            .build_from_path(&path)?;
        let header = reader.read_header()?;
        let mut n = 0;
        for record in reader.query(&header, region)? {
            record?;
            n += 1;
        }
        Ok(n)
    };
    assert_eq!(count(&"11".parse()?)?, 12_898);
    assert_eq!(count(&"20".parse()?)?, 14_545);
    Ok(())
}
