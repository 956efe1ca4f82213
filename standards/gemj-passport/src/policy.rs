//! Which Visa Assertion Sources (and which `by` authorities) are trusted, per Visa Type.

use serde::{Deserialize, Serialize};

use crate::{ClaimError, Matcher, VisaObject, VisaType};

/// Trust in Visa Assertion Sources: a list of [`SourceRule`]s.
///
/// "Passport Clearinghouses MUST ignore Passports and Visas unless ... [they have] sufficient
/// trust relationships with all of: the Broker, Visa Assertion Source, Visa Issuer" (Passport 1.2
/// "General Requirements" 8.3). This type covers the Visa Assertion Source (`source`) and its
/// authority (`by`); issuers and brokers are trusted by the JWT verifier.
///
/// The default policy is empty and trusts nothing: every Visa is refused until the gateway
/// configuration lists its sources. Serialized as a plain list of rules, for configuration files:
///
/// ```toml
/// [[trusted_sources]]
/// type = "ControlledAccessGrants"
/// sources = ["const:https://dac.gemj.example.jp"]
/// by = ["const:dac"]
/// ```
///
/// Matchers use the spec's Pattern Matching, where `*` also matches `/`: prefer `const:` for
/// sources, since `pattern:https://*.example.jp` also matches `https://evil.test/x.example.jp`.
///
/// # Examples
///
/// ```
/// use gemj_passport::{ClaimError, Matcher, SourcePolicy, SourceRule, VisaObject, VisaType};
///
/// let policy = SourcePolicy::default().with_rule(
///     SourceRule::new(VisaType::ControlledAccessGrants, [Matcher::Const("https://dac.example.jp".into())])
///         .with_by([Matcher::Const("dac".into())]),
/// );
/// let mut visa = VisaObject {
///     r#type: VisaType::ControlledAccessGrants,
///     asserted: 0,
///     value: "https://gemj.example.jp/datasets/D1".into(),
///     source: "https://dac.example.jp".into(),
///     by: Some("dac".into()),
///     conditions: None,
/// };
/// assert_eq!(policy.allows(&visa), Ok(()));
/// visa.by = Some("self".into());
/// assert_eq!(policy.allows(&visa), Err(ClaimError::UntrustedBy));
/// visa.source = "https://elsewhere.example".into();
/// assert_eq!(policy.allows(&visa), Err(ClaimError::UntrustedSource));
/// assert_eq!(SourcePolicy::default().allows(&visa), Err(ClaimError::UntrustedSource));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourcePolicy {
    /// The rules; a Visa is trusted when any rule accepts it.
    pub rules: Vec<SourceRule>,
}

/// One trust rule: Visas of `type` whose `source` matches one of `sources`, and whose `by` matches
/// one of `by` (any `by`, or none, when `by` is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRule {
    /// The Visa Type this rule is about.
    #[serde(rename = "type")]
    pub r#type: VisaType,
    /// Accepted `source` values; empty accepts none.
    pub sources: Vec<Matcher>,
    /// Accepted `by` values. Empty accepts any `by` and its absence; otherwise a Visa without `by`
    /// is refused ("Any policy expecting a specific value ... MUST fail to accept an "unknown"
    /// value", Passport 1.2 "by").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by: Vec<Matcher>,
}

impl SourceRule {
    /// A rule for `r#type` trusting `sources`, with any `by`.
    #[must_use]
    pub fn new(r#type: VisaType, sources: impl IntoIterator<Item = Matcher>) -> Self {
        Self {
            r#type,
            sources: sources.into_iter().collect(),
            by: Vec::new(),
        }
    }

    /// The same rule, restricted to the given `by` values.
    #[must_use]
    pub fn with_by(mut self, by: impl IntoIterator<Item = Matcher>) -> Self {
        self.by = by.into_iter().collect();
        self
    }
}

impl SourcePolicy {
    /// The same policy with one more rule.
    #[must_use]
    pub fn with_rule(mut self, rule: SourceRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Whether no rule exists (then nothing is trusted).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether some rule trusts this Visa's `source` and `by`.
    ///
    /// # Errors
    ///
    /// [`ClaimError::UntrustedBy`] when a rule for the type accepts the `source` but none accepts
    /// the `by`; [`ClaimError::UntrustedSource`] otherwise.
    pub fn allows(&self, visa: &VisaObject) -> Result<(), ClaimError> {
        let mut source_trusted = false;
        for rule in self.rules.iter().filter(|r| r.r#type == visa.r#type) {
            if !rule.sources.iter().any(|m| m.matches(&visa.source)) {
                continue;
            }
            source_trusted = true;
            let by_trusted = rule.by.is_empty()
                || visa
                    .by
                    .as_deref()
                    .is_some_and(|by| rule.by.iter().any(|m| m.matches(by)));
            if by_trusted {
                return Ok(());
            }
        }
        Err(if source_trusted {
            ClaimError::UntrustedBy
        } else {
            ClaimError::UntrustedSource
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{SourcePolicy, SourceRule};
    use crate::{ClaimError, Matcher, VisaObject, VisaType};

    fn policy() -> Result<SourcePolicy, serde_json::Error> {
        serde_json::from_value(json!([
            {"type": "ControlledAccessGrants", "sources": ["const:https://dac.gemj.example.jp"], "by": ["const:dac"]},
            {"type": "ControlledAccessGrants", "sources": ["const:https://ega-archive.org/dacs/EGAC00001000205"], "by": ["const:dac", "const:so"]},
            {"type": "AffiliationAndRole", "sources": ["pattern:https://grid.ac/institutes/*"], "by": ["const:so", "const:system"]},
            {"type": "ResearcherStatus", "sources": ["const:https://grid.ac/institutes/grid.240952.8"]},
            {"type": "LinkedIdentities", "sources": ["const:https://broker.gemj.example.jp"]}
        ]))
    }

    #[test]
    fn allows() -> Result<(), serde_json::Error> {
        let policy = policy()?;
        let check =
            |r#type: &str, source: &str, by: Option<&str>, expect: Result<(), ClaimError>| {
                let visa = VisaObject {
                    r#type: VisaType::parse(r#type),
                    asserted: 0,
                    value: "v".into(),
                    source: source.into(),
                    by: by.map(Into::into),
                    conditions: None,
                };
                assert_eq!(policy.allows(&visa), expect, "{type} {source} {by:?}");
            };
        let cag = "ControlledAccessGrants";
        check(cag, "https://dac.gemj.example.jp", Some("dac"), Ok(()));
        check(
            cag,
            "https://dac.gemj.example.jp",
            Some("so"),
            Err(ClaimError::UntrustedBy),
        );
        check(
            cag,
            "https://dac.gemj.example.jp",
            None,
            Err(ClaimError::UntrustedBy),
        );
        check(
            cag,
            "https://ega-archive.org/dacs/EGAC00001000205",
            Some("so"),
            Ok(()),
        );
        check(
            cag,
            "https://dac.gemj.example.jp/",
            Some("dac"),
            Err(ClaimError::UntrustedSource),
        );
        check(
            cag,
            "https://DAC.gemj.example.jp",
            Some("dac"),
            Err(ClaimError::UntrustedSource),
        );
        check(
            cag,
            "https://grid.ac/institutes/grid.240952.8",
            Some("dac"),
            Err(ClaimError::UntrustedSource),
        );
        check(
            "AffiliationAndRole",
            "https://grid.ac/institutes/grid.240952.8",
            Some("so"),
            Ok(()),
        );
        check(
            "AffiliationAndRole",
            "https://grid.ac/institutes/grid.240952.8",
            Some("self"),
            Err(ClaimError::UntrustedBy),
        );
        check(
            "AffiliationAndRole",
            "https://grid.ac/other",
            Some("so"),
            Err(ClaimError::UntrustedSource),
        );
        check(
            "ResearcherStatus",
            "https://grid.ac/institutes/grid.240952.8",
            None,
            Ok(()),
        );
        check(
            "ResearcherStatus",
            "https://grid.ac/institutes/grid.240952.8",
            Some("peer"),
            Ok(()),
        );
        check(
            "AcceptedTermsAndPolicies",
            "https://grid.ac/institutes/grid.240952.8",
            Some("self"),
            Err(ClaimError::UntrustedSource),
        );
        check(
            "LinkedIdentities",
            "https://broker.gemj.example.jp",
            Some("system"),
            Ok(()),
        );
        check(
            "https://example.org/custom",
            "https://broker.gemj.example.jp",
            None,
            Err(ClaimError::UntrustedSource),
        );
        Ok(())
    }

    #[test]
    fn default_trusts_nothing() {
        let visa = VisaObject {
            r#type: VisaType::ResearcherStatus,
            asserted: 0,
            value: "https://doi.org/10.1038/s41431-018-0219-y".into(),
            source: "https://no.organization".into(),
            by: Some("so".into()),
            conditions: None,
        };
        assert!(SourcePolicy::default().is_empty());
        assert_eq!(
            SourcePolicy::default().allows(&visa),
            Err(ClaimError::UntrustedSource)
        );
        let no_sources =
            SourcePolicy::default().with_rule(SourceRule::new(VisaType::ResearcherStatus, []));
        assert_eq!(no_sources.allows(&visa), Err(ClaimError::UntrustedSource));
        let any = SourcePolicy::default().with_rule(SourceRule::new(
            VisaType::ResearcherStatus,
            [Matcher::Pattern("*".into())],
        ));
        assert_eq!(any.allows(&visa), Ok(()));
    }

    #[test]
    fn config_format() -> Result<(), serde_json::Error> {
        let policy = policy()?;
        let back: SourcePolicy = serde_json::from_value(serde_json::to_value(&policy)?)?;
        assert_eq!(policy, back);
        assert!(
            serde_json::from_value::<SourcePolicy>(
                json!([{"type": "X", "sources": ["https://x"]}])
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<SourcePolicy>(
                json!([{"type": "X", "sources": [], "extra": 1}])
            )
            .is_err()
        );
        assert!(serde_json::from_value::<SourcePolicy>(json!([{"type": "X"}])).is_err());
        Ok(())
    }
}
