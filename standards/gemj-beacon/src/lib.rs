//! The GA4GH Beacon v2.2.0 wire layer: everything about the standard, nothing about data.
//!
//! This crate owns:
//!
//! - **requests** ([`request`]): one normalized [`BeaconQuery`] for GET query strings and POST
//!   `beaconRequestBody`s, validated against [`QueryLimits`] in the same step, with the variant
//!   query kinds of the spec (sequence, range, bracket, gene, HGVS allele, amino-acid change),
//!   filters, pagination, granularity and typed 400 errors ([`BeaconError`]);
//! - **reference names** ([`reference`]) and **HGVS** ([`hgvs`]): RefSeq accessions of GRCh38 and
//!   GRCh37 mapped to `chr1`…`chrM`, assembly synonyms, genomic HGVS parsed to coordinates;
//! - **responses** ([`response`]): `meta` with the received request summary, boolean, count
//!   (with 2.2.0's `countPrecision`/`countAdjustedTo`), result-set, collections and error
//!   responses;
//! - **framework documents** ([`framework`]): `/info`, `/configuration`, `/map`,
//!   `/entry_types`, `/filtering_terms`, from the entry types ([`EntryType`]) and nested routes
//!   a beacon serves;
//! - **records** ([`records`]): individuals, biosamples, genomic variations, datasets, cohorts,
//!   analyses and runs of the default model, each built from plain values and valid against
//!   its official schema.
//!
//! It has no I/O, no async and no database: the server turns HTTP into `&[(String, String)]`
//! or a `serde_json::Value`, asks its store for data, and hands the answer back here to be
//! dressed. Which granularity a caller gets, count rounding, minimum cohort sizes and
//! wildcard or range-width limits are policy, decided in gemj-core; this crate gives it the
//! helpers ([`Granularity`]'s order, [`BeaconQuery::has_wildcard`],
//! [`BeaconQuery::range_width`], [`Count`]).
//!
//! # Choices the spec leaves open
//!
//! Published in `/info` through [`QueryLimits::implementation_notes`] and
//! [`BeaconInfo::set_implementation_notes`]:
//!
//! - `skip` counts **records**, not pages ([`SKIP_UNIT`]);
//! - `limit` defaults to 10 ([`DEFAULT_LIMIT`], configurable), `limit=0` means the beacon's
//!   maximum, a larger `limit` is a 400;
//! - GET accepts `geneId` and `geneid`, `genomicAlleleShortForm` and `allele`;
//! - POST `requestParameters` may be flat or `{"g_variant": {...}}`-wrapped (and may carry
//!   `"datasets": {"datasetIds": [...]}`); the received-request summary echoes the wrapped shape,
//!   the one the response schema accepts;
//! - coordinates are 0-based, `end` exclusive (the spec's); a range needs `start < end`;
//! - `requestedGranularity` is `boolean`, `count` or `record` (v2.2.0 has no `aggregated`);
//! - unknown or repeated parameters are errors, never ignored: a misspelt parameter would
//!   widen a query;
//! - counts state their `countPrecision` always, because the schema's default is `imprecise`.
//!
//! See the [`request`] module for the full list.
//!
//! # Examples
//!
//! ```
//! use gemj_beacon::*;
//!
//! let limits = QueryLimits::default();
//! let pairs = [
//!     ("allele".to_owned(), "NC_000001.11:g.12345A>G".to_owned()),
//!     ("requestedGranularity".to_owned(), "record".to_owned()),
//! ];
//! let query = BeaconQuery::from_get(&pairs, EntryType::GenomicVariant, &limits)?;
//!
//! // The server decides what this caller may see, asks its store, and answers.
//! let granularity = query.requested_granularity.min(Granularity::Count);
//! let meta = ResponseMeta::new("org.example.beacon", &query, granularity);
//! let response: EntryResponse = EntryResponse::new(meta, true, Count::exact(2), vec![]);
//! let json = serde_json::to_value(&response).unwrap();
//! assert_eq!(json["meta"]["returnedGranularity"], "count");
//! assert_eq!(json["responseSummary"]["numTotalResults"], 2);
//! assert_eq!(
//!     json["meta"]["receivedRequestSummary"]["requestParameters"]["g_variant"]["genomicAlleleShortForm"],
//!     "NC_000001.11:g.12345A>G"
//! );
//! # Ok::<(), BeaconError>(())
//! ```

pub mod common;
pub mod entry_type;
pub mod error;
pub mod framework;
pub mod hgvs;
pub mod records;
pub mod reference;
pub mod request;
pub mod response;
pub mod variant_type;

pub use common::{
    Count, CountAdjustedTo, CountPrecision, Granularity, Handover, IncludeResultsetResponses,
    OntologyTerm, Pagination, SchemaPerEntity, is_curie,
};
pub use entry_type::{
    DEFAULT_MODEL_URL, DEFAULT_SCHEMA_VERSION, EntryType, NestedRoute, SPEC_NESTED_ROUTES,
};
pub use error::{BeaconError, ErrorKind};
pub use framework::{
    BeaconConfiguration, BeaconConfigurationResponse, BeaconEntryTypesResponse,
    BeaconFilteringTermsResponse, BeaconFramework, BeaconInfo, BeaconInfoResponse, BeaconMap,
    BeaconMapResponse, BeaconOrganization, EntryTypeDefinition, Environment, FilteringTerm,
    InformationalResponse, ProductionStatus, Resource, SecurityAttributes, SecurityLevel,
    TermsPage, filtering_terms_response,
};
pub use hgvs::{AlleleChange, GenomicAllele, Hgvs};
pub use records::{
    Age, AgeRange, Analysis, Biosample, CaseLevelVariant, ClinvarId, Cohort, CohortCriteria,
    CohortType, DataUseConditions, Dataset, Disease, DuoDataUse, ExternalReference,
    FrequencyInPopulations, GenomicVariation, Identifiers, Individual, IsoDate, LibraryLayout,
    MolecularAttributes, PhenotypicFeature, PopulationFrequency, Run, Sex, Timestamp, VariantLocus,
    Variation, genomic_hgvs_id, infer_variant_type, terms,
};
pub use reference::{Assembly, ReferenceName};
pub use request::{
    API_VERSION, BASES_PATTERN, Bases, BeaconQuery, DEFAULT_LIMIT, Filter, FilterKind,
    GET_PARAMETERS, ImplementationNotes, MAX_COORDINATE, Operator, QueryLimits, SKIP_UNIT,
    Similarity, VariantQuery, VariantQueryKind,
};
pub use response::{
    BeaconBooleanResponse, BeaconCollectionsResponse, BeaconCountResponse, BeaconErrorResponse,
    BeaconResultsetsResponse, EntryResponse, InformationalMeta, QueryResponse,
    ReceivedRequestSummary, Record, ResponseMeta, ResultSet,
};
pub use variant_type::{VariantClass, VariantType};
