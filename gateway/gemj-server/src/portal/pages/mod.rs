//! The portal's pages: one handler per page, each the same few steps as an API handler (who
//! is asking, one service call, render), and the askama template it renders.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use gemj_core::approvals_api::{ApplicationTerms, ApprovalsService};
use gemj_core::audit_api::AuditService;
use gemj_core::beacon::{Beacon, BeaconFailure, BeaconRequest};
use gemj_core::catalogue::{CatalogueService, DatasetSummary};
use gemj_core::consent_api::ConsentService;
use gemj_core::data::DataService;
use gemj_core::recontact::RecontactService;
use gemj_core::{CoreError, Principal};
use gemj_model::{ApprovalStatus, DuoCode};

use super::i18n::{Lang, Texts, reason};
use super::svg::{Bar, PlotText, bar_chart, column_chart};

mod committee;
mod coordinator;
mod researcher;

use super::{Failure, Portal, Role, User, failure_status, local_path};

/// Registers the pages.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal", web::get().to(home))
        .route("/portal/", web::get().to(home))
        .route("/portal/login", web::get().to(login))
        .route("/portal/callback", web::get().to(callback))
        .route("/portal/logout", web::post().to(logout))
        .route("/portal/lang", web::get().to(lang))
        .route("/portal/static/portal.css", web::get().to(css))
        .route("/portal/static/htmx.min.js", web::get().to(htmx));
    researcher::configure(cfg);
    committee::configure(cfg);
    coordinator::configure(cfg);
}

/// The portal's stylesheet.
pub(crate) const CSS: &str = include_str!("../../../static/portal.css");
/// The vendored htmx (see `static/README.md`).
pub(crate) const HTMX: &[u8] = include_bytes!("../../../static/htmx.min.js");

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CSS)
}

async fn htmx() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(HTMX)
}

/// Everything a page handler uses, taken from the app's data.
#[derive(Clone)]
pub(crate) struct Deps {
    portal: web::Data<Portal>,
    verifier: Option<web::Data<gemj_auth::Verifier>>,
    shared: web::Data<gemj_core::Shared>,
    catalogue: web::Data<CatalogueService>,
    data: web::Data<DataService>,
    approvals: web::Data<ApprovalsService>,
    beacon: web::Data<Beacon>,
    audit: web::Data<AuditService>,
    consent: web::Data<ConsentService>,
    recontact: web::Data<RecontactService>,
    data_connect: web::Data<gemj_core::data_connect::DataConnect>,
}

impl FromRequest for Deps {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        fn get<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, actix_web::Error> {
            req.app_data::<web::Data<T>>()
                .cloned()
                .ok_or_else(|| actix_web::error::ErrorServiceUnavailable("the portal is off"))
        }
        let deps = (|| {
            Ok(Self {
                portal: get(req)?,
                verifier: req.app_data::<web::Data<gemj_auth::Verifier>>().cloned(),
                shared: get(req)?,
                catalogue: get(req)?,
                data: get(req)?,
                approvals: get(req)?,
                beacon: get(req)?,
                audit: get(req)?,
                consent: get(req)?,
                recontact: get(req)?,
                data_connect: get(req)?,
            })
        })();
        std::future::ready(deps)
    }
}

/// The parts of every page.
pub(crate) struct Common {
    lang: Lang,
    t: &'static Texts,
    title: String,
    user: Option<UserView>,
    next: String,
    flash: Option<&'static str>,
}

struct UserView {
    role: &'static str,
    role_label: &'static str,
    name: String,
    csrf: String,
    is_researcher: bool,
    is_committee: bool,
    is_coordinator: bool,
}

/// A page that could not be shown: rendered in the reader's language.
#[derive(Debug)]
pub(crate) struct PageError {
    lang: Lang,
    user: Option<User>,
    next: String,
    failure: Failure,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "portal page refused ({})", failure_status(&self.failure))
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        failure_status(&self.failure)
    }

    fn error_response(&self) -> HttpResponse {
        if let Failure::SignIn(next) = &self.failure {
            return HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/portal/login?next={}", encode_component(next)),
                ))
                .finish();
        }
        let t = self.lang.texts();
        let mut reasons = Vec::new();
        let message = match &self.failure {
            Failure::SignIn(_) | Failure::Core(CoreError::CredentialRequired) => {
                t.error_not_signed_in.to_owned()
            }
            Failure::Csrf => t.error_csrf.to_owned(),
            Failure::BadRequest(m) => format!("{}: {m}", t.error_bad_request),
            Failure::SignInFailed(_) => t.error_sign_in_failed.to_owned(),
            Failure::NoBroker => t.error_unavailable.to_owned(),
            Failure::Core(CoreError::Denied(d)) => {
                reasons = d
                    .reasons
                    .iter()
                    .map(|r| reason(self.lang, r.code()))
                    .collect();
                t.error_forbidden.to_owned()
            }
            Failure::Core(CoreError::Forbidden(m)) => format!("{} ({m})", t.error_forbidden),
            Failure::Core(CoreError::NotFound) => t.error_not_found.to_owned(),
            Failure::Core(CoreError::InvalidInput(m) | CoreError::Conflict(m)) => {
                format!("{}: {m}", t.error_bad_request)
            }
            Failure::Core(_) => t.error_unavailable.to_owned(),
        };
        if let Failure::Core(e) = &self.failure
            && failure_status(&self.failure).is_server_error()
        {
            tracing::warn!(message = "Portal page failed.", error = %e);
        }
        let page = ErrorPage {
            c: common(
                self.lang,
                self.user.as_ref(),
                t.error_title,
                &self.next,
                None,
            ),
            message,
            reasons,
        };
        render(failure_status(&self.failure), &page)
    }
}

impl Deps {
    /// The reader's language and, when signed in, who they are.
    async fn who(&self, req: &HttpRequest) -> Result<(Lang, Option<User>), PageError> {
        let lang = Lang::of(req);
        let user = self
            .portal
            .user(
                req,
                self.verifier.as_ref().map(web::Data::get_ref),
                &self.shared,
            )
            .await
            .map_err(|failure| PageError {
                lang,
                user: None,
                next: here(req),
                failure,
            })?;
        Ok((lang, user))
    }

    /// A signed-in person's form: its CSRF token checked before anything else is read.
    async fn signed_form<T: serde::de::DeserializeOwned>(
        &self,
        req: &HttpRequest,
        body: &[u8],
    ) -> Result<(Lang, User, T), PageError> {
        let (lang, user) = self.signed_in(req).await?;
        let f = fail(req, lang, Some(&user));
        let token: CsrfForm = parse_form(body).map_err(&f)?;
        self.portal
            .check_form(req, &user, &token.csrf)
            .map_err(&f)?;
        let form = parse_form(body).map_err(&f)?;
        Ok((lang, user, form))
    }

    /// The signed-in person, or the way to sign in.
    async fn signed_in(&self, req: &HttpRequest) -> Result<(Lang, User), PageError> {
        match self.who(req).await? {
            (lang, Some(user)) => Ok((lang, user)),
            (lang, None) => Err(PageError {
                lang,
                user: None,
                next: here(req),
                failure: Failure::SignIn(here(req)),
            }),
        }
    }
}

/// Turns a failure into the page error of this reader.
fn fail(
    req: &HttpRequest,
    lang: Lang,
    user: Option<&User>,
) -> impl Fn(Failure) -> PageError + use<> {
    let next = here(req);
    let user = user.cloned();
    move |failure| PageError {
        lang,
        user: user.clone(),
        next: next.clone(),
        failure,
    }
}

fn core_fail(
    req: &HttpRequest,
    lang: Lang,
    user: Option<&User>,
) -> impl Fn(CoreError) -> PageError + use<> {
    let f = fail(req, lang, user);
    move |e| f(Failure::Core(e))
}

/// The current path and query, for coming back after signing in or switching language.
fn here(req: &HttpRequest) -> String {
    let uri = req.uri();
    local_path(
        &uri.path_and_query()
            .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
    )
}

fn common(
    lang: Lang,
    user: Option<&User>,
    title: &str,
    next: &str,
    flash: Option<&'static str>,
) -> Common {
    let t = lang.texts();
    Common {
        lang,
        t,
        title: title.to_owned(),
        user: user.map(|u| UserView {
            role: u.role.as_str(),
            role_label: match u.role {
                Role::Researcher => t.role_researcher,
                Role::Committee => t.role_committee,
                Role::Coordinator => t.role_coordinator,
            },
            name: u.name.clone(),
            csrf: u.csrf.clone(),
            is_researcher: u.role == Role::Researcher,
            is_committee: u.role == Role::Committee,
            is_coordinator: u.role == Role::Coordinator,
        }),
        next: encode_component(next),
        flash,
    }
}

/// Renders a page with the portal's security headers.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ))
            .body(html),
        Err(e) => {
            tracing::error!(message = "A portal template failed.", error = %e);
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode_component(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn ctx(req: &HttpRequest) -> gemj_core::RequestContext {
    crate::routes::context(req, "portal")
}

fn principal_of(user: Option<&User>) -> Principal {
    user.map_or(Principal::Anonymous, |u| u.principal.clone())
}

// ---------------------------------------------------------------------------------------------
// Home, sign-in, language.

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    c: Common,
}

#[derive(Template)]
#[template(path = "portal/error.html")]
struct ErrorPage {
    c: Common,
    message: String,
    reasons: Vec<String>,
}

async fn home(req: HttpRequest, deps: Deps) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.who(&req).await?;
    let page = HomePage {
        c: common(lang, user.as_ref(), lang.texts().home, &here(&req), None),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn login(
    req: HttpRequest,
    deps: Deps,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let lang = Lang::of(&req);
    deps.portal
        .begin(deps.verifier.as_ref().map(web::Data::get_ref), &query.next)
        .await
        .map_err(fail(&req, lang, None))
}

#[derive(serde::Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

async fn callback(
    req: HttpRequest,
    deps: Deps,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, PageError> {
    let lang = Lang::of(&req);
    if !query.error.is_empty() {
        return Err(fail(&req, lang, None)(Failure::SignInFailed(
            "broker_error",
        )));
    }
    deps.portal
        .finish(
            &req,
            deps.verifier.as_ref().map(web::Data::get_ref),
            &query.state,
            &query.code,
        )
        .await
        .map_err(fail(&req, lang, None))
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

async fn logout(
    req: HttpRequest,
    deps: Deps,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.who(&req).await?;
    if let Some(u) = &user {
        deps.portal
            .check_form(&req, u, &form.csrf)
            .map_err(fail(&req, lang, user.as_ref()))?;
    }
    deps.portal
        .end(&req)
        .await
        .map_err(fail(&req, lang, user.as_ref()))
}

#[derive(serde::Deserialize)]
struct LangQuery {
    #[serde(default)]
    to: String,
    #[serde(default)]
    next: String,
}

async fn lang(req: HttpRequest, deps: Deps, query: web::Query<LangQuery>) -> HttpResponse {
    let chosen = Lang::parse(&query.to).unwrap_or_else(|| Lang::of(&req));
    let mut cookie = deps.portal.cookie(
        super::i18n::LANG_COOKIE,
        chosen.code().to_owned(),
        Some(365 * 86_400),
    );
    cookie.set_path("/");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, local_path(&query.next)))
        .cookie(cookie)
        .finish()
}

// ---------------------------------------------------------------------------------------------
// Shared by the role pages.

/// Requests per day, from audit times (RFC 3339): the date part counted, in order.
fn per_day<'a>(times: impl Iterator<Item = &'a str>) -> Vec<(String, Option<u64>)> {
    let mut days: BTreeMap<String, u64> = BTreeMap::new();
    for at in times {
        *days.entry(at.chars().take(10).collect()).or_default() += 1;
    }
    days.into_iter().map(|(d, n)| (d, Some(n))).collect()
}

fn day_plot(id: &str, t: &Texts, title: &'static str, days: &[(String, Option<u64>)]) -> String {
    let bars: Vec<Bar<'_>> = days
        .iter()
        .map(|(d, n)| Bar {
            label: d,
            value: *n,
        })
        .collect();
    column_chart(
        id,
        &PlotText {
            title,
            x_label: t.accesses_x,
            y_label: t.accesses_y,
            withheld: t.withheld,
            empty: t.no_data,
        },
        &bars,
    )
}

struct ApprovalRow {
    id: String,
    researcher: String,
    datasets: String,
    project: String,
    status: &'static str,
    until: String,
    revoked: bool,
}

struct ApplicationRow {
    id: String,
    researcher: String,
    institution: String,
    datasets: String,
    purpose: String,
    diseases: String,
    project: String,
    submitted: String,
    decision: String,
    reason: String,
}

#[derive(serde::Deserialize)]
struct AfterQuery {
    #[serde(default)]
    after: Option<String>,
}

fn date(t: time::OffsetDateTime) -> String {
    t.date().to_string()
}

fn approval_row(a: &gemj_model::Approval) -> ApprovalRow {
    ApprovalRow {
        id: a.id.to_string(),
        researcher: a.researcher_subject.clone(),
        datasets: a
            .datasets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        project: a.project.clone(),
        status: a.status.as_str(),
        until: date(a.valid_until),
        revoked: a.status == ApprovalStatus::Revoked,
    }
}

fn application_row(t: &Texts, a: &gemj_store::StoredApplication) -> ApplicationRow {
    let app = &a.application;
    ApplicationRow {
        id: app.id.to_string(),
        researcher: app.researcher_subject.clone(),
        institution: app.institution.clone(),
        datasets: app
            .datasets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        purpose: app
            .purpose
            .iter()
            .map(DuoCode::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        diseases: app.diseases.join(", "),
        project: app.project.clone(),
        submitted: date(app.submitted_at),
        decision: match &a.decision {
            None => t.pending.to_owned(),
            Some(d) if d.approved => t.approved.to_owned(),
            Some(_) => t.rejected.to_owned(),
        },
        reason: a
            .decision
            .as_ref()
            .map(|d| d.reason.clone())
            .unwrap_or_default(),
    }
}

/// A form body (`application/x-www-form-urlencoded`, repeated names allowed for lists).
fn parse_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| Failure::BadRequest("the form is not URL-encoded".to_owned()))?;
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
    for (k, v) in pairs.into_iter().take(256) {
        match map.get_mut(&k) {
            Some(serde_json::Value::Array(list)) => list.push(v.into()),
            Some(existing) => {
                let first = existing.take();
                *existing = serde_json::Value::Array(vec![first, v.into()]);
            }
            None => {
                map.insert(k, v.into());
            }
        }
    }
    // Fields that are lists take a single value as a one-element list.
    if let Some(serde_json::Value::String(s)) = map.get("facts").cloned() {
        map.insert("facts".to_owned(), serde_json::Value::Array(vec![s.into()]));
    }
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| Failure::BadRequest(format!("the form does not fit: {e}")))
}

#[derive(serde::Deserialize)]
struct DoneQuery {
    #[serde(default)]
    done: String,
}

fn flash(t: &'static Texts, done: &str) -> Option<&'static str> {
    match done {
        "approved" => Some(t.flash_approved),
        "rejected" => Some(t.flash_rejected),
        "status" => Some(t.flash_status),
        "withdrawn" => Some(t.flash_withdrawn),
        "outcome" => Some(t.flash_outcome),
        _ => None,
    }
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// The demo broker's sign-in page.
#[derive(Template)]
#[template(path = "portal/demo_broker.html")]
pub(crate) struct DemoBrokerPage {
    pub(crate) c: Common,
    pub(crate) refusal: Option<&'static str>,
    pub(crate) hidden: Vec<(&'static str, String)>,
    pub(crate) personas: Vec<PersonaView>,
}

/// A persona button of the demo broker's page.
pub(crate) struct PersonaView {
    pub(crate) key: String,
    pub(crate) label: String,
    pub(crate) subject: String,
}

/// The parts of a page that has no signed-in person (the demo broker's).
pub(crate) fn anonymous_common(lang: Lang, title: &str) -> Common {
    common(lang, None, title, "/portal", None)
}
