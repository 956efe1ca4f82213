//! GA4GH Passport and Visa 1.2 claim types and rules: pure, no crypto, no I/O.
//!
//! This crate owns what a Passport Clearinghouse must decide about the *contents* of Passports and
//! Visas once their signatures are verified elsewhere (gemj-auth):
//!
//! * the claim types and strict parsers: [`parse_passport_claims`], [`parse_visa_claims`],
//!   [`VisaObject`], [`VisaType`], [`Condition`], [`Matcher`];
//! * limits: [`MAX_VISAS`], [`MAX_VISA_BYTES`];
//! * time, audience and format rules: [`check_times`], [`check_visa`], [`check_audience`];
//! * `conditions` in disjunctive normal form: [`conditions_met`], with the spec's
//!   [Pattern Matching](pattern_matches);
//! * `LinkedIdentities`: [`parse_linked_identities`], [`IdentityLinks`];
//! * trust in Visa Assertion Sources: [`SourcePolicy`];
//! * helpers: [`dataset_from_grant`], [`split_affiliation_and_role`], [`visa_hash`].
//!
//! Specifications: GA4GH Passport 1.2
//! (<https://github.com/ga4gh-duri/ga4gh-duri.github.io/blob/master/researcher_ids/ga4gh_passport_v1.md>)
//! and the GA4GH AAI OIDC Profile 1.2 (<https://ga4gh.github.io/data-security/aai-openid-connect-profile>).
//!
//! A typical evaluation of one Passport, after the Passport JWT is verified:
//!
//! 1. [`parse_passport_claims`], [`check_times`], [`check_audience`];
//! 2. for each Visa string: verify its signature, [`visa_hash`] for the cache key,
//!    [`parse_visa_claims`], [`check_visa`], [`SourcePolicy::allows`];
//! 3. build [`IdentityLinks`] from the accepted `LinkedIdentities` Visas and keep the Visas whose
//!    identity [`IdentityLinks::is_linked`];
//! 4. keep the Visas whose `conditions` are met by the others ([`check_conditions`]);
//! 5. map `ControlledAccessGrants` values to datasets with [`dataset_from_grant`].
//!
//! Invariant: nothing here verifies a signature, fetches a key, reads a clock or does I/O; the
//! current time is always a parameter. Invariant: no function panics on any input, and no error
//! carries token content, only claim names.

mod claims;
mod condition;
mod error;
mod json;
mod linked;
mod matcher;
mod policy;
mod rules;
mod values;
mod visa_type;

pub use claims::{
    Audience, PassportClaims, VisaClaims, VisaObject, parse_passport_claims, parse_visa_claims,
};
pub use condition::{Condition, check_conditions, conditions_met};
pub use error::ClaimError;
pub use linked::{
    IdentityLinks, LinkedIdentity, format_linked_identities, parse_linked_identities,
};
pub use matcher::{Matcher, pattern_matches};
pub use policy::{SourcePolicy, SourceRule};
pub use rules::{
    asserted_within, check_audience, check_not_before, check_times, check_visa, check_visa_object,
};
pub use values::{
    BY_VALUES, MAX_URL_CLAIM_LEN, dataset_from_grant, is_url_claim, split_affiliation_and_role,
};
pub use visa_type::VisaType;

use sha2::{Digest, Sha256};

/// The most Visas accepted in one Passport; a Passport with more is refused
/// ([`ClaimError::TooManyVisas`]). The spec sets no limit; this bounds the verification work one
/// request can cause.
pub const MAX_VISAS: usize = 256;

/// The longest Visa JWT accepted, in bytes; a longer one is refused
/// ([`ClaimError::VisaTooLarge`]).
pub const MAX_VISA_BYTES: usize = 16 * 1024;

/// The default clock skew tolerated, in seconds, on `iat`, `exp`, `nbf` and `asserted`. The rules
/// take the skew as a parameter, so one configured value applies at every level alike.
pub const DEFAULT_CLOCK_SKEW_SECS: i64 = 60;

/// The largest clock skew a deployment may configure: RFC 7519 allows "some small leeway,
/// usually no more than a few minutes".
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The `typ` header of a Passport JWT, without the `application/` prefix (AAI OIDC Profile 1.2:
/// "`typ`: REQUIRED where the value must be `application/vnd.ga4gh.passport+jwt`"; RFC 7515
/// section 4.1.9 recommends omitting `application/`, and says to compare case-insensitively).
pub const PASSPORT_TYP: &str = "vnd.ga4gh.passport+jwt";

/// The RECOMMENDED `typ` header of a Visa Document Token (Passport 1.2 "typ": "OPTIONAL. The
/// value of the typ header claim is RECOMMENDED to be `vnd.ga4gh.visa+jwt`"; `JWT` is also
/// allowed, and `at+jwt` for Visa Access Tokens).
pub const VISA_TYP: &str = "vnd.ga4gh.visa+jwt";

/// The lowercase hex SHA-256 of the exact bytes of a Visa (or any token) string.
///
/// Used as the key of the verified-Visa cache and in audit records, so that tokens themselves are
/// never stored or logged.
///
/// # Examples
///
/// ```
/// use gemj_passport::visa_hash;
///
/// assert_eq!(
///     visa_hash("abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
#[must_use]
pub fn visa_hash(jwt: &str) -> String {
    hex::encode(Sha256::digest(jwt.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::visa_hash;

    #[test]
    fn hashes() {
        #[track_caller]
        fn check(input: &str, expect: &str) {
            assert_eq!(visa_hash(input), expect, "{input:?}");
        }
        check(
            "",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        );
        check(
            "abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        );
        assert_ne!(visa_hash("eyJ.a.b"), visa_hash("eyJ.a.b "));
        assert_eq!(visa_hash("eyJ.a.b").len(), 64);
    }
}
