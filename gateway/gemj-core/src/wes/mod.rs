//! GA4GH WES 1.1 over the gateway's data: runs of CWL workflows on real engines (cwltool on the
//! embedded default, Toil for clusters), their `drs://` inputs authorised through the one
//! enforcement call with the caller's passport and staged through signed data URLs (so every
//! fetch is decided and audited again, with consent re-checked), their outputs registered as
//! DRS objects only their owner and their project's members see, and the runs themselves in the store, so any replica
//! answers for any run.
//!
//! - Submission ([`WesService::submit`]): the run and every input are asked in one
//!   enforcement; one input refused and nothing starts (403 naming it). The answer returns as
//!   soon as the run is stored (QUEUED); staging and the engine follow in the background
//!   ([`runner`]).
//! - Reading and cancelling: a run exists for its owner only (another caller's is a 404, like
//!   an absent one), each read one audited decision.
//! - Withdrawal: each instance re-checks, every `watch_interval`, the participants of the runs
//!   its engines run against its consent view; a run whose data a participant no longer
//!   consents to share with the caller is stopped (PREEMPTED) and its outputs discarded.

mod engine;
mod runner;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gemj_model::{AccessLevel, DataFormat, DatasetId, ParticipantId, SpecimenId};
use gemj_wes::form::Submission;
use gemj_wes::url::WorkflowSource;
use gemj_wes::{
    RunId, RunListResponse, RunLog, RunStatus, RunSummary, ServiceInfo, State, TaskListResponse,
    TaskLog,
};
use serde::{Deserialize, Serialize};

pub use engine::{
    Engine, EngineConfig, EngineKind, ParameterKind, ParameterSpec, Task, parameter_args,
    tasks_of_log,
};

use crate::access::{Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource};
use crate::data::{object_outcome, object_resource, participants_of};
use crate::data_url::{SliceGrant, UrlGrant};
use crate::{CoreError, Shared};

/// The tag naming the project a run's outputs belong to, among the projects its inputs were
/// approved under (see [`project_of`]). Other tags, `project` among them, are the client's own.
pub const PROJECT_TAG: &str = "approval_project";

/// Page sizes of `GET /runs` and `GET /runs/{id}/tasks`.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
/// The largest page; a larger `page_size` gets this many.
pub const MAX_PAGE_SIZE: i64 = 100;

/// The settings of the WES service.
#[derive(Debug, Clone)]
pub struct WesSettings {
    /// The gateway's public base URL (task URLs, `drs://` host).
    pub base_url: String,
    /// The DRS compact-identifier prefix (`drs://<prefix>:<id>` inputs).
    pub drs_prefix: String,
    /// Where run folders are made (`<data>/wes`).
    pub work_dir: PathBuf,
    /// This instance's id (runs record which instance's engine runs them).
    pub instance: String,
    /// The configured engines, the first the default.
    pub engines: Vec<EngineConfig>,
    /// Folders searched for engine programs, and the engines' `PATH`.
    pub path: Vec<PathBuf>,
    /// The `https` roots workflows may be fetched from.
    pub workflow_roots: Vec<String>,
    /// The engine parameters clients may set.
    pub parameters: Vec<ParameterSpec>,
    /// How often active runs are re-checked against consent and cancellation (and their
    /// instance says it still runs them).
    pub watch_interval: Duration,
    /// How long an active run may go unconfirmed by its instance before any instance reports
    /// it as SYSTEM_ERROR (its instance, and the engine with it, is gone).
    pub stale_after: Duration,
    /// Where a caller learns to get a passport.
    pub auth_instructions_url: String,
    /// The CWL versions accepted.
    pub cwl_versions: Vec<String>,
    /// Which outputs of runs over analysis-only datasets may leave.
    pub release_rule: ReleaseRule,
}

/// Which outputs of a run over an analysis-only dataset (a trusted research environment) may
/// leave it. Individual-level data is recognised by its first bytes
/// (`gemj_genomics::sniff::individual_level`: reads, or calls with sample columns).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseRule {
    /// Aggregate outputs only, each once an administrator (the committee) releases it;
    /// individual-level outputs never leave.
    #[default]
    AggregateReviewed,
    /// Aggregate outputs leave as soon as they are registered; individual-level outputs never.
    AggregateAutomatic,
    /// Any output, once an administrator releases it.
    Reviewed,
}

impl ReleaseRule {
    /// Whether an output that is (or is not) individual-level is held at registration.
    #[must_use]
    pub fn holds(self, individual_level: bool) -> bool {
        self != Self::AggregateAutomatic || individual_level
    }

    /// Whether an administrator may release an output that is (or is not) individual-level.
    #[must_use]
    pub fn releasable(self, individual_level: bool) -> bool {
        self == Self::Reviewed || !individual_level
    }
}

/// The service: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct WesService {
    core: Shared,
    settings: Arc<WesSettings>,
    engines: Arc<tokio::sync::OnceCell<Vec<Engine>>>,
    runs: runner::Runs,
}

/// What the store keeps of a run's inputs (column `inputs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Inputs {
    /// The objects staged, by `drs://` URI as the client wrote it.
    objects: BTreeMap<String, String>,
    /// Whose data they hold.
    participants: Vec<ParticipantId>,
    /// The consent scope they were authorised under.
    industry: bool,
    international: bool,
    /// Where outputs are registered (the inputs' datasets of the strictest level).
    datasets: Vec<DatasetId>,
    /// The specimens outputs derive from.
    specimens: Vec<SpecimenId>,
    /// The engine's extra arguments (from typed parameters).
    args: Vec<String>,
    /// An input is in an analysis-only dataset: outputs are held for the committee's release.
    #[serde(default)]
    held: bool,
    /// The project the outputs belong to (see [`project_of`]); `None`: the owner alone.
    #[serde(default)]
    project: Option<String>,
    /// The workflow, relative to the run's folder.
    workflow: String,
}

/// What the store keeps of a run's log (column `log`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RunRecord {
    #[serde(default)]
    cmd: Vec<String>,
    #[serde(default)]
    system_logs: Vec<String>,
    #[serde(default)]
    tasks: Vec<Task>,
    /// The engine's process (its group's leader), while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
}

/// One input as planned at submission: the signed grant staging fetches it with.
#[derive(Debug, Clone)]
pub(crate) struct PlannedInput {
    /// The URI the client wrote.
    pub(crate) uri: String,
    /// The file name it is staged as.
    pub(crate) name: String,
    /// The object and its signed grant (a data URL's token).
    pub(crate) object: gemj_model::ObjectId,
    pub(crate) token: String,
    /// Its index, staged beside it (`<name>.<ext>`), when the caller may read it.
    pub(crate) index: Option<(gemj_model::ObjectId, String, String)>,
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

impl WesService {
    /// The service. In the background it finds the configured engines and their versions,
    /// marks the runs this instance was running before it stopped as SYSTEM_ERROR (their
    /// engines died with it), and starts the watch over active runs. Must be called inside a
    /// tokio runtime.
    #[must_use]
    pub fn new(core: Shared, settings: WesSettings) -> Self {
        let service = Self {
            core,
            settings: Arc::new(settings),
            engines: Arc::new(tokio::sync::OnceCell::new()),
            runs: runner::Runs::default(),
        };
        let warm = service.clone();
        tokio::spawn(async move {
            warm.engines().await;
        });
        runner::spawn_watch(service.clone());
        service
    }

    /// The engines found (detected once, on first use, when stale runs are also reconciled).
    pub async fn engines(&self) -> &[Engine] {
        self.engines
            .get_or_init(async || {
                let settings = &self.settings;
                let mut engines = Vec::new();
                for config in &settings.engines {
                    match engine::detect(config, &runner::search_path(&settings.path), &settings.path)
                        .await
                    {
                        Some(e) => engines.push(e),
                        // A program named by path was meant to be there; one looked up by name
                        // (the defaults) is offered when it is installed.
                        None if config.program.components().count() > 1 => tracing::warn!(
                            message = "A configured WES engine was not found or did not start; it is not offered.",
                            engine = %config.name
                        ),
                        None => tracing::info!(
                            message = "A WES engine is not installed on PATH or wes.path; it is not offered (the README's WES section says how to install it).",
                            engine = %config.name
                        ),
                    }
                }
                if let Err(e) = self.reconcile().await {
                    tracing::error!(message = "Stale WES runs could not be reconciled.", error = %e);
                }
                engines
            })
            .await
    }

    /// Active runs whose engines are gone: on this host, those whose engine process no longer
    /// exists and whose instance stopped confirming them; on any host, those their instance has not confirmed for
    /// `stale_after` (at start and at every few watch ticks, by whichever instance looks).
    async fn reconcile(&self) -> Result<(), CoreError> {
        let active = self.core.store.wes_runs_in(&ACTIVE).await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let stale = i64::try_from(self.settings.stale_after.as_secs()).unwrap_or(i64::MAX);
        let tick = i64::try_from(self.settings.watch_interval.as_secs().max(1)).unwrap_or(1);
        let mine = self.runs.ids();
        for run in active {
            if mine.contains(&run.run_id) {
                continue;
            }
            let record: RunRecord = serde_json::from_str(&run.log).unwrap_or_default();
            // A live instance confirms its runs every tick, also while it registers outputs
            // after its engine exited: only a run unconfirmed for three ticks can have lost
            // its engine.
            let unconfirmed = run.heartbeat.saturating_add(3 * tick) < now;
            let engine_gone = unconfirmed
                && run.instance == self.settings.instance
                && record
                    .pid
                    .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
            let silent = run.heartbeat.saturating_add(stale) < now;
            if engine_gone || silent {
                self.report_lost(run, record).await?;
            }
        }
        Ok(())
    }

    /// Reports a run whose engine is gone as SYSTEM_ERROR (if it is still active).
    async fn report_lost(
        &self,
        run: gemj_store::WesRunRow,
        mut record: RunRecord,
    ) -> Result<(), CoreError> {
        record.pid = None;
        record.system_logs.push(
            "The gateway instance running this run stopped, and its engine with it.".to_owned(),
        );
        self.core
            .store
            .change_wes_run(
                &run.run_id,
                &ACTIVE,
                State::SystemError.as_str(),
                &gemj_store::WesRunChange {
                    end_time: Some(now_rfc3339()),
                    log: serde_json::to_string(&record).ok(),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    /// WES service-info: the GA4GH service members (`service`), workflow types, engines and
    /// their versions, protocols, engine parameters, and the caller's runs per state.
    ///
    /// # Errors
    /// Store failures.
    pub async fn service_info(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        service: gemj_service_info::Service,
    ) -> Result<ServiceInfo, CoreError> {
        let mut counts: BTreeMap<String, i64> = State::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        // A passport holder's own runs are counted, as one audited read of their runs.
        if let Principal::Passport(_) = principal {
            let own = self
                .own_runs(ctx, principal, async |owner| {
                    let own = self.core.store.wes_state_counts(owner).await?;
                    let n = own.len();
                    Ok((own, n))
                })
                .await?;
            for (state, n) in own {
                counts.insert(state, n);
            }
        }
        let s = &self.settings;
        let found = self.engines().await;
        let mut engines = BTreeMap::new();
        for e in found {
            engines
                .entry(e.config.name.clone())
                .or_insert_with(|| gemj_wes::WorkflowEngineVersion {
                    workflow_engine_version: Vec::new(),
                })
                .workflow_engine_version
                .push(e.version.clone());
        }
        let mut tags = BTreeMap::new();
        tags.insert("workflow_url_roots".to_owned(), s.workflow_roots.join(" "));
        tags.insert(
            "workflow_url".to_owned(),
            "a workflow_attachment's relative path, an https URL under workflow_url_roots, or \
             a drs:// id of this gateway"
                .to_owned(),
        );
        tags.insert(
            "default_engine".to_owned(),
            found
                .first()
                .map(|e| e.config.name.clone())
                .unwrap_or_default(),
        );
        tags.insert(
            "outputs".to_owned(),
            "each output file becomes a DRS object of this gateway in the datasets of the run's \
             inputs, readable by the run's owner and the members of its project (callers with an \
             approval in force for the project its inputs were approved under; the tag `approval_project` \
             chooses among several), each under those datasets' rules"
                .to_owned(),
        );
        Ok(ServiceInfo {
            service,
            workflow_type_versions: [(
                "CWL".to_owned(),
                gemj_wes::WorkflowTypeVersion {
                    workflow_type_version: s.cwl_versions.clone(),
                },
            )]
            .into(),
            supported_wes_versions: vec![gemj_wes::WES_VERSION.to_owned()],
            supported_filesystem_protocols: vec!["drs".to_owned(), "https".to_owned()],
            workflow_engine_versions: engines,
            default_workflow_engine_parameters: s
                .parameters
                .iter()
                .map(|p| gemj_wes::DefaultWorkflowEngineParameter {
                    name: p.name.clone(),
                    r#type: p.kind.name().to_owned(),
                    default_value: p.default.clone(),
                })
                .collect(),
            system_state_counts: counts,
            auth_instructions_url: s.auth_instructions_url.clone(),
            tags,
        })
    }

    /// Submits a run: checks the request against what this service offers, authorises the run
    /// and every `drs://` input (of the parameters, of attachments and the workflow itself) in
    /// one enforcement, stores the run (QUEUED) and starts it in the background.
    ///
    /// # Errors
    /// [`CoreError::InvalidInput`] (400) for a request this service cannot run;
    /// [`CoreError::Forbidden`] (403) naming an input the caller may not read (or that does
    /// not exist); [`CoreError::CredentialRequired`]/[`CoreError::Denied`] for a caller who may
    /// not run workflows; [`CoreError::ConsentStale`]; store failures.
    pub async fn submit(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        submission: Submission,
    ) -> Result<RunId, CoreError> {
        let request = &submission.request;
        let engine = choose_engine(&self.settings, self.engines().await, request)?;
        let args = self.engine_args(engine, request)?;
        let attachments: Vec<&str> = submission
            .attachments
            .iter()
            .map(|a| a.path.as_str())
            .collect();
        let source = gemj_wes::url::classify(
            &request.workflow_url,
            &attachments,
            &self.settings.workflow_roots,
        )
        .map_err(|p| CoreError::InvalidInput(p.to_string()))?;
        // A workflow from an https root is fetched now (its host checked at this moment), so a
        // workflow that cannot be had is a 400, not a failed run.
        let fetched = match &source {
            WorkflowSource::Https(url) => Some(
                runner::fetch_workflow(url)
                    .await
                    .map_err(CoreError::InvalidInput)?,
            ),
            _ => None,
        };
        // Every drs:// input: of the parameters, of the attachments' text, and the workflow.
        let mut uris = gemj_wes::inputs::drs_uris(&request.workflow_params);
        for a in &submission.attachments {
            for uri in gemj_wes::inputs::drs_uris_in_text(&a.bytes) {
                if !uris.contains(&uri) {
                    uris.push(uri);
                }
            }
        }
        if let WorkflowSource::Drs(uri) = &source
            && !uris.contains(uri)
        {
            uris.push(uri.clone());
        }
        if uris.len() > 256 {
            return Err(CoreError::InvalidInput(
                "A run may read at most 256 drs:// inputs.".to_owned(),
            ));
        }
        let host = gemj_drs::host_of(&self.settings.base_url);
        let mut wanted = Vec::new();
        for uri in &uris {
            let id = gemj_wes::inputs::local_object_id(uri, &host, &self.settings.drs_prefix)
                .ok_or_else(|| {
                    CoreError::InvalidInput(format!(
                        "Input {} is not a drs:// id of this gateway (drs://{host}/<id> or \
                         drs://{}:<id>).",
                        shown(uri),
                        self.settings.drs_prefix
                    ))
                })?;
            wanted.push((uri.clone(), id.to_owned()));
        }
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let plan = self
            .authorise(
                ctx,
                principal,
                &run_id,
                &wanted,
                request.tags.get(PROJECT_TAG),
            )
            .await?;
        // The decisions are durable: now the run may be written and started.
        let workflow = match &source {
            WorkflowSource::Attachment(path) => format!("{}/{path}", engine::layout::WORKFLOW),
            WorkflowSource::Https(_) | WorkflowSource::Drs(_) => {
                format!("{}/main.cwl", engine::layout::WORKFLOW)
            }
        };
        let inputs = Inputs {
            objects: plan
                .inputs
                .iter()
                .map(|i| (i.uri.clone(), i.object.as_str().to_owned()))
                .collect(),
            participants: plan.participants.clone(),
            industry: plan.industry,
            international: plan.international,
            datasets: plan.datasets.clone(),
            specimens: plan.specimens.clone(),
            held: plan.held,
            project: plan.project.clone(),
            args,
            workflow,
        };
        let row = gemj_store::WesRunRow {
            seq: 0,
            run_id: run_id.clone(),
            owner: principal.audit_name(),
            state: State::Queued.as_str().to_owned(),
            request: serde_json::to_string(request).unwrap_or_default(),
            engine: engine.config.name.clone(),
            instance: self.settings.instance.clone(),
            inputs: serde_json::to_string(&inputs).unwrap_or_default(),
            created_at: now_rfc3339(),
            start_time: None,
            end_time: None,
            exit_code: None,
            outputs: None,
            log: serde_json::to_string(&RunRecord::default()).unwrap_or_default(),
            heartbeat: time::OffsetDateTime::now_utc().unix_timestamp(),
        };
        let folder = runner::prepare_folder(
            &self.settings.work_dir,
            &run_id,
            &submission,
            fetched
                .as_deref()
                .map(|bytes| (inputs.workflow.as_str(), bytes)),
        )
        .await
        .map_err(|e| {
            tracing::error!(message = "A WES run folder could not be written.", error = %e);
            CoreError::Task { cancelled: false }
        })?;
        self.core.store.insert_wes_run(&row).await?;
        runner::spawn_run(
            self.clone(),
            runner::Launch {
                run_id: run_id.clone(),
                owner: principal.audit_name(),
                engine: engine.clone(),
                folder,
                source,
                workflow_url: request.workflow_url.clone(),
                params: request.workflow_params.clone(),
                planned: plan.inputs,
                inputs,
            },
        );
        Ok(RunId { run_id })
    }

    /// The engine's arguments for the request's engine parameters: each must be a configured
    /// parameter of this engine, with a value of its type.
    fn engine_args(
        &self,
        engine: &Engine,
        request: &gemj_wes::RunRequest,
    ) -> Result<Vec<String>, CoreError> {
        let mut args = Vec::new();
        for (name, value) in &request.workflow_engine_parameters {
            let Some(spec) = self
                .settings
                .parameters
                .iter()
                .find(|p| p.name == *name && p.engines.contains(&engine.config.name))
            else {
                return Err(CoreError::InvalidInput(format!(
                    "engine parameter {} is not one this service lets clients set for {} \
                     (service-info: default_workflow_engine_parameters).",
                    shown(name),
                    engine.config.name
                )));
            };
            args.extend(parameter_args(spec, value).map_err(CoreError::InvalidInput)?);
        }
        Ok(args)
    }

    /// Decides the run and each input in one enforcement; on a permit of everything, signs a
    /// grant per input (and per readable index) for staging.
    async fn authorise(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        run_id: &str,
        wanted: &[(String, String)],
        tagged: Option<&String>,
    ) -> Result<Plan, CoreError> {
        let core = &self.core;
        let mut enforcement = core.access.begin(ctx, principal);
        let run = Ask::new(
            Action::ReadData,
            Resource::Run {
                id: Some(run_id.to_owned()),
                owner: principal.audit_name(),
            },
        );
        if !enforcement.ask(run).await?.is_permit() {
            let denial = enforcement.refuse().await?;
            return Err(OnDenial::Explain.error(denial));
        }
        let mut found = Vec::new();
        for (uri, id) in wanted {
            let message = format!(
                "Input {} cannot be read by this caller: it does not exist, or the caller may \
                 not read it (passport, approval, data-use conditions or consent).",
                shown(uri)
            );
            let refused = || CoreError::Forbidden(message.clone());
            let Some((object, resource)) = object_resource(core, id).await? else {
                enforcement.refuse().await?;
                return Err(refused());
            };
            let datasets = match &resource {
                Resource::Object { datasets, .. } => datasets.clone(),
                _ => Vec::new(),
            };
            if !enforcement
                .ask(Ask::new(Action::Analyse, resource))
                .await?
                .is_permit()
            {
                enforcement.refuse().await?;
                return Err(refused());
            }
            let index = match &object.index {
                Some(ix) => object_resource(core, ix.as_str()).await?,
                None => None,
            };
            let index_at = match index {
                Some((ix, resource)) => {
                    let v = enforcement.ask(Ask::new(Action::Analyse, resource)).await?;
                    Some((ix, v.index()))
                }
                None => None,
            };
            found.push((uri.clone(), object, datasets, index_at, message));
        }
        let released = enforcement
            .release(async |verdicts: &crate::Verdicts| -> Result<_, CoreError> {
                let mut outcomes = vec![Outcome::returned(1)];
                let mut plan = Plan::default();
                let mut scope = None;
                let mut datasets: Vec<Arc<gemj_model::Dataset>> = Vec::new();
                let mut names = BTreeSet::new();
                let mut approvals = BTreeSet::new();
                for (uri, object, object_datasets, index_at, refused) in &found {
                    let at = outcomes.len();
                    let permit = verdicts.permit(at).ok_or(CoreError::AuditUnavailable)?;
                    let participants = participants_of(core, object).await?;
                    let served = participants.iter().filter(|p| permit.serves(p)).count();
                    let multi = matches!(object.format, DataFormat::Vcf | DataFormat::Bcf)
                        && object.specimens.len() > 1;
                    let whole = served == participants.len();
                    outcomes.push(object_outcome(
                        permit,
                        &participants,
                        u64::from(served > 0),
                    )?);
                    let usable = whole || (multi && served > 0);
                    if !usable {
                        return Err(CoreError::Forbidden(refused.clone()));
                    }
                    let slice = (!whole).then(SliceGrant::default);
                    let name = unique_name(&mut names, &object.name, object.id.as_str());
                    let token = grant(core, permit, principal, run_id, &object.id, slice);
                    let index = match index_at {
                        // A filtered VCF no longer matches its index: the workflow indexes it.
                        Some((ix, i)) if whole => {
                            let ix_permit = verdicts.permit(*i);
                            outcomes.push(match ix_permit {
                                Some(p) => object_outcome(p, &participants, 1)?,
                                None => Outcome::nothing(),
                            });
                            ix_permit.map(|p| {
                                let ext = ix.format.as_str().to_ascii_lowercase();
                                (
                                    ix.id.clone(),
                                    format!("{name}.{ext}"),
                                    grant(core, p, principal, run_id, &ix.id, None),
                                )
                            })
                        }
                        Some(_) => {
                            outcomes.push(Outcome::nothing());
                            None
                        }
                        None => None,
                    };
                    plan.inputs.push(PlannedInput {
                        uri: uri.clone(),
                        name,
                        object: object.id.clone(),
                        token,
                        index,
                    });
                    plan.participants
                        .extend(participants.iter().filter(|p| permit.serves(p)).cloned());
                    // Outputs derive from the specimens staged: a filtered VCF's
                    // excluded columns are not among them.
                    if whole {
                        plan.specimens.extend(object.specimens.iter().cloned());
                    } else {
                        for specimen in &object.specimens {
                            let owners = core
                                .store
                                .participants_of_specimens(std::slice::from_ref(specimen))
                                .await?;
                            if owners.iter().all(|p| permit.serves(p)) {
                                plan.specimens.push(specimen.clone());
                            }
                        }
                    }
                    datasets.extend(object_datasets.iter().cloned());
                    approvals.extend(permit.approval().cloned());
                    let s = permit.scope();
                    let merged = scope.get_or_insert(s);
                    merged.industry |= s.industry;
                    merged.international |= s.international;
                }
                plan.participants.sort();
                plan.participants.dedup();
                plan.specimens.sort();
                plan.specimens.dedup();
                let scope = scope.unwrap_or_default();
                plan.industry = scope.industry;
                plan.international = scope.international;
                let policy = core.access.settings();
                plan.held = datasets.iter().any(|d| policy.is_analysis_only(d));
                plan.datasets = strictest(&datasets);
                plan.project = project_of(core, principal, &approvals, tagged).await?;
                Ok((plan, outcomes))
            })
            .await?;
        Ok(released.value)
    }

    /// The caller's runs, newest first, a page at a time.
    ///
    /// # Errors
    /// [`CoreError::InvalidInput`] for a `page_size` below 1 or a page token that is not this
    /// caller's; as [`WesService::run_log`].
    pub async fn list(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        page_size: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<RunListResponse, CoreError> {
        let size = page_size_of(page_size)?;
        let owner = principal.audit_name();
        let before = match page_token.filter(|t| !t.is_empty()) {
            Some(t) => Some(self.read_token("runs", &owner, t)?),
            None => None,
        };
        self.own_runs(ctx, principal, async |owner| {
            let rows = self.core.store.wes_runs_of(owner, before, size + 1).await?;
            let more = rows.len() > usize::try_from(size).unwrap_or(usize::MAX);
            let rows: Vec<_> = rows
                .into_iter()
                .take(usize::try_from(size).unwrap_or(usize::MAX))
                .collect();
            let next_page_token = match (more, rows.last()) {
                (true, Some(last)) => self.write_token("runs", owner, last.seq),
                _ => String::new(),
            };
            let runs: Vec<RunSummary> = rows.iter().map(summary_of).collect();
            let n = runs.len();
            Ok((
                RunListResponse {
                    runs,
                    next_page_token,
                },
                n,
            ))
        })
        .await
    }

    /// Reads the caller's own runs (`read` gets the owner and answers with how many records it
    /// returns), in one audited decision.
    async fn own_runs<T>(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        read: impl AsyncFnOnce(&str) -> Result<(T, usize), CoreError>,
    ) -> Result<T, CoreError> {
        let owner = principal.audit_name();
        let ask = Ask::new(
            Action::ReadMetadata,
            Resource::Run {
                id: None,
                owner: owner.clone(),
            },
        );
        self.core
            .access
            .enforce(
                ctx,
                principal,
                ask,
                OnDenial::Explain,
                async |_: &Permit| {
                    let (value, n) = read(&owner).await?;
                    Ok::<_, CoreError>((value, Outcome::returned(n)))
                },
            )
            .await
    }

    /// Reads one run of the caller's, in one audited decision (another caller's run is a 404,
    /// as an absent one).
    async fn read_run<T>(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        run_id: &str,
        action: Action,
        serve: impl AsyncFnOnce(gemj_store::WesRunRow) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let row = if run_id.len() <= 64 {
            self.core.store.wes_run(run_id).await?
        } else {
            None
        };
        let owner = row.as_ref().map(|r| r.owner.clone()).unwrap_or_default();
        let ask = Ask::new(
            action,
            Resource::Run {
                id: Some(run_id.chars().take(64).collect()),
                owner,
            },
        );
        self.core
            .access
            .enforce(
                ctx,
                principal,
                ask,
                OnDenial::HideFromCredentialed,
                async move |_: &Permit| {
                    let row = row.ok_or(CoreError::NotFound)?;
                    Ok::<_, CoreError>((serve(row).await?, Outcome::returned(1)))
                },
            )
            .await
    }

    /// A run's log: the request, state, the engine's command and times, outputs.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] for an absent run or another caller's;
    /// [`CoreError::CredentialRequired`] for anonymous callers; store failures.
    pub async fn run_log(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        run_id: &str,
    ) -> Result<RunLog, CoreError> {
        self.read_run(ctx, principal, run_id, Action::ReadMetadata, async |row| {
            Ok(self.log_of(&row))
        })
        .await
    }

    /// A run's state.
    ///
    /// # Errors
    /// As [`WesService::run_log`].
    pub async fn status(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        run_id: &str,
    ) -> Result<RunStatus, CoreError> {
        self.read_run(ctx, principal, run_id, Action::ReadMetadata, async |row| {
            Ok(RunStatus {
                run_id: row.run_id.clone(),
                state: state_of(&row),
            })
        })
        .await
    }

    /// Cancels a run: an active run goes to CANCELING and its engine is stopped (by the
    /// instance running it, within a watch interval); a finished run is left as it is.
    ///
    /// # Errors
    /// As [`WesService::run_log`].
    pub async fn cancel(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        run_id: &str,
    ) -> Result<RunId, CoreError> {
        self.read_run(ctx, principal, run_id, Action::Administer, async |row| {
            if !state_of(&row).is_terminal() {
                let moved = self
                    .core
                    .store
                    .change_wes_run(
                        &row.run_id,
                        &ACTIVE,
                        State::Canceling.as_str(),
                        &gemj_store::WesRunChange::default(),
                    )
                    .await?;
                if moved {
                    self.runs.stop(&row.run_id, runner::Stop::Cancel);
                }
            }
            Ok(RunId {
                run_id: row.run_id.clone(),
            })
        })
        .await
    }

    /// A run's tasks, a page at a time.
    ///
    /// # Errors
    /// As [`WesService::list`] and [`WesService::run_log`].
    pub async fn tasks(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        run_id: &str,
        page_size: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<TaskListResponse, CoreError> {
        let size = usize::try_from(page_size_of(page_size)?).unwrap_or(usize::MAX);
        let owner = principal.audit_name();
        let start = match page_token.filter(|t| !t.is_empty()) {
            Some(t) => usize::try_from(self.read_token(&format!("tasks:{run_id}"), &owner, t)?)
                .unwrap_or(usize::MAX),
            None => 0,
        };
        self.read_run(ctx, principal, run_id, Action::ReadMetadata, async |row| {
            let tasks = self.tasks_of(&row);
            let page: Vec<TaskLog> = tasks.iter().skip(start).take(size).cloned().collect();
            let next = start + page.len();
            let next_page_token = if next < tasks.len() {
                self.write_token(
                    &format!("tasks:{run_id}"),
                    &owner,
                    i64::try_from(next).unwrap_or(i64::MAX),
                )
            } else {
                String::new()
            };
            Ok(TaskListResponse {
                task_logs: page,
                next_page_token,
            })
        })
        .await
    }

    /// One task of a run.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] for an unknown task; as [`WesService::run_log`].
    pub async fn task(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        run_id: &str,
        task_id: &str,
    ) -> Result<TaskLog, CoreError> {
        self.read_run(ctx, principal, run_id, Action::ReadMetadata, async |row| {
            self.tasks_of(&row)
                .into_iter()
                .find(|t| t.id == task_id)
                .ok_or(CoreError::NotFound)
        })
        .await
    }

    /// The engine's log of a run (its last MiB), with every host path removed: the run's folder
    /// reads `.`, any other absolute path `<path>`.
    ///
    /// # Errors
    /// As [`WesService::run_log`].
    pub async fn stderr(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        run_id: &str,
    ) -> Result<String, CoreError> {
        self.read_run(ctx, principal, run_id, Action::ReadMetadata, async |row| {
            let folder = self.settings.work_dir.join("runs").join(&row.run_id);
            let bytes = tokio::fs::read(folder.join(engine::layout::STDERR))
                .await
                .unwrap_or_default();
            let tail = &bytes[bytes.len().saturating_sub(1 << 20)..];
            Ok(redact_paths(&String::from_utf8_lossy(tail), &folder))
        })
        .await
    }

    /// The run outputs held for the committee's release (outputs of analysis-only inputs), for
    /// administrators.
    ///
    /// # Errors
    /// [`CoreError::Denied`] for anyone else; store failures.
    pub async fn held_outputs(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
    ) -> Result<Vec<HeldOutput>, CoreError> {
        crate::approvals_api::administer(&self.core, ctx, principal, &Resource::Approvals).await?;
        Ok(self
            .core
            .store
            .held_objects()
            .await?
            .into_iter()
            .map(HeldOutput::from)
            .collect())
    }

    /// Releases a held output (an administrator's decision, audited first): from then on its
    /// owner may download it.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] when the object is not a held output; [`CoreError::Denied`] for
    /// anyone but an administrator; store failures.
    pub async fn release_output(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        object: &str,
    ) -> Result<HeldOutput, CoreError> {
        crate::approvals_api::administer(&self.core, ctx, principal, &Resource::Approvals).await?;
        let id = gemj_model::ObjectId::parse(object).map_err(|_| CoreError::NotFound)?;
        let held = self.core.store.object_owner(&id).await?;
        if !held.is_some_and(|o| o.held) {
            return Err(CoreError::NotFound);
        }
        if let Some(kind) = self.individual_level(&id).await?
            && !self.settings.release_rule.releasable(true)
        {
            return Err(CoreError::Conflict(format!(
                "{object} is individual-level data ({kind}); the release rule lets only aggregate outputs leave"
            )));
        }
        if !self
            .core
            .store
            .release_object(&id, &principal.audit_name())
            .await?
        {
            return Err(CoreError::NotFound);
        }
        self.core
            .store
            .object_owner(&id)
            .await?
            .map(HeldOutput::from)
            .ok_or(CoreError::NotFound)
    }

    /// The individual-level format a stored output is, read from its first bytes.
    async fn individual_level(
        &self,
        id: &gemj_model::ObjectId,
    ) -> Result<Option<&'static str>, CoreError> {
        let Some(object) = self.core.store.get_object(id).await? else {
            return Ok(None);
        };
        let objects = &self.core.objects;
        let Some(key) = objects.key_from_uri(&object.storage_uri) else {
            return Ok(None);
        };
        let len = object.size.min(gemj_genomics::sniff::HEAD_BYTES as u64);
        let mut head = Vec::new();
        if len > 0 {
            let reader = objects.open_range(&key, 0, len).await?;
            tokio::io::AsyncReadExt::read_to_end(&mut { reader }, &mut head)
                .await
                .map_err(|e| CoreError::Objects(e.into()))?;
        }
        Ok(gemj_genomics::sniff::individual_level(&head))
    }

    fn tasks_of(&self, row: &gemj_store::WesRunRow) -> Vec<TaskLog> {
        let record: RunRecord = serde_json::from_str(&row.log).unwrap_or_default();
        let tasks = if record.tasks.is_empty() && row.instance == self.settings.instance {
            // A running run's tasks are read from its engine's log as they happen.
            runner::live_tasks(&self.settings.work_dir, &row.run_id)
        } else {
            record.tasks
        };
        tasks
            .into_iter()
            .enumerate()
            .map(|(i, t)| TaskLog {
                id: (i + 1).to_string(),
                name: t.name,
                cmd: Vec::new(),
                start_time: t.start,
                end_time: t.end,
                stdout: None,
                stderr: None,
                exit_code: t.exit_code,
                system_logs: Vec::new(),
            })
            .collect()
    }

    fn log_of(&self, row: &gemj_store::WesRunRow) -> RunLog {
        let record: RunRecord = serde_json::from_str(&row.log).unwrap_or_default();
        let request = serde_json::from_str(&row.request).unwrap_or_else(|_| gemj_wes::RunRequest {
            workflow_params: serde_json::json!({}),
            workflow_type: String::new(),
            workflow_type_version: String::new(),
            tags: BTreeMap::new(),
            workflow_engine_parameters: BTreeMap::new(),
            workflow_engine: None,
            workflow_engine_version: None,
            workflow_url: String::new(),
        });
        RunLog {
            run_id: row.run_id.clone(),
            request,
            state: state_of(row),
            run_log: gemj_wes::Log {
                name: Some(row.engine.clone()),
                cmd: record.cmd,
                start_time: row.start_time.clone(),
                end_time: row.end_time.clone(),
                stdout: None,
                stderr: Some(format!(
                    "{}/ga4gh/wes/v1/runs/{}/stderr",
                    self.settings.base_url.trim_end_matches('/'),
                    row.run_id
                )),
                exit_code: row.exit_code,
                system_logs: record.system_logs,
            },
            task_logs_url: format!(
                "{}/ga4gh/wes/v1/runs/{}/tasks",
                self.settings.base_url.trim_end_matches('/'),
                row.run_id
            ),
            outputs: row
                .outputs
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or_else(|| serde_json::json!({})),
        }
    }

    /// An opaque page token: where the next page starts, bound to the caller and the list by an
    /// HMAC (another caller's token, or an altered one, is a 400).
    fn write_token(&self, list: &str, owner: &str, at: i64) -> String {
        let body = at.to_string();
        let tag = self
            .core
            .urls
            .tag_labelled(&format!("wes-page\0{list}\0{owner}"), &body);
        URL_SAFE_NO_PAD.encode(format!("{body}.{tag}"))
    }

    fn read_token(&self, list: &str, owner: &str, token: &str) -> Result<i64, CoreError> {
        let bad = || {
            CoreError::InvalidInput(
                "page_token is not a token this service gave this caller for this list.".to_owned(),
            )
        };
        let text = URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let (body, tag) = text.split_once('.').ok_or_else(bad)?;
        if !self
            .core
            .urls
            .verify_labelled(&format!("wes-page\0{list}\0{owner}"), body, tag)
        {
            return Err(bad());
        }
        body.parse().map_err(|_| bad())
    }
}

/// A run output that leaves only once the committee releases it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct HeldOutput {
    /// The output's DRS id.
    pub object: String,
    /// Whose it is (`issuer#subject`).
    pub owner: String,
    /// The run that made it.
    pub run_id: String,
    /// Still held.
    pub held: bool,
    /// The administrator who released it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_by: Option<String>,
    /// When (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
}

impl From<gemj_store::ObjectOwner> for HeldOutput {
    fn from(o: gemj_store::ObjectOwner) -> Self {
        Self {
            object: o.object,
            owner: o.owner,
            run_id: o.run_id,
            held: o.held,
            released_by: o.released_by,
            released_at: o.released_at,
        }
    }
}

/// The states of a run that is not over.
const ACTIVE: [&str; 5] = ["QUEUED", "INITIALIZING", "RUNNING", "PAUSED", "CANCELING"];

/// What authorisation planned.
#[derive(Debug, Default)]
struct Plan {
    inputs: Vec<PlannedInput>,
    held: bool,
    project: Option<String>,
    participants: Vec<ParticipantId>,
    specimens: Vec<SpecimenId>,
    datasets: Vec<DatasetId>,
    industry: bool,
    international: bool,
}

/// The project a run's outputs belong to: the project of the approvals its inputs were
/// authorised under. Inputs approved under several projects need the tag [`PROJECT_TAG`] naming one
/// of them; a run with no approved input belongs to a tagged project only when the caller holds
/// an approval in force for it. `None` (no approval, no tag): the outputs are the owner's alone.
///
/// # Errors
/// [`CoreError::InvalidInput`] (400) for a tag that names no project of the caller's (or not
/// the one its inputs were approved under), or several projects and no tag.
async fn project_of(
    core: &Shared,
    principal: &Principal,
    approvals: &BTreeSet<gemj_model::ApprovalId>,
    tagged: Option<&String>,
) -> Result<Option<String>, CoreError> {
    let mut projects = BTreeSet::new();
    for id in approvals {
        if let Some(a) = core.store.get_approval(id).await? {
            projects.insert(a.project);
        }
    }
    let listed = || {
        projects
            .iter()
            .map(String::as_str)
            .map(shown)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (tagged, projects.len()) {
        (Some(tag), 0) => {
            let Principal::Passport(p) = principal else {
                return Err(CoreError::InvalidInput(
                    "Only a passport holder's run belongs to a project.".to_owned(),
                ));
            };
            let now = time::OffsetDateTime::now_utc();
            let member = core
                .store
                .approvals_of(&p.issuer, &p.subject)
                .await?
                .iter()
                .any(|a| a.project == *tag && a.in_force(now));
            if member {
                Ok(Some(tag.clone()))
            } else {
                Err(CoreError::InvalidInput(format!(
                    "tag `approval_project` {} is not the project of an approval of this caller in force.",
                    shown(tag)
                )))
            }
        }
        (Some(tag), _) if projects.contains(tag) => Ok(Some(tag.clone())),
        (Some(tag), _) => Err(CoreError::InvalidInput(format!(
            "tag `approval_project` {} is not the project this run's inputs were approved under ({}).",
            shown(tag),
            listed()
        ))),
        (None, 0) => Ok(None),
        (None, 1) => Ok(projects.pop_first()),
        (None, _) => Err(CoreError::InvalidInput(format!(
            "This run's inputs were approved under several projects ({}): name the one its \
             outputs belong to with the tag `approval_project`.",
            listed()
        ))),
    }
}

/// Signs a grant for staging `object` for run `run_id` (the whole of it, or re-encoded without
/// the samples the caller may not be served): the only kind of grant that reads an
/// analysis-only dataset.
fn grant(
    core: &Shared,
    permit: &Permit,
    principal: &Principal,
    run_id: &str,
    object: &gemj_model::ObjectId,
    slice: Option<SliceGrant>,
) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ttl = i64::try_from(core.urls.ttl().as_secs()).unwrap_or(300);
    let scope = permit.scope();
    core.urls.sign(&UrlGrant {
        object: object.clone(),
        start: 0,
        end: None,
        principal: principal.audit_name(),
        approval: permit.approval().cloned(),
        industry: scope.industry,
        international: scope.international,
        exp: principal.url_expiry(now, ttl),
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        slice,
        analysis: Some(run_id.to_owned()),
    })
}

/// The datasets of the strictest access level among `datasets` (derived data of CONTROLLED
/// inputs stays CONTROLLED).
fn strictest(datasets: &[Arc<gemj_model::Dataset>]) -> Vec<DatasetId> {
    let rank = |l: AccessLevel| match l {
        AccessLevel::Controlled => 2,
        AccessLevel::Registered => 1,
        AccessLevel::Public => 0,
    };
    let top = datasets.iter().map(|d| rank(d.access_level)).max();
    let mut out: Vec<DatasetId> = datasets
        .iter()
        .filter(|d| Some(rank(d.access_level)) == top)
        .map(|d| d.id.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A file name for a staged input: the object's name, made unique among the run's inputs.
fn unique_name(taken: &mut BTreeSet<String>, name: &str, id: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.');
    let base = if clean.is_empty() { id } else { clean };
    let mut candidate = base.to_owned();
    let mut n = 1;
    while !taken.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{n}-{base}");
    }
    candidate
}

/// A client's text as shown in a message: at most 200 characters, no control characters.
fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn page_size_of(page_size: Option<i64>) -> Result<i64, CoreError> {
    match page_size {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n >= 1 => Ok(n.min(MAX_PAGE_SIZE)),
        Some(_) => Err(CoreError::InvalidInput(
            "page_size must be a positive integer.".to_owned(),
        )),
    }
}

fn state_of(row: &gemj_store::WesRunRow) -> State {
    State::parse(&row.state).unwrap_or(State::Unknown)
}

fn summary_of(row: &gemj_store::WesRunRow) -> RunSummary {
    let tags = serde_json::from_str::<gemj_wes::RunRequest>(&row.request)
        .map(|r| r.tags)
        .unwrap_or_default();
    RunSummary {
        run_id: row.run_id.clone(),
        state: state_of(row),
        start_time: row.start_time.clone(),
        end_time: row.end_time.clone(),
        tags,
    }
}

/// The engine a request names (or the default), checked with the workflow type.
fn choose_engine<'a>(
    settings: &WesSettings,
    engines: &'a [Engine],
    request: &gemj_wes::RunRequest,
) -> Result<&'a Engine, CoreError> {
    let bad = |m: String| Err(CoreError::InvalidInput(m));
    if !request.workflow_type.eq_ignore_ascii_case("CWL") {
        return bad("workflow_type must be CWL (service-info: workflow_type_versions).".into());
    }
    if !settings
        .cwl_versions
        .iter()
        .any(|v| v == &request.workflow_type_version)
    {
        return bad(format!(
            "workflow_type_version must be one of {} (service-info: workflow_type_versions).",
            settings.cwl_versions.join(", ")
        ));
    }
    let Some(first) = engines.first() else {
        return bad("No workflow engine is available on this gateway.".into());
    };
    let Some(name) = &request.workflow_engine else {
        if request.workflow_engine_version.is_some() {
            return bad("workflow_engine_version needs workflow_engine.".into());
        }
        return Ok(first);
    };
    let Some(engine) = engines.iter().filter(|e| e.config.name == *name).find(|e| {
        request
            .workflow_engine_version
            .as_ref()
            .is_none_or(|v| *v == e.version)
    }) else {
        return bad(
            "workflow_engine (and workflow_engine_version) must be one this service offers \
             (service-info: workflow_engine_versions)."
                .into(),
        );
    };
    Ok(engine)
}

/// `log` with the run's folder written `.` and every other absolute path `<path>` (a `/` that
/// follows neither a letter, a digit, `.` nor `/`, up to the next space, quote or bracket), so
/// no host path leaves in a log.
#[must_use]
pub fn redact_paths(log: &str, folder: &std::path::Path) -> String {
    let own = folder.display().to_string();
    let text = log.replace(&format!("{own}/"), "./").replace(&own, ".");
    let mut out = String::with_capacity(text.len());
    let mut prev = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let boundary = !(prev.is_alphanumeric() || prev == '.' || prev == '/');
        if c == '/'
            && boundary
            && chars
                .peek()
                .is_some_and(|n| n.is_alphanumeric() || "._/".contains(*n))
        {
            while chars
                .peek()
                .is_some_and(|n| !n.is_whitespace() && !"'\"),]".contains(*n))
            {
                chars.next();
            }
            out.push_str("<path>");
            prev = '>';
            continue;
        }
        out.push(c);
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ReleaseRule;

    #[test]
    fn release_rules_keep_individual_level_data_inside_unless_reviewed_alone() {
        use ReleaseRule::{AggregateAutomatic, AggregateReviewed, Reviewed};
        // (rule, individual-level) → (held at registration, releasable by an administrator)
        for (rule, individual, held, releasable) in [
            (AggregateReviewed, false, true, true),
            (AggregateReviewed, true, true, false),
            (AggregateAutomatic, false, false, true),
            (AggregateAutomatic, true, true, false),
            (Reviewed, false, true, true),
            (Reviewed, true, true, true),
        ] {
            assert_eq!(rule.holds(individual), held, "{rule:?} {individual}");
            assert_eq!(
                rule.releasable(individual),
                releasable,
                "{rule:?} {individual}"
            );
        }
        assert_eq!(ReleaseRule::default(), AggregateReviewed);
        let parsed: ReleaseRule =
            serde_json::from_str(r#""aggregate_automatic""#).unwrap_or_default();
        assert_eq!(parsed, AggregateAutomatic);
    }
}
