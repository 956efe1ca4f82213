//! The one access decision point. Every API asks it `(principal, action, resource)` and gets a
//! [`Permit`] or a [`Denial`] with reason codes. It denies by default, and it writes every
//! decision, permit or deny, to the audit chain, exactly once, before any answer leaves.
//!
//! The one enforcement call is [`AccessPoint::enforce`] (one resource) or
//! [`AccessPoint::begin`] → [`Enforcement::ask`] ... → [`Enforcement::release`] (several
//! resources in one request: a catalogue listing, a DRS bundle, a Beacon query). It
//!
//! 1. gathers the facts (the caller's approvals) and runs the pure policy ([`evaluate`]);
//! 2. takes the consent snapshot the answer is served under, when the ask depends on consent;
//! 3. lends the [`Permit`] (or the [`Verdicts`]) to the service that computes the answer;
//! 4. writes one audit row per decision with what the answer served (consent epoch,
//!    participants, records returned and filtered) in one durable append (a Beacon query's
//!    permitted dataset decisions in one row: [`Enforcement::one_row`]);
//! 5. and only then hands the answer back.
//!
//! Invariant: data leaves only through these calls. A [`Permit`] has no public constructor, is
//! not `Clone`, and is only lent by reference for the time of the service call, so every
//! function that releases data takes a `&Permit` and its answer cannot leave before the audit
//! row is durable. A denied, failed or abandoned request still leaves exactly one row per
//! decision (see [`Enforcement`]).
//!
//! The policy (see [`evaluate`] for the full table):
//!
//! * PUBLIC datasets: anyone reads metadata and data.
//! * REGISTERED: a verified passport with a ResearcherStatus visa from a trusted source, an
//!   AffiliationAndRole visa with a configured role (`registered_roles`), or an
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

use std::collections::HashMap;
use std::sync::Arc;

use gemj_model::{
    AccessDecision, AccessLevel, Approval, ApprovalId, AuditEvent, Dataset, InstitutionId,
    ObjectId, ParticipantId,
};

use crate::CoreError;
use crate::audit::AuditSink;
use crate::consent_view::{ConsentSnapshot, ConsentView};
use crate::controlled::{self, ControlledOutcome};
use crate::drs::sha256_hex;

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
    /// The gateway's operator, running a command on its host with the store's credentials (the
    /// CLI's `export phenopacket`), named by the account that ran it. Never built from an HTTP
    /// request. It may read one participant at a time for export, never a withdrawn one, and
    /// each read is audited like any other.
    Operator(Arc<str>),
}

impl Principal {
    /// The audit form: `anonymous`, `issuer#subject` for a verified passport, or
    /// `institution:ID#subject` for an institution.
    #[must_use]
    pub fn audit_name(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".to_owned(),
            // Spelled out: this runs for every audited request (`format!` costs several times more).
            Self::Passport(p) => [p.issuer.as_str(), "#", p.subject.as_str()].concat(),
            Self::Institution(i) => format!("institution:{}#{}", i.institution, i.subject),
            Self::SignedUrl(g) => g.principal.clone(),
            Self::Operator(name) => format!("operator:{name}"),
        }
    }

    /// The name Beacon's budgets and risk ledgers count this caller under: the audit name,
    /// except that a Beacon network's passport (of an issuer trusted as one) counts as the
    /// caller it stands for ([`gemj_auth::VerifiedPassport::network_caller`]). Asking through a
    /// network therefore spends the budget and the risk ledger of asking directly, not fresh ones
    /// under the network's pseudonym for the caller; no other issuer's links change the name, so
    /// a caller cannot pick its own.
    #[must_use]
    pub fn budget_name(&self) -> String {
        match self {
            Self::Passport(p) => p
                .network_caller
                .clone()
                .unwrap_or_else(|| self.audit_name()),
            _ => self.audit_name(),
        }
    }

    /// The name budgets, risk ledgers and per-caller limits count this caller under when it
    /// asks from `client`: its [`budget_name`](Self::budget_name), or for an anonymous caller
    /// its address (`ip:<address>`).
    #[must_use]
    pub fn requester(&self, client: Option<std::net::IpAddr>) -> String {
        match (self, client) {
            (Self::Anonymous, Some(ip)) => format!("ip:{ip}"),
            _ => self.budget_name(),
        }
    }

    /// When the credentials that authorise this caller stop being valid (seconds since the
    /// epoch): a passport's `exp` or the earliest `exp` of its accepted visas, whichever comes
    /// first; a signed URL's own expiry. `None` for callers without an expiring credential.
    /// No URL the gateway issues outlives it.
    #[must_use]
    pub fn credentials_expire_at(&self) -> Option<i64> {
        match self {
            Self::Passport(p) => Some(
                p.visas
                    .iter()
                    .map(|v| v.claims.exp)
                    .fold(p.expires_at, i64::min),
            ),
            Self::SignedUrl(g) => Some(g.exp),
            Self::Anonymous | Self::Institution(_) | Self::Operator(_) => None,
        }
    }

    /// When a URL issued now to this caller for `ttl_secs` expires: `now + ttl_secs`, never
    /// after [`Principal::credentials_expire_at`].
    #[must_use]
    pub fn url_expiry(&self, now: i64, ttl_secs: i64) -> i64 {
        let exp = now.saturating_add(ttl_secs);
        self.credentials_expire_at().map_or(exp, |c| exp.min(c))
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
            Self::Operator(_) => Vec::new(),
        }
    }
}

/// What the policy needs to know besides the request: set from the configuration.
#[derive(Clone, Default)]
pub struct PolicySettings {
    /// The terms URL whose AcceptedTermsAndPolicies visa grants REGISTERED access (empty: none).
    pub terms_url: String,
    /// Roles (`faculty`, `staff`, ...) whose AffiliationAndRole visa (`role@domain`, its issuer
    /// and source already checked against the trust table) grants REGISTERED access.
    pub registered_roles: Vec<String>,
    /// The prefix of dataset URIs in ControlledAccessGrants visas: a grant for dataset `D` has
    /// the value `<prefix>D`.
    pub dataset_grant_prefix: String,
    /// Administrators (`issuer#subject` of their passport), who manage approvals.
    pub administrators: Vec<String>,
    /// The Data Use Ontology; without it, every CONTROLLED condition goes to the committee.
    pub duo: Option<Arc<gemj_duo::Ontology>>,
    /// The one clock skew of the deployment, in seconds (the verifier's): a grant visa is in
    /// force until `exp + clock_skew_secs`, and its `asserted` is aged with the same leeway.
    pub clock_skew_secs: i64,
    /// Per dataset id, the oldest `asserted` of a ControlledAccessGrants visa that still
    /// authorises for that dataset (a committee that reviews yearly for one dataset and
    /// half-yearly for another). It narrows the per-type limit the verifier applies to every
    /// grant; datasets not listed have that limit only.
    pub max_grant_age: std::collections::BTreeMap<String, std::time::Duration>,
    /// Datasets whose data may be analysed but never leave (a trusted research environment):
    /// their files are inputs to WES runs of callers the dataset's rule permits, and nothing of
    /// them is read directly (htsget, DRS access, data URLs, FHIR reads); Beacon answers them at
    /// most with counts.
    pub analysis_only: std::collections::BTreeSet<String>,
    /// How many refused credentials one address may have audited one by one per window.
    pub refusals: RefusalLimit,
}

/// Refused credentials audited one by one per address and window ([`AccessPoint::refuse_credential`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalLimit {
    /// Refusals audited one by one from one address (an IPv6 address by its /64) per window,
    /// over every instance sharing the store. 0: every refusal is audited.
    pub per_address: u32,
    /// The window, seconds.
    pub window_secs: u64,
}

impl PolicySettings {
    /// Whether a dataset's data may only be analysed.
    #[must_use]
    pub fn is_analysis_only(&self, dataset: &Dataset) -> bool {
        self.analysis_only.contains(dataset.id.as_str())
    }
}

impl std::fmt::Debug for PolicySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySettings")
            .field("terms_url", &self.terms_url)
            .field("registered_roles", &self.registered_roles)
            .field("dataset_grant_prefix", &self.dataset_grant_prefix)
            .field("administrators", &self.administrators.len())
            .field("duo", &self.duo.as_ref().map(|d| d.version_iri()))
            .field("clock_skew_secs", &self.clock_skew_secs)
            .field("max_grant_age", &self.max_grant_age)
            .field("analysis_only", &self.analysis_only)
            .field("refusals", &self.refusals)
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
    /// Read data as the input of an analysis that runs next to it (a WES run): the rule of
    /// reading data, and the only way into an analysis-only dataset.
    Analyse,
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
            Self::Analyse => "analyse",
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
        /// The caller who owns it (`issuer#subject`), for an object only its owner and the
        /// members of its project may see (a WES run's output); `None` for every other object.
        owner: Option<String>,
        /// The project an owned object belongs to: a caller with an approval in force for it
        /// is a member. `None`: the owner alone.
        project: Option<String>,
        /// A WES output of analysis-only inputs that the committee has not released yet.
        held: bool,
    },
    /// A WES run, with its owner (`issuer#subject`): only the owner reads or cancels it.
    Run {
        /// The run's id (`None`: the owner's runs, listed).
        id: Option<String>,
        /// Who submitted it.
        owner: String,
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
    /// The caller's own approvals and applications.
    OwnApprovals,
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
            Self::Dataset(d) => ["dataset:", d.id.as_str()].concat(),
            Self::Object { id, .. } => format!("object:{id}"),
            Self::Participant { id, .. } => format!("participant:{id}"),
            Self::Institution(id) => format!("institution:{id}"),
            Self::OwnAuditTrail => "audit:self".to_owned(),
            Self::OwnApprovals => "approvals:self".to_owned(),
            Self::Approvals => "approvals".to_owned(),
            Self::Revocations => "revocations".to_owned(),
            Self::Run { id: Some(id), .. } => format!("run:{id}"),
            Self::Run { id: None, .. } => "runs:own".to_owned(),
        }
    }

    /// Whether deciding `action` here reads the caller's approvals: only CONTROLLED data (and
    /// recontact requests) do; CONTROLLED metadata follows the REGISTERED rule.
    fn needs_approvals(&self, action: Action) -> bool {
        let controlled = |d: &Dataset| d.access_level == AccessLevel::Controlled;
        match (self, action) {
            (Self::Dataset(_), Action::RequestRecontact) => true,
            (Self::Dataset(d), Action::ReadData | Action::Discover | Action::Analyse) => {
                controlled(d)
            }
            (
                Self::Object {
                    datasets, project, ..
                },
                Action::ReadData | Action::ReadMetadata | Action::Analyse,
            ) => project.is_some() || datasets.iter().any(|d| controlled(d)),
            _ => false,
        }
    }
}

/// Why a decision went the way it did. The codes are stable: clients and auditors read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Service metadata is public.
    ServiceMetadataPublic,
    /// A Beacon network query: anyone may ask; each member decides what it answers.
    NetworkDiscovery,
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
    /// A verified passport carries an AffiliationAndRole visa with a configured role.
    RegisteredAffiliationAndRole,
    /// The passport has neither a ResearcherStatus visa nor the gateway's terms.
    NoRegisteredVisa,
    /// CONTROLLED: a grant visa, an approval in force and a DUO match.
    ControlledGrantApprovalAndDuo,
    /// CONTROLLED: no valid ControlledAccessGrants visa names the dataset.
    NoGrantVisa,
    /// CONTROLLED: the grant visas naming the dataset were asserted longer ago than the
    /// dataset's maximum age: the committee must assert the grant again.
    GrantAssertedTooOld,
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
    /// A verified caller reads their own records (audit trail, approvals and applications).
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
    /// The gateway's operator exports one participant from the host (never a withdrawn one).
    OperatorExport,
    /// Beacon discovery at PUBLIC level (booleans).
    DiscoveryPublic,
    /// Beacon discovery at REGISTERED level (counts): a registered researcher.
    DiscoveryRegistered,
    /// Beacon discovery at CONTROLLED level (records): the CONTROLLED rule holds.
    DiscoveryControlled,
    /// The caller owns the object (a WES output) or the run.
    Owner,
    /// The object (a WES output) belongs to the caller's project: the caller holds an
    /// approval in force for the project its run was approved under.
    ProjectMember,
    /// The object (a WES output) or the run belongs to another caller (of another project).
    NotOwner,
    /// The dataset's data may only be analysed (WES), never read directly.
    AnalysisOnly,
    /// A WES output of analysis-only inputs: it leaves only once the committee releases it.
    ReleasePending,
}

impl Reason {
    /// The stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::ServiceMetadataPublic => "service_metadata_public",
            Self::NetworkDiscovery => "network_discovery",
            Self::PublicMetadata => "public_metadata",
            Self::PublicData => "public_data",
            Self::AnonymousNotPermitted => "anonymous_not_permitted",
            Self::DataAccessRequiresCredential => "data_access_requires_credential",
            Self::AdministrationRequiresCredential => "administration_requires_credential",
            Self::ObjectInNoDataset => "object_in_no_dataset",
            Self::RegisteredResearcherStatus => "registered_researcher_status",
            Self::RegisteredAcceptedTerms => "registered_accepted_terms",
            Self::RegisteredAffiliationAndRole => "registered_affiliation_and_role",
            Self::NoRegisteredVisa => "no_registered_visa",
            Self::ControlledGrantApprovalAndDuo => "controlled_grant_approval_and_duo",
            Self::NoGrantVisa => "no_grant_visa",
            Self::GrantAssertedTooOld => "grant_asserted_too_old",
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
            Self::OperatorExport => "operator_export",
            Self::DiscoveryPublic => "discovery_public",
            Self::DiscoveryRegistered => "discovery_registered",
            Self::DiscoveryControlled => "discovery_controlled",
            Self::Owner => "owner",
            Self::ProjectMember => "project_member",
            Self::NotOwner => "not_owner",
            Self::AnalysisOnly => "analysis_only",
            Self::ReleasePending => "release_pending",
        }
    }
}

/// Which participants a permitted requester may be served, besides withdrawal (which nobody
/// passes): the consent scopes the requester's use needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    /// The caller's address (past the trusted proxies), for per-address budgets and the
    /// refusal limit; `None` off HTTP (the command line, a workflow's own reads). Never
    /// written to the audit as such.
    pub client: Option<std::net::IpAddr>,
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

/// A decision made but not yet audited: it serves nothing. It lives only inside an
/// [`Enforcement`], which audits it exactly once.
#[derive(Debug, Clone)]
struct Decision {
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
    fn is_permit(&self) -> bool {
        self.evaluation.decision == AccessDecision::Permit
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

impl Outcome {
    /// What a permitted request that served nothing records: no records returned.
    #[must_use]
    pub fn nothing() -> Self {
        Self::returned(0)
    }

    /// What a permitted request that returned `n` records records.
    #[must_use]
    pub fn returned(n: usize) -> Self {
        Self {
            returned: Some(u64::try_from(n).unwrap_or(u64::MAX)),
            ..Self::default()
        }
    }
}

/// What is asked of the access point: an action on a resource, and whether the answer depends
/// on consent (then the [`Permit`] carries the consent snapshot it is served under).
#[derive(Debug, Clone)]
pub struct Ask {
    action: Action,
    resource: Resource,
    consent: bool,
}

impl Ask {
    /// `action` on `resource`. Reading data, discovery and recontact requests are answered
    /// under a consent snapshot; the other actions only when [`Ask::with_consent`] says so.
    #[must_use]
    pub fn new(action: Action, resource: Resource) -> Self {
        let consent = matches!(
            action,
            Action::ReadData | Action::Discover | Action::RequestRecontact | Action::Analyse
        );
        Self {
            action,
            resource,
            consent,
        }
    }

    /// The answer depends on consent: the permit carries a snapshot (a stale view refuses).
    #[must_use]
    pub fn with_consent(mut self) -> Self {
        self.consent = true;
        self
    }

    /// The answer does not depend on consent (the service reads its own, later, snapshot).
    #[must_use]
    pub fn without_consent(mut self) -> Self {
        self.consent = false;
        self
    }
}

/// What a denied request answers, for [`AccessPoint::enforce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDenial {
    /// [`CoreError::Denied`] with the reasons (401 for an anonymous caller, else 403).
    Explain,
    /// [`CoreError::NotFound`]: the caller may not learn whether the resource exists.
    Hide,
    /// An anonymous caller is asked for a credential ([`CoreError::CredentialRequired`]);
    /// anyone else gets [`CoreError::NotFound`].
    HideFromCredentialed,
    /// [`CoreError::CredentialRequired`], whoever asks (a caller's own records).
    CredentialRequired,
}

impl OnDenial {
    /// The error a denial is answered with.
    pub(crate) fn error(self, denial: Denial) -> CoreError {
        match self {
            Self::Explain => CoreError::Denied(Box::new(denial)),
            Self::Hide => CoreError::NotFound,
            Self::HideFromCredentialed if denial.unauthenticated => CoreError::CredentialRequired,
            Self::HideFromCredentialed => CoreError::NotFound,
            Self::CredentialRequired => CoreError::CredentialRequired,
        }
    }
}

/// Permission to serve what was asked, lent by the [`AccessPoint`] to the service that
/// computes the answer. It cannot be made, cloned or kept outside [`Enforcement::release`]
/// (and [`AccessPoint::enforce`]), which hand the answer back only once the decision's audit
/// row, with what the answer served, is durable. Every function that releases data takes a
/// `&Permit` (or the [`Verdicts`] holding them).
///
/// A permit cannot be made anywhere else:
///
/// ```compile_fail
/// let forged = gemj_core::Permit {
///     reasons: Vec::new(),
///     approval: None,
///     scope: gemj_core::ConsentScope::unknown_requester(),
///     consent: None,
/// };
/// ```
///
/// nor kept beyond the service call that borrows it:
///
/// ```compile_fail
/// fn keep(permit: &gemj_core::Permit) -> gemj_core::Permit {
///     permit.clone()
/// }
/// ```
#[derive(Debug)]
pub struct Permit {
    reasons: Vec<Reason>,
    approval: Option<ApprovalId>,
    scope: ConsentScope,
    consent: Option<ConsentSnapshot>,
}

impl Permit {
    /// Why it was permitted.
    #[must_use]
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The approval that permitted (CONTROLLED).
    #[must_use]
    pub fn approval(&self) -> Option<&ApprovalId> {
        self.approval.as_ref()
    }

    /// Which participants may be served, besides withdrawal.
    #[must_use]
    pub fn scope(&self) -> ConsentScope {
        self.scope
    }

    /// The level a discovery permit was given at.
    #[must_use]
    pub fn discovery_level(&self) -> DiscoveryLevel {
        DiscoveryLevel::of_reasons(&self.reasons)
    }

    /// The consent snapshot the request is served under.
    ///
    /// # Errors
    /// [`CoreError::ConsentStale`] when the request did not ask for consent (a service asking
    /// for it then is a mistake: nothing consent-dependent is served).
    pub fn consent(&self) -> Result<&ConsentSnapshot, CoreError> {
        self.consent
            .as_ref()
            .ok_or(CoreError::ConsentStale { age_ms: u64::MAX })
    }

    /// Whether `participant`'s data may be served under this permit: inside the requester's
    /// consent scope at the snapshot's epoch. Never without a snapshot.
    #[must_use]
    pub fn serves(&self, participant: &ParticipantId) -> bool {
        self.consent
            .as_ref()
            .is_some_and(|s| s.serves(participant, self.scope))
    }
}

/// A denial, with its reasons; audited like every decision.
#[derive(Debug, Clone)]
pub struct Denial {
    /// Why it was denied.
    pub reasons: Vec<Reason>,
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

/// What the policy decided on one [`Ask`] of an [`Enforcement`], before anything is served:
/// enough to plan the answer (whether it is permitted, at which level, in which consent
/// scope), never to serve it.
#[derive(Debug, Clone)]
pub struct Verdict {
    index: usize,
    evaluation: Evaluation,
}

impl Verdict {
    /// Its position in the request's [`Verdicts`].
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

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

/// Every decision of one request, permits and denials in the order asked, lent to the service
/// by [`Enforcement::release`].
#[derive(Debug)]
pub struct Verdicts(Vec<Result<Permit, Denial>>);

impl Verdicts {
    /// The permit of the `index`-th ask, if it was permitted.
    #[must_use]
    pub fn permit(&self, index: usize) -> Option<&Permit> {
        self.0.get(index).and_then(|v| v.as_ref().ok())
    }

    /// The `index`-th decision.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<&Result<Permit, Denial>> {
        self.0.get(index)
    }

    /// How many decisions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing was asked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The decisions in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Result<Permit, Denial>> {
        self.0.iter()
    }
}

/// An answer released by the access point, with the audit rows of its decisions (in the order
/// asked).
#[derive(Debug)]
#[must_use]
pub struct Released<T> {
    /// The answer.
    pub value: T,
    /// The audit records holding the request's decisions.
    pub audit_seqs: Vec<i64>,
}

impl<T> Released<T> {
    /// The audit record of the first decision.
    #[must_use]
    pub fn audit_seq(&self) -> i64 {
        self.audit_seqs.first().copied().unwrap_or_default()
    }
}

struct Pending {
    decision: Decision,
    consent: bool,
}

/// One request's passage through the access point: [`Enforcement::ask`] decides each
/// resource (and audits nothing yet); [`Enforcement::release`] lends the [`Verdicts`] to the
/// service that computes the answer, audits every decision with what was served in one
/// durable append, and only then returns the answer. A request that ends otherwise (an error,
/// a stale consent view, a dropped future) still leaves one audit row per decision: refused
/// ones by [`Enforcement::refuse`], abandoned ones when the enforcement is dropped.
pub struct Enforcement<'a> {
    point: &'a AccessPoint,
    ctx: &'a RequestContext,
    principal: &'a Principal,
    pending: Vec<Pending>,
    snapshot: Option<ConsentSnapshot>,
    /// The caller's approvals, read at the first decision that needs them: every decision
    /// of one request is made on one reading (and a Beacon query over many controlled
    /// datasets reads them once); with whether it was read from the store itself (else it is
    /// discovery's cached reading, which a decision to read data does not use).
    approvals: Option<(Vec<Approval>, bool)>,
    /// Whether the request's decisions are audited in one row ([`Enforcement::one_row`]).
    one_row: bool,
}

impl std::fmt::Debug for Enforcement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforcement")
            .field("request_id", &self.ctx.request_id)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Enforcement<'_> {
    /// Audits the request's decisions in one row when they all permit the same action on
    /// datasets under one consent epoch (a Beacon query over many datasets);
    /// otherwise, one row per decision as always.
    #[must_use]
    pub fn one_row(mut self) -> Self {
        self.one_row = true;
        self
    }

    /// Decides `ask` (reading the caller's approvals when the rule needs them). Nothing is
    /// served or audited yet.
    ///
    /// # Errors
    /// Store failures while reading the caller's approvals.
    pub async fn ask(&mut self, ask: Ask) -> Result<Verdict, CoreError> {
        let needs = matches!(self.principal, Principal::Passport(_))
            && ask.resource.needs_approvals(ask.action);
        // A reading for discovery may be a cached one: reading data takes its own.
        let discover = ask.action == Action::Discover;
        let facts = match &self.approvals {
            Some((read, direct)) if needs && (*direct || discover) => Facts {
                approvals: read.clone(),
            },
            _ => {
                let facts = self
                    .point
                    .facts(self.principal, ask.action, &ask.resource)
                    .await?;
                if needs {
                    self.approvals = Some((facts.approvals.clone(), !discover));
                }
                facts
            }
        };
        let caller = self.pending.last().map(|p| &p.decision);
        let decision = self.point.decide(
            self.ctx,
            self.principal,
            ask.action,
            &ask.resource,
            &facts,
            caller,
        );
        let verdict = Verdict {
            index: self.pending.len(),
            evaluation: decision.evaluation.clone(),
        };
        self.pending.push(Pending {
            decision,
            consent: ask.consent,
        });
        Ok(verdict)
    }

    /// The consent snapshot this request is answered under, taken once: the one its permits
    /// will carry.
    ///
    /// # Errors
    /// [`CoreError::ConsentStale`] when this instance's view is too old.
    pub fn consent(&mut self) -> Result<ConsentSnapshot, CoreError> {
        if let Some(s) = &self.snapshot {
            return Ok(s.clone());
        }
        let snapshot = self.point.consent.snapshot()?;
        self.snapshot = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Audits every decision asked so far as serving nothing, and answers the first denial
    /// (for a request that is refused).
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`]; [`CoreError::Denied`] with a reason-less denial when
    /// nothing was denied (a caller's mistake, never a permit).
    pub async fn refuse(mut self) -> Result<Denial, CoreError> {
        let pending = std::mem::take(&mut self.pending);
        let first = pending
            .iter()
            .find(|p| !p.decision.is_permit())
            .map(|p| p.decision.clone());
        self.point
            .commit(pending, Vec::new(), true, self.one_row)
            .await?;
        Ok(first.map_or_else(
            || Denial {
                reasons: vec![Reason::NoRuleMatched],
                unauthenticated: false,
                duo: None,
            },
            denial_of,
        ))
    }

    /// Serves the request: lends the [`Verdicts`] (with the consent snapshot for asks that
    /// need one) to `serve`, audits every decision with the outcome `serve` reports for it
    /// (in the order asked; missing ones record nothing served) in one durable append, and
    /// only then returns the answer. When `serve` fails, the decisions are audited as serving
    /// nothing and its error returned.
    ///
    /// # Errors
    /// `serve`'s error; [`CoreError::ConsentStale`] when a permitted ask needs consent and the
    /// view is stale; [`CoreError::AuditUnavailable`] when the audit cannot be written (then
    /// nothing is returned).
    pub async fn release<T, E>(
        mut self,
        serve: impl AsyncFnOnce(&Verdicts) -> Result<(T, Vec<Outcome>), E>,
    ) -> Result<Released<T>, E>
    where
        E: From<CoreError>,
    {
        let pending = std::mem::take(&mut self.pending);
        let needs_consent = pending.iter().any(|p| p.consent && p.decision.is_permit());
        let snapshot = if needs_consent {
            match self.consent() {
                Ok(s) => Some(s),
                Err(stale) => {
                    self.point
                        .commit(pending, Vec::new(), true, self.one_row)
                        .await?;
                    return Err(stale.into());
                }
            }
        } else {
            self.snapshot.clone()
        };
        let verdicts = Verdicts(
            pending
                .iter()
                .map(|p| {
                    let consent = if p.consent { snapshot.clone() } else { None };
                    answer_of(p.decision.clone(), consent)
                })
                .collect(),
        );
        let served = serve(&verdicts).await;
        drop(verdicts);
        match served {
            Ok((value, outcomes)) => {
                let audit_seqs = self
                    .point
                    .commit(pending, outcomes, false, self.one_row)
                    .await?;
                Ok(Released { value, audit_seqs })
            }
            Err(e) => {
                self.point
                    .commit(pending, Vec::new(), true, self.one_row)
                    .await?;
                Err(e)
            }
        }
    }
}

impl Drop for Enforcement<'_> {
    /// A request abandoned between its decisions and its answer (an early error, a client
    /// gone) still leaves its audit rows: written in the background, as serving nothing.
    fn drop(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let at = time::OffsetDateTime::now_utc();
        let abandoned = Outcome {
            answer: Some("abandoned".to_owned()),
            ..Outcome::nothing()
        };
        let mut events: Vec<AuditEvent> = std::mem::take(&mut self.pending)
            .iter()
            .map(|p| audit_event(&p.decision, &abandoned, at))
            .collect();
        if self.one_row {
            events = merge_rows(events);
        }
        let audit = self.point.audit.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if audit.record_many(events).await.is_err() {
                    tracing::error!(
                        message = "The audit of an abandoned request could not be written."
                    );
                }
            });
        }
    }
}

/// An audit row written outside a decision (a refusal before one, a run's output registered):
/// one reason, no credential, approval, consent epoch or participants unless the caller adds
/// them.
fn row_event(
    ctx: &RequestContext,
    principal: String,
    action: &str,
    resource: String,
    decision: AccessDecision,
    reason: String,
) -> AuditEvent {
    AuditEvent {
        at: time::OffsetDateTime::now_utc(),
        request_id: ctx.request_id.clone(),
        api: ctx.api.to_owned(),
        endpoint: ctx.endpoint.clone(),
        principal,
        action: action.to_owned(),
        resource,
        decision,
        reasons: vec![reason],
        credential_hashes: Vec::new(),
        approval: None,
        consent_epoch: None,
        participants: Vec::new(),
        records_returned: None,
        records_filtered: None,
    }
}

fn answer_of(d: Decision, consent: Option<ConsentSnapshot>) -> Result<Permit, Denial> {
    if d.is_permit() {
        let e = d.evaluation;
        Ok(Permit {
            reasons: e.reasons,
            approval: e.approval,
            scope: e.scope,
            consent,
        })
    } else {
        Err(denial_of(d))
    }
}

fn denial_of(d: Decision) -> Denial {
    Denial {
        reasons: d.evaluation.reasons,
        unauthenticated: d.anonymous,
        duo: d.evaluation.duo,
    }
}

/// The access decision point.
#[derive(Debug, Clone)]
pub struct AccessPoint {
    audit: AuditSink,
    settings: Arc<PolicySettings>,
    store: gemj_store::Store,
    consent: ConsentView,
    discovery_approvals: Arc<DiscoveryApprovals>,
    refusals: Option<Arc<RefusalLimiter>>,
}

/// The budgets of refused credentials per address ([`RefusalLimit`]), kept in the store like
/// Beacon's query budgets (so shared by every instance on it), and the addresses this instance
/// has written the one row of a limited window for.
#[derive(Debug)]
struct RefusalLimiter {
    budgets: crate::beacon::privacy::Budgets,
    /// Address keys, with when their limited window ends: until then, their refusals are
    /// answered without a row.
    limited: std::sync::Mutex<HashMap<std::net::IpAddr, std::time::Instant>>,
}

impl RefusalLimiter {
    /// The most limited addresses remembered; past it, those whose window ended are forgotten
    /// (all, if none has: the next refusal of each writes its one row again).
    const CAPACITY: usize = 10_000;

    /// Whether this is the first refusal of `address` past its budget in the window that ends
    /// in `wait`: the one whose row is written.
    fn first_over(&self, address: std::net::IpAddr, wait: std::time::Duration) -> bool {
        let now = std::time::Instant::now();
        let mut limited = self
            .limited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if limited.get(&address).is_some_and(|until| *until > now) {
            return false;
        }
        if limited.len() >= Self::CAPACITY {
            limited.retain(|_, until| *until > now);
            if limited.len() >= Self::CAPACITY {
                limited.clear();
            }
        }
        limited.insert(address, now + wait);
        true
    }

    /// Forgets that `address`'s row was written (it could not be): the next refusal writes it.
    fn forget(&self, address: std::net::IpAddr) {
        self.limited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&address);
    }
}

/// The refusal codes of credentials that nothing shows a trusted issuer made: unreadable,
/// oversized, of an issuer, key or algorithm not trusted, or whose signature does not verify
/// (or cannot be checked now). Only these count against [`RefusalLimit`]; a refusal of a
/// credential whose signature verified (expired, revoked, replayed, for another audience, with
/// claims or visas refused) is always audited one by one.
const UNVERIFIED_REFUSALS: &[&str] = &[
    "malformed_token",
    "token_too_large",
    "alg_not_allowed",
    "wrong_typ",
    "crit_not_understood",
    "missing_kid",
    "untrusted_issuer",
    "passport_issuer_not_trusted",
    "untrusted_jku",
    "unknown_kid",
    "weak_key",
    "unsupported_key",
    "key_alg_mismatch",
    "bad_signature",
    "jwks_unavailable",
    "untrusted_url",
    "broker_unavailable",
    "broker_rejected",
    "broker_response_invalid",
    "malformed_authorization",
    "bearer_token_required",
    "authorization_too_large",
    "passports_too_large",
    "body_too_large",
    "malformed_credential",
];

/// Callers' approvals as read for discovery (Beacon and Data Connect over CONTROLLED
/// datasets, where every query would otherwise read them): a reading serves for
/// [`DiscoveryApprovals::RECHECK`] and none taken before an approval write of this process
/// serves at all. Reading data never uses it: it reads the approvals at every request.
#[derive(Debug, Default)]
struct DiscoveryApprovals {
    readings: std::sync::Mutex<HashMap<(String, String), ApprovalsReading>>,
}

#[derive(Debug, Clone)]
struct ApprovalsReading {
    at: std::time::Instant,
    /// [`gemj_store::Store::approval_writes`] before the read.
    writes: u64,
    approvals: Arc<[Approval]>,
}

impl DiscoveryApprovals {
    /// How long a reading serves: another replica's change of an approval reaches this
    /// instance's discovery answers within this (its own changes at once).
    const RECHECK: std::time::Duration = std::time::Duration::from_secs(1);
    /// The most callers remembered; past it, stale readings are forgotten (all, if none is).
    const CAPACITY: usize = 10_000;

    async fn of(
        &self,
        store: &gemj_store::Store,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<Approval>, CoreError> {
        let key = (issuer.to_owned(), subject.to_owned());
        let writes = store.approval_writes();
        let fresh = |r: &ApprovalsReading| r.writes == writes && r.at.elapsed() < Self::RECHECK;
        if let Some(r) = self.lock().get(&key).filter(|r| fresh(r)) {
            return Ok(r.approvals.to_vec());
        }
        let at = std::time::Instant::now();
        let approvals = store.approvals_of(issuer, subject).await?;
        let mut readings = self.lock();
        if readings.len() >= Self::CAPACITY {
            readings.retain(|_, r| fresh(r));
            if readings.len() >= Self::CAPACITY {
                readings.clear();
            }
        }
        readings.insert(
            key,
            ApprovalsReading {
                at,
                writes,
                approvals: approvals.clone().into(),
            },
        );
        Ok(approvals)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), ApprovalsReading>> {
        self.readings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl AccessPoint {
    /// With a local audit journal: waits (up to 2 s) until every audited event recorded so far
    /// is in the store's chain, so that a read of the audit that follows sees them. At once
    /// without a journal.
    pub async fn settle_audit(&self) {
        if !self.audit.settle(std::time::Duration::from_secs(2)).await {
            tracing::warn!(
                message = "The audit journal is not shipped yet; reading the audit as it is."
            );
        }
    }

    /// A decision point reading approvals from `store`, consent from `consent`, and writing to
    /// the given audit sink.
    #[must_use]
    pub fn new(
        audit: AuditSink,
        settings: PolicySettings,
        store: gemj_store::Store,
        consent: ConsentView,
    ) -> Self {
        let refusals = (settings.refusals.per_address > 0).then(|| {
            Arc::new(RefusalLimiter {
                budgets: crate::beacon::privacy::Budgets::prefixed(
                    crate::beacon::privacy::BudgetSettings {
                        per_caller: u32::MAX,
                        per_ip: settings.refusals.per_address,
                        window_secs: settings.refusals.window_secs.max(1),
                        ..crate::beacon::privacy::BudgetSettings::default()
                    },
                    store.clone(),
                    "refusals:",
                ),
                limited: std::sync::Mutex::default(),
            })
        });
        Self {
            audit,
            settings: Arc::new(settings),
            store,
            consent,
            discovery_approvals: Arc::default(),
            refusals,
        }
    }

    /// The policy settings.
    #[must_use]
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// The one enforcement call for a request about one resource: decides `ask` for
    /// `principal`; a denial is audited and answered as `on_denial` says; a permit is lent to
    /// `serve`, whose answer is returned only after the decision's audit row, with the
    /// [`Outcome`] `serve` reports, is durable.
    ///
    /// # Errors
    /// The denial's error, `serve`'s error, [`CoreError::ConsentStale`], store failures or
    /// [`CoreError::AuditUnavailable`].
    pub async fn enforce<T, E>(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        ask: Ask,
        on_denial: OnDenial,
        serve: impl AsyncFnOnce(&Permit) -> Result<(T, Outcome), E>,
    ) -> Result<T, E>
    where
        E: From<CoreError>,
    {
        let mut enforcement = self.begin(ctx, principal);
        if !enforcement.ask(ask).await?.is_permit() {
            let denial = enforcement.refuse().await?;
            return Err(on_denial.error(denial).into());
        }
        enforcement
            .release(
                async move |verdicts: &Verdicts| -> Result<(T, Vec<Outcome>), E> {
                    let permit = verdicts.permit(0).ok_or(CoreError::AuditUnavailable)?;
                    let (value, outcome) = serve(permit).await?;
                    Ok((value, vec![outcome]))
                },
            )
            .await
            .map(|r| r.value)
    }

    /// Whether a caller refused data on `resource` may be told so (403 instead of 404): it may
    /// read the resource's metadata, and every one of `participants` is inside the consent
    /// scope of that permission (what a metadata request would have shown). This is part of
    /// the data decision already recorded (it only chooses how the refusal is answered), not a
    /// decision of its own: nothing is served and no row is written.
    ///
    /// # Errors
    /// [`CoreError::ConsentStale`], store failures.
    pub async fn metadata_visible(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        resource: &Resource,
        participants: &[ParticipantId],
    ) -> Result<bool, CoreError> {
        let decision = self
            .evaluate(ctx, principal, Action::ReadMetadata, resource)
            .await?;
        if decision.evaluation.decision != AccessDecision::Permit {
            return Ok(false);
        }
        if participants.is_empty() {
            return Ok(true);
        }
        let snapshot = self.consent.snapshot()?;
        let scope = decision.evaluation.scope;
        Ok(participants.iter().all(|p| snapshot.serves(p, scope)))
    }

    /// Starts the enforcement of a request that decides several resources (a catalogue
    /// listing, a DRS bundle, a Beacon query over datasets).
    #[must_use]
    pub fn begin<'a>(
        &'a self,
        ctx: &'a RequestContext,
        principal: &'a Principal,
    ) -> Enforcement<'a> {
        Enforcement {
            point: self,
            ctx,
            principal,
            pending: Vec::new(),
            snapshot: None,
            approvals: None,
            one_row: false,
        }
    }

    /// Audits a credential refused before any access decision could be made (401 for a token
    /// that does not verify, 431 for an oversized header, 503 when its issuer cannot be
    /// reached, 413 for an oversized body): one deny row whose principal is
    /// `unauthenticated`, whose reason is the refusal code, and whose credential hash is the
    /// SHA-256 of what was presented, never the token.
    ///
    /// When the refusal limit is set ([`RefusalLimit`]), the credential is one nothing shows a
    /// trusted issuer made (`UNVERIFIED_REFUSALS`: unreadable, oversized, untrusted, or a
    /// signature that does not verify) and the caller's address (`ctx.client`) has had that
    /// many such refusals audited in the window, over every instance sharing the store, the refusal is
    /// answered alike but not audited one by one: the first past the limit on each instance
    /// writes its row with the reason `credential_refused:refusals_limited` first and the hash
    /// of the address (a pseudonym, not anonymous: an IPv4 address's hash can be reversed by
    /// trying them all); the others of the window write none. A store that cannot count
    /// audits the refusal.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the row cannot be written durably.
    pub async fn refuse_credential(
        &self,
        ctx: &RequestContext,
        presented: &[u8],
        reason: &str,
    ) -> Result<(), CoreError> {
        let mut event = AuditEvent {
            credential_hashes: vec![format!("presented:{}", sha256_hex(presented))],
            ..row_event(
                ctx,
                "unauthenticated".to_owned(),
                "authenticate",
                "credential".to_owned(),
                AccessDecision::Deny,
                format!("credential_refused:{reason}"),
            )
        };
        let mut limited = None;
        if let (Some(limiter), Some(from), true) = (
            &self.refusals,
            ctx.client,
            UNVERIFIED_REFUSALS.contains(&reason),
        ) {
            let address = crate::beacon::privacy::budget_address(from);
            match limiter.budgets.take(None, Some(address)).await {
                Ok(Ok(())) => {}
                Ok(Err(over)) => {
                    let wait = std::time::Duration::from_millis(over.wait_ms.max(1));
                    if !limiter.first_over(address, wait) {
                        return Ok(());
                    }
                    event
                        .reasons
                        .insert(0, "credential_refused:refusals_limited".to_owned());
                    event.credential_hashes.push(format!(
                        "address:{}",
                        sha256_hex(address.to_string().as_bytes())
                    ));
                    limited = Some((limiter, address));
                }
                Err(error) => {
                    tracing::warn!(
                        message = "Refusals could not be counted; this one is audited.",
                        %error
                    );
                }
            }
        }
        let written = self.audit.record_many(vec![event]).await.map(|_| ());
        if written.is_err()
            && let Some((limiter, address)) = limited
        {
            limiter.forget(address);
        }
        written
    }

    /// Audits a request refused before any access decision for what it is, not for its
    /// credential (429 when the caller's query budget is spent): one deny row naming the
    /// caller and the hashes of its credentials, whose reason is `request_refused:<reason>`.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the row cannot be written durably.
    pub async fn refuse_request(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        reason: &str,
    ) -> Result<(), CoreError> {
        self.refusal_row(
            ctx,
            principal.audit_name(),
            principal.credential_hashes(),
            "request",
            "request",
            format!("request_refused:{reason}"),
        )
        .await
    }

    /// Audits the registration of a WES run's output for its owner (`issuer#subject`): one
    /// permit row, action `register_output`, naming the object, the run and whose data the
    /// output derives from. Written before the output is stored, so no output exists that the
    /// audit does not name.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the row cannot be written durably.
    pub async fn record_output(
        &self,
        ctx: &RequestContext,
        owner: &str,
        object: &gemj_model::ObjectId,
        run_id: &str,
        participants: &[ParticipantId],
    ) -> Result<(), CoreError> {
        let event = AuditEvent {
            participants: participants.iter().map(|p| p.as_str().to_owned()).collect(),
            records_returned: Some(1),
            ..row_event(
                ctx,
                owner.to_owned(),
                "register_output",
                format!("object:{object}"),
                AccessDecision::Permit,
                format!("wes_run:{run_id}"),
            )
        };
        self.audit.record_many(vec![event]).await.map(|_| ())
    }

    async fn refusal_row(
        &self,
        ctx: &RequestContext,
        principal: String,
        credential_hashes: Vec<String>,
        action: &str,
        resource: &str,
        reason: String,
    ) -> Result<(), CoreError> {
        let event = AuditEvent {
            credential_hashes,
            ..row_event(
                ctx,
                principal,
                action,
                resource.to_owned(),
                AccessDecision::Deny,
                reason,
            )
        };
        self.audit.record_many(vec![event]).await.map(|_| ())
    }

    /// Gathers the facts and evaluates the policy; audits nothing and permits nothing yet.
    async fn evaluate(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        action: Action,
        resource: &Resource,
    ) -> Result<Decision, CoreError> {
        let facts = self.facts(principal, action, resource).await?;
        Ok(self.decide(ctx, principal, action, resource, &facts, None))
    }

    /// What the policy needs to know about the caller beyond the request: the caller's
    /// approvals, when the rule for `action` on `resource` reads them.
    async fn facts(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
    ) -> Result<Facts, CoreError> {
        Ok(match principal {
            Principal::Passport(p) if resource.needs_approvals(action) => Facts {
                approvals: if action == Action::Discover {
                    self.discovery_approvals
                        .of(&self.store, &p.issuer, &p.subject)
                        .await?
                } else {
                    self.store.approvals_of(&p.issuer, &p.subject).await?
                },
            },
            Principal::SignedUrl(g) => match &g.approval {
                Some(id) => Facts {
                    approvals: self.store.get_approval(id).await?.into_iter().collect(),
                },
                None => Facts::default(),
            },
            _ => Facts::default(),
        })
    }

    /// Evaluates the policy on gathered facts; audits nothing and permits nothing yet. The
    /// caller's audit name and credential hashes are taken from `earlier`, a decision of the
    /// same request for the same principal, when there is one (a Beacon query decides every
    /// dataset), else spelled out.
    fn decide(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        action: Action,
        resource: &Resource,
        facts: &Facts,
        earlier: Option<&Decision>,
    ) -> Decision {
        let now = time::OffsetDateTime::now_utc();
        let evaluation = evaluate(&self.settings, facts, principal, action, resource, now);
        let (name, credential_hashes) = match earlier {
            Some(d) => (d.principal.clone(), d.credential_hashes.clone()),
            None => (principal.audit_name(), principal.credential_hashes()),
        };
        Decision {
            ctx: ctx.clone(),
            principal: name,
            credential_hashes,
            anonymous: matches!(principal, Principal::Anonymous),
            action,
            resource: resource.audit_name(),
            participant: match resource {
                Resource::Participant { id, .. } => Some(id.to_string()),
                _ => None,
            },
            evaluation,
        }
    }

    /// Writes one audit row per decision in one durable append (or, with `one_row`, the
    /// decisions [`merge_rows`] merges in one row, whose sequence number each of them gets):
    /// with the outcome reported for it, or, when `nothing_served`, as a permit that served
    /// nothing.
    async fn commit(
        &self,
        pending: Vec<Pending>,
        outcomes: Vec<Outcome>,
        nothing_served: bool,
        one_row: bool,
    ) -> Result<Vec<i64>, CoreError> {
        let at = time::OffsetDateTime::now_utc();
        let mut outcomes = outcomes.into_iter();
        let events: Vec<AuditEvent> = pending
            .iter()
            .map(|p| {
                let reported = outcomes.next();
                let outcome = match reported {
                    Some(o) if !nothing_served => o,
                    _ if p.decision.is_permit() => Outcome::nothing(),
                    _ => Outcome::default(),
                };
                audit_event(&p.decision, &outcome, at)
            })
            .collect();
        let decisions = events.len();
        let events = if one_row { merge_rows(events) } else { events };
        let expected = events.len();
        let seqs = self.audit.record_many(events).await?;
        if seqs.len() != expected {
            return Err(CoreError::AuditUnavailable);
        }
        if expected < decisions {
            return Ok(vec![seqs[0]; decisions]);
        }
        Ok(seqs)
    }
}

/// Merges the rows of a query's decisions into one: when there are several, every one permits
/// the same action on a dataset, and all saw one consent epoch. The row names the datasets in
/// the order asked (`datasets:A,B,C`); the reasons every decision shares once, then each
/// decision's others prefixed with its dataset (`A:discovery_controlled`); the approval when
/// every decision relied on the same one, else each as a reason (`A:approval:ID`); the
/// participants united; records returned and filtered summed. Otherwise the rows stay as
/// they are, one per decision.
fn merge_rows(events: Vec<AuditEvent>) -> Vec<AuditEvent> {
    const DATASET: &str = "dataset:";
    let Some(first) = events.first() else {
        return events;
    };
    let mergeable = events.len() > 1
        && events.iter().all(|e| {
            e.decision == AccessDecision::Permit
                && e.action == first.action
                && e.consent_epoch == first.consent_epoch
                && e.resource.starts_with(DATASET)
        });
    if !mergeable {
        return events;
    }
    let ids: Vec<&str> = events
        .iter()
        .map(|e| &e.resource[DATASET.len()..])
        .collect();
    let common: Vec<&String> = first
        .reasons
        .iter()
        .filter(|r| events.iter().all(|e| e.reasons.contains(r)))
        .collect();
    let mut reasons: Vec<String> = common.iter().map(|r| (*r).clone()).collect();
    for (id, e) in ids.iter().zip(&events) {
        reasons.extend(
            e.reasons
                .iter()
                .filter(|r| !common.contains(r))
                .map(|r| format!("{id}:{r}")),
        );
    }
    let approval = if events.iter().all(|e| e.approval == first.approval) {
        first.approval.clone()
    } else {
        for (id, e) in ids.iter().zip(&events) {
            reasons.extend(e.approval.iter().map(|a| format!("{id}:approval:{a}")));
        }
        None
    };
    let mut seen = std::collections::HashSet::new();
    let participants: Vec<String> = events
        .iter()
        .flat_map(|e| &e.participants)
        .filter(|p| seen.insert(p.as_str()))
        .cloned()
        .collect();
    let sum =
        |f: fn(&AuditEvent) -> Option<u64>| events.iter().filter_map(f).reduce(u64::saturating_add);
    let resource = format!("datasets:{}", ids.join(","));
    let (records_returned, records_filtered) =
        (sum(|e| e.records_returned), sum(|e| e.records_filtered));
    // The first event's other fields are the row's (taken, not copied).
    let Some(first) = events.into_iter().next() else {
        return Vec::new();
    };
    vec![AuditEvent {
        resource,
        reasons,
        approval,
        participants,
        records_returned,
        records_filtered,
        ..first
    }]
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
///
/// [`rules`] decides the table; this adds what analysis-only datasets and held outputs change.
/// Reading data directly does not count an analysis-only dataset (an object held only in such
/// datasets is not readable, except through a run's own staging grant); analysing (`Analyse`)
/// reads like `ReadData` through every dataset; a WES output held for the committee's release
/// is not readable until released, even by its owner.
#[must_use]
pub fn evaluate(
    settings: &PolicySettings,
    facts: &Facts,
    principal: &Principal,
    action: Action,
    resource: &Resource,
    now: time::OffsetDateTime,
) -> Evaluation {
    let staging = matches!(principal, Principal::SignedUrl(g) if g.analysis.is_some());
    match (action, resource) {
        (Action::Analyse, _) => rules(settings, facts, principal, Action::ReadData, resource, now),
        (Action::ReadData, Resource::Dataset(d)) if settings.is_analysis_only(d) => {
            Evaluation::deny(vec![Reason::AnalysisOnly])
        }
        (
            Action::ReadData,
            Resource::Object {
                id,
                datasets,
                owner,
                project,
                held,
            },
        ) => {
            let direct: Vec<Arc<Dataset>> = datasets
                .iter()
                .filter(|d| !settings.is_analysis_only(d))
                .cloned()
                .collect();
            let e = if staging || owner.is_some() || direct.len() == datasets.len() {
                rules(settings, facts, principal, action, resource, now)
            } else if direct.is_empty() {
                return Evaluation::deny(vec![Reason::AnalysisOnly]);
            } else {
                let narrowed = Resource::Object {
                    id: id.clone(),
                    datasets: direct,
                    owner: owner.clone(),
                    project: project.clone(),
                    held: *held,
                };
                rules(settings, facts, principal, action, &narrowed, now)
            };
            if *held && e.decision == AccessDecision::Permit {
                Evaluation::deny(vec![Reason::ReleasePending])
            } else {
                e
            }
        }
        _ => rules(settings, facts, principal, action, resource, now),
    }
}

/// Whether `principal` may see an owned object (a WES output) of `owner` in `project`, and
/// why: its owner; a passport holding an approval in force for the project; a URL signed for
/// this very object (signed only after such a decision). `None`: it does not exist for them.
fn shares_owned(
    facts: &Facts,
    principal: &Principal,
    object: &ObjectId,
    owner: &str,
    project: Option<&str>,
    now: time::OffsetDateTime,
) -> Option<Reason> {
    match principal {
        Principal::Passport(_) if principal.audit_name() == owner => Some(Reason::Owner),
        Principal::Passport(_) => {
            let project = project?;
            facts
                .approvals
                .iter()
                .any(|a| a.project == project && a.in_force(now))
                .then_some(Reason::ProjectMember)
        }
        Principal::SignedUrl(g) if g.principal == owner || g.object == *object => {
            Some(Reason::Owner)
        }
        _ => None,
    }
}

/// The rules of the policy, by caller, action and resource.
fn rules(
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
        (_, Action::Discover, Resource::Service) => {
            Evaluation::permit(vec![Reason::NetworkDiscovery])
        }
        // An owned object (a WES output) exists for its owner and its project's members only;
        // the rules of its datasets (those of the run's inputs) still apply to each of them.
        (
            _,
            _,
            Resource::Object {
                id,
                owner: Some(o),
                project,
                ..
            },
        ) if shares_owned(facts, principal, id, o, project.as_deref(), now).is_none() => {
            Evaluation::deny(vec![Reason::NotOwner])
        }
        (
            _,
            _,
            Resource::Object {
                id,
                datasets,
                owner,
                project,
                ..
            },
        ) if datasets.is_empty() => {
            match owner
                .as_deref()
                .and_then(|o| shares_owned(facts, principal, id, o, project.as_deref(), now))
            {
                Some(reason) => Evaluation::permit(vec![reason]),
                None => Evaluation::deny(vec![Reason::ObjectInNoDataset]),
            }
        }
        (
            Principal::Passport(_),
            ReadMetadata | ReadData | Administer,
            Resource::Run { owner, .. },
        ) => {
            if principal.audit_name() == *owner {
                Evaluation::permit(vec![Reason::Owner])
            } else {
                Evaluation::deny(vec![Reason::NotOwner])
            }
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

        (Principal::Operator(_), ManageParticipants, Resource::Participant { .. }) => {
            Evaluation::permit(vec![Reason::OperatorExport])
        }
        (Principal::Operator(_), _, _) => Evaluation::deny(vec![Reason::NoRuleMatched]),

        (Principal::Passport(_), ManageParticipants, _) => {
            Evaluation::deny(vec![Reason::InstitutionCredentialRequired])
        }
        (
            Principal::Passport(_),
            ReadMetadata,
            Resource::OwnAuditTrail | Resource::OwnApprovals,
        ) => Evaluation::permit(vec![Reason::OwnAuditTrail]),
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
                // A CONTROLLED object's metadata (names, sizes, checksums, the specimen ids in
                // its aliases) is for callers the dataset's rule permits, as its bytes are.
                let e = match d.access_level {
                    AccessLevel::Controlled => controlled_rule(settings, facts, p, d, now),
                    _ => registered(settings, p),
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
        // Records of an analysis-only dataset never leave: counts at most.
        let reasons = if settings.is_analysis_only(dataset) {
            vec![Reason::DiscoveryRegistered, Reason::AnalysisOnly]
        } else {
            vec![Reason::DiscoveryControlled]
        };
        return Evaluation {
            reasons,
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

/// REGISTERED: a ResearcherStatus visa (its issuer, source and `by` already checked against the
/// trust table by the verifier), an AffiliationAndRole visa with a configured role (checked the
/// same way), or the gateway's own terms accepted.
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
            VisaType::AffiliationAndRole if has_registered_role(settings, &v.value) => {
                reasons.push(Reason::RegisteredAffiliationAndRole);
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

/// Whether an AffiliationAndRole value (`role@domain`) names a role configured to grant
/// REGISTERED access. Roles compare case-insensitively; the domain must be present.
fn has_registered_role(settings: &PolicySettings, value: &str) -> bool {
    let Some((role, domain)) = value.split_once('@') else {
        return false;
    };
    !domain.is_empty()
        && settings
            .registered_roles
            .iter()
            .any(|r| r.eq_ignore_ascii_case(role))
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
