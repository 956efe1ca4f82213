//! GA4GH Workflow Execution Service (WES) 1.1.0 as a protocol, pure: no I/O, no HTTP framework,
//! no clock.
//!
//! - The wire types with the specification's names ([`RunId`], [`RunStatus`], [`RunSummary`],
//!   [`RunListResponse`], [`RunRequest`], [`RunLog`], [`Log`], [`TaskLog`],
//!   [`TaskListResponse`], [`ServiceInfo`], [`ErrorResponse`]) and the eleven [`State`]s.
//! - [`form`]: the multipart fields of `POST /runs` turned into a validated [`form::Submission`]
//!   (every field typed, attachment names refused rather than cleaned, limits).
//! - [`url`]: what a `workflow_url` may be (an attachment, an `https` URL under an allowed root,
//!   a `drs://` id) and which addresses are never fetched.
//! - [`inputs`]: the `drs://` references of a run's parameters and attachments, and the rewrite
//!   of those parameters to staged files.

pub mod form;
pub mod inputs;
pub mod url;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The WES version served.
pub const WES_VERSION: &str = "1.1.0";

/// The state of a run (WES `State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Not known (a run this service cannot account for).
    Unknown,
    /// Accepted, waiting to start.
    Queued,
    /// Inputs are being staged.
    Initializing,
    /// The engine is running.
    Running,
    /// Paused (never entered by this service).
    Paused,
    /// Finished; outputs are registered.
    Complete,
    /// The workflow failed (the engine exited non-zero).
    ExecutorError,
    /// The service failed the run (staging, registering outputs, an engine that died).
    SystemError,
    /// Canceled by its owner.
    Canceled,
    /// Being canceled.
    Canceling,
    /// Stopped by the system: here, when a participant whose data it reads withdrew.
    Preempted,
}

impl State {
    /// Every state, in the specification's order.
    pub const ALL: [State; 11] = [
        Self::Unknown,
        Self::Queued,
        Self::Initializing,
        Self::Running,
        Self::Paused,
        Self::Complete,
        Self::ExecutorError,
        Self::SystemError,
        Self::Canceled,
        Self::Canceling,
        Self::Preempted,
    ];

    /// The wire name (`RUNNING`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Queued => "QUEUED",
            Self::Initializing => "INITIALIZING",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSED",
            Self::Complete => "COMPLETE",
            Self::ExecutorError => "EXECUTOR_ERROR",
            Self::SystemError => "SYSTEM_ERROR",
            Self::Canceled => "CANCELED",
            Self::Canceling => "CANCELING",
            Self::Preempted => "PREEMPTED",
        }
    }

    /// The state of a wire name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the run is over: nothing will change it any more.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Complete
                | Self::ExecutorError
                | Self::SystemError
                | Self::Canceled
                | Self::Preempted
        )
    }
}

/// `RunId`: the answer of `POST /runs` and `POST /runs/{id}/cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunId {
    /// The run's id.
    pub run_id: String,
}

/// `RunStatus`: the answer of `GET /runs/{id}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStatus {
    /// The run's id.
    pub run_id: String,
    /// Its state.
    pub state: State,
}

/// `RunSummary`: one run of `GET /runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id.
    pub run_id: String,
    /// Its state.
    pub state: State,
    /// When it started executing (`%Y-%m-%dT%H:%M:%SZ`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When it stopped executing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// The client's tags.
    pub tags: BTreeMap<String, String>,
}

/// `RunListResponse`: a page of `GET /runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunListResponse {
    /// The runs of this page, newest first.
    pub runs: Vec<RunSummary>,
    /// The token of the next page; empty on the last page.
    pub next_page_token: String,
}

/// `RunRequest`: what a run was asked to do, as the client sent it (`drs://` inputs as sent,
/// never the staged paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The workflow's inputs (a JSON object).
    pub workflow_params: Value,
    /// `CWL`.
    pub workflow_type: String,
    /// `v1.0`, `v1.1` or `v1.2`.
    pub workflow_type_version: String,
    /// The client's tags.
    pub tags: BTreeMap<String, String>,
    /// Engine parameters (names from the service's list, values as sent).
    pub workflow_engine_parameters: BTreeMap<String, String>,
    /// The engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_engine: Option<String>,
    /// The engine's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_engine_version: Option<String>,
    /// The workflow: an attachment's path, an `https` URL or a `drs://` id.
    pub workflow_url: String,
}

/// `Log`: a run's or a task's command, times, exit code and log URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// The workflow's or task's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The command line (the engine's; no host path).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// A URL of the standard output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// A URL of the standard error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// The exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What the service says about the run (why it failed, was preempted, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_logs: Vec<String>,
}

/// `TaskLog`: one step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLog {
    /// The task's id, unique in its run.
    pub id: String,
    /// The step's name.
    pub name: String,
    /// The command line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// A URL of the standard output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// A URL of the standard error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// The exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What the service says about the task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_logs: Vec<String>,
}

/// `RunLog`: everything about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    /// The run's id.
    pub run_id: String,
    /// What was asked.
    pub request: RunRequest,
    /// The state.
    pub state: State,
    /// The engine's log.
    pub run_log: Log,
    /// Where the tasks are listed (`.../runs/{id}/tasks`).
    pub task_logs_url: String,
    /// The outputs: the workflow's output object, each file a `drs://` id of this gateway.
    pub outputs: Value,
}

/// `TaskListResponse`: a page of `GET /runs/{id}/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskListResponse {
    /// The tasks of this page, in the order they started.
    pub task_logs: Vec<TaskLog>,
    /// The token of the next page; empty on the last page.
    pub next_page_token: String,
}

/// `WorkflowTypeVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowTypeVersion {
    /// The versions accepted.
    pub workflow_type_version: Vec<String>,
}

/// `WorkflowEngineVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowEngineVersion {
    /// The versions available.
    pub workflow_engine_version: Vec<String>,
}

/// `DefaultWorkflowEngineParameter`: one engine parameter a client may set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultWorkflowEngineParameter {
    /// Its name.
    pub name: String,
    /// Its type (`integer`, `boolean`, `string`).
    #[serde(rename = "type")]
    pub r#type: String,
    /// Its default, stringified.
    pub default_value: String,
}

/// `ServiceInfo`: GA4GH service-info plus WES's own members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The service-info members.
    #[serde(flatten)]
    pub service: gemj_service_info::Service,
    /// Workflow types and their versions.
    pub workflow_type_versions: BTreeMap<String, WorkflowTypeVersion>,
    /// `["1.1.0"]`.
    pub supported_wes_versions: Vec<String>,
    /// Where inputs may come from (`drs`, and `https` for workflows).
    pub supported_filesystem_protocols: Vec<String>,
    /// Engines and their versions.
    pub workflow_engine_versions: BTreeMap<String, WorkflowEngineVersion>,
    /// The engine parameters a client may set.
    pub default_workflow_engine_parameters: Vec<DefaultWorkflowEngineParameter>,
    /// The caller's runs per state.
    pub system_state_counts: BTreeMap<String, i64>,
    /// How to get a passport.
    pub auth_instructions_url: String,
    /// Free-form facts about the service.
    pub tags: BTreeMap<String, String>,
}

/// `ErrorResponse`: `{"msg", "status_code"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// What went wrong, for a person (never an input's content or a host path).
    pub msg: String,
    /// The HTTP status.
    pub status_code: u16,
}

#[cfg(test)]
mod tests;
