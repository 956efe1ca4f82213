//! The demo broker's OpenID Connect endpoints (demo mode only): discovery, the sign-in page
//! where a newcomer chooses a synthetic person, the token endpoint and userinfo. The protocol
//! rules are `gemj_demo::oidc`'s; these handlers only carry requests and answers.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use gemj_demo::oidc::{
    AUTHORIZE_PATH, AuthorizeRequest, DISCOVERY_PATH, DemoProvider, OAuthError, Role, TOKEN_PATH,
    USERINFO_PATH, personas,
};

use super::i18n::Lang;
use super::pages::{DemoBrokerPage, PersonaView, anonymous_common, render};

/// Registers the demo broker's endpoints.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(DISCOVERY_PATH, web::get().to(discovery))
        .route(AUTHORIZE_PATH, web::get().to(authorize_page))
        .route(AUTHORIZE_PATH, web::post().to(authorize_choice))
        .route(TOKEN_PATH, web::post().to(token))
        .route(USERINFO_PATH, web::get().to(userinfo));
}

async fn discovery(provider: web::Data<DemoProvider>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(provider.discovery())
}

fn page(
    req: &HttpRequest,
    request: Option<&AuthorizeRequest>,
    refusal: Option<&'static str>,
) -> HttpResponse {
    let lang = Lang::of(req);
    let t = lang.texts();
    let hidden = request.map_or_else(Vec::new, |r| {
        let mut h = vec![
            ("response_type", r.response_type.clone()),
            ("client_id", r.client_id.clone()),
            ("redirect_uri", r.redirect_uri.clone()),
            ("scope", r.scope.clone()),
            ("state", r.state.clone()),
            ("code_challenge", r.code_challenge.clone()),
            ("code_challenge_method", r.code_challenge_method.clone()),
        ];
        if let Some(n) = &r.nonce {
            h.push(("nonce", n.clone()));
        }
        h
    });
    let people = personas()
        .into_iter()
        .map(|p| PersonaView {
            label: match (&p.role, p.institution_name) {
                (Role::Researcher, _) => format!("{} (demo)", t.role_researcher),
                (Role::Committee, _) => format!("{} (demo)", t.role_committee),
                (Role::Coordinator(id), name) => {
                    format!(
                        "{}: {} ({id})",
                        t.role_coordinator,
                        name.unwrap_or_default()
                    )
                }
            },
            key: p.key,
            subject: p.subject,
        })
        .collect();
    let status = if refusal.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &DemoBrokerPage {
            c: anonymous_common(lang, t.broker_title),
            refusal,
            hidden,
            personas: people,
        },
    )
}

async fn authorize_page(
    req: HttpRequest,
    provider: web::Data<DemoProvider>,
    query: Result<web::Query<AuthorizeRequest>, actix_web::Error>,
) -> HttpResponse {
    let Ok(query) = query else {
        return page(&req, None, Some("malformed authorization request"));
    };
    match provider.check(&query) {
        Ok(()) => page(&req, Some(&query), None),
        Err(refusal) => page(&req, None, Some(refusal.0)),
    }
}

#[derive(serde::Deserialize)]
struct Choice {
    #[serde(flatten)]
    request: AuthorizeRequest,
    persona: String,
}

async fn authorize_choice(
    req: HttpRequest,
    provider: web::Data<DemoProvider>,
    form: Result<web::Form<Choice>, actix_web::Error>,
) -> HttpResponse {
    let Ok(form) = form else {
        return page(&req, None, Some("malformed sign-in form"));
    };
    match provider.grant(&form.request, &form.persona, gemj_auth::now_unix()) {
        Ok(url) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(refusal) => page(&req, None, Some(refusal.0)),
    }
}

fn oauth_error(status: StatusCode, e: &OAuthError) -> HttpResponse {
    let mut r = HttpResponse::build(status);
    r.insert_header((header::CACHE_CONTROL, "no-store"));
    if status == StatusCode::UNAUTHORIZED {
        r.insert_header((
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"{}\"", e.error),
        ));
    }
    r.json(e)
}

async fn token(
    req: HttpRequest,
    provider: web::Data<DemoProvider>,
    form: Result<web::Form<HashMap<String, String>>, actix_web::Error>,
) -> HttpResponse {
    let Ok(form) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            &OAuthError {
                error: "invalid_request",
                error_description: "the body is not a form",
            },
        );
    };
    let mut form = form.into_inner();
    // A client may also authenticate with HTTP Basic (its id, an empty secret).
    if !form.contains_key("client_id")
        && let Some(id) = basic_client_id(&req)
    {
        form.insert("client_id".to_owned(), id);
    }
    match provider.token(&form, gemj_auth::now_unix()) {
        Ok(answer) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(answer),
        Err(e) => {
            let status = if e.error == "invalid_client" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            };
            oauth_error(status, &e)
        }
    }
}

fn basic_client_id(req: &HttpRequest) -> Option<String> {
    use base64::Engine as _;
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let id = text.split(':').next()?;
    Some(url_decode(id).unwrap_or_else(|| id.to_owned()))
}

fn url_decode(s: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

async fn userinfo(req: HttpRequest, provider: web::Data<DemoProvider>) -> HttpResponse {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    match provider.userinfo(&token, gemj_auth::now_unix()).await {
        Ok(answer) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(answer),
        Err(e) if e.error == "invalid_token" => oauth_error(StatusCode::UNAUTHORIZED, &e),
        Err(e) => oauth_error(StatusCode::SERVICE_UNAVAILABLE, &e),
    }
}
