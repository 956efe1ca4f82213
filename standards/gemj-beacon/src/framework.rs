//! The informational documents of the framework: `/info` (`beaconInfoResponse`),
//! `/configuration`, `/map`, `/entry_types` (`framework/json/configuration/`) and
//! `/filtering_terms`, built from a description of the beacon ([`BeaconFramework`]).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::common::{Granularity, OntologyTerm};
use crate::entry_type::{DEFAULT_SCHEMA_VERSION, EntryType, NestedRoute};
use crate::request::{API_VERSION, ImplementationNotes};
use crate::response::InformationalMeta;

/// The official URL of `beaconConfigurationSchema.json` (the `$schema` of `/configuration`).
pub const CONFIGURATION_SCHEMA_URL: &str = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconConfigurationSchema.json";

/// The official URL of `beaconMapSchema.json` (the `$schema` of `/map`).
pub const MAP_SCHEMA_URL: &str = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconMapSchema.json";

/// `beaconInfoResults.json` `environment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Production.
    Prod,
    /// Testing.
    Test,
    /// Development.
    Dev,
    /// Staging.
    Staging,
}

/// `beaconInfoResults.json#/$defs/BeaconOrganization`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconOrganization {
    /// The organization's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Its website.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub welcome_url: Option<String>,
    /// A contact URL or `mailto:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_url: Option<String>,
    /// Its logo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
}

/// `beaconInfoResults.json`: the `response` of `/info`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconInfo {
    /// The beacon's id (reverse domain name).
    pub id: String,
    /// Its name.
    pub name: String,
    /// [`API_VERSION`].
    pub api_version: &'static str,
    /// Where it runs.
    pub environment: Environment,
    /// Who runs it.
    pub organization: BeaconOrganization,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The implementation's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its welcome page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub welcome_url: Option<String>,
    /// An alternative URL (e.g. the authenticated beacon).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative_url: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_date_time: Option<String>,
    /// Update time (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_date_time: Option<String>,
    /// Additional details (the place for [`ImplementationNotes`]).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub info: Map<String, Value>,
}

impl BeaconInfo {
    /// The required members; the rest empty.
    #[must_use]
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        environment: Environment,
        organization: BeaconOrganization,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            api_version: API_VERSION,
            environment,
            organization,
            description: None,
            version: None,
            welcome_url: None,
            alternative_url: None,
            create_date_time: None,
            update_date_time: None,
            info: Map::new(),
        }
    }

    /// Puts the implementation's documented choices under `info.implementation`.
    pub fn set_implementation_notes(&mut self, notes: &ImplementationNotes) {
        // Serializing these plain strings and numbers cannot fail; a failure would leave null.
        let value = serde_json::to_value(notes).unwrap_or_default();
        self.info.insert("implementation".to_owned(), value);
    }
}

/// `beaconInfoResponse.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BeaconInfoResponse {
    /// The meta.
    pub meta: InformationalMeta,
    /// The beacon's description.
    pub response: BeaconInfo,
}

impl BeaconInfoResponse {
    /// The `/info` document.
    #[must_use]
    pub fn new(info: BeaconInfo) -> Self {
        Self {
            meta: InformationalMeta::new(&info.id),
            response: info,
        }
    }
}

/// `beaconConfigurationSchema.json` `maturityAttributes.productionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProductionStatus {
    /// Unstable, possibly not real data.
    Dev,
    /// Stable, synthetic data.
    Test,
    /// Stable, real data.
    Prod,
}

/// `beaconConfigurationSchema.json` `securityAttributes.securityLevels` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SecurityLevel {
    /// Anyone.
    Public,
    /// Authenticated users.
    Registered,
    /// Authorized users.
    Controlled,
}

/// `beaconConfigurationSchema.json` `securityAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityAttributes {
    /// The granularity by default.
    pub default_granularity: Granularity,
    /// Every access level the beacon supports.
    pub security_levels: Vec<SecurityLevel>,
}

/// `common/basicElement.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BasicElement {
    /// The id.
    pub id: String,
    /// The name.
    pub name: String,
}

/// `common/referenceToAnSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaReference {
    /// The schema id (`ga4gh-beacon-individual-v2.2.0`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where it is published.
    pub reference_to_schema_definition: String,
    /// Its version.
    pub schema_version: &'static str,
}

/// `configuration/entryTypeDefinition.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryTypeDefinition {
    /// The entry type id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its ontology term.
    pub ontology_term_for_this_type: OntologyTerm,
    /// The specification it is part of.
    pub part_of_specification: String,
    /// The default schema.
    pub default_schema: SchemaReference,
    /// Other schemas (none).
    pub additionally_supported_schemas: Vec<SchemaReference>,
    /// Whether unfiltered queries are answered.
    pub non_filtered_queries_allowed: bool,
    /// For collections, the supported entry types they collect.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub a_collection_of: Vec<BasicElement>,
}

/// `configuration/beaconMapSchema.json#/$defs/RelatedEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedEndpoint {
    /// The URL template (`.../individuals/{id}/g_variants`).
    pub url: String,
    /// The entry type returned.
    pub returned_entry_type: EntryType,
}

/// `configuration/beaconMapSchema.json#/$defs/Endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSet {
    /// The entry type.
    pub entry_type: EntryType,
    /// The listing URL.
    pub root_url: String,
    /// The single-entry URL template.
    pub single_entry_url: String,
    /// Nested endpoints, keyed `<entryType>Lookup`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, RelatedEndpoint>,
}

/// `configuration/beaconMapSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconMap {
    /// [`MAP_SCHEMA_URL`].
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    /// The endpoint sets, keyed `<entryType>Endpoints`.
    pub endpoint_sets: BTreeMap<String, EndpointSet>,
}

/// `configuration/entryTypesSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryTypes {
    /// The definitions, keyed by entry type id.
    pub entry_types: BTreeMap<String, EntryTypeDefinition>,
}

/// `beaconConfigurationSchema.json` `maturityAttributes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MaturityAttributes {
    /// The production status.
    pub production_status: ProductionStatus,
}

/// `configuration/beaconConfigurationSchema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconConfiguration {
    /// [`CONFIGURATION_SCHEMA_URL`].
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    /// The maturity.
    pub maturity_attributes: MaturityAttributes,
    /// The security settings.
    pub security_attributes: SecurityAttributes,
    /// The entry types, keyed by id.
    pub entry_types: BTreeMap<String, EntryTypeDefinition>,
}

/// An informational response: `meta` plus one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InformationalResponse<T> {
    /// The meta.
    pub meta: InformationalMeta,
    /// The document.
    pub response: T,
}

/// `beaconConfigurationResponse.json`.
pub type BeaconConfigurationResponse = InformationalResponse<BeaconConfiguration>;
/// `beaconMapResponse.json`.
pub type BeaconMapResponse = InformationalResponse<BeaconMap>;
/// `beaconEntryTypesResponse.json`.
pub type BeaconEntryTypesResponse = InformationalResponse<EntryTypes>;
/// `beaconFilteringTermsResponse.json`.
pub type BeaconFilteringTermsResponse = InformationalResponse<FilteringTermsResults>;

/// What a beacon serves, from which `/entry_types`, `/configuration` and `/map` are built.
///
/// # Examples
///
/// ```
/// use gemj_beacon::*;
///
/// let framework = BeaconFramework {
///     beacon_id: "org.example.beacon",
///     base_url: "https://beacon.example.org/api",
///     entry_types: &[EntryType::Dataset, EntryType::Individual, EntryType::GenomicVariant],
///     nested_routes: SPEC_NESTED_ROUTES,
///     non_filtered_queries_allowed: &[EntryType::Dataset],
///     production_status: ProductionStatus::Test,
///     security: SecurityAttributes {
///         default_granularity: Granularity::Boolean,
///         security_levels: vec![SecurityLevel::Public, SecurityLevel::Controlled],
///     },
/// };
/// let map = serde_json::to_value(framework.map()).unwrap();
/// let individuals = &map["response"]["endpointSets"]["individualEndpoints"];
/// assert_eq!(individuals["rootUrl"], "https://beacon.example.org/api/individuals");
/// assert_eq!(
///     individuals["endpoints"]["genomicVariantLookup"]["url"],
///     "https://beacon.example.org/api/individuals/{id}/g_variants"
/// );
/// // Routes to unsupported entry types are left out.
/// assert!(individuals["endpoints"].get("biosampleLookup").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconFramework<'a> {
    /// The beacon's id.
    pub beacon_id: &'a str,
    /// The absolute URL of the beacon's root (no trailing slash needed).
    pub base_url: &'a str,
    /// The entry types served.
    pub entry_types: &'a [EntryType],
    /// The nested routes served (those between served entry types are listed).
    pub nested_routes: &'a [NestedRoute],
    /// The entry types that answer unfiltered queries.
    pub non_filtered_queries_allowed: &'a [EntryType],
    /// The maturity.
    pub production_status: ProductionStatus,
    /// The security settings.
    pub security: SecurityAttributes,
}

impl BeaconFramework<'_> {
    fn root(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    fn served(&self, entry_type: EntryType) -> bool {
        self.entry_types.contains(&entry_type)
    }

    /// The definition of one entry type.
    #[must_use]
    pub fn entry_type_definition(&self, entry_type: EntryType) -> EntryTypeDefinition {
        EntryTypeDefinition {
            id: entry_type.id().to_owned(),
            name: entry_type.name().to_owned(),
            description: entry_type.description().to_owned(),
            ontology_term_for_this_type: entry_type.ontology_term(),
            part_of_specification: format!("Beacon {API_VERSION}"),
            default_schema: SchemaReference {
                id: entry_type.default_schema_id(),
                name: entry_type.default_schema_name().to_owned(),
                reference_to_schema_definition: entry_type.default_schema_url(),
                schema_version: DEFAULT_SCHEMA_VERSION,
            },
            additionally_supported_schemas: Vec::new(),
            non_filtered_queries_allowed: self.non_filtered_queries_allowed.contains(&entry_type),
            a_collection_of: entry_type
                .collection_of()
                .iter()
                .filter(|t| self.served(**t))
                .map(|t| BasicElement {
                    id: t.id().to_owned(),
                    name: t.name().to_owned(),
                })
                .collect(),
        }
    }

    fn definitions(&self) -> BTreeMap<String, EntryTypeDefinition> {
        self.entry_types
            .iter()
            .map(|t| (t.id().to_owned(), self.entry_type_definition(*t)))
            .collect()
    }

    /// The `/entry_types` document.
    #[must_use]
    pub fn entry_types(&self) -> BeaconEntryTypesResponse {
        InformationalResponse {
            meta: InformationalMeta::new(self.beacon_id),
            response: EntryTypes {
                entry_types: self.definitions(),
            },
        }
    }

    /// The `/configuration` document.
    #[must_use]
    pub fn configuration(&self) -> BeaconConfigurationResponse {
        InformationalResponse {
            meta: InformationalMeta::new(self.beacon_id),
            response: BeaconConfiguration {
                schema: CONFIGURATION_SCHEMA_URL,
                maturity_attributes: MaturityAttributes {
                    production_status: self.production_status,
                },
                security_attributes: self.security.clone(),
                entry_types: self.definitions(),
            },
        }
    }

    /// The `/map` document: one endpoint set per served entry type with its root and
    /// single-entry URLs, and the nested routes whose both ends are served.
    #[must_use]
    pub fn map(&self) -> BeaconMapResponse {
        let root = self.root();
        let endpoint_sets = self
            .entry_types
            .iter()
            .map(|&entry_type| {
                let endpoints = self
                    .nested_routes
                    .iter()
                    .filter(|r| r.from == entry_type && self.served(r.to))
                    .map(|r| {
                        (
                            format!("{}Lookup", r.to.id()),
                            RelatedEndpoint {
                                url: format!("{root}{}", r.path_template()),
                                returned_entry_type: r.to,
                            },
                        )
                    })
                    .collect();
                let root_url = format!("{root}/{}", entry_type.path_segment());
                (
                    format!("{}Endpoints", entry_type.id()),
                    EndpointSet {
                        entry_type,
                        single_entry_url: format!("{root_url}/{{id}}"),
                        root_url,
                        endpoints,
                    },
                )
            })
            .collect();
        InformationalResponse {
            meta: InformationalMeta::new(self.beacon_id),
            response: BeaconMap {
                schema: MAP_SCHEMA_URL,
                endpoint_sets,
            },
        }
    }
}

/// `sections/beaconFilteringTermsResults.json#/$defs/FilteringTermInResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilteringTerm {
    /// `alphanumeric`, `custom`, or the ontology's full name (`Human Phenotype Ontology`).
    #[serde(rename = "type")]
    pub term_type: String,
    /// The term or field id.
    pub id: String,
    /// The preferred label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The entry types the filter applies to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<EntryType>,
    /// For alphanumeric filters, the possible values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl FilteringTerm {
    /// An ontology term; `ontology_name` is the ontology's full name.
    #[must_use]
    pub fn ontology(term: &OntologyTerm, ontology_name: &str, scopes: Vec<EntryType>) -> Self {
        Self {
            term_type: ontology_name.to_owned(),
            id: term.id().to_owned(),
            label: term.label().map(str::to_owned),
            scopes,
            values: Vec::new(),
        }
    }

    /// An alphanumeric field, with its possible values if it has a closed list.
    #[must_use]
    pub fn alphanumeric(
        id: &str,
        label: Option<&str>,
        scopes: Vec<EntryType>,
        values: Vec<String>,
    ) -> Self {
        Self {
            term_type: "alphanumeric".to_owned(),
            id: id.to_owned(),
            label: label.map(str::to_owned),
            scopes,
            values,
        }
    }

    /// A custom term of this beacon.
    #[must_use]
    pub fn custom(id: &str, label: Option<&str>, scopes: Vec<EntryType>) -> Self {
        Self {
            term_type: "custom".to_owned(),
            id: id.to_owned(),
            label: label.map(str::to_owned),
            scopes,
            values: Vec::new(),
        }
    }
}

/// `sections/beaconFilteringTermsResults.json#/$defs/Resource`: an ontology used by filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// The OBO id (`hp`).
    pub id: String,
    /// The name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The URL of the ontology.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The version used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The CURIE prefix (`HP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_space_prefix: Option<String>,
    /// The IRI prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iri_prefix: Option<String>,
}

/// `sections/beaconFilteringTermsResults.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteringTermsResults {
    /// The terms.
    pub filtering_terms: Vec<FilteringTerm>,
    /// The ontologies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
}

/// A page of `/filtering_terms`: the spec's `skip` and `limit` (GET parameters, or a POST body's
/// `query.pagination`). Without `limit`, or with `limit` 0, every term from `skip` on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TermsPage {
    /// Terms skipped.
    pub skip: usize,
    /// At most this many; `None` for all.
    pub limit: Option<usize>,
}

impl TermsPage {
    /// Reads the GET parameters: only `skip` and `limit`, each a non-negative integer. Errors
    /// name what is wrong, never the caller's input.
    ///
    /// # Errors
    /// [`BeaconError`] 400: another parameter, or a value that is not a non-negative integer.
    pub fn from_get(pairs: &[(String, String)]) -> Result<Self, crate::BeaconError> {
        let mut page = Self::default();
        for (name, value) in pairs {
            let number = || {
                value.parse::<usize>().map_err(|_| {
                    crate::BeaconError::bad_request(
                        crate::ErrorKind::InvalidValue,
                        "skip and limit are non-negative integers",
                    )
                })
            };
            match name.as_str() {
                "skip" => page.skip = number()?,
                "limit" => page.limit = Some(number()?).filter(|l| *l > 0),
                _ => {
                    return Err(crate::BeaconError::bad_request(
                        crate::ErrorKind::UnknownParameter,
                        "/filtering_terms takes only skip and limit",
                    ));
                }
            }
        }
        Ok(page)
    }

    /// Reads `query.pagination` of a POST body (absent: every term).
    ///
    /// # Errors
    /// [`BeaconError`] 400: `skip` or `limit` that is not a non-negative integer.
    pub fn from_post(body: &Value) -> Result<Self, crate::BeaconError> {
        let Some(pagination) = body.pointer("/query/pagination") else {
            return Ok(Self::default());
        };
        let bad = || {
            crate::BeaconError::bad_request(
                crate::ErrorKind::InvalidValue,
                "query.pagination.skip and limit are non-negative integers",
            )
        };
        let number = |key: &str| -> Result<Option<usize>, crate::BeaconError> {
            match pagination.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(bad),
            }
        };
        if !pagination.is_object() {
            return Err(bad());
        }
        Ok(Self {
            skip: number("skip")?.unwrap_or(0),
            limit: number("limit")?.filter(|l| *l > 0),
        })
    }
}

impl FilteringTermsResults {
    /// Keeps the terms of `page` only (the resources stay: they describe the ontologies).
    pub fn keep_page(&mut self, page: TermsPage) {
        let terms = std::mem::take(&mut self.filtering_terms);
        self.filtering_terms = terms
            .into_iter()
            .skip(page.skip)
            .take(page.limit.unwrap_or(usize::MAX))
            .collect();
    }
}

/// The `/filtering_terms` document.
#[must_use]
pub fn filtering_terms_response(
    beacon_id: &str,
    filtering_terms: Vec<FilteringTerm>,
    resources: Vec<Resource>,
) -> BeaconFilteringTermsResponse {
    InformationalResponse {
        meta: InformationalMeta::new(beacon_id),
        response: FilteringTermsResults {
            filtering_terms,
            resources,
        },
    }
}
