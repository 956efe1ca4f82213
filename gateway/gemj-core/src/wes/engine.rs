//! The workflow engines, run as subprocesses (never through a shell): their command lines,
//! their versions, and the tasks read back from their logs.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// cwltool, the CWL reference runner (`--no-container`).
    Cwltool,
    /// Toil's `toil-cwl-runner`, with a batch system (`single_machine`, `slurm`, ...).
    Toil,
}

/// A configured engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Its WES name (`cwltool`, `toil`).
    pub name: String,
    /// Which engine it is.
    pub kind: EngineKind,
    /// The program (a path, or a name looked up on `path`).
    pub program: PathBuf,
    /// Toil: the batch system.
    pub batch_system: Option<String>,
    /// Toil: the folder job stores are made in (shared with the cluster's nodes).
    pub job_store_dir: Option<PathBuf>,
    /// Variables the engine gets besides `PATH`, `HOME`, `TMPDIR` and `LANG`.
    pub env: Vec<(String, String)>,
}

/// An engine found at start, with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// The configuration.
    pub config: EngineConfig,
    /// The program, resolved.
    pub program: PathBuf,
    /// The version it reports.
    pub version: String,
}

/// A typed engine parameter a client may set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterSpec {
    /// Its WES name (the engine flag, as clients send it: `--parallel`).
    pub name: String,
    /// Its type.
    pub kind: ParameterKind,
    /// Its default, stringified.
    pub default: String,
    /// The engines it applies to (by name).
    pub engines: Vec<String>,
}

/// The type of an engine parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterKind {
    /// `true` or `false`; `true` adds the flag.
    Boolean,
    /// An integer within bounds; adds the flag and the value.
    Integer {
        /// Least value.
        min: i64,
        /// Greatest value.
        max: i64,
    },
}

impl ParameterKind {
    /// The WES type name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Integer { .. } => "integer",
        }
    }
}

/// The arguments a parameter's value adds, or why the value is refused.
///
/// # Errors
/// A message naming the parameter (never its value).
pub fn parameter_args(spec: &ParameterSpec, value: &str) -> Result<Vec<String>, String> {
    match spec.kind {
        ParameterKind::Boolean => match value {
            "true" => Ok(vec![spec.name.clone()]),
            "false" => Ok(Vec::new()),
            _ => Err(format!(
                "engine parameter `{}` must be true or false",
                spec.name
            )),
        },
        ParameterKind::Integer { min, max } => match value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(vec![spec.name.clone(), n.to_string()]),
            _ => Err(format!(
                "engine parameter `{}` must be an integer from {min} to {max}",
                spec.name
            )),
        },
    }
}

/// The program on `path` (or as given, when it has a `/`), if it is an executable file.
#[must_use]
pub(crate) fn resolve_program(program: &Path, path: &[PathBuf]) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    path.iter()
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Asks an engine for its version (`--version`, at most 30 s): the last word of its first line
/// that has a digit.
pub(crate) async fn detect(
    config: &EngineConfig,
    search: &[PathBuf],
    configured: &[PathBuf],
) -> Option<Engine> {
    let program = resolve_program(&config.program, search)?;
    let env_path = super::runner::env_path_for(Some(&program), configured);
    let run = tokio::process::Command::new(&program)
        .arg("--version")
        .env_clear()
        .envs(config.env.iter().map(|(k, v)| (k, v)))
        .env("PATH", &env_path)
        .env("LANG", "C.UTF-8")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .ok()?
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let version = text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .find(|w| w.chars().any(|c| c.is_ascii_digit()))?
        .to_owned();
    Some(Engine {
        config: config.clone(),
        program,
        version,
    })
}

/// The folders a run's files live in, relative to the run's folder (the engine's working
/// directory).
pub(crate) mod layout {
    /// Attachments (the workflow and its tools).
    pub(crate) const WORKFLOW: &str = "workflow";
    /// Staged inputs.
    pub(crate) const INPUTS: &str = "inputs";
    /// The engine's outputs.
    pub(crate) const OUTPUTS: &str = "outputs";
    /// Scratch (HOME and TMPDIR of the engine).
    pub(crate) const TMP: &str = "tmp";
    /// The job document (the parameters, `drs://` inputs rewritten to staged files).
    pub(crate) const JOB: &str = "job.json";
    /// The engine's standard output (the CWL output object).
    pub(crate) const STDOUT: &str = "stdout.json";
    /// The engine's standard error (its log).
    pub(crate) const STDERR: &str = "stderr.log";
}

/// The engine's arguments for a run whose workflow is `workflow` (relative to the run's
/// folder), with the engine parameters' arguments `extra`.
#[must_use]
pub(crate) fn command_args(
    engine: &Engine,
    run_id: &str,
    workflow: &str,
    extra: &[String],
) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    match engine.config.kind {
        EngineKind::Cwltool => {
            args.extend(
                [
                    "--no-container",
                    "--disable-pull",
                    "--timestamps",
                    "--disable-color",
                    "--outdir",
                    layout::OUTPUTS,
                    "--tmpdir-prefix",
                    "tmp/",
                    "--tmp-outdir-prefix",
                    "tmp/",
                ]
                .map(str::to_owned),
            );
        }
        EngineKind::Toil => {
            let store = engine.config.job_store_dir.as_ref().map_or_else(
                || format!("{}/jobstore", layout::TMP),
                |d| d.join(format!("jobstore-{run_id}")).display().to_string(),
            );
            args.extend(["--no-container".to_owned(), "--jobStore".to_owned(), store]);
            args.extend([
                "--batchSystem".to_owned(),
                engine
                    .config
                    .batch_system
                    .clone()
                    .unwrap_or_else(|| "single_machine".to_owned()),
            ]);
            args.extend(
                [
                    "--outdir",
                    layout::OUTPUTS,
                    "--workDir",
                    layout::TMP,
                    "--clean",
                    "always",
                ]
                .map(str::to_owned),
            );
        }
    }
    args.extend(extra.iter().cloned());
    args.push(workflow.to_owned());
    args.push(layout::JOB.to_owned());
    args
}

/// A step the engine reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    /// The job's name as the engine logged it.
    pub name: String,
    /// When it started (RFC 3339), if the log said.
    pub start: Option<String>,
    /// When it finished.
    pub end: Option<String>,
    /// 0 for success, 1 for failure; `None` while running.
    pub exit_code: Option<i32>,
}

/// The jobs of an engine's log: Toil's when it is one (its lines name `toil.`), else
/// cwltool's. Only names, times and outcomes are read: the logs' lines hold host paths.
#[must_use]
pub fn tasks_of_log(log: &str) -> Vec<Task> {
    if log.contains("] [toil.") {
        tasks_of_toil_log(log)
    } else {
        tasks_of_cwltool_log(log)
    }
}

/// The jobs of a Toil log: each `Issued job 'CWLJob' NAME ...` starts a task, `CWL step
/// complete: NAME` ends it with success, `Job failed with exit value N: 'CWLJob' NAME` with N.
#[must_use]
pub(crate) fn tasks_of_toil_log(log: &str) -> Vec<Task> {
    let mut tasks: Vec<Task> = Vec::new();
    for line in log.lines() {
        let time = toil_timestamp(line);
        let name_after = |marker: &str| -> Option<String> {
            let rest = &line[line.find(marker)? + marker.len()..];
            let name: String = rest
                .split_whitespace()
                .next()?
                .chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect();
            (!name.is_empty()).then_some(name)
        };
        if let Some(name) = name_after("Issued job 'CWLJob' ") {
            if !tasks.iter().any(|t| t.name == name) {
                tasks.push(Task {
                    name,
                    start: time,
                    end: None,
                    exit_code: None,
                });
            }
        } else if let Some(name) = name_after("CWL step complete: ") {
            if let Some(t) = tasks.iter_mut().find(|t| t.name == name) {
                t.end = time;
                t.exit_code = Some(0);
            }
        } else if let Some(at) = line.find("Job failed with exit value ") {
            let rest = &line[at + 27..];
            let code = rest
                .split(':')
                .next()
                .and_then(|c| c.trim().parse::<i32>().ok())
                .unwrap_or(1);
            if let Some(name) = name_after("'CWLJob' ")
                && let Some(t) = tasks.iter_mut().find(|t| t.name == name)
            {
                t.end = time;
                t.exit_code = Some(code);
            }
        }
    }
    tasks
}

/// The `[YYYY-MM-DDTHH:MM:SS+0000]` a Toil log line starts with, as RFC 3339 (UTC).
fn toil_timestamp(line: &str) -> Option<String> {
    let stamp = line.strip_prefix('[')?.get(..24)?;
    let (date_time, zone) = stamp.split_at(19);
    (zone == "+0000" && date_time.as_bytes().get(10) == Some(&b'T'))
        .then(|| format!("{date_time}Z"))
}

/// The jobs of a cwltool log (`--timestamps`): each `[job NAME]` is a task, started at its
/// first line and finished at its `completed` line.
#[must_use]
pub(crate) fn tasks_of_cwltool_log(log: &str) -> Vec<Task> {
    let mut tasks: Vec<Task> = Vec::new();
    for line in log.lines() {
        let time = timestamp(line);
        let Some(at) = line.find("[job ") else {
            continue;
        };
        let rest = &line[at + 5..];
        let Some(end) = rest.find(']') else {
            continue;
        };
        let name: String = rest[..end]
            .chars()
            .filter(|c| !c.is_control())
            .take(128)
            .collect();
        if name.is_empty() {
            continue;
        }
        let after = rest[end + 1..].trim();
        let index = match tasks.iter().position(|t| t.name == name) {
            Some(i) => i,
            None => {
                tasks.push(Task {
                    name,
                    start: time.clone(),
                    end: None,
                    exit_code: None,
                });
                tasks.len() - 1
            }
        };
        if let Some(status) = after.strip_prefix("completed ") {
            let task = &mut tasks[index];
            task.end = time;
            task.exit_code = Some(i32::from(status.trim() != "success"));
        }
    }
    tasks
}

/// The `[YYYY-MM-DD HH:MM:SS]` a `--timestamps` line starts with, as RFC 3339 (UTC).
fn timestamp(line: &str) -> Option<String> {
    let stamp = line.strip_prefix('[')?.get(..19)?;
    let (date, clock) = stamp.split_once(' ')?;
    let ok = date.len() == 10
        && clock.len() == 8
        && date.bytes().filter(u8::is_ascii_digit).count() == 8
        && clock.bytes().filter(u8::is_ascii_digit).count() == 6;
    ok.then(|| format!("{date}T{clock}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_read_from_the_log_without_paths() {
        let log = "\
[2026-11-24 10:00:00] INFO /venv/bin/cwltool 3.3
[2026-11-24 10:00:01] INFO [workflow ] start
[2026-11-24 10:00:01] INFO [step count] start
[2026-11-24 10:00:01] INFO [job count] /data/wes/runs/x/tmp/abc$ samtools view -c \\
[2026-11-24 10:00:02] INFO [job count] completed success
[2026-11-24 10:00:02] INFO [job count_2] /tmp/y$ samtools
[2026-11-24 10:00:03] WARNING [job count_2] completed permanentFail
[job odd";
        let tasks = tasks_of_log(log);
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].name, "count");
        assert_eq!(tasks[0].start.as_deref(), Some("2026-11-24T10:00:01Z"));
        assert_eq!(tasks[0].end.as_deref(), Some("2026-11-24T10:00:02Z"));
        assert_eq!(tasks[0].exit_code, Some(0));
        assert_eq!(tasks[1].exit_code, Some(1));
        let json = serde_json::to_string(&tasks).unwrap_or_default();
        assert!(!json.contains('/'), "{json}");
    }

    #[test]
    fn logs_lose_their_host_paths() {
        let folder = std::path::Path::new("/data/wes/runs/abc");
        let log = "[job count] /data/wes/runs/abc/tmp/x$ samtools view -c \\\n    /data/wes/runs/abc/inputs/a.bam chr20:1-10\nINFO /work/main/.venv-engines/bin/cwltool 3.3\nfile:///etc/passwd ok='/home/u/x' 1/2 a/b";
        let out = super::super::redact_paths(log, folder);
        assert!(out.contains("./tmp/x$ samtools view -c"), "{out}");
        assert!(out.contains("./inputs/a.bam chr20:1-10"), "{out}");
        assert!(out.contains("INFO <path> 3.3"), "{out}");
        assert!(out.contains("'<path>'") && out.contains("1/2 a/b"), "{out}");
        for leak in ["/data", "/work", "/home", "/etc"] {
            assert!(!out.contains(leak), "{leak} in {out}");
        }
    }

    #[test]
    fn toil_tasks_are_read_from_its_log() {
        let log = "\
[2026-11-24T11:48:02+0000] [MainThread] [I] [toil.leader] Issued job 'CWLJob' count-reads.cwl.1.count.cwl kind-CWLJob/instance-j1 v1 with job batch system ID: 2
[2026-11-24T11:48:02+0000] [MainThread] [I] [toil.leader] Issued job 'CWLJob' count-reads.cwl.0.count.cwl kind-CWLJob/instance-5c v1 with job batch system ID: 3
[2026-11-24T11:48:05+0000] [Thread-5] [I] [toil.statsAndLogging] Got message from job at time 11-24-2026 11:48:05: CWL step complete: count-reads.cwl.1.count.cwl
[2026-11-24T11:48:06+0000] [MainThread] [W] [toil.leader] Job failed with exit value 127: 'CWLJob' count-reads.cwl.0.count.cwl kind-CWLJob/instance-5c v1
";
        let tasks = tasks_of_log(log);
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].name, "count-reads.cwl.1.count.cwl");
        assert_eq!(tasks[0].start.as_deref(), Some("2026-11-24T11:48:02Z"));
        assert_eq!(tasks[0].end.as_deref(), Some("2026-11-24T11:48:05Z"));
        assert_eq!(
            (tasks[0].exit_code, tasks[1].exit_code),
            (Some(0), Some(127))
        );
    }

    #[test]
    fn parameters_are_typed() {
        let flag = ParameterSpec {
            name: "--parallel".into(),
            kind: ParameterKind::Boolean,
            default: "false".into(),
            engines: vec!["cwltool".into()],
        };
        assert_eq!(
            parameter_args(&flag, "true"),
            Ok(vec!["--parallel".to_owned()])
        );
        assert_eq!(parameter_args(&flag, "false"), Ok(vec![]));
        assert!(parameter_args(&flag, "--rm -rf").is_err());
        let cores = ParameterSpec {
            name: "--maxCores".into(),
            kind: ParameterKind::Integer { min: 1, max: 2 },
            default: "1".into(),
            engines: vec!["toil".into()],
        };
        assert_eq!(
            parameter_args(&cores, "2"),
            Ok(vec!["--maxCores".to_owned(), "2".to_owned()])
        );
        assert!(parameter_args(&cores, "3").is_err());
        assert!(parameter_args(&cores, "1; rm").is_err());
    }
}
