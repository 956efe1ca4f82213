//! GA4GH Beacon v2.2.0 over the GeMJ store: every entry type, the framework documents, and the
//! access and privacy rules that decide how much each caller learns.
//!
//! A query runs in four steps:
//!
//! 1. **Which datasets, at which level.** Every dataset in the query's scope (all, the
//!    `datasetIds` asked for, or the one a `/datasets/{id}/...` route names) is decided with
//!    [`Action::Discover`] at the access decision point: PUBLIC level (booleans) for anyone,
//!    REGISTERED (counts) with a verified registered-researcher visa, CONTROLLED (records) when
//!    the CONTROLLED rule holds for that dataset. The dataset's configured ceiling caps it. The
//!    response's granularity is the lowest level among the datasets queried, capped by the
//!    requested one, and `meta.returnedGranularity` states it.
//! 2. **Who may count.** Each dataset's members, less those the consent view does not serve at
//!    the caller's consent scope (withdrawn participants never count), less (below record
//!    level) those whose risk budget for this requester is spent.
//! 3. **What matches.** Filters are bitmaps of the in-memory [`index::BeaconIndex`]; variant
//!    queries read the store's variant index (carrier bitmaps), never files; both intersect.
//! 4. **What may be said.** Booleans over datasets smaller than the minimum cohort are false,
//!    rare alleles are masked, counts are suppressed below the small-cell threshold and
//!    rounded; "absent" and "not allowed" give the same answer. Every dataset decision is
//!    audited with the answer class (`answer:boolean` / `count` / `record`).

mod catalogue_tables;
pub mod index;
pub mod network;
pub mod privacy;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, RwLock};

use gemj_beacon::{
    Analysis, BeaconCollectionsResponse, BeaconError, BeaconFramework, BeaconInfo,
    BeaconInfoResponse, BeaconOrganization, BeaconQuery, Biosample, CaseLevelVariant, Cohort,
    CohortType, Count, DataUseConditions, Disease, DuoDataUse, EntryResponse, EntryType,
    Environment, ErrorKind, FilteringTerm, GenomicVariation, Granularity, Hgvs, Individual,
    IsoDate, OntologyTerm, PhenotypicFeature, ProductionStatus, QueryResponse, Record,
    ResponseMeta, ResultSet, Run, SecurityAttributes, SecurityLevel, VariantLocus, VariantQuery,
    VariantQueryKind, Variation,
};
use gemj_model::{AccessLevel, DataUseCondition, ParticipantId, Program, SpecimenType};
use gemj_store::VariantRow;
use roaring::RoaringBitmap;
use serde_json::{Value, json};

use crate::access::{
    Action, Ask, DiscoveryLevel, Enforcement, Outcome, Principal, RequestContext, Resource,
    Verdicts,
};
use crate::{CoreError, Shared};
use index::BeaconIndex;
use privacy::{BudgetSettings, Budgets, DatasetPrivacy};

/// The Beacon's configuration.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct BeaconSettings {
    /// The beacon's id (reverse domain name).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Who runs it.
    pub organization_id: String,
    /// The organization's name.
    pub organization_name: String,
    /// `prod`, `test`, `dev` or `staging`: not configured here but set from the gateway's
    /// `service.environment` when the service is built, so Beacon `/info` and `/service-info`
    /// always agree.
    #[serde(skip)]
    pub environment: String,
    /// The assembly of the stored variants.
    pub assembly: String,
    /// Records per page by default.
    pub default_limit: u64,
    /// Records per page at most.
    pub max_limit: u64,
    /// Filters per query at most.
    pub max_filters: usize,
    /// Variants read per dataset and query at most (a wider query is refused with a hint to
    /// narrow it).
    pub max_variants_scanned: u32,
    /// Decoded variant rows kept in memory (1 Mb blocks per dataset and chromosome, dropped
    /// when the catalogue epoch moves or the cache is full).
    pub variant_cache_rows: usize,
    /// Privacy defaults for every dataset.
    pub privacy: DatasetPrivacy,
    /// Per-dataset privacy settings, by dataset id (replacing the defaults whole).
    pub datasets: BTreeMap<String, DatasetPrivacy>,
    /// Query and risk budgets.
    pub budgets: BudgetSettings,
    /// The member beacons this gateway's Beacon network asks (`/beacon-network/v2`); none:
    /// no network.
    pub network: network::NetworkSettings,
}

impl Default for BeaconSettings {
    fn default() -> Self {
        Self {
            id: "jp.gemj.beacon".to_owned(),
            name: "GeMJ Beacon".to_owned(),
            organization_id: "jp.gemj".to_owned(),
            organization_name: "Genomic Medicine Japan".to_owned(),
            environment: "prod".to_owned(),
            assembly: "GRCh38".to_owned(),
            default_limit: 10,
            max_limit: 100,
            max_filters: 10,
            max_variants_scanned: 200_000,
            variant_cache_rows: 2_000_000,
            privacy: DatasetPrivacy::default(),
            datasets: BTreeMap::new(),
            budgets: BudgetSettings::default(),
            network: network::NetworkSettings::default(),
        }
    }
}

impl BeaconSettings {
    /// The request limits the wire layer validates against.
    #[must_use]
    pub fn limits(&self) -> gemj_beacon::QueryLimits {
        gemj_beacon::QueryLimits {
            assemblies: vec![self.assembly.clone()],
            default_limit: self.default_limit,
            max_limit: self.max_limit,
            max_filters: self.max_filters,
            // Variant parameters narrow individuals, biosamples, runs and analyses to carriers.
            cross_entry_variant_queries: true,
            ..gemj_beacon::QueryLimits::default()
        }
    }

    /// The privacy settings of one dataset.
    #[must_use]
    pub fn privacy_of(&self, dataset: &str) -> DatasetPrivacy {
        self.datasets.get(dataset).copied().unwrap_or(self.privacy)
    }

    fn environment(&self) -> Environment {
        match self.environment.as_str() {
            "test" => Environment::Test,
            "dev" => Environment::Dev,
            "staging" => Environment::Staging,
            _ => Environment::Prod,
        }
    }
}

/// The Beacon service of one gateway instance: settings, the index of the current catalogue
/// epoch, and the budgets.
#[derive(Debug)]
pub struct Beacon {
    core: Shared,
    settings: BeaconSettings,
    hpo: Option<Arc<gemj_ontology::hpo::Ontology>>,
    index: RwLock<Option<Arc<BeaconIndex>>>,
    blocks: std::sync::Mutex<VariantBlocks>,
    servable: std::sync::Mutex<ServableCache>,
    rebuild: tokio::sync::Mutex<()>,
    budgets: Budgets,
}

/// The entries a query is nested under (`/datasets/{id}/individuals`, `/individuals/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The entry type of the route's `{id}`.
    pub entry_type: EntryType,
    /// The id.
    pub id: String,
}

/// A query as the routes hand it over.
#[derive(Debug, Clone)]
pub struct BeaconRequest {
    /// The parsed query (its entry type is the one answered).
    pub query: BeaconQuery,
    /// The entry the route is nested under or names.
    pub scope: Option<Scope>,
}

/// Why a query was not answered: a Beacon error (400-class), or a failure of the gateway.
#[derive(Debug)]
pub enum BeaconFailure {
    /// In the Beacon error format, with `Retry-After` seconds for 429.
    Beacon(BeaconError, Option<u64>),
    /// The gateway's own failure (store, audit, stale consent).
    Core(CoreError),
}

impl From<CoreError> for BeaconFailure {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

impl From<BeaconError> for BeaconFailure {
    fn from(e: BeaconError) -> Self {
        Self::Beacon(e, None)
    }
}

impl From<gemj_store::StoreError> for BeaconFailure {
    fn from(e: gemj_store::StoreError) -> Self {
        Self::Core(e.into())
    }
}

/// One dataset as a query sees it.
#[derive(Debug)]
struct DatasetView {
    dataset: Arc<gemj_model::Dataset>,
    level: Granularity,
    privacy: DatasetPrivacy,
    /// Members the caller may be served (consent), less spent risk budgets below record level.
    servable: RoaringBitmap,
    /// Members withheld by consent (or spent risk budgets).
    withheld: u64,
    /// When `servable` is exactly the dataset's members served at this consent scope and
    /// epoch (no filter, route scope or spent budget narrowed it): the key under which
    /// per-row counts of servable carriers are cached.
    plain: Option<PlainKey>,
    /// The dataset's decision: its index among the request's verdicts.
    ask: usize,
}

/// Checks that every dataset view that may count someone holds its permit: a view without one
/// serves nobody (so nothing is released that its decision did not permit).
fn permitted_views(views: &[DatasetView], verdicts: &Verdicts) -> Result<(), CoreError> {
    if views
        .iter()
        .any(|v| !v.servable.is_empty() && verdicts.permit(v.ask).is_none())
    {
        return Err(CoreError::AuditUnavailable);
    }
    Ok(())
}

/// A matched variant row, with its servable carriers when they were counted already.
type Matched = (Arc<VariantRow>, Option<u64>);

/// A consent scope (industry, international) at a consent epoch.
type PlainKey = (bool, bool, i64);

/// The entry types served, all of them.
pub const ENTRY_TYPES: [EntryType; 7] = EntryType::ALL;

impl Beacon {
    /// The phenotype ontology loaded, if any.
    #[must_use]
    pub fn hpo(&self) -> Option<&Arc<gemj_ontology::hpo::Ontology>> {
        self.hpo.as_ref()
    }

    /// A Beacon over the gateway's shared parts with `settings`, expanding HPO filters
    /// through `hpo` when given.
    #[must_use]
    pub fn new(
        core: Shared,
        settings: BeaconSettings,
        hpo: Option<Arc<gemj_ontology::hpo::Ontology>>,
    ) -> Self {
        let budgets = Budgets::new(settings.budgets, core.store.clone());
        Self {
            core,
            settings,
            hpo,
            index: RwLock::new(None),
            blocks: std::sync::Mutex::new(VariantBlocks::default()),
            servable: std::sync::Mutex::new(ServableCache::default()),
            rebuild: tokio::sync::Mutex::new(()),
            budgets,
        }
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &BeaconSettings {
        &self.settings
    }

    /// The index of the current catalogue epoch, rebuilt from the store when the epoch moved.
    ///
    /// # Errors
    /// Store failures.
    pub async fn index(&self) -> Result<Arc<BeaconIndex>, CoreError> {
        let core = &self.core;
        let epoch = core.catalogue.epoch().await?;
        if let Ok(guard) = self.index.read()
            && let Some(index) = guard.as_ref()
            && index.epoch == epoch
        {
            return Ok(Arc::clone(index));
        }
        // One rebuild at a time; the others wait for it and take its result.
        let _rebuilding = self.rebuild.lock().await;
        if let Ok(guard) = self.index.read()
            && let Some(index) = guard.as_ref()
            && index.epoch == epoch
        {
            return Ok(Arc::clone(index));
        }
        let snapshot = core.store.catalogue_snapshot().await?;
        let index = Arc::new(BeaconIndex::build(snapshot, self.hpo.clone()));
        if let Ok(mut guard) = self.index.write() {
            *guard = Some(Arc::clone(&index));
        }
        Ok(index)
    }

    fn framework<'a>(&'a self, base_url: &'a str) -> BeaconFramework<'a> {
        BeaconFramework {
            beacon_id: &self.settings.id,
            base_url,
            entry_types: &ENTRY_TYPES,
            nested_routes: gemj_beacon::SPEC_NESTED_ROUTES,
            non_filtered_queries_allowed: &[
                EntryType::Dataset,
                EntryType::Cohort,
                EntryType::Individual,
                EntryType::Biosample,
                EntryType::Analysis,
                EntryType::Run,
            ],
            production_status: if self.settings.environment == "prod" {
                ProductionStatus::Prod
            } else {
                ProductionStatus::Test
            },
            security: SecurityAttributes {
                default_granularity: Granularity::Boolean,
                security_levels: vec![
                    SecurityLevel::Public,
                    SecurityLevel::Registered,
                    SecurityLevel::Controlled,
                ],
            },
        }
    }

    /// `/info` (and `/`).
    #[must_use]
    pub fn info(&self, base_url: &str) -> BeaconInfoResponse {
        let organization = BeaconOrganization {
            id: self.settings.organization_id.clone(),
            name: self.settings.organization_name.clone(),
            description: None,
            address: None,
            welcome_url: None,
            contact_url: None,
            logo_url: None,
        };
        let mut info = BeaconInfo::new(
            self.settings.id.clone(),
            self.settings.name.clone(),
            self.settings.environment(),
            organization,
        );
        info.description = Some(
            "Discovery over the GeMJ national whole-genome program: booleans for anyone, \
             counts for registered researchers, records for approved ones; consent-aware."
                .to_owned(),
        );
        info.version = Some(env!("CARGO_PKG_VERSION").to_owned());
        info.welcome_url = Some(format!("{}/", base_url.trim_end_matches('/')));
        info.set_implementation_notes(&self.settings.limits().implementation_notes());
        info.info.insert("privacy".to_owned(), self.privacy_notes());
        BeaconInfoResponse::new(info)
    }

    fn privacy_notes(&self) -> Value {
        let p = &self.settings.privacy;
        json!({
            "granularityByLevel": {"public": "boolean", "registered": "count", "controlled": "record"},
            "responseGranularity": "the lowest level among the datasets queried; name datasets (datasets.datasetIds or /datasets/{id}/...) to get more",
            "defaults": p,
            "perDataset": self.settings.datasets,
            "budgets": self.settings.budgets,
            "hpoDescendants": self.hpo.is_some(),
            "icd10Hierarchy": "by code structure: ICD10:C34 selects C34 and C34.x; similarity other than exact widens to the three-character category",
            "hpoSimilarity": "high, medium and low climb one, two and three is_a levels before descendants are included",
            "variantRanges": "a range or gene query matches variants whose first reference base lies in it",
            "aminoacidChange": "not answered: the variant index holds no protein annotation",
            "routeScopes": "/biosamples/{id}, /runs/{id} and /analyses/{id} answer the alleles called in that biosample (and the specimens derived from it), the run's specimen or the analysis' specimens: the variant index records which specimens' calls hold each allele (for rows indexed before that was recorded: any specimen of a carrier)",
            "docs": "docs/PRIVACY.md",
        })
    }

    /// `/configuration`.
    #[must_use]
    pub fn configuration(&self, base_url: &str) -> gemj_beacon::BeaconConfigurationResponse {
        self.framework(base_url).configuration()
    }

    /// `/map`.
    #[must_use]
    pub fn map(&self, base_url: &str) -> gemj_beacon::BeaconMapResponse {
        self.framework(base_url).map()
    }

    /// `/entry_types`.
    #[must_use]
    pub fn entry_types(&self, base_url: &str) -> gemj_beacon::BeaconEntryTypesResponse {
        self.framework(base_url).entry_types()
    }

    /// `/filtering_terms`: the terms present among the participants the caller may count (at
    /// PUBLIC level, only datasets at or above the minimum cohort size; a term carried by
    /// fewer participants than a dataset's small-cell threshold is not listed). `scope` narrows
    /// it to one dataset (`/datasets/{id}/filtering_terms`) or one cohort
    /// (`/cohorts/{id}/filtering_terms`); an id the catalogue does not hold is a 404.
    ///
    /// # Errors
    /// Store or audit failures; [`BeaconError::not_found`] for an unknown scope.
    pub async fn filtering_terms(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        scope: Option<&Scope>,
    ) -> Result<gemj_beacon::BeaconFilteringTermsResponse, BeaconFailure> {
        let core = &self.core;
        let index = self.index().await?;
        let only = scope
            .filter(|s| s.entry_type == EntryType::Dataset)
            .map(|s| s.id.as_str());
        let mut enforcement = core.access.begin(ctx, principal).one_row();
        let views = self
            .views(&mut enforcement, &index, &[], only, "filtering_terms")
            .await?;
        let unknown = match scope {
            Some(s) if s.entry_type == EntryType::Dataset => views.is_empty(),
            Some(s) if s.entry_type == EntryType::Cohort => program_of_cohort(&s.id).is_none(),
            _ => false,
        };
        if unknown {
            Self::refuse(enforcement, &views, "refused:not_found").await?;
            return Err(BeaconFailure::Beacon(
                BeaconError::not_found("no such collection"),
                None,
            ));
        }
        let scope_set = self.scope_set(core, &index, &views, scope).await?;
        let mut visible = RoaringBitmap::new();
        let mut threshold = 1;
        for v in &views {
            if v.level == Granularity::Boolean && v.servable.len() < v.privacy.min_cohort_public {
                continue;
            }
            if v.level < Granularity::Record {
                threshold = threshold.max(v.privacy.small_cell);
            }
            visible |= &v.servable;
        }
        if let Some(members) = &scope_set {
            visible &= members;
        }
        let outcomes: Vec<Outcome> = views
            .iter()
            .map(|_| Outcome {
                answer: Some("filtering_terms".to_owned()),
                ..Outcome::default()
            })
            .collect();
        enforcement
            .release(async |verdicts: &Verdicts| -> Result<_, BeaconFailure> {
                Ok((self.terms(&index, &visible, threshold, verdicts), outcomes))
            })
            .await
            .map(|r| r.value)
    }

    /// The filtering terms present among `visible` participants (carried by at least
    /// `threshold`), as the request's permits release them.
    fn terms(
        &self,
        index: &BeaconIndex,
        visible: &RoaringBitmap,
        threshold: u64,
        _verdicts: &Verdicts,
    ) -> gemj_beacon::BeaconFilteringTermsResponse {
        let scopes = vec![EntryType::Individual];
        let mut terms: Vec<FilteringTerm> = Vec::new();
        for t in index.terms_present(visible) {
            if t.participants < threshold {
                continue;
            }
            let term = match t.ontology {
                "gemj" => FilteringTerm::custom(&t.id, t.label.as_deref(), scopes.clone()),
                ontology => {
                    let Ok(term) = OntologyTerm::new(t.id.clone(), t.label.clone()) else {
                        continue;
                    };
                    let name = match ontology {
                        "HP" => "Human Phenotype Ontology",
                        "ICD10" => "International Classification of Diseases, 10th revision",
                        _ => "NCI Thesaurus",
                    };
                    FilteringTerm::ontology(&term, name, scopes.clone())
                }
            };
            terms.push(term);
        }
        terms.push(FilteringTerm::alphanumeric(
            "sex",
            Some("administrative sex"),
            scopes.clone(),
            ["female", "male", "other", "unknown"]
                .map(str::to_owned)
                .to_vec(),
        ));
        terms.push(FilteringTerm::alphanumeric(
            "program",
            Some("GeMJ enrolling program"),
            scopes.clone(),
            ["cancer", "rare_disease", "biobank"]
                .map(str::to_owned)
                .to_vec(),
        ));
        terms.push(FilteringTerm::alphanumeric(
            "yearOfBirth",
            Some("year of birth"),
            scopes,
            Vec::new(),
        ));
        let resources = vec![
            gemj_beacon::Resource {
                id: "hp".to_owned(),
                name: Some("Human Phenotype Ontology".to_owned()),
                url: Some("http://purl.obolibrary.org/obo/hp.obo".to_owned()),
                version: None,
                name_space_prefix: Some("HP".to_owned()),
                iri_prefix: Some("http://purl.obolibrary.org/obo/HP_".to_owned()),
            },
            gemj_beacon::Resource {
                id: "icd10".to_owned(),
                name: Some("ICD-10".to_owned()),
                url: Some("https://icd.who.int/browse10/2019/en".to_owned()),
                version: Some("2019".to_owned()),
                name_space_prefix: Some("ICD10".to_owned()),
                iri_prefix: None,
            },
            gemj_beacon::Resource {
                id: "ncit".to_owned(),
                name: Some("NCI Thesaurus".to_owned()),
                url: Some("http://purl.obolibrary.org/obo/ncit.owl".to_owned()),
                version: None,
                name_space_prefix: Some("NCIT".to_owned()),
                iri_prefix: Some("http://purl.obolibrary.org/obo/NCIT_".to_owned()),
            },
        ];
        gemj_beacon::filtering_terms_response(&self.settings.id, terms, resources)
    }

    /// Decides every dataset in scope for `principal` and computes who may count in each.
    #[allow(clippy::too_many_arguments)]
    async fn views(
        &self,
        enforcement: &mut Enforcement<'_>,
        index: &BeaconIndex,
        dataset_ids: &[String],
        only: Option<&str>,
        requester: &str,
    ) -> Result<Vec<DatasetView>, BeaconFailure> {
        let snapshot = enforcement.consent()?;
        let exhausted = self
            .budgets
            .exhausted(requester)
            .await
            .map_err(CoreError::from)?;
        let mut views = Vec::new();
        for (position, d) in index.datasets().iter().enumerate() {
            let id = d.dataset.id.as_str();
            if !dataset_ids.is_empty() && !dataset_ids.iter().any(|x| x == id) {
                continue;
            }
            if only.is_some_and(|o| o != id) {
                continue;
            }
            let resource = Resource::Dataset(Arc::clone(&d.dataset));
            let verdict = enforcement
                .ask(Ask::new(Action::Discover, resource))
                .await?;
            if !verdict.is_permit() {
                // Only a signed data URL is refused discovery: it counts nothing anywhere.
                views.push(DatasetView {
                    dataset: Arc::clone(&d.dataset),
                    level: Granularity::Boolean,
                    privacy: self.settings.privacy_of(id),
                    servable: RoaringBitmap::new(),
                    withheld: d.members.len(),
                    plain: None,
                    ask: verdict.index(),
                });
                continue;
            }
            let evaluation = verdict.evaluation();
            let level = match DiscoveryLevel::of_reasons(&evaluation.reasons) {
                DiscoveryLevel::Public => Granularity::Boolean,
                DiscoveryLevel::Registered => Granularity::Count,
                DiscoveryLevel::Controlled => Granularity::Record,
            };
            let privacy = self.settings.privacy_of(id);
            let level = level.min(privacy.max_granularity);
            let scope = evaluation.scope;
            let mut servable = self.servable_members(index, position, &snapshot, scope);
            let mut plain = Some((scope.industry, scope.international, snapshot.epoch));
            if level < Granularity::Record && !servable.is_disjoint(&exhausted) {
                servable -= &exhausted;
                plain = None;
            }
            views.push(DatasetView {
                dataset: Arc::clone(&d.dataset),
                level,
                privacy,
                withheld: d.members.len() - servable.len(),
                servable,
                plain,
                ask: verdict.index(),
            });
        }
        Ok(views)
    }

    /// The members of the index's dataset at `position` the consent snapshot serves at
    /// `scope`, computed once per (catalogue epoch, consent epoch, dataset, scope): a position
    /// names one dataset for as long as the catalogue epoch lasts.
    fn servable_members(
        &self,
        index: &BeaconIndex,
        position: usize,
        snapshot: &crate::consent_view::ConsentSnapshot,
        scope: crate::access::ConsentScope,
    ) -> RoaringBitmap {
        let Some(d) = index.datasets().get(position) else {
            return RoaringBitmap::new();
        };
        let key = (position, scope.industry, scope.international);
        if let Ok(mut cache) = self.servable.lock() {
            if (cache.catalogue_epoch, cache.consent_epoch) != (index.epoch, snapshot.epoch) {
                cache.sets.clear();
                cache.catalogue_epoch = index.epoch;
                cache.consent_epoch = snapshot.epoch;
            }
            if let Some(set) = cache.sets.get(&key) {
                return set.clone();
            }
        }
        let mut servable = RoaringBitmap::new();
        for ordinal in &d.members {
            if let Some(p) = index.person(ordinal)
                && snapshot.serves(&p.participant.id, scope)
            {
                servable.insert(ordinal);
            }
        }
        if let Ok(mut cache) = self.servable.lock()
            && (cache.catalogue_epoch, cache.consent_epoch) == (index.epoch, snapshot.epoch)
        {
            cache.sets.insert(key, servable.clone());
        }
        servable
    }

    /// Takes one query from the caller's (and its address's) budget: every Beacon query, this
    /// gateway's own or a network's, spends the one shared budget. A spent budget is refused
    /// (audited) with 429 and the wait.
    ///
    /// # Errors
    /// [`BeaconFailure::Beacon`] 429 when spent; store and audit failures.
    async fn take_budget(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
    ) -> Result<(), BeaconFailure> {
        let ip = ctx.client;
        let requester = principal.requester(ip);
        let Err(over) = self
            .budgets
            .take(
                (!matches!(principal, Principal::Anonymous)).then_some(requester.as_str()),
                ip,
            )
            .await
            .map_err(CoreError::from)?
        else {
            return Ok(());
        };
        self.core
            .access
            .refuse_request(ctx, principal, "query_budget_spent")
            .await?;
        Err(BeaconFailure::Beacon(
            BeaconError::too_many_requests(format!(
                "query budget spent; retry after {} s",
                over.retry_after_secs
            )),
            Some(over.retry_after_secs),
        ))
    }

    /// Answers an entry-type query (collection, by id, or nested).
    ///
    /// # Errors
    /// [`BeaconFailure::Beacon`] for requests the policy refuses by shape (range width,
    /// wildcards), budgets (429) and unknown terms; [`BeaconFailure::Core`] for store, audit
    /// and stale-consent failures.
    pub async fn query(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        request: BeaconRequest,
    ) -> Result<QueryResponse, BeaconFailure> {
        let core = &self.core;
        let requester = principal.requester(ctx.client);
        self.take_budget(ctx, principal).await?;
        let query = &request.query;
        let index = self.index().await?;
        let only = match &request.scope {
            Some(Scope {
                entry_type: EntryType::Dataset,
                id,
            }) => Some(id.as_str()),
            _ => None,
        };
        let mut enforcement = core.access.begin(ctx, principal).one_row();
        let mut views = self
            .views(
                &mut enforcement,
                &index,
                &query.dataset_ids,
                only,
                &requester,
            )
            .await?;
        let level = views
            .iter()
            .map(|v| v.level)
            .min()
            .unwrap_or(Granularity::Boolean);
        let granularity = query.requested_granularity.min(level);
        // Query-shape limits at the caller's level (the strictest dataset's).
        if let Err(e) = self.check_shape(query, &views) {
            Self::refuse(enforcement, &views, &format!("refused:{}", e.kind_code())).await?;
            return Err(BeaconFailure::Beacon(e.error, None));
        }
        let filtered = match index.filter_all(&query.filters) {
            Ok(f) => f,
            Err(e) => {
                Self::refuse(enforcement, &views, "refused:filter").await?;
                return Err(e.into());
            }
        };
        let scope_set = match self
            .scope_set(core, &index, &views, request.scope.as_ref())
            .await
        {
            Ok(s) => s,
            Err(e) => {
                Self::refuse(enforcement, &views, "refused:scope").await?;
                return Err(e);
            }
        };
        for v in &mut views {
            if !query.filters.is_empty() || scope_set.is_some() {
                v.plain = None;
            }
            v.servable &= &filtered;
            if let Some(s) = &scope_set {
                v.servable &= s;
            }
        }
        // Discovery is permitted on every dataset (a denied caller's datasets count nobody);
        // the answer leaves once every dataset's decision is durable with what it served.
        enforcement
            .release(async |verdicts: &Verdicts| -> Result<_, BeaconFailure> {
                match query.entry_type {
                    EntryType::Dataset | EntryType::Cohort => {
                        let cohort = request
                            .scope
                            .as_ref()
                            .filter(|s| s.entry_type == EntryType::Cohort)
                            .map(|s| s.id.as_str());
                        self.collections(core, &index, query, &views, granularity, cohort, verdicts)
                            .await
                    }
                    _ => {
                        self.entries(
                            core,
                            &index,
                            query,
                            &request,
                            &views,
                            granularity,
                            &requester,
                            verdicts,
                        )
                        .await
                    }
                }
            })
            .await
            .map(|r| r.value)
    }

    /// Audits a refused query: every dataset's decision, as serving nothing, with the reason.
    async fn refuse(
        enforcement: Enforcement<'_>,
        views: &[DatasetView],
        answer: &str,
    ) -> Result<(), CoreError> {
        let outcomes: Vec<Outcome> = views
            .iter()
            .map(|_| Outcome {
                answer: Some(answer.to_owned()),
                ..Outcome::nothing()
            })
            .collect();
        enforcement
            .release(async |_: &Verdicts| -> Result<_, CoreError> { Ok(((), outcomes)) })
            .await
            .map(|_| ())
    }

    fn check_shape(&self, query: &BeaconQuery, views: &[DatasetView]) -> Result<(), ShapeError> {
        let public = views.iter().any(|v| v.level == Granularity::Boolean);
        if let Some(variant) = &query.variant {
            if matches!(variant.kind, VariantQueryKind::AminoacidChange)
                || variant.aminoacid_change.is_some()
            {
                return Err(ShapeError::new(
                    "unsupported",
                    BeaconError::bad_request(
                        ErrorKind::InvalidValue,
                        "`aminoacidChange` is not answered: the variant index holds no protein annotation",
                    ),
                ));
            }
            if public
                && variant.has_wildcard()
                && views
                    .iter()
                    .any(|v| v.level == Granularity::Boolean && !v.privacy.public_wildcards)
            {
                return Err(ShapeError::new(
                    "wildcard",
                    BeaconError::bad_request(
                        ErrorKind::InvalidValue,
                        "wildcard alleles (N and other IUPAC codes) need a registered researcher's passport",
                    ),
                ));
            }
            if let Some(width) = variant.range_width() {
                for v in views {
                    let max = match v.level {
                        Granularity::Boolean => Some(v.privacy.max_range_public),
                        Granularity::Count => Some(v.privacy.max_range_registered),
                        Granularity::Record => None,
                    };
                    if let Some(max) = max
                        && width > max
                    {
                        let who = if v.level == Granularity::Boolean {
                            "public"
                        } else {
                            "registered"
                        };
                        return Err(ShapeError::new(
                            "range_width",
                            BeaconError::bad_request(
                                ErrorKind::InvalidRange,
                                format!(
                                    "a {width}-base range is wider than {who} callers may query on `{}` ({max} bases)",
                                    v.dataset.id
                                ),
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The participants a route's `{id}` restricts the answer to (`None`: no restriction).
    async fn scope_set(
        &self,
        core: &Shared,
        index: &BeaconIndex,
        views: &[DatasetView],
        scope: Option<&Scope>,
    ) -> Result<Option<RoaringBitmap>, BeaconFailure> {
        let Some(scope) = scope else {
            return Ok(None);
        };
        let mut out = RoaringBitmap::new();
        match scope.entry_type {
            EntryType::Dataset => return Ok(None),
            EntryType::Cohort => {
                if let Some(program) = program_of_cohort(&scope.id) {
                    for p in index.people() {
                        if p.participant.program == program {
                            out.insert(p.ordinal);
                        }
                    }
                }
            }
            EntryType::Individual => {
                if let Some(p) = index.person_by_id(&scope.id) {
                    out.insert(p.ordinal);
                }
            }
            EntryType::Biosample => {
                if let Some(p) = index.specimen_owner(&scope.id) {
                    out.insert(p);
                }
            }
            EntryType::Run => {
                if let Some(p) = index.run_owner(&scope.id) {
                    out.insert(p);
                }
            }
            EntryType::Analysis => {
                for p in index.analysis_owners(&scope.id) {
                    out.insert(p);
                }
            }
            EntryType::GenomicVariant => {
                if let Some(key) = parse_variant_id(&scope.id) {
                    for v in views {
                        if let Some(row) = core.store.variant_exact(&v.dataset.id, &key).await? {
                            out |= &row.carriers;
                        }
                    }
                }
            }
        }
        Ok(Some(out))
    }

    /// The variant rows of one dataset that match the variant query (before carriers are
    /// intersected).
    async fn variant_rows(
        &self,
        core: &Shared,
        epoch: i64,
        dataset: &index::IndexedDataset,
        variant: &VariantQuery,
        plain: Option<(PlainKey, &RoaringBitmap)>,
    ) -> Result<(Vec<Matched>, bool), BeaconFailure> {
        let members = &dataset.members;
        let dataset = &*dataset.dataset;
        let cap = self.settings.max_variants_scanned;
        let (chrom, first, last) = match &variant.kind {
            VariantQueryKind::Sequence {
                reference_name,
                start,
            } => (reference_name.chromosome().to_owned(), start + 1, start + 1),
            VariantQueryKind::Range {
                reference_name,
                start,
                end,
            } => (reference_name.chromosome().to_owned(), start + 1, *end),
            VariantQueryKind::Bracket {
                reference_name,
                start,
                ..
            } => (
                reference_name.chromosome().to_owned(),
                start[0] + 1,
                start[1] + 1,
            ),
            VariantQueryKind::Gene { gene_id } => match core.store.gene_by_name(gene_id).await? {
                Some(g) => (g.chrom, u64::from(g.start), u64::from(g.end)),
                None => return Ok((Vec::new(), true)),
            },
            VariantQueryKind::Allele(Hgvs::Genomic(allele)) => {
                let anchor = genomic_allele_anchor(allele);
                (
                    allele.reference_name.chromosome().to_owned(),
                    anchor,
                    anchor,
                )
            }
            VariantQueryKind::Allele(Hgvs::Other(_)) | VariantQueryKind::AminoacidChange => {
                return Ok((Vec::new(), true));
            }
        };
        let (Ok(first), Ok(last)) = (u32::try_from(first.max(1)), u32::try_from(last.max(first)))
        else {
            return Ok((Vec::new(), true));
        };
        let last = last.max(first);
        let mut scanned = 0_usize;
        let mut out = Vec::new();
        let mut within = true;
        for block in (first - 1) / VARIANT_BLOCK..=(last - 1) / VARIANT_BLOCK {
            let rows = self
                .block(core, epoch, dataset, members, &chrom, block)
                .await?;
            within &= rows.within_members;
            let counts = plain.map(|(key, servable)| rows.servable_counts(key, servable));
            for (i, r) in rows.rows.iter().enumerate() {
                if r.key.pos < first || r.key.pos > last {
                    continue;
                }
                scanned += 1;
                if scanned > cap as usize {
                    return Err(BeaconError::bad_request(
                        ErrorKind::InvalidRange,
                        format!(
                            "the query matches more than {cap} variants in `{}`; narrow the range or add alleles",
                            dataset.id
                        ),
                    )
                    .into());
                }
                if variant_matches(variant, r) {
                    let count = counts.as_ref().and_then(|c| c.get(i)).copied();
                    out.push((Arc::clone(r), count));
                }
            }
        }
        Ok((out, within))
    }

    /// Every row of a dataset's variant index, up to `max_variants_scanned` (more is a 400
    /// asking for coordinates).
    async fn all_variant_rows(
        &self,
        core: &Shared,
        dataset: &index::IndexedDataset,
    ) -> Result<(Vec<Matched>, bool), BeaconFailure> {
        let cap = self.settings.max_variants_scanned;
        let rows = core
            .store
            .variants_of_dataset(&dataset.dataset.id, cap.saturating_add(1))
            .await?;
        if rows.len() > cap as usize {
            return Err(BeaconError::bad_request(
                ErrorKind::MissingParameter,
                format!(
                    "`{}` holds more than {cap} variants; add referenceName with start and end, geneId or genomicAlleleShortForm",
                    dataset.dataset.id
                ),
            )
            .into());
        }
        let within = rows.iter().all(|r| r.carriers.is_subset(&dataset.members));
        Ok((
            rows.into_iter().map(|r| (Arc::new(r), None)).collect(),
            within,
        ))
    }

    /// One block of a dataset's variant index, decoded: from the cache while the catalogue
    /// epoch it was read at is current, else from the store.
    async fn block(
        &self,
        core: &Shared,
        epoch: i64,
        dataset: &gemj_model::Dataset,
        members: &RoaringBitmap,
        chrom: &str,
        block: u32,
    ) -> Result<Block, BeaconFailure> {
        let key = (dataset.id.to_string(), chrom.to_owned(), block);
        if let Ok(mut cache) = self.blocks.lock() {
            if cache.epoch != epoch {
                cache.blocks.clear();
                cache.rows = 0;
                cache.epoch = epoch;
            }
            if let Some(rows) = cache.blocks.get(&key) {
                return Ok(Arc::clone(rows));
            }
        }
        let first = block * VARIANT_BLOCK + 1;
        let last = first.saturating_add(VARIANT_BLOCK - 1);
        let rows: Vec<Arc<VariantRow>> = core
            .store
            .variants_in_range(&dataset.id, chrom, first, last, u32::MAX)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        let within_members = rows.iter().all(|r| r.carriers.is_subset(members));
        let rows: Block = Arc::new(BlockRows {
            rows,
            within_members,
            counts: std::sync::Mutex::new(std::collections::HashMap::new()),
        });
        if let Ok(mut cache) = self.blocks.lock()
            && cache.epoch == epoch
        {
            if cache.rows + rows.rows.len() > self.settings.variant_cache_rows {
                cache.blocks.clear();
                cache.rows = 0;
            }
            cache.rows += rows.rows.len();
            cache.blocks.insert(key, Arc::clone(&rows));
        }
        Ok(rows)
    }

    /// Individuals, biosamples, genomic variants, analyses and runs.
    #[allow(clippy::too_many_arguments)]
    async fn entries(
        &self,
        core: &Shared,
        index: &BeaconIndex,
        query: &BeaconQuery,
        request: &BeaconRequest,
        views: &[DatasetView],
        granularity: Granularity,
        requester: &str,
        verdicts: &Verdicts,
    ) -> Result<(QueryResponse, Vec<Outcome>), BeaconFailure> {
        permitted_views(views, verdicts)?;
        let variant_scope = match &request.scope {
            Some(Scope {
                entry_type: EntryType::GenomicVariant,
                id,
            }) => Some(parse_variant_id(id).ok_or_else(|| {
                BeaconError::bad_request(
                    ErrorKind::InvalidValue,
                    format!("`{id}` is not a variant id of this beacon (CHROM-POS-REF-ALT)"),
                )
            })?),
            _ => None,
        };
        // A route naming a biosample, run or analysis keeps the alleles called in its
        // specimens (rows whose provenance is not recorded are kept: any specimen of a
        // carrier).
        let called_in = request
            .scope
            .as_ref()
            .and_then(|s| index.calls_of(s.entry_type, &s.id));
        let mut sets: Vec<DatasetAnswer> = Vec::new();
        for v in views {
            let mut answer = DatasetAnswer::default();
            // Variants: from the query, or the route's variant.
            let Some(indexed) = index.dataset(v.dataset.id.as_str()) else {
                sets.push(answer);
                continue;
            };
            let rows: Option<(Vec<Matched>, bool)> = match (&query.variant, &variant_scope) {
                (Some(variant), _) => {
                    // Per-row counts are cached only for a dataset's own servable set, which
                    // must also be the one given here.
                    let plain = v.plain.map(|key| (key, &v.servable));
                    Some(
                        self.variant_rows(core, index.epoch, indexed, variant, plain)
                            .await?,
                    )
                }
                (None, Some(key)) if query.entry_type == EntryType::GenomicVariant => {
                    let rows: Vec<Arc<VariantRow>> = core
                        .store
                        .variant_exact(&v.dataset.id, key)
                        .await?
                        .into_iter()
                        .map(Arc::new)
                        .collect();
                    let within = rows.iter().all(|r| r.carriers.is_subset(&indexed.members));
                    Some((rows.into_iter().map(|r| (r, None)).collect(), within))
                }
                // A route that names an individual, biosample, run, analysis or dataset lists
                // its variants without coordinates: the dataset's rows, scanned up to the cap.
                (None, None)
                    if query.entry_type == EntryType::GenomicVariant && request.scope.is_some() =>
                {
                    Some(self.all_variant_rows(core, indexed).await?)
                }
                _ => None,
            };
            let public = v.level == Granularity::Boolean;
            if public && v.servable.len() < v.privacy.min_cohort_public {
                // Too small a cohort to answer public booleans about.
                answer.below_min_cohort = true;
                sets.push(answer);
                continue;
            }
            let min_carriers = if public {
                v.privacy.rare_allele_min_carriers.max(1)
            } else {
                1
            };
            let mut individuals = v.servable.clone();
            if let Some((rows, within)) = rows {
                // With few members excluded (consent, filters, spent budgets), a row's servable
                // carriers are counted as its carriers less the excluded ones.
                let excluded = &indexed.members - &v.servable;
                let by_exclusion = within && excluded.len() < v.servable.len();
                // Each variant's servable carriers are kept when records or other entry types
                // need them; a count or boolean of variants needs only how many variants, and
                // their carriers only as far as the risk budget looks (small answers).
                let keep_sets = query.entry_type != EntryType::GenomicVariant
                    || granularity == Granularity::Record;
                let risk_set = self.budgets.settings().risk_set_size;
                let mut carriers = RoaringBitmap::new();
                for (r, known) in rows {
                    if let (Some(scope), Some(calls)) = (&called_in, &r.callsets)
                        && calls.is_disjoint(scope)
                    {
                        continue;
                    }
                    let servable_carriers = if let Some(n) = known {
                        n
                    } else if by_exclusion {
                        r.carriers.len() - r.carriers.intersection_len(&excluded)
                    } else {
                        r.carriers.intersection_len(&v.servable)
                    };
                    if servable_carriers < min_carriers {
                        continue;
                    }
                    if keep_sets {
                        let served = &r.carriers & &v.servable;
                        carriers |= &served;
                        answer.variants.push((r, served));
                    } else {
                        if carriers.len() <= risk_set {
                            carriers |= &(&r.carriers & &v.servable);
                        }
                        answer.variants.push((r, RoaringBitmap::new()));
                    }
                }
                individuals &= &carriers;
            } else if query.entry_type == EntryType::GenomicVariant {
                return Err(BeaconError::bad_request(
                    ErrorKind::MissingParameter,
                    "a genomic variant query needs referenceName with start (and end), geneId or genomicAlleleShortForm (or a route naming an individual, biosample, run, analysis or dataset)",
                )
                .into());
            }
            answer.individuals = individuals;
            sets.push(answer);
        }
        // Charge small positive answers below record level to their participants.
        let mut charged = RoaringBitmap::new();
        for (v, a) in views.iter().zip(&sets) {
            if v.level < Granularity::Record {
                charged |= &a.individuals;
            }
        }
        self.budgets
            .charge(requester, &charged)
            .await
            .map_err(CoreError::from)?;

        let entry_type = query.entry_type;
        let mut outcomes = Vec::new();
        let mut result_sets: Vec<ResultSet<Record>> = Vec::new();
        let mut union_individuals = RoaringBitmap::new();
        let mut union_entries: BTreeSet<String> = BTreeSet::new();
        let mut exists = false;
        let mut union_variants: HashSet<&gemj_model::VariantKey> = HashSet::new();
        for (v, a) in views.iter().zip(&sets) {
            // Variants are counted by key; their ids are formatted for the page only. Every
            // listed variant has a carrier among the dataset's answer (see above).
            let ids = if entry_type == EntryType::GenomicVariant {
                let mut keys: Vec<&gemj_model::VariantKey> =
                    a.variants.iter().map(|(r, _)| &r.key).collect();
                keys.sort();
                union_variants.extend(keys.iter().copied());
                let skip = usize::try_from(query.pagination.skip).unwrap_or(usize::MAX);
                let take = usize::try_from(query.pagination.limit).unwrap_or(usize::MAX);
                let page: Vec<String> = if granularity == Granularity::Record {
                    keys.iter()
                        .skip(skip)
                        .take(take)
                        .map(|k| key_id(k))
                        .collect()
                } else {
                    Vec::new()
                };
                (keys.len(), page)
            } else {
                let ids = self.entry_ids(index, entry_type, a);
                (ids.len(), ids)
            };
            let (n, ids) = (ids.0 as u64, ids.1);
            let (dataset_exists, count) = match v.level.min(granularity) {
                Granularity::Boolean => (!a.below_min_cohort && n > 0, Count::exact(0)),
                Granularity::Count => (v.privacy.count_exists(n), v.privacy.report_count(n)),
                Granularity::Record => (n > 0, Count::exact(n)),
            };
            exists |= dataset_exists;
            union_individuals |= &a.individuals;
            if entry_type != EntryType::GenomicVariant {
                union_entries.extend(ids.iter().cloned());
            }
            let mut participants = Vec::new();
            let mut returned = 0;
            if granularity == Granularity::Record {
                let page: Vec<&String> = if entry_type == EntryType::GenomicVariant {
                    ids.iter().collect()
                } else {
                    ids.iter()
                        .skip(usize::try_from(query.pagination.skip).unwrap_or(usize::MAX))
                        .take(usize::try_from(query.pagination.limit).unwrap_or(usize::MAX))
                        .collect()
                };
                let records = self.records(index, entry_type, a, &page, &v.dataset.id)?;
                returned = records.len() as u64;
                for id in &page {
                    participants.extend(self.owners(index, entry_type, a, id));
                }
                result_sets.push(ResultSet::new(
                    v.dataset.id.as_str(),
                    EntryType::Dataset,
                    count,
                    records,
                ));
            }
            participants.sort();
            participants.dedup();
            outcomes.push(Outcome {
                consent_epoch: core.consent.snapshot().ok().map(|s| s.epoch),
                participants,
                returned: Some(returned),
                filtered: Some(v.withheld),
                answer: Some(granularity.as_str().to_owned()),
            });
        }
        let total = match granularity {
            Granularity::Boolean => Count::exact(0),
            Granularity::Count => {
                // Distinct entries across datasets, reported under the strictest rules of the
                // datasets the caller may not see records of; exact when it may see records of
                // every one. `exists` stays what the datasets said: a dataset that may tell
                // the caller "yes" is not overruled by rounding the total.
                let strict = views
                    .iter()
                    .filter(|v| v.level < Granularity::Record)
                    .map(|v| v.privacy)
                    .max_by_key(|p| (p.small_cell, p.round_to));
                let n = match entry_type {
                    EntryType::Individual => union_individuals.len(),
                    EntryType::GenomicVariant => union_variants.len() as u64,
                    _ => union_entries.len() as u64,
                };
                match strict {
                    Some(strict) => {
                        exists |= strict.count_exists(n);
                        strict.report_count(n)
                    }
                    None => {
                        exists |= n > 0;
                        Count::exact(n)
                    }
                }
            }
            Granularity::Record if entry_type == EntryType::GenomicVariant => {
                Count::exact(union_variants.len() as u64)
            }
            Granularity::Record => Count::exact(union_entries.len() as u64),
        };
        let meta = ResponseMeta::new(&self.settings.id, query, granularity);
        let response = EntryResponse::new(meta, exists, total, result_sets);
        Ok((QueryResponse::Entries(response), outcomes))
    }

    /// The ids of the entries of `entry_type` an answer holds, sorted.
    fn entry_ids(
        &self,
        index: &BeaconIndex,
        entry_type: EntryType,
        answer: &DatasetAnswer,
    ) -> Vec<String> {
        let people = || answer.individuals.iter().filter_map(|o| index.person(o));
        // With variants in the answer, the specimens are those whose calls hold one of them
        // (when every row records it): a blood sample is not where a somatic allele was found.
        let called: Option<RoaringBitmap> = (!answer.variants.is_empty())
            .then(|| {
                answer
                    .variants
                    .iter()
                    .try_fold(RoaringBitmap::new(), |all, (r, _)| {
                        Some(all | r.callsets.as_ref()?)
                    })
            })
            .flatten();
        let specimens = || {
            people()
                .flat_map(|p| index.specimens_of(p.ordinal))
                .filter(|s| match &called {
                    Some(called) => index
                        .specimen_ordinal(s.id.as_str())
                        .is_some_and(|o| called.contains(o)),
                    None => true,
                })
        };
        let mut ids: Vec<String> = match entry_type {
            EntryType::Individual => people().map(|p| p.participant.id.to_string()).collect(),
            EntryType::Biosample => specimens().map(|s| s.id.to_string()).collect(),
            EntryType::Run => specimens()
                .flat_map(|s| index.runs_of(s.id.as_str()))
                .map(|r| r.id.to_string())
                .collect(),
            EntryType::Analysis => specimens()
                .flat_map(|s| index.runs_of(s.id.as_str()))
                .flat_map(|r| index.analyses_of_run(r.id.as_str()))
                .map(|a| a.id.to_string())
                .collect(),
            EntryType::GenomicVariant => answer
                .variants
                .iter()
                .filter(|(_, carriers)| !(carriers & &answer.individuals).is_empty())
                .map(|(r, _)| variant_id(r))
                .collect(),
            EntryType::Dataset | EntryType::Cohort => Vec::new(),
        };
        ids.sort();
        ids.dedup();
        ids
    }

    /// The participants an entry's record is about (for the audit).
    fn owners(
        &self,
        index: &BeaconIndex,
        entry_type: EntryType,
        answer: &DatasetAnswer,
        id: &str,
    ) -> Vec<ParticipantId> {
        let ordinals: Vec<u32> = match entry_type {
            EntryType::Individual => index
                .person_by_id(id)
                .map(|p| p.ordinal)
                .into_iter()
                .collect(),
            EntryType::Biosample => index.specimen_owner(id).into_iter().collect(),
            EntryType::Run => index.run_owner(id).into_iter().collect(),
            EntryType::Analysis => index.analysis_owners(id),
            EntryType::GenomicVariant => {
                let key = parse_variant_id(id);
                answer
                    .variants
                    .iter()
                    .filter(|(r, _)| key.as_ref() == Some(&r.key))
                    .flat_map(|(_, c)| (c & &answer.individuals).into_iter())
                    .collect()
            }
            EntryType::Dataset | EntryType::Cohort => Vec::new(),
        };
        ordinals
            .into_iter()
            .filter_map(|o| index.person(o).map(|p| p.participant.id.clone()))
            .collect()
    }

    /// The records of a page.
    fn records(
        &self,
        index: &BeaconIndex,
        entry_type: EntryType,
        answer: &DatasetAnswer,
        page: &[&String],
        dataset: &gemj_model::DatasetId,
    ) -> Result<Vec<Record>, BeaconError> {
        let mut out = Vec::new();
        for id in page {
            let value = match entry_type {
                EntryType::Individual => index
                    .person_by_id(id)
                    .map(|p| individual_record(index, p))
                    .transpose()?,
                EntryType::Biosample => index.specimen(id).map(biosample_record).transpose()?,
                EntryType::Run => index.run(id).map(|r| run_record(index, r)).transpose()?,
                EntryType::Analysis => index
                    .analysis(id)
                    .map(|a| analysis_record(index, a))
                    .transpose()?,
                EntryType::GenomicVariant => parse_variant_id(id)
                    .and_then(|key| answer.variants.iter().find(|(r, _)| r.key == key))
                    .map(|(r, carriers)| {
                        variant_record(
                            index,
                            &self.settings.assembly,
                            r,
                            &(carriers & &answer.individuals),
                            dataset,
                        )
                    })
                    .transpose()?,
                EntryType::Dataset | EntryType::Cohort => None,
            };
            out.extend(value);
        }
        Ok(out)
    }

    /// `/datasets` and `/cohorts` (collections), and their entries by id.
    #[allow(clippy::too_many_arguments)]
    async fn collections(
        &self,
        core: &Shared,
        index: &BeaconIndex,
        query: &BeaconQuery,
        views: &[DatasetView],
        granularity: Granularity,
        only_cohort: Option<&str>,
        verdicts: &Verdicts,
    ) -> Result<(QueryResponse, Vec<Outcome>), BeaconFailure> {
        permitted_views(views, verdicts)?;
        let mut collections: Vec<Record> = Vec::new();
        let outcomes: Vec<Outcome> = views
            .iter()
            .map(|_| Outcome {
                returned: Some(0),
                answer: Some("collections".to_owned()),
                ..Outcome::default()
            })
            .collect();
        if query.entry_type == EntryType::Dataset {
            for v in views {
                // Dataset descriptions are not secret (the catalogue shows them).
                collections.push(dataset_record(core, v).await?);
            }
        } else {
            let servable: RoaringBitmap = views.iter().fold(RoaringBitmap::new(), |mut acc, v| {
                acc |= &v.servable;
                acc
            });
            let strict = views
                .iter()
                .map(|v| v.privacy)
                .max_by_key(|p| (p.small_cell, p.round_to))
                .unwrap_or_default();
            for (id, name, program) in COHORTS {
                if only_cohort.is_some_and(|c| c != id) {
                    continue;
                }
                let members: u64 = index
                    .people()
                    .iter()
                    .filter(|p| p.participant.program == program && servable.contains(p.ordinal))
                    .count() as u64;
                let mut cohort = Cohort::new(id, name, CohortType::StudyDefined);
                cohort.cohort_size = match granularity {
                    Granularity::Record => Some(members),
                    Granularity::Count => strict
                        .count_exists(members)
                        .then(|| strict.report_count(members).value),
                    Granularity::Boolean => None,
                };
                collections.push(Record::Cohort(Box::new(cohort)));
            }
        }
        let total = collections.len() as u64;
        // `requestedGranularity` boolean or count: the answer the endpoint's schema allows for
        // it (`beaconBooleanResponse`, `beaconCountResponse`: how many collections there are,
        // which descriptions already tell); otherwise the list.
        if query.granularity_given && query.requested_granularity < Granularity::Record {
            let meta = ResponseMeta::new(&self.settings.id, query, query.requested_granularity);
            let response: EntryResponse<Record> =
                EntryResponse::new(meta, total > 0, Count::exact(total), Vec::new());
            return Ok((QueryResponse::Entries(response), outcomes));
        }
        let page: Vec<Record> = collections
            .into_iter()
            .skip(usize::try_from(query.pagination.skip).unwrap_or(usize::MAX))
            .take(usize::try_from(query.pagination.limit).unwrap_or(usize::MAX))
            .collect();
        // Collections are listed whatever the level (descriptions are public, as in the
        // catalogue); their aggregate fields (cohort sizes) follow the caller's level.
        let meta = ResponseMeta::new(&self.settings.id, query, Granularity::Record);
        let response = BeaconCollectionsResponse::new(meta, total, page);
        Ok((QueryResponse::Collections(response), outcomes))
    }
}

/// Bases per cached block of the variant index.
const VARIANT_BLOCK: u32 = 1_000_000;

/// One decoded block of a dataset's variant index on one chromosome, ordered by position.
type Block = Arc<BlockRows>;

/// A block's rows, and whether every carrier of every row is a member of the dataset (as the
/// variant index is written); then a row's servable carriers are its carriers less the
/// dataset's excluded members, which is cheap to count when few are excluded.
#[derive(Debug)]
struct BlockRows {
    rows: Vec<Arc<VariantRow>>,
    within_members: bool,
    /// Per consent scope and epoch, each row's number of servable carriers (for queries whose
    /// servable set is exactly that scope's).
    counts: std::sync::Mutex<std::collections::HashMap<PlainKey, Arc<Vec<u64>>>>,
}

impl BlockRows {
    /// Each row's servable carriers at `key`, computed once against `servable`.
    fn servable_counts(&self, key: PlainKey, servable: &RoaringBitmap) -> Arc<Vec<u64>> {
        if let Ok(counts) = self.counts.lock()
            && let Some(c) = counts.get(&key)
        {
            return Arc::clone(c);
        }
        let computed: Arc<Vec<u64>> = Arc::new(
            self.rows
                .iter()
                .map(|r| r.carriers.intersection_len(servable))
                .collect(),
        );
        if let Ok(mut counts) = self.counts.lock() {
            // Older consent epochs are never asked again.
            counts.retain(|k, _| k.2 == key.2);
            counts.insert(key, Arc::clone(&computed));
        }
        computed
    }
}

/// Decoded blocks of the variant index, per (dataset, chromosome, block), of one catalogue
/// epoch.
#[derive(Debug, Default)]
struct VariantBlocks {
    epoch: i64,
    rows: usize,
    blocks: std::collections::HashMap<(String, String, u32), Block>,
}

/// Each dataset's servable members per consent scope, of one catalogue and consent epoch.
#[derive(Debug, Default)]
struct ServableCache {
    catalogue_epoch: i64,
    consent_epoch: i64,
    /// By the dataset's position in the index, and the consent scope.
    sets:
        std::collections::HashMap<(usize, bool, bool), RoaringBitmap, foldhash::fast::RandomState>,
}

/// The cohorts: one per GeMJ program.
pub const COHORTS: [(&str, &str, Program); 3] = [
    ("GEMJ-COHORT-CANCER", "GeMJ cancer program", Program::Cancer),
    (
        "GEMJ-COHORT-RARE-DISEASE",
        "GeMJ rare and intractable disease program",
        Program::RareDisease,
    ),
    ("GEMJ-COHORT-BIOBANK", "Linked biobanks", Program::Biobank),
];

fn program_of_cohort(id: &str) -> Option<Program> {
    COHORTS
        .iter()
        .find(|(c, _, _)| *c == id)
        .map(|(_, _, p)| *p)
}

#[derive(Debug, Default)]
struct DatasetAnswer {
    below_min_cohort: bool,
    individuals: RoaringBitmap,
    variants: Vec<(Arc<VariantRow>, RoaringBitmap)>,
}

struct ShapeError {
    code: &'static str,
    error: BeaconError,
}

impl ShapeError {
    fn new(code: &'static str, error: BeaconError) -> Self {
        Self { code, error }
    }

    fn kind_code(&self) -> &'static str {
        self.code
    }
}

/// `chr20-10050-A-G`: the variant's internal id (1-based VCF position).
#[must_use]
pub fn variant_id(row: &VariantRow) -> String {
    key_id(&row.key)
}

fn key_id(key: &gemj_model::VariantKey) -> String {
    format!(
        "{}-{}-{}-{}",
        key.chrom.as_str(),
        key.pos,
        key.reference.as_str(),
        key.alternate.as_str()
    )
}

fn parse_variant_id(id: &str) -> Option<gemj_model::VariantKey> {
    let mut parts = id.rsplitn(4, '-');
    let alt = parts.next()?;
    let reference = parts.next()?;
    let pos = parts.next()?.parse().ok()?;
    let chrom = parts.next()?;
    gemj_model::VariantKey::parse(chrom, pos, reference, alt).ok()
}

/// The VCF position (1-based) a genomic HGVS allele is stored at: its own for a substitution,
/// the base before it for deletions, insertions and duplications (VCF anchors them there).
#[must_use]
pub(crate) fn genomic_allele_anchor(allele: &gemj_beacon::GenomicAllele) -> u64 {
    match allele.change {
        gemj_beacon::AlleleChange::Substitution { .. } => allele.start + 1,
        _ => allele.start.max(1),
    }
}

/// Whether a stored allele (anchored as VCF writes it, at [`genomic_allele_anchor`]) is the
/// change a genomic HGVS allele describes. Deleted or duplicated bases the description does
/// not state match any bases of the stated length.
#[must_use]
pub(crate) fn genomic_allele_matches(
    allele: &gemj_beacon::GenomicAllele,
    key: &gemj_model::VariantKey,
) -> bool {
    use gemj_beacon::AlleleChange;
    let reference = key.reference.as_str();
    let alternate = key.alternate.as_str();
    match &allele.change {
        AlleleChange::Substitution {
            reference: r,
            alternate: a,
        } => reference.eq_ignore_ascii_case(r) && alternate.eq_ignore_ascii_case(a),
        AlleleChange::Deletion { deleted } => {
            alternate.len() == 1
                && reference.len() as u64 == 1 + (allele.end - allele.start)
                && deleted
                    .as_ref()
                    .is_none_or(|d| reference[1..].eq_ignore_ascii_case(d))
        }
        AlleleChange::Insertion { inserted } => {
            reference.len() == 1
                && alternate.len() == 1 + inserted.len()
                && alternate[1..].eq_ignore_ascii_case(inserted)
        }
        AlleleChange::Duplication { duplicated } => {
            reference.len() == 1
                && alternate.len() as u64 == 1 + (allele.end - allele.start)
                && duplicated
                    .as_ref()
                    .is_none_or(|d| alternate[1..].eq_ignore_ascii_case(d))
        }
        AlleleChange::DeletionInsertion { inserted, .. } => {
            alternate.len() > 1 && alternate[1..].eq_ignore_ascii_case(inserted)
        }
    }
}

/// Whether a stored row satisfies the query's allele, type, length and bracket conditions.
fn variant_matches(q: &VariantQuery, row: &VariantRow) -> bool {
    let reference = row.key.reference.as_str();
    let alternate = row.key.alternate.as_str();
    let start0 = u64::from(row.key.pos) - 1;
    let end0 = start0 + reference.len() as u64;
    if let VariantQueryKind::Bracket { start, end, .. } = &q.kind
        && !(start[0] <= start0 && start0 <= start[1] && end[0] <= end0 && end0 <= end[1])
    {
        return false;
    }
    if let VariantQueryKind::Allele(Hgvs::Genomic(allele)) = &q.kind
        && !genomic_allele_matches(allele, &row.key)
    {
        return false;
    }
    if let Some(b) = &q.reference_bases
        && !bases_match(b.as_str(), reference)
    {
        return false;
    }
    if let Some(b) = &q.alternate_bases
        && !bases_match(b.as_str(), alternate)
    {
        return false;
    }
    if let Some(t) = &q.variant_type
        && !t.matches(reference, alternate)
    {
        return false;
    }
    let length = reference.len().max(alternate.len()) as u64;
    if q.variant_min_length.is_some_and(|m| length < m)
        || q.variant_max_length.is_some_and(|m| length > m)
    {
        return false;
    }
    true
}

/// Whether query bases match stored bases (`N` matches any base; an empty or `.` allele
/// matches anything).
fn bases_match(query: &str, stored: &str) -> bool {
    if query.is_empty() || query == "." {
        return true;
    }
    query.len() == stored.len()
        && query
            .chars()
            .zip(stored.chars())
            .all(|(q, s)| q.eq_ignore_ascii_case(&s) || iupac(q).contains(s.to_ascii_uppercase()))
}

fn iupac(c: char) -> &'static str {
    match c.to_ascii_uppercase() {
        'N' => "ACGT",
        'R' => "AG",
        'Y' => "CT",
        'S' => "GC",
        'W' => "AT",
        'K' => "GT",
        'M' => "AC",
        'B' => "CGT",
        'D' => "AGT",
        'H' => "ACT",
        'V' => "ACG",
        _ => "",
    }
}

fn beacon_sex(sex: gemj_model::Sex) -> gemj_beacon::Sex {
    match sex {
        gemj_model::Sex::Female => gemj_beacon::Sex::Female,
        gemj_model::Sex::Male => gemj_beacon::Sex::Male,
        gemj_model::Sex::Other | gemj_model::Sex::Unknown => gemj_beacon::Sex::Unknown,
    }
}

fn individual_record(index: &BeaconIndex, p: &index::Person) -> Result<Record, BeaconError> {
    let mut record = Individual::new(p.participant.id.to_string(), beacon_sex(p.participant.sex));
    for code in &p.icd10 {
        record.diseases.push(Disease::new(OntologyTerm::new(
            format!("ICD10:{code}"),
            None::<String>,
        )?));
    }
    for term in &p.hpo {
        let label = index.hpo_label(term);
        record
            .phenotypic_features
            .push(PhenotypicFeature::observed(OntologyTerm::new(
                term.clone(),
                label,
            )?));
    }
    record.info.insert(
        "program".to_owned(),
        Value::String(p.participant.program.as_str().to_owned()),
    );
    Ok(Record::Individual(Box::new(record)))
}

fn biosample_record(s: &gemj_model::Specimen) -> Result<Record, BeaconError> {
    use gemj_beacon::terms;
    let status = if s.tumour == Some(true) {
        terms::NEOPLASTIC_SAMPLE
    } else {
        terms::REFERENCE_SAMPLE
    };
    let mut record = Biosample::new(s.id.to_string(), status, terms::SPECIMEN_FROM_ORGANISM);
    record.individual_id = Some(s.participant.to_string());
    if let Some(date) = s.collected
        && let Ok(d) = IsoDate::parse(&date.to_string())
    {
        record.collection_date = Some(d);
    }
    record.sample_origin_detail = specimen_origin(&s.specimen_type);
    Ok(Record::Biosample(Box::new(record)))
}

fn specimen_origin(t: &SpecimenType) -> Option<OntologyTerm> {
    let (id, label) = match t {
        SpecimenType::WholeBlood => ("UBERON:0000178", "blood"),
        SpecimenType::Saliva => ("UBERON:0001836", "saliva"),
        SpecimenType::Serum => ("UBERON:0001977", "blood serum"),
        SpecimenType::Plasma => ("UBERON:0001969", "blood plasma"),
        _ => return None,
    };
    OntologyTerm::new(id, Some(label)).ok()
}

fn run_record(index: &BeaconIndex, r: &gemj_model::SequencingRun) -> Result<Record, BeaconError> {
    let date = r
        .run_date
        .and_then(|d| IsoDate::parse(&d.to_string()).ok())
        .map_or_else(|| IsoDate::parse("1900-01-01"), Ok)?;
    let mut record = Run::new(r.id.to_string(), r.specimen.to_string(), date);
    record.individual_id = index
        .specimen(r.specimen.as_str())
        .map(|s| s.participant.to_string());
    record.platform = Some(r.platform.clone());
    record.library_strategy = serde_json::to_value(r.library_strategy)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    if r.run_date.is_none() {
        // The model requires a date; 1900-01-01 stands for "not recorded", and says so.
        record
            .info
            .insert("runDateUnknown".to_owned(), Value::Bool(true));
    }
    Ok(Record::Run(Box::new(record)))
}

fn analysis_record(index: &BeaconIndex, a: &gemj_model::Analysis) -> Result<Record, BeaconError> {
    let date = a
        .analysis_date
        .and_then(|d| IsoDate::parse(&d.to_string()).ok())
        .map_or_else(|| IsoDate::parse("1900-01-01"), Ok)?;
    let mut record = Analysis::new(a.id.to_string(), date, a.pipeline_name.clone());
    record.variant_caller = a.variant_caller.clone();
    if let Some(run) = a.runs.first() {
        record.run_id = Some(run.to_string());
        if let Some(r) = index.run(run.as_str()) {
            record.biosample_id = Some(r.specimen.to_string());
            record.individual_id = index
                .specimen(r.specimen.as_str())
                .map(|s| s.participant.to_string());
        }
    }
    if a.analysis_date.is_none() {
        // The model requires a date; 1900-01-01 stands for "not recorded", and says so.
        record
            .info
            .insert("analysisDateUnknown".to_owned(), Value::Bool(true));
    }
    record.info.insert(
        "pipelineVersion".to_owned(),
        Value::String(a.pipeline_version.clone()),
    );
    record.info.insert(
        "referenceGenome".to_owned(),
        Value::String(a.reference_genome.clone()),
    );
    Ok(Record::Analysis(Box::new(record)))
}

fn variant_record(
    index: &BeaconIndex,
    assembly: &str,
    row: &VariantRow,
    carriers: &RoaringBitmap,
    dataset: &gemj_model::DatasetId,
) -> Result<Record, BeaconError> {
    let assembly = gemj_beacon::Assembly::parse(assembly)
        .ok_or_else(|| BeaconError::internal(format!("unknown assembly {assembly}")))?;
    let locus = VariantLocus {
        assembly,
        chromosome: row.key.chrom.as_str().to_owned(),
        start: u64::from(row.key.pos) - 1,
        reference_bases: row.key.reference.as_str().to_owned(),
        alternate_bases: row.key.alternate.as_str().to_owned(),
    };
    let mut record = GenomicVariation::new(variant_id(row), Variation::legacy(&locus, None)?);
    if let Some(hgvs) = gemj_beacon::genomic_hgvs_id(&locus) {
        record.identifiers = Some(gemj_beacon::Identifiers {
            genomic_hgvs_id: Some(hgvs),
            transcript_hgvs_ids: Vec::new(),
            protein_hgvs_ids: Vec::new(),
            clinvar_variant_id: None,
            variant_alternative_ids: Vec::new(),
        });
    }
    for ordinal in carriers {
        let Some(p) = index.person(ordinal) else {
            continue;
        };
        let Some(specimen) = index.specimens_of(ordinal).first().copied() else {
            continue;
        };
        let mut case = CaseLevelVariant::new(specimen.id.to_string());
        case.individual_id = Some(p.participant.id.to_string());
        record.case_level_data.push(case);
    }
    record
        .info
        .insert("dataset".to_owned(), Value::String(dataset.to_string()));
    Ok(Record::GenomicVariation(Box::new(record)))
}

async fn dataset_record(core: &Shared, v: &DatasetView) -> Result<Record, BeaconFailure> {
    let d = &v.dataset;
    let mut record = gemj_beacon::Dataset::new(d.id.to_string(), d.name.clone());
    record.description = Some(d.description.clone());
    record.data_use_conditions = data_use(&d.data_use);
    let times = core.store.dataset_objects(&d.id).await?.len();
    record.info.insert(
        "accessLevel".to_owned(),
        Value::String(
            match d.access_level {
                AccessLevel::Public => "PUBLIC",
                AccessLevel::Registered => "REGISTERED",
                AccessLevel::Controlled => "CONTROLLED",
            }
            .to_owned(),
        ),
    );
    record.info.insert("files".to_owned(), json!(times));
    record.info.insert(
        "beaconGranularity".to_owned(),
        Value::String(v.level.as_str().to_owned()),
    );
    Ok(Record::Dataset(Box::new(record)))
}

fn data_use(c: &DataUseCondition) -> Option<DataUseConditions> {
    let term = OntologyTerm::new(c.permission.as_str().to_owned(), None::<String>).ok()?;
    let mut duo = DuoDataUse::new(term, "2021-02-23");
    for m in &c.modifiers {
        if let Ok(t) = OntologyTerm::new(m.as_str().to_owned(), None::<String>) {
            duo.modifiers.push(t);
        }
    }
    DataUseConditions::new(vec![duo]).ok()
}
