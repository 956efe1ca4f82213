//! JWS Compact Serialization parsing with this crate's header rules: only `RS256` and `ES256`,
//! no `crit`, a required `kid`, and a `typ` checked against what the caller expects.
//!
//! Nothing here verifies a signature; [`Jws`] keeps the signing input and the decoded signature
//! for [`crate::jwks::VerifyingKey::verify`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::json::parse_strict;

/// The longest `kid` accepted.
const MAX_KID_LEN: usize = 256;
/// The longest header segment accepted (base64url), in bytes.
const MAX_HEADER_LEN: usize = 4096;

/// The signature algorithms this crate accepts (AAI OIDC Profile 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 to 8192 bits.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Alg {
    /// The JWA name.
    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// Which `typ` header values a token may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypRule {
    /// Exactly `vnd.ga4gh.passport+jwt`.
    Passport,
    /// Exactly `vnd.ga4gh.visa+jwt`.
    Visa,
    /// `vnd.ga4gh.visa+jwt`, `JWT`, or no `typ` (Passport 1.2 makes the Visa `typ` OPTIONAL;
    /// Passport 1.0 Visas say `JWT`).
    VisaLenient,
    /// `JWT` or no `typ`: a plain JWT such as an institution's request token (RFC 7519 section
    /// 5.1). GA4GH Passport and Visa types are refused, so a Passport or Visa cannot be presented
    /// as one.
    Jwt,
}

impl TypRule {
    /// Whether `typ` (absent when `None`) is acceptable. Media types compare case-insensitively
    /// and may carry the `application/` prefix (RFC 7515 section 4.1.9).
    pub(crate) fn allows(self, typ: Option<&str>) -> bool {
        let Some(typ) = typ else {
            return matches!(self, Self::VisaLenient | Self::Jwt);
        };
        let bare = strip_prefix_ignore_case(typ, "application/").unwrap_or(typ);
        match self {
            Self::Passport => bare.eq_ignore_ascii_case(gemj_passport::PASSPORT_TYP),
            Self::Visa => bare.eq_ignore_ascii_case(gemj_passport::VISA_TYP),
            Self::VisaLenient => {
                bare.eq_ignore_ascii_case(gemj_passport::VISA_TYP)
                    || bare.eq_ignore_ascii_case("JWT")
            }
            Self::Jwt => bare.eq_ignore_ascii_case("JWT"),
        }
    }
}

/// `s` without `prefix`, compared case-insensitively.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// The header parameters this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The signature algorithm.
    pub alg: Alg,
    /// The key id.
    pub kid: String,
    /// The JWK Set URL, if the token names one.
    pub jku: Option<String>,
    /// The `typ` header, if any.
    pub typ: Option<String>,
}

/// A parsed, not yet verified, JWS.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    /// The checked header.
    pub header: Header,
    /// The payload, always a JSON object.
    pub payload: Value,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`.
    pub signing_input: &'a [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Parses a compact JWS and checks its header.
///
/// Checks, in this order: length (`token_too_large`), three base64url segments of a JSON object
/// header (`malformed_token`), `alg` (`alg_not_allowed`), `crit` (`crit_not_understood`), `typ`
/// (`wrong_typ`), `kid` (`missing_kid`), then the payload (`malformed_token`). Embedded keys
/// (`jwk`, `x5c`, `x5u`) are ignored: keys only ever come from the issuer's configured JWKS URL.
pub(crate) fn parse(token: &str, max_len: usize, typ: TypRule) -> Result<Jws<'_>, AuthError> {
    if token.len() > max_len {
        return Err(AuthError::TokenTooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::MalformedToken("not three segments"));
    };
    if h.len() > MAX_HEADER_LEN {
        return Err(AuthError::MalformedToken("header too large"));
    }
    let header = decode_object(h, "header")?;
    let header = check_header(&header, typ)?;
    let payload = Value::Object(decode_object(p, "payload")?);
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| AuthError::MalformedToken("signature not base64url"))?;
    let signing_input = token
        .as_bytes()
        .get(..h.len() + 1 + p.len())
        .ok_or(AuthError::MalformedToken("segments"))?;
    Ok(Jws {
        header,
        payload,
        signing_input,
        signature,
    })
}

/// Decodes one base64url segment holding a JSON object.
fn decode_object(segment: &str, what: &'static str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| {
        AuthError::MalformedToken(if what == "header" {
            "header not base64url"
        } else {
            "payload not base64url"
        })
    })?;
    match parse_strict(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AuthError::MalformedToken(if what == "header" {
            "header not a JSON object"
        } else {
            "payload not a JSON object"
        })),
    }
}

/// Applies the header rules.
fn check_header(header: &Map<String, Value>, typ: TypRule) -> Result<Header, AuthError> {
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Alg::Rs256,
        Some("ES256") => Alg::Es256,
        _ => return Err(AuthError::AlgNotAllowed),
    };
    if header.contains_key("crit") {
        return Err(AuthError::CritNotUnderstood);
    }
    let typ_value = match header.get("typ") {
        None => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => return Err(AuthError::WrongTyp),
    };
    if !typ.allows(typ_value) {
        return Err(AuthError::WrongTyp);
    }
    let kid = match header.get("kid") {
        Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_LEN => k.clone(),
        None => return Err(AuthError::MissingKid),
        Some(_) => return Err(AuthError::MalformedToken("kid not a short string")),
    };
    let jku = match header.get("jku") {
        None => None,
        Some(Value::String(j)) => Some(j.clone()),
        Some(_) => return Err(AuthError::UntrustedJku),
    };
    Ok(Header {
        alg,
        kid,
        jku,
        typ: typ_value.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::{TypRule, parse};

    fn token(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn header_rules() {
        #[track_caller]
        fn check(header: &str, rule: TypRule, expect: &str) {
            let t = token(header, r#"{"iss":"x"}"#);
            let got = match parse(&t, 1 << 20, rule) {
                Ok(_) => "ok",
                Err(e) => e.code(),
            };
            assert_eq!(got, expect, "{header}");
        }
        use TypRule::{Jwt, Passport, Visa, VisaLenient};
        let p = r#""typ":"vnd.ga4gh.passport+jwt","kid":"k""#;
        check(&format!(r#"{{"alg":"RS256",{p}}}"#), Passport, "ok");
        check(&format!(r#"{{"alg":"ES256",{p}}}"#), Passport, "ok");
        check(
            r#"{"alg":"RS256","typ":"application/VND.GA4GH.PASSPORT+JWT","kid":"k"}"#,
            Passport,
            "ok",
        );
        check(
            &format!(r#"{{"alg":"none",{p}}}"#),
            Passport,
            "alg_not_allowed",
        );
        check(
            &format!(r#"{{"alg":"None",{p}}}"#),
            Passport,
            "alg_not_allowed",
        );
        check(
            &format!(r#"{{"alg":"rs256",{p}}}"#),
            Passport,
            "alg_not_allowed",
        );
        check(
            &format!(r#"{{"alg":"HS256",{p}}}"#),
            Passport,
            "alg_not_allowed",
        );
        check(
            &format!(r#"{{"alg":"PS256",{p}}}"#),
            Passport,
            "alg_not_allowed",
        );
        check(
            &format!(r#"{{"alg":"EdDSA",{p}}}"#),
            Passport,
            "alg_not_allowed",
        );
        check(
            &format!(r#"{{"alg":["RS256"],{p}}}"#),
            Passport,
            "alg_not_allowed",
        );
        check(&format!(r#"{{{p}}}"#), Passport, "alg_not_allowed");
        check(
            &format!(r#"{{"alg":"RS256","crit":[],{p}}}"#),
            Passport,
            "crit_not_understood",
        );
        check(
            &format!(r#"{{"alg":"RS256","crit":["b64"],"b64":false,{p}}}"#),
            Passport,
            "crit_not_understood",
        );
        check(
            &format!(r#"{{"alg":"RS256","alg":"RS256",{p}}}"#),
            Passport,
            "malformed_token",
        );
        check(
            r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#,
            Passport,
            "wrong_typ",
        );
        check(r#"{"alg":"RS256","kid":"k"}"#, Passport, "wrong_typ");
        check(
            r#"{"alg":"RS256","typ":"vnd.ga4gh.visa+jwt","kid":"k"}"#,
            Passport,
            "wrong_typ",
        );
        check(
            r#"{"alg":"RS256","typ":"vnd.ga4gh.visa+jwt","kid":"k"}"#,
            Visa,
            "ok",
        );
        check(
            r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#,
            Visa,
            "wrong_typ",
        );
        check(
            r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#,
            VisaLenient,
            "ok",
        );
        check(
            r#"{"alg":"RS256","typ":"application/JWT","kid":"k"}"#,
            VisaLenient,
            "ok",
        );
        check(r#"{"alg":"RS256","kid":"k"}"#, VisaLenient, "ok");
        check(
            r#"{"alg":"RS256","typ":"at+jwt","kid":"k"}"#,
            VisaLenient,
            "wrong_typ",
        );
        check(
            r#"{"alg":"RS256","typ":"vnd.ga4gh.passport+jwt","kid":"k"}"#,
            VisaLenient,
            "wrong_typ",
        );
        check(
            r#"{"alg":"RS256","typ":"vnd.ga4gh.passport+jwt"}"#,
            Passport,
            "missing_kid",
        );
        check(
            r#"{"alg":"RS256","typ":"vnd.ga4gh.passport+jwt","kid":""}"#,
            Passport,
            "malformed_token",
        );
        check(
            r#"{"alg":"RS256","typ":"vnd.ga4gh.passport+jwt","kid":7}"#,
            Passport,
            "malformed_token",
        );
        check(
            r#"{"alg":"RS256","typ":"vnd.ga4gh.passport+jwt","kid":"k","jku":1}"#,
            Passport,
            "untrusted_jku",
        );
        check(r#"[1]"#, Passport, "malformed_token");
        check(r#"{"alg":"ES256","typ":"JWT","kid":"k"}"#, Jwt, "ok");
        check(r#"{"alg":"ES256","typ":"jwt","kid":"k"}"#, Jwt, "ok");
        check(
            r#"{"alg":"ES256","typ":"application/jwt","kid":"k"}"#,
            Jwt,
            "ok",
        );
        check(r#"{"alg":"ES256","kid":"k"}"#, Jwt, "ok");
        check(
            r#"{"alg":"ES256","typ":"vnd.ga4gh.passport+jwt","kid":"k"}"#,
            Jwt,
            "wrong_typ",
        );
        check(
            r#"{"alg":"ES256","typ":"vnd.ga4gh.visa+jwt","kid":"k"}"#,
            Jwt,
            "wrong_typ",
        );
        check(
            r#"{"alg":"ES256","typ":"at+jwt","kid":"k"}"#,
            Jwt,
            "wrong_typ",
        );
        check(r#"{"alg":"ES256","typ":"","kid":"k"}"#, Jwt, "wrong_typ");
        check(r#"{"alg":"ES256","typ":null,"kid":"k"}"#, Jwt, "wrong_typ");
    }

    #[test]
    fn segments() {
        #[track_caller]
        fn check(t: &str, expect: &str) {
            let got = match parse(t, 64, TypRule::VisaLenient) {
                Ok(_) => "ok",
                Err(e) => e.code(),
            };
            assert_eq!(got, expect, "{t}");
        }
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"k"}"#);
        check(&format!("{h}.e30."), "ok");
        check(&format!("{h}.e30"), "malformed_token");
        check(&format!("{h}.e30.."), "malformed_token");
        check(&format!("{h}.e30=.c2ln"), "malformed_token");
        check(&format!("{h}.e30.c2ln="), "malformed_token");
        check(&format!("{h}.e30.c2l+"), "malformed_token");
        check(&format!("{h}.W10.c2ln"), "malformed_token");
        check(&format!("{h}.e30.{}", "A".repeat(64)), "token_too_large");
        check("", "malformed_token");
        check("....", "malformed_token");
        check("é.é.é", "malformed_token");
    }
}
