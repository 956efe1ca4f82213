//! The synthetic FHIR fixture shipped in `examples/adapters/fhir/ehr-transaction-bundle.json`
//! against its canonical meaning (README §1–§3, §8), and the real R4 JSON schema (shipped with the
//! project) against valid and broken bundles.

use std::error::Error;
use std::sync::OnceLock;
use std::time::Instant;

use gemj_fhir_import::{BundleValidator, FhirImportError, read_bundle};
use gemj_model::source::{
    ConsentAction, Extract, NameRepresentation, RecordBody, Severity, SubjectRef,
};
use gemj_model::{Precision, SpecimenType};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn Error>>;

const FIXTURE: &str = "adapters/fhir/ehr-transaction-bundle.json";

struct Shared {
    fixture: Vec<u8>,
    validator: BundleValidator,
}

/// The fixture and one compiled validator for every test of this binary.
fn shared() -> Result<&'static Shared, Box<dyn Error>> {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        let load = || -> Result<Shared, Box<dyn Error>> {
            let schemas = gemj_schemas::testing::schemas();
            let fixture = std::fs::read(gemj_schemas::testing::examples_dir().join(FIXTURE))?;
            let started = Instant::now();
            let validator = BundleValidator::new(&schemas)?;
            eprintln!("compiled #/definitions/Bundle in {:?}", started.elapsed());
            Ok(Shared { fixture, validator })
        };
        load().map_err(|e| e.to_string())
    });
    shared.as_ref().map_err(|e| e.clone().into())
}

fn fixture_json(shared: &Shared) -> Result<Value, Box<dyn Error>> {
    Ok(serde_json::from_slice(&shared.fixture)?)
}

fn schema_errors(result: Result<Extract, FhirImportError>) -> Result<Vec<String>, Box<dyn Error>> {
    match result {
        Err(FhirImportError::Invalid { errors, .. }) => Ok(errors),
        other => Err(format!("expected schema errors, got {other:?}").into()),
    }
}

#[test]
fn fixture_has_its_canonical_meaning() -> TestResult {
    let shared = shared()?;
    let extract = read_bundle(
        &shared.fixture,
        "ehr-transaction-bundle.json",
        Some(&shared.validator),
    )?;
    assert!(extract.rejected.is_empty(), "{:?}", extract.rejected);
    assert!(extract.diagnostics.is_empty(), "{:?}", extract.diagnostics);
    assert_eq!(extract.records.len(), 5);
    for (n, record) in extract.records.iter().enumerate() {
        // Every record names subject 0001 by its GeMJ id.
        assert!(
            matches!(&record.subject, SubjectRef::Participant(id) if id.as_str() == "GEMJ-TEST-0001")
        );
        assert_eq!(record.provenance.source, "fhir");
        assert_eq!(
            record.provenance.file.as_deref(),
            Some("ehr-transaction-bundle.json")
        );
        assert!(
            record
                .provenance
                .position
                .as_deref()
                .is_some_and(|p| p.starts_with(&format!("entry {n} (")))
        );
    }

    // 1. Patient, conditional create.
    let patient = &extract.records[0];
    assert_eq!(
        patient.provenance.position.as_deref(),
        Some("entry 0 (Patient, conditional create)")
    );
    let RecordBody::Subject(subject) = &patient.body else {
        return Err("entry 0 is not a subject".into());
    };
    assert_eq!(
        subject
            .participant
            .as_ref()
            .map(gemj_model::ParticipantId::as_str),
        Some("GEMJ-TEST-0001")
    );
    assert_eq!(subject.hospital_ids.len(), 1);
    assert_eq!(subject.hospital_ids[0].institution.as_str(), "9999999999");
    assert_eq!(subject.hospital_ids[0].patient, "9000000001");
    assert_eq!(
        subject.hospital_ids[0].system(),
        "urn:oid:1.2.392.100495.20.3.51.19999999999"
    );
    assert_eq!(subject.sex, Some(gemj_model::Sex::Male));
    let birth = subject.birth_date.ok_or("no birth date")?;
    assert_eq!(birth.to_string(), "1975-04-01");
    assert_eq!(birth.precision(), Precision::Day);
    let names = &subject.identifying.names;
    assert_eq!(names.len(), 2);
    assert_eq!(
        (names[0].family.as_str(), names[0].given.as_str()),
        ("試験", "太郎")
    );
    assert_eq!(
        names[0].representation,
        Some(NameRepresentation::Ideographic)
    );
    assert_eq!(
        (names[1].family.as_str(), names[1].given.as_str()),
        ("シケン", "タロウ")
    );
    assert_eq!(names[1].representation, Some(NameRepresentation::Syllabic));
    assert_eq!(
        subject.identifying.address.as_deref(),
        Some("東京都千代田区試験町１−２−３")
    );
    assert_eq!(subject.identifying.postal_code.as_deref(), Some("100-0001"));

    // 2. Condition: C16.9 from the JP Core spelling C169, with MEDIS 20054178.
    let condition = &extract.records[1];
    assert_eq!(
        condition.provenance.position.as_deref(),
        Some("entry 1 (Condition)")
    );
    assert_eq!(condition.provenance.value.as_deref(), Some("C169"));
    let RecordBody::Diagnosis(diagnosis) = &condition.body else {
        return Err("entry 1 is not a diagnosis".into());
    };
    assert_eq!(diagnosis.icd10.as_str(), "C16.9");
    assert_eq!(diagnosis.source_code, "C169");
    assert_eq!(
        diagnosis.source_system.as_deref(),
        Some("http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full")
    );
    assert_eq!(
        diagnosis.onset.map(|d| d.to_string()).as_deref(),
        Some("2024-02-15")
    );
    assert_eq!(
        diagnosis.recorded.map(|d| d.to_string()).as_deref(),
        Some("2024-02-20")
    );
    assert_eq!(diagnosis.details.codings.len(), 1);
    let medis = &diagnosis.details.codings[0];
    assert_eq!(
        medis.system,
        "http://medis.or.jp/CodeSystem/master-disease-keyNumber"
    );
    assert_eq!(medis.code, "20054178");
    assert_eq!(medis.display.as_deref(), Some("胃癌"));
    assert_eq!(diagnosis.details.label.as_deref(), Some("胃癌"));
    assert_eq!(diagnosis.details.clinical_status.as_deref(), Some("active"));
    assert_eq!(
        diagnosis.details.verification_status.as_deref(),
        Some("confirmed")
    );

    // 3. and 4. Specimens.
    let RecordBody::Specimen(tumour) = &extract.records[2].body else {
        return Err("entry 2 is not a specimen".into());
    };
    assert_eq!(tumour.id.as_str(), "SP-0001-T");
    assert_eq!(tumour.specimen_type, SpecimenType::Tissue);
    assert!(tumour.biobank_sample);
    assert_eq!(tumour.parent, None);
    assert_eq!(
        tumour.collected.map(|d| d.to_string()).as_deref(),
        Some("2024-03-15")
    );
    assert_eq!(
        tumour.details.collected_at.as_deref(),
        Some("2024-03-15T10:30:00+09:00")
    );
    assert_eq!(
        tumour.details.type_label.as_deref(),
        Some("腫瘍組織（凍結）")
    );
    assert_eq!(tumour.details.type_codings.len(), 1);
    assert_eq!(tumour.details.type_codings[0].code, "TISS");
    let site = tumour
        .details
        .anatomical_site
        .as_ref()
        .ok_or("no body site")?;
    assert_eq!(site.system, "http://terminology.hl7.org/CodeSystem/icd-o-3");
    assert_eq!(site.code, "C16.9");
    assert_eq!(tumour.details.status.as_deref(), Some("available"));

    let RecordBody::Specimen(blood) = &extract.records[3].body else {
        return Err("entry 3 is not a specimen".into());
    };
    assert_eq!(blood.id.as_str(), "SP-0001-B");
    assert_eq!(blood.specimen_type, SpecimenType::WholeBlood);
    assert_eq!(
        blood.collected.map(|d| d.to_string()).as_deref(),
        Some("2024-03-15")
    );
    assert_eq!(
        blood.details.collected_at.as_deref(),
        Some("2024-03-15T09:00:00+09:00")
    );
    assert!(blood.biobank_sample);

    // 5. Consent.
    let RecordBody::Consent(consent) = &extract.records[4].body else {
        return Err("entry 4 is not a consent".into());
    };
    assert_eq!(consent.action, ConsentAction::Given);
    assert_eq!(
        consent.date.map(|d| d.to_string()).as_deref(),
        Some("2024-03-01")
    );
    assert_eq!(
        consent.purposes,
        [
            "HRESCH",
            "http://gemj.example.jp/policy/wgs-research-consent-v1"
        ]
    );
    Ok(())
}

#[test]
fn fixture_reads_the_same_without_a_validator() -> TestResult {
    let shared = shared()?;
    let validated = read_bundle(&shared.fixture, "f", Some(&shared.validator))?;
    let unvalidated = read_bundle(&shared.fixture, "f", None)?;
    assert_eq!(validated, unvalidated);
    Ok(())
}

#[test]
fn schema_timings() -> TestResult {
    let shared = shared()?;
    let started = Instant::now();
    let runs = 200;
    for _ in 0..runs {
        read_bundle(&shared.fixture, "f", Some(&shared.validator))?;
    }
    let with = started.elapsed() / runs;
    let started = Instant::now();
    for _ in 0..runs {
        read_bundle(&shared.fixture, "f", None)?;
    }
    let without = started.elapsed() / runs;
    eprintln!("fixture bundle: {with:?} per read with validation, {without:?} without");
    Ok(())
}

#[test]
fn wrong_json_type_is_named_with_its_path() -> TestResult {
    let shared = shared()?;
    let mut bundle = fixture_json(shared)?;
    bundle["entry"][0]["resource"]["birthDate"] = json!(12);
    let errors = schema_errors(read_bundle(
        &serde_json::to_vec(&bundle)?,
        "f",
        Some(&shared.validator),
    ))?;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/entry/0/resource/birthDate: ") && errors[0].contains("string"),
        "{errors:?}"
    );
    // The resource-level error of the Bundle schema quotes the whole Patient (names
    // included); it is replaced.
    assert!(errors.iter().all(|e| !e.contains("試験")), "{errors:?}");
    Ok(())
}

#[test]
fn unknown_elements_and_bad_values_fail_with_their_place() -> TestResult {
    let shared = shared()?;
    let mut bundle = fixture_json(shared)?;
    bundle["entry"][2]["resource"]["colour"] = json!("red");
    bundle["entry"][1]["resource"]["onsetDateTime"] = json!("2024-02-30T25:00:00");
    bundle["entry"][4]["request"]["method"] = json!("POSTX");
    let errors = schema_errors(read_bundle(
        &serde_json::to_vec(&bundle)?,
        "f",
        Some(&shared.validator),
    ))?;
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/entry/2/resource: ") && e.contains("colour")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/entry/1/resource/onsetDateTime: ")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/entry/4/request/method: ")),
        "{errors:?}"
    );
    Ok(())
}

#[test]
fn other_resource_types_are_named_without_their_content() -> TestResult {
    let shared = shared()?;
    let mut bundle = fixture_json(shared)?;
    let entries = bundle["entry"].as_array_mut().ok_or("no entries")?;
    entries.push(json!({
        "resource": {"resourceType": "AllergyIntolerance", "patient": {"reference": "urn:uuid:x"},
                     "note": [{"text": "試験 太郎 secret"}], "bogus": true},
        "request": {"method": "POST", "url": "AllergyIntolerance"}
    }));
    entries.push(json!({"resource": {"resourceType": "NoSuchThing"}, "request": {"method": "POST", "url": "NoSuchThing"}}));
    let errors = schema_errors(read_bundle(
        &serde_json::to_vec(&bundle)?,
        "f",
        Some(&shared.validator),
    ))?;
    assert_eq!(
        errors,
        [
            "/entry/5/resource: not a valid FHIR R4 resource of type \"AllergyIntolerance\" \
             (validate it against #/definitions/AllergyIntolerance of the R4 JSON schema for details)",
            "/entry/6/resource: not a valid FHIR R4 resource of type \"NoSuchThing\" \
             (validate it against #/definitions/NoSuchThing of the R4 JSON schema for details)",
        ]
    );
    Ok(())
}

#[test]
fn not_json_and_not_transactions_are_refused() -> TestResult {
    let shared = shared()?;
    let truncated = &shared.fixture[..shared.fixture.len() / 2];
    assert!(matches!(
        read_bundle(truncated, "f", Some(&shared.validator)),
        Err(FhirImportError::Json { .. })
    ));
    let mut bundle = fixture_json(shared)?;
    bundle["type"] = json!("collection");
    for entry in bundle["entry"].as_array_mut().ok_or("no entries")? {
        if let Some(entry) = entry.as_object_mut() {
            entry.remove("request");
        }
    }
    let result = read_bundle(&serde_json::to_vec(&bundle)?, "f", Some(&shared.validator));
    assert!(
        matches!(&result, Err(FhirImportError::BundleType { kind }) if kind == "collection"),
        "{result:?}"
    );
    let patient = serde_json::to_vec(&bundle["entry"][0]["resource"])?;
    let errors = schema_errors(read_bundle(&patient, "f", Some(&shared.validator)))?;
    assert!(
        errors.iter().any(|e| e.starts_with("/resourceType: ")),
        "{errors:?}"
    );
    Ok(())
}

#[test]
fn unresolvable_references_give_diagnostics() -> TestResult {
    let shared = shared()?;
    let mut bundle = fixture_json(shared)?;
    bundle["entry"][1]["resource"]["subject"]["reference"] = json!("Patient/999");
    bundle["entry"][2]["resource"]["subject"]["reference"] =
        json!("urn:uuid:00000000-0000-4000-8000-000000000000");
    bundle["entry"][3]["resource"]["parent"] = json!([{"reference": "Specimen/elsewhere"}]);
    let extract = read_bundle(&serde_json::to_vec(&bundle)?, "f", Some(&shared.validator))?;
    assert_eq!(extract.records.len(), 3, "{:?}", extract.rejected);
    assert_eq!(extract.rejected.len(), 2);
    assert_eq!(
        extract.rejected[0].provenance.position.as_deref(),
        Some("entry 1 (Condition)")
    );
    assert!(
        extract.rejected[0]
            .reason
            .contains("\"Patient/999\" is not an entry of this bundle")
    );
    assert_eq!(
        extract.rejected[1].provenance.position.as_deref(),
        Some("entry 2 (Specimen)")
    );
    let errors: Vec<_> = extract
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.position.as_deref(), d.field.as_deref()))
        .collect();
    assert_eq!(
        errors,
        [
            (Some("entry 1 (Condition)"), Some("Condition.subject")),
            (Some("entry 2 (Specimen)"), Some("Specimen.subject")),
        ]
    );
    let warnings: Vec<_> = extract
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.position.as_deref(), d.field.as_deref()))
        .collect();
    assert_eq!(
        warnings,
        [(Some("entry 3 (Specimen)"), Some("Specimen.parent"))]
    );
    Ok(())
}

#[test]
fn delete_entries_are_rejected() -> TestResult {
    let shared = shared()?;
    let mut bundle = fixture_json(shared)?;
    let entries = bundle["entry"].as_array_mut().ok_or("no entries")?;
    entries.push(json!({"request": {"method": "DELETE", "url": "Specimen/SP-0001-T"}}));
    entries[4] = json!({"request": {"method": "DELETE", "url": "Consent?patient=Patient/1"}});
    let extract = read_bundle(&serde_json::to_vec(&bundle)?, "f", Some(&shared.validator))?;
    assert_eq!(extract.records.len(), 4);
    let rejected: Vec<_> = extract
        .rejected
        .iter()
        .map(|r| r.provenance.position.as_deref())
        .collect();
    assert_eq!(
        rejected,
        [
            Some("entry 4 (Consent, DELETE)"),
            Some("entry 5 (Specimen, DELETE)")
        ]
    );
    assert!(extract.rejected.iter().all(|r| r.reason.contains("DELETE")));
    Ok(())
}
