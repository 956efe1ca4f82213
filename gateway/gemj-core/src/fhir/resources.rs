//! The resources served, built from the store: Patient, Condition, Specimen, Observation
//! (laboratory results and the IG's Variant), DocumentReference (the IG's genomic-data-file),
//! Consent (read-only) and Organization; their search parameters; read and search.

use gemj_fhir::capability::ResourceCapability;
use gemj_fhir::profiles;
use gemj_fhir::search::{DateRange, ParamSpec, ParamType, SearchRequest, SearchValue};
use gemj_model::{
    ConsentStatus, DataFormat, Diagnosis, Measurement, ParticipantId, Sex, Specimen, SpecimenType,
};
use serde_json::{Value, json};

use super::operations::FoundVariant;
use super::{Compartments, FhirFailure, FhirService, PATIENT, SUBJECT};

/// The GeMJ participant id system (see the fixture README: a placeholder namespace).
pub(crate) const SUBJECT_SYSTEM: &str = "http://gemj.example.jp/id/subject";
/// The GeMJ specimen id system.
pub(crate) const SPECIMEN_SYSTEM: &str = "http://gemj.example.jp/id/specimen";
/// ICD-10 (WHO), the canonical dotted form.
pub(crate) const ICD10_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10";
/// JLAC10 laboratory codes (JP Core).
pub(crate) const JLAC10_SYSTEM: &str = "urn:oid:1.2.392.200119.4.504";
/// The JP Core system of medical-institution codes.
pub(crate) const INSTITUTION_SYSTEM: &str =
    "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no";
const LOINC: &str = "http://loinc.org";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const V2_0487: &str = "http://terminology.hl7.org/CodeSystem/v2-0487";

/// A resource type served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Patient,
    Condition,
    Specimen,
    Observation,
    DocumentReference,
    Consent,
    Organization,
    DiagnosticReport,
    Procedure,
}

const PATIENT_PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "identifier",
        kind: ParamType::Token,
        documentation: "GeMJ id (http://gemj.example.jp/id/subject); hospital ids (JP Core) for the owning institution only.",
    },
    ParamSpec {
        name: "gender",
        kind: ParamType::Token,
        documentation: "Administrative gender.",
    },
    ParamSpec {
        name: "birthdate",
        kind: ParamType::Date,
        documentation: "Birth date at the precision the caller may see (year and month for researchers).",
    },
];
const CONDITION_PARAMS: &[ParamSpec] = &[
    SUBJECT,
    PATIENT,
    ParamSpec {
        name: "code",
        kind: ParamType::Token,
        documentation: "ICD-10 (dotted, http://hl7.org/fhir/sid/icd-10) or any source coding.",
    },
    ParamSpec {
        name: "onset-date",
        kind: ParamType::Date,
        documentation: "Onset, at its own precision (a year stays a year).",
    },
    ParamSpec {
        name: "recorded-date",
        kind: ParamType::Date,
        documentation: "Date recorded or diagnosed.",
    },
];
const SPECIMEN_PARAMS: &[ParamSpec] = &[
    SUBJECT,
    PATIENT,
    ParamSpec {
        name: "identifier",
        kind: ParamType::Token,
        documentation: "Specimen id (http://gemj.example.jp/id/specimen).",
    },
    ParamSpec {
        name: "type",
        kind: ParamType::Token,
        documentation: "v2-0487 material (BLD, TISS, SER, PLAS, DNA).",
    },
    ParamSpec {
        name: "collected",
        kind: ParamType::Date,
        documentation: "Collection date.",
    },
    ParamSpec {
        name: "parent",
        kind: ParamType::Reference,
        documentation: "The specimen it was derived from.",
    },
];
const OBSERVATION_PARAMS: &[ParamSpec] = &[
    SUBJECT,
    PATIENT,
    ParamSpec {
        name: "code",
        kind: ParamType::Token,
        documentation: "JLAC10 or LOINC result code; LOINC 69548-6 for the IG's Variant.",
    },
    ParamSpec {
        name: "category",
        kind: ParamType::Token,
        documentation: "laboratory (all), GE (v2-0074: genomic variants only).",
    },
    ParamSpec {
        name: "date",
        kind: ParamType::Date,
        documentation: "Effective date (laboratory results).",
    },
    ParamSpec {
        name: "specimen",
        kind: ParamType::Reference,
        documentation: "The specimen in whose calls a variant was found.",
    },
];
const DOCUMENT_PARAMS: &[ParamSpec] = &[
    SUBJECT,
    PATIENT,
    ParamSpec {
        name: "identifier",
        kind: ParamType::Token,
        documentation: "The DRS id of the file.",
    },
];
const CONSENT_PARAMS: &[ParamSpec] = &[PATIENT];
const ANALYSIS_PARAMS: &[ParamSpec] = &[
    SUBJECT,
    PATIENT,
    ParamSpec {
        name: "identifier",
        kind: ParamType::Token,
        documentation: "The analysis id (http://gemj.example.jp/id/analysis).",
    },
    ParamSpec {
        name: "date",
        kind: ParamType::Date,
        documentation: "The analysis date.",
    },
];
const ORGANIZATION_PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "identifier",
    kind: ParamType::Token,
    documentation: "The medical-institution code.",
}];

/// The resource types served, in the order the CapabilityStatement lists them.
pub const RESOURCES: [&str; 9] = [
    "Patient",
    "Condition",
    "Specimen",
    "Observation",
    "DocumentReference",
    "DiagnosticReport",
    "Procedure",
    "Consent",
    "Organization",
];

impl Kind {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Patient" => Self::Patient,
            "Condition" => Self::Condition,
            "Specimen" => Self::Specimen,
            "Observation" => Self::Observation,
            "DocumentReference" => Self::DocumentReference,
            "Consent" => Self::Consent,
            "Organization" => Self::Organization,
            "DiagnosticReport" => Self::DiagnosticReport,
            "Procedure" => Self::Procedure,
            _ => return None,
        })
    }

    pub(crate) fn params(self) -> &'static [ParamSpec] {
        match self {
            Self::Patient => PATIENT_PARAMS,
            Self::Condition => CONDITION_PARAMS,
            Self::Specimen => SPECIMEN_PARAMS,
            Self::Observation => OBSERVATION_PARAMS,
            Self::DocumentReference => DOCUMENT_PARAMS,
            Self::Consent => CONSENT_PARAMS,
            Self::Organization => ORGANIZATION_PARAMS,
            Self::DiagnosticReport | Self::Procedure => ANALYSIS_PARAMS,
        }
    }

    pub(crate) fn sortable(self) -> &'static [&'static str] {
        match self {
            Self::Condition => &["recorded-date", "onset-date"],
            Self::Specimen => &["collected"],
            Self::Observation | Self::DiagnosticReport | Self::Procedure => &["date"],
            _ => &[],
        }
    }
}

/// What the CapabilityStatement says of each type.
#[must_use]
pub fn resource_capabilities() -> Vec<ResourceCapability> {
    RESOURCES
        .iter()
        .filter_map(|t| Kind::parse(t).map(|k| (*t, k)))
        .map(|(t, k)| ResourceCapability {
            resource_type: t,
            profile: match k {
                Kind::DocumentReference => Some(profiles::GENOMIC_DATA_FILE),
                Kind::DiagnosticReport => Some(profiles::GENOMIC_REPORT),
                Kind::Procedure => Some(profiles::GENOMIC_STUDY),
                _ => None,
            },
            supported_profiles: match k {
                Kind::Observation => &[
                    profiles::VARIANT,
                    profiles::MOLECULAR_CONSEQUENCE,
                    profiles::DIAGNOSTIC_IMPLICATION,
                    profiles::THERAPEUTIC_IMPLICATION,
                    profiles::GENOTYPE,
                    profiles::HAPLOTYPE,
                ],
                _ => &[],
            },
            search: k.params(),
            sortable: k.sortable(),
            create: matches!(
                k,
                Kind::Patient
                    | Kind::Condition
                    | Kind::Specimen
                    | Kind::Observation
                    | Kind::Consent
            ),
        })
        .collect()
}

/// One resource with the participant it is about (none for an Organization).
pub(crate) type Owned = (Value, Option<ParticipantId>);

/// Reads one resource of `kind` by id, if it exists for the caller.
pub(crate) async fn read(
    service: &FhirService,
    c: &Compartments,
    kind: Kind,
    id: &str,
) -> Result<Option<Owned>, FhirFailure> {
    // Every id but an Organization's starts with its participant's id, or is a specimen or
    // an object whose participant the store knows.
    let store = &service.core.store;
    let owner: Option<ParticipantId> = match kind {
        Kind::Organization => {
            let all = organizations(service, c).await?;
            return Ok(all.into_iter().find(|(r, _)| r["id"] == id));
        }
        Kind::Specimen => {
            let Ok(sid) = gemj_model::SpecimenId::parse(id) else {
                return Ok(None);
            };
            store.get_specimen(&sid).await?.map(|s| s.participant)
        }
        Kind::DocumentReference => {
            let Ok(oid) = gemj_model::ObjectId::parse(id) else {
                return Ok(None);
            };
            store.get_object(&oid).await?.and_then(|o| o.participant)
        }
        Kind::Patient => ParticipantId::parse(id).ok(),
        _ => id
            .split_once('.')
            .and_then(|(p, _)| ParticipantId::parse(p).ok()),
    };
    let Some(owner) = owner else { return Ok(None) };
    if !c.participants.contains_key(&owner) {
        return Ok(None);
    }
    let all = of_participant(service, c, kind, &owner, None).await?;
    Ok(all.into_iter().find(|(r, _)| r["id"] == id))
}

/// Every resource of `kind` matching the search, sorted.
pub(crate) async fn search(
    service: &FhirService,
    c: &Compartments,
    kind: Kind,
    request: &SearchRequest,
) -> Result<Vec<Owned>, FhirFailure> {
    let mut out: Vec<Owned> = Vec::new();
    if kind == Kind::Organization {
        out = organizations(service, c).await?;
    } else {
        // A subject or patient criterion narrows the participants read.
        let mut candidates: Vec<ParticipantId> = c.participants.keys().cloned().collect();
        for criterion in &request.criteria {
            if criterion.name == "subject" || criterion.name == "patient" {
                candidates.retain(|p| {
                    criterion
                        .values
                        .iter()
                        .any(|v| v.names("Patient", p.as_str()))
                });
            }
        }
        if kind == Kind::Patient
            && let Some(ids) = &request.ids
        {
            candidates.retain(|p| ids.iter().any(|i| i == p.as_str()));
        }
        // Variants are listed for one participant at a time (each costs a scan of its
        // datasets' variant index); a search over everyone lists laboratory results.
        let with_variants = candidates.len() == 1;
        for p in &candidates {
            let found = of_participant(service, c, kind, p, Some(with_variants)).await?;
            out.extend(found);
        }
    }
    out.retain(|(r, _)| matches_all(kind, r, request));
    for (key, desc) in request.sort.iter().rev() {
        out.sort_by(|(a, _), (b, _)| {
            let (a, b) = (sort_key(kind, key, a), sort_key(kind, key, b));
            if *desc { b.cmp(&a) } else { a.cmp(&b) }
        });
    }
    Ok(out)
}

fn sort_key(kind: Kind, key: &str, r: &Value) -> String {
    let field = match (kind, key) {
        (Kind::Observation | Kind::DiagnosticReport, "date") => "/effectiveDateTime",
        (Kind::Procedure, "date") => "/performedDateTime",
        (Kind::Condition, "recorded-date") => "/recordedDate",
        (Kind::Condition, "onset-date") => "/onsetDateTime",
        (Kind::Specimen, "collected") => "/collection/collectedDateTime",
        _ => "/id",
    };
    r.pointer(field)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn matches_all(kind: Kind, r: &Value, request: &SearchRequest) -> bool {
    if let Some(ids) = &request.ids
        && !ids.iter().any(|i| r["id"] == i.as_str())
    {
        return false;
    }
    request.criteria.iter().all(|criterion| {
        criterion
            .values
            .iter()
            .any(|v| matches_one(kind, r, criterion.name, criterion.modifier.as_deref(), v))
    })
}

fn codings<'a>(v: &'a Value, pointer: &str) -> Vec<(Option<&'a str>, &'a str)> {
    let node = v.pointer(pointer);
    let list: Vec<&Value> = match node {
        Some(Value::Array(items)) => items
            .iter()
            .flat_map(|i| i["coding"].as_array().into_iter().flatten())
            .collect(),
        Some(n) => n["coding"].as_array().into_iter().flatten().collect(),
        None => Vec::new(),
    };
    list.into_iter()
        .filter_map(|c| c["code"].as_str().map(|code| (c["system"].as_str(), code)))
        .collect()
}

fn identifiers(v: &Value) -> Vec<(Option<&str>, &str)> {
    v["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i["value"]
                .as_str()
                .map(|value| (i["system"].as_str(), value))
        })
        .collect()
}

fn date_matches(r: &Value, pointer: &str, v: &SearchValue) -> bool {
    let SearchValue::Date(prefix, range) = v else {
        return false;
    };
    r.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(DateRange::parse)
        .is_some_and(|target| range.matches(*prefix, &target))
}

fn reference_matches(r: &Value, pointer: &str, v: &SearchValue) -> bool {
    let refs: Vec<&str> = match r.pointer(pointer) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i["reference"].as_str())
            .collect(),
        Some(n) => n["reference"].as_str().into_iter().collect(),
        None => Vec::new(),
    };
    refs.iter().any(|reference| {
        reference
            .split_once('/')
            .is_some_and(|(t, id)| v.names(t, id))
    })
}

fn matches_one(kind: Kind, r: &Value, name: &str, modifier: Option<&str>, v: &SearchValue) -> bool {
    let token = |list: Vec<(Option<&str>, &str)>| list.iter().any(|(s, c)| v.matches_coding(*s, c));
    match (kind, name) {
        (_, "subject" | "patient") => {
            reference_matches(r, "/subject", v)
                || reference_matches(r, "/patient", v)
                || (kind == Kind::Patient
                    && v.names("Patient", r["id"].as_str().unwrap_or_default()))
        }
        (_, "identifier") => token(identifiers(r)),
        (Kind::Patient, "gender") => r["gender"]
            .as_str()
            .is_some_and(|g| v.matches_coding(None, g)),
        (Kind::Patient, "birthdate") => date_matches(r, "/birthDate", v),
        (Kind::Condition, "code") | (Kind::Observation, "code") => token(codings(r, "/code")),
        (Kind::Condition, "onset-date") => date_matches(r, "/onsetDateTime", v),
        (Kind::Condition, "recorded-date") => date_matches(r, "/recordedDate", v),
        (Kind::Specimen, "type") => token(codings(r, "/type")),
        (Kind::Specimen, "collected") => date_matches(r, "/collection/collectedDateTime", v),
        (Kind::Specimen, "parent") => reference_matches(r, "/parent", v),
        (Kind::Observation, "category") => token(codings(r, "/category")),
        (Kind::Observation, "date") => date_matches(r, "/effectiveDateTime", v),
        (Kind::Observation, "specimen") => reference_matches(r, "/specimen", v),
        (Kind::DiagnosticReport, "date") => date_matches(r, "/effectiveDateTime", v),
        (Kind::Procedure, "date") => date_matches(r, "/performedDateTime", v),
        _ => {
            let _ = modifier;
            false
        }
    }
}

/// The resources of `kind` about one visible participant. `with_variants`: whether variant
/// Observations are built (`None`: yes, for a read).
async fn of_participant(
    service: &FhirService,
    c: &Compartments,
    kind: Kind,
    p: &ParticipantId,
    with_variants: Option<bool>,
) -> Result<Vec<Owned>, FhirFailure> {
    let store = &service.core.store;
    let owned = |v: Value| (v, Some(p.clone()));
    Ok(match kind {
        Kind::Patient => patient(service, c, p)
            .await?
            .into_iter()
            .map(owned)
            .collect(),
        Kind::Condition => store
            .diagnoses_of(p)
            .await?
            .iter()
            .map(condition)
            .map(owned)
            .collect(),
        Kind::Specimen => store
            .specimens_of(p)
            .await?
            .iter()
            .filter(|s| s.biobank_sample)
            .map(specimen)
            .map(owned)
            .collect(),
        Kind::Observation => {
            let mut out: Vec<Owned> = store
                .measurements_of(p)
                .await?
                .iter()
                .map(laboratory)
                .map(owned)
                .collect();
            if with_variants.unwrap_or(true) {
                let variants = super::operations::variants_of(service, c, p, None).await?;
                out.extend(
                    variants
                        .into_iter()
                        .flat_map(FoundVariant::into_observations)
                        .map(owned),
                );
            }
            out
        }
        Kind::DocumentReference => store
            .objects_of_participant(p)
            .await?
            .iter()
            .map(|o| document(o, p, &c.base))
            .map(owned)
            .collect(),
        Kind::Consent => match store.consent_state(p).await? {
            Some(state) => vec![owned(consent(&state))],
            None => Vec::new(),
        },
        Kind::DiagnosticReport | Kind::Procedure => analyses(service, p, kind)
            .await?
            .into_iter()
            .map(owned)
            .collect(),
        Kind::Organization => Vec::new(),
    })
}

/// The participant's analyses as the IG's genomic-report (DiagnosticReport) or genomic-study
/// (Procedure): one per analysis of a run of one of the participant's specimens.
async fn analyses(
    service: &FhirService,
    p: &ParticipantId,
    kind: Kind,
) -> Result<Vec<Value>, FhirFailure> {
    let index = service.beacon.index().await?;
    let Some(person) = index.person_by_id(p.as_str()) else {
        return Ok(Vec::new());
    };
    let mut seen = std::collections::BTreeMap::new();
    for s in index.specimens_of(person.ordinal) {
        for run in index.runs_of(s.id.as_str()) {
            for a in index.analyses_of_run(run.id.as_str()) {
                seen.entry(a.id.to_string())
                    .or_insert_with(|| (a.clone(), Vec::new()))
                    .1
                    .push(s.id.to_string());
            }
        }
    }
    Ok(seen
        .into_values()
        .map(|(a, specimens)| {
            let identifier = json!([{"system": "http://gemj.example.jp/id/analysis", "value": a.id.as_str()}]);
            let specimens: Vec<Value> = specimens.iter().map(|s| json!({"reference": format!("Specimen/{s}")})).collect();
            let date = a.analysis_date.map(|d| d.to_string());
            let method = format!(
                "{} {}{}",
                a.pipeline_name,
                a.pipeline_version,
                a.variant_caller.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
            );
            let mut v = if kind == Kind::DiagnosticReport {
                json!({
                    "resourceType": "DiagnosticReport",
                    "id": format!("{p}.report.{}", a.id),
                    "meta": {"profile": [profiles::GENOMIC_REPORT]},
                    "identifier": identifier,
                    "status": "final",
                    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}]}],
                    "code": {"coding": [{"system": LOINC, "code": "51969-4", "display": "Genetic analysis report"}]},
                    "subject": {"reference": format!("Patient/{p}")},
                    "specimen": specimens,
                    "conclusion": format!("Variants called on {} by {method}; query them with $find-subject-variants.", a.reference_genome),
                })
            } else {
                json!({
                    "resourceType": "Procedure",
                    "id": format!("{p}.study.{}", a.id),
                    "meta": {"profile": [profiles::GENOMIC_STUDY]},
                    "identifier": identifier,
                    "status": "completed",
                    "category": {"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]},
                    "code": {"text": method},
                    "subject": {"reference": format!("Patient/{p}")},
                    "note": [{"text": format!("Reference genome {}; specimens {}", a.reference_genome, specimens.len())}],
                })
            };
            if let Some(date) = date {
                let field = if kind == Kind::DiagnosticReport { "effectiveDateTime" } else { "performedDateTime" };
                v[field] = json!(date);
            }
            v
        })
        .collect())
}

async fn patient(
    service: &FhirService,
    c: &Compartments,
    p: &ParticipantId,
) -> Result<Option<Value>, FhirFailure> {
    let store = &service.core.store;
    let Some(participant) = store.get_participant(p).await? else {
        return Ok(None);
    };
    let own = c.institution.as_ref() == Some(&participant.institution);
    let mut identifier =
        vec![json!({"use": "official", "system": SUBJECT_SYSTEM, "value": p.as_str()})];
    let mut patient = json!({
        "resourceType": "Patient",
        "id": p.as_str(),
        "gender": match participant.sex {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        },
    });
    if own {
        // The owning institution sees the hospital ids linked to its participant (it sent
        // them) and the full birth date.
        for h in store.hospital_ids_of(p).await? {
            identifier.push(json!({"use": "usual", "system": h.system(), "value": h.patient}));
        }
        if let Some(birth) = store.demographics_of(p).await?.and_then(|d| d.birth_date) {
            patient["birthDate"] = json!(birth.to_string());
        } else if let Some(birth) = participant.birth {
            patient["birthDate"] = json!(birth.to_string());
        }
        patient["managingOrganization"] =
            json!({"reference": format!("Organization/{}", participant.institution)});
    } else if let Some(birth) = participant.birth {
        // Researchers: year and month only (the catalogue keeps no more).
        patient["birthDate"] = json!(birth.to_string());
    }
    patient["identifier"] = json!(identifier);
    Ok(Some(patient))
}

/// A Condition id: `{participant}.{ICD-10 code}`.
fn condition(d: &Diagnosis) -> Value {
    let code = d.icd10.as_str();
    let mut codings = vec![json!({"system": ICD10_SYSTEM, "code": code})];
    if let Some(label) = &d.details.label {
        codings[0]["display"] = json!(label);
    }
    if let Some(system) = d.source_system.as_deref().filter(|s| s.contains(':'))
        && d.source_code != code
    {
        codings.push(json!({"system": system, "code": d.source_code}));
    }
    for other in &d.details.codings {
        if other.system.contains(':') {
            let mut coding = json!({"system": other.system, "code": other.code});
            if let Some(display) = &other.display {
                coding["display"] = json!(display);
            }
            codings.push(coding);
        }
    }
    let mut v = json!({
        "resourceType": "Condition",
        "id": format!("{}.{}", d.participant, code),
        "code": {"coding": codings},
        "subject": {"reference": format!("Patient/{}", d.participant)},
    });
    if let Some(onset) = d.onset {
        v["onsetDateTime"] = json!(onset.to_string());
    }
    if let Some(recorded) = d.recorded {
        v["recordedDate"] = json!(recorded.to_string());
    }
    if let Some(stage) = &d.details.stage {
        v["stage"] = json!([{"summary": {"text": stage}}]);
    }
    v
}

fn v2_0487(t: &SpecimenType) -> Option<&'static str> {
    Some(match t {
        SpecimenType::WholeBlood => "BLD",
        SpecimenType::Tissue => "TISS",
        SpecimenType::Serum => "SER",
        SpecimenType::Plasma => "PLAS",
        SpecimenType::Saliva => "SAL",
        SpecimenType::Dna => "DNA",
        _ => return None,
    })
}

fn specimen(s: &Specimen) -> Value {
    let mut v = json!({
        "resourceType": "Specimen",
        "id": s.id.as_str(),
        "identifier": [{"system": SPECIMEN_SYSTEM, "value": s.id.as_str()}],
        "subject": {"reference": format!("Patient/{}", s.participant)},
    });
    let mut kind = json!({});
    if let Some(code) = v2_0487(&s.specimen_type) {
        kind["coding"] = json!([{"system": V2_0487, "code": code}]);
    }
    if let Some(label) = &s.details.type_label {
        kind["text"] = json!(label);
    }
    if kind.as_object().is_some_and(|m| !m.is_empty()) {
        v["type"] = kind;
    }
    if let Some(parent) = &s.parent {
        v["parent"] = json!([{"reference": format!("Specimen/{parent}")}]);
    }
    let mut collection = json!({});
    if let Some(at) = &s.details.collected_at {
        collection["collectedDateTime"] = json!(at);
    } else if let Some(date) = s.collected {
        collection["collectedDateTime"] = json!(date.to_string());
    }
    if let Some(site) = &s.details.anatomical_site {
        collection["bodySite"] =
            json!({"coding": [{"system": system_uri(&site.system), "code": site.code}]});
    }
    if collection.as_object().is_some_and(|m| !m.is_empty()) {
        v["collection"] = collection;
    }
    v
}

/// A code system as a URI: HL7 v2 table names become their URIs where one is known.
fn system_uri(system: &str) -> String {
    match system {
        "JC10" | "JLAC10" => JLAC10_SYSTEM.to_owned(),
        "LN" => LOINC.to_owned(),
        "I10" => ICD10_SYSTEM.to_owned(),
        "ICD-O-3" | "ICDO3" => "http://terminology.hl7.org/CodeSystem/icd-o-3".to_owned(),
        s if s.contains(':') => s.to_owned(),
        s => format!("urn:gemj:code-system:{s}"),
    }
}

/// A short stable hash of `parts` for ids (hex, 12 characters).
pub(crate) fn short_hash(parts: &[&str]) -> String {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, parts.join("\u{1f}").as_bytes());
    digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An HL7 v2 `NM` value (an optional sign, digits with an optional point: `+.50`, `06.10`,
/// `5.`) as a JSON number literal with the same significant digits (`0.50`, `6.10`, `5`);
/// exponents and anything else pass unchanged, for [`gemj_fhir::model::decimal`] to judge.
fn json_decimal(text: &str) -> Option<String> {
    let text = text.trim();
    let (sign, body) = match text.as_bytes().first()? {
        b'-' => ("-", &text[1..]),
        b'+' => ("", &text[1..]),
        _ => ("", text),
    };
    if !body.bytes().any(|b| b.is_ascii_digit())
        || !body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Some(text.to_owned());
    }
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

fn laboratory(m: &Measurement) -> Value {
    let id = format!(
        "{}.lab.{}",
        m.participant,
        short_hash(&[
            m.order.as_deref().unwrap_or(""),
            &m.code.system,
            &m.code.code,
            m.effective.as_deref().unwrap_or("")
        ])
    );
    let mut coding = json!({"system": system_uri(&m.code.system), "code": m.code.code});
    if let Some(display) = &m.code.display {
        coding["display"] = json!(display);
    }
    let status = match m.status.as_deref() {
        Some("P") => "preliminary",
        Some("C") => "corrected",
        Some("X") => "cancelled",
        Some("D") => "entered-in-error",
        _ => "final",
    };
    let mut v = json!({
        "resourceType": "Observation",
        "id": id,
        "status": status,
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
        "code": {"coding": [coding]},
        "subject": {"reference": format!("Patient/{}", m.participant)},
    });
    if let Some(at) = &m.effective {
        v["effectiveDateTime"] = json!(at);
    }
    // The value as the source wrote it (`6.10`, not `6.1`): FHIR gives a decimal's digits a
    // meaning.
    let number = json_decimal(&m.value.value).and_then(|t| gemj_fhir::model::decimal(&t));
    match (m.value_type.as_str(), number) {
        ("NM", Some(n)) => {
            let mut q = json!({"value": n});
            if let Some(unit) = &m.value.unit {
                q["unit"] = json!(unit);
                q["system"] = json!("http://unitsofmeasure.org");
                q["code"] = json!(unit);
            }
            v["valueQuantity"] = q;
        }
        _ => v["valueString"] = json!(m.value.value),
    }
    if let Some(flag) = &m.interpretation {
        v["interpretation"] = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": flag}]}]);
    }
    if let Some(range) = &m.reference_range {
        v["referenceRange"] = json!([{"text": range}]);
    }
    v
}

fn document(o: &gemj_model::DataObject, p: &ParticipantId, base: &str) -> Value {
    let drs = gemj_drs::hostname_uri(&gemj_drs::host_of(base), o.id.as_str());
    let (content_type, endpoint) = match o.format {
        DataFormat::Bam => ("application/octet-stream", Some("reads")),
        DataFormat::Cram => ("application/octet-stream", Some("reads")),
        DataFormat::Vcf | DataFormat::Bcf => ("application/octet-stream", Some("variants")),
        _ => ("application/octet-stream", None),
    };
    let mut content = vec![json!({"attachment": {
        "contentType": content_type,
        "url": drs.clone(),
        "title": o.name,
    }})];
    if let Some(endpoint) = endpoint {
        content.push(json!({"attachment": {
            "contentType": "application/vnd.ga4gh.htsget.v1.3.0+json",
            "url": format!("{base}/htsget/{endpoint}/{}", o.id),
            "title": format!("htsget {endpoint} ticket for {}", o.name),
        }}));
    }
    let mut v = json!({
        "resourceType": "DocumentReference",
        "id": o.id.as_str(),
        "meta": {"profile": [profiles::GENOMIC_DATA_FILE]},
        "status": "current",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": drs}],
        "subject": {"reference": format!("Patient/{p}")},
        "description": o.name,
        "content": content,
    });
    if !o.specimens.is_empty() {
        v["context"] = json!({"related": o.specimens.iter().map(|s| json!({"reference": format!("Specimen/{s}")})).collect::<Vec<_>>()});
    }
    v
}

fn consent(state: &gemj_model::ConsentState) -> Value {
    let status = match state.status {
        ConsentStatus::Active | ConsentStatus::Deceased => "active",
        ConsentStatus::Withdrawn => "inactive",
        ConsentStatus::NoConsent => "proposed",
    };
    let s = &state.scopes;
    let scope = |allowed: bool, code: &str, display: &str| {
        json!({"type": if allowed { "permit" } else { "deny" },
               "purpose": [{"system": "urn:gemj:consent-scope", "code": code, "display": display}]})
    };
    json!({
        "resourceType": "Consent",
        "id": format!("{}.consent", state.participant),
        "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
        "category": [{"coding": [{"system": LOINC, "code": "57016-8", "display": "Privacy policy acknowledgment Document"}]}],
        "patient": {"reference": format!("Patient/{}", state.participant)},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {
            "type": if s.research_use { "permit" } else { "deny" },
            "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}],
            "provision": [
                scope(s.third_party_academia, "third-party-academia", "provision to academic third parties"),
                scope(s.third_party_industry, "third-party-industry", "provision to industry"),
                scope(s.international_transfer, "international-transfer", "transfer abroad"),
                scope(s.recontact.allowed, "recontact", "recontact through the hospital"),
                scope(s.return_of_secondary_findings, "secondary-findings", "return of secondary findings"),
            ],
        },
    })
}

async fn organizations(service: &FhirService, c: &Compartments) -> Result<Vec<Owned>, FhirFailure> {
    let store = &service.core.store;
    let mut ids = std::collections::BTreeSet::new();
    if let Some(own) = &c.institution {
        ids.insert(own.clone());
    }
    for p in c.participants.keys() {
        if let Some(participant) = store.get_participant(p).await? {
            ids.insert(participant.institution);
        }
    }
    Ok(ids
        .into_iter()
        .map(|id| {
            (
                json!({
                    "resourceType": "Organization",
                    "id": id.as_str(),
                    "identifier": [{"system": INSTITUTION_SYSTEM, "value": id.as_str()}],
                    "active": true,
                }),
                None,
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::json_decimal;

    #[test]
    fn hl7_numbers_become_json_literals_with_their_digits() {
        for (nm, json) in [
            ("6.10", "6.10"),
            (" 61.0 ", "61.0"),
            ("+.50", "0.50"),
            ("-06.10", "-6.10"),
            ("5.", "5"),
            ("000", "0"),
            ("1.5E3", "1.5E3"),
            (".", "."),
            ("1.2.3", "1.2.3"),
            ("abc", "abc"),
        ] {
            assert_eq!(json_decimal(nm).as_deref(), Some(json), "{nm:?}");
        }
        assert_eq!(json_decimal("  "), None);
    }
}
