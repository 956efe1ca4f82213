//! Routes, one module per API. Each registers itself with `configure`; handlers are adapters:
//! extract, call one gemj-core function, map the error.

pub mod audit;
pub mod catalogue;
pub mod health;
pub mod openapi;
pub mod service_info;

use actix_web::http::header;
use actix_web::{Responder, web};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use gemj_core::{Principal, RequestContext};

use crate::error::ApiError;
use crate::middleware::RequestId;

/// The caller: anonymous without an `Authorization` header, or the subject of a verified GA4GH
/// passport (`Authorization: Bearer <passport JWT>`). A presented credential that does not verify
/// is refused (401 with the rejection's reason code), never silently treated as anonymous.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        let verifier = req.app_data::<web::Data<gemj_auth::Verifier>>().cloned();
        Box::pin(async move {
            let token = match header {
                None => return Ok(Self(Principal::Anonymous)),
                Some(Err(_)) => return Err(ApiError::Unauthenticated("malformed_authorization")),
                Some(Ok(value)) => match value.strip_prefix("Bearer ") {
                    Some(t) if !t.trim().is_empty() => t.trim().to_owned(),
                    _ => return Err(ApiError::Unauthenticated("bearer_token_required")),
                },
            };
            let Some(verifier) = verifier else {
                return Err(ApiError::Unauthenticated("no_trusted_issuers"));
            };
            match verifier
                .verify_passport(&token, gemj_auth::now_unix())
                .await
            {
                Ok(passport) => Ok(Self(Principal::Passport(std::sync::Arc::new(passport)))),
                Err(error) => {
                    tracing::info!(message = "Passport rejected.", reason = error.code());
                    Err(ApiError::Unauthenticated(error.code()))
                }
            }
        })
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
            let mut res = crate::error::Problem::new(
                actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
                "This endpoint accepts GET only.",
            )
            .response();
            res.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
            res
        }))
}
