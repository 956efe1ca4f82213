//! `POST /ingest/v1/{kind}`: an institution sends files of one kind; the gateway ingests them
//! as the institution (the owner of new participants and of consent events), audits the
//! decision and answers the report.

use super::ApplyOptions;
use super::report::{IngestReport, Outcome as RecordOutcome};
use super::sources::{InputFile, Kind, NoProgress, Readers, ingest_files};
use gemj_core::access::{
    Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource,
};
use gemj_core::{CoreError, Shared};

/// The ingest API's service: built once at start with the readers of every input kind.
#[derive(Debug, Clone)]
pub struct IngestService {
    core: Shared,
    readers: Readers,
}

impl IngestService {
    /// The service over the gateway's shared parts, reading with `readers`.
    #[must_use]
    pub fn new(core: Shared, readers: Readers) -> Self {
        Self { core, readers }
    }

    /// Ingests `files` of `kind` for the calling institution.
    ///
    /// # Errors
    /// [`CoreError::CredentialRequired`] without a credential; [`CoreError::Denied`] for a caller
    /// that is not an institution; [`CoreError::NotFound`] for an unknown kind;
    /// [`CoreError::InvalidInput`] for genome files (registered from paths) or no files; store and
    /// audit failures.
    pub async fn post(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        kind: &str,
        files: Vec<InputFile>,
        dry_run: bool,
    ) -> Result<IngestReport, CoreError> {
        let (core, readers) = (&self.core, &self.readers);
        let institution = match principal {
            Principal::Anonymous => return Err(CoreError::CredentialRequired),
            Principal::Institution(i) => Some(i.institution.clone()),
            _ => None,
        };
        let resource = match &institution {
            Some(i) => Resource::Institution(i.clone()),
            None => Resource::Service,
        };
        let options = ApplyOptions {
            institution,
            dry_run,
            own_participants_only: true,
        };
        let ask = Ask::new(Action::ManageParticipants, resource);
        let report = core
            .access()
            .enforce(
                ctx,
                principal,
                ask,
                OnDenial::Explain,
                async |_: &Permit| {
                    let Some(kind) = Kind::parse(kind) else {
                        return Err(CoreError::NotFound);
                    };
                    if files.is_empty() {
                        return Err(CoreError::InvalidInput("no file was sent".to_owned()));
                    }
                    let report =
                        ingest_files(core.store(), kind, files, readers, &options, &NoProgress)
                            .await?;
                    let outcome = Outcome {
                        returned: Some(report.totals.records),
                        filtered: Some(report.totals.quarantined),
                        ..Outcome::default()
                    };
                    Ok::<_, CoreError>((report, outcome))
                },
            )
            .await?;
        if !report.totals.changed_nothing() || report.by_kind.contains_key("consent") {
            // Consent events appended by the ingest are enforced before the answer.
            core.consent().refresh().await?;
        }
        Ok(report)
    }
}

/// A FHIR `transaction` or `batch` Bundle posted to `/fhir`, read as the EHR adapter reads it
/// and answered as FHIR R4 §3.1.0.11 says.
///
/// A transaction is all or nothing: it is first applied as a dry run, and any entry the ingest
/// would refuse (an unresolved subject, another institution's participant, a record the
/// adapter cannot read) makes it a 400 naming that entry, with nothing stored. Otherwise it is
/// applied in one store transaction and each entry answered in request order: `201 Created`
/// for what it created, `200 OK` for what was stored already or merged (a replayed bundle,
/// a conditional create that matched), with the `location` reads use. A batch applies what it
/// can and answers a failed entry with its own `400` and `OperationOutcome`.
///
/// # Errors
/// 400 `OperationOutcome`s for a body that is not a transaction or batch Bundle, or a failed
/// transaction; access, store and audit failures as [`FhirFailure::Core`].
pub async fn fhir_bundle(
    service: &IngestService,
    ctx: &RequestContext,
    principal: &Principal,
    bundle: &serde_json::Value,
    bytes: Vec<u8>,
) -> Result<serde_json::Value, gemj_core::fhir::FhirFailure> {
    use gemj_fhir::bundle::{EntryResponse, response_bundle};
    use gemj_fhir::{FhirError, Issue, IssueCode};
    let Some(kind @ ("transaction" | "batch")) =
        bundle.get("type").and_then(serde_json::Value::as_str)
    else {
        return Err(FhirError::bad_request(
            IssueCode::Invalid,
            "Bundle.type",
            "POST to the base takes a Bundle of type transaction or batch",
        )
        .into());
    };
    let entries = bundle
        .get("entry")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    let file = || InputFile {
        name: format!("fhir-{}", ctx.request_id),
        bytes: bytes.clone(),
    };
    let refused = |report: &IngestReport| -> Option<FhirError> {
        let file = report.refused_files.first()?;
        let issues: Vec<Issue> = if file.errors.is_empty() {
            vec![Issue::error(IssueCode::Invalid, file.reason.clone())]
        } else {
            file.errors
                .iter()
                .take(20)
                .map(|e| {
                    let (pointer, message) = e.split_once(": ").unwrap_or(("", e.as_str()));
                    Issue::error(IssueCode::Invalid, format!("schema: {message}"))
                        .at(gemj_fhir::model::fhirpath("Bundle", pointer))
                })
                .collect()
        };
        Some(FhirError {
            status: 400,
            issues,
        })
    };
    if kind == "transaction" {
        let dry = service
            .post(ctx, principal, "fhir", vec![file()], true)
            .await?;
        if let Some(e) = refused(&dry) {
            return Err(e.into());
        }
        let failed: Vec<Issue> = dry
            .placed
            .iter()
            .filter(|p| p.outcome == RecordOutcome::Quarantined)
            .map(|p| {
                let n = entry_number(p.position.as_deref());
                let at = n.map_or_else(|| "Bundle".to_owned(), |n| format!("Bundle.entry[{n}]"));
                Issue::error(
                    IssueCode::Processing,
                    format!(
                        "entry {}: {}; the transaction stored nothing",
                        n.map_or_else(|| "?".to_owned(), |n| n.to_string()),
                        p.reason.as_deref().unwrap_or("refused")
                    ),
                )
                .at(at)
            })
            .collect();
        if !failed.is_empty() {
            return Err(FhirError {
                status: 400,
                issues: failed,
            }
            .into());
        }
    }
    let report = service
        .post(ctx, principal, "fhir", vec![file()], false)
        .await?;
    if let Some(e) = refused(&report) {
        return Err(e.into());
    }
    let mut responses = Vec::with_capacity(entries);
    for n in 0..entries {
        let placed: Vec<&super::report::Placed> = report
            .placed
            .iter()
            .filter(|p| entry_number(p.position.as_deref()) == Some(n))
            .collect();
        let quarantined = placed
            .iter()
            .find(|p| p.outcome == RecordOutcome::Quarantined);
        let response = if let Some(q) = quarantined {
            EntryResponse {
                status: "400 Bad Request".to_owned(),
                location: None,
                outcome: Some(gemj_fhir::outcome::operation_outcome(&[Issue::error(
                    IssueCode::Processing,
                    q.reason.clone().unwrap_or_default(),
                )
                .at(format!("Bundle.entry[{n}]"))])),
            }
        } else if let Some(p) = placed.first() {
            let created = placed.iter().any(|p| p.outcome == RecordOutcome::Created);
            EntryResponse {
                status: if created { "201 Created" } else { "200 OK" }.to_owned(),
                location: p
                    .participant
                    .as_ref()
                    .and_then(|id| gemj_core::fhir::location(&p.kind, id, &p.key)),
                outcome: None,
            }
        } else {
            EntryResponse {
                status: "200 OK".to_owned(),
                location: None,
                outcome: None,
            }
        };
        responses.push(response);
    }
    Ok(response_bundle(kind, &responses))
}

/// The entry number of an adapter position (`entry 3 (Specimen)`).
fn entry_number(position: Option<&str>) -> Option<usize> {
    position?
        .strip_prefix("entry ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}
