//! The seven entry types of the Beacon v2 default model and their names in the standard:
//! entry type id, endpoint path segment, default schema, ontology term, collection or not.
//! The names, descriptions and ontology terms are the official
//! `models/json/beacon-v2-default-model/beaconConfiguration.json`'s.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::common::OntologyTerm;

/// Where the official default model schemas are published (the `$ref` base the v2.2.0 schemas
/// themselves use).
pub const DEFAULT_MODEL_URL: &str = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/beacon-v2-default-model";

/// The version of the default model schemas this crate builds records for.
pub const DEFAULT_SCHEMA_VERSION: &str = "v2.2.0";

/// A Beacon v2 default-model entry type.
///
/// # Examples
///
/// ```
/// use gemj_beacon::EntryType;
///
/// let variant = EntryType::GenomicVariant;
/// assert_eq!(variant.id(), "genomicVariant");
/// assert_eq!(variant.path_segment(), "g_variants");
/// assert_eq!(variant.default_schema_id(), "ga4gh-beacon-variant-v2.2.0");
/// assert!(!variant.is_collection());
/// assert_eq!(EntryType::from_path_segment("datasets"), Some(EntryType::Dataset));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryType {
    /// `dataset` (`/datasets`), a collection.
    Dataset,
    /// `cohort` (`/cohorts`), a collection.
    Cohort,
    /// `individual` (`/individuals`).
    Individual,
    /// `biosample` (`/biosamples`).
    Biosample,
    /// `genomicVariant` (`/g_variants`).
    GenomicVariant,
    /// `analysis` (`/analyses`).
    Analysis,
    /// `run` (`/runs`).
    Run,
}

impl EntryType {
    /// Every entry type, in the order the official configuration lists them (collections first).
    pub const ALL: [Self; 7] = [
        Self::Dataset,
        Self::Cohort,
        Self::Individual,
        Self::Biosample,
        Self::GenomicVariant,
        Self::Analysis,
        Self::Run,
    ];

    /// The entry type id (`beaconConfiguration.json` `entryTypes` keys).
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Self::Dataset => "dataset",
            Self::Cohort => "cohort",
            Self::Individual => "individual",
            Self::Biosample => "biosample",
            Self::GenomicVariant => "genomicVariant",
            Self::Analysis => "analysis",
            Self::Run => "run",
        }
    }

    /// The endpoint path segment (`/individuals`, `/g_variants`, ...).
    #[must_use]
    pub const fn path_segment(self) -> &'static str {
        match self {
            Self::Dataset => "datasets",
            Self::Cohort => "cohorts",
            Self::Individual => "individuals",
            Self::Biosample => "biosamples",
            Self::GenomicVariant => "g_variants",
            Self::Analysis => "analyses",
            Self::Run => "runs",
        }
    }

    /// The folder of the default model (`genomicVariations` for variants).
    #[must_use]
    pub const fn model_folder(self) -> &'static str {
        match self {
            Self::GenomicVariant => "genomicVariations",
            other => other.path_segment(),
        }
    }

    /// The human-readable name of the official configuration.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Dataset => "Dataset",
            Self::Cohort => "Cohort",
            Self::Individual => "Individual",
            Self::Biosample => "Biological Sample",
            Self::GenomicVariant => "Genomic Variants",
            Self::Analysis => "Bioinformatics analysis",
            Self::Run => "Sequencing run",
        }
    }

    /// The description of the official configuration.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::Dataset => {
                "A Dataset is a collection of related sets of information, e.g. genomic variations together with associated procedural and biological metadata."
            }
            Self::Cohort => {
                "A group of individuals, identified by a common characteristic. [ NCI ]"
            }
            Self::Individual => {
                "A human being. It could be a Patient, a Tissue Donor, a Participant, a Human Study Subject, etc."
            }
            Self::Biosample => {
                "Any material sample taken from a biological entity for testing, diagnostic, propagation, treatment or research purposes. [ NCI ]"
            }
            Self::GenomicVariant => "The location of a sequence.",
            Self::Analysis => "Apply analytical methods to existing data of a specific type.",
            Self::Run => {
                "The valid and completed operation of a high-throughput sequencing instrument for a single sequencing process. [ NCI ]"
            }
        }
    }

    /// The ontology term for the entry type (`ontologyTermForThisType`).
    #[must_use]
    pub const fn ontology_term(self) -> OntologyTerm {
        match self {
            Self::Dataset => OntologyTerm::known("NCIT:C47824", "Data set"),
            Self::Cohort => OntologyTerm::known("NCIT:C61512", "Cohort"),
            Self::Individual => OntologyTerm::known("NCIT:C25190", "Person"),
            Self::Biosample => OntologyTerm::known("NCIT:C70699", "Biospecimen"),
            Self::GenomicVariant => OntologyTerm::known("ENSGLOSSARY:0000092", "Variant"),
            Self::Analysis => OntologyTerm::known("edam:operation_2945", "Analysis"),
            Self::Run => OntologyTerm::known("NCIT:C148088", "Sequencing run"),
        }
    }

    /// The id of the default schema (`ga4gh-beacon-individual-v2.2.0`; `variant` for genomic
    /// variants, as in the official configuration). This is what `returnedSchemas` names.
    #[must_use]
    pub fn default_schema_id(self) -> String {
        let stem = match self {
            Self::GenomicVariant => "variant",
            other => other.id(),
        };
        format!("ga4gh-beacon-{stem}-{DEFAULT_SCHEMA_VERSION}")
    }

    /// The name of the default schema, as in the official configuration.
    #[must_use]
    pub const fn default_schema_name(self) -> &'static str {
        match self {
            Self::Dataset => "Default schema for datasets",
            Self::Cohort => "Default schema for cohorts",
            Self::Individual => "Default schema for an individual",
            Self::Biosample => "Default schema for a biological sample",
            Self::GenomicVariant => "Default schema for a genomic variation",
            Self::Analysis => "Default schema for a bioinformatics analysis",
            Self::Run => "Default schema for a sequencing run",
        }
    }

    /// The URL of the official default schema (`referenceToSchemaDefinition`).
    #[must_use]
    pub fn default_schema_url(self) -> String {
        format!(
            "{DEFAULT_MODEL_URL}/{}/defaultSchema.json",
            self.model_folder()
        )
    }

    /// The path of the default schema relative to the shared `schemas/` folder (for tests that
    /// validate against the local copy).
    #[must_use]
    pub fn default_schema_path(self) -> String {
        format!(
            "beacon-v2/v2.2.0/models/json/beacon-v2-default-model/{}/defaultSchema.json",
            self.model_folder()
        )
    }

    /// Whether the entry type is a collection (datasets and cohorts): its records are listed
    /// in a `beaconCollectionsResponse` and its ids name result sets (`setType`).
    #[must_use]
    pub const fn is_collection(self) -> bool {
        matches!(self, Self::Dataset | Self::Cohort)
    }

    /// For collections, the entry types they may collect (`aCollectionOf`); empty otherwise.
    #[must_use]
    pub const fn collection_of(self) -> &'static [Self] {
        match self {
            Self::Dataset => &[
                Self::Individual,
                Self::Biosample,
                Self::GenomicVariant,
                Self::Analysis,
                Self::Run,
            ],
            Self::Cohort => &[Self::Individual],
            _ => &[],
        }
    }

    /// The entry type with this id.
    #[must_use]
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The entry type with this path segment.
    #[must_use]
    pub fn from_path_segment(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.path_segment() == segment)
    }

    /// The entry type a filter `scope` or filtering-term `scopes` entry names: the id
    /// (`individual`), the path segment (`individuals`), or the spellings the spec's own
    /// examples use for variants (`genomicVariation`, `genomicVariations`, `g_variant`).
    #[must_use]
    pub fn from_scope(scope: &str) -> Option<Self> {
        Self::from_id(scope)
            .or_else(|| Self::from_path_segment(scope))
            .or(match scope {
                "genomicVariation" | "genomicVariations" | "g_variant" | "genomicVariants" => {
                    Some(Self::GenomicVariant)
                }
                _ => None,
            })
    }
}

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for EntryType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// A nested route: `/{from}/{id}/{to}` lists the `to` entries linked to one `from` entry
/// (e.g. `/individuals/{id}/g_variants`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NestedRoute {
    /// The entry type of the `{id}`.
    pub from: EntryType,
    /// The entry type returned.
    pub to: EntryType,
}

impl NestedRoute {
    /// The route's path template relative to the beacon root, e.g. `/individuals/{id}/g_variants`.
    #[must_use]
    pub fn path_template(self) -> String {
        format!(
            "/{}/{{id}}/{}",
            self.from.path_segment(),
            self.to.path_segment()
        )
    }
}

/// The nested routes the official v2.2.0 default-model `endpoints.json` files define.
pub const SPEC_NESTED_ROUTES: &[NestedRoute] = &[
    route(EntryType::Dataset, EntryType::Individual),
    route(EntryType::Dataset, EntryType::Biosample),
    route(EntryType::Dataset, EntryType::GenomicVariant),
    route(EntryType::Cohort, EntryType::Individual),
    route(EntryType::Individual, EntryType::Biosample),
    route(EntryType::Individual, EntryType::GenomicVariant),
    route(EntryType::Biosample, EntryType::GenomicVariant),
    route(EntryType::Biosample, EntryType::Analysis),
    route(EntryType::Biosample, EntryType::Run),
    route(EntryType::GenomicVariant, EntryType::Biosample),
    route(EntryType::GenomicVariant, EntryType::Individual),
    route(EntryType::Run, EntryType::GenomicVariant),
    route(EntryType::Run, EntryType::Analysis),
    route(EntryType::Analysis, EntryType::GenomicVariant),
];

const fn route(from: EntryType, to: EntryType) -> NestedRoute {
    NestedRoute { from, to }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::is_curie;

    #[test]
    fn names_round_trip() {
        for t in EntryType::ALL {
            assert_eq!(EntryType::from_id(t.id()), Some(t));
            assert_eq!(EntryType::from_path_segment(t.path_segment()), Some(t));
            assert_eq!(EntryType::from_scope(t.path_segment()), Some(t));
            assert!(is_curie(t.ontology_term().id()), "{t}");
        }
        assert_eq!(
            EntryType::from_scope("genomicVariation"),
            Some(EntryType::GenomicVariant)
        );
        assert_eq!(EntryType::from_scope("patients"), None);
    }

    #[test]
    fn nested_routes_match_the_spec_paths() {
        let paths: Vec<String> = SPEC_NESTED_ROUTES
            .iter()
            .map(|r| r.path_template())
            .collect();
        assert!(paths.contains(&"/individuals/{id}/g_variants".to_owned()));
        assert!(paths.contains(&"/g_variants/{id}/biosamples".to_owned()));
        assert_eq!(paths.len(), 14);
    }
}
