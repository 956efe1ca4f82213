//! GA4GH Phenopacket v2 export of one participant: subject (with the full birth date from the
//! clinical sources), phenotypic features (HPO, excluded ones marked), diseases (ICD-10 mapped
//! to MONDO through a curated table, onset with its precision as an interval), primary
//! biosamples (derived extracts such as DNA are not sampled tissues and are left out) and the
//! ontology resources used.
//!
//! [`export`] is the one way out, for the API and the CLI alike: the enrolling institution may
//! read its own participants, a researcher needs data access (`ReadData`) to a dataset holding
//! the participant and a consent scope that covers them, and the operator (the CLI's
//! `export phenopacket`, [`Principal::Operator`]) reads one participant at a time. A withdrawn
//! or unknown participant is not found, whoever asks, and every decision is audited. The
//! packet itself is built only with a `&Permit` in hand.

use gemj_model::{
    Diagnosis, PartialDate, ParticipantId, Phenotype, PhenotypeStatus, Precision, Sex, Specimen,
    SpecimenType,
};
use std::sync::Arc;

use gemj_ontology::hpo::Ontology;
use gemj_phenopacket::{self as pp, Phenopacket};
use gemj_store::Store;

use crate::access::{
    AccessPoint, Action, Ask, Outcome, Permit, Principal, RequestContext, Resource, Verdicts,
};
use crate::{CoreError, Shared};

/// The version of the curated ICD-10 → MONDO table below.
pub const MONDO_MAPPING_VERSION: &str = "gemj-curated-2024-04";

/// Curated ICD-10 → MONDO mappings (the step is not derivable automatically). Extend with care:
/// each line is a clinical judgement.
const ICD10_TO_MONDO: &[(&str, &str, &str)] = &[
    ("Q87.4", "MONDO:0007947", "Marfan syndrome"),
    ("C16.9", "MONDO:0001056", "gastric cancer"),
];

/// The MONDO term of an ICD-10 code, where curated.
#[must_use]
pub fn mondo_of(icd10: &str) -> Option<(&'static str, &'static str)> {
    ICD10_TO_MONDO
        .iter()
        .find(|(code, _, _)| *code == icd10)
        .map(|(_, id, label)| (*id, *label))
}

/// The participant as a phenopacket, or `None` when there is no such participant. No access
/// policy is applied here: only [`packet_of`], with a `&Permit`, calls it.
async fn build(
    store: &Store,
    id: &ParticipantId,
    hpo: Option<&Ontology>,
    now: time::OffsetDateTime,
) -> Result<Option<Phenopacket>, CoreError> {
    let Some(participant) = store.get_participant(id).await? else {
        return Ok(None);
    };
    let demographics = store.demographics_of(id).await?;
    let phenotypes = store.phenotypes_of(id).await?;
    let diagnoses = store.diagnoses_of(id).await?;
    let specimens = store.specimens_of(id).await?;
    let subject = pp::Individual {
        id: id.as_str().to_owned(),
        date_of_birth: demographics
            .and_then(|d| d.birth_date)
            .filter(|birth| birth.precision() == Precision::Day)
            .map(|birth| timestamp(birth.first_day())),
        sex: match participant.sex {
            Sex::Female => pp::Sex::Female,
            Sex::Male => pp::Sex::Male,
            Sex::Other => pp::Sex::OtherSex,
            Sex::Unknown => pp::Sex::UnknownSex,
        },
    };
    let resource = |id: &str, name: &str, file: &str, version: &str, prefix: &str| pp::Resource {
        id: id.to_owned(),
        name: name.to_owned(),
        url: format!("http://purl.obolibrary.org/obo/{file}"),
        version: version.to_owned(),
        namespace_prefix: prefix.to_owned(),
        iri_prefix: format!("http://purl.obolibrary.org/obo/{prefix}_"),
    };
    let hpo_version = hpo.and_then(Ontology::data_version).unwrap_or("unknown");
    Ok(Some(Phenopacket {
        id: format!("{id}-pp1"),
        subject,
        phenotypic_features: phenotypes.iter().map(|p| feature(p, hpo)).collect(),
        biosamples: specimens
            .iter()
            .filter(|s| s.parent.is_none())
            .map(|s| biosample(s, id))
            .collect(),
        diseases: diagnoses.iter().map(disease).collect(),
        meta_data: pp::MetaData {
            created: timestamp_of(now),
            created_by: "gemj-gateway".to_owned(),
            resources: vec![
                resource(
                    "hp",
                    "human phenotype ontology",
                    "hp.owl",
                    hpo_version,
                    "HP",
                ),
                resource(
                    "mondo",
                    "Mondo Disease Ontology",
                    "mondo.obo",
                    MONDO_MAPPING_VERSION,
                    "MONDO",
                ),
                resource(
                    "uberon",
                    "Uber-anatomy ontology",
                    "uberon.owl",
                    MONDO_MAPPING_VERSION,
                    "UBERON",
                ),
            ],
            phenopacket_schema_version: pp::SCHEMA_VERSION.to_owned(),
        },
    }))
}

/// The service of the Phenopacket v2 export: built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct PhenopacketService {
    core: Shared,
    hpo: Option<Arc<Ontology>>,
}

impl PhenopacketService {
    /// The service over the gateway's shared parts, with its own settings.
    #[must_use]
    pub fn new(core: Shared, hpo: Option<Arc<Ontology>>) -> Self {
        Self { core, hpo }
    }
}

impl PhenopacketService {
    /// The phenopacket of a participant for a caller, under the access policy (see the module
    /// documentation).
    ///
    /// # Errors
    /// [`CoreError::NotFound`] when there is no such participant, the caller may not read it or
    /// its consent does not serve the caller (indistinguishable);
    /// [`CoreError::CredentialRequired`] for anonymous callers; store and audit failures.
    pub async fn export(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        id: &str,
    ) -> Result<Phenopacket, CoreError> {
        let core = &self.core;
        let hpo = self.hpo.as_deref();
        export_from(&core.access, &core.store, hpo, ctx, principal, id).await
    }
}

/// [`export`] over an access point and a store alone, for a process that serves no API (the
/// CLI): the same decisions, consent and audit.
///
/// # Errors
/// As [`export`].
pub async fn export_from(
    access: &AccessPoint,
    store: &Store,
    hpo: Option<&Ontology>,
    ctx: &RequestContext,
    principal: &Principal,
    id: &str,
) -> Result<Phenopacket, CoreError> {
    if matches!(principal, Principal::Anonymous) {
        return Err(CoreError::CredentialRequired);
    }
    let Ok(id) = ParticipantId::parse(id) else {
        return Err(CoreError::NotFound);
    };
    let participant = store.get_participant(&id).await?;
    let institution = participant.as_ref().map(|p| p.institution.clone());
    // The enrolling institution manages its own participants.
    let own = Resource::Participant {
        id: id.clone(),
        institution,
    };
    let mut enforcement = access.begin(ctx, principal);
    let mut permitted = enforcement
        .ask(Ask::new(Action::ManageParticipants, own).with_consent())
        .await?;
    if !permitted.is_permit() && participant.is_some() {
        // A researcher: data access to any dataset that holds the participant (every dataset
        // tried is a decision, audited).
        for dataset in store.datasets_of_participant(&id).await? {
            let Some(d) = store.get_dataset(&dataset).await? else {
                continue;
            };
            permitted = enforcement
                .ask(Ask::new(Action::ReadData, Resource::dataset(d)))
                .await?;
            if permitted.is_permit() {
                break;
            }
        }
    }
    if !permitted.is_permit() {
        enforcement.refuse().await?;
        return Err(CoreError::NotFound);
    }
    let index = permitted.index();
    // The enrolling institution and the operator see a participant whatever the research
    // consent; a researcher only inside their consent scope.
    let institution_caller = matches!(
        principal,
        Principal::Institution(_) | Principal::Operator(_)
    );
    let exists = participant.is_some();
    enforcement
        .release(async |verdicts: &Verdicts| -> Result<_, CoreError> {
            let permit = verdicts.permit(index).ok_or(CoreError::AuditUnavailable)?;
            let snapshot = permit.consent()?;
            // The institution sees its participant whatever the research consent, never a
            // withdrawn one; a researcher only inside their consent scope.
            let serves =
                exists && !snapshot.is_withdrawn(&id) && (institution_caller || permit.serves(&id));
            let outcome = Outcome {
                consent_epoch: Some(snapshot.epoch),
                participants: vec![id.clone()],
                returned: Some(u64::from(serves)),
                filtered: Some(u64::from(!serves)),
                answer: None,
            };
            let mut outcomes = vec![Outcome::default(); index];
            outcomes.push(outcome);
            if !serves {
                return Ok((Err(CoreError::NotFound), outcomes));
            }
            let packet = packet_of(store, permit, &id, hpo).await;
            Ok((packet, outcomes))
        })
        .await?
        .value
}

/// The phenopacket of a participant, as `permit` releases it.
async fn packet_of(
    store: &Store,
    _permit: &Permit,
    id: &ParticipantId,
    hpo: Option<&Ontology>,
) -> Result<Phenopacket, CoreError> {
    build(store, id, hpo, time::OffsetDateTime::now_utc())
        .await?
        .ok_or(CoreError::NotFound)
}

fn feature(p: &Phenotype, hpo: Option<&Ontology>) -> pp::PhenotypicFeature {
    let id = p.hpo.as_str();
    let label = hpo.and_then(|o| o.label(id)).unwrap_or(id);
    pp::PhenotypicFeature {
        r#type: pp::OntologyClass::new(id, label),
        excluded: p.status == PhenotypeStatus::Excluded,
        onset: p.onset.map(time_element),
    }
}

fn disease(d: &Diagnosis) -> pp::Disease {
    let code = d.icd10.as_str();
    let term = match mondo_of(code) {
        Some((id, label)) => pp::OntologyClass::new(id, label),
        None => pp::OntologyClass::new(
            format!("ICD10:{code}"),
            d.details.label.as_deref().unwrap_or(code),
        ),
    };
    pp::Disease {
        term,
        onset: d.onset.map(time_element),
    }
}

fn biosample(s: &Specimen, subject: &ParticipantId) -> pp::Biosample {
    pp::Biosample {
        id: s.id.as_str().to_owned(),
        individual_id: subject.as_str().to_owned(),
        sampled_tissue: sampled_tissue(s).map(|(id, label)| pp::OntologyClass::new(id, label)),
        time_of_collection: s.collected.map(time_element),
    }
}

/// The UBERON term of a specimen's material (or site, for tissue).
fn sampled_tissue(s: &Specimen) -> Option<(&'static str, &'static str)> {
    match &s.specimen_type {
        SpecimenType::WholeBlood | SpecimenType::BuffyCoat => Some(("UBERON:0000178", "blood")),
        SpecimenType::Serum => Some(("UBERON:0001977", "blood serum")),
        SpecimenType::Plasma => Some(("UBERON:0001969", "blood plasma")),
        SpecimenType::Saliva => Some(("UBERON:0001836", "saliva")),
        SpecimenType::Tissue => {
            let site = s.details.anatomical_site.as_ref().map(|c| c.code.as_str());
            if site.is_some_and(|c| c.starts_with("C16")) {
                Some(("UBERON:0000945", "stomach"))
            } else {
                Some(("UBERON:0000479", "tissue"))
            }
        }
        SpecimenType::Dna | SpecimenType::Rna | SpecimenType::Other(_) => None,
    }
}

/// A date as a phenopacket `TimeElement`: a timestamp for a day, an interval covering a month
/// or a year (`2005` → 2005-01-01T00:00:00Z .. 2005-12-31T23:59:59Z), never a made-up day.
fn time_element(d: PartialDate) -> pp::TimeElement {
    if d.precision() == Precision::Day {
        return pp::TimeElement::Timestamp(timestamp(d.first_day()));
    }
    pp::TimeElement::Interval(pp::TimeInterval {
        start: timestamp(d.first_day()),
        end: format!("{}T23:59:59Z", d.last_day()),
    })
}

fn timestamp(d: time::Date) -> String {
    format!("{d}T00:00:00Z")
}

fn timestamp_of(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_become_intervals() -> Result<(), Box<dyn std::error::Error>> {
        let interval = |start: &str, end: &str| {
            pp::TimeElement::Interval(pp::TimeInterval {
                start: start.to_owned(),
                end: end.to_owned(),
            })
        };
        assert_eq!(
            time_element(PartialDate::parse("2005")?),
            interval("2005-01-01T00:00:00Z", "2005-12-31T23:59:59Z")
        );
        assert_eq!(
            time_element(PartialDate::parse("2024-02")?),
            interval("2024-02-01T00:00:00Z", "2024-02-29T23:59:59Z")
        );
        assert_eq!(
            time_element(PartialDate::parse("2019-05-01")?),
            pp::TimeElement::Timestamp("2019-05-01T00:00:00Z".to_owned())
        );
        Ok(())
    }

    #[test]
    fn curated_mondo() {
        assert_eq!(
            mondo_of("Q87.4"),
            Some(("MONDO:0007947", "Marfan syndrome"))
        );
        assert_eq!(mondo_of("Q87.3"), None);
    }
}
