//! Variants, keyed as the variant index keys them: (chromosome, 1-based position, reference
//! allele, alternate allele), normalised to upper case.

use crate::error::ModelError;
use crate::macros::string_newtype;

string_newtype!(
    /// A reference sequence name as it appears in the gateway's files (`chr20`).
    Chromosome, as_str = "The name."
);

impl Chromosome {
    /// Parses a contig name: 1 to 64 printable ASCII characters without white space, commas
    /// or colons (the VCF 4.3 rule, which keeps `chr:start-end` region strings unambiguous).
    ///
    /// # Errors
    /// When the name breaks that rule.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && !s.starts_with(['*', '='])
            && s.bytes().all(|b| {
                b.is_ascii_graphic()
                    && !matches!(
                        b,
                        b',' | b':'
                            | b'<'
                            | b'>'
                            | b'['
                            | b']'
                            | b'{'
                            | b'}'
                            | b'('
                            | b')'
                            | b'\\'
                            | b'"'
                            | b'\''
                            | b'`'
                    )
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ModelError::value(
                "chromosome",
                s,
                "not a valid contig name",
            ))
        }
    }
}

string_newtype!(
    /// An allele: bases `ACGTN` (upper case), or `*` for a spanning deletion, or a symbolic allele
    /// such as `<DEL>`.
    Allele, as_str = "The allele text."
);

impl Allele {
    /// Parses an allele, upper-casing bases.
    ///
    /// # Errors
    /// When the text is empty, longer than 10,000 characters, or has other characters.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        if s.is_empty() || s.len() > 10_000 {
            return Err(ModelError::value(
                "allele",
                s,
                "must be 1 to 10000 characters",
            ));
        }
        if s == "*" {
            return Ok(Self(s.to_owned()));
        }
        if s.starts_with('<') && s.ends_with('>') && s.len() > 2 {
            let inner = &s[1..s.len() - 1];
            if inner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.' | b'-'))
            {
                return Ok(Self(s.to_owned()));
            }
        }
        let up = s.to_ascii_uppercase();
        if up
            .bytes()
            .all(|b| matches!(b, b'A' | b'C' | b'G' | b'T' | b'N'))
        {
            Ok(Self(up))
        } else {
            Err(ModelError::value(
                "allele",
                s,
                "expected bases ACGTN, '*' or a symbolic <ALT>",
            ))
        }
    }
}

/// The key of one variant allele in the variant index.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct VariantKey {
    /// Chromosome.
    pub chrom: Chromosome,
    /// 1-based position (VCF `POS`).
    pub pos: u32,
    /// Reference allele.
    #[serde(rename = "ref")]
    pub reference: Allele,
    /// Alternate allele.
    #[serde(rename = "alt")]
    pub alternate: Allele,
}

impl VariantKey {
    /// Builds a key from text fields.
    ///
    /// # Errors
    /// When a field does not parse or the position is 0.
    pub fn parse(
        chrom: &str,
        pos: u32,
        reference: &str,
        alternate: &str,
    ) -> Result<Self, ModelError> {
        if pos == 0 {
            return Err(ModelError::value("position", "0", "positions are 1-based"));
        }
        Ok(Self {
            chrom: Chromosome::parse(chrom)?,
            pos,
            reference: Allele::parse(reference)?,
            alternate: Allele::parse(alternate)?,
        })
    }

    /// The 0-based, end-exclusive interval the reference allele covers (as Beacon and the FHIR
    /// Genomics Operations count).
    #[must_use]
    pub fn zero_based_interval(&self) -> (u32, u32) {
        let start = self.pos - 1;
        let len = u32::try_from(self.reference.as_str().len()).unwrap_or(u32::MAX);
        (start, start.saturating_add(len))
    }
}

// What a VCF record says about an allele beyond its carriers (read by gemj-genomes, kept by
// gemj-store, served by FHIR).

/// One sample's call of an allele.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SampleCall {
    /// Alleles in the sample's `GT` (2 for `0/1`, 1 for haploid `1`; 0 when there is no GT).
    pub ploidy: u8,
    /// FORMAT `AF` of this ALT allele.
    pub allele_fraction: Option<f32>,
    /// FORMAT `DP`.
    pub depth: Option<u32>,
    /// FORMAT `AD` of this ALT allele.
    pub allele_depth: Option<u32>,
    /// The sum of FORMAT `AD` over all alleles (when every value is given).
    pub total_allele_depth: Option<u32>,
}

impl SampleCall {
    /// The fraction of reads with the allele: `AF`, else `AD` of the allele over the sum of `AD`.
    ///
    /// ```
    /// use gemj_model::variant::SampleCall;
    /// let call = SampleCall { allele_depth: Some(16), total_allele_depth: Some(34), ..SampleCall::default() };
    /// assert!((call.fraction().unwrap_or(0.0) - 0.4706).abs() < 1e-3);
    /// ```
    #[must_use]
    pub fn fraction(&self) -> Option<f64> {
        if let Some(af) = self.allele_fraction {
            return Some(f64::from(af));
        }
        match (self.allele_depth, self.total_allele_depth) {
            (Some(a), Some(t)) if t > 0 => Some(f64::from(a) / f64::from(t)),
            _ => None,
        }
    }
}

/// One transcript (or feature) effect of an allele, from `ANN` or `CSQ`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Effect {
    /// Sequence Ontology consequence terms (`missense_variant`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consequences: Vec<String>,
    /// `HIGH`, `MODERATE`, `LOW` or `MODIFIER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<String>,
    /// HGNC symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gene: Option<String>,
    /// `HGNC:nnnn` when the annotation gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gene_id: Option<String>,
    /// Transcript accession with its version (`NM_000546.6`, `ENST00000269305.9`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
    /// Coding HGVS without the transcript (`c.524G>A`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hgvs_c: Option<String>,
    /// Protein HGVS, with its protein accession when the annotation gives one
    /// (`NP_000537.3:p.Arg175His`, or `p.Arg175His`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hgvs_p: Option<String>,
}

/// What the record says about one allele: identifiers, gene, effects, clinical significance.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct AlleleNotes {
    /// The ID column's identifiers (`rs28934578`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// The gene symbol: INFO `GENE`, else `GENEINFO`'s first, else the first effect's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gene: Option<String>,
    /// `HGNC:nnnn` of the gene, when an annotation gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gene_id: Option<String>,
    /// Transcript effects of this allele.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<Effect>,
    /// ClinVar's clinical significance terms (`Pathogenic`, `drug response`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clinical_significance: Vec<String>,
    /// ClinVar's condition names, without `not provided` and `not specified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
}

impl AlleleNotes {
    /// Whether the record said nothing more about the allele.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.gene.is_none()
            && self.gene_id.is_none()
            && self.effects.is_empty()
            && self.clinical_significance.is_empty()
            && self.conditions.is_empty()
    }

    /// Empties the notes (for reuse).
    pub fn clear(&mut self) {
        self.ids.clear();
        self.gene = None;
        self.gene_id = None;
        self.effects.clear();
        self.clinical_significance.clear();
        self.conditions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() -> Result<(), Box<dyn std::error::Error>> {
        let k = VariantKey::parse("chr17", 7_675_088, "c", "T")?;
        assert_eq!(k.reference.as_str(), "C");
        assert_eq!(k.zero_based_interval(), (7_675_087, 7_675_088));
        assert!(VariantKey::parse("chr1", 0, "A", "T").is_err());
        assert!(VariantKey::parse("chr1", 1, "A", "X").is_err());
        assert!(VariantKey::parse("chr 1", 1, "A", "T").is_err());
        assert!(VariantKey::parse("chr1", 1, "A", "<DEL>").is_ok());
        Ok(())
    }
}
