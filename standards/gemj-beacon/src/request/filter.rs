//! Filters (`framework/json/requests/filteringTerms.json`): ontology, alphanumeric and custom
//! filters, from GET's comma-separated ids and POST's objects or strings. Filters are combined
//! with AND (the schema's description).

use std::fmt;

use serde_json::Value;

use crate::entry_type::EntryType;
use crate::error::BeaconError;

/// One filter of a query.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{Filter, FilterKind, Similarity};
///
/// let filter = Filter::from_id("HP:0001250")?;
/// assert_eq!(
///     filter.kind,
///     FilterKind::Ontology { similarity: Similarity::Exact, include_descendant_terms: true }
/// );
/// assert!(matches!(Filter::from_id("demographic.ethnicity:asian")?.kind, FilterKind::Custom));
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Filter {
    /// The term id (ontology, custom) or the field id (alphanumeric).
    pub id: String,
    /// What kind of filter, with its kind-specific settings.
    pub kind: FilterKind,
    /// The entry type the filter applies to, when the query scoped it.
    pub scope: Option<EntryType>,
}

/// The three filter kinds of `filteringTerms.json`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FilterKind {
    /// `OntologyFilter`: records annotated with the term (and, by default, its descendants).
    Ontology {
        /// How close a match must be (default `exact`).
        similarity: Similarity,
        /// Whether descendants of the term match too (default `true`).
        include_descendant_terms: bool,
    },
    /// `AlphanumericFilter`: a field compared with a value.
    Alphanumeric {
        /// The comparison (default `=`).
        operator: Operator,
        /// The value; `%` is a wildcard for any number of characters.
        value: String,
    },
    /// `CustomFilter`: a term this beacon defines.
    Custom,
}

/// `AlphanumericFilter.operator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`
    Equal,
    /// `<`
    Less,
    /// `>`
    Greater,
    /// `!` (not equal)
    NotEqual,
    /// `>=`
    GreaterOrEqual,
    /// `<=`
    LessOrEqual,
}

impl Operator {
    /// Every operator.
    pub const ALL: [Self; 6] = [
        Self::Equal,
        Self::Less,
        Self::Greater,
        Self::NotEqual,
        Self::GreaterOrEqual,
        Self::LessOrEqual,
    ];

    /// The spec's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::Less => "<",
            Self::Greater => ">",
            Self::NotEqual => "!",
            Self::GreaterOrEqual => ">=",
            Self::LessOrEqual => "<=",
        }
    }

    /// Parses the spec's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `OntologyFilter.similarity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Similarity {
    /// Exact matches only (the default).
    #[default]
    Exact,
    /// High similarity.
    High,
    /// Medium similarity.
    Medium,
    /// Low similarity.
    Low,
}

impl Similarity {
    /// Every value.
    pub const ALL: [Self; 4] = [Self::Exact, Self::High, Self::Medium, Self::Low];

    /// The spec's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }

    /// Parses the spec's spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl Filter {
    /// A filter given by id alone (GET `filters=`, or a string in POST `filters`): an ontology
    /// filter with the defaults when the id is an ontology CURIE ([`is_ontology_curie`]), a
    /// custom filter otherwise.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidValue`](crate::ErrorKind::InvalidValue) for an empty id.
    pub fn from_id(id: &str) -> Result<Self, BeaconError> {
        if id.is_empty() {
            return Err(BeaconError::invalid("a filter id is empty"));
        }
        Ok(Self {
            id: id.to_owned(),
            kind: default_kind(id),
            scope: None,
        })
    }

    /// A filter from one item of POST `query.filters` (a string or an object with `id`,
    /// `operator`, `value`, `similarity`, `includeDescendantTerms`, `scope`).
    ///
    /// An object with a `value` is an alphanumeric filter (operator default `=`); an `operator`
    /// without a `value` is an error. Without a value the id decides, as in [`Filter::from_id`].
    /// `similarity` and `includeDescendantTerms` are read for ontology filters and ignored on
    /// the others. Unknown members are errors (a misspelt member would silently widen the
    /// query).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidValue`](crate::ErrorKind::InvalidValue) for wrong types and values,
    /// [`ErrorKind::UnknownParameter`](crate::ErrorKind::UnknownParameter) for unknown members.
    pub fn from_json(item: &Value) -> Result<Self, BeaconError> {
        let object = match item {
            Value::String(id) => return Self::from_id(id),
            Value::Object(object) => object,
            _ => {
                return Err(BeaconError::invalid(
                    "each item of `query.filters` must be a string or an object",
                ));
            }
        };
        for key in object.keys() {
            if !matches!(
                key.as_str(),
                "id" | "operator" | "value" | "similarity" | "includeDescendantTerms" | "scope"
            ) {
                return Err(BeaconError::unknown(
                    "a filter object has a member the spec does not define (allowed: id, operator, value, similarity, includeDescendantTerms, scope)",
                ));
            }
        }
        let text = |key: &str| -> Result<Option<&str>, BeaconError> {
            match object.get(key) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(BeaconError::invalid(format!(
                    "filter member `{key}` must be a string"
                ))),
            }
        };
        let id =
            text("id")?.ok_or_else(|| BeaconError::invalid("a filter object needs an `id`"))?;
        let mut filter = Self::from_id(id)?;
        if let Some(scope) = text("scope")? {
            filter.scope = Some(EntryType::from_scope(scope).ok_or_else(|| {
                BeaconError::invalid("a filter's `scope` is not an entry type (use one such as individual or biosamples)")
            })?);
        }
        let operator = text("operator")?
            .map(|op| {
                Operator::parse(op).ok_or_else(|| {
                    BeaconError::invalid("a filter's `operator` must be =, <, >, !, >= or <=")
                })
            })
            .transpose()?;
        match (text("value")?, operator) {
            (Some(value), operator) => {
                filter.kind = FilterKind::Alphanumeric {
                    operator: operator.unwrap_or(Operator::Equal),
                    value: value.to_owned(),
                };
                return Ok(filter);
            }
            (None, Some(_)) => {
                return Err(BeaconError::invalid(
                    "a filter has an `operator` but no `value`",
                ));
            }
            (None, None) => {}
        }
        if let FilterKind::Ontology {
            similarity,
            include_descendant_terms,
        } = &mut filter.kind
        {
            if let Some(s) = text("similarity")? {
                *similarity = Similarity::parse(s).ok_or_else(|| {
                    BeaconError::invalid(
                        "a filter's `similarity` must be exact, high, medium or low",
                    )
                })?;
            }
            match object.get("includeDescendantTerms") {
                None => {}
                Some(Value::Bool(b)) => *include_descendant_terms = *b,
                Some(_) => {
                    return Err(BeaconError::invalid(
                        "a filter's `includeDescendantTerms` must be true or false",
                    ));
                }
            }
        }
        Ok(filter)
    }

    /// The filter as `receivedRequestSummary.filters` lists it (an array of strings in the
    /// schema): the id, or `id`, operator and value run together for alphanumeric filters
    /// (`age>=P70Y`).
    #[must_use]
    pub fn summary(&self) -> String {
        match &self.kind {
            FilterKind::Alphanumeric { operator, value } => format!("{}{operator}{value}", self.id),
            FilterKind::Ontology { .. } | FilterKind::Custom => self.id.clone(),
        }
    }
}

fn default_kind(id: &str) -> FilterKind {
    if is_ontology_curie(id) {
        FilterKind::Ontology {
            similarity: Similarity::Exact,
            include_descendant_terms: true,
        }
    } else {
        FilterKind::Custom
    }
}

/// Whether a filter id names an ontology term: a CURIE ([`crate::is_curie`]) whose prefix is
/// letters, digits and underscores (`HP`, `NCIT`, `ICD10`, `Orphanet`), so that custom ids such
/// as `demographic.ethnicity:asian` are not taken for ontology terms.
#[must_use]
pub fn is_ontology_curie(id: &str) -> bool {
    crate::common::is_curie(id)
        && id.split(':').next().is_some_and(|prefix| {
            prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}
