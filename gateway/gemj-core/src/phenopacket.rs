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
use gemj_ontology::hpo::Ontology;
use gemj_store::Store;
use serde_json::{Value, json};

use crate::access::{
    AccessPoint, Action, Ask, Outcome, Permit, Principal, RequestContext, Resource, Verdicts,
};
use crate::{Core, CoreError};

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
) -> Result<Option<Value>, CoreError> {
    let Some(participant) = store.get_participant(id).await? else {
        return Ok(None);
    };
    let demographics = store.demographics_of(id).await?;
    let phenotypes = store.phenotypes_of(id).await?;
    let diagnoses = store.diagnoses_of(id).await?;
    let specimens = store.specimens_of(id).await?;

    let mut subject = json!({ "id": id.as_str() });
    if let Some(birth) = demographics.and_then(|d| d.birth_date)
        && birth.precision() == Precision::Day
    {
        subject["dateOfBirth"] = json!(timestamp(birth.first_day()));
    }
    subject["sex"] = json!(match participant.sex {
        Sex::Female => "FEMALE",
        Sex::Male => "MALE",
        Sex::Other => "OTHER_SEX",
        Sex::Unknown => "UNKNOWN_SEX",
    });

    let mut packet = json!({
        "id": format!("{id}-pp1"),
        "subject": subject,
    });
    let features: Vec<Value> = phenotypes.iter().map(|p| feature(p, hpo)).collect();
    if !features.is_empty() {
        packet["phenotypicFeatures"] = Value::Array(features);
    }
    let biosamples: Vec<Value> = specimens
        .iter()
        .filter(|s| s.parent.is_none())
        .map(|s| biosample(s, id))
        .collect();
    if !biosamples.is_empty() {
        packet["biosamples"] = Value::Array(biosamples);
    }
    let diseases: Vec<Value> = diagnoses.iter().map(disease).collect();
    if !diseases.is_empty() {
        packet["diseases"] = Value::Array(diseases);
    }
    packet["metaData"] = json!({
        "created": timestamp_of(now),
        "createdBy": "gemj-gateway",
        "resources": [
            {
                "id": "hp",
                "name": "human phenotype ontology",
                "url": "http://purl.obolibrary.org/obo/hp.owl",
                "version": hpo.and_then(Ontology::data_version).unwrap_or("unknown"),
                "namespacePrefix": "HP",
                "iriPrefix": "http://purl.obolibrary.org/obo/HP_"
            },
            {
                "id": "mondo",
                "name": "Mondo Disease Ontology",
                "url": "http://purl.obolibrary.org/obo/mondo.obo",
                "version": MONDO_MAPPING_VERSION,
                "namespacePrefix": "MONDO",
                "iriPrefix": "http://purl.obolibrary.org/obo/MONDO_"
            },
            {
                "id": "uberon",
                "name": "Uber-anatomy ontology",
                "url": "http://purl.obolibrary.org/obo/uberon.owl",
                "version": MONDO_MAPPING_VERSION,
                "namespacePrefix": "UBERON",
                "iriPrefix": "http://purl.obolibrary.org/obo/UBERON_"
            }
        ],
        "phenopacketSchemaVersion": "2.0"
    });
    Ok(Some(packet))
}

/// The phenopacket of a participant for a caller, under the access policy (see the module
/// documentation).
///
/// # Errors
/// [`CoreError::NotFound`] when there is no such participant, the caller may not read it or
/// its consent does not serve the caller (indistinguishable);
/// [`CoreError::CredentialRequired`] for anonymous callers; store and audit failures.
pub async fn export(
    core: &Core,
    ctx: &RequestContext,
    principal: &Principal,
    id: &str,
) -> Result<Value, CoreError> {
    let hpo = core.beacon.hpo().map(AsRef::as_ref);
    export_from(&core.access, &core.store, hpo, ctx, principal, id).await
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
) -> Result<Value, CoreError> {
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
) -> Result<Value, CoreError> {
    build(store, id, hpo, time::OffsetDateTime::now_utc())
        .await?
        .ok_or(CoreError::NotFound)
}

fn feature(p: &Phenotype, hpo: Option<&Ontology>) -> Value {
    let id = p.hpo.as_str();
    let label = hpo.and_then(|o| o.label(id)).unwrap_or(id);
    let mut f = json!({ "type": { "id": id, "label": label } });
    if p.status == PhenotypeStatus::Excluded {
        f["excluded"] = json!(true);
    }
    if let Some(onset) = p.onset {
        f["onset"] = time_element(onset);
    }
    f
}

fn disease(d: &Diagnosis) -> Value {
    let code = d.icd10.as_str();
    let term = match mondo_of(code) {
        Some((id, label)) => json!({ "id": id, "label": label }),
        None => json!({
            "id": format!("ICD10:{code}"),
            "label": d.details.label.as_deref().unwrap_or(code),
        }),
    };
    let mut v = json!({ "term": term });
    if let Some(onset) = d.onset {
        v["onset"] = time_element(onset);
    }
    v
}

fn biosample(s: &Specimen, subject: &ParticipantId) -> Value {
    let mut b = json!({
        "id": s.id.as_str(),
        "individualId": subject.as_str(),
    });
    if let Some((id, label)) = sampled_tissue(s) {
        b["sampledTissue"] = json!({ "id": id, "label": label });
    }
    if let Some(collected) = s.collected {
        b["timeOfCollection"] = time_element(collected);
    }
    b
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
fn time_element(d: PartialDate) -> Value {
    if d.precision() == Precision::Day {
        return json!({ "timestamp": timestamp(d.first_day()) });
    }
    json!({
        "interval": {
            "start": timestamp(d.first_day()),
            "end": format!("{}T23:59:59Z", d.last_day()),
        }
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
        assert_eq!(
            time_element(PartialDate::parse("2005")?),
            json!({"interval": {"start": "2005-01-01T00:00:00Z", "end": "2005-12-31T23:59:59Z"}})
        );
        assert_eq!(
            time_element(PartialDate::parse("2024-02")?),
            json!({"interval": {"start": "2024-02-01T00:00:00Z", "end": "2024-02-29T23:59:59Z"}})
        );
        assert_eq!(
            time_element(PartialDate::parse("2019-05-01")?),
            json!({"timestamp": "2019-05-01T00:00:00Z"})
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
