//! Records of the default model (`models/json/beacon-v2-default-model/*/defaultSchema.json`):
//! individuals, biosamples, genomic variations, datasets, cohorts, analyses and runs.
//!
//! Each record is a plain struct with public fields and a `new` taking the members the schema
//! requires; values that have a format in the schema (ontology terms, dates, timestamps, ISO
//! 8601 durations, bases) are newtypes checked when built, so a record always validates against
//! its official schema. Empty lists and `None` are left out of the JSON.

use std::fmt::Write as _;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

use crate::common::OntologyTerm;
use crate::error::BeaconError;
use crate::reference::Assembly;

/// Curated ontology terms the default model's documentation names.
pub mod terms {
    use crate::common::OntologyTerm;

    /// `NCIT:C16576` female (individual `sex`).
    pub const FEMALE: OntologyTerm = OntologyTerm::known("NCIT:C16576", "female");
    /// `NCIT:C20197` male.
    pub const MALE: OntologyTerm = OntologyTerm::known("NCIT:C20197", "male");
    /// `NCIT:C17998` unknown (not assessed or not available).
    pub const UNKNOWN_SEX: OntologyTerm = OntologyTerm::known("NCIT:C17998", "unknown");
    /// `GENO:0000135` heterozygous (`caseLevelData.zygosity`).
    pub const HETEROZYGOUS: OntologyTerm = OntologyTerm::known("GENO:0000135", "heterozygous");
    /// `GENO:0000136` homozygous.
    pub const HOMOZYGOUS: OntologyTerm = OntologyTerm::known("GENO:0000136", "homozygous");
    /// `GENO:0000134` hemizygous.
    pub const HEMIZYGOUS: OntologyTerm = OntologyTerm::known("GENO:0000134", "hemizygous");
    /// `EFO:0009654` reference sample (`biosampleStatus`).
    pub const REFERENCE_SAMPLE: OntologyTerm =
        OntologyTerm::known("EFO:0009654", "reference sample");
    /// `EFO:0009655` abnormal sample.
    pub const ABNORMAL_SAMPLE: OntologyTerm = OntologyTerm::known("EFO:0009655", "abnormal sample");
    /// `EFO:0009656` neoplastic sample.
    pub const NEOPLASTIC_SAMPLE: OntologyTerm =
        OntologyTerm::known("EFO:0009656", "neoplastic sample");
    /// `OBI:0001479` specimen from organism (`sampleOriginType`).
    pub const SPECIMEN_FROM_ORGANISM: OntologyTerm =
        OntologyTerm::known("OBI:0001479", "specimen from organism");
    /// `OBI:0001876` cell culture.
    pub const CELL_CULTURE: OntologyTerm = OntologyTerm::known("OBI:0001876", "cell culture");
    /// `SO:0001777` somatic variant (`caseLevelData.alleleOrigin`).
    pub const SOMATIC_VARIANT: OntologyTerm = OntologyTerm::known("SO:0001777", "somatic variant");
    /// `SO:0001778` germline variant.
    pub const GERMLINE_VARIANT: OntologyTerm =
        OntologyTerm::known("SO:0001778", "germline variant");
}

fn is_empty_map(map: &Map<String, Value>) -> bool {
    map.is_empty()
}

/// A calendar date in the schema's `format: date` (`YYYY-MM-DD`, years 1–9999).
///
/// # Examples
///
/// ```
/// use gemj_beacon::IsoDate;
///
/// assert_eq!(IsoDate::parse("2024-02-29")?.as_str(), "2024-02-29");
/// assert!(IsoDate::parse("2023-02-29").is_err());
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IsoDate(String);

impl IsoDate {
    /// The date, if its year is 1–9999.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] for years outside 1–9999.
    pub fn new(date: time::Date) -> Result<Self, BeaconError> {
        let year = date.year();
        if !(1..=9999).contains(&year) {
            return Err(BeaconError::invalid_record(format!(
                "year {year} cannot be written as a full-date"
            )));
        }
        Ok(Self(format!(
            "{year:04}-{:02}-{:02}",
            u8::from(date.month()),
            date.day()
        )))
    }

    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] when the text is not a real date in that form.
    pub fn parse(s: &str) -> Result<Self, BeaconError> {
        let fail = || BeaconError::invalid_record(format!("`{s}` is not a date (YYYY-MM-DD)"));
        let parts: Vec<&str> = s.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(fail());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(fail());
        }
        let year: i32 = y.parse().map_err(|_| fail())?;
        let month: u8 = m.parse().map_err(|_| fail())?;
        let day: u8 = d.parse().map_err(|_| fail())?;
        let month = time::Month::try_from(month).map_err(|_| fail())?;
        let date = time::Date::from_calendar_date(year, month, day).map_err(|_| fail())?;
        Self::new(date)
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A timestamp in the schema's `format: date-time` (RFC 3339).
///
/// # Examples
///
/// ```
/// use gemj_beacon::Timestamp;
///
/// let t = Timestamp::parse("2025-04-02T10:30:00+09:00")?;
/// assert_eq!(t.as_str(), "2025-04-02T10:30:00+09:00");
/// assert!(Timestamp::parse("2025-04-02").is_err());
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Timestamp {
    /// Formats a time as RFC 3339.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] when RFC 3339 cannot express it (years outside
    /// 0–9999, offsets with seconds).
    pub fn new(at: time::OffsetDateTime) -> Result<Self, BeaconError> {
        at.format(&Rfc3339).map(Self).map_err(|e| {
            BeaconError::invalid_record(format!("timestamp not expressible in RFC 3339: {e}"))
        })
    }

    /// Parses an RFC 3339 timestamp (kept as written).
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] when the text is not RFC 3339.
    pub fn parse(s: &str) -> Result<Self, BeaconError> {
        time::OffsetDateTime::parse(s, &Rfc3339)
            .map(|_| Self(s.to_owned()))
            .map_err(|_| BeaconError::invalid_record(format!("`{s}` is not an RFC 3339 timestamp")))
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `common/age.json`: an age as an ISO 8601 duration (`P32Y6M1D`).
///
/// # Examples
///
/// ```
/// use gemj_beacon::Age;
///
/// assert!(Age::new("P40Y").is_ok());
/// assert!(Age::new("P1Y2M3DT4H5M6.5S").is_ok());
/// assert!(Age::new("40 years").is_err());
/// assert!(Age::new("PT").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Age {
    iso8601duration: String,
}

impl Age {
    /// An age, if `duration` is an ISO 8601 duration.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] otherwise.
    pub fn new(duration: &str) -> Result<Self, BeaconError> {
        if is_iso8601_duration(duration) {
            Ok(Self {
                iso8601duration: duration.to_owned(),
            })
        } else {
            Err(BeaconError::invalid_record(format!(
                "`{duration}` is not an ISO 8601 duration (PnYnMnDTnHnMnS)"
            )))
        }
    }

    /// The duration.
    #[must_use]
    pub fn duration(&self) -> &str {
        &self.iso8601duration
    }
}

/// Whether `s` is `PnYnMnWnD[TnHnMnS]` with at least one component (the last may have a
/// decimal fraction).
fn is_iso8601_duration(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('P') else {
        return false;
    };
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let components = |part: &str, designators: &str| -> Option<usize> {
        let mut count = 0;
        let mut number = String::new();
        let mut allowed = designators;
        for c in part.chars() {
            if c.is_ascii_digit() || (c == '.' && !number.is_empty() && !number.contains('.')) {
                number.push(c);
                continue;
            }
            let at = allowed.find(c)?;
            if number.is_empty() || number.ends_with('.') {
                return None;
            }
            number.clear();
            allowed = &allowed[at + 1..];
            count += 1;
        }
        number.is_empty().then_some(count)
    };
    let Some(date_count) = components(date, "YMWD") else {
        return false;
    };
    match time {
        None => date_count > 0,
        Some(time) => components(time, "HMS").is_some_and(|n| n > 0),
    }
}

/// Individual `sex`: the NCIT terms the model names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// `NCIT:C16576`.
    Female,
    /// `NCIT:C20197`.
    Male,
    /// `NCIT:C17998` (not assessed or not available).
    Unknown,
}

impl Sex {
    /// The ontology term.
    #[must_use]
    pub const fn term(self) -> OntologyTerm {
        match self {
            Self::Female => terms::FEMALE,
            Self::Male => terms::MALE,
            Self::Unknown => terms::UNKNOWN_SEX,
        }
    }
}

impl Serialize for Sex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.term().serialize(serializer)
    }
}

/// `common/disease.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disease {
    /// The disease (e.g. an ICD-10 or MONDO term).
    pub disease_code: OntologyTerm,
    /// Age at onset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_of_onset: Option<Age>,
    /// Whether there is a family history of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_history: Option<bool>,
    /// Notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl Disease {
    /// A disease with only its code.
    #[must_use]
    pub const fn new(disease_code: OntologyTerm) -> Self {
        Self {
            disease_code,
            age_of_onset: None,
            family_history: None,
            notes: None,
        }
    }
}

/// `common/phenotypicFeature.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhenotypicFeature {
    /// The feature (e.g. an HPO term).
    pub feature_type: OntologyTerm,
    /// Whether the feature was looked for and found absent (written only when true).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub excluded: bool,
    /// Age at onset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onset: Option<Age>,
}

impl PhenotypicFeature {
    /// An observed feature.
    #[must_use]
    pub const fn observed(feature_type: OntologyTerm) -> Self {
        Self {
            feature_type,
            excluded: false,
            onset: None,
        }
    }

    /// An excluded feature.
    #[must_use]
    pub const fn excluded(feature_type: OntologyTerm) -> Self {
        Self {
            feature_type,
            excluded: true,
            onset: None,
        }
    }
}

/// `individuals/defaultSchema.json`.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{Disease, Individual, OntologyTerm, PhenotypicFeature, Sex};
///
/// let mut individual = Individual::new("ind-1", Sex::Female);
/// individual.diseases.push(Disease::new(OntologyTerm::new("ICD10:E11.9", Some("Type 2 diabetes"))?));
/// individual.phenotypic_features.push(PhenotypicFeature::excluded(OntologyTerm::new("HP:0001250", None::<String>)?));
/// let json = serde_json::to_value(&individual).unwrap();
/// assert_eq!(json["sex"]["id"], "NCIT:C16576");
/// assert_eq!(json["phenotypicFeatures"][0]["excluded"], true);
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Individual {
    /// The id.
    pub id: String,
    /// The sex.
    pub sex: Sex,
    /// Diseases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diseases: Vec<Disease>,
    /// Phenotypic features, observed or excluded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phenotypic_features: Vec<PhenotypicFeature>,
    /// Ethnicity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<OntologyTerm>,
    /// Geographic origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geographic_origin: Option<OntologyTerm>,
    /// Additional details.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub info: Map<String, Value>,
}

impl Individual {
    /// An individual with its required members.
    #[must_use]
    pub fn new(id: impl Into<String>, sex: Sex) -> Self {
        Self {
            id: id.into(),
            sex,
            diseases: Vec::new(),
            phenotypic_features: Vec::new(),
            ethnicity: None,
            geographic_origin: None,
            info: Map::new(),
        }
    }
}

/// `biosamples/defaultSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Biosample {
    /// The id.
    pub id: String,
    /// The individual it was taken from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub individual_id: Option<String>,
    /// Reference, abnormal, neoplastic, ... (see [`terms`]).
    pub biosample_status: OntologyTerm,
    /// Specimen from organism, cell culture, ... (see [`terms`]).
    pub sample_origin_type: OntologyTerm,
    /// The tissue or site (e.g. an UBERON term).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_origin_detail: Option<OntologyTerm>,
    /// When it was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_date: Option<IsoDate>,
    /// The individual's age at collection (ISO 8601 duration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection_moment: Option<String>,
    /// The histological diagnosis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histological_diagnosis: Option<OntologyTerm>,
    /// Notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Additional details.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub info: Map<String, Value>,
}

impl Biosample {
    /// A biosample with its required members.
    #[must_use]
    pub fn new(
        id: impl Into<String>,
        biosample_status: OntologyTerm,
        sample_origin_type: OntologyTerm,
    ) -> Self {
        Self {
            id: id.into(),
            individual_id: None,
            biosample_status,
            sample_origin_type,
            sample_origin_detail: None,
            collection_date: None,
            collection_moment: None,
            histological_diagnosis: None,
            notes: None,
            info: Map::new(),
        }
    }

    /// Sets `collectionMoment` from an [`Age`].
    pub fn set_collection_moment(&mut self, age: &Age) {
        self.collection_moment = Some(age.duration().to_owned());
    }
}

/// A sequence variant as the gateway stores it, the input of [`Variation`]: 0-based start,
/// bases as in VCF or trimmed (empty, `-` or `.` for none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantLocus {
    /// The assembly.
    pub assembly: Assembly,
    /// The chromosome (`chr1` … `chr22`, `chrX`, `chrY`, `chrM`).
    pub chromosome: String,
    /// 0-based position of the first reference base.
    pub start: u64,
    /// The reference bases.
    pub reference_bases: String,
    /// The alternate bases.
    pub alternate_bases: String,
}

impl VariantLocus {
    fn bases_len(bases: &str) -> u64 {
        if matches!(bases, "" | "-" | ".") {
            0
        } else {
            bases.len() as u64
        }
    }

    fn location(&self) -> Result<SequenceLocation, BeaconError> {
        for (name, bases) in [
            ("referenceBases", &self.reference_bases),
            ("alternateBases", &self.alternate_bases),
        ] {
            crate::request::Bases::parse(name, bases)
                .map_err(|e| BeaconError::invalid_record(e.message))?;
        }
        let accession = self
            .assembly
            .refseq_accession(&self.chromosome)
            .ok_or_else(|| {
                BeaconError::invalid_record(format!(
                    "{} has no RefSeq accession in {} (only primary chromosomes can be located)",
                    self.chromosome, self.assembly
                ))
            })?;
        let end = self
            .start
            .checked_add(Self::bases_len(&self.reference_bases))
            .filter(|end| *end <= crate::request::MAX_COORDINATE)
            .ok_or_else(|| BeaconError::invalid_record("variant position out of range"))?;
        let number = |value: u64| VrsNumber {
            kind: "Number",
            value,
        };
        Ok(SequenceLocation {
            kind: "SequenceLocation",
            sequence_id: format!("refseq:{accession}"),
            interval: SequenceInterval {
                kind: "SequenceInterval",
                start: number(self.start),
                end: number(end),
            },
        })
    }
}

/// The Beacon `variantType` of a stored allele, by its shape ([`crate::VariantClass::of_allele`]):
/// `SNP` (one base to one base), `MNP` (several bases to as many), `DEL`, `INS`, `INDEL` (a
/// delins), and for symbolic alleles `DEL`, `INS`, `DUP`, `INV`, `CNV`.
///
/// # Examples
///
/// ```
/// assert_eq!(gemj_beacon::infer_variant_type("A", "G"), "SNP");
/// assert_eq!(gemj_beacon::infer_variant_type("AC", "GT"), "MNP");
/// assert_eq!(gemj_beacon::infer_variant_type("A", "AT"), "INS");
/// assert_eq!(gemj_beacon::infer_variant_type("AT", "A"), "DEL");
/// assert_eq!(gemj_beacon::infer_variant_type("AT", "G"), "INDEL");
/// assert_eq!(gemj_beacon::infer_variant_type("A", "<DUP:TANDEM>"), "DUP");
/// ```
#[must_use]
pub fn infer_variant_type(reference_bases: &str, alternate_bases: &str) -> &'static str {
    use crate::VariantClass as C;
    let classes = C::of_allele(reference_bases, alternate_bases);
    match classes.first().copied().unwrap_or(C::SequenceAlteration) {
        C::Snv => "SNP",
        C::Mnv | C::Substitution => "MNP",
        C::Deletion | C::CopyNumberLoss => "DEL",
        C::Insertion => "INS",
        C::Duplication | C::TandemDuplication | C::CopyNumberGain => "DUP",
        C::Inversion => "INV",
        C::CopyNumberVariation => "CNV",
        _ => "INDEL",
    }
}

/// A VRS 1.3 `Number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct VrsNumber {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The value.
    pub value: u64,
}

/// A VRS 1.3 `SequenceInterval` (interbase coordinates = Beacon's 0-based half-open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SequenceInterval {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Start.
    pub start: VrsNumber,
    /// End.
    pub end: VrsNumber,
}

/// A VRS 1.3 `SequenceLocation` on a RefSeq accession (`refseq:NC_000001.11`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SequenceLocation {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The sequence CURIE.
    pub sequence_id: String,
    /// The interval.
    pub interval: SequenceInterval,
}

/// `genomicVariations/defaultSchema.json#/$defs/LegacyVariation`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyVariation {
    /// `SNP`, `MNP`, `INDEL`, `DEL`, ...
    pub variant_type: String,
    /// The reference bases.
    pub reference_bases: String,
    /// The alternate bases.
    pub alternate_bases: String,
    /// Where.
    pub location: SequenceLocation,
}

/// A VRS 1.3 `LiteralSequenceExpression`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LiteralSequenceExpression {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The sequence.
    pub sequence: String,
}

/// A VRS 1.3 `Allele` (a `MolecularVariation`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct VrsAllele {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Where.
    pub location: SequenceLocation,
    /// The alternate sequence.
    pub state: LiteralSequenceExpression,
}

/// A genomic variation's `variation`: the Beacon legacy form (what Beacon clients read for
/// `referenceBases`/`alternateBases`) or a VRS 1.3 allele.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Variation {
    /// `LegacyVariation`.
    Legacy(LegacyVariation),
    /// VRS `Allele`.
    VrsAllele(VrsAllele),
}

impl Variation {
    /// The legacy form; `variant_type` defaults to [`infer_variant_type`].
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] for bases outside the pattern, a chromosome without a
    /// RefSeq accession, or a position out of range.
    pub fn legacy(locus: &VariantLocus, variant_type: Option<&str>) -> Result<Self, BeaconError> {
        Ok(Self::Legacy(LegacyVariation {
            variant_type: variant_type
                .unwrap_or_else(|| {
                    infer_variant_type(&locus.reference_bases, &locus.alternate_bases)
                })
                .to_owned(),
            reference_bases: locus.reference_bases.clone(),
            alternate_bases: locus.alternate_bases.clone(),
            location: locus.location()?,
        }))
    }

    /// The VRS 1.3 allele form (`state` the alternate bases; none is the empty sequence).
    ///
    /// # Errors
    ///
    /// As [`Variation::legacy`].
    pub fn vrs_allele(locus: &VariantLocus) -> Result<Self, BeaconError> {
        let sequence = if matches!(locus.alternate_bases.as_str(), "-" | ".") {
            String::new()
        } else {
            locus.alternate_bases.clone()
        };
        Ok(Self::VrsAllele(VrsAllele {
            kind: "Allele",
            location: locus.location()?,
            state: LiteralSequenceExpression {
                kind: "LiteralSequenceExpression",
                sequence,
            },
        }))
    }
}

/// A ClinVar variation id (`^(clinvar:)?\d+$`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ClinvarId(String);

impl ClinvarId {
    /// Parses `12345` or `clinvar:12345`.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] otherwise.
    pub fn parse(s: &str) -> Result<Self, BeaconError> {
        let digits = s.strip_prefix("clinvar:").unwrap_or(s);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(BeaconError::invalid_record(format!(
                "`{s}` is not a ClinVar variation id"
            )))
        }
    }
}

/// `common/externalReference.json`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ExternalReference {
    /// The id (`dbSNP:rs429358`).
    pub id: String,
    /// A URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// `genomicVariations/defaultSchema.json#/$defs/Identifiers`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identifiers {
    /// The genomic HGVS id (`NC_000001.11:g.12345A>G`).
    #[serde(rename = "genomicHGVSId", skip_serializing_if = "Option::is_none")]
    pub genomic_hgvs_id: Option<String>,
    /// Transcript HGVS ids.
    #[serde(rename = "transcriptHGVSIds", skip_serializing_if = "Vec::is_empty")]
    pub transcript_hgvs_ids: Vec<String>,
    /// Protein HGVS ids.
    #[serde(rename = "proteinHGVSIds", skip_serializing_if = "Vec::is_empty")]
    pub protein_hgvs_ids: Vec<String>,
    /// The ClinVar variation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinvar_variant_id: Option<ClinvarId>,
    /// Other ids (dbSNP, ClinGen, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variant_alternative_ids: Vec<ExternalReference>,
}

/// `genomicVariations/defaultSchema.json#/$defs/MolecularAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MolecularAttributes {
    /// Genes (HGNC symbols).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gene_ids: Vec<String>,
    /// Amino-acid changes (`V600E`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aminoacid_changes: Vec<String>,
    /// Molecular effects (e.g. SO terms).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub molecular_effects: Vec<OntologyTerm>,
}

/// `genomicVariations/defaultSchema.json#/$defs/CaseLevelVariant`: the variant in one sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseLevelVariant {
    /// The biosample.
    pub biosample_id: String,
    /// The individual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub individual_id: Option<String>,
    /// The analysis that called it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis_id: Option<String>,
    /// The run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Zygosity (see [`terms`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zygosity: Option<OntologyTerm>,
    /// Germline or somatic (see [`terms`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allele_origin: Option<OntologyTerm>,
}

impl CaseLevelVariant {
    /// The variant in a biosample.
    #[must_use]
    pub fn new(biosample_id: impl Into<String>) -> Self {
        Self {
            biosample_id: biosample_id.into(),
            individual_id: None,
            analysis_id: None,
            run_id: None,
            zygosity: None,
            allele_origin: None,
        }
    }
}

/// `genomicVariations/defaultSchema.json#/$defs/PopulationFrequency`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationFrequency {
    population: String,
    allele_frequency: f64,
}

impl PopulationFrequency {
    /// A frequency in 0–1.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] for a frequency that is not a number in 0–1.
    pub fn new(population: impl Into<String>, allele_frequency: f64) -> Result<Self, BeaconError> {
        if !(0.0..=1.0).contains(&allele_frequency) {
            return Err(BeaconError::invalid_record(format!(
                "allele frequency {allele_frequency} is not in 0-1"
            )));
        }
        Ok(Self {
            population: population.into(),
            allele_frequency,
        })
    }
}

/// `genomicVariations/defaultSchema.json#/$defs/FrequencyInPopulations`: frequencies from one
/// source.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FrequencyInPopulations {
    source: String,
    source_reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    frequencies: Vec<PopulationFrequency>,
}

impl FrequencyInPopulations {
    /// Frequencies from a source (e.g. `ToMMo 54KJPN`, its URL).
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] when `frequencies` is empty (the schema's
    /// `minItems: 1`).
    pub fn new(
        source: impl Into<String>,
        source_reference: impl Into<String>,
        version: Option<String>,
        frequencies: Vec<PopulationFrequency>,
    ) -> Result<Self, BeaconError> {
        if frequencies.is_empty() {
            return Err(BeaconError::invalid_record(
                "a frequency source needs at least one frequency",
            ));
        }
        Ok(Self {
            source: source.into(),
            source_reference: source_reference.into(),
            version,
            frequencies,
        })
    }
}

/// `genomicVariations/defaultSchema.json`.
///
/// # Examples
///
/// ```
/// use gemj_beacon::*;
///
/// let locus = VariantLocus {
///     assembly: Assembly::GRCh38,
///     chromosome: "chr17".to_owned(),
///     start: 7674219,
///     reference_bases: "C".to_owned(),
///     alternate_bases: "T".to_owned(),
/// };
/// let mut variant = GenomicVariation::new("var-1", Variation::legacy(&locus, None)?);
/// let mut case = CaseLevelVariant::new("bs-1");
/// case.zygosity = Some(terms::HETEROZYGOUS);
/// variant.case_level_data.push(case);
/// let json = serde_json::to_value(&variant).unwrap();
/// assert_eq!(json["variation"]["variantType"], "SNP");
/// assert_eq!(json["variation"]["location"]["sequence_id"], "refseq:NC_000017.11");
/// assert_eq!(json["variation"]["location"]["interval"]["end"]["value"], 7674220);
/// # Ok::<(), BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenomicVariation {
    /// The beacon's id of the variant.
    pub variant_internal_id: String,
    /// The variant.
    pub variation: Variation,
    /// External identifiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifiers: Option<Identifiers>,
    /// Genes, amino-acid changes, effects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub molecular_attributes: Option<MolecularAttributes>,
    /// The variant in each sample.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub case_level_data: Vec<CaseLevelVariant>,
    /// Population frequencies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frequency_in_populations: Vec<FrequencyInPopulations>,
    /// Additional details.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub info: Map<String, Value>,
}

impl GenomicVariation {
    /// A variation with its required members.
    #[must_use]
    pub fn new(variant_internal_id: impl Into<String>, variation: Variation) -> Self {
        Self {
            variant_internal_id: variant_internal_id.into(),
            variation,
            identifiers: None,
            molecular_attributes: None,
            case_level_data: Vec::new(),
            frequency_in_populations: Vec::new(),
            info: Map::new(),
        }
    }
}

/// `common/dataUseConditions.json#/$defs/DUODataUse`: a DUO term with its version and
/// modifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuoDataUse {
    /// The DUO term (`DUO:0000042` general research use, ...).
    #[serde(flatten)]
    pub term: OntologyTerm,
    /// The DUO release used.
    pub version: String,
    /// Modifiers (DUO terms).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<OntologyTerm>,
}

impl DuoDataUse {
    /// A DUO data use.
    #[must_use]
    pub fn new(term: OntologyTerm, version: impl Into<String>) -> Self {
        Self {
            term,
            version: version.into(),
            modifiers: Vec::new(),
        }
    }
}

/// `common/dataUseConditions.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataUseConditions {
    duo_data_use: Vec<DuoDataUse>,
}

impl DataUseConditions {
    /// The conditions.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidRecord`] when empty (the schema's `minItems: 1`).
    pub fn new(duo_data_use: Vec<DuoDataUse>) -> Result<Self, BeaconError> {
        if duo_data_use.is_empty() {
            return Err(BeaconError::invalid_record(
                "data use conditions need at least one DUO term",
            ));
        }
        Ok(Self { duo_data_use })
    }

    /// The DUO terms.
    #[must_use]
    pub fn duo_data_use(&self) -> &[DuoDataUse] {
        &self.duo_data_use
    }
}

/// `datasets/defaultSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// The id.
    pub id: String,
    /// The name.
    pub name: String,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_date_time: Option<Timestamp>,
    /// When it was last updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_date_time: Option<Timestamp>,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A page about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// DUO data use conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_use_conditions: Option<DataUseConditions>,
    /// Additional details.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub info: Map<String, Value>,
}

impl Dataset {
    /// A dataset with its required members.
    #[must_use]
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            description: None,
            create_date_time: None,
            update_date_time: None,
            version: None,
            external_url: None,
            data_use_conditions: None,
            info: Map::new(),
        }
    }
}

/// `cohorts/defaultSchema.json` `cohortType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CohortType {
    /// Defined by a study.
    StudyDefined,
    /// Defined by the beacon.
    BeaconDefined,
    /// Defined by a user.
    UserDefined,
}

/// `common/ageRange.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgeRange {
    /// The youngest age.
    pub start: Age,
    /// The oldest age.
    pub end: Age,
}

/// `cohorts/defaultSchema.json#/$defs/CohortCriteria`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CohortCriteria {
    /// Sexes included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub genders: Vec<Sex>,
    /// Ages included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_range: Option<AgeRange>,
    /// Diseases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disease_conditions: Vec<Disease>,
    /// Phenotypes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phenotypic_conditions: Vec<PhenotypicFeature>,
}

/// `cohorts/defaultSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cohort {
    /// The id.
    pub id: String,
    /// The name.
    pub name: String,
    /// Who defined it.
    pub cohort_type: CohortType,
    /// The number of individuals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohort_size: Option<u64>,
    /// The study design (OMIABIS term).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohort_design: Option<OntologyTerm>,
    /// Data types available.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cohort_data_types: Vec<OntologyTerm>,
    /// Inclusion criteria.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion_criteria: Option<CohortCriteria>,
    /// Exclusion criteria.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusion_criteria: Option<CohortCriteria>,
    /// Additional details.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub info: Map<String, Value>,
}

impl Cohort {
    /// A cohort with its required members.
    #[must_use]
    pub fn new(id: impl Into<String>, name: impl Into<String>, cohort_type: CohortType) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            cohort_type,
            cohort_size: None,
            cohort_design: None,
            cohort_data_types: Vec::new(),
            inclusion_criteria: None,
            exclusion_criteria: None,
            info: Map::new(),
        }
    }
}

/// `analyses/defaultSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    /// The id.
    pub id: String,
    /// When it ran.
    pub analysis_date: IsoDate,
    /// The pipeline's name.
    pub pipeline_name: String,
    /// A reference to the pipeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_ref: Option<String>,
    /// The aligner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aligner: Option<String>,
    /// The variant caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_caller: Option<String>,
    /// The biosample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biosample_id: Option<String>,
    /// The individual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub individual_id: Option<String>,
    /// The run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Additional details.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub info: Map<String, Value>,
}

impl Analysis {
    /// An analysis with its required members.
    #[must_use]
    pub fn new(
        id: impl Into<String>,
        analysis_date: IsoDate,
        pipeline_name: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            analysis_date,
            pipeline_name: pipeline_name.into(),
            pipeline_ref: None,
            aligner: None,
            variant_caller: None,
            biosample_id: None,
            individual_id: None,
            run_id: None,
            info: Map::new(),
        }
    }
}

/// `runs/defaultSchema.json` `libraryLayout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LibraryLayout {
    /// Paired-end.
    Paired,
    /// Single-end.
    Single,
}

/// `runs/defaultSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// The id.
    pub id: String,
    /// The biosample sequenced.
    pub biosample_id: String,
    /// When.
    pub run_date: IsoDate,
    /// The individual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub individual_id: Option<String>,
    /// Paired or single.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library_layout: Option<LibraryLayout>,
    /// `WGS`, `WES`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library_strategy: Option<String>,
    /// `RANDOM`, `PCR`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library_selection: Option<String>,
    /// The library source (GENEPIO term).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library_source: Option<OntologyTerm>,
    /// `Illumina`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The instrument model (OBI term).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_model: Option<OntologyTerm>,
    /// Additional details.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub info: Map<String, Value>,
}

impl Run {
    /// A run with its required members.
    #[must_use]
    pub fn new(id: impl Into<String>, biosample_id: impl Into<String>, run_date: IsoDate) -> Self {
        Self {
            id: id.into(),
            biosample_id: biosample_id.into(),
            run_date,
            individual_id: None,
            library_layout: None,
            library_strategy: None,
            library_selection: None,
            library_source: None,
            platform: None,
            platform_model: None,
            info: Map::new(),
        }
    }
}

/// The genomic HGVS id of a sequence variant (for [`Identifiers::genomic_hgvs_id`]), after
/// trimming the bases both alleles share at the start (VCF anchor bases) and at the end:
/// `NC_000017.11:g.7674220C>T`, `…:g.101_103del`, `…:g.100_101insAC`, `…:g.101delinsTT`.
///
/// The position is not shifted 3′ as HGVS asks for repeats (that needs the reference
/// sequence); `None` when the chromosome has no accession or the alleles are equal.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{Assembly, VariantLocus, genomic_hgvs_id};
///
/// let locus = |start, r: &str, a: &str| VariantLocus {
///     assembly: Assembly::GRCh38,
///     chromosome: "chr1".to_owned(),
///     start,
///     reference_bases: r.to_owned(),
///     alternate_bases: a.to_owned(),
/// };
/// assert_eq!(genomic_hgvs_id(&locus(99, "A", "G")).as_deref(), Some("NC_000001.11:g.100A>G"));
/// assert_eq!(genomic_hgvs_id(&locus(99, "ACGT", "A")).as_deref(), Some("NC_000001.11:g.101_103del"));
/// assert_eq!(genomic_hgvs_id(&locus(99, "A", "ACG")).as_deref(), Some("NC_000001.11:g.100_101insCG"));
/// ```
#[must_use]
pub fn genomic_hgvs_id(locus: &VariantLocus) -> Option<String> {
    let accession = locus.assembly.refseq_accession(&locus.chromosome)?;
    let clean = |b: &str| {
        if matches!(b, "-" | ".") {
            String::new()
        } else {
            b.to_owned()
        }
    };
    let (mut r, mut a) = (clean(&locus.reference_bases), clean(&locus.alternate_bases));
    let mut start = locus.start;
    let prefix = r.bytes().zip(a.bytes()).take_while(|(x, y)| x == y).count();
    r.drain(..prefix);
    a.drain(..prefix);
    start += prefix as u64;
    let suffix = r
        .bytes()
        .rev()
        .zip(a.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count();
    r.truncate(r.len() - suffix);
    a.truncate(a.len() - suffix);
    let first = start + 1;
    let last = start + r.len() as u64;
    let mut out = format!("{accession}:g.");
    let span = |out: &mut String| {
        if first == last {
            let _ = write!(out, "{first}");
        } else {
            let _ = write!(out, "{first}_{last}");
        }
    };
    match (r.len(), a.len()) {
        (0, 0) => return None,
        (1, 1) => {
            let _ = write!(out, "{first}{r}>{a}");
        }
        (0, _) => {
            if start == 0 {
                return None;
            }
            let _ = write!(out, "{start}_{}ins{a}", start + 1);
        }
        (_, 0) => {
            span(&mut out);
            out.push_str("del");
        }
        _ => {
            span(&mut out);
            let _ = write!(out, "delins{a}");
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for ok in [
            "P1Y",
            "P40Y6M",
            "P3W",
            "P1D",
            "PT5H",
            "P1DT12H",
            "PT0.5S",
            "P1Y2M3DT4H5M6S",
        ] {
            assert!(is_iso8601_duration(ok), "{ok}");
        }
        for bad in [
            "", "P", "PT", "1Y", "P1", "PY", "P1M1Y", "P1.Y", "P1YT", "P1H", "PT1D", "P1.5.5Y",
        ] {
            assert!(!is_iso8601_duration(bad), "{bad}");
        }
    }

    #[test]
    fn hgvs_ids_round_trip_through_the_parser() {
        let cases = [
            (99, "A", "G"),
            (99, "ACGT", "A"),
            (99, "A", "ACG"),
            (99, "AC", "TT"),
            (99, "C", "-"),
        ];
        for (start, r, a) in cases {
            let locus = VariantLocus {
                assembly: Assembly::GRCh38,
                chromosome: "chr2".to_owned(),
                start,
                reference_bases: r.to_owned(),
                alternate_bases: a.to_owned(),
            };
            let Some(id) = genomic_hgvs_id(&locus) else {
                panic!("no id for {r}>{a}");
            };
            let parsed = crate::Hgvs::parse(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
            let crate::Hgvs::Genomic(allele) = parsed else {
                panic!("{id} is not genomic");
            };
            assert_eq!(allele.reference_name.chromosome(), "chr2", "{id}");
        }
        let same = VariantLocus {
            assembly: Assembly::GRCh38,
            chromosome: "chr2".to_owned(),
            start: 5,
            reference_bases: "A".to_owned(),
            alternate_bases: "A".to_owned(),
        };
        assert_eq!(genomic_hgvs_id(&same), None);
    }

    #[test]
    fn curated_terms_are_curies() {
        for term in [
            terms::FEMALE,
            terms::MALE,
            terms::UNKNOWN_SEX,
            terms::HETEROZYGOUS,
            terms::HOMOZYGOUS,
            terms::HEMIZYGOUS,
            terms::REFERENCE_SAMPLE,
            terms::ABNORMAL_SAMPLE,
            terms::NEOPLASTIC_SAMPLE,
            terms::SPECIMEN_FROM_ORGANISM,
            terms::CELL_CULTURE,
            terms::SOMATIC_VARIANT,
            terms::GERMLINE_VARIANT,
        ] {
            assert!(crate::is_curie(term.id()), "{}", term.id());
        }
    }
}
