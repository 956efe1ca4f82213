//! HL7 FHIR R4 over the store: reads, searches and the Genomics Operations, each one request
//! of the one enforcement call.
//!
//! Every request first decides who the caller may see (its *compartments*): an institution
//! (`Principal::Institution`) asks `ManageParticipants` on itself and sees the participants it
//! enrolled, never a withdrawn one; a researcher asks `ReadData` on each dataset and sees the
//! members of the datasets it is permitted, inside its consent scope. Each resource belongs to
//! one participant (Organization excepted), so a resource outside the compartments does not
//! exist for the caller: a read is the same 404 as for an unknown id, a search leaves it out,
//! and an operation naming such a subject answers as for an unknown subject. Every decision is
//! audited with the participants the answer held.
//!
//! Resources are built as JSON here (from the store and the Beacon index of the current
//! catalogue epoch) and leave only through `gemj_fhir::model` (the typed round trip).

mod operations;
mod pgx;
mod resources;

use std::collections::BTreeMap;
use std::sync::Arc;

use gemj_fhir::search::{self, ParamSpec, ParamType, SearchRequest};
use gemj_fhir::{FhirError, IssueCode};
use gemj_model::{DatasetId, InstitutionId, ParticipantId};
use serde_json::Value;

use crate::access::{Action, Ask, Outcome, Principal, RequestContext, Resource, Verdicts};
use crate::beacon::Beacon;
use crate::{CoreError, Shared};

pub use operations::OperationCall;
pub use resources::{RESOURCES, resource_capabilities};

/// Why a FHIR request was not answered: a FHIR error (the caller's), or the gateway's.
#[derive(Debug)]
pub enum FhirFailure {
    /// Answered as this `OperationOutcome`.
    Fhir(FhirError),
    /// The gateway's failure or an access refusal, mapped by the server.
    Core(CoreError),
}

impl From<CoreError> for FhirFailure {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<FhirError> for FhirFailure {
    fn from(e: FhirError) -> Self {
        Self::Fhir(e)
    }
}

impl From<gemj_store::StoreError> for FhirFailure {
    fn from(e: gemj_store::StoreError) -> Self {
        Self::Core(e.into())
    }
}

/// Settings of the FHIR API.
#[derive(Debug, Clone)]
pub struct FhirSettings {
    /// The genome build of the stored variants (`GRCh38`): ranges and variants on another
    /// build are answered 422 "Failed LiftOver".
    pub assembly: String,
    /// The most variant rows one operation scans per dataset.
    pub max_variants_scanned: u32,
}

impl Default for FhirSettings {
    fn default() -> Self {
        Self {
            assembly: "GRCh38".to_owned(),
            max_variants_scanned: 100_000,
        }
    }
}

/// A page of search results.
#[derive(Debug)]
pub struct SearchPage {
    /// The resources of the page.
    pub resources: Vec<Value>,
    /// All matches.
    pub total: u64,
}

/// Who the caller may see in this request.
#[derive(Debug, Default)]
pub(crate) struct Compartments {
    /// Visible participants, each with the verdict index that permitted it and the datasets
    /// through which it is visible (all of its datasets for its institution).
    pub(crate) participants: BTreeMap<ParticipantId, Seen>,
    /// The calling institution, when the caller is one.
    pub(crate) institution: Option<InstitutionId>,
    /// The gateway's public base URL (for `drs://` and htsget URLs).
    pub(crate) base: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) ask: usize,
    pub(crate) datasets: Vec<DatasetId>,
}

impl Compartments {
    pub(crate) fn sees(&self, id: &str) -> Option<(&ParticipantId, &Seen)> {
        let id = ParticipantId::parse(id).ok()?;
        self.participants.get_key_value(&id)
    }
}

/// What a request reports for the audit: the participants its answer held.
#[derive(Debug, Default)]
pub(crate) struct Returned(pub(crate) Vec<ParticipantId>);

/// The FHIR service: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct FhirService {
    core: Shared,
    beacon: Arc<Beacon>,
    settings: FhirSettings,
}

impl FhirService {
    /// The service over the gateway's shared parts and its Beacon (whose index and privacy
    /// rules the population operations use).
    #[must_use]
    pub fn new(core: Shared, beacon: Arc<Beacon>, settings: FhirSettings) -> Self {
        Self {
            core,
            beacon,
            settings,
        }
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &FhirSettings {
        &self.settings
    }

    /// Decides the caller's compartments and answers `serve` under them, auditing every
    /// decision with the participants `serve` returned.
    pub(crate) async fn under_compartments<T>(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        base: &str,
        serve: impl AsyncFnOnce(&Compartments, &Verdicts) -> Result<(T, Returned), FhirFailure>,
    ) -> Result<T, FhirFailure> {
        if matches!(principal, Principal::Anonymous) {
            return Err(CoreError::CredentialRequired.into());
        }
        let core = &self.core;
        let index = self.beacon.index().await?;
        let mut enforcement = core.access.begin(ctx, principal);
        let mut asks: Vec<(usize, Option<DatasetId>)> = Vec::new();
        let institution = match principal {
            Principal::Institution(i) => Some(i.institution.clone()),
            _ => None,
        };
        if let Some(institution) = &institution {
            let v = enforcement
                .ask(
                    Ask::new(
                        Action::ManageParticipants,
                        Resource::Institution(institution.clone()),
                    )
                    .with_consent(),
                )
                .await?;
            asks.push((v.index(), None));
        } else {
            for d in index.datasets() {
                let v = enforcement
                    .ask(Ask::new(
                        Action::ReadData,
                        Resource::Dataset(Arc::clone(&d.dataset)),
                    ))
                    .await?;
                asks.push((v.index(), Some(d.dataset.id.clone())));
            }
        }
        let n = asks.len();
        let result = enforcement
            .release(async |verdicts: &Verdicts| -> Result<_, FhirFailure> {
                let mut compartments = Compartments {
                    institution: institution.clone(),
                    base: base.to_owned(),
                    ..Compartments::default()
                };
                for (ask, dataset) in &asks {
                    let Some(permit) = verdicts.permit(*ask) else {
                        continue;
                    };
                    let snapshot = permit.consent()?;
                    match dataset {
                        None => {
                            // The institution's own participants, never a withdrawn one.
                            let Some(own) = &institution else { continue };
                            for person in index.people() {
                                let p = &person.participant;
                                if &p.institution == own && !snapshot.is_withdrawn(&p.id) {
                                    let datasets = index
                                        .datasets()
                                        .iter()
                                        .filter(|d| d.members.contains(person.ordinal))
                                        .map(|d| d.dataset.id.clone())
                                        .collect();
                                    compartments.participants.insert(
                                        p.id.clone(),
                                        Seen {
                                            ask: *ask,
                                            datasets,
                                        },
                                    );
                                }
                            }
                        }
                        Some(dataset) => {
                            for ordinal in &index.dataset_members(dataset.as_str()) {
                                let Some(person) = index.person(ordinal) else {
                                    continue;
                                };
                                let id = &person.participant.id;
                                if !permit.serves(id) {
                                    continue;
                                }
                                compartments
                                    .participants
                                    .entry(id.clone())
                                    .or_insert_with(|| Seen {
                                        ask: *ask,
                                        datasets: Vec::new(),
                                    })
                                    .datasets
                                    .push(dataset.clone());
                            }
                        }
                    }
                }
                let (value, returned) = serve(&compartments, verdicts).await?;
                let mut outcomes: Vec<Outcome> = (0..n).map(|_| Outcome::returned(0)).collect();
                for id in returned.0 {
                    if let Some(seen) = compartments.participants.get(&id)
                        && let Some(o) = outcomes.get_mut(seen.ask)
                    {
                        o.participants.push(id.clone());
                    }
                }
                for o in &mut outcomes {
                    o.participants.sort();
                    o.participants.dedup();
                    o.returned = Some(o.participants.len() as u64);
                }
                Ok((value, outcomes))
            })
            .await?;
        Ok(result.value)
    }

    /// Reads one resource by type and id.
    ///
    /// # Errors
    /// [`FhirFailure::Fhir`] 404 when it does not exist for the caller (unknown, another
    /// institution's, outside the consent scope, withdrawn: all alike) or the type is not
    /// served; [`CoreError::CredentialRequired`] for anonymous callers; store and audit failures.
    pub async fn read(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        base: &str,
        resource_type: &str,
        id: &str,
    ) -> Result<Value, FhirFailure> {
        let Some(kind) = resources::Kind::parse(resource_type) else {
            return Err(unsupported_type(resource_type).into());
        };
        if !search::valid_id(id) {
            return Err(FhirError::bad_request(
                IssueCode::Value,
                "id",
                "a FHIR id is 1-64 of A-Z a-z 0-9 - .",
            )
            .into());
        }
        self.under_compartments(
            ctx,
            principal,
            base,
            async |c: &Compartments, _: &Verdicts| {
                let found = resources::read(self, c, kind, id).await?;
                let Some((resource, owner)) = found else {
                    return Err(
                        FhirError::not_found(format!("{resource_type}/{id} is not known")).into(),
                    );
                };
                Ok((resource, Returned(owner.into_iter().collect())))
            },
        )
        .await
    }

    /// Searches one resource type.
    ///
    /// # Errors
    /// [`FhirFailure::Fhir`] 400 for bad parameters (and unknown ones when `strict`), 404 for a
    /// type that is not served; access, store and audit failures.
    pub async fn search(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        base: &str,
        resource_type: &str,
        pairs: &[(String, String)],
        strict: bool,
    ) -> Result<(SearchPage, SearchRequest), FhirFailure> {
        let Some(kind) = resources::Kind::parse(resource_type) else {
            return Err(unsupported_type(resource_type).into());
        };
        let request = search::parse(pairs, kind.params(), kind.sortable(), strict)?;
        self.under_compartments(
            ctx,
            principal,
            base,
            async |c: &Compartments, _: &Verdicts| {
                let matches = resources::search(self, c, kind, &request).await?;
                let total = matches.len() as u64;
                let (page, owners): (Vec<Value>, Vec<Option<ParticipantId>>) = matches
                    .into_iter()
                    .skip(request.offset as usize)
                    .take(request.count as usize)
                    .unzip();
                Ok((
                    SearchPage {
                        resources: page,
                        total,
                    },
                    Returned(owners.into_iter().flatten().collect()),
                ))
            },
        )
        .await
        .map(|page| (page, request))
    }

    /// Runs a Genomics Operation.
    ///
    /// # Errors
    /// [`FhirFailure::Fhir`] 400 for bad inputs, 404 for an unknown subject or operation, 422
    /// for a range or variant on another genome build ("Failed LiftOver"); access, store and
    /// audit failures.
    pub async fn operation(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        call: OperationCall,
        base: &str,
    ) -> Result<Value, FhirFailure> {
        operations::run(self, ctx, principal, call, base).await
    }
}

fn unsupported_type(resource_type: &str) -> FhirError {
    FhirError::not_found(format!(
        "resource type {resource_type} is not served here (see /fhir/metadata)"
    ))
    .with_expression("resourceType")
}

/// The search parameters of a subject's compartment, shared by every clinical resource type.
pub(crate) const SUBJECT: ParamSpec = ParamSpec {
    name: "subject",
    kind: ParamType::Reference,
    documentation: "The participant (Patient/{id}).",
};

/// `patient`, the same as `subject` for resources about one participant.
pub(crate) const PATIENT: ParamSpec = ParamSpec {
    name: "patient",
    kind: ParamType::Reference,
    documentation: "The participant (Patient/{id}).",
};

/// The `Type/id` a stored record of `kind` (an ingest record kind) is served at, for the
/// `location` of a transaction response: the same ids reads and searches use.
#[must_use]
pub fn location(kind: &str, participant: &ParticipantId, key: &[String]) -> Option<String> {
    Some(match (kind, key) {
        ("subject", _) => format!("Patient/{participant}"),
        ("consent", _) => format!("Consent/{participant}.consent"),
        ("diagnosis", [code, ..]) => format!("Condition/{participant}.{code}"),
        ("specimen", [id, ..]) => format!("Specimen/{id}"),
        ("measurement", parts) => {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            format!(
                "Observation/{participant}.lab.{}",
                resources::short_hash(&parts)
            )
        }
        _ => return None,
    })
}
