//! Issuer-bound trust: an issuer is trusted only for what its entry lists (Passports; Visa Types
//! with the `source` and `by` values it may claim; the datasets whose grants it governs). An
//! attacker who controls one trusted issuer can use it for nothing else.
//!
//! The table of this file: a foreign program's broker signs Passports, ResearcherStatus,
//! AffiliationAndRole and LinkedIdentities Visas naming itself as source; a GeMJ committee signs
//! ControlledAccessGrants for the `GEMJ-CANCER-` datasets only, as source itself with `by: dac`.
//! Every combination of (signer, Visa Type, source, `by`, dataset) is tried; a Visa is accepted
//! exactly when the table allows it.

mod support;

use std::error::Error;

use gemj_auth::{AuthConfig, TrustedIssuer, Verifier};
use gemj_passport::{Matcher, SourcePolicy, SourceRule, VisaType};
use serde_json::{Value, json};
use support::*;

type TestResult = Result<(), Box<dyn Error>>;

const OTHER_SOURCE: &str = "https://grid.ac/institutes/grid.0000.0";

fn table() -> AuthConfig {
    let c = |s: &str| Matcher::Const(s.to_owned());
    let broker = TrustedIssuer::new(BROKER, BROKER_JWKS)
        .signing_passports()
        .with_visas(
            SourcePolicy::default()
                .with_rule(SourceRule::new(VisaType::ResearcherStatus, [c(BROKER)]))
                .with_rule(SourceRule::new(VisaType::AffiliationAndRole, [c(BROKER)]))
                .with_rule(SourceRule::new(VisaType::LinkedIdentities, [c(BROKER)])),
        );
    let committee = TrustedIssuer::new(DAC, DAC_JWKS)
        .with_visas(SourcePolicy::default().with_rule(
            SourceRule::new(VisaType::ControlledAccessGrants, [c(DAC)]).with_by([c("dac")]),
        ))
        .with_grant_prefixes([format!("{GRANTS}GEMJ-CANCER-")]);
    AuthConfig {
        trusted: vec![broker, committee],
        required_audience: Some(AUDIENCE.to_owned()),
        ..AuthConfig::default()
    }
}

/// The oracle: whether the table lets `signer` sign this Visa.
fn allowed(signer: &str, r#type: &str, source: &str, by: &str, value: &str) -> bool {
    match r#type {
        "ResearcherStatus" | "AffiliationAndRole" | "LinkedIdentities" => {
            signer == BROKER && source == BROKER
        }
        "ControlledAccessGrants" => {
            signer == DAC
                && source == DAC
                && by == "dac"
                && value.starts_with(&format!("{GRANTS}GEMJ-CANCER-"))
        }
        _ => false,
    }
}

fn values(r#type: &str) -> Vec<String> {
    match r#type {
        "ResearcherStatus" => vec!["https://doi.org/10.1038/s41431-018-0219-y".into()],
        "AffiliationAndRole" => vec!["faculty@u-tokyo.ac.jp".into()],
        "LinkedIdentities" => vec!["user-9,https:%2F%2Fother.example".into()],
        "AcceptedTermsAndPolicies" => vec!["https://gemj.example.jp/terms".into()],
        _ => vec![
            format!("{GRANTS}GEMJ-CANCER-0001"),
            format!("{GRANTS}GEMJ-RARE-0001"),
            format!("{GRANTS}GEMJ-CANCER"),
            "https://ega-archive.org/datasets/EGAD00000000001".into(),
        ],
    }
}

/// A Visa signed by `signer` for [`USER`].
fn signed(signer: &str, object: Value) -> String {
    let (kid, key) = if signer == BROKER {
        ("b1", &keys().broker_rsa)
    } else {
        ("d1", &keys().dac_rsa)
    };
    sign(&visa_header(kid), &visa_payload(signer, USER, object), key)
}

/// The broker's link of [`USER`] at the committee to [`USER`] at the broker, so that the
/// committee's Visas are about the Passport's subject.
fn link() -> String {
    signed(
        BROKER,
        json!({"type": "LinkedIdentities", "asserted": NOW - 60,
               "value": "user-1,https:%2F%2Fdac.example.jp", "source": BROKER, "by": "system"}),
    )
}

#[tokio::test]
async fn no_visa_outside_the_trust_table_is_ever_accepted() -> TestResult {
    let verifier = Verifier::with_fetcher(table(), standard_fetcher())?;
    let types = [
        "ResearcherStatus",
        "AffiliationAndRole",
        "AcceptedTermsAndPolicies",
        "ControlledAccessGrants",
        "LinkedIdentities",
    ];
    let mut tried = 0;
    let mut accepted = 0;
    for signer in [BROKER, DAC] {
        for r#type in types {
            for source in [BROKER, DAC, OTHER_SOURCE] {
                for by in ["dac", "so", "system", "self"] {
                    for value in values(r#type) {
                        let object = json!({"type": r#type, "asserted": NOW - 3600,
                            "value": value, "source": source, "by": by});
                        let visa = signed(signer, object);
                        let token = passport(&[link(), visa]);
                        let verified = verifier.verify_passport(&token, NOW).await?;
                        let got = verified.visas.iter().any(|v| {
                            v.claims.iss == signer
                                && v.claims.ga4gh_visa_v1.value == value
                                && v.claims.ga4gh_visa_v1.source == source
                                && v.claims.ga4gh_visa_v1.r#type == VisaType::parse(r#type)
                        });
                        let want = allowed(signer, r#type, source, by, &value);
                        assert_eq!(
                            got, want,
                            "{signer} signing {type} source={source} by={by} value={value}: \
                             rejected {:?}",
                            verified.rejected
                        );
                        if !want {
                            assert_eq!(verified.rejected.len(), 1, "the one refused Visa");
                        }
                        tried += 1;
                        accepted += usize::from(got);
                    }
                }
            }
        }
    }
    // 2 signers x (4 one-value types + 4 grant values) x 3 sources x 4 by values.
    assert_eq!(tried, 192);
    // The broker's three types with its own source and any by (3 x 4), and the committee's one
    // GEMJ-CANCER-* grant with its source and by dac (`GEMJ-CANCER` without the dash is not).
    assert_eq!(accepted, 13);
    Ok(())
}

#[tokio::test]
async fn each_refusal_names_why() -> TestResult {
    let verifier = Verifier::with_fetcher(table(), standard_fetcher())?;
    let grant = |dataset: &str| {
        json!({"type": "ControlledAccessGrants", "asserted": NOW - 3600,
               "value": format!("{GRANTS}{dataset}"), "source": DAC, "by": "dac"})
    };
    let cases = [
        // A foreign broker trusted for ResearcherStatus mints a grant naming the committee.
        (
            signed(BROKER, grant("GEMJ-CANCER-0001")),
            "visa_type_not_trusted_for_issuer",
        ),
        // The committee grants a dataset it does not govern.
        (
            signed(DAC, grant("GEMJ-RARE-0001")),
            "grant_not_governed_by_issuer",
        ),
        // The committee signs a LinkedIdentities Visa claiming the broker as its source.
        (
            signed(
                DAC,
                json!({"type": "LinkedIdentities", "asserted": NOW - 60,
                       "value": "user-2,https:%2F%2Fbroker.example.jp", "source": BROKER, "by": "system"}),
            ),
            "visa_type_not_trusted_for_issuer",
        ),
        // The broker claims another source for a type it may sign.
        (
            signed(
                BROKER,
                json!({"type": "ResearcherStatus", "asserted": NOW - 60,
                       "value": "https://doi.org/10.1/x", "source": OTHER_SOURCE, "by": "so"}),
            ),
            "untrusted_source",
        ),
        // The committee's grant with a `by` it may not claim.
        (
            signed(DAC, {
                let mut g = grant("GEMJ-CANCER-0001");
                g["by"] = json!("so");
                g
            }),
            "untrusted_by",
        ),
    ];
    for (visa, reason) in cases {
        let verified = verifier
            .verify_passport(&passport(&[link(), visa]), NOW)
            .await?;
        let reasons: Vec<&str> = verified.rejected.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, [reason]);
        assert_eq!(verified.visas.len(), 1, "the link alone is accepted");
    }
    Ok(())
}

#[tokio::test]
async fn only_passport_issuers_sign_passports() -> TestResult {
    let verifier = Verifier::with_fetcher(table(), standard_fetcher())?;
    let mut payload = passport_payload(&[]);
    payload["iss"] = json!(DAC);
    let committee_passport = sign(&passport_header("d1"), &payload, &keys().dac_rsa);
    let e = verifier
        .verify_passport(&committee_passport, NOW)
        .await
        .err()
        .ok_or("a committee-signed Passport was accepted")?;
    assert_eq!(e.code(), "passport_issuer_not_trusted");
    // The broker's Passport is accepted.
    verifier.verify_passport(&passport(&[]), NOW).await?;
    Ok(())
}

#[tokio::test]
async fn lifetimes_and_the_age_of_asserted_are_bounded() -> TestResult {
    let verifier = Verifier::with_fetcher(config(), standard_fetcher())?;
    // A Passport of more than an hour (the default maximum) is refused.
    let mut long = passport_payload(&[]);
    long["exp"] = json!(NOW + 3601);
    let token = sign(&passport_header("b1"), &long, &keys().broker_rsa);
    let e = verifier.verify_passport(&token, NOW).await.err();
    assert_eq!(e.map(|e| e.code()), Some("lifetime_too_long"));
    // Visas: the lifetime, a nonsense `asserted`, and the age of a grant's `asserted`.
    let day = 86_400;
    let visa_with = |object: Value, exp: i64| {
        let mut payload = visa_payload(BROKER, USER, object);
        payload["exp"] = json!(exp);
        sign(&visa_header("b1"), &payload, &keys().broker_rsa)
    };
    let aged = |mut object: Value, asserted: i64| {
        object["asserted"] = json!(asserted);
        object
    };
    let status = json!({"type": "ResearcherStatus", "value": "https://doi.org/10.1/x",
                        "source": DAC, "by": "so"});
    let cases = [
        (visa_with(grant("D1"), NOW + 366 * day), "lifetime_too_long"),
        (visa_with(aged(grant("D1"), 0), NOW + 3600), "invalid_claim"),
        (
            visa_with(aged(grant("D1"), NOW - 366 * day), NOW + 3600),
            "asserted_too_old",
        ),
        (
            visa_with(aged(grant("D1"), NOW - 364 * day), NOW + 3600),
            "ok",
        ),
        // Types without a configured maximum age keep an old `asserted`.
        (
            visa_with(aged(status.clone(), NOW - 3 * 365 * day), NOW + 3600),
            "ok",
        ),
    ];
    for (visa, want) in cases {
        let verified = verifier.verify_passport(&passport(&[visa]), NOW).await?;
        let got = verified.rejected.first().map_or("ok", |r| r.reason);
        assert_eq!(got, want);
    }
    // A grant ages out while its Passport is cached: the cache never outlives `asserted`.
    let near = visa_with(aged(grant("D2"), NOW - 365 * day + 120), NOW + 3600);
    let token = passport(&[near]);
    assert_eq!(verifier.verify_passport(&token, NOW).await?.visas.len(), 1);
    let later = verifier.verify_passport(&token, NOW + 600).await?;
    assert!(later.visas.is_empty(), "{:?}", later.rejected);
    assert_eq!(later.rejected[0].reason, "asserted_too_old");
    Ok(())
}

#[tokio::test]
async fn passports_without_jti_are_refused_when_configured() -> TestResult {
    let mut without = passport_payload(&[]);
    without.as_object_mut().ok_or("payload")?.remove("jti");
    let token = sign(&passport_header("b1"), &without, &keys().broker_rsa);
    let lenient = Verifier::with_fetcher(config(), standard_fetcher())?;
    assert!(
        lenient
            .verify_passport(&token, NOW)
            .await?
            .token_ids
            .is_empty()
    );
    let strict = Verifier::with_fetcher(
        AuthConfig {
            require_jti: true,
            ..config()
        },
        standard_fetcher(),
    )?;
    let e = strict.verify_passport(&token, NOW).await.err();
    assert_eq!(e.map(|e| e.code()), Some("missing_claim_jti"));
    let with = strict.verify_passport(&passport(&[]), NOW).await?;
    assert_eq!(with.token_ids, ["p-1"]);
    Ok(())
}

/// One configured clock skew applies alike to the Passport's and the Visas' `exp`, `iat`, `nbf`
/// and `asserted`, to the age of `asserted`, and to how long a verification stays cached: a
/// cached answer and a fresh one agree at every instant.
#[tokio::test]
async fn one_configured_skew_at_every_level() -> TestResult {
    let with_skew = |secs: u64| -> Result<Verifier, Box<dyn Error>> {
        let c = AuthConfig {
            clock_skew: std::time::Duration::from_secs(secs),
            ..config()
        };
        Ok(Verifier::with_fetcher(c, standard_fetcher())?)
    };
    let code = |r: Result<gemj_auth::VerifiedPassport, gemj_auth::AuthError>| match r {
        Ok(p) => p.rejected.first().map_or("ok", |r| r.reason).to_owned(),
        Err(e) => e.code().to_owned(),
    };
    let passport_with = |edit: &dyn Fn(&mut Value), visas: &[String]| {
        let mut p = passport_payload(visas);
        edit(&mut p);
        sign(&passport_header("b1"), &p, &keys().broker_rsa)
    };
    let visa_with = |edit: &dyn Fn(&mut Value)| {
        let mut v = visa_payload(BROKER, USER, grant("D1"));
        edit(&mut v);
        sign(&visa_header("b1"), &v, &keys().broker_rsa)
    };
    let day = 86_400;
    // (what, Passport edit, Visa edit): each is 100 s beyond the time it names.
    type Edit = Box<dyn Fn(&mut Value)>;
    let nothing = || -> Edit { Box::new(|_| {}) };
    let cases: Vec<(&str, &str, Edit, Edit)> = vec![
        (
            "passport exp",
            "expired",
            Box::new(|p| {
                p["iat"] = json!(NOW - 1000);
                p["exp"] = json!(NOW - 100);
            }),
            nothing(),
        ),
        (
            "passport iat",
            "issued_in_future",
            Box::new(|p| p["iat"] = json!(NOW + 100)),
            nothing(),
        ),
        (
            "passport nbf",
            "not_yet_valid",
            Box::new(|p| p["nbf"] = json!(NOW + 100)),
            nothing(),
        ),
        (
            "visa exp",
            "expired",
            nothing(),
            Box::new(|v| {
                v["iat"] = json!(NOW - 1000);
                v["exp"] = json!(NOW - 100);
            }),
        ),
        (
            "visa asserted",
            "asserted_in_future",
            nothing(),
            Box::new(|v| {
                v["iat"] = json!(NOW + 100);
                v["ga4gh_visa_v1"]["asserted"] = json!(NOW + 100);
            }),
        ),
        (
            "visa nbf",
            "not_yet_valid",
            nothing(),
            Box::new(|v| v["nbf"] = json!(NOW + 100)),
        ),
        (
            "grant age",
            "asserted_too_old",
            nothing(),
            Box::new(move |v| v["ga4gh_visa_v1"]["asserted"] = json!(NOW - 365 * day - 100)),
        ),
    ];
    let strict = with_skew(0)?;
    let lenient = with_skew(300)?;
    for (what, refused, passport_edit, visa_edit) in &cases {
        let token = passport_with(passport_edit, &[visa_with(visa_edit)]);
        let got = code(strict.verify_passport(&token, NOW).await);
        // "visa asserted": with iat in the future too, the Visa's iat is what is refused first.
        let want_strict = if *what == "visa asserted" {
            "issued_in_future"
        } else {
            refused
        };
        assert_eq!(got, want_strict, "{what}, no skew");
        assert_eq!(
            code(lenient.verify_passport(&token, NOW).await),
            "ok",
            "{what}, 300 s"
        );
    }
    // A cached verification ends where a fresh one would: a Visa expiring at NOW + 10 holds
    // until NOW + 10 + skew, on the cache and off it.
    let token = passport_with(&|_| {}, &[visa_with(&|v| v["exp"] = json!(NOW + 10))]);
    for (verifier, skew) in [(&strict, 0), (&lenient, 300)] {
        assert_eq!(code(verifier.verify_passport(&token, NOW).await), "ok");
        let last = NOW + 10 + skew - 1;
        assert_eq!(
            code(verifier.verify_passport(&token, last).await),
            "ok",
            "skew {skew}"
        );
        assert_eq!(
            code(verifier.verify_passport(&token, last + 1).await),
            "expired",
            "skew {skew}"
        );
        let fresh = with_skew(u64::try_from(skew)?)?;
        assert_eq!(code(fresh.verify_passport(&token, last).await), "ok");
        assert_eq!(
            code(fresh.verify_passport(&token, last + 1).await),
            "expired"
        );
    }
    // A skew beyond the bound is a configuration error.
    let too_wide = AuthConfig {
        clock_skew: std::time::Duration::from_secs(301),
        ..config()
    };
    assert!(Verifier::with_fetcher(too_wide, standard_fetcher()).is_err());
    Ok(())
}

/// A Passport signed by `signer` (the broker or the committee) for [`USER`] naming `aud`.
fn passport_for(signer: &str, aud: &str, visas: &[String]) -> String {
    let mut payload = passport_payload(visas);
    payload["iss"] = json!(signer);
    payload["aud"] = json!([aud]);
    if signer == BROKER {
        sign(&passport_header("b1"), &payload, &keys().broker_rsa)
    } else {
        sign(&passport_header("d1"), &payload, &keys().dac_rsa)
    }
}

/// An issuer's own `passport_audience` binds its Passports alone (a Beacon network's, cut for
/// one member): its Passports must name that audience, and every other issuer's keep the
/// gateway-wide `required_audience`.
#[tokio::test]
async fn a_per_issuer_audience_binds_that_issuers_passports_alone() -> TestResult {
    const MEMBER: &str = "urn:gemj:network-member:m1";
    let mut config = table();
    config.trusted[0] = config.trusted[0].clone().with_passport_audience(MEMBER);
    config.trusted[1] = config.trusted[1].clone().signing_passports();
    let verifier = Verifier::with_fetcher(config, standard_fetcher())?;
    let code = |r: Result<gemj_auth::VerifiedPassport, gemj_auth::AuthError>| match r {
        Ok(_) => "accepted",
        Err(e) => e.code(),
    };
    assert_eq!(
        code(
            verifier
                .verify_passport(&passport_for(BROKER, MEMBER, &[]), NOW)
                .await
        ),
        "accepted"
    );
    assert_eq!(
        code(
            verifier
                .verify_passport(&passport_for(BROKER, AUDIENCE, &[]), NOW)
                .await
        ),
        "wrong_audience",
        "the gateway's own audience is not the one this issuer's Passports are bound to"
    );
    assert_eq!(
        code(
            verifier
                .verify_passport(&passport_for(DAC, AUDIENCE, &[]), NOW)
                .await
        ),
        "accepted"
    );
    assert_eq!(
        code(
            verifier
                .verify_passport(&passport_for(DAC, MEMBER, &[]), NOW)
                .await
        ),
        "wrong_audience",
        "another issuer's Passports keep the gateway-wide rule"
    );
    // An empty audience is a configuration error.
    let mut bad = table();
    bad.trusted[0] = bad.trusted[0].clone().with_passport_audience(" ");
    assert!(Verifier::with_fetcher(bad, standard_fetcher()).is_err());
    Ok(())
}

/// A Beacon network's Passport stands for the one caller its own link names, when that caller's
/// issuer signs Passports here; no other issuer's links, and no ambiguous link, name anyone.
#[tokio::test]
async fn a_beacon_networks_passport_stands_for_the_one_caller_it_links() -> TestResult {
    let linked_to = |value: &str| {
        signed(
            BROKER,
            json!({"type": "LinkedIdentities", "asserted": NOW - 60, "value": value,
                   "source": BROKER, "by": "system"}),
        )
    };
    let one = linked_to("user-1,https:%2F%2Fdac.example.jp");
    let two = linked_to("user-1,https:%2F%2Fdac.example.jp;user-2,https:%2F%2Fdac.example.jp");
    let caller = |network: bool, dac_passports: bool, visas: Vec<String>| async move {
        let mut config = table();
        if network {
            config.trusted[0] = config.trusted[0].clone().as_beacon_network();
        }
        if dac_passports {
            config.trusted[1] = config.trusted[1].clone().signing_passports();
        }
        let verifier = Verifier::with_fetcher(config, standard_fetcher())?;
        let p = verifier.verify_passport(&passport(&visas), NOW).await?;
        Ok::<_, Box<dyn Error>>(p.network_caller)
    };
    assert_eq!(
        caller(true, true, vec![one.clone()]).await?.as_deref(),
        Some("https://dac.example.jp#user-1")
    );
    assert_eq!(
        caller(false, true, vec![one.clone()]).await?,
        None,
        "a broker is no network"
    );
    assert_eq!(
        caller(true, false, vec![one]).await?,
        None,
        "the caller's issuer signs no Passports here"
    );
    assert_eq!(
        caller(true, true, vec![two]).await?,
        None,
        "two callers: none"
    );
    assert_eq!(caller(true, true, vec![]).await?, None, "no link: none");
    // A network must sign Passports.
    let mut bad = table();
    bad.trusted[1] = bad.trusted[1].clone().as_beacon_network();
    assert!(Verifier::with_fetcher(bad, standard_fetcher()).is_err());
    Ok(())
}
