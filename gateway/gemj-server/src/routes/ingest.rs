//! Ingest for institutions (`/ingest/v1/{kind}`): SS-MIX2 messages, FHIR bundles, REDCap,
//! CDISC ODM and biobank manifests, authenticated by the institution's token. The body is one
//! file (`?name=` names it; for SS-MIX2 the name is its path under `standard_root`), or several
//! as `application/vnd.gemj.ingest+json`: `{"files": [{"name": "...", "base64": "..."}]}`.
//! The answer is the ingest report; a file refused whole (a FHIR bundle that fails the R4
//! schema) is a 400 listing its errors.

use super::openapi::CredentialAnswers;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use gemj_ingest::api::IngestService;
use gemj_ingest::sources::InputFile;

use super::{AnyCaller, context};
use crate::error::{ApiError, Problem};

/// The media type of a multi-file body.
pub const FILES_MEDIA_TYPE: &str = "application/vnd.gemj.ingest+json";

/// Registers the routes; `max_body` bounds a request body.
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.service(
        super::resource_405("/ingest/v1/{kind}", "POST")
            .app_data(web::PayloadConfig::new(max_body))
            .route(web::post().to(post_ingest)),
    );
}

/// Query parameters.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    /// The file's name (single-file bodies).
    name: Option<String>,
    /// Report only; store nothing.
    #[serde(default)]
    dry_run: bool,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Files {
    files: Vec<EncodedFile>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EncodedFile {
    name: String,
    base64: String,
}

/// Ingests the body's files as the calling institution.
#[utoipa::path(post, path = "/ingest/v1/{kind}", tag = "ingest",
    params(("kind" = String, Path, description = "ssmix2, fhir, redcap, odm or biobank"),
           ("name" = Option<String>, Query, description = "The file's name (single-file bodies; SS-MIX2: the path under standard_root)"),
           ("dry_run" = Option<bool>, Query, description = "Report what would happen; store nothing")),
    request_body(content = String, description = "One file's bytes, or `application/vnd.gemj.ingest+json` with several."),
    responses(CredentialAnswers,
              (status = 200, description = "The ingest report (schemas/gemj-ingest-report.schema.json): every record created, merged, unchanged, deleted or quarantined with its reason."),
              (status = 400, description = "Malformed body, or the only file was refused whole (its schema errors in `explanation.errors`).", body = Problem),
              (status = 401, description = "No or invalid institution token.", body = Problem),
              (status = 403, description = "The caller is not an institution.", body = Problem),
              (status = 404, description = "Unknown kind.", body = Problem),
              (status = 413, description = "Body larger than `ingest.max_body_bytes`.", body = Problem)))]
pub async fn post_ingest(
    req: HttpRequest,
    ingest: web::Data<IngestService>,
    caller: AnyCaller,
    kind: web::Path<String>,
    query: web::Query<IngestQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let multi = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(FILES_MEDIA_TYPE));
    let files = if multi {
        let parsed: Files = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid files body: {e}")))?;
        parsed
            .files
            .into_iter()
            .map(|f| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(f.base64.as_bytes())
                    .map_err(|e| {
                        ApiError::BadRequest(format!("file {:?}: invalid base64: {e}", f.name))
                    })?;
                Ok(InputFile {
                    name: f.name,
                    bytes,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?
    } else if body.is_empty() {
        Vec::new()
    } else {
        vec![InputFile {
            name: query.name.unwrap_or_else(|| "body".to_owned()),
            bytes: body.to_vec(),
        }]
    };
    let single = files.len() == 1;
    let report = ingest
        .post(
            &context(&req, "ingest"),
            &caller.0,
            &kind,
            files,
            query.dry_run,
        )
        .await?;
    if single && let Some(refused) = report.refused_files.first() {
        let mut problem =
            Problem::bad_request(format!("{} was refused: {}", refused.file, refused.reason));
        problem.reason = Some("refused".to_owned());
        problem.explanation = Some(serde_json::json!({ "errors": refused.errors }));
        return Ok(problem.response());
    }
    Ok(HttpResponse::Ok().json(report))
}
