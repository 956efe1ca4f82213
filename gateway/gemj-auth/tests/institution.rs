//! Institution-signed request tokens: the attack table (one line per token, each asserting the
//! exact error code or the verified issuer, subject and `jti`), then the stateful cases: key
//! rotation, no caching of verified tokens, token-type confusion with Passports, and demo
//! institutions (one `LocalIssuer` per folder).

mod support;

use std::error::Error;
use std::time::Duration;

use gemj_auth::{
    AuthConfig, LocalIssuer, MAX_INSTITUTION_TOKEN_BYTES, TrustedIssuer, VerifiedToken, Verifier,
};
use serde_json::{Value, json};
use support::*;

type TestResult = Result<(), Box<dyn Error>>;

/// Hospital A: RSA key `a-rsa` and EC key `a-ec`.
const HOSP_A: &str = "https://hospital-a.example.jp";
const HOSP_A_JWKS: &str = "https://hospital-a.example.jp/jwks";
/// Hospital B: RSA key `b-rsa`.
const HOSP_B: &str = "https://hospital-b.example.jp";
const HOSP_B_JWKS: &str = "https://hospital-b.example.jp/jwks";
/// The subject of the tokens (a service account of the institution).
const SENDER: &str = "consent-sender-7";

/// The institution keys: test keys of the support module under institution names.
fn a_rsa() -> &'static Key {
    &keys().broker_rsa
}
fn a_ec() -> &'static Key {
    &keys().broker_ec
}
fn b_rsa() -> &'static Key {
    &keys().dac_rsa
}

/// Key sets of both hospitals and of the (untrusted) attacker.
fn fetcher() -> std::sync::Arc<MemFetcher> {
    let f = MemFetcher::default();
    f.set(
        HOSP_A_JWKS,
        json!({"keys": [jwk("a-rsa", a_rsa()), jwk("a-ec", a_ec())]}),
    );
    f.set(HOSP_B_JWKS, json!({"keys": [jwk("b-rsa", b_rsa())]}));
    f.set(
        EVIL_JWKS,
        json!({"keys": [jwk("x1", &keys().attacker_rsa)]}),
    );
    std::sync::Arc::new(f)
}

/// An institution verifier: both hospitals trusted, this gateway's audience required.
fn institution_config() -> AuthConfig {
    AuthConfig {
        trusted: vec![
            TrustedIssuer::new(HOSP_A, HOSP_A_JWKS),
            TrustedIssuer::new(HOSP_B, HOSP_B_JWKS),
        ],
        required_audience: Some(AUDIENCE.to_owned()),
        ..AuthConfig::default()
    }
}

fn rs_header(kid: &str) -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": kid})
}

fn es_header(kid: &str) -> Value {
    json!({"alg": "ES256", "typ": "JWT", "kid": kid})
}

/// A hospital A token payload for [`SENDER`], issued at [`NOW`], valid five minutes.
fn payload() -> Value {
    json!({"iss": HOSP_A, "sub": SENDER, "aud": AUDIENCE, "iat": NOW, "exp": NOW + 300,
           "jti": "req-1"})
}

/// A hospital A payload edited by `edit`.
fn payload_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut p = payload();
    if let Some(map) = p.as_object_mut() {
        edit(map);
    }
    p
}

/// A hospital A RS256 token whose payload is edited by `edit`.
fn edited(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    sign(&rs_header("a-rsa"), &payload_with(edit), a_rsa())
}

/// The standard valid token (RS256, kid `a-rsa`).
fn valid() -> String {
    sign(&rs_header("a-rsa"), &payload(), a_rsa())
}

/// Flips one character in the middle of the signature.
fn tamper_signature(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let s = &mut parts[2];
    let mid = s.len() / 2;
    let c = if &s[mid..=mid] == "A" { "B" } else { "A" };
    s.replace_range(mid..=mid, c);
    parts.join(".")
}

/// What a case expects: the verified (issuer, subject, jti), or an error code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Ok(String, String, Option<String>),
    Err(&'static str),
}

fn ok(issuer: &str, subject: &str, jti: Option<&str>) -> Expect {
    Expect::Ok(
        issuer.to_owned(),
        subject.to_owned(),
        jti.map(str::to_owned),
    )
}

fn ok_a() -> Expect {
    ok(HOSP_A, SENDER, Some("req-1"))
}

fn err(code: &'static str) -> Expect {
    Expect::Err(code)
}

struct Case {
    name: &'static str,
    token: String,
    config: fn(&mut AuthConfig),
    expect: Expect,
}

fn case(name: &'static str, token: String, expect: Expect) -> Case {
    Case {
        name,
        token,
        config: |_| {},
        expect,
    }
}

fn cases() -> Vec<Case> {
    let k = keys();
    let mut cases = vec![
        // Baselines.
        case("valid RS256 token", valid(), ok_a()),
        case(
            "valid ES256 token",
            sign(&es_header("a-ec"), &payload(), a_ec()),
            ok_a(),
        ),
        case(
            "valid RS256 token of the other institution",
            sign(
                &rs_header("b-rsa"),
                &json!({"iss": HOSP_B, "sub": "b-sender", "aud": [AUDIENCE],
                        "iat": NOW, "exp": NOW + 60}),
                b_rsa(),
            ),
            ok(HOSP_B, "b-sender", None),
        ),
        case(
            "no typ, aud list with this gateway among others",
            sign(
                &json!({"alg": "RS256", "kid": "a-rsa"}),
                &payload_with(|p| {
                    p.insert("aud".into(), json!(["https://other.example", AUDIENCE]));
                }),
                a_rsa(),
            ),
            ok_a(),
        ),
        case(
            "typ jwt in lower case, with the matching jku",
            sign(
                &json!({"alg": "RS256", "typ": "application/jwt", "kid": "a-rsa",
                        "jku": HOSP_A_JWKS}),
                &payload(),
                a_rsa(),
            ),
            ok_a(),
        ),
        case(
            "iat 60 s in the future (within skew)",
            edited(|p| {
                p.insert("iat".into(), json!(NOW + 60));
                p.insert("exp".into(), json!(NOW + 600));
            }),
            ok_a(),
        ),
        case(
            "lifetime exactly one hour",
            edited(|p| {
                p.insert("exp".into(), json!(NOW + 3600));
            }),
            ok_a(),
        ),
        // Algorithms and signatures.
        case(
            "alg none, empty signature",
            sign(
                &json!({"alg": "none", "typ": "JWT", "kid": "a-rsa"}),
                &payload(),
                &Key::Unsigned,
            ),
            err("alg_not_allowed"),
        ),
        case(
            "HS256 with the RSA public key (DER) as secret",
            sign(
                &json!({"alg": "HS256", "typ": "JWT", "kid": "a-rsa"}),
                &payload(),
                &Key::Hmac(rsa_public_der(a_rsa())),
            ),
            err("alg_not_allowed"),
        ),
        case(
            "PS256",
            sign_with(
                &rs_header("a-rsa").to_string().replace("RS256", "PS256"),
                &payload().to_string(),
                a_rsa(),
                true,
            ),
            err("alg_not_allowed"),
        ),
        case(
            "bad signature",
            tamper_signature(&valid()),
            err("bad_signature"),
        ),
        case(
            "forged payload (another subject) under a valid signature",
            {
                let t = valid();
                let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
                parts[1] = b64(payload_with(|p| {
                    p.insert("sub".into(), json!("admin"));
                })
                .to_string()
                .as_bytes());
                parts.join(".")
            },
            err("bad_signature"),
        ),
        case(
            "signature stripped",
            {
                let t = valid();
                format!("{}.", &t[..t.rfind('.').unwrap_or(0)])
            },
            err("bad_signature"),
        ),
        case(
            "ES256 header naming an RSA key",
            sign(&es_header("a-rsa"), &payload(), a_ec()),
            err("key_alg_mismatch"),
        ),
        case(
            "crit header",
            sign(
                &json!({"alg": "RS256", "typ": "JWT", "kid": "a-rsa", "crit": ["exp"]}),
                &payload(),
                a_rsa(),
            ),
            err("crit_not_understood"),
        ),
        case(
            "no kid",
            sign(&json!({"alg": "RS256", "typ": "JWT"}), &payload(), a_rsa()),
            err("missing_kid"),
        ),
        // Issuers and keys.
        case(
            "untrusted issuer with its own key",
            sign(
                &rs_header("x1"),
                &payload_with(|p| {
                    p.insert("iss".into(), json!(EVIL));
                }),
                &k.attacker_rsa,
            ),
            err("untrusted_issuer"),
        ),
        case(
            "trusted issuer, kid of another institution's key",
            sign(&rs_header("b-rsa"), &payload(), b_rsa()),
            err("unknown_kid"),
        ),
        case(
            "trusted issuer and kid, signed with another institution's key",
            sign(&rs_header("a-rsa"), &payload(), b_rsa()),
            err("bad_signature"),
        ),
        case(
            "jku of another institution",
            sign(
                &json!({"alg": "RS256", "typ": "JWT", "kid": "a-rsa", "jku": HOSP_B_JWKS}),
                &payload(),
                a_rsa(),
            ),
            err("untrusted_jku"),
        ),
        case(
            "missing iss",
            edited(|p| {
                p.remove("iss");
            }),
            err("missing_claim_iss"),
        ),
        // Token types.
        case(
            "passport typ presented as institution token",
            sign(&passport_header("a-rsa"), &payload(), a_rsa()),
            err("wrong_typ"),
        ),
        case(
            "visa typ presented as institution token",
            sign(&visa_header("a-rsa"), &payload(), a_rsa()),
            err("wrong_typ"),
        ),
        case(
            "OAuth access token typ",
            sign(
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": "a-rsa"}),
                &payload(),
                a_rsa(),
            ),
            err("wrong_typ"),
        ),
        case(
            "v1.0 visa (typ JWT) carrying ga4gh_visa_v1",
            edited(|p| {
                p.insert("ga4gh_visa_v1".into(), grant("D1"));
            }),
            err("wrong_typ"),
        ),
        case(
            "typ JWT carrying ga4gh_passport_v1",
            edited(|p| {
                p.insert("ga4gh_passport_v1".into(), json!([]));
            }),
            err("wrong_typ"),
        ),
        // Claims.
        case(
            "missing aud",
            edited(|p| {
                p.remove("aud");
            }),
            err("missing_claim_aud"),
        ),
        case(
            "wrong aud",
            edited(|p| {
                p.insert("aud".into(), json!("https://other-gateway.example"));
            }),
            err("wrong_audience"),
        ),
        case(
            "empty aud list",
            edited(|p| {
                p.insert("aud".into(), json!([]));
            }),
            err("wrong_audience"),
        ),
        case(
            "aud a number",
            edited(|p| {
                p.insert("aud".into(), json!(7));
            }),
            err("invalid_claim"),
        ),
        case(
            "missing sub",
            edited(|p| {
                p.remove("sub");
            }),
            err("missing_claim_sub"),
        ),
        case(
            "empty sub",
            edited(|p| {
                p.insert("sub".into(), json!(""));
            }),
            err("invalid_claim"),
        ),
        case(
            "missing iat",
            edited(|p| {
                p.remove("iat");
            }),
            err("missing_claim_iat"),
        ),
        case(
            "missing exp",
            edited(|p| {
                p.remove("exp");
            }),
            err("missing_claim_exp"),
        ),
        case(
            "exp a string",
            edited(|p| {
                p.insert("exp".into(), json!("1700000300"));
            }),
            err("invalid_claim"),
        ),
        case(
            "jti a number",
            edited(|p| {
                p.insert("jti".into(), json!(1));
            }),
            err("invalid_claim"),
        ),
        case(
            "expired",
            edited(|p| {
                p.insert("iat".into(), json!(NOW - 600));
                p.insert("exp".into(), json!(NOW - 60));
            }),
            err("expired"),
        ),
        case(
            "iat in the future beyond skew",
            edited(|p| {
                p.insert("iat".into(), json!(NOW + 61));
                p.insert("exp".into(), json!(NOW + 600));
            }),
            err("issued_in_future"),
        ),
        case(
            "exp before iat",
            edited(|p| {
                p.insert("iat".into(), json!(NOW));
                p.insert("exp".into(), json!(NOW));
            }),
            err("invalid_lifetime"),
        ),
        case(
            "lifetime over one hour",
            edited(|p| {
                p.insert("exp".into(), json!(NOW + 3601));
            }),
            err("lifetime_too_long"),
        ),
        case(
            "lifetime of a year",
            edited(|p| {
                p.insert("exp".into(), json!(NOW + 365 * 86_400));
            }),
            err("lifetime_too_long"),
        ),
        case(
            "nbf in the future",
            edited(|p| {
                p.insert("nbf".into(), json!(NOW + 120));
            }),
            err("not_yet_valid"),
        ),
        case(
            "nbf in the past",
            edited(|p| {
                p.insert("nbf".into(), json!(NOW - 10));
            }),
            ok_a(),
        ),
        // Size and shape.
        case(
            "oversized token",
            edited(|p| {
                p.insert("pad".into(), json!("x".repeat(MAX_INSTITUTION_TOKEN_BYTES)));
            }),
            err("token_too_large"),
        ),
        case(
            "duplicate claim (strict JSON)",
            sign_raw(
                &rs_header("a-rsa").to_string(),
                &format!(
                    r#"{{"iss":"{HOSP_A}","sub":"{SENDER}","sub":"admin","aud":"{AUDIENCE}","iat":{NOW},"exp":{}}}"#,
                    NOW + 300
                ),
                a_rsa(),
            ),
            err("malformed_token"),
        ),
        case("not a JWT", "not.a.jwt".to_owned(), err("malformed_token")),
    ];
    cases.push(Case {
        name: "no required_audience configured (fails closed)",
        token: valid(),
        config: |c| c.required_audience = None,
        expect: err("invalid_config"),
    });
    cases.push(Case {
        name: "passport verifier's trust is not an institution's",
        token: valid(),
        config: |c| c.trusted = vec![TrustedIssuer::new(BROKER, BROKER_JWKS)],
        expect: err("untrusted_issuer"),
    });
    cases
}

#[tokio::test]
async fn institution_token_table() -> TestResult {
    let cases = cases();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for case in &cases {
        let mut config = institution_config();
        (case.config)(&mut config);
        let verifier = Verifier::with_fetcher(config, fetcher())?;
        let got = match verifier.verify_institution_token(&case.token, NOW).await {
            Ok(v) => {
                assert_eq!(
                    v.token_hash,
                    gemj_passport::visa_hash(&case.token),
                    "{}",
                    case.name
                );
                Expect::Ok(v.issuer, v.subject, v.jti)
            }
            Err(e) => {
                // Errors never carry token content or claim values.
                let shown = format!("{e} {e:?}");
                for part in case.token.split('.').filter(|p| p.len() > 8) {
                    assert!(
                        !shown.contains(part),
                        "{}: error shows token content",
                        case.name
                    );
                }
                assert!(
                    !shown.contains(SENDER),
                    "{}: error shows the subject",
                    case.name
                );
                Expect::Err(e.code())
            }
        };
        if got != case.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                case.name, case.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test]
async fn verified_token_fields() -> TestResult {
    let verifier = Verifier::with_fetcher(institution_config(), fetcher())?;
    let token = valid();
    let v = verifier.verify_institution_token(&token, NOW + 5).await?;
    assert_eq!(
        v,
        VerifiedToken {
            issuer: HOSP_A.to_owned(),
            subject: SENDER.to_owned(),
            token_hash: gemj_passport::visa_hash(&token),
            jti: Some("req-1".to_owned()),
            issued_at: NOW,
            expires_at: NOW + 300,
        }
    );
    Ok(())
}

#[tokio::test]
async fn key_rotation_triggers_one_refetch() -> TestResult {
    let k = keys();
    let fetcher = fetcher();
    let verifier = Verifier::with_fetcher(institution_config(), fetcher.clone())?;
    verifier.verify_institution_token(&valid(), NOW).await?;
    assert_eq!(fetcher.count(), 1);
    // Hospital A rotates to a new key after the refetch interval: the unknown kid triggers
    // exactly one refetch, then the token verifies.
    fetcher.set(
        HOSP_A_JWKS,
        json!({"keys": [jwk("a-rsa", a_rsa()), jwk("a-rsa-2", &k.broker_rotated)]}),
    );
    let at = NOW + 61;
    let rotated = |jti: &str| {
        let mut p = payload();
        p["iat"] = json!(at);
        p["exp"] = json!(at + 300);
        p["jti"] = json!(jti);
        sign(&rs_header("a-rsa-2"), &p, &k.broker_rotated)
    };
    let v = verifier
        .verify_institution_token(&rotated("r1"), at)
        .await?;
    assert_eq!(v.jti.as_deref(), Some("r1"));
    assert_eq!(fetcher.count(), 2);
    // The new key is now cached: no further fetch.
    verifier
        .verify_institution_token(&rotated("r2"), at + 1)
        .await?;
    assert_eq!(fetcher.count(), 2);
    // A flood of unknown kids right after costs no fetch.
    for i in 0..20 {
        let junk = sign(&rs_header(&format!("junk{i}")), &payload(), a_rsa());
        let e = verifier.verify_institution_token(&junk, at + 2).await.err();
        assert_eq!(e.map(|e| e.code()), Some("unknown_kid"));
    }
    assert_eq!(fetcher.count(), 2);
    Ok(())
}

#[tokio::test]
async fn rotation_within_refetch_interval_is_unknown_kid() -> TestResult {
    let k = keys();
    let fetcher = fetcher();
    let verifier = Verifier::with_fetcher(institution_config(), fetcher.clone())?;
    verifier.verify_institution_token(&valid(), NOW).await?;
    fetcher.set(
        HOSP_A_JWKS,
        json!({"keys": [jwk("a-rsa-2", &k.broker_rotated)]}),
    );
    let rotated = sign(&rs_header("a-rsa-2"), &payload(), &k.broker_rotated);
    let e = verifier
        .verify_institution_token(&rotated, NOW + 10)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("unknown_kid"));
    assert_eq!(fetcher.count(), 1);
    verifier
        .verify_institution_token(&rotated, NOW + 60)
        .await?;
    assert_eq!(fetcher.count(), 2);
    Ok(())
}

#[tokio::test]
async fn verified_tokens_are_not_cached() -> TestResult {
    let verifier = Verifier::with_fetcher(institution_config(), fetcher())?;
    let token = valid();
    verifier.verify_institution_token(&token, NOW).await?;
    verifier.verify_institution_token(&token, NOW + 1).await?;
    assert_eq!(verifier.stats().signature_verifications, 2);
    // The same token later is refused on its own expiry, not answered from a cache.
    let e = verifier
        .verify_institution_token(&token, NOW + 300 + 60)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("expired"));
    Ok(())
}

#[tokio::test]
async fn jwks_unavailable_fails_closed() -> TestResult {
    let fetcher = fetcher();
    fetcher.fail(true);
    let verifier = Verifier::with_fetcher(institution_config(), fetcher.clone())?;
    let e = verifier.verify_institution_token(&valid(), NOW).await.err();
    assert_eq!(e.map(|e| e.code()), Some("jwks_unavailable"));
    Ok(())
}

#[tokio::test]
async fn passports_and_institution_tokens_do_not_cross() -> TestResult {
    // One issuer trusted for both: a Passport is not an institution token and vice versa.
    let mut config = institution_config();
    config
        .trusted
        .push(TrustedIssuer::new(BROKER, BROKER_JWKS).signing_passports());
    let f = fetcher();
    f.set(
        BROKER_JWKS,
        json!({"keys": [jwk("b1", &keys().broker_rsa)]}),
    );
    let verifier = Verifier::with_fetcher(config, f)?;
    let passport = passport(&[]);
    verifier.verify_passport(&passport, NOW).await?;
    let e = verifier
        .verify_institution_token(&passport, NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("wrong_typ"));
    let e = verifier.verify_passport(&valid(), NOW).await.err();
    assert_eq!(e.map(|e| e.code()), Some("wrong_typ"));
    // A Passport-shaped payload re-signed with typ JWT is still refused.
    let retyped = sign(&rs_header("b1"), &passport_payload(&[]), &keys().broker_rsa);
    let e = verifier.verify_institution_token(&retyped, NOW).await.err();
    assert_eq!(e.map(|e| e.code()), Some("wrong_typ"));
    Ok(())
}

#[tokio::test]
async fn demo_institutions_one_key_per_folder() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = LocalIssuer::load_or_create(&dir.path().join("hospital-a"), HOSP_A)?;
    let b = LocalIssuer::load_or_create(&dir.path().join("hospital-b"), HOSP_B)?;
    assert_ne!(a.kid(), b.kid());
    // Reloading a folder gives its key back.
    let a_again = LocalIssuer::load_or_create(&dir.path().join("hospital-a"), HOSP_A)?;
    assert_eq!(a_again.kid(), a.kid());
    assert_eq!(a_again.jwks(), a.jwks());

    let fetcher = MemFetcher::default();
    fetcher.set(a.jwks_url(), a.jwks());
    fetcher.set(b.jwks_url(), b.jwks());
    let config = AuthConfig {
        trusted: vec![a.trusted_issuer(), b.trusted_issuer()],
        required_audience: Some(AUDIENCE.to_owned()),
        ..AuthConfig::default()
    };
    let verifier = Verifier::with_fetcher(config, std::sync::Arc::new(fetcher))?;
    let ttl = Duration::from_secs(300);
    for (broker, issuer) in [(&a, HOSP_A), (&b, HOSP_B)] {
        let token = broker.issue_token("svc", AUDIENCE, ttl, NOW)?;
        let v = verifier.verify_institution_token(&token, NOW).await?;
        assert_eq!(v.issuer, issuer);
        assert_eq!(v.subject, "svc");
        assert_eq!(v.issued_at, NOW);
        assert_eq!(v.expires_at, NOW + 300);
        assert_eq!(v.jti.as_ref().map(String::len), Some(32));
    }
    // Each token carries a fresh jti.
    let t1 = a.issue_token("svc", AUDIENCE, ttl, NOW)?;
    let t2 = a.issue_token("svc", AUDIENCE, ttl, NOW)?;
    let j1 = verifier.verify_institution_token(&t1, NOW).await?.jti;
    let j2 = verifier.verify_institution_token(&t2, NOW).await?.jti;
    assert_ne!(j1, j2);
    // The demo signer does not cap the lifetime; the verifier does.
    let long = a.issue_token("svc", AUDIENCE, Duration::from_secs(7200), NOW)?;
    let e = verifier.verify_institution_token(&long, NOW).await.err();
    assert_eq!(e.map(|e| e.code()), Some("lifetime_too_long"));
    let other_aud = a.issue_token("svc", "https://elsewhere.example", ttl, NOW)?;
    let e = verifier
        .verify_institution_token(&other_aud, NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("wrong_audience"));
    // A demo Passport of the same institution is not an institution token.
    let passport = a
        .with_audience(AUDIENCE)
        .issue_passport("svc", &[], ttl, NOW)?;
    let e = verifier
        .verify_institution_token(&passport, NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("wrong_typ"));
    Ok(())
}

#[test]
fn institution_future_is_send() -> TestResult {
    fn assert_send<T: Send>(_: T) {}
    let verifier = Verifier::with_fetcher(institution_config(), fetcher())?;
    assert_send(verifier.verify_institution_token("x", NOW));
    Ok(())
}
