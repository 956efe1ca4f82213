//! Tests of [`generate`] against the files it writes, read back with noodles through and without
//! their indices.

use std::{
    collections::BTreeMap,
    error::Error,
    fs, io,
    path::{Path, PathBuf},
};

use noodles::{
    bam, bcf,
    core::{Position, Region},
    cram, fasta,
    sam::{self, alignment::RecordBuf, alignment::record::cigar::op::Kind},
    vcf,
};
use sha2::{Digest as _, Sha256};

use super::*;

type TestResult = Result<(), Box<dyn Error>>;

use gemj_bgzf::EOF_BLOCK as BGZF_EOF;

const REGIONS: [&str; 4] = [
    "chr21:20000-30000",
    "chr20:1-12000",
    "chr22:41234-44321",
    "chr20:59000-60000",
];

fn small_opts(samples: usize) -> DemoGenomeOptions {
    DemoGenomeOptions {
        seed: 42,
        samples: (1..=samples).map(|i| format!("S{i}")).collect(),
        coverage: 2.0,
        contigs: vec![
            (String::from("chr20"), 60_000),
            (String::from("chr21"), 60_000),
            (String::from("chr22"), 60_000),
        ],
    }
}

fn file_digests(root: &Path) -> io::Result<BTreeMap<PathBuf, String>> {
    fn visit(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();

            if path.is_dir() {
                visit(root, &path, out)?;
            } else {
                let digest = hex::encode(Sha256::digest(fs::read(&path)?));
                let relative = path.strip_prefix(root).map_err(io::Error::other)?;
                out.insert(relative.to_path_buf(), digest);
            }
        }

        Ok(())
    }

    let mut out = BTreeMap::new();
    visit(root, root, &mut out)?;
    Ok(out)
}

fn overlaps(region: &Region, start: Position, end: Position) -> bool {
    let interval = region.interval();
    let region_start = interval.start().map_or(1, usize::from);
    let region_end = interval.end().map_or(usize::MAX, usize::from);
    usize::from(start) <= region_end && usize::from(end) >= region_start
}

fn repository(genomes: &DemoGenomes) -> io::Result<fasta::Repository> {
    let reader =
        fasta::io::indexed_reader::Builder::default().build_from_path(&genomes.reference)?;
    Ok(fasta::Repository::new(
        fasta::repository::adapters::IndexedReader::new(reader),
    ))
}

fn read_bam(path: &Path) -> io::Result<(sam::Header, Vec<RecordBuf>)> {
    let mut reader = bam::io::reader::Builder.build_from_path(path)?;
    let header = reader.read_header()?;
    let records = reader.record_bufs(&header).collect::<io::Result<_>>()?;
    Ok((header, records))
}

fn alignment_span(record: &RecordBuf) -> Option<(usize, Position, Position)> {
    let id = record.reference_sequence_id()?;
    let start = record.alignment_start()?;
    let end = record.alignment_end().unwrap_or(start);
    Some((id, start, end))
}

fn region_reference_id(header: &sam::Header, region: &Region) -> Option<usize> {
    header.reference_sequences().get_index_of(region.name())
}

#[test]
fn test_generate_is_deterministic() -> TestResult {
    let opts = small_opts(2);
    let a = tempfile::tempdir()?;
    let b = tempfile::tempdir()?;

    let genomes_a = generate(&opts, a.path())?;
    let genomes_b = generate(&opts, b.path())?;

    let digests_a = file_digests(a.path())?;
    let digests_b = file_digests(b.path())?;

    // 2 reference, 6 per sample, 4 joint, 1 annotation.
    assert_eq!(digests_a.len(), 2 + 2 * 6 + 4 + 1);
    assert_eq!(digests_a, digests_b);
    assert_eq!(genomes_a.sites, genomes_b.sites);
    assert_eq!(genomes_a.genes, genomes_b.genes);

    // Another seed gives another genome.
    let c = tempfile::tempdir()?;
    generate(&DemoGenomeOptions { seed: 43, ..opts }, c.path())?;
    let digests_c = file_digests(c.path())?;
    let reference = PathBuf::from("reference/gemj-synthetic-ref.fa");
    assert_ne!(digests_a.get(&reference), digests_c.get(&reference));

    Ok(())
}

#[test]
fn test_layout() -> TestResult {
    let dir = tempfile::tempdir()?;
    let genomes = generate(&small_opts(2), dir.path())?;
    let root = std::path::absolute(dir.path())?;

    assert_eq!(
        genomes.reference,
        root.join("reference/gemj-synthetic-ref.fa")
    );
    assert_eq!(
        genomes.reference_fai,
        root.join("reference/gemj-synthetic-ref.fa.fai")
    );
    assert_eq!(genomes.joint_vcf, root.join("joint/gemj-demo-joint.vcf.gz"));
    assert_eq!(
        genomes.joint_vcf_tbi,
        root.join("joint/gemj-demo-joint.vcf.gz.tbi")
    );
    assert_eq!(genomes.joint_bcf, root.join("joint/gemj-demo-joint.bcf"));
    assert_eq!(
        genomes.joint_bcf_csi,
        root.join("joint/gemj-demo-joint.bcf.csi")
    );
    assert_eq!(genomes.genes_tsv, root.join("annotation/genes.tsv"));

    let s2 = &genomes.samples[1];
    assert_eq!(s2.sample, "S2");
    assert_eq!(s2.bam, root.join("samples/S2.bam"));
    assert_eq!(s2.bai, root.join("samples/S2.bam.bai"));
    assert_eq!(s2.cram, root.join("samples/S2.cram"));
    assert_eq!(s2.crai, root.join("samples/S2.cram.crai"));
    assert_eq!(s2.vcf, root.join("samples/S2.vcf.gz"));
    assert_eq!(s2.tbi, root.join("samples/S2.vcf.gz.tbi"));

    for files in &genomes.samples {
        for path in [&files.bam, &files.vcf] {
            let data = fs::read(path)?;
            assert!(data.ends_with(&BGZF_EOF), "{}", path.display());
        }

        let cram = fs::read(&files.cram)?;
        assert!(cram.ends_with(&cram_layout::EOF_CONTAINER));
        // Every structure reads and writes back through the codec, byte for byte.
        let (rewritten, summary) = gemj_cram::file::rewrite(&cram)?;
        assert!(summary.slice_headers > 0 && summary.compression_headers > 1);
        assert!(rewritten == cram, "{}", files.cram.display());
        assert!(fs::metadata(&files.bai)?.len() > 0);
        assert!(fs::metadata(&files.crai)?.len() > 0);
        assert!(fs::metadata(&files.tbi)?.len() > 0);
    }

    for path in [&genomes.joint_vcf, &genomes.joint_bcf] {
        assert!(fs::read(path)?.ends_with(&BGZF_EOF), "{}", path.display());
    }

    Ok(())
}

#[test]
fn test_reference() -> TestResult {
    let dir = tempfile::tempdir()?;
    let genomes = generate(&small_opts(1), dir.path())?;

    let text = fs::read_to_string(&genomes.reference)?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], ">chr20");
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with('>') || line.len() <= 60)
    );
    assert_eq!(
        lines.iter().filter(|line| line.len() == 60).count(),
        3 * 1_000
    );

    let index = fasta::fai::fs::read(&genomes.reference_fai)?;
    let names: Vec<_> = index
        .as_ref()
        .iter()
        .map(|r| r.name().to_string())
        .collect();
    assert_eq!(names, ["chr20", "chr21", "chr22"]);
    assert!(index.as_ref().iter().all(|r| r.length() == 60_000));

    let mut reader = fasta::io::reader::Builder.build_from_path(&genomes.reference)?;
    let (header, _) = read_bam(&genomes.samples[0].bam)?;

    for (result, (name, map)) in reader.records().zip(header.reference_sequences()) {
        let record = result?;
        assert_eq!(record.name(), name.as_slice());

        let md5 = hex::encode(md5::Md5::digest(record.sequence().as_ref()));
        let tag = sam::header::record::value::map::reference_sequence::tag::MD5_CHECKSUM;
        assert_eq!(
            map.other_fields()
                .get(&tag)
                .map(std::string::ToString::to_string),
            Some(md5)
        );
    }

    Ok(())
}

#[test]
fn test_genes_tsv() -> TestResult {
    let dir = tempfile::tempdir()?;
    let genomes = generate(&small_opts(2), dir.path())?;

    let text = fs::read_to_string(&genomes.genes_tsv)?;
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("# synthetic coordinates on the GeMJ synthetic reference")
    );
    assert_eq!(
        lines.next(),
        Some("#gene_name\tgene_id\tchrom\tstart\tend\tstrand")
    );

    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), genomes.genes.len());
    assert_eq!(genomes.genes.len(), 8 + 7 + 8);

    for (row, gene) in rows.iter().zip(&genomes.genes) {
        let expected = format!(
            "{}\tGEMJSYN:{}\t{}\t{}\t{}\t{}",
            gene.name, gene.name, gene.chrom, gene.start, gene.end, gene.strand
        );
        assert_eq!(*row, expected);
        assert!(gene.start >= 1 && gene.start < gene.end && gene.end <= 60_000);

        let sites = genomes
            .sites
            .iter()
            .filter(|s| s.chrom == gene.chrom && (gene.start..=gene.end).contains(&s.pos))
            .count();
        assert!(
            sites >= population::MIN_SITES_PER_GENE,
            "{}: {sites}",
            gene.name
        );
    }

    let gnas = genomes
        .genes
        .iter()
        .find(|g| g.name == "GNAS")
        .ok_or("no GNAS")?;
    assert_eq!((gnas.chrom.as_str(), gnas.strand), ("chr20", '+'));

    Ok(())
}

#[test]
fn test_alignments() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = small_opts(2);
    let genomes = generate(&opts, dir.path())?;
    let files = &genomes.samples[1];

    let (header, bam_records) = read_bam(&files.bam)?;

    let hd = header.header().ok_or("missing @HD")?;
    let so = sam::header::record::value::map::header::tag::SORT_ORDER;
    assert_eq!(
        hd.other_fields()
            .get(&so)
            .map(std::string::ToString::to_string)
            .as_deref(),
        Some("coordinate")
    );

    let (rg_id, rg) = header.read_groups().first().ok_or("missing @RG")?;
    assert_eq!(rg_id, "S2");
    let sm = sam::header::record::value::map::read_group::tag::SAMPLE;
    assert_eq!(
        rg.other_fields()
            .get(&sm)
            .map(std::string::ToString::to_string)
            .as_deref(),
        Some("S2")
    );
    assert!(
        header
            .programs()
            .as_ref()
            .contains_key(&b"gemj-genomics"[..])
    );

    // Coordinate-sorted, unplaced unmapped pairs last.
    let keys: Vec<_> = bam_records
        .iter()
        .map(|r| {
            (
                r.reference_sequence_id().unwrap_or(usize::MAX),
                r.alignment_start(),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]));

    let unplaced = bam_records
        .iter()
        .filter(|r| r.reference_sequence_id().is_none())
        .count();
    assert_eq!(unplaced, 2 * reads::UNMAPPED_PAIRS as usize);

    let mate_unmapped = bam_records
        .iter()
        .filter(|r| r.flags().is_mate_unmapped() && !r.flags().is_unmapped())
        .count();
    assert!(mate_unmapped >= 3, "{mate_unmapped}");

    // Depth close to the requested coverage.
    let mapped_bases: usize = bam_records
        .iter()
        .filter(|r| !r.flags().is_unmapped())
        .map(|r| r.sequence().len())
        .sum();
    let depth = mapped_bases as f64 / (3.0 * 57_000.0);
    assert!((1.6..2.4).contains(&depth), "{depth}");

    // The CRAM decodes to the same records as the BAM.
    let repository = repository(&genomes)?;
    let mut reader = cram::io::reader::Builder::default()
        .set_reference_sequence_repository(repository.clone())
        .build_from_path(&files.cram)?;
    let cram_header = reader.read_header()?;
    let cram_records: Vec<RecordBuf> = reader.records(&cram_header).collect::<io::Result<_>>()?;

    assert_eq!(cram_records.len(), bam_records.len());

    for (cram_record, bam_record) in cram_records.iter().zip(&bam_records) {
        assert_eq!(&normalize_cram_record(cram_record), bam_record);
    }

    // Index queries return exactly what a filtered linear scan returns.
    let mut bam_reader = bam::io::indexed_reader::Builder::default().build_from_path(&files.bam)?;
    let bam_header = bam_reader.read_header()?;
    let mut cram_reader = cram::io::indexed_reader::Builder::default()
        .set_reference_sequence_repository(repository)
        .build_from_path(&files.cram)?;
    let cram_header = cram_reader.read_header()?;

    for raw_region in REGIONS {
        let region: Region = raw_region.parse()?;
        let id = region_reference_id(&header, &region).ok_or("unknown contig")?;

        let expected: Vec<&RecordBuf> = bam_records
            .iter()
            .filter(|r| {
                alignment_span(r)
                    .is_some_and(|(rid, start, end)| rid == id && overlaps(&region, start, end))
            })
            .collect();
        assert!(!expected.is_empty(), "{raw_region}");

        let actual: Vec<RecordBuf> = bam_reader
            .query(&bam_header, &region)?
            .records()
            .map(|result| {
                result.and_then(|record| RecordBuf::try_from_alignment_record(&bam_header, &record))
            })
            .collect::<io::Result<_>>()?;
        assert_eq!(
            actual.iter().collect::<Vec<_>>(),
            expected,
            "BAM {raw_region}"
        );

        let actual: Vec<RecordBuf> = cram_reader
            .query(&cram_header, &region)?
            .map(|result| result.map(|record| normalize_cram_record(&record)))
            .collect::<io::Result<_>>()?;
        assert_eq!(
            actual.iter().collect::<Vec<_>>(),
            expected,
            "CRAM {raw_region}"
        );
    }

    // noodles' unmapped queries start at the last indexed bin, so they may also return unmapped
    // reads placed near the end of the last contig; keep the unplaced ones.
    let mut unplaced = 0;

    for result in bam_reader.query_unmapped()? {
        if result?.reference_sequence_id().transpose()?.is_none() {
            unplaced += 1;
        }
    }

    assert_eq!(unplaced, 2 * reads::UNMAPPED_PAIRS as usize);

    let mut unplaced = 0;

    for result in cram_reader.query_unmapped(&cram_header)? {
        if result?.reference_sequence_id().is_none() {
            unplaced += 1;
        }
    }

    assert_eq!(unplaced, 2 * reads::UNMAPPED_PAIRS as usize);

    Ok(())
}

/// noodles-cram 0.93 decodes differently from htslib (which agrees with the BAM) in two places:
/// it derives a template length for a read whose attached mate is unmapped, and it reports no
/// mapping quality for unmapped reads. Undo both before comparing.
fn normalize_cram_record(record: &RecordBuf) -> RecordBuf {
    let mut record = record.clone();

    if record.flags().is_unmapped() || record.flags().is_mate_unmapped() {
        *record.template_length_mut() = 0;
    }

    if record.flags().is_unmapped() && record.mapping_quality().is_none() {
        *record.mapping_quality_mut() = sam::alignment::record::MappingQuality::new(0);
    }

    record
}

/// The reference-or-read base aligned to 1-based `pos`, if the read covers it with an `M`.
fn read_base_at(record: &RecordBuf, pos: usize) -> Option<u8> {
    let mut reference = usize::from(record.alignment_start()?);
    let mut read = 0;

    for op in record.cigar().as_ref() {
        let len = op.len();

        match op.kind() {
            Kind::Match | Kind::SequenceMatch | Kind::SequenceMismatch => {
                if (reference..reference + len).contains(&pos) {
                    return record
                        .sequence()
                        .as_ref()
                        .get(read + pos - reference)
                        .copied();
                }

                reference += len;
                read += len;
            }
            Kind::Insertion | Kind::SoftClip => read += len,
            Kind::Deletion | Kind::Skip => reference += len,
            _ => {}
        }
    }

    None
}

#[test]
fn test_reads_carry_the_sample_genotypes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = DemoGenomeOptions {
        coverage: 8.0,
        ..small_opts(3)
    };
    let genomes = generate(&opts, dir.path())?;
    let sample = 2;
    let (header, records) = read_bam(&genomes.samples[sample].bam)?;

    let mut hom = (0, 0);
    let mut het = (0, 0);
    let mut indel_sites = 0;

    for site in &genomes.sites {
        let genotype = site.genotypes[sample];

        if genotype == 0 {
            continue;
        }

        if site.reference.len() != site.alternate.len() {
            indel_sites += 1;
            continue;
        }

        let id = header
            .reference_sequences()
            .get_index_of(site.chrom.as_bytes())
            .ok_or("unknown contig")?;
        let pos = site.pos as usize;
        let alt = site.alternate.as_bytes()[0];

        for record in records
            .iter()
            .filter(|r| !r.flags().is_unmapped() && r.reference_sequence_id() == Some(id))
        {
            if let Some(base) = read_base_at(record, pos) {
                let counts = if genotype == 2 { &mut hom } else { &mut het };
                counts.1 += 1;

                if base == alt {
                    counts.0 += 1;
                }
            }
        }
    }

    let hom_fraction = f64::from(hom.0) / f64::from(hom.1);
    let het_fraction = f64::from(het.0) / f64::from(het.1);
    assert!(hom_fraction > 0.97, "{hom:?}");
    assert!((0.35..0.65).contains(&het_fraction), "{het:?}");

    // Indels show up as CIGAR operations.
    assert!(indel_sites > 0);
    let indel_reads = records
        .iter()
        .filter(|r| {
            r.cigar()
                .as_ref()
                .iter()
                .any(|op| matches!(op.kind(), Kind::Insertion | Kind::Deletion))
        })
        .count();
    assert!(indel_reads > 10, "{indel_reads}");

    Ok(())
}

fn read_vcf(path: &Path) -> io::Result<(vcf::Header, Vec<vcf::variant::RecordBuf>)> {
    let mut reader = vcf::io::reader::Builder::default().build_from_path(path)?;
    let header = reader.read_header()?;
    let records = reader.record_bufs(&header).collect::<io::Result<_>>()?;
    Ok((header, records))
}

fn vcf_key(header: &vcf::Header, record: &dyn vcf::variant::Record) -> io::Result<(String, usize)> {
    let start = record
        .variant_start()
        .transpose()?
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?;
    Ok((
        record.reference_sequence_name(header)?.to_owned(),
        usize::from(start),
    ))
}

#[test]
fn test_variant_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = small_opts(3);
    let genomes = generate(&opts, dir.path())?;

    // Per-sample VCF: exactly the sample's non-reference sites, with GT, DP and GQ.
    for (i, files) in genomes.samples.iter().enumerate() {
        let (header, records) = read_vcf(&files.vcf)?;
        assert_eq!(header.file_format(), vcf::header::FileFormat::new(4, 3));
        assert_eq!(
            header.sample_names().iter().collect::<Vec<_>>(),
            [&files.sample]
        );
        assert_eq!(header.contigs().len(), 3);
        assert_eq!(header.contigs()[0].length(), Some(60_000));

        let expected: Vec<&Site> = genomes
            .sites
            .iter()
            .filter(|s| s.genotypes[i] > 0)
            .collect();
        assert_eq!(records.len(), expected.len());

        let mut text = String::new();
        let mut writer = vcf::io::Writer::new(Vec::new());

        for (record, site) in records.iter().zip(&expected) {
            assert_eq!(record.reference_sequence_name(), site.chrom);
            assert_eq!(
                record.variant_start().map(usize::from),
                Some(site.pos as usize)
            );
            assert_eq!(record.reference_bases(), site.reference);

            writer.get_mut().clear();
            vcf::variant::io::Write::write_variant_record(&mut writer, &header, record)?;
            text.clear();
            text.push_str(std::str::from_utf8(writer.get_ref())?);

            let fields: Vec<&str> = text.trim_end().split('\t').collect();
            let gt = if site.genotypes[i] == 2 { "1/1" } else { "0/1" };
            assert_eq!(fields[8], "GT:DP:GQ");
            assert!(fields[9].starts_with(&format!("{gt}:")), "{text}");
        }
    }

    // Joint VCF and BCF: every site, identical content.
    let (vcf_header, vcf_records) = read_vcf(&genomes.joint_vcf)?;
    assert_eq!(vcf_header.sample_names().len(), 3);
    assert_eq!(vcf_records.len(), genomes.sites.len());

    let mut reader = bcf::io::reader::Builder::default().build_from_path(&genomes.joint_bcf)?;
    let bcf_header = reader.read_header()?;
    let bcf_records: Vec<vcf::variant::RecordBuf> =
        reader.record_bufs(&bcf_header).collect::<io::Result<_>>()?;
    assert_eq!(bcf_records, vcf_records);

    for (record, site) in vcf_records.iter().zip(&genomes.sites) {
        assert_eq!(record.reference_sequence_name(), site.chrom);
        assert_eq!(
            record.variant_start().map(usize::from),
            Some(site.pos as usize)
        );
    }

    // Index queries return exactly what a filtered linear scan returns.
    let mut vcf_paths: Vec<&Path> = genomes.samples.iter().map(|f| f.vcf.as_path()).collect();
    vcf_paths.push(&genomes.joint_vcf);

    for raw_region in REGIONS {
        let region: Region = raw_region.parse()?;

        for path in &vcf_paths {
            let (header, records) = read_vcf(path)?;
            let mut expected = Vec::new();

            for record in &records {
                let start = record.variant_start().ok_or("missing position")?;
                let end = vcf::variant::Record::variant_end(record, &header)?;

                if record.reference_sequence_name() == region.name()
                    && overlaps(&region, start, end)
                {
                    expected.push(vcf_key(&header, record)?);
                }
            }

            let mut reader = vcf::io::indexed_reader::Builder::default().build_from_path(path)?;
            let header = reader.read_header()?;
            let actual = reader
                .query(&header, &region)?
                .records()
                .map(|result| result.and_then(|record| vcf_key(&header, &record)))
                .collect::<io::Result<Vec<_>>>()?;
            assert_eq!(actual, expected, "{} {raw_region}", path.display());
        }

        let mut expected = Vec::new();

        for record in &bcf_records {
            let start = record.variant_start().ok_or("missing position")?;
            let end = vcf::variant::Record::variant_end(record, &bcf_header)?;

            if record.reference_sequence_name() == region.name() && overlaps(&region, start, end) {
                expected.push(vcf_key(&bcf_header, record)?);
            }
        }

        assert!(!expected.is_empty(), "{raw_region}");

        let mut reader =
            bcf::io::indexed_reader::Builder::default().build_from_path(&genomes.joint_bcf)?;
        let header = reader.read_header()?;
        let actual = reader
            .query(&header, &region)?
            .records()
            .map(|result| result.and_then(|record| vcf_key(&header, &record)))
            .collect::<io::Result<Vec<_>>>()?;
        assert_eq!(actual, expected, "BCF {raw_region}");
    }

    Ok(())
}

#[test]
fn test_invalid_options() {
    fn check(change: impl FnOnce(&mut DemoGenomeOptions), expected: fn(&GenomicsError) -> bool) {
        let mut opts = small_opts(2);
        change(&mut opts);
        let error = validate(&opts).err();
        assert!(error.as_ref().is_some_and(expected), "{error:?}");
    }

    check(
        |o| o.samples.clear(),
        |e| matches!(e, GenomicsError::NoSamples),
    );
    check(
        |o| o.samples[0] = String::from("a/b"),
        |e| matches!(e, GenomicsError::InvalidSampleName { .. }),
    );
    check(
        |o| o.samples[0] = String::from(".hidden"),
        |e| matches!(e, GenomicsError::InvalidSampleName { .. }),
    );
    check(
        |o| o.samples[0] = String::from("two words"),
        |e| matches!(e, GenomicsError::InvalidSampleName { .. }),
    );
    check(
        |o| o.samples[0] = String::new(),
        |e| matches!(e, GenomicsError::InvalidSampleName { .. }),
    );
    check(
        |o| o.samples[1] = String::from("S1"),
        |e| matches!(e, GenomicsError::DuplicateSample(_)),
    );
    check(
        |o| o.contigs.clear(),
        |e| matches!(e, GenomicsError::NoContigs),
    );
    check(
        |o| o.contigs[0].1 = 9_999,
        |e| matches!(e, GenomicsError::InvalidContig { .. }),
    );
    check(
        |o| o.contigs[0].0 = String::from("chr 1"),
        |e| matches!(e, GenomicsError::InvalidContig { .. }),
    );
    check(
        |o| o.contigs[1].0 = String::from("chr20"),
        |e| matches!(e, GenomicsError::DuplicateContig(_)),
    );
    check(
        |o| o.coverage = -1.0,
        |e| matches!(e, GenomicsError::InvalidCoverage(_)),
    );
    check(
        |o| o.coverage = f64::NAN,
        |e| matches!(e, GenomicsError::InvalidCoverage(_)),
    );
    check(
        |o| o.coverage = 101.0,
        |e| matches!(e, GenomicsError::InvalidCoverage(_)),
    );

    assert!(validate(&small_opts(2)).is_ok());
    assert!(
        validate(&DemoGenomeOptions {
            coverage: 0.0,
            ..small_opts(1)
        })
        .is_ok()
    );
}

#[test]
fn test_zero_coverage() -> TestResult {
    let dir = tempfile::tempdir()?;
    let genomes = generate(
        &DemoGenomeOptions {
            coverage: 0.0,
            ..small_opts(1)
        },
        dir.path(),
    )?;
    let (_, records) = read_bam(&genomes.samples[0].bam)?;
    assert_eq!(records.len(), 2 * reads::UNMAPPED_PAIRS as usize);
    Ok(())
}
