//! Which REDCap fields mean what: the field mapping, with the GeMJ template's names as defaults
//! so that another project can map its own names from configuration.

use std::collections::BTreeMap;

use gemj_model::{Program, Sex, SpecimenType};

/// The fields of a REDCap project that carry GeMJ facts. An empty name means "not collected".
///
/// The defaults are the GeMJ rare-disease registry template (`rd-registry`, see
/// [`crate::DataDictionary::gemj_template`]).
///
/// # Examples
/// ```
/// use gemj_redcap::FieldMapping;
/// let mapping: FieldMapping = serde_json::from_str(r#"{"participant_id": "study_id", "program": "cancer"}"#)?;
/// assert_eq!(mapping.participant_id, "study_id");
/// assert_eq!(mapping.sex, "sex"); // the template's name where not overridden
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FieldMapping {
    /// The record id, the first column of every export (`record_id`).
    pub record_id: String,
    /// The GeMJ subject id (`gemj_id`).
    pub participant_id: String,
    /// The hospital patient id (`hosp_patient_id`), linked to the GeMJ id.
    pub hospital_patient_id: String,
    /// Date of birth, `date_ymd` (`birth_date`).
    pub birth_date: String,
    /// Sex, a radio field whose choice labels name the sex (`sex`).
    pub sex: String,
    /// Date consent was given, `date_ymd` (`consent_date`).
    pub consent_date: String,
    /// Consent withdrawn, yesno (`consent_withdrawn`).
    pub consent_withdrawn: String,
    /// Date of withdrawal, `date_ymd` (`withdrawal_date`).
    pub withdrawal_date: String,
    /// Diagnosis, ICD-10 with or without the dot (`dx_icd10`).
    pub diagnosis_icd10: String,
    /// The diagnosis name (`dx_label`).
    pub diagnosis_label: String,
    /// Year of onset, an integer (`dx_onset_year`).
    pub diagnosis_onset_year: String,
    /// Observed phenotypes, a checkbox field whose choice labels start with the HPO id (`hpo`).
    /// A ticked box (`1`) is an observed phenotype; an unticked one (`0`) is no statement.
    pub phenotypes: String,
    /// The repeating instrument of specimens (`specimen`).
    pub specimen_instrument: String,
    /// Specimen id (`specimen_id`).
    pub specimen_id: String,
    /// Specimen material, a dropdown (`specimen_type`).
    pub specimen_type: String,
    /// Collection date, `date_ymd` (`specimen_collected`).
    pub specimen_collected: String,
    /// Specimen material by raw code of the type field. Codes not listed are recognised by
    /// their choice label (`Whole blood`, `Serum`, `DNA`, ...), else kept as
    /// [`SpecimenType::Other`].
    pub specimen_types: BTreeMap<String, SpecimenType>,
    /// Sex by choice label, compared without regard to ASCII case; a label is also tried word by
    /// word (`男性 Male`).
    pub sex_labels: BTreeMap<String, Sex>,
    /// The program every record of the project belongs to (the rare-disease registry).
    pub program: Option<Program>,
}

impl Default for FieldMapping {
    fn default() -> Self {
        let s = str::to_owned;
        let specimen_types = [
            ("1", SpecimenType::WholeBlood),
            ("2", SpecimenType::Serum),
            ("3", SpecimenType::Dna),
            ("4", SpecimenType::Tissue),
        ]
        .into_iter()
        .map(|(code, t)| (s(code), t))
        .collect();
        let sex_labels = [
            ("男性", Sex::Male),
            ("男", Sex::Male),
            ("male", Sex::Male),
            ("女性", Sex::Female),
            ("女", Sex::Female),
            ("female", Sex::Female),
            ("不明", Sex::Unknown),
            ("unknown", Sex::Unknown),
            ("その他", Sex::Other),
            ("other", Sex::Other),
        ]
        .into_iter()
        .map(|(label, sex)| (s(label), sex))
        .collect();
        Self {
            record_id: s("record_id"),
            participant_id: s("gemj_id"),
            hospital_patient_id: s("hosp_patient_id"),
            birth_date: s("birth_date"),
            sex: s("sex"),
            consent_date: s("consent_date"),
            consent_withdrawn: s("consent_withdrawn"),
            withdrawal_date: s("withdrawal_date"),
            diagnosis_icd10: s("dx_icd10"),
            diagnosis_label: s("dx_label"),
            diagnosis_onset_year: s("dx_onset_year"),
            phenotypes: s("hpo"),
            specimen_instrument: s("specimen"),
            specimen_id: s("specimen_id"),
            specimen_type: s("specimen_type"),
            specimen_collected: s("specimen_collected"),
            specimen_types,
            sex_labels,
            program: Some(Program::RareDisease),
        }
    }
}

impl FieldMapping {
    /// The sex a choice label names.
    ///
    /// # Examples
    /// ```
    /// use gemj_model::Sex;
    /// let mapping = gemj_redcap::FieldMapping::default();
    /// assert_eq!(mapping.sex_of_label("女性"), Some(Sex::Female));
    /// assert_eq!(mapping.sex_of_label("Male"), Some(Sex::Male));
    /// assert_eq!(mapping.sex_of_label("男性 Male"), Some(Sex::Male));
    /// assert_eq!(mapping.sex_of_label("?"), None);
    /// ```
    #[must_use]
    pub fn sex_of_label(&self, label: &str) -> Option<Sex> {
        let find = |word: &str| {
            self.sex_labels
                .iter()
                .find(|(k, _)| k.trim().to_lowercase() == word.to_lowercase())
                .map(|(_, sex)| *sex)
        };
        let label = label.trim();
        find(label).or_else(|| {
            let mut words = label.split_whitespace().filter_map(find);
            let first = words.next()?;
            words.all(|w| w == first).then_some(first)
        })
    }

    /// The specimen fields, which belong to the specimen instrument even when the data
    /// dictionary does not say.
    pub(crate) fn specimen_fields(&self) -> [&str; 3] {
        [
            self.specimen_id.as_str(),
            self.specimen_type.as_str(),
            self.specimen_collected.as_str(),
        ]
    }
}

/// A specimen type recognised from a choice label (`全血 Whole blood` → whole blood).
pub(crate) fn specimen_type_of_label(label: &str) -> Option<SpecimenType> {
    let lower = label.to_lowercase();
    let has = |word: &str| lower.contains(word);
    let t = if has("whole blood") || has("全血") {
        SpecimenType::WholeBlood
    } else if has("buffy coat") {
        SpecimenType::BuffyCoat
    } else if has("serum") || has("血清") {
        SpecimenType::Serum
    } else if has("plasma") || has("血漿") {
        SpecimenType::Plasma
    } else if has("saliva") || has("唾液") {
        SpecimenType::Saliva
    } else if has("rna") {
        SpecimenType::Rna
    } else if has("dna") {
        SpecimenType::Dna
    } else if has("tissue") || has("組織") {
        SpecimenType::Tissue
    } else {
        return None;
    };
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let check = |label: &str, expect: Option<SpecimenType>| {
            assert_eq!(specimen_type_of_label(label), expect, "{label}");
        };
        check("全血 Whole blood", Some(SpecimenType::WholeBlood));
        check("血清 Serum", Some(SpecimenType::Serum));
        check("DNA", Some(SpecimenType::Dna));
        check(
            "組織（凍結）Tissue (fresh frozen)",
            Some(SpecimenType::Tissue),
        );
        check("Total RNA", Some(SpecimenType::Rna));
        check("Urine", None);
    }

    #[test]
    fn sex_words_must_agree() {
        let mapping = FieldMapping::default();
        assert_eq!(mapping.sex_of_label("女性 Female"), Some(Sex::Female));
        assert_eq!(mapping.sex_of_label("男性 Female"), None);
        assert_eq!(mapping.sex_of_label("UNKNOWN"), Some(Sex::Unknown));
    }

    #[test]
    fn partial_configuration_keeps_defaults() -> Result<(), Box<dyn std::error::Error>> {
        let mapping: FieldMapping =
            serde_json::from_str(r#"{"specimen_types": {"7": {"other": "Urine"}}}"#)?;
        assert_eq!(mapping.record_id, "record_id");
        assert_eq!(
            mapping.specimen_types.get("7"),
            Some(&SpecimenType::Other("Urine".into()))
        );
        assert!(serde_json::from_str::<FieldMapping>(r#"{"nope": 1}"#).is_err());
        let round: FieldMapping =
            serde_json::from_str(&serde_json::to_string(&FieldMapping::default())?)?;
        assert_eq!(round, FieldMapping::default());
        Ok(())
    }
}
