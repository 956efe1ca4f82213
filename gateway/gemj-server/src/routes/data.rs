//! Participant-level data, consent-filtered: the participants of a dataset a caller may be
//! served (`/catalogue/v1/datasets/{id}/participants`), signed URLs for stored objects
//! (`/catalogue/v1/objects/{id}/url`, GET with `Authorization` or POST with passports in the
//! body), and the bytes behind them (`/data/v1/objects/{id}?token=...`, which never sees a
//! passport).

use super::openapi::CredentialAnswers;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_core::CoreError;
use gemj_core::data::ByteRange;

use super::{BaseUrl, Caller, context};
use crate::error::{ApiError, Problem};
use gemj_core::data::DataService;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::get_resource(
        "/catalogue/v1/datasets/{id}/participants",
        participants,
    ))
    .service(
        super::resource_405("/catalogue/v1/objects/{id}/url", "GET, POST")
            .route(web::get().to(url_get))
            .route(web::post().to(url_post)),
    )
    .service(super::get_resource("/data/v1/objects/{id}", fetch));
}

/// The participants of a dataset the caller may be served, at the current consent epoch.
#[utoipa::path(get, path = "/catalogue/v1/datasets/{id}/participants", tag = "catalogue",
    params(("id" = String, Path, description = "Dataset id")),
    responses(CredentialAnswers,
              (status = 200, description = "`{dataset, consent_epoch, participants: [ids]}`: withdrawn participants and participants outside the caller's consent scope are never listed."),
              (status = 401, description = "No passport.", body = Problem),
              (status = 403, description = "The passport does not open this dataset (`reason` names what is missing: `no_grant_visa`, a failed data-use term).", body = Problem),
              (status = 404, description = "No such dataset, or not readable by this caller.", body = Problem),
              (status = 503, description = "Consent cannot be confirmed current; Retry-After.", body = Problem)))]
pub async fn participants(
    req: HttpRequest,
    data: web::Data<DataService>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let served = data
        .dataset_participants(&context(&req, "catalogue"), &caller.0, &id)
        .await?;
    Ok(HttpResponse::Ok().json(served))
}

/// An optional byte range of a URL request (`start` inclusive, `end` exclusive).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// First byte.
    pub start: Option<u64>,
    /// One past the last byte.
    pub end: Option<u64>,
}

impl RangeQuery {
    fn range(&self) -> Option<ByteRange> {
        (self.start.is_some() || self.end.is_some()).then(|| ByteRange {
            start: self.start.unwrap_or(0),
            end: self.end,
        })
    }
}

/// A signed, short-lived URL for an object (or a byte range of it).
#[utoipa::path(get, path = "/catalogue/v1/objects/{id}/url", tag = "catalogue",
    params(("id" = String, Path, description = "Object id"), ("start" = Option<u64>, Query, description = "First byte"), ("end" = Option<u64>, Query, description = "One past the last byte")),
    responses((status = 400, description = "Malformed parameters or body: a value of the wrong type, or a parameter or member this endpoint does not take.", body = Problem),
              CredentialAnswers,
              (status = 200, description = "`{url, expires_at}`."),
              (status = 401, description = "No passport.", body = Problem),
              (status = 404, description = "No such object, not readable, or holding data outside the caller's consent scope.", body = Problem)))]
pub async fn url_get(
    req: HttpRequest,
    data: web::Data<DataService>,
    base: web::Data<BaseUrl>,
    caller: Caller,
    id: web::Path<String>,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let issued = data
        .issue_url(
            &context(&req, "catalogue"),
            &caller.0,
            &id,
            query.range(),
            &base.0,
        )
        .await?;
    Ok(HttpResponse::Ok().json(issued))
}

/// The body of a URL request by POST.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlBody {
    /// Passport JWTs (taken out before the rest is read; not with an `Authorization` header).
    #[serde(default)]
    pub passports: Vec<String>,
    /// First byte.
    pub start: Option<u64>,
    /// One past the last byte.
    pub end: Option<u64>,
}

/// The same, with passports in the body: `{"passports": [...], "start"?, "end"?}`.
#[utoipa::path(post, path = "/catalogue/v1/objects/{id}/url", tag = "catalogue",
    params(("id" = String, Path, description = "Object id")),
    request_body(content = Object, description = "`{passports: [passport JWT], start?, end?}`"),
    responses(CredentialAnswers,
              (status = 200, description = "`{url, expires_at}`."),
              (status = 400, description = "Malformed body, or credentials both in the header and the body.", body = Problem),
              (status = 401, description = "The passports do not verify.", body = Problem),
              (status = 404, description = "No such object, or not readable.", body = Problem)))]
pub async fn url_post(
    req: HttpRequest,
    data: web::Data<DataService>,
    base: web::Data<BaseUrl>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    let principal = super::body_principal(&req, caller.0, &mut body).await?;
    let UrlBody { start, end, .. } = super::parse_body(body)?;
    let range = RangeQuery { start, end };
    let issued = data
        .issue_url(
            &context(&req, "catalogue"),
            &principal,
            &id,
            range.range(),
            &base.0,
        )
        .await?;
    Ok(HttpResponse::Ok().json(issued))
}

/// The token of a data URL.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// The signed token.
    pub token: String,
}

/// Parses `Range: bytes=a-b` or `bytes=a-` (one range) into a half-open range.
fn parse_range(req: &HttpRequest) -> Result<Option<ByteRange>, ApiError> {
    let Some(value) = req.headers().get(header::RANGE) else {
        return Ok(None);
    };
    let bad = || ApiError::BadRequest("Range must be one `bytes=first-last` range".to_owned());
    let text = value.to_str().map_err(|_| bad())?;
    let spec = text.strip_prefix("bytes=").ok_or_else(bad)?;
    let (first, last) = spec.split_once('-').ok_or_else(bad)?;
    if spec.contains(',') {
        return Err(bad());
    }
    let start: u64 = first.trim().parse().map_err(|_| bad())?;
    let end = if last.trim().is_empty() {
        None
    } else {
        let last: u64 = last.trim().parse().map_err(|_| bad())?;
        if last < start {
            return Err(bad());
        }
        Some(last + 1)
    };
    Ok(Some(ByteRange { start, end }))
}

/// The bytes of a signed URL: checked again (approval, consent) at every use.
#[utoipa::path(get, path = "/data/v1/objects/{id}", tag = "data",
    params(("id" = String, Path, description = "Object id"), ("token" = String, Query, description = "The signed token")),
    responses((status = 400, description = "Malformed parameters or body: a value of the wrong type, or a parameter or member this endpoint does not take.", body = Problem),
              (status = 200, description = "The granted bytes."),
              (status = 206, description = "The requested part of the granted bytes (Range)."),
              (status = 403, description = "An altered, foreign or expired URL, or its approval is no longer in force.", body = Problem),
              (status = 404, description = "No such object, or its participant is no longer inside the URL's consent scope.", body = Problem),
              (status = 503, description = "Consent cannot be confirmed current; Retry-After.", body = Problem)))]
pub async fn fetch(
    req: HttpRequest,
    data: web::Data<DataService>,
    id: web::Path<String>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let range = parse_range(&req)?;
    let stream = match data
        .fetch(&context(&req, "data"), &id, &query.token, range)
        .await
    {
        Err(CoreError::InvalidInput(m)) if range.is_some() => {
            return Ok(Problem::range_not_satisfiable(m));
        }
        other => other?,
    };
    let len = stream.end - stream.start;
    let sized = stream.sized;
    let audit_seq = stream.audit_seq;
    let reader = tokio_util::io::ReaderStream::with_capacity(
        stream.reader,
        if sized { 1 << 20 } else { 1 << 16 },
    );
    if !sized {
        // A re-encoded slice: its length is known only at its end (chunked).
        let mut res = HttpResponse::Ok();
        res.content_type("application/octet-stream")
            .insert_header((header::CACHE_CONTROL, "no-store"));
        with_audit_seq(&mut res, audit_seq);
        return Ok(res.streaming(reader));
    }
    let body = actix_web::body::SizedStream::new(len, reader);
    let mut res = if range.is_some() {
        HttpResponse::PartialContent()
    } else {
        HttpResponse::Ok()
    };
    res.content_type("application/octet-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    with_audit_seq(&mut res, audit_seq);
    if range.is_some() {
        res.insert_header((
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                stream.start,
                stream.end - 1,
                stream.object.size
            ),
        ));
    }
    Ok(res.body(body))
}

/// `X-Audit-Seq`: the audit row of the release, when it is already in the chain (a gateway
/// with a local audit journal numbers its rows when it ships them: then there is none).
fn with_audit_seq(res: &mut actix_web::HttpResponseBuilder, seq: i64) {
    if seq > 0 {
        res.insert_header(("X-Audit-Seq", seq.to_string()));
    }
}
