//! The small shared components of `framework/json/common/beaconCommonComponents.json` and
//! `common/ontologyTerm.json`: granularity, result-set inclusion, ontology terms, requested
//! schemas, pagination, counts and handovers.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU64;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::BeaconError;

/// `beaconCommonComponents.json#/$defs/Granularity`: the level of detail of a response.
///
/// The v2.2.0 enum is `boolean`, `count`, `record` (there is no `aggregated`). The order is the
/// order of detail, so a ceiling is `requested.min(allowed)`.
///
/// # Examples
///
/// ```
/// use gemj_beacon::Granularity;
///
/// assert!(Granularity::Boolean < Granularity::Count);
/// assert_eq!(Granularity::Record.min(Granularity::Count), Granularity::Count);
/// assert_eq!(Granularity::parse("record"), Some(Granularity::Record));
/// assert_eq!(Granularity::parse("aggregated"), None);
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// `exists` only (the schema's default).
    #[default]
    Boolean,
    /// `exists` and the number of matches.
    Count,
    /// The matching records.
    Record,
}

impl Granularity {
    /// Every value, least detailed first.
    pub const ALL: [Self; 3] = [Self::Boolean, Self::Count, Self::Record];

    /// The spec's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Count => "count",
            Self::Record => "record",
        }
    }

    /// Parses the spec's spelling (exact, lower case).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `beaconCommonComponents.json#/$defs/IncludeResultsetResponses`: which result sets a record
/// response lists. The default is `HIT`.
///
/// # Examples
///
/// ```
/// use gemj_beacon::IncludeResultsetResponses;
///
/// assert!(IncludeResultsetResponses::Hit.keeps(true));
/// assert!(!IncludeResultsetResponses::Hit.keeps(false));
/// assert!(IncludeResultsetResponses::Miss.keeps(false));
/// assert!(!IncludeResultsetResponses::None.keeps(true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IncludeResultsetResponses {
    /// Every result set.
    All,
    /// Result sets with matches (the default).
    #[default]
    Hit,
    /// Result sets without matches.
    Miss,
    /// No result sets.
    None,
}

impl IncludeResultsetResponses {
    /// Every value.
    pub const ALL: [Self; 4] = [Self::All, Self::Hit, Self::Miss, Self::None];

    /// The spec's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::None => "NONE",
        }
    }

    /// Parses the spec's spelling (exact, upper case).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether a result set whose `exists` is `exists` is listed.
    #[must_use]
    pub const fn keeps(self, exists: bool) -> bool {
        match self {
            Self::All => true,
            Self::Hit => exists,
            Self::Miss => !exists,
            Self::None => false,
        }
    }
}

/// `common/ontologyTerm.json`: an ontology term, `id` a CURIE (`^\w[^:]+:.+$`) and an optional
/// label.
///
/// # Examples
///
/// ```
/// use gemj_beacon::OntologyTerm;
///
/// let term = OntologyTerm::new("HP:0001250", Some("Seizure"))?;
/// assert_eq!(term.id(), "HP:0001250");
/// assert!(OntologyTerm::new("seizure", None::<&str>).is_err());
/// # Ok::<(), gemj_beacon::BeaconError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct OntologyTerm {
    id: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<Cow<'static, str>>,
}

impl OntologyTerm {
    /// A term; the id must be a CURIE as the schema's pattern `^\w[^:]+:.+$` defines it
    /// (a prefix of at least two characters).
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::InvalidValue`] when the id is not a CURIE.
    pub fn new(
        id: impl Into<String>,
        label: Option<impl Into<String>>,
    ) -> Result<Self, BeaconError> {
        let id = id.into();
        if !is_curie(&id) {
            return Err(BeaconError::invalid(format!(
                "ontology term id `{id}` is not a CURIE (PREFIX:local)"
            )));
        }
        Ok(Self {
            id: Cow::Owned(id),
            label: label.map(|l| Cow::Owned(l.into())),
        })
    }

    /// A curated term of this crate (checked by the crate's tests).
    pub(crate) const fn known(id: &'static str, label: &'static str) -> Self {
        Self {
            id: Cow::Borrowed(id),
            label: Some(Cow::Borrowed(label)),
        }
    }

    /// The CURIE.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The label, if any.
    #[must_use]
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }
}

/// Whether `s` matches `beaconCommonComponents.json#/$defs/CURIE` (`^\w[^:]+:.+$`): a word
/// character, at least one more character before the first colon, and at least one after it
/// (no line breaks).
///
/// # Examples
///
/// ```
/// assert!(gemj_beacon::is_curie("NCIT:C16576"));
/// assert!(gemj_beacon::is_curie("demographic.ethnicity:asian"));
/// assert!(!gemj_beacon::is_curie("X:1"));
/// assert!(!gemj_beacon::is_curie("age"));
/// ```
#[must_use]
pub fn is_curie(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return false;
    }
    if s.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
        return false;
    }
    match s.find(':') {
        Some(colon) => colon >= 2 && colon + 1 < s.len(),
        None => false,
    }
}

/// `beaconCommonComponents.json#/$defs/SchemasPerEntity`: a schema requested or returned for
/// an entity type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaPerEntity {
    /// The entity type (`individual`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    /// The schema id or URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// `beaconCommonComponents.json#/$defs/Pagination` as this crate interprets it: `skip` counts
/// **records** (not pages, see [`crate::SKIP_UNIT`]), `limit` is the page size after defaults
/// and the beacon's maximum are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Pagination {
    /// Records to skip.
    pub skip: u64,
    /// Records to return at most (never 0 once normalized).
    pub limit: u64,
}

/// `beaconCommonComponents.json#/$defs/CountPrecision`. When a count is reported this crate
/// always states it, because the schema's default is `imprecise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CountPrecision {
    /// The count is the true count.
    Exact,
    /// The count is not guaranteed to be precise.
    Imprecise,
    /// The count was rounded (floor or ceiling) to a given value.
    Rounded,
}

/// `beaconCommonComponents.json#/$defs/CountAdjustedTo`: the range or limit the true count
/// lies in, for counts that were adjusted.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU64;
/// use gemj_beacon::CountAdjustedTo;
///
/// let five = NonZeroU64::new(5).unwrap();
/// assert_eq!(serde_json::to_value(CountAdjustedTo::Below(five))?, serde_json::json!(["<5"]));
/// let one = NonZeroU64::new(1).unwrap();
/// let between = CountAdjustedTo::between(one, five).unwrap();
/// assert_eq!(serde_json::to_value(between)?, serde_json::json!([1, 5]));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountAdjustedTo {
    /// The true count is between `min` and `max` inclusive (`[min, max]`; the schema's items
    /// have `minimum: 1`, hence the non-zero bounds).
    Between {
        /// Lower bound.
        min: NonZeroU64,
        /// Upper bound.
        max: NonZeroU64,
    },
    /// The true count is below this value (`["<N"]`).
    Below(NonZeroU64),
    /// The count was adjusted to a multiple of, or a floor of, this value (`[N]`).
    To(NonZeroU64),
}

impl CountAdjustedTo {
    /// `Between`, or `None` when `min > max`.
    #[must_use]
    pub fn between(min: NonZeroU64, max: NonZeroU64) -> Option<Self> {
        (min <= max).then_some(Self::Between { min, max })
    }
}

impl Serialize for CountAdjustedTo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Between { min, max } => [min.get(), max.get()].serialize(serializer),
            Self::Below(n) => [format!("<{n}")].serialize(serializer),
            Self::To(n) => [n.get()].serialize(serializer),
        }
    }
}

/// A count as a response reports it: the number, its precision and, when adjusted, the
/// adjustment.
///
/// # Examples
///
/// ```
/// use gemj_beacon::{Count, CountPrecision};
///
/// let count = Count::exact(42);
/// assert_eq!(count.value, 42);
/// assert_eq!(count.precision, CountPrecision::Exact);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Count {
    /// The reported number (`numTotalResults` / `resultsCount`).
    pub value: u64,
    /// How precise it is.
    pub precision: CountPrecision,
    /// The adjustment, when one was made.
    pub adjusted_to: Option<CountAdjustedTo>,
}

impl Count {
    /// The true count.
    #[must_use]
    pub const fn exact(value: u64) -> Self {
        Self {
            value,
            precision: CountPrecision::Exact,
            adjusted_to: None,
        }
    }

    /// A rounded count, with the adjustment that was applied.
    #[must_use]
    pub const fn rounded(value: u64, adjusted_to: Option<CountAdjustedTo>) -> Self {
        Self {
            value,
            precision: CountPrecision::Rounded,
            adjusted_to,
        }
    }

    /// A count that is not guaranteed to be precise.
    #[must_use]
    pub const fn imprecise(value: u64, adjusted_to: Option<CountAdjustedTo>) -> Self {
        Self {
            value,
            precision: CountPrecision::Imprecise,
            adjusted_to,
        }
    }
}

/// `beaconCommonComponents.json#/$defs/Handover`: a typed link (a download, an access request
/// page, an htsget ticket URL, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Handover {
    /// What the link is, e.g. `EDAM:3016` (VCF) or `CUSTOM:...`.
    pub handover_type: OntologyTerm,
    /// The absolute URL (the schema's `format: uri`).
    pub url: String,
    /// A note on the link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
