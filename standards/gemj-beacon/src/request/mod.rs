//! One normalized query, [`BeaconQuery`], for GET query strings and POST `beaconRequestBody`s
//! (`framework/json/requests/*.json`, `models/.../genomicVariations/requestParameters.json`).
//!
//! Parsing and validation are one step ([`BeaconQuery::from_get`], [`BeaconQuery::from_post`]):
//! a `BeaconQuery` is valid for the [`QueryLimits`] it was parsed with. Every error is a 400
//! [`BeaconError`] naming the parameter.
//!
//! # Choices the spec leaves open
//!
//! - `skip` counts **records**, not pages ([`SKIP_UNIT`]); the schema's description says pages,
//!   but a page size can change between requests and records are what every implementation
//!   that paginates a database skips.
//! - `limit` defaults to [`QueryLimits::default_limit`] (the schema's 10); `limit=0` ("all, or
//!   the maximum allowed") means [`QueryLimits::max_limit`]; a larger `limit` is an error rather
//!   than silently shortened.
//! - GET accepts both spellings the spec uses: `geneId` and `geneid`, `genomicAlleleShortForm`
//!   and `allele` (giving both is an error, as is any repeated or unknown parameter). GET also
//!   accepts `requestedGranularity`, `testMode`, `variantType`, `mateName` and `datasetIds`
//!   (the documentation's examples use them; `endpoints.json` does not list them).
//! - POST `requestParameters` may be flat (`{"referenceName": ...}`) or wrapped
//!   (`{"g_variant": {...}}`, the shape `requestParameters.json` declares), not both; a
//!   `"datasets": {"datasetIds": [...]}` member (the official MAX example) restricts the query
//!   to those datasets. The summary always echoes the wrapped shape, which is the one the
//!   response schema accepts.
//! - POST `meta` and `meta.apiVersion` are required, as `beaconRequestBody.json` and
//!   `beaconRequestMeta.json` say; `apiVersion` must be a v2 version (`v2…` or `2…`). Unknown
//!   members of `query`, `pagination`, `requestParameters`, `g_variant` and filter objects are
//!   errors, because a misspelt member would silently widen the query; other `meta` members are
//!   read leniently.
//! - No error message repeats the caller's text (values, unknown names): it names the
//!   parameter by its spec name and says what is expected, so nothing the caller sent is
//!   reflected back.
//! - `requestedGranularity` defaults to [`QueryLimits::default_granularity`]; values outside
//!   the v2.2.0 enum (`aggregated`) are errors.
//! - Variant parameters are accepted on `g_variants` endpoints (and on the others only when
//!   [`QueryLimits::cross_entry_variant_queries`] is set): `requestParameters.json` defines them
//!   for `g_variant` only.

mod filter;
mod variant;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::common::{Granularity, IncludeResultsetResponses, Pagination, SchemaPerEntity};
use crate::entry_type::EntryType;
use crate::error::{BeaconError, ErrorKind};

pub use filter::{Filter, FilterKind, Operator, Similarity, is_ontology_curie};
use variant::RawVariant;
pub(crate) use variant::is_wildcard_bases;
pub use variant::{
    BASES_PATTERN, Bases, GVariantParameters, MAX_COORDINATE, VariantQuery, VariantQueryKind,
};

/// The Beacon API version this crate speaks.
pub const API_VERSION: &str = "v2.2.0";

/// What `skip` counts: records (see the module documentation).
pub const SKIP_UNIT: &str = "records";

/// The spec's default page size (`beaconCommonComponents.json#/$defs/Limit`).
pub const DEFAULT_LIMIT: u64 = 10;

/// Every GET parameter name accepted, in the spec's spelling and its alternatives.
pub const GET_PARAMETERS: &[&str] = &[
    "requestedSchema",
    "skip",
    "limit",
    "includeResultsetResponses",
    "requestedGranularity",
    "testMode",
    "filters",
    "datasetIds",
    "start",
    "end",
    "referenceName",
    "referenceBases",
    "alternateBases",
    "variantType",
    "variantMinLength",
    "variantMaxLength",
    "assemblyId",
    "mateName",
    "geneId",
    "geneid",
    "genomicAlleleShortForm",
    "allele",
    "aminoacidChange",
];

/// What a beacon accepts: the parameters of parsing that are the server's, not the spec's.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{Granularity, QueryLimits};
///
/// let limits = QueryLimits {
///     assemblies: vec!["GRCh38".to_owned()],
///     max_limit: 100,
///     ..QueryLimits::default()
/// };
/// assert_eq!(limits.default_limit, 10);
/// assert_eq!(limits.default_granularity, Granularity::Boolean);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    /// The assemblies served, canonical names preferred (`GRCh38`); synonyms of known
    /// assemblies (`hg38`, `GRCh38.p14`, `GCF_000001405.39`) match them. Others are compared
    /// case-insensitively.
    pub assemblies: Vec<String>,
    /// The page size when the request gives none.
    pub default_limit: u64,
    /// The largest page size; `limit=0` means this.
    pub max_limit: u64,
    /// The most filters one query may carry.
    pub max_filters: usize,
    /// The granularity when the request asks for none.
    pub default_granularity: Granularity,
    /// Whether variant parameters are accepted on endpoints other than `g_variants` (e.g.
    /// individuals carrying a variant).
    pub cross_entry_variant_queries: bool,
}

impl Default for QueryLimits {
    /// GRCh38 only, the spec's defaults (`limit` 10, `boolean`), at most 1000 records per page
    /// and 16 filters, variant parameters on `g_variants` only.
    fn default() -> Self {
        Self {
            assemblies: vec!["GRCh38".to_owned()],
            default_limit: DEFAULT_LIMIT,
            max_limit: 1000,
            max_filters: 16,
            default_granularity: Granularity::Boolean,
            cross_entry_variant_queries: false,
        }
    }
}

impl QueryLimits {
    /// The spec choices and limits, for `/info`'s `info` member (a place the spec leaves open
    /// for implementation details).
    ///
    /// # Examples
    ///
    /// ```
    /// let notes = gemj_beacon::QueryLimits::default().implementation_notes();
    /// let json = serde_json::to_value(&notes)?;
    /// assert_eq!(json["skipUnit"], "records");
    /// assert_eq!(json["requestParametersShapes"], serde_json::json!(["flat", "g_variant"]));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn implementation_notes(&self) -> ImplementationNotes {
        ImplementationNotes {
            api_version: API_VERSION,
            skip_unit: SKIP_UNIT,
            default_limit: self.default_limit.min(self.max_limit),
            max_limit: self.max_limit,
            limit_zero: "returns up to maxLimit records",
            max_filters: self.max_filters,
            filter_combination: "AND",
            get_parameter_spellings: vec![
                ParameterSpelling {
                    parameter: "geneId",
                    accepted: &["geneId", "geneid"],
                },
                ParameterSpelling {
                    parameter: "genomicAlleleShortForm",
                    accepted: &["genomicAlleleShortForm", "allele"],
                },
            ],
            request_parameters_shapes: &["flat", "g_variant"],
            coordinates: "0-based; start inclusive, end exclusive",
            assemblies: self.assemblies.clone(),
            reference_names: "RefSeq accessions of GRCh38/GRCh37 chromosomes (optionally refseq:-prefixed), chr1..chr22, chrX, chrY, chrM with or without the chr prefix; other names as given",
            genomic_allele_short_form: "HGVS g. (and m.) substitutions, deletions, insertions, deletion-insertions and duplications on a RefSeq accession or chromosome name; c., n., r. and p. descriptions are matched verbatim",
            granularities: Granularity::ALL.to_vec(),
            default_granularity: self.default_granularity,
            variant_parameters_on: if self.cross_entry_variant_queries {
                "every entry type"
            } else {
                "g_variants endpoints"
            },
        }
    }
}

/// The documented choices of this implementation (see [`QueryLimits::implementation_notes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImplementationNotes {
    /// [`API_VERSION`].
    pub api_version: &'static str,
    /// [`SKIP_UNIT`].
    pub skip_unit: &'static str,
    /// The page size when none is requested.
    pub default_limit: u64,
    /// The largest page size.
    pub max_limit: u64,
    /// What `limit=0` does.
    pub limit_zero: &'static str,
    /// The most filters per query.
    pub max_filters: usize,
    /// How filters combine.
    pub filter_combination: &'static str,
    /// Parameters with more than one accepted GET spelling.
    pub get_parameter_spellings: Vec<ParameterSpelling>,
    /// Accepted shapes of POST `requestParameters`.
    pub request_parameters_shapes: &'static [&'static str],
    /// The coordinate system.
    pub coordinates: &'static str,
    /// The assemblies served.
    pub assemblies: Vec<String>,
    /// How `referenceName` is read.
    pub reference_names: &'static str,
    /// What `genomicAlleleShortForm` accepts.
    pub genomic_allele_short_form: &'static str,
    /// The granularities understood.
    pub granularities: Vec<Granularity>,
    /// The granularity when none is requested.
    pub default_granularity: Granularity,
    /// Where variant parameters are accepted.
    pub variant_parameters_on: &'static str,
}

/// A parameter and its accepted GET spellings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterSpelling {
    /// The spec's name.
    pub parameter: &'static str,
    /// Every accepted spelling.
    pub accepted: &'static [&'static str],
}

/// A normalized Beacon query, the same for GET and POST.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{BeaconQuery, EntryType, Granularity, QueryLimits, VariantQueryKind};
/// use serde_json::json;
///
/// let limits = QueryLimits::default();
/// let get = vec![
///     ("referenceName".to_owned(), "NC_000017.11".to_owned()),
///     ("start".to_owned(), "7674219".to_owned()),
///     ("end".to_owned(), "7674220".to_owned()),
///     ("requestedGranularity".to_owned(), "count".to_owned()),
/// ];
/// let from_get = BeaconQuery::from_get(&get, EntryType::GenomicVariant, &limits)?;
/// let post = json!({
///     "meta": {"apiVersion": "v2.2.0"},
///     "query": {
///         "requestParameters": {"g_variant": {
///             "referenceName": "NC_000017.11", "start": [7674219], "end": [7674220]
///         }},
///         "requestedGranularity": "count"
///     }
/// });
/// let from_post = BeaconQuery::from_post(&post, EntryType::GenomicVariant, &limits)?;
/// assert_eq!(from_get.variant, from_post.variant);
/// assert_eq!(from_get.requested_granularity, Granularity::Count);
/// let variant = from_get.variant.as_ref().unwrap();
/// assert!(matches!(variant.kind, VariantQueryKind::Range { start: 7674219, end: 7674220, .. }));
/// assert_eq!(variant.assembly_id.as_deref(), Some("GRCh38"));
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconQuery {
    /// The entry type the endpoint returns.
    pub entry_type: EntryType,
    /// `meta.apiVersion` as the client gave it, or [`API_VERSION`].
    pub api_version: String,
    /// `meta.requestedSchemas` (GET: `requestedSchema`).
    pub requested_schemas: Vec<SchemaPerEntity>,
    /// The page, `skip` in records.
    pub pagination: Pagination,
    /// The granularity requested (or the beacon's default); the server may answer with less.
    pub requested_granularity: Granularity,
    /// Whether `requestedGranularity` was given: a collection endpoint (`/datasets`,
    /// `/cohorts`) lists its collections unless a lower granularity was asked for.
    pub granularity_given: bool,
    /// Which result sets a record response lists.
    pub include_resultset_responses: IncludeResultsetResponses,
    /// Whether this is a test request (answer with synthetic data).
    pub test_mode: bool,
    /// Filters, combined with AND.
    pub filters: Vec<Filter>,
    /// The variant query, if any variant parameter was given.
    pub variant: Option<VariantQuery>,
    /// Datasets the query is restricted to (`datasetIds`); empty means all visible ones.
    pub dataset_ids: Vec<String>,
}

/// The `requestParameters` echo of `receivedRequestSummary` (every member an object, as
/// `requestParameters.json` requires).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestParameters {
    /// The variant parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub g_variant: Option<GVariantParameters>,
    /// The dataset restriction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasets: Option<DatasetIds>,
}

/// `{"datasetIds": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetIds {
    /// The dataset ids.
    pub dataset_ids: Vec<String>,
}

impl BeaconQuery {
    /// Parses GET query parameters (already percent-decoded, in order).
    ///
    /// Lists (`start`, `end`, `filters`, `datasetIds`) are comma-separated values of one
    /// parameter. Unknown names, repeated names and both spellings of one parameter are errors.
    ///
    /// # Errors
    ///
    /// A 400 [`BeaconError`] naming the parameter (see [`ErrorKind`]).
    pub fn from_get(
        pairs: &[(String, String)],
        entry_type: EntryType,
        limits: &QueryLimits,
    ) -> Result<Self, BeaconError> {
        let mut raw = RawQuery::default();
        let mut seen: HashMap<GetParam, &str> = HashMap::new();
        for (name, value) in pairs {
            let Some(param) = GetParam::from_name(name) else {
                return Err(BeaconError::unknown(
                    "a query parameter this beacon does not define (the parameters are those of the Beacon v2.2.0 GET endpoints)",
                ));
            };
            if let Some(earlier) = seen.insert(param, name) {
                let message = if earlier == name {
                    format!(
                        "parameter `{name}` is given more than once; give a list as one comma-separated value"
                    )
                } else {
                    format!("`{earlier}` and `{name}` are the same parameter; give it once")
                };
                return Err(BeaconError::bad_request(
                    ErrorKind::RepeatedParameter,
                    message,
                ));
            }
            raw.read_get(param, name, value)?;
        }
        raw.normalize(entry_type, limits)
    }

    /// Parses a POST `beaconRequestBody`.
    ///
    /// # Errors
    ///
    /// A 400 [`BeaconError`] naming the member (see [`ErrorKind`]).
    pub fn from_post(
        body: &Value,
        entry_type: EntryType,
        limits: &QueryLimits,
    ) -> Result<Self, BeaconError> {
        let body = body.as_object().ok_or_else(|| {
            BeaconError::bad_request(
                ErrorKind::InvalidBody,
                "the request body must be a JSON object (a beaconRequestBody)",
            )
        })?;
        if !body.contains_key("meta") {
            return Err(BeaconError::bad_request(
                ErrorKind::InvalidBody,
                "a beaconRequestBody needs `meta` with `apiVersion` (for example {\"meta\": {\"apiVersion\": \"v2.2.0\"}})",
            ));
        }
        let mut raw = RawQuery::default();
        for (key, value) in body {
            match key.as_str() {
                "$schema" => {}
                "meta" => raw.read_meta(value)?,
                "query" => raw.read_query(value)?,
                "requestParameters"
                | "filters"
                | "pagination"
                | "requestedGranularity"
                | "includeResultsetResponses"
                | "testMode" => {
                    return Err(BeaconError::unknown(format!(
                        "`{key}` belongs inside `query`"
                    )));
                }
                _ => {
                    return Err(BeaconError::unknown(
                        "a request body member the spec does not define (a beaconRequestBody has `meta` and `query`)",
                    ));
                }
            }
        }
        raw.normalize(entry_type, limits)
    }

    /// Whether any allele of the variant query is a wildcard (see
    /// [`VariantQuery::has_wildcard`]).
    #[must_use]
    pub fn has_wildcard(&self) -> bool {
        self.variant
            .as_ref()
            .is_some_and(VariantQuery::has_wildcard)
    }

    /// The width of the queried region (see [`VariantQuery::range_width`]).
    #[must_use]
    pub fn range_width(&self) -> Option<u64> {
        self.variant.as_ref().and_then(VariantQuery::range_width)
    }

    /// Whether nothing restricts the query: no filters, no variant parameters, no dataset ids
    /// (the spec's `nonFilteredQueriesAllowed` case).
    #[must_use]
    pub fn is_unfiltered(&self) -> bool {
        self.filters.is_empty() && self.variant.is_none() && self.dataset_ids.is_empty()
    }

    /// The request parameters as `receivedRequestSummary` echoes them; `None` when there are
    /// none.
    #[must_use]
    pub fn request_parameters(&self) -> Option<RequestParameters> {
        let g_variant = self.variant.as_ref().map(VariantQuery::echo);
        let datasets = (!self.dataset_ids.is_empty()).then(|| DatasetIds {
            dataset_ids: self.dataset_ids.clone(),
        });
        (g_variant.is_some() || datasets.is_some()).then_some(RequestParameters {
            g_variant,
            datasets,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum GetParam {
    RequestedSchema,
    Skip,
    Limit,
    IncludeResultsetResponses,
    RequestedGranularity,
    TestMode,
    Filters,
    DatasetIds,
    Start,
    End,
    ReferenceName,
    ReferenceBases,
    AlternateBases,
    VariantType,
    VariantMinLength,
    VariantMaxLength,
    AssemblyId,
    MateName,
    GeneId,
    Allele,
    AminoacidChange,
}

impl GetParam {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "requestedSchema" => Self::RequestedSchema,
            "skip" => Self::Skip,
            "limit" => Self::Limit,
            "includeResultsetResponses" => Self::IncludeResultsetResponses,
            "requestedGranularity" => Self::RequestedGranularity,
            "testMode" => Self::TestMode,
            "filters" => Self::Filters,
            "datasetIds" => Self::DatasetIds,
            "start" => Self::Start,
            "end" => Self::End,
            "referenceName" => Self::ReferenceName,
            "referenceBases" => Self::ReferenceBases,
            "alternateBases" => Self::AlternateBases,
            "variantType" => Self::VariantType,
            "variantMinLength" => Self::VariantMinLength,
            "variantMaxLength" => Self::VariantMaxLength,
            "assemblyId" => Self::AssemblyId,
            "mateName" => Self::MateName,
            "geneId" | "geneid" => Self::GeneId,
            "genomicAlleleShortForm" | "allele" => Self::Allele,
            "aminoacidChange" => Self::AminoacidChange,
            _ => return None,
        })
    }
}

/// Both parse paths fill this; [`RawQuery::normalize`] checks and builds the query.
#[derive(Debug, Default)]
struct RawQuery {
    api_version: Option<String>,
    requested_schemas: Vec<SchemaPerEntity>,
    skip: Option<u64>,
    limit: Option<u64>,
    granularity: Option<Granularity>,
    include: Option<IncludeResultsetResponses>,
    test_mode: Option<bool>,
    filters: Vec<Filter>,
    dataset_ids: Vec<String>,
    variant: RawVariant,
}

fn parse_granularity(s: &str) -> Result<Granularity, BeaconError> {
    Granularity::parse(s).ok_or_else(|| {
        BeaconError::invalid("`requestedGranularity` must be boolean, count or record")
    })
}

fn parse_include(s: &str) -> Result<IncludeResultsetResponses, BeaconError> {
    IncludeResultsetResponses::parse(s).ok_or_else(|| {
        BeaconError::invalid("`includeResultsetResponses` must be HIT, MISS, ALL or NONE")
    })
}

fn parse_u64_text(name: &str, s: &str) -> Result<u64, BeaconError> {
    let trimmed = s.trim();
    let digits = !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit());
    match trimmed.parse::<u64>() {
        Ok(n) if digits && n <= MAX_COORDINATE => Ok(n),
        _ => Err(BeaconError::invalid(format!(
            "`{name}` must be a non-negative integer (at most {MAX_COORDINATE})"
        ))),
    }
}

fn check_coordinates(name: &str, values: Vec<u64>) -> Result<Vec<u64>, BeaconError> {
    if values.is_empty() || values.len() > 2 {
        return Err(BeaconError::invalid(format!(
            "`{name}` takes 1 or 2 non-negative integers"
        )));
    }
    if name == "end" && values.contains(&0) {
        return Err(BeaconError::invalid(
            "`end` values are at least 1 (0-based exclusive ends)",
        ));
    }
    Ok(values)
}

fn split_list<'a>(name: &str, value: &'a str) -> Result<Vec<&'a str>, BeaconError> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items.iter().any(|item| item.is_empty()) {
        return Err(BeaconError::invalid(format!("`{name}` has an empty item")));
    }
    Ok(items)
}

fn check_api_version(version: &str) -> Result<(), BeaconError> {
    let bare = version.strip_prefix('v').unwrap_or(version);
    if bare == "2" || bare.starts_with("2.") {
        Ok(())
    } else {
        Err(BeaconError::invalid(format!(
            "`meta.apiVersion` must be a v2 version: this beacon speaks {API_VERSION}"
        )))
    }
}

impl RawQuery {
    fn read_get(&mut self, param: GetParam, name: &str, value: &str) -> Result<(), BeaconError> {
        let text = || -> Result<String, BeaconError> {
            if value.is_empty() {
                Err(BeaconError::invalid(format!("`{name}` is empty")))
            } else {
                Ok(value.to_owned())
            }
        };
        let coordinates = |name: &str| -> Result<Vec<u64>, BeaconError> {
            let mut values = Vec::new();
            for item in value.split(',') {
                values.push(parse_u64_text(name, item).map_err(|_| {
                    BeaconError::invalid(format!(
                        "`{name}` takes 1 or 2 comma-separated non-negative integers"
                    ))
                })?);
            }
            check_coordinates(name, values)
        };
        let v = &mut self.variant;
        match param {
            GetParam::RequestedSchema => self.requested_schemas.push(SchemaPerEntity {
                entity_type: None,
                schema: Some(text()?),
            }),
            GetParam::Skip => self.skip = Some(parse_u64_text(name, value)?),
            GetParam::Limit => self.limit = Some(parse_u64_text(name, value)?),
            GetParam::IncludeResultsetResponses => self.include = Some(parse_include(value)?),
            GetParam::RequestedGranularity => self.granularity = Some(parse_granularity(value)?),
            GetParam::TestMode => {
                self.test_mode = Some(match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(BeaconError::invalid("`testMode` must be true or false"));
                    }
                });
            }
            GetParam::Filters => {
                for id in split_list(name, value)? {
                    self.filters.push(Filter::from_id(id)?);
                }
            }
            GetParam::DatasetIds => {
                self.dataset_ids = split_list(name, value)?
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
            }
            GetParam::Start => v.start = Some(coordinates("start")?),
            GetParam::End => v.end = Some(coordinates("end")?),
            GetParam::ReferenceName => v.reference_name = Some(text()?),
            GetParam::ReferenceBases => v.reference_bases = Some(value.to_owned()),
            GetParam::AlternateBases => v.alternate_bases = Some(value.to_owned()),
            GetParam::VariantType => v.variant_type = Some(text()?),
            GetParam::VariantMinLength => v.variant_min_length = Some(parse_u64_text(name, value)?),
            GetParam::VariantMaxLength => v.variant_max_length = Some(parse_u64_text(name, value)?),
            GetParam::AssemblyId => v.assembly_id = Some(text()?),
            GetParam::MateName => v.mate_name = Some(text()?),
            GetParam::GeneId => v.gene_id = Some(text()?),
            GetParam::Allele => v.allele = Some(text()?),
            GetParam::AminoacidChange => v.aminoacid_change = Some(text()?),
        }
        Ok(())
    }

    fn read_meta(&mut self, meta: &Value) -> Result<(), BeaconError> {
        let meta = meta
            .as_object()
            .ok_or_else(|| BeaconError::invalid("`meta` must be an object"))?;
        let version = meta
            .get("apiVersion")
            .ok_or_else(|| {
                BeaconError::bad_request(
                    ErrorKind::MissingParameter,
                    "`meta.apiVersion` is required (for example \"v2.2.0\")",
                )
            })?
            .as_str()
            .ok_or_else(|| BeaconError::invalid("`meta.apiVersion` must be a string"))?;
        check_api_version(version)?;
        self.api_version = Some(version.to_owned());
        if let Some(schemas) = meta.get("requestedSchemas") {
            let schemas = schemas
                .as_array()
                .ok_or_else(|| BeaconError::invalid("`meta.requestedSchemas` must be an array"))?;
            for item in schemas {
                let item = item.as_object().ok_or_else(|| {
                    BeaconError::invalid("each item of `meta.requestedSchemas` must be an object")
                })?;
                let member = |key: &str| -> Result<Option<String>, BeaconError> {
                    match item.get(key) {
                        None => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        Some(_) => Err(BeaconError::invalid(format!(
                            "`meta.requestedSchemas[].{key}` must be a string"
                        ))),
                    }
                };
                self.requested_schemas.push(SchemaPerEntity {
                    entity_type: member("entityType")?,
                    schema: member("schema")?,
                });
            }
        }
        Ok(())
    }

    fn read_query(&mut self, query: &Value) -> Result<(), BeaconError> {
        let query = query
            .as_object()
            .ok_or_else(|| BeaconError::invalid("`query` must be an object"))?;
        for (key, value) in query {
            match key.as_str() {
                "$schema" => {}
                "requestParameters" => self.read_request_parameters(value)?,
                "filters" => {
                    let items = value
                        .as_array()
                        .ok_or_else(|| BeaconError::invalid("`query.filters` must be an array"))?;
                    for item in items {
                        self.filters.push(Filter::from_json(item)?);
                    }
                }
                "includeResultsetResponses" => {
                    let s = value.as_str().ok_or_else(|| {
                        BeaconError::invalid("`query.includeResultsetResponses` must be a string")
                    })?;
                    self.include = Some(parse_include(s)?);
                }
                "pagination" => self.read_pagination(value)?,
                "requestedGranularity" => {
                    let s = value.as_str().ok_or_else(|| {
                        BeaconError::invalid("`query.requestedGranularity` must be a string")
                    })?;
                    self.granularity = Some(parse_granularity(s)?);
                }
                "testMode" => {
                    self.test_mode = Some(value.as_bool().ok_or_else(|| {
                        BeaconError::invalid("`query.testMode` must be true or false")
                    })?);
                }
                _ => {
                    return Err(BeaconError::unknown(
                        "`query` has a member the spec does not define (a query has requestParameters, filters, includeResultsetResponses, pagination, requestedGranularity, testMode)",
                    ));
                }
            }
        }
        Ok(())
    }

    fn read_pagination(&mut self, value: &Value) -> Result<(), BeaconError> {
        let pagination = value
            .as_object()
            .ok_or_else(|| BeaconError::invalid("`query.pagination` must be an object"))?;
        for (key, value) in pagination {
            match key.as_str() {
                "skip" => self.skip = Some(json_u64("query.pagination.skip", value)?),
                "limit" => self.limit = Some(json_u64("query.pagination.limit", value)?),
                "currentPage" | "nextPage" | "previousPage" => {
                    return Err(BeaconError::invalid(format!(
                        "`query.pagination.{key}`: page tokens are not supported; use `skip` (records) and `limit`"
                    )));
                }
                _ => {
                    return Err(BeaconError::unknown(
                        "`query.pagination` has a member the spec does not define (use `skip` and `limit`)",
                    ));
                }
            }
        }
        Ok(())
    }

    fn read_request_parameters(&mut self, value: &Value) -> Result<(), BeaconError> {
        let parameters = value
            .as_object()
            .ok_or_else(|| BeaconError::invalid("`query.requestParameters` must be an object"))?;
        let mut flat = Vec::new();
        let mut wrapped = false;
        for (key, value) in parameters {
            match key.as_str() {
                "$schema" => {}
                "g_variant" => {
                    wrapped = true;
                    let inner = value.as_object().ok_or_else(|| {
                        BeaconError::invalid(
                            "`query.requestParameters.g_variant` must be an object",
                        )
                    })?;
                    for (key, value) in inner {
                        if key != "$schema"
                            && !read_variant_member(&mut self.variant, key, value, "g_variant.")?
                        {
                            return Err(unknown_request_parameter("g_variant", key));
                        }
                    }
                }
                "datasets" => self.read_datasets(value)?,
                _ => {
                    if !read_variant_member(&mut self.variant, key, value, "")? {
                        return Err(unknown_request_parameter("requestParameters", key));
                    }
                    flat.push(key.clone());
                }
            }
        }
        if wrapped && let Some(first) = flat.first() {
            return Err(BeaconError::invalid(format!(
                "`query.requestParameters` mixes the flat form (`{first}`) and the `g_variant` form; use one"
            )));
        }
        Ok(())
    }

    fn read_datasets(&mut self, value: &Value) -> Result<(), BeaconError> {
        let datasets = value.as_object().ok_or_else(|| {
            BeaconError::invalid("`query.requestParameters.datasets` must be an object")
        })?;
        for (key, value) in datasets {
            if key != "datasetIds" {
                return Err(BeaconError::unknown(
                    "`query.requestParameters.datasets` has a member other than `datasetIds`",
                ));
            }
            let ids = value.as_array().ok_or_else(|| {
                BeaconError::invalid("`datasets.datasetIds` must be an array of strings")
            })?;
            for id in ids {
                match id.as_str() {
                    Some(id) if !id.is_empty() => self.dataset_ids.push(id.to_owned()),
                    _ => {
                        return Err(BeaconError::invalid(
                            "`datasets.datasetIds` must be an array of non-empty strings",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn normalize(
        self,
        entry_type: EntryType,
        limits: &QueryLimits,
    ) -> Result<BeaconQuery, BeaconError> {
        let limit = match self.limit {
            None => limits.default_limit.min(limits.max_limit),
            Some(0) => limits.max_limit,
            Some(limit) if limit > limits.max_limit => {
                return Err(BeaconError::bad_request(
                    ErrorKind::LimitExceeded,
                    format!(
                        "`limit` {limit} is above this beacon's maximum of {}",
                        limits.max_limit
                    ),
                ));
            }
            Some(limit) => limit,
        };
        if self.filters.len() > limits.max_filters {
            return Err(BeaconError::bad_request(
                ErrorKind::TooManyFilters,
                format!(
                    "too many filters: {} (this beacon accepts at most {})",
                    self.filters.len(),
                    limits.max_filters
                ),
            ));
        }
        let given = self.variant.given();
        if let Some(first) = given.first()
            && entry_type != EntryType::GenomicVariant
            && !limits.cross_entry_variant_queries
        {
            return Err(BeaconError::unknown(format!(
                "`{first}` is a genomic variant parameter; this beacon accepts variant parameters on g_variants endpoints only, not on {}",
                entry_type.path_segment()
            )));
        }
        let mut requested_schemas = self.requested_schemas;
        for schema in &mut requested_schemas {
            if schema.entity_type.is_none() {
                schema.entity_type = Some(entry_type.id().to_owned());
            }
        }
        Ok(BeaconQuery {
            entry_type,
            api_version: self.api_version.unwrap_or_else(|| API_VERSION.to_owned()),
            requested_schemas,
            pagination: Pagination {
                skip: self.skip.unwrap_or(0),
                limit,
            },
            requested_granularity: self.granularity.unwrap_or(limits.default_granularity),
            granularity_given: self.granularity.is_some(),
            include_resultset_responses: self.include.unwrap_or_default(),
            test_mode: self.test_mode.unwrap_or(false),
            filters: self.filters,
            variant: self.variant.normalize(limits)?,
            dataset_ids: self.dataset_ids,
        })
    }
}

/// An unknown member of `query.requestParameters` (`within` is `requestParameters` or
/// `g_variant`), named by what it is, not by the caller's text; a hint for known misspellings.
fn unknown_request_parameter(within: &str, key: &str) -> BeaconError {
    let hint = match key {
        "geneid" => " (POST uses `geneId`)",
        "allele" => " (POST uses `genomicAlleleShortForm`)",
        "datasetIds" => " (use `\"datasets\": {\"datasetIds\": [...]}`)",
        _ => "",
    };
    BeaconError::unknown(format!(
        "`{within}` has a member the spec does not define{hint}"
    ))
}

fn json_u64(path: &str, value: &Value) -> Result<u64, BeaconError> {
    match value.as_u64() {
        Some(n) if n <= MAX_COORDINATE => Ok(n),
        _ => Err(BeaconError::invalid(format!(
            "`{path}` must be a non-negative integer (at most {MAX_COORDINATE})"
        ))),
    }
}

fn json_text(path: &str, value: &Value) -> Result<String, BeaconError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| BeaconError::invalid(format!("`{path}` must be a string")))
}

fn json_coordinates(name: &str, path: &str, value: &Value) -> Result<Vec<u64>, BeaconError> {
    let wrong = || {
        BeaconError::invalid(format!(
            "`{path}` must be an array of 1 or 2 non-negative integers"
        ))
    };
    let items = value.as_array().ok_or_else(wrong)?;
    let values = items
        .iter()
        .map(|item| {
            item.as_u64()
                .filter(|n| *n <= MAX_COORDINATE)
                .ok_or_else(wrong)
        })
        .collect::<Result<Vec<u64>, BeaconError>>()?;
    check_coordinates(name, values)
}

/// Reads one variant request parameter; `false` when the name is not one.
fn read_variant_member(
    raw: &mut RawVariant,
    key: &str,
    value: &Value,
    prefix: &str,
) -> Result<bool, BeaconError> {
    let path = format!("query.requestParameters.{prefix}{key}");
    match key {
        "referenceName" => raw.reference_name = Some(json_text(&path, value)?),
        "start" => raw.start = Some(json_coordinates("start", &path, value)?),
        "end" => raw.end = Some(json_coordinates("end", &path, value)?),
        "referenceBases" => raw.reference_bases = Some(json_text(&path, value)?),
        "alternateBases" => raw.alternate_bases = Some(json_text(&path, value)?),
        "variantType" => raw.variant_type = Some(json_text(&path, value)?),
        "variantMinLength" => raw.variant_min_length = Some(json_u64(&path, value)?),
        "variantMaxLength" => raw.variant_max_length = Some(json_u64(&path, value)?),
        "assemblyId" => raw.assembly_id = Some(json_text(&path, value)?),
        "mateName" => raw.mate_name = Some(json_text(&path, value)?),
        "geneId" => raw.gene_id = Some(json_text(&path, value)?),
        "genomicAlleleShortForm" => raw.allele = Some(json_text(&path, value)?),
        "aminoacidChange" => raw.aminoacid_change = Some(json_text(&path, value)?),
        _ => return Ok(false),
    }
    Ok(true)
}
