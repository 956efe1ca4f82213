//! GA4GH WES 1.1 under `/ga4gh/wes/v1`: service-info, runs (submit, list, log, status, cancel)
//! and tasks. Every answer comes from [`gemj_core::wes`]; errors are WES's `ErrorResponse`
//! (`{"msg", "status_code"}`, [`WesError`]), also for malformed forms, unknown paths under
//! the prefix and wrong methods.
//!
//! `POST /runs` reads its `multipart/form-data` body here (up to `wes.max_total_bytes` plus
//! the form's framing), parses it with multer and hands each part to
//! [`gemj_wes::form::FormBuilder`], which counts parts and bytes and refuses what it must.

use std::convert::Infallible;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use gemj_core::Principal;
use gemj_core::services::ServiceRegistry;
use gemj_core::wes::WesService;
use gemj_wes::form::{FormBuilder, FormError, Limits};

use super::{Caller, context};
use crate::error::wes::WesError;

/// Where WES is mounted.
pub const PREFIX: &str = "/ga4gh/wes/v1";

/// The audit name of the API.
const API: &str = "wes";

/// What the WES handlers need besides the service.
#[derive(Debug, Clone, Copy)]
pub struct WesState {
    /// The form limits of `POST /runs`.
    pub limits: Limits,
}

/// Registers WES in the service registry (`/services`).
pub fn mount(registry: &mut ServiceRegistry) {
    registry.mount(
        "wes",
        "WES",
        gemj_service_info::ServiceType::ga4gh("wes", gemj_wes::WES_VERSION),
        PREFIX,
        "GA4GH WES 1.1: CWL workflows run next to the data (cwltool; Toil for clusters). \
         drs:// inputs are authorised with the caller's passport and staged through signed \
         data URLs; outputs become DRS objects the run's owner and its project's approved members \
         may read.",
    );
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .service(resource("/service-info", "GET").route(web::get().to(service_info)))
            .service(
                resource("/runs", "GET, POST")
                    .route(web::get().to(list_runs))
                    .route(web::post().to(submit)),
            )
            .service(resource("/runs/{run_id}", "GET").route(web::get().to(run_log)))
            .service(resource("/runs/{run_id}/status", "GET").route(web::get().to(status)))
            .service(resource("/runs/{run_id}/cancel", "POST").route(web::post().to(cancel)))
            .service(resource("/runs/{run_id}/tasks", "GET").route(web::get().to(tasks)))
            .service(resource("/runs/{run_id}/stderr", "GET").route(web::get().to(stderr)))
            .service(resource("/runs/{run_id}/tasks/{task_id}", "GET").route(web::get().to(task)))
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(WesError::NoSuchEndpoint)
            })),
    );
}

/// A resource whose other methods answer a WES 405 with `Allow`.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(WesError::MethodNotAllowed(allow))
    }))
}

async fn caller(req: &HttpRequest) -> Result<Principal, WesError> {
    Ok(
        Caller::from_request(req, &mut actix_web::dev::Payload::None)
            .await?
            .0,
    )
}

fn ok(value: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().json(value)
}

fn run_id(req: &HttpRequest) -> String {
    req.match_info()
        .get("run_id")
        .unwrap_or_default()
        .to_owned()
}

/// `page_size` and `page_token`, nothing else.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    page_size: Option<String>,
    page_token: Option<String>,
}

fn page_query(req: &HttpRequest) -> Result<(Option<i64>, Option<String>), WesError> {
    let q: PageQuery = serde_urlencoded::from_str(req.query_string()).map_err(|_| {
        WesError::from(crate::error::ApiError::BadRequest(
            "The query takes page_size (a positive integer) and page_token only, each once."
                .to_owned(),
        ))
    })?;
    let size = match q.page_size {
        None => None,
        Some(s) => Some(s.trim().parse::<i64>().map_err(|_| {
            WesError::from(crate::error::ApiError::BadRequest(
                "page_size must be a positive integer.".to_owned(),
            ))
        })?),
    };
    Ok((size, q.page_token))
}

/// WES service-info: the mounted service's GA4GH members, then WES's own.
async fn service_info(
    req: HttpRequest,
    service: web::Data<WesService>,
    registry: web::Data<ServiceRegistry>,
) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let mounted = registry
        .services()
        .iter()
        .find(|s| s.service.r#type.artifact == "wes")
        .map(|s| s.service.clone())
        .ok_or(WesError::NoSuchEndpoint)?;
    Ok(ok(&service
        .service_info(&context(&req, API), &principal, mounted)
        .await?))
}

async fn list_runs(
    req: HttpRequest,
    service: web::Data<WesService>,
) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let (size, token) = page_query(&req)?;
    let page = service
        .list(&context(&req, API), &principal, size, token.as_deref())
        .await?;
    Ok(ok(&page))
}

async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<WesService>,
    state: web::Data<WesState>,
) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or(WesError::Form(FormError::Malformed))?;
    // The form's framing (boundaries, part headers) on top of its parts' bytes.
    let framing = 1024 * state.limits.max_parts.min(1024) + 64 * 1024;
    let body = super::read_body(&req, payload, state.limits.max_total_bytes + framing).await?;
    let submission = read_form(body, &boundary, state.limits).await?;
    let run = service
        .submit(&context(&req, API), &principal, submission)
        .await?;
    Ok(ok(&run))
}

/// Parses a multipart form into a submission, part by part.
async fn read_form(
    body: web::Bytes,
    boundary: &str,
    limits: Limits,
) -> Result<gemj_wes::form::Submission, WesError> {
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = FormBuilder::new(limits);
    let malformed = |_| WesError::Form(FormError::Malformed);
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let part = form
            .begin_part(&name, filename.as_deref())
            .map_err(WesError::Form)?;
        let budget = form.part_budget();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if bytes.len() + chunk.len() > budget {
                return Err(WesError::Form(form.over_budget()));
            }
            bytes.extend_from_slice(&chunk);
        }
        form.end_part(part, bytes).map_err(WesError::Form)?;
    }
    form.finish().map_err(WesError::Form)
}

async fn run_log(
    req: HttpRequest,
    service: web::Data<WesService>,
) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let log = service
        .run_log(&context(&req, API), &principal, &run_id(&req))
        .await?;
    Ok(ok(&log))
}

async fn status(
    req: HttpRequest,
    service: web::Data<WesService>,
) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let status = service
        .status(&context(&req, API), &principal, &run_id(&req))
        .await?;
    Ok(ok(&status))
}

async fn cancel(
    req: HttpRequest,
    service: web::Data<WesService>,
) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let id = service
        .cancel(&context(&req, API), &principal, &run_id(&req))
        .await?;
    Ok(ok(&id))
}

async fn tasks(req: HttpRequest, service: web::Data<WesService>) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let (size, token) = page_query(&req)?;
    let page = service
        .tasks(
            &context(&req, API),
            &principal,
            &run_id(&req),
            size,
            token.as_deref(),
        )
        .await?;
    Ok(ok(&page))
}

async fn task(req: HttpRequest, service: web::Data<WesService>) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let task_id = req
        .match_info()
        .get("task_id")
        .unwrap_or_default()
        .to_owned();
    let task = service
        .task(&context(&req, API), &principal, &run_id(&req), &task_id)
        .await?;
    Ok(ok(&task))
}

/// The engine's log (`run_log.stderr`), host paths removed, as text.
async fn stderr(
    req: HttpRequest,
    service: web::Data<WesService>,
) -> Result<HttpResponse, WesError> {
    let principal = caller(&req).await?;
    let text = service
        .stderr(&context(&req, API), &principal, &run_id(&req))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}

/// The committee's routes for run outputs held for release (outputs of analysis-only inputs).
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource_405("/admin/v1/wes/outputs", "GET").route(web::get().to(held_outputs)),
    )
    .service(
        super::resource_405("/admin/v1/wes/outputs/{id}/release", "POST")
            .route(web::post().to(release_output)),
    );
}

/// The run outputs held for the committee's release.
#[utoipa::path(get, path = "/admin/v1/wes/outputs", tag = "admin",
    responses(super::openapi::CredentialAnswers,
              (status = 200, description = "`{outputs: [{object, owner, run_id, held}]}`: outputs of WES runs over analysis-only datasets, held until released."),
              (status = 401, description = "No or invalid passport.", body = crate::error::Problem),
              (status = 403, description = "Not an administrator.", body = crate::error::Problem)))]
pub async fn held_outputs(
    req: HttpRequest,
    service: web::Data<WesService>,
    caller: Caller,
) -> Result<HttpResponse, crate::error::ApiError> {
    let outputs = service
        .held_outputs(&context(&req, "admin"), &caller.0)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "outputs": outputs })))
}

/// Releases a held output: its owner may download it from then on.
#[utoipa::path(post, path = "/admin/v1/wes/outputs/{id}/release", tag = "admin",
    params(("id" = String, Path, description = "The output's DRS id")),
    responses(super::openapi::CredentialAnswers,
              (status = 200, description = "Released: `{object, owner, run_id, held: false, released_by, released_at}`."),
              (status = 401, description = "No or invalid passport.", body = crate::error::Problem),
              (status = 403, description = "Not an administrator.", body = crate::error::Problem),
              (status = 404, description = "Not a held output.", body = crate::error::Problem),
              (status = 409, description = "Individual-level data (reads, or calls with sample columns), which the release rule keeps inside.", body = crate::error::Problem)))]
pub async fn release_output(
    req: HttpRequest,
    service: web::Data<WesService>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, crate::error::ApiError> {
    let released = service
        .release_output(&context(&req, "admin"), &caller.0, &id)
        .await?;
    Ok(HttpResponse::Ok().json(released))
}
