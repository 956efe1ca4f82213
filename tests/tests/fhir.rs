//! HL7 FHIR R4 at `/fhir`, end to end over the demo cohort: every resource and `Parameters`
//! answered validates against the official R4 JSON Schema of its type; negotiation (406, 415);
//! errors as `OperationOutcome`s; who sees what (the owning institution, approved and
//! registered researchers, anonymous callers); search paging, strict handling and bad values;
//! the Genomics Operations against the variant store (GET and POST alike, lift-over refused,
//! population counts through Beacon); a withdrawn participant answering as an unknown one;
//! and the EHR fixture bundle posted as a transaction (created, then replayed without
//! duplicates; atomic refusal naming the entry; batch).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use gemj_e2e::http::{Http, Reply};
use gemj_e2e::names::{JOINT, PREFIX};
use gemj_e2e::{Res, TestGateway, TestResult, visas};
use gemj_passport::VisaType;
use gemj_schemas::{SchemaSet, Validator, docs};
use serde_json::{Value, json};

/// Validators of R4 resource types, compiled once per type.
struct R4 {
    schemas: SchemaSet,
    compiled: HashMap<String, Validator>,
}

impl R4 {
    fn new() -> Self {
        Self {
            schemas: SchemaSet::embedded(),
            compiled: HashMap::new(),
        }
    }

    /// Validates a resource (and, for Bundles and Parameters, what they hold, through the
    /// Bundle's and Parameters' own definitions).
    fn check(&mut self, resource: &Value, what: &str) -> Res<()> {
        let t = resource["resourceType"]
            .as_str()
            .ok_or_else(|| format!("{what}: no resourceType"))?
            .to_owned();
        if !self.compiled.contains_key(&t) {
            let v = self
                .schemas
                .validator(docs::FHIR_R4, &format!("/definitions/{t}"))?;
            self.compiled.insert(t.clone(), v);
        }
        let v = self.compiled.get(&t).ok_or("compiled")?;
        if let Err(errors) = v.validate(resource) {
            return Err(format!("{what}: {t} is not valid R4: {errors:?}").into());
        }
        Ok(())
    }
}

/// An operation's answer against its definition's outputs (names, cardinalities, value types):
/// what a client of the IG checks beyond the R4 schema.
fn conforms(name: &str, answer: &Value) -> Res<()> {
    let problems = gemj_fhir::genomics::output_problems(name, answer)?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("${name} does not answer as defined: {problems:?}\n{answer}").into())
    }
}

fn fixtures() -> PathBuf {
    gemj_schemas::testing::examples_dir().join("adapters")
}

fn outcome(r: &Reply, status: u16, what: &str) -> Res<()> {
    if r.status != status {
        return Err(format!(
            "{what}: status {} (expected {status}): {}",
            r.status,
            r.text()
        )
        .into());
    }
    if r.json["resourceType"] != "OperationOutcome" {
        return Err(format!("{what}: not an OperationOutcome: {}", r.text()).into());
    }
    if r.header("content-type") != Some("application/fhir+json") {
        return Err(format!("{what}: content type {:?}", r.header("content-type")).into());
    }
    Ok(())
}

fn entries(bundle: &Value) -> Vec<&Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] != "OperationOutcome")
        .collect()
}

/// The component of a Variant Observation with LOINC `code`.
fn component<'a>(observation: &'a Value, code: &str) -> Option<&'a Value> {
    observation["component"]
        .as_array()?
        .iter()
        .find(|c| c["code"]["coding"][0]["code"] == code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_reads_searches_operations_and_consent() -> TestResult {
    let gw = TestGateway::start(12).await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let mut r4 = R4::new();
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let hospital = "9999000001";
    let own = gemj_e2e::institution_token(&institutions, hospital, "ehr-gateway", &base, now)?;
    let other =
        gemj_e2e::institution_token(&institutions, "9999000002", "ehr-gateway", &base, now)?;
    let visa = |t: VisaType, value: &str| visas::visa(&broker, t, value, "dac", now);
    let status_visa = visa(VisaType::ResearcherStatus, visas::BONA_FIDE);
    let registered = broker.issue_passport("reg", std::slice::from_ref(&status_visa), hour, now)?;
    let alice = broker.issue_passport(
        "alice",
        &[
            status_visa,
            visa(
                VisaType::ControlledAccessGrants,
                &format!("{PREFIX}{JOINT}"),
            ),
        ],
        hour,
        now,
    )?;
    let admin = broker.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;
    let approval = visas::hmb_approval("APR-FHIR", broker.issuer(), "alice", &[JOINT]);
    let r = http.post("/admin/v1/approvals", Some(&admin), &approval)?;
    assert_eq!(r.status, 201, "approval: {}", r.text());

    // The CapabilityStatement lists exactly what is served, and every operation's definition
    // is served corrected.
    let r = http.get("/fhir/metadata", None)?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "metadata")?;
    assert_eq!(r.json["fhirVersion"], "4.0.1");
    let rest = &r.json["rest"][0];
    let types: Vec<&str> = rest["resource"]
        .as_array()
        .ok_or("resources")?
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "Patient",
            "Condition",
            "Specimen",
            "Observation",
            "DocumentReference",
            "DiagnosticReport",
            "Procedure",
            "Consent",
            "Organization"
        ]
    );
    let ops = rest["operation"].as_array().ok_or("operations")?;
    assert_eq!(ops.len(), 17);
    for op in ops {
        let url = op["definition"].as_str().ok_or("definition")?;
        let d = http.get(url, None)?;
        assert_eq!(d.status, 200, "{url}: {}", d.text());
        r4.check(&d.json, url)?;
        assert_eq!(
            d.json["code"], op["name"],
            "{url}: the code is the operation's name"
        );
        assert_eq!(d.json["system"], true);
    }

    // Negotiation: _format wins over Accept; XML and other FHIR versions are 406; an XML
    // body is 415; all answered in JSON.
    let get_with =
        |path: &str, headers: &[(&str, String)]| http.send_with("GET", path, headers, None);
    outcome(
        &http.get("/fhir/metadata?_format=xml", None)?,
        406,
        "_format=xml",
    )?;
    outcome(
        &get_with(
            "/fhir/metadata",
            &[("Accept", "application/fhir+xml".to_owned())],
        )?,
        406,
        "Accept xml",
    )?;
    outcome(
        &get_with(
            "/fhir/metadata",
            &[(
                "Accept",
                "application/fhir+json; fhirVersion=3.0".to_owned(),
            )],
        )?,
        406,
        "fhirVersion 3.0",
    )?;
    let r = get_with(
        "/fhir/metadata?_format=json",
        &[("Accept", "application/fhir+xml".to_owned())],
    )?;
    assert_eq!(r.status, 200, "_format wins: {}", r.text());
    let r = get_with(
        "/fhir/metadata",
        &[(
            "Accept",
            "application/fhir+json; fhirVersion=4.0".to_owned(),
        )],
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = http.send(
        "POST",
        "/fhir",
        Some(&own),
        Some("application/fhir+xml"),
        Some(b"<Bundle/>".to_vec()),
    )?;
    outcome(&r, 415, "XML body")?;

    // Anonymous callers: 401 with a challenge, in FHIR's format.
    let r = http.get("/fhir/Patient", None)?;
    outcome(&r, 401, "anonymous search")?;
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    outcome(
        &http.get("/fhir/Patient", Some("not-a-jwt"))?,
        401,
        "bad token",
    )?;
    outcome(
        &http.get("/fhir/Nonsense", Some(&own))?,
        404,
        "unknown type",
    )?;
    outcome(
        &http.send("DELETE", "/fhir/Patient/x", Some(&own), None, None)?,
        405,
        "delete",
    )?;

    // The institution sees its own participants, with its hospital ids; pages link on.
    let participants = gw.store.list_participants(None, 1000).await?;
    let mine: Vec<String> = participants
        .iter()
        .filter(|p| p.institution.as_str() == hospital)
        .map(|p| p.id.to_string())
        .collect();
    assert!(mine.len() >= 2, "the demo gives the hospital participants");
    let r = http.get("/fhir/Patient?_count=1", Some(&own))?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "Patient search")?;
    assert_eq!(r.json["total"], mine.len());
    let next = r.json["link"]
        .as_array()
        .ok_or("links")?
        .iter()
        .find(|l| l["relation"] == "next")
        .ok_or("next link")?["url"]
        .as_str()
        .ok_or("url")?
        .to_owned();
    let r2 = http.get(&next, Some(&own))?;
    assert_eq!(
        entries(&r2.json)[0]["id"].as_str(),
        Some(mine[1].as_str()),
        "the next page starts after the first"
    );
    let p = mine[0].clone();
    let r = http.get(&format!("/fhir/Patient/{p}"), Some(&own))?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "Patient read")?;
    assert_eq!(
        r.json["managingOrganization"]["reference"],
        format!("Organization/{hospital}")
    );
    // Another institution: the same 404 as an unknown id.
    let unknown = http.get("/fhir/Patient/GEMJ-NOBODY-0001", Some(&other))?;
    outcome(&unknown, 404, "unknown patient")?;
    let foreign = http.get(&format!("/fhir/Patient/{p}"), Some(&other))?;
    outcome(&foreign, 404, "another institution's patient")?;

    // Every resource type of the participant validates, for the institution, against R4 and
    // the IG profiles it claims (those only where the shared folder holds the IG package).
    let profiles = gemj_e2e::ig::Profiles::load()?;
    let mut variant: Option<Value> = None;
    for t in [
        "Condition",
        "Specimen",
        "Observation",
        "DocumentReference",
        "DiagnosticReport",
        "Procedure",
        "Consent",
        "Organization",
    ] {
        let r = http.get(&format!("/fhir/{t}?patient={p}&_count=100"), Some(&own))?;
        if t == "Organization" {
            // Organization has no patient parameter: ignored (with a warning), not refused.
            assert_eq!(r.status, 200, "{t}: {}", r.text());
            assert!(
                r.json["entry"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["search"]["mode"] == "outcome"))
            );
        } else {
            assert_eq!(r.status, 200, "{t}: {}", r.text());
        }
        r4.check(&r.json, t)?;
        for resource in entries(&r.json) {
            r4.check(resource, t)?;
            if let Some(profiles) = &profiles {
                profiles.check(resource)?;
            }
            if t != "Organization" {
                let subject = resource
                    .get("subject")
                    .or_else(|| resource.get("patient"))
                    .ok_or("subject")?;
                assert_eq!(
                    subject["reference"],
                    format!("Patient/{p}"),
                    "{t} of the participant"
                );
            }
            let id = resource["id"].as_str().ok_or("id")?;
            let read = http.get(&format!("/fhir/{t}/{id}"), Some(&own))?;
            assert_eq!(read.status, 200, "read {t}/{id}: {}", read.text());
            assert_eq!(&read.json, resource, "read equals search");
            if resource["meta"]["profile"][0] == gemj_fhir_profile_variant() && variant.is_none() {
                variant = Some(resource.clone());
            }
        }
    }
    let variant = variant.ok_or("the participant has a Variant Observation")?;
    // The IG's required elements of the Variant profile.
    assert_eq!(variant["status"], "final");
    assert_eq!(variant["code"]["coding"][0]["code"], "69548-6");
    let categories: Vec<&str> = variant["category"]
        .as_array()
        .ok_or("category")?
        .iter()
        .filter_map(|c| c["coding"][0]["code"].as_str())
        .collect();
    assert_eq!(categories, ["laboratory", "GE"]);
    let accession = component(&variant, "48013-7").ok_or("48013-7")?["valueCodeableConcept"]["coding"][0]["code"].as_str().ok_or("accession")?.to_owned();
    let start0 = component(&variant, "81254-5").ok_or("81254-5")?["valueRange"]["low"]["value"]
        .as_f64()
        .ok_or("start")? as u64;
    let reference = component(&variant, "69547-8").ok_or("ref")?["valueString"]
        .as_str()
        .ok_or("ref")?
        .to_owned();
    let alternate = component(&variant, "69551-0").ok_or("alt")?["valueString"]
        .as_str()
        .ok_or("alt")?
        .to_owned();
    // The allele is in the store, carried by this participant.
    let chrom = format!(
        "chr{}",
        accession
            .trim_start_matches("NC_0000")
            .split('.')
            .next()
            .unwrap_or("")
            .trim_start_matches('0')
    );
    let ordinal = gw
        .store
        .participant_ordinals(&[gemj_model::ParticipantId::parse(&p)?])
        .await?[0]
        .1;
    let key =
        gemj_model::VariantKey::parse(&chrom, u32::try_from(start0 + 1)?, &reference, &alternate)?;
    let mut carried = false;
    for d in gw.store.list_datasets().await? {
        if let Some(row) = gw.store.variant_exact(&d.id, &key).await? {
            carried |= row.carriers.contains(ordinal);
        }
    }
    assert!(
        carried,
        "the Variant Observation is an allele the store holds for {p}"
    );

    // Search: unknown parameters ignored unless strict; bad values 400.
    let r = http.send_with(
        "GET",
        "/fhir/Condition?colour=red",
        &[
            ("Authorization", format!("Bearer {own}")),
            ("Prefer", "handling=strict".to_owned()),
        ],
        None,
    )?;
    outcome(&r, 400, "strict")?;
    outcome(
        &http.get("/fhir/Condition?onset-date=2020-13", Some(&own))?,
        400,
        "bad date",
    )?;
    outcome(
        &http.get("/fhir/Observation?_count=many", Some(&own))?,
        400,
        "bad count",
    )?;
    outcome(
        &http.get("/fhir/Observation?_sort=colour", Some(&own))?,
        400,
        "bad sort",
    )?;

    // Researchers: pseudonymous patients (no hospital ids, year and month of birth at most),
    // from the datasets they may read.
    let r = http.get("/fhir/Patient?_count=100", Some(&alice))?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "researcher Patient search")?;
    for patient in entries(&r.json) {
        let ids = patient["identifier"].as_array().ok_or("identifier")?;
        assert_eq!(ids.len(), 1, "only the GeMJ id: {patient}");
        assert!(patient.get("managingOrganization").is_none());
        assert!(patient["birthDate"].as_str().is_none_or(|b| b.len() <= 7));
    }
    let approved_total = r.json["total"].as_u64().ok_or("total")?;
    let r = http.get("/fhir/Patient?_count=100", Some(&registered))?;
    let registered_total = r.json["total"].as_u64().ok_or("total")?;
    assert!(
        registered_total < approved_total,
        "an approval widens what is seen ({registered_total} < {approved_total})"
    );

    // Operations: GET and POST answer alike; the range holds the variant.
    let range = format!("{accession}:{start0}-{}", start0 + 1);
    let op = format!(
        "/fhir/$find-subject-variants?subject=Patient/{p}&ranges={range}&includeVariants=true"
    );
    let r = http.get(&op, Some(&own))?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "find-subject-variants")?;
    conforms("find-subject-variants", &r.json)?;
    let parts = r.json["parameter"][0]["part"].as_array().ok_or("parts")?;
    assert_eq!(parts[0]["valueString"], range.as_str());
    assert_eq!(parts[1]["valueBoolean"], true, "{}", r.text());
    assert!(parts.iter().any(|x| x["resource"]["id"] == variant["id"]));
    let body = json!({"resourceType": "Parameters", "parameter": [
        {"name": "subject", "valueString": format!("Patient/{p}")},
        {"name": "ranges", "valueString": range},
        {"name": "includeVariants", "valueBoolean": true}]});
    let posted = http.send(
        "POST",
        "/fhir/$find-subject-variants",
        Some(&own),
        Some("application/fhir+json"),
        Some(body.to_string().into_bytes()),
    )?;
    assert_eq!(posted.status, 200, "{}", posted.text());
    assert_eq!(posted.json, r.json, "POST with Parameters answers as GET");
    // includeVariants defaults to false.
    let r = http.get(
        &format!("/fhir/$find-subject-variants?subject={p}&ranges={range}"),
        Some(&own),
    )?;
    assert_eq!(
        r.json["parameter"][0]["part"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.text()
    );
    // The variant however it is written.
    let chrom_number = chrom.trim_start_matches("chr");
    for written in [
        format!("{accession}:{start0}:{reference}:{alternate}"),
        format!("{chrom_number}-{}-{reference}-{alternate}", start0 + 1),
        format!("{accession}:g.{}{reference}>{alternate}", start0 + 1),
    ] {
        if written.contains(":g.") && (reference.len() != 1 || alternate.len() != 1) {
            continue;
        }
        let r = http.get(
            &format!(
                "/fhir/$find-subject-specific-variants?subject={p}&variants={}",
                urlencode(&written)
            ),
            Some(&own),
        )?;
        assert_eq!(r.status, 200, "{written}: {}", r.text());
        r4.check(&r.json, "find-subject-specific-variants")?;
        conforms("find-subject-specific-variants", &r.json)?;
        assert_eq!(
            r.json["parameter"][0]["part"][1]["valueBoolean"],
            true,
            "{written}: {}",
            r.text()
        );
    }
    // Another build: 422 Failed LiftOver, never a silent absence.
    let grch37 = format!("/fhir/$find-subject-variants?subject={p}&ranges=NC_000001.10:1000-2000");
    let r = http.get(&grch37, Some(&own))?;
    outcome(&r, 422, "GRCh37 range")?;
    assert!(r.text().contains("Failed LiftOver"));
    outcome(
        &http.get(
            &format!(
                "/fhir/$find-subject-specific-variants?subject={p}&variants=NM_000546.6:c.215C%3EG"
            ),
            Some(&own),
        )?,
        422,
        "coding HGVS no annotation of the subject's data knows",
    )?;
    outcome(
        &http.get(
            &format!("/fhir/$find-subject-variants?subject={p}&ranges={accession}:10-5"),
            Some(&own),
        )?,
        400,
        "bad range",
    )?;
    outcome(
        &http.get(
            &format!("/fhir/$find-subject-variants?subject={p}&ranges={range}&colour=red"),
            Some(&own),
        )?,
        400,
        "unknown parameter",
    )?;
    outcome(
        &http.get(
            &format!(
                "/fhir/$find-subject-variants?subject={p}&ranges={range}&includeVariants=maybe"
            ),
            Some(&own),
        )?,
        400,
        "bad boolean",
    )?;
    outcome(
        &http.get(
            &format!("/fhir/$find-subject-variants?ranges={range}"),
            Some(&own),
        )?,
        400,
        "no subject",
    )?;
    outcome(
        &http.get("/fhir/$find-nothing", Some(&own))?,
        404,
        "unknown operation",
    )?;
    let unknown_subject = http.get(
        &format!("/fhir/$find-subject-variants?subject=GEMJ-NOBODY-0001&ranges={range}"),
        Some(&own),
    )?;
    outcome(&unknown_subject, 404, "unknown subject")?;
    let r = http.get(
        &format!("/fhir/$find-study-metadata?subject={p}"),
        Some(&own),
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "find-study-metadata")?;
    conforms("find-study-metadata", &r.json)?;
    assert!(
        r.json["parameter"]
            .as_array()
            .is_some_and(|t| !t.is_empty()),
        "the participant's tests are listed"
    );
    for name in [
        "find-subject-structural-intersecting-variants",
        "find-subject-structural-subsuming-variants",
    ] {
        let r = http.get(
            &format!("/fhir/${name}?subject={p}&ranges={range}"),
            Some(&own),
        )?;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        r4.check(&r.json, name)?;
        conforms(name, &r.json)?;
    }
    for (name, query) in [
        ("find-subject-haplotypes", "genes=HGNC:2621"),
        ("find-subject-specific-haplotypes", "haplotypes=CYP2C19*2"),
        ("find-subject-tx-implications", "conditions=C16.9"),
        ("find-subject-dx-implications", "conditions=C16.9"),
        (
            "find-subject-molecular-consequences",
            "featureConsequences=SO:0001583",
        ),
    ] {
        let r = http.get(&format!("/fhir/${name}?subject={p}&{query}"), Some(&own))?;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        r4.check(&r.json, name)?;
        conforms(name, &r.json)?;
    }
    // Population counts under Beacon's rules for the approved researcher.
    let pop = format!("/fhir/$find-population-structural-intersecting-variants?ranges={range}");
    let r = http.get(&pop, Some(&alice))?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "population")?;
    conforms("find-population-structural-intersecting-variants", &r.json)?;
    let parts = r.json["parameter"][0]["part"].as_array().ok_or("parts")?;
    assert!(
        parts.iter().any(|x| x["name"] == "numerator"),
        "{}",
        r.text()
    );
    assert!(
        parts.iter().any(|x| x["name"] == "denominator"),
        "{}",
        r.text()
    );
    outcome(&http.get(&pop, None)?, 401, "anonymous population")?;
    for (name, query) in [
        (
            "find-population-specific-variants",
            format!(
                "variants={chrom_number}-{}-{reference}-{alternate}",
                start0 + 1
            ),
        ),
        (
            "find-population-structural-subsuming-variants",
            format!("ranges={range}"),
        ),
        (
            "find-population-specific-haplotypes",
            "haplotypes=CYP2C19*2".to_owned(),
        ),
        (
            "find-population-tx-implications",
            format!(
                "variants={chrom_number}-{}-{reference}-{alternate}",
                start0 + 1
            ),
        ),
        (
            "find-population-dx-implications",
            format!(
                "variants={chrom_number}-{}-{reference}-{alternate}",
                start0 + 1
            ),
        ),
        (
            "find-population-molecular-consequences",
            format!(
                "variants={chrom_number}-{}-{reference}-{alternate}",
                start0 + 1
            ),
        ),
    ] {
        let r = http.get(&format!("/fhir/${name}?{query}"), Some(&alice))?;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        r4.check(&r.json, name)?;
        conforms(name, &r.json)?;
    }

    // A withdrawn participant: reads, searches and operations answer as for an unknown one.
    let event = json!({"event_id": "fhir-w-1", "participant": p, "institution": hospital,
        "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"});
    let r = http.post("/consent/v1/events", Some(&own), &event)?;
    assert_eq!(r.status, 201, "{}", r.text());
    let gone = http.get(&format!("/fhir/Patient/{p}"), Some(&own))?;
    outcome(&gone, 404, "withdrawn patient")?;
    assert_eq!(
        gone.json["issue"][0]["code"],
        foreign.json["issue"][0]["code"]
    );
    let r = http.get(
        &format!("/fhir/Observation?subject=Patient/{p}"),
        Some(&own),
    )?;
    assert_eq!(r.json["total"], 0, "{}", r.text());
    let r = http.get(&op, Some(&own))?;
    outcome(&r, 404, "operation on a withdrawn subject")?;
    assert_eq!(
        r.json["issue"][0]["code"],
        unknown_subject.json["issue"][0]["code"]
    );
    let r = http.get("/fhir/Patient?_count=100", Some(&alice))?;
    assert!(
        entries(&r.json).iter().all(|x| x["id"] != p.as_str()),
        "gone for researchers too"
    );

    // Every decision was audited; the chains are intact.
    gw.stop_with_intact_chains().await?;
    Ok(())
}

fn gemj_fhir_profile_variant() -> &'static str {
    "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/variant"
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_transactions_from_a_hospital() -> TestResult {
    let gw = TestGateway::start(0).await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let mut r4 = R4::new();
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let own = gemj_e2e::institution_token(&institutions, "9999000001", "ehr-gateway", &base, now)?;
    let other =
        gemj_e2e::institution_token(&institutions, "9999000002", "ehr-gateway", &base, now)?;
    let bundle = std::fs::read(fixtures().join("fhir/ehr-transaction-bundle.json"))?;
    let post = |token: Option<&str>, body: Vec<u8>| {
        http.send(
            "POST",
            "/fhir",
            token,
            Some("application/fhir+json"),
            Some(body),
        )
    };

    outcome(&post(None, bundle.clone())?, 401, "anonymous transaction")?;
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let passport = broker.issue_passport("alice", &[], Duration::from_secs(300), now)?;
    outcome(
        &post(Some(&passport), bundle.clone())?,
        403,
        "a researcher's transaction",
    )?;
    outcome(&post(Some(&own), b"{".to_vec())?, 400, "not JSON")?;
    outcome(
        &post(Some(&own), br#"{"resourceType": "Patient"}"#.to_vec())?,
        400,
        "not a Bundle",
    )?;
    outcome(
        &post(
            Some(&own),
            br#"{"resourceType": "Bundle", "type": "collection"}"#.to_vec(),
        )?,
        400,
        "a collection",
    )?;
    let mut invalid: Value = serde_json::from_slice(&bundle)?;
    invalid["entry"][1]["resource"]["onsetDateTime"] = json!(20240215);
    let r = post(Some(&own), invalid.to_string().into_bytes())?;
    outcome(&r, 400, "schema-invalid entry")?;
    assert!(r.text().contains("Bundle.entry[1]"), "{}", r.text());
    let mut choice: Value = serde_json::from_slice(&bundle)?;
    choice["entry"][1]["resource"]["onsetString"] = json!("spring");
    let r = post(Some(&own), choice.to_string().into_bytes())?;
    outcome(&r, 400, "two values of onset[x]")?;

    // The fixture: five entries created, in request order, each with its location.
    let r = post(Some(&own), bundle.clone())?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "transaction-response")?;
    assert_eq!(r.json["type"], "transaction-response");
    let answers = r.json["entry"].as_array().ok_or("entries")?;
    assert_eq!(answers.len(), 5);
    let locations: Vec<String> = answers
        .iter()
        .map(|e| e["response"]["location"].as_str().unwrap_or("").to_owned())
        .collect();
    for (e, expected) in answers.iter().zip([
        "Patient/GEMJ-TEST-0001",
        "Condition/GEMJ-TEST-0001.C16.9",
        "Specimen/SP-0001-T",
        "Specimen/SP-0001-B",
        "Consent/GEMJ-TEST-0001.consent",
    ]) {
        assert_eq!(e["response"]["status"], "201 Created", "{}", r.text());
        assert_eq!(e["response"]["location"], expected, "{}", r.text());
    }
    // Replayed: nothing is created twice.
    let r = post(Some(&own), bundle.clone())?;
    assert_eq!(r.status, 200, "{}", r.text());
    for e in r.json["entry"].as_array().ok_or("entries")? {
        assert_eq!(e["response"]["status"], "200 OK", "{}", r.text());
    }
    assert_eq!(gw.store.count_participants().await?, 1);
    // Each location reads back, with the fixture's canonical meaning.
    for location in &locations {
        let read = http.get(&format!("/fhir/{location}"), Some(&own))?;
        assert_eq!(read.status, 200, "{location}: {}", read.text());
        r4.check(&read.json, location)?;
    }
    // A laboratory result keeps the digits the hospital wrote (FHIR: a decimal's precision has
    // a meaning): 6.10 is stored and answered as 6.10, not 6.1.
    let fixture: Value = serde_json::from_slice(&bundle)?;
    let lab = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        fixture["entry"][0],
        {"fullUrl": "urn:uuid:6f1c2a3e-0001-4c1a-9a00-0000000000f1",
         "resource": {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "urn:oid:1.2.392.200119.4.504", "code": "3A010000002327101", "display": "総蛋白"}]},
            "subject": {"reference": fixture["entry"][0]["fullUrl"]},
            "effectiveDateTime": "2024-03-14T09:00:00+09:00",
            "valueQuantity": {"value": "WRITTEN", "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"}},
         "request": {"method": "POST", "url": "Observation"}}]});
    let lab = lab.to_string().replace(r#""WRITTEN""#, "6.10");
    let r = post(Some(&own), lab.into_bytes())?;
    assert_eq!(r.status, 200, "{}", r.text());
    let labs = http.get(
        "/fhir/Observation?subject=Patient/GEMJ-TEST-0001&category=laboratory",
        Some(&own),
    )?;
    assert_eq!(labs.status, 200, "{}", labs.text());
    r4.check(&labs.json, "laboratory results")?;
    assert!(
        labs.text().contains(r#""value":6.10,"unit":"g/dL""#),
        "the written digits: {}",
        labs.text()
    );

    let patient = http.get("/fhir/Patient/GEMJ-TEST-0001", Some(&own))?;
    let systems: Vec<&str> = patient.json["identifier"]
        .as_array()
        .ok_or("ids")?
        .iter()
        .filter_map(|i| i["system"].as_str())
        .collect();
    assert!(
        systems.contains(&"urn:oid:1.2.392.100495.20.3.51.19999999999"),
        "its hospital id, to its institution: {}",
        patient.text()
    );
    let condition = http.get("/fhir/Condition/GEMJ-TEST-0001.C16.9", Some(&own))?;
    assert_eq!(condition.json["onsetDateTime"], "2024-02-15");
    assert_eq!(condition.json["recordedDate"], "2024-02-20");
    let codes: Vec<&str> = condition.json["code"]["coding"]
        .as_array()
        .ok_or("codings")?
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"C16.9") && codes.contains(&"C169"),
        "canonical and source codes: {codes:?}"
    );
    let tumour = http.get("/fhir/Specimen/SP-0001-T", Some(&own))?;
    assert_eq!(tumour.json["type"]["coding"][0]["code"], "TISS");
    assert_eq!(
        tumour.json["collection"]["collectedDateTime"],
        "2024-03-15T10:30:00+09:00"
    );

    // Another institution's transaction about this participant stores nothing and names the
    // entries; as a batch, each entry answers for itself.
    let r = post(Some(&other), bundle.clone())?;
    outcome(&r, 400, "another institution's participant")?;
    assert!(r.text().contains("Bundle.entry["), "{}", r.text());
    let mut batch: Value = serde_json::from_slice(&bundle)?;
    batch["type"] = json!("batch");
    let r = post(Some(&other), batch.to_string().into_bytes())?;
    assert_eq!(r.status, 200, "{}", r.text());
    r4.check(&r.json, "batch-response")?;
    assert!(
        r.json["entry"]
            .as_array()
            .ok_or("entries")?
            .iter()
            .any(|e| e["response"]["status"] == "400 Bad Request"),
        "{}",
        r.text()
    );
    assert_eq!(gw.store.count_participants().await?, 1);

    // One bad entry in a transaction: 400 naming it, nothing stored.
    let mut partly: Value = serde_json::from_slice(&bundle)?;
    partly["entry"][0]["resource"]["identifier"] =
        json!([{"system": "urn:oid:1.2.392.100495.20.3.51.19999999999", "value": "9000000077"}]);
    partly["entry"][0]["request"]["ifNoneExist"] =
        json!("identifier=urn:oid:1.2.392.100495.20.3.51.19999999999|9000000077");
    partly["entry"][3]["resource"]["identifier"][0]["value"] = json!("SP-0077-B");
    let before = gw.store.count_participants().await?;
    let r = post(Some(&own), partly.to_string().into_bytes())?;
    outcome(&r, 400, "a transaction with unresolvable entries")?;
    assert!(r.text().contains("Bundle.entry["), "{}", r.text());
    assert_eq!(
        gw.store.count_participants().await?,
        before,
        "nothing stored"
    );
    assert!(
        gw.store
            .get_specimen(&gemj_model::SpecimenId::parse("SP-0077-B")?)
            .await?
            .is_none(),
        "nothing stored"
    );

    // SMART Backend Services: a client assertion signed with the institution's registered key
    // buys a short-lived access token with the scopes asked for, for the FHIR API only.
    let config = http.get("/fhir/.well-known/smart-configuration", None)?;
    assert_eq!(config.status, 200, "{}", config.text());
    let endpoint = config.json["token_endpoint"]
        .as_str()
        .ok_or("token_endpoint")?
        .to_owned();
    assert_eq!(endpoint, format!("{base}/fhir/auth/token"));
    let metadata = http.get("/fhir/metadata", None)?;
    assert!(
        metadata.text().contains(&endpoint),
        "the CapabilityStatement names the token endpoint"
    );
    let (_, hospital) = institutions
        .iter()
        .find(|(id, _)| id.as_str() == "9999000001")
        .ok_or("hospital")?;
    let client = hospital.issuer().to_owned();
    let assertion = |audience: &str, ttl: u64| {
        hospital.issue_token(&client, audience, Duration::from_secs(ttl), now)
    };
    let form = |assertion: &str, scope: &str| -> Vec<u8> {
        format!(
            "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}&scope={}",
            scope.replace('/', "%2F").replace('*', "%2A").replace(' ', "+")
        )
        .into_bytes()
    };
    let ask = |body: Vec<u8>| {
        http.send(
            "POST",
            &endpoint,
            None,
            Some("application/x-www-form-urlencoded"),
            Some(body),
        )
    };
    let read_assertion = assertion(&endpoint, 300)?;
    let r = ask(form(&read_assertion, "system/*.read"))?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["token_type"], "bearer");
    assert_eq!(r.json["scope"], "system/*.read");
    let read_token = r.json["access_token"]
        .as_str()
        .ok_or("access_token")?
        .to_owned();
    let r = ask(form(&read_assertion, "system/*.read"))?;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (400, Some("invalid_grant")),
        "a replayed assertion: {}",
        r.text()
    );
    let r = ask(form(&assertion(&base, 300)?, "system/*.read"))?;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (401, Some("invalid_client")),
        "another audience: {}",
        r.text()
    );
    let r = ask(form(&assertion(&endpoint, 3600)?, "system/*.read"))?;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (401, Some("invalid_client")),
        "an hour-long assertion: {}",
        r.text()
    );
    // Another registered institution's key claiming this hospital's `iss` and `sub` (with its
    // own key id and JWKS URL, or this hospital's): the signature is checked against the
    // claimed issuer's registered keys only, so both are refused.
    let other_dir = gw.data_dir().join("demo-institutions").join("9999000002");
    let impostor = || gemj_auth::LocalIssuer::load_or_create(&other_dir, &client);
    let other_jwks = format!(
        "{base}{}",
        gemj_demo::broker::institution_jwks_path("9999000002")
    );
    for forged in [
        impostor()?.with_jwks_url(other_jwks),
        impostor()?.with_jwks_url(hospital.jwks_url()),
    ] {
        let token = forged.issue_token(&client, &endpoint, Duration::from_secs(300), now)?;
        let r = ask(form(&token, "system/*.read"))?;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (401, Some("invalid_client")),
            "an assertion signed by another institution claiming this one: {}",
            r.text()
        );
    }
    let r = ask(form(&assertion(&endpoint, 300)?, "user/*.read"))?;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (400, Some("invalid_scope")),
        "{}",
        r.text()
    );
    let r = http.send(
        "POST",
        &endpoint,
        None,
        Some("application/x-www-form-urlencoded"),
        Some(b"grant_type=password".to_vec()),
    )?;
    assert_eq!(
        (r.status, r.json["error"].as_str()),
        (400, Some("unsupported_grant_type")),
        "{}",
        r.text()
    );
    // The read token reads what the institution may, and writes nothing.
    let r = http.get("/fhir/Patient/GEMJ-TEST-0001", Some(&read_token))?;
    assert_eq!(r.status, 200, "{}", r.text());
    outcome(
        &post(Some(&read_token), bundle.clone())?,
        403,
        "a read-only token's transaction",
    )?;
    let r = http.get("/consent/v1/participants/GEMJ-TEST-0001", Some(&read_token))?;
    assert_eq!(r.status, 401, "a FHIR token elsewhere: {}", r.text());
    let forged = format!("{read_token}x");
    outcome(
        &http.get("/fhir/Patient/GEMJ-TEST-0001", Some(&forged))?,
        401,
        "a forged token",
    )?;
    // A narrow scope reads only its type.
    let r = ask(form(&assertion(&endpoint, 300)?, "system/Condition.read"))?;
    let narrow = r.json["access_token"]
        .as_str()
        .ok_or("access_token")?
        .to_owned();
    assert_eq!(
        http.get("/fhir/Condition?patient=GEMJ-TEST-0001", Some(&narrow))?
            .status,
        200
    );
    outcome(
        &http.get("/fhir/Patient/GEMJ-TEST-0001", Some(&narrow))?,
        403,
        "out of scope",
    )?;
    // A write token posts the transaction (replayed: nothing new).
    let r = ask(form(
        &assertion(&endpoint, 300)?,
        "system/*.read system/*.write",
    ))?;
    let write = r.json["access_token"]
        .as_str()
        .ok_or("access_token")?
        .to_owned();
    let r = post(Some(&write), bundle)?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["entry"][0]["response"]["status"], "200 OK");
    gw.stop_with_intact_chains().await?;
    Ok(())
}
