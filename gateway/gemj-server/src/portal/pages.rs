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
use gemj_core::recontact::{OutcomeReport, RecontactService};
use gemj_core::{CoreError, Principal};
use gemj_model::{ApprovalStatus, DuoCode};

use super::i18n::{Lang, Texts, reason};
use super::svg::{Bar, PlotText, bar_chart, column_chart};
use super::{Failure, Portal, Role, User, failure_status, local_path};

/// Registers the pages.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal", web::get().to(home))
        .route("/portal/", web::get().to(home))
        .route("/portal/login", web::get().to(login))
        .route("/portal/callback", web::get().to(callback))
        .route("/portal/logout", web::post().to(logout))
        .route("/portal/lang", web::get().to(lang))
        .route("/portal/datasets", web::get().to(datasets))
        .route("/portal/datasets/{id}", web::get().to(dataset))
        .route("/portal/datasets/{id}/apply", web::post().to(apply))
        .route("/portal/beacon", web::get().to(beacon))
        .route("/portal/me", web::get().to(me))
        .route("/portal/committee", web::get().to(committee))
        .route(
            "/portal/committee/applications/{id}",
            web::post().to(decide),
        )
        .route(
            "/portal/committee/approvals/{id}",
            web::post().to(change_status),
        )
        .route("/portal/institution", web::get().to(institution))
        .route("/portal/institution/recontact", web::post().to(outcome))
        .route(
            "/portal/institution/participants/{id}",
            web::get().to(participant),
        )
        .route(
            "/portal/institution/participants/{id}/withdraw",
            web::post().to(withdraw),
        )
        .route("/portal/static/portal.css", web::get().to(css))
        .route("/portal/static/htmx.min.js", web::get().to(htmx));
}

/// The portal's stylesheet.
pub(crate) const CSS: &str = include_str!("../../static/portal.css");
/// The vendored htmx (see `static/README.md`).
pub(crate) const HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");

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
// Datasets.

struct TermView {
    id: String,
    short: String,
    label: String,
    definition: String,
}

struct DatasetView {
    id: String,
    name: String,
    level: &'static str,
    description: String,
    terms: Vec<TermView>,
    restrictions: Vec<String>,
}

impl Deps {
    fn term(&self, lang: Lang, id: &str) -> TermView {
        let duo = self.portal.settings.duo.as_deref();
        let term = duo.and_then(|o| o.term(id));
        let (label, definition) = match (term, lang) {
            (Some(t), Lang::Ja) => (
                t.label_ja.clone().unwrap_or_else(|| t.label.clone()),
                t.definition_ja
                    .clone()
                    .or_else(|| t.definition.clone())
                    .unwrap_or_default(),
            ),
            (Some(t), Lang::En) => (t.label.clone(), t.definition.clone().unwrap_or_default()),
            (None, _) => (id.to_owned(), String::new()),
        };
        TermView {
            id: id.to_owned(),
            short: term.and_then(|t| t.shorthand.clone()).unwrap_or_default(),
            label,
            definition,
        }
    }

    fn dataset_view(&self, lang: Lang, d: &DatasetSummary) -> DatasetView {
        let t = lang.texts();
        let u = &d.data_use;
        let mut terms = vec![self.term(lang, u.permission.as_str())];
        terms.extend(u.modifiers.iter().map(|m| self.term(lang, m.as_str())));
        let mut restrictions = Vec::new();
        for (label, values) in [
            (t.countries, &u.countries),
            (t.institutions, &u.institutions),
            (t.projects, &u.projects),
        ] {
            if !values.is_empty() {
                restrictions.push(format!("{label}: {}", values.join(", ")));
            }
        }
        if let Some(disease) = &u.disease {
            restrictions.push(format!("{}: {disease}", t.disease));
        }
        DatasetView {
            id: d.id.to_string(),
            name: d.name.clone(),
            level: d.access_level.as_str(),
            description: d.description.clone(),
            terms,
            restrictions,
        }
    }

    /// Participants by dataset, by dataset and sex, and by dataset and age band: one Data
    /// Connect search over the catalogue tables at the reader's level, so the same small-cell
    /// rules, rounding, budgets and audit apply as to any Data Connect client. A withheld cell
    /// (`participants` null) is drawn withheld; a cell the rules leave out has no bar.
    async fn counts(&self, req: &HttpRequest, principal: &Principal) -> Counts {
        const QUERY: &str = "SELECT 'dataset' AS facet, dataset_id, '' AS value, participants \
             FROM gemj.catalogue.datasets \
             UNION ALL SELECT 'sex', dataset_id, sex, participants FROM gemj.catalogue.participants_by_sex \
             UNION ALL SELECT 'age', dataset_id, age_band, participants \
             FROM gemj.catalogue.participants_by_age_band ORDER BY 1, 2, 3";
        let request = gemj_data_connect::SearchRequest {
            query: QUERY.to_owned(),
            parameters: Vec::new(),
        };
        let mut counts = Counts::default();
        let Ok(page) = self
            .data_connect
            .search(
                &ctx(req),
                principal,
                req.peer_addr().map(|a| a.ip()),
                &request,
                0,
            )
            .await
        else {
            return counts;
        };
        for row in &page.data {
            let field = |k: &str| {
                row.get(k)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
            };
            let n = row.get("participants").and_then(serde_json::Value::as_u64);
            let dataset = field("dataset_id").to_owned();
            match field("facet") {
                "dataset" => counts.datasets.push((dataset, n)),
                "sex" => counts
                    .sex
                    .push((format!("{dataset} · {}", field("value")), n)),
                "age" => counts
                    .age
                    .push((format!("{dataset} · {}", field("value")), n)),
                _ => {}
            }
        }
        counts
    }
}

/// What the datasets page plots.
#[derive(Default)]
struct Counts {
    datasets: Vec<(String, Option<u64>)>,
    sex: Vec<(String, Option<u64>)>,
    age: Vec<(String, Option<u64>)>,
}

fn plot_of(id: &str, t: &Texts, title: &str, rows: &[(String, Option<u64>)]) -> String {
    let bars: Vec<Bar<'_>> = rows
        .iter()
        .map(|(label, value)| Bar {
            label,
            value: *value,
        })
        .collect();
    bar_chart(
        id,
        &PlotText {
            title,
            x_label: t.counts_y,
            y_label: t.counts_x,
            withheld: t.withheld,
            empty: t.no_data,
        },
        &bars,
    )
}

#[derive(Template)]
#[template(path = "portal/datasets.html")]
struct DatasetsPage {
    c: Common,
    datasets: Vec<DatasetView>,
    plots: Vec<String>,
}

async fn datasets(req: HttpRequest, deps: Deps) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.who(&req).await?;
    let principal = principal_of(user.as_ref());
    let list = deps
        .catalogue
        .list_datasets(&ctx(&req), &principal)
        .await
        .map_err(core_fail(&req, lang, user.as_ref()))?;
    let views: Vec<DatasetView> = list.iter().map(|d| deps.dataset_view(lang, d)).collect();
    let counts = deps.counts(&req, &principal).await;
    let t = lang.texts();
    let plots = vec![
        plot_of("counts-plot", t, t.counts_title, &counts.datasets),
        plot_of("sex-plot", t, t.counts_by_sex, &counts.sex),
        plot_of("age-plot", t, t.counts_by_age, &counts.age),
    ];
    let page = DatasetsPage {
        c: common(lang, user.as_ref(), t.datasets, &here(&req), None),
        datasets: views,
        plots,
    };
    Ok(render(StatusCode::OK, &page))
}

struct AccessView {
    permitted: bool,
    decision: &'static str,
    served: usize,
    reasons: Vec<String>,
    terms: Vec<DuoOutcomeView>,
}

struct DuoOutcomeView {
    id: String,
    label: String,
    outcome: String,
    reason: String,
}

struct PurposeOption {
    id: String,
    short: String,
    label: String,
}

struct ApplyForm {
    csrf: String,
    purposes: Vec<PurposeOption>,
    facts: Vec<PurposeOption>,
    institution: String,
    diseases: String,
}

#[derive(Template)]
#[template(path = "portal/dataset.html")]
struct DatasetPage {
    c: Common,
    d: DatasetView,
    access: Option<AccessView>,
    apply: Option<ApplyForm>,
}

#[derive(serde::Deserialize)]
struct CheckQuery {
    #[serde(default)]
    check: String,
}

/// The DUO primary purposes an application may name.
const PURPOSES: [&str; 4] = ["DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011"];
/// The DUO modifiers that are facts a researcher affirms (IRB, PUB, RTN, COL, TS, MOR, GSO).
const FACTS: [&str; 7] = [
    "DUO:0000021",
    "DUO:0000019",
    "DUO:0000029",
    "DUO:0000020",
    "DUO:0000025",
    "DUO:0000024",
    "DUO:0000043",
];

async fn dataset(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    query: web::Query<CheckQuery>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.who(&req).await?;
    let principal = principal_of(user.as_ref());
    let summary = deps
        .catalogue
        .get_dataset(&ctx(&req), &principal, &id)
        .await
        .map_err(core_fail(&req, lang, user.as_ref()))?;
    let d = deps.dataset_view(lang, &summary);
    let access = if query.check == "1" {
        Some(
            deps.access(&req, lang, &principal, &d.id)
                .await
                .map_err(core_fail(&req, lang, user.as_ref()))?,
        )
    } else {
        None
    };
    let apply = user
        .as_ref()
        .filter(|u| u.role == Role::Researcher && d.level != "PUBLIC")
        .map(|u| {
            let own = summary.data_use.permission.as_str();
            let mut purposes: Vec<PurposeOption> = std::iter::once(own)
                .chain(PURPOSES.iter().copied().filter(|p| *p != own))
                .map(|p| deps.option(lang, p))
                .collect();
            purposes.dedup_by(|a, b| a.id == b.id);
            let facts = summary
                .data_use
                .modifiers
                .iter()
                .map(DuoCode::as_str)
                .filter(|m| FACTS.contains(m))
                .map(|m| deps.option(lang, m))
                .collect();
            ApplyForm {
                csrf: u.csrf.clone(),
                purposes,
                facts,
                institution: String::new(),
                diseases: summary.data_use.disease.clone().unwrap_or_default(),
            }
        });
    let page = DatasetPage {
        c: common(lang, user.as_ref(), &d.name, &here(&req), None),
        d,
        access,
        apply,
    };
    Ok(render(StatusCode::OK, &page))
}

impl Deps {
    fn option(&self, lang: Lang, id: &str) -> PurposeOption {
        let t = self.term(lang, id);
        PurposeOption {
            id: t.id,
            short: t.short,
            label: t.label,
        }
    }

    /// Asks the data service whether the reader may read the dataset's data: an audited
    /// decision like any data request; a refusal comes back in words.
    async fn access(
        &self,
        req: &HttpRequest,
        lang: Lang,
        principal: &Principal,
        id: &str,
    ) -> Result<AccessView, CoreError> {
        match self
            .data
            .dataset_participants(&ctx(req), principal, id)
            .await
        {
            Ok(served) => Ok(AccessView {
                permitted: true,
                decision: "permit",
                served: served.participants.len(),
                reasons: Vec::new(),
                terms: Vec::new(),
            }),
            Err(CoreError::Denied(denial)) => {
                let terms = denial
                    .duo
                    .as_ref()
                    .map(|m| {
                        m.terms
                            .iter()
                            .map(|t| DuoOutcomeView {
                                id: t.term.clone(),
                                label: match lang {
                                    Lang::Ja => {
                                        t.label_ja.clone().unwrap_or_else(|| t.label.clone())
                                    }
                                    Lang::En => t.label.clone(),
                                },
                                outcome: t.outcome.to_string(),
                                reason: match lang {
                                    Lang::Ja => t.reason_ja.clone(),
                                    Lang::En => t.reason.clone(),
                                },
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(AccessView {
                    permitted: false,
                    decision: "deny",
                    served: 0,
                    reasons: denial
                        .reasons
                        .iter()
                        .map(|r| reason(lang, r.code()))
                        .collect(),
                    terms,
                })
            }
            Err(CoreError::CredentialRequired) => Ok(AccessView {
                permitted: false,
                decision: "deny",
                served: 0,
                reasons: vec![reason(lang, "data_access_requires_credential")],
                terms: Vec::new(),
            }),
            Err(e) => Err(e),
        }
    }
}

#[derive(serde::Deserialize)]
struct ApplyFormInput {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    facts: Vec<String>,
    #[serde(default)]
    project: String,
    #[serde(default)]
    institution: String,
    #[serde(default)]
    diseases: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    for_profit: String,
}

#[derive(Template)]
#[template(path = "portal/applied.html")]
struct AppliedPage {
    c: Common,
    id: String,
    dataset: String,
}

async fn apply(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, ApplyFormInput) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let mut purpose = vec![duo(&form.purpose).map_err(&f)?];
    for fact in form.facts.iter().take(16) {
        let code = duo(fact).map_err(&f)?;
        if !purpose.contains(&code) {
            purpose.push(code);
        }
    }
    let terms = ApplicationTerms {
        institution: form.institution.trim().to_owned(),
        project: form.project.trim().to_owned(),
        purpose,
        diseases: form
            .diseases
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
        for_profit: form.for_profit == "yes",
        country: form.country.trim().to_ascii_uppercase(),
    };
    let application = deps
        .approvals
        .apply(&ctx(&req), &user.principal, &id, terms)
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    let page = AppliedPage {
        c: common(
            lang,
            Some(&user),
            lang.texts().application_submitted,
            &here(&req),
            None,
        ),
        id: application.id.to_string(),
        dataset: id.into_inner(),
    };
    Ok(render(StatusCode::CREATED, &page))
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

fn duo(s: &str) -> Result<DuoCode, Failure> {
    DuoCode::parse(s.trim()).map_err(|_| Failure::BadRequest(format!("not a DUO term: {s}")))
}

// ---------------------------------------------------------------------------------------------
// Beacon.

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct BeaconForm {
    #[serde(default)]
    reference_name: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    reference_bases: String,
    #[serde(default)]
    alternate_bases: String,
}

struct SetView {
    id: String,
    exists: bool,
    count: String,
}

struct BeaconResult {
    exists: bool,
    error: Option<String>,
    granularity: String,
    total: Option<u64>,
    sets: Vec<SetView>,
    plot: Option<String>,
}

struct BeaconQueryView {
    reference_name: String,
    start: String,
    end: String,
    reference_bases: String,
    alternate_bases: String,
}

#[derive(Template)]
#[template(path = "portal/beacon.html")]
struct BeaconPage {
    c: Common,
    q: BeaconQueryView,
    result: Option<BeaconResult>,
}

async fn beacon(
    req: HttpRequest,
    deps: Deps,
    form: web::Query<BeaconForm>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.who(&req).await?;
    let form = form.into_inner();
    let result = if form.reference_name.is_empty() {
        None
    } else {
        Some(deps.variant_search(&req, lang, user.as_ref(), &form).await)
    };
    let t = lang.texts();
    let page = BeaconPage {
        c: common(lang, user.as_ref(), t.beacon, &here(&req), None),
        q: BeaconQueryView {
            reference_name: form.reference_name,
            start: form.start,
            end: form.end,
            reference_bases: form.reference_bases,
            alternate_bases: form.alternate_bases,
        },
        result,
    };
    Ok(render(StatusCode::OK, &page))
}

impl Deps {
    /// A Beacon `g_variants` query at the most detailed level the reader may get, read back
    /// for the page; a refused query says why in the Beacon's words.
    async fn variant_search(
        &self,
        req: &HttpRequest,
        lang: Lang,
        user: Option<&User>,
        form: &BeaconForm,
    ) -> BeaconResult {
        let t = lang.texts();
        let mut pairs = vec![
            (
                "referenceName".to_owned(),
                form.reference_name.trim().to_owned(),
            ),
            ("requestedGranularity".to_owned(), "record".to_owned()),
        ];
        // The form is 1-based and inclusive, as people read positions; Beacon is 0-based.
        let start = form.start.trim().parse::<u64>().ok();
        let end = form.end.trim().parse::<u64>().ok();
        if let Some(s) = start {
            pairs.push(("start".to_owned(), s.saturating_sub(1).to_string()));
        } else {
            pairs.push(("start".to_owned(), form.start.trim().to_owned()));
        }
        if let Some(e) = end {
            pairs.push(("end".to_owned(), e.to_string()));
        }
        for (name, value) in [
            ("referenceBases", &form.reference_bases),
            ("alternateBases", &form.alternate_bases),
        ] {
            if !value.trim().is_empty() {
                pairs.push((name.to_owned(), value.trim().to_ascii_uppercase()));
            }
        }
        let refused = |message: String| BeaconResult {
            exists: false,
            error: Some(message),
            granularity: String::new(),
            total: None,
            sets: Vec::new(),
            plot: None,
        };
        let limits = self.beacon.settings().limits();
        let query = match gemj_beacon::BeaconQuery::from_get(
            &pairs,
            gemj_beacon::EntryType::GenomicVariant,
            &limits,
        ) {
            Ok(q) => q,
            Err(e) => return refused(e.to_string()),
        };
        let request = BeaconRequest {
            query,
            scope: None,
            ip: req.peer_addr().map(|a| a.ip()),
        };
        let answer = match self
            .beacon
            .query(&ctx(req), &principal_of(user), request)
            .await
        {
            Ok(a) => a,
            Err(BeaconFailure::Beacon(e, _)) => return refused(e.to_string()),
            Err(BeaconFailure::Core(_)) => return refused(t.error_unavailable.to_owned()),
        };
        let value = serde_json::to_value(&answer).unwrap_or_default();
        let text = |p: &str| {
            value
                .pointer(p)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let sets: Vec<&serde_json::Value> = value
            .pointer("/response/resultSets")
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let mut positions = Vec::new();
        for set in &sets {
            for record in set
                .get("results")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(p) = record
                    .pointer("/variation/location/interval/start/value")
                    .and_then(serde_json::Value::as_u64)
                {
                    positions.push(p);
                }
            }
        }
        let plot = (!positions.is_empty()).then(|| {
            let lo = start.unwrap_or(1).saturating_sub(1);
            let hi = end.unwrap_or_else(|| positions.iter().copied().max().unwrap_or(lo) + 1);
            frequency_plot(t, lo, hi.max(lo + 1), &positions)
        });
        BeaconResult {
            exists: value
                .pointer("/responseSummary/exists")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            error: None,
            granularity: text("/meta/returnedGranularity"),
            total: value
                .pointer("/responseSummary/numTotalResults")
                .and_then(serde_json::Value::as_u64),
            sets: sets
                .iter()
                .map(|s| SetView {
                    id: s
                        .get("id")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned(),
                    exists: s
                        .get("exists")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(false),
                    count: s
                        .get("resultsCount")
                        .and_then(serde_json::Value::as_u64)
                        .map_or_else(|| "—".to_owned(), |n| n.to_string()),
                })
                .collect(),
            plot,
        }
    }
}

/// Variants per bin along the region (20 bins): a count of variants, not of people.
fn frequency_plot(t: &Texts, lo: u64, hi: u64, positions: &[u64]) -> String {
    const BINS: u64 = 20;
    let width = (hi - lo).div_ceil(BINS).max(1);
    let mut counts = [0u64; 20];
    for p in positions {
        if let Some(slot) = p
            .checked_sub(lo)
            .map(|o| o / width)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| counts.get_mut(i))
        {
            *slot += 1;
        }
    }
    let labels: Vec<String> = (0..BINS)
        .map(|i| (lo + i * width + 1).to_string())
        .collect();
    let bars: Vec<Bar<'_>> = labels
        .iter()
        .zip(counts)
        .map(|(label, n)| Bar {
            label,
            value: Some(n),
        })
        .collect();
    column_chart(
        "frequency-plot",
        &PlotText {
            title: t.frequency_title,
            x_label: t.frequency_x,
            y_label: t.frequency_y,
            withheld: t.withheld,
            empty: t.no_data,
        },
        &bars,
    )
}

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

// ---------------------------------------------------------------------------------------------
// A researcher's own page.

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

struct HistoryRow {
    at: String,
    api: String,
    action: String,
    resource: String,
    decision: &'static str,
    reasons: String,
}

#[derive(Template)]
#[template(path = "portal/me.html")]
struct MePage {
    c: Common,
    approvals: Vec<ApprovalRow>,
    applications: Vec<ApplicationRow>,
    history: Vec<HistoryRow>,
    plot: String,
    next_after: Option<i64>,
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

async fn me(
    req: HttpRequest,
    deps: Deps,
    query: web::Query<AfterQuery>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.signed_in(&req).await?;
    let f = core_fail(&req, lang, Some(&user));
    let t = lang.texts();
    let after = match query.after.as_deref() {
        None | Some("") => 0,
        Some(a) => a
            .parse::<i64>()
            .map_err(|_| fail(&req, lang, Some(&user))(Failure::BadRequest("after".to_owned())))?,
    };
    let own = deps
        .approvals
        .mine(&ctx(&req), &user.principal)
        .await
        .map_err(&f)?;
    let page_of = deps
        .audit
        .my_history(&ctx(&req), &user.principal, after, 200)
        .await
        .map_err(&f)?;
    let days = per_day(page_of.records.iter().map(|r| r.at.as_str()));
    let history = page_of
        .records
        .iter()
        .rev()
        .map(|r| HistoryRow {
            at: r.at.clone(),
            api: r.api.clone(),
            action: r.action.clone(),
            resource: r.resource.clone(),
            decision: if r.decision == gemj_model::AccessDecision::Permit {
                t.permit
            } else {
                t.deny
            },
            reasons: r
                .reasons
                .iter()
                .map(|c| reason(lang, c))
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    let page = MePage {
        c: common(lang, Some(&user), t.my_page, &here(&req), None),
        approvals: own.approvals.iter().map(approval_row).collect(),
        applications: own
            .applications
            .iter()
            .map(|a| application_row(t, a))
            .collect(),
        history,
        plot: day_plot("accesses-plot", t, t.accesses_title, &days),
        next_after: page_of.next_after,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---------------------------------------------------------------------------------------------
// The committee.

#[derive(Template)]
#[template(path = "portal/committee.html")]
struct CommitteePage {
    c: Common,
    csrf: String,
    pending: Vec<ApplicationRow>,
    approvals: Vec<ApprovalRow>,
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

async fn committee(
    req: HttpRequest,
    deps: Deps,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.signed_in(&req).await?;
    let t = lang.texts();
    let view = deps
        .approvals
        .committee_view(&ctx(&req), &user.principal, 200)
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    let page = CommitteePage {
        c: common(
            lang,
            Some(&user),
            t.committee,
            &here(&req),
            flash(t, &query.done),
        ),
        csrf: user.csrf.clone(),
        pending: view.pending.iter().map(|a| application_row(t, a)).collect(),
        approvals: view.approvals.iter().map(approval_row).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    valid_days: String,
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

async fn decide(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, DecisionForm) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(f(Failure::BadRequest("decision".to_owned()))),
    };
    let days = if form.valid_days.trim().is_empty() {
        365
    } else {
        form.valid_days
            .trim()
            .parse::<u16>()
            .map_err(|_| f(Failure::BadRequest("valid_days".to_owned())))?
    };
    deps.approvals
        .decide(
            &ctx(&req),
            &user.principal,
            &id,
            approve,
            &form.reason,
            days,
        )
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    Ok(see_other(if approve {
        "/portal/committee?done=approved"
    } else {
        "/portal/committee?done=rejected"
    }))
}

#[derive(serde::Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

async fn change_status(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, StatusForm) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let status = match form.status.as_str() {
        "active" => ApprovalStatus::Active,
        "suspended" => ApprovalStatus::Suspended,
        "revoked" => ApprovalStatus::Revoked,
        _ => return Err(f(Failure::BadRequest("status".to_owned()))),
    };
    if form.reason.trim().is_empty() {
        return Err(f(Failure::BadRequest(lang.texts().reason.to_owned())));
    }
    deps.approvals
        .set_status(&ctx(&req), &user.principal, &id, status, &form.reason)
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    Ok(see_other("/portal/committee?done=status"))
}

// ---------------------------------------------------------------------------------------------
// A hospital's coordinator.

struct InboxRow {
    request: String,
    participant: String,
    kind: String,
    reason: String,
    status: String,
}

struct ParticipantRow {
    id: String,
    state: String,
}

#[derive(Template)]
#[template(path = "portal/institution.html")]
struct InstitutionPage {
    c: Common,
    csrf: String,
    institution: String,
    inbox: Vec<InboxRow>,
    participants: Vec<ParticipantRow>,
    next_after: Option<String>,
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A consent event's kind (`initial_consent`, `withdrawal: stop_all_use`, ...).
fn event_kind(kind: &gemj_model::ConsentEventKind) -> String {
    let value = serde_json::to_value(kind).unwrap_or_default();
    let name = value
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or_default();
    match value.get("level").and_then(|l| l.as_str()) {
        Some(level) => format!("{name}: {level}"),
        None => name.to_owned(),
    }
}

/// The consent state's overall status as its stable code and in the reader's words.
fn state_words(state: Option<&gemj_model::ConsentState>) -> (String, String) {
    match state {
        None => ("none".to_owned(), "—".to_owned()),
        Some(s) => {
            let code = name_of(&s.status);
            let mut words = code.clone();
            if let Some(w) = &s.withdrawal {
                words = format!("{words} ({})", name_of(w));
            }
            (code, words)
        }
    }
}

async fn institution(
    req: HttpRequest,
    deps: Deps,
    query: web::Query<AfterQuery>,
    done: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.signed_in(&req).await?;
    let f = core_fail(&req, lang, Some(&user));
    let Some(inst) = user.institution.clone() else {
        return Err(f(CoreError::Denied(Box::new(gemj_core::access::Denial {
            reasons: vec![gemj_core::access::Reason::InstitutionCredentialRequired],
            unauthenticated: false,
            duo: None,
        }))));
    };
    let t = lang.texts();
    let inbox = deps
        .recontact
        .inbox(&ctx(&req), &user.principal, inst.as_str())
        .await
        .map_err(&f)?;
    let list = deps
        .consent
        .participants(
            &ctx(&req),
            &user.principal,
            inst.as_str(),
            query.after.as_deref().filter(|a| !a.is_empty()),
            100,
        )
        .await
        .map_err(&f)?;
    let next_after = (list.len() == 100)
        .then(|| list.last().map(|(id, _)| id.to_string()))
        .flatten();
    let page = InstitutionPage {
        c: common(
            lang,
            Some(&user),
            t.institution_page,
            &here(&req),
            flash(t, &done.done),
        ),
        csrf: user.csrf.clone(),
        institution: inst.to_string(),
        inbox: inbox
            .iter()
            .map(|e| InboxRow {
                request: e.request.to_string(),
                participant: e.participant.to_string(),
                kind: name_of(&e.kind),
                reason: e.reason.clone(),
                status: name_of(&e.status),
            })
            .collect(),
        participants: list
            .iter()
            .map(|(id, state)| ParticipantRow {
                id: id.to_string(),
                state: state_words(state.as_ref()).1,
            })
            .collect(),
        next_after,
    };
    Ok(render(StatusCode::OK, &page))
}

struct EventRow {
    at: String,
    id: String,
    kind: String,
}

struct AccessRow {
    at: String,
    who: String,
    api: String,
    action: String,
    decision: &'static str,
    approval: String,
    records: String,
}

#[derive(Template)]
#[template(path = "portal/participant.html")]
struct ParticipantPage {
    c: Common,
    csrf: String,
    levels: [&'static str; 4],
    id: String,
    state: String,
    state_code: String,
    events: Vec<EventRow>,
    accesses: Vec<AccessRow>,
    plot: Option<String>,
    can_withdraw: bool,
}

async fn participant(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    done: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let (lang, user) = deps.signed_in(&req).await?;
    let f = core_fail(&req, lang, Some(&user));
    let t = lang.texts();
    let record = deps
        .consent
        .get_record(&ctx(&req), &user.principal, &id)
        .await
        .map_err(&f)?;
    let report = deps
        .audit
        .participant_history(&ctx(&req), &user.principal, &id, 0, 500)
        .await
        .map_err(&f)?;
    let (state_code, state) = state_words(record.state.as_ref());
    let days = per_day(report.records.iter().map(|r| r.at.as_str()));
    let page = ParticipantPage {
        c: common(
            lang,
            Some(&user),
            t.participant,
            &here(&req),
            flash(t, &done.done),
        ),
        csrf: user.csrf.clone(),
        levels: LEVELS,
        id: record.participant.to_string(),
        can_withdraw: state_code != "withdrawn",
        state,
        state_code,
        events: record
            .events
            .iter()
            .rev()
            .map(|e| EventRow {
                at: e
                    .event
                    .effective_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                id: e.event.event_id.clone(),
                kind: event_kind(&e.event.kind),
            })
            .collect(),
        plot: (!days.is_empty()).then(|| {
            day_plot(
                "participant-accesses-plot",
                t,
                t.participant_accesses_title,
                &days,
            )
        }),
        accesses: report
            .records
            .iter()
            .rev()
            .map(|a| AccessRow {
                at: a.at.clone(),
                who: a.principal.clone(),
                api: a.api.clone(),
                action: a.action.clone(),
                decision: if a.decision == gemj_model::AccessDecision::Permit {
                    t.permit
                } else {
                    t.deny
                },
                approval: a.approval.clone().unwrap_or_default(),
                records: a
                    .records_returned
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    level: String,
}

/// The withdrawal levels a coordinator may record, the full withdrawal first.
const LEVELS: [&str; 4] = [
    "stop_all_use",
    "stop_all_use_and_destroy",
    "stop_third_party_provision",
    "stop_contact",
];

fn level_of(s: &str) -> Result<gemj_model::WithdrawalLevel, Failure> {
    let s = if s.is_empty() { LEVELS[0] } else { s };
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| Failure::BadRequest(format!("not a withdrawal level: {s}")))
}

#[derive(Template)]
#[template(path = "portal/confirm_withdraw.html")]
struct ConfirmWithdrawPage {
    c: Common,
    csrf: String,
    id: String,
    level: String,
}

async fn withdraw(
    req: HttpRequest,
    deps: Deps,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, WithdrawForm) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let t = lang.texts();
    let level = level_of(&form.level).map_err(&f)?;
    if form.confirm != "yes" {
        // First step: the coordinator sees what will happen and confirms.
        let page = ConfirmWithdrawPage {
            c: common(
                lang,
                Some(&user),
                t.withdraw_confirm_title,
                &here(&req),
                None,
            ),
            csrf: user.csrf.clone(),
            id: id.to_string(),
            level: name_of(&level),
        };
        return Ok(render(StatusCode::OK, &page));
    }
    let Some(institution) = user.institution.clone() else {
        return Err(f(Failure::Core(CoreError::Forbidden(
            t.role_coordinator.to_owned(),
        ))));
    };
    let participant =
        gemj_model::ParticipantId::parse(&id).map_err(|_| f(Failure::Core(CoreError::NotFound)))?;
    let event = gemj_model::ConsentEvent {
        event_id: format!("portal-{}", uuid::Uuid::new_v4()),
        participant,
        institution,
        effective_at: time::OffsetDateTime::now_utc(),
        kind: gemj_model::ConsentEventKind::Withdrawal { level },
    };
    deps.consent
        .post_event(&ctx(&req), &user.principal, &event)
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    Ok(see_other(&format!(
        "/portal/institution/participants/{}?done=withdrawn",
        encode_component(&id)
    )))
}

#[derive(serde::Deserialize)]
struct OutcomeForm {
    #[serde(default)]
    request: String,
    #[serde(default)]
    participant: String,
    #[serde(default)]
    status: String,
}

async fn outcome(
    req: HttpRequest,
    deps: Deps,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let (lang, user, form): (_, _, OutcomeForm) = deps.signed_form(&req, &body).await?;
    let f = fail(&req, lang, Some(&user));
    let Some(institution) = user.institution.clone() else {
        return Err(f(Failure::Core(CoreError::Forbidden(
            lang.texts().role_coordinator.to_owned(),
        ))));
    };
    let report: OutcomeReport = serde_json::from_value(serde_json::json!({
        "request": form.request,
        "participant": form.participant,
        "status": form.status,
    }))
    .map_err(|_| f(Failure::BadRequest("status".to_owned())))?;
    deps.recontact
        .report_outcomes(&ctx(&req), &user.principal, institution.as_str(), &[report])
        .await
        .map_err(core_fail(&req, lang, Some(&user)))?;
    Ok(see_other("/portal/institution?done=outcome"))
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
