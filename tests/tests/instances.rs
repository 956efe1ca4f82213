//! End-to-end over two gateway instances sharing one PostgreSQL store: a withdrawal posted to
//! instance A is enforced by instance B, over HTTP, within the 5 s the consent view allows, and
//! so are a subject's and a single token's revocation; the times it took are printed (recorded
//! in docs/PERFORMANCE.md). A SMART client assertion exchanged on A is refused as a replay on B.
//! Every budget is one budget across both: a caller's Beacon queries, an address's Beacon
//! queries (a budget large enough to be leased in blocks), a requester's risk ledger, and the
//! number of forged credentials an address gets audited one by one. Two replicas with local
//! audit journals ship into one chain, and each one's own history reads its own answers.

use std::time::{Duration, Instant};

use gemj_e2e::{TestGateway, TestResult, visas};

/// Beacon queries per caller and window on both instances.
const BEACON_BUDGET: u32 = 6;
/// Beacon queries per address and window: large enough that each instance leases them from the
/// store 16 at a time (`privacy::lease_size`).
const ADDRESS_BUDGET: u32 = 1_024;
/// Unverified credentials audited one by one per address and window, over both instances.
const AUDITED_REFUSALS: u32 = 4;
/// Small answers a participant may be part of for one requester.
const RISK_BUDGET: u32 = 2;

/// `POST url` with a bearer token and a JSON body: the status.
fn post(
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> Result<u16, Box<dyn std::error::Error>> {
    Ok(tokio::task::block_in_place(|| {
        ureq::post(url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(body)
            .map(|r| r.status().as_u16())
    })?)
}

/// The `jti` claim of a JWT.
fn jti(token: &str) -> Result<String, Box<dyn std::error::Error>> {
    let claims = gemj_e2e::jwt_claims(token)?;
    Ok(claims["jti"].as_str().ok_or("a jti")?.to_owned())
}

/// `GET url` with a bearer token: status and JSON body.
fn get(url: &str, token: &str) -> Result<(u16, serde_json::Value), Box<dyn std::error::Error>> {
    fetch(url, Some(token))
}

/// `GET url`, with a bearer token if given: status and JSON body.
fn fetch(
    url: &str,
    token: Option<&str>,
) -> Result<(u16, serde_json::Value), Box<dyn std::error::Error>> {
    tokio::task::block_in_place(|| {
        let mut request = ureq::get(url).config().http_status_as_error(false).build();
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let res = request.call()?;
        let status = res.status().as_u16();
        Ok((
            status,
            serde_json::from_reader(res.into_body().into_reader())?,
        ))
    })
}

fn listed(body: &serde_json::Value, participant: &str) -> bool {
    body["participants"]
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p == participant))
}

/// The test PostgreSQL's URL and a fresh schema name for one run (`prefix`, process id and
/// clock; the test drops it at its end); `None` outside CI when none is configured.
fn postgres(
    test: &str,
    prefix: &str,
) -> Result<Option<(String, String)>, Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("GEMJ_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs GEMJ_TEST_DATABASE_URL for the {test}"
        );
        eprintln!("{test} skipped (set GEMJ_TEST_DATABASE_URL to run it)");
        return Ok(None);
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos();
    Ok(Some((
        url,
        format!("{prefix}_{}_{nanos}", std::process::id()),
    )))
}

/// Drops a test's schema, from a pool of the test's own runtime: the instances' pools may hold
/// connections whose runtime is shutting down.
async fn drop_schema(url: &str, schema: &str) -> TestResult {
    let opts = gemj_store::StoreOptions {
        schema: Some(schema.to_owned()),
        ..gemj_store::StoreOptions::default()
    };
    let store = gemj_store::Store::connect(url, &opts).await?;
    store.drop_schema_and_close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_on_one_instance_is_enforced_on_the_other_within_seconds() -> TestResult {
    let Some((url, schema)) = postgres("two-instance test", "gemj_e2e")? else {
        return Ok(());
    };
    // Both instances present the same public URL, so the demo broker and the demo institutions
    // (keys in the shared data folder) are the same issuers to both. (Loopback, as the demo
    // requires; nothing is ever sent there: the demo key sets are read from memory.)
    let public = "http://127.0.0.1:9".to_owned();
    let [port_a, port_b] = gemj_e2e::free_ports()?;
    let pg = |c: &mut gemj_server::Config| {
        c.public_url = public.clone();
        c.database.url = url.clone();
        c.database.schema = schema.clone();
        c.beacon.budgets.per_caller = BEACON_BUDGET;
        c.beacon.budgets.per_ip = ADDRESS_BUDGET;
        // Windows longer than the test, so none ends midway.
        c.beacon.budgets.window_secs = 3_600;
        c.beacon.budgets.risk_budget = RISK_BUDGET;
        c.beacon.budgets.risk_set_size = 1_000;
        // Exact counts, so a participant left out shows.
        c.beacon.privacy.small_cell = 1;
        c.beacon.privacy.round_to = 1;
        c.auth.audited_refusals_per_address = AUDITED_REFUSALS;
        c.auth.refusal_window_secs = 3_600;
    };
    let a = TestGateway::start_with(6, |c| {
        pg(c);
        c.listen = format!("127.0.0.1:{port_a}");
    })
    .await?;
    let data_dir = a.data_dir().to_path_buf();
    let b = TestGateway::start_with(0, |c| {
        pg(c);
        c.listen = format!("127.0.0.1:{port_b}");
        c.data_dir = data_dir.clone();
    })
    .await?;
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );

    let broker = gemj_demo::broker::load(&data_dir, &public)?;
    let now = gemj_auth::now_unix();
    let passport = visas::registered_passport(&broker, "alice", now)?;
    // One Beacon query budget for both replicas: bob's queries count against one window
    // wherever they land, so alternating between A and B gives him no more than the budget.
    let bob = visas::registered_passport(&broker, "bob", now)?;
    let mut statuses = Vec::new();
    for i in 0..BEACON_BUDGET + 2 {
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        let (status, body) = get(
            &format!("{base}/beacon/v2/individuals?requestedGranularity=count"),
            &bob,
        )?;
        if status == 429 {
            assert_eq!(body["error"]["errorCode"], 429, "{body}");
        }
        statuses.push(status);
    }
    let budget = usize::try_from(BEACON_BUDGET)?;
    assert_eq!(
        statuses,
        [vec![200; budget], vec![429; 2]].concat(),
        "bob's queries across two replicas over one PostgreSQL"
    );

    let path = "/catalogue/v1/datasets/GEMJ-DEMO-RD-REG/participants";
    let (status, before) = get(&format!("{base_b}{path}"), &passport)?;
    assert_eq!(status, 200, "{before}");
    let victim = before["participants"][0]
        .as_str()
        .ok_or("a participant served by B")?
        .to_owned();
    let institution = a
        .store
        .get_participant(&gemj_model::ParticipantId::parse(&victim)?)
        .await?
        .ok_or("victim")?
        .institution;
    let (_, signer) = gemj_demo::broker::institutions(&data_dir, &public)?
        .into_iter()
        .find(|(id, _)| *id == institution)
        .ok_or("the victim's institution")?;
    let token = signer.issue_token("consent-system", &public, Duration::from_secs(300), now)?;
    let withdrawal = serde_json::json!({
        "event_id": "w-two-instances", "participant": victim, "institution": institution,
        "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"
    });

    let started = Instant::now();
    let status = post(&format!("{base_a}/consent/v1/events"), &token, &withdrawal)?;
    let posted = started.elapsed();
    assert_eq!(status, 201);
    let (_, on_a) = get(&format!("{base_a}{path}"), &passport)?;
    assert!(
        !listed(&on_a, &victim),
        "instance A serves the participant after its own POST returned"
    );
    let enforced_on_b = loop {
        let (status, on_b) = get(&format!("{base_b}{path}"), &passport)?;
        assert_eq!(status, 200, "{on_b}");
        if !listed(&on_b, &victim) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "instance B still serves a participant 5 s after the withdrawal"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    eprintln!(
        "withdrawal POST to A answered in {:.1} ms; enforced on B {:.1} ms after the POST began",
        posted.as_secs_f64() * 1e3,
        enforced_on_b.as_secs_f64() * 1e3
    );

    // A revocation recorded through A holds on A at once and on B within one poll.
    let admin = broker.issue_passport(
        gemj_demo::broker::ADMINISTRATOR,
        &[],
        Duration::from_secs(600),
        now,
    )?;
    let revocation = serde_json::json!({
        "kind": "subject", "issuer": broker.issuer(), "value": "alice",
        "reason": "synthetic: the researcher left the project"
    });
    let started = Instant::now();
    let status = post(
        &format!("{base_a}/admin/v1/revocations"),
        &admin,
        &revocation,
    )?;
    assert_eq!(status, 201);
    let (status, body) = get(&format!("{base_a}{path}"), &passport)?;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["reason"], "subject_revoked");
    let revoked_on_b = loop {
        let (status, body) = get(&format!("{base_b}{path}"), &passport)?;
        if status == 401 {
            assert_eq!(body["reason"], "subject_revoked");
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "instance B still accepts a revoked subject 5 s later"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    eprintln!(
        "subject revoked on A; refused on B {:.1} ms after the POST began",
        revoked_on_b.as_secs_f64() * 1e3
    );
    // A SMART client assertion exchanged on A is a replay on B: the used assertions are
    // recorded in the shared store, not per instance.
    let endpoint = format!("{public}/fhir/auth/token");
    let assertion =
        signer.issue_token(signer.issuer(), &endpoint, Duration::from_secs(300), now)?;
    let form = format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}&scope=system%2F%2A.read"
    );
    let exchange = |base: &str| -> Result<(u16, serde_json::Value), Box<dyn std::error::Error>> {
        tokio::task::block_in_place(|| {
            let res = ureq::post(&format!("{base}/fhir/auth/token"))
                .config()
                .http_status_as_error(false)
                .build()
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(form.as_bytes())?;
            let status = res.status().as_u16();
            Ok((
                status,
                serde_json::from_reader(res.into_body().into_reader())?,
            ))
        })
    };
    let (status, body) = exchange(&base_a)?;
    assert_eq!(status, 200, "{body}");
    let (status, body) = exchange(&base_b)?;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the assertion A exchanged, replayed on B: {body}"
    );

    // A single token revoked through A (issuer + jti): refused on B within a poll, while
    // another passport of the same subject still works there.
    let leaked = visas::registered_passport(&broker, "bob", now)?;
    let other = visas::registered_passport(&broker, "bob", now)?;
    let (status, body) = get(&format!("{base_b}{path}"), &leaked)?;
    assert_eq!(status, 200, "{body}");
    let revocation = serde_json::json!({
        "kind": "token", "issuer": broker.issuer(), "value": jti(&leaked)?,
        "reason": "synthetic: a leaked token"
    });
    let started = Instant::now();
    assert_eq!(
        post(
            &format!("{base_a}/admin/v1/revocations"),
            &admin,
            &revocation
        )?,
        201
    );
    let (status, body) = get(&format!("{base_a}{path}"), &leaked)?;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("token_revoked")),
        "{body}"
    );
    let token_revoked_on_b = loop {
        let (status, body) = get(&format!("{base_b}{path}"), &leaked)?;
        if status == 401 {
            assert_eq!(body["reason"], "token_revoked");
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "instance B still accepts a revoked token 5 s later"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let (status, body) = get(&format!("{base_b}{path}"), &other)?;
    assert_eq!(status, 200, "another token of the subject: {body}");
    eprintln!(
        "token revoked on A; refused on B {:.1} ms after the POST began",
        token_revoked_on_b.as_secs_f64() * 1e3
    );

    // One risk ledger: carol's answers through A spend her risk budget of the participants
    // they name; B, which never answered her, already leaves them out of her counts.
    let carol = visas::registered_passport(&broker, "carol", now)?;
    let carols_queries = std::cell::Cell::new(0_u32);
    let count = |base: &str| -> Result<u64, Box<dyn std::error::Error>> {
        carols_queries.set(carols_queries.get() + 1);
        let (status, body) = get(
            &format!("{base}/beacon/v2/individuals?requestedGranularity=count"),
            &carol,
        )?;
        assert_eq!(status, 200, "{body}");
        Ok(body["responseSummary"]["numTotalResults"]
            .as_u64()
            .ok_or("a count")?)
    };
    let through_a: Vec<u64> = (0..RISK_BUDGET)
        .map(|_| count(&base_a))
        .collect::<Result<_, _>>()?;
    assert!(
        through_a.iter().all(|n| *n > 0 && *n == through_a[0]),
        "carol's counts on A before her risk budget is spent: {through_a:?}"
    );
    // A's charges are written before A answers, and B reads carol's ledger from the store at
    // her first query there: its very first count leaves them out.
    let on_b = count(&base_b)?;
    assert_eq!(
        on_b, 0,
        "B counts participants whose risk budget carol spent on A ({through_a:?})"
    );
    eprintln!("risk budget spent on A ({through_a:?}); B's first count for carol: {on_b}");

    // One refusal limit per address: forged credentials sent to A and B in turn are audited
    // one by one only `AUDITED_REFUSALS` times in all, then once per instance as limited.
    let mut reason = String::new();
    for i in 0..3 * AUDITED_REFUSALS {
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        let (status, body) = get(&format!("{base}{path}"), &format!("forged-{i}"))?;
        assert_eq!(status, 401, "{body}");
        reason = body["reason"].as_str().ok_or("a reason")?.to_owned();
    }
    let refused = a
        .store
        .audit_records_of_principal("unauthenticated", 0, 10_000)
        .await?;
    let code = format!("credential_refused:{reason}");
    let limited = "credential_refused:refusals_limited";
    let one_by_one = refused
        .iter()
        .filter(|r| {
            r.event.reasons.contains(&code) && !r.event.reasons.iter().any(|x| x == limited)
        })
        .count();
    let limited_rows = refused
        .iter()
        .filter(|r| r.event.reasons.iter().any(|x| x == limited))
        .count();
    assert_eq!(
        (one_by_one, limited_rows),
        (usize::try_from(AUDITED_REFUSALS)?, 2),
        "forged credentials audited one by one, and limited rows (one per instance)"
    );

    // One query budget per address, leased in blocks: anonymous queries sent to A and B in
    // turn are answered at most `ADDRESS_BUDGET` times in all (bob's and carol's answered
    // queries above came from the same address), and at most one unspent lease per instance
    // short of it (leases of 16 are not topped up in the background: that starts at 64).
    let mut answered = 0_u32;
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    for i in 0..ADDRESS_BUDGET + 64 {
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        let (status, body) = fetch(&format!("{base}/beacon/v2/individuals"), None)?;
        match status {
            200 => answered += 1,
            429 => assert_eq!(body["error"]["errorCode"], 429, "{body}"),
            _ => panic!("an anonymous query answered {status}: {body}"),
        }
        *statuses.entry(status).or_default() += 1;
    }
    eprintln!("anonymous queries from one address over two replicas: {statuses:?}");
    // Bob's and carol's answered queries came from the same address.
    let others = BEACON_BUDGET + carols_queries.get();
    assert!(
        answered + others <= ADDRESS_BUDGET,
        "{answered} answered and {others} earlier: over the address's budget of {ADDRESS_BUDGET}"
    );
    // Each instance may end holding one unspent lease (16 queries for this budget).
    assert!(
        answered + others + 2 * 16 >= ADDRESS_BUDGET,
        "{answered} answered and {others} earlier: more left unspent than two leases"
    );

    b.stop().await;
    a.stop().await;
    drop_schema(&url, &schema).await
}

/// `GET url` with a bearer token: status and the gateway's `X-Request-Id`.
fn request_id(url: &str, token: &str) -> Result<(u16, String), Box<dyn std::error::Error>> {
    tokio::task::block_in_place(|| {
        let res = ureq::get(url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("Authorization", &format!("Bearer {token}"))
            .call()?;
        let id = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .ok_or("an X-Request-Id")?
            .to_owned();
        Ok((res.status().as_u16(), id))
    })
}

/// The request ids of a caller's own history, read through `base`.
fn history(base: &str, token: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (status, page) = get(&format!("{base}/audit/v1/me?limit=1000"), token)?;
    assert_eq!(status, 200, "{page}");
    Ok(page["records"]
        .as_array()
        .ok_or("records")?
        .iter()
        .filter_map(|r| r["request_id"].as_str().map(str::to_owned))
        .collect())
}

/// Two replicas over one PostgreSQL, each answering from a local audit journal
/// (`audit.journal`): every answer's row reaches the one chain, numbered once, in an intact
/// chain; a caller's history read through a replica right after its answers lists them (the
/// read waits for that replica's shipper), and the other replica's within moments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_local_journals_ship_into_one_chain() -> TestResult {
    let Some((url, schema)) = postgres("two-instance journal test", "gemj_e2e_journal")? else {
        return Ok(());
    };
    let public = "http://127.0.0.1:9".to_owned();
    let [port_a, port_b] = gemj_e2e::free_ports()?;
    let pg = |c: &mut gemj_server::Config, port: u16, journal: &str| {
        c.public_url = public.clone();
        c.database.url = url.clone();
        c.database.schema = schema.clone();
        c.listen = format!("127.0.0.1:{port}");
        c.audit.journal = journal.to_owned();
    };
    let a = TestGateway::start_with(4, |c| pg(c, port_a, "journal-a.sqlite")).await?;
    let data_dir = a.data_dir().to_path_buf();
    let b = TestGateway::start_with(0, |c| {
        pg(c, port_b, "journal-b.sqlite");
        c.data_dir = data_dir.clone();
    })
    .await?;
    let bases = [
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    ];
    let broker = gemj_demo::broker::load(&data_dir, &public)?;
    let alice = visas::registered_passport(&broker, "alice", gemj_auth::now_unix())?;
    let mut answered: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for i in 0..40 {
        let (status, id) = request_id(&format!("{}/catalogue/v1/datasets", bases[i % 2]), &alice)?;
        assert_eq!(status, 200);
        answered[i % 2].push(id);
    }
    for (replica, base) in bases.iter().enumerate() {
        // Read right after the answers: this replica's own rows are already in the chain.
        let seen = history(base, &alice)?;
        let missing: Vec<&String> = answered[replica]
            .iter()
            .filter(|id| !seen.contains(*id))
            .collect();
        assert!(
            missing.is_empty(),
            "replica {replica}'s own history misses its answers {missing:?}"
        );
    }
    let everything: Vec<&String> = answered.iter().flatten().collect();
    let started = Instant::now();
    loop {
        let seen = history(&bases[0], &alice)?;
        if everything.iter().all(|id| seen.contains(*id)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the other replica's rows are not in the chain 5 s later"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each of a request's decisions (one per dataset listed) once.
    let rows = a.store.audit_records(0, 10_000).await?;
    let mut decisions = std::collections::HashMap::new();
    for r in &rows {
        *decisions
            .entry((r.event.request_id.as_str(), r.event.resource.as_str()))
            .or_insert(0_u32) += 1;
    }
    assert!(
        decisions.values().all(|n| *n == 1),
        "a decision in the chain more than once"
    );
    for id in &everything {
        assert!(
            rows.iter().any(|r| &&r.event.request_id == id),
            "request {id} has no row in the chain"
        );
    }
    assert!(
        rows.iter()
            .map(|r| r.seq)
            .eq(1..=i64::try_from(rows.len())?),
        "one numbering, no gap"
    );
    b.stop_with_intact_chains().await?;
    a.stop_with_intact_chains().await?;
    drop_schema(&url, &schema).await
}
