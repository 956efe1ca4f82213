//! Clinical findings: diagnoses in ICD-10 and phenotypes in HPO, each with where it came from.

use crate::error::ModelError;
use crate::macros::string_newtype;
use crate::{PartialDate, ParticipantId};

string_newtype!(
    /// An ICD-10 code in its canonical dotted form (`C16.9`), parsed from any common spelling
    /// (`C169`, `c16.9`, ` C16.9 `).
    ///
    /// # Examples
    /// ```
    /// use gemj_model::Icd10Code;
    /// assert_eq!(Icd10Code::parse("C169").unwrap().as_str(), "C16.9");
    /// assert_eq!(Icd10Code::parse("Q87.4").unwrap().category(), "Q87");
    /// ```
    Icd10Code, as_str = "The dotted code."
);

impl Icd10Code {
    /// Parses an ICD-10 code with or without its dot.
    ///
    /// # Errors
    /// When the text is not a letter, two digits and up to four more characters.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let t = s.trim().to_ascii_uppercase();
        let compact: String = t.chars().filter(|c| *c != '.').collect();
        let dots = t.matches('.').count();
        let b = compact.as_bytes();
        let ok = (3..=7).contains(&b.len())
            && b[0].is_ascii_uppercase()
            && b[1].is_ascii_digit()
            && (b[2].is_ascii_digit() || b[2].is_ascii_uppercase())
            && b[3..].iter().all(u8::is_ascii_alphanumeric)
            && (dots == 0 || (dots == 1 && t.find('.') == Some(3) && b.len() > 3));
        if !ok {
            return Err(ModelError::value(
                "ICD-10 code",
                s,
                "expected a letter, two digits and an optional dotted subdivision",
            ));
        }
        let code = if b.len() > 3 {
            format!("{}.{}", &compact[..3], &compact[3..])
        } else {
            compact
        };
        Ok(Self(code))
    }

    /// The three-character category (`C16` for `C16.9`), the parent in the ICD-10 hierarchy.
    #[must_use]
    pub fn category(&self) -> &str {
        &self.0[..3]
    }
}

string_newtype!(
    /// A Human Phenotype Ontology term id, `HP:` followed by seven digits.
    HpoId, curie "HP:", "HPO id", example "HP:0001166"
);

/// Where a value came from: the source system, the file and the position in it.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Source kind, e.g. `ssmix2`, `redcap`, `odm`, `fhir`, `biobank`, `demo`.
    pub source: String,
    /// File name or batch id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Position in the file: line, segment or element path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// The value as the source spelled it (`C169` where the canonical code is `C16.9`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A diagnosis.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Diagnosis {
    /// Whose diagnosis.
    pub participant: ParticipantId,
    /// Canonical ICD-10 code.
    pub icd10: Icd10Code,
    /// The code exactly as the source wrote it (`C169`).
    pub source_code: String,
    /// The source's code system (`I10`, a JP Core URI, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_system: Option<String>,
    /// Onset, with its precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<PartialDate>,
    /// Date of diagnosis or of recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<PartialDate>,
    /// Where each source said it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<Provenance>,
    /// What the sources said beyond the ICD-10 code: other codes, label, stage.
    #[serde(default, skip_serializing_if = "DiagnosisDetails::is_empty")]
    pub details: DiagnosisDetails,
}

/// A code in a code system (a FHIR `Coding`): MEDIS disease numbers, local codes, ICD-O-3,
/// JLAC10, LOINC.
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
pub struct Coding {
    /// The code system: a URI, an OID URN, or an HL7 v2 table name (`JC10`, `99Z03`, `MDCDX2`).
    pub system: String,
    /// The code as the source wrote it.
    pub code: String,
    /// The source's display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Coding {
    /// A coding without display text.
    #[must_use]
    pub fn new(system: &str, code: &str) -> Self {
        Self {
            system: system.to_owned(),
            code: code.to_owned(),
            display: None,
        }
    }

    /// The same coding with a display text.
    #[must_use]
    pub fn with_display(mut self, display: &str) -> Self {
        self.display = Some(display.to_owned());
        self
    }
}

/// A quantity as the source wrote it: the decimal text is kept (`61.0` stays `61.0`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    /// The number, as decimal text.
    pub value: String,
    /// The unit (UCUM where the source gives one: `ug`, `mL`, `g/dL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// What the sources said of a diagnosis beyond its ICD-10 code.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct DiagnosisDetails {
    /// Other codes for the same diagnosis: MEDIS 病名管理番号, local codes, ICD-O-3 morphology.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codings: Vec<Coding>,
    /// The diagnosis name as the source wrote it (`胃癌`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Clinical stage (`III`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Whether the source marks it the main diagnosis (SS-MIX2 PRB-18 `1^主診断`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<bool>,
    /// Clinical status (`active`, FHIR condition-clinical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinical_status: Option<String>,
    /// Verification status (`confirmed`, FHIR condition-ver-status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_status: Option<String>,
}

impl DiagnosisDetails {
    /// Whether nothing is known beyond the code.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A clinical measurement or laboratory result (an HL7 v2 OBX, a FHIR Observation).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    /// Whose measurement.
    pub participant: ParticipantId,
    /// What was measured (JLAC10 `3A015000002327101`, LOINC).
    pub code: Coding,
    /// The result: a quantity (`value` + `unit`) or text (`value` only).
    pub value: Quantity,
    /// `NM` (numeric) or `ST`/`TX` (text), as in HL7 v2 OBX-2.
    pub value_type: String,
    /// Reference range as written (`3.7-5.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_range: Option<String>,
    /// Abnormal flag (`L`, `H`, `N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<String>,
    /// When it was observed, RFC 3339 with the zone (sources without a zone are JST, +09:00).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<String>,
    /// Result status (`F` final).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The order (SS-MIX2 order number) the result belongs to; a deleted order removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// The routine-lab specimen it was measured on: an id and material, never a biobank sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab_specimen: Option<LabSpecimen>,
    /// Where each source said it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<Provenance>,
}

impl Measurement {
    /// The key that identifies a measurement of a participant across re-ingests: order, code and
    /// time.
    #[must_use]
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.order.as_deref().unwrap_or("-"),
            self.code.system,
            self.code.code,
            self.effective.as_deref().unwrap_or("-")
        )
    }
}

/// A routine laboratory specimen (SS-MIX2 SPM): kept on the result, out of the sample catalogue.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct LabSpecimen {
    /// The laboratory's specimen id (`LS-0001`).
    pub id: String,
    /// The material (JLAC10 material `023` serum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<Coding>,
}

/// Whether a phenotype was observed or explicitly excluded.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PhenotypeStatus {
    /// Present.
    Observed,
    /// Explicitly looked for and absent.
    Excluded,
}

/// A phenotypic feature.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Phenotype {
    /// Whose phenotype.
    pub participant: ParticipantId,
    /// HPO term.
    pub hpo: HpoId,
    /// Observed or excluded.
    pub status: PhenotypeStatus,
    /// Onset, with its precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<PartialDate>,
    /// Where each source said it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<Provenance>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Option<&str>) {
        assert_eq!(
            Icd10Code::parse(input).ok().as_ref().map(Icd10Code::as_str),
            expect,
            "{input:?}"
        );
    }

    #[test]
    fn icd10_spellings() {
        check("C169", Some("C16.9"));
        check("C16.9", Some("C16.9"));
        check("c16.9", Some("C16.9"));
        check(" Q874 ", Some("Q87.4"));
        check("Q87", Some("Q87"));
        check("E75.22", Some("E75.22"));
        check("C16.", None);
        check("C1.69", None);
        check("169", None);
        check("C16..9", None);
        check("", None);
        check("C16.9.1", None);
    }

    #[test]
    fn hpo_ids() {
        assert!(HpoId::parse("HP:0001166").is_ok());
        assert!(HpoId::parse("HP:001166").is_err());
        assert!(HpoId::parse("hp:0001166").is_err());
    }
}
