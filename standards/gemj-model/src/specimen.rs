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
}
