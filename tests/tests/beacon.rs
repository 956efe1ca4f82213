//! End-to-end: GA4GH Beacon v2.2.0 under `/beacon/v2` over HTTP, against a real gateway over
//! the demo cohort. Every response (informational documents, booleans, counts, result sets,
//! collections, errors) is validated against the official v2.2.0 response schemas, and every
//! record against its entry type's default model schema. Answers are checked against an
//! oracle computed here from the store (variant carriers, dataset members, consent states),
//! not from the gateway's own code.

use std::collections::BTreeSet;
use std::time::Duration;

use gemj_e2e::http::{Http, Reply};
use gemj_e2e::names::{CANCER, PREFIX, PUBLIC};
use gemj_e2e::{Res, TestGateway, TestResult, visas};
use gemj_model::{DatasetId, ParticipantId};
use gemj_passport::VisaType;
use gemj_schemas::SchemaSet;
use serde_json::{Value, json};

const B: &str = "/beacon/v2";
const RESPONSES: &str = "beacon-v2/v2.2.0/framework/json/responses";
const MODELS: &str = "beacon-v2/v2.2.0/models/json/beacon-v2-default-model";

/// The official schemas shipped with the project.
fn schemas() -> SchemaSet {
    gemj_schemas::testing::schemas()
}

/// Validates a response document (and each record against its model) and returns its JSON.
fn valid(set: &SchemaSet, doc: &str, r: &Reply, what: &str) -> Value {
    let path = format!("{RESPONSES}/{doc}.json");
    if let Err(errors) = set.validate(&path, "", &r.json) {
        panic!("{what}: not a valid {doc}: {errors:?}\n{:#}", r.json);
    }
    if let Some(sets) = r.json["response"]["resultSets"].as_array() {
        let model = entry_model(&r.json);
        for s in sets {
            for record in s["results"].as_array().into_iter().flatten() {
                let doc = format!("{MODELS}/{model}/defaultSchema.json");
                if let Err(errors) = set.validate(&doc, "", record) {
                    panic!("{what}: a record is not a valid {model}: {errors:?}\n{record:#}");
                }
            }
        }
    }
    if let Some(collections) = r.json["response"]["collections"].as_array() {
        let model = entry_model(&r.json);
        for c in collections {
            let doc = format!("{MODELS}/{model}/defaultSchema.json");
            if let Err(errors) = set.validate(&doc, "", c) {
                panic!("{what}: a collection is not a valid {model}: {errors:?}\n{c:#}");
            }
        }
    }
    r.json.clone()
}

fn entry_model(doc: &Value) -> &'static str {
    match doc["meta"]["returnedSchemas"][0]["entityType"].as_str() {
        Some("individual") => "individuals",
        Some("biosample") => "biosamples",
        Some("genomicVariant") => "genomicVariations",
        Some("analysis") => "analyses",
        Some("run") => "runs",
        Some("cohort") => "cohorts",
        _ => "datasets",
    }
}

/// An error answer: its status and a valid `beaconErrorResponse` with that `errorCode`.
fn error(set: &SchemaSet, r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.json);
    valid(set, "beaconErrorResponse", r, what);
    assert_eq!(r.json["error"]["errorCode"], status, "{what}");
    assert!(
        r.json["error"]["errorMessage"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}"
    );
}

/// Which participants a requester may be served, from the consent states: `academia` for an
/// approved JP non-profit requester, else the strictest scope (industry and abroad).
async fn servable(gw: &TestGateway, academia: bool) -> Res<BTreeSet<ParticipantId>> {
    gemj_e2e::servable(&gw.store, academia).await
}

/// The participants of a dataset.
async fn members(gw: &TestGateway, dataset: &str) -> Res<BTreeSet<ParticipantId>> {
    Ok(gw
        .store
        .dataset_participants(&DatasetId::parse(dataset)?)
        .await?
        .into_iter()
        .collect())
}

/// Every variant row of a dataset with its carriers as participant ids.
async fn variants(
    gw: &TestGateway,
    dataset: &str,
) -> Res<Vec<(gemj_store::VariantRow, BTreeSet<ParticipantId>)>> {
    let rows = gw
        .store
        .variants_of_dataset(&DatasetId::parse(dataset)?, 1_000_000)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let ordinals: Vec<u32> = r.carriers.iter().collect();
        let carriers = gw
            .store
            .participants_by_ordinals(&ordinals)
            .await?
            .into_iter()
            .collect();
        out.push((r, carriers));
    }
    Ok(out)
}

/// A POST body asking for the records of one allele in one dataset.
fn record_query(row: &gemj_store::VariantRow, dataset: &str) -> Value {
    json!({
        "meta": {"apiVersion": "v2.2.0"},
        "query": {
            "requestParameters": {
                "g_variant": {
                    "referenceName": row.key.chrom.as_str(),
                    "start": [u64::from(row.key.pos) - 1],
                    "referenceBases": row.key.reference.as_str(),
                    "alternateBases": row.key.alternate.as_str(),
                },
                "datasets": {"datasetIds": [dataset]},
            },
            "requestedGranularity": "record",
            "pagination": {"skip": 0, "limit": 100},
        }
    })
}

fn gv(row: &gemj_store::VariantRow) -> String {
    format!(
        "referenceName={}&start={}&referenceBases={}&alternateBases={}",
        row.key.chrom.as_str(),
        row.key.pos - 1,
        row.key.reference.as_str(),
        row.key.alternate.as_str()
    )
}

struct Passports {
    registered: String,
    approved: String,
    admin: String,
}

async fn passports(gw: &TestGateway, http: &Http) -> Res<Passports> {
    let broker = gemj_demo::broker::load(gw.data_dir(), &gw.base_url)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let visa = |t: VisaType, value: &str| visas::visa(&broker, t, value, "dac", now);
    let status = visa(VisaType::ResearcherStatus, visas::BONA_FIDE);
    let grant = visa(
        VisaType::ControlledAccessGrants,
        &format!("{PREFIX}{CANCER}"),
    );
    let out = Passports {
        registered: broker.issue_passport("reg", std::slice::from_ref(&status), hour, now)?,
        approved: broker.issue_passport("alice", &[status, grant], hour, now)?,
        admin: broker.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?,
    };
    let approval = visas::cancer_approval("APR-BEACON", broker.issuer(), "alice", &[CANCER]);
    let r = http.post("/admin/v1/approvals", Some(&out.admin), &approval)?;
    assert_eq!(r.status, 201, "{}", r.json);
    Ok(out)
}

/// A gateway whose Beacon answers PUBLIC booleans over the small demo datasets (minimum cohort
/// 1) and reports exact counts, so answers can be compared with the oracle exactly.
async fn open_gateway() -> Res<TestGateway> {
    open_gateway_with(|_| {}).await
}

/// As [`open_gateway`], with more changes to the configuration.
async fn open_gateway_with(
    adjust: impl FnOnce(&mut gemj_server::config::Config),
) -> Res<TestGateway> {
    Ok(TestGateway::start_with(24, |c| {
        c.beacon.privacy.min_cohort_public = 1;
        c.beacon.privacy.small_cell = 1;
        c.beacon.privacy.round_to = 1;
        c.beacon.privacy.rare_allele_min_carriers = 1;
        adjust(c);
    })
    .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informational_endpoints_are_valid_and_describe_what_is_served() -> TestResult {
    let set = schemas();
    // The validators are live.
    assert!(
        set.validate(
            &format!("{RESPONSES}/beaconInfoResponse.json"),
            "",
            &json!({"meta": {}})
        )
        .is_err()
    );
    let gw = TestGateway::start(12).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    for (path, doc) in [
        ("", "beaconInfoResponse"),
        ("/", "beaconInfoResponse"),
        ("/info", "beaconInfoResponse"),
        ("/configuration", "beaconConfigurationResponse"),
        ("/map", "beaconMapResponse"),
        ("/entry_types", "beaconEntryTypesResponse"),
        ("/filtering_terms", "beaconFilteringTermsResponse"),
    ] {
        let r = http.get(&format!("{B}{path}"), None)?;
        assert_eq!(r.status, 200, "{path}: {}", r.json);
        valid(&set, doc, &r, path);
    }
    let r = http.get(&format!("{B}/service-info"), None)?;
    assert_eq!(r.status, 200);
    if let Err(e) = set.validate(
        &format!("{RESPONSES}/ga4gh-service-info-1-0-0-schema.json"),
        "",
        &r.json,
    ) {
        panic!("service-info: {e:?}\n{:#}", r.json);
    }
    assert_eq!(r.json["type"]["artifact"], "beacon");
    let service_environment = r.json["environment"].clone();
    // Every entry type is served, with every nested route of the spec in the map.
    let r = http.get(&format!("{B}/map"), None)?;
    let sets = r.json["response"]["endpointSets"]
        .as_object()
        .ok_or("endpointSets")?;
    assert_eq!(sets.len(), 7, "{:#}", r.json);
    let nested: usize = sets
        .values()
        .map(|s| s["endpoints"].as_object().map_or(0, serde_json::Map::len))
        .sum();
    assert_eq!(nested, 14);
    // The choices the spec leaves open are documented in /info.
    let r = http.get(&format!("{B}/info"), None)?;
    assert_eq!(
        r.json["response"]["info"]["implementation"]["skipUnit"],
        "records"
    );
    assert!(r.json["response"]["info"]["privacy"]["defaults"]["min_cohort_public"].is_u64());
    assert!(
        r.json["response"]["info"]["privacy"]["routeScopes"]
            .as_str()
            .is_some_and(|n| n.contains("which specimens' calls hold each allele"))
    );
    // /datasets follows requestedGranularity: the list by default, a boolean or a count of
    // the datasets when asked for, each in the schema the endpoint allows.
    let r = http.get(&format!("{B}/datasets"), None)?;
    let listed =
        valid(&set, "beaconCollectionsResponse", &r, "/datasets")["response"]["collections"]
            .as_array()
            .map_or(0, Vec::len);
    assert!(listed > 0);
    assert_eq!(r.json["meta"]["returnedGranularity"], "record");
    let r = http.get(&format!("{B}/datasets?requestedGranularity=boolean"), None)?;
    let doc = valid(&set, "beaconBooleanResponse", &r, "/datasets boolean");
    assert_eq!(doc["responseSummary"]["exists"], true);
    assert_eq!(doc["meta"]["returnedGranularity"], "boolean");
    let r = http.get(&format!("{B}/datasets?requestedGranularity=count"), None)?;
    let doc = valid(&set, "beaconCountResponse", &r, "/datasets count");
    assert_eq!(doc["responseSummary"]["numTotalResults"], listed);
    assert_eq!(doc["meta"]["returnedGranularity"], "count");
    // /info and /service-info say the same environment (both from `service.environment`), and
    // so does the gateway's own service-info.
    let info = http.get(&format!("{B}/info"), None)?;
    assert_eq!(info.json["response"]["environment"], service_environment);
    let own = http.get("/service-info", None)?;
    assert_eq!(own.json["environment"], service_environment, "{}", own.json);
    assert!(service_environment.is_string());
    // Filtering terms are those present in the data: the demo's ICD-10 codes and HPO terms
    // (labelled from the ontology), never a term nobody carries.
    let r = http.get(&format!("{B}/filtering_terms"), None)?;
    let terms = &r.json["response"]["filteringTerms"];
    let ids: BTreeSet<String> = gemj_e2e::field_strings(terms, "id", "terms")?.collect();
    assert!(ids.contains("sex"), "{ids:?}");
    assert!(
        !ids.contains("HP:0000118"),
        "an ancestor nobody carries is listed"
    );
    // The spec's other filtering-term endpoints: /individuals/filtering_terms (every term is
    // an individual's), and per dataset and per cohort the terms of its members only; an
    // unknown collection is a 404.
    let all: Vec<Value> = terms.as_array().ok_or("terms")?.clone();
    let r = http.get(&format!("{B}/individuals/filtering_terms"), None)?;
    valid(
        &set,
        "beaconFilteringTermsResponse",
        &r,
        "/individuals/filtering_terms",
    );
    assert_eq!(r.json["response"]["filteringTerms"], json!(all));
    let dataset =
        http.get(&format!("{B}/datasets"), None)?.json["response"]["collections"][0]["id"]
            .as_str()
            .ok_or("a dataset id")?
            .to_owned();
    for scoped in [
        format!("/datasets/{dataset}"),
        "/cohorts/GEMJ-COHORT-CANCER".to_owned(),
    ] {
        let r = http.get(&format!("{B}{scoped}/filtering_terms"), None)?;
        let doc = valid(&set, "beaconFilteringTermsResponse", &r, &scoped);
        let some: BTreeSet<String> =
            gemj_e2e::field_strings(&doc["response"]["filteringTerms"], "id", "terms")?.collect();
        assert!(
            some.is_subset(&ids) && some.contains("sex"),
            "{scoped}: {some:?}"
        );
        let r = http.post(
            &format!("{B}{scoped}/filtering_terms"),
            None,
            &json!({"meta": {"apiVersion": "v2.2.0"}}),
        )?;
        assert_eq!(
            r.json["response"]["filteringTerms"],
            doc["response"]["filteringTerms"]
        );
    }
    for unknown in ["/datasets/NO-SUCH-DATASET", "/cohorts/NO-SUCH-COHORT"] {
        let r = http.get(&format!("{B}{unknown}/filtering_terms"), None)?;
        error(&set, &r, 404, unknown);
    }
    let r = http.get(&format!("{B}/runs/X/filtering_terms"), None)?;
    error(&set, &r, 404, "/runs/X/filtering_terms");
    // skip and limit page the terms (GET parameters, or a POST body's query.pagination);
    // limit 0 is every term; anything else is a 400 that repeats nothing of the input.
    let r = http.get(&format!("{B}/filtering_terms?skip=1&limit=2"), None)?;
    valid(&set, "beaconFilteringTermsResponse", &r, "paged");
    assert_eq!(r.json["response"]["filteringTerms"], json!(all[1..3]));
    let r = http.get(&format!("{B}/filtering_terms?limit=0"), None)?;
    assert_eq!(r.json["response"]["filteringTerms"], json!(all));
    let body =
        json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"pagination": {"skip": 2, "limit": 1}}});
    let r = http.post(&format!("{B}/filtering_terms"), None, &body)?;
    assert_eq!(r.json["response"]["filteringTerms"], json!(all[2..3]));
    for bad in ["limit=ZQX9", "skip=-1", "ZQX9=1"] {
        let r = http.get(&format!("{B}/filtering_terms?{bad}"), None)?;
        error(&set, &r, 400, bad);
        assert!(!r.json.to_string().contains("ZQX9"), "{bad}: {}", r.json);
    }
    // Methods other than GET and POST: 405 in the Beacon error format.
    let r = http.send("DELETE", &format!("{B}/individuals"), None, None, None)?;
    error(&set, &r, 405, "DELETE");
    assert_eq!(r.header("allow"), Some("GET, POST"));
    // Beacon and htsget are each one scope of routes: a path under a prefix that none of its
    // routes takes is a 404, and so is a path that only starts like a prefix.
    for path in [
        "/beacon/v2/individuals/x/runs/y",
        "/beacon/v2x/individuals",
        "/htsget/reads",
        "/htsget/reads/",
        "/htsget/nothing/GEMJ-DEMO-0002",
        "/htsgetx/reads/GEMJ-DEMO-0002",
    ] {
        let r = http.get(path, None)?;
        assert_eq!(r.status, 404, "{path}: {}", r.json);
    }
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granularity_follows_the_verified_passport_and_consent() -> TestResult {
    let set = schemas();
    let gw = open_gateway().await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let p = passports(&gw, &http).await?;
    let strict = servable(&gw, false).await?;
    let academia = servable(&gw, true).await?;
    let cancer = members(&gw, CANCER).await?;
    let withdrawn: BTreeSet<ParticipantId> = gw
        .store
        .all_consent_states()
        .await?
        .into_iter()
        .filter(|s| s.status == gemj_model::ConsentStatus::Withdrawn)
        .map(|s| s.participant)
        .collect();
    assert!(
        !withdrawn.is_empty(),
        "the demo has a withdrawn participant"
    );

    // A variant of the cancer dataset carried by a servable participant.
    let rows = variants(&gw, CANCER).await?;
    let (row, carriers) = rows
        .iter()
        .find(|(_, c)| c.iter().any(|p| strict.contains(p)))
        .ok_or("a variant with a servable carrier")?;
    let q = gv(row);

    // Anonymous: booleans, whatever is asked.
    let r = http.get(
        &format!("{B}/g_variants?{q}&requestedGranularity=record"),
        None,
    )?;
    let doc = valid(&set, "beaconBooleanResponse", &r, "anonymous g_variants");
    assert_eq!(doc["meta"]["returnedGranularity"], "boolean");
    assert_eq!(doc["responseSummary"]["exists"], true);
    assert!(doc["responseSummary"].get("numTotalResults").is_none());

    // Registered: counts. The individuals carrying it, across all datasets, are the servable
    // carriers in any dataset (here: exactly, the rules are opened for the comparison).
    let r = http.get(
        &format!("{B}/individuals?{q}&requestedGranularity=record"),
        Some(&p.registered),
    )?;
    let doc = valid(&set, "beaconCountResponse", &r, "registered individuals");
    assert_eq!(doc["meta"]["returnedGranularity"], "count");
    let mut expected: BTreeSet<ParticipantId> = BTreeSet::new();
    for dataset in [PUBLIC, CANCER, "GEMJ-DEMO-RD-REG", "GEMJ-DEMO-JOINT-CTRL"] {
        let ms = members(&gw, dataset).await?;
        for (r, c) in variants(&gw, dataset).await? {
            if r.key == row.key {
                expected.extend(
                    c.into_iter()
                        .filter(|p| strict.contains(p) && ms.contains(p)),
                );
            }
        }
    }
    assert_eq!(
        doc["responseSummary"]["numTotalResults"],
        expected.len() as u64,
        "{doc:#}"
    );
    assert!(expected.iter().all(|p| !withdrawn.contains(p)));

    // Approved for the cancer dataset: records there, exactly the servable carriers (academia
    // scope), never the withdrawn participant; the request's other datasets would cap it.
    let r = http.get(
        &format!("{B}/individuals?{q}&requestedGranularity=record"),
        Some(&p.approved),
    )?;
    let doc = valid(&set, "beaconCountResponse", &r, "approved, all datasets");
    assert_eq!(doc["meta"]["returnedGranularity"], "count");
    let body = record_query(row, CANCER);
    let r = http.post(&format!("{B}/individuals"), Some(&p.approved), &body)?;
    let doc = valid(&set, "beaconResultsetsResponse", &r, "approved, cancer");
    assert_eq!(doc["meta"]["returnedGranularity"], "record");
    let got: BTreeSet<String> = doc["response"]["resultSets"][0]["results"]
        .as_array()
        .ok_or("results")?
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    let want: BTreeSet<String> = carriers
        .iter()
        .filter(|p| academia.contains(*p) && cancer.contains(*p))
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, want);
    // The same with passports in the body and the flat requestParameters shape.
    let mut flat = body.clone();
    flat["passports"] = json!([p.approved]);
    flat["query"]["requestParameters"] = json!({
        "referenceName": row.key.chrom.as_str(),
        "start": [u64::from(row.key.pos) - 1],
        "referenceBases": row.key.reference.as_str(),
        "alternateBases": row.key.alternate.as_str(),
        "datasets": {"datasetIds": [CANCER]},
    });
    let r = http.post(&format!("{B}/individuals"), None, &flat)?;
    let doc2 = valid(&set, "beaconResultsetsResponse", &r, "body passports");
    assert_eq!(doc2["response"], doc["response"]);

    // Every participant of the cancer dataset at record level: the servable members, never
    // the withdrawn one; biosamples, runs and analyses are theirs.
    let all = json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"requestParameters": {"datasets": {"datasetIds": [CANCER]}},
        "requestedGranularity": "record", "pagination": {"limit": 100}}});
    let r = http.post(&format!("{B}/individuals"), Some(&p.approved), &all)?;
    let doc = valid(
        &set,
        "beaconResultsetsResponse",
        &r,
        "all cancer individuals",
    );
    let got: BTreeSet<String> = doc["response"]["resultSets"][0]["results"]
        .as_array()
        .ok_or("results")?
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    let want: BTreeSet<String> = cancer
        .iter()
        .filter(|p| academia.contains(*p))
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, want);
    assert!(withdrawn.iter().all(|w| !got.contains(w.as_str())));
    for (entry, doc_name) in [
        ("biosamples", "beaconResultsetsResponse"),
        ("runs", "beaconResultsetsResponse"),
        ("analyses", "beaconResultsetsResponse"),
        ("g_variants", "beaconErrorResponse"),
    ] {
        let r = http.post(&format!("{B}/{entry}"), Some(&p.approved), &all)?;
        if doc_name == "beaconErrorResponse" {
            // A variant query needs coordinates, a gene or an allele.
            error(&set, &r, 400, entry);
            continue;
        }
        let doc = valid(&set, doc_name, &r, entry);
        for record in doc["response"]["resultSets"][0]["results"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let owner = record["individualId"].as_str().unwrap_or_default();
            assert!(want.contains(owner), "{entry}: {record}");
        }
        assert!(
            doc["responseSummary"]["numTotalResults"]
                .as_u64()
                .is_some_and(|n| n > 0),
            "{entry}"
        );
    }

    // Nested and by-id routes: an individual's biosamples; a withdrawn individual and an
    // unknown id answer alike.
    let someone = want.iter().next().ok_or("a servable cancer participant")?;
    let scoped = json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"requestParameters": {"datasets": {"datasetIds": [CANCER]}},
        "requestedGranularity": "record"}});
    let r = http.post(
        &format!("{B}/individuals/{someone}/biosamples"),
        Some(&p.approved),
        &scoped,
    )?;
    let doc = valid(&set, "beaconResultsetsResponse", &r, "nested biosamples");
    for b in doc["response"]["resultSets"][0]["results"]
        .as_array()
        .ok_or("results")?
    {
        assert_eq!(b["individualId"], someone.as_str());
    }
    let gone = withdrawn.iter().next().ok_or("withdrawn")?;
    let a = http.post(
        &format!("{B}/individuals/{gone}"),
        Some(&p.approved),
        &scoped,
    )?;
    let b = http.post(
        &format!("{B}/individuals/GEMJ-NO-SUCH-ONE"),
        Some(&p.approved),
        &scoped,
    )?;
    valid(&set, "beaconResultsetsResponse", &a, "withdrawn by id");
    assert_eq!(a.status, b.status);
    assert_eq!(a.json["responseSummary"], b.json["responseSummary"]);
    assert_eq!(a.json["response"], b.json["response"]);
    assert_eq!(a.json["responseSummary"]["exists"], false);

    // The variant by its id, and its carriers nested under it.
    let vid = format!(
        "{}-{}-{}-{}",
        row.key.chrom.as_str(),
        row.key.pos,
        row.key.reference.as_str(),
        row.key.alternate.as_str()
    );
    let r = http.post(
        &format!("{B}/g_variants/{vid}/individuals"),
        Some(&p.approved),
        &scoped,
    )?;
    let doc = valid(
        &set,
        "beaconResultsetsResponse",
        &r,
        "variant's individuals",
    );
    let got: BTreeSet<String> = doc["response"]["resultSets"][0]["results"]
        .as_array()
        .ok_or("results")?
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    let want_carriers: BTreeSet<String> = carriers
        .iter()
        .filter(|p| academia.contains(*p) && cancer.contains(*p))
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, want_carriers);
    let r = http.post(&format!("{B}/g_variants/{vid}"), Some(&p.approved), &scoped)?;
    let doc = valid(&set, "beaconResultsetsResponse", &r, "variant by id");
    assert_eq!(
        doc["response"]["resultSets"][0]["results"][0]["variantInternalId"],
        vid.as_str()
    );

    // Collections: datasets and cohorts, valid, for anyone.
    for entry in ["datasets", "cohorts"] {
        let r = http.get(&format!("{B}/{entry}"), None)?;
        let doc = valid(&set, "beaconCollectionsResponse", &r, entry);
        assert!(
            doc["responseSummary"]["numTotalResults"]
                .as_u64()
                .is_some_and(|n| n > 0)
        );
    }
    for (path, id) in [
        (
            "/cohorts/GEMJ-COHORT-CANCER".to_owned(),
            "GEMJ-COHORT-CANCER",
        ),
        (format!("/datasets/{CANCER}"), CANCER),
    ] {
        let r = http.get(&format!("{B}{path}"), None)?;
        let doc = valid(&set, "beaconCollectionsResponse", &r, &path);
        let ids: Vec<&str> = doc["response"]["collections"]
            .as_array()
            .ok_or("collections")?
            .iter()
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert_eq!(ids, vec![id], "{path}");
    }
    let r = http.get(
        &format!("{B}/datasets/{CANCER}/individuals?requestedGranularity=count"),
        Some(&p.registered),
    )?;
    valid(&set, "beaconCountResponse", &r, "dataset's individuals");
    assert_eq!(
        r.json["responseSummary"]["numTotalResults"],
        cancer.iter().filter(|p| strict.contains(*p)).count() as u64
    );

    // Every query is audited with its answer class.
    let records = gw.store.audit_records(0, 100_000).await?;
    let classes: BTreeSet<String> = records
        .iter()
        .filter(|r| r.event.api == "beacon")
        .flat_map(|r| {
            r.event
                .reasons
                .iter()
                .filter(|c| c.starts_with("answer:"))
                .cloned()
        })
        .collect();
    for c in ["answer:boolean", "answer:count", "answer:record"] {
        assert!(classes.contains(c), "{classes:?}");
    }
    // A query's datasets are decided together and audited in one row that names them all.
    let mut rows_per_query = std::collections::HashMap::<&str, usize>::new();
    for r in records
        .iter()
        .filter(|r| r.event.api == "beacon" && r.event.action == "discover")
    {
        *rows_per_query
            .entry(r.event.request_id.as_str())
            .or_default() += 1;
    }
    assert!(
        rows_per_query.values().all(|n| *n == 1),
        "{rows_per_query:?}"
    );
    assert!(
        records.iter().any(|r| r.event.api == "beacon"
            && r.event.resource.starts_with("datasets:")
            && r.event.resource.contains(CANCER)
            && r.event.resource.contains(',')),
        "no Beacon row names several datasets"
    );
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_follow_the_icd10_and_hpo_hierarchies() -> TestResult {
    let set = schemas();
    let gw = open_gateway().await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let p = passports(&gw, &http).await?;
    let strict = servable(&gw, false).await?;
    // The oracle: diagnoses and observed phenotypes of servable participants.
    let mut icd: Vec<(ParticipantId, String)> = Vec::new();
    let mut hpo: Vec<(ParticipantId, String)> = Vec::new();
    for id in &strict {
        for d in gw.store.diagnoses_of(id).await? {
            icd.push((id.clone(), d.icd10.as_str().to_owned()));
        }
        for ph in gw.store.phenotypes_of(id).await? {
            if ph.status == gemj_model::PhenotypeStatus::Observed {
                hpo.push((id.clone(), ph.hpo.as_str().to_owned()));
            }
        }
    }
    let count = |filters: Value| -> Res<u64> {
        let body = json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"filters": filters, "requestedGranularity": "count"}});
        let r = http.post(&format!("{B}/individuals"), Some(&p.registered), &body)?;
        let doc = valid(&set, "beaconCountResponse", &r, &filters.to_string());
        doc["responseSummary"]["numTotalResults"]
            .as_u64()
            .ok_or_else(|| format!("no count: {doc}").into())
    };
    let people = |pred: &dyn Fn(&str) -> bool, list: &[(ParticipantId, String)]| -> u64 {
        list.iter()
            .filter(|(_, c)| pred(c))
            .map(|(p, _)| p)
            .collect::<BTreeSet<_>>()
            .len() as u64
    };
    // ICD-10: a category selects its subdivisions; without descendants only itself.
    let (_, code) = icd
        .iter()
        .find(|(_, c)| c.contains('.'))
        .ok_or("a dotted diagnosis")?;
    let category = &code[..3];
    assert_eq!(
        count(json!([{"id": format!("ICD10:{category}")}]))?,
        people(&|c| c.starts_with(category), &icd)
    );
    assert_eq!(
        count(json!([{"id": format!("ICD10:{category}"), "includeDescendantTerms": false}]))?,
        people(&|c| c == category, &icd)
    );
    assert_eq!(
        count(json!([{"id": format!("ICD10:{code}")}]))?,
        people(&|c| c == code, &icd)
    );
    // Similarity widens a code to its category (any spelling of the code), then descendants
    // are taken or not.
    let spelled = code.replace('.', "").to_lowercase();
    assert_eq!(
        count(json!([{"id": format!("ICD10:{spelled}"), "similarity": "high"}]))?,
        people(&|c| c.starts_with(category), &icd)
    );
    assert_eq!(
        count(
            json!([{"id": format!("ICD10:{code}"), "similarity": "low", "includeDescendantTerms": false}])
        )?,
        people(&|c| c == category, &icd)
    );
    // HPO: an ancestor selects carriers of its descendants (HP:0000118, Phenotypic
    // abnormality, is an ancestor of every observed term), not without descendants.
    let observed = hpo.iter().map(|(p, _)| p).collect::<BTreeSet<_>>().len() as u64;
    assert!(observed > 0);
    assert_eq!(count(json!([{"id": "HP:0000118"}]))?, observed);
    assert_eq!(
        count(json!([{"id": "HP:0000118", "includeDescendantTerms": false}]))?,
        0
    );
    let (_, term) = hpo.first().ok_or("an observed term")?;
    assert_eq!(
        count(json!([{"id": term, "includeDescendantTerms": false}]))?,
        people(&|t| t == term, &hpo)
    );
    // Similarity widens a term upwards before descendants are taken: never fewer matches.
    let exact = count(json!([{"id": term}]))?;
    let high = count(json!([{"id": term, "similarity": "high"}]))?;
    let low = count(json!([{"id": term, "similarity": "low"}]))?;
    assert!(
        exact <= high && high <= low && low <= observed,
        "{exact} {high} {low}"
    );
    // Sex, as an ontology term and as an alphanumeric field, and two filters ANDed.
    let mut females = 0;
    for id in &strict {
        if let Some(part) = gw.store.get_participant(id).await?
            && part.sex == gemj_model::Sex::Female
        {
            females += 1;
        }
    }
    assert_eq!(count(json!([{"id": "NCIT:C16576"}]))?, females);
    assert_eq!(
        count(json!([{"id": "sex", "operator": "=", "value": "female"}]))?,
        females
    );
    assert_eq!(
        count(json!([{"id": "sex", "operator": "!", "value": "female"}]))?,
        strict.len() as u64 - females
    );
    assert!(count(json!([{"id": "NCIT:C16576"}, {"id": "NCIT:C20197"}]))? == 0);
    // GET spelling of filters.
    let r = http.get(
        &format!("{B}/individuals?filters=ICD10:{category}&requestedGranularity=count"),
        Some(&p.registered),
    )?;
    valid(&set, "beaconCountResponse", &r, "GET filters");
    assert_eq!(
        r.json["responseSummary"]["numTotalResults"],
        people(&|c| c.starts_with(category), &icd)
    );
    // An unknown filter id is a 400, not an empty answer.
    let body =
        json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"filters": [{"id": "HP:9999999"}]}});
    let r = http.post(&format!("{B}/individuals"), Some(&p.registered), &body)?;
    error(&set, &r, 400, "unknown HPO term");
    let body = json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"filters": [{"id": "FOO:123"}]}});
    let r = http.post(&format!("{B}/individuals"), Some(&p.registered), &body)?;
    error(&set, &r, 400, "unknown prefix");
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_beacon_errors_never_500() -> TestResult {
    let set = schemas();
    let gw = TestGateway::start(12).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let gets = [
        (
            "/g_variants?referenceName=chr20&start=200&end=100",
            400,
            "start after end",
        ),
        (
            "/g_variants?referenceName=chr20&start=100&end=200&assemblyId=NCBI36",
            400,
            "assembly",
        ),
        ("/individuals?filters=NOPE:1", 400, "unknown filter"),
        ("/individuals?limit=100000", 400, "oversized limit"),
        ("/individuals?colour=blue", 400, "unknown parameter"),
        (
            "/individuals?filters=NCIT:C16576,NCIT:C20197,HP:0000118,HP:0000001,ICD10:C34,ICD10:C50,ICD10:C61,ICD10:C16,ICD10:C18,ICD10:C22,ICD10:C25",
            400,
            "more than the 10 filters allowed",
        ),
        ("/individuals?skip=-1", 400, "negative skip"),
        (
            "/g_variants?referenceName=chr20&start=100&end=200&aminoacidChange=V600E",
            400,
            "aa change",
        ),
        ("/nothing_here", 404, "unknown entry type"),
        (
            "/individuals/x/datasets",
            404,
            "nested route the spec does not define",
        ),
    ];
    for (path, status, what) in gets {
        let r = http.get(&format!("{B}{path}"), None)?;
        error(&set, &r, status, what);
    }
    let posts: [(&[u8], &str, u16, &str); 5] = [
        (b"{not json", "application/json", 400, "bad JSON"),
        (b"{}", "text/plain", 400, "wrong content type"),
        (b"[]", "application/json", 400, "not an object"),
        (
            br#"{"meta": {"apiVersion": "v2.2.0"}, "query": {"pagination": {"limit": 1000}}}"#,
            "application/json",
            400,
            "limit",
        ),
        (
            br#"{"passports": "x"}"#,
            "application/json",
            400,
            "passports not a list",
        ),
    ];
    for (body, ct, status, what) in posts {
        let r = http.send(
            "POST",
            &format!("{B}/individuals"),
            None,
            Some(ct),
            Some(body.to_vec()),
        )?;
        error(&set, &r, status, what);
    }
    // Bodies that break the official beaconRequestBody.json: 400 InvalidBody naming the
    // schema's place and keyword, never the values or names sent.
    let m = "ZQXmarker";
    let broken = [
        (json!({"meta": {"apiVersion": 2}}), "meta.apiVersion: type"),
        (
            json!({"meta": {"apiVersion": "v2.2.0", "requestedSchemas": m}}),
            "meta.requestedSchemas: type",
        ),
        (
            json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"requestedGranularity": m}}),
            "query.requestedGranularity: enum",
        ),
        (
            json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"pagination": {"skip": -1}}}),
            "query.pagination.skip: minimum",
        ),
        (
            json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"filters": m}}),
            "query.filters: type",
        ),
        (
            json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"testMode": m}}),
            "query.testMode: type",
        ),
    ];
    for (body, names) in broken {
        let r = http.post(&format!("{B}/individuals"), None, &body)?;
        error(&set, &r, 400, names);
        let message = r.json["error"]["errorMessage"].as_str().unwrap_or_default();
        assert!(
            message.contains("beaconRequestBody.json") && message.contains(names),
            "{body}: {message}"
        );
        assert!(!message.contains(m), "{body}: {message}");
    }
    // The official nested requestParameters and the widely sent flat form are both read.
    for parameters in [
        json!({"g_variant": {"referenceName": "chr20", "start": [100], "end": [200]}}),
        json!({"referenceName": "chr20", "start": [100], "end": [200]}),
    ] {
        let body =
            json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"requestParameters": parameters}});
        let r = http.post(&format!("{B}/g_variants"), None, &body)?;
        assert_eq!(r.status, 200, "{body}: {}", r.json);
    }
    // A credential that does not verify: 401 in the Beacon format, never anonymous.
    let r = http.get(&format!("{B}/individuals"), Some("not-a-jwt"))?;
    error(&set, &r, 401, "bad token");
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_defenses_hold_with_their_defaults() -> TestResult {
    let set = schemas();
    // Defaults, except a small query budget per address.
    let gw = TestGateway::start_with(24, |c| {
        c.beacon.budgets.per_ip = 40;
        c.beacon.budgets.risk_budget = 3;
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let p = passports(&gw, &http).await?;
    let strict = servable(&gw, false).await?;
    let rows = variants(&gw, PUBLIC).await?;
    let public_members = members(&gw, PUBLIC).await?;
    // 1. Minimum cohort: the demo's datasets are below 20 servable participants, so a public
    //    boolean about a common variant is false, exactly as for an absent one.
    let (common, _) = rows
        .iter()
        .max_by_key(|(_, c)| c.iter().filter(|p| strict.contains(*p)).count())
        .ok_or("a variant")?;
    assert!(
        public_members
            .iter()
            .filter(|p| strict.contains(*p))
            .count()
            < 20
    );
    let present = http.get(&format!("{B}/g_variants?{}", gv(common)), None)?;
    let absent = http.get(
        &format!("{B}/g_variants?referenceName=chr20&start=1&referenceBases=A&alternateBases=T"),
        None,
    )?;
    valid(&set, "beaconBooleanResponse", &present, "min cohort");
    assert_eq!(
        present.json["responseSummary"],
        absent.json["responseSummary"]
    );
    assert_eq!(present.json["responseSummary"]["exists"], false);

    // 2. Small cells: registered counts below 5 read 0 with countAdjustedTo ["<5"], like zero.
    let (rare, rare_carriers) = rows
        .iter()
        .find(|(_, c)| {
            let n = c.iter().filter(|p| strict.contains(*p)).count();
            (1..5).contains(&n)
        })
        .ok_or("a rare variant")?;
    assert!(!rare_carriers.is_empty());
    let r = http.get(
        &format!("{B}/individuals?{}&requestedGranularity=count", gv(rare)),
        Some(&p.registered),
    )?;
    let doc = valid(&set, "beaconCountResponse", &r, "small cell");
    assert_eq!(doc["responseSummary"]["numTotalResults"], 0);
    assert_eq!(doc["responseSummary"]["exists"], false);
    assert_eq!(doc["responseSummary"]["countPrecision"], "rounded");
    assert_eq!(doc["responseSummary"]["countAdjustedTo"], json!(["<5"]));
    let r0 = http.get(
        &format!("{B}/individuals?referenceName=chr20&start=1&referenceBases=A&alternateBases=T&requestedGranularity=count"),
        Some(&p.registered),
    )?;
    assert_eq!(r0.json["responseSummary"], doc["responseSummary"]);
    // Larger counts are rounded down to a multiple of 5.
    let r = http.get(
        &format!("{B}/individuals?requestedGranularity=count"),
        Some(&p.registered),
    )?;
    let n = r.json["responseSummary"]["numTotalResults"]
        .as_u64()
        .ok_or("count")?;
    assert_eq!(n % 5, 0);
    assert!(
        n <= strict.len() as u64 && strict.len() as u64 - n < 5,
        "{n} vs {}",
        strict.len()
    );

    // 3. Query shapes at PUBLIC level: wildcards and wide ranges are refused.
    let r = http.get(
        &format!("{B}/g_variants?referenceName=chr20&start=100&referenceBases=A&alternateBases=N"),
        None,
    )?;
    error(&set, &r, 400, "public wildcard");
    let r = http.get(
        &format!("{B}/g_variants?referenceName=chr20&start=0&end=5000000"),
        None,
    )?;
    error(&set, &r, 400, "public range width");
    let r = http.get(
        &format!(
            "{B}/g_variants?referenceName=chr20&start=0&end=5000000&requestedGranularity=count"
        ),
        Some(&p.registered),
    )?;
    valid(&set, "beaconCountResponse", &r, "registered may query 5 Mb");

    // 4. Budgets: the address's budget runs out with 429 and Retry-After.
    let mut refused = None;
    for _ in 0..60 {
        let r = http.get(&format!("{B}/individuals"), None)?;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.json);
    }
    let r = refused.ok_or("no 429 within 60 queries")?;
    error(&set, &r, 429, "budget");
    let wait: u64 = r.header("retry-after").ok_or("Retry-After")?.parse()?;
    assert!((1..=60).contains(&wait));
    // The refusal, made before any dataset is decided, is audited once, under its request id.
    let request_id = r.header("x-request-id").ok_or("X-Request-Id")?;
    let rows: Vec<_> = gw
        .store
        .audit_records_of_principal("anonymous", 0, 10_000)
        .await?
        .into_iter()
        .filter(|row| row.event.request_id == request_id)
        .collect();
    let reasons: Vec<&str> = rows.iter().map(|r| r.event.reasons[0].as_str()).collect();
    assert_eq!(reasons, ["request_refused:query_budget_spent"]);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_rare_allele_probing_exhausts_the_individuals_budget() -> TestResult {
    let set = schemas();
    let gw = open_gateway_with(|c| {
        c.beacon.budgets.risk_budget = 3;
        c.beacon.budgets.risk_set_size = 2;
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let p = passports(&gw, &http).await?;
    let strict = servable(&gw, false).await?;
    let rows = variants(&gw, PUBLIC).await?;
    // A singleton: one servable carrier.
    let (rare, _) = rows
        .iter()
        .find(|(_, c)| c.iter().filter(|p| strict.contains(*p)).count() == 1)
        .ok_or("a singleton variant")?;
    let url = format!("{B}/individuals?{}&requestedGranularity=count", gv(rare));
    let mut answers = Vec::new();
    for _ in 0..5 {
        let r = http.get(&url, Some(&p.registered))?;
        let doc = valid(&set, "beaconCountResponse", &r, "probe");
        answers.push(
            doc["responseSummary"]["numTotalResults"]
                .as_u64()
                .unwrap_or(99),
        );
    }
    // Three answers name the carrier; after that, it no longer counts for this requester.
    assert_eq!(answers, vec![1, 1, 1, 0, 0], "{answers:?}");
    // Another requester is not affected.
    let r = http.get(&url, Some(&p.approved))?;
    assert_eq!(r.json["responseSummary"]["numTotalResults"], 1);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_booleans_mask_rare_alleles() -> TestResult {
    let set = schemas();
    // The default masking (at least 2 servable carriers), with the minimum cohort opened so
    // that the demo datasets answer public booleans at all.
    let gw = TestGateway::start_with(24, |c| {
        c.beacon.privacy.min_cohort_public = 1;
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let p = passports(&gw, &http).await?;
    let strict = servable(&gw, false).await?;
    // Carriers across every dataset holding the variant (a boolean answers over all of them).
    let mut all: std::collections::BTreeMap<
        String,
        (gemj_store::VariantRow, BTreeSet<ParticipantId>),
    > = std::collections::BTreeMap::new();
    for dataset in [PUBLIC, CANCER, "GEMJ-DEMO-RD-REG", "GEMJ-DEMO-JOINT-CTRL"] {
        let ms = members(&gw, dataset).await?;
        for (row, carriers) in variants(&gw, dataset).await? {
            let entry = all
                .entry(gv(&row))
                .or_insert_with(|| (row.clone(), BTreeSet::new()));
            entry.1.extend(
                carriers
                    .into_iter()
                    .filter(|c| strict.contains(c) && ms.contains(c)),
            );
        }
    }
    let singleton = all
        .values()
        .find(|(_, c)| c.len() == 1)
        .ok_or("a variant with one servable carrier")?;
    let common = all
        .values()
        .find(|(_, c)| c.len() >= 3)
        .ok_or("a variant with three servable carriers")?;
    let ask = |row: &gemj_store::VariantRow, token: Option<&str>| -> Res<Value> {
        let r = http.get(&format!("{B}/g_variants?{}", gv(row)), token)?;
        Ok(valid(&set, "beaconBooleanResponse", &r, "masking"))
    };
    assert_eq!(ask(&common.0, None)?["responseSummary"]["exists"], true);
    assert_eq!(ask(&singleton.0, None)?["responseSummary"]["exists"], false);
    // A registered researcher's boolean is not masked (counts carry their own rules).
    assert_eq!(
        ask(&singleton.0, Some(&p.registered))?["responseSummary"]["exists"],
        true
    );
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gene_bracket_hgvs_and_nested_variant_queries_match_the_variant_index() -> TestResult {
    let set = schemas();
    let gw = open_gateway().await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let p = passports(&gw, &http).await?;
    let academia = servable(&gw, true).await?;
    let cancer = members(&gw, CANCER).await?;
    let rows = variants(&gw, CANCER).await?;
    let id = |r: &gemj_store::VariantRow| {
        format!(
            "{}-{}-{}-{}",
            r.key.chrom.as_str(),
            r.key.pos,
            r.key.reference.as_str(),
            r.key.alternate.as_str()
        )
    };
    // The oracle: the cancer dataset's variants with a carrier the approved researcher may be
    // served.
    let served = |pred: &dyn Fn(&gemj_store::VariantRow) -> bool| -> BTreeSet<String> {
        rows.iter()
            .filter(|(r, c)| {
                pred(r) && c.iter().any(|p| academia.contains(p) && cancer.contains(p))
            })
            .map(|(r, _)| id(r))
            .collect()
    };
    // The total and the first page (100) of a record query on the cancer dataset.
    let ask = |params: Value, path: &str| -> Res<(u64, BTreeSet<String>)> {
        let mut params = params;
        params["datasets"] = json!({"datasetIds": [CANCER]});
        let body = json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"requestParameters": params, "requestedGranularity": "record",
            "pagination": {"limit": 100}}});
        let r = http.post(&format!("{B}{path}"), Some(&p.approved), &body)?;
        let doc = valid(&set, "beaconResultsetsResponse", &r, &params.to_string());
        let got: BTreeSet<String> = doc["response"]["resultSets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["results"].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v["variantInternalId"].as_str().map(str::to_owned))
            .collect();
        let total = doc["responseSummary"]["numTotalResults"]
            .as_u64()
            .unwrap_or(u64::MAX);
        Ok((total, got))
    };
    let matches = |(total, got): (u64, BTreeSet<String>), want: &BTreeSet<String>, what: &str| {
        assert_eq!(total, want.len() as u64, "{what}");
        assert_eq!(got.len(), want.len().min(100), "{what}");
        assert!(got.is_subset(want), "{what}: {got:?}");
    };

    // A gene: every variant whose position lies in the gene's span.
    let gene = gw
        .store
        .gene_by_name("JAG1")
        .await?
        .ok_or("the demo gene JAG1")?;
    let want = served(&|r| {
        r.key.chrom.as_str() == gene.chrom && r.key.pos >= gene.start && r.key.pos <= gene.end
    });
    assert!(!want.is_empty());
    matches(
        ask(json!({"geneId": "JAG1"}), "/g_variants")?,
        &want,
        "gene",
    );
    // The next page (skip counts records) continues it without overlap.
    if want.len() > 100 {
        let body = json!({"meta": {"apiVersion": "v2.2.0"}, "query": {
            "requestParameters": {"geneId": "JAG1", "datasets": {"datasetIds": [CANCER]}},
            "requestedGranularity": "record", "pagination": {"skip": 100, "limit": 100}}});
        let r = http.post(&format!("{B}/g_variants"), Some(&p.approved), &body)?;
        let doc = valid(&set, "beaconResultsetsResponse", &r, "second page");
        let page2: BTreeSet<String> = doc["response"]["resultSets"][0]["results"]
            .as_array()
            .ok_or("results")?
            .iter()
            .filter_map(|v| v["variantInternalId"].as_str().map(str::to_owned))
            .collect();
        let (_, page1) = ask(json!({"geneId": "JAG1"}), "/g_variants")?;
        assert_eq!(page2.len(), (want.len() - 100).min(100));
        assert!(page2.is_disjoint(&page1) && page2.is_subset(&want));
    }
    // variantType, in the Beacon vocabulary and as SO ids, against each allele's shape: the
    // gene's variants of that type (deletions and insertions as VCF writes them, anchored).
    type Shape = fn(&str, &str) -> bool;
    let shapes: [(&[&str], Shape); 5] = [
        (&["SNP", "SNV", "SO:0001483"], |r, a| {
            r.len() == 1 && a.len() == 1
        }),
        (&["DEL", "SO:0000159"], |r, a| {
            r.len() > a.len() && r.starts_with(a)
        }),
        (&["INS", "SO:0000667"], |r, a| {
            a.len() > r.len() && a.starts_with(r)
        }),
        (&["INDEL"], |r, a| r.len() != a.len()),
        (&["SO:0001059"], |_, _| true),
    ];
    for (terms, shape) in shapes {
        let want = served(&|r| {
            r.key.chrom.as_str() == gene.chrom
                && r.key.pos >= gene.start
                && r.key.pos <= gene.end
                && shape(r.key.reference.as_str(), r.key.alternate.as_str())
        });
        assert!(
            !want.is_empty(),
            "{terms:?}: the demo gene has such variants"
        );
        for term in terms {
            matches(
                ask(
                    json!({"geneId": "JAG1", "variantType": term}),
                    "/g_variants",
                )?,
                &want,
                term,
            );
        }
    }
    // An unknown variantType: a Beacon 400 naming the accepted terms, not an empty answer.
    let body = json!({"meta": {"apiVersion": "v2.2.0"}, "query": {"requestParameters":
        {"geneId": "JAG1", "variantType": "NOT-A-TYPE"}}});
    let r = http.post(&format!("{B}/g_variants"), Some(&p.approved), &body)?;
    error(&set, &r, 400, "unknown variantType");
    assert!(!r.text().contains("NOT-A-TYPE") && r.text().contains("SO:0000159"));
    // An unknown gene: nothing, not an error.
    matches(
        ask(json!({"geneId": "NOSUCHGENE"}), "/g_variants")?,
        &BTreeSet::new(),
        "unknown gene",
    );

    // HGVS: an SNV by its genomic allele short form (RefSeq accession of GRCh38 chr20).
    let (snv, _) = rows
        .iter()
        .find(|(r, c)| {
            r.key.chrom.as_str() == "chr20"
                && r.key.reference.as_str().len() == 1
                && r.key.alternate.as_str().len() == 1
                && c.iter().any(|p| academia.contains(p))
        })
        .ok_or("an SNV")?;
    let hgvs = format!(
        "NC_000020.11:g.{}{}>{}",
        snv.key.pos,
        snv.key.reference.as_str(),
        snv.key.alternate.as_str()
    );
    let want = served(&|r| r.key == snv.key);
    assert_eq!(want.len(), 1);
    matches(
        ask(json!({"genomicAlleleShortForm": hgvs}), "/g_variants")?,
        &want,
        "hgvs",
    );

    // Bracket: variants starting in [s1, s2] and ending in [e1, e2] (0-based, end exclusive).
    let s0 = u64::from(snv.key.pos) - 1;
    let (s1, s2, e1, e2) = (s0.saturating_sub(5_000), s0 + 5_000, s0, s0 + 5_010);
    let want = served(&|r| {
        let start = u64::from(r.key.pos) - 1;
        let end = start + r.key.reference.as_str().len() as u64;
        r.key.chrom.as_str() == "chr20" && (s1..=s2).contains(&start) && (e1..=e2).contains(&end)
    });
    assert!(want.len() > 1, "{}", want.len());
    matches(
        ask(
            json!({"referenceName": "chr20", "start": [s1, s2], "end": [e1, e2]}),
            "/g_variants",
        )?,
        &want,
        "bracket",
    );

    // Nested: an individual's variants, without coordinates, are exactly those they carry.
    let someone = rows
        .iter()
        .flat_map(|(_, c)| c.iter())
        .find(|p| academia.contains(*p) && cancer.contains(*p))
        .ok_or("a carrier")?
        .clone();
    let theirs: BTreeSet<String> = rows
        .iter()
        .filter(|(_, c)| c.contains(&someone))
        .map(|(r, _)| id(r))
        .collect();
    matches(
        ask(json!({}), &format!("/individuals/{someone}/g_variants"))?,
        &theirs,
        "an individual's variants",
    );
    gw.stop().await;
    Ok(())
}

/// The README's table of Beacon access levels, row by row: the level's first words and its
/// cells.
fn readme_levels() -> Res<Vec<Vec<String>>> {
    let readme = std::fs::read_to_string(gemj_schemas::testing::workspace_dir().join("README.md"))?;
    let rows: Vec<Vec<String>> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| level (who) | granularity |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 3, "the README's Beacon table has three levels");
    Ok(rows)
}

/// The parameters a cell names with a value: "`name` (20)", "`name` 10", "`name` (1 Mb)".
fn named_values(cell: &str) -> Vec<(String, u64)> {
    let parts: Vec<&str> = cell.split('`').collect();
    let mut out = Vec::new();
    for i in (1..parts.len()).step_by(2) {
        let name = parts[i];
        let Some(rest) = parts.get(i + 1) else {
            continue;
        };
        let rest = rest.trim_start().trim_start_matches('(');
        let number: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .collect();
        let Ok(mut value) = number.replace(',', "").parse::<u64>() else {
            continue;
        };
        if rest[number.len()..].trim_start().starts_with("Mb") {
            value *= 1_000_000;
        }
        out.push((name.to_owned(), value));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_table_of_levels_is_what_each_caller_gets() -> TestResult {
    let rows = readme_levels()?;
    // Every parameter the table names has the value it says, in the default configuration.
    let config = serde_json::to_value(gemj_server::config::Config::default())?;
    let beacon = &config["beacon"];
    let mut named = 0;
    for row in &rows {
        for (name, value) in row[2..].iter().flat_map(|cell| named_values(cell)) {
            let configured = beacon["privacy"]
                .get(&name)
                .or_else(|| beacon["budgets"].get(&name))
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    format!("the README names `{name}`, which is not a Beacon setting")
                })?;
            assert_eq!(configured, value, "README: `{name}` ({value})");
            named += 1;
        }
    }
    assert!(named >= 8, "{named} values named");
    let budgets = &beacon["budgets"];
    let per_minute =
        |n: &Value| n.as_u64().unwrap_or(0) * 60 / budgets["window_secs"].as_u64().unwrap_or(60);
    assert!(rows[0][4].contains(&format!(
        "({}/min per address)",
        thousands(per_minute(&budgets["per_ip"]))
    )));
    assert!(rows[1][4].contains(&format!(
        "({}/min per caller)",
        thousands(per_minute(&budgets["per_caller"]))
    )));
    assert!(rows[0][4].contains(&format!(
        "{} h)",
        budgets["risk_window_secs"].as_u64().unwrap_or(0) / 3600
    )));

    // What each level gets, on a gateway with the default configuration.
    let set = schemas();
    let gw = TestGateway::start(24).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let p = passports(&gw, &http).await?;
    let strict = servable(&gw, false).await?;
    let academia = servable(&gw, true).await?;
    let privacy = &beacon["privacy"];
    let min_cohort = privacy["min_cohort_public"]
        .as_u64()
        .ok_or("min_cohort_public")?;
    let small_cell = privacy["small_cell"].as_u64().ok_or("small_cell")?;
    let round_to = privacy["round_to"].as_u64().ok_or("round_to")?;
    let rare = privacy["rare_allele_min_carriers"].as_u64().ok_or("rare")?;
    let rows_cancer = variants(&gw, CANCER).await?;
    let cancer = members(&gw, CANCER).await?;
    let granularity = |row: &Vec<String>| row[1].trim_matches('`').to_owned();
    let mut checked = 0;
    for (variant, carriers) in rows_cancer
        .iter()
        .filter(|(_, c)| c.iter().any(|p| strict.contains(p)))
        .take(3)
    {
        let q = gv(variant);
        // Anonymous: a boolean, true only where a dataset has the minimum cohort and the
        // variant enough servable carriers there.
        let mut public_true = false;
        let mut true_carriers: BTreeSet<ParticipantId> = BTreeSet::new();
        for dataset in [PUBLIC, CANCER, "GEMJ-DEMO-RD-REG", "GEMJ-DEMO-JOINT-CTRL"] {
            let ms: BTreeSet<ParticipantId> = members(&gw, dataset)
                .await?
                .into_iter()
                .filter(|m| strict.contains(m))
                .collect();
            for (r, c) in variants(&gw, dataset).await? {
                if r.key == variant.key {
                    let here: BTreeSet<ParticipantId> =
                        c.into_iter().filter(|p| ms.contains(p)).collect();
                    public_true |= ms.len() as u64 >= min_cohort && here.len() as u64 >= rare;
                    true_carriers.extend(here);
                }
            }
        }
        let r = http.get(
            &format!("{B}/g_variants?{q}&requestedGranularity=record"),
            None,
        )?;
        let doc = valid(&set, "beaconBooleanResponse", &r, "anonymous");
        assert_eq!(doc["meta"]["returnedGranularity"], granularity(&rows[0]));
        assert_eq!(doc["responseSummary"]["exists"], public_true, "{q}");
        // Registered: a count, suppressed below small_cell, rounded down otherwise (never
        // below round_to); `exists` from small_cell up.
        let r = http.get(
            &format!("{B}/individuals?{q}&requestedGranularity=record"),
            Some(&p.registered),
        )?;
        let doc = valid(&set, "beaconCountResponse", &r, "registered");
        assert_eq!(doc["meta"]["returnedGranularity"], granularity(&rows[1]));
        let n = true_carriers.len() as u64;
        let summary = &doc["responseSummary"];
        if n < small_cell {
            assert_eq!(summary["numTotalResults"], 0, "{doc:#}");
            assert_eq!(summary["exists"], false, "{doc:#}");
            assert!(
                doc.to_string().contains(&format!("<{small_cell}")),
                "{doc:#}"
            );
        } else {
            assert_eq!(
                summary["numTotalResults"],
                (n / round_to * round_to).max(round_to)
            );
            assert_eq!(summary["exists"], true);
        }
        // Approved for the dataset: records, the exact count.
        let body = record_query(variant, CANCER);
        let r = http.post(&format!("{B}/individuals"), Some(&p.approved), &body)?;
        let doc = valid(&set, "beaconResultsetsResponse", &r, "approved");
        assert_eq!(doc["meta"]["returnedGranularity"], granularity(&rows[2]));
        let exact = carriers
            .iter()
            .filter(|p| academia.contains(*p) && cancer.contains(*p))
            .count();
        assert_eq!(doc["responseSummary"]["numTotalResults"], exact as u64);
        assert_eq!(doc["responseSummary"]["exists"], exact > 0);
        checked += 1;
    }
    assert!(checked > 0);
    gw.stop().await;
    Ok(())
}

/// `2000` as the README writes it: `2,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Routes naming a biosample, run or analysis answer the alleles called in it: a tumour's
/// calls, ingested from its own VCF, are not the same individual's blood calls, and the other
/// way round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn biosample_run_and_analysis_routes_answer_what_was_called_there() -> TestResult {
    let gw = open_gateway().await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let strict = servable(&gw, false).await?;
    let cancer = members(&gw, CANCER).await?;
    let rows = variants(&gw, CANCER).await?;
    // A servable member of the cancer dataset and a blood call of theirs.
    let (blood_call, person) = rows
        .iter()
        .find_map(|(r, carriers)| {
            let p = carriers
                .iter()
                .find(|p| strict.contains(*p) && cancer.contains(*p))?;
            Some((r.clone(), p.clone()))
        })
        .ok_or("a servable carrier in the cancer dataset")?;
    // The blood tube, and the DNA extracted from it that was sequenced (the demo's run).
    let blood = gw.store.specimens_of(&person).await?;
    let blood = blood.first().ok_or("the demo's blood")?.clone();
    let num = person
        .as_str()
        .rsplit('-')
        .next()
        .ok_or("number")?
        .to_owned();
    let (run, analysis) = (format!("RUN-DEMO-{num}"), format!("AN-DEMO-{num}"));
    let sequenced = gw
        .store
        .get_run(&gemj_model::RunId::parse(&run)?)
        .await?
        .ok_or("the demo's run")?
        .specimen;
    assert_eq!(
        gw.store
            .get_specimen(&sequenced)
            .await?
            .and_then(|s| s.parent),
        Some(blood.id.clone())
    );
    // A tumour specimen of the same individual, with a VCF of its own: one allele nobody else
    // has.
    let tumour = gemj_model::Specimen {
        id: gemj_model::SpecimenId::parse(&format!("SP-TUMOUR-{num}"))?,
        participant: person.clone(),
        specimen_type: gemj_model::SpecimenType::Tissue,
        parent: None,
        collected: None,
        tumour: Some(true),
        biobank_sample: false,
        details: Default::default(),
    };
    gw.store.upsert_specimen(&tumour).await?;
    let work = tempfile::tempdir()?;
    let vcf = work.path().join(format!("{}.somatic.vcf", tumour.id));
    let (chrom, pos) = (blood_call.key.chrom.as_str().to_owned(), 7);
    std::fs::write(
        &vcf,
        format!(
            "##fileformat=VCFv4.2\n##contig=<ID={chrom},length=100000000>\n\
             ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
             #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{}\n\
             {chrom}\t{pos}\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\n",
            tumour.id
        ),
    )?;
    let mut report = gemj_ingest::IngestReport::new("genome", false);
    let options = gemj_ingest::genomes::GenomeOptions {
        dataset: DatasetId::parse(CANCER)?,
        dry_run: false,
        work_dir: work.path().to_owned(),
    };
    gemj_ingest::genomes::ingest_file(&gw.store, gw.objects.as_ref(), &vcf, &options, &mut report)
        .await?;
    assert_eq!(report.totals.created, 1, "{report:?}");
    let somatic = format!(
        "referenceName={chrom}&start={}&referenceBases=A&alternateBases=T",
        pos - 1
    );
    let germline = gv(&blood_call);
    let exists = |path: &str| -> Res<bool> {
        let r = http.get(&format!("{B}{path}"), None)?;
        assert_eq!(r.status, 200, "{path}: {}", r.json);
        r.json["responseSummary"]["exists"]
            .as_bool()
            .ok_or_else(|| format!("{path}: {}", r.json).into())
    };
    // Anyone may ask the whole beacon: both alleles are there.
    assert!(exists(&format!("/g_variants?{somatic}"))?);
    assert!(exists(&format!("/g_variants?{germline}"))?);
    // Each route answers what was called in its specimens (a biosample: it and the specimens
    // derived from it).
    for (route, query, called) in [
        (format!("/biosamples/{}", tumour.id), &somatic, true),
        (format!("/biosamples/{}", tumour.id), &germline, false),
        (format!("/biosamples/{}", blood.id), &germline, true),
        (format!("/biosamples/{}", blood.id), &somatic, false),
        (format!("/biosamples/{sequenced}"), &germline, true),
        (format!("/biosamples/{sequenced}"), &somatic, false),
        (format!("/runs/{run}"), &germline, true),
        (format!("/runs/{run}"), &somatic, false),
        (format!("/analyses/{analysis}"), &germline, true),
        (format!("/analyses/{analysis}"), &somatic, false),
        (format!("/individuals/{person}"), &somatic, true),
        (format!("/individuals/{person}"), &germline, true),
    ] {
        assert_eq!(
            exists(&format!("{route}/g_variants?{query}"))?,
            called,
            "{route} {query}"
        );
    }
    // The biosamples in which an allele was called, for a caller approved for the dataset.
    let p = passports(&gw, &http).await?;
    for (variant, specimen) in [
        (
            json!({"referenceName": chrom, "start": [pos - 1], "referenceBases": "A", "alternateBases": "T"}),
            tumour.id.as_str(),
        ),
        (
            json!({
                "referenceName": blood_call.key.chrom.as_str(),
                "start": [u64::from(blood_call.key.pos) - 1],
                "referenceBases": blood_call.key.reference.as_str(),
                "alternateBases": blood_call.key.alternate.as_str(),
            }),
            sequenced.as_str(),
        ),
    ] {
        let mut parameters = variant;
        parameters["datasets"] = json!({"datasetIds": [CANCER]});
        let body = json!({"meta": {"apiVersion": "v2.2.0"}, "query": {
            "requestParameters": parameters, "requestedGranularity": "record",
            "pagination": {"skip": 0, "limit": 100}}});
        let r = http.post(&format!("{B}/biosamples"), Some(&p.approved), &body)?;
        assert_eq!(
            r.json["meta"]["returnedGranularity"], "record",
            "{}",
            r.json
        );
        let ids: BTreeSet<String> = r.json["response"]["resultSets"][0]["results"]
            .as_array()
            .ok_or("results")?
            .iter()
            .filter_map(|b| b["id"].as_str().map(str::to_owned))
            .collect();
        assert!(ids.contains(specimen), "{specimen}: {ids:?}");
        let other = if specimen == tumour.id.as_str() {
            sequenced.as_str()
        } else {
            tumour.id.as_str()
        };
        assert!(
            !ids.contains(other),
            "{other} listed for an allele not called in it: {ids:?}"
        );
    }
    gw.stop().await;
    Ok(())
}
