//! Recontact without revealing identity. A researcher with a CONTROLLED approval asks that
//! participants of a dataset be invited to a study or told of findings; the gateway keeps only
//! the participants whose consent allows it and puts them in the inboxes of their
//! institutions, which map the pseudonymous ids to patients locally and report outcomes. The
//! researcher only ever sees rounded aggregate counts.
//!
//! Who is kept: participants of the dataset the researcher may be served (consent scope of
//! the approval, never withdrawn), whose consent is active (not deceased) and allows recontact,
//! for return of findings also the return of secondary findings, and who were not part of any
//! recontact request in the configured interval (12 months by default). Who was dropped, and
//! why, is never told.
//!
//! Counts shown to researchers are rounded ([`rounded_count`]): fewer than 5 reads `"<5"`, and
//! any other count is rounded to the nearest multiple of 5, so that differencing two requests
//! that differ by one named participant does not reveal that participant's consent.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use gemj_model::{
    DatasetId, InstitutionId, ParticipantId, RecontactKind, RecontactRequest, RecontactRequestId,
    RecontactStatus, VariantKey,
};

use crate::access::{Action, Ask, OnDenial, Outcome, Permit, Principal, RequestContext, Resource};
use crate::{CoreError, Shared};

/// The most participants one request may name.
pub const MAX_NAMED: usize = 10_000;

/// Tuning of recontact.
#[derive(Debug, Clone, Copy)]
pub struct RecontactSettings {
    /// A participant is asked at most once in this interval.
    pub min_interval: time::Duration,
}

impl Default for RecontactSettings {
    fn default() -> Self {
        Self {
            min_interval: time::Duration::days(365),
        }
    }
}

/// Whom a request is about.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Selection {
    /// Named participants (pseudonymous ids) of the dataset.
    Participants(Vec<String>),
    /// The carriers of a variant in the dataset.
    Carriers(VariantKey),
}

/// A recontact request as a researcher posts it.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The dataset the participants come from (the researcher's approval must cover it).
    pub dataset: String,
    /// Invitation or return of findings.
    pub kind: RecontactKind,
    /// Why, for the institutions and participants (1 to 2000 characters).
    pub reason: String,
    /// Whom.
    pub select: Selection,
}

/// A count as researchers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum RoundedCount {
    /// At least 5: rounded to the nearest multiple of 5.
    Count(u64),
    /// Fewer than 5 (including none).
    Few(&'static str),
}

/// Rounds a count for researchers: `"<5"` below 5, else the nearest multiple of 5 (halves
/// round up).
#[must_use]
pub fn rounded_count(n: usize) -> RoundedCount {
    let n = u64::try_from(n).unwrap_or(u64::MAX);
    if n < 5 {
        RoundedCount::Few("<5")
    } else {
        RoundedCount::Count(n.saturating_add(2) / 5 * 5)
    }
}

/// What the researcher sees of a request: aggregate, rounded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestStatus {
    /// Request id.
    pub id: RecontactRequestId,
    /// Kind.
    pub kind: RecontactKind,
    /// The dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetId>,
    /// Participants the request went to.
    pub asked: RoundedCount,
    /// Where they stand: pending, contacted, declined, agreed.
    pub status: BTreeMap<&'static str, RoundedCount>,
}

/// One entry of an institution's inbox.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InboxEntry {
    /// The request.
    pub request: RecontactRequestId,
    /// Who asked (`issuer#subject` of their passport).
    pub requester: String,
    /// Kind.
    pub kind: RecontactKind,
    /// The researcher's reason.
    pub reason: String,
    /// The participant to contact (pseudonymous; the institution maps it locally).
    pub participant: ParticipantId,
    /// Where it stands.
    pub status: RecontactStatus,
}

/// An outcome reported by an institution.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeReport {
    /// The request.
    pub request: String,
    /// The participant.
    pub participant: String,
    /// Contacted, declined or agreed.
    pub status: RecontactStatus,
}

fn status_name(s: RecontactStatus) -> &'static str {
    match s {
        RecontactStatus::Pending => "pending",
        RecontactStatus::Contacted => "contacted",
        RecontactStatus::Declined => "declined",
        RecontactStatus::Agreed => "agreed",
    }
}

fn requester_of(principal: &Principal) -> Result<String, CoreError> {
    match principal {
        Principal::Passport(p) => Ok(format!("{}#{}", p.issuer, p.subject)),
        _ => Err(CoreError::CredentialRequired),
    }
}

/// The service of recontact requests, inboxes and outcomes: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct RecontactService {
    core: Shared,
    settings: RecontactSettings,
}

impl RecontactService {
    /// The service over the gateway's shared parts, with its own settings.
    #[must_use]
    pub fn new(core: Shared, settings: RecontactSettings) -> Self {
        Self { core, settings }
    }
}

impl RecontactService {
    /// Creates a recontact request.
    ///
    /// # Errors
    /// [`CoreError::InvalidInput`] for a malformed request; [`CoreError::NotFound`] for an unknown
    /// dataset; [`CoreError::Denied`] without a CONTROLLED approval for it;
    /// [`CoreError::ConsentStale`] when the consent view is stale.
    pub async fn create(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        request: &NewRequest,
    ) -> Result<RequestStatus, CoreError> {
        let (core, settings) = (&self.core, self.settings);
        if request.reason.trim().is_empty() || request.reason.chars().count() > 2000 {
            return Err(CoreError::InvalidInput(
                "reason must be 1 to 2000 characters".to_owned(),
            ));
        }
        if let Selection::Participants(list) = &request.select
            && (list.is_empty() || list.len() > MAX_NAMED)
        {
            return Err(CoreError::InvalidInput(format!(
                "name 1 to {MAX_NAMED} participants"
            )));
        }
        let Ok(dataset_id) = DatasetId::parse(&request.dataset) else {
            return Err(CoreError::NotFound);
        };
        let Some(dataset) = core.store.get_dataset(&dataset_id).await? else {
            return Err(CoreError::NotFound);
        };
        let ask = Ask::new(Action::RequestRecontact, Resource::dataset(dataset));
        let (stored, kept) = core
            .access
            .enforce(
                ctx,
                principal,
                ask,
                OnDenial::Explain,
                async |permit: &Permit| {
                    // Only a researcher's passport is ever permitted to ask.
                    let requester = requester_of(principal)?;
                    let kept = select(core, permit, settings, request, &dataset_id).await?;
                    let id = RecontactRequestId::parse(&format!("RCR-{}", uuid::Uuid::new_v4()))
                        .map_err(|e| CoreError::InvalidInput(e.to_string()))?;
                    let stored = RecontactRequest {
                        id,
                        requester,
                        kind: request.kind,
                        reason: request.reason.trim().to_owned(),
                        dataset: Some(dataset_id.clone()),
                        approval: permit.approval().cloned(),
                        participants: kept.participants.clone(),
                    };
                    let outcome = Outcome {
                        consent_epoch: Some(permit.consent()?.epoch),
                        participants: kept.participants.clone(),
                        returned: Some(u64::try_from(kept.participants.len()).unwrap_or(u64::MAX)),
                        filtered: Some(
                            u64::try_from(kept.considered - kept.participants.len())
                                .unwrap_or(u64::MAX),
                        ),
                        answer: None,
                    };
                    Ok::<_, CoreError>(((stored, kept.participants), outcome))
                },
            )
            .await?;
        let id = stored.id.clone();
        // The request is stored only once its decision is durable in the audit chain.
        if !kept.is_empty() {
            core.store.put_recontact_request(&stored).await?;
        }
        tracing::info!(message = "Recontact request created.", request = %id, dataset = %dataset_id);
        Ok(RequestStatus {
            id,
            kind: request.kind,
            dataset: Some(dataset_id),
            asked: rounded_count(kept.len()),
            status: BTreeMap::from([("pending", rounded_count(kept.len()))]),
        })
    }

    /// The aggregate status of one of the caller's own requests.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] when the request does not exist or is someone else's.
    pub async fn status(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
    ) -> Result<RequestStatus, CoreError> {
        let core = &self.core;
        let requester = requester_of(principal)?;
        crate::audit_api::on_own_trail(core, ctx, principal, async |permit: &Permit| {
            let status = own_status(core, permit, &requester, id).await?;
            Ok((status, Outcome::default()))
        })
        .await
    }

    /// An institution's inbox: every participant it enrolled that a request asks for.
    ///
    /// # Errors
    /// [`CoreError::NotFound`] for another institution's inbox; [`CoreError::Denied`] for a caller
    /// that is not an institution.
    pub async fn inbox(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        institution: &str,
    ) -> Result<Vec<InboxEntry>, CoreError> {
        let core = &self.core;
        let Ok(institution) = InstitutionId::parse(institution) else {
            return Err(CoreError::NotFound);
        };
        let (ask, on_denial) = manage_institution(principal, &institution);
        core.access
            .enforce(ctx, principal, ask, on_denial, async |permit: &Permit| {
                let out = inbox_of(core, permit, &institution).await?;
                let outcome = Outcome {
                    participants: out.iter().map(|e| e.participant.clone()).collect(),
                    ..Outcome::returned(out.len())
                };
                Ok::<_, CoreError>((out, outcome))
            })
            .await
    }

    /// Records outcomes reported by an institution for its own participants. Returns how many
    /// were recorded.
    ///
    /// # Errors
    /// [`CoreError::InvalidInput`] for `pending` or an unknown request/participant pair of this
    /// institution; [`CoreError::NotFound`] for another institution.
    pub async fn report_outcomes(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        institution: &str,
        reports: &[OutcomeReport],
    ) -> Result<usize, CoreError> {
        let core = &self.core;
        let Ok(institution) = InstitutionId::parse(institution) else {
            return Err(CoreError::NotFound);
        };
        if reports.is_empty() || reports.len() > MAX_NAMED {
            return Err(CoreError::InvalidInput(format!(
                "report 1 to {MAX_NAMED} outcomes"
            )));
        }
        let mut parsed = Vec::with_capacity(reports.len());
        for r in reports {
            if r.status == RecontactStatus::Pending {
                return Err(CoreError::InvalidInput(
                    "an outcome is contacted, declined or agreed".to_owned(),
                ));
            }
            let (Ok(request), Ok(participant)) = (
                RecontactRequestId::parse(&r.request),
                ParticipantId::parse(&r.participant),
            ) else {
                return Err(CoreError::InvalidInput(format!(
                    "unknown request {} or participant {}",
                    r.request, r.participant
                )));
            };
            parsed.push((request, participant, r.status));
        }
        let participants: Vec<ParticipantId> = parsed.iter().map(|(_, p, _)| p.clone()).collect();
        let (ask, on_denial) = manage_institution(principal, &institution);
        core.access
            .enforce(ctx, principal, ask, on_denial, async |permit: &Permit| {
                let outcome = Outcome {
                    participants,
                    ..Outcome::returned(parsed.len())
                };
                let checked = check_outcomes(core, permit, &institution, &parsed).await;
                Ok::<_, CoreError>((checked, outcome))
            })
            .await??;
        // Written only once the decision is durable in the audit chain.
        for (request, participant, status) in &parsed {
            core.store
                .set_recontact_status(request, participant, *status)
                .await?;
        }
        Ok(parsed.len())
    }
}

/// The participants a recontact request reaches under `permit`: members of the dataset (named,
/// or carrying the variant), inside the requester's consent scope, consenting to recontact (to
/// return of findings, for that kind), and not recontacted within the minimum interval.
struct Selected {
    participants: Vec<ParticipantId>,
    considered: usize,
}

async fn select(
    core: &Shared,
    permit: &Permit,
    settings: RecontactSettings,
    request: &NewRequest,
    dataset_id: &DatasetId,
) -> Result<Selected, CoreError> {
    let snapshot = permit.consent()?;
    let members: BTreeSet<ParticipantId> = core
        .store
        .dataset_participants(dataset_id)
        .await?
        .into_iter()
        .collect();
    let candidates: Vec<ParticipantId> = match &request.select {
        Selection::Participants(list) => list
            .iter()
            .filter_map(|p| ParticipantId::parse(p).ok())
            .filter(|p| members.contains(p))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        Selection::Carriers(key) => match core.store.variant_exact(dataset_id, key).await? {
            Some(row) => {
                let ordinals: Vec<u32> = row.carriers.iter().collect();
                core.store
                    .participants_by_ordinals(&ordinals)
                    .await?
                    .into_iter()
                    .filter(|p| members.contains(p))
                    .collect()
            }
            None => Vec::new(),
        },
    };
    let considered = candidates.len();
    let consenting: Vec<ParticipantId> = candidates
        .into_iter()
        .filter(|p| permit.serves(p))
        .filter(|p| {
            snapshot.state(p).is_some_and(|s| {
                s.permits_recontact()
                    && (request.kind != RecontactKind::ReturnOfFindings
                        || s.scopes.return_of_secondary_findings)
            })
        })
        .collect();
    let since = time::OffsetDateTime::now_utc() - settings.min_interval;
    let recent: HashSet<ParticipantId> = core
        .store
        .recontacted_since(&consenting, since)
        .await?
        .into_iter()
        .collect();
    let participants = consenting
        .into_iter()
        .filter(|p| !recent.contains(p))
        .collect();
    Ok(Selected {
        participants,
        considered,
    })
}

/// The aggregate status of `requester`'s request `id`, under their permit.
async fn own_status(
    core: &Shared,
    _permit: &Permit,
    requester: &str,
    id: &str,
) -> Result<RequestStatus, CoreError> {
    let Ok(id) = RecontactRequestId::parse(id) else {
        return Err(CoreError::NotFound);
    };
    let Some(request) = core.store.get_recontact_request(&id).await? else {
        return Err(CoreError::NotFound);
    };
    if request.requester != requester {
        return Err(CoreError::NotFound);
    }
    let statuses = core.store.recontact_statuses(&id).await?;
    let mut counts: BTreeMap<&'static str, usize> = [
        RecontactStatus::Pending,
        RecontactStatus::Contacted,
        RecontactStatus::Declined,
        RecontactStatus::Agreed,
    ]
    .into_iter()
    .map(|s| (status_name(s), 0))
    .collect();
    for (_, s) in &statuses {
        *counts.entry(status_name(*s)).or_default() += 1;
    }
    Ok(RequestStatus {
        id,
        kind: request.kind,
        dataset: request.dataset,
        asked: rounded_count(statuses.len()),
        status: counts
            .into_iter()
            .map(|(k, n)| (k, rounded_count(n)))
            .collect(),
    })
}

/// The ask to manage `institution`'s business, and what its refusal answers (another
/// institution's is [`CoreError::NotFound`]).
fn manage_institution(principal: &Principal, institution: &InstitutionId) -> (Ask, OnDenial) {
    let ask = Ask::new(
        Action::ManageParticipants,
        Resource::Institution(institution.clone()),
    );
    (ask, crate::consent_api::on_denial(principal))
}

/// The inbox entries of `institution`, under its permit.
async fn inbox_of(
    core: &Shared,
    _permit: &Permit,
    institution: &InstitutionId,
) -> Result<Vec<InboxEntry>, CoreError> {
    let entries = core.store.recontact_inbox(institution).await?;
    let mut requests: BTreeMap<RecontactRequestId, RecontactRequest> = BTreeMap::new();
    for e in &entries {
        if !requests.contains_key(&e.request)
            && let Some(r) = core.store.get_recontact_request(&e.request).await?
        {
            requests.insert(e.request.clone(), r);
        }
    }
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let r = requests.get(&e.request)?;
            Some(InboxEntry {
                request: e.request,
                requester: r.requester.clone(),
                kind: r.kind,
                reason: r.reason.clone(),
                participant: e.participant,
                status: e.status,
            })
        })
        .collect())
}

/// Checks that every report is of `institution`'s own inbox entries (all or none are set).
async fn check_outcomes(
    core: &Shared,
    _permit: &Permit,
    institution: &InstitutionId,
    parsed: &[(RecontactRequestId, ParticipantId, RecontactStatus)],
) -> Result<(), CoreError> {
    // Only the institution's own inbox entries can be updated.
    let own: HashSet<(RecontactRequestId, ParticipantId)> = core
        .store
        .recontact_inbox(institution)
        .await?
        .into_iter()
        .map(|e| (e.request, e.participant))
        .collect();
    if let Some((r, p, _)) = parsed
        .iter()
        .find(|(r, p, _)| !own.contains(&(r.clone(), p.clone())))
    {
        return Err(CoreError::InvalidInput(format!(
            "unknown request {r} or participant {p}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_rounded_and_small_ones_hidden() {
        let shown: Vec<String> = [0, 1, 4, 5, 6, 7, 8, 12, 13, 100]
            .into_iter()
            .map(|n| match rounded_count(n) {
                RoundedCount::Count(c) => c.to_string(),
                RoundedCount::Few(s) => s.to_owned(),
            })
            .collect();
        assert_eq!(
            shown,
            ["<5", "<5", "<5", "5", "5", "5", "10", "10", "15", "100"]
        );
    }
}
