//! The 17 Genomics Operations of the Genomics Reporting IG 3.0.0: their definitions (the IG's
//! files, shipped under `schemas/official/fhir/genomics-reporting/operation-definitions`, served
//! corrected), their inputs read strictly from a GET query or a POST `Parameters` body, and the
//! IG's value syntaxes (ranges, variants, date ranges).

use serde_json::{Value, json};

use crate::outcome::{FhirError, IssueCode};
use crate::search::{DateRange, Prefix};

/// The operations, by name (the IG files' `id`).
pub const OPERATIONS: [&str; 17] = [
    "find-subject-variants",
    "find-subject-specific-variants",
    "find-subject-structural-intersecting-variants",
    "find-subject-structural-subsuming-variants",
    "find-subject-haplotypes",
    "find-subject-specific-haplotypes",
    "find-subject-tx-implications",
    "find-subject-dx-implications",
    "find-subject-molecular-consequences",
    "find-study-metadata",
    "find-population-specific-variants",
    "find-population-structural-intersecting-variants",
    "find-population-structural-subsuming-variants",
    "find-population-specific-haplotypes",
    "find-population-tx-implications",
    "find-population-dx-implications",
    "find-population-molecular-consequences",
];

/// The path of an operation's definition in the official schema set.
#[must_use]
pub fn definition_path(name: &str) -> String {
    format!("fhir/genomics-reporting/operation-definitions/OperationDefinition-{name}.json")
}

/// The IG's definition of an operation, as published.
///
/// # Errors
/// 404 for an operation that is not one of [`OPERATIONS`].
pub fn published_definition(name: &str) -> Result<std::sync::Arc<Value>, FhirError> {
    if !OPERATIONS.contains(&name) {
        return Err(FhirError::not_found(format!("no operation ${name}")));
    }
    gemj_schemas::SchemaSet::embedded()
        .document(&definition_path(name))
        .map_err(|_| FhirError::not_found(format!("the definition of ${name} is not shipped")))
}

/// The definition the gateway serves: the IG's, with `code` the operation's name (the IG's all
/// say `match`), `url` this server's, invoked at the system level (`[base]/$name`) and not on
/// a resource type, as the CapabilityStatement lists it. Its inputs and outputs are the IG's.
///
/// # Errors
/// As [`published_definition`].
pub fn served_definition(name: &str, base: &str) -> Result<Value, FhirError> {
    let mut d = (*published_definition(name)?).clone();
    d["code"] = json!(name);
    d["url"] = json!(format!("{base}/OperationDefinition/{name}"));
    d["system"] = json!(true);
    d["type"] = json!(false);
    d["instance"] = json!(false);
    if let Some(map) = d.as_object_mut() {
        map.remove("resource");
        map.remove("text");
    }
    d["status"] = json!("active");
    d["kind"] = json!("operation");
    Ok(d)
}

/// What an operation's answer does that its definition does not allow, one line each (empty when
/// it conforms): an output parameter or part that is not defined, one that appears fewer or more
/// times than its cardinality, or a value of another type than its definition's (`valueString`
/// for `string`, `valueCodeableConcept`, a `resource` of the named type). The check a client of the
/// IG makes of `Parameters` beyond the R4 schema.
///
/// # Errors
/// As [`published_definition`].
pub fn output_problems(name: &str, answer: &Value) -> Result<Vec<String>, FhirError> {
    let definition = published_definition(name)?;
    let outs: Vec<&Value> = definition["parameter"]
        .as_array()
        .map(|ps| ps.iter().filter(|p| p["use"] == "out").collect())
        .unwrap_or_default();
    let given = answer["parameter"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let mut problems = Vec::new();
    cardinality(&outs, given, "", &mut problems);
    for p in given {
        let Some(def) = outs.iter().find(|d| d["name"] == p["name"]) else {
            continue;
        };
        let Some(parts) = def["part"].as_array() else {
            value_type(def, p, "", &mut problems);
            continue;
        };
        let defs: Vec<&Value> = parts.iter().collect();
        let items = p["part"].as_array().map_or(&[][..], Vec::as_slice);
        let at = format!("{}.", p["name"].as_str().unwrap_or("?"));
        cardinality(&defs, items, &at, &mut problems);
        for item in items {
            if let Some(d) = defs.iter().find(|d| d["name"] == item["name"]) {
                value_type(d, item, &at, &mut problems);
            }
        }
    }
    Ok(problems)
}

fn cardinality(defs: &[&Value], given: &[Value], at: &str, problems: &mut Vec<String>) {
    for g in given {
        if !defs.iter().any(|d| d["name"] == g["name"]) {
            problems.push(format!("{at}{} is not defined", g["name"]));
        }
    }
    for d in defs {
        let name = d["name"].as_str().unwrap_or_default();
        let n = given.iter().filter(|g| g["name"] == name).count();
        let min = d["min"]
            .as_u64()
            .map_or(0, |m| usize::try_from(m).unwrap_or(usize::MAX));
        let max = d["max"].as_str().and_then(|m| m.parse::<usize>().ok());
        if n < min || max.is_some_and(|max| n > max) {
            problems.push(format!(
                "{at}{name} appears {n} times; its cardinality is {min}..{}",
                d["max"].as_str().unwrap_or("*")
            ));
        }
    }
}

fn value_type(def: &Value, given: &Value, at: &str, problems: &mut Vec<String>) {
    let name = def["name"].as_str().unwrap_or_default();
    // A data type is `value[x]` (`valueDateTime`, `valueCodeableConcept`; the R4 schema checks
    // its JSON), a resource type is `resource`.
    let ok = match def["type"].as_str() {
        Some(t) => {
            let mut chars = t.chars();
            let element = chars
                .next()
                .map(|c| format!("value{}{}", c.to_ascii_uppercase(), chars.as_str()))
                .unwrap_or_default();
            given.get(&element).is_some() || given["resource"]["resourceType"] == t
        }
        None => true,
    };
    if !ok {
        problems.push(format!(
            "{at}{name} is not a {}",
            def["type"].as_str().unwrap_or("?")
        ));
    }
}

/// A value of an operation input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputValue {
    /// A string or code.
    Text(String),
    /// A boolean.
    Boolean(bool),
    /// A date with a prefix (GET `testDateRange=ge2020-01`) or one bound of a Period.
    Date(Prefix, DateRange),
}

/// An operation's inputs, validated against its definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationInput {
    /// The operation.
    pub name: &'static str,
    /// `(parameter, value)` in request order; a parameter given several times has several.
    pub values: Vec<(String, InputValue)>,
}

impl OperationInput {
    /// The text values of `name`, with comma lists split (each value once).
    #[must_use]
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| match v {
                InputValue::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .flat_map(|t| t.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// Each occurrence of `name` as its own comma list (repeated occurrences are ANDed).
    #[must_use]
    pub fn text_groups(&self, name: &str) -> Vec<Vec<String>> {
        self.values
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| match v {
                InputValue::Text(t) => Some(
                    t.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    /// The single text value of `name`.
    #[must_use]
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.iter().find_map(|(n, v)| match v {
            InputValue::Text(t) if n == name => Some(t.as_str()),
            _ => None,
        })
    }

    /// The boolean `name`, or `default`.
    #[must_use]
    pub fn flag(&self, name: &str, default: bool) -> bool {
        self.values
            .iter()
            .find_map(|(n, v)| match v {
                InputValue::Boolean(b) if n == name => Some(*b),
                _ => None,
            })
            .unwrap_or(default)
    }

    /// The date conditions of `name` (ANDed).
    #[must_use]
    pub fn dates(&self, name: &str) -> Vec<(Prefix, DateRange)> {
        self.values
            .iter()
            .filter_map(|(n, v)| match v {
                InputValue::Date(p, r) if n == name => Some((*p, *r)),
                _ => None,
            })
            .collect()
    }
}

/// The input parameters of an operation: (name, min, max, FHIR type).
fn inputs(definition: &Value) -> Vec<(String, u64, Option<u64>, String)> {
    definition["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["use"] == "in")
        .map(|p| {
            let max = p["max"].as_str().and_then(|m| m.parse().ok());
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["min"].as_u64().unwrap_or(0),
                max,
                p["type"].as_str().unwrap_or("string").to_owned(),
            )
        })
        .collect()
}

/// Reads an operation's inputs from GET query pairs (`_format` and other `_` parameters
/// excepted).
///
/// # Errors
/// 404 for an unknown operation; 400 naming the parameter for an unknown parameter, a
/// repeated one whose `max` is 1, a missing required one, or a malformed value.
pub fn input_from_query(
    name: &str,
    pairs: &[(String, String)],
) -> Result<OperationInput, FhirError> {
    let definition = published_definition(name)?;
    let specs = inputs(&definition);
    let mut values = Vec::new();
    for (key, raw) in pairs {
        if key.starts_with('_') {
            continue;
        }
        let Some((_, _, _, kind)) = specs.iter().find(|(n, ..)| n == key) else {
            return Err(unknown(name, key, &specs));
        };
        let value = match kind.as_str() {
            "boolean" => InputValue::Boolean(parse_bool(key, raw)?),
            "Period" => {
                let (prefix, range) = prefixed_date(raw).ok_or_else(|| {
                    FhirError::bad_request(
                        IssueCode::Value,
                        key,
                        format!("{key} takes a date with a prefix (ge2020-01-01, le2023), repeated for a range"),
                    )
                })?;
                InputValue::Date(prefix, range)
            }
            _ => InputValue::Text(raw.clone()),
        };
        values.push((key.clone(), value));
    }
    finish(name, &specs, values)
}

/// Reads an operation's inputs from a POST `Parameters` resource.
///
/// # Errors
/// As [`input_from_query`], and 400 when the body is not a `Parameters` resource or a value has
/// the wrong type.
pub fn input_from_parameters(name: &str, body: &Value) -> Result<OperationInput, FhirError> {
    let definition = published_definition(name)?;
    let specs = inputs(&definition);
    if body.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(FhirError::bad_request(
            IssueCode::Structure,
            "resourceType",
            format!("${name} takes a Parameters resource"),
        ));
    }
    let mut values = Vec::new();
    for (i, p) in body["parameter"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("Parameters.parameter[{i}]");
        let key = p["name"].as_str().unwrap_or_default().to_owned();
        let Some((_, _, _, kind)) = specs.iter().find(|(n, ..)| *n == key) else {
            return Err(unknown(name, &key, &specs).with_expression(&at));
        };
        let wrong = |expected: &str| {
            FhirError::bad_request(
                IssueCode::Value,
                &at,
                format!("{key} takes value{expected}"),
            )
        };
        match kind.as_str() {
            "boolean" => {
                let b = p["valueBoolean"]
                    .as_bool()
                    .ok_or_else(|| wrong("Boolean"))?;
                values.push((key, InputValue::Boolean(b)));
            }
            "Period" => {
                let period = p.get("valuePeriod").ok_or_else(|| wrong("Period"))?;
                let bound =
                    |field: &str, prefix: Prefix| -> Result<Option<InputValue>, FhirError> {
                        match period.get(field).and_then(Value::as_str) {
                            None => Ok(None),
                            Some(s) => DateRange::parse(s)
                                .map(|r| Some(InputValue::Date(prefix, r)))
                                .ok_or_else(|| wrong("Period with FHIR dateTimes")),
                        }
                    };
                let start = bound("start", Prefix::Ge)?;
                let end = bound("end", Prefix::Le)?;
                if start.is_none() && end.is_none() {
                    return Err(wrong("Period with a start or an end"));
                }
                values.extend(start.into_iter().chain(end).map(|v| (key.clone(), v)));
            }
            _ => {
                let text = ["valueString", "valueCode", "valueUri"]
                    .iter()
                    .find_map(|f| p.get(*f).and_then(Value::as_str))
                    .ok_or_else(|| wrong("String"))?;
                values.push((key, InputValue::Text(text.to_owned())));
            }
        }
    }
    finish(name, &specs, values)
}

fn finish(
    name: &str,
    specs: &[(String, u64, Option<u64>, String)],
    values: Vec<(String, InputValue)>,
) -> Result<OperationInput, FhirError> {
    for (param, min, max, kind) in specs {
        let n = values.iter().filter(|(k, _)| k == param).count() as u64;
        // A Period arrives as up to two bounds (or repeated prefixed dates in a GET).
        let n = if kind == "Period" { n.min(1) } else { n };
        if n < *min {
            return Err(FhirError::bad_request(
                IssueCode::Required,
                param,
                format!("${name} needs {param}"),
            ));
        }
        if let Some(max) = max
            && n > *max
        {
            return Err(FhirError::bad_request(
                IssueCode::Value,
                param,
                format!("{param} is given at most {max} time(s) in ${name}"),
            ));
        }
    }
    let name = OPERATIONS
        .iter()
        .find(|o| **o == name)
        .copied()
        .unwrap_or("find-subject-variants");
    Ok(OperationInput { name, values })
}

fn unknown(op: &str, key: &str, specs: &[(String, u64, Option<u64>, String)]) -> FhirError {
    let known: Vec<&str> = specs.iter().map(|(n, ..)| n.as_str()).collect();
    FhirError::bad_request(
        IssueCode::NotSupported,
        key,
        format!(
            "${op} has no parameter {key} (it takes {})",
            known.join(", ")
        ),
    )
}

fn parse_bool(key: &str, raw: &str) -> Result<bool, FhirError> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(FhirError::bad_request(
            IssueCode::Value,
            key,
            format!("{key} is true or false"),
        )),
    }
}

fn prefixed_date(raw: &str) -> Option<(Prefix, DateRange)> {
    let (prefix, rest) = match raw.get(0..2) {
        Some("ge") => (Prefix::Ge, &raw[2..]),
        Some("gt") => (Prefix::Gt, &raw[2..]),
        Some("le") => (Prefix::Le, &raw[2..]),
        Some("lt") => (Prefix::Lt, &raw[2..]),
        Some("eq") => (Prefix::Eq, &raw[2..]),
        Some("sa") => (Prefix::Sa, &raw[2..]),
        Some("eb") => (Prefix::Eb, &raw[2..]),
        Some("ap") => (Prefix::Ap, &raw[2..]),
        _ => (Prefix::Eq, raw),
    };
    DateRange::parse(rest).map(|r| (prefix, r))
}

/// A genomic range of the IG: `NC_000007.14:140713327-140924929`, the sequence's RefSeq
/// accession, 0-based, start inclusive, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// The reference sequence as written.
    pub sequence: String,
    /// 0-based start, inclusive.
    pub start: u64,
    /// 0-based end, exclusive.
    pub end: u64,
    /// The text as given (echoed in `rangeItem`).
    pub text: String,
}

impl Range {
    /// Parses a range.
    ///
    /// # Errors
    /// 400 `value` naming `param` when it is not `sequence:start-end` with `start < end`.
    pub fn parse(param: &str, text: &str) -> Result<Self, FhirError> {
        let bad = || {
            FhirError::bad_request(
                IssueCode::Value,
                param,
                format!(
                    "{param}: {text:?} is not a range `RefSeq:start-end` (0-based, start inclusive, end exclusive, start < end)"
                ),
            )
        };
        let (sequence, span) = text.rsplit_once(':').ok_or_else(bad)?;
        let (start, end) = span.split_once('-').ok_or_else(bad)?;
        let start: u64 = start.trim().parse().map_err(|_| bad())?;
        let end: u64 = end.trim().parse().map_err(|_| bad())?;
        if sequence.is_empty() || start >= end {
            return Err(bad());
        }
        Ok(Self {
            sequence: sequence.trim().to_owned(),
            start,
            end,
            text: text.to_owned(),
        })
    }
}

/// A variant as the IG's `variants` parameter may write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariantSpec {
    /// SPDI `NC_000001.11:100:A:G` (0-based position; the deleted sequence or its length).
    Spdi {
        /// Reference sequence.
        sequence: String,
        /// 0-based position.
        position: u64,
        /// Deleted bases (empty for a pure insertion) or their count.
        deleted: String,
        /// Inserted bases.
        inserted: String,
    },
    /// A genomic HGVS expression (`NC_000001.11:g.101A>G`).
    GenomicHgvs(String),
    /// A coding HGVS expression (`NM_000546.6:c.215C>G`), resolved through the transcript
    /// annotations stored with the variants.
    CodingHgvs(String),
    /// VCF-style `chrom-pos-ref-alt` (1-based: `17-7674220-C-T`, `chr17-...`).
    Vcf {
        /// Chromosome as written.
        chrom: String,
        /// 1-based position.
        position: u64,
        /// Reference allele.
        reference: String,
        /// Alternate allele.
        alternate: String,
    },
    /// A variant identifier (`rs334`, `clinvar:12345`): found only where the store holds it.
    Identifier(String),
}

impl VariantSpec {
    /// Recognises the notation.
    ///
    /// # Errors
    /// 400 `value` naming `param` when it is none of them.
    pub fn parse(param: &str, text: &str) -> Result<Self, FhirError> {
        let bad = || {
            FhirError::bad_request(
                IssueCode::Value,
                param,
                format!(
                    "{param}: {text:?} is not a variant (SPDI seq:pos:del:ins, genomic HGVS seq:g.…, coding HGVS NM_…:c.…, VCF-style chrom-pos-ref-alt, or rs/ClinVar id)"
                ),
            )
        };
        let bases = |s: &str| s.bytes().all(|b| b"ACGTNacgtn".contains(&b));
        if text.contains(":g.") || text.contains(":m.") {
            return Ok(Self::GenomicHgvs(text.to_owned()));
        }
        if text.contains(":c.") || text.contains(":n.") || text.contains(":p.") {
            return Ok(Self::CodingHgvs(text.to_owned()));
        }
        let lower = text.to_ascii_lowercase();
        if (lower.starts_with("rs")
            && text[2..].bytes().all(|b| b.is_ascii_digit())
            && text.len() > 2)
            || lower.starts_with("clinvar:")
        {
            return Ok(Self::Identifier(text.to_owned()));
        }
        let parts: Vec<&str> = text.split(':').collect();
        if let [sequence, position, deleted, inserted] = parts.as_slice() {
            let position: u64 = position.parse().map_err(|_| bad())?;
            let deleted_ok = bases(deleted) || deleted.bytes().all(|b| b.is_ascii_digit());
            if sequence.is_empty() || !deleted_ok || !bases(inserted) {
                return Err(bad());
            }
            return Ok(Self::Spdi {
                sequence: (*sequence).to_owned(),
                position,
                deleted: deleted.to_ascii_uppercase(),
                inserted: inserted.to_ascii_uppercase(),
            });
        }
        let parts: Vec<&str> = text.rsplitn(4, '-').collect();
        if let [alternate, reference, position, chrom] = parts.as_slice() {
            let position: u64 = position.parse().map_err(|_| bad())?;
            if chrom.is_empty()
                || reference.is_empty()
                || !bases(reference)
                || !bases(alternate)
                || alternate.is_empty()
                || position == 0
            {
                return Err(bad());
            }
            return Ok(Self::Vcf {
                chrom: (*chrom).to_owned(),
                position,
                reference: reference.to_ascii_uppercase(),
                alternate: alternate.to_ascii_uppercase(),
            });
        }
        Err(bad())
    }
}

/// A `Parameters` resource of `parameter` entries.
#[must_use]
pub fn parameters(parameter: Vec<Value>) -> Value {
    if parameter.is_empty() {
        return json!({"resourceType": "Parameters"});
    }
    json!({"resourceType": "Parameters", "parameter": parameter})
}

/// Sequence Ontology ids of the consequence terms variant annotators write (Ensembl VEP's
/// calculated consequences, which SnpEff's `ANN` shares), for the IG's `feature-consequence`.
pub const SO_CONSEQUENCES: [(&str, &str); 23] = [
    ("transcript_ablation", "SO:0001893"),
    ("splice_acceptor_variant", "SO:0001574"),
    ("splice_donor_variant", "SO:0001575"),
    ("stop_gained", "SO:0001587"),
    ("frameshift_variant", "SO:0001589"),
    ("stop_lost", "SO:0001578"),
    ("start_lost", "SO:0002012"),
    ("inframe_insertion", "SO:0001821"),
    ("inframe_deletion", "SO:0001822"),
    ("missense_variant", "SO:0001583"),
    ("protein_altering_variant", "SO:0001818"),
    ("splice_region_variant", "SO:0001630"),
    ("synonymous_variant", "SO:0001819"),
    ("stop_retained_variant", "SO:0001567"),
    ("start_retained_variant", "SO:0002019"),
    ("coding_sequence_variant", "SO:0001580"),
    ("5_prime_UTR_variant", "SO:0001623"),
    ("3_prime_UTR_variant", "SO:0001624"),
    ("non_coding_transcript_exon_variant", "SO:0001792"),
    ("intron_variant", "SO:0001627"),
    ("upstream_gene_variant", "SO:0001631"),
    ("downstream_gene_variant", "SO:0001632"),
    ("intergenic_variant", "SO:0001628"),
];

/// The Sequence Ontology id of a consequence term, if it is one of [`SO_CONSEQUENCES`].
///
/// ```
/// assert_eq!(gemj_fhir::genomics::so_id("missense_variant"), Some("SO:0001583"));
/// assert_eq!(gemj_fhir::genomics::so_id("made_up"), None);
/// ```
#[must_use]
pub fn so_id(term: &str) -> Option<&'static str> {
    SO_CONSEQUENCES
        .iter()
        .find(|(t, _)| *t == term)
        .map(|(_, id)| *id)
}

/// The LOINC answer (LL4034-6) of a ClinVar clinical significance term.
///
/// ```
/// assert_eq!(gemj_fhir::genomics::clinical_significance("Likely pathogenic"), Some(("LA26332-9", "Likely pathogenic")));
/// assert_eq!(gemj_fhir::genomics::clinical_significance("drug response"), None);
/// ```
#[must_use]
pub fn clinical_significance(term: &str) -> Option<(&'static str, &'static str)> {
    const ANSWERS: [(&str, &str); 5] = [
        ("LA6668-3", "Pathogenic"),
        ("LA26332-9", "Likely pathogenic"),
        ("LA26333-7", "Uncertain significance"),
        ("LA26334-5", "Likely benign"),
        ("LA6675-8", "Benign"),
    ];
    ANSWERS
        .iter()
        .find(|(_, display)| display.eq_ignore_ascii_case(term))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_shipped_and_served_corrected() -> Result<(), FhirError> {
        for name in OPERATIONS {
            let published = published_definition(name)?;
            assert_eq!(
                published["code"], "match",
                "{name}: the IG's defect this corrects"
            );
            let served = served_definition(name, "https://gw/fhir")?;
            assert_eq!(served["code"], name);
            assert_eq!(served["system"], true);
            let typed = crate::model::typed(&served);
            assert!(typed.is_ok(), "{name}: {typed:?}");
        }
        Ok(())
    }

    #[test]
    fn inputs_are_read_strictly() -> Result<(), FhirError> {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        let input = input_from_query(
            "find-subject-variants",
            &q(&[
                ("subject", "Patient/P1"),
                ("ranges", "NC_000001.11:0-100,NC_000002.12:5-6"),
                ("testDateRange", "ge2020-01"),
                ("testDateRange", "le2023"),
                ("includeVariants", "true"),
            ]),
        )?;
        assert_eq!(input.texts("ranges").len(), 2);
        assert!(input.flag("includeVariants", false));
        assert_eq!(input.dates("testDateRange").len(), 2);
        let status = |r: Result<OperationInput, FhirError>| r.map(|_| ()).map_err(|e| e.status);
        assert_eq!(
            status(input_from_query(
                "find-subject-variants",
                &q(&[("ranges", "x:1-2")])
            )),
            Err(400)
        );
        assert_eq!(
            status(input_from_query(
                "find-subject-variants",
                &q(&[("subject", "a"), ("subject", "b"), ("ranges", "x:1-2")])
            )),
            Err(400)
        );
        assert_eq!(
            status(input_from_query(
                "find-subject-variants",
                &q(&[("subject", "a"), ("ranges", "x:1-2"), ("colour", "x")])
            )),
            Err(400)
        );
        assert_eq!(
            status(input_from_query(
                "find-subject-variants",
                &q(&[
                    ("subject", "a"),
                    ("ranges", "x:1-2"),
                    ("includeVariants", "yes")
                ])
            )),
            Err(400)
        );
        assert_eq!(status(input_from_query("nope", &q(&[]))), Err(404));
        let body = json!({"resourceType": "Parameters", "parameter": [
            {"name": "subject", "valueString": "P1"},
            {"name": "ranges", "valueString": "NC_000001.11:0-100"},
            {"name": "testDateRange", "valuePeriod": {"start": "2020-01-01", "end": "2023-12-31"}}]});
        let input = input_from_parameters("find-subject-variants", &body)?;
        assert_eq!(input.dates("testDateRange").len(), 2);
        Ok(())
    }

    #[test]
    fn ranges_and_variants() -> Result<(), FhirError> {
        let r = Range::parse("ranges", "NC_000007.14:140713327-140924929")?;
        assert_eq!((r.start, r.end), (140_713_327, 140_924_929));
        assert!(Range::parse("ranges", "NC_000007.14:10-10").is_err());
        assert!(matches!(
            VariantSpec::parse("variants", "NC_000001.11:100:A:G")?,
            VariantSpec::Spdi { position: 100, .. }
        ));
        assert!(matches!(
            VariantSpec::parse("variants", "NC_000001.11:g.101A>G")?,
            VariantSpec::GenomicHgvs(_)
        ));
        assert!(matches!(
            VariantSpec::parse("variants", "NM_000546.6:c.215C>G")?,
            VariantSpec::CodingHgvs(_)
        ));
        assert!(matches!(
            VariantSpec::parse("variants", "chr17-7674220-C-T")?,
            VariantSpec::Vcf {
                position: 7_674_220,
                ..
            }
        ));
        assert!(matches!(
            VariantSpec::parse("variants", "rs334")?,
            VariantSpec::Identifier(_)
        ));
        assert!(VariantSpec::parse("variants", "hello").is_err());
        Ok(())
    }
}
