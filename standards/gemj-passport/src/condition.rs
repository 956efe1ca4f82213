//! Visa `conditions`: Condition Clauses and their evaluation in disjunctive normal form.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::{ClaimError, Matcher, VisaClaims, VisaObject, VisaType};

/// One Condition Clause (Passport 1.2 "conditions").
///
/// "A Condition Clause MUST specify a `type` claim with a value as a Visa Type plus it MUST include
/// at least one other claim with a name that matches a valid Visa Object claim name." The other
/// claims allowed are the string claims `value`, `source` and `by`; the spec forbids `conditions`
/// and timestamps such as `asserted`, and any other name is refused too, so a malformed clause
/// makes the whole Visa invalid ([`ClaimError::BadCondition`]) instead of silently matching more.
/// `type` is compared as `const` ("it MUST be assumed to be const and is not specified").
///
/// # Examples
///
/// ```
/// use gemj_passport::{Condition, Matcher, VisaType};
/// use serde_json::json;
///
/// let c = Condition::from_json(&json!({
///     "type": "AffiliationAndRole",
///     "value": "pattern:faculty@*",
///     "by": "const:so"
/// }))?;
/// assert_eq!(c.r#type, VisaType::AffiliationAndRole);
/// assert_eq!(c.by, Some(Matcher::Const("so".into())));
///
/// let asserted = json!({"type": "ResearcherStatus", "asserted": "const:1"});
/// assert!(Condition::from_json(&asserted).is_err());
/// # Ok::<(), gemj_passport::ClaimError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Condition {
    /// The Visa Type a matching Visa must have.
    #[serde(rename = "type")]
    pub r#type: VisaType,
    /// The matcher for the Visa's `value`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Matcher>,
    /// The matcher for the Visa's `source`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Matcher>,
    /// The matcher for the Visa's `by`, if any; a Visa without `by` never matches it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Matcher>,
}

impl Condition {
    /// Parses one Condition Clause from its JSON object.
    ///
    /// # Errors
    ///
    /// [`ClaimError::BadCondition`] when the clause is not an object, has no string `type`, has no
    /// other claim, has a claim other than `type`, `value`, `source`, `by`, or has a claim value
    /// that is not a string with a supported `<match-type>:` prefix.
    pub fn from_json(json: &Value) -> Result<Self, ClaimError> {
        let map = json.as_object().ok_or(ClaimError::BadCondition)?;
        let mut r#type = None;
        let mut value = None;
        let mut source = None;
        let mut by = None;
        for (key, v) in map {
            let s = v.as_str().ok_or(ClaimError::BadCondition)?;
            match key.as_str() {
                "type" => r#type = Some(VisaType::parse(s)),
                "value" => value = Some(Matcher::parse(s)?),
                "source" => source = Some(Matcher::parse(s)?),
                "by" => by = Some(Matcher::parse(s)?),
                _ => return Err(ClaimError::BadCondition),
            }
        }
        let r#type = r#type.ok_or(ClaimError::BadCondition)?;
        if value.is_none() && source.is_none() && by.is_none() {
            return Err(ClaimError::BadCondition);
        }
        Ok(Self {
            r#type,
            value,
            source,
            by,
        })
    }

    /// Whether `visa` satisfies this clause: same type, no `conditions` of its own, and every
    /// given matcher matches the corresponding claim of that one Visa Object.
    ///
    /// Visa Objects with a `conditions` claim never match: "Ignore Visa Objects that have the
    /// `conditions` claim present. This will avoid deep nesting of condition evaluation".
    #[must_use]
    pub fn matches(&self, visa: &VisaObject) -> bool {
        fn field(matcher: Option<&Matcher>, value: Option<&str>) -> bool {
            match (matcher, value) {
                (None, _) => true,
                (Some(m), Some(v)) => m.matches(v),
                (Some(_), None) => false,
            }
        }
        visa.conditions.is_none()
            && self.r#type == visa.r#type
            && field(self.value.as_ref(), Some(&visa.value))
            && field(self.source.as_ref(), Some(&visa.source))
            && field(self.by.as_ref(), visa.by.as_deref())
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(deserializer)?;
        Self::from_json(&json).map_err(serde::de::Error::custom)
    }
}

/// Parses a `conditions` claim: a list (OR) of lists (AND) of Condition Clauses.
///
/// An empty inner list is refused: the spec gives it no meaning, and reading it as "vacuously
/// true" would turn a malformed Visa into an unconditional one.
pub(crate) fn parse_conditions(json: &Value) -> Result<Vec<Vec<Condition>>, ClaimError> {
    let outer = json.as_array().ok_or(ClaimError::BadCondition)?;
    outer
        .iter()
        .map(|inner| {
            let inner = inner.as_array().ok_or(ClaimError::BadCondition)?;
            if inner.is_empty() {
                return Err(ClaimError::BadCondition);
            }
            inner.iter().map(Condition::from_json).collect()
        })
        .collect()
}

/// Evaluates `conditions` in disjunctive normal form against the other Visas of a Passport.
///
/// The outer list is OR, each inner list is AND, and each Condition Clause is met when ANY one of
/// `visas` [matches](Condition::matches) it ("All Condition Clause claims that are specified within
/// one Condition Clause MUST match the same Visa Object"; different clauses may be met by
/// different Visas). `visas` must hold only Visas that are verified, trusted, unexpired and of the
/// same person (see [`IdentityLinks`](crate::IdentityLinks)): "such content is both valid ... and
/// ... accepted by the Passport Clearinghouse". Passing the conditioned Visa itself is harmless:
/// Visas with `conditions` never match a clause.
///
/// * An empty outer list is met. The spec treats an empty `conditions` like an absent one: a
///   Clearinghouse without condition support must "reject (ignore) any Visas that contain a
///   non-empty `conditions` claim value".
/// * An empty inner list is never met (and does not parse from JSON).
///
/// # Examples
///
/// ```
/// use gemj_passport::{conditions_met, parse_visa_claims};
/// use serde_json::json;
///
/// let faculty = parse_visa_claims(&json!({
///     "iss": "https://idp.example.jp", "sub": "u1", "iat": 100, "exp": 200,
///     "ga4gh_visa_v1": {
///         "type": "AffiliationAndRole", "asserted": 50,
///         "value": "faculty@u-tokyo.ac.jp", "source": "https://u-tokyo.ac.jp", "by": "so"
///     }
/// }))?;
/// let grant = parse_visa_claims(&json!({
///     "iss": "https://dac.example.jp", "sub": "u1", "iat": 100, "exp": 200,
///     "ga4gh_visa_v1": {
///         "type": "ControlledAccessGrants", "asserted": 50,
///         "value": "https://gemj.example.jp/datasets/D1",
///         "source": "https://dac.example.jp", "by": "dac",
///         "conditions": [[{"type": "AffiliationAndRole", "value": "pattern:faculty@*"}]]
///     }
/// }))?;
/// let conditions = grant.ga4gh_visa_v1.conditions.as_deref().unwrap_or_default();
/// assert!(conditions_met(conditions, &[&faculty, &grant]));
/// assert!(!conditions_met(conditions, &[&grant]));
/// # Ok::<(), gemj_passport::ClaimError>(())
/// ```
#[must_use]
pub fn conditions_met(conditions: &[Vec<Condition>], visas: &[&VisaClaims]) -> bool {
    conditions.is_empty()
        || conditions.iter().any(|all_of| {
            !all_of.is_empty()
                && all_of
                    .iter()
                    .all(|clause| visas.iter().any(|v| clause.matches(&v.ga4gh_visa_v1)))
        })
}

/// [`conditions_met`] for one Visa: `Ok` when it has no `conditions` or they are met.
///
/// # Errors
///
/// [`ClaimError::ConditionsNotMet`] when the Visa has conditions and `others` do not meet them.
pub fn check_conditions(visa: &VisaClaims, others: &[&VisaClaims]) -> Result<(), ClaimError> {
    match &visa.ga4gh_visa_v1.conditions {
        Some(conditions) if !conditions_met(conditions, others) => {
            Err(ClaimError::ConditionsNotMet)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Condition, check_conditions, conditions_met, parse_conditions};
    use crate::{ClaimError, Matcher, VisaClaims, VisaObject, VisaType};

    fn visa(r#type: &str, value: &str, source: &str, by: Option<&str>) -> VisaClaims {
        VisaClaims {
            iss: "https://issuer.example.jp".into(),
            sub: "user-1".into(),
            iat: 1_000,
            exp: 2_000,
            jti: None,
            ga4gh_visa_v1: VisaObject {
                r#type: VisaType::parse(r#type),
                asserted: 900,
                value: value.into(),
                source: source.into(),
                by: by.map(Into::into),
                conditions: None,
            },
        }
    }

    const UNI: &str = "https://grid.ac/institutes/grid.240952.8";
    const RA: &str = "https://doi.org/10.1038/s41431-018-0219-y";

    fn passport_visas() -> Vec<VisaClaims> {
        vec![
            visa(
                "AffiliationAndRole",
                "faculty@med.stanford.edu",
                UNI,
                Some("so"),
            ),
            visa("ResearcherStatus", RA, UNI, Some("so")),
            visa("AcceptedTermsAndPolicies", RA, UNI, Some("self")),
            visa(
                "AffiliationAndRole",
                "student@u-tokyo.ac.jp",
                "https://u-tokyo.ac.jp",
                None,
            ),
            visa(
                "LinkedIdentities",
                "10001,https:%2F%2Fissuer.example1.org%2Foidc;abcd,https:%2F%2Fother.example2.org",
                "https://broker.example3.org/oidc",
                Some("system"),
            ),
        ]
    }

    #[test]
    fn dnf_evaluation() -> Result<(), ClaimError> {
        #[track_caller]
        fn check(conditions: Value, expect: bool) {
            let parsed =
                parse_conditions(&conditions).unwrap_or_else(|e| panic!("{conditions}: {e}"));
            let visas = passport_visas();
            let refs: Vec<&VisaClaims> = visas.iter().collect();
            assert_eq!(conditions_met(&parsed, &refs), expect, "{conditions}");
        }
        // One clause, one field.
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:faculty@med.stanford.edu"}]]),
            true,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:faculty@u-tokyo.ac.jp"}]]),
            false,
        );
        // Type must match too.
        check(
            json!([[{"type": "ResearcherStatus", "value": "const:faculty@med.stanford.edu"}]]),
            false,
        );
        check(
            json!([[{"type": "ControlledAccessGrants", "value": "pattern:*"}]]),
            false,
        );
        // All fields of one clause on the same Visa.
        check(
            json!([[{"type": "AffiliationAndRole", "value": "pattern:faculty@*", "source": format!("const:{UNI}"), "by": "const:so"}]]),
            true,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "pattern:student@*", "by": "const:so"}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "pattern:student@*", "source": "const:https://u-tokyo.ac.jp"}]]),
            true,
        );
        // A specified `by` does not match a Visa without `by`.
        check(
            json!([[{"type": "AffiliationAndRole", "value": "pattern:student@*", "by": "pattern:*"}]]),
            false,
        );
        // AND across clauses, each may be met by a different Visa.
        check(
            json!([[
                {"type": "AffiliationAndRole", "value": "const:faculty@med.stanford.edu", "by": "const:so"},
                {"type": "ResearcherStatus", "value": format!("const:{RA}")}
            ]]),
            true,
        );
        check(
            json!([[
                {"type": "AffiliationAndRole", "value": "const:faculty@med.stanford.edu"},
                {"type": "ResearcherStatus", "value": "const:https://example.org/other"}
            ]]),
            false,
        );
        // OR across alternatives.
        check(
            json!([
                [{"type": "AffiliationAndRole", "value": "const:faculty@uni-heidelberg.de", "by": "const:so"}],
                [{"type": "AffiliationAndRole", "value": "pattern:faculty@*", "source": format!("const:{UNI}"), "by": "const:so"}]
            ]),
            true,
        );
        check(
            json!([
                [{"type": "AffiliationAndRole", "value": "const:faculty@uni-heidelberg.de"}],
                [{"type": "AffiliationAndRole", "value": "const:faculty@kyoto-u.ac.jp"}]
            ]),
            false,
        );
        // Nested: (A AND B) OR (C AND D), only the second holds.
        check(
            json!([
                [{"type": "ResearcherStatus", "value": format!("const:{RA}")}, {"type": "AffiliationAndRole", "value": "const:nobody@x"}],
                [{"type": "AcceptedTermsAndPolicies", "by": "const:self"}, {"type": "ResearcherStatus", "source": format!("const:{UNI}")}]
            ]),
            true,
        );
        // split_pattern on a LinkedIdentities value.
        check(
            json!([[{"type": "LinkedIdentities", "value": "split_pattern:abcd,https:%2F%2F*"}]]),
            true,
        );
        check(
            json!([[{"type": "LinkedIdentities", "value": "split_pattern:abc,https:%2F%2F*"}]]),
            false,
        );
        // Empty outer list: same as no conditions.
        check(json!([]), true);
        Ok(())
    }

    #[test]
    fn no_matching_visa() {
        let conditions =
            parse_conditions(&json!([[{"type": "AffiliationAndRole", "value": "pattern:*"}]]));
        let conditions = conditions.unwrap_or_default();
        assert!(!conditions.is_empty());
        assert!(!conditions_met(&conditions, &[]));
    }

    #[test]
    fn conditioned_visas_never_satisfy_clauses() {
        let mut affiliation = visa("AffiliationAndRole", "faculty@x.jp", UNI, Some("so"));
        affiliation.ga4gh_visa_v1.conditions = Some(vec![]);
        let clause = Condition {
            r#type: VisaType::AffiliationAndRole,
            value: Some(Matcher::Pattern("*".into())),
            source: None,
            by: None,
        };
        assert!(!clause.matches(&affiliation.ga4gh_visa_v1));
        assert!(!conditions_met(&[vec![clause]], &[&affiliation]));
    }

    #[test]
    fn empty_inner_list_is_not_met() {
        let v = visa("ResearcherStatus", RA, UNI, None);
        assert!(!conditions_met(&[vec![]], &[&v]));
    }

    #[test]
    fn check_conditions_result() {
        let faculty = visa("AffiliationAndRole", "faculty@x.jp", UNI, Some("so"));
        let mut grant = visa(
            "ControlledAccessGrants",
            "https://gemj.example.jp/datasets/D1",
            UNI,
            Some("dac"),
        );
        assert_eq!(check_conditions(&grant, &[]), Ok(()));
        grant.ga4gh_visa_v1.conditions = Some(vec![vec![Condition {
            r#type: VisaType::AffiliationAndRole,
            value: Some(Matcher::Const("faculty@x.jp".into())),
            source: None,
            by: None,
        }]]);
        assert_eq!(check_conditions(&grant, &[&faculty, &grant]), Ok(()));
        assert_eq!(
            check_conditions(&grant, &[&grant]),
            Err(ClaimError::ConditionsNotMet)
        );
    }

    #[test]
    fn condition_parsing() {
        #[track_caller]
        fn check(json: Value, ok: bool) {
            assert_eq!(parse_conditions(&json).is_ok(), ok, "{json}");
        }
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:a@b"}]]),
            true,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "source": "pattern:*"}]]),
            true,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "by": "split_pattern:so"}]]),
            true,
        );
        check(json!([]), true);
        // Structure.
        check(json!({}), false);
        check(json!("const:x"), false);
        check(
            json!([{"type": "AffiliationAndRole", "value": "const:a@b"}]),
            false,
        );
        check(json!([[]]), false);
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:a@b"}], []]),
            false,
        );
        check(json!([["const:x"]]), false);
        check(json!([[null]]), false);
        // Clause contents.
        check(json!([[{"value": "const:a@b"}]]), false);
        check(json!([[{"type": "AffiliationAndRole"}]]), false);
        check(json!([[{"type": 1, "value": "const:a@b"}]]), false);
        check(json!([[{"type": "AffiliationAndRole", "value": 1}]]), false);
        check(
            json!([[{"type": "AffiliationAndRole", "value": null}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "a@b"}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "regex:.*"}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:a@b", "asserted": "const:1"}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:a@b", "asserted": 1}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:a@b", "conditions": []}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:a@b", "exp": "const:1"}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:a@b", "Value": "const:x"}]]),
            false,
        );
        check(
            json!([[{"type": "AffiliationAndRole", "value": "const:a@b", "extra": "const:x"}]]),
            false,
        );
    }

    #[test]
    fn serde_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let json =
            json!({"type": "AffiliationAndRole", "value": "pattern:faculty@*", "by": "const:so"});
        let c: Condition = serde_json::from_value(json.clone())?;
        assert_eq!(serde_json::to_value(&c)?, json);
        assert!(
            serde_json::from_value::<Condition>(json!({"type": "X", "asserted": "const:1"}))
                .is_err()
        );
        Ok(())
    }
}
