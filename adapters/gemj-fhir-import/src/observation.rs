//! `Observation` → [`MeasurementFacts`]: the first coding of `code`, the value as written
//! (`valueQuantity` → `NM`, or `SN` with a comparator; `valueInteger` → `NM`; `valueString` →
//! `ST`; `valueCodeableConcept` → `CWE`, its first code), the unit (the UCUM code when given),
//! the effective time as written, the first reference range as `low-high` (or its text), the
//! first interpretation code, the status, the order (`basedOn` identifier), and the specimen.
//!
//! The specimen is kept as a routine-lab specimen (`lab_specimen`) only when it is not a GeMJ
//! specimen: a Specimen of the bundle without a GeMJ id (its first identifier value, else its
//! id, and its first type coding as the material), or a logical reference in another system.

use gemj_model::source::{GEMJ_SPECIMEN_SYSTEM, MeasurementFacts, RecordBody};
use gemj_model::{LabSpecimen, Quantity};

use crate::bundle::{Body, Index, MapResult, Mapped, Reject, Target, coding};
use crate::notes::{Notes, text};
use crate::{datetime, wire};

/// Longest lab-specimen id or material (system, code and display together) copied onto an
/// Observation, in bytes.
const MAX_COPIED: usize = 256;

/// The UCUM code system.
pub const UCUM_SYSTEM: &str = "http://unitsofmeasure.org";

/// Maps an Observation.
pub(crate) fn map(o: &wire::Observation, index: &Index, notes: &mut Notes<'_>) -> MapResult {
    let code = o
        .code
        .iter()
        .flat_map(|c| &c.coding)
        .find_map(coding)
        .ok_or_else(|| Reject("Observation.code has no coding with a system and a code".into()))?;
    let (value, value_type) = value(o)?;
    let subject = index.subject_noted(o.subject.as_ref(), "Observation.subject", notes)?;

    let effective = [
        (
            "Observation.effectiveDateTime",
            o.effective_date_time.as_ref(),
        ),
        ("Observation.effectiveInstant", o.effective_instant.as_ref()),
        (
            "Observation.effectivePeriod.start",
            o.effective_period.as_ref().and_then(|p| p.start.as_ref()),
        ),
    ]
    .into_iter()
    .find_map(|(field, t)| text(t).map(|t| (field, t)))
    .and_then(|(field, t)| match datetime::date_time(t) {
        Ok(_) => Some(t.to_owned()),
        Err(why) => {
            notes.error(field, why);
            None
        }
    });
    let reference_range = o.reference_range.first().and_then(|r| {
        if let Some(t) = text(r.text.as_ref()) {
            return Some(t.to_owned());
        }
        let side = |q: &Option<wire::Quantity>| {
            q.as_ref()
                .and_then(|q| q.value.as_ref())
                .map(|v| v.0.clone())
                .unwrap_or_default()
        };
        let (low, high) = (side(&r.low), side(&r.high));
        (!(low.is_empty() && high.is_empty())).then(|| format!("{low}-{high}"))
    });
    let interpretation = o
        .interpretation
        .iter()
        .flat_map(|i| &i.coding)
        .find_map(|c| text(c.code.as_ref()))
        .map(str::to_owned);
    let order = o
        .based_on
        .iter()
        .filter_map(|r| r.identifier.as_ref())
        .find_map(|i| text(i.value.as_ref()))
        .map(str::to_owned);
    let lab_specimen = o
        .specimen
        .as_ref()
        .and_then(|r| lab_specimen(r, index, notes));
    Ok(Mapped {
        subject,
        body: RecordBody::Measurement(MeasurementFacts {
            code,
            value,
            value_type: value_type.to_owned(),
            reference_range,
            interpretation,
            effective,
            status: text(o.status.as_ref()).map(str::to_owned),
            order,
            lab_specimen,
        }),
        source_value: None,
    })
}

/// The value and its HL7 v2 value type.
fn value(o: &wire::Observation) -> Result<(Quantity, &'static str), Reject> {
    if let Some(q) = &o.value_quantity {
        let number = q
            .value
            .as_ref()
            .ok_or_else(|| Reject("valueQuantity has no value".into()))?;
        let comparator = text(q.comparator.as_ref());
        let ucum = q.system.as_deref() == Some(UCUM_SYSTEM);
        let unit = (if ucum { text(q.code.as_ref()) } else { None })
            .or(text(q.unit.as_ref()))
            .or(text(q.code.as_ref()))
            .map(str::to_owned);
        let value = format!("{}{}", comparator.unwrap_or(""), number.0);
        let kind = if comparator.is_some() { "SN" } else { "NM" };
        return Ok((Quantity { value, unit }, kind));
    }
    if let Some(n) = &o.value_integer {
        return Ok((
            Quantity {
                value: n.0.clone(),
                unit: None,
            },
            "NM",
        ));
    }
    if let Some(s) = text(o.value_string.as_ref()) {
        return Ok((
            Quantity {
                value: s.to_owned(),
                unit: None,
            },
            "ST",
        ));
    }
    if let Some(code) = o.value_codeable_concept.as_ref().and_then(|cc| {
        cc.coding
            .iter()
            .find_map(|c| text(c.code.as_ref()))
            .or(text(cc.text.as_ref()))
    }) {
        return Ok((
            Quantity {
                value: code.to_owned(),
                unit: None,
            },
            "CWE",
        ));
    }
    Err(Reject(
        "no value this importer reads (valueQuantity, valueInteger, valueString, \
         valueCodeableConcept)"
            .into(),
    ))
}

/// The routine-lab specimen a reference names, when it is not a GeMJ specimen.
fn lab_specimen(
    reference: &wire::Reference,
    index: &Index,
    notes: &mut Notes<'_>,
) -> Option<LabSpecimen> {
    match index.resolve(reference) {
        Ok(Target::Slot(slot)) => {
            let Body::Specimen(s) = &slot.body else {
                notes.warning(
                    "Observation.specimen",
                    format!(
                        "entry {} is not a Specimen; the specimen is left out",
                        slot.n
                    ),
                );
                return None;
            };
            if slot.gemj_specimen.is_some() {
                return None;
            }
            let id = s
                .identifier
                .iter()
                .find_map(|i| text(i.value.as_ref()))
                .or(slot.id.as_deref());
            let Some(id) = id.filter(|id| id.len() <= MAX_COPIED) else {
                notes.warning(
                    "Observation.specimen",
                    format!(
                        "the Specimen in entry {} has no identifier or id of at most {MAX_COPIED} bytes",
                        slot.n
                    ),
                );
                return None;
            };
            // Copied onto every Observation that names it: kept short, so that a bundle cannot
            // multiply one long text by its number of Observations.
            let material = s
                .kind
                .iter()
                .flat_map(|t| &t.coding)
                .find_map(coding)
                .filter(|c| {
                    c.system.len() + c.code.len() + c.display.as_ref().map_or(0, String::len)
                        <= MAX_COPIED
                });
            Some(LabSpecimen {
                id: id.to_owned(),
                material,
            })
        }
        Ok(Target::Identifier { system, value }) => {
            (system != GEMJ_SPECIMEN_SYSTEM && value.len() <= MAX_COPIED).then_some(LabSpecimen {
                id: value,
                material: None,
            })
        }
        Err(why) => {
            notes.warning(
                "Observation.specimen",
                format!("the specimen is left out: {why}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use gemj_model::source::MeasurementFacts;
    use serde_json::{Value, json};

    use super::*;
    use crate::test_support::{PATIENT_URL, messages, patient, post, read};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn albumin(extra: Value) -> Value {
        let mut resource = json!({
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "urn:oid:1.2.392.200119.4.504", "code": "3A015000002327101", "display": "アルブミン"}]},
            "subject": {"reference": PATIENT_URL},
            "effectiveDateTime": "2024-03-14T09:00:00+09:00",
            "valueQuantity": {"value": 3.2, "unit": "g/dL", "system": UCUM_SYSTEM, "code": "g/dL"},
            "referenceRange": [{"low": {"value": 3.7}, "high": {"value": 5.5}}],
            "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "L"}]}],
            "basedOn": [{"identifier": {"system": "http://example.org/order", "value": "000000000012345"}}]
        });
        if let (Some(r), Some(extra)) = (resource.as_object_mut(), extra.as_object()) {
            r.extend(extra.clone());
        }
        post(resource)
    }

    fn measurements(entries: Value) -> Result<Vec<MeasurementFacts>, Box<dyn std::error::Error>> {
        Ok(read(entries)?
            .records
            .into_iter()
            .filter_map(|r| match r.body {
                RecordBody::Measurement(m) => Some(m),
                _ => None,
            })
            .collect())
    }

    #[test]
    fn a_lab_result() -> TestResult {
        let m = measurements(json!([patient(), albumin(json!({}))]))?;
        let [m] = m.as_slice() else {
            return Err("expected one measurement".into());
        };
        assert_eq!(m.code.code, "3A015000002327101");
        assert_eq!(m.code.display.as_deref(), Some("アルブミン"));
        assert_eq!(m.value.value, "3.2");
        assert_eq!(m.value.unit.as_deref(), Some("g/dL"));
        assert_eq!(m.value_type, "NM");
        assert_eq!(m.reference_range.as_deref(), Some("3.7-5.5"));
        assert_eq!(m.interpretation.as_deref(), Some("L"));
        assert_eq!(m.effective.as_deref(), Some("2024-03-14T09:00:00+09:00"));
        assert_eq!(m.status.as_deref(), Some("final"));
        assert_eq!(m.order.as_deref(), Some("000000000012345"));
        assert_eq!(m.lab_specimen, None);
        Ok(())
    }

    #[test]
    fn value_kinds() -> TestResult {
        let check = |value: Value, expect: Option<(&str, Option<&str>, &str)>| -> TestResult {
            let mut extra = value;
            if let Some(e) = extra.as_object_mut() {
                e.entry("valueQuantity").or_insert(Value::Null);
            }
            let m = measurements(json!([patient(), albumin(extra)]))?;
            let got = m.first().map(|m| {
                (
                    m.value.value.as_str(),
                    m.value.unit.as_deref(),
                    m.value_type.as_str(),
                )
            });
            assert_eq!(got, expect);
            Ok(())
        };
        check(json!({"valueString": "陰性"}), Some(("陰性", None, "ST")))?;
        check(json!({"valueInteger": 7}), Some(("7", None, "NM")))?;
        check(
            json!({"valueQuantity": {"value": 0.5, "comparator": "<", "unit": "mg/dL"}}),
            Some(("<0.5", Some("mg/dL"), "SN")),
        )?;
        check(
            json!({"valueQuantity": {"value": 61.0, "code": "kg"}}),
            Some(("61.0", Some("kg"), "NM")),
        )?;
        check(
            json!({"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]}}),
            Some(("260385009", None, "CWE")),
        )?;
        check(json!({"valueBoolean": true}), None)?;
        check(json!({"valueQuantity": {"unit": "g/dL"}}), None)?;
        Ok(())
    }

    #[test]
    fn routine_lab_specimens_stay_on_the_result() -> TestResult {
        let lab = json!({
            "fullUrl": "urn:uuid:lab", "request": {"method": "POST", "url": "Specimen"},
            "resource": {"resourceType": "Specimen",
                         "identifier": [{"system": "http://hospital.example.jp/lab-specimen", "value": "LS-0001"}],
                         "type": {"coding": [{"system": "urn:oid:1.2.392.200119.4.504", "code": "023", "display": "血清"}]}}
        });
        let biobank = json!({
            "fullUrl": "urn:uuid:bb", "request": {"method": "POST", "url": "Specimen"},
            "resource": {"resourceType": "Specimen", "subject": {"reference": PATIENT_URL},
                         "identifier": [{"system": GEMJ_SPECIMEN_SYSTEM, "value": "SP-0001-B"}],
                         "type": {"coding": [{"system": crate::V2_0487_SYSTEM, "code": "BLD"}]}}
        });
        let extract = read(json!([
            patient(),
            lab,
            biobank,
            albumin(json!({"specimen": {"reference": "urn:uuid:lab"}})),
            albumin(json!({"specimen": {"reference": "urn:uuid:bb"}})),
            albumin(
                json!({"specimen": {"identifier": {"system": "http://hospital.example.jp/lab-specimen", "value": "LS-0002"}}})
            ),
            albumin(json!({"specimen": {"reference": "Specimen/gone"}})),
        ]))?;
        // The lab specimen is neither a record nor rejected; the biobank sample is a record.
        assert!(extract.rejected.is_empty(), "{:?}", extract.rejected);
        let kinds: Vec<_> = extract.records.iter().map(|r| r.body.kind()).collect();
        assert_eq!(
            kinds,
            [
                "subject",
                "specimen",
                "measurement",
                "measurement",
                "measurement",
                "measurement"
            ]
        );
        let specimens: Vec<_> = extract
            .records
            .iter()
            .filter_map(|r| match &r.body {
                RecordBody::Measurement(m) => Some(
                    m.lab_specimen
                        .as_ref()
                        .map(|s| (s.id.as_str(), s.material.as_ref().map(|m| m.code.as_str()))),
                ),
                _ => None,
            })
            .collect();
        assert_eq!(
            specimens,
            [
                Some(("LS-0001", Some("023"))),
                None,
                Some(("LS-0002", None)),
                None
            ]
        );
        assert_eq!(
            messages(&extract),
            [
                "entry 6 (Observation) Observation.specimen: the specimen is left out: \"Specimen/gone\" is not an entry of this bundle"
            ]
        );
        Ok(())
    }

    #[test]
    fn uncoded_observations_are_rejected() -> TestResult {
        let extract = read(json!([
            patient(),
            albumin(json!({"code": {"text": "アルブミン"}}))
        ]))?;
        assert_eq!(extract.rejected.len(), 1);
        assert!(!extract.rejected[0].reason.contains("アルブミン"));
        Ok(())
    }
}
