//! Routes, one module per API. Each registers itself with `configure`; handlers are adapters:
//! extract, call one gemj-core function, map the error.

pub mod catalogue;
pub mod health;
pub mod openapi;
pub mod service_info;

use std::future::{Ready, ready};

use actix_web::http::header;
use actix_web::{Responder, web};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use gemj_core::{Principal, RequestContext};

use crate::error::ApiError;
use crate::middleware::RequestId;

/// The caller, as far as this gateway can verify: anonymous unless a credential is presented.
/// A presented credential that cannot be verified is an error (401), never silently ignored.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            if req
                .headers()
                .contains_key(actix_web::http::header::AUTHORIZATION)
            {
                Err(ApiError::Unauthenticated(
                    "This gateway cannot verify the presented credential.",
                ))
            } else {
                Ok(Self(Principal::Anonymous))
            },
        )
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
