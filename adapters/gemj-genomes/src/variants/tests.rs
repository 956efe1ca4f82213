use std::io::Write as _;

use noodles::{bcf, vcf, vcf::variant::io::Write as _};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const HEADER: &str = "##fileformat=VCFv4.3\n\
##contig=<ID=chr1,length=1000000>\n\
##contig=<ID=chr2,length=1000000>\n\
##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\n";

/// The allele records of a VCF made of `HEADER` and `body`, as `chrom:pos:ref>alt copies`.
fn alleles(bytes: &[u8]) -> Result<(Vec<String>, ReadSummary), GenomesError> {
    let mut reader = VariantReader::new(bytes, "t.vcf")?;
    let mut out = Vec::new();
    while let Some(a) = reader.next_allele() {
        out.push(format!(
            "{}:{}:{}>{} {:?}",
            a.key.chrom.as_str(),
            a.key.pos,
            a.key.reference.as_str(),
            a.key.alternate.as_str(),
            a.copies
        ));
    }
    Ok((out, reader.finish()))
}

fn check(body: &str, expect: &[&str]) {
    let text = format!("{HEADER}{body}");
    match alleles(text.as_bytes()) {
        Ok((got, summary)) => {
            assert_eq!(got, expect, "{body}");
            let errors = summary
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            assert_eq!(errors, 0, "{body}: {:?}", summary.diagnostics);
        }
        Err(e) => panic!("{body}: {e}"),
    }
}

#[test]
fn genotypes_to_copies() {
    check(
        "chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\t1/1\n",
        &["chr1:10:A>G [0, 1, 2]"],
    );
    check(
        "chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0|0\t1|0\t1|1\n",
        &["chr1:10:A>G [0, 1, 2]"],
    );
    check(
        "chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0\t1\t.\n",
        &["chr1:10:A>G [0, 1, 0]"],
    );
    check(
        "chr1\t10\t.\tA\tG\t.\t.\t.\tGT:DP\t./.:3\t.\t1/.:7\n",
        &["chr1:10:A>G [0, 0, 1]"],
    );
    check(
        "chr1\t10\t.\tA\tG\t.\t.\t.\tDP:GT\t3:0/1\t4\t5:1/1\n",
        &["chr1:10:A>G [1, 0, 2]"],
    );
    check(
        "chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t|0|1\t/1/1\t0/1/1\n",
        &["chr1:10:A>G [1, 2, 2]"],
    );
    check(
        "chr1\t10\t.\ta\tc\t.\t.\t.\tGT\t0/1\t0/0\t0/0\n",
        &["chr1:10:A>C [1, 0, 0]"],
    );
    check(
        "chr1\t10\t.\tA\tG\t.\t.\t.\tDP\t3\t4\t5\n",
        &["chr1:10:A>G [0, 0, 0]"],
    );
    check(
        "chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/0\t0/0\r\n",
        &["chr1:10:A>G [1, 0, 0]"],
    );
}

#[test]
fn multi_allelic_records_split_per_alt() {
    check(
        "chr1\t10\t.\tA\tG,T\t.\t.\t.\tGT\t1/2\t2/2\t0/1\n",
        &["chr1:10:A>G [1, 0, 1]", "chr1:10:A>T [1, 2, 0]"],
    );
    check(
        "chr1\t10\t.\tAT\t*,A,<DEL>\t.\t.\t.\tGT\t1/2\t2/2\t3/3\n",
        &["chr1:10:AT>A [1, 2, 0]"],
    );
    check("chr1\t10\t.\tA\t.\t.\t.\t.\tGT\t0/0\t0/0\t0/0\n", &[]);
    check(
        "chr1\t10\t.\tG\tG]17:198982],A[chr2:3[,.A,A.,C\t.\t.\t.\tGT\t5/5\t0/0\t0/1\n",
        &["chr1:10:G>C [2, 0, 0]"],
    );
}

#[test]
fn skipped_alleles_and_missing_calls_are_counted() -> TestResult {
    let body = "chr1\t10\t.\tA\t*,G,<INS>\t.\t.\t.\tGT\t./.\t0/2\t.\n\
                chr1\t20\t.\tA\t<DUP>\t.\t.\t.\tGT\t0/1\t0/1\t0/1\n";
    let (got, summary) = alleles(format!("{HEADER}{body}").as_bytes())?;
    assert_eq!(got, ["chr1:10:A>G [0, 1, 0]"]);
    assert_eq!(summary.records, 2);
    assert_eq!(summary.alleles, 1);
    assert_eq!(summary.spanning_deletions, 1);
    assert_eq!(summary.symbolic, 2);
    // Only records with a kept ALT have their genotypes read.
    assert_eq!(summary.missing_genotypes, 2);
    let notes: Vec<&str> = summary
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        notes,
        [
            "3 ALT alleles skipped: 1 spanning deletions (*), 2 symbolic or breakend alleles",
            "2 sample genotypes had a missing call, counted as 0 copies",
        ]
    );
    assert!(
        summary
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
    Ok(())
}

/// Each bad line gives one diagnostic at its line, and the good lines around it still count.
fn check_bad(line: &str, field: &str, alleles_left: usize) {
    let good = "chr1\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1\t0/1\t0/1\n";
    let text = format!("{HEADER}{good}{line}\n{good}");
    let (got, summary) = match alleles(text.as_bytes()) {
        Ok(r) => r,
        Err(e) => panic!("{line}: {e}"),
    };
    assert_eq!(got.len(), 2 + alleles_left, "{line}: {got:?}");
    let errors: Vec<&Diagnostic> = summary
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{line}: {errors:?}");
    assert_eq!(errors[0].position.as_deref(), Some("line 8"), "{line}");
    assert_eq!(errors[0].field.as_deref().unwrap_or(""), field, "{line}");
    assert_eq!(errors[0].file, "t.vcf");
}

#[test]
fn bad_records_are_diagnostics() {
    check_bad("chr 1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1", "CHROM", 0);
    check_bad("chr1\t0\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1", "POS", 0);
    check_bad("chr1\t-3\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1", "POS", 0);
    check_bad(
        "chr1\t4294967296\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1",
        "POS",
        0,
    );
    check_bad("chr1\t10\t.\tR\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1", "REF", 0);
    check_bad(
        "chr1\t10\t.\t<DEL>\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1",
        "REF",
        0,
    );
    check_bad("chr1\t10\t.\tA\tX,G\t.\t.\t.\tGT\t0/1\t0/2\t0/1", "ALT", 1);
    check_bad("chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/x\t0/1", "GT", 1);
    check_bad("chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/2\t0/1", "GT", 1);
    check_bad("chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/\t0/1", "GT", 1);
    check_bad("chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1", "", 1);
    check_bad("chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1\t1/1", "", 1);
    check_bad("chr1\t10\t.\tA\tG\t.\t.\t.", "FORMAT", 1);
    check_bad("chr1\t10\t.\tA\tG", "", 0);
    check_bad("#CHROM\tPOS", "", 0);
    check_bad(
        "chr1\t10\t.\t\u{e9}\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1",
        "REF",
        0,
    );
}

#[test]
fn copies_of_a_failed_genotype_are_zero() -> TestResult {
    let text = format!("{HEADER}chr1\t10\t.\tA\tG\t.\t.\t.\tGT\t1/1\t1/9\t1/1\n");
    let (got, _) = alleles(text.as_bytes())?;
    assert_eq!(got, ["chr1:10:A>G [2, 0, 2]"]);
    Ok(())
}

#[test]
fn sites_only_vcf() -> TestResult {
    let text = "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n\
                chr1\t10\t.\tA\tG,C\t.\t.\t.\n";
    let mut reader = VariantReader::new(text.as_bytes(), "s.vcf")?;
    assert!(reader.sample_names().is_empty());
    let got: Vec<AlleleRecord> = reader.by_ref().collect();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|a| a.copies.is_empty() && a.position == 3));
    assert!(reader.finish().diagnostics.is_empty());
    Ok(())
}

fn check_header(text: &str, ok: bool) {
    assert_eq!(
        VariantReader::new(text.as_bytes(), "h.vcf").is_ok(),
        ok,
        "{text:?}"
    );
}

#[test]
fn headers() {
    let chrom = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO";
    check_header(&format!("##fileformat=VCFv4.2\n{chrom}\n"), true);
    check_header(&format!("##fileformat=VCFv4.2\n{chrom}\tFORMAT\tA\n"), true);
    check_header(&format!("##fileformat=VCFv4.2\n{chrom}"), true);
    check_header(
        &format!("##fileformat=VCFv4.2\n{chrom}\tNOTFORMAT\tA\n"),
        false,
    );
    check_header(&format!("{chrom}\n"), false);
    check_header("##fileformat=VCFv4.2\n##x=y\n", false);
    check_header("##fileformat=VCFv4.2\nchr1\t1\t.\tA\tC\t.\t.\t.\n", false);
    check_header("##fileformat=VCFv4.2\n#CHROM\tPOS\n", false);
    check_header("", false);
    assert!(VariantReader::new(&b"\x1f\x8b"[..], "h.vcf").is_err());
    assert!(VariantReader::new(&b"##fileformat=VCFv4.3\n\xff\xfe"[..], "h.vcf").is_err());
    check_header("BCF\x02\x02\0\0", false);
}

#[test]
fn repeated_sample_names_are_warned_about() -> TestResult {
    let text =
        "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tA\n";
    let reader = VariantReader::new(text.as_bytes(), "d.vcf")?;
    assert_eq!(reader.sample_names(), ["A", "A"]);
    let summary = reader.finish();
    assert_eq!(summary.diagnostics.len(), 1);
    assert_eq!(summary.diagnostics[0].severity, Severity::Warning);
    Ok(())
}

#[test]
fn diagnostics_are_capped() -> TestResult {
    let mut text = HEADER.to_owned();
    for _ in 0..MAX_DIAGNOSTICS + 10 {
        text.push_str("chr1\tx\t.\tA\tG\t.\t.\t.\tGT\t0/1\t0/1\t0/1\n");
    }
    let (got, summary) = alleles(text.as_bytes())?;
    assert!(got.is_empty());
    assert_eq!(summary.suppressed_diagnostics, 10);
    assert_eq!(summary.diagnostics.len(), MAX_DIAGNOSTICS + 1);
    assert_eq!(summary.rejected_records, (MAX_DIAGNOSTICS + 10) as u64);
    Ok(())
}

#[test]
fn parse_gt_cases() {
    type Case = (&'static str, usize, Result<(&'static [u32], bool), GtError>);
    let cases: &[Case] = &[
        ("0/1", 1, Ok((&[0, 1], false))),
        ("1|1", 1, Ok((&[1, 1], false))),
        ("2", 2, Ok((&[2], false))),
        ("./.", 1, Ok((&[MISSING, MISSING], true))),
        (".", 1, Ok((&[MISSING], true))),
        ("0/.", 1, Ok((&[0, MISSING], true))),
        ("|1|0", 1, Ok((&[1, 0], false))),
        ("10/0", 10, Ok((&[10, 0], false))),
        ("0/2", 1, Err(GtError::Index(2))),
        ("99999999999999999999", 3, Err(GtError::Index(u64::MAX))),
        ("", 1, Err(GtError::Syntax)),
        ("0/", 1, Err(GtError::Syntax)),
        ("0//1", 1, Err(GtError::Syntax)),
        ("a", 1, Err(GtError::Syntax)),
        ("0 /1", 1, Err(GtError::Syntax)),
        ("0/1:", 1, Err(GtError::Syntax)),
    ];
    for (gt, alts, expect) in cases {
        let mut out = Vec::new();
        let got = parse_gt(gt.as_bytes(), *alts, &mut out).map(|m| (out.as_slice(), m));
        assert_eq!(got, *expect, "{gt:?}");
    }
}

fn bgzf(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut w = noodles::bgzf::io::Writer::new(Vec::new());
    w.write_all(data)?;
    w.finish()
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data)?;
    e.finish()
}

const BODY: &str = "chr1\t10\t.\tA\tG,T\t.\tPASS\t.\tGT:DP\t1/2:3\t2|2:4\t0/1:5\n\
chr1\t20\t.\tC\t*,CA\t.\tPASS\t.\tGT\t./.\t0/2\t./.\n\
chr2\t5\t.\tGT\tG\t.\tPASS\t.\tGT\t0\t1\t0/0\n\
chr2\t7\t.\tT\t<DEL>\t.\tPASS\t.\tGT\t0/1\t0/0\t0/0\n\
chr2\t9\t.\tN\tA\t.\tPASS\t.\tDP\t1\t2\t3\n";

#[test]
fn compressed_vcf_reads_as_plain() -> TestResult {
    let text = format!("{HEADER}{BODY}");
    let (plain, plain_summary) = alleles(text.as_bytes())?;
    assert_eq!(plain.len(), 5);
    for (bytes, compression) in [
        (bgzf(text.as_bytes())?, Compression::Bgzf),
        (gzip(text.as_bytes())?, Compression::Gzip),
    ] {
        let reader = VariantReader::new(&bytes[..], "t.vcf.gz")?;
        assert_eq!(reader.compression(), compression);
        assert_eq!(reader.format(), DataFormat::Vcf);
        let (got, summary) = alleles(&bytes)?;
        assert_eq!(got, plain);
        assert_eq!(summary, plain_summary);
    }
    Ok(())
}

#[test]
fn corrupt_gzip_stops_with_a_diagnostic() -> TestResult {
    let text = format!("{HEADER}{}", BODY.repeat(2000));
    let mut bytes = bgzf(text.as_bytes())?;
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b = !*b;
    }
    let (got, summary) = alleles(&bytes)?;
    assert!(!got.is_empty() && got.len() < 10_000);
    assert!(
        summary
            .diagnostics
            .iter()
            .any(|d| d.message.contains("reading stopped")),
        "{:?}",
        summary.diagnostics
    );
    Ok(())
}

/// The same header and lines as BCF, written by noodles (whose BCF writer refuses a haploid
/// missing call after diploid ones in a record, hence `./.` in [`BODY`]).
fn to_bcf(text: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut reader = vcf::io::Reader::new(text.as_bytes());
    let header = reader.read_header()?;
    let mut writer = bcf::io::Writer::new(Vec::new());
    writer.write_header(&header)?;
    for record in reader.records() {
        writer.write_variant_record(&header, &record?)?;
    }
    Ok(writer.into_inner().finish()?)
}

#[test]
fn bcf_reads_as_vcf() -> TestResult {
    let text = format!("{HEADER}{BODY}");
    let bytes = to_bcf(&text)?;
    let reader = VariantReader::new(&bytes[..], "t.bcf")?;
    assert_eq!(reader.format(), DataFormat::Bcf);
    assert_eq!(reader.compression(), Compression::Bgzf);
    assert_eq!(reader.sample_names(), ["S1", "S2", "S3"]);
    let (vcf_alleles, vcf_summary) = alleles(text.as_bytes())?;
    let (bcf_alleles, bcf_summary) = alleles(&bytes)?;
    assert_eq!(bcf_alleles, vcf_alleles);
    assert_eq!(bcf_summary.records, vcf_summary.records);
    assert_eq!(bcf_summary.missing_genotypes, vcf_summary.missing_genotypes);
    assert_eq!(bcf_summary.symbolic, vcf_summary.symbolic);
    assert_eq!(
        bcf_summary.spanning_deletions,
        vcf_summary.spanning_deletions
    );
    Ok(())
}

#[test]
fn bcf_records_cut_short_or_broken() -> TestResult {
    let text = format!("{HEADER}{BODY}");
    let bytes = to_bcf(&text)?;
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
        &mut plain,
    )?;
    // Cut inside the last record.
    let (got, summary) = alleles(&plain[..plain.len() - 5])?;
    assert_eq!(got.len(), 4);
    assert!(
        summary
            .diagnostics
            .iter()
            .any(|d| d.message.contains("cut short"))
    );
    // A record whose shared length is 4 GiB: cut short, and nothing that big is allocated.
    let text_len = u32::from_le_bytes([plain[5], plain[6], plain[7], plain[8]]) as usize;
    let header_end = 9 + text_len;
    let mut huge = plain[..header_end].to_vec();
    huge.extend([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    huge.extend([0_u8; 100]);
    let (got, summary) = alleles(&huge)?;
    assert!(got.is_empty());
    assert!(
        summary
            .diagnostics
            .iter()
            .any(|d| d.message.contains("cut short"))
    );
    // A record too short to hold a site is skipped, and the next one read.
    let mut short = plain[..header_end].to_vec();
    short.extend([4, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    short.extend(&plain[header_end..]);
    let (got, summary) = alleles(&short)?;
    assert_eq!(got.len(), 5);
    let errors: Vec<_> = summary
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].position.as_deref(), Some("record 1"));
    Ok(())
}

/// Calls and notes of every allele, as owned records.
fn records(bytes: &[u8]) -> Result<Vec<AlleleRecord>, GenomesError> {
    Ok(VariantReader::new(bytes, "t")?.collect())
}

#[test]
fn calls_and_notes_agree_between_vcf_and_bcf() -> TestResult {
    let text = "##fileformat=VCFv4.3\n\
##contig=<ID=chr17,length=83257441>\n\
##INFO=<ID=GENE,Number=1,Type=String,Description=\"Gene\">\n\
##INFO=<ID=CSQ,Number=.,Type=String,Description=\"Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL|Feature|HGVSc|HGVSp|HGNC_ID\">\n\
##INFO=<ID=CLNSIG,Number=.,Type=String,Description=\"ClinVar\">\n\
##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
##FORMAT=<ID=AD,Number=R,Type=Integer,Description=\"Allelic depths\">\n\
##FORMAT=<ID=AF,Number=A,Type=Float,Description=\"Allele fractions\">\n\
##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\tN\n\
chr17\t7675088\trs28934578;COSV52661038\tC\tT,G\t.\tPASS\tGENE=TP53;CSQ=T|missense_variant|MODERATE|TP53|ENST00000269305.9|ENST00000269305.9:c.524G>A|ENSP00000269305.4:p.Arg175His|11998,G|missense_variant|MODERATE|TP53|ENST00000269305.9|ENST00000269305.9:c.524G>C|ENSP00000269305.4:p.Arg175Pro|11998;CLNSIG=Pathogenic\tGT:AD:AF:DP\t0/1:50,41,9:0.41,0.09:100\t1|1:0,30,.:.,.:.\n\
chr17\t7675100\t.\tA\tC\t.\tPASS\t.\tGT\t1\t0\n";
    let unplaced = |mut r: Vec<AlleleRecord>| {
        r.iter_mut().for_each(|a| a.position = 0);
        r
    };
    let vcf = unplaced(records(text.as_bytes())?);
    let bcf = unplaced(records(&to_bcf(text)?)?);
    assert_eq!(
        vcf, bcf,
        "BCF reads as VCF (but for line and record numbers)"
    );
    assert_eq!(vcf.len(), 3);
    let t = &vcf[0];
    assert_eq!(t.copies, [1, 2]);
    assert_eq!(t.notes.ids, ["rs28934578", "COSV52661038"]);
    assert_eq!(t.notes.gene.as_deref(), Some("TP53"));
    assert_eq!(t.notes.gene_id.as_deref(), Some("HGNC:11998"));
    assert_eq!(t.notes.clinical_significance, ["Pathogenic"]);
    assert_eq!(t.notes.effects.len(), 1, "the G allele's effect is not T's");
    assert_eq!(t.notes.effects[0].hgvs_c.as_deref(), Some("c.524G>A"));
    assert_eq!(
        t.calls[0],
        SampleCall {
            ploidy: 2,
            allele_fraction: Some(0.41),
            depth: Some(100),
            allele_depth: Some(41),
            total_allele_depth: Some(100),
        }
    );
    // The second sample: AF and DP missing, one AD missing (so no total).
    assert_eq!(
        t.calls[1],
        SampleCall {
            ploidy: 2,
            allele_fraction: None,
            depth: None,
            allele_depth: Some(30),
            total_allele_depth: None,
        }
    );
    let g = &vcf[1];
    assert_eq!(g.calls[0].allele_fraction, Some(0.09));
    assert_eq!(g.calls[0].allele_depth, Some(9));
    assert_eq!(
        g.notes.effects[0].hgvs_p.as_deref(),
        Some("ENSP00000269305.4:p.Arg175Pro")
    );
    // A haploid call, no annotations, no FORMAT beyond GT.
    let h = &vcf[2];
    assert_eq!((h.calls[0].ploidy, h.calls[0].depth), (1, None));
    assert!(h.notes.is_empty());
    Ok(())
}

#[test]
fn impossible_fractions_and_depths_are_missing() -> TestResult {
    let text = "##fileformat=VCFv4.3\n\
##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
##FORMAT=<ID=AF,Number=A,Type=Float,Description=\"Allele fraction\">\n\
##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">\n\
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\tD\n\
chr1\t5\t.\tA\tC\t.\tPASS\t.\tGT:AF:DP\t0/1:NaN:-3\t0/1:inf:99999999999\t0/1:1.5:x\t0/1:0.5:7\n";
    let r = records(text.as_bytes())?;
    let fractions: Vec<Option<f32>> = r[0].calls.iter().map(|c| c.allele_fraction).collect();
    let depths: Vec<Option<u32>> = r[0].calls.iter().map(|c| c.depth).collect();
    assert_eq!(fractions, [None, None, None, Some(0.5)]);
    assert_eq!(depths, [None, None, None, Some(7)]);
    Ok(())
}
