use std::sync::Arc;

use gemj_model::{DataUseCondition, DatasetId, DuoCode};
use gemj_passport::{VisaClaims, VisaObject, VisaType};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ISSUER: &str = "https://broker.example";
const PREFIX: &str = "https://gemj.example.jp/datasets/";

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_800_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn condition(
    permission: &str,
    modifiers: &[&str],
) -> Result<DataUseCondition, Box<dyn std::error::Error>> {
    Ok(DataUseCondition {
        permission: DuoCode::parse(permission)?,
        modifiers: modifiers
            .iter()
            .map(|m| DuoCode::parse(m))
            .collect::<Result<_, _>>()?,
        disease: None,
        countries: vec!["JP".into()],
        institutions: vec![],
        projects: vec![],
        users: vec![],
    })
}

fn dataset(
    id: &str,
    level: AccessLevel,
    data_use: DataUseCondition,
) -> Result<Arc<Dataset>, Box<dyn std::error::Error>> {
    Ok(Arc::new(Dataset {
        id: DatasetId::parse(id)?,
        name: id.into(),
        description: String::new(),
        access_level: level,
        data_use,
    }))
}

fn visa(visa_type: VisaType, value: &str, exp: i64) -> gemj_auth::VerifiedVisa {
    gemj_auth::VerifiedVisa {
        hash: format!("h-{value}"),
        claims: VisaClaims {
            iss: ISSUER.into(),
            sub: "alice".into(),
            iat: 1_700_000_000,
            exp,
            jti: None,
            ga4gh_visa_v1: VisaObject {
                r#type: visa_type,
                asserted: 1_700_000_000,
                value: value.into(),
                source: "https://dac.example".into(),
                by: Some("dac".into()),
                conditions: None,
            },
        },
        jwt: gemj_auth::SignedVisa::new(""),
    }
}

fn passport(visas: Vec<gemj_auth::VerifiedVisa>) -> Principal {
    Principal::Passport(Arc::new(gemj_auth::VerifiedPassport {
        issuer: ISSUER.into(),
        subject: "alice".into(),
        passport_hash: "p".into(),
        visas,
        rejected: vec![],
        expires_at: 1_900_000_000,
        token_ids: Vec::new(),
        network_caller: None,
    }))
}

fn approval(
    datasets: &[&str],
    purpose: &[&str],
    status: ApprovalStatus,
) -> Result<Approval, Box<dyn std::error::Error>> {
    Ok(Approval {
        id: gemj_model::ApprovalId::parse(&format!("APR-{}", purpose.join("-").replace(':', "")))?,
        researcher_issuer: ISSUER.into(),
        researcher_subject: "alice".into(),
        institution: "Synthetic University".into(),
        project: "P1".into(),
        purpose: purpose
            .iter()
            .map(|p| DuoCode::parse(p))
            .collect::<Result<_, _>>()?,
        diseases: vec![],
        for_profit: false,
        for_profit_organisation: None,
        country: "JP".into(),
        datasets: datasets
            .iter()
            .map(|d| DatasetId::parse(d))
            .collect::<Result<_, _>>()?,
        valid_from: now() - time::Duration::days(1),
        valid_until: now() + time::Duration::days(30),
        status,
    })
}

use gemj_model::ApprovalStatus;

/// A signed URL for `object`, issued to `subject` (for WES staging when `analysis` names a run).
fn signed_url(
    object: &str,
    subject: &str,
    analysis: Option<&str>,
) -> Result<Principal, Box<dyn std::error::Error>> {
    Ok(Principal::SignedUrl(Arc::new(crate::data_url::UrlGrant {
        object: ObjectId::parse(object)?,
        start: 0,
        end: None,
        principal: format!("{ISSUER}#{subject}"),
        approval: None,
        industry: false,
        international: false,
        exp: now().unix_timestamp() + 60,
        nonce: "n".into(),
        slice: None,
        analysis: analysis.map(str::to_owned),
    })))
}

fn duo() -> Result<Arc<gemj_duo::Ontology>, Box<dyn std::error::Error>> {
    Ok(Arc::new(gemj_duo::Ontology::bundled()?))
}

fn settings() -> Result<PolicySettings, Box<dyn std::error::Error>> {
    Ok(PolicySettings {
        terms_url: "https://gemj.example.jp/terms".into(),
        registered_roles: vec!["faculty".into()],
        dataset_grant_prefix: PREFIX.into(),
        administrators: vec![format!("{ISSUER}#admin")],
        duo: Some(duo()?),
        clock_skew_secs: 60,
        max_grant_age: std::collections::BTreeMap::new(),
        analysis_only: std::collections::BTreeSet::new(),
        refusals: crate::access::RefusalLimit::default(),
    })
}

#[test]
fn anonymous_reads_public_metadata_and_data_and_nothing_else() -> TestResult {
    use AccessDecision::{Deny, Permit};
    use AccessLevel::{Controlled, Public, Registered};
    let gru = condition("DUO:0000042", &[])?;
    let ds = |level| dataset("D1", level, gru.clone()).map(Resource::Dataset);
    let obj = |levels: &[AccessLevel]| -> Result<Resource, Box<dyn std::error::Error>> {
        Ok(Resource::Object {
            id: ObjectId::parse("O1")?,
            datasets: levels
                .iter()
                .map(|l| dataset("D1", *l, gru.clone()))
                .collect::<Result<_, _>>()?,
            owner: None,
            project: None,
            held: false,
        })
    };
    let participant = Resource::Participant {
        id: ParticipantId::parse("P1")?,
        institution: None,
    };
    let cases = [
        (
            Action::ReadMetadata,
            Resource::Service,
            Permit,
            "service_metadata_public",
        ),
        (Action::ReadMetadata, ds(Public)?, Permit, "public_metadata"),
        (Action::ReadData, ds(Public)?, Permit, "public_data"),
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
            ds(Registered)?,
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
            Resource::Approvals,
            Deny,
            "administration_requires_credential",
        ),
        (
            Action::ReadMetadata,
            obj(&[Public])?,
            Permit,
            "public_metadata",
        ),
        (
            Action::ReadData,
            obj(&[Controlled, Public])?,
            Permit,
            "public_data",
        ),
        (
            Action::ReadMetadata,
            obj(&[Registered])?,
            Deny,
            "anonymous_not_permitted",
        ),
        (
            Action::ReadMetadata,
            obj(&[])?,
            Deny,
            "object_in_no_dataset",
        ),
        (
            Action::ManageParticipants,
            participant.clone(),
            Deny,
            "institution_credential_required",
        ),
        (
            Action::ReadMetadata,
            Resource::OwnAuditTrail,
            Deny,
            "anonymous_not_permitted",
        ),
        (
            Action::RequestRecontact,
            ds(Controlled)?,
            Deny,
            "anonymous_not_permitted",
        ),
    ];
    let s = PolicySettings::default();
    for (action, resource, want, code) in cases {
        let e = evaluate(
            &s,
            &Facts::default(),
            &Principal::Anonymous,
            action,
            &resource,
            now(),
        );
        assert_eq!(e.decision, want, "{action:?} {resource:?}");
        assert!(
            e.reasons.iter().any(|r| r.code() == code),
            "{action:?} {resource:?}: {:?}",
            e.reasons
        );
    }
    Ok(())
}

#[test]
fn affiliation_and_role_grants_registered_for_configured_roles_only() -> TestResult {
    let s = settings()?;
    let gru = condition("DUO:0000042", &[])?;
    let registered = Resource::Dataset(dataset("D1", AccessLevel::Registered, gru.clone())?);
    let controlled = Resource::Dataset(dataset("D2", AccessLevel::Controlled, gru)?);
    let exp = now().unix_timestamp() + 3600;
    let cases = [
        ("faculty@u.example.jp", AccessDecision::Permit),
        ("FACULTY@u.example.jp", AccessDecision::Permit),
        ("student@u.example.jp", AccessDecision::Deny),
        ("faculty@", AccessDecision::Deny),
        ("faculty", AccessDecision::Deny),
    ];
    for (value, want) in cases {
        let p = passport(vec![visa(VisaType::AffiliationAndRole, value, exp)]);
        let e = evaluate(
            &s,
            &Facts::default(),
            &p,
            Action::ReadData,
            &registered,
            now(),
        );
        assert_eq!(e.decision, want, "{value}");
        if want == AccessDecision::Permit {
            assert_eq!(e.reasons, [Reason::RegisteredAffiliationAndRole]);
        } else {
            assert_eq!(e.reasons, [Reason::NoRegisteredVisa]);
        }
        // A role is a registered researcher's standing, never a grant to CONTROLLED data.
        let e = evaluate(
            &s,
            &Facts::default(),
            &p,
            Action::ReadData,
            &controlled,
            now(),
        );
        assert_eq!(e.decision, AccessDecision::Deny, "{value}");
    }
    // Without configured roles, an AffiliationAndRole visa grants nothing.
    let none = PolicySettings {
        registered_roles: Vec::new(),
        ..settings()?
    };
    let p = passport(vec![visa(
        VisaType::AffiliationAndRole,
        "faculty@u.example.jp",
        exp,
    )]);
    let e = evaluate(
        &none,
        &Facts::default(),
        &p,
        Action::ReadData,
        &registered,
        now(),
    );
    assert_eq!(e.decision, AccessDecision::Deny);
    Ok(())
}

#[test]
fn controlled_needs_grant_approval_and_duo_match() -> TestResult {
    let s = settings()?;
    let exp = now().unix_timestamp() + 3600;
    let ncu = dataset(
        "CTRL-NCU",
        AccessLevel::Controlled,
        condition("DUO:0000042", &["DUO:0000046"])?,
    )?;
    let gs = dataset(
        "CTRL-GS",
        AccessLevel::Controlled,
        condition("DUO:0000042", &["DUO:0000022"])?,
    )?;
    let irb = dataset(
        "CTRL-IRB",
        AccessLevel::Controlled,
        condition("DUO:0000006", &["DUO:0000021"])?,
    )?;
    let grant = |d: &str| {
        visa(
            VisaType::ControlledAccessGrants,
            &format!("{PREFIX}{d}"),
            exp,
        )
    };
    let status_ok = visa(VisaType::ResearcherStatus, "https://doi.org/x", exp);
    let hmb = |ds: &str| approval(&[ds], &["DUO:0000006"], ApprovalStatus::Active);

    struct Case {
        name: &'static str,
        visas: Vec<gemj_auth::VerifiedVisa>,
        approvals: Vec<Approval>,
        dataset: Arc<Dataset>,
        want: AccessDecision,
        code: &'static str,
    }
    let mut for_profit = hmb("CTRL-NCU")?;
    for_profit.for_profit = true;
    let mut abroad = hmb("CTRL-GS")?;
    abroad.country = "US".into();
    let mut expired = hmb("CTRL-NCU")?;
    expired.valid_until = now() - time::Duration::hours(1);
    let mut other_subject = hmb("CTRL-NCU")?;
    other_subject.researcher_subject = "mallory".into();
    let cases = vec![
        Case {
            name: "grant + approval + NCU non-profit",
            visas: vec![grant("CTRL-NCU")],
            approvals: vec![hmb("CTRL-NCU")?],
            dataset: ncu.clone(),
            want: AccessDecision::Permit,
            code: "controlled_grant_approval_and_duo",
        },
        Case {
            name: "no grant visa",
            visas: vec![status_ok.clone()],
            approvals: vec![hmb("CTRL-NCU")?],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "no_grant_visa",
        },
        Case {
            name: "grant for another dataset",
            visas: vec![grant("CTRL-GS")],
            approvals: vec![hmb("CTRL-NCU")?],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "no_grant_visa",
        },
        Case {
            name: "grant visa expired beyond the skew",
            visas: vec![visa(
                VisaType::ControlledAccessGrants,
                &format!("{PREFIX}CTRL-NCU"),
                now().unix_timestamp() - 61,
            )],
            approvals: vec![hmb("CTRL-NCU")?],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "no_grant_visa",
        },
        Case {
            name: "grant but no approval",
            visas: vec![grant("CTRL-NCU")],
            approvals: vec![],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "no_approval",
        },
        Case {
            name: "approval of another subject",
            visas: vec![grant("CTRL-NCU")],
            approvals: vec![other_subject],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "no_approval",
        },
        Case {
            name: "approval for another dataset",
            visas: vec![grant("CTRL-NCU")],
            approvals: vec![hmb("CTRL-GS")?],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "no_approval",
        },
        Case {
            name: "revoked approval",
            visas: vec![grant("CTRL-NCU")],
            approvals: vec![approval(
                &["CTRL-NCU"],
                &["DUO:0000006"],
                ApprovalStatus::Revoked,
            )?],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "approval_revoked",
        },
        Case {
            name: "suspended approval",
            visas: vec![grant("CTRL-NCU")],
            approvals: vec![approval(
                &["CTRL-NCU"],
                &["DUO:0000006"],
                ApprovalStatus::Suspended,
            )?],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "approval_suspended",
        },
        Case {
            name: "approval out of period",
            visas: vec![grant("CTRL-NCU")],
            approvals: vec![expired],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "approval_not_in_period",
        },
        Case {
            name: "NCU and for-profit use",
            visas: vec![grant("CTRL-NCU")],
            approvals: vec![for_profit],
            dataset: ncu.clone(),
            want: AccessDecision::Deny,
            code: "duo_denied",
        },
        Case {
            name: "GS in Japan",
            visas: vec![grant("CTRL-GS")],
            approvals: vec![hmb("CTRL-GS")?],
            dataset: gs.clone(),
            want: AccessDecision::Permit,
            code: "controlled_grant_approval_and_duo",
        },
        Case {
            name: "GS processed abroad",
            visas: vec![grant("CTRL-GS")],
            approvals: vec![abroad],
            dataset: gs.clone(),
            want: AccessDecision::Deny,
            code: "duo_denied",
        },
        Case {
            name: "IRB without ethics approval",
            visas: vec![grant("CTRL-IRB")],
            approvals: vec![hmb("CTRL-IRB")?],
            dataset: irb.clone(),
            want: AccessDecision::Deny,
            code: "duo_denied",
        },
        Case {
            name: "IRB with ethics approval",
            visas: vec![grant("CTRL-IRB")],
            approvals: vec![approval(
                &["CTRL-IRB"],
                &["DUO:0000006", "DUO:0000021"],
                ApprovalStatus::Active,
            )?],
            dataset: irb.clone(),
            want: AccessDecision::Permit,
            code: "controlled_grant_approval_and_duo",
        },
    ];
    for c in cases {
        let facts = Facts {
            approvals: c.approvals,
        };
        let p = passport(c.visas);
        let e = evaluate(
            &s,
            &facts,
            &p,
            Action::ReadData,
            &Resource::Dataset(c.dataset),
            now(),
        );
        assert_eq!(e.decision, c.want, "{}: {:?}", c.name, e.reasons);
        assert_eq!(
            e.reasons.first().map(|r| r.code()),
            Some(c.code),
            "{}",
            c.name
        );
        if c.code.starts_with("duo") || c.code.starts_with("controlled") {
            let duo = e.duo.ok_or("a DUO decision carries its explanation")?;
            assert!(!duo.terms.is_empty(), "{}", c.name);
        }
    }
    Ok(())
}

#[test]
fn a_permit_carries_the_approvals_consent_scope() -> TestResult {
    let s = settings()?;
    let exp = now().unix_timestamp() + 3600;
    let d = dataset(
        "CTRL",
        AccessLevel::Controlled,
        condition("DUO:0000042", &[])?,
    )?;
    let mut a = approval(&["CTRL"], &["DUO:0000006"], ApprovalStatus::Active)?;
    a.for_profit = true;
    a.country = "DE".into();
    let p = passport(vec![visa(
        VisaType::ControlledAccessGrants,
        &format!("{PREFIX}CTRL"),
        exp,
    )]);
    let e = evaluate(
        &s,
        &Facts {
            approvals: vec![a.clone()],
        },
        &p,
        Action::ReadData,
        &Resource::Dataset(d),
        now(),
    );
    assert_eq!(e.decision, AccessDecision::Permit);
    assert_eq!(
        e.scope,
        ConsentScope {
            industry: true,
            international: true
        }
    );
    assert_eq!(e.approval, Some(a.id));
    Ok(())
}

#[test]
fn grants_age_per_dataset_and_expire_with_the_one_skew() -> TestResult {
    let t = now().unix_timestamp();
    let yearly = dataset(
        "CTRL-Y",
        AccessLevel::Controlled,
        condition("DUO:0000042", &[])?,
    )?;
    let monthly = dataset(
        "CTRL-M",
        AccessLevel::Controlled,
        condition("DUO:0000042", &[])?,
    )?;
    let mut s = settings()?;
    s.max_grant_age
        .insert("CTRL-M".into(), std::time::Duration::from_secs(30 * 86_400));
    let facts = Facts {
        approvals: vec![approval(
            &["CTRL-Y", "CTRL-M"],
            &["DUO:0000006"],
            ApprovalStatus::Active,
        )?],
    };
    let grant = |d: &str, asserted: i64, exp: i64| {
        let mut v = visa(
            VisaType::ControlledAccessGrants,
            &format!("{PREFIX}{d}"),
            exp,
        );
        v.claims.ga4gh_visa_v1.asserted = asserted;
        v
    };
    let decide = |s: &PolicySettings, visas: Vec<gemj_auth::VerifiedVisa>, d: &Arc<Dataset>| {
        let e = evaluate(
            s,
            &facts,
            &passport(visas),
            Action::ReadData,
            &Resource::Dataset(d.clone()),
            now(),
        );
        (e.decision, e.reasons.first().map(|r| r.code()))
    };
    let permit = (
        AccessDecision::Permit,
        Some("controlled_grant_approval_and_duo"),
    );
    let too_old = (AccessDecision::Deny, Some("grant_asserted_too_old"));
    let day = 86_400;
    // Asserted 40 days ago: good for the dataset without its own limit, too old for CTRL-M.
    assert_eq!(
        decide(&s, vec![grant("CTRL-Y", t - 40 * day, t + 3600)], &yearly),
        permit
    );
    assert_eq!(
        decide(&s, vec![grant("CTRL-M", t - 40 * day, t + 3600)], &monthly),
        too_old
    );
    // At the limit, and within the skew past it, the grant still authorises; beyond, not.
    let limit = t - 30 * day;
    assert_eq!(
        decide(&s, vec![grant("CTRL-M", limit, t + 3600)], &monthly),
        permit
    );
    assert_eq!(
        decide(&s, vec![grant("CTRL-M", limit - 60, t + 3600)], &monthly),
        permit
    );
    assert_eq!(
        decide(&s, vec![grant("CTRL-M", limit - 61, t + 3600)], &monthly),
        too_old
    );
    // One fresh grant among old ones is enough.
    let both = vec![
        grant("CTRL-M", t - 40 * day, t + 3600),
        grant("CTRL-M", t - day, t + 3600),
    ];
    assert_eq!(decide(&s, both, &monthly), permit);
    // A grant past its exp, but within the skew, authorises as it does in the verifier.
    assert_eq!(
        decide(&s, vec![grant("CTRL-Y", t - day, t - 59)], &yearly),
        permit
    );
    let gone = (AccessDecision::Deny, Some("no_grant_visa"));
    assert_eq!(
        decide(&s, vec![grant("CTRL-Y", t - day, t - 60)], &yearly),
        gone
    );
    // With no skew configured, exp is exact.
    let exact = PolicySettings {
        clock_skew_secs: 0,
        ..settings()?
    };
    assert_eq!(
        decide(&exact, vec![grant("CTRL-Y", t - day, t)], &yearly),
        gone
    );
    assert_eq!(
        decide(&exact, vec![grant("CTRL-Y", t - day, t + 1)], &yearly),
        permit
    );
    Ok(())
}

#[test]
fn without_the_ontology_controlled_goes_to_the_committee() -> TestResult {
    let s = PolicySettings {
        duo: None,
        ..settings()?
    };
    let exp = now().unix_timestamp() + 3600;
    let d = dataset(
        "CTRL",
        AccessLevel::Controlled,
        condition("DUO:0000042", &[])?,
    )?;
    let p = passport(vec![visa(
        VisaType::ControlledAccessGrants,
        &format!("{PREFIX}CTRL"),
        exp,
    )]);
    let facts = Facts {
        approvals: vec![approval(
            &["CTRL"],
            &["DUO:0000006"],
            ApprovalStatus::Active,
        )?],
    };
    let e = evaluate(
        &s,
        &facts,
        &p,
        Action::ReadData,
        &Resource::Dataset(d),
        now(),
    );
    assert_eq!(e.decision, AccessDecision::Deny);
    assert_eq!(e.reasons, vec![Reason::DuoOntologyUnavailable]);
    Ok(())
}

#[test]
fn institutions_manage_only_their_own_participants_and_admins_only_approvals() -> TestResult {
    let s = settings()?;
    let mine = gemj_model::InstitutionId::parse("9999000001")?;
    let theirs = gemj_model::InstitutionId::parse("9999000002")?;
    let inst = Principal::Institution(Arc::new(InstitutionCaller {
        institution: mine.clone(),
        issuer: "https://hospital-a.example".into(),
        subject: "consent-system".into(),
        token_hash: "t".into(),
    }));
    let part = |institution: Option<gemj_model::InstitutionId>| -> Result<Resource, Box<dyn std::error::Error>> {
        Ok(Resource::Participant { id: ParticipantId::parse("P1")?, institution })
    };
    let f = Facts::default();
    let e = |p: &Principal, a, r: &Resource| evaluate(&s, &f, p, a, r, now());
    assert_eq!(
        e(
            &inst,
            Action::ManageParticipants,
            &part(Some(mine.clone()))?
        )
        .decision,
        AccessDecision::Permit
    );
    assert_eq!(
        e(
            &inst,
            Action::ManageParticipants,
            &part(Some(theirs.clone()))?
        )
        .reasons,
        vec![Reason::NotOwningInstitution]
    );
    assert_eq!(
        e(&inst, Action::ManageParticipants, &part(None)?).reasons,
        vec![Reason::NotOwningInstitution]
    );
    assert_eq!(
        e(
            &inst,
            Action::ManageParticipants,
            &Resource::Institution(theirs)
        )
        .reasons,
        vec![Reason::NotOwningInstitution]
    );
    assert_eq!(
        e(
            &inst,
            Action::ManageParticipants,
            &Resource::Institution(mine.clone())
        )
        .decision,
        AccessDecision::Permit
    );
    assert_eq!(
        e(&inst, Action::Administer, &Resource::Approvals).reasons,
        vec![Reason::InstitutionNotPermitted]
    );
    let researcher = passport(vec![]);
    assert_eq!(
        e(&researcher, Action::ManageParticipants, &part(Some(mine))?).reasons,
        vec![Reason::InstitutionCredentialRequired]
    );
    assert_eq!(
        e(&researcher, Action::Administer, &Resource::Approvals).reasons,
        vec![Reason::NotAdministrator]
    );
    let admin = Principal::Passport(Arc::new(gemj_auth::VerifiedPassport {
        issuer: ISSUER.into(),
        subject: "admin".into(),
        passport_hash: "p".into(),
        visas: vec![],
        rejected: vec![],
        expires_at: 1_900_000_000,
        token_ids: Vec::new(),
        network_caller: None,
    }));
    assert_eq!(
        e(&admin, Action::Administer, &Resource::Approvals).reasons,
        vec![Reason::Administrator]
    );
    Ok(())
}

#[test]
fn discovery_is_permitted_at_the_callers_level() -> TestResult {
    let s = settings()?;
    let exp = now().unix_timestamp() + 3600;
    let public = dataset("PUB", AccessLevel::Public, condition("DUO:0000042", &[])?)?;
    let registered = dataset(
        "REG",
        AccessLevel::Registered,
        condition("DUO:0000042", &[])?,
    )?;
    let controlled = dataset(
        "CTRL",
        AccessLevel::Controlled,
        condition("DUO:0000042", &[])?,
    )?;
    let status = visa(VisaType::ResearcherStatus, "https://doi.org/x", exp);
    let grant = visa(
        VisaType::ControlledAccessGrants,
        &format!("{PREFIX}CTRL"),
        exp,
    );
    let approved = Facts {
        approvals: vec![approval(
            &["CTRL"],
            &["DUO:0000006"],
            ApprovalStatus::Active,
        )?],
    };
    let revoked = Facts {
        approvals: vec![approval(
            &["CTRL"],
            &["DUO:0000006"],
            ApprovalStatus::Revoked,
        )?],
    };
    let none = Facts::default();
    type Case<'a> = (
        &'a str,
        Principal,
        &'a Facts,
        &'a Arc<Dataset>,
        DiscoveryLevel,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "anonymous, public",
            Principal::Anonymous,
            &none,
            &public,
            DiscoveryLevel::Public,
            "discovery_public",
        ),
        (
            "anonymous, controlled",
            Principal::Anonymous,
            &none,
            &controlled,
            DiscoveryLevel::Public,
            "discovery_public",
        ),
        (
            "no visa",
            passport(vec![]),
            &none,
            &registered,
            DiscoveryLevel::Public,
            "no_registered_visa",
        ),
        (
            "registered, public",
            passport(vec![status.clone()]),
            &none,
            &public,
            DiscoveryLevel::Registered,
            "discovery_registered",
        ),
        (
            "registered, registered",
            passport(vec![status.clone()]),
            &none,
            &registered,
            DiscoveryLevel::Registered,
            "discovery_registered",
        ),
        (
            "registered without grant, controlled",
            passport(vec![status.clone()]),
            &approved,
            &controlled,
            DiscoveryLevel::Registered,
            "no_grant_visa",
        ),
        (
            "grant + approval",
            passport(vec![status.clone(), grant.clone()]),
            &approved,
            &controlled,
            DiscoveryLevel::Controlled,
            "discovery_controlled",
        ),
        (
            "grant + revoked approval",
            passport(vec![status.clone(), grant.clone()]),
            &revoked,
            &controlled,
            DiscoveryLevel::Registered,
            "approval_revoked",
        ),
        (
            "grant only, no status visa",
            passport(vec![grant.clone()]),
            &approved,
            &controlled,
            DiscoveryLevel::Controlled,
            "discovery_controlled",
        ),
    ];
    for (name, principal, facts, d, level, code) in cases {
        let e = evaluate(
            &s,
            facts,
            &principal,
            Action::Discover,
            &Resource::Dataset(d.clone()),
            now(),
        );
        assert_eq!(e.decision, AccessDecision::Permit, "{name}");
        assert_eq!(DiscoveryLevel::of_reasons(&e.reasons), level, "{name}");
        let codes: Vec<&str> = e.reasons.iter().map(|r| r.code()).collect();
        assert!(codes.contains(&code), "{name}: {codes:?}");
        if level == DiscoveryLevel::Controlled {
            assert!(e.approval.is_some(), "{name}");
        } else {
            assert_eq!(e.scope, ConsentScope::unknown_requester(), "{name}");
        }
    }
    // A signed data URL is for one object's bytes, never for discovery.
    let grant_url = crate::data_url::UrlGrant {
        object: gemj_model::ObjectId::parse("OBJ-1.bam")?,
        start: 0,
        end: None,
        principal: "anonymous".into(),
        approval: None,
        industry: true,
        international: true,
        exp,
        nonce: "n".into(),
        slice: None,
        analysis: None,
    };
    let e = evaluate(
        &s,
        &none,
        &Principal::SignedUrl(Arc::new(grant_url)),
        Action::Discover,
        &Resource::Dataset(public.clone()),
        now(),
    );
    assert_eq!(e.decision, AccessDecision::Deny);
    Ok(())
}

/// No URL outlives the credentials that authorised it: the passport's `exp`, or an accepted
/// visa's, whichever is first; callers without an expiring credential get the full TTL.
#[test]
fn urls_never_outlive_the_passport_or_its_visas() {
    let now = 1_800_000_000;
    // Both far away: the TTL decides.
    let long = passport(vec![visa(VisaType::ResearcherStatus, "r", 1_900_000_000)]);
    assert_eq!(long.url_expiry(now, 300), now + 300);
    // A visa expiring in 60 s bounds it.
    let short_visa = passport(vec![
        visa(VisaType::ResearcherStatus, "r", 1_900_000_000),
        visa(VisaType::ControlledAccessGrants, "g", now + 60),
    ]);
    assert_eq!(short_visa.credentials_expire_at(), Some(now + 60));
    assert_eq!(short_visa.url_expiry(now, 300), now + 60);
    // The passport's own exp bounds it.
    let Principal::Passport(p) = passport(vec![]) else {
        unreachable!()
    };
    let mut p = (*p).clone();
    p.expires_at = now + 30;
    let short_passport = Principal::Passport(Arc::new(p));
    assert_eq!(short_passport.url_expiry(now, 300), now + 30);
    assert_eq!(Principal::Anonymous.url_expiry(now, 300), now + 300);
    assert_eq!(Principal::Anonymous.credentials_expire_at(), None);
}

/// Analysis-only datasets are read only through a run's staging grant (or analysed); an object
/// also held by another dataset is read through that one; a held WES output is read by nobody
/// until released, then by its owner only.
#[test]
fn analysis_only_datasets_and_held_outputs() -> TestResult {
    use AccessDecision::{Deny, Permit};
    let mut s = settings()?;
    s.analysis_only.insert("TRE".into());
    let gru = condition("DUO:0000042", &[])?;
    let tre = dataset("TRE", AccessLevel::Public, gru.clone())?;
    let open = dataset("OPEN", AccessLevel::Public, gru)?;
    let object = |datasets: Vec<Arc<Dataset>>,
                  owner: Option<&str>,
                  held: bool|
     -> Result<Resource, Box<dyn std::error::Error>> {
        Ok(Resource::Object {
            id: ObjectId::parse("O1")?,
            datasets,
            owner: owner.map(str::to_owned),
            project: None,
            held,
        })
    };
    let facts = Facts { approvals: vec![] };
    let url = |analysis: Option<&str>| signed_url("O1", "alice", analysis);
    let alice = passport(vec![]);
    let bob = Principal::Passport(Arc::new(gemj_auth::VerifiedPassport {
        subject: "bob".into(),
        ..match &alice {
            Principal::Passport(p) => (**p).clone(),
            _ => return Err("a passport".into()),
        }
    }));
    let cases = [
        (
            &Principal::Anonymous,
            Action::ReadData,
            Resource::Dataset(tre.clone()),
            Deny,
            "analysis_only",
        ),
        (
            &Principal::Anonymous,
            Action::ReadMetadata,
            Resource::Dataset(tre.clone()),
            Permit,
            "public_metadata",
        ),
        (
            &Principal::Anonymous,
            Action::ReadData,
            object(vec![tre.clone()], None, false)?,
            Deny,
            "analysis_only",
        ),
        (
            &Principal::Anonymous,
            Action::ReadMetadata,
            object(vec![tre.clone()], None, false)?,
            Permit,
            "public_metadata",
        ),
        (
            &Principal::Anonymous,
            Action::Analyse,
            object(vec![tre.clone()], None, false)?,
            Permit,
            "public_data",
        ),
        (
            &Principal::Anonymous,
            Action::ReadData,
            object(vec![tre.clone(), open.clone()], None, false)?,
            Permit,
            "public_data",
        ),
        (
            &url(Some("run-1"))?,
            Action::ReadData,
            object(vec![tre.clone()], None, false)?,
            Permit,
            "public_data",
        ),
        (
            &url(None)?,
            Action::ReadData,
            object(vec![tre.clone()], None, false)?,
            Deny,
            "analysis_only",
        ),
        (
            &alice,
            Action::ReadData,
            object(vec![tre.clone()], Some(&format!("{ISSUER}#alice")), true)?,
            Deny,
            "release_pending",
        ),
        (
            &alice,
            Action::ReadMetadata,
            object(vec![tre.clone()], Some(&format!("{ISSUER}#alice")), true)?,
            Permit,
            "public_metadata",
        ),
        (
            &alice,
            Action::ReadData,
            object(vec![tre.clone()], Some(&format!("{ISSUER}#alice")), false)?,
            Permit,
            "public_data",
        ),
        (
            &bob,
            Action::ReadData,
            object(vec![tre.clone()], Some(&format!("{ISSUER}#alice")), false)?,
            Deny,
            "not_owner",
        ),
        (
            &bob,
            Action::ReadMetadata,
            object(vec![open.clone()], Some(&format!("{ISSUER}#alice")), false)?,
            Deny,
            "not_owner",
        ),
    ];
    for (i, (principal, action, resource, decision, code)) in cases.iter().enumerate() {
        let e = evaluate(&s, &facts, principal, *action, resource, now());
        assert_eq!(e.decision, *decision, "case {i}: {:?}", e.reasons);
        assert_eq!(e.reasons.first().map(|r| r.code()), Some(*code), "case {i}");
    }
    // The setting names datasets by id.
    assert!(s.is_analysis_only(&tre) && !s.is_analysis_only(&open));
    Ok(())
}

/// A WES output belongs to its owner's project: a caller holding an approval in force for that
/// project reads it (still under its datasets' rules), one of another project, or whose approval
/// is suspended or has lapsed, does not; a URL signed for the object itself passes, one signed
/// for another does not.
#[test]
fn owned_outputs_are_shared_with_the_project_only() -> TestResult {
    use AccessDecision::{Deny, Permit};
    let s = settings()?;
    let gru = condition("DUO:0000042", &[])?;
    let open = dataset("OPEN", AccessLevel::Public, gru)?;
    let output = |datasets: Vec<Arc<Dataset>>| -> Result<Resource, Box<dyn std::error::Error>> {
        Ok(Resource::Object {
            id: ObjectId::parse("O1")?,
            datasets,
            owner: Some(format!("{ISSUER}#alice")),
            project: Some("P1".into()),
            held: false,
        })
    };
    let bob = Principal::Passport(Arc::new(gemj_auth::VerifiedPassport {
        subject: "bob".into(),
        ..match passport(vec![]) {
            Principal::Passport(p) => (*p).clone(),
            _ => return Err("a passport".into()),
        }
    }));
    let of_project = |project: &str, status: ApprovalStatus, lapsed: bool| {
        approval(&["OPEN"], &["DUO:0000042"], status).map(|mut a| {
            a.researcher_subject = "bob".into();
            a.project = project.into();
            if lapsed {
                a.valid_until = now() - time::Duration::hours(1);
            }
            a
        })
    };
    let url = |object: &str| signed_url(object, "carol", None);
    let only = |project: &str, status: ApprovalStatus, lapsed: bool| {
        of_project(project, status, lapsed).map(|a| Facts { approvals: vec![a] })
    };
    let member = only("P1", ApprovalStatus::Active, false)?;
    let cases = [
        (
            &bob,
            &member,
            output(vec![open.clone()])?,
            Permit,
            "public_data",
        ),
        (&bob, &member, output(vec![])?, Permit, "project_member"),
        (
            &passport(vec![]),
            &Facts::default(),
            output(vec![])?,
            Permit,
            "owner",
        ),
        (
            &bob,
            &Facts::default(),
            output(vec![open.clone()])?,
            Deny,
            "not_owner",
        ),
        (
            &bob,
            &only("P2", ApprovalStatus::Active, false)?,
            output(vec![open.clone()])?,
            Deny,
            "not_owner",
        ),
        (
            &bob,
            &only("P1", ApprovalStatus::Suspended, false)?,
            output(vec![open.clone()])?,
            Deny,
            "not_owner",
        ),
        (
            &bob,
            &only("P1", ApprovalStatus::Active, true)?,
            output(vec![])?,
            Deny,
            "not_owner",
        ),
        (
            &url("O1")?,
            &Facts::default(),
            output(vec![])?,
            Permit,
            "owner",
        ),
        (
            &url("O2")?,
            &Facts::default(),
            output(vec![])?,
            Deny,
            "not_owner",
        ),
    ];
    for (i, (principal, facts, resource, decision, code)) in cases.iter().enumerate() {
        let e = evaluate(&s, facts, principal, Action::ReadData, resource, now());
        assert_eq!(e.decision, *decision, "case {i}: {:?}", e.reasons);
        assert_eq!(e.reasons.first().map(|r| r.code()), Some(*code), "case {i}");
    }
    // Membership needs the caller's approvals even when every dataset is PUBLIC.
    assert!(output(vec![open])?.needs_approvals(Action::ReadData));
    Ok(())
}

#[tokio::test]
async fn discovery_reuses_a_reading_of_approvals_that_no_write_has_made_stale() -> TestResult {
    // Two handles on one file: this instance, and another replica of the same store.
    let path = std::env::temp_dir().join(format!(
        "gemj-discovery-approvals-{}-{}.db",
        std::process::id(),
        now().unix_timestamp_nanos()
    ));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let options = gemj_store::StoreOptions::default();
    let here = gemj_store::Store::connect(&url, &options).await?;
    here.migrate().await?;
    let replica = gemj_store::Store::connect(&url, &options).await?;
    let ncu = dataset(
        "CTRL-NCU",
        AccessLevel::Controlled,
        condition("DUO:0000042", &[])?,
    )?;
    here.put_dataset(&ncu).await?;
    let active = approval(&["CTRL-NCU"], &["DUO:0000006"], ApprovalStatus::Active)?;
    here.put_approval(&active).await?;
    let cache = DiscoveryApprovals::default();
    let status = async |cache: &DiscoveryApprovals| -> Result<Vec<ApprovalStatus>, CoreError> {
        Ok(cache
            .of(&here, ISSUER, "alice")
            .await?
            .iter()
            .map(|a| a.status)
            .collect())
    };
    assert_eq!(status(&cache).await?, vec![ApprovalStatus::Active]);

    // This process's own change is seen at once, however fresh the reading.
    here.set_approval_status(&active.id, ApprovalStatus::Suspended)
        .await?;
    assert_eq!(status(&cache).await?, vec![ApprovalStatus::Suspended]);

    // Another replica's change is seen once the reading is RECHECK old.
    replica
        .set_approval_status(&active.id, ApprovalStatus::Revoked)
        .await?;
    tokio::time::sleep(DiscoveryApprovals::RECHECK + std::time::Duration::from_millis(50)).await;
    assert_eq!(status(&cache).await?, vec![ApprovalStatus::Revoked]);

    // Nobody else's reading is served to this caller.
    assert!(cache.of(&here, ISSUER, "mallory").await?.is_empty());
    drop((here, replica));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}
