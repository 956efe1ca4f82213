//! The one access decision point. Every API asks it `(principal, action, resource)` and gets a
//! [`Permit`] or a [`Denial`] with reason codes. It denies by default, and it writes every
//! decision, permit or deny, to the audit chain before it answers.
//!
//! Invariant: a [`Permit`] can only be made here, after its audit record is durable. Code that
//! serves data takes a `&Permit`, so an unaudited permit cannot be written down.
//!
//! The policy of this version: an anonymous caller may read the metadata of PUBLIC datasets and
//! the gateway's own service metadata, and nothing else. Passports, approvals and consent fill
//! in the rest of the policy in later versions without changing this interface.

use gemj_model::{AccessDecision, AccessLevel, AuditEvent, DatasetId, ObjectId, ParticipantId};

use crate::CoreError;
use crate::audit::AuditSink;

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Principal {
    /// No credential was presented.
    Anonymous,
    /// A verified GA4GH passport: its subject and the visas that passed verification.
    Passport(std::sync::Arc<gemj_auth::VerifiedPassport>),
}

impl Principal {
    /// The audit form: `anonymous`, or `issuer#subject` for a verified passport.
    #[must_use]
    pub fn audit_name(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".to_owned(),
            Self::Passport(p) => format!("{}#{}", p.issuer, p.subject),
        }
    }

    /// SHA-256 of the passport and of every visa considered (accepted or rejected): what the
    /// audit records instead of the tokens.
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
        }
    }
}

/// What the policy needs to know besides the request: set from the configuration.
#[derive(Debug, Clone, Default)]
pub struct PolicySettings {
    /// The terms URL whose AcceptedTermsAndPolicies visa grants REGISTERED access (empty: none).
    pub terms_url: String,
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read descriptive metadata (a dataset's description, a DRS object's metadata).
    ReadMetadata,
    /// Read genomic or clinical data (file bytes, records, genotypes).
    ReadData,
    /// Change the gateway's state (approvals, ingest).
    Administer,
}

impl Action {
    /// The audit form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadMetadata => "read_metadata",
            Self::ReadData => "read_data",
            Self::Administer => "administer",
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
    Dataset {
        /// Its id.
        id: DatasetId,
        /// Its access level.
        access_level: AccessLevel,
    },
    /// A stored object, with the most permissive access level among the datasets that hold it
    /// (`None` when no dataset holds it: then nobody may read it).
    Object {
        /// Its id.
        id: ObjectId,
        /// The access level through which it may be reached, if any.
        access_level: Option<AccessLevel>,
    },
    /// One participant's record.
    Participant {
        /// Its id.
        id: ParticipantId,
    },
    /// The caller's own audit trail.
    OwnAuditTrail,
}

impl Resource {
    /// The audit form: `service`, `dataset:ID`, `object:ID`, `participant:ID`.
    #[must_use]
    pub fn audit_name(&self) -> String {
        match self {
            Self::Service => "service".to_owned(),
            Self::Dataset { id, .. } => format!("dataset:{id}"),
            Self::Object { id, .. } => format!("object:{id}"),
            Self::Participant { id } => format!("participant:{id}"),
            Self::OwnAuditTrail => "audit:self".to_owned(),
        }
    }
}

/// Why a decision went the way it did. The codes are stable: clients and auditors read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Service metadata is public.
    ServiceMetadataPublic,
    /// The dataset's access level is PUBLIC and the action is reading metadata.
    PublicMetadata,
    /// An anonymous caller asked for something other than public metadata.
    AnonymousNotPermitted,
    /// Reading data needs a verified credential and an approval.
    DataAccessRequiresCredential,
    /// Administering needs an administrator credential.
    AdministrationRequiresCredential,
    /// The object belongs to no dataset, so nobody may read it.
    ObjectInNoDataset,
    /// A verified passport carries a ResearcherStatus visa from a trusted source.
    RegisteredResearcherStatus,
    /// A verified passport carries an AcceptedTermsAndPolicies visa for the gateway's terms.
    RegisteredAcceptedTerms,
    /// The passport has neither a ResearcherStatus visa nor the gateway's terms.
    NoRegisteredVisa,
    /// CONTROLLED access needs a grant visa, an approval in force and a DUO match: not yet
    /// decided by this version, so denied.
    ControlledNotDecided,
    /// A verified caller reads their own audit trail.
    OwnAuditTrail,
    /// Nothing in the policy permits this: deny by default.
    NoRuleMatched,
}

impl Reason {
    /// The stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::ServiceMetadataPublic => "service_metadata_public",
            Self::PublicMetadata => "public_metadata",
            Self::AnonymousNotPermitted => "anonymous_not_permitted",
            Self::DataAccessRequiresCredential => "data_access_requires_credential",
            Self::AdministrationRequiresCredential => "administration_requires_credential",
            Self::ObjectInNoDataset => "object_in_no_dataset",
            Self::RegisteredResearcherStatus => "registered_researcher_status",
            Self::RegisteredAcceptedTerms => "registered_accepted_terms",
            Self::NoRegisteredVisa => "no_registered_visa",
            Self::ControlledNotDecided => "controlled_not_decided",
            Self::OwnAuditTrail => "own_audit_trail",
            Self::NoRuleMatched => "no_rule_matched",
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

/// A permit, made only by [`AccessPoint::decide`] after the decision is durable in the audit
/// chain.
#[derive(Debug, Clone)]
pub struct Permit {
    reasons: Vec<Reason>,
    audit_seq: i64,
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
}

/// The access decision point.
#[derive(Debug, Clone)]
pub struct AccessPoint {
    audit: AuditSink,
    settings: PolicySettings,
}

impl AccessPoint {
    /// A decision point writing to the given audit sink.
    #[must_use]
    pub fn new(audit: AuditSink, settings: PolicySettings) -> Self {
        Self { audit, settings }
    }

    /// Decides, audits, and answers.
    ///
    /// # Errors
    /// [`CoreError::AuditUnavailable`] when the decision could not be audited: nothing may be
    /// served then, permit or not.
    pub async fn decide(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        action: Action,
        resource: &Resource,
    ) -> Result<Result<Permit, Denial>, CoreError> {
        let (decision, reasons) = evaluate(&self.settings, principal, action, resource);
        let event = AuditEvent {
            at: time::OffsetDateTime::now_utc(),
            request_id: ctx.request_id.clone(),
            api: ctx.api.to_owned(),
            endpoint: ctx.endpoint.clone(),
            principal: principal.audit_name(),
            action: action.as_str().to_owned(),
            resource: resource.audit_name(),
            decision,
            reasons: reasons.iter().map(|r| r.code().to_owned()).collect(),
            credential_hashes: principal.credential_hashes(),
            approval: None,
            consent_epoch: None,
            participants: match resource {
                Resource::Participant { id } => vec![id.to_string()],
                _ => Vec::new(),
            },
            records_returned: None,
            records_filtered: None,
        };
        let audit_seq = self.audit.record(event).await?;
        Ok(match decision {
            AccessDecision::Permit => Ok(Permit { reasons, audit_seq }),
            AccessDecision::Deny => Err(Denial {
                reasons,
                audit_seq,
                unauthenticated: matches!(principal, Principal::Anonymous),
            }),
        })
    }
}

/// The policy: pure, deny by default.
#[must_use]
pub fn evaluate(
    settings: &PolicySettings,
    principal: &Principal,
    action: Action,
    resource: &Resource,
) -> (AccessDecision, Vec<Reason>) {
    use AccessDecision::{Deny, Permit};
    let level = match resource {
        Resource::Dataset { access_level, .. } => Some(*access_level),
        Resource::Object { access_level, .. } => *access_level,
        Resource::Service | Resource::Participant { .. } | Resource::OwnAuditTrail => None,
    };
    match (principal, action, resource) {
        (_, Action::ReadMetadata, Resource::Service) => {
            (Permit, vec![Reason::ServiceMetadataPublic])
        }
        (
            _,
            Action::ReadMetadata,
            Resource::Dataset {
                access_level: AccessLevel::Public,
                ..
            },
        )
        | (
            _,
            Action::ReadMetadata,
            Resource::Object {
                access_level: Some(AccessLevel::Public),
                ..
            },
        ) => (Permit, vec![Reason::PublicMetadata]),
        (
            _,
            _,
            Resource::Object {
                access_level: None, ..
            },
        ) => (Deny, vec![Reason::ObjectInNoDataset]),
        (Principal::Anonymous, Action::ReadData, _) => (
            Deny,
            vec![
                Reason::AnonymousNotPermitted,
                Reason::DataAccessRequiresCredential,
            ],
        ),
        (Principal::Anonymous, Action::Administer, _) => (
            Deny,
            vec![
                Reason::AnonymousNotPermitted,
                Reason::AdministrationRequiresCredential,
            ],
        ),
        (Principal::Anonymous, _, _) => (Deny, vec![Reason::AnonymousNotPermitted]),
        (Principal::Passport(_), Action::ReadMetadata, Resource::OwnAuditTrail) => {
            (Permit, vec![Reason::OwnAuditTrail])
        }
        (Principal::Passport(_), Action::Administer, _) => {
            (Deny, vec![Reason::AdministrationRequiresCredential])
        }
        (Principal::Passport(p), Action::ReadMetadata | Action::ReadData, _)
            if level == Some(AccessLevel::Registered) =>
        {
            registered(settings, p)
        }
        (Principal::Passport(_), _, _) if level == Some(AccessLevel::Controlled) => {
            (Deny, vec![Reason::ControlledNotDecided])
        }
        (Principal::Passport(_), _, _) => (Deny, vec![Reason::NoRuleMatched]),
    }
}

/// REGISTERED: a ResearcherStatus visa (its source already checked against the configured
/// source policy by the verifier), or the gateway's own terms accepted.
fn registered(
    settings: &PolicySettings,
    passport: &gemj_auth::VerifiedPassport,
) -> (AccessDecision, Vec<Reason>) {
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
        (AccessDecision::Deny, vec![Reason::NoRegisteredVisa])
    } else {
        (AccessDecision::Permit, reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(level: AccessLevel) -> Result<Resource, Box<dyn std::error::Error>> {
        Ok(Resource::Dataset {
            id: DatasetId::parse("D1")?,
            access_level: level,
        })
    }

    fn obj(level: Option<AccessLevel>) -> Result<Resource, Box<dyn std::error::Error>> {
        Ok(Resource::Object {
            id: ObjectId::parse("O1")?,
            access_level: level,
        })
    }

    #[test]
    fn anonymous_reads_public_metadata_and_nothing_else() -> Result<(), Box<dyn std::error::Error>>
    {
        use AccessDecision::{Deny, Permit};
        use AccessLevel::{Controlled, Public, Registered};
        let anon = Principal::Anonymous;
        let cases = [
            (
                Action::ReadMetadata,
                Resource::Service,
                Permit,
                "service_metadata_public",
            ),
            (Action::ReadMetadata, ds(Public)?, Permit, "public_metadata"),
            (
                Action::ReadMetadata,
                ds(Registered)?,
                Deny,
                "anonymous_not_permitted",
            ),
            (
                Action::ReadMetadata,
                ds(Controlled)?,
                Deny,
                "anonymous_not_permitted",
            ),
            (
                Action::ReadData,
                ds(Public)?,
                Deny,
                "data_access_requires_credential",
            ),
            (
                Action::ReadData,
                ds(Controlled)?,
                Deny,
                "data_access_requires_credential",
            ),
            (
                Action::Administer,
                ds(Public)?,
                Deny,
                "administration_requires_credential",
            ),
            (
                Action::ReadMetadata,
                obj(Some(Public))?,
                Permit,
                "public_metadata",
            ),
            (
                Action::ReadMetadata,
                obj(Some(Registered))?,
                Deny,
                "anonymous_not_permitted",
            ),
            (
                Action::ReadMetadata,
                obj(None)?,
                Deny,
                "object_in_no_dataset",
            ),
            (
                Action::ReadData,
                obj(Some(Public))?,
                Deny,
                "data_access_requires_credential",
            ),
            (
                Action::ReadMetadata,
                Resource::Participant {
                    id: ParticipantId::parse("P1")?,
                },
                Deny,
                "anonymous_not_permitted",
            ),
            (
                Action::ReadMetadata,
                Resource::OwnAuditTrail,
                Deny,
                "anonymous_not_permitted",
            ),
            (
                Action::ReadData,
                Resource::Participant {
                    id: ParticipantId::parse("P1")?,
                },
                Deny,
                "anonymous_not_permitted",
            ),
        ];
        for (action, resource, want, code) in cases {
            let (got, reasons) = evaluate(&PolicySettings::default(), &anon, action, &resource);
            assert_eq!(got, want, "{action:?} {resource:?}");
            assert!(
                reasons.iter().any(|r| r.code() == code),
                "{action:?} {resource:?}: {reasons:?}"
            );
        }
        Ok(())
    }
}
