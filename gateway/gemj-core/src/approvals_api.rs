//! The approvals of the data-use review committee, managed by administrators: record an
//! approval, read it, list a researcher's, and suspend, reactivate or revoke one. A revoked
//! approval is final, and denies at once: every CONTROLLED decision reads the approvals from the
//! store.

use gemj_model::{
    Application, ApplicationDecision, Approval, ApprovalEvent, ApprovalId, ApprovalStatus,
    DatasetId, DuoCode,
};
use gemj_store::StoredApplication;

use crate::access::{Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource};
use crate::{CoreError, Shared};

/// Lets administrators through (an audited decision on `resource`); anyone else is denied.
pub(crate) async fn administer(
    core: &Shared,
    ctx: &RequestContext,
    principal: &Principal,
    resource: &Resource,
) -> Result<(), CoreError> {
    let ask = Ask::new(Action::Administer, resource.clone());
    core.access
        .enforce(
            ctx,
            principal,
            ask,
            OnDenial::Explain,
            async |_: &Permit| Ok::<_, CoreError>(((), Outcome::default())),
        )
        .await
}

/// The service of the data-use committee's approvals: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct ApprovalsService {
    core: Shared,
}

impl ApprovalsService {
    /// The service over the gateway's shared parts.
    #[must_use]
    pub fn new(core: Shared) -> Self {
        Self { core }
    }
}

impl ApprovalsService {
    /// Records an approval (idempotent: the same approval again changes nothing).
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator; [`CoreError::InvalidInput`]
    /// for an invalid approval or unknown dataset; [`CoreError::Conflict`] when another approval
    /// with this id is stored.
    pub async fn put(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        approval: &Approval,
    ) -> Result<Approval, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Approvals).await?;
        approval
            .validate()
            .map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        for d in &approval.datasets {
            if core.store.get_dataset(d).await?.is_none() {
                return Err(CoreError::InvalidInput(format!("unknown dataset {d}")));
            }
        }
        // Recording is idempotent, never an update: changing an approval (above all reactivating
        // a revoked one) goes through its status, so an approval's history cannot be rewritten.
        if let Some(stored) = core.store.get_approval(&approval.id).await? {
            if stored == *approval {
                return Ok(stored);
            }
            return Err(CoreError::Conflict(format!(
                "approval {} is stored with other contents; change its status instead",
                approval.id
            )));
        }
        match core.store.put_approval(approval).await {
            Ok(()) => {}
            Err(gemj_store::StoreError::Conflict { .. }) => {
                return Err(CoreError::Conflict(format!(
                    "approval {} is stored with other contents; change its status instead",
                    approval.id
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(message = "Approval recorded.", approval = %approval.id);
        core.store
            .get_approval(&approval.id)
            .await?
            .ok_or(CoreError::NotFound)
    }

    /// One approval.
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator; [`CoreError::NotFound`].
    pub async fn get(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
    ) -> Result<Approval, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Approvals).await?;
        let Ok(id) = ApprovalId::parse(id) else {
            return Err(CoreError::NotFound);
        };
        core.store
            .get_approval(&id)
            .await?
            .ok_or(CoreError::NotFound)
    }

    /// Every approval of a researcher (`issuer` and `subject` of their passport).
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator.
    pub async fn of_researcher(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<Approval>, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Approvals).await?;
        Ok(core.store.approvals_of(issuer, subject).await?)
    }

    /// Suspends, reactivates or revokes an approval, recording who did it and why (`reason`,
    /// at most [`gemj_model::approval::MAX_APPLICATION_TEXT`] characters; empty when the API
    /// caller gave none). Revocation is final. In force at once: every CONTROLLED decision reads
    /// the approvals from the store.
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator; [`CoreError::NotFound`];
    /// [`CoreError::Conflict`] when reactivating or suspending a revoked approval;
    /// [`CoreError::InvalidInput`] for a reason too long.
    pub async fn set_status(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
        status: ApprovalStatus,
        reason: &str,
    ) -> Result<Approval, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Approvals).await?;
        let reason = bounded_reason(reason)?;
        let Ok(id) = ApprovalId::parse(id) else {
            return Err(CoreError::NotFound);
        };
        let event = ApprovalEvent {
            at: time::OffsetDateTime::now_utc(),
            status,
            reason,
            by: principal.audit_name(),
        };
        changed(core.store.change_approval_status(&id, &event).await, || {
            format!("approval {id} is revoked; revocation is final")
        })?;
        tracing::info!(message = "Approval status changed.", approval = %id, status = status.as_str());
        core.store
            .get_approval(&id)
            .await?
            .ok_or(CoreError::NotFound)
    }

    /// What the committee works from: the pending applications (oldest last) and the approvals,
    /// most recently changed first, at most `limit` of each.
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator.
    pub async fn committee_view(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        limit: u32,
    ) -> Result<CommitteeView, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Approvals).await?;
        Ok(CommitteeView {
            pending: core.store.list_applications(true, limit).await?,
            approvals: core.store.list_approvals(limit).await?,
        })
    }

    /// An approval's status changes with their reasons, for the committee.
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator; [`CoreError::NotFound`].
    pub async fn history(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
    ) -> Result<Vec<ApprovalEvent>, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Approvals).await?;
        let Ok(id) = ApprovalId::parse(id) else {
            return Err(CoreError::NotFound);
        };
        Ok(core.store.approval_events(&id).await?)
    }

    /// A researcher applies for access to one dataset. Only a caller who may read the
    /// dataset's description (a registered researcher, for a CONTROLLED dataset) may apply;
    /// the decision is audited like any other, and the application waits for the committee.
    ///
    /// # Errors
    /// [`CoreError::CredentialRequired`] for an anonymous caller; [`CoreError::Denied`] when
    /// the caller may not see the dataset (or is not a researcher); [`CoreError::NotFound`] for
    /// an unknown dataset; [`CoreError::InvalidInput`] for terms that do not validate.
    pub async fn apply(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        dataset: &str,
        terms: ApplicationTerms,
    ) -> Result<Application, CoreError> {
        let core = &self.core;
        let Principal::Passport(passport) = principal else {
            return Err(match principal {
                Principal::Anonymous => CoreError::CredentialRequired,
                _ => CoreError::Forbidden("only a researcher applies for access".to_owned()),
            });
        };
        let Ok(dataset) = DatasetId::parse(dataset) else {
            return Err(CoreError::NotFound);
        };
        let Some(d) = core.store.get_dataset(&dataset).await? else {
            return Err(CoreError::NotFound);
        };
        let application = Application {
            id: ApprovalId::parse(&format!("APP-{}", uuid::Uuid::new_v4().simple()))
                .map_err(|e| CoreError::InvalidInput(e.to_string()))?,
            researcher_issuer: passport.issuer.clone(),
            researcher_subject: passport.subject.clone(),
            institution: terms.institution,
            project: terms.project,
            purpose: terms.purpose,
            diseases: terms.diseases,
            for_profit: terms.for_profit,
            country: terms.country,
            datasets: vec![dataset],
            submitted_at: time::OffsetDateTime::now_utc(),
        };
        application
            .validate()
            .map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        let ask = Ask::new(Action::ReadMetadata, Resource::dataset(d));
        core.access
            .enforce(
                ctx,
                principal,
                ask,
                OnDenial::Explain,
                async |_: &Permit| {
                    core.store.put_application(&application).await?;
                    Ok::<_, CoreError>(((), Outcome::returned(1)))
                },
            )
            .await?;
        tracing::info!(message = "Application submitted.", application = %application.id);
        Ok(application)
    }

    /// The caller's own approvals and applications (a researcher's page).
    ///
    /// # Errors
    /// [`CoreError::CredentialRequired`] for an anonymous caller; [`CoreError::Denied`] for a
    /// caller without a passport.
    pub async fn mine(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
    ) -> Result<OwnApprovals, CoreError> {
        let core = &self.core;
        let ask = Ask::new(Action::ReadMetadata, Resource::OwnApprovals);
        core.access
            .enforce(
                ctx,
                principal,
                ask,
                OnDenial::CredentialRequired,
                async |_: &Permit| {
                    let Principal::Passport(p) = principal else {
                        return Err(CoreError::CredentialRequired);
                    };
                    let own = OwnApprovals {
                        approvals: core.store.approvals_of(&p.issuer, &p.subject).await?,
                        applications: core.store.applications_of(&p.issuer, &p.subject).await?,
                    };
                    let n = own.approvals.len() + own.applications.len();
                    Ok((own, Outcome::returned(n)))
                },
            )
            .await
    }

    /// The committee decides a pending application with a reason: approving records an
    /// approval with the application's terms, valid from now for `valid_days`, active at once;
    /// rejecting records only the decision. Decided once.
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator; [`CoreError::NotFound`];
    /// [`CoreError::Conflict`] when it is already decided; [`CoreError::InvalidInput`] for a
    /// missing or too long reason or a period of 0 or more than 1,830 days.
    pub async fn decide(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
        approve: bool,
        reason: &str,
        valid_days: u16,
    ) -> Result<ApplicationDecision, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Approvals).await?;
        let reason = bounded_reason(reason)?;
        if reason.is_empty() {
            return Err(CoreError::InvalidInput(
                "the committee's decision needs a reason".to_owned(),
            ));
        }
        if valid_days == 0 || valid_days > 1830 {
            return Err(CoreError::InvalidInput(
                "an approval is valid for 1 to 1830 days".to_owned(),
            ));
        }
        let Ok(id) = ApprovalId::parse(id) else {
            return Err(CoreError::NotFound);
        };
        let Some(stored) = core.store.get_application(&id).await? else {
            return Err(CoreError::NotFound);
        };
        let now = time::OffsetDateTime::now_utc();
        let approval = approve.then(|| {
            let approval_id = ApprovalId::parse(&format!("APR-{}", uuid::Uuid::new_v4().simple()));
            approval_id.map(|aid| {
                stored.application.approval(
                    aid,
                    now,
                    now + time::Duration::days(i64::from(valid_days)),
                )
            })
        });
        let approval = approval
            .transpose()
            .map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        let decision = ApplicationDecision {
            approved: approve,
            at: now,
            by: principal.audit_name(),
            reason,
            approval: approval.as_ref().map(|a| a.id.clone()),
        };
        changed(
            core.store
                .decide_application(&id, &decision, approval.as_ref())
                .await,
            || format!("application {id} is already decided"),
        )?;
        tracing::info!(message = "Application decided.", application = %id, approved = approve);
        Ok(decision)
    }
}

/// The committee's working list.
#[derive(Debug, Clone)]
pub struct CommitteeView {
    /// Applications awaiting a decision, newest first.
    pub pending: Vec<StoredApplication>,
    /// Approvals, most recently changed first.
    pub approvals: Vec<Approval>,
}

/// A researcher's own approvals and applications.
#[derive(Debug, Clone)]
pub struct OwnApprovals {
    /// Approvals recorded for the caller, whatever their status.
    pub approvals: Vec<Approval>,
    /// Applications the caller made, newest first.
    pub applications: Vec<StoredApplication>,
}

/// What a researcher asks for in an application (the dataset is named apart).
#[derive(Debug, Clone)]
pub struct ApplicationTerms {
    /// Their institution.
    pub institution: String,
    /// The project.
    pub project: String,
    /// The purpose as DUO terms (primary first).
    pub purpose: Vec<DuoCode>,
    /// Diseases studied (ICD-10 or MONDO ids).
    pub diseases: Vec<String>,
    /// For profit.
    pub for_profit: bool,
    /// ISO 3166-1 alpha-2 country of processing.
    pub country: String,
}

/// A store change as the service answers it: done, not found, or the conflict `message` says.
fn changed(
    result: Result<bool, gemj_store::StoreError>,
    message: impl FnOnce() -> String,
) -> Result<(), CoreError> {
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(CoreError::NotFound),
        Err(gemj_store::StoreError::Conflict { .. }) => Err(CoreError::Conflict(message())),
        Err(e) => Err(e.into()),
    }
}

/// A committee's reason, trimmed and bounded.
fn bounded_reason(reason: &str) -> Result<String, CoreError> {
    let reason = reason.trim();
    if reason.chars().count() > gemj_model::approval::MAX_APPLICATION_TEXT {
        return Err(CoreError::InvalidInput(format!(
            "a reason is at most {} characters",
            gemj_model::approval::MAX_APPLICATION_TEXT
        )));
    }
    Ok(reason.to_owned())
}
