//! The demo broker: the demo's Passport broker and Visa issuer, one token issuer per synthetic
//! institution, and what a demo passport holds. Each is a [`gemj_auth::LocalIssuer`] (the
//! signing stays in gemj-auth, the only crate with JWT crypto) whose key lives in the data
//! folder; this module decides their identities, where their keys and key sets are, and which
//! Visas and approval a demo researcher gets.
//!
//! Invariant: nothing here is trusted unless the gateway runs in demo mode (`serve --demo`),
//! which lists these issuers like any configured one; every demo passport and approval says
//! DEMO where a person reads it.

use std::path::Path;

use gemj_auth::LocalIssuer;
use gemj_model::{
    Approval, ApprovalId, ApprovalStatus, DatasetId, DuoCode, InstitutionId, ModelError,
};
use gemj_passport::{VisaObject, VisaType};

use crate::{DemoError, INSTITUTIONS};

/// Where the demo broker's JWKS is served, under the gateway's base URL.
pub const JWKS_PATH: &str = "/demo-broker/.well-known/jwks.json";

/// The demo administrator's subject: a demo passport for it may manage approvals.
pub const ADMINISTRATOR: &str = "demo-committee";

/// The ResearcherStatus Visa value of every demo researcher (the GA4GH registered-access
/// paper, as the Registered Access bona fide status names it).
const RESEARCHER_STATUS: &str = "https://doi.org/10.1038/s41431-018-0219-y";

/// The demo broker's issuer for a gateway reachable at `base_url`.
#[must_use]
pub fn issuer(base_url: &str) -> String {
    format!("{}/demo-broker", base_url.trim_end_matches('/'))
}

/// Loads (or creates) the demo broker's key in `data_dir` for a gateway at `base_url`.
///
/// # Errors
/// When its key cannot be read or created.
pub fn load(data_dir: &Path, base_url: &str) -> Result<LocalIssuer, DemoError> {
    Ok(LocalIssuer::load_or_create(data_dir, &issuer(base_url))
        .map_err(DemoError::Broker)?
        .with_jwks_url(format!("{}{JWKS_PATH}", base_url.trim_end_matches('/'))))
}

/// Where a demo institution's JWKS is served, under the base URL.
#[must_use]
pub fn institution_jwks_path(id: &str) -> String {
    format!("/demo-institutions/{id}/.well-known/jwks.json")
}

/// The demo institutions' signers: one key per synthetic institution of the demo cohort
/// ([`INSTITUTIONS`]), in `<data>/demo-institutions/<id>/`, issuer
/// `<base>/demo-institutions/<id>`.
///
/// # Errors
/// When a key cannot be read or created.
pub fn institutions(
    data_dir: &Path,
    base_url: &str,
) -> Result<Vec<(InstitutionId, LocalIssuer)>, DemoError> {
    let base = base_url.trim_end_matches('/');
    INSTITUTIONS
        .iter()
        .map(|(code, _)| {
            let id = InstitutionId::parse(code).map_err(plan)?;
            let signer = LocalIssuer::load_or_create(
                &data_dir.join("demo-institutions").join(code),
                &format!("{base}/demo-institutions/{code}"),
            )
            .map_err(DemoError::Broker)?
            .with_jwks_url(format!("{base}{}", institution_jwks_path(code)));
            Ok((id, signer))
        })
        .collect()
}

/// What a demo researcher asks the demo broker for.
#[derive(Debug, Clone, Default)]
pub struct PassportRequest<'a> {
    /// The datasets to be granted (one ControlledAccessGrants Visa each).
    pub datasets: &'a [DatasetId],
    /// The gateway's accepted-terms URL; when set, an AcceptedTermsAndPolicies Visa for it.
    pub terms_url: &'a str,
    /// The prefix of a grant's value before the dataset id (`auth.dataset_grant_prefix`).
    pub grant_prefix: &'a str,
}

/// The Visas of a demo passport, asserted at `now` by the demo broker `broker`: a
/// ResearcherStatus (`by: so`), the accepted terms when the gateway has any (`by: self`), and
/// one ControlledAccessGrants per dataset (`by: dac`).
#[must_use]
pub fn visas(broker: &LocalIssuer, request: &PassportRequest<'_>, now: i64) -> Vec<VisaObject> {
    let visa = |r#type: VisaType, value: String, by: &str| VisaObject {
        r#type,
        asserted: now,
        value,
        source: broker.issuer().to_owned(),
        by: Some(by.to_owned()),
        conditions: None,
    };
    let mut visas = vec![visa(
        VisaType::ResearcherStatus,
        RESEARCHER_STATUS.to_owned(),
        "so",
    )];
    if !request.terms_url.is_empty() {
        visas.push(visa(
            VisaType::AcceptedTermsAndPolicies,
            request.terms_url.to_owned(),
            "self",
        ));
    }
    visas.extend(request.datasets.iter().map(|id| {
        visa(
            VisaType::ControlledAccessGrants,
            format!("{}{id}", request.grant_prefix),
            "dac",
        )
    }));
    visas
}

/// The data-use terms of a demo approval.
#[derive(Debug, Clone, Default)]
pub struct ApprovalTerms {
    /// DUO purposes (at least one).
    pub purpose: Vec<DuoCode>,
    /// Diseases studied (for disease-specific consent).
    pub diseases: Vec<String>,
    /// ISO 3166-1 alpha-2 country of processing.
    pub country: String,
    /// Whether the research is for profit.
    pub for_profit: bool,
}

/// A demo approval for `subject` of `broker` over `datasets`: active for a year from `now`,
/// named `DEMO-APR-<random>`, approved by no committee (the institution and project say so).
///
/// # Errors
/// `Plan` when the terms have no purpose or there is no dataset.
pub fn approval(
    broker: &LocalIssuer,
    subject: &str,
    datasets: &[DatasetId],
    terms: ApprovalTerms,
    now: time::OffsetDateTime,
) -> Result<Approval, DemoError> {
    if terms.purpose.is_empty() || datasets.is_empty() {
        return Err(DemoError::Plan(
            "a demo approval needs a purpose and a dataset".to_owned(),
        ));
    }
    Ok(Approval {
        id: ApprovalId::parse(&format!("DEMO-APR-{}", uuid::Uuid::new_v4().simple()))
            .map_err(plan)?,
        researcher_issuer: broker.issuer().to_owned(),
        researcher_subject: subject.to_owned(),
        institution: "Demo institution (synthetic)".to_owned(),
        project: "Demo project".to_owned(),
        purpose: terms.purpose,
        diseases: terms.diseases,
        for_profit: terms.for_profit,
        for_profit_organisation: Some(terms.for_profit),
        country: terms.country,
        datasets: datasets.to_vec(),
        valid_from: now,
        valid_until: now + time::Duration::days(365),
        status: ApprovalStatus::Active,
    })
}

fn plan(e: ModelError) -> DemoError {
    DemoError::Plan(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_broker_and_institutions_keep_their_keys_and_issuers()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let base = "http://127.0.0.1:8080/";
        let broker = load(dir.path(), base)?;
        assert_eq!(broker.issuer(), "http://127.0.0.1:8080/demo-broker");
        assert_eq!(
            broker.jwks_url(),
            "http://127.0.0.1:8080/demo-broker/.well-known/jwks.json"
        );
        assert_eq!(
            load(dir.path(), base)?.kid(),
            broker.kid(),
            "the key is reused"
        );
        let institutions = institutions(dir.path(), base)?;
        assert_eq!(institutions.len(), INSTITUTIONS.len());
        for (id, signer) in &institutions {
            assert_eq!(
                signer.issuer(),
                format!("http://127.0.0.1:8080/demo-institutions/{id}")
            );
            assert_ne!(
                signer.kid(),
                broker.kid(),
                "each institution has its own key"
            );
        }
        Ok(())
    }

    #[test]
    fn a_demo_passport_holds_status_terms_and_one_grant_per_dataset()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let broker = load(dir.path(), "http://127.0.0.1:1")?;
        let datasets = [DatasetId::parse("GEMJ-D1")?, DatasetId::parse("GEMJ-D2")?];
        let request = PassportRequest {
            datasets: &datasets,
            terms_url: "https://gemj.example/terms",
            grant_prefix: "https://gemj.example/datasets/",
        };
        let got = visas(&broker, &request, 1_700_000_000);
        let kinds: Vec<_> = got
            .iter()
            .map(|v| (v.r#type.clone(), v.value.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (VisaType::ResearcherStatus, RESEARCHER_STATUS),
                (
                    VisaType::AcceptedTermsAndPolicies,
                    "https://gemj.example/terms"
                ),
                (
                    VisaType::ControlledAccessGrants,
                    "https://gemj.example/datasets/GEMJ-D1"
                ),
                (
                    VisaType::ControlledAccessGrants,
                    "https://gemj.example/datasets/GEMJ-D2"
                ),
            ]
        );
        assert!(
            got.iter()
                .all(|v| v.source == broker.issuer() && v.asserted == 1_700_000_000)
        );
        let no_terms = PassportRequest {
            terms_url: "",
            datasets: &[],
            ..request
        };
        assert_eq!(visas(&broker, &no_terms, 1).len(), 1);
        Ok(())
    }

    #[test]
    fn a_demo_approval_needs_a_purpose_and_a_dataset() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let broker = load(dir.path(), "http://127.0.0.1:1")?;
        let now = time::OffsetDateTime::now_utc();
        let d = [DatasetId::parse("GEMJ-D1")?];
        let terms = ApprovalTerms {
            purpose: vec![DuoCode::parse("DUO:0000042")?],
            country: "JP".to_owned(),
            ..ApprovalTerms::default()
        };
        let a = approval(&broker, "alice", &d, terms.clone(), now)?;
        assert!(a.id.as_str().starts_with("DEMO-APR-"));
        assert_eq!(a.researcher_issuer, broker.issuer());
        assert_eq!(a.valid_until - a.valid_from, time::Duration::days(365));
        assert!(matches!(
            approval(&broker, "alice", &[], terms, now),
            Err(DemoError::Plan(_))
        ));
        assert!(matches!(
            approval(&broker, "alice", &d, ApprovalTerms::default(), now),
            Err(DemoError::Plan(_))
        ));
        Ok(())
    }
}
