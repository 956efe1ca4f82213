//! `/fhir`: HL7 FHIR R4 (4.0.1) in JSON. Each handler negotiates the format (gemj-fhir), takes
//! the caller, calls the FHIR service once and answers through the model
//! (`gemj_fhir::model::to_bytes`); every failure is an `OperationOutcome` (`error/fhir.rs`).
//!
//! | Path | Method | What |
//! |---|---|---|
//! | `/fhir/metadata` | GET | the CapabilityStatement |
//! | `/fhir` | POST | a transaction or batch Bundle (institutions) |
//! | `/fhir/{type}` | GET | search (`POST /fhir/{type}/_search` with a form body alike) |
//! | `/fhir/{type}/{id}` | GET | read |
//! | `/fhir/${operation}` | GET, POST | the Genomics Operations (POST takes a `Parameters` body) |
//! | `/fhir/OperationDefinition/{name}` | GET | the operations' corrected definitions |

use std::collections::HashMap;

use actix_web::HttpMessage as _;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_core::fhir::{FhirFailure, FhirService, RESOURCES, resource_capabilities};
use gemj_fhir::capability::{ServerDescription, capability_statement};
use gemj_fhir::genomics::{self, OPERATIONS};
use gemj_fhir::model::IncomingValidator;
use gemj_fhir::negotiate::{self, FHIR_JSON};
use gemj_fhir::{FhirError, IssueCode};
use gemj_ingest::api::IngestService;
use serde_json::Value;

use super::{AnyCaller, BaseUrl, Institutions, SmartScopes, context};
use crate::error::ApiError;
use crate::error::fhir::{api, failure, outcome};

/// The largest body `/fhir` reads (transaction Bundles; a `Parameters` body is far smaller).
#[derive(Debug, Clone, Copy)]
struct MaxBody(usize);

pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.service(
        web::scope("/fhir")
            .app_data(web::Data::new(MaxBody(max_body)))
            .route("/metadata", web::get().to(metadata))
            .route(
                "/.well-known/smart-configuration",
                web::get().to(smart_configuration),
            )
            .route("/auth/token", web::post().to(token))
            .route("", web::post().to(bundle))
            .route("/", web::post().to(bundle))
            .route(
                "/OperationDefinition/{name}",
                web::get().to(operation_definition),
            )
            .route("/{type}/_search", web::post().to(search_post))
            .route("/{segment}", web::get().to(get_segment))
            .route("/{segment}", web::post().to(post_segment))
            .route("/{type}/{id}", web::get().to(read))
            .default_service(web::to(unknown)),
    );
}

/// The FHIR base URL of this gateway.
fn fhir_base(base: &BaseUrl) -> String {
    format!("{}/fhir", base.0.trim_end_matches('/'))
}

/// The query's pairs, after checking that the answer may be JSON.
fn negotiate(req: &HttpRequest) -> Result<Vec<(String, String)>, Box<HttpResponse>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).map_err(|_| {
            Box::new(outcome(&FhirError::bad_request(
                IssueCode::Structure,
                "",
                "the query string is not valid URL encoding",
            )))
        })?;
    let format = pairs
        .iter()
        .find(|(k, _)| k == "_format")
        .map(|(_, v)| v.as_str());
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    negotiate::response_format(format, accept).map_err(|e| Box::new(outcome(&e)))?;
    Ok(pairs)
}

/// A request's query pairs and its caller.
type Admitted = (Vec<(String, String)>, gemj_core::Principal);

/// The negotiated query pairs and the caller of a request, or the answer refusing it (a
/// format not served, a credential that does not verify).
fn admit(
    req: &HttpRequest,
    caller: Result<AnyCaller, ApiError>,
) -> Result<Admitted, Box<HttpResponse>> {
    let pairs = negotiate(req)?;
    let caller = caller.map_err(|e| Box::new(api(&e)))?;
    Ok((pairs, caller.0))
}

/// `Prefer: handling=strict`.
fn strict(req: &HttpRequest) -> bool {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("handling=strict"))
}

/// A resource answered through the model.
fn answer(status: actix_web::http::StatusCode, resource: &Value) -> HttpResponse {
    match gemj_fhir::model::to_bytes(resource) {
        Ok(bytes) => HttpResponse::build(status)
            .content_type(FHIR_JSON)
            .body(bytes),
        Err(e) => {
            // A resource the gateway built that the model does not keep whole: a defect.
            tracing::error!(message = "A FHIR answer did not pass the model.", error = %e);
            outcome(&FhirError::new(
                500,
                gemj_fhir::Issue::error(
                    IssueCode::Exception,
                    "the answer could not be built; the failure is logged",
                ),
            ))
        }
    }
}

fn ok(resource: &Value) -> HttpResponse {
    answer(actix_web::http::StatusCode::OK, resource)
}

/// Reads a JSON request body after checking its media type.
async fn json_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Value, Vec<u8>), Box<HttpResponse>> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    negotiate::request_format(content_type).map_err(|e| Box::new(outcome(&e)))?;
    let limit = req
        .app_data::<web::Data<MaxBody>>()
        .map_or(4 << 20, |m| m.0);
    let bytes = super::read_body(req, payload, limit)
        .await
        .map_err(|e| Box::new(api(&e)))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Box::new(outcome(&FhirError::bad_request(
            IssueCode::Structure,
            "",
            format!(
                "the body is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )))
    })?;
    Ok((value, bytes.to_vec()))
}

async fn metadata(
    req: HttpRequest,
    base: web::Data<BaseUrl>,
    registry: web::Data<gemj_core::services::ServiceRegistry>,
) -> HttpResponse {
    if let Err(res) = negotiate(&req) {
        return *res;
    }
    let base = fhir_base(&base);
    let resources = resource_capabilities();
    let date = registry.started_at();
    let statement = capability_statement(&ServerDescription {
        base: &base,
        software: ("gemj-gateway", env!("CARGO_PKG_VERSION")),
        date,
        resources: &resources,
        operations: &OPERATIONS,
        token_endpoint: Some(&format!("{base}/auth/token")),
    });
    ok(&statement)
}

async fn operation_definition(
    req: HttpRequest,
    base: web::Data<BaseUrl>,
    name: web::Path<String>,
) -> HttpResponse {
    if let Err(res) = negotiate(&req) {
        return *res;
    }
    match genomics::served_definition(&name, &fhir_base(&base)) {
        Ok(d) => ok(&d),
        Err(e) => outcome(&e),
    }
}

async fn read(
    req: HttpRequest,
    fhir: web::Data<FhirService>,
    base: web::Data<BaseUrl>,
    caller: Result<AnyCaller, ApiError>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let caller = match admit(&req, caller) {
        Ok((_, caller)) => caller,
        Err(res) => return *res,
    };
    let (resource_type, id) = path.into_inner();
    if let Err(res) = scoped(&req, Some(&resource_type), false) {
        return *res;
    }
    match fhir
        .read(
            &context(&req, "fhir"),
            &caller,
            &base.0,
            &resource_type,
            &id,
        )
        .await
    {
        Ok(r) => ok(&r),
        Err(e) => failure(e),
    }
}

async fn get_segment(
    req: HttpRequest,
    fhir: web::Data<FhirService>,
    base: web::Data<BaseUrl>,
    caller: Result<AnyCaller, ApiError>,
    segment: web::Path<String>,
) -> HttpResponse {
    let (pairs, caller) = match admit(&req, caller) {
        Ok(admitted) => admitted,
        Err(res) => return *res,
    };
    let segment = segment.into_inner();
    let resource_type = (!segment.starts_with('$')).then_some(segment.as_str());
    if let Err(res) = scoped(&req, resource_type, false) {
        return *res;
    }
    if let Some(op) = segment.strip_prefix('$') {
        let input = match genomics::input_from_query(op, &pairs) {
            Ok(i) => i,
            Err(e) => return outcome(&e),
        };
        return run(&req, &fhir, &caller, &fhir_base(&base), input).await;
    }
    search(&req, &fhir, &base, &caller, &segment, &pairs).await
}

async fn search_post(
    req: HttpRequest,
    fhir: web::Data<FhirService>,
    base: web::Data<BaseUrl>,
    caller: Result<AnyCaller, ApiError>,
    resource_type: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let mut pairs = match negotiate(&req) {
        Ok(p) => p,
        Err(res) => return *res,
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return outcome(&FhirError::unsupported_media_type(
            "POST _search takes application/x-www-form-urlencoded",
        ));
    }
    match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        Ok(form) => pairs.extend(form),
        Err(_) => {
            return outcome(&FhirError::bad_request(
                IssueCode::Structure,
                "",
                "the form body is not valid URL encoding",
            ));
        }
    }
    let caller = match caller {
        Ok(c) => c.0,
        Err(e) => return api(&e),
    };
    if let Err(res) = scoped(&req, Some(&resource_type), false) {
        return *res;
    }
    search(&req, &fhir, &base, &caller, &resource_type, &pairs).await
}

async fn search(
    req: &HttpRequest,
    fhir: &FhirService,
    base: &BaseUrl,
    caller: &gemj_core::Principal,
    resource_type: &str,
    pairs: &[(String, String)],
) -> HttpResponse {
    if !RESOURCES.contains(&resource_type) {
        return outcome(&FhirError::not_found(format!(
            "resource type {resource_type} is not served here (see /fhir/metadata)"
        )));
    }
    let result = fhir
        .search(
            &context(req, "fhir"),
            caller,
            &base.0,
            resource_type,
            pairs,
            strict(req),
        )
        .await;
    let (page, request) = match result {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let fhir_base = fhir_base(base);
    let link = |offset: u32| {
        let mut query: Vec<(String, String)> = request.used.clone();
        query.retain(|(k, _)| k != "_count");
        query.push(("_count".to_owned(), request.count.to_string()));
        if offset > 0 {
            query.push(("_offset".to_owned(), offset.to_string()));
        }
        let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
        format!("{fhir_base}/{resource_type}?{encoded}")
    };
    let next_offset = request.offset.saturating_add(request.count);
    let next =
        (u64::from(next_offset) < page.total && request.count > 0).then(|| link(next_offset));
    let previous = (request.offset > 0).then(|| link(request.offset.saturating_sub(request.count)));
    let mut resources = page.resources;
    if !request.ignored.is_empty() {
        let warning = gemj_fhir::Issue::warning(
            IssueCode::NotSupported,
            format!(
                "search parameters ignored (not supported here): {}",
                request.ignored.join(", ")
            ),
        );
        let mut o = gemj_fhir::outcome::operation_outcome(&[warning]);
        o["id"] = serde_json::json!("ignored-parameters");
        resources.push(o);
    }
    let bundle = gemj_fhir::bundle::searchset(
        resources,
        page.total,
        &link(request.offset),
        next.as_deref(),
        previous.as_deref(),
        &fhir_base,
    );
    ok(&bundle)
}

async fn post_segment(
    req: HttpRequest,
    fhir: web::Data<FhirService>,
    validator: web::Data<IncomingValidator>,
    base: web::Data<BaseUrl>,
    caller: Result<AnyCaller, ApiError>,
    segment: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    if let Err(res) = negotiate(&req) {
        return *res;
    }
    let Some(op) = segment.strip_prefix('$').map(str::to_owned) else {
        return method_not_allowed(
            "GET",
            "create and update are made through transaction or batch Bundles posted to /fhir",
        );
    };
    if !OPERATIONS.contains(&op.as_str()) {
        return outcome(&FhirError::not_found(format!("no operation ${op}")));
    }
    let caller = match caller {
        Ok(c) => c.0,
        Err(e) => return api(&e),
    };
    if let Err(res) = scoped(&req, None, false) {
        return *res;
    }
    let (body, bytes) = match json_body(&req, payload).await {
        Ok(b) => b,
        Err(res) => return *res,
    };
    if let Err(e) = validator.validate(&body, Some(&bytes)) {
        return outcome(&e);
    }
    let input = match genomics::input_from_parameters(&op, &body) {
        Ok(i) => i,
        Err(e) => return outcome(&e),
    };
    run(&req, &fhir, &caller, &fhir_base(&base), input).await
}

async fn run(
    req: &HttpRequest,
    fhir: &FhirService,
    caller: &gemj_core::Principal,
    base: &str,
    input: gemj_core::fhir::OperationCall,
) -> HttpResponse {
    match fhir
        .operation(&context(req, "fhir"), caller, input, base)
        .await
    {
        Ok(p) => ok(&p),
        Err(e) => failure(e),
    }
}

async fn bundle(
    req: HttpRequest,
    ingest: web::Data<IngestService>,
    caller: Result<AnyCaller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    let caller = match admit(&req, caller) {
        Ok((_, caller)) => caller,
        Err(res) => return *res,
    };
    if let Err(res) = scoped(&req, None, true) {
        return *res;
    }
    let (body, bytes) = match json_body(&req, payload).await {
        Ok(b) => b,
        Err(res) => return *res,
    };
    if body.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return outcome(&FhirError::bad_request(
            IssueCode::Invalid,
            "resourceType",
            "POST to the base takes a transaction or batch Bundle",
        ));
    }
    // The checks the schema does not make (calendar dates, one value per choice element,
    // decimals the model keeps whole), on the whole Bundle; the ingest validates the schema.
    let extra: Vec<gemj_fhir::Issue> = gemj_fhir::model::extra_checks(&body)
        .into_iter()
        .map(|(pointer, message)| {
            gemj_fhir::Issue::error(IssueCode::Value, message)
                .at(gemj_fhir::model::fhirpath("Bundle", &pointer))
        })
        .collect();
    if !extra.is_empty() {
        return outcome(&FhirError {
            status: 400,
            issues: extra,
        });
    }
    if let Some(digits) = gemj_fhir::model::longest_decimal(&bytes)
        && digits > gemj_fhir::model::MAX_DECIMAL_DIGITS
    {
        return outcome(&FhirError::bad_request(
            IssueCode::Value,
            "Bundle",
            format!(
                "a decimal has {digits} significant digits; at most {} are kept exactly",
                gemj_fhir::model::MAX_DECIMAL_DIGITS
            ),
        ));
    }
    match gemj_ingest::api::fhir_bundle(&ingest, &context(&req, "fhir"), &caller, &body, bytes)
        .await
    {
        Ok(response) => ok(&response),
        Err(FhirFailure::Core(gemj_core::CoreError::NotFound)) => {
            outcome(&FhirError::not_found("no such endpoint"))
        }
        Err(e) => failure(e),
    }
}

fn method_not_allowed(allow: &'static str, why: &str) -> HttpResponse {
    let mut res = outcome(&FhirError::new(
        405,
        gemj_fhir::Issue::error(
            IssueCode::NotSupported,
            format!("method not allowed here: {why}"),
        ),
    ));
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    res
}

async fn unknown(req: HttpRequest) -> HttpResponse {
    let method = req.method();
    if method == actix_web::http::Method::GET || method == actix_web::http::Method::POST {
        return outcome(&FhirError::not_found(
            "no such FHIR endpoint (see /fhir/metadata)",
        ));
    }
    method_not_allowed(
        "GET, POST",
        "this server reads, searches, runs operations and takes transaction and batch Bundles; it does not update or delete",
    )
}

/// Whether the request's SMART scopes (if it came with a SMART access token) allow reading
/// `resource_type` (`None`: several types, as an operation) or writing; an OperationOutcome
/// 403 otherwise.
fn scoped(
    req: &HttpRequest,
    resource_type: Option<&str>,
    write: bool,
) -> Result<(), Box<HttpResponse>> {
    let extensions = req.extensions();
    let Some(SmartScopes(scopes)) = extensions.get::<SmartScopes>() else {
        return Ok(());
    };
    let fits = gemj_core::smart::permits(scopes, resource_type, write)
        // An operation reads Observations (variants), Patients and Specimens.
        || (resource_type.is_none() && !write && gemj_core::smart::permits(scopes, Some("Observation"), false));
    if fits {
        Ok(())
    } else {
        Err(Box::new(outcome(&FhirError::new(
            403,
            gemj_fhir::Issue::error(
                IssueCode::Forbidden,
                format!(
                    "the access token's scopes ({}) do not cover this {}",
                    scopes.join(" "),
                    if write { "write" } else { "read" }
                ),
            ),
        ))))
    }
}

async fn smart_configuration(req: HttpRequest, base: web::Data<BaseUrl>) -> HttpResponse {
    let base = fhir_base(&base);
    let _ = &req;
    let scopes: Vec<String> = [
        "system/*.read",
        "system/*.write",
        "system/*.rs",
        "system/*.cruds",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(RESOURCES.iter().map(|t| format!("system/{t}.read")))
    .collect();
    HttpResponse::Ok()
        .content_type("application/json")
        .json(serde_json::json!({
            "token_endpoint": format!("{base}/auth/token"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256"],
            "grant_types_supported": ["client_credentials"],
            "scopes_supported": scopes,
            "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
        }))
}

/// An OAuth 2.0 error (RFC 6749 §5.2).
fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"error": error, "error_description": description}))
}

/// `POST /fhir/auth/token`: SMART Backend Services' client-credentials grant with a signed
/// JWT assertion (RFC 7523) from a registered institution.
async fn token(
    req: HttpRequest,
    base: web::Data<BaseUrl>,
    institutions: Option<web::Data<Institutions>>,
    tokens: web::Data<gemj_core::smart::SmartTokens>,
    body: web::Bytes,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(
            400,
            "invalid_request",
            "the token request is a form (application/x-www-form-urlencoded)",
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return oauth_error(400, "invalid_request", "the form is not valid URL encoding");
    };
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for (k, v) in &form {
        if fields.insert(k.as_str(), v.as_str()).is_some() {
            return oauth_error(
                400,
                "invalid_request",
                &format!("{k} is given more than once"),
            );
        }
    }
    if fields.get("grant_type") != Some(&"client_credentials") {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    if fields.get("client_assertion_type")
        != Some(&"urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return oauth_error(
            400,
            "invalid_request",
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        );
    }
    let Some(assertion) = fields.get("client_assertion").copied() else {
        return oauth_error(400, "invalid_request", "client_assertion is required");
    };
    let scope = fields.get("scope").copied().unwrap_or("");
    let granted = match gemj_core::smart::granted_scopes(scope, &RESOURCES) {
        Ok(g) => g,
        Err(bad) if bad.is_empty() => {
            return oauth_error(
                400,
                "invalid_scope",
                "ask for system/ scopes (system/*.read, system/*.write)",
            );
        }
        Err(bad) => {
            return oauth_error(
                400,
                "invalid_scope",
                &format!("{bad} is not a scope this server grants"),
            );
        }
    };
    let Some(institutions) = institutions else {
        return oauth_error(401, "invalid_client", "no institution is registered");
    };
    let endpoint = format!("{}/auth/token", fhir_base(&base));
    let now = gemj_auth::now_unix();
    let verified = match institutions
        .verifier
        .verify_client_assertion(assertion, &endpoint, now)
        .await
    {
        Ok(v) => v,
        Err(e) => {
            let code = e.code();
            let refused =
                super::audit_refused(&req, assertion.as_bytes(), ApiError::Unauthenticated(code))
                    .await;
            if let ApiError::Unauthenticated(c) = &refused
                && crate::error::is_issuer_outage(c)
            {
                return oauth_error(
                    503,
                    "temporarily_unavailable",
                    "the client's key set cannot be fetched; retry shortly",
                );
            }
            return oauth_error(
                401,
                "invalid_client",
                &format!("the client assertion was not accepted ({code})"),
            );
        }
    };
    let Some(institution) = institutions.by_issuer.get(&verified.issuer).cloned() else {
        return oauth_error(
            401,
            "invalid_client",
            "the client is not a registered institution",
        );
    };
    let jti = verified.jti.clone().unwrap_or_default();
    let Ok(first) = tokens
        .first_use(&verified.issuer, &jti, verified.expires_at, now)
        .await
    else {
        tracing::warn!(message = "The used-assertion record cannot be reached.");
        return oauth_error(
            503,
            "temporarily_unavailable",
            "the token service cannot record the assertion; retry shortly",
        );
    };
    if !first {
        let _ = super::audit_refused(
            &req,
            assertion.as_bytes(),
            ApiError::Unauthenticated("assertion_replayed"),
        )
        .await;
        return oauth_error(
            400,
            "invalid_grant",
            "this client assertion was used already (jti replayed)",
        );
    }
    let claims = gemj_core::smart::SmartClaims {
        institution,
        client: verified.issuer.clone(),
        scopes: granted.clone(),
        exp: now + tokens.ttl_secs(),
        jti: verified.token_hash.chars().take(32).collect(),
    };
    tracing::info!(message = "SMART access token issued.", client = %verified.issuer, assertion_hash = %verified.token_hash);
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(serde_json::json!({
            "access_token": tokens.issue(&claims),
            "token_type": "bearer",
            "expires_in": tokens.ttl_secs(),
            "scope": granted.join(" "),
        }))
}
