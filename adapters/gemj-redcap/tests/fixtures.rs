//! The synthetic REDCap project shipped in `examples/adapters/redcap/`, read end to end: the data
//! dictionary, and every canonical value of README §1, §2 and §6 that the record export carries.

use std::error::Error;
use std::path::PathBuf;

use gemj_model::source::{ConsentAction, Extract, RecordBody, Severity, SourceRecord, SubjectRef};
use gemj_model::{InstitutionId, PhenotypeStatus, Precision, Program, Sex, SpecimenType};
use gemj_redcap::{DataDictionary, FieldType, ReadOptions, read_records};

const DICTIONARY: &str = "rd-registry_DataDictionary.csv";
const RECORDS: &str = "rd-registry_records_raw.csv";

/// The synthetic REDCap project shipped in `examples/adapters/redcap`.
fn folder() -> PathBuf {
    gemj_schemas::testing::examples_dir().join("adapters/redcap")
}

/// The shipped record export, read with its data dictionary.
fn read(institution: Option<&str>) -> Result<Extract, Box<dyn Error>> {
    let folder = folder();
    let dict = DataDictionary::parse(&std::fs::read(folder.join(DICTIONARY))?)?;
    let bytes = std::fs::read(folder.join(RECORDS))?;
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFrecord_id,"),
        "the fixture has its BOM"
    );
    assert!(
        bytes.windows(2).any(|w| w == b"\r\n"),
        "the fixture has CRLF"
    );
    let options = ReadOptions {
        file: RECORDS.into(),
        institution: institution.map(InstitutionId::parse).transpose()?,
        ..ReadOptions::default()
    };
    Ok(read_records(&dict, &bytes, &options)?)
}

fn of(extract: &Extract, subject: &str) -> Result<Vec<SourceRecord>, Box<dyn Error>> {
    let subject = SubjectRef::Participant(subject.parse()?);
    Ok(extract.records_of(&subject).cloned().collect())
}

fn kinds(records: &[SourceRecord]) -> Vec<&'static str> {
    records.iter().map(|r| r.body.kind()).collect()
}

#[test]
fn the_data_dictionary() -> Result<(), Box<dyn Error>> {
    let folder = folder();
    let bytes = std::fs::read(folder.join(DICTIONARY))?;
    assert!(
        bytes.windows(2).any(|w| w == b"\r\n"),
        "the fixture has CRLF"
    );
    let dict = DataDictionary::parse(&bytes)?;
    assert!(dict.diagnostics(DICTIONARY).is_empty());
    let names: Vec<_> = dict.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "record_id",
            "gemj_id",
            "hosp_patient_id",
            "birth_date",
            "sex",
            "consent_date",
            "consent_withdrawn",
            "withdrawal_date",
            "dx_icd10",
            "dx_label",
            "dx_onset_year",
            "hpo",
            "specimen_id",
            "specimen_type",
            "specimen_collected"
        ]
    );
    let forms: Vec<_> = dict.fields().iter().map(|f| f.form.as_str()).collect();
    assert_eq!(forms.iter().filter(|f| **f == "enrolment").count(), 8);
    assert_eq!(forms.iter().filter(|f| **f == "diagnosis").count(), 4);
    assert_eq!(forms.iter().filter(|f| **f == "specimen").count(), 3);

    let field = |name: &str| dict.field(name).ok_or(format!("no field {name}"));
    let sex = field("sex")?;
    assert_eq!(sex.field_type, FieldType::Radio);
    let choices: Vec<_> = sex
        .choices
        .iter()
        .map(|c| (c.code.as_str(), c.label.as_str()))
        .collect();
    assert_eq!(choices, [("1", "男性"), ("2", "女性"), ("9", "不明")]);
    let hpo = field("hpo")?;
    assert_eq!(hpo.field_type, FieldType::Checkbox);
    let labels: Vec<_> = hpo
        .choices
        .iter()
        .map(|c| (c.code.as_str(), c.label.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("1", "HP:0001166 Arachnodactyly"),
            ("2", "HP:0001083 Ectopia lentis"),
            ("3", "HP:0002616 Aortic root aneurysm"),
            ("4", "HP:0001250 Seizure"),
        ]
    );
    assert_eq!(hpo.checkbox_column("4"), "hpo___4");
    let types = field("specimen_type")?;
    assert_eq!(types.field_type, FieldType::Dropdown);
    assert_eq!(types.choice_label("1"), Some("全血 Whole blood"));
    assert_eq!(types.choice_label("2"), Some("血清 Serum"));
    assert_eq!(types.choice_label("3"), Some("DNA"));
    assert_eq!(
        types.choice_label("4"),
        Some("組織（凍結）Tissue (fresh frozen)")
    );
    assert_eq!(field("consent_withdrawn")?.field_type, FieldType::YesNo);
    assert_eq!(field("consent_withdrawn")?.choice_label("1"), Some("Yes"));
    let birth = field("birth_date")?;
    assert_eq!(birth.validation.as_deref(), Some("date_ymd"));
    assert_eq!(birth.validation_min.as_deref(), Some("1900-01-01"));
    assert_eq!(birth.validation_max.as_deref(), Some("today"));
    assert_eq!(birth.note.as_deref(), Some("西暦で入力"));
    assert!(birth.identifier && birth.required);
    let gemj = field("gemj_id")?;
    assert!(gemj.identifier);
    assert_eq!(gemj.annotation.as_deref(), Some("@READONLY"));
    assert_eq!(gemj.note.as_deref(), Some("GEMJ-TEST-NNNN"));
    assert_eq!(
        field("withdrawal_date")?.branching_logic.as_deref(),
        Some("[consent_withdrawn] = '1'")
    );
    assert_eq!(field("dx_icd10")?.section_header.as_deref(), Some("診断"));
    let onset = field("dx_onset_year")?;
    assert_eq!(onset.validation.as_deref(), Some("integer"));
    assert_eq!(
        (
            onset.validation_min.as_deref(),
            onset.validation_max.as_deref()
        ),
        (Some("1900"), Some("2100"))
    );

    // The built-in template has this dictionary's fields, forms, types and choice codes (its
    // labels are its own).
    let shape = |d: &DataDictionary| -> Vec<(String, String, FieldType, Vec<String>)> {
        d.fields()
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    f.form.clone(),
                    f.field_type.clone(),
                    f.choices.iter().map(|c| c.code.clone()).collect(),
                )
            })
            .collect()
    };
    assert_eq!(shape(&DataDictionary::gemj_template()), shape(&dict));
    Ok(())
}

#[test]
fn record_1_is_subject_0002() -> Result<(), Box<dyn Error>> {
    let extract = read(Some("9999999999"))?;
    let records = of(&extract, "GEMJ-TEST-0002")?;
    assert_eq!(
        kinds(&records),
        [
            "subject",
            "consent",
            "diagnosis",
            "phenotype",
            "phenotype",
            "phenotype",
            "specimen",
            "specimen"
        ]
    );
    for r in &records {
        assert_eq!(r.provenance.source, "redcap");
        assert_eq!(r.provenance.file.as_deref(), Some(RECORDS));
    }

    let RecordBody::Subject(subject) = &records[0].body else {
        return Err("subject".into());
    };
    assert_eq!(
        subject
            .participant
            .as_ref()
            .map(gemj_model::ParticipantId::as_str),
        Some("GEMJ-TEST-0002")
    );
    assert_eq!(subject.hospital_ids.len(), 1);
    assert_eq!(subject.hospital_ids[0].patient, "9000000002");
    assert_eq!(
        subject.hospital_ids[0].system(),
        "urn:oid:1.2.392.100495.20.3.51.19999999999"
    );
    assert_eq!(subject.sex, Some(Sex::Female));
    let birth = subject.birth_date.ok_or("no birth date")?;
    assert_eq!(birth.to_string(), "1989-01-07");
    assert_eq!(birth.precision(), Precision::Day);
    assert_eq!(subject.program, Some(Program::RareDisease));
    assert_eq!(records[0].provenance.position.as_deref(), Some("record 1"));

    let RecordBody::Consent(consent) = &records[1].body else {
        return Err("consent".into());
    };
    assert_eq!(consent.action, ConsentAction::Given);
    assert_eq!(
        consent.date.map(|d| d.to_string()).as_deref(),
        Some("2019-04-30")
    );

    let RecordBody::Diagnosis(dx) = &records[2].body else {
        return Err("diagnosis".into());
    };
    assert_eq!(dx.icd10.as_str(), "Q87.4");
    assert_eq!(dx.source_code, "Q87.4");
    assert_eq!(records[2].provenance.value, None, "spelled canonically");
    let onset = dx.onset.ok_or("no onset")?;
    assert_eq!(onset.to_string(), "2005");
    assert_eq!(onset.precision(), Precision::Year, "never 2005-01-01");
    assert_eq!(dx.details.label.as_deref(), Some("マルファン症候群"));

    let phenotypes: Vec<_> = records[3..6]
        .iter()
        .map(|r| match &r.body {
            RecordBody::Phenotype(p) => Some((
                p.hpo.as_str(),
                p.status,
                r.provenance.position.as_deref().unwrap_or(""),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        phenotypes,
        [
            Some(("HP:0001166", PhenotypeStatus::Observed, "record 1, hpo___1")),
            Some(("HP:0001083", PhenotypeStatus::Observed, "record 1, hpo___2")),
            Some(("HP:0002616", PhenotypeStatus::Observed, "record 1, hpo___3")),
        ]
    );
    let seizure = extract
        .records
        .iter()
        .any(|r| matches!(&r.body, RecordBody::Phenotype(p) if p.hpo.as_str() == "HP:0001250"));
    assert!(
        !seizure,
        "hpo___4=0 is no statement: neither observed nor excluded"
    );

    let specimens: Vec<_> = records[6..]
        .iter()
        .map(|r| match &r.body {
            RecordBody::Specimen(s) => Some((
                s.id.as_str(),
                s.specimen_type.clone(),
                s.collected.map(|d| d.to_string()),
                s.details.type_label.as_deref(),
                s.biobank_sample,
                s.parent.is_none(),
                r.provenance.position.as_deref().unwrap_or(""),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        specimens,
        [
            Some((
                "SP-0002-B",
                SpecimenType::WholeBlood,
                Some("2019-05-01".to_owned()),
                Some("全血 Whole blood"),
                true,
                true,
                "record 1, specimen #1"
            )),
            Some((
                "SP-0002-B-DNA",
                SpecimenType::Dna,
                Some("2019-05-07".to_owned()),
                Some("DNA"),
                true,
                true,
                "record 1, specimen #2"
            )),
        ]
    );
    Ok(())
}

#[test]
fn record_2_is_subject_0003_withdrawn_with_its_facts() -> Result<(), Box<dyn Error>> {
    let extract = read(Some("9999999999"))?;
    let records = of(&extract, "GEMJ-TEST-0003")?;
    assert_eq!(
        kinds(&records),
        [
            "subject",
            "consent",
            "consent",
            "diagnosis",
            "phenotype",
            "specimen"
        ]
    );
    let RecordBody::Subject(subject) = &records[0].body else {
        return Err("subject".into());
    };
    assert_eq!(subject.sex, Some(Sex::Male));
    assert_eq!(
        subject.birth_date.map(|d| d.to_string()).as_deref(),
        Some("2001-02-03")
    );
    assert_eq!(subject.hospital_ids[0].patient, "9000000003");
    let consents: Vec<_> = records[1..3]
        .iter()
        .map(|r| match &r.body {
            RecordBody::Consent(c) => Some((c.action, c.date.map(|d| d.to_string()))),
            _ => None,
        })
        .collect();
    assert_eq!(
        consents,
        [
            Some((ConsentAction::Given, Some("2018-06-01".to_owned()))),
            Some((ConsentAction::Withdrawn, Some("2023-01-10".to_owned()))),
        ]
    );
    let RecordBody::Diagnosis(dx) = &records[3].body else {
        return Err("diagnosis".into());
    };
    assert_eq!(dx.icd10.as_str(), "Q87.4");
    assert_eq!(
        dx.onset.map(|d| (d.to_string(), d.precision())),
        Some(("2010".to_owned(), Precision::Year))
    );
    let RecordBody::Phenotype(p) = &records[4].body else {
        return Err("phenotype".into());
    };
    assert_eq!(p.hpo.as_str(), "HP:0001166");
    let RecordBody::Specimen(s) = &records[5].body else {
        return Err("specimen".into());
    };
    assert_eq!(s.id.as_str(), "SP-0003-S");
    assert_eq!(s.specimen_type, SpecimenType::Serum);
    assert_eq!(s.details.type_label.as_deref(), Some("血清 Serum"));
    assert_eq!(
        s.collected.map(|d| d.to_string()).as_deref(),
        Some("2019-04-30")
    );
    Ok(())
}

#[test]
fn nothing_else_and_the_form_statuses_are_warnings() -> Result<(), Box<dyn Error>> {
    let extract = read(Some("9999999999"))?;
    assert_eq!(extract.records.len(), 14);
    assert!(extract.rejected.is_empty(), "{:#?}", extract.rejected);
    let diagnostics: Vec<_> = extract
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.severity,
                d.file.as_str(),
                d.position.as_deref().unwrap_or(""),
                d.field.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        diagnostics,
        [
            (Severity::Warning, RECORDS, "line 4", "specimen_complete"),
            (Severity::Warning, RECORDS, "line 5", "diagnosis_complete"),
        ]
    );
    assert!(extract.diagnostics[0].message.contains("Unverified"));
    assert!(extract.diagnostics[1].message.contains("Incomplete"));
    Ok(())
}

#[test]
fn without_an_institution_code_the_linkage_is_not_recorded() -> Result<(), Box<dyn Error>> {
    let extract = read(None)?;
    for r in &extract.records {
        if let RecordBody::Subject(s) = &r.body {
            assert!(s.hospital_ids.is_empty());
            assert_eq!(s.institution, None);
        }
    }
    let linkage: Vec<_> = extract
        .diagnostics
        .iter()
        .filter(|d| d.field.as_deref() == Some("hosp_patient_id"))
        .map(|d| (d.severity, d.position.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        linkage,
        [(Severity::Warning, "line 2"), (Severity::Warning, "line 5")]
    );
    for d in &extract.diagnostics {
        assert!(!d.message.contains("900000000"), "no ids in messages");
    }
    Ok(())
}
