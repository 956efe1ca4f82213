//! One sample's files: the BAM, the CRAM and the single-sample VCF, and their indices.

use std::{
    fs::File,
    io::{self, BufWriter, Write as _},
    path::Path,
};

use noodles::{
    bam, bgzf, cram,
    sam::{self, alignment::io::Write as _},
    tabix, vcf,
};
use rand::Rng;

use super::{
    Cohort, REFERENCE_FILE_NAME, SampleFiles, Site, cram_layout,
    reads::{self, HapVariant, SimRead},
    reference::Contig,
    rng::{Stream, stream},
};
use crate::genomes::GenomicsError;

/// Writes the BAM, CRAM and VCF of sample `index`, then indexes them.
pub(super) fn write_sample(
    cohort: &Cohort<'_>,
    index: usize,
    files: &SampleFiles,
) -> Result<(), GenomicsError> {
    let sample = files.sample.as_str();
    let mut rng = stream(cohort.opts.seed, Stream::Sample(index));

    let sam_header: sam::Header = sam_header_text(cohort.contigs, sample)
        .parse()
        .map_err(GenomicsError::SamHeader)?;
    let vcf_header: vcf::Header = sample_vcf_header_text(cohort.contigs, sample)
        .parse()
        .map_err(GenomicsError::VcfHeader)?;

    let bam_error = |e| GenomicsError::io(&files.bam, e);
    let cram_error = |e| GenomicsError::io(&files.cram, e);
    let vcf_error = |e| GenomicsError::io(&files.vcf, e);

    let mut bam = BamFileWriter::create(&files.bam, &sam_header).map_err(bam_error)?;

    let mut cram = CramFileWriter::create(&files.cram, cohort, &sam_header).map_err(cram_error)?;

    let mut vcf = vcf::io::Writer::new(bgzf::io::Writer::new(
        File::create(&files.vcf).map_err(vcf_error)?,
    ));
    vcf.write_header(&vcf_header).map_err(vcf_error)?;

    let mut line = String::new();

    for (contig_index, (contig, range)) in
        cohort.contigs.iter().zip(&cohort.site_ranges).enumerate()
    {
        let mut haplotypes: [Vec<HapVariant<'_>>; 2] = [Vec::new(), Vec::new()];
        let mut calls: Vec<(&Site, u8)> = Vec::new();

        for site in &cohort.sites[range.clone()] {
            let genotype = site.genotypes[index];

            if genotype == 0 {
                continue;
            }

            let variant = HapVariant::from_site(site);

            if genotype >= 2 {
                haplotypes[0].push(variant);
                haplotypes[1].push(variant);
            } else {
                haplotypes[usize::from(rng.random_bool(0.5))].push(variant);
            }

            calls.push((site, genotype));
        }

        let reads = reads::simulate_contig(contig, &haplotypes, cohort.opts.coverage, &mut rng);

        let mut segment = cram.segment();

        for read in &reads {
            let name = reads::read_name(index, Some(contig_index), read.pair);
            let record = read.to_record_buf(Some(contig_index), &name, sample);
            bam.write_record(&sam_header, &record).map_err(bam_error)?;
            segment
                .write_alignment_record(&sam_header, &record)
                .map_err(cram_error)?;
        }

        cram.append(segment, &sam_header).map_err(cram_error)?;

        let depth = Depth::new(&reads);

        for (site, genotype) in calls {
            write_call(&mut line, site, genotype, depth.at(site.pos - 1));
            vcf.get_mut()
                .write_all(line.as_bytes())
                .map_err(vcf_error)?;
        }
    }

    let unmapped = reads::simulate_unmapped_pairs(reads::UNMAPPED_PAIRS, &mut rng);
    let mut segment = cram.segment();

    for read in &unmapped {
        let name = reads::read_name(index, None, read.pair);
        let record = read.to_record_buf(None, &name, sample);
        bam.write_record(&sam_header, &record).map_err(bam_error)?;
        segment
            .write_alignment_record(&sam_header, &record)
            .map_err(cram_error)?;
    }

    cram.append(segment, &sam_header).map_err(cram_error)?;
    cram.finish().map_err(cram_error)?;

    bam.finish().map_err(bam_error)?;
    vcf.into_inner().finish().map_err(vcf_error)?;

    let index = bam::fs::index(&files.bam).map_err(bam_error)?;
    bam::bai::fs::write(&files.bai, &index).map_err(|e| GenomicsError::io(&files.bai, e))?;

    let index = cram::fs::index(&files.cram).map_err(cram_error)?;
    cram::crai::fs::write(&files.crai, &index).map_err(|e| GenomicsError::io(&files.crai, e))?;

    let index = vcf::fs::index(&files.vcf).map_err(vcf_error)?;
    tabix::fs::write(&files.tbi, &index).map_err(|e| GenomicsError::io(&files.tbi, e))?;

    Ok(())
}

/// Writes a BAM file the way htslib does: the header ends a BGZF block, and a record that does
/// not fit in the current block starts a new one, so every block starts at a record boundary.
struct BamFileWriter {
    inner: bgzf::io::Writer<File>,
    encoder: bam::io::Writer<Vec<u8>>,
}

impl BamFileWriter {
    /// The uncompressed size htslib fills a BGZF block to (`BGZF_BLOCK_SIZE`).
    const BLOCK_SIZE: usize = 0xff00;

    fn create(path: &Path, header: &sam::Header) -> io::Result<Self> {
        let mut writer = bam::io::Writer::new(File::create(path)?);
        writer.write_header(header)?;

        let mut inner = writer.into_inner();
        inner.flush()?;

        Ok(Self {
            inner,
            encoder: bam::io::Writer::from(Vec::new()),
        })
    }

    fn write_record(
        &mut self,
        header: &sam::Header,
        record: &sam::alignment::RecordBuf,
    ) -> io::Result<()> {
        self.encoder.get_mut().clear();
        self.encoder.write_alignment_record(header, record)?;
        let bytes = self.encoder.get_ref();

        let pending = usize::from(self.inner.virtual_position().uncompressed());

        if pending > 0 && pending + bytes.len() > Self::BLOCK_SIZE {
            self.inner.flush()?;
        }

        self.inner.write_all(bytes)
    }

    fn finish(self) -> io::Result<()> {
        self.inner.finish().map(drop)
    }
}

/// Writes a CRAM file one contig at a time.
///
/// Each contig's records go through their own noodles writer (so no slice spans two references)
/// and the resulting containers are canonicalised (see [`cram_layout`]) before they are appended.
struct CramFileWriter {
    file: BufWriter<File>,
    repository: noodles::fasta::Repository,
    encoders: cram::container::BlockContentEncoderMap,
    record_counter: u64,
    buf: Vec<u8>,
}

impl CramFileWriter {
    fn create(path: &Path, cohort: &Cohort<'_>, header: &sam::Header) -> io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);

        let mut writer = cram::io::writer::Builder::default()
            .set_reference_sequence_repository(cohort.repository.clone())
            .build_from_writer(Vec::new());
        writer.write_header(header)?;
        let definition_and_header = writer.into_inner();

        if definition_and_header.len() < cram_layout::FILE_DEFINITION_LEN
            || &definition_and_header[..4] != b"CRAM"
            || definition_and_header[4] != 3
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "expected a CRAM 3 file definition (CRAM 3.0 § 6)",
            ));
        }

        file.write_all(&definition_and_header)?;

        // As htslib does for CRAM 3.0: rANS order-1 for quality scores (faster and smaller than
        // gzip), gzip for the rest.
        let encoders = cram::container::BlockContentEncoderMap::builder()
            .set_data_series_encoder(
                cram::container::compression_header::data_series_encodings::DataSeries::QualityScores,
                Some(cram::codecs::Encoder::Rans4x8(
                    cram::codecs::rans_4x8::Order::One,
                )),
            )
            .build();

        Ok(Self {
            file,
            repository: cohort.repository.clone(),
            encoders,
            record_counter: 0,
            buf: Vec::new(),
        })
    }

    /// A writer for the records of one reference sequence (or of the unmapped reads).
    fn segment(&self) -> cram::io::Writer<Vec<u8>> {
        cram::io::writer::Builder::default()
            .set_reference_sequence_repository(self.repository.clone())
            .set_block_content_encoder_map(self.encoders.clone())
            .build_from_writer(Vec::new())
    }

    fn append(
        &mut self,
        mut segment: cram::io::Writer<Vec<u8>>,
        header: &sam::Header,
    ) -> io::Result<()> {
        segment.try_finish(header)?;
        let containers = segment.into_inner();

        self.buf.clear();
        cram_layout::canonicalize_containers(&containers, &mut self.record_counter, &mut self.buf)?;
        self.file.write_all(&self.buf)
    }

    fn finish(mut self) -> io::Result<()> {
        self.file.write_all(&cram_layout::EOF_CONTAINER)?;
        self.file.flush()
    }
}

/// Read depth at reference positions, from coordinate-sorted reads.
struct Depth {
    starts: Vec<u32>,
    ends: Vec<u32>,
}

impl Depth {
    fn new(reads: &[SimRead]) -> Self {
        let mut starts = Vec::with_capacity(reads.len());
        let mut ends = Vec::with_capacity(reads.len());

        for read in reads.iter().filter(|read| read.is_mapped()) {
            if let Some(start) = read.start0 {
                starts.push(start);
                ends.push(read.end0);
            }
        }

        starts.sort_unstable();
        ends.sort_unstable();

        Self { starts, ends }
    }

    /// The number of mapped reads covering the 0-based position `pos0`.
    fn at(&self, pos0: u32) -> usize {
        let started = self.starts.partition_point(|&s| s <= pos0);
        let ended = self.ends.partition_point(|&e| e < pos0);
        started - ended
    }
}

/// Formats one VCF data line of the single-sample VCF.
fn write_call(line: &mut String, site: &Site, genotype: u8, depth: usize) {
    use std::fmt::Write as _;

    line.clear();

    let gt = if genotype >= 2 { "1/1" } else { "0/1" };
    // A simple, monotone stand-in for a caller's genotype quality.
    let gq = (3 + 10 * depth).min(99);

    // Writing to a `String` cannot fail.
    let _ = writeln!(
        line,
        "{}\t{}\t.\t{}\t{}\t.\tPASS\tDP={depth}\tGT:DP:GQ\t{gt}:{depth}:{gq}",
        site.chrom, site.pos, site.reference, site.alternate
    );
}

/// The SAM header of one sample's BAM and CRAM.
fn sam_header_text(contigs: &[Contig], sample: &str) -> String {
    let mut text = String::from("@HD\tVN:1.6\tSO:coordinate\n");

    for contig in contigs {
        text.push_str(&format!(
            "@SQ\tSN:{}\tLN:{}\tM5:{}\tAS:gemj-synthetic-ref\n",
            contig.name,
            contig.len(),
            contig.md5
        ));
    }

    text.push_str(&format!(
        "@RG\tID:{sample}\tSM:{sample}\tLB:{sample}-lib1\tPL:ILLUMINA\tPU:{sample}.1\n"
    ));
    text.push_str(&format!(
        "@PG\tID:gemj-genomics\tPN:gemj-genomics\tVN:{}\tDS:synthetic reads from the GeMJ demo genome generator\n",
        env!("CARGO_PKG_VERSION")
    ));

    text
}

/// The VCF header lines shared by the single-sample and the joint VCF.
pub(super) fn vcf_header_prefix(contigs: &[Contig], info: &[&str], format: &[&str]) -> String {
    let mut text = String::from("##fileformat=VCFv4.3\n");
    text.push_str("##FILTER=<ID=PASS,Description=\"All filters passed\">\n");

    for line in info.iter().chain(format) {
        text.push_str(line);
        text.push('\n');
    }

    for contig in contigs {
        text.push_str(&format!(
            "##contig=<ID={},length={},md5={}>\n",
            contig.name,
            contig.len(),
            contig.md5
        ));
    }

    text.push_str(&format!("##reference={REFERENCE_FILE_NAME}\n"));
    text.push_str("##source=gemj-genomics synthetic demo genomes\n");
    text.push_str("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO");

    text
}

fn sample_vcf_header_text(contigs: &[Contig], sample: &str) -> String {
    let mut text = vcf_header_prefix(
        contigs,
        &["##INFO=<ID=DP,Number=1,Type=Integer,Description=\"Combined depth across samples\">"],
        &[
            "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">",
            "##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Read depth\">",
            "##FORMAT=<ID=GQ,Number=1,Type=Integer,Description=\"Conditional genotype quality\">",
        ],
    );
    text.push_str(&format!("\tFORMAT\t{sample}\n"));
    text
}
