//! The one error type of the crate: why a Passport or Visa is refused.

/// Why a Passport or a Visa is refused.
///
/// Every variant has a stable snake_case [`code`](ClaimError::code), used in audit records and in
/// error bodies. The `Display` text is for humans and may change; never match on it. The enum is
/// `Copy` and carries no token content: a claim name at most, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// A REQUIRED claim is absent (AAI OIDC Profile 1.2 "Passport Token Contents": `iss`, `sub`,
    /// `iat`, `exp` and `ga4gh_passport_v1` are REQUIRED; Passport 1.2 "Visa Format": "The standard
    /// JWT payload claims `iss`, `sub`, `iat`, `exp` are all REQUIRED"; "Visa Object Claims":
    /// `type`, `asserted`, `value`, `source` are REQUIRED; `by` for the types that "MUST include"
    /// it).
    #[error("missing claim `{0}`")]
    MissingClaim(&'static str),
    /// A claim is present but has the wrong JSON type or a value outside its defined format (for
    /// example a `source` that is not a URL Claim, or an `AffiliationAndRole` value without `@`).
    #[error("invalid claim `{0}`")]
    InvalidClaim(&'static str),
    /// The token's `exp`, plus the clock skew, is not after now
    /// (RFC 7519 section 4.1.4).
    #[error("token expired")]
    Expired,
    /// The token's `iat` is more than the clock skew in the future.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// The Visa's `asserted` is more than the clock skew in the future.
    #[error("visa asserted in the future")]
    AssertedInFuture,
    /// The Visa's `asserted` is more than the clock skew after its
    /// `iat`: an assertion cannot be made after the Visa carrying it was minted.
    #[error("visa asserted after it was issued")]
    AssertedAfterIssued,
    /// The token's `exp` is not after its `iat`.
    #[error("token expires before it is issued")]
    InvalidLifetime,
    /// The token's `nbf` is more than the clock skew in the future
    /// (RFC 7519 section 4.1.5).
    #[error("token not yet valid")]
    NotYetValid,
    /// The Passport carries more than [`MAX_VISAS`](crate::MAX_VISAS) Visas.
    #[error("too many visas")]
    TooManyVisas,
    /// A Visa is longer than [`MAX_VISA_BYTES`](crate::MAX_VISA_BYTES).
    #[error("visa too large")]
    VisaTooLarge,
    /// The `aud` claim does not name this service, or a required `aud` is absent.
    #[error("wrong audience")]
    WrongAudience,
    /// A `conditions` claim or a Condition Clause is malformed (Passport 1.2 "conditions").
    #[error("malformed visa condition")]
    BadCondition,
    /// A `LinkedIdentities` value is not a list of `<uri-encoded-sub>,<uri-encoded-iss>` entries.
    #[error("malformed LinkedIdentities value")]
    BadLinkedIdentities,
    /// A Visa's identity is neither the Passport's identity nor linked to it by a trusted
    /// `LinkedIdentities` Visa (Passport 1.2 "General Requirements" 8.4).
    #[error("visa subject is not linked to the passport subject")]
    SubjectMismatch,
    /// The Visa has `conditions` and no alternative of them is met by the other Visas.
    #[error("visa conditions not met")]
    ConditionsNotMet,
    /// No trust rule of the [`SourcePolicy`](crate::SourcePolicy) accepts the Visa's `source`.
    #[error("untrusted visa source")]
    UntrustedSource,
    /// The `source` is trusted but the rule does not accept the Visa's `by` (or its absence).
    #[error("untrusted visa authority (by)")]
    UntrustedBy,
    /// A custom Visa type that is not a URL Claim (Passport 1.2 "Custom Visa Types").
    #[error("invalid visa type")]
    InvalidVisaType,
}

impl ClaimError {
    /// The stable snake_case code of this error, for audit records and error bodies.
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_passport::ClaimError;
    ///
    /// assert_eq!(ClaimError::MissingClaim("iss").code(), "missing_claim");
    /// assert_eq!(ClaimError::ConditionsNotMet.code(), "conditions_not_met");
    /// ```
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
            Self::AssertedInFuture => "asserted_in_future",
            Self::AssertedAfterIssued => "asserted_after_issued",
            Self::InvalidLifetime => "invalid_lifetime",
            Self::NotYetValid => "not_yet_valid",
            Self::TooManyVisas => "too_many_visas",
            Self::VisaTooLarge => "visa_too_large",
            Self::WrongAudience => "wrong_audience",
            Self::BadCondition => "bad_condition",
            Self::BadLinkedIdentities => "bad_linked_identities",
            Self::SubjectMismatch => "subject_mismatch",
            Self::ConditionsNotMet => "conditions_not_met",
            Self::UntrustedSource => "untrusted_source",
            Self::UntrustedBy => "untrusted_by",
            Self::InvalidVisaType => "invalid_visa_type",
        }
    }

    /// The claim this error is about, when it names one (`MissingClaim`, `InvalidClaim`).
    #[must_use]
    pub fn claim(&self) -> Option<&'static str> {
        match self {
            Self::MissingClaim(name) | Self::InvalidClaim(name) => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClaimError;

    #[test]
    fn codes_are_unique_snake_case() {
        let all = [
            ClaimError::MissingClaim("iss"),
            ClaimError::InvalidClaim("iss"),
            ClaimError::Expired,
            ClaimError::IssuedInFuture,
            ClaimError::AssertedInFuture,
            ClaimError::AssertedAfterIssued,
            ClaimError::InvalidLifetime,
            ClaimError::NotYetValid,
            ClaimError::TooManyVisas,
            ClaimError::VisaTooLarge,
            ClaimError::WrongAudience,
            ClaimError::BadCondition,
            ClaimError::BadLinkedIdentities,
            ClaimError::SubjectMismatch,
            ClaimError::ConditionsNotMet,
            ClaimError::UntrustedSource,
            ClaimError::UntrustedBy,
            ClaimError::InvalidVisaType,
        ];
        let mut codes: Vec<&str> = all.iter().map(ClaimError::code).collect();
        for code in &codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
