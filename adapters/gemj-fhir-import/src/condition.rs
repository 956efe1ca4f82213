//! `Condition` → [`DiagnosisFacts`]: the ICD-10 code in its canonical dotted form with the
//! source spelling kept, other codes (MEDIS 病名管理番号, local codes), the label, onset and
//! recorded dates with their precision, clinical and verification status, stage.

use gemj_model::source::{DiagnosisFacts, RecordBody};
use gemj_model::{DiagnosisDetails, Icd10Code, PartialDate};

use crate::bundle::{Index, MapResult, Mapped, Reject, coding};
use crate::notes::{Notes, quote, text};
use crate::{datetime, wire};

/// JP Core's ICD-10 (2013) code system; codes are written without the dot (`C169`).
pub const JP_ICD10_SYSTEM: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full";

/// WHO ICD-10 as FHIR names it; codes are written with the dot (`C16.9`).
pub const ICD10_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10";

/// MEDIS standard disease-name master, 病名管理番号.
pub const MEDIS_DISEASE_SYSTEM: &str = "http://medis.or.jp/CodeSystem/master-disease-keyNumber";

/// Maps a Condition.
pub(crate) fn map(c: &wire::Condition, index: &Index, notes: &mut Notes<'_>) -> MapResult {
    let subject = index.subject_noted(c.subject.as_ref(), "Condition.subject", notes)?;
    let codings = c
        .code
        .as_ref()
        .map(|cc| cc.coding.as_slice())
        .unwrap_or(&[]);
    let mut icd10 = None;
    let mut others = Vec::new();
    for wire_coding in codings {
        let Some(model) = coding(wire_coding) else {
            continue;
        };
        let is_icd10 = model.system == JP_ICD10_SYSTEM || model.system == ICD10_SYSTEM;
        if is_icd10 && icd10.is_none() {
            match Icd10Code::parse(&model.code) {
                Ok(code) => {
                    icd10 = Some((code, model.code, model.system));
                    continue;
                }
                Err(_) => notes.error(
                    "Condition.code.coding",
                    format!("{} is not an ICD-10 code", quote(&model.code)),
                ),
            }
        }
        others.push(model);
    }
    let Some((icd10, source_code, source_system)) = icd10 else {
        return Err(Reject(format!(
            "no ICD-10 code: Condition.code has no valid coding in {JP_ICD10_SYSTEM} or \
             {ICD10_SYSTEM}"
        )));
    };

    let onset = onset(c, notes);
    let recorded = text(c.recorded_date.as_ref())
        .and_then(|d| datetime::date_noted("Condition.recordedDate", d, notes));
    let first_code = |cc: &Option<wire::CodeableConcept>| {
        cc.iter()
            .flat_map(|cc| &cc.coding)
            .find_map(|c| text(c.code.as_ref()))
            .map(str::to_owned)
    };
    let stage = c
        .stage
        .iter()
        .filter_map(|s| s.summary.as_ref())
        .find_map(|summary| {
            text(summary.text.as_ref())
                .or_else(|| summary.coding.iter().find_map(|c| text(c.display.as_ref())))
                .or_else(|| summary.coding.iter().find_map(|c| text(c.code.as_ref())))
        })
        .map(str::to_owned);
    let details = DiagnosisDetails {
        codings: others,
        label: c
            .code
            .as_ref()
            .and_then(|cc| text(cc.text.as_ref()))
            .map(str::to_owned),
        stage,
        main: None,
        clinical_status: first_code(&c.clinical_status),
        verification_status: first_code(&c.verification_status),
    };
    let source_value = (source_code != icd10.as_str()).then(|| source_code.clone());
    Ok(Mapped {
        subject,
        body: RecordBody::Diagnosis(DiagnosisFacts {
            icd10,
            source_code,
            source_system: Some(source_system),
            onset,
            recorded,
            details,
        }),
        source_value,
    })
}

/// `onsetDateTime`, else `onsetPeriod.start`, else `onsetString` when it is a date.
fn onset(c: &wire::Condition, notes: &mut Notes<'_>) -> Option<PartialDate> {
    if let Some(d) = text(c.onset_date_time.as_ref()) {
        return datetime::date_noted("Condition.onsetDateTime", d, notes);
    }
    if let Some(d) = c.onset_period.as_ref().and_then(|p| text(p.start.as_ref())) {
        return datetime::date_noted("Condition.onsetPeriod.start", d, notes);
    }
    if let Some(s) = text(c.onset_string.as_ref()) {
        let date = datetime::date_time(s.trim()).ok().map(|d| d.date);
        if date.is_none() {
            // Free text: never quoted.
            notes.warning(
                "Condition.onsetString",
                "the onset text is not a date; onset left out",
            );
        }
        return date;
    }
    if c.onset_age.is_some() || c.onset_range.is_some() {
        notes.warning(
            "Condition.onset[x]",
            "onsetAge and onsetRange are not dates; onset left out",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use gemj_model::Precision;
    use gemj_model::source::DiagnosisFacts;
    use serde_json::{Value, json};

    use super::*;
    use crate::test_support::{PATIENT_URL, messages, only, patient, post, read};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn condition(extra: Value) -> Value {
        let mut resource = json!({
            "resourceType": "Condition",
            "code": {"coding": [{"system": ICD10_SYSTEM, "code": "Q87.4"}]},
            "subject": {"reference": PATIENT_URL}
        });
        if let (Some(r), Some(extra)) = (resource.as_object_mut(), extra.as_object()) {
            r.extend(extra.clone());
        }
        post(resource)
    }

    fn diagnosis(
        extra: Value,
    ) -> Result<(DiagnosisFacts, Vec<String>), Box<dyn std::error::Error>> {
        let extract = read(json!([patient(), condition(extra)]))?;
        let bodies: Vec<_> = extract.records.iter().map(|r| &r.body).collect();
        match bodies.as_slice() {
            [_, RecordBody::Diagnosis(d)] => Ok((d.clone(), messages(&extract))),
            _ => Err(format!("unexpected {extract:?}").into()),
        }
    }

    fn onset(extra: Value) -> Result<Option<(String, Precision)>, Box<dyn std::error::Error>> {
        Ok(diagnosis(extra)?
            .0
            .onset
            .map(|d| (d.to_string(), d.precision())))
    }

    #[test]
    fn onset_keeps_its_precision() -> TestResult {
        let year = Some(("2005".to_owned(), Precision::Year));
        assert_eq!(onset(json!({"onsetDateTime": "2005"}))?, year);
        assert_eq!(
            onset(json!({"onsetDateTime": "2005-03-14T23:30:00-05:00"}))?,
            Some(("2005-03-14".to_owned(), Precision::Day))
        );
        assert_eq!(onset(json!({"onsetPeriod": {"start": "2005"}}))?, year);
        assert_eq!(
            onset(json!({"onsetString": "2005-03"}))?,
            Some(("2005-03".to_owned(), Precision::Month))
        );
        assert_eq!(onset(json!({}))?, None);
        Ok(())
    }

    #[test]
    fn onsets_that_are_not_dates_are_noted_without_their_text() -> TestResult {
        let (d, notes) = diagnosis(json!({"onsetString": "小学生の頃"}))?;
        assert_eq!(d.onset, None);
        assert_eq!(
            notes,
            [
                "entry 1 (Condition) Condition.onsetString: the onset text is not a date; onset left out"
            ]
        );
        let (_, notes) = diagnosis(json!({"onsetAge": {"value": 12, "unit": "a"}}))?;
        assert_eq!(notes.len(), 1);
        let (d, notes) = diagnosis(
            json!({"onsetDateTime": "2005-02-30", "recordedDate": "2019-05-01T10:00:00+09:00"}),
        )?;
        assert_eq!(d.onset, None);
        assert_eq!(
            d.recorded.map(|r| r.to_string()).as_deref(),
            Some("2019-05-01")
        );
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("Condition.onsetDateTime"));
        Ok(())
    }

    #[test]
    fn dotted_icd10_has_no_other_spelling() -> TestResult {
        let extract = read(json!([
            patient(),
            condition(json!({
                "stage": [{"summary": {"text": "III"}}],
                "code": {"coding": [
                    {"system": "http://example.org/local", "code": "L-0001", "display": "x"},
                    {"system": ICD10_SYSTEM, "code": "Q87.4"},
                    {"system": JP_ICD10_SYSTEM, "code": "Q874"}]}
            }))
        ]))?;
        let record = extract.records.get(1).ok_or("no diagnosis")?;
        assert_eq!(record.provenance.value, None);
        let RecordBody::Diagnosis(d) = &record.body else {
            return Err("not a diagnosis".into());
        };
        assert_eq!(d.icd10.as_str(), "Q87.4");
        assert_eq!(d.source_system.as_deref(), Some(ICD10_SYSTEM));
        let others: Vec<_> = d.details.codings.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(others, ["L-0001", "Q874"]);
        assert_eq!(d.details.stage.as_deref(), Some("III"));
        Ok(())
    }

    #[test]
    fn no_icd10_is_rejected() -> TestResult {
        let extract = read(json!([
            patient(),
            condition(json!({
                "code": {"coding": [
                    {"system": MEDIS_DISEASE_SYSTEM, "code": "20054178"},
                    {"system": JP_ICD10_SYSTEM, "code": "胃癌"}]}
            }))
        ]))?;
        assert_eq!(extract.records.len(), 1);
        assert_eq!(extract.rejected.len(), 1);
        assert!(extract.rejected[0].reason.starts_with("no ICD-10 code"));
        assert_eq!(
            messages(&extract),
            ["entry 1 (Condition) Condition.code.coding: \"胃癌\" is not an ICD-10 code"]
        );
        Ok(())
    }

    #[test]
    fn the_subject_may_be_a_business_identifier() -> TestResult {
        let extract = read(json!([condition(json!({
            "subject": {"reference": "Patient?identifier=urn:oid:1.2.392.100495.20.3.51.19999999999%7C9000000002"}
        }))]))?;
        only(&extract)?;
        let subject = &extract.records[0].subject;
        assert!(
            matches!(subject, gemj_model::source::SubjectRef::Hospital(h) if h.patient == "9000000002")
        );
        Ok(())
    }
}
