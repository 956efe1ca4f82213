//! The one access decision point. Every API asks it `(principal, action, resource)` and gets a
//! [`Permit`] or a [`Denial`] with reason codes. It denies by default, and it writes every
//! decision, permit or deny, to the audit chain before it answers.
//!
//! A decision has two steps, so that the audit record can say what was served:
//! [`AccessPoint::evaluate`] gathers the facts (the caller's approvals from the store) and runs
//! the pure policy ([`evaluate`]) into a [`Decision`], which serves nothing; then
//! [`AccessPoint::record`] (or [`AccessPoint::record_all`] for every decision of a request in
//! one append) writes the audit record with the outcome (consent epoch, participants, records
//! returned and filtered) and only then makes the [`Permit`]. [`AccessPoint::decide`] does both
//! at once for decisions with nothing to count.
//!
//! Invariant: a [`Permit`] can only be made here, after its audit record is durable. Code that
//! serves data takes a `&Permit`, so an unaudited permit cannot be written down.
//!
//! The policy (see [`evaluate`] for the full table):
//!
//! * PUBLIC datasets: anyone reads metadata and data.
//! * REGISTERED: a verified passport with a ResearcherStatus visa from a trusted source, or an
//!   AcceptedTermsAndPolicies visa for the gateway's terms.
//! * CONTROLLED data: a ControlledAccessGrants visa naming the dataset
//!   (`<dataset_grant_prefix><id>`), an approval of the data-use committee in force for that
//!   researcher and dataset, and a DUO match of the dataset's data-use condition against the
//!   approved purpose ([`crate::controlled`]). Terms the matcher cannot decide go to the
//!   committee: a denial, never an automatic permit. CONTROLLED metadata (the description and
//!   the data-use condition, what one applies with) needs only the REGISTERED rule.
//! * Participants: only their institution, with an institution-signed token.
//! * Approvals: only the configured administrators.
//!
//! A permit carries the [`ConsentScope`] of the requester, which every API applies to each
//! participant through the consent view ([`crate::consent_view::ConsentSnapshot::serves`]).

use std::sync::Arc;

use gemj_model::{
    AccessDecision, AccessLevel, Approval, ApprovalId, AuditEvent, Dataset, InstitutionId,
    ObjectId, ParticipantId,
};

use crate::CoreError;
use crate::audit::AuditSink;
use crate::controlled::{self, ControlledOutcome};

/// An institution authenticated by a token signed with its registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionCaller {
    /// The institution.
    pub institution: InstitutionId,
    /// The token's issuer (the institution's registered issuer).
    pub issuer: String,
    /// The token's subject (the person or system at the institution).
    pub subject: String,
    /// SHA-256 of the token, for the audit record.
    pub token_hash: String,
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Principal {
    /// No credential was presented.
    Anonymous,
    /// A verified GA4GH passport: its subject and the visas that passed verification.
    Passport(Arc<gemj_auth::VerifiedPassport>),
    /// An institution, by a token signed with its registered key.
    Institution(Arc<InstitutionCaller>),
    /// The bearer of a signed data URL: what an earlier decision granted, re-checked at use.
    SignedUrl(Arc<crate::data_url::UrlGrant>),
}

impl Principal {
    /// The audit form: `anonymous`, `issuer#subject` for a verified passport, or
    /// `institution:ID#subject` for an institution.
    #[must_use]
    pub fn audit_name(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".to_owned(),
            Self::Passport(p) => format!("{}#{}", p.issuer, p.subject),
            Self::Institution(i) => format!("institution:{}#{}", i.institution, i.subject),
            Self::SignedUrl(g) => g.principal.clone(),
        }
    }

    /// SHA-256 of the passport and of every visa considered (accepted or rejected), or of the
    /// institution token: what the audit records instead of the tokens.
    #[must_use]
    pub fn credential_hashes(&self) -> Vec<String> {
        match self {
            Self::Anonymous => Vec::new(),
            Self::Passport(p) => std::iter::once(format!("passport:{}", p.passport_hash))
                .chain(p.visas.iter().map(|v| format!("visa:{}", v.hash)))
                .chain(
                    p.rejected
                        .iter()
                        .map(|r| format!("rejected:{}:{}", r.reason, r.hash)),
                )
                .collect(),
            Self::Institution(i) => vec![format!("institution_token:{}", i.token_hash)],
            Self::SignedUrl(g) => vec![format!("signed_url:{}", g.nonce)],
        }
    }
}

/// What the policy needs to know besides the request: set from the configuration.
#[derive(Clone, Default)]
pub struct PolicySettings {
    /// The terms URL whose AcceptedTermsAndPolicies visa grants REGISTERED access (empty: none).
    pub terms_url: String,
    /// The prefix of dataset URIs in ControlledAccessGrants visas: a grant for dataset `D` has
    /// the value `<prefix>D`.
    pub dataset_grant_prefix: String,
    /// Administrators (`issuer#subject` of their passport), who manage approvals.
    pub administrators: Vec<String>,
    /// The Data Use Ontology; without it, every CONTROLLED condition goes to the committee.
    pub duo: Option<Arc<gemj_duo::Ontology>>,
}

impl std::fmt::Debug for PolicySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySettings")
            .field("terms_url", &self.terms_url)
            .field("dataset_grant_prefix", &self.dataset_grant_prefix)
            .field("administrators", &self.administrators.len())
            .field("duo", &self.duo.as_ref().map(|d| d.version_iri()))
            .finish()
    }
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read descriptive metadata (a dataset's description, a DRS object's metadata).
    ReadMetadata,
    /// Read genomic or clinical data (file bytes, records, genotypes).
    ReadData,
    /// Ask that participants of a dataset be recontacted (needs a CONTROLLED approval).
    RequestRecontact,
    /// An institution manages its own participants: consent events, consent state, who
    /// accessed them, recontact inbox and outcomes.
    ManageParticipants,
    /// Change the gateway's state (approvals).
    Administer,
    /// Discover what a dataset holds through aggregate queries (Beacon). Always permitted on a
    /// dataset; the reasons say at which level (public, registered, controlled), which sets
    /// the most detailed answer the caller may get.
    Discover,
}

impl Action {
    /// The audit form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadMetadata => "read_metadata",
            Self::ReadData => "read_data",
            Self::RequestRecontact => "request_recontact",
            Self::ManageParticipants => "manage_participants",
            Self::Administer => "administer",
            Self::Discover => "discover",
        }
    }
}

/// What the action is on. Each variant carries what the policy needs to decide, already
/// looked up by the caller from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The gateway itself (service-info, registry).
    Service,
    /// A dataset.
    Dataset(Arc<Dataset>),
    /// A stored object, with the datasets that hold it (none: nobody may read it). Permitted
    /// when any of them permits.
    Object {
        /// Its id.
        id: ObjectId,
        /// The datasets that hold it.
        datasets: Vec<Arc<Dataset>>,
    },
    /// One participant, with the institution that enrolled them (`None` when there is no such
    /// participant: then nobody may touch it).
    Participant {
        /// Its id.
        id: ParticipantId,
        /// The enrolling institution.
        institution: Option<InstitutionId>,
    },
    /// An institution's own business (its recontact inbox).
    Institution(InstitutionId),
    /// The caller's own audit trail.
    OwnAuditTrail,
    /// The approvals of the data-use committee.
    Approvals,
    /// The revoked credentials.
    Revocations,
}

impl Resource {
    /// A dataset resource.
    #[must_use]
    pub fn dataset(dataset: Dataset) -> Self {
        Self::Dataset(Arc::new(dataset))
    }

    /// The audit form: `service`, `dataset:ID`, `object:ID`, `participant:ID`, ...
    #[must_use]
    pub fn audit_name(&self) -> String {
        match self {
            Self::Service => "service".to_owned(),
            Self::Dataset(d) => format!("dataset:{}", d.id),
            Self::Object { id, .. } => format!("object:{id}"),
            Self::Participant { id, .. } => format!("participant:{id}"),
            Self::Institution(id) => format!("institution:{id}"),
            Self::OwnAuditTrail => "audit:self".to_owned(),
            Self::Approvals => "approvals".to_owned(),
            Self::Revocations => "revocations".to_owned(),
        }
    }

    /// Whether deciding `action` here reads the caller's approvals: only CONTROLLED data (and
    /// recontact requests) do; CONTROLLED metadata follows the REGISTERED rule.
    fn needs_approvals(&self, action: Action) -> bool {
        let controlled = |d: &Dataset| d.access_level == AccessLevel::Controlled;
        match (self, action) {
            (Self::Dataset(_), Action::RequestRecontact) => true,
            (Self::Dataset(d), Action::ReadData | Action::Discover) => controlled(d),
            (Self::Object { datasets, .. }, Action::ReadData) => {
                datasets.iter().any(|d| controlled(d))
            }
            _ => false,
        }
    }
}

/// Why a decision went the way it did. The codes are stable: clients and auditors read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Service metadata is public.
    ServiceMetadataPublic,
    /// The dataset's access level is PUBLIC and the action is reading metadata.
    PublicMetadata,
    /// The dataset's access level is PUBLIC: anyone reads its data.
    PublicData,
    /// An anonymous caller asked for something other than public metadata or data.
    AnonymousNotPermitted,
    /// Reading non-public data needs a verified credential.
    DataAccessRequiresCredential,
    /// Administering needs an administrator's credential.
    AdministrationRequiresCredential,
    /// The object belongs to no dataset, so nobody may read it.
    ObjectInNoDataset,
    /// A verified passport carries a ResearcherStatus visa from a trusted source.
    RegisteredResearcherStatus,
    /// A verified passport carries an AcceptedTermsAndPolicies visa for the gateway's terms.
    RegisteredAcceptedTerms,
    /// The passport has neither a ResearcherStatus visa nor the gateway's terms.
    NoRegisteredVisa,
    /// CONTROLLED: a grant visa, an approval in force and a DUO match.
    ControlledGrantApprovalAndDuo,
    /// CONTROLLED: no valid ControlledAccessGrants visa names the dataset.
    NoGrantVisa,
    /// CONTROLLED: no approval of the committee covers this researcher and dataset.
    NoApproval,
    /// CONTROLLED: the approval is revoked.
    ApprovalRevoked,
    /// CONTROLLED: the approval is suspended.
    ApprovalSuspended,
    /// CONTROLLED: the approval is outside its valid period.
    ApprovalNotInPeriod,
    /// CONTROLLED: a term of the data-use condition forbids the approved purpose.
    DuoDenied,
    /// CONTROLLED: a term cannot be decided automatically: the committee decides.
    DuoCommitteeRequired,
    /// CONTROLLED: the Data Use Ontology is not loaded, so nothing is decided automatically.
    DuoOntologyUnavailable,
    /// A verified caller reads their own audit trail.
    OwnAuditTrail,
    /// The institution that enrolled the participant.
    OwningInstitution,
    /// The participant is not enrolled by the calling institution (or does not exist).
    NotOwningInstitution,
    /// Only institutions manage participants.
    InstitutionCredentialRequired,
    /// An institution token permits managing that institution's participants only.
    InstitutionNotPermitted,
    /// A configured administrator.
    Administrator,
    /// The passport's subject is not a configured administrator.
    NotAdministrator,
    /// A signed data URL for this object, its approval (if any) still in force.
    SignedUrl,
    /// A signed data URL used for another object or action.
    SignedUrlScope,
    /// Nothing in the policy permits this: deny by default.
    NoRuleMatched,
    /// Beacon discovery at PUBLIC level (booleans).
    DiscoveryPublic,
    /// Beacon discovery at REGISTERED level (counts): a registered researcher.
    DiscoveryRegistered,
    /// Beacon discovery at CONTROLLED level (records): the CONTROLLED rule holds.
    DiscoveryControlled,
}

impl Reason {
    /// The stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::ServiceMetadataPublic => "service_metadata_public",
            Self::PublicMetadata => "public_metadata",
            Self::PublicData => "public_data",
            Self::AnonymousNotPermitted => "anonymous_not_permitted",
            Self::DataAccessRequiresCredential => "data_access_requires_credential",
            Self::AdministrationRequiresCredential => "administration_requires_credential",
            Self::ObjectInNoDataset => "object_in_no_dataset",
            Self::RegisteredResearcherStatus => "registered_researcher_status",
            Self::RegisteredAcceptedTerms => "registered_accepted_terms",
            Self::NoRegisteredVisa => "no_registered_visa",
            Self::ControlledGrantApprovalAndDuo => "controlled_grant_approval_and_duo",
            Self::NoGrantVisa => "no_grant_visa",
            Self::NoApproval => "no_approval",
            Self::ApprovalRevoked => "approval_revoked",
            Self::ApprovalSuspended => "approval_suspended",
            Self::ApprovalNotInPeriod => "approval_not_in_period",
            Self::DuoDenied => "duo_denied",
            Self::DuoCommitteeRequired => "duo_committee_required",
            Self::DuoOntologyUnavailable => "duo_ontology_unavailable",
            Self::OwnAuditTrail => "own_audit_trail",
            Self::OwningInstitution => "owning_institution",
            Self::NotOwningInstitution => "not_owning_institution",
            Self::InstitutionCredentialRequired => "institution_credential_required",
            Self::InstitutionNotPermitted => "institution_not_permitted",
            Self::Administrator => "administrator",
            Self::NotAdministrator => "not_administrator",
            Self::SignedUrl => "signed_url",
            Self::SignedUrlScope => "signed_url_scope",
            Self::NoRuleMatched => "no_rule_matched",
            Self::DiscoveryPublic => "discovery_public",
            Self::DiscoveryRegistered => "discovery_registered",
            Self::DiscoveryControlled => "discovery_controlled",
        }
    }
}

/// Which participants a permitted requester may be served, besides withdrawal (which nobody
/// passes): the consent scopes the requester's use needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentScope {
    /// The requester is for-profit (industry): only participants who allowed provision to
    /// industry.
    pub industry: bool,
    /// The requester processes the data outside Japan: only participants who allowed
    /// international transfer.
    pub international: bool,
}

impl ConsentScope {
    /// The scope of a requester the gateway knows nothing about (no approval says who they are
    /// or where they process): the strictest, industry and international.
    #[must_use]
    pub fn unknown_requester() -> Self {
        Self {
            industry: true,
            international: true,
        }
    }

    /// The scope of an approved use.
    #[must_use]
    pub fn of_approval(approval: &Approval) -> Self {
        Self {
            industry: approval.for_profit,
            international: approval.country != "JP",
        }
    }
}

/// Where the decision was asked for: the request and the API endpoint.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id (also on the response).
    pub request_id: String,
    /// The API (`catalogue`, `htsget`, `drs`, `beacon`, ...).
    pub api: &'static str,
    /// The endpoint pattern.
    pub endpoint: String,
}

/// What the policy decided, before it is audited.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Permit or deny.
    pub decision: AccessDecision,
    /// Why.
    pub reasons: Vec<Reason>,
    /// The approval that permitted (CONTROLLED).
    pub approval: Option<ApprovalId>,
    /// The consent scope of the requester, for participant filtering.
    pub scope: ConsentScope,
    /// The DUO match that decided a CONTROLLED request, term by term.
    pub duo: Option<gemj_duo::MatchResult>,
}

impl Evaluation {
    fn permit(reasons: Vec<Reason>) -> Self {
        Self {
            decision: AccessDecision::Permit,
            reasons,
            approval: None,
            scope: ConsentScope::unknown_requester(),
            duo: None,
        }
    }

    fn deny(reasons: Vec<Reason>) -> Self {
        Self {
            decision: AccessDecision::Deny,
            ..Self::permit(reasons)
        }
    }

    /// The audit reason list: the codes, then one `duo:TERM:OUTCOME` per DUO term.
    fn audit_reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = self.reasons.iter().map(|r| r.code().to_owned()).collect();
        if let Some(m) = &self.duo {
            out.extend(
                m.terms
                    .iter()
                    .map(|t| format!("duo:{}:{}", t.term, t.outcome.as_str())),
            );
        }
        out
    }
}

/// What the policy knows about the caller beyond the request, gathered by
/// [`AccessPoint::evaluate`].
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Every approval of the passport's subject, whatever its status.
    pub approvals: Vec<Approval>,
}

/// A decision made but not yet audited: it serves nothing. Turn it into a [`Permit`] or a
/// [`Denial`] with [`AccessPoint::record`].
#[derive(Debug, Clone)]
pub struct Decision {
    ctx: RequestContext,
    principal: String,
    credential_hashes: Vec<String>,
    anonymous: bool,
    action: Action,
    resource: String,
    participant: Option<String>,
    evaluation: Evaluation,
}

impl Decision {
    /// Whether the policy permits.
    #[must_use]
    pub fn is_permit(&self) -> bool {
        self.evaluation.decision == AccessDecision::Permit
    }

    /// The evaluation (reasons, approval, scope, DUO explanation).
    #[must_use]
    pub fn evaluation(&self) -> &Evaluation {
        &self.evaluation
    }
}

/// What a permitted request did, for its audit record.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The consent epoch the request was answered at.
    pub consent_epoch: Option<i64>,
    /// The participants whose data or state was touched (pseudonymous ids).
    pub participants: Vec<ParticipantId>,
    /// Records returned.
    pub returned: Option<u64>,
    /// Records withheld by consent filtering.
    pub filtered: Option<u64>,
    /// The class of answer given, for APIs that answer in several forms (Beacon:
    /// `boolean`, `count`, `record`, `refused:<why>`); audited as the reason `answer:<class>`.
    pub answer: Option<String>,
}

/// A permit, made only by [`AccessPoint`] after the decision is durable in the audit chain.
#[derive(Debug, Clone)]
pub struct Permit {
    reasons: Vec<Reason>,
    audit_seq: i64,
    approval: Option<ApprovalId>,
    scope: ConsentScope,
}

impl Permit {
    /// Why it was permitted.
    #[must_use]
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The audit record that holds this decision.
    #[must_use]
    pub fn audit_seq(&self) -> i64 {
        self.audit_seq
    }

    /// The approval that permitted (CONTROLLED).
    #[must_use]
    pub fn approval(&self) -> Option<&ApprovalId> {
        self.approval.as_ref()
    }

    /// Which participants may be served.
    #[must_use]
    pub fn scope(&self) -> ConsentScope {
        self.scope
    }
}

/// A denial, with its reasons, also audited.
#[derive(Debug, Clone)]
pub struct Denial {
    /// Why it was denied.
    pub reasons: Vec<Reason>,
    /// The audit record that holds this decision.
    pub audit_seq: i64,
    /// Whether the caller presented no credential (401) or a credential without permission
    /// (403). APIs that must not reveal existence answer 404 instead.
    pub unauthenticated: bool,
    /// For a CONTROLLED denial by the DUO matcher: which term failed and why (EN/JA).
    pub duo: Option<gemj_duo::MatchResult>,
}

impl Denial {
    /// The first reason code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.reasons.first().map_or("denied", |r| r.code())
    }
}

/// The access decision point.
#[derive(Debug, Clone)]
pub struct AccessPoint {
    audit: AuditSink,
    settings: Arc<PolicySettings>,
    store: gemj_store::Store,
}

impl AccessPoint {
    /// Audits a credential refused before any access decision could be made (401 for a token
    /// that does not verify, 431 for an oversized header, 503 when its issuer cannot be
    /// reached): one deny row whose principal is `unauthenticated`, whose reason is the refusal
    /// code, and whose credential hash is the SHA-256 of what was presented, never the token.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the row cannot be written durably.
    pub async fn refuse_credential(
        &self,
        ctx: &RequestContext,
        presented: &[u8],
        reason: &str,
    ) -> Result<(), CoreError> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, presented);
        let hash: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let event = AuditEvent {
            at: time::OffsetDateTime::now_utc(),
            request_id: ctx.request_id.clone(),
            api: ctx.api.to_owned(),
            endpoint: ctx.endpoint.clone(),
            principal: "unauthenticated".to_owned(),
            action: "authenticate".to_owned(),
            resource: "credential".to_owned(),
            decision: AccessDecision::Deny,
            reasons: vec![format!("credential_refused:{reason}")],
            credential_hashes: vec![format!("presented:{hash}")],
            approval: None,
            consent_epoch: None,
            participants: Vec::new(),
            records_returned: None,
            records_filtered: None,
        };
        self.audit.record_many(vec![event]).await.map(|_| ())
    }

    /// A decision point reading approvals from `store` and writing to the given audit sink.
    #[must_use]
    pub fn new(audit: AuditSink, settings: PolicySettings, store: gemj_store::Store) -> Self {
        Self {
            audit,
            settings: Arc::new(settings),
            store,
        }
    }

    /// The policy settings.
    #[must_use]
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// Gathers the facts and evaluates the policy; audits nothing and permits nothing yet.
    ///
    /// # Errors
    /// Store failures while reading the caller's approvals.
    pub async fn evaluate(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        action: Action,
        resource: &Resource,
    ) -> Result<Decision, CoreError> {
        let facts = match principal {
            Principal::Passport(p) if resource.needs_approvals(action) => Facts {
                approvals: self.store.approvals_of(&p.issuer, &p.subject).await?,
            },
            Principal::SignedUrl(g) => match &g.approval {
                Some(id) => Facts {
                    approvals: self.store.get_approval(id).await?.into_iter().collect(),
                },
                None => Facts::default(),
            },
            _ => Facts::default(),
        };
        let now = time::OffsetDateTime::now_utc();
        let evaluation = evaluate(&self.settings, &facts, principal, action, resource, now);
        Ok(Decision {
            ctx: ctx.clone(),
            principal: principal.audit_name(),
            credential_hashes: principal.credential_hashes(),
            anonymous: matches!(principal, Principal::Anonymous),
            action,
            resource: resource.audit_name(),
            participant: match resource {
                Resource::Participant { id, .. } => Some(id.to_string()),
                _ => None,
            },
            evaluation,
        })
    }

    /// Audits a decision with what the request did, and answers.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the decision could not be audited: nothing may be
    /// served then, permit or not.
    pub async fn record(
        &self,
        decision: Decision,
        outcome: Outcome,
    ) -> Result<Result<Permit, Denial>, CoreError> {
        let mut answers = self.record_all(vec![(decision, outcome)]).await?;
        answers.pop().ok_or(CoreError::AuditUnavailable)
    }

    /// Audits every decision of one request in one append, and answers each in order.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the decisions could not be audited.
    pub async fn record_all(
        &self,
        decisions: Vec<(Decision, Outcome)>,
    ) -> Result<Vec<Result<Permit, Denial>>, CoreError> {
        let at = time::OffsetDateTime::now_utc();
        let events: Vec<AuditEvent> = decisions
            .iter()
            .map(|(d, o)| audit_event(d, o, at))
            .collect();
        let seqs = self.audit.record_many(events).await?;
        if seqs.len() != decisions.len() {
            return Err(CoreError::AuditUnavailable);
        }
        Ok(decisions
            .into_iter()
            .zip(seqs)
            .map(|((d, _), audit_seq)| {
                let e = d.evaluation;
                match e.decision {
                    AccessDecision::Permit => Ok(Permit {
                        reasons: e.reasons,
                        audit_seq,
                        approval: e.approval,
                        scope: e.scope,
                    }),
                    AccessDecision::Deny => Err(Denial {
                        reasons: e.reasons,
                        audit_seq,
                        unauthenticated: d.anonymous,
                        duo: e.duo,
                    }),
                }
            })
            .collect())
    }

    /// Audits a decision the policy denied and returns the error the API answers:
    /// [`CoreError::NotFound`] when `hide` (the caller may not learn whether the resource
    /// exists), else [`CoreError::Denied`] with the reasons.
    pub async fn refuse(&self, decision: Decision, hide: bool) -> CoreError {
        match self.record(decision, Outcome::default()).await {
            Ok(Err(_)) if hide => CoreError::NotFound,
            Ok(Err(denial)) => CoreError::Denied(Box::new(denial)),
            // Only denials are refused; a permit here is a caller's mistake, never served.
            Ok(Ok(_)) => CoreError::AuditUnavailable,
            Err(e) => e,
        }
    }

    /// The consent snapshot for a permitted decision; when the consent view is stale, the
    /// decision is audited as serving nothing and [`CoreError::ConsentStale`] returned.
    ///
    /// # Errors
    /// [`CoreError::ConsentStale`], or [`CoreError::AuditUnavailable`].
    pub async fn consent_or_record(
        &self,
        consent: &crate::consent_view::ConsentView,
        decision: Decision,
    ) -> Result<(Decision, crate::consent_view::ConsentSnapshot), CoreError> {
        match consent.snapshot() {
            Ok(snapshot) => Ok((decision, snapshot)),
            Err(stale) => {
                let outcome = Outcome {
                    returned: Some(0),
                    ..Outcome::default()
                };
                self.record(decision, outcome).await?.ok();
                Err(stale.into())
            }
        }
    }

    /// Evaluates, audits and answers, for decisions with nothing to count.
    ///
    /// # Errors
    /// Store failures, or [`CoreError::AuditUnavailable`].
    pub async fn decide(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        action: Action,
        resource: &Resource,
    ) -> Result<Result<Permit, Denial>, CoreError> {
        let decision = self.evaluate(ctx, principal, action, resource).await?;
        self.record(decision, Outcome::default()).await
    }
}

fn audit_event(d: &Decision, o: &Outcome, at: time::OffsetDateTime) -> AuditEvent {
    let mut participants: Vec<String> = d.participant.iter().cloned().collect();
    participants.extend(
        o.participants
            .iter()
            .map(ToString::to_string)
            .filter(|p| d.participant.as_deref() != Some(p.as_str())),
    );
    AuditEvent {
        at,
        request_id: d.ctx.request_id.clone(),
        api: d.ctx.api.to_owned(),
        endpoint: d.ctx.endpoint.clone(),
        principal: d.principal.clone(),
        action: d.action.as_str().to_owned(),
        resource: d.resource.clone(),
        decision: d.evaluation.decision,
        reasons: {
            let mut reasons = d.evaluation.audit_reasons();
            reasons.extend(o.answer.as_ref().map(|a| format!("answer:{a}")));
            reasons
        },
        credential_hashes: d.credential_hashes.clone(),
        approval: d.evaluation.approval.as_ref().map(ToString::to_string),
        consent_epoch: o.consent_epoch,
        participants,
        records_returned: o.returned,
        records_filtered: o.filtered,
    }
}

/// The policy: pure, deny by default.
///
/// | caller | action | resource | rule |
/// |---|---|---|---|
/// | anyone | read metadata | service | permit |
/// | anyone | read metadata or data | PUBLIC dataset or object | permit |
/// | anyone | any | object in no dataset | deny |
/// | anonymous | anything else | | deny (401) |
/// | passport | read metadata | REGISTERED or CONTROLLED | REGISTERED rule |
/// | passport | read data | REGISTERED | REGISTERED rule |
/// | passport | read data | CONTROLLED | grant visa + approval + DUO |
/// | passport | request recontact | dataset | grant visa + approval + DUO, at any level |
/// | anyone but a signed URL | discover (Beacon) | dataset | permit, at the caller's level: controlled (CONTROLLED rule on a CONTROLLED dataset), registered (REGISTERED rule), else public |
/// | passport | read metadata | own audit trail | permit |
/// | passport | administer | approvals | configured administrators |
/// | institution | manage participants | its own participant or itself | permit |
/// | otherwise | | | deny |
#[must_use]
pub fn evaluate(
    settings: &PolicySettings,
    facts: &Facts,
    principal: &Principal,
    action: Action,
    resource: &Resource,
    now: time::OffsetDateTime,
) -> Evaluation {
    use Action::{Administer, ManageParticipants, ReadData, ReadMetadata, RequestRecontact};
    match (principal, action, resource) {
        (_, ReadMetadata, Resource::Service) => {
            Evaluation::permit(vec![Reason::ServiceMetadataPublic])
        }
        (Principal::SignedUrl(_), Action::Discover, _) => {
            Evaluation::deny(vec![Reason::SignedUrlScope])
        }
        (_, Action::Discover, Resource::Dataset(d)) => {
            discovery(settings, facts, principal, d, now)
        }
        (_, _, Resource::Object { datasets, .. }) if datasets.is_empty() => {
            Evaluation::deny(vec![Reason::ObjectInNoDataset])
        }
        (_, ReadMetadata | ReadData, Resource::Dataset(d))
            if d.access_level == AccessLevel::Public =>
        {
            public(action)
        }
        (_, ReadMetadata | ReadData, Resource::Object { datasets, .. })
            if datasets
                .iter()
                .any(|d| d.access_level == AccessLevel::Public) =>
        {
            public(action)
        }
        (Principal::Anonymous, ReadData, _) => Evaluation::deny(vec![
            Reason::AnonymousNotPermitted,
            Reason::DataAccessRequiresCredential,
        ]),
        (Principal::Anonymous, Administer, _) => Evaluation::deny(vec![
            Reason::AnonymousNotPermitted,
            Reason::AdministrationRequiresCredential,
        ]),
        (Principal::Anonymous, ManageParticipants, _) => Evaluation::deny(vec![
            Reason::AnonymousNotPermitted,
            Reason::InstitutionCredentialRequired,
        ]),
        (Principal::Anonymous, _, _) => Evaluation::deny(vec![Reason::AnonymousNotPermitted]),

        (
            Principal::Institution(i),
            ManageParticipants,
            Resource::Participant { institution, .. },
        ) => {
            if institution.as_ref() == Some(&i.institution) {
                Evaluation::permit(vec![Reason::OwningInstitution])
            } else {
                Evaluation::deny(vec![Reason::NotOwningInstitution])
            }
        }
        (Principal::Institution(i), ManageParticipants, Resource::Institution(id)) => {
            if *id == i.institution {
                Evaluation::permit(vec![Reason::OwningInstitution])
            } else {
                Evaluation::deny(vec![Reason::NotOwningInstitution])
            }
        }
        (Principal::Institution(_), _, _) => {
            Evaluation::deny(vec![Reason::InstitutionNotPermitted])
        }

        (Principal::SignedUrl(g), ReadData, Resource::Object { id, .. }) if g.object == *id => {
            signed_url_rule(facts, g, now)
        }
        (Principal::SignedUrl(_), _, _) => Evaluation::deny(vec![Reason::SignedUrlScope]),

        (Principal::Passport(_), ManageParticipants, _) => {
            Evaluation::deny(vec![Reason::InstitutionCredentialRequired])
        }
        (Principal::Passport(_), ReadMetadata, Resource::OwnAuditTrail) => {
            Evaluation::permit(vec![Reason::OwnAuditTrail])
        }
        (Principal::Passport(p), Administer, Resource::Approvals | Resource::Revocations) => {
            let name = format!("{}#{}", p.issuer, p.subject);
            if settings.administrators.contains(&name) {
                Evaluation::permit(vec![Reason::Administrator])
            } else {
                Evaluation::deny(vec![Reason::NotAdministrator])
            }
        }
        (Principal::Passport(p), RequestRecontact, Resource::Dataset(d)) => {
            controlled_rule(settings, facts, p, d, now)
        }
        (Principal::Passport(p), ReadMetadata, Resource::Dataset(_)) => registered(settings, p),
        (Principal::Passport(p), ReadData, Resource::Dataset(d)) => match d.access_level {
            AccessLevel::Registered => registered(settings, p),
            AccessLevel::Controlled => controlled_rule(settings, facts, p, d, now),
            AccessLevel::Public => public(action),
        },
        (Principal::Passport(p), ReadMetadata | ReadData, Resource::Object { datasets, .. }) => {
            // Permitted through any dataset that holds it: the first permit wins, else the
            // first denial explains.
            let mut first_denial = None;
            for d in datasets {
                let e = if action == ReadMetadata {
                    registered(settings, p)
                } else {
                    match d.access_level {
                        AccessLevel::Controlled => controlled_rule(settings, facts, p, d, now),
                        _ => registered(settings, p),
                    }
                };
                if e.decision == AccessDecision::Permit {
                    return e;
                }
                first_denial.get_or_insert(e);
            }
            first_denial.unwrap_or_else(|| Evaluation::deny(vec![Reason::NoRuleMatched]))
        }
        (Principal::Passport(_), _, _) => Evaluation::deny(vec![Reason::NoRuleMatched]),
    }
}

/// Beacon discovery on a dataset: always permitted, at the most detailed level the caller
/// holds. CONTROLLED level needs the CONTROLLED rule (grant visa, approval in force, DUO match)
/// on a CONTROLLED dataset; REGISTERED level a registered-researcher visa; anyone else (and a
/// passport without such a visa) is at PUBLIC level. The reasons of a refused higher level
/// follow the level's own reason, for the audit.
fn discovery(
    settings: &PolicySettings,
    facts: &Facts,
    principal: &Principal,
    dataset: &Dataset,
    now: time::OffsetDateTime,
) -> Evaluation {
    let Principal::Passport(p) = principal else {
        return Evaluation::permit(vec![Reason::DiscoveryPublic]);
    };
    let registered = registered(settings, p);
    let level = if registered.decision == AccessDecision::Permit {
        Reason::DiscoveryRegistered
    } else {
        Reason::DiscoveryPublic
    };
    if dataset.access_level != AccessLevel::Controlled {
        let mut reasons = vec![level];
        if level == Reason::DiscoveryPublic {
            reasons.extend(registered.reasons);
        }
        return Evaluation::permit(reasons);
    }
    let controlled = controlled_rule(settings, facts, p, dataset, now);
    if controlled.decision == AccessDecision::Permit {
        return Evaluation {
            reasons: vec![Reason::DiscoveryControlled],
            ..controlled
        };
    }
    let mut reasons = vec![level];
    reasons.extend(controlled.reasons);
    Evaluation {
        decision: AccessDecision::Permit,
        reasons,
        approval: controlled.approval,
        scope: ConsentScope::unknown_requester(),
        duo: controlled.duo,
    }
}

/// The level a [`Action::Discover`] permit was given at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiscoveryLevel {
    /// Anyone.
    Public,
    /// A registered researcher.
    Registered,
    /// A researcher approved for the dataset's data.
    Controlled,
}

impl DiscoveryLevel {
    /// The level stated by a discovery decision's reasons (public when none is stated).
    #[must_use]
    pub fn of_reasons(reasons: &[Reason]) -> Self {
        if reasons.contains(&Reason::DiscoveryControlled) {
            Self::Controlled
        } else if reasons.contains(&Reason::DiscoveryRegistered) {
            Self::Registered
        } else {
            Self::Public
        }
    }

    /// The level's name (`public`, `registered`, `controlled`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Registered => "registered",
            Self::Controlled => "controlled",
        }
    }
}

fn public(action: Action) -> Evaluation {
    Evaluation::permit(vec![if action == Action::ReadData {
        Reason::PublicData
    } else {
        Reason::PublicMetadata
    }])
}

/// REGISTERED: a ResearcherStatus visa (its source already checked against the configured
/// source policy by the verifier), or the gateway's own terms accepted.
fn registered(settings: &PolicySettings, passport: &gemj_auth::VerifiedPassport) -> Evaluation {
    use gemj_passport::VisaType;
    let visas = passport.visas.iter().map(|v| &v.claims.ga4gh_visa_v1);
    let mut reasons = Vec::new();
    for v in visas {
        match &v.r#type {
            VisaType::ResearcherStatus => reasons.push(Reason::RegisteredResearcherStatus),
            VisaType::AcceptedTermsAndPolicies
                if !settings.terms_url.is_empty() && v.value == settings.terms_url =>
            {
                reasons.push(Reason::RegisteredAcceptedTerms);
            }
            _ => {}
        }
    }
    reasons.dedup();
    if reasons.is_empty() {
        Evaluation::deny(vec![Reason::NoRegisteredVisa])
    } else {
        Evaluation::permit(reasons)
    }
}

/// A signed URL permits what its issuing decision permitted, as long as its approval (if any)
/// is still in force; consent is re-checked by the caller at the current epoch.
fn signed_url_rule(
    facts: &Facts,
    grant: &crate::data_url::UrlGrant,
    now: time::OffsetDateTime,
) -> Evaluation {
    if let Some(id) = &grant.approval {
        let approval = facts.approvals.iter().find(|a| a.id == *id);
        let reason = match approval {
            Some(a) if a.in_force(now) => None,
            Some(a) if a.status == gemj_model::ApprovalStatus::Suspended => {
                Some(Reason::ApprovalSuspended)
            }
            Some(a) if a.status == gemj_model::ApprovalStatus::Active => {
                Some(Reason::ApprovalNotInPeriod)
            }
            _ => Some(Reason::ApprovalRevoked),
        };
        if let Some(reason) = reason {
            return Evaluation {
                approval: Some(id.clone()),
                ..Evaluation::deny(vec![reason])
            };
        }
    }
    Evaluation {
        approval: grant.approval.clone(),
        scope: grant.scope(),
        ..Evaluation::permit(vec![Reason::SignedUrl])
    }
}

fn controlled_rule(
    settings: &PolicySettings,
    facts: &Facts,
    passport: &gemj_auth::VerifiedPassport,
    dataset: &Dataset,
    now: time::OffsetDateTime,
) -> Evaluation {
    match controlled::decide(settings, &facts.approvals, passport, dataset, now) {
        ControlledOutcome::Permit { approval, duo } => Evaluation {
            decision: AccessDecision::Permit,
            reasons: vec![Reason::ControlledGrantApprovalAndDuo],
            scope: ConsentScope::of_approval(&approval),
            approval: Some(approval.id),
            duo: Some(duo),
        },
        ControlledOutcome::Deny {
            reason,
            approval,
            duo,
        } => Evaluation {
            decision: AccessDecision::Deny,
            reasons: vec![reason],
            approval,
            scope: ConsentScope::unknown_requester(),
            duo,
        },
    }
}

#[cfg(test)]
mod tests;
