//! End-to-end: passports, approvals, consent and the access decision over HTTP, against a
//! real gateway over the demo cohort. One scenario, in order: a table of attacks, each
//! asserting status and body, interleaved with the state changes they depend on (approvals
//! recorded and revoked, a participant withdrawing).

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gemj_e2e::names::{CANCER, HOSPITAL_A, JOINT, PREFIX};
use gemj_e2e::{Res, TestGateway, TestResult, visas};
use gemj_passport::{Condition, VisaObject, VisaType};
use serde_json::{Value, json};

const INTL: &str = "GEMJ-TEST-INTL-CTRL";
const HOSPITAL_B: &str = "9999000002";

/// How a request authenticates.
#[derive(Clone)]
enum Auth {
    None,
    Bearer(String),
    /// `{"passports": [...]}` merged into the JSON body.
    Body(Vec<String>),
    /// Both a header and body passports.
    Both(String, Vec<String>),
}

struct Http {
    base: String,
}

impl Http {
    fn call(
        &self,
        method: &str,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Res<(u16, Value, Vec<u8>)> {
        // The server runs on other threads of the multi-threaded runtime.
        tokio::task::block_in_place(|| self.call_blocking(method, path, auth, body))
    }

    fn call_blocking(
        &self,
        method: &str,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Res<(u16, Value, Vec<u8>)> {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let (header, body) = match auth {
            Auth::None => (None, body),
            Auth::Bearer(t) => (Some(t.clone()), body),
            Auth::Body(p) => (None, Some(with_passports(body, p))),
            Auth::Both(t, p) => (Some(t.clone()), Some(with_passports(body, p))),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let res = match (method, body) {
            ("GET", _) => {
                let mut r = agent.get(&url);
                if let Some(t) = &header {
                    r = r.header("Authorization", &format!("Bearer {t}"));
                }
                r.call()
            }
            (m, b) => {
                let mut r = match m {
                    "PUT" => agent.put(&url),
                    _ => agent.post(&url),
                };
                if let Some(t) = &header {
                    r = r.header("Authorization", &format!("Bearer {t}"));
                }
                r.send_json(b.unwrap_or_else(|| json!({})))
            }
        }
        .map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let bytes = res
            .into_body()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, json, bytes))
    }
}

fn with_passports(body: Option<Value>, passports: &[String]) -> Value {
    let mut b = body.unwrap_or_else(|| json!({}));
    if let Some(o) = b.as_object_mut() {
        o.insert("passports".into(), json!(passports));
    }
    b
}

/// One step of the scenario: a request and what must come back.
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    auth: Auth,
    body: Option<Value>,
    status: u16,
    reason: Option<&'static str>,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: impl Into<String>,
    auth: &Auth,
    body: Option<Value>,
    status: u16,
    reason: Option<&'static str>,
) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        auth: auth.clone(),
        body,
        status,
        reason,
    }
}

/// Runs cases; every body is checked for the expected status and reason code, and never
/// contains a presented token.
fn run(http: &Http, cases: &[Case], attack_count: &mut usize) -> Res<Vec<Value>> {
    let mut out = Vec::new();
    for c in cases {
        let (status, body, raw) = http.call(c.method, &c.path, &c.auth, c.body.clone())?;
        assert_eq!(status, c.status, "{}: {body}", c.name);
        if let Some(reason) = c.reason {
            assert_eq!(body["reason"], reason, "{}: {body}", c.name);
        }
        if status >= 400 {
            *attack_count += 1;
            assert!(
                body["status"].as_u64() == Some(u64::from(status)),
                "{}: problem details expected: {body}",
                c.name
            );
            let text = String::from_utf8_lossy(&raw);
            let tokens: Vec<&String> = match &c.auth {
                Auth::Bearer(t) => vec![t],
                Auth::Body(p) => p.iter().collect(),
                Auth::Both(t, p) => std::iter::once(t).chain(p.iter()).collect(),
                Auth::None => vec![],
            };
            for t in tokens {
                let sig = t.rsplit('.').next().unwrap_or_default();
                assert!(
                    sig.len() < 8 || !text.contains(sig),
                    "{}: the response echoes a token",
                    c.name
                );
            }
        }
        out.push(body);
    }
    Ok(out)
}

fn unsigned(header: Value, payload: Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

fn participants_of(body: &Value) -> BTreeSet<String> {
    body["participants"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passports_approvals_consent_and_institutions_over_http() -> TestResult {
    let gw = TestGateway::start(12).await?;
    let base = gw.base_url.clone();
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);

    // A CONTROLLED dataset without geographic restriction, for the international consent scope.
    let mut intl = gw
        .store
        .get_dataset(&gemj_model::DatasetId::parse(JOINT)?)
        .await?
        .ok_or("joint")?;
    intl.id = gemj_model::DatasetId::parse(INTL)?;
    intl.data_use.modifiers.clear();
    intl.data_use.countries.clear();
    gw.store.put_dataset(&intl).await?;
    let members = gw
        .store
        .dataset_participants(&gemj_model::DatasetId::parse(JOINT)?)
        .await?;
    gw.store
        .add_dataset_participants(&intl.id, &members)
        .await?;
    let states = gw.store.all_consent_states().await?;

    let visa = |t: VisaType, value: &str| visas::visa(&broker, t, value, "dac", now);
    let status_visa = visa(VisaType::ResearcherStatus, visas::BONA_FIDE);
    let grant = |d: &str| visa(VisaType::ControlledAccessGrants, &format!("{PREFIX}{d}"));
    let passport = |sub: &str, visas: &[VisaObject]| broker.issue_passport(sub, visas, hour, now);
    let alice = passport("alice", &[status_visa.clone(), grant(JOINT), grant(CANCER)])?;
    let industry = passport("ind", &[status_visa.clone(), grant(JOINT), grant(CANCER)])?;
    let hans = passport("hans", &[status_visa.clone(), grant(INTL)])?;
    let registered = passport("reg", std::slice::from_ref(&status_visa))?;
    let no_grant = passport("nogrant", std::slice::from_ref(&status_visa))?;
    let mut conditional = grant(JOINT);
    conditional.conditions = Some(vec![vec![Condition::from_json(
        &json!({"type": "AffiliationAndRole", "value": "const:faculty@nowhere.example"}),
    )?]]);
    let cond = passport("cond", &[status_visa.clone(), conditional])?;
    // A grant visa issued to bob, slipped into mallory's passport.
    let bob_grant = broker.issue_visa("bob", &grant(JOINT), hour, now)?;
    let admin = passport(gemj_demo::broker::ADMINISTRATOR, &[])?;
    let expired = broker.issue_passport("alice", &[grant(JOINT)], hour, now - 7300)?;
    let future = broker.issue_passport("alice", &[grant(JOINT)], hour, now + 600)?;
    let many = broker.issue_passport("alice", &vec![status_visa.clone(); 257], hour, now)?;
    let mut big = status_visa.clone();
    big.value = format!("https://doi.org/{}", "x".repeat(17 * 1024));
    let oversized_visa = broker.issue_passport("alice", &[big], hour, now)?;
    let other_dir = tempfile::tempdir()?;
    let impostor = gemj_auth::LocalIssuer::load_or_create(other_dir.path(), broker.issuer())?
        .with_jwks_url(broker.jwks_url().to_owned());
    let impostor_token = impostor.issue_passport("alice", &[grant(JOINT)], hour, now)?;
    let stranger = gemj_auth::LocalIssuer::load_or_create(
        &other_dir.path().join("s"),
        "https://stranger.example",
    )?;
    let stranger_token = stranger.issue_passport("alice", &[grant(JOINT)], hour, now)?;
    let (head, sig) = alice.rsplit_once('.').ok_or("jwt")?;
    let forged = format!(
        "{head}.{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );
    let alg_none = unsigned(
        json!({"alg": "none", "typ": "vnd.ga4gh.passport+jwt"}),
        json!({"iss": broker.issuer(), "sub": "alice", "iat": now, "exp": now + 60, "ga4gh_passport_v1": []}),
    );
    let alg_hs256 = unsigned(
        json!({"alg": "HS256", "typ": "vnd.ga4gh.passport+jwt", "kid": broker.kid()}),
        json!({"iss": broker.issuer(), "sub": "alice", "iat": now, "exp": now + 60, "ga4gh_passport_v1": []}),
    );
    // mallory's passport (signed by the trusted broker) carrying a grant visa issued to bob.
    let mallory = broker.issue_passport_with_visas("mallory", vec![bob_grant], hour, now)?;
    let inst = |code: &str| -> Result<String, String> {
        let (_, b) = institutions
            .iter()
            .find(|(id, _)| id.as_str() == code)
            .ok_or("institution")?;
        b.issue_token("consent-system", &base, Duration::from_secs(300), now)
            .map_err(|e| e.to_string())
    };
    let hospital_a = inst(HOSPITAL_A)?;
    let hospital_b = inst(HOSPITAL_B)?;
    let (_, a_broker) = institutions
        .iter()
        .find(|(id, _)| id.as_str() == HOSPITAL_A)
        .ok_or("a")?;
    let a_wrong_aud = a_broker.issue_token(
        "consent-system",
        "https://elsewhere.example",
        Duration::from_secs(300),
        now,
    )?;
    let a_expired = a_broker.issue_token(
        "consent-system",
        &base,
        Duration::from_secs(300),
        now - 4000,
    )?;
    let a_impostor =
        gemj_auth::LocalIssuer::load_or_create(&other_dir.path().join("a"), a_broker.issuer())?
            .with_jwks_url(a_broker.jwks_url().to_owned())
            .issue_token("consent-system", &base, Duration::from_secs(300), now)?;

    // Participants, by institution and consent.
    let mut by_inst: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for p in gw.store.list_participants(None, 1000).await? {
        by_inst
            .entry(p.institution.to_string())
            .or_default()
            .push(p.id.to_string());
    }
    let state = |p: &str| states.iter().find(|s| s.participant.as_str() == p).cloned();
    let withdrawn: Vec<String> = states
        .iter()
        .filter(|s| s.status == gemj_model::ConsentStatus::Withdrawn)
        .map(|s| s.participant.to_string())
        .collect();
    assert_eq!(withdrawn.len(), 1, "the demo has one withdrawn participant");
    let a_participant = by_inst[HOSPITAL_A]
        .iter()
        .find(|p| state(p).is_some_and(|s| s.permits_research()))
        .ok_or("an A participant")?
        .clone();
    let b_participant = by_inst[HOSPITAL_B][0].clone();

    let mut attacks = 0usize;
    let approval = |id: &str,
                    sub: &str,
                    datasets: &[&str],
                    purpose: &[&str],
                    diseases: &[&str],
                    for_profit: bool,
                    country: &str| {
        json!({
            "id": id, "researcher_issuer": broker.issuer(), "researcher_subject": sub,
            "institution": "Synthetic University", "project": "P1", "purpose": purpose,
            "diseases": diseases, "for_profit": for_profit, "country": country, "datasets": datasets,
            "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z", "status": "active"
        })
    };
    let b = |t: &String| Auth::Bearer(t.clone());
    let none = Auth::None;
    let parts = |d: &str| format!("/catalogue/v1/datasets/{d}/participants");

    let http = Http { base: base.clone() };
    {
        // 1. Approvals: only administrators; then the committee records them.
        run(
            &http,
            &[
                case(
                    "anonymous posts an approval",
                    "POST",
                    "/admin/v1/approvals",
                    &none,
                    Some(approval(
                        "APR-A",
                        "alice",
                        &[JOINT],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    401,
                    Some("anonymous_not_permitted"),
                ),
                case(
                    "a researcher posts an approval",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&alice),
                    Some(approval(
                        "APR-A",
                        "alice",
                        &[JOINT],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    403,
                    Some("not_administrator"),
                ),
                case(
                    "an institution token on the admin API",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&hospital_a),
                    Some(approval(
                        "APR-A",
                        "alice",
                        &[JOINT],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    401,
                    Some("wrong_typ"),
                ),
                case(
                    "an approval with an unknown dataset",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-X",
                        "alice",
                        &["NOPE"],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    400,
                    None,
                ),
                case(
                    "an approval with a bad country",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-X",
                        "alice",
                        &[JOINT],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "Japan",
                    )),
                    400,
                    None,
                ),
                case(
                    "alice joint",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-A",
                        "alice",
                        &[JOINT],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    201,
                    None,
                ),
                case(
                    "alice cancer",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-AC",
                        "alice",
                        &[CANCER],
                        &["DUO:0000007", "DUO:0000021"],
                        &["MONDO:0004992"],
                        false,
                        "JP",
                    )),
                    201,
                    None,
                ),
                case(
                    "industry joint and cancer",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-I",
                        "ind",
                        &[JOINT, CANCER],
                        &["DUO:0000006"],
                        &[],
                        true,
                        "JP",
                    )),
                    201,
                    None,
                ),
                case(
                    "hans abroad",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-H",
                        "hans",
                        &[INTL],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "DE",
                    )),
                    201,
                    None,
                ),
                case(
                    "nogrant",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-N",
                        "nogrant",
                        &[JOINT],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    201,
                    None,
                ),
                case(
                    "cond",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-C",
                        "cond",
                        &[JOINT],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    201,
                    None,
                ),
                case(
                    "the same approval again",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-A",
                        "alice",
                        &[JOINT],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    201,
                    None,
                ),
                case(
                    "another approval under a used id",
                    "POST",
                    "/admin/v1/approvals",
                    &b(&admin),
                    Some(approval(
                        "APR-A",
                        "alice",
                        &[CANCER],
                        &["DUO:0000006"],
                        &[],
                        false,
                        "JP",
                    )),
                    409,
                    None,
                ),
            ],
            &mut attacks,
        )?;

        // 2. Credentials that must not verify: 401 with the reason, never the token.
        let url = parts(JOINT);
        run(
            &http,
            &[
                case(
                    "no credential",
                    "GET",
                    &url,
                    &none,
                    None,
                    401,
                    Some("anonymous_not_permitted"),
                ),
                case(
                    "forged signature",
                    "GET",
                    &url,
                    &b(&forged),
                    None,
                    401,
                    Some("bad_signature"),
                ),
                case(
                    "alg none",
                    "GET",
                    &url,
                    &b(&alg_none),
                    None,
                    401,
                    Some("alg_not_allowed"),
                ),
                case(
                    "algorithm confusion (HS256 with the public key)",
                    "GET",
                    &url,
                    &b(&alg_hs256),
                    None,
                    401,
                    Some("alg_not_allowed"),
                ),
                case(
                    "same issuer, unknown key",
                    "GET",
                    &url,
                    &b(&impostor_token),
                    None,
                    401,
                    Some("unknown_kid"),
                ),
                case(
                    "untrusted issuer",
                    "GET",
                    &url,
                    &b(&stranger_token),
                    None,
                    401,
                    Some("untrusted_issuer"),
                ),
                case(
                    "expired passport",
                    "GET",
                    &url,
                    &b(&expired),
                    None,
                    401,
                    Some("expired"),
                ),
                case(
                    "passport issued in the future",
                    "GET",
                    &url,
                    &b(&future),
                    None,
                    401,
                    Some("issued_in_future"),
                ),
                case(
                    "not a JWT",
                    "GET",
                    &url,
                    &b(&"not-a-jwt".to_owned()),
                    None,
                    401,
                    Some("malformed_token"),
                ),
                case(
                    "257 visas (body passports)",
                    "POST",
                    "/catalogue/v1/objects/x/url",
                    &Auth::Body(vec![many.clone()]),
                    None,
                    401,
                    Some("too_many_visas"),
                ),
                // The oversized visa is ignored alone: the passport verifies, and the object
                // that does not exist is a 404, as for any verified caller.
                case(
                    "a visa over 16 KiB",
                    "POST",
                    "/catalogue/v1/objects/x/url",
                    &Auth::Body(vec![oversized_visa.clone()]),
                    None,
                    404,
                    None,
                ),
                case(
                    "body passports of two subjects",
                    "POST",
                    "/catalogue/v1/objects/x/url",
                    &Auth::Body(vec![alice.clone(), registered.clone()]),
                    None,
                    401,
                    Some("mixed_subjects"),
                ),
                case(
                    "credentials in header and body",
                    "POST",
                    "/catalogue/v1/objects/x/url",
                    &Auth::Both(alice.clone(), vec![alice.clone()]),
                    None,
                    400,
                    None,
                ),
            ],
            &mut attacks,
        )?;

        // 3. Valid credentials without permission: 403 with the reason, or 404 where
        // existence must not be told.
        let denied = run(
            &http,
            &[
                case(
                    "registered only, CONTROLLED data",
                    "GET",
                    &url,
                    &b(&registered),
                    None,
                    403,
                    Some("no_grant_visa"),
                ),
                case(
                    "approval but no grant visa",
                    "GET",
                    &url,
                    &b(&no_grant),
                    None,
                    403,
                    Some("no_grant_visa"),
                ),
                case(
                    "grant visa with unmet conditions",
                    "GET",
                    &url,
                    &b(&cond),
                    None,
                    403,
                    Some("no_grant_visa"),
                ),
                case(
                    "another subject's visa",
                    "GET",
                    &url,
                    &b(&mallory),
                    None,
                    403,
                    Some("no_grant_visa"),
                ),
                case(
                    "grant visa without approval",
                    "GET",
                    parts(CANCER),
                    &b(&hans),
                    None,
                    403,
                    Some("no_grant_visa"),
                ),
                case(
                    "industry use of a non-commercial dataset (NCU)",
                    "GET",
                    parts(CANCER),
                    &b(&industry),
                    None,
                    403,
                    Some("duo_denied"),
                ),
                case(
                    "an institution token on researcher data",
                    "GET",
                    &url,
                    &b(&hospital_a),
                    None,
                    401,
                    Some("wrong_typ"),
                ),
            ],
            &mut attacks,
        )?;
        let ncu = &denied[5]["explanation"];
        assert_eq!(ncu["outcome"], "DENY", "{ncu}");
        assert!(
            ncu["terms"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["term"] == "DUO:0000046"
                    && t["outcome"] == "DENY"
                    && t["reason_ja"].as_str().is_some_and(|r| !r.is_empty()))),
            "{ncu}"
        );

        // 4. Consent scopes inside permitted datasets.
        let ok = run(
            &http,
            &[
                case(
                    "alice reads joint participants",
                    "GET",
                    &url,
                    &b(&alice),
                    None,
                    200,
                    None,
                ),
                case(
                    "industry reads joint participants",
                    "GET",
                    &url,
                    &b(&industry),
                    None,
                    200,
                    None,
                ),
                case(
                    "hans (processing in Germany) reads participants",
                    "GET",
                    parts(INTL),
                    &b(&hans),
                    None,
                    200,
                    None,
                ),
                case(
                    "alice reads cancer participants (DS, IRB)",
                    "GET",
                    parts(CANCER),
                    &b(&alice),
                    None,
                    200,
                    None,
                ),
            ],
            &mut attacks,
        )?;
        let alice_joint = participants_of(&ok[0]);
        let researchable: BTreeSet<String> = members
            .iter()
            .map(ToString::to_string)
            .filter(|p| state(p).is_some_and(|s| s.permits_research()))
            .collect();
        assert_eq!(
            alice_joint, researchable,
            "academic use in Japan: everyone with consent in force"
        );
        assert!(
            withdrawn.iter().all(|w| !alice_joint.contains(w)),
            "a withdrawn participant is listed"
        );
        let industry_ok: BTreeSet<String> = researchable
            .iter()
            .filter(|p| state(p).is_some_and(|s| s.scopes.third_party_industry))
            .cloned()
            .collect();
        assert_eq!(participants_of(&ok[1]), industry_ok);
        assert!(
            industry_ok.len() < researchable.len(),
            "the demo has participants who refused industry"
        );
        let intl_ok: BTreeSet<String> = researchable
            .iter()
            .filter(|p| state(p).is_some_and(|s| s.scopes.international_transfer))
            .cloned()
            .collect();
        assert_eq!(participants_of(&ok[2]), intl_ok);
        assert!(
            intl_ok.len() < researchable.len(),
            "the demo has participants who refused international transfer"
        );

        // 5. Institutions: their own participants only.
        let event = |id: &str, participant: &str, institution: &str, kind: Value| {
            let mut e = json!({"event_id": id, "participant": participant, "institution": institution, "effective_at": "2026-01-01T00:00:00Z"});
            if let (Some(o), Some(k)) = (e.as_object_mut(), kind.as_object()) {
                o.extend(k.clone());
            }
            e
        };
        let change = json!({"kind": "change_of_intention", "scopes": {"research_use": true, "third_party_academia": true, "third_party_industry": false, "international_transfer": false, "recontact": {"allowed": true}, "return_of_secondary_findings": true}});
        run(
            &http,
            &[
                case(
                    "hospital A reads its participant's consent",
                    "GET",
                    format!("/consent/v1/participants/{a_participant}"),
                    &b(&hospital_a),
                    None,
                    200,
                    None,
                ),
                case(
                    "hospital A reads hospital B's participant",
                    "GET",
                    format!("/consent/v1/participants/{b_participant}"),
                    &b(&hospital_a),
                    None,
                    404,
                    None,
                ),
                case(
                    "hospital A reads an unknown participant",
                    "GET",
                    "/consent/v1/participants/GEMJ-DEMO-9999",
                    &b(&hospital_a),
                    None,
                    404,
                    None,
                ),
                case(
                    "hospital A posts for B's participant",
                    "POST",
                    "/consent/v1/events",
                    &b(&hospital_a),
                    Some(event("e-x", &b_participant, HOSPITAL_A, change.clone())),
                    404,
                    None,
                ),
                case(
                    "hospital A posts in B's name",
                    "POST",
                    "/consent/v1/events",
                    &b(&hospital_a),
                    Some(event("e-x", &b_participant, HOSPITAL_B, change.clone())),
                    400,
                    None,
                ),
                case(
                    "a researcher posts consent",
                    "POST",
                    "/consent/v1/events",
                    &b(&alice),
                    Some(event("e-x", &a_participant, HOSPITAL_A, change.clone())),
                    403,
                    Some("institution_credential_required"),
                ),
                case(
                    "anonymous posts consent",
                    "POST",
                    "/consent/v1/events",
                    &none,
                    Some(event("e-x", &a_participant, HOSPITAL_A, change.clone())),
                    401,
                    Some("anonymous_not_permitted"),
                ),
                case(
                    "institution token from an unknown key",
                    "GET",
                    format!("/consent/v1/participants/{a_participant}"),
                    &b(&a_impostor),
                    None,
                    401,
                    Some("unknown_kid"),
                ),
                case(
                    "institution token for another audience",
                    "GET",
                    format!("/consent/v1/participants/{a_participant}"),
                    &b(&a_wrong_aud),
                    None,
                    401,
                    Some("wrong_audience"),
                ),
                case(
                    "expired institution token",
                    "GET",
                    format!("/consent/v1/participants/{a_participant}"),
                    &b(&a_expired),
                    None,
                    401,
                    Some("expired"),
                ),
                case(
                    "an event with an unknown field",
                    "POST",
                    "/consent/v1/events",
                    &b(&hospital_a),
                    Some(event(
                        "e-y",
                        &a_participant,
                        HOSPITAL_A,
                        json!({"kind": "death_reported", "cause": "x"}),
                    )),
                    400,
                    None,
                ),
                case(
                    "hospital A reads B's inbox",
                    "GET",
                    format!("/recontact/v1/institutions/{HOSPITAL_B}/inbox"),
                    &b(&hospital_a),
                    None,
                    404,
                    None,
                ),
                case(
                    "hospital A reads the audit of B's participant",
                    "GET",
                    format!("/audit/v1/participants/{b_participant}"),
                    &b(&hospital_a),
                    None,
                    404,
                    None,
                ),
                case(
                    "a researcher reads a participant's audit",
                    "GET",
                    format!("/audit/v1/participants/{a_participant}"),
                    &b(&alice),
                    None,
                    403,
                    Some("institution_credential_required"),
                ),
                case(
                    "hospital A changes its participant's intention",
                    "POST",
                    "/consent/v1/events",
                    &b(&hospital_a),
                    Some(event("e-1", &a_participant, HOSPITAL_A, change.clone())),
                    201,
                    None,
                ),
                case(
                    "the same event again",
                    "POST",
                    "/consent/v1/events",
                    &b(&hospital_a),
                    Some(event("e-1", &a_participant, HOSPITAL_A, change.clone())),
                    200,
                    None,
                ),
                case(
                    "the same event id, other contents",
                    "POST",
                    "/consent/v1/events",
                    &b(&hospital_a),
                    Some(event(
                        "e-1",
                        &a_participant,
                        HOSPITAL_A,
                        json!({"kind": "death_reported"}),
                    )),
                    409,
                    None,
                ),
            ],
            &mut attacks,
        )?;
        let (_, after_change, _) =
            http.call("GET", &parts(JOINT), &Auth::Bearer(industry.clone()), None)?;
        assert!(
            !participants_of(&after_change).contains(&a_participant),
            "industry still served a participant who just refused industry"
        );
        // A partial withdrawal that stops provision to third parties: no researcher is served
        // that participant any more, academic or not.
        let partial = alice_joint
            .iter()
            .find(|p| by_inst[HOSPITAL_A].contains(*p) && **p != a_participant)
            .ok_or("a second participant of hospital A")?
            .clone();
        run(
            &http,
            &[case(
                "hospital A records a partial withdrawal (stop third-party provision)",
                "POST",
                "/consent/v1/events",
                &b(&hospital_a),
                Some(event(
                    "e-p1",
                    &partial,
                    HOSPITAL_A,
                    json!({"kind": "withdrawal", "level": "stop_third_party_provision"}),
                )),
                201,
                None,
            )],
            &mut attacks,
        )?;
        let (_, after_partial, _) =
            http.call("GET", &parts(JOINT), &Auth::Bearer(alice.clone()), None)?;
        assert!(
            !participants_of(&after_partial).contains(&partial),
            "an academic researcher is still served a participant who stopped third-party provision"
        );

        // 5b. Recontact: only participants whose consent allows it, through their
        // institutions, never telling the researcher who.
        let hospital_c = inst("9999000003")?;
        let after_change = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(gw.store.all_consent_states())
        })?;
        let eligible = |p: &str| {
            after_change.iter().any(|s| {
                s.participant.as_str() == p
                    && s.permits_research()
                    && s.permits_recontact()
                    && s.scopes.third_party_academia
            })
        };
        let rounded = |n: usize| {
            if n < 5 {
                json!("<5")
            } else {
                json!((n + 2) / 5 * 5)
            }
        };
        // First, the industry researcher asks for the carriers of the joint set's most carried
        // allele: only carriers who allowed industry and recontact are kept.
        let joint_id = gemj_model::DatasetId::parse(JOINT)?;
        let (carried, carriers) = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let mut best: Option<gemj_store::VariantRow> = None;
                for chrom in ["chr20", "chr21", "chr22"] {
                    for row in gw
                        .store
                        .variants_in_range(&joint_id, chrom, 1, u32::MAX, 100_000)
                        .await?
                    {
                        if best
                            .as_ref()
                            .is_none_or(|b| row.carrier_count > b.carrier_count)
                        {
                            best = Some(row);
                        }
                    }
                }
                let best = best.ok_or("no variant in the joint set")?;
                let ordinals: Vec<u32> = best.carriers.iter().collect();
                let carriers = gw.store.participants_by_ordinals(&ordinals).await?;
                Ok::<_, Box<dyn std::error::Error>>((best.key, carriers))
            })
        })?;
        let kept_by_industry: BTreeSet<String> = carriers
            .iter()
            .map(ToString::to_string)
            .filter(|p| {
                eligible(p)
                    && after_change
                        .iter()
                        .any(|s| s.participant.as_str() == p && s.scopes.third_party_industry)
            })
            .collect();
        assert!(
            carriers.len() > kept_by_industry.len(),
            "some carriers are filtered out"
        );
        let by_carriers = run(
            &http,
            &[case(
                "industry asks for the carriers of a variant",
                "POST",
                "/recontact/v1/requests",
                &b(&industry),
                Some(
                    json!({"dataset": JOINT, "kind": "research_invitation", "reason": "Carriers study.", "select": {"carriers": carried}}),
                ),
                201,
                None,
            )],
            &mut attacks,
        )?;
        assert_eq!(
            by_carriers[0]["asked"],
            rounded(kept_by_industry.len()),
            "{}",
            by_carriers[0]
        );
        let carriers_request = by_carriers[0]["id"]
            .as_str()
            .ok_or("request id")?
            .to_owned();
        let mut named: Vec<String> = members.iter().map(ToString::to_string).collect();
        named.push("GEMJ-DEMO-9999".to_owned());
        let ask = json!({"dataset": JOINT, "kind": "research_invitation", "reason": "A synthetic follow-up study.", "select": {"participants": named}});
        let created = run(
            &http,
            &[
                case(
                    "anonymous asks for recontact",
                    "POST",
                    "/recontact/v1/requests",
                    &none,
                    Some(ask.clone()),
                    401,
                    Some("anonymous_not_permitted"),
                ),
                case(
                    "recontact without an approval",
                    "POST",
                    "/recontact/v1/requests",
                    &b(&registered),
                    Some(ask.clone()),
                    403,
                    Some("no_grant_visa"),
                ),
                case(
                    "recontact with an empty reason",
                    "POST",
                    "/recontact/v1/requests",
                    &b(&alice),
                    Some(
                        json!({"dataset": JOINT, "kind": "research_invitation", "reason": " ", "select": {"participants": ["x"]}}),
                    ),
                    400,
                    None,
                ),
                case(
                    "alice asks for recontact (passports in the body)",
                    "POST",
                    "/recontact/v1/requests",
                    &Auth::Body(vec![alice.clone()]),
                    Some(ask.clone()),
                    201,
                    None,
                ),
                case(
                    "the same participants again within 12 months",
                    "POST",
                    "/recontact/v1/requests",
                    &b(&alice),
                    Some(ask.clone()),
                    201,
                    None,
                ),
            ],
            &mut attacks,
        )?;
        // Alice's request keeps everyone eligible except those the carriers request just asked
        // (at most once in 12 months).
        let expected: BTreeSet<String> = named
            .iter()
            .filter(|p| eligible(p) && !kept_by_industry.contains(*p))
            .cloned()
            .collect();
        assert!(
            expected.len() + 3 <= members.len(),
            "withdrawn, deceased and refusing participants are dropped"
        );
        assert_eq!(
            created[3]["asked"],
            rounded(expected.len()),
            "{}",
            created[3]
        );
        assert_eq!(
            created[4]["asked"], "<5",
            "asked again too soon: {}",
            created[4]
        );
        assert!(
            !created[3].to_string().contains("GEMJ-DEMO-0"),
            "the researcher learns participant ids: {}",
            created[3]
        );
        let request_id = created[3]["id"].as_str().ok_or("request id")?.to_owned();
        let mut in_inboxes = BTreeSet::new();
        let mut carriers_in_inboxes = BTreeSet::new();
        let mut a_entry = None;
        for (code, token) in [
            (HOSPITAL_A, &hospital_a),
            (HOSPITAL_B, &hospital_b),
            ("9999000003", &hospital_c),
        ] {
            let (status, inbox, _) = http.call(
                "GET",
                &format!("/recontact/v1/institutions/{code}/inbox"),
                &Auth::Bearer(token.clone()),
                None,
            )?;
            assert_eq!(status, 200, "{inbox}");
            for e in inbox["entries"].as_array().cloned().unwrap_or_default() {
                let p = e["participant"].as_str().ok_or("participant")?.to_owned();
                assert!(
                    by_inst[code].contains(&p),
                    "{code}'s inbox holds another institution's participant"
                );
                if e["request"] == carriers_request.as_str() {
                    carriers_in_inboxes.insert(p);
                    continue;
                }
                assert_eq!(e["request"], request_id.as_str());
                if code == HOSPITAL_A {
                    a_entry.get_or_insert(p.clone());
                }
                in_inboxes.insert(p);
            }
        }
        assert_eq!(
            in_inboxes, expected,
            "the inboxes hold exactly the participants whose consent allows recontact"
        );
        assert_eq!(
            carriers_in_inboxes, kept_by_industry,
            "the carriers request reached exactly the consenting carriers"
        );
        let a_entry = a_entry.ok_or("hospital A has a participant to recontact")?;
        let b_entry = in_inboxes
            .iter()
            .chain(&carriers_in_inboxes)
            .find(|p| by_inst[HOSPITAL_B].contains(p))
            .ok_or("a participant of hospital B in an inbox")?
            .clone();
        let status_path = format!("/recontact/v1/requests/{request_id}");
        let statuses = run(
            &http,
            &[
                case(
                    "hospital A reports an outcome",
                    "POST",
                    format!("/recontact/v1/institutions/{HOSPITAL_A}/outcomes"),
                    &b(&hospital_a),
                    Some(
                        json!({"outcomes": [{"request": request_id, "participant": a_entry, "status": "agreed"}]}),
                    ),
                    200,
                    None,
                ),
                case(
                    "hospital A reports for B's participant",
                    "POST",
                    format!("/recontact/v1/institutions/{HOSPITAL_A}/outcomes"),
                    &b(&hospital_a),
                    Some(
                        json!({"outcomes": [{"request": request_id, "participant": b_entry, "status": "agreed"}]}),
                    ),
                    400,
                    None,
                ),
                case(
                    "hospital A reports in B's name",
                    "POST",
                    format!("/recontact/v1/institutions/{HOSPITAL_B}/outcomes"),
                    &b(&hospital_a),
                    Some(
                        json!({"outcomes": [{"request": request_id, "participant": b_entry, "status": "agreed"}]}),
                    ),
                    404,
                    None,
                ),
                case(
                    "pending is not an outcome",
                    "POST",
                    format!("/recontact/v1/institutions/{HOSPITAL_A}/outcomes"),
                    &b(&hospital_a),
                    Some(
                        json!({"outcomes": [{"request": request_id, "participant": a_entry, "status": "pending"}]}),
                    ),
                    400,
                    None,
                ),
                case(
                    "alice reads her request's status",
                    "GET",
                    &status_path,
                    &b(&alice),
                    None,
                    200,
                    None,
                ),
                case(
                    "another researcher reads alice's request",
                    "GET",
                    &status_path,
                    &b(&industry),
                    None,
                    404,
                    None,
                ),
            ],
            &mut attacks,
        )?;
        assert_eq!(statuses[4]["status"]["agreed"], "<5", "{}", statuses[4]);
        assert_eq!(statuses[4]["asked"], rounded(expected.len()));
    }

    // 6. Signed data URLs and withdrawal.
    let victim = {
        let cancer_members = gw
            .store
            .dataset_participants(&gemj_model::DatasetId::parse(CANCER)?)
            .await?;
        cancer_members
            .into_iter()
            .find(|p| {
                states
                    .iter()
                    .any(|s| s.participant == *p && s.permits_research())
                    && by_inst[HOSPITAL_A].contains(&p.to_string())
                    && p.as_str() != a_participant
            })
            .ok_or("a consenting cancer participant of hospital A")?
    };
    let objects = gw.store.objects_of_participant(&victim).await?;
    let bam = objects
        .iter()
        .find(|o| o.name.ends_with(".bam"))
        .ok_or("a BAM")?
        .clone();
    let bam_bytes = std::fs::read(gw.local_file(&bam.storage_uri).await?)?;
    let victim_id = victim.to_string();
    let bam_id = bam.id.to_string();
    let hospital_a2 = inst(HOSPITAL_A)?;
    let alice2 = alice.clone();
    let admin2 = admin.clone();
    let registered2 = registered.clone();
    {
        let url_path = format!("/catalogue/v1/objects/{bam_id}/url");
        let issued = run(
            &http,
            &[
                case(
                    "alice gets a data URL (header)",
                    "GET",
                    &url_path,
                    &Auth::Bearer(alice2.clone()),
                    None,
                    200,
                    None,
                ),
                case(
                    "alice gets a ranged data URL (body passports)",
                    "POST",
                    &url_path,
                    &Auth::Body(vec![alice2.clone()]),
                    Some(json!({"start": 0, "end": 100})),
                    200,
                    None,
                ),
                case(
                    "a registered researcher asks for a CONTROLLED object",
                    "GET",
                    &url_path,
                    &Auth::Bearer(registered2.clone()),
                    None,
                    404,
                    None,
                ),
                case(
                    "an unknown object",
                    "GET",
                    "/catalogue/v1/objects/NOPE/url",
                    &Auth::Bearer(alice2.clone()),
                    None,
                    404,
                    None,
                ),
                case(
                    "anonymous asks for a CONTROLLED object",
                    "GET",
                    &url_path,
                    &Auth::None,
                    None,
                    401,
                    None,
                ),
            ],
            &mut attacks,
        )?;
        let url = issued[0]["url"].as_str().ok_or("url")?.to_owned();
        let ranged = issued[1]["url"].as_str().ok_or("url")?.to_owned();
        let (status, _, bytes) = http.call("GET", &url, &Auth::None, None)?;
        assert_eq!((status, bytes.len()), (200, bam_bytes.len()));
        assert!(bytes == bam_bytes, "the served bytes are the stored file");
        let (status, _, bytes) = http.call("GET", &ranged, &Auth::None, None)?;
        assert_eq!((status, bytes.as_slice()), (200, &bam_bytes[..100]));
        let token = url.split("token=").nth(1).ok_or("token")?.to_owned();
        let (body, tag) = token.split_once('.').ok_or("token")?;
        let other_object = url.replace(&bam_id, "GEMJ-DEMO-OTHER");
        let tampered = format!("{}x.{tag}", &body[..body.len() - 1]);
        run(
            &http,
            &[
                case(
                    "the URL on another object",
                    "GET",
                    &other_object,
                    &Auth::None,
                    None,
                    403,
                    Some("signed_url_invalid"),
                ),
                case(
                    "an altered token",
                    "GET",
                    format!("/data/v1/objects/{bam_id}?token={tampered}"),
                    &Auth::None,
                    None,
                    403,
                    Some("signed_url_invalid"),
                ),
            ],
            &mut attacks,
        )?;

        // The hospital withdraws the participant: enforced before its POST returns.
        let withdrawal = json!({"event_id": "w-1", "participant": victim_id, "institution": HOSPITAL_A, "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"});
        let posted = run(
            &http,
            &[case(
                "hospital A withdraws the participant",
                "POST",
                "/consent/v1/events",
                &Auth::Bearer(hospital_a2.clone()),
                Some(withdrawal),
                201,
                None,
            )],
            &mut attacks,
        )?;
        assert_eq!(posted[0]["state"]["status"], "withdrawn");
        run(
            &http,
            &[
                case(
                    "replay of a data URL signed before the withdrawal",
                    "GET",
                    &url,
                    &Auth::None,
                    None,
                    404,
                    None,
                ),
                case(
                    "a new URL for the withdrawn participant's file",
                    "GET",
                    &url_path,
                    &Auth::Bearer(alice2.clone()),
                    None,
                    404,
                    None,
                ),
            ],
            &mut attacks,
        )?;
        let (_, listed, _) =
            http.call("GET", &parts(CANCER), &Auth::Bearer(alice2.clone()), None)?;
        assert!(
            !participants_of(&listed).contains(&victim_id),
            "a withdrawn participant is listed"
        );

        // Revoking an approval denies at once, also for URLs already handed out.
        let (_, fresh, _) = http.call("GET", &parts(JOINT), &Auth::Bearer(alice2.clone()), None)?;
        assert!(fresh["participants"].is_array());
        run(
            &http,
            &[
                case(
                    "suspend alice's cancer approval",
                    "PUT",
                    "/admin/v1/approvals/APR-AC/status",
                    &Auth::Bearer(admin2.clone()),
                    Some(json!({"status": "suspended"})),
                    200,
                    None,
                ),
                case(
                    "suspended approval",
                    "GET",
                    parts(CANCER),
                    &Auth::Bearer(alice2.clone()),
                    None,
                    403,
                    Some("approval_suspended"),
                ),
                case(
                    "reactivate it",
                    "PUT",
                    "/admin/v1/approvals/APR-AC/status",
                    &Auth::Bearer(admin2.clone()),
                    Some(json!({"status": "active"})),
                    200,
                    None,
                ),
                case(
                    "revoke alice's joint approval",
                    "PUT",
                    "/admin/v1/approvals/APR-A/status",
                    &Auth::Bearer(admin2.clone()),
                    Some(json!({"status": "revoked"})),
                    200,
                    None,
                ),
                case(
                    "revoked approval while the visa is valid",
                    "GET",
                    parts(JOINT),
                    &Auth::Bearer(alice2.clone()),
                    None,
                    403,
                    Some("approval_revoked"),
                ),
                case(
                    "a revoked approval cannot be reactivated",
                    "PUT",
                    "/admin/v1/approvals/APR-A/status",
                    &Auth::Bearer(admin2.clone()),
                    Some(json!({"status": "active"})),
                    409,
                    None,
                ),
                case(
                    "a researcher changes an approval",
                    "PUT",
                    "/admin/v1/approvals/APR-AC/status",
                    &Auth::Bearer(alice2.clone()),
                    Some(json!({"status": "active"})),
                    403,
                    Some("not_administrator"),
                ),
            ],
            &mut attacks,
        )?;
    }

    // The institution sees who accessed its participant; the audit holds hashes, not tokens.
    let hospital_a3 = inst(HOSPITAL_A)?;
    let victim_id = victim.to_string();
    let history = http.call(
        "GET",
        &format!("/audit/v1/participants/{victim_id}"),
        &Auth::Bearer(hospital_a3),
        None,
    )?;
    assert_eq!(history.0, 200, "{}", history.1);
    let records = history.1["records"].as_array().cloned().unwrap_or_default();
    let alice_name = format!("{}#alice", broker.issuer());
    assert!(
        records.iter().any(|r| r["principal"] == alice_name.as_str()
            && r["decision"] == "permit"
            && r["approval"] == "APR-AC"),
        "{records:?}"
    );
    let fetches: Vec<&Value> = records
        .iter()
        .filter(|r| r["principal"] == alice_name.as_str() && r["api"] == "data")
        .collect();
    assert!(
        fetches.iter().any(|r| r["records_returned"] == 1)
            && fetches
                .last()
                .is_some_and(|r| r["records_returned"] == 0 && r["records_filtered"] == 1),
        "the institution sees the fetches, and that the replay after withdrawal served nothing: {fetches:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["principal"] == alice_name.as_str() && r["api"] == "data"),
        "the data fetch is in the participant's history"
    );
    let all = serde_json::to_string(&gw.store.audit_records(0, 100_000).await?)?;
    for t in [&alice, &industry, &hospital_a, &admin] {
        let sig = t.rsplit('.').next().unwrap_or_default();
        assert!(!all.contains(sig), "an audit record contains token bytes");
    }
    let report = gw.store.verify_chains().await?;
    assert!(report.broken.is_none(), "{report:?}");
    eprintln!("{attacks} attack cases over HTTP");
    assert!(attacks >= 30, "only {attacks} attack cases");
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_consent_view_answers_503_with_retry_after() -> TestResult {
    let gw = TestGateway::start_stale(4).await?;
    let researcher =
        visas::registered_passport(&gw.demo_broker()?, "alice", gemj_auth::now_unix())?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let path = "/catalogue/v1/datasets/GEMJ-DEMO-RD-REG/participants";
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let res = tokio::task::block_in_place(|| {
        agent
            .get(&format!("{}{path}", http.base))
            .header("Authorization", &format!("Bearer {researcher}"))
            .call()
    })?;
    assert_eq!(res.status().as_u16(), 503);
    let retry = res
        .headers()
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(retry.as_deref(), Some("5"));
    let body: Value = serde_json::from_reader(res.into_body().into_reader())?;
    assert_eq!(body["reason"], "consent_view_stale", "{body}");
    // Metadata does not depend on consent: still served.
    let (status, _, _) = http.call(
        "GET",
        "/catalogue/v1/datasets/GEMJ-DEMO-RD-REG",
        &Auth::Bearer(researcher.clone()),
        None,
    )?;
    assert_eq!(status, 200);
    // The refused request is audited too: permitted by policy, nothing served.
    let records = gw.store.audit_records(0, 10_000).await?;
    assert!(
        records
            .iter()
            .any(|r| r.event.endpoint.ends_with("/participants")
                && r.event.decision == gemj_model::AccessDecision::Permit
                && r.event.records_returned == Some(0))
    );
    gw.stop().await;
    Ok(())
}

/// A broker's userinfo endpoint on loopback: `Bearer opaque-good` gets `sub` victor and the visas
/// in `visas`; anything else 401. Counts the requests.
async fn mock_userinfo(
    visas: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> anyhow::Result<String> {
    gemj_e2e::serve_json(move |head| {
        hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let good = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("authorization: Bearer opaque-good"));
        if good {
            let list = visas.lock().map(|v| v.clone()).unwrap_or_default();
            (
                "200 OK",
                json!({"sub": "victor", "ga4gh_passport_v1": list}).to_string(),
            )
        } else {
            (
                "401 Unauthorized",
                r#"{"error":"invalid_token"}"#.to_owned(),
            )
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_access_tokens_the_passport_v1_0_flow() -> TestResult {
    let visas = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let userinfo = format!(
        "{}/userinfo",
        mock_userinfo(visas.clone(), hits.clone()).await?
    );
    // The gateway's own address is fixed up front: the demo broker's issuer contains it, and
    // the broker configuration names that issuer.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let issuer = gemj_demo::broker::issuer(&base);
    let gw = TestGateway::start_with(4, |c| {
        c.listen = format!("127.0.0.1:{port}");
        c.auth.brokers = vec![gemj_server::config::BrokerConfig {
            issuer: issuer.clone(),
            userinfo_url: userinfo.clone(),
            token_url: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            token_exchange: false,
        }];
    })
    .await?;
    assert_eq!(gw.base_url, base);
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let status_visa = visas::researcher_status(&broker, "so", now);
    let visa = broker.issue_visa("victor", &status_visa, Duration::from_secs(3600), now)?;
    visas.lock().map_err(|_| "poisoned")?.push(visa);
    let http = Http { base };
    let good = Auth::Bearer("opaque-good".to_owned());
    let (status, body, _) = http.call("GET", "/catalogue/v1/datasets", &good, None)?;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["datasets"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        ids.contains(&"GEMJ-DEMO-RD-REG"),
        "a ResearcherStatus visa from userinfo opens REGISTERED: {ids:?}"
    );
    let (status, _, _) = http.call("GET", "/catalogue/v1/datasets", &good, None)?;
    assert_eq!(status, 200);
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the second request is answered from the cache"
    );
    let (status, body, _) = http.call(
        "GET",
        "/catalogue/v1/datasets",
        &Auth::Bearer("opaque-bad".to_owned()),
        None,
    )?;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("broker_rejected")),
        "{body}"
    );
    let (status, body, _) = http.call("GET", "/audit/v1/me", &good, None)?;
    assert_eq!(status, 200, "{body}");
    let records = gw.store.audit_records(0, 10_000).await?;
    assert!(
        records
            .iter()
            .any(|r| r.event.principal == format!("{issuer}#victor"))
    );
    gw.stop().await;
    Ok(())
}

/// Issue 21, the audit archive: months sealed into segments leave the database, and the
/// institution's access report for a participant still lists them, read back from their
/// segments (in order, paged); the chains verify, segments included; a segment altered in the
/// archive is found, and the report then refuses to answer rather than answer wrongly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_audit_months_still_answer_the_participant_report() -> TestResult {
    use gemj_core::audit_archive::AuditArchive;
    let gw = TestGateway::start(6).await?;
    let base = gw.base_url.clone();
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let (_, a_broker) = institutions
        .iter()
        .find(|(id, _)| id.as_str() == HOSPITAL_A)
        .ok_or("hospital A")?;
    let hospital_a = a_broker.issue_token(
        "consent-system",
        &base,
        Duration::from_secs(300),
        gemj_auth::now_unix(),
    )?;
    let participant = gw
        .store
        .list_participants(None, 1000)
        .await?
        .into_iter()
        .find(|p| p.institution.as_str() == HOSPITAL_A)
        .ok_or("a participant of hospital A")?
        .id
        .to_string();
    assert_eq!(gw.store.audit_count().await?, 0, "nothing audited yet");

    // Accesses in two earlier months (month - 3 and month - 2), as the writer recorded them.
    let today = time::OffsetDateTime::now_utc();
    let this_month = today.replace_day(1)?.date().midnight().assume_utc();
    let event = |at: time::OffsetDateTime, n: u32, named: bool| gemj_model::AuditEvent {
        at,
        request_id: format!("archived-{n}"),
        api: "drs".to_owned(),
        endpoint: "/ga4gh/drs/v1/objects/{object_id}".to_owned(),
        principal: format!("https://broker.example#researcher-{n}"),
        action: "read_metadata".to_owned(),
        resource: format!("object:OBJ-{n}"),
        decision: gemj_model::AccessDecision::Permit,
        reasons: vec!["controlled_access_granted".to_owned()],
        credential_hashes: vec!["ab".repeat(32)],
        approval: Some("APR-OLD".to_owned()),
        consent_epoch: Some(1),
        participants: if named {
            vec![participant.clone()]
        } else {
            Vec::new()
        },
        records_returned: Some(1),
        records_filtered: None,
    };
    let month_3 = this_month - time::Duration::days(75);
    let month_2 = this_month - time::Duration::days(40);
    gw.store
        .append_audit(&[
            event(month_3, 1, true),
            event(month_3 + time::Duration::hours(1), 2, false),
            event(month_2, 3, true),
            event(month_2 + time::Duration::hours(1), 4, false),
        ])
        .await?;
    let http = Http { base: base.clone() };
    let report = |query: &str| {
        http.call(
            "GET",
            &format!("/audit/v1/participants/{participant}{query}"),
            &Auth::Bearer(hospital_a.clone()),
            None,
        )
    };
    let before = report("")?;
    assert_eq!(before.0, 200, "{}", before.1);

    // Seal every month before this one (as `gemj-gateway audit archive --before` does) into
    // the gateway's own archive: a folder, or a real S3 server in CI's S3 pass
    // (`GEMJ_TEST_OBJECTS=s3`), where the report then reads the sealed months from.
    let storage = std::sync::Arc::clone(&gw.audit_archive);
    let archive = AuditArchive::new(std::sync::Arc::clone(&storage));
    let sealed = archive.seal_before(&gw.store, this_month).await?;
    assert_eq!(
        sealed
            .iter()
            .map(|s| (s.first_seq, s.last_seq))
            .collect::<Vec<_>>(),
        vec![(1, 2), (3, 4)]
    );
    assert!(
        gw.store
            .audit_records(0, 10)
            .await?
            .iter()
            .all(|r| r.seq > 4),
        "sealed rows left the database"
    );
    assert!(archive.seal_before(&gw.store, this_month).await?.is_empty());
    let chains = gw.store.verify_chains().await?;
    assert_eq!(
        (chains.archived_rows, chains.broken.clone()),
        (4, None),
        "{chains:?}"
    );
    let segments = archive.verify(&gw.store).await?;
    assert_eq!((segments.segments, segments.rows), (2, 4));

    // The report: the archived accesses first, the same as before sealing, then today's.
    let after = report("")?;
    assert_eq!(after.0, 200, "{}", after.1);
    let records = after.1["records"].as_array().cloned().unwrap_or_default();
    let seqs: Vec<i64> = records.iter().filter_map(|r| r["seq"].as_i64()).collect();
    assert_eq!(&seqs[..2], &[1, 3], "{records:?}");
    assert_eq!(
        &before.1["records"].as_array().cloned().unwrap_or_default()[..2],
        &records[..2]
    );
    assert_eq!(
        records[0]["principal"],
        "https://broker.example#researcher-1"
    );
    assert_eq!(records[1]["approval"], "APR-OLD");
    assert!(
        seqs.iter().skip(2).all(|s| *s > 4),
        "then today's: {seqs:?}"
    );
    // Paged one at a time, across the segments and into the database.
    let page1 = report("?limit=1")?;
    assert_eq!(page1.1["records"][0]["seq"], 1, "{}", page1.1);
    let next = page1.1["next_after"].as_i64().ok_or("next_after")?;
    let page2 = report(&format!("?limit=1&after={next}"))?;
    assert_eq!(page2.1["records"][0]["seq"], 3, "{}", page2.1);
    let next = page2.1["next_after"].as_i64().ok_or("next_after")?;
    let page3 = report(&format!("?limit=1&after={next}"))?;
    assert!(
        page3.1["records"][0]["seq"].as_i64().is_some_and(|s| s > 4),
        "{}",
        page3.1
    );

    // An intruder rewrites an archived access (and even recompresses it): found.
    let key = gemj_objects::ObjectKey::parse(&sealed[0].location)?;
    let copy = gw.data_dir().join("segment-copy.gz");
    gemj_objects::copy_to_file(&*storage, &key, &copy).await?;
    let bytes = std::fs::read(&copy)?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(bytes.as_slice()),
        &mut text,
    )?;
    let altered = text.replace("researcher-1", "researcher-9");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, altered.as_bytes())?;
    storage.put_bytes(&key, &gz.finish()?).await?;
    assert!(archive.verify(&gw.store).await.is_err());
    let refused = report("")?;
    assert!(refused.0 >= 500, "{} {}", refused.0, refused.1);
    assert!(
        !refused.1.to_string().contains("researcher-9"),
        "{}",
        refused.1
    );
    gw.stop().await;
    Ok(())
}
