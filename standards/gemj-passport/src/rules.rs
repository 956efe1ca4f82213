//! Validity rules for parsed claims: times, audience, and the per-type format of Visa values.

use crate::values::{BY_VALUES, is_url_claim, split_affiliation_and_role};
use crate::{Audience, ClaimError, VisaClaims, VisaObject, VisaType, parse_linked_identities};

/// Checks `iat` and `exp` of a Passport or Visa against `now` (seconds since the epoch), with
/// `skew` seconds of leeway (the deployment's one clock skew, by default
/// [`DEFAULT_CLOCK_SKEW_SECS`](crate::DEFAULT_CLOCK_SKEW_SECS)).
///
/// * Expired when `now >= exp + skew`. RFC 7519 section 4.1.4 requires now to be before `exp`
///   and allows "some small leeway, usually no more than a few minutes, to account for clock
///   skew"; the same skew is granted on expiry as on issue time, so with the default a token is
///   accepted until 60 s after its `exp`.
/// * Issued in the future when `iat > now + skew` (jsonwebtoken does not check this).
/// * An invalid lifetime when `exp <= iat`.
///
/// All arithmetic saturates: no input overflows or panics.
///
/// # Errors
///
/// [`ClaimError::Expired`], [`ClaimError::IssuedInFuture`], [`ClaimError::InvalidLifetime`], in
/// that order of precedence.
///
/// # Examples
///
/// ```
/// use gemj_passport::{ClaimError, check_times};
///
/// assert_eq!(check_times(1000, 2000, 1500, 60), Ok(()));
/// assert_eq!(check_times(1000, 2000, 2059, 60), Ok(()));
/// assert_eq!(check_times(1000, 2000, 2060, 60), Err(ClaimError::Expired));
/// assert_eq!(check_times(1000, 2000, 2000, 0), Err(ClaimError::Expired));
/// assert_eq!(check_times(1061, 2000, 1000, 60), Err(ClaimError::IssuedInFuture));
/// ```
pub fn check_times(iat: i64, exp: i64, now: i64, skew: i64) -> Result<(), ClaimError> {
    if now >= exp.saturating_add(skew) {
        return Err(ClaimError::Expired);
    }
    if iat > now.saturating_add(skew) {
        return Err(ClaimError::IssuedInFuture);
    }
    if exp <= iat {
        return Err(ClaimError::InvalidLifetime);
    }
    Ok(())
}

/// Checks an `nbf` (not before) claim: refused when `nbf > now + skew`.
///
/// Neither the Passport nor the Visa format defines `nbf`, so the claim types do not carry it; a
/// verifier that sees one in a payload may apply this check (RFC 7519 section 4.1.5).
///
/// # Errors
///
/// [`ClaimError::NotYetValid`].
pub fn check_not_before(nbf: i64, now: i64, skew: i64) -> Result<(), ClaimError> {
    if nbf > now.saturating_add(skew) {
        return Err(ClaimError::NotYetValid);
    }
    Ok(())
}

/// Checks a parsed Visa at time `now`, with `skew` seconds of leeway: its times, its `asserted`,
/// and its per-type format.
///
/// 1. [`check_times`] on `iat`/`exp`.
/// 2. `asserted > now + skew` is [`ClaimError::AssertedInFuture`].
/// 3. `asserted > iat + skew` is [`ClaimError::AssertedAfterIssued`]. This sanity rule
///    is this crate's: the spec defines `iat` as when "the Visa was minted" and `asserted` as when
///    "the Visa Assertion Source made the claim", which cannot be later; an issuer "MAY use a
///    recent timestamp (for example, the current timestamp)" for `asserted`, hence the skew.
/// 4. [`check_visa_object`].
///
/// The Visa Expiry options of the spec (`asserted + maxAuthzTTL`, requested TTL) are policy of
/// the caller, not checked here.
///
/// # Errors
///
/// The first failed rule, as listed above.
///
/// # Examples
///
/// ```
/// use gemj_passport::{ClaimError, check_visa, parse_visa_claims};
/// use serde_json::json;
///
/// let visa = parse_visa_claims(&json!({
///     "iss": "https://idp.example.jp", "sub": "u1", "iat": 1000, "exp": 2000,
///     "ga4gh_visa_v1": {
///         "type": "ResearcherStatus", "asserted": 900,
///         "value": "https://doi.org/10.1038/s41431-018-0219-y",
///         "source": "https://u-tokyo.ac.jp", "by": "so"
///     }
/// }))?;
/// assert_eq!(check_visa(&visa, 1500, 60), Ok(()));
/// assert_eq!(check_visa(&visa, 2100, 60), Err(ClaimError::Expired));
/// # Ok::<(), ClaimError>(())
/// ```
pub fn check_visa(visa: &VisaClaims, now: i64, skew: i64) -> Result<(), ClaimError> {
    check_times(visa.iat, visa.exp, now, skew)?;
    let asserted = visa.ga4gh_visa_v1.asserted;
    if asserted > now.saturating_add(skew) {
        return Err(ClaimError::AssertedInFuture);
    }
    if asserted > visa.iat.saturating_add(skew) {
        return Err(ClaimError::AssertedAfterIssued);
    }
    check_visa_object(&visa.ga4gh_visa_v1)
}

/// Whether an assertion made at `asserted` is still young enough at `now` for a maximum age of
/// `max_age_secs`, with `skew` seconds of leeway: `now <= asserted + max_age_secs + skew`.
///
/// The Passport 1.2 "Visa Expiry" section lets a clearinghouse bound how long an assertion
/// authorises after it was made (`asserted + maxAuthzTTL`); a deployment sets the maximum per
/// Visa type and, for grants, per dataset. Saturating arithmetic: no input overflows.
///
/// # Examples
///
/// ```
/// use gemj_passport::asserted_within;
///
/// assert!(asserted_within(1000, 500, 1500, 60));
/// assert!(asserted_within(1000, 500, 1560, 60));
/// assert!(!asserted_within(1000, 500, 1561, 60));
/// ```
#[must_use]
pub fn asserted_within(asserted: i64, max_age_secs: i64, now: i64, skew: i64) -> bool {
    now <= asserted.saturating_add(max_age_secs).saturating_add(skew)
}

/// Checks the format of a Visa Object's values (Passport 1.2 "Visa Object Claims", "GA4GH
/// Standard Visa Type Definitions", "Custom Visa Types").
///
/// * A custom `type` must be a URL Claim ([`ClaimError::InvalidVisaType`]).
/// * `value` must be non-empty; `source` must be a URL Claim; `by`, when present, must be one of
///   the fixed vocabulary `self`, `peer`, `system`, `so`, `dac` ([`ClaimError::InvalidClaim`]).
/// * `AffiliationAndRole`: `role@affiliation` (see
///   [`split_affiliation_and_role`](crate::split_affiliation_and_role)).
/// * `AcceptedTermsAndPolicies`, `ControlledAccessGrants`: `value` is a URL Claim and the Visa
///   "MUST include the by claim" ([`ClaimError::MissingClaim`]).
/// * `ResearcherStatus`: `value` is a URL Claim.
/// * `LinkedIdentities`: `value` parses with [`parse_linked_identities`]
///   ([`ClaimError::BadLinkedIdentities`]).
///
/// # Errors
///
/// The first failed rule, as listed above.
pub fn check_visa_object(visa: &VisaObject) -> Result<(), ClaimError> {
    if let VisaType::Other(name) = &visa.r#type
        && !is_url_claim(name)
    {
        return Err(ClaimError::InvalidVisaType);
    }
    if visa.value.is_empty() {
        return Err(ClaimError::InvalidClaim("ga4gh_visa_v1.value"));
    }
    if !is_url_claim(&visa.source) {
        return Err(ClaimError::InvalidClaim("ga4gh_visa_v1.source"));
    }
    if let Some(by) = &visa.by
        && !BY_VALUES.contains(&by.as_str())
    {
        return Err(ClaimError::InvalidClaim("ga4gh_visa_v1.by"));
    }
    let url_value = || {
        if is_url_claim(&visa.value) {
            Ok(())
        } else {
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.value"))
        }
    };
    let by_required = || match visa.by {
        Some(_) => Ok(()),
        None => Err(ClaimError::MissingClaim("ga4gh_visa_v1.by")),
    };
    match visa.r#type {
        VisaType::AffiliationAndRole => split_affiliation_and_role(&visa.value)
            .map(|_| ())
            .ok_or(ClaimError::InvalidClaim("ga4gh_visa_v1.value")),
        VisaType::AcceptedTermsAndPolicies | VisaType::ControlledAccessGrants => {
            url_value()?;
            by_required()
        }
        VisaType::ResearcherStatus => url_value(),
        VisaType::LinkedIdentities => parse_linked_identities(&visa.value).map(|_| ()),
        VisaType::Other(_) => Ok(()),
    }
}

/// Checks the `aud` claim of a Passport against the audience this service answers to.
///
/// RFC 7519 section 4.1.3: "If the principal processing the claim does not identify itself with
/// a value in the "aud" claim when this claim is present, then the JWT MUST be rejected." The AAI
/// profile makes `aud` OPTIONAL on Passports. Hence:
///
/// | `aud`       | `required`  | result                                   |
/// |-------------|-------------|------------------------------------------|
/// | absent      | `None`      | accepted                                 |
/// | present     | `Some(r)`   | accepted iff `r` is one of the values    |
/// | present     | `None`      | refused: this service names no audience  |
/// | absent      | `Some(_)`   | refused: a configured audience is required |
///
/// The last row is this crate's choice: a gateway that configures its audience only accepts
/// Passports minted for it (Token Exchange with `resource`/`audience`), so a Passport stolen from
/// another service cannot be replayed here.
///
/// # Errors
///
/// [`ClaimError::WrongAudience`].
///
/// # Examples
///
/// ```
/// use gemj_passport::{Audience, ClaimError, check_audience};
///
/// let aud = Audience::Many(vec!["https://gemj.example.jp".into()]);
/// assert_eq!(check_audience(Some(&aud), Some("https://gemj.example.jp")), Ok(()));
/// assert_eq!(check_audience(Some(&aud), Some("https://other.example")), Err(ClaimError::WrongAudience));
/// assert_eq!(check_audience(None, None), Ok(()));
/// ```
pub fn check_audience(aud: Option<&Audience>, required: Option<&str>) -> Result<(), ClaimError> {
    match (aud, required) {
        (None, None) => Ok(()),
        (Some(aud), Some(required)) if aud.contains(required) => Ok(()),
        _ => Err(ClaimError::WrongAudience),
    }
}

#[cfg(test)]
mod tests {
    use super::{
        asserted_within, check_audience, check_not_before, check_times, check_visa,
        check_visa_object,
    };
    use crate::{
        Audience, ClaimError, DEFAULT_CLOCK_SKEW_SECS as CLOCK_SKEW_SECS, VisaClaims, VisaObject,
        VisaType,
    };

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn times() {
        #[track_caller]
        fn check(iat: i64, exp: i64, now: i64, expect: Result<(), ClaimError>) {
            assert_eq!(
                check_times(iat, exp, now, CLOCK_SKEW_SECS),
                expect,
                "iat={iat} exp={exp} now={now}"
            );
        }
        let s = CLOCK_SKEW_SECS;
        check(NOW - 10, NOW + 3600, NOW, Ok(()));
        // Expiry, with the skew as leeway.
        check(NOW - 3600, NOW, NOW, Ok(()));
        check(NOW - 3600, NOW - s + 1, NOW, Ok(()));
        check(NOW - 3600, NOW - s, NOW, Err(ClaimError::Expired));
        check(NOW - 3600, NOW - s - 1, NOW, Err(ClaimError::Expired));
        check(NOW - 7200, NOW - 3600, NOW, Err(ClaimError::Expired));
        // Issued in the future, beyond the skew only.
        check(NOW + s, NOW + 3600, NOW, Ok(()));
        check(
            NOW + s + 1,
            NOW + 3600,
            NOW,
            Err(ClaimError::IssuedInFuture),
        );
        check(NOW + 3600, NOW + 7200, NOW, Err(ClaimError::IssuedInFuture));
        // Expired wins over issued in the future.
        check(NOW + 3600, NOW - 3600, NOW, Err(ClaimError::Expired));
        // Lifetime.
        check(NOW, NOW, NOW, Err(ClaimError::InvalidLifetime));
        check(NOW + 10, NOW + 5, NOW, Err(ClaimError::InvalidLifetime));
        check(NOW, NOW + 1, NOW, Ok(()));
        // Extremes do not overflow.
        check(i64::MIN, i64::MAX, NOW, Ok(()));
        check(i64::MIN, i64::MAX, i64::MAX, Err(ClaimError::Expired));
        check(
            i64::MAX,
            i64::MAX,
            i64::MIN,
            Err(ClaimError::IssuedInFuture),
        );
        check(
            i64::MIN,
            i64::MIN,
            i64::MIN,
            Err(ClaimError::InvalidLifetime),
        );
        check(0, 0, i64::MIN, Err(ClaimError::IssuedInFuture));
    }

    #[test]
    fn one_skew_for_every_rule() {
        // The skew is the deployment's: with none, exp, iat, nbf and asserted are exact.
        assert_eq!(check_times(NOW - 10, NOW, NOW, 0), Err(ClaimError::Expired));
        assert_eq!(check_times(NOW - 10, NOW + 1, NOW, 0), Ok(()));
        assert_eq!(
            check_times(NOW + 1, NOW + 10, NOW, 0),
            Err(ClaimError::IssuedInFuture)
        );
        assert_eq!(
            check_not_before(NOW + 1, NOW, 0),
            Err(ClaimError::NotYetValid)
        );
        // With a wider skew, each of them moves by the same amount.
        let s = 300;
        assert_eq!(check_times(NOW - 3600, NOW - s + 1, NOW, s), Ok(()));
        assert_eq!(
            check_times(NOW - 3600, NOW - s, NOW, s),
            Err(ClaimError::Expired)
        );
        assert_eq!(check_times(NOW + s, NOW + 3600, NOW, s), Ok(()));
        assert_eq!(check_not_before(NOW + s, NOW, s), Ok(()));
        let mut v = visa(
            "ResearcherStatus",
            "https://doi.org/10.1038/s41431-018-0219-y",
            Some("so"),
        );
        v.iat = NOW;
        v.ga4gh_visa_v1.asserted = NOW + s;
        assert_eq!(check_visa(&v, NOW, s), Ok(()));
        assert_eq!(check_visa(&v, NOW, 0), Err(ClaimError::AssertedInFuture));
        // The age of an assertion, with the same leeway.
        assert!(asserted_within(NOW - 100, 100, NOW, 0));
        assert!(!asserted_within(NOW - 101, 100, NOW, 0));
        assert!(asserted_within(NOW - 101 - s, 100, NOW, s + 1));
        assert!(asserted_within(i64::MAX, i64::MAX, i64::MAX, i64::MAX));
        assert!(!asserted_within(i64::MIN, 0, 0, 0));
    }

    #[test]
    fn not_before() {
        assert_eq!(check_not_before(NOW, NOW, CLOCK_SKEW_SECS), Ok(()));
        assert_eq!(
            check_not_before(NOW + CLOCK_SKEW_SECS, NOW, CLOCK_SKEW_SECS),
            Ok(())
        );
        assert_eq!(
            check_not_before(NOW + CLOCK_SKEW_SECS + 1, NOW, CLOCK_SKEW_SECS),
            Err(ClaimError::NotYetValid)
        );
        assert_eq!(
            check_not_before(i64::MAX, i64::MAX, CLOCK_SKEW_SECS),
            Ok(())
        );
    }

    fn visa(r#type: &str, value: &str, by: Option<&str>) -> VisaClaims {
        VisaClaims {
            iss: "https://issuer.example.jp".into(),
            sub: "user-1".into(),
            iat: NOW - 100,
            exp: NOW + 3600,
            jti: None,
            ga4gh_visa_v1: VisaObject {
                r#type: VisaType::parse(r#type),
                asserted: NOW - 1000,
                value: value.into(),
                source: "https://grid.ac/institutes/grid.240952.8".into(),
                by: by.map(Into::into),
                conditions: None,
            },
        }
    }

    #[test]
    fn visa_times() {
        #[track_caller]
        fn check(iat: i64, exp: i64, asserted: i64, expect: Result<(), ClaimError>) {
            let mut v = visa(
                "ResearcherStatus",
                "https://doi.org/10.1038/s41431-018-0219-y",
                Some("so"),
            );
            v.iat = iat;
            v.exp = exp;
            v.ga4gh_visa_v1.asserted = asserted;
            assert_eq!(
                check_visa(&v, NOW, CLOCK_SKEW_SECS),
                expect,
                "iat={iat} exp={exp} asserted={asserted}"
            );
        }
        let s = CLOCK_SKEW_SECS;
        check(NOW - 100, NOW + 100, NOW - 1000, Ok(()));
        check(NOW - 100, NOW + 100, NOW - 100, Ok(()));
        check(NOW - 100, NOW + 100, NOW - 100 + s, Ok(()));
        check(
            NOW - 100,
            NOW + 100,
            NOW - 100 + s + 1,
            Err(ClaimError::AssertedAfterIssued),
        );
        check(NOW, NOW + 100, NOW + s, Ok(()));
        check(
            NOW,
            NOW + 100,
            NOW + s + 1,
            Err(ClaimError::AssertedInFuture),
        );
        check(
            NOW + s,
            NOW + 100,
            NOW + s + 1,
            Err(ClaimError::AssertedInFuture),
        );
        check(NOW - 100, NOW + 100, i64::MIN, Ok(()));
        check(
            NOW - 100,
            NOW + 100,
            i64::MAX,
            Err(ClaimError::AssertedInFuture),
        );
        check(NOW - 200, NOW - 100, NOW - 1000, Err(ClaimError::Expired));
        check(NOW + s + 1, NOW + 100, NOW, Err(ClaimError::IssuedInFuture));
    }

    #[test]
    fn visa_shapes() {
        #[track_caller]
        fn check(r#type: &str, value: &str, by: Option<&str>, expect: Result<(), ClaimError>) {
            let v = visa(r#type, value, by);
            assert_eq!(
                check_visa(&v, NOW, CLOCK_SKEW_SECS),
                expect,
                "{type} {value:?} {by:?}"
            );
        }
        const RA: &str = "https://doi.org/10.1038/s41431-018-0219-y";
        let bad_value = Err(ClaimError::InvalidClaim("ga4gh_visa_v1.value"));
        let no_by = Err(ClaimError::MissingClaim("ga4gh_visa_v1.by"));
        check(
            "AffiliationAndRole",
            "faculty@med.stanford.edu",
            Some("so"),
            Ok(()),
        );
        check(
            "AffiliationAndRole",
            "faculty@med.stanford.edu",
            None,
            Ok(()),
        );
        check("AffiliationAndRole", "faculty", Some("so"), bad_value);
        check("AffiliationAndRole", "", Some("so"), bad_value);
        check("AcceptedTermsAndPolicies", RA, Some("self"), Ok(()));
        check("AcceptedTermsAndPolicies", RA, None, no_by);
        check(
            "AcceptedTermsAndPolicies",
            "ethics v1",
            Some("self"),
            bad_value,
        );
        check("ResearcherStatus", RA, None, Ok(()));
        check("ResearcherStatus", "bona fide", Some("so"), bad_value);
        check(
            "ControlledAccessGrants",
            "https://gemj.example.jp/datasets/D1",
            Some("dac"),
            Ok(()),
        );
        check(
            "ControlledAccessGrants",
            "https://gemj.example.jp/datasets/D1",
            None,
            no_by,
        );
        check("ControlledAccessGrants", "D1", Some("dac"), bad_value);
        check(
            "ControlledAccessGrants",
            &format!("https://x.jp/{}", "d".repeat(300)),
            Some("dac"),
            bad_value,
        );
        check(
            "LinkedIdentities",
            "10001,https:%2F%2Fissuer.example1.org",
            Some("system"),
            Ok(()),
        );
        check(
            "LinkedIdentities",
            "10001",
            Some("system"),
            Err(ClaimError::BadLinkedIdentities),
        );
        check("LinkedIdentities", "", Some("system"), bad_value);
        check("https://ras.nih.gov/visas/v1.1", "anything", None, Ok(()));
        check(
            "researcherstatus",
            RA,
            None,
            Err(ClaimError::InvalidVisaType),
        );
        check("", RA, None, Err(ClaimError::InvalidVisaType));
        check(
            "ResearcherStatus",
            RA,
            Some("signing official"),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.by")),
        );
        check(
            "ResearcherStatus",
            RA,
            Some("SO"),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.by")),
        );
        check(
            "ResearcherStatus",
            RA,
            Some(""),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.by")),
        );
        for by in ["self", "peer", "system", "so", "dac"] {
            check("ResearcherStatus", RA, Some(by), Ok(()));
        }
    }

    #[test]
    fn visa_source() {
        let mut v = visa(
            "ResearcherStatus",
            "https://doi.org/10.1038/s41431-018-0219-y",
            None,
        );
        v.ga4gh_visa_v1.source = "Stanford".into();
        assert_eq!(
            check_visa_object(&v.ga4gh_visa_v1),
            Err(ClaimError::InvalidClaim("ga4gh_visa_v1.source"))
        );
        v.ga4gh_visa_v1.source = "https://no.organization".into();
        assert_eq!(check_visa_object(&v.ga4gh_visa_v1), Ok(()));
    }

    #[test]
    fn audience() {
        #[track_caller]
        fn check(aud: Option<Audience>, required: Option<&str>, expect: Result<(), ClaimError>) {
            assert_eq!(
                check_audience(aud.as_ref(), required),
                expect,
                "{aud:?} {required:?}"
            );
        }
        let me = "https://gemj.example.jp";
        let one = |s: &str| Some(Audience::One(s.into()));
        let many = |v: &[&str]| Some(Audience::Many(v.iter().map(|s| (*s).to_owned()).collect()));
        check(None, None, Ok(()));
        check(one(me), Some(me), Ok(()));
        check(many(&["https://a.example", me]), Some(me), Ok(()));
        check(
            one("https://a.example"),
            Some(me),
            Err(ClaimError::WrongAudience),
        );
        check(
            one("https://gemj.example.jp/"),
            Some(me),
            Err(ClaimError::WrongAudience),
        );
        check(
            one("HTTPS://GEMJ.EXAMPLE.JP"),
            Some(me),
            Err(ClaimError::WrongAudience),
        );
        check(many(&[]), Some(me), Err(ClaimError::WrongAudience));
        check(
            many(&["https://a.example"]),
            Some(me),
            Err(ClaimError::WrongAudience),
        );
        check(None, Some(me), Err(ClaimError::WrongAudience));
        check(one(me), None, Err(ClaimError::WrongAudience));
        check(many(&[]), None, Err(ClaimError::WrongAudience));
    }
}
