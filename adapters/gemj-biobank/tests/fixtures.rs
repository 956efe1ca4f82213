//! The synthetic manifest shipped in `examples/adapters/biobank/sample-manifest-miabis.csv`, read
//! end to end: every canonical value of README §1 and §3 that the manifest carries.

use std::error::Error;

use gemj_biobank::{ManifestOptions, read_manifest};
use gemj_model::source::{ConsentAction, Extract, RecordBody, SubjectRef};
use gemj_model::{Coding, Precision, Quantity, Sex, SpecimenType};

const FILE: &str = "sample-manifest-miabis.csv";

/// The shipped manifest, read.
fn fixture() -> Result<Extract, Box<dyn Error>> {
    let path = gemj_schemas::testing::examples_dir()
        .join("adapters/biobank")
        .join(FILE);
    let bytes = std::fs::read(path)?;
    let options = ManifestOptions { file: FILE.into() };
    Ok(read_manifest(&bytes, &options)?)
}

/// One expected sample row of README §3.
struct Sample {
    id: &'static str,
    donor: &'static str,
    line: u64,
    specimen_type: SpecimenType,
    type_label: &'static str,
    parent: Option<&'static str>,
    collected: &'static str,
    raw_date: Option<&'static str>,
    temperature: &'static str,
    quantity: (&'static str, &'static str),
    collection: &'static str,
    site: Option<&'static str>,
    content: Option<&'static str>,
    conditions: &'static [&'static str],
}

fn expected() -> Vec<Sample> {
    const COLD: &str = "-60 \u{b0}C to -85 \u{b0}C";
    const COOL: &str = "-18 \u{b0}C to -35 \u{b0}C";
    const BOTH: &[&str] = &["Genetic data use", "Specific research use"];
    const GENETIC: &[&str] = &["Genetic data use"];
    vec![
        Sample {
            id: "SP-0001-T",
            donor: "GEMJ-TEST-0001",
            line: 2,
            specimen_type: SpecimenType::Tissue,
            type_label: "Tissue (fresh frozen)",
            parent: None,
            collected: "2024-03-15",
            raw_date: Some("R6.03.15"),
            temperature: COLD,
            quantity: ("0.2", "g"),
            collection: "JP-TEST-BB01:COLL-CANCER",
            site: Some("C16.9"),
            content: Some("C16.9"),
            conditions: BOTH,
        },
        Sample {
            id: "SP-0001-B",
            donor: "GEMJ-TEST-0001",
            line: 3,
            specimen_type: SpecimenType::WholeBlood,
            type_label: "Whole blood",
            parent: None,
            collected: "2024-03-15",
            raw_date: Some("2024/03/15"),
            temperature: COLD,
            quantity: ("7", "mL"),
            collection: "JP-TEST-BB01:COLL-CANCER",
            site: None,
            content: None,
            conditions: BOTH,
        },
        Sample {
            id: "SP-0001-B-DNA",
            donor: "GEMJ-TEST-0001",
            line: 4,
            specimen_type: SpecimenType::Dna,
            type_label: "DNA",
            parent: Some("SP-0001-B"),
            collected: "2024-03-18",
            raw_date: Some("令和6年3月18日"),
            temperature: COOL,
            quantity: ("50", "ug"),
            collection: "JP-TEST-BB01:COLL-CANCER",
            site: None,
            content: None,
            conditions: BOTH,
        },
        Sample {
            id: "SP-0002-B",
            donor: "GEMJ-TEST-0002",
            line: 5,
            specimen_type: SpecimenType::WholeBlood,
            type_label: "Whole blood",
            parent: None,
            collected: "2019-05-01",
            raw_date: Some("令和元年5月1日"),
            temperature: COLD,
            quantity: ("7", "mL"),
            collection: "JP-TEST-BB01:COLL-RARE",
            site: None,
            content: Some("Q87.4"),
            conditions: GENETIC,
        },
        Sample {
            id: "SP-0002-B-DNA",
            donor: "GEMJ-TEST-0002",
            line: 6,
            specimen_type: SpecimenType::Dna,
            type_label: "DNA",
            parent: Some("SP-0002-B"),
            collected: "2019-05-07",
            raw_date: Some("R1/5/7"),
            temperature: COOL,
            quantity: ("30", "ug"),
            collection: "JP-TEST-BB01:COLL-RARE",
            site: None,
            content: Some("Q87.4"),
            conditions: GENETIC,
        },
        Sample {
            id: "SP-0003-S",
            donor: "GEMJ-TEST-0003",
            line: 7,
            specimen_type: SpecimenType::Serum,
            type_label: "Serum",
            parent: None,
            collected: "2019-04-30",
            raw_date: Some("H31.04.30"),
            temperature: COLD,
            quantity: ("1.5", "mL"),
            collection: "JP-TEST-BB01:COLL-RARE",
            site: None,
            content: Some("Q87.4"),
            conditions: GENETIC,
        },
    ]
}

#[test]
fn reads_without_diagnostics() -> Result<(), Box<dyn Error>> {
    let extract = fixture()?;
    assert!(extract.diagnostics.is_empty(), "{:#?}", extract.diagnostics);
    assert!(extract.rejected.is_empty(), "{:#?}", extract.rejected);
    let kinds: Vec<_> = extract.records.iter().map(|r| r.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "subject", "specimen", "specimen", "specimen", // 0001
            "subject", "specimen", "specimen", // 0002
            "subject", "consent", "specimen", // 0003, withdrawn
        ]
    );
    Ok(())
}

#[test]
fn every_sample_of_readme_section_3() -> Result<(), Box<dyn Error>> {
    let extract = fixture()?;
    let samples: Vec<_> = extract
        .records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Specimen(s) => Some((r, s)),
            _ => None,
        })
        .collect();
    let expected = expected();
    assert_eq!(samples.len(), expected.len());
    for ((record, got), want) in samples.iter().zip(&expected) {
        let id = want.id;
        assert_eq!(got.id.as_str(), id);
        assert_eq!(
            record.subject,
            SubjectRef::Participant(want.donor.parse()?),
            "{id}"
        );
        assert_eq!(got.specimen_type, want.specimen_type, "{id}");
        assert_eq!(
            got.details.type_label.as_deref(),
            Some(want.type_label),
            "{id}"
        );
        assert_eq!(
            got.parent.as_ref().map(gemj_model::SpecimenId::as_str),
            want.parent,
            "{id}"
        );
        let collected = got.collected.ok_or("no creation date")?;
        assert_eq!(collected.to_string(), want.collected, "{id}");
        assert_eq!(collected.precision(), Precision::Day, "{id}");
        assert_eq!(got.tumour, None, "{id}");
        assert!(got.biobank_sample, "{id}");
        assert_eq!(
            got.details.storage_temperature.as_deref(),
            Some(want.temperature),
            "{id}"
        );
        assert_eq!(
            got.details.quantity,
            Some(Quantity {
                value: want.quantity.0.into(),
                unit: Some(want.quantity.1.into())
            }),
            "{id}"
        );
        assert_eq!(got.details.biobank.as_deref(), Some("JP-TEST-BB01"), "{id}");
        assert_eq!(
            got.details.collection.as_deref(),
            Some(want.collection),
            "{id}"
        );
        assert_eq!(
            got.details.anatomical_site,
            want.site
                .map(|c| Coding::new("http://terminology.hl7.org/CodeSystem/icd-o-3", c)),
            "{id}"
        );
        assert_eq!(
            got.details
                .content_diagnosis
                .as_ref()
                .map(gemj_model::Icd10Code::as_str),
            want.content,
            "{id}"
        );
        assert_eq!(got.details.use_conditions, want.conditions, "{id}");
        // Provenance: source, file, line, and the raw date as written.
        assert_eq!(record.provenance.source, "biobank");
        assert_eq!(record.provenance.file.as_deref(), Some(FILE));
        assert_eq!(
            record.provenance.position,
            Some(format!("line {}", want.line)),
            "{id}"
        );
        assert_eq!(record.provenance.value.as_deref(), want.raw_date, "{id}");
    }
    Ok(())
}

#[test]
fn donors_once_each_with_sex_and_era_birth_dates() -> Result<(), Box<dyn Error>> {
    let extract = fixture()?;
    let donors: Vec<_> = extract
        .records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Subject(s) => Some((r, s)),
            _ => None,
        })
        .collect();
    let expected = [
        ("GEMJ-TEST-0001", Sex::Male, "1975-04-01", "S50.04.01", 2),
        ("GEMJ-TEST-0002", Sex::Female, "1989-01-07", "S64.01.07", 5),
        ("GEMJ-TEST-0003", Sex::Male, "2001-02-03", "H13.02.03", 7),
    ];
    assert_eq!(donors.len(), expected.len());
    for ((record, facts), (id, sex, birth, raw, line)) in donors.iter().zip(expected) {
        assert_eq!(record.subject, SubjectRef::Participant(id.parse()?));
        assert_eq!(
            facts
                .participant
                .as_ref()
                .map(gemj_model::ParticipantId::as_str),
            Some(id)
        );
        assert_eq!(facts.sex, Some(sex), "{id}");
        let birth_date = facts.birth_date.ok_or("no birth date")?;
        assert_eq!(birth_date.to_string(), birth, "{id}");
        assert_eq!(birth_date.precision(), Precision::Day, "{id}");
        assert!(facts.hospital_ids.is_empty(), "{id}");
        assert_eq!(facts.program, None, "{id}");
        assert_eq!(record.provenance.value.as_deref(), Some(raw), "{id}");
        assert_eq!(record.provenance.position, Some(format!("line {line}")));
    }
    Ok(())
}

#[test]
fn subject_0003_withdrawn_but_its_sample_is_still_a_fact() -> Result<(), Box<dyn Error>> {
    let extract = fixture()?;
    let subject = SubjectRef::Participant("GEMJ-TEST-0003".parse()?);
    let consents: Vec<_> = extract
        .records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Consent(c) => Some((r, c)),
            _ => None,
        })
        .collect();
    assert_eq!(consents.len(), 1, "only 0003 has a consent fact");
    let (record, consent) = consents[0];
    assert_eq!(record.subject, subject);
    assert_eq!(consent.action, ConsentAction::Withdrawn);
    assert_eq!(consent.date, None);
    assert_eq!(record.provenance.position.as_deref(), Some("line 7"));
    let serum = extract.records.iter().any(|r| {
        r.subject == subject
            && matches!(&r.body, RecordBody::Specimen(s) if s.id.as_str() == "SP-0003-S")
    });
    assert!(serum, "SP-0003-S is emitted; the gateway quarantines it");
    Ok(())
}
