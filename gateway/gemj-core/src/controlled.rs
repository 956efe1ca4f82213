//! The CONTROLLED rule: a ControlledAccessGrants visa naming the dataset, an approval of the
//! data-use committee in force for that researcher and dataset, and a DUO match of the
//! dataset's data-use condition against the approved purpose (gemj-duo). Pure: the approvals
//! are read from the store by the caller.
//!
//! The approved purpose is recorded as DUO terms: the first is the primary purpose (a
//! permission term such as DS, HMB, POA or GRU); the others state what the researcher agreed to
//! or what the use includes, and become the facts the modifiers check: IRB (DUO:0000021) an
//! ethics approval, PUB (DUO:0000019) publication, RTN (DUO:0000029) return of results, COL
//! (DUO:0000020) collaboration, TS (DUO:0000025) within the time limit, MOR (DUO:0000024) the
//! moratorium respected, GSO (DUO:0000016) a genetic study, CC (DUO:0000043) clinical care.

use gemj_duo::{MatchContext, MatchResult, Outcome, ResearchPurpose, match_purpose};
use gemj_model::{Approval, ApprovalId, ApprovalStatus, Dataset};
use gemj_passport::{VisaType, asserted_within};

use crate::access::{PolicySettings, Reason};

/// What the CONTROLLED rule decided.
#[derive(Debug, Clone)]
pub enum ControlledOutcome {
    /// Permitted under this approval, with the DUO match that allowed it.
    Permit {
        /// The approval in force.
        approval: Box<Approval>,
        /// The term-by-term match.
        duo: MatchResult,
    },
    /// Denied.
    Deny {
        /// Why.
        reason: Reason,
        /// The approval that was considered, if one was.
        approval: Option<ApprovalId>,
        /// The DUO match that failed, if matching was reached.
        duo: Option<MatchResult>,
    },
}

fn deny(reason: Reason) -> ControlledOutcome {
    ControlledOutcome::Deny {
        reason,
        approval: None,
        duo: None,
    }
}

/// Decides CONTROLLED access to `dataset` for the passport's subject.
#[must_use]
pub fn decide(
    settings: &PolicySettings,
    approvals: &[Approval],
    passport: &gemj_auth::VerifiedPassport,
    dataset: &Dataset,
    now: time::OffsetDateTime,
) -> ControlledOutcome {
    let grant = format!("{}{}", settings.dataset_grant_prefix, dataset.id);
    let unix = now.unix_timestamp();
    let skew = settings.clock_skew_secs;
    let max_age = settings
        .max_grant_age
        .get(dataset.id.as_str())
        .map(|age| i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
    // When each grant naming the dataset was asserted (grants past their expiry left out).
    let asserted: Vec<i64> = passport
        .visas
        .iter()
        .filter(|v| {
            let visa = &v.claims.ga4gh_visa_v1;
            visa.r#type == VisaType::ControlledAccessGrants
                && visa.value == grant
                && v.claims.exp.saturating_add(skew) > unix
        })
        .map(|v| v.claims.ga4gh_visa_v1.asserted)
        .collect();
    if asserted.is_empty() {
        return deny(Reason::NoGrantVisa);
    }
    if let Some(age) = max_age
        && !asserted
            .iter()
            .any(|a| asserted_within(*a, age, unix, skew))
    {
        return deny(Reason::GrantAssertedTooOld);
    }
    let covering: Vec<&Approval> = approvals
        .iter()
        .filter(|a| {
            a.researcher_issuer == passport.issuer
                && a.researcher_subject == passport.subject
                && a.datasets.contains(&dataset.id)
        })
        .collect();
    if covering.is_empty() {
        return deny(Reason::NoApproval);
    }
    let in_force: Vec<&Approval> = covering
        .iter()
        .copied()
        .filter(|a| a.in_force(now))
        .collect();
    if in_force.is_empty() {
        // Explain by the approval closest to being in force.
        let rank = |a: &&&Approval| match a.status {
            ApprovalStatus::Active => 0,
            ApprovalStatus::Suspended => 1,
            ApprovalStatus::Revoked => 2,
        };
        let best = covering.iter().min_by_key(rank);
        let reason = match best.map(|a| a.status) {
            Some(ApprovalStatus::Active) => Reason::ApprovalNotInPeriod,
            Some(ApprovalStatus::Suspended) => Reason::ApprovalSuspended,
            _ => Reason::ApprovalRevoked,
        };
        return ControlledOutcome::Deny {
            reason,
            approval: best.map(|a| a.id.clone()),
            duo: None,
        };
    }
    let Some(ontology) = settings.duo.as_deref() else {
        return ControlledOutcome::Deny {
            reason: Reason::DuoOntologyUnavailable,
            approval: in_force.first().map(|a| a.id.clone()),
            duo: None,
        };
    };
    let condition = &dataset.data_use;
    let context = MatchContext {
        allowed_countries: condition.countries.clone(),
        allowed_institutions: condition.institutions.clone(),
        allowed_projects: condition.projects.clone(),
        allowed_users: condition.users.clone(),
        diseases: &icd10_within,
    };
    let user = format!("{}#{}", passport.issuer, passport.subject);
    let mut first_failure: Option<(ApprovalId, MatchResult)> = None;
    for approval in in_force {
        let Some(purpose) = purpose_of(approval, &user) else {
            continue;
        };
        let result = match_purpose(ontology, condition, &purpose, &context);
        if result.outcome == Outcome::Permit {
            return ControlledOutcome::Permit {
                approval: Box::new(approval.clone()),
                duo: result,
            };
        }
        if first_failure.is_none() {
            first_failure = Some((approval.id.clone(), result));
        }
    }
    match first_failure {
        Some((id, result)) => ControlledOutcome::Deny {
            reason: if result.outcome == Outcome::Deny {
                Reason::DuoDenied
            } else {
                Reason::DuoCommitteeRequired
            },
            approval: Some(id),
            duo: Some(result),
        },
        None => deny(Reason::NoApproval),
    }
}

/// The research purpose an approval records (see the module documentation for the terms);
/// `None` for an approval without any purpose term (validation refuses those).
#[must_use]
pub fn purpose_of(approval: &Approval, user: &str) -> Option<ResearchPurpose> {
    let has = |code: &str| approval.purpose.iter().any(|p| p.as_str() == code);
    let primary = approval.purpose.first()?.clone();
    Some(ResearchPurpose {
        diseases: approval.diseases.clone(),
        for_profit: approval.for_profit,
        for_profit_organisation: approval.for_profit_organisation,
        country: approval.country.clone(),
        institution: approval.institution.clone(),
        project: approval.project.clone(),
        user: user.to_owned(),
        has_ethics_approval: has("DUO:0000021"),
        agrees_to_publish: has("DUO:0000019"),
        agrees_to_return_results: has("DUO:0000029"),
        approved_collaboration: has("DUO:0000020"),
        time_limit_ok: has("DUO:0000025"),
        moratorium_ok: has("DUO:0000024"),
        genetic_study: has("DUO:0000016"),
        clinical_care: has("DUO:0000043"),
        population_origins_ancestry: has("DUO:0000011"),
        ..ResearchPurpose::new(primary)
    })
}

/// The disease hierarchy the gateway can decide: ICD-10 codes by their structure (`C34.1` lies
/// within `C34`, and within the block `C30-C39`). Other vocabularies (MONDO) are decided only
/// for identical ids (by the matcher) and otherwise go to the committee.
#[must_use]
pub fn icd10_within(requested: &str, allowed: &str) -> Option<bool> {
    let requested = icd10(requested)?;
    let allowed_text = allowed
        .trim()
        .trim_start_matches("ICD10:")
        .trim_start_matches("ICD-10:");
    if let Some((lo, hi)) = allowed_text.split_once('-') {
        let (lo, hi) = (icd10(lo)?, icd10(hi)?);
        let head = requested.get(..3)?;
        return Some(lo.get(..3)? <= head && head <= hi.get(..3)?);
    }
    let allowed = icd10(allowed_text)?;
    Some(requested.starts_with(&allowed))
}

/// An ICD-10 code without its dot, upper case; `None` when the text is not one.
fn icd10(text: &str) -> Option<String> {
    let t = text
        .trim()
        .trim_start_matches("ICD10:")
        .trim_start_matches("ICD-10:");
    let code: String = t
        .chars()
        .filter(|c| *c != '.')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let mut chars = code.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && code.len() >= 3
        && code.len() <= 7
        && code[1..3].chars().all(|c| c.is_ascii_digit())
        && code[3..].chars().all(|c| c.is_ascii_alphanumeric());
    ok.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_hierarchy_by_structure() {
        assert_eq!(icd10_within("C34.1", "C34"), Some(true));
        assert_eq!(icd10_within("C341", "C34"), Some(true));
        assert_eq!(icd10_within("C34.1", "C30-C39"), Some(true));
        assert_eq!(icd10_within("C50.9", "C30-C39"), Some(false));
        assert_eq!(icd10_within("C34", "C34.1"), Some(false));
        assert_eq!(icd10_within("E11", "C34"), Some(false));
        assert_eq!(icd10_within("MONDO:0005061", "MONDO:0004992"), None);
        assert_eq!(icd10_within("C34", "MONDO:0004992"), None);
    }
}
