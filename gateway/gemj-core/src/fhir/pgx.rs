//! Star alleles of pharmacogenes, called from the variant store by their core variants.
//!
//! The table (`ontologies/pgx/core-alleles.tsv`, CPIC's definitions, provenance beside it)
//! gives, for CYP2C19 `*2`, `*3`, `*17` and CYP2C9 `*2`, `*3`, the single-nucleotide variant
//! that tells the allele from the reference allele. A germline call of that variant is a
//! Haplotype Observation of the allele (the IG's `haplotype` profile, LOINC 84414-2), derived
//! from the Variant. What the table does not define is not called: no diplotype (a reference
//! call is not stored, so an allele's absence at an uncovered position cannot be told from
//! the reference), no allele of another gene, no sub-allele.

use std::sync::OnceLock;

use gemj_model::VariantKey;

/// The shipped table, compiled in.
pub(crate) const CORE_ALLELES_TSV: &str =
    include_str!("../../../../ontologies/pgx/core-alleles.tsv");

/// One allele and its core variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CoreAllele {
    /// Gene symbol (`CYP2C19`).
    pub(crate) gene: String,
    /// HGNC id (`HGNC:2621`).
    pub(crate) hgnc: String,
    /// Star allele (`*2`).
    pub(crate) allele: String,
    /// dbSNP id of the core variant.
    pub(crate) rsid: String,
    /// Chromosome without `chr` (`10`).
    pub(crate) chrom: String,
    /// 1-based GRCh38 position.
    pub(crate) pos: u64,
    /// Reference base.
    pub(crate) reference: String,
    /// Alternate base.
    pub(crate) alternate: String,
    /// CPIC's function (`no function`).
    pub(crate) function: String,
}

impl CoreAllele {
    /// The allele's name with its gene (`CYP2C19*2`).
    pub(crate) fn name(&self) -> String {
        format!("{}{}", self.gene, self.allele)
    }

    /// The core variant as SPDI on GRCh38 (`NC_000010.11:94781858:G:A`).
    pub(crate) fn spdi(&self) -> Option<String> {
        let accession =
            gemj_beacon::Assembly::GRCh38.refseq_accession(&format!("chr{}", self.chrom))?;
        Some(format!(
            "{accession}:{}:{}:{}",
            self.pos - 1,
            self.reference,
            self.alternate
        ))
    }

    /// Whether a stored allele is this allele's core variant.
    pub(crate) fn is_core(&self, key: &VariantKey) -> bool {
        key.chrom.as_str().trim_start_matches("chr") == self.chrom
            && u64::from(key.pos) == self.pos
            && key.reference.as_str() == self.reference
            && key.alternate.as_str() == self.alternate
    }
}

/// The table, read once.
pub(crate) fn core_alleles() -> &'static [CoreAllele] {
    static TABLE: OnceLock<Vec<CoreAllele>> = OnceLock::new();
    TABLE.get_or_init(|| parse(CORE_ALLELES_TSV))
}

fn parse(tsv: &str) -> Vec<CoreAllele> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [
                gene,
                hgnc,
                allele,
                rsid,
                chrom,
                pos,
                reference,
                alternate,
                function,
            ] = f[..]
            else {
                return None;
            };
            Some(CoreAllele {
                gene: gene.to_owned(),
                hgnc: hgnc.to_owned(),
                allele: allele.to_owned(),
                rsid: rsid.to_owned(),
                chrom: chrom.trim_start_matches("chr").to_owned(),
                pos: pos.parse().ok()?,
                reference: reference.to_owned(),
                alternate: alternate.to_owned(),
                function: function.to_owned(),
            })
        })
        .collect()
}

/// The allele whose core variant `key` is, if any.
pub(crate) fn allele_of(key: &VariantKey) -> Option<&'static CoreAllele> {
    core_alleles().iter().find(|a| a.is_core(key))
}

/// The allele a caller names (`CYP2C19*2`, `CYP2C19 *2`, `cyp2c19*2`, with or without the
/// PharmVar system before `|`), if the table defines it.
pub(crate) fn named(text: &str) -> Option<&'static CoreAllele> {
    let code = text.rsplit_once('|').map_or(text, |(_, c)| c);
    let wanted: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    core_alleles()
        .iter()
        .find(|a| a.name().eq_ignore_ascii_case(&wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_is_the_one_its_provenance_names() {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, CORE_ALLELES_TSV.as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "cc0a1233fc13401bd647bd5f4a5f8b6bb0d8bc275a05ba4e406023f84ba78feb"
        );
        let table = core_alleles();
        assert_eq!(table.len(), 5, "every row parses");
        let star2 = named("CYP2C19*2").map(CoreAllele::spdi);
        assert_eq!(star2, Some(Some("NC_000010.11:94781858:G:A".to_owned())));
        assert_eq!(
            named("http://www.pharmvar.org|cyp2c9 *3").map(|a| a.pos),
            Some(94_981_296)
        );
        assert!(named("CYP2D6*4").is_none() && named("CYP2C19*1").is_none());
    }
}
