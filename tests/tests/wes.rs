//! GA4GH WES 1.1 end to end, on a real engine: cwltool (from `.venv-engines`, which `.ci/run`
//! installs from PyPI) runs the demo's example workflow, a scatter over regions of a demo BAM
//! named by its `drs://` id, staged through the caller's passport. Every answer is validated
//! against the official WES 1.1.0 schemas; every refusal of the issue's point 3 is tried; a
//! cancel and a participant's withdrawal stop running engines; outputs are DRS objects only
//! their owner reads.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gemj_e2e::http::{Http, Reply};
use gemj_e2e::names::{CANCER, HOSPITAL_A, JOINT, PREFIX, PUBLIC};
use gemj_e2e::{Res, TestGateway, TestResult, visas};
use gemj_passport::VisaType;
use gemj_schemas::{SchemaSet, Validator};
use serde_json::{Value, json};

const DOC: &str = "wes/workflow_execution_service.openapi.yaml";
const WES: &str = "/ga4gh/wes/v1";

/// The folder of the engines' programs: `$WES_ENGINES_BIN`, else the workspace's
/// `.venv-engines/bin`. `None` (the WES tests skip) only outside CI.
fn engines_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("WES_ENGINES_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-engines/bin"),
        PathBuf::from,
    );
    if dir.join("cwltool").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true needs cwltool in {} (.ci/run installs it)",
        dir.display()
    );
    eprintln!("skipped: no cwltool in {}", dir.display());
    None
}

struct Schemas {
    service_info: Validator,
    run_id: Validator,
    status: Validator,
    list: Validator,
    log: Validator,
    tasks: Validator,
    task: Validator,
    error: Validator,
}

impl Schemas {
    fn new() -> Res<Self> {
        let schemas: SchemaSet = gemj_schemas::testing::schemas();
        let c = |name: &str| schemas.validator(DOC, &format!("/components/schemas/{name}"));
        Ok(Self {
            service_info: c("ServiceInfo")?,
            run_id: c("RunId")?,
            status: c("RunStatus")?,
            list: c("RunListResponse")?,
            log: c("RunLog")?,
            tasks: c("TaskListResponse")?,
            task: c("TaskLog")?,
            error: c("ErrorResponse")?,
        })
    }

    fn ok(&self, v: &Validator, r: &Reply, what: &str) -> Value {
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        if let Err(e) = v.validate(&r.json) {
            panic!(
                "{what}: not valid against {}: {e:?}\n{}",
                v.location(),
                r.json
            );
        }
        r.json.clone()
    }

    /// An error in WES's format, with its status, never a host path nor file content.
    fn error(&self, r: &Reply, status: u16, what: &str) -> String {
        assert_eq!(r.status, status, "{what}: {}", r.text());
        if let Err(e) = self.error.validate(&r.json) {
            panic!("{what}: not an ErrorResponse: {e:?}\n{}", r.json);
        }
        assert_eq!(r.json["status_code"], status, "{what}: {}", r.json);
        let text = r.text();
        for leak in [
            "root:x:0",
            "/tmp/",
            "/work/",
            "/home/",
            "Traceback",
            "panicked",
        ] {
            assert!(!text.contains(leak), "{what} leaks {leak:?}: {text}");
        }
        r.json["reason"].as_str().unwrap_or_default().to_owned()
    }
}

/// A `multipart/form-data` body of `parts` (name, file name, bytes).
fn form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "gemj-wes-test-boundary-7MA4YWxk";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn submit(http: &Http, token: Option<&str>, parts: &[(&str, Option<&str>, &[u8])]) -> Res<Reply> {
    let (ct, body) = form(parts);
    Ok(http.send("POST", &format!("{WES}/runs"), token, Some(&ct), Some(body))?)
}

fn example(name: &str) -> Res<Vec<u8>> {
    Ok(std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/wes")
            .join(name),
    )?)
}

/// This machine's host name (resolved by `/etc/hosts`, to loopback here).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// One part of a form: its name, its file name, its bytes.
type Part = (String, Option<String>, Vec<u8>);

/// The example workflow's parts with `params`.
fn count_reads(params: &Value) -> Res<Vec<Part>> {
    Ok(vec![
        ("workflow_type".into(), None, b"CWL".to_vec()),
        ("workflow_type_version".into(), None, b"v1.2".to_vec()),
        ("workflow_url".into(), None, b"count-reads.cwl".to_vec()),
        (
            "workflow_params".into(),
            None,
            params.to_string().into_bytes(),
        ),
        ("tags".into(), None, br#"{"project": "wes-e2e"}"#.to_vec()),
        (
            "workflow_attachment".into(),
            Some("count-reads.cwl".into()),
            example("count-reads.cwl")?,
        ),
        (
            "workflow_attachment".into(),
            Some("count.cwl".into()),
            example("count.cwl")?,
        ),
        (
            "workflow_attachment".into(),
            Some("table.cwl".into()),
            example("table.cwl")?,
        ),
    ])
}

fn parts(owned: &[Part]) -> Vec<(&str, Option<&str>, &[u8])> {
    owned
        .iter()
        .map(|(n, f, b)| (n.as_str(), f.as_deref(), b.as_slice()))
        .collect()
}

/// A workflow that reads `bam` and then sleeps: long enough to be stopped while running.
const SLOW: &str = "cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sleep, '120']
inputs:
  bam: {type: File}
outputs: []
";

/// A passport for `subject` with a grant of `dataset`, and the committee's approval of it made
/// by `approval` and recorded through `http` (the demo broker of `data_dir` at `public`).
fn approved(
    http: &Http,
    data_dir: &Path,
    public: &str,
    subject: &str,
    dataset: &str,
    approval: fn(&str, &str, &str, &[&str]) -> Value,
) -> Res<String> {
    let broker = gemj_demo::broker::load(data_dir, public)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let status_visa = visas::visa(
        &broker,
        VisaType::ResearcherStatus,
        visas::BONA_FIDE,
        "dac",
        now,
    );
    let grant = visas::visa(
        &broker,
        VisaType::ControlledAccessGrants,
        &format!("{PREFIX}{dataset}"),
        "dac",
        now,
    );
    let passport = broker.issue_passport(subject, &[status_visa, grant], hour, now)?;
    let admin = broker.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;
    let approval = approval(
        &format!("APR-{subject}"),
        broker.issuer(),
        subject,
        &[dataset],
    );
    let r = http.post("/admin/v1/approvals", Some(&admin), &approval)?;
    assert_eq!(r.status, 201, "{}", r.json);
    Ok(passport)
}

/// A passport for `subject` with a CANCER grant and the committee's approval of it (see
/// [`approved`]), and a cancer BAM of `store`.
async fn approved_with_bam(
    http: &Http,
    store: &gemj_store::Store,
    data_dir: &Path,
    public: &str,
    subject: &str,
) -> Res<(String, gemj_model::DataObject)> {
    let passport = approved(
        http,
        data_dir,
        public,
        subject,
        CANCER,
        visas::cancer_approval,
    )?;
    for p in store
        .dataset_participants(&gemj_model::DatasetId::parse(CANCER)?)
        .await?
    {
        if let Some(o) = store
            .objects_of_participant(&p)
            .await?
            .into_iter()
            .find(|o| o.format == gemj_model::DataFormat::Bam)
        {
            return Ok((passport, o));
        }
    }
    Err("a cancer BAM".into())
}

/// The parts of the slow workflow reading `bam`.
fn slow(bam: &str) -> Vec<Part> {
    vec![
        ("workflow_type".into(), None, b"CWL".to_vec()),
        ("workflow_type_version".into(), None, b"v1.2".to_vec()),
        ("workflow_url".into(), None, b"slow.cwl".to_vec()),
        (
            "workflow_params".into(),
            None,
            json!({"bam": {"class": "File", "location": bam}})
                .to_string()
                .into_bytes(),
        ),
        (
            "workflow_attachment".into(),
            Some("slow.cwl".into()),
            SLOW.as_bytes().to_vec(),
        ),
    ]
}

/// Submits the slow workflow over `bam` to `runner`, waits until it runs, cancels it through
/// `canceller`, and answers the run and the state it ends in (as `runner` reports it).
fn cancel_running(
    v: &Schemas,
    runner: &Http,
    canceller: &Http,
    token: &str,
    bam: &str,
) -> Res<(String, String)> {
    let r = submit(runner, Some(token), &parts(&slow(bam)))?;
    let run = v.ok(&v.run_id, &r, "slow run")["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    wait_for(canceller, token, &run, Duration::from_secs(60), |s| {
        s == "RUNNING"
    })?;
    let r = canceller.send(
        "POST",
        &format!("{WES}/runs/{run}/cancel"),
        Some(token),
        None,
        None,
    )?;
    v.ok(&v.run_id, &r, "cancel");
    let state = wait_for(runner, token, &run, Duration::from_secs(15), |s| {
        s != "RUNNING" && s != "CANCELING"
    })?;
    Ok((run, state))
}

/// The reads of the BAM at `bam` in each of `regions`, as samtools counts them.
fn samtools_counts(bam: &Path, regions: &[&str]) -> Res<Vec<String>> {
    regions
        .iter()
        .map(|region| {
            let out = std::process::Command::new("samtools")
                .args(["view", "-c"])
                .arg(bam)
                .arg(region)
                .output()?;
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .collect()
}

/// The lines of the run output `name` of a run log, downloaded through DRS by `token`.
fn output_lines(http: &Http, token: &str, log: &Value, name: &str) -> Res<Vec<String>> {
    let id = log["outputs"][name]["location"]
        .as_str()
        .and_then(|l| l.rsplit('/').next())
        .ok_or_else(|| format!("no output {name}: {log}"))?;
    let r = http.get(
        &format!("/ga4gh/drs/v1/objects/{id}/access/https"),
        Some(token),
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    let bytes = http.get(r.json["url"].as_str().unwrap_or_default(), None)?;
    Ok(String::from_utf8_lossy(&bytes.raw)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Waits until the run's state satisfies `done` (at most `limit`), returning it.
fn wait_for(
    http: &Http,
    token: &str,
    run: &str,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> Res<String> {
    let start = Instant::now();
    loop {
        let r = http.get(&format!("{WES}/runs/{run}/status"), Some(token))?;
        let state = r.json["state"].as_str().unwrap_or_default().to_owned();
        if done(&state) {
            return Ok(state);
        }
        if start.elapsed() > limit {
            let log = http.get(&format!("{WES}/runs/{run}"), Some(token))?;
            return Err(format!("run {run} still {state} after {limit:?}: {}", log.json).into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wes_runs_cwl_on_drs_inputs_under_consent() -> TestResult {
    let Some(bin) = engines_bin() else {
        return Ok(());
    };
    let v = Schemas::new()?;
    let gw = TestGateway::start_with(12, |c| {
        c.wes.path = vec![bin.clone()];
        c.wes.watch_interval_ms = 200;
        c.wes.max_parts = 16;
        c.wes.max_part_bytes = 256 * 1024;
        c.wes.max_total_bytes = 1024 * 1024;
        c.wes.workflow_roots = vec![
            "https://github.com/gemj-example/".to_owned(),
            "https://wf.gemj.invalid/".to_owned(),
            format!("https://{}/wf/", hostname()),
        ];
    })
    .await?;
    let base = gw.base_url.clone();
    let host = gemj_drs::host_of(&base);
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
    let alice = broker.issue_passport("alice", &[status_visa.clone(), grant.clone()], hour, now)?;
    let bob = broker.issue_passport("bob", &[status_visa.clone(), grant.clone()], hour, now)?;
    let carol = broker.issue_passport("carol", &[status_visa.clone(), grant], hour, now)?;
    let registered = broker.issue_passport("reg", std::slice::from_ref(&status_visa), hour, now)?;
    let admin = broker.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;
    // Alice and carol are approved for one project, bob for another.
    for (id, who, project) in [
        ("APR-WES-A", "alice", "P1"),
        ("APR-WES-B", "bob", "P2"),
        ("APR-WES-C", "carol", "P1"),
    ] {
        let mut approval = visas::cancer_approval(id, broker.issuer(), who, &[CANCER]);
        approval["project"] = json!(project);
        let r = http.post("/admin/v1/approvals", Some(&admin), &approval)?;
        assert_eq!(r.status, 201, "{}", r.json);
    }
    // Two consenting cancer participants of hospital A with a BAM each.
    let states = gw.store.all_consent_states().await?;
    let mut subjects = Vec::new();
    for p in gw
        .store
        .dataset_participants(&gemj_model::DatasetId::parse(CANCER)?)
        .await?
    {
        let full = states.iter().any(|s| {
            s.participant == p
                && s.permits_research()
                && s.scopes.third_party_industry
                && s.scopes.international_transfer
        });
        let Some(participant) = gw.store.get_participant(&p).await? else {
            continue;
        };
        let bam = gw
            .store
            .objects_of_participant(&p)
            .await?
            .into_iter()
            .find(|o| o.format == gemj_model::DataFormat::Bam && o.index.is_some());
        if let (true, true, Some(bam)) = (full, participant.institution.as_str() == HOSPITAL_A, bam)
        {
            subjects.push((p, bam));
        }
    }
    assert!(
        subjects.len() >= 2,
        "two consenting cancer participants with a BAM"
    );
    let (_, bam) = subjects[0].clone();
    let (victim, victim_bam) = subjects[1].clone();
    let drs_uri = format!("drs://{host}/{}", bam.id);

    // 1. service-info: valid, the engine and its version, drs among the protocols; registered.
    let r = http.get(&format!("{WES}/service-info"), Some(&alice))?;
    let info = v.ok(&v.service_info, &r, "service-info");
    assert_eq!(info["type"]["artifact"], "wes");
    assert_eq!(info["supported_wes_versions"], json!(["1.1.0"]));
    assert!(
        info["supported_filesystem_protocols"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("drs")))
    );
    let versions = info["workflow_engine_versions"]["cwltool"]["workflow_engine_version"].clone();
    assert!(
        versions.as_array().is_some_and(|a| a
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.starts_with("3.")))),
        "{info}"
    );
    assert_eq!(
        info["workflow_type_versions"]["CWL"]["workflow_type_version"],
        json!(["v1.0", "v1.1", "v1.2"])
    );
    assert_eq!(info["system_state_counts"]["RUNNING"], 0);
    let services = http.get("/services", None)?;
    assert!(
        services
            .json
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["type"]["artifact"] == "wes"))
    );

    // 2. Anonymous callers: 401 with a challenge; not this API's paths: WES errors.
    let r = http.get(&format!("{WES}/runs"), None)?;
    v.error(&r, 401, "anonymous list");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    let r = submit(&http, None, &parts(&count_reads(&json!({}))?))?;
    v.error(&r, 401, "anonymous submit");
    let r = http.get(&format!("{WES}/nothing"), Some(&alice))?;
    v.error(&r, 404, "no such endpoint");
    let r = http.send("DELETE", &format!("{WES}/runs"), Some(&alice), None, None)?;
    v.error(&r, 405, "wrong method");
    assert_eq!(r.header("allow"), Some("GET, POST"));

    // 3. The example workflow, end to end: a scatter over three regions of a drs:// BAM.
    let regions = [
        "chr20:100000-200000",
        "chr20:200000-300000",
        "chr21:1-500000",
    ];
    let params = json!({"bam": {"class": "File", "location": drs_uri}, "regions": regions});
    let submitted = Instant::now();
    let r = submit(&http, Some(&alice), &parts(&count_reads(&params)?))?;
    let run = v.ok(&v.run_id, &r, "submit")["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let accepted = submitted.elapsed();
    assert!(
        accepted < Duration::from_secs(1),
        "submission took {accepted:?}"
    );
    let r = http.get(&format!("{WES}/runs/{run}/status"), Some(&alice))?;
    v.ok(&v.status, &r, "status");
    let state = wait_for(&http, &alice, &run, Duration::from_secs(180), |s| {
        !matches!(s, "QUEUED" | "INITIALIZING" | "RUNNING")
    })?;
    let r = http.get(&format!("{WES}/runs/{run}"), Some(&alice))?;
    let log = v.ok(&v.log, &r, "run log");
    assert_eq!(state, "COMPLETE", "{log}");
    assert_eq!(log["run_log"]["exit_code"], 0);
    assert_eq!(
        log["request"]["workflow_params"], params,
        "the request as sent"
    );
    assert_eq!(log["request"]["tags"]["project"], "wes-e2e");
    assert_eq!(
        log["task_logs_url"],
        format!("{base}{WES}/runs/{run}/tasks")
    );
    let out = log["outputs"]["counts"].clone();
    let location = out["location"].as_str().unwrap_or_default().to_owned();
    assert!(
        location.starts_with(&format!("drs://{host}/wes-{run}-")),
        "{log}"
    );
    let data_dir = std::fs::canonicalize(gw.data_dir())?.display().to_string();
    assert!(
        out.get("path").is_none()
            && !log.to_string().contains(&data_dir)
            && !log.to_string().contains("/tmp"),
        "no host path: {log}"
    );
    // The counts agree with samtools on the stored file.
    let local = gw.local_file(&bam.storage_uri).await?;
    let expected = samtools_counts(&local, &regions)?;
    let output_id = location.rsplit('/').next().unwrap_or_default().to_owned();
    let r = http.get(&format!("/ga4gh/drs/v1/objects/{output_id}"), Some(&alice))?;
    assert_eq!(
        r.status,
        200,
        "the output is a DRS object of its owner: {}",
        r.text()
    );
    assert!(
        r.json["description"]
            .as_str()
            .is_some_and(|d| d.contains(&run) && d.contains(&drs_uri) && d.contains("project P1")),
        "provenance: {}",
        r.json
    );
    let got = output_lines(&http, &alice, &log, "counts")?;
    assert_eq!(got, expected, "the counts of the run against samtools");
    // The output is the project's: carol, approved for P1, reads it too.
    let got = output_lines(&http, &carol, &log, "counts")?;
    assert_eq!(
        got, expected,
        "a member of the run's project reads its output"
    );
    // The engine's log, at run_log.stderr: the jobs, no host path; the owner's only.
    let stderr_url = log["run_log"]["stderr"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(stderr_url, format!("{base}{WES}/runs/{run}/stderr"));
    let r = http.get(&stderr_url, Some(&alice))?;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(
        text.contains("[job count]") && text.contains("completed success"),
        "{text}"
    );
    for leak in [data_dir.as_str(), "/work/", ".venv", "/usr/"] {
        assert!(!text.contains(leak), "the log leaks {leak:?}: {text}");
    }
    v.error(&http.get(&stderr_url, Some(&bob))?, 404, "another's log");
    // Nobody else sees it: a researcher approved for the same data in another project, and a
    // registered one, get 404.
    for (who, token) in [("bob", &bob), ("registered", &registered)] {
        let r = http.get(&format!("/ga4gh/drs/v1/objects/{output_id}"), Some(token))?;
        assert_eq!(r.status, 404, "{who} sees alice's output: {}", r.text());
    }
    // Tasks: one per scattered job and the table, paged by signed tokens.
    let r = http.get(&format!("{WES}/runs/{run}/tasks"), Some(&alice))?;
    let tasks = v.ok(&v.tasks, &r, "tasks");
    let names: Vec<&str> = tasks["task_logs"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.len() >= 4 && names.contains(&"table"), "{tasks}");
    assert!(
        tasks["task_logs"]
            .as_array()
            .is_some_and(|a| a.iter().all(|t| t["exit_code"] == 0)),
        "{tasks}"
    );
    let r = http.get(&format!("{WES}/runs/{run}/tasks?page_size=1"), Some(&alice))?;
    let page = v.ok(&v.tasks, &r, "tasks page");
    let token = page["next_page_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!token.is_empty() && page["task_logs"].as_array().map(Vec::len) == Some(1));
    let r = http.get(
        &format!("{WES}/runs/{run}/tasks?page_size=1&page_token={token}"),
        Some(&alice),
    )?;
    let second = v.ok(&v.tasks, &r, "tasks second page");
    assert_ne!(second["task_logs"][0]["id"], page["task_logs"][0]["id"]);
    let r = http.get(&format!("{WES}/runs/{run}/tasks/1"), Some(&alice))?;
    v.ok(&v.task, &r, "one task");
    v.error(
        &http.get(&format!("{WES}/runs/{run}/tasks/99"), Some(&alice))?,
        404,
        "no such task",
    );

    // 3b. The same workflow on Toil (single_machine batch system): the same counts.
    assert!(
        bin.join("toil-cwl-runner").is_file(),
        "toil-cwl-runner in {}",
        bin.display()
    );
    let mut toil = count_reads(&params)?;
    toil.push(("workflow_engine".into(), None, b"toil".to_vec()));
    let r = submit(&http, Some(&alice), &parts(&toil))?;
    let toil_run = v.ok(&v.run_id, &r, "submit on Toil")["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let state = wait_for(&http, &alice, &toil_run, Duration::from_secs(300), |s| {
        !matches!(s, "QUEUED" | "INITIALIZING" | "RUNNING")
    })?;
    let r = http.get(&format!("{WES}/runs/{toil_run}"), Some(&alice))?;
    let toil_log = v.ok(&v.log, &r, "Toil run log");
    assert_eq!(state, "COMPLETE", "{toil_log}");
    assert_eq!(toil_log["run_log"]["name"], "toil");
    assert!(
        toil_log["run_log"]["cmd"]
            .to_string()
            .contains("single_machine"),
        "{toil_log}"
    );
    let got = output_lines(&http, &alice, &toil_log, "counts")?;
    assert_eq!(got, expected, "Toil's counts against samtools");

    // 4. Runs belong to their caller: bob gets 404 for everything of alice's, as for nothing.
    let absent = http.get(&format!("{WES}/runs/nope"), Some(&bob))?;
    v.error(&absent, 404, "absent run");
    for path in [
        format!("{WES}/runs/{run}"),
        format!("{WES}/runs/{run}/status"),
        format!("{WES}/runs/{run}/tasks"),
    ] {
        let r = http.get(&path, Some(&bob))?;
        v.error(&r, 404, "another's run");
        assert_eq!(
            r.raw, absent.raw,
            "another's run differs from an absent one"
        );
    }
    let r = http.send(
        "POST",
        &format!("{WES}/runs/{run}/cancel"),
        Some(&bob),
        None,
        None,
    )?;
    v.error(&r, 404, "cancel another's run");
    let r = http.get(&format!("{WES}/runs"), Some(&bob))?;
    assert_eq!(v.ok(&v.list, &r, "bob's runs")["runs"], json!([]));
    // Alice's page token is not bob's.
    let r = http.get(
        &format!("{WES}/runs/{run}/tasks?page_size=1&page_token={token}"),
        Some(&bob),
    )?;
    assert!(matches!(r.status, 400 | 404), "{}", r.text());

    // 5. Refusals before anything starts: the input names itself in a 403.
    let before = gw
        .store
        .wes_runs_in(&[
            "QUEUED",
            "INITIALIZING",
            "RUNNING",
            "COMPLETE",
            "CANCELED",
            "EXECUTOR_ERROR",
            "SYSTEM_ERROR",
            "PREEMPTED",
            "CANCELING",
        ])
        .await?
        .len();
    let r = submit(&http, Some(&registered), &parts(&count_reads(&params)?))?;
    let reason = v.error(&r, 403, "registered researcher on CONTROLLED input");
    assert_eq!(reason, "input_not_permitted");
    assert!(
        r.json["msg"].as_str().is_some_and(|m| m.contains(&drs_uri)),
        "{}",
        r.json
    );
    let unknown = json!({"bam": {"class": "File", "location": format!("drs://{host}/GEMJ-NO-SUCH.bam")}, "regions": regions});
    let r2 = submit(&http, Some(&alice), &parts(&count_reads(&unknown)?))?;
    v.error(&r2, 403, "unknown input");
    let foreign = json!({"bam": {"class": "File", "location": "drs://elsewhere.example.org/x"}, "regions": regions});
    v.error(
        &submit(&http, Some(&alice), &parts(&count_reads(&foreign)?))?,
        400,
        "foreign drs host",
    );
    // The project the outputs belong to is the inputs' approval's: naming another one (bob's
    // project, which alice is not approved for) is refused, and so is it for a run of bob's.
    for (who, token) in [("alice", &alice), ("bob", &bob)] {
        let mut tagged = count_reads(&params)?;
        tagged.retain(|(name, _, _)| name != "tags");
        let other = if who == "alice" { "P2" } else { "P1" };
        tagged.push((
            "tags".into(),
            None,
            json!({"approval_project": other}).to_string().into_bytes(),
        ));
        let r = submit(&http, Some(token), &parts(&tagged))?;
        v.error(&r, 400, "a project other than the inputs' approval's");
        assert!(
            r.json["msg"]
                .as_str()
                .is_some_and(|m| m.contains("approval_project")),
            "{}",
            r.json
        );
    }
    let after = gw
        .store
        .wes_runs_in(&[
            "QUEUED",
            "INITIALIZING",
            "RUNNING",
            "COMPLETE",
            "CANCELED",
            "EXECUTOR_ERROR",
            "SYSTEM_ERROR",
            "PREEMPTED",
            "CANCELING",
        ])
        .await?
        .len();
    assert_eq!(before, after, "a refused submission stores no run");

    // 6. Point 3: every refusal, 400 or 413, in WES's format, nothing echoed.
    let base_parts = |url: &str| -> Vec<Part> {
        vec![
            ("workflow_type".into(), None, b"CWL".to_vec()),
            ("workflow_type_version".into(), None, b"v1.2".to_vec()),
            ("workflow_url".into(), None, url.as_bytes().to_vec()),
        ]
    };
    for (url, code) in [
        ("file:///etc/passwd", "workflow_url"),
        ("FILE:/etc/passwd", "workflow_url"),
        ("ftp://github.com/gemj-example/x.cwl", "workflow_url"),
        ("http://github.com/gemj-example/x.cwl", "workflow_url"),
        ("https://127.0.0.1/gemj-example/x.cwl", "workflow_url"),
        ("https://[::1]/x.cwl", "workflow_url"),
        ("https://169.254.169.254/latest/meta-data", "workflow_url"),
        ("https://localhost/gemj-example/x.cwl", "workflow_url"),
        ("https://github.com/other/x.cwl", "workflow_url"),
        (
            "https://github.com/gemj-example/../other/x.cwl",
            "workflow_url",
        ),
        ("missing.cwl", "workflow_url"),
        ("../../etc/passwd", "workflow_url"),
    ] {
        let r = submit(&http, Some(&alice), &parts(&base_parts(url)))?;
        v.error(&r, 400, url);
        assert!(
            r.json["msg"].as_str().is_some_and(|m| m.contains(code)),
            "{url}: {}",
            r.json
        );
    }
    // Under an allowed root, the host is resolved and checked when the workflow is fetched:
    // this machine's own name resolves to loopback; a name that does not resolve is refused.
    for (url, why) in [
        (format!("https://{}/wf/x.cwl", hostname()), "non-public"),
        ("https://wf.gemj.invalid/x.cwl".to_owned(), "resolve"),
    ] {
        let r = submit(&http, Some(&alice), &parts(&base_parts(&url)))?;
        v.error(&r, 400, &url);
        assert!(
            r.json["msg"].as_str().is_some_and(|m| m.contains(why)),
            "{url}: {}",
            r.json
        );
    }
    for name in [
        "../x.cwl",
        "/etc/passwd",
        "a\\\\b.cwl",
        "a//b.cwl",
        "./x.cwl",
        "C:/x.cwl",
        "x/..",
    ] {
        let mut p = base_parts("x.cwl");
        p.push((
            "workflow_attachment".into(),
            Some(name.into()),
            b"cwlVersion: v1.2".to_vec(),
        ));
        let r = submit(&http, Some(&alice), &parts(&p))?;
        let reason = v.error(&r, 400, name);
        assert!(
            matches!(
                reason.as_str(),
                "bad_attachment_name" | "malformed_multipart"
            ),
            "{name}: {reason}"
        );
    }
    // Control characters and NUL in a file name (raw bytes in the part header).
    for bad in [&b"a\x00b.cwl"[..], b"a\x01b.cwl", b"a\x7fb.cwl"] {
        let boundary = "b0undary";
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"workflow_attachment\"; filename=\"").into_bytes();
        body.extend_from_slice(bad);
        body.extend_from_slice(format!("\"\r\n\r\nx\r\n--{boundary}--\r\n").as_bytes());
        let r = http.send(
            "POST",
            &format!("{WES}/runs"),
            Some(&alice),
            Some(&format!("multipart/form-data; boundary={boundary}")),
            Some(body),
        )?;
        let reason = v.error(&r, 400, "control character in a file name");
        assert!(
            matches!(
                reason.as_str(),
                "bad_attachment_name" | "malformed_multipart"
            ),
            "{reason}"
        );
    }
    let mut p = base_parts("x.cwl");
    p.push(("nonsense".into(), None, b"1".to_vec()));
    assert_eq!(
        v.error(
            &submit(&http, Some(&alice), &parts(&p))?,
            400,
            "unknown field"
        ),
        "unknown_field"
    );
    let mut p = base_parts("x.cwl");
    p.push(("workflow_type".into(), None, b"CWL".to_vec()));
    assert_eq!(
        v.error(
            &submit(&http, Some(&alice), &parts(&p))?,
            400,
            "repeated field"
        ),
        "repeated_field"
    );
    let p = &base_parts("x.cwl")[..2];
    assert_eq!(
        v.error(&submit(&http, Some(&alice), &parts(p))?, 400, "missing url"),
        "missing_field"
    );
    let mut p = base_parts("x.cwl");
    p.push(("workflow_params".into(), None, b"[1, 2]".to_vec()));
    assert_eq!(
        v.error(
            &submit(&http, Some(&alice), &parts(&p))?,
            400,
            "params not an object"
        ),
        "field_not_json"
    );
    for (field, value) in [
        ("workflow_engine_parameters", r#"{"--rm": "true"}"#),
        (
            "workflow_engine_parameters",
            r#"{"--parallel": "yes; rm -rf /"}"#,
        ),
        ("workflow_engine", "bash"),
        ("workflow_engine_version", "1"),
    ] {
        let mut p = count_reads(&params)?;
        p.push((field.into(), None, value.as_bytes().to_vec()));
        v.error(&submit(&http, Some(&alice), &parts(&p))?, 400, field);
    }
    let mut p = count_reads(&params)?;
    p[1] = ("workflow_type_version".into(), None, b"draft-3".to_vec());
    v.error(
        &submit(&http, Some(&alice), &parts(&p))?,
        400,
        "type version",
    );
    let r = http.send(
        "POST",
        &format!("{WES}/runs"),
        Some(&alice),
        Some("multipart/form-data; boundary=x"),
        Some(b"--x\r\nnot a part".to_vec()),
    )?;
    v.error(&r, 400, "malformed multipart");
    let r = http.send(
        "POST",
        &format!("{WES}/runs"),
        Some(&alice),
        Some("application/json"),
        Some(b"{}".to_vec()),
    )?;
    v.error(&r, 400, "not multipart");
    let many: Vec<Part> = (0..20)
        .map(|i| {
            (
                "workflow_attachment".into(),
                Some(format!("f{i}.cwl")),
                b"x".to_vec(),
            )
        })
        .collect();
    assert_eq!(
        v.error(
            &submit(&http, Some(&alice), &parts(&many))?,
            413,
            "too many parts"
        ),
        "too_many_parts"
    );
    let mut p = base_parts("big.cwl");
    p.push((
        "workflow_attachment".into(),
        Some("big.cwl".into()),
        vec![b'#'; 300 * 1024],
    ));
    assert_eq!(
        v.error(
            &submit(&http, Some(&alice), &parts(&p))?,
            413,
            "part too large"
        ),
        "part_too_large"
    );
    let r = http.send(
        "POST",
        &format!("{WES}/runs"),
        Some(&alice),
        Some("multipart/form-data; boundary=x"),
        Some(vec![b'x'; 2 << 20]),
    )?;
    assert_eq!(r.status, 413, "{}", r.text());
    for q in ["page_size=0", "page_size=x", "page_token=forged", "other=1"] {
        v.error(&http.get(&format!("{WES}/runs?{q}"), Some(&alice))?, 400, q);
    }

    // 7. Cancel: a running run stops; cancelling a finished run changes nothing.
    let (slow_run, state) = cancel_running(&v, &http, &http, &alice, &drs_uri)?;
    assert_eq!(state, "CANCELED");
    let r = http.send(
        "POST",
        &format!("{WES}/runs/{run}/cancel"),
        Some(&alice),
        None,
        None,
    )?;
    v.ok(&v.run_id, &r, "cancel a finished run");
    let r = http.get(&format!("{WES}/runs/{run}/status"), Some(&alice))?;
    assert_eq!(r.json["state"], "COMPLETE", "cancel changed a finished run");

    // 8. Withdrawal during a run: stopped (PREEMPTED) within 10 s; no later run reads the data.
    let victim_uri = format!("drs://{host}/{}", victim_bam.id);
    let r = submit(&http, Some(&alice), &parts(&slow(&victim_uri)))?;
    let doomed = v.ok(&v.run_id, &r, "doomed run")["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    wait_for(&http, &alice, &doomed, Duration::from_secs(60), |s| {
        s == "RUNNING"
    })?;
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let token =
        gemj_e2e::institution_token(&institutions, HOSPITAL_A, "consent-system", &base, now)?;
    let withdrawal = json!({"event_id": "wes-w-1", "participant": victim.as_str(), "institution": HOSPITAL_A,
        "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"});
    let withdrawn_at = Instant::now();
    let r = http.post("/consent/v1/events", Some(&token), &withdrawal)?;
    assert_eq!(r.status, 201, "{}", r.json);
    let state = wait_for(&http, &alice, &doomed, Duration::from_secs(10), |s| {
        s != "RUNNING" && s != "CANCELING"
    })?;
    let stopped_in = withdrawn_at.elapsed();
    assert_eq!(state, "PREEMPTED");
    eprintln!("withdrawal stopped the run in {stopped_in:?}");
    let r = http.get(&format!("{WES}/runs/{doomed}"), Some(&alice))?;
    let log = v.ok(&v.log, &r, "preempted log");
    assert_eq!(log["outputs"], json!({}));
    assert!(
        log["run_log"]["system_logs"]
            .to_string()
            .contains("consent"),
        "{log}"
    );
    let r = submit(&http, Some(&alice), &parts(&slow(&victim_uri)))?;
    v.error(&r, 403, "withdrawn input");

    // 9. Listing: newest first, paged by signed tokens, summaries valid.
    let r = http.get(&format!("{WES}/runs?page_size=2"), Some(&alice))?;
    let page = v.ok(&v.list, &r, "list");
    assert_eq!(page["runs"][0]["run_id"], doomed.as_str());
    assert_eq!(page["runs"][1]["run_id"], slow_run.as_str());
    let next = page["next_page_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let r = http.get(
        &format!("{WES}/runs?page_size=2&page_token={next}"),
        Some(&alice),
    )?;
    let page = v.ok(&v.list, &r, "list, page 2");
    assert_eq!(page["runs"][0]["run_id"], toil_run.as_str());
    assert_eq!(page["runs"][1]["run_id"], run.as_str());
    assert_eq!(page["runs"][1]["tags"]["project"], "wes-e2e");
    let r = http.get(&format!("{WES}/runs?page_token={next}"), Some(&bob))?;
    v.error(&r, 400, "alice's token used by bob");
    let r = http.get(&format!("{WES}/service-info"), Some(&alice))?;
    let info = v.ok(&v.service_info, &r, "service-info counts");
    assert_eq!(info["system_state_counts"]["COMPLETE"], 2);
    assert_eq!(info["system_state_counts"]["CANCELED"], 1);
    assert_eq!(info["system_state_counts"]["PREEMPTED"], 1);

    // 10. Audited: the submission's decisions, the staging fetches (re-decided), the reads.
    let audit = gw.store.audit_records(0, 100_000).await?;
    let staged = audit
        .iter()
        .filter(|a| a.event.api == "wes" && a.event.endpoint == "staging")
        .count();
    assert!(
        staged >= 3,
        "staging fetches are decided and audited: {staged}"
    );
    assert!(
        audit
            .iter()
            .any(|a| a.event.api == "wes" && a.event.resource == format!("run:{run}"))
    );
    assert!(
        audit
            .iter()
            .any(|a| a.event.api == "wes" && a.event.resource == format!("object:{}", bam.id))
    );
    // Each output's registration, for its owner, naming the run.
    assert!(
        audit.iter().any(|a| a.event.action == "register_output"
            && a.event.resource == format!("object:{output_id}")
            && a.event.reasons == [format!("wes_run:{run}")]
            && a.event.principal.ends_with("#alice")),
        "the output's registration is audited"
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}

/// Two instances on one PostgreSQL store and data folder: either answers for a run the other
/// runs, a cancel sent to one stops the engine of the other, and an instance starting over a
/// run whose engine is gone reports it as SYSTEM_ERROR while finished runs keep their outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wes_replicas_answer_for_every_run_and_a_restart_reports_truthfully() -> TestResult {
    let Some(bin) = engines_bin() else {
        return Ok(());
    };
    let Ok(url) = std::env::var("GEMJ_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs GEMJ_TEST_DATABASE_URL for the WES replica test"
        );
        eprintln!("skipped: set GEMJ_TEST_DATABASE_URL to run it");
        return Ok(());
    };
    let v = Schemas::new()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos();
    let schema = format!("gemj_wes_{}_{nanos}", std::process::id());
    let public = "http://127.0.0.1:9".to_owned();
    let setup = |c: &mut gemj_server::Config| {
        c.public_url = public.clone();
        c.database.url = url.clone();
        c.database.schema = schema.clone();
        c.wes.path = vec![bin.clone()];
        c.wes.watch_interval_ms = 200;
    };
    let [port_a, port_b, port_c] = gemj_e2e::free_ports()?;
    let a = TestGateway::start_with(6, |c| {
        setup(c);
        c.listen = format!("127.0.0.1:{port_a}");
    })
    .await?;
    let data_dir = a.data_dir().to_path_buf();
    let b = TestGateway::start_with(0, |c| {
        setup(c);
        c.listen = format!("127.0.0.1:{port_b}");
        c.data_dir = data_dir.clone();
    })
    .await?;
    let (ha, hb) = (
        Http {
            base: format!("http://127.0.0.1:{port_a}"),
        },
        Http {
            base: format!("http://127.0.0.1:{port_b}"),
        },
    );
    let (alice, bam) = approved_with_bam(&ha, &a.store, a.data_dir(), &public, "alice").await?;
    let broker = gemj_demo::broker::load(a.data_dir(), &public)?;
    let uri = format!("drs://127.0.0.1/{}", bam.id);

    // A runs it; B answers for it, identically.
    let params = json!({"bam": {"class": "File", "location": uri}, "regions": ["chr20:1-600000"]});
    let r = submit(&ha, Some(&alice), &parts(&count_reads(&params)?))?;
    let done = v.ok(&v.run_id, &r, "submit on A")["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let state = wait_for(&hb, &alice, &done, Duration::from_secs(180), |s| {
        !matches!(s, "QUEUED" | "INITIALIZING" | "RUNNING")
    })?;
    assert_eq!(state, "COMPLETE");
    let from_a = ha.get(&format!("{WES}/runs/{done}"), Some(&alice))?;
    let from_b = hb.get(&format!("{WES}/runs/{done}"), Some(&alice))?;
    let log = v.ok(&v.log, &from_b, "log from B");
    assert_eq!(from_a.json, log, "both instances answer the same");
    assert!(
        log["outputs"]["counts"]["location"]
            .as_str()
            .is_some_and(|l| l.starts_with("drs://"))
    );

    // A cancel sent to B stops A's engine.
    let (_, state) = cancel_running(&v, &ha, &hb, &alice, &uri)?;
    assert_eq!(state, "CANCELED", "a cancel sent to B stops A's engine");

    // A run whose engine died with its instance (no such process): an instance starting over
    // the store reports it as SYSTEM_ERROR; the finished run keeps its outputs.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")?
        .trim()
        .to_owned();
    let orphan = gemj_store::WesRunRow {
        seq: 0,
        run_id: "orphan-run".to_owned(),
        owner: format!("{}#alice", broker.issuer()),
        state: "RUNNING".to_owned(),
        request: from_b.json["request"].to_string(),
        engine: "cwltool".to_owned(),
        instance: host,
        inputs: "{}".to_owned(),
        created_at: "2026-11-24T00:00:00Z".to_owned(),
        start_time: Some("2026-11-24T00:00:01Z".to_owned()),
        end_time: None,
        exit_code: None,
        outputs: None,
        log: r#"{"pid": 4194305}"#.to_owned(),
        heartbeat: gemj_auth::now_unix(),
    };
    a.store.insert_wes_run(&orphan).await?;
    // And one of an instance on another host that went silent a minute ago: whichever instance
    // looks next reports it.
    let silent = gemj_store::WesRunRow {
        run_id: "silent-run".to_owned(),
        instance: "gone-host".to_owned(),
        log: "{}".to_owned(),
        heartbeat: gemj_auth::now_unix() - 3600,
        ..orphan.clone()
    };
    a.store.insert_wes_run(&silent).await?;
    let c = TestGateway::start_with(0, |c| {
        setup(c);
        c.listen = format!("127.0.0.1:{port_c}");
        c.data_dir = data_dir.clone();
    })
    .await?;
    let hc = Http {
        base: format!("http://127.0.0.1:{port_c}"),
    };
    let state = wait_for(&hc, &alice, "orphan-run", Duration::from_secs(30), |s| {
        s != "RUNNING"
    })?;
    assert_eq!(state, "SYSTEM_ERROR");
    let r = hc.get(&format!("{WES}/runs/orphan-run"), Some(&alice))?;
    let log = v.ok(&v.log, &r, "orphan");
    assert!(
        log["run_log"]["system_logs"]
            .to_string()
            .contains("stopped"),
        "{log}"
    );
    let state = wait_for(&hb, &alice, "silent-run", Duration::from_secs(30), |s| {
        s != "RUNNING"
    })?;
    assert_eq!(
        state, "SYSTEM_ERROR",
        "a run its instance stopped confirming"
    );
    let r = hc.get(&format!("{WES}/runs/{done}"), Some(&alice))?;
    assert_eq!(
        v.ok(&v.log, &r, "finished, after restart")["outputs"],
        from_a.json["outputs"]
    );
    c.stop().await;
    b.stop().await;
    a.stop().await;
    // The test's schema goes with it (a pool of this test's own runtime: the instances' pools
    // may hold connections whose runtime is shutting down).
    let opts = gemj_store::StoreOptions {
        schema: Some(schema.clone()),
        ..gemj_store::StoreOptions::default()
    };
    gemj_store::Store::connect(&url, &opts)
        .await?
        .drop_schema_and_close()
        .await?;
    Ok(())
}

/// The PyPI `wes-service` client (4.0, unmodified: 5.0 no longer sends credentials with a
/// submission) submits the example workflow with its attachments, polls it to COMPLETE, lists
/// and reads it, and cancels a running run through its Python API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wes_service_client_submits_polls_and_cancels() -> TestResult {
    let Some(bin) = engines_bin() else {
        return Ok(());
    };
    let client = std::env::var_os("WES_CLIENT_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-wes-client"),
        PathBuf::from,
    );
    if !client.join("bin/wes-client").is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs wes-service in {} (.ci/run installs it)",
            client.display()
        );
        eprintln!("skipped: no wes-client in {}", client.display());
        return Ok(());
    }
    let gw = TestGateway::start_with(12, |c| {
        c.wes.path = vec![bin.clone()];
        c.wes.watch_interval_ms = 200;
    })
    .await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let (alice, bam) = approved_with_bam(&http, &gw.store, gw.data_dir(), &base, "alice").await?;
    let work = tempfile::tempdir()?;
    for f in ["count-reads.cwl", "count.cwl", "table.cwl"] {
        std::fs::write(work.path().join(f), example(f)?)?;
    }
    let job = json!({"bam": {"class": "File", "location": format!("drs://gemj:{}", bam.id)}, "regions": ["chr20:1-600000"]});
    std::fs::write(work.path().join("job.json"), job.to_string())?;
    std::fs::write(work.path().join("slow.cwl"), SLOW)?;
    std::fs::write(
        work.path().join("slow.json"),
        json!({"bam": job["bam"]}).to_string(),
    )?;
    let host = base.trim_start_matches("http://").to_owned();
    let wes_client = |args: &[&str]| -> Res<std::process::Output> {
        Ok(tokio::task::block_in_place(|| {
            std::process::Command::new(client.join("bin/wes-client"))
                .args([
                    "--host",
                    &host,
                    "--proto",
                    "http",
                    "--auth",
                    &format!("Bearer {alice}"),
                ])
                .args(args)
                .current_dir(work.path())
                .output()
        })?)
    };
    // Submit, wait (the client polls), and read the outcome back.
    let out = wes_client(&[
        "--attachments=count.cwl,table.cwl",
        "count-reads.cwl",
        "job.json",
    ])?;
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wes-client --run: {log}");
    assert!(log.contains("State is COMPLETE"), "{log}");
    let run = log
        .lines()
        .find_map(|l| l.split("Workflow run id is ").nth(1))
        .ok_or("the run id")?
        .trim()
        .to_owned();
    let out = wes_client(&["--list"])?;
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&run),
        "--list"
    );
    let out = wes_client(&["--get", &run])?;
    let got: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(got["state"], "COMPLETE", "{got}");
    assert!(
        got["outputs"]["counts"]["location"]
            .as_str()
            .is_some_and(|l| l.starts_with("drs://"))
    );
    // Cancel through the client's Python API.
    let script = r#"
import json, os, sys, time
from wes_client.util import WESClient
host, token = sys.argv[1], sys.argv[2]
c = WESClient({"auth": {"Authorization": "Bearer " + token}, "proto": "http", "host": host})
run = c.run(os.path.abspath("slow.cwl"), "file://" + os.path.abspath("slow.json"), [])["run_id"]
for _ in range(300):
    if c.get_run_status(run)["state"] == "RUNNING":
        break
    time.sleep(0.2)
print(json.dumps(c.cancel(run)))
for _ in range(100):
    state = c.get_run_status(run)["state"]
    if state not in ("RUNNING", "CANCELING"):
        break
    time.sleep(0.2)
print(state)
"#;
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(client.join("bin/python"))
            .args(["-c", script, &host, &alice])
            .current_dir(work.path())
            .output()
    })?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.trim_end().ends_with("CANCELED"), "{text}");
    gw.stop_with_intact_chains().await?;
    Ok(())
}

/// A one-node Slurm cluster on loopback from Debian's slurm-wlm: munged, slurmctld and slurmd
/// started by the test in a temporary folder on free ports (`SLURM_CONF` names its
/// configuration), and stopped by it (`scontrol shutdown`, `munged --stop`) at the end.
struct SlurmCluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl SlurmCluster {
    /// Starts the cluster; `None` (the test skips) only outside CI when slurm-wlm is not
    /// installed or the test is not root.
    fn start() -> Res<Option<Self>> {
        let installed =
            Path::new("/usr/sbin/slurmctld").is_file() && Path::new("/usr/sbin/munged").is_file();
        let root = std::fs::read_to_string("/proc/self/status")?
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
        if !(installed && root) {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true needs slurm-wlm installed (.ci/run) and root to start a one-node cluster"
            );
            eprintln!("skipped: no slurm-wlm, or not root");
            return Ok(None);
        }
        let dir = tempfile::tempdir()?;
        let d = dir.path().to_path_buf();
        let munge = d.join("munge");
        for sub in ["munge", "ctld", "spool", "log"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        let run = |cmd: &mut std::process::Command| -> Res<()> {
            let out = cmd.output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)).into())
            }
        };
        let key = munge.join("munge.key");
        run(std::process::Command::new("/usr/sbin/mungekey")
            .args(["-c", "-k"])
            .arg(&key))?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400))?;
        std::fs::set_permissions(&munge, std::fs::Permissions::from_mode(0o700))?;
        let socket = munge.join("munge.sock");
        run(std::process::Command::new("/usr/sbin/munged")
            .arg("--force")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--log-file={}", d.join("log/munged.log").display()))
            .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
            .arg(format!(
                "--seed-file={}",
                munge.join("munged.seed").display()
            )))?;
        let [ctld_port, slurmd_port] = gemj_e2e::free_ports()?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")?
            .trim()
            .to_owned();
        let p = |sub: &str| d.join(sub).display().to_string();
        let conf = d.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=gemjtest\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort={}\n\
                 SlurmdPort={}\nAuthType=auth/munge\nCredType=cred/munge\n\
                 AuthInfo=socket={}\nSlurmUser=root\nSlurmdUser=root\nStateSaveLocation={}\n\
                 SlurmdSpoolDir={}\nSlurmctldPidFile={}\nSlurmdPidFile={}\n\
                 SlurmctldLogFile={}\nSlurmdLogFile={}\nProctrackType=proctrack/linuxproc\n\
                 TaskPlugin=task/none\nSwitchType=switch/none\nMpiDefault=none\n\
                 ReturnToService=2\nSchedulerType=sched/backfill\nSelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_Core_Memory\nAccountingStorageType=accounting_storage/none\n\
                 JobCompType=jobcomp/none\nJobAcctGatherType=jobacct_gather/none\n\
                 InactiveLimit=0\nMinJobAge=30\nKillWait=5\nWaittime=0\n\
                 NodeName=gemjnode NodeAddr=127.0.0.1 NodeHostname={host} CPUs=2 RealMemory=4000 State=UNKNOWN\n\
                 PartitionName=gemj Nodes=gemjnode Default=YES MaxTime=INFINITE State=UP\n",
                ctld_port,
                slurmd_port,
                socket.display(),
                p("ctld"),
                p("spool"),
                p("slurmctld.pid"),
                p("slurmd.pid"),
                p("log/slurmctld.log"),
                p("log/slurmd.log"),
            ),
        )?;
        let cluster = Self { dir, conf };
        run(std::process::Command::new("/usr/sbin/slurmctld")
            .arg("-f")
            .arg(&cluster.conf))?;
        run(std::process::Command::new("/usr/sbin/slurmd")
            .arg("-f")
            .arg(&cluster.conf)
            .args(["-N", "gemjnode"]))?;
        let start = Instant::now();
        loop {
            let out = std::process::Command::new("sinfo")
                .args(["-h", "-o", "%T"])
                .env("SLURM_CONF", &cluster.conf)
                .output()?;
            if String::from_utf8_lossy(&out.stdout).trim() == "idle" {
                return Ok(Some(cluster));
            }
            if start.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(cluster.dir.path().join("log/slurmctld.log"))
                    .unwrap_or_default();
                return Err(format!("the Slurm node is not idle after 60 s: {log}").into());
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for SlurmCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("scontrol")
            .arg("shutdown")
            .env("SLURM_CONF", &self.conf)
            .output();
        let _ = std::process::Command::new("/usr/sbin/munged")
            .arg("--stop")
            .arg(format!(
                "--socket={}",
                self.dir.path().join("munge/munge.sock").display()
            ))
            .output();
    }
}

/// Toil with its batch system set to `slurm`, on the one-node cluster: the example workflow's
/// jobs are Slurm jobs, and the counts are samtools'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toil_runs_the_example_on_a_one_node_slurm_cluster() -> TestResult {
    let Some(bin) = engines_bin() else {
        return Ok(());
    };
    let Some(cluster) = tokio::task::block_in_place(SlurmCluster::start)? else {
        return Ok(());
    };
    let v = Schemas::new()?;
    let conf = cluster.conf.display().to_string();
    let gw = TestGateway::start_with(6, |c| {
        c.wes.path = vec![bin.clone()];
        c.wes.engines = vec![gemj_server::config::WesEngineConfig {
            name: "toil-slurm".to_owned(),
            kind: "toil".to_owned(),
            program: PathBuf::from("toil-cwl-runner"),
            batch_system: "slurm".to_owned(),
            job_store_dir: PathBuf::new(),
            env: [("SLURM_CONF".to_owned(), conf.clone())].into(),
        }];
    })
    .await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let (alice, bam) = approved_with_bam(&http, &gw.store, gw.data_dir(), &base, "alice").await?;
    let r = http.get(&format!("{WES}/service-info"), Some(&alice))?;
    let info = v.ok(&v.service_info, &r, "service-info");
    assert!(
        info["workflow_engine_versions"]["toil-slurm"].is_object(),
        "{info}"
    );
    let regions = ["chr20:1-300000", "chr21:1-300000"];
    let params = json!({"bam": {"class": "File", "location": format!("drs://gemj:{}", bam.id)}, "regions": regions});
    let mut p = count_reads(&params)?;
    p.push(("workflow_engine".into(), None, b"toil-slurm".to_vec()));
    let r = submit(&http, Some(&alice), &parts(&p))?;
    let run = v.ok(&v.run_id, &r, "submit")["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let state = wait_for(&http, &alice, &run, Duration::from_secs(300), |s| {
        !matches!(s, "QUEUED" | "INITIALIZING" | "RUNNING")
    })?;
    let r = http.get(&format!("{WES}/runs/{run}"), Some(&alice))?;
    let log = v.ok(&v.log, &r, "run log");
    assert_eq!(state, "COMPLETE", "{log}");
    assert!(log["run_log"]["cmd"].to_string().contains("slurm"), "{log}");
    let r = http.get(&format!("{WES}/runs/{run}/stderr"), Some(&alice))?;
    let text = String::from_utf8_lossy(&r.raw).into_owned();
    assert!(
        text.contains("queued as job"),
        "Toil submitted Slurm jobs: {text}"
    );
    let r = http.get(&format!("{WES}/runs/{run}/tasks"), Some(&alice))?;
    let tasks = v.ok(&v.tasks, &r, "tasks");
    assert_eq!(
        tasks["task_logs"].as_array().map(Vec::len),
        Some(3),
        "{tasks}"
    );
    let local = gw.local_file(&bam.storage_uri).await?;
    let expected = samtools_counts(&local, &regions)?;
    let got = output_lines(&http, &alice, &log, "counts")?;
    assert_eq!(got, expected, "the counts computed on Slurm");
    gw.stop_with_intact_chains().await?;
    drop(cluster);
    Ok(())
}

/// An analysis-only dataset (a trusted research environment): its files are WES inputs of an
/// approved caller, and nothing of it is read directly (DRS access, htsget, data URLs, FHIR),
/// Beacon answers it with counts at most, and a run's outputs leave only once an administrator
/// releases them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_only_datasets_are_analysed_never_downloaded() -> TestResult {
    let Some(bin) = engines_bin() else {
        return Ok(());
    };
    let v = Schemas::new()?;
    let gw = TestGateway::start_with(12, |c| {
        c.wes.path = vec![bin.clone()];
        // The cancer dataset, and the public allele-frequency one every participant is in.
        c.policy.analysis_only_datasets = vec![CANCER.to_owned(), PUBLIC.to_owned()];
    })
    .await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let (alice, _) = approved_with_bam(&http, &gw.store, gw.data_dir(), &base, "alice").await?;
    // A BAM held by the cancer dataset only.
    let mut only = None;
    for p in gw
        .store
        .dataset_participants(&gemj_model::DatasetId::parse(CANCER)?)
        .await?
    {
        for o in gw.store.objects_of_participant(&p).await? {
            // Nothing of the participant is in a dataset alice reads otherwise (a REGISTERED or
            // PUBLIC one), so whatever FHIR would show of them comes from the cancer dataset.
            let mut elsewhere = false;
            for d in gw.store.datasets_of_participant(&p).await? {
                let level = gw.store.get_dataset(&d).await?.map(|d| d.access_level);
                elsewhere |= ![CANCER, PUBLIC].contains(&d.as_str())
                    && level != Some(gemj_model::AccessLevel::Controlled);
            }
            if o.format == gemj_model::DataFormat::Bam
                && !elsewhere
                && gw
                    .store
                    .datasets_of_object(&o.id)
                    .await?
                    .iter()
                    .map(gemj_model::DatasetId::as_str)
                    .eq([CANCER])
            {
                only = Some((p.clone(), o));
            }
        }
    }
    let (participant, bam) = only.ok_or("a BAM in the cancer dataset only")?;
    // Direct reads: refused, saying why.
    let r = http.get(&format!("/ga4gh/drs/v1/objects/{}", bam.id), Some(&alice))?;
    assert_eq!(
        r.status,
        200,
        "the metadata stays visible (what a run may read): {}",
        r.text()
    );
    let r = http.get(
        &format!("/ga4gh/drs/v1/objects/{}/access/https", bam.id),
        Some(&alice),
    )?;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json["reason"], "analysis_only", "{}", r.json);
    let r = http.get(
        &format!("/htsget/reads/{}?format=BAM", bam.id),
        Some(&alice),
    )?;
    assert!(matches!(r.status, 403 | 404), "htsget: {}", r.text());
    let r = http.get(
        &format!("/catalogue/v1/objects/{}/url", bam.id),
        Some(&alice),
    )?;
    assert!(matches!(r.status, 403 | 404), "catalogue URL: {}", r.text());
    let r = http.get(
        &format!("/catalogue/v1/datasets/{CANCER}/participants"),
        Some(&alice),
    )?;
    assert_eq!(r.status, 403, "participants: {}", r.text());
    let r = http.get(
        &format!("/fhir/Observation?subject=Patient/{participant}"),
        Some(&alice),
    )?;
    assert!(
        r.json["entry"].as_array().is_none_or(Vec::is_empty),
        "FHIR serves nothing of it: {}",
        r.text()
    );
    let r = http.get(
        &format!("/beacon/v2/datasets/{CANCER}/individuals?requestedGranularity=record"),
        Some(&alice),
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_ne!(
        r.json["meta"]["returnedGranularity"], "record",
        "Beacon records: {}",
        r.json
    );
    // A run reads it.
    let params = json!({"bam": {"class": "File", "location": format!("drs://gemj:{}", bam.id)}, "regions": ["chr20:1-600000"]});
    let r = submit(&http, Some(&alice), &parts(&count_reads(&params)?))?;
    let run = v.ok(&v.run_id, &r, "submit")["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let out = finished_output(&http, &v, &alice, &run, "counts")?;
    // Its output is held until an administrator releases it.
    assert_held(&http, &alice, &out)?;
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let admin = broker.issue_passport(
        gemj_demo::broker::ADMINISTRATOR,
        &[],
        Duration::from_secs(600),
        now,
    )?;
    let r = http.get("/admin/v1/wes/outputs", Some(&alice))?;
    assert_eq!(r.status, 403, "only administrators: {}", r.text());
    let r = http.get("/admin/v1/wes/outputs", Some(&admin))?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["outputs"][0]["object"], out.as_str(), "{}", r.json);
    assert_eq!(r.json["outputs"][0]["run_id"], run.as_str());
    let r = http.send(
        "POST",
        &format!("/admin/v1/wes/outputs/{out}/release"),
        Some(&admin),
        None,
        None,
    )?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["held"], false);
    let r = http.send(
        "POST",
        &format!("/admin/v1/wes/outputs/{out}/release"),
        Some(&admin),
        None,
        None,
    )?;
    assert_eq!(r.status, 404, "released once: {}", r.text());
    let r = http.get(
        &format!("/ga4gh/drs/v1/objects/{out}/access/https"),
        Some(&alice),
    )?;
    assert_eq!(r.status, 200, "released: {}", r.text());
    let bytes = http.get(r.json["url"].as_str().unwrap_or_default(), None)?;
    assert_eq!(bytes.status, 200);
    assert!(!bytes.raw.is_empty());

    // Individual-level data never leaves under the default release rule (aggregate outputs
    // only): a slice of the BAM is held, and the committee cannot release it.
    let form: Vec<Part> = vec![
        ("workflow_type".into(), None, b"CWL".to_vec()),
        ("workflow_type_version".into(), None, b"v1.2".to_vec()),
        ("workflow_url".into(), None, b"slice.cwl".to_vec()),
        (
            "workflow_params".into(),
            None,
            json!({"bam": {"class": "File", "location": format!("drs://gemj:{}", bam.id)},
                   "region": "chr20:1-600000"})
            .to_string()
            .into_bytes(),
        ),
        (
            "workflow_attachment".into(),
            Some("slice.cwl".into()),
            SLICE.as_bytes().to_vec(),
        ),
    ];
    let r = submit(&http, Some(&alice), &parts(&form))?;
    let run = v.ok(&v.run_id, &r, "submit")["run_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let slice = finished_output(&http, &v, &alice, &run, "slice")?;
    assert_held(&http, &alice, &slice)?;
    let r = http.send(
        "POST",
        &format!("/admin/v1/wes/outputs/{slice}/release"),
        Some(&admin),
        None,
        None,
    )?;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("BAM"), "names what it is: {}", r.text());
    let r = http.get("/admin/v1/wes/outputs", Some(&admin))?;
    assert!(
        r.json["outputs"].as_array().is_some_and(|o| o
            .iter()
            .any(|x| x["object"] == slice.as_str() && x["held"] == true)),
        "still held: {}",
        r.json
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}

/// Waits for `run` to end, requires it COMPLETE (with the engine's log if not), and gives the
/// DRS id of its output `name`.
fn finished_output(http: &Http, v: &Schemas, token: &str, run: &str, name: &str) -> Res<String> {
    let state = wait_for(http, token, run, Duration::from_secs(180), |s| {
        !matches!(s, "QUEUED" | "INITIALIZING" | "RUNNING")
    })?;
    let r = http.get(&format!("{WES}/runs/{run}"), Some(token))?;
    let log = v.ok(&v.log, &r, "run log");
    let engine_log = http
        .get(&format!("{WES}/runs/{run}/stderr"), Some(token))?
        .text();
    assert_eq!(state, "COMPLETE", "{log}\n{engine_log}");
    Ok(log["outputs"][name]["location"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// `object`, an output of a run over analysis-only data, is held: its owner may not download it.
fn assert_held(http: &Http, token: &str, object: &str) -> Res<()> {
    let r = http.get(
        &format!("/ga4gh/drs/v1/objects/{object}/access/https"),
        Some(token),
    )?;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json["reason"], "release_pending", "{}", r.json);
    Ok(())
}

/// A workflow writing the reads of a BAM's region as a BAM: individual-level data.
const SLICE: &str = "cwlVersion: v1.2
class: CommandLineTool
baseCommand: [samtools, view, -b, -o, slice.bam]
inputs:
  bam: {type: File, secondaryFiles: [.bai], inputBinding: {position: 1}}
  region: {type: string, inputBinding: {position: 2}}
outputs:
  slice: {type: File, outputBinding: {glob: slice.bam}}
";

/// A workflow listing a VCF's samples.
const SAMPLES: &str = "cwlVersion: v1.2
class: CommandLineTool
baseCommand: [bcftools, query, -l]
inputs:
  vcf: {type: File, inputBinding: {position: 1}}
stdout: samples.txt
outputs:
  samples: {type: stdout}
";

/// A multi-sample VCF is staged for a run as htsget serves it to that caller: re-encoded
/// without the columns of participants it may no longer be served (here, one who withdrew).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joint_vcf_is_staged_without_the_samples_of_the_withdrawn() -> TestResult {
    let Some(bin) = engines_bin() else {
        return Ok(());
    };
    let v = Schemas::new()?;
    let gw = TestGateway::start_with(12, |c| {
        c.wes.path = vec![bin.clone()];
    })
    .await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let jo = approved(
        &http,
        gw.data_dir(),
        &base,
        "jo",
        JOINT,
        visas::hmb_approval,
    )?;
    let now = gemj_auth::now_unix();
    let joint = gw
        .store
        .get_object(&gemj_model::ObjectId::parse("gemj-demo-joint.vcf.gz")?)
        .await?
        .ok_or("the joint VCF")?;
    let samples = |run: &str| -> Res<Vec<String>> {
        let r = http.get(&format!("{WES}/runs/{run}"), Some(&jo))?;
        let log = v.ok(&v.log, &r, "run log");
        output_lines(&http, &jo, &log, "samples")
    };
    let run_samples = || -> Res<String> {
        let form: Vec<Part> =
            vec![
            ("workflow_type".into(), None, b"CWL".to_vec()),
            ("workflow_type_version".into(), None, b"v1.2".to_vec()),
            ("workflow_url".into(), None, b"samples.cwl".to_vec()),
            (
                "workflow_params".into(),
                None,
                json!({"vcf": {"class": "File", "location": format!("drs://gemj:{}", joint.id)}})
                    .to_string()
                    .into_bytes(),
            ),
            ("workflow_attachment".into(), Some("samples.cwl".into()), SAMPLES.as_bytes().to_vec()),
        ];
        let r = submit(&http, Some(&jo), &parts(&form))?;
        let run = v.ok(&v.run_id, &r, "submit")["run_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let state = wait_for(&http, &jo, &run, Duration::from_secs(180), |s| {
            !matches!(s, "QUEUED" | "INITIALIZING" | "RUNNING")
        })?;
        assert_eq!(state, "COMPLETE");
        Ok(run)
    };
    let before = samples(&run_samples()?)?;
    assert!(
        before.len() >= 2,
        "the joint VCF's samples as served to jo: {before:?}"
    );
    // One of them, of hospital A, withdraws.
    let mut victim = None;
    for s in &before {
        let spec = gemj_model::SpecimenId::parse(s)?;
        for p in gw
            .store
            .participants_of_specimens(std::slice::from_ref(&spec))
            .await?
        {
            let participant = gw.store.get_participant(&p).await?.ok_or("participant")?;
            if participant.institution.as_str() == HOSPITAL_A {
                victim = Some((p, s.clone()));
            }
        }
    }
    let (victim, sample) = victim.ok_or("a sample of hospital A")?;
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let token =
        gemj_e2e::institution_token(&institutions, HOSPITAL_A, "consent-system", &base, now)?;
    let withdrawal = json!({"event_id": "wes-w-joint", "participant": victim.as_str(), "institution": HOSPITAL_A,
        "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"});
    let r = http.post("/consent/v1/events", Some(&token), &withdrawal)?;
    assert_eq!(r.status, 201, "{}", r.json);
    let after = samples(&run_samples()?)?;
    let expected: Vec<String> = before.iter().filter(|s| **s != sample).cloned().collect();
    assert_eq!(
        after, expected,
        "the withdrawn participant's column is gone, the others stay"
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}
