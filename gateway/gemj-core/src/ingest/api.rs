//! `POST /ingest/v1/{kind}`: an institution sends files of one kind; the gateway ingests them
//! as the institution (the owner of new participants and of consent events), audits the
//! decision and answers the report.

use super::ApplyOptions;
use super::report::IngestReport;
use super::sources::{InputFile, Kind, NoProgress, Readers, ingest_files};
use crate::access::{Action, Outcome, Principal, RequestContext, Resource};
use crate::{Core, CoreError};

/// Ingests `files` of `kind` for the calling institution.
///
/// # Errors
/// [`CoreError::CredentialRequired`] without a credential; [`CoreError::Denied`] for a caller
/// that is not an institution; [`CoreError::NotFound`] for an unknown kind;
/// [`CoreError::InvalidInput`] for genome files (registered from paths) or no files; store and
/// audit failures.
pub async fn post(
    core: &Core,
    ctx: &RequestContext,
    principal: &Principal,
    kind: &str,
    files: Vec<InputFile>,
    dry_run: bool,
    readers: &Readers,
) -> Result<IngestReport, CoreError> {
    let institution = match principal {
        Principal::Anonymous => return Err(CoreError::CredentialRequired),
        Principal::Institution(i) => Some(i.institution.clone()),
        _ => None,
    };
    let resource = match &institution {
        Some(i) => Resource::Institution(i.clone()),
        None => Resource::Service,
    };
    let decision = core
        .access
        .evaluate(ctx, principal, Action::ManageParticipants, &resource)
        .await?;
    if !decision.is_permit() {
        return Err(core.access.refuse(decision, false).await);
    }
    let Some(kind) = Kind::parse(kind) else {
        core.access.record(decision, Outcome::default()).await?.ok();
        return Err(CoreError::NotFound);
    };
    if files.is_empty() {
        core.access.record(decision, Outcome::default()).await?.ok();
        return Err(CoreError::InvalidInput("no file was sent".to_owned()));
    }
    let options = ApplyOptions {
        institution,
        dry_run,
        own_participants_only: true,
    };
    let result = ingest_files(&core.store, kind, files, readers, &options, &NoProgress).await;
    let outcome = Outcome {
        returned: result.as_ref().ok().map(|r| r.totals.records),
        filtered: result.as_ref().ok().map(|r| r.totals.quarantined),
        ..Outcome::default()
    };
    let Ok(_permit) = core.access.record(decision, outcome).await? else {
        return Err(CoreError::AuditUnavailable);
    };
    let report = result?;
    if !report.totals.changed_nothing() || report.by_kind.contains_key("consent") {
        // Consent events appended by the ingest are enforced before the answer.
        core.consent.refresh().await?;
    }
    Ok(report)
}
