//! The `gemj-gateway` binary as a user runs it: exit codes, one-line errors, the default
//! configuration, the demo command, graceful shutdown on SIGTERM, and `audit verify`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_gemj-gateway");

fn gateway(args: &[&str], env: &[(&str, &str)]) -> Result<Output, std::io::Error> {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("GEMJ_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
}

/// A user error: exit code 2 and exactly one line on stderr.
fn assert_usage_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected, got: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn print_default_config_matches_the_documented_one() -> TestResult {
    let out = gateway(&["print-default-config"], &[])?;
    assert!(out.status.success());
    let documented = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/default-config.toml"),
    )?;
    assert_eq!(
        String::from_utf8(out.stdout)?,
        documented,
        "docs/default-config.toml is stale: regenerate it with `gemj-gateway print-default-config`"
    );
    Ok(())
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "listen = \"127.0.0.1:0\"\nno_such_key = 1\n")?;
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "listen = [\n")?;
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, "x")?;
    let under_file = a_file.join("data").to_string_lossy().into_owned();

    let unknown_s = unknown.to_string_lossy().into_owned();
    assert_usage_error(
        &gateway(
            &["--config", &unknown_s, "--data-dir", &data_s, "migrate"],
            &[],
        )?,
        "no_such_key",
    );
    let broken_s = broken.to_string_lossy().into_owned();
    assert_usage_error(
        &gateway(
            &["--config", &broken_s, "--data-dir", &data_s, "migrate"],
            &[],
        )?,
        "invalid configuration",
    );
    assert_usage_error(
        &gateway(
            &[
                "--config",
                "/no/such/file.toml",
                "--data-dir",
                &data_s,
                "migrate",
            ],
            &[],
        )?,
        "cannot read config file",
    );
    assert_usage_error(
        &gateway(
            &["--data-dir", &data_s, "migrate"],
            &[("GEMJ_DATABSE__URL", "x")],
        )?,
        "databse",
    );
    assert_usage_error(
        &gateway(
            &["--data-dir", &data_s, "migrate"],
            &[("GEMJ_DATABASE__URL", "mysql://localhost/x")],
        )?,
        "database.url",
    );
    assert_usage_error(
        &gateway(&["--data-dir", &under_file, "migrate"], &[])?,
        "data folder",
    );
    assert_usage_error(
        &gateway(&["--data-dir", &under_file, "serve"], &[])?,
        "data folder",
    );
    assert_usage_error(
        &gateway(
            &["--listen", "not-an-address", "--data-dir", &data_s, "serve"],
            &[],
        )?,
        "listen",
    );
    assert_usage_error(
        &gateway(
            &["--data-dir", &data_s, "serve"],
            &[("GEMJ_SERVER__WORKER_NICE", "20")],
        )?,
        "server.worker_nice",
    );
    // Nothing was written by the refused runs.
    assert!(!data.exists(), "a refused run created the data folder");
    // An unreachable database is refused with one line too.
    assert_usage_error(
        &gateway(
            &["--data-dir", &data_s, "migrate"],
            &[("GEMJ_DATABASE__URL", "postgres://nobody@127.0.0.1:1/none")],
        )?,
        "store",
    );
    Ok(())
}

struct Server {
    child: std::process::Child,
    base_url: String,
}

fn start_server(data_dir: &str, extra: &[&str]) -> Result<Server, Box<dyn std::error::Error>> {
    start_server_with(data_dir, extra, &[])
}

fn start_server_with(
    data_dir: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Result<Server, Box<dyn std::error::Error>> {
    let mut args = vec!["--listen", "127.0.0.1:0", "--data-dir", data_dir, "serve"];
    args.extend_from_slice(extra);
    let mut child = Command::new(BIN)
        .args(&args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut base_url = None;
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.split(" listening at ").nth(1) {
            base_url = Some(rest.trim().to_owned());
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        base_url: base_url.ok_or("the server printed no base URL")?,
    })
}

fn wait_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> Result<std::process::ExitStatus, Box<dyn std::error::Error>> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            return Err("the server did not stop in time".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A thread's name and nice value from its `stat` (`/proc/…/stat`), read past the name, which
/// may hold spaces and parentheses.
fn name_and_nice(stat: &str) -> Result<(String, i32), Box<dyn std::error::Error>> {
    let (head, rest) = stat.rsplit_once(')').ok_or("no ')' in a thread's stat")?;
    let name = head.split_once('(').ok_or("no '(' in a thread's stat")?.1;
    // After the name: state (field 3) … nice (field 19).
    let nice = rest.split_whitespace().nth(16).ok_or("a short stat")?;
    Ok((name.to_owned(), nice.parse()?))
}

/// The threads of process `pid`: each one's name and nice value.
fn threads_nice(pid: u32) -> Result<Vec<(String, i32)>, Box<dyn std::error::Error>> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        threads.push(name_and_nice(&std::fs::read_to_string(
            task?.path().join("stat"),
        )?)?);
    }
    Ok(threads)
}

#[test]
fn the_http_workers_run_below_the_rest_of_the_gateway() -> TestResult {
    // The binary inherits this thread's priority.
    let own = name_and_nice(&std::fs::read_to_string("/proc/thread-self/stat")?)?.1;
    for (setting, increment) in [(None, 10), (Some("3"), 3), (Some("0"), 0)] {
        let dir = tempfile::tempdir()?;
        let data_s = dir.path().join("data").to_string_lossy().into_owned();
        let env: Vec<(&str, &str)> = setting
            .map(|n| ("GEMJ_SERVER__WORKER_NICE", n))
            .into_iter()
            .collect();
        let mut server = start_server_with(&data_s, &[], &env)?;
        let res = ureq::get(&format!("{}/service-info", server.base_url)).call()?;
        assert_eq!(res.status(), 200);
        let threads = threads_nice(server.child.id())?;
        let _ = server.child.kill();
        let _ = server.child.wait();
        let workers: Vec<i32> = threads
            .iter()
            .filter(|(name, _)| name.starts_with("actix-server wo"))
            .map(|(_, nice)| *nice)
            .collect();
        assert!(!workers.is_empty(), "no HTTP worker among {threads:?}");
        let expected = (own + increment).min(19);
        assert!(
            workers.iter().all(|n| *n == expected),
            "setting {setting:?}: workers at {workers:?}, expected {expected}"
        );
        // The rest keeps the gateway's own priority: the main thread, the runtime that writes
        // PostgreSQL's audit, the acceptor.
        for kept in ["gemj-gateway", "tokio-rt-worker", "actix-server ac"] {
            assert!(
                threads
                    .iter()
                    .any(|(name, nice)| name == kept && *nice == own),
                "setting {setting:?}: no {kept:?} at {own} among {threads:?}"
            );
        }
    }
    Ok(())
}

#[test]
fn demo_then_serve_then_sigterm_then_audit_verify() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();

    let out = gateway(
        &[
            "demo",
            "--dir",
            &data_s,
            "--participants",
            "3",
            "--coverage",
            "0.2",
            "--seed",
            "7",
        ],
        &[],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 participants"));
    // The same cohort again is a no-op; a different one into the same folder is refused.
    let again = gateway(
        &[
            "demo",
            "--dir",
            &data_s,
            "--participants",
            "3",
            "--coverage",
            "0.2",
            "--seed",
            "7",
        ],
        &[],
    )?;
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already holds"));
    assert_usage_error(
        &gateway(
            &[
                "demo",
                "--dir",
                &data_s,
                "--participants",
                "4",
                "--coverage",
                "0.2",
                "--seed",
                "7",
            ],
            &[],
        )?,
        "other options",
    );

    // `serve --demo` on a folder that has a cohort reuses it, prints where things are served.
    let mut server = start_server(&data_s, &["--demo"])?;
    let res = ureq::get(&format!("{}/catalogue/v1/datasets", server.base_url)).call()?;
    assert_eq!(res.status(), 200);
    // Demo mode is labelled as such: a test environment named as the demo in service-info (and
    // the same environment in Beacon /info), and the demo broker's keys are served.
    let info: serde_json::Value = serde_json::from_reader(
        ureq::get(&format!("{}/service-info", server.base_url))
            .call()?
            .into_body()
            .into_reader(),
    )?;
    assert_eq!(info["environment"], "test");
    assert!(
        info["name"].as_str().is_some_and(|n| n.contains("(demo)")),
        "{info}"
    );
    let beacon: serde_json::Value = serde_json::from_reader(
        ureq::get(&format!("{}/beacon/v2/info", server.base_url))
            .call()?
            .into_body()
            .into_reader(),
    )?;
    assert_eq!(beacon["response"]["environment"], "test");
    let jwks: serde_json::Value = serde_json::from_reader(
        ureq::get(&format!(
            "{}/demo-broker/.well-known/jwks.json",
            server.base_url
        ))
        .call()?
        .into_body()
        .into_reader(),
    )?;
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    // SIGTERM: graceful shutdown, exit code 0.
    let pid = i32::try_from(server.child.id())?;
    // The workspace forbids unsafe code, so the signal goes through the `kill` command.
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(status.success());
    let exit = wait_exit(&mut server.child, Duration::from_secs(20))?;
    assert!(exit.success(), "exit after SIGTERM: {exit:?}");

    let out = gateway(&["--data-dir", &data_s, "audit", "verify"], &[])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("all hash chains intact"), "{stdout}");
    assert!(
        !stdout.contains("audit records: 0 "),
        "the catalogue request was not audited: {stdout}"
    );

    // Seal everything before tomorrow into the archive: the rows leave the database, and
    // `audit verify` still reads (and verifies) every one of them from the segment.
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1))
        .date()
        .to_string();
    let out = gateway(
        &[
            "--data-dir",
            &data_s,
            "audit",
            "archive",
            "--before",
            &tomorrow,
        ],
        &[],
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 segment(s) sealed"), "{stdout}");
    assert!(stdout.contains("0 audit records left"), "{stdout}");
    let archived = walk(&data.join("audit-archive"))?;
    assert_eq!(archived.len(), 1, "{archived:?}");
    let out = gateway(&["--data-dir", &data_s, "audit", "verify"], &[])?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("audit records: 0 in the database"),
        "{stdout}"
    );
    assert!(stdout.contains("sealed segments: 1 read"), "{stdout}");
    // The segment is removed from the archive: verify says so and fails.
    std::fs::remove_file(&archived[0])?;
    let out = gateway(&["--data-dir", &data_s, "audit", "verify"], &[])?;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_usage_error(
        &gateway(
            &[
                "--data-dir",
                &data_s,
                "audit",
                "archive",
                "--before",
                "last week",
            ],
            &[],
        )?,
        "--before",
    );
    Ok(())
}

#[test]
fn demo_institution_tokens_and_passports_from_the_command_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data_s = dir.path().join("data").to_string_lossy().into_owned();
    let out = gateway(
        &[
            "--data-dir",
            &data_s,
            "institution",
            "token",
            "--institution",
            "9999000001",
        ],
        &[],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?;
    assert_eq!(token.trim().split('.').count(), 3, "a compact JWS");
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEMO"));
    // The same key signs the next token: the key file is reused.
    let key = dir
        .path()
        .join("data/demo-institutions/9999000001/issuer-key.pem");
    let before = std::fs::read(&key)?;
    gateway(
        &[
            "--data-dir",
            &data_s,
            "institution",
            "token",
            "--institution",
            "9999000001",
        ],
        &[],
    )?;
    assert_eq!(std::fs::read(&key)?, before);
    assert_usage_error(
        &gateway(
            &[
                "--data-dir",
                &data_s,
                "institution",
                "token",
                "--institution",
                "1234",
            ],
            &[],
        )?,
        "demo institution",
    );
    assert_usage_error(
        &gateway(
            &[
                "--data-dir",
                &data_s,
                "institution",
                "token",
                "--institution",
                "9999000001",
                "--ttl",
                "7200",
            ],
            &[],
        )?,
        "--ttl",
    );
    // A demo approval for a dataset that is not stored (no demo cohort here) is refused with
    // one line, and no passport is printed.
    let out = gateway(
        &[
            "--data-dir",
            &data_s,
            "passport",
            "issue",
            "--subject",
            "alice",
            "--dataset",
            "GEMJ-DEMO-CANCER-CTRL",
            "--purpose",
            "DUO:0000007",
            "--disease",
            "MONDO:0004992",
        ],
        &[],
    )?;
    assert_usage_error(&out, "demo approval was refused");
    assert!(out.stdout.is_empty());
    Ok(())
}

/// `storage.url` set to S3 (endpoint and keys from the `AWS_*` variables, as a hospital runs
/// it): `demo` writes the cohort's objects to the bucket, not the data folder, and `serve`
/// answers from them; a data folder whose demo lives elsewhere, and a bad URL, are refused.
#[test]
fn demo_and_serve_with_objects_in_s3() -> TestResult {
    let Some(s3) = gemj_s3::s3s_fs::S3sFs::start("gemj")? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let mut env: Vec<(&str, String)> = s3.env();
    env.push(("GEMJ_STORAGE__URL", "s3://gemj/demo".to_owned()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let demo_args = [
        "demo",
        "--dir",
        &data_s,
        "--participants",
        "3",
        "--coverage",
        "0.2",
        "--seed",
        "7",
    ];
    let out = gateway(&demo_args, &env_ref)?;
    assert!(
        out.status.success(),
        "{}\ns3s-fs at {} said: {}",
        String::from_utf8_lossy(&out.stderr),
        s3.endpoint(),
        s3.log()
    );
    let bam_count = walk(&s3.root().join("gemj/demo"))?
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "bam"))
        .count();
    assert!(bam_count >= 3, "{bam_count} BAMs in the bucket");
    assert!(!data.join("objects").exists(), "nothing in the data folder");

    // The same folder with the objects elsewhere is refused, naming both places.
    let elsewhere = gateway(&demo_args, &[])?;
    assert_usage_error(&elsewhere, "s3://gemj/demo");
    // A storage URL that is neither file: nor s3: stops the start, naming the key.
    assert_usage_error(
        &gateway(&demo_args, &[("GEMJ_STORAGE__URL", "ftp://host/objects")])?,
        "storage.url",
    );

    // `ingest genome` takes objects of the configured storage by their URI (registered where
    // they are: a demo VCF already registered there is unchanged), and only those.
    let root = s3.root().join("gemj/demo");
    let stored_vcf = walk(&root)?
        .into_iter()
        .find(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.ends_with(".vcf.gz") && !n.starts_with("gemj-demo-joint"))
        })
        .ok_or("a participant VCF in the bucket")?;
    let uri = format!(
        "s3://gemj/demo/{}",
        stored_vcf.strip_prefix(&root)?.to_string_lossy()
    );
    let ingest = |target: &str| {
        gateway(
            &[
                "--data-dir",
                &data_s,
                "ingest",
                "genome",
                "--dataset",
                "GEMJ-DEMO-JOINT-CTRL",
                target,
            ],
            &env_ref,
        )
    };
    let out = ingest(&uri)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("unchanged"), "{stdout}");
    assert_usage_error(
        &ingest("s3://another-bucket/x.vcf.gz")?,
        "not an object of the configured storage",
    );
    assert_usage_error(
        &ingest("s3://gemj/demo/no/such.vcf.gz")?,
        "not in the object storage",
    );

    // `serve --demo` reads every object from the bucket: an htsget answer is the bucket's bytes.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let issued = gateway(
        &[
            "--listen",
            &listen,
            "--data-dir",
            &data_s,
            "passport",
            "issue",
            "--subject",
            "alice",
            "--dataset",
            "GEMJ-DEMO-JOINT-CTRL",
            "--purpose",
            "DUO:0000006",
        ],
        &env_ref,
    )?;
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let token = String::from_utf8(issued.stdout)?.trim().to_owned();
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            &listen,
            "--data-dir",
            &data_s,
            "serve",
            "--demo",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let base_url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split(" listening at ")
                .nth(1)
                .map(|r| r.trim().to_owned())
        })
        .ok_or("the server printed no base URL")?;
    std::thread::spawn(move || for _ in lines {});
    let result = (|| -> TestResult {
        let ticket: serde_json::Value = ureq::get(&format!(
            "{base_url}/htsget/variants/gemj-demo-joint?format=VCF&class=header"
        ))
        .header("Authorization", &format!("Bearer {token}"))
        .call()?
        .body_mut()
        .read_json()?;
        let url = ticket["htsget"]["urls"][0]["url"]
            .as_str()
            .ok_or("a ticket URL")?;
        let header = ureq::get(url).call()?.body_mut().read_to_vec()?;
        // A BGZF header made from the bucket's file (there is no other copy: the data folder
        // holds no objects), its sample columns chosen by consent.
        assert!(header.starts_with(&[0x1f, 0x8b, 8, 4]), "a BGZF answer");
        assert!(header.len() > 28 && header.ends_with(&[0x1b, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert!(!data.join("objects").exists());
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Every file under `dir`.
fn walk(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    Ok(out)
}
