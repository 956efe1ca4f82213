//! The approvals of the data-use review committee, managed by administrators: record an
//! approval, read it, list a researcher's, and suspend, reactivate or revoke one. A revoked
//! approval is final, and denies at once: every CONTROLLED decision reads the approvals from the
//! store.

use gemj_model::{Approval, ApprovalId, ApprovalStatus};

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

    /// Suspends, reactivates or revokes an approval. Revocation is final.
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator; [`CoreError::NotFound`];
    /// [`CoreError::Conflict`] when reactivating or suspending a revoked approval.
    pub async fn set_status(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
        status: ApprovalStatus,
    ) -> Result<Approval, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Approvals).await?;
        let Ok(id) = ApprovalId::parse(id) else {
            return Err(CoreError::NotFound);
        };
        match core.store.set_approval_status(&id, status).await {
            Ok(true) => {}
            Ok(false) => return Err(CoreError::NotFound),
            Err(gemj_store::StoreError::Conflict { .. }) => {
                return Err(CoreError::Conflict(format!(
                    "approval {id} is revoked; revocation is final"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(message = "Approval status changed.", approval = %id, status = status.as_str());
        core.store
            .get_approval(&id)
            .await?
            .ok_or(CoreError::NotFound)
    }
}
