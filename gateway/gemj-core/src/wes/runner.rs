//! Running one WES run: staging its inputs through signed data URLs (each fetch decided and
//! audited again, consent re-checked), the engine as a subprocess in its own process group
//! (never a shell; a clean environment; the run's folder as its working directory), stopping it
//! on cancel or withdrawal, and registering its outputs as DRS objects of its owner.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gemj_model::{Checksums, DataFormat, DataObject, ObjectId, ParticipantId};
use gemj_objects::ObjectKey;
use gemj_wes::State;
use gemj_wes::url::WorkflowSource;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::engine::{self, Engine, layout};
use super::{Inputs, PlannedInput, RunRecord, WesService, now_rfc3339};
use crate::access::{ConsentScope, RequestContext};
use crate::{CoreError, Shared};

/// Why a run is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Its owner cancelled it.
    Cancel,
    /// A participant whose data it reads may no longer be served to its owner.
    Preempt,
}

/// The runs this instance's engines run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs(Arc<Mutex<HashMap<String, Active>>>);

#[derive(Debug)]
struct Active {
    stop: tokio::sync::watch::Sender<Option<Stop>>,
    participants: Vec<ParticipantId>,
    scope: ConsentScope,
}

impl Runs {
    /// Asks a run of this instance to stop (a run of another instance sees its state change at
    /// its next poll).
    pub(crate) fn stop(&self, run_id: &str, why: Stop) {
        if let Ok(runs) = self.0.lock()
            && let Some(a) = runs.get(run_id)
        {
            a.stop.send_if_modified(|s| {
                if s.is_none() {
                    *s = Some(why);
                    true
                } else {
                    false
                }
            });
        }
    }

    /// The runs of this instance.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.0
            .lock()
            .map_or_else(|_| Vec::new(), |runs| runs.keys().cloned().collect())
    }

    fn watched(&self) -> Vec<(String, Vec<ParticipantId>, ConsentScope)> {
        self.0.lock().map_or_else(
            |_| Vec::new(),
            |runs| {
                runs.iter()
                    .map(|(id, a)| (id.clone(), a.participants.clone(), a.scope))
                    .collect()
            },
        )
    }
}

/// What a run needs to start.
#[derive(Debug)]
pub(crate) struct Launch {
    pub(crate) run_id: String,
    pub(crate) owner: String,
    pub(crate) engine: Engine,
    pub(crate) folder: PathBuf,
    pub(crate) source: WorkflowSource,
    /// The workflow URL as the client sent it (for the outputs' provenance).
    pub(crate) workflow_url: String,
    pub(crate) params: Value,
    pub(crate) planned: Vec<PlannedInput>,
    pub(crate) inputs: Inputs,
}

/// The folders engine programs are looked for in: the configured ones, then `PATH`.
pub(crate) fn search_path(configured: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = configured.to_vec();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// The `PATH` of one engine: the folder of its program first (a venv's `bin`, where Toil's
/// workers and cwltool's helpers are), then the configured folders, then the system's.
pub(crate) fn env_path_for(program: Option<&Path>, configured: &[PathBuf]) -> String {
    let mut dirs: Vec<PathBuf> = program
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    dirs.extend(configured.iter().cloned());
    dirs.extend(
        ["/usr/local/bin", "/usr/bin", "/bin"]
            .iter()
            .map(PathBuf::from),
    );
    std::env::join_paths(dirs)
        .ok()
        .and_then(|p| p.into_string().ok())
        .unwrap_or_else(|| "/usr/bin:/bin".to_owned())
}

/// Makes the run's folder and writes its attachments under `workflow/` (their paths are
/// checked relative paths; a file is created new, never through an existing link), and a
/// fetched workflow at its path in the folder.
///
/// # Errors
/// I/O failures.
pub(crate) async fn prepare_folder(
    work_dir: &Path,
    run_id: &str,
    submission: &gemj_wes::form::Submission,
    fetched: Option<(&str, &[u8])>,
) -> std::io::Result<PathBuf> {
    let folder = work_dir.join("runs").join(run_id);
    for sub in [
        layout::WORKFLOW,
        layout::INPUTS,
        layout::OUTPUTS,
        layout::TMP,
    ] {
        tokio::fs::create_dir_all(folder.join(sub)).await?;
    }
    let root = folder.join(layout::WORKFLOW);
    for a in &submission.attachments {
        let path = root.join(&a.path);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        file.write_all(&a.bytes).await?;
        file.flush().await?;
    }
    if let Some((path, bytes)) = fetched {
        tokio::fs::write(folder.join(path), bytes).await?;
    }
    Ok(folder)
}

/// The tasks of a run of this instance, from its engine's log so far.
pub(crate) fn live_tasks(work_dir: &Path, run_id: &str) -> Vec<engine::Task> {
    let path = work_dir.join("runs").join(run_id).join(layout::STDERR);
    std::fs::read(path)
        .map(|bytes| {
            let tail = &bytes[bytes.len().saturating_sub(4 << 20)..];
            engine::tasks_of_log(&String::from_utf8_lossy(tail))
        })
        .unwrap_or_default()
}

/// Starts a run in the background.
pub(crate) fn spawn_run(service: WesService, launch: Launch) {
    let (tx, rx) = tokio::sync::watch::channel(None);
    if let Ok(mut runs) = service.runs.0.lock() {
        runs.insert(
            launch.run_id.clone(),
            Active {
                stop: tx,
                participants: launch.inputs.participants.clone(),
                scope: ConsentScope {
                    industry: launch.inputs.industry,
                    international: launch.inputs.international,
                },
            },
        );
    }
    tokio::spawn(async move {
        let run_id = launch.run_id.clone();
        let folder = launch.folder.clone();
        if let Err(e) = run(&service, launch, rx).await {
            tracing::error!(message = "A WES run failed in the gateway.", run = %run_id, error = %e);
            let record = RunRecord {
                system_logs: vec!["The gateway failed while running this run.".to_owned()],
                ..RunRecord::default()
            };
            let _ = finish(&service, &run_id, State::SystemError, None, None, record).await;
        }
        // Staged inputs never outlive their run.
        let _ = tokio::fs::remove_dir_all(folder.join(layout::INPUTS)).await;
        if let Ok(mut runs) = service.runs.0.lock() {
            runs.remove(&run_id);
        }
    });
}

/// Re-checks, every watch interval, the participants of this instance's runs against its
/// consent view, and stops the runs whose owner may no longer be served one of them.
pub(crate) fn spawn_watch(service: WesService) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(service.settings.watch_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            ticks += 1;
            let watched = service.runs.watched();
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let ids: Vec<String> = watched.iter().map(|(id, ..)| id.clone()).collect();
            if let Err(e) = service.core.store.touch_wes_runs(&ids, now).await {
                tracing::warn!(message = "WES runs could not be confirmed in the store.", error = %e);
            }
            // Runs whose instance went silent, wherever they ran: every 5 ticks.
            if ticks.is_multiple_of(5)
                && let Err(e) = service.reconcile().await
            {
                tracing::warn!(message = "Silent WES runs could not be reconciled.", error = %e);
            }
            if watched.is_empty() {
                continue;
            }
            let Ok(snapshot) = service.core.consent.snapshot() else {
                continue;
            };
            for (run_id, participants, scope) in watched {
                if participants.iter().any(|p| !snapshot.serves(p, scope)) {
                    tracing::info!(message = "A WES run reads data no longer consented; stopping it.", run = %run_id);
                    service.runs.stop(&run_id, Stop::Preempt);
                }
            }
        }
    });
}

/// Moves a run to a final state (from any active one), with its tasks and end time.
async fn finish(
    service: &WesService,
    run_id: &str,
    state: State,
    exit_code: Option<i32>,
    outputs: Option<Value>,
    mut record: RunRecord,
) -> Result<(), CoreError> {
    if record.tasks.is_empty() {
        record.tasks = live_tasks(&service.settings.work_dir, run_id);
    }
    service
        .core
        .store
        .change_wes_run(
            run_id,
            &super::ACTIVE,
            state.as_str(),
            &gemj_store::WesRunChange {
                end_time: Some(now_rfc3339()),
                exit_code,
                outputs: outputs.map(|o| o.to_string()),
                log: serde_json::to_string(&record).ok(),
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}

async fn run(
    service: &WesService,
    launch: Launch,
    mut stop: tokio::sync::watch::Receiver<Option<Stop>>,
) -> Result<(), CoreError> {
    let store = &service.core.store;
    let id = launch.run_id.as_str();
    let mut record = RunRecord::default();
    let stopped = |why: Option<Stop>, record: &mut RunRecord| match why {
        Some(Stop::Preempt) => {
            record.system_logs.push(
                "Stopped: a participant whose data this run reads no longer consents to it being \
                 shared with this caller. Its outputs were discarded."
                    .to_owned(),
            );
            State::Preempted
        }
        _ => State::Canceled,
    };
    if !store
        .change_wes_run(
            id,
            &["QUEUED"],
            State::Initializing.as_str(),
            &Default::default(),
        )
        .await?
    {
        return finish(service, id, State::Canceled, None, None, record).await;
    }
    // Staging: each input through its signed URL, decided and audited again at this moment.
    let inputs_dir = launch.folder.join(layout::INPUTS);
    let mut staged: BTreeMap<String, String> = BTreeMap::new();
    for input in &launch.planned {
        let current = *stop.borrow();
        if let Some(why) = current {
            let state = stopped(Some(why), &mut record);
            return finish(service, id, state, None, None, record).await;
        }
        let ok = stage(
            &service.core,
            id,
            &input.object,
            &input.token,
            &inputs_dir.join(&input.name),
        )
        .await?;
        if !ok {
            record.system_logs.push(format!(
                "Input {} is no longer available to this caller (consent or approval changed \
                 since submission); the run did not start.",
                super::shown(&input.uri)
            ));
            return finish(service, id, State::Preempted, None, None, record).await;
        }
        if let Some((ix, name, token)) = &input.index {
            // An index the caller may no longer read is left out; the workflow may index.
            let _ = stage(&service.core, id, ix, token, &inputs_dir.join(name)).await?;
        }
        staged.insert(
            input.uri.clone(),
            format!("{}/{}", layout::INPUTS, input.name),
        );
    }
    if let WorkflowSource::Drs(uri) = &launch.source
        && let Some(local) = staged.get(uri)
    {
        tokio::fs::copy(
            launch.folder.join(local),
            launch.folder.join(&launch.inputs.workflow),
        )
        .await
        .map_err(io_failed)?;
    }
    let job = gemj_wes::inputs::rewrite(&launch.params, &staged);
    tokio::fs::write(
        launch.folder.join(layout::JOB),
        serde_json::to_vec_pretty(&job).unwrap_or_default(),
    )
    .await
    .map_err(io_failed)?;
    let args = engine::command_args(
        &launch.engine,
        id,
        &launch.inputs.workflow,
        &launch.inputs.args,
    );
    record.cmd = std::iter::once(launch.engine.config.name.clone())
        .chain(args.iter().map(|a| {
            if a.starts_with('/') {
                "<configured folder>".to_owned()
            } else {
                a.clone()
            }
        }))
        .collect();
    let stdout = std::fs::File::create(launch.folder.join(layout::STDOUT)).map_err(io_failed)?;
    let stderr = std::fs::File::create(launch.folder.join(layout::STDERR)).map_err(io_failed)?;
    let tmp = launch.folder.join(layout::TMP);
    let mut child = tokio::process::Command::new(&launch.engine.program)
        .args(&args)
        .current_dir(&launch.folder)
        .env_clear()
        .envs(launch.engine.config.env.iter().map(|(k, v)| (k, v)))
        .env(
            "PATH",
            env_path_for(Some(&launch.engine.program), &service.settings.path),
        )
        .env("HOME", &tmp)
        .env("TMPDIR", &tmp)
        .env("LANG", "C.UTF-8")
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(io_failed)?;
    record.pid = child.id();
    let started = store
        .change_wes_run(
            id,
            &["INITIALIZING"],
            State::Running.as_str(),
            &gemj_store::WesRunChange {
                start_time: Some(now_rfc3339()),
                log: serde_json::to_string(&record).ok(),
                ..Default::default()
            },
        )
        .await?;
    let mut why = (!started).then_some(Stop::Cancel);
    let status = loop {
        if let Some(w) = why {
            kill(&mut child).await;
            record.pid = None;
            let state = stopped(Some(w), &mut record);
            if state == State::Preempted {
                let _ = tokio::fs::remove_dir_all(launch.folder.join(layout::OUTPUTS)).await;
            }
            return finish(service, id, state, None, None, record).await;
        }
        tokio::select! {
            status = child.wait() => break status.map_err(io_failed)?,
            changed = stop.changed() => {
                let current = *stop.borrow();
                why = if changed.is_ok() { current } else { None };
            }
            () = tokio::time::sleep(service.settings.watch_interval) => {
                // Cancelled through another instance?
                if store.wes_run(id).await?.is_some_and(|r| r.state == "CANCELING") {
                    why = Some(Stop::Cancel);
                }
            }
        }
    };
    record.tasks = live_tasks(&service.settings.work_dir, id);
    record.pid = None;
    let code = status.code();
    if !status.success() {
        let current = *stop.borrow();
        if let Some(w) = current {
            let state = stopped(Some(w), &mut record);
            return finish(service, id, state, code, None, record).await;
        }
        record
            .system_logs
            .push("The workflow failed: the engine exited with an error.".to_owned());
        return finish(service, id, State::ExecutorError, code, None, record).await;
    }
    // The last word on consent before anything is registered.
    let scope = ConsentScope {
        industry: launch.inputs.industry,
        international: launch.inputs.international,
    };
    let withdrawn = match service.core.consent.snapshot() {
        Ok(s) => launch
            .inputs
            .participants
            .iter()
            .any(|p| !s.serves(p, scope)),
        Err(_) => true,
    };
    let asked_to_stop = stop.borrow().is_some();
    if withdrawn || asked_to_stop {
        let _ = tokio::fs::remove_dir_all(launch.folder.join(layout::OUTPUTS)).await;
        let state = stopped(Some(Stop::Preempt), &mut record);
        return finish(service, id, state, code, None, record).await;
    }
    match register_outputs(service, &launch).await {
        Ok(outputs) => finish(service, id, State::Complete, code, Some(outputs), record).await,
        Err(message) => {
            record.system_logs.push(message);
            finish(service, id, State::SystemError, code, None, record).await
        }
    }
}

fn io_failed(e: std::io::Error) -> CoreError {
    CoreError::Objects(gemj_objects::ObjectError::from(e))
}

/// Fetches one input through its signed grant into `path`; `false` when the data endpoint
/// refuses it now (consent withdrawn, approval revoked).
async fn stage(
    core: &Shared,
    run_id: &str,
    object: &ObjectId,
    token: &str,
    path: &Path,
) -> Result<bool, CoreError> {
    let ctx = RequestContext {
        request_id: format!("wes-{run_id}"),
        api: "wes",
        endpoint: "staging".to_owned(),
        client: None,
    };
    let data = crate::data::DataService::new(core.clone());
    let mut stream = match data.fetch(&ctx, object.as_str(), token, None).await {
        Ok(s) => s,
        Err(
            CoreError::NotFound
            | CoreError::Denied(_)
            | CoreError::UrlRejected(_)
            | CoreError::CredentialRequired,
        ) => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut file = tokio::fs::File::create(path).await.map_err(io_failed)?;
    tokio::io::copy(&mut stream.reader, &mut file)
        .await
        .map_err(io_failed)?;
    file.flush().await.map_err(io_failed)?;
    Ok(true)
}

/// Stops the engine and everything it started: SIGTERM to its process group, SIGKILL after
/// 5 s.
async fn kill(child: &mut tokio::process::Child) {
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = group {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_ok()
        {
            return;
        }
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill().await;
}

/// Registers every output file (inside the run's `outputs` folder, regular files only) as a
/// DRS object that only the run's owner and its project's members see, in the datasets of its inputs, and answers the
/// output object with each file's `location` its `drs://` id.
async fn register_outputs(service: &WesService, launch: &Launch) -> Result<Value, String> {
    let failed = |what: &str| format!("The outputs could not be registered: {what}.");
    let text = tokio::fs::read(launch.folder.join(layout::STDOUT))
        .await
        .map_err(|_| failed("the engine wrote no output object"))?;
    let outputs: Value = serde_json::from_slice(&text)
        .map_err(|_| failed("the engine's output object is not JSON"))?;
    let root = tokio::fs::canonicalize(launch.folder.join(layout::OUTPUTS))
        .await
        .map_err(|_| failed("the outputs folder is missing"))?;
    let mut n = 0usize;
    let mut files = Vec::new();
    collect_files(&outputs, &mut files);
    let mut registered: BTreeMap<String, String> = BTreeMap::new();
    for path in files {
        let Ok(real) = tokio::fs::canonicalize(&path).await else {
            continue;
        };
        let meta = tokio::fs::symlink_metadata(&path).await;
        if !real.starts_with(&root) || !meta.is_ok_and(|m| m.is_file()) {
            return Err(failed("an output lies outside the run's outputs folder"));
        }
        n += 1;
        let id = register_file(service, launch, &real, n)
            .await
            .map_err(|e| {
                tracing::error!(message = "A WES output could not be stored.", error = %e);
                failed("storage failed")
            })?;
        registered.insert(path, id);
    }
    let host = gemj_drs::host_of(&service.settings.base_url);
    Ok(rewrite_outputs(&outputs, &registered, &host))
}

/// The local path of a CWL `File` object: its `path`, else its `file://` location.
fn local_path(o: &serde_json::Map<String, Value>) -> Option<String> {
    o.get("path")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            o.get("location")
                .and_then(Value::as_str)
                .and_then(|l| l.strip_prefix("file://"))
                .map(str::to_owned)
        })
}

/// The local paths of every `File` of a CWL output object (in `Directory` listings too).
fn collect_files(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) if o.get("class").and_then(Value::as_str) == Some("File") => {
            if let Some(p) = local_path(o) {
                out.push(p);
            }
            if let Some(Value::Array(secondary)) = o.get("secondaryFiles") {
                secondary.iter().for_each(|s| collect_files(s, out));
            }
        }
        Value::Object(o) => o.values().for_each(|x| collect_files(x, out)),
        Value::Array(a) => a.iter().for_each(|x| collect_files(x, out)),
        _ => {}
    }
}

/// The output object as served: each registered file's `location` its `drs://` id, no host
/// path anywhere (`path`, `dirname` and unregistered locations dropped).
fn rewrite_outputs(v: &Value, registered: &BTreeMap<String, String>, host: &str) -> Value {
    match v {
        Value::Object(o) => {
            let local = local_path(o);
            let mut out = serde_json::Map::new();
            for (k, x) in o {
                match k.as_str() {
                    "path" | "dirname" | "location" => {}
                    _ => {
                        out.insert(k.clone(), rewrite_outputs(x, registered, host));
                    }
                }
            }
            if let Some(id) = local.as_ref().and_then(|l| registered.get(l)) {
                out.insert(
                    "location".to_owned(),
                    Value::String(gemj_drs::hostname_uri(host, id)),
                );
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| rewrite_outputs(x, registered, host))
                .collect(),
        ),
        _ => v.clone(),
    }
}

/// Stores one output file and registers it: its owner first, so it is never visible to
/// anyone else, then the object, then its datasets.
async fn register_file(
    service: &WesService,
    launch: &Launch,
    path: &Path,
    n: usize,
) -> Result<String, CoreError> {
    let core = &service.core;
    let base: String = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = base.trim_start_matches('.').to_owned();
    let base = if base.is_empty() {
        "output".to_owned()
    } else {
        base
    };
    let id = ObjectId::parse(&format!("wes-{}-{n}", launch.run_id))
        .map_err(|e| CoreError::InvalidInput(e.to_string()))?;
    let key = ObjectKey::parse(&format!("wes/{}/{n}-{base}", launch.run_id))?;
    let ctx = RequestContext {
        request_id: format!("wes-{}", launch.run_id),
        api: "wes",
        endpoint: "outputs".to_owned(),
        client: None,
    };
    core.access
        .record_output(
            &ctx,
            &launch.owner,
            &id,
            &launch.run_id,
            &launch.inputs.participants,
        )
        .await?;
    // Outputs of analysis-only inputs are held, unless the release rule lets this one leave
    // at once (an aggregate output under `aggregate_automatic`).
    let held = launch.inputs.held
        && service
            .settings
            .release_rule
            .holds(individual_level(path).await);
    core.store
        .set_object_owner(
            &id,
            &launch.owner,
            launch.inputs.project.as_deref(),
            &launch.run_id,
            held,
        )
        .await?;
    let info = core.objects.put_file(&key, path).await?;
    let inputs: Vec<&str> = launch.inputs.objects.keys().map(String::as_str).collect();
    let participant = match launch.inputs.participants.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    let object = DataObject {
        id: id.clone(),
        name: base.clone(),
        format: if base.ends_with(".tsv") {
            DataFormat::Tsv
        } else {
            DataFormat::Other
        },
        size: info.size,
        checksums: Checksums {
            sha256: info.sha256,
            md5: info.md5,
        },
        storage_uri: info.uri,
        index: None,
        participant,
        specimens: launch.inputs.specimens.clone(),
        analysis: None,
        description: Some(super::shown(&format!(
            "Output {base} of WES run {} ({}workflow {}; {} {}; inputs: {})",
            launch.run_id,
            launch
                .inputs
                .project
                .as_ref()
                .map(|p| format!("project {p}; "))
                .unwrap_or_default(),
            launch.workflow_url,
            launch.engine.config.name,
            launch.engine.version,
            if inputs.is_empty() {
                "none".to_owned()
            } else {
                inputs.join(", ")
            }
        ))),
    };
    core.store.put_object(&object).await?;
    for dataset in &launch.inputs.datasets {
        core.store
            .add_dataset_objects(dataset, std::slice::from_ref(&id))
            .await?;
    }
    Ok(id.as_str().to_owned())
}

/// The largest workflow fetched from an `https` root.
const MAX_WORKFLOW_BYTES: usize = 1 << 20;

/// Fetches a workflow from an `https` URL (already under a configured root): every address its
/// host resolves to must be public, and the connection is pinned to a checked address (no
/// second lookup, so no rebinding between the check and the fetch); no redirects, at most
/// 1 MiB, 20 s. The error says why, without the server's answer.
///
/// # Errors
/// A message for the caller.
pub(crate) async fn fetch_workflow(url: &str) -> Result<Vec<u8>, String> {
    let parsed =
        ::url::Url::parse(url).map_err(|_| "workflow_url is not a valid URL".to_owned())?;
    let host = parsed
        .host_str()
        .ok_or_else(|| "workflow_url has no host".to_owned())?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<std::net::SocketAddr> = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .map_err(|_| "workflow_url's host could not be resolved in time".to_owned())?
    .map_err(|_| "workflow_url's host cannot be resolved".to_owned())?
    .collect();
    let Some(first) = addrs.first().copied() else {
        return Err("workflow_url's host cannot be resolved".to_owned());
    };
    if addrs.iter().any(|a| !gemj_wes::url::is_public(a.ip())) {
        return Err(
            "workflow_url's host resolves to a loopback, private, link-local or otherwise \
             non-public address"
                .to_owned(),
        );
    }
    let client = reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .resolve(&host, first)
        .build()
        .map_err(|_| "the workflow could not be fetched".to_owned())?;
    let response = client
        .get(parsed.as_str())
        .send()
        .await
        .map_err(|_| "the workflow could not be fetched from workflow_url".to_owned())?;
    if !response.status().is_success() {
        return Err(format!(
            "fetching workflow_url answered HTTP {}",
            response.status().as_u16()
        ));
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| "the workflow could not be fetched".to_owned())?
    {
        if body.len() + chunk.len() > MAX_WORKFLOW_BYTES {
            return Err("the workflow at workflow_url is over 1 MiB".to_owned());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether a run's output file is individual-level data, from its first bytes (an unreadable
/// file counts as one: it is held).
async fn individual_level(path: &Path) -> bool {
    use tokio::io::AsyncReadExt as _;
    let Ok(file) = tokio::fs::File::open(path).await else {
        return true;
    };
    let mut head = Vec::new();
    if file
        .take(gemj_genomics::sniff::HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .await
        .is_err()
    {
        return true;
    }
    gemj_genomics::sniff::individual_level(&head).is_some()
}
