//! End-to-end: GA4GH DRS 1.5 under `/ga4gh/drs/v1` over HTTP, against a real gateway over the
//! demo cohort. Every DRS response (objects, bundles expanded and not, access URLs, bulk
//! answers, authorizations, service-info, errors) is validated against the official schemas in
//! `schemas/official/drs/bundled/openapi.json` (DRS 1.5.0), and the tests check what the schema
//! cannot: access ids on every access method, access URLs that download the checksummed bytes,
//! `self_uri` without a port, hidden and absent objects answered byte for byte alike, consent
//! withdrawal, the bulk limit, and passports in POST bodies.

use std::collections::BTreeSet;
use std::time::Duration;

use gemj_e2e::http::{Http, Reply};
use gemj_e2e::names::{CANCER, HOSPITAL_A, JOINT, PREFIX, PUBLIC};
use gemj_e2e::{Res, TestGateway, TestResult, visas};
use gemj_passport::VisaType;
use gemj_schemas::{SchemaSet, Validator};
use serde_json::{Value, json};
use sha2::Digest as _;

const DOC: &str = "drs/bundled/openapi.json";
const DRS: &str = "/ga4gh/drs/v1";
const NOPE: &str = "GEMJ-NO-SUCH-OBJECT";

/// The official schemas shipped with the project.
fn schemas() -> SchemaSet {
    gemj_schemas::testing::schemas()
}

/// The compiled validators of the DRS 1.5 document.
struct Drs {
    object: Validator,
    object_post: Validator,
    drs_object: Validator,
    access: Validator,
    access_url: Validator,
    authorizations: Validator,
    options: Validator,
    bulk: Validator,
    bulk_access: Validator,
    bulk_options: Validator,
    service_info: Validator,
    error: Validator,
    schemas: SchemaSet,
}

impl Drs {
    fn new(schemas: SchemaSet) -> Res<Self> {
        let op = |path: &str, method: &str, status: &str| {
            schemas.openapi_response(DOC, path, method, status)
        };
        let component = |name: &str| schemas.validator(DOC, &format!("/components/schemas/{name}"));
        Ok(Self {
            object: op("/objects/{object_id}", "get", "200")?,
            object_post: op("/objects/{object_id}", "post", "200")?,
            drs_object: component("DrsObject")?,
            access: op("/objects/{object_id}/access/{access_id}", "get", "200")?,
            access_url: component("AccessURL")?,
            authorizations: component("Authorizations")?,
            options: op("/objects/{object_id}", "options", "200")?,
            bulk: op("/objects", "post", "200")?,
            bulk_access: op("/objects/access", "post", "200")?,
            bulk_options: op("/objects", "options", "200")?,
            service_info: op("/service-info", "get", "200")?,
            error: component("Error")?,
            schemas,
        })
    }

    /// Validates a body, naming the case on failure.
    fn valid(v: &Validator, body: &Value, what: &str) {
        if let Err(errors) = v.validate(body) {
            panic!(
                "{what}: not valid against {}: {errors:?}\n{body}",
                v.location()
            );
        }
    }

    /// A DRS object answer: valid, and what the schema does not say.
    fn object_ok(&self, r: &Reply, what: &str, host: &str) -> Value {
        assert_eq!(r.status, 200, "{what}: {}", r.json);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.contains("application/json")),
            "{what}"
        );
        Self::valid(&self.object, &r.json, what);
        Self::valid(&self.drs_object, &r.json, what);
        check_drs_object(&r.json, what, host);
        r.json.clone()
    }

    /// An error answer: the status, DRS's own error body (valid against `Error` and the
    /// operation's declared response for that status, when it declares one).
    fn error_ok(&self, r: &Reply, status: u16, what: &str, op: Option<(&str, &str)>) {
        assert_eq!(r.status, status, "{what}: {}", r.json);
        Self::valid(&self.error, &r.json, what);
        assert_eq!(
            r.json["status_code"],
            u64::from(status),
            "{what}: {}",
            r.json
        );
        assert!(
            r.json["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {}",
            r.json
        );
        if let Some((path, method)) = op
            && let Ok(v) = self
                .schemas
                .openapi_response(DOC, path, method, &status.to_string())
        {
            Self::valid(&v, &r.json, what);
        }
        if status == 401 {
            assert!(r.header("www-authenticate").is_some(), "{what}");
        }
    }
}

/// What the schema does not check of a DRS object (and, for bundles, of every nested entry).
fn check_drs_object(o: &Value, what: &str, host: &str) {
    let id = o["id"].as_str().unwrap_or_default();
    let self_uri = o["self_uri"].as_str().unwrap_or_default();
    assert_eq!(self_uri, format!("drs://{host}/{id}"), "{what}: self_uri");
    let authority = self_uri
        .trim_start_matches("drs://")
        .split('/')
        .next()
        .unwrap_or_default();
    assert!(!authority.contains(':'), "{what}: self_uri has a port");
    assert!(
        o["created_time"].as_str().is_some_and(|t| t.len() >= 20),
        "{what}: created_time"
    );
    assert!(o["updated_time"].as_str().is_some(), "{what}: updated_time");
    if let Some(methods) = o["access_methods"].as_array() {
        assert!(!methods.is_empty(), "{what}: no access method");
        for m in methods {
            match m["type"].as_str() {
                Some("https") => assert!(
                    m["access_id"].as_str().is_some_and(|a| !a.is_empty()),
                    "{what}: an https access method without access_id: {m}"
                ),
                // A multi-sample file the caller gets some columns of: htsget only.
                Some("htsget") => assert!(
                    m["access_url"]["url"]
                        .as_str()
                        .is_some_and(|u| u.contains("/htsget/variants/"))
                        && m.get("access_id").is_none(),
                    "{what}: {m}"
                ),
                _ => panic!("{what}: an access method of another type: {m}"),
            }
        }
        assert!(o["mime_type"].as_str().is_some(), "{what}: mime_type");
    } else {
        assert!(o["contents"].is_array(), "{what}: neither blob nor bundle");
    }
    // Blobs and bundles alike carry MD5 and SHA-256 (bundles per the spec's rule).
    let types: BTreeSet<&str> = o["checksums"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        types,
        BTreeSet::from(["md5", "sha-256"]),
        "{what}: checksums"
    );
}

fn checksum(o: &Value, kind: &str) -> String {
    o["checksums"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .and_then(|c| c["checksum"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn sha256(o: &Value) -> String {
    checksum(o, "sha-256")
}

fn content_ids(o: &Value) -> BTreeSet<String> {
    o["contents"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every blob id anywhere under an expanded bundle.
fn all_ids(entries: &Value, out: &mut BTreeSet<String>) {
    for e in entries.as_array().into_iter().flatten() {
        if let Some(id) = e["id"].as_str() {
            out.insert(id.to_owned());
        }
        all_ids(&e["contents"], out);
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The host of the base URL, without port.
fn host_of(base: &str) -> String {
    let authority = base.trim_start_matches("http://");
    authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drs_objects_bundles_access_consent_and_bulk() -> TestResult {
    let schemas = schemas();
    let drs = Drs::new(schemas)?;
    // The validators are live: a DRS object without its required members is refused.
    assert!(!drs.drs_object.is_valid(&json!({"id": "x", "size": "big"})));
    assert!(!drs.error.is_valid(&json!({"msg": 1})));
    let gw = TestGateway::start(12).await?;
    let base = gw.base_url.clone();
    let host = host_of(&base);
    let http = Http { base: base.clone() };
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let visa = |t: VisaType, value: &str| visas::visa(&broker, t, value, "dac", now);
    let status_visa = visa(VisaType::ResearcherStatus, visas::BONA_FIDE);
    let grant = visa(
        VisaType::ControlledAccessGrants,
        &format!("{PREFIX}{CANCER}"),
    );
    let alice = broker.issue_passport("alice", &[status_visa.clone(), grant], hour, now)?;
    let registered = broker.issue_passport("reg", std::slice::from_ref(&status_visa), hour, now)?;
    let bare = broker.issue_passport("bare", &[], hour, now)?;
    let admin = broker.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;

    // The committee approves alice for cancer research in Japan.
    let approval = visas::cancer_approval("APR-DRS", broker.issuer(), "alice", &[CANCER]);
    let r = http.post("/admin/v1/approvals", Some(&admin), &approval)?;
    assert_eq!(r.status, 201, "{}", r.json);
    // ... and jo for the joint call set (general research use).
    let joint_grant = visa(
        VisaType::ControlledAccessGrants,
        &format!("{PREFIX}{JOINT}"),
    );
    let jo = broker.issue_passport("jo", &[status_visa.clone(), joint_grant], hour, now)?;
    let r = http.post(
        "/admin/v1/approvals",
        Some(&admin),
        &visas::hmb_approval("APR-DRS-JOINT", broker.issuer(), "jo", &[JOINT]),
    )?;
    assert_eq!(r.status, 201, "{}", r.json);

    // The cohort, from the store: a consenting cancer participant of hospital A with every
    // scope (served even under the strictest scope), and one who refused industry provision.
    let states = gw.store.all_consent_states().await?;
    let cancer_members = gw
        .store
        .dataset_participants(&gemj_model::DatasetId::parse(CANCER)?)
        .await?;
    let full = |p: &gemj_model::ParticipantId| {
        states.iter().any(|s| {
            s.participant == *p
                && s.permits_research()
                && s.scopes.third_party_industry
                && s.scopes.international_transfer
        })
    };
    let mut victim = None;
    for p in &cancer_members {
        let Some(participant) = gw.store.get_participant(p).await? else {
            continue;
        };
        if full(p) && participant.institution.as_str() == HOSPITAL_A {
            victim = Some(p.clone());
            break;
        }
    }
    let victim = victim.ok_or("a consenting cancer participant of hospital A")?;
    let restricted = cancer_members
        .iter()
        .find(|p| {
            states.iter().any(|s| {
                s.participant == **p && s.permits_research() && !s.scopes.third_party_industry
            })
        })
        .ok_or("a cancer participant without industry provision")?
        .clone();
    let objects = gw.store.objects_of_participant(&victim).await?;
    let bam = objects
        .iter()
        .find(|o| o.format == gemj_model::DataFormat::Bam)
        .ok_or("a BAM")?
        .clone();
    let bai = bam.index.clone().ok_or("the BAM's index")?.to_string();
    let sample = bam
        .specimens
        .first()
        .ok_or("the BAM's specimen")?
        .to_string();
    let restricted_bam = gw
        .store
        .objects_of_participant(&restricted)
        .await?
        .into_iter()
        .find(|o| o.format == gemj_model::DataFormat::Bam)
        .ok_or("a restricted BAM")?;
    let reference = gw
        .store
        .get_object(&gemj_model::ObjectId::parse("gemj-synthetic-ref.fa")?)
        .await?
        .ok_or("the reference")?;
    let fai = reference
        .index
        .clone()
        .ok_or("the reference index")?
        .to_string();
    let bam_id = bam.id.to_string();
    let obj = |id: &str| format!("{DRS}/objects/{id}");
    let acc = |id: &str| format!("{DRS}/objects/{id}/access/https");

    // 1. service-info: DRS 1.5 with the bulk limit and the service's size.
    let r = http.get(&format!("{DRS}/service-info"), None)?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.service_info, &r.json, "service-info");
    assert_eq!(r.json["type"]["artifact"], "drs");
    assert_eq!(r.json["type"]["version"], "1.5.0");
    assert_eq!(r.json["maxBulkRequestLength"], 1000);
    assert_eq!(r.json["drs"]["maxBulkRequestLength"], 1000);
    let stored = gw.store.list_objects(None, 10_000).await?;
    assert_eq!(r.json["drs"]["objectCount"], stored.len());
    assert_eq!(
        r.json["drs"]["totalObjectSize"],
        stored.iter().map(|o| o.size).sum::<u64>()
    );
    assert!(
        r.json["description"]
            .as_str()
            .is_some_and(|d| d.contains("gemj:<id>")),
        "service-info documents compact identifiers: {}",
        r.json
    );
    let services = http.get("/services", None)?;
    assert!(
        services.json.as_array().is_some_and(|s| s
            .iter()
            .any(|s| s["type"]["artifact"] == "drs" && s["url"] == format!("{base}{DRS}"))),
        "/services lists DRS: {}",
        services.json
    );

    // 2. Anonymous callers read PUBLIC objects, and their bytes.
    let r = http.get(&obj("gemj-synthetic-ref.fa"), None)?;
    let public_ref = drs.object_ok(&r, "anonymous, PUBLIC reference", &host);
    assert_eq!(public_ref["id"], "gemj-synthetic-ref.fa");
    assert_eq!(public_ref["size"], reference.size);
    assert_eq!(sha256(&public_ref), reference.checksums.sha256);
    assert!(
        public_ref["description"]
            .as_str()
            .is_some_and(|d| d.contains(&fai)),
        "the file links its index: {public_ref}"
    );
    assert_eq!(
        public_ref["access_methods"][0]["authorizations"]["supported_types"][0],
        "None"
    );
    let r = http.get(&obj(&fai), None)?;
    let index = drs.object_ok(&r, "anonymous, PUBLIC index", &host);
    assert!(
        index["description"]
            .as_str()
            .is_some_and(|d| d.contains("gemj-synthetic-ref.fa")),
        "the index names its file: {index}"
    );
    let r = http.get(&acc("gemj-synthetic-ref.fa"), None)?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.access, &r.json, "anonymous access URL");
    Drs::valid(&drs.access_url, &r.json, "anonymous access URL");
    let url = r.json["url"].as_str().ok_or("url")?.to_owned();
    let bytes = http.get(&url, None)?;
    assert_eq!(bytes.status, 200);
    assert_eq!(
        hex_sha256(&bytes.raw),
        reference.checksums.sha256,
        "the access URL serves the checksummed bytes"
    );

    // Compact identifiers, in any case of the prefix, wherever an id is accepted.
    for compact in ["gemj:gemj-synthetic-ref.fa", "GEMJ:gemj-synthetic-ref.fa"] {
        let r = http.get(&obj(compact), None)?;
        let o = drs.object_ok(&r, "compact identifier", &host);
        assert_eq!(o["id"], "gemj-synthetic-ref.fa");
        assert_eq!(http.get(&acc(compact), None)?.status, 200);
    }

    // 3. CONTROLLED: anonymous gets 401, the same for an object that does not exist.
    let hidden = http.get(&obj(&bam_id), None)?;
    let absent = http.get(&obj(NOPE), None)?;
    drs.error_ok(
        &hidden,
        401,
        "anonymous, CONTROLLED",
        Some(("/objects/{object_id}", "get")),
    );
    drs.error_ok(
        &absent,
        401,
        "anonymous, absent",
        Some(("/objects/{object_id}", "get")),
    );
    assert_eq!(
        hidden.raw, absent.raw,
        "anonymous: hidden and absent differ"
    );
    let r = http.get(&acc(&bam_id), None)?;
    drs.error_ok(&r, 401, "anonymous access to CONTROLLED", None);

    // A passport without visas may not see CONTROLLED metadata: 404, byte for byte as absent.
    let hidden = http.get(&obj(&bam_id), Some(&bare))?;
    let absent = http.get(&obj(NOPE), Some(&bare))?;
    drs.error_ok(
        &hidden,
        404,
        "no visas, CONTROLLED",
        Some(("/objects/{object_id}", "get")),
    );
    drs.error_ok(
        &absent,
        404,
        "no visas, absent",
        Some(("/objects/{object_id}", "get")),
    );
    assert_eq!(hidden.raw, absent.raw, "hidden and absent differ");

    // CONTROLLED metadata (names, checksums, the specimen ids in aliases) is for callers the
    // dataset's rule permits: to a registered researcher such an object, and its bytes, answer
    // exactly as an absent one; the refusal is audited.
    let last_seq = |records: Vec<gemj_model::AuditRecord>| records.last().map_or(0, |r| r.seq);
    let before = last_seq(gw.store.audit_records(0, 100_000).await?);
    let r = http.get(&obj(&bam_id), Some(&registered))?;
    let absent = http.get(&obj(NOPE), Some(&registered))?;
    drs.error_ok(&r, 404, "registered, CONTROLLED metadata", None);
    assert_eq!(
        r.raw, absent.raw,
        "CONTROLLED metadata told to a registered caller"
    );
    let r = http.get(&acc(&bam_id), Some(&registered))?;
    let nope = http.get(&acc(NOPE), Some(&registered))?;
    drs.error_ok(&r, 404, "registered, CONTROLLED bytes", None);
    assert_eq!(r.raw, nope.raw, "CONTROLLED bytes told apart from absent");
    let rows = gw.store.audit_records(before, 1000).await?;
    assert!(
        rows.iter()
            .any(|r| r.event.api == "drs" && r.event.reasons.iter().any(|x| x == "no_grant_visa")),
        "the refusals are audited"
    );
    // The approved caller reads it, under its consent scope: aliases are the sample ids, and an
    // object of a participant outside the scope does not exist.
    let r = http.get(&obj(&bam_id), Some(&alice))?;
    let meta = drs.object_ok(&r, "approved, CONTROLLED metadata", &host);
    assert_eq!(sha256(&meta), bam.checksums.sha256);
    assert_eq!(
        meta["aliases"],
        json!([sample]),
        "aliases are the sample ids"
    );
    assert!(
        meta["description"]
            .as_str()
            .is_some_and(|d| d.contains(&bai)),
        "{meta}"
    );
    assert_ne!(
        meta["access_methods"][0]["authorizations"]["supported_types"][0],
        "None"
    );
    let hidden = http.get(&obj(restricted_bam.id.as_str()), Some(&registered))?;
    drs.error_ok(&hidden, 404, "outside the consent scope", None);
    assert_eq!(hidden.raw, absent.raw, "consent-hidden and absent differ");
    // The bytes of an object hidden by consent: as absent, never 403.
    let r = http.get(&acc(restricted_bam.id.as_str()), Some(&registered))?;
    let nope = http.get(&acc(NOPE), Some(&registered))?;
    drs.error_ok(&r, 404, "bytes outside the consent scope", None);
    assert_eq!(r.raw, nope.raw, "consent-hidden and absent /access differ");
    // An unknown access id, and a bundle (no access methods), are not found.
    let r = http.get(&format!("{DRS}/objects/{bam_id}/access/s3"), Some(&alice))?;
    drs.error_ok(&r, 404, "unknown access id", None);
    assert_eq!(r.raw, absent.raw, "unknown access id");

    // 4. Alice (grant + approval + DUO match) gets the bytes; with passports in a POST body too,
    // where GET without credentials does not.
    let r = http.get(&acc(&bam_id), Some(&alice))?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.access, &r.json, "alice access URL");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let bytes = http.get(r.json["url"].as_str().ok_or("url")?, None)?;
    assert_eq!(bytes.status, 200);
    assert_eq!(
        hex_sha256(&bytes.raw),
        sha256(&meta),
        "the CONTROLLED access URL serves the checksummed bytes"
    );
    let body = json!({"passports": [alice]});
    let r = http.post(&acc(&bam_id), None, &body)?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.access_url, &r.json, "access URL, body passports");
    let r = http.post(
        &obj(&bam_id),
        None,
        &json!({"passports": [alice], "expand": false}),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.object_post, &r.json, "POST object");
    let r = http.post(&obj(&bam_id), None, &json!({}))?;
    drs.error_ok(
        &r,
        401,
        "POST without passports",
        Some(("/objects/{object_id}", "post")),
    );
    let r = http.post(&obj(&format!("gemj:{bam_id}")), None, &body)?;
    assert_eq!(r.status, 200, "compact id in POST: {}", r.json);

    // 5. Bundles: the sample (an alias), the participant, the dataset.
    let r = http.get(&obj(&sample), Some(&alice))?;
    let specimen = drs.object_ok(&r, "specimen bundle", &host);
    let ids = content_ids(&specimen);
    assert!(ids.contains(&bam_id) && ids.contains(&bai), "{specimen}");
    // The joint call set is CONTROLLED by its own dataset: alice (approved for cancer only) does
    // not see it. It holds a withdrawn participant: to jo (approved for it) it is listed
    // (multi-sample files are served per caller), offered through htsget only (which removes
    // that column), never whole.
    assert!(!ids.iter().any(|i| i.contains("joint")), "{specimen}");
    let r = http.get(&obj(&sample), Some(&jo))?;
    let for_jo = drs.object_ok(&r, "specimen bundle, joint approval", &host);
    let joint: Vec<String> = content_ids(&for_jo)
        .into_iter()
        .filter(|i| i.ends_with("joint.vcf.gz") || i.ends_with("joint.bcf"))
        .collect();
    assert_eq!(joint.len(), 2, "{for_jo}");
    for id in &joint {
        let o = drs.object_ok(&http.get(&obj(id), Some(&jo))?, "joint call set", &host);
        let methods = o["access_methods"].as_array().ok_or("access methods")?;
        assert_eq!(methods.len(), 1, "{o}");
        assert_eq!(methods[0]["type"], "htsget", "{o}");
        let url = format!("{base}/htsget/variants/{id}");
        assert_eq!(methods[0]["access_url"]["url"], url.as_str(), "{o}");
        let r = http.get(&format!("{}/access/https", obj(id)), Some(&jo))?;
        assert_eq!(r.status, 404, "never served whole: {}", r.text());
        // The htsget access URL answers jo with a ticket (without the excluded column).
        let r = http.get(
            &format!("{url}?referenceName=chr20&start=0&end=100000"),
            Some(&jo),
        )?;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert!(specimen.get("access_methods").is_none());
    let victim_id = victim.to_string();
    let flat = drs.object_ok(
        &http.get(&obj(&victim_id), Some(&alice))?,
        "participant",
        &host,
    );
    let deep = drs.object_ok(
        &http.get(&format!("{}?expand=true", obj(&victim_id)), Some(&alice))?,
        "participant, expanded",
        &host,
    );
    assert_eq!(content_ids(&flat), content_ids(&deep));
    assert!(content_ids(&flat).contains(&sample), "{flat}");
    for entry in flat["contents"].as_array().into_iter().flatten() {
        assert!(entry.get("contents").is_none(), "not expanded: {entry}");
        assert_eq!(
            entry["drs_uri"][0],
            format!("drs://{host}/{}", entry["id"].as_str().unwrap_or_default())
        );
    }
    let mut nested = BTreeSet::new();
    all_ids(&deep["contents"], &mut nested);
    assert!(
        nested.contains(&bam_id) && nested.contains(&sample),
        "{deep}"
    );
    // The bundle checksums: SHA-256 over the sorted SHA-256s of its entries, MD5 over their
    // sorted MD5s; its size is theirs.
    let (mut sums, mut md5s) = (Vec::new(), Vec::new());
    let mut size = 0u64;
    for id in content_ids(&flat) {
        let child = drs.object_ok(&http.get(&obj(&id), Some(&alice))?, "child bundle", &host);
        sums.push(sha256(&child));
        md5s.push(checksum(&child, "md5"));
        size += child["size"].as_u64().unwrap_or_default();
    }
    sums.sort();
    md5s.sort();
    assert_eq!(sha256(&flat), hex_sha256(sums.concat().as_bytes()));
    assert_eq!(
        checksum(&flat, "md5"),
        hex::encode(md5::Md5::digest(md5s.concat().as_bytes()))
    );
    assert_eq!(flat["size"], size);
    let r = http.post(
        &obj(&victim_id),
        None,
        &json!({"passports": [alice], "expand": true}),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.object_post, &r.json, "POST participant expanded");
    assert_eq!(r.json["contents"], deep["contents"]);

    let public = drs.object_ok(&http.get(&obj(PUBLIC), None)?, "PUBLIC dataset", &host);
    assert!(
        content_ids(&public).contains("gemj-synthetic-ref.fa")
            && content_ids(&public).contains(&fai),
        "{public}"
    );
    // The PUBLIC dataset holds reads and calls anyone may read: the public reference sample.
    let rs = gemj_demo::PUBLIC_SAMPLE;
    for id in [
        format!("{rs}.bam"),
        format!("{rs}.cram"),
        format!("{rs}.vcf.gz"),
    ] {
        assert!(content_ids(&public).contains(&id), "{id}: {public}");
        let o = drs.object_ok(
            &http.get(&obj(&id), None)?,
            "anonymous, public sample",
            &host,
        );
        assert!(o["access_methods"].is_array(), "{id}: {o}");
    }
    let r = http.get(&obj(CANCER), None)?;
    drs.error_ok(&r, 401, "anonymous, CONTROLLED dataset", None);
    let cancer = drs.object_ok(
        &http.get(&obj(CANCER), Some(&alice))?,
        "CONTROLLED dataset",
        &host,
    );
    assert!(content_ids(&cancer).contains(&bam_id));
    // A registered researcher sees none of a CONTROLLED dataset's files: its bundle holds
    // nothing for them, and does not exist.
    let r = http.get(&obj(CANCER), Some(&registered))?;
    drs.error_ok(&r, 404, "CONTROLLED dataset, registered", None);

    // 6. Authorizations: anyone may ask; absent and hidden objects answer alike.
    let r = http.options(&obj("gemj-synthetic-ref.fa"), None)?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.options, &r.json, "OPTIONS public");
    Drs::valid(&drs.authorizations, &r.json, "OPTIONS public");
    assert_eq!(r.json["supported_types"][0], "None");
    let hidden = http.options(&obj(&bam_id), None)?;
    let absent = http.options(&obj(NOPE), None)?;
    assert_eq!((hidden.status, absent.status), (200, 200));
    Drs::valid(&drs.options, &hidden.json, "OPTIONS controlled");
    for key in [
        "supported_types",
        "passport_auth_issuers",
        "bearer_auth_issuers",
    ] {
        assert_eq!(hidden.json[key], absent.json[key], "OPTIONS {key}");
    }
    let types = hidden.json["supported_types"].to_string();
    assert!(
        types.contains("PassportAuth") && types.contains("BearerAuth") && !types.contains("None"),
        "{types}"
    );
    assert!(
        hidden.json["passport_auth_issuers"]
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i == broker.issuer())),
        "{}",
        hidden.json
    );
    let r = http.options(
        &format!("{DRS}/objects"),
        Some(&json!({"bulk_object_ids": ["gemj-synthetic-ref.fa", bam_id, "../x"]})),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.bulk_options, &r.json, "bulk OPTIONS");
    assert_eq!(
        r.json["summary"],
        json!({"requested": 3, "resolved": 2, "unresolved": 1})
    );

    // 7. Bulk: resolved and unresolved (by error code), passports in the body.
    let ids = json!([
        "gemj-synthetic-ref.fa",
        bam_id,
        format!("gemj:{bam_id}"),
        NOPE,
        "../x"
    ]);
    let r = http.post(
        &format!("{DRS}/objects"),
        None,
        &json!({"bulk_object_ids": ids, "passports": [alice]}),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.bulk, &r.json, "bulk objects");
    assert_eq!(
        r.json["summary"],
        json!({"requested": 5, "resolved": 3, "unresolved": 2})
    );
    for o in r.json["resolved_drs_object"]
        .as_array()
        .into_iter()
        .flatten()
    {
        Drs::valid(&drs.drs_object, o, "bulk object");
        check_drs_object(o, "bulk object", &host);
    }
    let unresolved = r.json["unresolved_drs_objects"].to_string();
    assert!(
        unresolved.contains(r#"{"error_code":400,"object_ids":["../x"]}"#)
            && unresolved.contains(&format!(
                "{{\"error_code\":404,\"object_ids\":[\"{NOPE}\"]}}"
            )),
        "{unresolved}"
    );
    let r = http.post(
        &format!("{DRS}/objects"),
        None,
        &json!({"bulk_object_ids": ["gemj-synthetic-ref.fa", bam_id]}),
    )?;
    Drs::valid(&drs.bulk, &r.json, "anonymous bulk");
    assert_eq!(
        r.json["unresolved_drs_objects"],
        json!([{"error_code": 401, "object_ids": [bam_id]}])
    );
    let many: Vec<String> = (0..1001).map(|i| format!("OBJ-{i}")).collect();
    let r = http.post(
        &format!("{DRS}/objects"),
        Some(&alice),
        &json!({"bulk_object_ids": many}),
    )?;
    drs.error_ok(&r, 413, "bulk over the limit", Some(("/objects", "post")));
    let r = http.post(
        &format!("{DRS}/objects/access"),
        Some(&alice),
        &json!({"bulk_object_access_ids": [{"bulk_object_id": "x", "bulk_access_ids": vec!["https"; 1001]}]}),
    )?;
    drs.error_ok(
        &r,
        413,
        "bulk access over the limit",
        Some(("/objects/access", "post")),
    );
    let r = http.post(
        &format!("{DRS}/objects/access"),
        None,
        &json!({"passports": [alice], "bulk_object_access_ids": [
            {"bulk_object_id": bam_id, "bulk_access_ids": ["https"]},
            {"bulk_object_id": "gemj:gemj-synthetic-ref.fa", "bulk_access_ids": ["https", "ftp"]},
            {"bulk_object_id": NOPE, "bulk_access_ids": ["https"]}
        ]}),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(&drs.bulk_access, &r.json, "bulk access");
    assert_eq!(
        r.json["summary"],
        json!({"requested": 4, "resolved": 2, "unresolved": 2})
    );
    let urls = r.json["resolved_drs_object_access_urls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let bam_url = urls
        .iter()
        .find(|u| u["drs_object_id"] == bam_id.as_str())
        .and_then(|u| u["url"].as_str())
        .ok_or("the BAM's URL")?;
    let bytes = http.get(bam_url, None)?;
    assert_eq!(hex_sha256(&bytes.raw), bam.checksums.sha256);

    // Without credentials: nothing public asked for is a 401 (with WWW-Authenticate), not a
    // 200 with the 401 inside; with a public object among them, the public one resolves.
    let r = http.post(
        &format!("{DRS}/objects/access"),
        None,
        &json!({"bulk_object_access_ids": [{"bulk_object_id": bam_id, "bulk_access_ids": ["https"]}]}),
    )?;
    drs.error_ok(
        &r,
        401,
        "anonymous bulk access to controlled data",
        Some(("/objects/access", "post")),
    );
    let r = http.post(
        &format!("{DRS}/objects/access"),
        None,
        &json!({"bulk_object_access_ids": [
            {"bulk_object_id": bam_id, "bulk_access_ids": ["https"]},
            {"bulk_object_id": "gemj-synthetic-ref.fa", "bulk_access_ids": ["https"]}
        ]}),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    Drs::valid(
        &drs.bulk_access,
        &r.json,
        "anonymous bulk access, one public",
    );
    assert_eq!(
        r.json["summary"],
        json!({"requested": 2, "resolved": 1, "unresolved": 1})
    );

    // 8. The participant withdraws: their files and bundles no longer exist, for anyone.
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let (_, hospital) = institutions
        .iter()
        .find(|(id, _)| id.as_str() == HOSPITAL_A)
        .ok_or("hospital A")?;
    let token = hospital.issue_token("consent-system", &base, Duration::from_secs(300), now)?;
    let withdrawal = json!({"event_id": "drs-w-1", "participant": victim_id, "institution": HOSPITAL_A,
        "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"});
    let r = http.post("/consent/v1/events", Some(&token), &withdrawal)?;
    assert_eq!(r.status, 201, "{}", r.json);
    let absent = http.get(&obj(NOPE), Some(&alice))?;
    for id in [
        bam_id.as_str(),
        bai.as_str(),
        sample.as_str(),
        victim_id.as_str(),
    ] {
        let r = http.get(&obj(id), Some(&alice))?;
        drs.error_ok(&r, 404, "withdrawn", Some(("/objects/{object_id}", "get")));
        assert_eq!(r.raw, absent.raw, "withdrawn {id} differs from absent");
    }
    let r = http.get(&acc(&bam_id), Some(&alice))?;
    drs.error_ok(&r, 404, "access after withdrawal", None);
    let cancer = drs.object_ok(
        &http.get(&obj(CANCER), Some(&alice))?,
        "dataset after withdrawal",
        &host,
    );
    assert!(!content_ids(&cancer).contains(&bam_id), "{cancer}");

    // Every DRS decision was audited, metadata and data, with ids and hashes only.
    let records = gw.store.audit_records(0, 100_000).await?;
    let drs_records: Vec<_> = records.iter().filter(|r| r.event.api == "drs").collect();
    let actions: BTreeSet<&str> = drs_records
        .iter()
        .map(|r| r.event.action.as_str())
        .collect();
    assert!(
        actions.contains("read_metadata") && actions.contains("read_data"),
        "{actions:?}"
    );
    let sig = alice.rsplit('.').next().unwrap_or_default();
    for r in &drs_records {
        let text = serde_json::to_string(&r.event)?;
        assert!(!text.contains(sig), "an audit record holds a token");
    }
    gw.stop_with_intact_chains().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drs_refuses_bad_input_in_its_own_format() -> TestResult {
    let schemas = schemas();
    let drs = Drs::new(schemas)?;
    let gw = TestGateway::start(4).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let broker = gemj_demo::broker::load(gw.data_dir(), &gw.base_url)?;
    let passport = broker.issue_passport(
        "someone",
        &[],
        Duration::from_secs(600),
        gemj_auth::now_unix(),
    )?;
    let objects = format!("{DRS}/objects");
    let json_ct = Some("application/json");
    let cases: Vec<(&str, Reply, u16)> = vec![
        (
            "malformed JSON",
            http.send(
                "POST",
                &objects,
                None,
                json_ct,
                Some(b"{\"bulk_object_ids\": [".to_vec()),
            )?,
            400,
        ),
        (
            "a JSON array",
            http.send("POST", &objects, None, json_ct, Some(b"[]".to_vec()))?,
            400,
        ),
        (
            "not JSON",
            http.send(
                "POST",
                &objects,
                None,
                Some("text/plain"),
                Some(b"ids".to_vec()),
            )?,
            415,
        ),
        (
            "no content type",
            http.send("POST", &objects, None, None, Some(b"{}".to_vec()))?,
            415,
        ),
        (
            "over the body limit",
            http.send(
                "POST",
                &objects,
                None,
                json_ct,
                Some(vec![b' '; 5 * 1024 * 1024]),
            )?,
            413,
        ),
        (
            "no ids",
            http.post(&objects, None, &json!({"bulk_object_ids": []}))?,
            400,
        ),
        (
            "ids not a list",
            http.post(&objects, None, &json!({"bulk_object_ids": "x"}))?,
            400,
        ),
        (
            "an unknown member",
            http.post(
                &objects,
                None,
                &json!({"bulk_object_ids": ["x"], "nope": 1}),
            )?,
            400,
        ),
        (
            "passports not a list",
            http.post(&format!("{objects}/x"), None, &json!({"passports": "x"}))?,
            400,
        ),
        (
            "credentials twice",
            http.post(
                &format!("{objects}/x"),
                Some(&passport),
                &json!({"passports": [passport]}),
            )?,
            400,
        ),
        (
            "a passport that does not verify",
            http.get(&format!("{objects}/x"), Some("a.b.c"))?,
            401,
        ),
        (
            "a passport that does not verify, in the body",
            http.post(
                &format!("{objects}/x"),
                None,
                &json!({"passports": ["a.b.c"]}),
            )?,
            401,
        ),
        (
            "a path-like id",
            http.get(&format!("{objects}/..%2Fx"), None)?,
            400,
        ),
        ("a dot id", http.get(&format!("{objects}/.x"), None)?, 400),
        (
            "an overlong id",
            http.get(&format!("{objects}/{}", "x".repeat(200)), None)?,
            400,
        ),
        (
            "a non-ASCII id",
            http.get(&format!("{objects}/%E6%97%A5"), None)?,
            400,
        ),
        (
            "an empty compact id",
            http.get(&format!("{objects}/gemj:"), None)?,
            400,
        ),
        ("an empty id", http.get(&format!("{objects}/"), None)?, 404),
        (
            "an unknown DRS path",
            http.get(&format!("{DRS}/nothing"), None)?,
            404,
        ),
        (
            "a bad expand",
            http.get(&format!("{objects}/x?expand=maybe"), None)?,
            400,
        ),
        (
            "a wrong method",
            http.send("DELETE", &format!("{objects}/x"), None, None, None)?,
            405,
        ),
        ("GET on the bulk endpoint", http.get(&objects, None)?, 405),
        (
            "OPTIONS /objects without a body",
            http.options(&objects, None)?,
            400,
        ),
        (
            "an access POST with other members",
            http.post(
                &format!("{objects}/x/access/https"),
                None,
                &json!({"expand": true}),
            )?,
            400,
        ),
        (
            "a bulk access entry without access ids",
            http.post(
                &format!("{objects}/access"),
                None,
                &json!({"bulk_object_access_ids": [{"bulk_object_id": "x"}]}),
            )?,
            400,
        ),
    ];
    for (what, reply, status) in &cases {
        drs.error_ok(reply, *status, what, None);
    }
    let r = http.send("DELETE", &format!("{objects}/x"), None, None, None)?;
    assert_eq!(r.header("allow"), Some("GET, POST, OPTIONS"));
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drs_answers_503_while_consent_cannot_be_confirmed() -> TestResult {
    let schemas = schemas();
    let drs = Drs::new(schemas)?;
    let gw = TestGateway::start_stale(4).await?;
    let researcher = visas::registered_passport(&gw.demo_broker()?, "reg", gemj_auth::now_unix())?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let bam = gw
        .store
        .dataset_objects(&gemj_model::DatasetId::parse("GEMJ-DEMO-RD-REG")?)
        .await?
        .into_iter()
        .find(|o| o.as_str().ends_with(".bam"))
        .ok_or("a REGISTERED BAM")?;
    for path in [
        format!("{DRS}/objects/{bam}"),
        format!("{DRS}/objects/{bam}/access/https"),
    ] {
        let r = http.get(&path, Some(&researcher))?;
        drs.error_ok(&r, 503, "stale consent", None);
        assert_eq!(r.header("retry-after"), Some("5"), "{path}");
        assert_eq!(r.json["reason"], "consent_view_stale", "{path}");
    }
    // An object holding nobody's data does not wait for consent.
    let r = http.get(&format!("{DRS}/objects/gemj-synthetic-ref.fa"), None)?;
    drs.object_ok(
        &r,
        "reference while consent is stale",
        &host_of(&gw.base_url),
    );
    // The refused requests are audited: permitted by policy, nothing served.
    let records = gw.store.audit_records(0, 10_000).await?;
    assert!(
        records.iter().any(|r| r.event.api == "drs"
            && r.event.resource == format!("object:{bam}")
            && r.event.decision == gemj_model::AccessDecision::Permit
            && r.event.records_returned == Some(0)),
        "the stale refusal is audited"
    );
    gw.stop().await;
    Ok(())
}

/// CORS for configured origins on the GA4GH paths (DRS, htsget, Beacon, the data URLs they
/// issue), never on the gateway's own APIs; a preflight is answered before any route runs (an
/// id that does not exist still gets its 200), and a DRS OPTIONS that is not a preflight still
/// reaches DRS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_for_configured_origins_on_the_ga4gh_paths_only() -> TestResult {
    const PORTAL: &str = "https://portal.example.jp";
    let gw = TestGateway::start_with(3, |c| {
        c.server.cors_origins = vec![PORTAL.to_owned()];
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let origin = |o: &str| ("Origin", o.to_owned());
    let preflight = |path: &str, o: &str| {
        http.send_with(
            "OPTIONS",
            path,
            &[
                origin(o),
                ("Access-Control-Request-Method", "GET".to_owned()),
                ("Access-Control-Request-Headers", "authorization".to_owned()),
            ],
            None,
        )
    };
    for path in [
        "/ga4gh/drs/v1/objects/NO-SUCH-OBJECT",
        "/htsget/reads/NO-SUCH-OBJECT",
        "/beacon/v2/individuals",
        "/data/v1/objects/NO-SUCH-OBJECT",
    ] {
        let r = preflight(path, PORTAL)?;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some(PORTAL),
            "{path}"
        );
        let allowed = r
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(allowed.contains("authorization"), "{path}: {allowed}");
        assert!(r.header("access-control-allow-credentials").is_none());
    }
    // A simple request: the header on the answer, and the headers a browser may read.
    let r = http.send_with("GET", "/beacon/v2/info", &[origin(PORTAL)], None)?;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(PORTAL));
    let r = http.send_with(
        "GET",
        "/htsget/reads/NO-SUCH-OBJECT",
        &[origin(PORTAL)],
        None,
    )?;
    assert_eq!(r.header("access-control-allow-origin"), Some(PORTAL));
    assert!(
        r.header("access-control-expose-headers")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains("www-authenticate")
    );
    // Another origin, and the gateway's own APIs: no CORS at all (the request itself is served
    // as without an Origin).
    let r = http.send_with(
        "GET",
        "/beacon/v2/info",
        &[origin("https://evil.example")],
        None,
    )?;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    for path in ["/catalogue/v1/datasets", "/service-info"] {
        let r = http.send_with("GET", path, &[origin(PORTAL)], None)?;
        assert!(r.header("access-control-allow-origin").is_none(), "{path}");
    }
    let r = preflight("/admin/v1/approvals", PORTAL)?;
    assert!(
        r.header("access-control-allow-origin").is_none(),
        "admin preflight"
    );
    // DRS's own OPTIONS (authorizations) is not a preflight: it reaches DRS.
    let r = http.send_with(
        "OPTIONS",
        "/ga4gh/drs/v1/objects/gemj-synthetic-ref.fa",
        &[origin(PORTAL)],
        None,
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json["supported_types"].is_array(), "{}", r.text());
    gw.stop().await;
    Ok(())
}
