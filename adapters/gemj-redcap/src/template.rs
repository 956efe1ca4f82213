//! The GeMJ rare-disease registry template (`rd-registry`): the field names, types and choice
//! codes that [`crate::FieldMapping::default`] maps, written as a REDCap data dictionary. A
//! project's own dictionary (with its own labels, notes and validation) is read with
//! [`crate::DataDictionary::parse`]; this one serves when none is given (fuzzing, examples).

/// The template dictionary CSV: English labels, no notes.
pub(crate) const GEMJ_RD_REGISTRY: &str = r#"Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"Choices, Calculations, OR Slider Labels",Field Note,Text Validation Type OR Show Slider Number,Text Validation Min,Text Validation Max,Identifier?,Branching Logic (Show field only if...),Required Field?,Custom Alignment,Question Number (surveys only),Matrix Group Name,Matrix Ranking?,Field Annotation
record_id,enrolment,,text,Record ID,,,,,,,,,,,,,
gemj_id,enrolment,,text,GeMJ subject ID,,,,,,y,,y,,,,,
hosp_patient_id,enrolment,,text,Hospital patient ID,,,,,,y,,,,,,,
birth_date,enrolment,,text,Date of birth,,,date_ymd,,,y,,y,,,,,
sex,enrolment,,radio,Sex,"1, Male | 2, Female | 9, Unknown",,,,,,,y,,,,,
consent_date,enrolment,,text,Date of consent,,,date_ymd,,,,,y,,,,,
consent_withdrawn,enrolment,,yesno,Consent withdrawn,,,,,,,,y,,,,,
withdrawal_date,enrolment,,text,Date of withdrawal,,,date_ymd,,,,[consent_withdrawn] = '1',y,,,,,
dx_icd10,diagnosis,,text,Diagnosis (ICD-10),,,,,,,,y,,,,,
dx_label,diagnosis,,text,Diagnosis (name),,,,,,,,,,,,,
dx_onset_year,diagnosis,,text,Year of onset,,,integer,,,,,,,,,,
hpo,diagnosis,,checkbox,Main features (HPO),"1, HP:0001166 Arachnodactyly | 2, HP:0001083 Ectopia lentis | 3, HP:0002616 Aortic root aneurysm | 4, HP:0001250 Seizure",,,,,,,,,,,,
specimen_id,specimen,,text,Specimen ID,,,,,,,,y,,,,,
specimen_type,specimen,,dropdown,Specimen type,"1, Whole blood | 2, Serum | 3, DNA | 4, Tissue (fresh frozen)",,,,,,,y,,,,,
specimen_collected,specimen,,text,Date collected,,,date_ymd,,,,,y,,,,,
"#;
