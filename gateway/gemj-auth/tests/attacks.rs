//! The attack table: one line per attack on a Passport or its Visas, each asserting the exact
//! error code or the exact fate of every Visa. Then the stateful cases: key rotation, refetch
//! rate limits, fail-closed key caching, the caches, POST-body Passports, the v1.0 flow and the
//! demo broker.

mod support;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use gemj_auth::{AuthConfig, AuthError, LocalIssuer, TrustedIssuer, VerifiedPassport, Verifier};
use gemj_passport::{MAX_VISA_BYTES, VisaObject, VisaType};
use serde_json::{Value, json};
use support::*;

type TestResult = Result<(), Box<dyn Error>>;

/// What a case expects: a Passport error code, or the fate of each Visa in order (`"ok"` or the
/// rejection code).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Err(&'static str),
    Visas(Vec<&'static str>),
}

fn err(code: &'static str) -> Expect {
    Expect::Err(code)
}

fn visas(codes: &[&'static str]) -> Expect {
    Expect::Visas(codes.to_vec())
}

/// One attack: the Passport, the Visas it carries (to map results back), and a config tweak.
struct Case {
    name: &'static str,
    passport: String,
    visas: Vec<String>,
    config: fn(&mut AuthConfig),
    expect: Expect,
}

fn case(name: &'static str, passport: String, expect: Expect) -> Case {
    Case {
        name,
        passport,
        visas: Vec::new(),
        config: |_| {},
        expect,
    }
}

/// A case whose Passport is the standard broker Passport carrying `visas`.
fn with_visas(name: &'static str, visas: Vec<String>, expect: Expect) -> Case {
    Case {
        name,
        passport: passport(&visas),
        visas,
        config: |_| {},
        expect,
    }
}

/// A broker Passport whose payload is edited by `edit`.
fn edited(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut payload = passport_payload(&[]);
    if let Some(map) = payload.as_object_mut() {
        edit(map);
    }
    sign(&passport_header("b1"), &payload, &keys().broker_rsa)
}

/// A broker Passport with the given header.
fn with_header(header: Value, key: &Key) -> String {
    sign(&header, &passport_payload(&[]), key)
}

/// A broker Visa whose payload is edited by `edit`.
fn visa_edited(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut payload = visa_payload(BROKER, USER, grant("D1"));
    if let Some(map) = payload.as_object_mut() {
        edit(map);
    }
    sign(&visa_header("b1"), &payload, &keys().broker_rsa)
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

/// Replaces the payload of a signed token, keeping its header and signature.
fn forge(token: &str, payload: &Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = b64(payload.to_string().as_bytes());
    parts.join(".")
}

fn linked_identities(value: &str) -> Value {
    json!({"type": "LinkedIdentities", "asserted": NOW - 60, "value": value,
           "source": BROKER, "by": "system"})
}

fn with_conditions(mut object: Value, conditions: Value) -> Value {
    object["conditions"] = conditions;
    object
}

fn cases() -> Vec<Case> {
    let k = keys();
    let g1 = || visa(USER, grant("D1"));
    let mut cases = vec![
        // Baselines.
        with_visas("valid passport, one grant", vec![g1()], visas(&["ok"])),
        case("valid passport, no visas", passport(&[]), visas(&[])),
        case(
            "ES256 passport with P-256 key",
            sign(
                &json!({"alg": "ES256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b-ec"}),
                &passport_payload(&[]),
                &k.broker_ec,
            ),
            visas(&[]),
        ),
        // Signatures and algorithms.
        case(
            "forged payload (another subject)",
            forge(&passport(&[]), &{
                let mut p = passport_payload(&[]);
                p["sub"] = json!("admin");
                p
            }),
            err("bad_signature"),
        ),
        case(
            "forged signature",
            tamper_signature(&passport(&[])),
            err("bad_signature"),
        ),
        case(
            "signature stripped",
            {
                let p = passport(&[]);
                format!("{}.", &p[..p.rfind('.').unwrap_or(0)])
            },
            err("bad_signature"),
        ),
        case(
            "attacker key under broker kid",
            with_header(passport_header("b1"), &k.attacker_rsa),
            err("bad_signature"),
        ),
        case(
            "alg none, empty signature",
            with_header(
                json!({"alg": "none", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1"}),
                &Key::Unsigned,
            ),
            err("alg_not_allowed"),
        ),
        case(
            "alg NONE",
            with_header(
                json!({"alg": "NONE", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1"}),
                &Key::Unsigned,
            ),
            err("alg_not_allowed"),
        ),
        case(
            "alg missing",
            with_header(
                json!({"typ": "vnd.ga4gh.passport+jwt", "kid": "b1"}),
                &k.broker_rsa,
            ),
            err("alg_not_allowed"),
        ),
        case(
            "HS256 with the RSA public key (DER) as secret",
            with_header(
                json!({"alg": "HS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1"}),
                &Key::Hmac(rsa_public_der(&k.broker_rsa)),
            ),
            err("alg_not_allowed"),
        ),
        case(
            "HS256 with the JWK n as secret",
            with_header(
                json!({"alg": "HS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1"}),
                &Key::Hmac(
                    jwk("b1", &k.broker_rsa)["n"]
                        .as_str()
                        .unwrap_or_default()
                        .as_bytes()
                        .to_vec(),
                ),
            ),
            err("alg_not_allowed"),
        ),
        case(
            "RS256 with a 1024-bit key",
            WEAK_PASSPORT.to_owned(),
            err("weak_key"),
        ),
        case(
            "ES384 with a P-384 key",
            with_header(
                json!({"alg": "ES384", "typ": "vnd.ga4gh.passport+jwt", "kid": "b-ec"}),
                &k.attacker_ec384,
            ),
            err("alg_not_allowed"),
        ),
        case(
            "PS256",
            sign_with(
                &json!({"alg": "PS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1"}).to_string(),
                &passport_payload(&[]).to_string(),
                &k.broker_rsa,
                true,
            ),
            err("alg_not_allowed"),
        ),
        case(
            "EdDSA",
            with_header(
                json!({"alg": "EdDSA", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1"}),
                &Key::Unsigned,
            ),
            err("alg_not_allowed"),
        ),
        case(
            "RS256 header naming the EC key",
            with_header(passport_header("b-ec"), &k.broker_rsa),
            err("key_alg_mismatch"),
        ),
        case(
            "ES256 header naming the RSA key",
            with_header(
                json!({"alg": "ES256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1"}),
                &k.broker_ec,
            ),
            err("key_alg_mismatch"),
        ),
        case(
            "embedded jwk header with the attacker key",
            with_header(
                json!({"alg": "RS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1",
                       "jwk": jwk("b1", &k.attacker_rsa)}),
                &k.attacker_rsa,
            ),
            err("bad_signature"),
        ),
        // Issuers, jku, kid.
        case(
            "untrusted issuer",
            sign(
                &passport_header("x1"),
                &json!({"iss": EVIL, "sub": USER, "iat": NOW, "exp": NOW + 3600, "aud": AUDIENCE, "ga4gh_passport_v1": []}),
                &k.attacker_rsa,
            ),
            err("untrusted_issuer"),
        ),
        case(
            "issuer differs by a trailing slash",
            edited(|p| {
                p.insert("iss".into(), json!(format!("{BROKER}/")));
            }),
            err("untrusted_issuer"),
        ),
        case(
            "untrusted jku",
            with_header(
                json!({"alg": "RS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "x1", "jku": EVIL_JWKS}),
                &k.attacker_rsa,
            ),
            err("untrusted_jku"),
        ),
        case(
            "jku of another trusted issuer",
            with_header(
                json!({"alg": "RS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1", "jku": DAC_JWKS}),
                &k.broker_rsa,
            ),
            err("untrusted_jku"),
        ),
        case(
            "jku equal to the trusted JWKS URL",
            with_header(
                json!({"alg": "RS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1", "jku": BROKER_JWKS}),
                &k.broker_rsa,
            ),
            visas(&[]),
        ),
        case(
            "unknown kid",
            with_header(passport_header("nope"), &k.broker_rsa),
            err("unknown_kid"),
        ),
        case(
            "missing kid",
            with_header(
                json!({"alg": "RS256", "typ": "vnd.ga4gh.passport+jwt"}),
                &k.broker_rsa,
            ),
            err("missing_kid"),
        ),
        // Header parameters.
        case(
            "unknown crit",
            with_header(
                json!({"alg": "RS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1", "crit": ["exp"], "exp": 1}),
                &k.broker_rsa,
            ),
            err("crit_not_understood"),
        ),
        case(
            "crit b64=false",
            with_header(
                json!({"alg": "RS256", "typ": "vnd.ga4gh.passport+jwt", "kid": "b1", "crit": ["b64"], "b64": false}),
                &k.broker_rsa,
            ),
            err("crit_not_understood"),
        ),
        case(
            "typ JWT",
            with_header(
                json!({"alg": "RS256", "typ": "JWT", "kid": "b1"}),
                &k.broker_rsa,
            ),
            err("wrong_typ"),
        ),
        case(
            "typ missing",
            with_header(json!({"alg": "RS256", "kid": "b1"}), &k.broker_rsa),
            err("wrong_typ"),
        ),
        case(
            "a visa presented as a passport",
            sign(&visa_header("b1"), &passport_payload(&[]), &k.broker_rsa),
            err("wrong_typ"),
        ),
        case(
            "duplicate header alg",
            sign_raw(
                r#"{"alg":"none","alg":"RS256","typ":"vnd.ga4gh.passport+jwt","kid":"b1"}"#,
                &passport_payload(&[]).to_string(),
                &k.broker_rsa,
            ),
            err("malformed_token"),
        ),
        case(
            "duplicate payload sub",
            sign_raw(
                &passport_header("b1").to_string(),
                &format!(
                    r#"{{"iss":"{BROKER}","sub":"{USER}","sub":"admin","iat":{NOW},"exp":{},"aud":"{AUDIENCE}","ga4gh_passport_v1":[]}}"#,
                    NOW + 3600
                ),
                &k.broker_rsa,
            ),
            err("malformed_token"),
        ),
        case("not a JWT", "hello".to_owned(), err("malformed_token")),
        case(
            "JWE-shaped, five segments",
            "a.b.c.d.e".to_owned(),
            err("malformed_token"),
        ),
        // Required claims.
        case(
            "missing iss",
            edited(|p| {
                p.remove("iss");
            }),
            err("missing_claim_iss"),
        ),
        case(
            "missing sub",
            edited(|p| {
                p.remove("sub");
            }),
            err("missing_claim_sub"),
        ),
        case(
            "missing exp",
            edited(|p| {
                p.remove("exp");
            }),
            err("missing_claim_exp"),
        ),
        case(
            "missing iat",
            edited(|p| {
                p.remove("iat");
            }),
            err("missing_claim_iat"),
        ),
        case(
            "missing ga4gh_passport_v1",
            edited(|p| {
                p.remove("ga4gh_passport_v1");
            }),
            err("missing_claim_ga4gh_passport_v1"),
        ),
        case(
            "iss not a string",
            edited(|p| {
                p.insert("iss".into(), json!(7));
            }),
            err("invalid_claim"),
        ),
        case(
            "exp as a string",
            edited(|p| {
                p.insert("exp".into(), json!("9999999999"));
            }),
            err("invalid_claim"),
        ),
        // Times.
        case(
            "expired 61 s ago",
            edited(|p| {
                p.insert("exp".into(), json!(NOW - 61));
            }),
            err("expired"),
        ),
        case(
            "expired 30 s ago (within skew)",
            edited(|p| {
                p.insert("exp".into(), json!(NOW - 30));
                p.insert("iat".into(), json!(NOW - 3600));
            }),
            visas(&[]),
        ),
        case(
            "iat 61 s in future",
            edited(|p| {
                p.insert("iat".into(), json!(NOW + 61));
            }),
            err("issued_in_future"),
        ),
        case(
            "iat 59 s in future",
            edited(|p| {
                p.insert("iat".into(), json!(NOW + 59));
            }),
            visas(&[]),
        ),
        case(
            "nbf 2 min in future",
            edited(|p| {
                p.insert("nbf".into(), json!(NOW + 120));
            }),
            err("not_yet_valid"),
        ),
        case(
            "exp before iat",
            edited(|p| {
                p.insert("iat".into(), json!(NOW - 10));
                p.insert("exp".into(), json!(NOW - 20));
            }),
            err("invalid_lifetime"),
        ),
        // Audience.
        case(
            "wrong audience",
            edited(|p| {
                p.insert("aud".into(), json!("https://other.example"));
            }),
            err("wrong_audience"),
        ),
        case(
            "audience missing while required",
            edited(|p| {
                p.remove("aud");
            }),
            err("wrong_audience"),
        ),
        case(
            "audience in a list",
            edited(|p| {
                p.insert("aud".into(), json!(["https://other.example", AUDIENCE]));
            }),
            visas(&[]),
        ),
        // Limits.
        {
            let v = g1();
            let many: Vec<String> = (0..257).map(|_| v.clone()).collect();
            case("257 visas", passport(&many), err("too_many_visas"))
        },
        {
            let big = visa_edited(|p| {
                p.insert("padding".into(), json!("x".repeat(17 * 1024)));
            });
            assert!(big.len() > MAX_VISA_BYTES);
            // Ignored alone: the rest of the passport still counts.
            with_visas(
                "a 17 KiB visa beside a good one",
                vec![big, visa(USER, grant("D1"))],
                visas(&["visa_too_large", "ok"]),
            )
        },
        // Visas: identity binding.
        with_visas(
            "visa for another subject",
            vec![visa("user-2", grant("D1"))],
            visas(&["subject_mismatch"]),
        ),
        with_visas(
            "visa for the same sub from another issuer",
            vec![dac_visa(USER, grant("D1"))],
            visas(&["subject_mismatch"]),
        ),
        with_visas(
            "visa for another subject, linked by LinkedIdentities",
            vec![
                sign(
                    &visa_header("b1"),
                    &visa_payload(
                        BROKER,
                        USER,
                        linked_identities("user-2,https:%2F%2Fdac.example.jp"),
                    ),
                    &k.broker_rsa,
                ),
                dac_visa("user-2", grant("D1")),
            ],
            visas(&["ok", "ok"]),
        ),
        with_visas(
            "LinkedIdentities from an untrusted source links nothing",
            vec![
                sign(
                    &visa_header("d1"),
                    &visa_payload(
                        DAC,
                        USER,
                        json!({"type": "LinkedIdentities", "asserted": NOW - 60,
                        "value": "user-2,https:%2F%2Fdac.example.jp", "source": DAC, "by": "system"}),
                    ),
                    &k.dac_rsa,
                ),
                dac_visa("user-2", grant("D1")),
            ],
            visas(&["untrusted_source", "subject_mismatch"]),
        ),
        with_visas(
            "LinkedIdentities naming a third identity does not link the victim",
            vec![
                sign(
                    &visa_header("b1"),
                    &visa_payload(
                        BROKER,
                        USER,
                        linked_identities("user-3,https:%2F%2Fdac.example.jp"),
                    ),
                    &k.broker_rsa,
                ),
                dac_visa("user-2", grant("D1")),
            ],
            visas(&["ok", "subject_mismatch"]),
        ),
        // Visas: conditions.
        with_visas(
            "unmet conditions",
            vec![visa(
                USER,
                with_conditions(
                    grant("D1"),
                    json!([[{"type": "AffiliationAndRole", "value": "const:faculty@u-tokyo.ac.jp"}]]),
                ),
            )],
            visas(&["conditions_not_met"]),
        ),
        with_visas(
            "met const conditions",
            vec![
                visa(USER, affiliation("faculty@u-tokyo.ac.jp")),
                visa(
                    USER,
                    with_conditions(
                        grant("D1"),
                        json!([[{"type": "AffiliationAndRole", "value": "const:faculty@u-tokyo.ac.jp", "source": "const:https://u-tokyo.ac.jp"}]]),
                    ),
                ),
            ],
            visas(&["ok", "ok"]),
        ),
        with_visas(
            "met pattern condition",
            vec![
                visa(
                    USER,
                    with_conditions(
                        grant("D2"),
                        json!([[{"type": "AffiliationAndRole", "value": "pattern:*@u-tokyo.ac.jp"}]]),
                    ),
                ),
                visa(USER, affiliation("student@u-tokyo.ac.jp")),
            ],
            visas(&["ok", "ok"]),
        ),
        with_visas(
            "unmet pattern condition",
            vec![
                visa(USER, affiliation("student@u-tokyo.ac.jp")),
                visa(
                    USER,
                    with_conditions(
                        grant("D2"),
                        json!([[{"type": "AffiliationAndRole", "value": "pattern:faculty@*"}]]),
                    ),
                ),
            ],
            visas(&["ok", "conditions_not_met"]),
        ),
        with_visas(
            "met split_pattern condition (second clause of the DNF)",
            vec![
                visa(
                    USER,
                    linked_identities("u9,https:%2F%2Fidp.example;u2,https:%2F%2Fdac.example.jp"),
                ),
                visa(
                    USER,
                    with_conditions(
                        grant("D3"),
                        json!([
                            [{"type": "ResearcherStatus", "value": "const:https://doi.org/10.1038/s41431-018-0219-y"}],
                            [{"type": "LinkedIdentities", "value": "split_pattern:u?,https:%2F%2Fdac.example.jp"}]
                        ]),
                    ),
                ),
            ],
            visas(&["ok", "ok"]),
        ),
        with_visas(
            "unmet split_pattern condition",
            vec![
                visa(
                    USER,
                    linked_identities("u9,https:%2F%2Fidp.example;u2,https:%2F%2Fdac.example.jp"),
                ),
                visa(
                    USER,
                    with_conditions(
                        grant("D3"),
                        json!([
                            [{"type": "LinkedIdentities", "value": "split_pattern:u?,https:%2F%2Fother.example"}]
                        ]),
                    ),
                ),
            ],
            visas(&["ok", "conditions_not_met"]),
        ),
        with_visas(
            "conditions met only by a visa of another subject",
            vec![
                visa("user-2", affiliation("faculty@u-tokyo.ac.jp")),
                visa(
                    USER,
                    with_conditions(
                        grant("D1"),
                        json!([[{"type": "AffiliationAndRole", "value": "const:faculty@u-tokyo.ac.jp"}]]),
                    ),
                ),
            ],
            visas(&["subject_mismatch", "conditions_not_met"]),
        ),
        with_visas(
            "visas whose conditions name each other",
            vec![
                visa(
                    USER,
                    with_conditions(
                        grant("D1"),
                        json!([[{"type": "ControlledAccessGrants", "value": "const:https://gemj.example.jp/datasets/D2"}]]),
                    ),
                ),
                visa(
                    USER,
                    with_conditions(
                        grant("D2"),
                        json!([[{"type": "ControlledAccessGrants", "value": "const:https://gemj.example.jp/datasets/D1"}]]),
                    ),
                ),
            ],
            visas(&["conditions_not_met", "conditions_not_met"]),
        ),
        // Visas: times, sources, issuers, signatures.
        with_visas(
            "visa asserted in future",
            vec![visa(
                USER,
                json!({"type": "ControlledAccessGrants", "asserted": NOW + 3600,
                "value": "https://gemj.example.jp/datasets/D1", "source": DAC, "by": "dac"}),
            )],
            visas(&["asserted_in_future"]),
        ),
        with_visas(
            "expired visa",
            vec![visa_edited(|p| {
                p.insert("exp".into(), json!(NOW - 120));
                p.insert("iat".into(), json!(NOW - 7200));
            })],
            visas(&["expired"]),
        ),
        with_visas(
            "visa iat 61 s in future",
            vec![visa_edited(|p| {
                p.insert("iat".into(), json!(NOW + 61));
            })],
            visas(&["issued_in_future"]),
        ),
        with_visas(
            "visa without sub",
            vec![visa_edited(|p| {
                p.remove("sub");
            })],
            visas(&["missing_claim_sub"]),
        ),
        with_visas(
            "visa from an untrusted source",
            vec![visa(
                USER,
                json!({"type": "ControlledAccessGrants", "asserted": NOW - 60,
                "value": "https://gemj.example.jp/datasets/D1", "source": "https://rogue-dac.example", "by": "dac"}),
            )],
            visas(&["untrusted_source"]),
        ),
        with_visas(
            "visa by an untrusted authority (self-asserted grant)",
            vec![visa(
                USER,
                json!({"type": "ControlledAccessGrants", "asserted": NOW - 60,
                "value": "https://gemj.example.jp/datasets/D1", "source": DAC, "by": "self"}),
            )],
            visas(&["untrusted_by"]),
        ),
        with_visas(
            "visa signed by an untrusted issuer inside a valid passport",
            vec![
                g1(),
                sign(
                    &visa_header("x1"),
                    &visa_payload(EVIL, USER, grant("D2")),
                    &k.attacker_rsa,
                ),
            ],
            visas(&["ok", "untrusted_issuer"]),
        ),
        with_visas(
            "visa claiming the DAC but signed by the attacker",
            vec![sign(
                &visa_header("d1"),
                &visa_payload(DAC, USER, grant("D2")),
                &k.attacker_rsa,
            )],
            visas(&["bad_signature"]),
        ),
        with_visas(
            "visa with forged payload (another dataset)",
            vec![forge(&g1(), &visa_payload(BROKER, USER, grant("D99")))],
            visas(&["bad_signature"]),
        ),
        with_visas(
            "visa with alg none",
            vec![sign(
                &json!({"alg": "none", "typ": "vnd.ga4gh.visa+jwt", "kid": "d1"}),
                &visa_payload(DAC, USER, grant("D1")),
                &Key::Unsigned,
            )],
            visas(&["alg_not_allowed"]),
        ),
        with_visas(
            "visa with unknown crit",
            vec![sign(
                &json!({"alg": "RS256", "typ": "vnd.ga4gh.visa+jwt", "kid": "d1", "crit": ["x"], "x": 1}),
                &visa_payload(DAC, USER, grant("D1")),
                &k.dac_rsa,
            )],
            visas(&["crit_not_understood"]),
        ),
        with_visas(
            "visa with untrusted jku",
            vec![sign(
                &json!({"alg": "RS256", "typ": "vnd.ga4gh.visa+jwt", "kid": "d1", "jku": EVIL_JWKS}),
                &visa_payload(DAC, USER, grant("D1")),
                &k.dac_rsa,
            )],
            visas(&["untrusted_jku"]),
        ),
        with_visas(
            "visa header forms of Passport 1.0 and 1.2: visa+jwt (any case, application/), JWT, none",
            vec![
                sign(
                    &json!({"alg": "RS256", "typ": "JWT", "kid": "b1"}),
                    &visa_payload(BROKER, USER, grant("D1")),
                    &k.broker_rsa,
                ),
                sign(
                    &json!({"alg": "RS256", "kid": "b1"}),
                    &visa_payload(BROKER, USER, grant("D1")),
                    &k.broker_rsa,
                ),
                sign(
                    &json!({"alg": "RS256", "typ": "application/VND.GA4GH.VISA+JWT", "kid": "b1"}),
                    &visa_payload(BROKER, USER, grant("D1")),
                    &k.broker_rsa,
                ),
            ],
            visas(&["ok", "ok", "ok"]),
        ),
        with_visas(
            "visa header forms no spec allows: passport, access token, JOSE, empty",
            ["vnd.ga4gh.passport+jwt", "at+jwt", "JOSE", ""]
                .iter()
                .map(|typ| {
                    sign(
                        &json!({"alg": "RS256", "typ": typ, "kid": "b1"}),
                        &visa_payload(BROKER, USER, grant("D1")),
                        &k.broker_rsa,
                    )
                })
                .collect(),
            visas(&["wrong_typ", "wrong_typ", "wrong_typ", "wrong_typ"]),
        ),
        with_visas(
            "passport nested as a visa",
            vec![passport(&[])],
            visas(&["wrong_typ"]),
        ),
        with_visas(
            "visa access token (scope openid, fresh): not a Visa Document Token",
            vec![visa_edited(|p| {
                p.insert("scope".into(), json!("openid ga4gh_passport_v1"));
            })],
            visas(&["visa_scope_not_allowed"]),
        ),
        with_visas(
            "visa with any scope (an empty one, a non-string one)",
            vec![
                visa_edited(|p| {
                    p.insert("scope".into(), json!(""));
                }),
                visa_edited(|p| {
                    p.insert("scope".into(), json!(["ga4gh_passport_v1"]));
                }),
                g1(),
            ],
            visas(&["visa_scope_not_allowed", "visa_scope_not_allowed", "ok"]),
        ),
        with_visas(
            "the same visa twice",
            vec![g1(), g1()],
            visas(&["ok", "ok"]),
        ),
        with_visas(
            "a visa that is not a JWT",
            vec!["garbage".to_owned(), g1()],
            visas(&["malformed_token", "ok"]),
        ),
    ];
    let mut strict = with_visas(
        "visa with typ JWT or none (strict: accept_jwt_typ_visas = false)",
        vec![
            sign(
                &json!({"alg": "RS256", "typ": "JWT", "kid": "b1"}),
                &visa_payload(BROKER, USER, grant("D1")),
                &k.broker_rsa,
            ),
            sign(
                &json!({"alg": "RS256", "kid": "b1"}),
                &visa_payload(BROKER, USER, grant("D1")),
                &k.broker_rsa,
            ),
            g1(),
        ],
        visas(&["wrong_typ", "wrong_typ", "ok"]),
    );
    strict.config = |c| c.accept_jwt_typ_visas = false;
    cases.push(strict);
    let mut no_audience = case(
        "no audience configured, passport has none",
        edited(|p| {
            p.remove("aud");
        }),
        visas(&[]),
    );
    no_audience.config = |c| c.required_audience = None;
    cases.push(no_audience);
    cases
}

/// The fate of each input Visa in `result`.
fn fates(case: &Case, result: &VerifiedPassport) -> Vec<&'static str> {
    case.visas
        .iter()
        .map(|v| {
            let hash = gemj_passport::visa_hash(v);
            if result.visas.iter().any(|a| a.hash == hash) {
                "ok"
            } else {
                result
                    .rejected
                    .iter()
                    .find(|r| r.hash == hash)
                    .map_or("missing", |r| r.reason)
            }
        })
        .collect()
}

#[tokio::test]
async fn attack_table() -> TestResult {
    let cases = cases();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for case in &cases {
        let mut config = config();
        (case.config)(&mut config);
        let verifier = Verifier::with_fetcher(config, standard_fetcher())?;
        let got = match verifier.verify_passport(&case.passport, NOW).await {
            Ok(result) => {
                assert_eq!(result.subject, USER, "{}", case.name);
                assert_eq!(
                    result.passport_hash,
                    gemj_passport::visa_hash(&case.passport)
                );
                Expect::Visas(fates(case, &result))
            }
            Err(e) => {
                // Errors never carry token content.
                let shown = format!("{e} {e:?}");
                for part in case.passport.split('.').filter(|p| p.len() > 8) {
                    assert!(
                        !shown.contains(part),
                        "{}: error shows token content",
                        case.name
                    );
                }
                assert!(
                    !shown.contains(USER),
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
async fn key_rotation_and_refetch_rate_limit() -> TestResult {
    let k = keys();
    let fetcher = standard_fetcher();
    let verifier = Verifier::with_fetcher(config(), fetcher.clone())?;
    let rotated = sign(
        &passport_header("b2"),
        &passport_payload(&[]),
        &k.broker_rotated,
    );
    verifier.verify_passport(&passport(&[]), NOW).await?;
    assert_eq!(fetcher.count(), 1);
    // The broker rotates to b2, 10 s later: the kid is unknown and a refetch is not yet allowed.
    fetcher.set(
        BROKER_JWKS,
        json!({"keys": [jwk("b1", &k.broker_rsa), jwk("b2", &k.broker_rotated)]}),
    );
    let e = verifier.verify_passport(&rotated, NOW + 10).await.err();
    assert_eq!(e.map(|e| e.code()), Some("unknown_kid"));
    assert_eq!(fetcher.count(), 1);
    // After min_refetch_interval, the unknown kid triggers one refetch and is accepted.
    verifier.verify_passport(&rotated, NOW + 61).await?;
    assert_eq!(fetcher.count(), 2);
    // A flood of unknown kids right after costs no fetch.
    for i in 0..50 {
        let junk = sign(
            &passport_header(&format!("junk{i}")),
            &passport_payload(&[]),
            &k.broker_rsa,
        );
        let e = verifier.verify_passport(&junk, NOW + 62).await.err();
        assert_eq!(e.map(|e| e.code()), Some("unknown_kid"));
    }
    assert_eq!(fetcher.count(), 2);
    assert_eq!(verifier.stats().jwks_fetches, 2);
    Ok(())
}

#[tokio::test]
async fn jwks_failure_fresh_cache_ok_expired_cache_fails_closed() -> TestResult {
    let fetcher = standard_fetcher();
    let verifier = Verifier::with_fetcher(config(), fetcher.clone())?;
    // Distinct passports, so the passport cache does not answer.
    let p = |jti: &str| {
        let mut payload = passport_payload(&[]);
        payload["jti"] = json!(jti);
        payload["exp"] = json!(NOW + 3_600);
        sign(&passport_header("b1"), &payload, &keys().broker_rsa)
    };
    verifier.verify_passport(&p("a"), NOW).await?;
    fetcher.fail(true);
    // Within the 5 min TTL: the cached key set is used, no fetch.
    verifier.verify_passport(&p("b"), NOW + 299).await?;
    assert_eq!(fetcher.count(), 1);
    // TTL passed and the fetch fails: fail closed.
    let e = verifier.verify_passport(&p("c"), NOW + 300).await.err();
    assert_eq!(e.map(|e| e.code()), Some("jwks_unavailable"));
    assert_eq!(fetcher.count(), 2);
    // Failed fetches are not retried more than once per min_refetch_interval.
    for s in 1..30 {
        let e = verifier.verify_passport(&p("d"), NOW + 300 + s).await.err();
        assert_eq!(e.map(|e| e.code()), Some("jwks_unavailable"));
    }
    assert_eq!(fetcher.count(), 2);
    // The endpoint recovers: the next allowed attempt succeeds.
    fetcher.fail(false);
    verifier.verify_passport(&p("e"), NOW + 361).await?;
    assert_eq!(fetcher.count(), 3);
    Ok(())
}

#[tokio::test]
async fn jwks_limits_fail_closed() -> TestResult {
    #[track_caller]
    fn doc_with(n: usize, pad: usize) -> Value {
        let key = jwk("b1", &keys().broker_rsa);
        let mut list = vec![key; 1];
        list.extend((0..n).map(|i| json!({"kty": "oct", "kid": format!("o{i}"), "k": "AA"})));
        json!({"keys": list, "pad": "x".repeat(pad)})
    }
    let check = |doc: Value, expect: Option<&'static str>| {
        let fetcher = standard_fetcher();
        fetcher.set(BROKER_JWKS, doc);
        async move {
            let verifier = Verifier::with_fetcher(config(), fetcher)?;
            let got = verifier
                .verify_passport(&passport(&[]), NOW)
                .await
                .err()
                .map(|e| e.code());
            assert_eq!(got, expect);
            Ok::<(), Box<dyn Error>>(())
        }
    };
    check(doc_with(31, 0), None).await?;
    check(doc_with(32, 0), Some("jwks_unavailable")).await?;
    check(doc_with(0, 64 * 1024), Some("jwks_unavailable")).await?;
    check(json!({"keys": "nope"}), Some("jwks_unavailable")).await?;
    // A symmetric key under the broker's kid is never used (HS256 confusion through the JWKS).
    let hmac = Key::Hmac(b"secret".to_vec());
    check(json!({"keys": [jwk("b1", &hmac)]}), Some("unsupported_key")).await?;
    Ok(())
}

#[tokio::test]
async fn cache_hit_costs_no_signature_verification() -> TestResult {
    let fetcher = standard_fetcher();
    let verifier = Verifier::with_fetcher(config(), fetcher.clone())?;
    let visas: Vec<String> = (0..10)
        .map(|i| visa(USER, grant(&format!("D{i}"))))
        .collect();
    let token = passport(&visas);
    let first = verifier.verify_passport(&token, NOW).await?;
    assert_eq!(first.visas.len(), 10);
    let after_first = verifier.stats();
    assert_eq!(after_first.signature_verifications, 11);
    let second = verifier.verify_passport(&token, NOW + 5).await?;
    assert_eq!(first, second);
    let after_second = verifier.stats();
    assert_eq!(after_second.signature_verifications, 11);
    assert_eq!(after_second.passport_cache_hits, 1);
    assert_eq!(fetcher.count(), 1);
    // The cached signature with another payload is not the cached passport.
    let mut forged = passport_payload(&visas);
    forged["sub"] = json!("user-2");
    let e = verifier
        .verify_passport(&forge(&token, &forged), NOW + 5)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("bad_signature"));
    assert_eq!(verifier.stats().signature_verifications, 12);
    // Another passport carrying the same visas only verifies its own signature.
    let mut payload = passport_payload(&visas);
    payload["jti"] = json!("p-2");
    let other = sign(&passport_header("b1"), &payload, &keys().broker_rsa);
    let third = verifier.verify_passport(&other, NOW + 6).await?;
    assert_eq!(third.visas, first.visas);
    assert_eq!(verifier.stats().signature_verifications, 13);
    assert_eq!(verifier.stats().visa_cache_hits, 10);
    // Cached results expire with the JWKS TTL: after 5 min the passport and its visas are
    // verified again.
    verifier.verify_passport(&token, NOW + 301).await?;
    assert_eq!(verifier.stats().signature_verifications, 13 + 11);
    // And with the passport.
    let e = verifier
        .verify_passport(&token, NOW + 3600 + 60)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("expired"));
    Ok(())
}

#[tokio::test]
async fn cached_visa_still_checks_strict_typ() -> TestResult {
    // A typ JWT visa verified through the lenient v1.0 path must not pass the strict v1.2 rule
    // (when configured) through the cache.
    let mut strict = config();
    strict.accept_jwt_typ_visas = false;
    let verifier = Verifier::with_fetcher(strict, standard_fetcher())?;
    let visa = sign(
        &json!({"alg": "RS256", "typ": "JWT", "kid": "d1"}),
        &visa_payload(DAC, USER, grant("D1")),
        &keys().dac_rsa,
    );
    let v10 = verifier
        .verify_visas(DAC, USER, std::slice::from_ref(&visa), NOW)
        .await?;
    assert_eq!(v10.visas.len(), 1);
    let v12 = verifier
        .verify_passport(&passport(std::slice::from_ref(&visa)), NOW)
        .await?;
    assert_eq!(
        v12.rejected.iter().map(|r| r.reason).collect::<Vec<_>>(),
        ["wrong_typ"]
    );
    Ok(())
}

#[tokio::test]
async fn post_body_passports() -> TestResult {
    let k = keys();
    let verifier = Verifier::with_fetcher(config(), standard_fetcher())?;
    let a = passport(&[visa(USER, grant("D1"))]);
    let mut payload = passport_payload(&[visa(USER, grant("D2")), visa(USER, grant("D1"))]);
    payload["jti"] = json!("p-b");
    payload["exp"] = json!(NOW + 600);
    let b = sign(&passport_header("b1"), &payload, &k.broker_rsa);
    let merged = verifier
        .verify_post_body_passports(&[a.clone(), b.clone()], NOW)
        .await?;
    assert_eq!(merged.visas.len(), 2);
    assert_eq!(merged.expires_at, NOW + 600);
    assert_ne!(merged.passport_hash, gemj_passport::visa_hash(&a));
    let single = verifier
        .verify_post_body_passports(std::slice::from_ref(&a), NOW)
        .await?;
    assert_eq!(single.passport_hash, gemj_passport::visa_hash(&a));
    // Another subject in the same body.
    let mut other = passport_payload(&[]);
    other["sub"] = json!("user-2");
    let c = sign(&passport_header("b1"), &other, &k.broker_rsa);
    let e = verifier
        .verify_post_body_passports(&[a.clone(), c], NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("mixed_subjects"));
    // The same subject name from another issuer is another subject.
    let mut dac_passport = passport_payload(&[]);
    dac_passport["iss"] = json!(DAC);
    let d = sign(&passport_header("d1"), &dac_passport, &k.dac_rsa);
    let e = verifier
        .verify_post_body_passports(&[a.clone(), d], NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("mixed_subjects"));
    let e = verifier.verify_post_body_passports(&[], NOW).await.err();
    assert_eq!(e.map(|e| e.code()), Some("no_passport"));
    let e = verifier
        .verify_post_body_passports(&[a.clone(), tamper_signature(&b)], NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("bad_signature"));
    let e = verifier
        .verify_post_body_passports(&vec![a; 17], NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("too_many_passports"));
    Ok(())
}

#[tokio::test]
async fn v1_0_visa_list() -> TestResult {
    let k = keys();
    let verifier = Verifier::with_fetcher(config(), standard_fetcher())?;
    let jwt_typ = sign(
        &json!({"alg": "RS256", "typ": "JWT", "kid": "d1", "jku": DAC_JWKS}),
        &visa_payload(DAC, USER, grant("D1")),
        &k.dac_rsa,
    );
    let untyped = sign(
        &json!({"alg": "RS256", "kid": "d1"}),
        &visa_payload(DAC, USER, grant("D2")),
        &k.dac_rsa,
    );
    let other = dac_visa("user-2", grant("D3"));
    let result = verifier
        .verify_visas(DAC, USER, &[jwt_typ, untyped, other], NOW)
        .await?;
    assert_eq!(result.visas.len(), 2);
    assert_eq!(
        result.rejected.iter().map(|r| r.reason).collect::<Vec<_>>(),
        ["subject_mismatch"]
    );
    assert_eq!(result.expires_at, NOW + 3600);
    let many = vec![visa(USER, grant("D1")); 257];
    let e = verifier.verify_visas(DAC, USER, &many, NOW).await.err();
    assert_eq!(e.map(|e| e.code()), Some("too_many_visas"));
    Ok(())
}

#[tokio::test]
async fn demo_broker_round_trip() -> TestResult {
    let dir = tempfile::tempdir()?;
    let broker = LocalIssuer::load_or_create(dir.path(), "https://demo.gemj.example")?
        .with_audience(AUDIENCE);
    let mut config = config();
    config.trusted.push(
        broker
            .trusted_issuer()
            .with_grant_prefixes(["https://gemj.example.jp/datasets/DEMO".to_owned()]),
    );
    let verifier = Verifier::with_fetcher(config, broker.static_fetcher())?;
    let grant = VisaObject {
        r#type: VisaType::ControlledAccessGrants,
        asserted: NOW - 10,
        value: "https://gemj.example.jp/datasets/DEMO1".into(),
        source: "https://demo.gemj.example".into(),
        by: Some("dac".into()),
        conditions: None,
    };
    let token = broker.issue_passport("demo-user", &[grant], Duration::from_secs(3600), NOW)?;
    let result = verifier.verify_passport(&token, NOW).await?;
    assert_eq!(result.subject, "demo-user");
    assert_eq!(result.visas.len(), 1, "{:?}", result.rejected);
    assert!(result.rejected.is_empty());
    Ok(())
}

#[test]
fn verifier_is_send_sync_and_futures_are_send() -> TestResult {
    fn assert_send_sync<T: Send + Sync + Clone>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}
    let verifier = Verifier::with_fetcher(config(), standard_fetcher())?;
    assert_send_sync(&verifier);
    assert_send(verifier.verify_passport("x", NOW));
    assert_send(verifier.verify_post_body_passports(&[], NOW));
    let broker = gemj_auth::TrustedBroker::new(BROKER);
    assert_send(verifier.passport_from_userinfo(&broker, "t"));
    assert_send(verifier.exchange_token(&broker, "t"));
    Ok(())
}

#[test]
fn config_rejects_untrusted_urls() {
    let mut config = AuthConfig::default();
    config
        .trusted
        .push(TrustedIssuer::new(BROKER, "http://broker.example.jp/jwks"));
    let e = Verifier::with_fetcher(config, standard_fetcher()).err();
    assert_eq!(e.map(|e| e.code()), Some("invalid_config"));
    let _: Arc<dyn gemj_auth::JwksFetcher> = standard_fetcher();
    let _ = AuthError::NoPassport;
}
