//! Reference sequences: the human assemblies GRCh38 and GRCh37, their synonyms, and the RefSeq
//! accessions (`NC_000001.11`, ...) of their primary chromosomes, mapped to the UCSC-style names
//! the gateway stores (`chr1` … `chr22`, `chrX`, `chrY`, `chrM`).
//!
//! The Beacon spec (`requestParametersComponents.json` `RefSeqId`, `Assembly`) recommends
//! assembly-specific RefSeq ids (`refseq:NC_000009.12`) and accepts names like `chr9` or `9`
//! together with an `assemblyId`; assembly ids may be RefSeq assembly accessions
//! (`GCF_000001405.39`), UCSC names (`hg38`) or GRC names (`GRCh38.p13`).

use std::fmt;

use crate::error::BeaconError;

/// A human reference assembly this crate knows the accessions of.
///
/// # Examples
///
/// ```
/// use gemj_beacon::Assembly;
///
/// assert_eq!(Assembly::parse("hg38"), Some(Assembly::GRCh38));
/// assert_eq!(Assembly::parse("GRCh38.p13"), Some(Assembly::GRCh38));
/// assert_eq!(Assembly::parse("GCF_000001405.25"), Some(Assembly::GRCh37));
/// assert_eq!(Assembly::parse("hg18"), None);
/// assert_eq!(Assembly::GRCh38.refseq_accession("chrX"), Some("NC_000023.11"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Assembly {
    /// GRCh37 (hg19).
    GRCh37,
    /// GRCh38 (hg38).
    GRCh38,
}

impl Assembly {
    /// The GRC name, the canonical `assemblyId` this crate reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GRCh37 => "GRCh37",
            Self::GRCh38 => "GRCh38",
        }
    }

    /// Recognizes an assembly id: the GRC name with an optional patch (`GRCh38`, `GRCh38.p14`),
    /// the UCSC name (`hg38`, `hg19`), or a RefSeq/GenBank assembly accession of one of its
    /// patches (`GCF_000001405.26`–`.40` and `GCA_000001405.15`–`.29` for GRCh38;
    /// `GCF_000001405.13`–`.25` and `GCA_000001405.1`–`.14` for GRCh37). Names are
    /// case-insensitive.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let lower = s.to_ascii_lowercase();
        for assembly in [Self::GRCh38, Self::GRCh37] {
            let (grc, ucsc) = match assembly {
                Self::GRCh38 => ("grch38", "hg38"),
                Self::GRCh37 => ("grch37", "hg19"),
            };
            if lower == grc || lower == ucsc {
                return Some(assembly);
            }
            if let Some(patch) = lower.strip_prefix(grc).and_then(|r| r.strip_prefix(".p"))
                && !patch.is_empty()
                && patch.bytes().all(|b| b.is_ascii_digit())
            {
                return Some(assembly);
            }
        }
        let (prefix, version) = lower.split_once('.')?;
        let version: u32 = version.parse().ok()?;
        match (prefix, version) {
            ("gcf_000001405", 26..=40) | ("gca_000001405", 15..=29) => Some(Self::GRCh38),
            ("gcf_000001405", 13..=25) | ("gca_000001405", 1..=14) => Some(Self::GRCh37),
            _ => None,
        }
    }

    /// The versioned RefSeq accession of a primary chromosome (`chr1`…`chr22`, `chrX`, `chrY`,
    /// `chrM`), or `None` for other sequences.
    #[must_use]
    pub fn refseq_accession(self, chromosome: &str) -> Option<&'static str> {
        ACCESSIONS
            .iter()
            .find(|(chrom, _, _)| *chrom == chromosome)
            .map(|(_, grch38, grch37)| match self {
                Self::GRCh38 => *grch38,
                Self::GRCh37 => *grch37,
            })
    }
}

impl fmt::Display for Assembly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// (chromosome, GRCh38 accession, GRCh37 accession). The mitochondrion (rCRS) is the same
/// sequence in both.
const ACCESSIONS: [(&str, &str, &str); 25] = [
    ("chr1", "NC_000001.11", "NC_000001.10"),
    ("chr2", "NC_000002.12", "NC_000002.11"),
    ("chr3", "NC_000003.12", "NC_000003.11"),
    ("chr4", "NC_000004.12", "NC_000004.11"),
    ("chr5", "NC_000005.10", "NC_000005.9"),
    ("chr6", "NC_000006.12", "NC_000006.11"),
    ("chr7", "NC_000007.14", "NC_000007.13"),
    ("chr8", "NC_000008.11", "NC_000008.10"),
    ("chr9", "NC_000009.12", "NC_000009.11"),
    ("chr10", "NC_000010.11", "NC_000010.10"),
    ("chr11", "NC_000011.10", "NC_000011.9"),
    ("chr12", "NC_000012.12", "NC_000012.11"),
    ("chr13", "NC_000013.11", "NC_000013.10"),
    ("chr14", "NC_000014.9", "NC_000014.8"),
    ("chr15", "NC_000015.10", "NC_000015.9"),
    ("chr16", "NC_000016.10", "NC_000016.9"),
    ("chr17", "NC_000017.11", "NC_000017.10"),
    ("chr18", "NC_000018.10", "NC_000018.9"),
    ("chr19", "NC_000019.10", "NC_000019.9"),
    ("chr20", "NC_000020.11", "NC_000020.10"),
    ("chr21", "NC_000021.9", "NC_000021.8"),
    ("chr22", "NC_000022.11", "NC_000022.10"),
    ("chrX", "NC_000023.11", "NC_000023.10"),
    ("chrY", "NC_000024.10", "NC_000024.9"),
    ("chrM", "NC_012920.1", "NC_012920.1"),
];

/// A reference sequence name as a query gave it, normalized.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{Assembly, ReferenceName};
///
/// let name = ReferenceName::parse("refseq:NC_000017.11")?;
/// assert_eq!(name.chromosome(), "chr17");
/// assert_eq!(name.assembly(), Some(Assembly::GRCh38));
/// assert_eq!(ReferenceName::parse("X")?.chromosome(), "chrX");
/// assert_eq!(ReferenceName::parse("MT")?.chromosome(), "chrM");
/// assert_eq!(ReferenceName::parse("chr6_GL000250v2_alt")?.chromosome(), "chr6_GL000250v2_alt");
/// assert!(ReferenceName::parse("NC_000001.9").is_err());
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReferenceName {
    chromosome: String,
    assembly: Option<Assembly>,
}

impl ReferenceName {
    /// Normalizes a reference name:
    ///
    /// - a RefSeq accession of a GRCh38 or GRCh37 primary chromosome, with or without a
    ///   `refseq:` prefix, becomes `chrN` and fixes the assembly (`NC_012920.1`, the
    ///   mitochondrion, is `chrM` in both and fixes none); an unversioned `NC_0000NN` becomes
    ///   `chrN` without an assembly; any other `NC_0000NN.V` version is an error (another
    ///   assembly, e.g. NCBI36);
    /// - `1`…`22`, `X`, `Y`, `M`, `MT`, with or without a `chr` prefix (case-insensitive),
    ///   become `chr1`…`chr22`, `chrX`, `chrY`, `chrM`;
    /// - any other name (alt contigs, decoys) is kept as given, if it is 1–255 visible ASCII
    ///   characters without commas.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidValue`] for empty or malformed names,
    /// [`crate::ErrorKind::UnsupportedAssembly`] for a chromosome accession of another assembly.
    pub fn parse(s: &str) -> Result<Self, BeaconError> {
        Self::parse_as("referenceName", s)
    }

    /// [`ReferenceName::parse`] for the parameter `param` (named in error messages).
    pub(crate) fn parse_as(param: &str, s: &str) -> Result<Self, BeaconError> {
        let bare = strip_prefix_ignore_case(s, "refseq:").unwrap_or(s);
        if let Some(number) = strip_prefix_ignore_case(bare, "NC_") {
            let (stem, version) = match number.split_once('.') {
                Some((stem, version)) => (stem, Some(version)),
                None => (number, None),
            };
            let accession_stem = format!("NC_{stem}");
            let row = ACCESSIONS
                .iter()
                .find(|(_, grch38, _)| grch38.split('.').next() == Some(accession_stem.as_str()));
            if let Some(&(chrom, grch38, grch37)) = row {
                let Some(version) = version else {
                    return Ok(Self::primary(chrom, None));
                };
                let full = format!("{accession_stem}.{version}");
                if grch38 == grch37 && full == grch38 {
                    return Ok(Self::primary(chrom, None));
                }
                if full == grch38 {
                    return Ok(Self::primary(chrom, Some(Assembly::GRCh38)));
                }
                if full == grch37 {
                    return Ok(Self::primary(chrom, Some(Assembly::GRCh37)));
                }
                return Err(BeaconError::bad_request(
                    crate::ErrorKind::UnsupportedAssembly,
                    format!(
                        "the reference sequence is neither the GRCh38 ({grch38}) nor the GRCh37 ({grch37}) accession of {chrom}"
                    ),
                ));
            }
        }
        let core = strip_prefix_ignore_case(bare, "chr").unwrap_or(bare);
        if let Some(chrom) = primary_name(core) {
            return Ok(Self::primary(&chrom, None));
        }
        let valid =
            !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic() && b != b',');
        if !valid {
            return Err(BeaconError::invalid(format!(
                "`{param}` is not a reference sequence name"
            )));
        }
        Ok(Self {
            chromosome: s.to_owned(),
            assembly: None,
        })
    }

    fn primary(chrom: &str, assembly: Option<Assembly>) -> Self {
        Self {
            chromosome: chrom.to_owned(),
            assembly,
        }
    }

    /// The normalized name (`chr17`, or the name as given for non-primary sequences).
    #[must_use]
    pub fn chromosome(&self) -> &str {
        &self.chromosome
    }

    /// The assembly a versioned RefSeq accession implies.
    #[must_use]
    pub fn assembly(&self) -> Option<Assembly> {
        self.assembly
    }
}

fn primary_name(core: &str) -> Option<String> {
    let upper = core.to_ascii_uppercase();
    match upper.as_str() {
        "X" | "Y" => Some(format!("chr{upper}")),
        "M" | "MT" => Some("chrM".to_owned()),
        digits if !digits.is_empty() && !digits.starts_with('0') => {
            let n: u8 = digits.parse().ok()?;
            (1..=22).contains(&n).then(|| format!("chr{n}"))
        }
        _ => None,
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, chrom: &str, assembly: Option<Assembly>) {
        let name = ReferenceName::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(name.chromosome(), chrom, "{input}");
        assert_eq!(name.assembly(), assembly, "{input}");
    }

    #[test]
    fn reference_names() {
        check("chr1", "chr1", None);
        check("1", "chr1", None);
        check("CHR22", "chr22", None);
        check("x", "chrX", None);
        check("chrMT", "chrM", None);
        check("NC_000001.11", "chr1", Some(Assembly::GRCh38));
        check("NC_000001.10", "chr1", Some(Assembly::GRCh37));
        check("refseq:NC_000009.12", "chr9", Some(Assembly::GRCh38));
        check("RefSeq:NC_000024.9", "chrY", Some(Assembly::GRCh37));
        check("NC_000023", "chrX", None);
        check("NC_012920.1", "chrM", None);
        check("chr01", "chr01", None);
        check("chr23", "chr23", None);
        check("HLA-A*01:01:01:01", "HLA-A*01:01:01:01", None);
        assert!(ReferenceName::parse("").is_err());
        assert!(ReferenceName::parse("chr 1").is_err());
        assert!(ReferenceName::parse("chr1,chr2").is_err());
        assert!(ReferenceName::parse("NC_000001.9").is_err());
    }

    #[test]
    fn every_accession_maps_back() {
        for (chrom, grch38, grch37) in ACCESSIONS {
            let name = ReferenceName::parse(grch38).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(name.chromosome(), chrom);
            let name = ReferenceName::parse(grch37).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(name.chromosome(), chrom);
            assert_eq!(Assembly::GRCh38.refseq_accession(chrom), Some(grch38));
            assert_eq!(Assembly::GRCh37.refseq_accession(chrom), Some(grch37));
        }
    }

    #[test]
    fn assemblies() {
        for (s, a) in [
            ("GRCh38", Some(Assembly::GRCh38)),
            ("grch38", Some(Assembly::GRCh38)),
            ("GRCh38.p14", Some(Assembly::GRCh38)),
            ("GRCh38.p", None),
            ("GRCh38.px", None),
            ("hg19", Some(Assembly::GRCh37)),
            ("GRCh37.p13", Some(Assembly::GRCh37)),
            ("GCF_000001405.39", Some(Assembly::GRCh38)),
            ("GCA_000001405.15", Some(Assembly::GRCh38)),
            ("GCF_000001405.12", None),
            ("T2T-CHM13v2.0", None),
            ("", None),
        ] {
            assert_eq!(Assembly::parse(s), a, "{s}");
        }
    }
}
