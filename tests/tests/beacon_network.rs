//! The Beacon network across three gateway instances on loopback (A asks B and C, directly and
//! through proxies that make them slow), with a member that hangs, one that is down, one that
//! answers malformed JSON and one whose answer is over the size cap, and then with C stopped:
//! every query answers within the 5 s member limit plus a margin, with each member's result or
//! error; granularity is never upgraded (a member that does not get
//! the passport answers as to anyone); members get the network's own passports, with only the
//! Visas each needs, never the caller's; the
//! answers are valid Beacon v2 responses; bad queries are refused before any member is asked,
//! and a network query spends the caller's Beacon budget.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use gemj_core::beacon::network::MemberSettings;
use gemj_e2e::http::{Http, Reply};
use gemj_e2e::{TestGateway, TestResult, broker_trust, jwt_claims, network_trust, visas};
use gemj_schemas::SchemaSet;
use serde_json::{Value, json};

const NET: &str = "/beacon-network/v2";
const RESPONSES: &str = "beacon-v2/v2.2.0/framework/json/responses";

fn valid(set: &SchemaSet, doc: &str, r: &Reply, what: &str) {
    if let Err(errors) = set.validate(&format!("{RESPONSES}/{doc}.json"), "", &r.json) {
        panic!("{what}: not a valid {doc}: {errors:?}\n{:#}", r.json);
    }
}

/// Reads one HTTP request (head and `Content-Length` body) from `stream`, as text.
fn read_request(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let length: usize = head
                .to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return String::from_utf8_lossy(&buf).into_owned();
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The requests (head and body) a [`spy_member`] received.
type Heard = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A loopback server that answers every request with `body` (status 200, JSON), or never
/// answers when `body` is `None`. Runs until the test process ends.
fn fake_member(body: Option<Vec<u8>>) -> std::io::Result<u16> {
    spy_member(body, Heard::default())
}

/// [`fake_member`], keeping every request it answers in `heard`.
fn spy_member(body: Option<Vec<u8>>, heard: Heard) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            match &body {
                None => held.push(stream),
                Some(body) => {
                    let request = read_request(&mut stream);
                    if let Ok(mut h) = heard.lock() {
                        h.push(request);
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body);
                }
            }
        }
    });
    Ok(port)
}

/// A loopback proxy in front of the gateway on `target`: each connection is passed through
/// whole, both ways, once `delay` has passed (a real member made slow; it never answers within
/// a delay longer than the network's limit). Runs until the test process ends.
fn delayed_proxy(target: u16, delay: Duration) -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
                    return;
                };
                let (Ok(mut client_in), Ok(mut upstream_out)) =
                    (client.try_clone(), upstream.try_clone())
                else {
                    return;
                };
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_in, &mut upstream_out);
                    let _ = upstream_out.shutdown(std::net::Shutdown::Write);
                });
                let (mut upstream_in, mut client_out) = (upstream, client);
                let _ = std::io::copy(&mut upstream_in, &mut client_out);
                let _ = client_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    Ok(port)
}

/// A member; one sent passports gets them bound to `urn:gemj:test:<id>` (what its
/// `passport_audience` for the network names), with the caller's researcher status and grants.
fn member(id: &str, url: String, forward_passport: bool) -> MemberSettings {
    MemberSettings {
        id: id.to_owned(),
        name: format!("member {id}"),
        url,
        timeout_ms: None,
        forward_passport,
        passport_visas: if forward_passport {
            vec![
                "ResearcherStatus".to_owned(),
                "ControlledAccessGrants".to_owned(),
            ]
        } else {
            Vec::new()
        },
        audience: forward_passport.then(|| format!("urn:gemj:test:{id}")),
        data_connect_url: None,
        forward_client_address: false,
    }
}

/// Each member's entry of the network's answer, by id.
fn members(r: &Reply) -> std::collections::BTreeMap<String, Value> {
    r.json["info"]["beaconNetwork"]["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| Some((m["id"].as_str()?.to_owned(), m.clone())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_network_query_answers_in_time_with_every_members_result_or_error() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    // B and C serve the cohort A generated (one data folder); A's demo broker is the callers'
    // broker, and B trusts it and A's network issuer by their URLs, as a real member would.
    let [port_a, port_b, port_c] = gemj_e2e::free_ports()?;
    let public = format!("http://127.0.0.1:{port_a}");
    let slow = fake_member(None)?;
    let malformed = fake_member(Some(b"{\"meta\": {\"beaconId\": ".to_vec()))?;
    let huge = fake_member(Some(
        format!("{{\"pad\": \"{}\"}}", "x".repeat(2 * 1024 * 1024)).into_bytes(),
    ))?;
    let down = gemj_e2e::RefusingPort::bind()?;
    let local = |port: u16| format!("http://127.0.0.1:{port}/beacon/v2");
    // B itself made slow: past the 5 s limit, and C made late: within it.
    let slow_b = delayed_proxy(port_b, Duration::from_secs(30))?;
    let late_c = delayed_proxy(port_c, Duration::from_millis(1_500))?;
    let network = vec![
        member("b", local(port_b), true),
        member("c", local(port_c), false),
        member("slow-b", local(slow_b), false),
        member("late-c", local(late_c), false),
        member("slow", local(slow), true),
        member("down", local(down.port), true),
        member("malformed", local(malformed), true),
        member("huge", local(huge), true),
    ];
    let a = TestGateway::start_with(10, |c| {
        c.public_url = public.clone();
        c.listen = format!("127.0.0.1:{port_a}");
        c.beacon.network.members = network;
    })
    .await?;
    let data_dir = a.data_dir().to_path_buf();
    let mut replicas = Vec::new();
    for (port, id) in [(port_b, "b"), (port_c, "c")] {
        let data_dir = data_dir.clone();
        let public = public.clone();
        replicas.push(
            TestGateway::start_with(0, move |c| {
                // Members accept the network's passports (B gets them, C is not sent any).
                c.auth.trusted_issuers.push(network_trust(
                    &public,
                    port_a,
                    &format!("urn:gemj:test:{id}"),
                ));
                c.auth.trusted_issuers.push(broker_trust(&public, port_a));
                c.listen = format!("127.0.0.1:{port}");
                c.data_dir = data_dir;
            })
            .await?,
        );
    }
    let broker = gemj_demo::broker::load(&data_dir, &public)?;
    let now = gemj_auth::now_unix();
    let bob = visas::registered_passport(&broker, "bob", now)?;
    let bob_direct = bob.clone();
    let base_a = format!("http://127.0.0.1:{port_a}");

    // Six requests at once (each waits for the hanging member's 5 s).
    let run = |method: &'static str, path: String, bearer: Option<String>, body: Option<Value>| {
        let http = Http {
            base: base_a.clone(),
        };
        std::thread::spawn(move || {
            let started = Instant::now();
            let reply = match body {
                Some(b) => http.post(&path, bearer.as_deref(), &b),
                None => http.send(method, &path, bearer.as_deref(), None, None),
            };
            (reply, started.elapsed())
        })
    };
    let anonymous = run(
        "GET",
        format!("{NET}/individuals?requestedGranularity=count"),
        None,
        None,
    );
    let with_passport = run(
        "GET",
        format!("{NET}/individuals?requestedGranularity=record"),
        Some(bob.clone()),
        None,
    );
    let posted = run(
        "POST",
        format!("{NET}/individuals"),
        Some(bob.clone()),
        Some(
            json!({"meta": {"apiVersion": "v2.0"}, "query": {"requestedGranularity": "count", "filters": [{"id": "NCIT:C16576"}]}}),
        ),
    );
    let info = run("GET", format!("{NET}/info"), None, None);
    let map = run("GET", format!("{NET}/map"), None, None);
    let bob_again = bob.clone();
    let terms = run("GET", format!("{NET}/filtering_terms"), Some(bob), None);
    let joined = |h: std::thread::JoinHandle<(anyhow::Result<Reply>, Duration)>| {
        let (reply, took) = h.join().map_err(|_| "a client panicked")?;
        Ok::<_, Box<dyn std::error::Error>>((reply?, took))
    };

    let (r, took) = joined(anonymous)?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(
        took < Duration::from_secs(6),
        "the network answered in {took:?} with a hanging member"
    );
    eprintln!(
        "network query with a hanging member answered in {:.0} ms",
        took.as_secs_f64() * 1e3
    );
    valid(&set, "beaconBooleanResponse", &r, "anonymous");
    assert_eq!(r.json["meta"]["returnedGranularity"], "boolean");
    let m = members(&r);
    assert_eq!(m.len(), 8);
    for (id, status) in [
        ("b", "answered"),
        ("c", "answered"),
        ("slow-b", "timeout"),
        ("late-c", "answered"),
        ("slow", "timeout"),
        ("down", "unreachable"),
        ("malformed", "invalid"),
        ("huge", "too_large"),
    ] {
        assert_eq!(m[id]["status"], status, "{id}: {}", m[id]);
    }
    // Anonymous at B and C: booleans, never more.
    assert_eq!(m["b"]["returnedGranularity"], "boolean", "{}", m["b"]);
    assert_eq!(m["b"]["passportSent"], false);
    assert!(m["b"].get("numTotalResults").is_none());
    assert_eq!(r.json["info"]["beaconNetwork"]["membersAnswered"], 3);

    // A registered researcher: B (which gets the passport) answers a count, C (which does
    // not) a boolean, so the network answers a boolean; record is never asked for.
    let (r, _) = joined(with_passport)?;
    assert_eq!(r.status, 200, "{}", r.json);
    valid(&set, "beaconBooleanResponse", &r, "with a passport");
    let m = members(&r);
    assert_eq!(m["b"]["passportSent"], true);
    assert_eq!(m["b"]["returnedGranularity"], "count", "{}", m["b"]);
    // Never more than B answers bob directly: the same granularity and count.
    let direct = Http {
        base: format!("http://127.0.0.1:{port_b}"),
    }
    .get(
        "/beacon/v2/individuals?requestedGranularity=count",
        Some(&bob_direct),
    )?;
    assert_eq!(direct.status, 200, "{}", direct.json);
    valid(&set, "beaconCountResponse", &direct, "B directly");
    assert_eq!(direct.json["meta"]["returnedGranularity"], "count");
    assert_eq!(
        m["b"]["numTotalResults"], direct.json["responseSummary"]["numTotalResults"],
        "B through the network, against B to bob directly: {}",
        m["b"]
    );
    assert_eq!(m["c"]["passportSent"], false);
    assert_eq!(m["c"]["returnedGranularity"], "boolean", "{}", m["c"]);
    assert_eq!(r.json["meta"]["returnedGranularity"], "boolean");
    assert_eq!(
        r.json["meta"]["receivedRequestSummary"]["requestedGranularity"],
        "record"
    );

    // The same by POST, with a filter, answered the same way.
    let (r, _) = joined(posted)?;
    assert_eq!(r.status, 200, "{}", r.json);
    valid(&set, "beaconBooleanResponse", &r, "POST");
    assert_eq!(members(&r)["b"]["status"], "answered");

    // /info names the network and each member; /filtering_terms merges the members' terms.
    let (r, _) = joined(info)?;
    assert_eq!(r.status, 200, "{}", r.json);
    valid(&set, "beaconInfoResponse", &r, "/info");
    assert!(
        r.json["response"]["id"]
            .as_str()
            .is_some_and(|id| id.ends_with(".network"))
    );
    let listed = r.json["response"]["info"]["beaconNetwork"]["members"]
        .as_array()
        .ok_or("members in /info")?;
    assert_eq!(listed.len(), 8);
    assert_eq!(listed[0]["status"], "answered");
    assert_eq!(listed[0]["memberBeaconId"], "jp.gemj.beacon");
    // /map: the network's own collection queries, for the entry types its members list.
    let (r, _) = joined(map)?;
    assert_eq!(r.status, 200, "{}", r.json);
    valid(&set, "beaconMapResponse", &r, "/map");
    let sets = r.json["response"]["endpointSets"]
        .as_object()
        .ok_or("endpointSets")?;
    let types: std::collections::BTreeSet<&str> = sets
        .values()
        .filter_map(|s| s["entryType"].as_str())
        .collect();
    assert!(
        types.contains("individual") && !types.contains("dataset"),
        "{types:?}"
    );
    for s in sets.values() {
        assert!(
            s["rootUrl"].as_str().is_some_and(|u| u.contains(NET)),
            "{s}"
        );
        assert!(
            s.get("singleEntryUrl").is_none() && s.get("endpoints").is_none(),
            "{s}"
        );
    }
    let (r, _) = joined(terms)?;
    assert_eq!(r.status, 200, "{}", r.json);
    valid(&set, "beaconFilteringTermsResponse", &r, "/filtering_terms");
    let term_ids: Vec<&str> = r.json["response"]["filteringTerms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_str())
        .collect();
    let unique: std::collections::BTreeSet<&str> = term_ids.iter().copied().collect();
    assert_eq!(unique.len(), term_ids.len(), "each term once");
    // Exactly the union of what B says to bob and C to anyone.
    let terms_of = |port: u16, bearer: Option<&str>| -> anyhow::Result<Vec<String>> {
        let r = Http {
            base: format!("http://127.0.0.1:{port}"),
        }
        .get("/beacon/v2/filtering_terms", bearer)?;
        Ok(r.json["response"]["filteringTerms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["id"].as_str().map(str::to_owned))
            .collect())
    };
    let mut union: std::collections::BTreeSet<String> =
        terms_of(port_b, Some(&bob_again))?.into_iter().collect();
    union.extend(terms_of(port_c, None)?);
    assert!(!union.is_empty());
    assert_eq!(
        unique,
        union.iter().map(String::as_str).collect(),
        "the network's terms are the members' union"
    );

    // A bad query is refused at once, in Beacon's format, before any member is asked.
    let http = Http {
        base: base_a.clone(),
    };
    let started = Instant::now();
    let r = http.get(
        &format!("{NET}/individuals?start=abc&referenceName=1"),
        None,
    )?;
    assert_eq!(r.status, 400, "{}", r.json);
    valid(&set, "beaconErrorResponse", &r, "bad query");
    assert!(started.elapsed() < Duration::from_secs(2));
    let r = http.get(&format!("{NET}/datasets"), None)?;
    assert_eq!(r.status, 404, "{}", r.json);
    valid(&set, "beaconErrorResponse", &r, "collections");
    // A gateway with no members has no network.
    let r = Http {
        base: format!("http://127.0.0.1:{port_b}"),
    }
    .get(&format!("{NET}/individuals"), None)?;
    assert_eq!(r.status, 404, "{}", r.json);
    valid(&set, "beaconErrorResponse", &r, "no network");
    // C fails (its gateway stopped): the network answers with B alone, C named as unreachable.
    let c = replicas.pop().ok_or("C")?;
    c.stop().await;
    let started = Instant::now();
    let r = http.get(&format!("{NET}/individuals"), None)?;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.json);
    valid(&set, "beaconBooleanResponse", &r, "C stopped");
    let m = members(&r);
    assert_eq!(m["b"]["status"], "answered", "{}", m["b"]);
    assert_eq!(m["c"]["status"], "unreachable", "{}", m["c"]);
    assert!(
        took < Duration::from_secs(6),
        "answered in {took:?} with C stopped"
    );
    // A network query spends the caller's Beacon budget at the network: D (its own store, one
    // query per address and window) answers the first and refuses the second at once.
    let d = TestGateway::start_with(0, |c| {
        c.beacon.budgets.per_ip = 1;
        c.beacon.network.members = vec![member("b", local(port_b), false)];
    })
    .await?;
    let http_d = Http {
        base: d.base_url.clone(),
    };
    let first = http_d.get(&format!("{NET}/individuals"), None)?;
    assert_eq!(first.status, 200, "{}", first.json);
    let started = Instant::now();
    let second = http_d.get(&format!("{NET}/individuals"), None)?;
    assert_eq!(second.status, 429, "{}", second.json);
    valid(&set, "beaconErrorResponse", &second, "over budget");
    assert!(second.header("retry-after").is_some());
    assert!(started.elapsed() < Duration::from_secs(2));
    // The network's documents ask every member too, so they spend the same budget: a caller
    // cannot make the network fan out for free.
    for doc in ["info", "map", "filtering_terms"] {
        let r = http_d.get(&format!("{NET}/{doc}"), None)?;
        assert_eq!(r.status, 429, "{doc}: {}", r.json);
        valid(&set, "beaconErrorResponse", &r, doc);
    }
    drop(replicas);
    Ok(())
}

/// A member never gets the caller's passport: one that needs the caller's researcher status
/// gets the network's passport (its own issuer, a subject of its own) with a link Visa and that
/// one Visa, not the caller's dataset grant; one that needs a Visa the caller lacks gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_get_only_the_visas_they_need() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let heard = Heard::default();
    let spy = spy_member(Some(br#"{"meta": {"returnedGranularity": "count"}, "responseSummary": {"exists": true, "numTotalResults": 7}}"#.to_vec()), heard.clone())?;
    let picky_heard = Heard::default();
    let picky = spy_member(Some(br#"{"meta": {"returnedGranularity": "count"}, "responseSummary": {"exists": true, "numTotalResults": 7}}"#.to_vec()), picky_heard.clone())?;
    let local = |port: u16| format!("http://127.0.0.1:{port}/beacon/v2");
    // E is a network and one of its own members' kind: it takes the network's passports, bound
    // to its own audience.
    let [port_e] = gemj_e2e::free_ports()?;
    let public_e = format!("http://127.0.0.1:{port_e}");
    let e = TestGateway::start_with(0, |c| {
        c.listen = format!("127.0.0.1:{port_e}");
        c.public_url = public_e.clone();
        c.auth
            .trusted_issuers
            .push(network_trust(&public_e, port_e, "urn:gemj:test:e"));
        c.beacon.network.members = vec![
            MemberSettings {
                passport_visas: vec!["ResearcherStatus".to_owned()],
                ..member("spy", local(spy), true)
            },
            MemberSettings {
                passport_visas: vec!["https://no.such.example/dataset".to_owned()],
                ..member("picky", local(picky), true)
            },
        ];
    })
    .await?;
    let broker = gemj_demo::broker::load(e.data_dir(), &e.base_url)?;
    let now = gemj_auth::now_unix();
    let status = visas::researcher_status(&broker, "so", now);
    let grant = visas::visa(
        &broker,
        gemj_passport::VisaType::ControlledAccessGrants,
        &format!("{}{}", gemj_e2e::names::PREFIX, gemj_e2e::names::CANCER),
        "dac",
        now,
    );
    let carol = broker.issue_passport("carol", &[status, grant], Duration::from_secs(600), now)?;
    let http = Http {
        base: e.base_url.clone(),
    };
    let r = http.get(&format!("{NET}/individuals"), Some(&carol))?;
    assert_eq!(r.status, 200, "{}", r.json);
    let m = members(&r);
    assert_eq!(m["spy"]["passportSent"], true, "{}", m["spy"]);
    assert_eq!(m["picky"]["passportSent"], false, "{}", m["picky"]);
    let bearers = |heard: &Heard| -> Result<Vec<String>, &'static str> {
        Ok(heard
            .lock()
            .map_err(|_| "lock")?
            .iter()
            .filter_map(|h| {
                h.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    (name.eq_ignore_ascii_case("authorization"))
                        .then(|| value.trim().strip_prefix("Bearer ").map(str::to_owned))?
                })
            })
            .collect())
    };
    let bearer = bearers(&heard)?.pop().ok_or("the spy got a bearer")?;
    assert_ne!(bearer, carol, "never the caller's own passport");
    let sent = jwt_claims(&bearer)?;
    assert_eq!(sent["iss"], format!("{}/beacon-network", e.base_url));
    assert_eq!(
        sent["aud"], "urn:gemj:test:spy",
        "bound to the member: {sent}"
    );
    // A member that wanted it can replay it nowhere else, not even at the network's own
    // Beacon, which trusts the network's passports bound to it alone.
    let r = http.get("/beacon/v2/individuals", Some(&bearer))?;
    assert_eq!(r.status, 401, "replayed at another member: {}", r.json);
    assert!(
        sent["sub"].as_str().is_some_and(|s| s.starts_with("net-")),
        "{sent}"
    );
    let visas: Vec<Value> = sent["ga4gh_passport_v1"]
        .as_array()
        .ok_or("visas")?
        .iter()
        .map(|v| jwt_claims(v.as_str().unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    let types: Vec<&str> = visas
        .iter()
        .filter_map(|v| v["ga4gh_visa_v1"]["type"].as_str())
        .collect();
    assert_eq!(types, ["LinkedIdentities", "ResearcherStatus"], "{sent}");
    assert_eq!(visas[0]["iss"], sent["iss"]);
    assert_eq!(
        visas[1]["sub"], "carol",
        "the researcher status as its issuer signed it"
    );
    assert!(
        picky_heard
            .lock()
            .map_err(|_| "lock")?
            .iter()
            .all(|h| !h.to_ascii_lowercase().contains("authorization:")),
        "the member that needs a Visa carol lacks gets no passport"
    );
    // The same passport sent in a POST body (as Beacon v2 clients may send it) is the same
    // caller: the member gets the same cut passport, and the body's passports are not forwarded.
    let r = http.post(
        &format!("{NET}/individuals"),
        None,
        &json!({"meta": {"apiVersion": "v2.0"}, "passports": [carol],
                "query": {"requestedGranularity": "count"}}),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    let m = members(&r);
    assert_eq!(m["spy"]["passportSent"], true, "{}", m["spy"]);
    assert_eq!(m["picky"]["passportSent"], false, "{}", m["picky"]);
    let from_body = bearers(&heard)?;
    assert_eq!(from_body.len(), 2, "one passport per query");
    let sent_again = jwt_claims(&from_body[1])?;
    assert_eq!(sent_again["iss"], sent["iss"]);
    assert_eq!(
        sent_again["ga4gh_passport_v1"].as_array().map(Vec::len),
        Some(2)
    );
    let last = heard
        .lock()
        .map_err(|_| "lock")?
        .last()
        .cloned()
        .unwrap_or_default();
    assert!(last.starts_with("POST "), "{last}");
    assert!(
        !last.contains(&carol) && !last.contains("\"passports\""),
        "the caller's passport never reaches a member: {last}"
    );
    // Counts from every member that answered make a count: a valid Beacon count response,
    // each member's count listed, the total within what they said.
    let r = http.get(
        &format!("{NET}/individuals?requestedGranularity=count"),
        Some(&carol),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["meta"]["returnedGranularity"], "count", "{}", r.json);
    valid(&set, "beaconCountResponse", &r, "the network's count");
    // The spy's 7, as the network reports it: through its rounding (to 5 by default).
    let m = members(&r);
    assert_eq!(m["spy"]["numTotalResults"], 5, "{}", m["spy"]);
    assert_eq!(m["spy"]["countAdjustedTo"], json!([5]), "{}", m["spy"]);
    assert!(
        r.json["responseSummary"]["numTotalResults"]
            .as_u64()
            .is_some_and(|n| n > 0 && n <= 14),
        "{}",
        r.json
    );
    // The network publishes the key its members verify with.
    let r = http.get("/beacon-network/.well-known/jwks.json", None)?;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["keys"][0]["kty"], "EC");
    e.stop().await;

    // A network whose own datasets include one that answers booleans at most asks its members
    // for booleans and answers one: asking through the network loosens no dataset's rule.
    let boolean_heard = Heard::default();
    let counting = spy_member(Some(br#"{"meta": {"returnedGranularity": "count"}, "responseSummary": {"exists": true, "numTotalResults": 70}}"#.to_vec()), boolean_heard.clone())?;
    let f = TestGateway::start_with(0, |c| {
        c.beacon.datasets.insert(
            gemj_e2e::names::CANCER.to_owned(),
            gemj_core::beacon::privacy::DatasetPrivacy {
                max_granularity: gemj_beacon::Granularity::Boolean,
                ..c.beacon.privacy
            },
        );
        c.beacon.network.members = vec![member("counting", local(counting), false)];
    })
    .await?;
    let r = Http {
        base: f.base_url.clone(),
    }
    .get(
        &format!("{NET}/individuals?requestedGranularity=count"),
        None,
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["meta"]["returnedGranularity"], "boolean",
        "{}",
        r.json
    );
    assert_eq!(r.json["responseSummary"]["exists"], true, "{}", r.json);
    assert!(
        r.json["responseSummary"].get("numTotalResults").is_none(),
        "{}",
        r.json
    );
    let asked = boolean_heard
        .lock()
        .map_err(|_| "lock")?
        .last()
        .cloned()
        .unwrap_or_default();
    assert!(asked.contains("requestedGranularity=boolean"), "{asked}");
    f.stop().await;
    Ok(())
}

/// A member told the caller's address (`forward_client_address`) that trusts the network as a
/// proxy (`server.trusted_proxies`) budgets each anonymous caller of the network by its own
/// address, not all of them as the network's one address; a member not told it hears no
/// address at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_told_the_callers_address_budgets_each_caller() -> TestResult {
    let [port_b] = gemj_e2e::free_ports()?;
    let local = |port: u16| format!("http://127.0.0.1:{port}/beacon/v2");
    let (told, untold) = (Heard::default(), Heard::default());
    // The spies answer "no" as a boolean beacon, so the network answers whatever B says.
    let no =
        br#"{"meta": {"returnedGranularity": "boolean"}, "responseSummary": {"exists": false}}"#;
    let spy_told = spy_member(Some(no.to_vec()), told.clone())?;
    let spy_untold = spy_member(Some(no.to_vec()), untold.clone())?;
    let network = TestGateway::start_with(4, |c| {
        // The network itself sits behind a proxy on loopback, which names each client.
        c.server.trusted_proxies = vec!["127.0.0.1".to_owned()];
        c.beacon.network.members = vec![
            MemberSettings {
                forward_client_address: true,
                ..member("b", local(port_b), false)
            },
            MemberSettings {
                forward_client_address: true,
                ..member("told", local(spy_told), false)
            },
            member("untold", local(spy_untold), false),
        ];
    })
    .await?;
    // B has a store of its own: budgets are shared by every instance on one store, so on the
    // network's store the network's own count of an address would spend B's.
    let _b = TestGateway::start_with(4, move |c| {
        c.listen = format!("127.0.0.1:{port_b}");
        c.server.trusted_proxies = vec!["127.0.0.1".to_owned()];
        c.beacon.budgets.per_ip = 1;
    })
    .await?;
    let http = Http {
        base: network.base_url.clone(),
    };
    let from = |client: &str| {
        http.send_with(
            "GET",
            &format!("{NET}/individuals"),
            &[("X-Forwarded-For", client.to_owned())],
            None,
        )
    };
    let b_of = |r: &Reply| members(r)["b"].clone();
    let first = from("203.0.113.90")?;
    assert_eq!(first.status, 200, "{}", first.json);
    assert_eq!(b_of(&first)["status"], "answered", "{}", first.json);
    // B counted 203.0.113.90, whose one query there is spent ...
    let again = from("203.0.113.90")?;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(b_of(&again)["status"], "error", "{}", again.json);
    assert_eq!(b_of(&again)["httpStatus"], 429, "{}", again.json);
    // ... while another caller of the same network still has its own.
    let other = from("203.0.113.91")?;
    assert_eq!(b_of(&other)["status"], "answered", "{}", other.json);
    let heard = |h: &Heard| {
        h.lock()
            .map(|h| h.join("\n"))
            .unwrap_or_default()
            .to_lowercase()
    };
    let told = heard(&told);
    assert!(told.contains("x-forwarded-for: 203.0.113.90"), "{told}");
    assert!(told.contains("forwarded: for=203.0.113.91"), "{told}");
    let untold = heard(&untold);
    assert!(!untold.is_empty(), "the other member was asked");
    assert!(!untold.contains("203.0.113."), "{untold}");
    assert!(!untold.contains("forwarded"), "{untold}");
    Ok(())
}

/// A program CA (`name`) and a server certificate it signed for 127.0.0.1 and localhost: the
/// CA's certificate, the server's and the server's private key, in PEM.
fn tls_authority(name: &str) -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca_cert = ca.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, format!("{name}: gateway"));
    let cert = leaf.signed_by(&key, &Issuer::from_params(&ca, &ca_key))?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

/// Members over HTTPS: gateways serving TLS themselves (`server.tls`) with certificates of the
/// program's CA, which the network trusts (`beacon.network.ca_file`), answer; a gateway whose
/// certificate another CA signed (an impostor on the member's address) is never answered from,
/// and a network that does not trust the program CA answers from none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_over_https_answer_only_with_a_certificate_the_network_trusts() -> TestResult {
    let set = gemj_schemas::testing::schemas();
    let dir = tempfile::tempdir()?;
    let write = |name: &str, pem: &str| -> std::io::Result<std::path::PathBuf> {
        let path = dir.path().join(name);
        std::fs::write(&path, pem)?;
        Ok(path)
    };
    let (ca, cert, key) = tls_authority("GeMJ test program CA")?;
    let (_, rogue_cert, rogue_key) = tls_authority("impostor CA")?;
    let ca = write("ca.pem", &ca)?;
    let tls = gemj_server::config::TlsConfig {
        certificate: write("member.pem", &cert)?,
        private_key: write("member.key", &key)?,
    };
    let rogue_tls = gemj_server::config::TlsConfig {
        certificate: write("rogue.pem", &rogue_cert)?,
        private_key: write("rogue.key", &rogue_key)?,
    };
    let mut gateways = Vec::new();
    for tls in [&tls, &tls, &rogue_tls] {
        let tls = tls.clone();
        gateways.push(TestGateway::start_with(4, move |c| c.server.tls = tls).await?);
    }
    // Their own base URLs: `https://127.0.0.1:<port>`, their listeners' scheme.
    let beacon = |g: &TestGateway| format!("{}/beacon/v2", g.base_url);
    assert!(gateways.iter().all(|g| g.base_url.starts_with("https://")));
    let network = vec![
        member("b", beacon(&gateways[0]), false),
        member("c", beacon(&gateways[1]), false),
        member("rogue", beacon(&gateways[2]), false),
        // Plain HTTP to a TLS port: no answer either.
        member(
            "plain",
            beacon(&gateways[0]).replacen("https://", "http://", 1),
            false,
        ),
    ];
    let a = TestGateway::start_with(0, |c| {
        c.beacon.network.members = network.clone();
        c.beacon.network.ca_file = ca.clone();
    })
    .await?;
    let r = Http {
        base: a.base_url.clone(),
    }
    .get(&format!("{NET}/individuals"), None)?;
    assert_eq!(r.status, 200, "{}", r.json);
    valid(&set, "beaconBooleanResponse", &r, "over HTTPS");
    let m = members(&r);
    for (id, status) in [
        ("b", "answered"),
        ("c", "answered"),
        ("rogue", "unreachable"),
        ("plain", "unreachable"),
    ] {
        assert_eq!(m[id]["status"], status, "{id}: {}", m[id]);
    }
    assert_eq!(r.json["info"]["beaconNetwork"]["membersAnswered"], 2);
    assert_eq!(m["b"]["returnedGranularity"], "boolean", "{}", m["b"]);
    a.stop().await;
    // Without the program CA, the same members are not trusted (only the system's roots are).
    let untrusting = TestGateway::start_with(0, |c| {
        c.beacon.network.members = network;
    })
    .await?;
    let r = Http {
        base: untrusting.base_url.clone(),
    }
    .get(&format!("{NET}/individuals"), None)?;
    assert_eq!(r.status, 503, "no member answering: {}", r.json);
    valid(&set, "beaconErrorResponse", &r, "no member trusted");
    untrusting.stop().await;
    for g in gateways {
        g.stop().await;
    }
    Ok(())
}
