//! The synthetic EDC export shipped in `examples/adapters/odm/gemj-edc-export.odm.xml`, read end
//! to end: every canonical value of README §1, §2, §3 and §5 that the file carries.

use std::error::Error;

use gemj_cdisc_odm::{ICD_O_3_SYSTEM, LOINC_SYSTEM, OdmMapping, OdmOptions, read_odm};
use gemj_model::source::{ConsentAction, Extract, RecordBody, Severity, SourceRecord, SubjectRef};
use gemj_model::{Coding, PhenotypeStatus, Precision, Program, Sex, SpecimenType};

const FILE: &str = "gemj-edc-export.odm.xml";

/// The shipped export, read with `options`.
fn read(options: OdmOptions) -> Result<Extract, Box<dyn Error>> {
    let path = gemj_schemas::testing::examples_dir()
        .join("adapters/odm")
        .join(FILE);
    let bytes = std::fs::read(path)?;
    Ok(read_odm(&bytes, &options)?)
}

fn options() -> Result<OdmOptions, Box<dyn Error>> {
    Ok(OdmOptions {
        file: FILE.into(),
        institution: Some("9999999999".parse()?),
        mapping: OdmMapping::default(),
    })
}

fn of(extract: &Extract, subject: &str) -> Result<Vec<SourceRecord>, Box<dyn Error>> {
    let subject = SubjectRef::Participant(subject.parse()?);
    Ok(extract.records_of(&subject).cloned().collect())
}

fn positions(records: &[SourceRecord]) -> Vec<(&'static str, &str)> {
    records
        .iter()
        .map(|r| {
            (
                r.body.kind(),
                r.provenance.position.as_deref().unwrap_or(""),
            )
        })
        .collect()
}

#[test]
fn reads_cleanly() -> Result<(), Box<dyn Error>> {
    let extract = read(options()?)?;
    assert!(extract.diagnostics.is_empty(), "{:#?}", extract.diagnostics);
    assert!(extract.rejected.is_empty());
    assert_eq!(extract.records.len(), 5 + 7);
    for r in &extract.records {
        assert_eq!(r.provenance.source, "odm");
        assert_eq!(r.provenance.file.as_deref(), Some(FILE));
    }
    Ok(())
}

#[test]
fn subject_0001_cancer_form() -> Result<(), Box<dyn Error>> {
    let extract = read(options()?)?;
    let records = of(&extract, "GEMJ-TEST-0001")?;
    const DM: &str = "SubjectData GEMJ-TEST-0001, IG.DM";
    const CADX: &str = "SubjectData GEMJ-TEST-0001, IG.CADX";
    assert_eq!(
        positions(&records),
        [
            ("subject", "SubjectData GEMJ-TEST-0001"),
            ("consent", DM),
            ("diagnosis", CADX),
            ("measurement", CADX),
            ("specimen", CADX),
        ]
    );

    let RecordBody::Subject(s) = &records[0].body else {
        return Err("subject".into());
    };
    assert_eq!(
        s.participant
            .as_ref()
            .map(gemj_model::ParticipantId::as_str),
        Some("GEMJ-TEST-0001")
    );
    assert_eq!(s.sex, Some(Sex::Male));
    let birth = s.birth_date.ok_or("birth date")?;
    assert_eq!(
        (birth.to_string().as_str(), birth.precision()),
        ("1975-04-01", Precision::Day)
    );
    assert_eq!(s.program, Some(Program::Cancer));
    assert_eq!(s.hospital_ids.len(), 1);
    assert_eq!(s.hospital_ids[0].patient, "9000000001");
    assert_eq!(
        s.hospital_ids[0].system(),
        "urn:oid:1.2.392.100495.20.3.51.19999999999"
    );

    let RecordBody::Consent(c) = &records[1].body else {
        return Err("consent".into());
    };
    assert_eq!(c.action, ConsentAction::Given);
    assert_eq!(c.date.map(|d| d.to_string()).as_deref(), Some("2024-03-01"));

    let RecordBody::Diagnosis(dx) = &records[2].body else {
        return Err("diagnosis".into());
    };
    assert_eq!(dx.icd10.as_str(), "C16.9");
    assert_eq!(dx.source_code, "C16.9");
    assert_eq!(records[2].provenance.value, None, "spelled canonically");
    assert_eq!(
        dx.recorded.map(|d| d.to_string()).as_deref(),
        Some("2024-02-20")
    );
    assert_eq!(dx.onset, None);
    assert_eq!(dx.details.codings, [Coding::new(ICD_O_3_SYSTEM, "8140/3")]);
    assert_eq!(
        ICD_O_3_SYSTEM,
        "http://terminology.hl7.org/CodeSystem/icd-o-3"
    );
    assert_eq!(dx.details.stage.as_deref(), Some("III"));

    let RecordBody::Measurement(ecog) = &records[3].body else {
        return Err("measurement".into());
    };
    assert_eq!(
        ecog.code,
        Coding::new(LOINC_SYSTEM, "89247-1").with_display("ECOG Performance Status score")
    );
    assert_eq!(LOINC_SYSTEM, "http://loinc.org");
    assert_eq!(ecog.value.value, "1");
    assert_eq!(ecog.value.unit, None);
    assert_eq!(ecog.value_type, "NM");

    let RecordBody::Specimen(tumour) = &records[4].body else {
        return Err("specimen".into());
    };
    assert_eq!(tumour.id.as_str(), "SP-0001-T");
    assert_eq!(tumour.specimen_type, SpecimenType::Tissue);
    assert_eq!(tumour.tumour, Some(true));
    assert!(tumour.biobank_sample);
    assert_eq!(tumour.parent, None);
    Ok(())
}

#[test]
fn subject_0002_rare_disease_form_and_hpo_rows() -> Result<(), Box<dyn Error>> {
    let extract = read(options()?)?;
    let records = of(&extract, "GEMJ-TEST-0002")?;
    const HPO: &str = "SubjectData GEMJ-TEST-0002, IG.HPO";
    let hpo = |n: u8| format!("{HPO}[{n}]");
    let (h1, h2, h3, h4) = (hpo(1), hpo(2), hpo(3), hpo(4));
    assert_eq!(
        positions(&records),
        [
            ("subject", "SubjectData GEMJ-TEST-0002"),
            ("consent", "SubjectData GEMJ-TEST-0002, IG.DM"),
            ("diagnosis", "SubjectData GEMJ-TEST-0002, IG.RDDX"),
            ("phenotype", h1.as_str()),
            ("phenotype", h2.as_str()),
            ("phenotype", h3.as_str()),
            ("phenotype", h4.as_str()),
        ]
    );

    let RecordBody::Subject(s) = &records[0].body else {
        return Err("subject".into());
    };
    assert_eq!(s.sex, Some(Sex::Female));
    let birth = s.birth_date.ok_or("birth date")?;
    assert_eq!(birth.to_string(), "1989-01-07", "the last day of Shōwa");
    assert_eq!(s.program, Some(Program::RareDisease));
    assert_eq!(s.hospital_ids[0].patient, "9000000002");

    let RecordBody::Consent(c) = &records[1].body else {
        return Err("consent".into());
    };
    assert_eq!(c.action, ConsentAction::Given);
    assert_eq!(c.date.map(|d| d.to_string()).as_deref(), Some("2019-04-30"));

    let RecordBody::Diagnosis(dx) = &records[2].body else {
        return Err("diagnosis".into());
    };
    assert_eq!(dx.icd10.as_str(), "Q87.4");
    assert_eq!(dx.source_code, "Q87.4");
    let onset = dx.onset.ok_or("onset")?;
    assert_eq!(onset.to_string(), "2005");
    assert_eq!(onset.precision(), Precision::Year, "never 2005-01-01");
    assert_eq!(dx.recorded, None);

    let phenotypes: Vec<_> = records[3..]
        .iter()
        .map(|r| match &r.body {
            RecordBody::Phenotype(p) => Some((p.hpo.as_str(), p.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        phenotypes,
        [
            Some(("HP:0001166", PhenotypeStatus::Observed)),
            Some(("HP:0001083", PhenotypeStatus::Observed)),
            Some(("HP:0002616", PhenotypeStatus::Observed)),
            Some(("HP:0001250", PhenotypeStatus::Excluded)),
        ]
    );
    Ok(())
}

#[test]
fn without_an_institution_code_the_linkage_is_not_recorded() -> Result<(), Box<dyn Error>> {
    let options = OdmOptions {
        institution: None,
        ..options()?
    };
    let extract = read(options)?;
    for r in &extract.records {
        if let RecordBody::Subject(s) = &r.body {
            assert!(s.hospital_ids.is_empty());
        }
    }
    let diagnostics: Vec<_> = extract
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.severity,
                d.position.as_deref().unwrap_or(""),
                d.field.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        diagnostics,
        [
            (
                Severity::Warning,
                "SubjectData GEMJ-TEST-0001, IG.DM",
                "I.HOSPID"
            ),
            (
                Severity::Warning,
                "SubjectData GEMJ-TEST-0002, IG.DM",
                "I.HOSPID"
            ),
        ]
    );
    Ok(())
}

#[test]
fn the_japanese_code_list_decodes_are_read() -> Result<(), Box<dyn Error>> {
    // Without the coded-value table, sex is read through CL.SEX's decodes (男性, 女性).
    let mut options = options()?;
    options.mapping.sex_codes.clear();
    let extract = read(options)?;
    let sexes: Vec<_> = extract
        .records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Subject(s) => s.sex,
            _ => None,
        })
        .collect();
    assert_eq!(sexes, [Sex::Male, Sex::Female]);
    Ok(())
}

#[test]
fn another_study_maps_its_own_oids() -> Result<(), Box<dyn Error>> {
    let mapping: OdmMapping = serde_json::from_str(
        r#"{"rare_disease_onset": "", "hpo_excluded": "", "cancer_form": "F.NONE"}"#,
    )?;
    let extract = read(OdmOptions {
        mapping,
        ..options()?
    })?;
    let records = of(&extract, "GEMJ-TEST-0002")?;
    let RecordBody::Diagnosis(dx) = &records[2].body else {
        return Err("diagnosis".into());
    };
    assert_eq!(dx.onset, None, "an unmapped item is not read");
    let excluded = records.iter().any(
        |r| matches!(&r.body, RecordBody::Phenotype(p) if p.status == PhenotypeStatus::Excluded),
    );
    assert!(!excluded);
    let RecordBody::Subject(s) = &of(&extract, "GEMJ-TEST-0001")?[0].body else {
        return Err("subject".into());
    };
    assert_eq!(s.program, None);
    Ok(())
}
