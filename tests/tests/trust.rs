//! End-to-end: issuer-bound trust over HTTP. A foreign program's broker is trusted for
//! Passports and ResearcherStatus only (its keys served by a mock JWKS endpoint on loopback).
//! Whatever grants it mints, however they are written, and even with a committee approval on
//! record for its user, it cannot open a CONTROLLED dataset; its ResearcherStatus still counts.

use std::time::Duration;

use gemj_e2e::http::Http;
use gemj_e2e::names::{JOINT, PREFIX};
use gemj_e2e::{TestGateway, TestResult, visas};
use gemj_passport::{VisaObject, VisaType};
use serde_json::json;

/// Serves `body` as `application/json` to every request on a loopback port; returns the base URL.
async fn serve_json(body: String) -> anyhow::Result<String> {
    gemj_e2e::serve_json(move |_| ("200 OK", body.clone())).await
}

/// A Passport broker trusted for `visas` and no dataset's grants.
fn broker(
    issuer: &str,
    jwks_url: &str,
    visas: Vec<gemj_server::config::VisaTrustConfig>,
) -> gemj_server::config::TrustedIssuerConfig {
    gemj_server::config::TrustedIssuerConfig {
        issuer: issuer.to_owned(),
        jwks_url: jwks_url.to_owned(),
        passports: true,
        visas,
        datasets: vec![],
        passport_audience: String::new(),
        beacon_network: false,
    }
}

/// The issue's end condition, on the embedded default and on PostgreSQL (required under
/// `CI=true`): a foreign broker trusted for ResearcherStatus only cannot be made to serve a
/// CONTROLLED byte, however its Visas are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_trusted_for_researcher_status_cannot_open_controlled_data() -> TestResult {
    researcher_status_broker_on(None).await?;
    let Ok(url) = std::env::var("GEMJ_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs GEMJ_TEST_DATABASE_URL: the trust suite runs on PostgreSQL too"
        );
        return Ok(());
    };
    let schema = format!("gemj_trust_{}", std::process::id());
    let result = researcher_status_broker_on(Some((url.clone(), schema.clone()))).await;
    let options = gemj_store::StoreOptions {
        schema: Some(schema),
        ..gemj_store::StoreOptions::default()
    };
    gemj_store::Store::connect(&url, &options)
        .await?
        .drop_schema_and_close()
        .await?;
    result.map_err(|e| format!("on PostgreSQL: {e}").into())
}

async fn researcher_status_broker_on(postgres: Option<(String, String)>) -> TestResult {
    let keys = tempfile::tempdir()?;
    // The broker's issuer names a loopback port of its own; its keys are served on another.
    let port = closed_port()?;
    let issuer = format!("http://127.0.0.1:{port}/foreign");
    let probe = gemj_auth::LocalIssuer::load_or_create(keys.path(), &issuer)?;
    let jwks_base = serve_json(probe.jwks().to_string()).await?;
    let jwks_url = format!("{jwks_base}/jwks");
    let foreign = gemj_auth::LocalIssuer::load_or_create(keys.path(), &issuer)?
        .with_jwks_url(jwks_url.clone());

    let gw = TestGateway::start_with(6, |c| {
        if let Some((url, schema)) = &postgres {
            c.database.url = url.clone();
            c.database.schema = schema.clone();
        }
        c.auth.trusted_issuers = vec![broker(
            &issuer,
            &jwks_url,
            vec![gemj_server::config::VisaTrustConfig {
                visa_type: "ResearcherStatus".to_owned(),
                sources: vec![issuer.clone()],
                by: vec![],
            }],
        )];
    })
    .await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let demo = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);

    // The committee approves mallory (at the foreign broker) for the joint dataset, so that only
    // the grant is missing.
    let admin = demo.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;
    let approval = visas::hmb_approval("APR-FOREIGN", &issuer, "mallory", &[JOINT]);
    let r = http.post("/admin/v1/approvals", Some(&admin), &approval)?;
    assert_eq!(r.status, 201, "{}", r.text());

    let visa = |t: VisaType, value: &str, source: &str, by: &str| VisaObject {
        r#type: t,
        asserted: now - 60,
        value: value.to_owned(),
        source: source.to_owned(),
        by: Some(by.to_owned()),
        conditions: None,
    };
    let status = visa(VisaType::ResearcherStatus, visas::BONA_FIDE, &issuer, "so");
    let grant_as = |source: &str, by: &str| {
        visa(
            VisaType::ControlledAccessGrants,
            &format!("{PREFIX}{JOINT}"),
            source,
            by,
        )
    };
    // Every way the broker could write the grant: as itself, as the demo committee, by dac.
    let forged = [
        grant_as(&issuer, "dac"),
        grant_as(demo.issuer(), "dac"),
        grant_as(demo.issuer(), "so"),
        grant_as(&issuer, "system"),
    ];
    let mut visas = vec![status.clone()];
    visas.extend(forged.iter().cloned());
    let passport = foreign.issue_passport("mallory", &visas, hour, now)?;

    // The passport verifies and its ResearcherStatus counts: REGISTERED descriptions are served.
    let r = http.get("/catalogue/v1/datasets", Some(&passport))?;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json["datasets"].as_array().map_or(0, Vec::len);
    let anonymous = http.get("/catalogue/v1/datasets", None)?;
    assert!(
        listed > anonymous.json["datasets"].as_array().map_or(0, Vec::len),
        "a registered researcher sees more than anonymous: {}",
        r.text()
    );

    // No grant it signed opens the CONTROLLED dataset, its participants or its bytes.
    let r = http.get(
        &format!("/catalogue/v1/datasets/{JOINT}/participants"),
        Some(&passport),
    )?;
    assert_eq!(r.status, 403, "{}", r.text());
    let bytes = [
        "/htsget/variants/gemj-demo-joint.vcf.gz?referenceName=chr20&start=0&end=1000000",
        "/ga4gh/drs/v1/objects/gemj-demo-joint.bcf/access/https",
        "/catalogue/v1/objects/gemj-demo-joint.vcf.gz/url",
    ];
    for path in bytes {
        let r = http.get(path, Some(&passport))?;
        assert!(
            !(200..300).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.text()
        );
    }

    // The same grant from the demo committee (trusted for grants of this gateway's datasets)
    // opens it for its own user: the refusal above is the issuer's, not the dataset's.
    let r = http.post(
        "/admin/v1/approvals",
        Some(&admin),
        &visas::hmb_approval("APR-DEMO", demo.issuer(), "mallory", &[JOINT]),
    )?;
    assert_eq!(r.status, 201, "{}", r.text());
    let own = demo.issue_passport(
        "mallory",
        &[
            visa(
                VisaType::ResearcherStatus,
                visas::BONA_FIDE,
                demo.issuer(),
                "so",
            ),
            grant_as(demo.issuer(), "dac"),
        ],
        hour,
        now,
    )?;
    let r = http.get(
        &format!("/catalogue/v1/datasets/{JOINT}/participants"),
        Some(&own),
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    // (The joint call set is served through htsget only, re-encoded per consent scope.)
    let r = http.get(bytes[0], Some(&own))?;
    assert_eq!(r.status, 200, "{}: {}", bytes[0], r.text());
    gw.stop().await;
    Ok(())
}

/// A free loopback port with nothing listening on it.
fn closed_port() -> Result<u16, std::io::Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_oversized_and_unverifiable_tokens_on_every_api() -> TestResult {
    let keys = tempfile::tempdir()?;
    let port = closed_port()?;
    let issuer = format!("http://127.0.0.1:{port}/down");
    let jwks_url = format!("http://127.0.0.1:{port}/jwks");
    let down = gemj_auth::LocalIssuer::load_or_create(keys.path(), &issuer)?
        .with_jwks_url(jwks_url.clone());
    let gw = TestGateway::start_with(4, |c| {
        c.auth.trusted_issuers = vec![broker(&issuer, &jwks_url, vec![])];
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let now = gemj_auth::now_unix();
    let unverifiable = down.issue_passport("erin", &[], Duration::from_secs(600), now)?;
    let paths = [
        "/catalogue/v1/datasets",
        "/ga4gh/drs/v1/objects/GEMJ-DEMO-0001",
        "/htsget/reads/GEMJ-DEMO-0001?format=BAM",
        "/beacon/v2/individuals",
    ];
    for path in paths {
        // A token that does not verify: 401 with the RFC 6750 challenge naming the reason.
        let r = http.get(path, Some("not-a-jwt"))?;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\", error_description=\"malformed_token\""),
            "{path}"
        );
        // An oversized Authorization header: 431, in the API's own format, never parsed.
        let r = http.get(path, Some(&"a".repeat(70 * 1024)))?;
        assert_eq!(r.status, 431, "{path}: {}", r.text());
        assert!(r.json.is_object(), "{path}: {}", r.text());
        // A trusted issuer whose keys cannot be fetched: the caller did nothing wrong.
        let r = http.get(path, Some(&unverifiable))?;
        assert_eq!(r.status, 503, "{path}: {}", r.text());
        assert!(r.header("retry-after").is_some(), "{path}");
        assert!(r.header("www-authenticate").is_none(), "{path}");
    }
    // Each refusal before a decision left exactly one audit row, with the hash of what was
    // presented and never the token itself.
    let rows = gw
        .store
        .audit_records_of_principal("unauthenticated", 0, 1000)
        .await?;
    let mut reasons: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.event.api.clone(), r.event.reasons.join(",")))
        .collect();
    reasons.sort();
    let mut want: Vec<(String, String)> = ["beacon", "catalogue", "drs", "htsget"]
        .iter()
        .flat_map(|api| {
            [
                "credential_refused:authorization_too_large",
                "credential_refused:jwks_unavailable",
                "credential_refused:malformed_token",
            ]
            .map(|reason| ((*api).to_owned(), reason.to_owned()))
        })
        .collect();
    want.sort();
    assert_eq!(reasons, want);
    for r in &rows {
        let body = serde_json::to_string(&r.event)?;
        assert!(!body.contains("not-a-jwt") && !body.contains(&unverifiable));
        assert!(
            r.event
                .credential_hashes
                .iter()
                .all(|h| h.starts_with("presented:") && h.len() == "presented:".len() + 64)
        );
    }
    gw.stop_with_intact_chains().await?;
    Ok(())
}

/// A flood of forged tokens from one address: every one is answered 401 with its challenge, as
/// always, but only `auth.audited_refusals_per_address` of them are audited one by one; the
/// rest of the window leaves one row (`refusals_limited`, the address hashed), so the flood
/// cannot grow the audit without bound. Callers who present nothing, or a valid credential,
/// are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_forged_tokens_from_one_address_is_audited_within_its_limit() -> TestResult {
    let gw = TestGateway::start_with(4, |c| {
        c.auth.audited_refusals_per_address = 5;
        c.auth.refusal_window_secs = 3600;
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    for i in 0..30 {
        let path = if i % 2 == 0 {
            "/ga4gh/drs/v1/objects/GEMJ-DEMO-0001"
        } else {
            "/htsget/reads/GEMJ-DEMO-0001?format=BAM"
        };
        let r = http.get(path, Some(&format!("forged-{i}")))?;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer error=\"invalid_token\", error_description=\"malformed_token\""),
            "{path}"
        );
    }
    let r = http.get("/catalogue/v1/datasets", None)?;
    assert_eq!(r.status, 200, "{}", r.text());
    let rows = gw
        .store
        .audit_records_of_principal("unauthenticated", 0, 1000)
        .await?;
    let reasons: Vec<String> = rows.iter().map(|r| r.event.reasons.join(",")).collect();
    let of = |want: &str| reasons.iter().filter(|r| *r == want).count();
    assert_eq!(of("credential_refused:malformed_token"), 5, "{reasons:?}");
    let marker = "credential_refused:refusals_limited,credential_refused:malformed_token";
    assert_eq!(of(marker), 1, "{reasons:?}");
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    let limited = rows
        .iter()
        .find(|r| r.event.reasons.join(",") == marker)
        .ok_or("no limited row")?;
    assert!(
        limited
            .event
            .credential_hashes
            .iter()
            .any(|h| h.starts_with("address:") && h.len() == "address:".len() + 64),
        "{:?}",
        limited.event.credential_hashes
    );
    assert!(!serde_json::to_string(&limited.event)?.contains("127.0.0.1"));
    gw.stop_with_intact_chains().await?;
    Ok(())
}

/// Behind a trusted reverse proxy (`server.trusted_proxies`) each client has its own Beacon
/// budget and its own refusal limit, read from `X-Forwarded-For` right to left; a client that
/// forges entries left of what its proxy appended gains nothing, and a gateway that trusts no
/// proxy ignores the header, so sending one directly escapes nothing either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_is_counted_and_forged_entries_gain_nothing()
-> TestResult {
    let individuals = "/beacon/v2/individuals";
    let gw = TestGateway::start_with(4, |c| {
        c.server.trusted_proxies = vec!["127.0.0.0/8".to_owned()];
        c.beacon.budgets.per_ip = 3;
        c.beacon.budgets.per_caller = 1000;
        c.auth.audited_refusals_per_address = 2;
        c.auth.refusal_window_secs = 3600;
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let from = |xff: &str, bearer: Option<&str>| {
        let mut headers = vec![("X-Forwarded-For", xff.to_owned())];
        if let Some(b) = bearer {
            headers.push(("Authorization", format!("Bearer {b}")));
        }
        http.send_with("GET", individuals, &headers, None)
    };
    for _ in 0..3 {
        let r = from("203.0.113.7", None)?;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(
        from("203.0.113.7", None)?.status,
        429,
        "its budget is spent"
    );
    // Its own entries left of the proxy's change nothing.
    assert_eq!(from("198.51.100.1, 203.0.113.7", None)?.status, 429);
    // Another client, and one behind a second trusted hop, have their own budgets.
    assert_eq!(from("198.51.100.9", None)?.status, 200);
    assert_eq!(from("192.0.2.44, 127.0.0.9", None)?.status, 200);
    // An IPv6 /64 is one budget.
    for host in [
        "2001:db8:1:1::1",
        "2001:db8:1:1::2",
        "[2001:db8:1:1::3]:4711",
    ] {
        assert_eq!(from(host, None)?.status, 200, "{host}");
    }
    assert_eq!(from("2001:db8:1:1::ff", None)?.status, 429);
    // Refusals are counted per client too: two audited one by one each, then one row.
    for (xff, n) in [("203.0.113.50", 3), ("203.0.113.51", 2)] {
        for i in 0..n {
            let r = from(xff, Some(&format!("forged-{xff}-{i}")))?;
            assert_eq!(r.status, 401, "{}", r.text());
        }
    }
    let rows = gw
        .store
        .audit_records_of_principal("unauthenticated", 0, 1000)
        .await?;
    let reasons: Vec<String> = rows.iter().map(|r| r.event.reasons.join(",")).collect();
    let of = |want: &str| reasons.iter().filter(|r| r.starts_with(want)).count();
    assert_eq!(of("credential_refused:malformed_token"), 4, "{reasons:?}");
    assert_eq!(of("credential_refused:refusals_limited"), 1, "{reasons:?}");

    // The FHIR population operations are Beacon queries of the caller and spend the same
    // per-address budget: researchers sharing one address cannot add their budgets up by
    // asking through FHIR, and the spent budget stops that address's Beacon queries too.
    let broker = gw.demo_broker()?;
    let now = gemj_auth::now_unix();
    let population = "/fhir/$find-population-specific-haplotypes?haplotypes=CYP2C19*2";
    let fhir_from =
        |xff: &str, subject: &str| -> Result<(u16, String), Box<dyn std::error::Error>> {
            let passport = visas::registered_passport(&broker, subject, now)?;
            let r = http.send_with(
                "GET",
                population,
                &[
                    ("X-Forwarded-For", xff.to_owned()),
                    ("Authorization", format!("Bearer {passport}")),
                ],
                None,
            )?;
            Ok((r.status, r.text()))
        };
    let shared = "203.0.113.90";
    let mut answered = 0;
    loop {
        let (status, text) = fhir_from(shared, "fhir-alice")?;
        if status == 429 {
            assert!(
                text.contains("\"throttled\""),
                "an OperationOutcome: {text}"
            );
            break;
        }
        assert_eq!(status, 200, "{text}");
        answered += 1;
        assert!(answered <= 3, "the per-address budget of 3 was never spent");
    }
    assert!(answered >= 1, "the first population count is answered");
    let (status, text) = fhir_from(shared, "fhir-bob")?;
    assert_eq!(
        status, 429,
        "another researcher at the spent address: {text}"
    );
    assert_eq!(from(shared, None)?.status, 429, "and that address's Beacon");
    let (status, text) = fhir_from("203.0.113.91", "fhir-bob")?;
    assert_eq!(status, 200, "the same researcher elsewhere: {text}");
    gw.stop_with_intact_chains().await?;

    // No trusted proxy: the header is the client's to write and counts for nothing.
    let gw = TestGateway::start_with(4, |c| c.beacon.budgets.per_ip = 3).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    for n in 1..=4 {
        let r = http.send_with(
            "GET",
            individuals,
            &[("X-Forwarded-For", format!("203.0.113.{n}"))],
            None,
        )?;
        assert_eq!(r.status, if n <= 3 { 200 } else { 429 }, "{n}");
    }
    gw.stop().await;

    // Proxies that write RFC 7239's `Forwarded`: its `for=` nodes are walked the same way, and
    // X-Forwarded-For, which such a proxy passes on as the client wrote it, counts for nothing.
    let gw = TestGateway::start_with(4, |c| {
        c.server.trusted_proxies = vec!["127.0.0.1".to_owned()];
        c.server.forwarded_header = gemj_server::config::ForwardedHeader::Forwarded;
        c.beacon.budgets.per_ip = 1;
    })
    .await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let with = |name: &'static str, value: &str| {
        http.send_with("GET", individuals, &[(name, value.to_owned())], None)
            .map(|r| r.status)
    };
    assert_eq!(with("Forwarded", "for=203.0.113.1;proto=http")?, 200);
    assert_eq!(
        with("Forwarded", "for=203.0.113.1")?,
        429,
        "one client's budget"
    );
    assert_eq!(
        with("Forwarded", "for=203.0.113.1, for=\"[2001:db8::5]:80\"")?,
        200,
        "another client, its own left entry ignored"
    );
    assert_eq!(
        with("X-Forwarded-For", "203.0.113.3")?,
        200,
        "the proxy's own"
    );
    assert_eq!(
        with("X-Forwarded-For", "203.0.113.4")?,
        429,
        "X-Forwarded-For names nobody here: still the proxy's budget"
    );
    gw.stop().await;
    Ok(())
}

/// The `jti` of a JWT.
fn jti_of(jwt: &str) -> Result<String, Box<dyn std::error::Error>> {
    let claims = gemj_e2e::jwt_claims(jwt)?;
    Ok(claims["jti"].as_str().ok_or("no jti")?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_tokens_subjects_and_visas_stop_counting_on_the_next_request() -> TestResult {
    let gw = TestGateway::start(4).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let demo = gemj_demo::broker::load(gw.data_dir(), &gw.base_url)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let admin = demo.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;
    let status = visas::researcher_status(&demo, "so", now - 60);
    let passport = demo.issue_passport("rita", std::slice::from_ref(&status), hour, now)?;
    let registered = |r: &gemj_e2e::http::Reply| r.json["datasets"].as_array().map_or(0, Vec::len);
    let r = http.get("/catalogue/v1/datasets", Some(&passport))?;
    assert_eq!(r.status, 200, "{}", r.text());
    let as_registered = registered(&r);
    let revoke = |kind: &str, value: &str| json!({"kind": kind, "issuer": demo.issuer(), "value": value, "reason": "synthetic test"});

    // Only administrators manage revocations.
    let r = http.post(
        "/admin/v1/revocations",
        Some(&passport),
        &revoke("subject", "rita"),
    )?;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = http.post("/admin/v1/revocations", None, &revoke("subject", "rita"))?;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = http.post(
        "/admin/v1/revocations",
        Some(&admin),
        &json!({"kind": "everything", "issuer": demo.issuer(), "value": "x", "reason": "r"}),
    )?;
    assert_eq!(r.status, 400, "{}", r.text());

    // The passport's own token: refused from the next request on, with the RFC 6750 challenge.
    let jti = jti_of(&passport)?;
    let r = http.post(
        "/admin/v1/revocations",
        Some(&admin),
        &revoke("token", &jti),
    )?;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = http.post(
        "/admin/v1/revocations",
        Some(&admin),
        &revoke("token", &jti),
    )?;
    assert_eq!(r.status, 200, "the same revocation again: {}", r.text());
    let r = http.get("/catalogue/v1/datasets", Some(&passport))?;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json["reason"], "token_revoked");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\", error_description=\"token_revoked\"")
    );
    let r = http.get("/admin/v1/revocations", Some(&admin))?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["revocations"].as_array().map(Vec::len), Some(1));
    assert!(
        r.json["revocations"][0]["created_by"]
            .as_str()
            .is_some_and(|by| by.ends_with(gemj_demo::broker::ADMINISTRATOR))
    );
    // Lifted: the same passport counts again.
    let r = http.send(
        "DELETE",
        &format!(
            "/admin/v1/revocations?kind=token&issuer={}&value={jti}",
            demo.issuer().replace(':', "%3A").replace('/', "%2F")
        ),
        Some(&admin),
        None,
        None,
    )?;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = http.get("/catalogue/v1/datasets", Some(&passport))?;
    assert_eq!(r.status, 200, "{}", r.text());

    // A revoked Visa is ignored, the rest of the passport still counts.
    let visa = demo.issue_visa("rita", &status, hour, now)?;
    let with_visa = demo.issue_passport_with_visas("rita", vec![visa.clone()], hour, now)?;
    let r = http.get("/catalogue/v1/datasets", Some(&with_visa))?;
    assert_eq!(registered(&r), as_registered, "{}", r.text());
    let r = http.post(
        "/admin/v1/revocations",
        Some(&admin),
        &revoke("token", &jti_of(&visa)?),
    )?;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = http.get("/catalogue/v1/datasets", Some(&with_visa))?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        registered(&r) < as_registered,
        "the revoked ResearcherStatus no longer counts: {}",
        r.text()
    );

    // A subject: every passport of it, including new ones.
    let r = http.post(
        "/admin/v1/revocations",
        Some(&admin),
        &revoke("subject", "rita"),
    )?;
    assert_eq!(r.status, 201, "{}", r.text());
    let fresh = demo.issue_passport("rita", std::slice::from_ref(&status), hour, now)?;
    let r = http.get("/catalogue/v1/datasets", Some(&fresh))?;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json["reason"], "subject_revoked");
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passports_in_a_body_are_capped_with_413_in_each_apis_format() -> TestResult {
    let gw = TestGateway::start(4).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let too_many = json!({ "passports": vec!["a.b.c"; gemj_auth::MAX_POST_PASSPORTS + 1] });
    let too_long = json!({ "passports": ["x".repeat(gemj_auth::MAX_PASSPORT_BYTES + 1)] });
    for body in [&too_many, &too_long] {
        // DRS: `{msg, status_code}`.
        let r = http.post("/ga4gh/drs/v1/objects/GEMJ-DEMO-0001", None, body)?;
        assert_eq!(r.status, 413, "{}", r.text());
        assert_eq!(r.json["status_code"], 413, "{}", r.text());
        assert!(r.json["msg"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Beacon: its error envelope.
    let r = http.post("/beacon/v2/individuals", None, &too_many)?;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json["error"]["errorCode"], 413, "{}", r.text());
    // A body over each API's own limit: 413 in that API's format too, before it is parsed.
    // (Each just over its limit: 4 MiB for DRS, 256 KiB for Beacon, 64 KiB for htsget.)
    let over = |bytes: usize| json!({ "passports": [], "pad": "x".repeat(bytes) });
    let r = http.post("/ga4gh/drs/v1/objects/GEMJ-DEMO-0001", None, &over(5 << 20))?;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json["status_code"], 413, "{}", r.text());
    let r = http.post("/beacon/v2/individuals", None, &over(300 << 10))?;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json["error"]["errorCode"], 413, "{}", r.text());
    let r = http.post("/htsget/reads/GEMJ-DEMO-0001", None, &over(100 << 10))?;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json["htsget"]["error"], "PayloadTooLarge", "{}", r.text());
    // The gateway's own JSON APIs: problem details, audited as well.
    let r = http.post("/admin/v1/revocations", None, &over(5 << 20))?;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json["status"], 413, "{}", r.text());
    // Each refusal left one audit row with the hash of what was presented.
    let rows = gw
        .store
        .audit_records_of_principal("unauthenticated", 0, 100)
        .await?;
    let mut got: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.event.api.clone(), r.event.reasons.join(",")))
        .collect();
    got.sort();
    let refused = "credential_refused:passports_too_large".to_owned();
    let body = "credential_refused:body_too_large".to_owned();
    assert_eq!(
        got,
        [
            ("admin".to_owned(), body.clone()),
            ("beacon".to_owned(), body.clone()),
            ("beacon".to_owned(), refused.clone()),
            // The over-long passport is over the test gateway's DRS body limit already.
            ("drs".to_owned(), body.clone()),
            ("drs".to_owned(), body.clone()),
            ("drs".to_owned(), refused),
            ("htsget".to_owned(), body),
        ]
    );
    assert!(rows.iter().all(|r| {
        r.event
            .credential_hashes
            .iter()
            .all(|h| h.starts_with("presented:"))
    }));
    gw.stop().await;
    Ok(())
}
