//! Property-style test: arbitrary and mutated JSON payloads never make the parsers or rules panic.
//!
//! A hand-rolled, seeded xorshift generator keeps the test deterministic and dependency-free. The
//! generator is biased towards the claim names and shapes the parsers look at, so that most
//! cases get past the first check; every accepted value is then fed through the rest of the API.

use gemj_passport::{
    Condition, DEFAULT_CLOCK_SKEW_SECS as CLOCK_SKEW_SECS, IdentityLinks, Matcher, SourcePolicy,
    SourceRule, VisaClaims, VisaType, check_audience, check_conditions, check_times, check_visa,
    conditions_met, dataset_from_grant, is_url_claim, parse_linked_identities,
    parse_passport_claims, parse_visa_claims, pattern_matches, split_affiliation_and_role,
    visa_hash,
};
use serde_json::{Map, Value, json};

/// xorshift64*: small, fast, good enough to explore shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len()))
            .copied()
            .unwrap_or_default()
    }
}

const KEYS: &[&str] = &[
    "iss",
    "sub",
    "iat",
    "exp",
    "aud",
    "jti",
    "nbf",
    "scope",
    "ga4gh_passport_v1",
    "ga4gh_visa_v1",
    "type",
    "asserted",
    "value",
    "source",
    "by",
    "conditions",
    "x",
];

const WORDS: &[&str] = &[
    "",
    "*",
    "?",
    ";",
    ",",
    "%",
    "%2",
    "%zz",
    "%2C",
    "%3B",
    "%FF",
    "@",
    "const:",
    "pattern:",
    "split_pattern:",
    "regex:",
    "const:a@b",
    "pattern:*@*",
    "split_pattern:*,*",
    "faculty@x.jp",
    "https://x.jp",
    "https://gemj.example.jp/datasets/D1",
    "https:%2F%2Fx.jp",
    "a,b;c,d",
    "AffiliationAndRole",
    "AcceptedTermsAndPolicies",
    "ResearcherStatus",
    "ControlledAccessGrants",
    "LinkedIdentities",
    "https://example.org/custom",
    "so",
    "dac",
    "self",
    "日本",
    "\u{0}",
    "\n",
    " ",
    "..",
    "/",
];

fn string(rng: &mut Rng) -> String {
    let parts = rng.below(4);
    (0..parts).map(|_| rng.pick(WORDS)).collect()
}

fn number(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(i64::MIN),
        1 => json!(i64::MAX),
        2 => json!(u64::MAX),
        3 => json!(-1.5),
        4 => json!(1e308),
        5 => json!(0),
        _ => json!(1_700_000_000_i64 + i64::try_from(rng.below(20_000)).unwrap_or(0) - 10_000),
    }
}

fn value(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth == 0;
    match rng.below(if leaf { 5 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => number(rng),
        3 | 4 => Value::String(string(rng)),
        5 | 6 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => Value::Object(object(rng, depth - 1)),
    }
}

fn object(rng: &mut Rng, depth: usize) -> Map<String, Value> {
    (0..rng.below(7))
        .map(|_| (rng.pick(KEYS).to_owned(), value(rng, depth)))
        .collect()
}

fn valid_visa() -> Value {
    json!({
        "iss": "https://dac.example.jp",
        "sub": "user-1",
        "iat": 1_700_000_000,
        "exp": 1_700_086_400,
        "ga4gh_visa_v1": {
            "type": "ControlledAccessGrants",
            "asserted": 1_699_990_000,
            "value": "https://gemj.example.jp/datasets/D1",
            "source": "https://dac.example.jp",
            "by": "dac",
            "conditions": [[{"type": "AffiliationAndRole", "value": "pattern:*@*.ac.jp"}]]
        }
    })
}

fn valid_passport() -> Value {
    json!({
        "iss": "https://broker.example.jp",
        "sub": "user-1",
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
        "aud": "https://gemj.example.jp",
        "ga4gh_passport_v1": ["eyJ.a.b"]
    })
}

/// Replaces or removes one random node of `base` (at any depth) with a random value.
fn mutate(rng: &mut Rng, base: &mut Value) {
    match base {
        Value::Object(map) if !map.is_empty() && rng.chance(70) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = keys.get(rng.below(keys.len())).cloned().unwrap_or_default();
            if rng.chance(15) {
                map.remove(&key);
            } else if let Some(child) = map.get_mut(&key) {
                mutate(rng, child);
            }
        }
        Value::Array(items) if !items.is_empty() && rng.chance(70) => {
            let i = rng.below(items.len());
            if let Some(child) = items.get_mut(i) {
                mutate(rng, child);
            }
        }
        _ => *base = value(rng, 3),
    }
}

fn exercise_visa(visa: &VisaClaims, rng: &mut Rng) {
    let now = 1_700_000_000 + i64::try_from(rng.below(200_000)).unwrap_or(0) - 100_000;
    if let Err(e) = check_visa(visa, now, CLOCK_SKEW_SECS) {
        assert!(!e.code().is_empty());
    }
    let object = &visa.ga4gh_visa_v1;
    let _ = check_conditions(visa, &[visa]);
    if let Some(conditions) = &object.conditions {
        let _ = conditions_met(conditions, &[visa, visa]);
    }
    let mut links = IdentityLinks::new(&visa.iss, &visa.sub);
    links.add_linked_identities(visa);
    assert!(links.is_linked(&visa.iss, &visa.sub));
    let _ = parse_linked_identities(&object.value);
    let _ = split_affiliation_and_role(&object.value);
    let _ = dataset_from_grant(&object.value, "https://gemj.example.jp/datasets");
    let _ = is_url_claim(&object.source);
    let policy = SourcePolicy::default().with_rule(
        SourceRule::new(object.r#type.clone(), [Matcher::Pattern(string(rng))])
            .with_by([Matcher::SplitPattern(string(rng))]),
    );
    let _ = policy.allows(object);
    // Serialization round-trips through the same parser.
    if let Ok(json) = serde_json::to_value(visa) {
        assert_eq!(parse_visa_claims(&json).as_ref(), Ok(visa));
    }
}

#[test]
fn random_json_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = (0_usize, 0_usize);
    for _ in 0..20_000 {
        let mut map = Map::new();
        if rng.chance(50) {
            // Seed the REQUIRED claims so that random extra keys decide the outcome.
            map.insert("iss".into(), json!("https://x.jp"));
            map.insert("sub".into(), json!("u"));
            map.insert("iat".into(), json!(1_700_000_000));
            map.insert("exp".into(), json!(1_700_000_600));
        }
        map.extend(object(&mut rng, 4));
        let mut payload = Value::Object(map);
        if rng.chance(30) {
            let inner = Value::Object(object(&mut rng, 3));
            if let Some(map) = payload.as_object_mut() {
                map.insert("ga4gh_visa_v1".into(), inner);
            }
        }
        if let Ok(visa) = parse_visa_claims(&payload) {
            accepted.0 += 1;
            exercise_visa(&visa, &mut rng);
        }
        if let Ok(passport) = parse_passport_claims(&payload) {
            accepted.1 += 1;
            let _ = check_times(passport.iat, passport.exp, 1_700_000_000, CLOCK_SKEW_SECS);
            let _ = check_audience(passport.aud.as_ref(), Some("https://gemj.example.jp"));
            for v in &passport.ga4gh_passport_v1 {
                assert_eq!(visa_hash(v).len(), 64);
            }
        }
        let _ = serde_json::from_value::<Condition>(payload.clone());
        let _ = serde_json::from_value::<VisaType>(payload);
    }
    // The generator is only useful if it sometimes produces nearly valid payloads.
    assert!(accepted.1 > 0, "no random passport parsed");
}

#[test]
fn mutated_valid_payloads_never_panic() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut accepted = (0_usize, 0_usize);
    for _ in 0..20_000 {
        let mut visa = valid_visa();
        let mut passport = valid_passport();
        for _ in 0..=rng.below(3) {
            mutate(&mut rng, &mut visa);
            mutate(&mut rng, &mut passport);
        }
        if let Ok(parsed) = parse_visa_claims(&visa) {
            accepted.0 += 1;
            exercise_visa(&parsed, &mut rng);
        }
        if let Ok(parsed) = parse_passport_claims(&passport) {
            accepted.1 += 1;
            let _ = check_times(parsed.iat, parsed.exp, i64::MAX, i64::MAX);
            let _ = check_audience(parsed.aud.as_ref(), None);
        }
    }
    assert!(accepted.0 > 100 && accepted.1 > 100, "{accepted:?}");
}

#[test]
fn random_strings_never_panic() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for _ in 0..50_000 {
        let a = string(&mut rng);
        let b = string(&mut rng);
        let _ = pattern_matches(&a, &b);
        let _ = parse_linked_identities(&a);
        let _ = dataset_from_grant(&a, &b);
        let _ = split_affiliation_and_role(&a);
        let _ = is_url_claim(&a);
        if let Ok(m) = Matcher::parse(&a) {
            let _ = m.matches(&b);
            assert_eq!(Matcher::parse(&m.to_string()).as_ref(), Ok(&m));
        }
        let now = i64::try_from(rng.next() >> 1).unwrap_or(0) - i64::MAX / 2;
        let _ = check_times(
            now.wrapping_mul(3),
            now.wrapping_sub(CLOCK_SKEW_SECS),
            now,
            now,
        );
    }
}
