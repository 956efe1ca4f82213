//! Which ODM items mean what: the item mapping, with the GeMJ EDC template's OIDs as defaults so
//! that another study can map its own OIDs from configuration.

use std::collections::BTreeMap;

use gemj_model::Sex;

/// The OIDs of an ODM study that carry GeMJ facts. An empty OID means "not collected".
///
/// The defaults are the GeMJ EDC template (study `ST.GEMJ.TEST`): the subject key is the GeMJ
/// id; `IG.DM` demographics; the cancer form `F.CADX`; the rare-disease form `F.RDDX` with the
/// repeating item group `IG.HPO`. Items are recognised by `ItemOID` wherever they appear; the
/// items of one diagnosis (code, morphology, date, stage) must be in the same
/// `ItemGroupData`.
///
/// # Examples
/// ```
/// use gemj_cdisc_odm::OdmMapping;
/// let mapping: OdmMapping = serde_json::from_str(r#"{"birth_date": "IT.DM.BRTHDTC"}"#)?;
/// assert_eq!(mapping.birth_date, "IT.DM.BRTHDTC");
/// assert_eq!(mapping.sex, "I.SEX"); // the template's OID where not overridden
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OdmMapping {
    /// Date of birth, `date` (`I.BRTHDTC`).
    pub birth_date: String,
    /// Sex, coded (`I.SEX`, code list `CL.SEX`).
    pub sex: String,
    /// Sex by coded value (`M`, `F`, `U`). Codes not listed are read through their code-list
    /// decode (`男性`, `Female`).
    pub sex_codes: BTreeMap<String, Sex>,
    /// The hospital patient id (`I.HOSPID`), linked to the subject key.
    pub hospital_patient_id: String,
    /// Date informed consent was given, `date` (`I.ICDT`).
    pub consent_date: String,
    /// Date consent was withdrawn (none in the template).
    pub withdrawal_date: String,
    /// The cancer diagnosis form (`F.CADX`): a subject with it is in the cancer program.
    pub cancer_form: String,
    /// Cancer diagnosis, ICD-10 (`I.CA_ICD10`).
    pub cancer_icd10: String,
    /// ICD-O-3 morphology (`I.CA_ICDO3M`, `8140/3`).
    pub cancer_morphology: String,
    /// Date of diagnosis, `date` (`I.CA_DXDTC`).
    pub cancer_diagnosis_date: String,
    /// Clinical stage, coded (`I.CA_CSTAGE`, `III`).
    pub cancer_stage: String,
    /// ECOG performance status, `integer` (`I.ECOG`).
    pub ecog: String,
    /// The tumour specimen's id (`I.TUMOR_SPEC`).
    pub tumour_specimen: String,
    /// The rare-disease diagnosis form (`F.RDDX`): a subject with it is in the rare-disease
    /// program.
    pub rare_disease_form: String,
    /// Rare-disease diagnosis, ICD-10 (`I.RD_ICD10`).
    pub rare_disease_icd10: String,
    /// Onset, `partialDate` (`I.RD_ONSET`, `2005` stays a year).
    pub rare_disease_onset: String,
    /// A phenotypic feature, HPO id (`I.HPO_ID`).
    pub hpo_id: String,
    /// The feature was looked for and is absent, `boolean` (`I.HPO_EXCL`).
    pub hpo_excluded: String,
}

impl Default for OdmMapping {
    fn default() -> Self {
        let s = str::to_owned;
        Self {
            birth_date: s("I.BRTHDTC"),
            sex: s("I.SEX"),
            sex_codes: [("M", Sex::Male), ("F", Sex::Female), ("U", Sex::Unknown)]
                .into_iter()
                .map(|(code, sex)| (s(code), sex))
                .collect(),
            hospital_patient_id: s("I.HOSPID"),
            consent_date: s("I.ICDT"),
            withdrawal_date: String::new(),
            cancer_form: s("F.CADX"),
            cancer_icd10: s("I.CA_ICD10"),
            cancer_morphology: s("I.CA_ICDO3M"),
            cancer_diagnosis_date: s("I.CA_DXDTC"),
            cancer_stage: s("I.CA_CSTAGE"),
            ecog: s("I.ECOG"),
            tumour_specimen: s("I.TUMOR_SPEC"),
            rare_disease_form: s("F.RDDX"),
            rare_disease_icd10: s("I.RD_ICD10"),
            rare_disease_onset: s("I.RD_ONSET"),
            hpo_id: s("I.HPO_ID"),
            hpo_excluded: s("I.HPO_EXCL"),
        }
    }
}

/// The sex a code-list decode names (`男性`, `Female`, `不明`).
pub(crate) fn sex_of_label(label: &str) -> Option<Sex> {
    let sex = match label.trim().to_lowercase().as_str() {
        "男性" | "男" | "male" => Sex::Male,
        "女性" | "女" | "female" => Sex::Female,
        "不明" | "unknown" => Sex::Unknown,
        "その他" | "other" => Sex::Other,
        _ => return None,
    };
    Some(sex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let text = serde_json::to_string(&OdmMapping::default())?;
        assert_eq!(
            serde_json::from_str::<OdmMapping>(&text)?,
            OdmMapping::default()
        );
        assert_eq!(
            serde_json::from_str::<OdmMapping>("{}")?,
            OdmMapping::default()
        );
        assert!(serde_json::from_str::<OdmMapping>(r#"{"unknown": ""}"#).is_err());
        Ok(())
    }

    #[test]
    fn labels() {
        assert_eq!(sex_of_label("男性"), Some(Sex::Male));
        assert_eq!(sex_of_label("Female"), Some(Sex::Female));
        assert_eq!(sex_of_label("不明"), Some(Sex::Unknown));
        assert_eq!(sex_of_label("?"), None);
    }
}
