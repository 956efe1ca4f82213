//! Query responses (`framework/json/responses/`): `meta` with the received request summary,
//! and the boolean, count, result-set, collections and error responses.
//!
//! The types serialize exactly to the official shapes. Which of boolean, count or record a
//! query gets is the server's decision (its granularity ceiling); [`EntryResponse::new`] builds
//! the matching document from that decision.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::common::{
    Count, CountAdjustedTo, CountPrecision, Granularity, Handover, IncludeResultsetResponses,
    Pagination, SchemaPerEntity,
};
use crate::entry_type::EntryType;
use crate::error::BeaconError;
use crate::records::{Analysis, Biosample, Cohort, Dataset, GenomicVariation, Individual, Run};
use crate::request::{API_VERSION, BeaconQuery, QueryLimits, RequestParameters};

/// `sections/beaconReceivedRequestSummary.json`: the request as the beacon interpreted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedRequestSummary {
    /// The `apiVersion` the client asked for.
    pub api_version: String,
    /// The schemas the client asked for (possibly empty).
    pub requested_schemas: Vec<SchemaPerEntity>,
    /// The page as applied (`skip` in records, the effective `limit`).
    pub pagination: Pagination,
    /// The granularity requested (or the default applied).
    pub requested_granularity: Granularity,
    /// The filters, as strings ([`crate::Filter::summary`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// The request parameters, normalized, in the `{"g_variant": {...}}` shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<RequestParameters>,
    /// Which result sets are listed.
    pub include_resultset_responses: IncludeResultsetResponses,
    /// Whether this is a test request.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test_mode: bool,
}

impl ReceivedRequestSummary {
    /// The summary of a parsed query.
    #[must_use]
    pub fn from_query(query: &BeaconQuery) -> Self {
        Self {
            api_version: query.api_version.clone(),
            requested_schemas: query.requested_schemas.clone(),
            pagination: query.pagination,
            requested_granularity: query.requested_granularity,
            filters: query.filters.iter().map(crate::Filter::summary).collect(),
            request_parameters: query.request_parameters(),
            include_resultset_responses: query.include_resultset_responses,
            test_mode: query.test_mode,
        }
    }

    /// The summary for a request that could not be parsed (for error responses): the defaults
    /// of `limits`.
    #[must_use]
    pub fn unparsed(limits: &QueryLimits) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            requested_schemas: Vec::new(),
            pagination: Pagination {
                skip: 0,
                limit: limits.default_limit.min(limits.max_limit),
            },
            requested_granularity: limits.default_granularity,
            filters: Vec::new(),
            request_parameters: None,
            include_resultset_responses: IncludeResultsetResponses::default(),
            test_mode: false,
        }
    }
}

/// `sections/beaconResponseMeta.json`: the `meta` of query and error responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMeta {
    /// The beacon's id (reverse domain name).
    pub beacon_id: String,
    /// [`API_VERSION`].
    pub api_version: &'static str,
    /// The granularity of this response.
    pub returned_granularity: Granularity,
    /// The request as interpreted.
    pub received_request_summary: ReceivedRequestSummary,
    /// The schemas of the returned entries.
    pub returned_schemas: Vec<SchemaPerEntity>,
    /// Whether this answers a test request.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test_mode: bool,
}

/// The `returnedSchemas` entry of an entry type: its default schema.
#[must_use]
pub fn returned_schema(entry_type: EntryType) -> SchemaPerEntity {
    SchemaPerEntity {
        entity_type: Some(entry_type.id().to_owned()),
        schema: Some(entry_type.default_schema_id()),
    }
}

impl ResponseMeta {
    /// The meta of a response to `query` at `returned_granularity` (which may be less than the
    /// requested one).
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_beacon::{BeaconQuery, EntryType, Granularity, QueryLimits, ResponseMeta};
    ///
    /// let query = BeaconQuery::from_get(&[], EntryType::Individual, &QueryLimits::default())?;
    /// let meta = ResponseMeta::new("org.example.beacon", &query, Granularity::Count);
    /// let json = serde_json::to_value(&meta).unwrap();
    /// assert_eq!(json["apiVersion"], "v2.2.0");
    /// assert_eq!(json["returnedSchemas"][0]["entityType"], "individual");
    /// assert_eq!(json["receivedRequestSummary"]["pagination"]["limit"], 10);
    /// # Ok::<(), gemj_beacon::BeaconError>(())
    /// ```
    #[must_use]
    pub fn new(beacon_id: &str, query: &BeaconQuery, returned_granularity: Granularity) -> Self {
        Self {
            beacon_id: beacon_id.to_owned(),
            api_version: API_VERSION,
            returned_granularity,
            received_request_summary: ReceivedRequestSummary::from_query(query),
            returned_schemas: vec![returned_schema(query.entry_type)],
            test_mode: query.test_mode,
        }
    }

    /// The meta of an error response to a request that could not be parsed: the entry type of
    /// the endpoint if known, `limits`' defaults, granularity `boolean`.
    #[must_use]
    pub fn for_unparsed(
        beacon_id: &str,
        entry_type: Option<EntryType>,
        limits: &QueryLimits,
    ) -> Self {
        Self {
            beacon_id: beacon_id.to_owned(),
            api_version: API_VERSION,
            returned_granularity: Granularity::Boolean,
            received_request_summary: ReceivedRequestSummary::unparsed(limits),
            returned_schemas: entry_type.map(returned_schema).into_iter().collect(),
            test_mode: false,
        }
    }
}

/// `sections/beaconInformationalResponseMeta.json`: the `meta` of `/info`, `/configuration`,
/// `/map`, `/entry_types` and `/filtering_terms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InformationalMeta {
    /// The beacon's id.
    pub beacon_id: String,
    /// [`API_VERSION`].
    pub api_version: &'static str,
    /// The schemas of the response (may be empty).
    pub returned_schemas: Vec<SchemaPerEntity>,
}

impl InformationalMeta {
    /// The meta with no returned schemas.
    #[must_use]
    pub fn new(beacon_id: &str) -> Self {
        Self {
            beacon_id: beacon_id.to_owned(),
            api_version: API_VERSION,
            returned_schemas: Vec::new(),
        }
    }
}

/// `sections/beaconBooleanResponseSection.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BooleanSummary {
    /// Whether anything matched.
    pub exists: bool,
}

/// `sections/beaconCountResponseSection.json`, with the precision always stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountSummary {
    /// Whether anything matched.
    pub exists: bool,
    /// The (possibly adjusted) count.
    pub num_total_results: u64,
    /// How precise the count is.
    pub count_precision: CountPrecision,
    /// The adjustment, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_adjusted_to: Option<CountAdjustedTo>,
}

impl CountSummary {
    /// The summary of a count.
    #[must_use]
    pub const fn new(exists: bool, count: Count) -> Self {
        Self {
            exists,
            num_total_results: count.value,
            count_precision: count.precision,
            count_adjusted_to: count.adjusted_to,
        }
    }
}

/// `sections/beaconSummaryResponseSection.json` (result-set and collections responses). The
/// schema defines no precision here: a server that adjusts counts states it per result set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultsSummary {
    /// Whether anything matched.
    pub exists: bool,
    /// The total number of results (not of this page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_total_results: Option<u64>,
}

/// `beaconBooleanResponse.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconBooleanResponse {
    /// The meta.
    pub meta: ResponseMeta,
    /// `exists`.
    pub response_summary: BooleanSummary,
    /// Handovers for the whole response.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub beacon_handovers: Vec<Handover>,
    /// Additional details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Map<String, Value>>,
}

impl BeaconBooleanResponse {
    /// A boolean answer.
    #[must_use]
    pub fn new(meta: ResponseMeta, exists: bool) -> Self {
        Self {
            meta,
            response_summary: BooleanSummary { exists },
            beacon_handovers: Vec::new(),
            info: None,
        }
    }
}

/// `beaconCountResponse.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconCountResponse {
    /// The meta.
    pub meta: ResponseMeta,
    /// `exists`, `numTotalResults`, `countPrecision`, `countAdjustedTo`.
    pub response_summary: CountSummary,
    /// Handovers for the whole response.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub beacon_handovers: Vec<Handover>,
    /// Additional details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Map<String, Value>>,
}

impl BeaconCountResponse {
    /// A count answer. `exists` is separate from the count because an adjusted count may be
    /// reported as 0 while records exist (or the other way round).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroU64;
    /// use gemj_beacon::*;
    ///
    /// let query = BeaconQuery::from_get(&[], EntryType::Individual, &QueryLimits::default())?;
    /// let meta = ResponseMeta::new("org.example.beacon", &query, Granularity::Count);
    /// let ten = NonZeroU64::new(10).unwrap();
    /// let response = BeaconCountResponse::new(meta, true, Count::rounded(10, Some(CountAdjustedTo::To(ten))));
    /// let json = serde_json::to_value(&response).unwrap();
    /// assert_eq!(json["responseSummary"]["countPrecision"], "rounded");
    /// assert_eq!(json["responseSummary"]["countAdjustedTo"], serde_json::json!([10]));
    /// # Ok::<(), gemj_beacon::BeaconError>(())
    /// ```
    #[must_use]
    pub fn new(meta: ResponseMeta, exists: bool, count: Count) -> Self {
        Self {
            meta,
            response_summary: CountSummary::new(exists, count),
            beacon_handovers: Vec::new(),
            info: None,
        }
    }
}

/// `sections/beaconResultsets.json#/$defs/ResultsetInstance`: the results of one collection
/// (a dataset or a cohort).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSet<R = Value> {
    /// The collection's id.
    pub id: String,
    /// The collection's entry type (`dataset` or `cohort`).
    pub set_type: EntryType,
    /// Whether the collection has matches.
    pub exists: bool,
    /// The (possibly adjusted) number of matches in the collection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results_count: Option<u64>,
    /// The precision of `resultsCount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_precision: Option<CountPrecision>,
    /// The adjustment of `resultsCount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_adjusted_to: Option<CountAdjustedTo>,
    /// This page of records.
    pub results: Vec<R>,
    /// Handovers for this result set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results_handovers: Vec<Handover>,
    /// Additional details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Map<String, Value>>,
}

impl<R> ResultSet<R> {
    /// A result set of `set_type` (a collection type) with a page of records and the count of
    /// all its matches; `exists` is `count.value > 0` or a non-empty page.
    #[must_use]
    pub fn new(id: impl Into<String>, set_type: EntryType, count: Count, results: Vec<R>) -> Self {
        Self {
            id: id.into(),
            set_type,
            exists: count.value > 0 || !results.is_empty(),
            results_count: Some(count.value),
            count_precision: Some(count.precision),
            count_adjusted_to: count.adjusted_to,
            results,
            results_handovers: Vec::new(),
            info: None,
        }
    }
}

/// `sections/beaconResultsets.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSets<R = Value> {
    /// The result sets.
    pub result_sets: Vec<ResultSet<R>>,
}

/// `beaconResultsetsResponse.json`: record-level results grouped by collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconResultsetsResponse<R = Value> {
    /// The meta.
    pub meta: ResponseMeta,
    /// `exists` and the total count.
    pub response_summary: ResultsSummary,
    /// The result sets.
    pub response: ResultSets<R>,
    /// Handovers for the whole response.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub beacon_handovers: Vec<Handover>,
    /// Additional details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Map<String, Value>>,
}

impl<R> BeaconResultsetsResponse<R> {
    /// A record response. The summary covers every result set; the listed sets are those the
    /// request's `includeResultsetResponses` keeps (`HIT` by default).
    #[must_use]
    pub fn new(
        meta: ResponseMeta,
        exists: bool,
        num_total_results: Option<u64>,
        mut result_sets: Vec<ResultSet<R>>,
    ) -> Self {
        let include = meta.received_request_summary.include_resultset_responses;
        result_sets.retain(|set| include.keeps(set.exists));
        Self {
            meta,
            response_summary: ResultsSummary {
                exists,
                num_total_results,
            },
            response: ResultSets { result_sets },
            beacon_handovers: Vec::new(),
            info: None,
        }
    }
}

/// The `response` of `beaconCollectionsResponse.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collections<R = Value> {
    /// The datasets or cohorts.
    pub collections: Vec<R>,
}

/// `beaconCollectionsResponse.json`: the `/datasets` and `/cohorts` listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconCollectionsResponse<R = Value> {
    /// The meta.
    pub meta: ResponseMeta,
    /// `exists` and the total count.
    pub response_summary: ResultsSummary,
    /// The collections of this page.
    pub response: Collections<R>,
    /// Handovers for the whole response.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub beacon_handovers: Vec<Handover>,
    /// Additional details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Map<String, Value>>,
}

impl<R> BeaconCollectionsResponse<R> {
    /// A page of collections out of `total` matching ones.
    #[must_use]
    pub fn new(meta: ResponseMeta, total: u64, collections: Vec<R>) -> Self {
        Self {
            meta,
            response_summary: ResultsSummary {
                exists: total > 0 || !collections.is_empty(),
                num_total_results: Some(total),
            },
            response: Collections { collections },
            beacon_handovers: Vec::new(),
            info: None,
        }
    }
}

/// One record of any entry type this beacon returns, serialized as the record itself (each
/// variant's own `defaultSchema.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Record {
    /// `individuals/defaultSchema.json`.
    Individual(Box<Individual>),
    /// `biosamples/defaultSchema.json`.
    Biosample(Box<Biosample>),
    /// `genomicVariations/defaultSchema.json`.
    GenomicVariation(Box<GenomicVariation>),
    /// `analyses/defaultSchema.json`.
    Analysis(Box<Analysis>),
    /// `runs/defaultSchema.json`.
    Run(Box<Run>),
    /// `datasets/defaultSchema.json`.
    Dataset(Box<Dataset>),
    /// `cohorts/defaultSchema.json`.
    Cohort(Box<Cohort>),
}

/// The answer of any entry-type query: entries (boolean, count or result sets) or a
/// collections listing (`/datasets`, `/cohorts`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum QueryResponse {
    /// Individuals, biosamples, genomic variations, analyses, runs.
    Entries(EntryResponse<Record>),
    /// Datasets and cohorts.
    Collections(BeaconCollectionsResponse<Record>),
}

/// The answer of an entry-type query at the granularity the server decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EntryResponse<R = Value> {
    /// `returnedGranularity: boolean`.
    Boolean(BeaconBooleanResponse),
    /// `returnedGranularity: count`.
    Count(BeaconCountResponse),
    /// `returnedGranularity: record`.
    Resultsets(BeaconResultsetsResponse<R>),
}

impl<R> EntryResponse<R> {
    /// Builds the document `meta.returned_granularity` calls for: boolean (`exists` only),
    /// count (`exists` and `count`), or record (result sets, filtered by
    /// `includeResultsetResponses`, with `numTotalResults = count.value`). Records and
    /// per-set counts are dropped below record granularity.
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_beacon::*;
    ///
    /// let query = BeaconQuery::from_get(
    ///     &[("requestedGranularity".to_owned(), "record".to_owned())],
    ///     EntryType::Individual,
    ///     &QueryLimits::default(),
    /// )?;
    /// // The caller may see counts only: the ceiling is applied by the server.
    /// let granularity = query.requested_granularity.min(Granularity::Count);
    /// let meta = ResponseMeta::new("org.example.beacon", &query, granularity);
    /// let sets: Vec<ResultSet> = vec![];
    /// let response = EntryResponse::new(meta, true, Count::exact(3), sets);
    /// assert!(matches!(response, EntryResponse::Count(_)));
    /// # Ok::<(), gemj_beacon::BeaconError>(())
    /// ```
    #[must_use]
    pub fn new(
        meta: ResponseMeta,
        exists: bool,
        count: Count,
        result_sets: Vec<ResultSet<R>>,
    ) -> Self {
        match meta.returned_granularity {
            Granularity::Boolean => Self::Boolean(BeaconBooleanResponse::new(meta, exists)),
            Granularity::Count => Self::Count(BeaconCountResponse::new(meta, exists, count)),
            Granularity::Record => Self::Resultsets(BeaconResultsetsResponse::new(
                meta,
                exists,
                Some(count.value),
                result_sets,
            )),
        }
    }
}

/// `beaconCommonComponents.json#/$defs/BeaconError`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorSection {
    /// The HTTP status.
    pub error_code: u16,
    /// The message.
    pub error_message: String,
}

/// `beaconErrorResponse.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BeaconErrorResponse {
    /// The meta (for unparsed requests, [`ResponseMeta::for_unparsed`]).
    pub meta: ResponseMeta,
    /// The error.
    pub error: ErrorSection,
}

impl BeaconErrorResponse {
    /// The error envelope of `error`.
    ///
    /// # Examples
    ///
    /// ```
    /// use gemj_beacon::*;
    ///
    /// let limits = QueryLimits::default();
    /// let pairs = [("limit".to_owned(), "-1".to_owned())];
    /// let error = BeaconQuery::from_get(&pairs, EntryType::Individual, &limits).unwrap_err();
    /// let meta = ResponseMeta::for_unparsed("org.example.beacon", Some(EntryType::Individual), &limits);
    /// let json = serde_json::to_value(BeaconErrorResponse::new(meta, &error)).unwrap();
    /// assert_eq!(json["error"]["errorCode"], 400);
    /// ```
    #[must_use]
    pub fn new(meta: ResponseMeta, error: &BeaconError) -> Self {
        Self {
            meta,
            error: ErrorSection {
                error_code: error.status,
                error_message: error.message.clone(),
            },
        }
    }
}
