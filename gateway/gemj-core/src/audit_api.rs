//! What the audit log shows back: a researcher's own history (`/audit/v1/me`). Reading it is
//! itself an access decision, and audited.

use gemj_model::{AccessDecision, AuditRecord};

use crate::access::{Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource};
use crate::{CoreError, Shared};

/// The most records one page returns.
pub const MAX_PAGE: u32 = 1000;

/// One entry of a caller's own history: what was decided, never the participants touched.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// Sequence number in the audit chain (the pagination cursor).
    pub seq: i64,
    /// When (RFC 3339).
    pub at: String,
    /// The request id.
    pub request_id: String,
    /// The API.
    pub api: String,
    /// The endpoint pattern.
    pub endpoint: String,
    /// The action.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// Permit or deny.
    pub decision: AccessDecision,
    /// Reason codes.
    pub reasons: Vec<String>,
}

impl From<AuditRecord> for HistoryEntry {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            at: rfc3339(r.event.at),
            request_id: r.event.request_id,
            api: r.event.api,
            endpoint: r.event.endpoint,
            action: r.event.action,
            resource: r.event.resource,
            decision: r.event.decision,
            reasons: r.event.reasons,
        }
    }
}

/// A page of the caller's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryPage {
    /// Entries with `seq > after`, in order.
    pub records: Vec<HistoryEntry>,
    /// The cursor for the next page, when this one was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

/// The service of the audit APIs (own history, participant access reports): built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditService {
    core: Shared,
}

impl AuditService {
    /// The service over the gateway's shared parts.
    #[must_use]
    pub fn new(core: Shared) -> Self {
        Self { core }
    }
}

impl AuditService {
    /// The caller's own audit history after `after`, at most `limit` (capped at [`MAX_PAGE`]).
    ///
    /// # Errors
    /// [`CoreError::CredentialRequired`] for an anonymous caller; store or audit failures.
    pub async fn my_history(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        after: i64,
        limit: u32,
    ) -> Result<HistoryPage, CoreError> {
        let core = &self.core;
        on_own_trail(core, ctx, principal, async |permit: &Permit| {
            let page = own_page(core, permit, principal, after, limit).await?;
            let outcome = Outcome::returned(page.records.len());
            Ok((page, outcome))
        })
        .await
    }

    /// Who accessed a participant's data and when: for the institution that enrolled the
    /// participant (transparency for patients), and for nobody else.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] for a participant the caller does not manage;
    /// [`CoreError::Denied`] for a caller that is not an institution.
    pub async fn participant_history(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        participant: &str,
        after: i64,
        limit: u32,
    ) -> Result<ParticipantAccessPage, CoreError> {
        let core = &self.core;
        let Ok(participant) = gemj_model::ParticipantId::parse(participant) else {
            return Err(CoreError::NotFound);
        };
        crate::consent_api::as_manager(
            core,
            ctx,
            principal,
            &participant,
            async |permit: &Permit| {
                let page =
                    participant_page(core, permit, participant.clone(), after, limit).await?;
                let outcome = Outcome::returned(page.records.len());
                Ok((page, outcome))
            },
        )
        .await
    }
}

/// Serves `principal` from its own audit trail (its history, its own requests): anonymous
/// callers are asked for a credential.
pub(crate) async fn on_own_trail<T>(
    core: &Shared,
    ctx: &RequestContext,
    principal: &Principal,
    serve: impl AsyncFnOnce(&Permit) -> Result<(T, Outcome), CoreError>,
) -> Result<T, CoreError> {
    let ask = Ask::new(Action::ReadMetadata, Resource::OwnAuditTrail);
    core.access
        .enforce(ctx, principal, ask, OnDenial::CredentialRequired, serve)
        .await
}

/// A page of the caller's own audit history, as its permit releases it.
async fn own_page(
    core: &Shared,
    _permit: &Permit,
    principal: &Principal,
    after: i64,
    limit: u32,
) -> Result<HistoryPage, CoreError> {
    core.access.settle_audit().await;
    let principal = principal.audit_name();
    let (records, next_after) = read_page(after, limit, async |after, limit| {
        core.store
            .audit_records_of_principal(&principal, after, limit)
            .await
    })
    .await?;
    Ok(HistoryPage {
        records: records.into_iter().map(HistoryEntry::from).collect(),
        next_after,
    })
}

/// One access to a participant's data or state, as their institution sees it: who, when,
/// through which API, and what was decided.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ParticipantAccess {
    /// Sequence number in the audit chain (the pagination cursor).
    pub seq: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Who: `issuer#subject` of a researcher's passport, or the institution.
    pub principal: String,
    /// The API.
    pub api: String,
    /// The endpoint pattern.
    pub endpoint: String,
    /// The action.
    pub action: String,
    /// The resource named in the request.
    pub resource: String,
    /// Permit or deny.
    pub decision: AccessDecision,
    /// The approval under which it was permitted, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Records returned by the request (0: nothing was served, for example after consent
    /// filtering).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_returned: Option<u64>,
    /// Records withheld by consent filtering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_filtered: Option<u64>,
}

/// A page of accesses to one participant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ParticipantAccessPage {
    /// The participant.
    pub participant: gemj_model::ParticipantId,
    /// Accesses with `seq > after`, in order.
    pub records: Vec<ParticipantAccess>,
    /// The cursor for the next page, when this one was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

/// A page of the accesses to `participant`, as the institution's permit releases it.
async fn participant_page(
    core: &Shared,
    _permit: &Permit,
    participant: gemj_model::ParticipantId,
    after: i64,
    limit: u32,
) -> Result<ParticipantAccessPage, CoreError> {
    core.access.settle_audit().await;
    let (records, next_after) = read_page(after, limit, async |after, limit| {
        core.audit_archive
            .records_for_participant(&core.store, participant.as_str(), after, limit)
            .await
    })
    .await?;
    let records: Vec<ParticipantAccess> = records
        .into_iter()
        .map(|r| ParticipantAccess {
            seq: r.seq,
            at: rfc3339(r.event.at),
            principal: r.event.principal,
            api: r.event.api,
            endpoint: r.event.endpoint,
            action: r.event.action,
            resource: r.event.resource,
            decision: r.event.decision,
            approval: r.event.approval,
            records_returned: r.event.records_returned,
            records_filtered: r.event.records_filtered,
        })
        .collect();
    Ok(ParticipantAccessPage {
        participant,
        records,
        next_after,
    })
}

/// A time as the audit APIs show it: RFC 3339.
fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The stored records `read` gives for `after` (at least 0) and `limit` (1 to [`MAX_PAGE`]),
/// with the cursor for the next page: the last one's `seq` when the page is full.
async fn read_page<E>(
    after: i64,
    limit: u32,
    read: impl AsyncFnOnce(i64, u32) -> Result<Vec<AuditRecord>, E>,
) -> Result<(Vec<AuditRecord>, Option<i64>), CoreError>
where
    CoreError: From<E>,
{
    let limit = limit.clamp(1, MAX_PAGE);
    let records = read(after.max(0), limit).await?;
    let full = u32::try_from(records.len()).unwrap_or(u32::MAX) >= limit;
    let next_after = if full {
        records.last().map(|r| r.seq)
    } else {
        None
    };
    Ok((records, next_after))
}
