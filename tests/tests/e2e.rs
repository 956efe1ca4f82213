//! End-to-end: a real gateway on port 0 over a fresh demo cohort, driven over HTTP by the
//! conformance runner and by plain requests, as clients would.

use gemj_conformance::{Suite, run};
use gemj_e2e::{TestGateway, shared_dir};
use gemj_schemas::SchemaSet;

type TestResult = Result<(), Box<dyn std::error::Error>>;

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
    let schemas = SchemaSet::open(&shared_dir())?;

    // The black-box conformance runner against the live server: every check passes.
    let b = base.clone();
    let report =
        tokio::task::spawn_blocking(move || run(&b, &schemas, &[Suite::ServiceInfo])).await?;
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

        // The OpenAPI document lists the gateway's own endpoints.
        let doc = json(get(&format!("{b}/openapi.json")).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        for p in ["/service-info", "/services", "/healthz", "/readyz", "/metrics", "/catalogue/v1/datasets", "/catalogue/v1/datasets/{id}"] {
            assert!(doc["paths"].get(p).is_some(), "openapi.json lacks {p}");
        }
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
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
    let report = gw.store.verify_chains().await?;
    assert!(report.broken.is_none(), "{:?}", report.broken);
    gw.stop().await;
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
        let key = gemj_store::objects::ObjectKey::parse(o.storage_uri.trim_start_matches("file:"))?;
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
