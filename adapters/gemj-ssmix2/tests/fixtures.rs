//! The six synthetic SS-MIX2 files shipped in `examples/adapters`, read as the gateway reads them
//! (a plan over the tree, then each file's bytes), against every canonical value of
//! `examples/adapters/README.md` §1, §2 and §4 that SS-MIX2 carries.

use std::error::Error;
use std::path::{Path, PathBuf};

use gemj_model::source::{
    DiagnosisFacts, Extract, MeasurementFacts, NameRepresentation, RecordBody, Severity,
    SourceRecord, SubjectFacts, SubjectRef,
};
use gemj_model::{Coding, LabSpecimen, Precision, Sex};
use gemj_ssmix2::{Action, Plan, read_file};

type TestResult = Result<(), Box<dyn Error>>;

const ADT_0001: &str =
    "900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_1";
const PPR_0001: &str =
    "900/000/9000000001/-/PPR-01/9000000001_-_PPR-01_000000000000001_20240220101500000_01_1";
const OML_0001: &str = "900/000/9000000001/20240314/OML-11/9000000001_20240314_OML-11_000000000012345_20240314153000000_01_1";
const OML_0001_DELETED: &str = "900/000/9000000001/20240314/OML-11/9000000001_20240314_OML-11_000000000012346_20240314160000000_01_0";
const ADT_0002: &str =
    "900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1";
const PPR_0002: &str =
    "900/000/9000000002/-/PPR-01/9000000002_-_PPR-01_000000000000002_20190501100000000_01_1";

/// Files of a tree: relative paths (with `/`) and bytes.
type Files = Vec<(String, Vec<u8>)>;

/// The fixture tree shipped in `examples/adapters`, sorted by path.
fn tree() -> Result<Files, Box<dyn Error>> {
    let root = gemj_schemas::testing::examples_dir().join("adapters/ssmix2/standard_root");
    let mut files = Vec::new();
    walk(&root, &root, &mut files)?;
    files.sort();
    Ok(files)
}

fn walk(root: &Path, dir: &Path, out: &mut Files) -> TestResult {
    for entry in std::fs::read_dir(dir)? {
        let path: PathBuf = entry?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else {
            let relative = path.strip_prefix(root)?;
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((parts.join("/"), std::fs::read(&path)?));
        }
    }
    Ok(())
}

fn bytes_of<'t>(files: &'t [(String, Vec<u8>)], path: &str) -> Result<&'t [u8], Box<dyn Error>> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, b)| b.as_slice())
        .ok_or_else(|| format!("fixture {path} missing").into())
}

/// The extract of one fixture file, read as the plan says.
fn extract_of(path: &str) -> Result<Extract, Box<dyn Error>> {
    let files = tree()?;
    let plan = Plan::new(files.iter().map(|(p, _)| p.clone()));
    let planned = plan
        .files()
        .iter()
        .find(|f| f.path() == path)
        .ok_or("path not planned")?;
    Ok(planned.extract(bytes_of(&files, path)?))
}

fn hospital(record: &SourceRecord) -> (&str, &str) {
    match &record.subject {
        SubjectRef::Hospital(h) => (h.institution.as_str(), h.patient.as_str()),
        SubjectRef::Participant(p) => ("participant", p.as_str()),
    }
}

fn subject_facts(extract: &Extract) -> Result<&SubjectFacts, Box<dyn Error>> {
    let mut facts = extract.records.iter().filter_map(|r| match &r.body {
        RecordBody::Subject(s) => Some(s),
        _ => None,
    });
    let first = facts.next().ok_or("no subject record")?;
    assert!(facts.next().is_none(), "one subject record expected");
    Ok(first)
}

fn measurements(extract: &Extract) -> Vec<(&SourceRecord, &MeasurementFacts)> {
    extract
        .records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Measurement(m) => Some((r, m)),
            _ => None,
        })
        .collect()
}

fn diagnoses(extract: &Extract) -> Vec<(&SourceRecord, &DiagnosisFacts)> {
    extract
        .records
        .iter()
        .filter_map(|r| match &r.body {
            RecordBody::Diagnosis(d) => Some((r, d)),
            _ => None,
        })
        .collect()
}

fn errors(extract: &Extract) -> Vec<String> {
    extract
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{d:?}"))
        .collect()
}

/// The warnings, as `(field, message)`.
fn warnings(extract: &Extract) -> Vec<(Option<&str>, &str)> {
    extract
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.field.as_deref(), d.message.as_str()))
        .collect()
}

#[test]
fn plan_reads_five_files_and_deletes_one_order() -> TestResult {
    let files = tree()?;
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    let mut expected = vec![
        ADT_0001,
        PPR_0001,
        OML_0001,
        OML_0001_DELETED,
        ADT_0002,
        PPR_0002,
    ];
    expected.sort_unstable();
    assert_eq!(paths, expected);
    let plan = Plan::new(paths.iter().copied());
    for file in plan.files() {
        let expect = if file.path() == OML_0001_DELETED {
            Action::Delete
        } else {
            Action::Read
        };
        assert_eq!(file.action(), &expect, "{}", file.path());
    }
    assert_eq!(plan.paths_to_load().count(), 6);
    Ok(())
}

#[test]
fn subject_0001_demographics() -> TestResult {
    let extract = extract_of(ADT_0001)?;
    assert_eq!(errors(&extract), Vec::<String>::new());
    // ISO-2022-JP as declared: the only caveat is the visit segment that is not mapped.
    assert_eq!(warnings(&extract), [(None, "1 PV1 segment(s) not mapped")]);
    assert!(extract.rejected.is_empty());

    let subject = extract
        .records
        .iter()
        .find(|r| matches!(r.body, RecordBody::Subject(_)))
        .ok_or("no subject")?;
    assert_eq!(hospital(subject), ("9999999999", "9000000001"));
    assert_eq!(subject.provenance.source, "ssmix2");
    assert_eq!(subject.provenance.file.as_deref(), Some(ADT_0001));
    assert_eq!(subject.provenance.position.as_deref(), Some("PID"));

    let facts = subject_facts(&extract)?;
    assert_eq!(
        facts.participant, None,
        "the adapter never invents a GeMJ id"
    );
    assert_eq!(facts.hospital_ids.len(), 1);
    assert_eq!(facts.hospital_ids[0].patient, "9000000001");
    assert_eq!(
        facts.hospital_ids[0].system(),
        "urn:oid:1.2.392.100495.20.3.51.19999999999"
    );
    assert_eq!(facts.sex, Some(Sex::Male));
    let birth = facts.birth_date.ok_or("no birth date")?;
    assert_eq!(birth.to_string(), "1975-04-01");
    assert_eq!(birth.precision(), Precision::Day);

    let names: Vec<_> = facts
        .identifying
        .names
        .iter()
        .map(|n| (n.family.as_str(), n.given.as_str(), n.representation))
        .collect();
    assert_eq!(
        names,
        [
            ("試験", "太郎", Some(NameRepresentation::Ideographic)),
            ("シケン", "タロウ", Some(NameRepresentation::Syllabic)),
        ]
    );
    let address = facts.identifying.address.as_deref().ok_or("no address")?;
    assert_eq!(address, "東京都千代田区試験町１－２－３");
    assert_eq!(
        address.matches('\u{FF0D}').count(),
        2,
        "JIS 0x215D is U+FF0D"
    );
    assert!(!address.contains('\u{2212}'));
    assert_eq!(facts.identifying.postal_code.as_deref(), Some("100-0001"));
    assert_eq!(facts.identifying.phone.as_deref(), Some("03-0000-0000"));
    Ok(())
}

#[test]
fn body_measurements_0001() -> TestResult {
    let extract = extract_of(ADT_0001)?;
    let found: Vec<_> = measurements(&extract)
        .into_iter()
        .map(|(r, m)| {
            (
                hospital(r),
                r.provenance.position.as_deref(),
                m.code.clone(),
                m.value.value.as_str(),
                m.value.unit.as_deref(),
                m.value_type.as_str(),
                m.effective.as_deref(),
                m.status.as_deref(),
                m.lab_specimen.is_some(),
            )
        })
        .collect();
    let patient = ("9999999999", "9000000001");
    // OBX-14 is empty: the time is EVN-2, in JST.
    let at = Some("2024-03-01T09:00:00+09:00");
    assert_eq!(
        found,
        [
            (
                patient,
                Some("OBX[1]"),
                Coding::new("JC10", "9N001000000000001").with_display("身長"),
                "170.2",
                Some("cm"),
                "NM",
                at,
                Some("F"),
                false
            ),
            (
                patient,
                Some("OBX[2]"),
                Coding::new("JC10", "9N006000000000001").with_display("体重"),
                "61.0",
                Some("kg"),
                "NM",
                at,
                Some("F"),
                false
            ),
        ]
    );
    Ok(())
}

#[test]
fn subject_0002_cp932_and_half_width_kana() -> TestResult {
    let extract = extract_of(ADT_0002)?;
    assert_eq!(errors(&extract), Vec::<String>::new());
    let warned = warnings(&extract);
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert_eq!(warned[0].0, Some("MSH-18"));
    assert!(warned[0].1.contains("ISO IR87") && warned[0].1.contains("CP932"));
    assert_eq!(warned[1], (None, "1 PV1 segment(s) not mapped"));

    let subject = &extract.records[0];
    assert_eq!(hospital(subject), ("9999999999", "9000000002"));
    let facts = subject_facts(&extract)?;
    assert_eq!(facts.sex, Some(Sex::Female));
    let birth = facts.birth_date.ok_or("no birth date")?;
    assert_eq!(
        (birth.to_string().as_str(), birth.precision()),
        ("1989-01-07", Precision::Day)
    );
    let names: Vec<_> = facts
        .identifying
        .names
        .iter()
        .map(|n| (n.family.as_str(), n.given.as_str(), n.representation))
        .collect();
    assert_eq!(
        names,
        [
            ("見本", "花子", Some(NameRepresentation::Ideographic)),
            // Written ﾐﾎﾝ^ﾊﾅｺ in half-width kana.
            ("ミホン", "ハナコ", Some(NameRepresentation::Syllabic)),
        ]
    );
    let address = facts.identifying.address.as_deref().ok_or("no address")?;
    assert_eq!(address, "東京都千代田区見本町４－５－６ ①号室");
    assert_eq!(address.matches('\u{FF0D}').count(), 2);
    assert!(address.contains('\u{2460}'), "① (CP932 0x8740)");
    assert_eq!(facts.identifying.postal_code.as_deref(), Some("100-0002"));
    assert_eq!(facts.identifying.phone, None);
    assert!(measurements(&extract).is_empty());
    Ok(())
}

#[test]
fn diagnosis_0001_stomach_cancer() -> TestResult {
    let extract = extract_of(PPR_0001)?;
    assert_eq!(errors(&extract), Vec::<String>::new());
    assert_eq!(warnings(&extract), [(None, "1 ORC segment(s) not mapped")]);
    let found = diagnoses(&extract);
    assert_eq!(found.len(), 1);
    assert_eq!(extract.records.len(), 1, "a PPR-01 holds diagnoses only");
    let (record, d) = found[0];
    assert_eq!(hospital(record), ("9999999999", "9000000001"));
    assert_eq!(record.provenance.position.as_deref(), Some("PRB[1]"));
    assert_eq!(record.provenance.value.as_deref(), Some("C169"));
    assert_eq!(record.provenance.file.as_deref(), Some(PPR_0001));
    assert_eq!(d.icd10.as_str(), "C16.9");
    assert_eq!(d.source_code, "C169");
    assert_eq!(d.source_system.as_deref(), Some("I10"));
    let onset = d.onset.ok_or("no onset")?;
    assert_eq!(
        (onset.to_string().as_str(), onset.precision()),
        ("2024-02-15", Precision::Day)
    );
    let recorded = d.recorded.ok_or("no recorded date")?;
    assert_eq!(recorded.to_string(), "2024-02-20");
    assert_eq!(
        d.details.codings,
        [Coding::new("MDCDX2", "20054178").with_display("胃癌")]
    );
    assert_eq!(d.details.label.as_deref(), Some("胃癌"));
    assert_eq!(d.details.main, Some(true));
    assert_eq!(d.details.stage, None);
    Ok(())
}

#[test]
fn diagnosis_0002_marfan_with_year_onset() -> TestResult {
    let extract = extract_of(PPR_0002)?;
    assert_eq!(errors(&extract), Vec::<String>::new());
    assert!(warnings(&extract).is_empty(), "{:?}", warnings(&extract));
    let found = diagnoses(&extract);
    assert_eq!(found.len(), 1);
    let (record, d) = found[0];
    assert_eq!(hospital(record), ("9999999999", "9000000002"));
    assert_eq!(record.provenance.value.as_deref(), Some("Q874"));
    assert_eq!(d.icd10.as_str(), "Q87.4");
    assert_eq!(d.source_code, "Q874");
    assert_eq!(d.source_system.as_deref(), Some("I10"));
    let onset = d.onset.ok_or("no onset")?;
    assert_eq!(onset.to_string(), "2005");
    assert_eq!(onset.precision(), Precision::Year, "never 2005-01-01");
    assert_eq!(onset.first_day().to_string(), "2005-01-01");
    assert_eq!(onset.last_day().to_string(), "2005-12-31");
    assert_eq!(
        d.recorded.map(|r| r.to_string()).as_deref(),
        Some("2019-05-01")
    );
    assert_eq!(
        d.details.codings,
        [Coding::new("99Z03", "L-0001").with_display("マルファン症候群")]
    );
    assert_eq!(d.details.label.as_deref(), Some("マルファン症候群"));
    assert_eq!(d.details.main, Some(true));
    Ok(())
}

#[test]
fn labs_0001() -> TestResult {
    let extract = extract_of(OML_0001)?;
    assert_eq!(errors(&extract), Vec::<String>::new());
    assert_eq!(warnings(&extract), [(None, "1 PV1 segment(s) not mapped")]);
    assert!(extract.rejected.is_empty());
    let serum = LabSpecimen {
        id: "LS-0001".to_owned(),
        material: Some(Coding::new("JC10", "023").with_display("血清")),
    };
    let found: Vec<_> = measurements(&extract)
        .into_iter()
        .map(|(r, m)| {
            (
                hospital(r),
                r.provenance.position.as_deref(),
                m.code.clone(),
                m.value.value.as_str(),
                m.value.unit.as_deref(),
                m.reference_range.as_deref(),
                m.interpretation.as_deref(),
                m.effective.as_deref(),
                m.status.as_deref(),
                m.order.as_deref(),
                m.lab_specimen.clone(),
            )
        })
        .collect();
    let patient = ("9999999999", "9000000001");
    let at = Some("2024-03-14T09:00:00+09:00");
    let order = Some("000000000012345");
    assert_eq!(
        found,
        [
            (
                patient,
                Some("OBX[1]"),
                Coding::new("JC10", "3A015000002327101").with_display("アルブミン"),
                "3.2",
                Some("g/dL"),
                Some("3.7-5.5"),
                Some("L"),
                at,
                Some("F"),
                order,
                Some(serum.clone()),
            ),
            (
                patient,
                Some("OBX[2]"),
                Coding::new("JC10", "3A010000002327101").with_display("総蛋白"),
                "6.1",
                Some("g/dL"),
                Some("6.7-8.3"),
                Some("L"),
                at,
                Some("F"),
                order,
                Some(serum),
            ),
        ]
    );
    assert!(
        measurements(&extract)
            .iter()
            .all(|(_, m)| m.value_type == "NM")
    );
    Ok(())
}

#[test]
fn deleted_order_is_a_deletion_and_never_a_result() -> TestResult {
    let files = tree()?;
    let plan = Plan::new(files.iter().map(|(p, _)| p.clone()));
    let all = plan.extract_with(|path| {
        bytes_of(&files, path)
            .map(<[u8]>::to_vec)
            .map_err(|e| e.to_string())
    });

    let deletion = extract_of(OML_0001_DELETED)?;
    assert_eq!(deletion.records.len(), 1);
    assert!(deletion.rejected.is_empty());
    assert_eq!(errors(&deletion), Vec::<String>::new());
    let record = &deletion.records[0];
    assert_eq!(hospital(record), ("9999999999", "9000000001"));
    assert_eq!(record.provenance.file.as_deref(), Some(OML_0001_DELETED));
    let RecordBody::DeleteOrder(order) = &record.body else {
        return Err("not a deletion".into());
    };
    assert_eq!(order.order, "000000000012346");

    // CRP 9.99 mg/dL of the deleted order must not appear anywhere.
    let deletions = all
        .records
        .iter()
        .filter(|r| matches!(r.body, RecordBody::DeleteOrder(_)))
        .count();
    assert_eq!(deletions, 1);
    for (_, m) in measurements(&all) {
        assert_ne!(m.code.code, "5C070000002327101");
        assert_ne!(m.value.value, "9.99");
        assert_ne!(m.order.as_deref(), Some("000000000012346"));
        assert_ne!(
            m.lab_specimen.as_ref().map(|s| s.id.as_str()),
            Some("LS-0002")
        );
    }
    let text = format!("{all:?}");
    for absent in ["CRP", "9.99", "5C070000002327101", "LS-0002", "0.00-0.14"] {
        assert!(!text.contains(absent), "{absent} leaked into the extract");
    }
    Ok(())
}

#[test]
fn whole_tree() -> TestResult {
    let files = tree()?;
    let plan = Plan::new(files.iter().map(|(p, _)| p.clone()));
    let all = plan.extract_with(|path| {
        bytes_of(&files, path)
            .map(<[u8]>::to_vec)
            .map_err(|e| e.to_string())
    });
    assert_eq!(errors(&all), Vec::<String>::new());
    assert!(all.rejected.is_empty(), "{:?}", all.rejected);
    let kinds: Vec<&str> = all.records.iter().map(|r| r.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "subject",
            "measurement",
            "measurement",
            "diagnosis",
            "measurement",
            "measurement",
            "delete_order",
            "subject",
            "diagnosis"
        ]
    );
    for record in &all.records {
        assert_eq!(record.provenance.source, "ssmix2");
        assert!(matches!(record.subject, SubjectRef::Hospital(_)));
        let file = record.provenance.file.as_deref().ok_or("no file")?;
        assert!(files.iter().any(|(p, _)| p == file));
    }
    // LS-0001 is a routine-lab specimen: on its results, never a specimen record.
    assert!(
        !all.records
            .iter()
            .any(|r| matches!(r.body, RecordBody::Specimen(_)))
    );
    let with_ls = measurements(&all)
        .iter()
        .filter(|(_, m)| m.lab_specimen.as_ref().is_some_and(|s| s.id == "LS-0001"))
        .count();
    assert_eq!(with_ls, 2);
    Ok(())
}

#[test]
fn read_file_alone_agrees_with_the_plan() -> TestResult {
    let files = tree()?;
    let plan = Plan::new(files.iter().map(|(p, _)| p.clone()));
    for (file, (path, bytes)) in plan.files().iter().zip(&files) {
        assert_eq!(read_file(path, bytes), file.extract(bytes), "{path}");
    }
    Ok(())
}

#[test]
fn pid_must_match_the_file_name() -> TestResult {
    let files = tree()?;
    // The 0001 demographics stored under patient 9000000003.
    let moved =
        "900/000/9000000003/-/ADT-00/9000000003_-_ADT-00_000000000000000_20240301090000000_-_1";
    let extract = read_file(moved, bytes_of(&files, ADT_0001)?);
    assert!(extract.records.is_empty());
    assert_eq!(extract.rejected.len(), 1);
    assert_eq!(
        extract.rejected[0].provenance.position.as_deref(),
        Some("PID")
    );
    let errs: Vec<_> = extract
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field.as_deref(), Some("PID-3"));
    Ok(())
}

#[test]
fn wrong_kind_directory_is_rejected() -> TestResult {
    let files = tree()?;
    // A lab result stored as if it were a diagnosis file.
    let moved =
        "900/000/9000000001/-/PPR-01/9000000001_-_PPR-01_000000000012345_20240314153000000_01_1";
    let extract = read_file(moved, bytes_of(&files, OML_0001)?);
    assert!(extract.records.is_empty());
    assert_eq!(extract.rejected.len(), 1);
    assert_eq!(errors(&extract).len(), 1);
    Ok(())
}
