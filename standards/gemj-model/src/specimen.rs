//! Specimens and biobank samples, with their derivation tree (blood tube to DNA extract).

use crate::{PartialDate, ParticipantId, SpecimenId};

/// Specimen material, after HL7 v2-0487 and MIABIS material types.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SpecimenType {
    /// Whole blood (v2-0487 BLD).
    WholeBlood,
    /// Tissue, e.g. fresh-frozen tumour (TISS).
    Tissue,
    /// Extracted DNA.
    Dna,
    /// Extracted RNA.
    Rna,
    /// Serum (SER).
    Serum,
    /// Plasma (PLAS).
    Plasma,
    /// Saliva.
    Saliva,
    /// Buffy coat.
    BuffyCoat,
    /// Any other material, by its source label.
    Other(String),
}

/// A specimen or biobank sample.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Specimen {
    /// Specimen id.
    pub id: SpecimenId,
    /// Whose specimen.
    pub participant: ParticipantId,
    /// Material.
    pub specimen_type: SpecimenType,
    /// The specimen it was derived from (a DNA extract's blood tube).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<SpecimenId>,
    /// Collection or creation date, with its precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected: Option<PartialDate>,
    /// Tumour (true) or normal/germline (false) tissue, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tumour: Option<bool>,
    /// Whether this is a catalogued biobank sample (false for routine-lab specimens).
    pub biobank_sample: bool,
    /// What the sources said beyond the catalogue fields: material label and codes, site,
    /// storage, quantity, biobank and collection, access conditions.
    #[serde(default, skip_serializing_if = "SpecimenDetails::is_empty")]
    pub details: SpecimenDetails,
}

/// Biobank and collection details of a specimen (MIABIS-SAMPLE fields, FHIR Specimen).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct SpecimenDetails {
    /// The material as the source named it (`Tissue (fresh frozen)`, `腫瘍組織（凍結）`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_label: Option<String>,
    /// The material's codes (HL7 v2-0487 `TISS`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub type_codings: Vec<crate::Coding>,
    /// Anatomical site (ICD-O-3 topography `C16.9`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anatomical_site: Option<crate::Coding>,
    /// Collection time with its zone, when the source gives more than a date (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<String>,
    /// Storage temperature label (MIABIS/SPREC: `-60 °C to -85 °C`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_temperature: Option<String>,
    /// Quantity held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<crate::Quantity>,
    /// The biobank holding it (`JP-TEST-BB01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biobank: Option<String>,
    /// The collection within the biobank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// Diagnosis the sample's content relates to (MIABIS-SAMPLE-10), canonical ICD-10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_diagnosis: Option<crate::Icd10Code>,
    /// Use and access conditions (MIABIS-SAMPLE-11).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub use_conditions: Vec<String>,
    /// Availability (FHIR `available`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Where each source said it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<crate::Provenance>,
}

impl SpecimenDetails {
    /// Whether nothing is known beyond the catalogue fields.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
