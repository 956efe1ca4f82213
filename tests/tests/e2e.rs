//! End-to-end: a real gateway on port 0 over a fresh demo cohort, driven over HTTP by the
//! conformance runner and by plain requests, as clients would.

use gemj_conformance::{Suite, run};
use gemj_e2e::{TestGateway, TestResult, visas};
use gemj_schemas::SchemaSet;

fn get(url: &str) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    ureq::get(url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
}

fn json(
    res: ureq::http::Response<ureq::Body>,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    Ok(serde_json::from_reader(res.into_body().into_reader())?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_passes_conformance_and_keeps_its_promises() -> TestResult {
    let gw = TestGateway::start(6).await?;
    let base = gw.base_url.clone();
    let schemas = SchemaSet::embedded();

    // The black-box conformance runner against the live server: every check passes.
    let b = base.clone();
    let report = tokio::task::spawn_blocking(move || run(&b, &schemas, Suite::ALL)).await?;
    for c in &report.checks {
        assert!(
            c.passed,
            "conformance {}/{} failed: {}",
            c.suite, c.name, c.detail
        );
    }
    assert!(
        report.passed() >= 4,
        "too few checks ran: {}",
        report.passed()
    );
    for &suite in Suite::ALL {
        let n = report.checks.iter().filter(|c| c.suite == suite).count();
        assert!(n >= 2, "suite {suite}: {n} checks ran");
    }

    let b = base.clone();
    let audit_before = gw.store.audit_count().await?;
    let audited = tokio::task::spawn_blocking(move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let res = get(&format!("{b}/service-info")).map_err(|e| e.to_string())?;
        assert_eq!(res.status(), 200);
        // Every response carries a request id; a sane caller id is echoed back.
        assert!(res.headers().get("x-request-id").is_some());
        let res = ureq::get(&format!("{b}/healthz")).header("X-Request-Id", "trace-abc.123").call().map_err(|e| e.to_string())?;
        assert_eq!(res.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("trace-abc.123"));
        let res = ureq::get(&format!("{b}/healthz")).header("X-Request-Id", "bad id with spaces").call().map_err(|e| e.to_string())?;
        assert_ne!(res.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("bad id with spaces"));

        // Errors are JSON problem details, never HTML or empty: unknown path, wrong method.
        let res = get(&format!("{b}/no/such/thing")).map_err(|e| e.to_string())?;
        assert_eq!(res.status(), 404);
        assert!(res.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json")));
        let body = json(res).map_err(|e| e.to_string())?;
        assert_eq!(body["status"], 404);
        let res = ureq::post(&format!("{b}/service-info")).config().http_status_as_error(false).build().send_empty().map_err(|e| e.to_string())?;
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET"));
        assert_eq!(json(res).map_err(|e| e.to_string())?["status"], 405);

        // Readiness: store reachable and migrated.
        let res = get(&format!("{b}/readyz")).map_err(|e| e.to_string())?;
        assert_eq!(res.status(), 200);
        assert_eq!(json(res).map_err(|e| e.to_string())?["status"], "ready");

        // The catalogue shows an anonymous caller only PUBLIC datasets; others are "not found".
        let res = get(&format!("{b}/catalogue/v1/datasets")).map_err(|e| e.to_string())?;
        assert_eq!(res.status(), 200);
        let body = json(res).map_err(|e| e.to_string())?;
        let datasets = body["datasets"].as_array().cloned().unwrap_or_default();
        assert_eq!(datasets.len(), 1, "{body}");
        assert_eq!(datasets[0]["access_level"], "PUBLIC");
        let public_id = datasets[0]["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(get(&format!("{b}/catalogue/v1/datasets/{public_id}")).map_err(|e| e.to_string())?.status(), 200);
        let hidden = get(&format!("{b}/catalogue/v1/datasets/GEMJ-DEMO-CANCER-CTRL")).map_err(|e| e.to_string())?;
        let missing = get(&format!("{b}/catalogue/v1/datasets/NO-SUCH-DATASET")).map_err(|e| e.to_string())?;
        assert_eq!(hidden.status(), 404);
        assert_eq!(missing.status(), 404);
        let (hidden, missing) = (json(hidden).map_err(|e| e.to_string())?, json(missing).map_err(|e| e.to_string())?);
        assert_eq!(hidden["detail"], missing["detail"], "absent and not-allowed must look the same");

        // A credential the gateway cannot verify is refused, not ignored.
        let res = ureq::get(&format!("{b}/catalogue/v1/datasets")).header("Authorization", "Bearer x.y.z").config().http_status_as_error(false).build().call().map_err(|e| e.to_string())?;
        assert_eq!(res.status(), 401);
        assert!(res.headers().get("www-authenticate").is_some());

        // Metrics count requests by route pattern and status.
        let res = get(&format!("{b}/metrics")).map_err(|e| e.to_string())?;
        let text = res.into_body().read_to_string().map_err(|e| e.to_string())?;
        assert!(text.contains("gemj_http_requests_total{method=\"GET\",route=\"/catalogue/v1/datasets/{id}\",status=\"404\"} 2"), "{text}");
        assert!(text.contains("gemj_http_request_duration_seconds_bucket"));
        // ... and the audit writer times every audited request's wait and every batch's write:
        // the catalogue's decisions above (at least six events) went through it.
        let value = |name: &str| -> Result<f64, String> {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
                .ok_or_else(|| format!("no {name} in {text}"))?
                .trim()
                .parse::<f64>()
                .map_err(|e| e.to_string())
        };
        let (waits, writes, events) = (
            value("gemj_audit_wait_seconds_count")?,
            value("gemj_audit_write_seconds_count")?,
            value("gemj_audit_batch_events_sum")?,
        );
        assert!(waits >= 4.0 && writes >= 1.0 && events >= 6.0, "{waits} waits, {writes} writes, {events} events");
        assert!(writes <= events && writes <= waits, "a batch writes at least one request's events");
        assert!(text.contains("gemj_audit_wait_seconds_bucket{le=\"0.0025\"}"), "{text}");

        // The OpenAPI document lists the gateway's own endpoints.
        let doc = json(get(&format!("{b}/openapi.json")).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        for p in ["/service-info", "/services", "/healthz", "/readyz", "/metrics", "/catalogue/v1/datasets", "/catalogue/v1/datasets/{id}"] {
            assert!(doc["paths"].get(p).is_some(), "openapi.json lacks {p}");
        }
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
        // ... and the standard APIs, as their official specifications describe them, with the
        // media types actually sent.
        for p in ["/htsget/reads/{id}", "/ga4gh/drs/v1/objects/{object_id}", "/beacon/v2/individuals", "/beacon/v2/datasets/{id}/filtering_terms"] {
            assert!(doc["paths"].get(p).is_some(), "openapi.json lacks {p}");
        }
        assert!(doc["paths"]["/catalogue/v1/datasets/{id}"]["get"]["responses"]["404"]["content"]["application/problem+json"].is_object());
        Ok(())
    })
    .await?;
    audited.map_err(|e| e.to_string())?;

    // Every catalogue decision (4 datasets listed + 3 lookups) reached the audit chain, intact.
    let audit_after = gw.store.audit_count().await?;
    assert!(
        audit_after >= audit_before + 6,
        "audit rows {audit_before} -> {audit_after}"
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_cohort_is_registered_with_checksums_and_consent() -> TestResult {
    use gemj_model::{AccessLevel, ConsentStatus, DataFormat};
    use sha2::Digest;

    let gw = TestGateway::start(8).await?;
    let store = &gw.store;
    assert_eq!(store.count_participants().await?, 8);

    // Datasets at all three access levels, with different DUO permissions.
    let datasets = store.list_datasets().await?;
    let levels: std::collections::HashSet<AccessLevel> =
        datasets.iter().map(|d| d.access_level).collect();
    assert_eq!(levels.len(), 3);
    let duo: std::collections::HashSet<&str> = datasets
        .iter()
        .map(|d| d.data_use.permission.as_str())
        .collect();
    assert!(duo.len() >= 3, "{duo:?}");

    // Every object's bytes match its registered size and checksums, and every genome file
    // points at its index.
    let objects = store.list_objects(None, 1000).await?;
    assert!(objects.len() >= 8 * 6 + 4 + 3, "{} objects", objects.len());
    for o in &objects {
        let key = gemj_objects::ObjectKey::parse(o.storage_uri.trim_start_matches("file:"))?;
        let path = gw.data_dir().join("objects").join(key.as_str());
        let bytes = std::fs::read(&path)?;
        assert_eq!(bytes.len() as u64, o.size, "{}", o.id);
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            o.checksums.sha256,
            "{}",
            o.id
        );
        assert_eq!(
            hex::encode(md5::Md5::digest(&bytes)),
            o.checksums.md5,
            "{}",
            o.id
        );
        if matches!(
            o.format,
            DataFormat::Bam
                | DataFormat::Cram
                | DataFormat::Vcf
                | DataFormat::Bcf
                | DataFormat::Fasta
        ) {
            let index = o
                .index
                .as_ref()
                .ok_or_else(|| format!("{} has no index", o.id))?;
            assert!(
                store.get_object(index).await?.is_some(),
                "{} points at a missing index",
                o.id
            );
        }
    }

    // One participant withdrew, one refused recontact; the store's projection says so.
    let ids: Vec<_> = store
        .list_participants(None, 100)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let states = store.consent_states(&ids).await?;
    assert_eq!(
        states
            .iter()
            .filter(|s| s.status == ConsentStatus::Withdrawn)
            .count(),
        1
    );
    assert_eq!(store.withdrawn_participants().await?.len(), 1);
    assert!(
        states
            .iter()
            .any(|s| s.status == ConsentStatus::Active && !s.scopes.recontact.allowed)
    );

    // Diagnoses in canonical ICD-10 with the source spelling; rare-disease phenotypes in HPO.
    let mut diagnoses = 0;
    let mut phenotypes = 0;
    for id in &ids {
        for d in store.diagnoses_of(id).await? {
            assert!(d.icd10.as_str().len() >= 3);
            assert_eq!(
                d.source_code.replace('.', ""),
                d.icd10.as_str().replace('.', "")
            );
            diagnoses += 1;
        }
        phenotypes += store.phenotypes_of(id).await?.len();
    }
    assert!(diagnoses >= 8 && phenotypes > 0);

    // The variant index holds every dataset's sites, queryable by range, with carriers.
    for d in &datasets {
        let n = store.count_variants(&d.id).await?;
        assert!(n > 100, "{} has {n} variant rows", d.id);
    }
    let public = datasets
        .iter()
        .find(|d| d.access_level == AccessLevel::Public)
        .ok_or("no public dataset")?;
    let rows = store
        .variants_in_range(&public.id, "chr21", 1, 200_000, 10_000)
        .await?;
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(u64::from(r.carrier_count), r.carriers.len());
        assert!(r.allele_count >= r.carrier_count && r.allele_count <= 2 * r.carrier_count);
        let exact = store
            .variant_exact(&public.id, &r.key)
            .await?
            .ok_or("exact lookup missed")?;
        assert_eq!(exact.carriers, r.carriers);
    }
    // Genes from the annotation are in the store for gene queries.
    assert!(
        store
            .gene_by_name("RUNX1")
            .await?
            .is_some_and(|g| g.chrom == "chr21")
    );
    gw.stop().await;
    Ok(())
}

/// `GET url` with an optional bearer token: the status and the JSON body.
fn get_json(
    url: &str,
    token: Option<&str>,
) -> Result<(u16, serde_json::Value), Box<dyn std::error::Error + Send + Sync>> {
    let mut req = ureq::get(url).config().http_status_as_error(false).build();
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let res = req.call().map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    Ok((
        status,
        serde_json::from_reader(res.into_body().into_reader()).map_err(|e| e.to_string())?,
    ))
}

fn datasets_seen(
    base: &str,
    token: Option<&str>,
) -> Result<(u16, serde_json::Value), Box<dyn std::error::Error + Send + Sync>> {
    get_json(&format!("{base}/catalogue/v1/datasets"), token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passports_from_the_demo_broker_open_registered_data_and_bad_ones_are_refused() -> TestResult
{
    use gemj_passport::VisaType;
    let gw = TestGateway::start(4).await?;
    let base = gw.base_url.clone();
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let visa = |t: VisaType, value: &str, by: &str| visas::visa(&broker, t, value, by, now);
    let hour = std::time::Duration::from_secs(3600);
    let researcher = broker.issue_passport(
        "alice",
        &[visa(VisaType::ResearcherStatus, visas::BONA_FIDE, "so")],
        hour,
        now,
    )?;
    let grant_only = broker.issue_passport(
        "carol",
        &[visa(
            VisaType::ControlledAccessGrants,
            "https://gemj.example.jp/datasets/GEMJ-DEMO-CANCER-CTRL",
            "dac",
        )],
        hour,
        now,
    )?;
    let expired = broker.issue_passport(
        "dave",
        &[visa(VisaType::ResearcherStatus, visas::BONA_FIDE, "so")],
        hour,
        now - 7300,
    )?;
    // A broker with another key claiming the same issuer: its kid is unknown to the gateway.
    let other_dir = tempfile::tempdir()?;
    let impostor = gemj_auth::LocalIssuer::load_or_create(other_dir.path(), broker.issuer())?
        .with_jwks_url(broker.jwks_url().to_owned());
    let impostor_token = impostor.issue_passport(
        "alice",
        &[visa(VisaType::ResearcherStatus, "x", "so")],
        hour,
        now,
    )?;
    // Flip one character in the middle of the signature.
    let (head, sig) = researcher.rsplit_once('.').ok_or("not a JWT")?;
    let mid = sig.len() / 2;
    let flipped = if &sig[mid..=mid] == "A" { "B" } else { "A" };
    let forged = format!("{head}.{}{flipped}{}", &sig[..mid], &sig[mid + 1..]);

    let carol_copy = grant_only.clone();
    let b = base.clone();
    let researcher_token = researcher.clone();
    tokio::task::spawn_blocking(
        move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let ids = |v: &serde_json::Value| -> Vec<String> {
                v["datasets"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|d| d["id"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (status, body) = datasets_seen(&b, None)?;
            assert_eq!(
                (status, ids(&body)),
                (200, vec!["GEMJ-DEMO-PUBLIC-AF".to_owned()])
            );
            let (status, body) = datasets_seen(&b, Some(&researcher_token))?;
            assert_eq!(status, 200);
            assert_eq!(
                ids(&body),
                vec![
                    "GEMJ-DEMO-CANCER-CTRL".to_owned(),
                    "GEMJ-DEMO-JOINT-CTRL".to_owned(),
                    "GEMJ-DEMO-PUBLIC-AF".to_owned(),
                    "GEMJ-DEMO-RD-REG".to_owned()
                ],
                "a registered researcher reads every dataset's description (CONTROLLED data needs a grant and an approval)"
            );
            let (status, body) = datasets_seen(&b, Some(&grant_only))?;
            assert_eq!(
                (status, ids(&body)),
                (200, vec!["GEMJ-DEMO-PUBLIC-AF".to_owned()]),
                "a grant alone is not ResearcherStatus"
            );
            for (token, reason) in [
                (&forged, "bad_signature"),
                (&expired, "expired"),
                (&impostor_token, "unknown_kid"),
                (&"not-a-jwt".to_owned(), "malformed_token"),
            ] {
                let (status, body) = datasets_seen(&b, Some(token))?;
                assert_eq!(status, 401, "{reason}: {body}");
                assert_eq!(body["reason"], reason, "{body}");
                assert!(
                    !body.to_string().contains(token.as_str()),
                    "a rejection must not echo the token"
                );
            }
            Ok(())
        },
    )
    .await?
    .map_err(|e| e.to_string())?;

    // A researcher reads their own history, and only theirs; an anonymous caller cannot.
    let b = base.clone();
    let alice_token = researcher.clone();
    let carol_token = carol_copy;
    tokio::task::spawn_blocking(
        move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let get = |token: Option<&str>, query: &str| {
                get_json(&format!("{b}/audit/v1/me{query}"), token)
            };
            let (status, body) = get(Some(&alice_token), "")?;
            assert_eq!(status, 200, "{body}");
            let records = body["records"].as_array().cloned().unwrap_or_default();
            let resources: Vec<&str> = records
                .iter()
                .filter_map(|r| r["resource"].as_str())
                .collect();
            assert!(
                resources.contains(&"dataset:GEMJ-DEMO-RD-REG")
                    && resources.contains(&"dataset:GEMJ-DEMO-CANCER-CTRL"),
                "{body}"
            );
            assert!(
                records
                    .iter()
                    .all(|r| r.get("participants").is_none() && r.get("principal").is_none())
            );
            let (_, page) = get(Some(&alice_token), "?limit=2")?;
            assert_eq!(page["records"].as_array().map(Vec::len), Some(2));
            let cursor = page["next_after"]
                .as_i64()
                .ok_or("no cursor on a full page")?;
            let (_, next) = get(Some(&alice_token), &format!("?after={cursor}&limit=1000"))?;
            assert!(
                next["records"]
                    .as_array()
                    .is_some_and(|r| r.iter().all(|e| e["seq"].as_i64() > Some(cursor)))
            );
            let (_, carol) = get(Some(&carol_token), "")?;
            let request_ids = |v: &serde_json::Value| -> std::collections::HashSet<String> {
                v["records"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r["request_id"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (alice_ids, carol_ids) = (request_ids(&body), request_ids(&carol));
            assert!(!carol_ids.is_empty(), "carol's own decisions are missing");
            assert!(
                alice_ids.is_disjoint(&carol_ids),
                "one researcher sees another's history"
            );
            let (status, body) = get(None, "")?;
            assert_eq!((status, body["status"].as_i64()), (401, Some(401)));
            let (status, _) = get(Some(&alice_token), "?limit=ten")?;
            assert_eq!(status, 400);
            Ok(())
        },
    )
    .await?
    .map_err(|e| e.to_string())?;

    // The audit chain names the passport's subject and holds hashes, never the token.
    let records = gw.store.audit_records(0, 10_000).await?;
    let alice = format!("{}#alice", broker.issuer());
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r.event.principal == alice)
        .collect();
    assert!(
        mine.iter()
            .any(|r| r.event.resource == "dataset:GEMJ-DEMO-RD-REG"
                && r.event.decision == gemj_model::AccessDecision::Permit)
    );
    assert!(
        mine.iter()
            .any(|r| r.event.resource == "dataset:GEMJ-DEMO-CANCER-CTRL"
                && r.event.decision == gemj_model::AccessDecision::Permit)
    );
    let carol = format!("{}#carol", broker.issuer());
    assert!(records.iter().any(|r| r.event.principal == carol
        && r.event.resource == "dataset:GEMJ-DEMO-CANCER-CTRL"
        && r.event.decision == gemj_model::AccessDecision::Deny
        && r.event.reasons == ["no_registered_visa"]));
    assert!(mine.iter().all(|r| {
        r.event
            .credential_hashes
            .iter()
            .any(|h| h.starts_with("passport:"))
    }));
    let all = serde_json::to_string(&records)?;
    assert!(!all.contains(head), "an audit record contains token bytes");
    gw.stop().await;
    Ok(())
}
