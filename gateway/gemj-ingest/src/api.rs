//! `POST /ingest/v1/{kind}`: an institution sends files of one kind; the gateway ingests them
//! as the institution (the owner of new participants and of consent events), audits the
//! decision and answers the report.

use super::ApplyOptions;
use super::report::IngestReport;
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
