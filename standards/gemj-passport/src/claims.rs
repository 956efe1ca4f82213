//! Passport and Visa JWT payloads: the claim types and their strict parsers.
//!
//! Parsing checks presence, JSON types and size limits only; time and format rules live in
//! [`rules`](crate::check_visa). Claims a type does not name (`scope`, `nbf`, `txn`, …) are
//! allowed and ignored, as JWT and the Passport spec require ("other claims MAY exist within the
//! object and should be ignored").

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::condition::parse_conditions;
use crate::json::{object, optional_str, required_i64, required_nonempty_str, required_str};
use crate::{ClaimError, Condition, MAX_VISAS, VisaType};

/// The Visa Object: the value of the `ga4gh_visa_v1` claim (Passport 1.2 "Visa Object Claims").
///
/// `type`, `asserted`, `value` and `source` are REQUIRED; `by` and `conditions` are OPTIONAL.
/// Other claims inside the object are ignored, as the spec requires.
///
/// # Examples
///
/// ```
/// use gemj_passport::{VisaObject, VisaType};
/// use serde_json::json;
///
/// let visa: VisaObject = serde_json::from_value(json!({
///     "type": "ResearcherStatus",
///     "asserted": 1549680000,
///     "value": "https://doi.org/10.1038/s41431-018-0219-y",
///     "source": "https://grid.ac/institutes/grid.240952.8",
///     "by": "so"
/// }))?;
/// assert_eq!(visa.r#type, VisaType::ResearcherStatus);
///
/// let no_source = json!({"type": "ResearcherStatus", "asserted": 1, "value": "https://x"});
/// assert!(serde_json::from_value::<VisaObject>(no_source).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisaObject {
    /// The Visa Type.
    #[serde(rename = "type")]
    pub r#type: VisaType,
    /// When the Visa Assertion Source made the assertion, in seconds since the epoch.
    pub asserted: i64,
    /// The assertion; its format depends on the type.
    pub value: String,
    /// The organization that made the assertion (a URL Claim).
    pub source: String,
    /// The level or type of authority within `source` (`self`, `peer`, `system`, `so`, `dac`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Conditions on other Visas of the Passport, in disjunctive normal form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Vec<Condition>>>,
}

impl VisaObject {
    /// Parses a Visa Object from its JSON object.
    ///
    /// # Errors
    ///
    /// `MissingClaim`/`InvalidClaim` naming `ga4gh_visa_v1.<claim>` for absent or mistyped
    /// claims, and [`ClaimError::BadCondition`] for a malformed `conditions`.
    pub fn from_json(json: &Value) -> Result<Self, ClaimError> {
        let map = object(json, "ga4gh_visa_v1")?;
        let r#type = VisaType::parse(&required_str(map, "type", "ga4gh_visa_v1.type")?);
        let asserted = required_i64(map, "asserted", "ga4gh_visa_v1.asserted")?;
        let value = required_str(map, "value", "ga4gh_visa_v1.value")?;
        let source = required_str(map, "source", "ga4gh_visa_v1.source")?;
        let by = optional_str(map, "by", "ga4gh_visa_v1.by")?;
        let conditions = map.get("conditions").map(parse_conditions).transpose()?;
        Ok(Self {
            r#type,
            asserted,
            value,
            source,
            by,
            conditions,
        })
    }
}

impl<'de> Deserialize<'de> for VisaObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(deserializer)?;
        Self::from_json(&json).map_err(serde::de::Error::custom)
    }
}

/// The payload of a Visa JWT (Passport 1.2 "Visa Format").
///
/// "The standard JWT payload claims `iss`, `sub`, `iat`, `exp` are all REQUIRED"; `jti` is
/// RECOMMENDED. `{iss, sub}` is the Visa Identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisaClaims {
    /// The Visa Issuer.
    pub iss: String,
    /// The subject within the issuer's system.
    pub sub: String,
    /// When the Visa was minted, in seconds since the epoch.
    pub iat: i64,
    /// When the Visa expires, in seconds since the epoch.
    pub exp: i64,
    /// The token identifier, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The Visa Object.
    pub ga4gh_visa_v1: VisaObject,
}

impl<'de> Deserialize<'de> for VisaClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(deserializer)?;
        parse_visa_claims(&json).map_err(serde::de::Error::custom)
    }
}

/// The `aud` claim: one audience or a list (RFC 7519 section 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience string.
    One(String),
    /// A list of audience strings.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is one of the values, by exact string comparison.
    #[must_use]
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(a) => a == audience,
            Self::Many(list) => list.iter().any(|a| a == audience),
        }
    }

    /// The audience values.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let list: &[String] = match self {
            Self::One(a) => std::slice::from_ref(a),
            Self::Many(list) => list,
        };
        list.iter().map(String::as_str)
    }
}

/// The payload of a Passport JWT (AAI OIDC Profile 1.2 "Passport Token Contents").
///
/// `iss`, `sub`, `iat`, `exp` and `ga4gh_passport_v1` are REQUIRED, `aud` is OPTIONAL, `jti` is
/// RECOMMENDED. `ga4gh_passport_v1` holds the Visas still encoded (JWS Compact Serialization):
/// each must be verified on its own before use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassportClaims {
    /// The Passport Issuer (a Broker).
    pub iss: String,
    /// The subject within the Passport Issuer's system.
    pub sub: String,
    /// When the Passport was issued, in seconds since the epoch.
    pub iat: i64,
    /// When the Passport expires, in seconds since the epoch.
    pub exp: i64,
    /// The intended audiences, if restricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// The token identifier, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The Visas, as JWS compact strings; "May be empty if a user has no visas".
    pub ga4gh_passport_v1: Vec<String>,
}

impl<'de> Deserialize<'de> for PassportClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(deserializer)?;
        parse_passport_claims(&json).map_err(serde::de::Error::custom)
    }
}

/// Parses and bounds the payload of a Passport JWT.
///
/// Call it on the payload of a Passport whose signature has been verified; it checks what JWT
/// libraries do not: presence of every REQUIRED claim (jsonwebtoken does not require `iss`), JSON
/// types, at most [`MAX_VISAS`] Visas. It does not check
/// times or audience: see [`check_times`](crate::check_times) and
/// [`check_audience`](crate::check_audience).
///
/// # Errors
///
/// * [`ClaimError::MissingClaim`] for an absent `iss`, `sub`, `iat`, `exp`, `ga4gh_passport_v1`.
/// * [`ClaimError::InvalidClaim`] for a payload that is not an object, an empty `iss`/`sub`, a
///   non-integer time, an `aud` that is not a string or list of strings, a non-string `jti`, a
///   `ga4gh_passport_v1` that is not a list of strings.
/// * [`ClaimError::TooManyVisas`]. A Visa longer than [`crate::MAX_VISA_BYTES`] is kept here: the
///   verifier ignores it alone (`visa_too_large`) and the rest of the Passport still counts.
///
/// # Examples
///
/// ```
/// use gemj_passport::{ClaimError, parse_passport_claims};
/// use serde_json::json;
///
/// let claims = parse_passport_claims(&json!({
///     "iss": "https://broker.example.jp", "sub": "u1", "iat": 100, "exp": 200,
///     "aud": ["https://gemj.example.jp"], "jti": "t1",
///     "ga4gh_passport_v1": ["eyJ...a", "eyJ...b"]
/// }))?;
/// assert_eq!(claims.ga4gh_passport_v1.len(), 2);
///
/// let no_iss = json!({"sub": "u1", "iat": 100, "exp": 200, "ga4gh_passport_v1": []});
/// assert_eq!(parse_passport_claims(&no_iss), Err(ClaimError::MissingClaim("iss")));
/// # Ok::<(), ClaimError>(())
/// ```
pub fn parse_passport_claims(json: &Value) -> Result<PassportClaims, ClaimError> {
    let map = object(json, "payload")?;
    let iss = required_nonempty_str(map, "iss", "iss")?;
    let sub = required_nonempty_str(map, "sub", "sub")?;
    let iat = required_i64(map, "iat", "iat")?;
    let exp = required_i64(map, "exp", "exp")?;
    let aud = match map.get("aud") {
        None => None,
        Some(Value::String(a)) => Some(Audience::One(a.clone())),
        Some(Value::Array(list)) => Some(Audience::Many(
            list.iter()
                .map(|a| a.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or(ClaimError::InvalidClaim("aud"))?,
        )),
        Some(_) => return Err(ClaimError::InvalidClaim("aud")),
    };
    let jti = optional_str(map, "jti", "jti")?;
    let visas = map
        .get("ga4gh_passport_v1")
        .ok_or(ClaimError::MissingClaim("ga4gh_passport_v1"))?
        .as_array()
        .ok_or(ClaimError::InvalidClaim("ga4gh_passport_v1"))?;
    if visas.len() > MAX_VISAS {
        return Err(ClaimError::TooManyVisas);
    }
    let ga4gh_passport_v1 = visas
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or(ClaimError::InvalidClaim("ga4gh_passport_v1"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PassportClaims {
        iss,
        sub,
        iat,
        exp,
        aud,
        jti,
        ga4gh_passport_v1,
    })
}

/// Parses the payload of a Visa JWT, including its Visa Object and `conditions`.
///
/// Checks presence and JSON types only; [`check_visa`](crate::check_visa) checks times and the
/// per-type format of the values.
///
/// # Errors
///
/// * [`ClaimError::MissingClaim`] for an absent `iss`, `sub`, `iat`, `exp`, `ga4gh_visa_v1`, or
///   an absent `ga4gh_visa_v1.type`/`.asserted`/`.value`/`.source`.
/// * [`ClaimError::InvalidClaim`] for a payload that is not an object and for mistyped claims.
/// * [`ClaimError::BadCondition`] for a malformed `conditions` (see [`Condition`]).
///
/// # Examples
///
/// ```
/// use gemj_passport::{ClaimError, VisaType, parse_visa_claims};
/// use serde_json::json;
///
/// let visa = parse_visa_claims(&json!({
///     "iss": "https://dac.example.jp", "sub": "u1", "iat": 100, "exp": 200, "jti": "v1",
///     "ga4gh_visa_v1": {
///         "type": "ControlledAccessGrants", "asserted": 90,
///         "value": "https://gemj.example.jp/datasets/D1",
///         "source": "https://dac.example.jp", "by": "dac"
///     }
/// }))?;
/// assert_eq!(visa.ga4gh_visa_v1.r#type, VisaType::ControlledAccessGrants);
///
/// let bad = json!({"iss": "https://dac.example.jp", "sub": "u1", "iat": 100, "exp": "200"});
/// assert_eq!(parse_visa_claims(&bad), Err(ClaimError::InvalidClaim("exp")));
/// # Ok::<(), ClaimError>(())
/// ```
pub fn parse_visa_claims(json: &Value) -> Result<VisaClaims, ClaimError> {
    let map = object(json, "payload")?;
    let iss = required_nonempty_str(map, "iss", "iss")?;
    let sub = required_nonempty_str(map, "sub", "sub")?;
    let iat = required_i64(map, "iat", "iat")?;
    let exp = required_i64(map, "exp", "exp")?;
    let jti = optional_str(map, "jti", "jti")?;
    let visa = map
        .get("ga4gh_visa_v1")
        .ok_or(ClaimError::MissingClaim("ga4gh_visa_v1"))?;
    Ok(VisaClaims {
        iss,
        sub,
        iat,
        exp,
        jti,
        ga4gh_visa_v1: VisaObject::from_json(visa)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Audience, PassportClaims, VisaClaims, parse_passport_claims, parse_visa_claims};
    use crate::{ClaimError, MAX_VISA_BYTES, MAX_VISAS};

    fn passport() -> Value {
        json!({
            "iss": "https://broker.example.jp",
            "sub": "user-1",
            "iat": 1_700_000_000,
            "exp": 1_700_003_600,
            "aud": ["https://gemj.example.jp"],
            "jti": "p-1",
            "scope": "openid ga4gh_passport_v1",
            "ga4gh_passport_v1": ["eyJ.a.b", "eyJ.c.d"]
        })
    }

    fn visa() -> Value {
        json!({
            "iss": "https://dac.example.jp",
            "sub": "user-1",
            "iat": 1_700_000_000,
            "exp": 1_700_086_400,
            "jti": "v-1",
            "scope": "openid",
            "ga4gh_visa_v1": {
                "type": "ControlledAccessGrants",
                "asserted": 1_699_990_000,
                "value": "https://gemj.example.jp/datasets/D1",
                "source": "https://dac.example.jp",
                "by": "dac",
                "x-extension": {"ignored": true},
                "conditions": [[{"type": "AffiliationAndRole", "value": "pattern:*@*.ac.jp"}]]
            }
        })
    }

    /// `base` with the claim at `path` (dot-separated) replaced, or removed when `value` is None.
    fn with(mut base: Value, path: &str, value: Option<Value>) -> Value {
        let mut target = &mut base;
        let mut parts: Vec<&str> = path.split('.').collect();
        let last = parts.pop().unwrap_or_default();
        for p in parts {
            target = &mut target[p];
        }
        if let Some(map) = target.as_object_mut() {
            match value {
                Some(v) => {
                    map.insert(last.to_owned(), v);
                }
                None => {
                    map.remove(last);
                }
            }
        }
        base
    }

    #[test]
    fn passport_claims() {
        #[track_caller]
        fn check(json: Value, expect: Result<(), ClaimError>) {
            assert_eq!(parse_passport_claims(&json).map(|_| ()), expect, "{json}");
        }
        let p = passport;
        check(p(), Ok(()));
        // Every REQUIRED claim.
        check(with(p(), "iss", None), Err(ClaimError::MissingClaim("iss")));
        check(with(p(), "sub", None), Err(ClaimError::MissingClaim("sub")));
        check(with(p(), "iat", None), Err(ClaimError::MissingClaim("iat")));
        check(with(p(), "exp", None), Err(ClaimError::MissingClaim("exp")));
        check(
            with(p(), "ga4gh_passport_v1", None),
            Err(ClaimError::MissingClaim("ga4gh_passport_v1")),
        );
        // OPTIONAL claims.
        check(with(p(), "aud", None), Ok(()));
        check(with(p(), "jti", None), Ok(()));
        check(
            with(p(), "aud", Some(json!("https://gemj.example.jp"))),
            Ok(()),
        );
        check(with(p(), "aud", Some(json!([]))), Ok(()));
        check(with(p(), "ga4gh_passport_v1", Some(json!([]))), Ok(()));
        // Wrong types.
        check(json!(null), Err(ClaimError::InvalidClaim("payload")));
        check(json!([]), Err(ClaimError::InvalidClaim("payload")));
        check(json!("eyJ"), Err(ClaimError::InvalidClaim("payload")));
        check(
            with(p(), "iss", Some(json!(1))),
            Err(ClaimError::InvalidClaim("iss")),
        );
        check(
            with(p(), "iss", Some(json!(null))),
            Err(ClaimError::InvalidClaim("iss")),
        );
        check(
            with(p(), "iss", Some(json!(""))),
            Err(ClaimError::InvalidClaim("iss")),
        );
        check(
            with(p(), "iss", Some(json!(["https://broker.example.jp"]))),
            Err(ClaimError::InvalidClaim("iss")),
        );
        check(
            with(p(), "sub", Some(json!(42))),
            Err(ClaimError::InvalidClaim("sub")),
        );
        check(
            with(p(), "sub", Some(json!(""))),
            Err(ClaimError::InvalidClaim("sub")),
        );
        check(
            with(p(), "iat", Some(json!("1700000000"))),
            Err(ClaimError::InvalidClaim("iat")),
        );
        check(
            with(p(), "iat", Some(json!(1.5))),
            Err(ClaimError::InvalidClaim("iat")),
        );
        check(
            with(p(), "exp", Some(json!(1e300))),
            Err(ClaimError::InvalidClaim("exp")),
        );
        check(
            with(p(), "exp", Some(json!(u64::MAX))),
            Err(ClaimError::InvalidClaim("exp")),
        );
        check(
            with(p(), "exp", Some(json!(null))),
            Err(ClaimError::InvalidClaim("exp")),
        );
        check(
            with(p(), "exp", Some(json!(true))),
            Err(ClaimError::InvalidClaim("exp")),
        );
        check(with(p(), "exp", Some(json!(-1))), Ok(()));
        check(
            with(p(), "aud", Some(json!(1))),
            Err(ClaimError::InvalidClaim("aud")),
        );
        check(
            with(p(), "aud", Some(json!(["a", 1]))),
            Err(ClaimError::InvalidClaim("aud")),
        );
        check(
            with(p(), "aud", Some(json!({"a": 1}))),
            Err(ClaimError::InvalidClaim("aud")),
        );
        check(
            with(p(), "jti", Some(json!(7))),
            Err(ClaimError::InvalidClaim("jti")),
        );
        check(
            with(p(), "ga4gh_passport_v1", Some(json!("eyJ"))),
            Err(ClaimError::InvalidClaim("ga4gh_passport_v1")),
        );
        check(
            with(p(), "ga4gh_passport_v1", Some(json!({}))),
            Err(ClaimError::InvalidClaim("ga4gh_passport_v1")),
        );
        check(
            with(p(), "ga4gh_passport_v1", Some(json!(["eyJ", 1]))),
            Err(ClaimError::InvalidClaim("ga4gh_passport_v1")),
        );
        check(
            with(
                p(),
                "ga4gh_passport_v1",
                Some(json!([{"ga4gh_visa_v1": {}}])),
            ),
            Err(ClaimError::InvalidClaim("ga4gh_passport_v1")),
        );
        // Limits.
        let many = |n: usize| json!(vec!["eyJ.a.b"; n]);
        check(
            with(p(), "ga4gh_passport_v1", Some(many(MAX_VISAS))),
            Ok(()),
        );
        check(
            with(p(), "ga4gh_passport_v1", Some(many(MAX_VISAS + 1))),
            Err(ClaimError::TooManyVisas),
        );
        let sized = |n: usize| json!(["eyJ.a.b", "x".repeat(n)]);
        check(
            with(p(), "ga4gh_passport_v1", Some(sized(MAX_VISA_BYTES))),
            Ok(()),
        );
        // An oversized Visa is left to the verifier, which ignores it alone.
        check(
            with(p(), "ga4gh_passport_v1", Some(sized(MAX_VISA_BYTES + 1))),
            Ok(()),
        );
    }

    #[test]
    fn passport_claims_values() -> Result<(), ClaimError> {
        let claims = parse_passport_claims(&passport())?;
        assert_eq!(
            claims,
            PassportClaims {
                iss: "https://broker.example.jp".into(),
                sub: "user-1".into(),
                iat: 1_700_000_000,
                exp: 1_700_003_600,
                aud: Some(Audience::Many(vec!["https://gemj.example.jp".into()])),
                jti: Some("p-1".into()),
                ga4gh_passport_v1: vec!["eyJ.a.b".into(), "eyJ.c.d".into()],
            }
        );
        Ok(())
    }

    #[test]
    fn visa_claims() {
        #[track_caller]
        fn check(json: Value, expect: Result<(), ClaimError>) {
            assert_eq!(parse_visa_claims(&json).map(|_| ()), expect, "{json}");
        }
        let v = visa;
        check(v(), Ok(()));
        check(with(v(), "ga4gh_visa_v1.conditions", None), Ok(()));
        check(with(v(), "ga4gh_visa_v1.by", None), Ok(()));
        check(with(v(), "jti", None), Ok(()));
        // Every REQUIRED claim.
        check(with(v(), "iss", None), Err(ClaimError::MissingClaim("iss")));
        check(with(v(), "sub", None), Err(ClaimError::MissingClaim("sub")));
        check(with(v(), "iat", None), Err(ClaimError::MissingClaim("iat")));
        check(with(v(), "exp", None), Err(ClaimError::MissingClaim("exp")));
        check(
            with(v(), "ga4gh_visa_v1", None),
            Err(ClaimError::MissingClaim("ga4gh_visa_v1")),
        );
        check(
            with(v(), "ga4gh_visa_v1.type", None),
            Err(ClaimError::MissingClaim("ga4gh_visa_v1.type")),
        );
        check(
            with(v(), "ga4gh_visa_v1.asserted", None),
            Err(ClaimError::MissingClaim("ga4gh_visa_v1.asserted")),
        );
        check(
            with(v(), "ga4gh_visa_v1.value", None),
            Err(ClaimError::MissingClaim("ga4gh_visa_v1.value")),
        );
        check(
            with(v(), "ga4gh_visa_v1.source", None),
            Err(ClaimError::MissingClaim("ga4gh_visa_v1.source")),
        );
        // Wrong types.
        check(json!(1), Err(ClaimError::InvalidClaim("payload")));
        check(
            with(v(), "iss", Some(json!(false))),
            Err(ClaimError::InvalidClaim("iss")),
        );
        check(
            with(v(), "sub", Some(json!(""))),
            Err(ClaimError::InvalidClaim("sub")),
        );
        check(
            with(v(), "iat", Some(json!("now"))),
            Err(ClaimError::InvalidClaim("iat")),
        );
        check(
            with(v(), "exp", Some(json!(2.5))),
            Err(ClaimError::InvalidClaim("exp")),
        );
        check(
            with(v(), "jti", Some(json!([]))),
            Err(ClaimError::InvalidClaim("jti")),
        );
        check(
            with(v(), "ga4gh_visa_v1", Some(json!("ControlledAccessGrants"))),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1")),
        );
        check(
            with(v(), "ga4gh_visa_v1", Some(json!(null))),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1")),
        );
        check(
            with(v(), "ga4gh_visa_v1.type", Some(json!(3))),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.type")),
        );
        check(
            with(v(), "ga4gh_visa_v1.asserted", Some(json!("1699990000"))),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.asserted")),
        );
        check(
            with(v(), "ga4gh_visa_v1.value", Some(json!(["https://x"]))),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.value")),
        );
        check(
            with(v(), "ga4gh_visa_v1.source", Some(json!(null))),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.source")),
        );
        check(
            with(v(), "ga4gh_visa_v1.by", Some(json!(1))),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.by")),
        );
        // Conditions.
        check(
            with(v(), "ga4gh_visa_v1.conditions", Some(json!([]))),
            Ok(()),
        );
        check(
            with(v(), "ga4gh_visa_v1.conditions", Some(json!(null))),
            Err(ClaimError::BadCondition),
        );
        check(
            with(
                v(),
                "ga4gh_visa_v1.conditions",
                Some(
                    json!([[{"type": "AffiliationAndRole", "value": "const:a@b", "asserted": "const:1"}]]),
                ),
            ),
            Err(ClaimError::BadCondition),
        );
        check(
            with(
                v(),
                "ga4gh_visa_v1.conditions",
                Some(json!([[{"type": "AffiliationAndRole", "value": "a@b"}]])),
            ),
            Err(ClaimError::BadCondition),
        );
        check(
            with(
                v(),
                "ga4gh_visa_v1.conditions",
                Some(json!([[{"type": "AffiliationAndRole"}]])),
            ),
            Err(ClaimError::BadCondition),
        );
    }

    #[test]
    fn serde_goes_through_the_parsers() -> Result<(), Box<dyn std::error::Error>> {
        let claims: VisaClaims = serde_json::from_value(visa())?;
        let back = serde_json::to_value(&claims)?;
        let again: VisaClaims = serde_json::from_value(back)?;
        assert_eq!(claims, again);
        let too_many = with(
            passport(),
            "ga4gh_passport_v1",
            Some(json!(vec!["x"; MAX_VISAS + 1])),
        );
        assert!(serde_json::from_value::<PassportClaims>(too_many).is_err());
        let claims: PassportClaims = serde_json::from_value(passport())?;
        let again: PassportClaims = serde_json::from_value(serde_json::to_value(&claims)?)?;
        assert_eq!(claims, again);
        Ok(())
    }

    #[test]
    fn audience() -> Result<(), Box<dyn std::error::Error>> {
        let one: Audience = serde_json::from_value(json!("a"))?;
        let many: Audience = serde_json::from_value(json!(["a", "b"]))?;
        assert_eq!(one, Audience::One("a".into()));
        assert!(many.contains("b") && !many.contains("c") && one.contains("a"));
        assert_eq!(many.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(serde_json::to_value(&many)?, json!(["a", "b"]));
        Ok(())
    }
}
