//! `Specimen` → [`SpecimenFacts`]: a biobank sample identified in the GeMJ specimen system, its
//! material (HL7 v2-0487), collection date and time, body site, status and parent.
//!
//! Only specimens with an identifier in [`GEMJ_SPECIMEN_SYSTEM`] become records, all with
//! `biobank_sample = true`: the gateway links samples by that id and by nothing else. A Specimen
//! without one is rejected, unless an Observation of the bundle names it: then it is a
//! routine-lab specimen and stays on that Observation (`lab_specimen`).

use gemj_model::source::{GEMJ_SPECIMEN_SYSTEM, RecordBody, SpecimenFacts};
use gemj_model::{SpecimenDetails, SpecimenId, SpecimenType};

use crate::bundle::{Index, MapResult, Mapped, Reject, coding};
use crate::notes::{Notes, text};
use crate::{datetime, wire};

/// HL7 v2 table 0487, Specimen Type.
pub const V2_0487_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v2-0487";

/// The first GeMJ specimen id of a Specimen, if any is valid.
pub(crate) fn gemj_id(s: &wire::Specimen, notes: &mut Notes<'_>) -> Option<SpecimenId> {
    s.identifier
        .iter()
        .filter(|i| i.system.as_deref() == Some(GEMJ_SPECIMEN_SYSTEM))
        .filter_map(|i| text(i.value.as_ref()))
        .find_map(|value| match SpecimenId::parse(value) {
            Ok(id) => Some(id),
            Err(_) => {
                notes.error(
                    "Specimen.identifier",
                    "the GeMJ specimen id is not a valid identifier",
                );
                None
            }
        })
}

/// The material of a v2-0487 code.
pub(crate) fn specimen_type(code: &str) -> SpecimenType {
    match code {
        "BLD" => SpecimenType::WholeBlood,
        "TISS" => SpecimenType::Tissue,
        "SER" => SpecimenType::Serum,
        "PLAS" => SpecimenType::Plasma,
        "DNA" => SpecimenType::Dna,
        "RNA" => SpecimenType::Rna,
        "SAL" => SpecimenType::Saliva,
        "BUFFY" | "BUFFYC" => SpecimenType::BuffyCoat,
        other => SpecimenType::Other(other.to_owned()),
    }
}

/// Maps a Specimen with a GeMJ id.
pub(crate) fn map(s: &wire::Specimen, index: &Index, notes: &mut Notes<'_>) -> MapResult {
    let Some(id) = gemj_id(s, notes) else {
        return Err(Reject(format!(
            "no identifier in {GEMJ_SPECIMEN_SYSTEM}: the gateway cannot link the specimen"
        )));
    };
    let subject = index.subject_noted(s.subject.as_ref(), "Specimen.subject", notes)?;

    let type_codings: Vec<_> = s
        .kind
        .iter()
        .flat_map(|t| &t.coding)
        .filter_map(coding)
        .collect();
    let type_label = s
        .kind
        .as_ref()
        .and_then(|t| text(t.text.as_ref()))
        .map(str::to_owned);
    let specimen_type = match type_codings.iter().find(|c| c.system == V2_0487_SYSTEM) {
        Some(c) => specimen_type(&c.code),
        None => {
            notes.warning(
                "Specimen.type",
                format!("no {V2_0487_SYSTEM} coding; the material is recorded as other"),
            );
            SpecimenType::Other(
                type_codings
                    .first()
                    .map(|c| c.code.clone())
                    .unwrap_or_else(|| "unknown".to_owned()),
            )
        }
    };

    let collection = s.collection.as_ref();
    let collected_text = collection.and_then(|c| {
        text(c.collected_date_time.as_ref())
            .map(|t| ("Specimen.collection.collectedDateTime", t))
            .or_else(|| {
                c.collected_period
                    .as_ref()
                    .and_then(|p| text(p.start.as_ref()))
                    .map(|t| ("Specimen.collection.collectedPeriod.start", t))
            })
    });
    let (collected, collected_at) =
        match collected_text.map(|(f, t)| (f, t, datetime::date_time(t))) {
            None => (None, None),
            Some((_, t, Ok(d))) => (Some(d.date), d.has_time.then(|| t.to_owned())),
            Some((field, _, Err(why))) => {
                notes.error(field, why);
                (None, None)
            }
        };
    let anatomical_site = collection
        .and_then(|c| c.body_site.as_ref())
        .and_then(|b| b.coding.iter().find_map(coding));
    let quantity = collection.and_then(|c| c.quantity.as_ref()).and_then(|q| {
        let value = q.value.as_ref()?.0.clone();
        let unit = text(q.code.as_ref())
            .or(text(q.unit.as_ref()))
            .map(str::to_owned);
        Some(gemj_model::Quantity { value, unit })
    });

    let parent = parent(s, index, notes);
    let details = SpecimenDetails {
        type_label,
        type_codings,
        anatomical_site,
        collected_at,
        quantity,
        status: text(s.status.as_ref()).map(str::to_owned),
        ..SpecimenDetails::default()
    };
    Ok(Mapped {
        subject,
        body: RecordBody::Specimen(SpecimenFacts {
            id,
            specimen_type,
            parent,
            collected,
            tumour: None,
            biobank_sample: true,
            details,
        }),
        source_value: None,
    })
}

/// The first parent that names a GeMJ specimen.
fn parent(s: &wire::Specimen, index: &Index, notes: &mut Notes<'_>) -> Option<SpecimenId> {
    if s.parent.len() > 1 {
        notes.warning(
            "Specimen.parent",
            "several parents; the first that names a GeMJ specimen is kept",
        );
    }
    let mut why_not = None;
    for reference in &s.parent {
        match index.gemj_specimen(reference) {
            Ok(id) => return Some(id),
            Err(why) => why_not = why_not.or(Some(why)),
        }
    }
    if let Some(why) = why_not {
        notes.warning("Specimen.parent", format!("the parent is left out: {why}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::test_support::{PATIENT_URL, messages, patient, post, read};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn v2_0487_codes() {
        let check = |code: &str, expect: SpecimenType| assert_eq!(specimen_type(code), expect);
        check("BLD", SpecimenType::WholeBlood);
        check("TISS", SpecimenType::Tissue);
        check("SER", SpecimenType::Serum);
        check("PLAS", SpecimenType::Plasma);
        check("DNA", SpecimenType::Dna);
        check("RNA", SpecimenType::Rna);
        check("SAL", SpecimenType::Saliva);
        check("BUFFY", SpecimenType::BuffyCoat);
        check("BLDV", SpecimenType::Other("BLDV".to_owned()));
        check("bld", SpecimenType::Other("bld".to_owned()));
    }

    fn specimen(id: &str, extra: Value) -> Value {
        let mut resource = json!({
            "resourceType": "Specimen",
            "identifier": [{"system": GEMJ_SPECIMEN_SYSTEM, "value": id}],
            "subject": {"reference": PATIENT_URL},
            "type": {"coding": [{"system": V2_0487_SYSTEM, "code": "DNA"}]}
        });
        if let (Some(r), Some(extra)) = (resource.as_object_mut(), extra.as_object()) {
            r.extend(extra.clone());
        }
        post(resource)
    }

    #[test]
    fn parents_resolve_in_and_out_of_the_bundle() -> TestResult {
        let mut blood = specimen("SP-0002-B", json!({"id": "blood-1"}));
        blood["fullUrl"] = json!("https://ehr.example.jp/fhir/Specimen/blood-1");
        let extract = read(json!([
            patient(),
            blood,
            specimen(
                "SP-0002-B-DNA",
                json!({"parent": [{"reference": "Specimen/blood-1"}],
                                             "collection": {"collectedDateTime": "2019-05-07"}})
            ),
            specimen(
                "SP-0002-B-DNA2",
                json!({"parent": [{"reference": "https://ehr.example.jp/fhir/Specimen/blood-1"}]})
            ),
            specimen(
                "SP-0002-B-DNA3",
                json!({"parent": [{"identifier": {"system": GEMJ_SPECIMEN_SYSTEM, "value": "SP-0002-B"}}]})
            ),
            specimen(
                "SP-0002-B-DNA4",
                json!({"parent": [{"reference": "Specimen?identifier=http://example.org/x|1"}]})
            ),
        ]))?;
        let parents: Vec<_> = extract
            .specimens()
            .map(|s| s.parent.as_ref().map(|p| p.as_str().to_owned()))
            .collect();
        let b = Some("SP-0002-B".to_owned());
        assert_eq!(parents, [None, b.clone(), b.clone(), b, None]);
        let dna = extract.specimens().nth(1).ok_or("no second specimen")?;
        assert_eq!(
            dna.collected.map(|d| d.to_string()).as_deref(),
            Some("2019-05-07")
        );
        assert_eq!(dna.details.collected_at, None);
        assert_eq!(
            messages(&extract),
            [format!(
                "entry 5 (Specimen) Specimen.parent: the parent is left out: identifier system \"http://example.org/x\" is not {GEMJ_SPECIMEN_SYSTEM}"
            )]
        );
        Ok(())
    }

    #[test]
    fn specimens_without_a_gemj_id_cannot_be_linked() -> TestResult {
        let extract = read(json!([
            patient(),
            post(
                json!({"resourceType": "Specimen", "subject": {"reference": PATIENT_URL},
                        "identifier": [{"system": "http://hospital.example.jp/lab", "value": "LS-1"}]})
            ),
            specimen("SP 0001", json!({})),
        ]))?;
        assert_eq!(extract.records.len(), 1);
        let reasons: Vec<_> = extract.rejected.iter().map(|r| r.reason.as_str()).collect();
        let reason = format!(
            "no identifier in {GEMJ_SPECIMEN_SYSTEM}: the gateway cannot link the specimen"
        );
        assert_eq!(reasons, [reason.as_str(), reason.as_str()]);
        assert_eq!(
            messages(&extract),
            [
                "entry 2 (Specimen) Specimen.identifier: the GeMJ specimen id is not a valid identifier"
            ]
        );
        Ok(())
    }

    #[test]
    fn material_without_v2_0487_and_a_quantity() -> TestResult {
        let extract = read(json!([
            patient(),
            specimen(
                "SP-1",
                json!({"type": {"coding": [{"system": "http://snomed.info/sct", "code": "119297000"}], "text": "血液"},
                                    "collection": {"collectedPeriod": {"start": "2019-05"},
                                                   "quantity": {"value": 5, "unit": "mL"}}})
            ),
        ]))?;
        let s: Vec<_> = extract.specimens().collect();
        let [s] = s.as_slice() else {
            return Err(format!("unexpected {extract:?}").into());
        };
        assert_eq!(s.specimen_type, SpecimenType::Other("119297000".to_owned()));
        assert_eq!(s.details.type_label.as_deref(), Some("血液"));
        assert_eq!(
            s.collected.map(|d| d.to_string()).as_deref(),
            Some("2019-05")
        );
        let q = s.details.quantity.as_ref().ok_or("no quantity")?;
        assert_eq!((q.value.as_str(), q.unit.as_deref()), ("5", Some("mL")));
        assert_eq!(messages(&extract).len(), 1);
        Ok(())
    }
}
