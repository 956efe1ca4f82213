//! The joint call set: a multi-sample VCF.gz (+ tabix) and BCF (+ CSI) with the genotype of every
//! sample at every site.
//!
//! Records are streamed through the noodles BGZF writer, which fills 64 KiB blocks regardless of
//! record boundaries, as bgzip and bcftools do: records cross block boundaries.

use std::{fmt::Write as _, fs::File, io::Write as _, path::PathBuf};

use noodles::{bcf, bgzf, csi, tabix, vcf, vcf::variant::io::Write as _};

use super::{Cohort, Site, sample::vcf_header_prefix};
use crate::genomes::GenomicsError;

/// The paths of the joint call set.
#[derive(Clone, Debug)]
pub(super) struct JointFiles {
    pub(super) vcf: PathBuf,
    pub(super) vcf_tbi: PathBuf,
    pub(super) bcf: PathBuf,
    pub(super) bcf_csi: PathBuf,
}

/// Writes the joint VCF and BCF, then indexes them.
pub(super) fn write_joint(cohort: &Cohort<'_>, files: &JointFiles) -> Result<(), GenomicsError> {
    let header: vcf::Header = joint_header_text(cohort)
        .parse()
        .map_err(GenomicsError::VcfHeader)?;

    let vcf_error = |e| GenomicsError::io(&files.vcf, e);
    let bcf_error = |e| GenomicsError::io(&files.bcf, e);

    let mut vcf = vcf::io::Writer::new(bgzf::io::Writer::new(
        File::create(&files.vcf).map_err(vcf_error)?,
    ));
    vcf.write_header(&header).map_err(vcf_error)?;

    let mut bcf = bcf::io::Writer::new(File::create(&files.bcf).map_err(bcf_error)?);
    bcf.write_header(&header).map_err(bcf_error)?;

    let sample_count = cohort.opts.samples.len();
    let mut line = String::with_capacity(64 + 4 * sample_count);

    for site in cohort.sites {
        format_site(&mut line, site);

        vcf.get_mut()
            .write_all(line.as_bytes())
            .and_then(|()| vcf.get_mut().write_all(b"\n"))
            .map_err(vcf_error)?;

        let record = vcf::Record::try_from(line.as_bytes()).map_err(bcf_error)?;
        bcf.write_variant_record(&header, &record)
            .map_err(bcf_error)?;
    }

    vcf.into_inner().finish().map_err(vcf_error)?;
    bcf.into_inner().finish().map_err(bcf_error)?;

    let index = vcf::fs::index(&files.vcf).map_err(vcf_error)?;
    tabix::fs::write(&files.vcf_tbi, &index).map_err(|e| GenomicsError::io(&files.vcf_tbi, e))?;

    let index = bcf::fs::index(&files.bcf).map_err(bcf_error)?;
    csi::fs::write(&files.bcf_csi, &index).map_err(|e| GenomicsError::io(&files.bcf_csi, e))?;

    Ok(())
}

/// Formats one joint VCF data line, without the line break.
fn format_site(line: &mut String, site: &Site) {
    line.clear();

    let an = 2 * site.genotypes.len();
    let ac: usize = site.genotypes.iter().map(|&g| usize::from(g)).sum();

    // Writing to a `String` cannot fail.
    let _ = write!(
        line,
        "{}\t{}\t.\t{}\t{}\t.\tPASS\tAC={ac};AN={an};AF={}\tGT",
        site.chrom,
        site.pos,
        site.reference,
        site.alternate,
        format_frequency(ac, an)
    );

    for &genotype in &site.genotypes {
        line.push_str(match genotype {
            0 => "\t0/0",
            1 => "\t0/1",
            _ => "\t1/1",
        });
    }
}

/// Formats an allele frequency with at most six decimals and no trailing zeros.
fn format_frequency(ac: usize, an: usize) -> String {
    let af = if an == 0 { 0.0 } else { ac as f64 / an as f64 };
    let text = format!("{af:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');

    if text.is_empty() {
        String::from("0")
    } else {
        text.to_owned()
    }
}

fn joint_header_text(cohort: &Cohort<'_>) -> String {
    let mut text = vcf_header_prefix(
        cohort.contigs,
        &[
            "##INFO=<ID=AC,Number=A,Type=Integer,Description=\"Allele count in genotypes, for each ALT allele, in the same order as listed\">",
            "##INFO=<ID=AN,Number=1,Type=Integer,Description=\"Total number of alleles in called genotypes\">",
            "##INFO=<ID=AF,Number=A,Type=Float,Description=\"Allele frequency, for each ALT allele, in the same order as listed\">",
        ],
        &["##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">"],
    );

    text.push_str("\tFORMAT");

    for sample in &cohort.opts.samples {
        text.push('\t');
        text.push_str(sample);
    }

    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_format_frequency() {
        assert_eq!(format_frequency(1, 48), "0.020833");
        assert_eq!(format_frequency(24, 48), "0.5");
        assert_eq!(format_frequency(0, 48), "0");
        assert_eq!(format_frequency(48, 48), "1");
    }

    #[test]
    fn test_format_site() {
        let site = Site {
            chrom: String::from("chr21"),
            pos: 1_234,
            reference: String::from("A"),
            alternate: String::from("AT"),
            genotypes: vec![0, 1, 2],
        };

        let mut line = String::new();
        format_site(&mut line, &site);

        assert_eq!(
            line,
            "chr21\t1234\t.\tA\tAT\t.\tPASS\tAC=3;AN=6;AF=0.5\tGT\t0/0\t0/1\t1/1"
        );
    }
}
