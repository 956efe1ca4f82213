//! The researcher's pages: the catalogue with its plots, a dataset with the access check
//! and the application form, the variant search, and their own approvals and history.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use gemj_core::{CoreError, Principal};

use super::*;

/// Registers the researcher's pages.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal/datasets", web::get().to(datasets))
        .route("/portal/datasets/{id}", web::get().to(dataset))
        .route("/portal/datasets/{id}/apply", web::post().to(apply))
        .route("/portal/beacon", web::get().to(beacon))
        .route("/portal/me", web::get().to(me));
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
            .search(&ctx(req), principal, &request, 0)
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
    #[serde(default)]
    filters: String,
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
    filters: String,
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
            filters: form.filters,
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
        // Ontology filters (sex, ICD-10, HPO), comma- or space-separated, as Beacon's GET takes them.
        let filters: Vec<&str> = form
            .filters
            .split([',', ' '])
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        if !filters.is_empty() {
            pairs.push(("filters".to_owned(), filters.join(",")));
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
        let request = BeaconRequest { query, scope: None };
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

// ---------------------------------------------------------------------------------------------
// A researcher's own page.

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
