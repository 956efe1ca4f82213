//! The few FHIR R4 JSON elements this crate reads, as small serde structs.
//!
//! Every struct takes `#[serde(default)]` and ignores elements it does not name: the R4 JSON
//! schema has already judged them (when the caller validated), and what is not read is not
//! mapped. The types follow the R4 JSON representation (FHIR R4 §2.6.2 "JSON"): primitives are
//! JSON strings except `boolean`, `integer` and `decimal`; a wrong JSON type makes the resource
//! fail to deserialize, which the caller turns into a rejected entry.

use serde::Deserialize;

/// `Bundle.entry`, without its resource (read by type from the JSON value).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Entry {
    /// `Bundle.entry.fullUrl`: `urn:uuid:…` or an absolute URL.
    pub full_url: Option<String>,
    /// `Bundle.entry.request`.
    pub request: Option<Request>,
}

/// `Bundle.entry.request`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Request {
    /// `GET | HEAD | POST | PUT | DELETE | PATCH`.
    pub method: Option<String>,
    /// `Patient`, `Patient/123`, `Patient?identifier=…`.
    pub url: Option<String>,
    /// Conditional create: `identifier=system|value`.
    pub if_none_exist: Option<String>,
}

/// The elements every resource has that the bundle index needs.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ResourceHead {
    /// `resourceType`.
    pub resource_type: Option<String>,
    /// `Resource.id`.
    pub id: Option<String>,
}

/// `Identifier`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct Identifier {
    /// `Identifier.system`.
    pub system: Option<String>,
    /// `Identifier.value`.
    pub value: Option<String>,
}

/// `Coding`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct Coding {
    /// `Coding.system`.
    pub system: Option<String>,
    /// `Coding.code`.
    pub code: Option<String>,
    /// `Coding.display`.
    pub display: Option<String>,
}

/// `CodeableConcept`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct CodeableConcept {
    /// `CodeableConcept.coding`.
    pub coding: Vec<Coding>,
    /// `CodeableConcept.text`.
    pub text: Option<String>,
}

/// `Reference`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct Reference {
    /// `Reference.reference`: literal reference.
    pub reference: Option<String>,
    /// `Reference.identifier`: logical reference.
    pub identifier: Option<Identifier>,
}

/// `Extension`, only with a `code` value.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Extension {
    /// `Extension.url`.
    pub url: Option<String>,
    /// `Extension.valueCode`.
    pub value_code: Option<String>,
}

/// `HumanName`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct HumanName {
    /// Extensions, for `iso21090-EN-representation`.
    pub extension: Vec<Extension>,
    /// `HumanName.text`.
    pub text: Option<String>,
    /// `HumanName.family`.
    pub family: Option<String>,
    /// `HumanName.given`.
    pub given: Vec<String>,
}

/// `Address`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Address {
    /// `Address.text`.
    pub text: Option<String>,
    /// `Address.line`.
    pub line: Vec<String>,
    /// `Address.city`.
    pub city: Option<String>,
    /// `Address.district`.
    pub district: Option<String>,
    /// `Address.state` (the prefecture in JP Core).
    pub state: Option<String>,
    /// `Address.postalCode`.
    pub postal_code: Option<String>,
}

/// `ContactPoint`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ContactPoint {
    /// `phone | fax | email | …`.
    pub system: Option<String>,
    /// `ContactPoint.value`.
    pub value: Option<String>,
}

/// `Period`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct Period {
    /// `Period.start` (a dateTime).
    pub start: Option<String>,
    /// `Period.end` (a dateTime).
    pub end: Option<String>,
}

/// A FHIR `decimal` or `integer`, kept as the sender wrote it (`3.20`, `61.0`, `100`).
///
/// serde_json (without `arbitrary_precision`) reads a number as an `f64`, which loses a trailing
/// zero after the point, so [`crate::read_bundle`] puts the written literal back where serde_json
/// would write it otherwise ([`mark_written_numbers`]): here it is either a number (written as
/// serde_json writes it) or a marked string holding the literal.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Decimal(pub String);

/// The prefix of a written number literal inside a parsed bundle (see [`Decimal`]). A string
/// with it that is not a number literal is not a decimal, so a sender gains nothing by writing
/// one.
pub(crate) const WRITTEN_NUMBER: &str = "\u{0}gemj-written-number:";

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(serde_json::Number),
            Text(String),
        }
        match Written::deserialize(d)? {
            Written::Number(n) => Ok(Decimal(n.to_string())),
            Written::Text(text) => text
                .strip_prefix(WRITTEN_NUMBER)
                .filter(|literal| gemj_schemas::literals::is_number(literal))
                .map(|literal| Decimal(literal.to_owned()))
                .ok_or_else(|| serde::de::Error::custom("a decimal must be a JSON number")),
        }
    }
}

/// Replaces each number of `value` whose written literal in `raw` (the bytes it was parsed
/// from) differs from serde_json's writing of it (`3.20` against `3.2`) with the literal marked
/// by [`WRITTEN_NUMBER`]. Numbers are matched in document order (serde_json keeps object
/// members in order); if the two lists disagree in length or in any value (a duplicated member
/// name drops one), nothing is replaced and the numbers stay as serde_json read them.
pub(crate) fn mark_written_numbers(raw: &[u8], value: &mut serde_json::Value) {
    fn slots<'v>(v: &'v mut serde_json::Value, out: &mut Vec<&'v mut serde_json::Value>) {
        match v {
            serde_json::Value::Number(_) => out.push(v),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| slots(i, out)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|i| slots(i, out)),
            _ => {}
        }
    }
    let literals = gemj_schemas::literals::numbers(raw);
    let mut numbers = Vec::new();
    slots(value, &mut numbers);
    let agree = literals.len() == numbers.len()
        && literals
            .iter()
            .zip(&numbers)
            .all(|(l, n)| l.parse::<f64>().ok() == n.as_f64());
    if !agree {
        return;
    }
    for (literal, slot) in literals.into_iter().zip(numbers) {
        let rewritten = match &*slot {
            serde_json::Value::Number(n) => n.to_string() != literal,
            _ => false,
        };
        if rewritten {
            *slot = serde_json::Value::String(format!("{WRITTEN_NUMBER}{literal}"));
        }
    }
}

/// `Quantity` (and `SimpleQuantity`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct Quantity {
    /// `Quantity.value`.
    pub value: Option<Decimal>,
    /// `<`, `<=`, `>=`, `>`.
    pub comparator: Option<String>,
    /// Human-readable unit.
    pub unit: Option<String>,
    /// The unit's system (UCUM `http://unitsofmeasure.org`).
    pub system: Option<String>,
    /// Coded unit.
    pub code: Option<String>,
}

/// `Patient` (FHIR R4 §8.1).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Patient {
    /// `Patient.identifier`.
    pub identifier: Vec<Identifier>,
    /// `Patient.name`.
    pub name: Vec<HumanName>,
    /// `Patient.telecom`.
    pub telecom: Vec<ContactPoint>,
    /// `male | female | other | unknown`.
    pub gender: Option<String>,
    /// `Patient.birthDate` (a date).
    pub birth_date: Option<String>,
    /// `Patient.address`.
    pub address: Vec<Address>,
}

/// `Condition.stage`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConditionStage {
    /// `Condition.stage.summary`.
    pub summary: Option<CodeableConcept>,
}

/// `Condition` (FHIR R4 §9.2).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Condition {
    /// `Condition.clinicalStatus`.
    pub clinical_status: Option<CodeableConcept>,
    /// `Condition.verificationStatus`.
    pub verification_status: Option<CodeableConcept>,
    /// `Condition.code`.
    pub code: Option<CodeableConcept>,
    /// `Condition.subject`.
    pub subject: Option<Reference>,
    /// `Condition.onsetDateTime`.
    pub onset_date_time: Option<String>,
    /// `Condition.onsetPeriod`.
    pub onset_period: Option<Period>,
    /// `Condition.onsetString`.
    pub onset_string: Option<String>,
    /// `Condition.onsetAge`: not a date; noticed, not read.
    pub onset_age: Option<serde::de::IgnoredAny>,
    /// `Condition.onsetRange`: not a date; noticed, not read.
    pub onset_range: Option<serde::de::IgnoredAny>,
    /// `Condition.recordedDate`.
    pub recorded_date: Option<String>,
    /// `Condition.stage`.
    pub stage: Vec<ConditionStage>,
}

/// `Specimen.collection`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct SpecimenCollection {
    /// `Specimen.collection.collectedDateTime`.
    pub collected_date_time: Option<String>,
    /// `Specimen.collection.collectedPeriod`.
    pub collected_period: Option<Period>,
    /// `Specimen.collection.quantity`.
    pub quantity: Option<Quantity>,
    /// `Specimen.collection.bodySite`.
    pub body_site: Option<CodeableConcept>,
}

/// `Specimen` (FHIR R4 §14.2).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Specimen {
    /// `Specimen.identifier`.
    pub identifier: Vec<Identifier>,
    /// `available | unavailable | unsatisfactory | entered-in-error`.
    pub status: Option<String>,
    /// `Specimen.type`.
    #[serde(rename = "type")]
    pub kind: Option<CodeableConcept>,
    /// `Specimen.subject`.
    pub subject: Option<Reference>,
    /// `Specimen.parent`.
    pub parent: Vec<Reference>,
    /// `Specimen.collection`.
    pub collection: Option<SpecimenCollection>,
}

/// `Consent.policy`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConsentPolicy {
    /// `Consent.policy.uri`.
    pub uri: Option<String>,
}

/// `Consent.provision` (top level only).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConsentProvision {
    /// `deny | permit`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `Consent.provision.period`.
    pub period: Option<Period>,
    /// `Consent.provision.purpose`.
    pub purpose: Vec<Coding>,
}

/// `Consent` (FHIR R4 §6.2).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Consent {
    /// `draft | proposed | active | rejected | inactive | entered-in-error`.
    pub status: Option<String>,
    /// `Consent.patient`.
    pub patient: Option<Reference>,
    /// `Consent.dateTime`.
    pub date_time: Option<String>,
    /// `Consent.policy`.
    pub policy: Vec<ConsentPolicy>,
    /// `Consent.provision`.
    pub provision: Option<ConsentProvision>,
}

/// `Observation.referenceRange`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReferenceRange {
    /// `Observation.referenceRange.low`.
    pub low: Option<Quantity>,
    /// `Observation.referenceRange.high`.
    pub high: Option<Quantity>,
    /// `Observation.referenceRange.text`.
    pub text: Option<String>,
}

/// `Observation` (FHIR R4 §12.20).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Observation {
    /// `registered | preliminary | final | amended | …`.
    pub status: Option<String>,
    /// `Observation.code`.
    pub code: Option<CodeableConcept>,
    /// `Observation.subject`.
    pub subject: Option<Reference>,
    /// `Observation.basedOn`.
    pub based_on: Vec<Reference>,
    /// `Observation.effectiveDateTime`.
    pub effective_date_time: Option<String>,
    /// `Observation.effectivePeriod`.
    pub effective_period: Option<Period>,
    /// `Observation.effectiveInstant`.
    pub effective_instant: Option<String>,
    /// `Observation.valueQuantity`.
    pub value_quantity: Option<Quantity>,
    /// `Observation.valueString`.
    pub value_string: Option<String>,
    /// `Observation.valueInteger`.
    pub value_integer: Option<Decimal>,
    /// `Observation.valueCodeableConcept`.
    pub value_codeable_concept: Option<CodeableConcept>,
    /// `Observation.interpretation`.
    pub interpretation: Vec<CodeableConcept>,
    /// `Observation.referenceRange`.
    pub reference_range: Vec<ReferenceRange>,
    /// `Observation.specimen`.
    pub specimen: Option<Reference>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_elements_are_ignored_and_numbers_keep_their_text()
    -> Result<(), Box<dyn std::error::Error>> {
        let q: Quantity = serde_json::from_str(r#"{"value": 61.0, "unit": "kg", "_x": [1]}"#)?;
        assert_eq!(q.value, Some(Decimal("61.0".to_owned())));
        let q: Quantity = serde_json::from_str(r#"{"value": 100}"#)?;
        assert_eq!(q.value, Some(Decimal("100".to_owned())));
        let q: Quantity = serde_json::from_str(r#"{"value": 3.2}"#)?;
        assert_eq!(q.value, Some(Decimal("3.2".to_owned())));
        assert!(serde_json::from_str::<Quantity>(r#"{"value": "3.2"}"#).is_err());
        Ok(())
    }

    #[test]
    fn written_digits_are_put_back_where_the_parse_dropped_them()
    -> Result<(), Box<dyn std::error::Error>> {
        let read = |raw: &str| -> Result<Option<Decimal>, Box<dyn std::error::Error>> {
            let mut v: serde_json::Value = serde_json::from_str(raw)?;
            mark_written_numbers(raw.as_bytes(), &mut v);
            Ok(Quantity::deserialize(&v["q"])?.value)
        };
        let d = |t: &str| Some(Decimal(t.to_owned()));
        assert_eq!(
            read(r#"{"n": 1.0, "q": {"value": 3.20, "unit": "x"}}"#)?,
            d("3.20")
        );
        assert_eq!(
            read(r#"{"s": "9.90", "q": {"value": 1.50E2}}"#)?,
            d("1.50E2")
        );
        assert_eq!(read(r#"{"q": {"value": 61.0}}"#)?, d("61.0"));
        assert_eq!(read(r#"{"q": {"value": 100}}"#)?, d("100"));
        // A duplicated member drops a number: the lists disagree, and serde_json's reading
        // stands rather than a misplaced literal.
        assert_eq!(
            read(r#"{"a": "s", "q": {"value": 3.20}, "a": 2.00}"#)?,
            d("3.2")
        );
        // A marked string that holds no number is no decimal.
        let forged = serde_json::json!({"value": format!("{WRITTEN_NUMBER}1; x")});
        assert!(Quantity::deserialize(&forged).is_err());
        let forged = serde_json::json!({"value": format!("{WRITTEN_NUMBER}2.50")});
        assert_eq!(Quantity::deserialize(&forged)?.value, d("2.50"));
        Ok(())
    }

    #[test]
    fn null_and_absent_are_the_same() -> Result<(), Box<dyn std::error::Error>> {
        let p: Patient = serde_json::from_str(r#"{"gender": null, "name": []}"#)?;
        assert!(p.gender.is_none());
        assert!(p.name.is_empty());
        Ok(())
    }
}
