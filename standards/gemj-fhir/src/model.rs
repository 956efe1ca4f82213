//! The one place fhir-model is used: every resource the gateway answers and every resource it
//! reads passes through its typed R4B model (the gateway serves it as R4 4.0.1; the resources
//! it uses have the same shape in both).
//!
//! fhir-model silently drops elements it does not know and keeps decimals as `f64`, so
//! [`typed`] compares what it serialises back with what went in and refuses any difference:
//! nothing leaves, and nothing is read, that the model did not understand. Incoming resources
//! are first checked by [`IncomingValidator`]: the official R4 JSON Schema of their type, then
//! what neither the schema nor the model checks (real calendar dates, at most one value of a
//! choice element, decimals the model can hold without losing digits).
//!
//! A decimal the gateway answers keeps the digits it was stored with (`6.10` stays `6.10`):
//! [`decimal`] makes it and [`to_bytes`] writes it, while the model checks it as a number.
//!
//! Every function here is non-generic, so fhir-model's serde code is instantiated once, in this
//! crate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use fhir_model::r4b::resources::Resource;
use gemj_schemas::{SchemaSet, Validator, docs};
use serde::Deserialize as _;
use serde_json::Value;

use crate::outcome::{FhirError, Issue, IssueCode};

/// Why the model refused a resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The model could not read it (wrong JSON types, unknown `resourceType`).
    #[error("not a FHIR resource the model reads: {0}")]
    Unreadable(String),
    /// The model read it but lost something: these elements (JSON pointers).
    #[error("elements the model does not keep: {}", .0.join(", "))]
    Lossy(Vec<String>),
}

/// The resource as fhir-model reads and writes it. The answer is the model's own
/// serialisation; it equals the input (numbers compared by value).
///
/// # Errors
/// [`ModelError::Unreadable`] when the model cannot deserialise it, [`ModelError::Lossy`] when
/// the round trip dropped or changed an element.
pub fn typed(resource: &Value) -> Result<Value, ModelError> {
    let model = Resource::deserialize(resource).map_err(|e| {
        // serde's message names the element and the expected type, never the value.
        ModelError::Unreadable(e.to_string())
    })?;
    let back = serde_json::to_value(&model).map_err(|e| ModelError::Unreadable(e.to_string()))?;
    let mut lost = Vec::new();
    differences(resource, &back, "", &mut lost);
    if lost.is_empty() {
        Ok(back)
    } else {
        Err(ModelError::Lossy(lost))
    }
}

/// The resource serialised as the gateway answers it, once the model has read it whole: the
/// bytes are the resource's own, which the model's round trip equals value for value (so an
/// integer stays an integer, `7675087` rather than the model's `7675087.0`, and a dateTime keeps
/// its offset as written).
///
/// # Errors
/// As [`typed`]: a resource the gateway built that the model does not keep whole is a defect
/// of the gateway, reported rather than answered half.
///
/// Decimals made by [`decimal`] are checked by the model as the numbers they are, and written
/// with the digits they were given.
pub fn to_bytes(resource: &Value) -> Result<Vec<u8>, ModelError> {
    let marker = decimal_marker();
    if holds_decimal(resource, marker) {
        let mut numeric = resource.clone();
        as_numbers(&mut numeric, marker);
        typed(&numeric)?;
    } else {
        typed(resource)?;
    }
    serde_json::to_vec(&Exact {
        value: resource,
        marker,
    })
    .map_err(|e| ModelError::Unreadable(e.to_string()))
}

/// A FHIR `decimal` that keeps the digits it was written with, for a resource answered through
/// [`to_bytes`]: FHIR gives a decimal's precision a meaning (R4 §2.24.0.1: `6.10` is not
/// `6.1`), and serde_json keeps numbers as `f64`. `None` when `text` is not a JSON number
/// literal that an `f64` holds (the caller then answers the text as a string, or nothing).
///
/// Where serde_json writes the number as `text` already (`61.0`, `3.2`, `100`), the answer is
/// that number. Otherwise it is a placeholder string that only [`to_bytes`] turns back into
/// the number as written: its prefix holds a key drawn at random when the process starts, so
/// no stored text can be taken for one.
///
/// # Examples
///
/// ```
/// use gemj_fhir::model::{decimal, to_bytes};
/// let v = serde_json::json!({"resourceType": "Observation", "status": "final",
///     "code": {"text": "Hb"}, "valueQuantity": {"value": decimal("6.10"), "unit": "g/dL"}});
/// let bytes = to_bytes(&v).unwrap();
/// assert!(String::from_utf8(bytes).unwrap().contains(r#""value":6.10"#));
/// assert_eq!(decimal("61.0"), Some(serde_json::json!(61.0)));
/// assert_eq!(decimal("6,10"), None);
/// ```
#[must_use]
pub fn decimal(text: &str) -> Option<Value> {
    if !gemj_schemas::literals::is_number(text) {
        return None;
    }
    let number: serde_json::Number = serde_json::from_str(text).ok()?;
    if number.to_string() == text {
        Some(Value::Number(number))
    } else {
        Some(Value::String(format!("{}{text}", decimal_marker())))
    }
}

/// The prefix of [`decimal`]'s placeholders: NUL, a name, and 128 bits drawn when the process
/// starts (std's randomly keyed hasher, keyed from the operating system's random source).
fn decimal_marker() -> &'static str {
    static MARKER: OnceLock<String> = OnceLock::new();
    MARKER.get_or_init(|| {
        use std::hash::{BuildHasher as _, Hasher as _};
        let draw = || {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        format!("\u{0}gemj-decimal-{:016x}{:016x}:", draw(), draw())
    })
}

fn holds_decimal(v: &Value, marker: &str) -> bool {
    match v {
        Value::String(s) => s.starts_with(marker),
        Value::Array(items) => items.iter().any(|i| holds_decimal(i, marker)),
        Value::Object(map) => map.values().any(|i| holds_decimal(i, marker)),
        _ => false,
    }
}

/// Turns placeholders into the numbers they hold (digits past an `f64`'s are the model's loss
/// to check, not the answer's).
fn as_numbers(v: &mut Value, marker: &str) {
    match v {
        Value::String(s) => {
            if let Some(number) = s
                .strip_prefix(marker)
                .and_then(|text| serde_json::from_str::<serde_json::Number>(text).ok())
            {
                *v = Value::Number(number);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| as_numbers(i, marker)),
        Value::Object(map) => map.values_mut().for_each(|i| as_numbers(i, marker)),
        _ => {}
    }
}

/// A resource written as serde_json writes it, except that placeholders are written as the
/// number literals they hold.
struct Exact<'a> {
    value: &'a Value,
    marker: &'a str,
}

impl serde::Serialize for Exact<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap as _, SerializeSeq as _};
        let marker = self.marker;
        match self.value {
            Value::String(text) => match text.strip_prefix(marker) {
                Some(literal) => serde_json::value::RawValue::from_string(literal.to_owned())
                    .map_err(S::Error::custom)?
                    .serialize(s),
                None => s.serialize_str(text),
            },
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    seq.serialize_element(&Exact { value, marker })?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut out = s.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    out.serialize_entry(key, &Exact { value, marker })?;
                }
                out.end()
            }
            other => other.serialize(s),
        }
    }
}

fn differences(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    if out.len() >= 20 {
        return;
    }
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let here = format!("{at}/{k}");
                match b.get(k) {
                    Some(vb) => differences(va, vb, &here, out),
                    None => out.push(here),
                }
            }
            for k in b.keys() {
                if !a.contains_key(k) {
                    out.push(format!("{at}/{k}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(at.to_owned());
                return;
            }
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                differences(va, vb, &format!("{at}/{i}"), out);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            if a.as_f64() != b.as_f64() {
                out.push(at.to_owned());
            }
        }
        (Value::String(a), Value::String(b)) => {
            if a != b && !same_instant(a, b) {
                out.push(at.to_owned());
            }
        }
        _ => {
            if a != b {
                out.push(at.to_owned());
            }
        }
    }
}

/// Whether two dateTimes name the same instant (the model writes `+00:00` as `Z` and drops
/// trailing zeros of fractions).
fn same_instant(a: &str, b: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    match (
        time::OffsetDateTime::parse(a, &Rfc3339),
        time::OffsetDateTime::parse(b, &Rfc3339),
    ) {
        (Ok(a), Ok(b)) => a == b && a.offset() == b.offset(),
        _ => false,
    }
}

/// FHIR's data type names: an element whose name is a stem followed by one of these is a
/// value of a choice element (`value[x]`, `effective[x]`, `onset[x]`).
const CHOICE_TYPES: &[&str] = &[
    "Base64Binary",
    "Boolean",
    "Canonical",
    "Code",
    "Date",
    "DateTime",
    "Decimal",
    "Id",
    "Instant",
    "Integer",
    "Markdown",
    "Oid",
    "PositiveInt",
    "String",
    "Time",
    "UnsignedInt",
    "Uri",
    "Url",
    "Uuid",
    "Address",
    "Age",
    "Annotation",
    "Attachment",
    "CodeableConcept",
    "Coding",
    "ContactPoint",
    "Count",
    "Distance",
    "Duration",
    "HumanName",
    "Identifier",
    "Money",
    "Period",
    "Quantity",
    "Range",
    "Ratio",
    "Reference",
    "SampledData",
    "Signature",
    "Timing",
    "ContactDetail",
    "Contributor",
    "DataRequirement",
    "Expression",
    "ParameterDefinition",
    "RelatedArtifact",
    "TriggerDefinition",
    "UsageContext",
    "Dosage",
    "Meta",
];

/// The stem of a choice element's value (`valueQuantity` → `value`), if the name is one.
fn choice_stem(name: &str) -> Option<&str> {
    CHOICE_TYPES.iter().find_map(|t| {
        name.strip_suffix(t)
            .filter(|stem| !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_lowercase()))
    })
}

/// The most significant digits a decimal may have: fhir-model keeps decimals as `f64`, which
/// holds 15 exactly.
pub const MAX_DECIMAL_DIGITS: usize = 15;

/// Checks of incoming resources: the official R4 JSON Schema of the resource's type (each
/// compiled on first use and kept), then [`extra_checks`], then the model's round trip.
#[derive(Debug, Clone)]
pub struct IncomingValidator {
    schemas: SchemaSet,
    compiled: Arc<Mutex<HashMap<String, Arc<Validator>>>>,
}

impl IncomingValidator {
    /// A validator over the R4 schema of `schemas` ([`docs::FHIR_R4`]).
    #[must_use]
    pub fn new(schemas: &SchemaSet) -> Self {
        Self {
            schemas: schemas.clone(),
            compiled: Arc::default(),
        }
    }

    fn validator(&self, resource_type: &str) -> Result<Arc<Validator>, FhirError> {
        if let Ok(map) = self.compiled.lock()
            && let Some(v) = map.get(resource_type)
        {
            return Ok(Arc::clone(v));
        }
        let schema = self
            .schemas
            .document(docs::FHIR_R4)
            .map_err(|_| internal("the R4 schema is not loaded"))?;
        let known = schema
            .pointer("/discriminator/mapping")
            .and_then(|m| m.get(resource_type))
            .is_some();
        if !known {
            return Err(FhirError::bad_request(
                IssueCode::NotSupported,
                "resourceType",
                format!("{resource_type} is not an R4 resource type"),
            ));
        }
        let v = Arc::new(
            self.schemas
                .validator(docs::FHIR_R4, &format!("/definitions/{resource_type}"))
                .map_err(|_| internal("the R4 schema does not compile"))?,
        );
        if let Ok(mut map) = self.compiled.lock() {
            map.insert(resource_type.to_owned(), Arc::clone(&v));
        }
        Ok(v)
    }

    /// Validates one resource read from a request body (`raw` is its bytes, for the decimal
    /// check; `None` when it came inside a larger body already checked).
    ///
    /// # Errors
    /// 400 with one issue per problem (at most 20), each naming the element as a FHIRPath
    /// expression.
    pub fn validate(&self, resource: &Value, raw: Option<&[u8]>) -> Result<(), FhirError> {
        let Some(resource_type) = resource.get("resourceType").and_then(Value::as_str) else {
            return Err(FhirError::bad_request(
                IssueCode::Required,
                "resourceType",
                "the body is not a FHIR resource: resourceType is missing",
            ));
        };
        let validator = self.validator(resource_type)?;
        let mut issues = Vec::new();
        if let Err(errors) = validator.validate(resource) {
            for e in errors.into_iter().take(20) {
                let (pointer, message) = e.split_once(": ").unwrap_or(("", e.as_str()));
                issues.push(
                    Issue::error(IssueCode::Invalid, format!("schema: {message}"))
                        .at(fhirpath(resource_type, pointer)),
                );
            }
        }
        for (pointer, message) in extra_checks(resource) {
            issues.push(
                Issue::error(IssueCode::Value, message).at(fhirpath(resource_type, &pointer)),
            );
        }
        if let Some(raw) = raw
            && let Some(digits) = longest_decimal(raw)
            && digits > MAX_DECIMAL_DIGITS
        {
            issues.push(Issue::error(
                IssueCode::Value,
                format!(
                    "a decimal has {digits} significant digits; at most {MAX_DECIMAL_DIGITS} are kept exactly"
                ),
            ));
        }
        if issues.is_empty()
            && let Err(e) = typed(resource)
        {
            issues.push(Issue::error(IssueCode::NotSupported, e.to_string()).at(resource_type));
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(FhirError {
                status: 400,
                issues,
            })
        }
    }
}

fn internal(diagnostics: &str) -> FhirError {
    FhirError::new(500, Issue::error(IssueCode::Exception, diagnostics))
}

/// A JSON pointer inside a resource as a FHIRPath expression (`/code/coding/0/system` of an
/// Observation → `Observation.code.coding[0].system`).
#[must_use]
pub fn fhirpath(resource_type: &str, pointer: &str) -> String {
    let mut out = resource_type.to_owned();
    for token in pointer.split('/').filter(|t| !t.is_empty()) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            out.push('.');
            out.push_str(&token);
        }
    }
    out
}

/// What the schema and the model leave unchecked: dates that do not exist (`2023-02-30`),
/// and two values of one choice element (`valueQuantity` with `valueString`). Each problem
/// as (JSON pointer, message); messages name elements, never values.
#[must_use]
pub fn extra_checks(resource: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(resource, "", &mut out);
    out
}

fn walk(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            let mut stems: HashMap<&str, &str> = HashMap::new();
            for (k, child) in map {
                if let Some(stem) = choice_stem(k)
                    && let Some(first) = stems.insert(stem, k)
                {
                    out.push((
                        format!("{at}/{k}"),
                        format!(
                            "{stem}[x] has two values ({first} and {k}); a choice element takes one"
                        ),
                    ));
                }
                let here = format!("{at}/{k}");
                if let Value::String(s) = child
                    && looks_like_date(s)
                    && !real_date(s)
                {
                    out.push((here.clone(), format!("{k} is not a calendar date")));
                }
                walk(child, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || b[10] == b'T')
}

fn real_date(s: &str) -> bool {
    let parse = |range: std::ops::Range<usize>| s.get(range).and_then(|t| t.parse::<u16>().ok());
    let (Some(year), Some(month), Some(day)) = (parse(0..4), parse(5..7), parse(8..10)) else {
        return false;
    };
    let Ok(month) = time::Month::try_from(u8::try_from(month).unwrap_or(0)) else {
        return false;
    };
    time::Date::from_calendar_date(i32::from(year), month, u8::try_from(day).unwrap_or(0)).is_ok()
}

/// The most significant digits of any number literal in JSON bytes (outside strings).
#[must_use]
pub fn longest_decimal(raw: &[u8]) -> Option<usize> {
    gemj_schemas::literals::numbers(raw)
        .into_iter()
        .map(gemj_schemas::literals::significant_digits)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_model_round_trip_refuses_what_it_would_drop() {
        let ok =
            json!({"resourceType": "Patient", "id": "p1", "birthDate": "1975", "gender": "female"});
        assert_eq!(typed(&ok), Ok(ok.clone()));
        let unknown = json!({"resourceType": "Patient", "id": "p1", "colour": "blue"});
        assert_eq!(
            typed(&unknown),
            Err(ModelError::Lossy(vec!["/colour".to_owned()]))
        );
        let integer_decimal = json!({"resourceType": "Observation", "status": "final",
            "code": {"text": "x"}, "valueQuantity": {"value": 5}});
        assert!(typed(&integer_decimal).is_ok());
        assert!(matches!(
            typed(&json!({"resourceType": "Nope"})),
            Err(ModelError::Unreadable(_))
        ));
    }

    #[test]
    fn choice_elements_take_one_value_and_dates_must_exist() {
        let two = json!({"resourceType": "Observation", "valueString": "a", "valueQuantity": {"value": 1},
            "effectiveDateTime": "2023-02-30"});
        let problems = extra_checks(&two);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|(p, _)| p == "/effectiveDateTime"));
        assert!(
            extra_checks(&json!({"birthDate": "2024-02-29", "valueSet": "x", "value": 1}))
                .is_empty()
        );
    }

    #[test]
    fn decimals_are_answered_with_the_digits_they_were_given() -> Result<(), ModelError> {
        let lab = |value: Value| {
            json!({"resourceType": "Observation", "status": "final", "code": {"text": "TP"},
                   "valueQuantity": {"value": value, "unit": "g/dL"},
                   "referenceRange": [{"low": {"value": decimal("6.70")}, "text": "6.7-8.3"}]})
        };
        for (text, written) in [
            ("6.10", "6.10"),
            ("61.0", "61.0"),
            ("100", "100"),
            ("0.000", "0.000"),
            ("-2.50e+3", "-2.50e+3"),
        ] {
            let v = lab(decimal(text).ok_or(ModelError::Lossy(vec![text.to_owned()]))?);
            let bytes = String::from_utf8(to_bytes(&v)?).unwrap_or_default();
            let exact = |after: char| bytes.contains(&format!(r#""value":{written}{after}"#));
            assert!(exact(',') || exact('}'), "{bytes}");
            assert!(bytes.contains(r#""low":{"value":6.70}"#), "{bytes}");
            // What a client parses is the number.
            let back: Value = serde_json::from_str(&bytes).unwrap_or_default();
            assert_eq!(
                back["valueQuantity"]["value"].as_f64(),
                text.parse::<f64>().ok()
            );
        }
        for not_a_number in ["6,10", " 6.1", "+6.1", ".5", "1e999", "NaN", ""] {
            assert_eq!(decimal(not_a_number), None, "{not_a_number:?}");
        }
        Ok(())
    }

    #[test]
    fn only_this_process_placeholders_become_numbers() -> Result<(), ModelError> {
        // Stored text shaped like a placeholder, with another key, stays a string.
        let forged = "\u{0}gemj-decimal-00000000000000000000000000000000:6.10";
        let patient = json!({"resourceType": "Patient", "name": [{"text": forged}]});
        let bytes = to_bytes(&patient)?;
        let back: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(back["name"][0]["text"], forged);
        // A decimal where FHIR wants a string is checked as the number it is: refused.
        let misplaced = json!({"resourceType": "Patient", "gender": decimal("6.10")});
        assert!(matches!(
            to_bytes(&misplaced),
            Err(ModelError::Unreadable(_) | ModelError::Lossy(_))
        ));
        Ok(())
    }

    #[test]
    fn decimal_digits_are_counted_outside_strings() {
        assert_eq!(
            longest_decimal(br#"{"a": 1.50, "b": "123456789012345678"}"#),
            Some(3)
        );
        assert_eq!(
            longest_decimal(br#"{"v": 0.000012345678901234567}"#),
            Some(17)
        );
        assert_eq!(longest_decimal(br#"{"v": -1e300}"#), Some(1));
        assert_eq!(
            fhirpath("Observation", "/code/coding/0/system"),
            "Observation.code.coding[0].system"
        );
    }
}
