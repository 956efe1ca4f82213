//! The checker against tiny local servers (std `TcpListener` on port 0, canned answers): a
//! conforming one passes every check, a non-conforming one fails the checks it should, and the
//! binary's output and exit codes follow its contract.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;

use gemj_conformance::{Report, Suite};
use gemj_schemas::SchemaSet;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn Error>>;

/// What a route answers: status, content type, body.
type Answer = (u16, &'static str, String);

/// A server answering from `routes(base, path)` until the test process ends.
struct Server {
    base: String,
}

impl Server {
    fn start(routes: fn(&str, &str) -> Answer) -> Result<Self, Box<dyn Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let server_base = base.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let base = server_base.clone();
                thread::spawn(move || {
                    let _ = answer(stream, &base, routes);
                });
            }
        });
        Ok(Self { base })
    }
}

fn answer(stream: TcpStream, base: &str, routes: fn(&str, &str) -> Answer) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, content_type, body) = routes(base, path);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn service(id: &str, artifact: &str) -> Value {
    json!({
        "id": id,
        "name": format!("Test {artifact}"),
        "type": {"group": "org.ga4gh", "artifact": artifact, "version": "1.0.0"},
        "organization": {"name": "Example Genome Centre", "url": "https://genome.example.org"},
        "createdAt": "2025-04-01T09:00:00Z",
        "environment": "test",
        "version": "0.1.0"
    })
}

fn with_url(mut service: Value, url: String) -> Value {
    if let Some(object) = service.as_object_mut() {
        object.insert("url".to_owned(), Value::String(url));
    }
    service
}

fn conforming(base: &str, path: &str) -> Answer {
    let json = "application/json";
    match path {
        "/service-info" => (
            200,
            json,
            service("org.example.gateway", "service-registry").to_string(),
        ),
        "/services" => (
            200,
            "application/json; charset=utf-8",
            json!([
                with_url(
                    service("org.example.gateway", "service-registry"),
                    base.to_owned()
                ),
                with_url(
                    service("org.example.gateway.drs", "drs"),
                    format!("{base}/ga4gh/drs/v1/")
                ),
                with_url(
                    service("org.example.gateway.htsget", "htsget"),
                    format!("{base}/reads/service-info")
                ),
            ])
            .to_string(),
        ),
        "/ga4gh/drs/v1/service-info" => (
            200,
            json,
            service("org.example.gateway.drs", "drs").to_string(),
        ),
        "/reads/service-info" => (
            200,
            json,
            service("org.example.gateway.htsget", "htsget").to_string(),
        ),
        other => (
            404,
            json,
            json!({"status": 404, "title": "Not Found", "detail": format!("No route for {other}")})
                .to_string(),
        ),
    }
}

fn non_conforming(base: &str, path: &str) -> Answer {
    match path {
        "/service-info" => {
            let mut body = service("org.example.bad", "service-registry");
            if let Some(object) = body.as_object_mut() {
                object.remove("organization");
            }
            body["type"]["group"] = json!("GA4GH!");
            (200, "text/plain", body.to_string())
        }
        "/services" => (
            200,
            "application/json",
            json!([
                with_url(service("org.example.drs", "drs"), format!("{base}/drs")),
                with_url(service("org.example.gone", "beacon"), format!("{base}/gone")),
                {"id": "org.example.no-url", "name": "x"}
            ])
            .to_string(),
        ),
        "/drs/service-info" => (
            200,
            "application/json",
            service("org.example.drs", "htsget").to_string(),
        ),
        _ => (
            404,
            "text/html",
            "<html><body>Not Found</body></html>".to_owned(),
        ),
    }
}

/// The official schemas shipped with the project.
fn schemas() -> SchemaSet {
    gemj_schemas::testing::schemas()
}

fn verdicts(report: &Report) -> Vec<(String, bool)> {
    report
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.passed))
        .collect()
}

#[test]
fn a_conforming_server_passes_every_check() -> TestResult {
    let schemas = schemas();
    let server = Server::start(conforming)?;
    let report = gemj_conformance::run(
        &format!("{}/", server.base),
        &schemas,
        &[Suite::ServiceInfo],
    );
    assert_eq!(report.failed(), 0, "{}", report.render_text());
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "service-info-status",
            "service-info-content-type",
            "service-info-schema",
            "service-info-type-group",
            "services-status",
            "services-content-type",
            "services-schema",
            "listed-service:org.example.gateway",
            "listed-service:org.example.gateway.drs",
            "listed-service:org.example.gateway.htsget",
            "unknown-path-status",
            "unknown-path-json",
            "unknown-path-body",
        ]
    );
    assert!(report.checks.iter().all(|c| c.suite == Suite::ServiceInfo));
    Ok(())
}

#[test]
fn a_non_conforming_server_fails_what_it_should() -> TestResult {
    let schemas = schemas();
    let server = Server::start(non_conforming)?;
    let report = gemj_conformance::run(&server.base, &schemas, &[Suite::ServiceInfo]);
    let expect = [
        ("service-info-status", true),
        ("service-info-content-type", false),
        ("service-info-schema", false),
        ("service-info-type-group", false),
        ("services-status", true),
        ("services-content-type", true),
        ("services-schema", false),
        ("listed-service:org.example.drs", false),
        ("listed-service:org.example.gone", false),
        ("listed-service:org.example.no-url", false),
        ("unknown-path-status", true),
        ("unknown-path-json", false),
        ("unknown-path-body", false),
    ];
    let expect: Vec<(String, bool)> = expect.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect();
    assert_eq!(verdicts(&report), expect, "{}", report.render_text());
    let detail = |name: &str| {
        report
            .get(Suite::ServiceInfo, name)
            .map(|c| c.detail.clone())
            .unwrap_or_default()
    };
    let check = |name: &str, fragment: &str| {
        let detail = detail(name);
        assert!(
            detail.contains(fragment),
            "{name}: {detail:?} lacks {fragment:?}"
        );
    };
    check("service-info-content-type", "text/plain");
    check(
        "service-info-schema",
        "\"organization\" is a required property",
    );
    check("service-info-type-group", "\"GA4GH!\"");
    check("services-schema", "\"url\" is a required property");
    check(
        "listed-service:org.example.drs",
        "type.artifact Some(\"htsget\"), listed as \"drs\"",
    );
    check("listed-service:org.example.gone", "answered 404");
    check("listed-service:org.example.no-url", "no url");
    check("unknown-path-json", "text/html");
    check("unknown-path-body", "not JSON");
    assert_eq!(report.passed(), 4);
    assert_eq!(report.failed(), 9);
    Ok(())
}

#[test]
fn an_unreachable_server_fails_every_check_without_panicking() -> TestResult {
    let schemas = schemas();
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    for base in [format!("http://127.0.0.1:{port}"), "not a url".to_owned()] {
        let report = gemj_conformance::run(&base, &schemas, Suite::ALL);
        assert_eq!(report.passed(), 0, "{}", report.render_text());
        assert!(report.failed() >= 10, "{}", report.render_text());
    }
    Ok(())
}

fn binary(args: &[&str]) -> Result<(i32, String, String), Box<dyn Error>> {
    let output = Command::new(env!("CARGO_BIN_EXE_gemj-conformance"))
        .args(args)
        .output()?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout)?,
        String::from_utf8(output.stderr)?,
    ))
}

#[test]
fn the_binary_reports_and_exits_as_documented() -> TestResult {
    let shipped = gemj_schemas::testing::workspace_dir()
        .join("schemas/official")
        .to_string_lossy()
        .into_owned();
    // A folder that exists but holds no schemas: the preflight refuses it.
    let not_schemas = gemj_schemas::testing::examples_dir()
        .to_string_lossy()
        .into_owned();
    let good = Server::start(conforming)?;
    let bad = Server::start(non_conforming)?;

    // This fake server speaks service-info only (the Beacon suite runs against the real
    // gateway in the end-to-end tests).
    let (code, out, _) = binary(&[
        "--base-url",
        &good.base,
        "--schemas",
        &shipped,
        "--suite",
        "service-info",
    ])?;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().last(), Some("13 passed, 0 failed"));
    assert!(
        out.lines()
            .all(|l| l.starts_with("PASS service-info/") || l == "13 passed, 0 failed"),
        "{out}"
    );

    // Without --schemas: the schemas compiled into the binary.
    let (code, out, _) = binary(&["--base-url", &bad.base, "--suite", "service-info"])?;
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.lines().last(), Some("4 passed, 9 failed"));
    assert!(
        out.contains("FAIL service-info/unknown-path-json: "),
        "{out}"
    );

    let (code, out, _) = binary(&["--base-url", &bad.base, "--json", "--suite", "service-info"])?;
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&out)?;
    assert_eq!(report["passed"], 4);
    assert_eq!(report["failed"], 9);
    assert_eq!(report["base_url"], bad.base.as_str());
    assert_eq!(report["checks"][1]["suite"], "service-info");
    assert_eq!(report["checks"][1]["name"], "service-info-content-type");
    assert_eq!(report["checks"][1]["passed"], false);

    for args in [
        vec!["--base-url", "ftp://example.org", "--schemas", &shipped],
        vec!["--base-url", "example.org"],
        vec![
            "--base-url",
            &good.base,
            "--schemas",
            "/nonexistent/gemj-schemas",
        ],
        vec!["--base-url", &good.base, "--schemas", &not_schemas],
        vec!["--base-url", &good.base, "--suite", "no-such-suite"],
        vec!["--schemas", &shipped],
    ] {
        let (code, out, err) = binary(&args)?;
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(!err.is_empty(), "{args:?}");
    }
    Ok(())
}
