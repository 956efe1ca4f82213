//! Routes, one module per API. Each registers itself with `configure`; handlers are adapters:
//! extract, call one gemj-core function, map the error.

pub mod approvals;
pub mod audit;
pub mod beacon;
pub mod beacon_network;
pub mod catalogue;
pub mod consent;
pub mod data;
pub mod data_connect;
pub mod drs;
pub mod fhir;
pub mod health;
pub mod htsget;
pub mod ingest;
pub mod openapi;
mod openapi_fhir;
pub mod phenopackets;
pub mod recontact;
pub mod revocations;
pub mod service_info;
pub mod wes;

use actix_web::http::header;
use actix_web::{Responder, web};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use gemj_core::{Principal, RequestContext};

use crate::error::ApiError;
use crate::middleware::RequestId;

/// The institutions the gateway knows: the verifier of their tokens and each registered issuer's
/// institution.
#[derive(Debug)]
pub struct Institutions {
    /// Verifies institution tokens (trusting only the institutions' issuers).
    pub verifier: gemj_auth::Verifier,
    /// Issuer to institution.
    pub by_issuer: std::collections::HashMap<String, gemj_model::InstitutionId>,
}

/// The passport brokers whose access tokens are accepted, each with whether its tokens are
/// exchanged (RFC 8693) rather than sent to userinfo.
#[derive(Debug, Clone, Default)]
pub struct Brokers(pub Vec<(gemj_auth::TrustedBroker, bool)>);

impl Brokers {
    /// The broker a bearer token belongs to: the one named by a JWT access token's `iss`, or
    /// the only one configured.
    fn pick(&self, token: &str) -> Option<&(gemj_auth::TrustedBroker, bool)> {
        use base64::Engine as _;
        let iss = token.split('.').nth(1).and_then(|p| {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()?;
            let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            claims.get("iss")?.as_str().map(str::to_owned)
        });
        match iss {
            Some(iss) => self.0.iter().find(|(b, _)| b.issuer == iss),
            None if self.0.len() == 1 => self.0.first(),
            None => None,
        }
    }
}

/// The base URL clients reach the gateway at, for URLs the gateway hands out.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

/// The largest `Authorization` header accepted, in bytes: a Passport with dozens of Visas fits;
/// larger ones go in a POST body (`{"passports": [...]}`), which has its own limit.
pub const MAX_AUTHORIZATION_BYTES: usize = 64 * 1024;

/// The `Authorization: Bearer` token, if any.
fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) if value.len() > MAX_AUTHORIZATION_BYTES => {
            Err(ApiError::AuthorizationTooLarge)
        }
        Some(value) => {
            // What `HeaderValue::to_str` accepts (visible ASCII and tab), checked a vector at a
            // time: a passport header is kilobytes, and `to_str` checks it a byte at a time.
            let bytes = value.as_bytes();
            let visible = bytes.iter().fold(true, |ok, &b| {
                ok & ((b' '..=b'~').contains(&b) | (b == b'\t'))
            });
            let value = std::str::from_utf8(bytes)
                .ok()
                .filter(|_| visible)
                .ok_or(ApiError::Unauthenticated("malformed_authorization"))?;
            match value.strip_prefix("Bearer ") {
                Some(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_owned())),
                _ => Err(ApiError::Unauthenticated("bearer_token_required")),
            }
        }
    }
}

/// Whether a JWT's header declares it a GA4GH passport (`typ: vnd.ga4gh.passport+jwt`). Only
/// routes the token to the right verifier; the verifiers check everything.
fn is_passport_token(token: &str) -> bool {
    use base64::Engine as _;
    /// The one member read; the header's others are skipped, not built.
    #[derive(serde::Deserialize)]
    struct Header<'a> {
        #[serde(borrow)]
        typ: Option<std::borrow::Cow<'a, str>>,
    }
    let Some(head) = token.split('.').next() else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(head) else {
        return false;
    };
    serde_json::from_slice::<Header<'_>>(&bytes)
        .ok()
        .and_then(|h| h.typ)
        .is_some_and(|t| t.eq_ignore_ascii_case("vnd.ga4gh.passport+jwt"))
}

async fn passport_principal(
    verifier: Option<web::Data<gemj_auth::Verifier>>,
    brokers: Option<web::Data<Brokers>>,
    token: &str,
) -> Result<Principal, ApiError> {
    let Some(verifier) = verifier else {
        return Err(ApiError::Unauthenticated("no_trusted_issuers"));
    };
    let now = gemj_auth::now_unix();
    // A bearer that is not a Passport JWT is a broker's access token when brokers are
    // configured (the v1.0 flow, or token exchange).
    let broker = brokers
        .as_ref()
        .filter(|_| !is_passport_token(token))
        .and_then(|b| b.pick(token).cloned());
    let verified = match broker {
        // Boxed, as every path but the cached passport: a caller's future holds only a pointer
        // to it, not its state (kilobytes, copied when actix boxes the extractor).
        Some((broker, exchange)) => {
            Box::pin(verifier.verify_access_token(&broker, token, exchange, now))
                .await
                .map(std::sync::Arc::new)
        }
        None => verifier.verify_passport_shared(token, now).await,
    };
    match verified {
        Ok(passport) => Ok(Principal::Passport(passport)),
        Err(error) => {
            tracing::info!(message = "Passport rejected.", reason = error.code());
            Err(ApiError::Unauthenticated(error.code()))
        }
    }
}

async fn institution_principal(
    institutions: Option<web::Data<Institutions>>,
    token: &str,
) -> Result<Principal, ApiError> {
    let Some(institutions) = institutions else {
        return Err(ApiError::Unauthenticated("no_trusted_institutions"));
    };
    let verified = institutions
        .verifier
        .verify_institution_token(token, gemj_auth::now_unix())
        .await
        .map_err(|error| {
            tracing::info!(
                message = "Institution token rejected.",
                reason = error.code()
            );
            ApiError::Unauthenticated(error.code())
        })?;
    let Some(institution) = institutions.by_issuer.get(&verified.issuer) else {
        return Err(ApiError::Unauthenticated("untrusted_issuer"));
    };
    Ok(Principal::Institution(std::sync::Arc::new(
        gemj_core::InstitutionCaller {
            institution: institution.clone(),
            issuer: verified.issuer,
            subject: verified.subject,
            token_hash: verified.token_hash,
        },
    )))
}

/// Audits a credential refused at an endpoint that reads it itself (the SMART token endpoint's
/// client assertion): one row, principal `unauthenticated`, the hash of what was presented.
pub(crate) async fn audit_refused(
    req: &HttpRequest,
    presented: &[u8],
    error: ApiError,
) -> ApiError {
    let refusal = Refusal {
        req: req.clone(),
        body: Some(presented.to_vec()),
    };
    refusal.audit(error).await
}

/// The scopes of the SMART access token a request was authorised by (absent for every other
/// credential, which is not scope-limited).
#[derive(Debug, Clone)]
pub struct SmartScopes(pub Vec<String>);

/// The institution behind a SMART access token, valid only under `/fhir`; its scopes are put
/// in the request's extensions.
fn smart_principal(req: &HttpRequest, token: &str) -> Result<Principal, ApiError> {
    if !req.path().starts_with("/fhir") {
        return Err(ApiError::Unauthenticated("wrong_audience"));
    }
    let Some(tokens) = req.app_data::<web::Data<gemj_core::smart::SmartTokens>>() else {
        return Err(ApiError::Unauthenticated("invalid_token"));
    };
    let claims = tokens
        .verify(token, gemj_auth::now_unix())
        .map_err(ApiError::Unauthenticated)?;
    req.extensions_mut()
        .insert(SmartScopes(claims.scopes.clone()));
    Ok(Principal::Institution(std::sync::Arc::new(
        gemj_core::InstitutionCaller {
            institution: claims.institution,
            issuer: claims.client.clone(),
            subject: claims.client,
            token_hash: gemj_core::smart::token_hash(token),
        },
    )))
}

/// The API a path belongs to, for the audit row of a credential refused before any decision.
pub(crate) fn api_of(path: &str) -> &'static str {
    const APIS: [(&str, &str); 13] = [
        ("/htsget/", "htsget"),
        ("/ga4gh/drs/", "drs"),
        ("/beacon/", "beacon"),
        ("/catalogue/", "catalogue"),
        ("/data/", "data"),
        ("/ingest/", "ingest"),
        ("/consent/", "consent"),
        ("/recontact/", "recontact"),
        ("/audit/", "audit"),
        ("/admin/", "admin"),
        ("/phenopackets/", "phenopackets"),
        ("/services", "service-registry"),
        ("/portal/", "portal"),
    ];
    APIS.iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map_or("gateway", |(_, api)| api)
}

/// Applies the revocation list to a verified Passport (a revoked token or subject is a 401 with
/// its reason; a revoked Visa is ignored).
fn unless_revoked(
    core: Option<&web::Data<gemj_core::Shared>>,
    principal: Principal,
) -> Result<Principal, ApiError> {
    match (principal, core) {
        (Principal::Passport(p), Some(core)) => core
            .revocations()
            .apply_shared(p)
            .map(Principal::Passport)
            .map_err(ApiError::Unauthenticated),
        (other, _) => Ok(other),
    }
}

/// What an extractor needs to audit a refused credential: the request (cheap to clone; its
/// context and the presented `Authorization` are read only on a refusal) and, for POST-body
/// passports, the bytes presented. Only their hash is kept.
struct Refusal {
    req: HttpRequest,
    body: Option<Vec<u8>>,
}

impl Refusal {
    fn of(req: &HttpRequest) -> Self {
        Self {
            req: req.clone(),
            body: None,
        }
    }

    /// Writes the one audit row of a credential refused before any decision and returns the
    /// refusal; when the row cannot be written, the answer is 503 instead (nothing unaudited).
    async fn audit(self, error: ApiError) -> ApiError {
        let reason = match &error {
            ApiError::Unauthenticated(code) => *code,
            ApiError::AuthorizationTooLarge => "authorization_too_large",
            ApiError::PassportsTooLarge => "passports_too_large",
            ApiError::BodyTooLarge(_) => "body_too_large",
            ApiError::BadRequest(_) => "malformed_credential",
            ApiError::Core(_) => return error,
        };
        let Some(core) = self.core() else {
            return error;
        };
        let ctx = context(&self.req, api_of(self.req.path()));
        let presented = match &self.body {
            Some(body) => body.as_slice(),
            None => self
                .req
                .headers()
                .get(header::AUTHORIZATION)
                .map_or(&[][..], |v| v.as_bytes()),
        };
        if let Err(e) = core
            .access()
            .refuse_credential(&ctx, presented, reason)
            .await
        {
            return ApiError::Core(e);
        }
        error
    }

    /// The gateway's core services, to audit with and to apply revocations.
    fn core(&self) -> Option<web::Data<gemj_core::Shared>> {
        self.req.app_data::<web::Data<gemj_core::Shared>>().cloned()
    }
}

/// Reads a request body of at most `limit` bytes. A longer one is refused before anything
/// else is decided: [`ApiError::BodyTooLarge`], audited once with the hash of the first
/// `limit` bytes received (never the content), for each API to answer 413 in its own format.
/// The rest of an oversized body is read and dropped, up to four times the limit (then the
/// connection is dropped), so that a client still sending receives the 413.
///
/// # Errors
/// [`ApiError::BodyTooLarge`]; [`ApiError::BadRequest`] when the body cannot be read;
/// [`ApiError::Core`] when the refusal cannot be audited.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt as _;
    let mut bytes = web::BytesMut::new();
    let mut seen = 0usize;
    let drain_cap = limit.saturating_mul(4);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::BadRequest("The request body could not be read.".into()))?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            if seen > drain_cap {
                break;
            }
            let room = limit.saturating_sub(bytes.len());
            bytes.extend_from_slice(&chunk[..room.min(chunk.len())]);
            continue;
        }
        bytes.extend_from_slice(&chunk);
    }
    if seen > limit {
        let refusal = Refusal {
            req: req.clone(),
            body: Some(bytes.to_vec()),
        };
        return Err(refusal.audit(ApiError::BodyTooLarge(limit)).await);
    }
    Ok(bytes.freeze())
}

/// The caller: anonymous without an `Authorization` header, or the subject of a verified GA4GH
/// passport (`Authorization: Bearer <passport JWT>`). A presented credential that does not verify
/// is refused (401 with the rejection's reason code), never silently treated as anonymous.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let verifier = req.app_data::<web::Data<gemj_auth::Verifier>>().cloned();
        let brokers = req.app_data::<web::Data<Brokers>>().cloned();
        let refusal = Refusal::of(req);
        Box::pin(async move {
            let principal = match token {
                Err(e) => Err(e),
                Ok(None) => Ok(Principal::Anonymous),
                Ok(Some(token)) => passport_principal(verifier, brokers, &token)
                    .await
                    .and_then(|p| unless_revoked(refusal.core().as_ref(), p)),
            };
            match principal {
                Ok(p) => Ok(Self(p)),
                Err(e) => Err(Box::pin(refusal.audit(e)).await),
            }
        })
    }
}

/// The caller of an endpoint that institutions use: a token signed by a registered institution
/// (`Authorization: Bearer <institution JWT>`), or a GA4GH passport (recognised by its `typ`),
/// or nobody. As with [`Caller`], a credential that does not verify is a 401.
#[derive(Debug, Clone)]
pub struct AnyCaller(pub Principal);

impl FromRequest for AnyCaller {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer(req);
        let verifier = req.app_data::<web::Data<gemj_auth::Verifier>>().cloned();
        let institutions = req.app_data::<web::Data<Institutions>>().cloned();
        let refusal = Refusal::of(req);
        // A SMART access token: for the FHIR API only, its scopes kept for the handlers.
        let smart = match &token {
            Ok(Some(t)) if t.starts_with(gemj_core::smart::TOKEN_PREFIX) => {
                Some(smart_principal(req, t))
            }
            _ => None,
        };
        Box::pin(async move {
            let principal = match token {
                Err(e) => Err(e),
                Ok(None) => Ok(Principal::Anonymous),
                Ok(Some(_)) if smart.is_some() => {
                    smart.unwrap_or(Err(ApiError::Unauthenticated("invalid_token")))
                }
                Ok(Some(token)) if is_passport_token(&token) => {
                    passport_principal(verifier, None, &token)
                        .await
                        .and_then(|p| unless_revoked(refusal.core().as_ref(), p))
                }
                Ok(Some(token)) => institution_principal(institutions, &token).await,
            };
            match principal {
                Ok(p) => Ok(Self(p)),
                Err(e) => Err(refusal.audit(e).await),
            }
        })
    }
}

/// The principal of a POST whose body may carry `{"passports": [...]}` (as DRS and Beacon
/// send them): removes the `passports` member from `body` and verifies it. A request with
/// both an `Authorization` header and body passports is refused (one credential per request).
///
/// # Errors
/// 400 for a malformed `passports` member or two credentials; 401 when the passports do not
/// verify.
pub async fn body_principal(
    req: &HttpRequest,
    caller: Principal,
    body: &mut serde_json::Value,
) -> Result<Principal, ApiError> {
    let Some(passports) = body.as_object_mut().and_then(|o| o.remove("passports")) else {
        return Ok(caller);
    };
    if !matches!(caller, Principal::Anonymous) {
        return Err(ApiError::BadRequest(
            "send a credential either in Authorization or in the body, not both".to_owned(),
        ));
    }
    let passports: Vec<String> = serde_json::from_value(passports).map_err(|_| {
        ApiError::BadRequest("`passports` must be an array of passport JWTs".to_owned())
    })?;
    let mut refusal = Refusal::of(req);
    refusal.body = Some(passports.join(",").into_bytes());
    if passports.len() > gemj_auth::MAX_POST_PASSPORTS
        || passports
            .iter()
            .any(|p| p.len() > gemj_auth::MAX_PASSPORT_BYTES)
    {
        return Err(refusal.audit(ApiError::PassportsTooLarge).await);
    }
    let Some(verifier) = req.app_data::<web::Data<gemj_auth::Verifier>>().cloned() else {
        return Err(refusal
            .audit(ApiError::Unauthenticated("no_trusted_issuers"))
            .await);
    };
    match verifier
        .verify_post_body_passports(&passports, gemj_auth::now_unix())
        .await
    {
        Ok(p) => match unless_revoked(
            refusal.core().as_ref(),
            Principal::Passport(std::sync::Arc::new(p)),
        ) {
            Ok(p) => Ok(p),
            Err(e) => Err(refusal.audit(e).await),
        },
        Err(error) => {
            tracing::info!(message = "Body passports rejected.", reason = error.code());
            Err(refusal.audit(ApiError::Unauthenticated(error.code())).await)
        }
    }
}

/// The request context for the access decision point.
pub fn context(req: &HttpRequest, api: &'static str) -> RequestContext {
    RequestContext {
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map_or_else(String::new, |r| r.0.clone()),
        api,
        endpoint: req.match_pattern().unwrap_or_else(|| req.path().to_owned()),
        client: crate::client::client_ip(req),
    }
}

/// A resource that answers GET with `handler` and any other method with 405 and an `Allow`
/// header (a plain `route` would answer 404, which tells the client the wrong thing).
pub fn get_resource<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(|| async {
            crate::error::Problem::method_not_allowed("GET")
        }))
}

/// A resource whose unsupported methods answer 405 with `Allow: <allow>`; add its routes.
pub fn resource_405(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        crate::error::Problem::method_not_allowed(allow)
    }))
}

/// Parses a JSON body into `T`, as a 400 with serde's message when it does not fit.
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn parse_body<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::is_passport_token;
    use base64::Engine as _;

    fn token(header: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(header), b64(r#"{"sub":"x"}"#))
    }

    #[test]
    fn a_passport_is_known_by_its_header_typ_alone() {
        for (header, passport) in [
            (r#"{"alg":"RS256","typ":"vnd.ga4gh.passport+jwt"}"#, true),
            (r#"{"typ":"VND.GA4GH.Passport+JWT","alg":"ES256"}"#, true),
            // An escaped character still reads as the same text.
            (r#"{"typ":"vnd.ga4gh.passport\u002bjwt"}"#, true),
            (r#"{"alg":"RS256","typ":"JWT"}"#, false),
            (r#"{"alg":"RS256"}"#, false),
            (r#"{"typ":7}"#, false),
            ("not json", false),
        ] {
            assert_eq!(is_passport_token(&token(header)), passport, "{header}");
        }
        assert!(!is_passport_token("%%%.x.y"));
        assert!(!is_passport_token(""));
    }
}
